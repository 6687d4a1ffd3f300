//! Run: each step with its state while the engine works; the UI stays live. A failure
//! offers retry, back, or quit with the manifest kept.

use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::{Ctx, Nav, Outcome, Screen, ScreenId};
use crate::answers::Answers;
use crate::run::{Event, RunError, Step};
use crate::tui::keys::{Binding, DOWN, ENTER, ESC, UP, char};
use crate::tui::msg::{Command, RunReport};

pub const WHY: &str = "Each step is recorded in the manifest as soon as it is done, so a failure or a dropped \
connection loses nothing: running again picks up where it stopped.";

/// The rows of the Run screen: the core's steps of an apply, in order.
pub const STEPS: [Step; 17] = Step::APPLY;

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

/// IAM's limit of two access keys was reached: the operator picks the one to replace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyToReplace {
    pub user: String,
    pub keys: Vec<String>,
    pub selected: usize,
}

#[derive(Default)]
pub struct Run {
    pub rows: Vec<(Step, Status)>,
    pub phase: Phase,
    pub warnings: Vec<String>,
    /// How far the failure's text is scrolled (a server's log tail is long).
    pub scroll: u16,
    /// The failure was the access key limit: which key to replace.
    pub replace: Option<KeyToReplace>,
}

impl Run {
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

impl Run {
    fn start(&mut self, ctx: &Ctx) -> Vec<Command> {
        self.rows = STEPS.iter().map(|s| (*s, Status::Waiting)).collect();
        self.phase = Phase::Running;
        self.warnings.clear();
        self.scroll = 0;
        self.replace = None;
        vec![Command::Run(ctx.answers.clone())]
    }

    /// The server's init has begun (or is done): quitting now waits for its keys.
    pub fn initialising(&self) -> bool {
        self.rows
            .iter()
            .any(|(step, status)| *step == Step::InitServer && *status != Status::Waiting)
    }

    pub fn on_event(&mut self, event: Event) {
        match event {
            Event::Started(step) => {
                if let Some(s) = self.row(step) {
                    *s = Status::Running {
                        since: Instant::now(),
                        elapsed: Duration::ZERO,
                        note: String::new(),
                    };
                }
            }
            Event::Progress(step, text) => {
                if let Some(Status::Running { note, .. }) = self.row(step) {
                    *note = text;
                }
            }
            Event::Done(step, text) => {
                if let Some(s) = self.row(step) {
                    *s = Status::Done(text);
                }
            }
            Event::Skipped(step, text) => {
                if let Some(s) = self.row(step) {
                    *s = Status::Skipped(text);
                }
            }
            Event::Failed(step, text) => {
                if let Some(s) = self.row(step) {
                    *s = Status::Failed(text);
                }
            }
            Event::Warning(text) => self.warnings.push(text),
            // Which node of a cluster the rows are for: the Run screen shows one node.
            Event::Note(_) | Event::Call(_) => {}
        }
    }

    pub fn on_finished(&mut self, ctx: &mut Ctx, result: Result<RunReport, RunError>) {
        // A step still marked running did not finish: it must not spin on.
        for (_, status) in self.rows.iter_mut() {
            if matches!(status, Status::Running { .. }) {
                *status = Status::Waiting;
            }
        }
        match result {
            Ok(mut report) => {
                self.phase = Phase::Finished;
                // Keys held from an earlier, failed run stay until shown: a retry gets none.
                if let Some(secrets) = report.secrets.take() {
                    ctx.secrets = Some(secrets);
                }
                ctx.report = Some(report);
            }
            Err(e) => {
                if let RunError::AccessKeyLimit { user, keys } = &e {
                    self.replace = Some(KeyToReplace {
                        user: user.clone(),
                        keys: keys.clone(),
                        selected: 0,
                    });
                }
                self.phase = Phase::Failed(e.to_string());
            }
        }
    }

    pub fn tick(&mut self) {
        for (_, status) in self.rows.iter_mut() {
            if let Status::Running { since, elapsed, .. } = status {
                *elapsed = since.elapsed();
            }
        }
    }

