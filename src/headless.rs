//! Plain progress lines, for `apply`, `plan`, `destroy` and any run without a screen.
//! One line a change of state, so that logs and screen readers read well.

use std::io::Write;

use tokio::sync::mpsc::UnboundedReceiver;

use crate::answers::Answers;
use crate::aws::policy;
use crate::doctor::status::Status;
use crate::doctor::{Finding, Verdict};
use crate::flow::FlowOutcome;
use crate::run::{Event, Reporter, Step};

/// What a run's lines are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Changes are made: every state change is a line.
    Run,
    /// Nothing is changed: "done" would mislead, the numbered list of calls says it.
    Plan,
}

/// How one event reads as a line; `None` for events that are not worth a line.
pub fn line(event: &Event, mode: Mode) -> Option<String> {
    Some(match event {
        Event::Started(_) => return None,
        Event::Done(step, _) if mode == Mode::Plan && *step != Step::Identity => return None,
        Event::Progress(step, text) => format!("  ..   {}: {text}", step.label()),
        // Words, not arrows: these lines are what a screen reader reads.
        Event::Done(step, text) => format!("  ok   {}: {}", step.label(), text.replace(" → ", " to ")),
        Event::Skipped(step, text) => format!("  --   {}: {text}", step.label()),
        // The error itself ends the run's output, once, with its causes: here only where.
        Event::Failed(step, _) => format!("  FAIL {} (the error follows)", step.label()),
        Event::Warning(text) => format!("  warn {text}"),
        Event::Note(text) => text.clone(),
        Event::Call(_) => return None,
        // The nodes of a cluster that run at once: each line names its node.
        Event::OfNode(node, event) => format!("  {node} {}", line(event, mode)?.trim_start()),
    })
}

/// Prints a line where a closed or hung-up terminal must not stop what follows (a
/// teardown after a dropped SSH session): a failed write is let go, never a panic.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// An error and its causes, each said once: a cause whose words the message already
/// holds (`cannot write X: … (os error 2)` over the io error itself) is not repeated.
pub fn error_chain(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let words = cause.to_string();
        if !text.contains(words.trim()) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&words);
        }
    }
    text
}

/// Prints events as they come until the sender is dropped; also logs them (events
/// carry no secrets).
pub async fn print_events(mut rx: UnboundedReceiver<Event>, mode: Mode) {
    while let Some(event) = rx.recv().await {
        tracing::info!(?event, "progress");
        if let Some(text) = line(&event, mode) {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{text}");
        }
    }
}

/// Runs `work` with a reporter whose events are printed as lines; returns once every
/// line is out.
pub async fn with_printer<T>(mode: Mode, work: impl AsyncFnOnce(Reporter) -> T) -> T {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let printer = tokio::spawn(print_events(rx, mode));
    let result = work(Reporter::new(tx)).await;
    // `work` dropped its reporter; the printer drains what is left and ends.
    let _ = printer.await;
    result
}

/// Where the seal calls KMS: an endpoint can come from the environment or the profile,
/// not only from the answers, so it is always said.
pub fn kms_endpoint_line(outcome: &FlowOutcome) -> String {
    match &outcome.kms_endpoint {
        Some(url) => format!("KMS endpoint: {url} (autounseal's calls and the server's seal)"),
        None => "KMS endpoint: AWS itself".to_string(),
    }
}

/// Every change in order with its AWS CLI twin, where KMS is, and the exact policy:
/// what `plan` prints, and what the plain wizard shows before it asks to go ahead.
pub fn print_plan(answers: &Answers, outcome: &FlowOutcome) {
    println!();
    println!("On this host:");
    for line in outcome.host.report(answers) {
        println!("  {line}");
    }
    println!();
    if outcome.calls.is_empty() {
        println!("Nothing to change: everything exists as asked.");
    } else {
        println!("apply would make these changes, in this order:");
        for (i, call) in outcome.calls.iter().enumerate() {
            println!(
                "{:>3}. {} ({})",
                i + 1,
                call.action,
                call.detail.lines().next().unwrap_or("")
            );
            // A config edit shows its diff under it.
            for line in call.detail.lines().skip(1) {
                println!("       {line}");
            }
            println!("       $ {}", call.command);
        }
    }
    println!();
    println!("{}", kms_endpoint_line(outcome));
    println!(
        "The IAM policy {} (exactly this, nothing more):",
        answers.iam.policy_name
    );
    println!(
        "{}",
        policy::document_text(&policy::key_arns(&outcome.aws.key.arn, &answers.kms.replica_regions))
    );
}

