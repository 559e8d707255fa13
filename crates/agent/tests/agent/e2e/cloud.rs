//! Cloud connection end to end: the agent's cloud client against the server's cloud listener
//! over TLS (the server's self-signed certificate given to the agent as its CA file), the
//! operator on the server's REST API and on the agent's control socket.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tempfile::TempDir;
use tether_agent::AgentConfig;
use tether_agent::config::CloudTrustMode;
use tether_server::ServerConfig;
use tether_server::config::Secs;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

use super::{Api, Dev, Srv, server_config, until};
use crate::agent_config;

const PASSWORD: &str = "cloud-pass-1";

/// An agent configuration for the cloud: CA file `ca`, short timers, CWMP off.
fn cloud_agent(dir: &Path, serial: &str, ca: &Path) -> AgentConfig {
    let mut c = agent_config(&dir.join("state"));
    c.identity.serial_number = Some(serial.into());
    c.cloud.trust = CloudTrustMode::CaFile;
    c.cloud.ca_file = Some(ca.to_owned());
    c.cloud.request_timeout_secs = 5;
    c.cloud.backoff_initial_ms = 200;
    c.cloud.backoff_max_secs = 2;
    c.cloud.service_retry_secs = 1;
    c.cwmp.enabled = false;
    c.connection_request.address = IpAddr::V4(Ipv4Addr::LOCALHOST);
    c.connection_request.port = 0;
    c
}

fn cloud_server_config(data_dir: &Path) -> ServerConfig {
    let mut c = server_config(data_dir);
    c.cloud.telemetry_interval = Secs::from_secs(10);
    c
}

/// Writes the certificates of `servers` into one CA file under `dir`.
fn ca_file(dir: &Path, servers: &[&Srv]) -> std::path::PathBuf {
    let mut pem = String::new();
    for s in servers {
        pem.push_str(&std::fs::read_to_string(s.self_signed_cert()).unwrap());
    }
    let path = dir.join("cloud-ca.pem");
    std::fs::write(&path, pem).unwrap();
    path
}

async fn add_device(api: &Api, serial: &str, password: &str) -> Value {
    api.send(
        "POST",
        "/api/v1/cloud/devices",
        json!({"serial": serial, "password": password, "name": "e2e"}),
        201,
    )
    .await
}

/// `cloud.test` (through `ip host`) on `port` with `password`.
async fn point(dev: &Dev, port: u16, password: &str) {
    let port = format!("cloud-management server port {port}");
    let pw = format!("cloud-management server password simple {password}");
    dev.configure(&[
        "ip host cloud.test 127.0.0.1",
        "cloud-management server domain cloud.test",
        &port,
        &pw,
    ])
    .await;
}

async fn display(dev: &Dev) -> String {
    dev.cli("display cloud-management state").await.output
}

fn field(text: &str, label: &str) -> Option<String> {
    text.lines()
        .find(|l| l.starts_with(label))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_owned())
}

async fn established(dev: &Dev, secs: u64) -> String {
    until(secs, "an established cloud connection", async || {
        let text = display(dev).await;
        if field(&text, "Cloud connection state").as_deref() == Some("Established") {
            Ok(text)
        } else {
            Err(text)
        }
    })
    .await
}

/// Polls the server's view of a cloud device until `pred` holds.
async fn cloud_device_until(
    api: &Api,
    serial: &str,
    secs: u64,
    what: &str,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    until(secs, what, async || {
        let (status, body) = api
            .call("GET", &format!("/api/v1/cloud/devices/{serial}"), None)
            .await;
        if status == 200 && pred(&body) {
            Ok(body)
        } else {
            Err(format!("{status} {body}"))
        }
    })
    .await
}

fn online(d: &Value) -> bool {
    d["state"] == "online"
}

