//! The access key's rotation over a recorded setup: a single server, or every node of
//! a cluster in turn (a rolling rotation: each node is back, unsealed on its new key,
//! before the next restarts, so a majority always serves), or the one `--node` names.

use crate::rotate::{RotateOptions, RotateOutcome};
use crate::run::{ManifestStore, Reporter};

use super::OpsError;
use super::setup::Setup;

/// What rotation will do on one node, a line each.
pub struct NodePlan {
    pub node: String,
    pub lines: Vec<String>,
}

/// One node's rotation as it ended.
pub struct NodeRotated {
    pub node: String,
    pub outcome: RotateOutcome,
}

/// How a rotation of the setup ended.
pub struct Rotation {
    /// The nodes rotated, in order; the last may be waiting for its restart.
    pub nodes: Vec<NodeRotated>,
    /// Nodes not reached: the one before waits for a restart, or a stop was asked for.
    pub not_reached: Vec<String>,
}

/// What rotating each node of `setup` will do. Every node must record a setup.
pub fn plan(setup: &Setup) -> Result<Vec<NodePlan>, OpsError> {
    setup
        .nodes
        .iter()
        .map(|node| match &node.recorded {
            Some(r) => Ok(NodePlan {
                node: node.name.clone(),
                lines: crate::rotate::rotate_plan(&r.manifest),
            }),
            None => Err(OpsError::NothingRecorded {
                state_dir: node.dir.clone(),
            }),
        })
        .collect()
}

/// Rotates every node of `setup` in turn; in a cluster each is announced by a note.
/// A node that waits for its restart (launch `none`) stops the loop there, as does a
/// stop asked for between two nodes.
pub async fn rotate(setup: &Setup, opts: RotateOptions, rep: &Reporter) -> Result<Rotation, OpsError> {
    plan(setup)?;
    let count = setup.nodes.len();
    let mut nodes: Vec<NodeRotated> = Vec::new();
    for (i, node) in setup.nodes.iter().enumerate() {
        let Some(recorded) = &node.recorded else {
            unreachable!("plan checked that every node records a setup");
        };
        if nodes
            .last()
            .is_some_and(|n| !matches!(n.outcome, RotateOutcome::Rotated { .. }))
            || (i > 0 && rep.check_stop().is_err())
        {
            return Ok(Rotation {
                nodes,
                not_reached: setup.nodes[i..].iter().map(|n| n.name.clone()).collect(),
            });
        }
        if setup.is_cluster() {
            rep.note(format!("node {} ({} of {count})", node.name, i + 1));
        }
        let rotated = async {
            let store = ManifestStore::open(&node.dir)?;
            crate::rotate::rotate(&recorded.aws, &store, rep, opts.clone()).await
        }
        .await;
        match rotated {
            Ok(outcome) => nodes.push(NodeRotated {
                node: node.name.clone(),
                outcome,
            }),
            Err(error) if setup.is_cluster() => {
                return Err(OpsError::Node {
                    node: node.name.clone(),
                    error: Box::new(error),
                    done: nodes.iter().map(rotated_line).collect(),
                });
            }
            Err(error) => return Err(error.into()),
        }
    }
    Ok(Rotation {
        nodes,
        not_reached: Vec::new(),
    })
}

/// "node ID now uses KEY", for a node rotated before a later one failed.
pub fn rotated_line(n: &NodeRotated) -> String {
    match &n.outcome {
        RotateOutcome::Rotated { new_key_id, .. } => format!("node {} now uses {new_key_id}", n.node),
        RotateOutcome::WaitingForRestart { new_key_id, .. } => {
            format!("node {} has {new_key_id} saved, waiting for its restart", n.node)
        }
    }
}
