//! What a create made when its answer never arrived (a timeout, a killed run): found by
//! this setup's run tag (keys), by name (user, policy, alias), or as an access key the
//! user did not have before (its secret is lost, so it is deleted: a live credential
//! nobody holds is only a liability).
//!
//! Each create is announced in the manifest before it is sent ([`PendingCreate`]); a
//! re-run or `destroy` starts with [`resolve_pending`], which records what those creates
//! made, so nothing autounseal made is left out of the manifest.

use aws_sdk_kms::types::{KeyMetadata, KeyState};

use crate::aws::context::AwsContext;
use crate::aws::error::{classify, error_code, is_not_found};
use crate::regions::partition;
use crate::run::Result;
use crate::run::events::Reporter;
use crate::run::manifest::{CreateKind, KeyRecord, ManifestStore, NamedRecord, Origin, PendingCreate, now_ms};
use crate::twins::RUN_TAG_KEY;

/// A request reaches AWS, and is carried out, within moments of being sent: a create
/// sent by a run killed just now is looked for only once this long has passed.
const IN_FLIGHT_SETTLE_MS: u64 = 2000;

/// At most this many keys of the account are looked at for this run's tag: a re-run
/// must not list a huge account for ever.
const MAX_KEYS_SCANNED: usize = 2000;

/// Looks in AWS for what this setup's creates made.
pub struct Finder<'a> {
    pub ctx: &'a AwsContext,
    pub run_id: &'a str,
    pub rep: &'a Reporter,
}

