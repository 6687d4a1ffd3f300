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

/// The completion scripts and the man page come from the same clap definitions as the
/// help: every command is in them. Neither needs (or makes) a state folder.
#[test]
fn completions_and_the_man_page_name_every_command() {
    let home = tempfile::tempdir().unwrap();
    let run_in = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_autounseal"))
            .args(args)
            .env_clear()
            .env("HOME", home.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    for shell in ["bash", "zsh", "fish"] {
        let script = run_in(&["completions", shell]);
        for command in ["apply", "plan", "rotate", "doctor", "destroy", "join"] {
            assert!(script.contains(command), "{shell}: {command}");
        }
    }
    // Bash itself completes `autounseal ro` to `rotate` with the script.
    let script = home.path().join("autounseal.bash");
    std::fs::write(&script, run_in(&["completions", "bash"])).unwrap();
    let completed = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source '{}'; COMP_WORDS=(autounseal ro); COMP_CWORD=1; COMP_LINE='autounseal ro'; COMP_POINT=13; \
             _autounseal autounseal ro autounseal; echo \"${{COMPREPLY[@]}}\"",
            script.display()
        ))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&completed.stdout).trim(), "rotate");
    std::fs::remove_file(&script).unwrap();
    let man = run_in(&["man"]);
    assert!(man.starts_with(".ie") || man.contains(".TH autounseal"), "{man}");
    assert!(man.contains("rotate") && man.contains("\\-\\-state\\-dir"), "{man}");
    assert_eq!(
        std::fs::read_dir(home.path()).unwrap().count(),
        0,
        "nothing written in HOME"
    );
}
