//! The formats the access key is saved in: the env file systemd loads with
//! `EnvironmentFile=` and the AWS console's CSV. Both are rendered into zeroizing
//! buffers so the secret does not linger in freed memory.

use std::path::Path;

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

fn is_bare_value(value: &str) -> bool {
    value.chars().all(|c| c.is_ascii_alphanumeric() || "+/=".contains(c))
}

/// Reads the access key back from an env file (a re-run checks that the key it saved
/// still works). `None` when the file is missing or holds no key.
pub fn read_env_key(path: &Path) -> Option<AccessKey> {
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

    #[test]
    fn missing_file_has_no_key() {
        assert!(read_env_key(Path::new("/nonexistent/vault.env")).is_none());
    }
}
