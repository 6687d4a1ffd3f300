//! The recovery drill over a recorded setup: the live server of its first node (a
//! cluster's data is the same on every node) restored in a replica's region.

use crate::drill::{DrillReport, DrillRequest};
use crate::run::{ManifestStore, Reporter};

use super::OpsError;
use super::setup::Setup;

/// Runs the drill of `setup` and records it in the first node's manifest.
pub async fn drill(setup: &Setup, req: &DrillRequest, rep: &Reporter) -> Result<DrillReport, OpsError> {
    let node = &setup.nodes[0];
    if node.recorded.is_none() {
        return Err(OpsError::NothingRecorded {
            state_dir: node.dir.clone(),
        });
    }
    let store = ManifestStore::open(&node.dir)?;
    Ok(Box::pin(crate::drill::drill(&store, &node.dir, req, rep)).await?)
}
