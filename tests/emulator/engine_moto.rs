//! The provisioning engine against a real AWS API emulator (moto server).

use crate::common;

use std::os::unix::fs::PermissionsExt;

use autounseal::answers::Answers;
use autounseal::aws::destroy::{DestroyOptions, destroy_aws};
use autounseal::aws::{AwsContext, Provisioner, policy};
use autounseal::credentials_file;
use autounseal::flow::remove_files;
use autounseal::run::manifest::FileRole;
use autounseal::run::{Applied, ApplyOptions, Event, ManifestStore, Origin, Recorder, Reporter, RunError, Step};
use aws_sdk_kms::types::{KeySpec, KeyState, KeyUsageType};
use common::{Moto, answers, context, context_as};

const APPLY: ApplyOptions = ApplyOptions {
    overwrite_files: false,
    dry_run: false,
};

async fn provision(
    ctx: &AwsContext,
    a: &Answers,
    store: &ManifestStore,
    opts: ApplyOptions,
) -> Result<Vec<String>, RunError> {
    let p = Provisioner::new(ctx, a, store, Reporter::silent(), opts);
    p.run().await?;
    Ok(p.calls().into_iter().map(|c| c.action).collect())
}

#[tokio::test]
async fn apply_creates_least_privilege_setup_and_a_rerun_changes_nothing() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let mut a = answers(&moto, dir.path());
    a.output.credentials_csv = Some(dir.path().join("etc/creds.csv"));
    let ctx = context(&a).await;
    let store = ManifestStore::open(&dir.path().join("state")).unwrap();

    let mut calls = provision(&ctx, &a, &store, APPLY).await.unwrap();
    // The key and user branches run side by side, so only the set is fixed.
    calls.sort();
    assert_eq!(
        calls,
        [
            "file:write",
            "file:write",
            "iam:AttachUserPolicy",
            "iam:CreateAccessKey",
            "iam:CreatePolicy",
            "iam:CreateUser",
            "kms:CreateAlias",
            "kms:CreateKey",
            "kms:EnableKeyRotation"
        ]
    );

    // Check what exists with our own calls, not the engine's word.
    let m = store.snapshot();
    let key = m.kms_key.clone().unwrap();
    let meta = ctx
        .kms
        .describe_key()
        .key_id(&key.key_id)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(meta.key_spec, Some(KeySpec::SymmetricDefault));
    assert_eq!(meta.key_usage, Some(KeyUsageType::EncryptDecrypt));
    assert_eq!(meta.key_state, Some(KeyState::Enabled));
    let rotation = ctx
        .kms
        .get_key_rotation_status()
        .key_id(&key.key_id)
        .send()
        .await
        .unwrap();
    assert!(rotation.key_rotation_enabled());
    let by_alias = ctx
        .kms
        .describe_key()
        .key_id("alias/vault-auto-unseal")
        .send()
        .await
        .unwrap();
    assert_eq!(by_alias.key_metadata.unwrap().key_id, key.key_id);

    let user = ctx
        .iam
        .get_user()
        .user_name("vault-auto-unseal")
        .send()
        .await
        .unwrap()
        .user
        .unwrap();
    assert!(
        ctx.iam
            .get_login_profile()
            .user_name("vault-auto-unseal")
            .send()
            .await
            .is_err(),
        "no console login"
    );
    let attached = ctx
        .iam
        .list_attached_user_policies()
        .user_name("vault-auto-unseal")
        .send()
        .await
        .unwrap();
    let arns: Vec<_> = attached
        .attached_policies()
        .iter()
        .map(|p| p.policy_arn().unwrap().to_string())
        .collect();
    let policy_arn = m.iam_policy.clone().unwrap().arn;
    assert_eq!(
        arns,
        std::slice::from_ref(&policy_arn),
        "exactly one policy on the user"
    );
    let got = ctx
        .iam
        .get_policy()
        .policy_arn(&policy_arn)
        .send()
        .await
        .unwrap()
        .policy
        .unwrap();
    let version = ctx
        .iam
        .get_policy_version()
        .policy_arn(&policy_arn)
        .version_id(got.default_version_id().unwrap())
        .send()
        .await
        .unwrap();
    let raw = version.policy_version.unwrap().document.unwrap();
    let doc: serde_json::Value = serde_json::from_str(&urlencoding::decode(&raw).unwrap()).unwrap();
    policy::check_least_privilege(&doc, std::slice::from_ref(&key.arn)).unwrap();

    // The saved key is the user's, 0600, and works for what Vault does.
    let env = &a.output.env_file;
    assert_eq!(std::fs::metadata(env).unwrap().permissions().mode() & 0o777, 0o600);
    let csv = a.output.credentials_csv.as_ref().unwrap();
    assert_eq!(std::fs::metadata(csv).unwrap().permissions().mode() & 0o777, 0o600);
    let text = std::fs::read_to_string(env).unwrap();
    for var in [
        "AWS_ACCESS_KEY_ID=",
        "AWS_SECRET_ACCESS_KEY=",
        "AWS_DEFAULT_REGION=eu-west-1",
        "AWS_REGION=eu-west-1",
    ] {
        assert!(text.contains(var), "{var} missing");
    }
    let saved = credentials_file::read_env_key(env).unwrap();
    let listed = ctx
        .iam
        .list_access_keys()
        .user_name("vault-auto-unseal")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.access_key_metadata()[0].access_key_id(), Some(saved.id.as_str()));
    let vault = context_as(&a, &saved.id, saved.expose_secret()).await;
    let me = vault.sts.get_caller_identity().send().await.unwrap();
    assert_eq!(me.arn(), Some(user.arn()));
    let sealed = vault
        .kms
        .encrypt()
        .key_id(&key.arn)
        .plaintext(aws_sdk_kms::primitives::Blob::new("root key"))
        .send()
        .await
        .unwrap();
    let opened = vault
        .kms
        .decrypt()
        .ciphertext_blob(sealed.ciphertext_blob.unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(opened.plaintext.unwrap().as_ref(), b"root key");

    // The manifest names things and never holds the secret.
    let manifest_text = std::fs::read_to_string(store.path().unwrap()).unwrap();
    assert!(manifest_text.contains(&saved.id));
    assert!(!manifest_text.contains(saved.expose_secret()));

    // Again with the same answers: nothing changes, nothing is duplicated.
    let again = provision(
        &ctx,
        &a,
        &ManifestStore::open(&dir.path().join("state")).unwrap(),
        APPLY,
    )
    .await
    .unwrap();
    assert_eq!(again, Vec::<String>::new());
    assert_eq!(ctx.kms.list_keys().send().await.unwrap().keys().len(), 1);
    assert_eq!(ctx.iam.list_users().send().await.unwrap().users().len(), 1);
    assert_eq!(credentials_file::read_env_key_id(env).unwrap(), saved.id);
}

