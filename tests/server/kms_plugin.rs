//! OpenBao 2.7 and later run the awskms seal as an external KMS plugin. The plugin's
//! release cannot be fetched here, so the real OpenBao 2.7.2 is driven as far as it
//! goes: autounseal checks the file before AWS, installs it, declares it, and the
//! server reaches it (its environment included), then fails the handshake of a
//! stand-in that is no plugin, and refuses a changed file by its checksum.

use crate::common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use autounseal::answers::{Answers, CredentialsStyle};
use autounseal::run::ManifestStore;
use autounseal::run::manifest::FileRole;
use autounseal::vault::config;
use autounseal::vault::plugin::{PLUGIN_FILE, RELEASES, sha256_of};
use autounseal::vault::server::Flavour;
use common::{Moto, ServerGuard, assert_nothing_created, autounseal_output, bao, bao_2_7, output_text, server_answers};

/// `autounseal ARGS --answers` with these answers, on `dir/state`.
fn run(answers: &Answers, dir: &Path, args: &[&str]) -> Output {
    let file = dir.join("answers.toml");
    std::fs::write(&file, answers.to_toml()).unwrap();
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--answers", file.to_str().unwrap()]);
    autounseal_output(&dir.join("state"), &all)
}

/// A program for this machine that is not a plugin: it writes the environment it was
/// started with to `dump`, then exits without the plugin handshake.
fn stand_in(dir: &Path, dump: &Path) -> PathBuf {
    stand_in_at(dir, dump, "download")
}

/// [`stand_in`], built in `dir/folder`: each folder another program (its name is in it).
fn stand_in_at(dir: &Path, dump: &Path, folder: &str) -> PathBuf {
    let source = dir.join(format!("{folder}.c"));
    std::fs::write(
        &source,
        format!(
            "#include <stdio.h>\nextern char **environ;\nvolatile const char which[] = \"{folder}\";\nint main(void) {{\n  FILE *f = fopen(\"{}\", \"w\");\n  \
             for (char **e = environ; *e; e++) fprintf(f, \"%s\\n\", *e);\n  fclose(f);\n  return which[0] ? 1 : 2;\n}}\n",
            dump.display()
        ),
    )
    .unwrap();
    let binary = dir.join(folder).join("openbao-plugin-kms-aws_linux");
    std::fs::create_dir_all(binary.parent().unwrap()).unwrap();
    let built = Command::new("cc").arg("-o").arg(&binary).arg(&source).output().unwrap();
    assert!(built.status.success(), "{}", output_text(&built));
    // As a download arrives: not executable.
    std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o644)).unwrap();
    binary
}

fn plugin_answers(moto: &Moto, dir: &Path, plugin: &Path) -> Answers {
    let mut a = server_answers(moto, dir);
    a.server.binary = bao_2_7().to_string_lossy().into_owned();
    a.server.kms_plugin = Some(plugin.to_path_buf());
    a
}

/// The file name a plugin of this checksum is installed under.
fn versioned(sha256: &str) -> String {
    format!("{PLUGIN_FILE}-{}", &sha256[..12])
}

/// The environment the stand-in saw, by name.
fn dumped(dump: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(dump)
        .unwrap_or_else(|e| panic!("the server never ran the plugin ({}): {e}", dump.display()))
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
        .collect()
}

/// The real OpenBao 2.7.2 started on `config` by hand (it is expected to stop at once),
/// with nothing of this machine's environment.
fn serve_2_7(config: &Path) -> Output {
    Command::new("timeout")
        .arg("30")
        .arg(bao_2_7())
        .arg("server")
        .arg(format!("-config={}", config.display()))
        .env_clear()
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap()
}

#[tokio::test]
async fn without_a_plugin_openbao_2_7_is_told_what_to_download_and_where_it_goes() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let mut a = server_answers(&moto, dir.path());
    a.server.binary = bao_2_7().to_string_lossy().into_owned();
    let out = run(&a, dir.path(), &["apply", "--yes"]);
    let msg = output_text(&out);
    assert!(!out.status.success());
    for said in [
        "OpenBao 2.7.2",
        "openbao-plugin-kms-aws",
        RELEASES,
        "server.kms_plugin",
        "KMS plugin",
        &dir.path().join("plugins").display().to_string(),
    ] {
        assert!(msg.contains(said), "{said}: {msg}");
    }
    assert_nothing_created(&moto, dir.path()).await;

    // Why: the real 2.7.2 refuses the seal stanza alone.
    let cfg = dir.path().join("vault.hcl");
    std::fs::write(
        &cfg,
        config::render(&a, "alias/vault-auto-unseal", Flavour::OpenBao, None),
    )
    .unwrap();
    std::fs::create_dir_all(&a.server.storage_path).unwrap();
    let refused = serve_2_7(&cfg);
    assert!(!refused.status.success());
    assert!(
        output_text(&refused).contains("unknown wrapper: awskms"),
        "{}",
        output_text(&refused)
    );
}

