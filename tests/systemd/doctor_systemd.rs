//! `doctor`'s unit link against a real systemd (the sandbox): a unit that loads the env
//! file and runs is ok; one that does not load it, and is stopped, fails with the fix.

use crate::common;

use std::path::Path;

use autounseal::run::ManifestStore;
use autounseal::run::manifest::{FileRole, ServerRecord};
use common::sandbox::Sandbox;
use serde_json::Value;

const UNIT: &str = "autounseal-doctor-test.service";

fn unit_findings(sandbox: &Sandbox, state: &Path) -> Vec<Value> {
    let out = sandbox.run(
        state,
        Path::new(env!("CARGO_BIN_EXE_autounseal")),
        &["doctor", "--json"],
    );
    let all: Vec<Value> = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stderr)));
    all.into_iter().filter(|f| f["link"] == "unit").collect()
}

#[test]
fn the_unit_must_load_the_env_file_and_be_active() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let env = dir.path().join("vault.env");
    std::fs::write(&env, "AWS_REGION=eu-west-1\n").unwrap();
    // A setup with only what the unit link reads; AWS is a closed local port, never called
    // for lack of a user and a key.
    let store = ManifestStore::open(&state).unwrap();
    store
        .update(|m| {
            m.region = Some("eu-west-1".into());
            m.endpoint_url = Some(format!("http://127.0.0.1:{}", common::free_port()));
            m.record_file(FileRole::EnvFile, &env, None);
            m.server = Some(ServerRecord {
                binary: "/bin/sleep".into(),
                config: dir.path().join("vault.hcl"),
                address: format!("http://127.0.0.1:{}", common::free_port()),
                launch: "systemd".into(),
                pid: None,
                pid_file: None,
                log_file: None,
                unit: Some(UNIT.into()),
                initialized_by_us: false,
                init_started: false,
                proofs: Default::default(),
                ca_cert: None,
            });
        })
        .unwrap();

    let sandbox = Sandbox::start();
    let install = |env_line: &str| {
        sandbox.sh(&format!(
            "printf '[Service]\\n{env_line}ExecStart=/bin/sleep 600\\n' > /run/systemd/system/{UNIT} && systemctl daemon-reload"
        ))
    };
    install(&format!("EnvironmentFile={}\\n", env.display()));
    sandbox.sh(&format!("systemctl start {UNIT}"));
    let findings = unit_findings(&sandbox, &state);
    let checks: Vec<_> = findings
        .iter()
        .map(|f| (f["check"].as_str().unwrap(), f["verdict"].as_str().unwrap()))
        .collect();
    assert_eq!(
        checks,
        [("exists", "ok"), ("loads the env file", "ok"), ("active", "ok")],
        "{findings:#?}"
    );

    install("");
    sandbox.sh(&format!("systemctl stop {UNIT}"));
    let findings = unit_findings(&sandbox, &state);
    let failed: Vec<_> = findings.iter().filter(|f| f["verdict"] == "fail").collect();
    assert_eq!(failed.len(), 2, "{findings:#?}");
    assert!(
        failed[0]["fix"]
            .as_str()
            .unwrap()
            .contains(&format!("EnvironmentFile={}", env.display())),
        "{failed:#?}"
    );
    assert!(
        failed[1]["evidence"].as_str().unwrap().contains("ActiveState=inactive"),
        "{failed:#?}"
    );
    assert!(
        failed[1]["fix"]
            .as_str()
            .unwrap()
            .contains(&format!("systemctl start {UNIT}"))
    );
}
