//! The device's queue of undelivered Inform events and pending CPE requests (§3.2, §4.5:
//! EVT-01..05, HB-01), persisted by the agent between sessions and across reboots.
//!
//! This file owns the retention rules: which events are merged, which survive a failed session,
//! a reboot or a change of ACS URL, and when an event counts as delivered. It must not decide
//! *when* a session starts (the agent's timers and [`super::RetryState`] do) nor talk to the
//! ACS (that is [`super::CpeSession`]).
//!
//! Delivery is two-phase: [`EventQueue::next_inform`] takes a snapshot ([`InformPlan`]) that the
//! session sends; the session then reports what the ACS acknowledged. Events that arrive while a
//! session runs are therefore never marked delivered by it.

use crate::envelope::Envelope;
use crate::error::EncodeError;
use crate::event::{Event, EventCode};
use crate::namespace::CwmpNamespace;
use crate::rpc::{
    AutonomousDuStateChangeComplete, AutonomousTransferComplete, Body, DuStateChangeComplete,
    Implementer, Kicked, RequestDownload, TransferComplete,
};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Most events an Inform can carry (XSD `maxOccurs="64"`), and so most events kept.
pub const MAX_EVENTS: usize = 64;
/// Most pending CPE requests kept.
pub const MAX_PENDING_REQUESTS: usize = 64;

/// Why something could not be queued.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum QueueError {
    /// The queue already holds [`MAX_EVENTS`] events or [`MAX_PENDING_REQUESTS`] requests.
    #[error("the event queue is full")]
    Full,
    /// Only methods the ACS implements (other than Inform) can be queued as CPE requests.
    #[error("{0} is not a request a CPE sends to the ACS")]
    NotACpeRequest(String),
    /// The request would not pass the schema-exact encoder, so it could never be sent.
    #[error("request cannot be encoded: {0}")]
    Unencodable(#[from] EncodeError),
}

/// A CPE-originated request waiting to be sent after an InformResponse (TransferComplete,
/// DUStateChangeComplete and the like). Serialised as the CWMP message it will be sent as.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingRequest {
    body: Body,
}

impl PendingRequest {
    /// Wraps a CPE request, checking that it is one (ACS-implemented, not Inform) and that it
    /// encodes schema-exact.
    pub fn new(body: Body) -> Result<Self, QueueError> {
        let allowed = matches!(
            body.implementer(),
            Some(Implementer::Acs | Implementer::Both)
        ) && !matches!(body, Body::Inform(_));
        if !allowed {
            return Err(QueueError::NotACpeRequest(body.method_name().to_owned()));
        }
        let request = Self { body };
        request.to_xml()?;
        Ok(request)
    }

    /// A `TransferComplete` for a Download, Upload or ScheduleDownload.
    pub fn transfer_complete(tc: TransferComplete) -> Result<Self, QueueError> {
        Self::new(Body::TransferComplete(tc))
    }

    /// An `AutonomousTransferComplete`.
    pub fn autonomous_transfer_complete(
        atc: AutonomousTransferComplete,
    ) -> Result<Self, QueueError> {
        Self::new(Body::AutonomousTransferComplete(atc))
    }

    /// A `DUStateChangeComplete` for a ChangeDUState.
    pub fn du_state_change_complete(dscc: DuStateChangeComplete) -> Result<Self, QueueError> {
        Self::new(Body::DUStateChangeComplete(dscc))
    }

    /// An `AutonomousDUStateChangeComplete`.
    pub fn autonomous_du_state_change_complete(
        a: AutonomousDuStateChangeComplete,
    ) -> Result<Self, QueueError> {
        Self::new(Body::AutonomousDUStateChangeComplete(a))
    }

    /// A `RequestDownload` (with event `9 REQUEST DOWNLOAD`).
    pub fn request_download(rd: RequestDownload) -> Result<Self, QueueError> {
        Self::new(Body::RequestDownload(rd))
    }

    /// A `Kicked` (with event `5 KICKED`).
    pub fn kicked(k: Kicked) -> Result<Self, QueueError> {
        Self::new(Body::Kicked(k))
    }

    /// The request body.
    pub fn body(&self) -> &Body {
        &self.body
    }

