//! A form: labelled fields (single-line text, toggles, choices) with focus moving on
//! Tab/Shift-Tab and the arrows, and each text field checked as the operator types by
//! the same validators the answers file uses. The error shows under its field.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui_textarea::TextArea;

use crate::tui::theme::Theme;

pub type Validator = Box<dyn Fn(&str) -> Result<(), String>>;

pub enum Kind {
    Text {
        input: Box<TextArea<'static>>,
        validate: Validator,
    },
    Toggle(bool),
    Choice {
        options: Vec<&'static str>,
        index: usize,
    },
}

pub struct Field {
    pub id: &'static str,
    pub label: &'static str,
    pub kind: Kind,
    /// The validator's complaint, shown under the field.
    pub error: Option<String>,
    /// A neutral remark (what a path check found, versions found…).
    pub note: Option<String>,
    /// Not asked in the current mode: skipped by focus, checks and drawing.
    pub hidden: bool,
}

/// What a key did to the form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormEvent {
    /// The key was not the form's (Enter, Esc, …): the screen decides.
    Ignored,
    Moved,
    Changed(&'static str),
}

pub fn text(id: &'static str, label: &'static str, value: &str, validate: Validator) -> Field {
    let mut input = TextArea::new(vec![value.to_string()]);
    input.move_cursor(ratatui_textarea::CursorMove::End);
    Field {
        id,
        label,
        kind: Kind::Text {
            input: Box::new(input),
            validate,
        },
        error: None,
        note: None,
        hidden: false,
    }
}

pub fn toggle(id: &'static str, label: &'static str, on: bool) -> Field {
    Field {
        id,
        label,
        kind: Kind::Toggle(on),
        error: None,
        note: None,
        hidden: false,
    }
}

pub fn choice(id: &'static str, label: &'static str, options: Vec<&'static str>, index: usize) -> Field {
    Field {
        id,
        label,
        kind: Kind::Choice { options, index },
        error: None,
        note: None,
        hidden: false,
    }
}

/// A validator for a field that may stay empty.
pub fn optional(check: impl Fn(&str) -> Result<(), String> + 'static) -> Validator {
    Box::new(move |v: &str| if v.trim().is_empty() { Ok(()) } else { check(v) })
}

pub struct Form {
    pub fields: Vec<Field>,
    pub focus: usize,
}

impl Form {
    pub fn new(fields: Vec<Field>) -> Form {
        let mut form = Form { fields, focus: 0 };
        // Values the operator did not type are checked too: a bad default shows at once.
        for i in 0..form.fields.len() {
            form.revalidate(i);
        }
        form
    }

    fn index(&self, id: &str) -> usize {
        self.fields
            .iter()
            .position(|f| f.id == id)
            .unwrap_or_else(|| panic!("no field {id}"))
    }

    pub fn field_mut(&mut self, id: &str) -> &mut Field {
        let i = self.index(id);
        &mut self.fields[i]
    }

    pub fn value(&self, id: &str) -> String {
        match &self.fields[self.index(id)].kind {
            Kind::Text { input, .. } => input.lines().join(""),
            Kind::Toggle(on) => on.to_string(),
            Kind::Choice { options, index } => options[*index].to_string(),
        }
    }

    pub fn is_on(&self, id: &str) -> bool {
        matches!(self.fields[self.index(id)].kind, Kind::Toggle(true))
    }

    pub fn choice_index(&self, id: &str) -> usize {
        match self.fields[self.index(id)].kind {
            Kind::Choice { index, .. } => index,
            _ => 0,
        }
    }

