//! The env file (with the shared credentials file it may name) and the config: the
//! files the server reads at a start.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use zeroize::Zeroizing;

use super::{RERUN_APPLY, config_path};
use crate::answers::ServiceAccount;
use crate::credentials_file::{LEADS_TO_THE_KEY, SharedFile, read_shared_key};
use crate::doctor::{Finding, Link};
use crate::files::Owner;
use crate::run::Manifest;
use crate::run::manifest::FileRole;
use crate::secrets::AccessKey;

/// The variables the env file must hold: the key, and the region twice (the seal reads
/// `AWS_REGION`, older SDKs `AWS_DEFAULT_REGION`).
pub const ENV_VARIABLES: [&str; 4] = [
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
];

/// With the `shared-file` style: the region alone (the seal stanza names the key's file).
pub const SHARED_STYLE_VARIABLES: [&str; 1] = ["AWS_REGION"];

/// Exists, 0600, owned by the service user, parses, holds the variables of its style,
/// and names the key's region; with the `shared-file` style, the same of the shared
/// credentials file it names. Returns the key they hold (the secret in zeroizing memory).
/// Long, on purpose: one check after another, each a finding, in the order a start reads.
pub fn env_file(manifest: &Manifest, region: &str, out: &mut Vec<Finding>) -> Option<AccessKey> {
    let link = Link::EnvFile;
    let Some(files) = manifest.key_files() else {
        out.push(Finding::fail(
            link,
            "exists",
            "the manifest records no env file",
            RERUN_APPLY,
        ));
        return None;
    };
    let path = files.env_file.as_path();
    let shown = path.display();
    if !secret_file(link, path, manifest, out) {
        return None;
    }
    let iter = match dotenvy::from_path_iter(path) {
        Ok(iter) => iter,
        Err(e) => {
            out.push(Finding::fail(link, "parses", format!("{shown}: {e}"), RERUN_APPLY));
            return None;
        }
    };
    let mut vars: Vec<(String, Zeroizing<String>)> = Vec::new();
    for (entry, item) in iter.enumerate() {
        match item {
            Ok((name, value)) => vars.push((name, Zeroizing::new(value))),
            // Never the error's text: it quotes the line, which may be the secret's.
            Err(_) => {
                out.push(Finding::fail(
                    link,
                    "parses",
                    format!("entry {} of {shown} is not NAME=VALUE", entry + 1),
                    format!("fix that line (or {})", RERUN_APPLY),
                ));
                return None;
            }
        }
    }
    out.push(Finding::ok(link, "parses", format!("{} variables", vars.len())));
    let value = |name: &str| {
        vars.iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    };
    let expected: &[&str] = if files.shared.is_some() {
        &SHARED_STYLE_VARIABLES
    } else {
        &ENV_VARIABLES
    };
    let missing: Vec<&str> = expected.iter().copied().filter(|name| value(name).is_none()).collect();
    out.push(if missing.is_empty() {
        Finding::ok(link, "variables", expected.join(", "))
    } else {
        Finding::fail(
            link,
            "variables",
            format!("{} lacks {}", shown, missing.join(", ")),
            format!(
                "add {} to {shown} (or {}), then restart the server",
                missing.join(", "),
                RERUN_APPLY
            ),
        )
    });
    let wrong: Vec<String> = ["AWS_REGION", "AWS_DEFAULT_REGION"]
        .into_iter()
        .filter_map(|name| value(name).filter(|v| *v != region).map(|v| format!("{name}={v}")))
        .collect();
    out.push(if wrong.is_empty() {
        Finding::ok(link, "region", format!("{region}, the key's region"))
    } else {
        Finding::fail(
            link,
            "region",
            format!(
                "{} but the key is in {region}: the seal takes the environment's region before the config's",
                wrong.join(", ")
            ),
            format!("set AWS_REGION={region} and AWS_DEFAULT_REGION={region} in {shown}, then restart the server"),
        )
    });
    let Some(shared) = &files.shared else {
        return Some(AccessKey::new(
            value("AWS_ACCESS_KEY_ID")?,
            value("AWS_SECRET_ACCESS_KEY")?,
        ));
    };
    // The point of the style: nothing in the environment leads Vault's AWS engines to the key.
    let in_env: Vec<&str> = LEADS_TO_THE_KEY
        .into_iter()
        .filter(|name| value(name).is_some())
        .collect();
    out.push(if in_env.is_empty() {
        Finding::ok(
            link,
            "no key",
            "nothing leads to the key: the seal stanza names its file",
        )
    } else {
        Finding::warn(
            link,
            "no key",
            format!(
                "{shown} sets {}: the server's AWS secrets engine and auth method would find the key and act as \
                 the unseal user",
                in_env.join(", ")
            ),
            format!(
                "remove {} from {shown} (the seal reads the key from {}, which its stanza names), then restart \
                 the server",
                in_env.join(", "),
                shared.path.display()
            ),
        )
    });
    shared_credentials(manifest, shared, out)
}

