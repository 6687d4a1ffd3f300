//! KMS key → IAM user → policy → access key → saved credentials → proof they work.
//!
//! One code path serves `apply` and `plan`: every change goes through
//! [`Recorder::mutate`], which records the call with its AWS CLI twin and, in a plan,
//! makes none and hands on [`Applied::Planned`]. So a plan lists exactly the calls an
//! apply would make. The seams: [`kms`] (key, rotation, alias), [`iam`] (user, policy,
//! attachment), [`access_key`] (the key, its saved secret, the proof it works),
//! [`replicas`] (the key's copies in other regions), [`alarm`] (a mail when the key is
//! scheduled for deletion, disabled, locked out or left unrotated).

pub(crate) mod access_key;
mod alarm;
mod iam;
mod kms;
mod replicas;

use std::path::Path;

use aws_sdk_kms::config::http::HttpResponse;
use aws_sdk_kms::error::{ProvideErrorMetadata, SdkError};

use crate::answers::Answers;
use crate::aws::adopt::{self, Finder};
use crate::aws::context::{AwsContext, Identity};
use crate::aws::error::classify;
use crate::credentials_file::KeyFiles;
use crate::files::{self, FileError};
use crate::regions::partition;
use crate::run::manifest::{
    CreateKind, FileRole, KeyRecord, Manifest, ManifestStore, NamedRecord, Origin, PendingCreate, new_run_id,
};
use crate::run::{Applied, ApplyOptions, Call, Recorder, Reporter, Result, RunError, Step};
use crate::twins;

pub use kms::check_key_usable;

/// How often a create is sent at most when its answers keep getting lost.
const CREATE_ATTEMPTS: u32 = 3;

pub struct Provisioner<'a> {
    ctx: &'a AwsContext,
    answers: &'a Answers,
    store: &'a ManifestStore,
    rep: Reporter,
    opts: ApplyOptions,
    recorder: Recorder<'a>,
}

