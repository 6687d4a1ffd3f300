//! The start menu: where an operator coming back to a setup lands (the state folder's
//! manifest records one). Check it, read its status, or walk the wizard again.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::{Ctx, Nav, Outcome, Screen, ScreenId};
use crate::answers::Answers;
use crate::tui::by_hand;
use crate::tui::keys::{Binding, DOWN, ENTER, ESC, UP, always, char};

pub const WHY: &str = "This folder records a setup. Check that every link still works, read its status, \
rotate its access key, or walk the wizard again to change it.";

/// What the menu offers, in its order: what each leads to, and its line.
pub const CHOICES: &[(Choice, &str, &str)] = &[
    (
        Choice::Go(ScreenId::Doctor),
        "Check the setup (doctor)",
        "every link of the chain, ok / warn / fail, with the fix",
    ),
    (
        Choice::Go(ScreenId::Status),
        "Status",
        "what exists, the server's seal, the key's age, what to do next",
    ),
    (
        Choice::Go(ScreenId::Rotate),
        "Rotate the access key",
        "a new key for the server, the old one retired; rolled back on failure",
    ),
    (
        Choice::Go(ScreenId::Drill),
        "Rehearse a recovery (drill)",
        "the data restored in a replica's region on a throwaway server",
    ),
    (
        Choice::Go(ScreenId::Welcome),
        "Set up again / change the setup (the wizard)",
        "the questions, with this session's answers",
    ),
    (Choice::Quit, "Quit", "nothing is changed"),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    Go(ScreenId),
    Quit,
}

#[derive(Debug, Default)]
pub struct Start {
    pub selected: usize,
}

/// The choices this setup offers: a drill only when its key has replicas.
fn choices(ctx: &Ctx) -> Vec<&'static (Choice, &'static str, &'static str)> {
    CHOICES
        .iter()
        .filter(|(choice, _, _)| *choice != Choice::Go(ScreenId::Drill) || ctx.can_drill)
        .collect()
}

impl Start {
    fn choose(&mut self, ctx: &mut Ctx, key: KeyEvent) -> Outcome {
        self.selected = match key.code {
            KeyCode::Up | KeyCode::Char('k') => self.selected.saturating_sub(1),
            _ => (self.selected + 1).min(choices(ctx).len() - 1),
        };
        Outcome::stay()
    }

    fn open(&mut self, ctx: &mut Ctx, _: KeyEvent) -> Outcome {
        let offered = choices(ctx);
        match offered[self.selected.min(offered.len() - 1)].0 {
            Choice::Go(screen) => Outcome::go(Nav::Go(screen)),
            Choice::Quit => Outcome::go(Nav::AskQuit),
        }
    }
}

impl Screen for Start {
    const KEYS: &'static [Binding<Self>] = &[
        Binding {
            keys: &[UP, DOWN, char('k'), char('j')],
            label: "↑↓/kj",
            what: "choose",
            when: always,
            action: Start::choose,
        },
        Binding {
            keys: &[ENTER],
            label: "Enter",
            what: "open",
            when: always,
            action: Start::open,
        },
        Binding {
            keys: &[char('q'), ESC],
            label: "q/Esc",
            what: "quit",
            when: always,
            action: |_, _, _| Outcome::go(Nav::AskQuit),
        },
    ];

    fn new(_: &Answers) -> Start {
        Start::default()
    }

    fn view(&self, frame: &mut Frame, area: Rect, ctx: &Ctx) {
        let t = &ctx.theme;
        let rest = super::why(frame, area, WHY, t);
        let mut text = vec![
            Line::from(vec![
                Span::styled("State folder  ", t.dim),
                Span::raw(ctx.state_dir.display().to_string()),
            ]),
            Line::raw(""),
        ];
        // What the last run left: a keys file to store, a proof that never ran.
        if !ctx.left_open.is_empty() {
            text.extend(
                ctx.left_open
                    .iter()
                    .map(|line| Line::styled(format!("! {line}"), t.warn)),
            );
            text.push(Line::raw(""));
        }
        let offered = choices(ctx);
        // Each choice's line under it when they all fit; else only the chosen one's, so
        // that every choice, Quit included, stays on the screen at 80x24.
        // Wrapped exactly as the paragraph that draws them wraps them.
        let rows: usize = text
            .iter()
            .map(|l| {
                ratatui::widgets::Paragraph::new(l.clone())
                    .wrap(ratatui::widgets::Wrap { trim: false })
                    .line_count(rest.width.max(1))
            })
            .sum();
        let roomy = rows + 2 * offered.len() <= usize::from(rest.height);
        for (i, (_, label, what)) in offered.into_iter().enumerate() {
            let chosen = i == self.selected;
            // The marker as well as the colour: the choice shows without colours too.
            let (marker, style) = if chosen { ("› ", t.selected) } else { ("  ", t.title) };
            text.push(Line::from(vec![
                Span::styled(marker, t.accent),
                Span::styled(format!(" {label} "), style),
            ]));
            if roomy || chosen {
                text.push(Line::styled(format!("     {what}"), t.dim));
            }
        }
        super::lines(frame, rest, text);
    }

    fn commands(&self, ctx: &Ctx) -> Vec<String> {
        let mut out = by_hand::setup_commands(ctx);
        out.push(crate::cli::command_hint("rotate", &ctx.state_dir));
        out
    }
}
