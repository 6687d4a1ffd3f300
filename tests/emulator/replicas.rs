//! A key with replicas in other regions (`kms.replica_regions`), against moto: made as a
//! multi-region key, replicated with its alias, named ARN by ARN in the policy, adopted
//! and completed by a re-run, removed replicas first by destroy.

use crate::common;

use autounseal::answers::Answers;
use autounseal::aws::destroy::{DestroyOptions, destroy_aws};
use autounseal::aws::{AwsContext, Provisioner, policy};
use autounseal::run::{ApplyOptions, ManifestStore, Reporter, RunError};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::KeyState;
use common::{Moto, answers, context, context_as};

const APPLY: ApplyOptions = ApplyOptions {
    overwrite_files: true,
    dry_run: false,
};

/// Boxed, as every long call here: the test's own future stays small enough for the
/// test thread's stack.
async fn provision(ctx: &AwsContext, a: &Answers, store: &ManifestStore) -> Result<Vec<String>, RunError> {
    let p = Provisioner::new(ctx, a, store, Reporter::silent(), APPLY);
    Box::pin(p.run()).await?;
    Ok(p.calls().into_iter().map(|c| c.action).collect())
}

/// The policy's default document, as IAM holds it.
async fn policy_document(ctx: &AwsContext, arn: &str) -> serde_json::Value {
    let p = ctx.iam.get_policy().policy_arn(arn).send().await.unwrap();
    let version = p.policy().unwrap().default_version_id().unwrap().to_string();
    let v = ctx
        .iam
        .get_policy_version()
        .policy_arn(arn)
        .version_id(version)
        .send()
        .await
        .unwrap();
    let raw = v.policy_version().unwrap().document().unwrap();
    serde_json::from_str(&urlencoding::decode(raw).unwrap()).unwrap()
}

async fn state_in(ctx: &AwsContext, region: &str, key: &str) -> Option<KeyState> {
    let there = ctx.kms_in(region);
    let out = there.describe_key().key_id(key).send().await.ok()?;
    out.key_metadata.and_then(|m| m.key_state)
}

