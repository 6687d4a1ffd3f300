//! The one model of the operator's choices.
//!
//! The answers file (`apply`, `plan`), the wizard's screens and the line prompts all
//! fill this same struct and check it with the same validators, so a value that one
//! front end accepts is never refused by another.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::credentials_file::{KeyFiles, SharedFile};
use crate::regions;

pub const DEFAULT_ALIAS: &str = "alias/vault-auto-unseal";
pub const DEFAULT_USER: &str = "vault-auto-unseal";
pub const DEFAULT_POLICY: &str = "vault-auto-unseal-kms";
pub const DEFAULT_ENV_FILE: &str = "/etc/vault.d/vault.env";
/// The shared credentials file's name, beside the env file unless another is given.
pub const SHARED_CREDENTIALS_NAME: &str = "aws-credentials";
/// The profile that holds the key: named after the IAM user it belongs to by default,
/// so `aws --profile vault-auto-unseal sts get-caller-identity` reads as what it is.
pub const DEFAULT_CREDENTIALS_PROFILE: &str = "vault-auto-unseal";
pub const DEFAULT_VAULT_CONFIG: &str = "/etc/vault.d/vault.hcl";
pub const DEFAULT_STORAGE_PATH: &str = "/opt/vault/data";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8200";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Answers {
    /// The AWS region of the KMS key; Vault's seal uses the same one.
    pub region: String,
    /// An endpoint override for every AWS call (and for Vault's seal).
    pub endpoint_url: Option<String>,
    /// A named profile of the shared AWS config files.
    pub profile: Option<String>,
    pub kms: KmsAnswers,
    pub iam: IamAnswers,
    pub output: OutputAnswers,
    pub server: ServerAnswers,
    pub init: InitAnswers,
    pub timing: TimingAnswers,
    /// A raft cluster instead of a single server (see docs/cluster.md).
    #[serde(skip_serializing_if = "ClusterAnswers::is_single")]
    pub cluster: ClusterAnswers,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KmsAnswers {
    /// Create a new key (true) or reuse `key_id` (false).
    pub create: bool,
    /// The key to reuse: key id, key ARN, alias name or alias ARN.
    pub key_id: Option<String>,
    pub alias: String,
    pub description: String,
    pub rotation: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IamAnswers {
    pub user_name: String,
    pub policy_name: String,
    /// When the user already holds two access keys (IAM's limit): the id of the one to
    /// delete to make room. Left empty, the run stops and lists the keys.
    pub replace_access_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutputAnswers {
    pub vault_config: PathBuf,
    pub env_file: PathBuf,
    /// Where the server's access key goes: the env file, or a shared credentials file
    /// the seal stanza names (kept out of the environment Vault's AWS engines read).
    #[serde(skip_serializing_if = "CredentialsStyle::is_env")]
    pub credentials: CredentialsStyle,
    /// With `credentials = "shared-file"`: the file. Unset: `aws-credentials` beside
    /// the env file (so it follows the env file to OpenBao's /etc/openbao).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shared_credentials_file: Option<PathBuf>,
    /// With `credentials = "shared-file"`: the profile in that file.
    pub credentials_profile: String,
    /// Also save the access key as a CSV in the AWS console's format.
    pub credentials_csv: Option<PathBuf>,
}

/// How the server gets its access key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum CredentialsStyle {
    /// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` in the env file.
    #[default]
    Env,
    /// An AWS shared credentials file, named by the seal stanza's `shared_creds_filename`
    /// and `shared_creds_profile`; the env file holds the region alone (hashicorp/vault#30302:
    /// the server's environment, `AWS_SHARED_CREDENTIALS_FILE` and `AWS_PROFILE` included,
    /// is also read by Vault's AWS secrets engine and auth method).
    SharedFile,
}

impl CredentialsStyle {
    pub const ALL: [CredentialsStyle; 2] = [CredentialsStyle::Env, CredentialsStyle::SharedFile];

    pub fn is_env(&self) -> bool {
        *self == CredentialsStyle::Env
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CredentialsStyle::Env => "env",
            CredentialsStyle::SharedFile => "shared-file",
        }
    }
}

impl OutputAnswers {
    /// The shared credentials file: the one given, else `aws-credentials` beside the env file.
    pub fn shared_credentials_path(&self) -> PathBuf {
        self.shared_credentials_file.clone().unwrap_or_else(|| {
            self.env_file
                .parent()
                .unwrap_or(Path::new("/"))
                .join(SHARED_CREDENTIALS_NAME)
        })
    }

