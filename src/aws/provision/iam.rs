//! The IAM seam: the user Vault runs as, the policy that lets it use the one key, and
//! the attachment of one to the other.

use super::{Provisioner, planned_key_arn, recorded};
use crate::aws::context::{Identity, iam_sent_once};
use crate::aws::error::is_not_found;
use crate::aws::policy;
use crate::regions::partition;
use crate::run::manifest::{CreateKind, KeyRecord, NamedRecord, PendingCreate};
use crate::run::mutate::nothing_to_record;
use crate::run::{Applied, Change, Origin, Result, RunError, Step};
use crate::twins::{RUN_TAG_KEY, TAG_KEY, TAG_VALUE};

/// What the policy says of itself.
const POLICY_DESCRIPTION: &str = "Lets Vault's awskms seal use one KMS key (created by autounseal)";

fn iam_tag(key: &str, value: &str) -> aws_sdk_iam::types::Tag {
    aws_sdk_iam::types::Tag::builder()
        .key(key)
        .value(value)
        .build()
        .expect("both tag fields set")
}

/// The `--tags` items of an IAM twin: the tags the call sends, one word each.
fn iam_tags_twin(run_id: &str) -> [String; 2] {
    [
        format!("Key={TAG_KEY},Value={TAG_VALUE}"),
        format!("Key={RUN_TAG_KEY},Value={run_id}"),
    ]
}

