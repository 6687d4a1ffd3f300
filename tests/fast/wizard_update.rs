//! The wizard's update logic: keys and engine messages in, state and commands out.
//! The engine is scripted here (its events and results are sent as messages), so
//! failures can be injected; no terminal, no AWS.

use std::path::PathBuf;

use crate::common;

use autounseal::answers::{Answers, Launch};
use autounseal::aws::Identity;
use autounseal::questions::Q;
use autounseal::run::{Call, Event, RunError, Step};
use autounseal::tui::app::{App, Modal, update};
use autounseal::tui::msg::{Command, KeyChoice, Msg, RunReport};
use autounseal::tui::screens::kms::KeyListFor;
use autounseal::tui::screens::run::{Phase, Status};
use autounseal::tui::screens::{Lookup, Screen, ScreenId};
use autounseal::tui::theme::Theme;
use autounseal::vault::VaultError;
use autounseal::vault::recovery::InitSecrets;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

fn app() -> App {
    let mut a = Answers {
        region: "eu-west-1".into(),
        ..Default::default()
    };
    a.server.binary = "/nonexistent/vault".into();
    a.server.launch = Launch::None;
    a.server.tls_disable = true;
    a.init.enabled = false;
    App::new(a, PathBuf::from("/tmp/autounseal-test-state"), Theme::new(true))
}

fn key(app: &mut App, code: KeyCode) -> Vec<Command> {
    update(app, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn ctrl(app: &mut App, c: char) -> Vec<Command> {
    update(app, Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)))
}

fn typed(app: &mut App, text: &str) {
    for c in text.chars() {
        key(app, KeyCode::Char(c));
    }
}

fn identity() -> Identity {
    Identity {
        account: "123456789012".into(),
        arn: "arn:aws:iam::123456789012:user/admin".into(),
        user_id: "AIDA".into(),
        kms_endpoint: None,
    }
}

/// Through Welcome and Account with a verified identity.
fn to_region(app: &mut App) {
    let cmds = key(app, KeyCode::Enter);
    assert_eq!(app.screen, ScreenId::Account);
    assert!(
        matches!(cmds.as_slice(), [Command::CheckIdentity(_)]),
        "the identity is checked on arrival"
    );
    update(app, Msg::Identity((String::new(), String::new()), Ok(identity())));
    let cmds = key(app, KeyCode::Enter);
    assert_eq!(app.screen, ScreenId::Region);
    assert!(
        matches!(cmds[0], Command::SaveAnswers(_)),
        "answers are saved at every step"
    );
}

#[test]
fn a_stale_identity_answer_is_ignored() {
    let mut app = app();
    key(&mut app, KeyCode::Enter);
    // The operator adds an endpoint and checks again before the first answer came.
    key(&mut app, KeyCode::Tab);
    typed(&mut app, "http://127.0.0.1:5000");
    let cmds = key(&mut app, KeyCode::Enter);
    assert!(
        matches!(&cmds[..], [Command::CheckIdentity(a)] if a.endpoint_url.as_deref() == Some("http://127.0.0.1:5000"))
    );
    update(
        &mut app,
        Msg::Identity(
            (String::new(), String::new()),
            Err(RunError::Other("cannot reach AWS".into())),
        ),
    );
    assert!(
        app.screens.account.identity.is_loading(),
        "the old answer does not count"
    );
    update(
        &mut app,
        Msg::Identity((String::new(), "http://127.0.0.1:5000".into()), Ok(identity())),
    );
    assert!(matches!(app.screens.account.identity, Lookup::Loaded(_)));
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.screen, ScreenId::Region);
    assert_eq!(app.ctx.answers.endpoint_url.as_deref(), Some("http://127.0.0.1:5000"));
}

#[test]
fn a_credentials_failure_keeps_the_operator_on_the_account_screen() {
    let mut app = app();
    key(&mut app, KeyCode::Enter);
    update(
        &mut app,
        Msg::Identity(
            (String::new(), String::new()),
            Err(RunError::Other("no usable AWS credentials".into())),
        ),
    );
    let cmds = key(&mut app, KeyCode::Enter);
    assert_eq!(app.screen, ScreenId::Account);
    assert!(
        matches!(cmds.as_slice(), [Command::CheckIdentity(_)]),
        "Enter checks again"
    );
}

#[test]
fn region_is_filtered_and_chosen() {
    let mut app = app();
    to_region(&mut app);
    typed(&mut app, "lond");
    assert_eq!(app.screens.region.visible(), vec![("eu-west-2", "Europe (London)")]);
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.ctx.answers.region, "eu-west-2");
    assert_eq!(app.screen, ScreenId::Kms);
}

#[test]
fn an_existing_key_is_picked_from_the_list_and_checked_against_the_region() {
    let mut app = app();
    to_region(&mut app);
    key(&mut app, KeyCode::Enter);
    let cmds = key(&mut app, KeyCode::Right);
    assert!(
        matches!(cmds.as_slice(), [Command::LoadKeys(_)]),
        "switching to an existing key lists them"
    );
    let keys = vec![
        KeyChoice {
            reference: "alias/a".into(),
            label: "alias/a → 1".into(),
        },
        KeyChoice {
            reference: "alias/b".into(),
            label: "alias/b → 2".into(),
        },
    ];
    let listed_for = KeyListFor::of(&app.ctx.answers);
    update(&mut app, Msg::Keys(listed_for, Ok(keys)));
    key(&mut app, KeyCode::Tab); // to the alarm's field
    key(&mut app, KeyCode::Tab); // to the key field
    key(&mut app, KeyCode::Tab); // into the list
    assert!(app.screens.kms.in_list);
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.screens.kms.form.value(Q::KeyId), "alias/b");
    // An ARN from another region is refused with the reason, under the field.
    ctrl(&mut app, 'u');
    typed(
        &mut app,
        "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    );
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.screen, ScreenId::Kms);
    assert!(
        app.screens
            .kms
            .form
            .field_mut(Q::KeyId)
            .error
            .as_deref()
            .unwrap()
            .contains("lives in us-east-1")
    );
}

#[test]
fn bad_input_is_shown_under_its_field_and_blocks_until_fixed() {
    let mut app = app();
    to_region(&mut app);
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.screen, ScreenId::Iam);
    typed(&mut app, " !");
    assert!(
        app.screens.iam.form.field_mut(Q::User).error.is_some(),
        "checked as typed"
    );
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.screen, ScreenId::Iam);
    key(&mut app, KeyCode::Backspace);
    key(&mut app, KeyCode::Backspace);
    assert!(app.screens.iam.form.field_mut(Q::User).error.is_none());
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.screen, ScreenId::Files);
}

#[test]
fn answers_are_kept_going_back_and_forth() {
    let mut app = app();
    to_region(&mut app);
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Enter);
    ctrl(&mut app, 'u');
    typed(&mut app, "unseal-bot");
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.screen, ScreenId::Kms);
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.screen, ScreenId::Region);
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.screens.iam.form.value(Q::User), "unseal-bot");
}

#[test]
fn the_server_rules_apply_on_the_init_screen() {
    let mut app = app();
    app.ctx.answers.server.launch = Launch::Background;
    app.screens.init = autounseal::tui::screens::init::Init::new(&app.ctx.answers);
    app.go(ScreenId::Init);
    ctrl(&mut app, 'u');
    typed(&mut app, "3");
    key(&mut app, KeyCode::Tab);
    ctrl(&mut app, 'u');
    typed(&mut app, "1");
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.screen, ScreenId::Init);
    assert!(
        app.screens
            .init
            .form
            .field_mut(Q::Threshold)
            .error
            .as_deref()
            .unwrap()
            .contains("at least 2")
    );
    key(&mut app, KeyCode::Backspace);
    typed(&mut app, "2");
    let cmds = key(&mut app, KeyCode::Enter);
    assert_eq!(app.screen, ScreenId::Review);
    assert!(
        cmds.iter()
            .any(|c| matches!(c, Command::Plan(a) if a.init.recovery_shares == 3 && a.init.recovery_threshold == 2))
    );
}

#[test]
fn tls_needs_files_unless_plain_http_is_chosen() {
    let mut app = app();
    app.go(ScreenId::Server);
    for _ in 0..5 {
        key(&mut app, KeyCode::Tab);
    }
    assert_eq!(app.screens.server.form.focused_id(), Q::PlainHttp);
    key(&mut app, KeyCode::Char(' '));
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.screen, ScreenId::Server);
    assert!(app.screens.server.form.field_mut(Q::TlsCert).error.is_some());
}

/// The Server screen's "3 nodes" runs every node here in the background: with
/// another launch it says so under the choice; with background it goes on, three nodes.
#[test]
fn a_cluster_on_this_machine_needs_the_background_launch() {
    for (launch, goes_on) in [(Launch::None, false), (Launch::Background, true)] {
        let mut app = on_server_probed(launch);
        key(&mut app, KeyCode::Tab);
        key(&mut app, KeyCode::Tab);
        assert_eq!(app.screens.server.form.focused_id(), Q::Layout);
        key(&mut app, KeyCode::Right);
        let note = app
            .screens
            .server
            .form
            .field_mut(Q::Layout)
            .note
            .clone()
            .unwrap_or_default();
        assert!(note.contains("3 raft nodes on this machine"), "{note}");
        key(&mut app, KeyCode::Enter);
        if goes_on {
            assert_ne!(app.screen, ScreenId::Server);
            assert_eq!(app.ctx.answers.cluster.nodes, 3);
        } else {
            assert_eq!(app.screen, ScreenId::Server);
            let error = app
                .screens
                .server
                .form
                .field_mut(Q::Layout)
                .error
                .clone()
                .unwrap_or_default();
            assert!(error.contains("server.launch = \"background\""), "{error}");
        }
    }
}

/// The server screen with OpenBao 2.6.2 found, started as `launch`.
fn on_server_probed(launch: Launch) -> App {
    let bao = common::bao().to_string_lossy().into_owned();
    let mut app = app();
    app.ctx.answers.server.launch = launch;
    app.ctx.answers.server.binary = bao.clone();
    app.screens.server = autounseal::tui::screens::server::Server::new(&app.ctx.answers);
    app.go(ScreenId::Server);
    update(
        &mut app,
        Msg::BinaryProbed(bao.clone(), autounseal::vault::server::find(&bao)),
    );
    app
}

/// The server screen with `binary` named, its probe asked for on arrival.
fn on_server_with(binary: &str) -> App {
    let mut app = app();
    app.ctx.answers.server.binary = binary.into();
    app.screens.server = autounseal::tui::screens::server::Server::new(&app.ctx.answers);
    let cmds = app.go(ScreenId::Server);
    assert_eq!(
        cmds,
        vec![
            Command::ProbeBinary(binary.into()),
            Command::DiscoverHost(Box::new(app.ctx.answers.clone()))
        ],
        "probed by the runtime, not by update"
    );
    app
}

