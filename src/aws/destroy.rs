//! Removing what autounseal created, newest first, and nothing it only reused.
//!
//! The order matters on real AWS (moto is more lenient): a user cannot be deleted while
//! it holds access keys or attached policies, a policy not while it is attached or has
//! other versions. Each removal is recorded at once, so an interrupted destroy resumes.

use aws_sdk_kms::config::http::HttpResponse;
use aws_sdk_kms::error::{ProvideErrorMetadata, SdkError};

use crate::aws::context::AwsContext;
use crate::aws::error::{classify, error_code, is_not_found, service_error};
use crate::run::events::{Reporter, Step};
use crate::run::manifest::{ManifestStore, Origin, ReplicaRecord};
use crate::run::mutate::nothing_to_record;
use crate::run::{Call, Change, Recorder, Result, RunError};

#[derive(Debug, Clone, Copy)]
pub struct DestroyOptions {
    /// KMS waits this many days (7 to 30) before the key is really gone.
    pub deletion_window_days: i32,
}

impl Default for DestroyOptions {
    fn default() -> Self {
        DestroyOptions {
            deletion_window_days: crate::aws::KEY_DELETION_WINDOW_DAYS,
        }
    }
}

/// The warning an operator must read before the key is scheduled for deletion.
pub const KEY_DELETION_WARNING: &str = "A Vault sealed by this KMS key can never be unsealed once the key is deleted: \
     its data becomes unreadable. Only destroy a setup whose Vault data you no longer need.";

/// Removes what the manifest records; returns the changes made, with their twins.
pub async fn destroy_aws(
    ctx: &AwsContext,
    store: &ManifestStore,
    rep: &Reporter,
    opts: DestroyOptions,
) -> Result<Vec<Call>> {
    let d = Destroyer {
        ctx,
        store,
        rep,
        recorder: Recorder::new(rep.clone(), store, false),
    };
    // What an interrupted run made without recording it is recorded first, then removed.
    crate::aws::adopt::resolve_pending(ctx, store, rep, false).await?;
    rep.step(Step::DeleteAccessKeys, d.access_keys()).await?;
    rep.step(Step::DetachPolicy, d.detach()).await?;
    rep.step(Step::DeletePolicy, d.policy()).await?;
    rep.step(Step::DeleteUser, d.user()).await?;
    rep.step(Step::DeleteAlias, d.alias()).await?;
    if !store.snapshot().kms_alarms.is_empty() {
        rep.step(Step::DeleteAlarm, Box::pin(d.alarms())).await?;
    }
    rep.step(Step::ScheduleKeyDeletion, d.key(opts.deletion_window_days))
        .await?;
    Ok(d.recorder.calls())
}

struct Destroyer<'a> {
    ctx: &'a AwsContext,
    store: &'a ManifestStore,
    rep: &'a Reporter,
    recorder: Recorder<'a>,
}

/// Treats "already gone" as done: a resumed destroy must not fail on what it removed.
fn gone_ok<T, E>(
    result: std::result::Result<T, SdkError<E, HttpResponse>>,
    action: &'static str,
    endpoint: &str,
) -> Result<()>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match result {
        Ok(_) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(classify(action, endpoint, e)),
    }
}

/// The day (UTC) a key scheduled for deletion today is gone: when the window ends.
pub fn deletion_day(window_days: i32) -> String {
    let day = time::OffsetDateTime::now_utc() + time::Duration::days(i64::from(window_days));
    day.format(&time::macros::format_description!("[year]-[month]-[day]"))
        .unwrap_or_default()
}

/// [`gone_ok`] for a key's deletion: one already pending deletion (a resumed destroy)
/// needs nothing more either.
fn scheduled_ok<T, E>(
    result: std::result::Result<T, SdkError<E, HttpResponse>>,
    action: &'static str,
    endpoint: &str,
) -> Result<()>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match result {
        Err(e) if error_code(&e).as_deref() == Some("KMSInvalidStateException") => Ok(()),
        other => gone_ok(other, action, endpoint),
    }
}

