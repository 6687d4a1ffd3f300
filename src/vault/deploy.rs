//! Config → launch → wait → init → save the recovery keys → verify → restart and see
//! it unseal by itself. Each step reports progress; in a plan each change is recorded.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::answers::{Answers, ExistingServer, Launch};
use crate::files::{self, Existing, FileError, WriteOptions};
use crate::run::manifest::{FileRole, KeyRecord, ManifestStore, ServerRecord};
use crate::run::mutate::nothing_to_record;
use crate::run::{Applied, ApplyOptions, Change, Recorder, Reporter, RunError, Step};
use crate::twins::{self, quote, server_command};
use crate::vault::client::{InitRequest, SealStatus, VaultClient};
use crate::vault::discover::Host;
use crate::vault::migrate::{self, Direction, UnsealKeys};
use crate::vault::migrate_cluster;
use crate::vault::plugin::{self, KmsPlugin};
use crate::vault::recovery::{InitSecrets, load_pgp_key};
use crate::vault::server::{self, Flavour, ServerBinary};
use crate::vault::{VaultError, checks, config, launch};

type Result<T> = std::result::Result<T, RunError>;

/// What a plan's config names in place of the key it has not made yet.
const PLANNED_KEY: &str = "(the KMS key's ARN)";

/// Where the recovery keys and root token go once the server hands them over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeysDestination {
    /// A new 0600 file (headless runs).
    File(PathBuf),
    /// Back to the caller: the wizard shows them masked; a headless run with PGP keys
    /// prints the encrypted blobs.
    HandBack,
}

impl KeysDestination {
    /// What a headless run may do: save to a file, or hand back PGP-encrypted values.
    /// Anything else would put plain keys in a log, so it is refused before any change.
    pub fn headless(answers: &Answers) -> Result<KeysDestination> {
        let init = &answers.init;
        if let Some(path) = &init.recovery_keys_file {
            return Ok(KeysDestination::File(path.clone()));
        }
        let all_encrypted = !init.recovery_pgp_keys.is_empty() && init.root_token_pgp_key.is_some();
        // A migrated server keeps its keys: it is never initialised.
        let migrating = answers.server.existing == ExistingServer::Migrate;
        if !init.enabled || answers.server.launch == Launch::None || all_encrypted || migrating {
            return Ok(KeysDestination::HandBack);
        }
        Err(RunError::Other(
            "a headless init must save the recovery keys somewhere: set init.recovery_keys_file (a new file, mode 0600), \
             or give recovery_pgp_keys and root_token_pgp_key to get them encrypted. autounseal refuses to initialise \
             rather than print plain keys to a terminal or log"
                .into(),
        ))
    }
}

/// Lets a front end hold the run before `sys/init`, the one step whose answer (the
/// recovery keys) exists only once: while the wizard asks "quit?", init waits; after a
/// yes, init never starts, and a run that already started it stops right after the
/// keys are handed back, so that they can be saved instead of lost.
#[derive(Clone, Debug)]
pub struct InitGate {
    state: std::sync::Arc<tokio::sync::watch::Sender<GateState>>,
    /// Keys init handed back, held here from the moment they exist until the front end
    /// takes them: a step that fails after init must not drop them with the run.
    handed_back: std::sync::Arc<std::sync::Mutex<Option<InitSecrets>>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GateState {
    Open,
    Held,
    Stopped,
}

impl Default for InitGate {
    fn default() -> Self {
        InitGate {
            state: std::sync::Arc::new(tokio::sync::watch::Sender::new(GateState::Open)),
            handed_back: Default::default(),
        }
    }
}

impl InitGate {
    /// Init waits until [`InitGate::release`] or [`InitGate::stop`].
    pub fn hold(&self) {
        self.state.send_if_modified(|s| {
            let held = *s == GateState::Open;
            if held {
                *s = GateState::Held;
            }
            held
        });
    }

    pub fn release(&self) {
        self.state.send_if_modified(|s| {
            let released = *s == GateState::Held;
            if released {
                *s = GateState::Open;
            }
            released
        });
    }

    /// Init never starts; a run past init stops once the keys are handed back.
    pub fn stop(&self) {
        self.state.send_replace(GateState::Stopped);
    }

    pub fn stopped(&self) -> bool {
        *self.state.borrow() == GateState::Stopped
    }

    fn keep(&self, secrets: Option<InitSecrets>) {
        if let Some(secrets) = secrets {
            *self.handed_back.lock().unwrap_or_else(|e| e.into_inner()) = Some(secrets);
        }
    }

    fn holds_keys(&self) -> bool {
        self.handed_back.lock().unwrap_or_else(|e| e.into_inner()).is_some()
    }

