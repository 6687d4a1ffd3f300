//! The real binary in a real pseudo-terminal of 80x24, typed through every screen
//! against moto and OpenBao 2.6.2, the screen read back by a terminal emulator (vt100).
//! It waits for what a person would see, never for a fixed time.

use crate::common;

use std::path::Path;
use std::time::{Duration, Instant};

use autounseal::vault::client::VaultClient;
use common::pty::{CLEAR, DOWN, ENTER, RIGHT, TAB, Terminal, answer_every_question, wizard_command};
use common::{Moto, ServerGuard, bao, isolate, server_answers};
use portable_pty::CommandBuilder;

const SHORT: Duration = Duration::from_secs(15);

/// `autounseal demo` with its tools and nothing else of this machine's environment.
fn demo_command(state: &Path) -> CommandBuilder {
    let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_autounseal"));
    cmd.env_clear();
    cmd.env("PATH", std::env::var("PATH").unwrap_or_default());
    cmd.env("TERM", "xterm-256color");
    cmd.env("AUTOUNSEAL_TOOLS", common::tools_dir());
    cmd.args(["--state-dir", &state.to_string_lossy(), "demo"]);
    cmd
}

/// Waits (bounded) until the program has left the alternate screen, so that what it
/// printed on the way out has reached the emulator.
fn wait_for_normal_screen(t: &Terminal) {
    let deadline = Instant::now() + SHORT;
    while t.screen.lock().unwrap().screen().alternate_screen() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    // The farewell is printed after the alternate screen is left: read it all.
    t.wait_for_output_end(SHORT);
}

#[test]
fn a_person_goes_through_every_screen_to_an_unsealed_server() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let state = d.join("state");
    let listen = common::server_listen();
    // Only the endpoint is given ahead, so that the first identity check already goes
    // to moto and never to AWS; every other answer is typed below.
    let prefill = d.join("prefill.toml");
    std::fs::write(&prefill, format!("endpoint_url = \"{}\"\n", moto.url)).unwrap();

    let mut cmd = wizard_command(d);
    cmd.args([
        "--state-dir",
        &state.to_string_lossy(),
        "--answers",
        &prefill.to_string_lossy(),
    ]);
    let _guard = ServerGuard(state.clone());
    let mut t = Terminal::start(cmd);

    t.wait_for("1/13 Welcome", SHORT);
    t.type_keys(&[ENTER]);
    t.wait_for("✓ Account 123456789012", SHORT);
    t.type_keys(&[ENTER]);
    t.wait_for("3/13 Region", SHORT);
    t.type_keys(&["eu-west-1", ENTER]);
    t.wait_for("4/13 KMS key", SHORT);
    t.type_keys(&[ENTER]);
    let iam = t.wait_for("5/13 IAM user and policy", SHORT);
    assert!(
        iam.contains("\"kms:Encrypt\", \"kms:Decrypt\", \"kms:DescribeKey\""),
        "the exact policy is shown:\n{iam}"
    );
    t.type_keys(&[ENTER]);
    t.wait_for("6/13 Files", SHORT);
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
    t.wait_for("7/13 Server", SHORT);
    let storage = d.join("data");
    t.type_keys(&[
        CLEAR,
        &bao().to_string_lossy(),
        TAB,
        RIGHT,
        // Servers: a single server.
        TAB,
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
    t.wait_for("8/13 Init", SHORT);
    t.type_keys(&[CLEAR, "3", TAB, CLEAR, "2", ENTER]);
    t.wait_for("9/13 Review", SHORT);
    let review = t.wait_for("iam:CreateAccessKey", Duration::from_secs(30));
    assert!(review.contains("kms:CreateKey"), "{review}");
    // The last change of the plan is below the fold at 80x24: scroll to it, a line at a
    // time (more Downs than lines stop at the end).
    t.type_keys(&[DOWN; 12]);
    t.wait_for("vault:init", SHORT);
    t.type_keys(&[ENTER]);
    t.wait_for("11/13 Run", SHORT);
    let done = t.wait_for("All done. Enter to continue.", Duration::from_secs(120));
    assert!(done.contains("✓ Restart check"), "{done}");
    t.type_keys(&[ENTER]);

    // Recovery keys: masked; one revealed; masked again when the cursor leaves it.
    let masked = t.wait_for("12/13 Recovery keys", SHORT);
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
    let done = t.wait_for("13/13 Done", SHORT);
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
    t.wait_for("1/13 Welcome", SHORT);
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
        wait_for_normal_screen(&t);
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
    t.wait_for("1/13 Welcome", SHORT);
    t.type_keys(&["\x03", "y"]);
    assert!(t.child.wait().unwrap().success());
    wait_for_normal_screen(&t);
    assert!(!t.screen.lock().unwrap().screen().alternate_screen());
}

#[test]
fn the_demo_wizard_shows_its_banner_and_commands_and_tears_down_on_quit() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let cmd = demo_command(&state);
    let mut t = Terminal::start(cmd);
    let welcome = t.wait_for("1/13 Welcome", SHORT);
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
        // Wrapped in the dialog at 80 columns: the endpoint on the next row.
        commands.contains("aws sts get-caller-identity --region eu-west-1 --endpoint-url")
            && commands.contains("│http://127.0.0.1:"),
        "{commands}"
    );
    t.type_keys(&["x", "\x03"]);
    t.wait_for("Quitting tears the demo down", SHORT);
    let emulator = demo_emulator_pid(&state);
    t.type_keys(&["y"]);
    assert!(t.child.wait().unwrap().success());
    common::assert_demo_gone(&state);
    assert!(!process_alive(emulator), "the emulator was stopped");
}

