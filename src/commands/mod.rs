//! The headless commands, one file each: `apply`, `plan`, `join`, `destroy`, `rotate`,
//! `doctor`, `status`, `drill`, `monitor`, `demo` (and `regions` here). Each asks what the command line
//! leaves open (through `crate::prompt`), calls its operation in `crate::ops` and
//! prints the outcome; none loops over nodes or runs a flow itself.

mod apply;
mod demo;
mod destroy;
mod doctor;
mod drill;
mod join;
mod monitor;
mod plan;
mod rotate;
mod status;

pub use apply::apply;
pub use demo::demo;
pub use destroy::destroy;
pub use doctor::doctor;
pub use drill::drill;
pub use join::join;
pub use monitor::monitor;
pub use plan::plan;
pub use rotate::rotate;
pub use status::status;

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::answers::Answers;
use crate::headless::kms_endpoint_line;
use crate::ops::run::FlowOutcome;
use crate::regions;
use crate::vault::migrate::KeysSource;

/// The state folder: `--state-dir`, or the user's data folder.
pub fn state_dir(flag: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    flag.or_else(crate::cli::default_state_dir)
        .context("cannot find a home folder to keep autounseal's state in; pass --state-dir DIR")
}

/// The answers file, with `--profile` (when given) in place of its `profile`.
pub(super) fn load_answers(path: &Path, profile: Option<&str>) -> anyhow::Result<Answers> {
    let mut answers = Answers::load(path)?;
    if let Some(profile) = profile {
        answers.profile = Some(profile.to_string());
        answers.check()?;
    }
    Ok(answers)
}

/// Where the command line says the keys of a migration come from, if anywhere: never
/// the command line itself, where every user of the machine could read them.
pub(super) fn keys_source(file: Option<&Path>, stdin: bool) -> Option<KeysSource> {
    match (file, stdin) {
        (Some(path), _) => Some(KeysSource::File(path.to_path_buf())),
        (None, true) => Some(KeysSource::Stdin),
        (None, false) => None,
    }
}

/// The question before a run changes anything; no is an error that says how to skip it.
pub(super) fn go_ahead(question: &str) -> anyhow::Result<()> {
    if crate::prompt::confirm(question, None)? {
        Ok(())
    } else {
        bail!("nothing was changed. To run without a question (scripts, CI), pass --yes")
    }
}

/// The completion script of `shell`, from the command line's own definitions.
pub fn completions(shell: clap_complete::Shell) {
    use clap::CommandFactory;
    clap_complete::generate(
        shell,
        &mut crate::cli::Cli::command(),
        "autounseal",
        &mut std::io::stdout(),
    );
}

/// The manual page (roff), from the command line's own definitions.
pub fn man() -> anyhow::Result<()> {
    use clap::CommandFactory;
    clap_mangen::Man::new(crate::cli::Cli::command()).render(&mut std::io::stdout())?;
    Ok(())
}

pub fn list_regions() {
    for (code, name) in regions::KMS_REGIONS {
        println!("{code:<16} {name}");
    }
}

pub(super) fn print_summary(answers: &Answers, state_dir: &Path, outcome: &FlowOutcome) {
    // The paths the run used: the host filled what the answers left unset.
    let (answers, _) = outcome.host.fill(answers);
    let answers = &answers;
    let aws = &outcome.aws;
    let vault = &outcome.vault;
    println!();
    println!("Done. Vault's seal uses {} as {}.", aws.key.arn, aws.user.arn);
    println!("  {}", kms_endpoint_line(outcome));
    println!("  credentials:  {} (mode 0600)", answers.output.env_file.display());
    println!("  vault config: {}", answers.output.vault_config.display());
    match &vault.status {
        Some(status) => println!(
            "  server:       {} (seal {}, initialised, {})",
            vault.address,
            status.seal_type,
            if status.sealed { "sealed" } else { "unsealed" }
        ),
        None => println!("  start it:     {}", vault.server_command),
    }
    if let (Some(path), Some(_)) = (&answers.init.recovery_keys_file, &vault.status) {
        println!(
            "  recovery keys and root token: {} (mode 0600): store them offline, then delete the file",
            path.display()
        );
    }
    if let Some(secrets) = vault.secrets.as_ref().filter(|s| s.pgp_encrypted) {
        // Encrypted to the operator's PGP keys: safe to show, useless without the private keys.
        println!("\nRecovery keys and root token, encrypted to the PGP keys given (base64):");
        print!(
            "{}",
            secrets.render(answers.init.recovery_threshold, &vault.address).as_str()
        );
    }
    println!(
        "  manifest:     {}",
        state_dir.join(crate::run::manifest::MANIFEST_FILE).display()
    );
    println!("  undo:         {}", crate::cli::command_hint("destroy", state_dir));
    println!("Rotate the access key every 30 to 90 days.");
    if let Some(next) = &vault.cluster_next {
        println!("Cluster seal migration: {next}.");
    }
}