    /// The files that will hold the key, by the chosen style.
    pub fn key_files(&self) -> KeyFiles {
        KeyFiles {
            env_file: self.env_file.clone(),
            shared: (self.credentials == CredentialsStyle::SharedFile).then(|| SharedFile {
                path: self.shared_credentials_path(),
                profile: self.credentials_profile.clone(),
            }),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Launch {
    /// A systemd drop-in with `EnvironmentFile=`, then a restart of the unit.
    #[default]
    Systemd,
    /// A detached process started by autounseal, its log and pid in the state folder.
    Background,
    /// Write the files and print the command to run.
    None,
}

impl Launch {
    pub const ALL: [Launch; 3] = [Launch::Systemd, Launch::Background, Launch::None];

    pub fn as_str(self) -> &'static str {
        match self {
            Launch::Systemd => "systemd",
            Launch::Background => "background",
            Launch::None => "none",
        }
    }
}

/// What to do with a server that already holds data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ExistingServer {
    /// Only a new, empty server is set up; one with data is refused.
    #[default]
    New,
    /// Move a Shamir-sealed server with data to the awskms seal (its unseal keys become
    /// its recovery keys). Asked for explicitly: the data is someone's.
    Migrate,
}

impl ExistingServer {
    pub fn is_new(&self) -> bool {
        *self == ExistingServer::New
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerAnswers {
    /// `vault` or `bao`, found on PATH, or a path to the binary.
    pub binary: String,
    pub launch: Launch,
    /// `migrate` to move an existing Shamir-sealed server to awskms.
    #[serde(skip_serializing_if = "ExistingServer::is_new")]
    pub existing: ExistingServer,
    pub listen: String,
    pub storage_path: PathBuf,
    /// Raft node id; defaults to `autounseal-1`.
    pub node_id: String,
    pub tls_disable: bool,
    pub tls_cert_file: Option<PathBuf>,
    pub tls_key_file: Option<PathBuf>,
    /// CA bundle to trust when autounseal talks to the server over TLS.
    pub ca_cert: Option<PathBuf>,
    /// The systemd unit that runs the server. Unset: the unit found running `binary`,
    /// else the flavour's packaged unit (`vault.service`, `openbao.service`).
    pub systemd_unit: Option<String>,
    /// The service's user and group, owners of the env file, config and storage. Unset:
    /// the unit's `User=` and `Group=`, else the flavour's packaged user when it exists.
    pub user: Option<String>,
    pub group: Option<String>,
}

impl ServerAnswers {
    /// Who the files the server reads belong to: the service user (`vault` when none
    /// was found), when it exists and autounseal runs as root.
    pub fn owner(&self) -> Option<crate::files::Owner> {
        let account = self.service_account();
        crate::files::Owner::service_account(&account.user, account.group.as_deref())
    }

    /// Who a new config belongs to: root, with the service's group (the server reads
    /// it, and must not be able to rewrite its own seal stanza).
    pub fn config_owner(&self) -> Option<crate::files::Owner> {
        let account = self.service_account();
        crate::files::Owner::root_with_group_of(&account.user, account.group.as_deref())
    }

    /// The user (default `vault`) and group the server runs as.
    pub fn service_account(&self) -> ServiceAccount {
        ServiceAccount {
            user: self.user.clone().unwrap_or_else(|| "vault".into()),
            group: self.group.clone(),
        }
    }
}

/// The user and group a server runs as, who own its secret files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceAccount {
    pub user: String,
    pub group: Option<String>,
}

impl ServiceAccount {
    /// `install`'s owner flags for the secret files: `-o openbao -g openbao`.
    pub fn install_flags(&self) -> String {
        let group = self.group.as_deref().unwrap_or(&self.user);
        format!(
            "-o {} -g {}",
            crate::twins::quote(&self.user),
            crate::twins::quote(group)
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InitAnswers {
    /// Initialise the server once it runs (needs launch `systemd` or `background`).
    pub enabled: bool,
    pub recovery_shares: u16,
    pub recovery_threshold: u16,
    /// Public PGP key files, one per recovery share.
    pub recovery_pgp_keys: Vec<PathBuf>,
    pub root_token_pgp_key: Option<PathBuf>,
    /// Where headless runs save the recovery keys and root token (created new, 0600).
    pub recovery_keys_file: Option<PathBuf>,
}

/// The most nodes a local cluster gets: raft's writes wait for a majority, and Vault
/// recommends 3 or 5 voters.
pub const MAX_CLUSTER_NODES: u16 = 9;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterAnswers {
    /// How many nodes to run on this machine (the local layout, on loopback, launch
    /// `background`); 1 is a single server.
    pub nodes: u16,
    /// The API addresses of the other hosts' nodes (multi-host): each becomes a
    /// `retry_join` block of this node's config.
    pub peers: Vec<String>,
    /// Where `apply` writes the cluster file `join` reads (no secret in it); unset:
    /// `cluster.toml` in the state folder.
    pub export_file: Option<PathBuf>,
    /// The cluster file of an existing cluster this host joins as one more node: then
    /// `apply` does what `autounseal join --cluster FILE` does (the file's key, region,
    /// policy and nodes win over these answers).
    pub join: Option<PathBuf>,
}

impl Default for ClusterAnswers {
    fn default() -> Self {
        ClusterAnswers {
            nodes: 1,
            peers: Vec::new(),
            export_file: None,
            join: None,
        }
    }
}

impl ClusterAnswers {
    /// A single server that joins nobody: no `[cluster]` section is written.
    pub fn is_single(&self) -> bool {
        self.nodes == 1 && self.peers.is_empty() && self.export_file.is_none() && self.join.is_none()
    }

    /// Whether these answers make a cluster (locally, or with peers on other hosts).
    pub fn is_cluster(&self) -> bool {
        self.nodes > 1 || !self.peers.is_empty()
    }

    /// A warning for an even count: raft needs a majority, so an even cluster survives
    /// no more failures than the odd one below it.
    pub fn even_warning(&self) -> Option<String> {
        (self.nodes > 1 && self.nodes.is_multiple_of(2)).then(|| {
            format!(
                "{} nodes survive the loss of {} as {} do: raft needs a majority; 3 or 5 nodes are the usual choice",
                self.nodes,
                (self.nodes - 1) / 2,
                self.nodes - 1
            )
        })
    }
}

/// `[cluster] nodes`: 1 to [`MAX_CLUSTER_NODES`]; more than one runs every node here, in the background.
pub fn validate_cluster(cluster: &ClusterAnswers, launch: Launch) -> Result<(), String> {
    if !(1..=MAX_CLUSTER_NODES).contains(&cluster.nodes) {
        return Err(format!(
            "cluster.nodes must be 1 (a single server) to {MAX_CLUSTER_NODES}, not {}; 3 or 5 are the usual choice",
            cluster.nodes
        ));
    }
    if cluster.join.is_some() && cluster.nodes > 1 {
        return Err(format!(
            "cluster.join makes this host one more node of an existing cluster, so it runs one server: \
             set cluster.nodes = 1, not {}",
            cluster.nodes
        ));
    }
    if cluster.nodes > 1 && launch != Launch::Background {
        return Err(format!(
            "cluster.nodes = {} runs every node on this machine, which needs server.launch = \"background\" (one \
             systemd unit runs one server). For nodes on several hosts keep nodes = 1, list the others in \
             cluster.peers, and run `autounseal join` on each of them",
            cluster.nodes
        ));
    }
    Ok(())
}

/// `[cluster] peers`: other hosts' nodes, each a full API address.
pub fn validate_peers(peers: &[String]) -> Result<(), String> {
    for peer in peers {
        match url::Url::parse(peer) {
            Ok(u) if (u.scheme() == "http" || u.scheme() == "https") && u.host().is_some() && u.port().is_some() => {}
            _ => {
                return Err(format!(
                    "\"{peer}\" is not a node's API address; give scheme, host and port, for example https://10.0.0.12:8200"
                ));
            }
        }
    }
    Ok(())
}

/// The cluster file `apply` of a cluster writes and `join` reads: where the cluster is
/// and what it shares. No secret is in it. Here, with the answers, because it is an
/// input of the same kind: the first node's answers, as the other hosts take them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterFile {
    /// `bao` or `vault`: every node runs the same server.
    pub flavour: String,
    pub region: String,
    /// Where the seal calls KMS when not AWS itself (an emulator, a VPC endpoint).
    pub endpoint_url: Option<String>,
    pub kms_key_arn: String,
    pub policy_arn: String,
    pub policy_name: String,
    /// A node's IAM user is `<user_prefix>-<node_id>`.
    pub user_prefix: String,
    pub tls: bool,
    /// The CA bundle that verifies the nodes' certificates (`leader_ca_cert_file`).
    pub ca_cert: Option<PathBuf>,
    pub nodes: Vec<ClusterNode>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterNode {
    /// Unknown for a peer on another host listed only by its address.
    pub node_id: Option<String>,
    pub api_addr: String,
}

const CLUSTER_FILE_HEADER: &str = "# The cluster file of autounseal: what `autounseal join --cluster FILE` needs on \
     another host. No secret is in it.\n";

impl ClusterFile {
    pub fn load(path: &Path) -> Result<ClusterFile, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the cluster file {}: {e}", path.display()))?;
        ClusterFile::load_text(&text).map_err(|e| {
            format!(
                "{} is not a cluster file autounseal wrote: {e}. Copy it again from the first node's state folder",
                path.display()
            )
        })
    }

    pub fn load_text(text: &str) -> Result<ClusterFile, String> {
        toml::from_str(text).map_err(|e| e.to_string().trim_end().to_string())
    }

    pub fn to_text(&self) -> String {
        format!(
            "{CLUSTER_FILE_HEADER}{}",
            toml::to_string_pretty(self).expect("a cluster file always serialises")
        )
    }

    /// The node the others join: the first, which was initialised.
    pub fn leader_addr(&self) -> &str {
        self.nodes.first().map_or("", |n| n.api_addr.as_str())
    }
}

/// Replaces the entry whose key starts at `at` with spaces: its line, or for a table
/// header (`[unknown]`) the table down to the next header, so that its keys are not
/// taken for keys of the table above.
fn blank_entry(text: &mut String, at: usize) {
    let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let line_end = |from: usize| text[from..].find('\n').map_or(text.len(), |i| from + i);
    let mut end = line_end(start);
    if text[start..end].trim_start().starts_with('[') {
        while end < text.len() && !text[end + 1..].trim_start().starts_with('[') {
            end = line_end(end + 1);
        }
    }
    let blanked: String = text[start..end]
        .chars()
        .map(|c| if c == '\n' { c } else { ' ' })
        .collect();
    text.replace_range(start..end, &blanked);
}

/// How long to wait for AWS and for a new access key to work.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TimingAnswers {
    /// Give up waiting for a new access key to work after this long.
    pub propagation_timeout_secs: u64,
    pub poll_interval_ms: u64,
    /// Successes in a row before a new key counts as usable (IAM is eventually consistent).
    pub required_successes: u32,
    pub operation_timeout_secs: u64,
    pub attempt_timeout_secs: u64,
    pub connect_timeout_secs: u64,
    /// How long to wait for the Vault server to answer after it starts.
    pub server_start_timeout_secs: u64,
}

impl Default for KmsAnswers {
    fn default() -> Self {
        KmsAnswers {
            create: true,
            key_id: None,
            alias: DEFAULT_ALIAS.into(),
            description: "Vault auto-unseal key (created by autounseal)".into(),
            rotation: true,
        }
    }
}

impl Default for IamAnswers {
    fn default() -> Self {
        IamAnswers {
            user_name: DEFAULT_USER.into(),
            policy_name: DEFAULT_POLICY.into(),
            replace_access_key: None,
        }
    }
}

impl Default for OutputAnswers {
    fn default() -> Self {
        OutputAnswers {
            vault_config: DEFAULT_VAULT_CONFIG.into(),
            env_file: DEFAULT_ENV_FILE.into(),
            credentials: CredentialsStyle::Env,
            shared_credentials_file: None,
            credentials_profile: DEFAULT_CREDENTIALS_PROFILE.into(),
            credentials_csv: None,
        }
    }
}

impl Default for ServerAnswers {
    fn default() -> Self {
        ServerAnswers {
            binary: "vault".into(),
            launch: Launch::Systemd,
            existing: ExistingServer::New,
            listen: DEFAULT_LISTEN.into(),
            storage_path: DEFAULT_STORAGE_PATH.into(),
            node_id: "autounseal-1".into(),
            tls_disable: false,
            tls_cert_file: None,
            tls_key_file: None,
            ca_cert: None,
            systemd_unit: None,
            user: None,
            group: None,
        }
    }
}

impl Default for InitAnswers {
    fn default() -> Self {
        InitAnswers {
            enabled: true,
            recovery_shares: 5,
            recovery_threshold: 3,
            recovery_pgp_keys: Vec::new(),
            root_token_pgp_key: None,
            recovery_keys_file: None,
        }
    }
}

impl Default for TimingAnswers {
    fn default() -> Self {
        TimingAnswers {
            propagation_timeout_secs: 120,
            poll_interval_ms: 1500,
            required_successes: 3,
            operation_timeout_secs: 60,
            attempt_timeout_secs: 20,
            connect_timeout_secs: 5,
            server_start_timeout_secs: 60,
        }
    }
}

/// One problem with one answer, named by its key in the answers file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AnswersError {
    #[error("cannot read the answers file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("the answers file {path} is not valid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{}", format_field_errors(.0))]
    Invalid(Vec<FieldError>),
}

fn format_field_errors(errors: &[FieldError]) -> String {
    let mut out = String::from("some answers need fixing:");
    for e in errors {
        out.push_str(&format!("\n  - {e}"));
    }
    out
}

impl Answers {
    /// Reads and validates an answers file.
    pub fn load(path: &Path) -> Result<Answers, AnswersError> {
        let text = std::fs::read_to_string(path).map_err(|source| AnswersError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let answers = Answers::parse(&text).map_err(|message| AnswersError::Parse {
            path: path.to_path_buf(),
            message,
        })?;
        answers.check()?;
        Ok(answers)
    }

    /// The answers in `text`. Every unknown key is reported at once (a typo each, with
    /// the keys its section knows), as the other problems are by [`Answers::validate`].
    pub fn parse(text: &str) -> Result<Answers, String> {
        let mut error = match toml::from_str(text) {
            Ok(answers) => return Ok(answers),
            Err(e) => e,
        };
        let unknown = |e: &toml::de::Error| e.message().starts_with("unknown field");
        if !unknown(&error) {
            return Err(error.to_string().trim_end().to_string());
        }
        // Each unknown key found is blanked out (with spaces, so that every later span
        // and line number is the file's own) and the text read again.
        let mut text = text.to_string();
        let mut found = Vec::new();
        while let Some(span) = error.span().filter(|_| unknown(&error) && found.len() < 100) {
            let line = text[..span.start].matches('\n').count() + 1;
            found.push(format!("line {line}: {}", error.message()));
            blank_entry(&mut text, span.start);
            match toml::from_str::<Answers>(&text) {
                Ok(_) => break,
                Err(e) if unknown(&e) => error = e,
                Err(e) => {
                    found.push(e.to_string().trim_end().to_string());
                    break;
                }
            }
        }
        Err(format!(
            "{} unknown key(s) (docs/answers.md lists every key):\n  {}",
            found.iter().filter(|f| f.contains("unknown field")).count(),
            found.join("\n  ")
        ))
    }

    /// Every problem at once, so that one run of the operator fixes them all.
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let mut check = |field: &'static str, result: Result<(), String>| {
            if let Err(message) = result {
                errors.push(FieldError { field, message });
            }
        };
        check("region", validate_region(&self.region));
        if let Some(url) = &self.endpoint_url {
            check("endpoint_url", validate_endpoint_url(url));
        }
        if let Some(profile) = &self.profile {
            check("profile", validate_not_blank(profile, "profile"));
        }
        if self.kms.create {
            check("kms.alias", validate_alias(&self.kms.alias));
            check("kms.description", validate_key_description(&self.kms.description));
        } else {
            check(
                "kms.key_id",
                match &self.kms.key_id {
                    None => Err(
                        "kms.create is false, so kms.key_id must name the key to reuse (key id, key ARN or alias)"
                            .into(),
                    ),
                    Some(id) => validate_key_reference(id, &self.region),
                },
            );
        }
        check("iam.user_name", validate_iam_user_name(&self.iam.user_name));
        check("iam.policy_name", validate_iam_policy_name(&self.iam.policy_name));
        if let Some(id) = &self.iam.replace_access_key {
            check("iam.replace_access_key", validate_access_key_id(id));
        }
        check("output.env_file", validate_file_path(&self.output.env_file));
        check("output.vault_config", validate_file_path(&self.output.vault_config));
        if let Some(csv) = &self.output.credentials_csv {
            check("output.credentials_csv", validate_file_path(csv));
        }
        if self.output.credentials == CredentialsStyle::SharedFile {
            check(
                "output.shared_credentials_file",
                validate_file_path(&self.output.shared_credentials_path()),
            );
            check(
                "output.credentials_profile",
                validate_profile_name(&self.output.credentials_profile),
            );
        }
        if let Some(keys) = &self.init.recovery_keys_file {
            check("init.recovery_keys_file", validate_file_path(keys));
        }
        for (field, message) in self.output_clashes() {
            check(field, Err(message));
        }
        check(
            "server.binary",
            validate_not_blank(&self.server.binary, "the server binary"),
        );
        check("server.listen", validate_listen(&self.server.listen));
        check("server.storage_path", validate_file_path(&self.server.storage_path));
        check("server.node_id", validate_node_id(&self.server.node_id));
        check("server.tls_cert_file", validate_tls(&self.server));
        check(
            "init.recovery_threshold",
            validate_recovery(self.init.recovery_shares, self.init.recovery_threshold),
        );
        check(
            "init.recovery_pgp_keys",
            validate_pgp_key_count(&self.init.recovery_pgp_keys, self.init.recovery_shares),
        );
        if self.init.enabled && self.server.launch == Launch::None {
            check(
                "init.enabled",
                Err("init needs a running server: set server.launch to \"systemd\" or \"background\", or init.enabled = false".into()),
            );
        }
        check("timing", validate_timing(&self.timing));
        check("cluster.nodes", validate_cluster(&self.cluster, self.server.launch));
        check("cluster.peers", validate_peers(&self.cluster.peers));
        errors
    }

