//! A raft cluster whose nodes each unseal themselves through the one KMS key (see
//! docs/cluster.md). A node is a single-server setup of its own (its user, access key,
//! files, server and manifest); the first node makes the shared key and policy and is
//! initialised, the others reuse both, join through `retry_join` and unseal by KMS.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::answers::Answers;
use crate::aws::AwsContext;
use crate::aws::destroy::DestroyOptions;
use crate::files::{self, Existing, WriteOptions};
use crate::flow::{self, FlowOutcome, ReadyForServer};
use crate::run::manifest::{FileRole, NamedRecord, Origin};
use crate::run::{ApplyOptions, Change, ManifestStore, Recorder, Reporter, Result, RunError, Step};
use crate::twins::quote;
use crate::vault::client::{LeaderStatus, RaftServer, VaultClient};
use crate::vault::config;
use crate::vault::deploy::{InitGate, KeysDestination};
use crate::vault::launch;
use crate::vault::migrate::UnsealKeys;

/// The folder of the first node's state folder that holds the other local nodes' own.
pub const NODES_FOLDER: &str = "nodes";
/// The cluster file's name in the state folder, unless `cluster.export_file` says otherwise.
pub const CLUSTER_FILE: &str = "cluster.toml";
/// How far apart the API ports of a local cluster's nodes are (the cluster port is the
/// API port plus one).
pub const PORT_STEP: u16 = 10;

/// One node of a cluster on this machine: its answers and its state folder.
#[derive(Debug, Clone)]
pub struct Node {
    pub id: String,
    pub answers: Answers,
    pub state_dir: PathBuf,
}

impl Node {
    pub fn api_addr(&self) -> String {
        config::api_addr(&self.answers)
    }
}

/// Node `i` (from 1) of a cluster whose first node is `base`: `autounseal-1` gives
/// `autounseal-2`; a base without a trailing number gets one.
pub fn node_id(base: &str, i: u16) -> String {
    let stem = match base.rsplit_once('-') {
        Some((stem, n)) if !stem.is_empty() && !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()) => stem,
        _ => base,
    };
    format!("{stem}-{i}")
}

/// `/etc/vault.d/vault.hcl` for node `id`: `/etc/vault.d/vault-<id>.hcl`.
fn beside(path: &Path, id: &str) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match path.extension() {
        Some(ext) => format!("{stem}-{id}.{}", ext.to_string_lossy()),
        None => format!("{stem}-{id}"),
    };
    path.with_file_name(name)
}

/// The IAM user of a node: the answers' user name with the node id after it.
pub fn node_user(prefix: &str, node_id: &str) -> String {
    format!("{prefix}-{node_id}")
}

/// Every node of the cluster the answers describe on this machine, first node first.
/// One node (`cluster.nodes = 1`) is the answers themselves, with their peers.
pub fn local_nodes(answers: &Answers, state_dir: &Path) -> Vec<Node> {
    let count = answers.cluster.nodes.max(1);
    if count == 1 {
        return vec![Node {
            id: answers.server.node_id.clone(),
            answers: answers.clone(),
            state_dir: state_dir.to_path_buf(),
        }];
    }
    let listen = crate::answers::parse_listen(&answers.server.listen).expect("listen was validated");
    let mut nodes: Vec<Node> = (1..=count)
        .map(|i| {
            let id = node_id(&answers.server.node_id, i);
            let mut a = answers.clone();
            let mut addr = listen;
            addr.set_port(listen.port() + PORT_STEP * (i - 1));
            a.server.listen = addr.to_string();
            a.server.node_id = id.clone();
            a.server.storage_path = answers.server.storage_path.join(&id);
            a.output.vault_config = beside(&answers.output.vault_config, &id);
            a.output.env_file = beside(&answers.output.env_file, &id);
            a.output.credentials_csv = answers.output.credentials_csv.as_deref().map(|p| beside(p, &id));
            if answers.output.credentials == crate::answers::CredentialsStyle::SharedFile {
                // Each node its own file, beside the answers' own: a node's key is never in another's.
                a.output.shared_credentials_file = Some(beside(&answers.output.shared_credentials_path(), &id));
            }
            a.iam.user_name = node_user(&answers.iam.user_name, &id);
            a.cluster.nodes = 1;
            a.cluster.export_file = None;
            if i > 1 {
                a.init.enabled = false;
                a.init.recovery_keys_file = None;
            }
            let state_dir = if i == 1 {
                state_dir.to_path_buf()
            } else {
                state_dir.join(NODES_FOLDER).join(&id)
            };
            Node {
                id,
                answers: a,
                state_dir,
            }
        })
        .collect();
    let addrs: Vec<String> = nodes.iter().map(Node::api_addr).collect();
    for node in &mut nodes {
        let own = node.api_addr();
        let mut peers: Vec<String> = addrs.iter().filter(|a| **a != own).cloned().collect();
        peers.extend(answers.cluster.peers.iter().cloned());
        node.answers.cluster.peers = peers;
    }
    nodes
}

