//! What the wizard's tests feed it in place of the runtime's background answers.

use autounseal::answers::Answers;
use autounseal::cluster::{ClusterFile, ClusterNode};
use autounseal::tui::msg::Msg;
use autounseal::tui::screens::server::HostReport;
use autounseal::vault::discover::{Host, Systemd};

/// Discovery's answer for `asked`: no binary, no unit, no server; `systemd` as given,
/// the cluster file as read (none when `asked` joins no cluster), and its lines.
pub fn host_found(
    asked: Answers,
    systemd: Systemd,
    cluster_file: Option<Result<ClusterFile, String>>,
    lines: Vec<String>,
) -> Msg {
    Msg::HostFound(Box::new(HostReport {
        filled: asked.clone(),
        asked,
        host: Host {
            binaries: vec![],
            chosen: None,
            systemd,
            unit: None,
            server: None,
            cluster_file,
            listener: None,
            storage_has_data: false,
            storage: None,
        },
        lines,
    }))
}

/// A cluster file as the first node's apply writes it: one node, `autounseal-1` at
/// `first`, its key in `region`.
pub fn cluster_file(first: &str, region: &str) -> ClusterFile {
    ClusterFile {
        flavour: "bao".into(),
        region: region.into(),
        endpoint_url: None,
        kms_key_arn: format!("arn:aws:kms:{region}:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"),
        policy_arn: "arn:aws:iam::123456789012:policy/vault-auto-unseal-kms".into(),
        policy_name: "vault-auto-unseal-kms".into(),
        user_prefix: "vault-auto-unseal".into(),
        tls: false,
        ca_cert: None,
        nodes: vec![ClusterNode {
            node_id: Some("autounseal-1".into()),
            api_addr: first.into(),
        }],
    }
}

/// A server's seal status as `sys/seal-status` answers: initialised, unsealed, this seal,
/// threshold `t`.
pub fn seal_status(seal_type: &str, t: u16) -> autounseal::vault::client::SealStatus {
    autounseal::vault::client::SealStatus {
        seal_type: seal_type.into(),
        initialized: true,
        sealed: false,
        recovery_seal: seal_type != "shamir",
        version: "2.6.2".into(),
        migration: false,
        t,
        progress: 0,
    }
}

/// A single server's status, as the Status screen receives it.
pub fn one_node(status: autounseal::doctor::status::Status) -> Vec<autounseal::ops::check::NodeStatus> {
    vec![autounseal::ops::check::NodeStatus {
        node: "autounseal-1".into(),
        role: None,
        state_dir: std::path::PathBuf::from("/state"),
        status,
    }]
}
