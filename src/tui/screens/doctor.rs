//! Doctor: `autounseal doctor` on a screen. The checks run in the background (read-only:
//! the files, AWS as the operator and as the env file's key, the unit, the server); the
//! findings come back grouped by link, each with a text badge as well as its colour,
//! its evidence and, for a warning or a failure, the fix.

use std::cell::Cell;

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::{Ctx, Lookup, Outcome, Screen};
use crate::answers::Answers;
use crate::doctor::{Finding, Verdict, exit_code};
use crate::tui::by_hand;
use crate::tui::keys::{Binding, DOWN, PAGE_DOWN, PAGE_UP, UP, char, to_menu};
use crate::tui::msg::{Command, SetupRead};
use crate::tui::theme::Theme;

pub const WHY: &str = "Every link the server needs to unseal itself at its next start, checked from the \
manifest outwards. Read-only: nothing is changed.";

/// The badge's text is the verdict, so it reads without colours (NO_COLOR) too.
pub fn badge(verdict: Verdict, t: &Theme) -> (&'static str, Style) {
    match verdict {
        Verdict::Ok => ("[ ok ]", t.ok),
        Verdict::Warn => ("[warn]", t.warn),
        Verdict::Fail => ("[FAIL]", t.error),
        Verdict::Skipped => ("[skip]", t.dim),
    }
}

/// The findings as rows `width` columns wide: each link's name, then its checks, the
/// evidence and the fix wrapped under the text, clear of the badges' column.
pub fn rows(findings: &[Finding], width: usize, t: &Theme) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    let mut link = None;
    for f in findings {
        if link != Some(f.link) {
            link = Some(f.link);
            out.push(Line::styled(f.link.label().to_string(), t.title));
        }
        let (text, style) = badge(f.verdict, t);
        let head = vec![Span::raw("  "), Span::styled(text, style), Span::raw(" ")];
        let indent: usize = head.iter().map(Span::width).sum();
        let check = format!("{}:", f.check);
        let mut pieces = vec![
            (check.as_str(), Style::default()),
            (f.evidence.as_str(), Style::default()),
        ];
        if let Some(fix) = &f.fix {
            // The fix on a row of its own, under the evidence.
            out.extend(super::hanging(head, &pieces, width));
            pieces = vec![("fix:", style), (fix.as_str(), style)];
            out.extend(super::hanging(vec![Span::raw(" ".repeat(indent))], &pieces, width));
        } else {
            out.extend(super::hanging(head, &pieces, width));
        }
    }
    out
}

/// "1 warning", "2 warnings".
fn counted(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

/// The summary: the counts, and what doctor's exit code would be and mean.
pub fn summary(findings: &[Finding], t: &Theme) -> Line<'static> {
    let count = |v: Verdict| findings.iter().filter(|f| f.verdict == v).count();
    let code = exit_code(findings);
    let (meaning, style) = match code {
        0 => ("all ok", t.ok),
        1 => ("it works; look at the warnings", t.warn),
        _ => ("broken; each failure says its fix", t.error),
    };
    Line::styled(
        format!(
            "{} ok, {}, {}, {} skipped · exit code {code}: {meaning}",
            count(Verdict::Ok),
            counted(count(Verdict::Warn), "warning"),
            counted(count(Verdict::Fail), "failure"),
            count(Verdict::Skipped)
        ),
        style,
    )
}

#[derive(Default)]
pub struct Doctor {
    /// Requests made so far: only the answer to the last one is kept.
    asked: u64,
    pub findings: Lookup<Vec<Finding>>,
    pub scroll: usize,
    /// How far the list scrolls and how many rows a page is, as last drawn: only the
    /// view knows the width the findings wrap to.
    viewport: Cell<(usize, usize)>,
}

impl Doctor {
    fn check(&mut self, ctx: &Ctx) -> Vec<Command> {
        self.findings = Lookup::Loading;
        self.scroll = 0;
        vec![Command::Doctor(SetupRead::next(&mut self.asked, &ctx.answers))]
    }

