use std::net::SocketAddr;

use super::*;

fn valid() -> Answers {
    Answers {
        region: "eu-west-1".into(),
        server: ServerAnswers {
            tls_disable: true,
            ..Default::default()
        },
        ..Default::default()
    }
}

#[test]
fn defaults_with_a_region_and_tls_choice_are_valid() {
    assert_eq!(valid().validate(), vec![]);
}

#[test]
fn unknown_keys_are_refused_with_their_name() {
    let err = Answers::parse("region = \"eu-west-1\"\n[kms]\naliass = \"alias/x\"\n").unwrap_err();
    assert!(err.contains("aliass"), "{err}");
}

#[test]
fn every_unknown_key_is_reported_at_once_with_its_line() {
    let text = "regoin = \"eu-west-1\"\n[kms]\naliass = \"alias/x\"\nrotation = true\n\
                [bogus]\nuser_name = \"x\"\nmore = 1\n[server]\nlisten = \"127.0.0.1:8200\"\nlisen = \"x\"\n";
    let err = Answers::parse(text).unwrap_err();
    assert!(err.starts_with("4 unknown key(s)"), "{err}");
    for expected in [
        "line 1: unknown field `regoin`",
        "line 3: unknown field `aliass`, expected one of",
        "line 5: unknown field `bogus`",
        "line 10: unknown field `lisen`",
    ] {
        assert!(err.contains(expected), "{expected}: {err}");
    }
    // The keys of the unknown table are not taken for [kms]'s.
    assert!(!err.contains("user_name`,") && !err.contains("`more`"), "{err}");
}

#[test]
fn example_file_parses_and_is_valid() {
    let text = include_str!("../../assets/answers.example.toml");
    let answers = Answers::parse(text).unwrap();
    assert_eq!(answers.validate(), vec![]);
}

#[test]
fn round_trips_through_toml() {
    let a = valid();
    assert_eq!(Answers::parse(&a.to_toml()).unwrap(), a);
}

#[test]
fn region_errors_suggest_neighbours() {
    let e = validate_region("eu-wset-1").unwrap_err();
    assert!(e.contains("eu-west-1"), "{e}");
    assert!(validate_region("").is_err());
    assert!(validate_region("us-east-1").is_ok());
}

#[test]
fn iam_names() {
    assert!(validate_iam_user_name("vault-auto-unseal").is_ok());
    assert!(validate_iam_user_name("a+b=c,d.e@f_g-h").is_ok());
    assert!(validate_iam_user_name("").is_err());
    assert!(validate_iam_user_name("has space").unwrap_err().contains("characters"));
    assert!(
        validate_iam_user_name(&"a".repeat(65))
            .unwrap_err()
            .contains("at most 64")
    );
    assert!(validate_iam_policy_name(&"a".repeat(128)).is_ok());
    assert!(validate_iam_policy_name(&"a".repeat(129)).is_err());
    assert!(validate_iam_policy_name("kms/policy").is_err());
}

#[test]
fn aliases() {
    assert!(validate_alias("alias/vault-auto-unseal").is_ok());
    assert!(
        validate_alias("vault")
            .unwrap_err()
            .contains("must start with \"alias/\"")
    );
    assert!(validate_alias("alias/aws/ebs").unwrap_err().contains("reserves"));
    assert!(validate_alias("alias/").is_err());
    assert!(validate_alias("alias/with space").is_err());
}

#[test]
fn key_references() {
    let r = "us-east-1";
    assert!(validate_key_reference("1234abcd-12ab-34cd-56ef-1234567890ab", r).is_ok());
    assert!(validate_key_reference("mrk-1234abcd12ab34cd56ef1234567890ab", r).is_ok());
    assert!(validate_key_reference("alias/x", r).is_ok());
    assert!(
        validate_key_reference(
            "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            r
        )
        .is_ok()
    );
    let other = validate_key_reference(
        "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        r,
    )
    .unwrap_err();
    assert!(other.contains("lives in eu-west-1"), "{other}");
    assert!(validate_key_reference("not-a-key", r).is_err());
    assert!(validate_key_reference("arn:aws:s3:::bucket", r).is_err());
}