/// A node that joins: the shared key and policy, reused, and no init of its own.
fn as_member(answers: &Answers, key_arn: &str, policy_name: &str) -> Answers {
    let mut a = answers.clone();
    a.kms.create = false;
    a.kms.key_id = Some(key_arn.to_string());
    // The key's rotation and its alarm are the first node's business (a member's destroy
    // must not remove the cluster's alarm).
    a.kms.rotation = false;
    a.kms.alarm_email = None;
    a.kms.alarm_topic_arn = None;
    a.iam.policy_name = policy_name.to_string();
    a.init.enabled = false;
    a.init.recovery_keys_file = None;
    a
}

/// The checks and AWS part of a node that joins (see [`as_member`]). The shared policy
/// is recorded as reused in its manifest first, so that the node's destroy detaches it
/// from its user and never deletes it.
async fn provision_member(
    member: &Answers,
    state_dir: &Path,
    policy: &NamedRecord,
    opts: ApplyOptions,
    rep: &Reporter,
    unseal_keys: Option<UnsealKeys>,
) -> Result<ReadyForServer> {
    if !opts.dry_run {
        ManifestStore::open(state_dir)?.update(|m| {
            if m.iam_policy.is_none() {
                m.iam_policy = Some(NamedRecord {
                    origin: Origin::Reused,
                    ..policy.clone()
                });
            }
        })?;
    }
    let keys = KeysDestination::HandBack;
    flow::provision(member, state_dir, opts, keys, rep, InitGate::default(), unseal_keys).await
}

pub use crate::answers::{ClusterFile, ClusterNode};

impl ClusterFile {
    /// `wanted` when the cluster has no node so named, else the next free
    /// `<stem>-<n>` after the cluster's nodes (`autounseal-1` → `autounseal-4`).
    pub fn free_node_id(&self, wanted: &str) -> String {
        let taken = |id: &str| self.nodes.iter().any(|n| n.node_id.as_deref() == Some(id));
        if !taken(wanted) {
            return wanted.to_string();
        }
        (self.nodes.len() as u16 + 1..=u16::MAX)
            .map(|i| node_id(wanted, i))
            .find(|id| !taken(id))
            .unwrap_or_else(|| wanted.to_string())
    }

    /// The answers of a node joining this cluster, from the answers of this host:
    /// the key, region, endpoint and policy are the cluster's. Refused when the node's
    /// id or address is already one of the cluster's.
    pub fn member_answers(&self, own: &Answers) -> std::result::Result<Answers, String> {
        let id = &own.server.node_id;
        let addr = config::api_addr(own);
        if self.nodes.iter().any(|n| n.node_id.as_deref() == Some(id)) {
            return Err(format!(
                "the cluster already has a node {id}: give this one its own server.node_id in the answers \
                 (for example {})",
                node_id(id, self.nodes.len() as u16 + 1)
            ));
        }
        // A peer the first host named in advance (`[cluster] peers`) is this host's slot:
        // an address with no node id yet. A node that already joined there is not.
        if self.nodes.iter().any(|n| n.api_addr == addr && n.node_id.is_some()) {
            return Err(format!(
                "the cluster already has a node at {addr}: give this one its own server.listen"
            ));
        }
        let mut a = own.clone();
        a.region = self.region.clone();
        a.endpoint_url = self.endpoint_url.clone();
        a.iam.user_name = node_user(&self.user_prefix, id);
        if self.tls && a.server.ca_cert.is_none() {
            a.server.ca_cert = self.ca_cert.clone();
        }
        a.cluster.nodes = 1;
        a.cluster.export_file = None;
        a.cluster.join = None;
        // Every other node, the peers not yet joined included: retry_join waits for them.
        a.cluster.peers = self
            .nodes
            .iter()
            .map(|n| n.api_addr.clone())
            .filter(|p| *p != addr)
            .collect();
        let a = as_member(&a, &self.kms_key_arn, &self.policy_name);
        a.check().map_err(|e| e.to_string())?;
        Ok(a)
    }
}

