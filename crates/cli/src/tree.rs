//! The command-tree engine: nodes, typed arguments, prefix matching, `?` help and completion.
//!
//! Owns: how a list of words is matched against a tree of keywords and arguments, which of the
//! five Comware errors a mismatch is, and what `?` and Tab offer at a point. Must not touch: the
//! commands themselves (see [`crate::grammar`]), views or prompts (see [`crate::session`]).
//!
//! Matching one word at a node, in order:
//! 1. the node takes nothing more → *Too many parameters*;
//! 2. an unquoted word that is a case-insensitive prefix of keyword children: an exact match
//!    wins, a single match is taken, several are *Ambiguous*;
//! 3. otherwise the argument children are tried in order: an argument whose lexical class does
//!    not fit the word (letters where an integer goes) passes, one that fits but fails its
//!    range, length or pattern is *Wrong parameter*;
//! 4. nothing fits → *Unrecognized*.
//!
//! At the end of the words, a node that cannot run is *Incomplete*.

use std::net::Ipv4Addr;

use crate::command::{Command, Interface};
use crate::datetime::DateTime;
use crate::error::{ErrorKind, ParseError};
use crate::lexer::Word;
use crate::password::{CIPHER_MAX_LEN, CIPHER_MIN_LEN, Password};
use crate::value;

/// What a tree node matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Token {
    /// A keyword, matched case-insensitively by any unambiguous prefix.
    Keyword(&'static str),
    /// A typed argument.
    Arg(ArgKind),
}

/// The typed arguments of the command language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ArgKind {
    /// Decimal integer in a range.
    Int { min: u64, max: u64 },
    /// `http://` or `https://` URL of 8-255 characters.
    Url,
    /// Printable ASCII text, length in a range (user names and the like).
    Text { min: usize, max: usize },
    /// A `simple` password: encrypted on the spot.
    SimplePassword,
    /// A `cipher` password: must decrypt under the device key.
    CipherPassword,
    /// `yyyy-mm-ddThh:mm:ss` within the inform-time range.
    InformTime,
    /// 1-64 characters of upper-case letters, digits and `.`.
    ProvisionCode,
    /// A domain name (1-253 characters of letters, digits, `-`, `_` and `.`).
    Domain,
    /// A host name for `ip host`: as [`ArgKind::Domain`], with at least one letter.
    HostName,
    /// A dotted-quad IPv4 address.
    Ipv4,
    /// An interface number such as `1`, `1/0/1` or `1/0/1.10`.
    InterfaceNumber,
    /// A type and number written as one word, `GigabitEthernet1/0/1` or `g1/0/1`.
    InterfaceName,
}

impl ArgKind {
    /// The syntax word Comware shows for the argument in `?` help.
    pub(crate) fn syntax(self) -> String {
        match self {
            Self::Int { min, max } => format!("INTEGER<{min}-{max}>"),
            Self::Url => "STRING<8-255>".into(),
            Self::Text { min, max } => format!("STRING<{min}-{max}>"),
            Self::SimplePassword => "STRING<1-255>".into(),
            Self::CipherPassword => format!("STRING<{CIPHER_MIN_LEN}-{CIPHER_MAX_LEN}>"),
            Self::InformTime => "TIME".into(),
            Self::ProvisionCode => "STRING<1-64>".into(),
            Self::Domain | Self::HostName => "STRING<1-253>".into(),
            Self::Ipv4 => "X.X.X.X".into(),
            Self::InterfaceNumber => "STRING<1-32>".into(),
            Self::InterfaceName => "INTERFACE".into(),
        }
    }

