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

pub fn view(frame: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let a = &app.answers;
    let mut text = Vec::new();
    if let Some(r) = &app.done.report {
        match &r.status {
            Some(s) => text.push(Line::styled(
                format!(
                    "✓ {} runs with seal {}: initialised, {}.",
                    r.address,
                    s.seal_type,
                    if s.sealed { "sealed" } else { "unsealed" }
                ),
                t.ok,
            )),
            None => text.push(Line::styled("✓ AWS is ready and the files are written.", t.ok)),
        }
        text.push(Line::raw(""));
        text.push(Line::raw(format!("KMS key   {}", r.key_arn)));
        text.push(Line::raw(format!("IAM user  {}", r.user_arn)));
        text.push(Line::raw(format!("Env file  {} (0600)", a.output.env_file.display())));
        text.push(Line::raw(format!("Config    {}", a.output.vault_config.display())));
        text.push(Line::raw(format!(
            "Manifest  {}",
            app.state_dir.join(crate::engine::manifest::MANIFEST_FILE).display()
        )));
        text.push(Line::raw(""));
        text.push(Line::styled("Next:", t.title));
        if r.status.is_none() {
            text.push(Line::raw(format!("  start the server: {}", r.server_command)));
        }
        text.push(Line::raw(format!(
            "  {} status -address={}",
            crate::vault::server::Flavour::from_binary_name(&a.server.binary).cli(),
            r.address
        )));
        if a.server.launch == crate::answers::Launch::Background && !app.demo {
            text.push(Line::raw(
                "  the server runs in the background; autounseal destroy stops it",
            ));
        }
        text.push(Line::raw("  rotate the access key every 30 to 90 days"));
        if app.demo {
            text.push(Line::raw(
                "  quitting tears the demo down; k keeps it running to explore",
            ));
        } else {
            text.push(Line::raw("  undo everything: autounseal destroy"));
        }
    }
    frame.render_widget(ratatui::widgets::Paragraph::new(text), area);
}
