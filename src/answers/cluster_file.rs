//! The cluster file `apply` of a cluster writes and `join` reads.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

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
