//! The headless commands: `apply`, `plan`, `destroy`, `rotate`, `regions`, `doctor`, `status`.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::answers::Answers;
use crate::answers::ExistingServer;
use crate::aws::destroy::{DestroyOptions, KEY_DELETION_WARNING};
use crate::cli::{ApplyArgs, DemoArgs, DestroyArgs, DoctorArgs, JoinArgs, PlanArgs, RotateArgs, StatusArgs};
use crate::demo::{self, Demo};
use crate::frontend::{FrontEnd, choose};
use crate::headless::{Mode, with_printer};
use crate::headless::{kms_endpoint_line, print_findings, print_plan, print_status};
use crate::ops::destroy::{self, Destroying, WayBack};
use crate::ops::join::Joining;
use crate::ops::run::{APPLY, ClusterOutcome, FlowOutcome, Ran};
use crate::ops::setup::Setup;
use crate::ops::{self, OpsError};
use crate::run::events::StopRequest;
use crate::vault::deploy::{InitGate, KeysDestination};
use crate::vault::migrate::{self, KeysSource, UnsealKeys};
use crate::{regions, rotate};

/// The state folder: `--state-dir`, or the user's data folder.
pub fn state_dir(flag: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    flag.or_else(crate::cli::default_state_dir)
        .context("cannot find a home folder to keep autounseal's state in; pass --state-dir DIR")
}

/// Asks a yes/no question on the terminal; without one, the answer is no.
fn confirm(question: &str, typed_word: Option<&str>) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        return Ok(false);
    }
    let mut out = std::io::stdout().lock();
    match typed_word {
        Some(word) => write!(out, "{question}\nType \"{word}\" to go on: ")?,
        None => write!(out, "{question} [y/N] ")?,
    }
    out.flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    let answer = answer.trim();
    Ok(match typed_word {
        Some(word) => answer == word,
        None => matches!(answer, "y" | "Y" | "yes"),
    })
}

/// One line typed on the terminal, trimmed.
fn ask(question: &str) -> anyhow::Result<String> {
    let mut out = std::io::stdout().lock();
    write!(out, "{question}")?;
    out.flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(answer.trim().to_string())
}

/// Keys typed on the terminal with echo off, one a line, an empty line to end: read
/// from the descriptor a byte at a time into zeroizing memory (std's stdin buffer would
/// keep a copy), echo restored whatever happens.
fn read_hidden_keys(what: &str) -> anyhow::Result<UnsealKeys> {
    use nix::sys::termios::{LocalFlags, SetArg, tcgetattr, tcsetattr};
    use std::io::Read;
    use std::os::fd::AsFd;
    let stdin = std::io::stdin();
    let saved = tcgetattr(stdin.as_fd()).context("cannot read the terminal's settings")?;
    let mut hidden = saved.clone();
    hidden.local_flags.remove(LocalFlags::ECHO);
    tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &hidden).context("cannot turn echo off")?;
    struct Restore<'a>(std::io::Stdin, &'a nix::sys::termios::Termios);
    impl Drop for Restore<'_> {
        fn drop(&mut self) {
            let _ = tcsetattr(self.0.as_fd(), SetArg::TCSANOW, self.1);
        }
    }
    let restore = Restore(stdin, &saved);
    let mut tty = std::fs::File::from(restore.0.as_fd().try_clone_to_owned()?);
    let mut typed = zeroize::Zeroizing::new(Vec::with_capacity(64 * 1024));
    let mut line_start = 0;
    for n in 1.. {
        print!("{what} {n} (hidden; an empty line ends): ");
        std::io::stdout().flush()?;
        let mut byte = [0u8; 1];
        while tty.read(&mut byte)? == 1 && byte[0] != b'\n' && typed.len() < typed.capacity() {
            typed.push(byte[0]);
        }
        zeroize::Zeroize::zeroize(&mut byte);
        println!();
        if typed.len() == line_start {
            break;
        }
        typed.push(b'\n');
        line_start = typed.len();
    }
    drop(restore);
    Ok(UnsealKeys::from_reader(&typed[..], "the terminal")?)
}

