//! One service subconnection (step 11): decode the service's messages under its own size
//! limit, hand them to the service (`terminal.rs`, `config_service.rs`, telemetry), carry API
//! requests to the device, and enforce the read deadline, the error budget and replacement.
//!
//! Subconnections carry no keepalives (protocol §7.1): the read deadline covers pings. Bad
//! input: unknown `type` gets an `error` answer (more than 8 close with 4008); malformed,
//! oversized, binary or wrong-direction messages close with 4001 / 4002 / 4000.

use std::sync::Arc;

use futures_util::StreamExt as _;
use tether_cloudlink::CloseCode;
use tether_cloudlink::message::{
    self, Config, DecodeError, ErrorBody, ErrorCode, Message as CloudMessage, Role, Telemetry,
    Terminal, encode, limits,
};
use tokio::sync::OwnedSemaphorePermit;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use super::config_service::InFlight;
use super::mailbox;
use super::registry::ServiceCmd;
use super::terminal::Sessions;
use super::upgrade::{self, WsStream};
use super::{Cloud, ServiceError};
use crate::clock;

/// `error` answers tolerated on one subconnection before it is closed with 4008.
const MAX_ERRORS: u8 = 8;

/// A microservice offered on subconnections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Terminal,
    Config,
    Telemetry,
}

impl Service {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "terminal" => Some(Service::Terminal),
            "config" => Some(Service::Config),
            "telemetry" => Some(Service::Telemetry),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Service::Terminal => "terminal",
            Service::Config => "config",
            Service::Telemetry => "telemetry",
        }
    }

    /// The protocol's message limit of this service, enforced by the WebSocket layer.
    pub fn ws_config(self) -> WebSocketConfig {
        match self {
            Service::Terminal => upgrade::ws_config(limits::TERMINAL_MAX, upgrade::READ_BUFFER),
            Service::Config => upgrade::ws_config(limits::CONFIG_MAX, upgrade::READ_BUFFER),
            Service::Telemetry => upgrade::ws_config(limits::TELEMETRY_MAX, upgrade::READ_BUFFER),
        }
    }
}

enum State {
    Terminal(Sessions),
    Config(InFlight),
    Telemetry,
}

/// What to do after a device message.
enum Step {
    Continue,
    Send(String),
    Error(ErrorCode, String, Option<String>),
    Close(CloseCode),
}

/// `serial`'s `service` subconnection, run until it closes (the task's whole future: see
/// `upgrade::spawn`).
pub fn run(
    cloud: Arc<Cloud>,
    ws: WsStream,
    serial: String,
    service: Service,
    slot: OwnedSemaphorePermit,
) -> impl Future<Output = ()> + Send + 'static {
    let id: u64 = rand::random();
    // No span for the subconnection's life: see the log note in `tunnel.rs`.
    serve(cloud, ws, serial, service, id, slot)
}

/// An `async move` block rather than an `async fn`, which would keep room for a second copy of
/// its arguments (the WebSocket twice) for the life of the subconnection.
#[expect(
    clippy::manual_async_fn,
    reason = "an async fn keeps its arguments twice"
)]
fn serve(
    cloud: Arc<Cloud>,
    mut ws: WsStream,
    serial: String,
    service: Service,
    id: u64,
    slot: OwnedSemaphorePermit,
) -> impl Future<Output = ()> + Send + 'static {
    async move {
        lifetime(&cloud, &mut ws, &serial, service, id).await;
        drop(slot);
    }
}

async fn lifetime(cloud: &Arc<Cloud>, ws: &mut WsStream, serial: &str, service: Service, id: u64) {
    let (tx, mut rx) = mailbox::channel::<ServiceCmd>(32);
    match cloud
        .registry
        .attach_service(serial, service.name(), id, tx)
    {
        Err(()) => {
            upgrade::close(ws, CloseCode::ServiceUnavailable).await;
            return;
        }
        Ok(Some(old)) => {
            let _ = old.try_send(ServiceCmd::Close(CloseCode::Replaced));
        }
        Ok(None) => {}
    }
    tracing::info!(%serial, service = service.name(), "subconnection established");
    let mut state = match service {
        Service::Terminal => State::Terminal(Sessions::default()),
        Service::Config => State::Config(InFlight::default()),
        Service::Telemetry => State::Telemetry,
    };
    let code = drive(cloud, ws, serial, service, &mut state, &mut rx).await;
    if let Some(code) = code {
        upgrade::close(ws, code).await;
    }
    if let State::Terminal(sessions) = &mut state {
        sessions.close_all("the device's terminal service closed");
    }
    cloud.registry.release_service(serial, service.name(), id);
    tracing::info!(%serial, service = service.name(), code = ?code.map(CloseCode::code), "subconnection closed");
}

