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
use crate::tui::keys::{Binding, ENTER, ESC};
use crate::vault::migrate::UnsealKeys as Keys;

pub const WHY: &str = "The server keeps its data and moves to the awskms seal. Once restarted with the new seal \
stanza it waits for its unseal keys, the threshold of them, once; after that KMS unseals it and these same keys \
become its recovery keys (keep them). Type each key and press Enter: they are masked, never saved, and wiped from \
memory once submitted.";

/// Room for one key: unseal keys are 44 (base64) or 66 (hex) characters. The field is
/// never grown, so that no copy of a key is left behind in a freed buffer.
const KEY_ROOM: usize = 256;

pub struct UnsealKeys {
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

    fn enter(&mut self, ctx: &mut Ctx, _: KeyEvent) -> Outcome {
        if !self.typing.trim().is_empty() {
            self.entered.push(SecretString::from(self.typing.trim()));
            self.typing.clear();
            self.nudge = None;
            return Outcome::stay();
        }
        if self.entered.is_empty() {
            self.nudge = Some("Type an unseal key first.");
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
            what: "add the key; on an empty field, run",
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
            entered: Vec::new(),
            typing: Zeroizing::new(String::with_capacity(KEY_ROOM)),
            nudge: None,
        }
    }

    fn takes_typing(&self) -> bool {
        true
    }

    fn typed(&mut self, _: &mut Ctx, key: KeyEvent) -> Outcome {
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
        let mut text: Vec<Line> = (1..=self.entered.len())
            .map(|n| Line::from(vec![Span::raw(format!("Unseal key {n}  ")), Span::styled(MASK, t.dim)]))
            .collect();
        // Only whether something is typed shows, never how much.
        let typed = if self.typing.is_empty() { "" } else { MASK };
        text.push(Line::from(vec![
            Span::styled(format!("Unseal key {}  ", self.entered.len() + 1), t.accent),
            Span::raw(typed),
            Span::styled("▏", t.accent),
        ]));
        text.push(Line::raw(""));
        text.push(Line::styled(
            format!(
                "{} entered. Enter on an empty field starts the run (the server at {} needs its threshold of them).",
                self.entered.len(),
                crate::vault::config::api_addr(&ctx.answers)
            ),
            t.dim,
        ));
        if let Some(nudge) = self.nudge {
            text.push(Line::styled(nudge, t.warn));
        }
        super::lines(frame, rest, text);
    }
}
