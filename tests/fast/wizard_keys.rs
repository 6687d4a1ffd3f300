//! Footer, help and dispatch come from one key table per screen. For every screen, in
//! the states that matter, every key its table lists is pressed and must be handled,
//! and a broad set of other keys is pressed and must do nothing at all: a key that is
//! handled but not listed (or listed but not handled) fails here.

use std::path::PathBuf;

use crate::common;

use autounseal::answers::{Answers, Launch};
use autounseal::aws::Identity;
use autounseal::doctor::status::{Next, nothing};
use autounseal::doctor::{Finding, Link};
use autounseal::questions::Q;
use autounseal::rotate::{Restarted, RotateOutcome};
use autounseal::run::{Call, Event, RunError, Step};
use autounseal::tui::app::{App, update};
use autounseal::tui::keys::{self, Key};
use autounseal::tui::msg::{Command, KeyChoice, Msg, RotationEnd, RunReport};
use autounseal::tui::screens::ScreenId;
use autounseal::tui::screens::kms::KeyListFor;
use autounseal::tui::theme::Theme;
use autounseal::tui::view;
use autounseal::vault::recovery::InitSecrets;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn app() -> App {
    let mut a = Answers {
        region: "eu-west-1".into(),
        ..Default::default()
    };
    a.output.vault_config = "/tmp/autounseal-keys/etc/vault.hcl".into();
    a.output.env_file = "/tmp/autounseal-keys/etc/vault.env".into();
    a.server.binary = "/nonexistent/bao".into();
    a.server.launch = Launch::Background;
    a.server.tls_disable = true;
    a.server.storage_path = "/tmp/autounseal-keys/data".into();
    App::new(a, PathBuf::from("/tmp/autounseal-keys/state"), Theme::new(true))
}