impl Destroyer<'_> {
    fn endpoint(&self) -> String {
        self.ctx.endpoint()
    }

    /// A removal that is on the way through its step: what is already gone counts as
    /// removed, so that a resumed destroy does not fail on it.
    async fn remove<T, E>(
        &self,
        change: Change,
        call: impl Future<Output = std::result::Result<T, SdkError<E, HttpResponse>>>,
        said: String,
    ) -> Result<()>
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let endpoint = self.endpoint();
        self.recorder
            .mutate(
                change.on_the_way(),
                |action| async move { gone_ok(call.await, action, &endpoint) },
                nothing_to_record,
                |_| said,
            )
            .await?;
        Ok(())
    }

    async fn access_keys(&self) -> Result<()> {
        let m = self.store.snapshot();
        // A user autounseal made is deleted below, so all its keys go; on a reused user
        // only the key autounseal made.
        let (user, ids) = match (&m.iam_user, &m.access_key) {
            (Some(u), _) if u.origin == Origin::Created => {
                let listed = self.ctx.iam.list_access_keys().user_name(&u.name).send().await;
                match listed {
                    Ok(out) => (
                        u.name.clone(),
                        out.access_key_metadata()
                            .iter()
                            .filter_map(|k| k.access_key_id().map(String::from))
                            .collect(),
                    ),
                    Err(e) if is_not_found(&e) => (u.name.clone(), vec![]),
                    Err(e) => return Err(classify("iam:ListAccessKeys", &self.endpoint(), e)),
                }
            }
            // A rotation that stopped half-way may have made a second key: it is ours too.
            (_, Some(k)) => {
                let rotation_key = m.rotation.as_ref().and_then(|r| r.new_key_id.clone());
                let ids = std::iter::once(k.id.clone())
                    .chain(rotation_key.filter(|id| *id != k.id))
                    .collect();
                (k.user.clone(), ids)
            }
            _ => {
                self.rep.skipped(Step::DeleteAccessKeys, "none recorded");
                return Ok(());
            }
        };
        for id in &ids {
            let twin = self
                .ctx
                .aws_cli(&["iam", "delete-access-key", "--user-name", &user, "--access-key-id", id]);
            let delete = self
                .ctx
                .iam
                .delete_access_key()
                .user_name(&user)
                .access_key_id(id)
                .send();
            let change = Change::new(Step::DeleteAccessKeys, "iam:DeleteAccessKey", id, twin);
            self.remove(change, delete, format!("deleted {id}")).await?;
        }
        self.store.update(|m| {
            m.access_key = None;
            m.rotation = None;
        })?;
        self.rep.done(
            Step::DeleteAccessKeys,
            if ids.is_empty() {
                "none left".to_string()
            } else {
                ids.join(", ")
            },
        );
        Ok(())
    }

    async fn detach(&self) -> Result<()> {
        let m = self.store.snapshot();
        let Some(policy) = &m.iam_policy else {
            self.rep.skipped(Step::DetachPolicy, "no policy recorded");
            return Ok(());
        };
        let mut users = Vec::new();
        if policy.origin == Origin::Created {
            // Everything it is attached to, or IAM refuses to delete it.
            let out = self
                .ctx
                .iam
                .list_entities_for_policy()
                .policy_arn(&policy.arn)
                .send()
                .await;
            match out {
                Ok(out) => users.extend(
                    out.policy_users()
                        .iter()
                        .filter_map(|u| u.user_name().map(String::from)),
                ),
                Err(e) if is_not_found(&e) => {}
                Err(e) => return Err(classify("iam:ListEntitiesForPolicy", &self.endpoint(), e)),
            }
        } else if let (true, Some(u)) = (m.policy_attached, &m.iam_user) {
            users.push(u.name.clone());
        }
        for user in &users {
            let twin = self.ctx.aws_cli(&[
                "iam",
                "detach-user-policy",
                "--user-name",
                user,
                "--policy-arn",
                &policy.arn,
            ]);
            let detach = self
                .ctx
                .iam
                .detach_user_policy()
                .user_name(user)
                .policy_arn(&policy.arn)
                .send();
            let change = Change::new(Step::DetachPolicy, "iam:DetachUserPolicy", user, twin);
            self.remove(change, detach, format!("detached from {user}")).await?;
        }
        self.store.update(|m| m.policy_attached = false)?;
        self.rep.done(
            Step::DetachPolicy,
            format!(
                "{} from {}",
                policy.name,
                if users.is_empty() {
                    "nobody".into()
                } else {
                    users.join(", ")
                }
            ),
        );
        Ok(())
    }

    async fn policy(&self) -> Result<()> {
        let Some(policy) = self.store.snapshot().iam_policy else {
            self.rep.skipped(Step::DeletePolicy, "no policy recorded");
            return Ok(());
        };
        if policy.origin == Origin::Reused {
            self.store.update(|m| m.iam_policy = None)?;
            self.rep.skipped(
                Step::DeletePolicy,
                format!("{} was reused: left as it was", policy.name),
            );
            return Ok(());
        }
        match self.ctx.iam.list_policy_versions().policy_arn(&policy.arn).send().await {
            Ok(out) => {
                for v in out.versions().iter().filter(|v| !v.is_default_version()) {
                    let id = v.version_id().unwrap_or_default();
                    let twin = self.ctx.aws_cli(&[
                        "iam",
                        "delete-policy-version",
                        "--policy-arn",
                        &policy.arn,
                        "--version-id",
                        id,
                    ]);
                    let delete = self
                        .ctx
                        .iam
                        .delete_policy_version()
                        .policy_arn(&policy.arn)
                        .version_id(id)
                        .send();
                    let change = Change::new(Step::DeletePolicy, "iam:DeletePolicyVersion", id, twin);
                    self.remove(change, delete, format!("deleted version {id}")).await?;
                }
            }
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(classify("iam:ListPolicyVersions", &self.endpoint(), e)),
        }
        let twin = self.ctx.aws_cli(&["iam", "delete-policy", "--policy-arn", &policy.arn]);
        let endpoint = self.endpoint();
        let delete = self.ctx.iam.delete_policy().policy_arn(&policy.arn).send();
        self.recorder
            .mutate(
                Change::new(Step::DeletePolicy, "iam:DeletePolicy", &policy.arn, twin),
                |action| async move { gone_ok(delete.await, action, &endpoint) },
                |m, _| m.iam_policy = None,
                |_| policy.arn.clone(),
            )
            .await?;
        Ok(())
    }

    async fn user(&self) -> Result<()> {
        let Some(user) = self.store.snapshot().iam_user else {
            self.rep.skipped(Step::DeleteUser, "no user recorded");
            return Ok(());
        };
        if user.origin == Origin::Reused {
            self.store.update(|m| m.iam_user = None)?;
            self.rep
                .skipped(Step::DeleteUser, format!("{} was reused: left as it was", user.name));
            return Ok(());
        }
        let twin = self.ctx.aws_cli(&["iam", "delete-user", "--user-name", &user.name]);
        let endpoint = self.endpoint();
        let user = &user;
        let delete = |action| async move {
            match self.ctx.iam.delete_user().user_name(&user.name).send().await {
                Ok(_) => Ok(()),
                Err(e) if is_not_found(&e) => Ok(()),
                Err(e) if error_code(&e).as_deref() == Some("DeleteConflict") => {
                    let (_, message) = service_error(&e).unwrap_or_default();
                    Err(RunError::Conflict(format!(
                        "IAM refuses to delete {}: something was added to it outside autounseal ({message}). \
                         Remove that, then run destroy again",
                        user.name
                    )))
                }
                Err(e) => Err(classify(action, &endpoint, e)),
            }
        };
        self.recorder
            .mutate(
                Change::new(Step::DeleteUser, "iam:DeleteUser", &user.name, twin),
                delete,
                |m, _| m.iam_user = None,
                |_| user.name.clone(),
            )
            .await?;
        Ok(())
    }

    async fn alias(&self) -> Result<()> {
        self.replica_aliases().await?;
        let Some(alias) = self.store.snapshot().kms_alias else {
            self.rep.skipped(Step::DeleteAlias, "no alias recorded");
            return Ok(());
        };
        if alias.origin == Origin::Reused {
            self.store.update(|m| m.kms_alias = None)?;
            self.rep
                .skipped(Step::DeleteAlias, format!("{} was reused: left as it was", alias.name));
            return Ok(());
        }
        let twin = self.ctx.aws_cli(&["kms", "delete-alias", "--alias-name", &alias.name]);
        let endpoint = self.endpoint();
        let delete = self.ctx.kms.delete_alias().alias_name(&alias.name).send();
        self.recorder
            .mutate(
                Change::new(Step::DeleteAlias, "kms:DeleteAlias", &alias.name, twin),
                |action| async move { gone_ok(delete.await, action, &endpoint) },
                |m, _| m.kms_alias = None,
                |_| alias.name.clone(),
            )
            .await?;
        Ok(())
    }

    /// The alarm, region by region: the rule's target, the rule, then the topic autounseal
    /// made (its subscriptions go with it); on an operator's topic, only our subscription.
    async fn alarms(&self) -> Result<()> {
        let mut said = Vec::new();
        for alarm in self.store.snapshot().kms_alarms {
            let region = &alarm.region;
            let events = self.ctx.events_in(region);
            let name = &alarm.rule_name;
            let targets = events
                .remove_targets()
                .rule(name)
                .ids(crate::aws::alarm::TARGET_ID)
                .send();
            let twin = self.ctx.aws_cli_in(
                region,
                &[
                    "events",
                    "remove-targets",
                    "--rule",
                    name,
                    "--ids",
                    crate::aws::alarm::TARGET_ID,
                ],
            );
            let change = Change::new(
                Step::DeleteAlarm,
                "events:RemoveTargets",
                format!("{name} in {region}"),
                twin,
            );
            self.remove(change, targets, format!("{name}'s target")).await?;
            let rule = events.delete_rule().name(name).send();
            let twin = self.ctx.aws_cli_in(region, &["events", "delete-rule", "--name", name]);
            let change = Change::new(
                Step::DeleteAlarm,
                "events:DeleteRule",
                format!("{name} in {region}"),
                twin,
            );
            self.remove(change, rule, format!("rule {name}")).await?;
            let sns = self.ctx.sns_in(region);
            if alarm.topic_origin == Origin::Created {
                let topic = sns.delete_topic().topic_arn(&alarm.topic_arn).send();
                let twin = self
                    .ctx
                    .aws_cli_in(region, &["sns", "delete-topic", "--topic-arn", &alarm.topic_arn]);
                let change = Change::new(Step::DeleteAlarm, "sns:DeleteTopic", &alarm.topic_arn, twin);
                self.remove(change, topic, format!("topic {}", alarm.topic_arn)).await?;
            } else if let Some(sub) = alarm.subscription.as_ref().filter(|s| s.starts_with("arn:")) {
                let unsubscribe = sns.unsubscribe().subscription_arn(sub).send();
                let twin = self
                    .ctx
                    .aws_cli_in(region, &["sns", "unsubscribe", "--subscription-arn", sub]);
                let change = Change::new(Step::DeleteAlarm, "sns:Unsubscribe", sub, twin);
                self.remove(change, unsubscribe, format!("subscription {sub}")).await?;
            }
            self.store.update(|m| m.kms_alarms.retain(|a| a.region != *region))?;
            said.push(format!("{region}: {name}"));
        }
        self.rep.done(Step::DeleteAlarm, said.join("; "));
        Ok(())
    }

    /// The aliases autounseal made in the replicas' regions.
    async fn replica_aliases(&self) -> Result<()> {
        for replica in self.store.snapshot().kms_replicas {
            let (Some(alias), Origin::Created) = (&replica.alias, replica.origin) else {
                continue;
            };
            let region = &replica.region;
            let twin = self
                .ctx
                .aws_cli_in(region, &["kms", "delete-alias", "--alias-name", alias]);
            let endpoint = self.endpoint();
            let delete = self.ctx.kms_in(region).delete_alias().alias_name(alias).send();
            self.recorder
                .mutate(
                    Change::new(
                        Step::DeleteAlias,
                        "kms:DeleteAlias",
                        format!("{alias} in {region}"),
                        twin,
                    )
                    .on_the_way(),
                    |action| async move { gone_ok(delete.await, action, &endpoint) },
                    |m, _| {
                        m.record_replica(ReplicaRecord {
                            alias: None,
                            ..replica.clone()
                        })
                    },
                    |_| format!("{alias} in {region}"),
                )
                .await?;
        }
        Ok(())
    }

    /// The replicas, before the key: KMS deletes a primary key only once it has no
    /// replica left. Every replica the key names is this setup's (the manifest may have
    /// missed one whose answer was lost); none of a reused key is touched.
    /// Returns how many replicas it scheduled for deletion.
    async fn replicas(&self, window_days: i32) -> Result<usize> {
        let m = self.store.snapshot();
        let Some(key) = m.kms_key.as_ref().filter(|k| k.origin == Origin::Created) else {
            self.store.update(|m| m.kms_replicas.clear())?;
            return Ok(0);
        };
        let mut replicas: Vec<(String, String)> = m
            .kms_replicas
            .iter()
            .map(|r| (r.region.clone(), r.arn.clone()))
            .collect();
        let named = if crate::regions::is_multi_region_key_id(&key.key_id) {
            Some(self.ctx.kms.describe_key().key_id(&key.key_id).send().await)
        } else {
            None
        };
        match named.transpose() {
            Ok(None) => {}
            Ok(Some(out)) => {
                let named = out
                    .key_metadata
                    .and_then(|k| k.multi_region_configuration)
                    .map(|c| c.replica_keys.unwrap_or_default())
                    .unwrap_or_default();
                for r in named {
                    if let (Some(region), Some(arn)) = (r.region, r.arn)
                        && !replicas.iter().any(|(known, _)| *known == region)
                    {
                        replicas.push((region, arn));
                    }
                }
            }
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(classify("kms:DescribeKey", &self.endpoint(), e)),
        }
        let days = window_days.to_string();
        // A replica has its key's id: named by it, in the replica's region.
        let id = &key.key_id;
        for (region, arn) in &replicas {
            let twin = self.ctx.aws_cli_in(
                region,
                &[
                    "kms",
                    "schedule-key-deletion",
                    "--key-id",
                    id,
                    "--pending-window-in-days",
                    &days,
                ],
            );
            let endpoint = self.endpoint();
            let schedule = self
                .ctx
                .kms_in(region)
                .schedule_key_deletion()
                .key_id(id)
                .pending_window_in_days(window_days)
                .send();
            let cancel = self
                .ctx
                .aws_cli_in(region, &["kms", "cancel-key-deletion", "--key-id", id]);
            self.recorder
                .mutate(
                    Change::new(
                        Step::ScheduleKeyDeletion,
                        "kms:ScheduleKeyDeletion",
                        format!("the replica in {region} in {window_days} days"),
                        twin,
                    )
                    .on_the_way(),
                    |action| async move { scheduled_ok(schedule.await, action, &endpoint) },
                    |m, _| m.kms_replicas.retain(|r| r.region != *region),
                    |_| {
                        format!(
                            "{arn} is deleted in {window_days} days, on {}; until then `{cancel}` brings it back",
                            deletion_day(window_days)
                        )
                    },
                )
                .await?;
        }
        Ok(replicas.len())
    }

    async fn key(&self, window_days: i32) -> Result<()> {
        // Boxed: its future would otherwise make every caller's future larger still.
        let replicas = Box::pin(self.replicas(window_days)).await?;
        let Some(key) = self.store.snapshot().kms_key else {
            self.rep.skipped(Step::ScheduleKeyDeletion, "no key recorded");
            return Ok(());
        };
        if key.origin == Origin::Reused {
            self.store.update(|m| m.kms_key = None)?;
            self.rep.skipped(
                Step::ScheduleKeyDeletion,
                format!("{} was reused: left as it was", key.key_id),
            );
            return Ok(());
        }
        let days = window_days.to_string();
        let twin = self.ctx.aws_cli(&[
            "kms",
            "schedule-key-deletion",
            "--key-id",
            &key.key_id,
            "--pending-window-in-days",
            &days,
        ]);
        let endpoint = self.endpoint();
        let key = &key;
        let schedule = |action| async move {
            let sent = self
                .ctx
                .kms
                .schedule_key_deletion()
                .key_id(&key.key_id)
                .pending_window_in_days(window_days)
                .send()
                .await;
            scheduled_ok(sent, action, &endpoint)
        };
        self.recorder
            .mutate(
                Change::new(
                    Step::ScheduleKeyDeletion,
                    "kms:ScheduleKeyDeletion",
                    format!("{} in {window_days} days", key.key_id),
                    twin,
                ),
                schedule,
                |m, _| m.kms_key = None,
                |_| {
                    let cancel = self
                        .ctx
                        .aws_cli(&["kms", "cancel-key-deletion", "--key-id", &key.key_id]);
                    if replicas > 0 {
                        // KMS holds a primary key (PendingReplicaDeletion) until its replicas
                        // are gone, then starts its own window.
                        format!(
                            "{} waits for its replicas to be deleted, then {window_days} days more: it is gone on \
                             or after {}; until then `{cancel}` brings it back",
                            key.arn,
                            deletion_day(2 * window_days)
                        )
                    } else {
                        format!(
                            "{} is deleted in {window_days} days, on {}; until then `{cancel}` brings it back",
                            key.arn,
                            deletion_day(window_days)
                        )
                    }
                },
            )
            .await?;
        Ok(())
    }
}
