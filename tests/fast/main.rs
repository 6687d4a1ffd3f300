//! The fast tier: what needs no emulator, no server, no terminal and no systemd (the
//! wizard's update, keys and snapshots, the mocked SDK, the layering, the docs).
//! `scripts/test --fast` runs it with the library's unit tests.

#[path = "../common/mod.rs"]
mod common;

mod docs_walkthrough;
mod mocks;
mod module_graph;
mod version;
mod wizard_keys;
mod wizard_snapshots;
mod wizard_update;
