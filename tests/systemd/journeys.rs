//! Launch mode `systemd` against a real systemd: PID 1 of its own PID and mount
//! namespace, through `../shared/tools/systemd-sandbox` (it masks the host's units, so
//! booting changes nothing here). The machines run the tests as root, which it needs.
//!
//! The sandbox shares the host's files but for /run, so before anything else each test
//! binds a copy of /etc (in its temporary folder) over /etc inside the sandbox's private
//! mount namespace: the service users, units and configs of a packaged install exist
//! there only, and the test checks that the host's own /etc did not change.

use crate::common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use autounseal::answers::{Answers, Launch};
use autounseal::vault::client::VaultClient;
use common::{Moto, context, free_port, isolate, server_answers};
fn sandbox_tool() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/tools/systemd-sandbox")
}

/// A running sandbox, stopped when the test ends, also when it fails.
struct Sandbox(String);

impl Sandbox {
    fn start() -> Sandbox {
        let out = Command::new(sandbox_tool()).arg("start").output().unwrap();
        assert!(
            out.status.success(),
            "systemd-sandbox did not start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Sandbox(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// `program args…` inside the sandbox, with the environment `isolate` gives tests.
    fn run(&self, state: &Path, program: &Path, args: &[&str]) -> Output {
        let mut cmd = Command::new(sandbox_tool());
        isolate(&mut cmd, state);
        cmd.env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .args(["run", &self.0])
            .arg(program)
            .args(args);
        cmd.output().unwrap()
    }
}

impl Sandbox {
    /// A shell script inside the sandbox, which must succeed.
    fn sh(&self, script: &str) -> String {
        let out = Command::new(sandbox_tool())
            .args(["run", &self.0, "sh", "-ec", script])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{script}\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A sandbox with a private /etc (a copy in `dir`) and `bin/NAME` for the OpenBao
    /// binary: the files of a distribution package, without touching the host's.
    fn packaged(dir: &Path, layout: &Layout) -> Sandbox {
        let sandbox = Sandbox::start();
        let etc = dir.join("etc");
        let real_bao = std::fs::canonicalize(common::bao_binary()).unwrap();
        sandbox.sh(&format!(
            "cp -a /etc {etc} && mount --bind {etc} /etc\n\
             mount -t tmpfs -o mode=755 tmpfs /usr/local/bin\n\
             touch {program} && mount --bind {real_bao} {program}\n\
             useradd --system --no-create-home --shell /usr/sbin/nologin {user}\n\
             mkdir -p {config_dir}\n\
             printf '[Unit]\\nDescription=packaged\\n[Service]\\nUser={user}\\nGroup={user}\\n\
             ExecStart={program} server -config={config}\\nRestart=on-failure\\n' > /etc/systemd/system/{unit}\n\
             systemctl daemon-reload",
            etc = etc.display(),
            real_bao = real_bao.display(),
            program = layout.program,
            user = layout.user,
            config = layout.config,
            config_dir = layout.config_folder().display(),
            unit = layout.unit,
        ));
        sandbox
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = Command::new(sandbox_tool()).args(["stop", &self.0]).output();
    }
}

#[tokio::test]
async fn a_missing_unit_is_refused_before_any_aws_change() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut a = server_answers(&moto, d);
    a.server.launch = Launch::Systemd;
    let file = d.join("answers.toml");
    std::fs::write(&file, a.to_toml()).unwrap();
    let sandbox = Sandbox::start();
    let binary = Path::new(env!("CARGO_BIN_EXE_autounseal"));
    let file = file.to_string_lossy();
    for args in [
        vec!["plan", "--answers", &file],
        vec!["apply", "--yes", "--answers", &file],
    ] {
        let out = sandbox.run(&d.join("state"), binary, &args);
        let msg = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.status.success(), "{msg}");
        assert!(
            msg.contains("the systemd unit openbao.service does not exist here (LoadState=not-found)"),
            "{args:?}: {msg}"
        );
    }
    let ctx = context(&common::answers(&moto, d)).await;
    assert!(ctx.kms.list_keys().send().await.unwrap().keys().is_empty());
    assert!(ctx.iam.list_users().send().await.unwrap().users().is_empty());
}

/// Where a distribution package puts things.
struct Layout {
    unit: &'static str,
    program: &'static str,
    config: &'static str,
    env_file: &'static str,
    user: &'static str,
}

impl Layout {
    /// The folder of the config, or the config when it is a folder (`-config=/etc/openbao/`).
    fn config_folder(&self) -> &Path {
        if self.config.ends_with('/') {
            Path::new(self.config)
        } else {
            Path::new(self.config).parent().unwrap()
        }
    }
}

/// HashiCorp's `vault` package, with OpenBao's binary standing in for Vault.
const HASHICORP: Layout = Layout {
    unit: "vault.service",
    program: "/usr/local/bin/vault",
    config: "/etc/vault.d/vault.hcl",
    env_file: "/etc/vault.d/vault.env",
    user: "vault",
};

const OPENBAO: Layout = Layout {
    unit: "openbao.service",
    program: "/usr/local/bin/bao",
    config: "/etc/openbao/openbao.hcl",
    env_file: "/etc/openbao/openbao.env",
    user: "openbao",
};

/// The host's users and units, to prove a test changed neither.
fn host_etc() -> (Vec<u8>, Vec<String>) {
    let mut units: Vec<String> = std::fs::read_dir("/etc/systemd/system")
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    units.sort();
    (std::fs::read("/etc/passwd").unwrap(), units)
}

/// A temporary folder the service user can reach (the server keeps its data in it).
fn reachable_tempdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// Answers that leave the packaged paths unset: what the host has must fill them.
fn packaged_answers(moto: &Moto, d: &Path, layout: &Layout) -> Answers {
    let mut a = server_answers(moto, d);
    a.server.launch = Launch::Systemd;
    a.server.binary = layout.program.into();
    a.output = Default::default();
    a
}

/// `plan` or `apply --yes` inside the sandbox: whether it succeeded, and its output.
fn run_command(sandbox: &Sandbox, d: &Path, a: &Answers, command: &str) -> (bool, String) {
    let file = d.join("answers.toml");
    std::fs::write(&file, a.to_toml()).unwrap();
    let binary = Path::new(env!("CARGO_BIN_EXE_autounseal"));
    let file = file.to_string_lossy();
    let args = match command {
        "apply" => vec!["apply", "--yes", "--answers", &file],
        _ => vec![command, "--answers", &file],
    };
    let out = sandbox.run(&d.join("state"), binary, &args);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn run_ok(sandbox: &Sandbox, d: &Path, a: &Answers, command: &str) -> String {
    let (ok, text) = run_command(sandbox, d, a, command);
    assert!(ok, "{command}: {text}");
    text
}

/// The uid of `user` in the sandbox's /etc/passwd (a copy under `d`).
fn uid_in(d: &Path, user: &str) -> u32 {
    let passwd = std::fs::read_to_string(d.join("etc/passwd")).unwrap();
    passwd
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f[0] == user).then(|| f[2].parse().unwrap())
        })
        .unwrap_or_else(|| panic!("{user} is not in the sandbox's passwd"))
}