/// The shared credentials file: exists, 0600, the service user's, and its profile has
/// both halves of the key, read as the server's SDK reads it.
fn shared_credentials(manifest: &Manifest, shared: &SharedFile, out: &mut Vec<Finding>) -> Option<AccessKey> {
    let link = Link::SharedCredentials;
    if !secret_file(link, &shared.path, manifest, out) {
        return None;
    }
    let key = read_shared_key(&shared.path, &shared.profile);
    out.push(match &key {
        Some(key) => Finding::ok(
            link,
            "profile",
            format!("[{}] holds access key {}", shared.profile, key.id),
        ),
        None => Finding::fail(
            link,
            "profile",
            format!(
                "{} has no profile [{}] with aws_access_key_id and aws_secret_access_key",
                shared.path.display(),
                shared.profile
            ),
            RERUN_APPLY,
        ),
    });
    key
}

/// A file with a secret in it: exists, no one but its owner reads it, its owner is the
/// service user. False when it is missing (nothing more to check).
fn secret_file(link: Link, path: &Path, manifest: &Manifest, out: &mut Vec<Finding>) -> bool {
    let shown = path.display();
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) => {
            out.push(Finding::fail(link, "exists", format!("{shown}: {e}"), RERUN_APPLY));
            return false;
        }
    };
    out.push(Finding::ok(link, "exists", shown.to_string()));
    let mode = meta.mode() & 0o777;
    out.push(if mode & 0o077 == 0 {
        Finding::ok(link, "mode", format!("mode {mode:04o}"))
    } else {
        Finding::fail(
            link,
            "mode",
            format!("mode {mode:04o}: other users can read the secret access key"),
            format!("chmod 600 {shown}"),
        )
    });
    let account = service_account(manifest);
    let owner = Owner::service_account(&account.user, account.group.as_deref());
    out.push(owner_finding(link, path, meta.uid(), &account, owner));
    true
}

/// The secret files belong to the user the server runs as. When that user does not
/// exist here, or we are not root (only root gives files away), there is no one else
/// they could belong to.
fn owner_finding(link: Link, path: &Path, uid: u32, account: &ServiceAccount, service: Option<Owner>) -> Finding {
    let name = &account.user;
    let group = account.group.as_deref().unwrap_or(name);
    match service {
        Some(owner) if owner.uid.as_raw() != uid => Finding::warn(
            link,
            "owner",
            format!("owned by uid {uid}, not by the service user {name} (uid {})", owner.uid),
            format!("chown {name}:{group} {}", path.display()),
        ),
        Some(_) => Finding::ok(link, "owner", format!("owned by {name}")),
        None => Finding::ok(
            link,
            "owner",
            format!("owned by uid {uid} (no {name} user to give it to, or not run as root)"),
        ),
    }
}

/// Who the server runs as: recorded when the secret files were written (`vault` for
/// a manifest from before that was recorded).
fn service_account(manifest: &Manifest) -> ServiceAccount {
    manifest.service_account.clone().unwrap_or(ServiceAccount {
        user: "vault".into(),
        group: None,
    })
}

