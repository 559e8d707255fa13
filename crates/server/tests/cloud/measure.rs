//! Rough server memory per idle tunnel: RSS of this process (the server) before and after
//! 1,000 devices hold idle TLS tunnels. The devices run in a child process (this test binary
//! again, running `fleet`) so their memory is not counted. Run by hand:
//!
//! ```text
//! cargo test -p tether-server --release --test server -- --ignored --nocapture idle_tunnel_memory
//! ```

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::device::{Device, recv};

const N: usize = 1000;

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    kb * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement, run by hand"]
async fn idle_tunnel_memory() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = super::config_for(dir.path(), None);
    config.cloud.auth_per_address = 1_000_000;
    config.limits.max_connections = 20_000;
    let run = super::Running::start(config, None).await;
    let store = &run.handle.app().store;
    let admin = store.account_by_name("admin").await.unwrap().unwrap();
    for i in 0..=N {
        store
            .add_cloud_device(
                &tether_store::NewCloudDevice {
                    serial: format!("MEAS-{i}"),
                    owner: admin.id,
                    name: String::new(),
                    device_key: super::device::device_key("pw", &format!("MEAS-{i}")),
                },
                tether_server::clock::now(),
            )
            .await
            .unwrap();
    }
    // Warm up: one tunnel, so lazily built state is not counted per tunnel.
    let warm = Device::new("MEAS-0", "pw", run.handle.cloud_addr, dir.path());
    let (_w, _) = warm.connect().await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = rss_bytes();

    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "cloud::measure::fleet",
            "--ignored",
            "--nocapture",
        ])
        .env("TETHER_FLEET_ADDR", run.handle.cloud_addr.to_string())
        .env("TETHER_FLEET_DIR", dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let ready = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .any(|l| l.contains("FLEET READY"))
    });
    assert!(ready.await.unwrap(), "the fleet connected");
    let cloud = &run.handle.app().cloud;
    while cloud.tunnel_count() < N + 1 {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = rss_bytes();
    let per = after.saturating_sub(before) / N as u64;
    println!(
        "idle tunnels: {N}; server RSS before {before} B, after {after} B; about {per} B per idle TLS tunnel"
    );
    drop(child.stdin.take());
    let _ = child.kill();
    let _ = child.wait();
    run.stop().await;
}

/// The child half of `idle_tunnel_memory`: opens N tunnels and holds them idle.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "helper of idle_tunnel_memory"]
async fn fleet() {
    let (Ok(addr), Ok(dir)) = (
        std::env::var("TETHER_FLEET_ADDR"),
        std::env::var("TETHER_FLEET_DIR"),
    ) else {
        return;
    };
    let addr = addr.parse().unwrap();
    let mut tunnels = Vec::with_capacity(N);
    let mut pending = Vec::new();
    for i in 1..=N {
        let d = Device::new(&format!("MEAS-{i}"), "pw", addr, std::path::Path::new(&dir));
        pending.push(tokio::spawn(async move { d.connect().await.0 }));
        if pending.len() == 32 || i == N {
            for p in pending.drain(..) {
                tunnels.push(p.await.unwrap());
            }
        }
    }
    for t in tunnels.iter_mut().take(1) {
        super::device::send(t, serde_json::json!({"type": "keepalive", "seq": 1})).await;
        let _ = recv(t).await;
    }
    println!("FLEET READY");
    // Hold the tunnels until the parent closes our stdin (or kills us).
    tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
    })
    .await
    .unwrap();
    drop(tunnels);
}
