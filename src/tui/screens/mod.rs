//! One module per screen: its state, its key table, what it does on arrival and its
//! view. The screens are listed once, in [`registry!`] below: adding a screen is its
//! module and one line there. A screen sees only its own state and the narrow
//! context ([`Ctx`]), never another screen's state.

pub mod account;
pub mod doctor;
pub mod done;
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

use std::path::PathBuf;

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use crate::answers::Answers;
use crate::aws::Identity;
use crate::tui::keys::{self, Binding, Hint, Key};
use crate::tui::msg::{Command, RunReport};
use crate::tui::theme::Theme;
use crate::vault::recovery::InitSecrets;

/// What every screen may see and change besides its own state: the answers, facts
/// found on the way that later screens show, and how to draw.
pub struct Ctx {
    pub answers: Answers,
    pub theme: Theme,
    pub state_dir: PathBuf,
    pub demo: bool,
    /// Advances while something is in flight; drives the spinners.
    pub frame: usize,
    /// Found on the Account screen; IAM shows the key's ARN with it, Review where KMS is.
    pub identity: Option<Identity>,
    /// Keys init handed back, held until the operator stores them (or saved on quit).
    pub secrets: Option<InitSecrets>,
    /// What the finished run made, for Done and the farewell.
    pub report: Option<RunReport>,
    /// Demo only: leave it running at the end instead of tearing it down.
    pub keep_demo: bool,
    /// Quit was confirmed while the server was being initialised: waiting for its keys.
    pub stopping: bool,
    /// The unseal keys of a seal migration, typed on their screen, until the run takes them.
    pub unseal_keys: Option<crate::vault::migrate::UnsealKeys>,
    /// The state folder's manifest recorded a setup when the wizard opened: it opened on
    /// the start menu, and Welcome's Esc leads back there.
    pub setup_recorded: bool,
    /// What the last run left for the operator (a saved keys file still there, a proof
    /// step that never ran; see `doctor::status::LeftOpen`), read when the wizard opens
    /// and after each run: the start menu and Done say it.
    pub left_open: Vec<String>,
    /// A run of this session finished, well or not: it may have made something.
    pub ran: bool,
}

/// Where the wizard goes after a key or an answer: the app owns the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Nav {
    #[default]
    Stay,
    /// The screen before, answers kept.
    Back,
    /// The screen after; a question screen's answers are saved first.
    Forward,
    Go(ScreenId),
    /// The quit question.
    AskQuit,
}

/// What a key or a background answer did: where to go, and what to run.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Outcome {
    pub nav: Nav,
    pub commands: Vec<Command>,
}

impl Outcome {
    /// Handled, with nothing more to do than the state change.
    pub fn stay() -> Outcome {
        Outcome::default()
    }

    pub fn go(nav: Nav) -> Outcome {
        Outcome { nav, commands: vec![] }
    }

    pub fn run(commands: Vec<Command>) -> Outcome {
        Outcome {
            nav: Nav::Stay,
            commands,
        }
    }
}

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

/// Where a screen stands in the wizard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// A step of the walk that asks a question Review can go back to.
    Question,
    /// A step of the walk that asks nothing.
    Step,
    /// Beside the walk, reached from the start menu: not numbered, never in its order.
    Aside,
}

/// The screens, the walk's in the order the wizard walks them: each one's id, state
/// (its module's type), title, and its place.
macro_rules! registry {
    ($($id:ident => $field:ident: $ty:ty, $title:literal, $place:ident;)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
        pub enum ScreenId {
            $($id),*
        }

        impl ScreenId {
            pub const ALL: &'static [ScreenId] = &[$(ScreenId::$id),*];

            pub fn title(self) -> &'static str {
                match self {
                    $(ScreenId::$id => $title),*
                }
            }

            pub fn place(self) -> Place {
                match self {
                    $(ScreenId::$id => Place::$place),*
                }
            }
        }

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

            pub fn view(&self, id: ScreenId, frame: &mut Frame, area: Rect, ctx: &Ctx) {
                match id {
                    $(ScreenId::$id => self.$field.view(frame, area, ctx)),*
                }
            }
        }
    };
}

registry! {
    Welcome => welcome: welcome::Welcome, "Welcome", Step;
    Account => account: account::Account, "AWS account", Question;
    Region => region: region::Region, "Region", Question;
    Kms => kms: kms::Kms, "KMS key", Question;
    Iam => iam: iam::Iam, "IAM user and policy", Question;
    Files => files: files::Files, "Files", Question;
    Server => server: server::Server, "Server", Question;
    Init => init: init::Init, "Init", Question;
    Review => review: review::Review, "Review", Step;
    UnsealKeys => unseal_keys: unseal_keys::UnsealKeys, "Unseal keys", Step;
    Run => run: run::Run, "Run", Step;
    Recovery => recovery: recovery::Recovery, "Recovery keys", Step;
    Done => done: done::Done, "Done", Step;
    Start => start: start::Start, "Start", Aside;
    Doctor => doctor: doctor::Doctor, "Doctor: every link checked", Aside;
    Status => status: status::Status, "Status", Aside;
    Rotate => rotate: rotate::Rotate, "Rotate the access key", Aside;
}

impl ScreenId {
    /// The screens of the walk, in its order.
    pub fn walk() -> Vec<ScreenId> {
        ScreenId::ALL
            .iter()
            .copied()
            .filter(|s| s.place() != Place::Aside)
            .collect()
    }

    /// Its number in the walk; `None` beside it.
    pub fn number(self) -> Option<usize> {
        ScreenId::walk().iter().position(|s| *s == self).map(|i| i + 1)
    }

