//! The few HTTP calls autounseal makes to the server: seal status, init status, init,
//! and the unseal keys of a seal migration.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use crate::vault::VaultError;
use crate::vault::recovery::InitSecrets;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SealStatus {
    #[serde(rename = "type")]
    pub seal_type: String,
    pub initialized: bool,
    pub sealed: bool,
    #[serde(default)]
    pub recovery_seal: bool,
    #[serde(default)]
    pub version: String,
    /// A seal migration waits for the old seal's keys (`Seal Migration in Progress`).
    #[serde(default)]
    pub migration: bool,
    /// The threshold of keys an unseal (or a migration) needs, and how many it has.
    #[serde(default)]
    pub t: u16,
    #[serde(default)]
    pub progress: u16,
}

impl SealStatus {
    /// Initialised with Shamir's keys, the seal a migration starts from.
    pub fn is_shamir(&self) -> bool {
        self.initialized && self.seal_type == "shamir"
    }
}

/// `GET /v1/sys/leader`: whether this node is the active one of its cluster.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct LeaderStatus {
    #[serde(default)]
    pub ha_enabled: bool,
    #[serde(default)]
    pub is_self: bool,
    #[serde(default)]
    pub leader_address: String,
}

/// One server of the raft peer set (`sys/storage/raft/configuration`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RaftServer {
    pub node_id: String,
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub leader: bool,
    #[serde(default)]
    pub voter: bool,
}

/// `PUT /v1/sys/init` under auto-unseal: recovery shares only. `secret_shares` is
/// never sent (servers since Vault 1.12 reject it with a seal like awskms).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InitRequest {
    pub recovery_shares: u16,
    pub recovery_threshold: u16,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub recovery_pgp_keys: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub root_token_pgp_key: Option<String>,
}

/// Room for an init answer read in one go: five 64-character keys in two encodings and
/// a token take about 1 KiB; PGP-encrypted ones several KiB each.
const INIT_BODY_CAPACITY: usize = 64 * 1024;

#[derive(Clone)]
pub struct VaultClient {
    http: reqwest::Client,
    ca_cert: Option<PathBuf>,
    pub address: String,
}

/// Never through a proxy: the server is ours, usually on loopback.
/// A token as a header value marked sensitive: reqwest and hyper leave it out of their
/// debug output and logs.
fn sensitive(token: &str) -> Result<reqwest::header::HeaderValue, VaultError> {
    let mut value = reqwest::header::HeaderValue::from_str(token)
        .map_err(|_| VaultError::Io("the token holds characters a header cannot carry".into()))?;
    value.set_sensitive(true);
    Ok(value)
}

fn http_client(ca_cert: Option<&Path>, pooled: bool) -> Result<reqwest::Client, VaultError> {
    let mut builder = trusting(ca_cert)?.timeout(Duration::from_secs(30));
    if !pooled {
        // No idle connection kept: its read buffer, which held the answer, goes with it.
        builder = builder.pool_max_idle_per_host(0);
    }
    builder
        .build()
        .map_err(|e| VaultError::Io(format!("cannot set up HTTPS: {e}")))
}

/// A client that never goes through a proxy, connects within 5 s and trusts `ca_cert`
/// (else the system's roots).
fn trusting(ca_cert: Option<&Path>) -> Result<reqwest::ClientBuilder, VaultError> {
    let mut builder = reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(Duration::from_secs(5));
    if let Some(path) = ca_cert {
        let pem = std::fs::read(path)
            .map_err(|e| VaultError::Io(format!("cannot read the CA bundle {}: {e}", path.display())))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| VaultError::Io(format!("{} is not a PEM CA bundle: {e}", path.display())))?;
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    Ok(builder)
}

/// A successful answer's JSON, or an error that says it could not be read (never quoting it).
fn parsed<T: serde::de::DeserializeOwned>(text: &str, what: impl FnOnce() -> String) -> Result<T, VaultError> {
    serde_json::from_str(text).map_err(|e| VaultError::Http {
        what: what(),
        status: 200,
        body: format!("an answer autounseal cannot read ({e})"),
    })
}

