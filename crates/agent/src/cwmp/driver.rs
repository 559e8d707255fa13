//! The CWMP driver: when sessions run, and running them.
//!
//! Owns [`Driver`], a single task that holds the durable [`CwmpState`] and the retry state and
//! runs one [`CpeSession`] at a time against the effective ACS URL
//! (`Running::effective_acs`, re-read at each session; changes arrive through
//! `Running::subscribe`). Everything time-based uses tokio time through [`Clock`], so a
//! paused test clock drives it.
//!
//! Events (§3.2, §4.5):
//! * `0 BOOTSTRAP` at the first contact and whenever the effective ACS URL differs from the
//!   URL of the last session that reached an ACS (`Running::last_acs_url`, recorded when the
//!   InformResponse arrives); pending events, ScheduleInforms and transfers for the old ACS are
//!   dropped, `1 BOOT` is kept (EVT-05).
//! * `1 BOOT` at every start, after `EventQueue::rebooted` (EVT-04), and after a Reboot RPC
//!   with `M Reboot`.
//! * `2 PERIODIC` at `PeriodicInformTime + N × PeriodicInformInterval` (PER-01); with
//!   PeriodicInformTime unset or Unknown Time a random phase is chosen once and kept in
//!   `cwmp.json` (PER-02); any change reschedules at once (PER-03).
//! * `3 SCHEDULED` + `M ScheduleInform` for ScheduleInform and for the CLI's one-shot
//!   `cwmp cpe inform time` (with an empty CommandKey).
//! * `4 VALUE CHANGE`: at each session the data model's recorded changes are taken; passive
//!   ones wait for a session, active ones start one, but not sooner than
//!   `DefaultActiveNotificationThrottle` seconds after the end of the last successful session
//!   (EVT-07). Handler-backed parameters with a notification attribute are polled every
//!   `cwmp.value_poll_secs` (changes made by the ACS itself are not notified, RPC-08).
//! * `6 CONNECTION REQUEST` for every accepted HTTP or UDP connection request.
//! * `7 TRANSFER COMPLETE` + `M Download|Upload|ScheduleDownload` with a TransferComplete.
//!
//! Sessions: a fresh [`HttpClient`] per session (one connection, cookies for the session
//! only, Basic/Digest); `cwmp cpe wait timeout` bounds every response (at least 30 s); gzip
//! when `ManagementServer.HTTPCompression` is `GZIP`, dropped for the agent's lifetime after a
//! 415 (RTY-04). Failures back off per `RetryState` (RTY-01..03) with
//! CWMPRetryMinimumWaitInterval/Multiplier from the data model (or DHCP sub-options 3/4) and
//! stop after `cwmp cpe connect retry` retries until a new event arrives.
//!
//! Reboot: `M Reboot` is recorded and saved, then `reboot_command` runs; if the agent is still
//! alive [`REBOOT_GRACE`] later (or no command is configured) the driver performs a *soft
//! reboot*: it restarts its sessions as at a start (`1 BOOT` + `M Reboot` next).
//!
//! Must not touch: the CLI, protocol encoding details (tether-cwmp).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::{CONTENT_ENCODING, CONTENT_TYPE};
use http::{HeaderName, HeaderValue, Method, StatusCode};
use rand::Rng;
use tether_cli::Password;
use tether_cli::display::{ConnectionStatus, TransferStatus};
use tether_cwmp::compression::{decode_content_encoding, gzip};
use tether_cwmp::decode::{DecodeOptions, decode_with};
use tether_cwmp::encode::encode;
use tether_cwmp::retry::RetryPolicy;
use tether_cwmp::rpc::TransferComplete;
use tether_cwmp::session::{
    CpeAction, CpeConfig, CpeSession, CpeState, HttpReply, InformContent, InformPlan,
    PendingRequest, RetryDecision, RetryState,
};
use tether_cwmp::{DateTime, DeviceId, Event, EventCode, ParameterValue};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::Wake;
use super::connection_request::{CrListener, CrShared};
use super::http::{HttpClient, HttpError, Outgoing, TlsContext, read_body};
use super::log::LogRing;
use super::rpc::{self, Effects, to_wire};
use super::schedule::{Clock, next_periodic};
use super::state::{CwmpState, TransferKind};
use super::transfer;
use crate::acs::DhcpAcs;
use crate::context::AgentContext;
use crate::error::AgentError;
use crate::running::ConfigSnapshot;

/// How long after running `reboot_command` the driver waits before a soft reboot.
pub const REBOOT_GRACE: Duration = Duration::from_secs(60);
/// Largest ACS message accepted.
const MAX_ACS_MESSAGE: usize = 8 * 1024 * 1024;
/// How often the DHCP lease file is checked for changes.
const LEASE_POLL: Duration = Duration::from_secs(5);
/// How soon a failed connection-request bind is retried.
const BIND_RETRY: Duration = Duration::from_secs(30);

const MS: &str = "Device.ManagementServer.";

fn ms(leaf: &str) -> String {
    format!("{MS}{leaf}")
}

