//! Rotating the server's access key with no downtime: a new key, saved and proven as
//! Vault uses it, the server restarted onto it, the old key deactivated and a restart to
//! prove it is no longer needed, then the old key deleted. Each stage is written to the
//! manifest before the next begins (never a secret), so that a failure before the
//! deletion rolls back to the old key and a re-run goes on from where it stopped.
//!
//! No terminal code: the headless command and a wizard screen both drive it through the
//! [`Reporter`], whose rows are [`Step::ROTATE`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use zeroize::Zeroizing;

use crate::answers::Launch;
use crate::answers::ServiceAccount;
use crate::aws::AwsContext;
use crate::aws::provision::access_key::{
    as_the_server_reads, create_access_key, delete_access_key, joined, list_access_keys, prove_usable,
    set_access_key_status, write_key_change,
};
use crate::credentials_file::{self, KeyFileKind, KeyFiles};
use crate::files::{self, Existing, Owner, WriteOptions};
use crate::run::manifest::{
    AccessKeyRecord, FileRole, Manifest, ManifestStore, RotationBackup, RotationRecord, RotationStage,
};
use crate::run::mutate::nothing_to_record;
use crate::run::{Change, Recorder, Reporter, Result, RunError, Step};
use crate::secrets::AccessKey;
use crate::twins::{quote, server_command};
use crate::vault::client::{SealStatus, VaultClient};
use crate::vault::deploy::{Watch, wait_until};
use crate::vault::lifecycle::{self, unit_of};
use crate::vault::{VaultError, config, launch};

/// How long a rotated key may serve before the next rotation is due (the advice is 30
/// to 90 days; `doctor` warns past 90).
pub const ROTATE_EVERY_DAYS: u32 = 90;

/// The date by which a key rotated today is due again.
pub fn next_due() -> time::Date {
    (time::OffsetDateTime::now_utc() + time::Duration::days(ROTATE_EVERY_DAYS.into())).date()
}

/// The waits (for the new key to propagate, for a restart) are the AWS context's
/// timing (`ctx.conn.timing`).
#[derive(Debug, Clone, Default)]
pub struct RotateOptions {
    /// The CA bundle that verifies the server's HTTPS certificate.
    pub ca_cert: Option<PathBuf>,
    /// Launch `none`: the operator says the server was restarted since the new key was
    /// saved. An unsealed server proves nothing (it was unsealed on the old key too), and
    /// the old key is deleted next: without this word, rotate waits for the restart.
    pub restarted: bool,
}

/// How the server came onto the new key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Restarted {
    /// Our background process, restarted: its new pid.
    Background {
        pid: u32,
    },
    Systemd {
        unit: String,
    },
    /// The operator restarted it (launch `none`), and a re-run found it unsealed.
    ByTheOperator,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotateOutcome {
    /// The new key is in use, the old one is deleted.
    Rotated {
        old_key_id: String,
        new_key_id: String,
        restarted: Restarted,
    },
    /// Launch `none`: the new key is saved and works; the operator restarts the server
    /// (`restart` says how), then runs `rotate` again to retire the old key.
    WaitingForRestart { new_key_id: String, restart: String },
}

/// What `rotate` will do for the setup `m` records, a line each (for a confirmation).
pub fn rotate_plan(m: &Manifest) -> Vec<String> {
    let Some(key) = &m.access_key else {
        return vec!["nothing: the manifest records no access key".into()];
    };
    let forms = joined(saved_forms(m).iter().map(|(_, p)| p.as_path()));
    let mut lines = Vec::new();
    if let Some(r) = &m.rotation {
        lines.push(match &r.rolling_back {
            Some(why) => format!("finish rolling back the rotation that failed ({why}), then:"),
            None => format!(
                "go on with the rotation of {} that stopped (new key {}), or roll it back",
                r.old_key_id,
                r.new_key_id.as_deref().unwrap_or("not yet known")
            ),
        });
    }
    let launch = m.server.as_ref().map_or("none", |s| s.launch.as_str());
    if let Some(r) = m
        .rotation
        .as_ref()
        .filter(|r| r.stage == RotationStage::Saved && launch == "none")
    {
        lines.push(format!(
            "only if you restarted the server since {} was saved (headless: --restarted says so): check it is \
             unsealed, then retire the old key",
            r.new_key_id.as_deref().unwrap_or("the new key")
        ));
    }
    lines.push(format!("create a new access key for IAM user {}", key.user));
    lines.push(format!(
        "write it to {forms} (mode 0600; the old files kept as backups until the end)"
    ));
    lines.push("check that it works as Vault uses it (STS, DescribeKey, Encrypt, Decrypt)".into());
    let restart = match (launch, m.server.as_ref()) {
        ("systemd", Some(s)) => format!("restart {} and wait until it unseals itself", unit_of(s)),
        ("background", _) => "restart the background server and wait until it unseals itself".into(),
        _ => "then stop: you restart the server, and run rotate again to retire the old key".into(),
    };
    lines.push(restart);
    lines.push(format!(
        "deactivate the old key {}, restart once more, delete it; update the manifest",
        key.id
    ));
    lines.push("on any failure before the deletion: roll back to the old key".into());
    lines
}

