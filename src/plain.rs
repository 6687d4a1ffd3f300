//! The wizard as numbered line prompts: for terminals that cannot draw a screen, for
//! screen readers, and for `--plain`. Same questions, defaults and validators as the
//! screens; progress as plain lines. The recovery keys go to a file, never to the
//! terminal's scrollback.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::answers::{self, Answers, CredentialsStyle, Launch};
use crate::aws::{AwsContext, Connection};
use crate::headless::{Mode, with_printer};
use crate::run::ApplyOptions;
use crate::run::events::StopRequest;
use crate::vault::deploy::KeysDestination;

struct Prompter {
    number: usize,
    /// Where the answers given so far are kept, after each one: a Ctrl-C loses nothing.
    state_dir: PathBuf,
    /// Input from a pipe is not echoed: write each answer, so prompts do not run together.
    echo: bool,
    /// A Ctrl-C, SIGTERM or hang-up: a prompt waiting for its answer ends at once.
    stop: StopRequest,
}

impl Prompter {
    /// Asks until `check` accepts; an empty answer takes the default.
    fn ask(
        &mut self,
        question: &str,
        default: &str,
        check: impl Fn(&str) -> Result<(), String>,
    ) -> anyhow::Result<String> {
        self.number += 1;
        loop {
            let shown = if default.is_empty() {
                String::new()
            } else {
                format!(" [{default}]")
            };
            print!("{:>2}. {question}{shown}: ", self.number);
            std::io::stdout().flush()?;
            let Some(line) = read_line(&self.stop)? else {
                bail!("the input ended before every question was answered; nothing was changed");
            };
            if self.echo {
                println!("{}", line.trim_end());
            }
            let answer = match line.trim() {
                "" => default.to_string(),
                given => given.to_string(),
            };
            match check(&answer) {
                Ok(()) => return Ok(answer),
                Err(e) => println!("    error: {e}"),
            }
        }
    }

    /// Saves the answers given so far (no secret is among them).
    fn keep(&self, a: &Answers) {
        a.save_session(&self.state_dir);
    }

    /// One of `options`, by the name `name` gives it; the question lists the names.
    fn choose<T: Copy + PartialEq>(
        &mut self,
        question: &str,
        options: &[T],
        name: fn(T) -> &'static str,
        default: T,
    ) -> anyhow::Result<T> {
        let names: Vec<&str> = options.iter().map(|o| name(*o)).collect();
        let listed = names.join(", ");
        let answer = self.ask(&format!("{question} ({listed})"), name(default), |v| {
            names
                .contains(&v)
                .then_some(())
                .ok_or_else(|| format!("one of {listed}"))
        })?;
        Ok(*options.iter().find(|o| name(**o) == answer).expect("checked"))
    }

    fn yes(&mut self, question: &str, default: bool) -> anyhow::Result<bool> {
        let answer = self.ask(question, if default { "yes" } else { "no" }, |v| match v {
            "y" | "yes" | "n" | "no" => Ok(()),
            _ => Err("answer yes or no".into()),
        })?;
        Ok(answer.starts_with('y'))
    }
}

