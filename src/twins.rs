//! The command-line twins of what a run does: the `aws …`, `systemctl …` and `bao …`
//! lines an operator could type to do the same by hand. Plans list them, the presenter
//! shows them; they are text only, and run nothing.

use std::path::Path;

/// The tag that marks what autounseal created, so a re-run can adopt it (and the twins
/// show it as the calls send it).
pub const TAG_KEY: &str = "created-by";
pub const TAG_VALUE: &str = "autounseal";
/// The tag that ties what a run creates to that run, so an interrupted create is found.
pub const RUN_TAG_KEY: &str = "autounseal-run";

/// How a twin names the key a plan would create: it has no id yet.
pub const NEW_KEY_ID: &str = "<new-key-id>";

/// The AWS CLI twin of a call: `aws ARGS…`, with `--region` for regional services and
/// `--endpoint-url` when an endpoint override is in use.
pub fn aws_command(args: &[&str], region: Option<&str>, endpoint_url: Option<&str>) -> String {
    let mut words: Vec<String> = std::iter::once("aws".to_string())
        .chain(args.iter().map(|a| quote(a)))
        .collect();
    if let Some(region) = region {
        words.push(format!("--region {region}"));
    }
    if let Some(url) = endpoint_url {
        words.push(format!("--endpoint-url {url}"));
    }
    words.join(" ")
}

/// The AWS CLI twin of the key autounseal creates, as the wizard shows it before a
/// run has an id.
pub fn create_key_command(description: &str, multi_region: bool, region: &str, endpoint_url: Option<&str>) -> String {
    create_key_with_tags(description, &[(TAG_KEY, TAG_VALUE)], multi_region, region, endpoint_url)
}

/// The AWS CLI twin of the key run `run_id` creates, with every tag it sends; a key that
/// gets replicas is a multi-region key.
pub fn create_key(
    description: &str,
    run_id: &str,
    multi_region: bool,
    region: &str,
    endpoint_url: Option<&str>,
) -> String {
    create_key_with_tags(
        description,
        &[(TAG_KEY, TAG_VALUE), (RUN_TAG_KEY, run_id)],
        multi_region,
        region,
        endpoint_url,
    )
}

fn create_key_with_tags(
    description: &str,
    tags: &[(&str, &str)],
    multi_region: bool,
    region: &str,
    endpoint_url: Option<&str>,
) -> String {
    let tags = tag_list(tags);
    let mut args = vec![
        "kms",
        "create-key",
        "--key-spec",
        "SYMMETRIC_DEFAULT",
        "--key-usage",
        "ENCRYPT_DECRYPT",
    ];
    if multi_region {
        args.push("--multi-region");
    }
    args.extend(["--description", description, "--tags"]);
    args.extend(tags.iter().map(String::as_str));
    aws_command(&args, Some(region), endpoint_url)
}

/// The AWS CLI twin of a replica's creation: sent to the key's own region, naming the
/// replica's, with the key's description and this run's tags (a replica's tags are its
/// own, not copied from the key).
pub fn replicate_key(
    key_id: &str,
    replica_region: &str,
    description: &str,
    run_id: &str,
    region: &str,
    endpoint_url: Option<&str>,
) -> String {
    let tags = tag_list(&[(TAG_KEY, TAG_VALUE), (RUN_TAG_KEY, run_id)]);
    let mut args = vec![
        "kms",
        "replicate-key",
        "--key-id",
        key_id,
        "--replica-region",
        replica_region,
        "--description",
        description,
        "--tags",
    ];
    args.extend(tags.iter().map(String::as_str));
    aws_command(&args, Some(region), endpoint_url)
}

fn tag_list(tags: &[(&str, &str)]) -> Vec<String> {
    tags.iter().map(|(k, v)| format!("TagKey={k},TagValue={v}")).collect()
}

/// Quotes a word for a shell only when it needs it, so commands stay readable.
pub fn quote(word: &str) -> String {
    shlex::try_quote(word)
        .map(|q| q.into_owned())
        .unwrap_or_else(|_| word.to_string())
}

/// The command line of the server, for the operator to run by hand.
pub fn server_command(binary: &Path, config: &Path) -> String {
    format!(
        "{} server -config={}",
        quote(&binary.to_string_lossy()),
        quote(&config.to_string_lossy())
    )
}

/// `systemctl daemon-reload`, then a restart of `unit` (with autounseal's drop-in).
pub fn systemd_restart(unit: &str) -> String {
    format!("systemctl daemon-reload && systemctl restart {unit}")
}

/// `bao operator init` (or `vault …`) with the recovery shares asked for.
pub fn operator_init(cli: &str, shares: u16, threshold: u16, address: &str) -> String {
    format!("{cli} operator init -recovery-shares={shares} -recovery-threshold={threshold} -address={address}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_only_where_needed() {
        assert_eq!(quote("alias/vault-auto-unseal"), "alias/vault-auto-unseal");
        assert_eq!(quote("two words"), "'two words'");
    }
}
