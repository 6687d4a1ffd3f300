//! Every screen of the wizard, drawn at 80x24 (the smallest terminal it promises to
//! work on) with ratatui's TestBackend, compared with reviewed snapshots. Snapshots
//! hold text only, so colours and NO_COLOR are checked on buffer cells.

use std::path::PathBuf;

use crate::common;

use autounseal::answers::{Answers, Launch};
use autounseal::aws::Identity;
use autounseal::doctor::status::{AccessKeyStatus, KeyStatus, Next, ServerStatus, Status};
use autounseal::doctor::{Finding, Link};
use autounseal::files::PathCheck;
use autounseal::run::{Call, Event, RunError, Step};
use autounseal::tui::app::{App, update};
use autounseal::tui::msg::{Command, KeyChoice, Msg, RunReport};
use autounseal::tui::screens::ScreenId;
use autounseal::tui::screens::kms::KeyListFor;
use autounseal::tui::theme::Theme;
use autounseal::tui::view;
use autounseal::vault::VaultError;
use autounseal::vault::client::SealStatus;
use autounseal::vault::discover::Systemd;
use autounseal::vault::recovery::InitSecrets;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::{Color, Modifier};

fn app() -> App {
    let mut a = Answers {
        region: "eu-west-1".into(),
        ..Default::default()
    };
    a.output.vault_config = "/tmp/autounseal-snapshot/etc/vault.hcl".into();
    a.output.env_file = "/tmp/autounseal-snapshot/etc/vault.env".into();
    a.server.binary = "/nonexistent/bao".into();
    a.server.launch = Launch::Background;
    a.server.tls_disable = true;
    a.server.storage_path = "/tmp/autounseal-snapshot/data".into();
    App::new(a, PathBuf::from("/tmp/autounseal-snapshot/state"), Theme::new(false))
}

fn draw(app: &App) -> Terminal<TestBackend> {
    draw_sized(app, 80, 24)
}

fn draw_sized(app: &App, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|f| view::draw(f, app)).unwrap();
    terminal
}

fn key(app: &mut App, code: KeyCode) {
    update(app, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)));
}

fn identity() -> Identity {
    Identity {
        account: "123456789012".into(),
        arn: "arn:aws:iam::123456789012:user/admin".into(),
        user_id: "AIDA".into(),
        kms_endpoint: None,
    }
}

macro_rules! snapshot {
    ($name:expr, $app:expr) => {
        insta::assert_snapshot!($name, draw(&$app).backend())
    };
}

#[test]
fn question_screens() {
    let mut app = app();
    snapshot!("01_welcome", app);
    app.go(ScreenId::Account);
    snapshot!("02_account_checking", app);
    update(&mut app, Msg::Identity((String::new(), String::new()), Ok(identity())));
    snapshot!("02_account_found", app);
    let mut failed = self::app();
    failed.go(ScreenId::Account);
    update(
        &mut failed,
        Msg::Identity(
            (String::new(), String::new()),
            Err(RunError::NoCredentials {
                detail: "none were found".into(),
            }),
        ),
    );
    snapshot!("02_account_failed", failed);
    app.go(ScreenId::Region);
    for c in "eu-".chars() {
        key(&mut app, KeyCode::Char(c));
    }
    snapshot!("03_region_filtered", app);
    app.go(ScreenId::Kms);
    snapshot!("04_kms_create", app);
    key(&mut app, KeyCode::Right);
    let listed_for = KeyListFor::of(&app.ctx.answers);
    update(
        &mut app,
        Msg::Keys(
            listed_for,
            Ok(vec![KeyChoice {
                reference: "alias/prod-vault".into(),
                label: "alias/prod-vault  →  1234abcd-12ab-34cd-56ef-1234567890ab".into(),
            }]),
        ),
    );
    for _ in 0..3 {
        key(&mut app, KeyCode::Tab);
    }
    snapshot!("04_kms_existing", app);
    app.go(ScreenId::Iam);
    snapshot!("05_iam", app);
    app.go(ScreenId::Files);
    // What the file system would say, fed as the checks' answers: the same on any host.
    let etc = PathBuf::from("/tmp/autounseal-snapshot/etc");
    for file in ["vault.hcl", "vault.env"] {
        let found = Ok(PathCheck::NewWithFolders(etc.clone()));
        update(&mut app, Msg::PathChecked(etc.join(file), found));
    }
    snapshot!("06_files", app);
    // The shared credentials file chosen: its path is asked too.
    let mut shared = self::app();
    shared.go(ScreenId::Files);
    key(&mut shared, KeyCode::Tab);
    key(&mut shared, KeyCode::Tab);
    key(&mut shared, KeyCode::Right);
    for file in ["vault.hcl", "vault.env", "aws-credentials"] {
        let found = Ok(PathCheck::NewWithFolders(etc.clone()));
        update(&mut shared, Msg::PathChecked(etc.join(file), found));
    }
    snapshot!("06_files_shared", shared);
    app.go(ScreenId::Server);
    let missing = Err(VaultError::BinaryMissing {
        binary: "/nonexistent/bao".into(),
    });
    update(&mut app, Msg::BinaryProbed("/nonexistent/bao".into(), missing));
    // What a packaged host would say, fed as discovery's answer: the same on any host.
    let asked = app.ctx.answers.clone();
    let lines = vec![
        "Found: vault.service runs /usr/bin/vault (OpenBao 2.6.2) with /etc/vault.d/vault.hcl as vault:vault".into(),
        "At http://127.0.0.1:8200: a server answers: initialised, Shamir, unsealed".into(),
    ];
    update(
        &mut app,
        common::wizard::host_found(asked, Systemd::Running(vec![]), None, lines),
    );
    snapshot!("07_server", app);
    app.go(ScreenId::Init);
    snapshot!("08_init", app);
}

