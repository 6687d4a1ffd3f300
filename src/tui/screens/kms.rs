//! KMS key: create a new one (alias, description, rotation) or pick an existing key.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{List, ListItem, ListState};

use super::Lookup;
use crate::answers::{Answers, validate_alias, validate_key_description, validate_key_reference};
use crate::tui::app::{App, Command, KeyChoice, ScreenId};
use crate::tui::form::{self, Form, FormEvent};

pub const WHY: &str = "Vault's seal encrypts its root key with this key. It must be symmetric, for ENCRYPT_DECRYPT, \
in the region chosen. A new key gets yearly rotation; deleting it later makes Vault's data unreadable.";

const MODES: [&str; 2] = ["create new", "use existing"];

/// The account and region a key list was asked for: an answer for any other is stale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyListFor {
    region: String,
    endpoint_url: Option<String>,
    profile: Option<String>,
}

impl KeyListFor {
    pub fn of(a: &Answers) -> KeyListFor {
        KeyListFor {
            region: a.region.clone(),
            endpoint_url: a.endpoint_url.clone(),
            profile: a.profile.clone(),
        }
    }
}

pub struct State {
    pub form: Form,
    pub keys: Lookup<Vec<KeyChoice>>,
    /// What `keys` was (or is being) listed for.
    pub keys_for: Option<KeyListFor>,
    pub list_selected: usize,
    /// Focus is on the list of existing keys, below the form.
    pub in_list: bool,
    pub loading: bool,
}

impl State {
    pub fn new(a: &Answers) -> State {
        let mut form = Form::new(vec![
            form::choice("mode", "Key", MODES.to_vec(), usize::from(!a.kms.create)),
            form::text("alias", "Alias", &a.kms.alias, Box::new(validate_alias)),
            form::text(
                "description",
                "Description",
                &a.kms.description,
                Box::new(validate_key_description),
            ),
            form::toggle("rotation", "Yearly rotation", a.kms.rotation),
            // The region is checked on Enter; here only the form of the reference.
            form::text(
                "key_id",
                "Key id, ARN or alias",
                a.kms.key_id.as_deref().unwrap_or(""),
                Box::new(|v| validate_key_reference(v, "")),
            ),
        ]);
        show_mode(&mut form);
        State {
            form,
            keys: Lookup::Idle,
            keys_for: None,
            list_selected: 0,
            in_list: false,
            loading: false,
        }
    }

    pub fn creating(&self) -> bool {
        self.form.choice_index("mode") == 0
    }
}

fn show_mode(form: &mut Form) {
    let create = form.choice_index("mode") == 0;
    for id in ["alias", "description", "rotation"] {
        form.set_hidden(id, !create);
    }
    form.set_hidden("key_id", create);
}

fn load_keys(app: &mut App) -> Vec<Command> {
    let wanted = KeyListFor::of(&app.answers);
    // A list (or a listing under way) for another region or account is not this one's.
    if app.kms.keys_for.as_ref() != Some(&wanted) {
        app.kms.keys = Lookup::Idle;
        app.kms.loading = false;
        app.kms.in_list = false;
    }
    if app.kms.creating() || app.kms.keys != Lookup::Idle {
        return vec![];
    }
    app.kms.keys = Lookup::Loading;
    app.kms.keys_for = Some(wanted);
    app.kms.loading = true;
    vec![Command::LoadKeys(app.answers.clone())]
}

pub fn enter(app: &mut App) -> Vec<Command> {
    // A failed listing is tried again on each visit.
    if matches!(app.kms.keys, Lookup::Failed(_)) {
        app.kms.keys = Lookup::Idle;
    }
    load_keys(app)
}

fn store(app: &mut App) -> bool {
    let f = &app.kms.form;
    let k = &mut app.answers.kms;
    k.create = app.kms.creating();
    if k.create {
        k.alias = f.value("alias");
        k.description = f.value("description");
        k.rotation = f.is_on("rotation");
        return true;
    }
    let reference = f.value("key_id").trim().to_string();
    if let Err(e) = validate_key_reference(&reference, &app.answers.region) {
        app.kms.form.field_mut("key_id").error = Some(e);
        return false;
    }
    app.answers.kms.key_id = Some(reference);
    true
}

