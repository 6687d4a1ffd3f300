//! Faults injected into real runs against moto: answers held past the attempt timeout
//! by a proxy, and the real binary killed (SIGKILL, SIGINT) while a call is in flight.
//! Whatever happens, nothing autounseal made may go unrecorded, and `destroy` must
//! leave no user, policy, alias or access key and every key pending deletion.

use crate::common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use autounseal::aws::{AwsContext, Provisioner};
use autounseal::run::{ApplyOptions, Manifest, ManifestStore, Reporter};
use aws_sdk_kms::types::KeyState;
use common::proxy::Proxy;
use common::{Moto, answers, context, isolate};

/// What exists in moto, read with our own calls (never the engine's word).
#[derive(Debug, Default)]
struct Inventory {
    live_keys: Vec<String>,
    keys_pending_deletion: Vec<String>,
    users: Vec<String>,
    /// Customer-managed policies, by ARN.
    policies: Vec<String>,
    /// Aliases other than AWS's own `alias/aws/…`.
    aliases: Vec<String>,
    access_keys: Vec<String>,
    /// (user, policy ARN)
    attachments: Vec<(String, String)>,
}

async fn inventory(ctx: &AwsContext) -> Inventory {
    let mut inv = Inventory::default();
    let mut marker = None;
    loop {
        let page = ctx.kms.list_keys().set_marker(marker).send().await.unwrap();
        for key in page.keys() {
            let id = key.key_id().unwrap();
            let meta = ctx
                .kms
                .describe_key()
                .key_id(id)
                .send()
                .await
                .unwrap()
                .key_metadata
                .unwrap();
            if meta.key_state == Some(KeyState::PendingDeletion) {
                inv.keys_pending_deletion.push(id.to_string());
            } else {
                inv.live_keys.push(id.to_string());
            }
        }
        marker = page.next_marker().map(String::from);
        if !page.truncated() {
            break;
        }
    }
    let aliases = ctx.kms.list_aliases().limit(1000).send().await.unwrap();
    inv.aliases = aliases
        .aliases()
        .iter()
        .filter_map(|a| a.alias_name())
        .filter(|n| !n.starts_with("alias/aws/"))
        .map(String::from)
        .collect();
    let users = ctx.iam.list_users().max_items(1000).send().await.unwrap();
    for user in users.users() {
        let name = user.user_name().to_string();
        let keys = ctx.iam.list_access_keys().user_name(&name).send().await.unwrap();
        inv.access_keys.extend(
            keys.access_key_metadata()
                .iter()
                .filter_map(|k| k.access_key_id())
                .map(String::from),
        );
        let attached = ctx
            .iam
            .list_attached_user_policies()
            .user_name(&name)
            .send()
            .await
            .unwrap();
        inv.attachments.extend(
            attached
                .attached_policies()
                .iter()
                .filter_map(|p| p.policy_arn())
                .map(|arn| (name.clone(), arn.to_string())),
        );
        inv.users.push(name);
    }
    let policies = ctx
        .iam
        .list_policies()
        .scope(aws_sdk_iam::types::PolicyScopeType::Local)
        .max_items(1000)
        .send()
        .await
        .unwrap();
    inv.policies = policies
        .policies()
        .iter()
        .filter_map(|p| p.arn())
        .map(String::from)
        .collect();
    inv
}

/// Everything alive in moto is in the manifest: no key, user, policy, alias, access key
/// or attachment that autounseal made and forgot.
fn assert_all_recorded(inv: &Inventory, m: &Manifest, when: &str) {
    let same = |what: &str, found: &[String], recorded: Option<String>| {
        let mut found = found.to_vec();
        found.sort();
        let recorded: Vec<String> = recorded.into_iter().collect();
        assert_eq!(found, recorded, "{when}: {what} in moto vs the manifest");
    };
    same(
        "live KMS keys",
        &inv.live_keys,
        m.kms_key.as_ref().map(|k| k.key_id.clone()),
    );
    same("IAM users", &inv.users, m.iam_user.as_ref().map(|u| u.name.clone()));
    same("policies", &inv.policies, m.iam_policy.as_ref().map(|p| p.arn.clone()));
    same("aliases", &inv.aliases, m.kms_alias.as_ref().map(|a| a.name.clone()));
    same(
        "access keys",
        &inv.access_keys,
        m.access_key.as_ref().map(|k| k.id.clone()),
    );
    assert_eq!(
        !inv.attachments.is_empty(),
        m.policy_attached,
        "{when}: the policy attachment vs the manifest ({:?})",
        inv.attachments
    );
}