#[tokio::test]
async fn a_lost_manifest_adopts_what_autounseal_tagged() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let a = answers(&moto, dir.path());
    let ctx = context(&a).await;
    provision(&ctx, &a, &ManifestStore::open(&dir.path().join("s1")).unwrap(), APPLY)
        .await
        .unwrap();
    // A new state folder: the key (via its alias), user and policy are recognised by tag.
    let store = ManifestStore::open(&dir.path().join("s2")).unwrap();
    let opts = ApplyOptions {
        overwrite_files: true,
        dry_run: false,
    };
    let calls = provision(&ctx, &a, &store, opts).await.unwrap();
    assert_eq!(
        calls,
        ["iam:CreateAccessKey", "file:write"],
        "only a new key, since the old secret is not ours to read"
    );
    let m = store.snapshot();
    assert_eq!(m.kms_key.unwrap().origin, Origin::Created);
    assert_eq!(m.iam_user.unwrap().origin, Origin::Created);
    assert_eq!(ctx.kms.list_keys().send().await.unwrap().keys().len(), 1);
}

#[tokio::test]
async fn destroy_leaves_no_trace_and_resumes_cleanly() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let a = answers(&moto, dir.path());
    let ctx = context(&a).await;
    let state = dir.path().join("state");
    let store = ManifestStore::open(&state).unwrap();
    provision(&ctx, &a, &store, APPLY).await.unwrap();
    let key_id = store.snapshot().kms_key.unwrap().key_id;

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
    let rep = Reporter::silent();
    let recorder = Recorder::new(rep.clone(), &store, false);
    remove_files(&recorder, &store, &rep, &[FileRole::EnvFile, FileRole::CredentialsCsv])
        .await
        .unwrap();
    // Removing a file is a change like any other: recorded with its twin.
    let removed: Vec<String> = recorder.calls().into_iter().map(|c| c.command).collect();
    assert!(
        removed
            .iter()
            .any(|c| c.starts_with("rm -f ") && c.ends_with("vault.env")),
        "{removed:?}"
    );
    assert!(store.remove_if_empty().unwrap());

    assert!(ctx.iam.get_user().user_name("vault-auto-unseal").send().await.is_err());
    assert!(
        ctx.iam
            .list_policies()
            .scope(aws_sdk_iam::types::PolicyScopeType::Local)
            .send()
            .await
            .unwrap()
            .policies()
            .is_empty()
    );
    assert!(
        ctx.kms
            .list_aliases()
            .send()
            .await
            .unwrap()
            .aliases()
            .iter()
            .all(|al| al.alias_name() != Some("alias/vault-auto-unseal"))
    );
    let meta = ctx
        .kms
        .describe_key()
        .key_id(&key_id)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(meta.key_state, Some(KeyState::PendingDeletion));
    assert!(!a.output.env_file.exists());
    assert!(!state.join("manifest.json").exists());

    // A second destroy on a fresh (empty) manifest has nothing to do and fails on nothing.
    let empty = ManifestStore::open(&state).unwrap();
    destroy_aws(&ctx, &empty, &Reporter::silent(), DestroyOptions::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn destroy_never_touches_what_was_only_reused() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let mut a = answers(&moto, dir.path());
    let ctx = context(&a).await;
    // The operator's own key and user, made outside autounseal.
    let theirs = ctx.kms.create_key().send().await.unwrap().key_metadata.unwrap();
    ctx.iam
        .create_user()
        .user_name("vault-auto-unseal")
        .send()
        .await
        .unwrap();
    a.kms.create = false;
    a.kms.key_id = Some(theirs.arn.clone().unwrap());
    let store = ManifestStore::open(&dir.path().join("state")).unwrap();
    provision(&ctx, &a, &store, APPLY).await.unwrap();
    let m = store.snapshot();
    assert_eq!(m.kms_key.as_ref().unwrap().origin, Origin::Reused);
    assert_eq!(m.iam_user.as_ref().unwrap().origin, Origin::Reused);

    destroy_aws(&ctx, &store, &Reporter::silent(), DestroyOptions::default())
        .await
        .unwrap();
    let user = ctx.iam.get_user().user_name("vault-auto-unseal").send().await;
    assert!(user.is_ok(), "the reused user stays");
    let keys = ctx
        .iam
        .list_access_keys()
        .user_name("vault-auto-unseal")
        .send()
        .await
        .unwrap();
    assert!(
        keys.access_key_metadata().is_empty(),
        "the access key autounseal made is gone"
    );
    let attached = ctx
        .iam
        .list_attached_user_policies()
        .user_name("vault-auto-unseal")
        .send()
        .await
        .unwrap();
    assert!(
        attached.attached_policies().is_empty(),
        "our policy is detached and deleted"
    );
    let meta = ctx
        .kms
        .describe_key()
        .key_id(theirs.key_id)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(meta.key_state, Some(KeyState::Enabled), "the reused key stays enabled");
}

