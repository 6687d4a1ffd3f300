//! Every program autounseal runs and waits for (`systemctl`, the server binary's
//! `version`, the demo's installer) runs bounded: a time limit, a cap on what it may
//! print, and a process group of its own that is killed whole (its own children too)
//! when it overruns either. A program that hangs or floods its output becomes an error
//! that names it; it never hangs autounseal or eats its memory.
//!
//! A first SIGINT or SIGTERM ([`stop_probes`]) ends the read-only probes at once (they
//! change nothing, so there is nothing to finish); actions (a restart a rollback needs)
//! run on to their own limit.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// What a stop request does to a child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnStop {
    /// A read-only probe: killed at once.
    Kill,
    /// An action (a restart): runs on to its time limit.
    Finish,
}

/// How long a child may run and how much it may print (stdout and stderr each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub timeout: Duration,
    pub output_cap: usize,
    pub on_stop: OnStop,
}

impl Limits {
    /// A read-only question to a program (`version`, `systemctl show`): answers in
    /// well under a second when it works at all.
    pub const PROBE: Limits = Limits {
        timeout: Duration::from_secs(10),
        output_cap: 64 * 1024,
        on_stop: OnStop::Kill,
    };

    /// An action that must not be cut short by a stop request, within `timeout`.
    pub const fn action(timeout: Duration) -> Limits {
        Limits {
            timeout,
            output_cap: 64 * 1024,
            on_stop: OnStop::Finish,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ChildError {
    #[error("cannot run {program}: {source}")]
    Start { program: String, source: std::io::Error },
    #[error("{program} did not finish within {secs} s, so it was stopped (with anything it started)")]
    TimedOut { program: String, secs: u64 },
    #[error("{program} printed more than {kib} KiB, so it was stopped: it does not answer as expected")]
    TooMuchOutput { program: String, kib: usize },
    #[error("{program} was stopped ({why})")]
    Stopped { program: String, why: &'static str },
}

/// Why probes stopped, once they were asked to (see [`stop_probes`]).
static STOPPED: OnceLock<&'static str> = OnceLock::new();

/// The process groups of the probes running now, to kill on a stop request.
static PROBES: Mutex<Vec<i32>> = Mutex::new(Vec::new());

/// A stop request (`why`: `SIGINT`, `SIGTERM`, `the wizard quit` …): every probe
/// running now is killed with its group, and no new one starts.
pub fn stop_probes(why: &'static str) {
    let _ = STOPPED.set(why);
    for pgid in PROBES.lock().unwrap_or_else(|p| p.into_inner()).iter() {
        let _ = killpg(Pid::from_raw(*pgid), Signal::SIGKILL);
    }
}

fn stop_signal() -> Option<&'static str> {
    STOPPED.get().copied()
}

/// A running child's group: registered as a probe while it runs, and killed whole when
/// it is dropped (after a normal exit this ends what the child left running).
struct Group {
    pgid: i32,
    probe: bool,
}

impl Group {
    fn new(pgid: i32, on_stop: OnStop) -> Group {
        let probe = on_stop == OnStop::Kill;
        if probe {
            PROBES.lock().unwrap_or_else(|p| p.into_inner()).push(pgid);
        }
        Group { pgid, probe }
    }

    fn kill(&self) {
        let _ = killpg(Pid::from_raw(self.pgid), Signal::SIGKILL);
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.kill();
        if self.probe {
            PROBES
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .retain(|g| *g != self.pgid);
        }
    }
}

/// Reads `from` into memory up to `cap` bytes; past that it raises `over` and stops
/// reading (the child then blocks on its next write until it is killed).
fn read_capped(mut from: impl Read, cap: usize, over: &AtomicBool) -> Vec<u8> {
    let mut kept = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => return kept,
            Ok(n) if kept.len() + n > cap => {
                over.store(true, Ordering::SeqCst);
                return kept;
            }
            Ok(n) => kept.extend_from_slice(&buf[..n]),
        }
    }
}

/// Runs `cmd` (its environment already set, see `child_env`) with no input, its
/// output captured, within `limits`. The exit status is the caller's to judge.
pub fn output(cmd: &mut Command, limits: Limits) -> Result<Output, ChildError> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    if let (OnStop::Kill, Some(why)) = (limits.on_stop, stop_signal()) {
        return Err(ChildError::Stopped { program, why });
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|source| ChildError::Start {
            program: program.clone(),
            source,
        })?;
    let group = Group::new(child.id() as i32, limits.on_stop);
    let over = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel();
    for (stream, pipe) in [
        (0, child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>)),
        (1, child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>)),
    ] {
        let (tx, over) = (tx.clone(), over.clone());
        if let Some(pipe) = pipe {
            std::thread::spawn(move || {
                let _ = tx.send((stream, read_capped(pipe, limits.output_cap, &over)));
            });
        }
    }
    drop(tx);
    let deadline = Instant::now() + limits.timeout;
    let mut pause = Duration::from_millis(1);
    let status: Result<ExitStatus, ChildError> = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break Ok(status);
        }
        let failed = if over.load(Ordering::SeqCst) {
            Some(ChildError::TooMuchOutput {
                program: program.clone(),
                kib: limits.output_cap / 1024,
            })
        } else if Instant::now() >= deadline {
            Some(ChildError::TimedOut {
                program: program.clone(),
                secs: limits.timeout.as_secs(),
            })
        } else if let (OnStop::Kill, Some(why)) = (limits.on_stop, stop_signal()) {
            Some(ChildError::Stopped {
                program: program.clone(),
                why,
            })
        } else {
            None
        };
        if let Some(e) = failed {
            group.kill();
            let _ = child.wait();
            break Err(e);
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    };
    // What the child left running in its group goes with it, so the pipes close.
    drop(group);
    let status = status?;
    let mut out = Output {
        status,
        stdout: Vec::new(),
        stderr: Vec::new(),
    };
    // A grandchild that left the group may hold a pipe open: wait for it a moment only.
    let until = Instant::now() + Duration::from_secs(1);
    while let Ok((stream, bytes)) = rx.recv_timeout(until.saturating_duration_since(Instant::now())) {
        if stream == 0 {
            out.stdout = bytes;
        } else {
            out.stderr = bytes;
        }
    }
    if over.load(Ordering::SeqCst) {
        return Err(ChildError::TooMuchOutput {
            program,
            kib: limits.output_cap / 1024,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Command {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", script]);
        cmd
    }

    fn limits(secs: u64) -> Limits {
        Limits::action(Duration::from_secs(secs))
    }

    #[test]
    fn a_quick_program_answers_with_its_output_and_status() {
        let out = output(&mut sh("echo out; echo err >&2; exit 3"), limits(5)).unwrap();
        assert_eq!(out.stdout, b"out\n");
        assert_eq!(out.stderr, b"err\n");
        assert_eq!(out.status.code(), Some(3));
    }

    #[test]
    fn a_program_that_hangs_is_killed_with_what_it_started() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("grandchild");
        let script = format!("sleep 60 & echo $! > {}; wait", pid_file.display());
        let started = Instant::now();
        let err = output(&mut sh(&script), limits(1)).unwrap_err();
        assert!(matches!(err, ChildError::TimedOut { secs: 1, .. }), "{err}");
        assert!(err.to_string().starts_with("sh did not finish within 1 s"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(5));
        let grandchild: i32 = std::fs::read_to_string(&pid_file).unwrap().trim().parse().unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let alive = std::fs::read_to_string(format!("/proc/{grandchild}/stat")).is_ok_and(|stat| {
            stat.rsplit_once(')')
                .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
        });
        assert!(!alive, "the sleep outlived its parent");
    }

    #[test]
    fn a_program_that_floods_its_output_is_stopped_at_the_cap() {
        let err = output(&mut Command::new("yes"), limits(30)).unwrap_err();
        assert!(matches!(err, ChildError::TooMuchOutput { kib: 64, .. }), "{err}");
        assert!(err.to_string().contains("yes printed more than 64 KiB"), "{err}");
    }

    #[test]
    fn a_missing_program_is_named() {
        let err = output(&mut Command::new("/no/such/program"), Limits::PROBE).unwrap_err();
        assert!(err.to_string().starts_with("cannot run /no/such/program:"), "{err}");
    }
}
