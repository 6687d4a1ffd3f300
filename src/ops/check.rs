//! doctor and status, node by node: what `autounseal doctor`/`status` print and the
//! wizard's screens of the same names show, from one loop. A node of a cluster whose
//! folder records nothing is a failed finding in doctor and "nothing set up" in status,
//! in every front end alike.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::doctor::status::Status;
use crate::doctor::{Finding, Link};

use super::OpsError;
use super::setup::{Node, Setup};

/// Doctor's findings for one node.
#[derive(Debug, Clone, Serialize)]
pub struct NodeFindings {
    pub node: String,
    pub state_dir: PathBuf,
    pub findings: Vec<Finding>,
}

/// One node's status, and what it is in its cluster (`active`, `standby`…; none when it
/// does not answer or runs no HA).
#[derive(Debug, Clone, Serialize)]
pub struct NodeStatus {
    pub node: String,
    pub role: Option<&'static str>,
    pub state_dir: PathBuf,
    pub status: Status,
}

/// Doctor on every node of the setup, in order. The first node must record a setup.
pub async fn doctor(setup: &Setup, ca_cert: Option<&Path>) -> Result<Vec<NodeFindings>, OpsError> {
    if setup.nodes[0].recorded.is_none() {
        return Err(OpsError::NothingRecorded {
            state_dir: setup.state_dir.clone(),
        });
    }
    let mut all = Vec::new();
    for node in &setup.nodes {
        let findings = match &node.recorded {
            Some(r) => crate::doctor::examine(&r.manifest, &r.aws, ca_cert).await,
            None => vec![nothing_recorded(node)],
        };
        all.push(NodeFindings {
            node: node.name.clone(),
            state_dir: node.dir.clone(),
            findings,
        });
    }
    Ok(all)
}

/// A cluster's node whose folder records nothing: it cannot start on its own.
fn nothing_recorded(node: &Node) -> Finding {
    Finding::fail(
        Link::State,
        "setup recorded",
        format!("{} records no setup for node {}", node.dir.display(), node.name),
        "run the same apply again: it makes the nodes that are missing, or destroy the cluster and start again",
    )
}

/// The exit code of every node's findings: the worst.
pub fn exit_code(nodes: &[NodeFindings]) -> u8 {
    nodes
        .iter()
        .map(|n| crate::doctor::exit_code(&n.findings))
        .max()
        .unwrap_or(0)
}

/// The status of every node of the setup (one with nothing set up when the folder
/// records none).
pub async fn status(setup: &Setup, ca_cert: Option<&Path>) -> Vec<NodeStatus> {
    let mut all = Vec::new();
    for node in &setup.nodes {
        let (status, role) = match &node.recorded {
            Some(r) => (
                crate::doctor::status::gather(&r.manifest, &r.aws, ca_cert).await,
                crate::cluster::role(&r.manifest, ca_cert).await,
            ),
            None => (crate::doctor::status::nothing(), None),
        };
        all.push(NodeStatus {
            node: node.name.clone(),
            role,
            state_dir: node.dir.clone(),
            status,
        });
    }
    all
}