impl Finder<'_> {
    fn carries_run_tag<'t>(&self, mut tags: impl Iterator<Item = (&'t str, &'t str)>) -> bool {
        tags.any(|(k, v)| k == RUN_TAG_KEY && v == self.run_id)
    }

    /// The keys tagged with this run that are not pending deletion, oldest first.
    pub async fn keys_of_run(&self) -> Result<Vec<KeyMetadata>> {
        let kms = &self.ctx.kms;
        let endpoint = self.ctx.endpoint();
        let mut found = Vec::new();
        let mut scanned = 0;
        let mut marker = None;
        loop {
            let page = kms
                .list_keys()
                .limit(100)
                .set_marker(marker)
                .send()
                .await
                .map_err(|e| classify("kms:ListKeys", &endpoint, e))?;
            for key in page.keys() {
                let Some(id) = key.key_id() else { continue };
                scanned += 1;
                let tags = match kms.list_resource_tags().key_id(id).send().await {
                    Ok(out) => out,
                    // Keys whose policy keeps us out, or gone meanwhile, are not ours.
                    Err(e) if is_not_found(&e) || is_denied(error_code(&e)) => continue,
                    Err(e) => return Err(classify("kms:ListResourceTags", &endpoint, e)),
                };
                if !self.carries_run_tag(tags.tags().iter().map(|t| (t.tag_key(), t.tag_value()))) {
                    continue;
                }
                let meta = kms
                    .describe_key()
                    .key_id(id)
                    .send()
                    .await
                    .map_err(|e| classify("kms:DescribeKey", &endpoint, e))?
                    .key_metadata
                    .expect("DescribeKey always returns metadata");
                if !matches!(meta.key_state, Some(KeyState::PendingDeletion)) {
                    found.push(meta);
                }
            }
            marker = page.next_marker().map(String::from);
            if !page.truncated() || marker.is_none() {
                break;
            }
            if scanned >= MAX_KEYS_SCANNED {
                self.rep.warn(format!(
                    "looked at {scanned} KMS keys for this setup's tag {RUN_TAG_KEY}={} and stopped there; \
                     check for more with `aws kms list-keys` and `aws kms list-resource-tags`",
                    self.run_id
                ));
                break;
            }
        }
        found.sort_by_key(|m| m.creation_date.map(|d| d.secs()));
        Ok(found)
    }

    /// The user `name`, when this run's tag says this setup made it.
    pub async fn user_of_run(&self, name: &str) -> Result<Option<NamedRecord>> {
        match self.ctx.iam.get_user().user_name(name).send().await {
            Ok(out) => Ok(out
                .user
                .filter(|u| self.carries_run_tag(u.tags().iter().map(|t| (t.key(), t.value()))))
                .map(|u| NamedRecord {
                    name: name.to_string(),
                    arn: u.arn().to_string(),
                    origin: Origin::Created,
                })),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(classify("iam:GetUser", &self.ctx.endpoint(), e)),
        }
    }

    /// The policy at `arn`, when this run's tag says this setup made it.
    pub async fn policy_of_run(&self, name: &str, arn: &str) -> Result<Option<NamedRecord>> {
        match self.ctx.iam.get_policy().policy_arn(arn).send().await {
            Ok(out) => Ok(out
                .policy
                .filter(|p| self.carries_run_tag(p.tags().iter().map(|t| (t.key(), t.value()))))
                .map(|_| NamedRecord {
                    name: name.to_string(),
                    arn: arn.to_string(),
                    origin: Origin::Created,
                })),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(classify("iam:GetPolicy", &self.ctx.endpoint(), e)),
        }
    }

    /// The alias `alias`, when it names `key` (an alias has no tags; the key it names
    /// is this setup's).
    pub async fn alias_of_key(&self, alias: &str, key: &KeyRecord) -> Result<Option<NamedRecord>> {
        match self.ctx.kms.describe_key().key_id(alias).send().await {
            Ok(out) if out.key_metadata.as_ref().is_some_and(|m| m.key_id == key.key_id) => {
                Ok(Some(alias_record(key, alias)))
            }
            Ok(_) => Ok(None),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(classify("kms:DescribeKey", &self.ctx.endpoint(), e)),
        }
    }

    pub async fn is_attached(&self, user: &str, policy_arn: &str) -> Result<bool> {
        match self.ctx.iam.list_attached_user_policies().user_name(user).send().await {
            Ok(out) => Ok(out
                .attached_policies()
                .iter()
                .any(|p| p.policy_arn() == Some(policy_arn))),
            Err(e) if is_not_found(&e) => Ok(false),
            Err(e) => Err(classify("iam:ListAttachedUserPolicies", &self.ctx.endpoint(), e)),
        }
    }

    /// Deletes the access keys of `user` that a lost CreateAccessKey answer made: those
    /// it did not have before the call and that are not `keep`. Returns their ids.
    pub async fn delete_lost_access_keys(
        &self,
        user: &str,
        before: &[String],
        keep: Option<&str>,
    ) -> Result<Vec<String>> {
        let endpoint = self.ctx.endpoint();
        let listed = match self.ctx.iam.list_access_keys().user_name(user).send().await {
            Ok(out) => out,
            Err(e) if is_not_found(&e) => return Ok(Vec::new()),
            Err(e) => return Err(classify("iam:ListAccessKeys", &endpoint, e)),
        };
        let lost: Vec<String> = listed
            .access_key_metadata()
            .iter()
            .filter_map(|k| k.access_key_id())
            .filter(|id| !before.iter().any(|b| b == id) && Some(*id) != keep)
            .map(String::from)
            .collect();
        for id in &lost {
            match self
                .ctx
                .iam
                .delete_access_key()
                .user_name(user)
                .access_key_id(id)
                .send()
                .await
            {
                Ok(_) => {}
                Err(e) if is_not_found(&e) => {}
                Err(e) => return Err(classify("iam:DeleteAccessKey", &endpoint, e)),
            }
            self.rep.warn(format!(
                "deleted access key {id} of {user}: a create whose answer was lost made it, and its secret was never \
                 saved"
            ));
        }
        Ok(lost)
    }

    /// Schedules the deletion of keys this run made but does not use (never recorded, so
    /// never in a Vault config: nothing is sealed with them).
    pub async fn retire_spare_keys(&self, spare: &[KeyMetadata]) -> Result<()> {
        for meta in spare {
            let r = self
                .ctx
                .kms
                .schedule_key_deletion()
                .key_id(&meta.key_id)
                .pending_window_in_days(crate::aws::KEY_DELETION_WINDOW_DAYS)
                .send()
                .await;
            match r {
                Ok(_) => {}
                Err(e) if is_not_found(&e) => {}
                Err(e) => return Err(classify("kms:ScheduleKeyDeletion", &self.ctx.endpoint(), e)),
            }
            self.rep.warn(format!(
                "scheduled the deletion of KMS key {id}: a create whose answer was lost made it, and another key of \
                 this setup is used (`aws kms cancel-key-deletion --key-id {id}` brings it back)",
                id = meta.key_id
            ));
        }
        Ok(())
    }
}

fn is_denied(code: Option<String>) -> bool {
    code.is_some_and(|c| c.starts_with("AccessDenied"))
}

