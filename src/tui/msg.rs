//! What flows into `app::update` (messages) and out of it (commands for the runtime).
//! Every background answer carries what it was asked for, so a late one is dropped.

use std::path::PathBuf;

use crossterm::event::KeyEvent;

use crate::answers::Answers;
use crate::aws::Identity;
use crate::doctor::Finding;
use crate::files::{FileError, PathCheck};
use crate::ops::check::NodeStatus;
use crate::rotate::RotateOutcome;
use crate::run::{Call, Event, RunError};
use crate::vault::VaultError;
use crate::vault::client::SealStatus;
use crate::vault::discover::Host;
use crate::vault::recovery::InitSecrets;
use crate::vault::server::ServerBinary;

/// The account and region a key list was asked for: an answer for any other is stale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyListFor {
    region: String,
    endpoint_url: Option<String>,
    profile: Option<String>,
}

impl KeyListFor {
    pub fn of(a: &Answers) -> KeyListFor {
        KeyListFor {
            region: a.region.clone(),
            endpoint_url: a.endpoint_url.clone(),
            profile: a.profile.clone(),
        }
    }
}

/// What the host has for the answers it was asked for, and the lines that say it
/// (see `Host::report`): typed, for what a later screen decides on it.
pub struct HostReport {
    pub asked: Answers,
    pub host: Host,
    pub lines: Vec<String>,
    /// `asked` with what the host has in place of what was left unset (see
    /// `Host::fill`): the unit, user, group, the package's config and env file paths, as
    /// the run will take them, so that Review shows the files the run writes.
    pub filled: Answers,
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
    /// How to ask the server its status (the binary as found).
    pub status_command: String,
    /// Shown once on the Recovery keys screen, then wiped.
    pub secrets: Option<InitSecrets>,
    /// What is left for the operator after this run (see `Ctx::left_open`).
    pub left_open: Vec<String>,
    /// A node of a cluster that moved its seal: the next node to migrate, or that all did.
    pub cluster_next: Option<String>,
}

/// A read of the setup the state folder records (doctor's checks, status), as the
/// operator: `asked` numbers the request, so a screen keeps only its latest answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupRead {
    pub asked: u64,
    pub profile: Option<String>,
    pub ca_cert: Option<PathBuf>,
}

impl SetupRead {
    /// The next request of a screen that made `asked` requests so far.
    pub fn next(asked: &mut u64, answers: &Answers) -> SetupRead {
        *asked += 1;
        SetupRead {
            asked: *asked,
            profile: answers.profile.clone(),
            ca_cert: answers.server.ca_cert.clone(),
        }
    }
}

/// How a rotation the wizard ran ended, and when the next one is due (for a rotated key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationEnd {
    pub outcome: RotateOutcome,
    /// The date, as `2027-03-06`, by which to rotate again.
    pub next_due: String,
    /// A cluster's nodes rotated before the last one, a line each.
    pub rotated_before: Vec<String>,
}

/// A drill the Drill screen asks for: the setup, the replica's region, the live server's
/// token (never shown: its `Debug` says so, and two asks are equal whatever their tokens,
/// which are not compared), and a path to read back.
#[derive(Clone)]
pub struct DrillAsk {
    pub setup: SetupRead,
    pub region: String,
    pub token: secrecy::SecretString,
    pub read: Option<String>,
}

impl std::fmt::Debug for DrillAsk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DrillAsk")
            .field("setup", &self.setup)
            .field("region", &self.region)
            .field("token", &"[hidden]")
            .field("read", &self.read)
            .finish()
    }
}

impl PartialEq for DrillAsk {
    fn eq(&self, other: &DrillAsk) -> bool {
        (&self.setup, &self.region, &self.read) == (&other.setup, &other.region, &other.read)
    }
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
    /// The seal status of the server at this address (how many unseal keys it needs).
    SealRead(String, Result<SealStatus, String>),
    /// Doctor's findings for the request so numbered, or why it could not check.
    Findings(u64, Result<Vec<Finding>, String>),
    /// The status for the request so numbered, or why it could not be read.
    Status(u64, Result<Vec<NodeStatus>, String>),
    Engine(Event),
    /// What rotating would do, for the request so numbered (or why it cannot be read).
    RotatePlan(u64, Result<Vec<String>, String>),
    /// Progress of the rotation so numbered.
    Rotation(u64, Event),
    /// The rotation so numbered ended: rotated, waiting for a restart, or why not.
    Rotated(u64, Result<RotationEnd, String>),
    /// The replicas' regions the recorded setup can recover in, for the request so numbered.
    DrillRegions(u64, Result<Vec<String>, String>),
    /// Progress of the drill so numbered.
    DrillProgress(u64, Event),
    /// The drill so numbered ended: what it proved, or why not.
    Drilled(u64, Result<crate::drill::DrillReport, String>),
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
    /// Ask the server at this address (with this CA bundle) its seal status.
    ReadSeal(String, Option<PathBuf>),
    /// Doctor's checks of the recorded setup (read-only).
    Doctor(SetupRead),
    /// The status of the recorded setup (read-only).
    Status(SetupRead),
    /// What rotating the recorded setup's access key would do (read-only).
    RotatePlan(SetupRead),
    /// Rotate the recorded setup's access key; a quit stops it after its step in flight.
    Rotate(SetupRead),
    /// The regions of the recorded setup's replicas (read-only).
    DrillRegions(SetupRead),
    /// A recovery drill; a quit stops it after its step in flight.
    Drill(DrillAsk),
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