#[tokio::test]
async fn replicas_are_made_named_in_the_policy_completed_by_a_rerun_and_destroyed_first() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let mut a = answers(&moto, dir.path());
    a.kms.replica_regions = vec!["us-west-2".into()];
    let ctx = context(&a).await;
    let store = ManifestStore::open(&dir.path().join("state")).unwrap();

    // The plan: the key multi-region, then its replica and the alias there, each with
    // its twin sent to the right region.
    let plan = Provisioner::new(
        &ctx,
        &a,
        &store,
        Reporter::silent(),
        ApplyOptions { dry_run: true, ..APPLY },
    );
    Box::pin(plan.run()).await.unwrap();
    let planned: Vec<(String, String)> = plan.calls().into_iter().map(|c| (c.action, c.command)).collect();
    let kms: Vec<&(String, String)> = planned.iter().filter(|(a, _)| a.starts_with("kms:")).collect();
    let actions: Vec<&str> = kms.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(
        actions,
        [
            "kms:CreateKey",
            "kms:EnableKeyRotation",
            "kms:CreateAlias",
            "kms:ReplicateKey",
            "kms:CreateAlias"
        ]
    );
    assert!(kms[0].1.contains("--multi-region"), "{}", kms[0].1);
    assert!(
        kms[3].1.contains("--replica-region us-west-2") && kms[3].1.contains("--region eu-west-1"),
        "{}",
        kms[3].1
    );
    assert!(kms[4].1.contains("--region us-west-2"), "{}", kms[4].1);
    assert!(store.snapshot().kms_key.is_none(), "a plan makes nothing");

    let calls = provision(&ctx, &a, &store).await.unwrap();
    assert_eq!(
        calls.iter().filter(|c| *c == "kms:ReplicateKey").count(),
        1,
        "{calls:?}"
    );
    let m = store.snapshot();
    let key = m.kms_key.clone().unwrap();
    assert!(key.key_id.starts_with("mrk-"), "a multi-region key: {}", key.key_id);
    let replica = &m.kms_replicas[0];
    assert_eq!(replica.region, "us-west-2");
    assert_eq!(replica.arn, policy::replica_arn(&key.arn, "us-west-2"));
    assert_eq!(replica.alias.as_deref(), Some(a.kms.alias.as_str()));

    // Checked with our own calls in the replica's region, not the engine's word.
    let there = ctx.kms_in("us-west-2");
    let meta = there
        .describe_key()
        .key_id(&a.kms.alias)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    // (moto shares a replica's aliases with its key, where AWS keeps them per region: the
    // alias may be found there before autounseal makes it, and is then only recorded.)
    assert_eq!(meta.key_id, key.key_id, "the alias names the replica there");
    assert_eq!(meta.key_state, Some(KeyState::Enabled));
    let primary = meta.multi_region_configuration.unwrap().primary_key.unwrap();
    assert_eq!(primary.arn.as_deref(), Some(key.arn.as_str()));

    // The policy names both ARNs, each, and nothing more.
    let arns = m.key_arns();
    let doc = policy_document(&ctx, &m.iam_policy.as_ref().unwrap().arn).await;
    policy::check_least_privilege(&doc, &arns).unwrap();
    assert!(!doc.to_string().contains('*'));

    // Vault's own key encrypts in the key's region; the replica's region decrypts that.
    let saved = autounseal::credentials_file::read_env_key(&a.output.env_file).unwrap();
    let here = context_as(&a, &saved.id, saved.expose_secret()).await;
    let sealed = here
        .kms
        .encrypt()
        .key_id(&key.arn)
        .plaintext(Blob::new(b"root key".as_slice()))
        .send()
        .await
        .unwrap();
    let mut in_replica_region = a.clone();
    in_replica_region.region = "us-west-2".into();
    let recovery = context_as(&in_replica_region, &saved.id, saved.expose_secret()).await;
    let opened = recovery
        .kms
        .decrypt()
        .key_id(&replica.arn)
        .ciphertext_blob(sealed.ciphertext_blob.unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(opened.plaintext.unwrap().as_ref(), b"root key");

    // Doctor: the policy least privilege across both ARNs, the replica Enabled; a
    // replica disabled is a failure whose fix is sent to its region.
    let doctor = |m: autounseal::run::Manifest| {
        let ctx = ctx.clone();
        async move {
            let mut found = Vec::new();
            Box::pin(autounseal::doctor::checks::key(&m, &ctx, true, None, &mut found)).await;
            Box::pin(autounseal::doctor::checks::policy(&m, &ctx, true, &mut found)).await;
            found
        }
    };
    let found = Box::pin(doctor(store.snapshot())).await;
    let replica_check = |found: &[autounseal::doctor::Finding]| {
        found
            .iter()
            .find(|f| f.check == "replica us-west-2")
            .cloned()
            .unwrap_or_else(|| panic!("{found:?}"))
    };
    assert_eq!(replica_check(&found).verdict, autounseal::doctor::Verdict::Ok);
    let privilege = found.iter().find(|f| f.check == "least privilege").unwrap();
    assert_eq!(privilege.verdict, autounseal::doctor::Verdict::Ok, "{privilege:?}");
    assert!(privilege.evidence.contains("and its replica"), "{privilege:?}");
    // With no operator credentials (a timer run as root): the key and its replica are
    // read as the server, the rotation (which its key may not read) skipped.
    let mut as_server = Vec::new();
    let m = store.snapshot();
    Box::pin(autounseal::doctor::checks::key(
        &m,
        &ctx,
        false,
        Some(&saved),
        &mut as_server,
    ))
    .await;
    let verdict = |check: &str| {
        as_server
            .iter()
            .find(|f| f.check == check)
            .map(|f| f.verdict)
            .unwrap_or_else(|| panic!("{check}: {as_server:?}"))
    };
    assert_eq!(verdict("state"), autounseal::doctor::Verdict::Ok);
    assert_eq!(verdict("replica us-west-2"), autounseal::doctor::Verdict::Ok);
    assert_eq!(verdict("rotation"), autounseal::doctor::Verdict::Skipped);
    ctx.kms_in("us-west-2")
        .disable_key()
        .key_id(&key.key_id)
        .send()
        .await
        .unwrap();
    let disabled = replica_check(&Box::pin(doctor(store.snapshot())).await);
    assert_eq!(disabled.verdict, autounseal::doctor::Verdict::Fail);
    let fix = disabled.fix.unwrap();
    assert!(
        fix.contains("enable-key") && fix.contains("--region us-west-2"),
        "{fix}"
    );
    ctx.kms_in("us-west-2")
        .enable_key()
        .key_id(&key.key_id)
        .send()
        .await
        .unwrap();

    // A re-run changes nothing; with a second region it adds that replica alone, and
    // gives the policy a version that names it too.
    assert!(provision(&ctx, &a, &store).await.unwrap().is_empty());
    a.kms.replica_regions.push("eu-central-1".into());
    let mut calls = provision(&ctx, &a, &store).await.unwrap();
    calls.sort();
    // (No CreateAlias there: moto shows the key's aliases in a replica's region.)
    assert_eq!(calls, ["iam:CreatePolicyVersion", "kms:ReplicateKey"]);
    let m = store.snapshot();
    assert_eq!(m.kms_replicas.len(), 2);
    let doc = policy_document(&ctx, &m.iam_policy.as_ref().unwrap().arn).await;
    policy::check_least_privilege(&doc, &m.key_arns()).unwrap();

    // Answers that drop a region the key has a replica in are refused before anything
    // changes: the policy would lose that ARN while the replica stays.
    let mut fewer = a.clone();
    fewer.kms.replica_regions = vec!["us-west-2".into()];
    let err = provision(&ctx, &fewer, &store).await.unwrap_err().to_string();
    assert!(
        err.contains("a replica in eu-central-1, which kms.replica_regions no longer names"),
        "{err}"
    );

    // A manifest that lost a replica's record (a run killed before it was written):
    // destroy still finds it, through the key.
    store
        .update(|m| m.kms_replicas.retain(|r| r.region != "eu-central-1"))
        .unwrap();
    Box::pin(destroy_aws(
        &ctx,
        &store,
        &Reporter::silent(),
        DestroyOptions::default(),
    ))
    .await
    .unwrap();
    for region in ["us-west-2", "eu-central-1"] {
        assert_eq!(
            state_in(&ctx, region, &key.key_id).await,
            Some(KeyState::PendingDeletion),
            "the replica in {region}"
        );
    }
    let alias_left = ctx.kms_in("us-west-2").describe_key().key_id(&a.kms.alias).send().await;
    assert!(alias_left.is_err(), "the alias in us-west-2 is gone");
    assert_eq!(
        state_in(&ctx, "eu-west-1", &key.key_id).await,
        Some(KeyState::PendingDeletion)
    );
    let m = store.snapshot();
    assert!(m.kms_key.is_none() && m.kms_replicas.is_empty(), "{m:?}");
}

