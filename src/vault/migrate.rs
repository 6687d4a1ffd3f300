//! Seal migration: a Shamir-sealed server with data moved to the awskms seal (its
//! unseal keys become its recovery keys), and the way back before the KMS key goes
//! (`disabled = "true"` in the stanza, the recovery keys submitted with `migrate`, which
//! become the unseal keys again; then the stanza removed and a Shamir unseal checked).
//!
//! The keys are read once, from a 0600 file or standard input, into zeroizing strings,
//! and sent one by one from zeroizing memory; they never reach the answers file, the
//! manifest, a log or an error.

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use crate::answers::{Answers, ExistingServer, Launch};
use crate::files::{self, Existing, WriteOptions};
use crate::run::manifest::{FileRole, Manifest, ManifestStore, MigrationRecord, ServerRecord};
use crate::run::mutate::nothing_to_record;
use crate::run::{Change, Recorder, Reporter, RunError, Step};
use crate::twins::quote;
use crate::vault::client::{SealStatus, VaultClient};
use crate::vault::lifecycle::{self, Restarted};
pub use crate::vault::migrate_cluster::Direction;
use crate::vault::{VaultError, config, migrate_cluster};

type Result<T> = std::result::Result<T, RunError>;

/// How long a server may take to move its seal, or to come back after a restart.
const MIGRATION_TIMEOUT: Duration = Duration::from_secs(60);

/// How long the check before AWS waits for a server to say what it is.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// The most keys a file may hold: Shamir allows up to 255 shares.
const MAX_KEYS: usize = 255;

/// Unseal (or recovery) keys, in the order given. Wiped when dropped; never printed.
pub struct UnsealKeys(Vec<SecretString>);

impl std::fmt::Debug for UnsealKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "UnsealKeys({} keys: [redacted])", self.0.len())
    }
}

