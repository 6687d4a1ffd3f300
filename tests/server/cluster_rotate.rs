//! `rotate --node ID` on a running 3-node cluster (real OpenBao 2.6.2 and moto): one
//! node's access key is replaced while a secret stays readable through another node
//! throughout; the node comes back unsealed on its new key, its user holds only that
//! key, and the other nodes' keys are untouched.

use crate::common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use autounseal::credentials_file;
use autounseal::run::ManifestStore;
use autounseal::run::manifest::FileRole;
use autounseal::vault::client::VaultClient;
use common::{
    Moto, ServerGuard, autounseal_output as autounseal, cluster_answers, cluster_state_dirs, context,
    output_text as text, processes_mentioning,
};

fn address(state: &Path) -> String {
    ManifestStore::open(state).unwrap().snapshot().server.unwrap().address
}

fn env_key_id(state: &Path) -> String {
    let m = ManifestStore::open(state).unwrap().snapshot();
    credentials_file::read_env_key_id(&m.file(FileRole::EnvFile).unwrap().path).unwrap()
}

async fn get(http: &reqwest::Client, addr: &str, token: &str, path: &str) -> Option<serde_json::Value> {
    let resp = http
        .get(format!("{addr}/v1/{path}"))
        .header("X-Vault-Token", token)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .ok()?;
    if !resp.status().is_success() {
        return None;
    }
    resp.json().await.ok()
}