/// What a cluster's apply ended with: the first node's outcome, and every node.
pub struct ClusterOutcome {
    pub first: FlowOutcome,
    /// The first node's answers (its files carry its node id in a local cluster).
    pub first_answers: Answers,
    pub nodes: Vec<NodeOutcome>,
    /// Where the cluster file was written (none in a plan).
    pub cluster_file: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct NodeOutcome {
    pub id: String,
    pub address: String,
    pub user_arn: String,
    pub env_file: PathBuf,
    pub vault_config: PathBuf,
    pub state_dir: PathBuf,
    /// `active` or `standby`, as the node's `sys/leader` says (none in a plan).
    pub role: Option<&'static str>,
}

/// `apply` of a cluster: the first node as a single server (key, policy, init), then
/// every other local node reusing its key and policy, joining and unsealing through
/// KMS; then the cluster file, and each node's role.
pub async fn apply(
    answers: &Answers,
    state_dir: &Path,
    opts: ApplyOptions,
    keys: KeysDestination,
    rep: &Reporter,
    gate: InitGate,
    unseal_keys: Option<UnsealKeys>,
) -> Result<ClusterOutcome> {
    answers.check()?;
    if let Some(warning) = answers.cluster.even_warning() {
        rep.warn(warning);
    }
    let nodes = local_nodes(answers, state_dir);
    // Every node's ports before anything is made: node 3's taken port must not be found
    // after node 1 exists.
    for node in nodes.iter().skip(1) {
        ports_free(node)?;
    }
    let count = nodes.len();
    let mut outcomes = Vec::new();
    let (first_node, others) = nodes.split_first().expect("a cluster has a first node");
    if count > 1 {
        rep.note(heading(first_node, 1, count));
    }
    // A migration's keys are the first node's: a host migrating its node names the
    // others as peers, with one node here.
    let first = flow::provision(
        &first_node.answers,
        &first_node.state_dir,
        opts,
        keys,
        rep,
        gate,
        unseal_keys,
    )
    .await?;
    if opts.dry_run {
        let first = first.deploy(rep).await?;
        outcomes.push(first_outcome(first_node, &first));
        for (i, node) in others.iter().enumerate() {
            rep.note(format!(
                "{}: the same steps as a node that joins: its user {} with the one policy, its own access key in {}, \
                 {} with retry_join, started without init, joined and unsealed through KMS",
                heading(node, i + 2, count),
                node.answers.iam.user_name,
                node.answers.output.env_file.display(),
                node.answers.output.vault_config.display()
            ));
        }
        return Ok(ClusterOutcome {
            first,
            first_answers: first_node.answers.clone(),
            nodes: outcomes,
            cluster_file: None,
        });
    }
    let policy = ManifestStore::open(state_dir)?
        .snapshot()
        .iam_policy
        .ok_or_else(|| RunError::Other("the first node's manifest records no policy; run apply again".into()))?;
    let key_arn = first
        .key_arn()
        .ok_or_else(|| RunError::Other("the first node's run made no key; run apply again".into()))?
        .to_string();
    if !others.is_empty() {
        rep.check_stop()?;
        rep.note(together(first_node, others, count));
    }
    // The other nodes make their AWS part (each its own user and access key) while the
    // first node's server starts, is initialised and proves its restart; then they
    // start and join it, all at once. Every run goes to its end, a failed one's too: a
    // run dropped half-way could lose what it made before recording it.
    let members = others.iter().map(|node| {
        let member = Node {
            answers: as_member(&node.answers, &key_arn, &policy.name),
            ..node.clone()
        };
        let rep = rep.for_node(&node.id);
        let policy = &policy;
        async move {
            let ready = provision_member(&member.answers, &member.state_dir, policy, opts, &rep, None).await?;
            Ok::<_, RunError>((member, ready, rep))
        }
    });
    let (first, members) = tokio::join!(first.deploy(rep), futures_util::future::join_all(members));
    let first = first?;
    outcomes.push(first_outcome(first_node, &first));
    let first_id = outcomes[0].id.clone();
    let members: Vec<_> = members.into_iter().collect::<Result<_>>()?;
    let started = members.into_iter().map(|(member, ready, rep)| async move {
        let outcome = ready.deploy(&rep).await?;
        Ok::<_, RunError>(node_outcome(&member, &outcome))
    });
    for outcome in futures_util::future::join_all(started).await {
        outcomes.push(outcome?);
    }
    let file = ClusterFile {
        flavour: first.host.flavour().cli().to_string(),
        region: answers.region.clone(),
        endpoint_url: first.kms_endpoint.clone(),
        kms_key_arn: key_arn,
        policy_arn: policy.arn.clone(),
        policy_name: policy.name.clone(),
        user_prefix: answers.iam.user_name.clone(),
        tls: !answers.server.tls_disable,
        ca_cert: answers.server.ca_cert.clone(),
        nodes: nodes
            .iter()
            .enumerate()
            .map(|(i, n)| ClusterNode {
                node_id: Some(if i == 0 { first_id.clone() } else { n.id.clone() }),
                api_addr: n.api_addr(),
            })
            .chain(answers.cluster.peers.iter().map(|p| ClusterNode {
                node_id: None,
                api_addr: p.clone(),
            }))
            .collect(),
    };
    let path = answers
        .cluster
        .export_file
        .clone()
        .unwrap_or_else(|| state_dir.join(CLUSTER_FILE));
    write_cluster_file(state_dir, &path, &file, rep).await?;
    if count > 1 {
        let roles = roles(&nodes, rep).await?;
        for (outcome, role) in outcomes.iter_mut().zip(roles) {
            outcome.role = Some(role);
        }
    }
    Ok(ClusterOutcome {
        first,
        first_answers: first_node.answers.clone(),
        nodes: outcomes,
        cluster_file: Some(path),
    })
}

/// The cluster file at `path` and the answers of this host as one more node of it.
pub fn joining(answers: &Answers, path: &Path) -> Result<(ClusterFile, Answers)> {
    let file = ClusterFile::load(path).map_err(RunError::Other)?;
    let member = file.member_answers(answers).map_err(RunError::Other)?;
    Ok((file, member))
}

fn heading(node: &Node, i: usize, count: usize) -> String {
    format!("Node {i} of {count}: {} at {}", node.id, node.api_addr())
}

/// The heading of the nodes after the first, which run at the same time, and at the
/// same time as the first node's server part.
fn together(first: &Node, others: &[Node], count: usize) -> String {
    let which = match others.len() {
        1 => format!("Node {count} of {count}"),
        _ => format!("Nodes 2 to {count} of {count} at the same time"),
    };
    let nodes: Vec<String> = others.iter().map(|n| format!("{} at {}", n.id, n.api_addr())).collect();
    format!(
        "{which}, each line named: {} (the lines not named are {}'s, whose server starts meanwhile)",
        nodes.join(", "),
        first.id
    )
}

/// The first node's outcome, with its id as its run took it (a kept config's raft
/// node_id).
fn first_outcome(node: &Node, outcome: &FlowOutcome) -> NodeOutcome {
    NodeOutcome {
        id: outcome.host.fill(&node.answers).0.server.node_id,
        ..node_outcome(node, outcome)
    }
}

fn node_outcome(node: &Node, outcome: &FlowOutcome) -> NodeOutcome {
    NodeOutcome {
        id: node.id.clone(),
        address: outcome.vault.address.clone(),
        user_arn: outcome.aws.user.arn.clone(),
        env_file: node.answers.output.env_file.clone(),
        vault_config: node.answers.output.vault_config.clone(),
        state_dir: node.state_dir.clone(),
        role: None,
    }
}

/// A node's API and cluster ports are free, unless its own server from an earlier run
/// holds them.
fn ports_free(node: &Node) -> Result<()> {
    let ours_runs = ManifestStore::open(&node.state_dir)?
        .snapshot()
        .server
        .and_then(|s| s.pid)
        .is_some_and(launch::is_running);
    if ours_runs {
        return Ok(());
    }
    let api = crate::answers::parse_listen(&node.answers.server.listen).expect("listen was validated");
    let mut cluster = api;
    cluster.set_port(api.port() + 1);
    for addr in [api, cluster] {
        launch::ensure_port_free(&addr.to_string()).map_err(|e| {
            RunError::Other(format!(
                "node {} cannot listen: {e}. Choose another server.listen (the nodes take every {PORT_STEP}th port \
                 from it, each with the next one for the cluster)",
                node.id
            ))
        })?;
    }
    Ok(())
}

/// Writes the cluster file, recorded in the first node's manifest (destroy removes it).
async fn write_cluster_file(state_dir: &Path, path: &Path, file: &ClusterFile, rep: &Reporter) -> Result<()> {
    let store = ManifestStore::open(state_dir)?;
    let recorder = Recorder::new(rep.clone(), &store, false);
    let text = file.to_text();
    let shown = path.display().to_string();
    let write = |_| async {
        let opts = WriteOptions {
            mode: 0o644,
            owner: None,
            existing: Existing::Replace,
        };
        files::write_atomic(path, text.as_bytes(), opts)?;
        Ok(())
    };
    recorder
        .mutate(
            Change::new(
                Step::ClusterFile,
                "file:write",
                format!("{shown}: the cluster file (no secret)"),
                format!("install -m 0644 /dev/stdin {}", quote(&shown)),
            )
            .on_the_way(),
            write,
            |m, _| m.record_file(FileRole::ClusterFile, path, None),
            |_| format!("the cluster file for `autounseal join`: {shown}"),
        )
        .await?;
    Ok(())
}

/// Waits until every node names the same leader and exactly one is it: one active,
/// the rest standbys. Returns each node's role, in order.
pub async fn roles(nodes: &[Node], rep: &Reporter) -> Result<Vec<&'static str>> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut seen = Vec::new();
        for node in nodes {
            let client = VaultClient::new(&node.api_addr(), node.answers.server.ca_cert.as_deref())?;
            seen.push(client.leader().await.ok());
        }
        if let Some(roles) = agreed_roles(&seen) {
            for (node, role) in nodes.iter().zip(&roles) {
                rep.note(format!("  {} at {}: {role}", node.id, node.api_addr()));
            }
            return Ok(roles);
        }
        if Instant::now() > deadline {
            return Err(RunError::Other(format!(
                "the nodes did not agree on one active node within 60 s (their sys/leader: {}); check their logs in \
                 {}",
                seen.iter()
                    .map(|s| s.as_ref().map_or("no answer".to_string(), |l| format!(
                        "self {} leader {}",
                        l.is_self, l.leader_address
                    )))
                    .collect::<Vec<_>>()
                    .join("; "),
                nodes[0].state_dir.join(NODES_FOLDER).display()
            )));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// `active`/`standby` per node when every node answered, names one leader, and
/// exactly one is that leader.
fn agreed_roles(seen: &[Option<LeaderStatus>]) -> Option<Vec<&'static str>> {
    let all: Vec<&LeaderStatus> = seen.iter().map(Option::as_ref).collect::<Option<_>>()?;
    let leader = &all.first()?.leader_address;
    let agreed = !leader.is_empty() && all.iter().all(|l| l.ha_enabled && &l.leader_address == leader);
    let active = all.iter().filter(|l| l.is_self).count();
    (agreed && active == 1).then(|| {
        all.iter()
            .map(|l| if l.is_self { "active" } else { "standby" })
            .collect()
    })
}

/// `join` on a further host: this node's user and access key under the one policy, its
/// files with retry_join naming the cluster's nodes, its server started without init;
/// then it must have joined (its `sys/leader` names a leader) and be unsealed.
pub async fn join(
    file: &ClusterFile,
    member: &Answers,
    state_dir: &Path,
    opts: ApplyOptions,
    rep: &Reporter,
    unseal_keys: Option<UnsealKeys>,
) -> Result<(FlowOutcome, Option<LeaderStatus>)> {
    let policy = NamedRecord {
        name: file.policy_name.clone(),
        arn: file.policy_arn.clone(),
        origin: Origin::Reused,
    };
    let outcome = provision_member(member, state_dir, &policy, opts, rep, unseal_keys)
        .await?
        .deploy(rep)
        .await?;
    if opts.dry_run || outcome.vault.status.is_none() {
        return Ok((outcome, None));
    }
    let client = VaultClient::new(&config::api_addr(member), member.server.ca_cert.as_deref())?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(leader) = client.leader().await
            && !leader.leader_address.is_empty()
        {
            let how = if member.server.existing.is_new() {
                "joined"
            } else {
                "in the cluster"
            };
            rep.note(format!(
                "{how}: {} is {} of the cluster led by {}",
                member.server.node_id,
                if leader.is_self { "the active node" } else { "a standby" },
                leader.leader_address
            ));
            return Ok((outcome, Some(leader)));
        }
        if Instant::now() > deadline {
            return Err(RunError::Other(format!(
                "the node is unsealed but names no leader after 60 s: check that it reaches the cluster's nodes ({})",
                member.cluster.peers.join(", ")
            )));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// A token for the raft endpoints, from a file only its owner can read: the token
/// alone, or the `Initial Root Token: ` line of a recovery keys file.
pub fn read_token(path: &Path) -> std::result::Result<secrecy::SecretString, String> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read the token file {}: {e}", path.display()))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(format!(
            "the token file {} is readable by others (mode {mode:04o}): `chmod 600` it (and consider who read it), \
             then run again",
            path.display()
        ));
    }
    let text = zeroize::Zeroizing::new(
        std::fs::read_to_string(path).map_err(|e| format!("cannot read the token file {}: {e}", path.display()))?,
    );
    let token = text
        .lines()
        .find_map(|l| l.strip_prefix("Initial Root Token:"))
        .or_else(|| text.lines().find(|l| !l.trim().is_empty()))
        .map(str::trim)
        .filter(|t| !t.is_empty() && !t.contains(char::is_whitespace))
        .ok_or_else(|| {
            format!(
                "{} holds no token: put the token alone on its first line",
                path.display()
            )
        })?;
    Ok(secrecy::SecretString::from(token))
}