/// One line of standard input, or `None` at its end. It waits in short polls, so that
/// a stop request ends a prompt at once (a blocked read would wait for Enter), and
/// reads a byte at a time, so that nothing past the line is taken from later reads.
fn read_line(stop: &StopRequest) -> anyhow::Result<Option<String>> {
    use nix::errno::Errno;
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    use std::os::fd::AsFd;
    let stdin = std::io::stdin();
    let mut bytes = Vec::new();
    loop {
        if let Some(signal) = stop.requested() {
            bail!("{signal} at a prompt: stopped, nothing was changed");
        }
        let mut fds = [PollFd::new(stdin.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(100u16)) {
            Ok(0) | Err(Errno::EINTR) => continue,
            Ok(_) => {}
            Err(e) => bail!("cannot read standard input: {e}"),
        }
        let mut byte = [0u8; 1];
        match nix::unistd::read(stdin.as_fd(), &mut byte) {
            // The end of the input (a closed pipe, a terminal that hung up).
            Ok(0) => return Ok((!bytes.is_empty()).then(|| String::from_utf8_lossy(&bytes).into_owned())),
            Ok(_) if byte[0] == b'\n' => return Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
            Ok(_) => bytes.push(byte[0]),
            Err(Errno::EINTR | Errno::EAGAIN) => continue,
            Err(e) => bail!("cannot read standard input: {e}"),
        }
    }
}

/// The first SIGINT, SIGTERM or SIGHUP: a prompt ends at once, a run stops after the
/// step in flight (and the demo is torn down); a second signal stops at once.
fn stop_on_signals() -> anyhow::Result<StopRequest> {
    use tokio::signal::unix::{SignalKind, signal};
    let stop = StopRequest::default();
    let mut signals = [
        (signal(SignalKind::interrupt())?, "SIGINT"),
        (signal(SignalKind::terminate())?, "SIGTERM"),
        (signal(SignalKind::hangup())?, "SIGHUP"),
    ];
    let request = stop.clone();
    tokio::spawn(async move {
        loop {
            let [(int, _), (term, _), (hup, _)] = &mut signals;
            let name = tokio::select! {
                _ = int.recv() => "SIGINT",
                _ = term.recv() => "SIGTERM",
                _ = hup.recv() => "SIGHUP",
            };
            if !request.request(name) {
                crate::say!("\n{name} again: stopping now.");
                std::process::exit(130);
            }
            crate::child::stop_probes(name);
        }
    });
    Ok(stop)
}

fn optional(v: &str) -> Option<String> {
    Some(v.trim().to_string()).filter(|v| !v.is_empty() && v != "-")
}

fn text_of(p: &Option<PathBuf>) -> String {
    p.as_deref()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Every question, in the wizard's order, into `a`.
fn ask_all(p: &mut Prompter, a: &mut Answers, state_dir: &Path) -> anyhow::Result<()> {
    println!("Answer each question; Enter keeps the value in brackets, \"-\" leaves an optional one empty.\n");
    a.profile = optional(&p.ask(
        "AWS profile (empty: the default credential chain)",
        a.profile.as_deref().unwrap_or(""),
        |_| Ok(()),
    )?);
    p.keep(a);
    a.endpoint_url = optional(&p.ask(
        "AWS endpoint URL (empty: AWS itself)",
        a.endpoint_url.as_deref().unwrap_or(""),
        |v| optional(v).map_or(Ok(()), |v| answers::validate_endpoint_url(&v)),
    )?);
    p.keep(a);
    let default_region = if a.region.is_empty() {
        "us-east-1".to_string()
    } else {
        a.region.clone()
    };
    a.region = p.ask(
        "AWS region (autounseal regions lists them)",
        &default_region,
        answers::validate_region,
    )?;
    p.keep(a);
    a.kms.create = p.yes("Create a new KMS key (no: reuse one)", a.kms.create)?;
    p.keep(a);
    if a.kms.create {
        a.kms.alias = p.ask("Alias of the new key", &a.kms.alias.clone(), answers::validate_alias)?;
        p.keep(a);
        a.kms.rotation = p.yes("Turn on yearly key rotation", a.kms.rotation)?;
        p.keep(a);
    } else {
        let region = a.region.clone();
        a.kms.key_id = Some(p.ask(
            "Key to reuse (id, ARN or alias)",
            a.kms.key_id.as_deref().unwrap_or(""),
            move |v| answers::validate_key_reference(v, &region),
        )?);
        p.keep(a);
    }
    a.iam.user_name = p.ask(
        "IAM user name",
        &a.iam.user_name.clone(),
        answers::validate_iam_user_name,
    )?;
    p.keep(a);
    a.iam.policy_name = p.ask(
        "IAM policy name",
        &a.iam.policy_name.clone(),
        answers::validate_iam_policy_name,
    )?;
    p.keep(a);
    a.output.vault_config = p
        .ask("Vault config file", &a.output.vault_config.to_string_lossy(), |v| {
            answers::validate_file_path(v.as_ref())
        })?
        .into();
    a.output.env_file = p
        .ask(
            "Env file for the access key",
            &a.output.env_file.to_string_lossy(),
            |v| answers::validate_file_path(v.as_ref()),
        )?
        .into();
    a.output.credentials = p.choose(
        "Key in the env file, or in a shared credentials file the seal stanza names, out of the \
         environment Vault's AWS secrets engine and auth method read",
        &CredentialsStyle::ALL,
        CredentialsStyle::as_str,
        a.output.credentials,
    )?;
    if a.output.credentials == CredentialsStyle::SharedFile {
        a.output.shared_credentials_file = Some(
            p.ask(
                "Shared credentials file",
                &a.output.shared_credentials_path().to_string_lossy(),
                |v| answers::validate_file_path(v.as_ref()),
            )?
            .into(),
        );
    }
    a.output.credentials_csv = optional(&p.ask(
        "Also a credentials CSV (empty: no)",
        &text_of(&a.output.credentials_csv),
        |_| Ok(()),
    )?)
    .map(Into::into);
    p.keep(a);
    a.server.binary = p.ask("Server binary (vault, bao or a path)", &a.server.binary.clone(), |v| {
        answers::validate_not_blank(v, "the binary")
    })?;
    p.keep(a);
    a.server.launch = p.choose("Start it with", &Launch::ALL, Launch::as_str, a.server.launch)?;
    p.keep(a);
    a.server.listen = p.ask("Listen address", &a.server.listen.clone(), answers::validate_listen)?;
    p.keep(a);
    a.server.storage_path = p
        .ask("Storage folder (raft)", &a.server.storage_path.to_string_lossy(), |v| {
            answers::validate_file_path(v.as_ref())
        })?
        .into();
    a.server.tls_disable = p.yes(
        "Plain HTTP, no TLS (only for 127.0.0.1 or a test)",
        a.server.tls_disable,
    )?;
    p.keep(a);
    if !a.server.tls_disable {
        a.server.tls_cert_file = Some(
            p.ask("TLS certificate file", &text_of(&a.server.tls_cert_file), |v| {
                answers::validate_not_blank(v, "the certificate")
            })?
            .into(),
        );
        p.keep(a);
        a.server.tls_key_file = Some(
            p.ask("TLS key file", &text_of(&a.server.tls_key_file), |v| {
                answers::validate_not_blank(v, "the key")
            })?
            .into(),
        );
        p.keep(a);
    }
    a.init.enabled = a.server.launch != Launch::None;
    p.keep(a);
    if a.init.enabled {
        let shares = p.ask("Recovery shares", &a.init.recovery_shares.to_string(), |v| {
            let n: u16 = v.parse().map_err(|_| "a number".to_string())?;
            // The shares alone: checked with the smallest threshold the rules allow.
            answers::validate_recovery(n, if n == 1 { 1 } else { 2 })
        })?;
        a.init.recovery_shares = shares.parse()?;
        p.keep(a);
        let shares = a.init.recovery_shares;
        let threshold = p.ask(
            "Recovery threshold",
            &a.init.recovery_threshold.min(shares).to_string(),
            move |v| answers::validate_recovery(shares, v.parse().map_err(|_| "a number".to_string())?),
        )?;
        a.init.recovery_threshold = threshold.parse()?;
        p.keep(a);
        ask_pgp_keys(p, a)?;
        let default_file = a
            .init
            .recovery_keys_file
            .clone()
            .unwrap_or_else(|| state_dir.join("recovery-keys.txt"));
        let file = p.ask(
            "Save the recovery keys and root token to (a new file, mode 0600)",
            &default_file.to_string_lossy(),
            |v| {
                if Path::new(v).exists() {
                    Err(format!("{v} exists; recovery keys are never written over"))
                } else {
                    answers::validate_file_path(v.as_ref())
                }
            },
        )?;
        a.init.recovery_keys_file = Some(file.into());
        p.keep(a);
    }
    Ok(())
}

/// Optional PGP keys: the server then hands back the keys encrypted to them.
fn ask_pgp_keys(p: &mut Prompter, a: &mut Answers) -> anyhow::Result<()> {
    let shares = a.init.recovery_shares;
    let given: Vec<String> = a
        .init
        .recovery_pgp_keys
        .iter()
        .map(|k| k.to_string_lossy().into_owned())
        .collect();
    let keys = p.ask(
        &format!("PGP public key files to encrypt the recovery keys to, {shares}, comma-separated (empty: none)"),
        &given.join(","),
        move |v| {
            let files = pgp_list(v);
            if files.is_empty() {
                return Ok(());
            }
            answers::validate_pgp_key_count(&files, shares)?;
            files
                .iter()
                .try_for_each(|f| crate::vault::checks::pgp_public_key(f).map_err(|e| e.to_string()))
        },
    )?;
    a.init.recovery_pgp_keys = pgp_list(&keys);
    p.keep(a);
    if a.init.recovery_pgp_keys.is_empty() {
        a.init.root_token_pgp_key = None;
        return Ok(());
    }
    let token = p.ask(
        "PGP public key file to encrypt the root token to (empty: none)",
        &text_of(&a.init.root_token_pgp_key),
        |v| match optional(v) {
            Some(f) => crate::vault::checks::pgp_public_key(f.as_ref()).map_err(|e| e.to_string()),
            None => Ok(()),
        },
    )?;
    a.init.root_token_pgp_key = optional(&token).map(Into::into);
    p.keep(a);
    Ok(())
}

fn pgp_list(v: &str) -> Vec<PathBuf> {
    v.split(',').filter_map(optional).map(PathBuf::from).collect()
}

/// The line prompts, then the plan, then (on yes) the run. `demo`: everything goes to the
/// demo's emulator and folder, said so, and the last question defaults to yes.
pub async fn run(mut a: Answers, state_dir: &Path, demo: bool) -> anyhow::Result<()> {
    if demo {
        println!(
            "DEMO: an AWS emulator on this machine, a throwaway server and folder; nothing real is touched, and \
             everything is torn down at the end."
        );
    }
    println!("autounseal: set up a Vault server that unseals itself with AWS KMS.");
    let stop = stop_on_signals()?;
    let mut p = Prompter {
        number: 0,
        state_dir: state_dir.to_path_buf(),
        echo: !std::io::stdin().is_terminal(),
        stop: stop.clone(),
    };
    ask_all(&mut p, &mut a, state_dir)?;
    a.save_session(state_dir);
    a.check()?;
    let identity = AwsContext::connect(Connection::from_answers(&a))
        .await
        .identity()
        .await?;
    println!("\nAWS account {} as {}", identity.account, identity.arn);
    // What will happen, exactly, before the question: the plan and the policy.
    let plan_opts = ApplyOptions {
        overwrite_files: true,
        dry_run: true,
    };
    let plan = with_printer(Mode::Plan, async |rep| {
        crate::cluster::run_any(
            &a,
            state_dir,
            plan_opts,
            KeysDestination::HandBack,
            &rep,
            Default::default(),
            None,
        )
        .await
    })
    .await?;
    crate::headless::print_plan(&a, &plan);
    // In the demo, Enter all the way through runs the story.
    if !p.yes("Create and start everything now (autounseal plan shows each call)", demo)? {
        println!(
            "Nothing was changed. Your answers are in {}.",
            state_dir.join(crate::answers::SESSION_FILE).display()
        );
        return Ok(());
    }
    let keys = KeysDestination::headless(&a)?;
    let opts = ApplyOptions {
        overwrite_files: true,
        dry_run: false,
    };
    let result = with_printer(Mode::Run, async |rep| {
        let rep = rep.with_stop(stop);
        crate::cluster::run_any(&a, state_dir, opts, keys, &rep, Default::default(), None).await
    })
    .await;
    let outcome =
        result.context("the run stopped; what was made is in the manifest, and running again goes on from there")?;
    println!("\nDone: {} (key {}).", outcome.vault.address, outcome.aws.key.arn);
    if let Some(file) = &a.init.recovery_keys_file {
        println!(
            "Recovery keys and root token: {} (0600). Store them offline, then delete the file.",
            file.display()
        );
    }
    println!("Undo everything: {}", crate::cli::command_hint("destroy", state_dir));
    Ok(())
}
