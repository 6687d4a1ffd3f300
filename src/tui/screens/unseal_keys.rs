//! Unseal keys, for a seal migration from Shamir: typed one by one into masked fields
//! (never drawn, not even as their length), held in zeroizing memory, handed to the run
//! and wiped once it has submitted them. Shown only when the answers ask to migrate.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use secrecy::SecretString;
use zeroize::Zeroizing;

use super::{Ctx, Nav, Outcome, Screen, ScreenId};
use crate::answers::Answers;
use crate::secrets::MASK;
use crate::tui::by_hand;
use crate::tui::keys::{Binding, ENTER, ESC};
use crate::tui::msg::Command;
use crate::vault::client::SealStatus;
use crate::vault::migrate::UnsealKeys as Keys;

/// Whether a typed key has the form of an unseal key: base64 (as `operator init` prints
/// `keys_base64`) or hex (`keys`). Its value only the server can judge.
fn looks_like_a_key(key: &str) -> bool {
    use base64::Engine;
    let hex = key.len().is_multiple_of(2) && key.chars().all(|c| c.is_ascii_hexdigit());
    let base64 = base64::engine::general_purpose::STANDARD
        .decode(key)
        .is_ok_and(|bytes| !bytes.is_empty());
    hex || base64
}

pub const WHY: &str = "The server keeps its data and moves to the awskms seal. Once restarted with the new seal \
stanza it waits for its unseal keys, the threshold of them, once; after that KMS unseals it and these same keys \
become its recovery keys (keep them). Type each key and press Enter: they are masked, never saved, and wiped from \
memory once submitted.";

/// Room for one key: unseal keys are 44 (base64) or 66 (hex) characters. The field is
/// never grown, so that no copy of a key is left behind in a freed buffer.
const KEY_ROOM: usize = 256;

pub struct UnsealKeys {
    /// How many keys the server needs (its `sys/seal-status` threshold), once it said.
    threshold: Option<u16>,
    /// Why the server could not say, when it could not.
    unread: Option<String>,
    /// The keys entered so far.
    entered: Vec<SecretString>,
    /// The key being typed.
    typing: Zeroizing<String>,
    /// Said when Enter found nothing to go on with.
    nudge: Option<&'static str>,
}

impl UnsealKeys {
    pub fn count(&self) -> usize {
        self.entered.len()
    }

    /// The server's threshold, for the address it was asked at.
    pub fn on_seal(&mut self, ctx: &Ctx, address: &str, result: Result<SealStatus, String>) {
        if address != crate::vault::config::api_addr(&ctx.answers) {
            return;
        }
        match result {
            Ok(status) => (self.threshold, self.unread) = (Some(status.t.max(1)), None),
            Err(e) => (self.threshold, self.unread) = (None, Some(e)),
        }
    }

    fn enter(&mut self, ctx: &mut Ctx, _: KeyEvent) -> Outcome {
        if !self.typing.trim().is_empty() {
            if !looks_like_a_key(self.typing.trim()) {
                // Masked, so it cannot be mended in place: typed again.
                self.typing.clear();
                self.nudge = Some("That is neither base64 nor hex, as unseal keys are: type it again.");
                return Outcome::stay();
            }
            self.entered.push(SecretString::from(self.typing.trim()));
            self.typing.clear();
            self.nudge = None;
            return Outcome::stay();
        }
        if self.entered.is_empty() {
            self.nudge = Some("Type an unseal key first.");
            return Outcome::stay();
        }
        if self.threshold.is_some_and(|t| self.entered.len() < usize::from(t)) {
            self.nudge = Some("The server needs more keys than that: type the next one.");
            return Outcome::stay();
        }
        // Handed to the run, which drops (wipes) them once submitted.
        ctx.unseal_keys = Some(Keys::from_typed(std::mem::take(&mut self.entered)));
        self.nudge = None;
        Outcome::go(Nav::Go(ScreenId::Run))
    }

