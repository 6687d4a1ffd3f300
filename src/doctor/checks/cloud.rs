//! The AWS links: credentials, policy and key (read as the operator), and the KMS round
//! trip (made as the env file's key, as Vault makes it).

use aws_sdk_kms::primitives::Blob;

use super::{OPERATOR_FAILED, RERUN_APPLY, aws_failure};
use crate::aws::{AwsContext, Identity, policy};
use crate::doctor::{Finding, Link, Measure};
use crate::run::{Manifest, RunError};
use crate::secrets::AccessKey;

/// Past this age the access key should be rotated (AWS's and the seed's advice).
pub const MAX_KEY_AGE_DAYS: u64 = 90;

/// Who the env file's key is (as the key itself), and its status and age (as the
/// operator, whose own identity `operator_identity` is: without it, IAM cannot be read).
/// Long, on purpose: one check after another, each a finding.
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
    out.push(recorded_key(manifest, env_key));
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
                    &["iam", "update-access-key", "--user-name", &user.name, "--access-key-id", id, "--status", "Active"]),
            ),
            Some(k) => {
                let created = k.create_date().map_or(0, |d| d.secs());
                age_finding(id, created, now_secs())
            }
        },
    });
}

/// Whether the saved key is the one the manifest records. During a rotation (one under
/// way, or stopped by a failure) the files may hold either key: that is the rotation's
/// to settle, said as a warning rather than a failure.
pub fn recorded_key(manifest: &Manifest, env_key: Option<&AccessKey>) -> Finding {
    let link = Link::Credentials;
    let saved = env_key.map(|k| k.id.as_str());
    let recorded = manifest.access_key.as_ref().map(|k| k.id.as_str());
    if let Some(r) = &manifest.rotation {
        let new = r
            .new_key_id
            .as_deref()
            .map_or_else(|| "not made yet".into(), |id| format!("new key {id}"));
        let how = match &r.rolling_back {
            Some(why) => format!("stopped while rolling back ({why})"),
            None => format!("stopped at stage {}", stage_words(r)),
        };
        return Finding::warn(
            link,
            "recorded key",
            format!(
                "a rotation of access key {} is under way or {how}; {new}; the saved files hold {}",
                r.old_key_id,
                saved.unwrap_or("no key")
            ),
            "run `autounseal rotate` to finish it or roll it back",
        );
    }
    match (saved, recorded) {
        (Some(saved), Some(recorded)) if saved != recorded => Finding::warn(
            link,
            "recorded key",
            format!("the saved key is {saved}, but the manifest records {recorded}: it was changed outside autounseal"),
            "put the recorded key back, or run `autounseal apply --yes --answers FILE` with the setup's answers to \
             make and save a new one (`rotate` refuses a key it does not know)",
        ),
        (Some(saved), Some(_)) => Finding::ok(link, "recorded key", format!("{saved}, as the manifest records")),
        _ => Finding::skipped(link, "recorded key", "no saved key or no recorded key to compare"),
    }
}

/// Where a rotation got to, in words.
fn stage_words(r: &crate::run::manifest::RotationRecord) -> &'static str {
    use crate::run::manifest::RotationStage;
    match r.stage {
        RotationStage::Creating => "\"creating\" (the new key asked for)",
        RotationStage::Created => "\"created\" (the new key made, not yet saved)",
        RotationStage::Saved if r.old_deactivated => "\"saved\" (the server on the new key, the old key deactivated)",
        RotationStage::Saved if r.server_on_new_key => "\"saved\" (the server moved onto the new key)",
        RotationStage::Saved => "\"saved\" (the new key saved, the server not yet on it)",
        RotationStage::Switched => "\"switched\" (the server on the new key alone, the old key not yet deleted)",
    }
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
    let finding = if days > MAX_KEY_AGE_DAYS {
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
    };
    finding.measured(Measure::AccessKeyAgeDays(days))
}

