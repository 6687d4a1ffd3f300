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
/// active node has moved the cluster's seal ("barrier seal type of X does not match
/// loaded type of Y", or "expected type" on the way back).
const WAITS_FOR_THE_ACTIVE: &str = "barrier seal type of";

/// Whether an answer of the server is a standby's, unsealed on its new seal and waiting
/// for the active node to move the cluster's seal.
pub fn says_it_waits(body: &str) -> bool {
    body.contains(WAITS_FOR_THE_ACTIVE)
}

/// Which way a migration goes (one server's, or a cluster's node by node).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    ToAwsKms,
    BackToShamir,
}

impl Direction {
    /// The seal type it leaves and the one it takes.
    pub fn seals(self) -> (&'static str, &'static str) {
        match self {
            Direction::ToAwsKms => ("shamir", "awskms"),
            Direction::BackToShamir => ("awskms", "shamir"),
        }
    }

    /// The seal type it takes.
    fn to(self) -> &'static str {
        self.seals().1
    }

    /// What an operator does to one node, in words: "migrate", "take back".
    fn verb(self) -> &'static str {
        match self {
            Direction::ToAwsKms => "migrate",
            Direction::BackToShamir => "take back",
        }
    }
}

/// How another node of the cluster is sealed, as it says itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerSeal {
    /// Unsealed, on the seal the cluster leaves.
    NotYet,
    /// Unsealed on the seal the cluster takes (waiting for the cluster's seal to move, or moved).
    Moved,
    /// Sealed, or not answering: why.
    Unavailable(String),
}

#[derive(Debug, Clone)]
pub struct Peer {
    pub address: String,
    pub seal: PeerSeal,
    /// The active node; only asked of a node still to move.
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
    but_own(named, own)
}

/// `addresses` without `own` (a node's config may name itself among its leaders).
fn but_own(addresses: Vec<String>, own: &str) -> Vec<String> {
    addresses
        .into_iter()
        .filter(|a| a.trim_end_matches('/') != own)
        .collect()
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

/// The other nodes the config at `config` joins (its `retry_join` leaders but `own`).
fn other_nodes_in(config: &Path, own: &str) -> Vec<String> {
    but_own(retry_join_leaders(config), own)
}

/// How each of the other nodes is sealed for `way`, and which is active.
pub async fn survey(addresses: &[String], ca_cert: Option<&Path>, way: Direction) -> Vec<Peer> {
    let mut peers = Vec::new();
    for address in addresses {
        let client = VaultClient::new(address, ca_cert);
        let (seal, active) = match client {
            Err(e) => (PeerSeal::Unavailable(e.to_string()), false),
            Ok(client) => {
                let seal = match tokio::time::timeout(PROBE_TIMEOUT, client.seal_status()).await {
                    Err(_) => PeerSeal::Unavailable(format!("no answer within {} s", PROBE_TIMEOUT.as_secs())),
                    Ok(Ok(s)) if s.sealed => PeerSeal::Unavailable("sealed".into()),
                    Ok(Ok(s)) if s.seal_type == way.to() => PeerSeal::Moved,
                    Ok(Ok(_)) => PeerSeal::NotYet,
                    Ok(Err(VaultError::Http { body, .. })) if says_it_waits(&body) => PeerSeal::Moved,
                    Ok(Err(e)) => PeerSeal::Unavailable(e.to_string()),
                };
                // Which node is active matters only among those still to move; a node
                // that did not answer its seal status is not asked again.
                let active = seal == PeerSeal::NotYet
                    && tokio::time::timeout(PROBE_TIMEOUT, client.leader())
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
        Err(VaultError::Http { body, .. }) if says_it_waits(&body)
    )
}

/// Before anything is created: whether the node at `client` (unsealed, on Shamir) may
/// be migrated now. A node of no cluster may; a node of a cluster only while the others
/// keep a quorum without it, with the key of a node that moved before it (never a new
/// one), and the active node only once every standby is migrated.
pub async fn check_turn(client: &VaultClient, answers: &Answers) -> Result<(), VaultError> {
    let addresses = peer_addresses(answers, &client.address);
    let ca = answers.server.ca_cert.as_deref();
    let Some((peers, active)) = order_and_quorum(client, &addresses, ca, Direction::ToAwsKms).await? else {
        return Ok(());
    };
    // One key for the whole cluster: a node that moved already made it.
    if answers.kms.create
        && let Some(moved) = peers.iter().find(|p| p.seal == PeerSeal::Moved)
    {
        return Err(VaultError::Refused(format!(
            "{} is already on the awskms seal, with the cluster's KMS key: the server at {} must use the same \
             key, not a new one. Give this host the cluster file that node's run wrote ([cluster] join = \"FILE\" \
             in the answers, or \"join a cluster\" on the wizard's Server screen) and run the migration again",
            moved.address, client.address
        )));
    }
    active_last(&client.address, &peers, active, Direction::ToAwsKms)
}

/// Before the way back starts on the node at `client` (unsealed, on awskms): as
/// [`check_turn`], with the other nodes its config's `retry_join` names.
pub async fn check_turn_back(client: &VaultClient, config: &Path, ca_cert: Option<&Path>) -> Result<(), VaultError> {
    let addresses = other_nodes_in(config, &client.address);
    let Some((peers, active)) = order_and_quorum(client, &addresses, ca_cert, Direction::BackToShamir).await? else {
        return Ok(());
    };
    active_last(&client.address, &peers, active, Direction::BackToShamir)
}

/// The other nodes, surveyed, and whether this node is the active one; none for a node
/// of no cluster. Refused when this node's restart would lose the quorum, or when it is
/// a standby whose other nodes are not named.
async fn order_and_quorum(
    client: &VaultClient,
    addresses: &[String],
    ca_cert: Option<&Path>,
    way: Direction,
) -> Result<Option<(Vec<Peer>, bool)>, VaultError> {
    let own = client.address.as_str();
    let leader = tokio::time::timeout(PROBE_TIMEOUT, client.leader())
        .await
        .ok()
        .and_then(Result::ok);
    if addresses.is_empty() {
        return match leader.filter(|l| l.ha_enabled && !l.is_self && !l.leader_address.is_empty()) {
            Some(l) => Err(VaultError::Refused(format!(
                "the server at {own} is a standby of the active node {}: one node of a cluster. Name the other \
                 nodes' API addresses ([cluster] peers, or retry_join blocks in its config), so that autounseal \
                 can check the order and the quorum before it restarts this one",
                l.leader_address
            ))),
            None => Ok(None),
        };
    }
    let peers = survey(addresses, ca_cert, way).await;
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
            "moving the seal of the server at {own} restarts it, and the cluster keeps its quorum only while \
             {needed} of its {total} nodes are unsealed: without this one, only {up} would be. Bring these back \
             first (started and unsealed): {}",
            down.join(", ")
        )));
    }
    Ok(Some((peers, leader.is_some_and(|l| l.is_self))))
}

