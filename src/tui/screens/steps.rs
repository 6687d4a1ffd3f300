//! The rows of an engine's steps as they happen (waiting, running with its time, done,
//! skipped, failed) and the text under them: what the Run screen shows of an apply and
//! the Rotate screen of a rotation. Not a screen; the two screens share it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::Ctx;
use crate::run::{Event, Step};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Waiting,
    Running {
        since: Instant,
        elapsed: Duration,
        note: String,
    },
    Done(String),
    Skipped(String),
    Failed(String),
}

/// `steps`, each waiting.
pub fn waiting(steps: &[Step]) -> Vec<(Step, Status)> {
    steps.iter().map(|s| (*s, Status::Waiting)).collect()
}

fn row(rows: &mut [(Step, Status)], step: Step) -> Option<&mut Status> {
    rows.iter_mut().find(|(s, _)| *s == step).map(|(_, status)| status)
}

/// An engine's event on its row; a warning is added to `warnings`. A step that has no
/// row is not shown.
pub fn on_event(rows: &mut [(Step, Status)], warnings: &mut Vec<String>, event: Event) {
    match event {
        Event::Started(step) => {
            if let Some(s) = row(rows, step) {
                *s = Status::Running {
                    since: Instant::now(),
                    elapsed: Duration::ZERO,
                    note: String::new(),
                };
            }
        }
        Event::Progress(step, text) => {
            if let Some(Status::Running { note, .. }) = row(rows, step) {
                *note = text;
            }
        }
        Event::Done(step, text) => {
            if let Some(s) = row(rows, step) {
                *s = Status::Done(text);
            }
        }
        Event::Skipped(step, text) => {
            if let Some(s) = row(rows, step) {
                *s = Status::Skipped(text);
            }
        }
        Event::Failed(step, text) => {
            if let Some(s) = row(rows, step) {
                *s = Status::Failed(text);
            }
        }
        Event::Warning(text) => warnings.push(text),
        // Which node of a cluster the rows are for: a screen of rows shows one node. The
        // nodes that run at once have lines of their own (see [`on_node_event`]).
        Event::Note(_) | Event::Call(_) | Event::OfNode(..) => {}
    }
}

/// Where one of a cluster's nodes that run at the same time is: its latest step. The
/// rows are the first node's; these nodes have a line each under them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRow {
    pub node: Arc<str>,
    pub step: Step,
    pub status: Status,
}

/// An event of node `node` on its line; its warnings join `warnings`, named.
pub fn on_node_event(nodes: &mut Vec<NodeRow>, warnings: &mut Vec<String>, node: Arc<str>, event: Event) {
    let status = match event {
        Event::Started(step) => Some((
            step,
            Status::Running {
                since: Instant::now(),
                elapsed: Duration::ZERO,
                note: String::new(),
            },
        )),
        Event::Progress(step, text) => {
            if let Some(NodeRow {
                step: at,
                status: Status::Running { note, .. },
                ..
            }) = nodes.iter_mut().find(|n| n.node == node)
                && *at == step
            {
                *note = text;
            }
            None
        }
        Event::Done(step, text) => Some((step, Status::Done(text))),
        Event::Skipped(step, text) => Some((step, Status::Skipped(text))),
        Event::Failed(step, text) => Some((step, Status::Failed(text))),
        Event::Warning(text) => {
            warnings.push(format!("{node}: {text}"));
            None
        }
        Event::Note(_) | Event::Call(_) | Event::OfNode(..) => None,
    };
    let Some((step, status)) = status else { return };
    match nodes.iter_mut().find(|n| n.node == node) {
        Some(row) => {
            row.step = step;
            row.status = status;
        }
        None => nodes.push(NodeRow { node, step, status }),
    }
}

/// The engine has finished: a step still marked running did not, and must not spin on.
pub fn settle<'a>(statuses: impl IntoIterator<Item = &'a mut Status>) {
    for status in statuses {
        if matches!(status, Status::Running { .. }) {
            *status = Status::Waiting;
        }
    }
}

/// The running steps' clocks, brought up to now.
pub fn tick<'a>(statuses: impl IntoIterator<Item = &'a mut Status>) {
    for status in statuses {
        if let Status::Running { since, elapsed, .. } = status {
            *elapsed = since.elapsed();
        }
    }
}

/// Every status of `rows` and `nodes`, for [`settle`] and [`tick`].
pub fn statuses<'a>(rows: &'a mut [(Step, Status)], nodes: &'a mut [NodeRow]) -> impl Iterator<Item = &'a mut Status> {
    rows.iter_mut()
        .map(|(_, s)| s)
        .chain(nodes.iter_mut().map(|n| &mut n.status))
}

