//! The cloud connection manager: [`tether_cloudlink::Device`] driven with real I/O.
//!
//! Owns [`run`]: one task that feeds the state machine its inputs (I/O outcomes tagged with
//! their attempt, timers on tokio's clock, running-configuration changes, DHCP options
//! 253/252, operator actions) and carries out its [`Action`]s: resolution, HTTPS requests and
//! the tunnel upgrade run on short-lived tasks; the open tunnel runs on a pump task that owns
//! the WebSocket; grants go to the service modules. After every step the status is published
//! for `display cloud-management state`.
//!
//! The HTTPS requests of one attempt (auth request, auth proof, register) follow each other,
//! so they share one kept-alive connection ([`net::KeepAlive`], a slot per attempt): a
//! request's task puts the connection back before reporting the answer, the next request's
//! task takes it. The manager closes it when the tunnel is opened, on a transport failure, and
//! whenever an answer is not followed by another request, so no idle connection outlives the
//! handshake. A request of an abandoned attempt still running holds the old slot only: its
//! connection closes when its task ends.
//!
//! Time is `tokio::time::Instant` since the manager started, so tests may pause the clock.
//! Must not touch: protocol rules (the state machine's), service logic (`services/`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tether_cli::BackupServer as CliBackup;
use tether_cloudlink::backoff::BackoffConfig;
use tether_cloudlink::device::{Action, BackupServer, DeviceConfig, Notice, SubmitError};
use tether_cloudlink::message::{self, UnbindFailureReason, limits};
use tether_cloudlink::{CloseCode, Device, Event, Jitter};
use tokio::sync::{broadcast, mpsc};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode as WsCloseCode;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::cloud::Link;
use crate::cloud::dhcp::read_cloud_options;
use crate::cloud::net::{self, OpenError, Post, Ws};
use crate::cloud::services::{SERVICES, Services};
use crate::cloud::status::to_cloud_state;
use crate::context::{AgentAction, AgentContext, UnbindReport, now_unix};
use crate::running::Running;

/// Outgoing frames queued for the tunnel pump.
const TUNNEL_QUEUE: usize = 32;

#[derive(Debug)]
enum Io {
    /// An outcome for the state machine.
    Event(u64, Event),
    /// The tunnel of `attempt` is open; frames for it go here.
    Tunnel(u64, mpsc::Sender<Out>),
}

#[derive(Debug)]
enum Out {
    Text(String),
    Ping,
    Close(CloseCode),
}

/// The cloud settings of the running configuration, as the state machine takes them.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Settings {
    domain: Option<String>,
    port: u16,
    password: Option<String>,
    keepalive: Duration,
    backups: Vec<BackupServer>,
}

impl Settings {
    fn of(running: &Running) -> Settings {
        let key = running.key().as_bytes().to_vec();
        running.with(|c, _| {
            let cloud = &c.cloud;
            Settings {
                domain: cloud.server_domain.clone(),
                port: cloud.server_port,
                password: cloud.server_password.as_ref().and_then(|p| {
                    p.reveal(&key)
                        .inspect_err(|e| tracing::warn!(error = %e, "cloud password unreadable"))
                        .ok()
                }),
                keepalive: Duration::from_secs(u64::from(cloud.keepalive.max(1))),
                backups: cloud
                    .backup_servers
                    .iter()
                    .map(|b: &CliBackup| BackupServer {
                        domain: b.domain.clone(),
                        port: b.port,
                    })
                    .collect(),
            }
        })
    }
}

struct Manager {
    ctx: Arc<AgentContext>,
    link: Arc<Link>,
    device: Device,
    base: Instant,
    io: mpsc::Sender<Io>,
    tunnel: Option<(u64, mpsc::Sender<Out>)>,
    services: Services,
    tracker: TaskTracker,
    settings: Settings,
    pending_unbind: BTreeMap<u32, String>,
    connected_wall: Option<(Duration, i64)>,
    /// The handshake's idle HTTPS connection between two requests, for attempt `kept_for`.
    kept: net::KeepAlive,
    kept_for: u64,
    /// An HTTPS answer of the current attempt was just handled: unless it led to another
    /// request, close `kept`.
    answered: bool,
}

