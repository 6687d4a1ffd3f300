//! `demo`: the guided demo against a local AWS emulator and OpenBao; torn down after.

use std::path::Path;

use crate::cli::DemoArgs;
use crate::demo::{self, Demo};
use crate::frontend::{FrontEnd, choose};
use crate::headless::{Mode, with_printer};
use crate::ops::{self, run::APPLY, run::Ran};
use crate::vault::deploy::KeysDestination;

pub async fn demo(args: DemoArgs, state_dir: &Path, plain: bool) -> anyhow::Result<()> {
    if args.teardown {
        let folder = state_dir.join(demo::DEMO_FOLDER);
        if with_printer(Mode::Run, async |rep| demo::teardown_kept(state_dir, &rep).await).await? {
            println!("Done: the demo in {} is torn down.", folder.display());
        } else {
            println!("No demo was kept in {}.", folder.display());
        }
        for other in demo::running_demos(&folder) {
            let parent = other.parent().unwrap_or(&other);
            println!(
                "A demo still runs from {}: tear it down with `{}`.",
                other.display(),
                crate::cli::command_hint("demo --teardown", parent)
            );
        }
        return Ok(());
    }
    let tools = demo::ensure_tools(args.yes)?;
    let running = Demo::start(state_dir, tools)?;
    let mut answers = running.answers()?;
    answers.cluster.nodes = args.cluster.unwrap_or(1);
    let demo_state = running.state_dir();
    let folder = running.folder.clone();
    let result: anyhow::Result<bool> = match choose(plain, args.yes) {
        FrontEnd::Screen => crate::tui::run(answers, demo_state, true).await.map(|exit| {
            exit.print_farewell();
            exit.keep_demo
        }),
        FrontEnd::Plain => crate::plain::run(answers, &demo_state, true).await.map(|_| false),
        FrontEnd::Headless => {
            println!(
                "autounseal demo: AWS emulator at {}, everything in {}",
                running.moto_url,
                folder.display()
            );
            let keys = KeysDestination::File(
                answers
                    .init
                    .recovery_keys_file
                    .clone()
                    .expect("the demo sets a keys file"),
            );
            let ran = with_printer(Mode::Run, async |rep| {
                ops::run::apply(&answers, &demo_state, APPLY, keys, &rep, Default::default(), None).await
            })
            .await;
            ran.map(|ran| {
                match &ran {
                    Ran::Cluster(o) => {
                        println!("\nThe demo cluster: every node unsealed by KMS, no key typed:");
                        for node in &o.nodes {
                            println!("  {} at {}: {}", node.id, node.address, node.role.unwrap_or("?"));
                        }
                    }
                    _ => {
                        let o = ran.first();
                        let sealed = o.vault.status.as_ref().is_some_and(|s| s.sealed);
                        println!(
                            "\nThe demo server at {} is initialised and {}.",
                            o.vault.address,
                            if sealed { "sealed" } else { "unsealed by KMS" }
                        );
                    }
                }
                false
            })
            .map_err(Into::into)
        }
    };
    // After a hangup the terminal is gone: these lines may go nowhere, the teardown
    // must happen all the same.
    if args.keep || matches!(result, Ok(true)) {
        crate::say!("{}", running.keep());
    } else {
        crate::say!("\nTearing the demo down:");
        with_printer(Mode::Run, async |rep| running.teardown(&rep).await).await?;
        crate::say!(
            "The server and the AWS emulator are stopped and {} is gone.",
            folder.display()
        );
    }
    result.map(|_| ())
}
