//! The KMS seam: the key (created, adopted or reused), its yearly rotation, its alias.

use aws_sdk_kms::config::http::HttpResponse;
use aws_sdk_kms::error::SdkError;
use aws_sdk_kms::operation::describe_key::DescribeKeyError;
use aws_sdk_kms::types::{KeyManagerType, KeyMetadata, KeySpec, KeyState, KeyUsageType};

use super::{Provisioner, recorded};
use crate::aws::adopt::{alias_record, key_record};
use crate::aws::context::kms_sent_once;
use crate::aws::error::is_not_found;
use crate::run::manifest::{CreateKind, KeyRecord, PendingCreate};
use crate::run::mutate::nothing_to_record;
use crate::run::{Applied, Change, Origin, Result, RunError, Step};
use crate::twins::{self, RUN_TAG_KEY, TAG_KEY, TAG_VALUE};

impl Provisioner<'_> {
    pub(super) async fn key_branch(&self) -> Result<Applied<KeyRecord>> {
        let key = self.rep.step(Step::KmsKey, self.ensure_key()).await?;
        self.rep.step(Step::KeyRotation, self.ensure_rotation(&key)).await?;
        self.rep.step(Step::KmsAlias, self.ensure_alias(&key)).await?;
        // A step of its own only when replicas are asked for, as the Run screen's row.
        if !self.answers.kms.replica_regions.is_empty() {
            // Boxed, so that the key branch's future stays as small as it was without it.
            let replicas = Box::pin(self.ensure_replicas(&key));
            self.rep.step(Step::KeyReplicas, replicas).await?;
        }
        if self.answers.kms.alarm() {
            let alarm = Box::pin(self.ensure_alarm(&key));
            self.rep.step(Step::KeyAlarm, alarm).await?;
        }
        Ok(key)
    }

    /// A key that must have replicas must be a multi-region key: AWS cannot make an
    /// existing key one, so this is said before anything else is made.
    fn check_replicable(&self, name: &str, meta: &KeyMetadata) -> Result<()> {
        if self.answers.kms.replica_regions.is_empty() || meta.multi_region == Some(true) {
            return Ok(());
        }
        Err(RunError::Unsuitable(format!(
            "the KMS key {name} is a single-region key, and AWS cannot make an existing key multi-region, so it \
             cannot have the replicas kms.replica_regions asks for ({}). Either leave kms.replica_regions empty \
             and keep this key, or move Vault to a new multi-region key (docs/operations.md, \"A key in one \
             region only\")",
            self.answers.kms.replica_regions.join(", ")
        )))
    }

    async fn describe_key(
        &self,
        key: &str,
    ) -> std::result::Result<KeyMetadata, SdkError<DescribeKeyError, HttpResponse>> {
        let out = self.ctx.kms.describe_key().key_id(key).send().await?;
        Ok(out.key_metadata.expect("DescribeKey always returns metadata"))
    }

    /// The key. Long, on purpose: the ways to it read top to bottom, each returning as
    /// soon as it holds (the operator's own, one a run recorded, one the alias already
    /// names, one an interrupted create made, a new one).
    async fn ensure_key(&self) -> Result<Applied<KeyRecord>> {
        let kms = &self.answers.kms;
        if !kms.create {
            let wanted = kms.key_id.as_deref().unwrap_or_default();
            let meta = self
                .describe_key(wanted)
                .await
                .map_err(|e| self.key_lookup_error(wanted, e))?;
            check_key_usable(wanted, &meta)?;
            self.check_replicable(wanted, &meta)?;
            let record = key_record(&meta, Origin::Reused);
            self.store.update(|m| m.kms_key = Some(record.clone()))?;
            let said = if wanted == record.arn {
                format!("reusing {wanted}")
            } else {
                format!("reusing {wanted} ({})", record.arn)
            };
            self.rep.done(Step::KmsKey, said);
            return Ok(Applied::Done(record));
        }
        // A key an earlier run created.
        if let Some(rec) = self.store.snapshot().kms_key {
            match self.describe_key(&rec.key_id).await {
                Ok(meta) => {
                    check_key_usable(&rec.key_id, &meta)?;
                    self.check_replicable(&rec.key_id, &meta)?;
                    self.rep
                        .skipped(Step::KmsKey, format!("{} exists from an earlier run", rec.key_id));
                    return Ok(Applied::Done(rec));
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
                self.check_replicable(&kms.alias, &meta)?;
                let record = key_record(&meta, Origin::Created);
                self.store.update(|m| m.kms_key = Some(record.clone()))?;
                self.rep.skipped(
                    Step::KmsKey,
                    format!("{} ({}) was made by autounseal earlier", record.key_id, kms.alias),
                );
                return Ok(Applied::Done(record));
            }
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(self.err("kms:DescribeKey")(e)),
        }
        let run_id = &self.run_id();
        // Replicas need a multi-region key from the start.
        let multi_region = !kms.replica_regions.is_empty();
        let twin = twins::create_key(
            &kms.description,
            run_id,
            multi_region,
            self.ctx.region(),
            self.ctx.conn.endpoint_url.as_deref(),
        );
        let create = |action| async move {
            let send = move || async move {
                let out = self
                    .ctx
                    .kms
                    .create_key()
                    .key_spec(KeySpec::SymmetricDefault)
                    .key_usage(KeyUsageType::EncryptDecrypt)
                    .set_multi_region(multi_region.then_some(true))
                    .description(&kms.description)
                    .tags(kms_tag(TAG_KEY, TAG_VALUE))
                    .tags(kms_tag(RUN_TAG_KEY, run_id))
                    .customize()
                    .config_override(kms_sent_once())
                    .send()
                    .await
                    .map_err(self.err(action))?;
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
            let meta = self.create_once(action, intent, send, find).await?;
            Ok(key_record(&meta, Origin::Created))
        };
        self.recorder
            .mutate(
                Change::new(Step::KmsKey, "kms:CreateKey", "symmetric ENCRYPT_DECRYPT key", twin),
                create,
                recorded(CreateKind::KmsKey, |m| &mut m.kms_key),
                |key| format!("created {}", key.arn),
            )
            .await
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

    async fn ensure_rotation(&self, key: &Applied<KeyRecord>) -> Result<()> {
        if !self.answers.kms.rotation {
            // A node joining a cluster reuses the cluster's key: its first node rotates it.
            let why = if self.answers.kms.create {
                "rotation not asked for (kms.rotation = false)"
            } else {
                "a reused key: its rotation is left as its owner set it"
            };
            self.rep.skipped(Step::KeyRotation, why);
            return Ok(());
        }
        if let Applied::Done(key) = key {
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
        let key_id = key_id_shown(key);
        let twin = self.ctx.aws_cli(&["kms", "enable-key-rotation", "--key-id", key_id]);
        let enable = |action| async move {
            let result = self.ctx.kms.enable_key_rotation().key_id(key_id).send().await;
            match result.map_err(self.err(action)) {
                Ok(_) => Ok("on (yearly)".to_string()),
                // Somebody else's key may not let us change it; the seal works regardless.
                Err(RunError::AccessDenied { .. }) if matches!(key, Applied::Done(k) if k.origin == Origin::Reused) => {
                    self.rep
                        .warn(format!("could not turn on rotation for {key_id}: ask its owner to"));
                    Ok("left as it is".to_string())
                }
                Err(e) => Err(e),
            }
        };
        self.recorder
            .mutate(
                Change::new(
                    Step::KeyRotation,
                    "kms:EnableKeyRotation",
                    "rotate the key material every year",
                    twin,
                ),
                enable,
                nothing_to_record,
                String::clone,
            )
            .await?;
        Ok(())
    }

    async fn ensure_alias(&self, key: &Applied<KeyRecord>) -> Result<()> {
        let alias = &self.answers.kms.alias;
        if let Applied::Done(key) = key {
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
        }
        let twin = self.ctx.aws_cli(&[
            "kms",
            "create-alias",
            "--alias-name",
            alias,
            "--target-key-id",
            key_id_shown(key),
        ]);
        let create = |action| async move {
            let key = key.as_ref().made()?;
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
                    .map_err(self.err(action))?;
                Ok(alias_record(key, alias))
            };
            let run_id = &self.run_id();
            let find = move || async move { self.finder(run_id).alias_of_key(alias, key).await };
            let intent = PendingCreate::new(CreateKind::KmsAlias, Some(alias));
            self.create_once(action, intent, send, find).await
        };
        self.recorder
            .mutate(
                Change::new(Step::KmsAlias, "kms:CreateAlias", alias.clone(), twin),
                create,
                recorded(CreateKind::KmsAlias, |m| &mut m.kms_alias),
                |_| alias.clone(),
            )
            .await?;
        Ok(())
    }
}

pub(super) fn kms_tag(key: &str, value: &str) -> aws_sdk_kms::types::Tag {
    aws_sdk_kms::types::Tag::builder()
        .tag_key(key)
        .tag_value(value)
        .build()
        .expect("both tag fields set")
}

/// The key's id in a twin: a key a plan would create has none yet.
pub(super) fn key_id_shown(key: &Applied<KeyRecord>) -> &str {
    match key {
        Applied::Done(key) => &key.key_id,
        Applied::Planned => twins::NEW_KEY_ID,
    }
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
