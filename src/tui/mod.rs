//! The terminal wizard: setup and restore of the terminal, and the event loop that
//! feeds keys, engine progress and background results into `app::update` as messages.

pub mod app;
pub mod form;
pub mod presenter;
pub mod screens;
pub mod terminal;
pub mod theme;
pub mod view;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crossterm::event::{Event as TermEvent, EventStream, KeyEventKind};
use futures_util::StreamExt;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc::{self, UnboundedSender};

use crate::answers::Answers;
use crate::engine::{ApplyOptions, AwsContext, Connection, Reporter};
use crate::files::{self, Existing, WriteOptions};
use crate::flow;
use crate::tui::app::{App, Command, KeyChoice, Msg, RunReport};
use crate::vault::deploy::KeysDestination;

/// The wizard's answers, saved at every step so that nothing typed is lost.
pub const ANSWERS_FILE: &str = "wizard-answers.toml";

/// The answers a wizard starts from: a file given, else the last session's, else defaults.
pub fn starting_answers(given: Option<&Path>, state_dir: &Path) -> anyhow::Result<Answers> {
    if let Some(path) = given {
        // Only parse: an unfinished answers file is what the wizard is for.
        let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        return Answers::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()));
    }
    let saved = state_dir.join(ANSWERS_FILE);
    Ok(std::fs::read_to_string(&saved)
        .ok()
        .and_then(|t| Answers::parse(&t).ok())
        .unwrap_or_default())
}

/// How the wizard ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit {
    /// Demo only: the presenter asked to keep it running.
    pub keep_demo: bool,
}

pub async fn run(answers: Answers, state_dir: PathBuf, demo: bool) -> anyhow::Result<Exit> {
    // Like ratatui::init (a panic hook leaves raw mode and the alternate screen first),
    // on a writer that wipes what it wrote.
    let mut terminal = match terminal::init() {
        Ok(t) => t,
        Err(e) => {
            ratatui::restore();
            return Err(e.into());
        }
    };
    let result = event_loop(&mut terminal, answers, state_dir, demo).await;
    ratatui::restore();
    result
}

async fn event_loop(
    terminal: &mut terminal::Term,
    answers: Answers,
    state_dir: PathBuf,
    demo: bool,
) -> anyhow::Result<Exit> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Msg>();
    let mut app = App::new(answers, state_dir.clone(), theme::Theme::from_env());
    app.demo = demo;
    let mut keys = EventStream::new();
    let mut hangup = signal(SignalKind::hangup())?;
    let mut terminate = signal(SignalKind::terminate())?;
    // Ticks only drive spinners: no tick, no wake-up, while nothing is in flight.
    let mut ticker = tokio::time::interval(Duration::from_millis(100));
    let mut dirty = true;
    loop {
        if dirty {
            terminal.draw(|f| view::draw(f, &app))?;
        }
        let msg = tokio::select! {
            event = keys.next() => match event {
                Some(Ok(TermEvent::Key(key))) if key.kind == KeyEventKind::Press => Msg::Key(key),
                Some(Ok(TermEvent::Resize(..))) => Msg::Resize,
                Some(Ok(_)) => { dirty = false; continue }
                Some(Err(e)) => return Err(e.into()),
                None => Msg::Terminate,
            },
            Some(msg) = rx.recv() => msg,
            _ = ticker.tick(), if app.animating() => Msg::Tick,
            _ = hangup.recv() => Msg::Terminate,
            _ = terminate.recv() => Msg::Terminate,
        };
        if matches!(msg, Msg::Crashed) {
            anyhow::bail!(
                "an internal error stopped the wizard (see {}); your answers and the manifest are saved, run autounseal again to go on",
                state_dir.join("autounseal.log").display()
            );
        }
        dirty = true;
        for command in app::update(&mut app, msg) {
            match command {
                Command::Quit => {
                    return Ok(Exit {
                        keep_demo: app.keep_demo,
                    });
                }
                Command::ClearScreen => terminal::wipe(terminal)?,
                Command::SaveAnswers(a) => save_answers(&state_dir, &a),
                other => spawn(other, tx.clone(), state_dir.clone()),
            }
        }
    }
}

