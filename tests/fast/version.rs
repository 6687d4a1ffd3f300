//! `autounseal --version` says the version, the commit it was built from and how far
//! each server is tested; `-V` the first of those.

use std::process::Command;

fn run(arg: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_autounseal"))
        .arg(arg)
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_version_names_the_commit_and_the_servers_it_is_tested_with() {
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let head = String::from_utf8_lossy(&head.stdout).trim().to_string();
    assert_eq!(head.len(), 12, "this test runs in a git checkout");
    let short = run("-V");
    assert_eq!(
        short.trim(),
        format!("autounseal {} (commit {head})", env!("CARGO_PKG_VERSION"))
    );
    let long = run("--version");
    assert!(long.starts_with(short.trim()), "{long}");
    for said in ["OpenBao 2.6.2", "OpenBao 2.7", "HashiCorp Vault"] {
        assert!(long.contains(said), "{said}: {long}");
    }
}