/// The packaged unit runs, the server is initialised and unsealed through awskms, the
/// env file is the service user's alone, and a restart unseals it with no key.
async fn check_running(sandbox: &Sandbox, d: &Path, a: &Answers, layout: &Layout) {
    assert_eq!(
        sandbox.sh(&format!("systemctl is-active {}", layout.unit)).trim(),
        "active"
    );
    let status = common::server_of_unsealed(a).await;
    assert_eq!(status.seal_type, "awskms");
    let env = d.join(layout.env_file.trim_start_matches('/'));
    let meta = std::fs::metadata(&env).unwrap();
    assert_eq!(meta.mode() & 0o777, 0o600, "{}", env.display());
    assert_eq!(
        meta.uid(),
        uid_in(d, layout.user),
        "{} belongs to {}",
        env.display(),
        layout.user
    );
    let drop_in = d.join(format!("etc/systemd/system/{}.d/autounseal.conf", layout.unit));
    assert!(
        std::fs::read_to_string(drop_in)
            .unwrap()
            .contains(&format!("EnvironmentFile={}", layout.env_file))
    );
    let pid_before = sandbox.sh(&format!("systemctl show -p MainPID --value {}", layout.unit));
    sandbox.sh(&format!("systemctl restart {}", layout.unit));
    assert_ne!(
        sandbox.sh(&format!("systemctl show -p MainPID --value {}", layout.unit)),
        pid_before
    );
    assert_eq!(common::server_of_unsealed(a).await.seal_type, "awskms");
}

#[tokio::test]
async fn hashicorp_layout_found_by_exec_start_keeps_the_operators_config() {
    let host_before = host_etc();
    let moto = Moto::start();
    let dir = reachable_tempdir();
    let d = dir.path();
    let sandbox = Sandbox::packaged(d, &HASHICORP);
    let a = packaged_answers(&moto, d, &HASHICORP);
    // The operator's config: their storage, a second listener and telemetry.
    let extra_listener = format!("127.0.0.1:{}", free_port());
    let operators = format!(
        "# Written by the operator.\nstorage \"raft\" {{\n  path = \"{storage}\"\n  node_id = \"n1\"\n}}\n\n\
         listener \"tcp\" {{\n  address = \"{listen}\"\n  tls_disable = true\n}}\n\n\
         listener \"tcp\" {{\n  address = \"{extra_listener}\"\n  tls_disable = true\n}}\n\n\
         telemetry {{\n  disable_hostname = true\n}}\n\napi_addr = \"http://{listen}\"\n\
         cluster_addr = \"http://127.0.0.1:{cluster}\"\n",
        storage = d.join("data").display(),
        listen = a.server.listen,
        cluster = free_port(),
    );
    let config = d.join("etc/vault.d/vault.hcl");
    std::fs::write(&config, &operators).unwrap();
    // The storage answer is left at its default: the kept config names it.
    let mut a = a;
    a.server.storage_path = autounseal::answers::DEFAULT_STORAGE_PATH.into();
    // The plan says what it found and shows the config's diff, and changes nothing.
    let plan = run_ok(&sandbox, d, &a, "plan");
    for expected in [
        "Found: vault.service runs /usr/local/bin/vault (OpenBao 2.6.2) with /etc/vault.d/vault.hcl as vault:vault",
        "Unset in the answers, taken from what was found: server.systemd_unit = vault.service, server.user = vault",
        "+seal \"awskms\" {",
        "+  kms_key_id = \"(the KMS key's ARN)\"",
    ] {
        assert!(plan.contains(expected), "{expected}\n{plan}");
    }
    assert_eq!(std::fs::read_to_string(&config).unwrap(), operators);
    let out = run_ok(&sandbox, d, &a, "apply");
    assert!(out.contains("Start server: vault.service is active"), "{out}");
    check_running(&sandbox, d, &a, &HASHICORP).await;
    // Kept: both listeners, the telemetry and the operator's comment; added: the seal.
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.starts_with("# Written by the operator."), "{text}");
    let parsed: serde_json::Value = hcl::from_str(&text).unwrap();
    let listeners = parsed["listener"]["tcp"].as_array().expect("two listeners");
    let addresses: Vec<&str> = listeners.iter().map(|l| l["address"].as_str().unwrap()).collect();
    assert_eq!(addresses, [a.server.listen.as_str(), extra_listener.as_str()]);
    assert_eq!(parsed["telemetry"]["disable_hostname"], true);
    assert_eq!(
        parsed["storage"]["raft"]["path"],
        d.join("data").to_string_lossy().as_ref()
    );
    assert_eq!(parsed["seal"]["awskms"]["region"], "eu-west-1");
    let backups: Vec<String> = std::fs::read_dir(d.join("etc/vault.d"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("vault.hcl.bak-"))
        .collect();
    assert_eq!(backups.len(), 1, "{backups:?}");
    assert_eq!(
        std::fs::read_to_string(d.join("etc/vault.d").join(&backups[0])).unwrap(),
        operators
    );
    // The second listener is the server's too.
    let extra = VaultClient::new(&format!("http://{extra_listener}"), None).unwrap();
    assert!(!extra.seal_status().await.unwrap().sealed);
    drop(sandbox);
    assert_eq!(
        host_etc(),
        host_before,
        "the host's /etc/passwd and units are as they were"
    );
}