/// Saves the answers given so far (no secrets are among them).
pub fn save_answers(state_dir: &Path, answers: &Answers) {
    let opts = WriteOptions {
        mode: 0o600,
        owner: None,
        existing: Existing::Replace,
    };
    if let Err(e) = files::write_atomic(&state_dir.join(ANSWERS_FILE), answers.to_toml().as_bytes(), opts) {
        tracing::warn!("cannot save the wizard's answers: {e}");
    }
}

/// Runs a command's work on a tokio task; its result comes back as a message. A panic
/// in the task does not stop the loop by itself, so it is reported as a message too.
fn spawn(command: Command, tx: UnboundedSender<Msg>, state_dir: PathBuf) {
    let report = tx.clone();
    let work = tokio::spawn(async move {
        let msg = match command {
            Command::CheckIdentity(a) => {
                let ctx = AwsContext::connect(Connection::from_answers(&a)).await;
                Msg::Identity(
                    screens::account::checked_key(&a),
                    ctx.identity().await.map_err(|e| e.to_string()),
                )
            }
            Command::LoadKeys(a) => Msg::Keys(list_keys(&a).await),
            Command::Plan(a) => {
                let opts = ApplyOptions {
                    overwrite_files: true,
                    dry_run: true,
                };
                let result = flow::run(&a, &state_dir, opts, KeysDestination::HandBack, &Reporter::silent()).await;
                Msg::Plan(result.map(|o| o.calls).map_err(|e| e.to_string()))
            }
            Command::Run(a) => Msg::RunFinished(run_flow(&a, &state_dir, &tx).await),
            Command::SaveAnswers(_) | Command::ClearScreen | Command::Quit => return,
        };
        let _ = tx.send(msg);
    });
    tokio::spawn(async move {
        if let Err(e) = work.await
            && e.is_panic()
        {
            let _ = report.send(Msg::Crashed);
        }
    });
}

/// The real run; its progress events are forwarded as they happen, all of them before
/// the final message.
async fn run_flow(a: &Answers, state_dir: &Path, tx: &UnboundedSender<Msg>) -> Result<RunReport, String> {
    let (etx, mut erx) = mpsc::unbounded_channel();
    let forward = {
        let tx = tx.clone();
        tokio::spawn(async move {
            while let Some(event) = erx.recv().await {
                tracing::info!(?event, "progress");
                let _ = tx.send(Msg::Engine(event));
            }
        })
    };
    let rep = Reporter::new(etx);
    let opts = ApplyOptions {
        overwrite_files: true,
        dry_run: false,
    };
    let result = flow::run(a, state_dir, opts, KeysDestination::HandBack, &rep).await;
    drop(rep);
    let _ = forward.await;
    let outcome = result.map_err(|e| e.to_string())?;
    Ok(RunReport {
        key_arn: outcome.aws.key.arn,
        user_arn: outcome.aws.user.arn,
        address: outcome.vault.address,
        status: outcome.vault.status,
        server_command: outcome.vault.server_command,
        secrets: outcome.vault.secrets,
    })
}

/// Customer managed keys of the region, by alias, for the KMS screen.
async fn list_keys(a: &Answers) -> Result<Vec<KeyChoice>, String> {
    let ctx = AwsContext::connect(Connection::from_answers(a)).await;
    let out = ctx
        .kms
        .list_aliases()
        .limit(100)
        .send()
        .await
        .map_err(|e| crate::engine::error::classify("kms:ListAliases", &ctx.endpoint(), e).to_string())?;
    Ok(out
        .aliases()
        .iter()
        .filter(|al| al.alias_name().is_some_and(|n| !n.starts_with("alias/aws/")))
        .filter_map(|al| {
            let name = al.alias_name()?.to_string();
            let key = al.target_key_id()?;
            Some(KeyChoice {
                label: format!("{name}  →  {key}"),
                reference: name,
            })
        })
        .collect())
}
