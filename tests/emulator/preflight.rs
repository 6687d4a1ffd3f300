//! What must be right before AWS is touched, and where AWS is: the real binary against
//! moto (and OpenBao's binary for the checks that read it), each case refused with a
//! message that says what to do, with nothing created in the emulator.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use autounseal::answers::{Answers, Launch};
use common::{Moto, context, isolate, server_answers};

fn autounseal(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_autounseal"));
    isolate(&mut cmd, &dir.join("state"));
    cmd.env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing");
    cmd
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn answers_file(dir: &Path, a: &Answers) -> PathBuf {
    let file = dir.join("answers.toml");
    std::fs::write(&file, a.to_toml()).unwrap();
    file
}

fn apply(dir: &Path, a: &Answers) -> Output {
    let file = answers_file(dir, a);
    autounseal(dir)
        .args(["apply", "--yes", "--answers"])
        .arg(&file)
        .output()
        .unwrap()
}

async fn assert_no_key_in(moto: &Moto, dir: &Path) {
    let ctx = context(&common::answers(moto, dir)).await;
    let keys = ctx.kms.list_keys().send().await.unwrap();
    assert_eq!(keys.keys().len(), 0, "no KMS key was created");
}

/// `apply` fails, and says `why`.
fn assert_refused(dir: &Path, a: &Answers, why: &str) {
    let out = apply(dir, a);
    let said = text(&out);
    assert!(!out.status.success() && said.contains(why), "{said}");
}

/// `plan` fails as `apply` would, and says `why`.
fn assert_plan_refused(dir: &Path, a: &Answers, why: &str) {
    let file = answers_file(dir, a);
    let out = autounseal(dir).args(["plan", "--answers"]).arg(&file).output().unwrap();
    let said = text(&out);
    assert!(!out.status.success() && said.contains(why), "{said}");
}

/// Two key pairs by openssl: the certificate of one with the key of the other must fail.
fn tls_pair(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let cert = dir.join(format!("{name}.crt"));
    let key = dir.join(format!("{name}.key"));
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "1",
        ])
        .args(["-subj", "/CN=127.0.0.1", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    (cert, key)
}

#[tokio::test]
async fn tls_files_are_checked_before_aws() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut a = server_answers(&moto, d);
    a.server.tls_disable = false;
    a.server.tls_cert_file = Some("/nope/cert.pem".into());
    a.server.tls_key_file = Some("/nope/key.pem".into());
    assert_refused(d, &a, "the TLS certificate /nope/cert.pem cannot be read");

    let (cert, _) = tls_pair(d, "one");
    let (_, other_key) = tls_pair(d, "two");
    a.server.tls_cert_file = Some(cert.clone());
    a.server.tls_key_file = Some(other_key);
    assert_refused(d, &a, "does not belong to the certificate");

    let not_pem = d.join("not.pem");
    std::fs::write(&not_pem, "hello").unwrap();
    a.server.tls_key_file = Some(not_pem);
    assert_refused(d, &a, "is not a PEM private key");

    a.server.tls_disable = true;
    a.server.ca_cert = Some(d.join("missing-ca.pem"));
    assert_refused(d, &a, "the CA bundle");
    assert_no_key_in(&moto, d).await;
}

#[tokio::test]
async fn storage_and_pgp_keys_are_checked_before_aws() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut a = server_answers(&moto, d);

    // Data of another server, e.g. one set up by a run since destroyed.
    std::fs::create_dir_all(&a.server.storage_path).unwrap();
    std::fs::write(a.server.storage_path.join("vault.db"), "raft").unwrap();
    assert_refused(d, &a, "already holds data");

    let file = d.join("a-file");
    std::fs::write(&file, "x").unwrap();
    a.server.storage_path = file.join("data");
    assert_refused(d, &a, "is a file");

    a.server.storage_path = d.join("fresh");
    let pgp = d.join("key.b64");
    std::fs::write(&pgp, "aGVsbG8gd29ybGQ=\n").unwrap();
    a.init.recovery_shares = 1;
    a.init.recovery_threshold = 1;
    a.init.recovery_pgp_keys = vec![pgp];
    assert_refused(d, &a, "is not an OpenPGP public key");
    assert_no_key_in(&moto, d).await;
}