/// Whether the raft peer set, as seen through `address` with `token`, holds `node_id`.
pub async fn raft_member(
    address: &str,
    ca_cert: Option<&Path>,
    token: &secrecy::SecretString,
    node_id: &str,
) -> Result<Option<RaftServer>> {
    use secrecy::ExposeSecret;
    let servers = VaultClient::new(address, ca_cert)?
        .raft_servers(token.expose_secret())
        .await?;
    Ok(servers.into_iter().find(|s| s.node_id == node_id))
}

/// Before a node's destroy, with a token: takes it out of the raft peer set (through
/// its own address; a standby forwards to the active node), recorded with its twin.
pub async fn leave(
    store: &ManifestStore,
    node_id: &str,
    ca_cert: Option<&Path>,
    token: &secrecy::SecretString,
    rep: &Reporter,
) -> Result<()> {
    use secrecy::ExposeSecret;
    let Some(server) = store.snapshot().server else {
        rep.skipped(Step::StopServer, "no server recorded: no raft peer to remove");
        return Ok(());
    };
    let cli = crate::vault::server::Flavour::from_binary_name(&server.binary.to_string_lossy()).cli();
    let recorder = Recorder::new(rep.clone(), store, false);
    let client = VaultClient::new(&server.address, server.ca_cert_or(ca_cert))?;
    let remove = |_| async {
        client.remove_raft_peer(token.expose_secret(), node_id).await?;
        Ok(())
    };
    recorder
        .mutate(
            Change::new(
                Step::StopServer,
                "vault:raft-remove-peer",
                format!("{node_id} leaves the raft peer set"),
                format!(
                    "{cli} operator raft remove-peer -address={} {}",
                    server.address,
                    quote(node_id)
                ),
            )
            .on_the_way(),
            remove,
            crate::run::mutate::nothing_to_record,
            |_| format!("{node_id} removed from the raft peer set"),
        )
        .await?;
    Ok(())
}

