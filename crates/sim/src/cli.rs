//! The `tether sim` subcommands: options (clap), and running each on a multi-threaded tokio
//! runtime. Every subcommand prints its JSON summary on standard output (and to `--json` when
//! given) and its live summary on standard error.
//!
//! Must not touch: measuring (the modules it calls do that).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::SimError;
use crate::load::{LoadConfig, default_sources};
use crate::serial::SerialPattern;

/// `tether sim`.
#[derive(Debug, Args)]
pub struct SimArgs {
    #[command(subcommand)]
    pub command: SimCommand,
}

/// What to run.
#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// Complete CWMP periodic-Inform sessions back to back against an ACS (loopback only).
    Load(LoadArgs),
    /// The ceiling server: answers CWMP-shaped sessions without parsing or storing.
    Ceiling(CeilingArgs),
    /// Many simulated devices (the agent library) against a server, for a while.
    Fleet(FleetArgs),
}

/// Options of `tether sim fleet`.
#[derive(Debug, Args)]
pub struct FleetArgs {
    /// The ACS URL (CWMP on when given; loopback).
    #[arg(long)]
    pub acs_url: Option<String>,
    /// Port of the cloud-connection endpoint on 127.0.0.1 (cloud connection on when given).
    #[arg(long)]
    pub cloud_port: Option<u16>,
    /// `cloud-management server password` of every device.
    #[arg(long, default_value = "")]
    pub cloud_password: String,
    /// PEM certificate the cloud server is trusted with.
    #[arg(long)]
    pub cloud_ca_file: Option<PathBuf>,
    /// Spread the cloud connections over this many loopback source addresses
    /// (127.0.0.1, 127.0.0.2, ...), so that large fleets do not exhaust one address's ports.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=254))]
    pub cloud_sources: u8,
    /// Devices.
    #[arg(long, default_value_t = 100)]
    pub devices: u64,
    /// Number of the first device (to split a fleet over processes).
    #[arg(long, default_value_t = 0)]
    pub first: u64,
    /// Serial-number pattern (`{n}` or `{n:0W}` is the device number).
    #[arg(long, default_value = "SIM{n:08}")]
    pub serials: SerialPattern,
    /// Periodic Inform interval, seconds (10-86400).
    #[arg(long, default_value_t = 300)]
    pub inform_interval: u32,
    /// Devices started per second.
    #[arg(long, default_value_t = 500.0)]
    pub spawn_rate: f64,
    /// Seconds the fleet runs after the first device started.
    #[arg(long, default_value_t = 30.0)]
    pub duration: f64,
    /// Sample this process (the server).
    #[arg(long)]
    pub watch_pid: Option<u32>,
    /// Instances of `Device.Hosts.Host.` every device shows (19 parameters each).
    #[arg(long, default_value_t = 0)]
    pub synthetic_hosts: u32,
    /// No live summary.
    #[arg(long)]
    pub quiet: bool,
    /// Also write the JSON summary here.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// Options of `tether sim load`.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// The ACS URL (an IP address on loopback).
    #[arg(long, default_value = "http://127.0.0.1:7547/")]
    pub url: String,
    /// PEM file of the CA (or self-signed certificate) to trust for https.
    #[arg(long)]
    pub ca_file: Option<PathBuf>,
    /// Resume TLS sessions instead of full handshakes.
    #[arg(long)]
    pub resume: bool,
    /// Sessions in flight at once.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Measured seconds.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Seconds run before measuring.
    #[arg(long, default_value_t = 2.0)]
    pub warmup: f64,
    /// Distinct devices the sessions cycle over.
    #[arg(long, default_value_t = 10_000)]
    pub devices: u64,
    /// Give every device one session before the warm-up (measure periodic sessions of
    /// known devices rather than first contacts).
    #[arg(long)]
    pub prime: bool,
    /// Serial-number pattern (`{n}` or `{n:0W}` is the device number).
    #[arg(long, default_value = "SIM{n:08}")]
    pub serials: SerialPattern,
    /// Number of the first device (to split a fleet over processes).
    #[arg(long, default_value_t = 0)]
    pub first: u64,
    /// Use only the system's default source address (no 127.0.0.2-65 spreading).
    #[arg(long)]
    pub no_spread: bool,
    /// Sample this process (the server) during the measured window.
    #[arg(long)]
    pub watch_pid: Option<u32>,
    /// No live summary.
    #[arg(long)]
    pub quiet: bool,
    /// Also write the JSON summary here.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// Options of `tether sim ceiling`.
#[derive(Debug, Args)]
pub struct CeilingArgs {
    /// Address to listen on (loopback).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Serve TLS with a fresh self-signed ECDSA P-256 certificate, written to `--cert-out`.
    #[arg(long, requires = "cert_out")]
    pub tls: bool,
    /// Where to write the certificate (PEM) clients should trust.
    #[arg(long)]
    pub cert_out: Option<PathBuf>,
    /// Stop by itself after this many seconds.
    #[arg(long, default_value_t = 600.0)]
    pub max_seconds: f64,
}

/// Runs `tether sim ...`; exit status 0 on success, 1 on a failed run, 2 on bad options.
pub fn main(args: SimArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tether sim: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match args.command {
            SimCommand::Load(a) => load(a).await,
            SimCommand::Ceiling(a) => ceiling(a).await,
            SimCommand::Fleet(a) => fleet(a).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(SimError::Config(e)) => {
            eprintln!("tether sim: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("tether sim: {e}");
            ExitCode::FAILURE
        }
    }
}

fn seconds(s: f64) -> Result<Duration, SimError> {
    Duration::try_from_secs_f64(s).map_err(|_| SimError::Config(format!("bad duration {s}")))
}

/// Prints `report` as JSON on standard output and to `path`.
pub fn emit<T: Serialize>(report: &T, path: Option<&PathBuf>) -> Result<(), SimError> {
    let text = serde_json::to_string_pretty(report)
        .map_err(|e| SimError::Config(format!("summary: {e}")))?;
    println!("{text}");
    if let Some(path) = path {
        std::fs::write(path, format!("{text}\n"))?;
    }
    Ok(())
}

async fn load(a: LoadArgs) -> Result<(), SimError> {
    let config = LoadConfig {
        url: a.url,
        ca_file: a.ca_file,
        resume: a.resume,
        concurrency: a.concurrency,
        duration: seconds(a.duration)?,
        warmup: seconds(a.warmup)?,
        prime: a.prime,
        devices: a.devices,
        serials: a.serials,
        first: a.first,
        sources: if a.no_spread {
            Vec::new()
        } else {
            default_sources()
        },
        watch_pid: a.watch_pid,
        live: !a.quiet,
    };
    let report = crate::load::run(config).await?;
    emit(&report, a.json.as_ref())
}

async fn fleet(a: FleetArgs) -> Result<(), SimError> {
    let cloud = match (a.cloud_port, a.cloud_ca_file) {
        (None, _) => None,
        (Some(port), Some(ca_file)) => Some(crate::fleet::CloudTarget {
            port,
            password: a.cloud_password,
            ca_file,
            source_addresses: a.cloud_sources,
        }),
        (Some(_), None) => {
            return Err(SimError::Config(
                "--cloud-port needs --cloud-ca-file".into(),
            ));
        }
    };
    if let Some(url) = &a.acs_url {
        let host = url
            .parse::<http::Uri>()
            .ok()
            .and_then(|u| u.host().and_then(|h| h.parse::<std::net::IpAddr>().ok()));
        if !host.is_some_and(|h| h.is_loopback()) {
            return Err(SimError::Config(format!(
                "{url:?}: the ACS must be a loopback IP address"
            )));
        }
    }
    let config = crate::fleet::FleetConfig {
        acs_url: a.acs_url,
        cloud,
        devices: a.devices,
        first: a.first,
        serials: a.serials,
        inform_interval: a.inform_interval,
        spawn_rate: a.spawn_rate,
        duration: seconds(a.duration)?,
        watch_pid: a.watch_pid,
        live: !a.quiet,
        synthetic_hosts: a.synthetic_hosts,
        ..crate::fleet::FleetConfig::default()
    };
    let report = crate::fleet::run(config).await?;
    emit(&report, a.json.as_ref())
}

async fn ceiling(a: CeilingArgs) -> Result<(), SimError> {
    if !a.listen.ip().is_loopback() {
        return Err(SimError::Config(
            "the ceiling server listens on loopback only".into(),
        ));
    }
    let tls = if a.tls {
        let (pem, config) = crate::tls::self_signed_server()?;
        if let Some(path) = &a.cert_out {
            std::fs::write(path, pem)?;
        }
        Some(config)
    } else {
        None
    };
    let stop = CancellationToken::new();
    let addr = crate::ceiling::start(a.listen, tls, stop.clone()).await?;
    println!(
        "{}",
        serde_json::json!({ "kind": "ceiling", "listen": addr.to_string(), "tls": a.tls })
    );
    let limit = seconds(a.max_seconds)?;
    tokio::select! {
        () = tokio::time::sleep(limit) => {}
        () = termination() => {}
    }
    stop.cancel();
    Ok(())
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn termination() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Loopback source addresses, for callers that build their own configurations.
pub fn loopback_sources() -> Vec<Ipv4Addr> {
    default_sources()
}