/// The answers file, with `--profile` (when given) in place of its `profile`.
fn load_answers(path: &Path, profile: Option<&str>) -> anyhow::Result<Answers> {
    let mut answers = Answers::load(path)?;
    if let Some(profile) = profile {
        answers.profile = Some(profile.to_string());
        answers.check()?;
    }
    Ok(answers)
}

/// As Terraform does: the first SIGINT or SIGTERM lets the step in flight finish and be
/// recorded, then the run stops with what exists; a second one stops at once.
fn stop_on_signals() -> anyhow::Result<StopRequest> {
    use tokio::signal::unix::{SignalKind, signal};
    let stop = StopRequest::default();
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    let request = stop.clone();
    tokio::spawn(async move {
        loop {
            let name = tokio::select! {
                _ = interrupt.recv() => "SIGINT",
                _ = terminate.recv() => "SIGTERM",
            };
            if request.request(name) {
                // A probe (a binary's `version`, `systemctl show`) changes nothing: it ends now.
                crate::child::stop_probes(name);
                eprintln!(
                    "\n{name}: stopping after the current step, so that what it makes is recorded. \
                     Interrupt again to stop at once."
                );
            } else {
                eprintln!(
                    "\n{name} again: stopping now. A call in flight may have made something the manifest lacks: \
                     the next `apply`, `rotate` or `destroy` looks for it."
                );
                std::process::exit(130);
            }
        }
    });
    Ok(stop)
}

/// Where the command line says the keys of a migration come from, if anywhere: never
/// the command line itself, where every user of the machine could read them.
fn keys_source(file: Option<&Path>, stdin: bool) -> Option<KeysSource> {
    match (file, stdin) {
        (Some(path), _) => Some(KeysSource::File(path.to_path_buf())),
        (None, true) => Some(KeysSource::Stdin),
        (None, false) => None,
    }
}

/// The question before a run changes anything; no is an error that says how to skip it.
fn go_ahead(question: &str) -> anyhow::Result<()> {
    if confirm(question, None)? {
        Ok(())
    } else {
        bail!("nothing was changed. To run without a question (scripts, CI), pass --yes")
    }
}

pub async fn apply(args: ApplyArgs, state_dir: &Path, profile: Option<&str>) -> anyhow::Result<()> {
    let answers = load_answers(&args.answers, profile)?;
    // `[cluster] join`: this host joins the cluster that file describes, as `join` does.
    if let Some(cluster) = answers.cluster.join.clone() {
        if args.unseal_keys_file.is_some() || args.unseal_keys_stdin {
            bail!("unseal keys were given, but cluster.join sets up a new node that unseals through the cluster's key");
        }
        let join_args = JoinArgs {
            cluster,
            answers: Some(args.answers),
            yes: args.yes,
            raft_token_file: None,
        };
        return join(join_args, state_dir, profile).await;
    }
    // Checked before the question: where the recovery keys will go.
    let keys = KeysDestination::headless(&answers)?;
    let source = keys_source(args.unseal_keys_file.as_deref(), args.unseal_keys_stdin);
    if source.is_some() && answers.server.existing != ExistingServer::Migrate {
        bail!("unseal keys were given, but server.existing is not \"migrate\": nothing would use them");
    }
    // Read at once, before anything changes: a wrong file fails here.
    let unseal_keys: Option<UnsealKeys> = source.map(|s| s.read()).transpose()?;
    if answers.server.existing == ExistingServer::Migrate {
        println!();
        for line in migrate::explanation(&answers) {
            println!("{line}");
        }
    }
    if !args.yes {
        let question = format!(
            "This creates a KMS key, an IAM user, a policy and an access key in {}, writes {} and {}, \
             and starts the server as \"{}\" (run `autounseal plan` to see every call). Go ahead?",
            answers.region,
            answers.output.env_file.display(),
            answers.output.vault_config.display(),
            answers.server.launch.as_str()
        );
        go_ahead(&question)?;
    }
    println!(
        "autounseal apply: {} (state in {})",
        args.answers.display(),
        state_dir.display()
    );
    let stop = stop_on_signals()?;
    let ran = keeping_handed_back_keys(&answers, state_dir, async |gate| {
        with_printer(Mode::Run, async |rep| {
            let rep = rep.with_stop(stop);
            ops::run::apply(&answers, state_dir, APPLY, keys, &rep, gate, unseal_keys).await
        })
        .await
    })
    .await?;
    match &ran {
        Ran::Cluster(outcome) => {
            print_summary(&outcome.first_answers, state_dir, &outcome.first);
            print_cluster(outcome, state_dir);
        }
        _ => print_summary(&answers, state_dir, ran.first()),
    }
    drop(ran);
    crate::pause::point("finished");
    Ok(())
}