/// Parses, has the awskms seal stanza, names the manifest's key and region, holds no
/// credentials, and has an endpoint exactly when the setup used one. Long, on purpose:
/// one check after another, each a finding, in the order a start reads the file.
pub fn config(manifest: &Manifest, out: &mut Vec<Finding>) {
    let link = Link::Config;
    let Some(path) = config_path(manifest) else {
        out.push(Finding::fail(
            link,
            "parses",
            "the manifest records no config",
            RERUN_APPLY,
        ));
        return;
    };
    let shown = path.display();
    let parsed = std::fs::read_to_string(&path)
        .map_err(|e| e.to_string())
        .and_then(|text| hcl::from_str::<serde_json::Value>(&text).map_err(|e| e.to_string()));
    let doc = match parsed {
        Ok(doc) => doc,
        Err(e) => {
            out.push(Finding::fail(link, "parses", format!("{shown}: {e}"), RERUN_APPLY));
            return;
        }
    };
    out.push(Finding::ok(link, "parses", shown.to_string()));
    let seal = &doc["seal"]["awskms"];
    if !seal.is_object() {
        out.push(Finding::fail(
            link,
            "seal stanza",
            format!("{shown} has no seal \"awskms\" block: the server would not unseal with KMS"),
            RERUN_APPLY,
        ));
        return;
    }
    out.push(Finding::ok(link, "seal stanza", "seal \"awskms\""));
    let restart = "then restart the server";
    if let Some(key) = &manifest.kms_key {
        let named = seal["kms_key_id"].as_str().unwrap_or("");
        out.push(if named == key.arn || named == key.key_id {
            Finding::ok(link, "key id", named)
        } else {
            Finding::fail(
                link,
                "key id",
                format!("kms_key_id is \"{named}\", but the setup's key is {}", key.arn),
                format!("set kms_key_id = \"{}\" in {shown}, {restart}", key.arn),
            )
        });
    }
    if let Some(region) = &manifest.region {
        let named = seal["region"].as_str().unwrap_or("");
        out.push(if named == region {
            Finding::ok(link, "region", named)
        } else {
            Finding::fail(
                link,
                "region",
                format!("region is \"{named}\", but the key is in {region}"),
                format!("set region = \"{region}\" in {shown}, {restart}"),
            )
        });
    }
    let shared = manifest.key_files().and_then(|f| f.shared);
    if let Some(shared) = &shared {
        let recorded = shared.path.to_string_lossy();
        let named = (
            seal["shared_creds_filename"].as_str().unwrap_or(""),
            seal["shared_creds_profile"].as_str().unwrap_or(""),
        );
        out.push(if named == (&recorded, shared.profile.as_str()) {
            Finding::ok(
                link,
                "names the key's file",
                format!("{recorded}, profile {}", shared.profile),
            )
        } else {
            Finding::fail(
                link,
                "names the key's file",
                format!(
                    "shared_creds_filename is \"{}\" and shared_creds_profile \"{}\", but the key is in {recorded}, \
                     profile {}",
                    named.0, named.1, shared.profile
                ),
                format!(
                    "set shared_creds_filename = \"{recorded}\" and shared_creds_profile = \"{}\" in the seal stanza \
                     of {shown}, {restart}",
                    shared.profile
                ),
            )
        });
    }
    // Names only: the values are secrets.
    let credentials: Vec<&str> = ["access_key", "secret_key", "session_token"]
        .into_iter()
        .filter(|name| seal.get(name).is_some())
        .collect();
    out.push(if credentials.is_empty() {
        Finding::ok(
            link,
            "no credentials",
            match &shared {
                Some(shared) => format!("the seal reads its credentials from {}", shared.path.display()),
                None => "the seal takes its credentials from the environment".into(),
            },
        )
    } else {
        Finding::fail(
            link,
            "no credentials",
            format!(
                "the seal stanza holds {}: they win over the env file and sit in a file the config's readers see",
                credentials.join(", ")
            ),
            format!(
                "remove {} from {shown} (the env file has the key), {restart}",
                credentials.join(", ")
            ),
        )
    });
    let endpoint = seal["endpoint"].as_str();
    out.push(match (endpoint, manifest.endpoint_url.as_deref()) {
        (None, None) => Finding::ok(link, "endpoint", "none: AWS itself"),
        (Some(set), Some(used)) if set == used => Finding::ok(link, "endpoint", set),
        (Some(set), None) => Finding::warn(
            link,
            "endpoint",
            format!("endpoint = \"{set}\", but the setup used AWS itself"),
            format!("remove endpoint from {shown} unless KMS is really reached there, {restart}"),
        ),
        (set, Some(used)) => Finding::fail(
            link,
            "endpoint",
            format!(
                "endpoint is {}, but the setup's KMS is {used}",
                set.unwrap_or("not set")
            ),
            format!("set endpoint = \"{used}\" in {shown}, {restart}"),
        ),
    });
    kms_plugin(manifest, &path, out);
}

/// OpenBao 2.7 and later: the KMS plugin the config declares is in its folder, a real
/// file only root can change, with the SHA-256 the server will check before running it.
fn kms_plugin(manifest: &Manifest, config: &Path, out: &mut Vec<Finding>) {
    let link = Link::Config;
    let recorded = manifest.file(FileRole::KmsPlugin).map(|f| f.path.clone());
    let Some(declared) = crate::vault::config::declared_plugin(config) else {
        if let Some(installed) = recorded {
            out.push(Finding::fail(
                link,
                "kms plugin",
                format!(
                    "{} is installed, but {} declares no plugin \"kms\" \"awskms\" with its folder and SHA-256",
                    installed.display(),
                    config.display()
                ),
                RERUN_APPLY,
            ));
        }
        return;
    };
    let installed = &declared.path;
    let problems = crate::vault::plugin::problems(installed, &declared.sha256);
    if problems.is_empty() {
        out.push(Finding::ok(
            link,
            "kms plugin",
            format!("{}, SHA-256 as declared", installed.display()),
        ));
    }
    for problem in problems {
        out.push(Finding::fail(link, "kms plugin", problem, RERUN_APPLY));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Verdict;

    #[test]
    fn the_owner_is_the_service_user_when_there_is_one() {
        use nix::unistd::{Gid, Uid};
        let vault = Owner {
            uid: Uid::from_raw(998),
            gid: Gid::from_raw(998),
        };
        let path = Path::new("/etc/openbao/openbao.env");
        let openbao = ServiceAccount {
            user: "openbao".into(),
            group: None,
        };
        let wrong = owner_finding(Link::EnvFile, path, 0, &openbao, Some(vault));
        assert_eq!(wrong.verdict, Verdict::Warn);
        assert_eq!(
            wrong.fix.as_deref(),
            Some("chown openbao:openbao /etc/openbao/openbao.env"),
            "the fix names the recorded service user"
        );
        assert_eq!(
            owner_finding(Link::EnvFile, path, 998, &openbao, Some(vault)).verdict,
            Verdict::Ok
        );
        assert_eq!(
            owner_finding(Link::EnvFile, path, 0, &openbao, None).verdict,
            Verdict::Ok
        );
    }
}