impl UnsealKeys {
    /// From a file only its owner can read: keys in a file others can read are already
    /// exposed, so it is refused (with the `chmod` that mends it).
    pub fn from_file(path: &Path) -> std::result::Result<UnsealKeys, VaultError> {
        let meta = std::fs::metadata(path)
            .map_err(|e| VaultError::Refused(format!("cannot read the keys file {}: {e}", path.display())))?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(VaultError::Refused(format!(
                "the keys file {} is readable by others (mode {mode:04o}): keys there are not secret any more. \
                 `chmod 600 {}` it (and consider who read it), then run again",
                path.display(),
                quote(&path.to_string_lossy())
            )));
        }
        let file = std::fs::File::open(path)
            .map_err(|e| VaultError::Refused(format!("cannot read the keys file {}: {e}", path.display())))?;
        UnsealKeys::from_reader(file, &path.display().to_string())
    }

    /// From a reader (standard input), read whole into a zeroizing buffer.
    pub fn from_reader(reader: impl Read, source: &str) -> std::result::Result<UnsealKeys, VaultError> {
        let mut text = Zeroizing::new(Vec::with_capacity(64 * 1024));
        reader
            .take(64 * 1024)
            .read_to_end(&mut text)
            .map_err(|e| VaultError::Refused(format!("cannot read the keys from {source}: {e}")))?;
        UnsealKeys::parse(&text, source)
    }

    /// One key a line. Blank lines and `#` comments are skipped; a line `LABEL: VALUE`
    /// counts when its label names a key (`Unseal Key 1: …` as `operator init` prints
    /// them, `Recovery Key 1: …` as autounseal saves them), so a root token line is not
    /// taken for a key.
    fn parse(text: &[u8], source: &str) -> std::result::Result<UnsealKeys, VaultError> {
        let text = std::str::from_utf8(text)
            .map_err(|_| VaultError::Refused(format!("the keys from {source} are not text")))?;
        let mut keys = Vec::new();
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let key = match line.rsplit_once(':') {
                Some((label, value)) if label.to_ascii_lowercase().contains("key") => value.trim(),
                Some(_) => continue,
                None => line,
            };
            if !key.is_empty() {
                keys.push(SecretString::from(key));
            }
        }
        if keys.is_empty() {
            return Err(VaultError::Refused(format!(
                "no key found in {source}: give one key a line"
            )));
        }
        if keys.len() > MAX_KEYS {
            return Err(VaultError::Refused(format!("{source} holds more than {MAX_KEYS} keys")));
        }
        Ok(UnsealKeys(keys))
    }

    /// Keys typed one by one (the wizard): each already in zeroizing memory.
    pub fn from_typed(keys: Vec<SecretString>) -> UnsealKeys {
        UnsealKeys(keys)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Where the keys of a migration come from on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeysSource {
    File(PathBuf),
    Stdin,
}

impl KeysSource {
    pub fn read(&self) -> std::result::Result<UnsealKeys, VaultError> {
        match self {
            KeysSource::File(path) => UnsealKeys::from_file(path),
            KeysSource::Stdin => {
                // The file descriptor itself: std's stdin buffer lives as long as the
                // process and would keep a copy of the keys.
                use std::os::fd::AsFd;
                let fd = std::io::stdin()
                    .as_fd()
                    .try_clone_to_owned()
                    .map_err(|e| VaultError::Refused(format!("cannot read standard input: {e}")))?;
                UnsealKeys::from_reader(std::fs::File::from(fd), "standard input")
            }
        }
    }
}

/// What a migration to awskms does, in the operator's words: for Review and `plan`.
pub fn explanation(answers: &Answers) -> Vec<String> {
    let restart = match answers.server.launch {
        Launch::Systemd => "restarts the server's systemd unit".to_string(),
        Launch::Background => "starts the server in the background".to_string(),
        Launch::None => format!(
            "stops there: you restart your server so that it reads {}, then run apply again",
            answers.output.vault_config.display()
        ),
    };
    vec![
        "Seal migration from Shamir to AWS KMS; the data stays where it is.".into(),
        format!(
            "autounseal writes the seal \"awskms\" stanza into {}, {restart};",
            answers.output.vault_config.display()
        ),
        "the server then waits for its unseal keys: the threshold of them is needed once, submitted one by one with \
         `migrate` (`operator unseal -migrate`);"
            .into(),
        "after that, KMS unseals it, and the same unseal keys become its recovery keys (for generate-root and rekey): \
         keep them."
            .into(),
    ]
}

/// Checks before anything is created in AWS: the keys are at hand, the server (when it
/// answers) is a single Shamir-initialised node, or one a migration already moved; a
/// server with data is never set up as new by mistake.
pub async fn preflight(answers: &Answers, m: &Manifest, keys: Option<&UnsealKeys>, plan: bool) -> Result<()> {
    let migrate = answers.server.existing == ExistingServer::Migrate;
    // Migrated by an earlier run: the server needs no key any more.
    let plan = plan || migrated_before(m, &config::api_addr(answers));
    let client = match VaultClient::new(&config::api_addr(answers), answers.server.ca_cert.as_deref()) {
        Ok(client) => client,
        // Only a migration needs the server now; the run checks the rest later.
        Err(_) if !migrate => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    // Bounded: whatever holds the port may never answer, and the other checks name it.
    let status = tokio::time::timeout(PROBE_TIMEOUT, client.seal_status())
        .await
        .ok()
        .and_then(|answer| answer.ok());
    match status {
        Some(s) if !migrate && s.is_shamir() => Err(VaultError::Refused(format!(
            "the server at {} is already initialised with a Shamir seal: it holds data. To move it to the awskms \
             seal, choose its seal migration (\"move it to AWS KMS\" on the wizard's Server screen; \
             server.existing = \"migrate\" in an answers file) and give its unseal keys (they become its recovery \
             keys)",
            client.address
        ))
        .into()),
        _ if !migrate => Ok(()),
        Some(s) if !s.initialized => Err(VaultError::Refused(format!(
            "server.existing = \"migrate\", but the server at {} is not initialised: there is nothing to migrate. \
             Set server.existing = \"new\" to set it up as a new server",
            client.address
        ))
        .into()),
        Some(s) if s.seal_type == "awskms" && !s.migration => Ok(()),
        Some(s) => {
            if !s.sealed {
                crate::vault::migrate_cluster::check_turn(&client, answers).await?;
            }
            enough_keys(keys, s.t, plan)
        }
        None if answers.server.launch == Launch::Background && folder_is_empty(&answers.server.storage_path) => {
            Err(VaultError::Refused(format!(
                "server.existing = \"migrate\", but nothing answers at {} and server.storage_path {} holds no data: \
                 there is nothing to migrate",
                client.address,
                answers.server.storage_path.display()
            ))
            .into())
        }
        None => enough_keys(keys, 1, plan),
    }
}

/// Whether the last migration `m` records moved the server at `address` to awskms.
pub fn migrated_before(m: &Manifest, address: &str) -> bool {
    m.migrations
        .iter()
        .rev()
        .find(|r| r.address == address)
        .is_some_and(|r| r.to == "awskms")
}

fn enough_keys(keys: Option<&UnsealKeys>, threshold: u16, plan: bool) -> Result<()> {
    match keys {
        _ if plan => Ok(()),
        None => Err(RunError::Other(
            "a seal migration needs the server's unseal keys, once: type them on the wizard's Unseal keys screen \
             (after Review), or give them to apply with --unseal-keys-file FILE (mode 0600) or --unseal-keys-stdin; \
             never on the command line"
                .into(),
        )),
        Some(k) if k.len() < threshold as usize => Err(RunError::Other(format!(
            "{} unseal keys given, but the server needs {threshold}",
            k.len()
        ))),
        Some(_) => Ok(()),
    }
}

fn folder_is_empty(path: &Path) -> bool {
    std::fs::read_dir(path).map_or(true, |mut entries| entries.next().is_none())
}

/// The record of a migration of the server at `address` made now, with how many keys
/// it took (none for the last node of a cluster, moved by the node that took over).
pub fn migration_record(direction: Direction, address: &str, keys_submitted: u16) -> MigrationRecord {
    let (from, to) = direction.seals();
    MigrationRecord {
        from: from.into(),
        to: to.into(),
        address: address.to_string(),
        at: crate::run::manifest::now_rfc3339(),
        keys_submitted,
    }
}

/// Submits the keys one by one with `migrate` (each a change, with its twin) until
/// the server is unsealed, and records the migration. `step` is the step they belong to.
pub async fn submit_migration(
    recorder: &Recorder<'_>,
    client: &VaultClient,
    keys: &UnsealKeys,
    direction: Direction,
    step: Step,
    cli: &str,
) -> Result<SealStatus> {
    submit(recorder, client, keys, Some(direction), step, cli).await
}

/// Submits the keys one by one (with `migrate` when a direction is given) until the
/// server is unsealed; errors if the keys run out first.
async fn submit(
    recorder: &Recorder<'_>,
    client: &VaultClient,
    keys: &UnsealKeys,
    migration: Option<Direction>,
    step: Step,
    cli: &str,
) -> Result<SealStatus> {
    let migrate = migration.is_some();
    let status = client.seal_status().await?;
    let threshold = status.t.max(1);
    if keys.len() < threshold as usize {
        return Err(RunError::Other(format!(
            "{} keys given, but the server at {} needs {threshold}",
            keys.len(),
            client.address
        )));
    }
    let flag = if migrate { " -migrate" } else { "" };
    let mut last = status;
    for (i, key) in keys.0.iter().enumerate() {
        let number = i + 1;
        // The caller says when the step is through.
        let change = Change::new(
            step,
            if migrate {
                "vault:unseal-migrate"
            } else {
                "vault:unseal"
            },
            format!("key {number} of {threshold}"),
            format!("{cli} operator unseal{flag} -address={}", client.address),
        )
        .on_the_way();
        // A standby of a cluster, unsealed by this key on its new seal, may answer the
        // key with the seal status it cannot give yet: it took the key.
        let unsealed_waiting = SealStatus {
            sealed: false,
            migration: true,
            progress: 0,
            ..last.clone()
        };
        let applied = recorder
            .mutate(
                change,
                |action| async move {
                    match client.unseal(key.expose_secret(), migrate).await {
                        Ok(status) => Ok(status),
                        Err(VaultError::Http { body, .. }) if migrate && migrate_cluster::says_it_waits(&body) => {
                            Ok(unsealed_waiting)
                        }
                        Err(VaultError::Http { status, body, .. }) => Err(RunError::Other(format!(
                            "{action}: the server refused key {number} ({status}: {body}); check the keys given"
                        ))),
                        Err(other) => Err(other.into()),
                    }
                },
                |m: &mut Manifest, s: &SealStatus| {
                    if let (false, Some(direction)) = (s.sealed, migration) {
                        m.migrations
                            .push(migration_record(direction, &client.address, number as u16));
                    }
                },
                |s| {
                    if s.sealed {
                        format!("key {number} accepted ({} of {threshold})", s.progress)
                    } else if migrate {
                        format!("{number} keys accepted: the server moves its seal")
                    } else {
                        format!("{number} keys accepted: unsealed")
                    }
                },
            )
            .await?;
        let Some(status) = applied.done() else {
            unreachable!("a plan lists the migration's call and never submits a key")
        };
        if !status.sealed {
            return match migration {
                Some(direction) => migration_through(client, direction, status).await,
                None => Ok(status),
            };
        }
        last = status;
    }
    Err(RunError::Other(format!(
        "the server at {} is still sealed after {} keys (threshold {threshold}, progress {}): check that they are \
         this server's keys",
        client.address,
        keys.len(),
        last.progress
    )))
}

/// Waits for the server to finish a migration: it moves the seal only once it is the
/// active node, a moment after the last key; a restart before that would undo it. A
/// standby of a cluster never moves it: unsealed on its new seal (`unsealed`), it is
/// through, and the cluster's seal moves when a migrated node becomes active.
async fn migration_through(client: &VaultClient, direction: Direction, unsealed: SealStatus) -> Result<SealStatus> {
    let (_, to) = direction.seals();
    let deadline = Instant::now() + MIGRATION_TIMEOUT;
    loop {
        if client
            .leader()
            .await
            .is_ok_and(|l| l.ha_enabled && !l.is_self && !l.leader_address.is_empty())
        {
            return Ok(unsealed);
        }
        // While it moves the seal, the server may answer with an error for a moment.
        let status = client.seal_status().await;
        if let Ok(s) = &status
            && !s.migration
            && !s.sealed
            && s.seal_type == to
        {
            return status.map_err(Into::into);
        }
        if Instant::now() > deadline {
            let status = status?;
            return Err(VaultError::Refused(format!(
                "the server at {} took the keys but did not finish the seal migration to {to} within {} s \
                 (seal {}, migration {}); see its log",
                client.address,
                MIGRATION_TIMEOUT.as_secs(),
                status.seal_type,
                status.migration
            ))
            .into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The state of the seal stanza in a config file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stanza {
    Active,
    Disabled,
    Gone,
}

fn stanza(config: &Path) -> Result<Stanza> {
    let text = match std::fs::read_to_string(config) {
        // A seal stanza of its own (autounseal-seal.hcl) goes whole on the way back.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && is_fragment(config) => return Ok(Stanza::Gone),
        other => {
            other.map_err(|e| RunError::Other(format!("cannot read the server's config {}: {e}", config.display())))?
        }
    };
    let parsed: serde_json::Value = hcl::from_str(&text)
        .map_err(|e| RunError::Other(format!("the server's config {} does not parse: {e}", config.display())))?;
    let seal = &parsed["seal"]["awskms"];
    Ok(if seal.is_null() {
        Stanza::Gone
    } else if seal["disabled"].as_str() == Some("true") || seal["disabled"].as_bool() == Some(true) {
        Stanza::Disabled
    } else {
        Stanza::Active
    })
}

/// The server a manifest knows about whose data its KMS key still seals (the key
/// destroy would delete, or a cluster's key a migrated node uses), said in words naming
/// the data; `None` when nothing is stranded (no key, no server, or a server back on
/// Shamir with its way back finished). The caller asks only where that matters.
pub async fn data_sealed_by_key(m: &Manifest) -> Option<String> {
    let key = m.kms_key.as_ref()?;
    let server = m.server.as_ref()?;
    let storage = m
        .storage_path
        .as_ref()
        .map(|p| format!(" (storage {})", p.display()))
        .unwrap_or_default();
    let what = format!(
        "all the data of the server at {}{storage}, sealed by KMS key {}",
        server.address, key.key_id
    );
    let live = match VaultClient::new(&server.address, server.ca_cert.as_deref()) {
        Ok(client) => client.seal_status().await.ok(),
        Err(_) => None,
    };
    match live {
        Some(s) if s.initialized && s.seal_type == "awskms" => Some(what),
        // On Shamir, but the way back stopped before its stanza went (a standby of a
        // cluster, waiting for it): the way back finishes first.
        Some(_) if stanza(&server.config).is_ok_and(|s| s == Stanza::Disabled) => Some(format!(
            "{what}: its way back to Shamir is not finished (the seal stanza is disabled, not removed yet)"
        )),
        Some(_) => None,
        // Not answering: its data, if any, is still sealed by the key.
        None => m
            .storage_path
            .as_ref()
            .filter(|p| !folder_is_empty(p))
            .map(|_| format!("{what} (the server does not answer now)")),
    }
}

/// Where the way back of one server ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackOutcome {
    /// On Shamir, its seal stanza gone: destroy goes on.
    Done,
    /// A standby of a cluster whose seal has not moved yet: destroy stops here, and says so.
    WaitsForTheCluster(String),
}

/// The way back to Shamir before the key goes, for `destroy --migrate-back`: each stage
/// is judged from the live seal status and the config, so a run stopped half-way (or a
/// server that is the operator's to restart) resumes where it was.
pub struct MigrateBack<'a> {
    pub store: &'a ManifestStore,
    pub rep: Reporter,
    pub state_dir: &'a Path,
    pub recorder: Recorder<'a>,
}

impl<'a> MigrateBack<'a> {
    pub fn new(store: &'a ManifestStore, rep: Reporter, state_dir: &'a Path) -> MigrateBack<'a> {
        MigrateBack {
            store,
            recorder: Recorder::new(rep.clone(), store, false),
            rep,
            state_dir,
        }
    }

    fn server(&self) -> Result<ServerRecord> {
        self.store
            .snapshot()
            .server
            .ok_or_else(|| RunError::Other("the manifest records no server to migrate back".into()))
    }

    /// Disables the stanza, restarts, submits the recovery keys with `migrate`; then
    /// removes the stanza, restarts, and checks that the same keys unseal the server.
    /// Afterwards the config (now with no seal stanza) is the server's, kept by destroy.
    /// A node of a cluster goes in the cluster's order (see `vault::migrate_cluster`): a
    /// standby stops once unsealed on Shamir, until the active node, last, has moved the
    /// cluster's seal; run again then, it finishes.
    pub async fn run(&self, keys: &UnsealKeys) -> Result<BackOutcome> {
        let step = Step::MigrateBack;
        self.rep.started(step);
        let server = self.server()?;
        let ca = server.ca_cert.as_deref();
        let client = VaultClient::new(&server.address, ca)?;
        let cli = cli_name(&server.binary);
        if let Some(waiting) = self.waiting(&client, &server).await {
            return Ok(waiting);
        }
        let status = client.seal_status().await?;
        let initial_stanza = stanza(&server.config)?;
        // Resumes: a migration in progress waits for keys; a Shamir server is past it.
        if status.seal_type == "awskms" && !status.migration {
            if !status.sealed {
                migrate_cluster::check_turn_back(&client, &server.config, ca).await?;
            }
            if initial_stanza == Stanza::Active {
                self.disable_stanza(&server.config).await?;
            }
            self.restart().await?;
        }
        let status = self.wait(&client, |s| s.migration || s.seal_type == "shamir").await?;
        if status.migration {
            submit(&self.recorder, &client, keys, Some(Direction::BackToShamir), step, cli).await?;
            self.rep.warn(
                "The recovery keys are now the server's unseal keys: every start of the server needs the threshold \
                 of them from now on. Keep them as you would unseal keys.",
            );
            if let Some(waiting) = self.waiting(&client, &server).await {
                return Ok(waiting);
            }
        }
        let mut kept_backup = None;
        if stanza(&server.config)? != Stanza::Gone {
            kept_backup = self.put_back_config(&server.config).await?;
            self.restart().await?;
        }
        let status = self.wait(&client, |s| s.seal_type == "shamir" && s.initialized).await?;
        if status.sealed {
            submit(&self.recorder, &client, keys, None, step, cli).await?;
        }
        let status = client.seal_status().await?;
        if status.sealed || status.seal_type != "shamir" {
            return Err(RunError::Other(format!(
                "the server at {} is {} with seal {} after the way back; the KMS key is kept",
                server.address,
                if status.sealed { "sealed" } else { "unsealed" },
                status.seal_type
            )));
        }
        // The config is the server's now: destroy keeps it.
        self.store
            .update(|m| m.files.retain(|f| f.role != FileRole::VaultConfig))?;
        let config_now = match kept_backup {
            Some(backup) => format!(
                "{} stays without its seal stanza (you edited it since; the copy from before autounseal is {})",
                server.config.display(),
                backup.display()
            ),
            None if is_fragment(&server.config) => format!("{} removed", server.config.display()),
            None => format!("{} is as it was before autounseal", server.config.display()),
        };
        self.rep.done(
            step,
            format!(
                "back on Shamir: {} restarted sealed and the same keys unsealed it; {config_now}",
                server.address
            ),
        );
        Ok(BackOutcome::Done)
    }

    /// A standby of a cluster on its way back, unsealed on Shamir, while the cluster's
    /// seal has not moved yet: its stanza stays (its key too, which the node that moves
    /// the seal may need), and what comes next is said.
    async fn waiting(&self, client: &VaultClient, server: &ServerRecord) -> Option<BackOutcome> {
        let ca = server.ca_cert.as_deref();
        let deadline = Instant::now() + MIGRATION_TIMEOUT;
        loop {
            if !migrate_cluster::waits_for_the_active(client).await {
                return None;
            }
            // Every other node moved: the seal moves once one of them is active (this
            // node was the active one, taken back last).
            let all_moved =
                migrate_cluster::all_moved(&server.config, &client.address, ca, Direction::BackToShamir).await;
            if !all_moved || Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let next = migrate_cluster::next_step_back(&server.config, &client.address, ca)
            .await
            .unwrap_or_default();
        let said = format!(
            "{} is unsealed on Shamir and waits for the active node, taken back last, to move the cluster's seal; \
             its stanza, access key and user stay until then ({next})",
            client.address
        );
        self.rep.skipped(Step::MigrateBack, said.clone());
        Some(BackOutcome::WaitsForTheCluster(said))
    }

    /// `disabled = "true"` into the stanza, in its own lines: the rest stays byte for byte.
    async fn disable_stanza(&self, config: &Path) -> Result<()> {
        let text = std::fs::read_to_string(config)
            .map_err(|e| RunError::Other(format!("cannot read {}: {e}", config.display())))?;
        let edited = config::with_awskms_disabled(&text)
            .map_err(|e| RunError::Other(format!("cannot edit the seal stanza of {}: {e}", config.display())))?;
        self.write_config(
            config,
            edited,
            format!("{}: disabled = \"true\" in seal \"awskms\"", config.display()),
            format!(
                "# add disabled = \"true\" to the seal \"awskms\" block of {}",
                config.display()
            ),
        )
        .await
    }

    /// The config as it was before autounseal: the operator's own bytes put back when
    /// they have not edited it since (the backup autounseal kept), else the stanza's
    /// bytes cut and nothing else; a seal stanza of its own removed. Returns the backup
    /// it left in place, when it did.
    async fn put_back_config(&self, config: &Path) -> Result<Option<PathBuf>> {
        if is_fragment(config) {
            let path = config.display().to_string();
            let remove = |_| async {
                files::remove_if_present(config).map_err(|e| RunError::Other(format!("cannot remove {path}: {e}")))?;
                Ok(())
            };
            self.recorder
                .mutate(
                    Change::new(
                        Step::MigrateBack,
                        "file:remove",
                        &path,
                        format!("rm -f {}", quote(&path)),
                    )
                    .on_the_way(),
                    remove,
                    nothing_to_record,
                    |_| format!("{path} removed"),
                )
                .await?;
            return Ok(None);
        }
        let text = std::fs::read_to_string(config)
            .map_err(|e| RunError::Other(format!("cannot read {}: {e}", config.display())))?;
        let backup = self
            .store
            .snapshot()
            .file(FileRole::VaultConfig)
            .and_then(|f| f.backup.clone())
            .filter(|b| b.is_file());
        let original = backup.as_ref().and_then(|b| std::fs::read_to_string(b).ok());
        if let (Some(backup), Some(original)) = (&backup, original)
            && config::only_our_stanza_added(&original, &text)
        {
            let shown = backup.display().to_string();
            self.write_config(
                config,
                original,
                format!("{}: put back as it was before autounseal", config.display()),
                format!(
                    "cat {} > {} && rm {}",
                    quote(&shown),
                    quote(&config.to_string_lossy()),
                    quote(&shown)
                ),
            )
            .await?;
            files::remove_if_present(backup).map_err(|e| RunError::Other(format!("cannot remove {shown}: {e}")))?;
            return Ok(None);
        }
        let edited = config::without_awskms(&text)
            .map_err(|e| RunError::Other(format!("cannot edit the seal stanza of {}: {e}", config.display())))?;
        self.write_config(
            config,
            edited,
            format!("{}: seal \"awskms\" removed", config.display()),
            format!("# remove the seal \"awskms\" block of {}", config.display()),
        )
        .await?;
        Ok(backup)
    }

    /// Writes the server's config; it keeps the owner and mode it has (the operator's,
    /// often root:vault 0640).
    async fn write_config(&self, config: &Path, text: String, detail: String, twin: String) -> Result<()> {
        let write = |_| async {
            files::write_atomic(
                config,
                text.as_bytes(),
                WriteOptions::config_at(config, Existing::Replace, None),
            )?;
            Ok(())
        };
        let said = detail.clone();
        self.recorder
            .mutate(
                Change::new(Step::MigrateBack, "file:write", detail, twin).on_the_way(),
                write,
                nothing_to_record,
                |_| said,
            )
            .await?;
        Ok(())
    }

    /// Restarts the server as it was launched; one that is the operator's is theirs to
    /// restart, and the run stops with what to do.
    async fn restart(&self) -> Result<()> {
        // The record as it is now: an earlier restart changed its pid.
        let server = &self.server()?;
        let manifest = self.store.snapshot();
        let env_file = manifest
            .file(FileRole::EnvFile)
            .map(|f| f.path.clone())
            .unwrap_or_default();
        let restarted =
            lifecycle::restart(&self.recorder, Step::MigrateBack, server, &env_file, self.state_dir).await?;
        if restarted == Restarted::NotOurs {
            return Err(RunError::Other(format!(
                "restart the server at {} yourself so that it reads {}, then run `destroy --migrate-back` again: it \
                 goes on from there",
                server.address,
                server.config.display()
            )));
        }
        Ok(())
    }

    async fn wait(&self, client: &VaultClient, ready: impl Fn(&SealStatus) -> bool) -> Result<SealStatus> {
        let deadline = Instant::now() + MIGRATION_TIMEOUT;
        loop {
            match client.seal_status().await {
                Ok(s) if ready(&s) => return Ok(s),
                _ if Instant::now() > deadline => {
                    return Err(VaultError::NoAnswer {
                        address: client.address.clone(),
                        secs: MIGRATION_TIMEOUT.as_secs(),
                        hint: " in the state the way back expects".into(),
                    }
                    .into());
                }
                _ => tokio::time::sleep(Duration::from_millis(250)).await,
            }
        }
    }
}

/// Whether `config` is a seal stanza of its own beside the operator's files.
fn is_fragment(config: &Path) -> bool {
    config.file_name().is_some_and(|n| n == config::SEAL_FRAGMENT)
}

/// `bao` or `vault`, from the binary's name, for the twins.
fn cli_name(binary: &Path) -> &'static str {
    if binary.file_name().is_some_and(|n| n.to_string_lossy().contains("bao")) {
        "bao"
    } else {
        "vault"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(text: &str) -> Vec<String> {
        let parsed = UnsealKeys::parse(text.as_bytes(), "test").unwrap();
        parsed.0.iter().map(|k| k.expose_secret().to_string()).collect()
    }

    #[test]
    fn keys_are_read_bare_or_as_operator_init_prints_them_and_tokens_are_not_keys() {
        assert_eq!(keys("abc\n\n# note\n  def  \n"), ["abc", "def"]);
        let init = "Unseal Key 1: k1\nUnseal Key 2: k2\nInitial Root Token: s.token\n";
        assert_eq!(keys(init), ["k1", "k2"]);
        assert_eq!(keys("Recovery Key 1: r1\nInitial root token: t\n"), ["r1"]);
        assert!(UnsealKeys::parse(b"# nothing\n", "test").is_err());
    }

    #[test]
    fn a_keys_file_others_can_read_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys");
        std::fs::write(&path, "k1\nk2\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = UnsealKeys::from_file(&path).unwrap_err().to_string();
        assert!(err.contains("readable by others (mode 0644)"), "{err}");
        assert!(!err.contains("k1"), "{err}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let keys = UnsealKeys::from_file(&path).unwrap();
        assert_eq!(keys.len(), 2);
        assert!(!format!("{keys:?}").contains("k1"));
    }
}
