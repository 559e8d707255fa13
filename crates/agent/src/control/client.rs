//! The `tether cli` end of the control socket: one command, or an interactive Comware-style
//! terminal.
//!
//! Owns [`Client`] (blocking; `tether cli` needs no async runtime), [`run_one`] and
//! [`interactive`]. The terminal uses rustyline: line editing, in-memory history, Tab
//! completion answered by the agent's session, and `?` answered at once: typing `?` at the end
//! of the line submits it with the `?` (no Enter needed), prints the help, and puts the line
//! back for further typing, as on a Comware device. A `?` typed elsewhere in the line is an
//! ordinary character.
//!
//! Must not touch: what commands do (the agent decides).

use std::cell::RefCell;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rustyline::completion::Completer;
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::Validator;
use rustyline::{
    Cmd, ConditionalEventHandler, Context, Editor, Event, EventContext, EventHandler, Helper,
    KeyEvent, RepeatCount,
};

use crate::control::protocol::{End, MAX_REPLY_LINE, ReplyLine, Request};

/// The agent's answer to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The output text, each line ending in `\n`.
    pub output: String,
    /// How it ended.
    pub end: End,
}

impl Reply {
    /// `true` if the agent rejected the line.
    pub fn is_error(&self) -> bool {
        matches!(self.end, End::Error(_))
    }
}

/// A connection to the agent's control socket, with its own CLI session on the agent.
pub struct Client {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    prompt: String,
    closed: bool,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("prompt", &self.prompt)
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

fn protocol_error(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("control protocol: {what}"),
    )
}

impl Client {
    /// Connects and reads the agent's greeting. A refusal (too many sessions) is an error
    /// carrying the agent's message.
    pub fn connect(socket: &Path) -> io::Result<Client> {
        let writer = UnixStream::connect(socket)?;
        let reader = BufReader::new(writer.try_clone()?);
        let mut client = Client {
            reader,
            writer,
            prompt: String::new(),
            closed: false,
        };
        let greeting = client.read_reply()?;
        match greeting.end {
            End::Ok(_) => Ok(client),
            _ => Err(io::Error::new(
                io::ErrorKind::ConnectionRefused,
                greeting.output.trim().to_owned(),
            )),
        }
    }

    /// The prompt for the next line (`<Sysname>`, `[Sysname]`, `[Sysname-cwmp]`).
    pub fn prompt(&self) -> &str {
        &self.prompt
    }

    /// `true` once the agent has ended the session.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    fn read_reply(&mut self) -> io::Result<Reply> {
        let mut output = String::new();
        loop {
            let mut buf = Vec::new();
            let n = (&mut self.reader)
                .take(MAX_REPLY_LINE as u64 + 1)
                .read_until(b'\n', &mut buf)?;
            if n == 0 {
                self.closed = true;
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the agent closed the connection",
                ));
            }
            if buf.pop() != Some(b'\n') {
                return Err(protocol_error("reply line too long"));
            }
            let line = String::from_utf8(buf).map_err(|_| protocol_error("not UTF-8"))?;
            match ReplyLine::parse(&line).ok_or_else(|| protocol_error("bad reply line"))? {
                ReplyLine::Data(text) => {
                    output.push_str(&text);
                    output.push('\n');
                }
                ReplyLine::End(end) => {
                    match &end {
                        End::Ok(p) | End::Error(p) if !p.is_empty() => self.prompt = p.clone(),
                        End::Bye => self.closed = true,
                        _ => {}
                    }
                    return Ok(Reply { output, end });
                }
            }
        }
    }

    fn request(&mut self, request: Request<'_>) -> io::Result<Reply> {
        let text = request.encode().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "a command line cannot hold a line break",
            )
        })?;
        self.writer.write_all(text.as_bytes())?;
        self.read_reply()
    }

    /// Runs one command line in this connection's session.
    pub fn execute(&mut self, line: &str) -> io::Result<Reply> {
        self.request(Request::Exec(line))
    }

    /// Tab candidates for a partial line (whole lines).
    pub fn complete(&mut self, line: &str) -> io::Result<Vec<String>> {
        let reply = self.request(Request::Complete(line))?;
        Ok(reply.output.lines().map(str::to_owned).collect())
    }
}

