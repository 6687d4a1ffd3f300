//! IAM: the user's and policy's names, and the exact policy document.

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Wrap};

use super::{Ctx, Nav, Outcome, Screen};
use crate::answers::Answers;
use crate::aws::policy;
use crate::questions::Q;
use crate::regions::partition;
use crate::tui::by_hand;
use crate::tui::form::{self, Form, FormScreen};
use crate::tui::keys::{Binding, back, submit};

pub const WHY: &str = "Vault gets its own IAM user, with programmatic access only and no console login, \
and one policy that lets it use this one key for exactly what the seal does. Nothing else.";

pub struct Iam {
    pub form: Form,
}

impl Iam {
    fn with(a: &Answers) -> Iam {
        Iam {
            form: Form::new(vec![
                form::text(Q::User, &a.iam.user_name),
                form::text(Q::Policy, &a.iam.policy_name),
            ]),
        }
    }
}

/// The key ARN as far as it is known before the run.
/// The ARNs the policy will name: the key's, then its replicas'.
fn key_arns(ctx: &Ctx) -> Vec<String> {
    let key = key_arn(ctx);
    let replicas = &ctx.answers.kms.replica_regions;
    if key.starts_with("arn:") {
        policy::key_arns(&key, replicas)
    } else {
        std::iter::once(key)
            .chain(replicas.iter().map(|r| format!("(its replica in {r})")))
            .collect()
    }
}

pub fn key_arn(ctx: &Ctx) -> String {
    let account = ctx.identity.as_ref().map_or("ACCOUNT", |id| id.account.as_str());
    let a = &ctx.answers;
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

impl Iam {
    fn submit(&mut self, ctx: &mut Ctx, _: KeyEvent) -> Outcome {
        if !self.form.validate_all() {
            return Outcome::stay();
        }
        ctx.answers.iam.user_name = self.form.value(Q::User);
        ctx.answers.iam.policy_name = self.form.value(Q::Policy);
        Outcome::go(Nav::Forward)
    }
}

impl FormScreen for Iam {
    fn form(&self) -> &Form {
        &self.form
    }

    fn form_mut(&mut self) -> &mut Form {
        &mut self.form
    }
}

impl Screen for Iam {
    const KEYS: &'static [Binding<Self>] = &[form::focus_keys(), form::clear_keys(), submit(Iam::submit), back()];

    fn new(a: &Answers) -> Iam {
        Iam::with(a)
    }

    fn takes_typing(&self) -> bool {
        self.form.on_text()
    }

    fn typed(&mut self, ctx: &mut Ctx, key: KeyEvent) -> Outcome {
        form::typed(self, ctx, key)
    }

    fn view(&self, frame: &mut Frame, area: Rect, ctx: &Ctx) {
        view(self, frame, area, ctx)
    }

    fn commands(&self, ctx: &Ctx) -> Vec<String> {
        let a = &ctx.answers;
        let (user, policy_name) = (a.iam.user_name.as_str(), a.iam.policy_name.as_str());
        let policy_document = ["--policy-document", "file://policy.json"];
        let mut out = vec![
            by_hand::aws(ctx, &["iam", "create-user", "--user-name", user]),
            by_hand::aws(
                ctx,
                &[
                    &["iam", "create-policy", "--policy-name", policy_name][..],
                    &policy_document[..],
                ]
                .concat(),
            ),
            by_hand::aws(
                ctx,
                &[
                    "iam",
                    "attach-user-policy",
                    "--user-name",
                    user,
                    "--policy-arn",
                    "POLICY_ARN",
                ],
            ),
            by_hand::aws(ctx, &["iam", "create-access-key", "--user-name", user]),
            String::new(),
            "# policy.json".into(),
        ];
        out.extend(
            crate::aws::policy::document_text(&key_arns(ctx))
                .lines()
                .map(String::from),
        );
        out
    }
}

fn view(iam: &Iam, frame: &mut Frame, area: Rect, ctx: &Ctx) {
    let t = &ctx.theme;
    let rest = super::why(frame, area, &super::why_or_joining(WHY, ctx), t);
    let text: Vec<Line> = policy::document_compact(&key_arns(ctx))
        .lines()
        .map(|l| Line::raw(l.to_string()))
        .collect();
    let below = iam.form.render_on_top(frame, rest, t);
    let doc = Rect {
        height: (text.len() as u16 + 2).min(below.height),
        ..below
    };
    let block = Block::bordered().title(" The policy, exactly ").border_style(t.dim);
    frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: false }).block(block), doc);
}
