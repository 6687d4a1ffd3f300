//! The whole job, shared by `apply`, `plan` and the wizard: everything that can be
//! checked is checked first, then AWS, then the Vault side.

use std::path::Path;

use crate::answers::Answers;
use crate::engine::destroy::{DestroyOptions, destroy_aws, remove_files};
use crate::engine::manifest::FileRole;
use crate::engine::{
    ApplyOptions, AwsContext, Call, Connection, ManifestStore, Provisioned, Provisioner, Reporter, Result,
};
use crate::vault::deploy::{DeployOptions, DeployOutcome, Deployer, KeysDestination, preflight, stop_server};

/// The files an undo removes. The recovery keys file stays: it is the operator's until
/// they move it.
pub const UNDONE_FILES: [FileRole; 4] = [
    FileRole::EnvFile,
    FileRole::CredentialsCsv,
    FileRole::VaultConfig,
    FileRole::SystemdDropIn,
];

pub struct FlowOutcome {
    pub aws: Provisioned,
    pub vault: DeployOutcome,
    pub calls: Vec<Call>,
}

pub async fn run(
    answers: &Answers,
    state_dir: &Path,
    opts: ApplyOptions,
    keys: KeysDestination,
    rep: &Reporter,
) -> Result<FlowOutcome> {
    answers.check()?;
    let store = if opts.dry_run {
        ManifestStore::detached(ManifestStore::open(state_dir)?.snapshot())
    } else {
        ManifestStore::open(state_dir)?
    };
    let deploy_opts = DeployOptions {
        overwrite_files: opts.overwrite_files,
        dry_run: opts.dry_run,
    };
    // A missing server binary or a taken port must stop the run before AWS is touched.
    let binary = preflight(answers, &store, &keys, deploy_opts)?;
    let (aws, mut calls) = {
        // The AWS clients go when the AWS part is done: with them their connections,
        // whose read buffers held the new access key's answer.
        let ctx = AwsContext::connect(Connection::from_answers(answers)).await;
        let provisioner = Provisioner::new(&ctx, answers, &store, rep.clone(), opts);
        let aws = provisioner.run().await?;
        (aws, provisioner.calls())
    };
    let deployer = Deployer::new(answers, &store, rep.clone(), state_dir, deploy_opts, binary, keys);
    let vault = deployer.run(&aws.key).await?;
    calls.extend(deployer.calls());
    Ok(FlowOutcome { aws, vault, calls })
}

/// Undoes what the manifest says autounseal made, newest first: the server it started,
/// then AWS (as `destroy_aws`), then the files it wrote. Shared by `destroy` and the demo.
pub async fn undo(ctx: &AwsContext, store: &ManifestStore, rep: &Reporter, opts: DestroyOptions) -> Result<()> {
    stop_server(store, rep)?;
    destroy_aws(ctx, store, rep, opts).await?;
    remove_files(store, rep, &UNDONE_FILES)
}
