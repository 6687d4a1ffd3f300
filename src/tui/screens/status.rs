//! Status: `autounseal status` on a screen. What exists (the manifest, read live as the
//! operator), the server's seal, the access key's age, and the next thing to do, with
//! Enter to do it when it is a screen of this wizard (Doctor, Rotate, the wizard). A
//! local cluster's every node, each under its name and role, scrolled with ↑↓.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::{Ctx, Lookup, Nav, Outcome, Screen, ScreenId};
use crate::answers::Answers;
use crate::doctor::checks::MAX_KEY_AGE_DAYS;
use crate::doctor::status::{self as setup, Next};
use crate::ops::check::NodeStatus;
use crate::tui::by_hand;
use crate::tui::keys::{Binding, DOWN, ENTER, UP, char, to_menu};
use crate::tui::msg::{Command, SetupRead};
use crate::tui::theme::Theme;

/// How many days before the key is too old Enter offers to rotate it.
pub const ROTATE_SOON_DAYS: u64 = 14;

pub const WHY: &str = "What this folder's setup made, as AWS and the server say it is now.";

#[derive(Default)]
pub struct Status {
    /// Requests made so far: only the answer to the last one is kept.
    asked: u64,
    /// Every node's status, the first node's first (one for a single server).
    pub status: Lookup<Vec<NodeStatus>>,
    /// How far the facts are scrolled, and the furthest they go as last drawn.
    pub scroll: usize,
    pub furthest: super::Furthest,
}

impl Status {
    fn read(&mut self, ctx: &Ctx) -> Vec<Command> {
        self.status = Lookup::Loading;
        vec![Command::Status(SetupRead::next(&mut self.asked, &ctx.answers))]
    }

    pub fn on_status(&mut self, asked: u64, result: Result<Vec<NodeStatus>, String>) {
        if asked != self.asked {
            return;
        }
        self.scroll = 0;
        self.status = match result {
            Ok(nodes) => Lookup::Loaded(nodes),
            Err(e) => Lookup::Failed(e),
        };
    }

    /// The next thing to do: the first node's that is not all good (Enter does it).
    fn next(&self) -> Option<Next> {
        let Lookup::Loaded(nodes) = &self.status else {
            return None;
        };
        let next = |n: &NodeStatus| n.status.next.clone();
        Some(
            nodes
                .iter()
                .map(next)
                .find(|n| *n != Next::AllGood)
                .unwrap_or(Next::AllGood),
        )
    }

    /// A key is past its age, or all else is good and one soon will be.
    fn rotation_due(&self) -> bool {
        let Lookup::Loaded(nodes) = &self.status else {
            return false;
        };
        let all_good = self.next() == Some(Next::AllGood);
        nodes.iter().any(|n| {
            let age = n.status.access_key.as_ref().and_then(|k| k.age_days);
            match n.status.next {
                Next::Rotate { .. } => true,
                Next::AllGood => all_good && age.is_some_and(|days| days + ROTATE_SOON_DAYS > MAX_KEY_AGE_DAYS),
                _ => false,
            }
        })
    }

    fn scroll(&mut self, _: &mut Ctx, key: crossterm::event::KeyEvent) -> Outcome {
        self.scroll = super::scroll_by_key(self.scroll, &key, self.furthest.get());
        Outcome::stay()
    }
}

/// Every node's facts: a single server's alone, a cluster's each under its node's
/// name, role and state folder.
pub fn node_facts(nodes: &[NodeStatus], width: usize, t: &Theme) -> Vec<Line<'static>> {
    if let [only] = nodes {
        return facts(&only.status, width, t);
    }
    let mut lines = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        if i > 0 {
            lines.push(Line::default());
        }
        let role = node.role.map(|r| format!(", {r}")).unwrap_or_default();
        lines.push(Line::styled(
            format!("Node {}{role} ({} of {})", node.node, i + 1, nodes.len()),
            t.title,
        ));
        lines.extend(facts(&node.status, width, t));
    }
    lines
}