/// How a verdict reads at the start of a line: the same words as a run's lines.
fn verdict_word(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Ok => "ok  ",
        Verdict::Skipped => "--  ",
        Verdict::Warn => "warn",
        Verdict::Fail => "FAIL",
    }
}

/// `doctor`'s findings, one line each, the fix below a warning or failure, then a total.
pub fn print_findings(findings: &[Finding]) {
    for f in findings {
        say!(
            "  {}  {} / {}: {}",
            verdict_word(f.verdict),
            f.link.label(),
            f.check,
            f.evidence
        );
        if let Some(fix) = &f.fix {
            say!("        fix: {fix}");
        }
    }
    let count = |v: Verdict| findings.iter().filter(|f| f.verdict == v).count();
    say!(
        "\n{} ok, {} warnings, {} failures, {} skipped",
        count(Verdict::Ok),
        count(Verdict::Warn),
        count(Verdict::Fail),
        count(Verdict::Skipped)
    );
}

/// `status` in a few lines.
pub fn print_status(status: &Status) {
    let or_none = |v: Option<String>| v.unwrap_or_else(|| "none recorded".into());
    say!("region:     {}", or_none(status.region.clone()));
    say!(
        "KMS key:    {}",
        or_none(status.kms_key.as_ref().map(|k| format!("{} ({})", k.arn, k.state)))
    );
    say!("IAM user:   {}", or_none(status.iam_user.clone()));
    say!(
        "access key: {}",
        or_none(status.access_key.as_ref().map(|k| match k.age_days {
            Some(days) => format!("{} ({}, {days} days old)", k.id, k.status),
            None => format!("{} ({})", k.id, k.status),
        }))
    );
    say!(
        "server:     {}",
        or_none(
            status
                .server
                .as_ref()
                .map(|s| match (s.reachable, &s.seal_type, s.initialized, s.sealed) {
                    (true, Some(seal), Some(init), Some(sealed)) => format!(
                        "{} ({}): seal {seal}, {}, {}",
                        s.address,
                        s.launch,
                        if init { "initialised" } else { "not initialised" },
                        if sealed { "sealed" } else { "unsealed" }
                    ),
                    _ => format!("{} ({}): not reachable", s.address, s.launch),
                })
        )
    );
    for file in &status.keys_waiting {
        say!("keys file:  {} (store offline, then delete)", file.display());
    }
    if !status.proofs_missing.is_empty() {
        say!("never ran:  {}", status.proofs_missing.join(", "));
    }
    say!("next:       {}", status.next);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_name_the_step_and_state() {
        let done = Event::Done(Step::KmsKey, "created k".into());
        assert_eq!(line(&done, Mode::Run).unwrap(), "  ok   KMS key: created k");
        assert_eq!(line(&done, Mode::Plan), None);
        let failed = Event::Failed(Step::IamUser, "denied".into());
        let failed = line(&failed, Mode::Plan).unwrap();
        assert!(
            failed.contains("FAIL IAM user") && !failed.contains("denied"),
            "said once, below"
        );
        assert_eq!(line(&Event::Started(Step::KmsKey), Mode::Run), None);
        let of_node = Event::OfNode("autounseal-2".into(), Box::new(done.clone()));
        assert_eq!(
            line(&of_node, Mode::Run).unwrap(),
            "  autounseal-2 ok   KMS key: created k"
        );
        let started = Event::OfNode("autounseal-2".into(), Box::new(Event::Started(Step::KmsKey)));
        assert_eq!(line(&started, Mode::Run), None);
    }

    #[test]
    fn an_error_chain_says_each_cause_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file (os error 2)");
        let wrapped = anyhow::Error::new(io).context("cannot write /x: No such file (os error 2)");
        assert_eq!(error_chain(&wrapped), "cannot write /x: No such file (os error 2)");
        let distinct = anyhow::anyhow!("root cause").context("the run stopped");
        assert_eq!(error_chain(&distinct), "the run stopped: root cause");
    }
}
