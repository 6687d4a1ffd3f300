//! KMS key: create a new one (alias, description, rotation) or pick an existing key.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{List, ListItem, ListState};

use super::{Ctx, Lookup, Nav, Outcome, Screen};
use crate::answers::{Answers, parse_replica_regions, validate_key_reference, validate_replica_regions};
use crate::questions::Q;
use crate::run::RunError;
use crate::tui::by_hand;
use crate::tui::form::{self, Form, FormScreen};
use crate::tui::keys::{BACKTAB, Binding, DOWN, ENTER, ESC, TAB, UP, back};
pub use crate::tui::msg::KeyListFor;
use crate::tui::msg::{Command, KeyChoice};

pub const WHY: &str = "Vault's seal encrypts its root key with this key. It must be symmetric, for ENCRYPT_DECRYPT, \
in the region chosen. A new key gets yearly rotation; deleting it later makes Vault's data unreadable.";

pub struct Kms {
    pub form: Form,
    pub keys: Lookup<Vec<KeyChoice>>,
    /// What `keys` was (or is being) listed for.
    pub keys_for: Option<KeyListFor>,
    pub list_selected: usize,
    /// Focus is on the list of existing keys, below the form.
    pub in_list: bool,
}

impl Kms {
    fn with(a: &Answers) -> Kms {
        let mut form = Form::new(vec![
            form::choice(Q::KeyMode, usize::from(!a.kms.create)),
            form::text(Q::Alias, &a.kms.alias),
            form::text(Q::Description, &a.kms.description),
            form::toggle(Q::Rotation, a.kms.rotation),
            form::text(Q::Replicas, &a.kms.replica_regions.join(", ")),
            form::text(Q::AlarmEmail, a.kms.alarm_email.as_deref().unwrap_or("")),
            // Last, so that Tab from it goes on into the list of keys found. The region is
            // checked on Enter; here only the form of the reference.
            form::text(Q::KeyId, a.kms.key_id.as_deref().unwrap_or("")),
        ]);
        show_mode(&mut form);
        Kms {
            form,
            keys: Lookup::Idle,
            keys_for: None,
            list_selected: 0,
            in_list: false,
        }
    }

    pub fn creating(&self) -> bool {
        self.form.choice_index(Q::KeyMode) == 0
    }
}

fn show_mode(form: &mut Form) {
    let create = form.choice_index(Q::KeyMode) == 0;
    for id in [Q::Alias, Q::Description, Q::Rotation, Q::Replicas] {
        form.set_hidden(id, !create);
    }
    form.set_hidden(Q::KeyId, create);
}

impl Kms {
    fn load_keys(&mut self, ctx: &Ctx) -> Vec<Command> {
        let wanted = KeyListFor::of(&ctx.answers);
        // A list (or a listing under way) for another region or account is not this one's.
        if self.keys_for.as_ref() != Some(&wanted) {
            self.keys = Lookup::Idle;
            self.in_list = false;
        }
        if self.creating() || self.keys != Lookup::Idle {
            return vec![];
        }
        self.keys = Lookup::Loading;
        self.keys_for = Some(wanted);
        vec![Command::LoadKeys(ctx.answers.clone())]
    }

    fn store(&mut self, ctx: &mut Ctx) -> bool {
        let f = &self.form;
        let k = &mut ctx.answers.kms;
        k.create = self.creating();
        let email = f.value(Q::AlarmEmail).trim().to_string();
        k.alarm_email = (!email.is_empty()).then_some(email);
        if k.create {
            k.alias = f.value(Q::Alias);
            k.description = f.value(Q::Description);
            k.rotation = f.is_on(Q::Rotation);
            let replicas = parse_replica_regions(&f.value(Q::Replicas));
            if let Err(e) = validate_replica_regions(&replicas, &ctx.answers.region) {
                self.form.field_mut(Q::Replicas).error = Some(e);
                return false;
            }
            ctx.answers.kms.replica_regions = replicas;
            return true;
        }
        let reference = f.value(Q::KeyId).trim().to_string();
        if let Err(e) = validate_key_reference(&reference, &ctx.answers.region) {
            self.form.field_mut(Q::KeyId).error = Some(e);
            return false;
        }
        ctx.answers.kms.key_id = Some(reference);
        true
    }