/// Runs `work` with an init gate of its own. Keys init handed back (encrypted to the
/// operator's PGP keys) to a run that then failed exist nowhere else: they go to a new
/// 0600 file in the state folder, named here.
async fn keeping_handed_back_keys<T>(
    answers: &Answers,
    state_dir: &Path,
    work: impl AsyncFnOnce(InitGate) -> crate::run::Result<T>,
) -> anyhow::Result<T> {
    let gate = InitGate::default();
    let result = work(gate.clone()).await;
    if result.is_err() {
        keep_handed_back_keys(&gate, answers, state_dir).await;
    }
    Ok(result?)
}

async fn keep_handed_back_keys(gate: &InitGate, answers: &Answers, state_dir: &Path) {
    let Some(secrets) = gate.take_keys() else { return };
    let address = crate::vault::config::api_addr(answers);
    let threshold = answers.init.recovery_threshold;
    match crate::vault::deploy::keep_unconfirmed_keys(&secrets, state_dir, threshold, &address).await {
        Ok(path) => eprintln!(
            "\nThe run failed after init. The recovery keys and root token it handed back are saved in {} \
             (mode 0600), the only copy: store them offline, then delete the file.",
            path.display()
        ),
        Err(e) => eprintln!("\nThe run failed after init, and the keys it handed back could not be saved: {e}"),
    }
}

fn print_summary(answers: &Answers, state_dir: &Path, outcome: &FlowOutcome) {
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
}

/// Every node of a cluster, its role, and how the other hosts join.
fn print_cluster(outcome: &ClusterOutcome, state_dir: &Path) {
    println!("\nThe cluster's nodes, each with its own IAM user, access key and env file:");
    for node in &outcome.nodes {
        println!(
            "  {:<16} {} {}",
            node.id,
            node.address,
            node.role.map(|r| format!("({r})")).unwrap_or_default()
        );
        println!("  {:<16} user {}", "", node.user_arn);
        println!(
            "  {:<16} {} and {}; state in {}",
            "",
            node.env_file.display(),
            node.vault_config.display(),
            node.state_dir.display()
        );
    }
    if let Some(file) = &outcome.cluster_file {
        println!(
            "  cluster file: {} (no secret): on another host, `autounseal join --cluster FILE --answers HOST.toml`",
            file.display()
        );
    }
    println!(
        "  undo all nodes, then the shared key and policy: {}",
        crate::cli::command_hint("destroy", state_dir)
    );
}