fn calls() -> Vec<Call> {
    let call = |action: &str, detail: &str| Call {
        action: action.into(),
        detail: detail.into(),
        command: String::new(),
    };
    vec![
        call("kms:CreateKey", "symmetric ENCRYPT_DECRYPT key"),
        call("kms:EnableKeyRotation", "rotate the key material every year"),
        call("kms:CreateAlias", "alias/vault-auto-unseal"),
        call("iam:CreateUser", "vault-auto-unseal, programmatic access only"),
        call("iam:CreatePolicy", "vault-auto-unseal-kms"),
        call("iam:AttachUserPolicy", "vault-auto-unseal-kms → vault-auto-unseal"),
        call("iam:CreateAccessKey", "for vault-auto-unseal"),
        call("file:write", "/tmp/autounseal-snapshot/etc/vault.env (mode 0600)"),
        call("server:start", "in the background"),
        call("vault:init", "5 recovery shares, threshold 3"),
    ]
}

#[test]
fn review_and_run() {
    let mut app = app();
    app.go(ScreenId::Review);
    snapshot!("09_review_planning", app);
    let planned = Box::new(app.ctx.answers.clone());
    update(&mut app, Msg::Plan(planned, Ok(calls())));
    snapshot!("09_review", app);
    key(&mut app, KeyCode::Char('b'));
    snapshot!("09_review_back_menu", app);

    // A key with a replica: the KMS key screen's field, Review's line under the key, the
    // Run screen's row.
    let mut app = self::app();
    app.go(ScreenId::Kms);
    for _ in 0..4 {
        key(&mut app, KeyCode::Down);
    }
    for c in "eu-west-1".chars() {
        key(&mut app, KeyCode::Char(c));
    }
    key(&mut app, KeyCode::Enter);
    // The key's own region is refused where it is typed, with what to type instead.
    snapshot!("04_kms_replica_in_its_own_region", app);
    for _ in 0.."eu-west-1".len() {
        key(&mut app, KeyCode::Backspace);
    }
    for c in "us-west-2, eu-central-1".chars() {
        key(&mut app, KeyCode::Char(c));
    }
    snapshot!("04_kms_replicas", app);
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.ctx.answers.kms.replica_regions, ["us-west-2", "eu-central-1"]);
    app.go(ScreenId::Review);
    let planned = Box::new(app.ctx.answers.clone());
    update(&mut app, Msg::Plan(planned, Ok(calls())));
    snapshot!("09_review_replicas", app);

    // An operator's config is kept: Review shows what changes in it.
    let mut app = self::app();
    app.go(ScreenId::Review);
    let path = std::path::Path::new("/etc/vault.d/vault.hcl");
    let text = autounseal::vault::config::ConfigText {
        kind: autounseal::vault::config::Written::Kept,
        old: Some(
            "storage \"raft\" {\n  path = \"/var/lib/vault\"\n}\n\ntelemetry {\n  disable_hostname = true\n}\n".into(),
        ),
        new: "storage \"raft\" {\n  path = \"/var/lib/vault\"\n}\n\ntelemetry {\n  disable_hostname = true\n}\n\n\
              seal \"awskms\" {\n  region = \"eu-west-1\"\n  kms_key_id = \"(the KMS key's ARN)\"\n}\n"
            .into(),
    };
    let write = Call {
        action: "file:write".into(),
        detail: text.detail(path),
        command: String::new(),
    };
    let planned = Box::new(app.ctx.answers.clone());
    update(&mut app, Msg::Plan(planned, Ok(vec![write])));
    snapshot!("09_review_config_diff", app);

    let mut app = self::app();
    app.go(ScreenId::Run);
    for (step, text) in [
        (Step::Identity, "arn:aws:iam::123456789012:user/admin"),
        (Step::KmsKey, "created arn:aws:kms:eu-west-1:123456789012:key/k"),
    ] {
        update(&mut app, Msg::Engine(Event::Started(step)));
        update(&mut app, Msg::Engine(Event::Done(step, text.into())));
    }
    update(&mut app, Msg::Engine(Event::Started(Step::KeyRotation)));
    update(&mut app, Msg::Engine(Event::Started(Step::IamUser)));
    snapshot!("10_run_in_flight", app);
    update(
        &mut app,
        Msg::Engine(Event::Failed(Step::IamUser, "AWS denied iam:CreateUser".into())),
    );
    let denied = RunError::AccessDenied {
        action: "iam:CreateUser",
        message: "not authorized".into(),
    };
    update(&mut app, Msg::RunFinished(Err(denied)));
    snapshot!("10_run_failed", app);
    update(
        &mut app,
        Msg::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
    );
    snapshot!("10_run_quit_question", app);

    // IAM's limit of two access keys: the choice its message promises.
    let mut app = self::app();
    app.go(ScreenId::Run);
    let limit = RunError::AccessKeyLimit {
        user: "vault-auto-unseal".into(),
        keys: vec!["AKIAIOSFODNN7EXAMPLE".into(), "AKIAI44QH8DHBEXAMPLE".into()],
    };
    update(&mut app, Msg::RunFinished(Err(limit)));
    key(&mut app, KeyCode::Down);
    snapshot!("10_run_access_key_limit", app);
}

