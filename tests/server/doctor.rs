//! `autounseal doctor` and `status` against a real setup: moto checking credentials and
//! policies, OpenBao 2.6.2 started by `apply`. Each fault is made for real, the finding
//! and its fix checked, then undone.

use crate::common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use autounseal::answers::{Answers, CredentialsStyle};
use autounseal::aws::AwsContext;
use autounseal::run::{Manifest, ManifestStore};
use common::{Moto, ServerGuard, isolate, server_answers};
use serde_json::Value;

/// A finished `apply`, by an operator who is a real IAM user of moto, so that once
/// moto is told to check credentials ([`Setup::enforce_auth`]) they still pass while a
/// deleted key is really refused.
struct Setup {
    /// First, so that it is dropped first: it reads the manifest in `dir` to stop the server.
    _guard: ServerGuard,
    moto: Moto,
    dir: tempfile::TempDir,
    answers: Answers,
    operator: AwsContext,
    operator_key: (String, String),
    manifest: Manifest,
}

impl Setup {
    async fn new() -> Setup {
        Setup::with(|_| {}).await
    }

    /// A finished `apply` of the test's answers as `change` leaves them.
    async fn with(change: impl FnOnce(&mut Answers)) -> Setup {
        let moto = Moto::start();
        let dir = tempfile::tempdir().unwrap();
        let mut answers = server_answers(&moto, dir.path());
        change(&mut answers);
        let (operator, operator_key) = common::operator(&answers).await;
        let guard = ServerGuard(dir.path().join("state"));
        let mut setup = Setup {
            _guard: guard,
            moto,
            dir,
            answers,
            operator,
            operator_key,
            manifest: Manifest::default(),
        };
        let file = setup.dir.path().join("answers.toml");
        std::fs::write(&file, setup.answers.to_toml()).unwrap();
        let out = setup.run(&["apply", "--yes", "--answers", &file.to_string_lossy()]);
        assert!(out.status.success(), "{}", text(&out));
        setup.manifest = ManifestStore::open(&setup.state()).unwrap().snapshot();
        setup
    }

    /// From now on moto checks every request's credentials and policies (its own
    /// control endpoint; moto cannot check the signature of some IAM writes, so this
    /// comes after the test's own changes).
    async fn enforce_auth(&self) {
        let url = format!("{}/moto-api/reset-auth", self.moto.url);
        let answer = reqwest::Client::builder()
            .no_proxy()
            .build()
            .unwrap()
            .post(url)
            .body("0")
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success(), "{answer:?}");
    }

    fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    fn run(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_autounseal"));
        isolate(&mut cmd, &self.state());
        cmd.env("AWS_ACCESS_KEY_ID", &self.operator_key.0)
            .env("AWS_SECRET_ACCESS_KEY", &self.operator_key.1)
            .args(args);
        cmd.output().unwrap()
    }

    /// `doctor --json`: its exit code and findings. Its output never holds the env
    /// file's secret.
    fn doctor(&self) -> (i32, Vec<Value>) {
        let out = self.run(&["doctor", "--json"]);
        let all = text(&out);
        if let Some(secret) = self.env_secret() {
            assert!(!all.contains(&secret), "the secret access key was printed");
        }
        let findings: Vec<Value> =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {all}"));
        (out.status.code().unwrap(), findings)
    }

    /// `doctor --textfile`: the metrics file it wrote, for node_exporter.
    fn metrics(&self) -> String {
        let path = self.dir.path().join("textfile_collector").join("autounseal.prom");
        let out = self.run(&["doctor", "--textfile", path.to_str().unwrap()]);
        assert!(out.status.code().is_some_and(|c| c <= 2), "{}", text(&out));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("no metrics ({e}): {}", text(&out)))
    }

    /// The value of the metric line that starts with `series` (name and labels).
    fn metric(&self, text: &str, series: &str) -> String {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
            .unwrap_or_else(|| panic!("no {series} in:\n{text}"))
            .to_string()
    }

    /// The saved key's secret, wherever its style keeps it.
    fn env_secret(&self) -> Option<String> {
        let key = self.answers.output.key_files().read_key()?;
        Some(key.expose_secret().to_string())
    }

    fn key_arn(&self) -> String {
        self.manifest.kms_key.as_ref().unwrap().arn.clone()
    }

    /// Runs doctor with `fault` made, checks it, then undoes the fault and checks that
    /// all is well again.
    fn with_file_changed(&self, path: &Path, change: impl FnOnce(&str) -> String, check: impl FnOnce(i32, &[Value])) {
        let before = std::fs::read_to_string(path).unwrap();
        std::fs::write(path, change(&before)).unwrap();
        let (code, findings) = self.doctor();
        check(code, &findings);
        std::fs::write(path, before).unwrap();
        assert_all_ok(self.doctor());
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The finding of `link` / `check`.
fn finding<'a>(findings: &'a [Value], link: &str, check: &str) -> &'a Value {
    findings
        .iter()
        .find(|f| f["link"] == link && f["check"] == check)
        .unwrap_or_else(|| panic!("no finding {link} / {check}: {findings:#?}"))
}

