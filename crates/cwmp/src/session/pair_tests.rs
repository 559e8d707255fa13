//! An [`AcsSession`] and a [`CpeSession`] talking to each other in memory with a fake clock.
//! Every message goes through [`crate::encode`] and [`crate::decode`]: what crosses is real
//! bytes, as it would over HTTP. Scripted drivers stand in for the server and the agent.

use super::*;
use crate::datetime::DateTime;
use crate::device_id::DeviceId;
use crate::event::{Event, EventCode};
use crate::fault::{Fault, FaultCode};
use crate::namespace::{CwmpNamespace, CwmpVersion};
use crate::retry::RetryPolicy;
use crate::rpc::{
    Body, GetParameterValues, GetParameterValuesResponse, Inform, SetParameterValues,
    SetParameterValuesResponse, TransferComplete, TransferFault,
};
use crate::value::{ParameterValue, Value};
use crate::{Envelope, decode, encode};
use std::collections::VecDeque;
use std::time::Duration;

/// One network hop.
const HOP: Duration = Duration::from_millis(50);

type Tamper = Box<dyn Fn(String) -> String>;

struct Pair {
    now: Millis,
    acs_config: AcsConfig,
    cpe_config: CpeConfig,
    queue: EventQueue,
    retry: RetryState,
    accept: AcceptOptions,
    /// Faults the ACS driver gives to successive Informs (then it accepts).
    inform_faults: VecDeque<Fault>,
    /// Requests the ACS driver sends after the empty POST, in order.
    acs_script: VecDeque<Body>,
    /// Rewrites ACS→CPE bytes (to inject what the ACS machine would never produce).
    tamper: Option<Tamper>,
    /// Every message on the wire, `>` CPE→ACS, `<` ACS→CPE.
    wire: Vec<String>,
    /// The raw Informs as sent.
    inform_bytes: Vec<String>,
    /// The Informs as the ACS decoded them.
    informs: Vec<Inform>,
    /// CPE requests the ACS driver saw.
    cpe_requests: Vec<Body>,
    /// ACS requests and their outcomes.
    completed: Vec<Completed>,
    /// Event count in the queue after each reply the CPE handled.
    queue_trace: Vec<(String, usize)>,
    /// The last session's machines, for inspection.
    last_acs: Option<AcsSession>,
    last_cpe: Option<CpeSession>,
}

fn device() -> DeviceId {
    DeviceId {
        manufacturer: "Tether".into(),
        oui: "00E0FC".into(),
        product_class: "SIM".into(),
        serial_number: "0001".into(),
    }
}

fn tc(key: &str) -> PendingRequest {
    PendingRequest::transfer_complete(TransferComplete {
        command_key: key.into(),
        fault: TransferFault::default(),
        start_time: DateTime::from_unix(1_700_000_000, 0),
        complete_time: DateTime::from_unix(1_700_000_030, 0),
    })
    .unwrap()
}

fn gpv() -> Body {
    Body::GetParameterValues(GetParameterValues {
        parameter_names: vec!["Device.DeviceInfo.SoftwareVersion".into()],
    })
}

fn spv() -> Body {
    Body::SetParameterValues(SetParameterValues {
        parameter_list: vec![ParameterValue::new(
            "Device.ManagementServer.PeriodicInformInterval",
            Value::unsigned_int(600),
        )],
        parameter_key: "k1".into(),
    })
}

/// The ACS driver's answer to a CPE request: always the matching response (ENV-13).
fn acs_answer(request: &Body) -> Body {
    match request {
        Body::TransferComplete(_) => Body::TransferCompleteResponse,
        Body::AutonomousTransferComplete(_) => Body::AutonomousTransferCompleteResponse,
        Body::DUStateChangeComplete(_) => Body::DUStateChangeCompleteResponse,
        Body::AutonomousDUStateChangeComplete(_) => Body::AutonomousDUStateChangeCompleteResponse,
        Body::RequestDownload(_) => Body::RequestDownloadResponse,
        Body::Kicked(_) => Body::KickedResponse(Default::default()),
        _ => Body::GetRPCMethodsResponse(Default::default()),
    }
}

