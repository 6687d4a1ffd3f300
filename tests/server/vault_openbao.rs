//! The Vault side against the real OpenBao server and moto: config, launch, init,
//! and the proof that the server unseals itself after a restart.

use crate::common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use autounseal::answers::Answers;
use autounseal::credentials_file;
use autounseal::run::ApplyOptions;
use autounseal::run::{ManifestStore, Reporter};
use autounseal::vault::client::VaultClient;
use autounseal::vault::config;
use autounseal::vault::deploy::{Checked, Deployer, KeysDestination};
use autounseal::vault::launch;
use autounseal::vault::server;
use common::{Moto, ServerGuard, assert_nothing_created, bao, context, isolate, server_answers, wait_unsealed};

fn run_apply(answers: &Answers, dir: &Path) -> Output {
    let file = dir.join("answers.toml");
    std::fs::write(&file, answers.to_toml()).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_autounseal"));
    isolate(&mut cmd, &dir.join("state"));
    cmd.env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing");
    cmd.args(["apply", "--yes", "--answers"]).arg(&file).output().unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn destroy(dir: &Path) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_autounseal"));
    isolate(&mut cmd, &dir.join("state"));
    cmd.env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing");
    // Its servers hold only test data: destroy may strand it.
    cmd.args(["destroy", "--yes", "--force"]).output().unwrap()
}

/// The pid of the background server the manifest in `dir/state` records.
fn server_pid(dir: &Path) -> u32 {
    let record = ManifestStore::open(&dir.join("state")).unwrap().snapshot().server;
    record.and_then(|s| s.pid).expect("a background server is recorded")
}

