//! The wizard's update logic: keys and engine messages in, state and commands out.
//! The engine is scripted here (its events and results are sent as messages), so
//! failures can be injected; no terminal, no AWS.

use std::path::PathBuf;

use autounseal::answers::{Answers, Launch};
use autounseal::aws::Identity;
use autounseal::run::{Call, Event, Step};
use autounseal::tui::app::{App, Command, KeyChoice, Modal, Msg, RunReport, ScreenId, update};
use autounseal::tui::screens::Lookup;
use autounseal::tui::screens::kms::KeyListFor;
use autounseal::tui::screens::run::{Phase, Status};
use autounseal::tui::theme::Theme;
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
        Msg::Identity((String::new(), String::new()), Err("cannot reach AWS".into())),
    );
    assert!(app.account.loading(), "the old answer does not count");
    update(
        &mut app,
        Msg::Identity((String::new(), "http://127.0.0.1:5000".into()), Ok(identity())),
    );
    assert!(matches!(app.account.identity, Lookup::Loaded(_)));
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.screen, ScreenId::Region);
    assert_eq!(app.answers.endpoint_url.as_deref(), Some("http://127.0.0.1:5000"));
}

#[test]
fn a_credentials_failure_keeps_the_operator_on_the_account_screen() {
    let mut app = app();
    key(&mut app, KeyCode::Enter);
    update(
        &mut app,
        Msg::Identity((String::new(), String::new()), Err("no usable AWS credentials".into())),
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
    assert_eq!(app.region.visible(), vec![("eu-west-2", "Europe (London)")]);
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.answers.region, "eu-west-2");
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
    let listed_for = KeyListFor::of(&app.answers);
    update(&mut app, Msg::Keys(listed_for, Ok(keys)));
    key(&mut app, KeyCode::Tab); // to the key field
    key(&mut app, KeyCode::Tab); // into the list
    assert!(app.kms.in_list);
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.kms.form.value("key_id"), "alias/b");
    // An ARN from another region is refused with the reason, under the field.
    ctrl(&mut app, 'u');
    typed(
        &mut app,
        "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    );
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.screen, ScreenId::Kms);
    assert!(
        app.kms
            .form
            .field_mut("key_id")
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
    assert!(app.iam.form.field_mut("user").error.is_some(), "checked as typed");
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.screen, ScreenId::Iam);
    key(&mut app, KeyCode::Backspace);
    key(&mut app, KeyCode::Backspace);
    assert!(app.iam.form.field_mut("user").error.is_none());
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
    assert_eq!(app.iam.form.value("user"), "unseal-bot");
}

#[test]
fn the_server_rules_apply_on_the_init_screen() {
    let mut app = app();
    app.answers.server.launch = Launch::Background;
    app.init = autounseal::tui::screens::init::State::new(&app.answers);
    app.go(ScreenId::Init);
    ctrl(&mut app, 'u');
    typed(&mut app, "3");
    key(&mut app, KeyCode::Tab);
    ctrl(&mut app, 'u');
    typed(&mut app, "1");
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.screen, ScreenId::Init);
    assert!(
        app.init
            .form
            .field_mut("threshold")
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
    for _ in 0..4 {
        key(&mut app, KeyCode::Tab);
    }
    assert_eq!(app.server.form.focused_id(), "tls_disable");
    key(&mut app, KeyCode::Char(' '));
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.screen, ScreenId::Server);
    assert!(app.server.form.field_mut("cert").error.is_some());
}

#[test]
fn a_binary_that_is_no_server_is_named_as_such() {
    let mut app = app();
    app.answers.server.binary = "/bin/ls".into();
    app.server = autounseal::tui::screens::server::State::new(&app.answers);
    app.go(ScreenId::Server);
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.screen, ScreenId::Server);
    let error = app.server.form.field_mut("binary").error.clone().unwrap_or_default();
    assert!(error.contains("names neither Vault nor OpenBao"), "{error}");
}

