//! Key tables: each screen lists its bindings once (keys, footer label, help text, a
//! guard on its state and the action), and dispatch, the footer and the `?` help all
//! read that one table, so they cannot drift apart (as television's help walks the map
//! its dispatch uses, and yazi's router and help both read one keymap per layer).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::tui::ctx::{Ctx, Nav, Outcome};

/// One key a binding answers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// The key with no Ctrl or Alt (Shift is part of the character or of BackTab).
    Plain(KeyCode),
    Ctrl(char),
}

impl Key {
    pub fn matches(self, key: &KeyEvent) -> bool {
        let ctrl_or_alt = key.modifiers.intersects(KeyModifiers::CONTROL | KeyModifiers::ALT);
        match self {
            Key::Plain(code) => key.code == code && !ctrl_or_alt,
            Key::Ctrl(c) => key.code == KeyCode::Char(c) && key.modifiers.contains(KeyModifiers::CONTROL),
        }
    }

    /// The event of pressing this key (for the tests that press every key of a table).
    pub fn event(self) -> KeyEvent {
        match self {
            Key::Plain(KeyCode::BackTab) => KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT),
            Key::Plain(code) => KeyEvent::new(code, KeyModifiers::NONE),
            Key::Ctrl(c) => KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL),
        }
    }

    /// How a label names this key: every key of a binding is named in its label.
    pub fn glyph(self) -> String {
        match self {
            Key::Plain(KeyCode::Tab | KeyCode::BackTab) => "Tab".into(),
            Key::Plain(KeyCode::Up) => "↑".into(),
            Key::Plain(KeyCode::Down) => "↓".into(),
            Key::Plain(KeyCode::Left) => "←".into(),
            Key::Plain(KeyCode::Right) => "→".into(),
            Key::Plain(KeyCode::Enter) => "Enter".into(),
            Key::Plain(KeyCode::Esc) => "Esc".into(),
            Key::Plain(KeyCode::Char(' ')) => "Space".into(),
            Key::Plain(KeyCode::Char(c)) => c.to_string(),
            Key::Plain(KeyCode::F(n)) => format!("F{n}"),
            Key::Plain(KeyCode::PageUp) => "PgUp".into(),
            Key::Plain(KeyCode::PageDown) => "PgDn".into(),
            Key::Plain(other) => format!("{other:?}"),
            Key::Ctrl(c) => format!("Ctrl-{}", c.to_ascii_uppercase()),
        }
    }
}

pub const ENTER: Key = Key::Plain(KeyCode::Enter);
pub const ESC: Key = Key::Plain(KeyCode::Esc);
pub const TAB: Key = Key::Plain(KeyCode::Tab);
pub const BACKTAB: Key = Key::Plain(KeyCode::BackTab);
pub const UP: Key = Key::Plain(KeyCode::Up);
pub const DOWN: Key = Key::Plain(KeyCode::Down);
pub const LEFT: Key = Key::Plain(KeyCode::Left);
pub const RIGHT: Key = Key::Plain(KeyCode::Right);
pub const SPACE: Key = Key::Plain(KeyCode::Char(' '));
pub const PAGE_UP: Key = Key::Plain(KeyCode::PageUp);
pub const PAGE_DOWN: Key = Key::Plain(KeyCode::PageDown);

pub const fn char(c: char) -> Key {
    Key::Plain(KeyCode::Char(c))
}

/// One row of a screen's table. `S` is the screen's own state.
pub struct Binding<S: 'static> {
    pub keys: &'static [Key],
    /// The keys as the footer and help show them ("Tab/↑↓").
    pub label: &'static str,
    /// What it does, in the footer's few words.
    pub what: &'static str,
    /// Shown, and handled, only when this holds.
    pub when: fn(&S, &Ctx) -> bool,
    pub action: fn(&mut S, &mut Ctx, KeyEvent) -> Outcome,
}

/// A guard for bindings that always apply.
pub fn always<S>(_: &S, _: &Ctx) -> bool {
    true
}

/// A key's label and what it does, as the footer and the help show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hint {
    pub label: &'static str,
    pub what: &'static str,
}

/// The bindings of `table` that apply now.
pub fn applicable<'t, S>(table: &'t [Binding<S>], state: &S, ctx: &Ctx) -> impl Iterator<Item = &'t Binding<S>> {
    table.iter().filter(move |b| (b.when)(state, ctx))
}

/// The first binding that applies now and answers to `key`, carried out; `None` when
/// the table has no such binding (the key is not this screen's).
pub fn dispatch<S>(table: &[Binding<S>], state: &mut S, ctx: &mut Ctx, key: KeyEvent) -> Option<Outcome> {
    let binding = applicable(table, state, ctx).find(|b| b.keys.iter().any(|k| k.matches(&key)))?;
    Some((binding.action)(state, ctx, key))
}

pub fn hints<S>(table: &[Binding<S>], state: &S, ctx: &Ctx) -> Vec<Hint> {
    applicable(table, state, ctx)
        .map(|b| Hint {
            label: b.label,
            what: b.what,
        })
        .collect()
}

/// The keys every screen answers to, before its own table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Global {
    Quit,
    Help,
    Commands,
}

pub const GLOBAL: [(Global, &[Key], &str, &str); 3] = [
    (
        Global::Quit,
        &[Key::Ctrl('c')],
        "Ctrl-C",
        "quit (asks first, says what exists)",
    ),
    (
        Global::Help,
        &[char('?'), Key::Plain(KeyCode::F(1))],
        "?/F1",
        "this help",
    ),
    (
        Global::Commands,
        &[Key::Plain(KeyCode::F(2))],
        "F2",
        "the equivalent commands and files",
    ),
];

pub fn global(key: &KeyEvent) -> Option<Global> {
    GLOBAL
        .iter()
        .find(|(_, keys, ..)| keys.iter().any(|k| k.matches(key)))
        .map(|(g, ..)| *g)
}

/// What typing does in a text field, for the help: the one input not in the tables.
pub const TYPING: &str = "edits the field: letters, ←→, Backspace…";

/// Whether `key` edits text: the keys a text field takes itself.
pub fn is_typing(key: &KeyEvent) -> bool {
    if key.modifiers.intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) {
        return false;
    }
    matches!(
        key.code,
        KeyCode::Char(_)
            | KeyCode::Backspace
            | KeyCode::Delete
            | KeyCode::Left
            | KeyCode::Right
            | KeyCode::Home
            | KeyCode::End
    )
}

fn go_back<S>(_: &mut S, _: &mut Ctx, _: KeyEvent) -> Outcome {
    Outcome::go(Nav::Back)
}

/// Enter on a question screen: its answers checked, then on.
pub const fn submit<S>(action: fn(&mut S, &mut Ctx, KeyEvent) -> Outcome) -> Binding<S> {
    Binding {
        keys: &[ENTER],
        label: "Enter",
        what: "continue",
        when: always,
        action,
    }
}

/// Esc: the screen before, answers kept.
pub const fn back<S>() -> Binding<S> {
    Binding {
        keys: &[ESC],
        label: "Esc",
        what: "back",
        when: always,
        action: go_back,
    }
}

/// Esc on a screen beside the walk: back to the start menu it was opened from.
pub const fn to_menu<S>() -> Binding<S> {
    Binding {
        keys: &[ESC],
        label: "Esc",
        what: "menu",
        when: always,
        action: go_back,
    }
}
