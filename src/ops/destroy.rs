//! destroy: what a state folder records, undone, with the way back decided first. When
//! the KMS key autounseal would delete still seals a server's data, destroy either moves
//! that server back to Shamir first (the recovery keys become its unseal keys), or is
//! forced to lose it, or asks, or refuses: [`decide`], testable on its own.

use std::path::{Path, PathBuf};

use secrecy::SecretString;

use crate::aws::destroy::DestroyOptions;
use crate::aws::{AwsContext, Connection};
use crate::run::{Manifest, ManifestStore, Origin, Reporter, RunError};
use crate::vault::migrate::{BackOutcome, UnsealKeys};

/// What to do about the data the key still seals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WayBack {
    /// The key is not deleted, or seals nothing that would be lost.
    NotNeeded,
    /// `--migrate-back`: to Shamir first, with the recovery keys.
    MigrateBack,
    /// `--force`: the data is lost once the key is gone (confirmed by a typed word).
    Forced { data: String },
    /// No flag, on a terminal: the operator chooses.
    Ask { data: String },
    /// No flag, no terminal (or `--yes`): refused, with the way back named.
    Refuse { data: String },
}

/// The way back, from what the key still seals (`sealed`, in words) and the flags.
pub fn decide(sealed: Option<String>, migrate_back: bool, force: bool, can_ask: bool) -> WayBack {
    match sealed {
        None => WayBack::NotNeeded,
        Some(_) if migrate_back => WayBack::MigrateBack,
        Some(data) if force => WayBack::Forced { data },
        Some(data) if can_ask => WayBack::Ask { data },
        Some(data) => WayBack::Refuse { data },
    }
}

/// Whether `m` records a node autounseal moved to a key another host made (a node of a
/// cluster migrated host by host), on its way back or not.
fn migrated_member(m: &Manifest) -> bool {
    let reused = m.kms_key.as_ref().is_some_and(|k| k.origin == Origin::Reused);
    let moved = |address: &str| m.migrations.iter().any(|r| r.address == address && r.to == "awskms");
    reused && m.server.as_ref().is_some_and(|s| moved(&s.address))
}

/// What a destroy did: all of it, or (a standby of a cluster on its way back) only
/// its part of the way back, the rest waiting for the cluster's seal to move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destroyed {
    All,
    WaitsForTheCluster(String),
}

/// A recorded setup about to be destroyed: its first node's manifest, its other nodes.
pub struct Destroying {
    pub state_dir: PathBuf,
    pub store: ManifestStore,
    pub manifest: Manifest,
    /// A local cluster's other nodes' folders, in node order.
    pub nodes: Vec<PathBuf>,
    /// The key is ours: destroy schedules its deletion.
    pub deletes_key: bool,
    /// The server's data the key still seals, in words (only when it deletes the key).
    pub sealed: Option<String>,
}

impl Destroying {
    /// What `state_dir` records; `None` when it records nothing. A token (to leave a
    /// raft cluster first) is refused for a whole local cluster, which goes as one.
    pub async fn open(state_dir: &Path, with_token: bool) -> Result<Option<Destroying>, RunError> {
        let store = ManifestStore::open(state_dir)?;
        let manifest = store.snapshot();
        if manifest.is_empty() {
            return Ok(None);
        }
        let nodes = super::setup::other_node_dirs(state_dir);
        if with_token && !nodes.is_empty() {
            return Err(RunError::Unsuitable(format!(
                "{} holds a whole local cluster, which goes as one: no peer to take out of it. Leave out \
                 --raft-token-file",
                state_dir.display()
            )));
        }
        let deletes_key = manifest.kms_key.as_ref().is_some_and(|k| k.origin == Origin::Created);
        // A node of a cluster moved to the cluster's key: its data is sealed by it too.
        let sealed = if deletes_key || migrated_member(&manifest) {
            crate::vault::migrate::data_sealed_by_key(&manifest).await
        } else {
            None
        };
        Ok(Some(Destroying {
            state_dir: state_dir.to_path_buf(),
            store,
            manifest,
            nodes,
            deletes_key,
            sealed,
        }))
    }

    /// Why the way back comes first, a sentence: the key destroy deletes still seals
    /// `data`, or (a node of a cluster migrated host by host, whose key another host
    /// made) destroying this node alone would put back its Shamir config under a
    /// cluster the key still seals.
    pub fn why_the_way_back(&self, data: &str) -> String {
        if self.deletes_key {
            return format!("The KMS key still seals {data}: deleting it loses that data for good");
        }
        format!(
            "This node is one of a cluster autounseal moved to the awskms seal with the key another host made, \
             which still seals {data}: destroying this node alone would put back its Shamir config, with which it \
             cannot start again"
        )
    }

