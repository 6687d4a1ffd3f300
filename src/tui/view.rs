//! The frame around every screen: a header with the step and title (and the demo
//! banner), the screen's body, the footer of keys, and the help and quit dialogs.
//! Drawing only reads state.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use crate::tui::app::{App, Modal};
use crate::tui::keys::{GLOBAL, TYPING};
use crate::tui::screens::ScreenId;

pub fn draw(frame: &mut Frame, app: &App) {
    let area = frame.area();
    let t = &app.ctx.theme;
    let banner = u16::from(app.ctx.demo);
    let [banner_area, header, body, footer] = Layout::vertical([
        Constraint::Length(banner),
        Constraint::Length(2),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(area);
    if app.ctx.demo {
        let text = " DEMO · AWS emulator and OpenBao, all on this machine · F2: the commands ";
        frame.render_widget(
            Paragraph::new(Line::styled(text, t.banner)).style(t.banner),
            banner_area,
        );
    }
    // Only the walk is numbered: the start menu and what it leads to stand beside it.
    let step = match app.screen.number() {
        Some(n) => format!(" {n}/{} ", ScreenId::walk().len()),
        None => " · ".to_string(),
    };
    frame.render_widget(
        Paragraph::new(vec![
            Line::from(vec![
                Span::styled("autounseal", t.title),
                Span::styled(step, t.dim),
                Span::styled(app.screen.title(), t.title),
            ]),
            Line::styled("─".repeat(area.width as usize), t.dim),
        ]),
        header,
    );
    let body = body.inner(ratatui::layout::Margin {
        horizontal: 1,
        vertical: 0,
    });
    app.screens.view(app.screen, frame, body, &app.ctx);
    // Roomy when it fits, tight when it would not: every key stays in view.
    let hints = app.footer();
    let roomy: usize = hints
        .iter()
        .map(|h| h.label.chars().count() + h.what.chars().count() + 4)
        .sum();
    let pad = if roomy <= area.width as usize { " " } else { "" };
    let mut keys: Vec<Span> = Vec::new();
    for hint in hints {
        keys.push(Span::styled(format!("{pad}{}{pad}", hint.label), t.selected));
        keys.push(Span::styled(format!(" {} ", hint.what), t.dim));
    }
    frame.render_widget(Paragraph::new(Line::from(keys)), footer);
    match app.modal {
        Some(Modal::Help) => help(frame, area, app),
        Some(Modal::ConfirmQuit) => confirm_quit(frame, area, app),
        Some(Modal::Commands(scroll)) => commands(frame, area, app, scroll),
        None => {}
    }
}

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    }
}

/// The screen's keys that apply now and the global ones: the same tables dispatch reads.
fn help(frame: &mut Frame, area: Rect, app: &App) {
    let t = &app.ctx.theme;
    let row = |label: &str, what: &str| {
        Line::from(vec![
            Span::styled(format!("{label:>10}  "), t.accent),
            Span::raw(what.to_string()),
        ])
    };
    let mut text = vec![
        Line::styled(format!("{}: the keys", app.screen.title()), t.title),
        Line::raw(""),
    ];
    for hint in app.screens.hints(app.screen, &app.ctx) {
        text.push(row(hint.label, hint.what));
    }
    if app.screens.takes_typing(app.screen) {
        text.push(row("typing", TYPING));
    }
    text.push(Line::raw(""));
    for (_, _, label, what) in GLOBAL {
        text.push(row(label, what));
    }
    text.push(Line::raw(""));
    text.push(Line::styled("Any key closes this help.", t.dim));
    dialog(frame, area, " Help ", text, 60);
}

fn commands(frame: &mut Frame, area: Rect, app: &App, scroll: usize) {
    let t = &app.ctx.theme;
    let all = crate::tui::presenter::commands(app);
    let width = area.width.saturating_sub(2);
    let inner = width.saturating_sub(2).max(1) as usize;
    // Rows left for commands: the screen less the borders and the hint line.
    let room = area.height.saturating_sub(3) as usize;
    let rows_of = |l: &String| l.chars().count().max(1).div_ceil(inner);
    // The furthest scroll that still fills the dialog: its last command at the bottom.
    let mut fits = 0;
    let mut furthest = all.len().saturating_sub(1);
    for (i, l) in all.iter().enumerate().rev() {
        fits += rows_of(l);
        if fits > room {
            break;
        }
        furthest = i;
    }
    app.commands_furthest.set(furthest);
    let scroll = scroll.min(furthest);
    let mut text: Vec<Line> = Vec::new();
    let mut rows = 0;
    for l in all.iter().skip(scroll) {
        rows += rows_of(l);
        if rows > room {
            break;
        }
        text.push(if l.starts_with('#') {
            Line::styled(l.clone(), t.dim)
        } else {
            Line::raw(l.clone())
        });
    }
    let more = if scroll > 0 || text.len() + scroll < all.len() {
        "↑↓ scroll · "
    } else {
        ""
    };
    text.push(Line::styled(format!("{more}any other key closes"), t.dim));
    dialog(
        frame,
        area,
        &format!(" {}: the commands ", app.screen.title()),
        text,
        width,
    );
}

