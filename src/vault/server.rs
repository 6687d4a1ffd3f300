//! Which server we drive: HashiCorp Vault or OpenBao, where its binary is, and which
//! version, since OpenBao 2.7 moved the awskms seal out of the binary into a plugin.

use std::path::PathBuf;
use std::process::Command;

use crate::vault::VaultError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    Vault,
    OpenBao,
}

impl Flavour {
    pub fn name(self) -> &'static str {
        match self {
            Flavour::Vault => "Vault",
            Flavour::OpenBao => "OpenBao",
        }
    }

    /// The systemd unit the distribution packages install.
    pub fn unit(self) -> &'static str {
        match self {
            Flavour::Vault => "vault.service",
            Flavour::OpenBao => "openbao.service",
        }
    }

    /// The service user the distribution packages create.
    pub fn user(self) -> &'static str {
        match self {
            Flavour::Vault => "vault",
            Flavour::OpenBao => "openbao",
        }
    }

    /// The config and env file where the distribution packages keep them.
    pub fn packaged_files(self) -> (&'static str, &'static str) {
        match self {
            Flavour::Vault => ("/etc/vault.d/vault.hcl", "/etc/vault.d/vault.env"),
            Flavour::OpenBao => ("/etc/openbao/openbao.hcl", "/etc/openbao/openbao.env"),
        }
    }

    /// The flavour a binary's name suggests, before its version is read.
    pub fn from_binary_name(binary: &str) -> Flavour {
        if binary.contains("bao") {
            Flavour::OpenBao
        } else {
            Flavour::Vault
        }
    }

    /// The command-line tool's name, for the commands we show.
    pub fn cli(self) -> &'static str {
        match self {
            Flavour::Vault => "vault",
            Flavour::OpenBao => "bao",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerBinary {
    pub path: PathBuf,
    pub flavour: Flavour,
    pub version: (u32, u32, u32),
}

impl ServerBinary {
    pub fn version_text(&self) -> String {
        let (a, b, c) = self.version;
        format!("{} {a}.{b}.{c}", self.flavour.name())
    }

    /// OpenBao 2.7 and later ship awskms only as an external KMS plugin.
    pub fn has_builtin_awskms(&self) -> bool {
        !(self.flavour == Flavour::OpenBao && self.version >= (2, 7, 0))
    }

    pub fn check_awskms(&self) -> Result<(), VaultError> {
        if self.has_builtin_awskms() {
            return Ok(());
        }
        Err(VaultError::NoAwsKms {
            binary: self.path.clone(),
            version: self.version_text(),
        })
    }
}

/// Finds `binary` (a name on PATH or a path) and reads its version.
pub fn find(binary: &str) -> Result<ServerBinary, VaultError> {
    let path = if binary.contains('/') {
        let p = PathBuf::from(binary);
        if !p.is_file() {
            return Err(VaultError::BinaryMissing { binary: binary.into() });
        }
        p
    } else {
        which::which(binary).map_err(|_| VaultError::BinaryMissing { binary: binary.into() })?
    };
    // Discovery, the preflight and each node of a local cluster ask about the same file:
    // its answer is kept while the file is unchanged (its size and time).
    let stamp = std::fs::metadata(&path).ok().map(|m| (m.len(), m.modified().ok()));
    let known = || KNOWN.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(stamp) = &stamp
        && let Some((_, kept)) = known().get(&path).filter(|(s, _)| s == stamp)
    {
        return Ok(kept.clone());
    }
    // Asked with the lock let go: a slow binary holds up no other question.
    let found = ask_version(path)?;
    if let Some(stamp) = stamp {
        known().insert(found.path.clone(), (stamp, found.clone()));
    }
    Ok(found)
}

/// What [`find`] learnt of each binary in this process, with the file's size and time.
type Stamp = (u64, Option<std::time::SystemTime>);
static KNOWN: std::sync::LazyLock<std::sync::Mutex<std::collections::HashMap<PathBuf, (Stamp, ServerBinary)>>> =
    std::sync::LazyLock::new(Default::default);

fn ask_version(path: PathBuf) -> Result<ServerBinary, VaultError> {
    // A binary that hangs, or prints without end (`/usr/bin/yes`), is no server.
    let out = crate::child::output(
        crate::child_env::clean(&mut Command::new(&path), &[]).arg("version"),
        crate::child::Limits::PROBE,
    )
    .map_err(|e| match e {
        crate::child::ChildError::Stopped { why, .. } => VaultError::Refused(format!(
            "stopped ({why}) while asking {} for its version; nothing was changed",
            path.display()
        )),
        e => VaultError::BinaryBroken {
            binary: path.clone(),
            detail: format!("`version`: {e}"),
        },
    })?;
    let text = String::from_utf8_lossy(&out.stdout);
    parse_version(&text)
        .map(|(flavour, version)| ServerBinary {
            path: path.clone(),
            flavour,
            version,
        })
        .ok_or_else(|| VaultError::BinaryBroken {
            binary: path,
            detail: format!(
                "`version` printed {:?}, which names neither Vault nor OpenBao",
                text.trim()
            ),
        })
}

/// `Vault v1.17.2 (…)` or `OpenBao v2.6.2 (…)`.
pub fn parse_version(text: &str) -> Option<(Flavour, (u32, u32, u32))> {
    let line = text.lines().next()?.trim();
    let (name, rest) = line.split_once(' ')?;
    let flavour = match name {
        "Vault" => Flavour::Vault,
        "OpenBao" => Flavour::OpenBao,
        _ => return None,
    };
    let version = rest.split_whitespace().next()?.trim_start_matches('v');
    let core = version.split(['-', '+']).next()?;
    let mut parts = core.split('.').map(|p| p.parse::<u32>().ok());
    Some((
        flavour,
        (parts.next()??, parts.next()??, parts.next().flatten().unwrap_or(0)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_of_both_flavours() {
        assert_eq!(
            parse_version("OpenBao v2.6.2 (dd9c19c37a878cf4a81b18efb8d6f0599c7da923), built 2026"),
            Some((Flavour::OpenBao, (2, 6, 2)))
        );
        assert_eq!(
            parse_version("Vault v1.17.2 (abc), built x"),
            Some((Flavour::Vault, (1, 17, 2)))
        );
        assert_eq!(parse_version("Vault v1.18.0-beta1"), Some((Flavour::Vault, (1, 18, 0))));
        assert_eq!(parse_version("Consul v1.0.0"), None);
    }

    #[test]
    fn awskms_is_builtin_until_openbao_2_7() {
        let bin = |flavour, version| ServerBinary {
            path: "/x".into(),
            flavour,
            version,
        };
        assert!(bin(Flavour::OpenBao, (2, 6, 2)).has_builtin_awskms());
        assert!(!bin(Flavour::OpenBao, (2, 7, 0)).has_builtin_awskms());
        assert!(bin(Flavour::Vault, (1, 20, 0)).has_builtin_awskms());
    }

    #[test]
    fn a_binary_is_asked_its_version_once_until_it_changes() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let count = dir.path().join("asked");
        let binary = dir.path().join("bao");
        let script = |version: &str| {
            format!(
                "#!/bin/sh\necho asked >> {}\necho 'OpenBao v{version} (abc), built 2026'\n",
                count.display()
            )
        };
        std::fs::write(&binary, script("2.6.2")).unwrap();
        std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755)).unwrap();
        let asked = || std::fs::read_to_string(&count).unwrap_or_default().lines().count();
        let named = binary.to_string_lossy().into_owned();
        assert_eq!(find(&named).unwrap().version, (2, 6, 2));
        assert_eq!(find(&named).unwrap().version, (2, 6, 2));
        assert_eq!(
            asked(),
            1,
            "the second question was answered from what the first learnt"
        );
        // Upgraded in place (a longer file): asked again.
        std::fs::write(&binary, script("2.7.20")).unwrap();
        assert_eq!(find(&named).unwrap().version, (2, 7, 20));
        assert_eq!(asked(), 2);
    }

    #[test]
    fn a_missing_binary_says_how_to_fix_it() {
        let err = find("surely-no-such-vault-binary").unwrap_err().to_string();
        assert!(err.contains("not found") && err.contains("server.binary"), "{err}");
    }
}
