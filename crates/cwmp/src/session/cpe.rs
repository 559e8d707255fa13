//! The CPE side of one session attempt: [`CpeSession`], and the back-off between failed
//! attempts: [`RetryState`].
//!
//! Owns the order of what the device sends (Inform, its own requests, the empty POST, responses
//! to ACS requests), the namespace and version it adopts (ENV-03, ENV-07), when the session ends
//! and whether it succeeded (SES-02, SES-04, FLT-04, HTTP-05), and the retry arithmetic around it
//! (RTY-01..03). It must not open connections, follow redirects, answer Digest challenges, keep
//! cookies or execute RPCs: the agent does, and reports each HTTP outcome as an [`HttpReply`].
//!
//! A session attempt: [`CpeSession::start`] yields the Inform to POST; every HTTP result goes to
//! [`CpeSession::handle_reply`]; an ACS request comes back as [`CpeAction::Execute`] and its
//! result goes to [`CpeSession::respond`]; [`CpeAction::Closed`] ends the attempt. The driver
//! then calls [`RetryState::session_succeeded`] or [`RetryState::session_failed`].

use super::event_queue::{EventQueue, InformPlan};
use super::{Millis, must_understand_fault, response_name};
use crate::datetime::DateTime;
use crate::device_id::DeviceId;
use crate::envelope::Envelope;
use crate::error::DecodeError;
use crate::fault::{Fault, FaultCode};
use crate::namespace::{CwmpNamespace, CwmpVersion};
use crate::retry::RetryPolicy;
use crate::rpc::{Body, Implementer, Inform};
use crate::value::ParameterValue;
use std::time::Duration;
use thiserror::Error;

/// The shortest HTTP response wait allowed (HTTP-05).
pub const MIN_WAIT_TIMEOUT: Duration = Duration::from_secs(30);

/// Settings of the CPE side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpeConfig {
    /// The highest protocol version the device speaks. 1.3 adds `SessionTimeout`, 1.4 adds
    /// `SupportedCWMPVersions` to the Inform.
    pub version: CwmpVersion,
    /// Value of the `SessionTimeout` header (seconds), sent when `version` is 1.3 or later.
    pub session_timeout: Option<u32>,
    /// How long to wait for each HTTP response (`cwmp cpe wait timeout`); raised to 30 s if
    /// lower (HTTP-05).
    pub wait_timeout: Duration,
    /// How many times a request refused with 8005 is resent before giving up on it.
    pub max_request_retries: u32,
    /// Prefix of the `cwmp:ID` of CPE requests; a counter from 1 follows it.
    pub id_prefix: String,
}

impl Default for CpeConfig {
    fn default() -> Self {
        Self {
            version: CwmpVersion::V1_4,
            session_timeout: None,
            wait_timeout: MIN_WAIT_TIMEOUT,
            max_request_retries: 5,
            id_prefix: "cpe-".to_owned(),
        }
    }
}

/// What the driver supplies for the Inform besides the events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InformContent {
    /// Who the device is.
    pub device_id: DeviceId,
    /// The device's clock (Unknown Time without one).
    pub current_time: DateTime,
    /// Forced-inform parameters plus the current values of the plan's changed parameters.
    pub parameter_list: Vec<ParameterValue>,
    /// Consecutive failed attempts before this one ([`RetryState::retry_count`]).
    pub retry_count: u32,
}

/// What happened to the last POST, as the driver saw it over HTTP.
#[derive(Debug, Clone, PartialEq)]
pub enum HttpReply {
    /// HTTP 200 with a decoded envelope.
    Message(Envelope),
    /// HTTP 204, or 200 with an empty body.
    Empty,
    /// The body of a 200 could not be decoded.
    Malformed(DecodeError),
    /// Any other status the driver does not handle itself (it answers 401 challenges and
    /// follows redirects before reporting).
    Status(u16),
    /// Connecting, sending or receiving failed.
    TransportError,
}

/// What the driver must do next.
#[derive(Debug, Clone, PartialEq)]
pub enum CpeAction {
    /// POST this envelope.
    Send(Envelope),
    /// POST an empty body, without Content-Type or SOAPAction (SES-02, HTTP-02).
    SendEmpty,
    /// Execute this ACS request, then call [`CpeSession::respond`].
    Execute(Body),
    /// The attempt is over: close the connection; `Ok` if it succeeded.
    Closed(Result<(), CpeError>),
}

/// Where an attempt stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CpeState {
    /// The Inform was sent.
    AwaitingInformResponse,
    /// One of the CPE's own requests was sent.
    AwaitingRequestResponse,
    /// The empty POST or a response was sent; the ACS sends a request or 204.
    AwaitingAcs,
    /// The driver is executing an ACS request.
    Executing,
    /// Ended successfully.
    Succeeded,
    /// Ended in failure.
    Failed,
}

