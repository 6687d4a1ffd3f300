//! Welcome: the mental model, and what will be created.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::{Ctx, Nav, Outcome, Screen, ScreenId};
use crate::answers::Answers;
use crate::tui::keys::{Binding, ENTER, ESC, always, char};

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

pub struct Welcome;

impl Screen for Welcome {
    const KEYS: &'static [Binding<Self>] = &[
        Binding {
            keys: &[ENTER],
            label: "Enter",
            what: "start",
            when: always,
            action: |_, _, _| Outcome::go(Nav::Forward),
        },
        Binding {
            keys: &[char('q')],
            label: "q",
            what: "quit",
            when: always,
            action: |_, _, _| Outcome::go(Nav::AskQuit),
        },
        // Only for a setup the wizard opened on the menu for: a first walk has no menu.
        Binding {
            keys: &[ESC],
            label: "Esc",
            what: "menu",
            when: |_, ctx| ctx.setup_recorded,
            action: |_, _, _| Outcome::go(Nav::Go(ScreenId::Start)),
        },
    ];

    fn new(_: &Answers) -> Welcome {
        Welcome
    }

    fn view(&self, frame: &mut Frame, area: Rect, ctx: &Ctx) {
        let t = &ctx.theme;
        let rest = super::why(frame, area, WHY, t);
        // The user the answers name, in its box (cut to fit it).
        let user = &ctx.answers.iam.user_name;
        let boxed: String = if user.chars().count() > 22 {
            user.chars().take(21).chain(['…']).collect()
        } else {
            format!("{user:<22}")
        };
        let mut text: Vec<Line> = DIAGRAM
            .iter()
            .map(|l| Line::styled(l.replace("vault-auto-unseal     ", &boxed), t.accent))
            .collect();
        text.push(Line::raw(""));
        text.push(Line::styled("What will be created:", t.title));
        for item in [
            "a symmetric KMS key with yearly rotation (or an existing key of yours)".to_string(),
            format!("IAM user {user}, its access key, a policy for that one key"),
            "Vault's env file and config; then the server is started and initialised".to_string(),
        ] {
            text.push(Line::from(vec![Span::styled("  • ", t.accent), Span::raw(item)]));
        }
        super::lines(frame, rest, text);
    }

    fn commands(&self, _ctx: &Ctx) -> Vec<String> {
        [
            "# By hand, the same job is:",
            "aws kms create-key …; aws kms enable-key-rotation …; aws kms create-alias …",
            "aws iam create-user …; aws iam create-policy …; aws iam attach-user-policy …",
            "aws iam create-access-key …   # then write vault.env, 0600",
            "vault server -config=vault.hcl; vault operator init -recovery-shares=…",
            "# F2 on each screen shows that step's commands.",
        ]
        .map(String::from)
        .to_vec()
    }
}
