//! One function per link of the chain. Each appends its findings and returns what a
//! later link needs (the env file's key, whether the operator's credentials work).
//! AWS reads about the setup are made as the operator; what Vault does (who am I,
//! DescribeKey, Encrypt, Decrypt) is made as the env file's key, exactly as Vault would.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use aws_sdk_kms::primitives::Blob;
use zeroize::Zeroizing;

use crate::aws::error::{classify, service_error};
use crate::aws::policy;
use crate::aws::{AwsContext, Identity};
use crate::doctor::{Finding, Link};
use crate::files::Owner;
use crate::run::manifest::FileRole;
use crate::run::{Manifest, RunError};
use crate::secrets::AccessKey;
use crate::vault::client::VaultClient;

/// The variables the env file must hold: the key, and the region twice (the seal reads
/// `AWS_REGION`, older SDKs `AWS_DEFAULT_REGION`).
pub const ENV_VARIABLES: [&str; 4] = [
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
];

/// Past this age the access key should be rotated (AWS's and the seed's advice).
pub const MAX_KEY_AGE_DAYS: u64 = 90;

/// The user the server runs as, who must own its secret files.
const SERVICE_USER: &str = "vault";

/// The one line an AWS refusal is told by: the service's code and message when it
/// answered, else what kept the call from reaching it.
fn aws_failure<E>(
    action: &'static str,
    ctx: &AwsContext,
    err: aws_sdk_kms::error::SdkError<E, aws_sdk_kms::config::http::HttpResponse>,
) -> (String, RunError)
where
    E: aws_sdk_kms::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let said = service_error(&err).map(|(code, message)| format!("{action} answered {code}: {message}"));
    let error = classify(action, &ctx.endpoint(), err);
    (said.unwrap_or_else(|| error.to_string()), error)
}

fn env_path(manifest: &Manifest) -> Option<&Path> {
    manifest.file(FileRole::EnvFile).map(|f| f.path.as_path())
}

/// Why the reads made as the operator were not made.
const OPERATOR_FAILED: &str = "your own AWS credentials do not work (see credentials / operator)";

/// The fix for a file that is gone or damaged: `apply` writes it again.
const RERUN_APPLY: &str =
    "run `autounseal apply --yes --answers FILE` with the answers of the setup: it writes it again";

/// Exists, 0600, owned by the service user, parses, holds the four variables, and
/// names the key's region. Returns the key it holds (the secret in zeroizing memory).
pub fn env_file(manifest: &Manifest, region: &str, out: &mut Vec<Finding>) -> Option<AccessKey> {
    let link = Link::EnvFile;
    let Some(path) = env_path(manifest) else {
        out.push(Finding::fail(
            link,
            "exists",
            "the manifest records no env file",
            RERUN_APPLY,
        ));
        return None;
    };
    let shown = path.display();
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) => {
            out.push(Finding::fail(link, "exists", format!("{shown}: {e}"), RERUN_APPLY));
            return None;
        }
    };
    out.push(Finding::ok(link, "exists", shown.to_string()));
    let mode = meta.mode() & 0o777;
    out.push(if mode & 0o077 == 0 {
        Finding::ok(link, "mode", format!("mode {mode:04o}"))
    } else {
        Finding::fail(
            link,
            "mode",
            format!("mode {mode:04o}: other users can read the secret access key"),
            format!("chmod 600 {shown}"),
        )
    });
    out.push(owner_finding(
        link,
        path,
        meta.uid(),
        Owner::service_account(SERVICE_USER),
    ));

    let iter = match dotenvy::from_path_iter(path) {
        Ok(iter) => iter,
        Err(e) => {
            out.push(Finding::fail(link, "parses", format!("{shown}: {e}"), RERUN_APPLY));
            return None;
        }
    };
    let mut vars: Vec<(String, Zeroizing<String>)> = Vec::new();
    for (entry, item) in iter.enumerate() {
        match item {
            Ok((name, value)) => vars.push((name, Zeroizing::new(value))),
            // Never the error's text: it quotes the line, which may be the secret's.
            Err(_) => {
                out.push(Finding::fail(
                    link,
                    "parses",
                    format!("entry {} of {shown} is not NAME=VALUE", entry + 1),
                    format!("fix that line (or {})", RERUN_APPLY),
                ));
                return None;
            }
        }
    }
    out.push(Finding::ok(link, "parses", format!("{} variables", vars.len())));
    let value = |name: &str| {
        vars.iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    };
    let missing: Vec<&str> = ENV_VARIABLES.into_iter().filter(|name| value(name).is_none()).collect();
    out.push(if missing.is_empty() {
        Finding::ok(link, "variables", ENV_VARIABLES.join(", "))
    } else {
        Finding::fail(
            link,
            "variables",
            format!("{} lacks {}", shown, missing.join(", ")),
            format!(
                "add {} to {shown} (or {}), then restart the server",
                missing.join(", "),
                RERUN_APPLY
            ),
        )
    });
    let wrong: Vec<String> = ["AWS_REGION", "AWS_DEFAULT_REGION"]
        .into_iter()
        .filter_map(|name| value(name).filter(|v| *v != region).map(|v| format!("{name}={v}")))
        .collect();
    out.push(if wrong.is_empty() {
        Finding::ok(link, "region", format!("{region}, the key's region"))
    } else {
        Finding::fail(
            link,
            "region",
            format!(
                "{} but the key is in {region}: the seal takes the environment's region before the config's",
                wrong.join(", ")
            ),
            format!("set AWS_REGION={region} and AWS_DEFAULT_REGION={region} in {shown}, then restart the server"),
        )
    });
    let key = AccessKey::new(value("AWS_ACCESS_KEY_ID")?, value("AWS_SECRET_ACCESS_KEY")?);
    Some(key)
}

