//! Starting and stopping the server: a detached background process of autounseal's,
//! or the distribution's systemd unit with a drop-in that loads the env file.

use std::fs::OpenOptions;
use std::net::TcpListener;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::credentials_file;
use crate::vault::VaultError;

pub const SERVER_LOG: &str = "server.log";
pub const SERVER_PID: &str = "server.pid";

/// Fails when something already listens on `listen`.
pub fn ensure_port_free(listen: &str) -> Result<(), VaultError> {
    match TcpListener::bind(listen) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Err(VaultError::PortTaken {
            address: listen.to_string(),
            by: String::new(),
        }),
        Err(e) => Err(VaultError::Io(format!("cannot listen on {listen}: {e}"))),
    }
}

/// A server autounseal started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Background {
    pub pid: u32,
    pub log: PathBuf,
    pub pid_file: PathBuf,
}

/// Starts `binary server -config=CONFIG` detached (its own process group, so a
/// Ctrl-C or a dropped SSH session does not take it down), with the env file's
/// variables and the allow-list of `child_env` only, its output in `state_dir/server.log`.
pub fn start_background(
    binary: &Path,
    config: &Path,
    env_file: &Path,
    state_dir: &Path,
) -> Result<Background, VaultError> {
    start(binary, config, env_file, state_dir, false)
}

/// [`start_background`] for a server that must not outlive autounseal (a drill's
/// recovery server): killed by the kernel when the thread that started it ends, also
/// when autounseal is killed or exits without its cleanup.
pub fn start_tied(binary: &Path, config: &Path, env_file: &Path, state_dir: &Path) -> Result<Background, VaultError> {
    start(binary, config, env_file, state_dir, true)
}

fn start(
    binary: &Path,
    config: &Path,
    env_file: &Path,
    state_dir: &Path,
    tied: bool,
) -> Result<Background, VaultError> {
    let io = |what: &str, e: std::io::Error| VaultError::Io(format!("{what}: {e}"));
    std::fs::create_dir_all(state_dir).map_err(|e| io("cannot create the state folder", e))?;
    let log = state_dir.join(SERVER_LOG);
    let pid_file = state_dir.join(SERVER_PID);
    let out = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(&log)
        .map_err(|e| io(&format!("cannot open {}", log.display()), e))?;
    let err = out.try_clone().map_err(|e| io("cannot share the log", e))?;
    let vars =
        credentials_file::read_env_vars(env_file).map_err(|e| io(&format!("cannot read {}", env_file.display()), e))?;
    let mut cmd = Command::new(binary);
    cmd.arg("server")
        .arg(format!("-config={}", config.display()))
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0);
    // The env file's variables and the allow-list, as under systemd: none of the
    // operator's credentials, tokens or anything else.
    crate::child_env::clean(&mut cmd, &[]);
    for (key, value) in vars.iter() {
        cmd.env(key, value.as_str());
    }
    if tied {
        // SAFETY: between fork and exec only prctl(2) is called, which is async-signal-safe.
        unsafe {
            cmd.pre_exec(|| nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(std::io::Error::from));
        }
    }
    let child = cmd
        .spawn()
        .map_err(|e| io(&format!("cannot start {}", binary.display()), e))?;
    let pid = child.id();
    std::fs::write(&pid_file, format!("{pid}\n")).map_err(|e| io("cannot write the pid file", e))?;
    Ok(Background { pid, log, pid_file })
}

/// Whether `pid` is a live process (a zombie that has exited counts as gone).
pub fn is_running(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state is the field after the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X'])),
        Err(_) => false,
    }
}

/// Collects an exited child of ours so that it does not linger as a zombie.
fn reap(pid: u32) {
    let _ = nix::sys::wait::waitpid(Pid::from_raw(pid as i32), Some(nix::sys::wait::WaitPidFlag::WNOHANG));
}

/// The exit status of a child of ours that has ended, if it was ours to collect.
pub fn exit_status(pid: u32) -> String {
    use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
    match waitpid(Pid::from_raw(pid as i32), Some(WaitPidFlag::WNOHANG)) {
        Ok(WaitStatus::Exited(_, code)) => code.to_string(),
        Ok(WaitStatus::Signaled(_, sig, _)) => format!("killed by {sig}"),
        _ => "unknown".into(),
    }
}