/// After `destroy`: nothing left but keys pending deletion, every key ever made among them.
fn assert_all_gone(inv: &Inventory, when: &str) {
    assert!(
        inv.live_keys.is_empty(),
        "{when}: keys still enabled: {:?}",
        inv.live_keys
    );
    assert!(inv.users.is_empty(), "{when}: users left: {:?}", inv.users);
    assert!(inv.policies.is_empty(), "{when}: policies left: {:?}", inv.policies);
    assert!(inv.aliases.is_empty(), "{when}: aliases left: {:?}", inv.aliases);
    assert!(
        inv.access_keys.is_empty(),
        "{when}: access keys left: {:?}",
        inv.access_keys
    );
}

const APPLY: ApplyOptions = ApplyOptions {
    overwrite_files: true,
    dry_run: false,
};

/// Each create in turn answered 3 s late against a 2 s attempt timeout: the attempt
/// times out although moto made the resource. The run must still end with exactly one
/// of each, all recorded, and the access key it uses saved.
#[tokio::test(flavor = "multi_thread")]
async fn a_late_answer_to_any_create_leaves_exactly_one_of_each_all_recorded() {
    let moto = Moto::start();
    let proxy = Proxy::start(moto.port);
    let direct = context(&answers(&moto, Path::new("/nonexistent"))).await;
    for action in [
        "CreateKey",
        "CreateAlias",
        "CreateUser",
        "CreatePolicy",
        "CreateAccessKey",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut a = answers(&moto, dir.path());
        a.endpoint_url = Some(proxy.url.clone());
        a.timing.attempt_timeout_secs = 2;
        let ctx = context(&a).await;
        let store = ManifestStore::open(&dir.path().join("state")).unwrap();
        proxy.clear();
        proxy.hold(action, 1, Duration::from_secs(3));

        let result = Provisioner::new(&ctx, &a, &store, Reporter::silent(), APPLY)
            .run()
            .await;
        let held = proxy.wait_held(Duration::ZERO);
        assert_eq!(held.as_deref(), Some(action), "the proxy held {action}");
        let done = result.unwrap_or_else(|e| panic!("a late answer to {action} failed the run: {e}"));

        let m = store.snapshot();
        let inv = inventory(&direct).await;
        assert_all_recorded(&inv, &m, &format!("late {action}"));
        assert_eq!(inv.live_keys.len(), 1, "late {action}: exactly one key");
        assert_eq!(inv.access_keys.len(), 1, "late {action}: exactly one access key");
        let saved = autounseal::credentials_file::read_env_key_id(&a.output.env_file);
        assert_eq!(
            saved.as_deref(),
            done.access_key_id.as_ref().done().map(String::as_str),
            "late {action}: the saved key"
        );

        // Clean slate for the next action, through the engine's own destroy.
        autounseal::flow::undo(&direct, &store, &Reporter::silent(), Default::default())
            .await
            .unwrap();
        assert_all_gone(&inventory(&direct).await, &format!("destroy after late {action}"));
    }
}

// ---- the real binary, killed ------------------------------------------------------

/// moto, the proxy in front of it, and a client that talks to moto directly.
struct Lab {
    rt: tokio::runtime::Runtime,
    direct: AwsContext,
    proxy: Proxy,
    _moto: Moto,
}

impl Lab {
    fn start() -> Lab {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let moto = Moto::start();
        let proxy = Proxy::start(moto.port);
        let direct = rt.block_on(context(&answers(&moto, Path::new("/nonexistent"))));
        Lab {
            rt,
            direct,
            proxy,
            _moto: moto,
        }
    }

