//! What F2 shows, the parts screens share: the AWS CLI twin of a call pointed at the
//! answers' region and endpoint, the server's CLI, and the commands of a recorded setup.
//! Built from `crate::twins` and the renderers the run uses, so they never disagree.

use crate::tui::ctx::Ctx;
use crate::twins::aws_command;
use crate::vault::server::Flavour;

/// An AWS CLI line; every twin names the region, as the run's own do (see
/// `AwsContext::aws_cli`). Before the region is chosen (the Account screen) there is none.
pub fn aws(ctx: &Ctx, args: &[&str]) -> String {
    let a = &ctx.answers;
    let region = Some(a.region.as_str()).filter(|r| !r.is_empty());
    aws_command(args, region, a.endpoint_url.as_deref())
}

pub fn flavour(ctx: &Ctx) -> Flavour {
    Flavour::from_binary_name(&ctx.answers.server.binary)
}

/// `vault` or `bao`.
pub fn cli(ctx: &Ctx) -> &'static str {
    flavour(ctx).cli()
}

/// doctor and status without the wizard (the start menu adds rotate).
pub fn setup_commands(ctx: &Ctx) -> Vec<String> {
    let state_dir = &ctx.state_dir;
    vec![
        "# The same, without the wizard:".to_string(),
        crate::cli::command_hint("doctor", state_dir),
        format!(
            "{}   # for monitoring: exit code 0 ok, 1 warnings, 2 failures",
            crate::cli::command_hint("doctor --json", state_dir)
        ),
        crate::cli::command_hint("status", state_dir),
    ]
}

/// A finished server: its status, what the recovery keys are for, the undo.
pub fn finished_commands(ctx: &Ctx) -> Vec<String> {
    let address = crate::vault::config::api_addr(&ctx.answers);
    vec![
        format!("{} status -address={address}", cli(ctx)),
        format!(
            "{} operator generate-root -init   # what the recovery keys are for",
            cli(ctx)
        ),
        "autounseal destroy   # undo everything".into(),
    ]
}
