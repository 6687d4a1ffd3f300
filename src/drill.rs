//! A recovery drill: proves the data comes back in a replica's region, touching the live
//! server with one read only (its raft snapshot). A throwaway server starts on loopback
//! in a folder of its own, its seal on the key's replica in the chosen region and the
//! same least-privilege access key; the snapshot is restored into it; it unseals through
//! the replica with no key typed; the data is read back with the operator's token. Then
//! everything it made goes, also when a step fails, and the manifest records the drill
//! (when, where, how long, how it ended; never a token or anything read).

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};

use crate::credentials_file;
use crate::run::manifest::{DrillRecord, FileRole, ManifestStore, now_rfc3339};
use crate::run::{Manifest, Reporter, Result, RunError, Step, VaultError};
use crate::vault::client::{InitRequest, VaultClient};
use crate::vault::plugin::{self, KmsPlugin};
use crate::vault::{config, launch, server};

/// How long a transfer of the snapshot may stall before it is given up.
const TRANSFER_STALL: Duration = Duration::from_secs(60);
/// How long the recovery server has to start, and then to unseal itself.
const SERVER_WAIT: Duration = Duration::from_secs(90);

/// What the operator asks for.
pub struct DrillRequest {
    /// The replica's region.
    pub region: String,
    /// A token of the live server allowed to read `sys/storage/raft/snapshot` (and the
    /// path to read back); never stored.
    pub token: SecretString,
    /// One path of the operator's to read back, as `GET /v1/PATH` (`secret/data/app`).
    pub read: Option<String>,
    /// The CA bundle of the live server's certificate (default: the setup's).
    pub ca_cert: Option<PathBuf>,
}

/// What a drill proved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrillReport {
    pub region: String,
    pub replica_arn: String,
    pub snapshot_bytes: u64,
    /// From the start to the data read back.
    pub took: Duration,
    /// The path read back and the names of what it holds (never a value).
    pub read: Option<(String, Vec<String>)>,
}

/// What a drill needs from the manifest, checked before anything is made.
struct Prepared {
    replica_arn: String,
    address: String,
    ca_cert: Option<PathBuf>,
    binary: PathBuf,
    key: crate::secrets::AccessKey,
    endpoint: Option<String>,
    /// The KMS plugin the live config declares (OpenBao 2.7 and later): the recovery
    /// server runs the seal through a checked copy of it.
    plugin: Option<config::DeclaredPlugin>,
}

fn prepare(m: &Manifest, req: &DrillRequest) -> Result<Prepared> {
    if m.kms_replicas.is_empty() {
        return Err(RunError::Unsuitable(
            "this setup's key has no replica: a drill recovers in a replica's region. Add one \
             (`[kms] replica_regions = [\"us-west-2\"]`, or the KMS key screen's \"Replica regions\") and run apply \
             again"
                .into(),
        ));
    }
    let Some(replica) = m.kms_replicas.iter().find(|r| r.region == req.region) else {
        let regions: Vec<&str> = m.kms_replicas.iter().map(|r| r.region.as_str()).collect();
        return Err(RunError::Unsuitable(format!(
            "{} holds no replica of the key; its replicas are in {}: pass one of them to --region",
            req.region,
            regions.join(", ")
        )));
    };
    let server = m.server.as_ref().ok_or_else(|| {
        RunError::Unsuitable(
            "the manifest records no server to take a snapshot of: a drill needs the setup's running server".into(),
        )
    })?;
    let files = m
        .key_files()
        .ok_or_else(|| RunError::Unsuitable("the manifest records no file holding the server's access key".into()))?;
    let key = files.read_key().ok_or_else(|| {
        RunError::Unsuitable(format!(
            "cannot read the server's access key from {}: run the drill as root or as the server's user",
            files.secret_path().display()
        ))
    })?;
    // The live plugin, as the live config declares it: root runs a copy of it, so it
    // must be the file the server checks (see `start_recovery`).
    let plugin = m
        .file(FileRole::VaultConfig)
        .and_then(|f| config::declared_plugin(&f.path));
    if let Some(declared) = &plugin {
        let problems = plugin::problems(&declared.path, &declared.sha256);
        if !problems.is_empty() {
            return Err(RunError::Unsuitable(format!(
                "the KMS plugin the live config declares is not as it should be: {}",
                problems.join("; ")
            )));
        }
    }
    Ok(Prepared {
        replica_arn: replica.arn.clone(),
        address: server.address.clone(),
        ca_cert: server.ca_cert_or(req.ca_cert.as_deref()).map(Path::to_path_buf),
        binary: server.binary.clone(),
        key,
        endpoint: m.endpoint_url.clone(),
        plugin,
    })
}

