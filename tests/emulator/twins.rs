//! Each change's command-line twin says what the SDK really sent: an apply against moto
//! with a recording interceptor on the clients, every AWS twin read back as an operation
//! and its parameters, and compared with the request of the same operation. And a plan's
//! twins run as printed: the real AWS CLI, on a machine with no default region, builds
//! with them what `apply` builds.

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};

use autounseal::answers::Answers;
use autounseal::aws::destroy::{DestroyOptions, destroy_aws};
use autounseal::aws::{AwsContext, Connection, Provisioner, policy};
use autounseal::run::{ApplyOptions, Call, ManifestStore, Reporter};
use autounseal::twins::{NEW_KEY_ID, RUN_TAG_KEY, TAG_KEY, TAG_VALUE};
use aws_sdk_kms::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_kms::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_kms::error::BoxError;
use common::{Moto, answers};
use serde_json::{Value, json};

/// One request as sent: its operation, and its parameters by name.
#[derive(Debug, Clone, PartialEq)]
struct Request {
    service: String,
    operation: String,
    params: BTreeMap<String, Value>,
}

/// Notes every request the clients send, before it goes out.
#[derive(Debug, Clone, Default)]
struct Sent(Arc<Mutex<Vec<Request>>>);

impl Intercept for Sent {
    fn name(&self) -> &'static str {
        "Sent"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request();
        let body = String::from_utf8_lossy(request.body().bytes().unwrap_or_default()).into_owned();
        let parsed = match request.headers().get("x-amz-target") {
            // KMS: JSON, the operation in a header (`TrentService.CreateKey`).
            Some(target) => Request {
                service: "kms".into(),
                operation: target.rsplit('.').next().unwrap_or(target).to_string(),
                params: serde_json::from_str::<BTreeMap<String, Value>>(&body)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(name, value)| (name, words_for_numbers(value)))
                    .collect(),
            },
            // IAM: a form, the operation as `Action`, lists as `Tags.member.N.Key`.
            None => query_request(&body),
        };
        self.0.lock().unwrap().push(parsed);
        Ok(())
    }
}

/// A number as the command line writes it: `--pending-window-in-days 30`.
fn words_for_numbers(value: Value) -> Value {
    match value {
        Value::Number(n) => Value::String(n.to_string()),
        other => other,
    }
}

fn query_request(body: &str) -> Request {
    let mut operation = String::new();
    let mut params = BTreeMap::new();
    let mut tags: BTreeMap<String, serde_json::Map<String, Value>> = BTreeMap::new();
    for (name, value) in url::form_urlencoded::parse(body.as_bytes()) {
        let value = value.into_owned();
        match name.split('.').collect::<Vec<_>>()[..] {
            ["Action"] => operation = value,
            ["Version"] => {}
            ["Tags", "member", n, field] => {
                tags.entry(n.to_string())
                    .or_default()
                    .insert(field.to_string(), value.into());
            }
            _ => {
                params.insert(name.into_owned(), Value::String(value));
            }
        }
    }
    if !tags.is_empty() {
        params.insert("Tags".into(), tags.into_values().map(Value::Object).collect());
    }
    Request {
        service: "iam".into(),
        operation,
        params,
    }
}

/// `create-key` → `CreateKey`.
fn pascal(kebab: &str) -> String {
    kebab
        .split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect()
}