    /// The files autounseal writes, by the key that names them.
    pub fn output_files(&self) -> Vec<(&'static str, PathBuf)> {
        let mut files = vec![
            ("output.env_file", self.output.env_file.clone()),
            ("output.vault_config", self.output.vault_config.clone()),
        ];
        if self.output.credentials == CredentialsStyle::SharedFile {
            files.push(("output.shared_credentials_file", self.output.shared_credentials_path()));
        }
        if let Some(csv) = &self.output.credentials_csv {
            files.push(("output.credentials_csv", csv.clone()));
        }
        if let Some(keys) = &self.init.recovery_keys_file {
            files.push(("init.recovery_keys_file", keys.clone()));
        }
        files
    }

    /// Two outputs on one path would overwrite each other (the config over the only
    /// copy of the secret, say); one inside the storage folder would mix with raft's data.
    fn output_clashes(&self) -> Vec<(&'static str, String)> {
        let files = self.output_files();
        let mut clashes = Vec::new();
        for (i, (field, path)) in files.iter().enumerate() {
            if let Some((other, _)) = files[..i].iter().find(|(_, p)| p == path) {
                clashes.push((
                    *field,
                    format!(
                        "{} is also {other}; every file autounseal writes needs a path of its own",
                        path.display()
                    ),
                ));
            }
            if path.starts_with(&self.server.storage_path) {
                clashes.push((
                    *field,
                    format!(
                        "{} is inside server.storage_path ({}), which is the server's data alone; choose a path outside it",
                        path.display(),
                        self.server.storage_path.display()
                    ),
                ));
            }
        }
        clashes
    }

