//! Drill: `autounseal drill` on a screen. The replica's region (of those the manifest
//! records, read in the background), the live server's token (masked: never drawn, not
//! even as its length; held in zeroizing memory and handed to the drill), an optional path
//! to read back; then the drill's steps as they happen, and how long the data took to
//! come back, or why not. A quit while it runs asks first, then stops after the step in
//! flight; the recovery server is stopped and its folder removed either way.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use secrecy::SecretString;
use zeroize::{Zeroize, Zeroizing};

use super::steps::{self, Status};
use super::{Ctx, Lookup, Nav, Outcome, Screen};
use crate::answers::Answers;
use crate::drill::DrillReport;
use crate::questions::Q;
use crate::run::{Event, Step};
use crate::secrets::MASK;
use crate::tui::keys::{BACKTAB, Binding, DOWN, ENTER, ESC, LEFT, RIGHT, TAB, UP, char};
use crate::tui::msg::{Command, DrillAsk, SetupRead};

pub const WHY: &str = "The live server's data restored in a replica's region on a throwaway server on loopback: \
it must unseal itself through the replica, with no key typed, and read the data back. The live server is only \
read; nothing of the drill is left.";

/// Room for a token: OpenBao's and Vault's are under 100 characters. Never grown, so
/// that no copy is left behind in a freed buffer.
const TOKEN_ROOM: usize = 512;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Phase {
    /// The questions, until Enter.
    #[default]
    Ask,
    Running,
    Ended(DrillReport),
    Failed(String),
}

/// The line that has focus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Focus {
    #[default]
    Region,
    Token,
    Read,
}

pub struct Drill {
    /// Requests made so far: only answers to the last one count.
    asked: u64,
    /// The regions of the key's replicas, as the manifest records them.
    pub regions: Lookup<Vec<String>>,
    region: usize,
    token: Zeroizing<String>,
    read: String,
    focus: Focus,
    /// Said when Enter found something missing.
    nudge: Option<&'static str>,
    pub phase: Phase,
    pub rows: Vec<(Step, Status)>,
    pub warnings: Vec<String>,
}

impl Drill {
    pub fn running(&self) -> bool {
        self.phase == Phase::Running
    }

    /// What the drill has done so far, for the quit question.
    pub fn done_so_far(&self) -> Vec<String> {
        steps::done_so_far(&self.rows)
    }

    pub fn on_regions(&mut self, asked: u64, result: Result<Vec<String>, String>) {
        if asked != self.asked {
            return;
        }
        self.regions = match result {
            Ok(regions) => Lookup::Loaded(regions),
            Err(e) => Lookup::Failed(e),
        };
        self.region = 0;
    }

    pub fn on_event(&mut self, asked: u64, event: Event) {
        if asked == self.asked && self.running() {
            steps::on_event(&mut self.rows, &mut self.warnings, event);
        }
    }

    pub fn on_finished(&mut self, asked: u64, result: Result<DrillReport, String>) {
        if asked != self.asked || !self.running() {
            return;
        }
        steps::settle(steps::statuses(&mut self.rows, &mut []));
        self.phase = match result {
            Ok(report) => Phase::Ended(report),
            Err(e) => Phase::Failed(e),
        };
    }

    pub fn tick(&mut self) {
        steps::tick(steps::statuses(&mut self.rows, &mut []));
    }

    fn asking(&self) -> bool {
        self.phase == Phase::Ask
    }

    fn chosen_region(&self) -> Option<&str> {
        match &self.regions {
            Lookup::Loaded(regions) => regions.get(self.region).map(String::as_str),
            _ => None,
        }
    }

    fn move_focus(&mut self, _: &mut Ctx, key: KeyEvent) -> Outcome {
        let order = [Focus::Region, Focus::Token, Focus::Read];
        let at = order.iter().position(|f| *f == self.focus).unwrap_or(0);
        let back = matches!(key.code, KeyCode::Up | KeyCode::BackTab);
        self.focus = order[if back { (at + 2) % 3 } else { (at + 1) % 3 }];
        Outcome::stay()
    }

    fn change_region(&mut self, _: &mut Ctx, key: KeyEvent) -> Outcome {
        if let Lookup::Loaded(regions) = &self.regions
            && !regions.is_empty()
        {
            let n = regions.len();
            self.region = if key.code == KeyCode::Left {
                (self.region + n - 1) % n
            } else {
                (self.region + 1) % n
            };
        }
        Outcome::stay()
    }

