//! The record of everything a run created or reused: ids and ARNs, never a secret.
//! Saved atomically after every change so that a crash loses nothing, a re-run can
//! reuse what exists, and `destroy` knows exactly what is autounseal's to remove.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::credentials_file::{KeyFileKind, KeyFiles, SharedFile};
use crate::files::{self, Existing, WriteOptions};
use crate::run::error::{Result, RunError};

pub const MANIFEST_FILE: &str = "manifest.json";

/// Whether autounseal made a thing (and may delete it) or found it and only used it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    Created,
    Reused,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    pub key_id: String,
    pub arn: String,
    pub origin: Origin,
}

/// A replica of the (multi-region) key in another region, with the alias made there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaRecord {
    pub region: String,
    pub arn: String,
    /// The alias of the same name in the replica's region, when autounseal made it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    pub origin: Origin,
}

/// The alarm on the key in one region: the topic, its mail subscription, the rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlarmRecord {
    pub region: String,
    pub topic_arn: String,
    /// Made by autounseal (deleted by destroy), or the operator's (`alarm_topic_arn`).
    pub topic_origin: Origin,
    /// The subscription's ARN, or SNS's "pending confirmation" until the mail is confirmed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription: Option<String>,
    pub rule_name: String,
    pub rule_arn: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedRecord {
    pub name: String,
    pub arn: String,
    pub origin: Origin,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessKeyRecord {
    pub id: String,
    pub user: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileRole {
    EnvFile,
    /// The AWS shared credentials file of the `shared-file` style (the key is there).
    SharedCredentials,
    CredentialsCsv,
    VaultConfig,
    SystemdDropIn,
    /// The file the answers named for the keys init hands out (`init.recovery_keys_file`).
    RecoveryKeys,
    /// Keys no one confirmed storing, saved where the state folder is so that they are
    /// not lost (the wizard left before its confirmation; a run failed after init).
    UnconfirmedRecoveryKeys,
    /// The cluster file `join` reads on the other hosts (no secret).
    ClusterFile,
    /// A unit of `monitor install`: doctor's service and its timer.
    MonitorUnit,
    /// The awskms KMS plugin autounseal copied into the server's plugin folder
    /// (OpenBao 2.7 and later).
    KmsPlugin,
    /// The plugin folder autounseal made for it (removed when empty).
    KmsPluginFolder,
}

impl From<KeyFileKind> for FileRole {
    fn from(kind: KeyFileKind) -> FileRole {
        match kind {
            KeyFileKind::Env => FileRole::EnvFile,
            KeyFileKind::SharedCredentials => FileRole::SharedCredentials,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    pub role: FileRole,
    pub path: PathBuf,
    pub backup: Option<PathBuf>,
}

/// A server autounseal started in the background.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerRecord {
    pub binary: PathBuf,
    pub config: PathBuf,
    pub address: String,
    pub launch: String,
    pub pid: Option<u32>,
    pub pid_file: Option<PathBuf>,
    pub log_file: Option<PathBuf>,
    pub unit: Option<String>,
    pub initialized_by_us: bool,
    /// autounseal sent `sys/init`; set before the call, so an answer lost to a crash
    /// or a dropped connection is told apart from a server someone else initialised.
    #[serde(default)]
    pub init_started: bool,
    /// What a run proved of this server since autounseal last (re)started it; `None`
    /// in a manifest of an autounseal that kept no such record.
    #[serde(default)]
    pub proofs: Option<Proofs>,
    /// The CA bundle that vouches for the server's certificate (`server.ca_cert` of a
    /// TLS setup): day-2 commands trust it without being told again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_cert: Option<PathBuf>,
}

impl ServerRecord {
    /// The CA to verify the server with: the one given now (`--ca-cert`, `VAULT_CACERT`),
    /// else the one the setup recorded.
    pub fn ca_cert_or<'a>(&'a self, given: Option<&'a Path>) -> Option<&'a Path> {
        given.or(self.ca_cert.as_deref())
    }
}

/// The proof steps a run made of the server, each with when it passed (RFC 3339, UTC).
/// Emptied whenever autounseal (re)starts the server, so that a proof never outlives
/// the files it was made with, and a run cut short shows which proof never ran.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proofs {
    /// Verify seal: initialised, unsealed, seal type awskms.
    pub seal_verified: Option<String>,
    /// Restart check: stopped, started again, unsealed by itself with no key.
    pub restart_checked: Option<String>,
}

impl Proofs {
    /// The proof steps that never passed, by their names on screen.
    pub fn missing(&self) -> Vec<&'static str> {
        let mut missing = Vec::new();
        if self.seal_verified.is_none() {
            missing.push("Verify seal");
        }
        if self.restart_checked.is_none() {
            missing.push("Restart check");
        }
        missing
    }
}

/// Now, as the manifest records a time: RFC 3339, UTC.
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// A seal migration autounseal made: what, where and when; never a key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MigrationRecord {
    /// `shamir` or `awskms`.
    pub from: String,
    pub to: String,
    pub address: String,
    /// RFC 3339, UTC.
    pub at: String,
    /// How many keys were submitted (the threshold).
    pub keys_submitted: u16,
}

