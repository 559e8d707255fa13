//! The ACS side of one CWMP session: [`AcsSession`].
//!
//! Owns the order of messages the server sees and answers within one session (INF-01/02,
//! ENV-03/06/07/08/11/13, SES-02..06) and the session's two timers. It must not authenticate,
//! store, choose which RPCs to run, or touch HTTP: the server keys sessions by cookie and device,
//! decodes bodies, and turns each [`Reply`] into an HTTP response.
//!
//! One call per HTTP exchange step:
//!
//! 1. the CPE's POST arrives: [`AcsSession::handle_message`] or [`AcsSession::handle_empty`]
//!    returns an [`AcsEvent`];
//! 2. the driver decides (accept the Inform, answer a CPE request, pick the next ACS request) and
//!    calls the matching method, which returns the [`Reply`] to send.
//!
//! Every [`AcsError`] returned by `handle_*` is the CPE's fault: the driver answers
//! [`AcsError::http_status`] (400) and drops the session; [`AcsSession::outstanding`] then tells
//! which ACS request may or may not have run (SES-06). Errors from the driver-side methods leave
//! the state unchanged.

use super::{Millis, must_understand_fault, response_name};
use crate::envelope::Envelope;
use crate::fault::{Fault, FaultCode};
use crate::header::Header;
use crate::namespace::{CwmpNamespace, CwmpVersion};
use crate::rpc::{Body, Implementer, Inform, InformResponse};
use std::time::Duration;
use thiserror::Error;

/// Settings of the ACS side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcsConfig {
    /// Protocol versions this ACS serves. Without 1.4 the ACS behaves as one that predates
    /// version negotiation: it ignores `SupportedCWMPVersions` (ENV-07 step 3).
    pub versions: Vec<CwmpVersion>,
    /// Longest silence from the CPE (or the driver) before the session expires. Default 30 s.
    pub inactivity_timeout: Duration,
    /// Longest session, whatever happens in it. Default 5 minutes.
    pub session_limit: Duration,
    /// Prefix of the `cwmp:ID` of ACS requests; a counter from 1 follows it.
    pub id_prefix: String,
}

impl Default for AcsConfig {
    fn default() -> Self {
        Self {
            versions: CwmpVersion::ALL.to_vec(),
            inactivity_timeout: Duration::from_secs(30),
            session_limit: Duration::from_secs(300),
            id_prefix: "acs-".to_owned(),
        }
    }
}

/// What the driver decided about the Inform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AcceptOptions {
    /// Send `HoldRequests=true` so the CPE sends no requests of its own (SES-02); can be changed
    /// later with [`AcsSession::set_hold_requests`].
    pub hold_requests: bool,
}

/// The HTTP response the driver sends.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// 200 with this envelope; the session continues.
    Message(Envelope),
    /// 200 with this envelope (a fault to the Inform); the session is over.
    FinalMessage(Envelope),
    /// 204 No Content: the ACS has nothing more; the session is over (SES-03).
    NoContent,
}

impl Reply {
    /// The HTTP status code (HTTP-03).
    pub fn status(&self) -> u16 {
        match self {
            Self::NoContent => 204,
            _ => 200,
        }
    }

    /// The envelope to encode, if any.
    pub fn envelope(&self) -> Option<&Envelope> {
        match self {
            Self::Message(e) | Self::FinalMessage(e) => Some(e),
            Self::NoContent => None,
        }
    }

    /// Whether the session is over once this is sent.
    pub fn ends_session(&self) -> bool {
        !matches!(self, Self::Message(_))
    }
}

/// An ACS request sent and not yet answered.
#[derive(Debug, Clone, PartialEq)]
pub struct Outstanding {
    /// Its `cwmp:ID`.
    pub id: String,
    /// The request.
    pub request: Body,
}

/// An ACS request and how the CPE answered it.
#[derive(Debug, Clone, PartialEq)]
pub struct Completed {
    /// The request.
    pub request: Outstanding,
    /// The CPE's `...Response`, or its fault.
    pub result: Result<Body, Fault>,
}

/// What a CPE message means for the driver.
#[derive(Debug, Clone, PartialEq)]
pub enum AcsEvent {
    /// The session's Inform. Authenticate and store it, then call
    /// [`AcsSession::accept_inform`] or [`AcsSession::reject_inform`].
    Inform {
        /// The Inform.
        inform: Box<Inform>,
        /// Its header (SessionTimeout, SupportedCWMPVersions).
        header: Header,
    },
    /// A CPE request (TransferComplete, GetRPCMethods, ...). Answer it with
    /// [`AcsSession::respond`] or [`AcsSession::respond_fault`].
    Request(Body),
    /// The machine answered by itself (8000 for an unknown method, a MustUnderstand fault):
    /// send this.
    Reply(Reply),
    /// The ACS may send a request: call [`AcsSession::send`] or [`AcsSession::finish`]. Carries
    /// the ACS request this POST answered, if any.
    Ready(Option<Completed>),
}

/// Where a session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcsState {
    /// Waiting for the first POST.
    AwaitingInform,
    /// The driver must accept or reject the Inform.
    InformReceived,
    /// Waiting for a CPE request or the empty POST.
    CpeRequests,
    /// The driver must answer a CPE request.
    AnsweringRequest,
    /// The driver must send its next request or finish.
    Ready,
    /// An ACS request is outstanding.
    AwaitingResponse,
    /// Ended normally (204 sent, or a fault to the Inform).
    Closed,
    /// Ended by a protocol error or a broken transport.
    Failed,
    /// Ended by a timeout.
    Expired,
}

/// Which timer ended a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpiryKind {
    /// No activity for [`AcsConfig::inactivity_timeout`].
    Inactivity,
    /// The session lasted [`AcsConfig::session_limit`].
    SessionLimit,
}

