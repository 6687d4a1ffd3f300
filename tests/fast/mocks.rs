//! What moto is too lenient to prove: the order of `destroy` (moto deletes a user that
//! still has keys, a policy that is still attached) and how throttling is retried.
//! These use aws-smithy-mocks; the main path is tested against moto.

use std::sync::{Arc, Mutex};

use autounseal::answers::Answers;
use autounseal::aws::context::retry_config;
use autounseal::aws::destroy::{DestroyOptions, destroy_aws};
use autounseal::aws::{AwsContext, Connection};
use autounseal::run::manifest::{AccessKeyRecord, KeyRecord, Manifest, NamedRecord, Origin};
use autounseal::run::{ManifestStore, Reporter, RunError};
use aws_sdk_iam::operation as iam_op;
use aws_sdk_kms::operation as kms_op;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use aws_smithy_types::error::ErrorMetadata;

type Log = Arc<Mutex<Vec<&'static str>>>;

/// A rule that notes its operation's name in `log` each time it answers.
macro_rules! logged {
    ($log:expr, $client:ident :: $op:ident, $out:expr) => {{
        let log = $log.clone();
        mock!($client::$op)
            .match_requests(move |_| {
                log.lock().unwrap().push(stringify!($op));
                true
            })
            .then_output($out)
    }};
}

fn manifest(origin: Origin) -> Manifest {
    Manifest {
        version: 1,
        region: Some("eu-west-1".into()),
        account_id: Some("111122223333".into()),
        kms_key: Some(KeyRecord {
            key_id: "k-1".into(),
            arn: "arn:aws:kms:eu-west-1:111122223333:key/k-1".into(),
            origin,
        }),
        kms_alias: Some(NamedRecord {
            name: "alias/vault-auto-unseal".into(),
            arn: String::new(),
            origin,
        }),
        iam_user: Some(NamedRecord {
            name: "vault-auto-unseal".into(),
            arn: "arn:aws:iam::111122223333:user/vault-auto-unseal".into(),
            origin,
        }),
        iam_policy: Some(NamedRecord {
            name: "p".into(),
            arn: "arn:aws:iam::111122223333:policy/p".into(),
            origin,
        }),
        policy_attached: true,
        access_key: Some(AccessKeyRecord {
            id: "AKIA1".into(),
            user: "vault-auto-unseal".into(),
            created_at: String::new(),
        }),
        ..Default::default()
    }
}

fn conn() -> Connection {
    Connection::from_answers(&Answers {
        region: "eu-west-1".into(),
        ..Default::default()
    })
}

#[tokio::test]
async fn destroy_removes_in_the_order_real_iam_requires() {
    use aws_sdk_iam::Client as Iam;
    use aws_sdk_kms::Client as Kms;
    let log: Log = Default::default();
    let keys = aws_sdk_iam::types::AccessKeyMetadata::builder()
        .access_key_id("AKIA1")
        .build();
    let v1 = aws_sdk_iam::types::PolicyVersion::builder()
        .version_id("v1")
        .is_default_version(true)
        .build();
    let v2 = aws_sdk_iam::types::PolicyVersion::builder()
        .version_id("v2")
        .is_default_version(false)
        .build();
    let user = aws_sdk_iam::types::PolicyUser::builder()
        .user_name("vault-auto-unseal")
        .build();
    let iam_rules = [
        logged!(log, Iam::list_access_keys, move || {
            iam_op::list_access_keys::ListAccessKeysOutput::builder()
                .access_key_metadata(keys.clone())
                .build()
                .unwrap()
        }),
        logged!(log, Iam::delete_access_key, || {
            iam_op::delete_access_key::DeleteAccessKeyOutput::builder().build()
        }),
        logged!(log, Iam::list_entities_for_policy, move || {
            iam_op::list_entities_for_policy::ListEntitiesForPolicyOutput::builder()
                .policy_users(user.clone())
                .build()
        }),
        logged!(log, Iam::detach_user_policy, || {
            iam_op::detach_user_policy::DetachUserPolicyOutput::builder().build()
        }),
        logged!(log, Iam::list_policy_versions, move || {
            iam_op::list_policy_versions::ListPolicyVersionsOutput::builder()
                .versions(v1.clone())
                .versions(v2.clone())
                .build()
        }),
        logged!(log, Iam::delete_policy_version, || {
            iam_op::delete_policy_version::DeletePolicyVersionOutput::builder().build()
        }),
        logged!(log, Iam::delete_policy, || {
            iam_op::delete_policy::DeletePolicyOutput::builder().build()
        }),
        logged!(log, Iam::delete_user, || {
            iam_op::delete_user::DeleteUserOutput::builder().build()
        }),
    ];
    let kms_rules = [
        logged!(log, Kms::delete_alias, || {
            kms_op::delete_alias::DeleteAliasOutput::builder().build()
        }),
        logged!(log, Kms::schedule_key_deletion, || {
            kms_op::schedule_key_deletion::ScheduleKeyDeletionOutput::builder().build()
        }),
    ];
    let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, &iam_rules);
    let kms = mock_client!(aws_sdk_kms, RuleMode::MatchAny, &kms_rules);
    let sts = mock_client!(aws_sdk_sts, RuleMode::MatchAny, &[]);
    let ctx = AwsContext::from_clients(conn(), kms, iam, sts);
    let store = ManifestStore::detached(manifest(Origin::Created));

    destroy_aws(
        &ctx,
        &store,
        &Reporter::silent(),
        DestroyOptions {
            deletion_window_days: 7,
        },
    )
    .await
    .unwrap();

    assert_eq!(
        *log.lock().unwrap(),
        [
            "list_access_keys",
            "delete_access_key",
            "list_entities_for_policy",
            "detach_user_policy",
            "list_policy_versions",
            "delete_policy_version",
            "delete_policy",
            "delete_user",
            "delete_alias",
            "schedule_key_deletion",
        ]
    );
    let left = store.snapshot();
    assert!(left.iam_user.is_none() && left.kms_key.is_none() && left.access_key.is_none() && !left.policy_attached);
}