fn binary_problem(app: &App) -> String {
    let probe = app.screens.server.form.probe_of(Q::Binary);
    probe.and_then(|p| p.problem.clone()).unwrap_or_default()
}

#[test]
fn a_binary_that_is_no_server_is_named_as_such() {
    let mut app = on_server_with("/bin/ls");
    // Enter before the probe's answer: nothing moves until it is in.
    assert_eq!(key(&mut app, KeyCode::Enter), vec![]);
    let found = autounseal::vault::server::find("/bin/ls");
    update(&mut app, Msg::BinaryProbed("/bin/ls".into(), found));
    assert_eq!(app.screen, ScreenId::Server);
    let error = binary_problem(&app);
    assert!(error.contains("names neither Vault nor OpenBao"), "{error}");
}

/// OpenBao 2.7 has no built-in awskms: its probe brings the KMS plugin's field (with
/// where to download it), which must name a program for this machine to go on.
#[test]
fn openbao_2_7_asks_for_its_kms_plugin() {
    let bao = common::bao_2_7().to_string_lossy().into_owned();
    let mut app = on_server_with(&bao);
    assert!(
        app.screens.server.form.field(Q::KmsPlugin).hidden,
        "not before the probe"
    );
    let found = autounseal::vault::server::find(&bao);
    assert!(
        matches!(&found, Ok(b) if b.version.0 == 2 && b.version.1 == 7),
        "{found:?}"
    );
    update(&mut app, Msg::BinaryProbed(bao.clone(), found));
    assert_eq!(binary_problem(&app), "", "the server can serve, with its plugin");
    let field = app.screens.server.form.field(Q::KmsPlugin);
    assert!(!field.hidden);
    assert!(
        field
            .note
            .as_deref()
            .unwrap_or("")
            .contains("github.com/openbao/openbao-plugins"),
        "{:?}",
        field.note
    );
    // Left empty: asked for, the focus on it.
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.screen, ScreenId::Server);
    assert_eq!(app.screens.server.form.focused_id(), Q::KmsPlugin);
    let error = |app: &mut App| {
        app.screens
            .server
            .form
            .field_mut(Q::KmsPlugin)
            .error
            .clone()
            .unwrap_or_default()
    };
    assert!(
        error(&mut app).contains("give the openbao-plugin-kms-aws binary"),
        "{}",
        error(&mut app)
    );
    // A script is no plugin.
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("openbao-plugin-kms-aws");
    std::fs::write(&script, "#!/bin/sh\nexit 0\n").unwrap();
    typed(&mut app, &script.to_string_lossy());
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.screen, ScreenId::Server);
    assert!(error(&mut app).contains("no ELF header"), "{}", error(&mut app));
    // A program for this machine, with its checksum from the release (checked as typed
    // for its form; against the file before AWS), goes on, into the answers.
    ctrl(&mut app, 'u');
    typed(&mut app, "/bin/true");
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.screens.server.form.focused_id(), Q::KmsPluginSha256);
    typed(&mut app, "abc");
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.screen, ScreenId::Server);
    let sum = "ab".repeat(32);
    ctrl(&mut app, 'u');
    typed(&mut app, &sum);
    key(&mut app, KeyCode::Enter);
    assert_ne!(app.screen, ScreenId::Server);
    assert_eq!(app.ctx.answers.server.kms_plugin, Some("/bin/true".into()));
    assert_eq!(app.ctx.answers.server.kms_plugin_sha256, Some(sum));
}

/// A probe's answer for a name since changed is dropped, and a missing binary is told
/// from the probe's typed error, not from a note's text.
#[test]
fn a_late_probe_answer_is_dropped() {
    let mut app = on_server_with("/nonexistent/vault");
    ctrl(&mut app, 'u');
    typed(&mut app, "/bin/ls");
    let cmds = key(&mut app, KeyCode::Tab);
    let mut asked = app.ctx.answers.clone();
    asked.server.binary = "/bin/ls".into();
    assert_eq!(
        cmds,
        vec![
            Command::ProbeBinary("/bin/ls".into()),
            Command::DiscoverHost(Box::new(asked))
        ],
        "probed once its field is left"
    );
    let late = Err(VaultError::BinaryMissing {
        binary: "/nonexistent/vault".into(),
    });
    update(&mut app, Msg::BinaryProbed("/nonexistent/vault".into(), late));
    assert!(app.screens.server.probe.is_none(), "about a name no longer there");
    // Launch "none" needs no binary: a missing one lets the operator go on.
    let mut app = on_server_with("/nonexistent/vault");
    let missing = autounseal::vault::server::find("/nonexistent/vault");
    update(&mut app, Msg::BinaryProbed("/nonexistent/vault".into(), missing));
    let note = app.screens.server.form.probe_of(Q::Binary).and_then(|p| p.note.clone());
    assert!(note.unwrap_or_default().starts_with("not found"));
    let cmds = key(&mut app, KeyCode::Enter);
    assert_eq!(app.screen, ScreenId::Init, "{cmds:?}");
}

/// Enter on Files waits for the paths' checks, then goes on by itself; a check of a
/// path since changed is dropped.
#[test]
fn paths_are_checked_in_the_background_and_late_checks_dropped() {
    let mut app = app();
    app.ctx.answers.output.vault_config = "/tmp/a/vault.hcl".into();
    app.ctx.answers.output.env_file = "/tmp/a/vault.env".into();
    app.screens.files = autounseal::tui::screens::files::Files::new(&app.ctx.answers);
    let cmds = app.go(ScreenId::Files);
    assert_eq!(
        cmds,
        vec![
            Command::CheckPath("/tmp/a/vault.hcl".into()),
            Command::CheckPath("/tmp/a/vault.env".into())
        ]
    );
    key(&mut app, KeyCode::Char('x'));
    let late = Ok(autounseal::files::PathCheck::New);
    update(&mut app, Msg::PathChecked("/tmp/a/vault.hcl".into(), late));
    assert_eq!(
        app.screens.files.form.probe_of(Q::Config),
        None,
        "about the path before the x"
    );
    key(&mut app, KeyCode::Backspace);
    assert!(
        key(&mut app, KeyCode::Enter)
            .iter()
            .all(|c| matches!(c, Command::CheckPath(_)))
    );
    assert_eq!(app.screen, ScreenId::Files, "waits for the checks");
    let denied = Err(autounseal::files::FileError::IsDir {
        path: "/tmp/a/vault.env".into(),
    });
    update(
        &mut app,
        Msg::PathChecked("/tmp/a/vault.hcl".into(), Ok(autounseal::files::PathCheck::New)),
    );
    update(&mut app, Msg::PathChecked("/tmp/a/vault.env".into(), denied));
    assert_eq!(app.screen, ScreenId::Files, "a path that cannot be written blocks");
    assert_eq!(app.screens.files.form.focused_id(), Q::Env);
    ctrl(&mut app, 'u');
    typed(&mut app, "/tmp/a/env");
    key(&mut app, KeyCode::Enter);
    let cmds = update(
        &mut app,
        Msg::PathChecked("/tmp/a/env".into(), Ok(autounseal::files::PathCheck::New)),
    );
    assert_eq!(app.screen, ScreenId::Server, "went on once the last check came in");
    assert!(
        matches!(cmds.first(), Some(Command::SaveAnswers(a)) if a.output.env_file == std::path::Path::new("/tmp/a/env"))
    );
}

fn to_run(app: &mut App) {
    app.go(ScreenId::Review);
    let planned = Box::new(app.ctx.answers.clone());
    update(
        app,
        Msg::Plan(
            planned,
            Ok(vec![Call {
                action: "kms:CreateKey".into(),
                detail: "key".into(),
                command: "aws kms create-key".into(),
            }]),
        ),
    );
    let cmds = key(app, KeyCode::Enter);
    assert_eq!(app.screen, ScreenId::Run);
    assert!(matches!(cmds.as_slice(), [Command::Run(_)]));
}

#[test]
fn a_plan_that_fails_blocks_the_run_until_planned_again() {
    let mut app = app();
    app.go(ScreenId::Review);
    let planned = Box::new(app.ctx.answers.clone());
    // The real error a plan meets when the listener's port is taken.
    let taken = VaultError::PortTaken {
        address: "127.0.0.1:8200".into(),
        by: String::new(),
    };
    update(&mut app, Msg::Plan(planned, Err(RunError::from(taken))));
    assert!(matches!(&app.screens.review.plan, Lookup::Failed(e) if e.contains("127.0.0.1:8200 is already in use")));
    assert!(key(&mut app, KeyCode::Enter).is_empty());
    assert_eq!(app.screen, ScreenId::Review);
    assert!(matches!(
        key(&mut app, KeyCode::Char('r')).as_slice(),
        [Command::Plan(_)]
    ));
    // b goes back to any question.
    let planned = Box::new(app.ctx.answers.clone());
    update(&mut app, Msg::Plan(planned, Ok(vec![])));
    key(&mut app, KeyCode::Char('b'));
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.screen, ScreenId::Kms);
}

#[test]
fn a_failed_run_offers_retry_back_and_quit() {
    let mut app = app();
    to_run(&mut app);
    assert!(app.animating(), "the spinner turns while the run is in flight");
    update(&mut app, Msg::Engine(Event::Started(Step::Identity)));
    update(
        &mut app,
        Msg::Engine(Event::Done(Step::Identity, "arn:aws:iam::1:user/admin".into())),
    );
    update(&mut app, Msg::Engine(Event::Started(Step::KmsKey)));
    update(
        &mut app,
        Msg::Engine(Event::Failed(Step::KmsKey, "AWS denied kms:CreateKey".into())),
    );
    update(
        &mut app,
        Msg::RunFinished(Err(RunError::Other("AWS denied kms:CreateKey".into()))),
    );
    assert_eq!(app.screens.run.phase, Phase::Failed("AWS denied kms:CreateKey".into()));
    assert_eq!(
        app.screens.run.rows[1].1,
        Status::Failed("AWS denied kms:CreateKey".into())
    );
    assert!(!app.animating(), "no ticking once nothing is in flight");
    assert!(
        matches!(key(&mut app, KeyCode::Char('r')).as_slice(), [Command::Run(_)]),
        "retry"
    );
    assert_eq!(
        app.screens.run.rows[0].1,
        Status::Waiting,
        "a retry starts the rows afresh"
    );
    update(&mut app, Msg::RunFinished(Err(RunError::Other("again".into()))));
    let cmds = key(&mut app, KeyCode::Char('b'));
    assert_eq!(app.screen, ScreenId::Review);
    assert!(matches!(cmds.as_slice(), [Command::Plan(_)]));
    to_run(&mut app);
    update(&mut app, Msg::RunFinished(Err(RunError::Other("x".into()))));
    assert_eq!(key(&mut app, KeyCode::Char('q')), vec![Command::Quit]);
}

