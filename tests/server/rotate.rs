//! `autounseal rotate` against a real setup: moto checking credentials and policies (so a
//! deleted or inactive key is really refused), OpenBao 2.6.2 started in the background by
//! `apply`. The rotation, then its faults: the emulator out of reach mid-rotation, a
//! server that does not come back on the new key, a user who already holds two keys.

use crate::common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use autounseal::answers::Answers;
use autounseal::aws::AwsContext;
use autounseal::rotate::RotateOptions;
use autounseal::run::{Event, Manifest, ManifestStore, Reporter};
use autounseal::vault::client::VaultClient;
use autounseal::vault::{config, launch};
use common::proxy::Proxy;
use common::{Moto, ServerGuard, context, context_as, isolate, server_answers};

/// A finished `apply` (background launch) by an operator who is a real IAM user of moto,
/// and moto checking every request's credentials from then on.
struct Setup {
    /// First, so that it is dropped first: it reads the manifest in `dir` to stop the server.
    _guard: ServerGuard,
    moto: Moto,
    dir: tempfile::TempDir,
    answers: Answers,
    operator: AwsContext,
    operator_key: (String, String),
}

impl Setup {
    async fn new() -> Setup {
        Setup::with(|_| {}).await
    }

    /// A setup whose answers `change` made first (the credentials style, say).
    async fn with(change: impl FnOnce(&mut Answers)) -> Setup {
        let moto = Moto::start();
        let dir = tempfile::tempdir().unwrap();
        let mut answers = server_answers(&moto, dir.path());
        change(&mut answers);
        let (operator, operator_key) = common::operator(&answers).await;
        let setup = Setup {
            _guard: ServerGuard(dir.path().join("state")),
            moto,
            dir,
            answers,
            operator,
            operator_key,
        };
        let file = setup.dir.path().join("answers.toml");
        std::fs::write(&file, setup.answers.to_toml()).unwrap();
        let out = setup.run(&["apply", "--yes", "--answers", &file.to_string_lossy()]);
        assert!(out.status.success(), "{}", text(&out));
        common::let_moto_pass_kms_calls(&setup.operator, &setup.answers.iam.user_name).await;
        setup.moto.enforce_auth().await;
        setup.restart_server().await;
        setup
    }

    fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    fn manifest(&self) -> Manifest {
        ManifestStore::open(&self.state()).unwrap().snapshot()
    }

    fn run(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_autounseal"));
        isolate(&mut cmd, &self.state());
        cmd.env("AWS_ACCESS_KEY_ID", &self.operator_key.0)
            .env("AWS_SECRET_ACCESS_KEY", &self.operator_key.1)
            .stdin(Stdio::null())
            .args(args);
        cmd.output().unwrap()
    }

    fn env_file(&self) -> &Path {
        &self.answers.output.env_file
    }

    /// The access key id and secret the server reads: from the env file, or in the
    /// shared-file style from the shared credentials file.
    fn env_key(&self) -> (String, String) {
        let files = self.answers.output.key_files();
        let key = files
            .read_key()
            .unwrap_or_else(|| panic!("no key in {}", files.secret_path().display()));
        (key.id.clone(), key.expose_secret().to_string())
    }

