//! What `sys/init` hands back once: recovery keys and the root token. Held in
//! zeroizing types from the moment the answer is parsed, never printable by accident,
//! wiped when dropped; saved only where the operator said.

use std::path::{Path, PathBuf};

use base64::Engine;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::files::{self, Existing, FileError, WriteOptions};

pub struct InitSecrets {
    /// Hex recovery keys, or PGP-encrypted blobs when PGP keys were given.
    pub recovery_keys: Vec<SecretString>,
    pub root_token: SecretString,
    /// True when the keys and token came back encrypted to the operator's PGP keys.
    pub pgp_encrypted: bool,
}

impl std::fmt::Debug for InitSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "InitSecrets({} recovery keys, root token: [redacted])",
            self.recovery_keys.len()
        )
    }
}

/// The answer's shape; every secret lands in a zeroizing string. The other fields
/// (`keys`, `recovery_keys_base64`) are skipped unread: nothing needs them.
#[derive(Deserialize)]
struct RawInit {
    #[serde(default)]
    recovery_keys: Vec<Zeroizing<String>>,
    root_token: Zeroizing<String>,
}

impl InitSecrets {
    pub fn from_response(body: &[u8]) -> Result<InitSecrets, serde_json::Error> {
        let raw: RawInit = serde_json::from_slice(body)?;
        // Copied into boxes of their exact size; the parsed strings wipe themselves.
        let secret = |s: &Zeroizing<String>| SecretString::from(s.as_str());
        Ok(InitSecrets {
            recovery_keys: raw.recovery_keys.iter().map(secret).collect(),
            root_token: secret(&raw.root_token),
            pgp_encrypted: false,
        })
    }

    /// The file a headless run saves: the same lines `vault operator init` prints.
    /// Written into a buffer sized up front: a `String` that grows frees its earlier
    /// blocks, with the keys written so far in them.
    pub fn render(&self, threshold: u16, server: &str) -> Zeroizing<String> {
        use std::fmt::Write;
        let header = format!(
            "# Recovery keys and initial root token of {server}, written once by autounseal.\n\
             # {threshold} of these {n} recovery keys are needed for recovery operations \
             (generate-root, rekey). They cannot unseal: KMS does that.\n\
             # Store them apart and offline, then delete this file.\n",
            n = self.recovery_keys.len()
        );
        const PGP: &str = "# The values are encrypted to the PGP keys given (base64).\n";
        // "Recovery Key NNNNN: " and the newline, per key; the token's line.
        let room = header.len()
            + PGP.len()
            + self
                .recovery_keys
                .iter()
                .map(|k| k.expose_secret().len() + 24)
                .sum::<usize>()
            + self.root_token.expose_secret().len()
            + 24;
        let mut text = Zeroizing::new(String::with_capacity(room));
        let room = text.capacity();
        text.push_str(&header);
        if self.pgp_encrypted {
            text.push_str(PGP);
        }
        for (i, key) in self.recovery_keys.iter().enumerate() {
            let _ = write!(text, "Recovery Key {}: ", i + 1);
            text.push_str(key.expose_secret());
            text.push('\n');
        }
        text.push_str("\nInitial Root Token: ");
        text.push_str(self.root_token.expose_secret());
        text.push('\n');
        debug_assert_eq!(text.capacity(), room, "the buffer never grew");
        text
    }

    /// Saves to `path`, created new with mode 0600, and returns where they went.
    /// Recovery keys are never written over, and never lost: when `path` is taken
    /// (checked earlier, but a file can appear meanwhile) they go to `path.1`, `path.2`…
    pub fn save(&self, path: &Path, threshold: u16, server: &str) -> Result<PathBuf, FileError> {
        let opts = WriteOptions {
            mode: 0o600,
            owner: None,
            existing: Existing::Refuse,
        };
        let text = self.render(threshold, server);
        // A folder made for the keys is for the keys alone.
        if let Some(dir) = files::folders_to_create(path) {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&dir)
                .map_err(|source| FileError::CreateDir { path: dir, source })?;
        }
        let mut candidate = path.to_path_buf();
        for n in 1.. {
            match files::write_atomic(&candidate, text.as_bytes(), opts) {
                Err(FileError::Exists { .. }) => {
                    candidate = PathBuf::from(format!("{}.{n}", path.display()));
                }
                other => return other.map(|_| candidate),
            }
        }
        unreachable!("an unbounded search ends with a free name")
    }
}

