//! `status`: what exists and the next thing to do, node by node.

use std::path::Path;

use crate::cli::StatusArgs;
use crate::headless::print_status;
use crate::ops::{self, setup::Setup};

/// `status`: a few lines (or JSON): what exists, the server, the next thing to do; a
/// local cluster's, node by node with what each is in the cluster.
pub async fn status(args: StatusArgs, state_dir: &Path, profile: Option<&str>) -> anyhow::Result<()> {
    let setup = Setup::open(state_dir, profile).await?;
    let nodes = ops::check::status(&setup, args.ca_cert.as_deref()).await;
    match (setup.is_cluster(), args.json) {
        (false, true) => println!("{}", serde_json::to_string_pretty(&nodes[0].status)?),
        (false, false) => print_status(&nodes[0].status),
        (true, true) => println!("{}", serde_json::to_string_pretty(&nodes)?),
        (true, false) => {
            for node in &nodes {
                let role = node.role.map(|r| format!(", {r}")).unwrap_or_default();
                crate::say!("\nNode {}{role} (state in {}):", node.node, node.state_dir.display());
                print_status(&node.status);
            }
        }
    }
    Ok(())
}
