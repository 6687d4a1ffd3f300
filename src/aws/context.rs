//! The AWS clients of one run, configured once: region, endpoint override, profile,
//! timeouts (the SDK has none by default, and a wizard must never hang) and retries.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};

use crate::answers::{Answers, TimingAnswers};
use crate::aws::error::classify;
use crate::run::{Result, RunError};
use crate::secrets::AccessKey;

/// Retries for every call: AWS's standard mode (throttling and transient errors, with
/// jittered exponential backoff), five attempts.
pub fn retry_config() -> RetryConfig {
    RetryConfig::standard().with_max_attempts(5)
}

/// Config overrides for calls that must not be repeated blindly (creates): with the
/// SDK's retries on, an attempt that times out after AWS carried it out is sent again
/// and makes a second resource. The caller looks for what the attempt made instead.
pub fn kms_sent_once() -> aws_sdk_kms::config::Builder {
    aws_sdk_kms::config::Builder::default().retry_config(RetryConfig::disabled())
}

pub fn iam_sent_once() -> aws_sdk_iam::config::Builder {
    aws_sdk_iam::config::Builder::default().retry_config(RetryConfig::disabled())
}

/// `kms` in another region: its credentials, endpoint, timeouts and retries; only the
/// region, and so the signature and the KMS endpoint it reaches, differ.
pub fn kms_client_in(kms: &aws_sdk_kms::Client, region: &str) -> aws_sdk_kms::Client {
    let config = kms
        .config()
        .to_builder()
        .region(Region::new(region.to_string()))
        .build();
    aws_sdk_kms::Client::from_conf(config)
}

/// Who the credentials belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub account: String,
    pub arn: String,
    pub user_id: String,
    /// The KMS endpoint these clients use when it is not AWS's own (see
    /// [`AwsContext::kms_endpoint`]); the server's seal is given the same one.
    pub kms_endpoint: Option<String>,
}

/// Where to reach AWS and how patiently.
#[derive(Debug, Clone)]
pub struct Connection {
    pub region: String,
    pub endpoint_url: Option<String>,
    pub profile: Option<String>,
    pub timing: TimingAnswers,
}

impl Connection {
    pub fn from_answers(answers: &Answers) -> Connection {
        Connection {
            region: answers.region.clone(),
            endpoint_url: answers.endpoint_url.clone(),
            profile: answers.profile.clone(),
            timing: answers.timing.clone(),
        }
    }

    /// What error messages name as the place that did not answer.
    pub fn endpoint_label(&self) -> String {
        self.endpoint_url
            .clone()
            .unwrap_or_else(|| format!("AWS ({})", self.region))
    }

    /// The SDK config loader with our region, endpoint, profile, timeouts and retries;
    /// credentials come from the standard chain unless the caller sets them.
    pub fn loader(&self) -> aws_config::ConfigLoader {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(self.region.clone()))
            .timeout_config(self.timeouts())
            // Standard mode retries throttling and transient errors with jittered backoff.
            .retry_config(retry_config());
        if let Some(profile) = &self.profile {
            // As with `aws --profile`: the chosen profile's credentials win over any in the
            // environment (the default chain would take AWS_ACCESS_KEY_ID first).
            let credentials = aws_config::profile::ProfileFileCredentialsProvider::builder()
                .profile_name(profile)
                .build();
            loader = loader.profile_name(profile).credentials_provider(credentials);
        }
        if let Some(url) = &self.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        loader
    }

    pub(crate) fn timeouts(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(self.timing.connect_timeout_secs))
            .operation_attempt_timeout(Duration::from_secs(self.timing.attempt_timeout_secs))
            .operation_timeout(Duration::from_secs(self.timing.operation_timeout_secs))
            .build()
    }
}

#[derive(Clone)]
pub struct AwsContext {
    pub conn: Connection,
    /// The operator's credential chain, resolved up front for a clear error; `None` for
    /// clients built by hand (tests), which then find out from their first call.
    credentials: Option<SharedCredentialsProvider>,
    pub kms: aws_sdk_kms::Client,
    pub iam: aws_sdk_iam::Client,
    pub sts: aws_sdk_sts::Client,
    /// See [`AwsContext::kms_endpoint`].
    kms_endpoint: Option<String>,
    /// The loaded configuration, for the services used now and then (the alarm's SNS,
    /// EventBridge and CloudTrail); `None` for clients built by hand.
    sdk: Option<SdkConfig>,
}