    fn inventory(&self) -> Inventory {
        self.rt.block_on(inventory(&self.direct))
    }
}

struct Case {
    dir: tempfile::TempDir,
    answers: PathBuf,
    state: PathBuf,
}

impl Case {
    fn new(proxy: &Proxy, i: usize) -> Case {
        let dir = tempfile::tempdir().unwrap();
        let answers = dir.path().join("answers.toml");
        let body = format!(
            r#"
region = "eu-west-1"
endpoint_url = "{url}"

[kms]
alias = "alias/fault-{i}"

[iam]
user_name = "fault-user-{i}"
policy_name = "fault-policy-{i}"

[output]
env_file = "{dir}/etc/vault.env"
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
attempt_timeout_secs = 10
"#,
            url = proxy.url,
            dir = dir.path().display()
        );
        std::fs::write(&answers, body).unwrap();
        let state = dir.path().join("state");
        Case { dir, answers, state }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_autounseal"));
        isolate(&mut cmd, &self.state);
        cmd.env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .args(args)
            .current_dir(self.dir.path());
        cmd
    }

    fn apply(&self) -> Command {
        let mut cmd = self.command(&["apply", "--yes", "--answers"]);
        cmd.arg(&self.answers);
        cmd
    }

    fn manifest(&self) -> Manifest {
        ManifestStore::open(&self.state).unwrap().snapshot()
    }
}

/// Runs a command to its end (within a minute), returning success and its output.
fn run(mut cmd: Command) -> (bool, String) {
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Starts a command whose output `finish` reads.
fn spawn(mut cmd: Command) -> Child {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
}

fn send(child: &Child, signal: nix::sys::signal::Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), signal).unwrap();
}

/// Waits for a child that was signalled, killing it if it outlives `timeout`.
fn finish(mut child: Child, timeout: Duration) -> (std::process::ExitStatus, String) {
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the interrupted apply did not stop within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut text = String::new();
    child.stdout.take().unwrap().read_to_string(&mut text).unwrap();
    child.stderr.take().unwrap().read_to_string(&mut text).unwrap();
    (status, text)
}

/// A dozen moments spread over the AWS part: each is a call held in flight when the
/// signal comes. Reads right after a record (rotation status after the key, the access
/// key listing after the attachment, the new key's first call after the save) stand for
/// "right after a manifest write".
const MOMENTS: [(&str, u32); 12] = [
    ("GetCallerIdentity", 1),
    ("CreateKey", 1),
    ("GetKeyRotationStatus", 1),
    ("EnableKeyRotation", 1),
    ("CreateAlias", 1),
    ("CreateUser", 1),
    ("CreatePolicy", 1),
    ("AttachUserPolicy", 1),
    ("ListAccessKeys", 1),
    ("CreateAccessKey", 1),
    ("GetCallerIdentity", 2),
    ("Decrypt", 1),
];

/// Runs `apply`, sends `signal` while `moment`'s call is held in flight, waits for the
/// end; returns what it printed.
fn apply_signalled_during(
    proxy: &Proxy,
    case: &Case,
    (action, nth): (&str, u32),
    signal: nix::sys::signal::Signal,
) -> String {
    let when = format!("{signal} during {action} #{nth}");
    proxy.clear();
    // Long enough for the signal to land while the answer is held.
    proxy.hold(action, nth, Duration::from_millis(1500));
    let child = spawn(case.apply());
    let held = proxy.wait_held(Duration::from_secs(60));
    send(&child, signal);
    let (status, text) = finish(child, Duration::from_secs(60));
    assert_eq!(
        held.as_deref(),
        Some(action),
        "{when}: the call was never made:\n{text}"
    );
    assert!(
        !status.success(),
        "{when}: an interrupted apply reports failure:\n{text}"
    );
    if signal != nix::sys::signal::Signal::SIGKILL {
        // A stop asked for is told from a failure: 130, as a shell reports an interrupt.
        assert_eq!(status.code(), Some(130), "{when}:\n{text}");
    }
    proxy.clear();
    text
}

