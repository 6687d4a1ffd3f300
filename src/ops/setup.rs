//! A recorded setup: the nodes a state folder records (a single server, or the first
//! node of a local cluster and every other node's folder), each with its manifest and
//! the operator's AWS clients for its region and endpoint. The one node lister every
//! operation and front end goes through.

use std::path::{Path, PathBuf};

use crate::answers::Answers;
use crate::aws::AwsContext;
use crate::run::{Manifest, RunError};

use super::OpsError;

/// One node: its name (raft node id, else its folder's), its state folder, and what it
/// records (`None` for a folder of a cluster whose node records nothing).
pub struct Node {
    pub name: String,
    pub dir: PathBuf,
    pub recorded: Option<Recorded>,
}

/// What a node's folder records, and the operator's clients for it.
pub struct Recorded {
    pub manifest: Manifest,
    pub aws: AwsContext,
}

/// The setup a state folder records: its first node first.
pub struct Setup {
    pub state_dir: PathBuf,
    pub nodes: Vec<Node>,
}

impl Setup {
    /// Opens every node `state_dir` records, with the operator's credentials of
    /// `profile`. A folder that records nothing opens as one node with nothing recorded.
    pub async fn open(state_dir: &Path, profile: Option<&str>) -> Result<Setup, RunError> {
        let mut nodes = Vec::new();
        for dir in std::iter::once(state_dir.to_path_buf()).chain(crate::cluster::node_state_dirs(state_dir)) {
            let recorded = crate::doctor::status::recorded_setup(&dir, profile)
                .await
                .map_err(|e| RunError::State {
                    path: dir.display().to_string(),
                    message: format!("{e:#}"),
                })?
                .map(|(manifest, aws)| Recorded { manifest, aws });
            let name = match &recorded {
                Some(r) => crate::cluster::node_name(&dir, &r.manifest),
                None => crate::cluster::node_name(&dir, &Manifest::default()),
            };
            nodes.push(Node { name, dir, recorded });
        }
        Ok(Setup {
            state_dir: state_dir.to_path_buf(),
            nodes,
        })
    }

    /// The same, refusing a folder whose first node records nothing.
    pub async fn open_recorded(state_dir: &Path, profile: Option<&str>) -> Result<Setup, OpsError> {
        let setup = Setup::open(state_dir, profile).await?;
        if setup.nodes[0].recorded.is_none() {
            return Err(OpsError::NothingRecorded {
                state_dir: state_dir.to_path_buf(),
            });
        }
        Ok(setup)
    }

    /// More than one node: a local cluster.
    pub fn is_cluster(&self) -> bool {
        self.nodes.len() > 1
    }

    /// The nodes' names, in order.
    pub fn names(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.name.clone()).collect()
    }

    /// Keeps the node `--node ID` names, or every node when it names none.
    pub fn only(mut self, wanted: Option<&str>) -> Result<Setup, OpsError> {
        if let Some(wanted) = wanted {
            let nodes = self.names();
            self.nodes.retain(|n| n.name == wanted);
            if self.nodes.is_empty() {
                return Err(OpsError::NoSuchNode {
                    state_dir: self.state_dir,
                    wanted: wanted.to_string(),
                    nodes,
                });
            }
        }
        Ok(self)
    }
}

/// The nodes a layout would make on this host, in order (for Review's table).
pub fn planned_nodes(answers: &Answers, state_dir: &Path) -> Vec<crate::cluster::Node> {
    crate::cluster::local_nodes(answers, state_dir)
}

/// The other nodes' state folders of a local cluster whose first node keeps its state
/// in `state_dir` (for the demo's teardown and destroy's plan).
pub fn other_node_dirs(state_dir: &Path) -> Vec<PathBuf> {
    crate::cluster::node_state_dirs(state_dir)
}
