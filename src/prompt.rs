//! The line prompts' input, once for the commands and the plain wizard: a line read in
//! short polls (a stop request ends the wait at once), keys read with echo off into
//! zeroizing memory, a yes/no question, and the signals that ask a run to stop.

use std::io::{IsTerminal, Write};

use anyhow::{Context, bail};

use crate::run::events::StopRequest;
use crate::vault::migrate::UnsealKeys;

/// One line of standard input, or `None` at its end.
pub fn read_line(stop: &StopRequest) -> anyhow::Result<Option<String>> {
    let mut bytes = Vec::new();
    let got = read_line_into(stop, &mut bytes, usize::MAX, "at a prompt")?;
    Ok(got.then(|| String::from_utf8_lossy(&bytes).into_owned()))
}

/// Reads one line of standard input onto `into` (and nowhere else: a secret read so
/// leaves no copy behind), at most `limit` bytes in all; false at the input's end with
/// nothing read. It waits in short polls, so that a stop request ends the wait at once
/// (a blocked read would wait for Enter; `waiting` says for what), and reads a byte at a
/// time, so that nothing past the line is taken from later reads.
pub fn read_line_into(stop: &StopRequest, into: &mut Vec<u8>, limit: usize, waiting: &str) -> anyhow::Result<bool> {
    use nix::errno::Errno;
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    use std::os::fd::AsFd;
    let stdin = std::io::stdin();
    let start = into.len();
    loop {
        if let Some(signal) = stop.requested() {
            bail!("{signal} {waiting}: stopped, nothing was changed");
        }
        let mut fds = [PollFd::new(stdin.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(100u16)) {
            Ok(0) | Err(Errno::EINTR) => continue,
            Ok(_) => {}
            Err(e) => bail!("cannot read standard input: {e}"),
        }
        let mut byte = [0u8; 1];
        let read = nix::unistd::read(stdin.as_fd(), &mut byte);
        let got = byte[0];
        zeroize::Zeroize::zeroize(&mut byte);
        match read {
            // The end of the input (a closed pipe, a terminal that hung up).
            Ok(0) => return Ok(into.len() > start),
            Ok(_) if got == b'\n' => return Ok(true),
            Ok(_) if into.len() < limit => into.push(got),
            Ok(_) => bail!("the line typed is longer than any answer"),
            Err(Errno::EINTR | Errno::EAGAIN) => continue,
            Err(e) => bail!("cannot read standard input: {e}"),
        }
    }
}

/// `question`, then one line typed, trimmed (empty at the input's end).
pub fn ask(question: &str, stop: &StopRequest) -> anyhow::Result<String> {
    print!("{question}");
    std::io::stdout().flush()?;
    Ok(read_line(stop)?.unwrap_or_default().trim().to_string())
}

/// A yes/no question; an empty answer takes `default`; `None` at the input's end.
/// `echo` writes the answer read from a pipe, so that prompts do not run together.
pub fn yes_or_no(question: &str, default: bool, echo: bool, stop: &StopRequest) -> anyhow::Result<Option<bool>> {
    print!("{question} [{}] ", if default { "Y/n" } else { "y/N" });
    std::io::stdout().flush()?;
    let Some(line) = read_line(stop)? else {
        return Ok(None);
    };
    if echo {
        println!("{}", line.trim_end());
    }
    Ok(Some(match line.trim() {
        "" => default,
        answer => matches!(answer, "y" | "Y" | "yes" | "Yes"),
    }))
}

/// A question only a person at a terminal answers: without one, the answer is no. With
/// `typed_word`, that word typed in full is the only yes.
pub fn confirm(question: &str, typed_word: Option<&str>) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        return Ok(false);
    }
    let never = StopRequest::default();
    match typed_word {
        Some(word) => Ok(ask(&format!("{question}\nType \"{word}\" to go on: "), &never)? == word),
        None => Ok(yes_or_no(question, false, false, &never)?.unwrap_or(false)),
    }
}