#[tokio::test]
async fn a_plan_runs_the_checks_the_apply_runs() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let a = server_answers(&moto, d);
    {
        // The port check's own answer, not a plan's guess.
        let _held = std::net::TcpListener::bind(&a.server.listen).unwrap();
        assert_plan_refused(d, &a, &format!("{} is already in use", a.server.listen));
    }
    let folder = d.join("a-folder");
    std::fs::create_dir_all(&folder).unwrap();
    let mut config_on_a_folder = a.clone();
    config_on_a_folder.output.vault_config = folder.clone();
    assert_plan_refused(d, &config_on_a_folder, &format!("{} is a folder", folder.display()));
    let mut credentials_on_a_folder = a.clone();
    credentials_on_a_folder.output.env_file = folder.clone();
    assert_plan_refused(
        d,
        &credentials_on_a_folder,
        &format!("{} is a folder", folder.display()),
    );

    let mut not_a_pgp_key = a.clone();
    let pgp = d.join("key.b64");
    std::fs::write(&pgp, "aGVsbG8gd29ybGQ=\n").unwrap();
    not_a_pgp_key.init.recovery_shares = 1;
    not_a_pgp_key.init.recovery_threshold = 1;
    not_a_pgp_key.init.recovery_pgp_keys = vec![pgp];
    assert_plan_refused(d, &not_a_pgp_key, "is not an OpenPGP public key");

    // With all of it right, the same plan goes through, and changes nothing.
    let file = answers_file(d, &a);
    let out = autounseal(d).args(["plan", "--answers"]).arg(&file).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_no_key_in(&moto, d).await;
}

#[tokio::test]
async fn two_outputs_on_one_path_are_refused() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut a = server_answers(&moto, d);
    a.output.vault_config = a.output.env_file.clone();
    let out = apply(d, &a);
    let msg = text(&out);
    assert!(
        msg.contains("output.vault_config") && msg.contains("is also output.env_file"),
        "{msg}"
    );
    let mut a = server_answers(&moto, d);
    a.init.recovery_keys_file = Some(a.server.storage_path.join("keys.txt"));
    assert_refused(d, &a, "is inside server.storage_path");
    assert_no_key_in(&moto, d).await;
}

#[tokio::test]
async fn an_endpoint_from_the_environment_reaches_the_seal() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut a = common::answers(&moto, d);
    // Not in the answers: only AWS_ENDPOINT_URL says where AWS is.
    a.endpoint_url = None;
    let file = answers_file(d, &a);
    let out = autounseal(d)
        .env("AWS_ENDPOINT_URL", &moto.url)
        .args(["apply", "--yes", "--answers"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let config: serde_json::Value = hcl::from_str(&std::fs::read_to_string(&a.output.vault_config).unwrap()).unwrap();
    assert_eq!(config["seal"]["awskms"]["endpoint"], moto.url.as_str());

    // A KMS-only endpoint wins over the general one, as the SDK has it.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut a = common::answers(&moto, d);
    a.endpoint_url = None;
    let file = answers_file(d, &a);
    let out = autounseal(d)
        .env("AWS_ENDPOINT_URL", &moto.url)
        .env("AWS_ENDPOINT_URL_KMS", moto.url.replace("127.0.0.1", "localhost"))
        .args(["plan", "--answers"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("KMS endpoint: {}", moto.url.replace("127.0.0.1", "localhost"))),
        "{}",
        text(&out)
    );
}

#[tokio::test]
async fn a_chosen_profile_wins_over_credentials_in_the_environment() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let a = common::answers(&moto, d);
    // A second identity in the emulator, reachable only through the profile.
    let ctx = context(&a).await;
    ctx.iam.create_user().user_name("prod-operator").send().await.unwrap();
    let key = ctx
        .iam
        .create_access_key()
        .user_name("prod-operator")
        .send()
        .await
        .unwrap()
        .access_key
        .unwrap();
    let credentials = d.join("credentials");
    std::fs::write(
        &credentials,
        format!(
            "[prod]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            key.access_key_id(),
            key.secret_access_key()
        ),
    )
    .unwrap();
    let file = answers_file(d, &a);
    let plan = |profile: &str| {
        autounseal(d)
            .env("AWS_SHARED_CREDENTIALS_FILE", &credentials)
            .args(["plan", "--profile", profile, "--answers"])
            .arg(&file)
            .output()
            .unwrap()
    };
    let out = plan("prod");
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("user/prod-operator"), "{}", text(&out));
    let out = plan("nope");
    assert!(!out.status.success());
    assert!(text(&out).contains("the profile \"nope\""), "{}", text(&out));
}

