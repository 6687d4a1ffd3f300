//! The real `autounseal` binary, as an operator runs it, against moto.

use crate::common;

use std::path::Path;
use std::process::{Command, Output};

use autounseal::credentials_file;
use common::{Moto, isolate};

fn autounseal(state: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_autounseal"));
    isolate(&mut cmd, state);
    cmd
}

fn with_operator_keys(cmd: &mut Command) -> &mut Command {
    cmd.env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn write_answers(dir: &Path, moto: &Moto) -> std::path::PathBuf {
    let path = dir.join("answers.toml");
    let body = format!(
        r#"
region = "eu-west-1"
endpoint_url = "{url}"

[output]
env_file = "{dir}/etc/vault.env"
credentials_csv = "{dir}/etc/vault-auto-unseal.csv"
vault_config = "{dir}/etc/vault.hcl"

[server]
launch = "none"
tls_disable = true
storage_path = "{dir}/data"

[init]
enabled = false

[timing]
poll_interval_ms = 100
required_successes = 2
"#,
        url = moto.url,
        dir = dir.display()
    );
    std::fs::write(&path, body).unwrap();
    path
}

#[test]
fn plan_apply_again_and_destroy_through_the_binary() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let answers = write_answers(dir.path(), &moto);

    let plan = with_operator_keys(autounseal(&state).args(["plan", "--answers"]).arg(&answers))
        .output()
        .unwrap();
    let plan_text = text(&plan);
    assert!(plan.status.success(), "{plan_text}");
    for expected in [
        "kms:CreateKey",
        "iam:CreateUser",
        "iam:CreatePolicy",
        "iam:CreateAccessKey",
        "\"kms:DescribeKey\"",
        "aws iam create-user",
    ] {
        assert!(plan_text.contains(expected), "plan lacks {expected}:\n{plan_text}");
    }
    assert!(!dir.path().join("etc/vault.env").exists(), "plan wrote nothing");
    // "In this order" is the order every time: the key's calls, then the user's.
    for _ in 0..3 {
        let again = with_operator_keys(autounseal(&state).args(["plan", "--answers"]).arg(&answers))
            .output()
            .unwrap();
        let listed = text(&again);
        let at = |action: &str| {
            listed
                .find(&format!(". {action} "))
                .unwrap_or_else(|| panic!("{action}: {listed}"))
        };
        let order = [
            at("kms:CreateKey"),
            at("kms:EnableKeyRotation"),
            at("kms:CreateAlias"),
            at("iam:CreateUser"),
            at("iam:CreatePolicy"),
        ];
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{listed}");
    }

    let apply = with_operator_keys(autounseal(&state).args(["apply", "--yes", "--answers"]).arg(&answers))
        .output()
        .unwrap();
    let apply_text = text(&apply);
    assert!(apply.status.success(), "{apply_text}");
    assert!(
        apply_text.contains("ok   KMS key: created") && apply_text.contains("ok   Verify credentials"),
        "{apply_text}"
    );
    let secret = credentials_file::read_env_key(&dir.path().join("etc/vault.env")).unwrap();

    let again = with_operator_keys(autounseal(&state).args(["apply", "--yes", "--answers"]).arg(&answers))
        .output()
        .unwrap();
    let again_text = text(&again);
    assert!(again.status.success(), "{again_text}");
    assert!(
        !again_text.contains("created"),
        "a second run creates nothing:\n{again_text}"
    );

    let plan_again = with_operator_keys(autounseal(&state).args(["plan", "--answers"]).arg(&answers))
        .output()
        .unwrap();
    assert!(text(&plan_again).contains("Nothing to change"), "{}", text(&plan_again));

    let destroy = with_operator_keys(autounseal(&state).args(["destroy", "--yes"]))
        .output()
        .unwrap();
    let destroy_text = text(&destroy);
    assert!(destroy.status.success(), "{destroy_text}");
    assert!(
        destroy_text.contains("can never be unsealed"),
        "the key deletion warning is shown"
    );
    assert!(!dir.path().join("etc/vault.env").exists());
    assert!(!dir.path().join("etc/vault-auto-unseal.csv").exists());
    assert!(!state.join("manifest.json").exists());

    // The secret went to its files only: never to the terminal or the log.
    let log = std::fs::read_to_string(state.join("autounseal.log")).unwrap();
    assert!(log.contains("progress"), "the log is written");
    for shown in [&plan_text, &apply_text, &again_text, &destroy_text, &log] {
        assert!(!shown.contains(secret.expose_secret()));
    }
}

