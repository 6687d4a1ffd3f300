//! `credentials = "shared-file"` against moto and the real OpenBao 2.6.2: the same full
//! apply and restart as the env style, with the key in an AWS shared credentials file
//! that only the seal stanza names (hashicorp/vault#30302: nothing in the server's
//! environment, where Vault's AWS secrets engine and auth method would find it).

use crate::common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use autounseal::answers::{Answers, CredentialsStyle};
use autounseal::aws::verify;
use autounseal::credentials_file;
use autounseal::run::ManifestStore;
use autounseal::run::manifest::FileRole;
use autounseal::vault::client::VaultClient;
use autounseal::vault::{config, launch};
use common::{Moto, ServerGuard, bao, isolate, server_answers, wait_unsealed};

fn autounseal(dir: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_autounseal"));
    isolate(&mut cmd, &dir.join("state"));
    cmd.env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .args(args);
    cmd.output().unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn shared_answers(moto: &Moto, dir: &Path) -> Answers {
    let mut a = server_answers(moto, dir);
    a.output.credentials = CredentialsStyle::SharedFile;
    a
}

/// The variables of a live process's environment, by name.
fn environment_names(pid: u32) -> Vec<String> {
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    environ
        .split(|b| *b == 0)
        .filter_map(|entry| {
            String::from_utf8_lossy(entry)
                .split_once('=')
                .map(|(k, _)| k.to_string())
        })
        .collect()
}

#[tokio::test]
async fn the_shared_file_style_passes_the_same_full_apply_and_restart_test_as_the_env_style() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let _guard = ServerGuard(d.join("state"));
    let a = shared_answers(&moto, d);
    let file = d.join("answers.toml");
    std::fs::write(&file, a.to_toml()).unwrap();
    // The plan writes the shared file first, each with its twin, and changes nothing.
    let plan = text(&autounseal(d, &["plan", "--answers", &file.to_string_lossy()]));
    let shared = d.join("etc/aws-credentials");
    let env_twin = format!(
        "install -m 0600 -o vault -g vault /dev/stdin {}",
        a.output.env_file.display()
    );
    let shared_twin = format!("install -m 0600 -o vault -g vault /dev/stdin {}", shared.display());
    let (at_shared, at_env) = (plan.find(&shared_twin), plan.find(&env_twin));
    assert!(at_shared.is_some() && at_env.is_some() && at_shared < at_env, "{plan}");
    assert!(!shared.exists() && !a.output.env_file.exists());
    let out = autounseal(d, &["apply", "--yes", "--answers", &file.to_string_lossy()]);
    let output = text(&out);
    assert!(out.status.success(), "{output}");
    assert!(
        output.contains("ok   Restart check: restarted and unsealed itself"),
        "{output}"
    );

    // Beside the env file by default; 0600; the key in its profile.
    assert_eq!(a.output.shared_credentials_path(), shared);
    assert_eq!(std::fs::metadata(&shared).unwrap().permissions().mode() & 0o777, 0o600);
    let manifest = ManifestStore::open(&d.join("state")).unwrap().snapshot();
    let files = manifest.key_files().expect("the key files are recorded");
    assert_eq!(files, a.output.key_files(), "the manifest says where the key is");
    assert_eq!(manifest.file(FileRole::SharedCredentials).unwrap().path, shared);
    let key = files.read_key().expect("the shared file holds the key");
    assert_eq!(key.id, manifest.access_key.as_ref().unwrap().id);
    // As the server's SDK reads it: the same key.
    let by_sdk = verify::key_from_profile(&shared, "vault-auto-unseal").await.unwrap();
    assert_eq!(
        (by_sdk.id.as_str(), by_sdk.expose_secret()),
        (key.id.as_str(), key.expose_secret())
    );

    // The env file: the region alone. No key, and no AWS_SHARED_CREDENTIALS_FILE or
    // AWS_PROFILE, which Vault's AWS engines would follow to the key.
    let vars: Vec<(String, String)> = credentials_file::read_env_vars(&a.output.env_file)
        .unwrap()
        .into_iter()
        .map(|(k, v)| (k, v.as_str().to_string()))
        .collect();
    assert_eq!(vars, [("AWS_REGION".to_string(), "eu-west-1".to_string())]);
    let env_text = std::fs::read_to_string(&a.output.env_file).unwrap();
    assert!(!env_text.contains(key.expose_secret()) && !env_text.contains(&key.id));
    assert_eq!(
        std::fs::metadata(&a.output.env_file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // The seal stanza names the file and profile (a path and a name, no secret).
    let config_text = std::fs::read_to_string(&a.output.vault_config).unwrap();
    let seal: serde_json::Value = hcl::from_str(&config_text).unwrap();
    assert_eq!(
        (
            &seal["seal"]["awskms"]["shared_creds_filename"],
            &seal["seal"]["awskms"]["shared_creds_profile"]
        ),
        (&shared.to_string_lossy().into(), &"vault-auto-unseal".into())
    );
    assert!(!config_text.contains(key.expose_secret()) && !config_text.contains(&key.id));

    // The running server: unsealed by awskms, with no key in its environment.
    let client = VaultClient::new(&config::api_addr(&a), None).unwrap();
    let status = client.seal_status().await.unwrap();
    assert_eq!(
        (status.seal_type.as_str(), status.initialized, status.sealed),
        ("awskms", true, false)
    );
    let pid = ManifestStore::open(&d.join("state"))
        .unwrap()
        .snapshot()
        .server
        .unwrap()
        .pid
        .unwrap();
    // The control: nothing in the server's environment leads to the key.
    let names = environment_names(pid);
    assert!(names.iter().any(|n| n == "AWS_REGION"), "{names:?}");
    let leads = autounseal::credentials_file::LEADS_TO_THE_KEY;
    assert!(!names.iter().any(|n| leads.contains(&n.as_str())), "{names:?}");

    // Our own restart, outside autounseal: only the env file's variables, so the seal
    // must read the key from the file its stanza names.
    assert!(launch::stop_background(pid, Duration::from_secs(15)));
    assert!(client.seal_status().await.is_err(), "it is down");
    let start = |config: &Path| {
        let mut again = Command::new(bao());
        again.arg("server").arg(format!("-config={}", config.display()));
        isolate(&mut again, &d.join("state"));
        for (k, v) in credentials_file::read_env_vars(&a.output.env_file).unwrap() {
            again.env(k, v.as_str());
        }
        again
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    // First the control: the stanza naming a profile the file lacks leaves the seal
    // without credentials, so the key really comes from that file and nowhere else.
    let wrong = d.join("wrong-profile.hcl");
    std::fs::write(
        &wrong,
        config_text.replace(
            "shared_creds_profile = \"vault-auto-unseal\"",
            "shared_creds_profile = \"not-in-the-file\"",
        ),
    )
    .unwrap();
    let mut control = start(&wrong);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while control.try_wait().unwrap().is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "started without the file's profile"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let control = control.wait_with_output().unwrap();
    assert!(!control.status.success());
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&control.stdout),
        String::from_utf8_lossy(&control.stderr)
    );
    assert!(
        said.contains("NoCredentialProviders"),
        "no credentials but the file's profile: {said}"
    );
    let mut child = start(&a.output.vault_config);
    let status = wait_unsealed(&client).await;
    assert_eq!(status.seal_type, "awskms", "unsealed again with no key entered");
    child.kill().unwrap();
    child.wait().unwrap();

    // No secret in the state folder or the tool's output.
    for entry in std::fs::read_dir(d.join("state")).unwrap() {
        let path = entry.unwrap().path();
        let content = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            !content.contains(key.expose_secret()),
            "the secret is in {}",
            path.display()
        );
    }
    assert!(!output.contains(key.expose_secret()), "the secret is in the output");

    // destroy removes both files.
    let out = autounseal(d, &["destroy", "--yes", "--force"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!shared.exists() && !a.output.env_file.exists());
}

#[tokio::test]
async fn a_profile_the_sdk_cannot_read_is_refused_with_the_file_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("aws-credentials");
    std::fs::write(&path, "[vault-auto-unseal]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\n").unwrap();
    let err = verify::key_from_profile(&path, "vault-auto-unseal")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("profile vault-auto-unseal") && err.contains(&path.display().to_string()),
        "{err}"
    );
    let err = verify::key_from_profile(&path, "other").await.unwrap_err().to_string();
    assert!(err.contains("profile other"), "{err}");
}

