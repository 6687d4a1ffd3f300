//! The whole job, shared by `apply`, `plan` and the wizard: everything that can be
//! checked is checked first, then AWS, then the Vault side.

use std::path::{Path, PathBuf};

use crate::answers::Answers;
use crate::aws::destroy::{DestroyOptions, destroy_aws};
use crate::aws::provision::AwsSummary;
use crate::aws::{AwsContext, Connection, Provisioner};
use crate::files;
use crate::run::manifest::{FileRole, Manifest, Origin};
use crate::run::{ApplyOptions, Call, Change, ManifestStore, Recorder, Reporter, Result, RunError, Step};
use crate::twins::quote;
use crate::vault::deploy::{
    Checked, DeployOutcome, Deployer, InitGate, KeysDestination, fetch_plugin, preflight, stop_server,
};
use crate::vault::discover::Host;
use crate::vault::migrate::{self, UnsealKeys};

/// The files an undo removes. The recovery keys file stays: it is the operator's until
/// they move it.
pub const UNDONE_FILES: [FileRole; 9] = [
    FileRole::MonitorUnit,
    FileRole::EnvFile,
    FileRole::SharedCredentials,
    FileRole::CredentialsCsv,
    FileRole::VaultConfig,
    FileRole::SystemdDropIn,
    FileRole::ClusterFile,
    FileRole::KmsPlugin,
    FileRole::KmsPluginFolder,
];

pub struct FlowOutcome {
    /// Where the seal calls KMS, when not AWS itself (see `AwsContext::kms_endpoint`).
    pub kms_endpoint: Option<String>,
    /// The key and user, as the front ends show them (see [`AwsSummary`]).
    pub aws: AwsSummary,
    pub vault: DeployOutcome,
    pub calls: Vec<Call>,
    /// What the host had; it filled the unset answers (see [`Host::fill`]).
    pub host: Host,
}

pub async fn run(
    answers: &Answers,
    state_dir: &Path,
    opts: ApplyOptions,
    keys: KeysDestination,
    rep: &Reporter,
) -> Result<FlowOutcome> {
    run_with(answers, state_dir, opts, keys, rep, InitGate::default(), None).await
}

/// [`run`], with a gate the wizard holds while it asks whether to quit (see
/// [`InitGate`]), and the unseal keys a seal migration submits (see `vault::migrate`).
pub async fn run_with(
    answers: &Answers,
    state_dir: &Path,
    opts: ApplyOptions,
    keys: KeysDestination,
    rep: &Reporter,
    gate: InitGate,
    unseal_keys: Option<UnsealKeys>,
) -> Result<FlowOutcome> {
    provision(answers, state_dir, opts, keys, rep, gate, unseal_keys)
        .await?
        .deploy(rep)
        .await
}

/// A run whose AWS part is done and whose server part is still to come: a local
/// cluster's other nodes make theirs while the first node's server starts and proves
/// itself (see `cluster::apply`).
pub struct ReadyForServer {
    /// The answers as the host filled them.
    answers: Answers,
    state_dir: PathBuf,
    store: ManifestStore,
    host: Host,
    checked: Checked,
    opts: ApplyOptions,
    keys: KeysDestination,
    gate: InitGate,
    unseal_keys: Option<UnsealKeys>,
    aws: crate::aws::provision::Provisioned,
    calls: Vec<Call>,
    kms_endpoint: Option<String>,
}