fn has_services(d: &Value, names: &[&str]) -> bool {
    let services: Vec<&str> = d["services"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    online(d) && names.iter().all(|n| services.contains(n))
}

/// One server, account `alice` owning `serial`, and an agent connected to it.
struct Pair {
    dir: TempDir,
    srv: Srv,
    admin: Api,
    alice: Api,
    dev: Dev,
    serial: String,
}

impl Pair {
    async fn start(serial: &str, tweak: impl FnOnce(&mut ServerConfig)) -> Pair {
        let dir = tempfile::tempdir().unwrap();
        let mut config = cloud_server_config(&dir.path().join("server"));
        tweak(&mut config);
        let srv = Srv::start(config).await;
        let admin = srv.admin();
        let (_, alice) = admin.account("alice").await;
        add_device(&alice, serial, PASSWORD).await;
        let ca = ca_file(dir.path(), &[&srv]);
        let dev = Dev::start(
            &dir.path().join("agent"),
            cloud_agent(dir.path(), serial, &ca),
        )
        .await;
        point(&dev, srv.handle.cloud_addr.port(), PASSWORD).await;
        established(&dev, 30).await;
        cloud_device_until(&alice, serial, 15, "the device online", online).await;
        Pair {
            dir,
            srv,
            admin,
            alice,
            dev,
            serial: serial.into(),
        }
    }

    async fn stop(self) {
        self.dev.stop().await;
        self.srv.stop().await;
        drop(self.dir);
    }
}

// ----------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cloud_tunnel_is_established_over_tls_and_seen_on_both_sides() {
    let pair = Pair::start("E2E-CL-EST", |_| {}).await;
    let text = display(&pair.dev).await;
    let port = pair.srv.handle.cloud_addr.port().to_string();
    assert_eq!(
        field(&text, "Device state").as_deref(),
        Some("Request_success"),
        "{text}"
    );
    assert_eq!(
        field(&text, "Cloud server domain name").as_deref(),
        Some("cloud.test")
    );
    assert_eq!(
        field(&text, "Cloud server address").as_deref(),
        Some("127.0.0.1")
    );
    assert_eq!(
        field(&text, "Cloud server port").as_deref(),
        Some(port.as_str())
    );
    assert_eq!(field(&text, "Failure reason").as_deref(), Some("N/A"));
    // Every service opened its subconnection to the server.
    let d = cloud_device_until(&pair.alice, &pair.serial, 20, "three services", |d| {
        has_services(d, &["terminal", "config", "telemetry"])
    })
    .await;
    assert!(
        d["remote_addr"]
            .as_str()
            .is_some_and(|a| a.starts_with("127.0.0.1:")),
        "{d}"
    );
    assert!(d["connected_at"].is_string(), "{d}");
    pair.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cloud_unknown_serial_and_wrong_password_fail_with_their_reason_shown() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Srv::start(cloud_server_config(&dir.path().join("server"))).await;
    let (_, alice) = srv.admin().account("alice").await;
    let ca = ca_file(dir.path(), &[&srv]);
    let dev = Dev::start(
        &dir.path().join("agent"),
        cloud_agent(dir.path(), "E2E-CL-AUTH", &ca),
    )
    .await;
    point(&dev, srv.handle.cloud_addr.port(), PASSWORD).await;
    let reason = async |want: &'static str| {
        until(20, want, async || {
            let t = display(&dev).await;
            if field(&t, "Device state").as_deref() == Some("Auth_failed")
                && field(&t, "Failure reason").as_deref() == Some(want)
            {
                Ok(())
            } else {
                Err(t)
            }
        })
        .await;
    };
    reason("Serial number not added on the cloud server").await;
    // Added, but with another password.
    add_device(&alice, "E2E-CL-AUTH", "another-pass-1").await;
    reason("Wrong cloud-management server password").await;
    let d = alice.get("/api/v1/cloud/devices/E2E-CL-AUTH").await;
    assert_eq!(d["state"], "offline", "{d}");
    // The right password on the device: connected without anything else.
    dev.configure(&["cloud-management server password simple another-pass-1"])
        .await;
    established(&dev, 20).await;
    cloud_device_until(&alice, "E2E-CL-AUTH", 10, "online", online).await;
    dev.stop().await;
    srv.stop().await;
}