    /// A warning when the server would serve plain HTTP beyond this machine: tokens
    /// and secrets would cross the network in clear.
    pub fn plain_http_warning(&self) -> Option<String> {
        let exposed = parse_listen(&self.server.listen).is_some_and(|a| !a.ip().is_loopback());
        (self.server.tls_disable && exposed).then(|| {
            format!(
                "the listener {} serves plain HTTP (tls_disable) beyond this machine: tokens and secrets cross the \
                 network in clear. Give TLS files, or listen on 127.0.0.1",
                self.server.listen
            )
        })
    }

    pub fn check(&self) -> Result<(), AnswersError> {
        let errors = self.validate();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(AnswersError::Invalid(errors))
        }
    }

    /// The answers as a TOML document (what the wizard saves for a later `apply`).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("answers always serialise")
    }

    /// Saves the session's answers given so far (no secrets are among them) in the state
    /// folder, so that nothing typed is lost: both front ends call it at every step.
    pub fn save_session(&self, state_dir: &Path) {
        let opts = crate::files::WriteOptions {
            mode: 0o600,
            owner: None,
            existing: crate::files::Existing::Replace,
        };
        let path = state_dir.join(SESSION_FILE);
        if let Err(e) = crate::files::write_atomic(&path, self.to_toml().as_bytes(), opts) {
            tracing::warn!("cannot save the session's answers: {e}");
        }
    }

    /// The last session's answers, if any were saved and still read.
    pub fn last_session(state_dir: &Path) -> Option<Answers> {
        let text = std::fs::read_to_string(state_dir.join(SESSION_FILE)).ok()?;
        Answers::parse(&text).ok()
    }
}