    /// Checks one word. `Ok(None)`: not this argument's lexical class (try something else).
    fn check(self, word: &str, key: &[u8]) -> Result<Option<Value>, ErrorKind> {
        let wrong = Err(ErrorKind::WrongParameter);
        match self {
            Self::Int { min, max } => {
                if word.is_empty() || !word.bytes().all(|b| b.is_ascii_digit()) {
                    return Ok(None);
                }
                match word.parse::<u64>() {
                    Ok(n) if (min..=max).contains(&n) => Ok(Some(Value::Int(n))),
                    _ => wrong,
                }
            }
            Self::Ipv4 => {
                if word.is_empty() || !word.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
                    return Ok(None);
                }
                match word.parse::<Ipv4Addr>() {
                    Ok(ip) => Ok(Some(Value::Ip(ip))),
                    Err(_) => wrong,
                }
            }
            Self::Url if value::is_acs_url(word) => Ok(Some(Value::Str(word.into()))),
            Self::Text { min, max } if value::is_text(word, min, max) => {
                Ok(Some(Value::Str(word.into())))
            }
            Self::SimplePassword => match Password::from_simple(word, key) {
                Ok(p) => Ok(Some(Value::Password(p))),
                Err(_) => wrong,
            },
            Self::CipherPassword => match Password::from_cipher(word, key) {
                Ok(p) => Ok(Some(Value::Password(p))),
                Err(_) => wrong,
            },
            Self::InformTime => match DateTime::parse_inform_time(word) {
                Some(t) => Ok(Some(Value::Time(t))),
                None => wrong,
            },
            Self::ProvisionCode if value::is_provision_code(word) => {
                Ok(Some(Value::Str(word.into())))
            }
            Self::Domain if value::is_domain(word) => Ok(Some(Value::Str(word.into()))),
            Self::HostName if value::is_host_name(word) => Ok(Some(Value::Str(word.into()))),
            Self::InterfaceNumber if value::is_interface_number(word) => {
                Ok(Some(Value::Str(word.into())))
            }
            Self::InterfaceName => {
                let Some(split) = word.find(|c: char| c.is_ascii_digit()) else {
                    return Ok(None);
                };
                let (typed, number) = word.split_at(split);
                if typed.is_empty() || !typed.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-')
                {
                    return Ok(None);
                }
                let typed = typed.to_ascii_lowercase();
                let kinds: Vec<&'static str> = crate::grammar::INTERFACE_TYPES
                    .iter()
                    .copied()
                    .filter(|k| k.to_ascii_lowercase().starts_with(&typed))
                    .collect();
                let exact = kinds.iter().find(|k| k.eq_ignore_ascii_case(&typed));
                let kind = match (exact, kinds.as_slice()) {
                    (Some(k), _) | (None, [k]) => *k,
                    (None, []) => return Ok(None),
                    (None, _) => return Err(ErrorKind::Ambiguous),
                };
                if !value::is_interface_number(number) {
                    return wrong;
                }
                Ok(Some(Value::Interface(Interface {
                    kind,
                    number: number.into(),
                })))
            }
            _ => wrong,
        }
    }
}

/// A value captured while walking the tree, in input order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    Keyword(&'static str),
    Str(String),
    Int(u64),
    Ip(Ipv4Addr),
    Time(DateTime),
    Password(Password),
    Interface(Interface),
}

/// Everything a line matched, handed to a node's builder.
#[derive(Debug, Default)]
pub(crate) struct Captures(Vec<Value>);

impl Captures {
    /// Whether the keyword was matched.
    pub(crate) fn has(&self, keyword: &str) -> bool {
        self.0
            .iter()
            .any(|v| matches!(v, Value::Keyword(k) if *k == keyword))
    }
    /// The `n`th string value.
    pub(crate) fn string(&self, n: usize) -> Option<String> {
        self.0
            .iter()
            .filter_map(|v| match v {
                Value::Str(s) => Some(s.clone()),
                _ => None,
            })
            .nth(n)
    }
    /// The first integer value, converted.
    pub(crate) fn int<T: TryFrom<u64>>(&self) -> Option<T> {
        self.0.iter().find_map(|v| match v {
            Value::Int(n) => T::try_from(*n).ok(),
            _ => None,
        })
    }
    pub(crate) fn ip(&self) -> Option<Ipv4Addr> {
        self.0.iter().find_map(|v| match v {
            Value::Ip(ip) => Some(*ip),
            _ => None,
        })
    }
    pub(crate) fn time(&self) -> Option<DateTime> {
        self.0.iter().find_map(|v| match v {
            Value::Time(t) => Some(*t),
            _ => None,
        })
    }
    pub(crate) fn password(&self) -> Option<Password> {
        self.0.iter().find_map(|v| match v {
            Value::Password(p) => Some(p.clone()),
            _ => None,
        })
    }
    pub(crate) fn interface(&self) -> Option<Interface> {
        self.0.iter().find_map(|v| match v {
            Value::Interface(i) => Some(i.clone()),
            _ => None,
        })
    }
    /// The keyword matched right after `keyword` (e.g. the interface type after `interface`).
    pub(crate) fn keyword_after(&self, keyword: &str) -> Option<&'static str> {
        let at = self
            .0
            .iter()
            .position(|v| matches!(v, Value::Keyword(k) if *k == keyword))?;
        match self.0.get(at + 1) {
            Some(Value::Keyword(k)) => Some(k),
            _ => None,
        }
    }
}

/// Turns what a line matched into a command; `None` only if the grammar is inconsistent.
pub(crate) type Build = fn(&Captures) -> Option<Command>;

/// One node of a view's command tree.
#[derive(Debug)]
pub(crate) struct Node {
    pub token: Token,
    pub help: &'static str,
    pub children: Vec<Node>,
    pub build: Option<Build>,
}

pub(crate) fn kw(name: &'static str, help: &'static str) -> Node {
    Node {
        token: Token::Keyword(name),
        help,
        children: Vec::new(),
        build: None,
    }
}

pub(crate) fn arg(kind: ArgKind, help: &'static str) -> Node {
    Node {
        token: Token::Arg(kind),
        help,
        children: Vec::new(),
        build: None,
    }
}

impl Node {
    /// Adds children.
    pub(crate) fn sub(mut self, children: impl IntoIterator<Item = Node>) -> Self {
        self.children.extend(children);
        self
    }
    /// Makes the node runnable.
    pub(crate) fn run(mut self, build: Build) -> Self {
        self.build = Some(build);
        self
    }

