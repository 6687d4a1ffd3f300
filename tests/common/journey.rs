//! The journeys of issue 18: the wizard as an operator meets it, in a real pseudo-terminal
//! of 80x24, on a host of its own (a systemd sandbox) or on this machine.

use std::path::Path;
use std::time::{Duration, Instant};

use portable_pty::CommandBuilder;

use super::pty::{Terminal, wizard_command};

/// `autounseal ARGS` as `wizard_command` starts it, but inside the systemd sandbox whose
/// init is `sandbox` (`systemd-sandbox run`): the wizard sees that systemd and the
/// sandbox's /etc, as it would on a packaged host.
pub fn wizard_in_sandbox(tool: &Path, sandbox: &str, home: &Path, args: &[&str]) -> CommandBuilder {
    let mut cmd = wizard_command(home);
    cmd.args(args);
    cmd.get_argv_mut()
        .splice(0..0, [tool.as_os_str().into(), "run".into(), sandbox.into()]);
    cmd
}

/// The screen's text without its spaces and line ends: a sentence wrapped onto the next
/// row, or a path cut at the screen's edge, reads back whole.
pub fn squeezed(screen: &str) -> String {
    screen.split_whitespace().collect()
}

/// Whether the screen says `text`, wrapped or not (see [`squeezed`]).
pub fn says(screen: &str, text: &str) -> bool {
    squeezed(screen).contains(&squeezed(text))
}

/// Waits until the screen says every one of `texts` at once (wrapped or not); fails with
/// the screen as it is.
pub fn wait_for_all(t: &Terminal, texts: &[&str], timeout: Duration) -> String {
    let deadline = Instant::now() + timeout;
    loop {
        let screen = t.contents();
        let missing: Vec<&&str> = texts.iter().filter(|text| !says(&screen, text)).collect();
        if missing.is_empty() {
            return screen;
        }
        assert!(
            Instant::now() < deadline,
            "{missing:?} never appeared. The screen:\n{screen}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