    /// What destroy will do, a line each (indented under a node's name in a cluster).
    pub fn plan(&self, migrating_back: bool, leaving: bool) -> Result<Vec<String>, RunError> {
        let mut lines = Vec::new();
        if migrating_back {
            lines.push(
                "- first, the way back to Shamir: disabled = \"true\" in the seal stanza, a restart, the recovery \
                 keys submitted with migrate (they then become the unseal keys), the stanza removed, a restart, and \
                 a check that the same keys unseal the server"
                    .to_string(),
            );
        }
        if let Some(server) = self.manifest.server.as_ref().filter(|_| leaving) {
            lines.push(format!(
                "- take {} out of the raft peer set (through {})",
                crate::cluster::node_name(&self.state_dir, &self.manifest),
                server.address
            ));
        }
        for dir in self.nodes.iter().rev() {
            lines.push(format!(
                "node {}:",
                dir.file_name().unwrap_or_default().to_string_lossy()
            ));
            let manifest = ManifestStore::open(dir)?.snapshot();
            lines.extend(
                crate::flow::undo_plan(&manifest, migrating_back)
                    .into_iter()
                    .map(|l| format!("  - {l}")),
            );
        }
        lines.extend(
            crate::flow::undo_plan(&self.manifest, migrating_back)
                .into_iter()
                .map(|l| format!("- {l}")),
        );
        Ok(lines)
    }

    /// Undoes everything: the way back first (with `recovery_keys`), leaving the raft
    /// cluster (with `raft_token`), every other node, then this one with the key last.
    pub async fn run(
        self,
        profile: Option<&str>,
        opts: DestroyOptions,
        recovery_keys: Option<&UnsealKeys>,
        raft_token: Option<&SecretString>,
        ca_cert: Option<&Path>,
        rep: &Reporter,
    ) -> Result<Destroyed, RunError> {
        let region = self.manifest.region.clone().ok_or_else(|| RunError::State {
            path: self.state_dir.display().to_string(),
            message: "the manifest has no region; it is damaged".into(),
        })?;
        let conn = Connection {
            region,
            endpoint_url: self.manifest.endpoint_url.clone(),
            profile: profile.map(str::to_string),
            timing: Default::default(),
        };
        let ctx = AwsContext::connect(conn).await;
        if let Some(keys) = recovery_keys {
            let back = crate::vault::migrate::MigrateBack::new(&self.store, rep.clone(), &self.state_dir)
                .run(keys)
                .await?;
            if let BackOutcome::WaitsForTheCluster(said) = back {
                return Ok(Destroyed::WaitsForTheCluster(said));
            }
        }
        if let Some(token) = raft_token {
            // Only the id the node's own config gives: a guess could take another node out.
            match crate::cluster::node_id_in_config(&self.store.snapshot()) {
                Some(node_id) => crate::cluster::leave(&self.store, &node_id, ca_cert, token, rep).await?,
                None => rep.warn(
                    "this node's config, which names its raft node id, is gone: no peer was removed. Take it out \
                     of the cluster by hand (`operator raft list-peers`, then `operator raft remove-peer ID`)",
                ),
            }
        }
        crate::cluster::undo_all(&ctx, &self.store, &self.state_dir, rep, opts).await?;
        self.store.remove_if_empty()?;
        Ok(Destroyed::All)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_sealed_needs_no_way_back_whatever_the_flags() {
        for (migrate_back, force, can_ask) in [(true, true, true), (false, false, false), (false, true, true)] {
            assert_eq!(decide(None, migrate_back, force, can_ask), WayBack::NotNeeded);
        }
    }

    #[test]
    fn sealed_data_migrates_back_is_forced_asked_or_refused() {
        let data = || Some("the raft data in /opt/vault/data".to_string());
        let named = "the raft data in /opt/vault/data".to_string();
        assert_eq!(decide(data(), true, true, true), WayBack::MigrateBack);
        assert_eq!(
            decide(data(), false, true, false),
            WayBack::Forced { data: named.clone() }
        );
        assert_eq!(decide(data(), false, false, true), WayBack::Ask { data: named.clone() });
        assert_eq!(decide(data(), false, false, false), WayBack::Refuse { data: named });
    }
}
