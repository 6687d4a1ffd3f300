//! Status: `autounseal status` on a screen. What exists (the manifest, read live as the
//! operator), the server's seal, the access key's age, and the next thing to do, with
//! Enter to do it when it is a screen of this wizard.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::{Ctx, Lookup, Nav, Outcome, Screen, ScreenId};
use crate::answers::Answers;
use crate::doctor::checks::MAX_KEY_AGE_DAYS;
use crate::doctor::status::{self as setup, Next};
use crate::tui::keys::{Binding, ENTER, ESC, always, char};
use crate::tui::msg::{Command, SetupRead};
use crate::tui::theme::Theme;

pub const WHY: &str = "What this folder's setup made, as AWS and the server say it is now.";

#[derive(Default)]
pub struct Status {
    /// Requests made so far: only the answer to the last one is kept.
    asked: u64,
    pub status: Lookup<setup::Status>,
}

impl Status {
    fn read(&mut self, ctx: &Ctx) -> Vec<Command> {
        self.status = Lookup::Loading;
        vec![Command::Status(SetupRead::next(&mut self.asked, &ctx.answers))]
    }

    pub fn on_status(&mut self, asked: u64, result: Result<Box<setup::Status>, String>) {
        if asked != self.asked {
            return;
        }
        self.status = match result {
            Ok(status) => Lookup::Loaded(*status),
            Err(e) => Lookup::Failed(e),
        };
    }

    fn next(&self) -> Option<Next> {
        match &self.status {
            Lookup::Loaded(status) => Some(status.next),
            _ => None,
        }
    }
}

/// One fact: its name in a column, then the value in its style.
fn fact(name: &str, value: String, style: Style, t: &Theme) -> Line<'static> {
    Line::from(vec![
        Span::styled(format!("{name:<12}"), t.dim),
        Span::styled(value, style),
    ])
}

/// The facts `autounseal status` prints, styled by how they stand.
pub fn facts(status: &setup::Status, t: &Theme) -> Vec<Line<'static>> {
    let none = || "none recorded".to_string();
    let good = |ok: bool| if ok { t.ok } else { t.error };
    let mut lines = vec![fact(
        "Region",
        status.region.clone().unwrap_or_else(none),
        Style::default(),
        t,
    )];
    lines.push(match &status.kms_key {
        Some(k) => Line::from(vec![
            Span::styled(format!("{:<12}", "KMS key"), t.dim),
            Span::raw(format!("{} ", k.arn)),
            Span::styled(k.state.clone(), good(k.state == "Enabled")),
        ]),
        None => fact("KMS key", none(), t.dim, t),
    });
    lines.push(fact(
        "IAM user",
        status.iam_user.clone().unwrap_or_else(none),
        Style::default(),
        t,
    ));
    lines.push(match &status.access_key {
        Some(k) => {
            let age = k.age_days.map_or(String::new(), |days| format!(", {days} days old"));
            let old = k.age_days.is_some_and(|days| days > MAX_KEY_AGE_DAYS);
            let style = if k.status != "Active" {
                t.error
            } else if old {
                t.warn
            } else {
                t.ok
            };
            Line::from(vec![
                Span::styled(format!("{:<12}", "Access key"), t.dim),
                Span::raw(format!("{} ", k.id)),
                Span::styled(format!("({}{age})", k.status), style),
            ])
        }
        None => fact("Access key", none(), t.dim, t),
    });
    lines.push(match &status.server {
        Some(s) => {
            let (said, style) = match (s.reachable, &s.seal_type, s.initialized, s.sealed) {
                (true, Some(seal), Some(init), Some(sealed)) => (
                    format!(
                        "seal {seal}, {}, {}",
                        if init { "initialised" } else { "not initialised" },
                        if sealed { "sealed" } else { "unsealed" }
                    ),
                    good(seal == "awskms" && init && !sealed),
                ),
                _ => ("not reachable".to_string(), t.error),
            };
            Line::from(vec![
                Span::styled(format!("{:<12}", "Server"), t.dim),
                Span::raw(format!("{} ({}): ", s.address, s.launch)),
                Span::styled(said, style),
            ])
        }
        None => fact("Server", none(), t.dim, t),
    });
    if status.unfinished {
        lines.push(fact(
            "Unfinished",
            "a run was stopped before it recorded what it made".into(),
            t.warn,
            t,
        ));
    }
    lines.push(Line::raw(""));
    let style = match status.next {
        Next::AllGood => t.ok,
        Next::Broken => t.error,
        Next::NothingSetUp | Next::Unfinished | Next::Rotate { .. } => t.warn,
    };
    lines.push(fact("Next", status.next.to_string(), style, t));
    lines
}

impl Screen for Status {
    const KEYS: &'static [Binding<Self>] = &[
        Binding {
            keys: &[ENTER],
            label: "Enter",
            what: "run doctor",
            when: |s, _| s.next() == Some(Next::Broken),
            action: |_, _, _| Outcome::go(Nav::Go(ScreenId::Doctor)),
        },
        Binding {
            keys: &[ENTER],
            label: "Enter",
            what: "the wizard",
            when: |s, _| matches!(s.next(), Some(Next::Unfinished | Next::NothingSetUp)),
            action: |_, _, _| Outcome::go(Nav::Go(ScreenId::Welcome)),
        },
        Binding {
            keys: &[char('r')],
            label: "r",
            what: "read again",
            when: |s, _| !s.status.is_loading(),
            action: |s, ctx, _| Outcome::run(s.read(ctx)),
        },
        Binding {
            keys: &[ESC],
            label: "Esc",
            what: "menu",
            when: always,
            action: |_, _, _| Outcome::go(Nav::Back),
        },
    ];

    fn new(_: &Answers) -> Status {
        Status::default()
    }

    fn enter(&mut self, ctx: &mut Ctx) -> Vec<Command> {
        self.read(ctx)
    }

    fn busy(&self) -> bool {
        self.status.is_loading()
    }

    fn view(&self, frame: &mut Frame, area: Rect, ctx: &Ctx) {
        let t = &ctx.theme;
        let rest = super::why(frame, area, WHY, t);
        let text = match &self.status {
            Lookup::Idle => return,
            Lookup::Loading => vec![Line::from(vec![
                Span::styled(super::spinner(ctx.frame), t.accent),
                Span::raw(" Reading the key, the user and its access key, and the server's seal…"),
            ])],
            Lookup::Failed(e) => vec![
                Line::styled("The status could not be read:", t.warn),
                Line::styled(e.clone(), t.error),
                Line::raw(""),
                Line::raw("r tries again; Esc goes back to the menu."),
            ],
            Lookup::Loaded(status) => facts(status, t),
        };
        super::lines(frame, rest, text);
    }
}
