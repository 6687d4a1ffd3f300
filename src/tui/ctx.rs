//! What the wizard's screens share, below them and the key tables: the context a
//! screen sees ([`Ctx`]), what a key or an answer did ([`Outcome`], [`Nav`]), and the
//! one list of screens (`screen_list!`) that makes [`ScreenId`] here and the screens'
//! registry in `screens`.

use std::path::PathBuf;

use crate::answers::Answers;
use crate::aws::Identity;
use crate::tui::msg::{Command, RunReport};
use crate::tui::theme::Theme;
use crate::vault::recovery::InitSecrets;

/// What every screen may see and change besides its own state: the answers, facts
/// found on the way that later screens show, and how to draw.
pub struct Ctx {
    pub answers: Answers,
    pub theme: Theme,
    pub state_dir: PathBuf,
    pub demo: bool,
    /// Advances while something is in flight; drives the spinners.
    pub frame: usize,
    /// Found on the Account screen; IAM shows the key's ARN with it, Review where KMS is.
    pub identity: Option<Identity>,
    /// Keys init handed back, held until the operator stores them (or saved on quit).
    pub secrets: Option<InitSecrets>,
    /// What the finished run made, for Done and the farewell.
    pub report: Option<RunReport>,
    /// Demo only: leave it running at the end instead of tearing it down.
    pub keep_demo: bool,
    /// Quit was confirmed while the server was being initialised: waiting for its keys.
    pub stopping: bool,
    /// The unseal keys of a seal migration, typed on their screen, until the run takes them.
    pub unseal_keys: Option<crate::vault::migrate::UnsealKeys>,
    /// The state folder's manifest recorded a setup when the wizard opened: it opened on
    /// the start menu, and Welcome's Esc leads back there.
    pub setup_recorded: bool,
    /// What the last run left for the operator (a saved keys file still there, a proof
    /// step that never ran; see `doctor::status::LeftOpen`), read when the wizard opens
    /// and after each run: the start menu and Done say it.
    pub left_open: Vec<String>,
    /// The recorded setup's key has replicas: the start menu offers a drill.
    pub can_drill: bool,
    /// A run of this session finished, well or not: it may have made something.
    pub ran: bool,
}

/// Where the wizard goes after a key or an answer: the app owns the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Nav {
    #[default]
    Stay,
    /// The screen before, answers kept.
    Back,
    /// The screen after; a question screen's answers are saved first.
    Forward,
    Go(ScreenId),
    /// The quit question.
    AskQuit,
}

/// What a key or a background answer did: where to go, and what to run.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Outcome {
    pub nav: Nav,
    pub commands: Vec<Command>,
}

impl Outcome {
    /// Handled, with nothing more to do than the state change.
    pub fn stay() -> Outcome {
        Outcome::default()
    }

    pub fn go(nav: Nav) -> Outcome {
        Outcome { nav, commands: vec![] }
    }

    pub fn run(commands: Vec<Command>) -> Outcome {
        Outcome {
            nav: Nav::Stay,
            commands,
        }
    }
}

/// Where a screen stands in the wizard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// A step of the walk that asks a question Review can go back to.
    Question,
    /// A step of the walk that asks nothing.
    Step,
    /// Beside the walk, reached from the start menu: not numbered, never in its order.
    Aside,
}

/// The screens, the walk's in the order the wizard walks them: each one's id, the field
/// and type of its state (a path in `screens`), its title and its place. Listed once:
/// `screen_list!(then)` hands the list to the macro `then`.
macro_rules! screen_list {
    ($then:ident) => {
        $then! {
        Welcome => welcome: welcome::Welcome, "Welcome", Step;
        Account => account: account::Account, "AWS account", Question;
        Region => region: region::Region, "Region", Question;
        Kms => kms: kms::Kms, "KMS key", Question;
        Iam => iam: iam::Iam, "IAM user and policy", Question;
        Files => files: files::Files, "Files", Question;
        Server => server: server::Server, "Server", Question;
        Init => init: init::Init, "Init", Question;
        Review => review: review::Review, "Review", Step;
        UnsealKeys => unseal_keys: unseal_keys::UnsealKeys, "Unseal keys", Step;
        Run => run: run::Run, "Run", Step;
        Recovery => recovery: recovery::Recovery, "Recovery keys", Step;
        Done => done: done::Done, "Done", Step;
        Start => start: start::Start, "Start", Aside;
        Doctor => doctor: doctor::Doctor, "Doctor: every link checked", Aside;
        Status => status: status::Status, "Status", Aside;
        Rotate => rotate: rotate::Rotate, "Rotate the access key", Aside;
        Drill => drill: drill::Drill, "Rehearse a recovery", Aside;
            }
    };
}
pub(crate) use screen_list;

/// The screens' ids, titles and places, from the list.
macro_rules! screen_ids {
    ($($id:ident => $field:ident: $ty:ty, $title:literal, $place:ident;)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
        pub enum ScreenId {
            $($id),*
        }

        impl ScreenId {
            pub const ALL: &'static [ScreenId] = &[$(ScreenId::$id),*];

            pub fn title(self) -> &'static str {
                match self {
                    $(ScreenId::$id => $title),*
                }
            }

            pub fn place(self) -> Place {
                match self {
                    $(ScreenId::$id => Place::$place),*
                }
            }
        }
    };
}

screen_list!(screen_ids);

impl ScreenId {
    /// The screens of the walk, in its order.
    pub fn walk() -> Vec<ScreenId> {
        ScreenId::ALL
            .iter()
            .copied()
            .filter(|s| s.place() != Place::Aside)
            .collect()
    }

    /// Its number in the walk; `None` beside it.
    pub fn number(self) -> Option<usize> {
        ScreenId::walk().iter().position(|s| *s == self).map(|i| i + 1)
    }

    /// The walk's next screen; a screen beside the walk stays.
    pub fn next(self) -> ScreenId {
        match self.number() {
            Some(n) => ScreenId::walk().get(n).copied().unwrap_or(self),
            None => self,
        }
    }

    /// The walk's screen before; a screen beside the walk came from the start menu.
    pub fn previous(self) -> ScreenId {
        match self.number() {
            Some(n) => ScreenId::walk()[n.saturating_sub(2)],
            None => ScreenId::Start,
        }
    }

    pub fn is_question(self) -> bool {
        self.place() == Place::Question
    }

    /// The screens of questions, which Review can go back to.
    pub fn questions() -> Vec<ScreenId> {
        ScreenId::ALL.iter().copied().filter(|s| s.is_question()).collect()
    }
}
