//! `autounseal rotate` with launch `systemd` against a real systemd (the sandbox, with a
//! private /etc): OpenBao's packaged unit restarted by `systemctl`, moto checking
//! credentials. Then a rotation whose restart fails for real: rolled back onto the key
//! in use, the unit running and unsealed.

use crate::common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Output};

use autounseal::answers::Launch;
use autounseal::run::ManifestStore;
use common::sandbox::Sandbox;
use common::{Moto, access_key_ids, encrypts_as, server_answers};

const UNIT: &str = "openbao.service";
const PROGRAM: &str = "/usr/local/bin/bao";
const CONFIG: &str = "/etc/openbao/openbao.hcl";
const ENV_FILE: &str = "/etc/openbao/openbao.env";
const USER: &str = "openbao";

/// A sandbox with a private /etc (a copy in `dir`), the OpenBao binary at `PROGRAM` and
/// its packaged unit, which runs it as `USER`.
fn packaged(dir: &Path) -> Sandbox {
    let sandbox = Sandbox::start();
    let real_bao = std::fs::canonicalize(common::bao_binary()).unwrap();
    sandbox.sh(&format!(
        "set -e\n\
         cp -a /etc {etc} && mount --bind {etc} /etc\n\
         mount -t tmpfs -o mode=755 tmpfs /usr/local/bin\n\
         touch {PROGRAM} && mount --bind {real_bao} {PROGRAM}\n\
         useradd --system --no-create-home --shell /usr/sbin/nologin {USER}\n\
         mkdir -p /etc/openbao\n\
         printf '[Unit]\\nDescription=packaged\\n[Service]\\nUser={USER}\\nGroup={USER}\\n\
         ExecStart={PROGRAM} server -config={CONFIG}\\nRestart=on-failure\\n' > /etc/systemd/system/{UNIT}\n\
         systemctl daemon-reload",
        etc = dir.join("etc").display(),
        real_bao = real_bao.display(),
    ));
    sandbox
}