    fn failed(&self) -> bool {
        matches!(self.phase, Phase::Failed(_))
    }

    fn choosing_key(&self) -> bool {
        self.failed() && self.replace.is_some()
    }

    fn choose_key(&mut self, _: &mut Ctx, key: KeyEvent) -> Outcome {
        if let Some(r) = &mut self.replace {
            r.selected = if key.code == KeyCode::Up {
                r.selected.saturating_sub(1)
            } else {
                (r.selected + 1).min(r.keys.len().saturating_sub(1))
            };
        }
        Outcome::stay()
    }

    /// The chosen key is replaced by the run (deleted, then a new one made), which goes again.
    fn replace_key(&mut self, ctx: &mut Ctx, _: KeyEvent) -> Outcome {
        let Some(r) = self.replace.take() else {
            return Outcome::stay();
        };
        ctx.answers.iam.replace_access_key = r.keys.get(r.selected).cloned();
        let mut commands = vec![Command::SaveAnswers(ctx.answers.clone())];
        commands.extend(self.start(ctx));
        Outcome::run(commands)
    }

    /// Runs again; a migration's unseal keys went with the first run, so they are asked
    /// for again first.
    fn retry(&mut self, ctx: &mut Ctx, _: KeyEvent) -> Outcome {
        if ctx.answers.server.existing == crate::answers::ExistingServer::Migrate && ctx.unseal_keys.is_none() {
            return Outcome::go(Nav::Go(ScreenId::UnsealKeys));
        }
        Outcome::run(self.start(ctx))
    }

    fn scroll(&mut self, _: &mut Ctx, key: KeyEvent) -> Outcome {
        self.scroll = if key.code == KeyCode::Up {
            self.scroll.saturating_sub(1)
        } else {
            self.scroll.saturating_add(1)
        };
        Outcome::stay()
    }
}

impl Screen for Run {
    const KEYS: &'static [Binding<Self>] = &[
        Binding {
            keys: &[ENTER],
            label: "Enter",
            what: "continue",
            when: |s, _| s.phase == Phase::Finished,
            action: |_, ctx, _| match ctx.secrets {
                Some(_) => Outcome::go(Nav::Forward),
                None => Outcome::go(Nav::Go(ScreenId::Done)),
            },
        },
        Binding {
            keys: &[char('q')],
            label: "q",
            what: "quit (asks first)",
            when: |s, _| s.running(),
            action: |_, _, _| Outcome::go(Nav::AskQuit),
        },
        // The server was initialised before the failure: its keys come first.
        Binding {
            keys: &[ENTER],
            label: "Enter",
            what: "recovery keys",
            when: |s, ctx| s.failed() && ctx.secrets.is_some(),
            action: |_, _, _| Outcome::go(Nav::Go(ScreenId::Recovery)),
        },
        Binding {
            keys: &[UP, DOWN],
            label: "↑↓",
            what: "choose",
            when: |s, _| s.choosing_key(),
            action: Run::choose_key,
        },
        Binding {
            keys: &[ENTER],
            label: "Enter",
            what: "replace it, retry",
            when: |s, ctx| s.choosing_key() && ctx.secrets.is_none(),
            action: Run::replace_key,
        },
        Binding {
            keys: &[ESC],
            label: "Esc",
            what: "keep both",
            when: |s, _| s.choosing_key(),
            action: |s, _, _| {
                s.replace = None;
                Outcome::stay()
            },
        },
        Binding {
            keys: &[char('r')],
            label: "r",
            what: "retry",
            when: |s, _| s.failed() && !s.choosing_key(),
            action: Run::retry,
        },
        Binding {
            keys: &[char('b')],
            label: "b",
            what: "back to review",
            when: |s, ctx| s.failed() && ctx.secrets.is_none() && !s.choosing_key(),
            // Not the screen before: that is the Unseal keys screen of a migration.
            action: |_, _, _| Outcome::go(Nav::Go(ScreenId::Review)),
        },
        Binding {
            keys: &[UP, DOWN],
            label: "↑↓",
            what: "scroll",
            when: |s, _| s.failed() && !s.choosing_key(),
            action: Run::scroll,
        },
        Binding {
            keys: &[char('q')],
            label: "q",
            what: "quit (keys saved)",
            when: |s, ctx| s.failed() && ctx.secrets.is_some(),
            action: |_, _, _| Outcome::run(vec![Command::Quit]),
        },
        Binding {
            keys: &[char('q')],
            label: "q",
            what: "quit (manifest kept)",
            when: |s, ctx| s.failed() && ctx.secrets.is_none(),
            action: |_, _, _| Outcome::run(vec![Command::Quit]),
        },
    ];