/// The agent's execution of an ACS request.
fn cpe_execute(request: &Body) -> Result<Body, Fault> {
    match request {
        Body::GetParameterValues(g) => Ok(Body::GetParameterValuesResponse(
            GetParameterValuesResponse {
                parameter_list: g
                    .parameter_names
                    .iter()
                    .map(|n| ParameterValue::new(n.clone(), Value::string("1.0")))
                    .collect(),
            },
        )),
        Body::SetParameterValues(_) => Ok(Body::SetParameterValuesResponse(
            SetParameterValuesResponse { status: 0 },
        )),
        Body::GetRPCMethods => Ok(Body::GetRPCMethodsResponse(Default::default())),
        _ => Err(Fault::new(FaultCode::REQUEST_DENIED)),
    }
}

fn wire_name(env: &Envelope) -> String {
    match &env.body {
        Body::Fault(f) => format!("Fault {}", f.code),
        b => b.method_name().to_owned(),
    }
}

impl Pair {
    fn new(events: &[EventCode]) -> Self {
        let mut queue = EventQueue::new();
        for code in events {
            queue.push(Event::new(code.clone())).unwrap();
        }
        Self {
            now: Millis(1_000_000),
            acs_config: AcsConfig::default(),
            cpe_config: CpeConfig::default(),
            queue,
            retry: RetryState::new(RetryPolicy::default(), None),
            accept: AcceptOptions::default(),
            inform_faults: VecDeque::new(),
            acs_script: VecDeque::new(),
            tamper: None,
            wire: Vec::new(),
            inform_bytes: Vec::new(),
            informs: Vec::new(),
            cpe_requests: Vec::new(),
            completed: Vec::new(),
            queue_trace: Vec::new(),
            last_acs: None,
            last_cpe: None,
        }
    }

    fn tick(&mut self) {
        self.now = self.now.saturating_add(HOP);
    }

    /// CPE → ACS: encode, decode, and let the ACS machine and its driver answer.
    fn post_to_acs(&mut self, acs: &mut AcsSession, env: Option<&Envelope>) -> Reply {
        self.tick();
        let event = match env {
            Some(env) => {
                let xml = encode(env).expect("CPE message encodes");
                if matches!(env.body, Body::Inform(_)) {
                    self.inform_bytes.push(xml.clone());
                }
                let decoded = decode(xml.as_bytes())
                    .expect("CPE message decodes")
                    .envelope;
                self.wire.push(format!("> {}", wire_name(&decoded)));
                acs.handle_message(self.now, decoded)
            }
            None => {
                self.wire.push("> (empty)".into());
                acs.handle_empty(self.now)
            }
        };
        let reply = match event.expect("the CPE follows the protocol") {
            AcsEvent::Inform { inform, .. } => {
                self.informs.push(*inform);
                match self.inform_faults.pop_front() {
                    Some(fault) => acs.reject_inform(self.now, fault),
                    None => acs.accept_inform(self.now, self.accept),
                }
            }
            AcsEvent::Request(body) => {
                let answer = acs_answer(&body);
                self.cpe_requests.push(body);
                acs.respond(self.now, answer)
            }
            AcsEvent::Reply(reply) => Ok(reply),
            AcsEvent::Ready(done) => {
                self.completed.extend(done);
                match self.acs_script.pop_front() {
                    Some(request) => acs.send(self.now, request),
                    None => acs.finish(self.now),
                }
            }
        };
        reply.expect("the ACS driver calls in order")
    }