    /// The keys init handed back, if the run got that far and nobody took them yet:
    /// after a failed run too, so that they can still be shown or saved.
    pub fn take_keys(&self) -> Option<InitSecrets> {
        self.handed_back.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    /// Waits while held; true when init may go ahead.
    async fn pass_to_init(&self) -> bool {
        let mut rx = self.state.subscribe();
        rx.wait_for(|s| *s != GateState::Held)
            .await
            .is_ok_and(|state| *state == GateState::Open)
    }
}

/// What the Vault side ended with.
#[derive(Debug, Default)]
pub struct DeployOutcome {
    pub address: String,
    pub status: Option<SealStatus>,
    /// Only with [`KeysDestination::HandBack`]; wiped when dropped.
    pub secrets: Option<InitSecrets>,
    /// How to start the server by hand (launch `none`).
    pub server_command: String,
    /// `bao status -address=…` or `vault status …`, with the binary as found: its
    /// name when that name on PATH is it, else its path.
    pub status_command: String,
    /// After a node of a cluster moved its seal: what its operator does next (the next
    /// node to migrate, or that every node is on awskms).
    pub cluster_next: Option<String>,
}

/// What the checks before AWS found: the server binary (if it was found) and, for an
/// OpenBao without a built-in awskms, the KMS plugin to install and declare.
#[derive(Debug, Clone, Default)]
pub struct Checked {
    pub binary: Option<ServerBinary>,
    pub plugin: Option<KmsPlugin>,
}

/// Checks the Vault side before anything is created in AWS: the binary, its awskms
/// support (built in, or the KMS plugin given), the unit, the files and the port.
/// `host` is what [`Host::discover`] found for these answers; `fetched`, the plugin an
/// OCI image gave (see [`fetch_plugin`]).
pub fn preflight(
    answers: &Answers,
    store: &ManifestStore,
    keys: &KeysDestination,
    opts: ApplyOptions,
    host: &Host,
    fetched: Option<&Path>,
) -> Result<Checked> {
    let binary = match server::find(&answers.server.binary) {
        Ok(b) => Some(b),
        // Writing the config alone needs no binary; but a wrong one is never right.
        Err(VaultError::BinaryMissing { .. }) if answers.server.launch == Launch::None => None,
        Err(e) => return Err(e.into()),
    };
    let ours = plugins_installed(store);
    let kept = config::kept_plugin_directory(&answers.output.vault_config);
    let plugin = plugin::declare(answers, binary.as_ref(), fetched, kept, &ours).map_err(VaultError::Refused)?;
    // Every check here only reads: a plan runs them all, as the apply will.
    host_checks(answers, store, host)?;
    let config = &answers.output.vault_config;
    files::check_writable(config)?;
    let ours = store
        .snapshot()
        .file(FileRole::VaultConfig)
        .is_some_and(|f| &f.path == config);
    if config.exists() && !ours && !opts.overwrite_files {
        return Err(FileError::Exists { path: config.clone() }.into());
    }
    // A kept config with another seal is refused now, not after AWS.
    config::plan(answers, PLANNED_KEY, host.flavour(), plugin.as_ref()).map_err(VaultError::Refused)?;
    // A server autounseal already initialised hands out no new keys: the file is not needed.
    let initialised_before = store.snapshot().server.is_some_and(|s| s.initialized_by_us);
    if answers.init.enabled
        && answers.server.launch != Launch::None
        && answers.server.existing == ExistingServer::New
        && !initialised_before
        && let KeysDestination::File(path) = keys
    {
        if path.exists() {
            return Err(RunError::Other(format!(
                "{} already exists; recovery keys are never written over. Move it away or choose another init.recovery_keys_file",
                path.display()
            )));
        }
        files::check_writable(path)?;
    }
    if answers.server.launch == Launch::Background && running_server(store, answers).is_none() {
        launch::ensure_port_free(&answers.server.listen)?;
    }
    Ok(Checked { binary, plugin })
}

/// The KMS plugin files earlier runs installed (one per version until the old goes).
fn plugins_installed(store: &ManifestStore) -> Vec<PathBuf> {
    store
        .snapshot()
        .files
        .into_iter()
        .filter(|f| f.role == FileRole::KmsPlugin)
        .map(|f| f.path)
        .collect()
}

/// With `server.kms_plugin_image`: the plugin fetched by the server's own `bao plugin
/// init` into the state folder (before AWS: a registry out of reach stops the run
/// there), to be checked and installed as a download is. `None` without an image.
pub fn fetch_plugin(answers: &Answers, state_dir: &Path) -> Result<Option<PathBuf>> {
    let s = &answers.server;
    let (Some(image), Some(version), Some(sha256)) = (&s.kms_plugin_image, &s.kms_plugin_version, &s.kms_plugin_sha256)
    else {
        return Ok(None);
    };
    let binary = server::find(&s.binary)?;
    if binary.has_builtin_awskms() {
        // Said by `plugin::declare`, with what to do.
        return Ok(None);
    }
    let staging = state_dir.join("kms-plugin");
    plugin::fetch(&binary.path, image, version, sha256, &staging)
        .map(Some)
        .map_err(|e| VaultError::Refused(e).into())
}

/// The checks of everything the server will read or use.
fn host_checks(answers: &Answers, store: &ManifestStore, host: &Host) -> Result<()> {
    let server = &answers.server;
    let owner = server.owner();
    if !server.tls_disable
        && let (Some(cert), Some(key)) = (&server.tls_cert_file, &server.tls_key_file)
    {
        checks::tls_files(cert, key, owner.as_ref())?;
    }
    if let Some(ca) = &server.ca_cert {
        checks::ca_bundle(ca)?;
        // The server's own certificate, as its clients will check it.
        if let (false, Some(cert)) = (server.tls_disable, &server.tls_cert_file) {
            let (host, _) = config::client_host(&server.listen);
            checks::ca_verifies(cert, ca, &host)?;
        }
    }
    checks::storage_folder(&server.storage_path)?;
    let ours = store.snapshot().storage_path.as_ref() == Some(&server.storage_path)
        || config::written_by_us_for(&answers.output.vault_config, &server.storage_path)
        || config::operator_names_storage(&answers.output.vault_config, &server.storage_path);
    // A migration is asked for the data there.
    checks::storage_in_use(&server.storage_path, ours || server.existing == ExistingServer::Migrate)?;

    for key in answers
        .init
        .recovery_pgp_keys
        .iter()
        .chain(&answers.init.root_token_pgp_key)
    {
        checks::pgp_public_key(key)?;
    }
    if server.launch == Launch::Systemd {
        let unit = host.unit_name(answers);
        checks::systemd_unit(&unit)?;
        if let Some(found) = host.unit.as_ref().filter(|u| u.id == unit) {
            checks::unit_reads_config(found, &answers.output.vault_config)?;
            checks::service_user(found)?;
        }
        // Under systemd the server runs as the service user, not as autounseal.
        checks::storage_usable_by(
            &server.storage_path,
            owner.as_ref(),
            server.user.as_deref().unwrap_or("vault"),
        )?;
        let drop_in = launch::drop_in_path(&unit);
        if let Some((field, _)) = answers.output_files().into_iter().find(|(_, p)| *p == drop_in) {
            return Err(RunError::Other(format!(
                "{field} is {}, the systemd drop-in autounseal writes; choose another path",
                drop_in.display()
            )));
        }
    }
    Ok(())
}

/// The background server an earlier run started, if it still runs with this listener.
fn running_server(store: &ManifestStore, answers: &Answers) -> Option<u32> {
    let record = store.snapshot().server?;
    let pid = record.pid?;
    (record.address == config::api_addr(answers) && launch::is_running(pid)).then_some(pid)
}

pub struct Deployer<'a> {
    answers: &'a Answers,
    store: &'a ManifestStore,
    rep: Reporter,
    state_dir: &'a Path,
    recorder: Recorder<'a>,
    opts: ApplyOptions,
    binary: Option<ServerBinary>,
    /// The KMS plugin an OpenBao 2.7 or later runs the seal with.
    plugin: Option<KmsPlugin>,
    keys: KeysDestination,
    gate: InitGate,
    /// The unseal keys of a seal migration (`server.existing = "migrate"`).
    unseal_keys: Option<UnsealKeys>,
}

impl<'a> Deployer<'a> {
    pub fn new(
        answers: &'a Answers,
        store: &'a ManifestStore,
        rep: Reporter,
        state_dir: &'a Path,
        opts: ApplyOptions,
        checked: Checked,
        keys: KeysDestination,
    ) -> Deployer<'a> {
        Deployer {
            answers,
            store,
            recorder: Recorder::new(rep.clone(), store, opts.dry_run),
            rep,
            state_dir,
            opts,
            binary: checked.binary,
            plugin: checked.plugin,
            keys,
            gate: InitGate::default(),
            unseal_keys: None,
        }
    }