#[tokio::test]
async fn plan_changes_nothing_and_shows_the_exact_policy() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let a = answers(&moto, dir.path());
    let ctx = context(&a).await;
    let store = ManifestStore::detached(Default::default());
    let p = Provisioner::new(
        &ctx,
        &a,
        &store,
        Reporter::silent(),
        ApplyOptions {
            overwrite_files: false,
            dry_run: true,
        },
    );
    let out = p.run().await.unwrap();
    let actions: Vec<_> = p.calls().into_iter().map(|c| c.action).collect();
    assert!(actions.contains(&"kms:CreateKey".to_string()) && actions.contains(&"iam:CreateAccessKey".to_string()));
    assert_eq!(out.key, Applied::Planned, "the key is only planned");
    // The policy as the plan prints it: the three actions Vault calls, on the one key
    // the apply creates (no id yet), and no wildcard.
    let shown = out.summary(&a.region, &a.iam.user_name);
    let printed: serde_json::Value =
        serde_json::from_str(&policy::document_text(std::slice::from_ref(&shown.key.arn))).unwrap();
    assert_eq!(
        printed,
        serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "VaultAutoUnsealKms",
                "Effect": "Allow",
                "Action": ["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey"],
                "Resource": "arn:aws:kms:eu-west-1:123456789012:key/<new-key-id>",
            }]
        })
    );
    assert!(
        !policy::document_text(std::slice::from_ref(&shown.key.arn)).contains('*'),
        "no wildcard"
    );
    assert_eq!(shown.user.arn, "arn:aws:iam::123456789012:user/vault-auto-unseal");
    assert!(ctx.kms.list_keys().send().await.unwrap().keys().is_empty());
    assert!(ctx.iam.list_users().send().await.unwrap().users().is_empty());
    assert!(!a.output.env_file.exists());
}