    fn submit(&mut self, ctx: &mut Ctx, _: KeyEvent) -> Outcome {
        if self.form.validate_all() && self.store(ctx) {
            Outcome::go(Nav::Forward)
        } else {
            Outcome::stay()
        }
    }

    fn has_keys(&self) -> bool {
        matches!(&self.keys, Lookup::Loaded(k) if !k.is_empty())
    }

    /// Tab or ↓ from the last field goes on into the list of keys.
    fn can_enter_list(&self) -> bool {
        !self.in_list && !self.creating() && self.form.at_last() && self.has_keys()
    }

    fn listed(&self) -> &[KeyChoice] {
        match &self.keys {
            Lookup::Loaded(keys) => keys,
            _ => &[],
        }
    }

    fn choose(&mut self, _: &mut Ctx, key: KeyEvent) -> Outcome {
        match key.code {
            KeyCode::Up if self.list_selected == 0 => self.in_list = false,
            KeyCode::Up => self.list_selected -= 1,
            _ => self.list_selected = (self.list_selected + 1).min(self.listed().len().saturating_sub(1)),
        }
        Outcome::stay()
    }

    fn pick(&mut self, _: &mut Ctx, _: KeyEvent) -> Outcome {
        if let Some(chosen) = self.listed().get(self.list_selected).map(|k| k.reference.clone()) {
            self.form.set_text(Q::KeyId, &chosen);
        }
        self.in_list = false;
        Outcome::stay()
    }

    pub fn on_keys(&mut self, listed_for: KeyListFor, result: Result<Vec<KeyChoice>, RunError>) {
        // The keys of a region (or account) the operator has since left are dropped.
        if self.keys_for.as_ref() != Some(&listed_for) || !self.keys.is_loading() {
            return;
        }
        self.list_selected = 0;
        self.keys = match result {
            Ok(keys) => Lookup::Loaded(keys),
            Err(e) => Lookup::Failed(e.to_string()),
        };
    }
}

impl FormScreen for Kms {
    fn form(&self) -> &Form {
        &self.form
    }

    fn form_mut(&mut self) -> &mut Form {
        &mut self.form
    }

    fn changed(&mut self, ctx: &mut Ctx, id: Q) -> Outcome {
        if id != Q::KeyMode {
            return Outcome::stay();
        }
        show_mode(&mut self.form);
        Outcome::run(self.load_keys(ctx))
    }
}

