//! `drill`: a recovery rehearsed in a replica's region, on a throwaway server.

use std::path::Path;

use anyhow::bail;

use crate::cli::DrillArgs;
use crate::drill::DrillRequest;
use crate::headless::{Mode, with_printer};
use crate::ops::{self, OpsError, setup::Setup};
use crate::prompt::{read_hidden_token, stop_on_signals};

/// Reads the token (a file only its owner can read, or standard input), runs the drill
/// and says what it proved and how long the data took to come back.
pub async fn drill(args: DrillArgs, state_dir: &Path, profile: Option<&str>) -> anyhow::Result<()> {
    let setup = match Setup::open_recorded(state_dir, profile).await {
        Err(OpsError::NothingRecorded { state_dir }) => bail!(
            "{} records no setup: nothing to rehearse. Run `autounseal apply` first, or pass --state-dir",
            state_dir.display()
        ),
        other => other?,
    };
    let stop = stop_on_signals()?;
    let token = match &args.token_file {
        Some(file) => ops::join::read_token(file).map_err(anyhow::Error::msg)?,
        None => read_hidden_token(crate::questions::Q::DrillToken.label(), &stop)?,
    };
    let req = DrillRequest {
        region: args.region,
        token,
        read: args.read,
        ca_cert: args.ca_cert,
    };
    println!(
        "autounseal drill: the live server's data restored in {} on a throwaway server (state in {})",
        req.region,
        state_dir.display()
    );
    let report = with_printer(Mode::Run, async |rep| {
        ops::drill::drill(&setup, &req, &rep.with_stop(stop.clone())).await
    })
    .await?;
    println!(
        "\nRecovered in {}: the data was readable {:.1} s after the drill began ({} bytes of snapshot), unsealed \
         through {} with no key typed. Nothing of the drill is left; the live server was only read.",
        report.region,
        report.took.as_secs_f64(),
        report.snapshot_bytes,
        report.replica_arn
    );
    println!(
        "Recorded in the manifest: `{}` warns when the last good drill is more than 90 days old.",
        crate::cli::command_hint("doctor", state_dir)
    );
    Ok(())
}
