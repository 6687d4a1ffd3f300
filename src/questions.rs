//! Every question autounseal asks an operator, defined once: its words, its help, its
//! check and, for a choice, its options. The wizard's forms and the line prompts are
//! both built from this table (as huh runs one field as a form or as accessible line
//! prompts), so the same question reads and checks the same way in every front end.
//! When a question is shown, and where its answer goes, stays with each front end: the
//! wizard decides on the form's live values, the prompts on the answers so far.

use std::path::Path;

use crate::answers::{self, CredentialsStyle, Launch};

/// A question, by name: what a form looks a field up by (a typo is a compile error).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Q {
    Profile,
    Endpoint,
    Region,
    KeyMode,
    Alias,
    Description,
    Rotation,
    Replicas,
    KeyId,
    AlarmEmail,
    User,
    Policy,
    Config,
    Env,
    Credentials,
    SharedFile,
    Csv,
    Binary,
    KmsPlugin,
    KmsPluginSha256,
    Launch,
    Layout,
    ClusterFile,
    Existing,
    Listen,
    Storage,
    PlainHttp,
    TlsCert,
    TlsKey,
    Shares,
    Threshold,
    PgpKeys,
    RootPgp,
    KeysFile,
    DrillRegion,
    DrillToken,
    DrillRead,
}

/// How a question is answered.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// A line of text, checked as typed; `optional` when it may stay empty.
    Text {
        check: fn(&str) -> Result<(), String>,
        optional: bool,
    },
    YesNo,
    /// One of these options (the line prompts take its name or its number).
    Choice(&'static [&'static str]),
}

#[derive(Debug)]
pub struct Question {
    pub id: Q,
    /// The words every front end shows.
    pub label: &'static str,
    /// One line on why it is asked or what it changes.
    pub help: &'static str,
    pub kind: Kind,
}

/// The KMS key choice's options: index 0 creates one.
pub const KEY_MODES: &[&str] = &["create new", "use existing"];
/// The credentials style's options, in `CredentialsStyle::ALL`'s order.
pub const CREDENTIAL_STYLES: &[&str] = &["env file", "shared credentials file"];
/// The layouts of "Servers": one server or a cluster on this machine, each with its
/// `cluster.nodes`; after them, [`JOIN`]. Every option fits one row of 80 columns.
pub const LAYOUTS: [(&str, u16); 3] = [("single server", 1), ("3 nodes", 3), ("5 nodes", 5)];
/// The last option of "Servers": this host joins a cluster that exists, from its file.
pub const JOIN: &str = "join a cluster";
const LAYOUT_OPTIONS: &[&str] = &["single server", "3 nodes", "5 nodes", JOIN];
/// What to do with a server that already holds data under a Shamir seal: index 1 is
/// `server.existing = "migrate"`.
pub const EXISTING: &[&str] = &["set up a new server", "move it to AWS KMS (seal migration)"];
const LAUNCHES: &[&str] = &["systemd", "background", "none"];

/// Said instead of the init questions in a seal migration: the server is initialised
/// already, and keeps its keys.
pub const NO_NEW_KEYS: &str = "A seal migration hands out no new keys: the server's unseal keys, which you type once \
before the run, become its recovery keys (for generate-root and rekey), with the same threshold. Keep them as you do \
now.";

fn path(v: &str) -> Result<(), String> {
    answers::validate_file_path(Path::new(v.trim()))
}

fn number(v: &str) -> Result<(), String> {
    match v.trim().parse::<u16>() {
        Ok(n) if (1..=255).contains(&n) => Ok(()),
        _ => Err("a whole number from 1 to 255".into()),
    }
}

fn pgp_list(_: &str) -> Result<(), String> {
    // Each file is read (and checked as a PGP key) by the front end, off the typing path.
    Ok(())
}

/// The list as typed, each a known region named once; that none is the key's own region
/// is checked where the region is known (`answers::validate_replica_regions`).
fn check_replica_regions(text: &str) -> Result<(), String> {
    answers::validate_replica_regions(&answers::parse_replica_regions(text), "")
}

const fn text(check: fn(&str) -> Result<(), String>) -> Kind {
    Kind::Text { check, optional: false }
}

const fn optional(check: fn(&str) -> Result<(), String>) -> Kind {
    Kind::Text { check, optional: true }
}

