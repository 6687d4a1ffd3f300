//! The wizard migrating a Shamir-sealed OpenBao 2.6.2 with data to awskms, in a real
//! pseudo-terminal against moto: the unseal keys are typed into masked fields and never
//! appear on the screen, before, during or after the run.

use crate::common;

use std::path::Path;
use std::time::Duration;

use common::pty::{ENTER, Terminal, answer_every_question, wizard_command};
use common::shamir::{Api, SECRET, migration_answers, shamir_server_with_data};
use common::{Moto, ServerGuard};
use portable_pty::CommandBuilder;

const SHORT: Duration = Duration::from_secs(15);

/// The wizard against moto, with this test's state folder and answers.
fn wizard_with(home: &Path, state: &Path, answers: &Path) -> CommandBuilder {
    let mut cmd = wizard_command(home);
    cmd.args([
        "--state-dir",
        &state.to_string_lossy(),
        "--answers",
        &answers.to_string_lossy(),
    ]);
    cmd
}

fn assert_no_key(screen: &str, keys: &[String]) {
    for key in keys {
        assert!(
            !screen.contains(key.as_str()),
            "an unseal key is on the screen:\n{screen}"
        );
    }
}

#[test]
fn the_wizard_migrates_a_shamir_server_with_keys_typed_masked() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let state = d.join("state");
    let mut a = migration_answers(&moto, d);
    // The wizard shows keys instead of saving them; a migration makes none anyway.
    a.init.recovery_keys_file = None;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (keys, root) = rt.block_on(shamir_server_with_data(&a, d));
    let answers = d.join("answers.toml");
    std::fs::write(&answers, a.to_toml()).unwrap();
    let _guard = ServerGuard(state.clone());
    let mut t = Terminal::start(wizard_with(d, &state, &answers));

    answer_every_question(&mut t);
    // The migration is explained above the plan.
    let review = t.wait_for("1. kms:CreateKey", Duration::from_secs(30));
    assert!(review.contains("Seal migration from Shamir to AWS KMS"), "{review}");
    assert!(review.contains("the same unseal keys become its"), "{review}");
    t.type_keys(&[ENTER]);

    t.wait_for("10/13 Unseal keys", SHORT);
    t.type_keys(&[&keys[0]]);
    let typing = t.wait_for("Unseal key 1  ••••••••", SHORT);
    assert_no_key(&typing, &keys);
    t.type_keys(&[ENTER, &keys[1], ENTER]);
    let entered = t.wait_for("2 entered", SHORT);
    assert_no_key(&entered, &keys);
    assert_eq!(entered.matches("••••••••").count(), 2, "{entered}");
    t.type_keys(&[ENTER]);

    t.wait_for("11/13 Run", SHORT);
    let done = t.wait_for("All done. Enter to continue.", Duration::from_secs(120));
    assert!(done.contains("migrated from Shamir"), "{done}");
    assert!(done.contains("✓ Restart check"), "{done}");
    assert_no_key(&done, &keys);
    t.type_keys(&[ENTER]);
    let summary = t.wait_for("13/13 Done", SHORT);
    assert_no_key(&summary, &keys);
    t.type_keys(&[ENTER]);
    assert!(t.child.wait().unwrap().success());
    assert_no_key(&t.contents(), &keys);

    // Migrated, the data kept; no key in any file of the state folder.
    let api = Api::new(&format!("http://{}", a.server.listen));
    let status = rt.block_on(api.status());
    assert_eq!(
        (status.seal_type.as_str(), status.recovery_seal, status.sealed),
        ("awskms", true, false)
    );
    assert_eq!(rt.block_on(api.read_secret(&root)), SECRET);
    for entry in std::fs::read_dir(&state).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap_or_default();
        for key in &keys {
            assert!(!text.contains(key.as_str()), "an unseal key is in the state folder");
        }
    }
}