    /// The keys a seal migration submits; wiped when the deployer goes.
    pub fn with_unseal_keys(mut self, keys: Option<UnsealKeys>) -> Deployer<'a> {
        self.unseal_keys = keys;
        self
    }

    fn migrating(&self) -> bool {
        self.answers.server.existing == ExistingServer::Migrate
    }

    /// The gate a front end holds or stops init with.
    pub fn with_gate(mut self, gate: InitGate) -> Deployer<'a> {
        self.gate = gate;
        self
    }

    pub fn calls(&self) -> Vec<crate::run::Call> {
        self.recorder.calls()
    }

    fn flavour(&self) -> Flavour {
        self.binary.as_ref().map_or(Flavour::Vault, |b| b.flavour)
    }

    /// The unit a systemd launch restarts: the one found or asked for, else the flavour's.
    fn unit(&self) -> String {
        self.answers
            .server
            .systemd_unit
            .clone()
            .unwrap_or_else(|| self.flavour().unit().to_string())
    }

    fn binary_path(&self) -> PathBuf {
        self.binary
            .as_ref()
            .map_or_else(|| PathBuf::from(&self.answers.server.binary), |b| b.path.clone())
    }

    fn status_command(&self) -> String {
        let binary = self.binary_path();
        let name = binary
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let on_path = which::which(&name)
            .is_ok_and(|found| std::fs::canonicalize(found).ok() == std::fs::canonicalize(&binary).ok());
        let cli = if on_path {
            name
        } else {
            quote(&binary.to_string_lossy())
        };
        let ca = match &self.answers.server.ca_cert {
            Some(ca) if !self.answers.server.tls_disable => format!(" -ca-cert={}", quote(&ca.to_string_lossy())),
            _ => String::new(),
        };
        format!("{cli} status -address={}{ca}", config::api_addr(self.answers))
    }

    fn client(&self) -> Result<VaultClient> {
        Ok(VaultClient::new(
            &config::api_addr(self.answers),
            self.answers.server.ca_cert.as_deref(),
        )?)
    }

    pub async fn run(&self, key: &Applied<KeyRecord>) -> Result<DeployOutcome> {
        let mut outcome = DeployOutcome {
            address: config::api_addr(self.answers),
            server_command: server_command(
                &self.binary_path(),
                &config::server_reads(&self.answers.output.vault_config),
            ),
            status_command: self.status_command(),
            ..Default::default()
        };
        self.rep.step(Step::VaultConfig, self.write_config(key)).await?;
        // Judged once every file is written: a re-run that changed nothing restarts nothing.
        let settled = self.settled();
        let pid = self
            .rep
            .step(Step::LaunchServer, self.launch(settled.as_deref()))
            .await?;
        // A server that is the operator's may already be restarted into the migration.
        let migration_waits = self.answers.server.launch == Launch::None
            && self.migrating()
            && !self.opts.dry_run
            && self.client()?.seal_status().await.is_ok_and(|s| s.migration);
        if (self.answers.server.launch == Launch::None && !migration_waits) || self.opts.dry_run {
            self.plan_rest().await?;
            return Ok(outcome);
        }
        self.rep.step(Step::WaitForServer, self.wait_for_server(pid)).await?;
        crate::pause::point("server-answered");
        if self.migrating() {
            self.rep.step(Step::InitServer, self.migrate(pid)).await?;
            self.rep.skipped(
                Step::SaveRecoveryKeys,
                "no new keys: the unseal keys given are now the recovery keys",
            );
            let client = self.client()?;
            if migrate_cluster::waits_for_the_active(&client).await {
                // A standby on its new seal: restarted now, it would need the keys again.
                let why = "a standby of a cluster whose seal has not moved yet: unsealed on the awskms stanza, it \
                           waits for the active node, migrated last, to move the cluster's seal; `autounseal apply` \
                           here again afterwards proves it";
                for step in [Step::VerifySeal, Step::RestartCheck] {
                    self.rep.skipped(step, why);
                }
            } else {
                outcome.status = Some(self.rep.step(Step::VerifySeal, self.verify(pid)).await?);
                self.rep
                    .step(Step::RestartCheck, self.restart_check(pid, settled.as_deref()))
                    .await?;
            }
            outcome.cluster_next = migrate_cluster::next_step(self.answers, &client.address).await;
            return Ok(outcome);
        }
        let secrets = self.rep.step(Step::InitServer, self.init()).await?;
        if let Some(secrets) = secrets {
            // Even after a stop request: the keys exist nowhere else. Handed-back keys
            // wait in the gate, so that a later failure cannot drop them with the run.
            let handed = self
                .rep
                .step_even_when_stopping(Step::SaveRecoveryKeys, self.save_keys(secrets))
                .await?;
            self.gate.keep(handed);
            crate::pause::point("initialized");
        } else {
            self.rep.skipped(Step::SaveRecoveryKeys, "no new keys");
        }
        let stopping = self.gate.stopped() || self.rep.check_stop().is_err();
        if stopping && self.gate.holds_keys() {
            // Asked to stop with keys in hand: hand them back (to be saved or shown).
            for step in [Step::VerifySeal, Step::RestartCheck] {
                self.rep.skipped(step, "stopped on request");
            }
            outcome.secrets = self.gate.take_keys();
            return Ok(outcome);
        }
        outcome.status = Some(self.rep.step(Step::VerifySeal, self.verify(pid)).await?);
        self.rep
            .step(Step::RestartCheck, self.restart_check(pid, settled.as_deref()))
            .await?;
        outcome.secrets = self.gate.take_keys();
        Ok(outcome)
    }

    /// In a plan, or with launch `none`: say what follows instead of doing it.
    async fn plan_rest(&self) -> Result<()> {
        if self.migrating() {
            return self.plan_migration().await;
        }
        // A server an earlier run initialised is never initialised again.
        let initialised = self.store.snapshot().server.is_some_and(|s| s.initialized_by_us);
        if self.answers.init.enabled && self.answers.server.launch != Launch::None && !initialised {
            // Only a plan gets here with init asked for, and a plan makes no call.
            let never_made = |_| async { Applied::<()>::Planned.made() };
            let mut changes = vec![self.init_change()];
            if let KeysDestination::File(path) = &self.keys {
                changes.push(keys_file_change(path));
            }
            for change in changes {
                self.recorder
                    .mutate(change, never_made, nothing_to_record, |_: &()| String::new())
                    .await?;
            }
        }
        for step in [
            Step::WaitForServer,
            Step::InitServer,
            Step::VerifySeal,
            Step::RestartCheck,
        ] {
            self.rep.skipped(
                step,
                if step == Step::InitServer && initialised {
                    "initialised by an earlier run: never again"
                } else if self.opts.dry_run {
                    "planned"
                } else {
                    "the server is yours to start (launch = none)"
                },
            );
        }
        Ok(())
    }

    /// A migration's plan: the keys it will submit; with launch `none`, what to restart.
    async fn plan_migration(&self) -> Result<()> {
        let address = config::api_addr(self.answers);
        if self.opts.dry_run {
            self.recorder
                .mutate(
                    Change::new(
                        Step::InitServer,
                        "vault:unseal-migrate",
                        "the threshold of unseal keys, one by one: they become the recovery keys",
                        format!("{} operator unseal -migrate -address={address}", self.flavour().cli()),
                    ),
                    |_| async { unreachable!("a plan makes no call") },
                    nothing_to_record,
                    |_: &()| String::new(),
                )
                .await?;
        }
        let rest = if self.opts.dry_run {
            "planned".to_string()
        } else {
            format!(
                "restart your server so that it reads {}, then run apply again with the unseal keys: it submits them \
                 with migrate and checks the seal",
                self.answers.output.vault_config.display()
            )
        };
        for step in [
            Step::WaitForServer,
            Step::InitServer,
            Step::VerifySeal,
            Step::RestartCheck,
        ] {
            self.rep.skipped(step, rest.clone());
        }
        Ok(())
    }

    /// The seal migration from Shamir: the server, restarted with the awskms stanza,
    /// waits for its unseal keys; each is submitted with `migrate`.
    async fn migrate(&self, pid: Option<u32>) -> Result<()> {
        let client = self.client()?;
        let status = self.wait_until(pid, |_| true).await?;
        if !status.migration {
            if status.initialized && status.seal_type == "awskms" && status.recovery_seal {
                // The last node of a cluster comes back moved by the node that took the
                // active role: its migration is recorded all the same (no key submitted).
                if !migrate::migrated_before(&self.store.snapshot(), &client.address) {
                    self.store.update(|m| {
                        m.migrations
                            .push(migrate::migration_record(Direction::ToAwsKms, &client.address, 0))
                    })?;
                }
                self.rep
                    .skipped(Step::InitServer, "already migrated to awskms: nothing to submit");
                return Ok(());
            }
            return Err(VaultError::Refused(format!(
                "the server at {} reports seal \"{}\" ({}), not a seal migration in progress: check that it reads {}",
                client.address,
                status.seal_type,
                if status.initialized {
                    "initialised"
                } else {
                    "not initialised"
                },
                self.answers.output.vault_config.display()
            ))
            .into());
        }
        let keys = self.unseal_keys.as_ref().ok_or_else(|| {
            RunError::Other("the seal migration waits for the unseal keys, and none were given".into())
        })?;
        self.rep.progress(
            Step::InitServer,
            format!("seal migration in progress: submitting {} of the unseal keys", status.t),
        );
        migrate::submit_migration(
            &self.recorder,
            &client,
            keys,
            Direction::ToAwsKms,
            Step::InitServer,
            self.flavour().cli(),
        )
        .await?;
        self.rep.done(
            Step::InitServer,
            format!(
                "migrated from Shamir to awskms with {} unseal keys: they are now the recovery keys; the data stays",
                status.t
            ),
        );
        Ok(())
    }

    fn init_change(&self) -> Change {
        let init = &self.answers.init;
        Change::new(
            Step::InitServer,
            "vault:init",
            format!(
                "{} recovery shares, threshold {}",
                init.recovery_shares, init.recovery_threshold
            ),
            twins::operator_init(
                self.flavour().cli(),
                init.recovery_shares,
                init.recovery_threshold,
                &config::api_addr(self.answers),
            ),
        )
    }

    /// The KMS plugin's new version (OpenBao 2.7 and later), then the config that names
    /// it, then the old version: at every moment the config declares a file that is there.
    async fn write_config(&self, key: &Applied<KeyRecord>) -> Result<()> {
        if let Some(plugin) = &self.plugin {
            self.install_plugin(plugin).await?;
        }
        self.write_config_file(key).await?;
        // The config names the new plugin now: an older version of ours can go.
        if let Some(plugin) = &self.plugin {
            self.retire_old_plugins(plugin).await?;
        }
        Ok(())
    }

    /// The config itself, after its plugin (see [`Self::write_config`]).
    async fn write_config_file(&self, key: &Applied<KeyRecord>) -> Result<()> {
        let path = &self.answers.output.vault_config;
        // A plan has no key yet: its diff names the key to come.
        let key_id = match key {
            Applied::Done(key) => key.arn.as_str(),
            _ => PLANNED_KEY,
        };
        let text =
            config::plan(self.answers, key_id, self.flavour(), self.plugin.as_ref()).map_err(VaultError::Refused)?;
        if text.old.as_deref() == Some(text.new.as_str()) {
            self.rep
                .skipped(Step::VaultConfig, format!("{} is up to date", path.display()));
            return Ok(());
        }
        let (_, group) = self.owner_names();
        // An existing file keeps its owner and mode (see `WriteOptions::config_at`).
        let twin = if path.is_file() {
            format!("cat vault.hcl > {}", quote(&path.to_string_lossy()))
        } else {
            format!(
                "install -m 0640 -o root -g {group} vault.hcl {}",
                quote(&path.to_string_lossy())
            )
        };
        let key = key.as_ref();
        let new_text = &text.new;
        let write = |_| async move {
            let key = key.made()?;
            let existing = if self.opts.overwrite_files {
                Existing::BackupAndReplace
            } else {
                Existing::Refuse
            };
            let opts = WriteOptions::config_at(path, existing, self.answers.server.config_owner());
            let written = files::write_atomic(path, new_text.as_bytes(), opts)?;
            self.store
                .update(|m| m.record_file(FileRole::VaultConfig, path, written.backup.clone()))?;
            self.prepare_storage()?;
            Ok(key.key_id.clone())
        };
        self.recorder
            .mutate(
                Change::new(Step::VaultConfig, "file:write", text.detail(path), twin),
                write,
                nothing_to_record,
                |key_id| {
                    format!(
                        "{} with seal \"awskms\" (key {key_id}){}",
                        path.display(),
                        text.kept_timing()
                    )
                },
            )
            .await?;
        Ok(())
    }

    /// Copies the KMS plugin into the server's plugin folder (see [`plugin::install`]),
    /// recorded first so that destroy finds it even if the copy is cut short.
    async fn install_plugin(&self, plugin: &KmsPlugin) -> Result<()> {
        let target = plugin.installed();
        // Already there as it should be (a re-run, or the operator's own copy): nothing to copy.
        if plugin::in_place(&target, &plugin.sha256) {
            return Ok(());
        }
        let shown = target.display().to_string();
        let twin = format!(
            "install -D -m 0755 -o root -g root {} {}",
            quote(&plugin.source.to_string_lossy()),
            quote(&shown)
        );
        let install = |_| async {
            if !plugin.directory.exists() {
                self.store
                    .update(|m| m.record_file(FileRole::KmsPluginFolder, &plugin.directory, None))?;
            }
            self.store
                .update(|m| m.record_file(FileRole::KmsPlugin, &target, None))?;
            plugin::install(plugin).map_err(|e| RunError::Other(format!("cannot install {shown}: {e}")))?;
            Ok(())
        };
        self.recorder
            .mutate(
                Change::new(
                    Step::VaultConfig,
                    "file:install",
                    format!("{shown} (SHA-256 {})", plugin.sha256),
                    twin,
                ),
                install,
                nothing_to_record,
                |_| format!("{shown}, root's, 0755"),
            )
            .await?;
        Ok(())
    }

    /// Removes the plugin versions earlier runs installed that the config no longer names.
    async fn retire_old_plugins(&self, plugin: &KmsPlugin) -> Result<()> {
        let current = plugin.installed();
        for old in plugins_installed(self.store).into_iter().filter(|p| *p != current) {
            let shown = old.display().to_string();
            let remove = |_| async {
                files::remove_if_present(&old)
                    .map(drop)
                    .map_err(|e| RunError::Other(format!("cannot remove {shown}: {e}")))
            };
            self.recorder
                .mutate(
                    Change::new(
                        Step::VaultConfig,
                        "file:remove",
                        format!("{shown} (the KMS plugin's version before)"),
                        format!("rm -f {}", quote(&shown)),
                    ),
                    remove,
                    |m, _| m.files.retain(|f| !(f.role == FileRole::KmsPlugin && f.path == old)),
                    |_| format!("{shown} removed"),
                )
                .await?;
        }
        Ok(())
    }

    /// The service user and group, as the commands we show name them.
    fn owner_names(&self) -> (String, String) {
        let user = self.answers.server.user.clone().unwrap_or_else(|| "vault".into());
        let group = self.answers.server.group.clone().unwrap_or_else(|| user.clone());
        (user, group)
    }

    /// Makes the storage folder (0700, the service user's) when it is missing or ours;
    /// an operator's existing folder is theirs and left as it is.
    fn prepare_storage(&self) -> Result<()> {
        let storage = &self.answers.server.storage_path;
        let recorded = self.store.snapshot().storage_path.as_ref() == Some(storage);
        if storage.exists() && !recorded {
            return Ok(());
        }
        // Recorded first: a folder we made is never taken for someone else's data.
        self.store.update(|m| m.storage_path = Some(storage.clone()))?;
        files::ensure_dir(storage)?;
        // Raft data is the server's alone.
        std::fs::set_permissions(storage, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .map_err(|e| RunError::Other(format!("cannot protect {}: {e}", storage.display())))?;
        if let Some(owner) = self.answers.server.owner() {
            let _ = nix::unistd::chown(storage, Some(owner.uid), Some(owner.gid));
        }
        Ok(())
    }

    /// Whether the server runs since before this run with every file it reads as it is
    /// now, and passed a restart check then: said in words (when it passed, since when it
    /// runs). Such a server is neither restarted nor checked again.
    fn settled(&self) -> Option<String> {
        let record = self.store.snapshot().server?;
        let checked = record.proofs?.restart_checked?;
        let since = match self.answers.server.launch {
            Launch::Systemd => launch::systemd_active_since(&self.unit())?,
            Launch::Background => {
                running_server(self.store, self.answers)?;
                std::fs::metadata(record.pid_file.as_ref()?).ok()?.modified().ok()?
            }
            Launch::None => return None,
        };
        let a = &self.answers;
        let mut reads: Vec<PathBuf> = match config::server_reads(&a.output.vault_config) {
            folder if folder.is_dir() => std::fs::read_dir(&folder).ok()?.flatten().map(|e| e.path()).collect(),
            file => vec![file],
        };
        reads.extend(a.output.key_files().paths().into_iter().map(|(_, p)| p.to_path_buf()));
        if a.server.launch == Launch::Systemd {
            reads.push(launch::drop_in_path(&self.unit()));
        }
        // A file changed in the very second the unit started counts as changed after it.
        let older = |p: &PathBuf| {
            let changed = std::fs::metadata(p).ok()?.modified().ok()?;
            match a.server.launch {
                Launch::Systemd => Some(
                    changed.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs()
                        < since.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs(),
                ),
                _ => Some(changed <= since),
            }
        };
        reads
            .iter()
            .all(|p| older(p) == Some(true))
            .then(|| format!("its restart check passed at {checked}, and nothing it reads changed since it started"))
    }

    /// Starts the server as asked; returns the pid of a background server. A `settled`
    /// server (see [`Deployer::settled`]) is left running.
    async fn launch(&self, settled: Option<&str>) -> Result<Option<u32>> {
        let a = self.answers;
        let command = server_command(&self.binary_path(), &config::server_reads(&a.output.vault_config));
        match a.server.launch {
            Launch::None => {
                let env = quote(&a.output.env_file.to_string_lossy());
                self.rep.done(
                    Step::LaunchServer,
                    format!("start it yourself, with the env file's variables: set -a; . {env}; set +a; {command}"),
                );
                Ok(None)
            }
            Launch::Background => {
                if let Some(pid) = running_server(self.store, a) {
                    self.rep
                        .skipped(Step::LaunchServer, format!("already running (pid {pid})"));
                    return Ok(Some(pid));
                }
                let start = |_| async { self.start_background() };
                let started = self
                    .recorder
                    .mutate(
                        Change::new(Step::LaunchServer, "server:start", "in the background", command),
                        start,
                        nothing_to_record,
                        |bg| format!("pid {}, log {}", bg.pid, bg.log.display()),
                    )
                    .await?;
                Ok(started.done().map(|bg| bg.pid))
            }
            Launch::Systemd => {
                let unit = &self.unit();
                if let Some(why) = settled {
                    self.rep.skipped(
                        Step::LaunchServer,
                        format!("{unit} is running: not restarted, as {why}"),
                    );
                    return Ok(None);
                }
                let drop_in = launch::drop_in_path(unit);
                let restart = |_| async {
                    let text = config::systemd_drop_in(&a.output.env_file);
                    let existing = if self.opts.overwrite_files {
                        Existing::BackupAndReplace
                    } else {
                        Existing::Refuse
                    };
                    if std::fs::read_to_string(&drop_in).ok().as_deref() != Some(text.as_str()) {
                        let opts = WriteOptions {
                            mode: 0o644,
                            owner: None,
                            existing,
                        };
                        let written = files::write_atomic(&drop_in, text.as_bytes(), opts)?;
                        self.store
                            .update(|m| m.record_file(FileRole::SystemdDropIn, &drop_in, written.backup.clone()))?;
                    }
                    let state = launch::systemd_restart(unit)?;
                    self.record_server(None, Some(unit.to_string()))?;
                    Ok(state)
                };
                self.recorder
                    .mutate(
                        Change::new(
                            Step::LaunchServer,
                            "systemd:restart",
                            format!("{unit} with {}", drop_in.display()),
                            twins::systemd_restart(unit),
                        ),
                        restart,
                        nothing_to_record,
                        |state| format!("{unit} is {state}"),
                    )
                    .await?;
                Ok(None)
            }
        }
    }

    fn start_background(&self) -> Result<launch::Background> {
        let a = self.answers;
        let bg = launch::start_background(
            &self.binary_path(),
            &config::server_reads(&a.output.vault_config),
            &a.output.env_file,
            self.state_dir,
        )?;
        self.record_server(Some(&bg), None)?;
        Ok(bg)
    }

    fn record_server(&self, bg: Option<&launch::Background>, unit: Option<String>) -> Result<()> {
        let earlier = self.store.snapshot().server;
        let initialized_by_us = earlier.as_ref().is_some_and(|s| s.initialized_by_us);
        let init_started = earlier.as_ref().is_some_and(|s| s.init_started);
        let record = ServerRecord {
            binary: self.binary_path(),
            config: self.answers.output.vault_config.clone(),
            address: config::api_addr(self.answers),
            launch: self.answers.server.launch.as_str().into(),
            pid: bg.map(|b| b.pid),
            pid_file: bg.map(|b| b.pid_file.clone()),
            log_file: bg.map(|b| b.log.clone()),
            unit,
            initialized_by_us,
            init_started,
            // (Re)started now: what was proved of it before no longer counts.
            proofs: Some(Default::default()),
            ca_cert: (!self.answers.server.tls_disable)
                .then(|| self.answers.server.ca_cert.clone())
                .flatten(),
        };
        self.store.update(|m| m.server = Some(record))
    }

    /// Records a proof step that passed, with when.
    fn record_proof(&self, proof: impl FnOnce(&mut crate::run::manifest::Proofs, String)) -> Result<()> {
        let now = crate::run::manifest::now_rfc3339();
        self.store.update(|m| {
            if let Some(server) = m.server.as_mut() {
                proof(server.proofs.get_or_insert_default(), now);
            }
        })
    }

    /// Polls until the server answers at all (sealed or not).
    async fn wait_for_server(&self, pid: Option<u32>) -> Result<()> {
        let started = Instant::now();
        self.wait_until(pid, |_| true).await?;
        self.rep.done(
            Step::WaitForServer,
            format!(
                "answers at {} after {:.1} s",
                config::api_addr(self.answers),
                started.elapsed().as_secs_f64()
            ),
        );
        Ok(())
    }

    /// Polls seal-status until `ready` holds, watching that a background server lives.
    async fn wait_until(&self, pid: Option<u32>, ready: impl Fn(&SealStatus) -> bool) -> Result<SealStatus> {
        let watch = Watch {
            client: self.client()?,
            pid,
            timeout: Duration::from_secs(self.answers.timing.server_start_timeout_secs),
            log: self.state_dir.join(launch::SERVER_LOG),
            launch: self.answers.server.launch,
            unit: self.unit(),
            env_file: &self.answers.output.env_file,
        };
        wait_until(&watch, ready).await
    }

    async fn init(&self) -> Result<Option<InitSecrets>> {
        let init = &self.answers.init;
        if !init.enabled {
            let why = if self.answers.cluster.peers.is_empty() {
                "not asked for (init.enabled = false)"
            } else {
                "this node joins the cluster (retry_join): a cluster is initialised once, on its first node"
            };
            self.rep.skipped(Step::InitServer, why);
            return Ok(None);
        }
        let client = self.client()?;
        if client.is_initialized().await? {
            let record = self.store.snapshot().server;
            let by = match record {
                Some(s) if s.initialized_by_us => "by autounseal earlier".to_string(),
                Some(s) if s.init_started => format!(
                    "by an earlier run of autounseal that was interrupted before it got the answer. \
                     If that run saved the recovery keys, they are in {} (recovery-keys-*.txt); otherwise \
                     they were never received and are lost: the server still unseals through KMS, and \
                     `{} operator generate-root` needs them, so plan to re-create the server if they are gone",
                    self.state_dir.display(),
                    self.flavour().cli()
                ),
                _ => "by someone else".to_string(),
            };
            self.rep.skipped(
                Step::InitServer,
                format!("already initialised {by}: left as it is, no new keys"),
            );
            return Ok(None);
        }
        let request = InitRequest {
            recovery_shares: init.recovery_shares,
            recovery_threshold: init.recovery_threshold,
            recovery_pgp_keys: init
                .recovery_pgp_keys
                .iter()
                .map(|p| load_pgp_key(p))
                .collect::<std::result::Result<_, _>>()
                .map_err(RunError::Other)?,
            root_token_pgp_key: init
                .root_token_pgp_key
                .as_deref()
                .map(load_pgp_key)
                .transpose()
                .map_err(RunError::Other)?,
        };
        let pgp_encrypted = !request.recovery_pgp_keys.is_empty();
        let make = |_| async move {
            if !self.gate.pass_to_init().await {
                return Err(RunError::StoppedOnRequest {
                    when: "before the server was initialised: no keys exist yet",
                });
            }
            // Recorded before the call: if its answer is lost, a re-run can say what happened.
            self.store.update(|m| {
                if let Some(s) = m.server.as_mut() {
                    s.init_started = true;
                }
            })?;
            let mut secrets = client.init(&request).await?;
            secrets.pgp_encrypted = pgp_encrypted;
            Ok(secrets)
        };
        let secrets = self
            .recorder
            .mutate(
                self.init_change(),
                make,
                |m, _| {
                    if let Some(s) = m.server.as_mut() {
                        s.initialized_by_us = true;
                    }
                },
                |secrets| {
                    format!(
                        "{} recovery keys, threshold {}",
                        secrets.recovery_keys.len(),
                        init.recovery_threshold
                    )
                },
            )
            .await?;
        Ok(secrets.done())
    }

    /// Saves the keys at once (they exist only in this answer), or hands them back.
    async fn save_keys(&self, secrets: InitSecrets) -> Result<Option<InitSecrets>> {
        match &self.keys {
            KeysDestination::File(path) => {
                let save = |_| async move {
                    let saved = secrets.save(
                        path,
                        self.answers.init.recovery_threshold,
                        &config::api_addr(self.answers),
                    )?;
                    if &saved != path {
                        self.rep.warn(format!(
                            "{} already existed, so the new keys went to {}",
                            path.display(),
                            saved.display()
                        ));
                    }
                    // Dropping `secrets` here wipes them from memory.
                    Ok(saved)
                };
                self.recorder
                    .mutate(
                        keys_file_change(path),
                        save,
                        |m, saved| m.record_file(FileRole::RecoveryKeys, saved, None),
                        |saved| format!("{} (mode 0600): move them somewhere safe and offline", saved.display()),
                    )
                    .await?;
                Ok(None)
            }
            KeysDestination::HandBack => {
                self.rep.done(Step::SaveRecoveryKeys, "handed over to be shown once");
                Ok(Some(secrets))
            }
        }
    }

    async fn verify(&self, pid: Option<u32>) -> Result<SealStatus> {
        let joins = self.answers.server.existing.is_new() && !self.answers.init.enabled;
        if joins && !self.answers.cluster.peers.is_empty() {
            // The wait a joining node's operator sees most: said, so that it reads as normal.
            self.rep.progress(
                Step::VerifySeal,
                "joining; the server tries its stored key again 5 s after its start",
            );
        }
        // With the pid, a background server that died is reported at once, with its log.
        let status = self.wait_until(pid, |s| s.initialized && !s.sealed).await?;
        if status.seal_type != "awskms" {
            return Err(VaultError::Refused(format!(
                "the server uses the \"{}\" seal, not awskms; check {}",
                status.seal_type,
                self.answers.output.vault_config.display()
            ))
            .into());
        }
        if self.migrating() && !status.recovery_seal {
            return Err(VaultError::Refused(format!(
                "the migrated server reports no recovery seal: its old unseal keys may not work as recovery keys; \
                 check `{} status -address={}`",
                self.flavour().cli(),
                config::api_addr(self.answers)
            ))
            .into());
        }
        self.record_proof(|p, now| p.seal_verified = Some(now))?;
        self.rep.done(
            Step::VerifySeal,
            format!(
                "type awskms, initialised, unsealed ({} {})",
                self.flavour().name(),
                status.version
            ),
        );
        Ok(status)
    }

    /// Stops the server and starts it again: it must come back unsealed by itself.
    async fn restart_check(&self, pid: Option<u32>, settled: Option<&str>) -> Result<()> {
        if let Some(why) = settled {
            self.rep
                .skipped(Step::RestartCheck, format!("not restarted again: {why}"));
            return Ok(());
        }
        let started = Instant::now();
        let new_pid = match (self.answers.server.launch, pid) {
            (Launch::Background, Some(pid)) => {
                launch::stop_background(pid, Duration::from_secs(15));
                self.rep.progress(Step::RestartCheck, "stopped; starting again");
                Some(self.start_background()?.pid)
            }
            (Launch::Systemd, _) => {
                launch::systemd_restart(&self.unit())?;
                None
            }
            _ => {
                self.rep
                    .skipped(Step::RestartCheck, "the server is not autounseal's to restart");
                return Ok(());
            }
        };
        let status = self.wait_until(new_pid, |s| s.initialized && !s.sealed).await?;
        // A background restart recorded the server anew: its seal is proved again here.
        self.record_proof(|p, now| {
            if status.seal_type == "awskms" {
                p.seal_verified.get_or_insert_with(|| now.clone());
            }
            p.restart_checked = Some(now);
        })?;
        self.rep.done(
            Step::RestartCheck,
            format!(
                "restarted and unsealed itself through KMS in {:.1} s, no key entered ({} seal)",
                started.elapsed().as_secs_f64(),
                status.seal_type
            ),
        );
        Ok(())
    }
}