/// Stops a background server: SIGTERM, up to `grace` to exit, then SIGKILL.
pub fn stop_background(pid: u32, grace: Duration) -> bool {
    if !is_running(pid) {
        reap(pid);
        return false;
    }
    let target = Pid::from_raw(pid as i32);
    let _ = kill(target, Signal::SIGTERM);
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        reap(pid);
        if !is_running(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = kill(target, Signal::SIGKILL);
    std::thread::sleep(Duration::from_millis(100));
    reap(pid);
    true
}

/// The last `lines` lines of a server log, made readable for an error message: Go's
/// hex dumps of a raw HTTP body are folded into one line with the answer they quote,
/// and a message the server repeats (a sealed node's "security barrier not
/// initialized", four times a second) is shown once, at its last place, with how often:
/// the rarer lines that say why stay in view.
pub fn log_tail(log: &Path, lines: usize) -> String {
    let text = std::fs::read(log).unwrap_or_default();
    // The end is what says why; a server that ran for weeks has a long log.
    let text = String::from_utf8_lossy(&text[text.len().saturating_sub(LOG_TAIL_BYTES)..]);
    // Each line at the last place its message was seen, with how often (a slot is
    // emptied when its message comes again).
    let mut kept: Vec<Option<(String, usize)>> = Vec::new();
    let mut last_seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut dumped = String::new();
    for line in text.lines() {
        match hex_dump_text(line) {
            Some(ascii) => dumped.push_str(ascii),
            None => {
                let times = last_seen
                    .insert(without_timestamp(line).to_string(), kept.len())
                    .and_then(|earlier| kept[earlier].take())
                    .map_or(1, |(_, times)| times + 1);
                kept.push(Some((line.to_string(), times)));
            }
        }
    }
    let mut kept: Vec<String> = kept
        .into_iter()
        .flatten()
        .map(|(line, times)| match times {
            1 => line,
            n => format!("{line} (×{n})"),
        })
        .collect();
    if let Some(answer) = quoted_answer(&dumped) {
        kept.push(format!("(the answer it quotes: {answer})"));
    }
    kept[kept.len().saturating_sub(lines)..].join("\n")
}

/// How much of the end of a server log [`log_tail`] reads.
const LOG_TAIL_BYTES: usize = 256 * 1024;

/// A log line without its leading RFC 3339 timestamp, if it has one.
fn without_timestamp(line: &str) -> &str {
    match line.split_once(' ') {
        Some((first, rest)) if first.len() >= 20 && first.as_bytes()[0].is_ascii_digit() && first.contains('T') => {
            rest.trim_start()
        }
        _ => line,
    }
}

/// The text column of a hex dump line (`00000040  72 72 … |rror><Code>Acces|`).
fn hex_dump_text(line: &str) -> Option<&str> {
    let trimmed = line.trim_start();
    let offset = trimmed.get(..8)?;
    if !offset.chars().all(|c| c.is_ascii_hexdigit()) || !trimmed[8..].starts_with("  ") {
        return None;
    }
    let start = trimmed.find('|')? + 1;
    let end = trimmed.rfind('|')?;
    (end >= start).then(|| &trimmed[start..end])
}

/// `Code: Message` of an AWS XML error body.
fn quoted_answer(body: &str) -> Option<String> {
    let (code, message) = crate::run::error::xml_error(body)?;
    Some(match message {
        Some(message) => format!("{code}: {message}"),
        None => code,
    })
}

/// Where the drop-in for `unit` goes.
pub fn drop_in_path(unit: &str) -> PathBuf {
    PathBuf::from(format!("/etc/systemd/system/{unit}.d/autounseal.conf"))
}

/// How long `systemctl restart` may take: systemd's own start timeout (90 s unless the
/// unit says otherwise) plus the stop before it.
const SYSTEMCTL_RESTART_LIMIT: Duration = Duration::from_secs(150);
/// How long any other `systemctl` call may take.
const SYSTEMCTL_LIMIT: Duration = Duration::from_secs(60);

/// `systemctl ARGS…`, bounded; its standard output, or an error with what it said.
fn systemctl(args: &[&str], unit: &str, limit: Duration) -> Result<String, VaultError> {
    let out = crate::child::output(
        crate::child_env::clean(&mut Command::new("systemctl"), &[]).args(args),
        crate::child::Limits::action(limit),
    )
    .map_err(|e| {
        VaultError::Io(format!(
            "{e}; is this a systemd host? Use server.launch = \"background\" or \"none\""
        ))
    })?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() && args[0] != "is-active" {
        let said = String::from_utf8_lossy(&out.stderr).trim().to_string();
        // systemctl often says where to look already: said once.
        let hint = if said.contains("journalctl") || unit.is_empty() {
            String::new()
        } else {
            format!(". See `journalctl -u {unit}`")
        };
        return Err(VaultError::Refused(format!(
            "systemctl {} failed: {said}{hint}",
            args.join(" ")
        )));
    }
    Ok(text)
}

/// `systemctl ARGS…` that changes something (`enable --now UNIT`), bounded like every
/// other: its stdout, or what systemctl said when it failed.
pub fn systemctl_action(args: &[&str], unit: &str) -> Result<String, VaultError> {
    systemctl(args, unit, SYSTEMCTL_LIMIT)
}

/// A read-only `systemctl ARGS…` (`show`): bounded as a probe, so a stop request ends it
/// at once; the output is the caller's to read.
pub fn systemctl_probe(args: &[&str]) -> Result<std::process::Output, crate::child::ChildError> {
    crate::child::output(
        crate::child_env::clean(&mut Command::new("systemctl"), &[]).args(args),
        crate::child::Limits::PROBE,
    )
}

/// `systemctl reset-failed UNIT`: a unit that failed to start too often in a row is
/// refused further starts until this is said (a rollback must start it all the same).
pub fn systemd_reset_failed(unit: &str) {
    let _ = systemctl(&["reset-failed", unit], unit, SYSTEMCTL_LIMIT);
}

/// Whether systemd gave up on `unit` (`systemctl is-failed`): its server exited and it
/// restarts it no more (no `Restart=`, or the start limit hit). A bounded probe.
pub fn systemd_failed(unit: &str) -> bool {
    systemctl_probe(&["is-failed", "--quiet", unit]).is_ok_and(|out| out.status.success())
}

/// The last `lines` lines of `unit`'s journal (empty when journalctl cannot say).
pub fn journal_tail(unit: &str, lines: u16) -> String {
    let lines = lines.to_string();
    let mut cmd = Command::new("journalctl");
    crate::child_env::clean(&mut cmd, &[]).args(["-u", unit, "-n", &lines, "--no-pager", "-o", "cat"]);
    crate::child::output(&mut cmd, crate::child::Limits::PROBE)
        .map(|out| String::from_utf8_lossy(&out.stdout).trim_end().to_string())
        .unwrap_or_default()
}

/// `systemctl daemon-reload`: after a drop-in is written or removed, so that the unit's
/// next start reads what is on disk (a removed `EnvironmentFile=` otherwise still counts,
/// and the start fails on the missing file).
pub fn systemd_daemon_reload() -> Result<(), VaultError> {
    systemctl(&["daemon-reload"], "", SYSTEMCTL_LIMIT).map(drop)
}

/// When `unit` last became active, if it is active now (to the second; `None` when
/// systemd cannot say, and then the caller restarts to be sure).
pub fn systemd_active_since(unit: &str) -> Option<std::time::SystemTime> {
    let shown = systemctl(
        &[
            "show",
            "--timestamp=unix",
            "-p",
            "ActiveState,ActiveEnterTimestamp",
            unit,
        ],
        unit,
        SYSTEMCTL_LIMIT,
    )
    .ok()?;
    let value = |key: &str| {
        shown
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .map(str::trim)
    };
    if value("ActiveState")? != "active" {
        return None;
    }
    let secs: u64 = value("ActiveEnterTimestamp")?.strip_prefix('@')?.parse().ok()?;
    Some(std::time::UNIX_EPOCH + Duration::from_secs(secs))
}

/// `systemctl daemon-reload`, then `restart UNIT`; returns the unit's state.
pub fn systemd_restart(unit: &str) -> Result<String, VaultError> {
    systemd_daemon_reload()?;
    systemctl(&["restart", unit], unit, SYSTEMCTL_RESTART_LIMIT)?;
    systemctl(&["is-active", unit], unit, SYSTEMCTL_LIMIT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_taken_port_is_reported() {
        let held = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = held.local_addr().unwrap().to_string();
        let err = ensure_port_free(&addr).unwrap_err().to_string();
        assert!(err.contains("already in use") && err.contains("server.listen"), "{err}");
        drop(held);
        ensure_port_free(&addr).unwrap();
    }

    #[test]
    fn background_processes_start_and_stop() {
        let dir = tempfile::tempdir().unwrap();
        let env = dir.path().join("vault.env");
        std::fs::write(&env, "AWS_REGION=eu-west-1\n").unwrap();
        // Process handling only; the real server is started in tests/server/vault_openbao.rs.
        let script = dir.path().join("fake-server");
        std::fs::write(
            &script,
            "#!/bin/sh\necho \"region=$AWS_REGION args=$*\"\nexec sleep 30\n",
        )
        .unwrap();
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let bg = start_background(&script, Path::new("/c.hcl"), &env, dir.path()).unwrap();
        assert!(is_running(bg.pid));
        assert_eq!(
            std::fs::read_to_string(&bg.pid_file).unwrap().trim(),
            bg.pid.to_string()
        );
        std::thread::sleep(Duration::from_millis(300));
        assert!(log_tail(&bg.log, 5).contains("region=eu-west-1 args=server -config=/c.hcl"));
        assert!(stop_background(bg.pid, Duration::from_secs(5)));
        assert!(!is_running(bg.pid));
    }

    #[test]
    fn a_log_tail_folds_hex_dumps_and_repeated_messages() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("server.log");
        std::fs::write(
            &log,
            "Error configuring seal \"awskms\": status code: 403\n\
             \t00000000  3c 43 6f 64 65 3e 41 63  |<Code>Ac|\n\
             \t00000008  63 65 73 73 44 65 6e 69  |cessDeni|\n\
             \t00000010  65 64 3c 2f 43 6f 64 65  |ed</Code><Message>no kms:DescribeKey</Message>|\n\
             caused by: invalid character\n",
        )
        .unwrap();
        let tail = log_tail(&log, 10);
        assert!(!tail.contains("00000008"), "{tail}");
        assert!(
            tail.contains("status code: 403") && tail.contains("caused by: invalid character"),
            "{tail}"
        );
        assert!(
            tail.ends_with("(the answer it quotes: AccessDenied: no kms:DescribeKey)"),
            "{tail}"
        );
        assert_eq!(
            crate::run::error::log_cause(&tail),
            Some("Error configuring seal \"awskms\": status code: 403")
        );

        // A message repeated between the rare ones is shown once, with how often.
        let noisy = dir.path().join("noisy.log");
        let mut text =
            String::from("2026-12-07T00:50:40.000Z [ERROR] core: failed to join raft: tls: bad certificate\n");
        for i in 0..50 {
            text.push_str(&format!(
                "2026-12-07T00:50:{:02}.039Z [INFO]  core: security barrier not initialized\n",
                i % 60
            ));
        }
        std::fs::write(&noisy, text).unwrap();
        let tail = log_tail(&noisy, 3);
        assert!(tail.contains("failed to join raft: tls: bad certificate"), "{tail}");
        assert!(tail.ends_with("core: security barrier not initialized (×50)"), "{tail}");
    }

    #[test]
    fn drop_in_path_per_unit() {
        assert_eq!(
            drop_in_path("openbao.service"),
            Path::new("/etc/systemd/system/openbao.service.d/autounseal.conf")
        );
    }
}