/// An alias's ARN is its key's ARN with `key/ID` replaced by the alias name.
pub fn alias_record(key: &KeyRecord, alias: &str) -> NamedRecord {
    let arn = key
        .arn
        .rsplit_once(":key/")
        .map(|(head, _)| format!("{head}:{alias}"))
        .unwrap_or_default();
    NamedRecord {
        name: alias.to_string(),
        arn,
        origin: Origin::Created,
    }
}

pub fn key_record(meta: &KeyMetadata, origin: Origin) -> KeyRecord {
    KeyRecord {
        key_id: meta.key_id.clone(),
        arn: meta.arn.clone().unwrap_or_default(),
        origin,
    }
}

/// The ARN of a customer-managed policy, which IAM derives from its name.
pub fn policy_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:{}:iam::{account}:policy/{name}", partition(region))
}

/// Records what the creates of an interrupted run made, oldest kind first (an alias
/// needs its key, an attachment its user and policy). With `dry_run` (a plan) nothing is
/// deleted. Each intent is cleared once resolved.
pub async fn resolve_pending(ctx: &AwsContext, store: &ManifestStore, rep: &Reporter, dry_run: bool) -> Result<()> {
    let m = store.snapshot();
    if m.pending.is_empty() {
        return Ok(());
    }
    let Some(run_id) = m.run_id.clone() else {
        // Nothing was tagged without a run id: nothing can be found.
        return store.update(|m| m.pending.clear());
    };
    let youngest = m.pending.iter().map(|p| p.sent_at_ms).max().unwrap_or_default();
    let age = now_ms().saturating_sub(youngest);
    if age < IN_FLIGHT_SETTLE_MS {
        tokio::time::sleep(std::time::Duration::from_millis(IN_FLIGHT_SETTLE_MS - age)).await;
    }
    let finder = Finder {
        ctx,
        run_id: &run_id,
        rep,
    };
    let mut pending: Vec<PendingCreate> = m.pending.clone();
    pending.sort_by_key(|p| p.kind as u8);
    for p in pending {
        let m = store.snapshot();
        let name = p.name.clone().unwrap_or_default();
        let adopted = |what: &str| rep.warn(format!("an interrupted run made {what}: found and recorded"));
        match p.kind {
            CreateKind::KmsKey if m.kms_key.is_none() => {
                let keys = finder.keys_of_run().await?;
                if let Some((first, spare)) = keys.split_first() {
                    let record = key_record(first, Origin::Created);
                    store.update(|m| m.kms_key = Some(record.clone()))?;
                    adopted(&format!("KMS key {}", record.arn));
                    if !dry_run {
                        finder.retire_spare_keys(spare).await?;
                    }
                }
            }
            CreateKind::IamUser if m.iam_user.is_none() => {
                if let Some(user) = finder.user_of_run(&name).await? {
                    adopted(&format!("IAM user {}", user.arn));
                    store.update(|m| m.iam_user = Some(user))?;
                }
            }
            CreateKind::IamPolicy if m.iam_policy.is_none() => {
                let region = m.region.clone().unwrap_or_default();
                let arn = policy_arn(&region, m.account_id.as_deref().unwrap_or_default(), &name);
                if let Some(policy) = finder.policy_of_run(&name, &arn).await? {
                    adopted(&format!("IAM policy {arn}"));
                    store.update(|m| m.iam_policy = Some(policy))?;
                }
            }
            CreateKind::KmsAlias if m.kms_alias.is_none() => {
                if let Some(key) = &m.kms_key
                    && let Some(alias) = finder.alias_of_key(&name, key).await?
                {
                    adopted(&format!("alias {name}"));
                    store.update(|m| m.kms_alias = Some(alias))?;
                }
            }
            CreateKind::AttachPolicy if !m.policy_attached => {
                if let (Some(user), Some(policy)) = (&m.iam_user, &m.iam_policy)
                    && finder.is_attached(&user.name, &policy.arn).await?
                {
                    store.update(|m| m.policy_attached = true)?;
                }
            }
            CreateKind::AccessKey if !dry_run => {
                let keep = m.access_key.as_ref().map(|k| k.id.as_str());
                finder
                    .delete_lost_access_keys(&name, &p.access_keys_before, keep)
                    .await?;
            }
            _ => {}
        }
        store.update(|m| m.clear_pending(p.kind))?;
    }
    Ok(())
}
