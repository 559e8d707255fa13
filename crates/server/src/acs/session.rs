//! One HTTP request = one step of a CWMP session: find the session, feed the message to the
//! pure `AcsSession` machine, act on what it says (authenticate and store the Inform, answer
//! CPE requests, send the connection-request credentials when `provision.rs` wants them, then
//! the next task's RPC or 204), and hand back what to answer.
//!
//! Finding the session (pitfalls #1, #2):
//! * an Inform starts a new session (after authentication), unless it is the retry of an
//!   Inform this session refused with 8005; a device's older live session is then closed
//!   (a CPE informs again only when it considers the old session dead: after a reboot, a
//!   timeout or a failure; refusing would lock a rebooted CPE out until the old session
//!   expires, the GenieACS "concurrent session" 400);
//! * any other POST is matched by the `tether_session` cookie, else by the session last used
//!   on the same connection (CPEs that drop cookies); a session may continue on a new
//!   connection with its cookie (HTTP-04);
//! * no cookie and no session on this connection: 400 "no CWMP session: start with an Inform,
//!   then send the tether_session cookie or stay on the same connection".
//!
//! Errors: a body that is not a CWMP envelope (malformed XML, SOAP 1.2, no Body) is answered
//! 400 with the decoder's reason and the session stays as it was (a CWMP fault may only
//! answer a request, FLT-02, and an undecodable message is not known to be one). A message out
//! of order (the machine's `AcsError`) is 400 and ends the session. Store unavailable while
//! storing an Inform or a TransferComplete: fault 8005, the CPE retries the same request.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::StatusCode;
use tether_cwmp::rpc::{GetRpcMethodsResponse, Inform};
use tether_cwmp::session::{AcceptOptions, AcsEvent, AcsSession, AcsState, Reply};
use tether_cwmp::{Body, DecodeOptions, Envelope, EventCode, Fault, FaultCode};
use tether_store::StoreError;
use tracing::Instrument as _;

use super::Acs;
use super::auth::{Attempt, Decision};
use super::dispatch;
use super::inform;
use super::provision::{self, Provision};
use super::sessions::{Full, Session, SessionRef, new_session_id};
use crate::clock;
use crate::listen::Shutdown;

/// The ACS methods this server answers (GetRPCMethodsResponse to a CPE).
pub const ACS_METHODS: &[&str] = &[
    "Inform",
    "GetRPCMethods",
    "TransferComplete",
    "AutonomousTransferComplete",
    "DUStateChangeComplete",
    "AutonomousDUStateChangeComplete",
];

/// What the connection knows about itself.
#[derive(Debug)]
pub struct ConnInfo {
    pub peer: SocketAddr,
    pub tls: bool,
    /// Accepted past the connection bound: serves only continuing sessions.
    pub overflow: bool,
    /// The session last used on this connection.
    pub session: Mutex<Option<String>>,
}

impl ConnInfo {
    pub fn last_session(&self) -> Option<String> {
        self.session
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn set_session(&self, id: &str) {
        *self.session.lock().unwrap_or_else(|e| e.into_inner()) = Some(id.to_owned());
    }
}

/// A request as the session layer sees it (owned: it runs on its own task).
pub struct SessionRequest {
    pub cookie: Option<String>,
    /// The decoded body; `None` for an empty POST.
    pub body: Option<Vec<u8>>,
    pub content_type: Option<String>,
    pub authorization: Option<String>,
    pub uri: String,
    pub conn: Arc<ConnInfo>,
}

/// What to answer.
#[derive(Debug)]
pub enum Answer {
    /// 200 with an envelope, or 204; `cookie` is set on 200.
    Cwmp {
        body: Option<String>,
        cookie: Option<String>,
    },
    /// An HTTP error with a plain-text reason and extra headers.
    Http {
        status: StatusCode,
        reason: String,
        headers: Vec<(http::HeaderName, String)>,
    },
}

impl Answer {
    pub fn error(status: StatusCode, reason: impl Into<String>) -> Self {
        Answer::Http {
            status,
            reason: reason.into(),
            headers: Vec::new(),
        }
    }