    fn new(_: &Answers) -> Run {
        Run::default()
    }

    fn enter(&mut self, ctx: &mut Ctx) -> Vec<Command> {
        self.start(ctx)
    }

    fn busy(&self) -> bool {
        self.running()
    }

    fn view(&self, frame: &mut Frame, area: Rect, ctx: &Ctx) {
        view(self, frame, area, ctx)
    }
}

fn row_line(ctx: &Ctx, step: Step, status: &Status) -> Line<'static> {
    let t = &ctx.theme;
    let label = format!("{:<22}", step.label());
    let (mark, style, text) = match status {
        Status::Waiting => ("·".to_string(), t.dim, String::new()),
        Status::Running { elapsed, note, .. } => (
            super::spinner(ctx.frame).to_string(),
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

fn view(run: &Run, frame: &mut Frame, area: Rect, ctx: &Ctx) {
    let t = &ctx.theme;
    let rest = super::why(frame, area, WHY, t);
    let failure = match &run.phase {
        Phase::Failed(e) => Some(e.clone()),
        _ => None,
    };
    let mut text = Vec::new();
    for w in &run.warnings {
        text.push(Line::styled(format!("! {w}"), t.warn));
    }
    if ctx.stopping {
        text.push(Line::styled(
            format!(
                "Stopping after the current step, so that what it makes is recorded. Recovery keys the server \
                 hands back are saved to a new file in {} (mode 0600) before autounseal exits. Ctrl-C again \
                 leaves at once.",
                ctx.state_dir.display()
            ),
            t.warn,
        ));
    }
    match (&run.phase, &failure) {
        (_, Some(e)) => {
            if ctx.secrets.is_some() {
                text.push(Line::styled(
                    "The server was initialised before this failure: Enter shows its recovery keys (quitting saves \
                     them to a new 0600 file).",
                    t.warn,
                ));
            }
            if run.replace.is_none() {
                text.push(Line::raw("What exists is in the manifest; r runs again from there."));
            }
            // One line per line: a server's log tail must not run together.
            text.extend(e.lines().map(|l| Line::styled(l.to_string(), t.error)));
            if let Some(r) = &run.replace {
                text.push(Line::raw(format!(
                    "Choose the access key of {} to replace (it is deleted, then a new one is made):",
                    r.user
                )));
                for (i, key) in r.keys.iter().enumerate() {
                    let (mark, style) = if i == r.selected {
                        ("› ", t.selected)
                    } else {
                        ("  ", ratatui::style::Style::default())
                    };
                    text.push(Line::styled(format!("{mark}{key}"), style));
                }
            }
        }
        (Phase::Finished, _) => text.push(Line::styled("All done. Enter to continue.", t.ok)),
        _ => {}
    }
    // On failure, the rows after the failed one are only waiting: the error gets their room.
    let last = run.rows.iter().rposition(|(_, s)| *s != Status::Waiting).unwrap_or(0);
    let shown: Vec<Line> = run
        .rows
        .iter()
        .take(if failure.is_some() { last + 1 } else { run.rows.len() })
        .map(|(step, status)| row_line(ctx, *step, status))
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
        Paragraph::new(text).wrap(Wrap { trim: false }).scroll((run.scroll, 0)),
        below,
    );
}