#[tokio::test]
async fn openbao_layout_with_the_unit_named() {
    let host_before = host_etc();
    let moto = Moto::start();
    let dir = reachable_tempdir();
    let d = dir.path();
    let sandbox = Sandbox::packaged(d, &OPENBAO);
    let mut a = packaged_answers(&moto, d, &OPENBAO);
    a.server.systemd_unit = Some(OPENBAO.unit.into());
    run_ok(&sandbox, d, &a, "apply");
    check_running(&sandbox, d, &a, &OPENBAO).await;
    // A config of ours, where the package keeps it; the data folder is the user's.
    let config = std::fs::read_to_string(d.join("etc/openbao/openbao.hcl")).unwrap();
    assert!(config.starts_with("# Written by autounseal."), "{config}");
    assert_eq!(std::fs::metadata(d.join("data")).unwrap().uid(), uid_in(d, "openbao"));
    // Who owns the secret files is recorded, for doctor to check them against.
    let manifest = autounseal::run::ManifestStore::open(&d.join("state"))
        .unwrap()
        .snapshot();
    assert_eq!(manifest.service_account.map(|s| s.user).as_deref(), Some("openbao"));
    drop(sandbox);
    assert_eq!(
        host_etc(),
        host_before,
        "the host's /etc/passwd and units are as they were"
    );
}

/// `credentials = "shared-file"` under systemd: the key in /etc/openbao/aws-credentials
/// (the service user's, 0600), the unit's environment without it, and a restart unseals.
#[tokio::test]
async fn openbao_layout_with_the_key_in_a_shared_credentials_file() {
    let host_before = host_etc();
    let moto = Moto::start();
    let dir = reachable_tempdir();
    let d = dir.path();
    let sandbox = Sandbox::packaged(d, &OPENBAO);
    let mut a = packaged_answers(&moto, d, &OPENBAO);
    a.output.credentials = autounseal::answers::CredentialsStyle::SharedFile;
    run_ok(&sandbox, d, &a, "apply");
    check_running(&sandbox, d, &a, &OPENBAO).await;
    let shared = d.join("etc/openbao/aws-credentials");
    let meta = std::fs::metadata(&shared).unwrap();
    assert_eq!(
        (meta.mode() & 0o777, meta.uid()),
        (0o600, uid_in(d, "openbao")),
        "the service user's alone"
    );
    let env = std::fs::read_to_string(d.join("etc/openbao/openbao.env")).unwrap();
    let set: Vec<&str> = env.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(set, ["AWS_REGION=eu-west-1"], "the region alone: {env}");
    let config = std::fs::read_to_string(d.join("etc/openbao/openbao.hcl")).unwrap();
    assert!(
        config.contains("shared_creds_filename = \"/etc/openbao/aws-credentials\"")
            && config.contains("shared_creds_profile = \"vault-auto-unseal\""),
        "{config}"
    );
    let names = sandbox.sh(&format!(
        "tr '\\0' '\\n' < /proc/$(systemctl show -p MainPID --value {})/environ | cut -d= -f1",
        OPENBAO.unit
    ));
    assert!(names.lines().any(|n| n == "AWS_REGION"), "{names}");
    let leads = autounseal::credentials_file::LEADS_TO_THE_KEY;
    assert!(!names.lines().any(|n| leads.contains(&n)), "{names}");
    drop(sandbox);
    assert_eq!(
        host_etc(),
        host_before,
        "the host's /etc/passwd and units are as they were"
    );
}

#[tokio::test]
async fn a_unit_that_reads_another_config_is_refused_before_any_aws_change() {
    let moto = Moto::start();
    let dir = reachable_tempdir();
    let d = dir.path();
    let sandbox = Sandbox::packaged(d, &HASHICORP);
    let mut a = packaged_answers(&moto, d, &HASHICORP);
    a.output.vault_config = d.join("elsewhere/vault.hcl");
    for command in ["plan", "apply"] {
        let (ok, text) = run_command(&sandbox, d, &a, command);
        assert!(!ok, "{text}");
        let expected = format!(
            "the systemd unit vault.service starts the server with -config=/etc/vault.d/vault.hcl, not {}: set \
             output.vault_config = \"/etc/vault.d/vault.hcl\", or change the unit's ExecStart",
            a.output.vault_config.display()
        );
        assert_eq!(text.matches(&expected).count(), 1, "said once: {text}");
    }
    let ctx = context(&common::answers(&moto, d)).await;
    assert!(ctx.kms.list_keys().send().await.unwrap().keys().is_empty());
    assert!(ctx.iam.list_users().send().await.unwrap().users().is_empty());
}

