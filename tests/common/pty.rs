//! The real binary in a real pseudo-terminal of 80x24, its screen read back by a
//! terminal emulator (vt100).

use std::io::{Read, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{CommandBuilder, PtySize, native_pty_system};

/// How long a screen may take to appear after a key.
pub const SCREEN: Duration = Duration::from_secs(15);

pub const ENTER: &str = "\r";
pub const TAB: &str = "\t";
pub const RIGHT: &str = "\x1b[C";
pub const DOWN: &str = "\x1b[B";
pub const UP: &str = "\x1b[A";
pub const ESC: &str = "\x1b";
pub const CLEAR: &str = "\x15"; // Ctrl-U

pub struct Terminal {
    pub screen: Arc<Mutex<vt100::Parser>>,
    writer: Box<dyn Write + Send>,
    pub child: Box<dyn portable_pty::Child + Send + Sync>,
    master: Box<dyn portable_pty::MasterPty + Send>,
    /// Tells the reader to stop and let go of its copy of the master side.
    stop: Arc<std::sync::atomic::AtomicBool>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Terminal {
    /// An SSH session's usual 80x24.
    pub fn start(cmd: CommandBuilder) -> Terminal {
        Terminal::start_sized(cmd, 24, 80)
    }

    pub fn start_sized(cmd: CommandBuilder, rows: u16, cols: u16) -> Terminal {
        let pair = native_pty_system()
            .openpty(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
        let child = pair.slave.spawn_command(cmd).unwrap();
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().unwrap();
        let fd = pair.master.as_raw_fd().unwrap();
        let writer = pair.master.take_writer().unwrap();
        let screen = Arc::new(Mutex::new(vt100::Parser::new(
            std::num::NonZero::new(rows).unwrap(),
            std::num::NonZero::new(cols).unwrap(),
            0,
        )));
        let feed = screen.clone();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = stop.clone();
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            // Polled, so that `hang_up` can end this thread and close its copy of the fd.
            while !stopped.load(std::sync::atomic::Ordering::SeqCst) {
                let mut poll = libc::pollfd {
                    fd,
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: one valid pollfd, for the fd the reader owns a copy of.
                if unsafe { libc::poll(&mut poll, 1, 50) } <= 0 {
                    continue;
                }
                match reader.read(&mut buf) {
                    Ok(n) if n > 0 => feed.lock().unwrap().process(&buf[..n]),
                    _ => break,
                }
            }
        });
        Terminal {
            screen,
            writer,
            child,
            master: pair.master,
            stop,
            reader: Some(reader),
        }
    }

    /// Closes every copy of the master side, as a dropped SSH connection does: the
    /// program gets SIGHUP and every later write to its terminal fails.
    pub fn hang_up(mut self) -> Box<dyn portable_pty::Child + Send + Sync> {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
        drop(self.writer);
        drop(self.master);
        self.child
    }

    /// Waits (at most `timeout`) until the program's last output has been read: after
    /// it exits, what it printed on the normal screen may still be on its way.
    pub fn wait_for_output_end(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.reader.as_ref().is_some_and(|r| !r.is_finished()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn contents(&self) -> String {
        self.screen.lock().unwrap().screen().contents()
    }

    /// Waits until the screen shows `text`; fails with the screen as it is.
    pub fn wait_for(&self, text: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let screen = self.contents();
            if screen.contains(text) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "{text:?} never appeared. The screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn type_keys(&mut self, keys: &[&str]) {
        for k in keys {
            self.writer.write_all(k.as_bytes()).unwrap();
            self.writer.flush().unwrap();
            // One read per key press, as a person types: crossterm sees each on its own.
            std::thread::sleep(Duration::from_millis(30));
        }
    }
}

/// The wizard with the operator's test keys for moto and nothing else of this machine:
/// no AWS files, no instance metadata, `home` as its home.
pub fn wizard_command(home: &Path) -> CommandBuilder {
    let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_autounseal"));
    cmd.env_clear();
    cmd.env("PATH", std::env::var("PATH").unwrap_or_default());
    cmd.env("HOME", home);
    cmd.env("TERM", "xterm-256color");
    cmd.env("AWS_ACCESS_KEY_ID", "testing");
    cmd.env("AWS_SECRET_ACCESS_KEY", "testing");
    cmd.env("AWS_CONFIG_FILE", "/nonexistent/aws-config");
    cmd.env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials");
    cmd.env("AWS_EC2_METADATA_DISABLED", "true");
    cmd
}

/// From Welcome to Review, taking every answer as given (the answers file's): Enter on
/// each question screen once it shows.
pub fn answer_every_question(t: &mut Terminal) {
    t.wait_for("1/13 Welcome", SCREEN);
    t.type_keys(&[ENTER]);
    t.wait_for("✓ Account 123456789012", SCREEN);
    for screen in [
        "3/13 Region",
        "4/13 KMS key",
        "5/13 IAM",
        "6/13 Files",
        "7/13 Server",
        "8/13 Init",
    ] {
        t.type_keys(&[ENTER]);
        t.wait_for(screen, SCREEN);
    }
    t.type_keys(&[ENTER]);
}

/// A finished `apply` (OpenBao 2.6.2 in the background) in a folder of its own, by an
/// operator who is a real IAM user of moto, and moto checking every request's credentials
/// from then on, so that a retired access key is really refused.
pub struct Applied {
    /// First, so that it is dropped first: it stops the server the manifest records.
    _guard: super::ServerGuard,
    _moto: super::Moto,
    pub dir: tempfile::TempDir,
    pub answers: autounseal::answers::Answers,
    /// The operator's (key id, secret).
    pub operator_key: (String, String),
}

impl Applied {
    pub fn new() -> Applied {
        let moto = super::Moto::start();
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let guard = super::ServerGuard(state.clone());
        let answers = super::server_answers(&moto, dir.path());
        let rt = tokio::runtime::Runtime::new().unwrap();
        let (operator, key) = rt.block_on(super::operator(&answers));
        let file = dir.path().join("answers.toml");
        std::fs::write(&file, answers.to_toml()).unwrap();
        let mut apply = std::process::Command::new(env!("CARGO_BIN_EXE_autounseal"));
        super::isolate(&mut apply, &state);
        apply
            .env("AWS_ACCESS_KEY_ID", &key.0)
            .env("AWS_SECRET_ACCESS_KEY", &key.1)
            .args(["apply", "--yes", "--answers", &file.to_string_lossy()]);
        let applied = apply.output().unwrap();
        assert!(applied.status.success(), "{}", String::from_utf8_lossy(&applied.stderr));
        rt.block_on(async {
            super::let_moto_pass_kms_calls(&operator, &answers.iam.user_name).await;
            moto.enforce_auth().await;
        });
        Applied {
            _guard: guard,
            _moto: moto,
            dir,
            answers,
            operator_key: key,
        }
    }

    pub fn state(&self) -> std::path::PathBuf {
        self.dir.path().join("state")
    }

    /// The value of `name=` in the env file the server reads.
    pub fn env_value(&self, name: &str) -> String {
        let text = std::fs::read_to_string(&self.answers.output.env_file).unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")).map(str::to_string))
            .unwrap_or_else(|| panic!("no {name} in the env file"))
    }

    /// The wizard on this state folder, as the operator.
    pub fn wizard(&self) -> Terminal {
        let mut cmd = wizard_command(self.dir.path());
        cmd.env("AWS_ACCESS_KEY_ID", &self.operator_key.0);
        cmd.env("AWS_SECRET_ACCESS_KEY", &self.operator_key.1);
        cmd.args(["--state-dir", &self.state().to_string_lossy()]);
        Terminal::start(cmd)
    }
}

/// The wizard, opened on its start menu, rotates the access key: Rotate, its plan, Enter,
/// until it says the rotation is done. Returns that screen.
pub fn rotate_from_the_menu(t: &mut Terminal) -> String {
    t.wait_for("Rotate the access key", SCREEN);
    t.type_keys(&[DOWN, DOWN, ENTER]);
    let plan = t.wait_for("Rotating the access key will:", Duration::from_secs(30));
    assert!(plan.contains("create a new access key for IAM user"), "{plan}");
    t.type_keys(&[ENTER]);
    t.wait_for("Rotate again within 30 to 90 days", Duration::from_secs(180))
}
