//! Progress of a run, as messages any front end can show: the wizard's run screen,
//! the plain progress lines of `apply`, or a test that collects them.

use std::sync::Mutex;

use tokio::sync::mpsc::UnboundedSender;

/// One step of the flow, in the order a run takes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    Identity,
    KmsKey,
    KeyRotation,
    KmsAlias,
    IamUser,
    IamPolicy,
    AttachPolicy,
    AccessKey,
    SaveCredentials,
    VerifyCredentials,
    VaultConfig,
    LaunchServer,
    WaitForServer,
    InitServer,
    SaveRecoveryKeys,
    VerifySeal,
    RestartCheck,
    StopServer,
    DeleteAccessKeys,
    DetachPolicy,
    DeletePolicy,
    DeleteUser,
    DeleteAlias,
    ScheduleKeyDeletion,
    RemoveFiles,
}

impl Step {
    pub fn label(self) -> &'static str {
        match self {
            Step::Identity => "Check AWS identity",
            Step::KmsKey => "KMS key",
            Step::KeyRotation => "Key rotation",
            Step::KmsAlias => "Key alias",
            Step::IamUser => "IAM user",
            Step::IamPolicy => "IAM policy",
            Step::AttachPolicy => "Attach policy",
            Step::AccessKey => "Access key",
            Step::SaveCredentials => "Save credentials",
            Step::VerifyCredentials => "Verify credentials",
            Step::VaultConfig => "Vault config",
            Step::LaunchServer => "Start server",
            Step::WaitForServer => "Wait for server",
            Step::InitServer => "Initialize",
            Step::SaveRecoveryKeys => "Save recovery keys",
            Step::VerifySeal => "Verify seal",
            Step::RestartCheck => "Restart check",
            Step::StopServer => "Stop server",
            Step::DeleteAccessKeys => "Delete access keys",
            Step::DetachPolicy => "Detach policy",
            Step::DeletePolicy => "Delete policy",
            Step::DeleteUser => "Delete user",
            Step::DeleteAlias => "Delete alias",
            Step::ScheduleKeyDeletion => "Schedule key deletion",
            Step::RemoveFiles => "Remove files",
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
    Call(Call),
}

/// Where the engine sends its events. Cheap to clone; a silent one drops them.
#[derive(Debug, Clone, Default)]
pub struct Reporter {
    tx: Option<UnboundedSender<Event>>,
}

impl Reporter {
    pub fn new(tx: UnboundedSender<Event>) -> Reporter {
        Reporter { tx: Some(tx) }
    }

    pub fn silent() -> Reporter {
        Reporter { tx: None }
    }

    pub fn emit(&self, event: Event) {
        if let Some(tx) = &self.tx {
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

    /// Runs one step: announces it, and reports its error as the step's failure.
    pub async fn step<T, E: std::fmt::Display>(
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

/// The changes of one run, in order. In a plan (`dry_run`) they are only recorded, so a
/// plan lists exactly the calls an apply would make.
#[derive(Debug)]
pub struct Recorder {
    rep: Reporter,
    dry_run: bool,
    calls: Mutex<Vec<Call>>,
}

impl Recorder {
    pub fn new(rep: Reporter, dry_run: bool) -> Recorder {
        Recorder {
            rep,
            dry_run,
            calls: Mutex::new(Vec::new()),
        }
    }

    pub fn dry_run(&self) -> bool {
        self.dry_run
    }

    /// Records a change and reports it; returns whether to make it (false in a plan).
    pub fn change(&self, action: &str, detail: impl Into<String>, command: impl Into<String>) -> bool {
        let call = Call {
            action: action.into(),
            detail: detail.into(),
            command: command.into(),
        };
        self.rep.emit(Event::Call(call.clone()));
        self.calls.lock().expect("calls lock").push(call);
        !self.dry_run
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().expect("calls lock").clone()
    }
}