/// `link` / `check` has `verdict`, its evidence holds `evidence`, its fix holds `fix`.
fn assert_finding(findings: &[Value], link: &str, check: &str, verdict: &str, evidence: &str, fix: &str) {
    let f = finding(findings, link, check);
    assert_eq!(f["verdict"], verdict, "{f:#}");
    assert!(f["evidence"].as_str().unwrap().contains(evidence), "{f:#}");
    assert!(f["fix"].as_str().unwrap_or("").contains(fix), "{f:#}");
}

/// Exit 0 and every finding ok, or skipped only where a check does not apply here.
fn assert_all_ok((code, findings): (i32, Vec<Value>)) {
    let not_ok: Vec<_> = findings.iter().filter(|f| f["verdict"] != "ok").collect();
    assert_eq!(code, 0, "{not_ok:#?}");
    // Background launch: the unit is the one link that does not apply.
    assert_eq!(not_ok.len(), 1, "{not_ok:#?}");
    assert_eq!(
        (&not_ok[0]["link"], &not_ok[0]["verdict"]),
        (&"unit".into(), &"skipped".into())
    );
}

#[tokio::test]
async fn a_fresh_apply_is_all_ok_and_each_broken_file_is_found_with_its_fix() {
    let s = Setup::new().await;
    let (code, findings) = s.doctor();
    for (link, check) in [
        ("env_file", "mode"),
        ("env_file", "variables"),
        ("config", "key id"),
        ("credentials", "identity"),
        ("credentials", "access key"),
        ("policy", "least privilege"),
        ("key", "rotation"),
        ("round_trip", "encrypt and decrypt"),
        ("server", "unsealed"),
    ] {
        assert_eq!(finding(&findings, link, check)["verdict"], "ok");
    }
    assert_all_ok((code, findings));
    // The lines a person reads say the same.
    let out = s.run(&["doctor"]);
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("ok    server / unsealed: unsealed by KMS"), "{said}");
    assert!(said.contains("0 warnings, 0 failures, 1 skipped"), "{said}");

    let env = s.answers.output.env_file.clone();
    let shown = env.display().to_string();
    std::fs::set_permissions(&env, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, findings) = s.doctor();
    assert_eq!(code, 2);
    assert_finding(
        &findings,
        "env_file",
        "mode",
        "fail",
        "mode 0644",
        &format!("chmod 600 {shown}"),
    );
    std::fs::set_permissions(&env, std::fs::Permissions::from_mode(0o600)).unwrap();

    s.with_file_changed(
        &env,
        |t| {
            t.lines()
                .filter(|l| !l.starts_with("AWS_DEFAULT_REGION="))
                .collect::<Vec<_>>()
                .join("\n")
        },
        |code, findings| {
            assert_eq!(code, 2);
            assert_finding(
                findings,
                "env_file",
                "variables",
                "fail",
                "lacks AWS_DEFAULT_REGION",
                "add AWS_DEFAULT_REGION",
            );
        },
    );
    s.with_file_changed(
        &env,
        |t| t.replace("\nAWS_REGION=eu-west-1", "\nAWS_REGION=us-east-1"),
        |code, findings| {
            assert_eq!(code, 2);
            assert_finding(
                findings,
                "env_file",
                "region",
                "fail",
                "AWS_REGION=us-east-1 but the key is in eu-west-1",
                "set AWS_REGION=eu-west-1",
            );
        },
    );

    let config = s.answers.output.vault_config.clone();
    s.with_file_changed(
        &config,
        |t| {
            assert!(t.contains("seal \"awskms\" {"), "{t}");
            t.replace(
                "seal \"awskms\" {",
                "seal \"awskms\" {\n  access_key = \"AKIAIOSFODNN7EXAMPLE\"\n  secret_key = \"in-the-config-secret\"",
            )
        },
        |code, findings| {
            assert_eq!(code, 2);
            assert_finding(
                findings,
                "config",
                "no credentials",
                "fail",
                "holds access_key, secret_key",
                "remove access_key, secret_key",
            );
            assert!(
                !serde_json::to_string(findings)
                    .unwrap()
                    .contains("in-the-config-secret")
            );
        },
    );
    let arn = s.key_arn();
    s.with_file_changed(
        &config,
        |t| t.replace(&arn, "alias/someone-elses"),
        |code, findings| {
            assert_eq!(code, 2);
            assert_finding(
                findings,
                "config",
                "key id",
                "fail",
                "kms_key_id is \"alias/someone-elses\"",
                &format!("set kms_key_id = \"{arn}\""),
            );
        },
    );

    // status: what exists and the next step.
    let out = s.run(&["status", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["kms_key"]["state"], "Enabled");
    assert_eq!(status["access_key"]["status"], "Active");
    assert_eq!(status["access_key"]["age_days"], 0);
    assert_eq!(
        (&status["server"]["seal_type"], &status["server"]["sealed"]),
        (&"awskms".into(), &false.into())
    );
    assert_eq!(status["next"], "all good");
    let said = text(&s.run(&["status"]));
    assert!(
        said.contains("next:       all good") && said.contains("0 days old"),
        "{said}"
    );
}