/// The CWMP driver (see the module docs).
pub struct Driver {
    ctx: Arc<AgentContext>,
    state: CwmpState,
    retry: RetryState,
    gave_up: bool,
    clock: Clock,
    wake_rx: mpsc::Receiver<Wake>,
    config_rx: watch::Receiver<Arc<ConfigSnapshot>>,
    seen_url: Option<String>,
    last_success_end: Option<Instant>,
    polled: HashMap<String, tether_datamodel::Value>,
    next_poll: Instant,
    periodic_key: Option<(u32, i64)>,
    next_periodic: Option<i64>,
    transfer_tx: mpsc::Sender<(TransferKind, TransferComplete)>,
    transfer_rx: mpsc::Receiver<(TransferKind, TransferComplete)>,
    transfer_running: bool,
    compression_refused: bool,
    tls: Arc<TlsContext>,
    log: Arc<LogRing>,
    cr: Arc<CrShared>,
    cr_listener: Option<CrListener>,
    next_bind: Instant,
    last_local_ip: Option<IpAddr>,
    dhcp_retry: Option<(u32, u32)>,
    lease_seen: Option<(Option<SystemTime>, u64)>,
    next_lease_check: Instant,
    reboot_grace_until: Option<Instant>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver").finish_non_exhaustive()
    }
}

impl Driver {
    /// Loads the durable state and prepares the driver.
    pub fn new(
        ctx: Arc<AgentContext>,
        shutdown: CancellationToken,
        tracker: TaskTracker,
    ) -> Result<Driver, AgentError> {
        let mut state = CwmpState::load(ctx.running().state_dir())?;
        let configured = ctx.config().connection_request.path.clone();
        let path = if configured != "/" && configured.starts_with('/') {
            configured
        } else {
            state
                .cr_path
                .get_or_insert_with(|| format!("/cwmp-{:016x}", rand::rng().random::<u64>()))
                .clone()
        };
        let (wake_tx, wake_rx) = mpsc::channel(8);
        let (transfer_tx, transfer_rx) = mpsc::channel(4);
        let cr = CrShared::new(path, wake_tx);
        let config_rx = ctx.running().subscribe();
        let tls = TlsContext::new(ctx.config().cwmp.ca_file.clone());
        let now = Instant::now();
        Ok(Driver {
            ctx,
            state,
            retry: RetryState::new(RetryPolicy::default(), None),
            gave_up: false,
            clock: Clock::new(),
            wake_rx,
            config_rx,
            seen_url: None,
            last_success_end: None,
            polled: HashMap::new(),
            next_poll: now,
            periodic_key: None,
            next_periodic: None,
            transfer_tx,
            transfer_rx,
            transfer_running: false,
            compression_refused: false,
            tls,
            log: Arc::new(LogRing::new()),
            cr,
            cr_listener: None,
            next_bind: now,
            last_local_ip: None,
            dhcp_retry: None,
            lease_seen: None,
            next_lease_check: now,
            reboot_grace_until: None,
            shutdown,
            tracker,
        })
    }