impl AwsContext {
    /// Loads credentials through the standard chain (environment, profile, SSO, shared
    /// files, …) with our timeouts and retries.
    pub async fn connect(conn: Connection) -> AwsContext {
        let sdk = conn.loader().load().await;
        AwsContext::from_sdk(conn, sdk)
    }

    pub fn from_sdk(conn: Connection, sdk: SdkConfig) -> AwsContext {
        AwsContext {
            kms_endpoint: kms_endpoint(&sdk),
            kms: aws_sdk_kms::Client::new(&sdk),
            iam: aws_sdk_iam::Client::new(&sdk),
            sts: aws_sdk_sts::Client::new(&sdk),
            credentials: sdk.credentials_provider(),
            sdk: Some(sdk),
            conn,
        }
    }

    pub fn from_clients(
        conn: Connection,
        kms: aws_sdk_kms::Client,
        iam: aws_sdk_iam::Client,
        sts: aws_sdk_sts::Client,
    ) -> AwsContext {
        AwsContext {
            kms_endpoint: conn.endpoint_url.clone(),
            conn,
            credentials: None,
            kms,
            iam,
            sts,
            sdk: None,
        }
    }

    /// Clients that act as `key` instead of the operator: exactly what Vault will be.
    /// Retries are off: the caller polls while IAM propagates the key. No identity
    /// cache: the operator's is shared by every client built from their config, and the
    /// new key's credentials must die with these clients, not live on in it.
    pub fn acting_as(&self, key: &AccessKey) -> (aws_sdk_sts::Client, aws_sdk_kms::Client) {
        let creds = aws_credential_types::Credentials::new(
            key.id.clone(),
            key.expose_secret().to_string(),
            None,
            None,
            "autounseal-new-access-key",
        );
        let sts = self
            .sts
            .config()
            .to_builder()
            .credentials_provider(creds.clone())
            .identity_cache(aws_sdk_sts::config::IdentityCache::no_cache())
            .retry_config(RetryConfig::disabled())
            .build();
        let kms = self
            .kms
            .config()
            .to_builder()
            .credentials_provider(creds)
            .identity_cache(aws_sdk_kms::config::IdentityCache::no_cache())
            .retry_config(RetryConfig::disabled())
            .build();
        (aws_sdk_sts::Client::from_conf(sts), aws_sdk_kms::Client::from_conf(kms))
    }

    pub fn region(&self) -> &str {
        &self.conn.region
    }

    /// The operator's KMS client for another region (a replica's): the same credentials,
    /// endpoint, timeouts and retries; only the region, and so the signature and the
    /// KMS endpoint it reaches, differ.
    pub fn kms_in(&self, region: &str) -> aws_sdk_kms::Client {
        kms_client_in(&self.kms, region)
    }

    /// The configuration of these clients in `region`: the loaded one, or for clients built
    /// by hand (tests, which make no alarm calls) the same endpoint, timeouts and retries,
    /// with no credentials.
    fn sdk_in(&self, region: &str) -> SdkConfig {
        let builder = match &self.sdk {
            Some(sdk) => sdk.to_builder(),
            None => {
                let mut b = SdkConfig::builder()
                    .behavior_version(BehaviorVersion::latest())
                    .timeout_config(self.conn.timeouts())
                    .retry_config(retry_config());
                if let Some(url) = &self.conn.endpoint_url {
                    b = b.endpoint_url(url);
                }
                b
            }
        };
        builder.region(Region::new(region.to_string())).build()
    }

    /// The operator's SNS, EventBridge and CloudTrail clients in `region` (the alarm's).
    pub fn sns_in(&self, region: &str) -> aws_sdk_sns::Client {
        aws_sdk_sns::Client::new(&self.sdk_in(region))
    }

    pub fn events_in(&self, region: &str) -> aws_sdk_eventbridge::Client {
        aws_sdk_eventbridge::Client::new(&self.sdk_in(region))
    }

    pub fn cloudtrail_in(&self, region: &str) -> aws_sdk_cloudtrail::Client {
        aws_sdk_cloudtrail::Client::new(&self.sdk_in(region))
    }

