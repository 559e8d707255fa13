//! Device service modules and their subconnections (guide steps 9-11, protocol §7).
//!
//! Each module ([`terminal`], [`config`], [`telemetry`]) registers with the connection manager
//! by name ([`SERVICES`], sent in `register_request` and `subconn_request`), is handed its URL
//! when `subconn_response` arrives ([`Services::start`]), and then runs on its own
//! task with its own WebSocket ([`channel::Channel`]). A module whose subconnection fails or
//! drops waits, then asks the manager for a fresh URL for itself alone; neither the main
//! tunnel nor the other modules notice. When the tunnel goes, [`Services::stop_all`] closes
//! every subconnection.
//!
//! Must not touch: the main tunnel (see `manager.rs`).

pub mod channel;
pub mod config;
pub mod telemetry;
pub mod terminal;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tether_cloudlink::CloseCode;
use tether_cloudlink::device::ServiceGrant;
use tether_cloudlink::message::Channel as Limit;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::cloud::Link;
use crate::cloud::net::{Dial, OpenError, open_websocket};
use crate::context::AgentContext;
use channel::{Channel, ChannelEnd};

/// The service modules of this device, in the order they register.
pub const SERVICES: [&str; 3] = ["terminal", "config", "telemetry"];

/// Longest wait between two requests for a fresh URL of one service.
const MAX_RETRY: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Terminal,
    Config,
    Telemetry,
}

impl Kind {
    fn of(name: &str) -> Option<Kind> {
        match name {
            "terminal" => Some(Kind::Terminal),
            "config" => Some(Kind::Config),
            "telemetry" => Some(Kind::Telemetry),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Terminal => "terminal",
            Kind::Config => "config",
            Kind::Telemetry => "telemetry",
        }
    }

    fn limit(self) -> usize {
        match self {
            Kind::Terminal => Limit::Terminal,
            Kind::Config => Limit::Config,
            Kind::Telemetry => Limit::Telemetry,
        }
        .max_message_size()
    }
}

/// A grant with the number of the hand-out it came with (so a module can tell a fresh URL
/// from the one it already used).
type Slot = Option<(u64, ServiceGrant)>;

/// Subconnection state of each service (`Connected` or not), for logs and tests.
pub type ServiceStates = Arc<Mutex<BTreeMap<String, bool>>>;

/// The manager's handle on the service modules.
#[derive(Debug)]
pub struct Services {
    slots: BTreeMap<&'static str, watch::Sender<Slot>>,
    handouts: u64,
    states: ServiceStates,
}

impl Services {
    /// Starts one task per module on `tracker`; each asks for URLs through `need_url`.
    pub fn spawn(
        ctx: &Arc<AgentContext>,
        link: &Arc<Link>,
        need_url: &mpsc::Sender<String>,
        tracker: &TaskTracker,
        shutdown: &CancellationToken,
    ) -> Services {
        let states: ServiceStates = Arc::default();
        let mut slots = BTreeMap::new();
        for name in SERVICES {
            let Some(kind) = Kind::of(name) else { continue };
            let (tx, rx) = watch::channel(None);
            slots.insert(name, tx);
            tracker.spawn(run(
                kind,
                Arc::clone(ctx),
                Arc::clone(link),
                rx,
                need_url.clone(),
                shutdown.clone(),
                Arc::clone(&states),
            ));
        }
        Services {
            slots,
            handouts: 0,
            states,
        }
    }

    /// Steps 9-10: hands each module named in `grants` its URL.
    pub fn start(&mut self, grants: Vec<ServiceGrant>) {
        self.handouts += 1;
        for grant in grants {
            match self.slots.get(grant.name.as_str()) {
                Some(slot) => {
                    slot.send_replace(Some((self.handouts, grant)));
                }
                None => tracing::debug!(service = %grant.name, "no module for a granted service"),
            }
        }
    }

    /// Closes every subconnection (the tunnel is gone).
    pub fn stop_all(&mut self) {
        for slot in self.slots.values() {
            slot.send_replace(None);
        }
    }

    /// Which services have their subconnection up.
    pub fn states(&self) -> ServiceStates {
        Arc::clone(&self.states)
    }
}

fn set_state(states: &ServiceStates, name: &str, up: bool) {
    states
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(name.to_owned(), up);
}

/// One module's life: wait for a URL, connect, serve, and after a loss ask for a new URL.
async fn run(
    kind: Kind,
    ctx: Arc<AgentContext>,
    link: Arc<Link>,
    mut slot: watch::Receiver<Slot>,
    need_url: mpsc::Sender<String>,
    shutdown: CancellationToken,
    states: ServiceStates,
) {
    let name = kind.name();
    let mut retry = link.service_retry;
    loop {
        let current = slot.borrow_and_update().clone();
        let Some((handout, grant)) = current else {
            tokio::select! {
                () = shutdown.cancelled() => return,
                changed = slot.changed() => if changed.is_err() { return } else { continue },
            }
        };
        let hosts = ctx.running().config().cloud.ip_hosts;
        let tls = link.tls.get();
        let dial = Dial {
            tls: &tls,
            source: link.source,
            hosts: &hosts,
        };
        let opened = tokio::select! {
            () = shutdown.cancelled() => return,
            opened = open_websocket(
                &dial,
                &grant.url,
                &link.serial,
                grant.proof.as_deref(),
                kind.limit(),
                link.request_timeout,
            ) => opened,
        };
        match opened {
            Ok((ws, _)) => {
                tracing::info!(service = name, "subconnection connected");
                set_state(&states, name, true);
                retry = link.service_retry;
                let mut channel = Channel::new(ws, link.service_ping, link.service_read_timeout);
                let end = tokio::select! {
                    () = shutdown.cancelled() => {
                        channel.close(CloseCode::GoingAway).await;
                        set_state(&states, name, false);
                        return;
                    }
                    changed = slot.changed() => {
                        channel.close(CloseCode::Normal).await;
                        set_state(&states, name, false);
                        if changed.is_err() { return }
                        continue;
                    }
                    end = serve(kind, &ctx, &mut channel) => end,
                };
                set_state(&states, name, false);
                tracing::info!(service = name, ?end, "subconnection lost");
            }
            Err(OpenError::Rejected(status)) => {
                tracing::warn!(service = name, status, "subconnection refused");
            }
            Err(OpenError::Transport(t)) => {
                tracing::warn!(service = name, failure = ?t, "subconnection failed");
            }
        }
        // Lost or refused: ask for a fresh URL for this service alone, after a pause, and
        // again with a growing pause until one comes (or the tunnel goes).
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                changed = slot.changed() => {
                    if changed.is_err() { return }
                    break;
                }
                () = tokio::time::sleep(retry) => {
                    let same = slot.borrow().as_ref().map(|(h, _)| *h) == Some(handout);
                    if !same {
                        break;
                    }
                    let _ = need_url.send(name.to_owned()).await;
                    retry = (retry * 2).min(MAX_RETRY);
                }
            }
        }
    }
}

async fn serve(kind: Kind, ctx: &Arc<AgentContext>, channel: &mut Channel) -> ChannelEnd {
    match kind {
        Kind::Terminal => terminal::serve(ctx, channel).await,
        Kind::Config => config::serve(ctx, channel).await,
        Kind::Telemetry => telemetry::serve(ctx, channel).await,
    }
}
