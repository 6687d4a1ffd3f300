//! A Shamir-initialised OpenBao 2.6.2 as an operator has it (data, a secret), for the
//! seal migration tests; and a small client of its HTTP API.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use autounseal::answers::{Answers, ExistingServer};
use autounseal::vault::client::{SealStatus, VaultClient};
use autounseal::vault::launch;
use serde_json::{Value, json};

use super::{Moto, bao, server_answers};

pub const SECRET: &str = "the-data-that-must-survive";

/// A server the test started itself, killed when the test ends (also on failure).
pub struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Process {
    pub fn stop(mut self) {
        launch::stop_background(self.0.id(), Duration::from_secs(15));
        let _ = self.0.wait();
    }
}

/// `bao server` with `config`, its output in the test's folder.
pub fn start_bao(config: &Path, dir: &Path) -> Process {
    let log = std::fs::File::create(dir.join(format!("bao-{}.log", std::process::id()))).unwrap();
    let child = Command::new(bao())
        .arg("server")
        .arg(format!("-config={}", config.display()))
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .env_remove("VAULT_ADDR")
        .env_remove("BAO_ADDR")
        .spawn()
        .unwrap();
    Process(child)
}

pub struct Api {
    pub http: reqwest::Client,
    pub address: String,
    /// The CA that vouches for the server's certificate, on HTTPS.
    pub ca: Option<PathBuf>,
}

impl Api {
    pub fn new(address: &str) -> Api {
        Api::with_ca(address, None)
    }

