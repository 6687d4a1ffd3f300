//! Every check of an answer, each on its own (the wizard's fields and the line prompts
//! call them as an answer is given) and all at once ([`Answers::validate`]).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use super::*;
use crate::regions;

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
        check(
            "kms.replica_regions",
            validate_replica_regions(&self.kms.replica_regions, &self.region),
        );
        if let Some(email) = &self.kms.alarm_email {
            check("kms.alarm_email", validate_email(email));
        }
        check("kms.alarm_topic_arn", validate_alarm_topic(&self.kms, &self.region));
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
        for (field, result) in validate_kms_plugin(&self.server) {
            check(field, result);
        }
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
}

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

/// The regions a multi-region key is replicated to: known KMS regions, each once, none
/// the key's own region, all in its partition (a key cannot be replicated across one).
pub fn validate_replica_regions(replicas: &[String], region: &str) -> Result<(), String> {
    for (i, replica) in replicas.iter().enumerate() {
        validate_region(replica).map_err(|e| format!("replica region {e}"))?;
        if replica == region {
            return Err(format!(
                "{replica} is the key's own region; a replica goes to another region, for example {}",
                regions::KMS_REGIONS
                    .iter()
                    .map(|(c, _)| *c)
                    .find(|c| *c != region && regions::partition(c) == regions::partition(region))
                    .unwrap_or("us-west-2")
            ));
        }
        if replicas[..i].contains(replica) {
            return Err(format!("{replica} is named twice"));
        }
        if regions::partition(replica) != regions::partition(region) {
            return Err(format!(
                "{replica} is in the partition {}, the key's region {region} in {}: KMS replicates a key only \
                 within its partition",
                regions::partition(replica),
                regions::partition(region)
            ));
        }
    }
    Ok(())
}

/// An address SNS can mail: one `@`, something on each side, no space.
pub fn validate_email(email: &str) -> Result<(), String> {
    let shaped = match email.split_once('@') {
        Some((user, domain)) => {
            !user.is_empty() && domain.contains('.') && !domain.contains('@') && !email.contains(char::is_whitespace)
        }
        None => false,
    };
    if shaped {
        Ok(())
    } else {
        Err(format!(
            "\"{email}\" is not an e-mail address (ops@example.com): the alarm's topic mails it"
        ))
    }
}

/// An existing topic for the alarm: an SNS topic ARN of the key's region, instead of an
/// address, for a key without replicas.
pub fn validate_alarm_topic(kms: &crate::answers::KmsAnswers, region: &str) -> Result<(), String> {
    let Some(arn) = &kms.alarm_topic_arn else {
        return Ok(());
    };
    if kms.alarm_email.is_some() {
        return Err(
            "give kms.alarm_email (a topic is made for it) or kms.alarm_topic_arn (yours is used), not both".into(),
        );
    }
    let parts: Vec<&str> = arn.split(':').collect();
    if parts.len() != 6 || parts[0] != "arn" || parts[2] != "sns" || parts[5].is_empty() {
        return Err(format!(
            "\"{arn}\" is not an SNS topic ARN (arn:aws:sns:{region}:ACCOUNT:NAME)"
        ));
    }
    if parts[3] != region {
        return Err(format!(
            "the topic {arn} is in {}, the key in {region}: EventBridge sends to a topic of the rule's own region. \
             Give a topic of {region}, or kms.alarm_email to have one made",
            parts[3]
        ));
    }
    if !kms.replica_regions.is_empty() {
        return Err(format!(
            "with replicas, each region needs its own topic, and {arn} serves {region} only: give \
             kms.alarm_email instead (a topic is made in each region, all mailing it)"
        ));
    }
    Ok(())
}

/// The replica regions as typed on one line: separated by commas or spaces.
pub fn parse_replica_regions(text: &str) -> Vec<String> {
    text.split([',', ' '])
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(String::from)
        .collect()
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

/// The KMS plugin's answers: a file or an OCI image (with its tag and checksum), not
/// both; paths absolute; a checksum of 64 hex digits. Whether the server needs one, and
/// the file itself, are checked with the server binary before AWS (`vault::plugin`).
pub fn validate_kms_plugin(server: &ServerAnswers) -> Vec<(&'static str, Result<(), String>)> {
    let mut out = Vec::new();
    if let Some(path) = &server.kms_plugin {
        out.push(("server.kms_plugin", validate_file_path(path)));
    }
    if let Some(dir) = &server.plugin_directory {
        out.push(("server.plugin_directory", validate_file_path(dir)));
    }
    if let Some(sum) = &server.kms_plugin_sha256 {
        out.push(("server.kms_plugin_sha256", validate_sha256(sum)));
    }
    if server.kms_plugin_image.is_some() {
        if server.kms_plugin.is_some() {
            out.push((
                "server.kms_plugin_image",
                Err("give the plugin as a file (kms_plugin) or as an OCI image (kms_plugin_image), not both".into()),
            ));
        }
        if server.kms_plugin_version.as_deref().is_none_or(|v| v.trim().is_empty()) {
            out.push((
                "server.kms_plugin_version",
                Err("an OCI image needs its tag, as kms_plugin_version (for example \"v0.1.0\")".into()),
            ));
        }
        if server.kms_plugin_sha256.is_none() {
            out.push((
                "server.kms_plugin_sha256",
                Err(
                    "an OCI image needs the SHA-256 of the plugin binary in it, as its release lists it: OpenBao \
                     checks the extracted file against it"
                        .into(),
                ),
            ));
        }
    } else if server.kms_plugin_version.is_some() {
        out.push((
            "server.kms_plugin_version",
            Err("kms_plugin_version is the tag of kms_plugin_image, which is not given".into()),
        ));
    }
    if server.kms_plugin_sha256.is_some() && server.kms_plugin.is_none() && server.kms_plugin_image.is_none() {
        out.push((
            "server.kms_plugin_sha256",
            Err("kms_plugin_sha256 checks the plugin given as kms_plugin (or kms_plugin_image), and neither is".into()),
        ));
    }
    out
}

/// A SHA-256 as an answer may give it: 64 hex digits (a `sha256:` prefix allowed).
pub fn validate_sha256(text: &str) -> Result<(), String> {
    let hex = text.trim().trim_start_matches("sha256:");
    if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err("a SHA-256 is 64 hexadecimal digits (as `sha256sum` prints it)".into())
    }
}