/// What the node `manifest` records is in its cluster, as its `sys/leader` says:
/// `active`, `standby`, `no leader`; none when it does not answer or runs no HA.
pub async fn role(manifest: &crate::run::Manifest, ca_cert: Option<&Path>) -> Option<&'static str> {
    let server = manifest.server.as_ref()?;
    let leader = VaultClient::new(&server.address, server.ca_cert_or(ca_cert))
        .ok()?
        .leader()
        .await
        .ok()?;
    leader
        .ha_enabled
        .then_some(match (leader.is_self, leader.leader_address.is_empty()) {
            (true, _) => "active",
            (false, false) => "standby",
            (false, true) => "no leader",
        })
}

/// A node's raft node id, as the config it was given says (none when that is gone).
pub fn node_id_in_config(manifest: &crate::run::Manifest) -> Option<String> {
    manifest
        .server
        .as_ref()
        .and_then(|s| std::fs::read_to_string(&s.config).ok())
        .and_then(|text| {
            let parsed: serde_json::Value = hcl::from_str(&text).ok()?;
            parsed["storage"]["raft"]["node_id"].as_str().map(str::to_string)
        })
}

/// A node's name, for what is shown: its raft node id, else its folder's name.
pub fn node_name(dir: &Path, manifest: &crate::run::Manifest) -> String {
    node_id_in_config(manifest).unwrap_or_else(|| dir.file_name().unwrap_or_default().to_string_lossy().into_owned())
}