#[tokio::test]
async fn a_single_region_key_cannot_get_replicas_and_nothing_is_made() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let mut a = answers(&moto, dir.path());
    let ctx = context(&a).await;
    let store = ManifestStore::open(&dir.path().join("state")).unwrap();
    provision(&ctx, &a, &store).await.unwrap();

    a.kms.replica_regions = vec!["us-west-2".into()];
    let p = Provisioner::new(&ctx, &a, &store, Reporter::silent(), APPLY);
    let err = Box::pin(p.run()).await.unwrap_err().to_string();
    assert!(
        err.contains("single-region key") && err.contains("cannot make an existing key multi-region"),
        "{err}"
    );
    assert!(
        err.contains("leave kms.replica_regions empty"),
        "says what to do: {err}"
    );
    let made: Vec<String> = p.calls().into_iter().map(|c| c.action).collect();
    assert!(!made.iter().any(|c| c.starts_with("kms:")), "{made:?}");
    let listed = ctx.kms_in("us-west-2").list_keys().send().await.unwrap();
    assert!(listed.keys().is_empty(), "nothing in us-west-2");

    // A reused multi-region key without the replica asked for: its owner's to make.
    let theirs = ctx
        .kms
        .create_key()
        .multi_region(true)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    let other = tempfile::tempdir().unwrap();
    let mut reuse = answers(&moto, other.path());
    reuse.kms.create = false;
    reuse.kms.key_id = theirs.arn.clone();
    reuse.kms.replica_regions = vec!["us-west-2".into()];
    reuse.iam.user_name = "another-vault".into();
    reuse.iam.policy_name = "another-policy".into();
    let store = ManifestStore::open(&other.path().join("state")).unwrap();
    let err = provision(&ctx, &reuse, &store).await.unwrap_err().to_string();
    assert!(
        err.contains("not autounseal's to replicate") && err.contains("replicate-key"),
        "{err}"
    );
    assert!(
        ctx.kms_in("us-west-2")
            .list_keys()
            .send()
            .await
            .unwrap()
            .keys()
            .is_empty()
    );
}