fn confirm_quit(frame: &mut Frame, area: Rect, app: &App) {
    let t = &app.ctx.theme;
    let run = &app.screens.run;
    let demo = app.ctx.demo;
    let mut head = vec![Line::styled("Quit autounseal?", t.title), Line::raw("")];
    let mut tail = Vec::new();
    let keys_dir = app.ctx.state_dir.display();
    if app.ctx.secrets.is_some() && !demo {
        tail.push(Line::styled(
            format!(
                "The recovery keys have not been stored yet: quitting saves them to a new file in {keys_dir} \
                 (mode 0600), and tells you where."
            ),
            t.warn,
        ));
    } else if app.screens.rotate.running() {
        tail.push(Line::styled(
            "The rotation goes on while you decide; quitting stops it after the step in flight (a restart is \
             never cut short), rolls it back to the old key, then leaves.",
            t.warn,
        ));
    } else if app.screens.drill.running() {
        tail.push(Line::styled(
            "The drill goes on while you decide; quitting stops it after the step in flight, stops the recovery \
             server and removes its folder, then leaves. The live server is only read either way.",
            t.warn,
        ));
    } else if run.running() && !demo {
        tail.push(Line::styled(
            if run.initialising() {
                format!(
                    "The server may be initialising: quitting waits for its recovery keys and saves them to a \
                     new file in {keys_dir} (mode 0600)."
                )
            } else {
                "The run waits while you decide; quitting stops it after the current step, before the server \
                 is initialised."
                    .to_string()
            },
            t.warn,
        ));
    }
    let rotating = app.screens.rotate.running();
    let drilling = app.screens.drill.running();
    let created = if rotating {
        app.screens.rotate.done_so_far()
    } else if drilling {
        app.screens.drill.done_so_far()
    } else {
        run.done_so_far()
    };
    if drilling {
        // A drill changes nothing of the setup: its steps are what quitting stops.
        head.push(Line::raw("The drill so far:"));
    } else if rotating || run.running() || !created.is_empty() {
        head.push(Line::raw("Done so far (all recorded in the manifest):"));
        if !demo && !rotating {
            tail.push(Line::raw(format!(
                "Run autounseal again to go on, or {} to undo.",
                crate::cli::command_hint("destroy", &app.ctx.state_dir)
            )));
        }
    }
    if demo {
        tail.push(Line::raw(
            "Quitting tears the demo down: server, emulator and demo folder.",
        ));
    } else if created.is_empty() && !rotating && !drilling {
        let saved = app.ctx.state_dir.join(crate::answers::SESSION_FILE);
        tail.push(Line::raw(format!("Your answers are saved in {}.", saved.display())));
    }
    tail.push(Line::raw(""));
    // The answer keys, from the question's key table.
    let mut answers = Vec::new();
    for b in Modal::ConfirmQuit.keys().bindings {
        answers.push(Span::styled(format!(" {} ", b.label), t.selected));
        answers.push(Span::raw(format!(" {}   ", b.what)));
    }
    tail.push(Line::from(answers));
    // The steps done get the room the rest leaves, newest last; the answer keys always show.
    let width = 70.min(area.width);
    let inner = width.saturating_sub(2).max(1) as usize;
    let used: usize = head.iter().chain(&tail).map(|l| l.width().max(1).div_ceil(inner)).sum();
    let room = (area.height as usize).saturating_sub(2 + used);
    let rows = |l: &Line| l.width().max(1).div_ceil(inner);
    let mut steps: Vec<Line> = created
        .iter()
        .map(|line| Line::styled(format!("  ✓ {line}"), t.ok))
        .collect();
    let mut hidden = 0;
    // One row is kept for the "… earlier steps" line whenever any step is hidden.
    while !steps.is_empty() && steps.iter().map(rows).sum::<usize>() + usize::from(hidden > 0) > room {
        steps.remove(0);
        hidden += 1;
    }
    if hidden > 0 {
        steps.insert(0, Line::styled(format!("  … and {hidden} earlier steps"), t.dim));
    }
    let mut text = head;
    text.extend(steps);
    text.extend(tail);
    dialog(frame, area, " Quit ", text, width);
}

/// A bordered dialog in the middle of `area`, as tall as its wrapped text.
fn dialog(frame: &mut Frame, area: Rect, title: &str, text: Vec<Line>, width: u16) {
    let width = width.min(area.width);
    let inner = width.saturating_sub(2).max(1) as usize;
    let rows: usize = text.iter().map(|l| l.width().max(1).div_ceil(inner)).sum();
    let popup = centered(area, width, rows as u16 + 2);
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(text)
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title(title.to_string())),
        popup,
    );
}