/// A cluster of 3 on this machine: Review lists every node, its user and files.
#[test]
fn cluster_review_lists_the_nodes() {
    let mut app = app();
    app.ctx.answers.cluster.nodes = 3;
    app.go(ScreenId::Review);
    let planned = Box::new(app.ctx.answers.clone());
    update(&mut app, Msg::Plan(planned, Ok(calls())));
    snapshot!("09_review_cluster", app);
}

/// A cluster of 3 running: the rows are the first node's; the other two, which run at
/// the same time, have a line each under them.
#[test]
fn cluster_run_shows_each_other_node_on_a_line() {
    let mut app = app();
    app.ctx.answers.cluster.nodes = 3;
    app.go(ScreenId::Run);
    let step_of = |node: &str, event: Event| Msg::Engine(Event::OfNode(node.into(), Box::new(event)));
    for step in &autounseal::tui::screens::run::steps(&app.ctx.answers)[..13] {
        update(&mut app, Msg::Engine(Event::Done(*step, "ok".into())));
    }
    update(&mut app, Msg::Engine(Event::Started(Step::InitServer)));
    update(
        &mut app,
        step_of("autounseal-2", Event::Started(Step::VerifyCredentials)),
    );
    update(
        &mut app,
        step_of(
            "autounseal-2",
            Event::Progress(Step::VerifyCredentials, "2/3 successes in a row".into()),
        ),
    );
    update(
        &mut app,
        step_of(
            "autounseal-3",
            Event::Done(Step::AccessKey, "created AKIAEXAMPLE3".into()),
        ),
    );
    update(
        &mut app,
        step_of("autounseal-3", Event::Warning("a warning of node 3".into())),
    );
    snapshot!("10_run_cluster_nodes", app);
    let screen = format!("{}", draw(&app).backend());
    assert!(screen.contains("autounseal-2  Verify credentials"), "{screen}");
    assert!(screen.contains("2/3 successes in a row"), "{screen}");
    assert!(screen.contains("autounseal-3  Access key"), "{screen}");
    assert!(screen.contains("autounseal-3: a warning of node 3"), "{screen}");
    // The first node's rows are not the other nodes' steps.
    let rows = &app.screens.run.rows;
    assert!(rows.iter().all(|(step, status)| *step != Step::AccessKey
        || *status == autounseal::tui::screens::run::Status::Done("ok".into())));
}

/// OpenBao 2.7 found: its awskms seal is a plugin, asked for under the binary, with
/// where to download it; a script given there is refused as no program.
#[test]
fn server_with_openbao_2_7_asks_for_its_kms_plugin() {
    let mut app = app();
    app.go(ScreenId::Server);
    let found = Ok(autounseal::vault::server::ServerBinary {
        path: "/usr/bin/bao".into(),
        flavour: autounseal::vault::server::Flavour::OpenBao,
        version: (2, 7, 2),
    });
    update(&mut app, Msg::BinaryProbed("/nonexistent/bao".into(), found));
    snapshot!("07_server_openbao_2_7", app);
    key(&mut app, KeyCode::Enter);
    snapshot!("07_server_openbao_2_7_no_plugin", app);
}

/// Joining a cluster: the Server screen with its cluster file that does not read, then
/// Review of a node that joins with the file's key.
#[test]
fn join_server_and_review() {
    let mut app = app();
    app.go(ScreenId::Server);
    key(&mut app, KeyCode::Tab);
    key(&mut app, KeyCode::Tab);
    key(&mut app, KeyCode::Left);
    key(&mut app, KeyCode::Tab);
    for c in "/tmp/autounseal-snapshot/cluster.toml".chars() {
        key(&mut app, KeyCode::Char(c));
    }
    key(&mut app, KeyCode::Tab);
    let mut asked = app.ctx.answers.clone();
    asked.cluster.join = Some("/tmp/autounseal-snapshot/cluster.toml".into());
    let unreadable = "cannot read the cluster file /tmp/autounseal-snapshot/cluster.toml: No such file or directory \
                      (os error 2)";
    let systemd = Systemd::Absent("not running here".into());
    update(
        &mut app,
        common::wizard::host_found(asked, systemd, Some(Err(unreadable.into())), vec![]),
    );
    key(&mut app, KeyCode::BackTab);
    snapshot!("07_server_join_error", app);

    // Review of the node the Server screen made of the file (see wizard_update).
    let mut app = self::app();
    let file = common::wizard::cluster_file("http://10.0.0.11:8200", "eu-west-1");
    app.ctx.answers.server.node_id = file.free_node_id("autounseal-1");
    app.ctx.answers = file.member_answers(&app.ctx.answers).unwrap();
    app.ctx.answers.cluster.join = Some("/tmp/autounseal-snapshot/cluster.toml".into());
    app.go(ScreenId::Review);
    let planned = Box::new(app.ctx.answers.clone());
    let mut join_calls = calls();
    join_calls.drain(..3);
    join_calls.retain(|c| c.action != "iam:CreatePolicy" && c.action != "vault:init");
    update(&mut app, Msg::Plan(planned, Ok(join_calls)));
    snapshot!("09_review_join", app);
    // Back on the KMS key screen: the file's key is said to win.
    app.go(ScreenId::Kms);
    snapshot!("04_kms_joining", app);
}

