//! Rotate: `autounseal rotate` on a screen. What it will do (read in the background),
//! Enter to go ahead, then the rotation's steps as they happen (the Run screen's rows),
//! and how it ended: rotated, waiting for the operator's restart, or why not and where
//! things stand. A quit while it runs asks first, then stops after the step in flight
//! (a restart is never cut short) and the rotation rolls back, as the headless Ctrl-C.

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::steps::{self, Status};
use super::{Ctx, Lookup, Nav, Outcome, Screen};
use crate::answers::Answers;
use crate::rotate::{ROTATE_EVERY_DAYS, RotateOutcome};
use crate::run::{Event, Step};
use crate::tui::keys::{Binding, DOWN, ENTER, ESC, UP, char};
use crate::tui::msg::{Command, RotationEnd, SetupRead};

pub const WHY: &str = "A new access key for the server's IAM user, saved and proven, the server restarted onto \
it, then the old key retired. A failure before the old key is deleted rolls back to it.";

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Phase {
    /// What it will do, until Enter.
    #[default]
    Plan,
    Running,
    Ended(RotationEnd),
    Failed(String),
}

#[derive(Default)]
pub struct Rotate {
    /// Requests made so far (plans and rotations): only answers to the last one count.
    asked: u64,
    pub plan: Lookup<Vec<String>>,
    pub phase: Phase,
    pub rows: Vec<(Step, Status)>,
    pub warnings: Vec<String>,
    /// How far the text under the rows is scrolled (a failure's is long).
    pub scroll: usize,
    /// The furthest `scroll` goes, as last drawn.
    pub furthest: super::Furthest,
    /// A cluster's node the rows are for ("node autounseal-2 (2 of 3)").
    pub node: Option<String>,
}

impl Rotate {
    pub fn running(&self) -> bool {
        self.phase == Phase::Running
    }

    /// What the rotation has done so far, for the quit question.
    pub fn done_so_far(&self) -> Vec<String> {
        steps::done_so_far(&self.rows)
    }

    fn read_plan(&mut self, ctx: &Ctx) -> Vec<Command> {
        self.phase = Phase::Plan;
        self.plan = Lookup::Loading;
        vec![Command::RotatePlan(SetupRead::next(&mut self.asked, &ctx.answers))]
    }

    pub fn on_plan(&mut self, asked: u64, result: Result<Vec<String>, String>) {
        if asked != self.asked || self.phase != Phase::Plan {
            return;
        }
        self.plan = match result {
            Ok(plan) => Lookup::Loaded(plan),
            Err(e) => Lookup::Failed(e),
        };
    }

    fn start(&mut self, ctx: &mut Ctx, _: KeyEvent) -> Outcome {
        self.rows = steps::waiting(&Step::ROTATE);
        self.phase = Phase::Running;
        self.warnings.clear();
        self.scroll = 0;
        self.node = None;
        Outcome::run(vec![Command::Rotate(SetupRead::next(&mut self.asked, &ctx.answers))])
    }

    pub fn on_event(&mut self, asked: u64, event: Event) {
        if asked != self.asked || !self.running() {
            return;
        }
        // A cluster's next node: its rows start again.
        if let Event::Note(node) = event {
            self.rows = steps::waiting(&Step::ROTATE);
            self.node = Some(node);
            return;
        }
        // The rollback has a row only when it happens.
        if event == Event::Started(Step::RollBack) && !self.rows.iter().any(|(s, _)| *s == Step::RollBack) {
            self.rows.push((Step::RollBack, Status::Waiting));
        }
        steps::on_event(&mut self.rows, &mut self.warnings, event);
    }

    pub fn on_finished(&mut self, asked: u64, result: Result<RotationEnd, String>) {
        if asked != self.asked || !self.running() {
            return;
        }
        steps::settle(steps::statuses(&mut self.rows, &mut []));
        self.phase = match result {
            Ok(end) => Phase::Ended(end),
            Err(e) => Phase::Failed(e),
        };
    }

    pub fn tick(&mut self) {
        steps::tick(steps::statuses(&mut self.rows, &mut []));
    }

    fn failed(&self) -> bool {
        matches!(self.phase, Phase::Failed(_))
    }

    /// Ended in a way rotate is run again for: the operator's restart, or a failure.
    fn again(&self) -> bool {
        self.failed()
            || matches!(
                &self.phase,
                Phase::Ended(RotationEnd {
                    outcome: RotateOutcome::WaitingForRestart { .. },
                    ..
                })
            )
    }

    fn scroll(&mut self, _: &mut Ctx, key: KeyEvent) -> Outcome {
        self.scroll = steps::scrolled(self.scroll, &key, self.furthest.get(), self.failed());
        Outcome::stay()
    }
}