#[tokio::test]
async fn a_config_folder_gets_the_seal_as_a_file_of_its_own() {
    let host_before = host_etc();
    let moto = Moto::start();
    let dir = reachable_tempdir();
    let d = dir.path();
    let layout = Layout {
        config: "/etc/openbao/",
        ..OPENBAO
    };
    let sandbox = Sandbox::packaged(d, &layout);
    let mut a = packaged_answers(&moto, d, &layout);
    // Left unset: the operator's file beside the stanza names the storage.
    a.server.storage_path = autounseal::answers::DEFAULT_STORAGE_PATH.into();
    let operators = format!(
        "storage \"raft\" {{\n  path = \"{}\"\n  node_id = \"n1\"\n}}\n\n\
         listener \"tcp\" {{\n  address = \"{}\"\n  tls_disable = true\n}}\n\n\
         api_addr = \"http://{}\"\ncluster_addr = \"http://127.0.0.1:{}\"\n",
        d.join("data").display(),
        a.server.listen,
        a.server.listen,
        free_port()
    );
    let kept = d.join("etc/openbao/openbao.hcl");
    std::fs::write(&kept, &operators).unwrap();
    let out = run_ok(&sandbox, d, &a, "apply");
    assert!(out.contains("/etc/openbao/autounseal-seal.hcl"), "{out}");
    check_running(&sandbox, d, &a, &layout).await;
    assert_eq!(
        std::fs::read_to_string(&kept).unwrap(),
        operators,
        "the operator's file is left alone"
    );
    let stanza = std::fs::read_to_string(d.join("etc/openbao/autounseal-seal.hcl")).unwrap();
    let parsed: serde_json::Value = hcl::from_str(&stanza).unwrap();
    assert_eq!(parsed["seal"]["awskms"]["region"], "eu-west-1");
    assert!(parsed.get("storage").is_none(), "{stanza}");
    assert!(!Path::new(autounseal::answers::DEFAULT_STORAGE_PATH).exists());
    drop(sandbox);
    assert_eq!(
        host_etc(),
        host_before,
        "the host's /etc/passwd and units are as they were"
    );
}

/// The owner, group and mode of a file.
fn owner_and_mode(path: &Path) -> (u32, u32, u32) {
    let meta = std::fs::metadata(path).unwrap();
    (meta.uid(), meta.gid(), meta.mode() & 0o777)
}

/// A packaged host as operators have it: `layout`'s unit started by systemd, the
/// operator's own `root:GROUP 0640` config (comments, aligned `=`, blank lines, no seal)
/// with a plain-HTTP listener on `listen`, raft data in `d/data` (the service user's),
/// and there a Shamir server with data: 3 unseal keys, threshold 2, a secret written.
struct ShamirHost {
    /// The operator's config, as written.
    operators: String,
    /// The config, seen from outside the sandbox (its /etc is a copy in `d`).
    config: PathBuf,
    /// Its owner, group and mode: root, the service user's group, 0640.
    as_packaged: (u32, u32, u32),
    api: common::shamir::Api,
    keys: Vec<String>,
    root: String,
}

impl ShamirHost {
    async fn start(sandbox: &Sandbox, d: &Path, layout: &Layout, listen: &str) -> ShamirHost {
        let data = d.join("data");
        let operators = format!(
            "# Full configuration options can be found at https://developer.hashicorp.com/vault/docs/configuration\n\n\
             ui = true\n\nstorage \"raft\" {{\n  path    = \"{data}\"\n  node_id = \"n1\"\n}}\n\n\n\
             # HTTP listener\nlistener \"tcp\" {{\n  address     = \"{listen}\"\n  tls_disable = 1\n}}\n\n\
             api_addr     = \"http://{listen}\"\ncluster_addr = \"http://127.0.0.1:{cluster}\"\n",
            data = data.display(),
            cluster = free_port(),
        );
        let config = d.join(layout.config.trim_start_matches('/'));
        std::fs::write(&config, &operators).unwrap();
        sandbox.sh(&format!(
            "mkdir -m 0700 {data} && chown {user}:{user} {data}\n\
             chown root:{user} {config} && chmod 0640 {config}\n\
             systemctl start {unit}",
            data = data.display(),
            user = layout.user,
            config = layout.config,
            unit = layout.unit,
        ));
        let group = sandbox
            .sh(&format!("getent group {} | cut -d: -f3", layout.user))
            .trim()
            .parse()
            .unwrap();
        let as_packaged = (0, group, 0o640);
        assert_eq!(owner_and_mode(&config), as_packaged);
        let api = common::shamir::Api::new(&format!("http://{listen}"));
        let (keys, root) = common::shamir::init_with_data(&api).await;
        ShamirHost {
            operators,
            config,
            as_packaged,
            api,
            keys,
            root,
        }
    }
}