#[test]
fn apply_without_yes_and_without_a_terminal_changes_nothing() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let answers = write_answers(dir.path(), &moto);
    let out = with_operator_keys(autounseal(&state).args(["apply", "--answers"]).arg(&answers))
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("nothing was changed") && text(&out).contains("--yes"),
        "{}",
        text(&out)
    );
    assert!(!state.join("manifest.json").exists());

    let destroy = with_operator_keys(autounseal(&state).arg("destroy"))
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(text(&destroy).contains("Nothing to destroy"), "{}", text(&destroy));
}

#[test]
fn missing_credentials_say_how_to_set_them_up() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let answers = write_answers(dir.path(), &moto);
    let out = autounseal(&dir.path().join("state"))
        .args(["apply", "--yes", "--answers"])
        .arg(&answers)
        .output()
        .unwrap();
    let msg = text(&out);
    assert_eq!(out.status.code(), Some(1), "{msg}");
    assert!(
        msg.contains("no usable AWS credentials") && msg.contains("aws configure") && msg.contains("--profile"),
        "{msg}"
    );
    assert!(!msg.contains("panicked"));
}

#[test]
fn every_bad_answer_is_listed_before_any_call() {
    let dir = tempfile::tempdir().unwrap();
    let answers = dir.path().join("bad.toml");
    std::fs::write(
        &answers,
        r#"
region = "eu-wset-1"
endpoint_url = "not a url"
[kms]
alias = "vault-auto-unseal"
[iam]
user_name = "vault auto unseal"
policy_name = "kms/policy"
[server]
tls_disable = true
[init]
recovery_shares = 3
recovery_threshold = 1
"#,
    )
    .unwrap();
    let out = autounseal(&dir.path().join("state"))
        .args(["plan", "--answers"])
        .arg(&answers)
        .output()
        .unwrap();
    let msg = text(&out);
    assert_eq!(out.status.code(), Some(1));
    for expected in [
        "region: \"eu-wset-1\" is not an AWS region that offers KMS; did you mean one of: eu-central-1",
        "endpoint_url: \"not a url\" is not a URL",
        "kms.alias: \"vault-auto-unseal\" must start with \"alias/\"",
        "iam.user_name: \"vault auto unseal\" has characters IAM user names cannot have",
        "iam.policy_name: \"kms/policy\" has characters",
        "init.recovery_threshold: with more than one share the threshold must be at least 2",
    ] {
        assert!(msg.contains(expected), "missing {expected:?} in:\n{msg}");
    }

    std::fs::write(
        &answers,
        "region = \"us-east-1\"\n[kms]\nalias = \"alias/aws/ebs\"\n[server]\ntls_disable = true\n",
    )
    .unwrap();
    let msg = text(
        &autounseal(&dir.path().join("state"))
            .args(["plan", "--answers"])
            .arg(&answers)
            .output()
            .unwrap(),
    );
    assert!(msg.contains("kms.alias") && msg.contains("reserves"), "{msg}");

    std::fs::write(&answers, "region = \"us-east-1\"\n[iam]\nuser = \"x\"\n").unwrap();
    let msg = text(
        &autounseal(&dir.path().join("state"))
            .args(["plan", "--answers"])
            .arg(&answers)
            .output()
            .unwrap(),
    );
    assert!(
        msg.contains("unknown field `user`") && msg.contains("user_name"),
        "{msg}"
    );

    let msg = text(
        &autounseal(&dir.path().join("state"))
            .args(["plan", "--answers", "/nonexistent/answers.toml"])
            .output()
            .unwrap(),
    );
    assert!(
        msg.contains("cannot read the answers file /nonexistent/answers.toml"),
        "{msg}"
    );
}