#[tokio::test]
async fn apply_ends_with_an_initialised_server_that_unseals_itself() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let a = server_answers(&moto, dir.path());
    let out = run_apply(&a, dir.path());
    let output = text(&out);
    assert!(out.status.success(), "{output}");
    assert!(
        output.contains("ok   Restart check: restarted and unsealed itself"),
        "{output}"
    );
    // Both proofs recorded; a re-run with nothing to change restarts nothing, and says why.
    let server = ManifestStore::open(&dir.path().join("state"))
        .unwrap()
        .snapshot()
        .server
        .unwrap();
    let proofs = server.proofs.clone().unwrap();
    assert!(
        proofs.seal_verified.is_some() && proofs.restart_checked.is_some(),
        "{proofs:?}"
    );
    let again = run_apply(&a, dir.path());
    let said = text(&again);
    assert!(again.status.success(), "{said}");
    assert!(
        said.contains("Restart check: not restarted again: its restart check passed at"),
        "{said}"
    );
    let after = ManifestStore::open(&dir.path().join("state"))
        .unwrap()
        .snapshot()
        .server
        .unwrap();
    assert_eq!(after.pid, server.pid, "the same server process");
    // A file it reads changed: the next run restarts it to read it, and proves it again.
    let env = std::fs::read_to_string(&a.output.env_file).unwrap();
    std::fs::write(&a.output.env_file, format!("{env}\n")).unwrap();
    let changed = run_apply(&a, dir.path());
    let said = text(&changed);
    assert!(
        said.contains("ok   Restart check: restarted and unsealed itself"),
        "{said}"
    );

    // The config parses and holds the seal stanza, with no credentials in it.
    let hcl_text = std::fs::read_to_string(&a.output.vault_config).unwrap();
    let cfg: serde_json::Value = hcl::from_str(&hcl_text).unwrap();
    let store = ManifestStore::open(&dir.path().join("state")).unwrap();
    let key = store.snapshot().kms_key.unwrap();
    assert_eq!(cfg["seal"]["awskms"]["region"], "eu-west-1");
    assert_eq!(cfg["seal"]["awskms"]["kms_key_id"], key.arn.as_str());
    assert_eq!(cfg["seal"]["awskms"]["endpoint"], moto.url.as_str());
    assert!(cfg["seal"]["awskms"].get("secret_key").is_none() && cfg["seal"]["awskms"].get("access_key").is_none());

    // The server itself says: awskms, initialised, unsealed.
    let client = VaultClient::new(&config::api_addr(&a), None).unwrap();
    let status = client.seal_status().await.unwrap();
    assert_eq!(
        (status.seal_type.as_str(), status.initialized, status.sealed),
        ("awskms", true, false)
    );
    assert!(status.recovery_seal);

    // Three recovery keys (not unseal keys) and a root token, in a 0600 file.
    let keys_file = a.init.recovery_keys_file.clone().unwrap();
    assert_eq!(
        std::fs::metadata(&keys_file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let keys_text = std::fs::read_to_string(&keys_file).unwrap();
    let recovery: Vec<&str> = keys_text
        .lines()
        .filter_map(|l| l.strip_prefix("Recovery Key "))
        .map(|l| l.split_once(": ").unwrap().1)
        .collect();
    assert_eq!(recovery.len(), 3);
    let root_token = keys_text
        .lines()
        .find_map(|l| l.strip_prefix("Initial Root Token: "))
        .unwrap();

    // Our own restart, outside autounseal: kill it and start it with only the env file.
    let pid = store.snapshot().server.unwrap().pid.unwrap();
    assert!(launch::stop_background(pid, Duration::from_secs(15)));
    assert!(client.seal_status().await.is_err(), "it is down");
    let mut again = Command::new(bao());
    again
        .arg("server")
        .arg(format!("-config={}", a.output.vault_config.display()));
    isolate(&mut again, &dir.path().join("state"));
    for (k, v) in credentials_file::read_env_vars(&a.output.env_file).unwrap() {
        again.env(k, v.as_str());
    }
    let mut child = again
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let status = wait_unsealed(&client).await;
    assert_eq!(status.seal_type, "awskms", "unsealed again with no key entered");
    child.kill().unwrap();
    child.wait().unwrap();

    // No secret in the manifest, the state folder's logs or the tool's output.
    let secret_key = credentials_file::read_env_key(&a.output.env_file).unwrap();
    let mut secrets: Vec<&str> = recovery.clone();
    secrets.push(root_token);
    secrets.push(secret_key.expose_secret());
    for entry in std::fs::read_dir(dir.path().join("state")).unwrap() {
        let path = entry.unwrap().path();
        let content = std::fs::read_to_string(&path).unwrap_or_default();
        for s in &secrets {
            assert!(!content.contains(s), "a secret is in {}", path.display());
        }
    }
    for s in &secrets {
        assert!(!output.contains(s), "a secret is in the output");
    }

    // destroy stops nothing left (we killed it) and removes our files, keeping the keys file.
    let out = destroy(dir.path());
    assert!(out.status.success(), "{}", text(&out));
    assert!(!a.output.vault_config.exists() && !a.output.env_file.exists());
    assert!(keys_file.exists(), "the recovery keys are the operator's to move");
}

#[tokio::test]
async fn a_second_apply_finds_the_server_initialised_and_leaves_it() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let mut a = server_answers(&moto, dir.path());
    let _guard = ServerGuard(dir.path().join("state"));
    assert!(run_apply(&a, dir.path()).status.success());
    let pid = server_pid(dir.path());

    a.init.recovery_keys_file = Some(dir.path().join("other-keys.txt"));
    let out = run_apply(&a, dir.path());
    let output = text(&out);
    assert!(out.status.success(), "{output}");
    assert!(
        output.contains("Initialize: already initialised by autounseal earlier"),
        "{output}"
    );
    assert!(!dir.path().join("other-keys.txt").exists(), "no new keys");
    // destroy stops the background server it started.
    let out = destroy(dir.path());
    assert!(text(&out).contains("Stop server: stopped pid"), "{}", text(&out));
    let pid_now = ManifestStore::open(&dir.path().join("state"))
        .unwrap()
        .snapshot()
        .server;
    assert!(pid_now.is_none());
    assert!(
        !launch::is_running(pid) || {
            std::thread::sleep(Duration::from_secs(1));
            !launch::is_running(pid)
        }
    );
}

/// The server autounseal manages died (a crash, KMS gone while it started): the next
/// apply starts it again and goes on, rather than wait for a server that is gone.
#[tokio::test]
async fn a_rerun_restarts_the_server_it_manages_when_it_is_gone() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let a = server_answers(&moto, dir.path());
    let _guard = ServerGuard(dir.path().join("state"));
    assert!(run_apply(&a, dir.path()).status.success());
    let pid = server_pid(dir.path());
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    while launch::is_running(pid) {
        std::thread::sleep(Duration::from_millis(50));
    }

    let out = run_apply(&a, dir.path());
    let output = text(&out);
    assert!(out.status.success(), "{output}");
    assert!(output.contains("ok   Start server: pid"), "started again:\n{output}");
    assert!(
        !output.contains("journalctl"),
        "no hint of another launch mode:\n{output}"
    );
    let client = VaultClient::new(&config::api_addr(&a), None).unwrap();
    assert_eq!(wait_unsealed(&client).await.seal_type, "awskms");
}

/// The steps named by an apply's progress lines (`  ok   KMS key: created …`).
fn reported_steps(output: &str) -> Vec<String> {
    output
        .lines()
        .filter_map(|l| {
            ["  ok   ", "  --   ", "  ..   ", "  FAIL "]
                .iter()
                .find_map(|p| l.strip_prefix(p))
        })
        .map(|rest| rest.split([':', '(']).next().unwrap_or(rest).trim().to_string())
        .collect()
}