/// The file in the state folder that keeps the session's answers.
pub const SESSION_FILE: &str = "wizard-answers.toml";

pub fn validate_not_blank(value: &str, what: &str) -> Result<(), String> {
    if value.trim().is_empty() {
        Err(format!("{what} must not be empty"))
    } else {
        Ok(())
    }
}

pub fn validate_region(region: &str) -> Result<(), String> {
    if region.trim().is_empty() {
        return Err("choose the AWS region of the KMS key, for example \"us-east-1\"".into());
    }
    if regions::region_name(region).is_some() {
        return Ok(());
    }
    let close: Vec<&str> = regions::KMS_REGIONS
        .iter()
        .map(|(c, _)| *c)
        .filter(|c| c.split('-').next() == region.split('-').next())
        .collect();
    let hint = if close.is_empty() {
        "run `autounseal regions` for the list".to_string()
    } else {
        format!("did you mean one of: {}?", close.join(", "))
    };
    Err(format!("\"{region}\" is not an AWS region that offers KMS; {hint}"))
}

/// A profile name of the shared credentials file: what the AWS CLI writes and every SDK
/// reads back the same (no spaces, brackets or `=`, which would break the INI line).
pub fn validate_profile_name(profile: &str) -> Result<(), String> {
    if profile.is_empty() {
        return Err(format!(
            "name the profile that holds the key, for example \"{DEFAULT_CREDENTIALS_PROFILE}\""
        ));
    }
    if profile.len() > 64 || !profile.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
        return Err(format!(
            "\"{profile}\" is not a usable profile name; use up to 64 letters, digits and - _ ."
        ));
    }
    Ok(())
}

pub fn validate_endpoint_url(url: &str) -> Result<(), String> {
    match url::Url::parse(url) {
        Ok(u) if (u.scheme() == "http" || u.scheme() == "https") && u.host().is_some() => Ok(()),
        Ok(_) => Err(format!(
            "\"{url}\" must be an http:// or https:// URL with a host, for example http://127.0.0.1:5000"
        )),
        Err(e) => Err(format!("\"{url}\" is not a URL ({e})")),
    }
}

fn iam_name_chars_ok(name: &str) -> bool {
    name.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
}

/// IAM user names: 1 to 64 characters of letters, digits and `+=,.@_-`.
pub fn validate_iam_user_name(name: &str) -> Result<(), String> {
    validate_iam_name(name, 64, "IAM user names")
}

/// IAM policy names: 1 to 128 characters of letters, digits and `+=,.@_-`.
pub fn validate_iam_policy_name(name: &str) -> Result<(), String> {
    validate_iam_name(name, 128, "IAM policy names")
}

fn validate_iam_name(name: &str, max: usize, what: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err(format!("{what} must not be empty"));
    }
    if name.len() > max {
        return Err(format!(
            "\"{name}\" is {} characters long; {what} have at most {max}",
            name.len()
        ));
    }
    if !iam_name_chars_ok(name) {
        return Err(format!(
            "\"{name}\" has characters {what} cannot have; use letters, digits and + = , . @ _ -"
        ));
    }
    Ok(())
}