#[test]
fn ctrl_c_asks_first_and_says_what_exists_during_a_run() {
    let mut app = app();
    to_run(&mut app);
    update(
        &mut app,
        Msg::Engine(Event::Done(
            Step::KmsKey,
            "created arn:aws:kms:eu-west-1:1:key/k".into(),
        )),
    );
    assert_eq!(
        ctrl(&mut app, 'c'),
        vec![Command::HoldInit],
        "the run may not start init while the question is open"
    );
    assert_eq!(app.modal, Some(Modal::ConfirmQuit));
    assert_eq!(
        app.screens.run.done_so_far(),
        vec!["KMS key: created arn:aws:kms:eu-west-1:1:key/k".to_string()]
    );
    assert_eq!(key(&mut app, KeyCode::Char('n')), vec![Command::ReleaseInit]);
    assert_eq!(app.modal, None);
    assert!(!app.ctx.stopping);
    ctrl(&mut app, 'c');
    assert_eq!(ctrl(&mut app, 'c'), vec![Command::Quit], "a second Ctrl-C means yes");
    assert!(
        app.ctx.stopping,
        "a quit during a run waits for keys init may hand back"
    );
    assert!(
        update(&mut app, Msg::Terminate).is_empty(),
        "a hang-up's SIGHUP does not cut that wait short"
    );
    assert_eq!(
        ctrl(&mut app, 'c'),
        vec![Command::Quit],
        "a person's second Ctrl-C does"
    );
    let mut idle = self::app();
    assert_eq!(
        update(&mut idle, Msg::Terminate),
        vec![Command::Quit],
        "SIGTERM and SIGHUP quit at once otherwise"
    );
}

#[test]
fn recovery_keys_are_masked_revealed_one_at_a_time_and_wiped() {
    let mut app = app();
    to_run(&mut app);
    let body = br#"{"recovery_keys":["k1","k2","k3"],"recovery_keys_base64":[],"root_token":"s.root"}"#;
    let report = RunReport {
        key_arn: "arn".into(),
        user_arn: "user".into(),
        address: "http://127.0.0.1:8200".into(),
        status: None,
        server_command: String::new(),
        status_command: "bao status -address=http://127.0.0.1:8200".into(),
        secrets: Some(InitSecrets::from_response(body).unwrap()),
        left_open: Vec::new(),
        cluster_next: None,
    };
    update(&mut app, Msg::RunFinished(Ok(report)));
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.screen, ScreenId::Recovery);
    key(&mut app, KeyCode::Char('r'));
    assert_eq!(app.screens.recovery.revealed, Some(0));
    key(&mut app, KeyCode::Down);
    assert_eq!(app.screens.recovery.revealed, None, "moving masks it again");
    key(&mut app, KeyCode::Enter);
    assert_eq!(
        app.screen,
        ScreenId::Recovery,
        "not before the operator says they are stored"
    );
    assert!(app.screens.recovery.nudge);
    key(&mut app, KeyCode::Char('a'));
    let cmds = key(&mut app, KeyCode::Enter);
    assert_eq!(cmds, vec![Command::ClearScreen]);
    assert_eq!(app.screen, ScreenId::Done);
    assert!(
        app.ctx.secrets.is_none(),
        "the secrets are dropped, which zeroizes them"
    );
}

#[test]
fn help_opens_and_any_key_closes_it() {
    let mut app = app();
    key(&mut app, KeyCode::Char('?'));
    assert_eq!(app.modal, Some(Modal::Help));
    key(&mut app, KeyCode::Char('x'));
    assert_eq!(app.modal, None);
    assert_eq!(app.screen, ScreenId::Welcome, "the closing key does nothing else");
}

#[test]
fn a_quit_during_init_takes_the_keys_before_leaving() {
    let mut app = app();
    to_run(&mut app);
    ctrl(&mut app, 'c');
    assert_eq!(key(&mut app, KeyCode::Char('y')), vec![Command::Quit]);
    // The runtime saw init under way and stayed; keys other than a second Ctrl-C wait.
    assert!(key(&mut app, KeyCode::Enter).is_empty());
    let secrets = autounseal::vault::recovery::InitSecrets::from_response(
        br#"{"recovery_keys":["aa11","bb22"],"recovery_keys_base64":[],"root_token":"s.root"}"#,
    )
    .unwrap();
    let report = RunReport {
        key_arn: "arn:aws:kms:eu-west-1:1:key/k".into(),
        user_arn: "arn:aws:iam::1:user/u".into(),
        address: "http://127.0.0.1:8200".into(),
        status: None,
        server_command: String::new(),
        status_command: "bao status -address=http://127.0.0.1:8200".into(),
        secrets: Some(secrets),
        left_open: Vec::new(),
        cluster_next: None,
    };
    let commands = update(&mut app, Msg::RunFinished(Ok(report)));
    assert_eq!(
        commands,
        vec![Command::Quit],
        "leaves once the run handed its keys back"
    );
    assert!(
        app.ctx.secrets.is_some(),
        "held, for the runtime to save to a new 0600 file on the way out"
    );
}

#[test]
fn a_long_failure_reads_line_by_line_and_scrolls() {
    let mut app = app();
    to_run(&mut app);
    let log: Vec<String> = (1..=30).map(|i| format!("log line {i}")).collect();
    update(
        &mut app,
        Msg::RunFinished(Err(RunError::Other(format!(
            "the server exited while starting (exit status 1): Error: boom\n{}",
            log.join("\n")
        )))),
    );
    assert!(key(&mut app, KeyCode::Down).is_empty());
    assert!(key(&mut app, KeyCode::Down).is_empty());
    assert_eq!(app.screens.run.scroll, 2);
    key(&mut app, KeyCode::Up);
    assert_eq!(app.screens.run.scroll, 1);
    let help: Vec<_> = app.footer().iter().map(|h| h.label).collect();
    assert!(help.contains(&"↑↓"), "the footer says how: {help:?}");
}

/// Leave Review while its plan is computed, change an answer, come back: the first plan
/// lands late and must not be shown while Enter would run the new answers.
#[test]
fn a_plan_of_answers_changed_since_is_never_the_one_run() {
    let mut app = app();
    app.go(ScreenId::Review);
    let first = Box::new(app.ctx.answers.clone());
    app.go(ScreenId::Init);
    app.ctx.answers.init.recovery_shares = 7;
    app.ctx.answers.init.recovery_threshold = 4;
    let cmds = app.go(ScreenId::Review);
    assert!(matches!(cmds.as_slice(), [Command::Plan(a)] if a.init.recovery_shares == 7));
    let stale = vec![Call {
        action: "vault:init".into(),
        detail: "5 recovery shares, threshold 3".into(),
        command: "bao operator init".into(),
    }];
    update(&mut app, Msg::Plan(first, Ok(stale)));
    assert_eq!(
        app.screens.review.plan,
        Lookup::Loading,
        "the late plan of the old answers is dropped"
    );
    assert!(
        key(&mut app, KeyCode::Enter).is_empty(),
        "nothing runs without its plan"
    );

    let fresh = Box::new(app.ctx.answers.clone());
    update(&mut app, Msg::Plan(fresh, Ok(vec![])));
    // An answer changed behind Review's back (no visit in between): Enter plans again.
    app.ctx.answers.init.recovery_shares = 9;
    let cmds = key(&mut app, KeyCode::Enter);
    assert_eq!(app.screen, ScreenId::Review);
    assert!(matches!(cmds.as_slice(), [Command::Plan(a)] if a.init.recovery_shares == 9));
}

/// The key list of the region left behind must not be shown under the new one.
#[test]
fn a_key_list_of_another_region_is_dropped() {
    let mut app = app();
    app.ctx.answers.region = "eu-west-1".into();
    app.go(ScreenId::Kms);
    let cmds = key(&mut app, KeyCode::Right);
    assert!(matches!(cmds.as_slice(), [Command::LoadKeys(a)] if a.region == "eu-west-1"));
    let old_region = KeyListFor::of(&app.ctx.answers);
    // Back to Region before the answer came, and on to another region.
    app.go(ScreenId::Region);
    app.ctx.answers.region = "us-east-1".into();
    let cmds = app.go(ScreenId::Kms);
    assert!(
        matches!(cmds.as_slice(), [Command::LoadKeys(a)] if a.region == "us-east-1"),
        "the new region is listed: {cmds:?}"
    );
    let choice = KeyChoice {
        reference: "alias/irish".into(),
        label: "alias/irish  →  k".into(),
    };
    update(&mut app, Msg::Keys(old_region, Ok(vec![choice])));
    assert_eq!(
        app.screens.kms.keys,
        Lookup::Loading,
        "eu-west-1's keys are not shown for us-east-1"
    );
    let listed_for = KeyListFor::of(&app.ctx.answers);
    update(&mut app, Msg::Keys(listed_for, Ok(vec![])));
    assert_eq!(app.screens.kms.keys, Lookup::Loaded(vec![]));
}

/// A step after init fails (the restart check, say): the keys init handed back are
/// held, offered first, and kept through a retry.
#[test]
fn keys_handed_back_before_a_failure_are_offered_and_kept() {
    let mut app = app();
    to_run(&mut app);
    let secrets = InitSecrets::from_response(br#"{"recovery_keys":["aa11"],"root_token":"s.root"}"#).unwrap();
    update(&mut app, Msg::KeysHandedBack(secrets));
    update(
        &mut app,
        Msg::RunFinished(Err(RunError::Other("the server did not come back".into()))),
    );
    assert!(
        app.footer()
            .iter()
            .any(|h| h.label == "Enter" && h.what.contains("recovery keys"))
    );
    // A retry finds the server initialised and gets no keys: the held ones stay.
    key(&mut app, KeyCode::Char('r'));
    let report = RunReport {
        key_arn: "k".into(),
        user_arn: "u".into(),
        address: "http://127.0.0.1:8200".into(),
        status: None,
        server_command: String::new(),
        status_command: "bao status -address=http://127.0.0.1:8200".into(),
        secrets: None,
        left_open: Vec::new(),
        cluster_next: None,
    };
    update(&mut app, Msg::RunFinished(Ok(report)));
    assert!(app.ctx.secrets.is_some());
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.screen, ScreenId::Recovery);
}