/// The autounseal binary inside the sandbox, as `operator`.
fn run(sandbox: &Sandbox, d: &Path, operator: &(String, String), args: &[&str]) -> (bool, String) {
    let mut cmd = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/tools/systemd-sandbox"));
    common::isolate(&mut cmd, &d.join("state"));
    cmd.env("AWS_ACCESS_KEY_ID", &operator.0)
        .env("AWS_SECRET_ACCESS_KEY", &operator.1)
        .args(["run", sandbox.id()])
        .arg(env!("CARGO_BIN_EXE_autounseal"))
        .args(args);
    let out: Output = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The access key id and secret the env file holds (read through the private /etc).
fn env_key(d: &Path) -> (String, String) {
    let text = std::fs::read_to_string(d.join(ENV_FILE.trim_start_matches('/'))).unwrap();
    let value = |name: &str| text.lines().find_map(|l| l.strip_prefix(name)).unwrap().to_string();
    (value("AWS_ACCESS_KEY_ID="), value("AWS_SECRET_ACCESS_KEY="))
}

fn main_pid(sandbox: &Sandbox) -> String {
    sandbox.out(&format!("systemctl show -p MainPID --value {UNIT}"))
}

#[tokio::test]
async fn rotates_under_systemd_and_rolls_back_when_the_unit_does_not_come_back() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let d = dir.path();
    let sandbox = packaged(d);
    let mut a = server_answers(&moto, d);
    a.server.launch = Launch::Systemd;
    a.server.binary = PROGRAM.into();
    a.server.systemd_unit = Some(UNIT.into());
    a.output = Default::default();

    // An operator who is a real IAM user, so that moto can check every request.
    let (operator, operator_key) = common::operator(&a).await;

    let answers_file = d.join("answers.toml");
    std::fs::write(&answers_file, a.to_toml()).unwrap();
    let (ok, out) = run(
        &sandbox,
        d,
        &operator_key,
        &["apply", "--yes", "--answers", &answers_file.to_string_lossy()],
    );
    assert!(ok, "{out}");
    assert_eq!(common::server_of_unsealed(&a).await.seal_type, "awskms");
    common::let_moto_pass_kms_calls(&operator, "vault-auto-unseal").await;
    moto.enforce_auth().await;
    let arn = ManifestStore::open(&d.join("state"))
        .unwrap()
        .snapshot()
        .kms_key
        .unwrap()
        .arn;

    // The rotation: the unit restarted twice by systemctl, the old key gone.
    let old = env_key(d);
    let pid_before = main_pid(&sandbox);
    let (ok, out) = run(&sandbox, d, &operator_key, &["rotate", "--yes"]);
    assert!(ok, "{out}");
    assert!(out.contains("Restart without the old key: unsealed itself"), "{out}");
    let new = env_key(d);
    assert_ne!(new.0, old.0);
    assert!(
        !out.contains(new.1.as_str()) && !out.contains(old.1.as_str()),
        "a secret was printed"
    );
    assert_eq!(
        access_key_ids(&operator, "vault-auto-unseal").await,
        vec![new.0.clone()]
    );
    assert_ne!(main_pid(&sandbox), pid_before, "restarted by systemctl");
    let env = std::fs::metadata(d.join(ENV_FILE.trim_start_matches('/'))).unwrap();
    assert_eq!(env.mode() & 0o777, 0o600);
    let passwd = std::fs::read_to_string(d.join("etc/passwd")).unwrap();
    let uid: u32 = passwd
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{USER}:x:")))
        .and_then(|rest| rest.split(':').next())
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(env.uid(), uid, "the env file stays the service user's");
    let m = ManifestStore::open(&d.join("state")).unwrap().snapshot();
    assert_eq!((m.access_key.unwrap().id, m.rotation), (new.0.clone(), None));
    assert!(encrypts_as(&a, &new, &arn).await);
    assert!(!encrypts_as(&a, &old, &arn).await, "the old key is gone");
    sandbox.sh(&format!("systemctl restart {UNIT}"));
    assert_eq!(common::server_of_unsealed(&a).await.seal_type, "awskms");

    // The unit now starts the server only with the key in use: the restart onto a new
    // one fails for real (the unit keeps failing), and the rotation rolls back.
    let launcher = d.join("bao-current-key-only");
    std::fs::write(
        &launcher,
        format!(
            "#!/bin/sh\n[ \"$AWS_ACCESS_KEY_ID\" = \"{}\" ] || {{ echo 'cannot start with this key' >&2; exit 1; }}\nexec {PROGRAM} \"$@\"\n",
            new.0
        ),
    )
    .unwrap();
    std::fs::set_permissions(&launcher, std::fs::Permissions::from_mode(0o755)).unwrap();
    sandbox.sh(&format!(
        "sed -i 's|^ExecStart={PROGRAM}|ExecStart={}|' /etc/systemd/system/{UNIT} && systemctl daemon-reload",
        launcher.display()
    ));
    let (ok, out) = run(&sandbox, d, &operator_key, &["rotate", "--yes"]);
    assert!(!ok, "{out}");
    assert!(
        out.contains(&format!(
            "It was rolled back: the server runs on the old access key {} again",
            new.0
        )),
        "{out}"
    );
    assert!(out.contains(&format!("journalctl -u {UNIT}")), "where to look: {out}");
    assert_eq!(env_key(d), new);
    assert_eq!(
        access_key_ids(&operator, "vault-auto-unseal").await,
        vec![new.0.clone()]
    );
    assert_eq!(sandbox.out(&format!("systemctl is-active {UNIT}")).trim(), "active");
    assert_eq!(common::server_of_unsealed(&a).await.seal_type, "awskms");
    let m = ManifestStore::open(&d.join("state")).unwrap().snapshot();
    assert_eq!((m.access_key.unwrap().id, m.rotation), (new.0.clone(), None));
    assert!(encrypts_as(&a, &new, &arn).await);
}
