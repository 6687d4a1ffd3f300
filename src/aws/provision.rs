//! KMS key → IAM user → policy → access key → saved credentials → proof they work.
//!
//! One code path serves `apply` and `plan`: every change goes through
//! [`Provisioner::change`], which records the call (with its AWS CLI twin) and, in a
//! plan, skips it and lets the flow go on with a placeholder. So a plan lists exactly
//! the calls an apply would make.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use aws_sdk_kms::config::http::HttpResponse;
use aws_sdk_kms::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kms::operation::describe_key::DescribeKeyError;
use aws_sdk_kms::types::{KeyManagerType, KeyMetadata, KeySpec, KeyState, KeyUsageType};

use crate::answers::Answers;
use crate::aws::adopt::{self, Finder, RUN_TAG_KEY, alias_record, key_record};
use crate::aws::context::{AwsContext, Identity, iam_sent_once, kms_sent_once};
use crate::aws::error::{classify, is_not_found};
use crate::aws::{policy, verify};
use crate::credentials_file;
use crate::files::{self, Existing, FileError, WriteOptions};
use crate::regions::partition;
use crate::run::events::{Call, Recorder, Reporter, Step};
use crate::run::manifest::{
    AccessKeyRecord, CreateKind, FileRole, KeyRecord, ManifestStore, NamedRecord, Origin, PendingCreate, new_run_id,
};
use crate::run::{ApplyOptions, Result, RunError};
use crate::secrets::AccessKey;
use crate::twins::{TAG_KEY, TAG_VALUE, aws_command, create_key_command, quote};

/// How often a create is sent at most when its answers keep getting lost.
const CREATE_ATTEMPTS: u32 = 3;

/// Stand-ins a plan uses for what does not exist yet.
pub const NEW_KEY_ID: &str = "<new-key-id>";
const NEW_ACCESS_KEY_ID: &str = "<new-access-key-id>";

/// What exists once the AWS part is through.
#[derive(Debug, Clone)]
pub struct Provisioned {
    pub identity: Identity,
    pub key: KeyRecord,
    pub user: NamedRecord,
    pub policy: NamedRecord,
    pub access_key_id: String,
}