    /// `doctor --json`: its exit code and findings.
    fn doctor(&self) -> (i32, Vec<serde_json::Value>) {
        let out = self.run(&["doctor", "--json"]);
        let findings = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&out)));
        (out.status.code().unwrap(), findings)
    }

    async fn user_keys(&self) -> Vec<String> {
        common::access_key_ids(&self.operator, &self.answers.iam.user_name).await
    }

    /// Whether `key` may encrypt with the setup's KMS key, as the server does.
    async fn encrypts_with(&self, key: &(String, String)) -> bool {
        common::encrypts_as(&self.answers, key, &self.manifest().kms_key.unwrap().arn).await
    }

    async fn assert_unsealed(&self) {
        let client = VaultClient::new(&config::api_addr(&self.answers), None).unwrap();
        let status = client.seal_status().await.unwrap();
        assert!(
            status.initialized && !status.sealed && status.seal_type == "awskms",
            "{status:?}"
        );
    }

    /// Stops the background server and starts it again with the env file as it is now:
    /// it must unseal itself with the key it holds. The new pid goes to the manifest, for
    /// the guard (and the next rotation) to find.
    async fn restart_server(&self) {
        let store = ManifestStore::open(&self.state()).unwrap();
        let server = store.snapshot().server.unwrap();
        launch::stop_background(server.pid.unwrap(), Duration::from_secs(15));
        let config = config::server_reads(&server.config);
        let bg = launch::start_background(&server.binary, &config, self.env_file(), &self.state()).unwrap();
        store.update(|m| m.server.as_mut().unwrap().pid = Some(bg.pid)).unwrap();
        let client = VaultClient::new(&config::api_addr(&self.answers), None).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(s) = client.seal_status().await
                && s.initialized
                && !s.sealed
            {
                assert_eq!(s.seal_type, "awskms");
                return;
            }
            assert!(
                launch::is_running(bg.pid) && std::time::Instant::now() < deadline,
                "the server did not unseal after a restart: {}",
                launch::log_tail(&bg.log, 15)
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// No backup of a saved form is left beside it (they hold a dead key's secret).
    fn assert_no_backups(&self) {
        let folder = self.env_file().parent().unwrap();
        let left: Vec<_> = std::fs::read_dir(folder)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".bak-"))
            .collect();
        assert_eq!(left, Vec::<String>::new());
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The rotation is done: one key, the new one, in IAM, the env file and the manifest;
/// the old key refused; the server unsealed now and after a further restart.
async fn assert_rotated(setup: &Setup, old: &(String, String)) -> (String, String) {
    let new = setup.env_key();
    assert_ne!(new.0, old.0, "the env file holds a new key");
    assert_eq!(
        setup.user_keys().await,
        vec![new.0.clone()],
        "IAM holds exactly the new key"
    );
    let m = setup.manifest();
    assert_eq!(m.access_key.as_ref().unwrap().id, new.0);
    assert_eq!(m.rotation, None, "no rotation is left under way");
    assert!(setup.encrypts_with(&new).await, "the new key works");
    assert!(!setup.encrypts_with(old).await, "the old key is gone");
    setup.assert_no_backups();
    setup.assert_unsealed().await;
    setup.restart_server().await;
    setup.assert_unsealed().await;
    new
}

#[tokio::test(flavor = "multi_thread")]
async fn rotates_the_key_of_a_running_server() {
    let setup = Setup::new().await;
    let old = setup.env_key();
    assert_eq!(setup.user_keys().await, vec![old.0.clone()]);
    let before = setup.manifest().server.unwrap().pid.unwrap();

    let out = setup.run(&["rotate", "--yes"]);
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    let new = assert_rotated(&setup, &old).await;
    assert!(
        all.contains(&format!(
            "Rotated: the server uses access key {}; {} is deleted",
            new.0, old.0
        )),
        "{all}"
    );
    assert!(
        all.contains("Restart without the old key") && all.contains("Rotate again within"),
        "{all}"
    );
    for secret in [&old.1, &new.1] {
        assert!(!all.contains(secret.as_str()), "a secret access key was printed");
    }
    let log = std::fs::read_to_string(setup.state().join("autounseal.log")).unwrap_or_default();
    assert!(!log.contains(new.1.as_str()), "the secret reached the log");
    let manifest_text = std::fs::read_to_string(setup.state().join("manifest.json")).unwrap();
    assert!(
        !manifest_text.contains(new.1.as_str()),
        "the secret reached the manifest"
    );
    assert_ne!(setup.manifest().server.unwrap().pid.unwrap(), before, "restarted");
    assert_eq!(
        std::fs::metadata(setup.env_file()).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // And again: a rotated setup rotates like a fresh one.
    let out = setup.run(&["rotate", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_rotated(&setup, &new).await;
}

/// The shared-file style (the key in an AWS shared credentials file the seal stanza
/// names) rotates the same: the new key in that file, none in the env file.
#[tokio::test(flavor = "multi_thread")]
async fn rotates_the_key_of_a_shared_file_setup() {
    let setup = Setup::with(|a| a.output.credentials = autounseal::answers::CredentialsStyle::SharedFile).await;
    let shared = setup.answers.output.shared_credentials_path();
    let old = setup.env_key();
    let out = setup.run(&["rotate", "--yes"]);
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    assert!(
        all.contains(&format!(
            "saved to {} and {}",
            shared.display(),
            setup.env_file().display()
        )),
        "the new key written through the style's files, the secret's first: {all}"
    );
    let new = assert_rotated(&setup, &old).await;
    let read = autounseal::credentials_file::read_shared_key(&shared, "vault-auto-unseal").unwrap();
    assert_eq!(read.id, new.0, "the credentials file holds the new key");
    assert_eq!(std::fs::metadata(&shared).unwrap().permissions().mode() & 0o777, 0o600);
    let vars: Vec<String> = autounseal::credentials_file::read_env_vars(setup.env_file())
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(vars, ["AWS_REGION"], "still no key in the env file");
    assert!(!all.contains(new.1.as_str()) && !all.contains(old.1.as_str()));
    let (code, findings) = setup.doctor();
    let not_ok: Vec<_> = findings.iter().filter(|f| f["verdict"] != "ok").collect();
    assert_eq!(code, 0, "{not_ok:#?}");
}

/// Events a test collects while it drives the engine itself.
fn collecting() -> (Reporter, tokio::sync::mpsc::UnboundedReceiver<Event>) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    (Reporter::new(tx), rx)
}

fn all_said(rx: &mut tokio::sync::mpsc::UnboundedReceiver<Event>) -> String {
    let mut said = String::new();
    while let Ok(event) = rx.try_recv() {
        said.push_str(&format!("{event:?}\n"));
    }
    said
}

#[tokio::test(flavor = "multi_thread")]
async fn the_emulator_out_of_reach_mid_rotation_leaves_a_working_server_and_a_rerun_finishes() {
    let setup = Setup::new().await;
    let old = setup.env_key();
    // The tool's AWS calls go through a proxy that stops answering at the deactivation
    // of the old key, after the new key was made, saved, proven and the server restarted
    // onto it. The server itself calls moto directly, as a server on another host would.
    let proxy = Proxy::start(setup.moto.port);
    proxy.cut_on("UpdateAccessKey");
    let mut through_proxy = setup.answers.clone();
    through_proxy.endpoint_url = Some(proxy.url.clone());
    through_proxy.timing.attempt_timeout_secs = 2;
    through_proxy.timing.operation_timeout_secs = 5;
    let ctx = context_as(&through_proxy, &setup.operator_key.0, &setup.operator_key.1).await;
    let store = ManifestStore::open(&setup.state()).unwrap();
    let (rep, mut rx) = collecting();
    let opts = RotateOptions {
        ca_cert: None,
        restarted: false,
    };
    let err = autounseal::rotate::rotate(&ctx, &store, &rep, opts)
        .await
        .unwrap_err()
        .to_string();
    assert!(proxy.is_cut(), "the cut happened");
    assert!(
        err.contains("iam:UpdateAccessKey") && err.contains("rolling it back failed too"),
        "{err}"
    );
    assert!(err.contains("run `autounseal rotate` again"), "{err}");
    let new = setup.env_key();
    assert!(
        err.contains(&format!("The server was moved onto the new key {}, which works", new.0)),
        "{err}"
    );
    assert!(!err.contains(new.1.as_str()) && !all_said(&mut rx).contains(new.1.as_str()));
    // A working server on a working key, and the state to go on from.
    setup.assert_unsealed().await;
    assert!(setup.encrypts_with(&new).await && setup.encrypts_with(&old).await);
    let m = setup.manifest();
    assert_eq!(
        m.access_key.unwrap().id,
        old.0,
        "the manifest never points at a key that may go"
    );
    let rotation = m.rotation.expect("the rotation is recorded for a re-run");
    assert!(rotation.rolling_back.is_some(), "{rotation:?}");
    drop(store);

    // doctor meanwhile: the files hold the new key, the manifest the old one. That is the
    // rotation's to settle: a warning that says so, not a failure.
    let (code, findings) = setup.doctor();
    let not_ok: Vec<_> = findings
        .iter()
        .filter(|f| f["verdict"] != "ok" && f["verdict"] != "skipped")
        .collect();
    assert_eq!(code, 1, "{not_ok:#?}");
    assert_eq!(not_ok.len(), 1, "{not_ok:#?}");
    let said = not_ok[0];
    assert_eq!(
        (&said["link"], &said["check"]),
        (&"credentials".into(), &"recorded key".into())
    );
    let evidence = said["evidence"].as_str().unwrap();
    assert!(
        evidence.contains(&format!(
            "a rotation of access key {} is under way or stopped while rolling back",
            old.0
        )) && evidence.contains(&format!("new key {}", new.0)),
        "{evidence}"
    );
    assert_eq!(said["fix"], "run `autounseal rotate` to finish it or roll it back");

    // The network is back: a re-run finishes the rollback, then rotates.
    proxy.reconnect();
    let out = setup.run(&["rotate", "--yes"]);
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    assert!(all.contains("not fully rolled back: finishing that first"), "{all}");
    let newest = assert_rotated(&setup, &old).await;
    assert_ne!(newest.0, new.0, "the half-used key was deleted, a fresh one made");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_does_not_come_back_on_the_new_key_is_rolled_back_onto_the_old() {
    let setup = Setup::new().await;
    let old = setup.env_key();
    // The server's executable, behind a launcher that refuses to start it with any key
    // but the old one: the restart onto the new key fails for real.
    let launcher = setup.dir.path().join("bao-old-key-only");
    std::fs::write(
        &launcher,
        format!(
            "#!/bin/sh\n[ \"$AWS_ACCESS_KEY_ID\" = \"{}\" ] || {{ echo 'cannot start with this key' >&2; exit 1; }}\nexec {} \"$@\"\n",
            old.0,
            common::bao().display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&launcher, std::fs::Permissions::from_mode(0o755)).unwrap();
    let store = ManifestStore::open(&setup.state()).unwrap();
    store
        .update(|m| m.server.as_mut().unwrap().binary = launcher.clone())
        .unwrap();
    drop(store);
    let manifest_before = setup.manifest();

    let out = setup.run(&["rotate", "--yes"]);
    let all = text(&out);
    assert!(!out.status.success(), "{all}");
    assert!(
        all.contains("cannot start with this key"),
        "the server's own words: {all}"
    );
    assert!(
        all.contains(&format!(
            "It was rolled back: the server runs on the old access key {} again",
            old.0
        )),
        "{all}"
    );
    // Back where it was: the old key in IAM, the env file, the manifest; the server up.
    assert_eq!(setup.env_key(), old);
    assert_eq!(setup.user_keys().await, vec![old.0.clone()]);
    let m = setup.manifest();
    assert_eq!((m.access_key, m.rotation), (manifest_before.access_key, None));
    assert!(setup.encrypts_with(&old).await);
    setup.assert_no_backups();
    setup.assert_unsealed().await;
    assert!(!all.contains(old.1.as_str()));
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_mid_rotation_rolls_back_to_the_old_key() {
    use std::io::BufRead;
    let setup = Setup::new().await;
    let old = setup.env_key();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_autounseal"));
    isolate(&mut cmd, &setup.state());
    let mut child = cmd
        .env("AWS_ACCESS_KEY_ID", &setup.operator_key.0)
        .env("AWS_SECRET_ACCESS_KEY", &setup.operator_key.1)
        .args(["rotate", "--yes"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Once the new key is proven, the restart onto it is in flight: interrupt then.
    let mut said = String::new();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        said.push_str(&line);
        said.push('\n');
        if line.starts_with("  ok   Verify credentials") {
            nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(child.id() as i32),
                nix::sys::signal::Signal::SIGINT,
            )
            .unwrap();
            break;
        }
    }
    for line in lines {
        said.push_str(&line.unwrap());
        said.push('\n');
    }
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    let status = child.wait().unwrap();
    let all = format!("{said}{err}");
    assert!(!status.success(), "{all}");
    assert!(all.contains("stopping after the current step"), "{all}");
    assert!(
        all.contains(&format!(
            "stopped by SIGINT. It was rolled back: the server runs on the old access key {} again",
            old.0
        )),
        "{all}"
    );
    assert_eq!(setup.env_key(), old);
    assert_eq!(setup.user_keys().await, vec![old.0.clone()]);
    assert_eq!(setup.manifest().rotation, None);
    setup.assert_no_backups();
    setup.assert_unsealed().await;
    assert!(setup.encrypts_with(&old).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stray_key_is_refused_with_nothing_changed_and_a_key_a_killed_rotation_left_is_deleted() {
    let setup = Setup::new().await;
    let manifest_file = setup.state().join("manifest.json");
    let env_before = std::fs::read(setup.env_file()).unwrap();
    let manifest_before = std::fs::read(&manifest_file).unwrap();

    // Without a terminal to ask on and without --yes: refused before anything.
    let out = setup.run(&["rotate"]);
    assert!(!out.status.success());
    assert!(text(&out).contains("nothing was changed") && text(&out).contains("--yes"));

    let stray = setup
        .operator
        .iam
        .create_access_key()
        .user_name(&setup.answers.iam.user_name)
        .send()
        .await
        .unwrap()
        .access_key
        .unwrap()
        .access_key_id()
        .to_string();
    let keys_before = setup.user_keys().await;
    let out = setup.run(&["rotate", "--yes"]);
    let all = text(&out);
    assert!(!out.status.success(), "{all}");
    assert!(
        all.contains(&format!("and {stray}, which autounseal did not make")) && all.contains("Nothing was changed"),
        "{all}"
    );
    assert!(
        all.contains(&format!(
            "aws iam delete-access-key --user-name {} --access-key-id {stray}",
            setup.answers.iam.user_name
        )),
        "{all}"
    );
    assert_eq!(setup.user_keys().await, keys_before);
    assert_eq!(std::fs::read(setup.env_file()).unwrap(), env_before);
    assert_eq!(std::fs::read(&manifest_file).unwrap(), manifest_before);
    setup.assert_unsealed().await;

    // The same second key, had an earlier rotation made it and been killed before its
    // answer (and so its secret) was saved: that key is this rotation's, useless, and
    // deleted; then the rotation goes ahead.
    let old = setup.env_key();
    let store = ManifestStore::open(&setup.state()).unwrap();
    store
        .update(|m| {
            m.rotation = Some(autounseal::run::manifest::RotationRecord {
                user: setup.answers.iam.user_name.clone(),
                old_key_id: old.0.clone(),
                new_key_id: None,
                keys_before: vec![old.0.clone()],
                stage: autounseal::run::manifest::RotationStage::Creating,
                old_deactivated: false,
                server_on_new_key: false,
                backups: vec![],
                rolling_back: None,
            })
        })
        .unwrap();
    drop(store);
    let out = setup.run(&["rotate", "--yes"]);
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    assert!(
        all.contains("stopped before the new key's secret was saved")
            && all.contains(&format!("deleted access key {stray}")),
        "{all}"
    );
    let new = assert_rotated(&setup, &old).await;
    assert_ne!(new.0, stray);
}

#[test]
fn with_nothing_recorded_there_is_nothing_to_rotate() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_autounseal"));
    isolate(&mut cmd, dir.path());
    let out = cmd.args(["rotate", "--yes"]).stdin(Stdio::null()).output().unwrap();
    assert!(!out.status.success());
    assert!(text(&out).contains("nothing to rotate"), "{}", text(&out));
    assert!(!dir.path().join("manifest.json").exists(), "nothing was written");
}

/// A server the operator runs (launch `none`): stopped when the test ends.
struct OperatorsServer(u32);

impl Drop for OperatorsServer {
    fn drop(&mut self) {
        launch::stop_background(self.0, Duration::from_secs(15));
    }
}

/// The operator starts the server with the env file as it is now, and waits for it.
async fn operator_starts(a: &Answers, dir: &Path) -> OperatorsServer {
    let config = config::server_reads(&a.output.vault_config);
    let bg = launch::start_background(&common::bao(), &config, &a.output.env_file, &dir.join("operator")).unwrap();
    let client = VaultClient::new(&config::api_addr(a), None).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while client.seal_status().await.is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "{}",
            launch::log_tail(&bg.log, 15)
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    OperatorsServer(bg.pid)
}

#[tokio::test(flavor = "multi_thread")]
async fn with_launch_none_it_stops_at_the_restart_and_a_rerun_retires_the_old_key() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut a = server_answers(&moto, d);
    a.server.launch = autounseal::answers::Launch::None;
    a.init.enabled = false;
    a.init.recovery_keys_file = None;
    let file = d.join("answers.toml");
    std::fs::write(&file, a.to_toml()).unwrap();
    let state = d.join("state");
    let autounseal = |args: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_autounseal"));
        isolate(&mut cmd, &state);
        cmd.env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .stdin(Stdio::null())
            .args(args);
        cmd.output().unwrap()
    };
    let out = autounseal(&["apply", "--yes", "--answers", &file.to_string_lossy()]);
    assert!(out.status.success(), "{}", text(&out));
    // The operator's own server, initialised by the operator.
    let server = operator_starts(&a, d).await;
    let client = VaultClient::new(&config::api_addr(&a), None).unwrap();
    let request = autounseal::vault::client::InitRequest {
        recovery_shares: 1,
        recovery_threshold: 1,
        recovery_pgp_keys: vec![],
        root_token_pgp_key: None,
    };
    drop(client.init(&request).await.unwrap());
    assert_eq!(common::server_of_unsealed(&a).await.seal_type, "awskms");
    let read_env = || autounseal::credentials_file::read_env_key_id(&a.output.env_file).unwrap();
    let old = read_env();
    let iam = context(&a).await.iam;
    let keys = async || {
        let out = iam.list_access_keys().user_name(&a.iam.user_name).send().await.unwrap();
        let mut ids: Vec<String> = out
            .access_key_metadata()
            .iter()
            .map(|k| k.access_key_id().unwrap().to_string())
            .collect();
        ids.sort();
        ids
    };

    // First run: the new key saved and proven; the old one kept, the restart the operator's.
    let out = autounseal(&["rotate", "--yes"]);
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    let new = read_env();
    assert_ne!(new, old);
    assert!(
        said.contains(&format!(
            "The new access key {new} is saved and works; the old one is still active"
        )),
        "{said}"
    );
    assert!(
        said.contains(&format!(
            "restart your server so that it reads {}",
            a.output.env_file.display()
        )),
        "{said}"
    );
    let mut both = vec![old.clone(), new.clone()];
    both.sort();
    assert_eq!(keys().await, both, "the old key stays until the server is restarted");
    let m = ManifestStore::open(&state).unwrap().snapshot();
    assert_eq!(m.access_key.unwrap().id, old, "the manifest keeps the key in use");
    assert_eq!(m.rotation.unwrap().new_key_id.as_deref(), Some(new.as_str()));

    // An apply now would take the new key's saved secret for a lost one: it is refused.
    let out = autounseal(&["apply", "--yes", "--answers", &file.to_string_lossy()]);
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("stopped half-way") && said.contains("autounseal rotate"),
        "{said}"
    );
    assert_eq!(keys().await, both, "the refused apply changed no key");
    assert_eq!(read_env(), new);

    // A re-run with no word of a restart: the server still unseals (on the old key, as far
    // as anyone knows), so nothing is retired; it says again what to do.
    let out = autounseal(&["rotate", "--yes"]);
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("rotate --restarted"), "{said}");
    assert_eq!(
        keys().await,
        both,
        "the old key stays until the operator says they restarted"
    );

    // The operator restarts it; the next run, told so, retires the old key.
    drop(server);
    let _server = operator_starts(&a, d).await;
    assert_eq!(common::server_of_unsealed(&a).await.seal_type, "awskms");
    let out = autounseal(&["rotate", "--yes", "--restarted"]);
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains(&format!("Rotated: the server uses access key {new}; {old} is deleted")),
        "{said}"
    );
    assert_eq!(keys().await, vec![new.clone()]);
    let m = ManifestStore::open(&state).unwrap().snapshot();
    assert_eq!((m.access_key.unwrap().id, m.rotation), (new, None));
}
