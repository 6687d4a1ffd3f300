//! The one way a run changes anything. Each change is recorded with its command-line
//! twin (so a plan lists exactly the calls an apply makes); in a plan it stops there,
//! in an apply it is made, what it made is written to the manifest, and the step says
//! so. The error a call fails with names the change's action.

use std::sync::Mutex;

use crate::run::error::{Result, RunError};
use crate::run::events::{Call, Event, Reporter, Step};
use crate::run::manifest::{Manifest, ManifestStore};

/// A change a run makes: the step it belongs to, what it is, and its twin.
#[derive(Debug, Clone)]
pub struct Change {
    step: Step,
    action: &'static str,
    detail: String,
    twin: String,
    /// Whether the step is through once this change is made: its text is then the
    /// step's `Done`, otherwise a `Progress` line of it.
    ends_step: bool,
}

impl Change {
    /// `action` is `kms:CreateKey`, `iam:CreateUser`, `file:write`, …: the call's name,
    /// which its error names too. `twin` is the equivalent command line.
    pub fn new(step: Step, action: &'static str, detail: impl Into<String>, twin: impl Into<String>) -> Change {
        Change {
            step,
            action,
            detail: detail.into(),
            twin: twin.into(),
            ends_step: true,
        }
    }

    /// A change on the way through its step (removing an old version before adding the
    /// new one): reported as progress, the step goes on.
    pub fn on_the_way(self) -> Change {
        Change {
            ends_step: false,
            ..self
        }
    }
}

/// What a change came to: made (with what it made), or in a plan only planned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied<T> {
    Done(T),
    Planned,
}

impl<T> Applied<T> {
    pub fn as_ref(&self) -> Applied<&T> {
        match self {
            Applied::Done(made) => Applied::Done(made),
            Applied::Planned => Applied::Planned,
        }
    }

    /// What an earlier change made, for a call that needs it. Only an apply makes calls,
    /// and in an apply every earlier change is done: a planned value here is a bug of
    /// ours, reported as an error rather than a panic.
    pub fn made(self) -> Result<T> {
        match self {
            Applied::Done(made) => Ok(made),
            Applied::Planned => Err(RunError::Other(
                "internal error: a call was asked to use what a plan only planned; nothing more was changed".into(),
            )),
        }
    }

    pub fn done(self) -> Option<T> {
        match self {
            Applied::Done(made) => Some(made),
            Applied::Planned => None,
        }
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Applied<U> {
        match self {
            Applied::Done(made) => Applied::Done(f(made)),
            Applied::Planned => Applied::Planned,
        }
    }
}

/// The changes of one run, in order, and the means to make them.
pub struct Recorder<'a> {
    rep: Reporter,
    store: &'a ManifestStore,
    dry_run: bool,
    calls: Mutex<Vec<Call>>,
}

impl<'a> Recorder<'a> {
    pub fn new(rep: Reporter, store: &'a ManifestStore, dry_run: bool) -> Recorder<'a> {
        Recorder {
            rep,
            store,
            dry_run,
            calls: Mutex::new(Vec::new()),
        }
    }

    pub fn dry_run(&self) -> bool {
        self.dry_run
    }

    /// Makes `change`: records it with its twin, and in a plan stops there. Otherwise
    /// runs `call` (given the action, for its errors to name), writes what it made into
    /// the manifest with `record`, and reports `said` as the step's news.
    pub async fn mutate<T, Made>(
        &self,
        change: Change,
        call: impl FnOnce(&'static str) -> Made,
        record: impl FnOnce(&mut Manifest, &T),
        said: impl FnOnce(&T) -> String,
    ) -> Result<Applied<T>>
    where
        Made: Future<Output = Result<T>>,
    {
        let Change {
            step,
            action,
            detail,
            twin,
            ends_step,
        } = change;
        let call_record = Call {
            action: action.into(),
            detail,
            command: twin,
        };
        self.rep.emit(Event::Call(call_record.clone()));
        self.calls.lock().expect("calls lock").push(call_record);
        if self.dry_run {
            return Ok(Applied::Planned);
        }
        let made = call(action).await?;
        self.store.update(|m| record(m, &made))?;
        let news = said(&made);
        if ends_step {
            self.rep.done(step, news);
        } else {
            self.rep.progress(step, news);
        }
        Ok(Applied::Done(made))
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().expect("calls lock").clone()
    }
}

/// For [`Recorder::mutate`]: a change that puts nothing in the manifest.
pub fn nothing_to_record<T>(_: &mut Manifest, _: &T) {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::error::RunError;

    fn change() -> Change {
        Change::new(
            Step::KmsAlias,
            "kms:CreateAlias",
            "alias/x",
            "aws kms create-alias --alias-name alias/x",
        )
    }

    #[tokio::test]
    async fn a_plan_records_the_twin_and_makes_nothing() {
        let store = ManifestStore::detached(Manifest::default());
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let recorder = Recorder::new(Reporter::new(tx), &store, true);
        let applied = recorder
            .mutate(
                change(),
                |_| async { panic!("a plan made the call") },
                |m, _: &()| m.region = Some("recorded".into()),
                |_| "made".into(),
            )
            .await
            .unwrap();
        assert_eq!(applied, Applied::Planned);
        assert_eq!(store.snapshot().region, None);
        let call = recorder.calls().remove(0);
        assert_eq!(call.command, "aws kms create-alias --alias-name alias/x");
        assert!(matches!(rx.try_recv(), Ok(Event::Call(_))));
        assert!(rx.try_recv().is_err(), "a plan says nothing is done");
    }

    #[tokio::test]
    async fn an_apply_makes_records_and_reports_and_errors_name_the_action() {
        let store = ManifestStore::detached(Manifest::default());
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let recorder = Recorder::new(Reporter::new(tx), &store, false);
        let applied = recorder
            .mutate(
                change(),
                |action| async move { Ok(format!("{action} made")) },
                |m, made: &String| m.region = Some(made.clone()),
                |made| format!("news: {made}"),
            )
            .await
            .unwrap();
        assert_eq!(applied, Applied::Done("kms:CreateAlias made".to_string()));
        assert_eq!(store.snapshot().region.as_deref(), Some("kms:CreateAlias made"));
        assert!(matches!(rx.try_recv(), Ok(Event::Call(_))));
        assert_eq!(
            rx.try_recv().unwrap(),
            Event::Done(Step::KmsAlias, "news: kms:CreateAlias made".into())
        );
        let failed = recorder
            .mutate(
                change().on_the_way(),
                |action| async move { Err::<(), _>(RunError::Throttled { action }) },
                nothing_to_record,
                |_| unreachable!(),
            )
            .await;
        assert!(failed.unwrap_err().to_string().contains("kms:CreateAlias"));
    }

    #[test]
    fn a_planned_value_reaching_a_call_is_an_error_not_a_panic() {
        assert_eq!(Applied::Done(7).made().unwrap(), 7);
        let err = Applied::<u8>::Planned.made().unwrap_err().to_string();
        assert!(
            err.contains("internal error") && err.contains("nothing more was changed"),
            "{err}"
        );
    }
}