pub fn update(app: &mut App, key: KeyEvent) -> Vec<Command> {
    if app.kms.in_list {
        return update_list(app, key);
    }
    match key.code {
        KeyCode::Esc => app.go(ScreenId::Region),
        KeyCode::Enter => {
            if app.kms.form.validate_all() && store(app) {
                app.forward()
            } else {
                vec![]
            }
        }
        KeyCode::Tab | KeyCode::Down if !app.kms.creating() && app.kms.form.at_last() && has_keys(app) => {
            app.kms.in_list = true;
            vec![]
        }
        _ => match app.kms.form.handle_key(key) {
            FormEvent::Changed("mode") => {
                show_mode(&mut app.kms.form);
                load_keys(app)
            }
            _ => vec![],
        },
    }
}

fn has_keys(app: &App) -> bool {
    matches!(&app.kms.keys, Lookup::Loaded(k) if !k.is_empty())
}

fn update_list(app: &mut App, key: KeyEvent) -> Vec<Command> {
    let Lookup::Loaded(keys) = &app.kms.keys else {
        app.kms.in_list = false;
        return vec![];
    };
    match key.code {
        KeyCode::Up if app.kms.list_selected == 0 => app.kms.in_list = false,
        KeyCode::Up => app.kms.list_selected -= 1,
        KeyCode::Down => app.kms.list_selected = (app.kms.list_selected + 1).min(keys.len() - 1),
        KeyCode::Esc | KeyCode::BackTab | KeyCode::Tab => app.kms.in_list = false,
        KeyCode::Enter => {
            let chosen = keys[app.kms.list_selected].reference.clone();
            app.kms.form.set_text("key_id", &chosen);
            app.kms.in_list = false;
        }
        _ => {}
    }
    vec![]
}

pub fn on_keys(app: &mut App, listed_for: KeyListFor, result: Result<Vec<KeyChoice>, String>) -> Vec<Command> {
    // The keys of a region (or account) the operator has since left are dropped.
    if app.kms.keys_for.as_ref() != Some(&listed_for) || !app.kms.keys.is_loading() {
        return vec![];
    }
    app.kms.loading = false;
    app.kms.list_selected = 0;
    app.kms.keys = match result {
        Ok(keys) => Lookup::Loaded(keys),
        Err(e) => Lookup::Failed(e),
    };
    vec![]
}

pub fn keys(app: &App) -> Vec<(&'static str, &'static str)> {
    if app.kms.in_list {
        return vec![("↑↓", "choose"), ("Enter", "use this key"), ("Esc", "back to the form")];
    }
    vec![
        ("Tab/↑↓", "field"),
        ("←→", "change"),
        ("Enter", "continue"),
        ("Esc", "back"),
    ]
}

pub fn view(frame: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let rest = super::why(frame, area, WHY, t);
    let below = app.kms.form.render_on_top(frame, rest, t);
    if app.kms.creating() {
        super::lines(
            frame,
            below,
            vec![Line::styled(
                "Spec SYMMETRIC_DEFAULT, usage ENCRYPT_DECRYPT, tagged created-by=autounseal.",
                t.dim,
            )],
        );
        return;
    }
    match &app.kms.keys {
        Lookup::Idle => {}
        Lookup::Loading => super::lines(
            frame,
            below,
            vec![Line::from(vec![
                Span::styled(super::spinner(app.frame), t.accent),
                Span::raw(format!(" Listing keys in {}…", app.answers.region)),
            ])],
        ),
        Lookup::Failed(e) => super::lines(
            frame,
            below,
            vec![
                Line::styled(format!("Could not list keys: {e}"), t.warn),
                Line::raw("Type the key's id, ARN or alias above."),
            ],
        ),
        Lookup::Loaded(keys) if keys.is_empty() => super::lines(
            frame,
            below,
            vec![Line::styled(
                format!("No customer managed keys in {}.", app.answers.region),
                t.dim,
            )],
        ),
        Lookup::Loaded(keys) => {
            let [title, list] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(below);
            let hint = if app.kms.in_list {
                "Keys in this region:"
            } else {
                "Keys in this region (Tab to choose):"
            };
            super::lines(frame, title, vec![Line::styled(hint, t.dim)]);
            let items: Vec<ListItem> = keys.iter().map(|k| ListItem::new(k.label.clone())).collect();
            let mut state = ListState::default().with_selected(app.kms.in_list.then_some(app.kms.list_selected));
            frame.render_stateful_widget(
                List::new(items).highlight_style(t.selected).highlight_symbol("› "),
                list,
                &mut state,
            );
        }
    }
}