#[test]
fn regions_and_help_are_there_for_newcomers() {
    let dir = tempfile::tempdir().unwrap();
    let out = autounseal(dir.path()).arg("regions").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("eu-west-1        Europe (Ireland)"));
    let help = autounseal(dir.path()).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("apply") && help.contains("plan") && help.contains("destroy") && help.contains("--state-dir")
    );
}

/// The wizard without a terminal (line prompts) on `state`, given `answers`, one a line.
fn plain_wizard(state: &Path, answers: &[&str]) -> Output {
    use std::io::Write;
    let mut child = with_operator_keys(&mut autounseal(state))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    for line in answers {
        writeln!(stdin, "{line}").unwrap();
    }
    drop(stdin);
    child.wait_with_output().unwrap()
}

#[test]
fn without_a_terminal_the_wizard_asks_in_plain_lines_with_the_same_checks() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    // One answer a line; the first region is refused by the same validator as the screens.
    let answers = [
        "",          // profile
        &moto.url,   // endpoint
        "eu-wset-1", // a typo: asked again
        "eu-west-1", // region
        "1",         // a new key, by its number
        "",          // alias
        "",          // description
        "",          // rotation
        "eu-west-1", // a replica in the key's own region: asked again
        "",          // no replica
        "",          // no alarm
        "",          // user
        "",          // policy
        &format!("{d}/etc/vault.hcl"),
        &format!("{d}/etc/vault.env"),
        "",              // the key in the env file
        "",              // no CSV
        "vault",         // binary
        "none",          // launch: files only, by its name
        "single server", // layout
        "",              // listen
        &format!("{d}/data"),
        "yes", // plain HTTP
        "yes", // go ahead
    ];
    let out = plain_wizard(&dir.path().join("state"), &answers);
    let output = text(&out);
    assert!(out.status.success(), "{output}");
    assert!(
        output.contains("error: \"eu-wset-1\" is not an AWS region that offers KMS"),
        "{output}"
    );
    assert!(
        output.contains("error: eu-west-1 is the key's own region; a replica goes to another region"),
        "{output}"
    );
    // Input from a pipe is echoed: each prompt starts a line of its own.
    assert_eq!(
        output.lines().filter(|l| l.starts_with(" 3. AWS region")).count(),
        2,
        "asked, refused, asked again:\n{output}"
    );
    // Every prompt is a question of the table, in its words, after its help.
    let labels: Vec<&str> = autounseal::questions::QUESTIONS.iter().map(|q| q.label).collect();
    let mut asked = 0;
    // The questions come before the account is checked and the plan is listed.
    let questions = &output[..output.find("\nAWS account").expect("the account is checked")];
    let lines: Vec<&str> = questions.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let Some((number, rest)) = line.trim_start().split_once(". ") else {
            continue;
        };
        if number.parse::<u32>().is_err() {
            continue;
        }
        let label = labels
            .iter()
            .find(|l| rest.starts_with(**l) && rest[l.len()..].starts_with([' ', ':', '[', '(']))
            .unwrap_or_else(|| panic!("{line:?} is no question of the table"));
        let help = autounseal::questions::QUESTIONS
            .iter()
            .find(|q| q.label == *label)
            .unwrap()
            .help;
        assert!(
            lines[..i].iter().rev().take(3).any(|l| l.trim() == help),
            "{line:?} without its help"
        );
        asked += 1;
    }
    assert!(asked >= 18, "{asked} prompts:\n{output}");
    // The plan and the exact policy come before the question that goes ahead.
    let plan_at = output
        .find("apply would make these changes")
        .expect("the plan is shown");
    let policy_at = output.find("\"kms:DescribeKey\"").expect("the policy is shown");
    let question_at = output.find("Create and start everything now").unwrap();
    assert!(plan_at < question_at && policy_at < question_at, "{output}");
    assert!(
        output.contains("Attach policy: vault-auto-unseal-kms to vault-auto-unseal"),
        "{output}"
    );
    assert!(
        output.contains("ok   KMS key: created") && output.contains("ok   Vault config"),
        "{output}"
    );
    assert!(dir.path().join("etc/vault.env").exists() && dir.path().join("etc/vault.hcl").exists());
    assert!(
        dir.path().join("state/wizard-answers.toml").exists(),
        "the answers are kept for next time"
    );
}