/// The secret files belong to the user the server runs as. When that user does not
/// exist here, or we are not root (only root gives files away), there is no one else
/// they could belong to.
fn owner_finding(link: Link, path: &Path, uid: u32, service: Option<Owner>) -> Finding {
    match service {
        Some(owner) if owner.uid.as_raw() != uid => Finding::warn(
            link,
            "owner",
            format!(
                "owned by uid {uid}, not by the service user {SERVICE_USER} (uid {})",
                owner.uid
            ),
            format!("chown {SERVICE_USER}:{SERVICE_USER} {}", path.display()),
        ),
        Some(_) => Finding::ok(link, "owner", format!("owned by {SERVICE_USER}")),
        None => Finding::ok(
            link,
            "owner",
            format!("owned by uid {uid} (no {SERVICE_USER} user to give it to, or not run as root)"),
        ),
    }
}

fn config_path(manifest: &Manifest) -> Option<PathBuf> {
    manifest
        .file(FileRole::VaultConfig)
        .map(|f| f.path.clone())
        .or_else(|| manifest.server.as_ref().map(|s| s.config.clone()))
}

/// Where the server answers and how it was launched: the manifest's record, or, for a
/// server the operator starts (launch `none`, never recorded), the config's `api_addr`.
pub fn server_address(manifest: &Manifest) -> Option<(String, String)> {
    if let Some(server) = &manifest.server {
        return Some((server.address.clone(), server.launch.clone()));
    }
    let text = std::fs::read_to_string(config_path(manifest)?).ok()?;
    let doc: serde_json::Value = hcl::from_str(&text).ok()?;
    Some((doc["api_addr"].as_str()?.to_string(), "none".to_string()))
}

