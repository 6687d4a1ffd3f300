//! `autounseal drill` with the real OpenBao and moto: a setup with a replica in a second
//! region, a secret written, the drill in the replica's region (the recovery server
//! unseals through the replica: moto's own request log shows the decrypt sent there),
//! the secret read back, nothing left, the live server never restarted; then the same
//! with the key's own region out (the primary disabled).

use crate::common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use autounseal::run::ManifestStore;
use common::{Moto, ServerGuard, isolate, output_text, server_answers};
use serde_json::{Value, json};

fn autounseal(state: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_autounseal"));
    isolate(&mut cmd, state);
    cmd.env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .args(args)
        .output()
        .unwrap()
}

/// The requests moto served, as its recorder wrote them: (region signed for, target
/// operation, body).
fn served(log: &Path) -> Vec<(String, String, Value)> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .map(|entry| {
            let header = |name: &str| {
                entry["headers"]
                    .as_object()
                    .and_then(|h| h.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
                    .and_then(|(_, v)| v.as_str())
                    .unwrap_or_default()
                    .to_string()
            };
            // `Credential=AKIA…/20261207/us-west-2/kms/aws4_request`: the region signed for.
            let auth = header("authorization");
            let region = auth
                .split("Credential=")
                .nth(1)
                .and_then(|c| c.split('/').nth(2))
                .unwrap_or_default()
                .to_string();
            let target = header("x-amz-target");
            let operation = target.rsplit('.').next().unwrap_or_default().to_string();
            let raw = entry["body"].as_str().unwrap_or_default();
            let body = if entry["body_encoded"] == json!(true) {
                use base64::Engine;
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(raw)
                    .unwrap_or_default();
                serde_json::from_slice(&bytes).unwrap_or(Value::Null)
            } else {
                serde_json::from_str(raw).unwrap_or(Value::Null)
            };
            (region, operation, body)
        })
        .collect()
}

async fn http(method: reqwest::Method, address: &str, path: &str, token: &str, body: Option<Value>) -> Value {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut req = client
        .request(method, format!("{address}/v1/{path}"))
        .header("X-Vault-Token", token);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let answer = req.send().await.unwrap();
    assert!(answer.status().is_success(), "{path}: {}", answer.status());
    answer.json().await.unwrap_or(Value::Null)
}