/// Runs the manager until `shutdown` (see the module docs).
pub async fn run(
    ctx: Arc<AgentContext>,
    link: Arc<Link>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
) {
    let (io_tx, mut io_rx) = mpsc::channel(64);
    let (need_tx, mut need_rx) = mpsc::channel::<String>(8);
    let mut config_rx = ctx.running().subscribe();
    let mut actions = ctx.subscribe_actions();
    let services = Services::spawn(&ctx, &link, &need_tx, &tracker, &shutdown);
    let cloud_cfg = ctx.config().cloud.clone();
    let lease_file = ctx.config().dhcp_lease_file.clone();
    let settings = Settings::of(ctx.running());

    let mut cfg = DeviceConfig::new(link.serial.clone());
    cfg.server_domain = settings.domain.clone();
    cfg.server_port = settings.port;
    cfg.password = settings.password.clone();
    cfg.keepalive = settings.keepalive;
    cfg.backups = settings.backups.clone();
    cfg.request_timeout = link.request_timeout;
    cfg.backoff = BackoffConfig {
        initial: Duration::from_millis(cloud_cfg.backoff_initial_ms),
        max: Duration::from_secs(cloud_cfg.backoff_max_secs.max(1)),
    };
    cfg.services = SERVICES.iter().map(|s| (*s).to_owned()).collect();

    let mut m = Manager {
        device: Device::new(cfg),
        base: Instant::now(),
        io: io_tx,
        tunnel: None,
        services,
        tracker,
        settings,
        pending_unbind: BTreeMap::new(),
        connected_wall: None,
        kept: net::KeepAlive::new(),
        kept_for: 0,
        answered: false,
        ctx,
        link,
    };
    if let Some(path) = &lease_file {
        let dhcp = read_cloud_options(path);
        m.device.apply_dhcp(m.now(), dhcp.domain, dhcp.password);
    }
    m.device.start(m.now());
    let mut dhcp_tick = tokio::time::interval(Duration::from_secs(cloud_cfg.dhcp_poll_secs.max(1)));
    dhcp_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

    loop {
        m.perform();
        m.publish();
        let wake = m.device.poll_timeout().map(|d| m.base + d);
        tokio::select! {
            () = shutdown.cancelled() => break,
            Some(io) = io_rx.recv() => m.on_io(io),
            Some(name) = need_rx.recv() => {
                if m.device.request_subconnections(&[name]).is_err() {
                    tracing::debug!("subconnection URL asked while the tunnel is down");
                }
            }
            changed = config_rx.changed() => {
                if changed.is_err() {
                    break;
                }
                config_rx.borrow_and_update();
                m.on_config();
            }
            action = actions.recv() => match action {
                Ok(a) => m.on_action(a),
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(lost = n, "cloud client missed operator actions");
                }
                Err(broadcast::error::RecvError::Closed) => break,
            },
            _ = dhcp_tick.tick(), if lease_file.is_some() => {
                if let Some(path) = &lease_file {
                    let dhcp = read_cloud_options(path);
                    m.device.apply_dhcp(m.now(), dhcp.domain, dhcp.password);
                }
            }
            () = sleep_until(wake) => {
                let now = m.now();
                m.device.handle_timeout(now, jitter());
            }
        }
    }
    // Going away: close the tunnel (the pump is on the tracker, so shutdown waits for it).
    if let Some((_, tx)) = m.tunnel.take() {
        let _ = tx.try_send(Out::Close(CloseCode::GoingAway));
    }
    m.services.stop_all();
}

