//! One subconnection as a message channel: typed receive and send of one service's messages,
//! with the liveness rules of protocol §6.4 applied underneath (a ping every `ping_every`,
//! a read deadline of `read_timeout`) and the error rules of §4.2 (unknown `type` answered
//! with `error`, malformed input closes with 4001/4002, binary frames with 4000).
//!
//! Services talk to [`Channel`], never to the WebSocket, so that another transport could be
//! put under them without touching them. Must not touch: what a service does with messages.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tether_cloudlink::CloseCode;
use tether_cloudlink::message::{self, DecodeError, ErrorBody, ErrorCode, Message, Role};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode as WsCloseCode;

use crate::cloud::net::Ws;

/// Why a channel ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelEnd {
    /// The server closed it (with this code, if a close frame came).
    Closed(Option<u16>),
    /// Nothing arrived before the read deadline; closed with 4013.
    ReadTimeout,
    /// The server broke the protocol; closed with the code of §4.2.
    Protocol(u16),
    /// The connection failed.
    Io,
}

/// A subconnection (see the module docs).
pub struct Channel {
    ws: Ws,
    ping_every: Duration,
    read_timeout: Duration,
    last_rx: Instant,
    next_ping: Instant,
}

impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Channel").finish_non_exhaustive()
    }
}

impl Channel {
    /// Wraps an open WebSocket.
    pub fn new(ws: Ws, ping_every: Duration, read_timeout: Duration) -> Channel {
        let now = Instant::now();
        Channel {
            ws,
            ping_every,
            read_timeout,
            last_rx: now,
            next_ping: now + ping_every,
        }
    }

    /// The next message of channel `M` from the server. Cancel-safe: timers live in `self`.
    pub async fn recv<M: Message>(&mut self) -> Result<M, ChannelEnd> {
        loop {
            let text = self.recv_text().await?;
            match message::decode::<M>(text.as_bytes(), Role::Server) {
                Ok(m) => return Ok(m),
                Err(DecodeError::UnknownType(t)) => {
                    let body = ErrorBody {
                        code: ErrorCode::UnknownType,
                        message: "unknown message type".into(),
                        ref_type: Some(t),
                        ref_id: None,
                    };
                    self.send_raw(error_json(body)).await?;
                }
                Err(e) => {
                    let code = CloseCode::for_decode_error(&e).unwrap_or(CloseCode::ProtocolError);
                    self.close(code).await;
                    return Err(ChannelEnd::Protocol(code.code()));
                }
            }
        }
    }

    async fn recv_text(&mut self) -> Result<String, ChannelEnd> {
        loop {
            let deadline = self.last_rx + self.read_timeout;
            let wake = deadline.min(self.next_ping);
            tokio::select! {
                frame = self.ws.next() => {
                    let frame = match frame {
                        None => return Err(ChannelEnd::Closed(None)),
                        Some(Err(_)) => return Err(ChannelEnd::Io),
                        Some(Ok(f)) => f,
                    };
                    self.last_rx = Instant::now();
                    match frame {
                        Frame::Text(t) => return Ok(t.as_str().to_owned()),
                        Frame::Binary(_) => {
                            self.close(CloseCode::ProtocolError).await;
                            return Err(ChannelEnd::Protocol(CloseCode::ProtocolError.code()));
                        }
                        Frame::Close(frame) => {
                            let _ = self.ws.flush().await;
                            return Err(ChannelEnd::Closed(frame.map(|f| u16::from(f.code))));
                        }
                        Frame::Ping(_) | Frame::Pong(_) | Frame::Frame(_) => {}
                    }
                }
                () = tokio::time::sleep_until(wake) => {
                    let now = Instant::now();
                    if now >= deadline {
                        self.close(CloseCode::ReadTimeout).await;
                        return Err(ChannelEnd::ReadTimeout);
                    }
                    self.next_ping = now + self.ping_every;
                    self.ws.send(Frame::Ping(Vec::new().into())).await.map_err(|_| ChannelEnd::Io)?;
                }
            }
        }
    }

    /// Sends one message.
    pub async fn send<M: Message>(&mut self, msg: &M) -> Result<(), ChannelEnd> {
        self.send_raw(message::encode(msg)).await
    }

    async fn send_raw(&mut self, text: String) -> Result<(), ChannelEnd> {
        self.ws
            .send(Frame::text(text))
            .await
            .map_err(|_| ChannelEnd::Io)
    }

    /// Closes with `code` (best effort, bounded in time).
    pub async fn close(&mut self, code: CloseCode) {
        let frame = CloseFrame {
            code: WsCloseCode::from(code.code()),
            reason: code.reason().into(),
        };
        let _ = tokio::time::timeout(Duration::from_secs(2), self.ws.close(Some(frame))).await;
    }
}

fn error_json(body: ErrorBody) -> String {
    // The `error` message has the same shape on every channel; encode it as a tunnel message.
    message::encode(&message::Tunnel::Error(body))
}