#[tokio::test]
async fn every_step_an_apply_reports_is_a_row_of_the_run_screen() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let a = server_answers(&moto, dir.path());
    let _guard = ServerGuard(dir.path().join("state"));
    let out = run_apply(&a, dir.path());
    let said = text(&out);
    assert!(out.status.success(), "{said}");

    let rows: Vec<&str> = autounseal::tui::screens::run::steps(&a)
        .iter()
        .map(|s| s.label())
        .collect();
    let reported = reported_steps(&said);
    for step in &reported {
        assert!(
            rows.contains(&step.as_str()),
            "{step} is no row of the Run screen: {said}"
        );
    }
    for row in &rows {
        assert!(
            reported.iter().any(|s| s == row),
            "the apply said nothing of {row}: {said}"
        );
    }
}

#[tokio::test]
async fn a_missing_server_binary_stops_the_run_before_aws() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let mut a = server_answers(&moto, dir.path());
    a.server.binary = "no-such-vault-binary".into();
    let out = run_apply(&a, dir.path());
    let msg = text(&out);
    assert!(!out.status.success());
    assert!(
        msg.contains("\"no-such-vault-binary\" was not found") && msg.contains("server.binary"),
        "{msg}"
    );
    assert_nothing_created(&moto, dir.path()).await;
}

#[tokio::test]
async fn a_taken_port_stops_the_run_before_aws() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let a = server_answers(&moto, dir.path());
    let _held = std::net::TcpListener::bind(&a.server.listen).unwrap();
    let out = run_apply(&a, dir.path());
    let msg = text(&out);
    assert!(!out.status.success());
    assert!(msg.contains(&format!("{} is already in use", a.server.listen)), "{msg}");
    assert_nothing_created(&moto, dir.path()).await;
}

#[tokio::test]
async fn a_kms_key_the_credentials_cannot_use_is_reported_with_the_servers_words() {
    // moto enforces IAM policies after its first four requests (the setup below).
    let moto = Moto::with_auth_after(4);
    let dir = tempfile::tempdir().unwrap();
    let a = server_answers(&moto, dir.path());
    let ctx = context(&a).await;
    let key = ctx.kms.create_key().send().await.unwrap().key_metadata.unwrap();
    ctx.iam.create_user().user_name("not-for-kms").send().await.unwrap();
    let access = ctx
        .iam
        .create_access_key()
        .user_name("not-for-kms")
        .send()
        .await
        .unwrap()
        .access_key
        .unwrap();
    let no_kms =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:GetCallerIdentity","Resource":"*"}]}"#;
    ctx.iam
        .put_user_policy()
        .user_name("not-for-kms")
        .policy_name("no-kms")
        .policy_document(no_kms)
        .send()
        .await
        .unwrap();
    std::fs::create_dir_all(a.output.env_file.parent().unwrap()).unwrap();
    let env = format!(
        "AWS_ACCESS_KEY_ID={}\nAWS_SECRET_ACCESS_KEY={}\nAWS_REGION=eu-west-1\n",
        access.access_key_id(),
        access.secret_access_key()
    );
    std::fs::write(&a.output.env_file, env).unwrap();

    let state = dir.path().join("state");
    let _guard = ServerGuard(state.clone());
    let store = ManifestStore::open(&state).unwrap();
    let binary = server::find(&bao().to_string_lossy()).unwrap();
    let keys = KeysDestination::File(a.init.recovery_keys_file.clone().unwrap());
    let deployer = Deployer::new(
        &a,
        &store,
        Reporter::silent(),
        &state,
        ApplyOptions::default(),
        Checked {
            binary: Some(binary),
            plugin: None,
        },
        keys,
    );
    let record = autounseal::run::manifest::KeyRecord {
        key_id: key.key_id.clone(),
        arn: key.arn.clone().unwrap(),
        origin: autounseal::run::Origin::Reused,
    };
    let err = deployer
        .run(&autounseal::run::Applied::Done(record))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("exited while starting") && err.contains("Error configuring seal \"awskms\""),
        "{err}"
    );
    assert!(err.contains("AccessDenied: User: arn:aws:iam::123456789012:user/not-for-kms is not authorized to perform: kms:DescribeKey"), "{err}");
    assert!(
        err.contains("may not use the KMS key") && err.contains("vault.env"),
        "{err}"
    );
    assert!(
        !a.init.recovery_keys_file.as_ref().unwrap().exists(),
        "no keys: nothing was initialised"
    );
    let rep = Reporter::silent();
    let recorder = autounseal::run::Recorder::new(rep.clone(), &store, false);
    autounseal::vault::deploy::stop_server(&recorder, &store, &rep)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_headless_init_with_nowhere_safe_for_the_keys_is_refused_up_front() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let mut a = server_answers(&moto, dir.path());
    a.init.recovery_keys_file = None;
    let out = run_apply(&a, dir.path());
    let msg = text(&out);
    assert!(!out.status.success());
    assert!(
        msg.contains("init.recovery_keys_file") && msg.contains("refuses to initialise"),
        "{msg}"
    );
    assert_nothing_created(&moto, dir.path()).await;
}