/// Rotates the access key the manifest in `store` records.
pub async fn rotate(
    ctx: &AwsContext,
    store: &ManifestStore,
    rep: &Reporter,
    opts: RotateOptions,
) -> Result<RotateOutcome> {
    let rotation = Rotation::new(ctx, store, rep, &opts)?;
    if let Some(earlier) = store.snapshot().rotation
        && let Some(outcome) = rotation.resume(earlier).await?
    {
        return Ok(outcome);
    }
    rotation.start().await
}

// Which files hold the key, what they contain, and reading it back: these three are the
// one place rotate knows it, through the manifest's [`KeyFiles`] (either style).

/// The forms the access key is saved in, each (role, path): the files of its style
/// (the shared credentials file, then the env file), and the CSV when one was asked for.
fn saved_forms(m: &Manifest) -> Vec<(FileRole, PathBuf)> {
    let key_files = m.key_files().map(|f| {
        f.paths()
            .into_iter()
            .map(|(kind, path)| (FileRole::from(kind), path.to_path_buf()))
            .collect::<Vec<_>>()
    });
    let csv = m
        .file(FileRole::CredentialsCsv)
        .map(|f| (FileRole::CredentialsCsv, f.path.clone()));
    key_files.into_iter().flatten().chain(csv).collect()
}

/// A saved form's text for `key`.
fn render(files: &KeyFiles, role: FileRole, key: &AccessKey, region: &str) -> Zeroizing<String> {
    match role {
        FileRole::CredentialsCsv => credentials_file::render_csv(key),
        FileRole::SharedCredentials => files.render(KeyFileKind::SharedCredentials, key, region),
        _ => files.render(KeyFileKind::Env, key, region),
    }
}

/// The key the server reads at its start, secret included.
fn saved_key(files: &KeyFiles) -> Option<AccessKey> {
    files.read_key()
}

/// The id of that key, the secret left unread.
fn saved_key_id(files: &KeyFiles) -> Option<String> {
    files.read_key_id()
}

/// The server to restart, from the manifest's record of it.
struct Server {
    launch: Launch,
    address: String,
    binary: PathBuf,
    config: PathBuf,
    unit: String,
    /// The CA the setup recorded for the server's certificate.
    ca_cert: Option<PathBuf>,
}

struct Rotation<'a> {
    ctx: &'a AwsContext,
    store: &'a ManifestStore,
    rep: &'a Reporter,
    recorder: Recorder<'a>,
    opts: &'a RotateOptions,
    state_dir: PathBuf,
    user: String,
    user_arn: String,
    kms_key_arn: String,
    /// The files that hold the key (the manifest's, of either style); the server reads
    /// `key_files.env_file` at its start.
    key_files: KeyFiles,
    account: ServiceAccount,
    owner: Option<Owner>,
    server: Option<Server>,
}

