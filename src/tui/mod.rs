//! The terminal wizard: setup and restore of the terminal, and the event loop that
//! feeds keys, engine progress and background results into `app::update` as messages.

pub mod app;
pub mod by_hand;
pub mod ctx;
pub mod form;
pub mod keys;
pub mod msg;
pub mod presenter;
pub mod screens;
pub mod terminal;
pub mod theme;
pub mod view;
pub mod wrap;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crossterm::event::{Event as TermEvent, EventStream, KeyEventKind};
use futures_util::StreamExt;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc::{self, UnboundedSender};

use crate::answers::Answers;
use crate::aws::{AwsContext, Connection};
use crate::doctor::Finding;
use crate::ops::check::NodeStatus;
use crate::ops::setup::Setup;
use crate::ops::{self, OpsError};
use crate::rotate::{self, RotateOptions};
use crate::run::events::StopRequest;
use crate::run::{Event, ManifestStore, Reporter, RunError};
use crate::tui::app::App;
use crate::tui::msg::{Command, DrillAsk, KeyChoice, Msg, RotationEnd, RunReport, SetupRead};
use crate::tui::screens::server::HostReport;
use crate::vault::deploy::{InitGate, KeysDestination};
use crate::vault::discover::Host;
use crate::vault::migrate::UnsealKeys;

/// The answers a wizard starts from: a file given, else the last session's, else defaults.
pub fn starting_answers(given: Option<&Path>, state_dir: &Path) -> anyhow::Result<Answers> {
    if let Some(path) = given {
        // Only parse: an unfinished answers file is what the wizard is for.
        let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        return Answers::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()));
    }
    Ok(Answers::last_session(state_dir).unwrap_or_default())
}

/// How the wizard ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exit {
    /// Demo only: the presenter asked to keep it running.
    pub keep_demo: bool,
    /// Lines for the normal screen once the alternate one is gone: what exists and
    /// where, and where unacknowledged recovery keys were saved. Never a secret.
    pub farewell: Vec<String>,
}

impl Exit {
    pub fn print_farewell(&self) {
        for line in &self.farewell {
            crate::say!("{line}");
        }
    }
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
    // Not `restore()`, which reports a failure on stderr and so panics when the
    // terminal hung up: what follows (saving keys, a demo's teardown) must still run.
    let _ = ratatui::try_restore();
    if terminal.show_cursor().is_err()
        && let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null")
    {
        // Hung up: ratatui's drop reports the cursor on stderr, and eprintln! on a
        // dead terminal panics. Nothing can reach that terminal any more, so stderr goes
        // to /dev/null and the terminal is dropped (and its memory wiped) as usual.
        let _ = nix::unistd::dup2_stderr(&null);
    }
    drop(terminal);
    result
}