/// `destroy` straight after a killed `apply` (no re-run in between) also finds and
/// removes what the call in flight made.
#[test]
fn destroy_right_after_a_killed_apply_removes_what_was_in_flight() {
    let lab = Lab::start();
    let creates = MOMENTS
        .iter()
        .filter(|(a, _)| a.starts_with("Create") || a.starts_with("Attach"));
    for (i, moment) in creates.enumerate() {
        let when = format!("SIGKILL during {}", moment.0);
        let case = Case::new(&lab.proxy, 100 + i);
        apply_signalled_during(&lab.proxy, &case, *moment, nix::sys::signal::Signal::SIGKILL);
        let (ok, text) = run(case.command(&["destroy", "--yes"]));
        assert!(ok, "{when}: destroy failed:\n{text}");
        assert_all_gone(&lab.inventory(), &format!("{when}, after destroy"));
    }
}

#[test]
fn apply_killed_at_any_moment_then_rerun_and_destroy_leaves_nothing_unrecorded() {
    let lab = Lab::start();
    use nix::sys::signal::Signal::{SIGINT, SIGKILL, SIGTERM};
    // SIGTERM is handled as SIGINT is: a few moments suffice for it.
    let cases = MOMENTS
        .iter()
        .map(|m| (SIGKILL, *m))
        .chain(MOMENTS.iter().map(|m| (SIGINT, *m)))
        .chain(
            MOMENTS
                .iter()
                .filter(|(a, _)| a.starts_with("Create"))
                .step_by(2)
                .map(|m| (SIGTERM, *m)),
        );
    let mut i = 0;
    for (signal, (action, nth)) in cases {
        i += 1;
        let when = format!("{signal} during {action} #{nth}");
        let case = Case::new(&lab.proxy, i);
        let text = apply_signalled_during(&lab.proxy, &case, (action, nth), signal);
        if signal != SIGKILL {
            // The call in flight finished and was recorded before the run stopped.
            assert!(text.contains("stopping after the current step"), "{when}:\n{text}");
            assert!(text.contains(&format!("stopped by {signal}")), "{when}:\n{text}");
            let inv = lab.inventory();
            assert_all_recorded(&inv, &case.manifest(), &format!("{when}, right after"));
        }

        let (ok, text) = run(case.apply());
        assert!(ok, "{when}: the re-run failed:\n{text}");
        let inv = lab.inventory();
        assert_all_recorded(&inv, &case.manifest(), &format!("{when}, after the re-run"));
        assert_eq!(inv.live_keys.len(), 1, "{when}: one key in use");

        let (ok, text) = run(case.command(&["destroy", "--yes"]));
        assert!(ok, "{when}: destroy failed:\n{text}");
        assert_all_gone(&lab.inventory(), &format!("{when}, after destroy"));
    }
    // Every key ever made is pending deletion; at least one per case was made.
    let inv = lab.inventory();
    assert!(inv.keys_pending_deletion.len() >= i, "{inv:?}");
}

/// A second interrupt does not wait for the call in flight: the run ends at once (130),
/// and the next `apply` and `destroy` still find and remove what that call made.
#[test]
fn a_second_interrupt_stops_at_once_and_the_rerun_finds_what_was_in_flight() {
    use nix::sys::signal::Signal::SIGINT;
    let lab = Lab::start();
    let case = Case::new(&lab.proxy, 0);
    lab.proxy.hold("CreateKey", 1, Duration::from_secs(8));
    let child = spawn(case.apply());
    assert_eq!(
        lab.proxy.wait_held(Duration::from_secs(60)).as_deref(),
        Some("CreateKey")
    );
    let signalled = Instant::now();
    send(&child, SIGINT);
    std::thread::sleep(Duration::from_millis(300));
    send(&child, SIGINT);
    let (status, text) = finish(child, Duration::from_secs(60));
    assert!(
        signalled.elapsed() < Duration::from_secs(5),
        "the second interrupt did not stop the run at once:\n{text}"
    );
    assert_eq!(status.code(), Some(130), "{text}");
    assert!(text.contains("stopping now"), "{text}");
    lab.proxy.clear();

    let (ok, text) = run(case.apply());
    assert!(ok, "the re-run failed:\n{text}");
    let inv = lab.inventory();
    assert_all_recorded(&inv, &case.manifest(), "after the re-run");
    assert_eq!(
        inv.live_keys.len(),
        1,
        "the key made while the run was stopped is the one used"
    );
    let (ok, text) = run(case.command(&["destroy", "--yes"]));
    assert!(ok, "destroy failed:\n{text}");
    let inv = lab.inventory();
    assert_all_gone(&inv, "after destroy");
    assert_eq!(inv.keys_pending_deletion.len(), 1, "{inv:?}");
}

