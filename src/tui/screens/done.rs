//! Done: what exists now, where the files are, what to run next, how to undo.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;

use crate::tui::app::{App, Command, RunReport};

#[derive(Default)]
pub struct State {
    pub report: Option<RunReport>,
}

pub fn update(app: &mut App, key: KeyEvent) -> Vec<Command> {
    match key.code {
        KeyCode::Enter | KeyCode::Char('q') | KeyCode::Esc => vec![Command::Quit],
        KeyCode::Char('k') if app.demo => {
            app.keep_demo = true;
            vec![Command::Quit]
        }
        _ => vec![],
    }
}

pub fn keys(app: &App) -> Vec<(&'static str, &'static str)> {
    if app.demo {
        vec![("Enter/q", "tear down and quit"), ("k", "keep it running")]
    } else {
        vec![("Enter/q", "quit")]
    }
}

/// What exists now and what to do next, as plain lines: drawn on this screen and
/// printed to the normal screen on exit, so that an SSH session keeps them. No secret.
pub fn summary(app: &App) -> Vec<String> {
    let a = &app.answers;
    let Some(r) = &app.done.report else {
        return vec![];
    };
    let mut text = vec![match &r.status {
        Some(s) => format!(
            "✓ {} runs with seal {}: initialised, {}.",
            r.address,
            s.seal_type,
            if s.sealed { "sealed" } else { "unsealed" }
        ),
        None => "✓ AWS is ready and the files are written.".to_string(),
    }];
    text.push(String::new());
    text.push(format!("KMS key   {}", r.key_arn));
    text.push(format!("IAM user  {}", r.user_arn));
    text.push(format!("Env file  {} (0600)", a.output.env_file.display()));
    text.push(format!("Config    {}", a.output.vault_config.display()));
    text.push(format!(
        "Manifest  {}",
        app.state_dir.join(crate::run::manifest::MANIFEST_FILE).display()
    ));
    text.push(String::new());
    text.push("Next:".to_string());
    if r.status.is_none() {
        text.push(format!("  start the server: {}", r.server_command));
    }
    text.push(format!(
        "  {} status -address={}",
        crate::vault::server::Flavour::from_binary_name(&a.server.binary).cli(),
        r.address
    ));
    if a.server.launch == crate::answers::Launch::Background && !app.demo {
        text.push(format!(
            "  the server runs in the background; {} stops it",
            crate::cli::command_hint("destroy", &app.state_dir)
        ));
    }
    text.push("  rotate the access key every 30 to 90 days".to_string());
    if !app.demo {
        text.push(format!(
            "  undo everything: {}",
            crate::cli::command_hint("destroy", &app.state_dir)
        ));
    }
    text
}

pub fn view(frame: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let mut text: Vec<Line> = summary(app)
        .into_iter()
        .enumerate()
        .map(|(i, line)| match i {
            0 => Line::styled(line, t.ok),
            _ if line == "Next:" => Line::styled(line, t.title),
            _ => Line::raw(line),
        })
        .collect();
    if app.demo && app.done.report.is_some() {
        text.push(Line::raw(
            "  quitting tears the demo down; k keeps it running to explore",
        ));
    }
    // Wrapped: a key ARN is longer than an 80-column row.
    super::lines(frame, area, text);
}
