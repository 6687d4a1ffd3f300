//! `status`: what exists (the manifest, and a live read of the key, the user and its
//! access key), the server's seal status, and the one next thing to do.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::aws::{AwsContext, Connection};
use crate::doctor::checks::{MAX_KEY_AGE_DAYS, age_days, now_secs, server_address};
use crate::run::manifest::FileRole;
use crate::run::{Manifest, ManifestStore};
use crate::vault::client::VaultClient;

/// The KMS key: the manifest's record and its state as KMS says it now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyStatus {
    pub arn: String,
    /// `Enabled`, `Disabled`, `PendingDeletion` …, or what kept KMS from saying.
    pub state: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccessKeyStatus {
    pub id: String,
    pub user: String,
    /// `Active`, `Inactive`, or `missing` when IAM no longer has it.
    pub status: String,
    pub age_days: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerStatus {
    pub address: String,
    pub launch: String,
    pub reachable: bool,
    pub seal_type: Option<String>,
    pub initialized: Option<bool>,
    pub sealed: Option<bool>,
}

/// Everything `status` shows; also its `--json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    pub region: Option<String>,
    pub kms_key: Option<KeyStatus>,
    pub iam_user: Option<String>,
    pub access_key: Option<AccessKeyStatus>,
    pub server: Option<ServerStatus>,
    /// Creates sent whose answers were never recorded (a run was killed).
    pub unfinished: bool,
    /// Files of recovery keys and a root token no one confirmed storing, saved by
    /// autounseal, still there: they belong offline (see [`left_open`]).
    pub keys_waiting: Vec<PathBuf>,
    /// The proof steps a run never got to since the server was last (re)started.
    pub proofs_missing: Vec<&'static str>,
    pub next: Next,
}

/// What the last run left for the operator, read from the manifest and the disk: the
/// saved keys files still there, and the proof steps that never ran. The start menu,
/// `status` and Done name them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeftOpen {
    pub keys_waiting: Vec<PathBuf>,
    pub proofs_missing: Vec<&'static str>,
}

impl LeftOpen {
    /// The lines to show, one a thing; empty when nothing is left open.
    pub fn lines(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .keys_waiting
            .iter()
            .map(|f| {
                format!(
                    "Recovery keys and a root token wait in {} (0600): store them offline, then delete the file.",
                    f.display()
                )
            })
            .collect();
        if !self.proofs_missing.is_empty() {
            lines.push(format!(
                "{} never ran: set up again (the wizard) or run `autounseal apply` to finish; nothing is \
                 created twice.",
                self.proofs_missing.join(" and ")
            ));
        }
        lines
    }
}

/// See [`LeftOpen`].
pub fn left_open(manifest: &Manifest) -> LeftOpen {
    let keys_waiting = manifest
        .files
        .iter()
        .filter(|f| f.role == FileRole::UnconfirmedRecoveryKeys && f.path.is_file())
        .map(|f| f.path.clone())
        .collect();
    // Only a server autounseal runs is proved by it (launch `none` is the operator's).
    let proofs_missing = manifest
        .server
        .as_ref()
        .filter(|s| s.launch != "none")
        .and_then(|s| s.proofs.as_ref())
        .map(|p| p.missing())
        .unwrap_or_default();
    LeftOpen {
        keys_waiting,
        proofs_missing,
    }
}

/// The one thing to do next, the most urgent first. Typed, so that a front end can offer
/// it (the wizard's Status screen goes to Doctor or Rotate); said, and in `--json`, as
/// its sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    NothingSetUp,
    Unfinished,
    Broken,
    /// Keys autounseal saved are still in this file.
    StoreKeys {
        file: PathBuf,
    },
    /// These proof steps never ran since the server was last (re)started.
    FinishProof {
        missing: Vec<&'static str>,
    },
    Rotate {
        days: u64,
    },
    AllGood,
}

impl std::fmt::Display for Next {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Next::NothingSetUp => f.write_str(
                "nothing is set up here: run `autounseal` (the wizard) or `autounseal apply --answers FILE`",
            ),
            Next::Unfinished => {
                f.write_str("the setup is unfinished: run `autounseal apply` with the same answers to go on")
            }
            Next::Broken => {
                f.write_str("something in the chain is broken: run `autounseal doctor` to see what and how to fix it")
            }
            Next::StoreKeys { file } => write!(
                f,
                "store the recovery keys and root token in {} offline, then delete that file",
                file.display()
            ),
            Next::FinishProof { missing } => write!(
                f,
                "{} never ran: run `autounseal apply` with the same answers (or the wizard) to finish them",
                missing.join(" and ")
            ),
            Next::Rotate { days } => write!(f, "rotate the access key: it is {days} days old"),
            Next::AllGood => f.write_str("all good"),
        }
    }
}

