//! Seal migration of one node of a raft cluster, in the order Vault's and OpenBao's
//! documentation gives for HA clusters: the standbys first, each restarted with the
//! awskms stanza and unsealed with `migrate` (it then waits, unsealed, for the cluster's
//! seal to move); the active node last, whose restart hands the active role to a
//! migrated standby, which moves the cluster's seal. Each host's operator runs
//! autounseal there; this module says whether this node's turn has come, and what
//! comes next. The other nodes are `[cluster] peers` (or the cluster file's nodes), else
//! the `retry_join` leaders of the node's config.

use std::path::Path;
use std::time::Duration;

use crate::answers::Answers;
use crate::vault::VaultError;
use crate::vault::client::VaultClient;

/// How long one node may take to say how it is sealed.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// What a standby unsealed on its new seal answers on `sys/seal-status` until the
/// active node has moved the cluster's seal.
const WAITS_FOR_THE_ACTIVE: &str = "does not match loaded type";

/// How another node of the cluster is sealed, as it says itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerSeal {
    /// Unsealed, on the Shamir seal still.
    Shamir,
    /// Unsealed on the awskms stanza (waiting for the cluster's seal to move, or moved).
    Migrated,
    /// Sealed, or not answering: why.
    Unavailable(String),
}

#[derive(Debug, Clone)]
pub struct Peer {
    pub address: String,
    pub seal: PeerSeal,
    pub active: bool,
}

/// The other nodes' API addresses: the answers' peers, else the config's `retry_join`
/// leaders (an operator's config of a node of a cluster names them).
pub fn peer_addresses(answers: &Answers, own: &str) -> Vec<String> {
    let named = if answers.cluster.peers.is_empty() {
        retry_join_leaders(&answers.output.vault_config)
    } else {
        answers.cluster.peers.clone()
    };
    named.into_iter().filter(|a| a.trim_end_matches('/') != own).collect()
}

/// The `leader_api_addr` of every `retry_join` block in the config at `path`.
pub fn retry_join_leaders(path: &Path) -> Vec<String> {
    let Some(doc) = std::fs::read_to_string(path)
        .ok()
        .and_then(|text| hcl::from_str::<serde_json::Value>(&text).ok())
    else {
        return Vec::new();
    };
    let joins = &doc["storage"]["raft"]["retry_join"];
    let blocks: Vec<&serde_json::Value> = match joins {
        serde_json::Value::Array(list) => list.iter().collect(),
        serde_json::Value::Object(_) => vec![joins],
        _ => Vec::new(),
    };
    blocks
        .iter()
        .filter_map(|b| b["leader_api_addr"].as_str().map(str::to_string))
        .collect()
}

/// How each of the other nodes is sealed, and which is active.
pub async fn survey(addresses: &[String], ca_cert: Option<&Path>) -> Vec<Peer> {
    let mut peers = Vec::new();
    for address in addresses {
        let client = VaultClient::new(address, ca_cert);
        let (seal, active) = match client {
            Err(e) => (PeerSeal::Unavailable(e.to_string()), false),
            Ok(client) => {
                let seal = match tokio::time::timeout(PROBE_TIMEOUT, client.seal_status()).await {
                    Err(_) => PeerSeal::Unavailable(format!("no answer within {} s", PROBE_TIMEOUT.as_secs())),
                    Ok(Ok(s)) if s.sealed => PeerSeal::Unavailable("sealed".into()),
                    Ok(Ok(s)) if s.seal_type == "awskms" => PeerSeal::Migrated,
                    Ok(Ok(_)) => PeerSeal::Shamir,
                    Ok(Err(VaultError::Http { body, .. })) if body.contains(WAITS_FOR_THE_ACTIVE) => PeerSeal::Migrated,
                    Ok(Err(e)) => PeerSeal::Unavailable(e.to_string()),
                };
                let active = tokio::time::timeout(PROBE_TIMEOUT, client.leader())
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .is_some_and(|l| l.is_self);
                (seal, active)
            }
        };
        peers.push(Peer {
            address: address.clone(),
            seal,
            active,
        });
    }
    peers
}

/// Whether a standby unsealed on its new seal still waits for the active node to move
/// the cluster's seal (its `sys/seal-status` says the two seals differ).
pub async fn waits_for_the_active(client: &VaultClient) -> bool {
    matches!(
        client.seal_status().await,
        Err(VaultError::Http { body, .. }) if body.contains(WAITS_FOR_THE_ACTIVE)
    )
}