/// A session ended by a timer.
#[derive(Debug, Clone, PartialEq)]
pub struct Expired {
    /// Which timer.
    pub kind: ExpiryKind,
    /// The ACS request that was in flight (SES-06): it may or may not have run.
    pub outstanding: Option<Outstanding>,
}

/// What went wrong in an ACS session.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum AcsError {
    /// The session did not start with an Inform (INF-01/02).
    #[error("the session must start with an Inform, got {got}")]
    NotInform {
        /// What came instead (`empty POST` or a method name).
        got: String,
    },
    /// A second Inform in one session (INF-01).
    #[error("a second Inform in the same session")]
    DuplicateInform,
    /// A message that has no place at this point of the session.
    #[error("unexpected {got} while {state:?}")]
    UnexpectedMessage {
        /// Where the session stood.
        state: AcsState,
        /// Method name or `empty POST`.
        got: String,
    },
    /// A response (or fault) that does not answer the outstanding request.
    #[error("expected {expected} (ID {expected_id}), got {got} (ID {got_id:?})")]
    MismatchedResponse {
        /// The response name expected.
        expected: String,
        /// The outstanding request's ID.
        expected_id: String,
        /// What came.
        got: String,
        /// Its ID.
        got_id: Option<String>,
    },
    /// A response carrying a `mustUnderstand="1"` header this crate does not know (ENV-06).
    #[error("headers not understood: {0:?}")]
    NotUnderstood(Vec<String>),
    /// Input after the session ended.
    #[error("the session is over")]
    Closed,
    /// A driver call that does not fit the current state.
    #[error("{call} is not possible while {state:?}")]
    WrongState {
        /// The method called.
        call: &'static str,
        /// Where the session stood.
        state: AcsState,
    },
    /// The driver answered a CPE request with another method's response (ENV-13, pitfall #13).
    #[error("{request} must be answered with {expected}, not {got}")]
    WrongResponse {
        /// The CPE request.
        request: String,
        /// The response element it requires.
        expected: String,
        /// What the driver gave.
        got: String,
    },
    /// A fault code outside the ACS range 8000-8899.
    #[error("fault {0} is not an ACS fault code")]
    NotAnAcsFault(FaultCode),
    /// The body is not a request a CPE implements.
    #[error("{0} is not a request the CPE implements")]
    NotACpeRequest(String),
    /// The method does not exist in the session's protocol version.
    #[error("{method} does not exist in namespace {namespace}")]
    NotInVersion {
        /// Method.
        method: String,
        /// Session namespace.
        namespace: CwmpNamespace,
    },
    /// `finish` or `send` while an ACS request is outstanding (SES-03, SES-05).
    #[error("request {id} is still outstanding")]
    RequestOutstanding {
        /// Its ID.
        id: String,
    },
}

impl AcsError {
    /// The HTTP status the driver answers with: 400 for the CPE's protocol errors (then drop
    /// the session), 500 for a driver call out of order.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::WrongState { .. }
            | Self::WrongResponse { .. }
            | Self::NotAnAcsFault(_)
            | Self::NotACpeRequest(_)
            | Self::NotInVersion { .. }
            | Self::RequestOutstanding { .. } => 500,
            _ => 400,
        }
    }
}

#[derive(Debug, Clone)]
enum St {
    AwaitingInform,
    InformReceived {
        id: Option<String>,
        namespace: CwmpNamespace,
        header: Header,
    },
    CpeRequests,
    Answering {
        id: Option<String>,
        request: String,
    },
    Ready,
    AwaitingResponse,
    Closed,
    Failed,
    Expired,
}

/// One CWMP session as the ACS sees it. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct AcsSession {
    config: AcsConfig,
    state: St,
    namespace: CwmpNamespace,
    version: Option<CwmpVersion>,
    hold: bool,
    outstanding: Option<Outstanding>,
    next_id: u64,
    inform_retries: u32,
    started: Millis,
    last_activity: Millis,
}

impl AcsSession {
    /// A session whose first POST arrived at `now`.
    pub fn new(config: AcsConfig, now: Millis) -> Self {
        Self {
            config,
            state: St::AwaitingInform,
            namespace: CwmpNamespace::V1_2,
            version: None,
            hold: false,
            outstanding: None,
            next_id: 1,
            inform_retries: 0,
            started: now,
            last_activity: now,
        }
    }

    /// Where the session stands.
    pub fn state(&self) -> AcsState {
        match self.state {
            St::AwaitingInform => AcsState::AwaitingInform,
            St::InformReceived { .. } => AcsState::InformReceived,
            St::CpeRequests => AcsState::CpeRequests,
            St::Answering { .. } => AcsState::AnsweringRequest,
            St::Ready => AcsState::Ready,
            St::AwaitingResponse => AcsState::AwaitingResponse,
            St::Closed => AcsState::Closed,
            St::Failed => AcsState::Failed,
            St::Expired => AcsState::Expired,
        }
    }

    /// Whether the session has ended (closed, failed or expired).
    pub fn is_over(&self) -> bool {
        matches!(self.state, St::Closed | St::Failed | St::Expired)
    }

    /// The namespace every ACS message of this session uses (ENV-03), once the Inform is
    /// accepted.
    pub fn namespace(&self) -> CwmpNamespace {
        self.namespace
    }

    /// The protocol version of the session, once the Inform is accepted (ENV-07).
    pub fn version(&self) -> Option<CwmpVersion> {
        self.version
    }

    /// The ACS request in flight, if any: after a failure or expiry it may or may not have run
    /// on the CPE (SES-06).
    pub fn outstanding(&self) -> Option<&Outstanding> {
        self.outstanding.as_ref()
    }

