//! Files: where Vault's config, the env file, the key (env file or shared credentials
//! file) and the optional CSV go. Each path is checked (what writing there will do) in
//! the background, never in `update`.

use std::path::{Path, PathBuf};

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;

use super::{Ctx, Nav, Outcome, Screen};
use crate::answers::{Answers, CredentialsStyle, OutputAnswers, validate_file_path};
use crate::files::{FileError, PathCheck};
use crate::questions::Q;
use crate::tui::form::{self, Form, FormScreen};
use crate::tui::keys::{Binding, ENTER, back, submit};
use crate::tui::msg::Command;

pub const WHY: &str = "The access key's secret exists only once: it is saved at once to the env file (mode 0600, owner \
vault:vault) that systemd loads, or to a shared credentials file that the config's seal stanza names. An existing file is backed \
up before it is replaced.";

const IDS: [Q; 4] = [Q::Config, Q::Env, Q::SharedFile, Q::Csv];

const CSV_NOTE: &str = "optional: also save the key as the AWS console's CSV";

/// Why one would choose the shared file, under the choice.
const STYLE_NOTES: [&str; 2] = [
    "Vault's AWS secrets and auth engines also see the key",
    "the key stays out of the env Vault's AWS engines read",
];

pub struct Files {
    pub form: Form,
    /// Enter was pressed while paths were still being checked: go on once they are.
    submitting: bool,
    /// The shared file's path as derived from the env file: while the field still
    /// holds it, it follows the env file.
    derived_shared: String,
}

/// The answers file's rule; whether the path can be written is checked in the background.
fn check_path(value: &str) -> Result<(), String> {
    validate_file_path(Path::new(value))
}

impl Files {
    fn with(a: &Answers) -> Files {
        let path = |p: &Path| p.to_string_lossy().into_owned();
        let style = CredentialsStyle::ALL
            .iter()
            .position(|s| *s == a.output.credentials)
            .unwrap_or(0);
        let mut files = Files {
            form: Form::new(vec![
                form::text(Q::Config, &path(&a.output.vault_config)),
                form::text(Q::Env, &path(&a.output.env_file)),
                form::choice(Q::Credentials, style),
                form::text(Q::SharedFile, &path(&a.output.shared_credentials_path())),
                form::text(
                    Q::Csv,
                    &a.output.credentials_csv.as_deref().map(path).unwrap_or_default(),
                ),
            ]),
            submitting: false,
            derived_shared: beside(&a.output.env_file),
        };
        files.note_optional_csv();
        files.show_style();
        files
    }

    fn note_optional_csv(&mut self) {
        let empty = self.form.value(Q::Csv).trim().is_empty();
        self.form.field_mut(Q::Csv).note = empty.then(|| CSV_NOTE.to_string());
    }

    fn style(&self) -> CredentialsStyle {
        CredentialsStyle::ALL[self.form.choice_index(Q::Credentials)]
    }

    /// The shared file's path only for that style; the choice says what it means.
    fn show_style(&mut self) {
        let index = self.form.choice_index(Q::Credentials);
        self.form
            .set_hidden(Q::SharedFile, self.style() != CredentialsStyle::SharedFile);
        self.form.field_mut(Q::Credentials).note = Some(STYLE_NOTES[index].to_string());
    }

    /// The path fields asked in the current style.
    fn ids(&self) -> Vec<Q> {
        let shared = self.style() == CredentialsStyle::SharedFile;
        IDS.into_iter().filter(|id| *id != Q::SharedFile || shared).collect()
    }

    fn check_unchecked(&self) -> Vec<Command> {
        let paths = self.form.unchecked(&self.ids()).into_iter();
        paths.map(|p| Command::CheckPath(p.into())).collect()
    }

    fn submit(&mut self, ctx: &mut Ctx, _: KeyEvent) -> Outcome {
        if !self.form.validate_all() {
            self.submitting = false;
            return Outcome::stay();
        }
        if !self.form.unchecked(&self.ids()).is_empty() {
            // Goes on when the checks come back (see `on_path`).
            self.submitting = true;
            return Outcome::run(self.check_unchecked());
        }
        self.submitting = false;
        let style = self.style();
        let f = &mut self.form;
        if f.value(Q::Csv).trim() == f.value(Q::Env).trim() {
            f.field_mut(Q::Csv).error = Some("must differ from the env file".into());
            return Outcome::stay();
        }
        let shared = f.value(Q::SharedFile).trim().to_string();
        if style == CredentialsStyle::SharedFile {
            let taken = [
                (Q::Config, "the Vault config"),
                (Q::Env, "the env file"),
                (Q::Csv, "the CSV"),
            ];
            if let Some((_, what)) = taken.iter().find(|(id, _)| f.value(*id).trim() == shared) {
                f.field_mut(Q::SharedFile).error = Some(format!("must differ from {what}"));
                return Outcome::stay();
            }
        }
        let o = &mut ctx.answers.output;
        o.vault_config = f.value(Q::Config).trim().into();
        o.env_file = f.value(Q::Env).trim().into();
        o.credentials = style;
        // Left as derived, it stays unset and so follows the env file (and the host's layout).
        o.shared_credentials_file = (shared != beside(&o.env_file)).then(|| shared.into());
        let csv = f.value(Q::Csv);
        o.credentials_csv = (!csv.trim().is_empty()).then(|| csv.trim().into());
        Outcome::go(Nav::Forward)
    }

