//! Recovery keys: shown masked, one revealed at a time on request and masked again
//! when the cursor leaves it; the operator confirms they are stored; then they are
//! wiped from memory and the screen is cleared.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use secrecy::ExposeSecret;

use crate::secrets::MASK;
use crate::tui::app::{App, Command, ScreenId};
use crate::vault::recovery::InitSecrets;

pub const WHY: &str = "Sent to the terminal only when you reveal one (a session recorder would keep it), wiped from \
memory and the screen once you confirm; leave without confirming and they go to a new 0600 file in the state folder. \
Store each apart, offline or in a password manager. They authorise recovery operations; KMS unseals.";

#[derive(Default)]
pub struct State {
    /// Wiped (dropped) when the operator leaves this screen.
    pub secrets: Option<InitSecrets>,
    pub threshold: u16,
    pub cursor: usize,
    pub revealed: Option<usize>,
    pub acknowledged: bool,
    pub nudge: bool,
}

impl State {
    /// Recovery keys, then the root token.
    fn count(&self) -> usize {
        self.secrets.as_ref().map_or(0, |s| s.recovery_keys.len() + 1)
    }

    fn label(&self, i: usize) -> String {
        if i + 1 == self.count() {
            "Root token".to_string()
        } else {
            format!("Recovery key {}", i + 1)
        }
    }
}

pub fn update(app: &mut App, key: KeyEvent) -> Vec<Command> {
    let r = &mut app.recovery;
    let n = r.count();
    match key.code {
        KeyCode::Up | KeyCode::BackTab => {
            r.cursor = r.cursor.saturating_sub(1);
            r.revealed = None;
        }
        KeyCode::Down | KeyCode::Tab => {
            r.cursor = (r.cursor + 1).min(n.saturating_sub(1));
            r.revealed = None;
        }
        KeyCode::Char('r' | ' ') => {
            r.revealed = if r.revealed == Some(r.cursor) {
                None
            } else {
                Some(r.cursor)
            }
        }
        KeyCode::Char('a') => r.acknowledged = !r.acknowledged,
        KeyCode::Enter if r.acknowledged => {
            // Dropping the secrets zeroizes them; the screen is wiped before the next one.
            r.secrets = None;
            r.revealed = None;
            let mut commands = vec![Command::ClearScreen];
            commands.extend(app.go(ScreenId::Done));
            return commands;
        }
        KeyCode::Enter => r.nudge = true,
        _ => {}
    }
    vec![]
}

pub fn keys(app: &App) -> Vec<(&'static str, &'static str)> {
    let shown = if app.recovery.revealed.is_some() {
        "hide"
    } else {
        "reveal"
    };
    vec![
        ("↑↓", "choose"),
        ("r", shown),
        ("a", "I stored them"),
        ("Enter", "continue"),
    ]
}

pub fn view(frame: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let r = &app.recovery;
    let rest = super::why(frame, area, WHY, t);
    let Some(secrets) = &r.secrets else {
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
            r.threshold,
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
    for i in 0..r.count() {
        let style = if i == r.cursor {
            t.selected
        } else {
            ratatui::style::Style::default()
        };
        let label = Span::styled(
            format!("{} {:<16}", if i == r.cursor { "›" } else { " " }, r.label(i)),
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