fn to_run(app: &mut App) {
    app.go(ScreenId::Review);
    let planned = Box::new(app.answers.clone());
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
    let planned = Box::new(app.answers.clone());
    update(
        &mut app,
        Msg::Plan(planned, Err("127.0.0.1:8200 is already in use".into())),
    );
    assert!(key(&mut app, KeyCode::Enter).is_empty());
    assert_eq!(app.screen, ScreenId::Review);
    assert!(matches!(
        key(&mut app, KeyCode::Char('r')).as_slice(),
        [Command::Plan(_)]
    ));
    // b goes back to any question.
    let planned = Box::new(app.answers.clone());
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
    update(&mut app, Msg::RunFinished(Err("AWS denied kms:CreateKey".into())));
    assert_eq!(app.run.phase, Phase::Failed("AWS denied kms:CreateKey".into()));
    assert_eq!(app.run.rows[1].1, Status::Failed("AWS denied kms:CreateKey".into()));
    assert!(!app.animating(), "no ticking once nothing is in flight");
    assert!(
        matches!(key(&mut app, KeyCode::Char('r')).as_slice(), [Command::Run(_)]),
        "retry"
    );
    assert_eq!(app.run.rows[0].1, Status::Waiting, "a retry starts the rows afresh");
    update(&mut app, Msg::RunFinished(Err("again".into())));
    let cmds = key(&mut app, KeyCode::Char('b'));
    assert_eq!(app.screen, ScreenId::Review);
    assert!(matches!(cmds.as_slice(), [Command::Plan(_)]));
    to_run(&mut app);
    update(&mut app, Msg::RunFinished(Err("x".into())));
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
        app.run.done_so_far(),
        vec!["KMS key: created arn:aws:kms:eu-west-1:1:key/k".to_string()]
    );
    assert_eq!(key(&mut app, KeyCode::Char('n')), vec![Command::ReleaseInit]);
    assert_eq!(app.modal, None);
    assert!(!app.stopping);
    ctrl(&mut app, 'c');
    assert_eq!(ctrl(&mut app, 'c'), vec![Command::Quit], "a second Ctrl-C means yes");
    assert!(app.stopping, "a quit during a run waits for keys init may hand back");
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
        secrets: Some(InitSecrets::from_response(body).unwrap()),
    };
    update(&mut app, Msg::RunFinished(Ok(report)));
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.screen, ScreenId::Recovery);
    key(&mut app, KeyCode::Char('r'));
    assert_eq!(app.recovery.revealed, Some(0));
    key(&mut app, KeyCode::Down);
    assert_eq!(app.recovery.revealed, None, "moving masks it again");
    key(&mut app, KeyCode::Enter);
    assert_eq!(
        app.screen,
        ScreenId::Recovery,
        "not before the operator says they are stored"
    );
    assert!(app.recovery.nudge);
    key(&mut app, KeyCode::Char('a'));
    let cmds = key(&mut app, KeyCode::Enter);
    assert_eq!(cmds, vec![Command::ClearScreen]);
    assert_eq!(app.screen, ScreenId::Done);
    assert!(
        app.recovery.secrets.is_none(),
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
        secrets: Some(secrets),
    };
    let commands = update(&mut app, Msg::RunFinished(Ok(report)));
    assert_eq!(
        commands,
        vec![Command::Quit],
        "leaves once the run handed its keys back"
    );
    assert!(
        app.recovery.secrets.is_some(),
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
        Msg::RunFinished(Err(format!(
            "the server exited while starting (exit status 1): Error: boom\n{}",
            log.join("\n")
        ))),
    );
    assert!(key(&mut app, KeyCode::Down).is_empty());
    assert!(key(&mut app, KeyCode::Down).is_empty());
    assert_eq!(app.run.scroll, 2);
    key(&mut app, KeyCode::Up);
    assert_eq!(app.run.scroll, 1);
    let help: Vec<_> = app.keys().iter().map(|(k, _)| *k).collect();
    assert!(help.contains(&"↑↓"), "the footer says how: {help:?}");
}