    /// The walk's next screen; a screen beside the walk stays.
    pub fn next(self) -> ScreenId {
        match self.number() {
            Some(n) => ScreenId::walk().get(n).copied().unwrap_or(self),
            None => self,
        }
    }

    /// The walk's screen before; a screen beside the walk came from the start menu.
    pub fn previous(self) -> ScreenId {
        match self.number() {
            Some(n) => ScreenId::walk()[n.saturating_sub(2)],
            None => ScreenId::Start,
        }
    }

    pub fn is_question(self) -> bool {
        self.place() == Place::Question
    }

    /// The screens of questions, which Review can go back to.
    pub fn questions() -> Vec<ScreenId> {
        ScreenId::ALL.iter().copied().filter(|s| s.is_question()).collect()
    }
}

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

/// How many rows `line` takes when wrapped at word boundaries to `width` columns, as
/// `Paragraph` with `Wrap` does: a count by characters alone comes short by a row when
/// words are pushed to the next one, and the paragraph's end is then cut off.
pub fn word_wrapped_rows(line: &str, width: usize) -> usize {
    word_wrap(line, width).len()
}

/// `line` wrapped at word boundaries to `width` columns (a word longer than a row is
/// broken across rows): the rows, for text a screen lays out itself (indented, scrolled).
pub fn word_wrap(line: &str, width: usize) -> Vec<String> {
    wrap_words(line.split_whitespace().map(|w| (w, ())), width)
        .into_iter()
        .map(|row| row.into_iter().map(|(w, ())| w).collect::<Vec<_>>().join(" "))
        .collect()
}

/// Words, each with its mark (a style), filled into rows of `width` columns.
fn wrap_words<'w, T: Copy>(words: impl Iterator<Item = (&'w str, T)>, width: usize) -> Vec<Vec<(String, T)>> {
    let width = width.max(1);
    let mut rows: Vec<Vec<(String, T)>> = vec![vec![]];
    let mut used = 0;
    for (word, mark) in words {
        let len = word.chars().count();
        let needed = if used == 0 { len } else { used + 1 + len };
        if needed <= width {
            rows.last_mut()
                .expect("one row at least")
                .push((word.to_string(), mark));
            used = needed;
        } else if len > width {
            // Broken across rows, starting on a row of its own.
            if used > 0 {
                rows.push(vec![]);
            }
            let chars: Vec<char> = word.chars().collect();
            for (i, chunk) in chars.chunks(width).enumerate() {
                if i > 0 {
                    rows.push(vec![]);
                }
                rows.last_mut()
                    .expect("one row at least")
                    .push((chunk.iter().collect(), mark));
            }
            used = (len - 1) % width + 1;
        } else {
            rows.push(vec![(word.to_string(), mark)]);
            used = len;
        }
    }
    rows
}

/// `pieces` (text, each in its style) wrapped to `width` under a hanging indent: the
/// first row after `head` (a label, a badge), the others under the first, so that a
/// column of labels or badges stays clear at 80 columns.
pub fn hanging(head: Vec<Span<'static>>, pieces: &[(&str, Style)], width: usize) -> Vec<Line<'static>> {
    let indent: usize = head.iter().map(|s| s.width()).sum();
    let words = pieces
        .iter()
        .flat_map(|(text, style)| text.split_whitespace().map(move |w| (w, *style)));
    let mut head = Some(head);
    wrap_words(words, width.saturating_sub(indent))
        .into_iter()
        .map(|row| {
            let mut spans = head.take().unwrap_or_else(|| vec![Span::raw(" ".repeat(indent))]);
            for (i, (word, style)) in row.into_iter().enumerate() {
                if i > 0 {
                    spans.push(Span::raw(" "));
                }
                spans.push(Span::styled(word, style));
            }
            Line::from(spans)
        })
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapped_rows_count_words_pushed_to_the_next_row() {
        assert_eq!(word_wrapped_rows("", 10), 1);
        assert_eq!(word_wrapped_rows("aaaa bbbb", 9), 1);
        assert_eq!(word_wrapped_rows("aaaa bbbb", 8), 2);
        // 20 characters fit two rows of 10 by count, but not by words.
        assert_eq!(word_wrapped_rows("aaaaaa bbbbbb cccccc", 10), 3);
        assert_eq!(word_wrapped_rows("x aaaaaaaaaaaaaaaaaaaaaaaaa", 10), 4);
    }

    #[test]
    fn wrapped_rows_keep_every_word_in_order() {
        assert_eq!(word_wrap("aaaaaa bbbbbb cccccc", 10), ["aaaaaa", "bbbbbb", "cccccc"]);
        assert_eq!(word_wrap("aa bb cc", 5), ["aa bb", "cc"]);
        assert_eq!(
            word_wrap("x aaaaaaaaaaaaaaaaaaaaaaaaa", 10),
            ["x", "aaaaaaaaaa", "aaaaaaaaaa", "aaaaa"]
        );
        assert_eq!(word_wrap("", 10), [""]);
    }

    #[test]
    fn a_hanging_indent_keeps_the_head_column_clear() {
        let bold = Style::default().add_modifier(ratatui::style::Modifier::BOLD);
        let rows = hanging(
            vec![Span::raw("Key   ")],
            &[("aaaa bbbb", Style::default()), ("Enabled", bold)],
            16,
        );
        let text: Vec<String> = rows.iter().map(|l| l.to_string()).collect();
        assert_eq!(text, ["Key   aaaa bbbb", "      Enabled"]);
        assert_eq!(rows[1].spans.last().unwrap().style, bold, "each word keeps its style");
    }
}
