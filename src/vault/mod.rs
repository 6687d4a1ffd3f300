//! The Vault side: server flavours, config file, launch, HTTP client, init and the
//! proof of auto-unseal. No terminal code.

pub mod checks;
pub mod client;
pub mod config;
pub mod deploy;
pub mod discover;
pub mod launch;
pub mod lifecycle;
pub mod migrate;
pub mod migrate_cluster;
pub mod plugin;
pub mod recovery;
pub mod server;

pub use crate::run::error::VaultError;