    /// How many times the Inform was refused with 8005 in this session.
    pub fn inform_retries(&self) -> u32 {
        self.inform_retries
    }

    /// Whether messages before the CPE's empty POST carry `HoldRequests=true`.
    pub fn hold_requests(&self) -> bool {
        self.hold
    }

    /// Turns `HoldRequests` on or off for the following messages (SES-02).
    pub fn set_hold_requests(&mut self, hold: bool) {
        self.hold = hold;
    }

    /// The next deadline: inactivity or the session cap, whichever is first.
    pub fn poll_timeout(&self) -> Option<Millis> {
        if self.is_over() {
            return None;
        }
        let idle = self
            .last_activity
            .saturating_add(self.config.inactivity_timeout);
        let cap = self.started.saturating_add(self.config.session_limit);
        Some(idle.min(cap))
    }

    /// Expires the session if a deadline has passed; the driver then drops it.
    pub fn handle_timeout(&mut self, now: Millis) -> Option<Expired> {
        let deadline = self.poll_timeout()?;
        if now < deadline {
            return None;
        }
        let cap = self.started.saturating_add(self.config.session_limit);
        let kind = if now >= cap {
            ExpiryKind::SessionLimit
        } else {
            ExpiryKind::Inactivity
        };
        self.state = St::Expired;
        Some(Expired {
            kind,
            outstanding: self.outstanding.clone(),
        })
    }

    /// The transport broke or the driver gave up: the session fails. Returns the ACS request
    /// that was in flight (SES-06).
    pub fn abort(&mut self) -> Option<Outstanding> {
        if !self.is_over() {
            self.state = St::Failed;
        }
        self.outstanding.clone()
    }

    /// A POST carrying an envelope.
    pub fn handle_message(
        &mut self,
        now: Millis,
        envelope: Envelope,
    ) -> Result<AcsEvent, AcsError> {
        self.input(now)?;
        let Envelope {
            namespace,
            header,
            body,
        } = envelope;
        match &self.state {
            St::AwaitingInform => {
                let Body::Inform(inform) = body else {
                    return self.fail(AcsError::NotInform {
                        got: body.method_name().to_owned(),
                    });
                };
                if !header.not_understood.is_empty() {
                    let fault = must_understand_fault(true, &header.not_understood);
                    self.state = St::Closed;
                    let env = Envelope::new(namespace, header.id, Body::Fault(fault));
                    return Ok(AcsEvent::Reply(Reply::FinalMessage(env)));
                }
                self.state = St::InformReceived {
                    id: header.id.clone(),
                    namespace,
                    header: header.clone(),
                };
                Ok(AcsEvent::Inform {
                    inform: Box::new(inform),
                    header,
                })
            }
            St::CpeRequests => self.cpe_request(header, body),
            St::AwaitingResponse => self.cpe_response(header, body),
            St::InformReceived { .. } | St::Answering { .. } | St::Ready => {
                let state = self.state();
                self.fail(AcsError::UnexpectedMessage {
                    state,
                    got: body.method_name().to_owned(),
                })
            }
            St::Closed | St::Failed | St::Expired => Err(AcsError::Closed),
        }
    }

    /// An empty POST (SES-02): the CPE has no more requests.
    pub fn handle_empty(&mut self, now: Millis) -> Result<AcsEvent, AcsError> {
        self.input(now)?;
        match self.state {
            St::AwaitingInform => self.fail(AcsError::NotInform {
                got: "empty POST".to_owned(),
            }),
            St::CpeRequests => {
                self.state = St::Ready;
                Ok(AcsEvent::Ready(None))
            }
            St::Closed | St::Failed | St::Expired => Err(AcsError::Closed),
            _ => {
                let state = self.state();
                self.fail(AcsError::UnexpectedMessage {
                    state,
                    got: "empty POST".to_owned(),
                })
            }
        }
    }

    /// Accepts the Inform: returns the InformResponse in the CPE's namespace with its `cwmp:ID`
    /// (ENV-03), `MaxEnvelopes` 1 (ENV-08) and, when the CPE offered `SupportedCWMPVersions` and
    /// this ACS serves 1.4, `UseCWMPVersion` (ENV-07). No common version ⇒ fault 8006 and the
    /// session ends.
    pub fn accept_inform(
        &mut self,
        now: Millis,
        options: AcceptOptions,
    ) -> Result<Reply, AcsError> {
        let St::InformReceived {
            id,
            namespace: cpe_ns,
            header,
        } = &self.state
        else {
            return Err(self.wrong_state("accept_inform"));
        };
        let (id, cpe_ns) = (id.clone(), *cpe_ns);
        let ours = &self.config.versions;
        let negotiates = ours.contains(&CwmpVersion::V1_4);
        let (version, use_version) = match (&header.supported_cwmp_versions, negotiates) {
            (Some(theirs), true) => match CwmpVersion::highest_common(ours, theirs) {
                Some(v) => (Some(v), Some(v)),
                None => (None, None),
            },
            _ => {
                // No negotiation: the highest version of ours the CPE's namespace can carry;
                // 1.3 only when the CPE signalled it with SessionTimeout (ENV-01).
                let cap = match cpe_ns {
                    CwmpNamespace::V1_2 if header.session_timeout.is_some() => CwmpVersion::V1_3,
                    CwmpNamespace::V1_2 => CwmpVersion::V1_2,
                    other => other.max_version(),
                };
                (ours.iter().filter(|v| **v <= cap).max().copied(), None)
            }
        };
        self.last_activity = now;
        let Some(version) = version else {
            self.state = St::Closed;
            let fault = Fault::new(FaultCode::ACS_VERSION_INCOMPATIBLE);
            return Ok(Reply::FinalMessage(Envelope::new(
                cpe_ns,
                id,
                Body::Fault(fault),
            )));
        };
        let namespace = cpe_ns.min(CwmpNamespace::for_version(version));
        self.namespace = namespace;
        self.version = Some(version);
        self.hold = options.hold_requests;
        self.state = St::CpeRequests;
        let mut env = Envelope::new(
            namespace,
            id,
            Body::InformResponse(InformResponse { max_envelopes: 1 }),
        );
        env.header.use_cwmp_version = use_version;
        env.header.hold_requests = self.hold.then_some(true);
        Ok(Reply::Message(env))
    }