/// Everything that can be checked, then the AWS part: what [`run_with`] does before
/// the server.
pub async fn provision(
    answers: &Answers,
    state_dir: &Path,
    opts: ApplyOptions,
    keys: KeysDestination,
    rep: &Reporter,
    gate: InitGate,
    unseal_keys: Option<UnsealKeys>,
) -> Result<ReadyForServer> {
    answers.check()?;
    // The host decides the unit, paths and owner that the operator left unset.
    let host = Host::discover(answers).probe_server(answers).await;
    let (filled, _) = host.fill(answers);
    let answers = filled;
    let store = if opts.dry_run {
        ManifestStore::detached(ManifestStore::open(state_dir)?.snapshot())
    } else {
        ManifestStore::open(state_dir)?
    };
    // A rotation that stopped half-way has two keys in play and the old key's files as
    // backups: an apply now would take the new key's saved secret for a lost one.
    if let Some(r) = &store.snapshot().rotation {
        return Err(RunError::Other(format!(
            "a rotation of access key {} stopped half-way ({}): run `autounseal rotate` with the same state \
             folder first, to finish it or roll it back; then run this again",
            r.old_key_id,
            r.rolling_back
                .as_deref()
                .map_or("not rolled back".to_string(), |why| format!("rolling back: {why}"))
        )));
    }
    // A missing server binary or a taken port must stop the run before AWS is touched.
    // First: a live server with data says best what it is (before its port or storage
    // is refused as taken).
    migrate::preflight(&answers, &store.snapshot(), unseal_keys.as_ref(), opts.dry_run).await?;
    let fetched = fetch_plugin(&answers, state_dir)?;
    let checked = preflight(&answers, &store, &keys, opts, &host, fetched.as_deref())?;
    if let Some(warning) = answers.plain_http_warning() {
        rep.warn(warning);
    }
    let (aws, calls, kms_endpoint) = {
        // The AWS clients go when the AWS part is done: with them their connections,
        // whose read buffers held the new access key's answer.
        let ctx = AwsContext::connect(Connection::from_answers(&answers)).await;
        let provisioner = Provisioner::new(&ctx, &answers, &store, rep.clone(), opts);
        let aws = provisioner.run().await?;
        (aws, provisioner.calls(), ctx.kms_endpoint())
    };
    Ok(ReadyForServer {
        answers,
        state_dir: state_dir.to_path_buf(),
        store,
        host,
        checked,
        opts,
        keys,
        gate,
        unseal_keys,
        aws,
        calls,
        kms_endpoint,
    })
}

impl ReadyForServer {
    /// The key this run's server will seal with (none in a plan).
    pub fn key_arn(&self) -> Option<&str> {
        match &self.aws.key {
            crate::run::Applied::Done(key) => Some(&key.arn),
            crate::run::Applied::Planned => None,
        }
    }

    /// The server part: its config, start, init and proofs.
    pub async fn deploy(self, rep: &Reporter) -> Result<FlowOutcome> {
        let ReadyForServer {
            answers,
            state_dir,
            store,
            host,
            checked,
            opts,
            keys,
            gate,
            unseal_keys,
            aws,
            mut calls,
            kms_endpoint,
        } = self;
        if gate.stopped() {
            return Err(RunError::StoppedOnRequest {
                when: "after the AWS part: the server was not touched",
            });
        }
        // The server's seal must reach KMS where autounseal's own calls did (an emulator,
        // a VPC endpoint), even when that came from AWS_ENDPOINT_URL(_KMS) or the profile.
        let mut seal_answers = answers.clone();
        seal_answers.endpoint_url = kms_endpoint;
        let deployer = Deployer::new(&seal_answers, &store, rep.clone(), &state_dir, opts, checked, keys)
            .with_gate(gate)
            .with_unseal_keys(unseal_keys);
        let vault = deployer.run(&aws.key).await?;
        let aws = aws.summary(&answers.region, &answers.iam.user_name);
        calls.extend(deployer.calls());
        Ok(FlowOutcome {
            kms_endpoint: seal_answers.endpoint_url,
            aws,
            vault,
            calls,
            host,
        })
    }
}

/// Undoes what the manifest says autounseal made, newest first: the server it started,
/// then AWS (as `destroy_aws`), then the files it wrote. Shared by `destroy` and the demo.
pub async fn undo(ctx: &AwsContext, store: &ManifestStore, rep: &Reporter, opts: DestroyOptions) -> Result<()> {
    let recorder = Recorder::new(rep.clone(), store, false);
    stop_server(&recorder, store, rep).await?;
    // A rotation that stopped half-way kept the old key's files as backups; its keys go
    // with the others below, and their secrets are dead then.
    let rotation_backups: Vec<PathBuf> = store
        .snapshot()
        .rotation
        .map(|r| r.backups.into_iter().map(|b| b.backup).collect())
        .unwrap_or_default();
    destroy_aws(ctx, store, rep, opts).await?;
    for backup in rotation_backups {
        files::remove_if_present(&backup)
            .map_err(|e| RunError::Other(format!("cannot remove {}: {e}", backup.display())))?;
    }
    remove_files(&recorder, store, rep, &UNDONE_FILES).await
}