#[tokio::test]
async fn a_plan_says_what_it_would_do_and_nothing_is_done() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let a = answers(&moto, dir.path());
    let ctx = context(&a).await;
    let store = ManifestStore::detached(Default::default());
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let plan = ApplyOptions {
        overwrite_files: true,
        dry_run: true,
    };
    let p = Provisioner::new(&ctx, &a, &store, Reporter::new(tx), plan);
    p.run().await.unwrap();
    drop(p);
    let mut calls = 0;
    while let Some(event) = rx.recv().await {
        match event {
            Event::Done(step, text) => assert_eq!(step, Step::Identity, "a plan said {text:?} is done"),
            Event::Call(_) => calls += 1,
            _ => {}
        }
    }
    assert!(calls >= 7, "every change is listed: {calls}");
}

// ---- bad input: each gets a clear message, and nothing is left half-made -------------

async fn apply_err(ctx: &AwsContext, a: &Answers, dir: &std::path::Path) -> String {
    let store = ManifestStore::open(&dir.join("state")).unwrap();
    provision(ctx, a, &store, APPLY).await.unwrap_err().to_string()
}

#[tokio::test]
async fn a_key_in_another_region_is_reported_as_such() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let mut a = answers(&moto, dir.path());
    let mut elsewhere = a.clone();
    elsewhere.region = "us-east-1".into();
    let key = context(&elsewhere)
        .await
        .kms
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    a.kms.create = false;
    a.kms.key_id = Some(key.key_id.clone());
    let msg = apply_err(&context(&a).await, &a, dir.path()).await;
    assert!(
        msg.contains("not found in eu-west-1") && msg.contains("another region"),
        "{msg}"
    );
    // Given as an ARN, the mismatch is caught before any call.
    a.kms.key_id = key.arn;
    let msg = a.check().unwrap_err().to_string();
    assert!(msg.contains("lives in us-east-1"), "{msg}");
}