    /// Refuses the Inform with an ACS fault. 8005 (retry) keeps the session waiting for the
    /// same Inform again and counts it; any other fault ends the session (INF-02, FLT-04).
    pub fn reject_inform(&mut self, now: Millis, fault: Fault) -> Result<Reply, AcsError> {
        let St::InformReceived { id, namespace, .. } = &self.state else {
            return Err(self.wrong_state("reject_inform"));
        };
        if !fault.code.is_acs() {
            return Err(AcsError::NotAnAcsFault(fault.code));
        }
        let env = Envelope::new(*namespace, id.clone(), Body::Fault(fault.clone()));
        self.last_activity = now;
        if fault.code == FaultCode::ACS_RETRY_REQUEST {
            self.inform_retries += 1;
            self.state = St::AwaitingInform;
            Ok(Reply::Message(env))
        } else {
            self.state = St::Closed;
            Ok(Reply::FinalMessage(env))
        }
    }

    /// Answers the CPE request with its `...Response` body; the name is enforced (ENV-13).
    pub fn respond(&mut self, now: Millis, response: Body) -> Result<Reply, AcsError> {
        let St::Answering { id, request } = &self.state else {
            return Err(self.wrong_state("respond"));
        };
        let expected = response_name(request);
        if response.method_name() != expected {
            return Err(AcsError::WrongResponse {
                request: request.clone(),
                expected,
                got: response.method_name().to_owned(),
            });
        }
        let id = id.clone();
        Ok(self.answer(now, id, response))
    }

    /// Answers the CPE request with an ACS fault (8000-8899; 8005 makes the CPE resend it).
    pub fn respond_fault(&mut self, now: Millis, fault: Fault) -> Result<Reply, AcsError> {
        let St::Answering { id, .. } = &self.state else {
            return Err(self.wrong_state("respond_fault"));
        };
        if !fault.code.is_acs() {
            return Err(AcsError::NotAnAcsFault(fault.code));
        }
        let id = id.clone();
        Ok(self.answer(now, id, Body::Fault(fault)))
    }

    /// Sends the next ACS request with a fresh `cwmp:ID` (one outstanding at a time, SES-05).
    pub fn send(&mut self, now: Millis, request: Body) -> Result<Reply, AcsError> {
        match self.state {
            St::Ready => {}
            St::AwaitingResponse => return Err(self.request_outstanding()),
            _ => return Err(self.wrong_state("send")),
        }
        let implemented_by_cpe = matches!(
            request.implementer(),
            Some(Implementer::Cpe | Implementer::Both)
        );
        if !implemented_by_cpe {
            return Err(AcsError::NotACpeRequest(request.method_name().to_owned()));
        }
        if request.since() > self.namespace.max_version() {
            return Err(AcsError::NotInVersion {
                method: request.method_name().to_owned(),
                namespace: self.namespace,
            });
        }
        let id = format!("{}{}", self.config.id_prefix, self.next_id);
        self.next_id += 1;
        self.outstanding = Some(Outstanding {
            id: id.clone(),
            request: request.clone(),
        });
        self.state = St::AwaitingResponse;
        self.last_activity = now;
        Ok(Reply::Message(Envelope::new(
            self.namespace,
            Some(id),
            request,
        )))
    }

    /// Ends the session with 204 No Content (SES-03). An error while a request is outstanding.
    pub fn finish(&mut self, now: Millis) -> Result<Reply, AcsError> {
        match self.state {
            St::Ready => {
                self.state = St::Closed;
                self.last_activity = now;
                Ok(Reply::NoContent)
            }
            St::AwaitingResponse => Err(self.request_outstanding()),
            _ => Err(self.wrong_state("finish")),
        }
    }

    fn cpe_request(&mut self, header: Header, body: Body) -> Result<AcsEvent, AcsError> {
        if matches!(body, Body::Inform(_)) {
            return self.fail(AcsError::DuplicateInform);
        }
        if !body.is_request() {
            return self.fail(AcsError::UnexpectedMessage {
                state: AcsState::CpeRequests,
                got: body.method_name().to_owned(),
            });
        }
        if !header.not_understood.is_empty() {
            let fault = must_understand_fault(true, &header.not_understood);
            return Ok(AcsEvent::Reply(
                self.envelope_reply(header.id, Body::Fault(fault)),
            ));
        }
        match body.implementer() {
            Some(Implementer::Acs | Implementer::Both) => {
                self.state = St::Answering {
                    id: header.id,
                    request: body.method_name().to_owned(),
                };
                Ok(AcsEvent::Request(body))
            }
            // Unknown methods and CPE-side methods: 8000 (ENV-11).
            _ => {
                let fault = Fault::new(FaultCode::ACS_METHOD_NOT_SUPPORTED);
                Ok(AcsEvent::Reply(
                    self.envelope_reply(header.id, Body::Fault(fault)),
                ))
            }
        }
    }