/// Why an attempt failed, or why a driver call was refused.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum CpeError {
    /// The queue had no event to report.
    #[error("no event to report")]
    NothingToReport,
    /// The ACS refused the Inform with a fault other than 8005 (FLT-04), 8006 included.
    #[error("the ACS refused the Inform: {0}")]
    InformRefused(Fault),
    /// 8005 came back more often than [`CpeConfig::max_request_retries`] allows.
    #[error("{method} refused with 8005 too many times")]
    TooManyRetries {
        /// The request.
        method: String,
    },
    /// An HTTP status the session cannot continue with.
    #[error("HTTP status {0}")]
    HttpStatus(u16),
    /// The connection failed.
    #[error("transport failure")]
    Transport,
    /// No HTTP response within the wait timeout (HTTP-05).
    #[error("no response from the ACS in time")]
    Timeout,
    /// The ACS sent something that could not be decoded.
    #[error("malformed ACS message: {0}")]
    Malformed(DecodeError),
    /// A message that has no place at this point of the session.
    #[error("unexpected {got} while {state:?}")]
    UnexpectedMessage {
        /// Where the attempt stood.
        state: CpeState,
        /// Method name or `empty response`.
        got: String,
    },
    /// The ACS answered with another `cwmp:ID` than the request's.
    #[error("response ID {got:?} does not match request ID {expected:?}")]
    MismatchedId {
        /// The request's ID.
        expected: String,
        /// The response's ID.
        got: String,
    },
    /// The InformResponse is in a newer namespace than the Inform, or names a version this
    /// device did not offer (ENV-03, ENV-07).
    #[error("the ACS chose {0}, which this device did not offer")]
    UnsupportedVersion(String),
    /// The ACS ended the session while requests of the CPE were held back (SES-04).
    #[error("the session ended with {0} CPE requests unsent")]
    RequestsUnsent(usize),
    /// A driver call that does not fit the current state.
    #[error("{call} is not possible while {state:?}")]
    WrongState {
        /// The method called.
        call: &'static str,
        /// Where the attempt stood.
        state: CpeState,
    },
    /// The driver answered an ACS request with another method's response, or with a fault
    /// outside 9000-9899.
    #[error("{request} cannot be answered with {got}")]
    WrongResponse {
        /// The ACS request.
        request: String,
        /// What the driver gave.
        got: String,
    },
}

#[derive(Debug, Clone)]
enum St {
    AwaitInformResponse,
    AwaitRequestResponse { index: usize },
    AwaitAcs,
    Executing { id: Option<String>, request: String },
    Succeeded,
    Failed,
}

/// One session attempt as the device sees it. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct CpeSession {
    config: CpeConfig,
    plan: InformPlan,
    state: St,
    /// The last envelope sent as a request (resent on 8005).
    last_request: Option<Envelope>,
    retries: u32,
    namespace: CwmpNamespace,
    version: CwmpVersion,
    offered: Vec<CwmpVersion>,
    hold: bool,
    inform_delivered: bool,
    /// Next plan request to consider.
    cursor: usize,
    next_id: u64,
    deadline: Option<Millis>,
}

impl CpeSession {
    /// Starts an attempt for `plan` (from [`EventQueue::next_inform`]): returns the machine and
    /// the Inform to POST. The Inform uses the namespace of [`CpeConfig::version`] (`cwmp-1-2`
    /// for 1.2 and later) with `SessionTimeout` (1.3+) and `SupportedCWMPVersions` (1.4).
    pub fn start(
        now: Millis,
        config: CpeConfig,
        plan: InformPlan,
        content: InformContent,
    ) -> Result<(Self, CpeAction), CpeError> {
        if plan.events.is_empty() {
            return Err(CpeError::NothingToReport);
        }
        let version = config.version;
        let namespace = CwmpNamespace::for_version(version);
        let offered: Vec<CwmpVersion> = CwmpVersion::ALL
            .iter()
            .copied()
            .filter(|v| *v <= version)
            .collect();
        let inform = Inform {
            device_id: content.device_id,
            events: plan.events.clone(),
            max_envelopes: 1,
            current_time: content.current_time,
            retry_count: content.retry_count,
            parameter_list: content.parameter_list,
        };
        let mut session = Self {
            config,
            plan,
            state: St::AwaitInformResponse,
            last_request: None,
            retries: 0,
            namespace,
            version,
            offered,
            hold: false,
            inform_delivered: false,
            cursor: 0,
            next_id: 1,
            deadline: None,
        };
        let mut env = Envelope::new(namespace, Some(session.fresh_id()), Body::Inform(inform));
        if version >= CwmpVersion::V1_3 {
            env.header.session_timeout = session.config.session_timeout;
        }
        if version >= CwmpVersion::V1_4 {
            env.header.supported_cwmp_versions = Some(session.offered.clone());
        }
        session.last_request = Some(env.clone());
        session.arm(now);
        Ok((session, CpeAction::Send(env)))
    }

    /// Where the attempt stands.
    pub fn state(&self) -> CpeState {
        match self.state {
            St::AwaitInformResponse => CpeState::AwaitingInformResponse,
            St::AwaitRequestResponse { .. } => CpeState::AwaitingRequestResponse,
            St::AwaitAcs => CpeState::AwaitingAcs,
            St::Executing { .. } => CpeState::Executing,
            St::Succeeded => CpeState::Succeeded,
            St::Failed => CpeState::Failed,
        }
    }

    /// The namespace used for the rest of the session (the ACS's, after the InformResponse).
    pub fn namespace(&self) -> CwmpNamespace {
        self.namespace
    }

    /// The protocol version in use (negotiated after the InformResponse, ENV-07): features of
    /// later versions must not be used.
    pub fn version(&self) -> CwmpVersion {
        self.version
    }

    /// The snapshot this attempt reports.
    pub fn plan(&self) -> &InformPlan {
        &self.plan
    }

    /// Whether the most recent ACS message carried `HoldRequests=true`.
    pub fn held(&self) -> bool {
        self.hold
    }

    /// When the pending HTTP response is overdue.
    pub fn poll_timeout(&self) -> Option<Millis> {
        self.deadline
    }

    /// Fails the attempt if the HTTP response is overdue (HTTP-05).
    pub fn handle_timeout(&mut self, now: Millis, queue: &mut EventQueue) -> Option<CpeAction> {
        let deadline = self.deadline?;
        if now < deadline {
            return None;
        }
        Some(self.fail(queue, CpeError::Timeout))
    }

