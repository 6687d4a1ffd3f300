//! The command line. Every question of the wizard has a key in the answers file, so
//! everything the wizard does can also be scripted.

use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};

/// `-V`: the version and the commit it was built from.
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("AUTOUNSEAL_COMMIT"), ")");

/// `--version`: also the servers it is tested with, and how far.
const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("AUTOUNSEAL_COMMIT"),
    ")\n",
    "Tested with OpenBao 2.6.2 and its built-in awskms seal, end to end (apply, join, rotate, migration, \
     doctor, destroy).\n",
    "OpenBao 2.7 and later: awskms is an external KMS plugin there, which autounseal checks, installs and \
     declares (server.kms_plugin); tested with the real 2.7.2 up to the server's own plugin check, not with the \
     plugin's release itself.\n",
    "HashiCorp Vault: the same built-in awskms seal and config; not run in autounseal's tests."
);

#[derive(Debug, Parser)]
#[command(
    name = "autounseal",
    version = VERSION,
    long_version = LONG_VERSION,
    about = "Set up a Vault or OpenBao server that unseals itself with AWS KMS",
    long_about = "Set up a Vault or OpenBao server that unseals itself with AWS KMS.\n\n\
        With no command, autounseal opens a step-by-step wizard. The same flow runs headless \
        from an answers file with `apply`, and `plan` shows what it would do.\n\n\
        Order of work: KMS key -> IAM policy (least privilege) -> IAM user -> access key -> \
        Vault's env file and config -> server start -> init."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    /// Start the wizard from these answers (TOML) instead of the last session's
    #[arg(long, value_name = "FILE")]
    pub answers: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Where autounseal keeps its manifest and logs [default: the user's data folder]
    #[arg(long, global = true, value_name = "DIR", env = "AUTOUNSEAL_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// Ask questions and show progress as plain lines (no full-screen interface)
    #[arg(long, global = true)]
    pub plain: bool,
    /// The AWS profile to use; it wins over credentials in the environment and over
    /// `profile` in the answers, as `aws --profile` does
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the whole flow from an answers file
    Apply(ApplyArgs),
    /// Show every call `apply` would make and the exact policy, changing nothing
    Plan(PlanArgs),
    /// Remove what autounseal created (never what it only reused)
    Destroy(DestroyArgs),
    /// The whole story on this machine, no AWS account needed: a local AWS emulator and
    /// OpenBao, torn down at the end
    Demo(DemoArgs),
    /// List the AWS regions that offer KMS
    Regions,
    /// Print the completion script of SHELL (bash, zsh, fish, elvish, powershell); the
    /// packages install bash's, zsh's and fish's where those shells find them
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff): `autounseal man | man -l -`
    Man,
    /// Check every link of the setup (env file, config, credentials, policy, key, a KMS
    /// round trip, unit, server); exit 0 all ok, 1 some warning, 2 some failure
    Doctor(DoctorArgs),
    /// What exists, the server's seal status, and the next thing to do
    Status(StatusArgs),
    /// Make this host one more node of a cluster: its own IAM user and access key under
    /// the cluster's policy, its files with retry_join, its server joined and unsealed
    Join(JoinArgs),
    /// Replace the server's access key with a new one, with no downtime: saved, proven,
    /// the server restarted onto it, the old key deactivated, then deleted; rolled back
    /// on any failure before the deletion
    Rotate(RotateArgs),
    /// Rehearse a recovery in a replica's region: the live server's raft snapshot restored
    /// into a throwaway server on loopback whose seal uses the key's replica there; it must
    /// unseal itself and read the data back. Nothing of it is left, and the live server is
    /// only read
    Drill(DrillArgs),
    /// Doctor on a systemd timer, daily and at boot, writing its findings as metrics for
    /// node_exporter (run as root): `monitor install`, `monitor remove`
    Monitor {
        #[command(subcommand)]
        action: MonitorAction,
    },
}

/// node_exporter's textfile folder as Debian's package and most guides set it.
pub const DEFAULT_MONITOR_TEXTFILE: &str = "/var/lib/node_exporter/textfile_collector/autounseal.prom";