    fn select(&self, word: &Word, key: &[u8]) -> Result<(&Node, Value), ErrorKind> {
        if self.children.is_empty() {
            return Err(ErrorKind::TooManyParameters);
        }
        if !word.quoted {
            let typed = word.text.to_ascii_lowercase();
            let mut found: Vec<(&Node, &'static str)> = Vec::new();
            for child in &self.children {
                if let Token::Keyword(name) = child.token {
                    let lower = name.to_ascii_lowercase();
                    if lower == typed {
                        return Ok((child, Value::Keyword(name)));
                    }
                    if !typed.is_empty() && lower.starts_with(&typed) {
                        found.push((child, name));
                    }
                }
            }
            match found.as_slice() {
                [(child, name)] => return Ok((child, Value::Keyword(name))),
                [] => {}
                _ => return Err(ErrorKind::Ambiguous),
            }
        }
        for child in &self.children {
            if let Token::Arg(kind) = child.token
                && let Some(value) = kind.check(&word.text, key)?
            {
                return Ok((child, value));
            }
        }
        Err(ErrorKind::Unrecognized)
    }

    /// Follows `words` from this node.
    fn walk(&self, words: &[Word], key: &[u8]) -> Result<(&Node, Captures), ParseError> {
        let mut node = self;
        let mut captures = Captures::default();
        for word in words {
            let (next, value) = node
                .select(word, key)
                .map_err(|kind| ParseError::new(kind, word.column))?;
            captures.0.push(value);
            node = next;
        }
        Ok((node, captures))
    }

    /// Parses a whole line (already split) into a command.
    pub(crate) fn parse(&self, words: &[Word], key: &[u8]) -> Result<Command, ParseError> {
        let (node, captures) = self.walk(words, key)?;
        let incomplete = || {
            let column = words.last().map_or(0, |w| w.end + 1);
            ParseError::new(ErrorKind::Incomplete, column)
        };
        node.build.ok_or_else(incomplete)?(&captures).ok_or_else(incomplete)
    }

    /// `?` help: `partial` is `None` for "what may come next" (the line ends in a space before
    /// the `?`), or the last, partial word for "which keywords complete it".
    pub(crate) fn help(
        &self,
        words: &[Word],
        partial: Option<&Word>,
        key: &[u8],
    ) -> Result<Vec<(String, &'static str)>, ParseError> {
        let (node, _) = self.walk(words, key)?;
        let Some(partial) = partial else {
            let mut args: Vec<(String, &'static str)> = Vec::new();
            let mut keywords: Vec<(String, &'static str)> = Vec::new();
            for child in &node.children {
                match child.token {
                    Token::Arg(kind) => args.push((kind.syntax(), child.help)),
                    Token::Keyword(name) => keywords.push((name.to_string(), child.help)),
                }
            }
            keywords.sort_by_key(|(name, _)| name.to_ascii_lowercase());
            args.extend(keywords);
            if node.build.is_some() {
                args.push(("<cr>".into(), ""));
            }
            return Ok(args);
        };
        let completions = node.keywords_starting(&partial.text);
        if !completions.is_empty() {
            return Ok(completions
                .into_iter()
                .map(|k| (k.to_string(), ""))
                .collect());
        }
        // No keyword fits: show the argument the partial word would be, if any takes it.
        for child in &node.children {
            if let Token::Arg(kind) = child.token
                && kind.check(&partial.text, key) != Ok(None)
            {
                return Ok(vec![(kind.syntax(), child.help)]);
            }
        }
        let kind = if node.children.is_empty() {
            ErrorKind::TooManyParameters
        } else {
            ErrorKind::Unrecognized
        };
        Err(ParseError::new(kind, partial.column))
    }

    /// Keyword children whose names start with `prefix` (case-insensitive), sorted.
    pub(crate) fn keywords_starting(&self, prefix: &str) -> Vec<&'static str> {
        let prefix = prefix.to_ascii_lowercase();
        let mut out: Vec<&'static str> = self
            .children
            .iter()
            .filter_map(|c| match c.token {
                Token::Keyword(name) if name.to_ascii_lowercase().starts_with(&prefix) => {
                    Some(name)
                }
                _ => None,
            })
            .collect();
        out.sort_by_key(|name| name.to_ascii_lowercase());
        out
    }

    /// The node reached by `words`, if they all match.
    pub(crate) fn reach(&self, words: &[Word], key: &[u8]) -> Option<&Node> {
        self.walk(words, key).ok().map(|(node, _)| node)
    }
}

/// Lays out help lines as Comware does: two spaces, the keyword or argument syntax padded to a
/// common column, two spaces, the description.
pub(crate) fn format_help(items: &[(String, &'static str)]) -> String {
    let width = items
        .iter()
        .filter(|(_, help)| !help.is_empty())
        .map(|(name, _)| name.len())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for (name, help) in items {
        if help.is_empty() {
            out.push_str(&format!("  {name}\n"));
        } else {
            out.push_str(&format!("  {name:<width$}  {help}\n"));
        }
    }
    out
}