/// The loop: draw, then wait for a key, a signal, a tick or a background answer, and
/// carry out what `update` returns. Long, on purpose: one `select!` over every source.
async fn event_loop(
    terminal: &mut terminal::Term,
    answers: Answers,
    state_dir: PathBuf,
    demo: bool,
) -> anyhow::Result<Exit> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Msg>();
    let mut app = App::new(answers, state_dir.clone(), theme::Theme::from_env());
    app.ctx.demo = demo;
    // An operator coming back to a setup starts from the menu (doctor, status, the
    // wizard again); a first-time one, and the demo, from Welcome.
    if !demo && let Some(manifest) = manifest_of_setup(&state_dir) {
        app.open_on_menu(crate::doctor::status::left_open(&manifest).lines());
        app.ctx.can_drill = !manifest.kms_replicas.is_empty();
    }
    let gate = InitGate::default();
    let stop = StopRequest::default();
    // Set once a quit waits for the run to stop after its step; a second quit leaves.
    let mut waiting_for_keys = false;
    // The terminal hung up: nothing is drawn or read any more, and the run in flight is
    // waited for (its keys saved) rather than left behind by a stream of read errors.
    let mut terminal_gone = false;
    let mut keys = EventStream::new();
    let mut hangup = signal(SignalKind::hangup())?;
    let mut terminate = signal(SignalKind::terminate())?;
    // Ticks only drive spinners: no tick, no wake-up, while nothing is in flight.
    let mut ticker = tokio::time::interval(Duration::from_millis(100));
    let mut dirty = true;
    loop {
        // A terminal that can no longer be drawn on has hung up: no more drawing, and
        // the wizard leaves as on SIGHUP (keys saved, a demo torn down).
        let mut hung_up = false;
        if dirty
            && !terminal_gone
            && let Err(e) = terminal.draw(|f| view::draw(f, &app))
        {
            tracing::warn!("the terminal cannot be drawn on ({e}); leaving");
            terminal_gone = true;
            hung_up = true;
        }
        let msg = if hung_up {
            Msg::Terminate
        } else {
            tokio::select! {
            event = keys.next(), if !terminal_gone => match event {
                Some(Ok(TermEvent::Key(key))) if key.kind == KeyEventKind::Press => Msg::Key(key),
                Some(Ok(TermEvent::Resize(..))) => Msg::Resize,
                Some(Ok(_)) => { dirty = false; continue }
                // The terminal cannot be read (it hung up): leave as on SIGHUP, so that
                // keys are saved and a demo is torn down.
                Some(Err(e)) => {
                    tracing::warn!("the terminal cannot be read ({e}); leaving");
                    terminal_gone = true;
                    Msg::Terminate
                }
                None => {
                    terminal_gone = true;
                    Msg::Terminate
                }
            },
            Some(msg) = rx.recv() => msg,
            _ = ticker.tick(), if app.animating() => Msg::Tick,
            _ = hangup.recv() => Msg::Terminate,
            _ = terminate.recv() => Msg::Terminate,
            }
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
                    if app.engine_running() && !waiting_for_keys {
                        // As `apply` does on SIGINT: the step in flight finishes and is
                        // recorded, no other starts, init never does; keys init already
                        // gave are handed back. Then the runtime saves them and leaves.
                        // A rotation, as `rotate` on SIGINT: it rolls back, then leaves.
                        gate.stop();
                        stop.request("SIGINT");
                        app.ctx.stopping = true;
                        waiting_for_keys = true;
                        continue;
                    }
                    // A probe still running (a binary that hangs) must not hold the exit.
                    crate::child::stop_probes("the wizard quit");
                    let farewell = farewell(&mut app).await;
                    return Ok(Exit {
                        keep_demo: app.ctx.keep_demo,
                        farewell,
                    });
                }
                Command::HoldInit => gate.hold(),
                Command::ReleaseInit => gate.release(),
                Command::ClearScreen if !terminal_gone => terminal::wipe(terminal)?,
                Command::ClearScreen => {}
                Command::SaveAnswers(a) => a.save_session(&state_dir),
                other => {
                    // A run takes the unseal keys typed for a migration.
                    let unseal_keys = if matches!(other, Command::Run(_)) {
                        app.ctx.unseal_keys.take()
                    } else {
                        None
                    };
                    let control = (gate.clone(), stop.clone());
                    spawn(other, tx.clone(), state_dir.clone(), control, unseal_keys)
                }
            }
        }
    }
}

/// The state folder's manifest, when it records anything of a setup.
fn manifest_of_setup(state_dir: &Path) -> Option<crate::run::Manifest> {
    let manifest = ManifestStore::open(state_dir).ok()?.snapshot();
    (!manifest.is_empty()).then_some(manifest)
}

/// What to leave on the normal screen. Recovery keys the operator has not confirmed
/// storing are saved to a new 0600 file first: quitting, a dropped SSH session or a
/// SIGTERM never loses them.
async fn farewell(app: &mut App) -> Vec<String> {
    let ctx = &mut app.ctx;
    let mut lines = Vec::new();
    if let Some(secrets) = ctx.secrets.take()
        && !ctx.demo
    {
        lines.extend(hand_over_keys(ctx, &secrets).await);
    }
    if ctx.report.is_some() {
        lines.push(String::new());
        lines.extend(screens::done::summary(ctx));
    }
    lines
}

/// Saves recovery keys that were never acknowledged; says where, never what.
async fn hand_over_keys(ctx: &screens::Ctx, secrets: &crate::vault::recovery::InitSecrets) -> Vec<String> {
    let address = crate::vault::config::api_addr(&ctx.answers);
    let threshold = ctx.answers.init.recovery_threshold;
    match crate::vault::deploy::keep_unconfirmed_keys(secrets, &ctx.state_dir, threshold, &address).await {
        Ok(saved) => vec![
            "IMPORTANT: the recovery keys and root token were not confirmed as stored.".into(),
            format!("They are saved in {} (mode 0600), the only copy.", saved.display()),
            "Store them apart and offline now, then delete that file.".into(),
        ],
        Err(e) => {
            tracing::error!("cannot save the unacknowledged recovery keys: {e}");
            vec![format!(
                "IMPORTANT: the recovery keys could not be saved ({e}); they were never shown and are lost."
            )]
        }
    }
}