/// A server coming up: where it answers, its process or unit, and where to look when it
/// does not (`rotate` watches restarts the same way).
pub(crate) struct Watch<'w> {
    pub client: VaultClient,
    /// A background server's process: its death is reported at once, with its log.
    pub pid: Option<u32>,
    pub timeout: Duration,
    pub log: PathBuf,
    pub launch: Launch,
    pub unit: String,
    pub env_file: &'w Path,
}

/// Polls seal-status until `ready` holds, watching that a background server lives.
pub(crate) async fn wait_until(watch: &Watch<'_>, ready: impl Fn(&SealStatus) -> bool) -> Result<SealStatus> {
    let client = &watch.client;
    let deadline = Instant::now() + watch.timeout;
    let log = &watch.log;
    let mut pause = Duration::from_millis(25);
    loop {
        if let Some(pid) = watch.pid
            && !launch::is_running(pid)
        {
            let tail = launch::log_tail(log, 15);
            let hint = seal_hint(watch.env_file, &tail);
            return Err(VaultError::Exited {
                status: launch::exit_status(pid),
                log: log.clone(),
                tail,
                hint,
            }
            .into());
        }
        if let Ok(status) = client.seal_status().await
            && ready(&status)
        {
            return Ok(status);
        }
        // A unit systemd gave up on will not answer: said now, not at the deadline.
        if watch.launch == Launch::Systemd && !watch.unit.is_empty() && launch::systemd_failed(&watch.unit) {
            let tail = launch::journal_tail(&watch.unit, 15);
            let hint = seal_hint(watch.env_file, &tail);
            return Err(VaultError::UnitFailed {
                unit: watch.unit.clone(),
                tail,
                hint,
            }
            .into());
        }
        if Instant::now() > deadline {
            // Where to look depends on who runs the server.
            let hint = match watch.launch {
                Launch::Background => format!(
                    ". The end of its log ({}):\n{}",
                    log.display(),
                    launch::log_tail(log, 15)
                ),
                Launch::Systemd => format!("; see `journalctl -u {}`", watch.unit),
                Launch::None => "; check the server you started (its output names the cause)".to_string(),
            };
            return Err(VaultError::NoAnswer {
                address: client.address.clone(),
                secs: watch.timeout.as_secs(),
                hint,
            }
            .into());
        }
        // A server on this machine answers within milliseconds: look again soon, then
        // every tenth of a second.
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

/// What to check when the server could not use its seal.
fn seal_hint(env_file: &Path, tail: &str) -> String {
    let denied = [
        "AccessDenied",
        "status code: 403",
        "UnrecognizedClient",
        "InvalidClientTokenId",
    ];
    if tail.contains("seal") && denied.iter().any(|d| tail.contains(d)) {
        format!(
            "\nThe server's AWS credentials ({}) may not use the KMS key: its IAM policy must allow kms:DescribeKey, \
             kms:Encrypt and kms:Decrypt on the key's ARN, and the access key must be active",
            env_file.display()
        )
    } else if tail.contains("start plugin client: checksums did not match") {
        "\nThe KMS plugin file is not the one the config declares (changed or replaced since): `autounseal apply` \
         installs the declared one again"
            .to_string()
    } else if tail.contains("start plugin client") {
        format!(
            "\nThe server ran the KMS plugin, but it did not answer as one: give openbao-plugin-kms-aws for linux_{}, \
             the binary unpacked from its release ({}), as server.kms_plugin",
            plugin::go_arch(),
            plugin::RELEASES
        )
    } else {
        String::new()
    }
}

/// Keys no one confirmed storing (the wizard left before its confirmation, a headless
/// run with PGP keys failed after init): saved to a new 0600 file in the state folder,
/// named with a readable UTC time, and recorded, so that the start menu, `status` and
/// Done name it until it is gone. Returns where they went.
pub async fn keep_unconfirmed_keys(
    secrets: &InitSecrets,
    state_dir: &Path,
    threshold: u16,
    address: &str,
) -> Result<PathBuf> {
    let store = ManifestStore::open(state_dir)?;
    let recorder = Recorder::new(Reporter::silent(), &store, false);
    let stamp = time::OffsetDateTime::now_utc()
        .format(time::macros::format_description!(
            "[year]-[month]-[day]T[hour]-[minute]-[second]Z"
        ))
        .unwrap_or_default();
    let path = state_dir.join(format!("recovery-keys-{stamp}.txt"));
    let save = |_| async { Ok(secrets.save(&path, threshold, address)?) };
    recorder
        .mutate(
            keys_file_change(&path),
            save,
            |m, saved: &PathBuf| m.record_file(FileRole::UnconfirmedRecoveryKeys, saved, None),
            |saved| saved.display().to_string(),
        )
        .await?
        .made()
}

/// Writing the recovery keys and root token to a new file (never over one).
/// A folder it needs is made for it, mode 0700, and said so.
fn keys_file_change(path: &Path) -> Change {
    let (folder, mkdir) = match files::folders_to_create(path) {
        Some(dir) => (
            format!("; creates the folder {} (mode 0700)", dir.display()),
            format!("install -d -m 0700 {} && ", quote(&dir.to_string_lossy())),
        ),
        None => (String::new(), String::new()),
    };
    Change::new(
        Step::SaveRecoveryKeys,
        "file:write",
        format!(
            "{} (mode 0600): the recovery keys and root token{folder}",
            path.display()
        ),
        format!("{mkdir}install -m 0600 /dev/stdin {}", quote(&path.to_string_lossy())),
    )
}

/// Stops the background server the manifest records (its data stays); a server run by
/// a systemd unit is the system's and is left running.
pub async fn stop_server(recorder: &Recorder<'_>, store: &ManifestStore, rep: &Reporter) -> Result<()> {
    rep.started(Step::StopServer);
    let Some(record) = store.snapshot().server else {
        rep.skipped(Step::StopServer, "no server recorded");
        return Ok(());
    };
    match record.pid {
        Some(pid) if launch::is_running(pid) => {
            let stop = |_| async move {
                launch::stop_background(pid, Duration::from_secs(15));
                if let Some(pid_file) = &record.pid_file {
                    let _ = files::remove_if_present(pid_file);
                }
                Ok(())
            };
            recorder
                .mutate(
                    Change::new(
                        Step::StopServer,
                        "process:stop",
                        format!("pid {pid}"),
                        format!("kill {pid}"),
                    ),
                    stop,
                    |m, _| m.server = None,
                    |_| format!("stopped pid {pid}; its data stays in its storage folder"),
                )
                .await?;
            return Ok(());
        }
        Some(_) => rep.skipped(Step::StopServer, "it had already stopped"),
        None => rep.skipped(
            Step::StopServer,
            format!("{} is the system's: left running", record.unit.unwrap_or_default()),
        ),
    }
    store.update(|m| m.server = None)
}
