//! autounseal: from nothing to a Vault (or OpenBao) server that unseals itself with AWS KMS.

pub mod alloc;
pub mod answers;
pub mod aws;
pub mod child;
pub mod child_env;
pub mod cli;
pub mod cluster;
pub mod commands;
pub mod credentials_file;
pub mod demo;
pub mod doctor;
pub mod drill;
pub mod files;
pub mod flow;
pub mod frontend;
pub mod headless;
pub mod ops;
pub mod pause;
pub mod plain;
pub mod prompt;
pub mod questions;
pub mod regions;
pub mod rotate;
pub mod run;
pub mod secrets;
pub mod tui;
pub mod twins;
pub mod vault;

/// Every block of every binary built on this crate is wiped when freed (see `alloc`).
/// The `unwiped-alloc` feature exists only for `scripts/bench-alloc`'s comparison.
#[cfg(not(feature = "unwiped-alloc"))]
#[global_allocator]
static GLOBAL: alloc::WipeOnFree = alloc::WipeOnFree(std::alloc::System);