    pub fn focused_id(&self) -> &'static str {
        self.fields[self.focus].id
    }

    pub fn set_hidden(&mut self, id: &str, hidden: bool) {
        self.field_mut(id).hidden = hidden;
    }

    pub fn set_text(&mut self, id: &str, value: &str) {
        let i = self.index(id);
        if let Kind::Text { input, .. } = &mut self.fields[i].kind {
            **input = TextArea::new(vec![value.to_string()]);
            input.move_cursor(ratatui_textarea::CursorMove::End);
        }
        self.revalidate(i);
    }

    /// Moves focus by `step` (+1 or -1) to the next visible field, wrapping.
    fn step_focus(&mut self, step: isize) {
        let n = self.fields.len() as isize;
        let mut i = self.focus as isize;
        for _ in 0..n {
            i = (i + step).rem_euclid(n);
            if !self.fields[i as usize].hidden {
                break;
            }
        }
        self.focus = i as usize;
    }

    /// Whether focus is on the last visible field (a screen may put more below it).
    pub fn at_last(&self) -> bool {
        self.fields.iter().rposition(|f| !f.hidden) == Some(self.focus)
    }

    fn revalidate(&mut self, i: usize) {
        if self.fields[i].hidden {
            self.fields[i].error = None;
            return;
        }
        if let Kind::Text { input, validate } = &self.fields[i].kind {
            let value = input.lines().join("");
            self.fields[i].error = validate(&value).err();
        }
    }

    /// Checks every field; true when all pass. Focus goes to the first problem.
    pub fn validate_all(&mut self) -> bool {
        for i in 0..self.fields.len() {
            self.revalidate(i);
        }
        match self.fields.iter().position(|f| f.error.is_some()) {
            Some(i) => {
                self.focus = i;
                false
            }
            None => true,
        }
    }

    pub fn handle_key(&mut self, key: KeyEvent) -> FormEvent {
        match key.code {
            KeyCode::Tab | KeyCode::Down => {
                self.step_focus(1);
                return FormEvent::Moved;
            }
            KeyCode::BackTab | KeyCode::Up => {
                self.step_focus(-1);
                return FormEvent::Moved;
            }
            KeyCode::Enter | KeyCode::Esc => return FormEvent::Ignored,
            _ => {}
        }
        let id = self.fields[self.focus].id;
        let changed = match &mut self.fields[self.focus].kind {
            Kind::Toggle(on) if matches!(key.code, KeyCode::Char(' ') | KeyCode::Left | KeyCode::Right) => {
                *on = !*on;
                true
            }
            Kind::Choice { options, index } => match key.code {
                KeyCode::Right | KeyCode::Char(' ') => {
                    *index = (*index + 1) % options.len();
                    true
                }
                KeyCode::Left => {
                    *index = (*index + options.len() - 1) % options.len();
                    true
                }
                _ => false,
            },
            Kind::Text { input, .. } => {
                // Single line: no newlines; Ctrl-U clears like a shell.
                if key.code == KeyCode::Char('u') && key.modifiers.contains(KeyModifiers::CONTROL) {
                    input.move_cursor(ratatui_textarea::CursorMove::End);
                    input.delete_line_by_head()
                } else if key.modifiers.contains(KeyModifiers::CONTROL) && matches!(key.code, KeyCode::Char('m' | 'j'))
                {
                    false
                } else {
                    input.input(key)
                }
            }
            Kind::Toggle(_) => false,
        };
        if changed {
            let i = self.focus;
            self.revalidate(i);
            FormEvent::Changed(id)
        } else {
            FormEvent::Ignored
        }
    }

    fn label_width(&self) -> u16 {
        // The focus marker (2 columns), the longest label, then a gap of 2.
        self.fields
            .iter()
            .filter(|f| !f.hidden)
            .map(|f| f.label.chars().count())
            .max()
            .unwrap_or(0) as u16
            + 4
    }

    /// Rows the text under a field takes when wrapped to `width`.
    fn below_rows(&self, field: &Field, width: u16) -> u16 {
        let text_width = width.saturating_sub(self.label_width()).max(1) as usize;
        field
            .error
            .as_ref()
            .map(|e| e.chars().count() + 2)
            .or(field.note.as_ref().map(|n| n.chars().count()))
            .map_or(0, |n| n.div_ceil(text_width) as u16)
    }

    /// Rows the form takes in `width` columns: each field's row, and its wrapped
    /// error or note.
    pub fn height(&self, width: u16) -> u16 {
        self.fields
            .iter()
            .filter(|f| !f.hidden)
            .map(|f| 1 + self.below_rows(f, width))
            .sum()
    }

    /// Draws the form at the top of `area`; returns what is left below it after a blank
    /// row, for the screen's own text.
    pub fn render_on_top(&self, frame: &mut Frame, area: Rect, theme: &Theme) -> Rect {
        let [form_area, _, below] = ratatui::layout::Layout::vertical([
            ratatui::layout::Constraint::Length(self.height(area.width)),
            ratatui::layout::Constraint::Length(1),
            ratatui::layout::Constraint::Min(0),
        ])
        .areas(area);
        self.render(frame, form_area, theme);
        below
    }

    pub fn render(&self, frame: &mut Frame, area: Rect, theme: &Theme) {
        let label_width = self.label_width();
        let mut y = area.y;
        for (i, field) in self.fields.iter().enumerate().filter(|(_, f)| !f.hidden) {
            if y >= area.bottom() {
                break;
            }
            let focused = i == self.focus;
            let marker = if focused { "› " } else { "  " };
            let label_style = if focused { theme.focused } else { Style::default() };
            let label = Paragraph::new(Line::from(vec![
                Span::styled(marker, theme.accent),
                Span::styled(
                    format!("{:<w$}", field.label, w = label_width as usize - 4),
                    label_style,
                ),
            ]));
            let label_area = Rect {
                x: area.x,
                y,
                width: label_width.min(area.width),
                height: 1,
            };
            frame.render_widget(label, label_area);
            let value_area = Rect {
                x: area.x + label_width,
                y,
                width: area.width.saturating_sub(label_width),
                height: 1,
            };
            match &field.kind {
                Kind::Text { input, .. } => {
                    let mut shown = (**input).clone();
                    shown.set_cursor_line_style(Style::default());
                    shown.set_style(if focused {
                        theme.focused.remove_modifier(Modifier::BOLD)
                    } else {
                        Style::default()
                    });
                    if !focused {
                        shown.set_cursor_style(Style::default());
                    }
                    frame.render_widget(&shown, value_area);
                }
                Kind::Toggle(on) => {
                    let text = if *on { "[x] yes" } else { "[ ] no" };
                    frame.render_widget(Paragraph::new(Span::styled(text, label_style)), value_area);
                }
                Kind::Choice { options, index } => {
                    let spans: Vec<Span> = options
                        .iter()
                        .enumerate()
                        .flat_map(|(j, o)| {
                            // The mark tells the choice without colour (NO_COLOR, screen readers).
                            let (mark, style) = if j == *index {
                                ("●", theme.selected)
                            } else {
                                ("○", theme.dim)
                            };
                            [Span::styled(format!("{mark} {o}"), style), Span::raw("  ")]
                        })
                        .collect();
                    frame.render_widget(Paragraph::new(Line::from(spans)), value_area);
                }
            }
            y += 1;
            let below = match (&field.error, &field.note) {
                (Some(e), _) => Some(Span::styled(format!("✗ {e}"), theme.error)),
                (None, Some(n)) => Some(Span::styled(n.clone(), theme.dim)),
                _ => None,
            };
            if let Some(span) = below
                && y < area.bottom()
            {
                let rows = self.below_rows(field, area.width).min(area.bottom() - y);
                let area = Rect {
                    x: area.x + label_width,
                    y,
                    width: area.width.saturating_sub(label_width),
                    height: rows,
                };
                frame.render_widget(Paragraph::new(span).wrap(ratatui::widgets::Wrap { trim: true }), area);
                y += rows;
            }
        }
    }
}

