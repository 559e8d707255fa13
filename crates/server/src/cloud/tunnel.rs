//! One main tunnel (steps 6-8 and after): `welcome`, keepalives, subconnection grants,
//! unbinding codes, server commands, deadlines, and presence in the store.
//!
//! The rules are `tether_cloudlink::server::TunnelSession`'s; this task feeds it frames and
//! the clock and carries out its outputs. Presence: written before `welcome` (a device is shown
//! online only once registered end to end), on keepalives at most once per
//! `cloud.presence_write_interval`, and on close (unless a newer tunnel took over).
//!
//! Log lines name the device and tunnel in their own fields rather than through a span held
//! for the tunnel's life: the log subscriber keeps ~0.3 KiB per live span, which was 4 % of an
//! idle tunnel's memory (BENCHMARKS.md, "Third round").
//!
//! Must not touch: subconnection traffic (see `subconn.rs`), HTTP (see `http.rs`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt as _;
use tether_cloudlink::CloseCode;
use tether_cloudlink::message::{CommandKind, Tunnel, encode};
use tether_cloudlink::server::{Output, Request, TunnelSession};
use tether_store::TunnelUp;
use tokio::sync::OwnedSemaphorePermit;
use tokio_tungstenite::tungstenite::Message;

use super::mailbox;
use super::registry::{ServiceCmd, TunnelCmd};
use super::upgrade::{self, WsStream};
use super::{Cloud, SERVICES, unbind};
use crate::clock;

/// After `reset_tunnel`, how long the device has to close by itself before the server does.
const RESET_GRACE: Duration = Duration::from_secs(10);

/// The tunnel of `serial`, run until it closes (the task's whole future: see `upgrade::spawn`).
pub fn run(
    cloud: Arc<Cloud>,
    ws: WsStream,
    serial: String,
    keepalive: u32,
    peer: SocketAddr,
    slot: OwnedSemaphorePermit,
) -> impl Future<Output = ()> + Send + 'static {
    let id: u64 = rand::random();
    serve(cloud, ws, serial, id, keepalive, peer, slot)
}

/// Written as an `async move` block rather than an `async fn`: an `async fn` moves its arguments
/// into locals and its state keeps room for both copies (the WebSocket twice) for the life of
/// the tunnel; a block uses what it captured in place.
#[expect(
    clippy::manual_async_fn,
    reason = "an async fn keeps its arguments twice"
)]
fn serve(
    cloud: Arc<Cloud>,
    mut ws: WsStream,
    serial: String,
    id: u64,
    keepalive: u32,
    peer: SocketAddr,
    slot: OwnedSemaphorePermit,
) -> impl Future<Output = ()> + Send + 'static {
    async move {
        lifetime(&cloud, &mut ws, &serial, id, keepalive, peer).await;
        drop(slot);
    }
}

async fn lifetime(
    cloud: &Arc<Cloud>,
    ws: &mut WsStream,
    serial: &str,
    id: u64,
    keepalive: u32,
    peer: SocketAddr,
) {
    let tunnel_id = format!("{id:016x}");
    let (tx, mut rx) = mailbox::channel::<TunnelCmd>(4);
    if let Some(old) = cloud.registry.attach_tunnel(serial, id, tx) {
        let _ = old.try_send(TunnelCmd::Close(CloseCode::Replaced));
    }
    let recorded = {
        let up = TunnelUp {
            node_id: cloud.config.cloud.node_id.clone(),
            tunnel_id: tunnel_id.clone(),
            remote_addr: peer.to_string(),
        };
        cloud.store.cloud_tunnel_up(serial, &up, clock::now()).await
    };
    let code = match recorded {
        Ok(()) => {
            tracing::info!(%serial, tunnel = %tunnel_id, %peer, keepalive, "tunnel established");
            drive(cloud, ws, serial, id, &tunnel_id, keepalive, &mut rx).await
        }
        Err(e) => {
            tracing::warn!(%serial, tunnel = %tunnel_id, error = %e, "cannot record presence; refusing the tunnel");
            Some(CloseCode::InternalError)
        }
    };
    if let Some(code) = code {
        upgrade::close(ws, code).await;
    }
    for service in cloud.registry.release_tunnel(serial, id) {
        let _ = service.try_send(ServiceCmd::Close(CloseCode::ServiceUnavailable));
    }
    match cloud
        .store
        .cloud_tunnel_down(serial, &tunnel_id, clock::now())
        .await
    {
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(%serial, tunnel = %tunnel_id, error = %e, "cannot record the end of the tunnel");
        }
    }
    tracing::info!(%serial, tunnel = %tunnel_id, code = ?code.map(CloseCode::code), "tunnel closed");
}