/// IAM's limit of two access keys: the Run screen asks which to replace, sets
/// `iam.replace_access_key` (saved with the answers) and runs again.
#[test]
fn the_access_key_limit_asks_which_key_to_replace() {
    let mut app = app();
    to_run(&mut app);
    let limit = RunError::AccessKeyLimit {
        user: "vault-auto-unseal".into(),
        keys: vec!["AKIAOLDKEY0000000001".into(), "AKIAOLDKEY0000000002".into()],
    };
    update(&mut app, Msg::RunFinished(Err(limit)));
    let footer = app.footer();
    assert!(
        footer.iter().any(|h| h.label == "Enter" && h.what.contains("replace")),
        "{footer:?}"
    );
    key(&mut app, KeyCode::Down);
    let cmds = key(&mut app, KeyCode::Enter);
    assert_eq!(
        app.ctx.answers.iam.replace_access_key.as_deref(),
        Some("AKIAOLDKEY0000000002")
    );
    assert!(
        matches!(cmds.as_slice(), [Command::SaveAnswers(saved), Command::Run(run)]
            if saved == run && run.iam.replace_access_key.as_deref() == Some("AKIAOLDKEY0000000002")),
        "{cmds:?}"
    );
    assert_eq!(app.screens.run.phase, Phase::Running);
    assert!(app.screens.run.replace.is_none());
}

/// PGP key files are read by the runtime, not on every keystroke; an answer for a list
/// since changed is dropped; a file that does not read blocks going on.
#[test]
fn pgp_files_are_read_in_the_background() {
    let mut app = app();
    app.go(ScreenId::Init);
    key(&mut app, KeyCode::Tab);
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.screens.init.form.focused_id(), Q::PgpKeys);
    typed(&mut app, "/k/a.asc");
    let cmds = key(&mut app, KeyCode::Tab);
    assert_eq!(cmds, vec![Command::CheckPgpKeys("/k/a.asc".into())]);
    update(
        &mut app,
        Msg::PgpChecked("/k/old.asc".into(), Err("cannot read".into())),
    );
    assert_eq!(
        app.screens.init.form.probe_of(Q::PgpKeys),
        None,
        "about a list no longer there"
    );
    update(
        &mut app,
        Msg::PgpChecked("/k/a.asc".into(), Err("cannot read the PGP key /k/a.asc".into())),
    );
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.screen, ScreenId::Init);
    assert_eq!(app.screens.init.form.focused_id(), Q::PgpKeys);
}

/// Coming back to Review with changed answers says why it plans again.
#[test]
fn review_says_when_it_plans_again_for_changed_answers() {
    let mut app = app();
    app.go(ScreenId::Review);
    let planned = Box::new(app.ctx.answers.clone());
    update(&mut app, Msg::Plan(planned, Ok(vec![])));
    assert!(!app.screens.review.replanning);
    app.ctx.answers.init.recovery_shares = 7;
    key(&mut app, KeyCode::Enter);
    assert!(app.screens.review.replanning, "shown while the new plan is made");
    let planned = Box::new(app.ctx.answers.clone());
    update(&mut app, Msg::Plan(planned, Ok(vec![])));
    assert!(!app.screens.review.replanning);
}

/// A probe's answer that would move on (Enter was waiting for it) does not move the
/// operator off the screen they went to meanwhile, nor later when they come back.
#[test]
fn a_late_answer_never_moves_the_operator_off_another_screen() {
    let mut app = on_server_with("/nonexistent/vault");
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.screen, ScreenId::Files);
    let missing = autounseal::vault::server::find("/nonexistent/vault");
    assert!(update(&mut app, Msg::BinaryProbed("/nonexistent/vault".into(), missing)).is_empty());
    assert_eq!(app.screen, ScreenId::Files);
    app.go(ScreenId::Server);
    let missing = autounseal::vault::server::find("/nonexistent/vault");
    update(&mut app, Msg::BinaryProbed("/nonexistent/vault".into(), missing));
    assert_eq!(
        app.screen,
        ScreenId::Server,
        "the old Enter does not count on a new visit"
    );
}

/// What the host has is shown under the form when it is about the answers on screen;
/// an answer about a binary since changed is dropped, and one discovery per change.
#[test]
fn host_findings_show_only_for_the_answers_on_screen() {
    use autounseal::vault::discover::Systemd;
    let mut app = on_server_with("/nonexistent/vault");
    let report = |binary: &str, line: &str| {
        let mut asked = app.ctx.answers.clone();
        asked.server.binary = binary.into();
        let systemd = Systemd::Absent("not running here".into());
        common::wizard::host_found(asked, systemd, None, vec![line.into()])
    };
    let late = report("/elsewhere/vault", "about another binary");
    let current = report("/nonexistent/vault", "systemd: not running here");
    update(&mut app, late);
    assert!(app.screens.server.host.is_none(), "about a binary no longer there");
    update(&mut app, current);
    let shown = &app.screens.server.host.as_ref().unwrap().lines;
    assert_eq!(shown, &["systemd: not running here"]);
    // Leaving the listener unchanged asks nothing new; changing it asks again.
    for _ in 0..3 {
        key(&mut app, KeyCode::Tab);
    }
    assert_eq!(app.screens.server.form.focused_id(), Q::Listen);
    assert!(key(&mut app, KeyCode::Tab).is_empty());
    key(&mut app, KeyCode::BackTab);
    typed(&mut app, "1");
    assert!(
        key(&mut app, KeyCode::Tab).is_empty(),
        "127.0.0.1:82001 is no address to ask"
    );
    key(&mut app, KeyCode::BackTab);
    key(&mut app, KeyCode::Backspace);
    key(&mut app, KeyCode::Backspace);
    typed(&mut app, "1");
    let cmds = key(&mut app, KeyCode::Tab);
    assert!(
        matches!(&cmds[..], [Command::DiscoverHost(a)] if a.server.listen == "127.0.0.1:8201"),
        "{cmds:?}"
    );
}

/// A migration: Review leads to the Unseal keys screen; the keys typed there go to the
/// run with its command; a retry after a failure asks for them again (the first run took
/// them), and `b` goes back to Review, not to the keys.
#[test]
fn a_migration_asks_for_the_unseal_keys_before_each_run() {
    let mut app = app();
    app.ctx.answers.server.existing = autounseal::answers::ExistingServer::Migrate;
    app.go(ScreenId::Review);
    let planned = Box::new(app.ctx.answers.clone());
    update(&mut app, Msg::Plan(planned, Ok(vec![])));
    // The screen asks the server how many keys it needs.
    let address = autounseal::vault::config::api_addr(&app.ctx.answers);
    let cmds = key(&mut app, KeyCode::Enter);
    assert!(
        matches!(cmds.as_slice(), [Command::ReadSeal(a, None)] if *a == address),
        "{cmds:?}"
    );
    assert_eq!(app.screen, ScreenId::UnsealKeys);
    let status = common::wizard::seal_status("shamir", 2);
    update(&mut app, Msg::SealRead(address, Ok(status)));
    // Enter with nothing typed does not start a run.
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.screen, ScreenId::UnsealKeys);
    // A key of the wrong form is refused as typed: neither base64 nor hex.
    typed(&mut app, "first-key");
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.screens.unseal_keys.count(), 0);
    typed(&mut app, "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789+/AbCdEf");
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.screens.unseal_keys.count(), 1);
    // One key of the two the server needs: Enter on the empty field waits for the next.
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.screen, ScreenId::UnsealKeys);
    typed(
        &mut app,
        "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9a0",
    );
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.screens.unseal_keys.count(), 2);
    let cmds = key(&mut app, KeyCode::Enter);
    assert_eq!(app.screen, ScreenId::Run);
    assert!(matches!(cmds.as_slice(), [Command::Run(_)]), "{cmds:?}");
    assert_eq!(app.ctx.unseal_keys.as_ref().map(|k| k.len()), Some(2));
    assert_eq!(app.screens.unseal_keys.count(), 0, "the screen holds no copy");

    // The runtime takes the keys with the run; it fails.
    app.ctx.unseal_keys = None;
    update(&mut app, Msg::RunFinished(Err(RunError::Other("x".into()))));
    let cmds = key(&mut app, KeyCode::Char('r'));
    assert_eq!(app.screen, ScreenId::UnsealKeys, "asked again");
    assert!(matches!(cmds.as_slice(), [Command::ReadSeal(..)]), "{cmds:?}");
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.screen, ScreenId::Review);
    app.go(ScreenId::Run);
    update(&mut app, Msg::RunFinished(Err(RunError::Other("y".into()))));
    key(&mut app, KeyCode::Char('b'));
    assert_eq!(app.screen, ScreenId::Review);
}

/// The setup read a command asks for.
fn setup_read(commands: &[Command]) -> autounseal::tui::msg::SetupRead {
    commands
        .iter()
        .find_map(|c| match c {
            Command::Doctor(read) | Command::Status(read) | Command::RotatePlan(read) | Command::Rotate(read) => {
                Some(read.clone())
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("no read of the setup in {commands:?}"))
}

fn on_menu() -> App {
    let mut app = app();
    app.open_on_menu(Vec::new());
    app
}

#[test]
fn the_menu_leads_to_doctor_status_and_the_wizard_with_the_sessions_answers() {
    let mut app = on_menu();
    // A setup with replicas: the menu offers a drill too.
    app.ctx.can_drill = true;
    assert_eq!(app.screen, ScreenId::Start);
    let answers = app.ctx.answers.clone();

    // Doctor: asked on arrival, with the operator's profile and the server's CA.
    app.ctx.answers.profile = Some("ops".into());
    let cmds = key(&mut app, KeyCode::Enter);
    assert_eq!(app.screen, ScreenId::Doctor);
    let read = setup_read(&cmds);
    assert_eq!(read.profile.as_deref(), Some("ops"));
    assert!(app.screens.doctor.findings.is_loading() && app.animating());
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.screen, ScreenId::Start, "Esc goes back to the menu");
    app.ctx.answers = answers.clone();

    key(&mut app, KeyCode::Char('j'));
    setup_read(&key(&mut app, KeyCode::Enter));
    assert_eq!(app.screen, ScreenId::Status);
    key(&mut app, KeyCode::Esc);

    key(&mut app, KeyCode::Down);
    assert!(matches!(
        key(&mut app, KeyCode::Enter).as_slice(),
        [Command::RotatePlan(_)]
    ));
    assert_eq!(app.screen, ScreenId::Rotate);
    key(&mut app, KeyCode::Esc);

    key(&mut app, KeyCode::Down);
    assert!(matches!(
        key(&mut app, KeyCode::Enter).as_slice(),
        [Command::DrillRegions(_)]
    ));
    assert_eq!(app.screen, ScreenId::Drill);
    key(&mut app, KeyCode::Esc);

    key(&mut app, KeyCode::Down);
    assert!(key(&mut app, KeyCode::Enter).is_empty());
    assert_eq!(app.screen, ScreenId::Welcome);
    assert_eq!(
        app.ctx.answers, answers,
        "the wizard goes on with the session's answers"
    );
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.screen, ScreenId::Start, "Welcome's Esc leads back to the menu");

    // The last choice quits, after asking; so do q and Esc.
    for _ in 0..5 {
        key(&mut app, KeyCode::Down);
    }
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.modal, Some(Modal::ConfirmQuit));
    key(&mut app, KeyCode::Char('n'));
    key(&mut app, KeyCode::Char('q'));
    assert_eq!(app.modal, Some(Modal::ConfirmQuit));
    assert_eq!(key(&mut app, KeyCode::Char('y')), vec![Command::Quit]);
}

