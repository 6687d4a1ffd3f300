//! AWS account: who the credential chain says we are, or how to fix it.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::Lookup;
use crate::answers::{Answers, validate_endpoint_url, validate_not_blank};
use crate::aws::Identity;
use crate::tui::app::{App, Command};
use crate::tui::form::{self, Form};

pub const WHY: &str = "autounseal acts with your own AWS credentials, found like the AWS CLI finds them: \
environment, --profile, SSO, ~/.aws files. It needs to create a KMS key and an IAM user.";

pub struct State {
    pub form: Form,
    pub identity: Lookup<Identity>,
    /// The profile and endpoint the identity was checked with.
    checked: Option<(String, String)>,
}

impl State {
    pub fn new(a: &Answers) -> State {
        State {
            form: Form::new(vec![
                form::text(
                    "profile",
                    "Profile",
                    a.profile.as_deref().unwrap_or(""),
                    form::optional(|v| validate_not_blank(v, "profile")),
                ),
                form::text(
                    "endpoint",
                    "Endpoint URL",
                    a.endpoint_url.as_deref().unwrap_or(""),
                    form::optional(validate_endpoint_url),
                ),
            ]),
            identity: Lookup::Idle,
            checked: None,
        }
    }

    pub fn loading(&self) -> bool {
        self.identity.is_loading()
    }

    fn current(&self) -> (String, String) {
        (
            self.form.value("profile").trim().to_string(),
            self.form.value("endpoint").trim().to_string(),
        )
    }

    fn verified(&self) -> bool {
        matches!(self.identity, Lookup::Loaded(_)) && self.checked.as_ref() == Some(&self.current())
    }
}

fn store(app: &mut App) {
    let (profile, endpoint) = app.account.current();
    app.answers.profile = (!profile.is_empty()).then_some(profile);
    app.answers.endpoint_url = (!endpoint.is_empty()).then_some(endpoint);
}

fn check(app: &mut App) -> Vec<Command> {
    store(app);
    app.account.checked = Some(app.account.current());
    app.account.identity = Lookup::Loading;
    let mut answers = app.answers.clone();
    // STS needs some region; the KMS region is asked next.
    if crate::answers::validate_region(&answers.region).is_err() {
        answers.region = "us-east-1".into();
    }
    vec![Command::CheckIdentity(answers)]
}

pub fn enter(app: &mut App) -> Vec<Command> {
    if app.account.identity == Lookup::Idle {
        check(app)
    } else {
        vec![]
    }
}

pub fn update(app: &mut App, key: KeyEvent) -> Vec<Command> {
    match key.code {
        KeyCode::Esc => app.go(crate::tui::app::ScreenId::Welcome),
        KeyCode::Enter => {
            if !app.account.form.validate_all() {
                return vec![];
            }
            if app.account.verified() {
                store(app);
                app.forward()
            } else {
                check(app)
            }
        }
        _ => {
            app.account.form.handle_key(key);
            vec![]
        }
    }
}

/// The key a check is known by: its profile and endpoint.
pub fn checked_key(a: &Answers) -> (String, String) {
    (
        a.profile.clone().unwrap_or_default(),
        a.endpoint_url.clone().unwrap_or_default(),
    )
}

pub fn on_identity(app: &mut App, checked: (String, String), result: Result<Identity, String>) -> Vec<Command> {
    // An answer to an earlier check (the fields changed since) is stale.
    if app.account.checked.as_ref() != Some(&checked) {
        return vec![];
    }
    app.account.identity = match result {
        Ok(id) => Lookup::Loaded(id),
        Err(e) => Lookup::Failed(e),
    };
    vec![]
}

pub fn keys(app: &App) -> Vec<(&'static str, &'static str)> {
    let enter = if app.account.verified() {
        "continue"
    } else {
        "check credentials"
    };
    vec![("Tab/↑↓", "field"), ("Enter", enter), ("Esc", "back")]
}

pub fn view(frame: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let rest = super::why(frame, area, WHY, t);
    let status = app.account.form.render_on_top(frame, rest, t);
    let mut text = vec![
        Line::styled(
            "Profile: empty uses the default chain. Endpoint URL: only for an emulator or a VPC endpoint.",
            t.dim,
        ),
        Line::raw(""),
    ];
    match &app.account.identity {
        Lookup::Idle => {}
        Lookup::Loading => text.push(Line::from(vec![
            Span::styled(super::spinner(app.frame), t.accent),
            Span::raw(" Checking the credentials with sts:GetCallerIdentity…"),
        ])),
        Lookup::Loaded(id) => {
            text.push(Line::from(vec![
                Span::styled("✓ ", t.ok),
                Span::raw(format!("Account {}", id.account)),
            ]));
            text.push(Line::raw(format!("  {}", id.arn)));
            text.push(Line::raw(match &id.kms_endpoint {
                Some(e) => format!("  KMS endpoint {e} (the server's seal will use it too)"),
                None => "  KMS endpoint: AWS itself".to_string(),
            }));
        }
        Lookup::Failed(e) => {
            text.push(Line::styled(format!("✗ {e}"), t.error));
            text.push(Line::raw("Fix it in another terminal (`aws configure`, `aws sso login --profile NAME`), or set a profile above, then press Enter."));
        }
    }
    super::lines(frame, status, text);
}
