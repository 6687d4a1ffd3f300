//! The wizard's state, the messages that change it and the commands it asks the
//! runtime to carry out. `update` is pure: keys and engine events in, state and
//! commands out, so it is tested without a terminal or AWS.

use std::path::PathBuf;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::answers::Answers;
use crate::aws::Identity;
use crate::run::{Call, Event};
use crate::tui::screens::{account, done, files, iam, init, kms, recovery, region, review, run, server, welcome};
use crate::tui::theme::Theme;
use crate::vault::client::SealStatus;
use crate::vault::recovery::InitSecrets;

/// The screens, in the order the wizard walks them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ScreenId {
    Welcome,
    Account,
    Region,
    Kms,
    Iam,
    Files,
    Server,
    Init,
    Review,
    Run,
    Recovery,
    Done,
}

impl ScreenId {
    pub const ALL: [ScreenId; 12] = [
        ScreenId::Welcome,
        ScreenId::Account,
        ScreenId::Region,
        ScreenId::Kms,
        ScreenId::Iam,
        ScreenId::Files,
        ScreenId::Server,
        ScreenId::Init,
        ScreenId::Review,
        ScreenId::Run,
        ScreenId::Recovery,
        ScreenId::Done,
    ];

    /// The screens of questions, which Review can go back to.
    pub const QUESTIONS: [ScreenId; 7] = [
        ScreenId::Account,
        ScreenId::Region,
        ScreenId::Kms,
        ScreenId::Iam,
        ScreenId::Files,
        ScreenId::Server,
        ScreenId::Init,
    ];

    pub fn title(self) -> &'static str {
        match self {
            ScreenId::Welcome => "Welcome",
            ScreenId::Account => "AWS account",
            ScreenId::Region => "Region",
            ScreenId::Kms => "KMS key",
            ScreenId::Iam => "IAM user and policy",
            ScreenId::Files => "Files",
            ScreenId::Server => "Server",
            ScreenId::Init => "Init",
            ScreenId::Review => "Review",
            ScreenId::Run => "Run",
            ScreenId::Recovery => "Recovery keys",
            ScreenId::Done => "Done",
        }
    }

    pub fn number(self) -> usize {
        ScreenId::ALL.iter().position(|s| *s == self).unwrap_or(0) + 1
    }

    pub fn next(self) -> ScreenId {
        ScreenId::ALL.get(self.number()).copied().unwrap_or(ScreenId::Done)
    }
}

/// A customer-managed key found in the account, for the KMS screen's list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyChoice {
    pub reference: String,
    pub label: String,
}

/// What a finished run hands the wizard.
pub struct RunReport {
    pub key_arn: String,
    pub user_arn: String,
    pub address: String,
    pub status: Option<SealStatus>,
    pub server_command: String,
    /// Shown once on the Recovery keys screen, then wiped.
    pub secrets: Option<InitSecrets>,
}

