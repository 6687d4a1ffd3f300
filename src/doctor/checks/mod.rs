//! One function per link of the chain, in three files: `files` (the env file, the
//! config), `cloud` (credentials, policy, key, the KMS round trip), `host` (the unit, the
//! server). Each appends its findings and returns what a later link needs. AWS reads
//! about the setup are made as the operator; what Vault does (who am I, DescribeKey,
//! Encrypt, Decrypt) is made as the env file's key, exactly as Vault would.

mod alarm;
mod cloud;
mod files;
mod host;

use std::path::{Path, PathBuf};

use crate::aws::AwsContext;
use crate::aws::error::{classify, service_error};
use crate::run::manifest::FileRole;
use crate::run::{Manifest, RunError};

pub use alarm::alarm;
pub use cloud::{
    MAX_DRILL_AGE_DAYS, MAX_KEY_AGE_DAYS, age_days, credentials, drill_finding, key, now_secs, policy, round_trip,
};
pub use files::{config, env_file};
pub use host::{server, unit};

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

/// The config the server reads: the file apply wrote, else the one its record names.
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
