//! The HTTP face of the cloud listener: the handshake endpoints (steps 1-4) and the WebSocket
//! upgrades of the main tunnel (steps 5-6) and of service subconnections (step 11).
//!
//! Owns: reading bounded bodies, looking devices up in the store, the `/auth` rate limits,
//! mapping handshake replies and upgrade refusals onto HTTP. The verdicts themselves come from
//! `tether_cloudlink::handshake::Handshaker`.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::{HeaderMap, StatusCode, header};
use http_body_util::BodyExt as _;
use tether_cloudlink::auth::DeviceKey;
use tether_cloudlink::handshake::{DeviceRecord, Handshaker, Presenter, Reply, UpgradeError};
use tether_cloudlink::message::{
    self, AuthFailure, AuthFailureReason, DecodeError, Handshake, PROTOCOL_VERSION, Role, limits,
    valid_serial,
};
use tether_store::CloudDevice;

use super::{Cloud, SERVICES, subconn, tunnel, upgrade};
use crate::listen::PeerAddr;

/// The router of the cloud listener.
pub fn router(cloud: Arc<Cloud>) -> Router {
    Router::new()
        .route("/cloudlink/v1/auth", post(auth))
        .route("/cloudlink/v1/register", post(register))
        .route("/cloudlink/v1/tunnel", get(open_tunnel))
        .route("/cloudlink/v1/svc/{service}", get(open_service))
        .fallback(|| async { refuse(StatusCode::NOT_FOUND, "no such endpoint") })
        .with_state(cloud)
}

fn json(status: u16, body: String) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn reply(r: &Reply) -> Response {
    json(r.status, message::encode(&r.body))
}

fn failure(
    status: u16,
    reason: AuthFailureReason,
    text: &str,
    retry_after: Option<u32>,
) -> Response {
    let body = Handshake::AuthFailure(AuthFailure {
        version: PROTOCOL_VERSION,
        reason,
        message: text.to_owned(),
        supported: Vec::new(),
        retry_after,
    });
    json(status, message::encode(&body))
}

/// An upgrade refusal: the status is what the device acts on; the body is for people.
fn refuse(status: StatusCode, text: &str) -> Response {
    let body = serde_json::json!({"error": {"code": status.as_u16(), "message": text}});
    (status, axum::Json(body)).into_response()
}

/// Reads a handshake body of at most 8 KiB and decodes it.
async fn read_handshake(body: Body) -> Result<Handshake, Response> {
    let limit = limits::HANDSHAKE_MAX;
    let bytes = match http_body_util::Limited::new(body, limit).collect().await {
        Ok(c) => c.to_bytes(),
        Err(_) => {
            return Err(reply(&Handshaker::bad_request(&DecodeError::TooLarge {
                size: limit + 1,
                limit,
            })));
        }
    };
    message::decode::<Handshake>(&bytes, Role::Device)
        .map_err(|e| reply(&Handshaker::bad_request(&e)))
}

async fn lookup(cloud: &Cloud, serial: &str) -> Result<Option<CloudDevice>, Response> {
    cloud.store.cloud_device(serial).await.map_err(|e| {
        tracing::warn!(error = %e, "cloud device lookup failed");
        failure(
            503,
            AuthFailureReason::ServerError,
            "store unavailable",
            Some(5),
        )
    })
}

async fn auth(State(cloud): State<Arc<Cloud>>, req: Request) -> Response {
    let peer = req.extensions().get::<PeerAddr>().map(|p| p.0.ip());
    let msg = match read_handshake(req.into_body()).await {
        Ok(m) => m,
        Err(r) => return r,
    };
    let serial = match &msg {
        Handshake::AuthRequest(r) => r.serial.clone(),
        Handshake::AuthProof(p) => p.serial.clone(),
        _ => {
            return failure(
                400,
                AuthFailureReason::BadRequest,
                "expected auth_request or auth_proof",
                None,
            );
        }
    };
    if let Err(wait) = cloud.limiter.check(peer, &serial) {
        let secs = u32::try_from(wait.as_secs().max(1)).unwrap_or(60);
        return failure(
            429,
            AuthFailureReason::RateLimited,
            "too many attempts",
            Some(secs),
        );
    }
    let device = match lookup(&cloud, &serial).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    let key = device.map(|d| DeviceKey::from_bytes(d.device_key));
    let record = key.as_ref().map(|k| DeviceRecord {
        key: Some(k),
        certificate_allowed: false,
    });
    let now = Cloud::unix_secs();
    let r = cloud.with_replay(|replay| {
        cloud
            .handshaker
            .auth(now, &msg, record, None, Cloud::nonce(), replay)
    });
    if !matches!(
        r.body,
        Handshake::AuthChallenge(_) | Handshake::AuthSuccess(_)
    ) {
        tracing::info!(%serial, status = r.status, "cloud authentication refused");
    }
    reply(&r)
}

async fn register(State(cloud): State<Arc<Cloud>>, req: Request) -> Response {
    let bearer = bearer(req.headers());
    let msg = match read_handshake(req.into_body()).await {
        Ok(m) => m,
        Err(r) => return r,
    };
    let Handshake::RegisterRequest(r) = msg else {
        return failure(
            400,
            AuthFailureReason::BadRequest,
            "expected register_request",
            None,
        );
    };
    let known = match lookup(&cloud, &r.serial).await {
        Ok(d) => d.is_some(),
        Err(resp) => return resp,
    };
    let reply_ = cloud.handshaker.register(
        Cloud::unix_secs(),
        bearer.as_deref(),
        &r,
        known,
        Cloud::nonce(),
    );
    reply(&reply_)
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| rest.trim().to_owned())
}

