//! Run: each step with its state while the engine works; the UI stays live. A failure
//! offers retry, back, or quit with the manifest kept.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;

pub use super::steps::Status;
use super::{Ctx, Nav, Outcome, Screen, ScreenId, steps};
use crate::answers::Answers;
use crate::run::{Event, RunError, Step};
use crate::tui::keys::{Binding, DOWN, ENTER, ESC, UP, char};
use crate::tui::msg::{Command, RunReport};

pub const WHY: &str = "Each step is recorded in the manifest as soon as it is done, so a failure or a dropped \
connection loses nothing: running again picks up where it stopped.";

/// The rows of the Run screen: the core's steps of an apply, in order; the replicas' and
/// the alarm's only when asked for (a row that is always skipped only takes room at 80x24).
pub fn steps(answers: &crate::answers::Answers) -> Vec<Step> {
    Step::APPLY
        .into_iter()
        .filter(|s| *s != Step::KeyReplicas || !answers.kms.replica_regions.is_empty())
        .filter(|s| *s != Step::KeyAlarm || answers.kms.alarm())
        .collect()
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
    /// The nodes of a local cluster that run at the same time, after the first (whose
    /// steps are the rows): a line each.
    pub nodes: Vec<steps::NodeRow>,
    pub phase: Phase,
    pub warnings: Vec<String>,
    /// How far the failure's text is scrolled (a server's log tail is long).
    pub scroll: usize,
    /// The furthest `scroll` goes, as last drawn.
    pub furthest: super::Furthest,
    /// The failure was the access key limit: which key to replace.
    pub replace: Option<KeyToReplace>,
}

impl Run {
    pub fn running(&self) -> bool {
        self.phase == Phase::Running
    }

    /// What has been done so far, for the quit question.
    pub fn done_so_far(&self) -> Vec<String> {
        steps::done_so_far(&self.rows)
    }
}

impl Run {
    fn start(&mut self, ctx: &Ctx) -> Vec<Command> {
        self.rows = steps::waiting(&steps(&ctx.answers));
        self.nodes.clear();
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
            Event::OfNode(node, event) => steps::on_node_event(&mut self.nodes, &mut self.warnings, node, *event),
            event => steps::on_event(&mut self.rows, &mut self.warnings, event),
        }
    }

    pub fn on_finished(&mut self, ctx: &mut Ctx, result: Result<RunReport, RunError>) {
        steps::settle(steps::statuses(&mut self.rows, &mut self.nodes));
        ctx.ran = true;
        match result {
            Ok(mut report) => {
                self.phase = Phase::Finished;
                // Keys held from an earlier, failed run stay until shown: a retry gets none.
                if let Some(secrets) = report.secrets.take() {
                    ctx.secrets = Some(secrets);
                }
                ctx.left_open = report.left_open.clone();
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
        steps::tick(steps::statuses(&mut self.rows, &mut self.nodes));
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
        self.scroll = steps::scrolled(self.scroll, &key, self.furthest.get(), self.failed());
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
            // After a run, the rows that scrolled out of an 80x24 view can be read again.
            when: |s, _| {
                (s.failed() && !s.choosing_key()) || (matches!(s.phase, Phase::Finished) && s.furthest.get() > 0)
            },
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

fn view(run: &Run, frame: &mut Frame, area: Rect, ctx: &Ctx) {
    let t = &ctx.theme;
    let rest = super::why(frame, area, WHY, t);
    let failure = match &run.phase {
        Phase::Failed(e) => Some(e.clone()),
        _ => None,
    };
    let mut text = steps::node_lines(ctx, &run.nodes, rest.width.max(1) as usize);
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
    run.furthest.set(steps::view(
        frame,
        rest,
        ctx,
        &run.rows,
        text,
        run.scroll,
        failure.is_some(),
    ));
}
