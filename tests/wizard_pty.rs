//! The real binary in a real pseudo-terminal of 80x24, typed through every screen
//! against moto and OpenBao 2.6.2, the screen read back by a terminal emulator (vt100).
//! It waits for what a person would see, never for a fixed time.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use autounseal::vault::client::VaultClient;
use common::pty::{CLEAR, DOWN, ENTER, RIGHT, TAB, Terminal};
use common::{Moto, ServerGuard, bao, free_port};
use portable_pty::CommandBuilder;

const SHORT: Duration = Duration::from_secs(15);

#[test]
fn a_person_goes_through_every_screen_to_an_unsealed_server() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let state = d.join("state");
    let listen = format!("127.0.0.1:{}", free_port());
    // Only the endpoint is given ahead, so that the first identity check already goes
    // to moto and never to AWS; every other answer is typed below.
    let prefill = d.join("prefill.toml");
    std::fs::write(&prefill, format!("endpoint_url = \"{}\"\n", moto.url)).unwrap();

    let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_autounseal"));
    cmd.env_clear();
    cmd.env("PATH", std::env::var("PATH").unwrap_or_default());
    cmd.env("HOME", d);
    cmd.env("TERM", "xterm-256color");
    cmd.env("AWS_ACCESS_KEY_ID", "testing");
    cmd.env("AWS_SECRET_ACCESS_KEY", "testing");
    cmd.env("AWS_CONFIG_FILE", "/nonexistent/aws-config");
    cmd.env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials");
    cmd.env("AWS_EC2_METADATA_DISABLED", "true");
    cmd.args([
        "--state-dir",
        &state.to_string_lossy(),
        "--answers",
        &prefill.to_string_lossy(),
    ]);
    let _guard = ServerGuard(state.clone());
    let mut t = Terminal::start(cmd);

    t.wait_for("1/12 Welcome", SHORT);
    t.type_keys(&[ENTER]);
    t.wait_for("✓ Account 123456789012", SHORT);
    t.type_keys(&[ENTER]);
    t.wait_for("3/12 Region", SHORT);
    t.type_keys(&["eu-west-1", ENTER]);
    t.wait_for("4/12 KMS key", SHORT);
    t.type_keys(&[ENTER]);
    let iam = t.wait_for("5/12 IAM user and policy", SHORT);
    assert!(
        iam.contains("\"kms:Encrypt\", \"kms:Decrypt\", \"kms:DescribeKey\""),
        "the exact policy is shown:\n{iam}"
    );
    t.type_keys(&[ENTER]);
    t.wait_for("6/12 Files", SHORT);
    let config = d.join("etc/vault.hcl");
    let env = d.join("etc/vault.env");
    t.type_keys(&[
        CLEAR,
        &config.to_string_lossy(),
        TAB,
        CLEAR,
        &env.to_string_lossy(),
        ENTER,
    ]);
    t.wait_for("7/12 Server", SHORT);
    let storage = d.join("data");
    t.type_keys(&[
        CLEAR,
        &bao().to_string_lossy(),
        TAB,
        RIGHT,
        TAB,
        CLEAR,
        &listen,
        TAB,
        CLEAR,
        &storage.to_string_lossy(),
        TAB,
        " ",
    ]);
    t.wait_for("found OpenBao 2.6.2", SHORT);
    t.type_keys(&[ENTER]);
    t.wait_for("8/12 Init", SHORT);
    t.type_keys(&[CLEAR, "3", TAB, CLEAR, "2", ENTER]);
    t.wait_for("9/12 Review", SHORT);
    let review = t.wait_for("vault:init", Duration::from_secs(30));
    assert!(
        review.contains("kms:CreateKey") && review.contains("iam:CreateAccessKey"),
        "{review}"
    );
    t.type_keys(&[ENTER]);
    t.wait_for("10/12 Run", SHORT);
    let done = t.wait_for("All done. Enter to continue.", Duration::from_secs(120));
    assert!(done.contains("✓ Restart check"), "{done}");
    t.type_keys(&[ENTER]);

    // Recovery keys: masked; one revealed; masked again when the cursor leaves it.
    let masked = t.wait_for("11/12 Recovery keys", SHORT);
    assert_eq!(
        masked.matches("••••••••").count(),
        4,
        "three keys and the root token, all masked:\n{masked}"
    );
    t.type_keys(&["r"]);
    let revealed = t.wait_for("shown below, r hides it", SHORT);
    let lines: Vec<&str> = revealed.lines().collect();
    let at = lines.iter().position(|l| l.contains("› Recovery key 1")).unwrap();
    let line = lines[at + 1].to_string();
    let key = line.trim().to_string();
    assert!(
        key.len() >= 32 && key.chars().all(|c| c.is_ascii_hexdigit()),
        "a recovery key is shown: {line:?}"
    );
    t.type_keys(&[DOWN]);
    let after = t.wait_for("› Recovery key 2", SHORT);
    assert!(!after.contains(&key), "masked again once the cursor left it");
    t.type_keys(&["a", ENTER]);
    let done = t.wait_for("12/12 Done", SHORT);
    assert!(
        !done.contains(&key),
        "no recovery key on the screen after the acknowledgement"
    );
    assert!(done.contains("runs with seal awskms: initialised, unsealed"), "{done}");
    t.type_keys(&[ENTER]);
    let status = t.child.wait().unwrap();
    assert!(status.success());
    assert!(
        !t.contents().contains(&key),
        "nor on the terminal after the wizard left"
    );

    // The server is really up, unsealed by KMS; the key is in no file of the state.
    let address = format!("http://{listen}");
    let client = VaultClient::new(&address, None).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let seal = rt.block_on(client.seal_status()).unwrap();
    assert_eq!(
        (seal.seal_type.as_str(), seal.initialized, seal.sealed),
        ("awskms", true, false)
    );
    for entry in std::fs::read_dir(&state).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap_or_default();
        assert!(!text.contains(&key));
    }
}

