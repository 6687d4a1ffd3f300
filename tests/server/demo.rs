//! `autounseal demo`: the whole story with no AWS account, and nothing left behind.

use crate::common;

use std::path::Path;
use std::process::{Command, Output};

use common::{isolate, processes_mentioning, tools_dir};

fn demo(state: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_autounseal"));
    isolate(&mut cmd, state);
    // Where scripts/test-env put moto and OpenBao; no AWS credentials at all.
    cmd.env("AUTOUNSEAL_TOOLS", tools_dir());
    cmd.arg("demo")
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn demo_yes_runs_the_whole_story_and_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let out = demo(&state, &["--yes"]);
    let output = text(&out);
    assert!(out.status.success(), "{output}");
    for step in [
        "ok   KMS key: created",
        "ok   IAM policy: created",
        "ok   Verify credentials",
        "ok   Initialize: 3 recovery keys",
        "ok   Restart check: restarted and unsealed itself",
    ] {
        assert!(output.contains(step), "missing {step:?}:\n{output}");
    }
    assert!(output.contains("initialised and unsealed by KMS"), "{output}");
    assert!(
        output.contains("ok   Schedule key deletion") && output.contains("is gone"),
        "torn down:\n{output}"
    );
    assert!(!state.join("demo").exists(), "the demo folder is deleted");
    let left = processes_mentioning(&state.to_string_lossy());
    assert!(left.is_empty(), "still running: {left:?}");
}

#[test]
fn a_kept_demo_runs_on_until_torn_down() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let out = demo(&state, &["--yes", "--keep"]);
    assert!(out.status.success(), "{}", text(&out));
    let said = text(&out);
    assert!(said.contains("autounseal demo --teardown"), "{said}");
    // How to reach what was kept: the emulator with its credentials, the server, the setup.
    for expected in [
        "export AWS_ENDPOINT_URL=http://127.0.0.1:",
        "AWS_REGION=eu-west-1 AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo-secret",
        "Its server: ",
        " status -address=http://127.0.0.1:",
        "Its setup: autounseal status --state-dir",
    ] {
        assert!(said.contains(expected), "{expected}: {said}");
    }
    assert!(state.join("demo/state/manifest.json").exists());
    assert!(
        !processes_mentioning(&state.to_string_lossy()).is_empty(),
        "the server keeps running"
    );
    let again = demo(&state, &["--yes"]);
    assert!(
        !again.status.success() && text(&again).contains("--teardown"),
        "a kept demo is not overwritten:\n{}",
        text(&again)
    );

    // Pointed at the wrong state folder: it must say where the running demo is, not
    // that nothing is left.
    let elsewhere = dir.path().join("elsewhere");
    let out = demo(&elsewhere, &["--teardown"]);
    let said = text(&out);
    assert!(said.contains("No demo was kept in"), "{said}");
    assert!(
        said.contains(&format!("A demo still runs from {}", state.join("demo").display()))
            && said.contains("--state-dir"),
        "{said}"
    );

    let out = demo(&state, &["--teardown"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!state.join("demo").exists());
    // moto exits on SIGTERM shortly after.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !processes_mentioning(&state.to_string_lossy()).is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(processes_mentioning(&state.to_string_lossy()), Vec::<String>::new());
}

#[test]
fn without_its_tools_the_demo_says_how_to_get_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_autounseal"));
    isolate(&mut cmd, &dir.path().join("state"));
    cmd.env("AUTOUNSEAL_TOOLS", dir.path().join("no-tools"))
        .env("PATH", "/usr/bin:/bin");
    let out = cmd.arg("demo").stdin(std::process::Stdio::null()).output().unwrap();
    let msg = text(&out);
    assert!(!out.status.success());
    assert!(
        msg.contains("moto_server (the AWS emulator) is not installed") && msg.contains("scripts/test-env"),
        "{msg}"
    );
    assert!(msg.contains("nothing was changed"), "{msg}");
}

