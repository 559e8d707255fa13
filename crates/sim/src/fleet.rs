//! A fleet of simulated devices in one process, each the agent itself
//! ([`tether_agent::sim::SimDevice`]: its CWMP driver and its cloud client over in-memory
//! state), so each keeps its own cookies, events, parameters and tunnel, answers the ACS's
//! RPCs and connection requests, and backs off and reconnects by the agent's rules.
//!
//! Owns [`FleetConfig`], [`Fleet`] (start at a spawn rate, watch, stop) and [`FleetReport`].
//! Progress: devices are counted as they start; sessions are counted from each device's live
//! CWMP status (a session is one `Connected` -> `Disconnected` transition after which the
//! last-success time moved), tunnels from its cloud state.
//!
//! Must not touch: protocol behaviour (all of it is the agent's).

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use tether_agent::AgentConfig;
use tether_agent::sim::{SimDevice, SimDeviceSpec};
use tether_cli::display::{CloudConnectionState, ConnectionStatus};

use crate::SimError;
use crate::live::Live;
use crate::sampler::{ProcReport, ProcSample, Sampler, load_average};
use crate::serial::SerialPattern;
use crate::stats::{Percentiles, Stats};

/// The cloud server a fleet connects to.
#[derive(Debug, Clone)]
pub struct CloudTarget {
    /// Port of the cloud endpoint on 127.0.0.1.
    pub port: u16,
    /// `cloud-management server password` of every device.
    pub password: String,
    /// PEM file of the certificate to trust.
    pub ca_file: PathBuf,
    /// Loopback source addresses the devices' connections are spread over: device `i`
    /// connects from `127.0.0.{1 + i % n}`. 1 (or 0) leaves the choice to the kernel, which
    /// then searches one address's ephemeral ports for every connection: at 4,500 devices
    /// that search was 16 % of the fleet's CPU.
    pub source_addresses: u8,
}

/// What fleet to run.
#[derive(Debug, Clone)]
pub struct FleetConfig {
    /// The ACS URL (CWMP off when `None`).
    pub acs_url: Option<String>,
    /// The cloud server (cloud connection off when `None`).
    pub cloud: Option<CloudTarget>,
    /// Devices.
    pub devices: u64,
    /// Number of the first device.
    pub first: u64,
    /// Serial numbers.
    pub serials: SerialPattern,
    /// `cwmp cpe inform interval` (10-86400 s).
    pub inform_interval: u32,
    /// Devices started per second.
    pub spawn_rate: f64,
    /// How long the fleet runs once every device started.
    pub duration: Duration,
    /// Address the connection-request listeners bind (port chosen by the system).
    pub cr_address: IpAddr,
    /// Process to sample (the server).
    pub watch_pid: Option<u32>,
    /// Live summary on standard error.
    pub live: bool,
    /// Connection-request credentials of every device (`cwmp cpe username/password`).
    pub cr_credentials: (String, String),
    /// Instances of `Device.Hosts.Host.` every device shows (19 parameters each, values
    /// defaulted), to give discovery a data model of a realistic size; 0 adds none.
    pub synthetic_hosts: u32,
}

/// A data-model handler that makes `Device.Hosts.Host.` a table of `hosts` instances (with no
/// address sub-instances); the values are the schema's defaults.
#[derive(Debug)]
pub struct SyntheticHosts {
    /// Instances.
    pub hosts: u32,
}

/// The table [`SyntheticHosts`] fills.
pub const SYNTHETIC_HOSTS_TABLE: &str = "Device.Hosts.Host.";

impl tether_datamodel::Handler for SyntheticHosts {
    fn instances(&self, table_path: &str) -> Option<Vec<u32>> {
        if table_path == SYNTHETIC_HOSTS_TABLE {
            Some((1..=self.hosts).collect())
        } else if table_path.starts_with(SYNTHETIC_HOSTS_TABLE) {
            Some(Vec::new())
        } else {
            None
        }
    }
}

/// The connection-request credentials simulated devices use unless told otherwise.
pub const DEFAULT_CR_CREDENTIALS: (&str, &str) = ("sim-cr", "sim-cr-password");