/// The tunnel's loop; returns the close code to send (`None`: the peer is gone).
async fn drive(
    cloud: &Arc<Cloud>,
    ws: &mut WsStream,
    serial: &str,
    id: u64,
    tunnel_id: &str,
    keepalive: u32,
    rx: &mut mailbox::Receiver<TunnelCmd>,
) -> Option<CloseCode> {
    let mut session = TunnelSession::new(cloud.mono(), serial, id, cloud.session_config(keepalive));
    let welcome = encode(&session.welcome(cloud.mono(), Cloud::unix_secs()));
    if upgrade::send_text(ws, welcome).await.is_err() {
        return None;
    }
    let presence_every = cloud.config.cloud.presence_write_interval.0;
    let mut presence_at = cloud.mono();
    let mut reset_by: Option<Duration> = None;
    loop {
        let mut wake = session.poll_timeout().unwrap_or(Duration::MAX);
        if let Some(r) = reset_by {
            wake = wake.min(r);
        }
        let sleep = tokio::time::sleep_until(
            cloud.instant(wake.min(cloud.mono() + Duration::from_secs(86_400))),
        );
        tokio::select! {
            frame = ws.next() => {
                let now = cloud.mono();
                let output = match frame {
                    None => return None,
                    Some(Err(e)) => return upgrade::read_error_code(&e).map(|c| session.close(c)),
                    Some(Ok(Message::Text(t))) => session.on_text(now, t.as_bytes()),
                    Some(Ok(Message::Binary(_))) => session.on_binary(now),
                    Some(Ok(Message::Close(_))) => return None,
                    Some(Ok(_)) => {
                        session.on_frame(now);
                        Output::Nothing
                    }
                };
                match output {
                    Output::Nothing => {}
                    Output::Close(code) => return Some(code),
                    Output::Reply(msg) => {
                        let keepalive_ack = matches!(msg, Tunnel::KeepaliveAck { .. });
                        if upgrade::send_text(ws, encode(&msg)).await.is_err() {
                            return None;
                        }
                        if keepalive_ack && now >= presence_at + presence_every {
                            presence_at = now;
                            if let Err(e) = cloud.store.cloud_keepalive(serial, tunnel_id, clock::now()).await {
                                tracing::warn!(%serial, tunnel = %tunnel_id, error = %e, "cannot record keepalive");
                            }
                        }
                    }
                    Output::Deliver(request) => {
                        if let Some(code) = deliver(cloud, ws, &mut session, serial, request).await {
                            return Some(code);
                        }
                    }
                }
            }
            cmd = rx.recv() => match cmd {
                None => return Some(session.close(CloseCode::Replaced)),
                Some(TunnelCmd::Close(code)) => return Some(session.close(code)),
                Some(TunnelCmd::Reset) => {
                    let msg = session.command(CommandKind::ResetTunnel);
                    if upgrade::send_text(ws, encode(&msg)).await.is_err() {
                        return None;
                    }
                    reset_by = Some(cloud.mono() + RESET_GRACE);
                }
            },
            () = sleep => {
                let now = cloud.mono();
                if reset_by.is_some_and(|r| now >= r) {
                    return Some(session.close(CloseCode::ResetRequested));
                }
                if let Some(code) = session.handle_timeout(now) {
                    return Some(code);
                }
            }
            () = cloud.shutdown.cancelled() => return Some(session.close(CloseCode::ServerShutdown)),
        }
    }
}

/// Carries out a device request; returns a close code when the tunnel must end.
async fn deliver(
    cloud: &Arc<Cloud>,
    ws: &mut WsStream,
    session: &mut TunnelSession,
    serial: &str,
    request: Request,
) -> Option<CloseCode> {
    let reply = match request {
        Request::Subconnections { id, services } => cloud.handshaker.grant(
            Cloud::unix_secs(),
            serial,
            id,
            &services,
            SERVICES,
            &mut Cloud::nonce,
        ),
        Request::UnbindCode { id, code } => {
            let outcome = unbind::redeem(cloud, serial, &code).await;
            let msg = Tunnel::UnbindResult {
                id,
                ok: outcome.is_ok(),
                reason: outcome.err(),
            };
            if upgrade::send_text(ws, encode(&msg)).await.is_err() {
                return None;
            }
            // The device must authenticate again under its new owner.
            return outcome.is_ok().then(|| session.close(CloseCode::Unbound));
        }
        Request::CommandAck { id, ok } => {
            tracing::info!(%serial, command = id, ok, "device answered a command");
            return None;
        }
    };
    if upgrade::send_text(ws, encode(&reply)).await.is_err() {
        return Some(CloseCode::GoingAway);
    }
    None
}
