//! Each change's command-line twin says what the SDK really sent: an apply against moto
//! with a recording interceptor on the clients, every AWS twin read back as an operation
//! and its parameters, and compared with the request of the same operation.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use autounseal::aws::destroy::{DestroyOptions, destroy_aws};
use autounseal::aws::{AwsContext, Connection, Provisioner, policy};
use autounseal::run::{ApplyOptions, Call, ManifestStore, Reporter};
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

/// The twin as it must match the request: a policy given as `file://policy.json` is
/// the document the plan prints, which is checked to be exactly the one sent.
fn expected(twin: &Request, sent: &Request, key_arn: &str) -> Request {
    let mut twin = twin.clone();
    if let Some(doc) = twin.params.get_mut("PolicyDocument") {
        assert_eq!(doc, "file://policy.json");
        let sent_doc: Value = serde_json::from_str(sent.params["PolicyDocument"].as_str().unwrap()).unwrap();
        assert_eq!(
            sent_doc,
            policy::document(key_arn),
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
fn compare(calls: &[Call], sent: &[Request], key_arn: &str) -> Vec<String> {
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
        assert_eq!(expected(twin, sent, key_arn), *sent, "the twin of {}", twin.operation);
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
    let mut compared = compare(&p.calls(), &sent.0.lock().unwrap(), &key_arn);
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
    let compared = compare(&p.calls(), &sent.0.lock().unwrap(), other.arn().unwrap());
    assert_eq!(compared, ["EnableKeyRotation", "CreatePolicyVersion"]);

    // Destroy's removals: the policy's older version goes before the policy.
    sent.0.lock().unwrap().clear();
    let calls = destroy_aws(&ctx, &store, &Reporter::silent(), DestroyOptions::default())
        .await
        .unwrap();
    let compared = compare(&calls, &sent.0.lock().unwrap(), other.arn().unwrap());
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
    let compared = compare(&calls, &sent.0.lock().unwrap(), &made.key.done().unwrap().arn);
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
