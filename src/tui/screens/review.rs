//! Review: the plan (every call the run will make, from a real read-only pass over
//! AWS and the files), with `b` to go back to any question.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, List, ListItem, ListState, Paragraph, Wrap};

use super::{Ctx, Lookup, Nav, Outcome, Screen, ScreenId};
use crate::answers::{Answers, ExistingServer};
use crate::run::{Call, RunError};
use crate::tui::keys::{Binding, DOWN, ENTER, ESC, UP, back, char};
use crate::tui::msg::Command;

pub const WHY: &str = "Nothing has changed yet. Below is every change the run will make, found by reading your \
account and files.";

/// Once a setup exists here (recorded when the wizard opened, or made in part by a run
/// of this session), "nothing has changed yet" would not be true.
pub const WHY_AGAIN: &str = "This folder records a setup, or part of one. Below is every change still to make, \
found by reading your account and files: what exists already is reused, never made twice.";

#[derive(Default)]
pub struct Review {
    pub plan: Lookup<Vec<Call>>,
    /// The answers `plan` is (being) made from: Enter runs exactly these, or plans again.
    pub planned_for: Option<Answers>,
    /// The first line of the plan shown.
    pub scroll: usize,
    /// The furthest `scroll` that still fills the screen, as last drawn.
    pub furthest: super::Furthest,
    /// The "go back to…" menu, with its selected question.
    pub back_menu: Option<usize>,
    /// The answers changed since the plan last made: said while it is made again.
    pub replanning: bool,
}

impl Review {
    fn plan(&mut self, ctx: &Ctx) -> Vec<Command> {
        self.replanning = self.planned_for.as_ref().is_some_and(|a| *a != ctx.answers);
        self.plan = Lookup::Loading;
        self.scroll = 0;
        self.back_menu = None;
        self.planned_for = Some(ctx.answers.clone());
        vec![Command::Plan(ctx.answers.clone())]
    }

    pub fn on_plan(&mut self, planned: Answers, result: Result<Vec<Call>, RunError>) {
        // A plan of answers changed since (an earlier visit's) must never be the one shown
        // while Enter runs the new answers.
        if self.planned_for.as_ref() != Some(&planned) {
            return;
        }
        self.replanning = false;
        self.plan = match result {
            Ok(calls) => Lookup::Loaded(calls),
            Err(e) => Lookup::Failed(e.to_string()),
        };
    }

    fn run(&mut self, ctx: &mut Ctx, _: KeyEvent) -> Outcome {
        if self.planned_for.as_ref() == Some(&ctx.answers) {
            // A migration needs the server's unseal keys first.
            Outcome::go(Nav::Go(if ctx.answers.server.existing == ExistingServer::Migrate {
                ScreenId::UnsealKeys
            } else {
                ScreenId::Run
            }))
        } else {
            // The answers changed after this plan was made: show theirs first.
            Outcome::run(self.plan(ctx))
        }
    }

    fn menu_choose(&mut self, _: &mut Ctx, key: KeyEvent) -> Outcome {
        let last = ScreenId::questions().len() - 1;
        let selected = self.back_menu.unwrap_or(0);
        self.back_menu = Some(if key.code == KeyCode::Up {
            selected.saturating_sub(1)
        } else {
            (selected + 1).min(last)
        });
        Outcome::stay()
    }

    fn menu_go(&mut self, _: &mut Ctx, _: KeyEvent) -> Outcome {
        let selected = self.back_menu.take().unwrap_or(0);
        Outcome::go(Nav::Go(ScreenId::questions()[selected]))
    }

    /// A line at a time (a config's diff is many lines of one change), to its ends.
    fn scroll(&mut self, _: &mut Ctx, key: KeyEvent) -> Outcome {
        self.scroll = super::scroll_by_key(self.scroll, &key, self.furthest.get());
        Outcome::stay()
    }

    fn menu_open(&self) -> bool {
        self.back_menu.is_some()
    }

    fn planned(&self) -> bool {
        !self.menu_open() && matches!(self.plan, Lookup::Loaded(_))
    }
}