/// A recovery drill (`autounseal drill`): when, where, how long it took, how it ended;
/// never a token or anything read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrillRecord {
    /// RFC 3339, UTC: when it started.
    pub at: String,
    /// The replica's region the recovery server unsealed through.
    pub region: String,
    /// From the start to data read back from the restored snapshot.
    pub duration_ms: u64,
    pub ok: bool,
    /// What it proved, or why it failed (one line).
    pub detail: String,
}

/// The drills a manifest keeps, newest last.
pub const DRILLS_KEPT: usize = 10;

/// How far an access key rotation got: each stage is recorded before the next begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RotationStage {
    /// CreateAccessKey is about to be sent (or was, and its answer may be lost).
    Creating,
    /// The new key exists; its secret is only in memory until it is saved.
    Created,
    /// The env file (and the CSV, if any) hold the new key.
    Saved,
    /// The server runs on the new key without the old one; the manifest's access key is
    /// the new one, and the old one is to be deleted.
    Switched,
}

/// A saved form of the access key and its backup, which holds the old key until the
/// rotation is over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotationBackup {
    pub path: PathBuf,
    pub backup: PathBuf,
}

/// An access key rotation under way: which key is which and how far it got, never a
/// secret. A re-run of `rotate` reads it and goes on, or finishes a rollback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotationRecord {
    pub user: String,
    pub old_key_id: String,
    #[serde(default)]
    pub new_key_id: Option<String>,
    /// The user's keys before the new one was asked for: any other key is this
    /// rotation's, also one whose answer was lost.
    #[serde(default)]
    pub keys_before: Vec<String>,
    pub stage: RotationStage,
    /// Set before the old key is deactivated: a rollback makes it active again.
    #[serde(default)]
    pub old_deactivated: bool,
    /// Set before the server is restarted onto the new key: a rollback restarts it.
    #[serde(default)]
    pub server_on_new_key: bool,
    #[serde(default)]
    pub backups: Vec<RotationBackup>,
    /// Why the rotation is being rolled back, once it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolling_back: Option<String>,
}

#[cfg(test)]
impl RotationRecord {
    /// For tests: AKIAOLD of user `u` being rotated to AKIANEW, the new key saved and the
    /// server moved onto it.
    pub fn example() -> RotationRecord {
        RotationRecord {
            user: "u".into(),
            old_key_id: "AKIAOLD".into(),
            new_key_id: Some("AKIANEW".into()),
            keys_before: vec!["AKIAOLD".into()],
            stage: RotationStage::Saved,
            old_deactivated: false,
            server_on_new_key: true,
            backups: Vec::new(),
            rolling_back: None,
        }
    }
}