/// OpenBao 2.7 named as the binary: the line prompts ask for its KMS plugin right
/// after it, with where to download it, and refuse what is no program; the plugin then
/// goes where the config declares it.
#[test]
fn the_plain_wizard_asks_openbao_2_7_for_its_kms_plugin() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let script = dir.path().join("not-a-plugin");
    std::fs::write(&script, "#!/bin/sh\n").unwrap();
    let bao = common::bao_2_7();
    let sum = autounseal::vault::plugin::sha256_of(Path::new("/bin/true")).unwrap();
    let answers = [
        "",
        &moto.url,
        "eu-west-1",
        "1",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        &format!("{d}/etc/openbao.hcl"),
        &format!("{d}/etc/openbao.env"),
        "",
        "",
        bao.to_str().unwrap(),
        "",                       // the plugin left out: asked again
        script.to_str().unwrap(), // no program: asked again
        "/bin/true",              // a program for this machine (the server would refuse it)
        "abc",                    // no SHA-256: asked again
        &format!("sha256:{sum}"), // its checksum, as a release lists it
        "none",
        "single server",
        "",
        &format!("{d}/data"),
        "yes",
        "yes",
    ];
    let out = plain_wizard(&dir.path().join("state"), &answers);
    let output = text(&out);
    assert!(out.status.success(), "{output}");
    assert!(
        output.contains("github.com/openbao/openbao-plugins/releases"),
        "{output}"
    );
    assert!(output.contains("error: the plugin's path"), "{output}");
    assert!(output.contains("no ELF header"), "{output}");
    assert!(output.contains("a SHA-256 is 64 hexadecimal digits"), "{output}");
    let installed = dir
        .path()
        .join(format!("plugins/openbao-plugin-kms-aws-{}", &sum[..12]));
    assert_eq!(std::fs::read(&installed).unwrap(), std::fs::read("/bin/true").unwrap());
    let config = std::fs::read_to_string(dir.path().join("etc/openbao.hcl")).unwrap();
    assert!(config.contains("plugin \"kms\" \"awskms\""), "{config}");
    assert!(config.contains(&format!("sha256sum = \"{sum}\"")), "{config}");
    assert_eq!(
        autounseal::answers::Answers::load(&dir.path().join("state/wizard-answers.toml"))
            .unwrap()
            .server
            .kms_plugin_sha256,
        Some(format!("sha256:{sum}")),
        "kept with the answers"
    );
}

