//! Region: a filterable list of the regions that offer KMS.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{List, ListItem, ListState, Paragraph};
use ratatui_textarea::TextArea;

use crate::answers::Answers;
use crate::regions::KMS_REGIONS;
use crate::tui::app::{App, Command, ScreenId};

pub const WHY: &str = "The KMS key lives in one region, and Vault's seal must name the same one. \
Choose the region closest to your Vault server. Type to filter.";

pub struct State {
    pub filter: TextArea<'static>,
    pub selected: usize,
}

impl State {
    pub fn new(a: &Answers) -> State {
        let mut s = State {
            filter: TextArea::default(),
            selected: 0,
        };
        s.select(&default_region(a));
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

pub fn enter(app: &mut App) -> Vec<Command> {
    let current = default_region(&app.answers);
    app.region.select(&current);
    vec![]
}

pub fn update(app: &mut App, key: KeyEvent) -> Vec<Command> {
    let count = app.region.visible().len();
    match key.code {
        KeyCode::Esc => app.go(ScreenId::Account),
        KeyCode::Up => {
            app.region.selected = app.region.selected.saturating_sub(1);
            vec![]
        }
        KeyCode::Down => {
            app.region.selected = (app.region.selected + 1).min(count.saturating_sub(1));
            vec![]
        }
        KeyCode::Enter => match app.region.visible().get(app.region.selected) {
            Some((code, _)) => {
                app.answers.region = code.to_string();
                app.forward()
            }
            None => vec![],
        },
        _ => {
            if app.region.filter.input(key) {
                app.region.selected = 0;
            }
            vec![]
        }
    }
}

pub fn keys() -> Vec<(&'static str, &'static str)> {
    vec![
        ("type", "filter"),
        ("↑↓", "choose"),
        ("Enter", "continue"),
        ("Esc", "back"),
    ]
}

pub fn view(frame: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let rest = super::why(frame, area, WHY, t);
    let [filter_area, list_area] = Layout::vertical([Constraint::Length(2), Constraint::Min(0)]).areas(rest);
    let [label, input] = Layout::horizontal([Constraint::Length(10), Constraint::Min(0)]).areas(Rect {
        height: 1,
        ..filter_area
    });
    frame.render_widget(Paragraph::new(Span::styled("› Filter", t.focused)), label);
    let mut filter = app.region.filter.clone();
    filter.set_cursor_line_style(ratatui::style::Style::default());
    filter.set_placeholder_text("type a code or a city");
    filter.set_placeholder_style(t.dim);
    frame.render_widget(&filter, input);
    let visible = app.region.visible();
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
    let mut state = ListState::default().with_selected(Some(app.region.selected));
    let list = List::new(items).highlight_style(t.selected).highlight_symbol("› ");
    frame.render_stateful_widget(list, list_area, &mut state);
}