async fn drive(
    cloud: &Arc<Cloud>,
    ws: &mut WsStream,
    serial: &str,
    service: Service,
    state: &mut State,
    rx: &mut mailbox::Receiver<ServiceCmd>,
) -> Option<CloseCode> {
    if service == Service::Telemetry {
        let interval =
            u32::try_from(cloud.config.cloud.telemetry_interval.0.as_secs()).unwrap_or(60);
        if upgrade::send_text(ws, encode(&Telemetry::Subscribe { interval }))
            .await
            .is_err()
        {
            return None;
        }
    }
    let read_timeout = cloud.config.cloud.read_timeout.0;
    let mut last_rx = cloud.mono();
    let mut errors = 0u8;
    loop {
        let sleep = tokio::time::sleep_until(cloud.instant(last_rx + read_timeout));
        tokio::select! {
            frame = ws.next() => {
                last_rx = cloud.mono();
                let step = match frame {
                    None => return None,
                    Some(Err(e)) => return upgrade::read_error_code(&e),
                    Some(Ok(Message::Text(t))) => on_text(cloud, serial, state, t.as_bytes()).await,
                    Some(Ok(Message::Binary(_))) => Step::Close(CloseCode::ProtocolError),
                    Some(Ok(Message::Close(_))) => return None,
                    Some(Ok(_)) => Step::Continue,
                };
                match step {
                    Step::Continue => {}
                    Step::Close(code) => return Some(code),
                    Step::Send(text) => {
                        if upgrade::send_text(ws, text).await.is_err() {
                            return None;
                        }
                    }
                    Step::Error(code, text, ref_type) => {
                        errors = errors.saturating_add(1);
                        if errors > MAX_ERRORS {
                            return Some(CloseCode::RateLimited);
                        }
                        let body = ErrorBody { code, message: text, ref_type, ref_id: None };
                        let text = match service {
                            Service::Terminal => encode(&Terminal::Error(body)),
                            Service::Config => encode(&Config::Error(body)),
                            Service::Telemetry => encode(&Telemetry::Error(body)),
                        };
                        if upgrade::send_text(ws, text).await.is_err() {
                            return None;
                        }
                    }
                }
            }
            cmd = rx.recv() => {
                let text = match (cmd, &mut *state) {
                    (None, _) => return Some(CloseCode::Replaced),
                    (Some(ServiceCmd::Close(code)), _) => return Some(code),
                    (Some(ServiceCmd::Config(op)), State::Config(in_flight)) => {
                        in_flight.start(op).map(|m| encode(&m))
                    }
                    (Some(ServiceCmd::Terminal(cmd)), State::Terminal(sessions)) => {
                        sessions.command(cmd).map(|m| encode(&m))
                    }
                    (Some(ServiceCmd::Config(op)), _) => {
                        let _ = op.reply.send(Err(ServiceError::ServiceDown("config")));
                        None
                    }
                    (Some(ServiceCmd::Terminal(_)), _) => None,
                };
                if let Some(text) = text
                    && upgrade::send_text(ws, text).await.is_err()
                {
                    return None;
                }
            }
            () = sleep => return Some(CloseCode::ReadTimeout),
            () = cloud.shutdown.cancelled() => return Some(CloseCode::ServerShutdown),
        }
    }
}

/// Decodes a device message of channel `M`, or says how to answer a bad one.
fn decode<M: CloudMessage>(bytes: &[u8]) -> Result<M, Step> {
    message::decode::<M>(bytes, Role::Device).map_err(|e| match e {
        DecodeError::UnknownType(t) => Step::Error(
            ErrorCode::UnknownType,
            "unknown message type".into(),
            Some(t),
        ),
        e => Step::Close(CloseCode::for_decode_error(&e).unwrap_or(CloseCode::ProtocolError)),
    })
}

async fn on_text(cloud: &Cloud, serial: &str, state: &mut State, bytes: &[u8]) -> Step {
    match state {
        State::Terminal(sessions) => match decode::<Terminal>(bytes) {
            Err(step) => step,
            Ok(msg) => match sessions.from_device(msg) {
                Ok(Some(close)) => Step::Send(encode(&close)),
                Ok(None) => Step::Continue,
                Err(why) => Step::Error(ErrorCode::BadRequest, why.into(), Some("output".into())),
            },
        },
        State::Config(in_flight) => match decode::<Config>(bytes) {
            Err(step) => step,
            Ok(msg) => {
                if in_flight.answer(msg) {
                    Step::Continue
                } else {
                    Step::Close(CloseCode::ProtocolError)
                }
            }
        },
        State::Telemetry => match decode::<Telemetry>(bytes) {
            Err(step) => step,
            Ok(sample @ Telemetry::Sample { .. }) => {
                let mut value = serde_json::to_value(&sample).unwrap_or_default();
                if let Some(obj) = value.as_object_mut() {
                    obj.remove("type");
                }
                let now = clock::now();
                cloud.telemetry.push(serial, now, &value);
                if let Err(e) = cloud.store.set_cloud_telemetry(serial, &value, now).await {
                    tracing::warn!(%serial, error = %e, "cannot persist the latest telemetry sample");
                }
                Step::Continue
            }
            Ok(_) => Step::Continue,
        },
    }
}