    /// What writing `path` would do, for every field that still holds it; dropped when
    /// none does (the operator typed on).
    pub fn on_path(&mut self, ctx: &mut Ctx, path: PathBuf, result: Result<PathCheck, FileError>) -> Outcome {
        let value = path.to_string_lossy().into_owned();
        let replaced = "exists: it will be backed up, then replaced";
        let (problem, note) = match &result {
            Ok(PathCheck::New) => (None, "new file".to_string()),
            Ok(PathCheck::NewWithFolders(dir)) => (None, format!("new file; will create {}", dir.display())),
            Ok(PathCheck::WillBackUp | PathCheck::OperatorsConfig) => (None, replaced.to_string()),
            Err(e) => (Some(e.to_string()), String::new()),
        };
        let note = Some(note).filter(|n| !n.is_empty());
        self.form.probed(&IDS, &value, problem, note);
        // The operator's own config is kept: only its seal stanza changes.
        if let Ok(PathCheck::OperatorsConfig) = result {
            let kept = "yours: kept as it is, with only its seal stanza added (backed up first)";
            self.form.probed(&[Q::Config], &value, None, Some(kept.to_string()));
        }
        if self.submitting && self.form.unchecked(&self.ids()).is_empty() {
            return self.submit(ctx, ENTER.event());
        }
        Outcome::stay()
    }
}

/// The shared credentials file's default for an env file: beside it.
fn beside(env_file: &Path) -> String {
    let output = OutputAnswers {
        env_file: env_file.into(),
        shared_credentials_file: None,
        ..OutputAnswers::default()
    };
    output.shared_credentials_path().to_string_lossy().into_owned()
}

impl FormScreen for Files {
    fn form(&self) -> &Form {
        &self.form
    }

    fn form_mut(&mut self) -> &mut Form {
        &mut self.form
    }

    fn changed(&mut self, _: &mut Ctx, id: Q) -> Outcome {
        self.note_optional_csv();
        match id {
            Q::Credentials => {
                self.show_style();
                return Outcome::run(self.check_unchecked());
            }
            Q::Env if self.form.value(Q::SharedFile) == self.derived_shared => {
                self.derived_shared = beside(Path::new(self.form.value(Q::Env).trim()));
                let derived = self.derived_shared.clone();
                self.form.set_text(Q::SharedFile, &derived);
            }
            _ => {}
        }
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
    const KEYS: &'static [Binding<Self>] = &[
        form::focus_keys(),
        form::change_keys(),
        form::clear_keys(),
        submit(Files::submit),
        back(),
    ];

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
        // Said to those it concerns: not root, and writing under /etc.
        let under_etc = IDS.iter().any(|id| self.form.value(*id).trim().starts_with("/etc/"));
        let mut text = Vec::new();
        if under_etc && !nix::unistd::Uid::effective().is_root() {
            text.push(Line::styled(
                "Writing to /etc needs root: run autounseal with sudo, or choose paths you may write.",
                t.dim,
            ));
        }
        if self.submitting {
            text.push(Line::styled(super::WAITING, t.accent));
        }
        super::lines(frame, below, text);
    }

    fn commands(&self, ctx: &Ctx) -> Vec<String> {
        let a = &ctx.answers;
        let files = a.output.key_files();
        let owner = a.server.service_account().install_flags();
        let mut out = Vec::new();
        for (_, path) in files.paths() {
            out.push(format!("install -m 0600 {owner} /dev/null {}", path.display()));
        }
        if let Some(shared) = &files.shared {
            out.push(String::new());
            out.push(format!("# {}", shared.path.display()));
            out.push(format!("[{}]", shared.profile));
            out.push("aws_access_key_id = AKIA…".into());
            out.push("aws_secret_access_key = …   # the secret, shown once by create-access-key".into());
        }
        out.push(String::new());
        out.push(format!("# {}", files.env_file.display()));
        match &files.shared {
            None => {
                out.push("AWS_ACCESS_KEY_ID=AKIA…".into());
                out.push("AWS_SECRET_ACCESS_KEY=…   # the secret, shown once by create-access-key".into());
                out.push(format!("AWS_DEFAULT_REGION={}", a.region));
                out.push(format!("AWS_REGION={}", a.region));
            }
            Some(shared) => out.extend(
                crate::credentials_file::render_env_pointer(shared, &a.region)
                    .lines()
                    .filter(|l| !l.starts_with('#'))
                    .map(String::from),
            ),
        }
        out
    }
}