/// A twin read back as the request it stands for: `aws SERVICE OP --name value…`. A
/// flag alone is `true`; `--tags` items (`Key=a,Value=b`) are objects; the place-wide
/// options (`--region`, `--endpoint-url`) belong to no request.
fn twin_request(twin: &str) -> Request {
    let words = shlex::split(twin).expect("a twin is shell words");
    let [aws, service, operation, options @ ..] = &words[..] else {
        panic!("not an aws twin: {twin}")
    };
    assert_eq!(aws, "aws", "{twin}");
    let mut params = BTreeMap::new();
    let mut options = options.iter().peekable();
    while let Some(option) = options.next() {
        let name = option
            .strip_prefix("--")
            .unwrap_or_else(|| panic!("{option} in {twin}"));
        let mut values = Vec::new();
        while let Some(value) = options.next_if(|v| !v.starts_with("--")) {
            values.push(value.clone());
        }
        let value = match (name, &values[..]) {
            ("region" | "endpoint-url", _) => continue,
            // A flag: KMS's JSON sends a boolean, IAM's query the word.
            (_, []) if service == "kms" => Value::Bool(true),
            (_, []) => Value::String("true".into()),
            ("tags", items) => items
                .iter()
                .map(|item| -> Value {
                    item.split(',')
                        .map(|pair| {
                            let (k, v) = pair.split_once('=').expect("Key=Value");
                            (k.to_string(), Value::String(v.to_string()))
                        })
                        .collect::<serde_json::Map<_, _>>()
                        .into()
                })
                .collect::<Vec<Value>>()
                .into(),
            (_, [one]) => Value::String(one.clone()),
            (_, many) => panic!("--{name} takes one value, not {many:?}, in {twin}"),
        };
        params.insert(pascal(name), value);
    }
    Request {
        service: service.clone(),
        operation: pascal(operation),
        params,
    }
}

/// The twin as it must match the request: the twin gives the policy on one line, the
/// SDK sends it laid out; both must be exactly the document for the key.
fn expected(twin: &Request, sent: &Request, key_arns: &[String]) -> Request {
    let mut twin = twin.clone();
    if let Some(doc) = twin.params.get_mut("PolicyDocument") {
        let json = |v: &Value| -> Value { serde_json::from_str(v.as_str().unwrap()).unwrap() };
        assert_eq!(
            json(doc),
            policy::document(key_arns),
            "the twin's policy is the document"
        );
        assert_eq!(
            json(&sent.params["PolicyDocument"]),
            policy::document(key_arns),
            "the policy sent is the one the plan prints"
        );
        *doc = sent.params["PolicyDocument"].clone();
    }
    twin
}

/// The clients of `answers`, each request noted in `sent`.
async fn recorded_context(answers: &autounseal::answers::Answers, sent: &Sent) -> AwsContext {
    let conn = Connection::from_answers(answers);
    let sdk = conn
        .loader()
        .credentials_provider(aws_credential_types::Credentials::new(
            "testing", "testing", None, None, "test",
        ))
        .load()
        .await;
    let kms = aws_sdk_kms::config::Builder::from(&sdk)
        .interceptor(sent.clone())
        .build();
    let iam = aws_sdk_iam::config::Builder::from(&sdk)
        .interceptor(sent.clone())
        .build();
    AwsContext::from_clients(
        conn,
        aws_sdk_kms::Client::from_conf(kms),
        aws_sdk_iam::Client::from_conf(iam),
        aws_sdk_sts::Client::new(&sdk),
    )
}

/// Compares every AWS twin of `calls` with the request of the same operation, and
/// returns the operations compared, in the twins' order.
fn compare(calls: &[Call], sent: &[Request], key_arns: &[String]) -> Vec<String> {
    let changes: Vec<&Request> = sent
        .iter()
        // Reads, and the proof that the new key works (it keeps nothing it encrypts).
        .filter(|r| {
            !["Get", "List", "Describe", "Encrypt", "Decrypt"]
                .iter()
                .any(|read| r.operation.starts_with(read))
        })
        .collect();
    let twins: Vec<Request> = calls
        .iter()
        .filter(|c| c.command.starts_with("aws "))
        .map(|c| twin_request(&c.command))
        .collect();
    let twin_ops: Vec<&str> = twins.iter().map(|t| t.operation.as_str()).collect();
    let sent_ops: Vec<&str> = changes.iter().map(|r| r.operation.as_str()).collect();
    let (mut a, mut b) = (twin_ops.clone(), sent_ops.clone());
    a.sort();
    b.sort();
    assert_eq!(a, b, "one twin for each change sent");
    // Twins of one operation pair with its requests in the order they were sent.
    let mut unpaired = changes;
    for twin in &twins {
        let at = unpaired
            .iter()
            .position(|r| r.operation == twin.operation)
            .expect("a request for each twin");
        let sent = unpaired.remove(at);
        assert_eq!(expected(twin, sent, key_arns), *sent, "the twin of {}", twin.operation);
    }
    twin_ops.into_iter().map(String::from).collect()
}

