//! Text wrapped at word boundaries as ratatui's `Paragraph` with `Wrap` wraps it, for
//! what a screen or a form lays out itself (indented, scrolled, under a hanging label).

use ratatui::style::Style;
use ratatui::text::{Line, Span};

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