/// Parses, has the awskms seal stanza, names the manifest's key and region, holds no
/// credentials, and has an endpoint exactly when the setup used one.
pub fn config(manifest: &Manifest, out: &mut Vec<Finding>) {
    let link = Link::Config;
    let Some(path) = config_path(manifest) else {
        out.push(Finding::fail(
            link,
            "parses",
            "the manifest records no config",
            RERUN_APPLY,
        ));
        return;
    };
    let shown = path.display();
    let parsed = std::fs::read_to_string(&path)
        .map_err(|e| e.to_string())
        .and_then(|text| hcl::from_str::<serde_json::Value>(&text).map_err(|e| e.to_string()));
    let doc = match parsed {
        Ok(doc) => doc,
        Err(e) => {
            out.push(Finding::fail(link, "parses", format!("{shown}: {e}"), RERUN_APPLY));
            return;
        }
    };
    out.push(Finding::ok(link, "parses", shown.to_string()));
    let seal = &doc["seal"]["awskms"];
    if !seal.is_object() {
        out.push(Finding::fail(
            link,
            "seal stanza",
            format!("{shown} has no seal \"awskms\" block: the server would not unseal with KMS"),
            RERUN_APPLY,
        ));
        return;
    }
    out.push(Finding::ok(link, "seal stanza", "seal \"awskms\""));
    let restart = "then restart the server";
    if let Some(key) = &manifest.kms_key {
        let named = seal["kms_key_id"].as_str().unwrap_or("");
        out.push(if named == key.arn || named == key.key_id {
            Finding::ok(link, "key id", named)
        } else {
            Finding::fail(
                link,
                "key id",
                format!("kms_key_id is \"{named}\", but the setup's key is {}", key.arn),
                format!("set kms_key_id = \"{}\" in {shown}, {restart}", key.arn),
            )
        });
    }
    if let Some(region) = &manifest.region {
        let named = seal["region"].as_str().unwrap_or("");
        out.push(if named == region {
            Finding::ok(link, "region", named)
        } else {
            Finding::fail(
                link,
                "region",
                format!("region is \"{named}\", but the key is in {region}"),
                format!("set region = \"{region}\" in {shown}, {restart}"),
            )
        });
    }
    // Names only: the values are secrets.
    let credentials: Vec<&str> = ["access_key", "secret_key", "session_token"]
        .into_iter()
        .filter(|name| seal.get(name).is_some())
        .collect();
    out.push(if credentials.is_empty() {
        Finding::ok(
            link,
            "no credentials",
            "the seal takes its credentials from the environment",
        )
    } else {
        Finding::fail(
            link,
            "no credentials",
            format!(
                "the seal stanza holds {}: they win over the env file and sit in a file the config's readers see",
                credentials.join(", ")
            ),
            format!(
                "remove {} from {shown} (the env file has the key), {restart}",
                credentials.join(", ")
            ),
        )
    });
    let endpoint = seal["endpoint"].as_str();
    out.push(match (endpoint, manifest.endpoint_url.as_deref()) {
        (None, None) => Finding::ok(link, "endpoint", "none: AWS itself"),
        (Some(set), Some(used)) if set == used => Finding::ok(link, "endpoint", set),
        (Some(set), None) => Finding::warn(
            link,
            "endpoint",
            format!("endpoint = \"{set}\", but the setup used AWS itself"),
            format!("remove endpoint from {shown} unless KMS is really reached there, {restart}"),
        ),
        (set, Some(used)) => Finding::fail(
            link,
            "endpoint",
            format!(
                "endpoint is {}, but the setup's KMS is {used}",
                set.unwrap_or("not set")
            ),
            format!("set endpoint = \"{used}\" in {shown}, {restart}"),
        ),
    });
}

/// Who the env file's key is (as the key itself), and its status and age (as the
/// operator, whose own identity `operator_identity` is: without it, IAM cannot be read).
pub async fn credentials(
    manifest: &Manifest,
    operator: &AwsContext,
    operator_identity: &Result<Identity, RunError>,
    env_key: Option<&AccessKey>,
    out: &mut Vec<Finding>,
) {
    let link = Link::Credentials;
    if let Err(e) = operator_identity {
        out.push(Finding::fail(
            link,
            "operator",
            format!("cannot read IAM and KMS as you: {e}"),
            "give autounseal your AWS credentials (--profile NAME, or AWS_PROFILE)",
        ));
    }
    let Some(user) = &manifest.iam_user else {
        out.push(Finding::fail(
            link,
            "identity",
            "the manifest records no IAM user",
            RERUN_APPLY,
        ));
        return;
    };
    match env_key {
        None => out.push(Finding::skipped(link, "identity", "the env file holds no usable key")),
        Some(key) => {
            let (sts, _) = operator.acting_as(key);
            out.push(match sts.get_caller_identity().send().await {
                Ok(who) if who.arn() == Some(user.arn.as_str()) => {
                    Finding::ok(link, "identity", format!("{} is {}", key.id, user.arn))
                }
                Ok(who) => {
                    let arn = who.arn().unwrap_or("nobody");
                    let whose = match operator_identity {
                        Ok(me) if me.arn == arn => "yours, the operator's, ",
                        _ => "",
                    };
                    Finding::fail(
                        link,
                        "identity",
                        format!(
                            "the env file's key {} is {whose}{arn}, not the unseal user {}",
                            key.id, user.arn
                        ),
                        RERUN_APPLY,
                    )
                }
                Err(e) => {
                    let (said, _) = aws_failure("sts:GetCallerIdentity", operator, e);
                    Finding::fail(
                        link,
                        "identity",
                        format!("as the env file's key {}: {said}", key.id),
                        "the key is deleted, inactive or its secret wrong: see the access key check below",
                    )
                }
            });
        }
    }
    if operator_identity.is_err() {
        out.push(Finding::skipped(link, "access key", OPERATOR_FAILED));
        return;
    }
    let Some(id) = env_key
        .map(|k| k.id.as_str())
        .or(manifest.access_key.as_ref().map(|k| k.id.as_str()))
    else {
        out.push(Finding::skipped(
            link,
            "access key",
            "no access key id in the env file or the manifest",
        ));
        return;
    };
    let listed = operator.iam.list_access_keys().user_name(&user.name).send().await;
    out.push(match listed {
        Err(e) => Finding::fail(
            link,
            "access key",
            aws_failure("iam:ListAccessKeys", operator, e).0,
            "run as an identity allowed iam:ListAccessKeys",
        ),
        Ok(listed) => match listed.access_key_metadata().iter().find(|k| k.access_key_id() == Some(id)) {
            None => Finding::fail(
                link,
                "access key",
                format!("IAM user {} holds no access key {id}: it was deleted", user.name),
                "run `autounseal apply --yes --answers FILE` with the answers of the setup: it makes a new key and saves it",
            ),
            Some(k) if k.status().map(|s| s.as_str()) != Some("Active") => Finding::fail(
                link,
                "access key",
                format!("access key {id} is {}", k.status().map_or("of no status", |s| s.as_str())),
                operator.aws_cli(
                    &["iam", "update-access-key", "--user-name", &user.name, "--access-key-id", id, "--status", "Active"],
                    false,
                ),
            ),
            Some(k) => {
                let created = k.create_date().map_or(0, |d| d.secs());
                age_finding(id, created, now_secs())
            }
        },
    });
}