/// `destroy` interrupted once: the removal in flight finishes and is recorded, nothing
/// after it starts, and running `destroy` again finishes the job.
#[test]
fn an_interrupted_destroy_stops_after_the_step_in_flight_and_resumes() {
    let lab = Lab::start();
    let case = Case::new(&lab.proxy, 0);
    let (ok, text) = run(case.apply());
    assert!(ok, "{text}");
    lab.proxy.hold("DeletePolicy", 1, Duration::from_millis(1500));
    let child = spawn(case.command(&["destroy", "--yes"]));
    assert_eq!(
        lab.proxy.wait_held(Duration::from_secs(60)).as_deref(),
        Some("DeletePolicy")
    );
    send(&child, nix::sys::signal::Signal::SIGINT);
    let (status, text) = finish(child, Duration::from_secs(60));
    assert!(!status.success(), "{text}");
    assert!(text.contains("stopping after the current step"), "{text}");
    let m = case.manifest();
    assert!(
        m.iam_policy.is_none(),
        "the policy deleted in flight is recorded as gone"
    );
    assert!(
        m.iam_user.is_some() && m.kms_key.is_some(),
        "nothing after it was removed"
    );
    let inv = lab.inventory();
    assert!(
        inv.policies.is_empty() && inv.users.len() == 1 && inv.live_keys.len() == 1,
        "{inv:?}"
    );
    lab.proxy.clear();

    let (ok, text) = run(case.command(&["destroy", "--yes"]));
    assert!(ok, "the second destroy failed:\n{text}");
    assert_all_gone(&lab.inventory(), "after the second destroy");
}

/// On a user autounseal only reuses, the operator's own access key is never touched: only
/// the key a killed CreateAccessKey made (whose secret nobody has) is deleted.
#[test]
fn a_lost_access_key_of_a_reused_user_is_deleted_and_the_operators_kept() {
    let lab = Lab::start();
    let case = Case::new(&lab.proxy, 0);
    let operators_key = lab.rt.block_on(async {
        lab.direct
            .iam
            .create_user()
            .user_name("fault-user-0")
            .send()
            .await
            .unwrap();
        let key = lab
            .direct
            .iam
            .create_access_key()
            .user_name("fault-user-0")
            .send()
            .await
            .unwrap();
        key.access_key.unwrap().access_key_id().to_string()
    });
    apply_signalled_during(
        &lab.proxy,
        &case,
        ("CreateAccessKey", 1),
        nix::sys::signal::Signal::SIGKILL,
    );
    assert_eq!(lab.inventory().access_keys.len(), 2, "the killed call made a key");

    let (ok, text) = run(case.apply());
    assert!(ok, "the re-run failed:\n{text}");
    let m = case.manifest();
    let ours = m.access_key.clone().unwrap().id;
    let mut expected = vec![operators_key.clone(), ours];
    expected.sort();
    let mut keys = lab.inventory().access_keys;
    keys.sort();
    assert_eq!(
        keys, expected,
        "the lost key is gone, the operator's and the new one remain"
    );

    let (ok, text) = run(case.command(&["destroy", "--yes"]));
    assert!(ok, "destroy failed:\n{text}");
    let inv = lab.inventory();
    assert_eq!(inv.users, ["fault-user-0"], "a reused user stays");
    assert_eq!(inv.access_keys, [operators_key], "with the operator's key only");
}
