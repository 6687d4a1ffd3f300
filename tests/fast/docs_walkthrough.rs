//! docs/walkthrough.md shows each screen of the wizard as the reviewed snapshots draw
//! it. This test rebuilds it from tests/fast/snapshots and fails if the committed file is
//! stale; `UPDATE_DOCS=1 cargo test --test fast docs_walkthrough` writes it anew.
//!
//! And no relative link of README.md, CONTRIBUTING.md or docs/*.md is dead: its file
//! exists, and its `#anchor` is a heading of that file (GitHub's slugs).

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
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("tests/fast/snapshots/fast__wizard_snapshots__{snapshot}.snap"));
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
         (`tests/fast/wizard_snapshots.rs`), so this page changes only when the screens do.\n\
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
        "docs/walkthrough.md is stale: run UPDATE_DOCS=1 cargo test --test fast docs_walkthrough"
    );
}

/// README.md, CONTRIBUTING.md and every docs/*.md, relative to the crate's root.
fn markdown_files() -> Vec<std::path::PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("README.md"), root.join("CONTRIBUTING.md")];
    let mut docs: Vec<_> = std::fs::read_dir(root.join("docs"))
        .expect("docs/")
        .map(|e| e.expect("a docs/ entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

/// The lines of a Markdown text outside fenced code blocks, with inline code spans cut
/// out: what GitHub reads links and headings from.
fn prose_lines(text: &str) -> Vec<String> {
    let mut fence: Option<String> = None;
    let mut lines = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        let marker: String = trimmed.chars().take_while(|&c| c == '`' || c == '~').collect();
        if marker.len() >= 3 && marker.chars().all(|c| c == marker.chars().next().unwrap()) {
            match &fence {
                None => fence = Some(marker),
                Some(open) if marker.starts_with(open.as_str()) && trimmed.trim_end() == marker => fence = None,
                Some(_) => {}
            }
            continue;
        }
        if fence.is_none() {
            lines.push(without_code_spans(line));
        }
    }
    lines
}

/// `line` with each code span (a run of backticks to the next run of the same length)
/// replaced by its text without brackets and parentheses: no link can start in it, and
/// a heading's slug (which drops them anyway) is unchanged.
fn without_code_spans(line: &str) -> String {
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '`' {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let run = chars[i..].iter().take_while(|&&c| c == '`').count();
        let close = (i + run..chars.len())
            .find(|&j| chars[j..].iter().take_while(|&&c| c == '`').count() == run && (j == 0 || chars[j - 1] != '`'));
        match close {
            Some(j) => {
                out.extend(chars[i + run..j].iter().filter(|c| !matches!(c, '[' | ']' | '(' | ')')));
                i = j + run;
            }
            None => {
                out.extend(&chars[i..i + run]);
                i += run;
            }
        }
    }
    out
}

/// The targets of the inline links and images `[text](target)` and of the reference
/// definitions `[label]: target` in a Markdown text.
fn link_targets(text: &str) -> Vec<String> {
    let mut targets = Vec::new();
    for line in prose_lines(text) {
        // `[label]: target`, the label up to the first `]`.
        if let Some(label) = line.trim_start().strip_prefix('[')
            && let Some((_, definition)) = label.split_once(']')
            && let Some(definition) = definition.strip_prefix(':')
        {
            if let Some(target) = definition.split_whitespace().next() {
                targets.push(target.trim_matches(['<', '>']).to_string());
            }
            continue;
        }
        let mut rest = line.as_str();
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let (target, tail) = match after.strip_prefix('<') {
                Some(angled) => angled.split_once('>').unwrap_or((angled, "")),
                None => {
                    let end = after.find([')', ' ']).unwrap_or(after.len());
                    (&after[..end], &after[end..])
                }
            };
            targets.push(target.to_string());
            rest = tail;
        }
    }
    targets
}