/// A packaged host as operators have it: HashiCorp's layout, the operator's own
/// `root:vault 0640` config (comments, aligned `=`, blank lines, no seal) and a Shamir
/// server with data under systemd. Moved to awskms and back (`destroy --migrate-back`):
/// the config stays root's throughout and comes back byte for byte, destroy's plan does
/// not claim to remove it, and systemd is reloaded, so the next `systemctl restart`
/// brings back a Shamir server that the same keys unseal, with its data.
#[tokio::test]
async fn a_packaged_shamir_host_goes_to_awskms_and_back_with_its_config_as_it_was() {
    use autounseal::answers::{DEFAULT_STORAGE_PATH, ExistingServer};
    use common::shamir::SECRET;
    let host_before = host_etc();
    let moto = Moto::start();
    let dir = reachable_tempdir();
    let d = dir.path();
    let sandbox = Sandbox::packaged(d, &HASHICORP);
    let mut a = packaged_answers(&moto, d, &HASHICORP);
    a.server.existing = ExistingServer::Migrate;
    // The operator's config names the storage; a migration hands out no new keys.
    a.server.storage_path = DEFAULT_STORAGE_PATH.into();
    a.init.recovery_keys_file = None;
    let ShamirHost {
        operators,
        config,
        as_packaged,
        api,
        keys,
        root,
    } = ShamirHost::start(&sandbox, d, &HASHICORP, &a.server.listen).await;

    // To awskms, with the unseal keys from a 0600 file.
    let keys_file = d.join("unseal-keys.txt");
    std::fs::write(&keys_file, keys.join("\n")).unwrap();
    std::fs::set_permissions(&keys_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let answers_file = d.join("answers.toml");
    std::fs::write(&answers_file, a.to_toml()).unwrap();
    let binary = Path::new(env!("CARGO_BIN_EXE_autounseal"));
    let said = |out: Output| {
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    };
    let (ok, out) = said(sandbox.run(
        &d.join("state"),
        binary,
        &[
            "apply",
            "--yes",
            "--answers",
            answers_file.to_str().unwrap(),
            "--unseal-keys-file",
            keys_file.to_str().unwrap(),
        ],
    ));
    assert!(ok, "{out}");
    assert_eq!(common::server_of_unsealed(&a).await.seal_type, "awskms");
    assert_eq!(api.read_secret(&root).await, SECRET);
    let migrated = std::fs::read_to_string(&config).unwrap();
    assert!(
        migrated.starts_with(&operators),
        "the operator's bytes stay: {migrated}"
    );
    assert_eq!(
        owner_and_mode(&config),
        as_packaged,
        "the service user must not be able to rewrite its own seal"
    );

    // And back, with the same keys, now the recovery keys.
    let (ok, out) = said(sandbox.run(
        &d.join("state"),
        binary,
        &[
            "destroy",
            "--yes",
            "--migrate-back",
            "--recovery-keys-file",
            keys_file.to_str().unwrap(),
        ],
    ));
    assert!(ok, "{out}");
    assert!(
        !out.contains("remove /etc/vault.d/vault.hcl"),
        "the plan says what happens to the config: {out}"
    );
    assert!(out.contains("keep /etc/vault.d/vault.hcl"), "{out}");
    assert!(
        out.contains("/etc/vault.d/vault.hcl is as it was before autounseal"),
        "{out}"
    );
    assert!(out.contains("systemd reloaded"), "{out}");
    assert_eq!(std::fs::read_to_string(&config).unwrap(), operators, "byte for byte");
    assert_eq!(owner_and_mode(&config), as_packaged);
    let left: Vec<String> = std::fs::read_dir(d.join("etc/vault.d"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["vault.hcl"], "no env file, no backup left");
    assert!(!d.join("etc/systemd/system/vault.service.d/autounseal.conf").exists());

    // The next restart, as an operator would do it, with nothing else said to systemd.
    sandbox.sh("systemctl restart vault.service");
    let status = api.wait_for("sealed on Shamir", |s| s.sealed && s.initialized).await;
    assert_eq!(status.seal_type, "shamir");
    api.unseal(&keys[1..]).await;
    assert_eq!(api.read_secret(&root).await, SECRET);
    drop(sandbox);
    assert_eq!(
        host_etc(),
        host_before,
        "the host's /etc/passwd and units are as they were"
    );
}

/// How long a screen may take to follow a key.
const SCREEN: Duration = Duration::from_secs(15);

/// Journey 1 of issue 18, on `layout`: a packaged host (the real systemd of a sandbox,
/// the operator's `root:GROUP 0640` config with `tls_disable = 1`, a Shamir server with
/// data started by systemd) met by a new operator in an 80x24 terminal. `autounseal`
/// with no command: Enter on every screen (what discovery found is the default: unit,
/// config, user, the config's listener), on the Server screen "Its data: move it to AWS
/// KMS", Review, the two unseal keys typed masked, the run, Done. A second launch opens
/// on the start menu: doctor all ok, the access key rotated, Status all good. Then
/// `destroy --migrate-back` with the same keys, headless; `systemctl restart` brings
/// back a Shamir server those keys unseal, with its data and the operator's config byte
/// for byte, still `root:GROUP 0640`; AWS keeps nothing of the setup.
fn a_packaged_shamir_host_in_the_wizard_and_back(layout: &Layout) {
    use common::journey::{says, wait_for_all, wizard_in_sandbox};
    use common::pty::{CLEAR, DOWN, ENTER, ESC, TAB, Terminal, UP, rotate_from_the_menu};
    use common::shamir::SECRET;
    let host_before = host_etc();
    let moto = Moto::start();
    let dir = reachable_tempdir();
    let d = dir.path();
    let sandbox = Sandbox::packaged(d, layout);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let listen = common::server_listen();
    let address = format!("http://{listen}");
    let host = rt.block_on(ShamirHost::start(&sandbox, d, layout, &listen));
    // Where the AWS emulator is: known before the first screen asks who the operator is,
    // so that nothing ever goes to AWS. Nothing else is given.
    let prefill = d.join("moto.toml");
    std::fs::write(&prefill, format!("endpoint_url = \"{}\"\n", moto.url)).unwrap();
    // The operator's home: the state folder is autounseal's default there.
    let home = d.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let state = home.join(".local/share/autounseal");
    let wizard = |args: &[&str]| Terminal::start(wizard_in_sandbox(&sandbox_tool(), &sandbox.0, &home, args));
    let config = layout.config;

    let mut t = wizard(&["--answers", prefill.to_str().unwrap()]);
    t.wait_for("1/13 Welcome", SCREEN);
    t.type_keys(&[ENTER]);
    t.wait_for("✓ Account 123456789012", SCREEN);
    t.type_keys(&[ENTER]);
    t.wait_for("3/13 Region", SCREEN);
    t.type_keys(&["eu-west-1", ENTER]);
    t.wait_for("4/13 KMS key", SCREEN);
    t.type_keys(&[ENTER]);
    t.wait_for("5/13 IAM", SCREEN);
    t.type_keys(&[ENTER]);
    let files = t.wait_for("6/13 Files", SCREEN);
    if config == autounseal::answers::DEFAULT_VAULT_CONFIG {
        let files = t.wait_for("yours: kept as it is, with only its seal stanza added", SCREEN);
        assert!(says(&files, &format!("Vault config {config}")), "{files}");
    } else {
        // The host is read on the Server screen, after this one: here another layout's
        // files show as the defaults, which the run replaces with the unit's (the plan
        // on Review names them, below).
        assert!(files.contains("Vault config"), "{files}");
    }
    t.type_keys(&[ENTER]);
    t.wait_for("7/13 Server", SCREEN);
    if layout.program.ends_with("/bao") {
        // `vault`, the default, is not on this host: the operator names the binary found.
        t.wait_for("Binaries: /usr/local/bin/bao (OpenBao 2.6.2)", SCREEN);
        t.type_keys(&[CLEAR, "bao"]);
    }
    // On to Start with: the binary is looked at, and the host again for it.
    t.type_keys(&[TAB]);
    // Discovery: the unit that runs the binary, its config and user, the config's
    // listener, and on it a Shamir server with data, whose migration is offered.
    let found = wait_for_all(
        &t,
        &[
            &format!("found OpenBao 2.6.2 at {}", layout.program),
            &format!("from {config}, the config the server reads now"),
            &format!("Listen on       {listen}"),
            "Plain HTTP      [x] yes",
            // Proposed, as a new setup over its data would be refused.
            "Its data        ○ set up a new server  ● move it to AWS KMS (seal migration)",
            "the seal stanza is added and the server restarted",
        ],
        SCREEN,
    );
    assert!(
        says(
            &found,
            &format!("Found: {} runs {} (OpenBao 2.6.2) with", layout.unit, layout.program)
        ),
        "{found}"
    );
    // From Start with, past Servers, to Its data: the migration, as proposed.
    t.type_keys(&[TAB, TAB]);
    t.wait_for(
        "› Its data        ○ set up a new server  ● move it to AWS KMS (seal migration)",
        SCREEN,
    );
    t.type_keys(&[ENTER]);
    t.wait_for("A seal migration hands out no new keys", SCREEN);
    t.type_keys(&[ENTER]);
    let review = wait_for_all(
        &t,
        &["9/13 Review", "seal Shamir → awskms", "kms:CreateKey"],
        Duration::from_secs(30),
    );
    assert!(review.contains("Nothing has changed yet"), "{review}");
    assert!(
        says(&review, &format!("on {listen} (systemd) · seal Shamir → awskms")),
        "{review}"
    );
    // The plan, scrolled to its files: the package's, found through the unit.
    t.type_keys(&[DOWN; 7]);
    wait_for_all(
        &t,
        &[
            &format!("file:write {} (mode 0600)", layout.env_file),
            &format!("file:write {config} (kept; seal \"awskms\" added"),
        ],
        SCREEN,
    );
    t.type_keys(&[ENTER]);
    // The server says how many keys it needs; each is masked, never drawn.
    t.wait_for("10/13 Unseal keys", SCREEN);
    wait_for_all(
        &t,
        &[&format!("The server at {address} needs 2 unseal key(s); 0 entered.")],
        SCREEN,
    );
    t.type_keys(&[&host.keys[0]]);
    t.type_keys(&[ENTER]);
    t.wait_for("needs 2 unseal key(s); 1 entered.", SCREEN);
    t.type_keys(&[&host.keys[1], ENTER]);
    let typed = wait_for_all(
        &t,
        &[&format!(
            "2 keys entered, as the server at {address} needs. Enter starts the run."
        )],
        SCREEN,
    );
    assert!(typed.contains("Unseal key 2 of 2  ••••••••"), "{typed}");
    for key in &host.keys {
        assert!(!typed.contains(key.as_str()), "a key on the screen:\n{typed}");
    }
    t.type_keys(&[ENTER]);
    t.wait_for("11/13 Run", SCREEN);
    let run = t.wait_for("All done. Enter to continue.", Duration::from_secs(120));
    assert!(host.keys.iter().all(|k| !run.contains(k.as_str())), "{run}");
    for row in [
        &format!("✓ Start server {} is active", layout.unit),
        "✓ Initialize            migrated from Shamir to awskms with 2 unseal keys:",
        "– Save recovery keys    no new keys",
        "✓ Verify seal           type awskms, initialised, unsealed (OpenBao 2.6.2)",
        "✓ Restart check         restarted and unsealed itself through KMS",
    ] {
        assert!(says(&run, row), "{row}\n{run}");
    }
    t.type_keys(&[ENTER]);
    let done = t.wait_for("13/13 Done", SCREEN);
    assert!(
        says(
            &done,
            &format!("✓ {address} runs with seal awskms: initialised, unsealed.")
        ),
        "{done}"
    );
    t.type_keys(&[ENTER]);
    assert!(t.child.wait().unwrap().success());

    // As the operator would check it: awskms, the data there, their config kept.
    assert_eq!(rt.block_on(host.api.status()).seal_type, "awskms");
    assert_eq!(rt.block_on(host.api.read_secret(&host.root)), SECRET);
    let migrated = std::fs::read_to_string(&host.config).unwrap();
    assert!(migrated.starts_with(&host.operators), "{migrated}");
    assert_eq!(owner_and_mode(&host.config), host.as_packaged);
    let manifest = autounseal::run::ManifestStore::open(&state).unwrap().snapshot();
    let key_arn = manifest.kms_key.as_ref().unwrap().arn.clone();
    let old_key = manifest.access_key.as_ref().unwrap().id.clone();

    // A second launch: the start menu, with nothing left open.
    let mut t = wizard(&[]);
    let menu = t.wait_for("Check the setup (doctor)", SCREEN);
    assert!(menu.contains(&state.display().to_string()), "{menu}");
    assert!(!menu.contains("! "), "nothing left open:\n{menu}");
    t.type_keys(&[ENTER]);
    let doctor = t.wait_for("exit code 0: all ok", Duration::from_secs(60));
    assert!(
        says(&doctor, "0 warnings, 0 failures, 0 skipped · exit code 0: all ok"),
        "{doctor}"
    );
    for _ in 0..6 {
        t.type_keys(&["\x1b[6~"]); // PgDn
    }
    // The last links: the unit systemd runs, and the server it runs.
    let end = t.wait_for("[ ok ] unsealed", SCREEN);
    for said in [
        format!("[ ok ] exists: {} is loaded", layout.unit),
        format!("[ ok ] loads the env file: EnvironmentFile={}", layout.env_file),
        "[ ok ] active: ActiveState=active".to_string(),
        "[ ok ] seal type: awskms".to_string(),
    ] {
        assert!(says(&end, &said), "{said}\n{end}");
    }
    t.type_keys(&[ESC]);
    let rotated = rotate_from_the_menu(&mut t);
    let new_key = manifest_access_key(&state);
    assert_ne!(new_key, old_key);
    assert!(
        says(
            &rotated,
            &format!("Rotated: the server uses access key {new_key}; {old_key} is deleted.")
        ),
        "{rotated}"
    );
    t.type_keys(&[ESC]);
    t.wait_for("Check the setup (doctor)", SCREEN);
    // The menu keeps its choice (Rotate): Status is the one above.
    t.type_keys(&[UP, ENTER]);
    let status = t.wait_for("Next        all good", Duration::from_secs(30));
    assert!(says(&status, "seal awskms, initialised, unsealed"), "{status}");
    assert!(status.contains(&new_key), "{status}");
    t.type_keys(&[ESC]);
    t.wait_for("Check the setup (doctor)", SCREEN);
    t.type_keys(&["q", "y"]);
    assert!(t.child.wait().unwrap().success());
    rt.block_on(async {
        let ctx = context(&common::answers(&moto, d)).await;
        let keys = common::access_key_ids(&ctx, autounseal::answers::DEFAULT_USER).await;
        assert_eq!(keys, std::slice::from_ref(&new_key), "IAM holds the new key alone");
    });

    // The way back, headless, with the same keys (now the recovery keys) from a 0600 file.
    let keys_file = d.join("recovery-keys.txt");
    std::fs::write(&keys_file, host.keys.join("\n")).unwrap();
    std::fs::set_permissions(&keys_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let binary = Path::new(env!("CARGO_BIN_EXE_autounseal"));
    let out = sandbox.run(
        &state,
        binary,
        &[
            "destroy",
            "--yes",
            "--migrate-back",
            "--recovery-keys-file",
            keys_file.to_str().unwrap(),
        ],
    );
    let said = common::output_text(&out);
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains(&format!("{config} is as it was before autounseal")),
        "{said}"
    );
    assert_eq!(
        std::fs::read_to_string(&host.config).unwrap(),
        host.operators,
        "byte for byte"
    );
    assert_eq!(owner_and_mode(&host.config), host.as_packaged);
    let left: Vec<String> = std::fs::read_dir(host.config.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let name = Path::new(config).file_name().unwrap().to_string_lossy();
    assert_eq!(left, [name.as_ref()], "no env file, no backup left");
    sandbox.sh(&format!("systemctl restart {}", layout.unit));
    rt.block_on(async {
        let status = host
            .api
            .wait_for("sealed on Shamir", |s| s.sealed && s.initialized)
            .await;
        assert_eq!(status.seal_type, "shamir");
        host.api.unseal(&host.keys[1..]).await;
        assert_eq!(host.api.read_secret(&host.root).await, SECRET);
        common::aws_is_clean(&context(&common::answers(&moto, d)).await, &key_arn).await;
    });
    drop(sandbox);
    assert_eq!(
        host_etc(),
        host_before,
        "the host's /etc/passwd and units are as they were"
    );
}

/// The access key the manifest of `state` records.
fn manifest_access_key(state: &Path) -> String {
    let manifest = autounseal::run::ManifestStore::open(state).unwrap().snapshot();
    manifest.access_key.unwrap().id
}

#[test]
fn journey_a_packaged_hashicorp_host_in_the_wizard_to_awskms_and_back() {
    a_packaged_shamir_host_in_the_wizard_and_back(&HASHICORP);
}

#[test]
fn journey_a_packaged_openbao_host_in_the_wizard_to_awskms_and_back() {
    a_packaged_shamir_host_in_the_wizard_and_back(&OPENBAO);
}

/// Whether `name` is `recovery-keys-YYYY-MM-DDTHH-MM-SSZ.txt`.
fn is_a_keys_file_name(name: &str) -> bool {
    let Some(stamp) = name
        .strip_prefix("recovery-keys-")
        .and_then(|n| n.strip_suffix("Z.txt"))
    else {
        return false;
    };
    let shape = "dddd-dd-ddTdd-dd-dd";
    stamp.len() == shape.len()
        && stamp.chars().zip(shape.chars()).all(|(c, s)| match s {
            'd' => c.is_ascii_digit(),
            _ => c == s,
        })
}

/// Journey 2 of issue 18: the SSH session drops while Initialize runs (the pty closed,
/// a hang-up, once init has been sent to the server). The wizard saves the keys init
/// handed back to a 0600 file in the state folder and stops; the proof steps never ran.
/// The next session opens on the start menu, which names the keys file and the proof
/// steps that never ran; Status says the same; "Set up again" walks to Review (which no
/// longer says nothing has changed) and the run finishes the proofs without
/// initialising again. The menu then names the keys file alone, until it is deleted.
///
/// The hang-up comes while init is in flight (the manifest records `init_started` just
/// before the call, which takes seconds), so that the stop is seen before any proof
/// step could start: the run ends after init, as a dropped session at that moment does.
#[test]
fn journey_a_session_dropped_during_initialize_is_finished_from_the_start_menu() {
    use common::journey::{says, wait_for_all};
    use common::pty::{DOWN, ENTER, ESC, Terminal, answer_every_question, wizard_command};
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // autounseal's own state folder in the operator's home, as a new operator has it.
    let state = d.join(".local/share/autounseal");
    let guard = common::ServerGuard(state.clone());
    let mut a = server_answers(&moto, d);
    // The keys come back to the wizard, to be shown: nowhere else.
    a.init.recovery_keys_file = None;
    let file = d.join("answers.toml");
    std::fs::write(&file, a.to_toml()).unwrap();
    let wizard = |args: &[&str]| {
        let mut cmd = wizard_command(d);
        cmd.args(args);
        Terminal::start(cmd)
    };

    let mut t = wizard(&["--answers", file.to_str().unwrap()]);
    answer_every_question(&mut t);
    t.wait_for("iam:CreateAccessKey", Duration::from_secs(30));
    t.type_keys(&[ENTER]);
    t.wait_for("11/13 Run", SCREEN);
    let deadline = Instant::now() + Duration::from_secs(120);
    while !autounseal::run::ManifestStore::open(&state)
        .unwrap()
        .snapshot()
        .server
        .is_some_and(|s| s.init_started)
    {
        assert!(Instant::now() < deadline, "init never started:\n{}", t.contents());
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut child = t.hang_up();
    assert!(child.wait().unwrap().success(), "the wizard leaves cleanly");

    // Initialised, the keys in a new 0600 file of the state folder, no proof made.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let api = common::shamir::Api::new(&autounseal::vault::config::api_addr(&a));
    let status = rt.block_on(api.status());
    assert!(status.initialized && status.seal_type == "awskms", "{status:?}");
    let saved: Vec<PathBuf> = std::fs::read_dir(&state)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("recovery-keys-"))
        .collect();
    assert_eq!(saved.len(), 1, "{saved:?}");
    let keys_file = &saved[0];
    let name = keys_file.file_name().unwrap().to_string_lossy().into_owned();
    assert!(is_a_keys_file_name(&name), "{name}");
    assert_eq!(std::fs::metadata(keys_file).unwrap().mode() & 0o777, 0o600);
    let text = std::fs::read_to_string(keys_file).unwrap();
    let root = text
        .lines()
        .find_map(|l| l.strip_prefix("Initial Root Token: "))
        .expect("the root token is in the file")
        .to_string();
    let keys_line = format!(
        "! Recovery keys and a root token wait in {} (0600): store them offline, then delete the file.",
        keys_file.display()
    );
    let proofs_line = "! Verify seal and Restart check never ran: set up again (the wizard) or run \
                       `autounseal apply` to finish; nothing is created twice.";

    // A new session: the menu says what was left open.
    let mut t = wizard(&[]);
    let menu = wait_for_all(&t, &["Check the setup (doctor)", &keys_line, proofs_line], SCREEN);
    assert!(says(&menu, "Quit nothing is changed"), "the whole menu fits:\n{menu}");
    t.type_keys(&[DOWN, ENTER]);
    let status = t.wait_for("Next ", Duration::from_secs(30));
    for said in [
        format!("Keys file {} (store offline, then delete)", keys_file.display()),
        "Never ran Verify seal, Restart check".to_string(),
        format!(
            "Next store the recovery keys and root token in {} offline, then delete that file",
            keys_file.display()
        ),
    ] {
        assert!(says(&status, &said), "{said}\n{status}");
    }
    t.type_keys(&[ESC]);
    t.wait_for("Check the setup (doctor)", SCREEN);
    // From Status, two down: the wizard again, with this session's answers.
    t.type_keys(&[DOWN, DOWN, ENTER]);
    answer_every_question(&mut t);
    let review = wait_for_all(
        &t,
        &["9/13 Review", "This folder records a setup, or part of one."],
        Duration::from_secs(30),
    );
    assert!(!review.contains("Nothing has changed yet"), "{review}");
    t.wait_for("Enter  run it", Duration::from_secs(30));
    t.type_keys(&[ENTER]);
    let run = t.wait_for("All done. Enter to continue.", Duration::from_secs(120));
    for row in [
        "– Initialize already initialised by autounseal earlier: left as it is, no new keys",
        "✓ Verify seal type awskms, initialised, unsealed",
        "✓ Restart check restarted and unsealed itself through KMS",
    ] {
        assert!(says(&run, row), "{row}\n{run}");
    }
    t.type_keys(&[ENTER]);
    let done = t.wait_for("13/13 Done", SCREEN);
    assert!(says(&done, &keys_line[2..]), "the keys file is still named:\n{done}");
    assert!(!done.contains("never ran"), "{done}");
    t.type_keys(&[ENTER]);
    assert!(t.child.wait().unwrap().success());
    // The same server, never initialised again: the first root token still works.
    let token = rt.block_on(api.call(reqwest::Method::GET, "auth/token/lookup-self", Some(&root), None));
    assert!(token["data"]["policies"].to_string().contains("root"), "{token}");

    // The menu: the keys file alone, until it is gone.
    let mut t = wizard(&[]);
    let menu = wait_for_all(&t, &["Check the setup (doctor)", &keys_line], SCREEN);
    assert!(!menu.contains("never ran"), "{menu}");
    t.type_keys(&["q", "y"]);
    assert!(t.child.wait().unwrap().success());
    std::fs::remove_file(keys_file).unwrap();
    let mut t = wizard(&[]);
    let menu = t.wait_for("Check the setup (doctor)", SCREEN);
    assert!(!menu.contains("! "), "nothing left open:\n{menu}");
    t.type_keys(&["q", "y"]);
    assert!(t.child.wait().unwrap().success());
    drop(guard);
    assert_eq!(
        common::processes_mentioning(&d.to_string_lossy()),
        Vec::<String>::new(),
        "the server is stopped"
    );
}
