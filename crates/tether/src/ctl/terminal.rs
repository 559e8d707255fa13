//! `tether ctl cloud terminal SERIAL`: the device's remote CLI over the API's terminal
//! WebSocket (`GET /api/v1/cloud/devices/{serial}/terminal`).
//!
//! With a terminal on standard input, the local terminal goes to raw mode (restored by a guard
//! on every way out, panics included), keystrokes are sent as typed and `Ctrl-]` detaches.
//! Without one, standard input is read line by line, each line sent with a carriage return
//! (the Enter key); at end of input the session is kept until the device has been quiet for
//! `--linger` seconds (or closes it), so that the answer to the last line is printed too.

use std::io::{BufRead as _, IsTerminal as _, Read as _, Write as _};
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use nix::sys::termios::{self, SetArg, Termios};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Message};

use super::client::{Client, CtlError, api_error, encode};

/// The byte `Ctrl-]` sends: detach, as telnet does.
pub const DETACH: u8 = 0x1d;

/// What the standard-input reader hands to the session.
#[derive(Debug)]
enum Input {
    Bytes(Vec<u8>),
    Detach,
}

/// Options of `cloud terminal`.
#[derive(Debug, Clone)]
pub struct TerminalOptions {
    pub cols: u16,
    pub rows: u16,
    /// Quiet time after the end of (non-terminal) input before closing.
    pub linger: Duration,
}

/// Puts the terminal on standard input in raw mode until dropped.
struct RawMode {
    saved: Termios,
}

impl RawMode {
    fn enable() -> Result<RawMode, CtlError> {
        let stdin = std::io::stdin();
        let saved = termios::tcgetattr(&stdin)
            .map_err(|e| CtlError::other(format!("reading the terminal settings: {e}")))?;
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        termios::tcsetattr(&stdin, SetArg::TCSANOW, &raw)
            .map_err(|e| CtlError::other(format!("setting the terminal to raw mode: {e}")))?;
        Ok(RawMode { saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(std::io::stdin(), SetArg::TCSANOW, &self.saved);
    }
}

/// Splits a chunk of keystrokes at `Ctrl-]`: what to send, and whether to detach after it.
pub fn split_detach(chunk: &[u8]) -> (&[u8], bool) {
    match chunk.iter().position(|&b| b == DETACH) {
        Some(i) => (&chunk[..i], true),
        None => (chunk, false),
    }
}

/// A line of (non-terminal) input as the keys that type it: the text, then Enter.
pub fn line_keys(line: &[u8]) -> Vec<u8> {
    let mut line = line.strip_suffix(b"\n").unwrap_or(line);
    line = line.strip_suffix(b"\r").unwrap_or(line);
    let mut keys = line.to_vec();
    keys.push(b'\r');
    keys
}

/// Reads standard input on its own thread (reads block; the thread dies with the process).
fn spawn_reader(tty: bool) -> mpsc::Receiver<Input> {
    let (tx, rx) = mpsc::channel(64);
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        let mut stdin = stdin.lock();
        if tty {
            let mut buf = [0u8; 1024];
            loop {
                let n = match stdin.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                let (keys, detach) = split_detach(&buf[..n]);
                if !keys.is_empty() && tx.blocking_send(Input::Bytes(keys.to_vec())).is_err() {
                    return;
                }
                if detach {
                    let _ = tx.blocking_send(Input::Detach);
                    return;
                }
            }
        } else {
            let mut line = Vec::new();
            loop {
                line.clear();
                match stdin.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {
                        if tx.blocking_send(Input::Bytes(line_keys(&line))).is_err() {
                            return;
                        }
                    }
                }
            }
        }
    });
    rx
}

fn write_out(bytes: &[u8]) -> Result<(), CtlError> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(|e| CtlError::other(format!("writing to standard output: {e}")))
}

/// How the session ended.
enum End {
    Detached,
    /// Closed by the server, with the close frame's code and reason.
    Closed(Option<(u16, String)>),
    /// Non-terminal input ended and the device went quiet.
    InputDone,
}

