//! Every way the engine can fail, each message saying what went wrong and what to do.
//! Messages are built from AWS error codes and our own text only: never from a secret.

use aws_sdk_kms::config::http::HttpResponse;
use aws_sdk_kms::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use crate::files::FileError;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
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
    Vault(#[from] crate::vault::VaultError),
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
    #[error("{0}")]
    Other(String),
}

impl EngineError {
    /// A create that failed this way may have been carried out all the same (no answer,
    /// a dropped connection, a server fault), or was refused for now (throttling): look
    /// for what it made, and only then send it again.
    pub fn create_may_retry(&self) -> bool {
        match self {
            EngineError::Timeout { .. } | EngineError::Unreachable { .. } | EngineError::Throttled { .. } => true,
            EngineError::Aws { code, .. } => TRANSIENT_CODES.contains(&code.as_str()),
            _ => false,
        }
    }

    /// The name is taken: perhaps by an earlier attempt of this very call.
    pub fn is_already_exists(&self) -> bool {
        matches!(self, EngineError::Aws { code, .. } if code == "EntityAlreadyExists" || code == "AlreadyExistsException")
    }
}

pub type Result<T, E = EngineError> = std::result::Result<T, E>;

const REJECTED_CODES: &[&str] = &[
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "SignatureDoesNotMatch",
    "InvalidSignatureException",
    "IncompleteSignature",
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidAccessKeyId",
    "AuthFailure",
];
const DENIED_CODES: &[&str] = &["AccessDenied", "AccessDeniedException", "UnauthorizedOperation"];
const THROTTLE_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "LimitExceededException",
];
/// Server-side failures: the call may or may not have been carried out.
const TRANSIENT_CODES: &[&str] = &[
    "InternalFailure",
    "InternalError",
    "ServiceUnavailable",
    "ServiceFailure",
    "KMSInternalException",
];
const NOT_FOUND_CODES: &[&str] = &["NotFoundException", "NoSuchEntity"];

/// The error code and message of a service's answer. When the SDK could not read
/// them (an emulator or proxy with another error envelope, such as EC2's
/// `<Errors><Error>`), they are read from the raw body, else the HTTP status is named.
pub fn service_error<E>(err: &SdkError<E, HttpResponse>) -> Option<(String, String)>
where
    E: ProvideErrorMetadata,
{
    let SdkError::ServiceError(s) = err else { return None };
    if let Some(code) = s.err().code() {
        return Some((code.to_string(), s.err().message().unwrap_or("no message").to_string()));
    }
    let raw = s.raw();
    let body = raw.body().bytes().map(String::from_utf8_lossy).unwrap_or_default();
    match xml_error(&body) {
        Some((code, message)) => Some((code, message.unwrap_or_else(|| "no message".into()))),
        None => Some((
            format!("HTTP{}", raw.status().as_u16()),
            "the answer was not an AWS error; is endpoint_url an AWS endpoint?".into(),
        )),
    }
}

/// `<Code>` and `<Message>` of an AWS XML error body, whatever envelope holds them.
pub fn xml_error(body: &str) -> Option<(String, Option<String>)> {
    let between = |open: &str, close: &str| {
        let start = body.find(open)? + open.len();
        let len = body[start..].find(close)?;
        Some(body[start..start + len].trim().to_string())
    };
    Some((between("<Code>", "</Code>")?, between("<Message>", "</Message>")))
}

/// The AWS error code of a failed call, if the service answered.
pub fn error_code<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> Option<String> {
    service_error(err).map(|(code, _)| code)
}

pub fn is_not_found<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> bool {
    error_code(err).is_some_and(|c| NOT_FOUND_CODES.contains(&c.as_str()))
}

/// Errors a brand-new access key returns until IAM has propagated it (and its policy):
/// keep polling on these, stop on anything else.
pub fn is_propagation_code(code: &str) -> bool {
    REJECTED_CODES.contains(&code) || DENIED_CODES.contains(&code)
}

/// Turns an SDK error into an [`EngineError`] that names the action and what to do.
pub fn classify<E>(action: &'static str, endpoint: &str, err: SdkError<E, HttpResponse>) -> EngineError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let endpoint = endpoint.to_string();
    match &err {
        SdkError::TimeoutError(_) => EngineError::Timeout { action, endpoint },
        SdkError::DispatchFailure(d) if d.is_timeout() => EngineError::Timeout { action, endpoint },
        SdkError::DispatchFailure(d) if d.is_io() => EngineError::Unreachable {
            action,
            endpoint,
            message: root_cause(&err),
        },
        SdkError::DispatchFailure(_) | SdkError::ConstructionFailure(_) => {
            let message = root_cause(&err);
            if message.contains("credentials") || message.contains("identity") {
                EngineError::NoCredentials { detail: message }
            } else {
                EngineError::Unreachable {
                    action,
                    endpoint,
                    message,
                }
            }
        }
        SdkError::ServiceError(_) => {
            let (code, message) = service_error(&err).expect("a service error has a code");
            if REJECTED_CODES.contains(&code.as_str()) {
                EngineError::CredentialsRejected { action, code, message }
            } else if DENIED_CODES.contains(&code.as_str()) {
                EngineError::AccessDenied { action, message }
            } else if THROTTLE_CODES.contains(&code.as_str()) {
                EngineError::Throttled { action }
            } else {
                EngineError::Aws { action, code, message }
            }
        }
        _ => EngineError::Aws {
            action,
            code: "Unexpected".into(),
            message: format!("{}; is {endpoint} really an AWS endpoint?", root_cause(&err)),
        },
    }
}

/// The innermost cause of an error chain, which is what a person can act on
/// ("Connection refused"), not the outer "dispatch failure".
fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let full = DisplayErrorContext(err).to_string();
    let mut source: &dyn std::error::Error = err;
    while let Some(next) = source.source() {
        source = next;
    }
    let root = source.to_string();
    if root.is_empty() { full } else { root }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn propagation_codes_are_the_auth_ones_only() {
        assert!(is_propagation_code("InvalidClientTokenId"));
        assert!(is_propagation_code("AccessDeniedException"));
        assert!(!is_propagation_code("NotFoundException"));
        assert!(!is_propagation_code("ThrottlingException"));
    }

    #[test]
    fn a_create_is_retried_only_after_failures_that_may_hide_a_success() {
        let aws = |code: &str| EngineError::Aws {
            action: "kms:CreateKey",
            code: code.into(),
            message: "m".into(),
        };
        let timeout = EngineError::Timeout {
            action: "kms:CreateKey",
            endpoint: "e".into(),
        };
        assert!(timeout.create_may_retry());
        assert!(
            EngineError::Throttled {
                action: "iam:CreateUser"
            }
            .create_may_retry()
        );
        assert!(aws("InternalFailure").create_may_retry());
        assert!(!aws("ValidationException").create_may_retry());
        let denied = EngineError::AccessDenied {
            action: "iam:CreateUser",
            message: "m".into(),
        };
        assert!(!denied.create_may_retry() && !denied.is_already_exists());
        assert!(aws("EntityAlreadyExists").is_already_exists());
        assert!(aws("AlreadyExistsException").is_already_exists());
    }

    #[test]
    fn access_key_limit_offers_the_choice() {
        let e = EngineError::AccessKeyLimit {
            user: "vault-auto-unseal".into(),
            keys: vec!["AKIA1".into(), "AKIA2".into()],
        };
        let s = e.to_string();
        assert!(s.contains("AKIA1, AKIA2") && s.contains("replace_access_key"), "{s}");
    }
}
