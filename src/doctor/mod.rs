//! `doctor`: every link of the chain that lets the server unseal itself, checked from
//! the manifest outwards, each an ok / warn / fail with one line of evidence and the
//! fix. The checks only return typed [`Finding`]s and print nothing, so the headless
//! output, `--json` and a wizard screen all show the same list.

pub mod checks;
pub mod status;
pub mod textfile;

use std::borrow::Cow;
use std::path::Path;

use serde::Serialize;

use crate::aws::AwsContext;
use crate::run::Manifest;

/// The links of the chain, in the order a start of the server goes through them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Link {
    /// The state folder: what autounseal recorded of the setup.
    State,
    EnvFile,
    /// The AWS shared credentials file of the `shared-file` style.
    SharedCredentials,
    Config,
    Credentials,
    Policy,
    Key,
    /// The alarm on the key: its rule, topic and the trail that feeds it.
    Alarm,
    RoundTrip,
    Unit,
    Server,
}

impl Link {
    pub fn label(self) -> &'static str {
        match self {
            Link::State => "state folder",
            Link::EnvFile => "env file",
            Link::SharedCredentials => "credentials file",
            Link::Config => "config",
            Link::Credentials => "credentials",
            Link::Policy => "policy",
            Link::Key => "KMS key",
            Link::Alarm => "key alarm",
            Link::RoundTrip => "KMS round trip",
            Link::Unit => "systemd unit",
            Link::Server => "server",
        }
    }
}

/// How a check came out. `Skipped` never changes the exit code: either the check does
/// not apply here, or an earlier failure (which does) made it impossible.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Ok,
    Skipped,
    Warn,
    Fail,
}

/// One check of one link. `evidence` is a single line and never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub link: Link,
    /// What was checked: mostly a fixed word; a check made once per item (a replica's
    /// region) names it.
    pub check: Cow<'static, str>,
    pub verdict: Verdict,
    pub evidence: String,
    pub fix: Option<String>,
    /// What the check measured, for monitoring (see [`textfile`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub measure: Option<Measure>,
}

/// The value behind a check's verdict that monitoring graphs and alerts on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// The server's access key, this many whole days old.
    AccessKeyAgeDays(u64),
    /// The KMS key's state as KMS names it (`Enabled`, `Disabled`, `PendingDeletion` …).
    KeyState(String),
    /// Whether the server is sealed.
    Sealed(bool),
    /// The last good recovery drill, this many whole days ago; `None`: never.
    DrillAgeDays(Option<u64>),
}

impl Finding {
    pub fn ok(link: Link, check: impl Into<Cow<'static, str>>, evidence: impl Into<String>) -> Finding {
        Finding::new(link, check, Verdict::Ok, evidence.into(), None)
    }

    pub fn warn(
        link: Link,
        check: impl Into<Cow<'static, str>>,
        evidence: impl Into<String>,
        fix: impl Into<String>,
    ) -> Finding {
        Finding::new(link, check, Verdict::Warn, evidence.into(), Some(fix.into()))
    }

    pub fn fail(
        link: Link,
        check: impl Into<Cow<'static, str>>,
        evidence: impl Into<String>,
        fix: impl Into<String>,
    ) -> Finding {
        Finding::new(link, check, Verdict::Fail, evidence.into(), Some(fix.into()))
    }

    /// A check that could not be made, and why.
    pub fn skipped(link: Link, check: impl Into<Cow<'static, str>>, why: impl Into<String>) -> Finding {
        Finding::new(link, check, Verdict::Skipped, why.into(), None)
    }

    /// The finding, with what its check measured.
    pub fn measured(self, measure: Measure) -> Finding {
        Finding {
            measure: Some(measure),
            ..self
        }
    }

    fn new(
        link: Link,
        check: impl Into<Cow<'static, str>>,
        verdict: Verdict,
        evidence: String,
        fix: Option<String>,
    ) -> Finding {
        // One line each: a multi-line cause would break the list and the monitoring that reads it.
        let one_line = |s: String| s.split_whitespace().collect::<Vec<_>>().join(" ");
        Finding {
            link,
            check: check.into(),
            verdict,
            evidence: one_line(evidence),
            fix: fix.map(one_line),
            measure: None,
        }
    }
}

/// The worst verdict decides: 0 all ok, 1 some warning, 2 some failure.
pub fn exit_code(findings: &[Finding]) -> u8 {
    match findings.iter().map(|f| f.verdict).max() {
        Some(Verdict::Fail) => 2,
        Some(Verdict::Warn) => 1,
        _ => 0,
    }
}

/// Checks every link the manifest records. `operator` holds the operator's clients
/// (IAM and KMS reads); the env file's own key is used only where Vault would use it.
/// `ca_cert` verifies a server on HTTPS.
pub async fn examine(manifest: &Manifest, operator: &AwsContext, ca_cert: Option<&Path>) -> Vec<Finding> {
    let mut findings = Vec::new();
    let region = manifest.region.clone().unwrap_or_default();
    let env_key = checks::env_file(manifest, &region, &mut findings);
    checks::config(manifest, &mut findings);
    let operator_identity = operator.identity().await;
    checks::credentials(manifest, operator, &operator_identity, env_key.as_ref(), &mut findings).await;
    let operator_ok = operator_identity.is_ok();
    checks::policy(manifest, operator, operator_ok, &mut findings).await;
    checks::key(manifest, operator, operator_ok, env_key.as_ref(), &mut findings).await;
    // Read from the manifest alone: said even when the operator's AWS reads fail.
    findings.extend(checks::drill_finding(manifest, checks::now_secs()));
    checks::alarm(manifest, operator, operator_ok, &mut findings).await;
    checks::round_trip(manifest, operator, env_key.as_ref(), &mut findings).await;
    drop(env_key);
    checks::unit(manifest, &mut findings);
    checks::server(manifest, ca_cert, &mut findings).await;
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_verdict_is_the_exit_code() {
        let ok = Finding::ok(Link::Key, "state", "Enabled");
        let skipped = Finding::skipped(Link::Unit, "exists", "launch is background");
        let warn = Finding::warn(Link::Key, "rotation", "off", "enable it");
        let fail = Finding::fail(Link::Server, "reachable", "refused", "start it");
        assert_eq!(exit_code(&[ok.clone(), skipped.clone()]), 0);
        assert_eq!(exit_code(&[ok.clone(), warn.clone()]), 1);
        assert_eq!(exit_code(&[warn, fail, ok]), 2);
        assert_eq!(exit_code(&[]), 0);
    }

    #[test]
    fn evidence_is_one_line() {
        let f = Finding::fail(Link::Server, "reachable", "a\nb  c", "x\ny");
        assert_eq!((f.evidence.as_str(), f.fix.as_deref()), ("a b c", Some("x y")));
    }
}
