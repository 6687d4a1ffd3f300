//! `join` through the wizard: a 3-node cluster made by `apply` (real OpenBao 2.6.2 and
//! moto), then the real binary in a pseudo-terminal, from a state folder of its own,
//! choosing "join a cluster" on the Server screen. Review names the cluster
//! and the node; the run joins it; the node is unsealed through KMS and a standby.

use crate::common;

use std::time::Duration;

use autounseal::vault::client::VaultClient;
use common::pty::{ENTER, RIGHT, TAB, Terminal, wizard_command};
use common::{
    Moto, ServerGuard, autounseal_output, cluster_answers, cluster_state_dirs, output_text, processes_mentioning,
    server_answers,
};

const SHORT: Duration = Duration::from_secs(15);

#[test]
fn a_fourth_node_joins_through_the_wizard_as_a_standby() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let state = d.join("state");
    let host = d.join("host4");
    let host_state = host.join("state");
    let dirs = cluster_state_dirs(&state);
    let guards: Vec<ServerGuard> = dirs.iter().chain([&host_state]).cloned().map(ServerGuard).collect();
    let cluster = cluster_answers(&moto, d);
    let leader = format!("http://{}", cluster.server.listen);
    let answers_file = d.join("answers.toml");
    std::fs::write(&answers_file, cluster.to_toml()).unwrap();
    let out = autounseal_output(&state, &["apply", "--yes", "--answers", answers_file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", output_text(&out));
    let cluster_file = state.join("cluster.toml");

    // This host's own answers ahead (files, server, listener), in another region: the
    // cluster file's region and key must win.
    let mut own = server_answers(&moto, &host);
    own.region = "us-east-2".into();
    own.init.recovery_keys_file = None;
    let address = format!("http://{}", own.server.listen);
    std::fs::create_dir_all(&host).unwrap();
    let prefill = host.join("answers.toml");
    std::fs::write(&prefill, own.to_toml()).unwrap();
    // The answers file with `[cluster] join` plans the same join headless: the cluster's
    // key and policy, this node's own user. Headless, as `join`, the node id is given:
    // one the cluster has is refused (the wizard picks a free one).
    let mut joining = own.clone();
    joining.cluster.join = Some(cluster_file.clone());
    let joining_file = host.join("joining.toml");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(&joining_file, joining.to_toml()).unwrap();
    let out = autounseal_output(&host_state, &["plan", "--answers", joining_file.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        output_text(&out).contains("already has a node autounseal-1"),
        "{}",
        output_text(&out)
    );
    joining.server.node_id = "autounseal-4".into();
    let joining_file = host.join("joining.toml");
    std::fs::write(&joining_file, joining.to_toml()).unwrap();
    let out = autounseal_output(&host_state, &["plan", "--answers", joining_file.to_str().unwrap()]);
    let plan = output_text(&out);
    assert!(out.status.success(), "{plan}");
    assert!(plan.contains("vault-auto-unseal-autounseal-4"), "{plan}");
    assert!(
        !plan.contains("kms:CreateKey") && !plan.contains("iam:CreatePolicy"),
        "{plan}"
    );

    let mut cmd = wizard_command(&host);
    cmd.args([
        "--state-dir",
        &host_state.to_string_lossy(),
        "--answers",
        &prefill.to_string_lossy(),
    ]);
    let mut t = Terminal::start(cmd);
    t.wait_for("1/13 Welcome", SHORT);
    t.type_keys(&[ENTER]);
    t.wait_for("✓ Account 123456789012", SHORT);
    for screen in ["3/13 Region", "4/13 KMS key", "5/13 IAM", "6/13 Files", "7/13 Server"] {
        t.type_keys(&[ENTER]);
        t.wait_for(screen, SHORT);
    }
    // Servers: past the single server and the two local clusters, "join a cluster".
    t.type_keys(&[TAB, TAB, RIGHT, RIGHT, RIGHT, TAB, &cluster_file.to_string_lossy(), TAB]);
    let server = t.wait_for("joins as autounseal-4", SHORT);
    assert!(server.contains("● join a cluster"), "{server}");
    t.type_keys(&[ENTER]);
    t.wait_for("8/13 Init", SHORT);
    t.type_keys(&[ENTER]);
    let review = t.wait_for("9/13 Review", SHORT);
    assert!(
        review.contains(&format!("Join    cluster {leader} as node autounseal-4")),
        "{review}"
    );
    assert!(
        review.contains("eu-west-1 · user vault-auto-unseal-autounseal-4"),
        "the cluster's region: {review}"
    );
    let plan = t.wait_for("iam:CreateAccessKey", Duration::from_secs(30));
    assert!(!plan.contains("kms:CreateKey"), "the cluster's key, none new: {plan}");
    t.type_keys(&[ENTER]);
    t.wait_for("11/13 Run", SHORT);
    t.wait_for("All done. Enter to continue.", Duration::from_secs(120));
    t.type_keys(&[ENTER]);
    t.wait_for("13/13 Done", SHORT);
    t.type_keys(&[ENTER]);
    assert!(t.child.wait().unwrap().success());

    // The node is unsealed through the cluster's KMS key, and a standby of its leader.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let client = VaultClient::new(&address, None).unwrap();
    let seal = rt.block_on(client.seal_status()).unwrap();
    assert_eq!(
        (seal.seal_type.as_str(), seal.initialized, seal.sealed),
        ("awskms", true, false)
    );
    let role = rt.block_on(client.leader()).unwrap();
    assert!(!role.is_self && !role.leader_address.is_empty(), "{role:?}");
    // The wizard saved `[cluster] join`: the same answers make `apply` join again.
    let saved = std::fs::read_dir(&host_state)
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .any(|text| text.contains(&format!("join = \"{}\"", cluster_file.display())));
    assert!(saved, "the session's answers name the cluster file");

    // And `apply --answers` with `[cluster] join` is `join`: run again on this node's
    // state, it finds everything right and the node still a standby.
    let out = autounseal_output(
        &host_state,
        &["apply", "--yes", "--answers", joining_file.to_str().unwrap()],
    );
    let said = output_text(&out);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("autounseal join: node autounseal-4"), "{said}");
    assert!(said.contains("joined: autounseal-4 is a standby"), "{said}");

    drop(guards);
    assert_eq!(processes_mentioning(&d.to_string_lossy()), Vec::<String>::new());
}