impl Screen for Review {
    const KEYS: &'static [Binding<Self>] = &[
        // The "go back to…" menu, while it is open.
        Binding {
            keys: &[UP, DOWN],
            label: "↑↓",
            what: "choose",
            when: |s, _| s.menu_open(),
            action: Review::menu_choose,
        },
        Binding {
            keys: &[ENTER],
            label: "Enter",
            what: "go there",
            when: |s, _| s.menu_open(),
            action: Review::menu_go,
        },
        Binding {
            keys: &[ESC],
            label: "Esc",
            what: "stay",
            when: |s, _| s.menu_open(),
            action: |s, _, _| {
                s.back_menu = None;
                Outcome::stay()
            },
        },
        // The plan.
        Binding {
            keys: &[ENTER],
            label: "Enter",
            what: "run it",
            when: |s, _| s.planned(),
            action: Review::run,
        },
        Binding {
            keys: &[char('r')],
            label: "r",
            what: "plan again",
            when: |s, _| !s.menu_open() && matches!(s.plan, Lookup::Failed(_)),
            action: |s, ctx, _| Outcome::run(s.plan(ctx)),
        },
        Binding {
            keys: &[char('b')],
            label: "b",
            what: "back to…",
            when: |s, _| !s.menu_open(),
            action: |s, _, _| {
                s.back_menu = Some(0);
                Outcome::stay()
            },
        },
        Binding {
            keys: &[UP, DOWN],
            label: "↑↓",
            what: "scroll",
            // Only when the plan is longer than the screen.
            when: |s, _| s.planned() && s.furthest.get() > 0,
            action: Review::scroll,
        },
        Binding {
            when: |s, _| !s.menu_open(),
            ..back()
        },
    ];

    fn new(_: &Answers) -> Review {
        Review::default()
    }

    fn enter(&mut self, ctx: &mut Ctx) -> Vec<Command> {
        self.plan(ctx)
    }

    fn busy(&self) -> bool {
        self.plan.is_loading()
    }

    fn view(&self, frame: &mut Frame, area: Rect, ctx: &Ctx) {
        view(self, frame, area, ctx)
    }

    fn commands(&self, _ctx: &Ctx) -> Vec<String> {
        match &self.plan {
            Lookup::Loaded(calls) if !calls.is_empty() => calls.iter().map(|c| c.command.clone()).collect(),
            _ => vec!["# The plan lists the commands once it is made.".into()],
        }
    }
}

fn summary(ctx: &Ctx) -> Vec<Line<'static>> {
    let a = &ctx.answers;
    let key = if a.kms.create {
        format!("new key {}", a.kms.alias)
    } else {
        format!("existing key {}", a.kms.key_id.clone().unwrap_or_default())
    };
    let binary = std::path::Path::new(&a.server.binary)
        .file_name()
        .map_or(a.server.binary.clone(), |n| n.to_string_lossy().into_owned());
    let kms_endpoint = match &ctx.identity {
        Some(id) => id.kms_endpoint.clone(),
        None => a.endpoint_url.clone(),
    };
    let migrating = a.server.existing == ExistingServer::Migrate;
    // A cluster: each node its own user and files, named by its node id.
    let per_node = |name: &str| {
        if a.cluster.nodes > 1 {
            format!("{name}-<node>")
        } else {
            name.to_string()
        }
    };
    let file = |p: &std::path::Path| {
        if a.cluster.nodes > 1 {
            let stem = p.file_stem().unwrap_or_default().to_string_lossy();
            let ext = p
                .extension()
                .map(|e| format!(".{}", e.to_string_lossy()))
                .unwrap_or_default();
            p.with_file_name(format!("{stem}-<node>{ext}")).display().to_string()
        } else {
            p.display().to_string()
        }
    };
    let mut lines = vec![
        Line::raw(format!(
            "AWS     {} in {} · user {} · policy {}",
            key,
            a.region,
            per_node(&a.iam.user_name),
            a.iam.policy_name
        )),
        // Where the seal will call KMS: shown, because an emulator or VPC endpoint can
        // also come from the environment, not only from the answers.
        Line::raw(format!(
            "KMS     {}",
            kms_endpoint.map_or_else(|| format!("AWS itself ({})", a.region), |e| format!("at {e}"))
        )),
        Line::raw(format!(
            "Files   {} · {}",
            file(&a.output.env_file),
            file(&a.output.vault_config)
        )),
        Line::raw(match &a.output.key_files().shared {
            None => "Key     in the env file".to_string(),
            Some(shared) => format!(
                "Key     in {} [{}], not in the environment",
                file(&shared.path),
                shared.profile
            ),
        }),
        Line::raw(format!(
            "Server  {binary} on {} ({}) · {}",
            a.server.listen,
            a.server.launch.as_str(),
            if migrating {
                "seal Shamir → awskms".to_string()
            } else if a.cluster.join.is_some() {
                "joins: no init, KMS unseals it".to_string()
            } else {
                format!("{} recovery shares", a.init.recovery_shares)
            }
        )),
    ];
    if !a.kms.replica_regions.is_empty() {
        // Right under the key it copies: the key is made multi-region for them.
        lines.insert(
            1,
            Line::raw(format!(
                "Replica {} · a multi-region key; the policy names each",
                a.kms.replica_regions.join(", ")
            )),
        );
    }
    if let Some(email) = &a.kms.alarm_email {
        let at = 1 + usize::from(!a.kms.replica_regions.is_empty());
        lines.insert(
            at,
            Line::raw(format!("Alarm   mails {email} on a call that could lose the key")),
        );
    }
    let plugin = a.server.kms_plugin.as_ref().map(|p| p.display().to_string());
    if let Some(plugin) = plugin.or(a.server.kms_plugin_image.clone()) {
        // Right under the server that runs it; where it goes is the plan's `file:install`
        // (drawn without reading the config on every frame).
        lines.push(Line::raw(format!("Plugin  {plugin} (awskms)")));
    }
    if a.cluster.nodes > 1 {
        lines.extend(nodes_block(ctx));
    }
    if a.cluster.join.is_some() {
        // The Server screen put the cluster file's nodes in the peers, the first node first.
        // The node's user and files are named above: one row, so that the plan keeps its room.
        let first = a.cluster.peers.first().map_or("", String::as_str);
        lines.push(Line::raw(if migrating {
            // A node of a Shamir cluster is in it already: it moves to the cluster's key.
            format!("Cluster {first} · node {} moves to its key", a.server.node_id)
        } else {
            format!("Join    cluster {first} as node {}", a.server.node_id)
        }));
    }
    if migrating {
        lines.extend(
            crate::vault::migrate::explanation(a)
                .into_iter()
                .map(|l| Line::styled(format!("Migrate {l}"), ctx.theme.warn)),
        );
    }
    lines
}

