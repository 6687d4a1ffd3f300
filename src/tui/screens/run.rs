//! Run: each step with its state while the engine works; the UI stays live. A failure
//! offers retry, back, or quit with the manifest kept.

use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use crate::run::{Event, Step};
use crate::tui::app::{App, Command, RunReport, ScreenId};

pub const WHY: &str = "Each step is recorded in the manifest as soon as it is done, so a failure or a dropped \
connection loses nothing: running again picks up where it stopped.";

/// The steps of a run, in order.
pub const STEPS: [Step; 17] = [
    Step::Identity,
    Step::KmsKey,
    Step::KeyRotation,
    Step::KmsAlias,
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Waiting,
    Running {
        since: Instant,
        elapsed: Duration,
        note: String,
    },
    Done(String),
    Skipped(String),
    Failed(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Phase {
    #[default]
    Idle,
    Running,
    Failed(String),
    Finished,
}

#[derive(Default)]
pub struct State {
    pub rows: Vec<(Step, Status)>,
    pub phase: Phase,
    pub warnings: Vec<String>,
    /// How far the failure's text is scrolled (a server's log tail is long).
    pub scroll: u16,
}

impl State {
    pub fn running(&self) -> bool {
        self.phase == Phase::Running
    }

    fn row(&mut self, step: Step) -> Option<&mut Status> {
        self.rows.iter_mut().find(|(s, _)| *s == step).map(|(_, status)| status)
    }

    /// What has been done so far, for the quit question.
    pub fn done_so_far(&self) -> Vec<String> {
        self.rows
            .iter()
            .filter_map(|(step, status)| match status {
                Status::Done(text) => Some(format!("{}: {text}", step.label())),
                _ => None,
            })
            .collect()
    }
}

pub fn enter(app: &mut App) -> Vec<Command> {
    app.run.rows = STEPS.iter().map(|s| (*s, Status::Waiting)).collect();
    app.run.phase = Phase::Running;
    app.run.warnings.clear();
    app.run.scroll = 0;
    vec![Command::Run(app.answers.clone())]
}

pub fn on_event(app: &mut App, event: Event) -> Vec<Command> {
    let run = &mut app.run;
    match event {
        Event::Started(step) => {
            if let Some(s) = run.row(step) {
                *s = Status::Running {
                    since: Instant::now(),
                    elapsed: Duration::ZERO,
                    note: String::new(),
                };
            }
        }
        Event::Progress(step, text) => {
            if let Some(Status::Running { note, .. }) = run.row(step) {
                *note = text;
            }
        }
        Event::Done(step, text) => {
            if let Some(s) = run.row(step) {
                *s = Status::Done(text);
            }
        }
        Event::Skipped(step, text) => {
            if let Some(s) = run.row(step) {
                *s = Status::Skipped(text);
            }
        }
        Event::Failed(step, text) => {
            if let Some(s) = run.row(step) {
                *s = Status::Failed(text);
            }
        }
        Event::Warning(text) => run.warnings.push(text),
        Event::Call(_) => {}
    }
    vec![]
}

pub fn on_finished(app: &mut App, result: Result<RunReport, String>) -> Vec<Command> {
    // A step still marked running did not finish: it must not spin on.
    for (_, status) in app.run.rows.iter_mut() {
        if matches!(status, Status::Running { .. }) {
            *status = Status::Waiting;
        }
    }
    match result {
        Ok(mut report) => {
            app.run.phase = Phase::Finished;
            // Keys held from an earlier, failed run stay until shown: a retry gets none.
            if let Some(secrets) = report.secrets.take() {
                app.recovery.secrets = Some(secrets);
            }
            app.recovery.threshold = app.answers.init.recovery_threshold;
            app.done.report = Some(report);
        }
        Err(e) => app.run.phase = Phase::Failed(e),
    }
    vec![]
}

pub fn tick(app: &mut App) {
    for (_, status) in app.run.rows.iter_mut() {
        if let Status::Running { since, elapsed, .. } = status {
            *elapsed = since.elapsed();
        }
    }
}

pub fn update(app: &mut App, key: KeyEvent) -> Vec<Command> {
    match (&app.run.phase, key.code) {
        (Phase::Finished, KeyCode::Enter) => {
            let next = if app.recovery.secrets.is_some() {
                ScreenId::Recovery
            } else {
                ScreenId::Done
            };
            app.go(next)
        }
        // The server was initialised before the failure: its keys come first.
        (Phase::Failed(_), KeyCode::Enter) if app.recovery.secrets.is_some() => app.go(ScreenId::Recovery),
        (Phase::Failed(_), KeyCode::Char('r')) => enter(app),
        (Phase::Failed(_), KeyCode::Char('b')) => app.go(ScreenId::Review),
        (Phase::Failed(_), KeyCode::Char('q')) => vec![Command::Quit],
        (Phase::Failed(_), KeyCode::Down) => {
            app.run.scroll = app.run.scroll.saturating_add(1);
            vec![]
        }
        (Phase::Failed(_), KeyCode::Up) => {
            app.run.scroll = app.run.scroll.saturating_sub(1);
            vec![]
        }
        (Phase::Running, KeyCode::Char('q')) => crate::tui::app::ask_quit(app),
        _ => vec![],
    }
}

pub fn keys(app: &App) -> Vec<(&'static str, &'static str)> {
    match app.run.phase {
        Phase::Finished => vec![("Enter", "continue")],
        Phase::Failed(_) if app.recovery.secrets.is_some() => vec![
            ("Enter", "the recovery keys"),
            ("r", "retry"),
            ("q", "quit (keys saved to a file)"),
        ],
        Phase::Failed(_) => vec![
            ("r", "retry"),
            ("b", "back to review"),
            ("↑↓", "scroll"),
            ("q", "quit (manifest kept)"),
        ],
        _ => vec![("q/Ctrl-C", "quit (asks first)")],
    }
}

fn row_line(app: &App, step: Step, status: &Status) -> Line<'static> {
    let t = &app.theme;
    let label = format!("{:<22}", step.label());
    let (mark, style, text) = match status {
        Status::Waiting => ("·".to_string(), t.dim, String::new()),
        Status::Running { elapsed, note, .. } => (
            crate::tui::screens::spinner(app.frame).to_string(),
            t.accent,
            format!("{:.1}s {note}", elapsed.as_secs_f64()),
        ),
        Status::Done(text) => ("✓".to_string(), t.ok, text.clone()),
        Status::Skipped(text) => ("–".to_string(), t.dim, text.clone()),
        Status::Failed(_) => ("✗".to_string(), t.error, "failed".to_string()),
    };
    Line::from(vec![
        Span::styled(format!("{mark} "), style),
        Span::raw(label),
        Span::styled(text, t.dim),
    ])
}

pub fn view(frame: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let rest = super::why(frame, area, WHY, t);
    let failure = match &app.run.phase {
        Phase::Failed(e) => Some(e.clone()),
        _ => None,
    };
    let mut text = Vec::new();
    for w in &app.run.warnings {
        text.push(Line::styled(format!("! {w}"), t.warn));
    }
    if app.stopping {
        text.push(Line::styled(
            format!(
                "Stopping after the current step, so that what it makes is recorded. Recovery keys the server \
                 hands back are saved to a new file in {} (mode 0600) before autounseal exits. Ctrl-C again \
                 leaves at once.",
                app.state_dir.display()
            ),
            t.warn,
        ));
    }
    match (&app.run.phase, &failure) {
        (_, Some(e)) => {
            if app.recovery.secrets.is_some() {
                text.push(Line::styled(
                    "The server was initialised before this failure: Enter shows its recovery keys (quitting saves \
                     them to a new 0600 file).",
                    t.warn,
                ));
            }
            text.push(Line::raw("What exists is in the manifest; r runs again from there."));
            // One line per line: a server's log tail must not run together.
            text.extend(e.lines().map(|l| Line::styled(l.to_string(), t.error)));
        }
        (Phase::Finished, _) => text.push(Line::styled("All done. Enter to continue.", t.ok)),
        _ => {}
    }
    // On failure, the rows after the failed one are only waiting: the error gets their room.
    let last = app
        .run
        .rows
        .iter()
        .rposition(|(_, s)| *s != Status::Waiting)
        .unwrap_or(0);
    let shown: Vec<Line> = app
        .run
        .rows
        .iter()
        .take(if failure.is_some() {
            last + 1
        } else {
            app.run.rows.len()
        })
        .map(|(step, status)| row_line(app, *step, status))
        .collect();
    // Rows wrap rather than lose their end (an ARN is wider than 80 columns). The text
    // below keeps its room (half the screen at most: a long error scrolls), and on a
    // short terminal the newest rows stay in view.
    let width = rest.width.max(1) as usize;
    let wrapped = |l: &Line| l.width().max(1).div_ceil(width);
    let below_rows = text.iter().map(wrapped).sum::<usize>().min(rest.height as usize / 2);
    let room = (rest.height as usize).saturating_sub(below_rows).max(1);
    let heights: Vec<usize> = shown.iter().map(wrapped).collect();
    let mut skip = 0;
    while heights[skip..].iter().sum::<usize>() > room && skip + 1 < shown.len() {
        skip += 1;
    }
    let rows_height = (heights[skip..].iter().sum::<usize>() as u16).min(rest.height);
    let [rows, below] = Layout::vertical([Constraint::Length(rows_height), Constraint::Min(0)]).areas(rest);
    frame.render_widget(
        Paragraph::new(shown.into_iter().skip(skip).collect::<Vec<_>>()).wrap(Wrap { trim: false }),
        rows,
    );
    frame.render_widget(
        Paragraph::new(text)
            .wrap(Wrap { trim: false })
            .scroll((app.run.scroll, 0)),
        below,
    );
}