impl<'a> Rotation<'a> {
    /// Reads what the manifest records; refuses when there is nothing to rotate.
    fn new(ctx: &'a AwsContext, store: &'a ManifestStore, rep: &'a Reporter, opts: &'a RotateOptions) -> Result<Self> {
        let m = store.snapshot();
        let refuse = |what: &str| {
            RunError::Other(format!(
                "nothing to rotate: the manifest records {what}. `rotate` replaces the access key an earlier \
                 `autounseal apply` made; run that first (with the same --state-dir)"
            ))
        };
        let key = m.access_key.as_ref().ok_or_else(|| refuse("no access key"))?;
        let key_files = m.key_files().ok_or_else(|| refuse("no env file"))?;
        let user_arn = m.iam_user.as_ref().ok_or_else(|| refuse("no IAM user"))?.arn.clone();
        let kms_key_arn = m.kms_key.as_ref().ok_or_else(|| refuse("no KMS key"))?.arn.clone();
        let state_dir = store
            .path()
            .and_then(Path::parent)
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        let server = match &m.server {
            Some(s) => Some(Server {
                launch: lifecycle::launch_of(s),
                address: s.address.clone(),
                binary: s.binary.clone(),
                config: s.config.clone(),
                unit: lifecycle::unit_of(s),
                ca_cert: s.ca_cert.clone(),
            }),
            None => m.file(FileRole::VaultConfig).and_then(|f| {
                Some(Server {
                    launch: Launch::None,
                    address: config::api_addr_in(&f.path)?,
                    binary: PathBuf::from("vault"),
                    config: f.path.clone(),
                    unit: String::new(),
                    ca_cert: None,
                })
            }),
        };
        // A manifest from before the account was recorded: `vault`, as apply wrote then.
        let account = m.service_account.clone().unwrap_or(ServiceAccount {
            user: "vault".into(),
            group: None,
        });
        let owner = Owner::service_account(&account.user, account.group.as_deref());
        Ok(Rotation {
            ctx,
            store,
            rep,
            recorder: Recorder::new(rep.clone(), store, false),
            opts,
            state_dir,
            user: key.user.clone(),
            user_arn,
            kms_key_arn,
            key_files,
            account,
            owner,
            server,
        })
    }

    fn record(&self) -> Result<RotationRecord> {
        self.store.snapshot().rotation.ok_or_else(|| {
            RunError::Other("internal error: the rotation record is gone; nothing more was changed".into())
        })
    }

    fn update(&self, change: impl FnOnce(&mut RotationRecord)) -> Result<()> {
        self.store.update(|m| {
            if let Some(r) = m.rotation.as_mut() {
                change(r);
            }
        })
    }

    fn launch(&self) -> Launch {
        self.server.as_ref().map_or(Launch::None, |s| s.launch)
    }

    /// A fresh rotation: refused while the user holds a key that is not ours.
    async fn start(&self) -> Result<RotateOutcome> {
        let m = self.store.snapshot();
        let old = m.access_key.clone().expect("checked in new");
        let listed = self.rep.step(Step::CheckAccessKeys, self.check_keys(&old)).await?;
        self.store.update(|m| {
            m.rotation = Some(RotationRecord {
                user: self.user.clone(),
                old_key_id: old.id.clone(),
                new_key_id: None,
                keys_before: listed,
                stage: RotationStage::Creating,
                old_deactivated: false,
                server_on_new_key: false,
                backups: Vec::new(),
                rolling_back: None,
            })
        })?;
        let new_key = match self.rep.step(Step::NewAccessKey, self.create_key()).await {
            Ok(key) => key,
            Err(e) => return Err(self.roll_back(e).await),
        };
        let saved = self.rep.step(Step::SaveCredentials, self.save(&new_key)).await;
        if let Err(e) = saved {
            return Err(self.roll_back(e).await);
        }
        self.carry_on(&old.id, new_key).await
    }

