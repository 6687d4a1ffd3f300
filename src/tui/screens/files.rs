//! Files: where Vault's config, the env file and the optional CSV go. Each path is
//! checked (what writing there will do) in the background, never in `update`.

use std::path::{Path, PathBuf};

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;

use super::{Ctx, Nav, Outcome, Screen};
use crate::answers::{Answers, validate_file_path};
use crate::files::{FileError, PathCheck};
use crate::tui::form::{self, Form, FormScreen};
use crate::tui::keys::{Binding, ENTER, back, submit};
use crate::tui::msg::Command;

pub const WHY: &str = "The access key's secret exists only once: it is saved at once to the env file (mode 0600, owner \
vault:vault) that systemd loads. An existing file is backed up before it is replaced.";

const IDS: [&str; 3] = ["config", "env", "csv"];

const CSV_NOTE: &str = "optional: also save the key as the AWS console's CSV";

pub struct Files {
    pub form: Form,
    /// Enter was pressed while paths were still being checked: go on once they are.
    submitting: bool,
}

/// The answers file's rule; whether the path can be written is checked in the background.
fn check_path(value: &str) -> Result<(), String> {
    validate_file_path(Path::new(value))
}

impl Files {
    fn with(a: &Answers) -> Files {
        let path = |p: &Path| p.to_string_lossy().into_owned();
        let mut files = Files {
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
            submitting: false,
        };
        files.note_optional_csv();
        files
    }

    fn note_optional_csv(&mut self) {
        let empty = self.form.value("csv").trim().is_empty();
        self.form.field_mut("csv").note = empty.then(|| CSV_NOTE.to_string());
    }

    fn check_unchecked(&self) -> Vec<Command> {
        let paths = self.form.unchecked(&IDS).into_iter();
        paths.map(|p| Command::CheckPath(p.into())).collect()
    }

    fn submit(&mut self, ctx: &mut Ctx, _: KeyEvent) -> Outcome {
        if !self.form.validate_all() {
            self.submitting = false;
            return Outcome::stay();
        }
        if !self.form.unchecked(&IDS).is_empty() {
            // Goes on when the checks come back (see `on_path`).
            self.submitting = true;
            return Outcome::run(self.check_unchecked());
        }
        self.submitting = false;
        let f = &mut self.form;
        if f.value("csv").trim() == f.value("env").trim() {
            f.field_mut("csv").error = Some("must differ from the env file".into());
            return Outcome::stay();
        }
        let o = &mut ctx.answers.output;
        o.vault_config = f.value("config").trim().into();
        o.env_file = f.value("env").trim().into();
        let csv = f.value("csv");
        o.credentials_csv = (!csv.trim().is_empty()).then(|| csv.trim().into());
        Outcome::go(Nav::Forward)
    }

    /// What writing `path` would do, for every field that still holds it; dropped when
    /// none does (the operator typed on).
    pub fn on_path(&mut self, ctx: &mut Ctx, path: PathBuf, result: Result<PathCheck, FileError>) -> Outcome {
        let value = path.to_string_lossy().into_owned();
        let (problem, note) = match result {
            Ok(PathCheck::New) => (None, "new file".to_string()),
            Ok(PathCheck::NewWithFolders(dir)) => (None, format!("new file; will create {}", dir.display())),
            Ok(PathCheck::WillBackUp) => (None, "exists: it will be backed up, then replaced".to_string()),
            Err(e) => (Some(e.to_string()), String::new()),
        };
        let note = Some(note).filter(|n| !n.is_empty());
        self.form.probed(&IDS, &value, problem, note);
        if self.submitting && self.form.unchecked(&IDS).is_empty() {
            return self.submit(ctx, ENTER.event());
        }
        Outcome::stay()
    }
}

impl FormScreen for Files {
    fn form(&self) -> &Form {
        &self.form
    }

    fn form_mut(&mut self) -> &mut Form {
        &mut self.form
    }

    fn changed(&mut self, _: &mut Ctx, id: &'static str) -> Outcome {
        self.note_optional_csv();
        let value = self.form.value(id);
        let checkable = !value.trim().is_empty() && check_path(&value).is_ok();
        if checkable && self.form.probe_of(id).is_none() {
            Outcome::run(vec![Command::CheckPath(value.into())])
        } else {
            Outcome::stay()
        }
    }
}

impl Screen for Files {
    const KEYS: &'static [Binding<Self>] = &[form::focus_keys(), form::clear_keys(), submit(Files::submit), back()];

    fn new(a: &Answers) -> Files {
        Files::with(a)
    }

    /// Checked again on each visit: the files may have changed meanwhile.
    fn enter(&mut self, _: &mut Ctx) -> Vec<Command> {
        // An Enter of an earlier visit no longer moves on by itself.
        self.submitting = false;
        for field in &mut self.form.fields {
            field.probe = None;
        }
        self.check_unchecked()
    }

    fn takes_typing(&self) -> bool {
        self.form.on_text()
    }

    fn typed(&mut self, ctx: &mut Ctx, key: KeyEvent) -> Outcome {
        form::typed(self, ctx, key)
    }

    fn view(&self, frame: &mut Frame, area: Rect, ctx: &Ctx) {
        let t = &ctx.theme;
        let rest = super::why(frame, area, WHY, t);
        let below = self.form.render_on_top(frame, rest, t);
        let mut text = vec![Line::styled(
            "Writing to /etc needs root: run autounseal with sudo, or choose paths you may write.",
            t.dim,
        )];
        if self.submitting {
            text.push(Line::styled(super::WAITING, t.accent));
        }
        super::lines(frame, below, text);
    }
}
