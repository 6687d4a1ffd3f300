//! Region: a filterable list of the regions that offer KMS.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{List, ListItem, ListState, Paragraph};
use ratatui_textarea::TextArea;

use super::{Ctx, Nav, Outcome, Screen};
use crate::answers::Answers;
use crate::regions::KMS_REGIONS;
use crate::tui::by_hand;
use crate::tui::keys::{Binding, DOWN, ENTER, Key, UP, back};
use crate::tui::msg::Command;

pub const WHY: &str = "The KMS key lives in one region, and Vault's seal must name the same one. \
Choose the region closest to your Vault server. Type to filter.";

pub struct Region {
    pub filter: TextArea<'static>,
    pub selected: usize,
    /// The region the operator chose (the answers', or one moved to with ↑↓): a filter
    /// that lists it keeps it selected, one that does not selects its first match.
    chosen: Option<&'static str>,
}

impl Region {
    fn with(a: &Answers) -> Region {
        let mut s = Region {
            filter: TextArea::default(),
            selected: 0,
            chosen: None,
        };
        s.select(&default_region(a));
        s.chosen = s.on();
        s
    }

    /// The regions the filter lets through.
    pub fn visible(&self) -> Vec<(&'static str, &'static str)> {
        let needle = self.filter.lines().join("").to_lowercase();
        KMS_REGIONS
            .iter()
            .filter(|(code, name)| code.contains(&needle) || name.to_lowercase().contains(&needle))
            .copied()
            .collect()
    }

    fn select(&mut self, code: &str) {
        self.selected = self.visible().iter().position(|(c, _)| *c == code).unwrap_or(0);
    }

    /// The region the selection is on, if any is visible.
    fn on(&self) -> Option<&'static str> {
        self.visible().get(self.selected).map(|(code, _)| *code)
    }

    /// The filter changed: the chosen region stays selected while it is listed (an
    /// emptied filter never jumps to the list's first region).
    fn refiltered(&mut self) {
        match self.chosen {
            Some(code) => self.select(code),
            None => self.selected = 0,
        }
    }
}

/// The answers' region, else the environment's, else us-east-1.
fn default_region(a: &Answers) -> String {
    [
        Some(a.region.clone()),
        std::env::var("AWS_REGION").ok(),
        std::env::var("AWS_DEFAULT_REGION").ok(),
    ]
    .into_iter()
    .flatten()
    .find(|r| crate::regions::region_name(r).is_some())
    .unwrap_or_else(|| "us-east-1".into())
}

impl Region {
    fn choose(&mut self, _: &mut Ctx, key: KeyEvent) -> Outcome {
        let count = self.visible().len();
        self.selected = if key.code == KeyCode::Up {
            self.selected.saturating_sub(1)
        } else {
            (self.selected + 1).min(count.saturating_sub(1))
        };
        self.chosen = self.on();
        Outcome::stay()
    }

    fn submit(&mut self, ctx: &mut Ctx, _: KeyEvent) -> Outcome {
        match self.visible().get(self.selected) {
            Some((code, _)) => {
                ctx.answers.region = code.to_string();
                Outcome::go(Nav::Forward)
            }
            None => Outcome::stay(),
        }
    }
}

impl Screen for Region {
    const KEYS: &'static [Binding<Self>] = &[
        Binding {
            keys: &[UP, DOWN],
            label: "↑↓",
            what: "choose",
            when: |s, _| s.visible().len() > 1,
            action: Region::choose,
        },
        Binding {
            keys: &[Key::Ctrl('u')],
            label: "Ctrl-U",
            what: "clear filter",
            when: |s, _| !s.filter.is_empty(),
            action: |s, _, _| {
                s.filter = TextArea::default();
                s.refiltered();
                Outcome::stay()
            },
        },
        Binding {
            keys: &[ENTER],
            label: "Enter",
            what: "continue",
            when: |s, _| !s.visible().is_empty(),
            action: Region::submit,
        },
        back(),
    ];

    fn new(a: &Answers) -> Region {
        Region::with(a)
    }

    fn enter(&mut self, ctx: &mut Ctx) -> Vec<Command> {
        let current = default_region(&ctx.answers);
        self.select(&current);
        self.chosen = self.on();
        vec![]
    }

    /// The filter always has focus.
    fn takes_typing(&self) -> bool {
        true
    }

    fn typed(&mut self, _: &mut Ctx, key: KeyEvent) -> Outcome {
        if self.filter.input(key) {
            self.refiltered();
        }
        Outcome::stay()
    }

    fn view(&self, frame: &mut Frame, area: Rect, ctx: &Ctx) {
        view(self, frame, area, ctx)
    }

    fn commands(&self, ctx: &Ctx) -> Vec<String> {
        let region = &ctx.answers.region;
        vec![
            format!(
                "export AWS_REGION={}",
                if region.is_empty() { "eu-west-1" } else { region }
            ),
            by_hand::aws(ctx, &["kms", "list-keys"]),
        ]
    }
}

fn view(region: &Region, frame: &mut Frame, area: Rect, ctx: &Ctx) {
    let t = &ctx.theme;
    let rest = super::why(frame, area, &super::why_or_joining(WHY, ctx), t);
    let [filter_area, list_area] = Layout::vertical([Constraint::Length(2), Constraint::Min(0)]).areas(rest);
    let [label, input] = Layout::horizontal([Constraint::Length(10), Constraint::Min(0)]).areas(Rect {
        height: 1,
        ..filter_area
    });
    frame.render_widget(Paragraph::new(Span::styled("› Filter", t.focused)), label);
    let mut filter = region.filter.clone();
    filter.set_cursor_line_style(ratatui::style::Style::default());
    filter.set_placeholder_text("type a code or a city");
    filter.set_placeholder_style(t.dim);
    frame.render_widget(&filter, input);
    let visible = region.visible();
    if visible.is_empty() {
        frame.render_widget(
            Paragraph::new(Line::styled(
                "No region matches; Backspace to widen the filter.",
                t.warn,
            )),
            list_area,
        );
        return;
    }
    let items: Vec<ListItem> = visible
        .iter()
        .map(|(code, name)| {
            ListItem::new(Line::from(vec![
                Span::raw(format!("{code:<16}")),
                Span::styled(*name, t.dim),
            ]))
        })
        .collect();
    let mut state = ListState::default().with_selected(Some(region.selected));
    let list = List::new(items).highlight_style(t.selected).highlight_symbol("› ");
    frame.render_stateful_widget(list, list_area, &mut state);
}
