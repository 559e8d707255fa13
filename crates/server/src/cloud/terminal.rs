//! The `terminal` microservice (protocol §7.2) on the server: CLI sessions multiplexed on a
//! device's `terminal` subconnection, each bridged to one operator WebSocket (the API route),
//! and the short-lived tickets that let a browser open that WebSocket without headers.
//!
//! Owns: session ids, the per-subconnection session bound ([`MAX_SESSIONS`]), base64 of the
//! `data` fields, tickets. Must not touch: operator authentication (the API does it) or the
//! sockets (see `subconn.rs`, `api/cloud_terminal.rs`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use tether_cloudlink::message::Terminal;
use tether_store::AccountId;
use tokio::sync::{mpsc, oneshot};

use super::ServiceError;

/// CLI sessions at once on one device.
pub const MAX_SESSIONS: usize = 4;
/// Lifetime of a terminal ticket.
pub const TICKET_TTL: Duration = Duration::from_secs(30);
/// Tickets outstanding at once, server-wide.
const MAX_TICKETS: usize = 10_000;
/// Output frames queued for one operator before the session is dropped as too slow.
pub const OPERATOR_QUEUE: usize = 64;

/// What happens on a session, for its operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TerminalEvent {
    Opened,
    Output(Bytes),
    Closed(String),
}

/// Operator-side operations, sent to the subconnection task.
#[derive(Debug)]
pub enum TerminalCmd {
    Open {
        cols: u16,
        rows: u16,
        events: mpsc::Sender<TerminalEvent>,
        reply: oneshot::Sender<Result<u32, ServiceError>>,
    },
    Input {
        session: u32,
        data: Bytes,
    },
    Resize {
        session: u32,
        cols: u16,
        rows: u16,
    },
    Close {
        session: u32,
    },
}

/// The sessions of one `terminal` subconnection.
#[derive(Debug, Default)]
pub struct Sessions {
    next: u32,
    open: HashMap<u32, mpsc::Sender<TerminalEvent>>,
}

impl Sessions {
    /// The message to send for an operator operation, if any.
    pub fn command(&mut self, cmd: TerminalCmd) -> Option<Terminal> {
        match cmd {
            TerminalCmd::Open {
                cols,
                rows,
                events,
                reply,
            } => {
                self.open.retain(|_, tx| !tx.is_closed());
                if self.open.len() >= MAX_SESSIONS {
                    let _ = reply.send(Err(ServiceError::Busy));
                    return None;
                }
                self.next = self.next.wrapping_add(1);
                let session = self.next;
                self.open.insert(session, events);
                let _ = reply.send(Ok(session));
                Some(Terminal::Open {
                    session,
                    cols,
                    rows,
                })
            }
            TerminalCmd::Input { session, data } => {
                self.open.contains_key(&session).then(|| Terminal::Input {
                    session,
                    data: STANDARD.encode(&data),
                })
            }
            TerminalCmd::Resize {
                session,
                cols,
                rows,
            } => self
                .open
                .contains_key(&session)
                .then_some(Terminal::Resize {
                    session,
                    cols,
                    rows,
                }),
            TerminalCmd::Close { session } => self.open.remove(&session).map(|_| Terminal::Close {
                session,
                reason: Some("operator closed the session".into()),
            }),
        }
    }