    pub fn on_findings(&mut self, asked: u64, result: Result<Vec<Finding>, String>) {
        if asked != self.asked {
            return;
        }
        self.findings = match result {
            Ok(findings) => Lookup::Loaded(findings),
            Err(e) => Lookup::Failed(e),
        };
    }

    fn scroll(&mut self, _: &mut Ctx, key: KeyEvent) -> Outcome {
        let (most, page) = self.viewport.get();
        self.scroll = match key.code {
            KeyCode::Up | KeyCode::Char('k') => self.scroll.saturating_sub(1),
            KeyCode::PageUp => self.scroll.saturating_sub(page),
            KeyCode::PageDown => self.scroll + page,
            _ => self.scroll + 1,
        }
        .min(most);
        Outcome::stay()
    }

    fn loaded(&self) -> bool {
        matches!(self.findings, Lookup::Loaded(_))
    }
}

impl Screen for Doctor {
    const KEYS: &'static [Binding<Self>] = &[
        Binding {
            keys: &[UP, DOWN, char('k'), char('j')],
            label: "↑↓/kj",
            what: "scroll",
            when: |s, _| s.loaded(),
            action: Doctor::scroll,
        },
        Binding {
            keys: &[PAGE_UP, PAGE_DOWN],
            label: "PgUp/PgDn",
            what: "page",
            when: |s, _| s.loaded(),
            action: Doctor::scroll,
        },
        Binding {
            keys: &[char('r')],
            label: "r",
            what: "check again",
            when: |s, _| !s.findings.is_loading(),
            action: |s, ctx, _| Outcome::run(s.check(ctx)),
        },
        to_menu(),
    ];

    fn new(_: &Answers) -> Doctor {
        Doctor::default()
    }

    fn enter(&mut self, ctx: &mut Ctx) -> Vec<Command> {
        self.check(ctx)
    }

    fn busy(&self) -> bool {
        self.findings.is_loading()
    }

    fn view(&self, frame: &mut Frame, area: Rect, ctx: &Ctx) {
        let t = &ctx.theme;
        let rest = super::why(frame, area, WHY, t);
        let doing = "Checking every link: the files, AWS as you and as the env file's key, the unit, the server…";
        let findings = match super::pending(&self.findings, doing, "The checks could not run:", ctx) {
            Ok(findings) => findings,
            Err(lines) => return super::lines(frame, rest, lines),
        };
        let summary = summary(findings, t);
        let summary_rows = summary.width().max(1).div_ceil(rest.width.max(1) as usize) as u16;
        let [head, _, list] = Layout::vertical([
            Constraint::Length(summary_rows),
            Constraint::Length(1),
            Constraint::Min(0),
        ])
        .areas(rest);
        frame.render_widget(Paragraph::new(summary).wrap(Wrap { trim: false }), head);
        let all = rows(findings, list.width as usize, t);
        let height = list.height as usize;
        if all.len() <= height {
            self.viewport.set((0, height));
            return super::lines(frame, list, all);
        }
        // The last row says where the view is, so that more below is never a surprise.
        let shown = height.saturating_sub(1).max(1);
        let most = all.len() - shown;
        self.viewport.set((most, shown.saturating_sub(1).max(1)));
        let scroll = self.scroll.min(most);
        let mut visible: Vec<Line> = all.iter().skip(scroll).take(shown).cloned().collect();
        visible.push(Line::styled(
            format!(
                "rows {}–{} of {} · ↑↓ PgUp/PgDn scroll",
                scroll + 1,
                scroll + shown,
                all.len()
            ),
            t.dim,
        ));
        super::lines(frame, list, visible);
    }

    fn commands(&self, ctx: &Ctx) -> Vec<String> {
        by_hand::setup_commands(ctx)
    }
}