/// The raw `token` query parameter (tokens are URL-safe: no percent-decoding).
fn token(query: Option<&str>) -> Option<&str> {
    query?
        .split('&')
        .find_map(|kv| kv.strip_prefix("token="))
        .filter(|t| !t.is_empty() && t.len() <= tether_cloudlink::token::MAX_TOKEN_LEN)
}

/// What every upgrade shares: header checks, the device lookup, the socket slot.
struct Admission {
    serial: String,
    key: DeviceKey,
    response: Response,
    on_upgrade: hyper::upgrade::OnUpgrade,
    peer: std::net::SocketAddr,
    slot: tokio::sync::OwnedSemaphorePermit,
}

async fn admission(
    cloud: &Cloud,
    req: Request,
) -> Result<(Admission, String, Option<String>), Response> {
    let (mut parts, _) = req.into_parts();
    let response = upgrade::accept(&parts.headers, Some(tether_cloudlink::SUBPROTOCOL))
        .map_err(|e| refuse(StatusCode::BAD_REQUEST, e))?;
    let token = token(parts.uri.query())
        .ok_or_else(|| refuse(StatusCode::BAD_REQUEST, "token missing"))?
        .to_owned();
    let serial = parts
        .headers
        .get("cloudlink-serial")
        .and_then(|v| v.to_str().ok())
        .filter(|s| valid_serial(s))
        .ok_or_else(|| {
            refuse(
                StatusCode::BAD_REQUEST,
                "Cloudlink-Serial missing or invalid",
            )
        })?
        .to_owned();
    let proof = parts
        .headers
        .get("cloudlink-proof")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let on_upgrade = parts
        .extensions
        .remove::<hyper::upgrade::OnUpgrade>()
        .ok_or_else(|| refuse(StatusCode::BAD_REQUEST, "connection cannot be upgraded"))?;
    let peer = parts
        .extensions
        .get::<PeerAddr>()
        .map_or_else(|| std::net::SocketAddr::from(([0, 0, 0, 0], 0)), |p| p.0);
    let slot = cloud
        .socket_slot()
        .ok_or_else(|| refuse(StatusCode::SERVICE_UNAVAILABLE, "server full"))?;
    let device = cloud
        .store
        .cloud_device(&serial)
        .await
        .map_err(|_| refuse(StatusCode::SERVICE_UNAVAILABLE, "store unavailable"))?
        .ok_or_else(|| refuse(StatusCode::FORBIDDEN, "unknown device"))?;
    Ok((
        Admission {
            key: DeviceKey::from_bytes(device.device_key),
            serial,
            response,
            on_upgrade,
            peer,
            slot,
        },
        token,
        proof,
    ))
}

fn refused(e: UpgradeError) -> Response {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::UNAUTHORIZED);
    refuse(status, &e.to_string())
}

async fn open_tunnel(State(cloud): State<Arc<Cloud>>, req: Request) -> Response {
    let (a, token, proof) = match admission(&cloud, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let presenter = Presenter {
        serial: &a.serial,
        proof: proof.as_deref(),
        cert_serial: None,
    };
    let now = Cloud::unix_secs();
    let claims = match cloud.with_replay(|replay| {
        cloud
            .handshaker
            .admit_tunnel(now, &token, presenter, Some(&a.key), replay)
    }) {
        Ok(c) => c,
        Err(e) => {
            tracing::info!(serial = %a.serial, error = %e, "tunnel upgrade refused");
            return refused(e);
        }
    };
    let keepalive = claims.keepalive().unwrap_or(180);
    let (serial, peer, slot) = (a.serial, a.peer, a.slot);
    let task_cloud = cloud.clone();
    upgrade::spawn(
        &cloud.tracker,
        a.on_upgrade,
        upgrade::tunnel_ws_config(),
        move |ws| tunnel::run(task_cloud, ws, serial, keepalive, peer, slot),
    );
    a.response
}

async fn open_service(
    State(cloud): State<Arc<Cloud>>,
    Path(service): Path<String>,
    req: Request,
) -> Response {
    let Some(service) = subconn::Service::parse(&service) else {
        return refuse(StatusCode::NOT_FOUND, "no such service");
    };
    debug_assert!(SERVICES.contains(&service.name()));
    let (a, token, proof) = match admission(&cloud, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let presenter = Presenter {
        serial: &a.serial,
        proof: proof.as_deref(),
        cert_serial: None,
    };
    let now = Cloud::unix_secs();
    if let Err(e) = cloud.with_replay(|replay| {
        cloud.handshaker.admit_subconnection(
            now,
            service.name(),
            &token,
            presenter,
            Some(&a.key),
            replay,
        )
    }) {
        tracing::info!(serial = %a.serial, service = service.name(), error = %e, "subconnection refused");
        return refused(e);
    }
    if !cloud.is_connected(&a.serial) {
        return refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "no main tunnel for this device",
        );
    }
    let (serial, slot) = (a.serial, a.slot);
    let task_cloud = cloud.clone();
    upgrade::spawn(
        &cloud.tracker,
        a.on_upgrade,
        service.ws_config(),
        move |ws| subconn::run(task_cloud, ws, serial, service, slot),
    );
    a.response
}