    /// Handles a device message. `Err` for output that is not base64 (a bad request);
    /// `Ok(Some(msg))` is a `close` to send for a session whose operator is gone or too slow.
    pub fn from_device(&mut self, msg: Terminal) -> Result<Option<Terminal>, &'static str> {
        let (session, event) = match msg {
            Terminal::Opened { session } => (session, TerminalEvent::Opened),
            Terminal::Output { session, data } => {
                let bytes = STANDARD
                    .decode(data.as_bytes())
                    .map_err(|_| "output data is not base64")?;
                (session, TerminalEvent::Output(Bytes::from(bytes)))
            }
            Terminal::Close { session, reason } => {
                if let Some(tx) = self.open.remove(&session) {
                    let _ = tx.try_send(TerminalEvent::Closed(reason.unwrap_or_default()));
                }
                return Ok(None);
            }
            _ => return Ok(None),
        };
        let Some(tx) = self.open.get(&session) else {
            return Ok(None);
        };
        if tx.try_send(event).is_err() {
            self.open.remove(&session);
            return Ok(Some(Terminal::Close {
                session,
                reason: Some("operator disconnected".into()),
            }));
        }
        Ok(None)
    }

    /// Tells every operator that the device side went away.
    pub fn close_all(&mut self, reason: &str) {
        for (_, tx) in self.open.drain() {
            let _ = tx.try_send(TerminalEvent::Closed(reason.to_owned()));
        }
    }
}

struct Ticket {
    account: AccountId,
    serial: String,
    expires: Instant,
}

/// Single-use tickets for opening a terminal WebSocket without an `Authorization` header.
/// Stored by SHA-256 digest; bounded.
#[derive(Default)]
pub struct Tickets {
    map: Mutex<HashMap<[u8; 32], Ticket>>,
}

impl Tickets {
    /// A new ticket for `account` on `serial`; `None` when too many are outstanding.
    pub fn issue(&self, account: AccountId, serial: &str) -> Option<String> {
        let mut bytes = [0u8; 24];
        rand::rng().fill_bytes(&mut bytes);
        let ticket = format!("tt_{}", hex::encode(bytes));
        let now = Instant::now();
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, t| t.expires > now);
        if map.len() >= MAX_TICKETS {
            return None;
        }
        map.insert(
            Sha256::digest(ticket.as_bytes()).into(),
            Ticket {
                account,
                serial: serial.to_owned(),
                expires: now + TICKET_TTL,
            },
        );
        Some(ticket)
    }

    /// Spends a ticket: the account it was issued to, if it is valid for `serial`.
    pub fn redeem(&self, ticket: &str, serial: &str) -> Option<AccountId> {
        let key: [u8; 32] = Sha256::digest(ticket.as_bytes()).into();
        let t = self
            .map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&key)?;
        (t.expires > Instant::now() && t.serial == serial).then_some(t.account)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tickets_are_single_use_and_bound_to_a_serial() {
        let t = Tickets::default();
        let a = t.issue(AccountId(1), "S1").unwrap();
        assert_eq!(t.redeem(&a, "S1"), Some(AccountId(1)));
        assert_eq!(t.redeem(&a, "S1"), None);
        let b = t.issue(AccountId(1), "S1").unwrap();
        assert_eq!(t.redeem(&b, "S2"), None);
        assert_eq!(t.redeem(&b, "S1"), None, "a misused ticket is spent");
    }

    #[test]
    fn session_bound_and_output_routing() {
        let mut s = Sessions::default();
        let (tx, mut rx) = mpsc::channel(4);
        for i in 0..MAX_SESSIONS {
            let (reply, mut r) = oneshot::channel();
            let m = s.command(TerminalCmd::Open {
                cols: 80,
                rows: 24,
                events: tx.clone(),
                reply,
            });
            assert!(m.is_some());
            assert_eq!(r.try_recv().unwrap().unwrap(), i as u32 + 1);
        }
        let (reply, mut r) = oneshot::channel();
        assert!(
            s.command(TerminalCmd::Open {
                cols: 80,
                rows: 24,
                events: tx.clone(),
                reply
            })
            .is_none()
        );
        assert_eq!(r.try_recv().unwrap(), Err(ServiceError::Busy));
        s.from_device(Terminal::Output {
            session: 1,
            data: STANDARD.encode("hi"),
        })
        .unwrap();
        assert_eq!(
            rx.try_recv().unwrap(),
            TerminalEvent::Output(Bytes::from("hi"))
        );
        assert!(
            s.from_device(Terminal::Output {
                session: 1,
                data: "%%".into()
            })
            .is_err()
        );
    }
}
