//! One module per screen: its state, its update (keys in, commands out) and its view.

pub mod account;
pub mod done;
pub mod files;
pub mod iam;
pub mod init;
pub mod kms;
pub mod recovery;
pub mod region;
pub mod review;
pub mod run;
pub mod server;
pub mod welcome;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Wrap};

use crate::tui::theme::Theme;

/// Something loaded in the background (`ratatui`'s async example calls it LoadingState).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Lookup<T> {
    #[default]
    Idle,
    Loading,
    Loaded(T),
    Failed(String),
}

impl<T> Lookup<T> {
    pub fn is_loading(&self) -> bool {
        matches!(self, Lookup::Loading)
    }
}

pub const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

pub fn spinner(frame: usize) -> &'static str {
    SPINNER[frame % SPINNER.len()]
}

/// The screen's "why" paragraph for newcomers; returns the area below it.
pub fn why(frame: &mut Frame, area: Rect, text: &str, theme: &Theme) -> Rect {
    let width = area.width.max(1) as usize;
    // Wrapped height, counted the way Paragraph wraps words (close enough for layout).
    let lines: u16 = text
        .split('\n')
        .map(|l| (l.chars().count().max(1)).div_ceil(width) as u16)
        .sum::<u16>()
        .min(area.height);
    let [top, _, rest] =
        Layout::vertical([Constraint::Length(lines), Constraint::Length(1), Constraint::Min(0)]).areas(area);
    frame.render_widget(
        Paragraph::new(text.to_string())
            .style(theme.dim)
            .wrap(Wrap { trim: true }),
        top,
    );
    rest
}

/// Lines of text, wrapped, in the given area.
pub fn lines(frame: &mut Frame, area: Rect, lines: Vec<Line<'_>>) {
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), area);
}