#[tokio::test]
async fn a_fresh_shared_file_apply_is_all_ok_and_each_shared_file_fault_is_found_with_its_fix() {
    let s = Setup::with(|a| a.output.credentials = CredentialsStyle::SharedFile).await;
    let (code, findings) = s.doctor();
    for (link, check) in [
        ("env_file", "variables"),
        ("env_file", "no key"),
        ("config", "names the key's file"),
        ("shared_credentials", "mode"),
        ("shared_credentials", "owner"),
        ("shared_credentials", "profile"),
        ("credentials", "identity"),
        ("round_trip", "encrypt and decrypt"),
        ("server", "unsealed"),
    ] {
        assert_eq!(finding(&findings, link, check)["verdict"], "ok", "{link} / {check}");
    }
    assert_all_ok((code, findings));

    let shared = s.answers.output.shared_credentials_path();
    let shown = shared.display().to_string();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, findings) = s.doctor();
    assert_eq!(code, 2);
    assert_finding(
        &findings,
        "shared_credentials",
        "mode",
        "fail",
        "mode 0644",
        &format!("chmod 600 {shown}"),
    );
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o600)).unwrap();

    // The profile renamed: no key for the seal, so nothing of Vault's can be checked.
    s.with_file_changed(
        &shared,
        |t| t.replace("[vault-auto-unseal]", "[renamed]"),
        |code, findings| {
            assert_eq!(code, 2);
            assert_finding(
                findings,
                "shared_credentials",
                "profile",
                "fail",
                "has no profile [vault-auto-unseal] with aws_access_key_id and aws_secret_access_key",
                "autounseal apply",
            );
            assert_eq!(finding(findings, "credentials", "identity")["verdict"], "skipped");
        },
    );

    // The env file holds the region alone: no key, and nothing that leads to it.
    let env = s.answers.output.env_file.clone();
    let vars: Vec<String> = autounseal::credentials_file::read_env_vars(&env)
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(vars, ["AWS_REGION"]);
    // The key left in the env file (from the env style, say): Vault's AWS engines see it.
    let key = s.answers.output.key_files().read_key().unwrap();
    s.with_file_changed(
        &env,
        |t| {
            format!(
                "{t}AWS_ACCESS_KEY_ID={}\nAWS_SECRET_ACCESS_KEY={}\n",
                key.id,
                key.expose_secret()
            )
        },
        |code, findings| {
            assert_eq!(code, 1, "the server still unseals: a warning");
            assert_finding(
                findings,
                "env_file",
                "no key",
                "warn",
                "sets AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: the server's AWS secrets engine and auth method",
                &format!("remove AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY from {}", env.display()),
            );
        },
    );
    // The variables that point at the file: the engines' default chain follows them too.
    s.with_file_changed(
        &env,
        |t| format!("{t}AWS_SHARED_CREDENTIALS_FILE={shown}\nAWS_PROFILE=vault-auto-unseal\n"),
        |code, findings| {
            assert_eq!(code, 1);
            assert_finding(
                findings,
                "env_file",
                "no key",
                "warn",
                "sets AWS_SHARED_CREDENTIALS_FILE, AWS_PROFILE: the server's AWS secrets engine",
                "remove AWS_SHARED_CREDENTIALS_FILE, AWS_PROFILE",
            );
        },
    );
    // The config's seal stanza names another profile than the one that holds the key.
    let config = s.answers.output.vault_config.clone();
    s.with_file_changed(
        &config,
        |t| {
            t.replace(
                "shared_creds_profile = \"vault-auto-unseal\"",
                "shared_creds_profile = \"default\"",
            )
        },
        |code, findings| {
            assert_eq!(code, 2);
            assert_finding(
                findings,
                "config",
                "names the key's file",
                "fail",
                &format!("shared_creds_profile \"default\", but the key is in {shown}, profile vault-auto-unseal"),
                "shared_creds_profile = \"vault-auto-unseal\"",
            );
        },
    );
}

