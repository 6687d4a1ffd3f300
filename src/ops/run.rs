//! apply and plan: what the answers ask for, one decision for every front end. A node
//! joining a cluster (the cluster file `cluster.join` names), a cluster of local nodes,
//! or a single server (new, or a Shamir server's seal migration with its unseal keys).

use std::path::Path;

use crate::answers::{Answers, ExistingServer};
pub use crate::cluster::ClusterOutcome;
pub use crate::flow::FlowOutcome;
use crate::run::ApplyOptions;
use crate::run::{Reporter, RunError};
use crate::vault::deploy::{InitGate, KeysDestination};
use crate::vault::migrate::UnsealKeys;

use super::join::{Joined, Joining};

/// What a run made (or, in a plan, would make).
pub enum Ran {
    Single(Box<FlowOutcome>),
    Cluster(Box<ClusterOutcome>),
    Joined(Box<Joined>),
}

impl Ran {
    /// The outcome of the server this host set up first (a cluster's first node).
    pub fn first(&self) -> &FlowOutcome {
        match self {
            Ran::Single(o) => o,
            Ran::Cluster(c) => &c.first,
            Ran::Joined(j) => &j.outcome,
        }
    }

    /// Takes the first server's outcome, dropping the rest.
    pub fn into_first(self) -> FlowOutcome {
        match self {
            Ran::Single(o) => *o,
            Ran::Cluster(c) => c.first,
            Ran::Joined(j) => j.outcome,
        }
    }
}

/// The two ways of running: a plan reads and records nothing.
pub const APPLY: ApplyOptions = ApplyOptions {
    overwrite_files: true,
    dry_run: false,
};
pub const PLAN: ApplyOptions = ApplyOptions {
    overwrite_files: true,
    dry_run: true,
};

/// Runs what the answers ask for. `unseal_keys` are a migration's (refused for a
/// cluster or a join, which set up new servers).
pub async fn apply(
    answers: &Answers,
    state_dir: &Path,
    opts: ApplyOptions,
    keys: KeysDestination,
    rep: &Reporter,
    gate: InitGate,
    unseal_keys: Option<UnsealKeys>,
) -> Result<Ran, RunError> {
    let migrating = answers.server.existing == ExistingServer::Migrate;
    if let Some(path) = &answers.cluster.join {
        if unseal_keys.is_some() && !migrating {
            return Err(RunError::Unsuitable(
                "unseal keys were given, but cluster.join sets up a new node that unseals through the cluster's key"
                    .into(),
            ));
        }
        // With server.existing = "migrate": a node of a Shamir cluster moves to the key
        // a node migrated before it made (see `vault::migrate_cluster`).
        let joining = Joining::of(answers, path, state_dir)?;
        return Ok(Ran::Joined(Box::new(
            joining.run(state_dir, opts, rep, None, unseal_keys).await?,
        )));
    }
    if answers.cluster.is_cluster() {
        if unseal_keys.is_some() && answers.cluster.nodes > 1 {
            return Err(RunError::Unsuitable(
                "a seal migration moves the servers that exist, one host at a time; a local cluster \
                 (cluster.nodes > 1) is set up new. On each host of a cluster, migrate its node with \
                 cluster.nodes = 1 (see docs/cluster.md)"
                    .into(),
            ));
        }
        let outcome = crate::cluster::apply(answers, state_dir, opts, keys, rep, gate, unseal_keys).await?;
        return Ok(Ran::Cluster(Box::new(outcome)));
    }
    let outcome = crate::flow::run_with(answers, state_dir, opts, keys, rep, gate, unseal_keys).await?;
    Ok(Ran::Single(Box::new(outcome)))
}

/// What `apply` would do, read-only. Keys go where apply would put them (a plan checks
/// that file as apply does).
pub async fn plan(answers: &Answers, state_dir: &Path, keys: KeysDestination, rep: &Reporter) -> Result<Ran, RunError> {
    apply(answers, state_dir, PLAN, keys, rep, InitGate::default(), None).await
}