#[test]
fn demo_cluster_runs_three_nodes_that_unseal_themselves_and_leaves_nothing_behind() {
    let _one_cluster = common::one_cluster_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let out = demo(&state, &["--cluster", "3", "--yes"]);
    let output = text(&out);
    assert!(out.status.success(), "{output}");
    for step in [
        "Node 1 of 3: autounseal-1",
        "Nodes 2 to 3 of 3 at the same time, each line named: autounseal-2 at",
        "autounseal-3 ok   Restart check: restarted and unsealed itself through KMS",
        "autounseal-2 ok   Restart check: restarted and unsealed itself through KMS",
        "ok   Initialize: 3 recovery keys",
        "--   Initialize: this node joins the cluster (retry_join): a cluster is initialised once, on its first node",
        "--   Key rotation: a reused key: its rotation is left as its owner set it",
        "The demo cluster: every node unsealed by KMS",
        "Cluster file: the cluster file for `autounseal join`",
        "Node autounseal-1 (with the cluster's key and policy, last)",
        "ok   Schedule key deletion",
    ] {
        assert!(output.contains(step), "missing {step:?}:\n{output}");
    }
    let summary = output.split("The demo cluster").nth(1).unwrap();
    assert_eq!(summary.matches(": active").count(), 1, "{output}");
    assert_eq!(summary.matches(": standby").count(), 2, "{output}");
    assert!(!output.contains("rotation not asked for"), "{output}");
    assert!(!output.contains("Vault config: the cluster file"), "{output}");
    let arn_twice = output
        .lines()
        .any(|l| l.contains("reusing arn:") && l.matches("arn:aws:kms").count() > 1);
    assert!(!arn_twice, "a reused key's ARN is said once: {output}");
    common::assert_demo_gone(&state);
}

/// The demo in line prompts (`--plain`, as `TERM=dumb` gets): marked DEMO, Enter through
/// every question runs the story; a Ctrl-C at a prompt tears it down as the full-screen
/// demo does (no emulator left, no folder), and a demo folder an earlier one left behind
/// is cleared with its emulator before a new one starts.
#[test]
fn the_plain_demo_is_marked_runs_on_enter_and_tears_down_on_ctrl_c() {
    use std::io::{Read, Write};
    use std::process::Stdio;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let start = || {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_autounseal"));
        isolate(&mut cmd, &state);
        cmd.env("AUTOUNSEAL_TOOLS", tools_dir())
            .args(["demo", "--plain"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    // Ctrl-C at the first prompt.
    let mut child = start();
    let mut stdout = child.stdout.take().unwrap();
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !String::from_utf8_lossy(&seen).contains("1. AWS profile") {
        assert!(
            std::time::Instant::now() < deadline,
            "no prompt: {}",
            String::from_utf8_lossy(&seen)
        );
        let mut buf = [0u8; 4096];
        let n = stdout.read(&mut buf).unwrap();
        assert!(n > 0, "ended before the prompt: {}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&buf[..n]);
    }
    assert!(
        String::from_utf8_lossy(&seen).starts_with("DEMO:"),
        "{}",
        String::from_utf8_lossy(&seen)
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let status = child.wait().unwrap();
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert!(!status.success());
    assert!(err.contains("SIGINT at a prompt"), "{rest}{err}");
    assert!(rest.contains("Tearing the demo down"), "{rest}{err}");
    assert!(!state.join("demo").exists(), "the demo folder is gone");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !processes_mentioning(&state.to_string_lossy()).is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(processes_mentioning(&state.to_string_lossy()), Vec::<String>::new());

    // A demo folder left by one that died at a prompt (its emulator still running):
    // the next demo stops that emulator and starts clean. Then Enter through it all.
    let mut moto = common::Moto::start();
    std::fs::create_dir_all(state.join("demo")).unwrap();
    std::fs::write(state.join("demo/moto.pid"), format!("{}\n", moto.pid())).unwrap();
    let mut child = start();
    let mut stdin = child.stdin.take().unwrap();
    for _ in 0..40 {
        writeln!(stdin).unwrap();
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains("ended before it made anything: its emulator is stopped"),
        "{said}"
    );
    assert!(
        said.contains("ok   Restart check: restarted and unsealed itself"),
        "{said}"
    );
    assert!(!state.join("demo").exists(), "torn down at the end");
    assert!(!moto.running(), "the leaked emulator was stopped");
}
