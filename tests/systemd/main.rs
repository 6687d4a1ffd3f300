//! The systemd tier: a real systemd as PID 1 of its own namespaces (root), with
//! packaged-style units, users and file owners.

#[path = "../common/mod.rs"]
mod common;

mod doctor_systemd;
mod hosts;
mod journeys;
mod monitor;
mod rotate_systemd;
