//! A host with an operator's config, without systemd: the real binary against moto and
//! OpenBao 2.6.2, every file in the test's folder. What is found is said, the config is
//! kept, another seal is refused before AWS, and data the kept config names is theirs.

use crate::common;

use std::path::Path;
use std::process::Command;

use autounseal::answers::{Answers, Launch};
use common::{Moto, ServerGuard, context, free_port, isolate, server_answers};

/// `plan` or `apply --yes`: whether it succeeded, and what it said.
fn run(d: &Path, a: &Answers, command: &str) -> (bool, String) {
    let file = d.join("answers.toml");
    std::fs::write(&file, a.to_toml()).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_autounseal"));
    isolate(&mut cmd, &d.join("state"));
    cmd.env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .arg(command);
    if command == "apply" {
        cmd.arg("--yes");
    }
    let out = cmd.arg("--answers").arg(&file).output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), said)
}

/// An operator's config: their storage, their listener (the one autounseal talks to), a
/// second listener, telemetry and a comment.
fn operators_config(a: &Answers, extra_listener: &str) -> String {
    format!(
        "# Ours, since 2021.\nstorage \"raft\" {{\n  path = \"{storage}\"\n  node_id = \"n1\"\n}}\n\n\
         listener \"tcp\" {{\n  address = \"{listen}\"\n  tls_disable = true\n}}\n\n\
         listener \"tcp\" {{\n  address = \"{extra_listener}\"\n  tls_disable = true\n}}\n\n\
         telemetry {{\n  disable_hostname = true\n}}\n\napi_addr = \"http://{listen}\"\n\
         cluster_addr = \"http://127.0.0.1:{cluster}\"\n",
        storage = a.server.storage_path.display(),
        listen = a.server.listen,
        cluster = free_port(),
    )
}

#[tokio::test]
async fn an_operators_config_is_kept_and_the_server_unseals_through_kms() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let a = server_answers(&moto, d);
    let _guard = ServerGuard(d.join("state"));
    std::fs::create_dir_all(d.join("etc")).unwrap();
    let extra = format!("127.0.0.1:{}", free_port());
    let operators = operators_config(&a, &extra);
    std::fs::write(&a.output.vault_config, &operators).unwrap();
    // Their storage already holds files: theirs on purpose, since their config names it.
    std::fs::create_dir_all(&a.server.storage_path).unwrap();
    std::fs::write(a.server.storage_path.join("notes.txt"), "theirs").unwrap();

    let (ok, plan) = run(d, &a, "plan");
    assert!(ok, "{plan}");
    for expected in [
        "On this host:",
        "systemd: not running here (systemd is not PID 1)",
        &format!("At http://{}: no server answers", a.server.listen),
        // Their raft timing is theirs: kept, and said so.
        "(kept; seal \"awskms\" added, the rest as it was; raft's timing kept at its default (performance_multiplier 5)",
        "+seal \"awskms\" {",
    ] {
        assert!(plan.contains(expected), "{expected}\n{plan}");
    }
    assert!(!plan.contains("-listener"), "nothing of theirs goes: {plan}");
    assert_eq!(std::fs::read_to_string(&a.output.vault_config).unwrap(), operators);

    let (ok, said) = run(d, &a, "apply");
    assert!(ok, "{said}");
    assert!(said.contains("raft's timing kept at its default"), "{said}");
    let text = std::fs::read_to_string(&a.output.vault_config).unwrap();
    assert!(text.starts_with("# Ours, since 2021."), "{text}");
    let parsed: serde_json::Value = hcl::from_str(&text).unwrap();
    assert_eq!(parsed["listener"]["tcp"].as_array().unwrap().len(), 2);
    assert_eq!(parsed["telemetry"]["disable_hostname"], true);
    assert_eq!(parsed["seal"]["awskms"]["region"], "eu-west-1");
    assert_eq!(
        std::fs::read_to_string(a.server.storage_path.join("notes.txt")).unwrap(),
        "theirs"
    );
    // Their second listener serves the server autounseal set up.
    let client = autounseal::vault::client::VaultClient::new(&format!("http://{extra}"), None).unwrap();
    let status = client.seal_status().await.unwrap();
    assert!(
        status.initialized && !status.sealed && status.seal_type == "awskms",
        "{status:?}"
    );
}

#[tokio::test]
async fn another_seal_in_a_kept_config_is_refused_before_any_aws_change() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut a = server_answers(&moto, d);
    a.server.launch = Launch::None;
    a.init.enabled = false;
    std::fs::create_dir_all(d.join("etc")).unwrap();
    let transit = "seal \"transit\" {\n  address = \"https://127.0.0.1:8200\"\n  key_name = \"k\"\n}\n";
    std::fs::write(&a.output.vault_config, transit).unwrap();
    for command in ["plan", "apply"] {
        let (ok, said) = run(d, &a, command);
        assert!(!ok, "{said}");
        let expected = format!(
            "{} uses seal \"transit\"; autounseal only adds a seal \"awskms\"",
            a.output.vault_config.display()
        );
        assert_eq!(said.matches(&expected).count(), 1, "said once: {said}");
    }
    assert_eq!(std::fs::read_to_string(&a.output.vault_config).unwrap(), transit);
    let ctx = context(&common::answers(&moto, d)).await;
    assert!(ctx.kms.list_keys().send().await.unwrap().keys().is_empty());
    assert!(ctx.iam.list_users().send().await.unwrap().users().is_empty());
}