/// ↑ or ↓ on a screen of rows (see [`view`]): after a failure the text under the rows
/// scrolls, a line at a time; otherwise the rows do, ↑ showing earlier ones. Never past
/// `furthest`, as the view last found it.
pub fn scrolled(scroll: usize, key: &KeyEvent, furthest: usize, failed: bool) -> usize {
    let earlier = (key.code == KeyCode::Up) != failed;
    let scroll = scroll.min(furthest);
    if earlier {
        (scroll + 1).min(furthest)
    } else {
        scroll.saturating_sub(1)
    }
}

/// What has been done so far, a line per step, for the quit question.
pub fn done_so_far(rows: &[(Step, Status)]) -> Vec<String> {
    rows.iter()
        .filter_map(|(step, status)| match status {
            Status::Done(text) => Some(format!("{}: {text}", step.label())),
            _ => None,
        })
        .collect()
}

/// A step's row: its mark and label, then its text wrapped under the text (a long ARN
/// wraps rather than losing its end, and the labels stay a clear column).
fn row_lines(ctx: &Ctx, label: &str, status: &Status, label_width: usize, width: usize) -> Vec<Line<'static>> {
    let t = &ctx.theme;
    let label = format!("{label:<label_width$}");
    let (mark, style, text) = match status {
        Status::Waiting => ("·".to_string(), t.dim, String::new()),
        Status::Running { elapsed, note, .. } => (
            super::spinner(ctx.frame).to_string(),
            t.accent,
            format!("{:.1}s {note}", elapsed.as_secs_f64()),
        ),
        Status::Done(text) => ("✓".to_string(), t.ok, text.clone()),
        Status::Skipped(text) => ("–".to_string(), t.dim, text.clone()),
        Status::Failed(_) => ("✗".to_string(), t.error, "failed".to_string()),
    };
    let head = vec![Span::styled(format!("{mark} "), style), Span::raw(label)];
    super::hanging(head, &[(text.as_str(), t.dim)], width)
}

/// A line per node that runs at the same time as others: the node, its latest step and
/// where that step is.
pub fn node_lines(ctx: &Ctx, nodes: &[NodeRow], width: usize) -> Vec<Line<'static>> {
    let node_width = nodes.iter().map(|n| n.node.chars().count()).max().unwrap_or(0);
    nodes
        .iter()
        .flat_map(|n| {
            let label = format!("{:<node_width$}  {}", n.node, n.step.label());
            row_lines(ctx, &label, &n.status, label.chars().count() + 1, width)
        })
        .collect()
}

/// The rows, then `text` below them. On failure (`failed`) the rows after the last one
/// that moved are only waiting, the text gets their room and `scroll` scrolls it;
/// otherwise the newest rows are in view and `scroll` goes back that many rows. Returns
/// the furthest scroll that shows anything new (see [`scrolled`]).
pub fn view(
    frame: &mut Frame,
    area: Rect,
    ctx: &Ctx,
    rows: &[(Step, Status)],
    text: Vec<Line>,
    scroll: usize,
    failed: bool,
) -> usize {
    let last = rows.iter().rposition(|(_, s)| *s != Status::Waiting).unwrap_or(0);
    let width = area.width.max(1) as usize;
    // The labels a column as wide as the longest and a space (22 at least: the apply's).
    let label_width = rows
        .iter()
        .map(|(s, _)| s.label().chars().count() + 1)
        .fold(22, usize::max);
    let shown: Vec<Vec<Line>> = rows
        .iter()
        .take(if failed { last + 1 } else { rows.len() })
        .map(|(step, status)| row_lines(ctx, step.label(), status, label_width, width))
        .collect();
    // The text below keeps its room (half the screen at most: a long error scrolls),
    // and on a short terminal the newest rows stay in view.
    let wrapped = |l: &Line| l.width().max(1).div_ceil(width);
    let below_rows = text.iter().map(wrapped).sum::<usize>().min(area.height as usize / 2);
    let room = (area.height as usize).saturating_sub(below_rows).max(1);
    let heights: Vec<usize> = shown.iter().map(Vec::len).collect();
    let mut hidden = 0;
    while heights[hidden..].iter().sum::<usize>() > room && hidden + 1 < shown.len() {
        hidden += 1;
    }
    let skip = if failed { hidden } else { hidden - scroll.min(hidden) };
    let rows_height = (heights[skip..].iter().sum::<usize>() as u16).min(area.height);
    let [rows, below] = Layout::vertical([Constraint::Length(rows_height), Constraint::Min(0)]).areas(area);
    frame.render_widget(
        Paragraph::new(shown.into_iter().skip(skip).flatten().collect::<Vec<_>>()),
        rows,
    );
    let text_rows: usize = text.iter().map(wrapped).sum();
    let furthest = if failed {
        text_rows.saturating_sub(below.height as usize)
    } else {
        hidden
    };
    let text_scroll = if failed { scroll.min(furthest) } else { 0 };
    frame.render_widget(
        Paragraph::new(text)
            .wrap(Wrap { trim: false })
            .scroll((text_scroll as u16, 0)),
        below,
    );
    furthest
}
