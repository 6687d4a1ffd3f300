//! The AWS provisioning engine: no terminal code, only calls, records and events.

pub mod adopt;
pub mod aws;
pub mod destroy;
pub mod error;
pub mod events;
pub mod manifest;
pub mod policy;
pub mod provision;
pub mod verify;

pub use aws::{AwsContext, Connection, Identity};
pub use error::{EngineError, Result};
pub use events::{Call, Event, Recorder, Reporter, Step};
pub use manifest::{Manifest, ManifestStore, Origin};
pub use provision::{ApplyOptions, Provisioned, Provisioner};