impl Default for FleetConfig {
    fn default() -> Self {
        FleetConfig {
            acs_url: None,
            cloud: None,
            devices: 100,
            first: 0,
            serials: SerialPattern::default(),
            inform_interval: 300,
            spawn_rate: 500.0,
            duration: Duration::from_secs(10),
            cr_address: IpAddr::V4(Ipv4Addr::LOCALHOST),
            watch_pid: None,
            live: true,
            cr_credentials: (
                DEFAULT_CR_CREDENTIALS.0.to_owned(),
                DEFAULT_CR_CREDENTIALS.1.to_owned(),
            ),
            synthetic_hosts: 0,
        }
    }
}

/// What a fleet run saw (the JSON summary of `tether sim fleet`).
#[derive(Debug, Clone, Serialize)]
pub struct FleetReport {
    /// `"fleet"`.
    pub kind: &'static str,
    /// Devices started.
    pub devices: u64,
    /// Devices that failed to start.
    pub start_errors: u64,
    /// Seconds from the first start to the last.
    pub spawn_seconds: f64,
    /// CWMP sessions completed (all devices).
    pub sessions: u64,
    /// Failed CWMP session attempts.
    pub session_errors: u64,
    /// Devices with at least one successful session.
    pub devices_with_session: u64,
    /// Devices whose tunnel was established at the end.
    pub tunnels_established: u64,
    /// Time from start until every device had a session (CWMP) or a tunnel (cloud only).
    pub all_up_seconds: Option<f64>,
    /// Session durations as the devices saw them.
    pub session_latency: Percentiles,
    /// This process.
    pub client: ProcReport,
    /// Bytes of this process's RSS per device (growth from before the first start).
    pub rss_bytes_per_device: f64,
    /// The watched process.
    pub server: Option<ProcReport>,
    /// 1-minute load average at the start.
    pub load_average_before: Option<f64>,
    /// Devices per cloud connection state (and last failure reason) at the end.
    pub cloud_states: std::collections::BTreeMap<String, u64>,
}

/// Counters shared by the device watchers.
#[derive(Debug, Default)]
pub struct FleetCounters {
    /// Devices with at least one session.
    pub with_session: AtomicU64,
    /// Devices with an established tunnel now.
    pub tunnels: AtomicU64,
}

/// The `running.cfg` text of one device.
pub fn running_config(config: &FleetConfig) -> String {
    let mut text = String::new();
    if let Some(url) = &config.acs_url {
        text.push_str("cwmp\n cwmp enable\n");
        text.push_str(&format!(" cwmp acs url {url}\n"));
        text.push_str(&format!(" cwmp cpe username {}\n", config.cr_credentials.0));
        text.push_str(&format!(
            " cwmp cpe password simple {}\n",
            config.cr_credentials.1
        ));
        text.push_str(" cwmp cpe inform interval enable\n");
        text.push_str(&format!(
            " cwmp cpe inform interval {}\n",
            config.inform_interval.clamp(10, 86_400)
        ));
        text.push_str(" quit\n");
    }
    if let Some(cloud) = &config.cloud {
        text.push_str("ip host cloud.sim 127.0.0.1\n");
        text.push_str("cloud-management server domain cloud.sim\n");
        text.push_str(&format!("cloud-management server port {}\n", cloud.port));
        text.push_str(&format!(
            "cloud-management server password simple {}\n",
            cloud.password
        ));
    }
    text
}

fn agent_config(config: &FleetConfig, index: u64, serial: &str) -> AgentConfig {
    let mut agent = AgentConfig::default();
    agent.identity.serial_number = Some(serial.to_owned());
    agent.identity.manufacturer = "Tether Simulated Devices".into();
    agent.identity.manufacturer_oui = "00A0C9".into();
    agent.identity.product_class = "SimCPE".into();
    agent.connection_request.address = config.cr_address;
    agent.connection_request.port = 0;
    agent.cwmp.enabled = config.acs_url.is_some();
    agent.cwmp.value_poll_secs = 3600;
    agent.cloud.enabled = config.cloud.is_some();
    if let Some(cloud) = &config.cloud {
        agent.cloud.trust = tether_agent::config::CloudTrustMode::CaFile;
        agent.cloud.ca_file = Some(cloud.ca_file.clone());
        if cloud.source_addresses > 1 {
            let spread = index % u64::from(cloud.source_addresses);
            let host = 1 + u8::try_from(spread).unwrap_or(0);
            agent.cloud.source_address = Some(std::net::Ipv4Addr::new(127, 0, 0, host).into());
        }
    }
    agent
}