#[test]
fn a_first_walk_has_no_menu_and_keeps_its_numbers() {
    let mut app = app();
    assert_eq!(app.screen, ScreenId::Welcome);
    assert!(key(&mut app, KeyCode::Esc).is_empty());
    assert_eq!(app.screen, ScreenId::Welcome, "no menu to go back to");
    assert_eq!(ScreenId::walk().len(), 13);
    assert_eq!(ScreenId::Welcome.number(), Some(1));
    assert_eq!(ScreenId::Done.next(), ScreenId::Done);
    for aside in [ScreenId::Start, ScreenId::Doctor, ScreenId::Status, ScreenId::Rotate] {
        assert_eq!(aside.number(), None);
        assert!(!ScreenId::questions().contains(&aside));
    }
}

#[test]
fn only_the_answer_to_the_last_check_is_kept() {
    let mut app = on_menu();
    let first = setup_read(&key(&mut app, KeyCode::Enter));
    let finding = |evidence: &str| {
        vec![autounseal::doctor::Finding::ok(
            autounseal::doctor::Link::Key,
            "state",
            evidence,
        )]
    };
    update(&mut app, Msg::Findings(first.asked, Ok(finding("first"))));
    // Checked again: the first check's late answer must not replace the second's.
    let second = setup_read(&key(&mut app, KeyCode::Char('r')));
    assert_ne!(first.asked, second.asked);
    assert!(
        key(&mut app, KeyCode::Char('r')).is_empty(),
        "no second check while one runs"
    );
    update(&mut app, Msg::Findings(first.asked, Ok(finding("late"))));
    assert!(app.screens.doctor.findings.is_loading());
    update(&mut app, Msg::Findings(second.asked, Ok(finding("second"))));
    assert_eq!(app.screens.doctor.findings, Lookup::Loaded(finding("second")));
    update(&mut app, Msg::Findings(first.asked, Ok(finding("late"))));
    assert_eq!(app.screens.doctor.findings, Lookup::Loaded(finding("second")));

    // A failure to check says why, and r tries again.
    let third = setup_read(&key(&mut app, KeyCode::Char('r')));
    update(
        &mut app,
        Msg::Findings(third.asked, Err("cannot read the manifest".into())),
    );
    assert_eq!(
        app.screens.doctor.findings,
        Lookup::Failed("cannot read the manifest".into())
    );
    setup_read(&key(&mut app, KeyCode::Char('r')));
}

#[test]
fn status_offers_the_next_thing_to_do_when_the_wizard_does_it() {
    use autounseal::doctor::status::{Next, nothing};
    let with_next = |next: Next| {
        let mut app = on_menu();
        key(&mut app, KeyCode::Down);
        let read = setup_read(&key(&mut app, KeyCode::Enter));
        let mut status = nothing();
        status.next = next;
        update(&mut app, Msg::Status(read.asked, Ok(common::wizard::one_node(status))));
        app
    };
    let mut broken = with_next(Next::Broken);
    setup_read(&key(&mut broken, KeyCode::Enter));
    assert_eq!(broken.screen, ScreenId::Doctor, "broken: Enter runs doctor");

    let mut unfinished = with_next(Next::Unfinished);
    key(&mut unfinished, KeyCode::Enter);
    assert_eq!(
        unfinished.screen,
        ScreenId::Welcome,
        "unfinished: Enter walks the wizard"
    );

    let mut good = with_next(Next::AllGood);
    assert!(key(&mut good, KeyCode::Enter).is_empty());
    assert_eq!(good.screen, ScreenId::Status, "all good: nothing to do");
    assert!(!good.footer().iter().any(|h| h.label == "Enter"));

    let mut old = with_next(Next::Rotate { days: 97 });
    assert!(matches!(
        key(&mut old, KeyCode::Enter).as_slice(),
        [Command::RotatePlan(_)]
    ));
    assert_eq!(old.screen, ScreenId::Rotate, "an old key: Enter goes to Rotate");
}

/// All good, with an access key this many days old.
fn status_with_key_age(days: u64) -> App {
    use autounseal::doctor::status::{AccessKeyStatus, Next, nothing};
    let mut app = on_menu();
    key(&mut app, KeyCode::Down);
    let read = setup_read(&key(&mut app, KeyCode::Enter));
    let mut status = nothing();
    status.next = Next::AllGood;
    status.access_key = Some(AccessKeyStatus {
        id: "AKIAOLD".into(),
        user: "vault-auto-unseal".into(),
        status: "Active".into(),
        age_days: Some(days),
    });
    update(&mut app, Msg::Status(read.asked, Ok(common::wizard::one_node(status))));
    app
}

#[test]
fn status_offers_rotation_when_the_key_is_nearly_due() {
    let mut young = status_with_key_age(20);
    assert!(key(&mut young, KeyCode::Enter).is_empty());
    assert_eq!(young.screen, ScreenId::Status);
    let mut near = status_with_key_age(80);
    let footer: Vec<_> = near
        .footer()
        .iter()
        .map(|h| format!("{} {}", h.label, h.what))
        .collect();
    assert!(footer.contains(&"Enter rotate the key".to_string()), "{footer:?}");
    key(&mut near, KeyCode::Enter);
    assert_eq!(near.screen, ScreenId::Rotate);
}

/// The Rotate screen, opened from the menu, its plan asked for: the app and that request.
fn on_rotate() -> (App, autounseal::tui::msg::SetupRead) {
    let mut app = on_menu();
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Down);
    let read = setup_read(&key(&mut app, KeyCode::Enter));
    assert_eq!(app.screen, ScreenId::Rotate);
    (app, read)
}

/// Rotate, Enter given on its plan, the rotation at its first restart: the app and the
/// rotation's request.
fn restarting() -> (App, autounseal::tui::msg::SetupRead) {
    let (mut app, read) = on_rotate();
    update(&mut app, Msg::RotatePlan(read.asked, Ok(plan())));
    let rotation = setup_read(&key(&mut app, KeyCode::Enter));
    update(
        &mut app,
        Msg::Rotation(rotation.asked, Event::Started(Step::RestartOnNewKey)),
    );
    (app, rotation)
}

fn plan() -> Vec<String> {
    vec![
        "create a new access key for IAM user vault-auto-unseal".into(),
        "deactivate the old key AKIAOLD, restart once more, delete it; update the manifest".into(),
    ]
}

fn rotated() -> autounseal::tui::msg::RotationEnd {
    autounseal::tui::msg::RotationEnd {
        outcome: autounseal::rotate::RotateOutcome::Rotated {
            old_key_id: "AKIAOLD".into(),
            new_key_id: "AKIANEW".into(),
            restarted: autounseal::rotate::Restarted::Background { pid: 42 },
        },
        next_due: "2027-03-06".into(),
        rotated_before: vec![],
    }
}

#[test]
fn rotate_shows_the_plan_asks_for_enter_and_runs_the_rotation() {
    use autounseal::tui::screens::rotate::Phase;
    let (mut app, first) = on_rotate();
    assert!(app.animating(), "the plan is read in the background");
    assert!(key(&mut app, KeyCode::Enter).is_empty(), "nothing to confirm yet");
    // Read again before the first answer came: the first's late answer is dropped.
    update(&mut app, Msg::RotatePlan(first.asked, Err("denied".into())));
    let second = setup_read(&key(&mut app, KeyCode::Char('r')));
    update(&mut app, Msg::RotatePlan(first.asked, Ok(vec!["stale".into()])));
    assert!(app.screens.rotate.plan.is_loading());
    update(&mut app, Msg::RotatePlan(second.asked, Ok(plan())));
    assert_eq!(app.screens.rotate.plan, Lookup::Loaded(plan()));

    // Enter goes ahead, with the operator's profile and the server's CA.
    let rotation = setup_read(&key(&mut app, KeyCode::Enter));
    assert_eq!(app.screens.rotate.phase, Phase::Running);
    assert!(app.animating());
    let rows: Vec<Step> = app.screens.rotate.rows.iter().map(|(s, _)| *s).collect();
    assert_eq!(rows, Step::ROTATE);
    // Progress of the request before (a plan) is not this rotation's.
    update(
        &mut app,
        Msg::Rotation(second.asked, Event::Done(Step::CheckAccessKeys, "stale".into())),
    );
    assert_eq!(app.screens.rotate.rows[0].1, Status::Waiting);
    update(
        &mut app,
        Msg::Rotation(rotation.asked, Event::Started(Step::CheckAccessKeys)),
    );
    update(
        &mut app,
        Msg::Rotation(rotation.asked, Event::Done(Step::CheckAccessKeys, "one key".into())),
    );
    update(
        &mut app,
        Msg::Rotation(rotation.asked, Event::Started(Step::NewAccessKey)),
    );
    assert_eq!(app.screens.rotate.rows[0].1, Status::Done("one key".into()));
    assert!(matches!(app.screens.rotate.rows[1].1, Status::Running { .. }));
    // No way off the screen while it runs: it must end or roll back first.
    assert!(key(&mut app, KeyCode::Esc).is_empty());
    assert_eq!(app.screen, ScreenId::Rotate);
    assert!(key(&mut app, KeyCode::Enter).is_empty(), "no second rotation");

    update(&mut app, Msg::Rotated(second.asked, Err("late".into())));
    assert_eq!(app.screens.rotate.phase, Phase::Running, "a late answer is dropped");
    update(&mut app, Msg::Rotated(rotation.asked, Ok(rotated())));
    assert_eq!(app.screens.rotate.phase, Phase::Ended(rotated()));
    assert!(
        !matches!(app.screens.rotate.rows[1].1, Status::Running { .. }),
        "nothing spins once it ended"
    );
    assert!(!app.animating());
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.screen, ScreenId::Start);
}

