//! `plan`: every call and file apply would make, read-only.

use std::path::Path;

use super::load_answers;
use crate::answers::ExistingServer;
use crate::cli::PlanArgs;
use crate::headless::{Mode, print_plan, with_printer};
use crate::ops::{self, run::Ran};
use crate::vault::deploy::KeysDestination;
use crate::vault::migrate;

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
