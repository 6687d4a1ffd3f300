//! A recorded server restarted through its launch mode: the one restart of a server
//! autounseal already runs, for `rotate` (onto a new key, or back to the old one) and
//! the way back to Shamir. Recorded with its twin like every change; a background
//! server's new pid, pid file and log go into the manifest. (`deploy` starts a server
//! from the answers, which is a first start, not this.)

use std::path::Path;
use std::time::Duration;

use crate::answers::Launch;
use crate::run::manifest::ServerRecord;
use crate::run::mutate::nothing_to_record;
use crate::run::{Change, Recorder, Result, Step};
use crate::twins;
use crate::vault::{config, launch};

/// How a server was restarted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restarted {
    /// In the background: its new pid (none in a plan).
    Background { pid: Option<u32> },
    /// Its systemd unit.
    Unit,
    /// Launch `none`: the operator's to restart; nothing was done.
    NotOurs,
}

/// The launch mode a server record names.
pub fn launch_of(server: &ServerRecord) -> Launch {
    match server.launch.as_str() {
        "systemd" => Launch::Systemd,
        "background" => Launch::Background,
        _ => Launch::None,
    }
}

/// The unit a server record names (`vault.service` for a record from before units were
/// recorded).
pub fn unit_of(server: &ServerRecord) -> String {
    server.unit.clone().unwrap_or_else(|| "vault.service".into())
}

/// Restarts the server `server` records so that it reads its files as they are now
/// (`env_file` holds its key): a background server stopped (15 s, then killed) and
/// started again, logging to `state_dir`; a unit's failed state reset (failed starts may
/// have hit its start limit), then `systemctl restart`. Does not wait for it: see
/// `deploy::wait_until`.
pub async fn restart(
    recorder: &Recorder<'_>,
    step: Step,
    server: &ServerRecord,
    env_file: &Path,
    state_dir: &Path,
) -> Result<Restarted> {
    match launch_of(server) {
        Launch::None => Ok(Restarted::NotOurs),
        Launch::Background => {
            let reads = config::server_reads(&server.config);
            let command = twins::server_command(&server.binary, &reads);
            let old_pid = server.pid.filter(|pid| launch::is_running(*pid));
            let twin = match old_pid {
                Some(pid) => format!("kill {pid}; {command}"),
                None => command,
            };
            let reads = &reads;
            let restart = |_| async move {
                if let Some(pid) = old_pid {
                    launch::stop_background(pid, Duration::from_secs(15));
                }
                Ok(launch::start_background(&server.binary, reads, env_file, state_dir)?)
            };
            let started = recorder
                .mutate(
                    Change::new(step, "server:restart", "in the background, with the env file", twin).on_the_way(),
                    restart,
                    |m, bg: &launch::Background| {
                        if let Some(s) = m.server.as_mut() {
                            s.pid = Some(bg.pid);
                            s.pid_file = Some(bg.pid_file.clone());
                            s.log_file = Some(bg.log.clone());
                        }
                    },
                    |bg| format!("started again, pid {}", bg.pid),
                )
                .await?;
            Ok(Restarted::Background {
                pid: started.done().map(|bg| bg.pid),
            })
        }
        Launch::Systemd => {
            let unit = &unit_of(server);
            recorder
                .mutate(
                    Change::new(step, "systemd:restart", unit.clone(), twins::systemd_restart(unit)).on_the_way(),
                    |_| async move {
                        launch::systemd_reset_failed(unit);
                        Ok(launch::systemd_restart(unit)?)
                    },
                    nothing_to_record,
                    |state| format!("{unit} is {state}"),
                )
                .await?;
            Ok(Restarted::Unit)
        }
    }
}