/// For a snapshot's transfer: at most [`BULK_LIMIT`] in all (a large store takes a while
/// to send, and to restore before the answer comes), and no read of the answer may stall
/// for `stall` (reqwest's read timeout also runs from the send until the answer's first
/// bytes: only the answer's reading is bounded by it, so it is set for downloads only).
fn bulk_client(ca_cert: Option<&Path>, stall: Option<Duration>) -> Result<reqwest::Client, VaultError> {
    let mut builder = trusting(ca_cert)?.timeout(BULK_LIMIT);
    if let Some(stall) = stall {
        builder = builder.read_timeout(stall);
    }
    builder
        .build()
        .map_err(|e| VaultError::Io(format!("cannot set up HTTPS: {e}")))
}

/// The longest a snapshot's transfer (and a restore) may take.
const BULK_LIMIT: Duration = Duration::from_secs(30 * 60);

/// Appends to a zeroizing buffer without ever leaving a copy behind: when it must grow,
/// the new buffer is allocated first and the old one is wiped as it is dropped.
fn append_wiping(buf: &mut Zeroizing<Vec<u8>>, data: &[u8]) {
    if buf.len() + data.len() > buf.capacity() {
        let mut grown = Zeroizing::new(Vec::with_capacity((buf.len() + data.len()).max(2 * buf.capacity())));
        grown.extend_from_slice(buf);
        *buf = grown;
    }
    buf.extend_from_slice(data);
}

impl VaultClient {
    pub fn new(address: &str, ca_cert: Option<&Path>) -> Result<VaultClient, VaultError> {
        Ok(VaultClient {
            http: http_client(ca_cert, true)?,
            ca_cert: ca_cert.map(Path::to_path_buf),
            address: address.trim_end_matches('/').to_string(),
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}/v1/{path}", self.address)
    }

    fn unreachable(&self, e: reqwest::Error) -> VaultError {
        let mut detail = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            detail = s.to_string();
            source = s.source();
        }
        VaultError::Unreachable {
            address: self.address.clone(),
            detail,
        }
    }

    /// The text of an answer that must be a success; else the server's refusal, in words,
    /// naming `what` was asked (`GET /v1/sys/init`).
    async fn success_text(&self, resp: reqwest::Response, what: impl FnOnce() -> String) -> Result<String, VaultError> {
        let status = resp.status();
        let text = resp.text().await.map_err(|e| self.unreachable(e))?;
        if !status.is_success() {
            return Err(VaultError::Http {
                what: what(),
                status: status.as_u16(),
                body: in_words(&text),
            });
        }
        Ok(text)
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, VaultError> {
        let resp = self
            .http
            .get(self.url(path))
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        let body = self.success_text(resp, || format!("GET /v1/{path}")).await?;
        parsed(&body, || format!("GET /v1/{path}"))
    }

    pub async fn seal_status(&self) -> Result<SealStatus, VaultError> {
        self.get_json("sys/seal-status").await
    }

    pub async fn leader(&self) -> Result<LeaderStatus, VaultError> {
        self.get_json("sys/leader").await
    }

    /// Submits one unseal (or, with `migrate`, seal-migration) key. The body is built in
    /// a zeroizing buffer that the request owns and wipes when sent; the connection is
    /// not kept, so its write buffer goes with it.
    pub async fn unseal(&self, key: &str, migrate: bool) -> Result<SealStatus, VaultError> {
        let mut body = Zeroizing::new(Vec::with_capacity(key.len() + 64));
        // Borrowed, never copied into a `serde_json::Value` (which would not be wiped).
        #[derive(Serialize)]
        struct UnsealRequest<'k> {
            key: &'k str,
            migrate: bool,
        }
        serde_json::to_writer(&mut *body, &UnsealRequest { key, migrate }).expect("a JSON object always serialises");
        let one_shot = http_client(self.ca_cert.as_deref(), false)?;
        let what = if migrate {
            "PUT /v1/sys/unseal (migrate)"
        } else {
            "PUT /v1/sys/unseal"
        };
        let resp = one_shot
            .put(self.url("sys/unseal"))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(bytes::Bytes::from_owner(body))
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        let status = resp.status();
        // The answer is a seal status or an error; neither quotes the key.
        let text = resp.text().await.map_err(|e| self.unreachable(e))?;
        if !status.is_success() {
            return Err(VaultError::Http {
                what: what.into(),
                status: status.as_u16(),
                body: in_words(&text),
            });
        }
        serde_json::from_str(&text).map_err(|e| VaultError::Http {
            what: what.into(),
            status: status.as_u16(),
            body: format!("an answer autounseal cannot read ({e})"),
        })
    }

