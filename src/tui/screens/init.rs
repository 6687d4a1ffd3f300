//! Init: recovery shares and threshold (the server's own rules), optional PGP keys.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;

use crate::answers::{Answers, Launch, validate_pgp_key_count, validate_recovery};
use crate::tui::app::{App, Command, ScreenId};
use crate::tui::form::{self, Form};

pub const WHY: &str = "Init hands out recovery keys (not unseal keys: KMS unseals) and a root token, once. \
Recovery keys are needed for rare operations such as generating a new root token. They are shown next, masked.";

pub struct State {
    pub form: Form,
}

fn number(v: &str) -> Result<(), String> {
    v.trim()
        .parse::<u16>()
        .map(|_| ())
        .map_err(|_| format!("\"{v}\" is not a number"))
}

fn join(paths: &[std::path::PathBuf]) -> String {
    paths.iter().map(|p| p.to_string_lossy()).collect::<Vec<_>>().join(", ")
}

fn readable(v: &str) -> Result<(), String> {
    for path in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        crate::vault::recovery::load_pgp_key(path.as_ref())?;
    }
    Ok(())
}

impl State {
    pub fn new(a: &Answers) -> State {
        let root = a
            .init
            .root_token_pgp_key
            .as_deref()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        State {
            form: Form::new(vec![
                form::text(
                    "shares",
                    "Recovery shares",
                    &a.init.recovery_shares.to_string(),
                    Box::new(number),
                ),
                form::text(
                    "threshold",
                    "Threshold",
                    &a.init.recovery_threshold.to_string(),
                    Box::new(number),
                ),
                form::text(
                    "pgp",
                    "PGP keys (a,b,…)",
                    &join(&a.init.recovery_pgp_keys),
                    form::optional(readable),
                ),
                form::text("root_pgp", "Root token PGP key", &root, form::optional(readable)),
            ]),
        }
    }
}

pub fn enter(_: &mut App) -> Vec<Command> {
    vec![]
}

fn store(app: &mut App) -> bool {
    let f = &app.init.form;
    let shares: u16 = f.value("shares").trim().parse().unwrap_or(0);
    let threshold: u16 = f.value("threshold").trim().parse().unwrap_or(0);
    let pgp: Vec<std::path::PathBuf> = f
        .value("pgp")
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(Into::into)
        .collect();
    let root = f.value("root_pgp").trim().to_string();
    if let Err(e) = validate_recovery(shares, threshold) {
        let field = if (1..=255).contains(&shares) {
            "threshold"
        } else {
            "shares"
        };
        app.init.form.field_mut(field).error = Some(e);
        return false;
    }
    if let Err(e) = validate_pgp_key_count(&pgp, shares) {
        app.init.form.field_mut("pgp").error = Some(e);
        return false;
    }
    let init = &mut app.answers.init;
    init.recovery_shares = shares;
    init.recovery_threshold = threshold;
    init.recovery_pgp_keys = pgp;
    init.root_token_pgp_key = (!root.is_empty()).then(|| root.into());
    // The wizard shows the keys instead of writing them to a file.
    init.recovery_keys_file = None;
    true
}

pub fn update(app: &mut App, key: KeyEvent) -> Vec<Command> {
    match key.code {
        KeyCode::Esc => app.go(ScreenId::Server),
        KeyCode::Enter => {
            if app.init.form.validate_all() && store(app) {
                app.forward()
            } else {
                vec![]
            }
        }
        _ => {
            app.init.form.handle_key(key);
            vec![]
        }
    }
}

pub fn view(frame: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let rest = super::why(frame, area, WHY, t);
    let below = app.init.form.render_on_top(frame, rest, t);
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
    if app.answers.server.launch == Launch::None {
        text.push(Line::styled(
            "Start mode \"none\": autounseal will not start or initialise the server.",
            t.warn,
        ));
    }
    super::lines(frame, below, text);
}
