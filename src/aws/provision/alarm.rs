//! The alarm on the key (`kms.alarm_email`, or `kms.alarm_topic_arn`): in the key's
//! region and in each replica's, an SNS topic (mailing the address), and an EventBridge
//! rule on the KMS calls that would lose the key there, its one target the topic. Every
//! call is idempotent by name (CreateTopic, PutRule, PutTargets), each compared first so
//! that a re-run changes nothing; the record is written as soon as the topic exists.
//! CloudTrail must log management events for the rule to see anything: checked, and
//! said with what to turn on.

use std::collections::HashMap;

use super::Provisioner;
use crate::aws::alarm::{self, TARGET_ID};
use crate::aws::policy::replica_arn;
use crate::run::manifest::{AlarmRecord, KeyRecord};
use crate::run::mutate::nothing_to_record;
use crate::run::{Applied, Change, Origin, Result, Step};
use crate::twins::{RUN_TAG_KEY, TAG_KEY, TAG_VALUE};

const DESCRIPTION: &str = "autounseal: a KMS call that would lose the Vault seal's key";

impl Provisioner<'_> {
    pub(super) async fn ensure_alarm(&self, key: &Applied<KeyRecord>) -> Result<()> {
        let m = self.store.snapshot();
        let account = m.account_id.clone().unwrap_or_default();
        let primary_arn = match key {
            Applied::Done(key) => key.arn.clone(),
            Applied::Planned => super::planned_key_arn(self.ctx.region(), &account),
        };
        // Named after the key (a replica has its key's id), not the run: a manifest rebuilt
        // under a new run id finds the same topic and rule again.
        let key_id = super::kms::key_id_shown(key).to_string();
        let regions = std::iter::once(self.ctx.region().to_string()).chain(self.answers.kms.replica_regions.clone());
        let mut said = Vec::new();
        for region in regions {
            let key_arn = replica_arn(&primary_arn, &region);
            said.push(self.ensure_alarm_in(&region, &account, &key_id, &key_arn, key).await?);
        }
        if !self.recorder.dry_run() {
            self.rep.done(Step::KeyAlarm, said.join("; "));
        }
        Ok(())
    }

    /// The alarm of one region: topic, subscription, rule, target; then the trail check.
    async fn ensure_alarm_in(
        &self,
        region: &str,
        account: &str,
        key_id: &str,
        key_arn: &str,
        key: &Applied<KeyRecord>,
    ) -> Result<String> {
        let kms = &self.answers.kms;
        let name = alarm::name(key_id);
        let rule_arn = alarm::rule_arn(region, account, &name);
        let (topic_arn, topic_origin) = match &kms.alarm_topic_arn {
            Some(theirs) => (theirs.clone(), Origin::Reused),
            None => (alarm::topic_arn(region, account, &name), Origin::Created),
        };
        let mut record = AlarmRecord {
            region: region.to_string(),
            topic_arn: topic_arn.clone(),
            topic_origin,
            subscription: None,
            rule_name: name.clone(),
            rule_arn: rule_arn.clone(),
        };
        // Recorded before anything is made: every name is known ahead, so a run killed
        // between a create and its answer leaves nothing destroy does not know of (it
        // takes what is already gone as removed).
        if !self.recorder.dry_run() {
            self.store.update(|m| m.record_alarm(record.clone()))?;
        }
        if topic_origin == Origin::Created {
            self.ensure_topic(region, &name, &topic_arn, &rule_arn).await?;
        }
        if let Some(email) = &kms.alarm_email {
            record.subscription = self.ensure_subscription(region, &topic_arn, email).await?;
            if !self.recorder.dry_run() {
                self.store.update(|m| m.record_alarm(record.clone()))?;
            }
        }
        self.ensure_rule(region, &name, key_arn, key).await?;
        self.ensure_target(region, &name, &topic_arn).await?;
        if topic_origin == Origin::Reused {
            self.rep.warn(format!(
                "the alarm publishes to your topic {topic_arn}: its policy must let events.amazonaws.com publish \
                 for the rule {rule_arn} (this statement: {})",
                alarm::topic_policy(&topic_arn, &rule_arn)["Statement"][0]
            ));
        }
        match alarm::management_trail(self.ctx, region).await {
            Ok(Some(_)) => {}
            Ok(None) => self.rep.warn(format!(
                "no CloudTrail trail logs management events in {region}, so the alarm's rule there sees nothing: \
                 {}",
                alarm::trail_fix(self.ctx, region)
            )),
            Err(e) => self.rep.warn(format!(
                "could not see whether CloudTrail logs management events in {region} ({e}); the alarm's rule \
                 fires only if it does"
            )),
        }
        Ok(format!("{region}: {name} → {topic_arn}"))
    }

    /// The topic (CreateTopic returns the one of that name if it exists), with the policy
    /// that lets the rule publish.
    async fn ensure_topic(&self, region: &str, name: &str, expected: &str, rule_arn: &str) -> Result<()> {
        let sns = self.ctx.sns_in(region);
        let run_id = self.run_id();
        let twin = self.ctx.aws_cli_in(
            region,
            &[
                "sns",
                "create-topic",
                "--name",
                name,
                "--tags",
                &format!("Key={TAG_KEY},Value={TAG_VALUE}"),
                &format!("Key={RUN_TAG_KEY},Value={run_id}"),
            ],
        );
        let tag = |k: &str, v: &str| {
            aws_sdk_sns::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
                .expect("both tag fields set")
        };
        let sns_ref = &sns;
        let create = |action| async move {
            let out = sns_ref
                .create_topic()
                .name(name)
                .tags(tag(TAG_KEY, TAG_VALUE))
                .tags(tag(RUN_TAG_KEY, &run_id))
                .send()
                .await
                .map_err(self.err(action))?;
            Ok(out.topic_arn.unwrap_or_default())
        };
        // CreateTopic of an existing name changes nothing and answers its ARN: a read, for
        // a re-run; the plan lists it only when the topic is not there yet.
        let exists = sns.get_topic_attributes().topic_arn(expected).send().await;
        let (arn, attributes) = match exists {
            Ok(out) => (expected.to_string(), out.attributes.unwrap_or_default()),
            Err(e) if crate::aws::error::is_not_found(&e) => {
                let made = self
                    .recorder
                    .mutate(
                        Change::new(Step::KeyAlarm, "sns:CreateTopic", format!("{name} in {region}"), twin)
                            .on_the_way(),
                        create,
                        nothing_to_record,
                        |arn| format!("topic {arn}"),
                    )
                    .await?;
                (made.done().unwrap_or_else(|| expected.to_string()), HashMap::new())
            }
            Err(e) => return Err(self.err("sns:GetTopicAttributes")(e)),
        };
        let wanted = alarm::topic_policy(&arn, rule_arn);
        let current: Option<serde_json::Value> = attributes.get("Policy").and_then(|p| serde_json::from_str(p).ok());
        if current.as_ref() == Some(&wanted) {
            return Ok(());
        }
        let policy = wanted.to_string();
        let twin = self.ctx.aws_cli_in(
            region,
            &[
                "sns",
                "set-topic-attributes",
                "--topic-arn",
                &arn,
                "--attribute-name",
                "Policy",
                "--attribute-value",
                &policy,
            ],
        );
        let (arn_ref, policy_ref) = (&arn, &policy);
        let set = |action| async move {
            sns_ref
                .set_topic_attributes()
                .topic_arn(arn_ref)
                .attribute_name("Policy")
                .attribute_value(policy_ref)
                .send()
                .await
                .map_err(self.err(action))?;
            Ok(())
        };
        self.recorder
            .mutate(
                Change::new(
                    Step::KeyAlarm,
                    "sns:SetTopicAttributes",
                    "EventBridge may publish, for this rule only",
                    twin,
                )
                .on_the_way(),
                set,
                nothing_to_record,
                |_| format!("{arn} lets the rule publish"),
            )
            .await?;
        Ok(())
    }

    /// The address subscribed (SNS mails it a confirmation link first).
    async fn ensure_subscription(&self, region: &str, topic_arn: &str, email: &str) -> Result<Option<String>> {
        let sns = self.ctx.sns_in(region);
        // (A topic a plan would make has none: the listing fails, and the subscribe is listed.)
        let listed = sns.list_subscriptions_by_topic().topic_arn(topic_arn).send().await;
        if let Ok(listed) = listed
            && let Some(found) = listed
                .subscriptions()
                .iter()
                .find(|s| s.protocol() == Some("email") && s.endpoint() == Some(email))
        {
            return Ok(found.subscription_arn().map(String::from));
        }
        let twin = self.ctx.aws_cli_in(
            region,
            &[
                "sns",
                "subscribe",
                "--topic-arn",
                topic_arn,
                "--protocol",
                "email",
                "--notification-endpoint",
                email,
            ],
        );
        let sns_ref = &sns;
        let subscribe = |action| async move {
            let out = sns_ref
                .subscribe()
                .topic_arn(topic_arn)
                .protocol("email")
                .endpoint(email)
                .send()
                .await
                .map_err(self.err(action))?;
            Ok(out.subscription_arn.unwrap_or_else(|| "pending confirmation".into()))
        };
        let made = self
            .recorder
            .mutate(
                Change::new(Step::KeyAlarm, "sns:Subscribe", format!("{email} in {region}"), twin).on_the_way(),
                subscribe,
                nothing_to_record,
                |_| format!("{email} subscribed in {region}: confirm the mail SNS sent"),
            )
            .await?;
        Ok(made.done())
    }

    /// The rule on the key's region ARN, enabled, with exactly the pattern.
    async fn ensure_rule(&self, region: &str, name: &str, key_arn: &str, key: &Applied<KeyRecord>) -> Result<()> {
        let events = self.ctx.events_in(region);
        let wanted = alarm::event_pattern(key_arn);
        if let Applied::Done(_) = key
            && let Ok(rule) = events.describe_rule().name(name).send().await
        {
            let current: Option<serde_json::Value> = rule.event_pattern().and_then(|p| serde_json::from_str(p).ok());
            let enabled = rule.state() == Some(&aws_sdk_eventbridge::types::RuleState::Enabled);
            if current.as_ref() == Some(&wanted) && enabled {
                return Ok(());
            }
        }
        let pattern = wanted.to_string();
        let twin = self.ctx.aws_cli_in(
            region,
            &[
                "events",
                "put-rule",
                "--name",
                name,
                "--event-pattern",
                &pattern,
                "--state",
                "ENABLED",
                "--description",
                DESCRIPTION,
                "--tags",
                &format!("Key={TAG_KEY},Value={TAG_VALUE}"),
            ],
        );
        let (events_ref, pattern_ref) = (&events, &pattern);
        let put = |action| async move {
            events_ref
                .put_rule()
                .name(name)
                .event_pattern(pattern_ref)
                .state(aws_sdk_eventbridge::types::RuleState::Enabled)
                .description(DESCRIPTION)
                .tags(
                    aws_sdk_eventbridge::types::Tag::builder()
                        .key(TAG_KEY)
                        .value(TAG_VALUE)
                        .build()
                        .expect("both tag fields set"),
                )
                .send()
                .await
                .map_err(self.err(action))?;
            Ok(())
        };
        self.recorder
            .mutate(
                Change::new(
                    Step::KeyAlarm,
                    "events:PutRule",
                    format!("{name} in {region}: {}", alarm::WATCHED_EVENTS.join(", ")),
                    twin,
                )
                .on_the_way(),
                put,
                nothing_to_record,
                |_| format!("rule {name} on {key_arn}"),
            )
            .await?;
        Ok(())
    }

    /// The topic as the rule's one target.
    async fn ensure_target(&self, region: &str, name: &str, topic_arn: &str) -> Result<()> {
        let events = self.ctx.events_in(region);
        if let Ok(targets) = events.list_targets_by_rule().rule(name).send().await
            && targets.targets().iter().any(|t| t.arn() == topic_arn)
        {
            return Ok(());
        }
        let twin = self.ctx.aws_cli_in(
            region,
            &[
                "events",
                "put-targets",
                "--rule",
                name,
                "--targets",
                &format!("Id={TARGET_ID},Arn={topic_arn}"),
            ],
        );
        let events_ref = &events;
        let put = |action| async move {
            let target = aws_sdk_eventbridge::types::Target::builder()
                .id(TARGET_ID)
                .arn(topic_arn)
                .build()
                .expect("id and arn set");
            let out = events_ref
                .put_targets()
                .rule(name)
                .targets(target)
                .send()
                .await
                .map_err(self.err(action))?;
            if out.failed_entry_count() > 0 {
                let why = out
                    .failed_entries()
                    .first()
                    .and_then(|f| f.error_message())
                    .unwrap_or("no reason given")
                    .to_string();
                return Err(crate::run::RunError::Other(format!(
                    "{action}: EventBridge refused the topic as the rule's target: {why}"
                )));
            }
            Ok(())
        };
        self.recorder
            .mutate(
                Change::new(
                    Step::KeyAlarm,
                    "events:PutTargets",
                    format!("{name} → {topic_arn}"),
                    twin,
                )
                .on_the_way(),
                put,
                nothing_to_record,
                |_| format!("{name} → {topic_arn}"),
            )
            .await?;
        Ok(())
    }
}