/// A create whose answer may not have reached the manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CreateKind {
    KmsKey,
    KmsAlias,
    IamUser,
    IamPolicy,
    AttachPolicy,
    AccessKey,
}

/// Written before a create is sent and removed with the record of its answer: if the
/// run stops in between, the next run (or `destroy`) looks for what the call made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingCreate {
    pub kind: CreateKind,
    /// The user, policy or alias name; for an access key, its user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// For an access key: the user's keys before the call, so a new one is told apart
    /// from those that were there already.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub access_keys_before: Vec<String>,
    /// When it was sent (milliseconds since 1970): a call in flight when its run was
    /// killed may still be carried out a moment later, so it is looked for only then.
    #[serde(default)]
    pub sent_at_ms: u64,
}

impl PendingCreate {
    pub fn new(kind: CreateKind, name: Option<&str>) -> PendingCreate {
        PendingCreate {
            kind,
            name: name.map(String::from),
            access_keys_before: Vec::new(),
            sent_at_ms: now_ms(),
        }
    }
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Manifest {
    pub version: u32,
    /// This setup's id, also tagged (`autounseal-run`) on the key, user and policy it
    /// creates, so that what a lost answer made can be found again.
    pub run_id: Option<String>,
    /// Creates sent whose answers are not recorded yet (normally empty).
    pub pending: Vec<PendingCreate>,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
    pub account_id: Option<String>,
    pub kms_key: Option<KeyRecord>,
    pub kms_alias: Option<NamedRecord>,
    /// The key's replicas in other regions (`kms.replica_regions`), in the order asked.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub kms_replicas: Vec<ReplicaRecord>,
    /// The alarm on the key (`kms.alarm_email`), one per region of the key and replicas.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub kms_alarms: Vec<AlarmRecord>,
    pub iam_user: Option<NamedRecord>,
    pub iam_policy: Option<NamedRecord>,
    /// The attachment of the policy to the user, when autounseal made it.
    pub policy_attached: bool,
    pub access_key: Option<AccessKeyRecord>,
    pub files: Vec<FileRecord>,
    pub server: Option<ServerRecord>,
    /// The storage folder autounseal made (or first used empty) for the server.
    pub storage_path: Option<PathBuf>,
    /// The user (and group) the server runs as, who owns the secret files: what `doctor`
    /// expects to find on them.
    #[serde(default)]
    pub service_account: Option<crate::answers::ServiceAccount>,
    /// An access key rotation that has not finished (normally none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation: Option<RotationRecord>,
    /// The profile of the shared credentials file that holds the key (`shared-file`
    /// style only; with the file's record it tells a later run where the key is).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credentials_profile: Option<String>,
    /// Seal migrations made, oldest first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub migrations: Vec<MigrationRecord>,
    /// Recovery drills, the last [`DRILLS_KEPT`], oldest first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub drills: Vec<DrillRecord>,
}

impl Manifest {
    /// True when it records nothing left to clean up.
    pub fn is_empty(&self) -> bool {
        self.kms_key.is_none()
            && self.kms_alias.is_none()
            && self.kms_replicas.is_empty()
            && self.kms_alarms.is_empty()
            && self.iam_user.is_none()
            && self.iam_policy.is_none()
            && !self.policy_attached
            && self.access_key.is_none()
            && self.files.is_empty()
            && self.server.is_none()
            && self.pending.is_empty()
            && self.rotation.is_none()
    }

    pub fn pending(&self, kind: CreateKind) -> Option<&PendingCreate> {
        self.pending.iter().find(|p| p.kind == kind)
    }

    pub fn clear_pending(&mut self, kind: CreateKind) {
        self.pending.retain(|p| p.kind != kind);
    }

    /// Records that a create is about to be sent (replacing an older intent of its kind).
    pub fn add_pending(&mut self, pending: PendingCreate) {
        self.clear_pending(pending.kind);
        self.pending.push(pending);
    }