/// The wizard on its first screen, with no AWS or server behind it.
fn idle_wizard(state: &Path) -> Terminal {
    let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_autounseal"));
    cmd.env_clear();
    cmd.env("PATH", std::env::var("PATH").unwrap_or_default());
    cmd.env("TERM", "xterm-256color");
    cmd.args(["--state-dir", &state.to_string_lossy()]);
    let t = Terminal::start(cmd);
    t.wait_for("1/12 Welcome", SHORT);
    assert!(t.screen.lock().unwrap().screen().alternate_screen());
    t
}

#[test]
fn sigterm_and_sighup_leave_the_terminal_as_it_was() {
    use nix::sys::signal::{Signal, kill};
    let dir = tempfile::tempdir().unwrap();
    for signal in [Signal::SIGTERM, Signal::SIGHUP] {
        let mut t = idle_wizard(dir.path());
        let pid = nix::unistd::Pid::from_raw(t.child.process_id().unwrap() as i32);
        kill(pid, signal).unwrap();
        t.child.wait().unwrap();
        // Give the reader thread the last bytes the wizard wrote.
        let deadline = Instant::now() + SHORT;
        while t.screen.lock().unwrap().screen().alternate_screen() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let parser = t.screen.lock().unwrap();
        assert!(!parser.screen().alternate_screen(), "{signal}: back on the main screen");
        assert!(!parser.screen().hide_cursor(), "{signal}: the cursor is visible again");
    }
}

#[test]
fn quitting_asks_first_and_restores_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = idle_wizard(dir.path());
    t.type_keys(&["\x03"]); // Ctrl-C
    t.wait_for("Quit autounseal?", SHORT);
    t.type_keys(&["n"]);
    t.wait_for("1/12 Welcome", SHORT);
    t.type_keys(&["\x03", "y"]);
    assert!(t.child.wait().unwrap().success());
    let deadline = Instant::now() + SHORT;
    while t.screen.lock().unwrap().screen().alternate_screen() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!t.screen.lock().unwrap().screen().alternate_screen());
}

#[test]
fn the_demo_wizard_shows_its_banner_and_commands_and_tears_down_on_quit() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_autounseal"));
    cmd.env_clear();
    cmd.env("PATH", std::env::var("PATH").unwrap_or_default());
    cmd.env("TERM", "xterm-256color");
    cmd.env("AUTOUNSEAL_TOOLS", common::tools_dir());
    cmd.args(["--state-dir", &state.to_string_lossy(), "demo"]);
    let mut t = Terminal::start(cmd);
    let welcome = t.wait_for("1/12 Welcome", SHORT);
    assert!(
        welcome.contains("DEMO · AWS emulator and OpenBao, all on this machine · F2: the commands"),
        "{welcome}"
    );
    t.type_keys(&[ENTER]);
    // The demo's own credentials, on the local emulator: no AWS account involved.
    t.wait_for("✓ Account 123456789012", SHORT);
    t.type_keys(&["\x1bOQ"]); // F2
    let commands = t.wait_for("AWS account: the commands", SHORT);
    assert!(
        commands.contains("aws sts get-caller-identity --endpoint-url http://127.0.0.1:"),
        "{commands}"
    );
    t.type_keys(&["x", "\x03"]);
    t.wait_for("Quitting tears the demo down", SHORT);
    t.type_keys(&["y"]);
    assert!(t.child.wait().unwrap().success());
    common::assert_demo_gone(&state);
}