/// Runs a command's work on a tokio task; its result comes back as a message. A panic
/// in the task does not stop the loop by itself, so it is reported as a message too.
/// Long, on purpose: one arm per command, each a call into `ops` or the core.
fn spawn(
    command: Command,
    tx: UnboundedSender<Msg>,
    state_dir: PathBuf,
    control: (InitGate, StopRequest),
    unseal_keys: Option<UnsealKeys>,
) {
    let report = tx.clone();
    let work = tokio::spawn(async move {
        let msg = match command {
            Command::CheckIdentity(a) => {
                let ctx = AwsContext::connect(Connection::from_answers(&a)).await;
                Msg::Identity(screens::account::checked_key(&a), ctx.identity().await)
            }
            Command::LoadKeys(a) => Msg::Keys(screens::kms::KeyListFor::of(&a), list_keys(&a).await),
            Command::Plan(a) => {
                let (keys, silent) = (KeysDestination::HandBack, Reporter::silent());
                let result = ops::run::plan(&a, &state_dir, keys, &silent).await;
                Msg::Plan(Box::new(a), result.map(|ran| ran.into_first().calls))
            }
            Command::Run(a) => Msg::RunFinished(run_flow(&a, &state_dir, &tx, control, unseal_keys).await),
            Command::RotatePlan(read) => Msg::RotatePlan(read.asked, rotation_plan(&read, &state_dir).await),
            Command::Rotate(read) => {
                let asked = read.asked;
                Msg::Rotated(asked, rotate_setup(&read, &state_dir, &tx, control.1).await)
            }
            Command::DrillRegions(read) => Msg::DrillRegions(read.asked, replica_regions(&read, &state_dir).await),
            Command::Drill(ask) => {
                let asked = ask.setup.asked;
                Msg::Drilled(asked, drill_setup(ask, &state_dir, &tx, control.1).await)
            }
            // A binary that hangs on `version` holds up only this task, never the screen.
            Command::ProbeBinary(named) => {
                let found = tokio::task::spawn_blocking({
                    let named = named.clone();
                    move || crate::vault::server::find(named.trim())
                })
                .await;
                match found {
                    Ok(found) => Msg::BinaryProbed(named, found),
                    Err(_) => return,
                }
            }
            // systemctl and `version` may hang: a task of its own, never the screen.
            Command::DiscoverHost(a) => {
                let found = tokio::task::spawn_blocking({
                    let a = a.clone();
                    move || Host::discover(&a)
                })
                .await;
                match found {
                    Ok(host) => {
                        let host = host.probe_server(&a).await;
                        let lines = host.report(&a);
                        let (filled, _) = host.fill(&a);
                        Msg::HostFound(Box::new(HostReport {
                            asked: *a,
                            host,
                            lines,
                            filled,
                        }))
                    }
                    Err(_) => return,
                }
            }
            Command::CheckPath(path) => {
                let checked = crate::files::check_writable(&path).map(|found| match found {
                    crate::files::PathCheck::WillBackUp
                        if matches!(
                            crate::vault::config::Base::of(&path),
                            crate::vault::config::Base::Operator(_)
                        ) =>
                    {
                        crate::files::PathCheck::OperatorsConfig
                    }
                    other => other,
                });
                Msg::PathChecked(path, checked)
            }
            Command::ReadSeal(address, ca) => {
                let read = match crate::vault::client::VaultClient::new(&address, ca.as_deref()) {
                    Ok(client) => tokio::time::timeout(Duration::from_secs(5), client.seal_status())
                        .await
                        .map_err(|_| "no answer within 5 s".to_string())
                        .and_then(|r| r.map_err(|e| e.to_string())),
                    Err(e) => Err(e.to_string()),
                };
                Msg::SealRead(address, read)
            }
            Command::CheckPgpKeys(listed) => {
                let read = screens::init::split_paths(&listed)
                    .iter()
                    .try_for_each(|p| crate::vault::recovery::load_pgp_key(p).map(drop));
                Msg::PgpChecked(listed, read)
            }
            Command::Doctor(read) => Msg::Findings(read.asked, examine_setup(&read, &state_dir).await),
            Command::Status(read) => Msg::Status(read.asked, setup_status(&read, &state_dir).await),
            Command::SaveAnswers(_)
            | Command::ClearScreen
            | Command::HoldInit
            | Command::ReleaseInit
            | Command::Quit => return,
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
async fn run_flow(
    a: &Answers,
    state_dir: &Path,
    tx: &UnboundedSender<Msg>,
    (gate, stop): (InitGate, StopRequest),
    unseal_keys: Option<UnsealKeys>,
) -> Result<RunReport, RunError> {
    let (rep, forward) = forwarded(tx, Msg::Engine);
    let rep = rep.with_stop(stop);
    // A cluster's Run rows show each node's steps in turn; the first node's outcome is the report.
    let keys = KeysDestination::HandBack;
    let result = ops::run::apply(a, state_dir, ops::run::APPLY, keys, &rep, gate.clone(), unseal_keys).await;
    drop(rep);
    let _ = forward.await;
    // A failure after init still hands the keys over: they exist nowhere else.
    if let Some(secrets) = gate.take_keys() {
        let _ = tx.send(Msg::KeysHandedBack(secrets));
    }
    let outcome = result?.into_first();
    let left_open = ManifestStore::open(state_dir)
        .map(|store| crate::doctor::status::left_open(&store.snapshot()).lines())
        .unwrap_or_default();
    Ok(RunReport {
        key_arn: outcome.aws.key.arn,
        user_arn: outcome.aws.user.arn,
        address: outcome.vault.address,
        status: outcome.vault.status,
        server_command: outcome.vault.server_command,
        status_command: outcome.vault.status_command,
        secrets: outcome.vault.secrets,
        left_open,
        cluster_next: outcome.vault.cluster_next,
    })
}

/// A reporter whose events reach the wizard as they happen, each wrapped by `wrap`; the
/// task that forwards them ends once the reporter is dropped.
fn forwarded(
    tx: &UnboundedSender<Msg>,
    wrap: impl Fn(Event) -> Msg + Send + 'static,
) -> (Reporter, tokio::task::JoinHandle<()>) {
    let (etx, mut erx) = mpsc::unbounded_channel();
    let tx = tx.clone();
    let forward = tokio::spawn(async move {
        while let Some(event) = erx.recv().await {
            tracing::info!(?event, "progress");
            let _ = tx.send(wrap(event));
        }
    });
    (Reporter::new(etx), forward)
}

/// What the wizard says where the CLI names a command: how to make a setup here.
const SET_UP_AGAIN: &str = "Esc, then \"Set up again\" on the menu, makes one";

/// An operation's error in the wizard's words.
fn said(e: OpsError) -> String {
    match e {
        OpsError::NothingRecorded { state_dir } => {
            format!("{} records no setup: {SET_UP_AGAIN}", state_dir.display())
        }
        other => other.to_string(),
    }
}

/// The setup the state folder records, every node of it, as `read` asks.
async fn open_setup(read: &SetupRead, state_dir: &Path) -> Result<Setup, String> {
    Setup::open(state_dir, read.profile.as_deref())
        .await
        .map_err(|e| e.to_string())
}

/// What `rotate` would do for the setup the state folder records; for a cluster, every
/// node in turn (as `autounseal rotate` does).
async fn rotation_plan(read: &SetupRead, state_dir: &Path) -> Result<Vec<String>, String> {
    let setup = open_setup(read, state_dir).await?;
    let nodes = ops::rotate::plan(&setup).map_err(said)?;
    let mut plan = Vec::new();
    if setup.is_cluster() {
        plan.push(format!(
            "rotate each of the {} nodes in turn, the next only once the one before is unsealed on its new key: {}; \
             for each (`autounseal rotate --node ID` rotates one):",
            nodes.len(),
            setup.names().join(", ")
        ));
    }
    // Every node's plan reads the same but for its key: the first one says it.
    plan.extend(nodes.into_iter().next().map(|n| n.lines).unwrap_or_default());
    Ok(plan)
}

/// Rotates the access key of the setup the state folder records, as `autounseal rotate
/// --yes` does: a cluster's nodes one at a time, each announced by a note (the screen's
/// rows start again). `stop` (a confirmed quit) makes it stop after its step and roll back.
async fn rotate_setup(
    read: &SetupRead,
    state_dir: &Path,
    tx: &UnboundedSender<Msg>,
    stop: StopRequest,
) -> Result<RotationEnd, String> {
    let setup = open_setup(read, state_dir).await?;
    let asked = read.asked;
    let (rep, forward) = forwarded(tx, move |event| Msg::Rotation(asked, event));
    // Enter on a plan that says "only if you restarted the server" is the operator's word.
    let opts = RotateOptions {
        ca_cert: read.ca_cert.clone(),
        restarted: true,
    };
    let rep = rep.with_stop(stop);
    let result = ops::rotate::rotate(&setup, opts, &rep).await;
    drop(rep);
    let _ = forward.await;
    let mut rotation = result.map_err(said)?;
    let last = rotation
        .nodes
        .pop()
        .ok_or("the state folder records no node to rotate")?;
    Ok(RotationEnd {
        // The last node's own line says its key: the earlier ones are listed above it.
        rotated_before: rotation.nodes.iter().map(ops::rotate::rotated_line).collect(),
        outcome: last.outcome,
        next_due: rotate::next_due().to_string(),
    })
}

/// The regions of the replicas of the recorded setup's key (its first node's manifest).
async fn replica_regions(read: &SetupRead, state_dir: &Path) -> Result<Vec<String>, String> {
    let setup = open_setup(read, state_dir).await?;
    let recorded = setup.nodes[0]
        .recorded
        .as_ref()
        .ok_or("the state folder records no setup")?;
    Ok(recorded
        .manifest
        .kms_replicas
        .iter()
        .map(|r| r.region.clone())
        .collect())
}

/// A recovery drill of the setup the state folder records, as `autounseal drill` does;
/// `stop` (a confirmed quit) stops it after its step in flight.
async fn drill_setup(
    ask: DrillAsk,
    state_dir: &Path,
    tx: &UnboundedSender<Msg>,
    stop: StopRequest,
) -> Result<crate::drill::DrillReport, String> {
    let setup = open_setup(&ask.setup, state_dir).await?;
    let asked = ask.setup.asked;
    let (rep, forward) = forwarded(tx, move |event| Msg::DrillProgress(asked, event));
    let req = crate::drill::DrillRequest {
        region: ask.region,
        token: ask.token,
        read: ask.read,
        ca_cert: ask.setup.ca_cert.clone(),
    };
    let rep = rep.with_stop(stop);
    let result = ops::drill::drill(&setup, &req, &rep).await;
    drop(rep);
    let _ = forward.await;
    result.map_err(said)
}

/// Doctor's findings for the setup the state folder records; a cluster's say their
/// node, as `doctor` does node by node.
async fn examine_setup(read: &SetupRead, state_dir: &Path) -> Result<Vec<Finding>, String> {
    let setup = open_setup(read, state_dir).await?;
    let nodes = ops::check::doctor(&setup, read.ca_cert.as_deref())
        .await
        .map_err(said)?;
    let cluster = setup.is_cluster();
    Ok(nodes
        .into_iter()
        .flat_map(|node| {
            node.findings.into_iter().map(move |mut f| {
                if cluster {
                    f.evidence = format!("{}: {}", node.node, f.evidence);
                }
                f
            })
        })
        .collect())
}

/// The status of every node the state folder records (nothing, when it records none).
async fn setup_status(read: &SetupRead, state_dir: &Path) -> Result<Vec<NodeStatus>, String> {
    let setup = open_setup(read, state_dir).await?;
    Ok(ops::check::status(&setup, read.ca_cert.as_deref()).await)
}

/// Customer managed keys of the region, by alias (every page), for the KMS screen.
async fn list_keys(a: &Answers) -> Result<Vec<KeyChoice>, RunError> {
    let ctx = AwsContext::connect(Connection::from_answers(a)).await;
    let aliases = crate::aws::keys::key_aliases(&ctx, crate::aws::keys::PAGE_SIZE).await?;
    Ok(aliases
        .into_iter()
        .map(|k| KeyChoice {
            label: format!("{}  →  {}", k.alias, k.key_id),
            reference: k.alias,
        })
        .collect())
}
