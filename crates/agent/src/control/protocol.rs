//! The control socket's line protocol, both directions.
//!
//! Owns the framing shared by the agent (`server.rs`) and `tether cli` (`client.rs`). Text is
//! UTF-8; every line ends in `\n` (a `\r` before it is ignored); a line is at most
//! [`MAX_REQUEST_LINE`] bytes from the client and [`MAX_REPLY_LINE`] bytes from the agent.
//!
//! ```text
//! client                                 agent
//!                                        ok <Tether>             greeting: the first prompt
//! exec display cwmp configuration
//!                                        | CWMP state          : Disabled
//!                                        | ...
//!                                        ok <Tether>
//! exec dis foo
//!                                        | <Tether>dis foo
//!                                        |     ^
//!                                        |  % Unrecognized command found at '^' position.
//!                                        error <Tether>
//! complete dis cw
//!                                        | dis cwmp
//!                                        ok <Tether>
//! exec quit
//!                                        bye
//! ```
//!
//! Requests, one line each: `exec LINE` runs `LINE` in the connection's CLI session (its own
//! view, like a Comware terminal line); `complete LINE` asks for Tab candidates (whole lines).
//!
//! A reply is any number of data lines (`| TEXT`, or a bare `|` for an empty line: the output
//! is the TEXTs, each followed by `\n`) and one end line: `ok PROMPT` (done; `PROMPT` is the
//! prompt for the next line), `error PROMPT` (the line was rejected or failed; the data lines
//! say why, in Comware's words), or `bye` (the session ended; the agent closes the connection).
//! The agent greets each connection with a reply before any request: `ok PROMPT`, or
//! `error` with a reason followed by `bye` when it cannot serve it (too many sessions). A
//! request the agent does not understand gets an `error` reply; an over-long one, `bye`.
//!
//! Must not touch: sockets, what a command does.

/// Longest request line, in bytes, without the newline.
pub const MAX_REQUEST_LINE: usize = 4096;
/// Longest reply line, in bytes, without the newline.
pub const MAX_REPLY_LINE: usize = 64 * 1024;

/// A request from the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request<'a> {
    /// Run a command line.
    Exec(&'a str),
    /// Tab completion for a partial line.
    Complete(&'a str),
}

impl<'a> Request<'a> {
    /// Parses a request line (without its newline).
    pub fn parse(line: &'a str) -> Option<Request<'a>> {
        let line = line.strip_suffix('\r').unwrap_or(line);
        match line.split_once(' ') {
            Some(("exec", rest)) => Some(Request::Exec(rest)),
            Some(("complete", rest)) => Some(Request::Complete(rest)),
            None if line == "exec" => Some(Request::Exec("")),
            None if line == "complete" => Some(Request::Complete("")),
            _ => None,
        }
    }

    /// The request line, newline included. `None` if the argument holds a line break.
    pub fn encode(&self) -> Option<String> {
        let (verb, arg) = match self {
            Request::Exec(a) => ("exec", a),
            Request::Complete(a) => ("complete", a),
        };
        if arg.contains(['\n', '\r']) {
            return None;
        }
        Some(format!("{verb} {arg}\n"))
    }
}

/// How a reply ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// Done; the prompt for the next line.
    Ok(String),
    /// Rejected or failed; the prompt for the next line.
    Error(String),
    /// The session is over.
    Bye,
}

impl End {
    /// The end line, newline included.
    pub fn encode(&self) -> String {
        match self {
            End::Ok(prompt) => format!("ok {prompt}\n"),
            End::Error(prompt) => format!("error {prompt}\n"),
            End::Bye => "bye\n".to_owned(),
        }
    }
}

/// One line of a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyLine {
    /// Output text (one line, no newline).
    Data(String),
    /// The end of the reply.
    End(End),
}

impl ReplyLine {
    /// Parses a reply line (without its newline).
    pub fn parse(line: &str) -> Option<ReplyLine> {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line == "|" {
            return Some(ReplyLine::Data(String::new()));
        }
        if let Some(text) = line.strip_prefix("| ") {
            return Some(ReplyLine::Data(text.to_owned()));
        }
        if line == "bye" {
            return Some(ReplyLine::End(End::Bye));
        }
        match line.split_once(' ') {
            Some(("ok", prompt)) => Some(ReplyLine::End(End::Ok(prompt.to_owned()))),
            Some(("error", prompt)) => Some(ReplyLine::End(End::Error(prompt.to_owned()))),
            None if line == "ok" => Some(ReplyLine::End(End::Ok(String::new()))),
            None if line == "error" => Some(ReplyLine::End(End::Error(String::new()))),
            _ => None,
        }
    }
}

/// A whole reply: `output` as data lines (a final newline is implied), then `end`.
pub fn encode_reply(output: &str, end: &End) -> String {
    let mut text = String::with_capacity(output.len() + 32);
    for line in output.lines() {
        if line.is_empty() {
            text.push_str("|\n");
        } else {
            text.push_str("| ");
            text.push_str(line);
            text.push('\n');
        }
    }
    text.push_str(&end.encode());
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_round_trips_including_empty_lines() {
        let output = "a\n\n  b c\n";
        let encoded = encode_reply(output, &End::Error("<T>".into()));
        let mut got = String::new();
        let mut end = None;
        for line in encoded.lines() {
            match ReplyLine::parse(line).unwrap() {
                ReplyLine::Data(t) => {
                    got.push_str(&t);
                    got.push('\n');
                }
                ReplyLine::End(e) => end = Some(e),
            }
        }
        assert_eq!(got, output);
        assert_eq!(end, Some(End::Error("<T>".into())));
    }

    #[test]
    fn requests_parse_and_refuse_line_breaks() {
        assert_eq!(
            Request::parse("exec dis cw st"),
            Some(Request::Exec("dis cw st"))
        );
        assert_eq!(Request::parse("complete "), Some(Request::Complete("")));
        assert_eq!(Request::parse("exec"), Some(Request::Exec("")));
        assert_eq!(Request::parse("run x"), None);
        assert_eq!(Request::Exec("a\nb").encode(), None);
        assert_eq!(
            Request::Complete("dis ").encode().as_deref(),
            Some("complete dis \n")
        );
    }
}
