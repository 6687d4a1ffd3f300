//! `doctor`: every link checked, node by node; the exit code says the worst.

use std::path::Path;

use anyhow::{Context, bail};

use crate::cli::DoctorArgs;
use crate::headless::print_findings;
use crate::ops::{self, OpsError, setup::Setup};

/// `doctor`: prints the findings (or their JSON) and returns the exit code they make:
/// a single server's, or every node's of a local cluster, each under its name.
pub async fn doctor(args: DoctorArgs, state_dir: &Path, profile: Option<&str>) -> anyhow::Result<u8> {
    let setup = Setup::open(state_dir, profile).await?;
    let nodes = match ops::check::doctor(&setup, args.ca_cert.as_deref()).await {
        Err(OpsError::NothingRecorded { state_dir }) => bail!(
            "{} records no setup to check: run `autounseal` or `autounseal apply` first, or pass --state-dir",
            state_dir.display()
        ),
        other => other?,
    };
    match (setup.is_cluster(), args.json) {
        (false, true) => println!("{}", serde_json::to_string_pretty(&nodes[0].findings)?),
        (false, false) => print_findings(&nodes[0].findings),
        (true, true) => println!("{}", serde_json::to_string_pretty(&nodes)?),
        (true, false) => {
            for node in &nodes {
                crate::say!("\nNode {} (state in {}):", node.node, node.state_dir.display());
                print_findings(&node.findings);
            }
        }
    }
    // After the findings are printed: a folder that cannot be written hides none of them.
    if let Some(path) = &args.textfile {
        let named: Vec<(&str, &[crate::doctor::Finding])> =
            nodes.iter().map(|n| (n.node.as_str(), n.findings.as_slice())).collect();
        let now = crate::doctor::checks::now_secs();
        crate::doctor::textfile::write(path, &crate::doctor::textfile::render(&named, now))
            .with_context(|| format!("cannot write the metrics to {}", path.display()))?;
    }
    Ok(ops::check::exit_code(&nodes))
}