/// A migration: Review explains it, then the Unseal keys screen takes the keys masked.
#[test]
fn migration_review_and_unseal_keys() {
    let mut app = app();
    app.ctx.answers.server.existing = autounseal::answers::ExistingServer::Migrate;
    app.go(ScreenId::Review);
    let mut planned = calls();
    planned.pop();
    planned.push(Call {
        action: "vault:unseal-migrate".into(),
        detail: "the threshold of unseal keys, one by one".into(),
        command: String::new(),
    });
    let answers = Box::new(app.ctx.answers.clone());
    update(&mut app, Msg::Plan(answers, Ok(planned)));
    snapshot!("09_review_migration", app);
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.screen, ScreenId::UnsealKeys);
    let status = common::wizard::seal_status("shamir", 2);
    let address = autounseal::vault::config::api_addr(&app.ctx.answers);
    update(&mut app, Msg::SealRead(address, Ok(status)));
    let typed = "Zq8vKEYSECRETNEVERSHOWN4xAA=";
    for c in typed.chars() {
        key(&mut app, KeyCode::Char(c));
    }
    key(&mut app, KeyCode::Enter);
    // The second key half typed: only that something is typed shows.
    let second = "c2Vjb25kS0VZU0VDUkVUTkVWRVJTSE9XTg==";
    for c in second.chars().take(5) {
        key(&mut app, KeyCode::Char(c));
    }
    let shown = format!("{:?}", draw(&app).backend());
    assert!(
        !shown.contains("KEYSECRET") && !shown.contains("Zq8v") && !shown.contains("c2Vjb"),
        "{shown}"
    );
    snapshot!("10_unseal_keys", app);
    // Enter on the field typed into adds the key; on an empty one, the run starts with both.
    for c in second.chars().skip(5) {
        key(&mut app, KeyCode::Char(c));
    }
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.screen, ScreenId::Run);
}

fn finished() -> App {
    let mut app = app();
    app.ctx.answers.init.recovery_threshold = 2;
    app.go(ScreenId::Run);
    let body = br#"{"recovery_keys":["4f1c0d6a2b","9e8d7c6b5a","1a2b3c4d5e"],"recovery_keys_base64":[],"root_token":"s.R00tT0ken"}"#;
    let report = RunReport {
        key_arn: "arn:aws:kms:eu-west-1:123456789012:key/k".into(),
        user_arn: "arn:aws:iam::123456789012:user/vault-auto-unseal".into(),
        address: "http://127.0.0.1:8200".into(),
        status: Some(SealStatus {
            seal_type: "awskms".into(),
            initialized: true,
            sealed: false,
            recovery_seal: true,
            version: "2.6.2".into(),
            migration: false,
            t: 2,
            progress: 0,
        }),
        server_command: String::new(),
        status_command: "bao status -address=http://127.0.0.1:8200".into(),
        secrets: Some(InitSecrets::from_response(body).unwrap()),
        left_open: Vec::new(),
        cluster_next: None,
    };
    for step in autounseal::tui::screens::run::steps(&app.ctx.answers) {
        update(&mut app, Msg::Engine(Event::Done(step, "ok".into())));
    }
    update(&mut app, Msg::RunFinished(Ok(report)));
    app
}

#[test]
fn recovery_keys_and_done() {
    let mut app = finished();
    snapshot!("10_run_finished", app);
    key(&mut app, KeyCode::Enter);
    snapshot!("11_recovery_masked", app);
    let screen = format!("{}", draw(&app).backend());
    assert!(
        !screen.contains("4f1c0d6a2b") && !screen.contains("s.R00tT0ken"),
        "all masked"
    );
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Char('r'));
    snapshot!("11_recovery_one_revealed", app);
    let screen = format!("{}", draw(&app).backend());
    assert!(screen.contains("9e8d7c6b5a") && !screen.contains("4f1c0d6a2b") && !screen.contains("1a2b3c4d5e"));
    key(&mut app, KeyCode::Char('a'));
    key(&mut app, KeyCode::Enter);
    snapshot!("12_done", app);
    let screen = format!("{}", draw(&app).backend());
    assert!(!screen.contains("9e8d7c6b5a"), "no recovery key is left on the screen");
}

#[test]
fn demo_mode() {
    let mut app = app();
    app.ctx.demo = true;
    snapshot!("demo_welcome", app);
    app.go(ScreenId::Server);
    key(&mut app, KeyCode::F(2));
    snapshot!("demo_server_commands", app);
}

#[test]
fn help() {
    let mut app = app();
    app.go(ScreenId::Iam);
    key(&mut app, KeyCode::Char('?'));
    snapshot!("help_on_iam", app);
}

/// The cell where `text` starts on the screen.
fn find(terminal: &Terminal<TestBackend>, text: &str) -> (u16, u16) {
    let buffer = terminal.backend().buffer();
    for y in 0..buffer.area.height {
        let row: String = (0..buffer.area.width)
            .map(|x| buffer[(x, y)].symbol().to_string())
            .collect();
        if let Some(col) = row.find(text) {
            return (row[..col].chars().count() as u16, y);
        }
    }
    panic!("{text:?} is not on the screen");
}

