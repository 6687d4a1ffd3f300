//! Review: the plan (every call the run will make, from a real read-only pass over
//! AWS and the files), with `b` to go back to any question.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, List, ListItem, ListState, Paragraph, Wrap};

use super::Lookup;
use crate::answers::Answers;
use crate::run::Call;
use crate::tui::app::{App, Command, ScreenId};

pub const WHY: &str = "Nothing has changed yet. Below is every change the run will make, found by reading your \
account and files.";

#[derive(Default)]
pub struct State {
    pub plan: Lookup<Vec<Call>>,
    /// The answers `plan` is (being) made from: Enter runs exactly these, or plans again.
    pub planned_for: Option<Answers>,
    pub scroll: usize,
    /// The "go back to…" menu, with its selected question.
    pub back_menu: Option<usize>,
}

impl State {
    pub fn planning(&self) -> bool {
        self.plan.is_loading()
    }
}

pub fn enter(app: &mut App) -> Vec<Command> {
    app.review.plan = Lookup::Loading;
    app.review.scroll = 0;
    app.review.back_menu = None;
    app.review.planned_for = Some(app.answers.clone());
    vec![Command::Plan(app.answers.clone())]
}

pub fn on_plan(app: &mut App, planned: Answers, result: Result<Vec<Call>, String>) -> Vec<Command> {
    // A plan of answers changed since (an earlier visit's) must never be the one shown
    // while Enter runs the new answers.
    if app.review.planned_for.as_ref() != Some(&planned) {
        return vec![];
    }
    app.review.plan = match result {
        Ok(calls) => Lookup::Loaded(calls),
        Err(e) => Lookup::Failed(e),
    };
    vec![]
}

pub fn update(app: &mut App, key: KeyEvent) -> Vec<Command> {
    if let Some(selected) = app.review.back_menu {
        let n = ScreenId::QUESTIONS.len();
        match key.code {
            KeyCode::Up => app.review.back_menu = Some(selected.saturating_sub(1)),
            KeyCode::Down => app.review.back_menu = Some((selected + 1).min(n - 1)),
            KeyCode::Esc => app.review.back_menu = None,
            KeyCode::Enter => {
                app.review.back_menu = None;
                return app.go(ScreenId::QUESTIONS[selected]);
            }
            _ => {}
        }
        return vec![];
    }
    match key.code {
        KeyCode::Char('b') => {
            app.review.back_menu = Some(0);
            vec![]
        }
        KeyCode::Esc => app.go(ScreenId::Init),
        KeyCode::Up => {
            app.review.scroll = app.review.scroll.saturating_sub(1);
            vec![]
        }
        KeyCode::Down => {
            app.review.scroll += 1;
            vec![]
        }
        KeyCode::Char('r') if matches!(app.review.plan, Lookup::Failed(_)) => enter(app),
        KeyCode::Enter if matches!(app.review.plan, Lookup::Loaded(_)) => {
            if app.review.planned_for.as_ref() == Some(&app.answers) {
                app.go(ScreenId::Run)
            } else {
                // The answers changed after this plan was made: show theirs first.
                enter(app)
            }
        }
        _ => vec![],
    }
}

pub fn keys(app: &App) -> Vec<(&'static str, &'static str)> {
    if app.review.back_menu.is_some() {
        return vec![("↑↓", "choose"), ("Enter", "go there"), ("Esc", "stay")];
    }
    match app.review.plan {
        Lookup::Loaded(_) => vec![
            ("Enter", "run it"),
            ("b", "back to…"),
            ("↑↓", "scroll"),
            ("Esc", "back"),
        ],
        Lookup::Failed(_) => vec![("r", "plan again"), ("b", "back to…"), ("Esc", "back")],
        _ => vec![("b", "back to…"), ("Esc", "back")],
    }
}

