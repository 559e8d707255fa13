//! The `terminal` service (protocol §7.2): remote CLI sessions typed by an operator in the
//! cloud.
//!
//! Owns: sessions on one subconnection (at most [`MAX_SESSIONS`]), each a fresh
//! [`tether_cli::Session`] bound to the agent's running configuration, and minimal line
//! editing ([`LineEditor`]: echo, CR/LF, backspace, `?` help, Ctrl-C, escape sequences
//! ignored). Lines run through the same path as the local control socket
//! ([`crate::control::exec::execute_async`]). Must not touch: the subconnection's liveness
//! (see `channel.rs`).

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use tether_cli::Session;
use tether_cloudlink::message::Terminal;

use crate::cloud::services::channel::{Channel, ChannelEnd};
use crate::context::{AgentContext, now_unix};
use crate::control::exec::{AnswerKind, execute_async};

/// Most sessions on one subconnection.
pub const MAX_SESSIONS: usize = 4;
/// Largest output frame payload before base64 (§7.2 asks for at most 16 KiB frames).
const MAX_OUTPUT_CHUNK: usize = 12 * 1024;
/// Longest line kept.
const MAX_LINE: usize = 4096;

/// What one keystroke asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    /// Output to echo.
    Echo(String),
    /// A complete line to run.
    Line(String),
    /// The line so far with `?` appended: show help, then the prompt and the line again.
    Help(String),
    /// Ctrl-C: drop the line, show a fresh prompt.
    Cancel,
}

/// Minimal line editing over a byte stream (see the module docs).
#[derive(Debug, Default)]
pub struct LineEditor {
    line: Vec<u8>,
    last_cr: bool,
    escape: u8,
}

impl LineEditor {
    /// The line typed so far.
    pub fn pending(&self) -> String {
        String::from_utf8_lossy(&self.line).into_owned()
    }

    /// Feeds keystrokes; returns what they ask for, in order.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Key> {
        let mut keys = Vec::new();
        let mut echo = String::new();
        let flush = |echo: &mut String, keys: &mut Vec<Key>| {
            if !echo.is_empty() {
                keys.push(Key::Echo(std::mem::take(echo)));
            }
        };
        for &b in bytes {
            let after_cr = std::mem::replace(&mut self.last_cr, false);
            // ESC [ ... final byte: cursor keys and the like are ignored.
            match (self.escape, b) {
                (1, b'[') => {
                    self.escape = 2;
                    continue;
                }
                (1, _) => {
                    self.escape = 0;
                    continue;
                }
                (2, 0x40..=0x7e) => {
                    self.escape = 0;
                    continue;
                }
                (2, _) => continue,
                _ => {}
            }
            match b {
                0x1b => self.escape = 1,
                b'\n' if after_cr => {}
                b'\r' | b'\n' => {
                    self.last_cr = b == b'\r';
                    echo.push_str("\r\n");
                    flush(&mut echo, &mut keys);
                    let line =
                        String::from_utf8_lossy(&std::mem::take(&mut self.line)).into_owned();
                    keys.push(Key::Line(line));
                }
                0x7f | 0x08 => {
                    if self.pop_char() {
                        echo.push_str("\x08 \x08");
                    }
                }
                b'?' => {
                    echo.push_str("?\r\n");
                    flush(&mut echo, &mut keys);
                    keys.push(Key::Help(format!("{}?", self.pending())));
                }
                0x03 => {
                    echo.push_str("^C\r\n");
                    flush(&mut echo, &mut keys);
                    self.line.clear();
                    keys.push(Key::Cancel);
                }
                b'\t' => {
                    if self.line.len() < MAX_LINE {
                        self.line.push(b' ');
                        echo.push(' ');
                    }
                }
                0x00..=0x1f => {}
                _ => {
                    if self.line.len() < MAX_LINE {
                        self.line.push(b);
                        // Echo complete UTF-8 characters only.
                        if b < 0x80 {
                            echo.push(char::from(b));
                        } else if let Some(c) = last_char(&self.line) {
                            echo.push(c);
                        }
                    }
                }
            }
        }
        flush(&mut echo, &mut keys);
        keys
    }

    fn pop_char(&mut self) -> bool {
        // Remove one whole UTF-8 character.
        while let Some(b) = self.line.pop() {
            if b & 0xC0 != 0x80 {
                return true;
            }
        }
        false
    }
}

fn last_char(line: &[u8]) -> Option<char> {
    let start = line.iter().rposition(|b| b & 0xC0 != 0x80)?;
    std::str::from_utf8(&line[start..]).ok()?.chars().next()
}

fn crlf(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\n', "\r\n")
}

struct Term {
    cli: Session,
    editor: LineEditor,
}