/// Keys typed one a line, an empty line (or the input's end) to finish: on a terminal
/// with echo off; read from the descriptor a byte at a time into zeroizing memory (std's
/// stdin buffer would keep a copy). Echo is restored whatever happens.
pub fn read_hidden_keys(what: &str, stop: &StopRequest) -> anyhow::Result<UnsealKeys> {
    let _echo = EchoOff::on_stdin()?;
    let mut typed = zeroize::Zeroizing::new(Vec::with_capacity(64 * 1024));
    for n in 1.. {
        print!("{what} {n} (hidden; an empty line ends): ");
        std::io::stdout().flush()?;
        let start = typed.len();
        let limit = typed.capacity();
        let got = read_line_into(stop, &mut typed, limit, "while the keys were typed")?;
        println!();
        if !got || typed.len() == start {
            break;
        }
        typed.push(b'\n');
    }
    Ok(UnsealKeys::from_reader(&typed[..], "the terminal")?)
}

/// A token typed (echo off on a terminal) or piped, one line, into zeroizing memory
/// only: never an argument, never in the shell's history.
pub fn read_hidden_token(what: &str, stop: &StopRequest) -> anyhow::Result<secrecy::SecretString> {
    let _echo = EchoOff::on_stdin()?;
    if std::io::stdin().is_terminal() {
        print!("{what} (hidden): ");
        std::io::stdout().flush()?;
    }
    let mut typed = zeroize::Zeroizing::new(Vec::with_capacity(4096));
    let limit = typed.capacity();
    read_line_into(stop, &mut typed, limit, "while the token was typed")?;
    if std::io::stdin().is_terminal() {
        println!();
    }
    let text = std::str::from_utf8(&typed)
        .context("the token read is not text")?
        .trim();
    if text.is_empty() || text.contains(char::is_whitespace) {
        bail!("no token on standard input: give it alone on one line");
    }
    Ok(secrecy::SecretString::from(text.to_string()))
}

/// Echo off on a terminal's standard input until dropped (nothing on a pipe): restored
/// whatever happens.
struct EchoOff(Option<nix::sys::termios::Termios>);

impl EchoOff {
    fn on_stdin() -> anyhow::Result<EchoOff> {
        use nix::sys::termios::{LocalFlags, SetArg, tcgetattr, tcsetattr};
        use std::os::fd::AsFd;
        let saved = tcgetattr(std::io::stdin().as_fd()).ok();
        if let Some(saved) = &saved {
            let mut hidden = saved.clone();
            hidden.local_flags.remove(LocalFlags::ECHO);
            tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, &hidden).context("cannot turn echo off")?;
        }
        Ok(EchoOff(saved))
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        use nix::sys::termios::{SetArg, tcsetattr};
        use std::os::fd::AsFd;
        if let Some(saved) = &self.0 {
            let _ = tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, saved);
        }
    }
}

/// As Terraform does: the first SIGINT, SIGTERM or SIGHUP (a dropped SSH session) ends a
/// prompt at once and lets a run's step in flight finish and be recorded, then the run
/// stops with what exists; a second one stops at once. What is said may go nowhere
/// after a hang-up, and is never a reason to fail.
pub fn stop_on_signals() -> anyhow::Result<StopRequest> {
    use tokio::signal::unix::{SignalKind, signal};
    let stop = StopRequest::default();
    let mut signals = [
        (
            signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?,
            "SIGINT",
        ),
        (
            signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?,
            "SIGTERM",
        ),
        (
            signal(SignalKind::hangup()).context("cannot listen for SIGHUP")?,
            "SIGHUP",
        ),
    ];
    let request = stop.clone();
    tokio::spawn(async move {
        loop {
            let [(int, _), (term, _), (hup, _)] = &mut signals;
            let name = tokio::select! {
                _ = int.recv() => "SIGINT",
                _ = term.recv() => "SIGTERM",
                _ = hup.recv() => "SIGHUP",
            };
            if request.request(name) {
                // A probe (a binary's `version`, `systemctl show`) changes nothing: it ends now.
                crate::child::stop_probes(name);
                let _ = writeln!(
                    std::io::stderr(),
                    "\n{name}: stopping after the current step, so that what it makes is recorded. Interrupt \
                     again to stop at once."
                );
            } else {
                let _ = writeln!(
                    std::io::stderr(),
                    "\n{name} again: stopping now. A call in flight may have made something the manifest lacks: \
                     the next `apply`, `rotate` or `destroy` looks for it."
                );
                std::process::exit(130);
            }
        }
    });
    Ok(stop)
}
