//! `rotate`: the access key rotated, a cluster's nodes one at a time.

use std::path::Path;

use anyhow::bail;

use crate::cli::RotateArgs;
use crate::headless::{Mode, with_printer};
use crate::ops::{self, OpsError, setup::Setup};
use crate::prompt::{confirm, stop_on_signals};
use crate::rotate;

/// `rotate`: shows what it will do, asks unless `--yes`, rotates, says when the next is due:
/// the access key of the setup the state folder records. In a cluster's, of
/// every node in turn (a rolling rotation: each node is back, unsealed on its new key,
/// before the next restarts, so a majority always serves), or of `--node ID` alone.
pub async fn rotate(args: RotateArgs, state_dir: &Path, profile: Option<&str>) -> anyhow::Result<()> {
    let opened = Setup::open_recorded(state_dir, profile).await;
    let setup = nothing_to(opened, "rotate")?;
    let cluster = setup.is_cluster();
    let setup = setup.only(args.node.as_deref())?;
    let plan = nothing_to(ops::rotate::plan(&setup), "rotate")?;
    if cluster && args.node.is_none() {
        println!(
            "A cluster of {} nodes: each is rotated in turn, the next only once the one before is unsealed on its new \
             key (--node ID rotates one).",
            plan.len()
        );
    }
    println!("autounseal rotate will:");
    for node in &plan {
        if cluster {
            println!("  Node {}:", node.node);
        }
        for line in &node.lines {
            println!("  - {line}");
        }
    }
    if !args.yes && !confirm("Go ahead?", None)? {
        bail!("nothing was changed. To rotate without a question (scripts, cron), pass --yes");
    }
    // The first Ctrl-C (or SIGTERM) stops after the step in flight and rolls back.
    let stop = stop_on_signals()?;
    println!("autounseal rotate (state in {})", state_dir.display());
    let opts = rotate::RotateOptions {
        ca_cert: args.ca_cert.clone(),
        restarted: args.restarted,
    };
    let rotation = with_printer(Mode::Run, async |rep| {
        ops::rotate::rotate(&setup, opts, &rep.with_stop(stop.clone())).await
    })
    .await?;
    for node in &rotation.nodes {
        if cluster {
            println!("\nNode {}:", node.node);
        }
        rotated(&node.outcome, state_dir);
    }
    if !rotation.not_reached.is_empty() {
        let why = match stop.requested() {
            Some(signal) => format!("{signal} stopped the rotation before them"),
            None => "they follow once the node above is restarted".to_string(),
        };
        println!(
            "\nNot rotated yet: {} ({why}). Run rotate again to rotate them.",
            rotation.not_reached.join(", ")
        );
    }
    crate::pause::point("finished");
    Ok(())
}

/// A folder that records nothing, said as the CLI says it.
fn nothing_to<T>(result: Result<T, OpsError>, what: &str) -> anyhow::Result<T> {
    match result {
        Err(OpsError::NothingRecorded { state_dir }) => bail!(
            "{} records no setup: nothing to {what}. Run `autounseal` or `autounseal apply` first, or pass --state-dir",
            state_dir.display()
        ),
        other => Ok(other?),
    }
}

/// Says how a node's rotation ended.
fn rotated(outcome: &rotate::RotateOutcome, state_dir: &Path) {
    match outcome {
        rotate::RotateOutcome::Rotated {
            old_key_id, new_key_id, ..
        } => {
            println!("\nRotated: the server uses access key {new_key_id}; {old_key_id} is deleted.");
            println!(
                "Rotate again within 30 to {} days: by {} at the latest ({}).",
                rotate::ROTATE_EVERY_DAYS,
                rotate::next_due(),
                crate::cli::command_hint("rotate", state_dir)
            );
        }
        rotate::RotateOutcome::WaitingForRestart { new_key_id, restart } => {
            println!("\nThe new access key {new_key_id} is saved and works; the old one is still active.");
            println!("Now {restart}.");
            println!(
                "Then run `{}`: it checks that the server unsealed and retires the old key.",
                crate::cli::command_hint("rotate --restarted", state_dir)
            );
        }
    }
}