/// A public PGP key made by gpg in a folder of the test's own.
fn pgp_public_key(dir: &Path) -> std::path::PathBuf {
    let home = dir.join("gnupg");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).unwrap();
    let gpg = |args: &[&str]| {
        let out = Command::new("gpg")
            .env("GNUPGHOME", &home)
            .args(["--batch", "--pinentry-mode", "loopback", "--passphrase", ""])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "gpg {args:?}: {}", text(&out));
        out.stdout
    };
    // An RSA key with an encryption subkey, as the server's OpenPGP library wants one.
    gpg(&[
        "--quick-gen-key",
        "autounseal test <test@example.invalid>",
        "rsa2048",
        "sign",
        "never",
    ]);
    let listed = String::from_utf8(gpg(&["--with-colons", "--list-keys", "test@example.invalid"])).unwrap();
    let fingerprint = listed
        .lines()
        .find_map(|l| l.strip_prefix("fpr:"))
        .and_then(|rest| rest.split(':').find(|f| !f.is_empty()))
        .unwrap()
        .to_string();
    gpg(&["--quick-add-key", &fingerprint, "rsa2048", "encr", "never"]);
    let key = dir.join("operator.gpg");
    std::fs::write(&key, gpg(&["--export", "test@example.invalid"])).unwrap();
    let _ = Command::new("gpgconf")
        .env("GNUPGHOME", &home)
        .args(["--kill", "all"])
        .output();
    key
}

/// A headless run with PGP keys and no keys file that fails after init (the emulator
/// out of reach when the restart check starts the server again) keeps the encrypted
/// keys init handed back: a new 0600 file in the state folder, named on exit, recorded.
#[tokio::test]
async fn a_headless_run_that_fails_after_init_keeps_the_encrypted_keys() {
    use common::proxy::Proxy;
    use std::process::Stdio;
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let _guard = ServerGuard(d.join("state"));
    let proxy = Proxy::start(moto.port);
    let mut a = server_answers(&moto, d);
    a.endpoint_url = Some(proxy.url.clone());
    a.timing.server_start_timeout_secs = 8;
    let key = pgp_public_key(d);
    a.init.recovery_keys_file = None;
    a.init.recovery_shares = 1;
    a.init.recovery_threshold = 1;
    a.init.recovery_pgp_keys = vec![key.clone()];
    a.init.root_token_pgp_key = Some(key);
    let file = d.join("answers.toml");
    std::fs::write(&file, a.to_toml()).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_autounseal"));
    isolate(&mut cmd, &d.join("state"));
    let mut child = cmd
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AUTOUNSEAL_TEST_PAUSE", "initialized")
        .args(["apply", "--yes", "--answers"])
        .arg(&file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let stopped = || {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|s| s.rsplit_once(')').is_some_and(|(_, r)| r.trim_start().starts_with('T')))
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    while !stopped() {
        if child.try_wait().unwrap().is_some() {
            panic!("apply ended before init: {}", text(&child.wait_with_output().unwrap()));
        }
        assert!(std::time::Instant::now() < deadline, "apply never reached init");
        std::thread::sleep(Duration::from_millis(50));
    }
    // KMS out of reach from now on: the restarted server cannot unseal.
    proxy.cut();
    unsafe { libc::kill(pid as i32, libc::SIGCONT) };
    let out = child.wait_with_output().unwrap();
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    let saved: Vec<std::path::PathBuf> = std::fs::read_dir(d.join("state"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("recovery-keys-"))
        .collect();
    assert_eq!(saved.len(), 1, "{said}");
    let name = saved[0].file_name().unwrap().to_string_lossy().into_owned();
    // recovery-keys-2026-12-06T16-21-07Z.txt
    assert!(
        name.len() == "recovery-keys-2026-12-06T16-21-07Z.txt".len() && name.ends_with("Z.txt"),
        "{name}"
    );
    assert!(said.contains(&format!("saved in {}", saved[0].display())), "{said}");
    let meta = std::fs::metadata(&saved[0]).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let keys = std::fs::read_to_string(&saved[0]).unwrap();
    assert!(
        keys.contains("Recovery Key 1: ") && keys.contains("Initial Root Token: "),
        "{keys}"
    );
    let manifest = ManifestStore::open(&d.join("state")).unwrap().snapshot();
    assert!(
        manifest
            .file(autounseal::run::manifest::FileRole::UnconfirmedRecoveryKeys)
            .is_some_and(|f| f.path == saved[0])
    );
    proxy.reconnect();
}