/// The wizard with every answer given ahead, walked with Enter to the running Run
/// screen: a whole run against moto and OpenBao, in `d`.
fn wizard_running(moto: &Moto, d: &Path, tag: &str) -> (Terminal, String) {
    let mut a = common::server_answers(moto, d);
    // Names of their own: each run of the loop below is a new setup in the one emulator.
    a.iam.user_name = format!("vault-{tag}");
    a.iam.policy_name = format!("vault-{tag}-kms");
    a.kms.alias = format!("alias/vault-{tag}");
    a.init.recovery_keys_file = None;
    let address = format!("http://{}", a.server.listen);
    let answers = d.join("answers.toml");
    std::fs::write(&answers, a.to_toml()).unwrap();
    let mut cmd = wizard_command(d);
    let state = d.join("state");
    cmd.args([
        "--state-dir",
        &state.to_string_lossy(),
        "--answers",
        &answers.to_string_lossy(),
    ]);
    // Tall enough that every row of the Run screen stays in sight: the tests quit at the
    // moment a row turns done, which a row scrolled away would hide.
    let mut t = Terminal::start_sized(cmd, 40, 80);
    answer_every_question(&mut t);
    t.wait_for("iam:CreateAccessKey", Duration::from_secs(30));
    t.type_keys(&[ENTER]);
    t.wait_for("11/13 Run", SHORT);
    (t, address)
}

/// Quit (Ctrl-C, then y) at each moment of a run: the wizard never leaves behind a
/// server it initialised whose recovery keys were neither shown nor saved.
#[test]
fn quitting_at_any_step_of_a_run_never_loses_the_recovery_keys() {
    let moto = Moto::start();
    let moments = [
        "✓ KMS key",
        "✓ Verify credentials",
        "✓ Start server",
        "✓ Wait for server",
        "✓ Initialize",
        "✓ Verify seal",
        "All done. Enter to continue.",
        "12/13 Recovery keys",
    ];
    for (i, moment) in moments.iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let state = d.join("state");
        let _guard = ServerGuard(state.clone());
        let (mut t, address) = wizard_running(&moto, d, &format!("quit{i}"));
        if *moment == "12/13 Recovery keys" {
            t.wait_for("All done. Enter to continue.", Duration::from_secs(120));
            t.type_keys(&[ENTER]);
        }
        t.wait_for(moment, Duration::from_secs(120));
        t.type_keys(&["\x03"]);
        t.wait_for("Quit autounseal?", SHORT);
        t.type_keys(&["y"]);
        assert!(t.child.wait().unwrap().success(), "{moment}: the wizard ends cleanly");
        wait_for_normal_screen(&t);
        let farewell = t.contents();

        let client = VaultClient::new(&address, None).unwrap();
        let rt = tokio::runtime::Runtime::new().unwrap();
        let initialized = rt.block_on(client.seal_status()).is_ok_and(|s| s.initialized);
        let saved: Vec<_> = std::fs::read_dir(&state)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("recovery-keys-"))
            .collect();
        if initialized {
            assert_eq!(saved.len(), 1, "{moment}: the keys of the initialised server are saved");
            let text = std::fs::read_to_string(&saved[0]).unwrap();
            let token = text
                .lines()
                .find_map(|l| l.strip_prefix("Initial Root Token: "))
                .unwrap_or_default();
            assert!(
                text.matches("Recovery Key ").count() == 3 && token.len() > 10,
                "{moment}: the file holds every key and the token"
            );
            assert!(
                farewell.contains(&saved[0].file_name().unwrap().to_string_lossy().to_string()),
                "{moment}: the normal screen names the file:\n{farewell}"
            );
        } else {
            assert!(saved.is_empty(), "{moment}: no keys, no file");
        }
        // A moment after init must have initialised: the keys were really at stake there.
        if i >= 4 {
            assert!(initialized, "{moment}: the server was initialised");
        }
    }
}

