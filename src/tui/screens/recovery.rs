//! Recovery keys: shown masked, one revealed at a time on request and masked again
//! when the cursor leaves it; the operator confirms they are stored; then they are
//! wiped from memory and the screen is cleared.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use secrecy::ExposeSecret;

use super::{Ctx, Nav, Outcome, Screen};
use crate::answers::Answers;
use crate::secrets::MASK;
use crate::tui::by_hand;
use crate::tui::keys::{BACKTAB, Binding, DOWN, ENTER, SPACE, TAB, UP, always, char};
use crate::tui::msg::Command;

pub const WHY: &str = "Sent to the terminal only when you reveal one (a session recorder would keep it), wiped from \
memory and the screen once you confirm; leave without confirming and they go to a new 0600 file in the state folder. \
Store each apart, offline or in a password manager. They authorise recovery operations; KMS unseals.";

/// The cursor and what is shown; the keys themselves are held in the context
/// (`Ctx::secrets`), where a failed run may also have left them.
#[derive(Default)]
pub struct Recovery {
    pub cursor: usize,
    pub revealed: Option<usize>,
    pub acknowledged: bool,
    pub nudge: bool,
}

/// Recovery keys, then the root token.
fn count(ctx: &Ctx) -> usize {
    ctx.secrets.as_ref().map_or(0, |s| s.recovery_keys.len() + 1)
}

fn label(ctx: &Ctx, i: usize) -> String {
    if i + 1 == count(ctx) {
        "Root token".to_string()
    } else {
        format!("Recovery key {}", i + 1)
    }
}

impl Recovery {
    fn choose(&mut self, ctx: &mut Ctx, key: KeyEvent) -> Outcome {
        self.cursor = if matches!(key.code, KeyCode::Up | KeyCode::BackTab) {
            self.cursor.saturating_sub(1)
        } else {
            (self.cursor + 1).min(count(ctx).saturating_sub(1))
        };
        self.revealed = None;
        Outcome::stay()
    }

    fn shown(&self) -> bool {
        self.revealed.is_some()
    }

    fn finish(&mut self, ctx: &mut Ctx, _: KeyEvent) -> Outcome {
        // Dropping the secrets zeroizes them; the screen is wiped before the next one.
        ctx.secrets = None;
        self.revealed = None;
        Outcome {
            nav: Nav::Forward,
            commands: vec![Command::ClearScreen],
        }
    }
}

impl Screen for Recovery {
    const KEYS: &'static [Binding<Self>] = &[
        Binding {
            keys: &[UP, DOWN, TAB, BACKTAB],
            label: "↑↓/Tab",
            what: "choose",
            when: always,
            action: Recovery::choose,
        },
        Binding {
            keys: &[char('r'), SPACE],
            label: "r/Space",
            what: "hide",
            when: |s, _| s.shown(),
            action: |s, _, _| {
                s.revealed = None;
                Outcome::stay()
            },
        },
        Binding {
            keys: &[char('r'), SPACE],
            label: "r/Space",
            what: "reveal",
            when: |s, ctx| !s.shown() && ctx.secrets.is_some(),
            action: |s, _, _| {
                s.revealed = Some(s.cursor);
                Outcome::stay()
            },
        },
        Binding {
            keys: &[char('a')],
            label: "a",
            what: "I stored them",
            when: |_, ctx| ctx.secrets.is_some(),
            action: |s, _, _| {
                s.acknowledged = !s.acknowledged;
                Outcome::stay()
            },
        },
        Binding {
            keys: &[ENTER],
            label: "Enter",
            what: "continue",
            when: |s, ctx| s.acknowledged || ctx.secrets.is_none(),
            action: Recovery::finish,
        },
        Binding {
            keys: &[ENTER],
            label: "Enter",
            what: "continue",
            when: |s, ctx| !s.acknowledged && ctx.secrets.is_some(),
            action: |s, _, _| {
                s.nudge = true;
                Outcome::stay()
            },
        },
    ];

    fn new(_: &Answers) -> Recovery {
        Recovery::default()
    }

    fn view(&self, frame: &mut Frame, area: Rect, ctx: &Ctx) {
        view(self, frame, area, ctx)
    }

    fn commands(&self, ctx: &Ctx) -> Vec<String> {
        by_hand::finished_commands(ctx)
    }
}

fn view(r: &Recovery, frame: &mut Frame, area: Rect, ctx: &Ctx) {
    let t = &ctx.theme;
    let rest = super::why(frame, area, WHY, t);
    let Some(secrets) = &ctx.secrets else {
        super::lines(
            frame,
            rest,
            vec![Line::raw("No new keys: the server was initialised before.")],
        );
        return;
    };
    let mut text = vec![Line::styled(
        format!(
            "{} of these {} recovery keys are needed together.",
            ctx.answers.init.recovery_threshold,
            secrets.recovery_keys.len()
        ),
        t.title,
    )];
    if secrets.pgp_encrypted {
        text.push(Line::styled(
            "They are encrypted to the PGP keys you gave (base64).",
            t.dim,
        ));
    }
    text.push(Line::raw(""));
    for i in 0..count(ctx) {
        let style = if i == r.cursor {
            t.selected
        } else {
            ratatui::style::Style::default()
        };
        let label = Span::styled(
            format!("{} {:<16}", if i == r.cursor { "›" } else { " " }, label(ctx, i)),
            style,
        );
        if r.revealed == Some(i) {
            // On a line of its own: a 64-character key must not wrap mid-value.
            let secret = if i < secrets.recovery_keys.len() {
                &secrets.recovery_keys[i]
            } else {
                &secrets.root_token
            };
            text.push(Line::from(vec![label, Span::styled(" shown below, r hides it", t.dim)]));
            // Borrowed, never copied: no `format!`, no owned span, so the only copies a
            // frame makes are the screen cells, which the next frames overwrite.
            text.push(Line::from(vec![
                Span::raw("    "),
                Span::styled(secret.expose_secret(), t.focused),
            ]));
        } else {
            text.push(Line::from(vec![label, Span::raw(" "), Span::raw(MASK)]));
        }
    }
    text.push(Line::raw(""));
    let check = if r.acknowledged { "[x]" } else { "[ ]" };
    text.push(Line::from(vec![Span::styled(
        format!("{check} I have stored the recovery keys and the root token safely"),
        t.focused,
    )]));
    if r.nudge && !r.acknowledged {
        text.push(Line::styled(
            "Press a to confirm they are stored: they cannot be shown again.",
            t.warn,
        ));
    }
    super::lines(frame, rest, text);
}