    /// The outcome of the last POST. Delivered events and requests are removed from `queue`
    /// as the ACS acknowledges them (EVT-01); on failure `6 CONNECTION REQUEST` is dropped if
    /// it was never delivered (EVT-03). An `Err` means the call itself was out of order.
    pub fn handle_reply(
        &mut self,
        now: Millis,
        reply: HttpReply,
        queue: &mut EventQueue,
    ) -> Result<CpeAction, CpeError> {
        if matches!(
            self.state,
            St::Executing { .. } | St::Succeeded | St::Failed
        ) {
            return Err(CpeError::WrongState {
                call: "handle_reply",
                state: self.state(),
            });
        }
        self.deadline = None;
        let env = match reply {
            HttpReply::Message(env) => env,
            HttpReply::Empty => return Ok(self.empty_reply(queue)),
            HttpReply::Malformed(e) => return Ok(self.fail(queue, CpeError::Malformed(e))),
            HttpReply::Status(s) => return Ok(self.fail(queue, CpeError::HttpStatus(s))),
            HttpReply::TransportError => return Ok(self.fail(queue, CpeError::Transport)),
        };
        Ok(match self.state {
            St::AwaitInformResponse => self.inform_reply(now, env, queue),
            St::AwaitRequestResponse { index } => self.request_reply(now, index, env, queue),
            _ => self.acs_message(now, env, queue),
        })
    }

    /// The driver's result for the ACS request of [`CpeAction::Execute`]: its `...Response` or
    /// a CPE fault (9000-9899). Sent back with the request's `cwmp:ID`.
    pub fn respond(
        &mut self,
        now: Millis,
        result: Result<Body, Fault>,
    ) -> Result<CpeAction, CpeError> {
        let St::Executing { id, request } = &self.state else {
            return Err(CpeError::WrongState {
                call: "respond",
                state: self.state(),
            });
        };
        let body = match result {
            Ok(body) if body.method_name() == response_name(request) => body,
            Ok(body) => {
                return Err(CpeError::WrongResponse {
                    request: request.clone(),
                    got: body.method_name().to_owned(),
                });
            }
            Err(fault) if fault.code.is_valid() && !fault.code.is_acs() => Body::Fault(fault),
            Err(fault) => {
                return Err(CpeError::WrongResponse {
                    request: request.clone(),
                    got: format!("fault {}", fault.code),
                });
            }
        };
        let id = id.clone();
        Ok(self.send_response(now, id, body))
    }

    fn inform_reply(&mut self, now: Millis, env: Envelope, queue: &mut EventQueue) -> CpeAction {
        if let Some(action) = self.check_id(&env, queue) {
            return action;
        }
        match env.body {
            Body::InformResponse(_) => {
                if let Err(e) = self.adopt(&env) {
                    return self.fail(queue, e);
                }
                queue.inform_delivered(&self.plan);
                self.inform_delivered = true;
                self.hold = held(&env);
                self.next_request(now)
            }
            Body::Fault(f) if f.code == FaultCode::ACS_RETRY_REQUEST => self.resend(now, queue),
            Body::Fault(f) => self.fail(queue, CpeError::InformRefused(f)),
            other => {
                let got = other.method_name().to_owned();
                self.fail(
                    queue,
                    CpeError::UnexpectedMessage {
                        state: CpeState::AwaitingInformResponse,
                        got,
                    },
                )
            }
        }
    }

    fn request_reply(
        &mut self,
        now: Millis,
        index: usize,
        env: Envelope,
        queue: &mut EventQueue,
    ) -> CpeAction {
        if let Some(action) = self.check_id(&env, queue) {
            return action;
        }
        self.hold = held(&env);
        let request = &self.plan.requests[index];
        let expected = response_name(request.body().method_name());
        match env.body {
            Body::Fault(f) if f.code == FaultCode::ACS_RETRY_REQUEST => {
                if self.retries < self.config.max_request_retries {
                    return self.resend(now, queue);
                }
                // Given up for this session: it stays queued (FLT-04).
                self.cursor = index + 1;
                self.next_request(now)
            }
            Body::Fault(_) => {
                // The event stays undelivered and is retried in a later session (FLT-04).
                self.cursor = index + 1;
                self.next_request(now)
            }
            body if body.method_name() == expected => {
                queue.request_delivered(request);
                self.cursor = index + 1;
                self.next_request(now)
            }
            other => {
                let got = other.method_name().to_owned();
                self.fail(
                    queue,
                    CpeError::UnexpectedMessage {
                        state: CpeState::AwaitingRequestResponse,
                        got,
                    },
                )
            }
        }
    }

    fn acs_message(&mut self, now: Millis, env: Envelope, queue: &mut EventQueue) -> CpeAction {
        self.hold = held(&env);
        let Envelope { header, body, .. } = env;
        if !body.is_request() {
            let got = body.method_name().to_owned();
            return self.fail(
                queue,
                CpeError::UnexpectedMessage {
                    state: CpeState::AwaitingAcs,
                    got,
                },
            );
        }
        if !header.not_understood.is_empty() {
            let fault = must_understand_fault(false, &header.not_understood);
            return self.send_response(now, header.id, Body::Fault(fault));
        }
        let implemented = matches!(
            body.implementer(),
            Some(Implementer::Cpe | Implementer::Both)
        );
        if !implemented || body.since() > self.version {
            // ENV-11: unknown (or not ours, or not in this version) ⇒ 9000.
            let fault = Fault::new(FaultCode::METHOD_NOT_SUPPORTED);
            return self.send_response(now, header.id, Body::Fault(fault));
        }
        self.state = St::Executing {
            id: header.id,
            request: body.method_name().to_owned(),
        };
        CpeAction::Execute(body)
    }

    fn empty_reply(&mut self, queue: &mut EventQueue) -> CpeAction {
        if !matches!(self.state, St::AwaitAcs) {
            let state = self.state();
            return self.fail(
                queue,
                CpeError::UnexpectedMessage {
                    state,
                    got: "empty response".to_owned(),
                },
            );
        }
        // SES-04: the ACS is done; we are done only if none of our requests were held back.
        let unsent = self.plan.requests[self.cursor.min(self.plan.requests.len())..]
            .iter()
            .filter(|r| r.body().since() <= self.version)
            .count();
        if unsent > 0 {
            return self.fail(queue, CpeError::RequestsUnsent(unsent));
        }
        self.state = St::Succeeded;
        CpeAction::Closed(Ok(()))
    }

