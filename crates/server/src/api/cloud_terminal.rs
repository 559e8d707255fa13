//! The operator side of the `terminal` microservice:
//! `GET /api/v1/cloud/devices/{serial}/terminal` upgrades the operator's connection to a
//! WebSocket bridged to a CLI session on the device's `terminal` subconnection.
//!
//! Authentication is the API's (`Authorization` header) or, for browsers that cannot set
//! headers on a WebSocket, `?ticket=` from `POST .../terminal-tickets` (single use, 30 s, bound
//! to the account and the serial).
//!
//! Operator frames: binary = keystrokes; text = JSON control, `{"type":"input","data":"..."}`
//! or `{"type":"resize","cols":N,"rows":N}`. Server frames: binary = terminal output; text
//! `{"type":"opened"}` once the device started the session; close 1000 with the device's
//! reason when the session ends, 1011 when the device's service goes away.

use axum::Json;
use axum::Router;
use axum::extract::{FromRequestParts as _, Request, State};
use axum::response::{IntoResponse as _, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use futures_util::{SinkExt as _, StreamExt as _};
use http::StatusCode;
use serde::Deserialize;
use tether_cloudlink::message::limits;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use super::ApiState;
use super::auth::Caller;
use super::cloud_devices::visible_cloud_device;
use super::error::{ApiError, ApiPath, ApiQuery};
use crate::cloud::mailbox;
use crate::cloud::terminal::{OPERATOR_QUEUE, TICKET_TTL, TerminalCmd, TerminalEvent};
use crate::cloud::upgrade::{self, WsStream};
use crate::cloud::{ServiceCmd, ServiceError};

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/cloud/devices/{serial}/terminal", get(terminal))
        .route("/cloud/devices/{serial}/terminal-tickets", post(ticket))
}

async fn ticket(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(serial): ApiPath<String>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let d = visible_cloud_device(&state, &caller, &serial).await?;
    let ticket = state
        .app
        .cloud
        .tickets
        .issue(caller.account.id, &d.serial)
        .ok_or_else(|| ApiError::RateLimited("too many terminal tickets outstanding".into()))?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({"ticket": ticket, "expires_in": TICKET_TTL.as_secs()})),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TerminalQuery {
    ticket: Option<String>,
    cols: Option<u16>,
    rows: Option<u16>,
}

async fn terminal(
    State(state): State<ApiState>,
    ApiPath(serial): ApiPath<String>,
    ApiQuery(q): ApiQuery<TerminalQuery>,
    req: Request,
) -> Result<Response, ApiError> {
    let (mut parts, _) = req.into_parts();
    let caller = match &q.ticket {
        Some(t) => {
            let account = state
                .app
                .cloud
                .tickets
                .redeem(t, &serial)
                .ok_or(ApiError::Unauthorized)?;
            let account = state
                .app
                .store
                .account(account)
                .await?
                .ok_or(ApiError::Unauthorized)?;
            Caller { account }
        }
        None => Caller::from_request_parts(&mut parts, &state).await?,
    };
    let d = visible_cloud_device(&state, &caller, &serial).await?;
    let service = state.app.cloud.registry.service(&d.serial, "terminal")?;
    let response = upgrade::accept(&parts.headers, None).map_err(ApiError::invalid)?;
    let on_upgrade = parts
        .extensions
        .remove::<hyper::upgrade::OnUpgrade>()
        .ok_or_else(|| ApiError::invalid("this connection cannot be upgraded"))?;
    let (events_tx, events) = mpsc::channel(OPERATOR_QUEUE);
    let (reply, opened) = oneshot::channel();
    service
        .try_send(ServiceCmd::Terminal(TerminalCmd::Open {
            cols: q.cols.unwrap_or(80).clamp(10, 1000),
            rows: q.rows.unwrap_or(24).clamp(2, 1000),
            events: events_tx,
            reply,
        }))
        .map_err(|_| ServiceError::Busy)?;
    let session = opened.await.map_err(|_| ServiceError::Gone)??;
    tracing::info!(serial = %d.serial, session, account = caller.account.id.0, "terminal session opened");
    let shutdown = state.app.cloud.shutdown.clone();
    upgrade::spawn(
        &state.app.cloud.tracker,
        on_upgrade,
        upgrade::ws_config(limits::TERMINAL_MAX, 4096),
        move |ws| bridge(ws, service, session, events, shutdown),
    );
    Ok(response.into_response())
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Control {
    Input { data: String },
    Resize { cols: u16, rows: u16 },
}

async fn bridge(
    mut ws: WsStream,
    service: mailbox::Sender<ServiceCmd>,
    session: u32,
    mut events: mpsc::Receiver<TerminalEvent>,
    shutdown: tokio_util::sync::CancellationToken,
) {
    let to_device = |cmd: TerminalCmd| service.send(ServiceCmd::Terminal(cmd));
    loop {
        tokio::select! {
            frame = ws.next() => {
                let cmd = match frame {
                    Some(Ok(Message::Binary(data))) => TerminalCmd::Input { session, data },
                    Some(Ok(Message::Text(t))) => match serde_json::from_str::<Control>(t.as_str()) {
                        Ok(Control::Input { data }) => TerminalCmd::Input { session, data: Bytes::from(data) },
                        Ok(Control::Resize { cols, rows }) => TerminalCmd::Resize { session, cols, rows },
                        Err(_) => {
                            upgrade::close_with(&mut ws, 1003, Utf8Bytes::from_static("unknown control message")).await;
                            let _ = to_device(TerminalCmd::Close { session }).await;
                            return;
                        }
                    },
                    Some(Ok(_)) => continue,
                    None | Some(Err(_)) => {
                        let _ = to_device(TerminalCmd::Close { session }).await;
                        return;
                    }
                };
                if to_device(cmd).await.is_err() {
                    upgrade::close_with(&mut ws, 1011, Utf8Bytes::from_static("device terminal service went away")).await;
                    return;
                }
            }
            event = events.recv() => match event {
                Some(TerminalEvent::Opened) => {
                    if ws.send(Message::text(r#"{"type":"opened"}"#)).await.is_err() {
                        let _ = to_device(TerminalCmd::Close { session }).await;
                        return;
                    }
                }
                Some(TerminalEvent::Output(data)) => {
                    if ws.send(Message::Binary(data)).await.is_err() {
                        let _ = to_device(TerminalCmd::Close { session }).await;
                        return;
                    }
                }
                Some(TerminalEvent::Closed(reason)) => {
                    let reason: String = reason.chars().take(100).collect();
                    upgrade::close_with(&mut ws, 1000, Utf8Bytes::from(reason)).await;
                    return;
                }
                None => {
                    upgrade::close_with(&mut ws, 1011, Utf8Bytes::from_static("device terminal service went away")).await;
                    return;
                }
            },
            () = shutdown.cancelled() => {
                let _ = to_device(TerminalCmd::Close { session }).await;
                upgrade::close_with(&mut ws, 1001, Utf8Bytes::from_static("server shutting down")).await;
                return;
            }
        }
    }
}