pub enum Msg {
    Key(KeyEvent),
    Resize,
    Tick,
    /// The identity found with this (profile, endpoint).
    Identity((String, String), Result<Identity, String>),
    /// The keys of the account and region they were listed for.
    Keys(kms::KeyListFor, Result<Vec<KeyChoice>, String>),
    /// The plan of exactly these answers.
    Plan(Box<Answers>, Result<Vec<Call>, String>),
    Engine(Event),
    RunFinished(Result<RunReport, String>),
    /// Keys init handed back to a run that then failed: held, to be shown or saved.
    KeysHandedBack(InitSecrets),
    /// SIGTERM or SIGHUP: leave now, the terminal restored.
    Terminate,
    /// A background task panicked: the runtime restores the terminal and reports it.
    Crashed,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    CheckIdentity(Answers),
    LoadKeys(Answers),
    Plan(Answers),
    Run(Answers),
    SaveAnswers(Answers),
    /// Wipe the screen (after secrets were shown).
    ClearScreen,
    /// The quit question is open: a run must not start `sys/init` meanwhile.
    HoldInit,
    /// The operator stayed: init may go on.
    ReleaseInit,
    /// Leave; a run that already started init is first let finish handing its keys back.
    Quit,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Modal {
    Help,
    ConfirmQuit,
    /// The presenter's aid, scrolled this far.
    Commands(usize),
}

pub struct App {
    pub screen: ScreenId,
    pub answers: Answers,
    pub theme: Theme,
    pub state_dir: PathBuf,
    pub demo: bool,
    /// Demo only: leave it running at the end instead of tearing it down.
    pub keep_demo: bool,
    pub modal: Option<Modal>,
    /// Advances while something is in flight; drives the spinners.
    pub frame: usize,
    /// Quit was confirmed while the server was being initialised: waiting for its keys.
    pub stopping: bool,
    pub account: account::State,
    pub region: region::State,
    pub kms: kms::State,
    pub iam: iam::State,
    pub files: files::State,
    pub server: server::State,
    pub init: init::State,
    pub review: review::State,
    pub run: run::State,
    pub recovery: recovery::State,
    pub done: done::State,
}

impl App {
    pub fn new(answers: Answers, state_dir: PathBuf, theme: Theme) -> App {
        App {
            screen: ScreenId::Welcome,
            region: region::State::new(&answers),
            account: account::State::new(&answers),
            kms: kms::State::new(&answers),
            iam: iam::State::new(&answers),
            files: files::State::new(&answers),
            server: server::State::new(&answers),
            init: init::State::new(&answers),
            review: review::State::default(),
            run: run::State::default(),
            recovery: recovery::State::default(),
            done: done::State::default(),
            answers,
            theme,
            state_dir,
            demo: false,
            keep_demo: false,
            modal: None,
            frame: 0,
            stopping: false,
        }
    }

    /// Whether a spinner turns (and so whether the runtime ticks at all).
    pub fn animating(&self) -> bool {
        self.account.loading() || self.kms.loading || self.review.planning() || self.run.running()
    }

    /// Shows `screen`, running what it needs on arrival.
    pub fn go(&mut self, screen: ScreenId) -> Vec<Command> {
        self.screen = screen;
        match screen {
            ScreenId::Account => account::enter(self),
            ScreenId::Region => region::enter(self),
            ScreenId::Kms => kms::enter(self),
            ScreenId::Iam => iam::enter(self),
            ScreenId::Files => files::enter(self),
            ScreenId::Server => server::enter(self),
            ScreenId::Init => init::enter(self),
            ScreenId::Review => review::enter(self),
            ScreenId::Run => run::enter(self),
            ScreenId::Welcome | ScreenId::Recovery | ScreenId::Done => vec![],
        }
    }

    /// Moves on after a question screen stored its answers; saves them first.
    pub fn forward(&mut self) -> Vec<Command> {
        let mut commands = vec![Command::SaveAnswers(self.answers.clone())];
        commands.extend(self.go(self.screen.next()));
        commands
    }

    /// The key hints of the screen shown, for the footer and the help.
    pub fn keys(&self) -> Vec<(&'static str, &'static str)> {
        let mut keys = match self.screen {
            ScreenId::Welcome => welcome::keys(),
            ScreenId::Account => account::keys(self),
            ScreenId::Region => region::keys(),
            ScreenId::Kms => kms::keys(self),
            ScreenId::Iam | ScreenId::Files | ScreenId::Server | ScreenId::Init => form_keys(),
            ScreenId::Review => review::keys(self),
            ScreenId::Run => run::keys(self),
            ScreenId::Recovery => recovery::keys(self),
            ScreenId::Done => done::keys(self),
        };
        keys.push(("?", "help"));
        keys
    }
}

pub fn form_keys() -> Vec<(&'static str, &'static str)> {
    vec![("Tab/↑↓", "field"), ("Enter", "continue"), ("Esc", "back")]
}

fn is_ctrl_c(key: &KeyEvent) -> bool {
    key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL)
}