impl Provisioner<'_> {
    pub(super) async fn ensure_user(&self) -> Result<Applied<NamedRecord>> {
        let name = &self.answers.iam.user_name;
        match self.ctx.iam.get_user().user_name(name).send().await {
            Ok(out) => {
                let user = out.user.expect("GetUser returns the user");
                let recorded = self.store.snapshot().iam_user.filter(|u| &u.name == name);
                let tagged = user.tags().iter().any(|t| t.key() == TAG_KEY && t.value() == TAG_VALUE);
                let origin = match recorded {
                    Some(r) => r.origin,
                    None if tagged => Origin::Created,
                    None => Origin::Reused,
                };
                let record = NamedRecord {
                    name: name.clone(),
                    arn: user.arn().to_string(),
                    origin,
                };
                self.store.update(|m| m.iam_user = Some(record.clone()))?;
                if origin == Origin::Reused {
                    self.rep.warn(format!(
                        "IAM user {name} existed before autounseal: it is reused, and `destroy` will leave it. \
                         It should be used by Vault and nothing else"
                    ));
                    self.warn_if_console_login(name).await?;
                }
                self.rep.skipped(Step::IamUser, format!("{} exists", record.arn));
                Ok(Applied::Done(record))
            }
            Err(e) if is_not_found(&e) => {
                let run_id = &self.run_id();
                let [created_by, run_tag] = iam_tags_twin(run_id);
                let twin = self.ctx.aws_cli(&[
                    "iam",
                    "create-user",
                    "--user-name",
                    name,
                    "--tags",
                    &created_by,
                    &run_tag,
                ]);
                let create = |action| async move {
                    let send = move || async move {
                        let out = self
                            .ctx
                            .iam
                            .create_user()
                            .user_name(name)
                            .tags(iam_tag(TAG_KEY, TAG_VALUE))
                            .tags(iam_tag(RUN_TAG_KEY, run_id))
                            .customize()
                            .config_override(iam_sent_once())
                            .send()
                            .await
                            .map_err(self.err(action))?;
                        let user = out.user.expect("CreateUser returns the user");
                        Ok(NamedRecord {
                            name: name.clone(),
                            arn: user.arn().to_string(),
                            origin: Origin::Created,
                        })
                    };
                    let find = move || async move { self.finder(run_id).user_of_run(name).await };
                    let intent = PendingCreate::new(CreateKind::IamUser, Some(name));
                    self.create_once(action, intent, send, find).await
                };
                self.recorder
                    .mutate(
                        Change::new(
                            Step::IamUser,
                            "iam:CreateUser",
                            format!("{name}, programmatic access only"),
                            twin,
                        ),
                        create,
                        recorded(CreateKind::IamUser, |m| &mut m.iam_user),
                        |user| format!("created {}", user.arn),
                    )
                    .await
            }
            Err(e) => Err(self.err("iam:GetUser")(e)),
        }
    }

    async fn warn_if_console_login(&self, name: &str) -> Result<()> {
        match self.ctx.iam.get_login_profile().user_name(name).send().await {
            Ok(_) => {
                self.rep.warn(format!(
                    "IAM user {name} can sign in to the AWS console; the unseal user should have programmatic access only \
                     (`aws iam delete-login-profile --user-name {name}`)"
                ));
                Ok(())
            }
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(self.err("iam:GetLoginProfile")(e)),
        }
    }

    /// The policy names the key's ARN; a key a plan would create has none yet, so the
    /// policy is shown with the ARN's placeholder (see [`super::Provisioned::summary`]).
    /// Long, on purpose: an existing policy is read, compared with the one document and
    /// kept, refused or given a new version, else created, top to bottom.
    pub(super) async fn ensure_policy(&self, identity: &Identity, key: &Applied<KeyRecord>) -> Result<NamedRecord> {
        let name = &self.answers.iam.policy_name;
        let arn = format!(
            "arn:{}:iam::{}:policy/{name}",
            partition(self.ctx.region()),
            identity.account
        );
        let key_arn = match key {
            Applied::Done(key) => key.arn.clone(),
            Applied::Planned => planned_key_arn(self.ctx.region(), &identity.account),
        };
        let key_arns = &policy::key_arns(&key_arn, &self.answers.kms.replica_regions);
        let wanted = policy::document(key_arns);
        let wanted_text = policy::document_text(key_arns);
        let recorded_policy = self.store.snapshot().iam_policy.filter(|p| p.arn == arn);
        let record = |origin| NamedRecord {
            name: name.clone(),
            arn: arn.clone(),
            origin,
        };
        match self.ctx.iam.get_policy().policy_arn(&arn).send().await {
            Ok(out) => {
                let found = out.policy.expect("GetPolicy returns the policy");
                let tagged = found
                    .tags()
                    .iter()
                    .any(|t| t.key() == TAG_KEY && t.value() == TAG_VALUE);
                let origin = match recorded_policy {
                    Some(r) => r.origin,
                    None if tagged => Origin::Created,
                    None => Origin::Reused,
                };
                let current = self
                    .policy_document(&arn, found.default_version_id().unwrap_or("v1"))
                    .await?;
                if current == wanted {
                    self.store.update(|m| m.iam_policy = Some(record(origin)))?;
                    self.rep.skipped(
                        Step::IamPolicy,
                        format!("{arn} already grants exactly what Vault needs"),
                    );
                    return Ok(record(origin));
                }
                if origin == Origin::Reused {
                    return Err(RunError::Conflict(format!(
                        "the IAM policy {name} exists with a different document and autounseal did not create it; \
                         choose another iam.policy_name"
                    )));
                }
                self.replace_policy_document(&arn, key_arns, record(origin)).await?;
                Ok(record(origin))
            }
            Err(e) if is_not_found(&e) => {
                let run_id = &self.run_id();
                let [created_by, run_tag] = iam_tags_twin(run_id);
                let twin = self.ctx.aws_cli(&[
                    "iam",
                    "create-policy",
                    "--policy-name",
                    name,
                    "--policy-document",
                    &policy::document_line(key_arns),
                    "--description",
                    POLICY_DESCRIPTION,
                    "--tags",
                    &created_by,
                    &run_tag,
                ]);
                let made = record(Origin::Created);
                let (arn, made, wanted_text) = (&arn, &made, &wanted_text);
                let create = |action| async move {
                    let send = move || async move {
                        self.ctx
                            .iam
                            .create_policy()
                            .policy_name(name)
                            .policy_document(wanted_text)
                            .description(POLICY_DESCRIPTION)
                            .tags(iam_tag(TAG_KEY, TAG_VALUE))
                            .tags(iam_tag(RUN_TAG_KEY, run_id))
                            .customize()
                            .config_override(iam_sent_once())
                            .send()
                            .await
                            .map_err(self.err(action))?;
                        Ok(made.clone())
                    };
                    let find = move || async move { self.finder(run_id).policy_of_run(name, arn).await };
                    let intent = PendingCreate::new(CreateKind::IamPolicy, Some(name));
                    self.create_once(action, intent, send, find).await
                };
                self.recorder
                    .mutate(
                        Change::new(Step::IamPolicy, "iam:CreatePolicy", name.clone(), twin),
                        create,
                        recorded(CreateKind::IamPolicy, |m| &mut m.iam_policy),
                        |_| format!("created {arn}"),
                    )
                    .await?;
                Ok(made.clone())
            }
            Err(e) => Err(self.err("iam:GetPolicy")(e)),
        }
    }

    async fn policy_document(&self, arn: &str, version: &str) -> Result<serde_json::Value> {
        let out = self
            .ctx
            .iam
            .get_policy_version()
            .policy_arn(arn)
            .version_id(version)
            .send()
            .await
            .map_err(self.err("iam:GetPolicyVersion"))?;
        let raw = out.policy_version.and_then(|v| v.document).unwrap_or_default();
        // IAM returns the document URL-encoded.
        let text = urlencoding::decode(&raw).map(|s| s.into_owned()).unwrap_or(raw);
        serde_json::from_str(&text)
            .map_err(|e| RunError::Other(format!("the policy {arn} has a document that is not JSON: {e}")))
    }

    /// A new default version, the document for `key_arns`; IAM keeps five at most, so
    /// the oldest spare one goes first.
    async fn replace_policy_document(&self, arn: &str, key_arns: &[String], record: NamedRecord) -> Result<()> {
        let document = &policy::document_text(key_arns);
        let versions = self
            .ctx
            .iam
            .list_policy_versions()
            .policy_arn(arn)
            .send()
            .await
            .map_err(self.err("iam:ListPolicyVersions"))?;
        let oldest_spare = versions
            .versions()
            .iter()
            .filter(|v| !v.is_default_version())
            .min_by_key(|v| v.create_date().map(|d| d.secs()));
        if versions.versions().len() >= 5
            && let Some(oldest) = oldest_spare
        {
            let id = oldest.version_id().unwrap_or_default();
            let twin = self
                .ctx
                .aws_cli(&["iam", "delete-policy-version", "--policy-arn", arn, "--version-id", id]);
            let delete = |action| async move {
                self.ctx
                    .iam
                    .delete_policy_version()
                    .policy_arn(arn)
                    .version_id(id)
                    .send()
                    .await
                    .map_err(self.err(action))?;
                Ok(())
            };
            self.recorder
                .mutate(
                    Change::new(Step::IamPolicy, "iam:DeletePolicyVersion", id, twin).on_the_way(),
                    delete,
                    nothing_to_record,
                    |_| format!("deleted the old version {id}"),
                )
                .await?;
        }
        let twin = self.ctx.aws_cli(&[
            "iam",
            "create-policy-version",
            "--policy-arn",
            arn,
            "--policy-document",
            &policy::document_line(key_arns),
            "--set-as-default",
        ]);
        let create = |action| async move {
            self.ctx
                .iam
                .create_policy_version()
                .policy_arn(arn)
                .policy_document(document)
                .set_as_default(true)
                .send()
                .await
                .map_err(self.err(action))?;
            Ok(record)
        };
        self.recorder
            .mutate(
                Change::new(Step::IamPolicy, "iam:CreatePolicyVersion", document, twin),
                create,
                |m, record| m.iam_policy = Some(record.clone()),
                |_| format!("updated {arn} to the current key and its replicas"),
            )
            .await?;
        Ok(())
    }

    pub(super) async fn ensure_attached(&self, user: &Applied<NamedRecord>, policy: &NamedRecord) -> Result<()> {
        let user_name = &self.answers.iam.user_name;
        // A user a plan would create has no policies yet.
        let attached = match user {
            Applied::Planned => Vec::new(),
            Applied::Done(user) => {
                let out = self
                    .ctx
                    .iam
                    .list_attached_user_policies()
                    .user_name(&user.name)
                    .send()
                    .await
                    .map_err(self.err("iam:ListAttachedUserPolicies"))?;
                out.attached_policies()
                    .iter()
                    .filter_map(|p| p.policy_arn().map(String::from))
                    .collect()
            }
        };
        let others: Vec<_> = attached.iter().filter(|a| **a != policy.arn).cloned().collect();
        if !others.is_empty() {
            self.rep.warn(format!(
                "IAM user {user_name} also has {}: an unseal user should hold only the KMS policy",
                others.join(", ")
            ));
        }
        if attached.contains(&policy.arn) {
            self.rep.skipped(Step::AttachPolicy, "already attached");
            return Ok(());
        }
        let twin = self.ctx.aws_cli(&[
            "iam",
            "attach-user-policy",
            "--user-name",
            user_name,
            "--policy-arn",
            &policy.arn,
        ]);
        let attach = |action| async move {
            // Attaching twice is harmless, so the SDK may retry; the intent is still
            // recorded, so that a lost answer does not leave the attachment unrecorded.
            let send = move || async move {
                self.ctx
                    .iam
                    .attach_user_policy()
                    .user_name(user_name)
                    .policy_arn(&policy.arn)
                    .send()
                    .await
                    .map_err(self.err(action))?;
                Ok(())
            };
            let run_id = &self.run_id();
            let find = move || async move {
                let attached = self.finder(run_id).is_attached(user_name, &policy.arn).await?;
                Ok(attached.then_some(()))
            };
            let intent = PendingCreate::new(CreateKind::AttachPolicy, Some(&policy.name));
            self.create_once(action, intent, send, find).await
        };
        self.recorder
            .mutate(
                Change::new(
                    Step::AttachPolicy,
                    "iam:AttachUserPolicy",
                    format!("{} → {user_name}", policy.name),
                    twin,
                ),
                attach,
                |m, _| {
                    m.policy_attached = true;
                    m.clear_pending(CreateKind::AttachPolicy);
                },
                |_| format!("{} → {user_name}", policy.name),
            )
            .await?;
        Ok(())
    }
}
