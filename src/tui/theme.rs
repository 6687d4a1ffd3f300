//! Colours, or none: `NO_COLOR` (https://no-color.org) turns every colour off and
//! leaves only bold and reverse, so selection stays visible.

use ratatui::style::{Color, Modifier, Style};

#[derive(Debug, Clone, Copy)]
pub struct Theme {
    pub title: Style,
    pub accent: Style,
    pub dim: Style,
    pub ok: Style,
    pub warn: Style,
    pub error: Style,
    pub selected: Style,
    pub focused: Style,
    pub banner: Style,
}

impl Theme {
    pub fn new(no_color: bool) -> Theme {
        if no_color {
            let plain = Style::default();
            return Theme {
                title: plain.add_modifier(Modifier::BOLD),
                accent: plain.add_modifier(Modifier::BOLD),
                dim: plain,
                ok: plain,
                warn: plain.add_modifier(Modifier::BOLD),
                error: plain.add_modifier(Modifier::BOLD),
                selected: plain.add_modifier(Modifier::REVERSED),
                focused: plain.add_modifier(Modifier::BOLD),
                banner: plain.add_modifier(Modifier::REVERSED),
            };
        }
        Theme {
            title: Style::default().fg(Color::Cyan).add_modifier(Modifier::BOLD),
            accent: Style::default().fg(Color::Cyan),
            dim: Style::default().fg(Color::DarkGray),
            ok: Style::default().fg(Color::Green),
            warn: Style::default().fg(Color::Yellow),
            error: Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
            selected: Style::default().fg(Color::Black).bg(Color::Cyan),
            focused: Style::default().fg(Color::Cyan).add_modifier(Modifier::BOLD),
            banner: Style::default()
                .fg(Color::Black)
                .bg(Color::Yellow)
                .add_modifier(Modifier::BOLD),
        }
    }

    /// Colours unless the environment asks for none.
    pub fn from_env() -> Theme {
        Theme::new(std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()))
    }
}