/// Now, in seconds since 1970 (IAM's dates are).
pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Whole days from `created` to `now` (seconds since 1970).
pub fn age_days(created: i64, now: i64) -> u64 {
    (now.saturating_sub(created).max(0) / 86_400) as u64
}

/// The access key's age: a warning past [`MAX_KEY_AGE_DAYS`].
pub fn age_finding(id: &str, created: i64, now: i64) -> Finding {
    let days = age_days(created, now);
    if days > MAX_KEY_AGE_DAYS {
        Finding::warn(
            Link::Credentials,
            "access key",
            format!("access key {id} is active and {days} days old (over {MAX_KEY_AGE_DAYS})"),
            "rotate it: make a new key for the user, put it in the env file, restart the server, delete the old one",
        )
    } else {
        Finding::ok(
            Link::Credentials,
            "access key",
            format!("{id} is active, {days} days old"),
        )
    }
}

/// Attached to the user, and its default version still exactly the three actions on
/// the one key.
pub async fn policy(manifest: &Manifest, operator: &AwsContext, operator_ok: bool, out: &mut Vec<Finding>) {
    let link = Link::Policy;
    let (Some(user), Some(policy), Some(key)) = (&manifest.iam_user, &manifest.iam_policy, &manifest.kms_key) else {
        out.push(Finding::skipped(
            link,
            "attached",
            "the manifest records no user, policy or key",
        ));
        return;
    };
    if !operator_ok {
        out.push(Finding::skipped(link, "attached", OPERATOR_FAILED));
        return;
    }
    let attached = operator
        .iam
        .list_attached_user_policies()
        .user_name(&user.name)
        .send()
        .await;
    let finding = match attached {
        Err(e) => Finding::fail(
            link,
            "attached",
            aws_failure("iam:ListAttachedUserPolicies", operator, e).0,
            "run as an identity allowed to read IAM",
        ),
        Ok(a)
            if a.attached_policies()
                .iter()
                .any(|p| p.policy_arn() == Some(policy.arn.as_str())) =>
        {
            Finding::ok(link, "attached", format!("{} on {}", policy.name, user.name))
        }
        Ok(_) => Finding::fail(
            link,
            "attached",
            format!("{} is not attached to {}", policy.name, user.name),
            operator.aws_cli(
                &[
                    "iam",
                    "attach-user-policy",
                    "--user-name",
                    &user.name,
                    "--policy-arn",
                    &policy.arn,
                ],
                false,
            ),
        ),
    };
    out.push(finding);
    let restore = operator.aws_cli(
        &[
            "iam",
            "create-policy-version",
            "--policy-arn",
            &policy.arn,
            "--set-as-default",
            "--policy-document",
            &policy::document(&key.arn).to_string(),
        ],
        false,
    );
    out.push(match default_document(operator, &policy.arn).await {
        Err(said) => Finding::fail(link, "least privilege", said, "run as an identity allowed to read IAM"),
        Ok((version, doc)) => match policy::check_least_privilege(&doc, &key.arn) {
            Ok(()) => Finding::ok(
                link,
                "least privilege",
                format!("{version}: {} on the one key", policy::VAULT_KMS_ACTIONS.join(", ")),
            ),
            Err(why) => Finding::fail(
                link,
                "least privilege",
                format!("default version {version}: {why}"),
                restore,
            ),
        },
    });
}