/// `join`: this host becomes one more node of the cluster the file describes.
pub async fn join(args: JoinArgs, state_dir: &Path, profile: Option<&str>) -> anyhow::Result<()> {
    // This host's answers: its server and files; the cluster's key, region and policy win.
    let mut own = match &args.answers {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the answers file {}", path.display()))?;
            Answers::parse(&text)
                .map_err(|e| anyhow::anyhow!("the answers file {} is not valid: {e}", path.display()))?
        }
        None => Answers::default(),
    };
    if let Some(profile) = profile {
        own.profile = Some(profile.to_string());
    }
    let joining = Joining::of(&own, &args.cluster, state_dir)?;
    let token = args
        .raft_token_file
        .as_deref()
        .map(ops::join::read_token)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let (member, nodes) = (joining.member.clone(), joining.file.nodes.len());
    if !args.yes {
        let question = format!(
            "This joins {} to the cluster of {nodes} node(s): it creates the IAM user {} with the cluster's policy \
             and an access key, writes {} and {}, and starts the server as \"{}\" to join and unseal through KMS. \
             Go ahead?",
            member.server.node_id,
            member.iam.user_name,
            member.output.env_file.display(),
            member.output.vault_config.display(),
            member.server.launch.as_str()
        );
        go_ahead(&question)?;
    }
    println!(
        "autounseal join: node {} into the cluster of {} (state in {})",
        member.server.node_id,
        args.cluster.display(),
        state_dir.display()
    );
    let stop = stop_on_signals()?;
    let joined = with_printer(Mode::Run, async |rep| {
        let rep = rep.with_stop(stop);
        joining.run(state_dir, APPLY, &rep, token.as_ref()).await
    })
    .await?;
    if let Some(peer) = &joined.peer {
        println!(
            "In the raft peer set as the leader has it: {} at {}, {}",
            peer.node_id,
            peer.address,
            if peer.voter {
                "a voter"
            } else {
                "a non-voter until autopilot promotes it (once stable, 10 s)"
            }
        );
    }
    print_summary(&member, state_dir, &joined.outcome);
    if let Some(leader) = &joined.leader {
        println!(
            "  raft:         joined; {} ({})",
            if leader.is_self { "active" } else { "standby" },
            leader.leader_address
        );
    }
    println!(
        "  leaving the cluster: `{}` takes this node out of the raft peer set, then removes its user, key and \
         files (or, without a token, `{} operator raft remove-peer {}` on the active node)",
        crate::cli::command_hint("destroy --raft-token-file FILE", state_dir),
        joined.flavour,
        joined.node_id
    );
    Ok(())
}

pub async fn plan(args: PlanArgs, state_dir: &Path, profile: Option<&str>) -> anyhow::Result<()> {
    let answers = load_answers(&args.answers, profile)?;
    println!(
        "autounseal plan: {} (read-only: nothing is changed)",
        args.answers.display()
    );
    // Where apply would put the keys: a plan checks that file as apply does.
    let keys = if answers.cluster.join.is_some() || answers.cluster.is_cluster() {
        KeysDestination::HandBack
    } else {
        KeysDestination::headless(&answers)?
    };
    let ran = with_printer(Mode::Plan, async |rep| {
        ops::run::plan(&answers, state_dir, keys, &rep).await
    })
    .await?;
    match &ran {
        // The first node in full; the others follow the same steps as a node that joins.
        Ran::Cluster(outcome) => print_plan(&outcome.first_answers, &outcome.first),
        Ran::Joined(joined) => print_plan(&joined.member, &joined.outcome),
        Ran::Single(outcome) => {
            print_plan(&answers, outcome);
            if answers.server.existing == ExistingServer::Migrate {
                println!();
                for line in migrate::explanation(&answers) {
                    println!("{line}");
                }
            }
        }
    }
    Ok(())
}

