//! The real binary in a real pseudo-terminal of 80x24, its screen read back by a
//! terminal emulator (vt100).

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{CommandBuilder, PtySize, native_pty_system};

pub const ENTER: &str = "\r";
pub const TAB: &str = "\t";
pub const RIGHT: &str = "\x1b[C";
pub const DOWN: &str = "\x1b[B";
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
    pub fn start(cmd: CommandBuilder) -> Terminal {
        let pair = native_pty_system()
            .openpty(PtySize {
                rows: 24,
                cols: 80,
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
            std::num::NonZero::new(24).unwrap(),
            std::num::NonZero::new(80).unwrap(),
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
