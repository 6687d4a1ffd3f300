//! The formats the access key is saved in: the env file systemd loads with
//! `EnvironmentFile=`, the AWS shared credentials file (INI) and the AWS console's CSV.
//! All are rendered into zeroizing buffers so the secret does not linger in freed memory.
//! [`KeyFiles`] says which of them hold a setup's key, for every writer and reader.

use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::secrets::AccessKey;

/// The env file's text. Values are written bare: AWS key ids and secrets are base64-ish
/// (`A-Za-z0-9+/=`), which systemd and shells both take without quoting. The buffer is
/// sized up front so that it never grows (growing frees a block with the secret in it).
pub fn render_env(key: &AccessKey, region: &str) -> Zeroizing<String> {
    debug_assert!(is_bare_value(&key.id) && is_bare_value(key.expose_secret()));
    const HEADER: &str = "# Written by autounseal for Vault's awskms seal; loaded by systemd EnvironmentFile=.\n\
         # Keep it mode 0600, owner vault:vault. Rotate the access key every 30 to 90 days.\n";
    let room = HEADER.len() + key.id.len() + key.expose_secret().len() + 2 * region.len() + 128;
    let mut text = Zeroizing::new(String::with_capacity(room));
    let room = text.capacity();
    text.push_str(HEADER);
    for part in [
        "AWS_ACCESS_KEY_ID=",
        &key.id,
        "\nAWS_SECRET_ACCESS_KEY=",
        key.expose_secret(),
        "\nAWS_DEFAULT_REGION=",
        region,
        "\nAWS_REGION=",
        region,
        "\n",
    ] {
        text.push_str(part);
    }
    debug_assert_eq!(text.capacity(), room, "the buffer never grew");
    text
}

/// The CSV the AWS console offers on key creation (`Access key ID,Secret access key`).
/// Neither field can hold a comma or a quote, so no CSV quoting is needed.
pub fn render_csv(key: &AccessKey) -> Zeroizing<String> {
    const HEADER: &str = "Access key ID,Secret access key\n";
    let room = HEADER.len() + key.id.len() + key.expose_secret().len() + 2;
    let mut text = Zeroizing::new(String::with_capacity(room));
    let room = text.capacity();
    for part in [HEADER, &key.id, ",", key.expose_secret(), "\n"] {
        text.push_str(part);
    }
    debug_assert_eq!(text.capacity(), room, "the buffer never grew");
    text
}

/// The files that hold a setup's key, by its credentials style: the one place that
/// knows, so that apply, a re-run, doctor and rotate read and write the same files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFiles {
    /// The file systemd's `EnvironmentFile=` and the background launch read.
    pub env_file: PathBuf,
    /// With the `shared-file` style: where the key is, the env file only pointing at it.
    pub shared: Option<SharedFile>,
}

/// An AWS shared credentials file and the profile in it that holds the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedFile {
    pub path: PathBuf,
    pub profile: String,
}

/// Which of [`KeyFiles`] a rendered text is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFileKind {
    Env,
    SharedCredentials,
}

impl KeyFiles {
    /// The file the secret is in.
    pub fn secret_path(&self) -> &Path {
        self.shared.as_ref().map_or(&self.env_file, |s| &s.path)
    }

    /// Every file to write for a key, the one the secret is in first (so that the env
    /// file never points at a file not written yet).
    pub fn paths(&self) -> Vec<(KeyFileKind, &Path)> {
        match &self.shared {
            None => vec![(KeyFileKind::Env, &self.env_file)],
            Some(shared) => vec![
                (KeyFileKind::SharedCredentials, &shared.path),
                (KeyFileKind::Env, &self.env_file),
            ],
        }
    }

    /// The text of one of [`Self::paths`] for `key`.
    pub fn render(&self, kind: KeyFileKind, key: &AccessKey, region: &str) -> Zeroizing<String> {
        match (kind, &self.shared) {
            (KeyFileKind::Env, None) => render_env(key, region),
            (KeyFileKind::Env, Some(shared)) => Zeroizing::new(render_env_pointer(shared, region)),
            (KeyFileKind::SharedCredentials, Some(shared)) => render_shared_credentials(key, &shared.profile),
            (KeyFileKind::SharedCredentials, None) => unreachable!("the env style has no shared credentials file"),
        }
    }

    /// The key the files hold; `None` when a file is missing or holds no key.
    pub fn read_key(&self) -> Option<AccessKey> {
        match &self.shared {
            None => read_env_key(&self.env_file),
            Some(shared) => read_shared_key(&shared.path, &shared.profile),
        }
    }

