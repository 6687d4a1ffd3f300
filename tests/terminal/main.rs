//! The terminal tier: the wizard in a real pseudo-terminal, as an operator drives it.

#[path = "../common/mod.rs"]
mod common;

mod wizard_join_pty;
mod wizard_migration;
mod wizard_pty;
