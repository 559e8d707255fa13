//! One CLI session: the current view, the prompt, and what a line does.
//!
//! Owns: view navigation (`system-view`, `cwmp`, `quit`, `return`), prompts, dispatching a line
//! to the current view's tree, `?` help and Tab completion. Must not touch: the terminal, the
//! socket or the configuration; the agent applies the [`Command`]s this hands back.

use std::fmt;

use crate::command::{Command, CwmpModel};
use crate::error::{ErrorKind, ParseError};
use crate::grammar;
use crate::lexer;
use crate::tree::format_help;

/// The command views of the CLI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum View {
    /// `<Sysname>`: where a session starts.
    User,
    /// `[Sysname]`: `system-view`.
    System,
    /// `[Sysname-cwmp]`: `cwmp` or `cwmp 181-model` from system view.
    Cwmp(CwmpModel),
}

impl View {
    /// The prompt text for this view, e.g. `<Device>`, `[Device]` or `[Device-cwmp]`.
    /// Both data models show `-cwmp` (the sources do not name a different prompt for V9's
    /// `181-model`).
    pub fn prompt(self, sysname: &str) -> String {
        match self {
            Self::User => format!("<{sysname}>"),
            Self::System => format!("[{sysname}]"),
            Self::Cwmp(_) => format!("[{sysname}-cwmp]"),
        }
    }
}

/// What one input line came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A blank line: print a new prompt.
    Nothing,
    /// The session moved to another view (already done); print the new prompt.
    ViewChanged(View),
    /// `quit` in user view: close the CLI session.
    Exit,
    /// A command for the agent to carry out: apply configuration, run an action or render a
    /// display (for `display this`, with [`Session::view`]).
    Run(Command),
    /// Text to print as is (the answer to `?`), each line ending in `\n`.
    Help(String),
    /// The line was rejected; [`Session::render_error`] gives the Comware text.
    Error(ParseError),
}

/// The state of one CLI session. Holds the device key so `simple` passwords are encrypted and
/// `cipher` ones verified while parsing.
#[derive(Clone)]
pub struct Session {
    sysname: String,
    view: View,
    key: Vec<u8>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("sysname", &self.sysname)
            .field("view", &self.view)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// A session in user view. `key` is the device's password key (see [`crate::password`]).
    pub fn new(sysname: impl Into<String>, key: impl Into<Vec<u8>>) -> Self {
        Self {
            sysname: sysname.into(),
            view: View::User,
            key: key.into(),
        }
    }

    /// The current view.
    pub fn view(&self) -> View {
        self.view
    }

    /// Moves to a view directly (for the agent replaying configuration, and for tests).
    pub fn set_view(&mut self, view: View) {
        self.view = view;
    }

    /// The device name shown in prompts.
    pub fn sysname(&self) -> &str {
        &self.sysname
    }

    /// Changes the device name shown in prompts.
    pub fn set_sysname(&mut self, sysname: impl Into<String>) {
        self.sysname = sysname.into();
    }

    /// The prompt for the current view, without a trailing space (as on Comware).
    pub fn prompt(&self) -> String {
        self.view.prompt(&self.sysname)
    }

    /// Parses a line in the current view without acting on it (no view change). `?` lines are
    /// not commands: use [`Session::execute`] or [`Session::help`] for those.
    pub fn parse(&self, line: &str) -> Result<Command, ParseError> {
        let split =
            lexer::split(line).map_err(|q| ParseError::new(ErrorKind::Unrecognized, q.0))?;
        if split.help {
            return Err(ParseError::new(
                ErrorKind::Unrecognized,
                line.trim_end().chars().count().saturating_sub(1),
            ));
        }
        grammar::root(self.view).parse(&split.words, &self.key)
    }

    /// Handles one input line: help, navigation, or a command for the agent.
    pub fn execute(&mut self, line: &str) -> Outcome {
        let split = match lexer::split(line) {
            Ok(split) => split,
            Err(q) => return Outcome::Error(ParseError::new(ErrorKind::Unrecognized, q.0)),
        };
        if split.help {
            return match self.help(line) {
                Ok(text) => Outcome::Help(text),
                Err(e) => Outcome::Error(e),
            };
        }
        if split.words.is_empty() {
            return Outcome::Nothing;
        }
        match grammar::root(self.view).parse(&split.words, &self.key) {
            Ok(command) => self.navigate(command),
            Err(e) => Outcome::Error(e),
        }
    }

    fn navigate(&mut self, command: Command) -> Outcome {
        let next = match (&command, self.view) {
            (Command::SystemView, _) => View::System,
            (Command::EnterCwmp(model), _) => View::Cwmp(*model),
            (Command::Return, _) => View::User,
            (Command::Quit, View::User) => return Outcome::Exit,
            (Command::Quit, View::System) => View::User,
            (Command::Quit, View::Cwmp(_)) => View::System,
            _ => return Outcome::Run(command),
        };
        self.view = next;
        Outcome::ViewChanged(next)
    }

    /// The answer to a line ending in `?`: `dis ?` lists what may follow `display` with a
    /// description each (and `<cr>` when the line could run as it stands); `dis cw?` lists the
    /// keywords that complete `cw`.
    pub fn help(&self, line: &str) -> Result<String, ParseError> {
        let split = lexer::split(line.trim_end_matches('?'))
            .map_err(|q| ParseError::new(ErrorKind::Unrecognized, q.0))?;
        let trailing_space = line
            .trim_end_matches('?')
            .chars()
            .last()
            .is_none_or(char::is_whitespace);
        let root = grammar::root(self.view);
        let items = match (trailing_space, split.words.split_last()) {
            (false, Some((partial, before))) => root.help(before, Some(partial), &self.key)?,
            _ => root.help(&split.words, None, &self.key)?,
        };
        Ok(format_help(&items))
    }

    /// Tab completion: each candidate is the whole line with its last (partial) word completed
    /// to a keyword; after a trailing space, every keyword that may come next. Arguments are
    /// never guessed. Empty when nothing fits.
    pub fn complete(&self, line: &str) -> Vec<String> {
        let Ok(split) = lexer::split(line) else {
            return Vec::new();
        };
        if split.help {
            return Vec::new();
        }
        let chars: Vec<char> = line.chars().collect();
        let (before, partial, start) = match (split.trailing_space, split.words.split_last()) {
            (false, Some((last, before))) if !last.quoted => {
                (before, last.text.as_str(), last.column)
            }
            (false, Some(_)) => return Vec::new(),
            _ => (split.words.as_slice(), "", chars.len()),
        };
        let Some(node) = grammar::root(self.view).reach(before, &self.key) else {
            return Vec::new();
        };
        let head: String = chars[..start].iter().collect();
        node.keywords_starting(partial)
            .into_iter()
            .map(|k| format!("{head}{k}"))
            .collect()
    }

    /// The Comware text for an error on `line` typed at the current prompt: the prompt and
    /// line echoed, a caret under the offending word, and the `%` message.
    pub fn render_error(&self, line: &str, error: &ParseError) -> String {
        error.render_after_prompt(&self.prompt(), line)
    }
}