#[test]
fn recovery_rules_match_the_server() {
    assert!(validate_recovery(1, 1).is_ok());
    assert!(validate_recovery(5, 3).is_ok());
    assert!(validate_recovery(255, 255).is_ok());
    assert!(validate_recovery(0, 0).is_err());
    assert!(validate_recovery(256, 3).is_err());
    assert!(validate_recovery(3, 4).is_err());
    assert!(validate_recovery(3, 1).unwrap_err().contains("at least 2"));
}

#[test]
fn reuse_without_key_id_names_the_field() {
    let mut a = valid();
    a.kms.create = false;
    let errors = a.validate();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].field, "kms.key_id");
}

#[test]
fn tls_must_be_chosen() {
    let mut a = valid();
    a.server.tls_disable = false;
    assert_eq!(a.validate()[0].field, "server.tls_cert_file");
    a.server.tls_cert_file = Some("/c.pem".into());
    a.server.tls_key_file = Some("/k.pem".into());
    assert_eq!(a.validate(), vec![]);
}

#[test]
fn listen_addresses_and_paths() {
    assert!(validate_listen("localhost:8200").is_ok());
    assert_eq!(
        parse_listen("localhost:8200"),
        Some(SocketAddr::from(([127, 0, 0, 1], 8200)))
    );
    assert!(validate_listen("localhost").is_err());
    assert!(validate_listen("example.com:8200").is_err());
    let relative = validate_file_path(Path::new("vault.hcl")).unwrap_err();
    assert!(relative.contains("relative"), "{relative}");
    assert!(validate_file_path(Path::new("/proc/self/vault.hcl")).is_err());
    assert!(validate_file_path(Path::new("/etc/vault.d/vault.hcl")).is_ok());
}

#[test]
fn plain_http_beyond_loopback_is_warned_about() {
    let mut a = valid();
    assert_eq!(a.plain_http_warning(), None);
    a.server.listen = "0.0.0.0:8200".into();
    assert!(a.plain_http_warning().unwrap().contains("in clear"));
    a.server.tls_disable = false;
    assert_eq!(a.plain_http_warning(), None);
}

#[test]
fn every_output_needs_a_path_of_its_own_outside_the_storage() {
    let mut a = valid();
    a.output.credentials_csv = Some(a.output.env_file.clone());
    assert_eq!(a.validate()[0].field, "output.credentials_csv");
    let mut a = valid();
    a.output.env_file = "/opt/vault/data/vault.env".into();
    let errors = a.validate();
    assert_eq!(errors[0].field, "output.env_file");
    assert!(errors[0].message.contains("inside server.storage_path"));
}

#[test]
fn a_cluster_is_odd_local_and_names_its_peers_fully() {
    let mut a = valid();
    a.cluster.nodes = 3;
    assert_eq!(a.validate()[0].field, "cluster.nodes", "launch systemd runs one server");
    a.server.launch = Launch::Background;
    assert_eq!(a.validate(), vec![]);
    assert_eq!(a.cluster.even_warning(), None);
    a.cluster.nodes = 4;
    assert!(
        a.cluster
            .even_warning()
            .unwrap()
            .contains("survive the loss of 1 as 3 do")
    );
    a.cluster.nodes = 10;
    assert!(a.validate()[0].message.contains("1 (a single server) to 9"));
    a.cluster.nodes = 1;
    a.cluster.peers = vec!["10.0.0.12:8200".into()];
    assert_eq!(a.validate()[0].field, "cluster.peers");
    a.cluster.peers = vec!["https://10.0.0.12:8200".into()];
    assert_eq!(a.validate(), vec![]);
    assert!(a.cluster.is_cluster());
    // A single server's saved answers have no [cluster] section.
    assert!(!valid().to_toml().contains("[cluster]"));
    assert_eq!(Answers::parse(&a.to_toml()).unwrap(), a);
}

#[test]
fn the_shared_file_is_beside_the_env_file_unless_given_and_never_on_another_output() {
    let mut a = valid();
    a.output.credentials = CredentialsStyle::SharedFile;
    assert_eq!(a.validate(), vec![]);
    assert_eq!(
        a.output.shared_credentials_path(),
        Path::new("/etc/vault.d/aws-credentials")
    );
    a.output.env_file = "/etc/openbao/openbao.env".into();
    assert_eq!(
        a.output.shared_credentials_path(),
        Path::new("/etc/openbao/aws-credentials")
    );
    a.output.shared_credentials_file = Some(a.output.env_file.clone());
    let errors = a.validate();
    assert_eq!(errors[0].field, "output.shared_credentials_file");
    assert!(errors[0].message.contains("output.env_file"), "{}", errors[0].message);
    a.output.shared_credentials_file = Some("aws-credentials".into());
    assert!(a.validate()[0].message.contains("relative"));
    let files = a.output.key_files();
    assert_eq!(files.shared.unwrap().profile, DEFAULT_CREDENTIALS_PROFILE);
}