    fn start(&mut self, ctx: &mut Ctx, _: KeyEvent) -> Outcome {
        let Some(region) = self.chosen_region().map(String::from) else {
            self.nudge = Some("There is no replica's region to recover in (see above).");
            return Outcome::stay();
        };
        if self.token.trim().is_empty() {
            self.nudge = Some("Type the live server's token first.");
            self.focus = Focus::Token;
            return Outcome::stay();
        }
        // Handed to the drill, which drops (wipes) it at its end; the field is wiped now.
        let token = SecretString::from(self.token.trim());
        self.token.zeroize();
        self.nudge = None;
        self.rows = steps::waiting(&Step::DRILL);
        self.warnings.clear();
        self.phase = Phase::Running;
        let read = Some(self.read.trim().to_string()).filter(|r| !r.is_empty());
        Outcome::run(vec![Command::Drill(DrillAsk {
            setup: SetupRead::next(&mut self.asked, &ctx.answers),
            region,
            token,
            read,
        })])
    }

    fn again(&mut self, ctx: &mut Ctx, _: KeyEvent) -> Outcome {
        self.phase = Phase::Ask;
        self.rows.clear();
        Outcome::run(self.read_regions(ctx))
    }

    fn read_regions(&mut self, ctx: &Ctx) -> Vec<Command> {
        self.regions = Lookup::Loading;
        vec![Command::DrillRegions(SetupRead::next(&mut self.asked, &ctx.answers))]
    }
}

impl Screen for Drill {
    const KEYS: &'static [Binding<Self>] = &[
        Binding {
            keys: &[ENTER],
            label: "Enter",
            what: "drill",
            when: |s, _| s.asking(),
            action: Drill::start,
        },
        Binding {
            keys: &[TAB, BACKTAB, UP, DOWN],
            label: "Tab/↑↓",
            what: "line",
            when: |s, _| s.asking(),
            action: Drill::move_focus,
        },
        Binding {
            keys: &[LEFT, RIGHT],
            label: "←→",
            what: "region",
            when: |s, _| s.asking() && s.focus == Focus::Region,
            action: Drill::change_region,
        },
        Binding {
            keys: &[char('q')],
            label: "q",
            what: "quit (asks first)",
            when: |s, _| s.running(),
            action: |_, _, _| Outcome::go(Nav::AskQuit),
        },
        Binding {
            keys: &[char('r')],
            label: "r",
            what: "drill again",
            when: |s, _| matches!(s.phase, Phase::Ended(_) | Phase::Failed(_)),
            action: Drill::again,
        },
        // Never while it runs: the recovery server must be stopped and removed first. The
        // token typed is dropped (wiped) on the way.
        Binding {
            keys: &[ESC],
            label: "Esc",
            what: "menu",
            when: |s, _| !s.running(),
            action: |s, _, _| {
                s.token.zeroize();
                Outcome::go(Nav::Back)
            },
        },
    ];

    fn new(_: &Answers) -> Drill {
        Drill {
            asked: 0,
            regions: Lookup::Idle,
            region: 0,
            token: Zeroizing::new(String::with_capacity(TOKEN_ROOM)),
            read: String::new(),
            focus: Focus::Region,
            nudge: None,
            phase: Phase::Ask,
            rows: Vec::new(),
            warnings: Vec::new(),
        }
    }

    fn enter(&mut self, ctx: &mut Ctx) -> Vec<Command> {
        if self.running() {
            return vec![];
        }
        self.phase = Phase::Ask;
        self.rows.clear();
        self.read_regions(ctx)
    }

    fn takes_typing(&self) -> bool {
        self.asking() && self.focus != Focus::Region
    }

    fn typed(&mut self, _: &mut Ctx, key: KeyEvent) -> Outcome {
        self.nudge = None;
        match (self.focus, key.code) {
            (Focus::Token, KeyCode::Char(c)) if self.token.len() + c.len_utf8() <= TOKEN_ROOM => self.token.push(c),
            (Focus::Token, KeyCode::Backspace) => {
                self.token.pop();
            }
            (Focus::Read, KeyCode::Char(c)) => self.read.push(c),
            (Focus::Read, KeyCode::Backspace) => {
                self.read.pop();
            }
            _ => {}
        }
        Outcome::stay()
    }

    fn busy(&self) -> bool {
        self.running() || self.regions.is_loading()
    }

    fn view(&self, frame: &mut Frame, area: Rect, ctx: &Ctx) {
        let t = &ctx.theme;
        let rest = super::why(frame, area, WHY, t);
        if self.asking() {
            return super::lines(frame, rest, self.questions(ctx));
        }
        let mut text: Vec<Line> = self
            .warnings
            .iter()
            .map(|w| Line::styled(format!("! {w}"), t.warn))
            .collect();
        if ctx.stopping {
            text.push(Line::styled(
                "Stopping after the step in flight; the recovery server is stopped and its folder removed.",
                t.warn,
            ));
        }
        match &self.phase {
            Phase::Ended(report) => text.extend(ended(report, ctx)),
            Phase::Failed(e) => {
                text.push(Line::raw(
                    "Nothing of the drill is left, and the live server was only read. r tries again.",
                ));
                text.extend(e.lines().map(|l| Line::styled(l.to_string(), t.error)));
            }
            Phase::Ask | Phase::Running => {}
        }
        steps::view(frame, rest, ctx, &self.rows, text, 0, false);
    }

    fn commands(&self, ctx: &Ctx) -> Vec<String> {
        let region = self.chosen_region().unwrap_or("REGION");
        let read = if self.read.trim().is_empty() {
            String::new()
        } else {
            format!(" --read {}", self.read.trim())
        };
        vec![
            "# The same, without the wizard (the token from a 0600 file, or --token-stdin):".to_string(),
            crate::cli::command_hint(
                &format!("drill --region {region} --token-file TOKEN_FILE{read}"),
                &ctx.state_dir,
            ),
        ]
    }
}