async fn sleep_until(wake: Option<Instant>) {
    match wake {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

fn jitter() -> Jitter {
    Jitter(rand::random())
}

impl Manager {
    fn now(&self) -> Duration {
        Instant::now().saturating_duration_since(self.base)
    }

    fn on_io(&mut self, io: Io) {
        match io {
            Io::Tunnel(attempt, tx) => {
                if attempt == self.device.attempt() {
                    self.tunnel = Some((attempt, tx));
                }
                // Otherwise dropping `tx` ends that pump.
            }
            Io::Event(attempt, event) => {
                if attempt == self.device.attempt() {
                    match event {
                        Event::HttpResponse { .. } => self.answered = true,
                        Event::TransportFailed(_) => self.kept.clear(),
                        _ => {}
                    }
                }
                let now = self.now();
                self.device.handle(now, jitter(), attempt, event);
            }
        }
    }

    fn on_config(&mut self) {
        let new = Settings::of(self.ctx.running());
        if new == self.settings {
            return;
        }
        let now = self.now();
        // A changed domain, port or password rebuilds the connection; keepalive and backups
        // take effect at the next registration or rotation.
        self.device.set_keepalive(new.keepalive);
        self.device.set_backups(new.backups.clone());
        self.device.set_server_domain(now, new.domain.clone());
        self.device.set_server_port(now, new.port);
        self.device.set_password(now, new.password.clone());
        self.settings = new;
    }

    fn on_action(&mut self, action: AgentAction) {
        match action {
            AgentAction::ResetCloudTunnel => {
                let now = self.now();
                self.device.reset_tunnel(now);
            }
            AgentAction::CloudUnbindingCode(code) => {
                match self.device.submit_unbinding_code(&code) {
                    Ok(id) => {
                        self.pending_unbind.insert(id, code);
                    }
                    Err(e) => {
                        let message = match e {
                            SubmitError::Malformed => {
                                "Invalid unbinding code: 8 characters of 2-9 and A-Z (no I or O) expected."
                            }
                            SubmitError::NotConnected => "The cloud connection is not established.",
                        };
                        self.ctx.report_unbind(UnbindReport {
                            code,
                            ok: false,
                            message: message.into(),
                        });
                    }
                }
            }
        }
    }

    /// Carries out every queued action.
    fn perform(&mut self) {
        let mut posted = false;
        while let Some(action) = self.device.poll_action() {
            match action {
                Action::Resolve { attempt, domain } => self.resolve(attempt, domain),
                Action::Post { attempt, request } => {
                    posted = true;
                    if attempt != self.kept_for {
                        // A new attempt: a slot of its own (tasks of older ones keep theirs).
                        self.kept.clear();
                        self.kept = net::KeepAlive::new();
                        self.kept_for = attempt;
                    }
                    let io = self.io.clone();
                    let tls = self.link.tls.get();
                    let timeout = self.link.request_timeout;
                    let source = self.link.source;
                    let kept = self.kept.clone();
                    self.tracker.spawn(async move {
                        let body = message::encode(&request.body);
                        let post = Post {
                            source,
                            domain: &request.domain,
                            address: request.address,
                            port: request.port,
                            path: request.path,
                            bearer: request.bearer.as_deref(),
                            body: &body,
                        };
                        // Puts a reusable connection back into `kept` before the answer is
                        // reported, so the next request (started on the answer) finds it.
                        let event = match net::post(&tls, &post, timeout, &kept).await {
                            Ok((status, body)) => Event::HttpResponse { status, body },
                            Err(t) => Event::TransportFailed(t),
                        };
                        let _ = io.send(Io::Event(attempt, event)).await;
                    });
                }
                Action::OpenTunnel {
                    attempt,
                    url,
                    serial,
                    proof,
                } => {
                    // The handshake is over: its connection is not needed any more.
                    self.kept.clear();
                    self.open_tunnel(attempt, url, serial, proof);
                }
                Action::Send { attempt, message } => {
                    self.queue_frame(attempt, Out::Text(message::encode(&message)));
                }
                Action::Ping { attempt } => self.queue_frame(attempt, Out::Ping),
                Action::Close { attempt, code } => {
                    self.queue_frame(attempt, Out::Close(code));
                    if self.tunnel.as_ref().is_some_and(|(a, _)| *a == attempt) {
                        self.tunnel = None;
                    }
                }
                Action::StartServices { grants, .. } => self.services.start(grants),
                Action::StopServices => self.services.stop_all(),
                Action::Notify(Notice::UnbindResult { id, ok, reason }) => {
                    let code = self.pending_unbind.remove(&id).unwrap_or_default();
                    self.ctx.report_unbind(UnbindReport {
                        code,
                        ok,
                        message: unbind_text(ok, reason),
                    });
                }
                Action::Notify(Notice::ConfigChanged) => {
                    tracing::info!("the cloud announced a configuration change");
                }
            }
        }
        // An answer that led to no further request (a refusal, a protocol error, a stale
        // attempt) leaves nothing for the connection to carry.
        if std::mem::take(&mut self.answered) && !posted {
            self.kept.clear();
        }
    }

    fn queue_frame(&mut self, attempt: u64, out: Out) {
        if let Some((a, tx)) = &self.tunnel
            && *a == attempt
            && tx.try_send(out).is_err()
        {
            tracing::warn!("cloud tunnel send queue full; frame dropped");
        }
    }

    fn resolve(&self, attempt: u64, domain: String) {
        let io = self.io.clone();
        let hosts = self.ctx.running().config().cloud.ip_hosts;
        let timeout = self.link.request_timeout;
        self.tracker.spawn(async move {
            let event = match tokio::time::timeout(timeout, net::resolve(&hosts, &domain)).await {
                Ok(Ok(ip)) => Event::Resolved(ip),
                _ => Event::ResolveFailed,
            };
            let _ = io.send(Io::Event(attempt, event)).await;
        });
    }

    fn open_tunnel(&self, attempt: u64, url: String, serial: String, proof: Option<String>) {
        let io = self.io.clone();
        let tls = self.link.tls.get();
        let hosts = self.ctx.running().config().cloud.ip_hosts;
        let timeout = self.link.request_timeout;
        let source = self.link.source;
        self.tracker.spawn(async move {
            let dial = net::Dial {
                tls: &tls,
                source,
                hosts: &hosts,
            };
            let opened = net::open_websocket(
                &dial,
                &url,
                &serial,
                proof.as_deref(),
                limits::TUNNEL_MAX,
                timeout,
            )
            .await;
            let ws = match opened {
                Ok((ws, _)) => ws,
                Err(e) => {
                    let event = match e {
                        OpenError::Rejected(status) => Event::TunnelRejected(status),
                        OpenError::Transport(t) => Event::TransportFailed(t),
                    };
                    let _ = io.send(Io::Event(attempt, event)).await;
                    return;
                }
            };
            let (tx, rx) = mpsc::channel(TUNNEL_QUEUE);
            if io.send(Io::Tunnel(attempt, tx)).await.is_err()
                || io
                    .send(Io::Event(attempt, Event::TunnelOpened))
                    .await
                    .is_err()
            {
                return;
            }
            pump(ws, rx, io, attempt).await;
        });
    }

    fn publish(&mut self) {
        let now = self.now();
        let status = self.device.status(now);
        let wall = now_unix();
        let kept = match (status.connected_at, self.connected_wall) {
            (Some(at), Some((k, w))) if at == k => Some(w),
            (Some(at), _) => {
                let w = wall - i64::try_from(now.saturating_sub(at).as_secs()).unwrap_or(0);
                self.connected_wall = Some((at, w));
                Some(w)
            }
            (None, _) => {
                self.connected_wall = None;
                None
            }
        };
        let state = to_cloud_state(&status, now, wall, kept);
        if self.ctx.cloud_state() != state {
            self.ctx.update_cloud(|s| *s = state);
        }
    }
}

fn unbind_text(ok: bool, reason: Option<UnbindFailureReason>) -> String {
    if ok {
        return "The cloud server accepted the unbinding code; the device is unbound.".into();
    }
    let why = match reason {
        Some(UnbindFailureReason::InvalidCode) => "the code is not valid for this device",
        Some(UnbindFailureReason::Expired) => "the code has expired",
        Some(UnbindFailureReason::AlreadyUsed) => "the code was already used",
        Some(UnbindFailureReason::TooManyAttempts) => "too many wrong codes; the code is void",
        Some(UnbindFailureReason::RateLimited) => "too many codes submitted; try again later",
        _ => "refused by the cloud server",
    };
    format!("Unbinding failed: {why}.")
}

/// Owns the open tunnel: frames out from the manager, frames in as events.
async fn pump(mut ws: Ws, mut out: mpsc::Receiver<Out>, io: mpsc::Sender<Io>, attempt: u64) {
    let report = |event| {
        let io = io.clone();
        async move { io.send(Io::Event(attempt, event)).await.is_ok() }
    };
    loop {
        tokio::select! {
            next = out.recv() => {
                let frame = match next {
                    Some(Out::Text(text)) => Frame::text(text),
                    Some(Out::Ping) => Frame::Ping(Vec::new().into()),
                    Some(Out::Close(code)) => return close(&mut ws, code).await,
                    None => return close(&mut ws, CloseCode::Normal).await,
                };
                if ws.send(frame).await.is_err() {
                    report(Event::Closed(None)).await;
                    return;
                }
            }
            frame = ws.next() => {
                let event = match frame {
                    Some(Ok(Frame::Text(t))) => Event::Text(t.as_bytes().to_vec()),
                    Some(Ok(Frame::Binary(_))) => Event::Binary,
                    Some(Ok(Frame::Ping(_) | Frame::Pong(_) | Frame::Frame(_))) => Event::Frame,
                    Some(Ok(Frame::Close(frame))) => {
                        let _ = tokio::time::timeout(Duration::from_secs(2), ws.flush()).await;
                        report(Event::Closed(frame.map(|f| u16::from(f.code)))).await;
                        return;
                    }
                    Some(Err(e)) => {
                        tracing::debug!(error = %e, "cloud tunnel read failed");
                        report(Event::Closed(None)).await;
                        return;
                    }
                    None => {
                        report(Event::Closed(None)).await;
                        return;
                    }
                };
                if !report(event).await {
                    return close(&mut ws, CloseCode::GoingAway).await;
                }
            }
        }
    }
}

/// Sends a close frame and waits briefly for the peer's.
async fn close(ws: &mut Ws, code: CloseCode) {
    let frame = CloseFrame {
        code: WsCloseCode::from(code.code()),
        reason: code.reason().into(),
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        ws.close(Some(frame)).await?;
        while let Some(f) = ws.next().await {
            f?;
        }
        Ok::<(), tokio_tungstenite::tungstenite::Error>(())
    })
    .await;
}