/// The policy's default version id and its document.
async fn default_document(operator: &AwsContext, arn: &str) -> Result<(String, serde_json::Value), String> {
    let got = operator
        .iam
        .get_policy()
        .policy_arn(arn)
        .send()
        .await
        .map_err(|e| aws_failure("iam:GetPolicy", operator, e).0)?;
    let version = got
        .policy()
        .and_then(|p| p.default_version_id())
        .unwrap_or("v1")
        .to_string();
    let got = operator
        .iam
        .get_policy_version()
        .policy_arn(arn)
        .version_id(&version)
        .send()
        .await
        .map_err(|e| aws_failure("iam:GetPolicyVersion", operator, e).0)?;
    // IAM returns the document URL-encoded.
    let text = got.policy_version().and_then(|v| v.document()).unwrap_or("");
    let text = urlencoding::decode(text).map_err(|e| format!("the document is not URL-encoded UTF-8: {e}"))?;
    let doc = serde_json::from_str(&text).map_err(|e| format!("the document is not JSON: {e}"))?;
    Ok((version, doc))
}

/// Enabled, symmetric for encrypt and decrypt, rotation on (read as the operator).
pub async fn key(manifest: &Manifest, operator: &AwsContext, operator_ok: bool, out: &mut Vec<Finding>) {
    let link = Link::Key;
    let Some(key) = &manifest.kms_key else {
        out.push(Finding::skipped(link, "state", "the manifest records no KMS key"));
        return;
    };
    if !operator_ok {
        out.push(Finding::skipped(link, "state", OPERATOR_FAILED));
        return;
    }
    let cli = |args: &[&str]| operator.aws_cli(args, true);
    let described = match operator.kms.describe_key().key_id(&key.arn).send().await {
        Ok(d) => d,
        Err(e) => {
            let (said, _) = aws_failure("kms:DescribeKey", operator, e);
            out.push(Finding::fail(
                link,
                "state",
                said,
                "check the manifest's key and region",
            ));
            return;
        }
    };
    let Some(meta) = described.key_metadata() else {
        out.push(Finding::fail(
            link,
            "state",
            "kms:DescribeKey returned no metadata",
            "check the key in the console",
        ));
        return;
    };
    let state = meta.key_state().map_or("Unknown", |s| s.as_str());
    let enabled = state == "Enabled";
    out.push(match state {
        "Enabled" => Finding::ok(link, "state", format!("{} is Enabled", key.key_id)),
        "Disabled" => Finding::fail(
            link,
            "state",
            format!("{} is Disabled: the server cannot unseal", key.key_id),
            cli(&["kms", "enable-key", "--key-id", &key.arn]),
        ),
        "PendingDeletion" => Finding::fail(
            link,
            "state",
            format!(
                "{} is PendingDeletion (deleted at {}): the server cannot unseal, and after that never will",
                key.key_id,
                meta.deletion_date()
                    .map_or("a date KMS did not say".to_string(), |d| d.to_string())
            ),
            format!(
                "{} && {}",
                cli(&["kms", "cancel-key-deletion", "--key-id", &key.arn]),
                cli(&["kms", "enable-key", "--key-id", &key.arn])
            ),
        ),
        other => Finding::fail(
            link,
            "state",
            format!("{} is {other}", key.key_id),
            "the key cannot be used in this state: see it in the KMS console",
        ),
    });
    let spec = meta.key_spec().map_or("unknown", |s| s.as_str());
    let usage = meta.key_usage().map_or("unknown", |u| u.as_str());
    out.push(if spec == "SYMMETRIC_DEFAULT" && usage == "ENCRYPT_DECRYPT" {
        Finding::ok(link, "symmetric", "SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT")
    } else {
        Finding::fail(
            link,
            "symmetric",
            format!("{spec}, {usage}: the awskms seal needs a symmetric ENCRYPT_DECRYPT key"),
            "point the setup at a symmetric key (run the wizard again)",
        )
    });
    if !enabled {
        out.push(Finding::skipped(link, "rotation", format!("the key is {state}")));
        return;
    }
    out.push(
        match operator.kms.get_key_rotation_status().key_id(&key.arn).send().await {
            Ok(r) if r.key_rotation_enabled() => Finding::ok(link, "rotation", "yearly rotation is on"),
            Ok(_) => Finding::warn(
                link,
                "rotation",
                "automatic rotation of the key material is off",
                cli(&["kms", "enable-key-rotation", "--key-id", &key.arn]),
            ),
            Err(e) => Finding::warn(
                link,
                "rotation",
                aws_failure("kms:GetKeyRotationStatus", operator, e).0,
                "run as an identity allowed kms:GetKeyRotationStatus",
            ),
        },
    );
}

