//! Secrets leave no trace in memory. The real binary is stopped at a known moment and
//! a core dump of the live process (gdb's `gcore`) is searched for every secret it had:
//! - the wizard (demo) on the Done screen, after each recovery key and the root token
//!   were revealed once and acknowledged, and after the access key was made;
//! - a headless `apply` once its AWS part is over and the server it started answers
//!   (the secret access key), and when it has saved the recovery keys to their file
//!   and is about to exit;
//! - a headless seal migration, its unseal keys read from standard input, about to exit;
//! - the wizard on its Rotate screen after a rotation it ran, and a headless `rotate`
//!   about to exit: neither the old nor the new secret access key.
//!
//! Each value is searched whole, by its first and last 12 characters (a freed block
//! whose start was reused still holds the rest), and spread the way a screen holds it:
//! one character per ratatui `Cell` (the cell's inline symbol, `size_of::<Cell>()` bytes
//! apart), and as UTF-16 and UTF-32 (`char` arrays). What survives in freed memory
//! changes from run to run, so each case runs several times and every run must find 0.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use autounseal::answers::CredentialsStyle;
use common::pty::{DOWN, ENTER, Terminal};
use common::{Moto, ServerGuard};
use portable_pty::CommandBuilder;

const RUNS: usize = 3;
const SHORT: Duration = Duration::from_secs(20);

/// A secret to look for, with a name for the report (the value itself is never printed).
struct Secret {
    name: String,
    value: String,
}

/// One form of a secret to look for: its bytes, `stride` bytes apart in memory.
struct Needle {
    label: String,
    bytes: Vec<u8>,
    stride: usize,
}

/// The ways a value can sit in memory.
fn needles(secret: &Secret) -> Vec<Needle> {
    let v = secret.value.as_bytes();
    assert!(
        v.len() >= 12 && secret.value.is_ascii(),
        "secrets here are ASCII of 12 characters or more"
    );
    let head = &v[..12];
    let tail = &v[v.len() - 12..];
    let needle = |form: &str, bytes: &[u8], stride| Needle {
        label: format!("{} ({form})", secret.name),
        bytes: bytes.to_vec(),
        stride,
    };
    let mut all = vec![
        needle("whole", v, 1),
        needle("first 12", head, 1),
        needle("last 12", tail, 1),
    ];
    let cell = std::mem::size_of::<ratatui::buffer::Cell>();
    for (how, stride) in [("screen cells", cell), ("UTF-16", 2), ("UTF-32", 4)] {
        all.push(needle(&format!("first 12 as {how}"), head, stride));
        all.push(needle(&format!("last 12 as {how}"), tail, stride));
    }
    all
}

/// How often each form of each secret occurs in `core`; only the non-zero counts. The
/// plain forms by `memmem` (memchr is built optimised even in tests); the spread-out
/// forms (screen cells, UTF-16, UTF-32) where their first byte is, one pass per first
/// byte whatever the number of forms that start with it.
fn search(core: &[u8], secrets: &[Secret]) -> Vec<(String, usize)> {
    let needles: Vec<Needle> = secrets.iter().flat_map(needles).collect();
    let mut counts = vec![0usize; needles.len()];
    let mut by_first: Vec<Vec<usize>> = vec![Vec::new(); 256];
    for (k, n) in needles.iter().enumerate() {
        if n.stride == 1 {
            counts[k] = memchr::memmem::find_iter(core, &n.bytes).count();
        } else {
            by_first[n.bytes[0] as usize].push(k);
        }
    }
    for (first, spread) in by_first.iter().enumerate().filter(|(_, ks)| !ks.is_empty()) {
        for i in memchr::memchr_iter(first as u8, core) {
            for &k in spread {
                let n = &needles[k];
                let last = i + (n.bytes.len() - 1) * n.stride;
                if last < core.len() && n.bytes.iter().enumerate().all(|(j, b)| core[i + j * n.stride] == *b) {
                    counts[k] += 1;
                }
            }
        }
    }
    needles
        .into_iter()
        .zip(counts)
        .filter(|(_, c)| *c > 0)
        .map(|(n, c)| (n.label, c))
        .collect()
}