#[tokio::test]
async fn every_aws_twin_is_the_request_the_sdk_sent() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let mut a = answers(&moto, dir.path());
    let sent = Sent::default();
    let ctx = recorded_context(&a, &sent).await;
    let store = ManifestStore::open(&dir.path().join("state")).unwrap();
    let apply = ApplyOptions {
        overwrite_files: true,
        dry_run: false,
    };

    let p = Provisioner::new(&ctx, &a, &store, Reporter::silent(), apply);
    let made = p.run().await.unwrap();
    let key_arn = made.key.clone().done().unwrap().arn;
    let mut compared = compare(&p.calls(), &sent.0.lock().unwrap(), &[key_arn]);
    compared.sort();
    assert_eq!(
        compared,
        [
            "AttachUserPolicy",
            "CreateAccessKey",
            "CreateAlias",
            "CreateKey",
            "CreatePolicy",
            "CreateUser",
            "EnableKeyRotation"
        ]
    );

    // Another key, made by someone else and reused: the policy gets a new version.
    let other = ctx.kms.create_key().send().await.unwrap().key_metadata.unwrap();
    sent.0.lock().unwrap().clear();
    a.kms.create = false;
    a.kms.key_id = Some(other.key_id().to_string());
    let p = Provisioner::new(&ctx, &a, &store, Reporter::silent(), apply);
    p.run().await.unwrap();
    let compared = compare(&p.calls(), &sent.0.lock().unwrap(), &[other.arn().unwrap().into()]);
    assert_eq!(compared, ["EnableKeyRotation", "CreatePolicyVersion"]);

    // Destroy's removals: the policy's older version goes before the policy.
    sent.0.lock().unwrap().clear();
    let calls = destroy_aws(&ctx, &store, &Reporter::silent(), DestroyOptions::default())
        .await
        .unwrap();
    let compared = compare(&calls, &sent.0.lock().unwrap(), &[other.arn().unwrap().into()]);
    assert_eq!(
        compared,
        [
            "DeleteAccessKey",
            "DetachUserPolicy",
            "DeletePolicyVersion",
            "DeletePolicy",
            "DeleteUser",
            "DeleteAlias"
        ]
    );
}

#[tokio::test]
async fn the_twins_of_a_replica_are_the_requests_sent() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let mut a = answers(&moto, dir.path());
    a.kms.replica_regions = vec!["us-west-2".into()];
    let sent = Sent::default();
    let ctx = recorded_context(&a, &sent).await;
    let store = ManifestStore::open(&dir.path().join("state")).unwrap();
    let apply = ApplyOptions {
        overwrite_files: true,
        dry_run: false,
    };
    let p = Provisioner::new(&ctx, &a, &store, Reporter::silent(), apply);
    p.run().await.unwrap();
    let arns = store.snapshot().key_arns();
    assert_eq!(arns.len(), 2);
    let compared = compare(&p.calls(), &sent.0.lock().unwrap(), &arns);
    assert!(compared.contains(&"ReplicateKey".to_string()), "{compared:?}");
    let create_key = &sent.0.lock().unwrap()[..]
        .iter()
        .find(|r| r.operation == "CreateKey")
        .cloned()
        .unwrap();
    assert_eq!(create_key.params["MultiRegion"], json!(true));

    // Destroy: the replica (and its alias there) before the key.
    sent.0.lock().unwrap().clear();
    let calls = destroy_aws(&ctx, &store, &Reporter::silent(), DestroyOptions::default())
        .await
        .unwrap();
    let compared = compare(&calls, &sent.0.lock().unwrap(), &arns);
    assert_eq!(
        compared[compared.len() - 4..],
        [
            "DeleteAlias",
            "DeleteAlias",
            "ScheduleKeyDeletion",
            "ScheduleKeyDeletion"
        ]
    );
    let replica_first = calls.iter().find(|c| c.action == "kms:ScheduleKeyDeletion").unwrap();
    assert!(
        replica_first.command.contains("--region us-west-2"),
        "{}",
        replica_first.command
    );
}

