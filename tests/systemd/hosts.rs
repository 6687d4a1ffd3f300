//! The multi-host story of docs/cluster.md on three real hosts (issue 20): each a real
//! systemd in its own PID, mount and network namespace with a packaged OpenBao unit
//! (`openbao.service`, `User=openbao`), on a test network of its own, every listener on
//! TLS with a certificate for the host's address from a CA the test makes. Each host's
//! operator runs autounseal there, with a state folder of their own; only the cluster
//! file crosses from host 1 to the others, as an operator would copy it.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use autounseal::answers::{Answers, Launch};
use common::hosts::{Host, Network, Pki, block_on, tear_down};
use common::shamir::Api;
use serde_json::json;

const UNIT: &str = "openbao.service";
const CA: &str = "/etc/openbao/tls/ca.pem";

/// What the OpenBao package puts on a host, with the host's own TLS certificate: the
/// service user, the unit (restarted 5 s after a crash, as packaged), `/usr/local/bin/bao`
/// (the real OpenBao 2.6.2) and an empty data folder.
fn install_openbao(host: &Host, pki: &Pki) {
    let bao = std::fs::canonicalize(common::bao_binary()).unwrap();
    host.sh(&format!(
        "useradd --system --no-create-home --shell /usr/sbin/nologin openbao\n\
         touch /usr/local/bin/bao && mount --bind {bao} /usr/local/bin/bao\n\
         mkdir -p /etc/openbao/tls /opt/openbao/data && chown openbao:openbao /opt/openbao/data\n\
         printf '[Unit]\\nDescription=OpenBao\\n[Service]\\nUser=openbao\\nGroup=openbao\\n\
         ExecStart=/usr/local/bin/bao server -config=/etc/openbao/openbao.hcl\\n\
         KillSignal=SIGINT\\nRestart=on-failure\\nRestartSec=5\\n' > /etc/systemd/system/{UNIT}\n\
         systemctl daemon-reload",
        bao = bao.display()
    ));
    let (cert, key) = pki.issue(&host.ip);
    std::fs::write(host.file(CA), pki.ca_pem()).unwrap();
    std::fs::write(host.file("/etc/openbao/tls/server.pem"), cert).unwrap();
    std::fs::write(host.file("/etc/openbao/tls/server-key.pem"), key).unwrap();
    host.sh(
        "chown root:openbao /etc/openbao/tls/* && chmod 0644 /etc/openbao/tls/*.pem\n\
         chmod 0640 /etc/openbao/tls/server-key.pem",
    );
}

/// The answers of host `n`'s operator: this host's address, certificate and node id;
/// the packaged paths found from the unit.
fn host_answers(host: &Host, n: u8, endpoint: &str, state: &Path) -> Answers {
    let mut a = Answers {
        region: "eu-west-1".into(),
        endpoint_url: Some(endpoint.into()),
        ..Default::default()
    };
    a.server.binary = "/usr/local/bin/bao".into();
    a.server.launch = Launch::Systemd;
    a.server.listen = format!("{}:8200", host.ip);
    a.server.storage_path = "/opt/openbao/data".into();
    a.server.node_id = format!("autounseal-{n}");
    a.server.tls_disable = false;
    a.server.tls_cert_file = Some("/etc/openbao/tls/server.pem".into());
    a.server.tls_key_file = Some("/etc/openbao/tls/server-key.pem".into());
    a.server.ca_cert = Some(CA.into());
    a.init.enabled = n == 1;
    a.init.recovery_shares = 3;
    a.init.recovery_threshold = 2;
    a.init.recovery_keys_file = (n == 1).then(|| state.join("recovery-keys.txt"));
    a.timing.poll_interval_ms = 100;
    a.timing.required_successes = 2;
    a.timing.propagation_timeout_secs = 10;
    a.timing.server_start_timeout_secs = 90;
    a
}

/// One host and its operator's session: the state folder and answers file they keep.
struct Operator<'h> {
    host: &'h Host,
    state: PathBuf,
    answers_file: PathBuf,
    api: Api,
}

