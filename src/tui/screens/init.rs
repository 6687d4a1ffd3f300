//! Init: recovery shares and threshold (the server's own rules), optional PGP keys,
//! whose files are read in the background, never in `update`.

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;

use super::{Ctx, Nav, Outcome, Screen};
use crate::answers::{Answers, Launch, validate_pgp_key_count, validate_recovery};
use crate::questions::Q;
use crate::tui::by_hand;
use crate::tui::form::{self, Form, FormScreen};
use crate::tui::keys::{Binding, ENTER, back, submit};
use crate::tui::msg::Command;

pub const WHY: &str = "Init hands out recovery keys (not unseal keys: KMS unseals) and a root token, once. \
Recovery keys are needed for rare operations such as generating a new root token. They are shown next, masked.";

/// The fields that name PGP key files.
const PGP: [Q; 2] = [Q::PgpKeys, Q::RootPgp];

fn migrating(ctx: &Ctx) -> bool {
    ctx.answers.server.existing == crate::answers::ExistingServer::Migrate
}

pub struct Init {
    pub form: Form,
    /// Enter was pressed while PGP files were still being read: go on once they are.
    submitting: bool,
}

fn join(paths: &[std::path::PathBuf]) -> String {
    paths.iter().map(|p| p.to_string_lossy()).collect::<Vec<_>>().join(", ")
}

/// The paths of a comma-separated list, as typed.
pub fn split_paths(v: &str) -> Vec<std::path::PathBuf> {
    v.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(Into::into)
        .collect()
}

impl Init {
    fn with(a: &Answers) -> Init {
        let root = a
            .init
            .root_token_pgp_key
            .as_deref()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        Init {
            form: Form::new(vec![
                form::text(Q::Shares, &a.init.recovery_shares.to_string()),
                form::text(Q::Threshold, &a.init.recovery_threshold.to_string()),
                form::text(Q::PgpKeys, &join(&a.init.recovery_pgp_keys)),
                form::text(Q::RootPgp, &root),
            ]),
            submitting: false,
        }
    }

    fn check_unchecked(&self) -> Vec<Command> {
        self.form
            .unchecked(&PGP)
            .into_iter()
            .map(Command::CheckPgpKeys)
            .collect()
    }

    /// Whether every file of this list reads as a PGP key; dropped when no field still
    /// holds the list.
    pub fn on_pgp(&mut self, ctx: &mut Ctx, listed: String, result: Result<(), String>) -> Outcome {
        self.form.probed(&PGP, &listed, result.err(), None);
        if self.submitting && self.form.unchecked(&PGP).is_empty() {
            return self.submit(ctx, ENTER.event());
        }
        Outcome::stay()
    }

    fn store(&mut self, ctx: &mut Ctx) -> bool {
        let f = &self.form;
        let shares: u16 = f.value(Q::Shares).trim().parse().unwrap_or(0);
        let threshold: u16 = f.value(Q::Threshold).trim().parse().unwrap_or(0);
        let pgp = split_paths(&f.value(Q::PgpKeys));
        let root = f.value(Q::RootPgp).trim().to_string();
        if let Err(e) = validate_recovery(shares, threshold) {
            let field = if (1..=255).contains(&shares) {
                Q::Threshold
            } else {
                Q::Shares
            };
            self.form.field_mut(field).error = Some(e);
            return false;
        }
        if let Err(e) = validate_pgp_key_count(&pgp, shares) {
            self.form.field_mut(Q::PgpKeys).error = Some(e);
            return false;
        }
        let init = &mut ctx.answers.init;
        init.recovery_shares = shares;
        init.recovery_threshold = threshold;
        init.recovery_pgp_keys = pgp;
        init.root_token_pgp_key = (!root.is_empty()).then(|| root.into());
        // The wizard shows the keys instead of writing them to a file.
        init.recovery_keys_file = None;
        true
    }

    fn submit(&mut self, ctx: &mut Ctx, _: KeyEvent) -> Outcome {
        self.submitting = false;
        // A migration hands out no keys: there is nothing to ask here.
        if migrating(ctx) {
            return Outcome::go(Nav::Forward);
        }
        if !self.form.validate_all() {
            return Outcome::stay();
        }
        if !self.form.unchecked(&PGP).is_empty() {
            // Goes on when the files are read (see `on_pgp`).
            self.submitting = true;
            return Outcome::run(self.check_unchecked());
        }
        if self.store(ctx) {
            Outcome::go(Nav::Forward)
        } else {
            Outcome::stay()
        }
    }
}

impl FormScreen for Init {
    fn form(&self) -> &Form {
        &self.form
    }

    fn form_mut(&mut self) -> &mut Form {
        &mut self.form
    }

    /// The PGP files are read once the operator leaves their field, not on every keystroke.
    fn left(&mut self, _: &mut Ctx, from: Q) -> Outcome {
        if PGP.contains(&from) {
            Outcome::run(self.check_unchecked())
        } else {
            Outcome::stay()
        }
    }
}

impl Screen for Init {
    const KEYS: &'static [Binding<Self>] = &[form::focus_keys(), form::clear_keys(), submit(Init::submit), back()];

    fn new(a: &Answers) -> Init {
        Init::with(a)
    }

    fn enter(&mut self, ctx: &mut Ctx) -> Vec<Command> {
        // An Enter of an earlier visit no longer moves on by itself.
        self.submitting = false;
        let migrating = migrating(ctx);
        for field in &mut self.form.fields {
            field.hidden = migrating;
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
        if migrating(ctx) {
            let rest = super::why(frame, area, crate::questions::NO_NEW_KEYS, t);
            super::lines(
                frame,
                rest,
                vec![Line::styled("Enter goes on to Review; nothing is asked here.", t.dim)],
            );
            return;
        }
        let rest = super::why(frame, area, WHY, t);
        let below = self.form.render_on_top(frame, rest, t);
        let mut text = vec![
            Line::styled(
                "Shares 1 to 255; threshold 1 to shares, and at least 2 when there is more than one share.",
                t.dim,
            ),
            Line::styled(
                "With PGP keys (one per share) the keys come back encrypted to them.",
                t.dim,
            ),
        ];
        if self.submitting {
            text.push(Line::styled(super::WAITING, t.accent));
        }
        if ctx.answers.server.launch == Launch::None {
            text.push(Line::styled(
                "Start mode \"none\": autounseal will not start or initialise the server.",
                t.warn,
            ));
        }
        super::lines(frame, below, text);
    }

    fn commands(&self, ctx: &Ctx) -> Vec<String> {
        let a = &ctx.answers;
        let (cli, address) = (by_hand::cli(ctx), crate::vault::config::api_addr(a));
        // A migration initialises nothing: its keys are submitted with `migrate`.
        if a.server.existing == crate::answers::ExistingServer::Migrate {
            return vec![
                "# A seal migration runs no init: the server keeps its unseal keys, which become its recovery keys."
                    .to_string(),
                format!(
                    "{cli} operator unseal -migrate -address={address}   # once restarted with the seal stanza, per key"
                ),
            ];
        }
        vec![format!(
            "{cli} operator init -recovery-shares={} -recovery-threshold={} -address={address}",
            a.init.recovery_shares, a.init.recovery_threshold
        )]
    }
}
