//! The one model of the operator's choices: here the model and its defaults; in
//! `validate` every check of an answer, in `session` the answers file and the wizard's
//! kept session, in `cluster_file` the file a cluster's other hosts join with.
//!
//! The answers file (`apply`, `plan`), the wizard's screens and the line prompts all
//! fill this same struct and check it with the same validators, so a value that one
//! front end accepts is never refused by another.

mod cluster_file;
mod session;
mod validate;

pub use cluster_file::{ClusterFile, ClusterNode};
pub use session::SESSION_FILE;
pub use validate::*;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::credentials_file::{KeyFiles, SharedFile};

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
pub const DEFAULT_NODE_ID: &str = "autounseal-1";

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
    /// Other regions that hold a replica of the key (a multi-region key), so that the
    /// data can come back there if this region's key is lost or out of reach.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub replica_regions: Vec<String>,
    /// An alarm on the key: the address an SNS topic (one per region of the key and its
    /// replicas) mails when KMS records a call that would lose the key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alarm_email: Option<String>,
    /// Or an existing SNS topic of the key's region for that alarm (a key without
    /// replicas: a topic serves the rules of its own region only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alarm_topic_arn: Option<String>,
}

impl KmsAnswers {
    /// Whether an alarm on the key is asked for.
    pub fn alarm(&self) -> bool {
        self.alarm_email.is_some() || self.alarm_topic_arn.is_some()
    }
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
    /// OpenBao 2.7 and later: the awskms KMS plugin binary the operator downloaded
    /// (`openbao-plugin-kms-aws`), installed into `plugin_directory` and declared.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_plugin: Option<PathBuf>,
    /// The plugin's SHA-256 as its release lists it: the download must match it.
    /// With `kms_plugin_image`, the checksum OpenBao checks the extracted binary against.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_plugin_sha256: Option<String>,
    /// Or the plugin's OCI image (`ghcr.io/openbao/openbao-plugin-kms-aws`), fetched with
    /// `bao plugin init` before anything is created, then installed like a download.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_plugin_image: Option<String>,
    /// The image's tag (`v0.1.0`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_plugin_version: Option<String>,
    /// The server's plugin folder. Unset: the one the operator's config names, else
    /// `plugins` beside the storage folder.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plugin_directory: Option<PathBuf>,
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
            replica_regions: Vec::new(),
            alarm_email: None,
            alarm_topic_arn: None,
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
            node_id: DEFAULT_NODE_ID.into(),
            tls_disable: false,
            tls_cert_file: None,
            tls_key_file: None,
            ca_cert: None,
            systemd_unit: None,
            user: None,
            group: None,
            kms_plugin: None,
            kms_plugin_sha256: None,
            kms_plugin_image: None,
            kms_plugin_version: None,
            plugin_directory: None,
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
            poll_interval_ms: 500,
            required_successes: 3,
            operation_timeout_secs: 60,
            attempt_timeout_secs: 20,
            connect_timeout_secs: 5,
            server_start_timeout_secs: 60,
        }
    }
}

#[cfg(test)]
mod tests;
