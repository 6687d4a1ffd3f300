//! autounseal: from nothing to a Vault (or OpenBao) server that unseals itself with AWS KMS.

pub mod answers;
pub mod cli;
pub mod commands;
pub mod credentials_file;
pub mod demo;
pub mod engine;
pub mod files;
pub mod flow;
pub mod headless;
pub mod pause;
pub mod plain;
pub mod regions;
pub mod secrets;
pub mod tui;
pub mod vault;