/// GitHub's anchor for a heading: its text as rendered (links as their text, emphasis
/// and code marks gone), lowercased, every character that is not a letter, a digit, a
/// space, `-` or `_` dropped, and each space made `-`.
fn github_slug(heading: &str) -> String {
    let mut rendered = String::new();
    let mut rest = heading;
    // A link renders as its text.
    while let Some(open) = rest.find('[') {
        rendered.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find("](").zip(after.find(')')) {
            Some((mid, close)) if mid < close => {
                rendered.push_str(&after[..mid]);
                rest = &after[close + 1..];
            }
            _ => {
                rendered.push('[');
                rest = after;
            }
        }
    }
    rendered.push_str(rest);
    rendered
        .replace(['*', '`'], "")
        .trim()
        .to_lowercase()
        .chars()
        .filter(|&c| c.is_alphanumeric() || c == ' ' || c == '-' || c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of a Markdown file's headings, a repeated one numbered as GitHub does
/// (`name`, `name-1`, `name-2` …).
fn anchors(text: &str) -> std::collections::BTreeSet<String> {
    let mut seen = std::collections::BTreeMap::<String, usize>::new();
    let mut found = std::collections::BTreeSet::new();
    for line in prose_lines(text) {
        let hashes = line.chars().take_while(|&c| c == '#').count();
        if !(1..=6).contains(&hashes) || !line[hashes..].starts_with(' ') {
            continue;
        }
        let slug = github_slug(line[hashes..].trim().trim_end_matches('#'));
        let n = seen.entry(slug.clone()).or_insert(0);
        found.insert(if *n == 0 { slug.clone() } else { format!("{slug}-{n}") });
        *n += 1;
    }
    found
}

#[test]
fn headings_slug_as_on_github() {
    assert_eq!(github_slug("Day 2: `doctor` and `status`"), "day-2-doctor-and-status");
    assert_eq!(github_slug("1. Welcome (demo)"), "1-welcome-demo");
    assert_eq!(
        github_slug("Seal migration: an existing Shamir server, and the way back"),
        "seal-migration-an-existing-shamir-server-and-the-way-back"
    );
    assert_eq!(github_slug("`[cluster]`"), "cluster");
    assert_eq!(
        anchors("## The `[output]` table\n"),
        ["the-output-table".to_string()].into()
    );
    assert_eq!(github_slug("The [answers](answers.md) file"), "the-answers-file");
    assert_eq!(github_slug("Rotate: the plan → Enter"), "rotate-the-plan--enter");
    let doubled = anchors("# Notes\n\n## Notes\n\n```\n# not a heading\n```\n");
    assert_eq!(doubled.into_iter().collect::<Vec<_>>(), ["notes", "notes-1"]);
}

#[test]
fn links_are_found_outside_code() {
    let text = "See [the guide](docs/a.md#x) and ![a picture](img.png \"title\").\n\
                `[not](a-link.md)` and\n```\n[nor](this.md)\n```\n[ref]: CONTRIBUTING.md\n\
                [a link](x.md): not a definition\n";
    assert_eq!(
        link_targets(text),
        ["docs/a.md#x", "img.png", "CONTRIBUTING.md", "x.md"]
    );
}

/// Every relative link of the README and the docs leads to a file that exists, and its
/// `#anchor`, if any, to a heading of that file.
#[test]
fn no_relative_link_is_dead() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut dead = Vec::new();
    let mut checked = 0;
    for file in markdown_files() {
        let shown = file.strip_prefix(root).unwrap_or(&file).display().to_string();
        let Ok(text) = std::fs::read_to_string(&file) else {
            dead.push(format!("{shown}: the file itself is missing"));
            continue;
        };
        for target in link_targets(&text) {
            let lower = target.to_ascii_lowercase();
            if lower.contains("://") || lower.starts_with("mailto:") || target.is_empty() {
                continue;
            }
            checked += 1;
            let (path, anchor) = match target.split_once('#') {
                Some((path, anchor)) => (path, Some(anchor)),
                None => (target.as_str(), None),
            };
            let resolved = if path.is_empty() {
                file.clone()
            } else {
                file.parent().unwrap().join(path)
            };
            if !resolved.exists() {
                dead.push(format!("{shown}: ({target}): no such file"));
                continue;
            }
            let Some(anchor) = anchor else { continue };
            if resolved.extension().is_none_or(|e| e != "md") {
                continue;
            }
            let heads = anchors(&std::fs::read_to_string(&resolved).unwrap_or_default());
            if !heads.contains(&anchor.to_lowercase()) {
                dead.push(format!(
                    "{shown}: ({target}): no heading of {path_shown} has the anchor #{anchor}",
                    path_shown = resolved.strip_prefix(root).unwrap_or(&resolved).display()
                ));
            }
        }
    }
    assert!(checked > 0, "no relative link found: the link finder is broken");
    assert!(dead.is_empty(), "dead relative links:\n  {}", dead.join("\n  "));
}