use ratatui::style::{Modifier, Style};

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyEventKind;

    pub fn key(code: KeyCode) -> KeyEvent {
        KeyEvent {
            code,
            modifiers: KeyModifiers::NONE,
            kind: KeyEventKind::Press,
            state: crossterm::event::KeyEventState::NONE,
        }
    }

    fn form() -> Form {
        Form::new(vec![
            text(
                "user",
                "IAM user",
                "vault",
                Box::new(crate::answers::validate_iam_user_name),
            ),
            toggle("rotation", "Rotation", true),
            choice("launch", "Launch", vec!["systemd", "background", "none"], 0),
        ])
    }

    #[test]
    fn typing_validates_as_you_go() {
        let mut f = form();
        assert_eq!(f.fields[0].error, None);
        assert_eq!(f.handle_key(key(KeyCode::Char(' '))), FormEvent::Changed("user"));
        assert!(f.fields[0].error.as_deref().unwrap().contains("characters"));
        f.handle_key(key(KeyCode::Backspace));
        assert_eq!(f.fields[0].error, None);
        assert_eq!(f.value("user"), "vault");
    }

    #[test]
    fn focus_moves_and_wraps_and_toggles_and_choices_change() {
        let mut f = form();
        f.handle_key(key(KeyCode::Tab));
        assert_eq!(f.focused_id(), "rotation");
        f.handle_key(key(KeyCode::Char(' ')));
        assert!(!f.is_on("rotation"));
        f.handle_key(key(KeyCode::Down));
        f.handle_key(key(KeyCode::Left));
        assert_eq!(f.value("launch"), "none");
        f.handle_key(key(KeyCode::Tab));
        assert_eq!(f.focused_id(), "user");
        f.handle_key(key(KeyCode::BackTab));
        assert_eq!(f.focused_id(), "launch");
        assert_eq!(f.handle_key(key(KeyCode::Enter)), FormEvent::Ignored);
    }

    #[test]
    fn hidden_fields_are_skipped() {
        let mut f = form();
        f.set_hidden("rotation", true);
        f.handle_key(key(KeyCode::Tab));
        assert_eq!(f.focused_id(), "launch");
        assert!(f.at_last());
        f.set_text("user", "bad name");
        f.set_hidden("user", true);
        assert!(f.validate_all(), "a hidden field is not asked, so not checked");
    }

    #[test]
    fn validate_all_focuses_the_first_problem() {
        let mut f = form();
        f.handle_key(key(KeyCode::Char('!')));
        f.focus = 2;
        assert!(!f.validate_all());
        assert_eq!(f.focused_id(), "user");
    }
}