/// Leaving from Done prints what exists on the normal screen: an SSH session keeps it.
#[test]
fn leaving_done_prints_the_summary_on_the_normal_screen() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let _guard = ServerGuard(d.join("state"));
    let (mut t, _) = wizard_running(&moto, d, "summary");
    t.wait_for("All done. Enter to continue.", Duration::from_secs(120));
    t.type_keys(&[ENTER]);
    t.wait_for("12/13 Recovery keys", SHORT);
    t.type_keys(&["a", ENTER]);
    t.wait_for("13/13 Done", SHORT);
    t.type_keys(&[ENTER]);
    assert!(t.child.wait().unwrap().success());
    wait_for_normal_screen(&t);
    let screen = t.contents();
    assert!(
        screen.contains("KMS key   arn:aws:kms:eu-west-1:123456789012:key/")
            && screen.contains("IAM user  arn:aws:iam::123456789012:user/vault-summary")
            && screen.contains("undo everything: autounseal destroy --state-dir"),
        "{screen}"
    );
    assert!(!screen.contains("Recovery Key"), "no secret in the summary");
}

/// The demo's emulator: its command line names no folder, so it is found by its pid file.
fn demo_emulator_pid(state: &Path) -> i32 {
    let text = std::fs::read_to_string(state.join("demo/moto.pid")).unwrap();
    text.trim().parse().unwrap()
}

fn process_alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
    })
}

/// A dropped SSH session during the demo: the terminal hangs up, and the demo is torn
/// down all the same, leaving no process and no folder.
#[test]
fn a_hangup_during_the_demo_tears_it_down() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let cmd = demo_command(&state);
    let t = Terminal::start(cmd);
    t.wait_for("1/13 Welcome", SHORT);
    let emulator = demo_emulator_pid(&state);
    let mut child = t.hang_up();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    common::assert_demo_gone(&state);
    assert!(!process_alive(emulator), "the emulator was stopped");
}

/// A dropped SSH session while the server is being set up: the run stops after its
/// step, and keys the server already handed back are saved, never lost with the terminal.
#[test]
fn a_hangup_during_a_run_never_loses_the_recovery_keys() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let state = d.join("state");
    let _guard = ServerGuard(state.clone());
    let (t, address) = wizard_running(&moto, d, "hangup");
    // The keys exist only in the wizard's memory from here on.
    t.wait_for("✓ Initialize", Duration::from_secs(120));
    let mut child = t.hang_up();
    assert!(child.wait().unwrap().success());
    let client = VaultClient::new(&address, None).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let initialized = rt.block_on(client.seal_status()).is_ok_and(|s| s.initialized);
    let saved = std::fs::read_dir(&state)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("recovery-keys-"))
        .count();
    assert!(initialized);
    assert_eq!(saved, 1, "the keys of the initialised server are saved");
}

