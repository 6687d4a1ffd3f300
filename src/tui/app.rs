//! The wizard's state and `update`: keys and background answers in, state and
//! commands out. `update` is pure (every side effect is a command the runtime carries
//! out), so it is tested without a terminal or AWS. The app owns the order of the
//! screens: they say only where to go (`Nav`).

use std::path::PathBuf;

use crate::answers::Answers;
use crate::tui::keys::{self, DOWN, ESC, Global, Hint, Key, UP, char};
use crate::tui::msg::{Command, Msg};
use crate::tui::screens::{Ctx, Nav, Outcome, ScreenId, Screens};
use crate::tui::theme::Theme;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Modal {
    Help,
    ConfirmQuit,
    /// The presenter's aid, scrolled this far.
    Commands(usize),
}

/// One row of a dialog's key table: its keys, the hint the dialog shows, the action.
pub struct ModalBinding {
    pub keys: &'static [Key],
    pub label: &'static str,
    pub what: &'static str,
    pub action: fn(&mut App, crossterm::event::KeyEvent) -> Vec<Command>,
}

/// A dialog's keys: its table, and whether any other key closes it.
pub struct ModalKeys {
    pub bindings: &'static [ModalBinding],
    pub others_close: bool,
}

/// The quit question: y quits, n or Esc stays; nothing else answers it.
const QUIT_KEYS: ModalKeys = ModalKeys {
    bindings: &[
        ModalBinding {
            keys: &[char('y'), char('Y')],
            label: "y",
            what: "quit",
            action: |app, _| answer_quit(app, true),
        },
        ModalBinding {
            keys: &[char('n'), char('N'), ESC],
            label: "n",
            what: "stay",
            action: |app, _| answer_quit(app, false),
        },
    ],
    others_close: false,
};

/// The help: any key closes it.
const HELP_KEYS: ModalKeys = ModalKeys {
    bindings: &[],
    others_close: true,
};

/// F2's commands: ↑↓ scroll, any other key closes them.
const COMMANDS_KEYS: ModalKeys = ModalKeys {
    bindings: &[ModalBinding {
        keys: &[UP, DOWN],
        label: "↑↓",
        what: "scroll",
        action: |app, key| {
            if let Some(Modal::Commands(scroll)) = app.modal {
                let furthest = app.commands_furthest.get();
                app.modal = Some(Modal::Commands(crate::tui::screens::scroll_by_key(
                    scroll, &key, furthest,
                )));
            }
            vec![]
        },
    }],
    others_close: true,
};

impl Modal {
    /// This dialog's key table (dispatch and the dialog's own hints read it).
    pub fn keys(&self) -> &'static ModalKeys {
        match self {
            Modal::Help => &HELP_KEYS,
            Modal::ConfirmQuit => &QUIT_KEYS,
            Modal::Commands(_) => &COMMANDS_KEYS,
        }
    }
}

pub struct App {
    pub screen: ScreenId,
    pub ctx: Ctx,
    pub screens: Screens,
    pub modal: Option<Modal>,
    /// The furthest the commands dialog can scroll, as last drawn (see
    /// `screens::scrolled_lines`).
    pub commands_furthest: crate::tui::screens::Furthest,
}

impl App {
    pub fn new(answers: Answers, state_dir: PathBuf, theme: Theme) -> App {
        App {
            screen: ScreenId::Welcome,
            screens: Screens::new(&answers),
            ctx: Ctx {
                answers,
                theme,
                state_dir,
                demo: false,
                frame: 0,
                identity: None,
                secrets: None,
                report: None,
                keep_demo: false,
                stopping: false,
                unseal_keys: None,
                setup_recorded: false,
                left_open: Vec::new(),
                can_drill: false,
                ran: false,
            },
            modal: None,
            commands_furthest: Default::default(),
        }
    }

    /// Opens on the start menu: the state folder records a setup. The menu runs nothing
    /// on arrival, so there is no command to carry out.
    pub fn open_on_menu(&mut self, left_open: Vec<String>) {
        self.ctx.setup_recorded = true;
        self.ctx.left_open = left_open;
        self.screen = ScreenId::Start;
    }

    /// Whether the engine is at work (an apply or a rotation): quitting stops it after
    /// its step in flight.
    pub fn engine_running(&self) -> bool {
        self.screens.run.running() || self.screens.rotate.running() || self.screens.drill.running()
    }

    /// Whether a spinner turns (and so whether the runtime ticks at all).
    pub fn animating(&self) -> bool {
        self.screens.busy()
    }

    /// Shows `screen`, running what it needs on arrival.
    pub fn go(&mut self, screen: ScreenId) -> Vec<Command> {
        self.screen = screen;
        self.screens.enter(screen, &mut self.ctx)
    }

    /// The footer: the screen's keys that apply now, then help.
    pub fn footer(&self) -> Vec<Hint> {
        let mut hints = self.screens.hints(self.screen, &self.ctx);
        hints.push(Hint {
            label: "?",
            what: "help",
        });
        hints
    }

    /// Carries out what `from` said to do; where to go counts only while `from` is
    /// still shown (a late answer must not move the operator off another screen).
    fn apply(&mut self, from: ScreenId, outcome: Outcome) -> Vec<Command> {
        let mut commands = outcome.commands;
        if from != self.screen {
            return commands;
        }
        match outcome.nav {
            Nav::Stay => {}
            Nav::Back => commands.extend(self.go(from.previous())),
            Nav::Forward => {
                // A question's answers are saved as it is left, so nothing typed is lost.
                if from.is_question() {
                    commands.push(Command::SaveAnswers(self.ctx.answers.clone()));
                }
                commands.extend(self.go(from.next()));
            }
            Nav::Go(to) => commands.extend(self.go(to)),
            Nav::AskQuit => commands.extend(ask_quit(self)),
        }
        commands
    }
}