/// The state folders of the other nodes of a local cluster whose first node keeps its
/// state in `state_dir`, in node order.
pub fn node_state_dirs(state_dir: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(state_dir.join(NODES_FOLDER))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join(crate::run::manifest::MANIFEST_FILE).exists())
        .collect();
    dirs.sort_by_key(|d| {
        let name = d
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let number = name.rsplit('-').next().and_then(|n| n.parse::<u32>().ok());
        (number, name)
    });
    dirs
}

/// Undoes every node of a local cluster, then the first node with the shared key and
/// policy last: what `destroy` and the demo's teardown do.
pub async fn undo_all(
    ctx: &AwsContext,
    store: &ManifestStore,
    state_dir: &Path,
    rep: &Reporter,
    opts: DestroyOptions,
) -> Result<()> {
    let nodes = node_state_dirs(state_dir);
    let had_nodes = !nodes.is_empty();
    for dir in nodes.into_iter().rev() {
        rep.note(format!(
            "Node {}",
            dir.file_name().unwrap_or_default().to_string_lossy()
        ));
        let store = ManifestStore::open(&dir)?;
        flow::undo(ctx, &store, rep, opts).await?;
        // Once its manifest records nothing, the node's folder holds only autounseal's own
        // state of it (the server's log and pid file).
        if store.remove_if_empty()? {
            std::fs::remove_dir_all(&dir)
                .map_err(|e| RunError::Other(format!("cannot remove {}: {e}", dir.display())))?;
        }
    }
    let _ = std::fs::remove_dir(state_dir.join(NODES_FOLDER));
    if had_nodes {
        rep.note(format!(
            "Node {} (with the cluster's key and policy, last)",
            node_name(state_dir, &store.snapshot())
        ));
    }
    flow::undo(ctx, store, rep, opts).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answers() -> Answers {
        let mut a = Answers {
            region: "eu-west-1".into(),
            ..Default::default()
        };
        a.server.tls_disable = true;
        a.server.launch = crate::answers::Launch::Background;
        a.server.listen = "127.0.0.1:8200".into();
        a.output.vault_config = "/etc/vault.d/vault.hcl".into();
        a.output.env_file = "/etc/vault.d/vault.env".into();
        a.init.recovery_keys_file = Some("/root/keys.txt".into());
        a.cluster.nodes = 3;
        a
    }

    #[test]
    fn a_member_leaves_the_keys_rotation_and_alarm_to_the_first_node_and_keeps_its_replicas() {
        let mut a = answers();
        a.kms.alarm_email = Some("ops@example.com".into());
        a.kms.replica_regions = vec!["us-west-2".into()];
        let member = as_member(&a, "arn:aws:kms:eu-west-1:1:key/mrk-1", "p");
        assert!(!member.kms.create && !member.kms.rotation && !member.kms.alarm());
        // Its policy names the replicas too: the same shared document.
        assert_eq!(member.kms.replica_regions, ["us-west-2"]);
    }

    #[test]
    fn node_ids_follow_the_first() {
        assert_eq!(node_id("autounseal-1", 3), "autounseal-3");
        assert_eq!(node_id("vault", 2), "vault-2");
        assert_eq!(node_id("a-b-10", 2), "a-b-2");
        assert_eq!(node_id("-1", 2), "-1-2");
    }

    #[test]
    fn a_local_cluster_gives_each_node_its_own_ports_files_user_and_peers() {
        let nodes = local_nodes(&answers(), Path::new("/state"));
        let ids: Vec<_> = nodes.iter().map(|n| n.id.as_str()).collect();
        assert_eq!(ids, ["autounseal-1", "autounseal-2", "autounseal-3"]);
        let n2 = &nodes[1].answers;
        assert_eq!(n2.server.listen, "127.0.0.1:8210");
        assert_eq!(n2.server.storage_path, Path::new("/opt/vault/data/autounseal-2"));
        assert_eq!(n2.output.vault_config, Path::new("/etc/vault.d/vault-autounseal-2.hcl"));
        assert_eq!(n2.output.env_file, Path::new("/etc/vault.d/vault-autounseal-2.env"));
        assert_eq!(n2.iam.user_name, "vault-auto-unseal-autounseal-2");
        assert_eq!(nodes[1].state_dir, Path::new("/state/nodes/autounseal-2"));
        assert_eq!(nodes[0].state_dir, Path::new("/state"));
        assert_eq!(n2.cluster.peers, ["http://127.0.0.1:8200", "http://127.0.0.1:8220"]);
        // Only the first node is initialised and keeps the keys file.
        assert!(nodes[0].answers.init.enabled && nodes[0].answers.init.recovery_keys_file.is_some());
        assert!(!n2.init.enabled && n2.init.recovery_keys_file.is_none());
        for node in &nodes {
            assert_eq!(node.answers.validate(), vec![], "{}", node.id);
        }
        // With the shared credentials file, each node has its own.
        let mut shared = answers();
        shared.output.credentials = crate::answers::CredentialsStyle::SharedFile;
        let nodes = local_nodes(&shared, Path::new("/state"));
        assert_eq!(
            nodes[2].answers.output.shared_credentials_path(),
            Path::new("/etc/vault.d/aws-credentials-autounseal-3")
        );
    }

    #[test]
    fn a_joining_node_takes_the_clusters_key_and_refuses_a_taken_id() {
        let file = ClusterFile {
            flavour: "bao".into(),
            region: "eu-west-1".into(),
            endpoint_url: Some("http://127.0.0.1:5000".into()),
            kms_key_arn: "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab".into(),
            policy_arn: "arn:aws:iam::123456789012:policy/vault-auto-unseal-kms".into(),
            policy_name: "vault-auto-unseal-kms".into(),
            user_prefix: "vault-auto-unseal".into(),
            tls: false,
            ca_cert: None,
            nodes: vec![ClusterNode {
                node_id: Some("autounseal-1".into()),
                api_addr: "http://127.0.0.1:8200".into(),
            }],
        };
        let mut own = answers();
        own.cluster.nodes = 1;
        let taken = file.member_answers(&own).unwrap_err();
        assert!(taken.contains("already has a node autounseal-1"), "{taken}");
        own.server.node_id = "autounseal-4".into();
        own.server.listen = "127.0.0.1:8230".into();
        let a = file.member_answers(&own).unwrap();
        assert!(!a.kms.create && !a.init.enabled);
        assert_eq!(a.kms.key_id.as_deref(), Some(file.kms_key_arn.as_str()));
        assert_eq!(a.iam.user_name, "vault-auto-unseal-autounseal-4");
        assert_eq!(a.cluster.peers, ["http://127.0.0.1:8200"]);
        assert_eq!(a.endpoint_url, file.endpoint_url);
        assert_eq!(ClusterFile::load_text(&file.to_text()), Ok(file));
    }

    /// The documented multi-host path: host 1 names the others in `[cluster] peers`, so
    /// its cluster file lists them by address alone; each of them joins into its slot.
    #[test]
    fn a_host_named_as_a_peer_joins_into_its_slot_and_a_joined_address_stays_taken() {
        let mut file = ClusterFile {
            flavour: "bao".into(),
            region: "eu-west-1".into(),
            endpoint_url: None,
            kms_key_arn: "arn:aws:kms:eu-west-1:123456789012:key/k".into(),
            policy_arn: "arn:aws:iam::123456789012:policy/p".into(),
            policy_name: "p".into(),
            user_prefix: "vault-auto-unseal".into(),
            tls: false,
            ca_cert: None,
            nodes: [
                "http://10.231.0.11:8200",
                "http://10.231.0.12:8200",
                "http://10.231.0.13:8200",
            ]
            .iter()
            .zip([Some("autounseal-1".to_string()), None, None])
            .map(|(addr, id)| ClusterNode {
                node_id: id,
                api_addr: addr.to_string(),
            })
            .collect(),
        };
        let mut own = answers();
        own.cluster.nodes = 1;
        own.server.node_id = "autounseal-2".into();
        own.server.listen = "10.231.0.12:8200".into();
        let a = file.member_answers(&own).unwrap();
        assert_eq!(a.cluster.peers, ["http://10.231.0.11:8200", "http://10.231.0.13:8200"]);
        // Once a node joined there, the address is taken.
        file.nodes[1].node_id = Some("autounseal-2".into());
        own.server.node_id = "autounseal-5".into();
        let taken = file.member_answers(&own).unwrap_err();
        assert!(
            taken.contains("already has a node at http://10.231.0.12:8200"),
            "{taken}"
        );
    }

    #[test]
    fn a_token_file_is_the_owners_alone_and_may_be_a_recovery_keys_file() {
        use secrecy::ExposeSecret;
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "Recovery Key 1: aa11\n\nInitial Root Token: s.root\n").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let refused = read_token(&file).unwrap_err();
        assert!(
            refused.contains("readable by others") && !refused.contains("s.root"),
            "{refused}"
        );
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read_token(&file).unwrap().expose_secret(), "s.root");
        std::fs::write(&file, "\ns.alone\n").unwrap();
        assert_eq!(read_token(&file).unwrap().expose_secret(), "s.alone");
        std::fs::write(&file, "Recovery Key 1: aa11\n").unwrap();
        assert!(read_token(&file).unwrap_err().contains("holds no token"));
    }

    #[test]
    fn roles_need_one_leader_all_agree_on() {
        let status = |is_self, leader: &str| {
            Some(LeaderStatus {
                ha_enabled: true,
                is_self,
                leader_address: leader.into(),
            })
        };
        let a = "http://127.0.0.1:8200";
        assert_eq!(
            agreed_roles(&[status(true, a), status(false, a)]),
            Some(vec!["active", "standby"])
        );
        assert_eq!(agreed_roles(&[status(true, a), None]), None);
        assert_eq!(agreed_roles(&[status(false, a), status(false, a)]), None);
        assert_eq!(agreed_roles(&[status(true, a), status(false, "")]), None);
    }
}
