//! The alarm on the key, region by region (read as the operator): its rule there,
//! enabled, on exactly the watched calls of that region's key, its target the topic; the
//! mail subscription confirmed; and a CloudTrail trail logging management events,
//! without which the rule sees nothing.

use super::{OPERATOR_FAILED, aws_failure};
use crate::aws::AwsContext;
use crate::aws::alarm::{self, WATCHED_EVENTS};
use crate::aws::error::is_not_found;
use crate::aws::policy::replica_arn;
use crate::doctor::{Finding, Link};
use crate::run::Manifest;
use crate::run::manifest::AlarmRecord;

const RERUN: &str = "run `autounseal apply` again with the same answers: it puts the rule back as it was";

pub async fn alarm(manifest: &Manifest, operator: &AwsContext, operator_ok: bool, out: &mut Vec<Finding>) {
    let (Some(key), false) = (&manifest.kms_key, manifest.kms_alarms.is_empty()) else {
        return;
    };
    if !operator_ok {
        out.push(Finding::skipped(Link::Alarm, "rule", OPERATOR_FAILED));
        return;
    }
    for a in &manifest.kms_alarms {
        let key_arn = replica_arn(&key.arn, &a.region);
        out.push(rule(operator, a, &key_arn).await);
        if let Some(finding) = subscription(operator, a).await {
            out.push(finding);
        }
        out.push(trail(operator, &a.region).await);
    }
}

/// The rule: there, enabled, the pattern untouched, the topic its target.
async fn rule(operator: &AwsContext, a: &AlarmRecord, key_arn: &str) -> Finding {
    let region = &a.region;
    let check = format!("rule {region}");
    let name = &a.rule_name;
    let events = operator.events_in(region);
    let described = match events.describe_rule().name(name).send().await {
        Ok(rule) => rule,
        Err(e) if is_not_found(&e) => {
            return Finding::fail(
                Link::Alarm,
                check,
                format!("the rule {name} is gone: nothing watches the key in {region}"),
                RERUN,
            );
        }
        Err(e) => {
            return Finding::fail(
                Link::Alarm,
                check,
                aws_failure("events:DescribeRule", operator, e).0,
                "run as an identity allowed events:DescribeRule",
            );
        }
    };
    if described.state() != Some(&aws_sdk_eventbridge::types::RuleState::Enabled) {
        let state = described.state().map_or("in no state", |s| s.as_str());
        return Finding::fail(
            Link::Alarm,
            check,
            format!("the rule {name} is {state}: a call that would lose the key in {region} alarms nobody"),
            operator.aws_cli_in(region, &["events", "enable-rule", "--name", name]),
        );
    }
    let pattern: Option<serde_json::Value> = described.event_pattern().and_then(|p| serde_json::from_str(p).ok());
    if pattern.as_ref() != Some(&alarm::event_pattern(key_arn)) {
        return Finding::fail(
            Link::Alarm,
            check,
            format!("the rule {name}'s pattern was changed: it no longer watches exactly those calls on {key_arn}"),
            RERUN,
        );
    }
    match events.list_targets_by_rule().rule(name).send().await {
        Ok(t) if t.targets().iter().any(|t| t.arn() == a.topic_arn) => Finding::ok(
            Link::Alarm,
            check,
            format!("{name}: {} on {key_arn} → {}", WATCHED_EVENTS.join(", "), a.topic_arn),
        ),
        Ok(_) => Finding::fail(
            Link::Alarm,
            check,
            format!(
                "the rule {name} no longer sends to {}: it fires into nothing",
                a.topic_arn
            ),
            RERUN,
        ),
        Err(e) => Finding::fail(
            Link::Alarm,
            check,
            aws_failure("events:ListTargetsByRule", operator, e).0,
            "run as an identity allowed events:ListTargetsByRule",
        ),
    }
}

/// The mail subscription, when there is one: confirmed, or SNS mails nothing.
async fn subscription(operator: &AwsContext, a: &AlarmRecord) -> Option<Finding> {
    a.subscription.as_ref()?;
    let region = &a.region;
    let check = format!("subscription {region}");
    let listed = operator
        .sns_in(region)
        .list_subscriptions_by_topic()
        .topic_arn(&a.topic_arn)
        .send()
        .await;
    Some(match listed {
        Err(e) => Finding::warn(
            Link::Alarm,
            check,
            aws_failure("sns:ListSubscriptionsByTopic", operator, e).0,
            "run as an identity allowed sns:ListSubscriptionsByTopic",
        ),
        Ok(listed) => {
            let mail = listed.subscriptions().iter().find(|s| s.protocol() == Some("email"));
            match mail {
                None => Finding::fail(
                    Link::Alarm,
                    check,
                    format!("{} mails nobody: its subscription is gone", a.topic_arn),
                    RERUN,
                ),
                Some(s) if s.subscription_arn().is_some_and(|arn| arn.starts_with("arn:")) => Finding::ok(
                    Link::Alarm,
                    check,
                    format!("{} confirmed", s.endpoint().unwrap_or("the address")),
                ),
                Some(s) => Finding::warn(
                    Link::Alarm,
                    check,
                    format!(
                        "{} has not confirmed the subscription: SNS mails it nothing until then",
                        s.endpoint().unwrap_or("the address")
                    ),
                    format!(
                        "open the mail from AWS Notifications and follow its link; for a new mail: `{}`",
                        operator.aws_cli_in(
                            region,
                            &[
                                "sns",
                                "subscribe",
                                "--topic-arn",
                                &a.topic_arn,
                                "--protocol",
                                "email",
                                "--notification-endpoint",
                                s.endpoint().unwrap_or("ADDRESS"),
                            ],
                        )
                    ),
                ),
            }
        }
    })
}

/// A trail logging management events in `region`: what feeds the rule.
async fn trail(operator: &AwsContext, region: &str) -> Finding {
    let check = format!("CloudTrail {region}");
    match alarm::management_trail(operator, region).await {
        Ok(Some(trail)) => Finding::ok(Link::Alarm, check, format!("the trail {trail} logs management events")),
        Ok(None) => Finding::warn(
            Link::Alarm,
            check,
            format!("no CloudTrail trail logs management events in {region}: the rule there never fires"),
            alarm::trail_fix(operator, region),
        ),
        Err(e) => Finding::warn(
            Link::Alarm,
            check,
            format!("cannot read CloudTrail: {e}"),
            "run as an identity allowed cloudtrail:DescribeTrails, GetTrailStatus and GetEventSelectors",
        ),
    }
}
