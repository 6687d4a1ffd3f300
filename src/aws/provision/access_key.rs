//! The access key seam: the key Vault signs its KMS calls with, its secret saved at once
//! (it is shown only once), and the proof that Vault's calls work with it.

use std::path::Path;

use super::Provisioner;
use aws_sdk_iam::types::StatusType;

use crate::answers::ServiceAccount;
use crate::aws::context::{AwsContext, iam_sent_once};
use crate::aws::error::{classify, is_not_found};
use crate::aws::verify;
use crate::credentials_file::{self, KeyFileKind, KeyFiles};
use crate::files::{self, Existing, WriteOptions};
use crate::run::manifest::{AccessKeyRecord, CreateKind, FileRole, KeyRecord, NamedRecord, PendingCreate};
use crate::run::mutate::nothing_to_record;
use crate::run::{Applied, Change, Recorder, Reporter, Result, RunError, Step};
use crate::secrets::AccessKey;
use crate::twins::quote;

/// A file `save_credentials` writes.
#[derive(Clone, Copy)]
enum Output {
    Key(KeyFileKind),
    Csv,
}

/// The access key Vault will use.
pub(super) enum VaultKey {
    /// Made by an earlier run, its secret saved then.
    Saved(AccessKey),
    /// Made by this run (or, in a plan, to be made): its secret is to be saved now.
    New(Applied<AccessKey>),
}

impl VaultKey {
    pub(super) fn id(&self) -> Applied<String> {
        self.usable().map_or(Applied::Planned, |k| Applied::Done(k.id.clone()))
    }

    /// The key, when it exists.
    fn usable(&self) -> Option<&AccessKey> {
        match self {
            VaultKey::Saved(key) | VaultKey::New(Applied::Done(key)) => Some(key),
            VaultKey::New(Applied::Planned) => None,
        }
    }
}

