//! The CWMP client of `tether agent`: sessions with the ACS, the RPCs it calls, the events
//! that start sessions, connection requests, ACS discovery and the live status.
//!
//! ```text
//!  Running::subscribe ─┐      ┌─ connection_request (TCP + UDP) ── Wake ─┐
//!  DHCP lease file ────┤      │                                         ▼
//!  timers (periodic,  ─┼──▶ driver ── CpeSession (tether-cwmp) ── http::HttpClient ──▶ ACS
//!   scheduled, poll)   │      │  └── rpc::execute ──▶ DataModel, CwmpState (cwmp.json)
//!  transfer results ───┘      └── transfer::run (Download / Upload tasks)
//! ```
//!
//! * [`driver`]: the loop that decides when a session runs and drives it (one at a time).
//! * [`rpc`]: every CPE RPC against the data model and the durable state.
//! * [`transfer`]: Download / ScheduleDownload / Upload over HTTP(S).
//! * [`connection_request`]: the HTTP and UDP connection-request listeners.
//! * [`http`], [`cookies`], [`tls`]: the HTTP/1.1 client, its session cookies, its TLS.
//! * [`state`]: `cwmp.json`, the durable state (event queue, transfers, schedules).
//! * [`schedule`]: the driver's clock and periodic-Inform arithmetic; [`dhcp_lease`]: option
//!   43 from a lease file; [`log`]: the bounded log uploaded as the vendor log file.
//!
//! Not implemented (documented gaps): STUN (UCR-04), XMPP connection requests (Annex K),
//! HEARTBEAT (Annex O), lightweight notifications (Annex M), ChangeDUState,
//! `ManagementServer.EnableCWMP` (the CLI's `cwmp enable` is the switch), `cwmp cpe connect
//! interface` (the address of the interface that reaches the ACS is used) and BOOTSTRAP on a
//! change of the device identity.
//!
//! Must not touch: protocol encoding (tether-cwmp), the CLI.

pub mod connection_request;
pub mod cookies;
pub mod dhcp_lease;
pub mod driver;
pub mod http;
pub mod log;
pub mod rpc;
pub mod schedule;
pub mod state;
pub mod tls;
pub mod transfer;

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::context::AgentContext;

/// What wakes the driver from outside its own timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// An authenticated HTTP or UDP connection request was accepted.
    ConnectionRequest,
}

/// Starts the CWMP client for `ctx` on `tracker`; it stops when `shutdown` is cancelled.
/// Does nothing when `cwmp.enabled` is false in the agent configuration.
pub fn spawn(ctx: &Arc<AgentContext>, shutdown: &CancellationToken, tracker: &TaskTracker) {
    if !ctx.config().cwmp.enabled {
        return;
    }
    match driver::Driver::new(Arc::clone(ctx), shutdown.clone(), tracker.clone()) {
        Ok(driver) => {
            tracker.spawn(driver.run());
        }
        Err(e) => tracing::error!(error = %e, "CWMP client not started"),
    }
}
