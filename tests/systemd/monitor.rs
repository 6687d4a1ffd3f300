//! `monitor install` under a real systemd (the sandbox, with a private /etc):
//! the timer runs doctor, its metrics parse with Prometheus's own parser and change when
//! a check fails; `monitor remove` and `destroy` take the timer away.

use crate::common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use autounseal::run::ManifestStore;
use autounseal::run::manifest::FileRole;
use common::sandbox::Sandbox;
use common::{Moto, answers, prometheus_samples};

/// `autounseal ARGS` in the sandbox, as root from a shell: a clean environment whose AWS
/// credentials file is the test's, the instance metadata address never asked.
fn autounseal(sandbox: &Sandbox, state: &Path, credentials: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/tools/systemd-sandbox"));
    cmd.env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("HOME", "/root")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_SHARED_CREDENTIALS_FILE", credentials)
        .env("AWS_CONFIG_FILE", "/nonexistent/aws-config")
        .env("AUTOUNSEAL_STATE_DIR", state)
        .env("NO_COLOR", "1")
        .args(["run", sandbox.id(), env!("CARGO_BIN_EXE_autounseal")])
        .args(args);
    cmd.output().unwrap()
}

fn said(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The value of the sample `name` whose labels include `with`.
fn sample(text: &str, name: &str, with: &[(&str, &str)]) -> Option<f64> {
    prometheus_samples(text)
        .into_iter()
        .find(|(n, labels, _)| n == name && with.iter().all(|(k, v)| labels.get(*k).map(String::as_str) == Some(*v)))
        .map(|(_, _, value)| value)
}

#[tokio::test]
async fn doctor_runs_on_its_timer_its_metrics_parse_and_change_and_destroy_takes_it_away() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let state = d.join("state");
    let metrics = d.join("textfile/autounseal.prom");
    let a = answers(&moto, d);
    std::fs::write(d.join("answers.toml"), a.to_toml()).unwrap();

    // The profile root's timer reads IAM and KMS with, in a file of the test's.
    let credentials = d.join("aws-credentials");
    std::fs::write(
        &credentials,
        "[monitor]\naws_access_key_id = testing\naws_secret_access_key = testing\n",
    )
    .unwrap();
    let sandbox = Sandbox::start();
    // A private /etc (the units go there), and two drop-ins a test needs: the timer's
    // boot delay cut to a second, so that it fires as soon as it starts; for the service,
    // the test's credentials file and the metadata address off.
    sandbox.sh(&format!(
        "cp -a /etc {d}/etc && mount --bind {d}/etc /etc\n\
         mkdir -p /etc/systemd/system/autounseal-doctor.timer.d /etc/systemd/system/autounseal-doctor.service.d\n\
         printf '[Timer]\\nOnBootSec=\\nOnBootSec=1s\\n' > /etc/systemd/system/autounseal-doctor.timer.d/test.conf\n\
         printf '[Service]\\nEnvironment=AWS_EC2_METADATA_DISABLED=true AWS_SHARED_CREDENTIALS_FILE={creds}\\n' \
           > /etc/systemd/system/autounseal-doctor.service.d/test.conf",
        d = d.display(),
        creds = credentials.display()
    ));
    let host_units_before = std::fs::read_dir("/etc/systemd/system").unwrap().count();

    let with_keys = |args: &[&str]| {
        let mut all = vec!["--profile", "monitor"];
        all.extend(args);
        autounseal(&sandbox, &state, &credentials, &all)
    };
    let answers_file = d.join("answers.toml");
    let out = with_keys(&["apply", "--yes", "--answers", answers_file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", said(&out));

    let out = with_keys(&["monitor", "install", "--textfile", metrics.to_str().unwrap()]);
    assert!(out.status.success(), "{}", said(&out));
    assert!(said(&out).contains("root's AWS profile \"monitor\""), "{}", said(&out));
    let service = std::fs::read_to_string(d.join("etc/systemd/system/autounseal-doctor.service")).unwrap();
    assert!(
        service.contains(&format!("--profile monitor doctor --textfile {}", metrics.display())),
        "{service}"
    );
    assert_eq!(
        std::fs::read_dir("/etc/systemd/system").unwrap().count(),
        host_units_before,
        "the machine's own /etc/systemd is untouched"
    );
    assert_eq!(
        sandbox.out("systemctl is-enabled autounseal-doctor.timer").trim(),
        "enabled"
    );

    // The timer itself ran doctor, which wrote metrics Prometheus's parser reads.
    let seen = |what: &str| {
        sandbox
            .out(&format!("systemctl show {what} --value"))
            .trim()
            .to_string()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let triggered = seen("autounseal-doctor.timer -p LastTriggerUSec");
        let state = seen("autounseal-doctor.service -p ActiveState");
        if !matches!(triggered.as_str(), "" | "n/a" | "0") && state == "inactive" && metrics.exists() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the timer's first run: triggered {triggered:?}, service {state:?}, metrics {}\n{}",
            metrics.exists(),
            sandbox.out("systemctl status autounseal-doctor.timer autounseal-doctor.service --no-pager; journalctl -u autounseal-doctor --no-pager -n 30; true")
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let text = std::fs::read_to_string(&metrics).unwrap();
    // The node is named by its state folder: this setup runs no server of its own.
    let node = [("node", "state")];
    assert_eq!(sample(&text, "autounseal_kms_key_enabled", &node), Some(1.0), "{text}");
    assert_eq!(
        sample(&text, "autounseal_check", &[("link", "KMS key"), ("check", "state")]),
        Some(0.0),
        "{text}"
    );
    assert!(sample(&text, "autounseal_doctor_last_run_timestamp_seconds", &node).is_some());

    // The key disabled: the next run says so.
    let operator = common::context(&a).await;
    let key_id = ManifestStore::open(&state).unwrap().snapshot().kms_key.unwrap().key_id;
    operator.kms.disable_key().key_id(&key_id).send().await.unwrap();
    sandbox.sh("systemctl start autounseal-doctor.service");
    let text = std::fs::read_to_string(&metrics).unwrap();
    assert_eq!(
        sample(&text, "autounseal_kms_key_enabled", &[("state", "Disabled")]),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "autounseal_check", &[("link", "KMS key"), ("check", "state")]),
        Some(2.0)
    );
    operator.kms.enable_key().key_id(&key_id).send().await.unwrap();

    // monitor remove: the timer stopped, its units gone; installed again, destroy takes it.
    let out = with_keys(&["monitor", "remove"]);
    assert!(out.status.success(), "{}", said(&out));
    let unit_file = d.join("etc/systemd/system/autounseal-doctor.timer");
    assert!(!unit_file.exists());
    assert!(
        !sandbox
            .out("systemctl list-timers --all --no-pager")
            .contains("autounseal-doctor"),
        "no timer left"
    );
    let out = with_keys(&["monitor", "install", "--textfile", metrics.to_str().unwrap()]);
    assert!(out.status.success(), "{}", said(&out));
    assert!(unit_file.exists());
    let out = with_keys(&["destroy", "--yes"]);
    assert!(out.status.success(), "{}", said(&out));
    assert!(
        said(&out).contains("autounseal-doctor.timer stopped and disabled"),
        "{}",
        said(&out)
    );
    assert!(!unit_file.exists() && !d.join("etc/systemd/system/autounseal-doctor.service").exists());
    assert!(
        !sandbox
            .out("systemctl list-timers --all --no-pager")
            .contains("autounseal-doctor")
    );
    let left = ManifestStore::open(&state).unwrap().snapshot();
    assert!(!left.files.iter().any(|f| f.role == FileRole::MonitorUnit));
}
