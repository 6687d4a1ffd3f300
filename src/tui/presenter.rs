//! The presenter's aid: for the screen shown, the equivalent AWS CLI or server
//! commands, and the files as they will be written. Built from the same renderers the
//! run uses (policy document, Vault config, env file layout), so they never disagree.

use crate::answers::Launch;
use crate::aws::policy;
use crate::credentials_file;
use crate::tui::app::App;
use crate::tui::screens::{Lookup, ScreenId, iam::key_arn};
use crate::twins::{aws_command, create_key_command};
use crate::vault::{config, server::Flavour};

/// Every twin names the region, as the run's own do (see `AwsContext::aws_cli`).
fn aws(app: &App, args: &[&str]) -> String {
    let a = &app.ctx.answers;
    // Before the region is chosen (the Account screen) there is none to name.
    let region = Some(a.region.as_str()).filter(|r| !r.is_empty());
    aws_command(args, region, a.endpoint_url.as_deref())
}

fn flavour(app: &App) -> Flavour {
    Flavour::from_binary_name(&app.ctx.answers.server.binary)
}

fn cli(app: &App) -> &'static str {
    flavour(app).cli()
}

/// The lines of the Commands dialog for the screen shown.
pub fn commands(app: &App) -> Vec<String> {
    let a = &app.ctx.answers;
    let mut out = Vec::new();
    match app.screen {
        ScreenId::Welcome => out.extend(
            [
                "# By hand, the same job is:",
                "aws kms create-key …; aws kms enable-key-rotation …; aws kms create-alias …",
                "aws iam create-user …; aws iam create-policy …; aws iam attach-user-policy …",
                "aws iam create-access-key …   # then write vault.env, 0600",
                "vault server -config=vault.hcl; vault operator init -recovery-shares=…",
                "# F2 on each screen shows that step's commands.",
            ]
            .map(String::from),
        ),
        ScreenId::Start | ScreenId::Doctor | ScreenId::Status => {
            let state_dir = &app.ctx.state_dir;
            out.extend([
                "# The same, without the wizard:".to_string(),
                crate::cli::command_hint("doctor", state_dir),
                format!(
                    "{}   # for monitoring: exit code 0 ok, 1 warnings, 2 failures",
                    crate::cli::command_hint("doctor --json", state_dir)
                ),
                crate::cli::command_hint("status", state_dir),
            ]);
            if app.screen == ScreenId::Start {
                out.push(crate::cli::command_hint("rotate", state_dir));
            }
        }
        ScreenId::Rotate => {
            let state_dir = &app.ctx.state_dir;
            out.extend([
                "# The same, without the wizard (it shows the plan and asks first):".to_string(),
                crate::cli::command_hint("rotate", state_dir),
                format!(
                    "{}   # no question: for a scheduled rotation",
                    crate::cli::command_hint("rotate --yes", state_dir)
                ),
                "# Every change it makes, with its AWS CLI twin, is in the manifest and the log.".to_string(),
            ]);
        }
        ScreenId::Account => out.push(aws(app, &["sts", "get-caller-identity"])),
        ScreenId::Region => {
            out.push(format!(
                "export AWS_REGION={}",
                if a.region.is_empty() { "eu-west-1" } else { &a.region }
            ));
            out.push(aws(app, &["kms", "list-keys"]));
        }
        ScreenId::Kms if a.kms.create => {
            out.push(create_key_command(
                &a.kms.description,
                &a.region,
                a.endpoint_url.as_deref(),
            ));
            out.push(aws(app, &["kms", "enable-key-rotation", "--key-id", "KEY_ID"]));
            out.push(aws(
                app,
                &[
                    "kms",
                    "create-alias",
                    "--alias-name",
                    &a.kms.alias,
                    "--target-key-id",
                    "KEY_ID",
                ],
            ));
        }
        ScreenId::Kms => {
            let key = a.kms.key_id.as_deref().unwrap_or("KEY");
            out.push(aws(app, &["kms", "describe-key", "--key-id", key]));
        }
        ScreenId::Iam => {
            let (user, policy_name) = (a.iam.user_name.as_str(), a.iam.policy_name.as_str());
            out.push(aws(app, &["iam", "create-user", "--user-name", user]));
            out.push(aws(
                app,
                &[
                    "iam",
                    "create-policy",
                    "--policy-name",
                    policy_name,
                    "--policy-document",
                    "file://policy.json",
                ],
            ));
            out.push(aws(
                app,
                &[
                    "iam",
                    "attach-user-policy",
                    "--user-name",
                    user,
                    "--policy-arn",
                    "POLICY_ARN",
                ],
            ));
            out.push(aws(app, &["iam", "create-access-key", "--user-name", user]));
            out.push(String::new());
            out.push("# policy.json".into());
            out.extend(policy::document_text(&key_arn(&app.ctx)).lines().map(String::from));
        }
        ScreenId::Files => {
            let files = a.output.key_files();
            let owner = a.server.service_account().install_flags();
            for (_, path) in files.paths() {
                out.push(format!("install -m 0600 {owner} /dev/null {}", path.display()));
            }
            if let Some(shared) = &files.shared {
                out.push(String::new());
                out.push(format!("# {}", shared.path.display()));
                out.push(format!("[{}]", shared.profile));
                out.push("aws_access_key_id = AKIA…".into());
                out.push("aws_secret_access_key = …   # the secret, shown once by create-access-key".into());
            }
            out.push(String::new());
            out.push(format!("# {}", files.env_file.display()));
            match &files.shared {
                None => {
                    out.push("AWS_ACCESS_KEY_ID=AKIA…".into());
                    out.push("AWS_SECRET_ACCESS_KEY=…   # the secret, shown once by create-access-key".into());
                    out.push(format!("AWS_DEFAULT_REGION={}", a.region));
                    out.push(format!("AWS_REGION={}", a.region));
                }
                Some(shared) => out.extend(
                    credentials_file::render_env_pointer(shared, &a.region)
                        .lines()
                        .filter(|l| !l.starts_with('#'))
                        .map(String::from),
                ),
            }
        }
        ScreenId::Server => {
            out.push(format!("# {}", a.output.vault_config.display()));
            out.extend(
                config::render(a, &key_arn(&app.ctx), flavour(app))
                    .lines()
                    .skip(1)
                    .map(String::from),
            );
            match a.server.launch {
                Launch::Systemd => {
                    out.push(format!(
                        "# /etc/systemd/system/{}.d/autounseal.conf",
                        flavour(app).unit()
                    ));
                    out.extend(
                        config::systemd_drop_in(&a.output.env_file)
                            .lines()
                            .skip(1)
                            .map(String::from),
                    );
                }
                _ => out.push(format!(
                    "set -a; . {}; set +a; {} server -config={}",
                    a.output.env_file.display(),
                    cli(app),
                    a.output.vault_config.display()
                )),
            }
        }
        // A migration initialises nothing: its keys are submitted with `migrate`.
        ScreenId::Init if a.server.existing == crate::answers::ExistingServer::Migrate => out.extend([
            "# A seal migration runs no init: the server keeps its unseal keys, which become its recovery keys."
                .to_string(),
            format!(
                "{} operator unseal -migrate -address={}   # once restarted with the seal stanza, per key",
                cli(app),
                config::api_addr(a)
            ),
        ]),
        ScreenId::Init => out.push(format!(
            "{} operator init -recovery-shares={} -recovery-threshold={} -address={}",
            cli(app),
            a.init.recovery_shares,
            a.init.recovery_threshold,
            config::api_addr(a)
        )),
        ScreenId::Review | ScreenId::Run => match &app.screens.review.plan {
            Lookup::Loaded(calls) if !calls.is_empty() => out.extend(calls.iter().map(|c| c.command.clone())),
            _ => out.push("# The plan lists the commands once it is made.".into()),
        },
        ScreenId::UnsealKeys => {
            out.push("# Once the server restarted with the seal \"awskms\" stanza, for each unseal key:".into());
            out.push(format!(
                "{} operator unseal -migrate -address={}   # prompts for the key, hidden",
                cli(app),
                config::api_addr(a)
            ));
        }
        ScreenId::Recovery | ScreenId::Done => {
            out.push(format!("{} status -address={}", cli(app), config::api_addr(a)));
            out.push(format!(
                "{} operator generate-root -init   # what the recovery keys are for",
                cli(app)
            ));
            out.push("autounseal destroy   # undo everything".into());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::answers::Answers;
    use crate::tui::theme::Theme;

    fn app_on(screen: ScreenId) -> App {
        let mut a = Answers {
            region: "eu-west-1".into(),
            endpoint_url: Some("http://127.0.0.1:5000".into()),
            ..Default::default()
        };
        a.server.binary = "/opt/bao".into();
        a.server.tls_disable = true;
        let mut app = App::new(a, "/tmp/s".into(), Theme::new(true));
        app.screen = screen;
        app
    }

    #[test]
    fn each_step_has_its_commands_pointed_at_the_same_endpoint() {
        let kms = commands(&app_on(ScreenId::Kms)).join("\n");
        assert!(
            kms.contains("aws kms create-key --key-spec SYMMETRIC_DEFAULT")
                && kms.contains("--endpoint-url http://127.0.0.1:5000")
        );
        let iam = commands(&app_on(ScreenId::Iam)).join("\n");
        assert!(
            iam.contains("aws iam create-access-key --user-name vault-auto-unseal")
                && iam.contains("\"kms:DescribeKey\"")
        );
        let server = commands(&app_on(ScreenId::Server)).join("\n");
        assert!(
            server.contains("seal \"awskms\"") && server.contains("endpoint = \"http://127.0.0.1:5000\""),
            "{server}"
        );
        let init = commands(&app_on(ScreenId::Init)).join("\n");
        assert!(init.contains("bao operator init -recovery-shares=5 -recovery-threshold=3"));
    }
}