/// An operator back at a finished setup (a real `apply` against moto and OpenBao): the
/// wizard opens on the start menu, not Welcome; doctor runs every check for real and
/// finds all ok; Status says the same; the wizard is still one choice away.
#[test]
fn a_recorded_setup_opens_on_the_menu_and_doctor_finds_all_ok() {
    const ESC: &str = "\x1b";
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let state = d.join("state");
    let answers = server_answers(&moto, d);
    let file = d.join("answers.toml");
    std::fs::write(&file, answers.to_toml()).unwrap();
    let _guard = ServerGuard(state.clone());
    let mut apply = std::process::Command::new(env!("CARGO_BIN_EXE_autounseal"));
    isolate(&mut apply, &state);
    apply
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .args(["apply", "--yes", "--answers", &file.to_string_lossy()]);
    let applied = apply.output().unwrap();
    assert!(applied.status.success(), "{}", String::from_utf8_lossy(&applied.stderr));

    let mut cmd = wizard_command(d);
    cmd.args(["--state-dir", &state.to_string_lossy()]);
    let mut t = Terminal::start(cmd);
    let menu = t.wait_for("Check the setup (doctor)", SHORT);
    assert!(menu.contains("autounseal · Start"), "{menu}");
    assert!(!menu.contains("Welcome"), "{menu}");

    t.type_keys(&[ENTER]);
    let doctor = t.wait_for("exit code 0: all ok", Duration::from_secs(60));
    assert!(doctor.contains("[ ok ] exists"), "{doctor}");
    assert!(!doctor.contains("[FAIL]") && !doctor.contains("[warn]"), "{doctor}");
    // Every finding is scrolled past: none is a warning or a failure.
    for _ in 0..6 {
        t.type_keys(&["\x1b[6~"]); // PgDn
    }
    let end = t.wait_for("[ ok ] unsealed", SHORT);
    assert!(
        end.contains("[skip]"),
        "the unit does not apply to a background launch:\n{end}"
    );
    assert!(!end.contains("[FAIL]") && !end.contains("[warn]"), "{end}");
    let secret = std::fs::read_to_string(&answers.output.env_file)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("AWS_SECRET_ACCESS_KEY=").map(str::to_string))
        .unwrap();
    assert!(!doctor.contains(&secret) && !end.contains(&secret));

    t.type_keys(&[ESC]);
    t.wait_for("Check the setup (doctor)", SHORT);
    t.type_keys(&[DOWN, ENTER]);
    let status = t.wait_for("Next        all good", Duration::from_secs(30));
    assert!(status.contains("seal awskms, initialised,"), "{status}");

    t.type_keys(&[ESC]);
    t.wait_for("Check the setup (doctor)", SHORT);
    // The menu keeps its choice (Status): Rotate, then the wizard, come next.
    t.type_keys(&[DOWN, DOWN, ENTER]);
    t.wait_for("1/13 Welcome", SHORT);
    t.type_keys(&[ESC]);
    t.wait_for("Check the setup (doctor)", SHORT);
    t.type_keys(&["q", "y"]);
    assert!(t.child.wait().unwrap().success());
}

/// The operator rotates the access key from the menu of a real setup (moto checking
/// credentials, OpenBao restarted onto the new key): IAM then holds only the new key,
/// the env file has it, and the server unsealed itself with it.
#[test]
fn the_menu_rotates_the_access_key_and_iam_keeps_only_the_new_one() {
    let setup = common::pty::Applied::new();
    let (answers, operator_key, state) = (&setup.answers, &setup.operator_key, setup.state());
    let env_key = || {
        (
            setup.env_value("AWS_ACCESS_KEY_ID"),
            setup.env_value("AWS_SECRET_ACCESS_KEY"),
        )
    };
    let (old_id, old_secret) = env_key();
    let mut t = setup.wizard();
    let done = common::pty::rotate_from_the_menu(&mut t);
    let (new_id, new_secret) = env_key();
    assert_ne!(new_id, old_id);
    assert!(
        done.contains(&format!("Rotated: the server uses access key {new_id}")),
        "{done}"
    );
    assert!(done.contains(&old_id), "the old key is named as deleted:\n{done}");
    assert!(!done.contains(&new_secret) && !done.contains(&old_secret));

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let operator = common::context_as(answers, &operator_key.0, &operator_key.1).await;
        let keys = common::access_key_ids(&operator, &answers.iam.user_name).await;
        assert_eq!(keys, std::slice::from_ref(&new_id), "IAM holds only the new key");
        let client = VaultClient::new(&autounseal::vault::config::api_addr(answers), None).unwrap();
        let status = client.seal_status().await.unwrap();
        assert!(
            status.initialized && !status.sealed && status.seal_type == "awskms",
            "{status:?}"
        );
    });
    let manifest = autounseal::run::ManifestStore::open(&state).unwrap().snapshot();
    assert_eq!(manifest.access_key.unwrap().id, new_id);
    assert!(manifest.rotation.is_none(), "the rotation is finished");

    t.type_keys(&["\x1b"]);
    t.wait_for("Check the setup (doctor)", SHORT);
    t.type_keys(&["q", "y"]);
    assert!(t.child.wait().unwrap().success());
}
