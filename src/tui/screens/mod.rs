//! One module per screen: its state, its key table, what it does on arrival and its
//! view. The screens are listed once, in `crate::tui::ctx`'s `screen_list!`: adding a
//! screen is its module and one line there. A screen sees only its own state and the narrow
//! context ([`Ctx`]), never another screen's state.

pub mod account;
pub mod doctor;
pub mod done;
pub mod drill;
pub mod files;
pub mod iam;
pub mod init;
pub mod kms;
pub mod recovery;
pub mod region;
pub mod review;
pub mod rotate;
pub mod run;
pub mod server;
pub mod start;
pub mod status;
pub mod steps;
pub mod unseal_keys;
pub mod welcome;

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use crate::answers::Answers;
pub use crate::tui::ctx::{Ctx, Nav, Outcome, Place, ScreenId};
use crate::tui::keys::{self, Binding, Hint, Key};
use crate::tui::msg::Command;
use crate::tui::theme::Theme;
pub use crate::tui::wrap::{hanging, word_wrap, word_wrapped_rows};

/// A screen: its state is `Self`.
pub trait Screen: Sized + 'static {
    /// Its key table: dispatch, footer and help all read it.
    const KEYS: &'static [Binding<Self>];

    fn new(answers: &Answers) -> Self;

    /// On arrival.
    fn enter(&mut self, _ctx: &mut Ctx) -> Vec<Command> {
        vec![]
    }

    /// Whether a text field has focus, so that typing (see [`keys::TYPING`]) edits it.
    fn takes_typing(&self) -> bool {
        false
    }

    /// A typing key for the focused text field.
    fn typed(&mut self, _ctx: &mut Ctx, _key: KeyEvent) -> Outcome {
        Outcome::stay()
    }

    /// Something of this screen is in flight (its spinner turns).
    fn busy(&self) -> bool {
        false
    }

    fn view(&self, frame: &mut Frame, area: Rect, ctx: &Ctx);

    /// F2's lines: the commands that do by hand what this screen does, and the files as
    /// they will be written, from the renderers the run uses (see `tui::by_hand`).
    fn commands(&self, _ctx: &Ctx) -> Vec<String> {
        Vec::new()
    }
}

/// A key for `screen`: its table first, then typing into a focused text field.
/// `None`: the screen does not answer to it.
fn on_key<S: Screen>(screen: &mut S, ctx: &mut Ctx, key: KeyEvent) -> Option<Outcome> {
    if let Some(outcome) = keys::dispatch(S::KEYS, screen, ctx, key) {
        return Some(outcome);
    }
    (screen.takes_typing() && keys::is_typing(&key)).then(|| screen.typed(ctx, key))
}

fn bindings_now<S: Screen>(screen: &S, ctx: &Ctx) -> Vec<(&'static str, &'static [Key])> {
    keys::applicable(S::KEYS, screen, ctx)
        .map(|b| (b.label, b.keys))
        .collect()
}

/// Every screen's state and what the app asks of it, by id, from the one list in
/// `crate::tui::ctx` (`ScreenId`, the titles and places are made there).
macro_rules! registry {
    ($($id:ident => $field:ident: $ty:ty, $title:literal, $place:ident;)*) => {
        /// Every screen's own state.
        pub struct Screens {
            $(pub $field: $ty),*
        }

        impl Screens {
            pub fn new(answers: &Answers) -> Screens {
                Screens {
                    $($field: <$ty>::new(answers)),*
                }
            }

            pub fn enter(&mut self, id: ScreenId, ctx: &mut Ctx) -> Vec<Command> {
                match id {
                    $(ScreenId::$id => self.$field.enter(ctx)),*
                }
            }

            pub fn on_key(&mut self, id: ScreenId, ctx: &mut Ctx, key: KeyEvent) -> Option<Outcome> {
                match id {
                    $(ScreenId::$id => on_key(&mut self.$field, ctx, key)),*
                }
            }

            /// The footer's and the help's keys: the table's bindings that apply now.
            pub fn hints(&self, id: ScreenId, ctx: &Ctx) -> Vec<Hint> {
                match id {
                    $(ScreenId::$id => keys::hints(<$ty>::KEYS, &self.$field, ctx)),*
                }
            }

            /// The label and keys of each binding that applies now.
            pub fn bindings_now(&self, id: ScreenId, ctx: &Ctx) -> Vec<(&'static str, &'static [Key])> {
                match id {
                    $(ScreenId::$id => bindings_now(&self.$field, ctx)),*
                }
            }

            pub fn takes_typing(&self, id: ScreenId) -> bool {
                match id {
                    $(ScreenId::$id => self.$field.takes_typing()),*
                }
            }

            pub fn busy(&self) -> bool {
                false $(|| self.$field.busy())*
            }

            pub fn commands(&self, id: ScreenId, ctx: &Ctx) -> Vec<String> {
                match id {
                    $(ScreenId::$id => self.$field.commands(ctx)),*
                }
            }

            pub fn view(&self, id: ScreenId, frame: &mut Frame, area: Rect, ctx: &Ctx) {
                match id {
                    $(ScreenId::$id => self.$field.view(frame, area, ctx)),*
                }
            }
        }
    };
}

