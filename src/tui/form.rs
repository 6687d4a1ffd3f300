//! A form: fields (single-line text, toggles, choices), each a question of the table in
//! `questions.rs` (its label, its check, its options), with focus moving on
//! Tab/Shift-Tab and the arrows, and each text field checked as the operator types by
//! the same validators the answers file and the line prompts use. The error shows under its field. What a
//! background check (a probe of the binary, a path, a PGP file) found is kept apart
//! from the validator's error: checking again never wipes it.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui_textarea::TextArea;

use crate::questions::Q;
use crate::tui::ctx::{Ctx, Outcome};
use crate::tui::keys::{self, BACKTAB, Binding, DOWN, Key, LEFT, RIGHT, SPACE, TAB, UP};
use crate::tui::theme::Theme;

pub enum Kind {
    /// Checked by its question's own check as typed.
    Text(Box<TextArea<'static>>),
    Toggle(bool),
    Choice {
        options: Vec<&'static str>,
        index: usize,
    },
}

pub struct Field {
    pub id: Q,
    /// The question's label (`questions.rs`).
    pub label: &'static str,
    pub kind: Kind,
    /// The validator's complaint, shown under the field.
    pub error: Option<String>,
    /// A neutral remark that does not depend on a check (what a toggle implies).
    pub note: Option<String>,
    /// What a background check found, for the value it was made for.
    pub probe: Option<Probed>,
    /// Not asked in the current mode: skipped by focus, checks and drawing.
    pub hidden: bool,
}

/// What a background check found about one value of a field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probed {
    pub value: String,
    /// Blocks going on, like a validator's error, while the value is unchanged.
    pub problem: Option<String>,
    pub note: Option<String>,
}

/// A text field for question `id` (a `Kind::Text` question of the table).
pub fn text(id: Q, value: &str) -> Field {
    let mut input = TextArea::new(vec![value.to_string()]);
    input.move_cursor(ratatui_textarea::CursorMove::End);
    field(id, Kind::Text(Box::new(input)))
}

/// A yes/no field for question `id`.
pub fn toggle(id: Q, on: bool) -> Field {
    field(id, Kind::Toggle(on))
}

/// A choice among question `id`'s options, `index` chosen.
pub fn choice(id: Q, index: usize) -> Field {
    let options = id.options().to_vec();
    let index = index.min(options.len().saturating_sub(1));
    field(id, Kind::Choice { options, index })
}

