//! `monitor install` and `monitor remove`: doctor on a systemd timer.

use std::path::Path;

use anyhow::{Context, bail};

use crate::cli::MonitorAction;
use crate::ops::monitor::{self, MonitorRequest};
use crate::ops::{OpsError, setup::Setup};
use crate::run::ManifestStore;

pub async fn monitor(action: MonitorAction, state_dir: &Path, profile: Option<&str>) -> anyhow::Result<()> {
    let setup = match Setup::open_recorded(state_dir, profile).await {
        Err(OpsError::NothingRecorded { state_dir }) => bail!(
            "{} records no setup: nothing to monitor. Run `autounseal apply` first, or pass --state-dir",
            state_dir.display()
        ),
        other => other?,
    };
    // The first node's manifest records the units: destroy removes them with the setup.
    let store = ManifestStore::open(&setup.nodes[0].dir)?;
    match action {
        MonitorAction::Install { textfile } => {
            let exe = std::env::current_exe().context("cannot tell where this autounseal is")?;
            let req = MonitorRequest {
                exe: std::fs::canonicalize(&exe).unwrap_or(exe),
                state_dir: std::path::absolute(state_dir)?,
                profile: profile.map(str::to_string),
                textfile: std::path::absolute(&textfile)?,
            };
            monitor::check_runs_safely_as_root(&req.exe)?;
            let units = monitor::install(&store, &req)?;
            println!(
                "Installed {} and {}: doctor runs for {} daily and 5 minutes after each boot, as root, and writes \
                 its findings to {} (started once now).",
                units.service.0.display(),
                units.timer.0.display(),
                req.state_dir.display(),
                req.textfile.display()
            );
            match &req.profile {
                Some(p) => println!("It reads IAM and KMS with root's AWS profile \"{p}\"."),
                None => println!(
                    "It reads IAM and KMS with root's default AWS credentials (none: those checks fail, and the \
                     key's state is read with the server's own key). To give it a profile of root's ~/.aws: \
                     `autounseal --profile NAME monitor install`."
                ),
            }
            println!(
                "See it with `systemctl list-timers autounseal-doctor.timer` and `journalctl -u autounseal-doctor`; \
                 the alert rules are in docs/operations.md."
            );
        }
        MonitorAction::Remove => {
            let removed = monitor::remove(&store)?;
            if removed.is_empty() {
                println!(
                    "No monitor is installed for {}: nothing to remove.",
                    state_dir.display()
                );
            } else {
                println!("Stopped the timer and removed:");
                for path in removed {
                    println!("  {}", path.display());
                }
            }
        }
    }
    Ok(())
}
