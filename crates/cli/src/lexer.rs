//! Splitting a command line into words.
//!
//! Owns: word boundaries, character columns, double-quoted values and the trailing `?` that
//! asks for help. Must not touch: what the words mean.
//!
//! Rules: words are separated by spaces or tabs. A word that starts with `"` runs to the next
//! `"` and may hold spaces; the quotes are not part of the value and a quoted word never matches
//! a keyword. There is no escape character, so a value cannot hold `"` itself. A `?` is a help
//! request only as the very last character of the line; anywhere else it is an ordinary
//! character (`http://acs/x?a=b` is a fine URL).

/// One word of the input line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Word {
    /// The value, quotes removed.
    pub text: String,
    /// Character column where the word (or its opening quote) starts.
    pub column: usize,
    /// Character column just after the word (after its closing quote).
    pub end: usize,
    /// Whether the word was quoted.
    pub quoted: bool,
}

/// A split line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Line {
    pub words: Vec<Word>,
    /// The line ended in `?` (removed from `words`).
    pub help: bool,
    /// The character before the `?` (or the end of the line) was whitespace: the help or
    /// completion is for a new word rather than for the last, partial one.
    pub trailing_space: bool,
}

/// Failure to split: an opening quote with no closing one, at this column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UnclosedQuote(pub usize);

pub(crate) fn split(input: &str) -> Result<Line, UnclosedQuote> {
    let mut chars: Vec<char> = input.trim_end_matches(['\r', '\n']).chars().collect();
    let help = chars.last() == Some(&'?');
    if help {
        chars.pop();
    }
    let trailing_space = chars.last().is_none_or(|c| c.is_whitespace());
    let mut words = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        if chars[i] == '"' {
            let close = chars[i + 1..]
                .iter()
                .position(|c| *c == '"')
                .ok_or(UnclosedQuote(start))?;
            let end = i + 1 + close;
            words.push(Word {
                text: chars[i + 1..end].iter().collect(),
                column: start,
                end: end + 1,
                quoted: true,
            });
            i = end + 1;
        } else {
            while i < chars.len() && !chars[i].is_whitespace() {
                i += 1;
            }
            words.push(Word {
                text: chars[start..i].iter().collect(),
                column: start,
                end: i,
                quoted: false,
            });
        }
    }
    Ok(Line {
        words,
        help,
        trailing_space,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_columns_quotes_and_help() {
        let l = split("  dis  cw?").unwrap();
        assert!(l.help && !l.trailing_space);
        assert_eq!(l.words.len(), 2);
        assert_eq!((l.words[1].text.as_str(), l.words[1].column), ("cw", 7));

        let l = split("dis ?").unwrap();
        assert!(l.help && l.trailing_space);

        let l = split(r#"cwmp acs username "a b" x"#).unwrap();
        assert_eq!(l.words[3].text, "a b");
        assert!(l.words[3].quoted);
        assert_eq!((l.words[4].column, l.words[3].end), (24, 23));

        assert_eq!(split(r#"a "b c"#), Err(UnclosedQuote(2)));
        let l = split("url http://x/a?b=c d").unwrap();
        assert!(!l.help);
        assert_eq!(l.words[1].text, "http://x/a?b=c");
        assert!(split("").unwrap().trailing_space);
    }
}
