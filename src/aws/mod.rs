//! The AWS side: the clients of a run, the KMS key, the IAM user, policy and access key,
//! the proof they work, adoption of interrupted creates, and their removal. It builds
//! on the run core and knows nothing of the Vault side.

pub mod adopt;
pub mod alarm;
pub mod context;
pub mod destroy;
pub mod error;
pub mod keys;
pub mod policy;
pub mod provision;
pub mod verify;

pub use context::{AwsContext, Connection, Identity};

/// The days KMS waits before a key scheduled for deletion is gone, unless told otherwise
/// (`destroy --deletion-window-days`): AWS's own default, the longest it allows.
pub const KEY_DELETION_WINDOW_DAYS: i32 = 30;
pub use provision::{Provisioned, Provisioner};