#[test]
fn colours_and_no_color() {
    let mut app = app();
    app.go(ScreenId::Region);
    let (x, y) = find(&draw(&app), "eu-west-1");
    let cell = draw(&app).backend().buffer()[(x, y)].clone();
    assert_eq!(cell.bg, Color::Cyan, "the selected region is highlighted");

    let mut plain = App::new(app.ctx.answers.clone(), app.ctx.state_dir.clone(), Theme::new(true));
    plain.go(ScreenId::Region);
    let terminal = draw(&plain);
    let (x, y) = find(&terminal, "eu-west-1");
    let cell = &terminal.backend().buffer()[(x, y)];
    assert_eq!(
        (cell.fg, cell.bg),
        (Color::Reset, Color::Reset),
        "NO_COLOR: no colour at all"
    );
    assert!(
        cell.modifier.contains(Modifier::REVERSED),
        "selection still visible without colour"
    );
    let buffer = terminal.backend().buffer();
    let coloured: String = buffer
        .content
        .iter()
        .filter(|c| c.fg != Color::Reset || c.bg != Color::Reset)
        .map(|c| c.symbol())
        .collect();
    assert_eq!(coloured, "", "cells drawn in colour under NO_COLOR");

    let mut failed = App::new(app.ctx.answers.clone(), app.ctx.state_dir.clone(), Theme::new(false));
    failed.go(ScreenId::Account);
    update(
        &mut failed,
        Msg::Identity((String::new(), String::new()), Err(RunError::Other("denied".into()))),
    );
    let terminal = draw(&failed);
    let (x, y) = find(&terminal, "✗ denied");
    assert_eq!(terminal.backend().buffer()[(x, y)].fg, Color::Red, "errors are red");
}

/// Every step done and the quit question open at 80x24: the question's answer keys
/// stay inside its box, and the steps that do not fit are counted, not cut silently.
#[test]
fn the_quit_question_fits_with_every_step_done() {
    use autounseal::tui::screens::run::Status;
    let mut app = app();
    app.go(ScreenId::Review);
    let planned = Box::new(app.ctx.answers.clone());
    update(&mut app, Msg::Plan(planned, Ok(vec![])));
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.screen, ScreenId::Run);
    for (step, status) in app.screens.run.rows.iter_mut() {
        *status = Status::Done(format!(
            "{} done, arn:aws:iam::123456789012:user/vault-auto-unseal",
            step.label()
        ));
    }
    update(
        &mut app,
        Msg::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
    );
    let terminal = draw(&app);
    let rows: Vec<String> = (0..24)
        .map(|y| (0..80).map(|x| terminal.backend().buffer()[(x, y)].symbol()).collect())
        .collect();
    let screen = rows.join("\n");
    let answer = rows
        .iter()
        .position(|r| r.contains(" y ") && r.contains(" quit "))
        .expect(&screen);
    let bottom = rows.iter().rposition(|r| r.contains('└')).expect(&screen);
    assert!(answer < bottom, "the answer keys are inside the box:\n{screen}");
    assert!(screen.contains("earlier steps"), "{screen}");
}

/// What doctor finds on a background setup whose access key is old and whose server is
/// down: every link, in doctor's order, as its checks return them.
fn findings() -> Vec<Finding> {
    let env = "/tmp/autounseal-snapshot/etc/vault.env";
    let arn = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    vec![
        Finding::ok(Link::EnvFile, "exists", env),
        Finding::ok(Link::EnvFile, "mode", "mode 0600"),
        Finding::ok(Link::EnvFile, "owner", "owned by vault"),
        Finding::ok(Link::EnvFile, "parses", "4 variables"),
        Finding::ok(
            Link::EnvFile,
            "variables",
            "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_DEFAULT_REGION",
        ),
        Finding::ok(Link::EnvFile, "region", "eu-west-1, the key's region"),
        Finding::ok(Link::Config, "parses", "/tmp/autounseal-snapshot/etc/vault.hcl"),
        Finding::ok(Link::Config, "seal stanza", "seal \"awskms\""),
        Finding::ok(Link::Config, "key id", arn),
        Finding::ok(Link::Config, "region", "eu-west-1"),
        Finding::ok(Link::Config, "endpoint", "none: AWS itself"),
        Finding::ok(
            Link::Credentials,
            "identity",
            "AKIAEXAMPLE is arn:aws:iam::123456789012:user/vault-auto-unseal",
        ),
        Finding::warn(
            Link::Credentials,
            "access key",
            "AKIAEXAMPLE was created 97 days ago (more than 90)",
            "rotate it: `autounseal rotate` makes a new key, proves it, restarts the server on it and deletes the old one",
        ),
        Finding::ok(
            Link::Policy,
            "attached",
            "vault-auto-unseal-kms is attached to vault-auto-unseal",
        ),
        Finding::ok(
            Link::Policy,
            "actions",
            "kms:Encrypt, kms:Decrypt, kms:DescribeKey on the one key",
        ),
        Finding::ok(Link::Key, "state", "Enabled"),
        Finding::ok(Link::Key, "spec", "SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT"),
        Finding::ok(Link::Key, "rotation", "on"),
        Finding::ok(Link::RoundTrip, "describe", "DescribeKey as the env file's key"),
        Finding::ok(Link::RoundTrip, "encrypt", "Encrypt and Decrypt as the env file's key"),
        Finding::skipped(Link::Unit, "exists", "launch is background: no systemd unit"),
        Finding::fail(
            Link::Server,
            "reachable",
            "http://127.0.0.1:8200: connection refused",
            "start the server (autounseal apply starts it again), then run doctor again",
        ),
    ]
}