    /// The user's keys, when only the recorded one (which the env file holds) is there.
    async fn check_keys(&self, old: &AccessKeyRecord) -> Result<Vec<String>> {
        let listed = list_access_keys(self.ctx, &self.user).await?;
        let in_env = saved_key_id(&self.key_files);
        if in_env.as_deref() != Some(old.id.as_str()) {
            return Err(RunError::Other(format!(
                "{} holds {}, not the access key {} the manifest records: it was changed outside autounseal. \
                 Nothing was changed; `autounseal doctor` shows what the server uses",
                self.key_files.secret_path().display(),
                in_env.map_or_else(|| "no access key".to_string(), |id| format!("access key {id}")),
                old.id
            )));
        }
        if !listed.contains(&old.id) {
            return Err(RunError::Other(format!(
                "IAM user {} no longer has the access key {} that {} holds: the server cannot unseal at its next \
                 start. Nothing was changed; run `autounseal apply` again to make a new key",
                self.user,
                old.id,
                self.key_files.secret_path().display()
            )));
        }
        let strays: Vec<&String> = listed.iter().filter(|id| **id != old.id).collect();
        if let Some(stray) = strays.first() {
            let twin = self.ctx.aws_cli(&[
                "iam",
                "delete-access-key",
                "--user-name",
                &self.user,
                "--access-key-id",
                stray,
            ]);
            return Err(RunError::Other(format!(
                "IAM user {} already holds two access keys, IAM's limit: {} (the server's, in {}) and {stray}, which \
                 autounseal did not make. Nothing was changed. If nothing uses {stray}, delete it (`{twin}`) and run \
                 rotate again",
                self.user,
                old.id,
                self.key_files.secret_path().display()
            )));
        }
        self.rep.done(
            Step::CheckAccessKeys,
            format!(
                "{} holds one access key, {}, the one in {}",
                self.user,
                old.id,
                self.key_files.secret_path().display()
            ),
        );
        Ok(listed)
    }

    async fn create_key(&self) -> Result<AccessKey> {
        let twin = self
            .ctx
            .aws_cli(&["iam", "create-access-key", "--user-name", &self.user]);
        let user = &self.user;
        let made = self
            .recorder
            .mutate(
                Change::new(
                    Step::NewAccessKey,
                    "iam:CreateAccessKey",
                    format!("for {user}; its secret is shown once and saved at once"),
                    twin,
                ),
                |action| create_access_key(self.ctx, user, action),
                |m, (key, _): &(AccessKey, AccessKeyRecord)| {
                    if let Some(r) = m.rotation.as_mut() {
                        r.new_key_id = Some(key.id.clone());
                        r.stage = RotationStage::Created;
                    }
                },
                |(key, _)| format!("created {}", key.id),
            )
            .await?;
        Ok(made.made()?.0)
    }

    /// Writes the new key into every saved form, keeping each old file as a backup
    /// (it holds the old key, which a rollback restores).
    async fn save(&self, key: &AccessKey) -> Result<()> {
        let forms = saved_forms(&self.store.snapshot());
        let all = joined(forms.iter().map(|(_, p)| p.as_path()));
        for (i, (role, path)) in forms.iter().enumerate() {
            let last = i + 1 == forms.len();
            let change = write_key_change(path, &self.account, ", the old one kept as a backup", last);
            let write = |_| async move {
                // The backup is recorded before the file changes: a run killed in between
                // still finds the old key's file to roll back to.
                if path.exists() {
                    let backup = files::back_up(path)?;
                    self.update(|r| {
                        r.backups.push(RotationBackup {
                            path: path.clone(),
                            backup,
                        })
                    })?;
                }
                let text = render(&self.key_files, *role, key, self.ctx.region());
                let opts = WriteOptions::secret(Existing::Replace, self.owner);
                files::write_atomic(path, text.as_bytes(), opts)?;
                Ok(())
            };
            self.recorder
                .mutate(change, write, nothing_to_record, |_| format!("saved to {all}"))
                .await?;
        }
        self.update(|r| r.stage = RotationStage::Saved)
    }

    /// From a saved new key on: prove it, move the server onto it, retire the old key.
    async fn carry_on(&self, old_id: &str, new_key: AccessKey) -> Result<RotateOutcome> {
        let new_id = new_key.id.clone();
        let onto_new = async {
            self.rep.step(Step::VerifyCredentials, self.verify(&new_key)).await?;
            drop(new_key);
            if self.launch() == Launch::None {
                return Ok(None);
            }
            self.update(|r| r.server_on_new_key = true)?;
            self.rep
                .step(Step::RestartOnNewKey, self.restart(Step::RestartOnNewKey))
                .await?;
            self.retire_old(old_id).await?;
            Ok(Some(()))
        };
        match onto_new.await {
            Ok(Some(())) => {}
            Ok(None) => return self.wait_for_operator(&new_id),
            Err(e) => return Err(self.roll_back(e).await),
        }
        self.finish(old_id, &new_id).await?;
        let restarted = match (self.launch(), self.store.snapshot().server.and_then(|s| s.pid)) {
            (Launch::Background, Some(pid)) => Restarted::Background { pid },
            (Launch::Systemd, _) => Restarted::Systemd {
                unit: self.server.as_ref().map(|s| s.unit.clone()).unwrap_or_default(),
            },
            _ => Restarted::ByTheOperator,
        };
        Ok(RotateOutcome::Rotated {
            old_key_id: old_id.to_string(),
            new_key_id: new_id,
            restarted,
        })
    }