#[test]
fn profile_names() {
    assert!(validate_profile_name("vault-auto-unseal").is_ok());
    assert!(validate_profile_name("a.b_c").is_ok());
    assert!(validate_profile_name("").unwrap_err().contains("name the profile"));
    assert!(validate_profile_name("has space").is_err());
    assert!(validate_profile_name("x]\naws_access_key_id").is_err());
    let mut a = valid();
    a.output.credentials_profile = "bad name".into();
    assert_eq!(a.validate(), vec![], "the profile matters only with the shared file");
    a.output.credentials = CredentialsStyle::SharedFile;
    assert_eq!(a.validate()[0].field, "output.credentials_profile");
}

#[test]
fn the_style_reads_and_round_trips() {
    let a = Answers::parse("[output]\ncredentials = \"shared-file\"\ncredentials_profile = \"p\"\n").unwrap();
    assert_eq!(a.output.credentials, CredentialsStyle::SharedFile);
    assert_eq!(Answers::parse(&a.to_toml()).unwrap(), a);
    let err = Answers::parse("[output]\ncredentials = \"file\"\n").unwrap_err();
    assert!(err.contains("shared-file"), "{err}");
    assert!(
        !valid().to_toml().contains("credentials ="),
        "the default style is not written out"
    );
}

#[test]
fn all_errors_reported_together() {
    let a = Answers {
        region: "nowhere".into(),
        iam: IamAnswers {
            user_name: "bad name".into(),
            ..Default::default()
        },
        ..valid()
    };
    let fields: Vec<_> = a.validate().iter().map(|e| e.field).collect();
    assert_eq!(fields, vec!["region", "iam.user_name"]);
}

#[test]
fn the_kms_plugin_is_a_file_or_an_image_with_its_tag_and_checksum() {
    let fields = |change: &dyn Fn(&mut Answers)| {
        let mut a = valid();
        change(&mut a);
        a.validate().into_iter().map(|e| e.field).collect::<Vec<_>>()
    };
    let sum = "ab".repeat(32);
    assert!(
        fields(&|a| {
            a.server.kms_plugin = Some("/root/openbao-plugin-kms-aws".into());
            a.server.kms_plugin_sha256 = Some(format!("sha256:{sum}"));
        })
        .is_empty()
    );
    assert!(
        fields(&|a| {
            a.server.kms_plugin_image = Some("ghcr.io/openbao/openbao-plugin-kms-aws".into());
            a.server.kms_plugin_version = Some("v0.1.0".into());
            a.server.kms_plugin_sha256 = Some(sum.clone());
        })
        .is_empty()
    );
    assert_eq!(
        fields(&|a| {
            a.server.kms_plugin = Some("/root/p".into());
            a.server.kms_plugin_sha256 = Some("abc".into());
        }),
        ["server.kms_plugin_sha256"]
    );
    // A checksum of nothing.
    assert_eq!(
        fields(&|a| a.server.kms_plugin_sha256 = Some(sum.clone())),
        ["server.kms_plugin_sha256"]
    );
    assert_eq!(
        fields(&|a| {
            a.server.kms_plugin = Some("/root/p".into());
            a.server.kms_plugin_image = Some("ghcr.io/x".into());
        }),
        [
            "server.kms_plugin_image",
            "server.kms_plugin_version",
            "server.kms_plugin_sha256"
        ]
    );
    assert_eq!(
        fields(&|a| a.server.kms_plugin_version = Some("v1".into())),
        ["server.kms_plugin_version"]
    );
    // Written out only when given, and read back.
    let mut a = valid();
    assert!(!a.to_toml().contains("kms_plugin"));
    a.server.kms_plugin = Some("/root/openbao-plugin-kms-aws".into());
    assert_eq!(Answers::parse(&a.to_toml()).unwrap(), a);
}
