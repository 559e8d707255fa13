//! Server side of the WebSocket upgrade (RFC 6455 §4.2) over hyper's HTTP/1 upgrade, shared by
//! the cloud listener (tunnels, subconnections) and the API (operator terminals), plus the
//! WebSocket configurations and the close helper.
//!
//! Owns: header checks, the `101` answer, the tungstenite configuration per channel (small
//! read buffers, nothing buffered for writing, the protocol's message limits enforced before
//! buffering). Must not touch: who may upgrade (callers decide before calling).

use std::time::Duration;

use axum::body::Body;
use futures_util::{SinkExt as _, StreamExt as _};
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use tether_cloudlink::CloseCode;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode as WsCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_util::task::TaskTracker;

/// An accepted WebSocket.
pub type WsStream = WebSocketStream<TokioIo<Upgraded>>;

/// How long a close handshake may take before the socket is dropped.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// The configuration of a WebSocket whose messages are at most `max_message` bytes: a read
/// buffer of `read_buffer` bytes (tungstenite grows it only for a frame that needs it), no
/// write buffering, and a bound on what may queue for a slow reader.
pub fn ws_config(max_message: usize, read_buffer: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(read_buffer)
        .write_buffer_size(0)
        .max_write_buffer_size(max_message.saturating_mul(2).max(64 * 1024))
        .max_message_size(Some(max_message))
        .max_frame_size(Some(max_message))
}

/// The read buffer a cloud WebSocket starts with: enough for a keepalive or a ping (~40 bytes
/// with the frame header). It is kept for the life of the connection, idle or not; a larger
/// frame grows it (to that frame's size), and a large message takes more, smaller reads.
pub const READ_BUFFER: usize = 128;

/// The main tunnel: 16 KiB messages.
pub fn tunnel_ws_config() -> WebSocketConfig {
    ws_config(tether_cloudlink::message::limits::TUNNEL_MAX, READ_BUFFER)
}

fn has_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|v| {
        v.to_str()
            .is_ok_and(|s| s.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    })
}

/// Checks an upgrade request and builds the `101` answer. With `subprotocol`, the client must
/// offer it and it is echoed.
pub fn accept(
    headers: &HeaderMap,
    subprotocol: Option<&str>,
) -> Result<Response<Body>, &'static str> {
    if !has_token(headers, header::CONNECTION, "upgrade")
        || !has_token(headers, header::UPGRADE, "websocket")
    {
        return Err("not a WebSocket upgrade request");
    }
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .is_none_or(|v| v.as_bytes() != b"13")
    {
        return Err("Sec-WebSocket-Version must be 13");
    }
    let key = headers
        .get(header::SEC_WEBSOCKET_KEY)
        .ok_or("Sec-WebSocket-Key missing")?;
    let mut response = Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONNECTION, "upgrade")
        .header(header::UPGRADE, "websocket")
        .header(
            header::SEC_WEBSOCKET_ACCEPT,
            derive_accept_key(key.as_bytes()),
        );
    if let Some(p) = subprotocol {
        if !has_token(headers, header::SEC_WEBSOCKET_PROTOCOL, p) {
            return Err("the WebSocket subprotocol tether-cloudlink.v1 is required");
        }
        response = response.header(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static(tether_cloudlink::SUBPROTOCOL),
        );
    }
    response
        .body(Body::empty())
        .map_err(|_| "bad upgrade response")
}

/// Once hyper hands over the connection, wraps it as a WebSocket and runs `run` on `tracker`.
///
/// `run`'s future gets a task of its own: a task's allocation is as large as the largest state
/// of its future, so waiting for the upgrade in the same task would keep room for the upgrade's
/// state (and a second copy of the WebSocket) for the life of the connection.
pub fn spawn<F, Fut>(tracker: &TaskTracker, on_upgrade: OnUpgrade, config: WebSocketConfig, run: F)
where
    F: FnOnce(WsStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let connections = tracker.clone();
    tracker.spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                let ws = WebSocketStream::from_raw_socket(
                    TokioIo::new(upgraded),
                    Role::Server,
                    Some(config),
                )
                .await;
                connections.spawn(run(ws));
            }
            Err(e) => tracing::debug!(error = %e, "WebSocket upgrade failed"),
        }
    });
}

/// Sends a close frame with `code` and its reason, and waits briefly for the peer's close.
pub async fn close(ws: &mut WsStream, code: CloseCode) {
    close_with(ws, code.code(), Utf8Bytes::from_static(code.reason())).await;
}

/// Sends a close frame with any code and reason, and waits briefly for the peer's close.
pub async fn close_with(ws: &mut WsStream, code: u16, reason: Utf8Bytes) {
    let frame = CloseFrame {
        code: WsCode::from(code),
        reason,
    };
    let _ = tokio::time::timeout(CLOSE_WAIT, async {
        if ws.send(Message::Close(Some(frame))).await.is_err() {
            return;
        }
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
}

/// The close code for a read error: too large → 4002, anything else → none (the peer is gone).
pub fn read_error_code(e: &tokio_tungstenite::tungstenite::Error) -> Option<CloseCode> {
    use tokio_tungstenite::tungstenite::Error as E;
    match e {
        E::Capacity(_) => Some(CloseCode::MessageTooLarge),
        E::Utf8(_) => Some(CloseCode::MalformedMessage),
        E::Protocol(_) => Some(CloseCode::ProtocolError),
        _ => None,
    }
}

/// Sends one text message.
pub async fn send_text(ws: &mut WsStream, text: String) -> Result<(), ()> {
    ws.send(Message::text(text)).await.map_err(|_| ())
}