/// Serves the `terminal` subconnection until it ends.
pub async fn serve(ctx: &Arc<AgentContext>, channel: &mut Channel) -> ChannelEnd {
    let mut sessions: BTreeMap<u32, Term> = BTreeMap::new();
    loop {
        let msg = match channel.recv::<Terminal>().await {
            Ok(m) => m,
            Err(end) => return end,
        };
        let sent = match msg {
            Terminal::Open { session, .. } => open(ctx, channel, &mut sessions, session).await,
            Terminal::Input { session, data } => {
                input(ctx, channel, &mut sessions, session, &data).await
            }
            Terminal::Close { session, .. } => {
                sessions.remove(&session);
                Ok(())
            }
            Terminal::Resize { .. } | Terminal::Error(_) => Ok(()),
            // Device-to-server types never arrive here (the decoder refuses them).
            Terminal::Opened { .. } | Terminal::Output { .. } => Ok(()),
        };
        if let Err(end) = sent {
            return end;
        }
    }
}

async fn open(
    ctx: &Arc<AgentContext>,
    channel: &mut Channel,
    sessions: &mut BTreeMap<u32, Term>,
    session: u32,
) -> Result<(), ChannelEnd> {
    if sessions.len() >= MAX_SESSIONS && !sessions.contains_key(&session) {
        let reason = Some("The number of terminal sessions reached the upper limit.".into());
        return channel.send(&Terminal::Close { session, reason }).await;
    }
    let cli = Session::new(ctx.config().sysname.clone(), ctx.running().key().as_bytes());
    let prompt = cli.prompt();
    sessions.insert(
        session,
        Term {
            cli,
            editor: LineEditor::default(),
        },
    );
    channel.send(&Terminal::Opened { session }).await?;
    output(channel, session, &format!("\r\n{prompt}")).await
}

async fn input(
    ctx: &Arc<AgentContext>,
    channel: &mut Channel,
    sessions: &mut BTreeMap<u32, Term>,
    session: u32,
    data: &str,
) -> Result<(), ChannelEnd> {
    let Some(term) = sessions.get_mut(&session) else {
        let reason = Some("No such session.".into());
        return channel.send(&Terminal::Close { session, reason }).await;
    };
    let Ok(bytes) = STANDARD.decode(data) else {
        return Ok(());
    };
    let mut out = String::new();
    let mut closed = false;
    for key in term.editor.feed(&bytes) {
        match key {
            Key::Echo(text) => out.push_str(&text),
            Key::Cancel => out.push_str(&term.cli.prompt()),
            Key::Help(line) => {
                let answer = execute_async(ctx, &mut term.cli, &line, now_unix()).await;
                out.push_str(&crlf(&answer.output));
                out.push_str(&term.cli.prompt());
                out.push_str(&term.editor.pending());
            }
            Key::Line(line) => {
                // Long-running lines (an unbinding code waits for the cloud) flush first.
                output(channel, session, &std::mem::take(&mut out)).await?;
                let answer = execute_async(ctx, &mut term.cli, &line, now_unix()).await;
                out.push_str(&crlf(&answer.output));
                if answer.outcome == AnswerKind::Exit {
                    closed = true;
                    break;
                }
                out.push_str(&term.cli.prompt());
            }
        }
    }
    output(channel, session, &out).await?;
    if closed {
        sessions.remove(&session);
        let reason = Some("user logged out".into());
        channel.send(&Terminal::Close { session, reason }).await?;
    }
    Ok(())
}

async fn output(channel: &mut Channel, session: u32, text: &str) -> Result<(), ChannelEnd> {
    for chunk in text.as_bytes().chunks(MAX_OUTPUT_CHUNK) {
        let data = STANDARD.encode(chunk);
        channel.send(&Terminal::Output { session, data }).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_end_at_cr_or_lf_and_crlf_counts_once() {
        let mut e = LineEditor::default();
        let keys = e.feed(b"dis\r\nthis\n");
        assert_eq!(
            keys,
            vec![
                Key::Echo("dis\r\n".into()),
                Key::Line("dis".into()),
                Key::Echo("this\r\n".into()),
                Key::Line("this".into()),
            ]
        );
    }

    #[test]
    fn backspace_help_cancel_and_escapes() {
        let mut e = LineEditor::default();
        let keys = e.feed(b"disx\x7f \x1b[A?");
        assert_eq!(
            keys,
            vec![
                Key::Echo("disx\x08 \x08 ?\r\n".into()),
                Key::Help("dis ?".into())
            ]
        );
        assert_eq!(e.pending(), "dis ");
        assert_eq!(
            e.feed(b"\x03"),
            vec![Key::Echo("^C\r\n".into()), Key::Cancel]
        );
        assert_eq!(e.pending(), "");
        // Backspace over a multi-byte character removes all of it.
        e.feed("é".as_bytes());
        e.feed(b"\x08");
        assert_eq!(e.pending(), "");
    }
}
