//! The wizard as numbered line prompts: for terminals that cannot draw a screen, for
//! screen readers, and for `--plain`. Same questions, defaults and validators as the
//! screens; progress as plain lines. The recovery keys go to a file, never to the
//! terminal's scrollback.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::answers::{self, Answers, ClusterFile, CredentialsStyle, ExistingServer, Launch};
use crate::aws::{AwsContext, Connection};
use crate::headless::{Mode, with_printer};
use crate::questions::{LAYOUTS, Q, launch_index, style_index};
use crate::run::events::StopRequest;
use crate::vault::deploy::KeysDestination;
use crate::vault::discover::Host;
use crate::{ops, prompt};

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
    /// Asks question `q` until its own check and `also` accept; an empty answer takes
    /// the default, "-" empties an optional one. Its help is said first.
    fn ask_with(&mut self, q: Q, default: &str, also: impl Fn(&str) -> Result<(), String>) -> anyhow::Result<String> {
        self.number += 1;
        let question = q.question();
        println!("    {}", question.help);
        loop {
            let shown = if default.is_empty() {
                String::new()
            } else {
                format!(" [{default}]")
            };
            let options = match q.options() {
                [] => String::new(),
                options => format!(
                    " ({})",
                    options
                        .iter()
                        .enumerate()
                        .map(|(i, o)| format!("{} {o}", i + 1))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            print!("{:>2}. {}{options}{shown}: ", self.number, question.label);
            std::io::stdout().flush()?;
            let Some(line) = prompt::read_line(&self.stop)? else {
                bail!("the input ended before every question was answered; nothing was changed");
            };
            if self.echo {
                println!("{}", line.trim_end());
            }
            let answer = match line.trim() {
                "" => default.to_string(),
                "-" => String::new(),
                given => given.to_string(),
            };
            match q.check(&answer).and_then(|()| also(&answer)) {
                Ok(()) => return Ok(answer),
                Err(e) => println!("    error: {e}"),
            }
        }
    }

    /// Question `q`, checked by its own check alone.
    fn ask(&mut self, q: Q, default: &str) -> anyhow::Result<String> {
        self.ask_with(q, default, |_| Ok(()))
    }

    /// Saves the answers given so far (no secret is among them).
    fn keep(&self, a: &Answers) {
        a.save_session(&self.state_dir);
    }

    /// One of question `q`'s options, by its name or its number; returns its index.
    fn choose(&mut self, q: Q, default: usize) -> anyhow::Result<usize> {
        let options = q.options();
        let pick = |v: &str| {
            v.parse::<usize>()
                .ok()
                .filter(|n| (1..=options.len()).contains(n))
                .map(|n| n - 1)
                .or_else(|| options.iter().position(|o| o.eq_ignore_ascii_case(v)))
        };
        let answer = self.ask_with(q, options[default.min(options.len() - 1)], |v| {
            pick(v)
                .map(drop)
                .ok_or_else(|| format!("one of {}, or its number", options.join(", ")))
        })?;
        Ok(pick(&answer).expect("checked"))
    }

    fn yes(&mut self, q: Q, default: bool) -> anyhow::Result<bool> {
        let answer = self.ask_with(q, if default { "yes" } else { "no" }, |v| match v {
            "y" | "yes" | "n" | "no" => Ok(()),
            _ => Err("answer yes or no".into()),
        })?;
        Ok(answer.starts_with('y'))
    }

    /// The last question, before anything is changed (no question of the table: it
    /// asks to go ahead with the plan just shown).
    fn go_ahead(&mut self, default: bool) -> anyhow::Result<bool> {
        let question = "Create and start everything now (autounseal plan shows each call)?";
        prompt::yes_or_no(question, default, self.echo, &self.stop)?
            .context("the input ended before every question was answered; nothing was changed")
    }
}

fn optional(v: &str) -> Option<String> {
    Some(v.trim().to_string()).filter(|v| !v.is_empty() && v != "-")
}

fn text_of(p: &Option<PathBuf>) -> String {
    p.as_deref()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Every question, in the wizard's order, into `a`; each from the question table.
async fn ask_all(p: &mut Prompter, a: &mut Answers, state_dir: &Path) -> anyhow::Result<()> {
    println!("Answer each question; Enter keeps the value in brackets, \"-\" leaves an optional one empty.\n");
    ask_aws(p, a)?;
    ask_files(p, a)?;
    if let Some(cluster_file) = ask_server(p, a)? {
        return join(p, a, cluster_file);
    }
    ask_existing(p, a).await?;
    ask_init(p, a, state_dir)
}

/// The account, the region, the key, the IAM user and policy.
fn ask_aws(p: &mut Prompter, a: &mut Answers) -> anyhow::Result<()> {
    a.profile = optional(&p.ask(Q::Profile, a.profile.as_deref().unwrap_or(""))?);
    p.keep(a);
    a.endpoint_url = optional(&p.ask(Q::Endpoint, a.endpoint_url.as_deref().unwrap_or(""))?);
    p.keep(a);
    let default_region = if a.region.is_empty() { "us-east-1" } else { &a.region };
    a.region = p.ask(Q::Region, default_region)?;
    p.keep(a);
    a.kms.create = p.choose(Q::KeyMode, usize::from(!a.kms.create))? == 0;
    p.keep(a);
    if a.kms.create {
        a.kms.alias = p.ask(Q::Alias, &a.kms.alias.clone())?;
        a.kms.description = p.ask(Q::Description, &a.kms.description.clone())?;
        a.kms.rotation = p.yes(Q::Rotation, a.kms.rotation)?;
        let region = a.region.clone();
        let replicas = p.ask_with(Q::Replicas, &a.kms.replica_regions.join(", "), move |v| {
            answers::validate_replica_regions(&answers::parse_replica_regions(v), &region)
        })?;
        a.kms.replica_regions = answers::parse_replica_regions(&replicas);
    } else {
        let region = a.region.clone();
        a.kms.key_id = Some(p.ask_with(Q::KeyId, a.kms.key_id.as_deref().unwrap_or(""), move |v| {
            answers::validate_key_reference(v, &region)
        })?);
    }
    a.kms.alarm_email = optional(&p.ask(Q::AlarmEmail, a.kms.alarm_email.as_deref().unwrap_or(""))?);
    p.keep(a);
    a.iam.user_name = p.ask(Q::User, &a.iam.user_name.clone())?;
    a.iam.policy_name = p.ask(Q::Policy, &a.iam.policy_name.clone())?;
    p.keep(a);
    Ok(())
}

/// The files written, and the style the key is kept in.
fn ask_files(p: &mut Prompter, a: &mut Answers) -> anyhow::Result<()> {
    a.output.vault_config = p.ask(Q::Config, &a.output.vault_config.to_string_lossy())?.into();
    a.output.env_file = p.ask(Q::Env, &a.output.env_file.to_string_lossy())?.into();
    a.output.credentials = CredentialsStyle::ALL[p.choose(Q::Credentials, style_index(a.output.credentials))?];
    if a.output.credentials == CredentialsStyle::SharedFile {
        a.output.shared_credentials_file = Some(
            p.ask(Q::SharedFile, &a.output.shared_credentials_path().to_string_lossy())?
                .into(),
        );
    }
    a.output.credentials_csv = optional(&p.ask(Q::Csv, &text_of(&a.output.credentials_csv))?).map(Into::into);
    p.keep(a);
    Ok(())
}

/// The server: binary, launch, layout, listener, storage, TLS. `Some(cluster file)`
/// when the layout is a join (asked on its own, see [`join`]).
fn ask_server(p: &mut Prompter, a: &mut Answers) -> anyhow::Result<Option<PathBuf>> {
    a.server.binary = p.ask(Q::Binary, &a.server.binary.clone())?;
    ask_kms_plugin(p, a)?;
    a.server.launch = Launch::ALL[p.choose(Q::Launch, launch_index(a.server.launch))?];
    p.keep(a);
    let layout = match &a.cluster.join {
        Some(_) => LAYOUTS.len(),
        None => LAYOUTS.iter().position(|(_, n)| *n == a.cluster.nodes).unwrap_or(0),
    };
    let layout = p.choose(Q::Layout, layout)?;
    a.cluster.nodes = LAYOUTS.get(layout).map_or(1, |l| l.1);
    a.cluster.join = None;
    if layout == LAYOUTS.len() {
        let file = p.ask_with(Q::ClusterFile, "", |v| ClusterFile::load(v.trim().as_ref()).map(drop))?;
        return Ok(Some(file.trim().into()));
    }
    p.keep(a);
    a.server.listen = p.ask(Q::Listen, &a.server.listen.clone())?;
    a.server.storage_path = p.ask(Q::Storage, &a.server.storage_path.to_string_lossy())?.into();
    a.server.tls_disable = p.yes(Q::PlainHttp, a.server.tls_disable)?;
    p.keep(a);
    if !a.server.tls_disable {
        a.server.tls_cert_file = Some(p.ask(Q::TlsCert, &text_of(&a.server.tls_cert_file))?.into());
        a.server.tls_key_file = Some(p.ask(Q::TlsKey, &text_of(&a.server.tls_key_file))?.into());
        p.keep(a);
    }
    Ok(None)
}

/// OpenBao 2.7 and later: the KMS plugin its awskms seal runs as (unless the answers
/// give its OCI image). A server with awskms built in is asked nothing, and needs none.
fn ask_kms_plugin(p: &mut Prompter, a: &mut Answers) -> anyhow::Result<()> {
    let needs = crate::vault::server::find(&a.server.binary).is_ok_and(|b| !b.has_builtin_awskms());
    if !needs {
        a.server.kms_plugin = None;
        if a.server.kms_plugin_image.is_none() {
            a.server.kms_plugin_sha256 = None;
        }
        return Ok(());
    }
    if a.server.kms_plugin_image.is_some() {
        return Ok(());
    }
    println!(
        "    {}'s awskms seal is a KMS plugin: download openbao-plugin-kms-aws for linux from {}",
        a.server.binary,
        crate::vault::plugin::RELEASES
    );
    let file = p.ask_with(Q::KmsPlugin, &text_of(&a.server.kms_plugin), |v| {
        if v.trim().is_empty() {
            return Err("the plugin's path: this server cannot unseal with AWS KMS without it".into());
        }
        crate::vault::plugin::check_executable(Path::new(v.trim()))
    })?;
    a.server.kms_plugin = Some(file.trim().into());
    let sum = p.ask(Q::KmsPluginSha256, a.server.kms_plugin_sha256.as_deref().unwrap_or(""))?;
    a.server.kms_plugin_sha256 = optional(&sum);
    p.keep(a);
    Ok(())
}

/// What to do with a server that has data here: a seal migration or a new setup.
async fn ask_existing(p: &mut Prompter, a: &mut Answers) -> anyhow::Result<()> {
    // A server with data is here (a Shamir one answers, or its storage holds data): keep
    // its data through a seal migration, or set up anew.
    let host = Host::discover(a).probe_server(a).await;
    a.server.existing = ExistingServer::New;
    if host.has_data_to_keep() && a.cluster.nodes == 1 {
        for line in host.report(a) {
            println!("    {line}");
        }
        // Proposed when a Shamir server says so itself; data of a stopped server may be
        // anyone's, so there the operator says.
        let shamir = matches!(host.server, Some(crate::vault::discover::ServerState::Shamir { .. }));
        if p.choose(Q::Existing, usize::from(shamir))? == 1 {
            a.server.existing = ExistingServer::Migrate;
            println!("    {}", crate::questions::NO_NEW_KEYS);
        }
    }
    Ok(())
}

/// Init's recovery keys: how many, the threshold, PGP keys, where they are saved.
fn ask_init(p: &mut Prompter, a: &mut Answers, state_dir: &Path) -> anyhow::Result<()> {
    a.init.enabled = a.server.launch != Launch::None && a.server.existing == ExistingServer::New;
    p.keep(a);
    if a.init.enabled {
        let shares = p.ask(Q::Shares, &a.init.recovery_shares.to_string())?;
        a.init.recovery_shares = shares.parse()?;
        let shares = a.init.recovery_shares;
        let threshold = p.ask_with(
            Q::Threshold,
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
        let file = p.ask_with(Q::KeysFile, &default_file.to_string_lossy(), |v| {
            if Path::new(v).exists() {
                Err(format!("{v} exists; recovery keys are never written over"))
            } else {
                Ok(())
            }
        })?;
        a.init.recovery_keys_file = Some(file.into());
        p.keep(a);
    }
    Ok(())
}

/// This host joins the cluster `file` describes: its key, region and policy win, as on
/// the wizard's Server screen; the address and storage are still this host's to say.
fn join(p: &mut Prompter, a: &mut Answers, file: PathBuf) -> anyhow::Result<()> {
    let cluster = ClusterFile::load(&file).map_err(anyhow::Error::msg)?;
    a.server.node_id = cluster.free_node_id(&a.server.node_id);
    a.server.listen = p.ask(Q::Listen, &a.server.listen.clone())?;
    a.server.storage_path = p.ask(Q::Storage, &a.server.storage_path.to_string_lossy())?.into();
    let mut member = cluster.member_answers(a).map_err(anyhow::Error::msg)?;
    member.cluster.join = Some(file);
    *a = member;
    println!(
        "    This host joins as {} the cluster led by {}; its key {} in {}.",
        a.server.node_id,
        cluster.leader_addr(),
        cluster.kms_key_arn,
        cluster.region
    );
    p.keep(a);
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
    let keys = p.ask_with(Q::PgpKeys, &given.join(","), move |v| {
        let files = pgp_list(v);
        if files.is_empty() {
            return Ok(());
        }
        answers::validate_pgp_key_count(&files, shares)?;
        files
            .iter()
            .try_for_each(|f| crate::vault::checks::pgp_public_key(f).map_err(|e| e.to_string()))
    })?;
    a.init.recovery_pgp_keys = pgp_list(&keys);
    p.keep(a);
    if a.init.recovery_pgp_keys.is_empty() {
        a.init.root_token_pgp_key = None;
        return Ok(());
    }
    let token = p.ask_with(Q::RootPgp, &text_of(&a.init.root_token_pgp_key), |v| {
        match optional(v) {
            Some(f) => crate::vault::checks::pgp_public_key(f.as_ref()).map_err(|e| e.to_string()),
            None => Ok(()),
        }
    })?;
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
    let stop = prompt::stop_on_signals()?;
    let mut p = Prompter {
        number: 0,
        state_dir: state_dir.to_path_buf(),
        echo: !std::io::stdin().is_terminal(),
        stop: stop.clone(),
    };
    ask_all(&mut p, &mut a, state_dir).await?;
    a.save_session(state_dir);
    a.check()?;
    let identity = AwsContext::connect(Connection::from_answers(&a))
        .await
        .identity()
        .await?;
    println!("\nAWS account {} as {}", identity.account, identity.arn);
    // What will happen, exactly, before the question: the plan and the policy.
    let plan = with_printer(Mode::Plan, async |rep| {
        ops::run::plan(&a, state_dir, KeysDestination::HandBack, &rep).await
    })
    .await?;
    crate::headless::print_plan(&a, plan.first());
    // In the demo, Enter all the way through runs the story.
    if !p.go_ahead(demo)? {
        println!(
            "Nothing was changed. Your answers are in {}.",
            state_dir.join(crate::answers::SESSION_FILE).display()
        );
        return Ok(());
    }
    let keys = KeysDestination::headless(&a)?;
    // A migration's unseal keys, once: never echoed, never kept.
    let unseal_keys = match a.server.existing {
        ExistingServer::Migrate => Some(prompt::read_hidden_keys("Unseal key", &stop)?),
        ExistingServer::New => None,
    };
    let result = with_printer(Mode::Run, async |rep| {
        let rep = rep.with_stop(stop.clone());
        ops::run::apply(
            &a,
            state_dir,
            ops::run::APPLY,
            keys,
            &rep,
            Default::default(),
            unseal_keys,
        )
        .await
    })
    .await;
    let outcome = result
        .context("the run stopped; what was made is in the manifest, and running again goes on from there")?
        .into_first();
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