    /// The next CPE request of the plan, or the empty POST when there is none or the ACS holds
    /// requests (SES-02).
    fn next_request(&mut self, now: Millis) -> CpeAction {
        self.retries = 0;
        if !self.hold {
            let next = (self.cursor..self.plan.requests.len())
                .find(|&i| self.plan.requests[i].body().since() <= self.version);
            if let Some(index) = next {
                let body = self.plan.requests[index].body().clone();
                let env = Envelope::new(self.namespace, Some(self.fresh_id()), body);
                self.last_request = Some(env.clone());
                self.state = St::AwaitRequestResponse { index };
                self.arm(now);
                return CpeAction::Send(env);
            }
            self.cursor = self.plan.requests.len();
        }
        self.last_request = None;
        self.state = St::AwaitAcs;
        self.arm(now);
        CpeAction::SendEmpty
    }

    /// Resends the last request after 8005, bounded by `max_request_retries`.
    fn resend(&mut self, now: Millis, queue: &mut EventQueue) -> CpeAction {
        let Some(env) = self.last_request.clone() else {
            let state = self.state();
            return self.fail(
                queue,
                CpeError::UnexpectedMessage {
                    state,
                    got: "Fault".to_owned(),
                },
            );
        };
        if self.retries >= self.config.max_request_retries {
            let method = env.body.method_name().to_owned();
            return self.fail(queue, CpeError::TooManyRetries { method });
        }
        self.retries += 1;
        self.arm(now);
        CpeAction::Send(env)
    }

    fn send_response(&mut self, now: Millis, id: Option<String>, body: Body) -> CpeAction {
        self.state = St::AwaitAcs;
        self.arm(now);
        CpeAction::Send(Envelope::new(self.namespace, id, body))
    }

    /// ENV-03 / ENV-07: take the ACS's namespace and version for the rest of the session.
    fn adopt(&mut self, env: &Envelope) -> Result<(), CpeError> {
        if env.namespace > self.namespace {
            return Err(CpeError::UnsupportedVersion(env.namespace.uri().to_owned()));
        }
        self.version = match env.header.use_cwmp_version {
            Some(v) if self.offered.contains(&v) && v <= env.namespace.max_version() => v,
            Some(v) => return Err(CpeError::UnsupportedVersion(v.to_string())),
            // An ACS without negotiation: the version its namespace first defined (icwmp).
            None => match env.namespace {
                CwmpNamespace::V1_2 => CwmpVersion::V1_2,
                other => other.max_version(),
            }
            .min(self.config.version),
        };
        self.namespace = env.namespace;
        Ok(())
    }

    fn check_id(&mut self, env: &Envelope, queue: &mut EventQueue) -> Option<CpeAction> {
        let expected = self.last_request.as_ref()?.header.id.clone()?;
        match &env.header.id {
            Some(got) if *got != expected => {
                let got = got.clone();
                Some(self.fail(queue, CpeError::MismatchedId { expected, got }))
            }
            _ => None,
        }
    }

    fn fail(&mut self, queue: &mut EventQueue, error: CpeError) -> CpeAction {
        if !self.inform_delivered {
            queue.session_failed(&self.plan);
        }
        self.state = St::Failed;
        self.deadline = None;
        CpeAction::Closed(Err(error))
    }

    fn arm(&mut self, now: Millis) {
        self.deadline = Some(now.saturating_add(self.config.wait_timeout.max(MIN_WAIT_TIMEOUT)));
    }

    fn fresh_id(&mut self) -> String {
        let id = format!("{}{}", self.config.id_prefix, self.next_id);
        self.next_id += 1;
        id
    }
}

/// `HoldRequests=true` (or the obsolete `NoMoreRequests=true`, as icwmp reads it).
fn held(env: &Envelope) -> bool {
    env.header.hold_requests == Some(true) || env.header.no_more_requests == Some(true)
}

/// What [`RetryState::session_failed`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryDecision {
    /// Start the next attempt at this time (also [`RetryState::poll_timeout`]).
    RetryAt(Millis),
    /// Nothing waits that calls for a session (EVT-03).
    NotNeeded,
    /// The configured retry limit is reached (`cwmp cpe connect retry`); the next attempt waits
    /// for a new trigger.
    GaveUp,
}

/// Consecutive failed sessions and the wait before the next attempt (RTY-01..03).
#[derive(Debug, Clone, PartialEq)]
pub struct RetryState {
    policy: RetryPolicy,
    max_retries: Option<u32>,
    failures: u32,
    next_attempt: Option<Millis>,
}

impl RetryState {
    /// `policy` holds m and k (`CWMPRetryMinimumWaitInterval`, `CWMPRetryIntervalMultiplier`);
    /// `max_retries` is `cwmp cpe connect retry`: `Some(0)` never retries, `None` always does.
    pub fn new(policy: RetryPolicy, max_retries: Option<u32>) -> Self {
        Self {
            policy,
            max_retries,
            failures: 0,
            next_attempt: None,
        }
    }

    /// Changes m and k (e.g. set by the ACS or DHCP, RTY-05); applies from the next failure.
    pub fn set_policy(&mut self, policy: RetryPolicy) {
        self.policy = policy;
    }

    /// Changes the retry limit.
    pub fn set_max_retries(&mut self, max_retries: Option<u32>) {
        self.max_retries = max_retries;
    }

    /// The `RetryCount` for the next Inform: consecutive failed attempts (RTY-02).
    pub fn retry_count(&self) -> u32 {
        self.failures
    }

    /// A session succeeded: the count goes back to 0.
    pub fn session_succeeded(&mut self) {
        self.failures = 0;
        self.next_attempt = None;
    }

