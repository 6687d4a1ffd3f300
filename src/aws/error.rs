//! AWS's answers read as [`RunError`]s that name the action and what to do. Messages are
//! built from AWS error codes and our own text only: never from a secret.

use aws_sdk_kms::config::http::HttpResponse;
use aws_sdk_kms::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use crate::run::error::{RunError, xml_error};

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
/// KMS, IAM, EventBridge and SNS say "not found" each their own way.
const NOT_FOUND_CODES: &[&str] = &[
    "NotFoundException",
    "NoSuchEntity",
    "ResourceNotFoundException",
    "NotFound",
];

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

/// Turns an SDK error into an [`RunError`] that names the action and what to do.
pub fn classify<E>(action: &'static str, endpoint: &str, err: SdkError<E, HttpResponse>) -> RunError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let endpoint = endpoint.to_string();
    match &err {
        SdkError::TimeoutError(_) => RunError::Timeout { action, endpoint },
        SdkError::DispatchFailure(d) if d.is_timeout() => RunError::Timeout { action, endpoint },
        SdkError::DispatchFailure(d) if d.is_io() => RunError::Unreachable {
            action,
            endpoint,
            message: root_cause(&err),
        },
        SdkError::DispatchFailure(_) | SdkError::ConstructionFailure(_) => {
            let message = root_cause(&err);
            if message.contains("credentials") || message.contains("identity") {
                RunError::NoCredentials { detail: message }
            } else {
                RunError::Unreachable {
                    action,
                    endpoint,
                    message,
                }
            }
        }
        SdkError::ServiceError(_) => {
            let (code, message) = service_error(&err).expect("a service error has a code");
            if REJECTED_CODES.contains(&code.as_str()) {
                RunError::CredentialsRejected { action, code, message }
            } else if DENIED_CODES.contains(&code.as_str()) {
                RunError::AccessDenied { action, message }
            } else if THROTTLE_CODES.contains(&code.as_str()) {
                RunError::Throttled { action }
            } else {
                RunError::Aws { action, code, message }
            }
        }
        _ => RunError::Aws {
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
}