impl Provisioner<'_> {
    pub(super) async fn ensure_access_key(&self, user: &Applied<NamedRecord>) -> Result<VaultKey> {
        let key_files = self.answers.output.key_files();
        let secret_path = key_files.secret_path();
        let user_name = &self.answers.iam.user_name;
        // A user a plan would create has no keys yet.
        let mut listed = match user {
            Applied::Planned => Vec::new(),
            Applied::Done(user) => self.list_access_keys(&user.name).await?,
        };
        if let Some(rec) = self.store.snapshot().access_key.filter(|k| &k.user == user_name) {
            if listed.contains(&rec.id) {
                let saved = key_files.read_key().filter(|k| k.id == rec.id);
                let csv_ok = self.answers.output.credentials_csv.as_deref().is_none_or(Path::exists);
                if let (Some(key), true) = (saved, csv_ok) {
                    self.rep.skipped(
                        Step::AccessKey,
                        format!("{} is saved in {}", rec.id, secret_path.display()),
                    );
                    return Ok(VaultKey::Saved(key));
                }
                // Its secret is gone (the file was removed or changed): the key is useless.
                self.rep.warn(format!(
                    "the secret of access key {} is no longer in {}; replacing the key",
                    rec.id,
                    secret_path.display()
                ));
                self.delete_access_key(Step::AccessKey, &rec.id).await?;
                listed.retain(|id| *id != rec.id);
            } else {
                self.store.update(|m| m.access_key = None)?;
            }
        }
        if listed.len() >= 2 {
            match self
                .answers
                .iam
                .replace_access_key
                .as_ref()
                .filter(|r| listed.contains(r))
            {
                Some(victim) => {
                    self.rep.warn(format!(
                        "deleting access key {victim} of {user_name} to make room, as asked"
                    ));
                    self.delete_access_key(Step::AccessKey, victim).await?;
                }
                None => {
                    return Err(RunError::AccessKeyLimit {
                        user: user_name.clone(),
                        keys: listed,
                    });
                }
            }
        }
        let twin = self
            .ctx
            .aws_cli(&["iam", "create-access-key", "--user-name", user_name]);
        let listed = &listed;
        let create = |action| async move {
            let send = move || create_access_key(self.ctx, user_name, action);
            // A key whose answer was lost cannot be used (its secret came only in that
            // answer): it is deleted, never adopted, and a new one is made.
            let run_id = &self.run_id();
            let find = move || async move {
                let finder = self.finder(run_id);
                finder.delete_lost_access_keys(user_name, listed, None).await?;
                Ok(None)
            };
            let intent = PendingCreate {
                access_keys_before: listed.to_vec(),
                ..PendingCreate::new(CreateKind::AccessKey, Some(user_name))
            };
            self.create_once(action, intent, send, find).await
        };
        let made = self
            .recorder
            .mutate(
                Change::new(
                    Step::AccessKey,
                    "iam:CreateAccessKey",
                    format!("for {user_name}; its secret is shown once and saved at once"),
                    twin,
                ),
                create,
                |m, (_, record)| {
                    m.access_key = Some(record.clone());
                    m.clear_pending(CreateKind::AccessKey);
                },
                |(key, _)| format!("created {}", key.id),
            )
            .await?;
        Ok(VaultKey::New(made.map(|(key, _)| key)))
    }

    async fn list_access_keys(&self, user: &str) -> Result<Vec<String>> {
        list_access_keys(self.ctx, user).await
    }

    async fn delete_access_key(&self, step: Step, id: &str) -> Result<()> {
        delete_access_key(self.ctx, &self.recorder, step, &self.answers.iam.user_name, id).await
    }

    /// Saves a new key's secret before anything else can fail. If it cannot be saved,
    /// the key is deleted again: a key whose secret is lost is only a liability.
    pub(super) async fn save_credentials(&self, key: &VaultKey) -> Result<()> {
        let output = &self.answers.output;
        let key_files = output.key_files();
        let VaultKey::New(key) = key else {
            self.rep.skipped(
                Step::SaveCredentials,
                format!("{} holds the key", key_files.secret_path().display()),
            );
            return Ok(());
        };
        let existing = if self.opts.overwrite_files {
            Existing::BackupAndReplace
        } else {
            Existing::Refuse
        };
        // The key files by the style (the secret's first), then the console's CSV.
        let outputs: Vec<(Output, &Path)> = key_files
            .paths()
            .into_iter()
            .map(|(kind, path)| (Output::Key(kind), path))
            .chain(output.credentials_csv.as_deref().map(|p| (Output::Csv, p)))
            .collect();
        let all = joined(outputs.iter().map(|(_, p)| *p));
        let profile = key_files.shared.as_ref().map(|s| s.profile.clone());
        for (i, &(what, path)) in outputs.iter().enumerate() {
            let change = write_key_change(path, &self.answers.server.service_account(), "", i + 1 == outputs.len());
            let key = key.as_ref();
            let key_files = &key_files;
            let write = |_| async move {
                let key = key.made()?;
                let text = match what {
                    Output::Key(kind) => key_files.render(kind, key, self.ctx.region()),
                    Output::Csv => credentials_file::render_csv(key),
                };
                match files::write_atomic(
                    path,
                    text.as_bytes(),
                    WriteOptions::secret(existing, self.answers.server.owner()),
                ) {
                    Ok(written) => {
                        if let Some(b) = &written.backup {
                            self.rep
                                .warn(format!("the old {} was kept as {}", path.display(), b.display()));
                        }
                        Ok(written.backup)
                    }
                    Err(e) => {
                        self.delete_access_key(Step::SaveCredentials, &key.id).await?;
                        Err(RunError::Other(format!(
                            "{e}. The new access key {} was deleted again, since its secret could not be saved; \
                             fix this and run again",
                            key.id
                        )))
                    }
                }
            };
            let profile = &profile;
            self.recorder
                .mutate(
                    change,
                    write,
                    |m, backup| {
                        let role = match what {
                            Output::Key(kind) => FileRole::from(kind),
                            Output::Csv => FileRole::CredentialsCsv,
                        };
                        m.record_file(role, path, backup.clone());
                        if role == FileRole::EnvFile {
                            // The style the env file now points at, for a later run.
                            m.credentials_profile = profile.clone();
                        }
                        m.service_account = Some(self.answers.server.service_account());
                    },
                    |_| format!("saved to {all}"),
                )
                .await?;
        }
        Ok(())
    }

    /// As the new key, Vault's own calls: in a plan, only said.
    pub(super) async fn verify(
        &self,
        key: &VaultKey,
        kms_key: &Applied<KeyRecord>,
        user: &Applied<NamedRecord>,
    ) -> Result<()> {
        let (Some(key), Applied::Done(kms_key), Applied::Done(user), false) =
            (key.usable(), kms_key, user, self.recorder.dry_run())
        else {
            self.rep.skipped(
                Step::VerifyCredentials,
                "then, as the new key: sts:GetCallerIdentity, kms:DescribeKey, kms:Encrypt, kms:Decrypt",
            );
            return Ok(());
        };
        let from_profile = as_the_server_reads(&self.answers.output.key_files(), key).await?;
        let key = from_profile.as_ref().unwrap_or(key);
        prove_usable(self.ctx, key, &kms_key.arn, &user.arn, &self.rep).await
    }
}

/// With a shared credentials file: the key the server's SDK reads from it, which must be
/// `saved` (`None` in the env style, where the server takes the env file's as written).
pub(crate) async fn as_the_server_reads(files: &KeyFiles, saved: &AccessKey) -> Result<Option<AccessKey>> {
    let Some(shared) = &files.shared else {
        return Ok(None);
    };
    let read = verify::key_from_profile(&shared.path, &shared.profile).await?;
    if read.id != saved.id || read.expose_secret() != saved.expose_secret() {
        return Err(RunError::Other(format!(
            "profile {} of {} gives access key {}, not {} that was saved there; \
             check that nothing else writes that file, then run again",
            shared.profile,
            shared.path.display(),
            read.id,
            saved.id
        )));
    }
    Ok(Some(read))
}

