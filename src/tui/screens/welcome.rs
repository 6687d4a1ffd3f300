//! Welcome: the mental model, and what will be created.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use crate::tui::app::{App, Command, ScreenId};

pub const WHY: &str = "Vault starts sealed. With auto-unseal it asks AWS KMS to decrypt its root key at start-up, \
so nobody types unseal keys. This wizard sets up every piece, in order, and can undo it all.";

const DIAGRAM: [&str; 9] = [
    "  ┌──────────────┐  AWS_ACCESS_KEY_ID …   ┌────────────────────────┐",
    "  │ Vault server │ ◄──── vault.env ────── │ IAM user               │",
    "  │ seal awskms  │   (0600, vault:vault)  │ vault-auto-unseal      │",
    "  └──────┬───────┘                        └───────────┬────────────┘",
    "         │ Encrypt / Decrypt                          │ attached",
    "         ▼                                            ▼",
    "  ┌──────────────┐   allows only     ┌────────────────────────────┐",
    "  │ AWS KMS key  │ ◄──────────────── │ IAM policy: kms:Encrypt,   │",
    "  └──────────────┘   this one key    │ kms:Decrypt, DescribeKey   │",
];

pub fn update(app: &mut App, key: KeyEvent) -> Vec<Command> {
    match key.code {
        KeyCode::Enter => app.go(ScreenId::Account),
        KeyCode::Char('q') | KeyCode::Esc => {
            app.modal = Some(crate::tui::app::Modal::ConfirmQuit);
            vec![]
        }
        _ => vec![],
    }
}

pub fn keys() -> Vec<(&'static str, &'static str)> {
    vec![("Enter", "start"), ("q", "quit")]
}

pub fn view(frame: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let rest = super::why(frame, area, WHY, t);
    let mut text: Vec<Line> = DIAGRAM.iter().map(|l| Line::styled(*l, t.accent)).collect();
    text.push(Line::raw(""));
    text.push(Line::styled("What will be created:", t.title));
    for item in [
        "a symmetric KMS key with yearly rotation (or an existing key of yours)",
        "IAM user vault-auto-unseal, its access key, a policy for that one key",
        "Vault's env file and config; then the server is started and initialised",
    ] {
        text.push(Line::from(vec![Span::styled("  • ", t.accent), Span::raw(item)]));
    }
    super::lines(frame, rest, text);
}