/// A TCP forwarder that can make its current connections go silent (bytes swallowed both
/// ways, sockets kept open), as a lost NAT mapping would. Later connections work.
struct Proxy {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    epoch: Arc<AtomicU64>,
    upstream: Arc<std::sync::Mutex<Option<SocketAddr>>>,
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    epoch: Arc<AtomicU64>,
    mine: u64,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if epoch.load(Ordering::SeqCst) != mine {
            continue;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    if epoch.load(Ordering::SeqCst) == mine {
        let _ = to.shutdown().await;
    }
}

impl Proxy {
    /// Listens at once; forwards to the address later given to [`Proxy::forward_to`].
    async fn start() -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let epoch = Arc::new(AtomicU64::new(0));
        let upstream = Arc::new(std::sync::Mutex::new(None::<SocketAddr>));
        let (a, e, u) = (accepted.clone(), epoch.clone(), upstream.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                a.fetch_add(1, Ordering::SeqCst);
                let Some(to) = *u.lock().unwrap() else {
                    continue;
                };
                let Ok(server) = TcpStream::connect(to).await else {
                    continue;
                };
                let mine = e.load(Ordering::SeqCst);
                let (cr, cw) = client.into_split();
                let (sr, sw) = server.into_split();
                tokio::spawn(pump(cr, sw, e.clone(), mine));
                tokio::spawn(pump(sr, cw, e.clone(), mine));
            }
        });
        Proxy {
            addr,
            accepted,
            epoch,
            upstream,
        }
    }

    fn forward_to(&self, to: SocketAddr) {
        *self.upstream.lock().unwrap() = Some(to);
    }

    /// Every connection open now goes silent.
    fn silence_current(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cloud_silent_tunnel_makes_the_agent_register_again_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = cloud_server_config(&dir.path().join("server"));
    // The server pings every second and tells the device to give up after 3 s of silence.
    config.cloud.ping_interval = Secs::from_secs(1);
    config.cloud.device_read_timeout = Secs::from_secs(3);
    // Everything the device opens (auth, register, tunnel, subconnections) crosses the proxy.
    let proxy = Proxy::start().await;
    config.cloud.public_host = Some(format!("cloud.test:{}", proxy.addr.port()));
    let srv = Srv::start(config).await;
    proxy.forward_to(srv.handle.cloud_addr);
    let (_, alice) = srv.admin().account("alice").await;
    add_device(&alice, "E2E-CL-KA", PASSWORD).await;
    let ca = ca_file(dir.path(), &[&srv]);
    let dev = Dev::start(
        &dir.path().join("agent"),
        cloud_agent(dir.path(), "E2E-CL-KA", &ca),
    )
    .await;
    point(&dev, proxy.addr.port(), PASSWORD).await;
    established(&dev, 30).await;
    let first = cloud_device_until(&alice, "E2E-CL-KA", 10, "online", online).await;
    let through_proxy = proxy.accepted.load(Ordering::SeqCst);

    proxy.silence_current();
    // The agent notices the silence, registers again through the proxy and the server sees
    // a new tunnel; nobody touched either side.
    let again = until(30, "a new tunnel", async || {
        let (_, d) = alice
            .call("GET", "/api/v1/cloud/devices/E2E-CL-KA", None)
            .await;
        if online(&d) && d["connected_at"] != first["connected_at"] {
            Ok(d)
        } else {
            let agent = display(&dev).await;
            let n = proxy.accepted.load(Ordering::SeqCst);
            Err(format!(
                "server: {d}\nproxy connections: {n}\nagent:\n{agent}"
            ))
        }
    })
    .await;
    assert_ne!(again["remote_addr"], first["remote_addr"], "{again}");
    assert!(
        proxy.accepted.load(Ordering::SeqCst) > through_proxy,
        "re-registered through the proxy"
    );
    established(&dev, 10).await;
    dev.stop().await;
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cloud_handshake_requests_reach_the_server_on_one_kept_alive_connection() {
    let dir = tempfile::tempdir().unwrap();
    // The device's handshake requests cross the proxy; the tunnel and service URLs name the
    // server itself (`localhost:<port>`), so they do not.
    let proxy = Proxy::start().await;
    let srv = Srv::start(cloud_server_config(&dir.path().join("server"))).await;
    proxy.forward_to(srv.handle.cloud_addr);
    let (_, alice) = srv.admin().account("alice").await;
    add_device(&alice, "E2E-CL-KEEP", PASSWORD).await;
    let ca = ca_file(dir.path(), &[&srv]);
    let dev = Dev::start(
        &dir.path().join("agent"),
        cloud_agent(dir.path(), "E2E-CL-KEEP", &ca),
    )
    .await;
    // The domain last: a single attempt, with every setting in place.
    let port = format!("cloud-management server port {}", proxy.addr.port());
    let pw = format!("cloud-management server password simple {PASSWORD}");
    dev.configure(&[
        "ip host cloud.test 127.0.0.1",
        &port,
        &pw,
        "cloud-management server domain cloud.test",
    ])
    .await;
    established(&dev, 30).await;
    let text = display(&dev).await;
    assert_eq!(
        field(&text, "Device state").as_deref(),
        Some("Request_success")
    );
    // Auth request, auth proof and register: one TCP connection, which the server kept open.
    assert_eq!(proxy.accepted.load(Ordering::SeqCst), 1);
    cloud_device_until(&alice, "E2E-CL-KEEP", 10, "online", online).await;
    dev.stop().await;
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cloud_every_device_comes_back_after_a_server_restart_without_operator_action() {
    let dir = tempfile::tempdir().unwrap();
    let config = cloud_server_config(&dir.path().join("server"));
    let srv = Srv::start(config.clone()).await;
    let (_, alice) = srv.admin().account("alice").await;
    let serials = ["E2E-CL-R1", "E2E-CL-R2"];
    let ca = ca_file(dir.path(), &[&srv]);
    let mut devs = Vec::new();
    for serial in serials {
        add_device(&alice, serial, PASSWORD).await;
        let home = dir.path().join(serial);
        let dev = Dev::start(&home, cloud_agent(&home, serial, &ca)).await;
        point(&dev, srv.handle.cloud_addr.port(), PASSWORD).await;
        devs.push(dev);
    }
    for (dev, serial) in devs.iter().zip(serials) {
        established(dev, 30).await;
        cloud_device_until(&alice, serial, 10, "online", online).await;
    }
    let cloud_addr = srv.handle.cloud_addr;
    srv.stop().await;
    for dev in &devs {
        until(20, "the loss noticed", async || {
            let t = display(dev).await;
            if field(&t, "Cloud connection state").as_deref() != Some("Established") {
                Ok(())
            } else {
                Err(t)
            }
        })
        .await;
    }
    // Same data, same cloud address.
    let mut config = config;
    config.cloud.listen = cloud_addr;
    let srv = Srv::start(config).await;
    let alice = Api {
        addr: srv.handle.api_addr,
        auth: alice.auth.clone(),
    };
    for (dev, serial) in devs.iter().zip(serials) {
        established(dev, 30).await;
        cloud_device_until(&alice, serial, 15, "online after the restart", online).await;
    }
    for dev in devs {
        dev.stop().await;
    }
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cloud_reset_tunnel_from_the_cli_and_from_the_api_rebuilds_it() {
    let pair = Pair::start("E2E-CL-RST", |_| {}).await;
    let first = pair.alice.get("/api/v1/cloud/devices/E2E-CL-RST").await;
    let reply = pair.dev.cli("reset cloud-management tunnel").await;
    assert!(!reply.is_error(), "{}", reply.output);
    let second = cloud_device_until(
        &pair.alice,
        "E2E-CL-RST",
        20,
        "a tunnel after the CLI reset",
        |d| online(d) && d["connected_at"] != first["connected_at"],
    )
    .await;
    established(&pair.dev, 10).await;
    let r = pair
        .alice
        .send(
            "POST",
            "/api/v1/cloud/devices/E2E-CL-RST/reset-tunnel",
            json!({}),
            202,
        )
        .await;
    assert_eq!(r["status"], "reset_sent", "{r}");
    cloud_device_until(
        &pair.alice,
        "E2E-CL-RST",
        20,
        "a tunnel after the API reset",
        |d| online(d) && d["connected_at"] != second["connected_at"],
    )
    .await;
    established(&pair.dev, 10).await;
    pair.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cloud_backup_server_takes_over_when_the_main_server_stops() {
    let dir = tempfile::tempdir().unwrap();
    let main = Srv::start(cloud_server_config(&dir.path().join("main"))).await;
    let backup = Srv::start(cloud_server_config(&dir.path().join("backup"))).await;
    let (_, alice_main) = main.admin().account("alice").await;
    let (_, alice_backup) = backup.admin().account("alice").await;
    add_device(&alice_main, "E2E-CL-BK", PASSWORD).await;
    add_device(&alice_backup, "E2E-CL-BK", PASSWORD).await;
    let ca = ca_file(dir.path(), &[&main, &backup]);
    let dev = Dev::start(
        &dir.path().join("agent"),
        cloud_agent(dir.path(), "E2E-CL-BK", &ca),
    )
    .await;
    let backup_port = backup.handle.cloud_addr.port();
    let backup_line =
        format!("cloud-management backup-server domain backup.test port {backup_port}");
    dev.configure(&["ip host backup.test 127.0.0.1", &backup_line])
        .await;
    point(&dev, main.handle.cloud_addr.port(), PASSWORD).await;
    let text = established(&dev, 30).await;
    assert_eq!(
        field(&text, "Cloud server domain name").as_deref(),
        Some("cloud.test"),
        "the main server first: {text}"
    );
    cloud_device_until(&alice_main, "E2E-CL-BK", 10, "online on main", online).await;

    main.stop().await;
    let text = until(40, "the backup server in use", async || {
        let t = display(&dev).await;
        if field(&t, "Cloud connection state").as_deref() == Some("Established")
            && field(&t, "Cloud server domain name").as_deref() == Some("backup.test")
        {
            Ok(t)
        } else {
            Err(t)
        }
    })
    .await;
    assert_eq!(
        field(&text, "Cloud server port").as_deref(),
        Some(backup_port.to_string().as_str()),
        "{text}"
    );
    cloud_device_until(&alice_backup, "E2E-CL-BK", 10, "online on backup", online).await;
    dev.stop().await;
    backup.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cloud_unbinding_code_moves_the_device_from_one_account_to_another() {
    let pair = Pair::start("E2E-CL-UNB", |_| {}).await;
    let (bob_id, bob) = pair.admin.account("bob").await;
    // Bob cannot simply add a device bound to Alice.
    let (status, body) = bob
        .call(
            "POST",
            "/api/v1/cloud/devices",
            Some(json!({"serial": "E2E-CL-UNB", "password": PASSWORD})),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    // Alice cannot request a code for her own device.
    let (status, _) = pair
        .alice
        .call(
            "POST",
            "/api/v1/cloud/unbinding-codes",
            Some(json!({"serial": "E2E-CL-UNB"})),
        )
        .await;
    assert_eq!(status, 409);
    let issued = bob
        .send(
            "POST",
            "/api/v1/cloud/unbinding-codes",
            json!({"serial": "E2E-CL-UNB"}),
            201,
        )
        .await;
    let code = issued["code"].as_str().unwrap().to_owned();

    // A wrong code is refused on the device, and the binding does not move.
    let wrong = if code == "2345-6789" {
        "3456-7892"
    } else {
        "2345-6789"
    };
    let wrong = format!("cloud-management unbinding-code {wrong}");
    let replies = pair.dev.lines(&["system-view", &wrong]).await;
    assert!(replies[1].is_error(), "{}", replies[1].output);
    assert_eq!(
        pair.alice.get("/api/v1/cloud/devices/E2E-CL-UNB").await["state"],
        "online"
    );

    // The right one, typed on the device.
    let replies = pair
        .dev
        .configure(&[&format!("cloud-management unbinding-code {code}")])
        .await;
    assert!(
        replies[0].output.contains("accepted the unbinding code"),
        "{}",
        replies[0].output
    );
    let (status, _) = pair
        .alice
        .call("GET", "/api/v1/cloud/devices/E2E-CL-UNB", None)
        .await;
    assert_eq!(status, 404, "no longer Alice's");
    // Bob's now; the device reconnects by itself after the server closes the old tunnel.
    let d = cloud_device_until(&bob, "E2E-CL-UNB", 20, "online for bob", online).await;
    assert_eq!(d["owner"], bob_id, "{d}");
    established(&pair.dev, 20).await;
    pair.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cloud_terminal_session_typed_through_the_api_runs_cli_lines() {
    let pair = Pair::start("E2E-CL-TERM", |_| {}).await;
    cloud_device_until(&pair.alice, "E2E-CL-TERM", 20, "terminal service", |d| {
        has_services(d, &["terminal"])
    })
    .await;
    let url = format!(
        "ws://{}/api/v1/cloud/devices/E2E-CL-TERM/terminal?cols=80&rows=24",
        pair.srv.handle.api_addr
    );
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("authorization", pair.alice.auth.parse().unwrap());
    let tcp = TcpStream::connect(pair.srv.handle.api_addr).await.unwrap();
    let (mut ws, _) = tokio_tungstenite::client_async(request, tcp)
        .await
        .expect("terminal WebSocket upgrade");
    let mut output = String::new();
    let read_until = async |ws: &mut tokio_tungstenite::WebSocketStream<TcpStream>,
                            output: &mut String,
                            want: &str| {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
        while !output.contains(want) {
            let frame = tokio::time::timeout_at(deadline, ws.next())
                .await
                .unwrap_or_else(|_| panic!("no {want:?} in terminal output:\n{output}"))
                .expect("terminal open")
                .expect("terminal frame");
            match frame {
                Message::Binary(b) => output.push_str(&String::from_utf8_lossy(&b)),
                Message::Text(t) => output.push_str(&format!("[text {t}]")),
                Message::Close(c) => panic!("terminal closed: {c:?}\n{output}"),
                _ => {}
            }
        }
    };
    read_until(&mut ws, &mut output, r#""type":"opened""#).await;
    read_until(&mut ws, &mut output, "<Tether>").await;
    output.clear();
    ws.send(Message::binary(
        b"display cloud-management state\r".to_vec(),
    ))
    .await
    .unwrap();
    read_until(&mut ws, &mut output, "Failure reason").await;
    assert!(
        output.contains("Cloud connection state   : Established"),
        "{output}"
    );
    // A configuration line typed in system view, as JSON input this time.
    ws.send(Message::text(
        json!({"type": "input", "data": "system-view\rcloud-management keepalive 123\r"})
            .to_string(),
    ))
    .await
    .unwrap();
    read_until(&mut ws, &mut output, "[Tether]").await;
    until(
        10,
        "keepalive 123 in the running configuration",
        async || {
            let k = pair.dev.ctx.running().config().cloud.keepalive;
            if k == 123 { Ok(()) } else { Err(k.to_string()) }
        },
    )
    .await;
    let _ = ws.close(None).await;
    pair.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cloud_config_push_through_the_api_changes_the_agent_configuration() {
    let pair = Pair::start("E2E-CL-CFG", |_| {}).await;
    cloud_device_until(&pair.alice, "E2E-CL-CFG", 20, "config service", |d| {
        has_services(d, &["config"])
    })
    .await;
    let running = pair
        .alice
        .get("/api/v1/cloud/devices/E2E-CL-CFG/config")
        .await;
    let text = running["text"].as_str().unwrap();
    assert!(
        text.contains("cloud-management server domain cloud.test"),
        "{text}"
    );
    let applied = pair
        .alice
        .send(
            "POST",
            "/api/v1/cloud/devices/E2E-CL-CFG/config",
            json!({"commands": ["cloud-management keepalive 200", "sysname-is-not-a-command"], "stop_on_error": false}),
            200,
        )
        .await;
    assert_eq!(applied["status"], "applied", "{applied}");
    assert_eq!(applied["results"][0]["ok"], true, "{applied}");
    assert_eq!(applied["results"][1]["ok"], false, "{applied}");
    assert_eq!(pair.dev.ctx.running().config().cloud.keepalive, 200);
    let shown = pair.dev.cli("display current-configuration").await.output;
    assert!(shown.contains("cloud-management keepalive 200"), "{shown}");
    let changes = pair
        .alice
        .get("/api/v1/cloud/devices/E2E-CL-CFG/config/changes")
        .await;
    assert_eq!(changes["total"], 1, "{changes}");
    assert_eq!(changes["items"][0]["status"], "applied", "{changes}");
    pair.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cloud_telemetry_samples_arrive_at_the_server_with_host_counters() {
    let pair = Pair::start("E2E-CL-TEL", |_| {}).await;
    let telemetry = until(30, "a telemetry sample", async || {
        let t = pair
            .alice
            .get("/api/v1/cloud/devices/E2E-CL-TEL/telemetry")
            .await;
        if t["latest"].is_object() {
            Ok(t)
        } else {
            Err(t.to_string())
        }
    })
    .await;
    assert_eq!(telemetry["interval"], 10, "{telemetry}");
    let sample = &telemetry["latest"]["sample"];
    assert_eq!(sample["uptime"], 12345, "{telemetry}");
    let eth0 = sample["interfaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "eth0")
        .unwrap_or_else(|| panic!("no eth0: {telemetry}"));
    assert_eq!(eth0["tx_bytes"], 8_589_934_592_u64, "{telemetry}");
    let d = pair.alice.get("/api/v1/cloud/devices/E2E-CL-TEL").await;
    assert!(d["telemetry_at"].is_string(), "{d}");
    pair.stop().await;
}
