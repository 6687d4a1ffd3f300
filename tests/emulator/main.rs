//! The emulator tier: the AWS side against the real moto server, no Vault server.

#[path = "../common/mod.rs"]
mod common;

mod alarm;
mod engine_moto;
mod faults;
mod preflight;
mod replicas;
mod twins;
