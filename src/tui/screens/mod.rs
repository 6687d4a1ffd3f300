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
    let lines = (text.split('\n').map(|l| word_wrapped_rows(l, width)).sum::<usize>() as u16).min(area.height);
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

/// How many rows `line` takes when wrapped at word boundaries to `width` columns, as
/// `Paragraph` with `Wrap` does: a count by characters alone comes short by a row when
/// words are pushed to the next one, and the paragraph's end is then cut off.
pub fn word_wrapped_rows(line: &str, width: usize) -> usize {
    let width = width.max(1);
    let mut rows = 1;
    let mut used = 0;
    for word in line.split_whitespace() {
        let len = word.chars().count();
        let needed = if used == 0 { len } else { used + 1 + len };
        if needed <= width {
            used = needed;
        } else if len > width {
            // A word longer than a row is broken across rows.
            rows += usize::from(used > 0) + (len - 1) / width;
            used = (len - 1) % width + 1;
        } else {
            rows += 1;
            used = len;
        }
    }
    rows
}

/// Lines of text, wrapped, in the given area.
pub fn lines(frame: &mut Frame, area: Rect, lines: Vec<Line<'_>>) {
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), area);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapped_rows_count_words_pushed_to_the_next_row() {
        assert_eq!(word_wrapped_rows("", 10), 1);
        assert_eq!(word_wrapped_rows("aaaa bbbb", 9), 1);
        assert_eq!(word_wrapped_rows("aaaa bbbb", 8), 2);
        // 20 characters fit two rows of 10 by count, but not by words.
        assert_eq!(word_wrapped_rows("aaaaaa bbbbbb cccccc", 10), 3);
        assert_eq!(word_wrapped_rows("x aaaaaaaaaaaaaaaaaaaaaaaaa", 10), 4);
    }
}