#[tokio::test]
async fn destroy_of_reused_things_deletes_only_what_autounseal_added() {
    use aws_sdk_iam::Client as Iam;
    let log: Log = Default::default();
    let iam_rules = [
        logged!(log, Iam::delete_access_key, || {
            iam_op::delete_access_key::DeleteAccessKeyOutput::builder().build()
        }),
        logged!(log, Iam::detach_user_policy, || {
            iam_op::detach_user_policy::DetachUserPolicyOutput::builder().build()
        }),
    ];
    let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, &iam_rules);
    let kms = mock_client!(aws_sdk_kms, RuleMode::MatchAny, &[]);
    let sts = mock_client!(aws_sdk_sts, RuleMode::MatchAny, &[]);
    let ctx = AwsContext::from_clients(conn(), kms, iam, sts);
    let store = ManifestStore::detached(manifest(Origin::Reused));

    destroy_aws(&ctx, &store, &Reporter::silent(), DestroyOptions::default())
        .await
        .unwrap();

    // The key autounseal made and its attachment go; no delete of a user, policy,
    // alias or key that was only reused (a call to one would find no rule and fail).
    assert_eq!(*log.lock().unwrap(), ["delete_access_key", "detach_user_policy"]);
}

fn throttling() -> aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityError {
    aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityError::generic(
        ErrorMetadata::builder()
            .code("Throttling")
            .message("Rate exceeded")
            .build(),
    )
}

fn sts_with(rule: &aws_smithy_mocks::Rule) -> AwsContext {
    // The same retry policy as real runs.
    let sts = mock_client!(aws_sdk_sts, RuleMode::Sequential, [rule], |c| c
        .retry_config(retry_config()));
    let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, &[]);
    let kms = mock_client!(aws_sdk_kms, RuleMode::MatchAny, &[]);
    AwsContext::from_clients(conn(), kms, iam, sts)
}

#[tokio::test]
async fn throttling_is_retried_until_it_passes() {
    let ok = || {
        aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityOutput::builder()
            .account("111122223333")
            .arn("arn:aws:iam::111122223333:user/admin")
            .build()
    };
    let rule = mock!(aws_sdk_sts::Client::get_caller_identity)
        .sequence()
        .error(throttling)
        .times(2)
        .output(ok)
        .build();
    let ctx = sts_with(&rule);
    let id = ctx.identity().await.unwrap();
    assert_eq!(id.account, "111122223333");
    assert_eq!(rule.num_calls(), 3);
}

#[tokio::test]
async fn throttling_that_never_ends_says_what_to_do() {
    let rule = mock!(aws_sdk_sts::Client::get_caller_identity)
        .sequence()
        .error(throttling)
        .times(10)
        .build();
    let ctx = sts_with(&rule);
    let err = ctx.identity().await.unwrap_err();
    assert!(
        matches!(
            err,
            RunError::Throttled {
                action: "sts:GetCallerIdentity"
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("run again"));
    assert_eq!(rule.num_calls(), 5, "five attempts, as configured");
}

/// moto answers every list in one page; KMS pages ListAliases by 100 at most.
#[tokio::test]
async fn key_aliases_follow_every_page() {
    use aws_sdk_kms::types::AliasListEntry;
    let alias = |name: &str, key: Option<&str>| {
        AliasListEntry::builder()
            .alias_name(name)
            .set_target_key_id(key.map(String::from))
            .build()
    };
    let asked: Log = Default::default();
    let log = asked.clone();
    let first = mock!(aws_sdk_kms::Client::list_aliases)
        .match_requests(move |r| {
            log.lock()
                .unwrap()
                .push(if r.limit() == Some(2) { "limit 2" } else { "other limit" });
            r.marker().is_none()
        })
        .then_output(move || {
            kms_op::list_aliases::ListAliasesOutput::builder()
                .aliases(alias("alias/aws/ebs", Some("aws-managed")))
                .aliases(alias("alias/first", Some("k-1")))
                .truncated(true)
                .next_marker("page-2")
                .build()
        });
    let second = mock!(aws_sdk_kms::Client::list_aliases)
        .match_requests(|r| r.marker() == Some("page-2"))
        .then_output(move || {
            kms_op::list_aliases::ListAliasesOutput::builder()
                .aliases(alias("alias/second", Some("k-2")))
                .aliases(alias("alias/unused", None))
                .truncated(false)
                .build()
        });
    let kms = mock_client!(aws_sdk_kms, RuleMode::MatchAny, &[&first, &second]);
    let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, &[]);
    let sts = mock_client!(aws_sdk_sts, RuleMode::MatchAny, &[]);
    let ctx = AwsContext::from_clients(conn(), kms, iam, sts);

    let listed = autounseal::aws::keys::key_aliases(&ctx, 2).await.unwrap();
    let names: Vec<_> = listed.iter().map(|k| (k.alias.as_str(), k.key_id.as_str())).collect();
    assert_eq!(names, [("alias/first", "k-1"), ("alias/second", "k-2")]);
    // The first rule is asked about both requests.
    assert_eq!(
        *asked.lock().unwrap(),
        ["limit 2", "limit 2"],
        "each page asked by the page size"
    );
    assert_eq!(second.num_calls(), 1, "the second page was fetched by its marker");
}