crate::tui::ctx::screen_list!(registry);

/// Something loaded in the background (`ratatui`'s async example calls it LoadingState).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Lookup<T> {
    #[default]
    Idle,
    Loading,
    Loaded(T),
    Failed(String),
}

impl<T> Lookup<T> {
    pub fn is_loading(&self) -> bool {
        matches!(self, Lookup::Loading)
    }
}

/// A background read of a screen beside the walk, until it is loaded: nothing yet, a
/// spinner with what it does, or why it failed and the keys that help. `Ok` once loaded.
pub fn pending<'a, T>(
    lookup: &'a Lookup<T>,
    doing: &str,
    failed: &str,
    ctx: &Ctx,
) -> Result<&'a T, Vec<Line<'static>>> {
    let t = &ctx.theme;
    match lookup {
        Lookup::Loaded(value) => Ok(value),
        Lookup::Idle => Err(vec![]),
        Lookup::Loading => Err(vec![Line::from(vec![
            Span::styled(spinner(ctx.frame), t.accent),
            Span::raw(format!(" {doing}")),
        ])]),
        Lookup::Failed(e) => Err(vec![
            Line::styled(failed.to_string(), t.warn),
            Line::styled(e.clone(), t.error),
            Line::raw(""),
            Line::raw("r tries again; Esc goes back to the menu."),
        ]),
    }
}

/// The "why" of a screen whose answer a cluster's file gives when this host joins one
/// (Region, KMS key, IAM): the file's values, and that this screen's are not used.
pub fn why_or_joining(why: &'static str, ctx: &Ctx) -> std::borrow::Cow<'static, str> {
    let a = &ctx.answers;
    match &a.cluster.join {
        None => why.into(),
        Some(file) => format!(
            "This host joins the cluster of {}: its key {} in {} and its policy {} are used, \
             whatever this screen says (the Server screen chose it).",
            file.display(),
            a.kms.key_id.as_deref().unwrap_or("(the file's)"),
            a.region,
            a.iam.policy_name
        )
        .into(),
    }
}

/// Said while Enter waits for a background check (see `Screen::enter`'s probes).
pub const WAITING: &str = "Checking… goes on by itself once the check answers.";

pub const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

pub fn spinner(frame: usize) -> &'static str {
    SPINNER[frame % SPINNER.len()]
}

/// The screen's "why" paragraph for newcomers; returns the area below it.
pub fn why(frame: &mut Frame, area: Rect, text: &str, theme: &Theme) -> Rect {
    let width = area.width.max(1) as usize;
    let lines = (text.split('\n').map(|l| word_wrapped_rows(l, width)).sum::<usize>() as u16).min(area.height);
    let [top, _, rest] =
        Layout::vertical([Constraint::Length(lines), Constraint::Length(1), Constraint::Min(0)]).areas(area);
    frame.render_widget(
        Paragraph::new(text.to_string())
            .style(theme.dim)
            .wrap(Wrap { trim: true }),
        top,
    );
    rest
}

/// Lines of text, wrapped, in the given area.
pub fn lines(frame: &mut Frame, area: Rect, lines: Vec<Line<'_>>) {
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), area);
}

/// Lines that scroll a line at a time: drawn from line `scroll` on, wrapped, in `area`.
/// Returns the furthest scroll that still fills the area (the last line at the bottom),
/// which the view leaves in its state's `Cell` for `update` to clamp the next key by, as
/// ratatui's stateful widgets do.
pub fn scrolled_lines(frame: &mut Frame, area: Rect, lines: Vec<Line<'_>>, scroll: usize) -> usize {
    // The rows each line takes, wrapped exactly as the paragraph below wraps it.
    let rows = |l: &Line| {
        Paragraph::new(l.clone())
            .wrap(Wrap { trim: false })
            .line_count(area.width.max(1))
    };
    let mut fits = 0;
    let mut furthest = lines.len();
    for (i, line) in lines.iter().enumerate().rev() {
        fits += rows(line);
        if fits > area.height as usize {
            break;
        }
        furthest = i;
    }
    let furthest = furthest.min(lines.len().saturating_sub(1));
    let shown: Vec<Line> = lines.into_iter().skip(scroll.min(furthest)).collect();
    frame.render_widget(Paragraph::new(shown).wrap(Wrap { trim: false }), area);
    furthest
}

/// The furthest a scrolled view can go, as it was last drawn (set by the view, read by
/// `update`); no limit until it is first drawn.
#[derive(Debug)]
pub struct Furthest(std::cell::Cell<usize>);

impl Default for Furthest {
    fn default() -> Furthest {
        Furthest(std::cell::Cell::new(usize::MAX))
    }
}

impl Furthest {
    pub fn get(&self) -> usize {
        self.0.get()
    }

    pub fn set(&self, furthest: usize) {
        self.0.set(furthest);
    }
}

/// One line up (↑) or down (↓), never past `furthest` (see [`scrolled_lines`]).
pub fn scroll_by_key(scroll: usize, key: &crossterm::event::KeyEvent, furthest: usize) -> usize {
    match key.code {
        crossterm::event::KeyCode::Up => scroll.min(furthest).saturating_sub(1),
        _ => (scroll + 1).min(furthest),
    }
}