#[tokio::test]
async fn the_twin_of_a_key_deletion_is_the_request_sent() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let a = answers(&moto, dir.path());
    let sent = Sent::default();
    let ctx = recorded_context(&a, &sent).await;
    let store = ManifestStore::open(&dir.path().join("state")).unwrap();
    let apply = ApplyOptions {
        overwrite_files: true,
        dry_run: false,
    };
    let made = Provisioner::new(&ctx, &a, &store, Reporter::silent(), apply)
        .run()
        .await
        .unwrap();
    sent.0.lock().unwrap().clear();
    let opts = DestroyOptions {
        deletion_window_days: 7,
    };
    let calls = destroy_aws(&ctx, &store, &Reporter::silent(), opts).await.unwrap();
    let compared = compare(&calls, &sent.0.lock().unwrap(), &[made.key.done().unwrap().arn]);
    assert_eq!(compared.last().map(String::as_str), Some("ScheduleKeyDeletion"));
}

#[test]
fn a_twin_that_lacks_a_parameter_is_caught() {
    let twin = twin_request("aws iam create-policy --policy-name p --tags Key=a,Value=b --region x");
    let sent = Request {
        service: "iam".into(),
        operation: "CreatePolicy".into(),
        params: BTreeMap::from([
            ("PolicyName".into(), json!("p")),
            ("Description".into(), json!("d")),
            ("Tags".into(), json!([{"Key": "a", "Value": "b"}])),
        ]),
    };
    assert_eq!(twin.operation, sent.operation);
    assert_ne!(twin, sent, "the missing --description is a difference");
}