    /// The credentials style in words, for messages: `env` or `shared-file (profile P)`.
    pub fn style(&self) -> String {
        match &self.shared {
            None => "env".into(),
            Some(shared) => format!("shared-file (profile {})", shared.profile),
        }
    }

    /// The key id the files hold, without keeping the secret.
    pub fn read_key_id(&self) -> Option<String> {
        match &self.shared {
            None => read_env_key_id(&self.env_file),
            Some(_) => self.read_key().map(|k| k.id.clone()),
        }
    }
}

/// What must not be in the env file of the `shared-file` style: Vault's AWS secrets
/// engine and auth method read the environment's credentials chain, these included, and
/// would act as the unseal user (hashicorp/vault#30302).
pub const LEADS_TO_THE_KEY: [&str; 5] = [
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_PROFILE",
];

/// The env file of the `shared-file` style: the region alone. The seal finds the key
/// through its stanza (`shared_creds_filename`, `shared_creds_profile`), not through
/// `AWS_SHARED_CREDENTIALS_FILE`/`AWS_PROFILE`: Vault's AWS secrets engine and auth method
/// read those too, and would then act as the unseal user (hashicorp/vault#30302).
pub fn render_env_pointer(shared: &SharedFile, region: &str) -> String {
    format!(
        "# Written by autounseal for Vault's awskms seal; loaded by systemd EnvironmentFile=.\n\
         # The access key is in {path} (profile {profile}), named by the config's seal stanza.\n\
         # No AWS_SHARED_CREDENTIALS_FILE or AWS_PROFILE here, on purpose: Vault's AWS secrets engine and\n\
         # auth method read them too, and would find the unseal key through them.\n\
         AWS_REGION={region}\n",
        path = shared.path.display(),
        profile = shared.profile,
    )
}

/// The AWS shared credentials file (INI): one profile with the key. Sized up front, as
/// [`render_env`].
pub fn render_shared_credentials(key: &AccessKey, profile: &str) -> Zeroizing<String> {
    debug_assert!(is_bare_value(&key.id) && is_bare_value(key.expose_secret()));
    const HEADER: &str =
        "# Written by autounseal for Vault's awskms seal. Keep it mode 0600, owner the service user.\n";
    let room = HEADER.len() + profile.len() + key.id.len() + key.expose_secret().len() + 64;
    let mut text = Zeroizing::new(String::with_capacity(room));
    let room = text.capacity();
    for part in [
        HEADER,
        "[",
        profile,
        "]\naws_access_key_id = ",
        &key.id,
        "\naws_secret_access_key = ",
        key.expose_secret(),
        "\n",
    ] {
        text.push_str(part);
    }
    debug_assert_eq!(text.capacity(), room, "the buffer never grew");
    text
}

/// Reads the key of `profile` from a shared credentials file: `[profile]` sections of
/// `name = value` lines, `#` and `;` comments. `None` when the file, the profile or one
/// of the two keys is missing.
pub fn read_shared_key(path: &Path, profile: &str) -> Option<AccessKey> {
    let text = Zeroizing::new(std::fs::read_to_string(path).ok()?);
    let mut in_profile = false;
    let mut id = None;
    let mut secret = None;
    for line in text.lines().map(str::trim) {
        if line.starts_with(['#', ';']) || line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            in_profile = name.trim() == profile;
            continue;
        }
        let Some((name, value)) = line.split_once('=').filter(|_| in_profile) else {
            continue;
        };
        match name.trim() {
            "aws_access_key_id" => id = Some(value.trim().to_string()),
            "aws_secret_access_key" => secret = Some(value.trim()),
            _ => {}
        }
    }
    Some(AccessKey::new(id?, secret?))
}

fn is_bare_value(value: &str) -> bool {
    value.chars().all(|c| c.is_ascii_alphanumeric() || "+/=".contains(c))
}

/// Reads the access key back from an env file (a re-run checks that the key it saved
/// still works). `None` when the file is missing or holds no key.
pub fn read_env_key(path: &Path) -> Option<AccessKey> {
    // A folder opens, then fails every read: its iterator would never end.
    if !path.is_file() {
        return None;
    }
    let iter = dotenvy::from_path_iter(path).ok()?;
    let mut id = None;
    let mut secret = None;
    for item in iter.flatten() {
        match item.0.as_str() {
            "AWS_ACCESS_KEY_ID" => id = Some(item.1),
            "AWS_SECRET_ACCESS_KEY" => secret = Some(Zeroizing::new(item.1)),
            _ => {}
        }
    }
    Some(AccessKey::new(id?, secret?.as_str()))
}