/// The table, in the order the wizard asks.
pub static QUESTIONS: &[Question] = &[
    Question {
        id: Q::Profile,
        label: "AWS profile",
        help: "a named profile of ~/.aws; empty: the default credential chain",
        kind: optional(answers::validate_profile_name),
    },
    Question {
        id: Q::Endpoint,
        label: "AWS endpoint URL",
        help: "an emulator or a VPC endpoint; empty: AWS itself",
        kind: optional(answers::validate_endpoint_url),
    },
    Question {
        id: Q::Region,
        label: "AWS region",
        help: "where the KMS key lives; Vault's seal names the same one (`autounseal regions` lists them)",
        kind: text(answers::validate_region),
    },
    Question {
        id: Q::KeyMode,
        label: "KMS key",
        help: "a new symmetric key made for Vault alone, or one that exists",
        kind: Kind::Choice(KEY_MODES),
    },
    Question {
        id: Q::Alias,
        label: "Alias",
        help: "a name for the new key, alias/…",
        kind: text(answers::validate_alias),
    },
    Question {
        id: Q::Description,
        label: "Description",
        help: "what the key is for, as the console shows it",
        kind: text(answers::validate_key_description),
    },
    Question {
        id: Q::Rotation,
        label: "Yearly rotation",
        help: "KMS rotates the key material every year; Vault needs nothing for it",
        kind: Kind::YesNo,
    },
    Question {
        id: Q::Replicas,
        label: "Replica regions",
        help: "copies of the key in other regions, for a recovery there (comma-separated); empty: none",
        kind: optional(check_replica_regions),
    },
    Question {
        id: Q::KeyId,
        label: "Key id, ARN or alias",
        help: "the key to reuse, in the region chosen",
        kind: text(|v| answers::validate_key_reference(v, "")),
    },
    Question {
        id: Q::AlarmEmail,
        label: "Alarm e-mail",
        help: "mailed (SNS) when the key is scheduled for deletion, disabled, its policy replaced or its \
               rotation turned off; empty: no alarm",
        kind: optional(answers::validate_email),
    },
    Question {
        id: Q::User,
        label: "IAM user",
        help: "Vault's own user: programmatic access only, used for nothing else",
        kind: text(answers::validate_iam_user_name),
    },
    Question {
        id: Q::Policy,
        label: "Policy name",
        help: "allows kms:Encrypt, kms:Decrypt and kms:DescribeKey on that one key",
        kind: text(answers::validate_iam_policy_name),
    },
    Question {
        id: Q::Config,
        label: "Vault config",
        help: "the file the server reads: an operator's own is kept, only its seal stanza added",
        kind: text(path),
    },
    Question {
        id: Q::Env,
        label: "Env file",
        help: "the access key (or the region alone), 0600, the service user's, read by systemd",
        kind: text(path),
    },
    Question {
        id: Q::Credentials,
        label: "Credentials",
        help: "a shared file keeps the key out of the environment Vault's AWS engines read",
        kind: Kind::Choice(CREDENTIAL_STYLES),
    },
    Question {
        id: Q::SharedFile,
        label: "Credentials file",
        help: "the AWS shared credentials file the seal stanza names",
        kind: text(path),
    },
    Question {
        id: Q::Csv,
        label: "Credentials CSV",
        help: "also the key as the console's CSV, 0600; empty: none",
        kind: optional(path),
    },
    Question {
        id: Q::Binary,
        label: "Server binary",
        help: "vault, bao, or a path",
        kind: text(|v| answers::validate_not_blank(v, "the server binary")),
    },
    Question {
        id: Q::KmsPlugin,
        label: "KMS plugin",
        help: "OpenBao 2.7+: the openbao-plugin-kms-aws binary you downloaded; copied into the plugin folder",
        // Required where it is asked, unless the answers give an OCI image instead.
        kind: optional(path),
    },
    Question {
        id: Q::KmsPluginSha256,
        label: "Plugin SHA-256",
        help: "its checksum from the release's checksums file: the download must match it",
        kind: optional(answers::validate_sha256),
    },
    Question {
        id: Q::Launch,
        label: "Start with",
        help: "systemd (a drop-in, then a restart), autounseal in the background, or you (none)",
        kind: Kind::Choice(LAUNCHES),
    },
    Question {
        id: Q::Layout,
        label: "Servers",
        help: "one server, a raft cluster on this machine, or this host joining a cluster",
        kind: Kind::Choice(LAYOUT_OPTIONS),
    },
    Question {
        id: Q::ClusterFile,
        label: "Cluster file",
        help: "cluster.toml from the first node's state folder",
        kind: text(|v| {
            answers::validate_not_blank(v, "the cluster file (cluster.toml in the first node's state folder)")
        }),
    },
    Question {
        id: Q::Existing,
        label: "Its data",
        help: "a Shamir server with data: its unseal keys, given once, become its recovery keys",
        kind: Kind::Choice(EXISTING),
    },
    Question {
        id: Q::Listen,
        label: "Listen on",
        help: "host:port of the API",
        kind: text(answers::validate_listen),
    },
    Question {
        id: Q::Storage,
        label: "Storage folder",
        help: "raft's data, 0700, the service user's",
        kind: text(path),
    },
    Question {
        id: Q::PlainHttp,
        label: "Plain HTTP",
        help: "no TLS: only for a listener on 127.0.0.1 or a test",
        kind: Kind::YesNo,
    },
    Question {
        id: Q::TlsCert,
        label: "TLS certificate",
        help: "PEM, the server's certificate (and chain)",
        kind: text(|v| answers::validate_not_blank(v, "the certificate path")),
    },
    Question {
        id: Q::TlsKey,
        label: "TLS key",
        help: "PEM, the certificate's private key",
        kind: text(|v| answers::validate_not_blank(v, "the key path")),
    },
    Question {
        id: Q::Shares,
        label: "Recovery shares",
        help: "how many recovery keys init hands out",
        kind: text(number),
    },
    Question {
        id: Q::Threshold,
        label: "Threshold",
        help: "how many of them generate-root and rekey need",
        kind: text(number),
    },
    Question {
        id: Q::PgpKeys,
        label: "PGP keys (a,b,…)",
        help: "one public key file a share: each recovery key comes encrypted to one; empty: plain",
        kind: optional(pgp_list),
    },
    Question {
        id: Q::RootPgp,
        label: "Root token PGP key",
        help: "a public key file the root token is encrypted to; empty: plain",
        kind: optional(pgp_list),
    },
    Question {
        id: Q::KeysFile,
        label: "Recovery keys file",
        help: "a new file, 0600, for the keys and root token (the line prompts never print them)",
        kind: text(path),
    },
    Question {
        id: Q::DrillRegion,
        label: "Recover in",
        help: "a region that holds a replica of the key: the recovery server's seal uses the replica there",
        kind: text(answers::validate_region),
    },
    Question {
        id: Q::DrillToken,
        label: "Token",
        help: "a token of the live server allowed to read sys/storage/raft/snapshot (and the path below); \
               hidden, never stored",
        kind: text(|v| answers::validate_not_blank(v, "the token")),
    },
    Question {
        id: Q::DrillRead,
        label: "Read back",
        help: "a path of yours to read from the recovered data (secret/data/app): only its names are shown; \
               empty: sys/health and the token",
        kind: optional(|_| Ok(())),
    },
];