/// Leave Review while its plan is computed, change an answer, come back: the first plan
/// lands late and must not be shown while Enter would run the new answers.
#[test]
fn a_plan_of_answers_changed_since_is_never_the_one_run() {
    let mut app = app();
    app.go(ScreenId::Review);
    let first = Box::new(app.answers.clone());
    app.go(ScreenId::Init);
    app.answers.init.recovery_shares = 7;
    app.answers.init.recovery_threshold = 4;
    let cmds = app.go(ScreenId::Review);
    assert!(matches!(cmds.as_slice(), [Command::Plan(a)] if a.init.recovery_shares == 7));
    let stale = vec![Call {
        action: "vault:init".into(),
        detail: "5 recovery shares, threshold 3".into(),
        command: "bao operator init".into(),
    }];
    update(&mut app, Msg::Plan(first, Ok(stale)));
    assert_eq!(
        app.review.plan,
        Lookup::Loading,
        "the late plan of the old answers is dropped"
    );
    assert!(
        key(&mut app, KeyCode::Enter).is_empty(),
        "nothing runs without its plan"
    );

    let fresh = Box::new(app.answers.clone());
    update(&mut app, Msg::Plan(fresh, Ok(vec![])));
    // An answer changed behind Review's back (no visit in between): Enter plans again.
    app.answers.init.recovery_shares = 9;
    let cmds = key(&mut app, KeyCode::Enter);
    assert_eq!(app.screen, ScreenId::Review);
    assert!(matches!(cmds.as_slice(), [Command::Plan(a)] if a.init.recovery_shares == 9));
}

/// The key list of the region left behind must not be shown under the new one.
#[test]
fn a_key_list_of_another_region_is_dropped() {
    let mut app = app();
    app.answers.region = "eu-west-1".into();
    app.go(ScreenId::Kms);
    let cmds = key(&mut app, KeyCode::Right);
    assert!(matches!(cmds.as_slice(), [Command::LoadKeys(a)] if a.region == "eu-west-1"));
    let old_region = KeyListFor::of(&app.answers);
    // Back to Region before the answer came, and on to another region.
    app.go(ScreenId::Region);
    app.answers.region = "us-east-1".into();
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
        app.kms.keys,
        Lookup::Loading,
        "eu-west-1's keys are not shown for us-east-1"
    );
    let listed_for = KeyListFor::of(&app.answers);
    update(&mut app, Msg::Keys(listed_for, Ok(vec![])));
    assert_eq!(app.kms.keys, Lookup::Loaded(vec![]));
}

/// A step after init fails (the restart check, say): the keys init handed back are
/// held, offered first, and kept through a retry.
#[test]
fn keys_handed_back_before_a_failure_are_offered_and_kept() {
    let mut app = app();
    to_run(&mut app);
    let secrets = InitSecrets::from_response(br#"{"recovery_keys":["aa11"],"root_token":"s.root"}"#).unwrap();
    update(&mut app, Msg::KeysHandedBack(secrets));
    update(&mut app, Msg::RunFinished(Err("the server did not come back".into())));
    assert!(
        app.keys()
            .iter()
            .any(|(k, what)| *k == "Enter" && what.contains("recovery keys"))
    );
    // A retry finds the server initialised and gets no keys: the held ones stay.
    key(&mut app, KeyCode::Char('r'));
    let report = RunReport {
        key_arn: "k".into(),
        user_arn: "u".into(),
        address: "http://127.0.0.1:8200".into(),
        status: None,
        server_command: String::new(),
        secrets: None,
    };
    update(&mut app, Msg::RunFinished(Ok(report)));
    assert!(app.recovery.secrets.is_some());
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.screen, ScreenId::Recovery);
}