/// A core dump of the live process `pid`, read and deleted at once (they are large).
fn core_dump(pid: u32, dir: &Path) -> Vec<u8> {
    let started = Instant::now();
    let prefix = dir.join("core");
    let out = Command::new("gcore")
        .arg("-o")
        .arg(&prefix)
        .arg(pid.to_string())
        .stdin(Stdio::null())
        .output()
        .expect("gcore runs (scripts/test-env installs gdb)");
    let file = PathBuf::from(format!("{}.{pid}", prefix.display()));
    assert!(
        out.status.success() && file.exists(),
        "gcore {pid} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let core = std::fs::read(&file).unwrap();
    std::fs::remove_file(&file).unwrap();
    eprintln!(
        "core dump of {pid}: {} MB in {:.1} s",
        core.len() >> 20,
        started.elapsed().as_secs_f64()
    );
    assert!(core.len() > 1 << 20, "a core dump of a live process is megabytes");
    core
}

/// What a core dump of `pid` taken now holds of `secrets`, each named with `when`.
fn dump_and_search(pid: u32, dir: &Path, secrets: &[Secret], when: &str) -> Vec<(String, usize)> {
    let core = core_dump(pid, dir);
    search(&core, secrets)
        .into_iter()
        .map(|(what, n)| (format!("{when}: {what}"), n))
        .collect()
}

/// A headless command stopped at its last pause point: what a core dump of it holds of
/// `secrets`, then it is let go on, and must succeed.
fn dumped_at_exit(child: std::process::Child, d: &Path, secrets: &[Secret], command: &str) -> Vec<(String, usize)> {
    let pid = child.id();
    let found = dump_and_search(pid, d, secrets, "at exit");
    resume(pid);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{command} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    found
}

fn state_of(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

/// Waits until `pid` has stopped itself at a pause point (`AUTOUNSEAL_TEST_PAUSE`).
fn wait_stopped(pid: u32, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while state_of(pid) != Some('T') {
        assert!(
            !matches!(state_of(pid), None | Some('Z' | 'X')),
            "process {pid} ended before its pause point"
        );
        assert!(Instant::now() < deadline, "process {pid} never reached its pause point");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Ends a process of the test's that a failed assertion left behind (stopped at a pause
/// point, or waiting on a screen): SIGTERM first, so that the wizard tears its demo down.
struct EndOnDrop(u32);

impl Drop for EndOnDrop {
    fn drop(&mut self) {
        use nix::sys::signal::{Signal, kill};
        let pid = nix::unistd::Pid::from_raw(self.0 as i32);
        let alive = || !matches!(state_of(self.0), None | Some('Z' | 'X'));
        if !alive() {
            return;
        }
        let _ = kill(pid, Signal::SIGTERM);
        let _ = kill(pid, Signal::SIGCONT);
        let deadline = Instant::now() + SHORT;
        while alive() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = kill(pid, Signal::SIGKILL);
    }
}

fn resume(pid: u32) {
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGCONT,
    );
    let deadline = Instant::now() + SHORT;
    while state_of(pid) == Some('T') && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The value of `name=` in an env file.
fn env_value(path: &Path, name: &str) -> String {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}=")).map(str::to_string))
        .unwrap_or_else(|| panic!("{} has no {name}", path.display()))
}

/// The recovery keys and root token from a keys file that `apply` saved.
fn keys_file_secrets(path: &Path) -> Vec<Secret> {
    let text = std::fs::read_to_string(path).unwrap();
    let secrets: Vec<Secret> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once(": "))
        .map(|(name, value)| Secret {
            name: name.to_string(),
            value: value.to_string(),
        })
        .collect();
    assert_eq!(secrets.len(), 4, "three recovery keys and the root token in:\n{text}");
    secrets
}

/// The wizard in demo mode, through to the Done screen, each secret revealed once.
/// Returns what a core dump on the Done screen found.
fn wizard_run(run: usize) -> Vec<(String, usize)> {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_autounseal"));
    cmd.env_clear();
    cmd.env("PATH", std::env::var("PATH").unwrap_or_default());
    cmd.env("HOME", dir.path());
    cmd.env("TERM", "xterm-256color");
    cmd.env("AUTOUNSEAL_TOOLS", common::tools_dir());
    cmd.args(["--state-dir", &state.to_string_lossy(), "demo"]);
    let mut t = Terminal::start(cmd);
    let pid = t.child.process_id().unwrap();
    let _end = EndOnDrop(pid);
    t.wait_for("1/13 Welcome", SHORT);
    // The demo's answers are filled in: Enter on each screen, as a presenter would.
    for next in [
        "✓ Account 123456789012",
        "3/13 Region",
        "4/13 KMS key",
        "5/13 IAM user and policy",
        "6/13 Files",
        "7/13 Server",
    ] {
        t.type_keys(&[ENTER]);
        t.wait_for(next, SHORT);
    }
    t.wait_for("found OpenBao 2.6.2", SHORT);
    t.type_keys(&[ENTER]);
    t.wait_for("8/13 Init", SHORT);
    t.type_keys(&[ENTER]);
    // The plan is made (its last lines are below the fold at 80x24).
    t.wait_for("iam:CreateAccessKey", Duration::from_secs(60));
    t.type_keys(&[ENTER]);
    // The run's end, not its last step: an Enter before the run is over goes nowhere.
    t.wait_for("All done. Enter to continue.", Duration::from_secs(120));
    t.type_keys(&[ENTER]);
    t.wait_for("12/13 Recovery keys", SHORT);

    // Each value as the screen shows it when revealed, then hidden again.
    let mut secrets = Vec::new();
    for (i, label) in ["Recovery key 1", "Recovery key 2", "Recovery key 3", "Root token"]
        .into_iter()
        .enumerate()
    {
        if i > 0 {
            t.type_keys(&[DOWN]);
        }
        t.wait_for(&format!("› {label}"), SHORT);
        t.type_keys(&["r"]);
        let screen = t.wait_for("shown below, r hides it", SHORT);
        let lines: Vec<&str> = screen.lines().collect();
        let at = lines.iter().position(|l| l.contains(&format!("› {label}"))).unwrap();
        let value = lines[at + 1].trim().to_string();
        assert!(value.len() >= 24 && !value.contains(' '), "{label} is shown:\n{screen}");
        let secret = Secret {
            name: label.to_string(),
            value,
        };
        if run == 1 && i == 0 {
            // The control: while the key is on the screen, the search must find it, in
            // the screen's cells too. A search that cannot find would prove nothing.
            let core = core_dump(pid, dir.path());
            let shown = search(&core, std::slice::from_ref(&secret));
            let label = format!("{label} (first 12 as screen cells)");
            assert!(
                shown.iter().any(|(what, n)| *what == label && *n > 0),
                "a revealed key is in the screen's cells: {shown:?}"
            );
        }
        secrets.push(secret);
        t.type_keys(&["r"]);
        t.wait_for(&format!("› {label:<16} ••••••••"), SHORT);
    }
    let env_file = state.join("demo/etc/vault.env");
    secrets.push(Secret {
        name: "secret access key".into(),
        value: env_value(&env_file, "AWS_SECRET_ACCESS_KEY"),
    });
    t.type_keys(&["a", ENTER]);
    t.wait_for("13/13 Done", SHORT);
    // Let the frame after the wipe be drawn and the loop go back to waiting.
    std::thread::sleep(Duration::from_millis(300));
    let found = dump_and_search(pid, dir.path(), &secrets, "on the Done screen");
    eprintln!("wizard run {run}: {found:?}");

    // Enter tears the demo down; nothing of it may be left.
    t.type_keys(&[ENTER]);
    assert!(t.child.wait().unwrap().success());
    common::assert_demo_gone(&state);
    found
}

/// What survives in freed memory changes from run to run: each of the runs must find
/// nothing, and the report names every run that did.
fn every_run_finds_nothing(one_run: fn(usize) -> Vec<(String, usize)>) {
    let mut report = Vec::new();
    for run in 1..=RUNS {
        let found = one_run(run);
        if !found.is_empty() {
            report.push(format!("run {run}: {found:?}"));
        }
    }
    assert!(report.is_empty(), "copies found in memory:\n{}", report.join("\n"));
}

#[test]
fn the_wizard_keeps_no_recovery_key_root_token_or_access_key_in_memory() {
    every_run_finds_nothing(wizard_run);
}

/// A canary in the operator's environment: no child process may see it.
pub const CANARY: (&str, &str) = ("AUTOUNSEAL_CANARY_SECRET", "canary-7f3e9a1c5b");

/// A headless `apply` against moto and OpenBao, dumped at its two pause points.
fn headless_run(run: usize) -> Vec<(String, usize)> {
    headless_run_with(run, CredentialsStyle::Env)
}

/// [`headless_run`] with the key in a shared credentials file.
fn headless_shared_file_run(run: usize) -> Vec<(String, usize)> {
    headless_run_with(run, CredentialsStyle::SharedFile)
}

fn headless_run_with(run: usize, style: CredentialsStyle) -> Vec<(String, usize)> {
    // An emulator of its own: the same user in one emulator would reach its key limit.
    let moto = Moto::start();
    let moto = &moto;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let state = d.join("state");
    let mut answers = common::server_answers(moto, d);
    answers.output.credentials = style;
    let answers_file = d.join("answers.toml");
    std::fs::write(&answers_file, answers.to_toml()).unwrap();
    let _guard = ServerGuard(state.clone());
    let child = Command::new(env!("CARGO_BIN_EXE_autounseal"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", d)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_CONFIG_FILE", "/nonexistent/aws-config")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env(CANARY.0, CANARY.1)
        .env("AUTOUNSEAL_TEST_PAUSE", "server-answered,finished")
        .args(["--state-dir", &state.to_string_lossy(), "apply", "--yes", "--answers"])
        .arg(&answers_file)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let _end = EndOnDrop(pid);
    let mut found = Vec::new();

    wait_stopped(pid, Duration::from_secs(60));
    let access_key = vec![Secret {
        name: "secret access key".into(),
        value: answers
            .output
            .key_files()
            .read_key()
            .expect("the key is saved")
            .expose_secret()
            .to_string(),
    }];
    found.extend(dump_and_search(pid, d, &access_key, "after AWS"));
    resume(pid);

    wait_stopped(pid, Duration::from_secs(90));
    server_sees_only_the_allow_list(&state, &answers.output.env_file, style);
    let mut secrets = keys_file_secrets(answers.init.recovery_keys_file.as_ref().unwrap());
    secrets.extend(access_key);
    found.extend(dumped_at_exit(child, d, &secrets, "apply"));
    eprintln!("headless run {run}: {found:?}");
    found
}

/// A headless seal migration, the unseal keys given on standard input, dumped as it
/// is about to exit: no unseal key may be left in its memory.
fn migration_run(run: usize) -> Vec<(String, usize)> {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let state = d.join("state");
    let answers = common::shamir::migration_answers(&moto, d);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (keys, _root) = rt.block_on(common::shamir::shamir_server_with_data(&answers, d));
    let answers_file = d.join("answers.toml");
    std::fs::write(&answers_file, answers.to_toml()).unwrap();
    let _guard = ServerGuard(state.clone());
    let mut child = Command::new(env!("CARGO_BIN_EXE_autounseal"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", d)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_CONFIG_FILE", "/nonexistent/aws-config")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AUTOUNSEAL_TEST_PAUSE", "finished")
        .args([
            "--state-dir",
            &state.to_string_lossy(),
            "apply",
            "--yes",
            "--unseal-keys-stdin",
            "--answers",
        ])
        .arg(&answers_file)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let _end = EndOnDrop(pid);
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(format!("{}\n{}\n", keys[0], keys[1]).as_bytes())
            .unwrap();
    }
    wait_stopped(pid, Duration::from_secs(90));
    let secrets: Vec<Secret> = keys
        .iter()
        .take(2)
        .enumerate()
        .map(|(i, k)| Secret {
            name: format!("unseal key {}", i + 1),
            value: k.clone(),
        })
        .collect();
    let found = dumped_at_exit(child, d, &secrets, "apply");
    eprintln!("migration run {run}: {found:?}");
    found
}

#[test]
fn a_headless_migration_keeps_no_unseal_key_in_memory() {
    every_run_finds_nothing(migration_run);
}

/// The server autounseal started sees the env file's variables and the allow-list,
/// nothing else of the operator's: not the canary, not the operator's own AWS key.
fn server_sees_only_the_allow_list(state: &Path, env_file: &Path, style: CredentialsStyle) {
    let pid = std::fs::read_to_string(state.join("server.pid")).unwrap();
    let environ = std::fs::read(format!("/proc/{}/environ", pid.trim())).unwrap();
    let file_vars: Vec<String> = std::fs::read_to_string(env_file)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.to_string()))
        .collect();
    let mut names = Vec::new();
    for var in environ.split(|b| *b == 0).filter(|v| !v.is_empty()) {
        let var = String::from_utf8_lossy(var);
        let (name, value) = var.split_once('=').unwrap();
        assert!(
            file_vars.iter().any(|f| f == name) || autounseal::child_env::allowed(name.as_ref()),
            "the server sees {name}, which is neither in the env file nor allowed"
        );
        assert_ne!(value, "testing", "the server sees the operator's credentials in {name}");
        names.push(name.to_string());
    }
    // The key itself, or (shared-file) the region alone: the seal stanza names the key's file.
    let key_var = match style {
        CredentialsStyle::Env => "AWS_SECRET_ACCESS_KEY",
        CredentialsStyle::SharedFile => "AWS_REGION",
    };
    assert!(
        names.iter().any(|n| n == key_var) && names.iter().any(|n| n == "PATH"),
        "the env file's {key_var} and the allowed PATH reach the server: {names:?}"
    );
    if style == CredentialsStyle::SharedFile {
        let leads = autounseal::credentials_file::LEADS_TO_THE_KEY;
        assert!(!names.iter().any(|n| leads.contains(&n.as_str())), "{names:?}");
    }
    assert!(!names.iter().any(|n| n == CANARY.0));
}

#[test]
fn a_headless_apply_keeps_no_access_key_recovery_key_or_root_token_in_memory() {
    every_run_finds_nothing(headless_run);
}

/// The old secret access key, and the new one the env file holds now.
fn rotated_secrets(old: String, setup: &common::pty::Applied) -> Vec<Secret> {
    let new = setup.env_value("AWS_SECRET_ACCESS_KEY");
    assert_ne!(new, old, "the key was rotated");
    vec![
        Secret {
            name: "old secret access key".into(),
            value: old,
        },
        Secret {
            name: "new secret access key".into(),
            value: new,
        },
    ]
}

/// The wizard rotates the access key of a real setup from its menu; dumped while it
/// shows the rotation done.
fn wizard_rotation_run(run: usize) -> Vec<(String, usize)> {
    let setup = common::pty::Applied::new();
    let old = setup.env_value("AWS_SECRET_ACCESS_KEY");
    let mut t = setup.wizard();
    let pid = t.child.process_id().unwrap();
    let _end = EndOnDrop(pid);
    common::pty::rotate_from_the_menu(&mut t);
    // Let the last frame be drawn and the loop go back to waiting.
    std::thread::sleep(Duration::from_millis(300));
    let secrets = rotated_secrets(old, &setup);
    let found = dump_and_search(pid, setup.dir.path(), &secrets, "on the rotated screen");
    eprintln!("wizard rotation run {run}: {found:?}");
    t.type_keys(&["\x1b", "q", "y"]);
    assert!(t.child.wait().unwrap().success());
    found
}

#[test]
fn the_wizard_keeps_no_secret_access_key_after_a_rotation() {
    every_run_finds_nothing(wizard_rotation_run);
}

/// A headless `rotate --yes` of a real setup, dumped as it is about to exit.
fn headless_rotation_run(run: usize) -> Vec<(String, usize)> {
    let setup = common::pty::Applied::new();
    let old = setup.env_value("AWS_SECRET_ACCESS_KEY");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_autounseal"));
    common::isolate(&mut cmd, &setup.state());
    let child = cmd
        .env("HOME", setup.dir.path())
        .env("AWS_ACCESS_KEY_ID", &setup.operator_key.0)
        .env("AWS_SECRET_ACCESS_KEY", &setup.operator_key.1)
        .env("AUTOUNSEAL_TEST_PAUSE", "finished")
        .args(["rotate", "--yes"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _end = EndOnDrop(child.id());
    wait_stopped(child.id(), Duration::from_secs(180));
    let secrets = rotated_secrets(old, &setup);
    let found = dumped_at_exit(child, setup.dir.path(), &secrets, "rotate");
    eprintln!("headless rotation run {run}: {found:?}");
    found
}

#[test]
fn a_headless_rotation_keeps_no_secret_access_key_in_memory() {
    every_run_finds_nothing(headless_rotation_run);
}

#[test]
fn a_headless_shared_file_apply_keeps_no_access_key_recovery_key_or_root_token_in_memory() {
    every_run_finds_nothing(headless_shared_file_run);
}

#[test]
fn the_search_finds_each_form_it_looks_for() {
    // The search itself must be able to fail: plant each form and find it.
    let value = "0123456789abcdef0123456789abcdefXYZ";
    let secret = [Secret {
        name: "planted".into(),
        value: value.into(),
    }];
    let mut hay = vec![0u8; 4096];
    hay[100..100 + value.len()].copy_from_slice(value.as_bytes());
    let cell = std::mem::size_of::<ratatui::buffer::Cell>();
    for (k, b) in value
        .bytes()
        .rev()
        .take(12)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .enumerate()
    {
        hay[1000 + k * cell] = b;
    }
    let found = search(&hay, &secret);
    let names: Vec<&str> = found.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "planted (whole)",
            "planted (first 12)",
            "planted (last 12)",
            "planted (last 12 as screen cells)"
        ]
    );
    assert!(search(&vec![0u8; 4096], &secret).is_empty());
}
