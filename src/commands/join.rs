//! `join`: this host becomes one more node of the cluster a cluster file describes.

use std::path::Path;

use anyhow::Context;

use super::{go_ahead, print_summary};
use crate::answers::Answers;
use crate::cli::JoinArgs;
use crate::headless::{Mode, with_printer};
use crate::ops::{self, join::Joining, run::APPLY};
use crate::prompt::stop_on_signals;

/// `join`: this host becomes one more node of the cluster the file describes.
pub async fn join(args: JoinArgs, state_dir: &Path, profile: Option<&str>) -> anyhow::Result<()> {
    // This host's answers: its server and files; the cluster's key, region and policy win.
    let mut own = match &args.answers {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the answers file {}", path.display()))?;
            Answers::parse(&text)
                .map_err(|e| anyhow::anyhow!("the answers file {} is not valid: {e}", path.display()))?
        }
        None => Answers::default(),
    };
    if let Some(profile) = profile {
        own.profile = Some(profile.to_string());
    }
    let joining = Joining::of(&own, &args.cluster, state_dir)?;
    let token = args
        .raft_token_file
        .as_deref()
        .map(ops::join::read_token)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let (member, nodes) = (joining.member.clone(), joining.file.nodes.len());
    if !args.yes {
        let question = format!(
            "This joins {} to the cluster of {nodes} node(s): it creates the IAM user {} with the cluster's policy \
             and an access key, writes {} and {}, and starts the server as \"{}\" to join and unseal through KMS. \
             Go ahead?",
            member.server.node_id,
            member.iam.user_name,
            member.output.env_file.display(),
            member.output.vault_config.display(),
            member.server.launch.as_str()
        );
        go_ahead(&question)?;
    }
    println!(
        "autounseal join: node {} into the cluster of {} (state in {})",
        member.server.node_id,
        args.cluster.display(),
        state_dir.display()
    );
    let stop = stop_on_signals()?;
    let joined = with_printer(Mode::Run, async |rep| {
        let rep = rep.with_stop(stop);
        joining.run(state_dir, APPLY, &rep, token.as_ref(), None).await
    })
    .await?;
    if let Some(peer) = &joined.peer {
        println!(
            "In the raft peer set as the leader has it: {} at {}, {}",
            peer.node_id,
            peer.address,
            if peer.voter {
                "a voter"
            } else {
                "a non-voter until autopilot promotes it (once stable, 10 s)"
            }
        );
    }
    print_summary(&member, state_dir, &joined.outcome);
    if let Some(leader) = &joined.leader {
        println!(
            "  raft:         joined; {} ({})",
            if leader.is_self { "active" } else { "standby" },
            leader.leader_address
        );
    }
    println!(
        "  leaving the cluster: `{}` takes this node out of the raft peer set, then removes its user, key and \
         files (or, without a token, `{} operator raft remove-peer {}` on the active node)",
        crate::cli::command_hint("destroy --raft-token-file FILE", state_dir),
        joined.flavour,
        joined.node_id
    );
    Ok(())
}