    /// ACS → CPE: encode, decode (or 204), and hand to the CPE machine.
    fn reply_to_cpe(&mut self, cpe: &mut CpeSession, reply: Reply) -> CpeAction {
        self.tick();
        let http = match reply.envelope() {
            Some(env) => {
                let mut xml = encode(env).expect("ACS message encodes");
                if let Some(tamper) = &self.tamper {
                    xml = tamper(xml);
                }
                let decoded = decode(xml.as_bytes())
                    .expect("ACS message decodes")
                    .envelope;
                let hold = if decoded.header.hold_requests == Some(true) {
                    " +HoldRequests"
                } else {
                    ""
                };
                self.wire.push(format!("< {}{hold}", wire_name(&decoded)));
                HttpReply::Message(decoded)
            }
            None => {
                self.wire.push("< 204".into());
                HttpReply::Empty
            }
        };
        let action = cpe
            .handle_reply(self.now, http, &mut self.queue)
            .expect("the CPE driver calls in order");
        let last = self.wire.last().cloned().unwrap_or_default();
        self.queue_trace.push((last, self.queue.events().len()));
        action
    }

    /// Runs one whole session attempt; returns the CPE's verdict.
    fn session(&mut self) -> Result<(), CpeError> {
        let content = InformContent {
            device_id: device(),
            current_time: DateTime::from_unix(1_700_000_000, 0),
            parameter_list: vec![ParameterValue::new(
                "Device.DeviceInfo.SoftwareVersion",
                Value::string("1.0"),
            )],
            retry_count: self.retry.retry_count(),
        };
        let (mut cpe, mut action) = CpeSession::start(
            self.now,
            self.cpe_config.clone(),
            self.queue.next_inform(),
            content,
        )?;
        let mut acs = AcsSession::new(self.acs_config.clone(), self.now);
        let outcome = loop {
            action = match action {
                CpeAction::Send(env) => {
                    let reply = self.post_to_acs(&mut acs, Some(&env));
                    self.reply_to_cpe(&mut cpe, reply)
                }
                CpeAction::SendEmpty => {
                    let reply = self.post_to_acs(&mut acs, None);
                    self.reply_to_cpe(&mut cpe, reply)
                }
                CpeAction::Execute(request) => {
                    self.tick();
                    cpe.respond(self.now, cpe_execute(&request))
                        .expect("the agent answers in order")
                }
                CpeAction::Closed(result) => break result,
            };
        };
        match &outcome {
            Ok(()) => self.retry.session_succeeded(),
            Err(_) => {
                let needed = self.queue.needs_session();
                self.retry.session_failed(self.now, needed, 0.5);
            }
        }
        self.last_acs = Some(acs);
        self.last_cpe = Some(cpe);
        outcome
    }
}

#[test]
fn plain_periodic_session() {
    let mut p = Pair::new(&[EventCode::Periodic]);
    assert_eq!(p.session(), Ok(()));
    assert_eq!(
        p.wire,
        ["> Inform", "< InformResponse", "> (empty)", "< 204"]
    );
    assert!(
        p.queue.is_empty(),
        "EVT-01: delivered by the InformResponse"
    );
    assert_eq!(p.last_acs.as_ref().unwrap().state(), AcsState::Closed);
    assert_eq!(p.informs[0].events, [Event::new(EventCode::Periodic)]);
    assert_eq!(p.informs[0].device_id, device());
    assert_eq!(p.retry.retry_count(), 0);
}

#[test]
fn transfer_complete_session_delivers_its_events_only_when_answered() {
    let mut p = Pair::new(&[EventCode::TransferComplete]);
    p.queue
        .push(Event::with_key(EventCode::m_download(), "fw-1"))
        .unwrap();
    p.queue.push(Event::new(EventCode::Periodic)).unwrap();
    p.queue.push_request(tc("fw-1")).unwrap();
    assert_eq!(p.session(), Ok(()));
    assert_eq!(
        p.wire,
        [
            "> Inform",
            "< InformResponse",
            "> TransferComplete",
            "< TransferCompleteResponse",
            "> (empty)",
            "< 204"
        ]
    );
    // EVT-01: PERIODIC goes with the InformResponse; 7 and M Download with the TC response.
    assert_eq!(p.queue_trace[0], ("< InformResponse".to_owned(), 2));
    assert_eq!(
        p.queue_trace[1],
        ("< TransferCompleteResponse".to_owned(), 0)
    );
    assert!(p.queue.is_empty());
    let Body::TransferComplete(seen) = &p.cpe_requests[0] else {
        panic!()
    };
    assert_eq!(seen.command_key, "fw-1");
}