#[tokio::test]
async fn each_broken_aws_link_and_a_stopped_server_are_found_with_their_fix() {
    let s = Setup::new().await;
    let (iam, kms) = (&s.operator.iam, &s.operator.kms);
    let arn = s.key_arn();
    // moto's KMS writes take the key's id, not its ARN.
    let key_id = s.manifest.kms_key.clone().unwrap().key_id;
    let policy = s.manifest.iam_policy.clone().unwrap().arn;
    let user = s.manifest.iam_user.clone().unwrap().name;
    let access_key = s.manifest.access_key.clone().unwrap().id;
    // The same findings as metrics: all well.
    let metrics = s.metrics();
    let node = metrics
        .lines()
        .find_map(|l| l.strip_prefix("autounseal_doctor_exit_code{node=\""))
        .and_then(|l| l.split('"').next())
        .unwrap_or_else(|| panic!("no exit code:\n{metrics}"))
        .to_string();
    for (series, value) in [
        ("autounseal_doctor_exit_code", "0"),
        ("autounseal_access_key_age_days", "0"),
        ("autounseal_server_sealed", "0"),
    ] {
        assert_eq!(
            s.metric(&metrics, &format!("{series}{{node=\"{node}\"}}")),
            value,
            "{metrics}"
        );
    }
    let enabled = format!("autounseal_kms_key_enabled{{node=\"{node}\",state=\"Enabled\"}}");
    assert_eq!(s.metric(&metrics, &enabled), "1");

    // The policy widened to a wildcard, by a new default version.
    let wild = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}"#;
    iam.create_policy_version()
        .policy_arn(&policy)
        .policy_document(wild)
        .set_as_default(true)
        .send()
        .await
        .unwrap();
    let (code, findings) = s.doctor();
    assert_eq!(code, 2);
    assert_finding(
        &findings,
        "policy",
        "least privilege",
        "fail",
        "default version v2",
        &format!("aws iam create-policy-version --policy-arn {policy} --set-as-default"),
    );
    iam.set_default_policy_version()
        .policy_arn(&policy)
        .version_id("v1")
        .send()
        .await
        .unwrap();
    assert_all_ok(s.doctor());

    kms.disable_key_rotation().key_id(&key_id).send().await.unwrap();
    let (code, findings) = s.doctor();
    assert_eq!(code, 1, "a warning only");
    assert_finding(
        &findings,
        "key",
        "rotation",
        "warn",
        "rotation of the key material is off",
        "kms enable-key-rotation",
    );
    kms.enable_key_rotation().key_id(&key_id).send().await.unwrap();

    kms.disable_key().key_id(&key_id).send().await.unwrap();
    let (code, findings) = s.doctor();
    assert_eq!(code, 2);
    assert_finding(
        &findings,
        "key",
        "state",
        "fail",
        "is Disabled",
        &format!("kms enable-key --key-id {arn}"),
    );
    let metrics = s.metrics();
    let disabled = format!("autounseal_kms_key_enabled{{node=\"{node}\",state=\"Disabled\"}}");
    assert_eq!(s.metric(&metrics, &disabled), "0");
    let check = format!("autounseal_check{{node=\"{node}\",link=\"KMS key\",check=\"state\"}}");
    assert_eq!(s.metric(&metrics, &check), "2");
    assert_eq!(
        s.metric(&metrics, &format!("autounseal_doctor_exit_code{{node=\"{node}\"}}")),
        "2"
    );
    kms.enable_key().key_id(&key_id).send().await.unwrap();

    kms.schedule_key_deletion()
        .key_id(&key_id)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    let (code, findings) = s.doctor();
    assert_eq!(code, 2);
    assert_finding(
        &findings,
        "key",
        "state",
        "fail",
        "PendingDeletion",
        "kms cancel-key-deletion",
    );
    assert_eq!(finding(&findings, "key", "rotation")["verdict"], "skipped");
    kms.cancel_key_deletion().key_id(&key_id).send().await.unwrap();
    kms.enable_key().key_id(&key_id).send().await.unwrap();
    assert_all_ok(s.doctor());

    // Inactive: IAM says so (moto itself still takes an inactive key).
    let set_status = |status: &'static str| {
        iam.update_access_key()
            .user_name(&user)
            .access_key_id(&access_key)
            .status(status.into())
            .send()
    };
    set_status("Inactive").await.unwrap();
    let (code, findings) = s.doctor();
    assert_eq!(code, 2);
    assert_finding(
        &findings,
        "credentials",
        "access key",
        "fail",
        "is Inactive",
        &format!("aws iam update-access-key --user-name {user} --access-key-id {access_key} --status Active"),
    );
    set_status("Active").await.unwrap();
    assert_all_ok(s.doctor());

    // Sealed by hand (as an operator does in an incident): it stays sealed until restarted.
    let keys = std::fs::read_to_string(s.answers.init.recovery_keys_file.as_ref().unwrap()).unwrap();
    let root_token = keys
        .lines()
        .find_map(|l| l.strip_prefix("Initial Root Token: "))
        .unwrap();
    let address = &s.manifest.server.as_ref().unwrap().address;
    let sealed = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .put(format!("{address}/v1/sys/seal"))
        .header("X-Vault-Token", root_token)
        .send()
        .await
        .unwrap();
    assert!(sealed.status().is_success(), "{sealed:?}");
    let (code, findings) = s.doctor();
    assert_eq!(code, 2);
    assert_finding(
        &findings,
        "server",
        "unsealed",
        "fail",
        "the server is sealed",
        "restart it",
    );
    assert_eq!(finding(&findings, "server", "seal type")["verdict"], "ok");
    let metrics = s.metrics();
    assert_eq!(
        s.metric(&metrics, &format!("autounseal_server_sealed{{node=\"{node}\"}}")),
        "1"
    );

    // The server stopped: unreachable, and how to start it.
    let pid = s.manifest.server.as_ref().unwrap().pid.unwrap();
    assert!(autounseal::vault::launch::stop_background(pid, Duration::from_secs(15)));
    let (code, findings) = s.doctor();
    assert_eq!(code, 2);
    assert_finding(
        &findings,
        "server",
        "reachable",
        "fail",
        "cannot reach the server",
        "autounseal apply",
    );
    assert_eq!(finding(&findings, "server", "unsealed")["verdict"], "skipped");
    let said = text(&s.run(&["status"]));
    assert!(
        said.contains("not reachable") && said.contains("autounseal doctor"),
        "{said}"
    );

    // The access key deleted: the key is refused as Vault would use it.
    s.enforce_auth().await;
    iam.delete_access_key()
        .user_name(&user)
        .access_key_id(&access_key)
        .send()
        .await
        .unwrap();
    let (code, findings) = s.doctor();
    assert_eq!(code, 2);
    assert_finding(
        &findings,
        "credentials",
        "identity",
        "fail",
        "InvalidClientTokenId",
        "deleted, inactive",
    );
    assert_finding(
        &findings,
        "credentials",
        "access key",
        "fail",
        "it was deleted",
        "autounseal apply",
    );
    assert_finding(
        &findings,
        "round_trip",
        "encrypt and decrypt",
        "fail",
        &format!("as {access_key}: kms:DescribeKey answered"),
        "see the credentials link",
    );
}

