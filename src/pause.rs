//! A test hook and nothing more: with `AUTOUNSEAL_TEST_PAUSE=NAME[,NAME…]` the process
//! stops itself (SIGSTOP) at those named points, so that a test can take a core dump
//! at a known moment and then let it go on (SIGCONT). It changes nothing else.

/// The points: `server-answered` when the AWS part of a run is over and the server it
/// started has answered (a moment when nothing of the AWS part is still in flight: its
/// clients and their connections are gone), `initialized` when init's keys are saved
/// or held to be handed back (before the proof steps), `finished` when `apply` (or
/// `rotate`) has done everything and is about to exit.
pub fn point(name: &str) {
    let Some(list) = std::env::var_os("AUTOUNSEAL_TEST_PAUSE") else {
        return;
    };
    if list.to_str().is_some_and(|l| l.split(',').any(|p| p == name)) {
        let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGSTOP);
    }
}
