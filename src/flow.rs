//! The whole job, shared by `apply` and the wizard: AWS first, then the Vault side.

use std::path::Path;

use crate::answers::Answers;
use crate::engine::{
    ApplyOptions, AwsContext, Call, Connection, ManifestStore, Provisioned, Provisioner, Reporter, Result,
};

pub struct FlowOutcome {
    pub aws: Provisioned,
    pub calls: Vec<Call>,
}

pub async fn run(answers: &Answers, state_dir: &Path, opts: ApplyOptions, rep: &Reporter) -> Result<FlowOutcome> {
    answers.check()?;
    let store = if opts.dry_run {
        ManifestStore::detached(ManifestStore::open(state_dir)?.snapshot())
    } else {
        ManifestStore::open(state_dir)?
    };
    let ctx = AwsContext::connect(Connection::from_answers(answers)).await;
    let provisioner = Provisioner::new(&ctx, answers, &store, rep.clone(), opts);
    let aws = provisioner.run().await?;
    Ok(FlowOutcome {
        aws,
        calls: provisioner.calls(),
    })
}