/// A change to the answers that one case makes.
type Change = Box<dyn Fn(&mut Answers)>;

#[tokio::test]
async fn a_plugin_that_cannot_serve_is_refused_before_aws() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let plugin = stand_in(dir.path(), &dir.path().join("unused"));
    let cases: Vec<(&str, Change)> = vec![
        (
            "no ELF header",
            Box::new(|a: &mut Answers| {
                let script = a.server.storage_path.with_file_name("script");
                std::fs::write(&script, "#!/bin/sh\nexit 0\n").unwrap();
                a.server.kms_plugin = Some(script);
            }),
        ),
        (
            "not the 0000",
            Box::new(|a: &mut Answers| a.server.kms_plugin_sha256 = Some("0".repeat(64))),
        ),
        (
            "cannot be read",
            Box::new(|a: &mut Answers| a.server.kms_plugin = Some("/nonexistent/openbao-plugin-kms-aws".into())),
        ),
        (
            "has the awskms seal built in",
            Box::new(|a: &mut Answers| a.server.binary = bao().to_string_lossy().into_owned()),
        ),
        // A registry out of reach (a closed port on loopback): said, with the way round it.
        (
            "could not fetch 127.0.0.1:9/openbao-plugin-kms-aws:v0.1.0: error reconciling plugins: failed to download plugin",
            Box::new(|a: &mut Answers| {
                a.server.kms_plugin = None;
                a.server.kms_plugin_image = Some("127.0.0.1:9/openbao-plugin-kms-aws".into());
                a.server.kms_plugin_version = Some("v0.1.0".into());
                a.server.kms_plugin_sha256 = Some("ab".repeat(32));
            }),
        ),
        (
            "kms_plugin_version",
            Box::new(|a: &mut Answers| {
                a.server.kms_plugin_image = Some("ghcr.io/openbao/openbao-plugin-kms-aws".into())
            }),
        ),
    ];
    for (said, change) in cases {
        let mut a = plugin_answers(&moto, dir.path(), &plugin);
        change(&mut a);
        let out = run(&a, dir.path(), &["plan"]);
        let msg = output_text(&out);
        assert!(!out.status.success(), "{said}: {msg}");
        assert!(msg.contains(said), "{said}: {msg}");
        let out = run(&a, dir.path(), &["apply", "--yes"]);
        assert!(output_text(&out).contains(said), "{said}: {}", output_text(&out));
        assert_nothing_created(&moto, dir.path()).await;
        assert!(!dir.path().join("plugins").exists(), "{said}");
    }
}