impl Screen for Rotate {
    const KEYS: &'static [Binding<Self>] = &[
        Binding {
            keys: &[ENTER],
            label: "Enter",
            what: "rotate now",
            when: |s, _| s.phase == Phase::Plan && matches!(s.plan, Lookup::Loaded(_)),
            action: Rotate::start,
        },
        Binding {
            keys: &[char('r')],
            label: "r",
            what: "read again",
            when: |s, _| s.phase == Phase::Plan && !s.plan.is_loading(),
            action: |s, ctx, _| Outcome::run(s.read_plan(ctx)),
        },
        Binding {
            keys: &[char('q')],
            label: "q",
            what: "quit (asks first)",
            when: |s, _| s.running(),
            action: |_, _, _| Outcome::go(Nav::AskQuit),
        },
        Binding {
            keys: &[UP, DOWN],
            label: "↑↓",
            what: "scroll",
            when: |s, _| s.failed(),
            action: Rotate::scroll,
        },
        Binding {
            keys: &[char('r')],
            label: "r",
            what: "rotate again (shows the plan)",
            when: |s, _| s.again(),
            action: |s, ctx, _| Outcome::run(s.read_plan(ctx)),
        },
        // Never while it runs: the rotation must end (or roll back) before anything else.
        Binding {
            keys: &[ESC],
            label: "Esc",
            what: "menu",
            when: |s, _| !s.running(),
            action: |_, _, _| Outcome::go(Nav::Back),
        },
    ];

    fn new(_: &Answers) -> Rotate {
        Rotate::default()
    }

    fn enter(&mut self, ctx: &mut Ctx) -> Vec<Command> {
        if self.running() {
            return vec![];
        }
        self.rows.clear();
        self.read_plan(ctx)
    }

    fn busy(&self) -> bool {
        self.running() || self.plan.is_loading()
    }

    fn view(&self, frame: &mut Frame, area: Rect, ctx: &Ctx) {
        let t = &ctx.theme;
        let rest = super::why(frame, area, WHY, t);
        if self.phase == Phase::Plan {
            let doing = "Reading what the manifest records…";
            let text = match super::pending(&self.plan, doing, "What rotating would do could not be read:", ctx) {
                Ok(plan) => plan_lines(plan, rest.width as usize, ctx),
                Err(lines) => lines,
            };
            return super::lines(frame, rest, text);
        }
        let node = self.node.iter().map(|n| {
            let doing = if self.running() { "Rotating" } else { "Last" };
            Line::styled(format!("{doing}: {n}"), t.title)
        });
        let mut text: Vec<Line> = node
            .chain(self.warnings.iter().map(|w| Line::styled(format!("! {w}"), t.warn)))
            .collect();
        if ctx.stopping {
            text.push(Line::styled(
                "Stopping after the step in flight (a restart is never cut short), then rolling back to the old key. \
                 Ctrl-C again leaves at once: the manifest records where it stopped, and rotate finishes it.",
                t.warn,
            ));
        }
        match &self.phase {
            Phase::Ended(end) => text.extend(ended(end, ctx)),
            Phase::Failed(e) => {
                text.push(Line::raw(
                    "The manifest records where things stand; r shows the plan and rotates again from there.",
                ));
                text.extend(e.lines().map(|l| Line::styled(l.to_string(), t.error)));
            }
            Phase::Plan | Phase::Running => {}
        }
        self.furthest.set(steps::view(
            frame,
            rest,
            ctx,
            &self.rows,
            text,
            self.scroll,
            self.failed(),
        ));
    }

    fn commands(&self, ctx: &Ctx) -> Vec<String> {
        let state_dir = &ctx.state_dir;
        vec![
            "# The same, without the wizard (it shows the plan and asks first):".to_string(),
            crate::cli::command_hint("rotate", state_dir),
            format!(
                "{}   # no question: for a scheduled rotation",
                crate::cli::command_hint("rotate --yes", state_dir)
            ),
            "# Every change it makes, with its AWS CLI twin, is in the manifest and the log.".to_string(),
        ]
    }
}

/// The plan, a bullet a line wrapped under its text, and what Enter does.
fn plan_lines(plan: &[String], width: usize, ctx: &Ctx) -> Vec<Line<'static>> {
    let t = &ctx.theme;
    let mut lines = vec![Line::styled("Rotating the access key will:", t.title)];
    for step in plan {
        let head = vec![Span::styled("  - ", t.dim)];
        lines.extend(super::hanging(head, &[(step.as_str(), Style::default())], width));
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        "Nothing is changed until Enter. The server keeps unsealing all along.",
        t.dim,
    ));
    lines
}

/// How a rotation ended: the new key and the next due date, or the restart it waits for.
fn ended(end: &RotationEnd, ctx: &Ctx) -> Vec<Line<'static>> {
    let t = &ctx.theme;
    let before = end
        .rotated_before
        .iter()
        .map(|line| Line::styled(format!("Rotated: {line}."), t.ok));
    let last = match &end.outcome {
        RotateOutcome::Rotated {
            old_key_id, new_key_id, ..
        } => vec![
            Line::styled(
                format!("Rotated: the server uses access key {new_key_id}; {old_key_id} is deleted."),
                t.ok,
            ),
            Line::raw(format!(
                "Rotate again within 30 to {ROTATE_EVERY_DAYS} days: by {} at the latest.",
                end.next_due
            )),
        ],
        RotateOutcome::WaitingForRestart { new_key_id, restart } => vec![
            Line::styled(
                format!("The new access key {new_key_id} is saved and works; the old one is still active."),
                t.warn,
            ),
            Line::styled(format!("Now {restart}."), t.warn),
            Line::raw(
                "Then r here, and Enter (or `autounseal rotate --restarted`): it checks that the server unsealed and \
                 retires the old key.",
            ),
        ],
    };
    before.chain(last).collect()
}
