//! Waiting for a new access key to work, by doing with it exactly what Vault does at
//! start-up. IAM is eventually consistent: a new key is refused for a few seconds (up
//! to minutes), so this polls with backoff and wants several successes in a row.

use std::path::Path;
use std::time::{Duration, Instant};

use aws_sdk_kms::primitives::Blob;
use backon::{BackoffBuilder, ExponentialBuilder};

use crate::answers::TimingAnswers;
use crate::aws::context::AwsContext;
use crate::aws::error::{classify, error_code, is_propagation_code};
use crate::run::events::{Reporter, Step};
use crate::run::{Result, RunError};
use crate::secrets::AccessKey;

/// The outcome of one round of Vault's calls with the new key.
enum Round {
    Ok,
    /// Refused in a way that propagation explains: try again.
    NotYet(String),
}

/// Polls until `key` passes `required_successes` rounds in a row; returns how long it took.
pub async fn wait_until_usable(
    ctx: &AwsContext,
    key: &AccessKey,
    key_arn: &str,
    user_arn: &str,
    timing: &TimingAnswers,
    rep: &Reporter,
) -> Result<Duration> {
    let start = Instant::now();
    let deadline = start + Duration::from_secs(timing.propagation_timeout_secs);
    let (sts, kms) = ctx.acting_as(key);
    let mut delays = ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(timing.poll_interval_ms))
        .with_max_delay(Duration::from_millis(timing.poll_interval_ms.max(5_000)))
        .with_factor(1.5)
        .without_max_times()
        .build();
    let mut streak = 0;
    loop {
        // The key is saved already: waiting for IAM is no call to see through.
        rep.check_stop()?;
        match round(ctx, &sts, &kms, key_arn, user_arn).await? {
            Round::Ok => {
                streak += 1;
                if streak >= timing.required_successes {
                    return Ok(start.elapsed());
                }
                rep.progress(
                    Step::VerifyCredentials,
                    format!("{streak}/{} successes in a row", timing.required_successes),
                );
                tokio::time::sleep(Duration::from_millis(timing.poll_interval_ms)).await;
            }
            Round::NotYet(last) => {
                streak = 0;
                let delay = delays.next().unwrap_or(Duration::from_secs(5));
                if Instant::now() + delay > deadline {
                    return Err(RunError::PropagationTimeout {
                        key_id: key.id.clone(),
                        waited_secs: start.elapsed().as_secs(),
                        last,
                    });
                }
                rep.progress(
                    Step::VerifyCredentials,
                    format!(
                        "waiting for IAM to accept the new key ({last}); {:.0} s so far",
                        start.elapsed().as_secs_f64()
                    ),
                );
                tokio::time::sleep(delay).await;
            }
        }
    }
}

/// The key as the server will find it in a shared credentials file: read by the SDK's
/// own profile loader (as the seal's SDK reads `AWS_SHARED_CREDENTIALS_FILE` and
/// `AWS_PROFILE`), not by autounseal's parser, so a file the SDK reads otherwise is
/// caught here rather than at the server's next start.
pub async fn key_from_profile(path: &Path, profile: &str) -> Result<AccessKey> {
    use aws_config::profile::ProfileFileCredentialsProvider;
    use aws_credential_types::provider::ProvideCredentials;
    use aws_runtime::env_config::file::{EnvConfigFileKind, EnvConfigFiles};
    let files = EnvConfigFiles::builder()
        .with_file(EnvConfigFileKind::Credentials, path)
        .build();
    let provider = ProfileFileCredentialsProvider::builder()
        .profile_files(files)
        .profile_name(profile)
        .build();
    // The provider's error says what is wrong with the file, never a value from it.
    let creds = provider.provide_credentials().await.map_err(|e| {
        RunError::Other(format!(
            "the AWS SDK cannot read profile {profile} of {}: {}; fix the file or run again with overwrite",
            path.display(),
            aws_sdk_kms::error::DisplayErrorContext(&e)
        ))
    })?;
    Ok(AccessKey::new(creds.access_key_id(), creds.secret_access_key()))
}

/// GetCallerIdentity, DescribeKey, Encrypt, Decrypt: what Vault needs, nothing more.
async fn round(
    ctx: &AwsContext,
    sts: &aws_sdk_sts::Client,
    kms: &aws_sdk_kms::Client,
    key_arn: &str,
    user_arn: &str,
) -> Result<Round> {
    let endpoint = ctx.endpoint();
    macro_rules! attempt {
        ($action:literal, $call:expr) => {
            match $call.await {
                Ok(out) => out,
                Err(e) => match error_code(&e) {
                    Some(code) if is_propagation_code(&code) => {
                        return Ok(Round::NotYet(format!("{} answered {code}", $action)));
                    }
                    _ => return Err(classify($action, &endpoint, e)),
                },
            }
        };
    }
    let who = attempt!("sts:GetCallerIdentity", sts.get_caller_identity().send());
    if who.arn() != Some(user_arn) {
        return Err(RunError::Other(format!(
            "the new access key belongs to {}, not to {user_arn}",
            who.arn().unwrap_or("nobody")
        )));
    }
    attempt!("kms:DescribeKey", kms.describe_key().key_id(key_arn).send());
    let probe = b"autounseal: can Vault seal with this key?";
    let sealed = attempt!(
        "kms:Encrypt",
        kms.encrypt()
            .key_id(key_arn)
            .plaintext(Blob::new(probe.as_slice()))
            .send()
    );
    let blob = sealed
        .ciphertext_blob
        .ok_or_else(|| RunError::Other("kms:Encrypt returned no ciphertext".into()))?;
    let opened = attempt!(
        "kms:Decrypt",
        kms.decrypt().key_id(key_arn).ciphertext_blob(blob).send()
    );
    if opened.plaintext().map(|p| p.as_ref()) != Some(probe.as_slice()) {
        return Err(RunError::Other(
            "kms:Decrypt did not return what kms:Encrypt was given".into(),
        ));
    }
    Ok(Round::Ok)
}
