//! The whole job, shared by `apply`, `plan` and the wizard: everything that can be
//! checked is checked first, then AWS, then the Vault side.

use std::path::Path;

use crate::answers::Answers;
use crate::engine::{
    ApplyOptions, AwsContext, Call, Connection, ManifestStore, Provisioned, Provisioner, Reporter, Result,
};
use crate::vault::deploy::{DeployOptions, DeployOutcome, Deployer, KeysDestination, preflight};

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
    let ctx = AwsContext::connect(Connection::from_answers(answers)).await;
    let provisioner = Provisioner::new(&ctx, answers, &store, rep.clone(), opts);
    let aws = provisioner.run().await?;
    let deployer = Deployer::new(answers, &store, rep.clone(), state_dir, deploy_opts, binary, keys);
    let vault = deployer.run(&aws.key).await?;
    let mut calls = provisioner.calls();
    calls.extend(deployer.calls());
    Ok(FlowOutcome { aws, vault, calls })
}