    fn cpe_response(&mut self, header: Header, body: Body) -> Result<AcsEvent, AcsError> {
        let Some(out) = self.outstanding.clone() else {
            return self.fail(AcsError::UnexpectedMessage {
                state: AcsState::AwaitingResponse,
                got: body.method_name().to_owned(),
            });
        };
        let expected = response_name(out.request.method_name());
        let id_ok = header.id.as_ref().is_none_or(|id| *id == out.id);
        let name_ok = matches!(body, Body::Fault(_)) || body.method_name() == expected;
        if !id_ok || !name_ok {
            return self.fail(AcsError::MismatchedResponse {
                expected,
                expected_id: out.id,
                got: body.method_name().to_owned(),
                got_id: header.id,
            });
        }
        if !header.not_understood.is_empty() {
            return self.fail(AcsError::NotUnderstood(header.not_understood));
        }
        self.outstanding = None;
        self.state = St::Ready;
        let result = match body {
            Body::Fault(f) => Err(f),
            other => Ok(other),
        };
        Ok(AcsEvent::Ready(Some(Completed {
            request: out,
            result,
        })))
    }

    fn answer(&mut self, now: Millis, id: Option<String>, body: Body) -> Reply {
        self.last_activity = now;
        self.state = St::CpeRequests;
        self.envelope_reply(id, body)
    }

    fn envelope_reply(&self, id: Option<String>, body: Body) -> Reply {
        let mut env = Envelope::new(self.namespace, id, body);
        env.header.hold_requests = self.hold.then_some(true);
        Reply::Message(env)
    }

    /// Common to every input: refuse after the end, expire if a deadline passed unnoticed.
    fn input(&mut self, now: Millis) -> Result<(), AcsError> {
        if self.is_over() {
            return Err(AcsError::Closed);
        }
        if self.handle_timeout(now).is_some() {
            return Err(AcsError::Closed);
        }
        self.last_activity = now;
        Ok(())
    }

    fn fail<T>(&mut self, error: AcsError) -> Result<T, AcsError> {
        self.state = St::Failed;
        Err(error)
    }

    fn wrong_state(&self, call: &'static str) -> AcsError {
        AcsError::WrongState {
            call,
            state: self.state(),
        }
    }