impl Drill {
    /// The three lines to answer, the focused one marked, and what is missing.
    fn questions(&self, ctx: &Ctx) -> Vec<Line<'static>> {
        let t = &ctx.theme;
        let label = |q: Q, focus: Focus| {
            let marker = if self.focus == focus { "› " } else { "  " };
            let style = if self.focus == focus { t.accent } else { t.dim };
            Span::styled(format!("{marker}{:<16}", q.label()), style)
        };
        let regions = match &self.regions {
            Lookup::Loaded(regions) if regions.is_empty() => {
                vec![Span::styled("none: the key has no replica", t.warn)]
            }
            Lookup::Loaded(regions) => regions
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let dot = if i == self.region { "● " } else { "○ " };
                    Span::raw(format!("{dot}{r}  "))
                })
                .collect(),
            Lookup::Failed(e) => vec![Span::styled(format!("cannot be read: {e}"), t.error)],
            Lookup::Loading | Lookup::Idle => vec![Span::styled("reading the manifest…", t.dim)],
        };
        // Only whether something is typed shows, never how much.
        let token = if self.token.is_empty() { "" } else { MASK };
        let cursor = |focus: Focus| {
            if self.focus == focus {
                Span::styled("▏", t.accent)
            } else {
                Span::raw("")
            }
        };
        let mut lines = vec![
            Line::from([vec![label(Q::DrillRegion, Focus::Region)], regions].concat()),
            Line::from(vec![
                label(Q::DrillToken, Focus::Token),
                Span::raw(token),
                cursor(Focus::Token),
            ]),
            Line::from(vec![
                label(Q::DrillRead, Focus::Read),
                Span::raw(self.read.clone()),
                cursor(Focus::Read),
            ]),
            Line::raw(""),
        ];
        let help = match self.focus {
            Focus::Region => Q::DrillRegion,
            Focus::Token => Q::DrillToken,
            Focus::Read => Q::DrillRead,
        };
        lines.push(Line::styled(help.question().help, t.dim));
        if let Some(nudge) = self.nudge {
            lines.push(Line::styled(nudge, t.warn));
        }
        if matches!(&self.regions, Lookup::Loaded(r) if r.is_empty()) {
            lines.push(Line::raw(
                "Add a replica first: the KMS key screen's \"Replica regions\" (or `[kms] replica_regions`), then \
                 apply again.",
            ));
        }
        lines
    }
}

/// How the drill ended: where, how fast, what was read back.
fn ended(report: &DrillReport, ctx: &Ctx) -> Vec<Line<'static>> {
    let t = &ctx.theme;
    let mut lines = vec![Line::styled(
        format!(
            "Recovered in {}: the data was readable {:.1} s after the drill began, unsealed through the replica with \
             no key typed.",
            report.region,
            report.took.as_secs_f64()
        ),
        t.ok,
    )];
    lines.push(Line::raw(
        "Nothing of the drill is left; the live server was only read. The manifest records it for doctor.",
    ));
    lines
}