    fn back(&mut self, _: &mut Ctx, _: KeyEvent) -> Outcome {
        // Keys typed are dropped (wiped) on the way back.
        self.entered.clear();
        self.typing.clear();
        Outcome::go(Nav::Go(ScreenId::Review))
    }
}

impl Screen for UnsealKeys {
    const KEYS: &'static [Binding<Self>] = &[
        Binding {
            keys: &[ENTER],
            label: "Enter",
            what: "add the key (empty: run)",
            when: |_, _| true,
            action: UnsealKeys::enter,
        },
        Binding {
            keys: &[ESC],
            label: "Esc",
            what: "back (the keys are dropped)",
            when: |_, _| true,
            action: UnsealKeys::back,
        },
    ];

    fn new(_: &Answers) -> UnsealKeys {
        UnsealKeys {
            threshold: None,
            unread: None,
            entered: Vec::new(),
            typing: Zeroizing::new(String::with_capacity(KEY_ROOM)),
            nudge: None,
        }
    }

    /// Asks the server how many keys it needs.
    fn enter(&mut self, ctx: &mut Ctx) -> Vec<Command> {
        let address = crate::vault::config::api_addr(&ctx.answers);
        vec![Command::ReadSeal(address, ctx.answers.server.ca_cert.clone())]
    }

    fn takes_typing(&self) -> bool {
        true
    }

    fn typed(&mut self, _: &mut Ctx, key: KeyEvent) -> Outcome {
        // A complaint about the last Enter goes once the next key is typed.
        self.nudge = None;
        match key.code {
            KeyCode::Char(c) if self.typing.len() + c.len_utf8() <= KEY_ROOM => self.typing.push(c),
            KeyCode::Backspace => {
                self.typing.pop();
            }
            _ => {}
        }
        Outcome::stay()
    }

    fn view(&self, frame: &mut Frame, area: Rect, ctx: &Ctx) {
        let t = &ctx.theme;
        let rest = super::why(frame, area, WHY, t);
        let of = self.threshold.map(|t| format!(" of {t}")).unwrap_or_default();
        let mut text: Vec<Line> = (1..=self.entered.len())
            .map(|n| {
                Line::from(vec![
                    Span::raw(format!("Unseal key {n}{of}  ")),
                    Span::styled(MASK, t.dim),
                ])
            })
            .collect();
        let enough = self.threshold.is_some_and(|t| self.entered.len() >= usize::from(t));
        if !enough {
            // Only whether something is typed shows, never how much.
            let typed = if self.typing.is_empty() { "" } else { MASK };
            text.push(Line::from(vec![
                Span::styled(format!("Unseal key {}{of}  ", self.entered.len() + 1), t.accent),
                Span::raw(typed),
                Span::styled("▏", t.accent),
            ]));
        }
        text.push(Line::raw(""));
        let address = crate::vault::config::api_addr(&ctx.answers);
        text.push(Line::styled(
            match (self.threshold, &self.unread) {
                (Some(t), _) if enough => {
                    format!("{t} keys entered, as the server at {address} needs. Enter starts the run.")
                }
                (Some(t), _) => format!(
                    "The server at {address} needs {t} unseal key(s); {} entered.",
                    self.entered.len()
                ),
                (None, Some(why)) => format!(
                    "{} entered. The server at {address} does not answer now ({why}), so it cannot say how many \
                     keys it needs: type as many as its unseal needs, then Enter on an empty field starts the run.",
                    self.entered.len()
                ),
                (None, None) => format!(
                    "{} entered. Asking the server at {address} how many keys it needs…",
                    self.entered.len()
                ),
            },
            t.dim,
        ));
        if let Some(nudge) = self.nudge {
            text.push(Line::styled(nudge, t.warn));
        }
        super::lines(frame, rest, text);
    }

    fn commands(&self, ctx: &Ctx) -> Vec<String> {
        vec![
            "# Once the server restarted with the seal \"awskms\" stanza, for each unseal key:".into(),
            format!(
                "{} operator unseal -migrate -address={}   # prompts for the key, hidden",
                by_hand::cli(ctx),
                crate::vault::config::api_addr(&ctx.answers)
            ),
        ]
    }
}