/// Waits until `key` does what Vault does with it (the bounded propagation wait of the
/// context's timing), and says so.
pub(crate) async fn prove_usable(
    ctx: &AwsContext,
    key: &AccessKey,
    kms_key_arn: &str,
    user_arn: &str,
    rep: &Reporter,
) -> Result<()> {
    let waited = verify::wait_until_usable(ctx, key, kms_key_arn, user_arn, &ctx.conn.timing, rep).await?;
    rep.done(
        Step::VerifyCredentials,
        format!(
            "Vault's calls work with {} (after {:.1} s)",
            key.id,
            waited.as_secs_f64()
        ),
    );
    Ok(())
}

/// "A and B": the files that hold the key, for a step's news.
pub(crate) fn joined<'p>(paths: impl Iterator<Item = &'p Path>) -> String {
    paths.map(|p| p.display().to_string()).collect::<Vec<_>>().join(" and ")
}

/// Writing a saved form of the key (mode 0600, `owner`'s) at `path`: the step's news
/// with the `last` of the forms, progress before. `note` adds to the detail.
pub(crate) fn write_key_change(path: &Path, owner: &ServiceAccount, note: &str, last: bool) -> Change {
    let twin = format!(
        "install -m 0600 {} /dev/stdin {}",
        owner.install_flags(),
        quote(&path.to_string_lossy())
    );
    let change = Change::new(
        Step::SaveCredentials,
        "file:write",
        format!("{} (mode 0600){note}", path.display()),
        twin,
    );
    if last { change } else { change.on_the_way() }
}

/// The ids of `user`'s access keys.
pub(crate) async fn list_access_keys(ctx: &AwsContext, user: &str) -> Result<Vec<String>> {
    let out = ctx
        .iam
        .list_access_keys()
        .user_name(user)
        .send()
        .await
        .map_err(|e| classify("iam:ListAccessKeys", &ctx.endpoint(), e))?;
    Ok(out
        .access_key_metadata()
        .iter()
        .filter_map(|k| k.access_key_id().map(String::from))
        .collect())
}

/// One CreateAccessKey, sent once (no SDK retry: a retried create makes a second key).
/// The secret is moved out of the SDK's answer (not cloned) into memory that wipes itself.
pub(crate) async fn create_access_key(
    ctx: &AwsContext,
    user: &str,
    action: &'static str,
) -> Result<(AccessKey, AccessKeyRecord)> {
    let out = ctx
        .iam
        .create_access_key()
        .user_name(user)
        .customize()
        .config_override(iam_sent_once())
        .send()
        .await
        .map_err(|e| classify(action, &ctx.endpoint(), e))?;
    let mut created = out.access_key.expect("CreateAccessKey returns the key");
    let secret = zeroize::Zeroizing::new(std::mem::take(&mut created.secret_access_key));
    let key = AccessKey::new(created.access_key_id(), &secret);
    let record = AccessKeyRecord {
        id: key.id.clone(),
        user: user.to_string(),
        created_at: created.create_date().map(|d| d.to_string()).unwrap_or_default(),
    };
    Ok((key, record))
}

/// Deletes access key `id` of `user`; the manifest forgets it if it was the recorded one.
/// A key that is gone already counts as deleted (a re-run after a lost answer).
pub(crate) async fn delete_access_key(
    ctx: &AwsContext,
    recorder: &Recorder<'_>,
    step: Step,
    user: &str,
    id: &str,
) -> Result<()> {
    let twin = ctx.aws_cli(&["iam", "delete-access-key", "--user-name", user, "--access-key-id", id]);
    let delete = |action| async move {
        match ctx
            .iam
            .delete_access_key()
            .user_name(user)
            .access_key_id(id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(classify(action, &ctx.endpoint(), e)),
        }
    };
    recorder
        .mutate(
            Change::new(step, "iam:DeleteAccessKey", id, twin).on_the_way(),
            delete,
            |m, _| {
                if m.access_key.as_ref().is_some_and(|k| k.id == id) {
                    m.access_key = None;
                }
            },
            |_| format!("deleted access key {id}"),
        )
        .await?;
    Ok(())
}

/// `aws iam update-access-key --status Active|Inactive`: an inactive key is refused by
/// AWS but can be made active again, which a deleted one cannot.
pub(crate) async fn set_access_key_status(
    ctx: &AwsContext,
    recorder: &Recorder<'_>,
    step: Step,
    user: &str,
    id: &str,
    active: bool,
) -> Result<()> {
    let (status, word) = if active {
        (StatusType::Active, "Active")
    } else {
        (StatusType::Inactive, "Inactive")
    };
    let twin = ctx.aws_cli(&[
        "iam",
        "update-access-key",
        "--user-name",
        user,
        "--access-key-id",
        id,
        "--status",
        word,
    ]);
    let update = |action| async move {
        ctx.iam
            .update_access_key()
            .user_name(user)
            .access_key_id(id)
            .status(status)
            .send()
            .await
            .map_err(|e| classify(action, &ctx.endpoint(), e))?;
        Ok(())
    };
    recorder
        .mutate(
            Change::new(step, "iam:UpdateAccessKey", format!("{id} -> {word}"), twin),
            update,
            nothing_to_record,
            |_| format!("access key {id} is {word}"),
        )
        .await?;
    Ok(())
}
