//! `apply`: the answers file, run (a single server, a migration, a cluster, or a join),
//! then what was made and how to undo it.

use std::path::Path;

use anyhow::bail;

use super::{go_ahead, join, keys_source, load_answers, print_summary};
use crate::answers::{Answers, ExistingServer};
use crate::cli::{ApplyArgs, JoinArgs};
use crate::headless::{Mode, with_printer};
use crate::ops::{self, run::APPLY, run::ClusterOutcome, run::Ran};
use crate::prompt::stop_on_signals;
use crate::vault::deploy::{InitGate, KeysDestination};
use crate::vault::migrate::{self, UnsealKeys};

pub async fn apply(args: ApplyArgs, state_dir: &Path, profile: Option<&str>) -> anyhow::Result<()> {
    let answers = load_answers(&args.answers, profile)?;
    // `[cluster] join`: this host joins the cluster that file describes, as `join` does.
    // A join; a node of a Shamir cluster moving to the cluster's key runs below, with its keys.
    if let Some(cluster) = answers.cluster.join.clone()
        && answers.server.existing != ExistingServer::Migrate
    {
        if args.unseal_keys_file.is_some() || args.unseal_keys_stdin {
            bail!("unseal keys were given, but cluster.join sets up a new node that unseals through the cluster's key");
        }
        let join_args = JoinArgs {
            cluster,
            answers: Some(args.answers),
            yes: args.yes,
            raft_token_file: None,
        };
        return join(join_args, state_dir, profile).await;
    }
    // Checked before the question: where the recovery keys will go.
    let keys = KeysDestination::headless(&answers)?;
    let source = keys_source(args.unseal_keys_file.as_deref(), args.unseal_keys_stdin);
    if source.is_some() && answers.server.existing != ExistingServer::Migrate {
        bail!("unseal keys were given, but server.existing is not \"migrate\": nothing would use them");
    }
    // Read at once, before anything changes: a wrong file fails here.
    let unseal_keys: Option<UnsealKeys> = source.map(|s| s.read()).transpose()?;
    // Said with the paths the host fills in (a packaged unit's config), as the run uses
    // them; looked up only when something is said before the run (it runs the binary).
    let filled = if answers.server.existing == ExistingServer::Migrate || !args.yes {
        crate::vault::discover::Host::discover(&answers).fill(&answers).0
    } else {
        answers.clone()
    };
    if answers.server.existing == ExistingServer::Migrate {
        println!();
        for line in migrate::explanation(&filled) {
            println!("{line}");
        }
    }
    if !args.yes {
        let question = format!(
            "This creates a KMS key, an IAM user, a policy and an access key in {}, writes {} and {}, \
             and starts the server as \"{}\" (run `autounseal plan` to see every call). Go ahead?",
            answers.region,
            filled.output.env_file.display(),
            filled.output.vault_config.display(),
            answers.server.launch.as_str()
        );
        go_ahead(&question)?;
    }
    println!(
        "autounseal apply: {} (state in {})",
        args.answers.display(),
        state_dir.display()
    );
    let stop = stop_on_signals()?;
    let ran = keeping_handed_back_keys(&answers, state_dir, async |gate| {
        with_printer(Mode::Run, async |rep| {
            let rep = rep.with_stop(stop);
            ops::run::apply(&answers, state_dir, APPLY, keys, &rep, gate, unseal_keys).await
        })
        .await
    })
    .await?;
    match &ran {
        Ran::Cluster(outcome) => {
            print_summary(&outcome.first_answers, state_dir, &outcome.first);
            print_cluster(outcome, state_dir);
        }
        _ => print_summary(&answers, state_dir, ran.first()),
    }
    drop(ran);
    crate::pause::point("finished");
    Ok(())
}

/// Runs `work` with an init gate of its own. Keys init handed back (encrypted to the
/// operator's PGP keys) to a run that then failed exist nowhere else: they go to a new
/// 0600 file in the state folder, named here.
async fn keeping_handed_back_keys<T>(
    answers: &Answers,
    state_dir: &Path,
    work: impl AsyncFnOnce(InitGate) -> crate::run::Result<T>,
) -> anyhow::Result<T> {
    let gate = InitGate::default();
    let result = work(gate.clone()).await;
    if result.is_err() {
        keep_handed_back_keys(&gate, answers, state_dir).await;
    }
    Ok(result?)
}

async fn keep_handed_back_keys(gate: &InitGate, answers: &Answers, state_dir: &Path) {
    let Some(secrets) = gate.take_keys() else { return };
    let address = crate::vault::config::api_addr(answers);
    let threshold = answers.init.recovery_threshold;
    match crate::vault::deploy::keep_unconfirmed_keys(&secrets, state_dir, threshold, &address).await {
        Ok(path) => eprintln!(
            "\nThe run failed after init. The recovery keys and root token it handed back are saved in {} \
             (mode 0600), the only copy: store them offline, then delete the file.",
            path.display()
        ),
        Err(e) => eprintln!("\nThe run failed after init, and the keys it handed back could not be saved: {e}"),
    }
}

/// Every node of a cluster, its role, and how the other hosts join.
fn print_cluster(outcome: &ClusterOutcome, state_dir: &Path) {
    println!("\nThe cluster's nodes, each with its own IAM user, access key and env file:");
    for node in &outcome.nodes {
        println!(
            "  {:<16} {} {}",
            node.id,
            node.address,
            node.role.map(|r| format!("({r})")).unwrap_or_default()
        );
        println!("  {:<16} user {}", "", node.user_arn);
        println!(
            "  {:<16} {} and {}; state in {}",
            "",
            node.env_file.display(),
            node.vault_config.display(),
            node.state_dir.display()
        );
    }
    if let Some(file) = &outcome.cluster_file {
        println!(
            "  cluster file: {} (no secret): on another host, `autounseal join --cluster FILE --answers HOST.toml`",
            file.display()
        );
    }
    println!(
        "  undo all nodes, then the shared key and policy: {}",
        crate::cli::command_hint("destroy", state_dir)
    );
}
