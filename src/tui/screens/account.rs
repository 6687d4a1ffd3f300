//! AWS account: who the credential chain says we are, or how to fix it.

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::{Ctx, Lookup, Nav, Outcome, Screen};
use crate::answers::Answers;
use crate::aws::Identity;
use crate::questions::Q;
use crate::run::RunError;
use crate::tui::by_hand;
use crate::tui::form::{self, Form, FormScreen};
use crate::tui::keys::{Binding, ENTER, back};
use crate::tui::msg::Command;

pub const WHY: &str = "autounseal acts with your own AWS credentials, found like the AWS CLI finds them: \
environment, --profile, SSO, ~/.aws files. It needs to create a KMS key and an IAM user.";

pub struct Account {
    pub form: Form,
    pub identity: Lookup<Identity>,
    /// The profile and endpoint the identity was checked with.
    checked: Option<(String, String)>,
    /// What to do about a failed check, by what failed.
    fix: &'static str,
}

impl Account {
    fn with(a: &Answers) -> Account {
        Account {
            form: Form::new(vec![
                form::text(Q::Profile, a.profile.as_deref().unwrap_or("")),
                form::text(Q::Endpoint, a.endpoint_url.as_deref().unwrap_or("")),
            ]),
            identity: Lookup::Idle,
            checked: None,
            fix: "",
        }
    }

    fn current(&self) -> (String, String) {
        (
            self.form.value(Q::Profile).trim().to_string(),
            self.form.value(Q::Endpoint).trim().to_string(),
        )
    }

    fn verified(&self) -> bool {
        matches!(self.identity, Lookup::Loaded(_)) && self.checked.as_ref() == Some(&self.current())
    }

    fn store(&self, ctx: &mut Ctx) {
        let (profile, endpoint) = self.current();
        ctx.answers.profile = (!profile.is_empty()).then_some(profile);
        ctx.answers.endpoint_url = (!endpoint.is_empty()).then_some(endpoint);
    }

    fn check(&mut self, ctx: &mut Ctx) -> Vec<Command> {
        self.store(ctx);
        self.checked = Some(self.current());
        self.identity = Lookup::Loading;
        ctx.identity = None;
        let mut answers = ctx.answers.clone();
        // STS needs some region; the KMS region is asked next.
        if crate::answers::validate_region(&answers.region).is_err() {
            answers.region = "us-east-1".into();
        }
        vec![Command::CheckIdentity(answers)]
    }

    fn submit(&mut self, ctx: &mut Ctx, _: KeyEvent) -> Outcome {
        if !self.form.validate_all() {
            return Outcome::stay();
        }
        if self.verified() {
            self.store(ctx);
            Outcome::go(Nav::Forward)
        } else {
            Outcome::run(self.check(ctx))
        }
    }

    pub fn on_identity(&mut self, ctx: &mut Ctx, checked: (String, String), result: Result<Identity, RunError>) {
        // An answer to an earlier check (the fields changed since) is stale.
        if self.checked.as_ref() != Some(&checked) {
            return;
        }
        ctx.identity = result.as_ref().ok().cloned();
        self.identity = match result {
            Ok(id) => Lookup::Loaded(id),
            Err(e) => {
                self.fix = fix_for(&e);
                Lookup::Failed(e.to_string())
            }
        };
    }
}

/// The next step after a failed identity check: credentials are fixed one way, an
/// endpoint that does not answer another.
fn fix_for(e: &RunError) -> &'static str {
    match e {
        RunError::Unreachable { .. } | RunError::Timeout { .. } => {
            "Check the endpoint above (or AWS_ENDPOINT_URL) and the network, then press Enter."
        }
        _ => {
            "Fix it in another terminal (`aws configure`, `aws sso login --profile NAME`), or set a profile \
              above, then press Enter."
        }
    }
}

impl FormScreen for Account {
    fn form(&self) -> &Form {
        &self.form
    }

    fn form_mut(&mut self) -> &mut Form {
        &mut self.form
    }
}

impl Screen for Account {
    const KEYS: &'static [Binding<Self>] = &[
        form::focus_keys(),
        form::clear_keys(),
        Binding {
            keys: &[ENTER],
            label: "Enter",
            what: "continue",
            when: |s, _| s.verified(),
            action: Account::submit,
        },
        Binding {
            keys: &[ENTER],
            label: "Enter",
            what: "check credentials",
            when: |s, _| !s.verified(),
            action: Account::submit,
        },
        back(),
    ];

    fn new(a: &Answers) -> Account {
        Account::with(a)
    }

    fn enter(&mut self, ctx: &mut Ctx) -> Vec<Command> {
        if self.identity == Lookup::Idle {
            self.check(ctx)
        } else {
            vec![]
        }
    }

    fn takes_typing(&self) -> bool {
        self.form.on_text()
    }

    fn typed(&mut self, ctx: &mut Ctx, key: KeyEvent) -> Outcome {
        form::typed(self, ctx, key)
    }

    fn busy(&self) -> bool {
        self.identity.is_loading()
    }

    fn view(&self, frame: &mut Frame, area: Rect, ctx: &Ctx) {
        view(self, frame, area, ctx)
    }

    fn commands(&self, ctx: &Ctx) -> Vec<String> {
        vec![by_hand::aws(ctx, &["sts", "get-caller-identity"])]
    }
}

/// The key a check is known by: its profile and endpoint.
pub fn checked_key(a: &Answers) -> (String, String) {
    (
        a.profile.clone().unwrap_or_default(),
        a.endpoint_url.clone().unwrap_or_default(),
    )
}

fn view(account: &Account, frame: &mut Frame, area: Rect, ctx: &Ctx) {
    let t = &ctx.theme;
    let rest = super::why(frame, area, WHY, t);
    let status = account.form.render_on_top(frame, rest, t);
    let mut text = vec![
        Line::styled(
            "Profile: empty uses the default chain. Endpoint URL: only for an emulator or a VPC endpoint.",
            t.dim,
        ),
        Line::raw(""),
    ];
    match &account.identity {
        Lookup::Idle => {}
        Lookup::Loading => text.push(Line::from(vec![
            Span::styled(super::spinner(ctx.frame), t.accent),
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
            text.push(Line::raw(account.fix));
        }
    }
    super::lines(frame, status, text);
}