    /// The ARNs the IAM policy names: the key's, then each replica's.
    pub fn key_arns(&self) -> Vec<String> {
        self.kms_key
            .iter()
            .map(|k| k.arn.clone())
            .chain(self.kms_replicas.iter().map(|r| r.arn.clone()))
            .collect()
    }

    /// Records a drill, keeping the last [`DRILLS_KEPT`].
    pub fn record_drill(&mut self, drill: DrillRecord) {
        self.drills.push(drill);
        let extra = self.drills.len().saturating_sub(DRILLS_KEPT);
        self.drills.drain(..extra);
    }

    /// The last drill that read the data back.
    pub fn last_good_drill(&self) -> Option<&DrillRecord> {
        self.drills.iter().rev().find(|d| d.ok)
    }

    /// Records a region's alarm, replacing an older record of its region.
    pub fn record_alarm(&mut self, alarm: AlarmRecord) {
        match self.kms_alarms.iter_mut().find(|a| a.region == alarm.region) {
            Some(slot) => *slot = alarm,
            None => self.kms_alarms.push(alarm),
        }
    }

    /// Records a replica, replacing an older record of its region.
    pub fn record_replica(&mut self, replica: ReplicaRecord) {
        match self.kms_replicas.iter_mut().find(|r| r.region == replica.region) {
            Some(slot) => *slot = replica,
            None => self.kms_replicas.push(replica),
        }
    }

    pub fn file(&self, role: FileRole) -> Option<&FileRecord> {
        self.files.iter().find(|f| f.role == role)
    }

    /// The files that hold the key, as the last save wrote them: the env file, and the
    /// shared credentials file when the profile is recorded too.
    pub fn key_files(&self) -> Option<KeyFiles> {
        let env_file = self.file(FileRole::EnvFile)?.path.clone();
        let shared = match (self.file(FileRole::SharedCredentials), &self.credentials_profile) {
            (Some(file), Some(profile)) => Some(SharedFile {
                path: file.path.clone(),
                profile: profile.clone(),
            }),
            _ => None,
        };
        Some(KeyFiles { env_file, shared })
    }