    /// Runs until shutdown.
    pub async fn run(mut self) {
        self.startup();
        loop {
            if self.shutdown.is_cancelled() {
                break;
            }
            self.housekeeping().await;
            if self.session_wanted() {
                self.session().await;
                continue;
            }
            self.publish_next_attempt();
            let deadline = self.next_deadline();
            tokio::select! {
                _ = self.shutdown.cancelled() => break,
                changed = self.config_rx.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    self.on_config();
                }
                Some(wake) = self.wake_rx.recv() => self.on_wake(wake),
                Some((kind, tc)) = self.transfer_rx.recv() => self.on_transfer_done(kind, tc),
                _ = tokio::time::sleep_until(deadline) => {}
            }
        }
        self.cr_listener = None;
        self.ctx.update_cwmp(|l| {
            l.connection = ConnectionStatus::Disconnected;
            l.next_attempt_unix = None;
        });
        self.save();
    }

    // ---------------------------------------------------------------------------------------
    // State

    fn save(&self) {
        if let Err(e) = self.state.save(self.ctx.running().state_dir()) {
            tracing::error!(error = %e, "saving cwmp.json failed");
        }
    }

    fn now_unix(&mut self) -> i64 {
        self.clock.unix()
    }

    fn note(&mut self, text: impl AsRef<str>) {
        let now = self.now_unix();
        self.log.line(now, text);
    }

    fn snapshot(&self) -> Arc<ConfigSnapshot> {
        self.ctx.running().snapshot()
    }

    fn enabled(&self) -> bool {
        self.snapshot().config.cwmp.enabled
    }

    /// Sets read-only parameters the driver owns without recording them as value changes.
    fn set_quietly(&self, values: &[(String, tether_datamodel::Value)]) {
        let mut model = self.ctx.model();
        let mut changes = model.take_value_changes();
        for (path, value) in values {
            if let Err(e) = model.set(path, value.clone()) {
                tracing::debug!(%path, error = %e, "driver parameter not set");
            }
        }
        let mine = model.take_value_changes();
        let _ = mine;
        changes
            .passive
            .retain(|p| !values.iter().any(|(v, _)| v == p));
        model.restore_value_changes(changes);
    }

    fn model_bool(&self, leaf: &str, default: bool) -> bool {
        self.ctx
            .model()
            .get(&ms(leaf))
            .ok()
            .and_then(|v| v.as_bool())
            .unwrap_or(default)
    }

    fn model_u32(&self, leaf: &str) -> Option<u32> {
        match self.ctx.model().get(&ms(leaf)).ok()? {
            tether_datamodel::Value::UnsignedInt(n) => Some(n),
            _ => None,
        }
    }

    fn startup(&mut self) {
        let acs = self.ctx.running().effective_acs();
        self.seen_url = acs.as_ref().map(|a| a.url.clone());
        if let Some(url) = &self.seen_url
            && self.ctx.running().last_acs_url().as_deref() != Some(url.as_str())
        {
            self.bootstrap();
        }
        // EVT-04: a start is a boot.
        self.state.queue.rebooted();
        for job in &mut self.state.transfers {
            job.in_progress = false;
        }
        let mut quiet = vec![
            (
                ms("SupportedConnReqMethods"),
                tether_datamodel::Value::string("HTTP"),
            ),
            (
                ms("HTTPCompressionSupported"),
                tether_datamodel::Value::string("GZIP"),
            ),
        ];
        if let Some(url) = self.state.cr_url.clone() {
            quiet.push((
                ms("ConnectionRequestURL"),
                tether_datamodel::Value::string(url),
            ));
        }
        self.set_quietly(&quiet);
        self.save();
        let now = self.now_unix();
        self.log.line(now, "CWMP client started");
    }

    /// `0 BOOTSTRAP` for a new ACS (EVT-05): drops what was pending for the old one, keeps
    /// `1 BOOT`.
    fn bootstrap(&mut self) {
        let had_boot = self
            .state
            .queue
            .events()
            .iter()
            .any(|e| e.code == EventCode::Boot);
        self.state.queue.acs_url_changed();
        if had_boot {
            let _ = self.state.queue.push(Event::new(EventCode::Boot));
        }
        self.state.scheduled.clear();
        self.state.transfers.retain(|t| t.in_progress);
        self.save();
    }

    fn push_event(&mut self, event: Event) {
        match self.state.queue.push(event) {
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "event dropped"),
        }
        self.retry.event_arrived();
        self.gave_up = false;
        self.save();
    }

    // ---------------------------------------------------------------------------------------
    // Triggers

    fn on_config(&mut self) {
        let snap = self.config_rx.borrow_and_update().clone();
        let url = snap.acs.as_ref().map(|a| a.url.clone());
        if url != self.seen_url {
            self.seen_url = url.clone();
            if let Some(url) = url {
                if self.ctx.running().last_acs_url().as_deref() != Some(url.as_str()) {
                    self.note(format!("ACS URL is now {url}: BOOTSTRAP"));
                    self.bootstrap();
                }
                // A new ACS is worth trying at once.
                self.retry.event_arrived();
                self.gave_up = false;
            }
        }
        self.retry
            .set_max_retries(snap.config.cwmp.connect_retry.map(u32::from));
    }

    fn on_wake(&mut self, wake: Wake) {
        match wake {
            Wake::ConnectionRequest => {
                if !self.enabled() {
                    return;
                }
                self.note("connection request accepted");
                self.push_event(Event::new(EventCode::ConnectionRequest));
            }
        }
    }

    fn on_transfer_done(&mut self, kind: TransferKind, tc: TransferComplete) {
        self.transfer_running = false;
        self.ctx.update_cwmp(|l| l.transfer = TransferStatus::None);
        let Some(pos) = self
            .state
            .transfers
            .iter()
            .position(|t| t.command_key == tc.command_key && t.kind == kind)
        else {
            return;
        };
        self.state.transfers.remove(pos);
        let key = tc.command_key.clone();
        match PendingRequest::transfer_complete(tc) {
            Ok(request) => {
                if let Err(e) = self.state.queue.push_request(request) {
                    tracing::warn!(error = %e, "TransferComplete dropped");
                }
            }
            Err(e) => tracing::warn!(error = %e, "TransferComplete not encodable"),
        }
        let _ = self.state.queue.push(Event::with_key(
            EventCode::Method(kind.method().into()),
            key,
        ));
        self.push_event(Event::new(EventCode::TransferComplete));
    }

    /// Work that does not need a session: listener, DHCP, due timers, value polling.
    async fn housekeeping(&mut self) {
        let snap = self.snapshot();
        let enabled = snap.config.cwmp.enabled;
        self.update_listener(enabled).await;
        self.check_lease();
        self.update_periodic(&snap);
        self.retry
            .set_max_retries(snap.config.cwmp.connect_retry.map(u32::from));
        let now = self.now_unix();

        if let Some(until) = self.reboot_grace_until
            && Instant::now() >= until
        {
            self.reboot_grace_until = None;
            self.soft_reboot();
        }
        // A due retry only clears the wait; session_wanted() then sees the queue.
        let _ = self.retry.handle_timeout(self.clock.millis());
        if let Some(at) = self.next_periodic
            && now >= at
        {
            let interval = snap.config.cwmp.inform_interval;
            let phase = self.periodic_key.map_or(at, |k| k.1);
            self.next_periodic = Some(next_periodic(phase, interval, now));
            if enabled {
                self.note("periodic inform due");
                self.push_event(Event::new(EventCode::Periodic));
            }
        }
        let due: Vec<String> = self
            .state
            .scheduled
            .iter()
            .filter(|s| s.at_unix <= now)
            .map(|s| s.command_key.clone())
            .collect();
        if !due.is_empty() {
            self.state.scheduled.retain(|s| s.at_unix > now);
            for key in due {
                let _ = self
                    .state
                    .queue
                    .push(Event::with_key(EventCode::m_schedule_inform(), key));
            }
            self.push_event(Event::new(EventCode::Scheduled));
        }
        if let Some(t) = snap.config.cwmp.inform_time.map(|t| t.to_unix())
            && self.state.cli_inform_time_done != Some(t)
            && now >= t
        {
            self.state.cli_inform_time_done = Some(t);
            let _ = self
                .state
                .queue
                .push(Event::with_key(EventCode::m_schedule_inform(), ""));
            self.push_event(Event::new(EventCode::Scheduled));
        }
        self.start_due_transfer(now);
        if Instant::now() >= self.next_poll {
            let secs = self.ctx.config().cwmp.value_poll_secs.max(1);
            self.next_poll = Instant::now() + Duration::from_secs(secs);
            self.poll_values();
        }
    }

    fn update_periodic(&mut self, snap: &ConfigSnapshot) {
        let cwmp = &snap.config.cwmp;
        if !cwmp.periodic_inform {
            self.periodic_key = None;
            self.next_periodic = None;
            return;
        }
        let interval = cwmp.inform_interval.max(1);
        let time = self
            .ctx
            .model()
            .get(&ms("PeriodicInformTime"))
            .ok()
            .and_then(|v| v.as_datetime())
            .filter(|t| !t.is_unknown())
            .map(|t| t.unix_seconds());
        let phase = match time {
            Some(t) => t,
            None => match self.state.periodic_phase_unix {
                Some(p) => p,
                None => {
                    let now = self.now_unix();
                    let p = now + rand::rng().random_range(0..i64::from(interval));
                    self.state.periodic_phase_unix = Some(p);
                    self.save();
                    p
                }
            },
        };
        if self.periodic_key != Some((interval, phase)) {
            // PER-03: any change reschedules at once.
            self.periodic_key = Some((interval, phase));
            let now = self.now_unix();
            // The first grid point at or after now.
            self.next_periodic = Some(next_periodic(phase, interval, now - 1));
        }
    }

    fn start_due_transfer(&mut self, now: i64) {
        if self.transfer_running {
            return;
        }
        let Some(job) = self
            .state
            .transfers
            .iter_mut()
            .find(|t| !t.in_progress && t.start_at_unix <= now)
        else {
            return;
        };
        job.in_progress = true;
        let job = job.clone();
        self.transfer_running = true;
        let status = if job.kind.is_download() {
            TransferStatus::Downloading
        } else {
            TransferStatus::Uploading
        };
        self.ctx.update_cwmp(|l| l.transfer = status);
        self.save();
        self.note(format!(
            "{} {:?} started",
            job.kind.method(),
            job.command_key
        ));
        let (ctx, tls, log, tx) = (
            Arc::clone(&self.ctx),
            Arc::clone(&self.tls),
            Arc::clone(&self.log),
            self.transfer_tx.clone(),
        );
        let stop = self.shutdown.clone();
        self.tracker.spawn(async move {
            let kind = job.kind;
            tokio::select! {
                _ = stop.cancelled() => {}
                tc = transfer::run(job, ctx, tls, log) => { let _ = tx.send((kind, tc)).await; }
            }
        });
    }

    /// Polls handler-backed values with a notification attribute (EVT-07).
    fn poll_values(&mut self) {
        let mut model = self.ctx.model();
        let Ok(attrs) = model.get_parameter_attributes(&["Device."]) else {
            return;
        };
        let mut next = HashMap::new();
        for a in attrs.into_iter().filter(|a| a.notification != 0) {
            let Ok(value) = model.get(&a.name) else {
                continue;
            };
            let pending = model.pending_value_changes();
            let recorded = pending.passive.contains(&a.name) || pending.active.contains(&a.name);
            // A change the model recorded itself (local set, CLI) is not noted twice.
            if let Some(old) = self.polled.get(&a.name)
                && *old != value
                && !recorded
            {
                let _ = model.note_value_change(&a.name);
            }
            next.insert(a.name, value);
        }
        self.polled = next;
    }

    async fn update_listener(&mut self, enabled: bool) {
        let want = enabled && self.model_bool("HTTPConnectionRequestEnable", true);
        if !want {
            if self.cr_listener.take().is_some() {
                self.publish_cr_url();
            }
            return;
        }
        let (user, pass) = self.ctx.running().with(|config, _| {
            (
                config.cwmp.cpe_username.clone().unwrap_or_default(),
                config
                    .cwmp
                    .cpe_password
                    .as_ref()
                    .and_then(|p| p.reveal(self.ctx.running().key().as_bytes()).ok())
                    .unwrap_or_default(),
            )
        });
        self.cr.set_credentials(&user, &pass);
        if self.cr_listener.is_none() && Instant::now() >= self.next_bind {
            let cfg = self.ctx.config().connection_request.clone();
            match CrListener::bind(
                cfg.address,
                cfg.port,
                Arc::clone(&self.cr),
                &self.shutdown,
                &self.tracker,
            )
            .await
            {
                Ok(listener) => {
                    self.note(format!("connection requests on port {}", listener.port));
                    self.cr_listener = Some(listener);
                    self.publish_cr_url();
                }
                Err(e) => {
                    self.next_bind = Instant::now() + BIND_RETRY;
                    self.note(format!("connection-request port {}: {e}", cfg.port));
                }
            }
        }
    }

    /// Publishes ConnectionRequestURL and UDPConnectionRequestAddress (empty when the listener
    /// is closed, CR-08).
    fn publish_cr_url(&mut self) {
        let configured = self.ctx.config().connection_request.address;
        let host = if configured.is_unspecified() {
            self.last_local_ip
        } else {
            Some(configured)
        };
        let (url, udp) = match (&self.cr_listener, host) {
            (Some(l), Some(ip)) => {
                let host = match ip {
                    IpAddr::V6(v6) => format!("[{v6}]"),
                    IpAddr::V4(v4) => v4.to_string(),
                };
                (
                    format!("http://{host}:{}{}", l.port, self.cr.path()),
                    format!("{host}:{}", l.port),
                )
            }
            _ => (String::new(), String::new()),
        };
        if self.state.cr_url.as_deref() == Some(url.as_str()) {
            return;
        }
        {
            let mut model = self.ctx.model();
            if let Err(e) = model.set(
                &ms("ConnectionRequestURL"),
                tether_datamodel::Value::string(url.clone()),
            ) {
                tracing::warn!(error = %e, "ConnectionRequestURL not set");
            }
            let _ = model.set(
                &ms("UDPConnectionRequestAddress"),
                tether_datamodel::Value::string(udp),
            );
        }
        self.state.cr_url = Some(url);
        self.refresh_polled(&[
            ms("ConnectionRequestURL"),
            ms("UDPConnectionRequestAddress"),
        ]);
        self.save();
    }

    /// Takes the current values of `names` as the polling baseline (changes already reported
    /// or made by the driver itself).
    fn refresh_polled(&mut self, names: &[String]) {
        let model = self.ctx.model();
        for name in names {
            if self.polled.contains_key(name)
                && let Ok(v) = model.get(name)
            {
                self.polled.insert(name.clone(), v);
            }
        }
    }

    fn check_lease(&mut self) {
        let Some(path) = self.ctx.config().dhcp_lease_file.clone() else {
            return;
        };
        if Instant::now() < self.next_lease_check {
            return;
        }
        self.next_lease_check = Instant::now() + LEASE_POLL;
        let key = std::fs::metadata(&path)
            .ok()
            .map(|m| (m.modified().ok(), m.len()));
        let seen = key.unwrap_or((None, u64::MAX));
        if self.lease_seen == Some(seen) {
            return;
        }
        self.lease_seen = Some(seen);
        let discovery = std::fs::read_to_string(&path)
            .ok()
            .and_then(|text| super::dhcp_lease::discover(&text));
        let now = self.now_unix();
        let device_key = self.ctx.running().key().as_bytes().to_vec();
        self.dhcp_retry = discovery
            .as_ref()
            .and_then(|d| Some((d.retry_min_wait?, d.retry_multiplier.unwrap_or(2000))))
            .or_else(|| {
                discovery
                    .as_ref()
                    .and_then(|d| d.retry_multiplier.map(|k| (5, k)))
            });
        let dhcp = discovery.map(|d| DhcpAcs {
            url: d.url,
            username: d.username,
            password: d
                .password
                .and_then(|p| Password::from_simple(&p, &device_key).ok()),
            at_unix: now,
        });
        if self.ctx.running().set_dhcp(dhcp) {
            self.note("DHCP option 43 changed the offered ACS URL");
        }
    }

    fn retry_policy(&self) -> RetryPolicy {
        let m = self
            .model_u32("CWMPRetryMinimumWaitInterval")
            .filter(|m| *m > 0)
            .or(self.dhcp_retry.map(|d| d.0));
        let k = self
            .model_u32("CWMPRetryIntervalMultiplier")
            .filter(|k| *k > 0)
            .or(self.dhcp_retry.map(|d| d.1));
        RetryPolicy::new(m.unwrap_or(5), k.unwrap_or(2000)).unwrap_or_default()
    }

    fn throttle(&self) -> Duration {
        Duration::from_secs(u64::from(
            self.model_u32("DefaultActiveNotificationThrottle")
                .unwrap_or(0),
        ))
    }

    fn active_pending(&self) -> bool {
        !self.ctx.model().pending_value_changes().active.is_empty()
    }

    fn active_allowed_at(&self) -> Instant {
        self.last_success_end
            .map_or_else(Instant::now, |end| end + self.throttle())
    }

    fn session_wanted(&self) -> bool {
        if !self.enabled()
            || self.gave_up
            || self.retry.waiting()
            || self.reboot_grace_until.is_some()
            || self.ctx.running().effective_acs().is_none()
        {
            return false;
        }
        self.state.queue.needs_session()
            || (self.active_pending() && Instant::now() >= self.active_allowed_at())
    }

    fn next_deadline(&mut self) -> Instant {
        let mut at = Instant::now() + Duration::from_secs(3600);
        let mut consider = |t: Instant| {
            if t < at {
                at = t;
            }
        };
        if let Some(retry) = self.retry.poll_timeout() {
            consider(self.clock.instant_of(retry));
        }
        consider(self.next_poll);
        if self.ctx.config().dhcp_lease_file.is_some() {
            consider(self.next_lease_check);
        }
        if let Some(t) = self.reboot_grace_until {
            consider(t);
        }
        if self.cr_listener.is_none() && self.enabled() {
            consider(self.next_bind);
        }
        if self.active_pending() {
            consider(self.active_allowed_at());
        }
        let mut unix_times: Vec<i64> = Vec::new();
        unix_times.extend(self.next_periodic);
        unix_times.extend(self.state.scheduled.iter().map(|s| s.at_unix));
        if !self.transfer_running {
            unix_times.extend(
                self.state
                    .transfers
                    .iter()
                    .filter(|t| !t.in_progress)
                    .map(|t| t.start_at_unix),
            );
        }
        if let Some(t) = self.snapshot().config.cwmp.inform_time.map(|t| t.to_unix())
            && self.state.cli_inform_time_done != Some(t)
        {
            unix_times.push(t);
        }
        for t in unix_times {
            let i = self.clock.instant_at_unix(t);
            if i < at {
                at = i;
            }
        }
        at
    }

    fn publish_next_attempt(&mut self) {
        let enabled = self.enabled();
        let mut next: Option<i64> = None;
        if enabled {
            let now = self.now_unix();
            if let Some(retry) = self.retry.poll_timeout() {
                let wait = retry.saturating_since(self.clock.millis()).as_secs();
                next = Some(now + i64::try_from(wait).unwrap_or(i64::MAX / 2));
            }
            for t in self
                .next_periodic
                .into_iter()
                .chain(self.state.scheduled.iter().map(|s| s.at_unix))
            {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        }
        self.ctx.update_cwmp(|l| {
            if l.next_attempt_unix != next {
                l.next_attempt_unix = next;
            }
        });
    }

    // ---------------------------------------------------------------------------------------
    // Sessions

    fn inform_content(&mut self, plan: &InformPlan) -> InformContent {
        let identity = self.ctx.identity().clone();
        let model = self.ctx.model();
        let mut list: Vec<ParameterValue> = model
            .forced_inform_parameters()
            .iter()
            .map(|p| ParameterValue::new(p.name.clone(), to_wire(&p.value)))
            .collect();
        for name in &plan.changed_parameters {
            if list.iter().any(|p| &p.name == name) {
                continue;
            }
            if let Ok(values) = model.get_parameter_values(&[name.as_str()]) {
                for p in values {
                    list.push(ParameterValue::new(p.name, to_wire(&p.value)));
                }
            }
        }
        drop(model);
        InformContent {
            device_id: DeviceId {
                manufacturer: identity.manufacturer,
                oui: identity.manufacturer_oui,
                product_class: identity.product_class,
                serial_number: identity.serial_number,
            },
            current_time: DateTime::from_unix(self.now_unix(), 0),
            parameter_list: list,
            retry_count: self.retry.retry_count(),
        }
    }

    async fn session(&mut self) {
        let Some(acs) = self.ctx.running().effective_acs() else {
            return;
        };
        // The configuration may have changed since the housekeeping: the listener must be up
        // before the Inform names its URL.
        let enabled = self.enabled();
        self.update_listener(enabled).await;
        if self.ctx.running().last_acs_url().as_deref() != Some(acs.url.as_str())
            && !self
                .state
                .queue
                .events()
                .iter()
                .any(|e| e.code == EventCode::Bootstrap)
        {
            self.bootstrap();
        }
        let key = self.ctx.running().key().as_bytes().to_vec();
        let password = acs
            .password
            .as_ref()
            .and_then(|p| p.reveal(&key).ok())
            .unwrap_or_default();
        let credentials = acs.username.clone().map(|u| (u, password));
        let cwmp = self.snapshot().config.cwmp.clone();
        let wait = Duration::from_secs(u64::from(cwmp.wait_timeout.max(30)));
        let gzip_on = !self.compression_refused
            && self
                .ctx
                .model()
                .get(&ms("HTTPCompression"))
                .ok()
                .and_then(|v| v.as_str().map(|s| s.eq_ignore_ascii_case("GZIP")))
                .unwrap_or(false);
        self.ctx.update_cwmp(|l| {
            l.last_acs_url = Some(acs.url.clone());
            l.last_acs_username = acs.username.clone();
            l.connection = ConnectionStatus::WaitingResponse;
            l.next_attempt_unix = None;
        });
        self.note(format!(
            "session to {} (retry {})",
            acs.url,
            self.retry.retry_count()
        ));
        let mut client = match HttpClient::new(&acs.url, credentials, wait, Arc::clone(&self.tls)) {
            Ok(c) => Some(c),
            Err(e) => {
                self.note(format!("ACS URL unusable: {e}"));
                None
            }
        };
        if let Some(c) = client.as_mut() {
            match c.connect().await {
                Ok(local) => {
                    self.last_local_ip = Some(local.ip());
                    self.publish_cr_url();
                }
                Err(e) => self.note(format!("cannot reach the ACS: {e}")),
            }
        }
        {
            let changes = self.ctx.model().take_value_changes();
            let names: Vec<String> = changes.passive.into_iter().chain(changes.active).collect();
            self.refresh_polled(&names);
            if !names.is_empty()
                && let Err(e) = self.state.queue.push_value_change(names)
            {
                tracing::warn!(error = %e, "value change not queued");
            }
        }
        let plan = self.state.queue.next_inform();
        let content = self.inform_content(&plan);
        let config = CpeConfig {
            wait_timeout: wait,
            ..CpeConfig::default()
        };
        let (mut session, mut action) =
            match CpeSession::start(self.clock.millis(), config, plan, content) {
                Ok(started) => started,
                Err(e) => {
                    tracing::debug!(error = %e, "no session");
                    self.ctx
                        .update_cwmp(|l| l.connection = ConnectionStatus::Disconnected);
                    return;
                }
            };
        let mut effects = Effects::default();
        let mut contacted = false;
        let mut saw_415 = false;
        let result = loop {
            let reply = match action {
                CpeAction::Closed(result) => break result,
                CpeAction::Execute(body) => {
                    let now = self.now_unix();
                    let result = rpc::execute(&self.ctx, &mut self.state, now, &mut effects, body);
                    if let Err(f) = &result {
                        self.note(format!("RPC answered with fault {} {}", f.code.0, f.string));
                    }
                    self.after_rpc(&mut effects);
                    action = match session.respond(self.clock.millis(), result) {
                        Ok(a) => a,
                        Err(e) => CpeAction::Closed(Err(e)),
                    };
                    continue;
                }
                CpeAction::Send(envelope) => match encode(&envelope) {
                    Ok(xml) => self.post(client.as_mut(), Some(xml), gzip_on).await,
                    Err(e) => {
                        self.note(format!("message not encodable: {e}"));
                        PostOutcome::Reply(HttpReply::TransportError)
                    }
                },
                CpeAction::SendEmpty => self.post(client.as_mut(), None, false).await,
            };
            let now = self.clock.millis();
            action = match reply {
                PostOutcome::Timeout => {
                    let due = session.poll_timeout().unwrap_or(now);
                    session
                        .handle_timeout(due.max(now), &mut self.state.queue)
                        .unwrap_or(CpeAction::Closed(Err(
                            tether_cwmp::session::CpeError::Timeout,
                        )))
                }
                PostOutcome::Reply(reply) => {
                    if matches!(reply, HttpReply::Status(415)) {
                        saw_415 = true;
                    }
                    match session.handle_reply(now, reply, &mut self.state.queue) {
                        Ok(a) => a,
                        Err(e) => CpeAction::Closed(Err(e)),
                    }
                }
            };
            if !contacted
                && !matches!(
                    session.state(),
                    CpeState::AwaitingInformResponse | CpeState::Failed
                )
            {
                contacted = true;
                if let Err(e) = self.ctx.running().set_last_acs_url(Some(acs.url.clone())) {
                    tracing::error!(error = %e, "last ACS URL not saved");
                }
                let now = self.now_unix();
                self.ctx.update_cwmp(|l| {
                    l.connection = ConnectionStatus::Connected;
                    l.last_success_unix = Some(now);
                });
            }
            self.save();
        };
        drop(client);
        match &result {
            Ok(()) => {
                self.retry.session_succeeded();
                self.last_success_end = Some(Instant::now());
                self.note("session ended");
            }
            Err(e) => {
                if saw_415 && gzip_on {
                    self.compression_refused = true;
                }
                let policy = self.retry_policy();
                self.retry.set_policy(policy);
                let fraction: f64 = rand::rng().random();
                let decision = self.retry.session_failed(
                    self.clock.millis(),
                    self.state.queue.needs_session(),
                    fraction,
                );
                if decision == RetryDecision::GaveUp {
                    self.gave_up = true;
                }
                self.note(format!("session failed: {e}; {decision:?}"));
            }
        }
        self.ctx
            .update_cwmp(|l| l.connection = ConnectionStatus::Disconnected);
        self.save();
        if effects.factory_reset {
            self.factory_reset();
        }
        if let Some(key) = effects.reboot.take() {
            self.reboot(key).await;
        }
    }

    fn after_rpc(&mut self, effects: &mut Effects) {
        if std::mem::take(&mut effects.model_changed)
            && let Err(e) = self.ctx.save_model()
        {
            tracing::error!(error = %e, "data model not saved");
        }
        if std::mem::take(&mut effects.state_changed) {
            self.save();
        }
        // RPC-08: what the ACS set is the new baseline for polling.
        let names = std::mem::take(&mut effects.set_by_acs);
        self.refresh_polled(&names);
    }

    async fn post(
        &mut self,
        client: Option<&mut HttpClient>,
        xml: Option<String>,
        gzip_on: bool,
    ) -> PostOutcome {
        let Some(client) = client else {
            return PostOutcome::Reply(HttpReply::TransportError);
        };
        let mut out = Outgoing::default();
        if let Some(xml) = xml {
            out.headers.push((
                CONTENT_TYPE,
                HeaderValue::from_static("text/xml; charset=\"utf-8\""),
            ));
            out.headers.push((
                HeaderName::from_static("soapaction"),
                HeaderValue::from_static(""),
            ));
            if gzip_on {
                out.headers
                    .push((CONTENT_ENCODING, HeaderValue::from_static("gzip")));
                out.body = Bytes::from(gzip(xml.as_bytes()));
            } else {
                out.body = Bytes::from(xml);
            }
        }
        let response = match client.send(Method::POST, &out).await {
            Ok(r) => r,
            Err(HttpError::Timeout) => return PostOutcome::Timeout,
            Err(e) => {
                self.note(format!("HTTP: {e}"));
                return PostOutcome::Reply(HttpReply::TransportError);
            }
        };
        let status = response.status();
        let header = |name: http::HeaderName| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let content_type = header(CONTENT_TYPE);
        let encoding = header(CONTENT_ENCODING);
        let wait = Duration::from_secs(60);
        let body = match read_body(response.into_body(), MAX_ACS_MESSAGE, wait).await {
            Ok(b) => b,
            Err(HttpError::Timeout) => return PostOutcome::Timeout,
            Err(_) => return PostOutcome::Reply(HttpReply::TransportError),
        };
        let reply = match status {
            StatusCode::NO_CONTENT => HttpReply::Empty,
            StatusCode::OK if body.iter().all(|b| b.is_ascii_whitespace()) => HttpReply::Empty,
            StatusCode::OK => {
                match decode_content_encoding(encoding.as_deref(), &body, MAX_ACS_MESSAGE) {
                    Ok(plain) => match decode_with(
                        &plain,
                        content_type.as_deref(),
                        &DecodeOptions::default(),
                    ) {
                        Ok(decoded) => HttpReply::Message(decoded.envelope),
                        Err(e) => {
                            self.note(format!("malformed ACS message: {e}"));
                            HttpReply::Malformed(e)
                        }
                    },
                    Err(e) => {
                        self.note(format!("undecodable ACS body: {e}"));
                        HttpReply::TransportError
                    }
                }
            }
            other => HttpReply::Status(other.as_u16()),
        };
        PostOutcome::Reply(reply)
    }

    // ---------------------------------------------------------------------------------------
    // Reboot and factory reset

    async fn reboot(&mut self, key: String) {
        let _ = self
            .state
            .queue
            .push(Event::with_key(EventCode::m_reboot(), key));
        self.save();
        if let Err(e) = self.ctx.save_model() {
            tracing::error!(error = %e, "data model not saved before reboot");
        }
        match self.ctx.config().reboot_command.clone() {
            Some(command) => {
                self.note(format!("reboot: running {command:?}"));
                let status = tokio::process::Command::new("/bin/sh")
                    .arg("-c")
                    .arg(&command)
                    .stdin(std::process::Stdio::null())
                    .status()
                    .await;
                if let Err(e) = &status {
                    self.note(format!("reboot command failed: {e}"));
                }
                self.reboot_grace_until = Some(Instant::now() + REBOOT_GRACE);
            }
            None => {
                self.note("reboot: restarting the CWMP sessions (soft reboot)");
                self.soft_reboot();
            }
        }
    }

    fn soft_reboot(&mut self) {
        self.state.queue.rebooted();
        self.retry = RetryState::new(self.retry_policy(), None);
        self.gave_up = false;
        let _ = self.ctx.model().take_value_changes();
        self.polled.clear();
        self.save();
    }

    fn factory_reset(&mut self) {
        self.note("factory reset");
        let now = self.now_unix();
        if let Err(e) = self.ctx.factory_reset(now) {
            tracing::error!(error = %e, "factory reset incomplete");
        }
        self.state.queue.acs_url_changed();
        self.state.scheduled.clear();
        self.state.transfers.retain(|t| t.in_progress);
        self.state.periodic_phase_unix = None;
        self.state.cli_inform_time_done = None;
        self.state.cr_url = None;
        self.periodic_key = None;
        self.publish_cr_url();
        self.soft_reboot();
    }
}

/// What a POST produced.
enum PostOutcome {
    Reply(HttpReply),
    Timeout,
}