/// What [`undo`] will do with what `m` records, one line each: what `destroy` asks to
/// confirm. `migrate_back`: the way back to Shamir runs first, and keeps the server's
/// config (see `vault::migrate::MigrateBack`).
pub fn undo_plan(m: &Manifest, migrate_back: bool) -> Vec<String> {
    let verb = |o: Origin| {
        if o == Origin::Created {
            "delete"
        } else {
            "keep (reused)"
        }
    };
    let mut lines = Vec::new();
    if let Some(k) = &m.access_key {
        lines.push(format!("delete access key {} of {}", k.id, k.user));
    }
    if let Some(r) = &m.rotation {
        if let Some(new) = r
            .new_key_id
            .as_ref()
            .filter(|id| m.access_key.as_ref().is_none_or(|k| k.id != **id))
        {
            lines.push(format!(
                "delete access key {new} of {}, made by a rotation that stopped",
                r.user
            ));
        }
        for b in &r.backups {
            lines.push(format!("remove {} (the old key's saved form)", b.backup.display()));
        }
    }
    if let Some(p) = &m.iam_policy {
        lines.push(format!("{} policy {}", verb(p.origin), p.arn));
    }
    if let Some(u) = &m.iam_user {
        lines.push(format!("{} IAM user {}", verb(u.origin), u.arn));
    }
    if let Some(a) = &m.kms_alias {
        lines.push(format!("{} alias {}", verb(a.origin), a.name));
    }
    let schedule = |o: Origin| {
        if o == Origin::Created {
            "schedule the deletion of"
        } else {
            "keep (reused)"
        }
    };
    for a in &m.kms_alarms {
        let topic = if a.topic_origin == Origin::Created {
            format!("and its topic {}", a.topic_arn)
        } else {
            format!("(your topic {} stays)", a.topic_arn)
        };
        lines.push(format!(
            "delete the key alarm in {}: rule {} {topic}",
            a.region, a.rule_name
        ));
    }
    // Replicas first: KMS deletes a primary key only once it has no replica left.
    for r in &m.kms_replicas {
        if let Some(alias) = &r.alias {
            lines.push(format!("{} alias {alias} in {}", verb(r.origin), r.region));
        }
        lines.push(format!("{} the replica in {}: {}", schedule(r.origin), r.region, r.arn));
    }
    if let Some(k) = &m.kms_key {
        lines.push(format!("{} KMS key {}", schedule(k.origin), k.arn));
    }
    if let Some(s) = &m.server
        && s.pid.is_some()
    {
        lines.push(format!("stop the server at {} (its data folder stays)", s.address));
    }
    if !m.pending.is_empty() {
        lines.push(format!(
            "look for what {} create(s) of an interrupted run made, and remove it",
            m.pending.len()
        ));
    }
    let mut undone: Vec<_> = m.files.iter().filter(|f| UNDONE_FILES.contains(&f.role)).collect();
    undone.sort_by_key(|f| removal_rank(f.role));
    for f in undone {
        let path = f.path.display();
        lines.push(match (f.role, &f.backup) {
            (FileRole::VaultConfig, _) if migrate_back => format!(
                "keep {path}: the way back puts it back as it was before autounseal (if you edited it since, \
                 only its seal stanza goes)"
            ),
            (_, Some(backup)) if backup.exists() => {
                format!(
                    "put back {path} as it was before autounseal (from {})",
                    backup.display()
                )
            }
            (FileRole::SystemdDropIn, _) => format!("remove {path}, then `systemctl daemon-reload`"),
            (FileRole::MonitorUnit, _) if is_timer(&f.path) => {
                format!("stop and disable doctor's timer, remove {path}")
            }
            (FileRole::KmsPluginFolder, _) => format!("remove the folder {path} when it is empty"),
            _ => format!("remove {path}"),
        });
    }
    lines
}

/// The order files go in: the KMS plugin after the config that declares it (a config
/// whose restore failed never names a missing plugin), its folder after the files in it.
fn removal_rank(role: FileRole) -> u8 {
    match role {
        FileRole::KmsPlugin => 1,
        FileRole::KmsPluginFolder => 2,
        _ => 0,
    }
}