fn summary(app: &App) -> Vec<Line<'static>> {
    let a = &app.answers;
    let key = if a.kms.create {
        format!("new key {}", a.kms.alias)
    } else {
        format!("existing key {}", a.kms.key_id.clone().unwrap_or_default())
    };
    let binary = std::path::Path::new(&a.server.binary)
        .file_name()
        .map_or(a.server.binary.clone(), |n| n.to_string_lossy().into_owned());
    let kms_endpoint = match &app.account.identity {
        Lookup::Loaded(id) => id.kms_endpoint.clone(),
        _ => a.endpoint_url.clone(),
    };
    vec![
        Line::raw(format!(
            "AWS     {} in {} · user {} · policy {}",
            key, a.region, a.iam.user_name, a.iam.policy_name
        )),
        // Where the seal will call KMS: shown, because an emulator or VPC endpoint can
        // also come from the environment, not only from the answers.
        Line::raw(format!(
            "KMS     {}",
            kms_endpoint.map_or_else(|| format!("AWS itself ({})", a.region), |e| format!("at {e}"))
        )),
        Line::raw(format!(
            "Files   {} · {}",
            a.output.env_file.display(),
            a.output.vault_config.display()
        )),
        Line::raw(format!(
            "Server  {binary} on {} ({}) · {} recovery shares",
            a.server.listen,
            a.server.launch.as_str(),
            a.init.recovery_shares
        )),
    ]
}

pub fn view(frame: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let rest = super::why(frame, area, WHY, t);
    let summary = summary(app);
    // As tall as the summary wraps to: at 80 columns a line can take two rows.
    let width = rest.width.max(1) as usize;
    let rows: usize = summary.iter().map(|l| l.width().max(1).div_ceil(width)).sum();
    let [head, _, body] = Layout::vertical([
        Constraint::Length(rows as u16),
        Constraint::Length(1),
        Constraint::Min(0),
    ])
    .areas(rest);
    super::lines(frame, head, summary);
    match &app.review.plan {
        Lookup::Idle => {}
        Lookup::Loading => super::lines(
            frame,
            body,
            vec![Line::from(vec![
                Span::styled(super::spinner(app.frame), t.accent),
                Span::raw(" Planning: reading the account and checking the files…"),
            ])],
        ),
        Lookup::Failed(e) => {
            let text = vec![
                Line::styled("The plan found a problem; nothing was changed:", t.warn),
                Line::styled(e.clone(), t.error),
            ];
            frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: false }), body);
        }
        Lookup::Loaded(calls) if calls.is_empty() => super::lines(
            frame,
            body,
            vec![Line::styled(
                "Nothing to change: everything exists as asked. Enter checks it all again.",
                t.ok,
            )],
        ),
        Lookup::Loaded(calls) => {
            // Wrapped, not cut: an ARN or a path does not fit in 80 columns.
            let items: Vec<Line> = calls
                .iter()
                .enumerate()
                .skip(app.review.scroll.min(calls.len().saturating_sub(1)))
                .map(|(i, c)| {
                    let detail = c.detail.lines().next().unwrap_or("").to_string();
                    Line::from(vec![
                        Span::styled(format!("{:>2}. {:<22}", i + 1, c.action), t.accent),
                        Span::raw(detail),
                    ])
                })
                .collect();
            frame.render_widget(Paragraph::new(items).wrap(Wrap { trim: false }), body);
        }
    }
    if let Some(selected) = app.review.back_menu {
        let width = 30.min(area.width);
        let height = (ScreenId::QUESTIONS.len() as u16 + 2).min(area.height);
        let popup = Rect {
            x: area.x + (area.width - width) / 2,
            y: area.y + (area.height - height) / 2,
            width,
            height,
        };
        frame.render_widget(Clear, popup);
        let items: Vec<ListItem> = ScreenId::QUESTIONS.iter().map(|s| ListItem::new(s.title())).collect();
        let mut state = ListState::default().with_selected(Some(selected));
        let list = List::new(items)
            .block(Block::bordered().title(" Go back to "))
            .highlight_style(t.selected)
            .highlight_symbol("› ");
        frame.render_stateful_widget(list, popup, &mut state);
    }
}