/// A cluster's nodes, one line each: its id (which names its user and files), where
/// it listens, and whether it is initialised or joins.
fn nodes_block(ctx: &Ctx) -> Vec<Line<'static>> {
    let nodes = crate::ops::setup::planned_nodes(&ctx.answers, &ctx.state_dir);
    nodes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            Line::raw(format!(
                "Node {}  {} on {} · {}",
                i + 1,
                n.id,
                n.answers.server.listen,
                if i == 0 {
                    "initialised, the recovery keys once"
                } else {
                    "joins, unseals through KMS"
                }
            ))
        })
        .collect()
}

fn view(review: &Review, frame: &mut Frame, area: Rect, ctx: &Ctx) {
    let t = &ctx.theme;
    let why = if ctx.setup_recorded || ctx.ran { WHY_AGAIN } else { WHY };
    let rest = super::why(frame, area, why, t);
    let summary = summary(ctx);
    // As tall as the summary wraps to: at 80 columns a line can take two rows.
    let width = rest.width.max(1) as usize;
    let rows: usize = summary.iter().map(|l| l.width().max(1).div_ceil(width)).sum();
    let [head, _, body] = Layout::vertical([
        Constraint::Length(rows as u16),
        Constraint::Length(1),
        Constraint::Min(0),
    ])
    .areas(rest);
    super::lines(frame, head, summary);
    match &review.plan {
        Lookup::Idle => {}
        Lookup::Loading => super::lines(
            frame,
            body,
            vec![Line::from(vec![
                Span::styled(super::spinner(ctx.frame), t.accent),
                Span::raw(if review.replanning {
                    " Your answers changed since the last plan: planning again…"
                } else {
                    " Planning: reading the account and checking the files…"
                }),
            ])],
        ),
        Lookup::Failed(e) => {
            let text = vec![
                Line::styled("The plan found a problem; nothing was changed:", t.warn),
                Line::styled(e.clone(), t.error),
            ];
            frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: false }), body);
        }
        Lookup::Loaded(calls) if calls.is_empty() => super::lines(
            frame,
            body,
            vec![Line::styled(
                "Nothing to change: everything exists as asked. Enter checks it all again.",
                t.ok,
            )],
        ),
        Lookup::Loaded(calls) => {
            // Wrapped, not cut: an ARN or a path does not fit in 80 columns.
            let items: Vec<Line> = calls
                .iter()
                .enumerate()
                .flat_map(|(i, c)| {
                    let mut detail = c.detail.lines();
                    let head = Line::from(vec![
                        // Padded to 22, and at least one space after a longer action.
                        Span::styled(format!("{:>2}. {:<22}", i + 1, format!("{} ", c.action)), t.accent),
                        Span::raw(detail.next().unwrap_or("").to_string()),
                    ]);
                    // A config edit's diff follows its first line.
                    let diff = detail.map(|line| {
                        let style = match line.chars().next() {
                            Some('+') => t.ok,
                            Some('-') => t.warn,
                            _ => t.dim,
                        };
                        Line::styled(format!("    {line}"), style)
                    });
                    std::iter::once(head).chain(diff)
                })
                .collect();
            review
                .furthest
                .set(super::scrolled_lines(frame, body, items, review.scroll));
        }
    }
    if let Some(selected) = review.back_menu {
        let width = 30.min(area.width);
        let questions = ScreenId::questions();
        let height = (questions.len() as u16 + 2).min(area.height);
        let popup = Rect {
            x: area.x + (area.width - width) / 2,
            y: area.y + (area.height - height) / 2,
            width,
            height,
        };
        frame.render_widget(Clear, popup);
        let items: Vec<ListItem> = questions.iter().map(|s| ListItem::new(s.title())).collect();
        let mut state = ListState::default().with_selected(Some(selected));
        let list = List::new(items)
            .block(Block::bordered().title(" Go back to "))
            .highlight_style(t.selected)
            .highlight_symbol("› ");
        frame.render_stateful_widget(list, popup, &mut state);
    }
}