/// Connects, runs `line` in user view and disconnects.
pub fn run_one(socket: &Path, line: &str) -> io::Result<Reply> {
    Client::connect(socket)?.execute(line)
}

/// Connects and runs `lines` in order in one session (so `system-view` carries over);
/// stops after the first rejected line or when the session ends. Returns the replies.
pub fn run_lines(socket: &Path, lines: &[&str]) -> io::Result<Vec<Reply>> {
    let mut client = Client::connect(socket)?;
    let mut replies = Vec::new();
    for line in lines {
        let reply = client.execute(line)?;
        let stop = reply.is_error() || reply.end == End::Bye;
        replies.push(reply);
        if stop {
            break;
        }
    }
    Ok(replies)
}

/// Submits the line when `?` is typed at its end.
struct HelpKey {
    pressed: Arc<AtomicBool>,
}

impl ConditionalEventHandler for HelpKey {
    fn handle(&self, _: &Event, _: RepeatCount, _: bool, ctx: &EventContext<'_>) -> Option<Cmd> {
        if ctx.pos() == ctx.line().len() {
            self.pressed.store(true, Ordering::SeqCst);
            Some(Cmd::AcceptLine)
        } else {
            None
        }
    }
}

/// rustyline helper: Tab completion from the agent.
struct CliHelper {
    client: Rc<RefCell<Client>>,
}

impl Completer for CliHelper {
    type Candidate = String;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<String>)> {
        let candidates = self
            .client
            .borrow_mut()
            .complete(&line[..pos])
            .unwrap_or_default();
        Ok((0, candidates))
    }
}

impl Hinter for CliHelper {
    type Hint = String;
}
impl Highlighter for CliHelper {}
impl Validator for CliHelper {}
impl Helper for CliHelper {}

/// The part of an error reply to show under a line the terminal already echoed: the agent's
/// text starts with the prompt and the line, which the terminal shows already.
fn without_echo<'a>(output: &'a str, prompt: &str, line: &str) -> &'a str {
    output
        .strip_prefix(prompt)
        .and_then(|rest| rest.strip_prefix(line))
        .and_then(|rest| rest.strip_prefix('\n'))
        .unwrap_or(output)
}

/// An interactive session on the terminal until `quit` from user view or end of input.
pub fn interactive(socket: &Path) -> io::Result<()> {
    let client = Rc::new(RefCell::new(Client::connect(socket)?));
    let pressed = Arc::new(AtomicBool::new(false));
    let mut editor: Editor<CliHelper, DefaultHistory> = Editor::new().map_err(io::Error::other)?;
    editor.set_helper(Some(CliHelper {
        client: Rc::clone(&client),
    }));
    editor.bind_sequence(
        KeyEvent::from('?'),
        EventHandler::Conditional(Box::new(HelpKey {
            pressed: Arc::clone(&pressed),
        })),
    );
    let mut stdout = io::stdout();
    let mut pending = String::new();
    loop {
        let prompt = client.borrow().prompt().to_owned();
        let read = editor.readline_with_initial(&prompt, (&pending, ""));
        pending.clear();
        let mut line = match read {
            Ok(line) => line,
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => return Ok(()),
            Err(e) => return Err(io::Error::other(e)),
        };
        let help = pressed.swap(false, Ordering::SeqCst);
        if help {
            line.push('?');
        } else if !line.trim().is_empty() {
            let _ = editor.add_history_entry(line.as_str());
        }
        let reply = client.borrow_mut().execute(&line)?;
        let shown = if reply.is_error() {
            without_echo(&reply.output, &prompt, &line)
        } else {
            &reply.output
        };
        stdout.write_all(shown.as_bytes())?;
        stdout.flush()?;
        if reply.end == End::Bye {
            return Ok(());
        }
        if help {
            line.pop();
            pending = line;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_is_removed_only_when_it_matches() {
        let out = "<T>dis x\n    ^\n % Unrecognized command found at '^' position.\n";
        assert_eq!(
            without_echo(out, "<T>", "dis x"),
            "    ^\n % Unrecognized command found at '^' position.\n"
        );
        assert_eq!(without_echo(out, "[T]", "dis x"), out);
    }
}
