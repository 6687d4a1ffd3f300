//! IAM: the user's and policy's names, and the exact policy document.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Wrap};

use super::Lookup;
use crate::answers::{Answers, validate_iam_policy_name, validate_iam_user_name};
use crate::aws::policy;
use crate::regions::partition;
use crate::tui::app::{App, Command, ScreenId};
use crate::tui::form::{self, Form};

pub const WHY: &str = "Vault gets its own IAM user, with programmatic access only and no console login, \
and one policy that lets it use this one key for exactly what the seal does. Nothing else.";

pub struct State {
    pub form: Form,
}

impl State {
    pub fn new(a: &Answers) -> State {
        State {
            form: Form::new(vec![
                form::text("user", "IAM user", &a.iam.user_name, Box::new(validate_iam_user_name)),
                form::text(
                    "policy",
                    "Policy name",
                    &a.iam.policy_name,
                    Box::new(validate_iam_policy_name),
                ),
            ]),
        }
    }
}

pub fn enter(_: &mut App) -> Vec<Command> {
    vec![]
}

/// The key ARN as far as it is known before the run.
pub fn key_arn(app: &App) -> String {
    let account = match &app.account.identity {
        Lookup::Loaded(id) => id.account.clone(),
        _ => "ACCOUNT".into(),
    };
    let a = &app.answers;
    match (&a.kms.key_id, a.kms.create) {
        (Some(k), false) if k.starts_with("arn:") => k.clone(),
        (Some(k), false) => format!("(the ARN of {k})"),
        _ => format!(
            "arn:{}:kms:{}:{account}:key/<new-key-id>",
            partition(&a.region),
            a.region
        ),
    }
}

pub fn update(app: &mut App, key: KeyEvent) -> Vec<Command> {
    match key.code {
        KeyCode::Esc => app.go(ScreenId::Kms),
        KeyCode::Enter if app.iam.form.validate_all() => {
            app.answers.iam.user_name = app.iam.form.value("user");
            app.answers.iam.policy_name = app.iam.form.value("policy");
            app.forward()
        }
        _ => {
            app.iam.form.handle_key(key);
            vec![]
        }
    }
}

pub fn view(frame: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let rest = super::why(frame, area, WHY, t);
    let text: Vec<Line> = policy::document_compact(&key_arn(app))
        .lines()
        .map(|l| Line::raw(l.to_string()))
        .collect();
    let below = app.iam.form.render_on_top(frame, rest, t);
    let doc = Rect {
        height: (text.len() as u16 + 2).min(below.height),
        ..below
    };
    let block = Block::bordered().title(" The policy, exactly ").border_style(t.dim);
    frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: false }).block(block), doc);
}