    pub fn record_file(&mut self, role: FileRole, path: &Path, backup: Option<PathBuf>) {
        self.files.retain(|f| !(f.role == role && f.path == path));
        self.files.push(FileRecord {
            role,
            path: path.to_path_buf(),
            backup,
        });
    }
}

/// A fresh id for a setup: 16 hex digits from the kernel's random source (the clock and
/// pid if that cannot be read: it need only differ from other setups' ids).
pub fn new_run_id() -> String {
    use std::io::Read;
    let mut bytes = [0u8; 8];
    let random = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    if random.is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or_default();
        bytes = (nanos ^ u64::from(std::process::id()).rotate_left(40)).to_le_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The manifest on disk, shared by the concurrent branches of a run.
pub struct ManifestStore {
    path: Option<PathBuf>,
    manifest: Mutex<Manifest>,
}

impl ManifestStore {
    /// Opens (or starts) the manifest in `state_dir`.
    pub fn open(state_dir: &Path) -> Result<ManifestStore> {
        let path = state_dir.join(MANIFEST_FILE);
        let manifest = match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| RunError::State {
                path: path.display().to_string(),
                message: format!(
                    "{e}. If it is damaged, move it aside (`mv {p} {p}.damaged`) and run `apply` again with the \
                     same answers: autounseal rebuilds it, finding the key, user and policy it made by their \
                     tags (created-by=autounseal) and names, the alias by name, and the files it wrote",
                    p = path.display()
                ),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Manifest {
                version: 1,
                ..Default::default()
            },
            Err(e) => {
                return Err(RunError::State {
                    path: path.display().to_string(),
                    message: e.to_string(),
                });
            }
        };
        Ok(ManifestStore {
            path: Some(path),
            manifest: Mutex::new(manifest),
        })
    }

    /// A manifest that is never written (for `plan`).
    pub fn detached(manifest: Manifest) -> ManifestStore {
        ManifestStore {
            path: None,
            manifest: Mutex::new(manifest),
        }
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    pub fn snapshot(&self) -> Manifest {
        self.manifest.lock().expect("manifest lock").clone()
    }

    /// Changes the manifest and saves it before returning.
    pub fn update(&self, change: impl FnOnce(&mut Manifest)) -> Result<()> {
        let mut guard = self.manifest.lock().expect("manifest lock");
        change(&mut guard);
        if let Some(path) = &self.path {
            let text = serde_json::to_string_pretty(&*guard).expect("manifest serialises");
            // autounseal's own file: replaced in place, backups would only pile up.
            let opts = WriteOptions {
                mode: 0o600,
                owner: None,
                existing: Existing::Replace,
            };
            files::write_atomic(path, text.as_bytes(), opts)?;
        }
        Ok(())
    }

    /// Deletes the manifest once it records nothing (after a full `destroy`).
    pub fn remove_if_empty(&self) -> Result<bool> {
        let guard = self.manifest.lock().expect("manifest lock");
        match &self.path {
            Some(path) if guard.is_empty() => Ok(files::remove_if_present(path).map_err(|e| RunError::State {
                path: path.display().to_string(),
                message: e.to_string(),
            })?),
            _ => Ok(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saves_after_every_update_and_reloads() {
        let dir = tempfile::tempdir().unwrap();
        let store = ManifestStore::open(dir.path()).unwrap();
        store
            .update(|m| {
                m.region = Some("eu-west-1".into());
                m.iam_user = Some(NamedRecord {
                    name: "vault-auto-unseal".into(),
                    arn: "arn:aws:iam::123456789012:user/vault-auto-unseal".into(),
                    origin: Origin::Created,
                });
            })
            .unwrap();
        let again = ManifestStore::open(dir.path()).unwrap().snapshot();
        assert_eq!(again.region.as_deref(), Some("eu-west-1"));
        assert_eq!(again.iam_user.unwrap().origin, Origin::Created);
        // replaced in place, no backups or temporary files pile up
        store.update(|m| m.policy_attached = true).unwrap();
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from(MANIFEST_FILE)]);
    }

    #[test]
    fn a_damaged_manifest_is_reported_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(MANIFEST_FILE), "{ not json").unwrap();
        let err = ManifestStore::open(dir.path()).err().unwrap();
        assert!(err.to_string().contains("move it aside"), "{err}");
    }

    #[test]
    fn a_manifest_from_before_run_ids_still_loads() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(MANIFEST_FILE),
            r#"{"version": 1, "region": "eu-west-1"}"#,
        )
        .unwrap();
        let m = ManifestStore::open(dir.path()).unwrap().snapshot();
        assert_eq!((m.run_id, m.pending.len()), (None, 0));
        let (a, b) = (new_run_id(), new_run_id());
        assert!(a.len() == 16 && a != b, "{a} {b}");
    }

    #[test]
    fn an_unresolved_create_keeps_the_manifest() {
        let mut m = Manifest::default();
        m.add_pending(PendingCreate::new(CreateKind::KmsKey, None));
        assert!(!m.is_empty(), "destroy must still look for what the create made");
        m.clear_pending(CreateKind::KmsKey);
        assert!(m.is_empty());
    }

    #[test]
    fn removed_only_when_empty() {
        let dir = tempfile::tempdir().unwrap();
        let store = ManifestStore::open(dir.path()).unwrap();
        store.update(|m| m.policy_attached = true).unwrap();
        assert!(!store.remove_if_empty().unwrap());
        store.update(|m| m.policy_attached = false).unwrap();
        assert!(store.remove_if_empty().unwrap());
        assert!(!dir.path().join(MANIFEST_FILE).exists());
    }
}