    /// A client of a server on HTTPS whose certificate `ca` issued.
    pub fn with_ca(address: &str, ca: Option<&Path>) -> Api {
        let mut http = reqwest::Client::builder()
            .no_proxy()
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(60));
        if let Some(ca) = ca {
            let pem = std::fs::read(ca).unwrap();
            for cert in reqwest::Certificate::from_pem_bundle(&pem).unwrap() {
                http = http.add_root_certificate(cert);
            }
        }
        Api {
            http: http.build().unwrap(),
            address: address.to_string(),
            ca: ca.map(Path::to_path_buf),
        }
    }

    /// The project's own client of the same server.
    pub fn client(&self) -> VaultClient {
        VaultClient::new(&self.address, self.ca.as_deref()).unwrap()
    }

    /// `path` with `token`: the answer's body when it succeeded, else what went wrong.
    pub async fn try_call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let mut req = self
            .http
            .request(method, format!("{}/v1/{path}", self.address))
            .header("X-Vault-Token", token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.map_err(|e| format!("{e:?}"))?;
        let status = resp.status();
        let text = resp.text().await.map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!("{status}: {text}"));
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn call(&self, method: reqwest::Method, path: &str, token: Option<&str>, body: Option<Value>) -> Value {
        let mut req = self.http.request(method, format!("{}/v1/{path}", self.address));
        if let Some(token) = token {
            req = req.header("X-Vault-Token", token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        assert!(status.is_success(), "{path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    pub async fn status(&self) -> SealStatus {
        self.client().seal_status().await.unwrap()
    }

    pub async fn wait_for(&self, what: &str, ready: impl Fn(&SealStatus) -> bool) -> SealStatus {
        let client = self.client();
        for _ in 0..200 {
            if let Ok(s) = client.seal_status().await
                && ready(&s)
            {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
        panic!("the server at {} never became {what}", self.address);
    }

    pub async fn unseal(&self, keys: &[String]) {
        for key in keys {
            self.call(reqwest::Method::PUT, "sys/unseal", None, Some(json!({ "key": key })))
                .await;
        }
        self.wait_for("unsealed", |s| !s.sealed).await;
    }

    /// The secret, read with the root token; retried while the node becomes active.
    pub async fn read_secret(&self, token: &str) -> String {
        for _ in 0..100 {
            let resp = self
                .http
                .get(format!("{}/v1/secret/app", self.address))
                .header("X-Vault-Token", token)
                .send()
                .await;
            if let Ok(resp) = resp
                && resp.status().is_success()
            {
                let v: Value = resp.json().await.unwrap();
                return v["data"]["value"].as_str().unwrap().to_string();
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
        panic!("the secret could not be read back");
    }
}

/// A Shamir-initialised server as an operator has it: 3 unseal keys, threshold 2, a
/// KV secret written; then stopped, its data left in `answers.server.storage_path`.
/// Returns the unseal keys and the root token.
pub async fn shamir_server_with_data(a: &Answers, dir: &Path) -> (Vec<String>, String) {
    let config = dir.join("shamir.hcl");
    std::fs::write(
        &config,
        format!(
            "storage \"raft\" {{\n  path = \"{}\"\n  node_id = \"{}\"\n}}\n\
             listener \"tcp\" {{\n  address = \"{}\"\n  tls_disable = true\n}}\n\
             api_addr = \"http://{}\"\ncluster_addr = \"https://127.0.0.1:{}\"\n",
            a.server.storage_path.display(),
            a.server.node_id,
            a.server.listen,
            a.server.listen,
            a.server.listen.rsplit_once(':').unwrap().1.parse::<u16>().unwrap() + 1
        ),
    )
    .unwrap();
    std::fs::create_dir_all(&a.server.storage_path).unwrap();
    let server = start_bao(&config, dir);
    let api = Api::new(&format!("http://{}", a.server.listen));
    let (keys, root) = init_with_data(&api).await;
    server.stop();
    (keys, root)
}

/// Initialises the fresh server behind `api` with Shamir (3 keys, threshold 2),
/// unseals it and writes [`SECRET`]; returns the unseal keys and the root token.
pub async fn init_with_data(api: &Api) -> (Vec<String>, String) {
    api.wait_for("answering", |_| true).await;
    let init = api
        .call(
            reqwest::Method::PUT,
            "sys/init",
            None,
            Some(json!({"secret_shares": 3, "secret_threshold": 2})),
        )
        .await;
    let keys: Vec<String> = init["keys_base64"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_string())
        .collect();
    let root = init["root_token"].as_str().unwrap().to_string();
    api.unseal(&keys[..2]).await;
    for _ in 0..100 {
        let mounted = api
            .http
            .post(format!("{}/v1/sys/mounts/secret", api.address))
            .header("X-Vault-Token", &root)
            .json(&json!({"type": "kv"}))
            .send()
            .await;
        if mounted.is_ok_and(|r| r.status().is_success()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    api.call(
        reqwest::Method::POST,
        "secret/app",
        Some(&root),
        Some(json!({ "value": SECRET })),
    )
    .await;
    assert_eq!(api.status().await.seal_type, "shamir");
    (keys, root)
}

/// Migration answers: the background server autounseal starts on the Shamir data.
pub fn migration_answers(moto: &Moto, dir: &Path) -> Answers {
    let mut a = server_answers(moto, dir);
    a.server.existing = ExistingServer::Migrate;
    a
}

/// `generate-root` completes with `keys`: they are the server's recovery keys. OpenBao
/// 2.6 turned the unauthenticated `sys/generate-root` off; its replacement,
/// `sys/generate-root-token`, takes a token and the keys. The token it hands back works.
pub async fn generate_root_with(api: &Api, token: &str, keys: &[String]) {
    let attempt = api
        .call(
            reqwest::Method::PUT,
            "sys/generate-root-token/attempt",
            Some(token),
            Some(json!({})),
        )
        .await;
    let nonce = attempt["data"]["nonce"].as_str().unwrap().to_string();
    let otp = attempt["data"]["otp"].as_str().unwrap().to_string();
    let mut last = Value::Null;
    for key in keys {
        last = api
            .call(
                reqwest::Method::PUT,
                "sys/generate-root-token/update",
                Some(token),
                Some(json!({"key": key, "nonce": nonce})),
            )
            .await;
        if last["data"]["complete"] == true {
            break;
        }
    }
    assert_eq!(last["data"]["complete"], true, "{last}");
    let encoded = last["data"]["encoded_token"].as_str().unwrap();
    use base64::Engine;
    let engine = base64::engine::general_purpose::STANDARD_NO_PAD;
    let xored = engine.decode(encoded.trim_end_matches('=')).unwrap();
    let new_token: String = xored.iter().zip(otp.as_bytes()).map(|(a, b)| (a ^ b) as char).collect();
    assert_ne!(new_token, token);
    assert_eq!(api.read_secret(&new_token).await, SECRET, "the new root token works");
}