pub async fn destroy(args: DestroyArgs, state_dir: &Path, profile: Option<&str>) -> anyhow::Result<()> {
    let Some(destroying) = Destroying::open(state_dir, args.raft_token_file.is_some()).await? else {
        println!("Nothing to destroy: {} records nothing.", state_dir.display());
        return Ok(());
    };
    let raft_token = match &args.raft_token_file {
        Some(path) => Some(ops::join::read_token(path).map_err(anyhow::Error::msg)?),
        None => None,
    };
    let can_ask = !args.yes && std::io::stdin().is_terminal();
    let recovery_keys = match destroy::decide(destroying.sealed.clone(), args.migrate_back, args.force, can_ask) {
        WayBack::NotNeeded => None,
        WayBack::MigrateBack => Some(
            keys_source(args.recovery_keys_file.as_deref(), args.recovery_keys_stdin)
                .context(
                    "--migrate-back needs the recovery keys: --recovery-keys-file FILE (mode 0600) or \
                     --recovery-keys-stdin",
                )?
                .read()?,
        ),
        WayBack::Forced { data } => {
            println!("\nFORCED: {data} will be lost for good once the key is deleted.");
            if !args.yes && !confirm("", Some("lose the data"))? {
                bail!("nothing was removed");
            }
            None
        }
        WayBack::Ask { data } => {
            println!(
                "\nThe KMS key still seals {data}: deleting it loses that data for good. The way back to Shamir \
                 first: disabled = \"true\" in the seal stanza, a restart, the recovery keys submitted with migrate \
                 (they then become the server's unseal keys), the stanza removed, a restart, and a check that the \
                 same keys unseal it."
            );
            match ask(
                "Type \"migrate back\" to do that first, \"lose the data\" to destroy anyway, anything else to stop: ",
            )?
            .as_str()
            {
                "migrate back" => Some(read_hidden_keys("recovery key")?),
                "lose the data" => None,
                _ => bail!("nothing was removed"),
            }
        }
        WayBack::Refuse { data } => bail!(
            "destroy refuses to schedule the deletion of the KMS key: it still seals {data}, which would be lost \
             for good. Move the server back to Shamir first: `{}` (the recovery keys then become its unseal keys), \
             or, if that data is not needed, pass --force",
            crate::cli::command_hint("destroy --migrate-back --recovery-keys-file FILE", state_dir)
        ),
    };
    // The plan once the way back is decided: it keeps the config rather than removing it.
    println!("\nautounseal destroy will:");
    for line in destroying.plan(recovery_keys.is_some(), raft_token.is_some())? {
        println!("  {line}");
    }
    if destroying.deletes_key && recovery_keys.is_some() {
        // The way back comes first: by the time the key goes, no data is sealed by it.
        println!(
            "\nThe KMS key is scheduled for deletion only once the server is back on Shamir; KMS then waits {} \
             days before it is really gone.",
            args.deletion_window_days
        );
    } else if destroying.deletes_key {
        println!("\nWARNING: {KEY_DELETION_WARNING}");
        println!(
            "KMS waits {} days before the key is really gone.",
            args.deletion_window_days
        );
    }
    if !args.yes && !confirm("", Some("destroy"))? {
        bail!("nothing was removed. To destroy without the typed confirmation, pass --yes");
    }
    let opts = DestroyOptions {
        deletion_window_days: args.deletion_window_days,
    };
    let stop = stop_on_signals()?;
    with_printer(Mode::Run, async |rep| {
        let rep = rep.with_stop(stop);
        let (keys, token, ca) = (recovery_keys.as_ref(), raft_token.as_ref(), args.ca_cert.as_deref());
        destroying.run(profile, opts, keys, token, ca, &rep).await
    })
    .await?;
    println!(
        "\nDestroyed. Nothing autounseal created is left but the key awaiting deletion (and, in {}, its own log \
         and the answers a wizard session kept).",
        state_dir.display()
    );
    Ok(())
}

pub fn list_regions() {
    for (code, name) in regions::KMS_REGIONS {
        println!("{code:<16} {name}");
    }
}