    /// Deactivates the old key and restarts: the server must unseal without it.
    async fn retire_old(&self, old_id: &str) -> Result<()> {
        let deactivate = async {
            // Recorded first: making an active key active again is harmless.
            self.update(|r| r.old_deactivated = true)?;
            set_access_key_status(
                self.ctx,
                &self.recorder,
                Step::DeactivateOldKey,
                &self.user,
                old_id,
                false,
            )
            .await
        };
        self.rep.step(Step::DeactivateOldKey, deactivate).await?;
        if self.launch() == Launch::None {
            self.rep.skipped(
                Step::RestartWithoutOldKey,
                "the server is yours to restart: it unsealed on the new key",
            );
            return Ok(());
        }
        self.rep
            .step(Step::RestartWithoutOldKey, self.restart(Step::RestartWithoutOldKey))
            .await?;
        Ok(())
    }

    /// The server runs on the new key alone: the manifest records it, then the old key goes.
    async fn finish(&self, old_id: &str, new_id: &str) -> Result<()> {
        let created_at = crate::run::manifest::now_rfc3339();
        self.store.update(|m| {
            m.access_key = Some(AccessKeyRecord {
                id: new_id.to_string(),
                user: self.user.clone(),
                created_at,
            });
            if let Some(r) = m.rotation.as_mut() {
                r.stage = RotationStage::Switched;
            }
        })?;
        let delete = async {
            delete_access_key(self.ctx, &self.recorder, Step::DeleteOldKey, &self.user, old_id).await?;
            // The backups hold the old key's secret, dead now: nothing is left to restore.
            for b in self.record()?.backups {
                let _ = files::remove_if_present(&b.backup);
            }
            self.store.update(|m| m.rotation = None)?;
            self.rep.done(
                Step::DeleteOldKey,
                format!("deleted {old_id}; {new_id} is the only key, and the manifest records it"),
            );
            Ok::<_, RunError>(())
        };
        self.rep.step(Step::DeleteOldKey, delete).await
    }

    /// Launch `none`: the new key is saved and works; the operator restarts the server.
    fn wait_for_operator(&self, new_id: &str) -> Result<RotateOutcome> {
        let (binary, config) = self
            .server
            .as_ref()
            .map_or((PathBuf::from("vault"), PathBuf::new()), |s| {
                (s.binary.clone(), s.config.clone())
            });
        let env = quote(&self.key_files.env_file.to_string_lossy());
        let restart = format!(
            "restart your server so that it reads {} again (for example: set -a; . {env}; set +a; {})",
            self.key_files.env_file.display(),
            server_command(&binary, &config::server_reads(&config))
        );
        for step in [
            Step::RestartOnNewKey,
            Step::DeactivateOldKey,
            Step::RestartWithoutOldKey,
            Step::DeleteOldKey,
        ] {
            self.rep.skipped(
                step,
                "after you restart the server, run `rotate --restarted` (the wizard: r, then Enter)",
            );
        }
        Ok(RotateOutcome::WaitingForRestart {
            new_key_id: new_id.to_string(),
            restart,
        })
    }

    /// As Vault uses it: in the shared-file style, as its SDK reads the key from the file.
    async fn verify(&self, key: &AccessKey) -> Result<()> {
        let from_profile = as_the_server_reads(&self.key_files, key).await?;
        let key = from_profile.as_ref().unwrap_or(key);
        prove_usable(self.ctx, key, &self.kms_key_arn, &self.user_arn, self.rep).await
    }

    fn client(&self) -> Result<VaultClient> {
        let given = self.opts.ca_cert.as_deref();
        let (address, ca_cert) = match &self.server {
            Some(s) => (s.address.as_str(), given.or(s.ca_cert.as_deref())),
            None => ("", given),
        };
        Ok(VaultClient::new(address, ca_cert)?)
    }

