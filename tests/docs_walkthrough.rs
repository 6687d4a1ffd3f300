//! docs/walkthrough.md shows each screen of the wizard as the reviewed snapshots draw
//! it. This test rebuilds it from tests/snapshots and fails if the committed file is
//! stale; `UPDATE_DOCS=1 cargo test --test docs_walkthrough` writes it anew.

use std::path::Path;

/// (snapshot, heading, what the presenter says)
const PAGES: &[(&str, &str, &str)] = &[
    (
        "demo_welcome",
        "Welcome (demo)",
        "`autounseal demo` marks every screen with a banner; F2 shows the equivalent commands.",
    ),
    (
        "02_account_found",
        "AWS account",
        "The identity the credential chain finds: account and ARN, or how to fix it.",
    ),
    (
        "03_region_filtered",
        "Region",
        "Type to filter; the current default is preselected.",
    ),
    (
        "04_kms_create",
        "KMS key: create",
        "A new symmetric key with yearly rotation and an alias.",
    ),
    (
        "04_kms_existing",
        "KMS key: reuse",
        "Or pick a key from the account, checked against the region.",
    ),
    (
        "05_iam",
        "IAM user and policy",
        "Names checked as typed; the exact policy document, three actions on one key.",
    ),
    (
        "06_files",
        "Files",
        "Each path checked: new, folder to create, or backed up first.",
    ),
    (
        "07_server",
        "Server",
        "Binary (its version read), how it starts, listener, storage, TLS.",
    ),
    (
        "demo_server_commands",
        "The commands (F2)",
        "The presenter's aid: the config as it will be written and the command that starts the server.",
    ),
    (
        "08_init",
        "Init",
        "Recovery shares and threshold with the server's own rules.",
    ),
    (
        "09_review",
        "Review",
        "A real read-only plan of every change; b goes back to any screen.",
    ),
    (
        "09_review_cluster",
        "Review: a cluster of 3",
        "With \"3 nodes\" on the Server screen: a user and files per node, and each node's part.",
    ),
    (
        "07_server_join_error",
        "Server: join a cluster",
        "On a further host: the first node's cluster file, read in the background; why it cannot be used, under it.",
    ),
    (
        "09_review_join",
        "Review: a node that joins",
        "The cluster's key, region and policy; this node's own user and files; whom it joins.",
    ),
    (
        "09_review_migration",
        "Review: a seal migration",
        "With `existing = \"migrate\"`: what happens to a Shamir server and its keys, said before anything runs.",
    ),
    (
        "10_unseal_keys",
        "Unseal keys",
        "A migration's unseal keys, typed one by one: never drawn, not even their length.",
    ),
    (
        "10_run_in_flight",
        "Run",
        "Each step live; the screen never freezes while AWS answers.",
    ),
    (
        "10_run_failed",
        "Run: a failure",
        "The error and what to do; retry, back, or quit with the manifest kept.",
    ),
    (
        "10_run_access_key_limit",
        "Run: the access key limit",
        "IAM allows two access keys per user: the wizard asks which one to replace, then runs again.",
    ),
    ("11_recovery_masked", "Recovery keys", "Masked until asked."),
    (
        "11_recovery_one_revealed",
        "Recovery keys: one revealed",
        "One at a time, masked again when the cursor leaves it.",
    ),
    ("12_done", "Done", "What exists, where the files are, what to run next."),
    (
        "13_start",
        "Start menu (a setup recorded)",
        "When the state folder records a setup, the wizard opens here instead of Welcome.",
    ),
    (
        "14_doctor",
        "Doctor",
        "Every link checked, grouped by link: a badge in words and colour, the evidence, the fix; ↑↓/PgUp/PgDn scroll.",
    ),
    (
        "15_status_broken",
        "Status",
        "What `autounseal status` says; Enter does the next thing when the wizard does it.",
    ),
    (
        "16_rotate_plan",
        "Rotate: the plan",
        "What `autounseal rotate` will do, from the manifest; nothing changes until Enter.",
    ),
    (
        "16_rotate_rotated",
        "Rotate: rotated",
        "Each step a row as on the Run screen; the new key, the old one deleted, the next due date.",
    ),
    (
        "16_rotate_rolled_back",
        "Rotate: rolled back",
        "A failure before the old key is deleted rolls back: the Roll back row, the message, and where things stand.",
    ),
];

fn screen(snapshot: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/snapshots/wizard_snapshots__{snapshot}.snap"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    // After insta's header, one quoted line per terminal row.
    text.splitn(3, "---\n")
        .nth(2)
        .expect("an insta header")
        .lines()
        .map(|l| {
            l.strip_prefix('"')
                .and_then(|l| l.strip_suffix('"'))
                .unwrap_or(l)
                .trim_end()
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn walkthrough() -> String {
    let mut out = String::from(
        "# A walkthrough of the wizard\n\n\
         Each screen as it looks on a terminal of 80x24, drawn from the snapshot tests\n\
         (`tests/wizard_snapshots.rs`), so this page changes only when the screens do.\n\
         Run it yourself with `scripts/demo`: no AWS account needed.\n",
    );
    for (i, (snapshot, heading, caption)) in PAGES.iter().enumerate() {
        out.push_str(&format!(
            "\n## {}. {heading}\n\n{caption}\n\n```text\n{}\n```\n",
            i + 1,
            screen(snapshot)
        ));
    }
    out
}

#[test]
fn the_walkthrough_shows_the_screens_as_they_are() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/walkthrough.md");
    let fresh = walkthrough();
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(&path, &fresh).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "docs/walkthrough.md is stale: run UPDATE_DOCS=1 cargo test --test docs_walkthrough"
    );
}