/// A shell of an operator's machine with the real AWS CLI (`scripts/test-env` pins it)
/// and no default region: no `AWS_REGION`, `AWS_DEFAULT_REGION` or AWS files, no
/// instance metadata, nothing else of this machine; moto's test keys. `command` runs
/// through `sh -c`, as typed, for 60 s at most.
fn operator_shell(home: &Path, command: &str) -> Output {
    let aws = common::aws_cli();
    Command::new("timeout")
        .args(["60", "sh", "-c", command])
        .env_clear()
        .env("PATH", format!("{}:/usr/bin:/bin", aws.parent().unwrap().display()))
        .env("HOME", home)
        .env("LC_ALL", "C.UTF-8")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_CONFIG_FILE", "/nonexistent/aws-config")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .current_dir(home)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// `autounseal ARGS --answers FILE` as an operator runs it (the test's state folder, moto's
/// test keys, nothing else of this machine), for 120 s at most.
fn autounseal(dir: &Path, args: &[&str], answers: &Answers) -> Output {
    let file = dir.join("answers.toml");
    std::fs::write(&file, answers.to_toml()).unwrap();
    let mut cmd = Command::new("timeout");
    cmd.arg("120").arg(env!("CARGO_BIN_EXE_autounseal"));
    common::isolate(&mut cmd, &dir.join("state"));
    cmd.env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .args(args)
        .arg("--answers")
        .arg(&file)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// The ids a plan cannot know, learnt from what an earlier twin printed: the new key's.
fn learn(placeholders: &mut BTreeMap<&'static str, String>, printed: &[u8]) {
    let Ok(answer) = serde_json::from_slice::<Value>(printed) else {
        return;
    };
    if let Some(id) = answer["KeyMetadata"]["KeyId"].as_str() {
        placeholders.insert(NEW_KEY_ID, id.to_string());
    }
}

/// What a setup made on one moto, in words that do not depend on which: the key's id
/// and ARN read `KEY_ID` and `KEY_ARN`, the run tag's value `RUN`.
#[derive(Debug, PartialEq)]
struct Built {
    key: BTreeMap<&'static str, String>,
    key_tags: BTreeMap<String, String>,
    aliases: Vec<(String, String)>,
    users: Vec<String>,
    user_tags: BTreeMap<String, String>,
    policies: Vec<(String, String)>,
    policy_tags: BTreeMap<String, String>,
    policy_document: Value,
    attached: Vec<String>,
    access_keys: Vec<String>,
}

/// Tags by key, the run tag's value (one per run) as `RUN`.
fn tags<'t>(pairs: impl Iterator<Item = (&'t str, &'t str)>) -> BTreeMap<String, String> {
    pairs
        .map(|(k, v)| {
            (
                k.to_string(),
                if k == RUN_TAG_KEY { "RUN".into() } else { v.to_string() },
            )
        })
        .collect()
}

/// Everything in `ctx`'s moto (fresh for the test: what is there, the setup made), and the
/// key's ARN.
async fn built(ctx: &AwsContext, user: &str) -> (Built, String) {
    let keys = ctx.kms.list_keys().send().await.unwrap();
    let [key] = keys.keys() else {
        panic!("one KMS key, not {:?}", keys.keys())
    };
    let key_id = key.key_id().unwrap();
    let meta = ctx
        .kms
        .describe_key()
        .key_id(key_id)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    let key_arn = meta.arn().unwrap().to_string();
    let rotation = ctx
        .kms
        .get_key_rotation_status()
        .key_id(key_id)
        .send()
        .await
        .unwrap()
        .key_rotation_enabled();
    let key_tags = ctx.kms.list_resource_tags().key_id(key_id).send().await.unwrap();
    let aliases = ctx.kms.list_aliases().send().await.unwrap();
    let aliases = aliases
        .aliases()
        .iter()
        // moto's AWS managed keys have theirs (`alias/aws/…`).
        .filter(|a| !a.alias_name().unwrap().starts_with("alias/aws/"))
        .map(|a| {
            let target = a.target_key_id().unwrap_or_default().replace(key_id, "KEY_ID");
            (a.alias_name().unwrap().to_string(), target)
        })
        .collect();

    let users = ctx.iam.list_users().send().await.unwrap();
    let users = users.users().iter().map(|u| u.user_name().to_string()).collect();
    let user_tags = ctx.iam.list_user_tags().user_name(user).send().await.unwrap();
    let policies = ctx
        .iam
        .list_policies()
        .scope(aws_sdk_iam::types::PolicyScopeType::Local)
        .send()
        .await
        .unwrap();
    let [listed] = policies.policies() else {
        panic!("one policy of the account, not {:?}", policies.policies())
    };
    let policy_arn = listed.arn().unwrap();
    let policy = ctx
        .iam
        .get_policy()
        .policy_arn(policy_arn)
        .send()
        .await
        .unwrap()
        .policy
        .unwrap();
    let policy_tags = ctx.iam.list_policy_tags().policy_arn(policy_arn).send().await.unwrap();
    let version = ctx
        .iam
        .get_policy_version()
        .policy_arn(policy_arn)
        .version_id(policy.default_version_id().unwrap())
        .send()
        .await
        .unwrap();
    let raw = version.policy_version.unwrap().document.unwrap();
    // IAM answers with the document URL-encoded.
    let text = urlencoding::decode(&raw).unwrap().into_owned();
    let document: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        document,
        policy::document(std::slice::from_ref(&key_arn)),
        "exactly the document for the key"
    );
    let attached = ctx
        .iam
        .list_attached_user_policies()
        .user_name(user)
        .send()
        .await
        .unwrap();
    let access_keys = ctx.iam.list_access_keys().user_name(user).send().await.unwrap();

    let built = Built {
        key: BTreeMap::from([
            ("spec", meta.key_spec().unwrap().as_str().to_string()),
            ("usage", meta.key_usage().unwrap().as_str().to_string()),
            ("state", meta.key_state().unwrap().as_str().to_string()),
            ("manager", meta.key_manager().unwrap().as_str().to_string()),
            ("description", meta.description().unwrap_or_default().to_string()),
            ("rotation", rotation.to_string()),
        ]),
        key_tags: tags(key_tags.tags().iter().map(|t| (t.tag_key(), t.tag_value()))),
        aliases,
        users,
        user_tags: tags(user_tags.tags().iter().map(|t| (t.key(), t.value()))),
        policies: vec![(
            policy.policy_name().unwrap().to_string(),
            policy.description().unwrap_or_default().to_string(),
        )],
        policy_tags: tags(policy_tags.tags().iter().map(|t| (t.key(), t.value()))),
        policy_document: serde_json::from_str(&text.replace(&key_arn, "KEY_ARN")).unwrap(),
        attached: attached
            .attached_policies()
            .iter()
            .map(|p| p.policy_arn().unwrap().to_string())
            .collect(),
        access_keys: access_keys
            .access_key_metadata()
            .iter()
            .map(|k| k.status().unwrap().as_str().to_string())
            .collect(),
    };
    (built, key_arn)
}

