//! A highly available raft cluster against the real OpenBao 2.6.2 and moto: three
//! nodes through `apply`, every one unsealing itself through the one KMS key; a fourth
//! through `join` from a state folder of its own; then `destroy`, node by node.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use autounseal::answers::Answers;
use autounseal::cluster::ClusterFile;
use autounseal::credentials_file;
use autounseal::run::ManifestStore;
use autounseal::vault::client::{LeaderStatus, VaultClient};
use autounseal::vault::launch;
use common::pty::{DOWN, ENTER, ESC, SCREEN, Terminal};
use common::{Moto, cluster_answers, context, processes_mentioning, server_answers};

/// The wizard on the cluster's state folder, as the operator, opened on its start menu.
fn cluster_wizard(home: &Path, state: &Path) -> Terminal {
    let mut cmd = common::pty::wizard_command(home);
    cmd.args(["--state-dir", &state.to_string_lossy()]);
    Terminal::start(cmd)
}

fn autounseal(state: &Path, args: &[&str]) -> Output {
    common::autounseal_output(state, args)
}

fn text(out: &Output) -> String {
    common::output_text(out)
}

/// Stops every background server the manifests under these state folders record, when
/// the test ends, also half-way through a failure.
struct ClusterGuard(Vec<PathBuf>);

impl ClusterGuard {
    fn state_dirs(&self) -> Vec<PathBuf> {
        let mut dirs = Vec::new();
        for state in &self.0 {
            dirs.push(state.clone());
            dirs.extend(autounseal::cluster::node_state_dirs(state));
        }
        dirs
    }
}

impl Drop for ClusterGuard {
    fn drop(&mut self) {
        for dir in self.state_dirs() {
            if let Some(pid) = server_record(&dir).and_then(|s| s.pid)
                && launch::is_running(pid)
            {
                launch::stop_background(pid, Duration::from_secs(15));
            }
        }
    }
}

fn server_record(state: &Path) -> Option<autounseal::run::manifest::ServerRecord> {
    ManifestStore::open(state).ok()?.snapshot().server
}

/// A node as the test sees it: where its state is, its address, its client.
struct Node {
    state: PathBuf,
    client: VaultClient,
}

impl Node {
    fn of(state: &Path) -> Node {
        let record = server_record(state).expect("a server is recorded");
        Node {
            state: state.to_path_buf(),
            client: VaultClient::new(&record.address, None).unwrap(),
        }
    }

    fn pid(&self) -> u32 {
        server_record(&self.state)
            .and_then(|s| s.pid)
            .expect("a background server")
    }

    /// Stops the node's server and waits until it is gone.
    fn stop(&self, signal: nix::sys::signal::Signal) {
        let pid = self.pid();
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), signal).unwrap();
        for _ in 0..150 {
            if !launch::is_running(pid) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("pid {pid} did not stop");
    }

    /// Starts the node's server again as autounseal did (its config, its env file),
    /// and records the new pid so that the guard and destroy stop it.
    fn start(&self) {
        let record = server_record(&self.state).unwrap();
        let env_file = ManifestStore::open(&self.state)
            .unwrap()
            .snapshot()
            .file(autounseal::run::manifest::FileRole::EnvFile)
            .unwrap()
            .path
            .clone();
        let bg = launch::start_background(&record.binary, &record.config, &env_file, &self.state).unwrap();
        ManifestStore::open(&self.state)
            .unwrap()
            .update(|m| {
                if let Some(s) = m.server.as_mut() {
                    s.pid = Some(bg.pid);
                }
            })
            .unwrap();
    }

    async fn leader(&self) -> Option<LeaderStatus> {
        self.client.leader().await.ok()
    }
}