impl<'a> Provisioner<'a> {
    pub fn new(
        ctx: &'a AwsContext,
        answers: &'a Answers,
        store: &'a ManifestStore,
        rep: Reporter,
        opts: ApplyOptions,
    ) -> Provisioner<'a> {
        Provisioner {
            ctx,
            answers,
            store,
            recorder: Recorder::new(rep.clone(), store, opts.dry_run),
            rep,
            opts,
        }
    }

    /// Every change made (or, in a plan, that would be made), in order.
    pub fn calls(&self) -> Vec<Call> {
        self.recorder.calls()
    }

    fn err<E>(&self, action: &'static str) -> impl FnOnce(SdkError<E, HttpResponse>) -> RunError + '_
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        move |e| classify(action, &self.ctx.endpoint(), e)
    }

    /// This setup's run id (set by the identity step), tagged on what it creates.
    fn run_id(&self) -> String {
        self.store.snapshot().run_id.unwrap_or_default()
    }

    fn finder<'f>(&'f self, run_id: &'f str) -> Finder<'f> {
        Finder {
            ctx: self.ctx,
            run_id,
            rep: &self.rep,
        }
    }

    /// Sends a create that AWS does not make idempotent, its SDK retries off (`send`
    /// must use `kms_sent_once`/`iam_sent_once`). The intent is recorded first, so
    /// that a run stopped before the answer is recorded leaves a trace to follow. When an
    /// attempt may have been carried out although it failed (no answer, a dropped
    /// connection, a server fault), or the name is taken, `find` looks for what it made;
    /// only if nothing is found is the create sent again. The caller records the result
    /// and clears the intent in one manifest write (see [`recorded`]).
    async fn create_once<T, Sent, Found>(
        &self,
        action: &'static str,
        intent: PendingCreate,
        send: impl Fn() -> Sent,
        find: impl Fn() -> Found,
    ) -> Result<T>
    where
        Sent: Future<Output = Result<T>>,
        Found: Future<Output = Result<Option<T>>>,
    {
        let kind = intent.kind;
        self.store.update(|m| m.add_pending(intent))?;
        let mut attempt = 1;
        loop {
            let err = match send().await {
                Ok(made) => return Ok(made),
                Err(e) => e,
            };
            if !err.create_may_retry() && !err.is_already_exists() {
                // AWS answered no: nothing was made.
                self.store.update(|m| m.clear_pending(kind))?;
                return Err(err);
            }
            if let Some(found) = find().await? {
                self.rep.warn(format!(
                    "{action} failed ({err}), but what that attempt made was found and is used"
                ));
                return Ok(found);
            }
            if err.is_already_exists() {
                self.store.update(|m| m.clear_pending(kind))?;
                return Err(err);
            }
            if attempt >= CREATE_ATTEMPTS {
                // The intent stays: the next run looks again for what these attempts made.
                return Err(err);
            }
            self.rep.warn(format!(
                "{action} failed ({err}) and made nothing that can be found; trying again"
            ));
            tokio::time::sleep(std::time::Duration::from_secs(u64::from(attempt))).await;
            attempt += 1;
        }
    }

    /// The whole AWS part, in order, independent branches side by side.
    pub async fn run(&self) -> Result<Provisioned> {
        let identity = self.rep.step(Step::Identity, self.identity()).await?;
        self.preflight_files()?;
        // What an interrupted run sent but never recorded is found before anything new.
        adopt::resolve_pending(self.ctx, self.store, &self.rep, self.opts.dry_run).await?;
        // The key and the user do not depend on each other. Both branches run to the end
        // (join, not try_join) so that neither is dropped between a create and its record.
        let user = self.rep.step(Step::IamUser, self.ensure_user());
        let (key, user) = if self.opts.dry_run {
            // A plan only reads: one branch after the other, so that its list of changes
            // ("in this order") reads the same every time.
            let key = self.key_branch().await;
            (key, user.await)
        } else {
            tokio::join!(self.key_branch(), user)
        };
        let (key, user) = (key?, user?);
        let policy = self
            .rep
            .step(Step::IamPolicy, self.ensure_policy(&identity, &key))
            .await?;
        self.rep
            .step(Step::AttachPolicy, self.ensure_attached(&user, &policy))
            .await?;
        let access_key = self.rep.step(Step::AccessKey, self.ensure_access_key(&user)).await?;
        self.rep
            .step(Step::SaveCredentials, self.save_credentials(&access_key))
            .await?;
        self.rep
            .step(Step::VerifyCredentials, self.verify(&access_key, &key, &user))
            .await?;
        Ok(Provisioned {
            identity,
            key,
            user,
            policy,
            access_key_id: access_key.id(),
        })
    }

    async fn identity(&self) -> Result<Identity> {
        let id = self.ctx.identity().await?;
        let m = self.store.snapshot();
        let tracks_elsewhere =
            |recorded: &Option<String>, now: &str| recorded.as_deref().is_some_and(|r| r != now) && !m.is_empty();
        if tracks_elsewhere(&m.account_id, &id.account) || tracks_elsewhere(&m.region, self.ctx.region()) {
            return Err(RunError::Conflict(format!(
                "the state folder already tracks a setup in account {} region {}; run `autounseal destroy` first, \
                 or give this one its own --state-dir",
                m.account_id.as_deref().unwrap_or("?"),
                m.region.as_deref().unwrap_or("?")
            )));
        }
        self.store.update(|m| {
            m.account_id = Some(id.account.clone());
            m.region = Some(self.ctx.region().to_string());
            m.endpoint_url = self.ctx.conn.endpoint_url.clone();
            m.run_id.get_or_insert_with(new_run_id);
        })?;
        self.rep
            .done(Step::Identity, format!("{} (account {})", id.arn, id.account));
        Ok(id)
    }

    /// Before anything is created: the credentials must have somewhere to go.
    /// Read-only, so a plan runs it too.
    fn preflight_files(&self) -> Result<()> {
        let m = self.store.snapshot();
        self.keeps_the_recorded_replicas(&m)?;
        self.keeps_the_saved_key_where_it_is(&m)?;
        let current_key = m.access_key.as_ref().map(|k| k.id.as_str());
        let key_files = self.answers.output.key_files();
        let paths: Vec<&Path> = self.credential_paths(&key_files).collect();
        // Each must be a file we may write before any is read (a folder is no file).
        for path in &paths {
            files::check_writable(path)?;
        }
        let holds_current = key_files.read_key_id().as_deref() == current_key;
        for path in paths {
            // The key files are ours while they hold (or point at) the current key.
            let key_file = key_files.paths().iter().any(|(_, p)| *p == path);
            let ours_and_current = (key_file && holds_current)
                || (m.file(FileRole::CredentialsCsv).is_some_and(|f| f.path == path) && current_key.is_some());
            if path.exists() && !self.opts.overwrite_files && !ours_and_current {
                return Err(FileError::Exists { path: path.into() }.into());
            }
        }
        Ok(())
    }

    /// A replica the setup has, which the answers no longer name, would drop out of the
    /// policy while it stays (and a drill there would be refused): refused, with what to
    /// do. apply never removes a replica, the copy a recovery needs.
    fn keeps_the_recorded_replicas(&self, m: &Manifest) -> Result<()> {
        let asked = &self.answers.kms.replica_regions;
        let dropped: Vec<&str> = m
            .kms_replicas
            .iter()
            .map(|r| r.region.as_str())
            .filter(|r| !asked.iter().any(|a| a == r))
            .collect();
        if dropped.is_empty() {
            return Ok(());
        }
        Err(RunError::Conflict(format!(
            "this setup's key has a replica in {}, which kms.replica_regions no longer names. apply does not \
             remove a replica (the copy a recovery there needs): put the region back in kms.replica_regions; to \
             remove the whole setup, run `autounseal destroy`",
            dropped.join(", ")
        )))
    }

    /// Answers that keep the key elsewhere than where it is saved (the other credentials
    /// style, or another shared file or profile) would find no key there and replace one
    /// that still works: refused, with how to switch. Moving a saved key across styles is
    /// not done in place.
    fn keeps_the_saved_key_where_it_is(&self, m: &Manifest) -> Result<()> {
        let (Some(saved), Some(key)) = (m.key_files(), &m.access_key) else {
            return Ok(());
        };
        let asked = self.answers.output.key_files();
        if saved.shared == asked.shared || saved.read_key_id().as_deref() != Some(key.id.as_str()) {
            return Ok(());
        }
        Err(RunError::Conflict(format!(
            "access key {} is saved in {} (credentials style {}), but these answers keep it in {} (style {}). \
             autounseal does not move a saved key to another style: set output.credentials, \
             output.shared_credentials_file and output.credentials_profile back to what they were; or, for a \
             setup whose data you do not need, run `autounseal destroy`, then apply with the new answers",
            key.id,
            saved.secret_path().display(),
            saved.style(),
            asked.secret_path().display(),
            asked.style()
        )))
    }

    fn credential_paths<'k>(&'k self, key_files: &'k KeyFiles) -> impl Iterator<Item = &'k Path> {
        key_files
            .paths()
            .into_iter()
            .map(|(_, p)| p)
            .chain(self.answers.output.credentials_csv.as_deref())
    }
}