/// A systemd timer unit (`monitor install`'s `.timer`).
fn is_timer(path: &std::path::Path) -> bool {
    path.extension().is_some_and(|e| e == "timer")
}

/// Removes the files autounseal wrote (the saved secret is dead once its key is
/// deleted), putting back what they replaced.
pub async fn remove_files(
    recorder: &Recorder<'_>,
    store: &ManifestStore,
    rep: &Reporter,
    roles: &[FileRole],
) -> Result<()> {
    rep.started(Step::RemoveFiles);
    let mut done = Vec::new();
    let mut reload_systemd = false;
    let mut records: Vec<_> = store
        .snapshot()
        .files
        .into_iter()
        .filter(|f| roles.contains(&f.role))
        .collect();
    records.sort_by_key(|f| removal_rank(f.role));
    for record in records {
        let path = record.path.display().to_string();
        let backup = record.backup.clone().filter(|b| b.exists());
        let twin = match &backup {
            Some(b) => format!("mv {} {}", quote(&b.display().to_string()), quote(&path)),
            None => format!("rm -f {}", quote(&path)),
        };
        // Doctor's timer stops first: it would run doctor on a setup being removed.
        if record.role == FileRole::MonitorUnit && is_timer(&record.path) {
            let name = record
                .path
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            let disable = |_| async {
                // Not loaded (a host whose systemd is gone, a removed unit): nothing runs it.
                let _ = crate::vault::launch::systemctl_action(&["disable", "--now", &name], &name);
                Ok(())
            };
            recorder
                .mutate(
                    Change::new(
                        Step::RemoveFiles,
                        "systemd:disable",
                        &name,
                        format!("systemctl disable --now {name}"),
                    )
                    .on_the_way(),
                    disable,
                    crate::run::mutate::nothing_to_record,
                    |_| format!("{name} stopped and disabled"),
                )
                .await?;
        }
        let remove = |_| async {
            let io = |e: std::io::Error| RunError::Other(format!("cannot remove {path}: {e}"));
            if record.role == FileRole::KmsPluginFolder {
                // Only when empty: anything else in it is the operator's.
                return match std::fs::remove_dir(&record.path) {
                    Err(e)
                        if e.kind() != std::io::ErrorKind::NotFound
                            && e.kind() != std::io::ErrorKind::DirectoryNotEmpty =>
                    {
                        Err(io(e))
                    }
                    _ => Ok(()),
                };
            }
            files::remove_if_present(&record.path).map_err(io)?;
            if let Some(backup) = &backup {
                std::fs::rename(backup, &record.path).map_err(io)?;
            }
            // The drop-in's folder (`vault.service.d`) was made for it: gone when empty.
            if record.role == FileRole::SystemdDropIn
                && let Some(folder) = record.path.parent()
            {
                let _ = std::fs::remove_dir(folder);
            }
            Ok(())
        };
        let said = match &backup {
            Some(_) => format!("{path} (restored the earlier one)"),
            None => path.clone(),
        };
        recorder
            .mutate(
                Change::new(Step::RemoveFiles, "file:remove", &path, twin).on_the_way(),
                remove,
                |m, _| m.files.retain(|f| f != &record),
                |_| said.clone(),
            )
            .await?;
        done.push(said);
        if matches!(record.role, FileRole::SystemdDropIn | FileRole::MonitorUnit) {
            reload_systemd = true;
        }
    }
    // systemd still holds the removed drop-in's `EnvironmentFile=`: without a reload the
    // unit's next start fails on the missing file.
    if reload_systemd {
        let reload = |_| async { Ok(crate::vault::launch::systemd_daemon_reload()?) };
        recorder
            .mutate(
                Change::new(
                    Step::RemoveFiles,
                    "systemd:daemon-reload",
                    "so that systemd forgets what was removed (a unit, a drop-in)",
                    "systemctl daemon-reload",
                )
                .on_the_way(),
                reload,
                crate::run::mutate::nothing_to_record,
                |_| "systemd reloaded".to_string(),
            )
            .await?;
        done.push("systemd reloaded".into());
    }
    rep.done(
        Step::RemoveFiles,
        if done.is_empty() {
            "none".to_string()
        } else {
            done.join(", ")
        },
    );
    Ok(())
}
