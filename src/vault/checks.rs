//! Read-only checks of the host, run by `plan` and before `apply` touches AWS: every
//! file the server will read, the folder it will store in, the unit systemd will
//! restart. A problem found here costs nothing; found after AWS, it costs a cleanup.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use base64::Engine;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::files::Owner;
use crate::vault::VaultError;
use crate::vault::discover::Unit;
use crate::vault::recovery::load_pgp_key;

type Result<T = ()> = std::result::Result<T, VaultError>;

fn refused(message: String) -> VaultError {
    VaultError::Refused(message)
}

/// Whether the service account (when it exists) may read `path`: the server runs as
/// that user, and a key file only root can read fails the start after AWS is set up.
fn readable_by(path: &Path, owner: Option<&Owner>, what: &str) -> Result {
    let meta =
        std::fs::metadata(path).map_err(|e| refused(format!("the {what} {} cannot be read: {e}", path.display())))?;
    if !meta.is_file() {
        return Err(refused(format!("the {what} {} is not a file", path.display())));
    }
    let Some(owner) = owner else {
        return Ok(());
    };
    let mode = meta.mode();
    let readable = if meta.uid() == owner.uid.as_raw() {
        mode & 0o400 != 0
    } else if meta.gid() == owner.gid.as_raw() {
        mode & 0o040 != 0
    } else {
        mode & 0o004 != 0
    };
    if readable {
        Ok(())
    } else {
        Err(refused(format!(
            "the {what} {} is not readable by the server's user (uid {}): `chown {}:{} {}` or `chmod g+r` it",
            path.display(),
            owner.uid,
            owner.uid,
            owner.gid,
            path.display()
        )))
    }
}

/// The TLS certificate and key: files the service user can read, PEM that parses, and
/// a key that belongs to the certificate.
pub fn tls_files(cert: &Path, key: &Path, owner: Option<&Owner>) -> Result {
    readable_by(cert, owner, "TLS certificate")?;
    readable_by(key, owner, "TLS key")?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect())
        .map_err(|e| refused(format!("the TLS certificate {} is not PEM: {e}", cert.display())))?;
    if chain.is_empty() {
        return Err(refused(format!(
            "the TLS certificate {} holds no CERTIFICATE block",
            cert.display()
        )));
    }
    let private = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| refused(format!("the TLS key {} is not a PEM private key: {e}", key.display())))?;
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    rustls::sign::CertifiedKey::from_der(chain, private, &provider).map_err(|e| {
        refused(format!(
            "the TLS key {} does not belong to the certificate {} ({e}); give the key the certificate was issued for",
            key.display(),
            cert.display()
        ))
    })?;
    Ok(())
}

/// A CA bundle for talking to the server over TLS: at least one PEM certificate.
pub fn ca_bundle(path: &Path) -> Result {
    let count = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<std::result::Result<Vec<_>, _>>())
        .map_err(|e| refused(format!("the CA bundle {} cannot be read as PEM: {e}", path.display())))?
        .len();
    if count == 0 {
        return Err(refused(format!(
            "the CA bundle {} holds no certificate",
            path.display()
        )));
    }
    Ok(())
}

/// The server's certificate is one the CA bundle `ca` vouches for, for `host` (the
/// address autounseal and the other nodes call): what a client checks at its first
/// call, checked here before AWS, so that a wrong CA or a certificate without the
/// host's IP or name costs nothing.
pub fn ca_verifies(cert: &Path, ca: &Path, host: &str) -> Result {
    use rustls::client::danger::ServerCertVerifier;
    use rustls::pki_types::{ServerName, UnixTime};
    let certs = |path: &Path, what: &str| {
        CertificateDer::pem_file_iter(path)
            .and_then(|certs| certs.collect::<std::result::Result<Vec<_>, _>>())
            .map_err(|e| refused(format!("the {what} {} cannot be read as PEM: {e}", path.display())))
    };
    let mut roots = rustls::RootCertStore::empty();
    for root in certs(ca, "CA bundle")? {
        roots.add(root).map_err(|e| {
            refused(format!(
                "the CA bundle {} holds a certificate that is no CA: {e}",
                ca.display()
            ))
        })?;
    }
    let chain = certs(cert, "TLS certificate")?;
    let Some((end_entity, intermediates)) = chain.split_first() else {
        return Err(refused(format!(
            "the TLS certificate {} holds no certificate",
            cert.display()
        )));
    };
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(roots.into(), provider)
        .build()
        .map_err(|e| refused(format!("the CA bundle {} cannot verify anything: {e}", ca.display())))?;
    let name = ServerName::try_from(host.trim_start_matches('[').trim_end_matches(']').to_string())
        .map_err(|e| refused(format!("{host} is no name or address a certificate can hold: {e}")))?;
    verifier
        .verify_server_cert(end_entity, intermediates, &name, &[], UnixTime::now())
        .map(drop)
        .map_err(|e| {
            refused(format!(
                "the CA bundle {} does not vouch for the TLS certificate {} as {host} ({e}). Give server.ca_cert \
                 the CA that issued it, or a certificate whose subject alternative names hold {host}",
                ca.display(),
                cert.display()
            ))
        })
}

