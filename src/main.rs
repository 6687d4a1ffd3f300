use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::process::ExitCode;

use clap::Parser;

use autounseal::cli::{Cli, Command};
use autounseal::commands;
use autounseal::frontend::{FrontEnd, choose};
use autounseal::ops::OpsError;
use autounseal::run::RunError;

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
    // `target=level` directives (`autounseal=debug,warn`): tracing-subscriber's `Targets`,
    // not its `EnvFilter`, whose regular-expression engine would add 390 KB to the binary.
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter: tracing_subscriber::filter::Targets = std::env::var("AUTOUNSEAL_LOG")
        .ok()
        .and_then(|directives| directives.parse().ok())
        .unwrap_or_else(|| {
            tracing_subscriber::filter::Targets::new()
                .with_target("autounseal", tracing::Level::INFO)
                .with_default(tracing::Level::WARN)
        });
    let _ = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(std::sync::Mutex::new(file))
        .with_ansi(false)
        .finish()
        .with(filter)
        .try_init();
}

/// The wizard on a full screen, or as line prompts where there is no screen to draw on
/// (no terminal, `TERM=dumb`, `--plain`): the accessible mode, same questions, same checks.
async fn wizard(
    answers: Option<&std::path::Path>,
    plain: bool,
    state_dir: &std::path::Path,
    profile: Option<&str>,
) -> anyhow::Result<()> {
    let mut start = autounseal::tui::starting_answers(answers, state_dir)?;
    if let Some(profile) = profile {
        start.profile = Some(profile.to_string());
    }
    match choose(plain, false) {
        FrontEnd::Screen => {
            let exit = autounseal::tui::run(start, state_dir.to_path_buf(), false).await?;
            exit.print_farewell();
            Ok(())
        }
        // The wizard always asks: without a screen, as line prompts.
        FrontEnd::Plain | FrontEnd::Headless => autounseal::plain::run(start, state_dir, false).await,
    }
}

/// `autounseal regions | head -3`: once the reader is gone, a print fails with a
/// broken pipe and std panics. Leave quietly instead, as a tool killed by SIGPIPE does
/// (status 141); the same after a hang-up, whose terminal answers every write with EIO
/// (status 129). Runs print nothing while they change things (progress lines ignore
/// write errors), so this only ever ends a listing or a summary.
fn exit_quietly_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(141);
        }
        // The terminal hung up (a dropped SSH session): the run that SIGHUP stopped is
        // recorded, and there is no one left to tell. 129, as a shell reports a SIGHUP.
        if message.starts_with("failed printing to stdout") && message.contains("Input/output error") {
            std::process::exit(129);
        }
        default(info);
    }));
}

fn main() -> ExitCode {
    exit_quietly_on_closed_stdout();
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
    // The wizard runs an apply in a task of its own: its workers get the main thread's
    // 8 MiB of stack, as a headless apply has (a debug build's futures nest deep).
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(8 << 20)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(cli))
}

async fn run(cli: Cli) -> ExitCode {
    // What only prints needs no state folder and writes no log (a package's build runs them).
    match cli.command {
        Some(Command::Completions { shell }) => {
            commands::completions(shell);
            return ExitCode::SUCCESS;
        }
        Some(Command::Man) => return finish(commands::man().map(|()| ExitCode::SUCCESS), ExitCode::FAILURE),
        _ => {}
    }
    let state_dir = match commands::state_dir(cli.global.state_dir.clone()) {
        Ok(dir) => dir,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    init_logging(&state_dir);
    let profile = cli.global.profile.as_deref();
    let result = match cli.command {
        Some(Command::Apply(args)) => commands::apply(args, &state_dir, profile).await,
        Some(Command::Plan(args)) => commands::plan(args, &state_dir, profile).await,
        Some(Command::Destroy(args)) => commands::destroy(args, &state_dir, profile).await,
        Some(Command::Demo(args)) => commands::demo(args, &state_dir, cli.global.plain).await,
        // Its exit code says how the checks came out; an error that stops it is a failure.
        Some(Command::Doctor(args)) => {
            let checked = commands::doctor(args, &state_dir, profile).await;
            return finish(checked.map(ExitCode::from), ExitCode::from(2));
        }
        Some(Command::Status(args)) => commands::status(args, &state_dir, profile).await,
        Some(Command::Join(args)) => commands::join(args, &state_dir, profile).await,
        Some(Command::Rotate(args)) => commands::rotate(args, &state_dir, profile).await,
        Some(Command::Drill(args)) => commands::drill(args, &state_dir, profile).await,
        Some(Command::Monitor { action }) => commands::monitor(action, &state_dir, profile).await,
        Some(Command::Regions) => {
            commands::list_regions();
            Ok(())
        }
        // Answered before the state folder and the log: see above.
        Some(Command::Completions { .. } | Command::Man) => Ok(()),
        None => wizard(cli.answers.as_deref(), cli.global.plain, &state_dir, profile).await,
    };
    finish(result.map(|()| ExitCode::SUCCESS), ExitCode::FAILURE)
}

/// The exit code of a command; an error is said (and logged) first. A stop the
/// operator asked for (a signal) exits 130, as a shell reports an interrupt, so that a
/// script tells it from a failure.
fn finish(result: anyhow::Result<ExitCode>, on_error: ExitCode) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(e) => {
            let message = autounseal::headless::error_chain(&e);
            tracing::error!("{message}");
            // Not eprintln!: with the terminal gone it would panic instead of exiting.
            let _ = writeln!(std::io::stderr(), "error: {message}");
            if stopped_on_request(&e) {
                ExitCode::from(130)
            } else {
                on_error
            }
        }
    }
}

/// Whether `e` is a stop asked for, however deep in its chain.
fn stopped_on_request(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause.downcast_ref::<RunError>().is_some_and(RunError::is_stop)
            || cause.downcast_ref::<OpsError>().is_some_and(OpsError::is_stop)
    })
}