/// A public PGP key file in the form the API wants: base64 of the binary key. Accepts
/// a binary key, an ASCII-armored one, or one already in base64.
pub fn load_pgp_key(path: &Path) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read the PGP key {}: {e}", path.display()))?;
    let engine = base64::engine::general_purpose::STANDARD;
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return Ok(engine.encode(&bytes));
    };
    if text.contains("-----BEGIN PGP PUBLIC KEY BLOCK-----") {
        // Armor: headers, a blank line, base64 lines, an optional "=CRC" line, the end line.
        let body: String = text
            .lines()
            .skip_while(|l| !l.starts_with("-----BEGIN"))
            .skip(1)
            .skip_while(|l| !l.trim().is_empty())
            .take_while(|l| !l.starts_with("-----END"))
            .filter(|l| !l.starts_with('='))
            .map(str::trim)
            .collect();
        if engine.decode(&body).is_err() || body.is_empty() {
            return Err(format!(
                "{} is not a readable ASCII-armored PGP public key",
                path.display()
            ));
        }
        return Ok(body);
    }
    let compact: String = text.split_whitespace().collect();
    if !compact.is_empty() && engine.decode(&compact).is_ok() {
        Ok(compact)
    } else {
        Err(format!(
            "{} is neither a binary, armored nor base64 PGP public key",
            path.display()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANSWER: &[u8] = br#"{"keys":[],"keys_base64":[],"recovery_keys":["aa11","bb22"],"recovery_keys_base64":["qhE=","uyI="],"root_token":"s.root"}"#;

    #[test]
    fn parses_the_answer_and_never_debug_prints_it() {
        let s = InitSecrets::from_response(ANSWER).unwrap();
        assert_eq!(s.recovery_keys.len(), 2);
        assert_eq!(s.root_token.expose_secret(), "s.root");
        let shown = format!("{s:?}");
        assert!(!shown.contains("aa11") && !shown.contains("s.root"), "{shown}");
    }

    #[test]
    fn the_file_is_written_into_a_buffer_that_never_grows() {
        let mut s = InitSecrets::from_response(ANSWER).unwrap();
        for pgp in [false, true] {
            s.pgp_encrypted = pgp;
            let text = s.render(2, "http://127.0.0.1:8200");
            assert!(text.len() <= text.capacity() && text.ends_with("Initial Root Token: s.root\n"));
        }
    }

    #[test]
    fn saved_once_with_mode_0600_and_never_overwritten() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.txt");
        let s = InitSecrets::from_response(ANSWER).unwrap();
        s.save(&path, 2, "http://127.0.0.1:8200").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("Recovery Key 1: aa11\nRecovery Key 2: bb22\n")
                && text.contains("Initial Root Token: s.root")
        );
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        // A second save never touches the first file.
        let second = s.save(&path, 2, "x").unwrap();
        assert_eq!(second, dir.path().join("keys.txt.1"));
        assert!(
            std::fs::read_to_string(&path)
                .unwrap()
                .contains("http://127.0.0.1:8200")
        );
    }

    #[test]
    fn a_folder_made_for_the_keys_is_the_owners_alone() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new/keys/keys.txt");
        let s = InitSecrets::from_response(ANSWER).unwrap();
        s.save(&path, 2, "x").unwrap();
        for folder in [dir.path().join("new"), dir.path().join("new/keys")] {
            let mode = std::fs::metadata(&folder).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o700, "{}", folder.display());
        }
    }

    #[test]
    fn pgp_keys_in_three_forms() {
        let dir = tempfile::tempdir().unwrap();
        let binary = dir.path().join("k.gpg");
        std::fs::write(&binary, [0x99u8, 0x01, 0x0d, 0xff]).unwrap();
        assert_eq!(load_pgp_key(&binary).unwrap(), "mQEN/w==");
        let armored = dir.path().join("k.asc");
        std::fs::write(
            &armored,
            "-----BEGIN PGP PUBLIC KEY BLOCK-----\nComment: test\n\nmQEN\n/w==\n=abcd\n-----END PGP PUBLIC KEY BLOCK-----\n",
        )
        .unwrap();
        assert_eq!(load_pgp_key(&armored).unwrap(), "mQEN/w==");
        let b64 = dir.path().join("k.b64");
        std::fs::write(&b64, "mQEN/w==\n").unwrap();
        assert_eq!(load_pgp_key(&b64).unwrap(), "mQEN/w==");
        let junk = dir.path().join("junk");
        std::fs::write(&junk, "not a key!").unwrap();
        assert!(load_pgp_key(&junk).is_err());
    }
}