pub async fn run(client: &Client, serial: &str, options: &TerminalOptions) -> Result<(), CtlError> {
    let tty = std::io::stdin().is_terminal();
    let path = format!(
        "/api/v1/cloud/devices/{}/terminal?cols={}&rows={}",
        encode(serial),
        options.cols,
        options.rows
    );
    let scheme = if client.is_tls() { "wss" } else { "ws" };
    let url = format!(
        "{scheme}://{}{}",
        client.host_header(),
        client.target(&path)
    );
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|e| CtlError::Usage(format!("terminal URL {url:?}: {e}")))?;
    if let Some(auth) = client.authorization() {
        let value = auth
            .parse()
            .map_err(|_| CtlError::Usage("the credentials are not a valid header".into()))?;
        request
            .headers_mut()
            .insert(http::header::AUTHORIZATION, value);
    }
    let io = client.connect().await?;
    let (mut ws, _) = match tokio_tungstenite::client_async(request, io).await {
        Ok(ok) => ok,
        Err(tungstenite::Error::Http(response)) => {
            let raw = response.body().clone().unwrap_or_default();
            let body = serde_json::from_slice::<Value>(&raw).unwrap_or(Value::Null);
            return Err(api_error(response.status(), &body, &raw));
        }
        Err(e) => {
            return Err(CtlError::Connect {
                addr: client.address(),
                reason: format!("WebSocket handshake: {e}"),
            });
        }
    };

    // From here on the terminal may be raw: the guard restores it however this function ends.
    let raw = if tty { Some(RawMode::enable()?) } else { None };
    if tty {
        eprint!("Connected to {serial}. Press Ctrl-] to detach.\r\n");
    }
    let mut input = spawn_reader(tty);
    let mut input_open = true;
    let end = loop {
        let idle = tokio::time::sleep(options.linger);
        tokio::select! {
            frame = ws.next() => match frame {
                Some(Ok(Message::Binary(data))) => write_out(&data)?,
                // `{"type":"opened"}` and any other control message: nothing to show.
                Some(Ok(Message::Text(_) | Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                Some(Ok(Message::Close(frame))) => {
                    break End::Closed(frame.map(|f| (u16::from(f.code), f.reason.to_string())));
                }
                None => break End::Closed(None),
                Some(Err(e)) => {
                    drop(raw);
                    return Err(CtlError::other(format!("terminal connection lost: {e}")));
                }
            },
            key = input.recv(), if input_open => match key {
                Some(Input::Bytes(bytes)) => {
                    if let Err(e) = ws.send(Message::binary(bytes)).await {
                        drop(raw);
                        return Err(CtlError::other(format!("terminal connection lost: {e}")));
                    }
                }
                Some(Input::Detach) => break End::Detached,
                None if tty => break End::Detached,
                None => input_open = false,
            },
            () = idle, if !input_open => break End::InputDone,
        }
    };
    if !matches!(end, End::Closed(_)) {
        let _ = ws
            .send(Message::Close(Some(CloseFrame {
                code: CloseCode::Normal,
                reason: "operator detached".into(),
            })))
            .await;
        // Let the server answer the close, briefly.
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while let Some(Ok(m)) = ws.next().await {
                if let Message::Binary(data) = m {
                    let _ = write_out(&data);
                }
            }
        })
        .await;
    }
    drop(raw);
    match end {
        End::Detached => {
            if tty {
                eprintln!("\nDetached from {serial}.");
            }
            Ok(())
        }
        End::InputDone => Ok(()),
        End::Closed(Some((1000, reason))) => {
            if tty {
                eprintln!("\nSession closed by the device{}", suffix(&reason));
            }
            Ok(())
        }
        End::Closed(Some((code, reason))) => Err(CtlError::other(format!(
            "terminal closed by the server (code {code}){}",
            suffix(&reason)
        ))),
        End::Closed(None) => Err(CtlError::other(
            "terminal connection closed without a close frame",
        )),
    }
}

fn suffix(reason: &str) -> String {
    if reason.is_empty() {
        String::new()
    } else {
        format!(": {reason}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctrl_bracket_detaches_after_the_keys_before_it() {
        assert_eq!(split_detach(b"abc"), (&b"abc"[..], false));
        assert_eq!(split_detach(b"ab\x1dcd"), (&b"ab"[..], true));
        assert_eq!(split_detach(b"\x1d"), (&b""[..], true));
    }

    #[test]
    fn lines_are_typed_with_enter() {
        assert_eq!(line_keys(b"display version\n"), b"display version\r");
        assert_eq!(line_keys(b"quit\r\n"), b"quit\r");
        assert_eq!(line_keys(b"last"), b"last\r");
    }
}
