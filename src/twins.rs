//! The command-line twins of what a run does: the `aws …`, `systemctl …` and `bao …`
//! lines an operator could type to do the same by hand. Plans list them, the presenter
//! shows them; they are text only, and run nothing.

use std::path::Path;

/// The tag that marks what autounseal created, so a re-run can adopt it (and the twins
/// show it as the calls send it).
pub const TAG_KEY: &str = "created-by";
pub const TAG_VALUE: &str = "autounseal";

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

/// The AWS CLI twin of the key autounseal creates.
pub fn create_key_command(description: &str, region: &str, endpoint_url: Option<&str>) -> String {
    let tags = format!("TagKey={TAG_KEY},TagValue={TAG_VALUE}");
    let args = [
        "kms",
        "create-key",
        "--key-spec",
        "SYMMETRIC_DEFAULT",
        "--key-usage",
        "ENCRYPT_DECRYPT",
        "--description",
        description,
        "--tags",
        &tags,
    ];
    aws_command(&args, Some(region), endpoint_url)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_only_where_needed() {
        assert_eq!(quote("alias/vault-auto-unseal"), "alias/vault-auto-unseal");
        assert_eq!(quote("two words"), "'two words'");
    }
}
