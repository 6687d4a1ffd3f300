use std::os::unix::fs::OpenOptionsExt;
use std::process::ExitCode;

use std::io::IsTerminal;

use clap::Parser;

use autounseal::cli::{Cli, Command};
use autounseal::commands;

/// Logs go to a file in the state folder, never to the terminal the wizard draws on.
/// Nothing secret is ever passed to a log call.
fn init_logging(state_dir: &std::path::Path) {
    let Ok(()) = std::fs::create_dir_all(state_dir) else {
        return;
    };
    let Ok(file) = std::fs::OpenOptions::new()
        .mode(0o600)
        .create(true)
        .append(true)
        .open(state_dir.join("autounseal.log"))
    else {
        return;
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("AUTOUNSEAL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("autounseal=info,warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::sync::Mutex::new(file))
        .with_ansi(false)
        .try_init();
}

/// The wizard on a full screen, or as line prompts where there is no screen to draw on
/// (no terminal, `TERM=dumb`, `--plain`): the accessible mode, same questions, same checks.
async fn wizard(answers: Option<&std::path::Path>, plain: bool, state_dir: &std::path::Path) -> anyhow::Result<()> {
    let start = autounseal::tui::starting_answers(answers, state_dir)?;
    let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
    let terminal = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    if plain || dumb || !terminal {
        autounseal::plain::run(start, state_dir).await
    } else {
        autounseal::tui::run(start, state_dir.to_path_buf(), false)
            .await
            .map(|_| ())
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if matches!(cli.command, Some(Command::Demo(_))) {
        for (key, value) in autounseal::demo::DEMO_ENV {
            // SAFETY: no other thread exists yet; the runtime is built below.
            unsafe {
                if value.is_empty() {
                    std::env::remove_var(key);
                } else {
                    std::env::set_var(key, value);
                }
            }
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(cli))
}

async fn run(cli: Cli) -> ExitCode {
    let state_dir = match commands::state_dir(cli.global.state_dir.clone()) {
        Ok(dir) => dir,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    init_logging(&state_dir);
    let result = match cli.command {
        Some(Command::Apply(args)) => commands::apply(args, &state_dir).await,
        Some(Command::Plan(args)) => commands::plan(args, &state_dir).await,
        Some(Command::Destroy(args)) => commands::destroy(args, &state_dir).await,
        Some(Command::Demo(args)) => commands::demo(args, &state_dir, cli.global.plain).await,
        Some(Command::Regions) => {
            commands::list_regions();
            Ok(())
        }
        None => wizard(cli.answers.as_deref(), cli.global.plain, &state_dir).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