/// The facts `autounseal status` prints, `width` columns wide, each value in the style
/// of how it stands, wrapped clear of the names' column.
pub fn facts(status: &setup::Status, width: usize, t: &Theme) -> Vec<Line<'static>> {
    let plain = Style::default();
    let good = |ok: bool| if ok { t.ok } else { t.error };
    let none = || vec![("none recorded".to_string(), t.dim)];
    let mut facts: Vec<(&str, Vec<(String, Style)>)> = Vec::new();
    facts.push(("Region", status.region.clone().map_or_else(none, |r| vec![(r, plain)])));
    facts.push((
        "KMS key",
        status.kms_key.as_ref().map_or_else(none, |k| {
            vec![(k.state.clone(), good(k.state == "Enabled")), (k.arn.clone(), plain)]
        }),
    ));
    facts.push((
        "IAM user",
        status.iam_user.clone().map_or_else(none, |u| vec![(u, plain)]),
    ));
    facts.push((
        "Access key",
        status.access_key.as_ref().map_or_else(none, |k| {
            let age = k.age_days.map_or(String::new(), |days| format!(", {days} days old"));
            let old = k.age_days.is_some_and(|days| days > MAX_KEY_AGE_DAYS);
            let style = if k.status != "Active" {
                t.error
            } else if old {
                t.warn
            } else {
                t.ok
            };
            vec![(k.id.clone(), plain), (format!("({}{age})", k.status), style)]
        }),
    ));
    facts.push((
        "Server",
        status.server.as_ref().map_or_else(none, |s| {
            let said = match (s.reachable, &s.seal_type, s.initialized, s.sealed) {
                (true, Some(seal), Some(init), Some(sealed)) => (
                    format!(
                        "seal {seal}, {}, {}",
                        if init { "initialised" } else { "not initialised" },
                        if sealed { "sealed" } else { "unsealed" }
                    ),
                    good(seal == "awskms" && init && !sealed),
                ),
                _ => ("not reachable".to_string(), t.error),
            };
            vec![(format!("{} ({}):", s.address, s.launch), plain), said]
        }),
    ));
    if status.unfinished {
        facts.push((
            "Unfinished",
            vec![("a run was stopped before it recorded what it made".into(), t.warn)],
        ));
    }
    let next = match status.next {
        Next::AllGood => t.ok,
        Next::Broken => t.error,
        Next::NothingSetUp
        | Next::Unfinished
        | Next::StoreKeys { .. }
        | Next::FinishProof { .. }
        | Next::Rotate { .. } => t.warn,
    };
    let mut lines = Vec::new();
    let mut fact = |name: &str, value: &[(String, Style)]| {
        let head = vec![Span::styled(format!("{name:<12}"), t.dim)];
        let pieces: Vec<(&str, Style)> = value.iter().map(|(text, style)| (text.as_str(), *style)).collect();
        lines.extend(super::hanging(head, &pieces, width));
    };
    for (name, value) in &facts {
        fact(name, value);
    }
    for file in &status.keys_waiting {
        fact(
            "Keys file",
            &[(format!("{} (store offline, then delete)", file.display()), t.warn)],
        );
    }
    if !status.proofs_missing.is_empty() {
        fact("Never ran", &[(status.proofs_missing.join(", "), t.warn)]);
    }
    fact("", &[]);
    fact("Next", &[(status.next.to_string(), next)]);
    lines
}

impl Screen for Status {
    const KEYS: &'static [Binding<Self>] = &[
        Binding {
            keys: &[ENTER],
            label: "Enter",
            what: "run doctor",
            when: |s, _| s.next() == Some(Next::Broken),
            action: |_, _, _| Outcome::go(Nav::Go(ScreenId::Doctor)),
        },
        Binding {
            keys: &[ENTER],
            label: "Enter",
            what: "the wizard",
            when: |s, _| {
                matches!(
                    s.next(),
                    Some(Next::Unfinished | Next::NothingSetUp | Next::FinishProof { .. })
                )
            },
            action: |_, _, _| Outcome::go(Nav::Go(ScreenId::Welcome)),
        },
        Binding {
            keys: &[ENTER],
            label: "Enter",
            what: "rotate the key",
            when: |s, _| s.rotation_due(),
            action: |_, _, _| Outcome::go(Nav::Go(ScreenId::Rotate)),
        },
        Binding {
            keys: &[char('r')],
            label: "r",
            what: "read again",
            when: |s, _| !s.status.is_loading(),
            action: |s, ctx, _| Outcome::run(s.read(ctx)),
        },
        Binding {
            keys: &[UP, DOWN],
            label: "↑↓",
            what: "scroll",
            when: |s, _| s.furthest.get() > 0 && matches!(s.status, Lookup::Loaded(ref n) if n.len() > 1),
            action: Status::scroll,
        },
        to_menu(),
    ];

    fn new(_: &Answers) -> Status {
        Status::default()
    }

    fn enter(&mut self, ctx: &mut Ctx) -> Vec<Command> {
        self.read(ctx)
    }

    fn busy(&self) -> bool {
        self.status.is_loading()
    }

    fn view(&self, frame: &mut Frame, area: Rect, ctx: &Ctx) {
        let t = &ctx.theme;
        let rest = super::why(frame, area, WHY, t);
        let doing = "Reading the key, the user and its access key, and the server's seal…";
        match super::pending(&self.status, doing, "The status could not be read:", ctx) {
            Ok(nodes) => {
                let text = node_facts(nodes, rest.width as usize, t);
                self.furthest.set(super::scrolled_lines(frame, rest, text, self.scroll));
            }
            Err(lines) => super::lines(frame, rest, lines),
        }
    }

    fn commands(&self, ctx: &Ctx) -> Vec<String> {
        by_hand::setup_commands(ctx)
    }
}
