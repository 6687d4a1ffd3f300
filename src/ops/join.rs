//! join: this host as one more node of the cluster a cluster file describes (its own
//! IAM user under the cluster's policy, its files with retry_join, its server started
//! without init), then checked: joined, unsealed, and with a token in the raft peer set.

use std::path::Path;

use secrecy::SecretString;

use crate::answers::Answers;
pub use crate::cluster::{ClusterFile, read_token};
use crate::flow::FlowOutcome;
use crate::run::ApplyOptions;
use crate::run::{ManifestStore, Reporter, RunError};
use crate::vault::client::{LeaderStatus, RaftServer};

/// A cluster file and this host's answers as one more node of it, checked.
pub struct Joining {
    pub file: ClusterFile,
    pub member: Answers,
}

/// What a join ended with.
pub struct Joined {
    pub outcome: FlowOutcome,
    /// This host's answers as the node it became.
    pub member: Answers,
    /// The leader as the node saw it once joined (none in a plan).
    pub leader: Option<LeaderStatus>,
    /// The node in the leader's raft peer set (only read with a token).
    pub peer: Option<RaftServer>,
    /// The node's raft id and the cluster's flavour, for what to say next.
    pub node_id: String,
    pub flavour: String,
}

impl Joining {
    /// The cluster file at `path` with this host's answers `own`; refused when
    /// `state_dir` already tracks a setup with another key.
    pub fn of(own: &Answers, path: &Path, state_dir: &Path) -> Result<Joining, RunError> {
        let (file, member) = crate::cluster::joining(own, path)?;
        let recorded = ManifestStore::open(state_dir)?.snapshot();
        if recorded.kms_key.as_ref().is_some_and(|k| k.arn != file.kms_key_arn) {
            return Err(RunError::Conflict(format!(
                "{} already tracks a setup with another KMS key; give this node its own --state-dir",
                state_dir.display()
            )));
        }
        Ok(Joining { file, member })
    }

    /// Joins (or plans it). With `token`, the node must then be in the leader's raft
    /// peer set. With `unseal_keys`, a node of the cluster on Shamir moves to its key.
    pub async fn run(
        self,
        state_dir: &Path,
        opts: ApplyOptions,
        rep: &Reporter,
        token: Option<&SecretString>,
        unseal_keys: Option<crate::vault::migrate::UnsealKeys>,
    ) -> Result<Joined, RunError> {
        let (outcome, leader) =
            crate::cluster::join(&self.file, &self.member, state_dir, opts, rep, unseal_keys).await?;
        let node_id = self.member.server.node_id.clone();
        let peer = match token.filter(|_| !opts.dry_run) {
            Some(token) => {
                let address = crate::vault::config::api_addr(&self.member);
                let ca = self.member.server.ca_cert.as_deref();
                match crate::cluster::raft_member(&address, ca, token, &node_id).await? {
                    Some(peer) => Some(peer),
                    None => {
                        return Err(RunError::Other(format!(
                            "the node answers unsealed, but the leader's raft peer set does not hold {node_id}: check \
                             its log in {}",
                            state_dir.display()
                        )));
                    }
                }
            }
            None => None,
        };
        Ok(Joined {
            outcome,
            member: self.member,
            leader,
            peer,
            node_id,
            flavour: self.file.flavour,
        })
    }
}