impl Screen for Kms {
    const KEYS: &'static [Binding<Self>] = &[
        // The list of existing keys, once focus is in it.
        Binding {
            keys: &[UP, DOWN],
            label: "↑↓",
            what: "choose",
            when: |s, _| s.in_list,
            action: Kms::choose,
        },
        Binding {
            keys: &[ENTER],
            label: "Enter",
            what: "use this key",
            when: |s, _| s.in_list,
            action: Kms::pick,
        },
        Binding {
            keys: &[ESC, TAB, BACKTAB],
            label: "Esc/Tab",
            what: "back to the form",
            when: |s, _| s.in_list,
            action: |s, _, _| {
                s.in_list = false;
                Outcome::stay()
            },
        },
        // The form.
        Binding {
            keys: &[TAB, DOWN],
            label: "Tab/↓",
            what: "the keys found",
            when: |s, _| s.can_enter_list(),
            action: |s, _, _| {
                s.in_list = true;
                Outcome::stay()
            },
        },
        Binding {
            when: |s, _| !s.in_list,
            ..form::focus_keys()
        },
        Binding {
            when: |s, _| !s.in_list && s.form.on_choice(),
            ..form::change_keys()
        },
        Binding {
            when: |s, ctx| !s.in_list && form::clearable(s, ctx),
            ..form::clear_keys()
        },
        Binding {
            keys: &[ENTER],
            label: "Enter",
            what: "continue",
            when: |s, _| !s.in_list,
            action: Kms::submit,
        },
        Binding {
            when: |s, _| !s.in_list,
            ..back()
        },
    ];

    fn new(a: &Answers) -> Kms {
        Kms::with(a)
    }

    fn enter(&mut self, ctx: &mut Ctx) -> Vec<Command> {
        // A failed listing is tried again on each visit.
        if matches!(self.keys, Lookup::Failed(_)) {
            self.keys = Lookup::Idle;
        }
        self.load_keys(ctx)
    }

    fn takes_typing(&self) -> bool {
        !self.in_list && self.form.on_text()
    }

    fn typed(&mut self, ctx: &mut Ctx, key: KeyEvent) -> Outcome {
        form::typed(self, ctx, key)
    }

    fn busy(&self) -> bool {
        self.keys.is_loading()
    }

    fn view(&self, frame: &mut Frame, area: Rect, ctx: &Ctx) {
        view(self, frame, area, ctx)
    }

    fn commands(&self, ctx: &Ctx) -> Vec<String> {
        let a = &ctx.answers;
        if !a.kms.create {
            let key = a.kms.key_id.as_deref().unwrap_or("KEY");
            return vec![by_hand::aws(ctx, &["kms", "describe-key", "--key-id", key])];
        }
        vec![
            crate::twins::create_key_command(
                &a.kms.description,
                !a.kms.replica_regions.is_empty(),
                &a.region,
                a.endpoint_url.as_deref(),
            ),
            by_hand::aws(ctx, &["kms", "enable-key-rotation", "--key-id", "KEY_ID"]),
            by_hand::aws(
                ctx,
                &[
                    "kms",
                    "create-alias",
                    "--alias-name",
                    &a.kms.alias,
                    "--target-key-id",
                    "KEY_ID",
                ],
            ),
        ]
    }
}

fn view(kms: &Kms, frame: &mut Frame, area: Rect, ctx: &Ctx) {
    let t = &ctx.theme;
    let rest = super::why(frame, area, &super::why_or_joining(WHY, ctx), t);
    let below = kms.form.render_on_top(frame, rest, t);
    if kms.creating() {
        let mut said = vec![Line::styled(
            "Spec SYMMETRIC_DEFAULT, usage ENCRYPT_DECRYPT, tagged created-by=autounseal.",
            t.dim,
        )];
        if !kms.form.value(Q::Replicas).trim().is_empty() {
            said.push(Line::styled(
                "With replicas the key is multi-region (an existing key cannot become one), each replica \
                 with the same alias; the policy names every replica's ARN.",
                t.dim,
            ));
        }
        super::lines(frame, below, said);
        return;
    }
    match &kms.keys {
        Lookup::Idle => {}
        Lookup::Loading => super::lines(
            frame,
            below,
            vec![Line::from(vec![
                Span::styled(super::spinner(ctx.frame), t.accent),
                Span::raw(format!(" Listing keys in {}…", ctx.answers.region)),
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
                format!("No customer managed keys in {}.", ctx.answers.region),
                t.dim,
            )],
        ),
        Lookup::Loaded(keys) => {
            let [title, list] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(below);
            let hint = if kms.in_list {
                "Keys in this region:"
            } else {
                "Keys in this region (Tab to choose):"
            };
            super::lines(frame, title, vec![Line::styled(hint, t.dim)]);
            let items: Vec<ListItem> = keys.iter().map(|k| ListItem::new(k.label.clone())).collect();
            let mut state = ListState::default().with_selected(kms.in_list.then_some(kms.list_selected));
            frame.render_stateful_widget(
                List::new(items).highlight_style(t.selected).highlight_symbol("› "),
                list,
                &mut state,
            );
        }
    }
}