/// A running fleet.
pub struct Fleet {
    devices: Vec<SimDevice>,
    /// Session counters.
    pub stats: Arc<Stats>,
    /// Device counters.
    pub counters: Arc<FleetCounters>,
    start_errors: u64,
    spawn_seconds: f64,
}

impl Fleet {
    /// Starts every device at `spawn_rate` per second.
    pub async fn start(config: &FleetConfig) -> Result<Fleet, SimError> {
        let stats = Arc::new(Stats::new());
        let counters = Arc::new(FleetCounters::default());
        let text = running_config(config);
        // One configuration (trust anchors) for every device; each device's cloud client
        // adds a TLS session store of its own, so no device resumes another's session.
        let cloud_tls = match &config.cloud {
            Some(_) => {
                let agent = agent_config(config, 0, "tls");
                Some(
                    tether_agent::cloud::tls::client_config(&agent.cloud)
                        .map_err(|e| SimError::Tls(e.to_string()))?,
                )
            }
            None => None,
        };
        let handlers: Vec<(String, Arc<dyn tether_datamodel::Handler>)> =
            if config.synthetic_hosts > 0 {
                vec![(
                    SYNTHETIC_HOSTS_TABLE.to_owned(),
                    Arc::new(SyntheticHosts {
                        hosts: config.synthetic_hosts,
                    }),
                )]
            } else {
                Vec::new()
            };
        let started = Instant::now();
        let per_device = Duration::from_secs_f64(1.0 / config.spawn_rate.max(1.0));
        let mut devices = Vec::with_capacity(config.devices as usize);
        let mut start_errors = 0;
        for i in 0..config.devices {
            let due = started + per_device.mul_f64(i as f64);
            tokio::time::sleep_until(due.into()).await;
            let serial = config.serials.render(config.first + i);
            let spec = SimDeviceSpec {
                config: agent_config(config, config.first + i, &serial),
                running_config: text.clone(),
                handlers: handlers.clone(),
                cloud_tls: cloud_tls.clone(),
            };
            match SimDevice::start(spec) {
                Ok(device) => {
                    watch(&device, Arc::clone(&stats), Arc::clone(&counters));
                    devices.push(device);
                }
                Err(e) => {
                    start_errors += 1;
                    tracing::warn!(%serial, error = %e, "simulated device not started");
                }
            }
        }
        Ok(Fleet {
            devices,
            stats,
            counters,
            start_errors,
            spawn_seconds: started.elapsed().as_secs_f64(),
        })
    }

    /// Devices running.
    pub fn len(&self) -> usize {
        self.devices.len()
    }

    /// No devices.
    pub fn is_empty(&self) -> bool {
        self.devices.is_empty()
    }

    /// Devices per cloud connection state at this moment (with the last failure reason, if
    /// any, after a `/`).
    pub fn cloud_states(&self) -> std::collections::BTreeMap<String, u64> {
        let mut states = std::collections::BTreeMap::new();
        for d in &self.devices {
            let state = d.context().subscribe_cloud().borrow().clone();
            let mut key = state.connection.as_str().to_owned();
            if let Some(reason) = state.failure_reason {
                key.push_str(" / ");
                key.push_str(&reason);
            }
            *states.entry(key).or_insert(0) += 1;
        }
        states
    }

    /// Stops every device.
    pub async fn stop(self) {
        for d in self.devices {
            d.stop().await;
        }
    }
}