/// DescribeKey, Encrypt and Decrypt of a fresh random plaintext, as the env file's key:
/// what the server does at every start.
pub async fn round_trip(
    manifest: &Manifest,
    operator: &AwsContext,
    env_key: Option<&AccessKey>,
    out: &mut Vec<Finding>,
) {
    let link = Link::RoundTrip;
    let (Some(key), Some(access)) = (&manifest.kms_key, env_key) else {
        out.push(Finding::skipped(
            link,
            "encrypt and decrypt",
            "no key in the manifest or no usable env file",
        ));
        return;
    };
    let (_, kms) = operator.acting_as(access);
    let fail = |(said, error): (String, RunError)| {
        let fix = match error {
            RunError::CredentialsRejected { .. } => {
                "the env file's key is deleted, inactive or wrong: see the credentials link"
            }
            RunError::AccessDenied { .. } => "the user's policy does not allow this on the key: see the policy link",
            RunError::Unreachable { .. } | RunError::Timeout { .. } => {
                "no network path to KMS from here: check the endpoint, the firewall and any proxy"
            }
            _ => "see the KMS key link",
        };
        Finding::fail(link, "encrypt and decrypt", format!("as {}: {said}", access.id), fix)
    };
    if let Err(e) = kms.describe_key().key_id(&key.arn).send().await {
        out.push(fail(aws_failure("kms:DescribeKey", operator, e)));
        return;
    }
    let probe = random_probe();
    let sealed = match kms
        .encrypt()
        .key_id(&key.arn)
        .plaintext(Blob::new(probe.as_slice()))
        .send()
        .await
    {
        Ok(s) => s,
        Err(e) => return out.push(fail(aws_failure("kms:Encrypt", operator, e))),
    };
    let Some(blob) = sealed.ciphertext_blob else {
        return out.push(Finding::fail(
            link,
            "encrypt and decrypt",
            "kms:Encrypt returned no ciphertext",
            "see the KMS key link",
        ));
    };
    let opened = match kms.decrypt().key_id(&key.arn).ciphertext_blob(blob).send().await {
        Ok(o) => o,
        Err(e) => return out.push(fail(aws_failure("kms:Decrypt", operator, e))),
    };
    out.push(if opened.plaintext().map(|p| p.as_ref()) == Some(probe.as_slice()) {
        Finding::ok(
            link,
            "encrypt and decrypt",
            format!(
                "as {}: DescribeKey, Encrypt, Decrypt gave back the plaintext",
                access.id
            ),
        )
    } else {
        Finding::fail(
            link,
            "encrypt and decrypt",
            "kms:Decrypt did not return what kms:Encrypt was given",
            "check the endpoint: it is not behaving as KMS",
        )
    });
}

/// 32 random bytes: a fresh plaintext each time, so an answer cannot be replayed.
fn random_probe() -> Vec<u8> {
    use std::io::Read;
    let mut bytes = vec![0u8; 32];
    let read = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    if read.is_err() {
        bytes = crate::run::manifest::new_run_id().into_bytes();
    }
    bytes
}

/// What `systemctl show -p LoadState,ActiveState,EnvironmentFiles` says of a unit.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct UnitShow {
    pub load_state: String,
    pub active_state: String,
    pub environment_files: Vec<String>,
}

/// Parses `systemctl show` output: `NAME=VALUE` lines; `EnvironmentFiles=` may repeat,
/// each `PATH (ignore_errors=no)`.
pub fn parse_unit_show(text: &str) -> UnitShow {
    let mut show = UnitShow::default();
    for line in text.lines() {
        match line.split_once('=') {
            Some(("LoadState", v)) => show.load_state = v.trim().to_string(),
            Some(("ActiveState", v)) => show.active_state = v.trim().to_string(),
            Some(("EnvironmentFiles", v)) => {
                if let Some(path) = v.split(" (").next().map(str::trim).filter(|p| !p.is_empty()) {
                    show.environment_files.push(path.trim_start_matches('-').to_string());
                }
            }
            _ => {}
        }
    }
    show
}

