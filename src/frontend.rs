//! Which front end a session gets, decided in one place for the wizard and the demo.

use std::io::IsTerminal;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrontEnd {
    /// The full-screen wizard.
    Screen,
    /// The same questions as line prompts, the accessible mode: asked for with `--plain`,
    /// or where there is no screen to draw on (no terminal, `TERM=dumb`).
    Plain,
    /// No questions at all (`--yes`): the answers as given.
    Headless,
}

/// The front end for this process's terminal and flags.
pub fn choose(plain: bool, yes: bool) -> FrontEnd {
    let term = Terminal {
        dumb: std::env::var("TERM").is_ok_and(|t| t == "dumb"),
        stdin: std::io::stdin().is_terminal(),
        stdout: std::io::stdout().is_terminal(),
    };
    choose_for(term, plain, yes)
}

/// What the chooser needs to know of the terminal.
#[derive(Debug, Clone, Copy)]
struct Terminal {
    dumb: bool,
    stdin: bool,
    stdout: bool,
}

fn choose_for(term: Terminal, plain: bool, yes: bool) -> FrontEnd {
    let can_draw = !term.dumb && term.stdin && term.stdout;
    if yes {
        FrontEnd::Headless
    } else if plain || !can_draw {
        FrontEnd::Plain
    } else {
        FrontEnd::Screen
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTY: Terminal = Terminal {
        dumb: false,
        stdin: true,
        stdout: true,
    };

    #[test]
    fn the_screen_only_where_it_can_be_drawn_and_is_wanted() {
        assert_eq!(choose_for(TTY, false, false), FrontEnd::Screen);
        assert_eq!(choose_for(TTY, true, false), FrontEnd::Plain);
        assert_eq!(
            choose_for(Terminal { dumb: true, ..TTY }, false, false),
            FrontEnd::Plain
        );
        assert_eq!(
            choose_for(Terminal { stdin: false, ..TTY }, false, false),
            FrontEnd::Plain
        );
        assert_eq!(
            choose_for(Terminal { stdout: false, ..TTY }, false, false),
            FrontEnd::Plain
        );
        assert_eq!(choose_for(TTY, true, true), FrontEnd::Headless);
        assert_eq!(
            choose_for(Terminal { dumb: true, ..TTY }, false, true),
            FrontEnd::Headless
        );
    }
}