fn status() -> Status {
    Status {
        region: Some("eu-west-1".into()),
        kms_key: Some(KeyStatus {
            arn: "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab".into(),
            state: "Enabled".into(),
        }),
        iam_user: Some("arn:aws:iam::123456789012:user/vault-auto-unseal".into()),
        access_key: Some(AccessKeyStatus {
            id: "AKIAEXAMPLE".into(),
            user: "vault-auto-unseal".into(),
            status: "Active".into(),
            age_days: Some(12),
        }),
        server: Some(ServerStatus {
            address: "http://127.0.0.1:8200".into(),
            launch: "background".into(),
            reachable: true,
            seal_type: Some("awskms".into()),
            initialized: Some(true),
            sealed: Some(false),
        }),
        unfinished: false,
        keys_waiting: Vec::new(),
        proofs_missing: Vec::new(),
        next: Next::AllGood,
    }
}

/// The number of the setup read a command asks for.
fn asked(commands: &[Command]) -> u64 {
    commands
        .iter()
        .find_map(|c| match c {
            Command::Doctor(read)
            | Command::Status(read)
            | Command::RotatePlan(read)
            | Command::Rotate(read)
            | Command::DrillRegions(read) => Some(read.asked),
            _ => None,
        })
        .expect("a read of the setup")
}