#[test]
fn acs_requests_gpv_and_spv_then_204() {
    let mut p = Pair::new(&[EventCode::ConnectionRequest]);
    p.acs_script = VecDeque::from([gpv(), spv()]);
    assert_eq!(p.session(), Ok(()));
    assert_eq!(
        p.wire,
        [
            "> Inform",
            "< InformResponse",
            "> (empty)",
            "< GetParameterValues",
            "> GetParameterValuesResponse",
            "< SetParameterValues",
            "> SetParameterValuesResponse",
            "< 204"
        ]
    );
    assert_eq!(p.completed.len(), 2);
    assert_eq!(p.completed[0].request.id, "acs-1");
    assert_eq!(p.completed[1].request.id, "acs-2");
    let Ok(Body::GetParameterValuesResponse(r)) = &p.completed[0].result else {
        panic!()
    };
    assert_eq!(r.parameter_list[0].value.text, "1.0");
    assert_eq!(
        p.completed[1].result,
        Ok(Body::SetParameterValuesResponse(
            SetParameterValuesResponse { status: 0 }
        ))
    );
    assert_eq!(p.last_acs.as_ref().unwrap().outstanding(), None);
}

#[test]
fn hold_requests_keeps_the_transfer_complete_for_a_later_session() {
    let mut p = Pair::new(&[EventCode::TransferComplete]);
    p.queue.push_request(tc("fw-2")).unwrap();
    p.accept = AcceptOptions {
        hold_requests: true,
    };
    p.acs_script = VecDeque::from([gpv()]);
    assert_eq!(p.session(), Err(CpeError::RequestsUnsent(1)));
    assert_eq!(
        p.wire,
        [
            "> Inform",
            "< InformResponse +HoldRequests",
            "> (empty)",
            "< GetParameterValues",
            "> GetParameterValuesResponse",
            "< 204"
        ]
    );
    assert!(
        p.cpe_requests.is_empty(),
        "SES-02: no CPE request while held"
    );
    assert_eq!(p.queue.requests().len(), 1);
    assert_eq!(p.queue.events(), [Event::new(EventCode::TransferComplete)]);

    // The next session, not held, delivers it; RetryCount says one attempt failed.
    p.wire.clear();
    p.accept = AcceptOptions::default();
    assert_eq!(p.session(), Ok(()));
    assert_eq!(p.informs[1].retry_count, 1);
    assert_eq!(p.wire[2], "> TransferComplete");
    assert!(p.queue.is_empty());
}

#[test]
fn fault_8005_to_inform_makes_the_cpe_resend_the_identical_inform() {
    let mut p = Pair::new(&[EventCode::Boot]);
    p.inform_faults = VecDeque::from([Fault::new(FaultCode::ACS_RETRY_REQUEST)]);
    assert_eq!(p.session(), Ok(()));
    assert_eq!(
        p.wire,
        [
            "> Inform",
            "< Fault 8005",
            "> Inform",
            "< InformResponse",
            "> (empty)",
            "< 204"
        ]
    );
    assert_eq!(
        p.inform_bytes[0], p.inform_bytes[1],
        "FLT-04: the same request, byte for byte"
    );
    assert_eq!(p.last_acs.as_ref().unwrap().inform_retries(), 1);
}