    fn watch(&self, pid: Option<u32>) -> Result<Watch<'_>> {
        Ok(Watch {
            client: self.client()?,
            pid,
            timeout: Duration::from_secs(self.ctx.conn.timing.server_start_timeout_secs),
            log: self.state_dir.join(launch::SERVER_LOG),
            launch: self.launch(),
            unit: self.server.as_ref().map(|s| s.unit.clone()).unwrap_or_default(),
            env_file: &self.key_files.env_file,
        })
    }

    /// Waits until the server is initialised, unsealed, and sealed by awskms.
    async fn wait_unsealed(&self, pid: Option<u32>) -> Result<SealStatus> {
        let status = wait_until(&self.watch(pid)?, |s| s.initialized && !s.sealed).await?;
        if status.seal_type != "awskms" {
            return Err(VaultError::Refused(format!(
                "the server unsealed with the \"{}\" seal, not awskms: it runs another config",
                status.seal_type
            ))
            .into());
        }
        Ok(status)
    }

    /// Restarts the server through its launch mode (it reads the env file as it is now)
    /// and waits until it has unsealed itself.
    async fn restart(&self, step: Step) -> Result<()> {
        let recorded = self.store.snapshot().server;
        let Some(server) = recorded.as_ref().filter(|_| self.launch() != Launch::None) else {
            self.rep.skipped(step, "the server is not autounseal's to restart");
            return Ok(());
        };
        let started = std::time::Instant::now();
        let restarted =
            lifecycle::restart(&self.recorder, step, server, &self.key_files.env_file, &self.state_dir).await?;
        let pid = match restarted {
            lifecycle::Restarted::Background { pid } => pid,
            lifecycle::Restarted::Unit | lifecycle::Restarted::NotOurs => None,
        };
        self.wait_unsealed(pid).await?;
        self.rep.done(
            step,
            format!(
                "unsealed itself through KMS in {:.1} s (seal awskms)",
                started.elapsed().as_secs_f64()
            ),
        );
        Ok(())
    }

    /// A rotation a run before this one left: goes on, or finishes its rollback. `None`
    /// when a fresh rotation is to start now.
    async fn resume(&self, earlier: RotationRecord) -> Result<Option<RotateOutcome>> {
        if earlier.rolling_back.is_some() {
            self.rep.warn(format!(
                "an earlier rotation of {} failed and was not fully rolled back: finishing that first",
                earlier.old_key_id
            ));
            self.finish_roll_back().await?;
            return Ok(None);
        }
        let old_id = earlier.old_key_id.clone();
        match earlier.stage {
            RotationStage::Creating | RotationStage::Created => {
                // The new key's secret was never saved: that key is useless.
                let why = "an earlier run stopped before the new key's secret was saved".to_string();
                self.rep.warn(format!("{why}: rolling that rotation back first"));
                self.update(|r| r.rolling_back = Some(why))?;
                self.finish_roll_back().await?;
                Ok(None)
            }
            RotationStage::Saved => {
                let saved = saved_key(&self.key_files).filter(|k| Some(&k.id) == earlier.new_key_id.as_ref());
                let Some(new_key) = saved else {
                    let why = format!("{} no longer holds the new key", self.key_files.secret_path().display());
                    self.update(|r| r.rolling_back = Some(why))?;
                    self.finish_roll_back().await?;
                    return Ok(None);
                };
                self.rep.skipped(
                    Step::CheckAccessKeys,
                    format!("going on with the rotation of {old_id} to {}", new_key.id),
                );
                self.rep
                    .skipped(Step::NewAccessKey, format!("{} was created earlier", new_key.id));
                self.rep.skipped(
                    Step::SaveCredentials,
                    format!("{} holds {}", self.key_files.secret_path().display(), new_key.id),
                );
                if self.launch() == Launch::None {
                    if !self.opts.restarted {
                        return self.wait_for_operator(&new_key.id).map(Some);
                    }
                    return self.after_operator_restart(&old_id, new_key).await.map(Some);
                }
                self.carry_on(&old_id, new_key).await.map(Some)
            }
            RotationStage::Switched => {
                let new_id = earlier.new_key_id.clone().unwrap_or_default();
                self.finish(&old_id, &new_id).await?;
                Ok(Some(RotateOutcome::Rotated {
                    old_key_id: old_id,
                    new_key_id: new_id,
                    restarted: Restarted::ByTheOperator,
                }))
            }
        }
    }

    /// Launch `none`, second run: the operator restarted the server onto the new key.
    async fn after_operator_restart(&self, old_id: &str, new_key: AccessKey) -> Result<RotateOutcome> {
        let new_id = new_key.id.clone();
        let work = async {
            self.rep.step(Step::VerifyCredentials, self.verify(&new_key)).await?;
            let check = async {
                let status = self.client()?.seal_status().await?;
                if !status.initialized || status.sealed || status.seal_type != "awskms" {
                    return Err(RunError::Other(format!(
                        "the server at {} is {} with seal \"{}\": restart it so that it reads {}, then run rotate again",
                        self.server.as_ref().map_or("", |s| s.address.as_str()),
                        if status.sealed { "sealed" } else { "unsealed" },
                        status.seal_type,
                        self.key_files.secret_path().display()
                    )));
                }
                self.rep
                    .done(Step::RestartOnNewKey, "restarted by you; unsealed (seal awskms)");
                Ok(())
            };
            self.rep.step(Step::RestartOnNewKey, check).await?;
            self.retire_old(old_id).await
        };
        if let Err(e) = work.await {
            // A server not restarted yet is no failure of the rotation: it waits.
            if self.record()?.old_deactivated {
                return Err(self.roll_back(e).await);
            }
            return Err(e);
        }
        self.finish(old_id, &new_id).await?;
        Ok(RotateOutcome::Rotated {
            old_key_id: old_id.to_string(),
            new_key_id: new_id,
            restarted: Restarted::ByTheOperator,
        })
    }

    /// Rolls back after `cause`; returns the error to end with, which says where the
    /// server is and what to do.
    async fn roll_back(&self, cause: RunError) -> RunError {
        let why = cause.to_string();
        if let Err(e) = self.update(|r| r.rolling_back = Some(why.clone())) {
            return e;
        }
        let (what, then) = match &cause {
            RunError::Interrupted { signal } => (format!("stopped by {signal}"), "Run rotate again to rotate"),
            _ => (
                format!("the rotation failed: {why}"),
                "Fix the cause and run rotate again",
            ),
        };
        match self.finish_roll_back().await {
            Ok(old_id) => RunError::Other(format!(
                "{what}. It was rolled back: the server runs on the old access key {old_id} again, the new key is \
                 deleted and the files are as before. {then}"
            )),
            Err(e) => e,
        }
    }

    /// Undoes a rotation, each part once (a re-run does only what is left); returns the
    /// old key's id. On failure, the record stays for a re-run to finish.
    async fn finish_roll_back(&self) -> Result<String> {
        let r = self.record()?;
        let why = r.rolling_back.clone().unwrap_or_default();
        // Also after a stop request (Ctrl-C): the rollback is what puts the server back.
        let result = self.rep.step_even_when_stopping(Step::RollBack, self.undo(&r)).await;
        result.map_err(|e| {
            let runs_on = match self.record() {
                Ok(now) if now.server_on_new_key => format!(
                    "The server was moved onto the new key {}, which works",
                    r.new_key_id.as_deref().unwrap_or("?")
                ),
                _ => format!("The server is on the old key {}", r.old_key_id),
            };
            RunError::Other(format!(
                "the rotation failed ({why}), and rolling it back failed too: {e}. {runs_on}. The manifest \
                 records where the rollback stopped: run `autounseal rotate` again once the cause is fixed, to \
                 finish it"
            ))
        })?;
        Ok(r.old_key_id)
    }

    async fn undo(&self, r: &RotationRecord) -> Result<()> {
        if r.old_deactivated {
            set_access_key_status(
                self.ctx,
                &self.recorder,
                Step::RollBack,
                &self.user,
                &r.old_key_id,
                true,
            )
            .await?;
            self.update(|r| r.old_deactivated = false)?;
        }
        for b in &r.backups {
            self.restore(b).await?;
            self.update(|r| r.backups.retain(|x| x != b))?;
        }
        if r.server_on_new_key {
            self.restart(Step::RollBack).await?;
            self.update(|r| r.server_on_new_key = false)?;
        }
        // The new key, and any key whose answer was lost: every key not there before.
        let listed = list_access_keys(self.ctx, &self.user).await?;
        for id in listed.iter().filter(|id| !r.keys_before.contains(id)) {
            delete_access_key(self.ctx, &self.recorder, Step::RollBack, &self.user, id).await?;
        }
        self.store.update(|m| m.rotation = None)?;
        self.rep.done(
            Step::RollBack,
            format!("back on the old access key {}; the new key is deleted", r.old_key_id),
        );
        Ok(())
    }

    /// Puts a saved form's backup (the old key) back in place.
    async fn restore(&self, b: &RotationBackup) -> Result<()> {
        let twin = format!(
            "mv {} {}",
            quote(&b.backup.to_string_lossy()),
            quote(&b.path.to_string_lossy())
        );
        let put_back = |_| async move {
            if !b.backup.exists() {
                // Restored by an earlier attempt, which stopped before recording it.
                return Ok(());
            }
            let old = Zeroizing::new(
                std::fs::read(&b.backup)
                    .map_err(|e| RunError::Other(format!("cannot read the backup {}: {e}", b.backup.display())))?,
            );
            let opts = WriteOptions::secret(Existing::Replace, self.owner);
            files::write_atomic(&b.path, &old, opts)?;
            let _ = files::remove_if_present(&b.backup);
            Ok(())
        };
        self.recorder
            .mutate(
                Change::new(
                    Step::RollBack,
                    "file:write",
                    format!("{} restored", b.path.display()),
                    twin,
                )
                .on_the_way(),
                put_back,
                nothing_to_record,
                |_| format!("{} holds the old key again", b.path.display()),
            )
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::manifest::{NamedRecord, Origin, ServerRecord};

    fn manifest() -> Manifest {
        let mut m = Manifest {
            access_key: Some(AccessKeyRecord {
                id: "AKIAOLD".into(),
                user: "vault-auto-unseal".into(),
                created_at: String::new(),
            }),
            iam_user: Some(NamedRecord {
                name: "vault-auto-unseal".into(),
                arn: "arn:aws:iam::123456789012:user/vault-auto-unseal".into(),
                origin: Origin::Created,
            }),
            ..Default::default()
        };
        m.record_file(FileRole::EnvFile, Path::new("/etc/vault.d/vault.env"), None);
        m
    }

    #[test]
    fn the_plan_names_the_files_the_restart_and_the_rollback() {
        let mut m = manifest();
        m.record_file(FileRole::CredentialsCsv, Path::new("/root/key.csv"), None);
        m.server = Some(ServerRecord {
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
            proofs: Default::default(),
            ca_cert: None,
        });
        let plan = rotate_plan(&m).join("\n");
        assert!(plan.contains("/etc/vault.d/vault.env and /root/key.csv"), "{plan}");
        assert!(plan.contains("restart openbao.service"), "{plan}");
        assert!(plan.contains("deactivate the old key AKIAOLD"), "{plan}");
        assert!(plan.contains("roll back"), "{plan}");
    }

    #[test]
    fn without_a_server_the_plan_stops_at_the_restart() {
        let plan = rotate_plan(&manifest()).join("\n");
        assert!(plan.contains("you restart the server, and run rotate again"), "{plan}");
        assert_eq!(
            rotate_plan(&Manifest::default()),
            ["nothing: the manifest records no access key"]
        );
    }

    #[test]
    fn a_rotation_under_way_keeps_the_manifest_and_round_trips() {
        let mut m = manifest();
        m.access_key = None;
        m.files.clear();
        m.iam_user = None;
        m.rotation = Some(RotationRecord {
            old_deactivated: true,
            rolling_back: Some("why".into()),
            ..RotationRecord::example()
        });
        assert!(!m.is_empty(), "a new key may still exist");
        let text = serde_json::to_string(&m).unwrap();
        let back: Manifest = serde_json::from_str(&text).unwrap();
        assert_eq!(back.rotation, m.rotation);
        assert!(RotationStage::Creating < RotationStage::Switched);
    }
}
