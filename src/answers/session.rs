//! The answers file read (every unknown key reported at once) and written, and the
//! wizard's session kept in the state folder so that a Ctrl-C loses no answer.

use std::path::Path;

use super::{Answers, AnswersError};

/// The file in the state folder that keeps the session's answers.
pub const SESSION_FILE: &str = "wizard-answers.toml";

impl Answers {
    /// Reads and validates an answers file.
    pub fn load(path: &Path) -> Result<Answers, AnswersError> {
        let text = std::fs::read_to_string(path).map_err(|source| AnswersError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let answers = Answers::parse(&text).map_err(|message| AnswersError::Parse {
            path: path.to_path_buf(),
            message,
        })?;
        answers.check()?;
        Ok(answers)
    }

    /// The answers in `text`. Every unknown key is reported at once (a typo each, with
    /// the keys its section knows), as the other problems are by [`Answers::validate`].
    pub fn parse(text: &str) -> Result<Answers, String> {
        let mut error = match toml::from_str(text) {
            Ok(answers) => return Ok(answers),
            Err(e) => e,
        };
        let unknown = |e: &toml::de::Error| e.message().starts_with("unknown field");
        if !unknown(&error) {
            return Err(error.to_string().trim_end().to_string());
        }
        // Each unknown key found is blanked out (with spaces, so that every later span
        // and line number is the file's own) and the text read again.
        let mut text = text.to_string();
        let mut found = Vec::new();
        while let Some(span) = error.span().filter(|_| unknown(&error) && found.len() < 100) {
            let line = text[..span.start].matches('\n').count() + 1;
            found.push(format!("line {line}: {}", error.message()));
            blank_entry(&mut text, span.start);
            match toml::from_str::<Answers>(&text) {
                Ok(_) => break,
                Err(e) if unknown(&e) => error = e,
                Err(e) => {
                    found.push(e.to_string().trim_end().to_string());
                    break;
                }
            }
        }
        Err(format!(
            "{} unknown key(s) (docs/answers.md lists every key):\n  {}",
            found.iter().filter(|f| f.contains("unknown field")).count(),
            found.join("\n  ")
        ))
    }

    /// The answers as a TOML document (what the wizard saves for a later `apply`).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("answers always serialise")
    }

    /// Saves the session's answers given so far (no secrets are among them) in the state
    /// folder, so that nothing typed is lost: both front ends call it at every step.
    pub fn save_session(&self, state_dir: &Path) {
        let opts = crate::files::WriteOptions {
            mode: 0o600,
            owner: None,
            existing: crate::files::Existing::Replace,
        };
        let path = state_dir.join(SESSION_FILE);
        if let Err(e) = crate::files::write_atomic(&path, self.to_toml().as_bytes(), opts) {
            tracing::warn!("cannot save the session's answers: {e}");
        }
    }

    /// The last session's answers, if any were saved and still read.
    pub fn last_session(state_dir: &Path) -> Option<Answers> {
        let text = std::fs::read_to_string(state_dir.join(SESSION_FILE)).ok()?;
        Answers::parse(&text).ok()
    }
}

/// Replaces the entry whose key starts at `at` with spaces: its line, or for a table
/// header (`[unknown]`) the table down to the next header, so that its keys are not
/// taken for keys of the table above.
fn blank_entry(text: &mut String, at: usize) {
    let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let line_end = |from: usize| text[from..].find('\n').map_or(text.len(), |i| from + i);
    let mut end = line_end(start);
    if text[start..end].trim_start().starts_with('[') {
        while end < text.len() && !text[end + 1..].trim_start().starts_with('[') {
            end = line_end(end + 1);
        }
    }
    let blanked: String = text[start..end]
        .chars()
        .map(|c| if c == '\n' { c } else { ' ' })
        .collect();
    text.replace_range(start..end, &blanked);
}