#[test]
fn cwmp_1_4_negotiation_to_1_4() {
    let mut p = Pair::new(&[EventCode::Periodic]);
    p.cpe_config.session_timeout = Some(60);
    assert_eq!(p.session(), Ok(()));
    assert!(p.inform_bytes[0].contains("SupportedCWMPVersions"));
    assert!(p.inform_bytes[0].contains("SessionTimeout"));
    assert_eq!(
        p.last_acs.as_ref().unwrap().version(),
        Some(CwmpVersion::V1_4)
    );
    assert_eq!(p.last_cpe.as_ref().unwrap().version(), CwmpVersion::V1_4);
    assert_eq!(
        p.last_cpe.as_ref().unwrap().namespace(),
        CwmpNamespace::V1_2
    );
}

#[test]
fn cwmp_1_4_negotiation_with_an_old_acs_falls_back_to_1_2() {
    let mut p = Pair::new(&[EventCode::Periodic]);
    p.acs_config.versions = vec![CwmpVersion::V1_0, CwmpVersion::V1_1, CwmpVersion::V1_2];
    p.acs_script = VecDeque::from([gpv()]);
    assert_eq!(p.session(), Ok(()));
    assert_eq!(
        p.last_acs.as_ref().unwrap().version(),
        Some(CwmpVersion::V1_2)
    );
    assert_eq!(
        p.last_cpe.as_ref().unwrap().version(),
        CwmpVersion::V1_2,
        "ENV-07 step 3"
    );
    assert_eq!(
        p.last_cpe.as_ref().unwrap().namespace(),
        CwmpNamespace::V1_2
    );
}

#[test]
fn cwmp_version_without_common_ground_gets_8006_and_the_session_fails() {
    let mut p = Pair::new(&[EventCode::Periodic]);
    p.cpe_config.version = CwmpVersion::V1_3;
    p.cpe_config.session_timeout = Some(30);
    p.acs_config.versions = vec![CwmpVersion::V1_4];
    let outcome = p.session();
    assert!(
        matches!(&outcome, Err(CpeError::InformRefused(f)) if f.code == FaultCode::ACS_VERSION_INCOMPATIBLE),
        "{outcome:?}"
    );
    assert_eq!(p.wire, ["> Inform", "< Fault 8006"]);
    assert_eq!(p.last_acs.as_ref().unwrap().state(), AcsState::Closed);
    assert_eq!(
        p.queue.events().len(),
        1,
        "EVT-02: the event waits for the next attempt"
    );
    assert_eq!(p.retry.retry_count(), 1);
}

#[test]
fn unknown_acs_method_is_answered_9000_by_the_cpe() {
    let mut p = Pair::new(&[EventCode::Periodic]);
    p.acs_script = VecDeque::from([Body::GetRPCMethods]);
    // A vendor method no schema defines: rewrite the element on the wire.
    p.tamper = Some(Box::new(|xml: String| {
        xml.replace("cwmp:GetRPCMethods", "cwmp:X_ACME_Frobnicate")
    }));
    assert_eq!(p.session(), Ok(()));
    assert_eq!(
        p.wire[3..],
        ["< X_ACME_Frobnicate", "> Fault 9000", "< 204"]
    );
    assert_eq!(p.completed[0].request.id, "acs-1");
    assert_eq!(
        p.completed[0].result.as_ref().unwrap_err().code,
        FaultCode::METHOD_NOT_SUPPORTED
    );
}