/// When the server runs under systemd: the unit exists, loads the env file, is active.
pub fn unit(manifest: &Manifest, out: &mut Vec<Finding>) {
    let link = Link::Unit;
    let server = manifest.server.as_ref();
    let Some(unit) = server.filter(|s| s.launch == "systemd").and_then(|s| s.unit.clone()) else {
        let launch = server.map_or("not recorded", |s| s.launch.as_str());
        out.push(Finding::skipped(
            link,
            "exists",
            format!("the server's launch is {launch}, not systemd"),
        ));
        return;
    };
    let shown = crate::child_env::clean(&mut std::process::Command::new("systemctl"), &[])
        .args(["show", "-p", "LoadState,ActiveState,EnvironmentFiles", &unit])
        .output();
    let show = match shown {
        Ok(o) if o.status.success() => parse_unit_show(&String::from_utf8_lossy(&o.stdout)),
        Ok(o) => {
            let said = String::from_utf8_lossy(&o.stderr).trim().to_string();
            return out.push(Finding::fail(
                link,
                "exists",
                format!("systemctl show {unit}: {said}"),
                "check systemd on this host",
            ));
        }
        Err(e) => {
            return out.push(Finding::fail(
                link,
                "exists",
                format!("cannot run systemctl: {e}"),
                "check systemd on this host",
            ));
        }
    };
    unit_findings(&unit, &show, env_path(manifest), out);
}

/// The findings of a unit, from what systemd said of it.
pub fn unit_findings(unit: &str, show: &UnitShow, env_file: Option<&Path>, out: &mut Vec<Finding>) {
    let link = Link::Unit;
    if show.load_state != "loaded" {
        return out.push(Finding::fail(
            link,
            "exists",
            format!("{unit}: LoadState={}", show.load_state),
            "install the server's package, which brings the unit",
        ));
    }
    out.push(Finding::ok(link, "exists", format!("{unit} is loaded")));
    let env = env_file.map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
    out.push(if show.environment_files.contains(&env) {
        Finding::ok(link, "loads the env file", format!("EnvironmentFile={env}"))
    } else {
        Finding::fail(
            link,
            "loads the env file",
            format!("{unit} loads {:?}, not {env}: the server starts without its AWS credentials", show.environment_files),
            format!(
                "put `[Service]` and `EnvironmentFile={env}` in {}, then `systemctl daemon-reload && systemctl restart {unit}`",
                crate::vault::launch::drop_in_path(unit).display()
            ),
        )
    });
    out.push(if show.active_state == "active" {
        Finding::ok(link, "active", "ActiveState=active")
    } else {
        Finding::fail(
            link,
            "active",
            format!("ActiveState={}", show.active_state),
            format!("systemctl start {unit}; `journalctl -u {unit}` says why it stopped"),
        )
    });
}