/// A plan's AWS twins, run as printed with the real AWS CLI on a machine with no default
/// region, build what `apply` builds. Only the new key's id, which a plan cannot know, is
/// filled in from what `aws kms create-key` printed.
#[tokio::test]
async fn a_plans_twins_run_as_printed_build_what_apply_builds() {
    let by_hand = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let a = answers(&by_hand, dir.path());
    let plan = autounseal(dir.path(), &["plan"], &a);
    let plan_text = common::output_text(&plan);
    assert!(plan.status.success(), "{plan_text}");
    let twins: Vec<&str> = plan_text
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("$ "))
        .filter(|twin| twin.starts_with("aws "))
        .collect();
    let operations: Vec<String> = twins
        .iter()
        .map(|t| t.split(' ').take(3).collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        operations,
        [
            "aws kms create-key",
            "aws kms enable-key-rotation",
            "aws kms create-alias",
            "aws iam create-user",
            "aws iam create-policy",
            "aws iam attach-user-policy",
            "aws iam create-access-key"
        ],
        "{plan_text}"
    );

    // The machine has no default region: the CLI refuses an IAM command that names none.
    let home = tempfile::tempdir().unwrap();
    let no_region = operator_shell(
        home.path(),
        &format!("aws iam list-users --endpoint-url {}", by_hand.url),
    );
    assert!(
        !no_region.status.success() && common::output_text(&no_region).contains("You must specify a region"),
        "{}",
        common::output_text(&no_region)
    );

    let mut placeholders: BTreeMap<&'static str, String> = BTreeMap::new();
    for twin in twins {
        let command = placeholders
            .iter()
            .fold(twin.to_string(), |c, (placeholder, id)| c.replace(placeholder, id));
        assert!(
            !command.contains('<'),
            "every id a plan cannot know is printed by an earlier twin: {command}"
        );
        let ran = operator_shell(home.path(), &command);
        assert!(
            ran.status.success(),
            "the twin runs as printed: {twin}\n{}",
            common::output_text(&ran)
        );
        learn(&mut placeholders, &ran.stdout);
    }

    let applied = Moto::start();
    let apply_dir = tempfile::tempdir().unwrap();
    let apply_answers = answers(&applied, apply_dir.path());
    let apply = autounseal(apply_dir.path(), &["apply", "--yes"], &apply_answers);
    assert!(apply.status.success(), "{}", common::output_text(&apply));

    let user = &a.iam.user_name;
    let (by_hand_built, by_hand_key) = built(&common::context(&a).await, user).await;
    let (applied_built, _) = built(&common::context(&apply_answers).await, user).await;
    assert_eq!(by_hand_built, applied_built);
    // What both built is the setup asked for, not merely the same mistake twice.
    assert_eq!(
        placeholders[NEW_KEY_ID].as_str(),
        by_hand_key.rsplit('/').next().unwrap()
    );
    assert_eq!(by_hand_built.key["spec"], "SYMMETRIC_DEFAULT");
    assert_eq!(by_hand_built.key["usage"], "ENCRYPT_DECRYPT");
    assert_eq!(by_hand_built.key["state"], "Enabled");
    assert_eq!(by_hand_built.key["rotation"], "true");
    assert_eq!(by_hand_built.key["description"], a.kms.description);
    for tags in [
        &by_hand_built.key_tags,
        &by_hand_built.user_tags,
        &by_hand_built.policy_tags,
    ] {
        assert_eq!(tags.get(TAG_KEY).map(String::as_str), Some(TAG_VALUE), "{tags:?}");
    }
    assert_eq!(by_hand_built.aliases, [(a.kms.alias.clone(), "KEY_ID".to_string())]);
    assert_eq!(by_hand_built.users, [user.as_str()]);
    assert_eq!(by_hand_built.policies[0].0, a.iam.policy_name);
    assert_eq!(
        by_hand_built.policy_document,
        policy::document(&["KEY_ARN".to_string()])
    );
    assert_eq!(
        by_hand_built.attached,
        [format!("arn:aws:iam::123456789012:policy/{}", a.iam.policy_name)]
    );
    assert_eq!(by_hand_built.access_keys, ["Active"]);
}
