//! The run core: the steps and their order, the events a run reports, the recorder of
//! its changes, the manifest of what exists, and the error a run ends with. The AWS side
//! and the Vault side both build on it; it knows neither.

pub mod error;
pub mod events;
pub mod manifest;
pub mod mutate;

pub use error::{Result, RunError, VaultError};
pub use events::{Call, Event, Reporter, Step, StopRequest};
pub use manifest::{Manifest, ManifestStore, Origin};
pub use mutate::{Applied, Change, Recorder};

#[derive(Debug, Clone, Copy, Default)]
pub struct ApplyOptions {
    /// The operator agreed to replace existing files (a backup is kept).
    pub overwrite_files: bool,
    /// Record the calls, make none of them.
    pub dry_run: bool,
}
