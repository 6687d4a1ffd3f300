//! Progress of a run, as messages any front end can show: the wizard's run screen,
//! the plain progress lines of `apply`, or a test that collects them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use tokio::sync::mpsc::UnboundedSender;

use crate::run::error::RunError;

/// One step of the flow, in the order a run takes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    Identity,
    KmsKey,
    KeyRotation,
    KmsAlias,
    /// The key's replicas in other regions, each with the alias there.
    KeyReplicas,
    /// The alarm on the key: topic, mail subscription, EventBridge rule, per region.
    KeyAlarm,
    IamUser,
    IamPolicy,
    AttachPolicy,
    AccessKey,
    SaveCredentials,
    VerifyCredentials,
    VaultConfig,
    /// The cluster file the other hosts join with (a cluster's first node only).
    ClusterFile,
    LaunchServer,
    WaitForServer,
    InitServer,
    SaveRecoveryKeys,
    VerifySeal,
    RestartCheck,
    MigrateBack,
    StopServer,
    DeleteAccessKeys,
    DetachPolicy,
    DeletePolicy,
    DeleteUser,
    DeleteAlias,
    DeleteAlarm,
    ScheduleKeyDeletion,
    RemoveFiles,
    CheckAccessKeys,
    NewAccessKey,
    RestartOnNewKey,
    DeactivateOldKey,
    RestartWithoutOldKey,
    DeleteOldKey,
    RollBack,
    DrillSnapshot,
    DrillStart,
    DrillRestore,
    DrillUnseal,
    DrillRead,
    DrillCleanUp,
}

impl Step {
    /// The steps of an apply, in the order it takes them: the rows the wizard's Run
    /// screen shows. The others are `destroy`'s.
    pub const APPLY: [Step; 19] = [
        Step::Identity,
        Step::KmsKey,
        Step::KeyRotation,
        Step::KmsAlias,
        Step::KeyReplicas,
        Step::KeyAlarm,
        Step::IamUser,
        Step::IamPolicy,
        Step::AttachPolicy,
        Step::AccessKey,
        Step::SaveCredentials,
        Step::VerifyCredentials,
        Step::VaultConfig,
        Step::LaunchServer,
        Step::WaitForServer,
        Step::InitServer,
        Step::SaveRecoveryKeys,
        Step::VerifySeal,
        Step::RestartCheck,
    ];

    /// The steps of `rotate`, in order: the rows of a rotation screen. A failure before
    /// the old key is deleted adds [`Step::RollBack`].
    pub const ROTATE: [Step; 8] = [
        Step::CheckAccessKeys,
        Step::NewAccessKey,
        Step::SaveCredentials,
        Step::VerifyCredentials,
        Step::RestartOnNewKey,
        Step::DeactivateOldKey,
        Step::RestartWithoutOldKey,
        Step::DeleteOldKey,
    ];

    /// The steps of `drill`, in order.
    pub const DRILL: [Step; 6] = [
        Step::DrillSnapshot,
        Step::DrillStart,
        Step::DrillRestore,
        Step::DrillUnseal,
        Step::DrillRead,
        Step::DrillCleanUp,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Step::Identity => "Check AWS identity",
            Step::KmsKey => "KMS key",
            Step::KeyRotation => "Key rotation",
            Step::KmsAlias => "Key alias",
            Step::KeyReplicas => "Key replicas",
            Step::KeyAlarm => "Key alarm",
            Step::IamUser => "IAM user",
            Step::IamPolicy => "IAM policy",
            Step::AttachPolicy => "Attach policy",
            Step::AccessKey => "Access key",
            Step::SaveCredentials => "Save credentials",
            Step::VerifyCredentials => "Verify credentials",
            Step::VaultConfig => "Vault config",
            Step::ClusterFile => "Cluster file",
            Step::LaunchServer => "Start server",
            Step::WaitForServer => "Wait for server",
            Step::InitServer => "Initialize",
            Step::SaveRecoveryKeys => "Save recovery keys",
            Step::VerifySeal => "Verify seal",
            Step::RestartCheck => "Restart check",
            Step::MigrateBack => "Migrate back to Shamir",
            Step::StopServer => "Stop server",
            Step::DeleteAccessKeys => "Delete access keys",
            Step::DetachPolicy => "Detach policy",
            Step::DeletePolicy => "Delete policy",
            Step::DeleteUser => "Delete user",
            Step::DeleteAlias => "Delete alias",
            Step::DeleteAlarm => "Delete key alarm",
            Step::ScheduleKeyDeletion => "Schedule key deletion",
            Step::RemoveFiles => "Remove files",
            Step::CheckAccessKeys => "Check access keys",
            Step::NewAccessKey => "New access key",
            Step::RestartOnNewKey => "Restart on the new key",
            Step::DeactivateOldKey => "Deactivate old key",
            Step::RestartWithoutOldKey => "Restart without the old key",
            Step::DeleteOldKey => "Delete old key",
            Step::RollBack => "Roll back",
            Step::DrillSnapshot => "Snapshot the live server",
            Step::DrillStart => "Start a recovery server",
            Step::DrillRestore => "Restore the snapshot",
            Step::DrillUnseal => "Unseal through the replica",
            Step::DrillRead => "Read the data back",
            Step::DrillCleanUp => "Remove the recovery server",
        }
    }
}