#[test]
fn the_plain_wizard_keeps_each_answer_as_it_is_given() {
    use std::io::Write;
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let mut child = with_operator_keys(&mut autounseal(&state))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    for line in ["", &moto.url, "eu-west-1"] {
        writeln!(stdin, "{line}").unwrap();
    }
    stdin.flush().unwrap();
    // Saved as soon as the region is answered, before the next question is.
    let saved = state.join("wizard-answers.toml");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while !std::fs::read_to_string(&saved).is_ok_and(|t| t.contains("region = \"eu-west-1\"")) {
        assert!(std::time::Instant::now() < deadline, "the region was never saved");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    child.wait().unwrap();
    let text = std::fs::read_to_string(&saved).unwrap();
    assert!(
        text.contains(&moto.url) && text.contains("region = \"eu-west-1\""),
        "{text}"
    );
}

#[test]
fn the_version_probe_sees_only_the_allow_list() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A stand-in for the server that records what `version` sees, then is the real one.
    let seen = d.join("probe-env");
    let wrapper = d.join("bao");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\n[ \"$1\" = version ] && /usr/bin/env > '{}'\nexec '{}' \"$@\"\n",
            seen.display(),
            common::bao().display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let mut answers = common::server_answers(&moto, d);
    answers.server.binary = wrapper.to_string_lossy().into_owned();
    let file = d.join("answers.toml");
    std::fs::write(&file, answers.to_toml()).unwrap();
    let out = with_operator_keys(&mut autounseal(&d.join("state")))
        .env("AUTOUNSEAL_CANARY_SECRET", "canary-7f3e9a1c5b")
        .env("GITHUB_TOKEN", "ghp_canary")
        .arg("plan")
        .arg("--answers")
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let env = std::fs::read_to_string(&seen).expect("the probe ran");
    let names: Vec<&str> = env.lines().filter_map(|l| l.split_once('=').map(|(k, _)| k)).collect();
    assert!(names.contains(&"PATH"), "{names:?}");
    for name in &names {
        // The shell that runs the stand-in adds PWD of its own.
        assert!(
            *name == "PWD" || autounseal::child_env::allowed(name.as_ref()),
            "the version probe sees {name}"
        );
    }
    assert!(!env.contains("canary") && !env.contains("testing"), "{env}");
}

#[tokio::test]
async fn a_damaged_manifest_is_refused_with_the_way_to_rebuild_it() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let answers = write_answers(dir.path(), &moto);
    let apply = || {
        with_operator_keys(&mut autounseal(&state))
            .args(["apply", "--yes", "--answers"])
            .arg(&answers)
            .output()
            .unwrap()
    };
    let first = apply();
    assert!(first.status.success(), "{}", text(&first));
    let manifest = state.join("manifest.json");
    std::fs::write(&manifest, "{ half a manifest").unwrap();

    let refused = apply();
    let msg = text(&refused);
    assert!(!refused.status.success());
    assert!(msg.contains("move it aside") && msg.contains("rebuilds it"), "{msg}");

    std::fs::rename(&manifest, state.join("manifest.json.damaged")).unwrap();
    let rebuilt = apply();
    assert!(rebuilt.status.success(), "{}", text(&rebuilt));
    let ctx = common::context(&common::answers(&moto, dir.path())).await;
    assert_eq!(
        ctx.kms.list_keys().send().await.unwrap().keys().len(),
        1,
        "the key was found, not made again"
    );
    let m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&manifest).unwrap()).unwrap();
    assert!(
        m["kms_key"]["arn"].as_str().is_some() && m["iam_user"]["name"] == "vault-auto-unseal",
        "{m}"
    );
}

/// Off AWS, whatever answers on the instance metadata address is not AWS's service: a
/// credential failure says so in words, never with the SDK's raw answer. The address
/// is a port of this test's on loopback, never the real metadata address.
#[test]
fn a_metadata_address_that_answers_otherwise_is_said_in_words() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let answers = dir.path().join("answers.toml");
    std::fs::write(
        &answers,
        "region = \"eu-west-1\"\n[server]\nlaunch = \"none\"\ntls_disable = true\n[init]\nenabled = false\n",
    )
    .unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            let body = "<html><body>Error code: 501 Unsupported method</body></html>";
            let _ = write!(
                conn,
                "HTTP/1.1 501 Not Implemented\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    let mut cmd = autounseal(&dir.path().join("state"));
    cmd.env_remove("AWS_EC2_METADATA_DISABLED")
        .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", format!("http://127.0.0.1:{port}"));
    let out = cmd.args(["plan", "--answers"]).arg(&answers).output().unwrap();
    let msg = text(&out);
    assert_eq!(out.status.code(), Some(1), "{msg}");
    assert!(msg.contains("no usable AWS credentials"), "{msg}");
    assert!(msg.contains("AWS_EC2_METADATA_DISABLED=true"), "{msg}");
    for raw in ["SdkBody", "ProviderError(", "<html>", "StatusCode("] {
        assert!(!msg.contains(raw), "{raw} in {msg}");
    }
}