/// The one active node among `nodes`, once every one of them agrees on it.
async fn active(nodes: &[&Node]) -> usize {
    for _ in 0..240 {
        let mut seen = Vec::new();
        for node in nodes {
            seen.push(node.leader().await);
        }
        let leaders: Vec<_> = seen.iter().flatten().map(|l| l.leader_address.clone()).collect();
        let selves: Vec<usize> = seen
            .iter()
            .enumerate()
            .filter(|(_, l)| l.as_ref().is_some_and(|l| l.is_self))
            .map(|(i, _)| i)
            .collect();
        if leaders.len() == nodes.len()
            && leaders.iter().all(|l| !l.is_empty() && *l == leaders[0])
            && selves.len() == 1
        {
            return selves[0];
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("the nodes never agreed on one active node");
}

/// A call with the root token, through `node`; the JSON answer.
async fn call(
    node: &Node,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> serde_json::Value {
    let http = reqwest::Client::new();
    let mut last = String::new();
    for _ in 0..40 {
        let mut req = http
            .request(method.clone(), format!("{}/v1/{path}", node.client.address))
            .header("X-Vault-Token", token);
        if let Some(body) = &body {
            req = req.json(body);
        }
        match req.send().await {
            Ok(resp) if resp.status().is_success() => {
                let text = resp.text().await.unwrap();
                return if text.is_empty() {
                    serde_json::Value::Null
                } else {
                    serde_json::from_str(&text).unwrap()
                };
            }
            // A standby that has not yet heard of a new leader answers 5xx for a moment.
            Ok(resp) => last = format!("{}: {}", resp.status(), resp.text().await.unwrap_or_default()),
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("{method} {path} through {} failed: {last}", node.client.address);
}

async fn raft_node_ids(node: &Node, token: &str) -> Vec<(String, bool)> {
    let v = call(
        node,
        token,
        reqwest::Method::GET,
        "sys/storage/raft/configuration",
        None,
    )
    .await;
    v["data"]["config"]["servers"]
        .as_array()
        .expect("servers")
        .iter()
        .map(|s| {
            (
                s["node_id"].as_str().unwrap().to_string(),
                s["voter"].as_bool().unwrap(),
            )
        })
        .collect()
}

fn root_token(keys_file: &Path) -> String {
    let text = std::fs::read_to_string(keys_file).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("Initial Root Token: "))
        .expect("the keys file holds the root token")
        .to_string()
}

// The guard of `one_cluster_at_a_time` keeps the other test threads out; this test's
// runtime is its own, so holding it across awaits blocks nothing but them.
#[allow(clippy::await_holding_lock)]
#[tokio::test]
async fn a_three_node_cluster_unseals_itself_survives_restarts_and_failover_and_takes_a_fourth_node() {
    let _one_cluster = common::one_cluster_at_a_time();
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let node4_dir = dir.path().join("host4");
    let node4_state = node4_dir.join("state");
    let _guard = ClusterGuard(vec![state.clone(), node4_state.clone()]);
    let a = cluster_answers(&moto, dir.path());
    let answers_file = dir.path().join("answers.toml");
    std::fs::write(&answers_file, a.to_toml()).unwrap();

    // 1. apply: three nodes, the first initialised, the others joined through KMS.
    let out = autounseal(&state, &["apply", "--yes", "--answers", answers_file.to_str().unwrap()]);
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    for line in [
        "Node 1 of 3: autounseal-1",
        "Nodes 2 to 3 of 3 at the same time, each line named: autounseal-2 at",
        "autounseal-3 ok   Restart check: restarted and unsealed itself through KMS",
        "autounseal-2 ok   Restart check: restarted and unsealed itself through KMS",
        "(active)",
        "(standby)",
    ] {
        assert!(said.contains(line), "missing {line:?}:\n{said}");
    }
    let dirs = common::cluster_state_dirs(&state);
    let nodes: Vec<Node> = dirs.iter().map(|d| Node::of(d)).collect();
    let all: Vec<&Node> = nodes.iter().collect();
    for node in &nodes {
        let status = common::wait_unsealed(&node.client).await;
        assert_eq!(status.seal_type, "awskms", "{}", node.client.address);
    }
    active(&all).await;
    let keys_file = dir.path().join("recovery-keys.txt");
    let token = root_token(&keys_file);
    // Raft's autopilot promotes a joined node to voter once it is stable (10 s).
    let all_voters = [
        ("autounseal-1".to_string(), true),
        ("autounseal-2".to_string(), true),
        ("autounseal-3".to_string(), true),
    ];
    let mut voters = Vec::new();
    for _ in 0..120 {
        voters = raft_node_ids(&nodes[0], &token).await;
        if voters == all_voters {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(voters, all_voters);

    // 2. A secret written on the active node reads back through a standby.
    let first = active(&all).await;
    let standby = (first + 1) % 3;
    call(
        &nodes[first],
        &token,
        reqwest::Method::POST,
        "sys/mounts/secret",
        Some(serde_json::json!({"type": "kv", "options": {"version": "1"}})),
    )
    .await;
    call(
        &nodes[first],
        &token,
        reqwest::Method::PUT,
        "secret/ha",
        Some(serde_json::json!({"value": "written before"})),
    )
    .await;
    let read = call(&nodes[standby], &token, reqwest::Method::GET, "secret/ha", None).await;
    assert_eq!(read["data"]["value"], "written before");

    // 3. Every node stopped, then all started at once: all unseal with no key typed.
    for node in &nodes {
        node.stop(nix::sys::signal::Signal::SIGTERM);
    }
    for node in &nodes {
        node.start();
    }
    for node in &nodes {
        assert_eq!(common::wait_unsealed(&node.client).await.seal_type, "awskms");
    }
    let leader = active(&all).await;
    let read = call(
        &nodes[(leader + 2) % 3],
        &token,
        reqwest::Method::GET,
        "secret/ha",
        None,
    )
    .await;
    assert_eq!(read["data"]["value"], "written before");

    // 4. The active node killed: a standby takes over, the secret still readable.
    nodes[leader].stop(nix::sys::signal::Signal::SIGKILL);
    let rest: Vec<&Node> = nodes
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != leader)
        .map(|(_, n)| n)
        .collect();
    let new_leader = active(&rest).await;
    assert_ne!(rest[new_leader].client.address, nodes[leader].client.address);
    let read = call(rest[new_leader], &token, reqwest::Method::GET, "secret/ha", None).await;
    assert_eq!(read["data"]["value"], "written before");
    nodes[leader].start();
    common::wait_unsealed(&nodes[leader].client).await;
    active(&all).await;

    // 5. A fourth node joins from a state folder of its own, with the cluster file.
    let cluster_file = state.join("cluster.toml");
    let file = ClusterFile::load(&cluster_file).unwrap();
    assert_eq!(file.nodes.len(), 3);
    let exported = std::fs::read_to_string(&cluster_file).unwrap();
    for node in &nodes {
        let env = ManifestStore::open(&node.state).unwrap().snapshot();
        let env = env
            .file(autounseal::run::manifest::FileRole::EnvFile)
            .unwrap()
            .path
            .clone();
        let creds = std::fs::read_to_string(&env).unwrap();
        let secret = creds
            .lines()
            .find_map(|l| l.strip_prefix("AWS_SECRET_ACCESS_KEY="))
            .unwrap();
        assert!(!exported.contains(secret), "the cluster file holds no secret");
    }
    let mut own = server_answers(&moto, &node4_dir);
    own.server.node_id = "autounseal-4".into();
    own.init.recovery_keys_file = None;
    let own_file = node4_dir.join("answers.toml");
    std::fs::create_dir_all(&node4_dir).unwrap();
    std::fs::write(&own_file, own.to_toml()).unwrap();
    let join = |state: &Path| {
        autounseal(
            state,
            &[
                "join",
                "--yes",
                "--cluster",
                cluster_file.to_str().unwrap(),
                "--answers",
                own_file.to_str().unwrap(),
                // The recovery keys file (0600): its root token line.
                "--raft-token-file",
                keys_file.to_str().unwrap(),
            ],
        )
    };
    let out = join(&node4_state);
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("joined: autounseal-4 is a standby"), "{said}");
    assert!(
        said.contains("In the raft peer set as the leader has it: autounseal-4"),
        "{said}"
    );
    assert!(!said.contains(&token), "the token is never printed");
    let node4 = Node::of(&node4_state);
    assert_eq!(common::wait_unsealed(&node4.client).await.seal_type, "awskms");
    let ids: Vec<String> = raft_node_ids(&nodes[0], &token)
        .await
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert!(ids.contains(&"autounseal-4".to_string()), "{ids:?}");
    // Running it again changes nothing that is right.
    let again = join(&node4_state);
    assert!(again.status.success(), "{}", text(&again));

    // 6. Each node's user holds exactly the one policy and only its own access key.
    let ctx = context(&a).await;
    let policy_arn = file.policy_arn.clone();
    let mut key_ids = Vec::new();
    for (state, user) in dirs.iter().chain([&node4_state]).zip(1..) {
        let user = format!("vault-auto-unseal-autounseal-{user}");
        let attached = ctx
            .iam
            .list_attached_user_policies()
            .user_name(&user)
            .send()
            .await
            .unwrap();
        let arns: Vec<_> = attached
            .attached_policies()
            .iter()
            .filter_map(|p| p.policy_arn())
            .collect();
        assert_eq!(arns, [policy_arn.as_str()], "{user}");
        let keys = ctx.iam.list_access_keys().user_name(&user).send().await.unwrap();
        let listed: Vec<_> = keys
            .access_key_metadata()
            .iter()
            .filter_map(|k| k.access_key_id())
            .collect();
        let m = ManifestStore::open(state).unwrap().snapshot();
        let env = &m.file(autounseal::run::manifest::FileRole::EnvFile).unwrap().path;
        let in_env = credentials_file::read_env_key_id(env).unwrap();
        assert_eq!(listed, [in_env.as_str()], "{user}: only its own key");
        key_ids.push(in_env);
    }
    key_ids.sort();
    key_ids.dedup();
    assert_eq!(key_ids.len(), 4, "no env file holds another node's key");

    // 7. doctor and status report per node: the first, then the others of this state folder.
    let out = autounseal(&state, &["doctor", "--json"]);
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)));
    let names: Vec<_> = report
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["node"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["autounseal-1", "autounseal-2", "autounseal-3"]);
    for node in report.as_array().unwrap() {
        let server_ok = node["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["link"] == "server" && f["verdict"] == "ok");
        assert!(server_ok, "{node:#}");
    }
    let out = autounseal(&state, &["status"]);
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    for id in ["Node autounseal-1", "Node autounseal-2", "Node autounseal-3"] {
        assert!(said.contains(id), "{id} missing:\n{said}");
    }
    assert_eq!(said.matches(", active (state in").count(), 1, "{said}");
    assert_eq!(said.matches(", standby (state in").count(), 2, "{said}");

    // 7b. The wizard's Status lists every node, its role with it, as `status` does.
    let mut t = cluster_wizard(dir.path(), &state);
    t.wait_for("Check the setup (doctor)", SCREEN);
    t.type_keys(&[DOWN, ENTER]);
    let mut seen = t.wait_for("Node autounseal-1", Duration::from_secs(60));
    for _ in 0..40 {
        if seen.contains("Node autounseal-3") {
            break;
        }
        t.type_keys(&[DOWN]);
        seen.push_str(&t.contents());
    }
    for node in ["Node autounseal-1, ", "Node autounseal-2, ", "Node autounseal-3, "] {
        assert!(seen.contains(node), "{node} missing from the Status screen:\n{seen}");
    }
    assert!(seen.contains("active (1 of 3)") || seen.contains("active (2 of 3)") || seen.contains("active (3 of 3)"));
    t.type_keys(&[ESC, "q", "y"]);
    assert!(t.child.wait().unwrap().success());

    // 7c. A node whose folder records nothing (as a destroy stopped between two nodes
    // leaves it): a failure with its fix in `doctor` and on the wizard's Doctor screen alike.
    let manifest3 = dirs[2].join(autounseal::run::manifest::MANIFEST_FILE);
    let kept = std::fs::read(&manifest3).unwrap();
    std::fs::write(&manifest3, b"{}").unwrap();
    let out = autounseal(&state, &["doctor", "--json"]);
    assert_eq!(out.status.code(), Some(2), "a failure: {}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let third = &report.as_array().unwrap()[2];
    let finding = &third["findings"][0];
    assert_eq!(
        (&finding["link"], &finding["check"], &finding["verdict"]),
        (&"state".into(), &"setup recorded".into(), &"fail".into()),
        "{third:#}"
    );
    let fix = finding["fix"].as_str().unwrap().to_string();
    let mut t = cluster_wizard(dir.path(), &state);
    t.wait_for("Check the setup (doctor)", SCREEN);
    t.type_keys(&[ENTER]);
    let mut seen = t.wait_for("exit code", Duration::from_secs(60));
    for _ in 0..20 {
        t.type_keys(&["\x1b[6~"]); // PgDn
        seen.push_str(&t.contents());
    }
    assert!(seen.contains("[FAIL] setup recorded"), "{seen}");
    assert!(seen.contains("records no setup for node"), "{seen}");
    assert!(seen.contains(&fix[..30]), "the same fix as the CLI's:\n{seen}");
    t.type_keys(&[ESC, "q", "y"]);
    assert!(t.child.wait().unwrap().success());
    std::fs::write(&manifest3, kept).unwrap();

    // 8. destroy: the fourth node alone first, then the cluster, nodes before the shared part.
    let out = autounseal(
        &node4_state,
        &["destroy", "--yes", "--raft-token-file", keys_file.to_str().unwrap()],
    );
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("keep (reused) policy"), "{said}");
    assert!(said.contains("autounseal-4 removed from the raft peer set"), "{said}");
    let ids: Vec<String> = raft_node_ids(&nodes[0], &token)
        .await
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(ids.len(), 3, "the fourth node left the raft peer set: {ids:?}");
    let policy = ctx.iam.get_policy().policy_arn(&policy_arn).send().await;
    assert!(policy.is_ok(), "a node's destroy leaves the shared policy");
    let out = autounseal(&state, &["destroy", "--yes", "--force"]);
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    let users = ctx.iam.list_users().send().await.unwrap();
    assert!(
        users.users().is_empty(),
        "every node's user is gone: {:?}",
        users.users()
    );
    assert!(ctx.iam.get_policy().policy_arn(&policy_arn).send().await.is_err());
    let key = ctx.kms.describe_key().key_id(&file.kms_key_arn).send().await.unwrap();
    assert_eq!(
        key.key_metadata().unwrap().key_state(),
        Some(&aws_sdk_kms::types::KeyState::PendingDeletion)
    );
    for leftover in [
        dir.path().join("etc/vault-autounseal-1.env"),
        dir.path().join("etc/vault-autounseal-3.hcl"),
        node4_dir.join("etc/vault.env"),
        cluster_file.clone(),
        state.join("nodes"),
    ] {
        assert!(!leftover.exists(), "{} is left", leftover.display());
    }
    assert_eq!(
        processes_mentioning(&dir.path().to_string_lossy()),
        Vec::<String>::new()
    );
}

#[test]
fn a_local_cluster_needs_background_launch_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = Answers {
        region: "eu-west-1".into(),
        ..Default::default()
    };
    a.server.tls_disable = true;
    a.cluster.nodes = 3;
    let errors = a.validate();
    assert_eq!(errors[0].field, "cluster.nodes");
    assert!(
        errors[0].message.contains("server.launch = \"background\""),
        "{}",
        errors[0].message
    );
    let file = dir.path().join("answers.toml");
    std::fs::write(&file, a.to_toml()).unwrap();
    let out = autounseal(
        &dir.path().join("state"),
        &["plan", "--answers", file.to_str().unwrap()],
    );
    assert!(!out.status.success());
    assert!(text(&out).contains("cluster.nodes"), "{}", text(&out));
}