/// The storage folder: a folder (or one that can be made) that is writable. Its
/// contents are judged by [`storage_in_use`].
pub fn storage_folder(path: &Path) -> Result {
    let existing = crate::files::nearest_existing(path);
    if !existing.is_dir() {
        return Err(refused(format!(
            "server.storage_path {} cannot be a folder: {} is a file",
            path.display(),
            existing.display()
        )));
    }
    if nix::unistd::access(&existing, nix::unistd::AccessFlags::W_OK).is_err() {
        return Err(refused(format!(
            "server.storage_path {} cannot be created or written: {} is read-only for autounseal",
            path.display(),
            existing.display()
        )));
    }
    Ok(())
}

/// A storage folder that already holds data which this manifest did not make: a
/// server set up before (perhaps by a run since destroyed, whose KMS key is pending
/// deletion) would come up initialised, sealed by another key, with no keys for us.
///
/// `made_by_us` also holds when the config kept is the operator's own and names this
/// folder: the data is theirs on purpose.
pub fn storage_in_use(path: &Path, made_by_us: bool) -> Result {
    if made_by_us {
        return Ok(());
    }
    let Ok(mut entries) = std::fs::read_dir(path) else {
        return Ok(());
    };
    if entries.next().is_none() {
        return Ok(());
    }
    Err(refused(format!(
        "server.storage_path {} already holds data that autounseal's manifest did not make (raft files of a \
         server set up before, perhaps by a run that was destroyed). A server on it would come up initialised \
         by another seal, with no keys for you. Choose an empty folder, or move this one aside if its data is \
         not needed",
        path.display()
    )))
}

/// A public PGP key, in any form `load_pgp_key` takes, that really is an OpenPGP public
/// key: the server only finds out at init, after AWS is set up.
pub fn pgp_public_key(path: &Path) -> Result {
    let encoded = load_pgp_key(path).map_err(refused)?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|e| refused(format!("{} is not base64: {e}", path.display())))?;
    // OpenPGP packet header: bit 7 set; the tag is bits 5-0 (new format) or 5-2 (old).
    let tag = match bytes.first() {
        Some(b) if b & 0x80 == 0 => None,
        Some(b) if b & 0x40 != 0 => Some(b & 0x3f),
        Some(b) => Some((b >> 2) & 0x0f),
        None => None,
    };
    if tag == Some(6) {
        Ok(())
    } else {
        Err(refused(format!(
            "{} is not an OpenPGP public key (export one with `gpg --export KEYID > key.gpg`)",
            path.display()
        )))
    }
}