/// The access key id an env file holds, without touching the secret.
pub fn read_env_key_id(path: &Path) -> Option<String> {
    if !path.is_file() {
        return None;
    }
    dotenvy::from_path_iter(path)
        .ok()?
        .flatten()
        .find(|(k, _)| k == "AWS_ACCESS_KEY_ID")
        .map(|(_, v)| v)
}

/// Every variable of an env file, for starting a server process with them.
pub fn read_env_vars(path: &Path) -> std::io::Result<Vec<(String, Zeroizing<String>)>> {
    let iter = dotenvy::from_path_iter(path).map_err(std::io::Error::other)?;
    let mut vars = Vec::new();
    for item in iter {
        let (k, v) = item.map_err(std::io::Error::other)?;
        vars.push((k, Zeroizing::new(v)));
    }
    Ok(vars)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> AccessKey {
        AccessKey::new("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    }

    #[test]
    fn env_file_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vault.env");
        std::fs::write(&path, render_env(&key(), "eu-west-1").as_bytes()).unwrap();
        let back = read_env_key(&path).unwrap();
        assert_eq!(back.id, "AKIAIOSFODNN7EXAMPLE");
        assert_eq!(back.expose_secret(), key().expose_secret());
        assert_eq!(read_env_key_id(&path).unwrap(), "AKIAIOSFODNN7EXAMPLE");
        let vars = read_env_vars(&path).unwrap();
        let names: Vec<_> = vars.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "AWS_ACCESS_KEY_ID",
                "AWS_SECRET_ACCESS_KEY",
                "AWS_DEFAULT_REGION",
                "AWS_REGION"
            ]
        );
    }

    #[test]
    fn csv_has_the_console_header() {
        let csv = render_csv(&key());
        let mut lines = csv.lines();
        assert_eq!(lines.next(), Some("Access key ID,Secret access key"));
        assert_eq!(
            lines.next(),
            Some("AKIAIOSFODNN7EXAMPLE,wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
        );
    }

    fn shared(dir: &Path) -> KeyFiles {
        KeyFiles {
            env_file: dir.join("vault.env"),
            shared: Some(SharedFile {
                path: dir.join("aws-credentials"),
                profile: "vault-auto-unseal".into(),
            }),
        }
    }

    #[test]
    fn shared_file_style_keeps_the_key_out_of_the_env_file() {
        let dir = tempfile::tempdir().unwrap();
        let files = shared(dir.path());
        let paths = files.paths();
        let kinds: Vec<_> = paths.iter().map(|(kind, _)| *kind).collect();
        assert_eq!(kinds, [KeyFileKind::SharedCredentials, KeyFileKind::Env]);
        for (kind, path) in paths {
            std::fs::write(path, files.render(kind, &key(), "eu-west-1").as_bytes()).unwrap();
        }
        let names: Vec<_> = read_env_vars(&files.env_file)
            .unwrap()
            .into_iter()
            .map(|(k, v)| format!("{k}={}", v.as_str()))
            .collect();
        let path = dir.path().join("aws-credentials");
        assert_eq!(
            names,
            ["AWS_REGION=eu-west-1"],
            "nothing the AWS engines could follow to the key"
        );
        assert_eq!(read_env_key(&files.env_file).map(|k| k.id), None);
        let back = files.read_key().unwrap();
        assert_eq!(
            (back.id.as_str(), back.expose_secret()),
            ("AKIAIOSFODNN7EXAMPLE", key().expose_secret())
        );
        assert_eq!(files.read_key_id().as_deref(), Some("AKIAIOSFODNN7EXAMPLE"));
        assert_eq!(files.secret_path(), path);
    }

    #[test]
    fn only_the_named_profile_counts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("credentials");
        let text = "[default]\naws_access_key_id = AKIAOTHER0000000000\naws_secret_access_key = other\n\n\
                    ; a comment\n[vault-auto-unseal]\naws_access_key_id=AKIAIOSFODNN7EXAMPLE\n";
        std::fs::write(&path, text).unwrap();
        assert!(
            read_shared_key(&path, "vault-auto-unseal").is_none(),
            "no secret in the profile"
        );
        assert!(read_shared_key(&path, "missing").is_none());
        assert_eq!(read_shared_key(&path, "default").unwrap().id, "AKIAOTHER0000000000");
    }

    #[test]
    fn missing_file_has_no_key() {
        assert!(read_env_key(Path::new("/nonexistent/vault.env")).is_none());
        let folder = tempfile::tempdir().unwrap();
        assert!(
            read_env_key(folder.path()).is_none(),
            "a folder is read as no key, at once"
        );
        assert!(read_env_key_id(folder.path()).is_none());
        assert!(read_shared_key(folder.path(), "default").is_none());
    }
}
