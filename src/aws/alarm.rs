//! The alarm on the key, its shape: the KMS calls that would lose the key, the
//! EventBridge pattern that matches them for one key ARN, the topic policy that lets
//! EventBridge (that rule only) publish, the names; and whether CloudTrail logs the
//! management events the rule needs to see anything at all.

use serde_json::{Value, json};

use crate::aws::context::AwsContext;
use crate::aws::error::classify;
use crate::regions::partition;
use crate::run::Result;

/// The management events that would lose the key: its deletion scheduled, the key
/// disabled, its policy replaced (locking everyone out), its rotation turned off.
pub const WATCHED_EVENTS: [&str; 4] = [
    "ScheduleKeyDeletion",
    "DisableKey",
    "PutKeyPolicy",
    "DisableKeyRotation",
];

/// The id of the rule's one target, the topic.
pub const TARGET_ID: &str = "autounseal-key-alarm";

/// The topic's and the rule's name, after the key it watches (the same in each region:
/// a replica has its key's id): two setups of one account never share an alarm that one
/// destroy would remove, and a rebuilt manifest finds its own again.
pub fn name(key_id: &str) -> String {
    format!("autounseal-key-alarm-{key_id}")
}

pub fn topic_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:{}:sns:{region}:{account}:{name}", partition(region))
}

pub fn rule_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:{}:events:{region}:{account}:rule/{name}", partition(region))
}

/// The rule's pattern: those calls, as CloudTrail records them, on the key `key_arn` (a
/// region's key: the replica's ARN in a replica's region), whatever form of its id the
/// caller named (CloudTrail's `resources` always hold the ARN).
pub fn event_pattern(key_arn: &str) -> Value {
    json!({
        "source": ["aws.kms"],
        "detail-type": ["AWS API Call via CloudTrail"],
        "detail": {
            "eventSource": ["kms.amazonaws.com"],
            "eventName": WATCHED_EVENTS,
            "resources": { "ARN": [key_arn] }
        }
    })
}

/// The topic's policy: EventBridge may publish to it, for that rule only.
pub fn topic_policy(topic_arn: &str, rule_arn: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "TheKeyAlarmRulePublishes",
            "Effect": "Allow",
            "Principal": { "Service": "events.amazonaws.com" },
            "Action": "sns:Publish",
            "Resource": topic_arn,
            "Condition": { "ArnEquals": { "aws:SourceArn": rule_arn } }
        }]
    })
}

/// What KMS's events reach EventBridge through: a trail of `region` that logs (and is
/// logging) management events. `Ok(None)` when none does: the rule then never fires.
pub async fn management_trail(ctx: &AwsContext, region: &str) -> Result<Option<String>> {
    let trails = ctx.cloudtrail_in(region);
    let endpoint = ctx.endpoint();
    let listed = trails
        .describe_trails()
        .include_shadow_trails(true)
        .send()
        .await
        .map_err(|e| classify("cloudtrail:DescribeTrails", &endpoint, e))?;
    // A trail this identity may not read (an organization's, another region's shadow)
    // is passed over: another may do.
    for trail in listed.trail_list() {
        let Some(arn) = trail.trail_arn() else { continue };
        let Ok(status) = trails.get_trail_status().name(arn).send().await else {
            continue;
        };
        if !status.is_logging().unwrap_or(false) {
            continue;
        }
        let Ok(selectors) = trails.get_event_selectors().trail_name(arn).send().await else {
            continue;
        };
        let basic = selectors.event_selectors().iter().any(|s| {
            s.include_management_events().unwrap_or(true)
                && !matches!(
                    s.read_write_type(),
                    Some(aws_sdk_cloudtrail::types::ReadWriteType::ReadOnly)
                )
        });
        // Advanced selectors: management events, and not only the read-only ones (the
        // watched calls all write).
        let advanced = selectors.advanced_event_selectors().iter().any(|s| {
            let fields = s.field_selectors();
            let management = fields
                .iter()
                .any(|f| f.field() == "eventCategory" && f.equals().iter().any(|v| v == "Management"));
            let read_only = fields
                .iter()
                .any(|f| f.field() == "readOnly" && f.equals().iter().any(|v| v == "true"));
            management && !read_only
        });
        // A trail with no selector at all logs management events (CloudTrail's default).
        let default = selectors.event_selectors().is_empty() && selectors.advanced_event_selectors().is_empty();
        if basic || advanced || default {
            return Ok(Some(trail.name().unwrap_or(arn).to_string()));
        }
    }
    Ok(None)
}

/// What to run when no trail logs management events in `region`.
pub fn trail_fix(ctx: &AwsContext, region: &str) -> String {
    format!(
        "turn on a trail that logs management events there: `{}` then `{}` (a new trail logs write management \
         events by default; the bucket must let CloudTrail write)",
        ctx.aws_cli_in(
            region,
            &[
                "cloudtrail",
                "create-trail",
                "--name",
                "management-events",
                "--s3-bucket-name",
                "BUCKET"
            ]
        ),
        ctx.aws_cli_in(region, &["cloudtrail", "start-logging", "--name", "management-events"])
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pattern_names_the_four_calls_and_the_one_key() {
        let arn = "arn:aws:kms:us-west-2:1:key/mrk-1";
        let p = event_pattern(arn);
        assert_eq!(p["detail"]["eventName"].as_array().unwrap().len(), 4);
        assert_eq!(p["detail"]["resources"]["ARN"], json!([arn]));
        assert!(!p.to_string().contains('*'));
        let policy = topic_policy("arn:aws:sns:us-west-2:1:t", "arn:aws:events:us-west-2:1:rule/r");
        assert_eq!(
            policy["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"],
            "arn:aws:events:us-west-2:1:rule/r"
        );
        assert_eq!(
            rule_arn("cn-north-1", "1", "r"),
            "arn:aws-cn:events:cn-north-1:1:rule/r"
        );
    }
}