    /// The CommandKey that identifies a TransferComplete or DUStateChangeComplete.
    pub fn command_key(&self) -> Option<&str> {
        match &self.body {
            Body::TransferComplete(tc) => Some(&tc.command_key),
            Body::DUStateChangeComplete(d) => Some(d.command_key.as_deref().unwrap_or("")),
            _ => None,
        }
    }

    /// Whether two requests stand for the same pending message (same method and CommandKey for
    /// the keyed ones, equal bodies otherwise).
    fn same_slot(&self, other: &Self) -> bool {
        match (self.command_key(), other.command_key()) {
            (Some(a), Some(b)) => a == b && self.body.method_name() == other.body.method_name(),
            _ => self.body == other.body,
        }
    }

    fn to_xml(&self) -> Result<String, EncodeError> {
        let options = crate::encode::EncodeOptions {
            fraction: crate::datetime::Fraction::AsNeeded,
            ..Default::default()
        };
        crate::encode::encode_with(
            &Envelope::new(CwmpNamespace::V1_2, None, self.body.clone()),
            &options,
        )
    }
}

impl Serialize for PendingRequest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let xml = self.to_xml().map_err(serde::ser::Error::custom)?;
        s.serialize_str(&xml)
    }
}

impl<'de> Deserialize<'de> for PendingRequest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let xml = String::deserialize(d)?;
        let decoded = crate::decode::decode(xml.as_bytes()).map_err(serde::de::Error::custom)?;
        Self::new(decoded.envelope.body).map_err(serde::de::Error::custom)
    }
}

/// What one Inform carries, taken from the queue when a session attempt starts.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct InformPlan {
    /// The events, in queue order (HEARTBEAT alone, HB-01).
    pub events: Vec<Event>,
    /// Parameters that changed (present only with `4 VALUE CHANGE`): the driver puts their
    /// current values in the ParameterList.
    pub changed_parameters: Vec<String>,
    /// The CPE requests to send after the InformResponse.
    pub requests: Vec<PendingRequest>,
}

/// The persisted events and pending requests of one device.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(from = "QueueRepr", into = "QueueRepr")]
pub struct EventQueue {
    events: Vec<Event>,
    changed_parameters: Vec<String>,
    requests: Vec<PendingRequest>,
}

#[derive(Serialize, Deserialize)]
struct EventRepr {
    code: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    command_key: String,
}

#[derive(Serialize, Deserialize)]
struct QueueRepr {
    #[serde(default)]
    events: Vec<EventRepr>,
    #[serde(default)]
    changed_parameters: Vec<String>,
    #[serde(default)]
    requests: Vec<PendingRequest>,
}

impl From<EventQueue> for QueueRepr {
    fn from(q: EventQueue) -> Self {
        Self {
            events: q
                .events
                .into_iter()
                .map(|e| EventRepr {
                    code: e.code.to_string(),
                    command_key: e.command_key,
                })
                .collect(),
            changed_parameters: q.changed_parameters,
            requests: q.requests,
        }
    }
}

impl From<QueueRepr> for EventQueue {
    fn from(r: QueueRepr) -> Self {
        Self {
            events: r
                .events
                .into_iter()
                .map(|e| Event::with_key(EventCode::parse(&e.code), e.command_key))
                .collect(),
            changed_parameters: r.changed_parameters,
            requests: r.requests,
        }
    }
}

/// `M` methods whose event waits for a TransferComplete with the same CommandKey (EVT-01).
fn is_transfer_method(code: &EventCode) -> bool {
    matches!(code, EventCode::Method(m) if matches!(m.as_str(), "Download" | "Upload" | "ScheduleDownload"))
}

fn is_du_method(code: &EventCode) -> bool {
    matches!(code, EventCode::Method(m) if m == "ChangeDUState")
}

impl EventQueue {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an event. Single events (numbered codes) are kept once; `M` events accumulate, one
    /// per CommandKey (§3.2). Returns whether the queue changed.
    pub fn push(&mut self, event: Event) -> Result<bool, QueueError> {
        let present = if event.code.is_multiple() {
            self.events.contains(&event)
        } else {
            self.events.iter().any(|e| e.code == event.code)
        };
        if present {
            return Ok(false);
        }
        if self.events.len() >= MAX_EVENTS {
            return Err(QueueError::Full);
        }
        self.events.push(event);
        Ok(true)
    }