pub fn update(app: &mut App, msg: Msg) -> Vec<Command> {
    let ctx = &mut app.ctx;
    let s = &mut app.screens;
    match msg {
        Msg::Key(key) => on_key(app, key),
        Msg::Resize => vec![],
        Msg::Tick => {
            ctx.frame = ctx.frame.wrapping_add(1);
            s.run.tick();
            s.rotate.tick();
            s.drill.tick();
            vec![]
        }
        Msg::Identity(checked, result) => {
            s.account.on_identity(ctx, checked, result);
            vec![]
        }
        Msg::Keys(listed_for, result) => {
            s.kms.on_keys(listed_for, result);
            vec![]
        }
        Msg::Plan(planned, result) => {
            s.review.on_plan(*planned, result);
            vec![]
        }
        Msg::BinaryProbed(named, found) => {
            let outcome = s.server.on_binary(ctx, named, found);
            app.apply(ScreenId::Server, outcome)
        }
        Msg::HostFound(report) => {
            let outcome = s.server.on_host(ctx, *report);
            app.apply(ScreenId::Server, outcome)
        }
        Msg::PathChecked(path, result) => {
            let outcome = s.files.on_path(ctx, path, result);
            app.apply(ScreenId::Files, outcome)
        }
        Msg::SealRead(address, result) => {
            s.unseal_keys.on_seal(ctx, &address, result);
            vec![]
        }
        Msg::PgpChecked(listed, result) => {
            let outcome = s.init.on_pgp(ctx, listed, result);
            app.apply(ScreenId::Init, outcome)
        }
        Msg::Findings(asked, result) => {
            s.doctor.on_findings(asked, result);
            vec![]
        }
        Msg::Status(asked, result) => {
            s.status.on_status(asked, result);
            vec![]
        }
        Msg::Engine(event) => {
            s.run.on_event(event);
            vec![]
        }
        Msg::RotatePlan(asked, result) => {
            s.rotate.on_plan(asked, result);
            vec![]
        }
        Msg::Rotation(asked, event) => {
            s.rotate.on_event(asked, event);
            vec![]
        }
        Msg::Rotated(asked, result) => {
            s.rotate.on_finished(asked, result);
            // A quit was confirmed while it ran: it has stopped (and rolled back).
            if ctx.stopping { vec![Command::Quit] } else { vec![] }
        }
        Msg::DrillRegions(asked, result) => {
            s.drill.on_regions(asked, result);
            vec![]
        }
        Msg::DrillProgress(asked, event) => {
            s.drill.on_event(asked, event);
            vec![]
        }
        Msg::Drilled(asked, result) => {
            s.drill.on_finished(asked, result);
            // A quit was confirmed while it ran: it has stopped and cleaned up.
            if ctx.stopping { vec![Command::Quit] } else { vec![] }
        }
        Msg::RunFinished(result) => {
            s.run.on_finished(ctx, result);
            // The keys init handed back are now held: the runtime saves them on quit.
            if ctx.stopping { vec![Command::Quit] } else { vec![] }
        }
        Msg::KeysHandedBack(secrets) => {
            ctx.secrets = Some(secrets);
            vec![]
        }
        // Already stopping: a hang-up's SIGHUP (or a second SIGTERM) must not cut short
        // the wait for keys a run is handing back; only a person's second Ctrl-C does.
        Msg::Terminate if ctx.stopping => vec![],
        Msg::Terminate | Msg::Crashed => vec![Command::Quit],
    }
}

/// Opens the quit question; a run in flight holds init while it is open.
pub fn ask_quit(app: &mut App) -> Vec<Command> {
    app.modal = Some(Modal::ConfirmQuit);
    if app.screens.run.running() {
        vec![Command::HoldInit]
    } else {
        vec![]
    }
}

/// The quit question's answer.
fn answer_quit(app: &mut App, quit: bool) -> Vec<Command> {
    app.modal = None;
    if quit {
        if app.engine_running() {
            // Shown while the runtime waits for the engine's step in flight (and a run's keys).
            app.ctx.stopping = true;
        }
        vec![Command::Quit]
    } else {
        // Always: the run may have ended (or failed) while the question was open.
        vec![Command::ReleaseInit]
    }
}

fn on_key(app: &mut App, key: crossterm::event::KeyEvent) -> Vec<Command> {
    let global = keys::global(&key);
    if app.ctx.stopping {
        // Only a second Ctrl-C leaves before the keys are back (and then they are lost).
        return if global == Some(Global::Quit) {
            vec![Command::Quit]
        } else {
            vec![]
        };
    }
    if global == Some(Global::Quit) {
        // A second Ctrl-C on the question means yes.
        if app.modal == Some(Modal::ConfirmQuit) {
            return answer_quit(app, true);
        }
        return ask_quit(app);
    }
    if let Some(modal) = &app.modal {
        let table = modal.keys();
        return match table.bindings.iter().find(|b| b.keys.iter().any(|k| k.matches(&key))) {
            Some(binding) => (binding.action)(app, key),
            None if table.others_close => {
                app.modal = None;
                vec![]
            }
            None => vec![],
        };
    }
    match global {
        Some(Global::Help) => app.modal = Some(Modal::Help),
        Some(Global::Commands) => app.modal = Some(Modal::Commands(0)),
        Some(Global::Quit) | None => {
            let from = app.screen;
            if let Some(outcome) = app.screens.on_key(from, &mut app.ctx, key) {
                return app.apply(from, outcome);
            }
        }
    }
    vec![]
}
