//! Seal migration against the real OpenBao 2.6.2 and moto: a Shamir-initialised server
//! with a secret is moved to awskms by `apply`, and back to Shamir by
//! `destroy --migrate-back` before its KMS key is scheduled for deletion.

use crate::common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use autounseal::answers::Answers;
use autounseal::run::ManifestStore;
use autounseal::vault::launch;
use aws_sdk_kms::types::KeyState;
use common::shamir::{Api, SECRET, migration_answers, shamir_server_with_data, start_bao};
use common::{Moto, ServerGuard, context, isolate, server_answers};
use serde_json::Value;

fn write_keys(path: &Path, keys: &[String], mode: u32) {
    let text: String = keys
        .iter()
        .enumerate()
        .map(|(i, k)| format!("Unseal Key {}: {k}\n", i + 1))
        .collect();
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn autounseal(dir: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_autounseal"));
    isolate(&mut cmd, &dir.join("state"));
    cmd.env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .stdin(Stdio::null());
    cmd.args(args).output().unwrap()
}

fn apply(a: &Answers, dir: &Path, extra: &[&str]) -> Output {
    let file = dir.join("answers.toml");
    std::fs::write(&file, a.to_toml()).unwrap();
    let mut args = vec!["apply", "--yes", "--answers", file.to_str().unwrap()];
    args.extend(extra);
    autounseal(dir, &args)
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn server_pid(dir: &Path) -> u32 {
    let record = ManifestStore::open(&dir.join("state")).unwrap().snapshot().server;
    record.and_then(|s| s.pid).expect("a background server is recorded")
}

async fn key_state(a: &Answers, dir: &Path) -> KeyState {
    let key_id = ManifestStore::open(&dir.join("state"))
        .unwrap()
        .snapshot()
        .kms_key
        .map(|k| k.key_id);
    let key_id = key_id.unwrap_or_else(|| {
        // After destroy the manifest is gone: the key is the only one moto holds.
        std::fs::read_to_string(dir.join("key-id")).unwrap()
    });
    let ctx = context(a).await;
    let meta = ctx.kms.describe_key().key_id(&key_id).send().await.unwrap();
    meta.key_metadata.unwrap().key_state.unwrap()
}

fn remember_key_id(dir: &Path) {
    let key = ManifestStore::open(&dir.join("state"))
        .unwrap()
        .snapshot()
        .kms_key
        .unwrap();
    std::fs::write(dir.join("key-id"), key.key_id).unwrap();
}

/// Migrates a Shamir server with data through `apply`; returns the unseal keys and the
/// root token.
async fn migrated(a: &Answers, dir: &Path) -> (Vec<String>, String) {
    let (keys, root) = shamir_server_with_data(a, dir).await;
    let keys_file = dir.join("unseal-keys.txt");
    write_keys(&keys_file, &keys, 0o600);
    let out = apply(a, dir, &["--unseal-keys-file", keys_file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    remember_key_id(dir);
    (keys, root)
}

#[tokio::test]
async fn apply_migrates_a_shamir_server_with_data_to_awskms() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let mut a = migration_answers(&moto, dir);
    // A migration hands out no new keys: no file for them is needed.
    a.init.recovery_keys_file = None;
    let _guard = ServerGuard(dir.join("state"));
    let (keys, root) = shamir_server_with_data(&a, dir).await;
    let keys_file = dir.join("unseal-keys.txt");

    // Without `existing = "migrate"`, a live Shamir server with data is refused, not
    // taken for a new one.
    let running = start_bao(&dir.join("shamir.hcl"), dir);
    let api = Api::new(&format!("http://{}", a.server.listen));
    api.wait_for("answering", |_| true).await;
    let mut as_new = a.clone();
    as_new.server.existing = autounseal::answers::ExistingServer::New;
    as_new.init.recovery_keys_file = Some(dir.join("recovery-keys.txt"));
    let out = apply(&as_new, dir, &[]);
    let said = text(&out);
    assert!(!out.status.success());
    assert!(said.contains("already initialised with a Shamir seal"), "{said}");
    assert!(said.contains("server.existing = \"migrate\""), "{said}");
    assert!(
        ManifestStore::open(&dir.join("state"))
            .unwrap()
            .snapshot()
            .kms_key
            .is_none()
    );
    running.stop();

    // The plan says what will happen, and the call it makes per key.
    let file = dir.join("answers.toml");
    std::fs::write(&file, a.to_toml()).unwrap();
    let out = autounseal(dir, &["plan", "--answers", file.to_str().unwrap()]);
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains("Seal migration from Shamir to AWS KMS; the data stays"),
        "{said}"
    );
    assert!(said.contains("the same unseal keys become its recovery keys"), "{said}");
    assert!(
        said.contains("$ bao operator unseal -migrate -address=http://"),
        "{said}"
    );

    // Keys others can read are refused, before anything is created.
    write_keys(&keys_file, &keys, 0o644);
    let out = apply(&a, dir, &["--unseal-keys-file", keys_file.to_str().unwrap()]);
    let said = text(&out);
    assert!(!out.status.success());
    assert!(said.contains("readable by others (mode 0644)"), "{said}");
    assert!(
        ManifestStore::open(&dir.join("state"))
            .unwrap()
            .snapshot()
            .kms_key
            .is_none(),
        "no AWS change"
    );
    // No keys at all: refused before AWS too, saying how to give them.
    let out = apply(&a, dir, &[]);
    assert!(text(&out).contains("--unseal-keys-file"), "{}", text(&out));
    assert!(
        ManifestStore::open(&dir.join("state"))
            .unwrap()
            .snapshot()
            .kms_key
            .is_none()
    );

    std::fs::set_permissions(&keys_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = apply(&a, dir, &["--unseal-keys-file", keys_file.to_str().unwrap()]);
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains("unseal keys become its recovery keys"),
        "explained: {said}"
    );
    assert!(
        said.contains("Initialize: migrated from Shamir to awskms with 2 unseal keys"),
        "{said}"
    );
    assert!(said.contains("Restart check: restarted and unsealed itself"), "{said}");
    let api = Api::new(&format!("http://{}", a.server.listen));
    let status = api.status().await;
    assert_eq!(
        (status.seal_type.as_str(), status.recovery_seal, status.sealed),
        ("awskms", true, false)
    );
    assert_eq!(api.read_secret(&root).await, SECRET);

    // Recorded, with no key; no key anywhere in the state folder or the output.
    let manifest = ManifestStore::open(&dir.join("state")).unwrap().snapshot();
    assert_eq!(manifest.migrations.len(), 1);
    assert_eq!(
        (manifest.migrations[0].from.as_str(), manifest.migrations[0].to.as_str()),
        ("shamir", "awskms")
    );
    for entry in std::fs::read_dir(dir.join("state")).unwrap() {
        let path = entry.unwrap().path();
        let content = std::fs::read_to_string(&path).unwrap_or_default();
        for key in keys.iter().chain([&root]) {
            assert!(!content.contains(key.as_str()), "a key is in {}", path.display());
        }
    }
    for key in &keys {
        assert!(!said.contains(key.as_str()), "a key is in the output");
    }

    // A second restart (the run made the first): the server unseals itself again, with
    // no key given to the run.
    launch::stop_background(server_pid(dir), Duration::from_secs(15));
    let out = apply(&a, dir, &[]);
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("already migrated to awskms"), "{said}");
    let status = api.wait_for("unsealed", |s| s.initialized && !s.sealed).await;
    assert_eq!(status.seal_type, "awskms");
    assert_eq!(api.read_secret(&root).await, SECRET);

    // The old unseal keys are the recovery keys now.
    common::shamir::generate_root_with(&api, &root, &keys[1..]).await;
}

#[tokio::test]
async fn destroy_refuses_then_migrates_back_before_the_key_goes() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let a = migration_answers(&moto, dir);
    let _guard = ServerGuard(dir.join("state"));
    let (keys, root) = migrated(&a, dir).await;

    let out = autounseal(dir, &["destroy", "--yes"]);
    let said = text(&out);
    assert!(!out.status.success());
    assert!(said.contains("refuses to schedule the deletion"), "{said}");
    assert!(
        said.contains(&format!("the server at http://{}", a.server.listen)),
        "{said}"
    );
    assert!(said.contains("--migrate-back"), "{said}");
    assert_eq!(key_state(&a, dir).await, KeyState::Enabled);

    let recovery_file = dir.join("recovery-keys-given.txt");
    write_keys(&recovery_file, &keys[..2], 0o600);
    let out = autounseal(
        dir,
        &[
            "destroy",
            "--yes",
            "--migrate-back",
            "--recovery-keys-file",
            recovery_file.to_str().unwrap(),
        ],
    );
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    let back = said.find("Migrate back to Shamir: back on Shamir").expect(&said);
    let deletion = said.find("Schedule key deletion").expect(&said);
    assert!(back < deletion, "the way back comes first: {said}");
    assert!(said.contains("now the server's unseal keys"), "told plainly: {said}");
    assert_eq!(key_state(&a, dir).await, KeyState::PendingDeletion);

    // The config stays, with no seal stanza: a Shamir server the same keys unseal.
    let config: Value = hcl::from_str(&std::fs::read_to_string(&a.output.vault_config).unwrap()).unwrap();
    assert!(config.get("seal").is_none(), "{config}");
    let server = start_bao(&a.output.vault_config, dir);
    let api = Api::new(&format!("http://{}", a.server.listen));
    let status = api.wait_for("answering sealed", |s| s.sealed).await;
    assert_eq!((status.seal_type.as_str(), status.initialized), ("shamir", true));
    api.unseal(&keys[1..]).await;
    assert_eq!(api.read_secret(&root).await, SECRET);
    server.stop();
}

