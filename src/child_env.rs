//! Child processes start from a clean environment: the operator's may hold anything
//! (their own `AWS_SECRET_ACCESS_KEY`, tokens of other tools), and a child sees only
//! what it needs. Each child gets this short allow-list, plus what is named for it.

use std::ffi::OsStr;
use std::process::Command;

/// What any child may see: where programs are, the home and temporary folders, the
/// language and time zone.
const ALLOWED: [&str; 5] = ["PATH", "HOME", "TMPDIR", "LANG", "TZ"];

/// Whether a variable of the operator's environment passes to children.
pub fn allowed(name: &OsStr) -> bool {
    name.to_str()
        .is_some_and(|n| ALLOWED.contains(&n) || n == "LANGUAGE" || n.starts_with("LC_"))
}

/// Empties `cmd`'s environment, then passes on the allowed variables and `extra`.
pub fn clean<'a>(cmd: &'a mut Command, extra: &[&str]) -> &'a mut Command {
    cmd.env_clear();
    for (name, value) in std::env::vars_os() {
        if allowed(&name) || name.to_str().is_some_and(|n| extra.contains(&n)) {
            cmd.env(name, value);
        }
    }
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_allow_list_passes() {
        for name in ["PATH", "HOME", "TMPDIR", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "TZ"] {
            assert!(allowed(OsStr::new(name)), "{name}");
        }
        for name in [
            "AWS_SECRET_ACCESS_KEY",
            "VAULT_TOKEN",
            "BAO_TOKEN",
            "GITHUB_TOKEN",
            "LD_PRELOAD",
            "PATHX",
        ] {
            assert!(!allowed(OsStr::new(name)), "{name}");
        }
    }

    #[test]
    fn a_child_sees_nothing_else() {
        // The test's own environment has more than the allow-list (cargo sets CARGO_*).
        assert!(std::env::vars_os().any(|(k, _)| !allowed(&k)));
        let out = clean(Command::new("env").env("SET_BEFORE", "1"), &[]).output().unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        for line in text.lines() {
            let name = line.split_once('=').map_or(line, |(k, _)| k);
            assert!(allowed(OsStr::new(name)), "{name} reached the child");
        }
    }
}