/// Attached to the user, and its default version still exactly the three actions on
/// the one key.
pub async fn policy(manifest: &Manifest, operator: &AwsContext, operator_ok: bool, out: &mut Vec<Finding>) {
    let link = Link::Policy;
    let (Some(user), Some(policy), Some(_)) = (&manifest.iam_user, &manifest.iam_policy, &manifest.kms_key) else {
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
    let key_arns = manifest.key_arns();
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
            operator.aws_cli(&[
                "iam",
                "attach-user-policy",
                "--user-name",
                &user.name,
                "--policy-arn",
                &policy.arn,
            ]),
        ),
    };
    out.push(finding);
    let restore = operator.aws_cli(&[
        "iam",
        "create-policy-version",
        "--policy-arn",
        &policy.arn,
        "--set-as-default",
        "--policy-document",
        &policy::document_line(&key_arns),
    ]);
    out.push(match default_document(operator, &policy.arn).await {
        Err(said) => Finding::fail(link, "least privilege", said, "run as an identity allowed to read IAM"),
        Ok((version, doc)) => match policy::check_least_privilege(&doc, &key_arns) {
            Ok(()) => Finding::ok(
                link,
                "least privilege",
                format!(
                    "{version}: {} on the one key{}",
                    policy::VAULT_KMS_ACTIONS.join(", "),
                    match key_arns.len() - 1 {
                        0 => String::new(),
                        1 => " and its replica".to_string(),
                        n => format!(" and its {n} replicas"),
                    }
                ),
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

/// Enabled, symmetric for encrypt and decrypt, rotation on (read as the operator). With
/// no operator credentials (a timer run as root), the key and its replicas are still
/// described with the server's own key, which the policy allows exactly that: their
/// state is what a monitor most needs. The rotation, which it may not read, is skipped.
pub async fn key(
    manifest: &Manifest,
    operator: &AwsContext,
    operator_ok: bool,
    env_key: Option<&AccessKey>,
    out: &mut Vec<Finding>,
) {
    let link = Link::Key;
    let Some(key) = &manifest.kms_key else {
        out.push(Finding::skipped(link, "state", "the manifest records no KMS key"));
        return;
    };
    let reader = match (operator_ok, env_key) {
        (true, _) => operator.kms.clone(),
        (false, Some(env_key)) => operator.acting_as(env_key).1,
        (false, None) => {
            out.push(Finding::skipped(link, "state", OPERATOR_FAILED));
            return;
        }
    };
    let cli = |args: &[&str]| operator.aws_cli(args);
    let described = match reader.describe_key().key_id(&key.arn).send().await {
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
    let measure = Measure::KeyState(state.to_string());
    out.push(
        match state {
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
        }
        .measured(measure),
    );
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
    replicas(manifest, operator, &reader, out).await;
    if !enabled {
        out.push(Finding::skipped(link, "rotation", format!("the key is {state}")));
        return;
    }
    if !operator_ok {
        out.push(Finding::skipped(link, "rotation", OPERATOR_FAILED));
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

/// A recovery should be rehearsed at least this often.
pub const MAX_DRILL_AGE_DAYS: u64 = 90;

/// With replicas: how long ago a drill last read the data back in one of their regions
/// (a warning past [`MAX_DRILL_AGE_DAYS`], or never). Without replicas there is none to
/// rehearse, and nothing is said.
pub fn drill_finding(manifest: &Manifest, now: i64) -> Option<Finding> {
    let first = manifest.kms_replicas.first()?;
    let rehearse = format!(
        "rehearse it: `autounseal drill --region {} --token-file FILE` (a token allowed to read \
         sys/storage/raft/snapshot)",
        first.region
    );
    let Some(last) = manifest.last_good_drill() else {
        return Some(
            Finding::warn(
                Link::Key,
                "drill",
                "no recovery drill has read the data back in a replica's region yet",
                rehearse,
            )
            .measured(Measure::DrillAgeDays(None)),
        );
    };
    let when = time::OffsetDateTime::parse(&last.at, &time::format_description::well_known::Rfc3339)
        .map_or(now, |t| t.unix_timestamp());
    let days = age_days(when, now);
    let said = format!(
        "the last good drill, in {}, {days} days ago, read the data back in {:.1} s",
        last.region,
        last.duration_ms as f64 / 1000.0
    );
    let finding = if days > MAX_DRILL_AGE_DAYS {
        Finding::warn(
            Link::Key,
            "drill",
            format!("{said} (over {MAX_DRILL_AGE_DAYS})"),
            rehearse,
        )
    } else {
        Finding::ok(Link::Key, "drill", said)
    };
    Some(finding.measured(Measure::DrillAgeDays(Some(days))))
}

/// Each replica the manifest records, in its own region: there, and Enabled (what a
/// recovery in that region needs).
async fn replicas(manifest: &Manifest, operator: &AwsContext, reader: &aws_sdk_kms::Client, out: &mut Vec<Finding>) {
    for replica in &manifest.kms_replicas {
        let region = &replica.region;
        let check = format!("replica {region}");
        let there = crate::aws::context::kms_client_in(reader, region);
        let cli = |args: &[&str]| operator.aws_cli_in(region, args);
        out.push(match there.describe_key().key_id(&replica.arn).send().await {
            Err(e) => {
                let (said, _) = aws_failure("kms:DescribeKey", operator, e);
                Finding::fail(
                    Link::Key,
                    check,
                    format!("{}: {said}", replica.arn),
                    "run `autounseal apply` again with the same answers: it replicates the key there again",
                )
            }
            Ok(d) => match d.key_metadata().and_then(|m| m.key_state()).map(|s| s.as_str()) {
                Some("Enabled") => Finding::ok(Link::Key, check, format!("{} is Enabled", replica.arn)),
                Some("Disabled") => Finding::fail(
                    Link::Key,
                    check,
                    format!("{} is Disabled: a recovery in {region} would not unseal", replica.arn),
                    cli(&["kms", "enable-key", "--key-id", &replica.arn]),
                ),
                Some("PendingDeletion") => Finding::fail(
                    Link::Key,
                    check,
                    format!(
                        "{} is PendingDeletion: {region} will hold no copy of the key",
                        replica.arn
                    ),
                    format!(
                        "{} && {}",
                        cli(&["kms", "cancel-key-deletion", "--key-id", &replica.arn]),
                        cli(&["kms", "enable-key", "--key-id", &replica.arn])
                    ),
                ),
                other => Finding::fail(
                    Link::Key,
                    check,
                    format!("{} is {}", replica.arn, other.unwrap_or("in no state KMS said")),
                    "see it in the KMS console of that region",
                ),
            },
        });
    }
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

#[cfg(test)]
mod tests {

    #[test]
    fn a_drill_is_asked_for_with_replicas_only_and_when_old_or_never() {
        use crate::doctor::Verdict;
        use crate::run::manifest::{DrillRecord, ReplicaRecord};
        let mut m = Manifest::default();
        assert!(drill_finding(&m, 0).is_none(), "no replica: nothing to rehearse");
        m.kms_replicas.push(ReplicaRecord {
            region: "us-west-2".into(),
            arn: "arn:aws:kms:us-west-2:1:key/mrk-1".into(),
            alias: None,
            origin: crate::run::Origin::Created,
        });
        let never = drill_finding(&m, 0).unwrap();
        assert_eq!(never.verdict, Verdict::Warn);
        assert!(never.fix.unwrap().contains("autounseal drill --region us-west-2"));
        let drill = |at: &str, ok: bool| DrillRecord {
            at: at.into(),
            region: "us-west-2".into(),
            duration_ms: 6400,
            ok,
            detail: String::new(),
        };
        m.record_drill(drill("2026-09-01T00:00:00Z", true));
        // A failed drill after it does not count as a rehearsal.
        m.record_drill(drill("2026-12-01T00:00:00Z", false));
        let dec_1 = 1_796_083_200; // 2026-12-01T00:00:00Z
        let fresh = drill_finding(&m, dec_1 - 86_400 * 60).unwrap();
        assert_eq!(fresh.verdict, Verdict::Ok, "{fresh:?}");
        let old = drill_finding(&m, dec_1 + 86_400 * 30).unwrap();
        assert_eq!(old.verdict, Verdict::Warn, "{old:?}");
        assert_eq!(old.measure, Some(Measure::DrillAgeDays(Some(121))));
        assert!(old.evidence.contains("6.4 s"), "{}", old.evidence);
    }

    use super::*;
    use crate::doctor::Verdict;

    #[test]
    fn a_rotation_under_way_is_a_warning_and_a_foreign_key_too() {
        use crate::run::manifest::{AccessKeyRecord, RotationRecord};
        let mut m = Manifest {
            access_key: Some(AccessKeyRecord {
                id: "AKIAOLD".into(),
                user: "u".into(),
                created_at: String::new(),
            }),
            ..Manifest::default()
        };
        let old = AccessKey::new("AKIAOLD", "s");
        let new = AccessKey::new("AKIANEW", "s");
        assert_eq!(recorded_key(&m, Some(&old)).verdict, Verdict::Ok);
        let foreign = recorded_key(&m, Some(&new));
        assert_eq!(foreign.verdict, Verdict::Warn);
        assert!(
            foreign.evidence.contains("changed outside autounseal"),
            "{}",
            foreign.evidence
        );
        m.rotation = Some(RotationRecord::example());
        let under_way = recorded_key(&m, Some(&new));
        assert_eq!(under_way.verdict, Verdict::Warn);
        assert!(
            under_way
                .evidence
                .contains("stopped at stage \"saved\" (the server moved onto the new key)"),
            "{}",
            under_way.evidence
        );
        assert_eq!(
            under_way.fix.as_deref(),
            Some("run `autounseal rotate` to finish it or roll it back")
        );
    }

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
}
