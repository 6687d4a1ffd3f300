//! The presenter's aid (F2): for the screen shown, the equivalent AWS CLI or server
//! commands, and the files as they will be written. Each screen says its own (see
//! `Screen::commands`, with the shared parts in `by_hand`).

use crate::tui::app::App;
use crate::tui::screens::ScreenId;

/// The lines of the Commands dialog for the screen shown.
pub fn commands(app: &App) -> Vec<String> {
    // The Run screen runs the plan Review showed: its commands are that plan's.
    let shown = if app.screen == ScreenId::Run {
        ScreenId::Review
    } else {
        app.screen
    };
    app.screens.commands(shown, &app.ctx)
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