#[tokio::test]
async fn unsuitable_keys_are_refused_with_the_reason() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let mut a = answers(&moto, dir.path());
    let ctx = context(&a).await;
    a.kms.create = false;
    let rsa = ctx
        .kms
        .create_key()
        .key_spec(KeySpec::Rsa2048)
        .key_usage(KeyUsageType::SignVerify)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    a.kms.key_id = Some(rsa.key_id);
    let msg = apply_err(&ctx, &a, dir.path()).await;
    assert!(msg.contains("needs a symmetric key"), "{msg}");

    let disabled = ctx.kms.create_key().send().await.unwrap().key_metadata.unwrap();
    ctx.kms.disable_key().key_id(&disabled.key_id).send().await.unwrap();
    a.kms.key_id = Some(disabled.key_id);
    let msg = apply_err(&ctx, &a, dir.path()).await;
    assert!(
        msg.contains("is disabled") && msg.contains("aws kms enable-key"),
        "{msg}"
    );
}

#[tokio::test]
async fn an_alias_owned_by_someone_else_is_not_taken_over() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let a = answers(&moto, dir.path());
    let ctx = context(&a).await;
    let theirs = ctx.kms.create_key().send().await.unwrap().key_metadata.unwrap();
    ctx.kms
        .create_alias()
        .alias_name("alias/vault-auto-unseal")
        .target_key_id(&theirs.key_id)
        .send()
        .await
        .unwrap();
    let msg = apply_err(&ctx, &a, dir.path()).await;
    assert!(
        msg.contains("autounseal did not create") && msg.contains("kms.create = false"),
        "{msg}"
    );
    assert_eq!(
        ctx.kms.list_keys().send().await.unwrap().keys().len(),
        1,
        "no second key was made"
    );
}

#[tokio::test]
async fn two_access_keys_already_give_a_choice_not_a_crash() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let mut a = answers(&moto, dir.path());
    let ctx = context(&a).await;
    ctx.iam
        .create_user()
        .user_name("vault-auto-unseal")
        .send()
        .await
        .unwrap();
    let mut ids = Vec::new();
    for _ in 0..2 {
        let k = ctx
            .iam
            .create_access_key()
            .user_name("vault-auto-unseal")
            .send()
            .await
            .unwrap();
        ids.push(k.access_key.unwrap().access_key_id().to_string());
    }
    let msg = apply_err(&ctx, &a, dir.path()).await;
    assert!(
        msg.contains(&ids[0]) && msg.contains(&ids[1]) && msg.contains("replace_access_key"),
        "{msg}"
    );

    a.iam.replace_access_key = Some(ids[0].clone());
    provision(
        &ctx,
        &a,
        &ManifestStore::open(&dir.path().join("state")).unwrap(),
        APPLY,
    )
    .await
    .unwrap();
    let left = ctx
        .iam
        .list_access_keys()
        .user_name("vault-auto-unseal")
        .send()
        .await
        .unwrap();
    let left: Vec<_> = left
        .access_key_metadata()
        .iter()
        .map(|k| k.access_key_id().unwrap().to_string())
        .collect();
    assert!(
        !left.contains(&ids[0]) && left.contains(&ids[1]) && left.len() == 2,
        "{left:?}"
    );
}

#[tokio::test]
async fn an_existing_env_file_stops_the_run_before_anything_is_created() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let a = answers(&moto, dir.path());
    let ctx = context(&a).await;
    std::fs::create_dir_all(a.output.env_file.parent().unwrap()).unwrap();
    std::fs::write(&a.output.env_file, "AWS_ACCESS_KEY_ID=theirs\n").unwrap();
    let msg = apply_err(&ctx, &a, dir.path()).await;
    assert!(msg.contains("already exists") && msg.contains("--yes"), "{msg}");
    assert!(ctx.kms.list_keys().send().await.unwrap().keys().is_empty());
    assert!(ctx.iam.list_users().send().await.unwrap().users().is_empty());
    assert_eq!(
        std::fs::read_to_string(&a.output.env_file).unwrap(),
        "AWS_ACCESS_KEY_ID=theirs\n"
    );

    // With the operator's yes the old file is kept as a backup.
    let opts = ApplyOptions {
        overwrite_files: true,
        dry_run: false,
    };
    let store = ManifestStore::open(&dir.path().join("state")).unwrap();
    provision(&ctx, &a, &store, opts).await.unwrap();
    let backup = store
        .snapshot()
        .file(FileRole::EnvFile)
        .unwrap()
        .backup
        .clone()
        .unwrap();
    assert_eq!(std::fs::read_to_string(backup).unwrap(), "AWS_ACCESS_KEY_ID=theirs\n");
}