    fn request_outstanding(&self) -> AcsError {
        AcsError::RequestOutstanding {
            id: self
                .outstanding
                .as_ref()
                .map(|o| o.id.clone())
                .unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::{GetParameterValues, GetParameterValuesResponse, TransferComplete};
    use crate::{DeviceId, Event, EventCode};

    const T0: Millis = Millis(1_000);

    fn inform_env(ns: CwmpNamespace, id: Option<&str>) -> Envelope {
        let inform = Inform {
            device_id: DeviceId {
                manufacturer: "Tether".into(),
                oui: "00E0FC".into(),
                product_class: "SIM".into(),
                serial_number: "1".into(),
            },
            events: vec![Event::new(EventCode::Periodic)],
            ..Default::default()
        };
        Envelope::new(ns, id.map(str::to_owned), Body::Inform(inform))
    }

    fn accepted(ns: CwmpNamespace) -> AcsSession {
        let mut s = AcsSession::new(AcsConfig::default(), T0);
        s.handle_message(T0, inform_env(ns, Some("i1"))).unwrap();
        s.accept_inform(T0, AcceptOptions::default()).unwrap();
        s
    }

    fn ready() -> AcsSession {
        let mut s = accepted(CwmpNamespace::V1_2);
        assert_eq!(s.handle_empty(T0).unwrap(), AcsEvent::Ready(None));
        s
    }

    fn gpv() -> Body {
        Body::GetParameterValues(GetParameterValues {
            parameter_names: vec!["Device.".into()],
        })
    }

    fn gpv_response() -> Body {
        Body::GetParameterValuesResponse(GetParameterValuesResponse::default())
    }

    fn msg(reply: Reply) -> Envelope {
        match reply {
            Reply::Message(e) => e,
            other => panic!("expected a continuing message, got {other:?}"),
        }
    }

    #[test]
    fn inf_01_a_first_message_other_than_inform_is_answered_400_and_the_session_fails() {
        let mut s = AcsSession::new(AcsConfig::default(), T0);
        let err = s
            .handle_message(T0, Envelope::new(CwmpNamespace::V1_2, None, gpv_response()))
            .unwrap_err();
        assert_eq!(
            err,
            AcsError::NotInform {
                got: "GetParameterValuesResponse".into()
            }
        );
        assert_eq!(err.http_status(), 400);
        assert_eq!(s.state(), AcsState::Failed);
        assert_eq!(s.handle_empty(T0), Err(AcsError::Closed));
    }

    #[test]
    fn inf_02_an_empty_first_post_is_refused() {
        let mut s = AcsSession::new(AcsConfig::default(), T0);
        assert_eq!(
            s.handle_empty(T0),
            Err(AcsError::NotInform {
                got: "empty POST".into()
            })
        );
        assert_eq!(s.state(), AcsState::Failed);
    }

    #[test]
    fn env_03_inform_response_uses_the_cpe_namespace_and_echoes_the_id() {
        for ns in [
            CwmpNamespace::V1_0,
            CwmpNamespace::V1_1,
            CwmpNamespace::V1_2,
        ] {
            let mut s = AcsSession::new(AcsConfig::default(), T0);
            let AcsEvent::Inform { inform, .. } =
                s.handle_message(T0, inform_env(ns, Some("abc"))).unwrap()
            else {
                panic!("expected the Inform")
            };
            assert_eq!(inform.device_id.serial_number, "1");
            let env = msg(s.accept_inform(T0, AcceptOptions::default()).unwrap());
            assert_eq!(env.namespace, ns);
            assert_eq!(env.header.id.as_deref(), Some("abc"));
            assert_eq!(
                env.header.use_cwmp_version, None,
                "no SupportedCWMPVersions, no UseCWMPVersion"
            );
            assert_eq!(
                env.body,
                Body::InformResponse(InformResponse { max_envelopes: 1 })
            );
            assert_eq!(s.namespace(), ns);
        }
    }

    #[test]
    fn env_03_inform_without_header_gets_a_response_without_id() {
        let mut s = AcsSession::new(AcsConfig::default(), T0);
        s.handle_message(T0, inform_env(CwmpNamespace::V1_0, None))
            .unwrap();
        let env = msg(s.accept_inform(T0, AcceptOptions::default()).unwrap());
        assert_eq!(env.header.id, None);
    }

    #[test]
    fn env_08_max_envelopes_other_than_1_is_answered_with_1() {
        let mut s = AcsSession::new(AcsConfig::default(), T0);
        let mut env = inform_env(CwmpNamespace::V1_2, Some("x"));
        if let Body::Inform(i) = &mut env.body {
            i.max_envelopes = 5;
        }
        s.handle_message(T0, env).unwrap();
        let env = msg(s.accept_inform(T0, AcceptOptions::default()).unwrap());
        assert_eq!(
            env.body,
            Body::InformResponse(InformResponse { max_envelopes: 1 })
        );
    }

    #[test]
    fn env_07_negotiates_the_highest_common_version() {
        let mut s = AcsSession::new(AcsConfig::default(), T0);
        let mut env = inform_env(CwmpNamespace::V1_2, Some("x"));
        env.header.supported_cwmp_versions = Some(vec![CwmpVersion::V1_0, CwmpVersion::V1_3]);
        s.handle_message(T0, env).unwrap();
        let env = msg(s.accept_inform(T0, AcceptOptions::default()).unwrap());
        assert_eq!(env.header.use_cwmp_version, Some(CwmpVersion::V1_3));
        assert_eq!(env.namespace, CwmpNamespace::V1_2);
        assert_eq!(s.version(), Some(CwmpVersion::V1_3));
    }

    #[test]
    fn env_07_no_common_version_gives_fault_8006_and_ends_the_session() {
        let config = AcsConfig {
            versions: vec![CwmpVersion::V1_4],
            ..AcsConfig::default()
        };
        let mut s = AcsSession::new(config, T0);
        let mut env = inform_env(CwmpNamespace::V1_2, Some("x"));
        env.header.supported_cwmp_versions = Some(vec![CwmpVersion::V1_2, CwmpVersion::V1_3]);
        s.handle_message(T0, env).unwrap();
        let reply = s.accept_inform(T0, AcceptOptions::default()).unwrap();
        assert!(reply.ends_session());
        let fault = reply.envelope().unwrap().body.as_fault().unwrap().clone();
        assert_eq!(fault.code, FaultCode::ACS_VERSION_INCOMPATIBLE);
        assert_eq!(reply.envelope().unwrap().header.id.as_deref(), Some("x"));
        assert_eq!(s.state(), AcsState::Closed);
    }

    #[test]
    fn env_07_an_acs_without_1_4_ignores_supported_versions() {
        let config = AcsConfig {
            versions: vec![CwmpVersion::V1_0, CwmpVersion::V1_1, CwmpVersion::V1_2],
            ..AcsConfig::default()
        };
        let mut s = AcsSession::new(config, T0);
        let mut env = inform_env(CwmpNamespace::V1_2, Some("x"));
        env.header.supported_cwmp_versions = Some(CwmpVersion::ALL.to_vec());
        env.header.session_timeout = Some(60);
        s.handle_message(T0, env).unwrap();
        let env = msg(s.accept_inform(T0, AcceptOptions::default()).unwrap());
        assert_eq!(env.header.use_cwmp_version, None);
        assert_eq!(env.namespace, CwmpNamespace::V1_2);
        assert_eq!(s.version(), Some(CwmpVersion::V1_2));
    }

    #[test]
    fn inf_02_fault_8005_to_inform_counts_and_waits_for_the_inform_again() {
        let mut s = AcsSession::new(AcsConfig::default(), T0);
        s.handle_message(T0, inform_env(CwmpNamespace::V1_2, Some("x")))
            .unwrap();
        let reply = s
            .reject_inform(T0, Fault::new(FaultCode::ACS_RETRY_REQUEST))
            .unwrap();
        assert!(!reply.ends_session());
        assert_eq!(
            reply.envelope().unwrap().body.as_fault().unwrap().code,
            FaultCode(8005)
        );
        assert_eq!(s.inform_retries(), 1);
        assert_eq!(s.state(), AcsState::AwaitingInform);
        assert!(matches!(
            s.handle_message(T0, inform_env(CwmpNamespace::V1_2, Some("x"))),
            Ok(AcsEvent::Inform { .. })
        ));
    }

    #[test]
    fn flt_04_any_other_fault_to_inform_ends_the_session() {
        let mut s = AcsSession::new(AcsConfig::default(), T0);
        s.handle_message(T0, inform_env(CwmpNamespace::V1_2, Some("x")))
            .unwrap();
        assert_eq!(
            s.reject_inform(T0, Fault::new(FaultCode(9000))),
            Err(AcsError::NotAnAcsFault(FaultCode(9000)))
        );
        let reply = s
            .reject_inform(T0, Fault::new(FaultCode::ACS_REQUEST_DENIED))
            .unwrap();
        assert!(reply.ends_session());
        assert_eq!(s.state(), AcsState::Closed);
    }

    #[test]
    fn env_13_transfer_complete_must_be_answered_with_transfer_complete_response() {
        let mut s = accepted(CwmpNamespace::V1_2);
        let tc = Envelope::new(
            CwmpNamespace::V1_2,
            Some("c1".into()),
            Body::TransferComplete(TransferComplete::default()),
        );
        assert!(matches!(
            s.handle_message(T0, tc).unwrap(),
            AcsEvent::Request(Body::TransferComplete(_))
        ));
        let err = s.respond(T0, Body::RequestDownloadResponse).unwrap_err();
        assert_eq!(
            err,
            AcsError::WrongResponse {
                request: "TransferComplete".into(),
                expected: "TransferCompleteResponse".into(),
                got: "RequestDownloadResponse".into()
            }
        );
        assert_eq!(
            s.state(),
            AcsState::AnsweringRequest,
            "a driver mistake leaves the state"
        );
        let env = msg(s.respond(T0, Body::TransferCompleteResponse).unwrap());
        assert_eq!(env.header.id.as_deref(), Some("c1"));
        assert_eq!(env.body, Body::TransferCompleteResponse);
        assert_eq!(s.state(), AcsState::CpeRequests);
    }

    #[test]
    fn cpe_request_can_be_answered_with_8005_and_resent() {
        let mut s = accepted(CwmpNamespace::V1_2);
        let tc = Envelope::new(
            CwmpNamespace::V1_2,
            Some("c1".into()),
            Body::TransferComplete(TransferComplete::default()),
        );
        s.handle_message(T0, tc.clone()).unwrap();
        let env = msg(s
            .respond_fault(T0, Fault::new(FaultCode::ACS_RETRY_REQUEST))
            .unwrap());
        assert_eq!(env.body.as_fault().unwrap().code, FaultCode(8005));
        assert!(matches!(
            s.handle_message(T0, tc).unwrap(),
            AcsEvent::Request(_)
        ));
    }

    #[test]
    fn env_11_unknown_and_cpe_side_methods_are_answered_8000_by_the_machine() {
        let mut s = accepted(CwmpNamespace::V1_2);
        for body in [
            Body::Unknown {
                name: "X_VENDOR_Thing".into(),
            },
            gpv(),
        ] {
            let ev = s
                .handle_message(
                    T0,
                    Envelope::new(CwmpNamespace::V1_2, Some("u".into()), body),
                )
                .unwrap();
            let AcsEvent::Reply(Reply::Message(env)) = ev else {
                panic!("expected a reply, got {ev:?}")
            };
            assert_eq!(
                env.body.as_fault().unwrap().code,
                FaultCode::ACS_METHOD_NOT_SUPPORTED
            );
            assert_eq!(env.header.id.as_deref(), Some("u"));
            assert_eq!(s.state(), AcsState::CpeRequests);
        }
    }

    #[test]
    fn env_06_unknown_must_understand_header_gets_a_soap_fault() {
        let mut s = accepted(CwmpNamespace::V1_2);
        let mut env = Envelope::new(CwmpNamespace::V1_2, Some("g".into()), Body::GetRPCMethods);
        env.header.not_understood = vec!["X_Foo".into()];
        let AcsEvent::Reply(reply) = s.handle_message(T0, env).unwrap() else {
            panic!("expected a reply")
        };
        let fault = reply.envelope().unwrap().body.as_fault().unwrap().clone();
        assert_eq!(fault.soap_class.as_str(), "MustUnderstand");

        let mut inform = inform_env(CwmpNamespace::V1_2, Some("i"));
        inform.header.not_understood = vec!["X_Foo".into()];
        let mut s = AcsSession::new(AcsConfig::default(), T0);
        let AcsEvent::Reply(reply) = s.handle_message(T0, inform).unwrap() else {
            panic!("expected a reply")
        };
        assert!(reply.ends_session());
    }

    #[test]
    fn ses_02_hold_requests_is_written_until_cleared() {
        let mut s = AcsSession::new(AcsConfig::default(), T0);
        s.handle_message(T0, inform_env(CwmpNamespace::V1_2, Some("i")))
            .unwrap();
        let env = msg(s
            .accept_inform(
                T0,
                AcceptOptions {
                    hold_requests: true,
                },
            )
            .unwrap());
        assert_eq!(env.header.hold_requests, Some(true));
        s.handle_message(
            T0,
            Envelope::new(CwmpNamespace::V1_2, None, Body::GetRPCMethods),
        )
        .unwrap();
        let env = msg(s
            .respond(T0, Body::GetRPCMethodsResponse(Default::default()))
            .unwrap());
        assert_eq!(env.header.hold_requests, Some(true));
        s.set_hold_requests(false);
        s.handle_message(
            T0,
            Envelope::new(CwmpNamespace::V1_2, None, Body::GetRPCMethods),
        )
        .unwrap();
        let env = msg(s
            .respond(T0, Body::GetRPCMethodsResponse(Default::default()))
            .unwrap());
        assert_eq!(env.header.hold_requests, None);
    }

    #[test]
    fn ses_05_one_outstanding_request_each_with_a_fresh_id() {
        let mut s = ready();
        let first = msg(s.send(T0, gpv()).unwrap());
        assert_eq!(first.header.id.as_deref(), Some("acs-1"));
        assert_eq!(
            s.send(T0, gpv()),
            Err(AcsError::RequestOutstanding { id: "acs-1".into() })
        );
        let resp = Envelope::new(CwmpNamespace::V1_2, Some("acs-1".into()), gpv_response());
        let AcsEvent::Ready(Some(done)) = s.handle_message(T0, resp).unwrap() else {
            panic!("expected Ready")
        };
        assert_eq!(done.request.id, "acs-1");
        assert_eq!(done.result, Ok(gpv_response()));
        let second = msg(s.send(T0, gpv()).unwrap());
        assert_eq!(second.header.id.as_deref(), Some("acs-2"));
    }

    #[test]
    fn ses_03_finish_while_a_request_is_outstanding_is_an_error() {
        let mut s = ready();
        s.send(T0, gpv()).unwrap();
        assert_eq!(
            s.finish(T0),
            Err(AcsError::RequestOutstanding { id: "acs-1".into() })
        );
        let resp = Envelope::new(CwmpNamespace::V1_2, None, gpv_response());
        s.handle_message(T0, resp).unwrap();
        assert_eq!(s.finish(T0), Ok(Reply::NoContent));
        assert_eq!(s.state(), AcsState::Closed);
        assert_eq!(
            s.handle_empty(T0),
            Err(AcsError::Closed),
            "after 204 any input is an error"
        );
    }

    #[test]
    fn mismatched_response_is_a_protocol_error_reporting_the_outstanding_request() {
        let mut s = ready();
        s.send(T0, gpv()).unwrap();
        let wrong = Envelope::new(
            CwmpNamespace::V1_2,
            Some("acs-1".into()),
            Body::SetParameterAttributesResponse,
        );
        let err = s.handle_message(T0, wrong).unwrap_err();
        assert!(
            matches!(err, AcsError::MismatchedResponse { .. }),
            "{err:?}"
        );
        assert_eq!(s.state(), AcsState::Failed);
        assert_eq!(s.outstanding().map(|o| o.id.as_str()), Some("acs-1"));

        let mut s = ready();
        s.send(T0, gpv()).unwrap();
        let wrong_id = Envelope::new(CwmpNamespace::V1_2, Some("other".into()), gpv_response());
        assert!(matches!(
            s.handle_message(T0, wrong_id),
            Err(AcsError::MismatchedResponse { .. })
        ));
    }

    #[test]
    fn cpe_fault_is_surfaced_with_the_request_it_answers() {
        let mut s = ready();
        s.send(T0, gpv()).unwrap();
        let fault = Fault::new(FaultCode::INVALID_PARAMETER_NAME);
        let env = Envelope::new(
            CwmpNamespace::V1_2,
            Some("acs-1".into()),
            Body::Fault(fault.clone()),
        );
        let AcsEvent::Ready(Some(done)) = s.handle_message(T0, env).unwrap() else {
            panic!("expected Ready")
        };
        assert_eq!(done.request.request, gpv());
        assert_eq!(done.result, Err(fault));
        assert_eq!(s.outstanding(), None);
    }

    #[test]
    fn send_refuses_acs_methods_and_methods_missing_from_the_session_version() {
        let mut s = ready();
        assert_eq!(
            s.send(T0, Body::TransferCompleteResponse),
            Err(AcsError::NotACpeRequest("TransferCompleteResponse".into()))
        );
        assert_eq!(
            s.send(T0, Body::Unknown { name: "X".into() }),
            Err(AcsError::NotACpeRequest("X".into()))
        );
        let mut old = accepted(CwmpNamespace::V1_0);
        old.handle_empty(T0).unwrap();
        assert!(matches!(
            old.send(T0, Body::ChangeDUState(Default::default())),
            Err(AcsError::NotInVersion { .. })
        ));
    }

    #[test]
    fn empty_post_while_a_request_is_outstanding_fails_the_session() {
        let mut s = ready();
        s.send(T0, gpv()).unwrap();
        assert!(matches!(
            s.handle_empty(T0),
            Err(AcsError::UnexpectedMessage {
                state: AcsState::AwaitingResponse,
                ..
            })
        ));
        assert_eq!(s.abort().map(|o| o.id), Some("acs-1".into()));
    }

    #[test]
    fn ses_06_inactivity_expiry_reports_the_outstanding_request() {
        let mut s = ready();
        s.send(Millis(2_000), gpv()).unwrap();
        assert_eq!(s.poll_timeout(), Some(Millis(32_000)));
        assert_eq!(s.handle_timeout(Millis(31_999)), None);
        let expired = s.handle_timeout(Millis(32_000)).unwrap();
        assert_eq!(expired.kind, ExpiryKind::Inactivity);
        assert_eq!(expired.outstanding.unwrap().id, "acs-1");
        assert_eq!(s.state(), AcsState::Expired);
        assert_eq!(s.poll_timeout(), None);
    }

    #[test]
    fn session_cap_expires_a_busy_session() {
        let config = AcsConfig {
            session_limit: Duration::from_secs(60),
            ..AcsConfig::default()
        };
        let mut s = AcsSession::new(config, T0);
        s.handle_message(T0, inform_env(CwmpNamespace::V1_2, None))
            .unwrap();
        s.accept_inform(T0, AcceptOptions::default()).unwrap();
        s.handle_empty(T0).unwrap();
        let mut now = T0;
        for _ in 0..3 {
            now = now.saturating_add(Duration::from_secs(15));
            s.send(now, gpv()).unwrap();
            s.handle_message(
                now,
                Envelope::new(CwmpNamespace::V1_2, None, gpv_response()),
            )
            .unwrap();
        }
        assert_eq!(s.poll_timeout(), Some(Millis(61_000)));
        let expired = s.handle_timeout(Millis(61_000)).unwrap();
        assert_eq!(expired.kind, ExpiryKind::SessionLimit);
        assert_eq!(expired.outstanding, None);
    }

    #[test]
    fn late_input_after_a_missed_deadline_is_refused() {
        let mut s = AcsSession::new(AcsConfig::default(), T0);
        assert_eq!(
            s.handle_message(Millis(40_000), inform_env(CwmpNamespace::V1_2, None)),
            Err(AcsError::Closed)
        );
        assert_eq!(s.state(), AcsState::Expired);
    }
}
