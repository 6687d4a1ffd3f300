//! The wizard's terminal: ratatui on crossterm, written through a buffer of our own.
//! std's stdout keeps a buffer for the life of the process, holding the last bytes
//! written: after a key was shown, the key. Ours is wiped after every flush, and the
//! screen is wiped with a frame of real spaces before the terminal's own clear.

use std::io::{self, Write};
use std::os::fd::AsFd;

use crossterm::cursor::MoveTo;
use crossterm::style::{Attribute, Print, ResetColor, SetAttribute};
use crossterm::terminal::{EnterAlternateScreen, enable_raw_mode};
use crossterm::{execute, queue};
use ratatui::backend::{Backend, ClearType, CrosstermBackend};
use zeroize::{Zeroize, Zeroizing};

pub type Term = ratatui::Terminal<CrosstermBackend<WipingWriter>>;

/// A frame at 80x24 with colours is a few KiB; a full redraw of a large terminal fits.
const CAPACITY: usize = 64 * 1024;

/// Buffers a frame, writes it to standard output on flush, then wipes the buffer.
pub struct WipingWriter {
    buf: Zeroizing<Vec<u8>>,
    /// Where flushed bytes go: standard output (another place only in tests).
    sink: fn(&[u8]) -> io::Result<()>,
}

impl WipingWriter {
    pub fn new() -> WipingWriter {
        WipingWriter {
            buf: Zeroizing::new(Vec::with_capacity(CAPACITY)),
            sink: write_out,
        }
    }
}

impl Default for WipingWriter {
    fn default() -> WipingWriter {
        WipingWriter::new()
    }
}

/// Straight to file descriptor 1, past std's buffer.
fn write_out(mut bytes: &[u8]) -> io::Result<()> {
    let stdout = io::stdout();
    while !bytes.is_empty() {
        match nix::unistd::write(stdout.as_fd(), bytes) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

impl Write for WipingWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        // Never grown: a grown buffer would free the old one with a frame in it.
        if self.buf.len() + data.len() > self.buf.capacity() {
            self.flush()?;
            if data.len() > self.buf.capacity() {
                (self.sink)(data)?;
                return Ok(data.len());
            }
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let written = (self.sink)(&self.buf);
        self.buf.as_mut_slice().zeroize();
        self.buf.clear();
        written
    }
}

/// Raw mode and the alternate screen, as `ratatui::init` does, on our writer. A panic
/// restores the terminal first.
pub fn init() -> io::Result<Term> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        ratatui::restore();
        hook(info);
    }));
    enable_raw_mode()?;
    let mut writer = WipingWriter::new();
    execute!(writer, EnterAlternateScreen)?;
    ratatui::Terminal::new(CrosstermBackend::new(writer))
}

/// Wipes the screen after secrets were on it. Not `Terminal::clear`: that asks the
/// terminal for its cursor position, which a slow SSH link may not answer in time. A
/// blank frame keeps ratatui's buffers in step; then every cell is written with a real
/// space (a clear alone may let a terminal keep the old text in its scrollback), then
/// the terminal's own clear.
pub fn wipe(terminal: &mut Term) -> io::Result<()> {
    terminal.draw(|f| f.render_widget(ratatui::widgets::Clear, f.area()))?;
    let size = terminal.size()?;
    let blank = " ".repeat(size.width as usize);
    let out = terminal.backend_mut();
    queue!(out, SetAttribute(Attribute::Reset), ResetColor)?;
    for row in 0..size.height {
        queue!(out, MoveTo(0, row), Print(&blank))?;
    }
    Write::flush(out)?;
    out.clear_region(ClearType::All)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;

    thread_local! {
        static SENT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    }

    fn record(bytes: &[u8]) -> io::Result<()> {
        SENT.with(|s| s.borrow_mut().extend_from_slice(bytes));
        Ok(())
    }

    #[test]
    fn the_buffer_is_wiped_after_each_flush_and_never_grows() {
        let mut w = WipingWriter {
            sink: record,
            ..WipingWriter::new()
        };
        let block = w.buf.as_ptr();
        w.write_all(b"the secret").unwrap();
        SENT.with(|s| assert!(s.borrow().is_empty(), "nothing goes out before a flush"));
        w.flush().unwrap();
        SENT.with(|s| assert_eq!(s.borrow().as_slice(), b"the secret"));
        // SAFETY: within the buffer's capacity, in the block it has always had.
        let left = unsafe { std::slice::from_raw_parts(block, 10) };
        assert_eq!(left, [0u8; 10], "wiped after the flush");
        // More than it holds goes straight out; the buffer stays the same block.
        w.write_all(&vec![b'x'; CAPACITY + 1]).unwrap();
        w.flush().unwrap();
        assert_eq!((w.buf.as_ptr(), w.buf.capacity()), (block, CAPACITY));
        SENT.with(|s| assert_eq!(s.borrow().len(), 10 + CAPACITY + 1));
    }
}