// The guard of `one_cluster_at_a_time` keeps the other test threads out; this test's
// runtime is its own, so holding it across awaits blocks nothing but them.
#[allow(clippy::await_holding_lock)]
#[tokio::test]
async fn rotating_one_node_keeps_the_cluster_serving_and_leaves_the_others_keys() {
    let _one_cluster = common::one_cluster_at_a_time();
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let dirs = cluster_state_dirs(&state);
    let servers: Vec<ServerGuard> = dirs.iter().cloned().map(ServerGuard).collect();
    let a = cluster_answers(&moto, dir.path());
    let answers_file = dir.path().join("answers.toml");
    std::fs::write(&answers_file, a.to_toml()).unwrap();
    let out = autounseal(&state, &["apply", "--yes", "--answers", answers_file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));

    // Which node is active: the rotated one is a standby, the secret read through the active.
    let mut active = None;
    for _ in 0..240 {
        for (i, d) in dirs.iter().enumerate() {
            if let Ok(l) = VaultClient::new(&address(d), None).unwrap().leader().await
                && l.is_self
            {
                active = Some(i);
            }
        }
        if active.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let active = active.expect("one node is active");
    let rotated = (active + 1) % 3;
    let untouched = (active + 2) % 3;
    let rotated_id = format!("autounseal-{}", rotated + 1);
    let keys_file = dir.path().join("recovery-keys.txt");
    let token = std::fs::read_to_string(&keys_file)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("Initial Root Token: ").map(str::to_string))
        .unwrap();
    let http = reqwest::Client::new();
    let reader = address(&dirs[active]);
    for (path, body) in [
        (
            "sys/mounts/secret",
            serde_json::json!({"type": "kv", "options": {"version": "1"}}),
        ),
        ("secret/ha", serde_json::json!({"value": "before"})),
    ] {
        let resp = http
            .post(format!("{reader}/v1/{path}"))
            .header("X-Vault-Token", &token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "{path}: {}", resp.status());
    }
    let before: Vec<String> = dirs.iter().map(|d| env_key_id(d)).collect();

    // Reads through the active node every 200 ms while the standby rotates.
    let done = Arc::new(AtomicBool::new(false));
    let (reads, failures) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let watcher = tokio::spawn({
        let (done, reads, failures) = (done.clone(), reads.clone(), failures.clone());
        let (http, reader, token) = (http.clone(), reader.clone(), token.clone());
        async move {
            while !done.load(Ordering::SeqCst) {
                let read = get(&http, &reader, &token, "secret/ha").await;
                reads.fetch_add(1, Ordering::SeqCst);
                if read.is_none_or(|v| v["data"]["value"] != "before") {
                    failures.fetch_add(1, Ordering::SeqCst);
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    });
    let out = tokio::task::spawn_blocking({
        let state = state.clone();
        let id = rotated_id.clone();
        move || autounseal(&state, &["rotate", "--yes", "--node", &id])
    })
    .await
    .unwrap();
    done.store(true, Ordering::SeqCst);
    watcher.await.unwrap();
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("Rotated: the server uses access key"), "{said}");
    assert!(
        reads.load(Ordering::SeqCst) > 3,
        "the secret was read during the rotation"
    );
    assert_eq!(failures.load(Ordering::SeqCst), 0, "the cluster served throughout");

    // The rotated node: unsealed on its new key; its user holds that key only.
    let after: Vec<String> = dirs.iter().map(|d| env_key_id(d)).collect();
    assert_ne!(after[rotated], before[rotated]);
    assert_eq!(after[active], before[active]);
    assert_eq!(after[untouched], before[untouched]);
    let status = VaultClient::new(&address(&dirs[rotated]), None)
        .unwrap()
        .seal_status()
        .await
        .unwrap();
    assert!(
        status.initialized && !status.sealed && status.seal_type == "awskms",
        "{status:?}"
    );
    let ctx = context(&a).await;
    for (i, key) in after.iter().enumerate() {
        let user = format!("vault-auto-unseal-autounseal-{}", i + 1);
        let listed = ctx.iam.list_access_keys().user_name(&user).send().await.unwrap();
        let ids: Vec<_> = listed
            .access_key_metadata()
            .iter()
            .filter_map(|k| k.access_key_id())
            .collect();
        assert_eq!(ids, [key.as_str()], "{user}");
    }

    // Without --node: every node in turn, each unsealed on its new key before the next.
    let out = autounseal(&state, &["rotate", "--yes"]);
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("A cluster of 3 nodes: each is rotated in turn"), "{said}");
    assert_eq!(said.matches("Rotated: the server uses access key").count(), 3, "{said}");
    let rolled: Vec<String> = dirs.iter().map(|d| env_key_id(d)).collect();
    for (i, d) in dirs.iter().enumerate() {
        assert_ne!(rolled[i], after[i], "node {} has a new key", i + 1);
        let status = VaultClient::new(&address(d), None)
            .unwrap()
            .seal_status()
            .await
            .unwrap();
        assert!(!status.sealed && status.seal_type == "awskms", "{status:?}");
    }

    // An unknown node is refused with the nodes it has.
    let out = autounseal(&state, &["rotate", "--yes", "--node", "autounseal-9"]);
    let said = text(&out);
    assert!(!out.status.success());
    assert!(
        said.contains("records no node autounseal-9") && said.contains("autounseal-3"),
        "{said}"
    );

    // The wizard's Rotate screen does what `rotate` does: every node in turn, each on
    // fresh rows that name it; then its Doctor checks every node.
    let mut cmd = common::pty::wizard_command(dir.path());
    cmd.args(["--state-dir", &state.to_string_lossy()]);
    let mut t = common::pty::Terminal::start_sized(cmd, 40, 100);
    let plan = {
        t.wait_for("Rotate the access key", Duration::from_secs(20));
        t.type_keys(&[common::pty::DOWN, common::pty::DOWN, common::pty::ENTER]);
        t.wait_for("Rotating the access key will:", Duration::from_secs(30))
    };
    assert!(plan.contains("rotate each of the 3 nodes in turn"), "{plan}");
    t.type_keys(&[common::pty::ENTER]);
    let end = t.wait_for("Rotate again within 30 to 90 days", Duration::from_secs(300));
    assert!(end.contains("Last: node autounseal-3 (3 of 3)"), "{end}");
    for n in 1..=2 {
        assert!(end.contains(&format!("Rotated: node autounseal-{n} now uses")), "{end}");
    }
    let wizard_rolled: Vec<String> = dirs.iter().map(|d| env_key_id(d)).collect();
    for (i, d) in dirs.iter().enumerate() {
        assert_ne!(wizard_rolled[i], rolled[i], "the wizard gave node {} a new key", i + 1);
        let listed = ctx
            .iam
            .list_access_keys()
            .user_name(format!("vault-auto-unseal-autounseal-{}", i + 1))
            .send()
            .await
            .unwrap();
        assert_eq!(listed.access_key_metadata().len(), 1);
        let status = VaultClient::new(&address(d), None)
            .unwrap()
            .seal_status()
            .await
            .unwrap();
        assert!(!status.sealed && status.seal_type == "awskms", "{status:?}");
    }
    t.type_keys(&[common::pty::ESC]);
    t.wait_for("Check the setup (doctor)", Duration::from_secs(10));
    t.type_keys(&[common::pty::UP, common::pty::UP, common::pty::ENTER]);
    let doctor = t.wait_for("exit code", Duration::from_secs(120));
    assert!(doctor.contains("0 failures"), "{doctor}");
    assert!(doctor.contains("autounseal-1: "), "{doctor}");
    t.type_keys(&[common::pty::ESC]);
    t.wait_for("Check the setup (doctor)", Duration::from_secs(10));
    t.type_keys(&["q"]);
    t.wait_for("Quit autounseal?", Duration::from_secs(10));
    t.type_keys(&["y"]);
    assert!(t.child.wait().unwrap().success());

    drop(servers);
    assert_eq!(
        processes_mentioning(&dir.path().to_string_lossy()),
        Vec::<String>::new()
    );
}
