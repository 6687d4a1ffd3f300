//! The key's replicas (`kms.replica_regions`): a multi-region key copied to other
//! regions, each with the alias of the same name, so that the data can come back in
//! another region when the key's own is lost or out of reach.
//!
//! A replica keeps its primary's key id (`mrk-…`), so a re-run finds it by asking the
//! replica's region for that id: no intent or tag search is needed, and a replica whose
//! answer was lost is found the same way (ReplicateKey answers AlreadyExists to a second
//! try).

use aws_sdk_kms::types::KeyMetadata;

use super::Provisioner;
use super::kms::{check_key_usable, kms_tag};
use crate::aws::error::{error_code, is_not_found};
use crate::aws::policy::replica_arn;
use crate::run::manifest::{KeyRecord, ReplicaRecord};
use crate::run::{Applied, Change, Origin, Result, RunError, Step};
use crate::twins::{self, RUN_TAG_KEY, TAG_KEY, TAG_VALUE};

impl Provisioner<'_> {
    pub(super) async fn ensure_replicas(&self, key: &Applied<KeyRecord>) -> Result<()> {
        let regions = &self.answers.kms.replica_regions;
        for region in regions {
            self.ensure_replica(key, region).await?;
        }
        if !self.recorder.dry_run() {
            self.rep.done(Step::KeyReplicas, regions.join(", "));
        }
        Ok(())
    }

    async fn ensure_replica(&self, key: &Applied<KeyRecord>, region: &str) -> Result<()> {
        let there = self.ctx.kms_in(region);
        let found = match key {
            Applied::Done(key) => self.find_replica(&there, key, region).await?,
            Applied::Planned => None,
        };
        let replica = match found {
            Some(replica) => {
                self.store.update(|m| m.record_replica(replica.clone()))?;
                self.rep.progress(Step::KeyReplicas, format!("{} exists", replica.arn));
                Applied::Done(replica)
            }
            None => self.replicate(&there, key, region).await?,
        };
        self.ensure_alias_in(&there, key, replica, region).await
    }

    /// The replica of `key` in `region`, when there is one.
    async fn find_replica(
        &self,
        there: &aws_sdk_kms::Client,
        key: &KeyRecord,
        region: &str,
    ) -> Result<Option<ReplicaRecord>> {
        let meta = match there.describe_key().key_id(&key.key_id).send().await {
            Ok(out) => out.key_metadata.expect("DescribeKey always returns metadata"),
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(e) => return Err(self.err("kms:DescribeKey")(e)),
        };
        let arn = meta.arn.clone().unwrap_or_default();
        if primary_of(&meta) != Some(key.arn.as_str()) {
            return Err(RunError::Conflict(format!(
                "{arn} in {region} has the key's id but is not a replica of {}; check it with `{}`",
                key.arn,
                self.ctx
                    .aws_cli_in(region, &["kms", "describe-key", "--key-id", &key.key_id])
            )));
        }
        // A replica KMS is still making (a few seconds after ReplicateKey) is fine.
        if meta.key_state != Some(aws_sdk_kms::types::KeyState::Creating) {
            check_key_usable(&arn, &meta).map_err(|e| {
                // Its hints name the key's region: the replica's commands need its own.
                RunError::Unsuitable(format!("{e} (in {region}: add `--region {region}` to those commands)"))
            })?;
        }
        let recorded = self
            .store
            .snapshot()
            .kms_replicas
            .into_iter()
            .find(|r| r.region == region);
        Ok(Some(ReplicaRecord {
            region: region.to_string(),
            arn,
            alias: recorded.as_ref().and_then(|r| r.alias.clone()),
            // One this setup's key has is this setup's (also one whose answer was lost).
            origin: recorded.map_or(key.origin, |r| r.origin),
        }))
    }

    /// ReplicateKey, sent to the key's own region, naming the replica's.
    async fn replicate(
        &self,
        there: &aws_sdk_kms::Client,
        key: &Applied<KeyRecord>,
        region: &str,
    ) -> Result<Applied<ReplicaRecord>> {
        let kms = &self.answers.kms;
        if let Applied::Done(key) = key
            && key.origin == Origin::Reused
        {
            return Err(RunError::NotFound(format!(
                "the key {} has no replica in {region}, and it is not autounseal's to replicate. Its owner can \
                 make one (`{}`), or leave {region} out of kms.replica_regions",
                key.arn,
                self.ctx.aws_cli(&[
                    "kms",
                    "replicate-key",
                    "--key-id",
                    &key.key_id,
                    "--replica-region",
                    region
                ])
            )));
        }
        let run_id = &self.run_id();
        let key_id = super::kms::key_id_shown(key);
        let twin = twins::replicate_key(
            key_id,
            region,
            &kms.description,
            run_id,
            self.ctx.region(),
            self.ctx.conn.endpoint_url.as_deref(),
        );
        let replicate = |action| async move {
            let key = key.as_ref().made()?;
            let sent = self
                .ctx
                .kms
                .replicate_key()
                .key_id(&key.key_id)
                .replica_region(region)
                .description(&kms.description)
                .tags(kms_tag(TAG_KEY, TAG_VALUE))
                .tags(kms_tag(RUN_TAG_KEY, run_id))
                .send()
                .await;
            match sent {
                Ok(out) => {
                    let meta = out.replica_key_metadata.expect("ReplicateKey returns the replica");
                    Ok(ReplicaRecord {
                        region: region.to_string(),
                        arn: meta.arn.unwrap_or_else(|| replica_arn(&key.arn, region)),
                        alias: None,
                        origin: Origin::Created,
                    })
                }
                // A retry of an attempt whose answer was lost: the replica is there.
                Err(e) if error_code(&e).as_deref() == Some("AlreadyExistsException") => self
                    .find_replica(there, key, region)
                    .await?
                    .ok_or_else(|| self.err(action)(e)),
                Err(e) => Err(self.err(action)(e)),
            }
        };
        self.recorder
            .mutate(
                Change::new(Step::KeyReplicas, "kms:ReplicateKey", format!("to {region}"), twin).on_the_way(),
                replicate,
                |m, made| m.record_replica(made.clone()),
                |made| format!("replicated to {}", made.arn),
            )
            .await
    }

    /// The alias of the same name in the replica's region, so that the key reads the same
    /// there (the console, a recovery host's `aws kms describe-key --key-id alias/…`).
    async fn ensure_alias_in(
        &self,
        there: &aws_sdk_kms::Client,
        key: &Applied<KeyRecord>,
        replica: Applied<ReplicaRecord>,
        region: &str,
    ) -> Result<()> {
        let alias = &self.answers.kms.alias;
        if let Applied::Done(replica) = &replica {
            if replica.origin == Origin::Reused {
                return Ok(());
            }
            let key = key.as_ref().made()?;
            match there.describe_key().key_id(alias).send().await {
                Ok(out) if out.key_metadata.as_ref().map(|m| m.key_id.as_str()) == Some(&key.key_id) => {
                    self.store.update(|m| {
                        m.record_replica(ReplicaRecord {
                            alias: Some(alias.clone()),
                            ..replica.clone()
                        })
                    })?;
                    return Ok(());
                }
                Ok(out) => {
                    return Err(RunError::Conflict(format!(
                        "the alias {alias} in {region} already points at another key ({}); choose another alias, \
                         or remove that one there",
                        out.key_metadata.map(|m| m.key_id).unwrap_or_default()
                    )));
                }
                Err(e) if is_not_found(&e) => {}
                Err(e) => return Err(self.err("kms:DescribeKey")(e)),
            }
        }
        let key_id = super::kms::key_id_shown(key);
        let twin = self.ctx.aws_cli_in(
            region,
            &["kms", "create-alias", "--alias-name", alias, "--target-key-id", key_id],
        );
        let create = |action| async move {
            let replica = replica.made()?;
            there
                .create_alias()
                .alias_name(alias)
                .target_key_id(key_id)
                .send()
                .await
                .map_err(self.err(action))?;
            Ok(ReplicaRecord {
                alias: Some(alias.clone()),
                ..replica
            })
        };
        self.recorder
            .mutate(
                Change::new(
                    Step::KeyReplicas,
                    "kms:CreateAlias",
                    format!("{alias} in {region}"),
                    twin,
                )
                .on_the_way(),
                create,
                |m, made| m.record_replica(made.clone()),
                |_| format!("{alias} in {region}"),
            )
            .await?;
        Ok(())
    }
}

/// The ARN of the primary key a multi-region key belongs to.
fn primary_of(meta: &KeyMetadata) -> Option<&str> {
    meta.multi_region_configuration
        .as_ref()?
        .primary_key
        .as_ref()?
        .arn
        .as_deref()
}