    /// A session failed at `now`. `needs_retry` is [`EventQueue::needs_session`] once the
    /// session has closed (the session already applied EVT-03 to the queue);
    /// `random_fraction` in `[0, 1)` places the wait inside the §3.2.1.1 range (RTY-01).
    pub fn session_failed(
        &mut self,
        now: Millis,
        needs_retry: bool,
        random_fraction: f64,
    ) -> RetryDecision {
        self.failures = self.failures.saturating_add(1);
        self.next_attempt = None;
        if !needs_retry {
            return RetryDecision::NotNeeded;
        }
        if self.max_retries.is_some_and(|max| self.failures > max) {
            return RetryDecision::GaveUp;
        }
        let at = now.saturating_add(self.policy.wait(self.failures, random_fraction));
        self.next_attempt = Some(at);
        RetryDecision::RetryAt(at)
    }

    /// When the next attempt is due, if one is scheduled.
    pub fn poll_timeout(&self) -> Option<Millis> {
        self.next_attempt
    }

    /// Whether the scheduled attempt is due now (it is then consumed).
    pub fn handle_timeout(&mut self, now: Millis) -> bool {
        match self.next_attempt {
            Some(at) if at <= now => {
                self.next_attempt = None;
                true
            }
            _ => false,
        }
    }

    /// A new event that calls for a session arrived (RTY-03): whether to start an attempt now.
    /// While waiting for a retry this cancels the wait; the count keeps going.
    pub fn event_arrived(&mut self) -> bool {
        self.next_attempt = None;
        true
    }

    /// Whether a retry wait is running.
    pub fn waiting(&self) -> bool {
        self.next_attempt.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Event, EventCode};
    use crate::rpc::{
        GetParameterValues, GetParameterValuesResponse, InformResponse, TransferComplete,
        TransferFault,
    };
    use crate::session::PendingRequest;

    const T0: Millis = Millis(0);

    fn content(retry_count: u32) -> InformContent {
        InformContent {
            device_id: DeviceId {
                manufacturer: "Tether".into(),
                oui: "00E0FC".into(),
                product_class: "SIM".into(),
                serial_number: "7".into(),
            },
            current_time: DateTime::from_unix(1_700_000_000, 0),
            parameter_list: vec![],
            retry_count,
        }
    }

    fn queue_with(codes: &[EventCode]) -> EventQueue {
        let mut q = EventQueue::new();
        for c in codes {
            q.push(Event::new(c.clone())).unwrap();
        }
        q
    }

    fn tc(key: &str) -> PendingRequest {
        PendingRequest::transfer_complete(TransferComplete {
            command_key: key.into(),
            fault: TransferFault::default(),
            start_time: DateTime::from_unix(1_700_000_000, 0),
            complete_time: DateTime::from_unix(1_700_000_010, 0),
        })
        .unwrap()
    }

    fn start(config: CpeConfig, q: &EventQueue) -> (CpeSession, Envelope) {
        let (s, action) = CpeSession::start(T0, config, q.next_inform(), content(0)).unwrap();
        let CpeAction::Send(env) = action else {
            panic!("expected the Inform")
        };
        (s, env)
    }

    fn inform_response(ns: CwmpNamespace, id: &str) -> Envelope {
        Envelope::new(
            ns,
            Some(id.into()),
            Body::InformResponse(InformResponse::default()),
        )
    }

    fn reply(s: &mut CpeSession, env: Envelope, q: &mut EventQueue) -> CpeAction {
        s.handle_reply(T0, HttpReply::Message(env), q).unwrap()
    }

    fn gpv(id: &str) -> Envelope {
        let body = Body::GetParameterValues(GetParameterValues {
            parameter_names: vec!["Device.".into()],
        });
        Envelope::new(CwmpNamespace::V1_2, Some(id.into()), body)
    }

    #[test]
    fn inform_headers_follow_the_configured_version() {
        let q = queue_with(&[EventCode::Periodic]);
        let cases = [
            (
                CwmpVersion::V1_4,
                CwmpNamespace::V1_2,
                Some(60),
                Some(CwmpVersion::ALL.to_vec()),
            ),
            (CwmpVersion::V1_3, CwmpNamespace::V1_2, Some(60), None),
            (CwmpVersion::V1_2, CwmpNamespace::V1_2, None, None),
            (CwmpVersion::V1_0, CwmpNamespace::V1_0, None, None),
        ];
        for (version, ns, timeout, supported) in cases {
            let config = CpeConfig {
                version,
                session_timeout: Some(60),
                ..CpeConfig::default()
            };
            let (_, env) = start(config, &q);
            assert_eq!(env.namespace, ns, "{version}");
            assert_eq!(env.header.session_timeout, timeout, "{version}");
            assert_eq!(env.header.supported_cwmp_versions, supported, "{version}");
            assert_eq!(env.header.id.as_deref(), Some("cpe-1"));
        }
    }

    #[test]
    fn inform_carries_the_plan_events_and_retry_count() {
        let q = queue_with(&[EventCode::Boot, EventCode::Heartbeat]);
        let (_, action) =
            CpeSession::start(T0, CpeConfig::default(), q.next_inform(), content(3)).unwrap();
        let CpeAction::Send(env) = action else {
            panic!()
        };
        let Body::Inform(inform) = env.body else {
            panic!()
        };
        assert_eq!(inform.retry_count, 3);
        assert_eq!(inform.max_envelopes, 1);
        assert_eq!(
            inform.events,
            [Event::new(EventCode::Boot)],
            "HB-01: heartbeat not mixed in"
        );
    }

    #[test]
    fn a_plan_without_events_is_refused() {
        let err = CpeSession::start(T0, CpeConfig::default(), InformPlan::default(), content(0))
            .unwrap_err();
        assert_eq!(err, CpeError::NothingToReport);
    }