/// Reachable, seal type awskms, initialised, unsealed.
pub async fn server(manifest: &Manifest, ca_cert: Option<&Path>, out: &mut Vec<Finding>) {
    let link = Link::Server;
    let Some((address, launch)) = server_address(manifest) else {
        out.push(Finding::skipped(
            link,
            "reachable",
            "neither the manifest nor the config names the server's address",
        ));
        return;
    };
    let record = manifest.server.as_ref();
    let config = config_path(manifest).unwrap_or_default();
    let how_to_start = match (
        launch.as_str(),
        record.and_then(|r| r.unit.as_ref()),
        record.and_then(|r| r.log_file.as_ref()),
    ) {
        ("systemd", Some(unit), _) => format!("systemctl start {unit}; `journalctl -u {unit}` says why it stopped"),
        ("background", _, Some(log)) => format!(
            "start it again with `autounseal apply --yes --answers FILE` (the setup's answers); its log is {}",
            log.display()
        ),
        _ => format!(
            "start it with the env file's variables: set -a; . {}; set +a; then the server with -config={}",
            env_path(manifest).unwrap_or(Path::new("ENV_FILE")).display(),
            config.display()
        ),
    };
    let status = match VaultClient::new(&address, ca_cert) {
        Ok(client) => client.seal_status().await,
        Err(e) => Err(e),
    };
    let status = match status {
        Ok(s) => s,
        Err(e) => {
            let mut said = e.to_string();
            if let Some(pid) = record.and_then(|r| r.pid).filter(|_| launch == "background")
                && !crate::vault::launch::is_running(pid)
            {
                said = format!("{said}; the background server (pid {pid}) is not running");
            }
            out.push(Finding::fail(link, "reachable", said, how_to_start));
            out.push(Finding::skipped(link, "unsealed", "the server is not reachable"));
            return;
        }
    };
    out.push(Finding::ok(
        link,
        "reachable",
        format!("{address} answers (version {})", status.version),
    ));
    out.push(if status.seal_type == "awskms" {
        Finding::ok(link, "seal type", "awskms")
    } else {
        Finding::fail(
            link,
            "seal type",
            format!(
                "the server's seal is {}, not awskms: it runs another config",
                status.seal_type
            ),
            format!("restart it with -config={}", config.display()),
        )
    });
    out.push(if status.initialized {
        Finding::ok(link, "initialized", "initialised")
    } else {
        Finding::fail(
            link,
            "initialized",
            "the server is not initialised",
            "run `autounseal apply` with init enabled, or `bao operator init` / `vault operator init`",
        )
    });
    out.push(if !status.sealed {
        Finding::ok(link, "unsealed", "unsealed by KMS")
    } else {
        Finding::fail(
            link,
            "unsealed",
            "the server is sealed: it could not use the KMS key at its last start",
            format!("fix the failures above, then restart it ({how_to_start})"),
        )
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Verdict;

    #[test]
    fn an_access_key_past_ninety_days_is_a_warning() {
        let now = 1_800_000_000;
        let day = 86_400;
        let fresh = age_finding("AKIA1", now - 3 * day, now);
        assert_eq!(fresh.verdict, Verdict::Ok);
        assert!(fresh.evidence.contains("3 days old"), "{}", fresh.evidence);
        assert_eq!(age_finding("AKIA1", now - 90 * day, now).verdict, Verdict::Ok);
        let old = age_finding("AKIA1", now - 97 * day - 5, now);
        assert_eq!(old.verdict, Verdict::Warn);
        assert!(old.evidence.contains("97 days old"), "{}", old.evidence);
        assert!(old.fix.unwrap().starts_with("rotate it"));
        // A clock behind IAM's never makes a negative age.
        assert_eq!(age_days(now + day, now), 0);
    }

    #[test]
    fn systemctl_show_is_read() {
        let text = "LoadState=loaded\nActiveState=active\nEnvironmentFiles=/etc/default/openbao (ignore_errors=yes)\n\
                    EnvironmentFiles=/etc/openbao/vault.env (ignore_errors=no)\n";
        let show = parse_unit_show(text);
        assert_eq!(show.load_state, "loaded");
        assert_eq!(show.active_state, "active");
        assert_eq!(
            show.environment_files,
            ["/etc/default/openbao", "/etc/openbao/vault.env"]
        );
        let mut out = Vec::new();
        unit_findings(
            "openbao.service",
            &show,
            Some(Path::new("/etc/openbao/vault.env")),
            &mut out,
        );
        assert!(out.iter().all(|f| f.verdict == Verdict::Ok), "{out:?}");
    }

    #[test]
    fn a_unit_without_the_env_file_or_stopped_fails() {
        let show = parse_unit_show("LoadState=loaded\nActiveState=failed\nEnvironmentFiles=\n");
        assert!(show.environment_files.is_empty());
        let mut out = Vec::new();
        unit_findings(
            "openbao.service",
            &show,
            Some(Path::new("/etc/openbao/vault.env")),
            &mut out,
        );
        let failed: Vec<_> = out
            .iter()
            .filter(|f| f.verdict == Verdict::Fail)
            .map(|f| f.check)
            .collect();
        assert_eq!(failed, ["loads the env file", "active"]);
        assert!(
            out[1]
                .fix
                .as_deref()
                .unwrap()
                .contains("EnvironmentFile=/etc/openbao/vault.env")
        );
        let mut out = Vec::new();
        unit_findings(
            "gone.service",
            &parse_unit_show("LoadState=not-found\n"),
            None,
            &mut out,
        );
        assert_eq!((out.len(), out[0].verdict), (1, Verdict::Fail));
    }

    #[test]
    fn the_owner_is_the_service_user_when_there_is_one() {
        use nix::unistd::{Gid, Uid};
        let vault = Owner {
            uid: Uid::from_raw(998),
            gid: Gid::from_raw(998),
        };
        let path = Path::new("/etc/vault.env");
        assert_eq!(
            owner_finding(Link::EnvFile, path, 0, Some(vault)).verdict,
            Verdict::Warn
        );
        assert_eq!(
            owner_finding(Link::EnvFile, path, 998, Some(vault)).verdict,
            Verdict::Ok
        );
        assert_eq!(owner_finding(Link::EnvFile, path, 0, None).verdict, Verdict::Ok);
    }
}
