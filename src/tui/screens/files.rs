//! Files: where Vault's config, the env file and the optional CSV go, checked as typed.

use std::path::Path;

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;

use crate::answers::{Answers, validate_file_path};
use crate::files::{PathCheck, check_writable};
use crate::tui::app::{App, Command, ScreenId};
use crate::tui::form::{self, Form};

pub const WHY: &str = "The access key's secret exists only once: it is saved at once to the env file (mode 0600, owner \
vault:vault) that systemd loads. An existing file is backed up before it is replaced.";

const IDS: [&str; 3] = ["config", "env", "csv"];

pub struct State {
    pub form: Form,
}

impl State {
    pub fn new(a: &Answers) -> State {
        let path = |p: &Path| p.to_string_lossy().into_owned();
        let mut s = State {
            form: Form::new(vec![
                form::text(
                    "config",
                    "Vault config",
                    &path(&a.output.vault_config),
                    Box::new(check_path),
                ),
                form::text("env", "Env file", &path(&a.output.env_file), Box::new(check_path)),
                form::text(
                    "csv",
                    "Credentials CSV",
                    &a.output.credentials_csv.as_deref().map(path).unwrap_or_default(),
                    form::optional(check_path),
                ),
            ]),
        };
        refresh_notes(&mut s.form);
        s
    }
}

/// The answers file's rule, then whether the path can be written.
fn check_path(value: &str) -> Result<(), String> {
    validate_file_path(Path::new(value))?;
    check_writable(Path::new(value)).map(|_| ()).map_err(|e| e.to_string())
}

/// What writing there will do, under each field that passes.
fn refresh_notes(form: &mut Form) {
    for id in IDS {
        let value = form.value(id);
        let note = match check_writable(Path::new(&value)) {
            _ if value.trim().is_empty() => Some("optional: also save the key as the AWS console's CSV".to_string()),
            Ok(PathCheck::New) => Some("new file".into()),
            Ok(PathCheck::NewWithFolders(dir)) => Some(format!("new file; will create {}", dir.display())),
            Ok(PathCheck::WillBackUp) => Some("exists: it will be backed up, then replaced".into()),
            Err(_) => None,
        };
        form.field_mut(id).note = note;
    }
}

pub fn enter(app: &mut App) -> Vec<Command> {
    refresh_notes(&mut app.files.form);
    vec![]
}

pub fn update(app: &mut App, key: KeyEvent) -> Vec<Command> {
    match key.code {
        KeyCode::Esc => app.go(ScreenId::Iam),
        KeyCode::Enter => {
            let f = &mut app.files.form;
            if !f.validate_all() {
                return vec![];
            }
            if f.value("csv").trim() == f.value("env").trim() {
                f.field_mut("csv").error = Some("must differ from the env file".into());
                return vec![];
            }
            let o = &mut app.answers.output;
            o.vault_config = f.value("config").trim().into();
            o.env_file = f.value("env").trim().into();
            let csv = f.value("csv");
            o.credentials_csv = (!csv.trim().is_empty()).then(|| csv.trim().into());
            app.forward()
        }
        _ => {
            app.files.form.handle_key(key);
            refresh_notes(&mut app.files.form);
            vec![]
        }
    }
}

pub fn view(frame: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let rest = super::why(frame, area, WHY, t);
    let below = app.files.form.render_on_top(frame, rest, t);
    super::lines(
        frame,
        below,
        vec![Line::styled(
            "Writing to /etc needs root: run autounseal with sudo, or choose paths you may write.",
            t.dim,
        )],
    );
}