#[test]
fn a_clusters_nodes_rotate_in_turn_each_on_fresh_rows() {
    use autounseal::tui::screens::rotate::Phase;
    let (mut app, first) = on_rotate();
    update(&mut app, Msg::RotatePlan(first.asked, Ok(plan())));
    let rotation = setup_read(&key(&mut app, KeyCode::Enter));
    let event = |app: &mut App, e: Event| update(app, Msg::Rotation(rotation.asked, e));
    event(&mut app, Event::Note("node autounseal-1 (1 of 2)".into()));
    assert_eq!(app.screens.rotate.node.as_deref(), Some("node autounseal-1 (1 of 2)"));
    event(&mut app, Event::Done(Step::CheckAccessKeys, "one key".into()));
    event(&mut app, Event::Done(Step::DeleteOldKey, "deleted AKIAOLD1".into()));
    // The next node: its rows start again, and the screen names it.
    event(&mut app, Event::Note("node autounseal-2 (2 of 2)".into()));
    assert_eq!(app.screens.rotate.node.as_deref(), Some("node autounseal-2 (2 of 2)"));
    assert!(
        app.screens.rotate.rows.iter().all(|(_, s)| *s == Status::Waiting),
        "{:?}",
        app.screens.rotate.rows
    );
    let mut end = rotated();
    end.rotated_before = vec!["node autounseal-1 now uses AKIANEW1".into()];
    update(&mut app, Msg::Rotated(rotation.asked, Ok(end.clone())));
    assert_eq!(app.screens.rotate.phase, Phase::Ended(end));
    let mut terminal = ratatui::Terminal::new(ratatui::backend::TestBackend::new(100, 40)).unwrap();
    terminal.draw(|f| autounseal::tui::view::draw(f, &app)).unwrap();
    let screen: String = terminal
        .backend()
        .buffer()
        .content()
        .chunks(100)
        .map(|row| row.iter().map(|c| c.symbol()).collect::<String>() + "\n")
        .collect();
    assert!(
        screen.contains("Rotated: node autounseal-1 now uses AKIANEW1."),
        "{screen}"
    );
    assert!(screen.contains("Last: node autounseal-2 (2 of 2)"), "{screen}");
    assert!(screen.contains("AKIANEW; AKIAOLD is deleted"), "{screen}");
}

#[test]
fn a_failed_rotation_shows_its_rollback_and_a_waiting_one_rotates_again() {
    use autounseal::rotate::RotateOutcome;
    use autounseal::tui::screens::rotate::Phase;
    let (mut app, rotation) = restarting();
    update(
        &mut app,
        Msg::Rotation(rotation.asked, Event::Failed(Step::RestartOnNewKey, "sealed".into())),
    );
    // The rollback gets its row when it starts.
    update(&mut app, Msg::Rotation(rotation.asked, Event::Started(Step::RollBack)));
    update(
        &mut app,
        Msg::Rotation(rotation.asked, Event::Done(Step::RollBack, "back on AKIAOLD".into())),
    );
    let last = app.screens.rotate.rows.last().unwrap().clone();
    assert_eq!(last, (Step::RollBack, Status::Done("back on AKIAOLD".into())));
    let failure = "the rotation failed: sealed. It was rolled back: the server runs on the old access key AKIAOLD";
    update(&mut app, Msg::Rotated(rotation.asked, Err(failure.into())));
    assert_eq!(app.screens.rotate.phase, Phase::Failed(failure.into()));
    // r shows the plan again; Enter then rotates again.
    let again = setup_read(&key(&mut app, KeyCode::Char('r')));
    assert_eq!(app.screens.rotate.phase, Phase::Plan);
    update(&mut app, Msg::RotatePlan(again.asked, Ok(plan())));
    let rotation = setup_read(&key(&mut app, KeyCode::Enter));
    let waiting = autounseal::tui::msg::RotationEnd {
        outcome: RotateOutcome::WaitingForRestart {
            new_key_id: "AKIANEW".into(),
            restart: "restart the server".into(),
        },
        next_due: "2027-03-06".into(),
        rotated_before: vec![],
    };
    update(&mut app, Msg::Rotated(rotation.asked, Ok(waiting)));
    assert!(matches!(
        key(&mut app, KeyCode::Char('r')).as_slice(),
        [Command::RotatePlan(_)]
    ));
}

#[test]
fn quitting_a_rotation_asks_then_stops_it_and_leaves_once_it_rolled_back() {
    let (mut app, rotation) = restarting();
    assert!(key(&mut app, KeyCode::Char('q')).is_empty());
    assert_eq!(app.modal, Some(Modal::ConfirmQuit));
    // Staying lets it go on.
    key(&mut app, KeyCode::Char('n'));
    assert!(!app.ctx.stopping);
    ctrl(&mut app, 'c');
    assert_eq!(key(&mut app, KeyCode::Char('y')), vec![Command::Quit]);
    assert!(app.ctx.stopping, "the runtime stops it after the step in flight");
    assert!(key(&mut app, KeyCode::Char('q')).is_empty(), "waiting for the rollback");
    // The rollback's end is the time to leave.
    update(&mut app, Msg::Rotation(rotation.asked, Event::Started(Step::RollBack)));
    assert_eq!(
        update(
            &mut app,
            Msg::Rotated(rotation.asked, Err("stopped by SIGINT. It was rolled back".into()))
        ),
        vec![Command::Quit]
    );
}

/// The shared credentials file is asked only when chosen, follows the env file while it
/// is left as derived, and the choice goes into the answers.
#[test]
fn the_shared_credentials_file_is_asked_only_when_chosen() {
    use autounseal::answers::CredentialsStyle;
    use autounseal::files::PathCheck;
    let mut app = app();
    app.ctx.answers.output.vault_config = "/tmp/b/vault.hcl".into();
    app.ctx.answers.output.env_file = "/tmp/b/vault.env".into();
    app.screens.files = autounseal::tui::screens::files::Files::new(&app.ctx.answers);
    let cmds = app.go(ScreenId::Files);
    assert_eq!(
        cmds.len(),
        2,
        "the shared file is not checked while not asked: {cmds:?}"
    );
    let hidden = |app: &App| {
        app.screens
            .files
            .form
            .fields
            .iter()
            .find(|f| f.id == Q::SharedFile)
            .unwrap()
            .hidden
    };
    assert!(hidden(&app));
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.screens.files.form.focused_id(), Q::Env);
    ctrl(&mut app, 'u');
    typed(&mut app, "/tmp/c/vault.env");
    assert_eq!(
        app.screens.files.form.value(Q::SharedFile),
        "/tmp/c/aws-credentials",
        "follows the env file"
    );
    key(&mut app, KeyCode::Tab);
    let cmds = key(&mut app, KeyCode::Right);
    assert!(!hidden(&app));
    assert!(
        cmds.contains(&Command::CheckPath("/tmp/c/aws-credentials".into())),
        "{cmds:?}"
    );
    key(&mut app, KeyCode::Enter);
    for path in ["/tmp/b/vault.hcl", "/tmp/c/vault.env", "/tmp/c/aws-credentials"] {
        update(&mut app, Msg::PathChecked(path.into(), Ok(PathCheck::New)));
    }
    assert_eq!(app.screen, ScreenId::Server, "went on once the checks came in");
    let output = &app.ctx.answers.output;
    assert_eq!(output.credentials, CredentialsStyle::SharedFile);
    assert_eq!(
        output.shared_credentials_file, None,
        "left as derived: it follows the env file"
    );
    assert_eq!(
        output.shared_credentials_path(),
        std::path::Path::new("/tmp/c/aws-credentials")
    );
}

fn cluster_file() -> autounseal::cluster::ClusterFile {
    common::wizard::cluster_file("http://127.0.0.1:8200", "eu-central-1")
}

/// Discovery's answer for `asked`, with what reading its cluster file gave.
fn host_found(asked: &Answers, read: Result<autounseal::cluster::ClusterFile, String>) -> Msg {
    let systemd = autounseal::vault::discover::Systemd::Absent("not running here".into());
    common::wizard::host_found(asked.clone(), systemd, Some(read), vec![])
}

/// The answers of the last discovery among `commands`.
fn discovery(commands: &[Command]) -> Answers {
    commands
        .iter()
        .rev()
        .find_map(|c| match c {
            Command::DiscoverHost(a) => Some((**a).clone()),
            _ => None,
        })
        .expect("a discovery asked for")
}

/// "join a cluster": the file is read in the background (never in update),
/// its error shown inline, a late answer about another path dropped; once it reads,
/// the answers take the cluster's key, region, policy and a free node id, and Review
/// says whom this host joins.
#[test]
fn joining_a_cluster_reads_its_file_in_the_background_and_takes_its_key() {
    let bao = common::bao().to_string_lossy().into_owned();
    let mut app = on_server_probed(Launch::Background);
    key(&mut app, KeyCode::Tab);
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.screens.server.form.focused_id(), Q::Layout);
    key(&mut app, KeyCode::Left);
    let form = &mut app.screens.server.form;
    assert!(
        form.field_mut(Q::Layout)
            .note
            .clone()
            .unwrap_or_default()
            .contains("come from its file"),
    );
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.screens.server.form.focused_id(), Q::ClusterFile);
    // Empty: the validator says what to give.
    assert!(key(&mut app, KeyCode::Enter).is_empty() || app.screen == ScreenId::Server);
    assert_eq!(app.screen, ScreenId::Server);
    typed(&mut app, "/nowhere/cluster.toml");
    let cmds = key(&mut app, KeyCode::Tab);
    let asked_bad = discovery(&cmds);
    assert_eq!(
        asked_bad.cluster.join.as_deref(),
        Some(std::path::Path::new("/nowhere/cluster.toml")),
        "the file is read by the runtime, not by update"
    );
    let missing = "cannot read the cluster file /nowhere/cluster.toml: No such file".to_string();
    update(&mut app, host_found(&asked_bad, Err(missing.clone())));
    let problem = |app: &App| {
        app.screens
            .server
            .form
            .probe_of(Q::ClusterFile)
            .and_then(|p| p.problem.clone())
    };
    assert_eq!(problem(&app), Some(missing));
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.screen, ScreenId::Server, "a file that does not read blocks");

    // Another path: Enter waits for its read; a late answer about the old path is dropped.
    assert_eq!(app.screens.server.form.focused_id(), Q::ClusterFile);
    ctrl(&mut app, 'u');
    typed(&mut app, "/first/cluster.toml");
    let cmds = key(&mut app, KeyCode::Enter);
    let asked = discovery(&cmds);
    assert_eq!(app.screen, ScreenId::Server);
    update(&mut app, host_found(&asked_bad, Ok(cluster_file())));
    assert_eq!(app.screen, ScreenId::Server, "an answer about another path is dropped");
    assert!(app.screens.server.form.probe_of(Q::ClusterFile).is_none());
    // The file reads; this host listens where the cluster's first node does: said on Listen.
    update(&mut app, host_found(&asked, Ok(cluster_file())));
    assert_eq!(app.screen, ScreenId::Server);
    let note = app
        .screens
        .server
        .form
        .probe_of(Q::ClusterFile)
        .and_then(|p| p.note.clone());
    assert!(
        note.as_deref()
            .unwrap_or_default()
            .contains("this host joins as autounseal-2 the cluster"),
        "{note:?}"
    );
    let listen = app
        .screens
        .server
        .form
        .field_mut(Q::Listen)
        .error
        .clone()
        .unwrap_or_default();
    assert!(
        listen.contains("already has a node at http://127.0.0.1:8200"),
        "{listen}"
    );
    ctrl(&mut app, 'u');
    typed(&mut app, "127.0.0.1:8210");
    let cmds = key(&mut app, KeyCode::Enter);
    assert_eq!(app.screen, ScreenId::Init, "{cmds:?}");
    let a = &app.ctx.answers;
    let file = cluster_file();
    assert_eq!(
        a.cluster.join.as_deref(),
        Some(std::path::Path::new("/first/cluster.toml"))
    );
    assert_eq!(a.kms.key_id.as_deref(), Some(file.kms_key_arn.as_str()));
    assert!(!a.kms.create && !a.init.enabled);
    assert_eq!(a.region, "eu-central-1");
    assert_eq!(a.server.node_id, "autounseal-2");
    assert_eq!(a.iam.user_name, "vault-auto-unseal-autounseal-2");
    assert_eq!(a.iam.policy_name, "vault-auto-unseal-kms");
    assert_eq!(a.cluster.peers, ["http://127.0.0.1:8200"]);
    // Saved as `[cluster] join`, so that `apply --answers` with them joins as well.
    assert!(
        a.to_toml().contains("join = \"/first/cluster.toml\""),
        "{}",
        a.to_toml()
    );

    // Back on Server, "single server" again: no join left in the answers.
    app.go(ScreenId::Server);
    app.screens.server.form.field_mut(Q::Layout);
    key(&mut app, KeyCode::BackTab);
    while app.screens.server.form.focused_id() != Q::Layout {
        key(&mut app, KeyCode::BackTab);
    }
    key(&mut app, KeyCode::Right);
    assert!(app.screens.server.form.field_mut(Q::ClusterFile).hidden);
    update(
        &mut app,
        Msg::BinaryProbed(bao.clone(), autounseal::vault::server::find(&bao)),
    );
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.screen, ScreenId::Init);
    assert_eq!(app.ctx.answers.cluster.join, None);
    assert!(app.ctx.answers.cluster.peers.is_empty());
}

