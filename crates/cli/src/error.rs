//! The five Comware parse errors and their caret rendering.
//!
//! Owns: [`ParseError`] (what went wrong and at which column) and the text a Comware device
//! prints for it. Must not touch: deciding which error applies (that is the private `tree` module).

/// Which of Comware's command-line errors occurred.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A word is a prefix of more than one keyword possible at that point.
    Ambiguous,
    /// A word matches nothing possible at that point.
    Unrecognized,
    /// The line ended before the command was complete.
    Incomplete,
    /// The command was complete and takes nothing more.
    TooManyParameters,
    /// A value is out of range, too long or too short, or has the wrong form.
    WrongParameter,
}

impl ErrorKind {
    /// The `%` line exactly as Comware words it.
    pub fn message(self) -> &'static str {
        match self {
            Self::Ambiguous => "% Ambiguous command found at '^' position.",
            Self::Unrecognized => "% Unrecognized command found at '^' position.",
            Self::Incomplete => "% Incomplete command found at '^' position.",
            Self::TooManyParameters => "% Too many parameters found at '^' position.",
            Self::WrongParameter => "% Wrong parameter found at '^' position.",
        }
    }
}

/// A rejected command line: the kind of error and the column (in characters, from 0) of the
/// word the caret points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[error("{}", kind.message())]
pub struct ParseError {
    /// What went wrong.
    pub kind: ErrorKind,
    /// Character column of the offending word in the input line; for
    /// [`ErrorKind::Incomplete`], the column just after the last word plus one space.
    pub column: usize,
}

impl ParseError {
    pub(crate) fn new(kind: ErrorKind, column: usize) -> Self {
        Self { kind, column }
    }

    /// The three lines a Comware device prints, each ending in `\n`: the input line, a caret
    /// under the offending word, and the `%` message (indented by one space, as on Comware).
    pub fn render(&self, line: &str) -> String {
        self.render_after_prompt("", line)
    }

    /// As [`ParseError::render`], with the prompt echoed before the line and the caret shifted
    /// by the prompt's width, so the caret lines up on a terminal that shows
    /// `<Sysname>display cwmp foo`.
    pub fn render_after_prompt(&self, prompt: &str, line: &str) -> String {
        let pad = prompt.chars().count() + self.column;
        format!(
            "{prompt}{line}\n{:pad$}^\n {}\n",
            "",
            self.kind.message(),
            pad = pad
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_caret_under_column() {
        let e = ParseError::new(ErrorKind::Unrecognized, 4);
        assert_eq!(
            e.render("dis xyz"),
            "dis xyz\n    ^\n % Unrecognized command found at '^' position.\n"
        );
        assert_eq!(
            e.render_after_prompt("<D>", "dis xyz"),
            "<D>dis xyz\n       ^\n % Unrecognized command found at '^' position.\n"
        );
        assert_eq!(e.to_string(), ErrorKind::Unrecognized.message());
    }
}