    /// [`AwsContext::aws_cli`] for a call sent to another region.
    pub fn aws_cli_in(&self, region: &str, args: &[&str]) -> String {
        crate::twins::aws_command(args, Some(region), self.conn.endpoint_url.as_deref())
    }

    pub fn endpoint(&self) -> String {
        self.conn.endpoint_label()
    }

    /// The AWS CLI twin of a call these clients make: `aws ARGS…`, with this region and
    /// this endpoint when one is set. IAM is global, but the AWS CLI refuses to run an
    /// `iam` command on a machine with no default region: every twin names one, so that
    /// each runs as printed.
    pub fn aws_cli(&self, args: &[&str]) -> String {
        crate::twins::aws_command(args, Some(self.region()), self.conn.endpoint_url.as_deref())
    }

    /// The endpoint the KMS client really uses, wherever it came from: the answers'
    /// `endpoint_url`, `AWS_ENDPOINT_URL_KMS`, `AWS_ENDPOINT_URL` or the profile's
    /// `endpoint_url` (the SDK resolves them in that order). `None` is AWS itself.
    pub fn kms_endpoint(&self) -> Option<String> {
        self.kms_endpoint.clone()
    }

    /// Resolves the operator's credentials and asks STS who they are.
    pub async fn identity(&self) -> Result<Identity> {
        if let Some(provider) = &self.credentials
            && let Err(e) = provider.provide_credentials().await
        {
            let detail = describe_credentials_error(&e);
            return Err(RunError::NoCredentials {
                detail: match &self.conn.profile {
                    // A chosen profile is used alone: name it, so a typo is plain to see.
                    Some(p) => format!(
                        "the profile \"{p}\" (chosen, so used alone, as `aws --profile {p}` would) gave none: {detail}. \
                         `aws configure list-profiles` lists the profiles that exist"
                    ),
                    None => detail,
                },
            });
        }
        let out = self
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| classify("sts:GetCallerIdentity", &self.endpoint(), e))?;
        Ok(Identity {
            account: out.account().unwrap_or_default().to_string(),
            arn: out.arn().unwrap_or_default().to_string(),
            user_id: out.user_id().unwrap_or_default().to_string(),
            kms_endpoint: self.kms_endpoint(),
        })
    }
}

/// The endpoint the KMS client built from `sdk` uses, resolved as the SDK's own
/// `aws_sdk_kms::Config::from(&SdkConfig)` does (the client does not expose it): one set
/// in code wins, else the service's own setting (`AWS_ENDPOINT_URL_KMS`, the profile's
/// `kms` section), else the general one (`AWS_ENDPOINT_URL`, the profile's `endpoint_url`).
fn kms_endpoint(sdk: &SdkConfig) -> Option<String> {
    if sdk.get_origin("endpoint_url").is_client_config() {
        return sdk.endpoint_url().map(str::to_string);
    }
    let key = aws_types::service_config::ServiceConfigKey::builder()
        .service_id("KMS")
        .env("AWS_ENDPOINT_URL")
        .profile("endpoint_url")
        .build()
        .expect("every part of the key is set");
    sdk.service_config()
        .and_then(|conf| conf.load_config(key))
        .or_else(|| sdk.endpoint_url().map(str::to_string))
}

fn describe_credentials_error(e: &CredentialsError) -> String {
    match e {
        CredentialsError::CredentialsNotLoaded(_) => {
            "none were found in the environment, the shared files or the chosen profile".into()
        }
        CredentialsError::ProviderTimedOut(_) => "the credential provider timed out".into(),
        other => {
            let said = causes(other);
            // Off AWS, something on the metadata address that is not AWS's service
            // answers the SDK's last resort.
            if said.contains("IMDS") {
                format!(
                    "{said}: the instance metadata service (IMDS) did not answer as on AWS. Off AWS, set \
                     AWS_EC2_METADATA_DISABLED=true"
                )
            } else {
                said
            }
        }
    }
}

/// An error and its causes in words, each said once (a cause whose words the message
/// already holds is left out): never the SDK's debug form, which holds raw answers.
fn causes(e: &(dyn std::error::Error + 'static)) -> String {
    let mut said: Vec<String> = Vec::new();
    let mut next = Some(e);
    while let Some(error) = next {
        let words = error.to_string();
        if !words.is_empty() && !said.iter().any(|s| s.contains(&words)) {
            said.push(words);
        }
        next = error.source();
    }
    said.join(": ")
}