/// The systemd unit to restart exists. Without systemd at all, says what to use instead.
pub fn systemd_unit(unit: &str) -> Result {
    let out =
        crate::vault::launch::systemctl_probe(&["show", "--property=LoadState", "--value", unit]).map_err(|e| {
            refused(format!(
                "{e}: this host may have no systemd; choose server.launch = \"background\" or \"none\""
            ))
        })?;
    let state = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() {
        return Err(refused(format!(
            "cannot ask systemd about {unit}: {}. If this host has no running systemd, choose server.launch = \
             \"background\" or \"none\"",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    if state == "loaded" {
        Ok(())
    } else {
        Err(refused(format!(
            "the systemd unit {unit} does not exist here (LoadState={state}). Install the server's package, which \
             brings the unit, or choose server.launch = \"background\" or \"none\""
        )))
    }
}

/// The unit's `ExecStart` reads the config autounseal writes: that file, or the folder
/// holding it. Otherwise the server would start without the seal.
pub fn unit_reads_config(unit: &Unit, config: &Path) -> Result {
    let Some(loaded) = &unit.config else {
        return Err(refused(format!(
            "the systemd unit {} starts the server without -config, so it would not read {}: add \
             `-config={}` to its ExecStart (a drop-in with `systemctl edit {}`)",
            unit.id,
            config.display(),
            config.display(),
            unit.id
        )));
    };
    let same = |a: &Path, b: &Path| a.components().eq(b.components());
    if same(loaded, config) || (loaded.is_dir() && config.parent().is_some_and(|p| same(p, loaded))) {
        return Ok(());
    }
    let suggestion = if loaded.is_dir() {
        loaded.join(crate::vault::config::SEAL_FRAGMENT)
    } else {
        loaded.clone()
    };
    Err(refused(format!(
        "the systemd unit {} starts the server with -config={}, not {}: set output.vault_config = \"{}\", or \
         change the unit's ExecStart",
        unit.id,
        loaded.display(),
        config.display(),
        suggestion.display()
    )))
}

/// The unit's `User=` exists: systemd would refuse to start it otherwise.
pub fn service_user(unit: &Unit) -> Result {
    let Some(user) = &unit.user else {
        return Ok(());
    };
    match nix::unistd::User::from_name(user) {
        Ok(Some(_)) => Ok(()),
        _ => Err(refused(format!(
            "the systemd unit {} runs as User={user}, which does not exist here: create it \
             (`useradd --system --no-create-home --shell /usr/sbin/nologin {user}`) or install the server's package",
            unit.id
        ))),
    }
}

/// The service user can reach the storage folder and write in it (or in the nearest
/// folder that exists, where autounseal makes it and hands it over).
pub fn storage_usable_by(path: &Path, owner: Option<&Owner>, user: &str) -> Result {
    let Some(owner) = owner else {
        return Ok(());
    };
    let existing = crate::files::nearest_existing(path);
    let may = |meta: &std::fs::Metadata, bits: u32| {
        let shift = if meta.uid() == owner.uid.as_raw() {
            6
        } else if meta.gid() == owner.gid.as_raw() {
            3
        } else {
            0
        };
        (meta.mode() >> shift) & bits == bits
    };
    for folder in path.ancestors().skip(1) {
        if let Ok(meta) = std::fs::metadata(folder)
            && !may(&meta, 0o1)
        {
            return Err(refused(format!(
                "the service user {user} cannot reach server.storage_path {}: {} is closed to it \
                 (`chmod o+x {}`, or choose a storage path it can reach)",
                path.display(),
                folder.display(),
                folder.display()
            )));
        }
    }
    // A folder autounseal makes is handed to the user; an existing one must already be its.
    if existing == path
        && let Ok(meta) = std::fs::metadata(path)
        && !may(&meta, 0o3)
    {
        return Err(refused(format!(
            "the service user {user} cannot write in server.storage_path {}: `chown -R {user} {}`",
            path.display(),
            path.display()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A CA and a certificate it issued for `sans`, written as PEM into `dir`.
    fn issued(dir: &Path, name: &str, sans: &[&str]) -> (std::path::PathBuf, std::path::PathBuf) {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
        let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
        let (ca_path, cert_path) = (dir.join(format!("{name}-ca.pem")), dir.join(format!("{name}.pem")));
        std::fs::write(&ca_path, ca.pem()).unwrap();
        std::fs::write(&cert_path, cert.pem()).unwrap();
        (ca_path, cert_path)
    }

    #[test]
    fn a_certificate_must_be_vouched_for_by_the_ca_given_for_the_address_clients_call() {
        let dir = tempfile::tempdir().unwrap();
        let (ca, cert) = issued(dir.path(), "host1", &["10.231.0.11", "vault1.example"]);
        ca_verifies(&cert, &ca, "10.231.0.11").unwrap();
        ca_verifies(&cert, &ca, "vault1.example").unwrap();
        // Another CA: refused, with what to give instead.
        let (other_ca, _) = issued(dir.path(), "other", &["10.231.0.11"]);
        let wrong = ca_verifies(&cert, &other_ca, "10.231.0.11").unwrap_err().to_string();
        assert!(
            wrong.contains("does not vouch for") && wrong.contains("server.ca_cert"),
            "{wrong}"
        );
        // The address clients call is not in the certificate (a wildcard listener is
        // called on loopback).
        let elsewhere = ca_verifies(&cert, &ca, "127.0.0.1").unwrap_err().to_string();
        assert!(
            elsewhere.contains("subject alternative names hold 127.0.0.1"),
            "{elsewhere}"
        );
    }

    #[test]
    fn pgp_packets_are_told_from_other_base64() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("k.gpg");
        // Old-format header, tag 6 (public key).
        std::fs::write(&key, [0x99u8, 0x01, 0x0d, 0xff]).unwrap();
        pgp_public_key(&key).unwrap();
        let not_key = dir.path().join("k.b64");
        std::fs::write(&not_key, "aGVsbG8gd29ybGQ=\n").unwrap();
        let err = pgp_public_key(&not_key).unwrap_err().to_string();
        assert!(err.contains("not an OpenPGP public key"), "{err}");
    }

    #[test]
    fn storage_that_is_a_file_or_read_only_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "x").unwrap();
        let err = storage_folder(&file.join("data")).unwrap_err().to_string();
        assert!(err.contains("is a file"), "{err}");
        storage_folder(&dir.path().join("new/data")).unwrap();
    }

    #[test]
    fn the_unit_must_read_the_config_we_write() {
        let dir = tempfile::tempdir().unwrap();
        let unit = |config: Option<&Path>| Unit {
            id: "vault.service".into(),
            load_state: "loaded".into(),
            config: config.map(Path::to_path_buf),
            ..Default::default()
        };
        let file = Path::new("/etc/vault.d/vault.hcl");
        unit_reads_config(&unit(Some(file)), file).unwrap();
        unit_reads_config(&unit(Some(dir.path())), &dir.path().join("autounseal-seal.hcl")).unwrap();
        let err = unit_reads_config(&unit(Some(file)), Path::new("/etc/openbao/openbao.hcl"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("-config=/etc/vault.d/vault.hcl, not /etc/openbao/openbao.hcl")
                && err.contains("output.vault_config = \"/etc/vault.d/vault.hcl\""),
            "{err}"
        );
        let err = unit_reads_config(&unit(Some(dir.path())), file)
            .unwrap_err()
            .to_string();
        assert!(err.contains("autounseal-seal.hcl"), "{err}");
        let err = unit_reads_config(&unit(None), file).unwrap_err().to_string();
        assert!(err.contains("without -config"), "{err}");
    }

    #[test]
    fn a_missing_service_user_is_named() {
        let unit = Unit {
            id: "vault.service".into(),
            user: Some("surely-no-such-user".into()),
            ..Default::default()
        };
        let err = service_user(&unit).unwrap_err().to_string();
        assert!(
            err.contains("User=surely-no-such-user") && err.contains("useradd --system"),
            "{err}"
        );
        service_user(&Unit {
            user: Some("root".into()),
            ..unit
        })
        .unwrap();
    }

    #[test]
    fn storage_the_service_user_cannot_reach_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let closed = dir.path().join("closed");
        std::fs::create_dir(&closed).unwrap();
        std::fs::set_permissions(&closed, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
        // `nobody` owns nothing here.
        let nobody = Owner {
            uid: nix::unistd::Uid::from_raw(65534),
            gid: nix::unistd::Gid::from_raw(65534),
        };
        let err = storage_usable_by(&closed.join("data"), Some(&nobody), "nobody")
            .unwrap_err()
            .to_string();
        assert!(err.contains("cannot reach") && err.contains("chmod o+x"), "{err}");
        std::fs::set_permissions(&closed, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        storage_usable_by(&closed.join("data"), Some(&nobody), "nobody").unwrap();
        let err = storage_usable_by(&closed, Some(&nobody), "nobody")
            .unwrap_err()
            .to_string();
        assert!(err.contains("cannot write") && err.contains("chown -R nobody"), "{err}");
        storage_usable_by(&closed, None, "vault").unwrap();
    }

    #[test]
    fn storage_with_foreign_data_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        storage_in_use(dir.path(), false).unwrap();
        std::fs::write(dir.path().join("vault.db"), "raft").unwrap();
        let err = storage_in_use(dir.path(), false).unwrap_err().to_string();
        assert!(err.contains("already holds data"), "{err}");
        storage_in_use(dir.path(), true).unwrap();
    }
}