fn press(app: &mut App, code: KeyCode) -> Vec<Command> {
    update(app, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn on(screen: ScreenId) -> App {
    let mut app = app();
    app.go(screen);
    app
}

fn identity() -> Identity {
    Identity {
        account: "123456789012".into(),
        arn: "arn:aws:iam::123456789012:user/admin".into(),
        user_id: "AIDA".into(),
        kms_endpoint: None,
    }
}

fn secrets() -> InitSecrets {
    InitSecrets::from_response(br#"{"recovery_keys":["aa11","bb22","cc33"],"root_token":"s.root"}"#).unwrap()
}

fn report() -> RunReport {
    RunReport {
        key_arn: "arn:aws:kms:eu-west-1:1:key/k".into(),
        user_arn: "arn:aws:iam::1:user/u".into(),
        address: "http://127.0.0.1:8200".into(),
        status: None,
        server_command: String::new(),
        status_command: "bao status -address=http://127.0.0.1:8200".into(),
        secrets: None,
        left_open: Vec::new(),
        cluster_next: None,
    }
}

fn focus(app: &mut App, tabs: usize) -> App {
    let mut app = std::mem::replace(app, self::app());
    for _ in 0..tabs {
        press(&mut app, KeyCode::Tab);
    }
    app
}

fn kms_existing(into_list: bool) -> App {
    let mut app = on(ScreenId::Kms);
    press(&mut app, KeyCode::Right);
    let keys = ["alias/a", "alias/b"]
        .map(|r| KeyChoice {
            reference: r.into(),
            label: r.into(),
        })
        .to_vec();
    let listed_for = KeyListFor::of(&app.ctx.answers);
    update(&mut app, Msg::Keys(listed_for, Ok(keys)));
    if into_list {
        // The alarm's field, the key's, then the list.
        press(&mut app, KeyCode::Tab);
        press(&mut app, KeyCode::Tab);
        press(&mut app, KeyCode::Tab);
        assert!(app.screens.kms.in_list);
    }
    app
}

fn review(plan: Option<Result<Vec<Call>, RunError>>, menu: bool) -> App {
    let mut app = on(ScreenId::Review);
    if let Some(plan) = plan {
        let planned = Box::new(app.ctx.answers.clone());
        update(&mut app, Msg::Plan(planned, plan));
    }
    if menu {
        press(&mut app, KeyCode::Char('b'));
    }
    app
}

fn calls() -> Vec<Call> {
    (1..=3)
        .map(|i| Call {
            action: format!("kms:Call{i}"),
            detail: format!("call {i}"),
            command: String::new(),
        })
        .collect()
}

fn run_failed(error: RunError, keys_held: bool) -> App {
    let mut app = on(ScreenId::Run);
    update(&mut app, Msg::Engine(Event::Started(Step::Identity)));
    if keys_held {
        update(&mut app, Msg::KeysHandedBack(secrets()));
    }
    let log = (1..=30).map(|i| format!("log line {i}")).collect::<Vec<_>>().join("\n");
    let error = match error {
        RunError::Other(e) => RunError::Other(format!("{e}\n{log}")),
        other => other,
    };
    update(&mut app, Msg::RunFinished(Err(error)));
    app
}

fn recovery(reveal: bool, acknowledge: bool) -> App {
    let mut app = on(ScreenId::Run);
    update(&mut app, Msg::KeysHandedBack(secrets()));
    update(&mut app, Msg::RunFinished(Ok(report())));
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.screen, ScreenId::Recovery);
    if reveal {
        press(&mut app, KeyCode::Char('r'));
    }
    if acknowledge {
        press(&mut app, KeyCode::Char('a'));
    }
    app
}

/// The app opened on the start menu (the state folder records a setup).
fn menu() -> App {
    let mut app = app();
    app.open_on_menu(Vec::new());
    app
}

/// The number of the setup read the last command asks for.
fn asked(commands: &[Command]) -> u64 {
    commands
        .iter()
        .find_map(|c| match c {
            Command::Doctor(read) | Command::Status(read) | Command::RotatePlan(read) | Command::Rotate(read) => {
                Some(read.asked)
            }
            _ => None,
        })
        .expect("a read of the setup")
}

/// Doctor with its findings back: more than 80x24 shows, so that it scrolls.
fn doctor(result: Result<Vec<Finding>, String>) -> App {
    let mut app = menu();
    let commands = press(&mut app, KeyCode::Enter);
    assert_eq!(app.screen, ScreenId::Doctor);
    update(&mut app, Msg::Findings(asked(&commands), result));
    app
}

fn many_findings() -> Vec<Finding> {
    (1..=30)
        .map(|i| Finding::warn(Link::Key, "rotation", format!("check {i}"), "enable it"))
        .collect()
}

/// Status with this next step.
fn status(next: Next) -> App {
    let mut app = on(ScreenId::Status);
    let mut status = nothing();
    status.next = next;
    update(&mut app, Msg::Status(1, Ok(common::wizard::one_node(status))));
    app
}

/// Rotate, its plan answered with `plan`.
fn rotate_plan(plan: Result<Vec<String>, String>) -> App {
    let mut app = menu();
    app.screens.start.selected = 2;
    let commands = press(&mut app, KeyCode::Enter);
    assert_eq!(app.screen, ScreenId::Rotate);
    update(&mut app, Msg::RotatePlan(asked(&commands), plan));
    app
}

/// Rotate, the rotation under way (its first step running), or ended with `end`.
fn rotation(end: Option<Result<RotateOutcome, String>>) -> App {
    let mut app = rotate_plan(Ok(vec!["create a new access key".into()]));
    let n = asked(&press(&mut app, KeyCode::Enter));
    update(&mut app, Msg::Rotation(n, Event::Started(Step::CheckAccessKeys)));
    let log = (1..=30).map(|i| format!("line {i}")).collect::<Vec<_>>().join("\n");
    match end {
        Some(Ok(outcome)) => update(
            &mut app,
            Msg::Rotated(
                n,
                Ok(RotationEnd {
                    outcome,
                    next_due: "2027-03-06".into(),
                    rotated_before: vec![],
                }),
            ),
        ),
        Some(Err(e)) => update(&mut app, Msg::Rotated(n, Err(format!("{e}\n{log}")))),
        None => vec![],
    };
    app
}

/// A state to test, by name, built afresh for each key pressed.
type Case = (&'static str, fn() -> App);

/// The Server screen with "join a cluster" chosen, on its cluster file field.
fn joining() -> App {
    let mut app = focus(&mut on(ScreenId::Server), 2);
    press(&mut app, KeyCode::Left);
    press(&mut app, KeyCode::Tab);
    assert_eq!(app.screens.server.form.focused_id(), Q::ClusterFile);
    for c in "/nowhere.toml".chars() {
        press(&mut app, KeyCode::Char(c));
    }
    app
}

/// Every screen, in the states whose keys differ.
fn cases() -> Vec<Case> {
    vec![
        ("welcome", || on(ScreenId::Welcome)),
        ("welcome, a setup recorded", || {
            let mut app = menu();
            app.go(ScreenId::Welcome);
            app
        }),
        ("start", menu),
        ("start, the last choice", || {
            let mut app = menu();
            for _ in 0..10 {
                press(&mut app, KeyCode::Down);
            }
            app
        }),
        ("doctor, checking", || on(ScreenId::Doctor)),
        ("doctor, findings", || doctor(Ok(many_findings()))),
        ("doctor, could not check", || doctor(Err("no manifest".into()))),
        ("status, reading", || on(ScreenId::Status)),
        ("status, all good", || status(Next::AllGood)),
        ("status, broken", || status(Next::Broken)),
        ("status, unfinished", || status(Next::Unfinished)),
        ("status, rotation due", || status(Next::Rotate { days: 97 })),
        ("status, could not read", || {
            let mut app = on(ScreenId::Status);
            update(&mut app, Msg::Status(1, Err("denied".into())));
            app
        }),
        ("rotate, reading the plan", || on(ScreenId::Rotate)),
        ("rotate, plan", || {
            rotate_plan(Ok(vec!["create a new access key".into()]))
        }),
        ("rotate, plan could not be read", || {
            rotate_plan(Err("no manifest".into()))
        }),
        ("rotate, running", || rotation(None)),
        ("rotate, rotated", || {
            rotation(Some(Ok(RotateOutcome::Rotated {
                old_key_id: "AKIAOLD".into(),
                new_key_id: "AKIANEW".into(),
                restarted: Restarted::Background { pid: 7 },
            })))
        }),
        ("rotate, waiting for a restart", || {
            rotation(Some(Ok(RotateOutcome::WaitingForRestart {
                new_key_id: "AKIANEW".into(),
                restart: "restart the server".into(),
            })))
        }),
        ("rotate, failed", || rotation(Some(Err("rolled back".into())))),
        ("account, checking, text field", || on(ScreenId::Account)),
        ("account, verified", || {
            let mut app = on(ScreenId::Account);
            update(&mut app, Msg::Identity((String::new(), String::new()), Ok(identity())));
            app
        }),
        ("region", || on(ScreenId::Region)),
        ("region, filtered", || {
            let mut app = on(ScreenId::Region);
            press(&mut app, KeyCode::Char('e'));
            app
        }),
        ("region, nothing matches", || {
            let mut app = on(ScreenId::Region);
            for c in "zzz".chars() {
                press(&mut app, KeyCode::Char(c));
            }
            app
        }),
        ("kms, choice field", || on(ScreenId::Kms)),
        ("kms, text field", || focus(&mut on(ScreenId::Kms), 1)),
        ("kms, toggle", || focus(&mut on(ScreenId::Kms), 3)),
        ("kms, existing, a key picked", || {
            let mut app = kms_existing(true);
            press(&mut app, KeyCode::Enter);
            assert_eq!(app.screens.kms.form.value(Q::KeyId), "alias/a");
            app
        }),
        ("kms, in the list", || kms_existing(true)),
        ("iam", || on(ScreenId::Iam)),
        ("files", || on(ScreenId::Files)),
        ("server, text field", || on(ScreenId::Server)),
        ("server, choice field", || focus(&mut on(ScreenId::Server), 1)),
        // Past the binary, the launch, the layout, the listener and the storage folder.
        ("server, toggle", || focus(&mut on(ScreenId::Server), 5)),
        ("server, joining, the cluster file", joining),
        ("server, joining, a file that does not read", || {
            let mut app = joining();
            let commands = press(&mut app, KeyCode::Tab);
            let asked = commands
                .iter()
                .find_map(|c| match c {
                    Command::DiscoverHost(a) => Some((**a).clone()),
                    _ => None,
                })
                .expect("the file is read in the background");
            let unreadable = Err("cannot read the cluster file /nowhere.toml".to_string());
            let systemd = autounseal::vault::discover::Systemd::Absent("none".into());
            update(
                &mut app,
                common::wizard::host_found(asked, systemd, Some(unreadable), vec![]),
            );
            app
        }),
        ("init", || on(ScreenId::Init)),
        ("review, planning", || review(None, false)),
        ("review, planned", || review(Some(Ok(calls())), false)),
        ("review, plan failed", || {
            review(Some(Err(RunError::Other("no".into()))), false)
        }),
        ("review, back menu", || review(Some(Ok(calls())), true)),
        ("run, running", || on(ScreenId::Run)),
        ("run, failed", || run_failed(RunError::Other("boom".into()), false)),
        ("run, failed, keys held", || {
            run_failed(RunError::Other("boom".into()), true)
        }),
        ("run, access key limit", || {
            let limit = RunError::AccessKeyLimit {
                user: "vault-auto-unseal".into(),
                keys: vec!["AKIA1".into(), "AKIA2".into()],
            };
            run_failed(limit, false)
        }),
        ("run, finished", || {
            let mut app = on(ScreenId::Run);
            update(&mut app, Msg::RunFinished(Ok(report())));
            app
        }),
        ("recovery, masked", || recovery(false, false)),
        ("recovery, revealed", || recovery(true, false)),
        ("recovery, acknowledged", || recovery(false, true)),
        ("done", || on(ScreenId::Done)),
        ("done, demo", || {
            let mut app = on(ScreenId::Done);
            app.ctx.demo = true;
            app
        }),
    ]
}

/// What a person could tell apart: the screen drawn, which screen, the dialog open.
fn seen(app: &App) -> String {
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    terminal.draw(|f| view::draw(f, app)).unwrap();
    format!("{:?} {:?}\n{}", app.screen, app.modal, terminal.backend())
}

/// Keys beyond any table: letters, digits, arrows, Enter, Esc, Tab, F-keys, Ctrl-letters.
fn broad_keys() -> Vec<KeyEvent> {
    let mut codes: Vec<KeyCode> = ('a'..='z')
        .chain('A'..='Z')
        .chain('0'..='9')
        .map(KeyCode::Char)
        .collect();
    codes.extend([' ', '/', '-', '.'].map(KeyCode::Char));
    codes.extend([
        KeyCode::Up,
        KeyCode::Down,
        KeyCode::Left,
        KeyCode::Right,
        KeyCode::Enter,
        KeyCode::Esc,
        KeyCode::Tab,
        KeyCode::Backspace,
        KeyCode::Delete,
        KeyCode::Home,
        KeyCode::End,
        KeyCode::PageUp,
        KeyCode::PageDown,
    ]);
    // F1 and F2 are global (help, commands), as is Ctrl-C (quit).
    codes.extend((3..=12).map(KeyCode::F));
    let mut keys: Vec<KeyEvent> = codes
        .into_iter()
        .map(|c| KeyEvent::new(c, KeyModifiers::NONE))
        .collect();
    keys.push(KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT));
    keys.extend(
        ('a'..='z')
            .filter(|c| *c != 'c')
            .map(|c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)),
    );
    keys
}

#[test]
fn every_listed_key_is_handled_and_every_handled_key_is_listed() {
    for (name, build) in cases() {
        let app = build();
        let screen = app.screen;
        // Drawn first, as on a terminal: what scrolls knows then how far it can.
        seen(&app);
        let bindings = app.screens.bindings_now(screen, &app.ctx);
        assert!(!bindings.is_empty(), "{name}: no keys at all");
        let listed: Vec<Key> = bindings.iter().flat_map(|(_, keys)| keys.iter().copied()).collect();

        // Each binding that applies: its label names its keys, and pressing them does
        // something a person sees (or moves on, or asks the runtime for something).
        for (label, keys) in &bindings {
            for k in keys.iter() {
                assert!(
                    label.contains(&k.glyph()),
                    "{name}: label {label:?} does not name {k:?}"
                );
            }
            let effective = keys.iter().any(|k| {
                let mut app = build();
                let before = seen(&app);
                let commands = update(&mut app, Msg::Key(k.event()));
                !commands.is_empty() || seen(&app) != before
            });
            assert!(effective, "{name}: {label} is listed but pressing it changes nothing");
        }

        // Every other key does nothing at all, except typing into a focused text field.
        for key in broad_keys() {
            if listed.iter().any(|k| k.matches(&key)) {
                continue;
            }
            if app.screens.takes_typing(screen) && keys::is_typing(&key) {
                continue;
            }
            let mut app = build();
            let before = seen(&app);
            let commands = update(&mut app, Msg::Key(key));
            assert!(
                commands.is_empty() && seen(&app) == before,
                "{name}: {key:?} is handled ({commands:?}) but not listed"
            );
        }
    }
}

/// The footer shows each key once (no Esc listed twice), and the help adds the
/// global keys, F2 among them, and says what typing does where a text field has focus.
#[test]
fn footer_and_help_list_each_key_once_and_the_global_keys() {
    for (name, build) in cases() {
        let mut app = build();
        let footer = app.footer();
        let mut labels: Vec<_> = footer.iter().map(|h| h.label).collect();
        labels.sort();
        let count = labels.len();
        labels.dedup();
        assert_eq!(labels.len(), count, "{name}: a key listed twice: {footer:?}");
        press(&mut app, KeyCode::F(1));
        let help = seen(&app);
        for text in ["Ctrl-C", "F2", "the equivalent commands"] {
            assert!(help.contains(text), "{name}: help lacks {text}:\n{help}");
        }
        let footer_row = seen(&build()).lines().last().unwrap_or_default().to_string();
        assert!(footer_row.contains("help"), "{name}: the footer is cut: {footer_row}");
        let typing = app.screens.takes_typing(app.screen);
        assert_eq!(help.contains("edits the field"), typing, "{name}:\n{help}");
    }
}

/// The drifts the issue named, each checked on its screen.
#[test]
fn the_footers_say_what_the_keys_do() {
    let labels = |app: &App| {
        app.footer()
            .iter()
            .map(|h| format!("{} {}", h.label, h.what))
            .collect::<Vec<_>>()
    };
    let run = labels(&on(ScreenId::Run));
    assert!(run.contains(&"q quit (asks first)".to_string()), "{run:?}");
    assert!(!run.iter().any(|l| l.contains("Ctrl-C")), "Ctrl-C is global: {run:?}");
    let server = labels(&focus(&mut on(ScreenId::Server), 1));
    assert!(server.contains(&"←→/Space change".to_string()), "{server:?}");
    let region = labels(&on(ScreenId::Region));
    assert!(
        !region.iter().any(|l| l.contains("Ctrl-U")),
        "nothing to clear: {region:?}"
    );
    for app in [recovery(false, false), on(ScreenId::Done)] {
        assert!(
            !labels(&app).iter().any(|l| l.starts_with("Esc")),
            "Esc goes nowhere here"
        );
    }
}

/// A dialog's table is its keys too: each key it lists does what it says, and on the quit
/// question (the one dialog no stray key closes) the broad set does nothing.
#[test]
fn every_dialog_key_is_handled_and_the_quit_question_ignores_the_rest() {
    use autounseal::tui::app::Modal;
    let with = |modal: Modal| {
        let mut app = on(ScreenId::Files);
        app.modal = Some(modal);
        app
    };
    let quit = Modal::ConfirmQuit.keys();
    assert!(!quit.others_close);
    for binding in quit.bindings {
        for key in binding.keys {
            let mut app = with(Modal::ConfirmQuit);
            let commands = update(&mut app, Msg::Key(key.event()));
            assert_eq!(app.modal, None, "{} answers the question", binding.label);
            let quits = commands.contains(&Command::Quit);
            assert_eq!(quits, binding.what == "quit", "{}: {commands:?}", binding.label);
        }
    }
    for key in broad_keys() {
        let listed = quit.bindings.iter().any(|b| b.keys.iter().any(|k| k.matches(&key)));
        if listed || keys::global(&key).is_some() {
            continue;
        }
        let mut app = with(Modal::ConfirmQuit);
        assert!(update(&mut app, Msg::Key(key)).is_empty(), "{key:?}");
        assert_eq!(app.modal, Some(Modal::ConfirmQuit), "{key:?} leaves the question open");
    }
    // F2's commands: ↓ scrolls (before the first draw there is no limit), any other key closes.
    let scroll = &Modal::Commands(0).keys().bindings[0];
    let mut app = with(Modal::Commands(0));
    update(&mut app, Msg::Key(scroll.keys[1].event()));
    assert_eq!(app.modal, Some(Modal::Commands(1)), "{} {}", scroll.label, scroll.what);
    update(&mut app, Msg::Key(scroll.keys[0].event()));
    assert_eq!(app.modal, Some(Modal::Commands(0)));
    press(&mut app, KeyCode::Char('x'));
    assert_eq!(app.modal, None);
    let mut app = with(Modal::Help);
    assert!(Modal::Help.keys().others_close);
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.modal, None);
}
