//! Launch mode `systemd` against a real systemd: PID 1 of its own PID and mount
//! namespace, through `../shared/tools/systemd-sandbox` (it masks the host's units, so
//! booting changes nothing here). The machines run the tests as root, which it needs.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use autounseal::answers::Launch;
use common::{Moto, context, isolate, server_answers};

fn sandbox_tool() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/tools/systemd-sandbox")
}

/// A running sandbox, stopped when the test ends, also when it fails.
struct Sandbox(String);

impl Sandbox {
    fn start() -> Sandbox {
        let out = Command::new(sandbox_tool()).arg("start").output().unwrap();
        assert!(
            out.status.success(),
            "systemd-sandbox did not start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Sandbox(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// `program args…` inside the sandbox, with the environment `isolate` gives tests.
    fn run(&self, state: &Path, program: &Path, args: &[&str]) -> Output {
        let mut cmd = Command::new(sandbox_tool());
        isolate(&mut cmd, state);
        cmd.env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .args(["run", &self.0])
            .arg(program)
            .args(args);
        cmd.output().unwrap()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = Command::new(sandbox_tool()).args(["stop", &self.0]).output();
    }
}

#[tokio::test]
async fn a_missing_unit_is_refused_before_any_aws_change() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut a = server_answers(&moto, d);
    a.server.launch = Launch::Systemd;
    let file = d.join("answers.toml");
    std::fs::write(&file, a.to_toml()).unwrap();
    let sandbox = Sandbox::start();
    let binary = Path::new(env!("CARGO_BIN_EXE_autounseal"));
    let file = file.to_string_lossy();
    for args in [
        vec!["plan", "--answers", &file],
        vec!["apply", "--yes", "--answers", &file],
    ] {
        let out = sandbox.run(&d.join("state"), binary, &args);
        let msg = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.status.success(), "{msg}");
        assert!(
            msg.contains("the systemd unit openbao.service does not exist here (LoadState=not-found)"),
            "{args:?}: {msg}"
        );
    }
    let ctx = context(&common::answers(&moto, d)).await;
    assert!(ctx.kms.list_keys().send().await.unwrap().keys().is_empty());
    assert!(ctx.iam.list_users().send().await.unwrap().users().is_empty());
}