/// A host report for the answers on screen, with what discovery found of the server
/// and of the config's listener.
fn host_with(
    asked: &Answers,
    server: Option<autounseal::vault::discover::ServerState>,
    listener: Option<autounseal::vault::discover::Listener>,
) -> Msg {
    use autounseal::tui::screens::server::HostReport;
    use autounseal::vault::discover::{Host, Systemd};
    Msg::HostFound(Box::new(HostReport {
        filled: asked.clone(),
        asked: asked.clone(),
        host: Host {
            binaries: vec![],
            chosen: None,
            systemd: Systemd::Absent("not running here".into()),
            unit: None,
            server,
            cluster_file: None,
            listener,
            storage_has_data: false,
            storage: None,
        },
        lines: vec![],
    }))
}

/// A Shamir server with data answers: the Server screen offers its seal migration, says
/// what happens, stores `existing = "migrate"`, refuses it for a cluster layout; the Init
/// screen then asks nothing and says the unseal keys become the recovery keys.
#[test]
fn a_shamir_server_is_offered_its_migration_and_init_asks_nothing() {
    use autounseal::answers::ExistingServer;
    use autounseal::vault::discover::ServerState;
    let mut app = on_server_with("/nonexistent/vault");
    assert!(
        app.screens.server.form.field(Q::Existing).hidden,
        "no server: no question"
    );
    let asked = app.ctx.answers.clone();
    update(
        &mut app,
        host_with(&asked, Some(ServerState::Shamir { sealed: false }), None),
    );
    let existing = app.screens.server.form.field(Q::Existing);
    assert!(!existing.hidden);
    assert_eq!(
        app.screens.server.form.choice_index(Q::Existing),
        1,
        "the migration is proposed"
    );
    let note = existing.note.clone().unwrap();
    assert!(
        note.contains("they become its recovery keys") && note.contains("The data stays"),
        "{note}"
    );
    // A new setup over its data is refused here, not first at Review.
    while app.screens.server.form.focused_id() != Q::Existing {
        key(&mut app, KeyCode::Tab);
    }
    key(&mut app, KeyCode::Left);
    assert!(
        app.screens
            .server
            .form
            .field(Q::Existing)
            .note
            .as_deref()
            .unwrap()
            .contains("a new setup is refused")
    );
    enter_on_server(&mut app);
    assert_eq!(app.screen, ScreenId::Server);
    let error = server_error(&app, Q::Existing);
    assert!(error.contains("Choose its seal migration"), "{error}");
    app.screens.server.form.focus_on(Q::Existing);
    key(&mut app, KeyCode::Right);
    // Not for a cluster of this machine.
    app.screens.server.form.focus_on(Q::Layout);
    key(&mut app, KeyCode::Right);
    enter_on_server(&mut app);
    assert_eq!(app.screen, ScreenId::Server);
    let error = server_error(&app, Q::Layout);
    assert!(
        error.contains("a seal migration moves the server that is here"),
        "{error}"
    );
    app.screens.server.form.focus_on(Q::Layout);
    key(&mut app, KeyCode::Left);
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.screen, ScreenId::Init, "stored and on");
    assert_eq!(app.ctx.answers.server.existing, ExistingServer::Migrate);
    assert!(
        app.screens.init.form.fields.iter().all(|f| f.hidden),
        "no recovery shares asked"
    );
    let mut terminal = ratatui::Terminal::new(ratatui::backend::TestBackend::new(80, 24)).unwrap();
    terminal.draw(|f| autounseal::tui::view::draw(f, &app)).unwrap();
    let shown = format!("{}", terminal.backend());
    assert!(shown.contains("hands out no new keys"), "{shown}");
    let shares = app.screens.init.form.value(Q::Shares);
    typed(&mut app, "9");
    assert_eq!(app.screens.init.form.value(Q::Shares), shares, "typing goes nowhere");
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.screen, ScreenId::Review);
}

/// The config the server reads now has a plain-HTTP listener: the Server screen starts
/// from it (address, TLS off) and asks the host again there; fields the operator has
/// changed are never overwritten.
#[test]
fn the_server_screen_starts_from_the_configs_listener() {
    use autounseal::vault::discover::Listener;
    let mut app = app();
    app.ctx.answers.server.tls_disable = false;
    app.ctx.answers.server.binary = "/nonexistent/vault".into();
    app.screens.server = autounseal::tui::screens::server::Server::new(&app.ctx.answers);
    app.go(ScreenId::Server);
    let listener = Listener {
        config: "/etc/vault.d/vault.hcl".into(),
        address: "0.0.0.0:8200".into(),
        tls_disable: true,
        tls_cert_file: None,
        tls_key_file: None,
    };
    let asked = app.ctx.answers.clone();
    let mut found = host_with(&asked, None, Some(listener.clone()));
    if let Msg::HostFound(report) = &mut found {
        report.host.storage = Some("/srv/vault/raft".into());
    }
    let cmds = update(&mut app, found);
    let form = &app.screens.server.form;
    assert_eq!(form.value(Q::Listen), "0.0.0.0:8200");
    assert_eq!(
        form.value(Q::Storage),
        "/srv/vault/raft",
        "where the config keeps the data"
    );
    assert!(form.is_on(Q::PlainHttp), "TLS off, as the config has it");
    assert!(form.field(Q::TlsCert).hidden && form.field(Q::TlsCert).error.is_none());
    assert!(
        form.field(Q::Listen)
            .note
            .as_deref()
            .unwrap()
            .contains("/etc/vault.d/vault.hcl")
    );
    assert!(
        matches!(&cmds[..], [Command::DiscoverHost(a)]
            if a.server.listen == "0.0.0.0:8200" && a.server.tls_disable && a.server.storage_path.ends_with("raft")),
        "asked again where the server answers: {cmds:?}"
    );
    // Once only: a later report does not undo what the operator types.
    app.screens.server.form.set_text(Q::Listen, "127.0.0.1:9200");
    let mut asked = app.ctx.answers.clone();
    asked.server.listen = "127.0.0.1:9200".into();
    update(&mut app, host_with(&asked, None, Some(listener)));
    assert_eq!(app.screens.server.form.value(Q::Listen), "127.0.0.1:9200");
}

/// A filter cleared (Ctrl-U, or typed away) leaves the selection on the chosen region
/// (the answers', or one moved to), never on the list's first.
#[test]
fn clearing_the_region_filter_keeps_the_chosen_region() {
    let mut app = app();
    to_region(&mut app);
    let on = |app: &App| app.screens.region.visible()[app.screens.region.selected].0;
    assert_eq!(on(&app), "eu-west-1", "the answers' region");
    typed(&mut app, "lond");
    assert_eq!(on(&app), "eu-west-2", "the filter's match");
    ctrl(&mut app, 'u');
    assert_eq!(
        on(&app),
        "eu-west-1",
        "cleared: the chosen region, not the list's first"
    );
    typed(&mut app, "eu-");
    assert_eq!(on(&app), "eu-west-1", "still listed: still selected");
    key(&mut app, KeyCode::Down);
    let moved = on(&app);
    key(&mut app, KeyCode::Backspace);
    key(&mut app, KeyCode::Backspace);
    key(&mut app, KeyCode::Backspace);
    assert_eq!(on(&app), moved, "a region moved to is the chosen one");
}

fn drawn(app: &App) {
    let mut terminal = ratatui::Terminal::new(ratatui::backend::TestBackend::new(80, 24)).unwrap();
    terminal.draw(|f| autounseal::tui::view::draw(f, app)).unwrap();
}

/// Review scrolls a line at a time (a config's diff is many lines of one change) and
/// stops at its ends: after more Downs than lines, one Up moves at once.
#[test]
fn review_scrolls_by_line_and_stops_at_its_ends() {
    let mut app = app();
    app.go(ScreenId::Review);
    let diff: String = (0..30).map(|i| format!("\n+line {i}")).collect();
    let calls = vec![autounseal::run::Call {
        action: "file:write".into(),
        detail: format!("/etc/vault.d/vault.hcl (kept; seal \"awskms\" added){diff}"),
        command: String::new(),
    }];
    let planned = Box::new(app.ctx.answers.clone());
    update(&mut app, Msg::Plan(planned, Ok(calls)));
    drawn(&app);
    let furthest = app.screens.review.furthest.get();
    assert!(furthest > 0 && furthest < 31, "{furthest}");
    for _ in 0..60 {
        key(&mut app, KeyCode::Down);
        drawn(&app);
    }
    assert_eq!(app.screens.review.scroll, furthest, "clamped at the end");
    key(&mut app, KeyCode::Up);
    assert_eq!(app.screens.review.scroll, furthest - 1, "one Up moves at once");
    for _ in 0..60 {
        key(&mut app, KeyCode::Up);
    }
    assert_eq!(app.screens.review.scroll, 0);
}

