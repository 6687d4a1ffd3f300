//! A real systemd through `../shared/tools/systemd-sandbox`: PID 1 of its own PID and
//! mount namespace, with a private /run (units put in /run/systemd/system never reach
//! the host). The tests run as root, which it needs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::isolate;

fn tool() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/tools/systemd-sandbox")
}

/// A running sandbox, stopped when the test ends, also when it fails.
pub struct Sandbox(String);

impl Sandbox {
    pub fn start() -> Sandbox {
        let out = Command::new(tool()).arg("start").output().unwrap();
        assert!(
            out.status.success(),
            "systemd-sandbox did not start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Sandbox(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// `program args…` inside the sandbox, with the environment `isolate` gives tests.
    pub fn run(&self, state: &Path, program: &Path, args: &[&str]) -> Output {
        let mut cmd = Command::new(tool());
        isolate(&mut cmd, state);
        cmd.args(["run", &self.0]).arg(program).args(args);
        cmd.output().unwrap()
    }

    /// The sandbox's name, for `systemd-sandbox run NAME …`.
    pub fn id(&self) -> &str {
        &self.0
    }

    /// A shell command inside the sandbox, its output; panics when it fails.
    pub fn out(&self, script: &str) -> String {
        let out = Command::new(tool())
            .args(["run", &self.0, "sh", "-c", script])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{script}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A shell command inside the sandbox; panics when it fails.
    pub fn sh(&self, script: &str) {
        self.out(script);
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = Command::new(tool()).args(["stop", &self.0]).output();
    }
}