/// KMS alias names: `alias/` then letters, digits, `/_-`; never in the `alias/aws/` space.
pub fn validate_alias(alias: &str) -> Result<(), String> {
    let Some(rest) = alias.strip_prefix("alias/") else {
        return Err(format!(
            "\"{alias}\" must start with \"alias/\", for example \"alias/vault-auto-unseal\""
        ));
    };
    if rest.is_empty() {
        return Err("the alias needs a name after \"alias/\"".into());
    }
    if alias.starts_with("alias/aws/") || rest == "aws" {
        return Err(format!(
            "\"{alias}\" is in the \"alias/aws/\" space, which AWS reserves for its own keys; choose another name"
        ));
    }
    if alias.len() > 256 {
        return Err("aliases have at most 256 characters".into());
    }
    if !rest.chars().all(|c| c.is_ascii_alphanumeric() || "/_-".contains(c)) {
        return Err(format!(
            "\"{alias}\" has characters aliases cannot have; use letters, digits and / _ -"
        ));
    }
    Ok(())
}

pub fn validate_key_description(description: &str) -> Result<(), String> {
    if description.chars().count() > 8192 {
        Err("key descriptions have at most 8192 characters".into())
    } else {
        Ok(())
    }
}

/// A reference to an existing key: key id, `mrk-` id, key ARN, alias name or alias ARN.
/// An ARN in another region than the one chosen is refused here, before any call.
pub fn validate_key_reference(key: &str, region: &str) -> Result<(), String> {
    let key = key.trim();
    if key.is_empty() {
        return Err("name the key to reuse: key id, key ARN or alias".into());
    }
    if key.starts_with("alias/") {
        return validate_alias(key);
    }
    if let Some(arn) = key.strip_prefix("arn:") {
        let parts: Vec<&str> = arn.splitn(5, ':').collect();
        if parts.len() != 5 || parts[1] != "kms" {
            return Err(format!(
                "\"{key}\" is not a KMS ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)"
            ));
        }
        let arn_region = parts[2];
        if !region.is_empty() && arn_region != region {
            return Err(format!(
                "the key {key} lives in {arn_region}, but the chosen region is {region}; \
                 Vault's seal and the key must share a region: choose {arn_region} or a key in {region}"
            ));
        }
        let resource = parts[4];
        if !(resource.starts_with("key/") || resource.starts_with("alias/")) {
            return Err(format!("\"{key}\" must end in key/ID or alias/NAME"));
        }
        return Ok(());
    }
    let uuid_like = |s: &str| {
        s.len() == 36
            && s.chars()
                .enumerate()
                .all(|(i, c)| matches!(i, 8 | 13 | 18 | 23) == (c == '-') && (c == '-' || c.is_ascii_hexdigit()))
    };
    let mrk_like = |s: &str| {
        s.strip_prefix("mrk-")
            .is_some_and(|h| h.len() == 32 && h.chars().all(|c| c.is_ascii_hexdigit()))
    };
    if uuid_like(key) || mrk_like(key) {
        Ok(())
    } else {
        Err(format!(
            "\"{key}\" is not a key id (1234abcd-12ab-34cd-56ef-1234567890ab), key ARN or alias/NAME"
        ))
    }
}

pub fn validate_access_key_id(id: &str) -> Result<(), String> {
    if (16..=128).contains(&id.len()) && id.chars().all(|c| c.is_ascii_alphanumeric()) {
        Ok(())
    } else {
        Err(format!("\"{id}\" is not an access key id (AKIA…)"))
    }
}

pub fn validate_file_path(path: &Path) -> Result<(), String> {
    let text = path.as_os_str().to_string_lossy();
    if text.trim().is_empty() {
        return Err("a path is needed".into());
    }
    if text.ends_with('/') {
        return Err(format!("\"{text}\" names a folder; give a file name"));
    }
    // systemd and the server resolve paths from their own working folder, not ours.
    if !path.is_absolute() {
        return Err(format!("\"{text}\" is relative; give the full path, starting with /"));
    }
    if ["/proc", "/sys", "/dev"].iter().any(|p| path.starts_with(p)) {
        return Err(format!(
            "\"{text}\" is in a kernel file system, not on disk; choose a path such as /etc/vault.d/…"
        ));
    }
    Ok(())
}

/// A listen address: `IP:PORT`, or `localhost:PORT` (taken as 127.0.0.1).
pub fn parse_listen(listen: &str) -> Option<SocketAddr> {
    match listen.strip_prefix("localhost:") {
        Some(port) => Some(SocketAddr::from(([127, 0, 0, 1], port.parse::<u16>().ok()?))),
        None => listen.parse().ok(),
    }
}

pub fn validate_listen(listen: &str) -> Result<(), String> {
    parse_listen(listen).map(|_| ()).ok_or_else(|| {
        format!("\"{listen}\" is not an address:port, for example 127.0.0.1:8200, localhost:8200 or 0.0.0.0:8200")
    })
}

pub fn validate_node_id(node_id: &str) -> Result<(), String> {
    validate_not_blank(node_id, "the raft node id")?;
    if node_id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
        Ok(())
    } else {
        Err("use letters, digits and - _ . in the node id".into())
    }
}

pub fn validate_tls(server: &ServerAnswers) -> Result<(), String> {
    if server.tls_disable {
        return Ok(());
    }
    match (&server.tls_cert_file, &server.tls_key_file) {
        (Some(_), Some(_)) => Ok(()),
        (None, None) => Err(
            "TLS needs tls_cert_file and tls_key_file; or set tls_disable = true (plain HTTP: only for a listener on 127.0.0.1 or a test)".into(),
        ),
        _ => Err("give both tls_cert_file and tls_key_file".into()),
    }
}