/// A second apply finds the key in the shared file: no new key, no file refused.
#[tokio::test]
async fn a_rerun_finds_the_key_in_the_shared_file_and_makes_no_new_one() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut a = common::answers(&moto, d);
    a.output.credentials = CredentialsStyle::SharedFile;
    a.output.credentials_profile = "unseal".into();
    a.output.shared_credentials_file = Some(d.join("keys/aws-credentials"));
    let file = d.join("answers.toml");
    std::fs::write(&file, a.to_toml()).unwrap();
    let apply = || autounseal(d, &["apply", "--yes", "--answers", &file.to_string_lossy()]);
    let first = apply();
    assert!(first.status.success(), "{}", text(&first));
    let key = a
        .output
        .key_files()
        .read_key()
        .expect("saved under the profile asked for");
    let again = apply();
    let said = text(&again);
    assert!(again.status.success(), "{said}");
    assert!(
        said.contains(&format!(
            "{} is saved in {}",
            key.id,
            d.join("keys/aws-credentials").display()
        )),
        "{said}"
    );
    let manifest = ManifestStore::open(&d.join("state")).unwrap().snapshot();
    assert_eq!(manifest.access_key.unwrap().id, key.id, "the same key");
    assert_eq!(manifest.credentials_profile.as_deref(), Some("unseal"));
}