    /// Adds `4 VALUE CHANGE` with the parameters that changed (each listed once).
    pub fn push_value_change<I, S>(&mut self, names: I) -> Result<bool, QueueError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut changed = self.push(Event::new(EventCode::ValueChange))?;
        for name in names {
            let name = name.into();
            if !self.changed_parameters.contains(&name) {
                self.changed_parameters.push(name);
                changed = true;
            }
        }
        Ok(changed)
    }

    /// Queues a CPE request. A TransferComplete or DUStateChangeComplete replaces an earlier one
    /// with the same CommandKey.
    pub fn push_request(&mut self, request: PendingRequest) -> Result<(), QueueError> {
        if let Some(slot) = self.requests.iter_mut().find(|r| r.same_slot(&request)) {
            *slot = request;
            return Ok(());
        }
        if self.requests.len() >= MAX_PENDING_REQUESTS {
            return Err(QueueError::Full);
        }
        self.requests.push(request);
        Ok(())
    }

    /// The undelivered events, oldest first.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// The parameters waiting to be reported with `4 VALUE CHANGE`.
    pub fn changed_parameters(&self) -> &[String] {
        &self.changed_parameters
    }

    /// The CPE requests not yet answered by the ACS.
    pub fn requests(&self) -> &[PendingRequest] {
        &self.requests
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.requests.is_empty()
    }

    /// Whether anything waiting calls for a session (a retry after a failure, EVT-02/03).
    pub fn needs_session(&self) -> bool {
        !self.is_empty()
    }

    /// What the next Inform carries. `14 HEARTBEAT` is never mixed with other events (HB-01):
    /// while other events wait it stays queued for a session of its own.
    pub fn next_inform(&self) -> InformPlan {
        let others: Vec<Event> = self
            .events
            .iter()
            .filter(|e| e.code != EventCode::Heartbeat)
            .cloned()
            .collect();
        let events = if others.is_empty() {
            self.events
                .iter()
                .filter(|e| e.code == EventCode::Heartbeat)
                .take(1)
                .cloned()
                .collect()
        } else {
            others
        };
        let changed_parameters = if events.iter().any(|e| e.code == EventCode::ValueChange) {
            self.changed_parameters.clone()
        } else {
            Vec::new()
        };
        InformPlan {
            events,
            changed_parameters,
            requests: self.requests.clone(),
        }
    }

    /// Whether this event will only be delivered when a queued request is answered (EVT-01):
    /// 7 and `M Download`/`M Upload`/`M ScheduleDownload` with TransferComplete, 10 with
    /// AutonomousTransferComplete, 11 and `M ChangeDUState` with DUStateChangeComplete, 12 with
    /// AutonomousDUStateChangeComplete. Without such a request it is delivered with the Inform.
    pub fn waits_for_request(&self, event: &Event) -> bool {
        let has = |pred: &dyn Fn(&Body) -> bool| self.requests.iter().any(|r| pred(&r.body));
        match &event.code {
            EventCode::TransferComplete => has(&|b| matches!(b, Body::TransferComplete(_))),
            EventCode::AutonomousTransferComplete => {
                has(&|b| matches!(b, Body::AutonomousTransferComplete(_)))
            }
            EventCode::DuStateChangeComplete => {
                has(&|b| matches!(b, Body::DUStateChangeComplete(_)))
            }
            EventCode::AutonomousDuStateChangeComplete => {
                has(&|b| matches!(b, Body::AutonomousDUStateChangeComplete(_)))
            }
            code if is_transfer_method(code) => has(
                &|b| matches!(b, Body::TransferComplete(tc) if tc.command_key == event.command_key),
            ),
            code if is_du_method(code) => has(&|b| {
                matches!(b, Body::DUStateChangeComplete(d)
                    if d.command_key.as_deref().unwrap_or("") == event.command_key)
            }),
            _ => false,
        }
    }

    /// The InformResponse for `plan` arrived: its events are delivered, except those waiting for
    /// a request (EVT-01); reported changed parameters are cleared with `4 VALUE CHANGE`.
    pub fn inform_delivered(&mut self, plan: &InformPlan) {
        let delivered: Vec<Event> = plan
            .events
            .iter()
            .filter(|e| !self.waits_for_request(e))
            .cloned()
            .collect();
        self.events.retain(|e| !delivered.contains(e));
        if delivered.iter().any(|e| e.code == EventCode::ValueChange) {
            self.changed_parameters
                .retain(|p| !plan.changed_parameters.contains(p));
            if !self.changed_parameters.is_empty() {
                // Changed after the snapshot: they need a VALUE CHANGE of their own.
                self.events.push(Event::new(EventCode::ValueChange));
            }
        }
    }

    /// The ACS answered `request` with its response: the request and the events it carries are
    /// delivered (EVT-01).
    pub fn request_delivered(&mut self, request: &PendingRequest) {
        let Some(pos) = self.requests.iter().position(|r| r == request) else {
            return;
        };
        let request = self.requests.remove(pos);
        let key = request.command_key().map(str::to_owned);
        let (single, is_method): (Option<EventCode>, fn(&EventCode) -> bool) = match &request.body {
            Body::TransferComplete(_) => (Some(EventCode::TransferComplete), is_transfer_method),
            Body::AutonomousTransferComplete(_) => {
                (Some(EventCode::AutonomousTransferComplete), |_| false)
            }
            Body::DUStateChangeComplete(_) => {
                (Some(EventCode::DuStateChangeComplete), is_du_method)
            }
            Body::AutonomousDUStateChangeComplete(_) => {
                (Some(EventCode::AutonomousDuStateChangeComplete), |_| false)
            }
            _ => (None, |_| false),
        };
        if let Some(key) = key {
            self.events
                .retain(|e| !(is_method(&e.code) && e.command_key == key));
        }
        if let Some(single) = single {
            let still_waiting = self
                .events
                .iter()
                .any(|e| e.code == single && self.waits_for_request(e));
            if !still_waiting {
                self.events.retain(|e| e.code != single);
            }
        }
    }

    /// The session attempt for `plan` failed. `6 CONNECTION REQUEST` is never retried (EVT-03);
    /// everything else stays for the next attempt (EVT-02). Returns whether a retry is needed
    /// (false when the connection request was all there was).
    pub fn session_failed(&mut self, plan: &InformPlan) -> bool {
        if plan
            .events
            .iter()
            .any(|e| e.code == EventCode::ConnectionRequest)
        {
            self.events
                .retain(|e| e.code != EventCode::ConnectionRequest);
        }
        self.needs_session()
    }

    /// The device rebooted (EVT-04): keep 0, 2, 3, 5, 7, 9-14 and every `M` event; drop
    /// `1 BOOT`, `4 VALUE CHANGE` with its parameters, `6 CONNECTION REQUEST` and
    /// `8 DIAGNOSTICS COMPLETE`; then add a fresh `1 BOOT`.
    pub fn rebooted(&mut self) {
        self.events.retain(|e| {
            !matches!(
                e.code,
                EventCode::Boot
                    | EventCode::ValueChange
                    | EventCode::ConnectionRequest
                    | EventCode::DiagnosticsComplete
            )
        });
        self.changed_parameters.clear();
        self.events.insert(0, Event::new(EventCode::Boot));
    }

    /// The ACS URL changed (EVT-05): everything pending for the old ACS is discarded and
    /// `0 BOOTSTRAP` is queued, kept until an InformResponse from the new ACS delivers it.
    pub fn acs_url_changed(&mut self) {
        self.events.clear();
        self.changed_parameters.clear();
        self.requests.clear();
        self.events.push(Event::new(EventCode::Bootstrap));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::TransferFault;
    use crate::{DateTime, FaultCode};

    const UUID: &str = "6ba7b810-9dad-11d1-80b4-00c04fd430c8";

    fn ev(code: EventCode) -> Event {
        Event::new(code)
    }

    fn tc(key: &str) -> PendingRequest {
        PendingRequest::transfer_complete(TransferComplete {
            command_key: key.into(),
            fault: TransferFault::default(),
            start_time: DateTime::from_unix(1_700_000_000, 0),
            complete_time: DateTime::from_unix(1_700_000_060, 0),
        })
        .unwrap()
    }

    fn codes(q: &EventQueue) -> Vec<String> {
        q.events()
            .iter()
            .map(|e| format!("{}/{}", e.code, e.command_key))
            .collect()
    }

    #[test]
    fn single_events_are_deduplicated_and_m_events_accumulate_by_command_key() {
        let mut q = EventQueue::new();
        assert!(q.push(ev(EventCode::Periodic)).unwrap());
        assert!(!q.push(ev(EventCode::Periodic)).unwrap());
        assert!(q.push(Event::with_key(EventCode::m_reboot(), "a")).unwrap());
        assert!(q.push(Event::with_key(EventCode::m_reboot(), "b")).unwrap());
        assert!(!q.push(Event::with_key(EventCode::m_reboot(), "a")).unwrap());
        assert_eq!(codes(&q), ["2 PERIODIC/", "M Reboot/a", "M Reboot/b"]);
    }

    #[test]
    fn queue_is_bounded_at_64_events() {
        let mut q = EventQueue::new();
        for i in 0..MAX_EVENTS {
            q.push(Event::with_key(
                EventCode::m_schedule_inform(),
                i.to_string(),
            ))
            .unwrap();
        }
        assert_eq!(
            q.push(Event::with_key(EventCode::m_schedule_inform(), "x")),
            Err(QueueError::Full)
        );
    }

    #[test]
    fn pending_request_must_be_a_cpe_request() {
        assert_eq!(
            PendingRequest::new(Body::GetParameterNames(Default::default())),
            Err(QueueError::NotACpeRequest("GetParameterNames".into()))
        );
        assert!(matches!(
            PendingRequest::new(Body::Inform(Default::default())),
            Err(QueueError::NotACpeRequest(_))
        ));
        assert!(PendingRequest::new(Body::GetRPCMethods).is_ok());
    }

    #[test]
    fn transfer_complete_with_same_command_key_replaces_the_earlier_one() {
        let mut q = EventQueue::new();
        q.push_request(tc("k1")).unwrap();
        let mut again = tc("k1");
        if let Body::TransferComplete(t) = &mut again.body {
            t.fault.code = FaultCode(9010);
            t.fault.string = "failed".into();
        }
        q.push_request(again.clone()).unwrap();
        q.push_request(tc("k2")).unwrap();
        assert_eq!(q.requests().len(), 2);
        assert_eq!(q.requests()[0], again);
    }

    #[test]
    fn evt_01_plain_events_are_delivered_by_the_inform_response() {
        let mut q = EventQueue::new();
        q.push(ev(EventCode::Boot)).unwrap();
        q.push(Event::with_key(EventCode::m_reboot(), "r")).unwrap();
        let plan = q.next_inform();
        q.inform_delivered(&plan);
        assert!(q.is_empty());
    }

    #[test]
    fn evt_01_transfer_events_wait_for_the_transfer_complete_response() {
        let mut q = EventQueue::new();
        q.push(ev(EventCode::TransferComplete)).unwrap();
        q.push(Event::with_key(EventCode::m_download(), "k1"))
            .unwrap();
        q.push(Event::with_key(EventCode::m_upload(), "k2"))
            .unwrap();
        q.push(ev(EventCode::Periodic)).unwrap();
        q.push_request(tc("k1")).unwrap();
        q.push_request(tc("k2")).unwrap();
        let plan = q.next_inform();
        q.inform_delivered(&plan);
        assert_eq!(
            codes(&q),
            ["7 TRANSFER COMPLETE/", "M Download/k1", "M Upload/k2"]
        );
        q.request_delivered(&plan.requests[0]);
        assert_eq!(
            codes(&q),
            ["7 TRANSFER COMPLETE/", "M Upload/k2"],
            "7 stays while a TransferComplete waits"
        );
        q.request_delivered(&plan.requests[1]);
        assert!(q.is_empty());
    }

    #[test]
    fn evt_01_autonomous_and_du_events_wait_for_their_requests() {
        let mut q = EventQueue::new();
        q.push(ev(EventCode::AutonomousTransferComplete)).unwrap();
        q.push(ev(EventCode::DuStateChangeComplete)).unwrap();
        q.push(Event::with_key(EventCode::m_change_du_state(), "du"))
            .unwrap();
        q.push(ev(EventCode::AutonomousDuStateChangeComplete))
            .unwrap();
        let atc = PendingRequest::autonomous_transfer_complete(AutonomousTransferComplete {
            announce_url: "http://a/".into(),
            transfer_url: "http://t/f".into(),
            file_type: "1 Firmware Upgrade Image".into(),
            ..Default::default()
        })
        .unwrap();
        let dscc = PendingRequest::du_state_change_complete(DuStateChangeComplete {
            results: vec![crate::rpc::DuOperationResult {
                uuid: UUID.into(),
                ..Default::default()
            }],
            command_key: Some("du".into()),
        })
        .unwrap();
        let adscc =
            PendingRequest::autonomous_du_state_change_complete(AutonomousDuStateChangeComplete {
                results: vec![crate::rpc::DuOperationResult {
                    uuid: UUID.into(),
                    operation_performed: Some("Install".into()),
                    ..Default::default()
                }],
            })
            .unwrap();
        for r in [&atc, &dscc, &adscc] {
            q.push_request(r.clone()).unwrap();
        }
        let plan = q.next_inform();
        q.inform_delivered(&plan);
        assert_eq!(
            q.events().len(),
            4,
            "nothing delivered by the InformResponse"
        );
        q.request_delivered(&dscc);
        assert_eq!(
            codes(&q),
            [
                "10 AUTONOMOUS TRANSFER COMPLETE/",
                "12 AUTONOMOUS DU STATE CHANGE COMPLETE/"
            ]
        );
        q.request_delivered(&atc);
        q.request_delivered(&adscc);
        assert!(q.is_empty());
    }

    #[test]
    fn evt_01_transfer_event_without_a_queued_request_is_delivered_with_the_inform() {
        let mut q = EventQueue::new();
        q.push(ev(EventCode::TransferComplete)).unwrap();
        let plan = q.next_inform();
        q.inform_delivered(&plan);
        assert!(q.is_empty());
    }

    #[test]
    fn events_queued_after_the_plan_are_not_delivered_by_it() {
        let mut q = EventQueue::new();
        q.push(ev(EventCode::Periodic)).unwrap();
        let plan = q.next_inform();
        q.push(ev(EventCode::Kicked)).unwrap();
        q.inform_delivered(&plan);
        assert_eq!(codes(&q), ["5 KICKED/"]);
    }

    #[test]
    fn value_change_parameters_travel_with_event_4_and_are_cleared_on_delivery() {
        let mut q = EventQueue::new();
        q.push_value_change(["Device.A", "Device.B", "Device.A"])
            .unwrap();
        let plan = q.next_inform();
        assert_eq!(plan.changed_parameters, ["Device.A", "Device.B"]);
        q.push_value_change(["Device.C"]).unwrap();
        q.inform_delivered(&plan);
        assert_eq!(q.changed_parameters(), ["Device.C"]);
        assert_eq!(
            codes(&q),
            ["4 VALUE CHANGE/"],
            "a change after the snapshot needs its own event"
        );
    }

    #[test]
    fn evt_02_undelivered_events_are_in_the_next_plan() {
        let mut q = EventQueue::new();
        q.push(ev(EventCode::Boot)).unwrap();
        q.push(ev(EventCode::Periodic)).unwrap();
        let plan = q.next_inform();
        assert!(q.session_failed(&plan));
        q.push(ev(EventCode::Scheduled)).unwrap();
        assert_eq!(
            q.next_inform().events,
            [
                ev(EventCode::Boot),
                ev(EventCode::Periodic),
                ev(EventCode::Scheduled)
            ]
        );
    }

    #[test]
    fn evt_03_connection_request_is_dropped_when_its_session_fails() {
        let mut q = EventQueue::new();
        q.push(ev(EventCode::ConnectionRequest)).unwrap();
        let plan = q.next_inform();
        assert!(
            !q.session_failed(&plan),
            "a queue holding only 6 CONNECTION REQUEST needs no retry"
        );
        assert!(q.is_empty());

        q.push(ev(EventCode::ConnectionRequest)).unwrap();
        q.push(ev(EventCode::ValueChange)).unwrap();
        let plan = q.next_inform();
        assert!(q.session_failed(&plan));
        assert_eq!(codes(&q), ["4 VALUE CHANGE/"]);
    }

    #[test]
    fn evt_04_reboot_keeps_the_listed_events_and_adds_boot() {
        let mut q = EventQueue::new();
        for code in [
            EventCode::Bootstrap,
            EventCode::Boot,
            EventCode::Periodic,
            EventCode::Scheduled,
            EventCode::ValueChange,
            EventCode::Kicked,
            EventCode::ConnectionRequest,
            EventCode::TransferComplete,
            EventCode::DiagnosticsComplete,
            EventCode::RequestDownload,
            EventCode::AutonomousTransferComplete,
            EventCode::DuStateChangeComplete,
            EventCode::AutonomousDuStateChangeComplete,
            EventCode::Wakeup,
            EventCode::Heartbeat,
        ] {
            q.push(ev(code)).unwrap();
        }
        q.push(Event::with_key(EventCode::m_download(), "d"))
            .unwrap();
        q.push_value_change(["Device.X"]).unwrap();
        q.rebooted();
        let kept: Vec<String> = q.events().iter().map(|e| e.code.to_string()).collect();
        assert_eq!(
            kept,
            [
                "1 BOOT",
                "0 BOOTSTRAP",
                "2 PERIODIC",
                "3 SCHEDULED",
                "5 KICKED",
                "7 TRANSFER COMPLETE",
                "9 REQUEST DOWNLOAD",
                "10 AUTONOMOUS TRANSFER COMPLETE",
                "11 DU STATE CHANGE COMPLETE",
                "12 AUTONOMOUS DU STATE CHANGE COMPLETE",
                "13 WAKEUP",
                "14 HEARTBEAT",
                "M Download",
            ]
        );
        assert!(
            q.changed_parameters().is_empty(),
            "VALUE CHANGE parameters go with the event"
        );
    }

    #[test]
    fn evt_05_acs_url_change_clears_everything_and_queues_bootstrap_until_delivered() {
        let mut q = EventQueue::new();
        q.push(ev(EventCode::Periodic)).unwrap();
        q.push(ev(EventCode::TransferComplete)).unwrap();
        q.push_request(tc("k")).unwrap();
        q.acs_url_changed();
        assert_eq!(codes(&q), ["0 BOOTSTRAP/"]);
        assert!(q.requests().is_empty());
        let plan = q.next_inform();
        q.session_failed(&plan);
        q.rebooted();
        assert_eq!(
            codes(&q),
            ["1 BOOT/", "0 BOOTSTRAP/"],
            "BOOTSTRAP survives failures and reboots"
        );
        let plan = q.next_inform();
        q.inform_delivered(&plan);
        assert!(q.is_empty());
    }

    #[test]
    fn hb_01_heartbeat_is_sent_alone() {
        let mut q = EventQueue::new();
        q.push(ev(EventCode::Heartbeat)).unwrap();
        q.push(ev(EventCode::Periodic)).unwrap();
        let plan = q.next_inform();
        assert_eq!(plan.events, [ev(EventCode::Periodic)]);
        q.inform_delivered(&plan);
        let plan = q.next_inform();
        assert_eq!(plan.events, [ev(EventCode::Heartbeat)]);
        q.inform_delivered(&plan);
        assert!(q.is_empty());
    }

    #[test]
    fn queue_round_trips_through_serde_with_pending_requests() {
        let mut q = EventQueue::new();
        q.push(ev(EventCode::TransferComplete)).unwrap();
        q.push(Event::with_key(EventCode::m_download(), "k1"))
            .unwrap();
        q.push(Event::with_key(EventCode::Vendor("000E50 FOO".into()), ""))
            .unwrap();
        q.push_value_change(["Device.DeviceInfo.SoftwareVersion"])
            .unwrap();
        q.push_request(tc("k1")).unwrap();
        q.push_request(
            PendingRequest::request_download(RequestDownload {
                file_type: "1 Firmware Upgrade Image".into(),
                file_type_arg: vec![],
            })
            .unwrap(),
        )
        .unwrap();
        let json = serde_json::to_string(&q).unwrap();
        let back: EventQueue = serde_json::from_str(&json).unwrap();
        assert_eq!(back, q);
        assert!(serde_json::from_str::<EventQueue>(r#"{"requests":["<not-xml"]}"#).is_err());
    }
}
