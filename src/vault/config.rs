//! Vault's config file, generated with a real HCL library (values are escaped and the
//! file parses back), and the systemd drop-in that loads the env file.

use std::path::Path;

use hcl::{Block, Body};

use crate::answers::Answers;
use crate::vault::server::Flavour;

/// The first words of every config autounseal writes.
const WRITTEN_BY: &str = "# Written by autounseal.";

/// The address clients use: a wildcard listener is reached on loopback.
pub fn client_host(listen: &str) -> (String, u16) {
    let addr = crate::answers::parse_listen(listen).expect("listen was validated");
    let host = if addr.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        match addr.ip() {
            std::net::IpAddr::V6(ip) => format!("[{ip}]"),
            ip => ip.to_string(),
        }
    };
    (host, addr.port())
}

pub fn scheme(answers: &Answers) -> &'static str {
    if answers.server.tls_disable { "http" } else { "https" }
}

/// `http(s)://host:port` of the server's API.
pub fn api_addr(answers: &Answers) -> String {
    let (host, port) = client_host(&answers.server.listen);
    format!("{}://{host}:{port}", scheme(answers))
}

/// The cluster port is the API port plus one, as Vault's own examples use.
fn cluster_addr(answers: &Answers) -> String {
    let (host, port) = client_host(&answers.server.listen);
    format!("https://{host}:{}", port + 1)
}

/// The config text. `kms_key_id` is the key's id or ARN; credentials are not in it:
/// the server reads them from its environment (the env file).
pub fn render(answers: &Answers, kms_key_id: &str, flavour: Flavour) -> String {
    let mut seal = Block::builder("seal")
        .add_label("awskms")
        .add_attribute(("region", answers.region.clone()))
        .add_attribute(("kms_key_id", kms_key_id.to_string()));
    if let Some(endpoint) = &answers.endpoint_url {
        seal = seal.add_attribute(("endpoint", endpoint.clone()));
    }
    let storage = Block::builder("storage")
        .add_label("raft")
        .add_attribute(("path", answers.server.storage_path.to_string_lossy().into_owned()))
        .add_attribute(("node_id", answers.server.node_id.clone()))
        .build();
    let mut listener = Block::builder("listener")
        .add_label("tcp")
        .add_attribute(("address", answers.server.listen.clone()));
    if answers.server.tls_disable {
        listener = listener.add_attribute(("tls_disable", true));
    } else {
        let path =
            |p: &Option<std::path::PathBuf>| p.as_deref().map(Path::to_string_lossy).unwrap_or_default().into_owned();
        listener = listener
            .add_attribute(("tls_cert_file", path(&answers.server.tls_cert_file)))
            .add_attribute(("tls_key_file", path(&answers.server.tls_key_file)));
    }
    let mut body = Body::builder()
        .add_block(storage)
        .add_block(listener.build())
        .add_block(seal.build())
        .add_attribute(("api_addr", api_addr(answers)))
        .add_attribute(("cluster_addr", cluster_addr(answers)))
        .add_attribute(("ui", true));
    // Integrated storage wants mlock off; OpenBao has no mlock and warns about the key.
    if flavour == Flavour::Vault {
        body = body.add_attribute(("disable_mlock", true));
    }
    let text = hcl::to_string(&body.build()).expect("an HCL body always formats");
    format!("{WRITTEN_BY} Credentials for the awskms seal come from the env file, not from here.\n{text}")
}

/// Whether `config` is a file autounseal wrote whose raft storage is `storage`: then the
/// data there is this setup's own, also when the manifest was lost and is being rebuilt.
pub fn written_by_us_for(config: &Path, storage: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(config) else {
        return false;
    };
    if !text.starts_with(WRITTEN_BY) {
        return false;
    }
    let parsed: Result<serde_json::Value, _> = hcl::from_str(&text);
    parsed.is_ok_and(|v| v["storage"]["raft"]["path"].as_str() == Some(&*storage.to_string_lossy()))
}

/// The systemd drop-in that hands the env file to the server.
pub fn systemd_drop_in(env_file: &Path) -> String {
    format!(
        "# Written by autounseal: AWS credentials for the awskms seal.\n[Service]\nEnvironmentFile={}\n",
        env_file.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn answers() -> Answers {
        let mut a = Answers {
            region: "eu-west-1".into(),
            ..Default::default()
        };
        a.server.tls_disable = true;
        a
    }

    fn parse(text: &str) -> Value {
        hcl::from_str(text).unwrap()
    }

    #[test]
    fn the_seal_stanza_has_region_and_key_and_no_credentials() {
        let text = render(&answers(), "arn:aws:kms:eu-west-1:1:key/k", Flavour::OpenBao);
        let v = parse(&text);
        let seal = &v["seal"]["awskms"];
        assert_eq!(seal["region"], "eu-west-1");
        assert_eq!(seal["kms_key_id"], "arn:aws:kms:eu-west-1:1:key/k");
        assert!(seal.get("endpoint").is_none());
        for secret_key in ["access_key", "secret_key"] {
            assert!(seal.get(secret_key).is_none());
        }
        assert_eq!(v["storage"]["raft"]["path"], "/opt/vault/data");
        assert_eq!(v["storage"]["raft"]["node_id"], "autounseal-1");
        assert_eq!(v["listener"]["tcp"]["address"], "127.0.0.1:8200");
        assert_eq!(v["listener"]["tcp"]["tls_disable"], true);
        assert_eq!(v["api_addr"], "http://127.0.0.1:8200");
        assert_eq!(v["cluster_addr"], "https://127.0.0.1:8201");
        assert_eq!(v["ui"], true);
        assert!(v.get("disable_mlock").is_none(), "OpenBao does not know disable_mlock");
    }

    #[test]
    fn endpoint_only_with_an_override_and_tls_files_when_given() {
        let mut a = answers();
        a.endpoint_url = Some("http://127.0.0.1:5000".into());
        a.server.tls_disable = false;
        a.server.tls_cert_file = Some("/etc/vault.d/tls/my \"cert\".pem".into());
        a.server.tls_key_file = Some("/etc/vault.d/tls/key.pem".into());
        a.server.listen = "0.0.0.0:8200".into();
        let v = parse(&render(&a, "k", Flavour::Vault));
        assert_eq!(v["seal"]["awskms"]["endpoint"], "http://127.0.0.1:5000");
        // Quotes in a path are escaped, not injected.
        assert_eq!(
            v["listener"]["tcp"]["tls_cert_file"],
            "/etc/vault.d/tls/my \"cert\".pem"
        );
        assert!(v["listener"]["tcp"].get("tls_disable").is_none());
        assert_eq!(v["api_addr"], "https://127.0.0.1:8200");
        assert_eq!(v["disable_mlock"], true);
    }

    #[test]
    fn a_config_we_wrote_claims_its_storage() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("vault.hcl");
        let a = answers();
        std::fs::write(&config, render(&a, "k", Flavour::OpenBao)).unwrap();
        assert!(written_by_us_for(&config, &a.server.storage_path));
        assert!(!written_by_us_for(&config, Path::new("/elsewhere")));
        std::fs::write(&config, "storage \"raft\" { path = \"/opt/vault/data\" }\n").unwrap();
        assert!(
            !written_by_us_for(&config, &a.server.storage_path),
            "not ours: no header"
        );
    }

    #[test]
    fn drop_in_points_at_the_env_file() {
        let text = systemd_drop_in(Path::new("/etc/vault.d/vault.env"));
        assert!(text.contains("[Service]\nEnvironmentFile=/etc/vault.d/vault.env\n"));
    }
}