/// Runs the drill and records it in the manifest, whatever its end.
pub async fn drill(store: &ManifestStore, state_dir: &Path, req: &DrillRequest, rep: &Reporter) -> Result<DrillReport> {
    let prepared = prepare(&store.snapshot(), req)?;
    let at = now_rfc3339();
    let started = Instant::now();
    let result = Box::pin(run(&prepared, state_dir, req, rep, started)).await;
    let record = DrillRecord {
        at,
        region: req.region.clone(),
        duration_ms: started.elapsed().as_millis() as u64,
        ok: result.is_ok(),
        detail: match &result {
            Ok(report) => format!(
                "unsealed through {} and read the data back in {:.1} s",
                report.replica_arn,
                report.took.as_secs_f64()
            ),
            Err(e) => e.to_string().lines().next().unwrap_or_default().to_string(),
        },
    };
    store.update(|m| m.record_drill(record))?;
    result
}

async fn run(
    p: &Prepared,
    state_dir: &Path,
    req: &DrillRequest,
    rep: &Reporter,
    started: Instant,
) -> Result<DrillReport> {
    let token = req.token.expose_secret();
    remove_stale_folders(state_dir);
    // Removed when dropped, whatever happens below; 0700, in the state folder (the
    // snapshot is as confidential as the data).
    let folder = tempfile::Builder::new()
        .prefix("drill-")
        .tempdir_in(state_dir)
        .map_err(|e| {
            RunError::Other(format!(
                "cannot make a folder for the drill in {}: {e}",
                state_dir.display()
            ))
        })?;
    let snapshot = folder.path().join("raft.snap");
    let live = VaultClient::new(&p.address, p.ca_cert.as_deref())?;
    let snapshot_bytes = rep
        .step(Step::DrillSnapshot, async {
            let size = live.save_snapshot(token, &snapshot, TRANSFER_STALL).await?;
            rep.done(
                Step::DrillSnapshot,
                format!("{size} bytes from {}: a read, nothing changed there", p.address),
            );
            Ok::<_, RunError>(size)
        })
        .await?;
    let recovery = rep
        .step(Step::DrillStart, start_recovery(p, folder.path(), &req.region, rep))
        .await?;
    let result = Box::pin(restore_and_read(p, &recovery, &snapshot, req, rep, started)).await;
    rep.step_even_when_stopping(Step::DrillCleanUp, async {
        recovery.stop();
        let shown = folder.path().display().to_string();
        folder
            .close()
            .map_err(|e| RunError::Other(format!("cannot remove {shown}: {e}")))?;
        rep.done(
            Step::DrillCleanUp,
            format!("the recovery server stopped, {shown} removed"),
        );
        Ok::<_, RunError>(())
    })
    .await?;
    let (took, read) = result?;
    Ok(DrillReport {
        region: req.region.clone(),
        replica_arn: p.replica_arn.clone(),
        snapshot_bytes,
        took,
        read,
    })
}