/// Follows one device's live status and counts sessions and tunnels.
fn watch(device: &SimDevice, stats: Arc<Stats>, counters: Arc<FleetCounters>) {
    let mut cwmp = device.context().subscribe_cwmp();
    let ctx = Arc::clone(device.context());
    tokio::spawn(async move {
        let mut began: Option<Instant> = None;
        let mut last_success = None;
        let mut had_session = false;
        let mut tunnel = false;
        let mut cloud = ctx.subscribe_cloud();
        loop {
            tokio::select! {
                changed = cwmp.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    let live = cwmp.borrow_and_update().clone();
                    match live.connection {
                        ConnectionStatus::WaitingResponse | ConnectionStatus::Connected => {
                            began.get_or_insert_with(Instant::now);
                        }
                        ConnectionStatus::Disconnected => {
                            if let Some(at) = began.take() {
                                if live.last_success_unix.is_some() && live.last_success_unix != last_success {
                                    last_success = live.last_success_unix;
                                    stats.ok(at.elapsed());
                                    if !had_session {
                                        had_session = true;
                                        counters.with_session.fetch_add(1, Ordering::Relaxed);
                                    }
                                } else {
                                    stats.error("cwmp-session");
                                }
                            }
                        }
                    }
                }
                changed = cloud.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    let up = cloud.borrow_and_update().connection == CloudConnectionState::Established;
                    if up != tunnel {
                        tunnel = up;
                        if up {
                            counters.tunnels.fetch_add(1, Ordering::Relaxed);
                        } else {
                            counters.tunnels.fetch_sub(1, Ordering::Relaxed);
                        }
                    }
                }
            }
        }
    });
}

/// Starts a fleet, runs it for `duration`, stops it and reports.
pub async fn run(config: FleetConfig) -> Result<FleetReport, SimError> {
    if config.acs_url.is_none() && config.cloud.is_none() {
        return Err(SimError::Config(
            "give an ACS URL, a cloud port, or both".into(),
        ));
    }
    let load_before = load_average();
    let before = ProcSample::own().unwrap_or_default();
    let client = Sampler::start(std::process::id(), Duration::from_millis(500));
    let server = config
        .watch_pid
        .map(|pid| Sampler::start(pid, Duration::from_millis(500)));
    let started = Instant::now();
    let fleet = Fleet::start(&config).await?;
    let n = fleet.len() as u64;
    let counters = Arc::clone(&fleet.counters);
    let live = config.live.then(|| {
        let c = Arc::clone(&counters);
        Live::start_with("sessions", Arc::clone(&fleet.stats), started, move || {
            format!(
                "  devices up {}  tunnels {}",
                c.with_session.load(Ordering::Relaxed),
                c.tunnels.load(Ordering::Relaxed)
            )
        })
    });
    let want_cwmp = config.acs_url.is_some();
    let all_up = |c: &FleetCounters| {
        if want_cwmp {
            c.with_session.load(Ordering::Relaxed) >= n
        } else {
            c.tunnels.load(Ordering::Relaxed) >= n
        }
    };
    let end = Instant::now() + config.duration;
    let mut all_up_seconds = None;
    while Instant::now() < end {
        if all_up_seconds.is_none() && all_up(&counters) {
            all_up_seconds = Some(started.elapsed().as_secs_f64());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if all_up_seconds.is_none() && all_up(&counters) {
        all_up_seconds = Some(started.elapsed().as_secs_f64());
    }
    let client = client.finish();
    let server = server.map(Sampler::finish);
    if let Some(live) = live {
        live.stop();
    }
    let stats = Arc::clone(&fleet.stats);
    let report = FleetReport {
        kind: "fleet",
        devices: n,
        start_errors: fleet.start_errors,
        spawn_seconds: fleet.spawn_seconds,
        sessions: stats.completed.load(Ordering::Relaxed),
        session_errors: stats.errors.load(Ordering::Relaxed),
        devices_with_session: counters.with_session.load(Ordering::Relaxed),
        tunnels_established: counters.tunnels.load(Ordering::Relaxed),
        all_up_seconds,
        session_latency: stats.overall(),
        rss_bytes_per_device: if n > 0 {
            client.end.rss_bytes.saturating_sub(before.rss_bytes) as f64 / n as f64
        } else {
            0.0
        },
        client,
        server,
        load_average_before: load_before,
        cloud_states: if config.cloud.is_some() {
            fleet.cloud_states()
        } else {
            Default::default()
        },
    };
    fleet.stop().await;
    Ok(report)
}
