//! The alarm on the key (`kms.alarm_email`) against moto, with a replica: a topic, its
//! mail subscription and an EventBridge rule in each region, on exactly the four calls for
//! that region's key ARN; recorded, unchanged by a re-run, checked by doctor (a missing
//! rule, a disabled rule, a region with no CloudTrail trail, each with its fix) and
//! removed by destroy.

use crate::common;

use autounseal::answers::Answers;
use autounseal::aws::alarm;
use autounseal::aws::destroy::{DestroyOptions, destroy_aws};
use autounseal::aws::policy::replica_arn;
use autounseal::aws::{AwsContext, Provisioner};
use autounseal::doctor::{Finding, Verdict};
use autounseal::run::{ApplyOptions, Manifest, ManifestStore, Reporter, RunError};
use common::{Moto, answers, context};

const APPLY: ApplyOptions = ApplyOptions {
    overwrite_files: true,
    dry_run: false,
};

async fn provision(ctx: &AwsContext, a: &Answers, store: &ManifestStore) -> Result<Vec<String>, RunError> {
    let p = Provisioner::new(ctx, a, store, Reporter::silent(), APPLY);
    Box::pin(p.run()).await?;
    Ok(p.calls().into_iter().map(|c| c.action).collect())
}

async fn doctor(m: &Manifest, ctx: &AwsContext) -> Vec<Finding> {
    let mut found = Vec::new();
    Box::pin(autounseal::doctor::checks::alarm(m, ctx, true, &mut found)).await;
    found
}

fn finding<'f>(found: &'f [Finding], check: &str) -> &'f Finding {
    found
        .iter()
        .find(|f| f.check == check)
        .unwrap_or_else(|| panic!("no {check}: {found:?}"))
}

/// A trail logging management events in eu-west-1 only, made with the real AWS CLI.
fn trail_in_eu_west_1(moto: &Moto) {
    let cli = |args: &[&str]| {
        let out = std::process::Command::new(common::aws_cli())
            .args(["--endpoint-url", &moto.url, "--region", "eu-west-1"])
            .args(args)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", "/nonexistent")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    cli(&[
        "s3api",
        "create-bucket",
        "--bucket",
        "trail-logs",
        "--create-bucket-configuration",
        "LocationConstraint=eu-west-1",
    ]);
    cli(&[
        "cloudtrail",
        "create-trail",
        "--name",
        "management",
        "--s3-bucket-name",
        "trail-logs",
    ]);
    cli(&["cloudtrail", "start-logging", "--name", "management"]);
}