/// A change the run makes (or, in a plan, would make), with its AWS CLI twin so that
/// an operator can see and repeat exactly what happens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// `kms:CreateKey`, `iam:CreateUser`, `file:write`, …
    pub action: String,
    pub detail: String,
    /// The equivalent command, for the presenter's aid and the plan.
    pub command: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Started(Step),
    Progress(Step, String),
    Done(Step, String),
    /// Nothing to do: what exists already fits.
    Skipped(Step, String),
    Failed(Step, String),
    Warning(String),
    /// A line between steps: which node of a cluster the steps that follow are for.
    Note(String),
    Call(Call),
    /// An event of one node of a cluster whose nodes run at the same time (see
    /// [`Reporter::for_node`]): the front ends keep such nodes apart.
    OfNode(Arc<str>, Box<Event>),
}

/// Where the engine sends its events. Cheap to clone; a silent one drops them.
#[derive(Debug, Clone, Default)]
pub struct Reporter {
    tx: Option<UnboundedSender<Event>>,
    stop: Option<StopRequest>,
    /// The node whose events these are, when several run at once.
    node: Option<Arc<str>>,
}

/// An operator's request to stop (the first SIGINT or SIGTERM): the run finishes the
/// step in flight, records it, and starts no other.
#[derive(Debug, Clone, Default)]
pub struct StopRequest(Arc<AtomicU8>);

impl StopRequest {
    const SIGNALS: [&'static str; 3] = ["SIGINT", "SIGTERM", "SIGHUP"];

    /// Records the request; returns false if one was made already.
    pub fn request(&self, signal: &str) -> bool {
        let code = Self::SIGNALS.iter().position(|s| *s == signal).unwrap_or(0) as u8 + 1;
        self.0
            .compare_exchange(0, code, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    }

    /// The signal that asked to stop, if one did.
    pub fn requested(&self) -> Option<&'static str> {
        match self.0.load(Ordering::SeqCst) {
            0 => None,
            code => Some(Self::SIGNALS[usize::from(code - 1).min(Self::SIGNALS.len() - 1)]),
        }
    }
}

impl Reporter {
    pub fn new(tx: UnboundedSender<Event>) -> Reporter {
        Reporter {
            tx: Some(tx),
            stop: None,
            node: None,
        }
    }

    pub fn silent() -> Reporter {
        Reporter {
            tx: None,
            stop: None,
            node: None,
        }
    }

    /// The same reporter, whose events say they are node `id`'s: for the nodes of a
    /// cluster that run at the same time, whose steps would otherwise interleave.
    pub fn for_node(&self, id: &str) -> Reporter {
        Reporter {
            node: Some(id.into()),
            ..self.clone()
        }
    }

    /// The same reporter, whose steps stop starting once `stop` is requested.
    pub fn with_stop(self, stop: StopRequest) -> Reporter {
        Reporter {
            stop: Some(stop),
            ..self
        }
    }

    /// Fails with [`RunError::Interrupted`] once a stop was requested: for loops that
    /// wait inside a step (polling a new key) to end early.
    pub fn check_stop(&self) -> Result<(), RunError> {
        match self.stop.as_ref().and_then(StopRequest::requested) {
            Some(signal) => Err(RunError::Interrupted { signal }),
            None => Ok(()),
        }
    }

    pub fn emit(&self, event: Event) {
        if let Some(tx) = &self.tx {
            let event = match &self.node {
                Some(node) => Event::OfNode(node.clone(), Box::new(event)),
                None => event,
            };
            // A front end that has gone away must not stop the run.
            let _ = tx.send(event);
        }
    }

    pub fn started(&self, step: Step) {
        self.emit(Event::Started(step));
    }

    pub fn progress(&self, step: Step, text: impl Into<String>) {
        self.emit(Event::Progress(step, text.into()));
    }

    pub fn done(&self, step: Step, text: impl Into<String>) {
        self.emit(Event::Done(step, text.into()));
    }

    pub fn skipped(&self, step: Step, text: impl Into<String>) {
        self.emit(Event::Skipped(step, text.into()));
    }

    pub fn warn(&self, text: impl Into<String>) {
        self.emit(Event::Warning(text.into()));
    }

    pub fn note(&self, text: impl Into<String>) {
        self.emit(Event::Note(text.into()));
    }

    /// Runs one step: announces it, and reports its error as the step's failure. Once a
    /// stop is requested no new step starts (the one in flight finishes and is recorded).
    pub async fn step<T, E: std::fmt::Display + From<RunError>>(
        &self,
        step: Step,
        work: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        self.check_stop()?;
        self.step_even_when_stopping(step, work).await
    }

    /// [`Reporter::step`] for the one step a stop must not skip: saving what exists only
    /// in memory (the recovery keys init just handed back).
    pub async fn step_even_when_stopping<T, E: std::fmt::Display>(
        &self,
        step: Step,
        work: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        self.started(step);
        let result = work.await;
        if let Err(e) = &result {
            self.emit(Event::Failed(step, e.to_string()));
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_stop_lets_the_step_in_flight_finish_and_starts_no_other() {
        let stop = StopRequest::default();
        let rep = Reporter::silent().with_stop(stop.clone());
        let in_flight = rep
            .step(Step::KmsKey, async {
                // The interrupt arrives while the step's call is in flight.
                assert!(stop.request("SIGTERM"));
                Ok::<_, RunError>("recorded")
            })
            .await;
        assert_eq!(in_flight.unwrap(), "recorded");
        assert!(!stop.request("SIGINT"), "the second request is not a first one");
        let next = rep.step(Step::IamUser, async { Ok::<_, RunError>(()) }).await;
        match next {
            Err(RunError::Interrupted { signal }) => assert_eq!(signal, "SIGTERM"),
            other => panic!("the next step started: {other:?}"),
        }
    }
}