#[tokio::test]
async fn the_server_runs_the_declared_plugin_with_its_environment_and_checks_its_sum() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("plugin-env");
    let plugin = stand_in(dir.path(), &dump);
    let sum = sha256_of(&plugin).unwrap();
    let a = plugin_answers(&moto, dir.path(), &plugin);
    let _guard = ServerGuard(dir.path().join("state"));

    // The plan names the copy, with its checksum, and makes nothing.
    let planned = run(&a, dir.path(), &["plan"]);
    let said = output_text(&planned);
    assert!(planned.status.success(), "{said}");
    let installed = dir.path().join("plugins").join(versioned(&sum));
    assert!(
        said.contains(&format!("install -D -m 0755 -o root -g root {}", plugin.display())),
        "{said}"
    );
    assert!(said.contains(&sum), "{said}");
    assert!(!installed.exists());

    // The apply gets as far as the server's own plugin check: a stand-in fails the handshake.
    let out = run(&a, dir.path(), &["apply", "--yes"]);
    let said = output_text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(said.contains("start plugin client"), "{said}");
    assert!(said.contains("Unrecognized remote plugin message"), "{said}");
    assert!(
        said.contains("did not answer as one: give openbao-plugin-kms-aws for linux_"),
        "{said}"
    );

    // Installed as a real file, root's (this tier runs as root), 0755, the same bytes.
    let meta = std::fs::symlink_metadata(&installed).unwrap();
    assert!(meta.file_type().is_file());
    assert_eq!((meta.mode() & 0o7777, meta.uid()), (0o755, 0));
    assert_eq!(sha256_of(&installed).unwrap(), sum);
    // Declared beside the unchanged seal stanza.
    let text = std::fs::read_to_string(&a.output.vault_config).unwrap();
    let parsed: serde_json::Value = hcl::from_str(&text).unwrap();
    assert_eq!(
        parsed["plugin_directory"],
        dir.path().join("plugins").to_string_lossy().as_ref()
    );
    let declared = &parsed["plugin"]["kms"]["awskms"];
    assert_eq!(declared["command"], versioned(&sum).as_str());
    assert_eq!(declared["sha256sum"], sum.as_str());
    let seal = parsed["seal"]["awskms"].as_object().unwrap();
    let mut names: Vec<&str> = seal.keys().map(String::as_str).collect();
    names.sort();
    assert_eq!(names, ["endpoint", "kms_key_id", "region"], "{text}");
    let manifest = ManifestStore::open(&dir.path().join("state")).unwrap().snapshot();
    assert_eq!(manifest.file(FileRole::KmsPlugin).unwrap().path, installed);
    assert_eq!(
        manifest.file(FileRole::KmsPluginFolder).unwrap().path,
        dir.path().join("plugins")
    );

    // The plugin process inherits the server's environment: the env file's key and region.
    let env = dumped(&dump);
    let value = |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let key_id = manifest.access_key.clone().expect("an access key is recorded").id;
    assert_eq!(value("AWS_ACCESS_KEY_ID").as_deref(), Some(key_id.as_str()));
    assert_eq!(value("AWS_REGION").as_deref(), Some("eu-west-1"));

    // doctor: the file as declared; then changed on disk, which the server refuses too.
    let state = dir.path().join("state");
    let doctor = autounseal_output(&state, &["doctor"]);
    let said = output_text(&doctor);
    assert!(
        said.contains(&format!("{}, SHA-256 as declared", installed.display())),
        "{said}"
    );
    std::fs::OpenOptions::new()
        .append(true)
        .open(&installed)
        .and_then(|mut f| std::io::Write::write_all(&mut f, b"\0"))
        .unwrap();
    let said = output_text(&autounseal_output(&state, &["doctor"]));
    assert!(
        said.contains("checksums did not match") && said.contains("autounseal apply"),
        "{said}"
    );
    let refused = serve_2_7(&a.output.vault_config);
    assert!(!refused.status.success());
    assert!(
        output_text(&refused).contains("checksums did not match"),
        "{}",
        output_text(&refused)
    );

    // A re-apply puts the right file back.
    let again = run(&a, dir.path(), &["apply", "--yes"]);
    assert!(
        output_text(&again).contains("start plugin client"),
        "{}",
        output_text(&again)
    );
    assert_eq!(sha256_of(&installed).unwrap(), sum);

    // A new version of the plugin: copied in beside the old, the config names it, then
    // the old one goes. The server checks the new one.
    let newer = stand_in_at(dir.path(), &dump, "newer");
    let newer_sum = sha256_of(&newer).unwrap();
    let mut upgraded = a.clone();
    upgraded.server.kms_plugin = Some(newer.clone());
    let again = run(&upgraded, dir.path(), &["apply", "--yes"]);
    let said = output_text(&again);
    assert!(said.contains("start plugin client"), "{said}");
    let newer_installed = dir.path().join("plugins").join(versioned(&newer_sum));
    assert_eq!(sha256_of(&newer_installed).unwrap(), newer_sum);
    assert!(
        !installed.exists(),
        "the old version goes once the config names the new: {said}"
    );
    let text = std::fs::read_to_string(&a.output.vault_config).unwrap();
    assert!(text.contains(&newer_sum) && !text.contains(&sum), "{text}");
    let recorded: Vec<_> = ManifestStore::open(&state)
        .unwrap()
        .snapshot()
        .files
        .into_iter()
        .filter(|f| f.role == FileRole::KmsPlugin)
        .map(|f| f.path)
        .collect();
    assert_eq!(recorded, std::slice::from_ref(&newer_installed));

    // destroy removes the copy and the folder it made.
    let gone = autounseal_output(&state, &["destroy", "--yes", "--force"]);
    let said = output_text(&gone);
    assert!(gone.status.success(), "{said}");
    assert!(
        !newer_installed.exists() && !dir.path().join("plugins").exists(),
        "{said}"
    );
    assert!(plugin.exists() && newer.exists(), "the downloads are the operator's");
}

#[tokio::test]
async fn with_the_shared_file_style_the_plugin_never_sees_the_key_in_its_environment() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("plugin-env");
    let plugin = stand_in(dir.path(), &dump);
    let mut a = plugin_answers(&moto, dir.path(), &plugin);
    a.output.credentials = CredentialsStyle::SharedFile;
    let _guard = ServerGuard(dir.path().join("state"));
    let out = run(&a, dir.path(), &["apply", "--yes"]);
    assert!(
        output_text(&out).contains("start plugin client"),
        "{}",
        output_text(&out)
    );
    // The key reaches the plugin only through the seal's config (the file it names),
    // never through the environment Vault's AWS engines also read.
    let env = dumped(&dump);
    for (name, _) in &env {
        assert!(
            !matches!(
                name.as_str(),
                "AWS_ACCESS_KEY_ID" | "AWS_SECRET_ACCESS_KEY" | "AWS_SHARED_CREDENTIALS_FILE" | "AWS_PROFILE"
            ),
            "{name} reached the plugin's environment"
        );
    }
    let text = std::fs::read_to_string(&a.output.vault_config).unwrap();
    let parsed: serde_json::Value = hcl::from_str(&text).unwrap();
    assert_eq!(
        parsed["seal"]["awskms"]["shared_creds_filename"],
        a.output.shared_credentials_path().to_string_lossy().as_ref()
    );
    let state = dir.path().join("state");
    assert!(
        autounseal_output(&state, &["destroy", "--yes", "--force"])
            .status
            .success()
    );
}
