//! The operations, once, under every front end: what `autounseal COMMAND`, the line
//! prompts and the wizard's screens call, and only render. Like cargo's `ops`: each
//! operation opens what it works on ([`setup::Setup`]: a recorded single server or
//! every node of a local cluster), does its work through the core (`flow`, `cluster`,
//! `rotate`, `doctor`) and returns typed results, a node at a time, and typed errors
//! ([`OpsError`]) a front end can react to.
//!
//! - [`setup`]: a recorded setup and its nodes; the nodes a layout would make.
//! - [`run`]: apply and plan (a single server, a migration, a cluster, a join).
//! - [`join`]: this host as one more node of a cluster file.
//! - [`check`]: doctor and status, node by node.
//! - [`rotate`]: the access key's rotation, node by node (rolling).
//! - [`destroy`]: the way back decided from what the key still seals, then the undo.
//! - [`drill`]: the data restored in a replica's region, on a throwaway server.
//! - [`monitor`]: doctor on a systemd timer, for this state folder.

pub mod check;
pub mod destroy;
pub mod drill;
pub mod join;
pub mod monitor;
pub mod rotate;
pub mod run;
pub mod setup;

use std::path::PathBuf;

use crate::run::RunError;

/// What an operation could not do, typed where a front end says it its own way.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    /// The state folder records nothing to work on: each front end says how to make one.
    #[error("{} records no setup", state_dir.display())]
    NothingRecorded { state_dir: PathBuf },
    /// `--node ID` names no node of the setup.
    #[error("{} records no node {wanted}: its nodes are {}. Pass one of them to --node", state_dir.display(), nodes.join(", "))]
    NoSuchNode {
        state_dir: PathBuf,
        wanted: String,
        nodes: Vec<String>,
    },
    /// A node of a cluster failed: the error, and the nodes already done before it.
    #[error("node {node}: {error}{}", done_before(.done))]
    Node {
        node: String,
        error: Box<RunError>,
        done: Vec<String>,
    },
    #[error(transparent)]
    Run(#[from] RunError),
}

impl OpsError {
    /// A stop the operator asked for (Ctrl-C, a confirmed quit), wherever it happened.
    pub fn is_stop(&self) -> bool {
        match self {
            OpsError::Run(e) => e.is_stop(),
            OpsError::Node { error, .. } => error.is_stop(),
            _ => false,
        }
    }
}

fn done_before(done: &[String]) -> String {
    if done.is_empty() {
        String::new()
    } else {
        format!(" (done before it: {})", done.join("; "))
    }
}