fn press(app: &mut App, code: KeyCode) -> Vec<Command> {
    update(app, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

#[test]
fn start_doctor_and_status() {
    let mut app = app();
    app.open_on_menu(Vec::new());
    snapshot!("13_start", app);
    insta::assert_snapshot!("13_start_large", draw_sized(&app, 120, 40).backend());

    let checking = press(&mut app, KeyCode::Enter);
    assert_eq!(app.screen, ScreenId::Doctor);
    snapshot!("14_doctor_checking", app);
    update(&mut app, Msg::Findings(asked(&checking), Ok(findings())));
    insta::assert_snapshot!("14_doctor_large", draw_sized(&app, 120, 40).backend());
    // Drawn at 80x24 before the keys: how far it scrolls is the last drawn screen's.
    snapshot!("14_doctor", app);
    for _ in 0..40 {
        press(&mut app, KeyCode::Down);
    }
    snapshot!("14_doctor_scrolled_to_the_end", app);

    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Down);
    let reading = press(&mut app, KeyCode::Enter);
    assert_eq!(app.screen, ScreenId::Status);
    update(
        &mut app,
        Msg::Status(asked(&reading), Ok(common::wizard::one_node(status()))),
    );
    snapshot!("15_status", app);
    insta::assert_snapshot!("15_status_large", draw_sized(&app, 120, 40).backend());

    let mut broken = status();
    broken.server.as_mut().unwrap().sealed = Some(true);
    broken.next = Next::Broken;
    let again = press(&mut app, KeyCode::Char('r'));
    update(
        &mut app,
        Msg::Status(asked(&again), Ok(common::wizard::one_node(broken))),
    );
    snapshot!("15_status_broken", app);
}

/// Doctor's verdicts are told by a word in the badge and by its colour; without
/// colours (NO_COLOR) the word stays.
#[test]
fn doctor_badges_say_the_verdict_in_words_and_colours() {
    for theme in [Theme::new(false), Theme::new(true)] {
        let mut app = App::new(
            app().ctx.answers,
            PathBuf::from("/tmp/autounseal-snapshot/state"),
            theme,
        );
        app.open_on_menu(Vec::new());
        let checking = press(&mut app, KeyCode::Enter);
        update(&mut app, Msg::Findings(asked(&checking), Ok(findings())));
        // The failure is at the end of the list: scrolled into view.
        draw(&app);
        for _ in 0..40 {
            press(&mut app, KeyCode::Down);
        }
        let terminal = draw(&app);
        let colour = |text: &str| {
            let (x, y) = find(&terminal, text);
            terminal.backend().buffer()[(x, y)].fg
        };
        let coloured = theme.ok.fg.is_some();
        for (badge, expected) in [
            ("[FAIL]", Color::Red),
            ("[skip]", Color::DarkGray),
            ("[ ok ]", Color::Green),
        ] {
            let expected = if coloured { expected } else { Color::Reset };
            assert_eq!(colour(badge), expected, "{badge}");
        }
    }
}

/// A setup as `apply` records it: the plan of its rotation is the engine's own.
fn recorded_setup() -> autounseal::run::Manifest {
    use autounseal::run::manifest::{AccessKeyRecord, FileRole, NamedRecord, ServerRecord};
    let mut m = autounseal::run::Manifest {
        region: Some("eu-west-1".into()),
        access_key: Some(AccessKeyRecord {
            id: "AKIAOLDEXAMPLE000001".into(),
            user: "vault-auto-unseal".into(),
            created_at: "2026-09-01T10:00:00Z".into(),
        }),
        iam_user: Some(NamedRecord {
            name: "vault-auto-unseal".into(),
            arn: "arn:aws:iam::123456789012:user/vault-auto-unseal".into(),
            origin: autounseal::run::Origin::Created,
        }),
        server: Some(ServerRecord {
            binary: "/usr/bin/bao".into(),
            config: "/etc/openbao/openbao.hcl".into(),
            address: "http://127.0.0.1:8200".into(),
            launch: "background".into(),
            pid: Some(4242),
            pid_file: None,
            log_file: None,
            unit: None,
            initialized_by_us: true,
            init_started: true,
            proofs: Default::default(),
            ca_cert: None,
        }),
        ..Default::default()
    };
    m.record_file(FileRole::EnvFile, std::path::Path::new("/etc/openbao/vault.env"), None);
    m
}

/// The rotation's events as the engine reports them, up to the first restart.
fn rotation_so_far() -> Vec<Event> {
    vec![
        Event::Started(Step::CheckAccessKeys),
        Event::Done(
            Step::CheckAccessKeys,
            "vault-auto-unseal holds one access key, AKIAOLDEXAMPLE000001, the one in /etc/openbao/vault.env".into(),
        ),
        Event::Started(Step::NewAccessKey),
        Event::Done(Step::NewAccessKey, "created AKIANEWEXAMPLE000002".into()),
        Event::Started(Step::SaveCredentials),
        Event::Done(Step::SaveCredentials, "saved to /etc/openbao/vault.env".into()),
        Event::Started(Step::VerifyCredentials),
        Event::Done(
            Step::VerifyCredentials,
            "STS, DescribeKey, Encrypt and Decrypt work as AKIANEWEXAMPLE000002".into(),
        ),
        Event::Started(Step::RestartOnNewKey),
    ]
}

/// Rotate from the menu, its plan read: the app and the number of the rotation started
/// (when `start`).
fn rotate_screen(start: bool) -> (App, u64) {
    let mut app = app();
    app.open_on_menu(Vec::new());
    app.screens.start.selected = 2;
    let reading = press(&mut app, KeyCode::Enter);
    assert_eq!(app.screen, ScreenId::Rotate);
    let plan = autounseal::rotate::rotate_plan(&recorded_setup());
    update(&mut app, Msg::RotatePlan(asked(&reading), Ok(plan)));
    if !start {
        return (app, 0);
    }
    let n = asked(&press(&mut app, KeyCode::Enter));
    for event in rotation_so_far() {
        update(&mut app, Msg::Rotation(n, event));
    }
    (app, n)
}

#[test]
fn rotate() {
    use autounseal::rotate::{Restarted, RotateOutcome};
    use autounseal::tui::msg::RotationEnd;
    let (app, _) = rotate_screen(false);
    snapshot!("16_rotate_plan", app);
    insta::assert_snapshot!("16_rotate_plan_large", draw_sized(&app, 120, 40).backend());

    let (running, _) = rotate_screen(true);
    snapshot!("16_rotate_running", running);
    insta::assert_snapshot!("16_rotate_running_large", draw_sized(&running, 120, 40).backend());

    let (mut rotated, n) = rotate_screen(true);
    for event in [
        Event::Done(
            Step::RestartOnNewKey,
            "unsealed itself through KMS in 2.1 s (seal awskms)".into(),
        ),
        Event::Started(Step::DeactivateOldKey),
        Event::Done(Step::DeactivateOldKey, "AKIAOLDEXAMPLE000001 is Inactive".into()),
        Event::Started(Step::RestartWithoutOldKey),
        Event::Done(
            Step::RestartWithoutOldKey,
            "unsealed itself through KMS in 1.9 s (seal awskms)".into(),
        ),
        Event::Started(Step::DeleteOldKey),
        Event::Done(
            Step::DeleteOldKey,
            "deleted AKIAOLDEXAMPLE000001; AKIANEWEXAMPLE000002 is the only key, and the manifest records it".into(),
        ),
    ] {
        update(&mut rotated, Msg::Rotation(n, event));
    }
    let end = RotationEnd {
        outcome: RotateOutcome::Rotated {
            old_key_id: "AKIAOLDEXAMPLE000001".into(),
            new_key_id: "AKIANEWEXAMPLE000002".into(),
            restarted: Restarted::Background { pid: 4343 },
        },
        next_due: "2027-03-06".into(),
        rotated_before: vec![],
    };
    update(&mut rotated, Msg::Rotated(n, Ok(end)));
    snapshot!("16_rotate_rotated", rotated);
    insta::assert_snapshot!("16_rotate_rotated_large", draw_sized(&rotated, 120, 40).backend());

    let (mut rolled_back, n) = rotate_screen(true);
    let cause = "the server at http://127.0.0.1:8200 did not unseal on the new key within 30 s";
    for event in [
        Event::Failed(Step::RestartOnNewKey, cause.into()),
        Event::Started(Step::RollBack),
        Event::Done(
            Step::RollBack,
            "back on the old access key AKIAOLDEXAMPLE000001; the new key is deleted".into(),
        ),
    ] {
        update(&mut rolled_back, Msg::Rotation(n, event));
    }
    let failure = format!(
        "the rotation failed: {cause}. It was rolled back: the server runs on the old access key \
         AKIAOLDEXAMPLE000001 again, the new key is deleted and the files are as before. Fix the cause and run \
         rotate again"
    );
    update(&mut rolled_back, Msg::Rotated(n, Err(failure)));
    snapshot!("16_rotate_rolled_back", rolled_back);
    insta::assert_snapshot!(
        "16_rotate_rolled_back_large",
        draw_sized(&rolled_back, 120, 40).backend()
    );

    let (mut waiting, n) = rotate_screen(true);
    let after = "after you restart the server, run rotate again";
    for step in [
        Step::RestartOnNewKey,
        Step::DeactivateOldKey,
        Step::RestartWithoutOldKey,
        Step::DeleteOldKey,
    ] {
        update(&mut waiting, Msg::Rotation(n, Event::Skipped(step, after.into())));
    }
    let end = RotationEnd {
        outcome: RotateOutcome::WaitingForRestart {
            new_key_id: "AKIANEWEXAMPLE000002".into(),
            restart: "restart your server so that it reads /etc/openbao/vault.env again (for example: set -a; . \
                      /etc/openbao/vault.env; set +a; bao server -config=/etc/openbao/openbao.hcl)"
                .into(),
        },
        next_due: "2027-03-06".into(),
        rotated_before: vec![],
    };
    update(&mut waiting, Msg::Rotated(n, Ok(end)));
    snapshot!("16_rotate_waiting_for_restart", waiting);
    insta::assert_snapshot!(
        "16_rotate_waiting_for_restart_large",
        draw_sized(&waiting, 120, 40).backend()
    );

    // The quit question while it runs says what a quit does to the rotation.
    let (mut quitting, _) = rotate_screen(true);
    press(&mut quitting, KeyCode::Char('q'));
    snapshot!("16_rotate_quit_question", quitting);
}

/// The start menu's drill: the replicas' regions read, a token typed (masked), a path.
fn drill_screen() -> (App, u64) {
    let mut app = app();
    app.open_on_menu(Vec::new());
    app.ctx.can_drill = true;
    app.screens.start.selected = 3;
    let reading = press(&mut app, KeyCode::Enter);
    assert_eq!(app.screen, ScreenId::Drill);
    let regions = vec!["us-west-2".to_string(), "eu-central-1".to_string()];
    update(&mut app, Msg::DrillRegions(asked(&reading), Ok(regions)));
    (app, 0)
}

#[test]
fn a_full_start_menu_still_fits_with_what_was_left_open() {
    let mut app = app();
    app.open_on_menu(vec![
        "Recovery keys and a root token wait in /root/.local/share/autounseal/recovery-keys-2026-12-07T06-16-43Z.txt \
         (0600): store them offline, then delete the file."
            .into(),
        "Verify seal and Restart check never ran: set up again (the wizard) or run `autounseal apply` to finish; \
         nothing is created twice."
            .into(),
    ]);
    app.ctx.can_drill = true;
    let drawn = format!("{:?}", draw(&app).backend());
    for choice in ["Check the setup (doctor)", "Rehearse a recovery (drill)", "Quit"] {
        assert!(drawn.contains(choice), "{choice} is on the screen:\n{drawn}");
    }
    snapshot!("13_start_compact", app);
}

#[test]
fn drill() {
    use autounseal::drill::DrillReport;
    let (mut app, _) = drill_screen();
    key(&mut app, KeyCode::Right);
    key(&mut app, KeyCode::Left);
    // Enter with no token: said, and the token's line gets the focus.
    key(&mut app, KeyCode::Enter);
    snapshot!("17_drill_token_missing", app);
    for c in "s.secret-token".chars() {
        key(&mut app, KeyCode::Char(c));
    }
    key(&mut app, KeyCode::Tab);
    for c in "secret/data/app".chars() {
        key(&mut app, KeyCode::Char(c));
    }
    let drawn = format!("{:?}", draw(&app).backend());
    assert!(!drawn.contains("s.secret-token"), "the token is never drawn");
    snapshot!("17_drill_ask", app);

    let commands = press(&mut app, KeyCode::Enter);
    let Some(Command::Drill(ask)) = commands.first() else {
        panic!("{commands:?}")
    };
    assert_eq!(
        (ask.region.as_str(), ask.read.as_deref()),
        ("us-west-2", Some("secret/data/app"))
    );
    assert!(
        !format!("{ask:?}").contains("s.secret-token"),
        "its Debug hides the token"
    );
    let n = ask.setup.asked;
    for event in [
        Event::Started(Step::DrillSnapshot),
        Event::Done(
            Step::DrillSnapshot,
            "20508 bytes from http://127.0.0.1:8200: a read, nothing changed there".into(),
        ),
        Event::Started(Step::DrillStart),
    ] {
        update(&mut app, Msg::DrillProgress(n, event));
    }
    snapshot!("17_drill_running", app);
    for event in [
        Event::Done(
            Step::DrillStart,
            "OpenBao 2.6.2 on 127.0.0.1:42469 (loopback only), its seal on the replica in us-west-2".into(),
        ),
        Event::Done(
            Step::DrillRestore,
            "the live server's data replaces the recovery server's".into(),
        ),
        Event::Done(
            Step::DrillUnseal,
            "unsealed by itself through the replica, no key typed".into(),
        ),
        Event::Done(
            Step::DrillRead,
            "secret/data/app: 1 key (password) (values not shown)".into(),
        ),
        Event::Done(
            Step::DrillCleanUp,
            "the recovery server stopped, its folder removed".into(),
        ),
    ] {
        update(&mut app, Msg::DrillProgress(n, event));
    }
    let report = DrillReport {
        region: "us-west-2".into(),
        replica_arn: "arn:aws:kms:us-west-2:123456789012:key/mrk-1234abcd".into(),
        snapshot_bytes: 20508,
        took: std::time::Duration::from_millis(8400),
        read: Some(("secret/data/app".into(), vec!["password".into()])),
    };
    update(&mut app, Msg::Drilled(n, Ok(report)));
    snapshot!("17_drill_recovered", app);
}