    #[test]
    fn evt_01_inform_response_delivers_events_then_empty_post_then_204_succeeds() {
        let mut q = queue_with(&[EventCode::Periodic]);
        let (mut s, _) = start(CpeConfig::default(), &q);
        assert_eq!(
            reply(
                &mut s,
                inform_response(CwmpNamespace::V1_2, "cpe-1"),
                &mut q
            ),
            CpeAction::SendEmpty
        );
        assert!(q.is_empty());
        assert_eq!(
            s.handle_reply(T0, HttpReply::Empty, &mut q),
            Ok(CpeAction::Closed(Ok(())))
        );
        assert_eq!(s.state(), CpeState::Succeeded);
    }

    #[test]
    fn env_03_env_07_adopts_use_cwmp_version_and_namespace() {
        let mut q = queue_with(&[EventCode::Periodic]);
        let (mut s, _) = start(CpeConfig::default(), &q);
        let mut resp = inform_response(CwmpNamespace::V1_2, "cpe-1");
        resp.header.use_cwmp_version = Some(CwmpVersion::V1_3);
        reply(&mut s, resp, &mut q);
        assert_eq!(s.version(), CwmpVersion::V1_3);

        let mut q = queue_with(&[EventCode::Periodic]);
        let (mut s, _) = start(CpeConfig::default(), &q);
        reply(
            &mut s,
            inform_response(CwmpNamespace::V1_1, "cpe-1"),
            &mut q,
        );
        assert_eq!(
            (s.namespace(), s.version()),
            (CwmpNamespace::V1_1, CwmpVersion::V1_1)
        );
    }

    #[test]
    fn env_07_step_3_no_use_cwmp_version_means_no_1_4_features() {
        let mut q = queue_with(&[EventCode::Periodic]);
        let (mut s, _) = start(CpeConfig::default(), &q);
        reply(
            &mut s,
            inform_response(CwmpNamespace::V1_2, "cpe-1"),
            &mut q,
        );
        assert_eq!(s.version(), CwmpVersion::V1_2);
    }

    #[test]
    fn env_07_a_version_not_offered_fails_the_session() {
        let mut q = queue_with(&[EventCode::Periodic]);
        let config = CpeConfig {
            version: CwmpVersion::V1_4,
            ..CpeConfig::default()
        };
        let (mut s, _) = start(config, &q);
        let mut resp = inform_response(CwmpNamespace::V1_2, "cpe-1");
        resp.header.use_cwmp_version = Some(CwmpVersion { major: 1, minor: 9 });
        assert_eq!(
            reply(&mut s, resp, &mut q),
            CpeAction::Closed(Err(CpeError::UnsupportedVersion("1.9".into())))
        );
        assert_eq!(q.events().len(), 1, "events stay undelivered");
    }

    #[test]
    fn inf_02_fault_8005_to_inform_resends_the_same_inform_a_bounded_number_of_times() {
        let mut q = queue_with(&[EventCode::Periodic]);
        let config = CpeConfig {
            max_request_retries: 2,
            ..CpeConfig::default()
        };
        let (mut s, inform) = start(config, &q);
        let retry = Envelope::new(
            CwmpNamespace::V1_2,
            Some("cpe-1".into()),
            Body::Fault(Fault::new(FaultCode(8005))),
        );
        assert_eq!(
            reply(&mut s, retry.clone(), &mut q),
            CpeAction::Send(inform.clone())
        );
        assert_eq!(
            reply(&mut s, retry.clone(), &mut q),
            CpeAction::Send(inform)
        );
        assert_eq!(
            reply(&mut s, retry, &mut q),
            CpeAction::Closed(Err(CpeError::TooManyRetries {
                method: "Inform".into()
            }))
        );
    }

    #[test]
    fn flt_04_other_fault_to_inform_fails_and_evt_03_drops_connection_request() {
        let mut q = queue_with(&[EventCode::ConnectionRequest, EventCode::ValueChange]);
        let (mut s, _) = start(CpeConfig::default(), &q);
        let fault = Fault::new(FaultCode::ACS_REQUEST_DENIED);
        let env = Envelope::new(
            CwmpNamespace::V1_2,
            Some("cpe-1".into()),
            Body::Fault(fault.clone()),
        );
        assert_eq!(
            reply(&mut s, env, &mut q),
            CpeAction::Closed(Err(CpeError::InformRefused(fault)))
        );
        assert_eq!(q.events(), [Event::new(EventCode::ValueChange)]);
    }

    #[test]
    fn ses_02_pending_requests_go_before_the_empty_post_and_evt_01_deliver_their_events() {
        let mut q = queue_with(&[EventCode::TransferComplete]);
        q.push(Event::with_key(EventCode::m_download(), "k"))
            .unwrap();
        q.push_request(tc("k")).unwrap();
        let (mut s, _) = start(CpeConfig::default(), &q);
        let CpeAction::Send(env) = reply(
            &mut s,
            inform_response(CwmpNamespace::V1_2, "cpe-1"),
            &mut q,
        ) else {
            panic!("expected TransferComplete")
        };
        assert_eq!(env.body.method_name(), "TransferComplete");
        assert_eq!(env.header.id.as_deref(), Some("cpe-2"));
        assert_eq!(
            q.events().len(),
            2,
            "7 and M Download wait for the TransferCompleteResponse"
        );
        let resp = Envelope::new(
            CwmpNamespace::V1_2,
            Some("cpe-2".into()),
            Body::TransferCompleteResponse,
        );
        assert_eq!(reply(&mut s, resp, &mut q), CpeAction::SendEmpty);
        assert!(q.is_empty());
    }

