//! `destroy`: the way back decided first, then everything the state folder records undone.

use std::io::IsTerminal;
use std::path::Path;

use anyhow::{Context, bail};

use super::keys_source;
use crate::aws::destroy::{DestroyOptions, KEY_DELETION_WARNING};
use crate::cli::DestroyArgs;
use crate::headless::{Mode, with_printer};
use crate::ops::destroy::{self, Destroyed, Destroying, WayBack};
use crate::ops::{self};
use crate::prompt::{self, confirm, stop_on_signals};
use crate::run::events::StopRequest;

pub async fn destroy(args: DestroyArgs, state_dir: &Path, profile: Option<&str>) -> anyhow::Result<()> {
    let Some(destroying) = Destroying::open(state_dir, args.raft_token_file.is_some()).await? else {
        println!("Nothing to destroy: {} records nothing.", state_dir.display());
        return Ok(());
    };
    let raft_token = match &args.raft_token_file {
        Some(path) => Some(ops::join::read_token(path).map_err(anyhow::Error::msg)?),
        None => None,
    };
    let can_ask = !args.yes && std::io::stdin().is_terminal();
    let recovery_keys = match destroy::decide(destroying.sealed.clone(), args.migrate_back, args.force, can_ask) {
        WayBack::NotNeeded => None,
        WayBack::MigrateBack => Some(
            keys_source(args.recovery_keys_file.as_deref(), args.recovery_keys_stdin)
                .context(
                    "--migrate-back needs the recovery keys: --recovery-keys-file FILE (mode 0600) or \
                     --recovery-keys-stdin",
                )?
                .read()?,
        ),
        WayBack::Forced { data } => {
            if destroying.deletes_key {
                println!("\nFORCED: {data} will be lost for good once the key is deleted.");
            } else {
                println!(
                    "\nFORCED, the node leaves its cluster for good. {}.",
                    destroying.why_the_way_back(&data)
                );
            }
            if !args.yes && !confirm("", Some("lose the data"))? {
                bail!("nothing was removed");
            }
            None
        }
        WayBack::Ask { data } => {
            println!(
                "\n{}. The way back to Shamir first: disabled = \"true\" in the seal stanza, a restart, the \
                 recovery keys submitted with migrate (they then become the server's unseal keys), the stanza \
                 removed, a restart, and a check that the same keys unseal it.",
                destroying.why_the_way_back(&data)
            );
            let never = StopRequest::default();
            let question =
                "Type \"migrate back\" to do that first, \"lose the data\" to destroy anyway, anything else to stop: ";
            match prompt::ask(question, &never)?.as_str() {
                "migrate back" => Some(prompt::read_hidden_keys("Recovery key", &never)?),
                "lose the data" => None,
                _ => bail!("nothing was removed"),
            }
        }
        WayBack::Refuse { data } if destroying.deletes_key => bail!(
            "destroy refuses to schedule the deletion of the KMS key: it still seals {data}, which would be lost \
             for good. Move the server back to Shamir first: `{}` (the recovery keys then become its unseal keys), \
             or, if that data is not needed, pass --force",
            crate::cli::command_hint("destroy --migrate-back --recovery-keys-file FILE", state_dir)
        ),
        WayBack::Refuse { data } => bail!(
            "destroy refuses. {}. Take the cluster back to Shamir node by node first (`{}` on each host: the \
             standbys first, the active node last, then again on each standby to finish), or take this node out \
             of the cluster for good: remove it from the raft peer set (--raft-token-file) and pass --force",
            destroying.why_the_way_back(&data),
            crate::cli::command_hint("destroy --migrate-back --recovery-keys-file FILE", state_dir)
        ),
    };
    // The plan once the way back is decided: it keeps the config rather than removing it.
    println!("\nautounseal destroy will:");
    for line in destroying.plan(recovery_keys.is_some(), raft_token.is_some())? {
        println!("  {line}");
    }
    if destroying.deletes_key && recovery_keys.is_some() {
        // The way back comes first: by the time the key goes, no data is sealed by it.
        println!(
            "\nThe KMS key is scheduled for deletion only once the server is back on Shamir; KMS then waits {} \
             days before it is really gone.",
            args.deletion_window_days
        );
    } else if destroying.deletes_key {
        println!("\nWARNING: {KEY_DELETION_WARNING}");
        let window = args.deletion_window_days;
        if destroying.manifest.kms_replicas.is_empty() {
            println!(
                "KMS waits {window} days before the key is really gone: until {} (UTC), `aws kms \
                 cancel-key-deletion` brings it back.",
                crate::aws::destroy::deletion_day(window)
            );
        } else {
            println!(
                "KMS waits {window} days before the replicas are gone (until {}, UTC), and the key {window} days \
                 more (until {} or after): until then `aws kms cancel-key-deletion` brings each back.",
                crate::aws::destroy::deletion_day(window),
                crate::aws::destroy::deletion_day(2 * window)
            );
        }
    }
    if !args.yes && !confirm("", Some("destroy"))? {
        bail!("nothing was removed. To destroy without the typed confirmation, pass --yes");
    }
    let opts = DestroyOptions {
        deletion_window_days: args.deletion_window_days,
    };
    let stop = stop_on_signals()?;
    let destroyed = with_printer(Mode::Run, async |rep| {
        let rep = rep.with_stop(stop);
        let (keys, token, ca) = (recovery_keys.as_ref(), raft_token.as_ref(), args.ca_cert.as_deref());
        destroying.run(profile, opts, keys, token, ca, &rep).await
    })
    .await?;
    if let Destroyed::WaitsForTheCluster(said) = destroyed {
        println!(
            "\nNot destroyed yet: {said}. Once the cluster is back on Shamir, run `{}` here again to finish.",
            crate::cli::command_hint("destroy --migrate-back --recovery-keys-file FILE", state_dir)
        );
        return Ok(());
    }
    println!(
        "\nDestroyed. Nothing autounseal created is left but the key awaiting deletion (and, in {}, its own log \
         and the answers a wizard session kept).",
        state_dir.display()
    );
    Ok(())
}