pub async fn demo(args: DemoArgs, state_dir: &Path, plain: bool) -> anyhow::Result<()> {
    if args.teardown {
        let folder = state_dir.join(demo::DEMO_FOLDER);
        if with_printer(Mode::Run, async |rep| demo::teardown_kept(state_dir, &rep).await).await? {
            println!("Done: the demo in {} is torn down.", folder.display());
        } else {
            println!("No demo was kept in {}.", folder.display());
        }
        for other in demo::running_demos(&folder) {
            let parent = other.parent().unwrap_or(&other);
            println!(
                "A demo still runs from {}: tear it down with `{}`.",
                other.display(),
                crate::cli::command_hint("demo --teardown", parent)
            );
        }
        return Ok(());
    }
    let tools = demo::ensure_tools(args.yes)?;
    let running = Demo::start(state_dir, tools)?;
    let mut answers = running.answers()?;
    answers.cluster.nodes = args.cluster.unwrap_or(1);
    let demo_state = running.state_dir();
    let folder = running.folder.clone();
    let result: anyhow::Result<bool> = match choose(plain, args.yes) {
        FrontEnd::Screen => crate::tui::run(answers, demo_state, true).await.map(|exit| {
            exit.print_farewell();
            exit.keep_demo
        }),
        FrontEnd::Plain => crate::plain::run(answers, &demo_state, true).await.map(|_| false),
        FrontEnd::Headless => {
            println!(
                "autounseal demo: AWS emulator at {}, everything in {}",
                running.moto_url,
                folder.display()
            );
            let keys = KeysDestination::File(
                answers
                    .init
                    .recovery_keys_file
                    .clone()
                    .expect("the demo sets a keys file"),
            );
            let ran = with_printer(Mode::Run, async |rep| {
                ops::run::apply(&answers, &demo_state, APPLY, keys, &rep, Default::default(), None).await
            })
            .await;
            ran.map(|ran| {
                match &ran {
                    Ran::Cluster(o) => {
                        println!("\nThe demo cluster: every node unsealed by KMS, no key typed:");
                        for node in &o.nodes {
                            println!("  {} at {}: {}", node.id, node.address, node.role.unwrap_or("?"));
                        }
                    }
                    _ => {
                        let o = ran.first();
                        let sealed = o.vault.status.as_ref().is_some_and(|s| s.sealed);
                        println!(
                            "\nThe demo server at {} is initialised and {}.",
                            o.vault.address,
                            if sealed { "sealed" } else { "unsealed by KMS" }
                        );
                    }
                }
                false
            })
            .map_err(Into::into)
        }
    };
    // After a hangup the terminal is gone: these lines may go nowhere, the teardown
    // must happen all the same.
    if args.keep || matches!(result, Ok(true)) {
        crate::say!("{}", running.keep());
    } else {
        crate::say!("\nTearing the demo down:");
        with_printer(Mode::Run, async |rep| running.teardown(&rep).await).await?;
        crate::say!(
            "The server and the AWS emulator are stopped and {} is gone.",
            folder.display()
        );
    }
    result.map(|_| ())
}

/// `doctor`: prints the findings (or their JSON) and returns the exit code they make:
/// a single server's, or every node's of a local cluster, each under its name.
pub async fn doctor(args: DoctorArgs, state_dir: &Path, profile: Option<&str>) -> anyhow::Result<u8> {
    let setup = Setup::open(state_dir, profile).await?;
    let nodes = match ops::check::doctor(&setup, args.ca_cert.as_deref()).await {
        Err(OpsError::NothingRecorded { state_dir }) => bail!(
            "{} records no setup to check: run `autounseal` or `autounseal apply` first, or pass --state-dir",
            state_dir.display()
        ),
        other => other?,
    };
    match (setup.is_cluster(), args.json) {
        (false, true) => println!("{}", serde_json::to_string_pretty(&nodes[0].findings)?),
        (false, false) => print_findings(&nodes[0].findings),
        (true, true) => println!("{}", serde_json::to_string_pretty(&nodes)?),
        (true, false) => {
            for node in &nodes {
                crate::say!("\nNode {} (state in {}):", node.node, node.state_dir.display());
                print_findings(&node.findings);
            }
        }
    }
    Ok(ops::check::exit_code(&nodes))
}

/// `status`: a few lines (or JSON): what exists, the server, the next thing to do; a
/// local cluster's, node by node with what each is in the cluster.
pub async fn status(args: StatusArgs, state_dir: &Path, profile: Option<&str>) -> anyhow::Result<()> {
    let setup = Setup::open(state_dir, profile).await?;
    let nodes = ops::check::status(&setup, args.ca_cert.as_deref()).await;
    match (setup.is_cluster(), args.json) {
        (false, true) => println!("{}", serde_json::to_string_pretty(&nodes[0].status)?),
        (false, false) => print_status(&nodes[0].status),
        (true, true) => println!("{}", serde_json::to_string_pretty(&nodes)?),
        (true, false) => {
            for node in &nodes {
                let role = node.role.map(|r| format!(", {r}")).unwrap_or_default();
                crate::say!("\nNode {}{role} (state in {}):", node.node, node.state_dir.display());
                print_status(&node.status);
            }
        }
    }
    Ok(())
}