impl Serialize for Next {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// The manifest of `state_dir` and the operator's clients for its region and endpoint;
/// `None` when the folder records no setup. What `doctor`, `status` and the wizard's
/// screens of the same names start from.
pub async fn recorded_setup(state_dir: &Path, profile: Option<&str>) -> anyhow::Result<Option<(Manifest, AwsContext)>> {
    let manifest = ManifestStore::open(state_dir)?.snapshot();
    let Some(region) = manifest.region.clone().filter(|_| !manifest.is_empty()) else {
        return Ok(None);
    };
    let conn = Connection {
        region,
        endpoint_url: manifest.endpoint_url.clone(),
        profile: profile.map(str::to_string),
        timing: Default::default(),
    };
    let ctx = AwsContext::connect(conn).await;
    Ok(Some((manifest, ctx)))
}

/// Reads the manifest's things live (as the operator) and the server's seal status.
pub async fn gather(manifest: &Manifest, operator: &AwsContext, ca_cert: Option<&Path>) -> Status {
    let kms_key = match &manifest.kms_key {
        None => None,
        Some(key) => {
            let state = match operator.kms.describe_key().key_id(&key.arn).send().await {
                Ok(d) => d
                    .key_metadata()
                    .and_then(|m| m.key_state())
                    .map_or("unknown".to_string(), |s| s.as_str().to_string()),
                Err(e) => format!(
                    "unread ({})",
                    crate::aws::error::error_code(&e).unwrap_or("no answer".into())
                ),
            };
            Some(KeyStatus {
                arn: key.arn.clone(),
                state,
            })
        }
    };
    let access_key = match &manifest.access_key {
        None => None,
        Some(rec) => {
            let listed = operator.iam.list_access_keys().user_name(&rec.user).send().await;
            let (status, age) = match listed {
                Ok(l) => match l
                    .access_key_metadata()
                    .iter()
                    .find(|k| k.access_key_id() == Some(rec.id.as_str()))
                {
                    Some(k) => (
                        k.status().map_or("unknown", |s| s.as_str()).to_string(),
                        k.create_date().map(|d| age_days(d.secs(), now_secs())),
                    ),
                    None => ("missing".to_string(), None),
                },
                Err(e) => (
                    format!(
                        "unread ({})",
                        crate::aws::error::error_code(&e).unwrap_or("no answer".into())
                    ),
                    None,
                ),
            };
            Some(AccessKeyStatus {
                id: rec.id.clone(),
                user: rec.user.clone(),
                status,
                age_days: age,
            })
        }
    };
    let server = match server_address(manifest) {
        None => None,
        Some((address, launch)) => {
            let ca_cert = ca_cert.or(manifest.server.as_ref().and_then(|r| r.ca_cert.as_deref()));
            let read = match VaultClient::new(&address, ca_cert) {
                Ok(client) => client.seal_status().await.ok(),
                Err(_) => None,
            };
            Some(ServerStatus {
                address,
                launch,
                reachable: read.is_some(),
                seal_type: read.as_ref().map(|s| s.seal_type.clone()),
                initialized: read.as_ref().map(|s| s.initialized),
                sealed: read.as_ref().map(|s| s.sealed),
            })
        }
    };
    let mut status = Status {
        region: manifest.region.clone(),
        kms_key,
        iam_user: manifest.iam_user.as_ref().map(|u| u.arn.clone()),
        access_key,
        server,
        unfinished: !manifest.pending.is_empty(),
        keys_waiting: Vec::new(),
        proofs_missing: Vec::new(),
        next: Next::AllGood,
    };
    let left = left_open(manifest);
    status.keys_waiting = left.keys_waiting;
    status.proofs_missing = left.proofs_missing;
    status.next = next_step(&status);
    status
}

/// The status of a state folder that records nothing.
pub fn nothing() -> Status {
    let mut status = Status {
        region: None,
        kms_key: None,
        iam_user: None,
        access_key: None,
        server: None,
        unfinished: false,
        keys_waiting: Vec::new(),
        proofs_missing: Vec::new(),
        next: Next::NothingSetUp,
    };
    status.next = next_step(&status);
    status
}

/// The one thing to do next, the most urgent first.
pub fn next_step(status: &Status) -> Next {
    let nothing = status.kms_key.is_none() && status.iam_user.is_none() && status.server.is_none();
    if nothing && !status.unfinished {
        return Next::NothingSetUp;
    }
    if status.unfinished || status.access_key.is_none() || status.server.is_none() {
        return Next::Unfinished;
    }
    let broken = status.kms_key.as_ref().is_some_and(|k| k.state != "Enabled")
        || status.access_key.as_ref().is_some_and(|k| k.status != "Active")
        || status
            .server
            .as_ref()
            .is_some_and(|s| !s.reachable || s.sealed != Some(false) || s.seal_type.as_deref() != Some("awskms"));
    if broken {
        return Next::Broken;
    }
    if let Some(file) = status.keys_waiting.first() {
        return Next::StoreKeys { file: file.clone() };
    }
    if !status.proofs_missing.is_empty() {
        return Next::FinishProof {
            missing: status.proofs_missing.clone(),
        };
    }
    match status.access_key.as_ref().and_then(|k| k.age_days) {
        Some(days) if days > MAX_KEY_AGE_DAYS => Next::Rotate { days },
        _ => Next::AllGood,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn healthy() -> Status {
        Status {
            region: Some("eu-west-1".into()),
            kms_key: Some(KeyStatus {
                arn: "arn:aws:kms:eu-west-1:1:key/k".into(),
                state: "Enabled".into(),
            }),
            iam_user: Some("arn:aws:iam::1:user/vault-auto-unseal".into()),
            access_key: Some(AccessKeyStatus {
                id: "AKIA1".into(),
                user: "vault-auto-unseal".into(),
                status: "Active".into(),
                age_days: Some(3),
            }),
            server: Some(ServerStatus {
                address: "http://127.0.0.1:8200".into(),
                launch: "background".into(),
                reachable: true,
                seal_type: Some("awskms".into()),
                initialized: Some(true),
                sealed: Some(false),
            }),
            unfinished: false,
            keys_waiting: Vec::new(),
            proofs_missing: Vec::new(),
            next: Next::AllGood,
        }
    }

    #[test]
    fn the_next_step_is_the_most_urgent_one() {
        assert_eq!(next_step(&healthy()), Next::AllGood);
        let mut old = healthy();
        old.access_key.as_mut().unwrap().age_days = Some(97);
        assert_eq!(next_step(&old), Next::Rotate { days: 97 });
        assert_eq!(next_step(&old).to_string(), "rotate the access key: it is 97 days old");
        let mut sealed = old.clone();
        sealed.server.as_mut().unwrap().sealed = Some(true);
        assert_eq!(next_step(&sealed), Next::Broken, "broken comes before old");
        assert!(Next::Broken.to_string().contains("autounseal doctor"));
        let mut unfinished = healthy();
        unfinished.server = None;
        assert_eq!(next_step(&unfinished), Next::Unfinished);
        assert!(Next::Unfinished.to_string().contains("autounseal apply"));
        assert!(nothing().next.to_string().starts_with("nothing is set up"));
        // What the last run left: keys to store come before proofs to finish, both
        // before an old key.
        let mut left = old.clone();
        left.proofs_missing = vec!["Verify seal", "Restart check"];
        assert_eq!(
            next_step(&left).to_string(),
            "Verify seal and Restart check never ran: run `autounseal apply` with the same answers (or the wizard) \
             to finish them"
        );
        left.keys_waiting = vec!["/s/recovery-keys-2026-12-06T16-21-07Z.txt".into()];
        assert!(matches!(next_step(&left), Next::StoreKeys { .. }));
        assert!(
            next_step(&left)
                .to_string()
                .contains("/s/recovery-keys-2026-12-06T16-21-07Z.txt offline")
        );
    }

    #[test]
    fn what_was_left_open_names_only_files_that_are_there() {
        use crate::run::manifest::{Proofs, ServerRecord};
        let dir = tempfile::tempdir().unwrap();
        let kept = dir.path().join("recovery-keys-2026-12-06T16-21-07Z.txt");
        std::fs::write(&kept, "k").unwrap();
        let mut m = Manifest::default();
        m.record_file(FileRole::UnconfirmedRecoveryKeys, &kept, None);
        m.record_file(
            FileRole::UnconfirmedRecoveryKeys,
            &dir.path().join("moved-away.txt"),
            None,
        );
        // A file the operator named for the keys is theirs: not "waiting".
        m.record_file(FileRole::RecoveryKeys, &kept.with_extension("mine"), None);
        std::fs::write(kept.with_extension("mine"), "k").unwrap();
        let mut server = ServerRecord {
            binary: "/usr/bin/bao".into(),
            config: "/etc/openbao/openbao.hcl".into(),
            address: "http://127.0.0.1:8200".into(),
            launch: "systemd".into(),
            pid: None,
            pid_file: None,
            log_file: None,
            unit: Some("openbao.service".into()),
            initialized_by_us: true,
            init_started: true,
            proofs: None,
            ca_cert: None,
        };
        m.server = Some(server.clone());
        let left = left_open(&m);
        assert_eq!(left.keys_waiting, std::slice::from_ref(&kept));
        assert!(
            left.proofs_missing.is_empty(),
            "an older manifest kept no proofs: nothing to say"
        );
        server.proofs = Some(Proofs {
            seal_verified: Some("2026-12-06T16:21:07Z".into()),
            restart_checked: None,
        });
        m.server = Some(server);
        let lines = left_open(&m).lines();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[1].starts_with("Restart check never ran"), "{lines:?}");
    }

    #[test]
    fn json_says_the_next_step_as_its_sentence() {
        let mut old = healthy();
        old.access_key.as_mut().unwrap().age_days = Some(97);
        old.next = next_step(&old);
        let json = serde_json::to_value(&old).unwrap();
        assert_eq!(json["next"], "rotate the access key: it is 97 days old");
    }
}
