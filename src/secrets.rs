//! Secret values: held in zeroizing types from the moment they are read, never
//! printable by accident (their `Debug` is redacted and they have no `Display`).

use secrecy::{ExposeSecret, SecretString};

/// What the wizard shows in place of a hidden secret.
pub const MASK: &str = "••••••••";

/// A new IAM access key. The id is not secret; the secret key exists only here and in
/// the files it is saved to.
pub struct AccessKey {
    pub id: String,
    pub secret: SecretString,
}

impl std::fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKey")
            .field("id", &self.id)
            .field("secret", &"[redacted]")
            .finish()
    }
}

impl AccessKey {
    /// The secret is copied into a box of its exact size; the caller wipes its own copy
    /// (hold it in a `Zeroizing`).
    pub fn new(id: impl Into<String>, secret: &str) -> AccessKey {
        AccessKey {
            id: id.into(),
            secret: SecretString::from(secret),
        }
    }

    pub fn expose_secret(&self) -> &str {
        self.secret.expose_secret()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let key = AccessKey::new("AKIAEXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
        let shown = format!("{key:?}");
        assert!(shown.contains("AKIAEXAMPLE"));
        assert!(!shown.contains("wJalr"), "{shown}");
    }
}