fn field(id: Q, kind: Kind) -> Field {
    Field {
        id,
        label: id.label(),
        kind,
        error: None,
        note: None,
        probe: None,
        hidden: false,
    }
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

    fn index(&self, id: Q) -> usize {
        self.fields
            .iter()
            .position(|f| f.id == id)
            .unwrap_or_else(|| panic!("no field {id:?} on this form"))
    }

    pub fn field(&self, id: Q) -> &Field {
        &self.fields[self.index(id)]
    }

    /// Chooses option `index` of a choice field.
    pub fn set_choice(&mut self, id: Q, chosen: usize) {
        let i = self.index(id);
        if let Kind::Choice { options, index } = &mut self.fields[i].kind {
            *index = chosen.min(options.len().saturating_sub(1));
        }
        self.fields[i].error = None;
    }

    /// Sets a yes/no field.
    pub fn set_on(&mut self, id: Q, on: bool) {
        let i = self.index(id);
        if let Kind::Toggle(value) = &mut self.fields[i].kind {
            *value = on;
        }
    }

    pub fn field_mut(&mut self, id: Q) -> &mut Field {
        let i = self.index(id);
        &mut self.fields[i]
    }

    pub fn value(&self, id: Q) -> String {
        match &self.fields[self.index(id)].kind {
            Kind::Text(input) => input.lines().join(""),
            Kind::Toggle(on) => on.to_string(),
            Kind::Choice { options, index } => options[*index].to_string(),
        }
    }

    pub fn is_on(&self, id: Q) -> bool {
        matches!(self.fields[self.index(id)].kind, Kind::Toggle(true))
    }

    pub fn choice_index(&self, id: Q) -> usize {
        match self.fields[self.index(id)].kind {
            Kind::Choice { index, .. } => index,
            _ => 0,
        }
    }

    pub fn focused_id(&self) -> Q {
        self.fields[self.focus].id
    }

    /// Focus on field `id` (a problem found beyond its validator, shown under it).
    pub fn focus_on(&mut self, id: Q) {
        self.focus = self.index(id);
    }

    pub fn set_hidden(&mut self, id: Q, hidden: bool) {
        let i = self.index(id);
        self.fields[i].hidden = hidden;
        // A hidden field is not asked, so it has nothing to complain of; a shown one is
        // checked as it stands.
        self.revalidate(i);
    }

    pub fn set_text(&mut self, id: Q, value: &str) {
        let i = self.index(id);
        if let Kind::Text(input) = &mut self.fields[i].kind {
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
        if let Kind::Text(input) = &self.fields[i].kind {
            let value = input.lines().join("");
            self.fields[i].error = self.fields[i].id.check(&value).err();
        }
    }

    /// Checks every field; true when all pass, a check's problem counting as a failure.
    /// Focus goes to the first problem.
    pub fn validate_all(&mut self) -> bool {
        for i in 0..self.fields.len() {
            self.revalidate(i);
        }
        let failing =
            |f: &Field| !f.hidden && (f.error.is_some() || self.probe_of(f.id).is_some_and(|p| p.problem.is_some()));
        match self.fields.iter().position(failing) {
            Some(i) => {
                self.focus = i;
                false
            }
            None => true,
        }
    }

    fn focused_kind(&self) -> &Kind {
        &self.fields[self.focus].kind
    }

    /// Focus is on a text field (a form whose fields are all hidden has none).
    pub fn on_text(&self) -> bool {
        !self.fields[self.focus].hidden && matches!(self.focused_kind(), Kind::Text(_))
    }

    pub fn on_choice(&self) -> bool {
        !self.fields[self.focus].hidden && matches!(self.focused_kind(), Kind::Choice { .. } | Kind::Toggle(_))
    }

    /// Tab and ↓ go to the next field, Shift-Tab and ↑ to the previous one.
    pub fn move_focus(&mut self, key: &KeyEvent) {
        let forward = matches!(key.code, KeyCode::Tab | KeyCode::Down);
        self.step_focus(if forward { 1 } else { -1 });
    }

    /// → and Space pick the next option (or flip a toggle), ← the previous one.
    pub fn change(&mut self, key: &KeyEvent) -> Q {
        let back = key.code == KeyCode::Left;
        match &mut self.fields[self.focus].kind {
            Kind::Toggle(on) => *on = !*on,
            Kind::Choice { options, index } => {
                let n = options.len();
                *index = if back { (*index + n - 1) % n } else { (*index + 1) % n };
            }
            Kind::Text(_) => {}
        }
        // A complaint about the old choice (set by the screen) goes with it.
        self.fields[self.focus].error = None;
        self.fields[self.focus].id
    }

    /// Empties the focused text field, as Ctrl-U does in a shell.
    pub fn clear(&mut self) -> Q {
        let id = self.focused_id();
        self.set_text(id, "");
        id
    }

    /// A typing key (see [`keys::is_typing`]) into the focused text field.
    pub fn type_key(&mut self, key: KeyEvent) -> Option<Q> {
        let Kind::Text(input) = &mut self.fields[self.focus].kind else {
            return None;
        };
        if !input.input(key) {
            return None;
        }
        let i = self.focus;
        self.revalidate(i);
        Some(self.fields[i].id)
    }

    /// The check's finding for the field's current value, if it is in.
    pub fn probe_of(&self, id: Q) -> Option<&Probed> {
        let field = &self.fields[self.index(id)];
        field.probe.as_ref().filter(|p| p.value == self.value(id))
    }

    /// The values of fields `ids` that are not empty and whose check is not in yet.
    pub fn unchecked(&self, ids: &[Q]) -> Vec<String> {
        ids.iter()
            .map(|id| (*id, self.value(*id)))
            .filter(|(id, v)| !v.trim().is_empty() && self.probe_of(*id).is_none())
            .map(|(_, v)| v)
            .collect()
    }

    /// Keeps a check's finding for every field of `ids` that still holds `value`.
    pub fn probed(&mut self, ids: &[Q], value: &str, problem: Option<String>, note: Option<String>) {
        for i in 0..self.fields.len() {
            if ids.contains(&self.fields[i].id) && self.value(self.fields[i].id) == value {
                self.fields[i].probe = Some(Probed {
                    value: value.to_string(),
                    problem: problem.clone(),
                    note: note.clone(),
                });
            }
        }
    }

    /// The line under a field: the validator's error, else the check's problem, else its
    /// note (both only for the value checked), else the field's own note.
    fn below(&self, field: &Field) -> Option<(String, bool)> {
        let probe = self.probe_of(field.id);
        if let Some(e) = field.error.clone().or_else(|| probe.and_then(|p| p.problem.clone())) {
            return Some((format!("✗ {e}"), true));
        }
        probe
            .and_then(|p| p.note.clone())
            .or_else(|| field.note.clone())
            .map(|n| (n, false))
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
        // By words, as the paragraph wraps it: a count by characters comes a row short.
        self.below(field).map_or(0, |(text, _)| {
            crate::tui::wrap::word_wrapped_rows(&text, text_width) as u16
        })
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
                Kind::Text(input) => {
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
            let below = self
                .below(field)
                .map(|(text, error)| Span::styled(text, if error { theme.error } else { theme.dim }));
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

/// A screen built on a form: the form's own keys come from here, one definition for
/// every such screen.
pub trait FormScreen {
    fn form(&self) -> &Form;
    fn form_mut(&mut self) -> &mut Form;

    /// A field's value changed (typed, chosen, cleared).
    fn changed(&mut self, _ctx: &mut Ctx, _id: Q) -> Outcome {
        Outcome::stay()
    }

    /// Focus left field `from`.
    fn left(&mut self, _ctx: &mut Ctx, _from: Q) -> Outcome {
        Outcome::stay()
    }
}

fn moved<S: FormScreen>(s: &mut S, ctx: &mut Ctx, key: KeyEvent) -> Outcome {
    let from = s.form().focused_id();
    s.form_mut().move_focus(&key);
    s.left(ctx, from)
}

fn changed<S: FormScreen>(s: &mut S, ctx: &mut Ctx, key: KeyEvent) -> Outcome {
    let id = s.form_mut().change(&key);
    s.changed(ctx, id)
}

fn cleared<S: FormScreen>(s: &mut S, ctx: &mut Ctx, _: KeyEvent) -> Outcome {
    let id = s.form_mut().clear();
    s.changed(ctx, id)
}

/// Typing into the focused text field (a screen's `Screen::typed`).
pub fn typed<S: FormScreen>(s: &mut S, ctx: &mut Ctx, key: KeyEvent) -> Outcome {
    match s.form_mut().type_key(key) {
        Some(id) => s.changed(ctx, id),
        None => Outcome::stay(),
    }
}

fn on_choice<S: FormScreen>(s: &S, _: &Ctx) -> bool {
    s.form().on_choice()
}

/// A text field with something to clear.
pub fn clearable<S: FormScreen>(s: &S, _: &Ctx) -> bool {
    let form = s.form();
    form.on_text() && !form.value(form.focused_id()).is_empty()
}

pub const fn focus_keys<S: FormScreen>() -> Binding<S> {
    Binding {
        keys: &[TAB, BACKTAB, UP, DOWN],
        label: "Tab/↑↓",
        what: "field",
        when: keys::always,
        action: moved,
    }
}

pub const fn change_keys<S: FormScreen>() -> Binding<S> {
    Binding {
        keys: &[LEFT, RIGHT, SPACE],
        label: "←→/Space",
        what: "change",
        when: on_choice,
        action: changed,
    }
}

pub const fn clear_keys<S: FormScreen>() -> Binding<S> {
    Binding {
        keys: &[Key::Ctrl('u')],
        label: "Ctrl-U",
        what: "clear",
        when: clearable,
        action: cleared,
    }
}

use ratatui::style::{Modifier, Style};

#[cfg(test)]
mod tests {
    use super::*;

    pub fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, crossterm::event::KeyModifiers::NONE)
    }

    fn form() -> Form {
        Form::new(vec![
            text(Q::User, "vault"),
            toggle(Q::Rotation, true),
            choice(Q::Launch, 0),
        ])
    }

    #[test]
    fn typing_validates_as_you_go() {
        let mut f = form();
        assert_eq!(f.fields[0].error, None);
        assert_eq!(f.type_key(key(KeyCode::Char(' '))), Some(Q::User));
        assert!(f.fields[0].error.as_deref().unwrap().contains("characters"));
        f.type_key(key(KeyCode::Backspace));
        assert_eq!(f.fields[0].error, None);
        assert_eq!(f.value(Q::User), "vault");
    }

    #[test]
    fn focus_moves_and_wraps_and_toggles_and_choices_change() {
        let mut f = form();
        f.move_focus(&key(KeyCode::Tab));
        assert_eq!(f.focused_id(), Q::Rotation);
        assert_eq!(f.change(&key(KeyCode::Char(' '))), Q::Rotation);
        assert!(!f.is_on(Q::Rotation));
        f.move_focus(&key(KeyCode::Down));
        f.change(&key(KeyCode::Left));
        assert_eq!(f.value(Q::Launch), "none");
        f.move_focus(&key(KeyCode::Tab));
        assert_eq!(f.focused_id(), Q::User);
        f.move_focus(&key(KeyCode::BackTab));
        assert_eq!(f.focused_id(), Q::Launch);
    }

    #[test]
    fn hidden_fields_are_skipped() {
        let mut f = form();
        f.set_hidden(Q::Rotation, true);
        f.move_focus(&key(KeyCode::Tab));
        assert_eq!(f.focused_id(), Q::Launch);
        assert!(f.at_last());
        f.set_text(Q::User, "bad name");
        f.set_hidden(Q::User, true);
        assert!(f.validate_all(), "a hidden field is not asked, so not checked");
    }

    #[test]
    fn validate_all_focuses_the_first_problem() {
        let mut f = form();
        f.type_key(key(KeyCode::Char('!')));
        f.focus = 2;
        assert!(!f.validate_all());
        assert_eq!(f.focused_id(), Q::User);
    }

    #[test]
    fn a_checks_problem_survives_validation_and_goes_with_its_value() {
        let mut f = form();
        f.probed(&[Q::User], "vault", Some("taken".into()), None);
        f.focus = 2;
        assert!(!f.validate_all(), "the check's problem blocks like a validator's error");
        assert_eq!(f.focused_id(), Q::User);
        assert_eq!(f.probe_of(Q::User).and_then(|p| p.problem.as_deref()), Some("taken"));
        f.type_key(key(KeyCode::Char('2')));
        assert_eq!(f.probe_of(Q::User), None, "it was about the old value");
        assert!(f.validate_all());
    }
}