#[tokio::test]
async fn rejected_credentials_and_denied_actions_name_what_to_fix() {
    // moto checks credentials and IAM policies after its first three requests.
    let moto = Moto::with_auth_after(3);
    let dir = tempfile::tempdir().unwrap();
    let a = answers(&moto, dir.path());
    let admin = context(&a).await;
    admin.iam.create_user().user_name("operator").send().await.unwrap();
    let key = admin
        .iam
        .create_access_key()
        .user_name("operator")
        .send()
        .await
        .unwrap()
        .access_key
        .unwrap();
    let narrow = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sts:GetCallerIdentity","iam:GetUser","kms:DescribeKey"],"Resource":"*"}]}"#;
    admin
        .iam
        .put_user_policy()
        .user_name("operator")
        .policy_name("narrow")
        .policy_document(narrow)
        .send()
        .await
        .unwrap();

    let unknown = context_as(&a, "AKIAUNKNOWNUNKNOWN12", "wrong").await;
    let msg = apply_err(&unknown, &a, dir.path()).await;
    assert!(
        msg.contains("rejected the credentials") && msg.contains("InvalidClientTokenId"),
        "{msg}"
    );

    let operator = context_as(&a, key.access_key_id(), key.secret_access_key()).await;
    let msg = apply_err(&operator, &a, dir.path()).await;
    assert!(
        msg.contains("denied kms:CreateKey") || msg.contains("denied iam:CreateUser"),
        "{msg}"
    );
    assert!(msg.contains("needs permission"), "{msg}");
}

#[tokio::test]
async fn an_endpoint_that_refuses_or_never_answers_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens on this port.
    let port = common::free_port();
    let mut a = Answers {
        region: "eu-west-1".into(),
        endpoint_url: Some(format!("http://127.0.0.1:{port}")),
        ..Default::default()
    };
    a.timing.attempt_timeout_secs = 1;
    // Room for the SDK's retries of the refused connection (jittered, 15 s at worst).
    a.timing.operation_timeout_secs = 25;
    let msg = apply_err(&context(&a).await, &a, dir.path()).await;
    assert!(
        msg.contains("cannot reach http://127.0.0.1") && msg.contains("onnection refused"),
        "{msg}"
    );

    // Something listens but never answers: the timeouts end the wait.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    a.timing.operation_timeout_secs = 3;
    a.endpoint_url = Some(format!("http://{}", silent.local_addr().unwrap()));
    let started = std::time::Instant::now();
    let msg = apply_err(&context(&a).await, &a, dir.path()).await;
    assert!(msg.contains("timed out") && msg.contains("did not answer"), "{msg}");
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}

#[tokio::test]
async fn switching_keys_updates_the_policy_within_iams_five_versions() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let mut a = answers(&moto, dir.path());
    let ctx = context(&a).await;
    let store = ManifestStore::open(&dir.path().join("state")).unwrap();
    a.kms.create = false;
    for round in 0..6 {
        let key = ctx.kms.create_key().send().await.unwrap().key_metadata.unwrap();
        a.kms.key_id = Some(key.key_id.clone());
        let calls = provision(&ctx, &a, &store, APPLY).await.unwrap();
        let policy_arn = store.snapshot().iam_policy.unwrap().arn;
        let versions = ctx
            .iam
            .list_policy_versions()
            .policy_arn(&policy_arn)
            .send()
            .await
            .unwrap();
        assert!(
            versions.versions().len() <= 5,
            "round {round}: {} versions",
            versions.versions().len()
        );
        if round > 0 {
            assert!(
                calls.contains(&"iam:CreatePolicyVersion".to_string()),
                "round {round}: {calls:?}"
            );
        }
        if round == 5 {
            assert!(calls.contains(&"iam:DeletePolicyVersion".to_string()), "{calls:?}");
        }
        let default = versions.versions().iter().find(|v| v.is_default_version()).unwrap();
        let doc = ctx
            .iam
            .get_policy_version()
            .policy_arn(&policy_arn)
            .version_id(default.version_id().unwrap())
            .send()
            .await
            .unwrap();
        let raw = doc.policy_version.unwrap().document.unwrap();
        let doc: serde_json::Value = serde_json::from_str(&urlencoding::decode(&raw).unwrap()).unwrap();
        policy::check_least_privilege(&doc, &[key.arn.clone().unwrap()]).unwrap();
    }
}

