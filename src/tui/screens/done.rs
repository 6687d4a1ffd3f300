//! Done: what exists now, where the files are, what to run next, how to undo.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;

use super::{Ctx, Outcome, Screen};
use crate::answers::Answers;
use crate::tui::by_hand;
use crate::tui::keys::{Binding, ENTER, char};
use crate::tui::msg::Command;

pub struct Done;

fn quit() -> Outcome {
    Outcome::run(vec![Command::Quit])
}

impl Screen for Done {
    const KEYS: &'static [Binding<Self>] = &[
        Binding {
            keys: &[ENTER, char('q')],
            label: "Enter/q",
            what: "tear down and quit",
            when: |_, ctx| ctx.demo,
            action: |_, _, _| quit(),
        },
        Binding {
            keys: &[ENTER, char('q')],
            label: "Enter/q",
            what: "quit",
            when: |_, ctx| !ctx.demo,
            action: |_, _, _| quit(),
        },
        Binding {
            keys: &[char('k')],
            label: "k",
            what: "keep it running",
            when: |_, ctx| ctx.demo,
            action: |_, ctx, _| {
                ctx.keep_demo = true;
                quit()
            },
        },
    ];

    fn new(_: &Answers) -> Done {
        Done
    }

    fn view(&self, frame: &mut Frame, area: Rect, ctx: &Ctx) {
        let t = &ctx.theme;
        let mut text: Vec<Line> = summary(ctx)
            .into_iter()
            .enumerate()
            .map(|(i, line)| match i {
                0 => Line::styled(line, t.ok),
                _ if line == "Next:" => Line::styled(line, t.title),
                _ => Line::raw(line),
            })
            .collect();
        if ctx.demo && ctx.report.is_some() {
            text.push(Line::raw(
                "  quitting tears the demo down; k keeps it running to explore",
            ));
        }
        // Wrapped: a key ARN is longer than an 80-column row.
        super::lines(frame, area, text);
    }

    fn commands(&self, ctx: &Ctx) -> Vec<String> {
        by_hand::finished_commands(ctx)
    }
}

/// What exists now and what to do next, as plain lines: drawn on this screen and
/// printed to the normal screen on exit, so that an SSH session keeps them. No secret.
pub fn summary(ctx: &Ctx) -> Vec<String> {
    let a = &ctx.answers;
    let Some(r) = &ctx.report else {
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
        ctx.state_dir.join(crate::run::manifest::MANIFEST_FILE).display()
    ));
    text.push(String::new());
    text.push("Next:".to_string());
    // With launch `none` the operator starts it; otherwise it runs (a standby whose
    // cluster's seal has not moved yet has no status to show, and runs).
    if r.status.is_none() && a.server.launch == crate::answers::Launch::None {
        text.push(format!("  start the server: {}", r.server_command));
    }
    if let Some(next) = &r.cluster_next {
        text.push(format!("  cluster seal migration: {next}"));
    }
    text.push(format!("  {}", r.status_command));
    if a.server.launch == crate::answers::Launch::Background && !ctx.demo {
        text.push(format!(
            "  the server runs in the background; {} stops it",
            crate::cli::command_hint("destroy", &ctx.state_dir)
        ));
    }
    text.push("  rotate the access key every 30 to 90 days".to_string());
    // Left by this run or an earlier one: a keys file, a proof that never ran.
    text.extend(ctx.left_open.iter().map(|line| format!("  {line}")));
    if !ctx.demo {
        text.push(format!(
            "  undo everything: {}",
            crate::cli::command_hint("destroy", &ctx.state_dir)
        ));
        // destroy will not delete the key under data it seals without being told how.
        if r.status.as_ref().is_some_and(|s| s.initialized) {
            text.push(
                "    (the key seals the server's data: destroy first moves the server back to Shamir with the \
                 recovery keys, or with --force lets that data go)"
                    .to_string(),
            );
        }
    }
    text
}