/// A re-run whose answers switch the style while the key is still saved the old way
/// would find no key in the new files and replace a working one: refused, by `plan` and
/// `apply` alike, with nothing changed and how to switch said. Once the old files no
/// longer hold the key, the new style is simply written.
#[tokio::test]
async fn a_switch_of_style_keeps_the_saved_key_and_says_how() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut a = common::answers(&moto, d);
    let file = d.join("answers.toml");
    std::fs::write(&file, a.to_toml()).unwrap();
    let run = |command: &str| {
        let answers = file.to_string_lossy();
        let args: &[&str] = if command == "plan" {
            &[command, "--answers", &answers]
        } else {
            &[command, "--yes", "--answers", &answers]
        };
        autounseal(d, args)
    };
    let first = run("apply");
    assert!(first.status.success(), "{}", text(&first));
    let env_before = std::fs::read_to_string(&a.output.env_file).unwrap();
    let key_id = ManifestStore::open(&d.join("state"))
        .unwrap()
        .snapshot()
        .access_key
        .unwrap()
        .id;

    a.output.credentials = CredentialsStyle::SharedFile;
    std::fs::write(&file, a.to_toml()).unwrap();
    for command in ["plan", "apply"] {
        let out = run(command);
        let said = text(&out);
        assert!(!out.status.success(), "{command}: {said}");
        assert!(
            said.contains(&format!(
                "access key {key_id} is saved in {} (credentials style env), but these answers keep it in {} \
                 (style shared-file (profile vault-auto-unseal))",
                a.output.env_file.display(),
                a.output.shared_credentials_path().display()
            )) && said
                .contains("set output.credentials, output.shared_credentials_file and output.credentials_profile back"),
            "{command}: {said}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(&a.output.env_file).unwrap(),
        env_before,
        "nothing changed"
    );
    assert!(!a.output.shared_credentials_path().exists());
    let manifest = ManifestStore::open(&d.join("state")).unwrap().snapshot();
    assert_eq!(manifest.access_key.unwrap().id, key_id, "the key is kept");

    // The old file gone (its key lost anyway): the new style is written, with a new key.
    std::fs::remove_file(&a.output.env_file).unwrap();
    let out = run("apply");
    assert!(out.status.success(), "{}", text(&out));
    let key = a.output.key_files().read_key().expect("saved in the shared file");
    assert_ne!(key.id, key_id);
    let manifest = ManifestStore::open(&d.join("state")).unwrap().snapshot();
    assert_eq!(manifest.key_files(), Some(a.output.key_files()));
}

/// The twins of the secret files name the user the server runs as (OpenBao's packages
/// run it as `openbao`), not always `vault`.
#[tokio::test]
async fn the_twins_of_the_key_files_name_the_service_user() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut a = common::answers(&moto, d);
    a.output.credentials = CredentialsStyle::SharedFile;
    a.server.user = Some("openbao".into());
    a.server.group = Some("openbao".into());
    let file = d.join("answers.toml");
    std::fs::write(&file, a.to_toml()).unwrap();
    let plan = text(&autounseal(d, &["plan", "--answers", &file.to_string_lossy()]));
    for path in [a.output.shared_credentials_path(), a.output.env_file.clone()] {
        let twin = format!("install -m 0600 -o openbao -g openbao /dev/stdin {}", path.display());
        assert!(plan.contains(&twin), "{twin} in: {plan}");
    }
    assert!(!plan.contains("-o vault"), "{plan}");
}
