//! What flows into `app::update` (messages) and out of it (commands for the runtime).
//! Every background answer carries what it was asked for, so a late one is dropped.

use std::path::PathBuf;

use crossterm::event::KeyEvent;

use crate::answers::Answers;
use crate::aws::Identity;
use crate::files::{FileError, PathCheck};
use crate::run::{Call, Event, RunError};
use crate::tui::screens::kms::KeyListFor;
use crate::tui::screens::server::HostReport;
use crate::vault::VaultError;
use crate::vault::client::SealStatus;
use crate::vault::recovery::InitSecrets;
use crate::vault::server::ServerBinary;

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
    Identity((String, String), Result<Identity, RunError>),
    /// The keys of the account and region they were listed for.
    Keys(KeyListFor, Result<Vec<KeyChoice>, RunError>),
    /// The plan of exactly these answers.
    Plan(Box<Answers>, Result<Vec<Call>, RunError>),
    /// The server binary named so, looked for and its version read.
    BinaryProbed(String, Result<ServerBinary, VaultError>),
    /// What the host has (binaries, units, a server answering) for the answers asked.
    HostFound(Box<HostReport>),
    /// What writing this path would do.
    PathChecked(PathBuf, Result<PathCheck, FileError>),
    /// Whether every PGP key file in this list (as typed, comma-separated) reads.
    PgpChecked(String, Result<(), String>),
    Engine(Event),
    RunFinished(Result<RunReport, RunError>),
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
    /// Find the server binary so named and read its version (it may hang: never in `update`).
    ProbeBinary(String),
    /// Look at the host for these answers: binaries, systemd units, the server's seal.
    DiscoverHost(Box<Answers>),
    CheckPath(PathBuf),
    CheckPgpKeys(String),
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