/// What the AWS part made, or in a plan would make.
#[derive(Debug, Clone)]
pub struct Provisioned {
    pub identity: Identity,
    pub key: Applied<KeyRecord>,
    pub user: Applied<NamedRecord>,
    pub policy: NamedRecord,
    pub access_key_id: Applied<String>,
}

/// The key and the user as front ends show them. In a plan, a key that does not exist
/// yet has no id: it reads as `<new-key-id>`; a new user's ARN is known ahead.
#[derive(Debug, Clone)]
pub struct AwsSummary {
    pub key: KeyRecord,
    pub user: NamedRecord,
}

impl Provisioned {
    pub fn summary(&self, region: &str, user_name: &str) -> AwsSummary {
        let account = &self.identity.account;
        let key = self.key.clone().done().unwrap_or_else(|| KeyRecord {
            key_id: twins::NEW_KEY_ID.into(),
            arn: planned_key_arn(region, account),
            origin: Origin::Created,
        });
        let user = self.user.clone().done().unwrap_or_else(|| NamedRecord {
            name: user_name.into(),
            arn: user_arn(region, account, user_name),
            origin: Origin::Created,
        });
        AwsSummary { key, user }
    }
}

/// The ARN a key a plan would create is shown with: it has no id yet.
fn planned_key_arn(region: &str, account: &str) -> String {
    format!(
        "arn:{}:kms:{region}:{account}:key/{}",
        partition(region),
        twins::NEW_KEY_ID
    )
}

/// The ARN IAM gives a user: known before it is made.
fn user_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:{}:iam::{account}:user/{name}", partition(region))
}

/// For [`Recorder::mutate`]: the record of a create goes in with its intent cleared.
fn recorded<T: Clone>(
    kind: CreateKind,
    slot: impl Fn(&mut crate::run::Manifest) -> &mut Option<T>,
) -> impl FnOnce(&mut crate::run::Manifest, &T) {
    move |m, made| {
        *slot(m) = Some(made.clone());
        m.clear_pending(kind);
    }
}