pub struct Provisioner<'a> {
    ctx: &'a AwsContext,
    answers: &'a Answers,
    store: &'a ManifestStore,
    rep: Reporter,
    opts: ApplyOptions,
    recorder: Recorder,
    /// In a plan: the user does not exist yet, so there is nothing of it to list.
    user_is_planned: AtomicBool,
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
            recorder: Recorder::new(rep.clone(), opts.dry_run),
            rep,
            opts,
            user_is_planned: AtomicBool::new(false),
        }
    }

    /// Every change made (or, in a plan, that would be made), in order.
    pub fn calls(&self) -> Vec<Call> {
        self.recorder.calls()
    }

    fn change(&self, action: &str, detail: impl Into<String>, command: impl Into<String>) -> bool {
        self.recorder.change(action, detail, command)
    }

    fn aws_cli(&self, args: &[&str], regional: bool) -> String {
        let region = regional.then(|| self.ctx.region());
        aws_command(args, region, self.ctx.conn.endpoint_url.as_deref())
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
    /// must use [`kms_sent_once`]/[`iam_sent_once`]). The intent is recorded first, so
    /// that a run stopped before the answer is recorded leaves a trace to follow. When an
    /// attempt may have been carried out although it failed (no answer, a dropped
    /// connection, a server fault), or the name is taken, `find` looks for what it made;
    /// only if nothing is found is the create sent again. The caller records the result
    /// and clears the intent in one manifest write.
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
        let (key, user) = tokio::join!(
            self.key_branch(&identity),
            self.rep.step(Step::IamUser, self.ensure_user(&identity))
        );
        let (key, user) = (key?, user?);
        let policy = self
            .rep
            .step(Step::IamPolicy, self.ensure_policy(&identity, &key))
            .await?;
        self.rep
            .step(Step::AttachPolicy, self.ensure_attached(&user, &policy))
            .await?;
        let (access_key, fresh) = self.rep.step(Step::AccessKey, self.ensure_access_key(&user)).await?;
        self.rep
            .step(Step::SaveCredentials, self.save_credentials(&access_key, &user, fresh))
            .await?;
        self.rep
            .step(Step::VerifyCredentials, self.verify(&access_key, &key, &user))
            .await?;
        Ok(Provisioned {
            identity,
            key,
            user,
            policy,
            access_key_id: access_key.id.clone(),
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
    fn preflight_files(&self) -> Result<()> {
        if self.opts.dry_run {
            return Ok(());
        }
        let m = self.store.snapshot();
        let current_key = m.access_key.as_ref().map(|k| k.id.as_str());
        for path in self.credential_paths() {
            files::check_writable(path)?;
            let ours_and_current = credentials_file::read_env_key_id(path).as_deref() == current_key
                || (m.file(FileRole::CredentialsCsv).is_some_and(|f| f.path == path) && current_key.is_some());
            if path.exists() && !self.opts.overwrite_files && !ours_and_current {
                return Err(FileError::Exists { path: path.into() }.into());
            }
        }
        Ok(())
    }

    fn credential_paths(&self) -> impl Iterator<Item = &Path> {
        std::iter::once(self.answers.output.env_file.as_path()).chain(self.answers.output.credentials_csv.as_deref())
    }

    // ---- KMS ---------------------------------------------------------------------

    async fn key_branch(&self, identity: &Identity) -> Result<KeyRecord> {
        let key = self.rep.step(Step::KmsKey, self.ensure_key(identity)).await?;
        self.rep.step(Step::KeyRotation, self.ensure_rotation(&key)).await?;
        self.rep.step(Step::KmsAlias, self.ensure_alias(&key)).await?;
        Ok(key)
    }

    async fn describe_key(
        &self,
        key: &str,
    ) -> std::result::Result<KeyMetadata, SdkError<DescribeKeyError, HttpResponse>> {
        let out = self.ctx.kms.describe_key().key_id(key).send().await?;
        Ok(out.key_metadata.expect("DescribeKey always returns metadata"))
    }

    async fn ensure_key(&self, identity: &Identity) -> Result<KeyRecord> {
        let kms = &self.answers.kms;
        if !kms.create {
            let wanted = kms.key_id.as_deref().unwrap_or_default();
            let meta = self
                .describe_key(wanted)
                .await
                .map_err(|e| self.key_lookup_error(wanted, e))?;
            check_key_usable(wanted, &meta)?;
            let record = key_record(&meta, Origin::Reused);
            self.store.update(|m| m.kms_key = Some(record.clone()))?;
            self.rep
                .done(Step::KmsKey, format!("reusing {} ({})", wanted, record.arn));
            return Ok(record);
        }
        // A key an earlier run created.
        if let Some(rec) = self.store.snapshot().kms_key {
            match self.describe_key(&rec.key_id).await {
                Ok(meta) => {
                    check_key_usable(&rec.key_id, &meta)?;
                    self.rep
                        .skipped(Step::KmsKey, format!("{} exists from an earlier run", rec.key_id));
                    return Ok(rec);
                }
                Err(e) if is_not_found(&e) => {
                    self.rep.warn(format!(
                        "the key {} recorded earlier no longer exists; creating a new one",
                        rec.key_id
                    ));
                    self.store.update(|m| m.kms_key = None)?;
                }
                Err(e) => return Err(self.err("kms:DescribeKey")(e)),
            }
        }
        // The alias may already name a key: ours from a lost manifest, or somebody else's.
        match self.describe_key(&kms.alias).await {
            Ok(meta) => {
                if !self.key_is_ours(&meta.key_id).await? {
                    return Err(RunError::Conflict(format!(
                        "the alias {alias} already points at key {id}, which autounseal did not create. Choose another \
                         alias, or reuse that key with kms.create = false and kms.key_id = \"{alias}\"",
                        alias = kms.alias,
                        id = meta.key_id
                    )));
                }
                check_key_usable(&kms.alias, &meta)?;
                let record = key_record(&meta, Origin::Created);
                self.store.update(|m| m.kms_key = Some(record.clone()))?;
                self.rep.skipped(
                    Step::KmsKey,
                    format!("{} ({}) was made by autounseal earlier", record.key_id, kms.alias),
                );
                return Ok(record);
            }
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(self.err("kms:DescribeKey")(e)),
        }
        let cmd = create_key_command(
            &kms.description,
            self.ctx.region(),
            self.ctx.conn.endpoint_url.as_deref(),
        );
        if !self.change("kms:CreateKey", "symmetric ENCRYPT_DECRYPT key", cmd) {
            return Ok(KeyRecord {
                key_id: NEW_KEY_ID.into(),
                arn: format!(
                    "arn:{}:kms:{}:{}:key/{NEW_KEY_ID}",
                    partition(self.ctx.region()),
                    self.ctx.region(),
                    identity.account
                ),
                origin: Origin::Created,
            });
        }
        let run_id = &self.run_id();
        let kms_tag = |key: &str, value: &str| {
            aws_sdk_kms::types::Tag::builder()
                .tag_key(key)
                .tag_value(value)
                .build()
                .expect("both tag fields set")
        };
        let send = move || async move {
            let out = self
                .ctx
                .kms
                .create_key()
                .key_spec(KeySpec::SymmetricDefault)
                .key_usage(KeyUsageType::EncryptDecrypt)
                .description(&kms.description)
                .tags(kms_tag(TAG_KEY, TAG_VALUE))
                .tags(kms_tag(RUN_TAG_KEY, run_id))
                .customize()
                .config_override(kms_sent_once())
                .send()
                .await
                .map_err(self.err("kms:CreateKey"))?;
            Ok(out.key_metadata.expect("CreateKey returns metadata"))
        };
        let find = move || async move {
            let finder = self.finder(run_id);
            let mut keys = finder.keys_of_run().await?;
            if keys.is_empty() {
                return Ok(None);
            }
            let first = keys.remove(0);
            finder.retire_spare_keys(&keys).await?;
            Ok(Some(first))
        };
        let intent = PendingCreate::new(CreateKind::KmsKey, None);
        let meta = self.create_once("kms:CreateKey", intent, send, find).await?;
        let record = key_record(&meta, Origin::Created);
        self.store.update(|m| {
            m.kms_key = Some(record.clone());
            m.clear_pending(CreateKind::KmsKey);
        })?;
        self.rep.done(Step::KmsKey, format!("created {}", record.arn));
        Ok(record)
    }

    fn key_lookup_error(&self, wanted: &str, e: SdkError<DescribeKeyError, HttpResponse>) -> RunError {
        if is_not_found(&e) {
            RunError::NotFound(format!(
                "the KMS key {wanted} was not found in {region}. If it lives in another region, choose that region \
                 (the key and Vault's seal must share one); otherwise check the id or alias for typos",
                region = self.ctx.region()
            ))
        } else {
            self.err("kms:DescribeKey")(e)
        }
    }

    async fn key_is_ours(&self, key_id: &str) -> Result<bool> {
        let out = self
            .ctx
            .kms
            .list_resource_tags()
            .key_id(key_id)
            .send()
            .await
            .map_err(self.err("kms:ListResourceTags"))?;
        Ok(out
            .tags()
            .iter()
            .any(|t| t.tag_key() == TAG_KEY && t.tag_value() == TAG_VALUE))
    }

    async fn ensure_rotation(&self, key: &KeyRecord) -> Result<()> {
        if !self.answers.kms.rotation {
            self.rep
                .skipped(Step::KeyRotation, "rotation not asked for (kms.rotation = false)");
            return Ok(());
        }
        if key.key_id != NEW_KEY_ID {
            let status = self
                .ctx
                .kms
                .get_key_rotation_status()
                .key_id(&key.key_id)
                .send()
                .await
                .map_err(self.err("kms:GetKeyRotationStatus"))?;
            if status.key_rotation_enabled() {
                self.rep.skipped(Step::KeyRotation, "already on");
                return Ok(());
            }
        }
        let cmd = self.aws_cli(&["kms", "enable-key-rotation", "--key-id", &key.key_id], true);
        if self.change("kms:EnableKeyRotation", "rotate the key material every year", cmd) {
            let result = self.ctx.kms.enable_key_rotation().key_id(&key.key_id).send().await;
            match result.map_err(self.err("kms:EnableKeyRotation")) {
                Ok(_) => {}
                // Somebody else's key may not let us change it; the seal works regardless.
                Err(RunError::AccessDenied { .. }) if key.origin == Origin::Reused => {
                    self.rep.warn(format!(
                        "could not turn on rotation for {}: ask its owner to",
                        key.key_id
                    ));
                    return Ok(());
                }
                Err(e) => return Err(e),
            }
        }
        self.rep.done(Step::KeyRotation, "on (yearly)");
        Ok(())
    }

    async fn ensure_alias(&self, key: &KeyRecord) -> Result<()> {
        let alias = &self.answers.kms.alias;
        if key.origin == Origin::Reused {
            self.rep.skipped(
                Step::KmsAlias,
                "reusing an existing key: its aliases are left as they are",
            );
            return Ok(());
        }
        match self.describe_key(alias).await {
            Ok(meta) if meta.key_id == key.key_id => {
                self.rep
                    .skipped(Step::KmsAlias, format!("{alias} already names the key"));
                self.store.update(|m| {
                    m.kms_alias.get_or_insert(alias_record(key, alias));
                })?;
                return Ok(());
            }
            Ok(meta) => {
                return Err(RunError::Conflict(format!(
                    "the alias {alias} already points at another key ({}); choose another alias",
                    meta.key_id
                )));
            }
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(self.err("kms:DescribeKey")(e)),
        }
        let cmd = self.aws_cli(
            &[
                "kms",
                "create-alias",
                "--alias-name",
                alias,
                "--target-key-id",
                &key.key_id,
            ],
            true,
        );
        if self.change("kms:CreateAlias", alias.clone(), cmd) {
            let send = move || async move {
                self.ctx
                    .kms
                    .create_alias()
                    .alias_name(alias)
                    .target_key_id(&key.key_id)
                    .customize()
                    .config_override(kms_sent_once())
                    .send()
                    .await
                    .map_err(self.err("kms:CreateAlias"))?;
                Ok(alias_record(key, alias))
            };
            let run_id = &self.run_id();
            let find = move || async move { self.finder(run_id).alias_of_key(alias, key).await };
            let intent = PendingCreate::new(CreateKind::KmsAlias, Some(alias));
            let record = self.create_once("kms:CreateAlias", intent, send, find).await?;
            self.store.update(|m| {
                m.kms_alias = Some(record);
                m.clear_pending(CreateKind::KmsAlias);
            })?;
        }
        self.rep.done(Step::KmsAlias, alias.clone());
        Ok(())
    }

    // ---- IAM ---------------------------------------------------------------------

    async fn ensure_user(&self, identity: &Identity) -> Result<NamedRecord> {
        let name = &self.answers.iam.user_name;
        match self.ctx.iam.get_user().user_name(name).send().await {
            Ok(out) => {
                let user = out.user.expect("GetUser returns the user");
                let recorded = self.store.snapshot().iam_user.filter(|u| &u.name == name);
                let tagged = user.tags().iter().any(|t| t.key() == TAG_KEY && t.value() == TAG_VALUE);
                let origin = match recorded {
                    Some(r) => r.origin,
                    None if tagged => Origin::Created,
                    None => Origin::Reused,
                };
                let record = NamedRecord {
                    name: name.clone(),
                    arn: user.arn().to_string(),
                    origin,
                };
                self.store.update(|m| m.iam_user = Some(record.clone()))?;
                if origin == Origin::Reused {
                    self.rep.warn(format!(
                        "IAM user {name} existed before autounseal: it is reused, and `destroy` will leave it. \
                         It should be used by Vault and nothing else"
                    ));
                    self.warn_if_console_login(name).await?;
                }
                self.rep.skipped(Step::IamUser, format!("{} exists", record.arn));
                Ok(record)
            }
            Err(e) if is_not_found(&e) => {
                let cmd = self.aws_cli(
                    &[
                        "iam",
                        "create-user",
                        "--user-name",
                        name,
                        "--tags",
                        &format!("Key={TAG_KEY},Value={TAG_VALUE}"),
                    ],
                    false,
                );
                if !self.change("iam:CreateUser", format!("{name}, programmatic access only"), cmd) {
                    self.user_is_planned.store(true, Ordering::Relaxed);
                    return Ok(NamedRecord {
                        name: name.clone(),
                        arn: format!(
                            "arn:{}:iam::{}:user/{name}",
                            partition(self.ctx.region()),
                            identity.account
                        ),
                        origin: Origin::Created,
                    });
                }
                let run_id = &self.run_id();
                let send = move || async move {
                    let out = self
                        .ctx
                        .iam
                        .create_user()
                        .user_name(name)
                        .tags(iam_tag(TAG_KEY, TAG_VALUE))
                        .tags(iam_tag(RUN_TAG_KEY, run_id))
                        .customize()
                        .config_override(iam_sent_once())
                        .send()
                        .await
                        .map_err(self.err("iam:CreateUser"))?;
                    let user = out.user.expect("CreateUser returns the user");
                    Ok(NamedRecord {
                        name: name.clone(),
                        arn: user.arn().to_string(),
                        origin: Origin::Created,
                    })
                };
                let find = move || async move { self.finder(run_id).user_of_run(name).await };
                let intent = PendingCreate::new(CreateKind::IamUser, Some(name));
                let record = self.create_once("iam:CreateUser", intent, send, find).await?;
                self.store.update(|m| {
                    m.iam_user = Some(record.clone());
                    m.clear_pending(CreateKind::IamUser);
                })?;
                self.rep.done(Step::IamUser, format!("created {}", record.arn));
                Ok(record)
            }
            Err(e) => Err(self.err("iam:GetUser")(e)),
        }
    }

    async fn warn_if_console_login(&self, name: &str) -> Result<()> {
        match self.ctx.iam.get_login_profile().user_name(name).send().await {
            Ok(_) => {
                self.rep.warn(format!(
                    "IAM user {name} can sign in to the AWS console; the unseal user should have programmatic access only \
                     (`aws iam delete-login-profile --user-name {name}`)"
                ));
                Ok(())
            }
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(self.err("iam:GetLoginProfile")(e)),
        }
    }

    async fn ensure_policy(&self, identity: &Identity, key: &KeyRecord) -> Result<NamedRecord> {
        let name = &self.answers.iam.policy_name;
        let arn = format!(
            "arn:{}:iam::{}:policy/{name}",
            partition(self.ctx.region()),
            identity.account
        );
        let wanted = policy::document(&key.arn);
        let wanted_text = policy::document_text(&key.arn);
        let recorded = self.store.snapshot().iam_policy.filter(|p| p.arn == arn);
        match self.ctx.iam.get_policy().policy_arn(&arn).send().await {
            Ok(out) => {
                let found = out.policy.expect("GetPolicy returns the policy");
                let tagged = found
                    .tags()
                    .iter()
                    .any(|t| t.key() == TAG_KEY && t.value() == TAG_VALUE);
                let origin = match recorded {
                    Some(r) => r.origin,
                    None if tagged => Origin::Created,
                    None => Origin::Reused,
                };
                let record = NamedRecord {
                    name: name.clone(),
                    arn: arn.clone(),
                    origin,
                };
                let current = self
                    .policy_document(&arn, found.default_version_id().unwrap_or("v1"))
                    .await?;
                if current == wanted {
                    self.store.update(|m| m.iam_policy = Some(record.clone()))?;
                    self.rep.skipped(
                        Step::IamPolicy,
                        format!("{arn} already grants exactly what Vault needs"),
                    );
                    return Ok(record);
                }
                if origin == Origin::Reused {
                    return Err(RunError::Conflict(format!(
                        "the IAM policy {name} exists with a different document and autounseal did not create it; \
                         choose another iam.policy_name"
                    )));
                }
                self.replace_policy_document(&arn, &wanted_text).await?;
                self.store.update(|m| m.iam_policy = Some(record.clone()))?;
                self.rep
                    .done(Step::IamPolicy, format!("updated {arn} to the current key"));
                Ok(record)
            }
            Err(e) if is_not_found(&e) => {
                let cmd = self.aws_cli(
                    &[
                        "iam",
                        "create-policy",
                        "--policy-name",
                        name,
                        "--policy-document",
                        "file://policy.json",
                    ],
                    false,
                );
                let record = NamedRecord {
                    name: name.clone(),
                    arn: arn.clone(),
                    origin: Origin::Created,
                };
                if self.change("iam:CreatePolicy", name.clone(), cmd) {
                    let run_id = &self.run_id();
                    let (arn, record, wanted_text) = (&arn, &record, &wanted_text);
                    let send = move || async move {
                        self.ctx
                            .iam
                            .create_policy()
                            .policy_name(name)
                            .policy_document(wanted_text)
                            .description("Lets Vault's awskms seal use one KMS key (created by autounseal)")
                            .tags(iam_tag(TAG_KEY, TAG_VALUE))
                            .tags(iam_tag(RUN_TAG_KEY, run_id))
                            .customize()
                            .config_override(iam_sent_once())
                            .send()
                            .await
                            .map_err(self.err("iam:CreatePolicy"))?;
                        Ok(record.clone())
                    };
                    let find = move || async move { self.finder(run_id).policy_of_run(name, arn).await };
                    let intent = PendingCreate::new(CreateKind::IamPolicy, Some(name));
                    self.create_once("iam:CreatePolicy", intent, send, find).await?;
                    self.store.update(|m| {
                        m.iam_policy = Some(record.clone());
                        m.clear_pending(CreateKind::IamPolicy);
                    })?;
                }
                self.rep.done(Step::IamPolicy, format!("created {arn}"));
                Ok(record)
            }
            Err(e) => Err(self.err("iam:GetPolicy")(e)),
        }
    }

    async fn policy_document(&self, arn: &str, version: &str) -> Result<serde_json::Value> {
        let out = self
            .ctx
            .iam
            .get_policy_version()
            .policy_arn(arn)
            .version_id(version)
            .send()
            .await
            .map_err(self.err("iam:GetPolicyVersion"))?;
        let raw = out.policy_version.and_then(|v| v.document).unwrap_or_default();
        // IAM returns the document URL-encoded.
        let text = urlencoding::decode(&raw).map(|s| s.into_owned()).unwrap_or(raw);
        serde_json::from_str(&text)
            .map_err(|e| RunError::Other(format!("the policy {arn} has a document that is not JSON: {e}")))
    }

    /// A new default version; IAM keeps five at most, so the oldest spare one goes first.
    async fn replace_policy_document(&self, arn: &str, document: &str) -> Result<()> {
        let versions = self
            .ctx
            .iam
            .list_policy_versions()
            .policy_arn(arn)
            .send()
            .await
            .map_err(self.err("iam:ListPolicyVersions"))?;
        let oldest_spare = versions
            .versions()
            .iter()
            .filter(|v| !v.is_default_version())
            .min_by_key(|v| v.create_date().map(|d| d.secs()));
        if versions.versions().len() >= 5
            && let Some(oldest) = oldest_spare
        {
            let id = oldest.version_id().unwrap_or_default();
            let cmd = self.aws_cli(
                &["iam", "delete-policy-version", "--policy-arn", arn, "--version-id", id],
                false,
            );
            if self.change("iam:DeletePolicyVersion", id.to_string(), cmd) {
                self.ctx
                    .iam
                    .delete_policy_version()
                    .policy_arn(arn)
                    .version_id(id)
                    .send()
                    .await
                    .map_err(self.err("iam:DeletePolicyVersion"))?;
            }
        }
        let cmd = self.aws_cli(
            &[
                "iam",
                "create-policy-version",
                "--policy-arn",
                arn,
                "--policy-document",
                "file://policy.json",
                "--set-as-default",
            ],
            false,
        );
        if self.change("iam:CreatePolicyVersion", document.to_string(), cmd) {
            self.ctx
                .iam
                .create_policy_version()
                .policy_arn(arn)
                .policy_document(document)
                .set_as_default(true)
                .send()
                .await
                .map_err(self.err("iam:CreatePolicyVersion"))?;
        }
        Ok(())
    }

    async fn ensure_attached(&self, user: &NamedRecord, policy: &NamedRecord) -> Result<()> {
        let attached = if self.user_is_planned.load(Ordering::Relaxed) {
            Vec::new()
        } else {
            let out = self
                .ctx
                .iam
                .list_attached_user_policies()
                .user_name(&user.name)
                .send()
                .await
                .map_err(self.err("iam:ListAttachedUserPolicies"))?;
            out.attached_policies()
                .iter()
                .filter_map(|p| p.policy_arn().map(String::from))
                .collect()
        };
        let others: Vec<_> = attached.iter().filter(|a| **a != policy.arn).cloned().collect();
        if !others.is_empty() {
            self.rep.warn(format!(
                "IAM user {} also has {}: an unseal user should hold only the KMS policy",
                user.name,
                others.join(", ")
            ));
        }
        if attached.contains(&policy.arn) {
            self.rep.skipped(Step::AttachPolicy, "already attached");
            return Ok(());
        }
        let cmd = self.aws_cli(
            &[
                "iam",
                "attach-user-policy",
                "--user-name",
                &user.name,
                "--policy-arn",
                &policy.arn,
            ],
            false,
        );
        if self.change("iam:AttachUserPolicy", format!("{} → {}", policy.name, user.name), cmd) {
            // Attaching twice is harmless, so the SDK may retry; the intent is still
            // recorded, so that a lost answer does not leave the attachment unrecorded.
            let send = move || async move {
                self.ctx
                    .iam
                    .attach_user_policy()
                    .user_name(&user.name)
                    .policy_arn(&policy.arn)
                    .send()
                    .await
                    .map_err(self.err("iam:AttachUserPolicy"))?;
                Ok(())
            };
            let run_id = &self.run_id();
            let find = move || async move {
                let attached = self.finder(run_id).is_attached(&user.name, &policy.arn).await?;
                Ok(attached.then_some(()))
            };
            let intent = PendingCreate::new(CreateKind::AttachPolicy, Some(&policy.name));
            self.create_once("iam:AttachUserPolicy", intent, send, find).await?;
            self.store.update(|m| {
                m.policy_attached = true;
                m.clear_pending(CreateKind::AttachPolicy);
            })?;
        }
        self.rep
            .done(Step::AttachPolicy, format!("{} → {}", policy.name, user.name));
        Ok(())
    }

    // ---- access key --------------------------------------------------------------

    /// The access key Vault will use, and whether it was created just now.
    async fn ensure_access_key(&self, user: &NamedRecord) -> Result<(AccessKey, bool)> {
        let env_file = &self.answers.output.env_file;
        let mut listed = if self.user_is_planned.load(Ordering::Relaxed) {
            Vec::new()
        } else {
            self.list_access_keys(&user.name).await?
        };
        if let Some(rec) = self.store.snapshot().access_key.filter(|k| k.user == user.name) {
            if listed.contains(&rec.id) {
                let saved = credentials_file::read_env_key(env_file).filter(|k| k.id == rec.id);
                let csv_ok = self.answers.output.credentials_csv.as_deref().is_none_or(Path::exists);
                if let (Some(key), true) = (saved, csv_ok) {
                    self.rep.skipped(
                        Step::AccessKey,
                        format!("{} is saved in {}", rec.id, env_file.display()),
                    );
                    return Ok((key, false));
                }
                // Its secret is gone (the file was removed or changed): the key is useless.
                self.rep.warn(format!(
                    "the secret of access key {} is no longer in {}; replacing the key",
                    rec.id,
                    env_file.display()
                ));
                self.delete_access_key(&user.name, &rec.id).await?;
                listed.retain(|id| *id != rec.id);
            } else {
                self.store.update(|m| m.access_key = None)?;
            }
        }
        if listed.len() >= 2 {
            match self
                .answers
                .iam
                .replace_access_key
                .as_ref()
                .filter(|r| listed.contains(r))
            {
                Some(victim) => {
                    self.rep.warn(format!(
                        "deleting access key {victim} of {} to make room, as asked",
                        user.name
                    ));
                    self.delete_access_key(&user.name, victim).await?;
                }
                None => {
                    return Err(RunError::AccessKeyLimit {
                        user: user.name.clone(),
                        keys: listed,
                    });
                }
            }
        }
        let cmd = self.aws_cli(&["iam", "create-access-key", "--user-name", &user.name], false);
        if !self.change(
            "iam:CreateAccessKey",
            format!("for {}; its secret is shown once and saved at once", user.name),
            cmd,
        ) {
            return Ok((AccessKey::new(NEW_ACCESS_KEY_ID, ""), true));
        }
        let send = move || async move {
            let out = self
                .ctx
                .iam
                .create_access_key()
                .user_name(&user.name)
                .customize()
                .config_override(iam_sent_once())
                .send()
                .await
                .map_err(self.err("iam:CreateAccessKey"))?;
            Ok(out.access_key.expect("CreateAccessKey returns the key"))
        };
        // A key whose answer was lost cannot be used (its secret came only in that
        // answer): it is deleted, never adopted, and a new one is made.
        let run_id = &self.run_id();
        let listed = &listed;
        let find = move || async move {
            let finder = self.finder(run_id);
            finder.delete_lost_access_keys(&user.name, listed, None).await?;
            Ok(None)
        };
        let intent = PendingCreate {
            access_keys_before: listed.to_vec(),
            ..PendingCreate::new(CreateKind::AccessKey, Some(&user.name))
        };
        let mut created = self.create_once("iam:CreateAccessKey", intent, send, find).await?;
        // Moved out of the SDK's answer (not cloned) into a string that wipes itself.
        let secret = zeroize::Zeroizing::new(std::mem::take(&mut created.secret_access_key));
        let key = AccessKey::new(created.access_key_id(), &secret);
        let record = AccessKeyRecord {
            id: key.id.clone(),
            user: user.name.clone(),
            created_at: created.create_date().map(|d| d.to_string()).unwrap_or_default(),
        };
        self.store.update(|m| {
            m.access_key = Some(record);
            m.clear_pending(CreateKind::AccessKey);
        })?;
        self.rep.done(Step::AccessKey, format!("created {}", key.id));
        Ok((key, true))
    }

    async fn list_access_keys(&self, user: &str) -> Result<Vec<String>> {
        let out = self
            .ctx
            .iam
            .list_access_keys()
            .user_name(user)
            .send()
            .await
            .map_err(self.err("iam:ListAccessKeys"))?;
        Ok(out
            .access_key_metadata()
            .iter()
            .filter_map(|k| k.access_key_id().map(String::from))
            .collect())
    }

    async fn delete_access_key(&self, user: &str, id: &str) -> Result<()> {
        let cmd = self.aws_cli(
            &["iam", "delete-access-key", "--user-name", user, "--access-key-id", id],
            false,
        );
        if self.change("iam:DeleteAccessKey", id.to_string(), cmd) {
            self.ctx
                .iam
                .delete_access_key()
                .user_name(user)
                .access_key_id(id)
                .send()
                .await
                .map_err(self.err("iam:DeleteAccessKey"))?;
            self.store.update(|m| {
                if m.access_key.as_ref().is_some_and(|k| k.id == id) {
                    m.access_key = None;
                }
            })?;
        }
        Ok(())
    }

    /// Saves a new key's secret before anything else can fail. If it cannot be saved,
    /// the key is deleted again: a key whose secret is lost is only a liability.
    async fn save_credentials(&self, key: &AccessKey, user: &NamedRecord, fresh: bool) -> Result<()> {
        if !fresh {
            self.rep.skipped(
                Step::SaveCredentials,
                format!("{} holds the key", self.answers.output.env_file.display()),
            );
            return Ok(());
        }
        let existing = if self.opts.overwrite_files {
            Existing::BackupAndReplace
        } else {
            Existing::Refuse
        };
        let outputs = [
            (FileRole::EnvFile, Some(&self.answers.output.env_file)),
            (FileRole::CredentialsCsv, self.answers.output.credentials_csv.as_ref()),
        ];
        let mut saved = Vec::new();
        for (role, path) in outputs {
            let Some(path) = path else { continue };
            let cmd = format!(
                "install -m 0600 -o vault -g vault /dev/stdin {}",
                quote(&path.to_string_lossy())
            );
            if !self.change("file:write", format!("{} (mode 0600)", path.display()), cmd) {
                continue;
            }
            let text = match role {
                FileRole::EnvFile => credentials_file::render_env(key, self.ctx.region()),
                _ => credentials_file::render_csv(key),
            };
            match files::write_atomic(path, text.as_bytes(), WriteOptions::secret(existing)) {
                Ok(written) => {
                    self.store
                        .update(|m| m.record_file(role, path, written.backup.clone()))?;
                    if let Some(b) = &written.backup {
                        self.rep
                            .warn(format!("the old {} was kept as {}", path.display(), b.display()));
                    }
                    saved.push(path.display().to_string());
                }
                Err(e) => {
                    self.delete_access_key(&user.name, &key.id).await?;
                    return Err(RunError::Other(format!(
                        "{e}. The new access key {} was deleted again, since its secret could not be saved; \
                         fix this and run again",
                        key.id
                    )));
                }
            }
        }
        self.rep
            .done(Step::SaveCredentials, format!("saved to {}", saved.join(" and ")));
        Ok(())
    }

    async fn verify(&self, key: &AccessKey, kms_key: &KeyRecord, user: &NamedRecord) -> Result<()> {
        if self.opts.dry_run {
            self.rep.skipped(
                Step::VerifyCredentials,
                "then, as the new key: sts:GetCallerIdentity, kms:DescribeKey, kms:Encrypt, kms:Decrypt",
            );
            return Ok(());
        }
        let waited =
            verify::wait_until_usable(self.ctx, key, &kms_key.arn, &user.arn, &self.ctx.conn.timing, &self.rep).await?;
        self.rep.done(
            Step::VerifyCredentials,
            format!(
                "Vault's calls work with {} (after {:.1} s)",
                key.id,
                waited.as_secs_f64()
            ),
        );
        Ok(())
    }
}

fn iam_tag(key: &str, value: &str) -> aws_sdk_iam::types::Tag {
    aws_sdk_iam::types::Tag::builder()
        .key(key)
        .value(value)
        .build()
        .expect("both tag fields set")
}

/// Vault's awskms seal needs an enabled, customer-managed, symmetric encryption key.
pub fn check_key_usable(name: &str, meta: &KeyMetadata) -> Result<()> {
    let state = meta.key_state.clone().unwrap_or(KeyState::Unavailable);
    match state {
        KeyState::Enabled => {}
        KeyState::Disabled => {
            return Err(RunError::Unsuitable(format!(
                "the KMS key {name} is disabled; enable it (`aws kms enable-key --key-id {}`) or choose another key",
                meta.key_id
            )));
        }
        KeyState::PendingDeletion | KeyState::PendingReplicaDeletion => {
            return Err(RunError::Unsuitable(format!(
                "the KMS key {name} is scheduled for deletion; cancel it (`aws kms cancel-key-deletion --key-id {id}` \
                 then `aws kms enable-key --key-id {id}`) or choose another key",
                id = meta.key_id
            )));
        }
        other => {
            return Err(RunError::Unsuitable(format!(
                "the KMS key {name} is in state {}; Vault needs an enabled key",
                other.as_str()
            )));
        }
    }
    if meta.key_manager == Some(KeyManagerType::Aws) {
        return Err(RunError::Unsuitable(format!(
            "the KMS key {name} is managed by AWS; its key policy cannot let Vault's user in. Use a customer managed key"
        )));
    }
    let spec = meta.key_spec.clone().unwrap_or(KeySpec::SymmetricDefault);
    let usage = meta.key_usage.clone().unwrap_or(KeyUsageType::EncryptDecrypt);
    if spec != KeySpec::SymmetricDefault || usage != KeyUsageType::EncryptDecrypt {
        return Err(RunError::Unsuitable(format!(
            "the KMS key {name} is {} for {}; Vault's awskms seal needs a symmetric key (SYMMETRIC_DEFAULT) for ENCRYPT_DECRYPT",
            spec.as_str(),
            usage.as_str()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(state: KeyState, spec: KeySpec, usage: KeyUsageType) -> KeyMetadata {
        KeyMetadata::builder()
            .key_id("k")
            .key_state(state)
            .key_spec(spec)
            .key_usage(usage)
            .key_manager(KeyManagerType::Customer)
            .build()
            .unwrap()
    }

    #[test]
    fn usable_keys() {
        check_key_usable(
            "k",
            &meta(
                KeyState::Enabled,
                KeySpec::SymmetricDefault,
                KeyUsageType::EncryptDecrypt,
            ),
        )
        .unwrap();
        let disabled = check_key_usable(
            "k",
            &meta(
                KeyState::Disabled,
                KeySpec::SymmetricDefault,
                KeyUsageType::EncryptDecrypt,
            ),
        );
        assert!(disabled.unwrap_err().to_string().contains("enable-key"));
        let rsa = check_key_usable(
            "k",
            &meta(KeyState::Enabled, KeySpec::Rsa2048, KeyUsageType::EncryptDecrypt),
        );
        assert!(rsa.unwrap_err().to_string().contains("symmetric"));
        let hmac = check_key_usable(
            "k",
            &meta(KeyState::Enabled, KeySpec::Hmac256, KeyUsageType::GenerateVerifyMac),
        );
        assert!(hmac.unwrap_err().to_string().contains("ENCRYPT_DECRYPT"));
        let pending = check_key_usable(
            "k",
            &meta(
                KeyState::PendingDeletion,
                KeySpec::SymmetricDefault,
                KeyUsageType::EncryptDecrypt,
            ),
        );
        assert!(pending.unwrap_err().to_string().contains("cancel-key-deletion"));
    }
}