// The drill's recovery server takes two free ports while it runs: with the cluster tests
// kept out meanwhile, none of their neighbouring ports is taken from under them. The
// guard's runtime is this test's own, so holding it across awaits blocks only them.
#[allow(clippy::await_holding_lock)]
#[tokio::test]
async fn a_drill_recovers_the_data_through_the_replica_and_leaves_nothing_also_with_the_primary_out() {
    let _one_cluster = common::one_cluster_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("moto-requests.jsonl");
    let moto = Moto::recording(&log).await;
    let mut a = server_answers(&moto, dir.path());
    a.kms.replica_regions = vec!["us-west-2".into()];
    let state = dir.path().join("state");
    let _guard = ServerGuard(state.clone());
    let answers = dir.path().join("answers.toml");
    std::fs::write(&answers, a.to_toml()).unwrap();
    let out = autounseal(&state, &["apply", "--yes", "--answers", answers.to_str().unwrap()]);
    assert!(out.status.success(), "{}", output_text(&out));

    // A secret in the live server, and a token file only its owner reads.
    let keys = std::fs::read_to_string(a.init.recovery_keys_file.as_ref().unwrap()).unwrap();
    let root = keys
        .lines()
        .find_map(|l| l.strip_prefix("Initial Root Token: "))
        .unwrap()
        .to_string();
    let m = ManifestStore::open(&state).unwrap().snapshot();
    let server = m.server.clone().unwrap();
    let live_pid = server.pid.unwrap();
    let address = server.address.clone();
    http(
        reqwest::Method::POST,
        &address,
        "sys/mounts/secret",
        &root,
        Some(json!({"type": "kv", "options": {"version": "2"}})),
    )
    .await;
    http(
        reqwest::Method::POST,
        &address,
        "secret/data/app",
        &root,
        Some(json!({"data": {"password": "hunter2-drill"}})),
    )
    .await;
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{root}\n")).unwrap();
    std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let served_before = served(&log).len();

    let drill = |state: &Path| {
        autounseal(
            state,
            &[
                "drill",
                "--region",
                "us-west-2",
                "--token-file",
                token_file.to_str().unwrap(),
                "--read",
                "secret/data/app",
            ],
        )
    };
    let out = drill(&state);
    let said = output_text(&out);
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains("secret/data/app: 1 key (password) (values not shown)"),
        "{said}"
    );
    assert!(said.contains("Recovered in us-west-2"), "{said}");
    assert!(
        !said.contains("hunter2-drill") && !said.contains(&root),
        "no value, no token: {said}"
    );

    // What the recovery server sent KMS: a decrypt signed for the replica's region, naming
    // (if it names one) the key there, never the primary's ARN in another region.
    let replica_arn = m.kms_replicas[0].arn.clone();
    let primary_arn = m.kms_key.as_ref().unwrap().arn.clone();
    let drill_requests: Vec<_> = served(&log).into_iter().skip(served_before).collect();
    let decrypts: Vec<_> = drill_requests.iter().filter(|(_, op, _)| op == "Decrypt").collect();
    assert!(
        decrypts.iter().any(|(region, _, _)| region == "us-west-2"),
        "a decrypt sent to us-west-2: {drill_requests:?}"
    );
    for (region, _, body) in &decrypts {
        assert_eq!(
            region, "us-west-2",
            "every decrypt of the drill in the replica's region"
        );
        if let Some(key) = body["KeyId"].as_str() {
            assert!(
                key == replica_arn || !key.starts_with("arn:"),
                "the decrypt names the key in its region: {key}"
            );
            assert_ne!(key, primary_arn);
        }
    }

    // Nothing left: no folder, no process; the live server the same process, unsealed.
    let left: Vec<_> = std::fs::read_dir(&state)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("drill-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    assert!(common::processes_mentioning("recovery.hcl").is_empty());
    assert!(
        autounseal::vault::launch::is_running(live_pid),
        "the live server was never restarted"
    );
    let after = ManifestStore::open(&state).unwrap().snapshot();
    assert_eq!(after.server.as_ref().unwrap().pid, Some(live_pid));
    let status = autounseal::vault::client::VaultClient::new(&address, None)
        .unwrap()
        .seal_status()
        .await
        .unwrap();
    assert!(!status.sealed);

    // The manifest holds the drill, and no token.
    let drill_record = after.drills.last().unwrap();
    assert!(
        drill_record.ok && drill_record.region == "us-west-2",
        "{drill_record:?}"
    );
    let manifest_text = std::fs::read_to_string(state.join("manifest.json")).unwrap();
    assert!(!manifest_text.contains(&root));
    let doctor = autounseal(&state, &["doctor"]);
    let doctor_said = output_text(&doctor);
    assert!(
        doctor_said.contains("the last good drill, in us-west-2, 0 days ago"),
        "{doctor_said}"
    );

    // The key's own region out, as an outage would leave it: the primary disabled. A
    // recovery from the snapshot in the replica's region still unseals and reads.
    let operator = common::context(&a).await;
    // By id: moto takes no ARN here.
    let primary_id = m.kms_key.as_ref().unwrap().key_id.clone();
    operator.kms.disable_key().key_id(&primary_id).send().await.unwrap();
    let served_before = served(&log).len();
    // This time the token from standard input.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_autounseal"));
    isolate(&mut cmd, &state);
    let mut child = cmd
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .args([
            "drill",
            "--region",
            "us-west-2",
            "--token-stdin",
            "--read",
            "secret/data/app",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        writeln!(child.stdin.take().unwrap(), "{root}").unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let said = output_text(&out);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("secret/data/app: 1 key (password)"), "{said}");
    assert!(!said.contains(&root), "the token is never echoed: {said}");
    // (moto would still serve a disabled key: what proves the key's region unneeded is
    // that the recovery server's start-up and unseal, a DescribeKey and Decrypts, all
    // went to the replica's. The live server's seal health check meanwhile encrypts in
    // eu-west-1 with the same access key, so Encrypts are no evidence either way.)
    let kms_calls: Vec<_> = served(&log)
        .into_iter()
        .skip(served_before)
        .filter(|(_, op, _)| ["Decrypt", "DescribeKey"].contains(&op.as_str()))
        .collect();
    assert!(!kms_calls.is_empty());
    assert!(
        kms_calls.iter().all(|(region, _, _)| region == "us-west-2"),
        "{kms_calls:?}"
    );
    operator.kms.enable_key().key_id(&primary_id).send().await.unwrap();

    // A region with no replica is refused before anything is made.
    let out = autounseal(
        &state,
        &[
            "drill",
            "--region",
            "eu-central-1",
            "--token-file",
            token_file.to_str().unwrap(),
        ],
    );
    let said = output_text(&out);
    assert!(!out.status.success());
    assert!(
        said.contains("eu-central-1 holds no replica of the key; its replicas are in us-west-2"),
        "{said}"
    );

    let out = autounseal(&state, &["destroy", "--yes", "--force"]);
    assert!(out.status.success(), "{}", output_text(&out));
}