impl Q {
    pub fn question(self) -> &'static Question {
        QUESTIONS
            .iter()
            .find(|q| q.id == self)
            .expect("every question is in the table (tested)")
    }

    pub fn label(self) -> &'static str {
        self.question().label
    }

    /// The options of a choice (empty for other kinds).
    pub fn options(self) -> &'static [&'static str] {
        match self.question().kind {
            Kind::Choice(options) => options,
            _ => &[],
        }
    }

    /// The question's own check of a typed answer, empty allowed when it is optional.
    pub fn check(self, value: &str) -> Result<(), String> {
        match self.question().kind {
            Kind::Text { optional: true, .. } if value.trim().is_empty() => Ok(()),
            Kind::Text { check, .. } => check(value),
            _ => Ok(()),
        }
    }
}

/// The option of [`Q::Launch`] for a launch mode, and back.
pub fn launch_index(launch: Launch) -> usize {
    Launch::ALL.iter().position(|l| *l == launch).unwrap_or(0)
}

/// The option of [`Q::Credentials`] for a style.
pub fn style_index(style: CredentialsStyle) -> usize {
    CredentialsStyle::ALL.iter().position(|s| *s == style).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_question_is_in_the_table_once_and_options_match_the_answers() {
        for (i, q) in QUESTIONS.iter().enumerate() {
            assert_eq!(q.id.question().label, q.label);
            assert!(
                QUESTIONS[i + 1..].iter().all(|other| other.id != q.id),
                "{:?} twice",
                q.id
            );
        }
        let launches: Vec<&str> = Launch::ALL.iter().map(|l| l.as_str()).collect();
        assert_eq!(Q::Launch.options(), launches.as_slice());
        assert_eq!(Q::Credentials.options().len(), CredentialsStyle::ALL.len());
        assert_eq!(Q::Layout.options().last(), Some(&JOIN));
        assert!(LAYOUTS.iter().zip(Q::Layout.options()).all(|(l, o)| l.0 == *o));
    }

    #[test]
    fn an_optional_question_takes_an_empty_answer_and_checks_any_other() {
        assert!(Q::Csv.check("").is_ok());
        assert!(Q::Endpoint.check("not a url").is_err());
        assert!(Q::Region.check("").is_err());
        assert!(Q::Shares.check("0").is_err() && Q::Shares.check("3").is_ok());
    }
}