#[derive(Debug, Subcommand)]
pub enum MonitorAction {
    /// Install and start the timer (and run doctor once now); replaces this state folder's
    Install {
        /// Where the metrics go: node_exporter's textfile folder
        #[arg(long, value_name = "FILE", default_value = DEFAULT_MONITOR_TEXTFILE)]
        textfile: PathBuf,
    },
    /// Stop and remove the timer and its service (destroy does too)
    Remove,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("token").required(true).args(["token_file", "token_stdin"]))]
pub struct DrillArgs {
    /// The replica's region to recover in (one of `kms.replica_regions`)
    #[arg(long, value_name = "REGION")]
    pub region: String,
    /// A token of the live server allowed to read sys/storage/raft/snapshot (and the path
    /// of --read), alone on the first line of a file only its owner can read; never stored
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Read that token from standard input instead (hidden when typed)
    #[arg(long)]
    pub token_stdin: bool,
    /// A path of yours to read back from the recovered data, as `GET /v1/PATH`
    /// (`secret/data/app`): only the names of what it holds are shown
    #[arg(long, value_name = "PATH")]
    pub read: Option<String>,
    /// The CA bundle that verifies the live server's HTTPS certificate (default: the
    /// setup's `server.ca_cert`)
    #[arg(long, value_name = "FILE", env = "VAULT_CACERT")]
    pub ca_cert: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct JoinArgs {
    /// The cluster file the first node's `apply` wrote (no secret in it)
    #[arg(long, value_name = "FILE")]
    pub cluster: PathBuf,
    /// This host's answers (TOML): server, files, node id; the cluster's key, region and
    /// policy come from the cluster file
    #[arg(long, value_name = "FILE")]
    pub answers: Option<PathBuf>,
    /// Do not ask: go ahead, and replace existing files (a backup is kept)
    #[arg(long, short)]
    pub yes: bool,
    /// A token (in a file only its owner can read) to see this node in the raft peer
    /// set as the leader has it, once joined
    #[arg(long, value_name = "FILE")]
    pub raft_token_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Go through with the defaults and print the steps as lines (scripted walkthroughs);
    /// also agrees to install the demo's tools if they are missing
    #[arg(long, short)]
    pub yes: bool,
    /// Leave the demo running at the end instead of tearing it down
    #[arg(long)]
    pub keep: bool,
    /// Tear down a demo that was kept, then exit
    #[arg(long, conflicts_with_all = ["yes", "keep"])]
    pub teardown: bool,
    /// A raft cluster of N nodes on loopback instead of one server (3 or 5 recommended)
    /// (with --yes; the wizard sets up one server)
    #[arg(long, value_name = "N", requires = "yes", value_parser = clap::value_parser!(u16).range(1..=9))]
    pub cluster: Option<u16>,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The answers file (TOML); see docs/answers.md
    #[arg(long, value_name = "FILE")]
    pub answers: PathBuf,
    /// Do not ask: go ahead, and replace existing files (a backup is kept)
    #[arg(long, short)]
    pub yes: bool,
    /// For a seal migration (server.existing = "migrate"): the server's unseal keys, one
    /// a line, in a file only its owner can read (mode 0600)
    #[arg(long, value_name = "FILE", conflicts_with = "unseal_keys_stdin")]
    pub unseal_keys_file: Option<PathBuf>,
    /// For a seal migration: read the unseal keys from standard input, one a line
    #[arg(long)]
    pub unseal_keys_stdin: bool,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The answers file (TOML); see docs/answers.md
    #[arg(long, value_name = "FILE")]
    pub answers: PathBuf,
}

#[derive(Debug, Args)]
pub struct DestroyArgs {
    /// Do not ask for the typed confirmation
    #[arg(long, short)]
    pub yes: bool,
    /// Days KMS waits before deleting the key (7 to 30)
    #[arg(long, value_name = "N", default_value_t = 30, value_parser = clap::value_parser!(i32).range(7..=30))]
    pub deletion_window_days: i32,
    /// First move the server the KMS key seals back to Shamir (its recovery keys become
    /// its unseal keys), so that deleting the key strands no data
    #[arg(long, conflicts_with = "force")]
    pub migrate_back: bool,
    /// With --migrate-back: the recovery keys, one a line, in a file only its owner can
    /// read (mode 0600)
    #[arg(
        long,
        value_name = "FILE",
        requires = "migrate_back",
        conflicts_with = "recovery_keys_stdin"
    )]
    pub recovery_keys_file: Option<PathBuf>,
    /// With --migrate-back: read the recovery keys from standard input, one a line
    #[arg(long, requires = "migrate_back")]
    pub recovery_keys_stdin: bool,
    /// Schedule the key's deletion even though a server's data is still sealed by it:
    /// that data is then lost for good
    #[arg(long)]
    pub force: bool,
    /// For a node that joined a cluster: a token (in a file only its owner can read; the
    /// token alone, or a recovery keys file's root token line) to take the node out of
    /// the raft peer set first
    #[arg(long, value_name = "FILE")]
    pub raft_token_file: Option<PathBuf>,
    /// With --raft-token-file: the CA bundle that verifies the cluster's HTTPS certificate
    /// (default: the setup's `server.ca_cert`)
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Print the findings as a JSON array (for monitoring)
    #[arg(long)]
    pub json: bool,
    /// Also write the findings as Prometheus metrics to FILE, for node_exporter's
    /// textfile collector (for example
    /// /var/lib/node_exporter/textfile_collector/autounseal.prom); replaced whole, 0644
    #[arg(long, value_name = "FILE")]
    pub textfile: Option<PathBuf>,
    /// The CA bundle that verifies the server's HTTPS certificate (default: the setup's
    /// `server.ca_cert`)
    #[arg(long, value_name = "FILE", env = "VAULT_CACERT")]
    pub ca_cert: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print the status as a JSON object
    #[arg(long)]
    pub json: bool,
    /// The CA bundle that verifies the server's HTTPS certificate (default: the setup's
    /// `server.ca_cert`)
    #[arg(long, value_name = "FILE", env = "VAULT_CACERT")]
    pub ca_cert: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RotateArgs {
    /// Do not ask: go ahead (scripts, cron, CI)
    #[arg(long, short)]
    pub yes: bool,
    /// In a cluster's state folder: rotate this node only (its node id); without it,
    /// every node in turn, one at a time
    #[arg(long, value_name = "ID")]
    pub node: Option<String>,
    /// The CA bundle that verifies the server's HTTPS certificate (default: the setup's
    /// `server.ca_cert`)
    #[arg(long, value_name = "FILE", env = "VAULT_CACERT")]
    pub ca_cert: Option<PathBuf>,
    /// Launch `none`, after a first run saved the new key: you restarted the server since,
    /// so that it reads the new key (the old key is deleted next)
    #[arg(long)]
    pub restarted: bool,
}

/// The state folder when none is given: the user's data folder.
pub fn default_state_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "autounseal").map(|d| d.data_dir().to_path_buf())
}

/// `autounseal WORDS` as the operator must type it to act on `state_dir`: with
/// `--state-dir` whenever that is not the default, or the hint would act elsewhere.
pub fn command_hint(words: &str, state_dir: &Path) -> String {
    if default_state_dir().as_deref() == Some(state_dir) {
        format!("autounseal {words}")
    } else {
        let dir = state_dir.to_string_lossy();
        let quoted = shlex::try_quote(&dir).map_or_else(|_| dir.to_string(), |q| q.into_owned());
        format!("autounseal {words} --state-dir {quoted}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_carry_the_state_dir_when_it_is_not_the_default() {
        let other = Path::new("/tmp/my state");
        assert_eq!(
            command_hint("destroy", other),
            "autounseal destroy --state-dir '/tmp/my state'"
        );
        if let Some(default) = default_state_dir() {
            assert_eq!(command_hint("destroy", &default), "autounseal destroy");
        }
    }
}