    #[test]
    fn flt_04_fault_to_transfer_complete_keeps_it_queued_and_8005_resends_it() {
        let mut q = queue_with(&[EventCode::TransferComplete]);
        q.push_request(tc("k")).unwrap();
        let (mut s, _) = start(CpeConfig::default(), &q);
        let CpeAction::Send(tc_env) = reply(
            &mut s,
            inform_response(CwmpNamespace::V1_2, "cpe-1"),
            &mut q,
        ) else {
            panic!()
        };
        let retry = Envelope::new(
            CwmpNamespace::V1_2,
            Some("cpe-2".into()),
            Body::Fault(Fault::new(FaultCode(8005))),
        );
        assert_eq!(reply(&mut s, retry, &mut q), CpeAction::Send(tc_env));
        let denied = Envelope::new(
            CwmpNamespace::V1_2,
            Some("cpe-2".into()),
            Body::Fault(Fault::new(FaultCode(8002))),
        );
        assert_eq!(reply(&mut s, denied, &mut q), CpeAction::SendEmpty);
        assert_eq!(q.requests().len(), 1);
        assert_eq!(q.events(), [Event::new(EventCode::TransferComplete)]);
        assert_eq!(
            s.handle_reply(T0, HttpReply::Empty, &mut q),
            Ok(CpeAction::Closed(Ok(())))
        );
    }

    #[test]
    fn ses_02_hold_requests_stops_cpe_requests_and_ses_04_204_then_fails() {
        let mut q = queue_with(&[EventCode::TransferComplete]);
        q.push_request(tc("k")).unwrap();
        let (mut s, _) = start(CpeConfig::default(), &q);
        let mut resp = inform_response(CwmpNamespace::V1_2, "cpe-1");
        resp.header.hold_requests = Some(true);
        assert_eq!(reply(&mut s, resp, &mut q), CpeAction::SendEmpty);
        assert!(s.held());
        assert_eq!(
            s.handle_reply(T0, HttpReply::Empty, &mut q),
            Ok(CpeAction::Closed(Err(CpeError::RequestsUnsent(1))))
        );
        assert_eq!(q.requests().len(), 1);
    }

    #[test]
    fn acs_request_is_executed_and_answered_with_its_id() {
        let mut q = queue_with(&[EventCode::Periodic]);
        let (mut s, _) = start(CpeConfig::default(), &q);
        reply(
            &mut s,
            inform_response(CwmpNamespace::V1_2, "cpe-1"),
            &mut q,
        );
        let CpeAction::Execute(body) = reply(&mut s, gpv("acs-1"), &mut q) else {
            panic!()
        };
        assert_eq!(body.method_name(), "GetParameterValues");
        assert_eq!(
            s.handle_reply(T0, HttpReply::Empty, &mut q).unwrap_err(),
            CpeError::WrongState {
                call: "handle_reply",
                state: CpeState::Executing
            }
        );
        let wrong = s
            .respond(T0, Ok(Body::SetParameterValuesResponse(Default::default())))
            .unwrap_err();
        assert!(matches!(wrong, CpeError::WrongResponse { .. }));
        let bad_fault = s.respond(T0, Err(Fault::new(FaultCode(8002)))).unwrap_err();
        assert!(
            matches!(bad_fault, CpeError::WrongResponse { .. }),
            "ACS codes are not CPE faults"
        );
        let CpeAction::Send(env) = s
            .respond(
                T0,
                Ok(Body::GetParameterValuesResponse(
                    GetParameterValuesResponse::default(),
                )),
            )
            .unwrap()
        else {
            panic!()
        };
        assert_eq!(env.header.id.as_deref(), Some("acs-1"));
        assert_eq!(s.state(), CpeState::AwaitingAcs);
    }

    #[test]
    fn env_11_unknown_or_acs_side_method_is_answered_9000_by_the_machine() {
        let mut q = queue_with(&[EventCode::Periodic]);
        let (mut s, _) = start(CpeConfig::default(), &q);
        reply(
            &mut s,
            inform_response(CwmpNamespace::V1_2, "cpe-1"),
            &mut q,
        );
        for body in [
            Body::Unknown {
                name: "X_ACME_Frob".into(),
            },
            Body::TransferComplete(Default::default()),
        ] {
            let env = Envelope::new(CwmpNamespace::V1_2, Some("u1".into()), body);
            let CpeAction::Send(out) = reply(&mut s, env, &mut q) else {
                panic!()
            };
            assert_eq!(
                out.body.as_fault().unwrap().code,
                FaultCode::METHOD_NOT_SUPPORTED
            );
            assert_eq!(out.header.id.as_deref(), Some("u1"));
        }
    }

    #[test]
    fn env_06_unknown_must_understand_header_is_answered_with_a_fault() {
        let mut q = queue_with(&[EventCode::Periodic]);
        let (mut s, _) = start(CpeConfig::default(), &q);
        reply(
            &mut s,
            inform_response(CwmpNamespace::V1_2, "cpe-1"),
            &mut q,
        );
        let mut env = gpv("g1");
        env.header.not_understood = vec!["X_Vendor".into()];
        let CpeAction::Send(out) = reply(&mut s, env, &mut q) else {
            panic!()
        };
        assert_eq!(
            out.body.as_fault().unwrap().soap_class.as_str(),
            "MustUnderstand"
        );
    }

    #[test]
    fn http_failures_and_malformed_messages_fail_the_session() {
        for (input, err) in [
            (HttpReply::Status(500), CpeError::HttpStatus(500)),
            (HttpReply::TransportError, CpeError::Transport),
            (
                HttpReply::Malformed(DecodeError::MissingBody),
                CpeError::Malformed(DecodeError::MissingBody),
            ),
            (
                HttpReply::Empty,
                CpeError::UnexpectedMessage {
                    state: CpeState::AwaitingInformResponse,
                    got: "empty response".into(),
                },
            ),
        ] {
            let mut q = queue_with(&[EventCode::Periodic]);
            let (mut s, _) = start(CpeConfig::default(), &q);
            assert_eq!(
                s.handle_reply(T0, input, &mut q),
                Ok(CpeAction::Closed(Err(err)))
            );
            assert_eq!(s.state(), CpeState::Failed);
            assert_eq!(q.events().len(), 1, "EVT-02: kept for the next attempt");
        }
    }