/// The line prompts answer a cluster layout and a join as the Server screen does: the
/// plan of three nodes; this host joining from a cluster file (its key, region and
/// policy win). Declined at the last question: nothing is changed.
#[test]
fn the_line_prompts_plan_a_cluster_and_a_join() {
    use std::io::Write;
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let bao = common::bao().to_string_lossy().into_owned();
    let run = |layout: &[&str]| {
        let mut child = with_operator_keys(&mut autounseal(&d.join("state")))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        // Profile, endpoint, region, a new key, its alias, description, rotation, no
        // replica, no alarm, user, policy.
        let first = ["", &moto.url, "eu-west-1", "1", "", "", "", "", "", "", ""];
        let files = [
            format!("{}/etc/vault.hcl", d.display()),
            format!("{}/etc/vault.env", d.display()),
        ];
        for line in first.iter().copied().chain(files.iter().map(String::as_str)) {
            writeln!(stdin, "{line}").unwrap();
        }
        for line in ["", "", &bao, "background"].iter().chain(layout) {
            writeln!(stdin, "{line}").unwrap();
        }
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        (out.status.success(), text(&out))
    };
    let storage = format!("{}/data", d.display());
    let (ok, output) = run(&["3 nodes", "127.0.0.1:18200", &storage, "yes", "", "", "", "", "no"]);
    assert!(ok, "{output}");
    assert!(
        output.contains("Servers (1 single server, 2 3 nodes, 3 5 nodes, 4 join a cluster)"),
        "{output}"
    );
    assert!(
        output.contains("vault-auto-unseal-autounseal-3"),
        "the third node's user is planned: {output}"
    );
    assert!(output.contains("Nothing was changed"), "{output}");

    let cluster = d.join("cluster.toml");
    // The file's endpoint wins, as its key and region do: the emulator's, never AWS. Its
    // key and policy exist there, as the first node made them.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let ctx = rt.block_on(common::context(&common::answers(&moto, d)));
    let (key_arn, policy_arn) = rt.block_on(async {
        let key = ctx.kms.create_key().send().await.unwrap();
        let policy = ctx
            .iam
            .create_policy()
            .policy_name("vault-auto-unseal-kms")
            .policy_document(autounseal::aws::policy::document_text(&[key
                .key_metadata()
                .unwrap()
                .arn()
                .unwrap()
                .to_string()]))
            .send()
            .await
            .unwrap();
        (
            key.key_metadata().unwrap().arn().unwrap().to_string(),
            policy.policy().unwrap().arn().unwrap().to_string(),
        )
    });
    let mut file = common::wizard::cluster_file("http://127.0.0.1:18300", "eu-west-1");
    file.endpoint_url = Some(moto.url.clone());
    file.kms_key_arn = key_arn.clone();
    file.policy_arn = policy_arn;
    std::fs::write(&cluster, file.to_text()).unwrap();
    let (ok, output) = run(&["4", &cluster.to_string_lossy(), "127.0.0.1:18210", &storage, "no"]);
    assert!(ok, "{output}");
    assert!(
        output.contains("This host joins as autounseal-2 the cluster led by http://127.0.0.1:18300"),
        "{output}"
    );
    assert!(output.contains("Nothing was changed"), "{output}");
    let keys = rt.block_on(async { ctx.kms.list_keys().send().await.unwrap() });
    let ids: Vec<&str> = keys.keys().iter().filter_map(|k| k.key_arn()).collect();
    assert_eq!(ids, [key_arn.as_str()], "declined: nothing was made");
    let users = rt.block_on(async { ctx.iam.list_users().send().await.unwrap() });
    assert!(users.users().is_empty(), "declined: nothing was made");
}