    fn busy(reason: &str, retry_after: u64) -> Self {
        Answer::Http {
            status: StatusCode::SERVICE_UNAVAILABLE,
            reason: reason.into(),
            headers: vec![(http::header::RETRY_AFTER, retry_after.to_string())],
        }
    }
}

const NO_SESSION: &str = "no CWMP session: start with an Inform, then send the tether_session cookie or stay on the same connection";

/// Handles one POST.
pub async fn handle(acs: Arc<Acs>, mut req: SessionRequest) -> Answer {
    // The bytes are dropped once decoded: only the envelope is kept while the session waits
    // for the store.
    let envelope = match req.body.take() {
        None => None,
        Some(bytes) => {
            let options = DecodeOptions {
                max_bytes: usize::try_from(acs.app.config.cwmp.max_body.0).unwrap_or(usize::MAX),
                ..DecodeOptions::default()
            };
            match tether_cwmp::decode_with(&bytes, req.content_type.as_deref(), &options) {
                Ok(d) => Some(d.envelope),
                Err(e) => {
                    return Answer::error(
                        StatusCode::BAD_REQUEST,
                        format!("not a CWMP message: {e}"),
                    );
                }
            }
        }
    };
    let found = find(&acs, &req);
    match envelope {
        Some(env) if matches!(env.body, Body::Inform(_)) => {
            if let Some(sref) = found {
                let retry = {
                    let s = sref.lock().await;
                    s.machine.state() == AcsState::AwaitingInform
                        && matches!(&env.body, Body::Inform(i) if i.device_id.canonical() == s.device_id)
                };
                if retry {
                    return step(&acs, &req, &sref, Some(env)).await;
                }
            }
            start(&acs, &req, env).await
        }
        env => match found {
            Some(sref) => step(&acs, &req, &sref, env).await,
            None => Answer::error(StatusCode::BAD_REQUEST, NO_SESSION),
        },
    }
}

fn find(acs: &Acs, req: &SessionRequest) -> Option<SessionRef> {
    req.cookie
        .as_deref()
        .and_then(|c| acs.sessions.get(c))
        .or_else(|| req.conn.last_session().and_then(|c| acs.sessions.get(&c)))
}

/// A new session from an Inform.
async fn start(acs: &Arc<Acs>, req: &SessionRequest, env: Envelope) -> Answer {
    if acs.closing.is_cancelled() {
        return Answer::busy("the server is shutting down", 30);
    }
    let now = acs.millis();
    let mut machine = AcsSession::new(acs.machine.clone(), now);
    let inform = match machine.handle_message(now, env) {
        Ok(AcsEvent::Inform { inform, .. }) => inform,
        Ok(AcsEvent::Reply(reply)) => return encode_reply(&reply, None),
        Ok(other) => {
            return Answer::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("unexpected session event {other:?}"),
            );
        }
        Err(e) => return Answer::error(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let device_id = inform.device_id.canonical();
    if inform.device_id.oui.is_empty() || inform.device_id.serial_number.is_empty() {
        return Answer::error(
            StatusCode::BAD_REQUEST,
            "the Inform DeviceId needs an OUI and a SerialNumber",
        );
    }
    let attempt = Attempt {
        authorization: req.authorization.as_deref(),
        uri: &req.uri,
        tls: req.conn.tls,
        ip: req.conn.peer.ip(),
        device_id: &device_id,
    };
    let decision = match acs.auth.decide(&*acs.app.store, &attempt).await {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(device = %device_id, error = %e, "store error while authenticating");
            return Answer::busy("the device database is unavailable", 10);
        }
    };
    let (device, owner) = match decision {
        Decision::Allowed { device, owner } => (device, owner),
        Decision::Challenge { stale } => {
            return Answer::Http {
                status: StatusCode::UNAUTHORIZED,
                reason: "authentication required".into(),
                headers: acs
                    .auth
                    .challenges(req.conn.tls, stale)
                    .into_iter()
                    .map(|c| (http::header::WWW_AUTHENTICATE, c))
                    .collect(),
            };
        }
        Decision::Forbidden(reason) => {
            metrics::counter!("tether_cwmp_auth_failures_total").increment(1);
            return Answer::error(StatusCode::FORBIDDEN, reason);
        }
        Decision::TooManyFailures => {
            return Answer::Http {
                status: StatusCode::TOO_MANY_REQUESTS,
                reason: "too many failed authentication attempts from this address".into(),
                headers: vec![(
                    http::header::RETRY_AFTER,
                    super::auth::FAILURE_WINDOW.as_secs().to_string(),
                )],
            };
        }
    };
    let id = new_session_id();
    // A debug span: at `info` a span per session was a measurable share of the ACS's CPU
    // (registry, field formatting, enter and exit on every poll; BENCHMARKS.md, "Fifth round"). Events at `info` and above carry the
    // device and session as fields instead.
    let span = tracing::debug_span!("cwmp_session", device = %device_id, session = %&id[..8]);
    let session = Session {
        id: id.clone(),
        device_id: device_id.clone(),
        machine,
        current: None,
        root: inform::root_of(&inform).to_owned(),
        owner,
        provision: Provision::Settled,
        span: span.clone(),
    };
    let (sref, previous) = match acs.sessions.insert(session) {
        Ok(pair) => pair,
        Err(Full) => return Answer::busy("too many CWMP sessions", 60),
    };
    metrics::counter!("tether_cwmp_sessions_started_total").increment(1);
    req.conn.set_session(&id);
    async {
        tracing::debug!(peer = %req.conn.peer, "session started");
        let mut s = sref.lock().await;
        let answer = inform_step(acs, req, &mut s, *inform, device.as_ref(), owner).await;
        drop(s);
        if let Some(prev) = previous {
            // After the Inform: its M events may settle what the old session left dispatched.
            let mut old = prev.lock().await;
            old.machine.abort();
            tracing::info!(device = %device_id, session = %&id[..8], old = %&old.id[..8], "a new Inform replaced the device's live session");
            end(acs, &mut old, "replaced by a new session").await;
        }
        answer
    }
    .instrument(span)
    .await
}

async fn inform_step(
    acs: &Acs,
    req: &SessionRequest,
    s: &mut Session,
    inform: Inform,
    device: Option<&tether_store::Device>,
    owner: Option<tether_store::AccountId>,
) -> Answer {
    metrics::counter!("tether_cwmp_informs_total").increment(1);
    let bootstrap = inform.has_event(&EventCode::Bootstrap);
    let stored = inform::record(
        &*acs.app.store,
        &acs.app.hub,
        inform,
        device,
        owner,
        req.conn.peer.to_string(),
        clock::now(),
    )
    .await;
    let now = acs.millis();
    let reply = match stored {
        Ok(device) => {
            let enabled = acs.app.config.cwmp.connection_request.provision_credentials;
            if provision::wanted(enabled, &device, bootstrap) {
                s.provision = Provision::Wanted;
            }
            s.machine.accept_inform(now, AcceptOptions::default())
        }
        Err(StoreError::Unavailable(e)) => {
            tracing::warn!(device = %s.device_id, session = %s.short_id(), error = %e, "store unavailable: Inform refused with 8005");
            s.machine
                .reject_inform(now, Fault::new(FaultCode::ACS_RETRY_REQUEST))
        }
        Err(e) => {
            tracing::error!(device = %s.device_id, session = %s.short_id(), error = %e, "cannot store the Inform");
            s.machine
                .reject_inform(now, Fault::new(FaultCode::ACS_INTERNAL_ERROR))
        }
    };
    match reply {
        Ok(reply) => finish(acs, s, reply).await,
        Err(e) => Answer::error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// A later step of a session.
async fn step(
    acs: &Arc<Acs>,
    req: &SessionRequest,
    sref: &SessionRef,
    env: Option<Envelope>,
) -> Answer {
    let mut s = sref.lock().await;
    let span = s.span.clone();
    req.conn.set_session(&s.id);
    async {
        let now = acs.millis();
        let event = match env {
            None => s.machine.handle_empty(now),
            Some(env) => s.machine.handle_message(now, env),
        };
        match event {
            Err(e) => {
                tracing::info!(device = %s.device_id, session = %s.short_id(), error = %e, "protocol error: session failed");
                end(acs, &mut s, "protocol error").await;
                Answer::error(
                    StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_REQUEST),
                    e.to_string(),
                )
            }
            Ok(AcsEvent::Reply(reply)) => finish(acs, &mut s, reply).await,
            Ok(AcsEvent::Inform { inform, .. }) => {
                // The retry of an Inform refused with 8005: same device, already authenticated.
                let device = match acs.app.store.device(&s.device_id).await {
                    Ok(d) => d,
                    Err(e) => {
                        tracing::warn!(device = %s.device_id, session = %s.short_id(), error = %e, "store error while re-reading the device");
                        None
                    }
                };
                let owner = s.owner;
                inform_step(acs, req, &mut s, *inform, device.as_ref(), owner).await
            }
            Ok(AcsEvent::Request(body)) => cpe_request(acs, &mut s, body).await,
            Ok(AcsEvent::Ready(done)) => {
                let answered = done.map(|done| {
                    let provisioning = match std::mem::take(&mut s.provision) {
                        Provision::Sent(credentials) => Some(credentials),
                        other => {
                            s.provision = other;
                            None
                        }
                    };
                    (done, provisioning)
                });
                match answered {
                    None => {}
                    Some((done, Some(credentials))) => {
                        let stored = provision::record_outcome(
                            &*acs.app.store,
                            &s.device_id,
                            &credentials,
                            done.result,
                            clock::now(),
                        )
                        .await;
                        if let Err(e) = stored {
                            // Not stored: nothing relies on them, and the device is asked
                            // again at its next session (if the store still holds none).
                            tracing::error!(device = %s.device_id, session = %s.short_id(), error = %e, "cannot store the outcome of the connection-request credentials");
                        }
                    }
                    Some((done, None)) => {
                        if let Some(d) = s.current.take() {
                            let stored = dispatch::record_result(
                                &*acs.app.store,
                                &acs.app.hub,
                                &s.device_id,
                                &d,
                                done.result,
                                clock::now(),
                            )
                            .await;
                            if let Err(e) = stored {
                                tracing::error!(device = %s.device_id, session = %s.short_id(), task = d.task.0, error = %e, "cannot store a task result");
                                s.current = Some(d);
                                s.machine.abort();
                                end(acs, &mut s, "store error").await;
                                return Answer::busy("the device database is unavailable", 10);
                            }
                        }
                    }
                }
                next_rpc(acs, &mut s).await
            }
        }
    }
    .instrument(span)
    .await
}

/// Sends the connection-request credentials if wanted, else the next task's RPC, or 204 when
/// none is left (SES-03).
async fn next_rpc(acs: &Acs, s: &mut Session) -> Answer {
    if matches!(s.provision, Provision::Wanted) {
        // Settled whatever happens: at most one attempt per session.
        s.provision = Provision::Settled;
        let credentials = provision::new_credentials(&s.device_id);
        let rpc = provision::request(&credentials, &s.root, clock::now());
        match s.machine.send(acs.millis(), rpc) {
            Ok(reply) => {
                tracing::info!(device = %s.device_id, session = %s.short_id(), "sending connection-request credentials");
                s.provision = Provision::Sent(credentials);
                return finish(acs, s, reply).await;
            }
            Err(e) => {
                tracing::warn!(device = %s.device_id, session = %s.short_id(), error = %e, "cannot send connection-request credentials");
            }
        }
    }
    loop {
        let taken = dispatch::take_next(
            &*acs.app.store,
            &acs.app.hub,
            &s.device_id,
            &s.id,
            &s.root,
            clock::now(),
        )
        .await;
        let taken = match taken {
            Ok(Some(t)) => t,
            Ok(None) => break,
            Err(e) => {
                // Nothing was sent: the tasks stay queued for the next session.
                tracing::warn!(device = %s.device_id, session = %s.short_id(), error = %e, "cannot read the task queue; ending the session");
                break;
            }
        };
        let now = acs.millis();
        match s.machine.send(now, taken.rpc) {
            Ok(reply) => {
                tracing::debug!(task = taken.dispatched.task.0, kind = %taken.dispatched.kind, "task sent");
                s.current = Some(taken.dispatched);
                return finish(acs, s, reply).await;
            }
            Err(e) => {
                let _ = dispatch::refuse(
                    &*acs.app.store,
                    &acs.app.hub,
                    &taken.dispatched,
                    e.to_string(),
                    clock::now(),
                )
                .await;
            }
        }
    }
    match s.machine.finish(acs.millis()) {
        Ok(reply) => finish(acs, s, reply).await,
        Err(e) => Answer::error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn cpe_request(acs: &Acs, s: &mut Session, body: Body) -> Answer {
    let now = acs.millis();
    let reply = match body {
        Body::GetRPCMethods => s.machine.respond(
            now,
            Body::GetRPCMethodsResponse(GetRpcMethodsResponse {
                method_list: ACS_METHODS.iter().map(|m| (*m).to_owned()).collect(),
            }),
        ),
        Body::TransferComplete(tc) => {
            let outcome = dispatch::transfer_complete(
                &*acs.app.store,
                &acs.app.hub,
                &s.device_id,
                &tc,
                clock::now(),
            )
            .await;
            let now = acs.millis();
            match outcome {
                Ok(found) => {
                    if !found {
                        tracing::info!(device = %s.device_id, session = %s.short_id(), command_key = %tc.command_key, "TransferComplete for no dispatched task");
                    }
                    s.machine.respond(now, Body::TransferCompleteResponse)
                }
                Err(StoreError::Unavailable(e)) => {
                    tracing::warn!(device = %s.device_id, session = %s.short_id(), error = %e, "store unavailable: TransferComplete refused with 8005");
                    s.machine
                        .respond_fault(now, Fault::new(FaultCode::ACS_RETRY_REQUEST))
                }
                Err(e) => {
                    tracing::error!(device = %s.device_id, session = %s.short_id(), error = %e, "cannot store a TransferComplete");
                    s.machine
                        .respond_fault(now, Fault::new(FaultCode::ACS_INTERNAL_ERROR))
                }
            }
        }
        Body::AutonomousTransferComplete(_) => s
            .machine
            .respond(now, Body::AutonomousTransferCompleteResponse),
        Body::DUStateChangeComplete(_) => {
            s.machine.respond(now, Body::DUStateChangeCompleteResponse)
        }
        Body::AutonomousDUStateChangeComplete(_) => s
            .machine
            .respond(now, Body::AutonomousDUStateChangeCompleteResponse),
        _ => s
            .machine
            .respond_fault(now, Fault::new(FaultCode::ACS_METHOD_NOT_SUPPORTED)),
    };
    match reply {
        Ok(reply) => finish(acs, s, reply).await,
        Err(e) => Answer::error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

fn encode_reply(reply: &Reply, cookie: Option<String>) -> Answer {
    let Some(env) = reply.envelope() else {
        return Answer::Cwmp {
            body: None,
            cookie: None,
        };
    };
    match tether_cwmp::encode(env) {
        Ok(text) => Answer::Cwmp {
            body: Some(text),
            cookie,
        },
        Err(e) => Answer::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot encode the reply: {e}"),
        ),
    }
}

/// Encodes what the machine answered; ends the session when the reply does.
async fn finish(acs: &Acs, s: &mut Session, reply: Reply) -> Answer {
    let answer = encode_reply(&reply, Some(s.id.clone()));
    if reply.ends_session() {
        end(acs, s, "session over").await;
    }
    answer
}

/// Removes the session; a request left outstanding follows the crash-recovery rule.
pub async fn end(acs: &Acs, s: &mut Session, why: &str) {
    acs.sessions.remove(&s.id, &s.device_id);
    match s.machine.state() {
        AcsState::Closed => {
            metrics::counter!("tether_cwmp_sessions_completed_total").increment(1);
        }
        _ => {
            metrics::counter!("tether_cwmp_sessions_failed_total").increment(1);
        }
    }
    if let Provision::Sent(_) = std::mem::take(&mut s.provision) {
        tracing::info!(
            device = %s.device_id,
            session = %s.short_id(),
            why,
            "session ended before the device answered the connection-request credentials; nothing stored"
        );
    }
    if let Some(d) = s.current.take() {
        if let Err(e) =
            dispatch::interrupt(&*acs.app.store, &acs.app.hub, &d, why, clock::now()).await
        {
            tracing::warn!(device = %s.device_id, session = %s.short_id(), task = d.task.0, error = %e, "cannot recover an interrupted task; the next start will");
        } else {
            tracing::info!(device = %s.device_id, session = %s.short_id(), task = d.task.0, kind = %d.kind, why, "task interrupted");
        }
    }
}

/// Expires sessions whose machine deadline passed; on hard shutdown, ends every session.
pub async fn reap(acs: Arc<Acs>, shutdown: Shutdown) {
    let every = Duration::from_millis(500);
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = shutdown.hard.cancelled() => break,
        }
        if shutdown.graceful.is_cancelled() && acs.sessions.is_empty() {
            return;
        }
        let now = acs.millis();
        for sref in acs.sessions.all() {
            let Ok(mut s) = sref.try_lock() else {
                continue; // busy with a request: not idle
            };
            if let Some(expired) = s.machine.handle_timeout(now) {
                let why = format!("{:?} timeout", expired.kind);
                let span = s.span.clone();
                end(&acs, &mut s, &why).instrument(span).await;
            }
        }
    }
    for sref in acs.sessions.all() {
        let mut s = sref.lock().await;
        s.machine.abort();
        end(&acs, &mut s, "server shutdown").await;
    }
}