#[tokio::test]
async fn destroy_force_names_the_data_it_loses() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let mut a = server_answers(&moto, dir);
    a.init.recovery_keys_file = Some(dir.join("recovery.txt"));
    let _guard = ServerGuard(dir.join("state"));
    let out = apply(&a, dir, &[]);
    assert!(out.status.success(), "{}", text(&out));
    remember_key_id(dir);

    let out = autounseal(dir, &["destroy", "--yes", "--force"]);
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    let storage: PathBuf = a.server.storage_path.clone();
    assert!(
        said.contains(&format!(
            "FORCED: all the data of the server at http://{} (storage {})",
            a.server.listen,
            storage.display()
        )),
        "{said}"
    );
    assert!(said.contains("will be lost for good"), "{said}");
    assert_eq!(key_state(&a, dir).await, KeyState::PendingDeletion);
}

/// An interactive destroy offers the way back itself, and reads the recovery keys with
/// the terminal's echo off: they never show.
#[tokio::test]
async fn an_interactive_destroy_offers_the_way_back_and_hides_the_keys() {
    use common::pty::{ENTER, Terminal};
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let a = migration_answers(&moto, dir);
    let _guard = ServerGuard(dir.join("state"));
    let (keys, root) = migrated(&a, dir).await;

    let mut cmd = portable_pty::CommandBuilder::new(env!("CARGO_BIN_EXE_autounseal"));
    cmd.env_clear();
    cmd.env("PATH", std::env::var("PATH").unwrap_or_default());
    cmd.env("HOME", dir);
    cmd.env("TERM", "xterm-256color");
    cmd.env("AWS_ACCESS_KEY_ID", "testing");
    cmd.env("AWS_SECRET_ACCESS_KEY", "testing");
    cmd.env("AWS_CONFIG_FILE", "/nonexistent/aws-config");
    cmd.env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials");
    cmd.env("AWS_EC2_METADATA_DISABLED", "true");
    cmd.args(["--state-dir", &dir.join("state").to_string_lossy(), "destroy"]);
    let mut t = Terminal::start(cmd);
    let wait = Duration::from_secs(20);
    let offer = t.wait_for("Type \"migrate back\"", wait);
    assert!(offer.contains("they then become the server's unseal keys"), "{offer}");
    t.type_keys(&["migrate back", ENTER]);
    t.wait_for("Recovery key 1 (hidden", wait);
    t.type_keys(&[&keys[0], ENTER]);
    let asked = t.wait_for("Recovery key 2 (hidden", wait);
    assert!(!asked.contains(keys[0].as_str()), "the key was echoed:\n{asked}");
    t.type_keys(&[&keys[1], ENTER]);
    let asked = t.wait_for("Recovery key 3 (hidden", wait);
    assert!(!asked.contains(keys[1].as_str()), "the key was echoed:\n{asked}");
    t.type_keys(&[ENTER]);
    t.wait_for("Type \"destroy\" to go on", wait);
    t.type_keys(&["destroy", ENTER]);
    let end = t.wait_for("Destroyed.", Duration::from_secs(90));
    assert!(end.contains("Schedule key deletion"), "{end}");
    assert!(t.child.wait().unwrap().success());
    t.wait_for_output_end(wait);
    let screen = t.screen.lock().unwrap().screen().contents();
    for key in &keys {
        assert!(!screen.contains(key.as_str()), "a recovery key was echoed:\n{screen}");
    }
    assert_eq!(key_state(&a, dir).await, KeyState::PendingDeletion);

    // Back on Shamir, the data kept: the same keys unseal it.
    let server = start_bao(&a.output.vault_config, dir);
    let api = Api::new(&format!("http://{}", a.server.listen));
    api.wait_for("answering sealed", |s| s.sealed).await;
    api.unseal(&keys[..2]).await;
    assert_eq!(api.read_secret(&root).await, SECRET);
    server.stop();
}