    #[test]
    fn a_response_with_another_id_fails_the_session() {
        let mut q = queue_with(&[EventCode::Periodic]);
        let (mut s, _) = start(CpeConfig::default(), &q);
        let action = reply(&mut s, inform_response(CwmpNamespace::V1_2, "zzz"), &mut q);
        assert_eq!(
            action,
            CpeAction::Closed(Err(CpeError::MismatchedId {
                expected: "cpe-1".into(),
                got: "zzz".into()
            }))
        );
    }

    #[test]
    fn an_acs_response_where_a_request_is_expected_fails_the_session() {
        let mut q = queue_with(&[EventCode::Periodic]);
        let (mut s, _) = start(CpeConfig::default(), &q);
        reply(
            &mut s,
            inform_response(CwmpNamespace::V1_2, "cpe-1"),
            &mut q,
        );
        let action = reply(&mut s, inform_response(CwmpNamespace::V1_2, "x"), &mut q);
        assert!(matches!(
            action,
            CpeAction::Closed(Err(CpeError::UnexpectedMessage { .. }))
        ));
    }

    #[test]
    fn http_05_wait_timeout_is_at_least_30_seconds_and_fails_the_session() {
        let mut q = queue_with(&[EventCode::ConnectionRequest]);
        let config = CpeConfig {
            wait_timeout: Duration::from_secs(5),
            ..CpeConfig::default()
        };
        let (mut s, _) = start(config, &q);
        assert_eq!(s.poll_timeout(), Some(Millis(30_000)));
        assert_eq!(s.handle_timeout(Millis(29_999), &mut q), None);
        assert_eq!(
            s.handle_timeout(Millis(30_000), &mut q),
            Some(CpeAction::Closed(Err(CpeError::Timeout)))
        );
        assert!(q.is_empty(), "EVT-03");

        let q = queue_with(&[EventCode::Periodic]);
        let config = CpeConfig {
            wait_timeout: Duration::from_secs(90),
            ..CpeConfig::default()
        };
        let (s, _) = start(config, &q);
        assert_eq!(s.poll_timeout(), Some(Millis(90_000)));
    }

    #[test]
    fn rty_01_wait_follows_the_formula_and_rty_02_counts_consecutive_failures() {
        let mut r = RetryState::new(RetryPolicy::default(), None);
        let mut now = Millis(0);
        for (n, lo) in [
            (1, 5),
            (2, 10),
            (3, 20),
            (4, 40),
            (5, 80),
            (6, 160),
            (7, 320),
            (8, 640),
            (9, 1280),
            (10, 2560),
            (11, 2560),
        ] {
            let RetryDecision::RetryAt(at) = r.session_failed(now, true, 0.0) else {
                panic!()
            };
            assert_eq!(at, now.saturating_add(Duration::from_secs(lo)), "retry {n}");
            assert_eq!(r.retry_count(), n);
            assert!(r.handle_timeout(at));
            now = at;
        }
        r.session_succeeded();
        assert_eq!(r.retry_count(), 0);
        let RetryDecision::RetryAt(at) = r.session_failed(Millis(0), true, 0.5) else {
            panic!()
        };
        assert_eq!(
            at,
            Millis(7_500),
            "random fraction places the wait inside [5, 10] s"
        );
    }

    #[test]
    fn rty_01_custom_m_and_k_are_honoured() {
        let mut r = RetryState::new(RetryPolicy::new(10, 1500).unwrap(), None);
        assert_eq!(
            r.session_failed(Millis(0), true, 0.0),
            RetryDecision::RetryAt(Millis(10_000))
        );
        assert_eq!(
            r.session_failed(Millis(0), true, 0.999_999_9),
            RetryDecision::RetryAt(Millis(22_499))
        );
    }

    #[test]
    fn rty_03_new_event_while_waiting_retries_now_and_keeps_counting() {
        let mut r = RetryState::new(RetryPolicy::default(), None);
        r.session_failed(Millis(0), true, 0.0);
        assert!(r.waiting());
        assert!(r.event_arrived());
        assert!(!r.waiting());
        assert_eq!(r.retry_count(), 1);
        assert_eq!(
            r.session_failed(Millis(1_000), true, 0.0),
            RetryDecision::RetryAt(Millis(11_000))
        );
        assert_eq!(r.retry_count(), 2);
    }

    #[test]
    fn connect_retry_cap_limits_attempts() {
        let mut never = RetryState::new(RetryPolicy::default(), Some(0));
        assert_eq!(
            never.session_failed(Millis(0), true, 0.0),
            RetryDecision::GaveUp
        );
        assert_eq!(never.poll_timeout(), None);
        let mut twice = RetryState::new(RetryPolicy::default(), Some(2));
        assert!(matches!(
            twice.session_failed(Millis(0), true, 0.0),
            RetryDecision::RetryAt(_)
        ));
        assert!(matches!(
            twice.session_failed(Millis(0), true, 0.0),
            RetryDecision::RetryAt(_)
        ));
        assert_eq!(
            twice.session_failed(Millis(0), true, 0.0),
            RetryDecision::GaveUp
        );
        assert_eq!(
            twice.retry_count(),
            3,
            "the count still reports consecutive failures"
        );
    }

    #[test]
    fn evt_03_no_retry_when_nothing_is_left() {
        let mut r = RetryState::new(RetryPolicy::default(), None);
        assert_eq!(
            r.session_failed(Millis(0), false, 0.0),
            RetryDecision::NotNeeded
        );
        assert_eq!(r.poll_timeout(), None);
    }
}