/// Before anything is created: whether the node at `client` (unsealed, on Shamir) may
/// be migrated now. A node of no cluster may; a node of a cluster only while the others
/// keep a quorum without it, with the key of a node that moved before it (never a new
/// one), and the active node only once every standby is migrated.
pub async fn check_turn(client: &VaultClient, answers: &Answers) -> Result<(), VaultError> {
    let leader = tokio::time::timeout(PROBE_TIMEOUT, client.leader())
        .await
        .ok()
        .and_then(Result::ok);
    let own = client.address.as_str();
    let addresses = peer_addresses(answers, own);
    let standby_of = leader
        .as_ref()
        .filter(|l| l.ha_enabled && !l.is_self && !l.leader_address.is_empty())
        .map(|l| l.leader_address.clone());
    if addresses.is_empty() {
        return match standby_of {
            Some(active) => Err(VaultError::Refused(format!(
                "the server at {own} is a standby of the active node {active}: one node of a cluster. Name the \
                 other nodes' API addresses in [cluster] peers (or keep their retry_join blocks in its config), so \
                 that autounseal can check the order and the quorum before it restarts this one"
            ))),
            None => Ok(()),
        };
    }
    let peers = survey(&addresses, answers.server.ca_cert.as_deref()).await;
    let total = peers.len() + 1;
    let needed = total / 2 + 1;
    let up = peers
        .iter()
        .filter(|p| !matches!(p.seal, PeerSeal::Unavailable(_)))
        .count();
    if up < needed {
        let down: Vec<String> = peers
            .iter()
            .filter_map(|p| match &p.seal {
                PeerSeal::Unavailable(why) => Some(format!("{} ({why})", p.address)),
                _ => None,
            })
            .collect();
        return Err(VaultError::Refused(format!(
            "migrating the server at {own} restarts it, and the cluster keeps its quorum only while {needed} of its \
             {total} nodes are unsealed: without this one, only {up} would be. Bring these back first (started and \
             unsealed): {}",
            down.join(", ")
        )));
    }
    // One key for the whole cluster: a node that moved already made it.
    if answers.kms.create
        && let Some(moved) = peers.iter().find(|p| p.seal == PeerSeal::Migrated)
    {
        return Err(VaultError::Refused(format!(
            "{} is already on the awskms seal, with the cluster's KMS key: the server at {own} must use the same \
             key, not a new one. Give this host the cluster file that node's run wrote ([cluster] join = \"FILE\" \
             in the answers, or \"join a cluster\" on the wizard's Server screen) and run the migration again",
            moved.address
        )));
    }
    if leader.is_some_and(|l| l.is_self) {
        let on_shamir: Vec<&str> = peers
            .iter()
            .filter(|p| p.seal == PeerSeal::Shamir)
            .map(|p| p.address.as_str())
            .collect();
        if !on_shamir.is_empty() {
            return Err(VaultError::Refused(format!(
                "the server at {own} is the cluster's active node, and it goes last. Migrate the standbys first, one \
                 at a time, with autounseal on each of their hosts: {}. Then run this here again: its restart hands \
                 the active role to a migrated standby, which moves the cluster's seal",
                on_shamir.join(", ")
            )));
        }
    }
    Ok(())
}

/// After this node's migration: what its operator does next, for a node of a cluster.
pub async fn next_step(answers: &Answers, own: &str) -> Option<String> {
    let addresses = peer_addresses(answers, own);
    if addresses.is_empty() {
        return None;
    }
    let peers = survey(&addresses, answers.server.ca_cert.as_deref()).await;
    let standbys: Vec<&str> = peers
        .iter()
        .filter(|p| p.seal == PeerSeal::Shamir && !p.active)
        .map(|p| p.address.as_str())
        .collect();
    let active = peers
        .iter()
        .find(|p| p.seal == PeerSeal::Shamir && p.active)
        .map(|p| p.address.as_str());
    let sealed: Vec<&str> = peers
        .iter()
        .filter(|p| matches!(p.seal, PeerSeal::Unavailable(_)))
        .map(|p| p.address.as_str())
        .collect();
    Some(match (standbys.first(), active) {
        (Some(next), _) => format!(
            "next: migrate the standby {next} with autounseal on its host (the cluster file, the same unseal keys){}",
            active.map_or(String::new(), |a| format!("; the active node {a} last"))
        ),
        (None, Some(active)) => format!(
            "next: migrate the active node {active}, last: its restart hands the active role to a migrated standby, \
             which moves the cluster's seal"
        ),
        (None, None) if sealed.is_empty() => "every node of the cluster is on the awskms seal".to_string(),
        (None, None) => format!("these nodes do not answer unsealed: {}", sealed.join(", ")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_other_nodes_come_from_the_peers_else_from_retry_join() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("openbao.hcl");
        std::fs::write(
            &config,
            "storage \"raft\" {\n  path = \"/d\"\n  retry_join {\n    leader_api_addr = \"https://10.0.0.1:8200\"\n  }\n  \
             retry_join {\n    leader_api_addr = \"https://10.0.0.2:8200\"\n  }\n}\n",
        )
        .unwrap();
        let mut a = Answers::default();
        a.output.vault_config = config.clone();
        assert_eq!(
            peer_addresses(&a, "https://10.0.0.2:8200"),
            ["https://10.0.0.1:8200"],
            "a node's own address is not its peer"
        );
        a.cluster.peers = vec!["https://10.0.0.3:8200".into()];
        assert_eq!(peer_addresses(&a, "https://10.0.0.2:8200"), ["https://10.0.0.3:8200"]);
        std::fs::write(
            &config,
            "storage \"raft\" {\n  path = \"/d\"\n  retry_join {\n    leader_api_addr = \"https://10.0.0.1:8200\"\n  }\n}\n",
        )
        .unwrap();
        assert_eq!(retry_join_leaders(&config), ["https://10.0.0.1:8200"]);
    }

    #[tokio::test]
    async fn a_node_whose_peers_do_not_answer_is_refused_for_the_quorum() {
        let mut a = Answers::default();
        a.cluster.peers = vec!["http://127.0.0.1:9".into(), "http://127.0.0.1:7".into()];
        // Nothing answers at the node either: it is not the active one.
        let client = VaultClient::new("http://127.0.0.1:5", None).unwrap();
        let err = check_turn(&client, &a).await.unwrap_err().to_string();
        assert!(
            err.contains("keeps its quorum only while 2 of its 3 nodes are unsealed: without this one, only 0"),
            "{err}"
        );
        assert!(
            err.contains("http://127.0.0.1:9 (") && err.contains("http://127.0.0.1:7 ("),
            "{err}"
        );
    }
}