    /// A call with a token (the operator's, for the raft endpoints): the token goes in
    /// the header only, never in an error.
    async fn with_token(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<serde_json::Value>,
    ) -> Result<String, VaultError> {
        let mut req = self
            .http
            .request(method.clone(), self.url(path))
            .header("X-Vault-Token", sensitive(token)?);
        if let Some(body) = &body {
            req = req.json(body);
        }
        let resp = req.send().await.map_err(|e| self.unreachable(e))?;
        self.success_text(resp, || format!("{method} /v1/{path}")).await
    }

    /// `GET /v1/sys/storage/raft/configuration`: the raft peer set as the leader sees it.
    pub async fn raft_servers(&self, token: &str) -> Result<Vec<RaftServer>, VaultError> {
        #[derive(Deserialize)]
        struct Answer {
            data: Data,
        }
        #[derive(Deserialize)]
        struct Data {
            config: Config,
        }
        #[derive(Deserialize)]
        struct Config {
            servers: Vec<RaftServer>,
        }
        let path = "sys/storage/raft/configuration";
        let text = self.with_token(reqwest::Method::GET, path, token, None).await?;
        let answer: Answer = parsed(&text, || format!("GET /v1/{path}"))?;
        Ok(answer.data.config.servers)
    }

    /// `POST /v1/sys/storage/raft/remove-peer`: takes a node out of the raft peer set.
    pub async fn remove_raft_peer(&self, token: &str, node_id: &str) -> Result<(), VaultError> {
        let body = serde_json::json!({ "server_id": node_id });
        self.with_token(reqwest::Method::POST, "sys/storage/raft/remove-peer", token, Some(body))
            .await
            .map(|_| ())
    }

    /// `GET /v1/sys/health`: its status code (200 active, 429 standby, 503 sealed, 501
    /// not initialised …), which is the answer.
    pub async fn health_code(&self) -> Result<u16, VaultError> {
        let resp = self
            .http
            .get(self.url("sys/health"))
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        Ok(resp.status().as_u16())
    }