/// The active node goes last: refused while a standby is still on the seal the
/// cluster leaves.
fn active_last(own: &str, peers: &[Peer], active: bool, way: Direction) -> Result<(), VaultError> {
    let not_yet: Vec<&str> = peers
        .iter()
        .filter(|p| p.seal == PeerSeal::NotYet)
        .map(|p| p.address.as_str())
        .collect();
    if active && !not_yet.is_empty() {
        return Err(VaultError::Refused(format!(
            "the server at {own} is the cluster's active node, and it goes last. {} the standbys first, one at a \
             time, with autounseal on each of their hosts: {}. Then run this here again: its restart hands the \
             active role to a standby that moved, which moves the cluster's seal to {}",
            capitalised(way.verb()),
            not_yet.join(", "),
            way.to()
        )));
    }
    Ok(())
}

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// Whether every other node its config's `retry_join` names has moved its seal `way`.
pub async fn all_moved(config: &Path, own: &str, ca_cert: Option<&Path>, way: Direction) -> bool {
    let addresses = other_nodes_in(config, own);
    survey(&addresses, ca_cert, way)
        .await
        .iter()
        .all(|p| p.seal == PeerSeal::Moved)
}

/// After this node's migration: what its operator does next, for a node of a cluster.
pub async fn next_step(answers: &Answers, own: &str) -> Option<String> {
    let addresses = peer_addresses(answers, own);
    next_of(&addresses, answers.server.ca_cert.as_deref(), Direction::ToAwsKms).await
}

/// After this node's part of the way back: what its operator does next.
pub async fn next_step_back(config: &Path, own: &str, ca_cert: Option<&Path>) -> Option<String> {
    let addresses = other_nodes_in(config, own);
    next_of(&addresses, ca_cert, Direction::BackToShamir).await
}

async fn next_of(addresses: &[String], ca_cert: Option<&Path>, way: Direction) -> Option<String> {
    if addresses.is_empty() {
        return None;
    }
    let peers = survey(addresses, ca_cert, way).await;
    let standbys: Vec<&str> = peers
        .iter()
        .filter(|p| p.seal == PeerSeal::NotYet && !p.active)
        .map(|p| p.address.as_str())
        .collect();
    let active = peers
        .iter()
        .find(|p| p.seal == PeerSeal::NotYet && p.active)
        .map(|p| p.address.as_str());
    let sealed: Vec<&str> = peers
        .iter()
        .filter(|p| matches!(p.seal, PeerSeal::Unavailable(_)))
        .map(|p| p.address.as_str())
        .collect();
    let verb = way.verb();
    Some(match (standbys.first(), active) {
        (Some(next), _) => format!(
            "next: {verb} the standby {next} with autounseal on its host{}{}",
            if way == Direction::ToAwsKms {
                " (the cluster file, the same unseal keys)"
            } else {
                " (destroy --migrate-back, the same recovery keys)"
            },
            active.map_or(String::new(), |a| format!("; the active node {a} last"))
        ),
        (None, Some(active)) => format!(
            "next: {verb} the active node {active}, last: its restart hands the active role to a standby that \
             moved, which moves the cluster's seal"
        ),
        (None, None) if sealed.is_empty() => format!("every node of the cluster is on the {} seal", way.to()),
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
        // The way back asks the same of the nodes its config's retry_join names.
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("vault.hcl");
        std::fs::write(
            &config,
            "storage \"raft\" {\n  path = \"/d\"\n  retry_join {\n    leader_api_addr = \"http://127.0.0.1:9\"\n  }\n}\n",
        )
        .unwrap();
        let err = check_turn_back(&client, &config, None).await.unwrap_err().to_string();
        assert!(
            err.contains("2 of its 2 nodes") && err.contains("http://127.0.0.1:9 ("),
            "{err}"
        );
    }
}