pub fn update(app: &mut App, msg: Msg) -> Vec<Command> {
    match msg {
        Msg::Key(key) => on_key(app, key),
        Msg::Resize => vec![],
        Msg::Tick => {
            app.frame = app.frame.wrapping_add(1);
            run::tick(app);
            vec![]
        }
        Msg::Identity(checked, result) => account::on_identity(app, checked, result),
        Msg::Keys(listed_for, result) => kms::on_keys(app, listed_for, result),
        Msg::Plan(planned, result) => review::on_plan(app, *planned, result),
        Msg::Engine(event) => run::on_event(app, event),
        Msg::RunFinished(result) => {
            let mut commands = run::on_finished(app, result);
            if app.stopping {
                // The keys init handed back are now held: the runtime saves them on quit.
                commands.push(Command::Quit);
            }
            commands
        }
        Msg::KeysHandedBack(secrets) => {
            app.recovery.secrets = Some(secrets);
            app.recovery.threshold = app.answers.init.recovery_threshold;
            vec![]
        }
        // Already stopping: a hang-up's SIGHUP (or a second SIGTERM) must not cut short
        // the wait for keys a run is handing back; only a person's second Ctrl-C does.
        Msg::Terminate if app.stopping => vec![],
        Msg::Terminate | Msg::Crashed => vec![Command::Quit],
    }
}

/// Opens the quit question; a run in flight holds init while it is open.
pub fn ask_quit(app: &mut App) -> Vec<Command> {
    app.modal = Some(Modal::ConfirmQuit);
    if app.run.running() {
        vec![Command::HoldInit]
    } else {
        vec![]
    }
}

/// The quit question's answer.
fn answer_quit(app: &mut App, quit: bool) -> Vec<Command> {
    app.modal = None;
    if quit {
        if app.run.running() {
            // Shown while the runtime waits for a run that already started init.
            app.stopping = true;
        }
        vec![Command::Quit]
    } else {
        // Always: the run may have ended (or failed) while the question was open.
        vec![Command::ReleaseInit]
    }
}

fn on_key(app: &mut App, key: KeyEvent) -> Vec<Command> {
    if app.stopping {
        // Only a second Ctrl-C leaves before the keys are back (and then they are lost).
        return if is_ctrl_c(&key) { vec![Command::Quit] } else { vec![] };
    }
    if is_ctrl_c(&key) {
        // A second Ctrl-C on the question means yes.
        if app.modal == Some(Modal::ConfirmQuit) {
            return answer_quit(app, true);
        }
        return ask_quit(app);
    }
    match app.modal {
        Some(Modal::ConfirmQuit) => {
            return match key.code {
                KeyCode::Char('y' | 'Y') => answer_quit(app, true),
                KeyCode::Char('n' | 'N') | KeyCode::Esc => answer_quit(app, false),
                _ => vec![],
            };
        }
        Some(Modal::Help) => {
            app.modal = None;
            return vec![];
        }
        Some(Modal::Commands(scroll)) => {
            app.modal = match key.code {
                KeyCode::Down => Some(Modal::Commands(scroll + 1)),
                KeyCode::Up => Some(Modal::Commands(scroll.saturating_sub(1))),
                _ => None,
            };
            return vec![];
        }
        None => {}
    }
    if key.code == KeyCode::Char('?') || key.code == KeyCode::F(1) {
        app.modal = Some(Modal::Help);
        return vec![];
    }
    if key.code == KeyCode::F(2) {
        app.modal = Some(Modal::Commands(0));
        return vec![];
    }
    match app.screen {
        ScreenId::Welcome => welcome::update(app, key),
        ScreenId::Account => account::update(app, key),
        ScreenId::Region => region::update(app, key),
        ScreenId::Kms => kms::update(app, key),
        ScreenId::Iam => iam::update(app, key),
        ScreenId::Files => files::update(app, key),
        ScreenId::Server => server::update(app, key),
        ScreenId::Init => init::update(app, key),
        ScreenId::Review => review::update(app, key),
        ScreenId::Run => run::update(app, key),
        ScreenId::Recovery => recovery::update(app, key),
        ScreenId::Done => done::update(app, key),
    }
}
