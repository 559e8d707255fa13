//! Serial numbers from a pattern: `SIM{n:06}` gives `SIM000000`, `SIM000001`, ...
//!
//! Owns [`SerialPattern`]. The placeholder is `{n}` (decimal) or `{n:0W}` (zero-padded to W
//! digits); text around it is kept. A pattern without a placeholder gets the number appended.
//! Several simulator processes share one fleet by giving each its own `--first` offset.
//!
//! Must not touch: anything else.

use std::fmt;
use std::str::FromStr;

/// A serial-number pattern (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SerialPattern {
    prefix: String,
    width: usize,
    suffix: String,
}

impl SerialPattern {
    /// The serial of device `n`.
    pub fn render(&self, n: u64) -> String {
        format!(
            "{}{:0width$}{}",
            self.prefix,
            n,
            self.suffix,
            width = self.width
        )
    }
}

impl Default for SerialPattern {
    fn default() -> Self {
        "SIM{n:08}".parse().unwrap_or(SerialPattern {
            prefix: "SIM".into(),
            width: 8,
            suffix: String::new(),
        })
    }
}

impl FromStr for SerialPattern {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("bad serial pattern {s:?}: use text with {{n}} or {{n:0W}}");
        let (prefix, width, suffix) = match s.find('{') {
            None => (s.to_owned(), 0, String::new()),
            Some(open) => {
                let close = s[open..].find('}').ok_or_else(bad)? + open;
                let inner = &s[open + 1..close];
                let width = match inner {
                    "n" => 0,
                    _ => inner
                        .strip_prefix("n:0")
                        .and_then(|w| w.parse::<usize>().ok())
                        .filter(|w| *w <= 20)
                        .ok_or_else(bad)?,
                };
                (s[..open].to_owned(), width, s[close + 1..].to_owned())
            }
        };
        let ok = |t: &str| {
            t.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        };
        if !ok(&prefix) || !ok(&suffix) || prefix.len() + suffix.len() + width > 64 {
            return Err(bad());
        }
        Ok(SerialPattern {
            prefix,
            width,
            suffix,
        })
    }
}

impl fmt::Display for SerialPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.width == 0 {
            write!(f, "{}{{n}}{}", self.prefix, self.suffix)
        } else {
            write!(f, "{}{{n:0{}}}{}", self.prefix, self.width, self.suffix)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_render_and_round_trip() {
        let p: SerialPattern = "SIM{n:06}X".parse().unwrap();
        assert_eq!(p.render(42), "SIM000042X");
        assert_eq!(p.to_string(), "SIM{n:06}X");
        let q: SerialPattern = "dev-{n}".parse().unwrap();
        assert_eq!(q.render(7), "dev-7");
        let r: SerialPattern = "AB".parse().unwrap();
        assert_eq!(r.render(3), "AB3");
        assert!("x{m}".parse::<SerialPattern>().is_err());
        assert!("a b{n}".parse::<SerialPattern>().is_err());
        assert_eq!(SerialPattern::default().render(1), "SIM00000001");
    }
}