impl Operator<'_> {
    fn run(&self, args: &[&str]) -> Output {
        self.host.autounseal(&self.state, args)
    }

    /// `autounseal ARGS` that must succeed; on failure the server's journal is shown.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        let text = common::output_text(&out);
        assert!(
            out.status.success(),
            "{} $ autounseal {}\n{text}\njournal of {UNIT}:\n{}",
            self.host.ip,
            args.join(" "),
            self.host.journal(UNIT)
        );
        text
    }

    /// The access key id in the host's env file.
    fn env_key_id(&self) -> String {
        let env = std::fs::read_to_string(self.host.file("/etc/openbao/openbao.env")).unwrap();
        env.lines()
            .find_map(|l| l.strip_prefix("AWS_ACCESS_KEY_ID="))
            .expect("the env file names its access key")
            .trim_matches('"')
            .to_string()
    }
}

/// Which of the operators' servers is active, once exactly one says so and the others
/// name it as their leader (up to 60 s: an election after a failure takes a moment).
async fn the_active(operators: &[&Operator<'_>]) -> usize {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut actives = Vec::new();
        let mut leaders = Vec::new();
        for (i, op) in operators.iter().enumerate() {
            if let Ok(l) = op.api.client().leader().await {
                if l.is_self {
                    actives.push(i);
                }
                leaders.push(l.leader_address);
            }
        }
        if actives.len() == 1
            && leaders.len() == operators.len()
            && leaders.iter().all(|l| *l == operators[actives[0]].api.address)
        {
            return actives[0];
        }
        assert!(
            Instant::now() < deadline,
            "no single active node: actives {actives:?}, leaders {leaders:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The raft peer set through `api`: (node id, voter).
async fn raft_peers(api: &Api, token: &str) -> Vec<(String, bool)> {
    let config = api
        .try_call(reqwest::Method::GET, "sys/storage/raft/configuration", token, None)
        .await
        .unwrap();
    config["data"]["config"]["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["node_id"].as_str().unwrap().to_string(),
                s["voter"].as_bool().unwrap(),
            )
        })
        .collect()
}

/// Until the peer set is exactly `ids`, all voters (autopilot promotes a joined node once
/// it has been stable for a while).
async fn wait_for_voters(api: &Api, token: &str, ids: &[&str]) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let mut peers = raft_peers(api, token).await;
        peers.sort();
        let want: Vec<(String, bool)> = ids.iter().map(|id| (id.to_string(), true)).collect();
        if peers == want {
            return;
        }
        assert!(Instant::now() < deadline, "the raft peers stay {peers:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The secret through `api`, retried while a new leader settles.
async fn read_secret(api: &Api, token: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match api.try_call(reqwest::Method::GET, "secret/story", token, None).await {
            Ok(v) => return v["data"]["value"].as_str().unwrap().to_string(),
            Err(e) => assert!(Instant::now() < deadline, "secret/story through {}: {e}", api.address),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A reader asking every host for the secret in turn, a round every 200 ms, on a thread
/// of its own (in the test network, as the thread that starts it): rounds, and the
/// rounds in which no host answered.
struct Reader {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<(u32, Vec<String>)>,
}

impl Reader {
    fn start(hosts: Vec<(String, PathBuf)>, token: String) -> Reader {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            block_on(async move {
                let apis: Vec<Api> = hosts.iter().map(|(a, ca)| Api::with_ca(a, Some(ca))).collect();
                let (mut rounds, mut failed) = (0, Vec::new());
                while !stopped.load(Ordering::SeqCst) {
                    let mut errors = Vec::new();
                    for api in &apis {
                        let read = tokio::time::timeout(
                            Duration::from_secs(2),
                            api.try_call(reqwest::Method::GET, "secret/story", &token, None),
                        )
                        .await;
                        match read {
                            Ok(Ok(v)) if v["data"]["value"] == "kept across hosts" => {
                                errors.clear();
                                break;
                            }
                            other => errors.push(format!("{}: {other:?}", api.address)),
                        }
                    }
                    rounds += 1;
                    if !errors.is_empty() {
                        failed.push(errors.join("; "));
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                (rounds, failed)
            })
        });
        Reader { stop, thread }
    }

    fn finish(self) -> (u32, Vec<String>) {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().unwrap()
    }
}

/// Three test hosts on a network of their own, each with the OpenBao package installed
/// and a certificate for its address from one test CA; their folders under `d`.
fn three_openbao_hosts(d: &Path) -> (Network, Vec<Host>) {
    let network = Network::new();
    let pki = Pki::new();
    let hosts: Vec<Host> = (1..=3)
        .map(|n| Host::boot(&network, n, &d.join(format!("host{n}"))))
        .collect();
    for host in &hosts {
        install_openbao(host, &pki);
    }
    (network, hosts)
}

/// Issue 20's story on three TLS hosts: host 1 applies with the others named as peers
/// and writes the cluster file; hosts 2 and 3 join with it; the active server is killed
/// and a standby takes over while systemd brings the killed one back; all three are
/// stopped and started at once; each host rotates its access key while a reader asks
/// every 200 ms; doctor is all ok everywhere; the hosts are destroyed 3, 2, then 1.
#[test]
fn three_tls_hosts_join_fail_over_reboot_rotate_and_go_away_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let (network, hosts) = three_openbao_hosts(&d);
    network.run(|| block_on(story(&hosts, &d)));
    tear_down(network, hosts, &d);
}

async fn story(hosts: &[Host], d: &Path) {
    let moto = common::Moto::start_on(Network::OBSERVER);
    let operators: Vec<Operator> = hosts
        .iter()
        .enumerate()
        .map(|(i, host)| {
            let n = i as u8 + 1;
            let state = d.join(format!("operator{n}"));
            std::fs::create_dir_all(&state).unwrap();
            let mut a = host_answers(host, n, &moto.url, &state);
            if n == 1 {
                a.cluster.peers = hosts[1..].iter().map(|h| format!("https://{}:8200", h.ip)).collect();
            }
            let answers_file = state.join("answers.toml");
            std::fs::write(&answers_file, a.to_toml()).unwrap();
            Operator {
                host,
                api: Api::with_ca(&format!("https://{}:8200", host.ip), Some(&host.file(CA))),
                state,
                answers_file,
            }
        })
        .collect();
    let [one, two, three] = [&operators[0], &operators[1], &operators[2]];

    // A wrong CA is refused before AWS: the certificate is checked against server.ca_cert.
    let other_ca = Pki::new();
    std::fs::write(hosts[0].file("/etc/openbao/tls/other-ca.pem"), other_ca.ca_pem()).unwrap();
    let mut wrong = host_answers(one.host, 1, &moto.url, &one.state);
    wrong.server.ca_cert = Some("/etc/openbao/tls/other-ca.pem".into());
    let wrong_file = d.join("wrong-ca.toml");
    std::fs::write(&wrong_file, wrong.to_toml()).unwrap();
    let refused = one.run(&["apply", "--yes", "--answers", wrong_file.to_str().unwrap()]);
    let said = common::output_text(&refused);
    assert!(
        !refused.status.success() && said.contains("does not vouch for"),
        "{said}"
    );
    let ctx = common::context(&host_answers(one.host, 1, &moto.url, &one.state)).await;
    assert!(ctx.kms.list_keys().send().await.unwrap().keys().is_empty(), "{said}");

    // Host 1: the cluster's first node, naming hosts 2 and 3; the cluster file for them.
    one.ok(&["apply", "--yes", "--answers", one.answers_file.to_str().unwrap()]);
    let cluster_file = one.state.join("cluster.toml");
    let listed = std::fs::read_to_string(&cluster_file).unwrap();
    for host in hosts {
        assert!(listed.contains(&format!("https://{}:8200", host.ip)), "{listed}");
    }
    let config = std::fs::read_to_string(hosts[0].file("/etc/openbao/openbao.hcl")).unwrap();
    assert!(
        config.contains("leader_ca_cert_file") && config.contains("https://10.231.0.12:8200"),
        "{config}"
    );
    // Hosts 2 and 3: the file copied over, `join` with each host's own answers.
    for op in [two, three] {
        let copied = op.state.join("cluster.toml");
        std::fs::copy(&cluster_file, &copied).unwrap();
        op.ok(&[
            "join",
            "--cluster",
            copied.to_str().unwrap(),
            "--answers",
            op.answers_file.to_str().unwrap(),
            "--yes",
        ]);
    }

    let keys = std::fs::read_to_string(one.state.join("recovery-keys.txt")).unwrap();
    let token = keys
        .lines()
        .find_map(|l| l.strip_prefix("Initial Root Token: "))
        .expect("host 1 saved the root token")
        .to_string();
    for op in &operators {
        let status = common::wait_unsealed(&op.api.client()).await;
        assert_eq!(status.seal_type, "awskms", "{}", op.api.address);
    }
    let all = [one, two, three];
    let active = the_active(&all).await;
    wait_for_voters(
        &all[active].api,
        &token,
        &["autounseal-1", "autounseal-2", "autounseal-3"],
    )
    .await;
    all[active]
        .api
        .try_call(
            reqwest::Method::POST,
            "sys/mounts/secret",
            &token,
            Some(json!({"type": "kv"})),
        )
        .await
        .unwrap();
    all[active]
        .api
        .try_call(
            reqwest::Method::POST,
            "secret/story",
            &token,
            Some(json!({"value": "kept across hosts"})),
        )
        .await
        .unwrap();
    for op in &all {
        assert_eq!(read_secret(&op.api, &token).await, "kept across hosts");
    }

    // The active host's server killed: a standby takes over and serves the data, and
    // systemd brings the killed one back, unsealed with no key typed.
    let killed = all[active];
    let pid_before = killed.host.sh(&format!("systemctl show -p MainPID --value {UNIT}"));
    let killed_at = Instant::now();
    killed.host.sh(&format!("kill -KILL {}", pid_before.trim()));
    let rest: Vec<&Operator> = all
        .iter()
        .copied()
        .filter(|op| op.api.address != killed.api.address)
        .collect();
    let new_active = the_active(&rest).await;
    println!("failover across hosts: {:.1} s", killed_at.elapsed().as_secs_f64());
    assert_eq!(read_secret(&rest[new_active].api, &token).await, "kept across hosts");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let pid = killed.host.sh(&format!("systemctl show -p MainPID --value {UNIT}"));
        if pid.trim() != "0" && pid != pid_before {
            break;
        }
        assert!(Instant::now() < deadline, "systemd never restarted {UNIT}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    common::wait_unsealed(&killed.api.client()).await;
    assert_eq!(all[the_active(&all).await].api.address, rest[new_active].api.address);

    // Every host rebooted at once: all servers stopped, then started by systemd.
    for op in &all {
        op.host.sh(&format!("systemctl stop {UNIT}"));
    }
    for op in &all {
        assert!(
            op.api.client().seal_status().await.is_err(),
            "{} is down",
            op.api.address
        );
    }
    for op in &all {
        op.host.sh(&format!("systemctl start --no-block {UNIT}"));
    }
    for op in &all {
        let status = common::wait_unsealed(&op.api.client()).await;
        assert_eq!(status.seal_type, "awskms");
    }
    let active = the_active(&all).await;
    assert_eq!(read_secret(&all[active].api, &token).await, "kept across hosts");
    wait_for_voters(
        &all[active].api,
        &token,
        &["autounseal-1", "autounseal-2", "autounseal-3"],
    )
    .await;

    // A rolling rotation, one host at a time, while a reader asks every 200 ms.
    let reader = Reader::start(
        all.iter()
            .map(|op| (op.api.address.clone(), op.host.file(CA)))
            .collect(),
        token.clone(),
    );
    for op in &all {
        let before = op.env_key_id();
        op.ok(&["rotate", "--yes"]);
        let after = op.env_key_id();
        assert_ne!(before, after, "{} has a new access key", op.api.address);
        common::wait_unsealed(&op.api.client()).await;
        // Between two hosts' rotations, the cluster settles: all voters again.
        let active = the_active(&all).await;
        wait_for_voters(
            &all[active].api,
            &token,
            &["autounseal-1", "autounseal-2", "autounseal-3"],
        )
        .await;
    }
    let (rounds, failed) = reader.finish();
    assert!(rounds >= 10, "the reader ran: {rounds} rounds");
    assert!(
        failed.is_empty(),
        "{} of {rounds} rounds found every host failing: {failed:#?}",
        failed.len()
    );
    for op in &all {
        let manifest = autounseal::run::ManifestStore::open(&op.state).unwrap().snapshot();
        let user = manifest.iam_user.expect("each host records its own user").name;
        assert_eq!(common::access_key_ids(&ctx, &user).await, [op.env_key_id()], "{user}");
    }

    // doctor on each host, with no flag: the CA is the one the setup recorded.
    for op in &all {
        let out = op.run(&["doctor", "--json"]);
        let text = common::output_text(&out);
        assert_eq!(out.status.code(), Some(0), "{}: {text}", op.api.address);
    }

    // Destroy host 3 (out of the raft peer set first), host 2, then host 1: the key last.
    let token_file = d.join("raft-token");
    std::fs::write(&token_file, format!("{token}\n")).unwrap();
    std::fs::set_permissions(&token_file, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    three.ok(&["destroy", "--yes", "--raft-token-file", token_file.to_str().unwrap()]);
    let mut peers = raft_peers(&one.api, &token).await;
    peers.sort();
    assert_eq!(
        peers.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(),
        ["autounseal-1", "autounseal-2"],
        "host 3 left the peer set"
    );
    two.ok(&["destroy", "--yes", "--raft-token-file", token_file.to_str().unwrap()]);
    // The last host's data goes with the key: destroy says so and wants --force.
    let refused = one.run(&["destroy", "--yes"]);
    assert!(
        common::output_text(&refused).contains("it still seals all the data of the server at https://10.231.0.11:8200"),
        "{}",
        common::output_text(&refused)
    );
    one.ok(&["destroy", "--yes", "--force"]);
    // Each host's files are gone; its unit is the package's, and is left as it is.
    for op in &all {
        for file in [
            "/etc/openbao/openbao.env".to_string(),
            format!("/etc/systemd/system/{UNIT}.d/autounseal.conf"),
        ] {
            assert!(!op.host.file(&file).exists(), "{} {file}", op.host.ip);
        }
    }
    let keys = ctx.kms.list_keys().send().await.unwrap();
    let [key] = keys.keys() else {
        panic!("one key: {:?}", keys.keys())
    };
    common::aws_is_clean(&ctx, key.key_arn().unwrap()).await;
}

/// The config an operator wrote for a Shamir raft node of three on TLS.
fn shamir_config(host: &Host, n: u8, hosts: &[Host]) -> String {
    let joins: String = hosts
        .iter()
        .filter(|h| h.ip != host.ip)
        .map(|h| {
            format!(
                "  retry_join {{\n    leader_api_addr = \"https://{}:8200\"\n    leader_ca_cert_file = \"{CA}\"\n  }}\n",
                h.ip
            )
        })
        .collect();
    format!(
        "# The operator's own config\ndisable_mlock = true\napi_addr = \"https://{ip}:8200\"\n\
         cluster_addr = \"https://{ip}:8201\"\n\
         listener \"tcp\" {{\n  address = \"{ip}:8200\"\n  tls_cert_file = \"/etc/openbao/tls/server.pem\"\n  \
         tls_key_file = \"/etc/openbao/tls/server-key.pem\"\n}}\n\
         storage \"raft\" {{\n  path = \"/opt/openbao/data\"\n  node_id = \"autounseal-{n}\"\n  \
         performance_multiplier = 1\n{joins}}}\n",
        ip = host.ip
    )
}

/// The wizard on `op`'s host migrating its node with the answers file (the cluster file
/// in `[cluster] join`): every question as given, the keys typed, never on the screen.
fn wizard_migrates(op: &Operator, keys: &[String]) {
    use common::pty::{ENTER, SCREEN, Terminal, answer_every_question};
    let state = op.state.to_string_lossy().into_owned();
    let answers = op.answers_file.to_string_lossy().into_owned();
    let home = op.state.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let mut t = Terminal::start(op.host.wizard(&home, &["--state-dir", &state, "--answers", &answers]));
    answer_every_question(&mut t);
    let review = t.wait_for("9/13 Review", SCREEN);
    assert!(
        review.contains("Cluster https://10.231.0.12:8200 · node autounseal-3 moves to its key"),
        "{review}"
    );
    t.wait_for("Enter  run it", Duration::from_secs(60));
    t.type_keys(&[ENTER]);
    t.wait_for("10/13 Unseal keys", SCREEN);
    for key in keys {
        t.type_keys(&[key, ENTER]);
    }
    t.wait_for(&format!("{} keys entered", keys.len()), SCREEN);
    t.type_keys(&[ENTER]);
    let done = t.wait_for("All done. Enter to continue.", Duration::from_secs(120));
    let screen = t.contents();
    for key in keys {
        assert!(
            !screen.contains(key.as_str()),
            "an unseal key is on the screen:\n{screen}"
        );
    }
    assert!(done.contains("migrated from Shamir"), "{done}");
    t.type_keys(&[ENTER]);
    let summary = t.wait_for("13/13 Done", SCREEN);
    for said in [
        "Env file  /etc/openbao/openbao.env (0600)",
        "cluster seal migration: next: migrate the active node",
    ] {
        assert!(summary.contains(said), "{said}\n{summary}");
    }
    assert!(!summary.contains("start the server"), "it runs:\n{summary}");
    t.type_keys(&[ENTER]);
    assert!(t.child.wait().unwrap().success());
}

/// A Shamir cluster of three hosts as operators run one today: each host's own config
/// (TLS, raft with retry_join naming the others), host 1 initialised with three unseal
/// keys (threshold 2) and a secret written, hosts 2 and 3 joined and unsealed by hand.
async fn shamir_cluster(hosts: &[Host], apis: &[Api]) -> (Vec<String>, String) {
    for (i, host) in hosts.iter().enumerate() {
        std::fs::write(
            host.file("/etc/openbao/openbao.hcl"),
            shamir_config(host, i as u8 + 1, hosts),
        )
        .unwrap();
        host.sh(&format!(
            "chown root:openbao /etc/openbao/openbao.hcl && chmod 0640 /etc/openbao/openbao.hcl\n\
             systemctl start {UNIT}"
        ));
    }
    let (keys, root) = common::shamir::init_with_data(&apis[0]).await;
    for api in &apis[1..] {
        // Joined through retry_join first (initialised), then unsealed with the keys.
        api.wait_for("joined", |s| s.initialized).await;
        api.unseal(&keys[..2]).await;
    }
    (keys, root)
}

/// Issue 20's cluster seal migration on three TLS hosts with data: the active node is
/// refused while a standby is on Shamir, and any node while the others would lose the
/// quorum; standby 2 (naming the others as peers, which makes the key and the cluster
/// file), standby 3 (with the cluster file, in the wizard), then the active node 1 last;
/// each run says what comes next. Afterwards every node is on awskms with the data, all
/// three restarted at once unseal with no key, the old unseal keys generate a root token
/// as recovery keys, and doctor is all ok on each host. Then the way back before destroy,
/// in the same order (the active node first refused): every node on Shamir with the
/// data, each operator's config as it was, AWS clean.
#[test]
fn a_shamir_cluster_on_three_hosts_moves_to_awskms_standbys_first_and_the_active_last() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let (network, hosts) = three_openbao_hosts(&d);
    network.run(|| block_on(migration_story(&hosts, &d)));
    tear_down(network, hosts, &d);
}

async fn migration_story(hosts: &[Host], d: &Path) {
    let moto = common::Moto::start_on(Network::OBSERVER);
    let apis: Vec<Api> = hosts
        .iter()
        .map(|h| Api::with_ca(&format!("https://{}:8200", h.ip), Some(&h.file(CA))))
        .collect();
    let (keys, root) = shamir_cluster(hosts, &apis).await;
    assert!(apis[0].client().leader().await.unwrap().is_self, "host 1 is active");
    let keys_file = d.join("unseal-keys");
    std::fs::write(&keys_file, keys[..2].join("\n")).unwrap();
    std::fs::set_permissions(&keys_file, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let keys_arg = keys_file.to_str().unwrap();
    let operators: Vec<Operator> = hosts
        .iter()
        .zip(apis)
        .enumerate()
        .map(|(i, (host, api))| {
            let n = i as u8 + 1;
            let state = d.join(format!("operator{n}"));
            std::fs::create_dir_all(&state).unwrap();
            let mut a = host_answers(host, n, &moto.url, &state);
            a.server.existing = autounseal::answers::ExistingServer::Migrate;
            if n == 2 {
                // Left unset: the kept config's raft node_id (autounseal-2) is taken,
                // and the cluster file names the node by it.
                a.server.node_id = autounseal::answers::DEFAULT_NODE_ID.into();
            }
            a.init.enabled = false;
            a.init.recovery_keys_file = None;
            a.cluster.peers = hosts
                .iter()
                .filter(|h| h.ip != host.ip)
                .map(|h| format!("https://{}:8200", h.ip))
                .collect();
            let answers_file = state.join("answers.toml");
            std::fs::write(&answers_file, a.to_toml()).unwrap();
            Operator {
                host,
                api,
                state,
                answers_file,
            }
        })
        .collect();
    let [one, two, three] = [&operators[0], &operators[1], &operators[2]];
    let ctx = common::context(&host_answers(one.host, 1, &moto.url, &one.state)).await;
    let nothing_in_aws = async || {
        assert!(ctx.kms.list_keys().send().await.unwrap().keys().is_empty());
        assert!(ctx.iam.list_users().send().await.unwrap().users().is_empty());
    };
    let migration = |op: &Operator| {
        [
            "apply".to_string(),
            "--yes".into(),
            "--answers".into(),
            op.answers_file.to_string_lossy().into_owned(),
            "--unseal-keys-file".into(),
            keys_arg.into(),
        ]
    };
    let migrate = |op: &Operator| op.run(&migration(op).each_ref().map(String::as_str));
    let migrated = |op: &Operator| op.ok(&migration(op).each_ref().map(String::as_str));

    // The active node first: refused, naming the standbys to do before it.
    let refused = migrate(one);
    let said = common::output_text(&refused);
    assert!(!refused.status.success(), "{said}");
    assert!(
        said.contains("is the cluster's active node, and it goes last")
            && said.contains("https://10.231.0.12:8200, https://10.231.0.13:8200"),
        "{said}"
    );
    nothing_in_aws().await;
    // A standby while another node is down: the cluster would lose its quorum.
    three.host.sh(&format!("systemctl stop {UNIT}"));
    let refused = migrate(two);
    let said = common::output_text(&refused);
    assert!(!refused.status.success(), "{said}");
    assert!(
        said.contains("keeps its quorum only while 2 of its 3 nodes are unsealed: without this one, only 1")
            && said.contains("https://10.231.0.13:8200 ("),
        "{said}"
    );
    nothing_in_aws().await;
    three.host.sh(&format!("systemctl start {UNIT}"));
    three.api.wait_for("answering", |_| true).await;
    three.api.unseal(&keys[..2]).await;

    // Standby 2 makes the key, the policy and the cluster file; then standby 3 with the
    // file; then the active node 1. Each says what comes next.
    let said = migrated(two);
    assert!(
        said.contains("next: migrate the standby https://10.231.0.13:8200")
            && said.contains("the active node https://10.231.0.11:8200 last"),
        "{said}"
    );
    // Said with the paths the packaged unit gave, before and after.
    assert!(
        said.contains("stanza into /etc/openbao/openbao.hcl")
            && said.contains("credentials:  /etc/openbao/openbao.env (mode 0600)"),
        "{said}"
    );
    // Standby 3 with its own answers, which would make a second key: refused.
    let refused = migrate(three);
    let said = common::output_text(&refused);
    assert!(
        !refused.status.success()
            && said.contains("https://10.231.0.12:8200 is already on the awskms seal, with the cluster's KMS key"),
        "{said}"
    );
    assert_eq!(ctx.kms.list_keys().send().await.unwrap().keys().len(), 1);
    let cluster_file = two.state.join("cluster.toml");
    let listed = std::fs::read_to_string(&cluster_file).unwrap();
    assert!(listed.contains("node_id = \"autounseal-2\""), "{listed}");
    for op in [three, one] {
        let copied = op.state.join("cluster.toml");
        std::fs::copy(&cluster_file, &copied).unwrap();
        let mut a: Answers = toml::from_str(&std::fs::read_to_string(&op.answers_file).unwrap()).unwrap();
        a.cluster.peers.clear();
        a.cluster.join = Some(copied);
        std::fs::write(&op.answers_file, a.to_toml()).unwrap();
    }
    // Standby 3's operator uses the wizard, at 80x24: "join a cluster" with the file,
    // "move it to AWS KMS", the keys typed into masked fields.
    wizard_migrates(three, &keys[..2]);
    let said = migrated(one);
    assert!(
        said.contains("every node of the cluster is on the awskms seal"),
        "{said}"
    );

    let all = [one, two, three];
    for op in &all {
        let status = common::wait_unsealed(&op.api.client()).await;
        assert!(status.seal_type == "awskms" && status.recovery_seal, "{status:?}");
    }
    let active = the_active(&all).await;
    assert_eq!(
        all[active].api.read_secret(&root).await,
        common::shamir::SECRET,
        "the data came along"
    );
    // Every host rebooted at once: all unsealed through KMS, no key typed.
    for op in &all {
        op.host.sh(&format!("systemctl stop {UNIT}"));
    }
    for op in &all {
        op.host.sh(&format!("systemctl start --no-block {UNIT}"));
    }
    for op in &all {
        let status = common::wait_unsealed(&op.api.client()).await;
        assert_eq!(status.seal_type, "awskms");
    }
    let active = the_active(&all).await;
    assert_eq!(all[active].api.read_secret(&root).await, common::shamir::SECRET);
    // The old unseal keys are the recovery keys now: they complete generate-root.
    common::shamir::generate_root_with(&all[active].api, &root, &keys[..2]).await;

    // The standbys' proofs waited for the cluster's seal to move: a second run, with no
    // key, makes them; then doctor is all ok on every host.
    for op in [two, three] {
        let said = op.ok(&["apply", "--yes", "--answers", op.answers_file.to_str().unwrap()]);
        assert!(said.contains("Restart check"), "{said}");
    }
    for op in &all {
        let out = op.run(&["doctor"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}: {}",
            op.api.address,
            common::output_text(&out)
        );
    }
    // One node is not destroyed alone: it would put back its Shamir config under a
    // cluster the key seals.
    let alone = one.run(&["destroy", "--yes"]);
    let said = common::output_text(&alone);
    assert!(
        !alone.status.success() && said.contains("Shamir config, with which it cannot start again"),
        "{said}"
    );
    assert!(one.host.file("/etc/openbao/openbao.env").exists());

    // The way back, node by node: the active node first is refused.
    let back = ["destroy", "--yes", "--migrate-back", "--recovery-keys-file", keys_arg];
    let active = all[the_active(&all).await];
    let refused = active.run(&back);
    let said = common::output_text(&refused);
    assert!(
        !refused.status.success() && said.contains("is the cluster's active node, and it goes last. Take back"),
        "{said}"
    );
    // The standbys: each unsealed on Shamir, waiting for the active node; nothing removed.
    let standbys: Vec<&Operator> = all
        .iter()
        .copied()
        .filter(|op| op.api.address != active.api.address)
        .collect();
    for op in &standbys {
        let said = op.ok(&back);
        assert!(said.contains("Not destroyed yet"), "{said}");
        assert!(op.host.file("/etc/openbao/openbao.env").exists());
    }
    // The active node last: its restart hands the active role to a standby, which moves
    // the cluster's seal back; its own destroy goes through.
    let said = active.ok(&back);
    assert!(said.contains("back on Shamir") && said.contains("Destroyed."), "{said}");
    // The standbys again, the key's owner (host 2) last: they finish.
    let mut rest = standbys.clone();
    rest.sort_by_key(|op| op.api.address == two.api.address);
    for op in rest {
        let said = op.ok(&back);
        assert!(said.contains("back on Shamir") && said.contains("Destroyed."), "{said}");
    }
    // Shamir everywhere with the data, each config as its operator wrote it, AWS clean.
    for (i, op) in all.iter().enumerate() {
        let status = op.api.status().await;
        assert_eq!(
            (status.seal_type.as_str(), status.sealed),
            ("shamir", false),
            "{}",
            op.api.address
        );
        assert_eq!(
            std::fs::read_to_string(op.host.file("/etc/openbao/openbao.hcl")).unwrap(),
            shamir_config(op.host, i as u8 + 1, hosts),
            "{}",
            op.api.address
        );
        assert!(!op.host.file("/etc/openbao/openbao.env").exists());
    }
    let active = the_active(&all).await;
    assert_eq!(all[active].api.read_secret(&root).await, common::shamir::SECRET);
    let keys = ctx.kms.list_keys().send().await.unwrap();
    common::aws_is_clean(&ctx, keys.keys()[0].key_arn().unwrap()).await;
}