/// The line prompts (no terminal) offer the seal migration where a server's data is, and
/// run it: the unseal keys read once, never echoed, the server on awskms with its data,
/// the old keys its recovery keys.
#[tokio::test]
async fn the_line_prompts_migrate_a_shamir_server() {
    use std::io::Write;
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let a = migration_answers(&moto, dir);
    let _guard = ServerGuard(dir.join("state"));
    let (keys, root) = shamir_server_with_data(&a, dir).await;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_autounseal"));
    isolate(&mut cmd, &dir.join("state"));
    let mut child = cmd
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let config = a.output.vault_config.to_string_lossy().into_owned();
    let env = a.output.env_file.to_string_lossy().into_owned();
    let storage = a.server.storage_path.to_string_lossy().into_owned();
    let answers = [
        "",        // profile
        &moto.url, // endpoint
        "eu-west-1",
        "1", // a new key
        "",
        "",
        "",
        "", // no replica
        "", // no alarm
        "", // user
        "", // policy
        &config,
        &env,
        "",
        "", // no CSV
        &a.server.binary,
        "background",
        "1", // single server
        &a.server.listen,
        &storage,
        "yes", // plain HTTP
        "2",   // its data: the seal migration
        "yes", // go ahead
        &keys[0],
        &keys[1],
        "", // the keys end
    ];
    let mut stdin = child.stdin.take().unwrap();
    for line in answers {
        writeln!(stdin, "{line}").unwrap();
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains("Its data (1 set up a new server, 2 move it to AWS KMS"),
        "{said}"
    );
    assert!(said.contains("hands out no new keys"), "{said}");
    assert!(
        !said.contains("Recovery shares"),
        "no init questions in a migration: {said}"
    );
    assert!(said.contains("Unseal key 1 (hidden"), "{said}");
    assert!(
        said.contains("Initialize: migrated from Shamir to awskms with 2 unseal keys"),
        "{said}"
    );
    for key in &keys {
        assert!(!said.contains(key.as_str()), "a key reached the output");
    }
    let api = Api::new(&format!("http://{}", a.server.listen));
    let status = api.wait_for("unsealed", |s| s.initialized && !s.sealed).await;
    assert_eq!(status.seal_type, "awskms");
    assert_eq!(api.read_secret(&root).await, SECRET);
    common::shamir::generate_root_with(&api, &root, &keys[1..]).await;
}