/// The server's own rules for recovery shares (`sys/init` under auto-unseal).
pub fn validate_recovery(shares: u16, threshold: u16) -> Result<(), String> {
    if !(1..=255).contains(&shares) {
        return Err(format!("recovery shares must be 1 to 255, not {shares}"));
    }
    if threshold < 1 || threshold > shares {
        return Err(format!(
            "the threshold must be 1 to the number of shares ({shares}), not {threshold}"
        ));
    }
    if shares > 1 && threshold == 1 {
        return Err("with more than one share the threshold must be at least 2".into());
    }
    Ok(())
}

pub fn validate_pgp_key_count(keys: &[PathBuf], shares: u16) -> Result<(), String> {
    if keys.is_empty() || keys.len() == usize::from(shares) {
        Ok(())
    } else {
        Err(format!(
            "give one PGP key per recovery share: {} keys for {shares} shares",
            keys.len()
        ))
    }
}

pub fn validate_timing(t: &TimingAnswers) -> Result<(), String> {
    if t.required_successes == 0 {
        return Err("required_successes must be at least 1".into());
    }
    if t.poll_interval_ms == 0 || t.attempt_timeout_secs == 0 || t.operation_timeout_secs == 0 {
        return Err("timeouts and intervals must be above zero".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> Answers {
        Answers {
            region: "eu-west-1".into(),
            server: ServerAnswers {
                tls_disable: true,
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn defaults_with_a_region_and_tls_choice_are_valid() {
        assert_eq!(valid().validate(), vec![]);
    }

    #[test]
    fn unknown_keys_are_refused_with_their_name() {
        let err = Answers::parse("region = \"eu-west-1\"\n[kms]\naliass = \"alias/x\"\n").unwrap_err();
        assert!(err.contains("aliass"), "{err}");
    }

    #[test]
    fn every_unknown_key_is_reported_at_once_with_its_line() {
        let text = "regoin = \"eu-west-1\"\n[kms]\naliass = \"alias/x\"\nrotation = true\n\
                    [bogus]\nuser_name = \"x\"\nmore = 1\n[server]\nlisten = \"127.0.0.1:8200\"\nlisen = \"x\"\n";
        let err = Answers::parse(text).unwrap_err();
        assert!(err.starts_with("4 unknown key(s)"), "{err}");
        for expected in [
            "line 1: unknown field `regoin`",
            "line 3: unknown field `aliass`, expected one of",
            "line 5: unknown field `bogus`",
            "line 10: unknown field `lisen`",
        ] {
            assert!(err.contains(expected), "{expected}: {err}");
        }
        // The keys of the unknown table are not taken for [kms]'s.
        assert!(!err.contains("user_name`,") && !err.contains("`more`"), "{err}");
    }

    #[test]
    fn example_file_parses_and_is_valid() {
        let text = include_str!("../assets/answers.example.toml");
        let answers = Answers::parse(text).unwrap();
        assert_eq!(answers.validate(), vec![]);
    }

    #[test]
    fn round_trips_through_toml() {
        let a = valid();
        assert_eq!(Answers::parse(&a.to_toml()).unwrap(), a);
    }

    #[test]
    fn region_errors_suggest_neighbours() {
        let e = validate_region("eu-wset-1").unwrap_err();
        assert!(e.contains("eu-west-1"), "{e}");
        assert!(validate_region("").is_err());
        assert!(validate_region("us-east-1").is_ok());
    }

    #[test]
    fn iam_names() {
        assert!(validate_iam_user_name("vault-auto-unseal").is_ok());
        assert!(validate_iam_user_name("a+b=c,d.e@f_g-h").is_ok());
        assert!(validate_iam_user_name("").is_err());
        assert!(validate_iam_user_name("has space").unwrap_err().contains("characters"));
        assert!(
            validate_iam_user_name(&"a".repeat(65))
                .unwrap_err()
                .contains("at most 64")
        );
        assert!(validate_iam_policy_name(&"a".repeat(128)).is_ok());
        assert!(validate_iam_policy_name(&"a".repeat(129)).is_err());
        assert!(validate_iam_policy_name("kms/policy").is_err());
    }

    #[test]
    fn aliases() {
        assert!(validate_alias("alias/vault-auto-unseal").is_ok());
        assert!(
            validate_alias("vault")
                .unwrap_err()
                .contains("must start with \"alias/\"")
        );
        assert!(validate_alias("alias/aws/ebs").unwrap_err().contains("reserves"));
        assert!(validate_alias("alias/").is_err());
        assert!(validate_alias("alias/with space").is_err());
    }

    #[test]
    fn key_references() {
        let r = "us-east-1";
        assert!(validate_key_reference("1234abcd-12ab-34cd-56ef-1234567890ab", r).is_ok());
        assert!(validate_key_reference("mrk-1234abcd12ab34cd56ef1234567890ab", r).is_ok());
        assert!(validate_key_reference("alias/x", r).is_ok());
        assert!(
            validate_key_reference(
                "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
                r
            )
            .is_ok()
        );
        let other = validate_key_reference(
            "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            r,
        )
        .unwrap_err();
        assert!(other.contains("lives in eu-west-1"), "{other}");
        assert!(validate_key_reference("not-a-key", r).is_err());
        assert!(validate_key_reference("arn:aws:s3:::bucket", r).is_err());
    }

    #[test]
    fn recovery_rules_match_the_server() {
        assert!(validate_recovery(1, 1).is_ok());
        assert!(validate_recovery(5, 3).is_ok());
        assert!(validate_recovery(255, 255).is_ok());
        assert!(validate_recovery(0, 0).is_err());
        assert!(validate_recovery(256, 3).is_err());
        assert!(validate_recovery(3, 4).is_err());
        assert!(validate_recovery(3, 1).unwrap_err().contains("at least 2"));
    }

    #[test]
    fn reuse_without_key_id_names_the_field() {
        let mut a = valid();
        a.kms.create = false;
        let errors = a.validate();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "kms.key_id");
    }

    #[test]
    fn tls_must_be_chosen() {
        let mut a = valid();
        a.server.tls_disable = false;
        assert_eq!(a.validate()[0].field, "server.tls_cert_file");
        a.server.tls_cert_file = Some("/c.pem".into());
        a.server.tls_key_file = Some("/k.pem".into());
        assert_eq!(a.validate(), vec![]);
    }

    #[test]
    fn listen_addresses_and_paths() {
        assert!(validate_listen("localhost:8200").is_ok());
        assert_eq!(
            parse_listen("localhost:8200"),
            Some(SocketAddr::from(([127, 0, 0, 1], 8200)))
        );
        assert!(validate_listen("localhost").is_err());
        assert!(validate_listen("example.com:8200").is_err());
        let relative = validate_file_path(Path::new("vault.hcl")).unwrap_err();
        assert!(relative.contains("relative"), "{relative}");
        assert!(validate_file_path(Path::new("/proc/self/vault.hcl")).is_err());
        assert!(validate_file_path(Path::new("/etc/vault.d/vault.hcl")).is_ok());
    }

    #[test]
    fn plain_http_beyond_loopback_is_warned_about() {
        let mut a = valid();
        assert_eq!(a.plain_http_warning(), None);
        a.server.listen = "0.0.0.0:8200".into();
        assert!(a.plain_http_warning().unwrap().contains("in clear"));
        a.server.tls_disable = false;
        assert_eq!(a.plain_http_warning(), None);
    }

    #[test]
    fn every_output_needs_a_path_of_its_own_outside_the_storage() {
        let mut a = valid();
        a.output.credentials_csv = Some(a.output.env_file.clone());
        assert_eq!(a.validate()[0].field, "output.credentials_csv");
        let mut a = valid();
        a.output.env_file = "/opt/vault/data/vault.env".into();
        let errors = a.validate();
        assert_eq!(errors[0].field, "output.env_file");
        assert!(errors[0].message.contains("inside server.storage_path"));
    }

    #[test]
    fn a_cluster_is_odd_local_and_names_its_peers_fully() {
        let mut a = valid();
        a.cluster.nodes = 3;
        assert_eq!(a.validate()[0].field, "cluster.nodes", "launch systemd runs one server");
        a.server.launch = Launch::Background;
        assert_eq!(a.validate(), vec![]);
        assert_eq!(a.cluster.even_warning(), None);
        a.cluster.nodes = 4;
        assert!(
            a.cluster
                .even_warning()
                .unwrap()
                .contains("survive the loss of 1 as 3 do")
        );
        a.cluster.nodes = 10;
        assert!(a.validate()[0].message.contains("1 (a single server) to 9"));
        a.cluster.nodes = 1;
        a.cluster.peers = vec!["10.0.0.12:8200".into()];
        assert_eq!(a.validate()[0].field, "cluster.peers");
        a.cluster.peers = vec!["https://10.0.0.12:8200".into()];
        assert_eq!(a.validate(), vec![]);
        assert!(a.cluster.is_cluster());
        // A single server's saved answers have no [cluster] section.
        assert!(!valid().to_toml().contains("[cluster]"));
        assert_eq!(Answers::parse(&a.to_toml()).unwrap(), a);
    }

    #[test]
    fn the_shared_file_is_beside_the_env_file_unless_given_and_never_on_another_output() {
        let mut a = valid();
        a.output.credentials = CredentialsStyle::SharedFile;
        assert_eq!(a.validate(), vec![]);
        assert_eq!(
            a.output.shared_credentials_path(),
            Path::new("/etc/vault.d/aws-credentials")
        );
        a.output.env_file = "/etc/openbao/openbao.env".into();
        assert_eq!(
            a.output.shared_credentials_path(),
            Path::new("/etc/openbao/aws-credentials")
        );
        a.output.shared_credentials_file = Some(a.output.env_file.clone());
        let errors = a.validate();
        assert_eq!(errors[0].field, "output.shared_credentials_file");
        assert!(errors[0].message.contains("output.env_file"), "{}", errors[0].message);
        a.output.shared_credentials_file = Some("aws-credentials".into());
        assert!(a.validate()[0].message.contains("relative"));
        let files = a.output.key_files();
        assert_eq!(files.shared.unwrap().profile, DEFAULT_CREDENTIALS_PROFILE);
    }

    #[test]
    fn profile_names() {
        assert!(validate_profile_name("vault-auto-unseal").is_ok());
        assert!(validate_profile_name("a.b_c").is_ok());
        assert!(validate_profile_name("").unwrap_err().contains("name the profile"));
        assert!(validate_profile_name("has space").is_err());
        assert!(validate_profile_name("x]\naws_access_key_id").is_err());
        let mut a = valid();
        a.output.credentials_profile = "bad name".into();
        assert_eq!(a.validate(), vec![], "the profile matters only with the shared file");
        a.output.credentials = CredentialsStyle::SharedFile;
        assert_eq!(a.validate()[0].field, "output.credentials_profile");
    }

    #[test]
    fn the_style_reads_and_round_trips() {
        let a = Answers::parse("[output]\ncredentials = \"shared-file\"\ncredentials_profile = \"p\"\n").unwrap();
        assert_eq!(a.output.credentials, CredentialsStyle::SharedFile);
        assert_eq!(Answers::parse(&a.to_toml()).unwrap(), a);
        let err = Answers::parse("[output]\ncredentials = \"file\"\n").unwrap_err();
        assert!(err.contains("shared-file"), "{err}");
        assert!(
            !valid().to_toml().contains("credentials ="),
            "the default style is not written out"
        );
    }

    #[test]
    fn all_errors_reported_together() {
        let a = Answers {
            region: "nowhere".into(),
            iam: IamAnswers {
                user_name: "bad name".into(),
                ..Default::default()
            },
            ..valid()
        };
        let fields: Vec<_> = a.validate().iter().map(|e| e.field).collect();
        assert_eq!(fields, vec!["region", "iam.user_name"]);
    }
}