#[test]
fn a_closed_pipe_ends_a_listing_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = autounseal(dir.path())
        .arg("regions")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The reader goes away before the listing is written, as `| head -0` would.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
        "{stderr}"
    );
    assert_eq!(out.status.code(), Some(141));
}

#[test]
fn a_missing_systemd_unit_is_refused_before_aws() {
    // No systemd runs here outside the sandbox: systemctl cannot answer, and the run
    // stops before AWS with what to choose instead.
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut a = server_answers(&moto, d);
    a.server.launch = Launch::Systemd;
    let file = answers_file(d, &a);
    let out = autounseal(d).args(["plan", "--answers"]).arg(&file).output().unwrap();
    assert!(!out.status.success());
    let msg = text(&out);
    assert!(
        msg.contains("openbao.service") && msg.contains("server.launch = \"background\""),
        "{msg}"
    );
}

/// An output path under a file (`/etc/hostname/vault.hcl`) is refused by `plan` and
/// `apply` before AWS, for each file autounseal writes.
#[tokio::test]
async fn a_path_under_a_file_is_refused_before_aws() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let a = server_answers(&moto, d);
    let file = d.join("hostname");
    std::fs::write(&file, "host\n").unwrap();
    let why = format!("{} is not a folder", file.display());
    let mut config = a.clone();
    config.output.vault_config = file.join("vault.hcl");
    let mut env = a.clone();
    env.output.env_file = file.join("vault.env");
    let mut keys = a.clone();
    keys.init.recovery_keys_file = Some(file.join("keys/recovery.txt"));
    for a in [config, env, keys] {
        assert_plan_refused(d, &a, &why);
        assert_refused(d, &a, &why);
    }
    assert_no_key_in(&moto, d).await;
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "host\n");
}

/// A server binary that hangs on `version`, or prints without end, is refused within
/// the probe's limit with its name, before AWS; and a SIGTERM while the probe runs ends
/// `apply` at once, the probe (and what it started) with it.
#[tokio::test]
async fn a_binary_that_hangs_or_floods_is_refused_and_a_signal_ends_the_probe() {
    use std::os::unix::fs::PermissionsExt;
    use std::time::{Duration, Instant};
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let script = |name: &str, body: &str| {
        let path = d.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    };
    let mut a = server_answers(&moto, d);
    a.server.binary = "/usr/bin/yes".into();
    let started = Instant::now();
    assert_refused(
        d,
        &a,
        "`version`: /usr/bin/yes printed more than 64 KiB, so it was stopped",
    );
    assert!(started.elapsed() < Duration::from_secs(30));

    let pid_file = d.join("sleep.pid");
    a.server.binary = script(
        "sleepy-vault",
        &format!("sleep 300 & echo $! > {}; wait", pid_file.display()),
    )
    .to_string_lossy()
    .into_owned();
    let started = Instant::now();
    assert_refused(d, &a, "sleepy-vault did not finish within 10 s, so it was stopped");
    assert!(started.elapsed() < Duration::from_secs(30));
    let sleeper = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse::<u32>()
        .unwrap();
    assert!(
        !autounseal::vault::launch::is_running(sleeper),
        "the probe's child is gone"
    );

    // SIGTERM while the probe hangs: apply ends at once, and so does the probe.
    std::fs::remove_file(&pid_file).unwrap();
    let file = answers_file(d, &a);
    let child = autounseal(d)
        .args(["apply", "--yes", "--answers"])
        .arg(&file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !pid_file.exists() {
        assert!(Instant::now() < deadline, "the probe never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(100));
    let signalled = Instant::now();
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let out = child.wait_with_output().unwrap();
    assert!(signalled.elapsed() < Duration::from_secs(3), "it waited for the probe");
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(said.contains("stopped (SIGTERM) while asking"), "{said}");
    let sleeper = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse::<u32>()
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        !autounseal::vault::launch::is_running(sleeper),
        "the probe's child is gone"
    );
    assert_no_key_in(&moto, d).await;
}