#[tokio::test]
async fn key_aliases_name_the_customer_keys_only() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let ctx = context(&answers(&moto, dir.path())).await;
    let mut made = Vec::new();
    for i in 0..5 {
        let key = ctx.kms.create_key().send().await.unwrap().key_metadata.unwrap();
        let alias = format!("alias/listed-{i}");
        ctx.kms
            .create_alias()
            .alias_name(&alias)
            .target_key_id(key.key_id())
            .send()
            .await
            .unwrap();
        made.push(autounseal::aws::keys::KeyAlias {
            alias,
            key_id: key.key_id().to_string(),
        });
    }
    // moto answers in one page whatever the limit: the paging is proven in tests/fast/mocks.rs.
    let listed = autounseal::aws::keys::key_aliases(&ctx, 2).await.unwrap();
    let ours: Vec<_> = listed
        .iter()
        .filter(|k| k.alias.starts_with("alias/listed-"))
        .cloned()
        .collect();
    assert_eq!(ours, made, "every alias, each once, in KMS's order");
    assert!(
        listed.len() == made.len(),
        "moto's AWS managed aliases are left out: {listed:?}"
    );
}

#[tokio::test]
async fn destroy_mid_rotation_deletes_the_rotations_key_too_and_its_backups() {
    use autounseal::run::manifest::{RotationBackup, RotationRecord, RotationStage};
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let a = answers(&moto, dir.path());
    let ctx = context(&a).await;
    // A user of the operator's: destroy deletes only the keys autounseal made on it.
    ctx.iam
        .create_user()
        .user_name("vault-auto-unseal")
        .send()
        .await
        .unwrap();
    let store = ManifestStore::open(&dir.path().join("state")).unwrap();
    provision(&ctx, &a, &store, APPLY).await.unwrap();
    let old = store.snapshot().access_key.unwrap().id;
    // A rotation stopped after its new key was saved: the old files are backups.
    let new = ctx
        .iam
        .create_access_key()
        .user_name("vault-auto-unseal")
        .send()
        .await
        .unwrap()
        .access_key
        .unwrap()
        .access_key_id;
    let backup = dir.path().join("vault.env.rotate-backup");
    std::fs::write(&backup, "AWS_ACCESS_KEY_ID=old\n").unwrap();
    store
        .update(|m| {
            m.rotation = Some(RotationRecord {
                user: "vault-auto-unseal".into(),
                old_key_id: old.clone(),
                new_key_id: Some(new.clone()),
                keys_before: vec![old.clone()],
                stage: RotationStage::Saved,
                old_deactivated: false,
                server_on_new_key: false,
                backups: vec![RotationBackup {
                    path: a.output.env_file.clone(),
                    backup: backup.clone(),
                }],
                rolling_back: None,
            })
        })
        .unwrap();

    autounseal::flow::undo(&ctx, &store, &Reporter::silent(), DestroyOptions::default())
        .await
        .unwrap();
    let keys = ctx
        .iam
        .list_access_keys()
        .user_name("vault-auto-unseal")
        .send()
        .await
        .unwrap();
    assert!(
        keys.access_key_metadata().is_empty(),
        "both the recorded key and the rotation's new key are gone: {:?}",
        keys.access_key_metadata()
    );
    assert!(!backup.exists(), "the backup of a dead key's secret is removed");
    assert!(store.snapshot().rotation.is_none());
    assert!(ctx.iam.get_user().user_name("vault-auto-unseal").send().await.is_ok());
}