/// `rotate`: shows what it will do, asks unless `--yes`, rotates, says when the next is due:
/// the access key of the setup the state folder records. In a cluster's, of
/// every node in turn (a rolling rotation: each node is back, unsealed on its new key,
/// before the next restarts, so a majority always serves), or of `--node ID` alone.
pub async fn rotate(args: RotateArgs, state_dir: &Path, profile: Option<&str>) -> anyhow::Result<()> {
    let opened = Setup::open_recorded(state_dir, profile).await;
    let setup = nothing_to(opened, "rotate")?;
    let cluster = setup.is_cluster();
    let setup = setup.only(args.node.as_deref())?;
    let plan = nothing_to(ops::rotate::plan(&setup), "rotate")?;
    if cluster && args.node.is_none() {
        println!(
            "A cluster of {} nodes: each is rotated in turn, the next only once the one before is unsealed on its new \
             key (--node ID rotates one).",
            plan.len()
        );
    }
    println!("autounseal rotate will:");
    for node in &plan {
        if cluster {
            println!("  Node {}:", node.node);
        }
        for line in &node.lines {
            println!("  - {line}");
        }
    }
    if !args.yes && !confirm("Go ahead?", None)? {
        bail!("nothing was changed. To rotate without a question (scripts, cron), pass --yes");
    }
    // The first Ctrl-C (or SIGTERM) stops after the step in flight and rolls back.
    let stop = stop_on_signals()?;
    println!("autounseal rotate (state in {})", state_dir.display());
    let opts = rotate::RotateOptions {
        ca_cert: args.ca_cert.clone(),
        restarted: args.restarted,
    };
    let rotation = with_printer(Mode::Run, async |rep| {
        ops::rotate::rotate(&setup, opts, &rep.with_stop(stop.clone())).await
    })
    .await?;
    for node in &rotation.nodes {
        if cluster {
            println!("\nNode {}:", node.node);
        }
        rotated(&node.outcome, state_dir);
    }
    if !rotation.not_reached.is_empty() {
        println!(
            "\nNot rotated yet: {}. They follow once the node above is restarted: run rotate again then.",
            rotation.not_reached.join(", ")
        );
    }
    crate::pause::point("finished");
    Ok(())
}

/// A folder that records nothing, said as the CLI says it.
fn nothing_to<T>(result: Result<T, OpsError>, what: &str) -> anyhow::Result<T> {
    match result {
        Err(OpsError::NothingRecorded { state_dir }) => bail!(
            "{} records no setup: nothing to {what}. Run `autounseal` or `autounseal apply` first, or pass --state-dir",
            state_dir.display()
        ),
        other => Ok(other?),
    }
}

/// Says how a node's rotation ended.
fn rotated(outcome: &rotate::RotateOutcome, state_dir: &Path) {
    match outcome {
        rotate::RotateOutcome::Rotated {
            old_key_id, new_key_id, ..
        } => {
            println!("\nRotated: the server uses access key {new_key_id}; {old_key_id} is deleted.");
            println!(
                "Rotate again within 30 to {} days: by {} at the latest ({}).",
                rotate::ROTATE_EVERY_DAYS,
                rotate::next_due(),
                crate::cli::command_hint("rotate", state_dir)
            );
        }
        rotate::RotateOutcome::WaitingForRestart { new_key_id, restart } => {
            println!("\nThe new access key {new_key_id} is saved and works; the old one is still active.");
            println!("Now {restart}.");
            println!(
                "Then run `{}`: it checks that the server unsealed and retires the old key.",
                crate::cli::command_hint("rotate --restarted", state_dir)
            );
        }
    }
}