/// A drill killed before its cleanup (SIGKILL, a second Ctrl-C) leaves its folder: the
/// snapshot and the access key's env file. Its server died with it (see
/// `launch::start_tied`); the folder goes at the next drill.
fn remove_stale_folders(state_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(state_dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if name.to_string_lossy().starts_with("drill-") && entry.path().is_dir() {
            tracing::warn!("removing {}, left by a drill that was killed", entry.path().display());
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// The throwaway server, stopped when dropped (an error, a panic, an interrupt).
struct Recovery {
    pid: u32,
    client: VaultClient,
    log: PathBuf,
    /// Its own root token, from its init: only to restore the snapshot.
    root: SecretString,
    /// Stopped once only: its pid may be another process's afterwards.
    stopped: std::sync::atomic::AtomicBool,
}

impl Recovery {
    fn stop(&self) {
        if !self.stopped.swap(true, std::sync::atomic::Ordering::SeqCst) {
            launch::stop_background(self.pid, Duration::from_secs(10));
        }
    }
}

impl Drop for Recovery {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A free port on loopback, for the recovery server.
fn free_loopback() -> Result<String> {
    let socket = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| RunError::Other(format!("cannot find a free port on 127.0.0.1: {e}")))?;
    Ok(socket.to_string())
}

async fn start_recovery(p: &Prepared, folder: &Path, region: &str, rep: &Reporter) -> Result<Recovery> {
    let binary = server::find(&p.binary.to_string_lossy())?;
    let (listen, cluster) = (free_loopback()?, free_loopback()?);
    let storage = folder.join("data");
    let io = |what: &str, e: std::io::Error| RunError::Other(format!("cannot write the drill's {what}: {e}"));
    std::fs::create_dir(&storage).map_err(|e| io("data folder", e))?;
    let hcl = folder.join("recovery.hcl");
    // A copy in the drill's own folder (0700), checked against the declared checksum
    // as it is copied: not the live folder, which others than root may be able to change.
    let plugin = p.plugin.as_ref().map(|declared| KmsPlugin {
        source: declared.path.clone(),
        directory: folder.join("plugins"),
        write_directory: true,
        sha256: declared.sha256.clone(),
    });
    if let Some(copy) = &plugin {
        plugin::install(copy).map_err(|e| io("copy of the KMS plugin", e))?;
    }
    let seal = config::RecoverySeal {
        region,
        replica_arn: &p.replica_arn,
        endpoint: p.endpoint.as_deref(),
        plugin: plugin.as_ref(),
    };
    let text = config::recovery_config(&storage, &listen, &cluster, seal, binary.flavour);
    std::fs::write(&hcl, text).map_err(|e| io("config", e))?;
    // The same least-privilege key as the live server, its region the replica's.
    let env = folder.join("recovery.env");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&env)
        .map_err(|e| io("env file", e))?;
    file.write_all(credentials_file::render_env(&p.key, region).as_bytes())
        .map_err(|e| io("env file", e))?;
    drop(file);
    // Tied to autounseal: it dies with it, whatever ends autounseal.
    let started = launch::start_tied(&binary.path, &hcl, &env, folder)?;
    let mut recovery = Recovery {
        pid: started.pid,
        client: VaultClient::new(&format!("http://{listen}"), None)?,
        log: started.log,
        root: SecretString::from(String::new()),
        stopped: Default::default(),
    };
    recovery
        .wait(|c| async move { c.seal_status().await.map(|_| true) })
        .await?;
    let init = InitRequest {
        recovery_shares: 1,
        recovery_threshold: 1,
        recovery_pgp_keys: Vec::new(),
        root_token_pgp_key: None,
    };
    // Its recovery key is dropped (wiped) at once: the server is thrown away.
    recovery.root = recovery.client.init(&init).await?.root_token;
    recovery
        .wait(|c| async move { c.health_code().await.map(|code| code == 200) })
        .await?;
    rep.done(
        Step::DrillStart,
        format!(
            "{} on {listen} (loopback only), its seal on {} in {region}, initialised and active",
            binary.version_text(),
            p.replica_arn
        ),
    );
    Ok(recovery)
}

impl Recovery {
    /// Polls `ready` until it holds, the server exits (said with its log) or
    /// [`SERVER_WAIT`] passes.
    async fn wait<'t, F, Fut>(&self, ready: F) -> Result<()>
    where
        F: Fn(VaultClient) -> Fut + 't,
        Fut: Future<Output = std::result::Result<bool, VaultError>>,
    {
        let deadline = Instant::now() + SERVER_WAIT;
        let mut last = String::new();
        loop {
            if !launch::is_running(self.pid) {
                return Err(VaultError::Exited {
                    status: launch::exit_status(self.pid),
                    log: self.log.clone(),
                    tail: launch::log_tail(&self.log, 12),
                    hint: String::new(),
                }
                .into());
            }
            match ready(self.client.clone()).await {
                Ok(true) => return Ok(()),
                Ok(false) => {}
                Err(e) => last = e.to_string(),
            }
            if Instant::now() >= deadline {
                return Err(VaultError::NoAnswer {
                    address: self.client.address.clone(),
                    secs: SERVER_WAIT.as_secs(),
                    hint: format!(
                        "{}. The end of its log:\n{}",
                        if last.is_empty() {
                            String::new()
                        } else {
                            format!(" ({last})")
                        },
                        launch::log_tail(&self.log, 12)
                    ),
                }
                .into());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// Restores the snapshot, waits for the server to unseal itself through the replica,
/// and reads back with the operator's token: the time from the start, and what was read.
async fn restore_and_read(
    p: &Prepared,
    recovery: &Recovery,
    snapshot: &Path,
    req: &DrillRequest,
    rep: &Reporter,
    started: Instant,
) -> Result<(Duration, Option<(String, Vec<String>)>)> {
    let token = req.token.expose_secret();
    rep.step(Step::DrillRestore, async {
        recovery
            .client
            .restore_snapshot(recovery.root.expose_secret(), snapshot)
            .await?;
        rep.done(
            Step::DrillRestore,
            "the live server's data replaces the recovery server's",
        );
        Ok::<_, RunError>(())
    })
    .await?;
    rep.step(Step::DrillUnseal, async {
        // Unsealed, active, and the operator's token known: the restored data is in use,
        // its keyring opened through the replica. (Asked by its capabilities, whose answer,
        // unlike a token lookup's, does not carry the token.)
        recovery
            .wait(|c| async move {
                if c.health_code().await? != 200 {
                    return Ok(false);
                }
                Ok(c.token_works(token).await)
            })
            .await?;
        rep.done(
            Step::DrillUnseal,
            format!(
                "unsealed by itself through {} ({}), no key typed; sys/health: active",
                p.replica_arn, req.region
            ),
        );
        Ok::<_, RunError>(())
    })
    .await?;
    let read = rep
        .step(Step::DrillRead, async {
            let Some(path) = &req.read else {
                rep.done(
                    Step::DrillRead,
                    "sys/health and the token read back (--read PATH reads one path of yours too)",
                );
                return Ok::<_, RunError>(None);
            };
            let answer = recovery.client.read(token, path).await?;
            let names = names_in(&answer);
            rep.done(
                Step::DrillRead,
                format!("{path}: {} (values not shown)", said_names(&names)),
            );
            Ok(Some((path.clone(), names)))
        })
        .await?;
    Ok((started.elapsed(), read))
}

/// The names of what a read holds: a KV version 2 answer's `data.data`, else `data`.
fn names_in(answer: &serde_json::Value) -> Vec<String> {
    let data = &answer["data"];
    let held = data.get("data").filter(|d| d.is_object()).unwrap_or(data);
    held.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

fn said_names(names: &[String]) -> String {
    match names.len() {
        0 => "nothing in it".to_string(),
        1 => format!("1 key ({})", names[0]),
        n => format!("{n} keys ({})", names.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_is_said_by_its_names_only() {
        let kv2: serde_json::Value =
            serde_json::from_str(r#"{"data":{"data":{"pw":"hunter2","user":"app"},"metadata":{"version":1}}}"#)
                .unwrap();
        assert_eq!(names_in(&kv2), ["pw", "user"]);
        let kv1: serde_json::Value = serde_json::from_str(r#"{"data":{"pw":"hunter2"}}"#).unwrap();
        assert_eq!(names_in(&kv1), ["pw"]);
        assert_eq!(said_names(&names_in(&kv2)), "2 keys (pw, user)");
        assert!(!said_names(&names_in(&kv2)).contains("hunter2"));
    }
}