/// The commands dialog (F2) stops at its ends too.
#[test]
fn the_commands_dialog_scrolls_to_its_ends_only() {
    use autounseal::tui::app::Modal;
    let mut app = app();
    app.go(ScreenId::Iam);
    key(&mut app, KeyCode::F(2));
    drawn(&app);
    let furthest = app.commands_furthest.get();
    for _ in 0..40 {
        key(&mut app, KeyCode::Down);
        drawn(&app);
    }
    assert_eq!(app.modal, Some(Modal::Commands(furthest)));
    key(&mut app, KeyCode::Up);
    assert_eq!(app.modal, Some(Modal::Commands(furthest.saturating_sub(1))));
}

/// After a run, ↑ brings back the rows an 80x24 view scrolled out, ↓ returns.
#[test]
fn after_a_run_the_first_rows_can_be_read_again() {
    use autounseal::run::{Event, Step};
    let mut app = app();
    app.go(ScreenId::Run);
    for step in Step::APPLY {
        update(
            &mut app,
            Msg::Engine(Event::Done(
                step,
                format!(
                    "{} done: {}",
                    step.label(),
                    "news long enough to take a second row ".repeat(2)
                ),
            )),
        );
    }
    update(&mut app, Msg::RunFinished(Err(RunError::Other("x".into()))));
    app.screens.run.phase = autounseal::tui::screens::run::Phase::Finished;
    drawn(&app);
    let hidden = app.screens.run.furthest.get();
    assert!(hidden > 0, "at 80x24 the first rows are out of view");
    for _ in 0..(hidden + 5) {
        key(&mut app, KeyCode::Up);
    }
    assert_eq!(app.screens.run.scroll, hidden, "back to the first row, and no further");
    let mut terminal = ratatui::Terminal::new(ratatui::backend::TestBackend::new(80, 24)).unwrap();
    terminal.draw(|f| autounseal::tui::view::draw(f, &app)).unwrap();
    assert!(
        format!("{}", terminal.backend()).contains("Check AWS identity"),
        "the first row is shown"
    );
    key(&mut app, KeyCode::Down);
    assert_eq!(app.screens.run.scroll, hidden - 1);
}

fn screen_text(app: &App) -> String {
    let mut terminal = ratatui::Terminal::new(ratatui::backend::TestBackend::new(80, 24)).unwrap();
    terminal.draw(|f| autounseal::tui::view::draw(f, app)).unwrap();
    format!("{}", terminal.backend())
}

/// Words that must match what is so: Welcome names the user the answers name; Done
/// gives the status command with the binary as found and says what destroy will need;
/// an endpoint that does not answer is not told to run `aws configure`; Review after a
/// run no longer says nothing has changed.
#[test]
fn the_words_say_what_is_so() {
    let mut app = app();
    app.ctx.answers.iam.user_name = "unseal-bot".into();
    app.go(ScreenId::Welcome);
    let shown = screen_text(&app);
    assert!(
        shown.contains("IAM user unseal-bot, its access key") && shown.contains("│ unseal-bot "),
        "{shown}"
    );
    assert!(!shown.contains("vault-auto-unseal"), "{shown}");

    app.go(ScreenId::Account);
    let checked = autounseal::tui::screens::account::checked_key(&app.ctx.answers);
    let closed = RunError::Unreachable {
        action: "sts:GetCallerIdentity",
        endpoint: "http://127.0.0.1:9".into(),
        message: "connection refused".into(),
    };
    update(&mut app, Msg::Identity(checked, Err(closed)));
    let shown = screen_text(&app);
    assert!(
        shown.contains("Check the endpoint above") && !shown.contains("aws configure"),
        "{shown}"
    );

    app.go(ScreenId::Review);
    assert!(screen_text(&app).contains("Nothing has changed yet"));
    update(
        &mut app,
        Msg::RunFinished(Err(RunError::Other("failed half-way".into()))),
    );
    app.go(ScreenId::Review);
    let shown = screen_text(&app);
    assert!(
        !shown.contains("Nothing has changed yet") && shown.contains("or part of one"),
        "{shown}"
    );

    let report = RunReport {
        key_arn: "arn:aws:kms:eu-west-1:1:key/k".into(),
        user_arn: "arn:aws:iam::1:user/unseal-bot".into(),
        address: "http://127.0.0.1:8200".into(),
        status: Some(common::wizard::seal_status("awskms", 2)),
        server_command: String::new(),
        status_command: "/opt/openbao/bin/bao status -address=http://127.0.0.1:8200".into(),
        secrets: None,
        left_open: vec!["Restart check never ran: set up again".into()],
        cluster_next: None,
    };
    app.go(ScreenId::Run);
    update(&mut app, Msg::RunFinished(Ok(report)));
    let lines = autounseal::tui::screens::done::summary(&app.ctx).join("\n");
    assert!(
        lines.contains("  /opt/openbao/bin/bao status -address=http://127.0.0.1:8200"),
        "{lines}"
    );
    assert!(
        lines.contains("destroy first moves the server back to Shamir"),
        "{lines}"
    );
    assert!(lines.contains("Restart check never ran"), "{lines}");
}

/// The start menu names what the last run left open, above its choices.
#[test]
fn the_start_menu_names_what_was_left_open() {
    let mut app = app();
    app.open_on_menu(vec![
        "Recovery keys and a root token wait in /s/recovery-keys-2026-12-06T16-21-07Z.txt (0600): store them \
         offline, then delete the file."
            .into(),
    ]);
    let shown = screen_text(&app);
    assert!(shown.contains("! Recovery keys and a root token wait in"), "{shown}");
    assert!(
        shown.contains("Check the setup (doctor)"),
        "the menu still fits: {shown}"
    );
}

/// The operator's own config is kept (its seal stanza added), and Files says so, not
/// that it will be replaced; another file there is backed up, then replaced.
#[test]
fn files_says_an_operators_config_is_kept() {
    use autounseal::files::PathCheck;
    let mut app = app();
    app.ctx.answers.output.vault_config = "/tmp/a/vault.hcl".into();
    app.ctx.answers.output.env_file = "/tmp/a/vault.env".into();
    app.screens.files = autounseal::tui::screens::files::Files::new(&app.ctx.answers);
    app.go(ScreenId::Files);
    update(
        &mut app,
        Msg::PathChecked("/tmp/a/vault.hcl".into(), Ok(PathCheck::OperatorsConfig)),
    );
    update(
        &mut app,
        Msg::PathChecked("/tmp/a/vault.env".into(), Ok(PathCheck::WillBackUp)),
    );
    let note = |id| {
        app.screens
            .files
            .form
            .probe_of(id)
            .and_then(|p| p.note.clone())
            .unwrap_or_default()
    };
    assert!(
        note(Q::Config).contains("kept as it is, with only its seal stanza added"),
        "{}",
        note(Q::Config)
    );
    assert!(note(Q::Env).contains("backed up, then replaced"), "{}", note(Q::Env));
}

/// On OpenBao's package layout, what discovery found for what was left unset (the unit,
/// its user, the package's config and env file) goes into the answers when the Server
/// screen moves on: Review then names the files the run writes, not /etc/vault.d's.
#[test]
fn the_packages_files_found_are_the_ones_review_names() {
    let mut app = on_server_with("/nonexistent/vault");
    let asked = app.ctx.answers.clone();
    let mut found = host_with(&asked, None, None);
    if let Msg::HostFound(report) = &mut found {
        report.filled.output.vault_config = "/etc/openbao/openbao.hcl".into();
        report.filled.output.env_file = "/etc/openbao/openbao.env".into();
        report.filled.server.systemd_unit = Some("openbao.service".into());
        report.filled.server.user = Some("openbao".into());
    }
    update(&mut app, found);
    enter_on_server(&mut app);
    assert_eq!(
        app.screen,
        ScreenId::Init,
        "{:?}",
        app.screens
            .server
            .form
            .fields
            .iter()
            .map(|f| &f.error)
            .collect::<Vec<_>>()
    );
    let a = &app.ctx.answers;
    assert_eq!(a.output.vault_config, std::path::Path::new("/etc/openbao/openbao.hcl"));
    assert_eq!(a.output.env_file, std::path::Path::new("/etc/openbao/openbao.env"));
    assert_eq!(a.server.systemd_unit.as_deref(), Some("openbao.service"));
    assert_eq!(a.server.user.as_deref(), Some("openbao"));
    app.go(ScreenId::Review);
    let shown = screen_text(&app);
    assert!(
        shown.contains("/etc/openbao/openbao.env") && !shown.contains("/etc/vault.d"),
        "{shown}"
    );
}

/// On a host with OpenBao alone, the default `vault` is not found: the binary the host
/// has is proposed (asked about, and the host asked again for it), once, and never over
/// what the operator typed.
#[test]
fn the_binary_the_host_has_is_proposed_when_the_one_named_is_missing() {
    use autounseal::vault::server::{Flavour, ServerBinary};
    let mut app = on_server_with("vault");
    let asked = app.ctx.answers.clone();
    let mut found = host_with(&asked, None, None);
    if let Msg::HostFound(report) = &mut found {
        report.host.binaries = vec![ServerBinary {
            path: "/usr/local/bin/bao".into(),
            flavour: Flavour::OpenBao,
            version: (2, 6, 2),
        }];
    }
    let cmds = update(&mut app, found);
    assert_eq!(app.screens.server.form.value(Q::Binary), "/usr/local/bin/bao");
    assert!(
        matches!(&cmds[..], [Command::ProbeBinary(b), Command::DiscoverHost(a)]
            if b == "/usr/local/bin/bao" && a.server.binary == "/usr/local/bin/bao"),
        "{cmds:?}"
    );
    // Typed over: a later report proposes nothing.
    app.screens.server.form.set_text(Q::Binary, "/opt/mine/vault");
    let mut asked = app.ctx.answers.clone();
    asked.server.binary = "/opt/mine/vault".into();
    update(&mut app, host_with(&asked, None, None));
    assert_eq!(app.screens.server.form.value(Q::Binary), "/opt/mine/vault");
}

/// Enter on the Server screen, with the answer of the probe of its (missing) binary.
fn enter_on_server(app: &mut App) {
    key(app, KeyCode::Enter);
    let missing = autounseal::vault::server::find("/nonexistent/vault");
    update(app, Msg::BinaryProbed("/nonexistent/vault".into(), missing));
}

/// What the Server screen says is wrong with field `id`.
fn server_error(app: &App, id: Q) -> String {
    app.screens.server.form.field(id).error.clone().unwrap_or_default()
}
