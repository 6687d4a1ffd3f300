//! The server tier: the real OpenBao with moto, through the library and the binary
//! (single servers, clusters, rotation, doctor, migration, memory, the demo).

#[path = "../common/mod.rs"]
mod common;

mod cli;
mod cluster;
mod cluster_rotate;
mod demo;
mod doctor;
mod drill;
mod host;
mod kms_plugin;
mod memory;
mod migration;
mod rotate;
mod shared_file;
mod vault_openbao;