#[test]
fn session_timeouts_on_both_sides_report_the_outstanding_request() {
    let mut p = Pair::new(&[EventCode::Periodic]);
    let (mut cpe, action) = CpeSession::start(
        p.now,
        p.cpe_config.clone(),
        p.queue.next_inform(),
        InformContent {
            device_id: device(),
            current_time: DateTime::UNKNOWN,
            parameter_list: vec![],
            retry_count: 0,
        },
    )
    .unwrap();
    let mut acs = AcsSession::new(p.acs_config.clone(), p.now);
    let CpeAction::Send(inform) = action else {
        panic!()
    };
    let reply = p.post_to_acs(&mut acs, Some(&inform));
    assert_eq!(p.reply_to_cpe(&mut cpe, reply), CpeAction::SendEmpty);
    p.acs_script = VecDeque::from([gpv()]);
    let reply = p.post_to_acs(&mut acs, None);
    let sent_at = p.now;
    let CpeAction::Execute(_) = p.reply_to_cpe(&mut cpe, reply) else {
        panic!()
    };

    // The agent hangs while executing; the ACS gives up after 30 s of silence (SES-06).
    let deadline = acs.poll_timeout().unwrap();
    assert_eq!(deadline, sent_at.saturating_add(Duration::from_secs(30)));
    assert_eq!(acs.handle_timeout(Millis(deadline.0 - 1)), None);
    let expired = acs.handle_timeout(deadline).unwrap();
    assert_eq!(expired.kind, ExpiryKind::Inactivity);
    assert_eq!(
        expired
            .outstanding
            .as_ref()
            .map(|o| (o.id.as_str(), o.request.clone())),
        Some(("acs-1", gpv()))
    );

    // The agent finally answers; nothing comes back and its wait timeout fails the attempt.
    p.now = deadline;
    let CpeAction::Send(_) = cpe.respond(p.now, cpe_execute(&gpv())).unwrap() else {
        panic!()
    };
    let cpe_deadline = cpe.poll_timeout().unwrap();
    assert_eq!(cpe_deadline, p.now.saturating_add(Duration::from_secs(30)));
    assert_eq!(
        cpe.handle_timeout(cpe_deadline, &mut p.queue),
        Some(CpeAction::Closed(Err(CpeError::Timeout)))
    );
    assert!(
        p.queue.is_empty(),
        "the events were delivered by the InformResponse before the failure"
    );
}

#[test]
fn retry_back_off_sequence_with_retry_count_in_consecutive_informs() {
    let mut p = Pair::new(&[EventCode::Boot]);
    let denied = Fault::new(FaultCode::ACS_INTERNAL_ERROR);
    p.inform_faults = VecDeque::from([denied.clone(), denied.clone(), denied]);
    let mut waits = Vec::new();
    for _ in 0..3 {
        assert!(matches!(p.session(), Err(CpeError::InformRefused(_))));
        let at = p.retry.poll_timeout().expect("a retry is scheduled");
        waits.push(at.saturating_since(p.now));
        assert!(!p.retry.handle_timeout(Millis(at.0 - 1)));
        p.now = at;
        assert!(p.retry.handle_timeout(p.now));
    }
    // Fraction 0.5 of [5,10], [10,20], [20,40] seconds (RTY-01).
    assert_eq!(
        waits,
        [
            Duration::from_millis(7_500),
            Duration::from_secs(15),
            Duration::from_secs(30)
        ]
    );
    assert_eq!(p.session(), Ok(()));
    let counts: Vec<u32> = p.informs.iter().map(|i| i.retry_count).collect();
    assert_eq!(counts, [0, 1, 2, 3], "RTY-02");
    assert_eq!(p.retry.retry_count(), 0, "reset after success");
    assert!(p.queue.is_empty());

    p.queue.push(Event::new(EventCode::Periodic)).unwrap();
    assert_eq!(p.session(), Ok(()));
    assert_eq!(p.informs[4].retry_count, 0);
}

#[test]
fn connection_request_only_session_that_fails_is_not_retried() {
    let mut p = Pair::new(&[EventCode::ConnectionRequest]);
    p.inform_faults = VecDeque::from([Fault::new(FaultCode::ACS_REQUEST_DENIED)]);
    assert!(p.session().is_err());
    assert!(p.queue.is_empty(), "EVT-03");
    assert_eq!(p.retry.poll_timeout(), None);
}
