//! The simulator against a real `tether server` (in process, fresh store, loopback):
//!
//! * a fleet of 200 simulated devices (the agent library, one process) completes CWMP
//!   sessions, and survives a server restart (every device informs the new server);
//! * smoke runs of the benchmark entry points (load against the ceiling server and against
//!   `tether server`, plain and TLS) produce a well-formed JSON summary with sessions > 0.
//!
//! No timing assertions: deadlines below only turn a hang into a failure.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tether_server::config::{Secs, ServerConfig, TlsMode};
use tether_server::{Server, ServerHandle};
use tether_sim::fleet::{Fleet, FleetConfig};
use tether_sim::load::{LoadConfig, default_sources};
use tether_sim::serial::SerialPattern;

fn config(dir: &std::path::Path) -> ServerConfig {
    let mut c = ServerConfig {
        data_dir: dir.to_owned(),
        shutdown_grace: Secs::from_secs(2),
        ..ServerConfig::default()
    };
    c.api.listen = "127.0.0.1:0".parse().unwrap();
    c.cwmp.listen = "127.0.0.1:0".parse().unwrap();
    c.cloud.listen = "127.0.0.1:0".parse().unwrap();
    c.cloud.tls.mode = TlsMode::Off;
    c.cwmp.auth.require = false;
    c.admin.password = Some("sim-test-admin-password".into());
    c
}

const DEVICE_ID_PREFIX: &str = "00A0C9-SimCPE-";

async fn devices_informed_since(server: &ServerHandle, serials: &[String], since: i64) -> usize {
    let store = &server.app().store;
    let mut n = 0;
    for serial in serials {
        let id = format!("{DEVICE_ID_PREFIX}{serial}");
        if let Ok(Some(d)) = store.device(&id).await
            && d.last_inform_at.is_some_and(|t| t.0 >= since)
        {
            n += 1;
        }
    }
    n
}

async fn wait_all_informed(server: &ServerHandle, serials: &[String], since: i64, limit: Duration) {
    let end = Instant::now() + limit;
    loop {
        let n = devices_informed_since(server, serials, since).await;
        if n == serials.len() {
            return;
        }
        assert!(
            Instant::now() < end,
            "only {n} of {} devices informed the server",
            serials.len()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn now_millis() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_of_200_completes_sessions_and_survives_a_server_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(config(dir.path())).await.unwrap();
    let cwmp: SocketAddr = server.cwmp_addr;
    let fleet_config = FleetConfig {
        acs_url: Some(format!("http://{cwmp}/")),
        devices: 200,
        serials: "FLEET{n:05}".parse::<SerialPattern>().unwrap(),
        inform_interval: 10,
        spawn_rate: 400.0,
        live: false,
        ..FleetConfig::default()
    };
    let serials: Vec<String> = (0..200).map(|i| fleet_config.serials.render(i)).collect();
    let fleet = Fleet::start(&fleet_config).await.unwrap();
    assert_eq!(fleet.len(), 200);

    // Every device's first session (BOOTSTRAP + BOOT) reaches the store.
    wait_all_informed(&server, &serials, 0, Duration::from_secs(120)).await;
    let end = Instant::now() + Duration::from_secs(60);
    while fleet.counters.with_session.load(Ordering::Relaxed) < 200 {
        assert!(
            Instant::now() < end,
            "the devices did not see their sessions end"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(fleet.stats.completed.load(Ordering::Relaxed) >= 200);
    let ids: HashSet<String> = serials.iter().cloned().collect();
    assert_eq!(ids.len(), 200, "serials are distinct");

    // Fault: the server goes away and comes back on the same address and store.
    server.shutdown().await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let restarted_at = now_millis();
    let mut again = config(dir.path());
    again.cwmp.listen = cwmp;
    let server = Server::start(again).await.unwrap();
    // Every device informs the new server (periodic Informs, or retries after the outage
    // with the agent's back-off): none is stuck.
    wait_all_informed(&server, &serials, restarted_at, Duration::from_secs(180)).await;

    fleet.stop().await;
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_smoke_runs_against_the_ceiling_and_the_server_give_json_summaries() {
    // The ceiling, plain and TLS.
    let stop = tokio_util::sync::CancellationToken::new();
    let plain = tether_sim::ceiling::start("127.0.0.1:0".parse().unwrap(), None, stop.clone())
        .await
        .unwrap();
    let (pem, tls) = tether_sim::tls::self_signed_server().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ceiling.pem");
    std::fs::write(&ca, pem).unwrap();
    let secure =
        tether_sim::ceiling::start("127.0.0.1:0".parse().unwrap(), Some(tls), stop.clone())
            .await
            .unwrap();
    let small = |url: String, ca: Option<std::path::PathBuf>| LoadConfig {
        url,
        ca_file: ca,
        concurrency: 4,
        devices: 8,
        duration: Duration::from_millis(700),
        warmup: Duration::ZERO,
        prime: true,
        sources: default_sources(),
        live: false,
        watch_pid: Some(std::process::id()),
        ..LoadConfig::default()
    };
    for (url, ca) in [
        (format!("http://{plain}/"), None),
        (format!("https://{secure}/"), Some(ca.clone())),
    ] {
        let report = tether_sim::load::run(small(url.clone(), ca)).await.unwrap();
        let json: serde_json::Value = serde_json::to_value(&report).unwrap();
        assert_eq!(json["kind"], "load");
        assert!(json["sessions"].as_u64().unwrap() > 0, "{url}: {json}");
        assert_eq!(json["errors"].as_u64(), Some(0), "{url}: {json}");
        assert!(json["latency"]["p99_ms"].as_f64().is_some());
        assert!(json["server"]["cpu_seconds"].as_f64().is_some());
    }
    stop.cancel();

    // tether server, plain HTTP, fresh store.
    let sdir = tempfile::tempdir().unwrap();
    let mut c = config(sdir.path());
    // The load generator is not a CPE that answers RPCs: no credential provisioning step
    // (a periodic session of a provisioned device has none either).
    c.cwmp.connection_request.provision_credentials = false;
    let server = Server::start(c).await.unwrap();
    let report = tether_sim::load::run(small(format!("http://{}/", server.cwmp_addr), None))
        .await
        .unwrap();
    let json: serde_json::Value = serde_json::to_value(&report).unwrap();
    assert!(json["sessions"].as_u64().unwrap() > 0, "{json}");
    assert_eq!(json["errors"].as_u64(), Some(0), "{json}");
    // Every session's Inform was stored before it was acknowledged.
    let stored = server
        .app()
        .store
        .device(&format!(
            "{DEVICE_ID_PREFIX}{}",
            SerialPattern::default().render(0)
        ))
        .await
        .unwrap()
        .expect("the device was registered at its first Inform");
    assert!(stored.last_inform_at.is_some());
    server.shutdown().await.unwrap();
}