#[test]
fn a_folder_with_no_setup_is_a_failure_that_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_autounseal"));
    isolate(&mut cmd, dir.path());
    let out = cmd.args(["doctor"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("records no setup to check"), "{}", text(&out));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_autounseal"));
    isolate(&mut cmd, dir.path());
    let out = cmd.args(["status"]).output().unwrap();
    assert!(out.status.success());
    assert!(
        text(&out).contains("next:       nothing is set up here"),
        "{}",
        text(&out)
    );
}

#[tokio::test]
async fn a_server_the_operator_starts_is_found_from_the_config() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    // Launch none: no server is recorded; its address is the config's api_addr.
    let a = common::answers(&moto, dir.path());
    let file = dir.path().join("answers.toml");
    std::fs::write(&file, a.to_toml()).unwrap();
    let run = |args: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_autounseal"));
        isolate(&mut cmd, &dir.path().join("state"));
        cmd.env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["apply", "--yes", "--answers", &file.to_string_lossy()]);
    assert!(out.status.success(), "{}", text(&out));
    let out = run(&["doctor", "--json"]);
    let findings: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_finding(
        &findings,
        "server",
        "reachable",
        "fail",
        &format!("cannot reach the server at http://{}", a.server.listen),
        &format!("set -a; . {}; set +a;", a.output.env_file.display()),
    );
    // Everything before the server is fine.
    let failed: Vec<_> = findings.iter().filter(|f| f["verdict"] == "fail").collect();
    assert_eq!(failed.len(), 1, "{failed:#?}");
    let said = text(&run(&["status"]));
    assert!(said.contains("(none): not reachable"), "{said}");

    // Without the operator's own credentials the reads made as them are skipped, and
    // what Vault does, as the env file's key, is still checked: the key's state too, read
    // as the server (its policy allows DescribeKey), but not its rotation.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_autounseal"));
    isolate(&mut cmd, &dir.path().join("state"));
    let out = cmd.args(["doctor", "--json"]).output().unwrap();
    let findings: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_finding(
        &findings,
        "credentials",
        "operator",
        "fail",
        "no usable AWS credentials",
        "--profile",
    );
    for (link, check) in [
        ("credentials", "access key"),
        ("policy", "attached"),
        ("key", "rotation"),
    ] {
        assert_finding(
            &findings,
            link,
            check,
            "skipped",
            "your own AWS credentials do not work",
            "",
        );
    }
    assert_eq!(finding(&findings, "credentials", "identity")["verdict"], "ok");
    assert_eq!(finding(&findings, "key", "state")["verdict"], "ok");
    assert_eq!(finding(&findings, "round_trip", "encrypt and decrypt")["verdict"], "ok");
}