#[tokio::test]
async fn an_alarm_per_region_watches_exactly_the_four_calls_is_checked_and_destroyed() {
    let moto = Moto::start();
    trail_in_eu_west_1(&moto);
    let dir = tempfile::tempdir().unwrap();
    let mut a = answers(&moto, dir.path());
    a.kms.replica_regions = vec!["us-west-2".into()];
    a.kms.alarm_email = Some("ops@example.com".into());
    let ctx = context(&a).await;
    let store = ManifestStore::open(&dir.path().join("state")).unwrap();

    let calls = provision(&ctx, &a, &store).await.unwrap();
    for (action, times) in [
        ("sns:CreateTopic", 2),
        ("sns:SetTopicAttributes", 2),
        ("sns:Subscribe", 2),
        ("events:PutRule", 2),
        ("events:PutTargets", 2),
    ] {
        assert_eq!(
            calls.iter().filter(|c| *c == action).count(),
            times,
            "{action}: {calls:?}"
        );
    }
    let m = store.snapshot();
    let key = m.kms_key.clone().unwrap();
    assert_eq!(m.kms_alarms.len(), 2);

    // What exists, read with our own calls, region by region.
    for record in &m.kms_alarms {
        let region = record.region.as_str();
        let key_arn = replica_arn(&key.arn, region);
        let events = ctx.events_in(region);
        let rule = events.describe_rule().name(&record.rule_name).send().await.unwrap();
        let pattern: serde_json::Value = serde_json::from_str(rule.event_pattern().unwrap()).unwrap();
        assert_eq!(pattern, alarm::event_pattern(&key_arn), "{region}");
        assert_eq!(
            pattern["detail"]["eventName"],
            serde_json::json!([
                "ScheduleKeyDeletion",
                "DisableKey",
                "PutKeyPolicy",
                "DisableKeyRotation"
            ])
        );
        assert_eq!(rule.state(), Some(&aws_sdk_eventbridge::types::RuleState::Enabled));
        let targets = events
            .list_targets_by_rule()
            .rule(&record.rule_name)
            .send()
            .await
            .unwrap();
        assert_eq!(
            targets.targets().iter().map(|t| t.arn()).collect::<Vec<_>>(),
            [record.topic_arn.as_str()]
        );
        let sns = ctx.sns_in(region);
        let attributes = sns
            .get_topic_attributes()
            .topic_arn(&record.topic_arn)
            .send()
            .await
            .unwrap();
        let policy: serde_json::Value =
            serde_json::from_str(attributes.attributes().unwrap().get("Policy").unwrap()).unwrap();
        assert_eq!(policy, alarm::topic_policy(&record.topic_arn, &record.rule_arn));
        let subs = sns
            .list_subscriptions_by_topic()
            .topic_arn(&record.topic_arn)
            .send()
            .await
            .unwrap();
        assert!(
            subs.subscriptions()
                .iter()
                .any(|s| s.protocol() == Some("email") && s.endpoint() == Some("ops@example.com"))
        );
    }

    // A re-run changes nothing.
    assert_eq!(provision(&ctx, &a, &store).await.unwrap(), Vec::<String>::new());

    // Doctor: all well where a trail logs management events; the region without one is
    // said with what to turn on.
    let found = doctor(&m, &ctx).await;
    assert_eq!(finding(&found, "rule eu-west-1").verdict, Verdict::Ok);
    assert_eq!(finding(&found, "rule us-west-2").verdict, Verdict::Ok);
    assert_eq!(finding(&found, "CloudTrail eu-west-1").verdict, Verdict::Ok);
    let no_trail = finding(&found, "CloudTrail us-west-2");
    assert_eq!(no_trail.verdict, Verdict::Warn);
    let fix = no_trail.fix.clone().unwrap();
    assert!(
        fix.contains("create-trail") && fix.contains("--region us-west-2"),
        "{fix}"
    );

    // A disabled rule, and a missing one: failures, each with its fix.
    let name = &m.kms_alarms[0].rule_name;
    ctx.events_in("us-west-2")
        .disable_rule()
        .name(name)
        .send()
        .await
        .unwrap();
    ctx.events_in("eu-west-1")
        .remove_targets()
        .rule(name)
        .ids(alarm::TARGET_ID)
        .send()
        .await
        .unwrap();
    ctx.events_in("eu-west-1")
        .delete_rule()
        .name(name)
        .send()
        .await
        .unwrap();
    let found = doctor(&m, &ctx).await;
    let disabled = finding(&found, "rule us-west-2");
    assert_eq!(disabled.verdict, Verdict::Fail);
    assert!(
        disabled.fix.as_deref().unwrap().contains("events enable-rule"),
        "{disabled:?}"
    );
    let missing = finding(&found, "rule eu-west-1");
    assert_eq!(missing.verdict, Verdict::Fail);
    assert!(missing.evidence.contains("is gone"), "{missing:?}");
    // apply puts both back as they were.
    provision(&ctx, &a, &store).await.unwrap();
    let found = doctor(&store.snapshot(), &ctx).await;
    assert_eq!(finding(&found, "rule eu-west-1").verdict, Verdict::Ok);
    assert_eq!(finding(&found, "rule us-west-2").verdict, Verdict::Ok);

    // Destroy: rules, targets and topics gone, nothing of the alarm recorded.
    let m = store.snapshot();
    Box::pin(destroy_aws(
        &ctx,
        &store,
        &Reporter::silent(),
        DestroyOptions::default(),
    ))
    .await
    .unwrap();
    for record in &m.kms_alarms {
        let region = record.region.as_str();
        assert!(
            ctx.events_in(region)
                .describe_rule()
                .name(&record.rule_name)
                .send()
                .await
                .is_err()
        );
        assert!(
            ctx.sns_in(region)
                .get_topic_attributes()
                .topic_arn(&record.topic_arn)
                .send()
                .await
                .is_err(),
            "the topic in {region} is gone"
        );
    }
    assert!(store.snapshot().kms_alarms.is_empty());
}

#[test]
fn an_alarm_topic_must_be_in_the_keys_region_and_alone() {
    let moto_less = |topic: &str, replicas: &[&str], email: Option<&str>| {
        let mut a = Answers {
            region: "eu-west-1".into(),
            ..Default::default()
        };
        a.kms.alarm_topic_arn = Some(topic.into());
        a.kms.alarm_email = email.map(String::from);
        a.kms.replica_regions = replicas.iter().map(|r| r.to_string()).collect();
        a.validate()
            .into_iter()
            .find(|e| e.field == "kms.alarm_topic_arn")
            .map(|e| e.message)
    };
    assert_eq!(moto_less("arn:aws:sns:eu-west-1:1:ops", &[], None), None);
    assert!(
        moto_less("arn:aws:sns:us-east-1:1:ops", &[], None)
            .unwrap()
            .contains("rule's own region")
    );
    assert!(
        moto_less("arn:aws:sns:eu-west-1:1:ops", &["us-west-2"], None)
            .unwrap()
            .contains("each region needs its own topic")
    );
    assert!(
        moto_less("arn:aws:sns:eu-west-1:1:ops", &[], Some("a@b.c"))
            .unwrap()
            .contains("not both")
    );
    assert!(
        moto_less("not-an-arn", &[], None)
            .unwrap()
            .contains("not an SNS topic ARN")
    );
}