    /// `GET /v1/sys/storage/raft/snapshot`, streamed into `to` (made 0600): the raft
    /// snapshot, read without changing anything. Up to half an hour in all (a large store
    /// takes a while), and no read of it may stall for `stall`.
    pub async fn save_snapshot(&self, token: &str, to: &Path, stall: Duration) -> Result<u64, VaultError> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let path = "sys/storage/raft/snapshot";
        let http = bulk_client(self.ca_cert.as_deref(), Some(stall))?;
        let mut resp = http
            .get(self.url(path))
            .header("X-Vault-Token", sensitive(token)?)
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        if !resp.status().is_success() {
            return Err(self
                .success_text(resp, || format!("GET /v1/{path}"))
                .await
                .expect_err("a refusal is an error"));
        }
        let io = |e: std::io::Error| VaultError::Io(format!("cannot write the snapshot to {}: {e}", to.display()));
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(to)
            .map_err(io)?;
        let mut size = 0;
        while let Some(chunk) = resp.chunk().await.map_err(|e| self.unreachable(e))? {
            file.write_all(&chunk).map_err(io)?;
            size += chunk.len() as u64;
        }
        file.sync_all().map_err(io)?;
        Ok(size)
    }

    /// `POST /v1/sys/storage/raft/snapshot-force`: replaces this server's data with the
    /// snapshot in `from` (a snapshot of another cluster needs the force).
    pub async fn restore_snapshot(&self, token: &str, from: &Path) -> Result<(), VaultError> {
        let path = "sys/storage/raft/snapshot-force";
        let file = tokio::fs::File::open(from)
            .await
            .map_err(|e| VaultError::Io(format!("cannot read the snapshot {}: {e}", from.display())))?;
        let http = bulk_client(self.ca_cert.as_deref(), None)?;
        let resp = http
            .post(self.url(path))
            .header("X-Vault-Token", sensitive(token)?)
            .body(reqwest::Body::from(file))
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        self.success_text(resp, || format!("POST /v1/{path}")).await.map(drop)
    }

    /// Whether the server knows `token`: `POST sys/capabilities-self`, whose answer names
    /// capabilities only (a token lookup's would carry the token itself).
    pub async fn token_works(&self, token: &str) -> bool {
        let body = serde_json::json!({ "paths": ["sys/health"] });
        self.with_token(reqwest::Method::POST, "sys/capabilities-self", token, Some(body))
            .await
            .is_ok()
    }

    /// `GET /v1/PATH` with a token: the answer's JSON (which may hold secrets: the caller
    /// says only what it needs of it, never a value).
    pub async fn read(&self, token: &str, path: &str) -> Result<serde_json::Value, VaultError> {
        let path = path.trim_start_matches('/').trim_start_matches("v1/");
        let text = self.with_token(reqwest::Method::GET, path, token, None).await?;
        parsed(&text, || format!("GET /v1/{path}"))
    }

    pub async fn is_initialized(&self) -> Result<bool, VaultError> {
        #[derive(Deserialize)]
        struct InitStatus {
            initialized: bool,
        }
        Ok(self.get_json::<InitStatus>("sys/init").await?.initialized)
    }

    /// Initialises the server. The answer is read chunk by chunk into a zeroizing buffer
    /// sized up front, each chunk wiped once copied, and parsed straight into zeroizing
    /// secrets; the connection is not kept. An error never quotes a successful body.
    pub async fn init(&self, request: &InitRequest) -> Result<InitSecrets, VaultError> {
        let one_shot = http_client(self.ca_cert.as_deref(), false)?;
        let mut resp = one_shot
            .put(self.url("sys/init"))
            .json(request)
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        let status = resp.status();
        let capacity = resp
            .content_length()
            .map_or(INIT_BODY_CAPACITY, |n| (n as usize).min(INIT_BODY_CAPACITY));
        let mut body = Zeroizing::new(Vec::with_capacity(capacity));
        while let Some(chunk) = resp.chunk().await.map_err(|e| self.unreachable(e))? {
            append_wiping(&mut body, &chunk);
            // Wiped in place when this is the last reference to hyper's bytes; else the
            // allocator wipes them when the connection's buffer is freed.
            if let Ok(mut bytes) = chunk.try_into_mut() {
                bytes.as_mut().zeroize();
            }
        }
        drop(resp);
        drop(one_shot);
        if !status.is_success() {
            return Err(VaultError::Http {
                what: "PUT /v1/sys/init".into(),
                status: status.as_u16(),
                body: in_words(&String::from_utf8_lossy(&body)),
            });
        }
        InitSecrets::from_response(&body).map_err(|e| VaultError::Http {
            what: "PUT /v1/sys/init".into(),
            status: status.as_u16(),
            body: format!("an answer autounseal cannot read ({e})"),
        })
    }
}

/// A server's error answer in words: Vault's `{"errors": [...]}` said as its sentences,
/// anything else trimmed to one short line (never raw JSON, nor a page of it).
pub fn in_words(body: &str) -> String {
    if let Ok(answer) = serde_json::from_str::<serde_json::Value>(body)
        && let Some(errors) = answer["errors"].as_array()
    {
        let said: Vec<&str> = errors.iter().filter_map(|e| e.as_str()).map(str::trim).collect();
        if !said.is_empty() {
            return said.join("; ");
        }
    }
    let line = body.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_answer_is_said_in_words() {
        assert_eq!(
            in_words("{\"errors\":[\"Unseal failed, invalid key\"]}\n"),
            "Unseal failed, invalid key"
        );
        assert_eq!(in_words("upstream\n  went away\n"), "upstream went away");
        assert!(in_words(&"x ".repeat(500)).ends_with('…'));
    }

    #[test]
    fn a_growing_buffer_keeps_its_contents() {
        let mut buf = Zeroizing::new(Vec::with_capacity(4));
        append_wiping(&mut buf, b"abc");
        append_wiping(&mut buf, b"defgh");
        assert_eq!(buf.as_slice(), b"abcdefgh");
        assert!(buf.capacity() >= 8);
    }

    #[test]
    fn init_asks_for_recovery_shares_never_secret_shares() {
        let request = InitRequest {
            recovery_shares: 5,
            recovery_threshold: 3,
            recovery_pgp_keys: vec![],
            root_token_pgp_key: None,
        };
        let json = serde_json::to_value(&request).unwrap();
        assert_eq!(json, serde_json::json!({"recovery_shares": 5, "recovery_threshold": 3}));
    }
}
