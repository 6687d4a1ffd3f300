//! Frame render time for scripts/bench-alloc: every screen of the wizard drawn at
//! 80x24, the Recovery keys screen with a key revealed, through ratatui's diffing
//! terminal. Prints one line: frames and microseconds per frame.

use std::path::PathBuf;
use std::time::Instant;

use autounseal::answers::Answers;
use autounseal::tui::app::App;
use autounseal::tui::screens::ScreenId;
use autounseal::tui::theme::Theme;
use autounseal::tui::view;
use autounseal::vault::recovery::InitSecrets;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn main() {
    let rounds: usize = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(200);
    let answers = Answers {
        region: "eu-west-1".into(),
        ..Default::default()
    };
    let mut app = App::new(answers, PathBuf::from("/tmp/autounseal-bench/state"), Theme::new(false));
    let body = br#"{"recovery_keys":["4f1c0d6a2b4f1c0d6a2b4f1c0d6a2b4f1c0d6a2b4f1c0d6a2b4f1c0d6a2b4f1c","9e8d7c6b5a9e8d7c6b5a9e8d7c6b5a9e8d7c6b5a9e8d7c6b5a9e8d7c6b5a9e8d"],"root_token":"s.R00tT0kenR00tT0kenR00tT"}"#;
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    let mut frames = 0usize;
    let started = Instant::now();
    for _ in 0..rounds {
        for &screen in ScreenId::ALL {
            let _ = app.go(screen);
            if screen == ScreenId::Recovery {
                app.ctx.secrets = Some(InitSecrets::from_response(body).unwrap());
                app.screens.recovery.revealed = Some(frames % 3);
            }
            terminal.draw(|f| view::draw(f, &app)).unwrap();
            frames += 1;
        }
    }
    let per_frame = started.elapsed().as_secs_f64() * 1e6 / frames as f64;
    println!("frames {frames} us_per_frame {per_frame:.1}");
}
