//! The two CWMP session state machines, pure: no sockets, no clock, no runtime.
//!
//! This module owns the *order* of messages in a session (§4.1 of the requirements) and the
//! bookkeeping that goes with it: which events were delivered, which request is outstanding,
//! when the session has ended and whether it succeeded. It must not touch the network, read the
//! time, draw random numbers, authenticate anyone or store anything: the driver (the server or
//! the agent) does that and feeds the outcome in.
//!
//! ```text
//!  CpeSession (agent)                 HTTP                   AcsSession (server)
//!  ──────────────────                 ────                   ───────────────────
//!  start() ─ Send(Inform) ───────── POST Inform ──────────▶ handle_message → AcsEvent::Inform
//!                                                           driver authenticates, stores
//!  handle_reply(Message) ◀───────── 200 InformResponse ─── accept_inform() (UseCWMPVersion, ID)
//!   events delivered (EVT-01)                               or reject_inform(8005 | other)
//!  Send(TransferComplete) ───────── POST TransferComplete ▶ AcsEvent::Request → respond()
//!  handle_reply(Message) ◀───────── 200 ...Response ──────  (repeated while the CPE has requests
//!   M Download / 7 delivered                                 and HoldRequests is not true)
//!  SendEmpty ────────────────────── POST (empty) ─────────▶ handle_empty → AcsEvent::Ready
//!  handle_reply(Message) ◀───────── 200 GetParameterValues  send(body)  (one outstanding, SES-05)
//!   → Execute; driver runs it
//!  respond() ─ Send(...Response) ── POST ...Response ─────▶ handle_message → AcsEvent::Ready(Some)
//!  handle_reply(Empty) ◀─────────── 204 No Content ──────── finish()
//!   → Closed(Ok) if SES-04 holds                            Closed
//! ```
//!
//! Each machine takes one input at a time and answers with what the driver must do next.
//! Time enters as [`Millis`], a monotonic millisecond count chosen by the driver (a paused
//! tokio clock in tests); each machine exposes `poll_timeout()` (its next deadline) and
//! `handle_timeout(now)`. Randomness (the retry back-off) enters as a fraction in `[0, 1)`.
//!
//! * [`acs`]: [`AcsSession`], one per CWMP session on the server.
//! * [`cpe`]: [`CpeSession`], one per session attempt on the device, and [`RetryState`], the
//!   back-off between failed attempts (RTY-01..03).
//! * [`event_queue`]: [`EventQueue`], the device's persisted events and pending CPE requests
//!   with the retention rules of §4.5.

pub mod acs;
pub mod cpe;
pub mod event_queue;

#[cfg(test)]
mod pair_tests;

pub use acs::{
    AcceptOptions, AcsConfig, AcsError, AcsEvent, AcsSession, AcsState, Completed, Expired,
    ExpiryKind, Outstanding, Reply,
};
pub use cpe::{
    CpeAction, CpeConfig, CpeError, CpeSession, CpeState, HttpReply, InformContent, RetryDecision,
    RetryState,
};
pub use event_queue::{EventQueue, InformPlan, PendingRequest, QueueError};

use crate::fault::{Fault, FaultCode, SoapFaultClass};
use std::time::Duration;

/// A point on the driver's monotonic clock, in milliseconds since an origin the driver picks.
///
/// Never read from the operating system here: the driver passes it in with every call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Millis(pub u64);

impl Millis {
    /// `self + d`, saturating at the end of time.
    pub fn saturating_add(self, d: Duration) -> Self {
        let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        Self(self.0.saturating_add(ms))
    }

    /// How long after `earlier` this is (zero if it is not later).
    pub fn saturating_since(self, earlier: Self) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }
}

/// The SOAP MustUnderstand fault a node answers when a header marked `mustUnderstand="1"` is
/// not understood (ENV-06).
///
/// SOAP 1.1 names the class `MustUnderstand`; the encoder always writes a `cwmp:Fault` detail, so
/// it carries the "invalid arguments" code of the answering side (8003 for the ACS, 9003 for the
/// CPE) and names the headers in its text.
pub(crate) fn must_understand_fault(acs: bool, headers: &[String]) -> Fault {
    let code = if acs {
        FaultCode::ACS_INVALID_ARGUMENTS
    } else {
        FaultCode::INVALID_ARGUMENTS
    };
    let mut fault = Fault::with_message(
        code,
        format!("header not understood: {}", headers.join(", ")),
    );
    fault.soap_class = SoapFaultClass::Other("MustUnderstand".to_owned());
    fault.soap_string = "SOAP Must Understand Error".to_owned();
    fault
}

/// The name of the response element that answers `request` (`GetRPCMethods` →
/// `GetRPCMethodsResponse`).
pub(crate) fn response_name(request: &str) -> String {
    format!("{request}Response")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn millis_add_and_since_saturate() {
        assert_eq!(
            Millis(5).saturating_add(Duration::from_secs(2)),
            Millis(2005)
        );
        assert_eq!(
            Millis(u64::MAX - 1).saturating_add(Duration::from_secs(1)),
            Millis(u64::MAX)
        );
        assert_eq!(Millis(10).saturating_since(Millis(20)), Duration::ZERO);
        assert_eq!(
            Millis(1500).saturating_since(Millis(500)),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn env_06_must_understand_fault_uses_the_side_code_range() {
        let f = must_understand_fault(true, &["X".into()]);
        assert_eq!(f.code, FaultCode(8003));
        assert_eq!(f.soap_class.as_str(), "MustUnderstand");
        assert!(f.string.contains('X'));
        assert_eq!(must_understand_fault(false, &[]).code, FaultCode(9003));
    }
}
