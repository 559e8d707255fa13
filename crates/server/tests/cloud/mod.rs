//! The cloud-connection endpoint over real TLS sockets, with a minimal device written from the
//! protocol specification (`device.rs`), on SQLite (and PostgreSQL for the binding moves).

mod device;
mod measure;

use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

use self::device::{Device, closed, recv, send};
use super::{Client, Running, account_with_token, code, config_for};

const PASSWORD: &str = "s3cret-cloud";

async fn start(dir: &Path) -> Running {
    let mut c = config_for(dir, None);
    c.cloud.url_lifetime = tether_server::config::Secs::from_secs(2);
    Running::start(c, None).await
}

fn device(run: &Running, dir: &Path, serial: &str, password: &str) -> Device {
    Device::new(serial, password, run.handle.cloud_addr, dir)
}

/// Adds `serial` to the inventory of the account behind `auth`.
async fn add(api: Client, auth: &str, serial: &str) {
    let r = api
        .send(
            "POST",
            "/api/v1/cloud/devices",
            auth,
            json!({"serial": serial, "password": PASSWORD, "name": "lab switch"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
}

async fn eventually(mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..100 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("condition not reached within 5 s");
}

async fn state_of(api: Client, auth: &str, serial: &str) -> String {
    let r = api
        .get(&format!("/api/v1/cloud/devices/{serial}"), auth)
        .await;
    r.body["state"].as_str().unwrap_or("?").to_owned()
}

#[tokio::test]
async fn establishment_keepalive_ack_and_presence() {
    let dir = tempfile::tempdir().unwrap();
    let run = start(dir.path()).await;
    let api = run.api();
    let (_, alice) = account_with_token(api, &run.admin, "alice").await;
    add(api, &alice, "SN-EST-1").await;
    let r = api.get("/api/v1/cloud/devices/SN-EST-1", &alice).await;
    assert_eq!(r.body["state"], "offline");
    assert!(r.body.get("device_key").is_none());

    let dev = device(&run, dir.path(), "SN-EST-1", PASSWORD);
    let (mut ws, welcome) = dev.connect().await;
    assert_eq!(welcome["version"], 1);
    assert_eq!(welcome["keepalive"], 180);
    assert_eq!(welcome["ping_interval"], 30);
    assert_eq!(welcome["read_timeout"], 75);
    send(&mut ws, json!({"type": "keepalive", "seq": 41})).await;
    assert_eq!(
        recv(&mut ws).await,
        json!({"type": "keepalive_ack", "seq": 41})
    );

    let r = api.get("/api/v1/cloud/devices/SN-EST-1", &alice).await;
    assert_eq!(r.body["state"], "online", "{}", r.body);
    assert_eq!(r.body["node_id"], "local");
    assert!(
        r.body["remote_addr"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1:")
    );
    assert!(r.body["connected_at"].is_string());
    // Subconnection grant lists only what is offered.
    send(
        &mut ws,
        json!({"type": "subconn_request", "id": 1, "services": ["config", "holograms"]}),
    )
    .await;
    let g = recv(&mut ws).await;
    assert_eq!(g["services"][0]["name"], "config");
    assert!(
        g["services"][0]["url"]
            .as_str()
            .unwrap()
            .starts_with("wss://localhost:")
    );
    assert_eq!(g["unavailable"], json!(["holograms"]));

    ws.close(None).await.unwrap();
    eventually(async || state_of(api, &alice, "SN-EST-1").await == "offline").await;
    run.stop().await;
}

#[tokio::test]
async fn auth_failures_name_their_reason_and_urls_are_single_use() {
    let dir = tempfile::tempdir().unwrap();
    let run = start(dir.path()).await;
    let api = run.api();
    let (_, alice) = account_with_token(api, &run.admin, "alice").await;
    add(api, &alice, "SN-AUTH-1").await;

    let unknown = device(&run, dir.path(), "SN-NOT-ADDED", PASSWORD);
    let (status, body) = unknown.authenticate().await.unwrap_err();
    assert_eq!(status, 403);
    assert_eq!(body["type"], "auth_failure");
    assert_eq!(body["reason"], "unknown_serial");

    let wrong = device(&run, dir.path(), "SN-AUTH-1", "not-the-password");
    let (status, body) = wrong.authenticate().await.unwrap_err();
    assert_eq!(status, 401);
    assert_eq!(body["reason"], "bad_proof");

    // Malformed and oversized bodies.
    let (status, body) = wrong.post("/cloudlink/v1/auth", None, b"{".to_vec()).await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (400, Some("bad_request"))
    );
    let (status, _) = wrong
        .post("/cloudlink/v1/auth", None, vec![b' '; 9000])
        .await;
    assert_eq!(status, 413);
    let (status, body) = wrong
        .post("/cloudlink/v1/register", Some("forged"), json!({"type": "register_request", "version": 1, "serial": "SN-AUTH-1", "keepalive": 180}).to_string().into_bytes())
        .await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (401, Some("session_invalid"))
    );

    // The tunnel URL: wrong proof refused, then single use.
    let good = device(&run, dir.path(), "SN-AUTH-1", PASSWORD);
    let session = good.authenticate().await.unwrap();
    let url = good.register(&session).await;
    assert_eq!(
        good.open_as(&url, "SN-AUTH-1", &[9; 32]).await.err(),
        Some(401)
    );
    let (mut ws, _) = {
        let session = good.authenticate().await.unwrap();
        let url2 = good.register(&session).await;
        let mut ws = good.open(&url2).await.unwrap();
        let w = recv(&mut ws).await;
        assert_eq!(good.open(&url2).await.err(), Some(401), "tunnel URL reused");
        (ws, w)
    };
    ws.close(None).await.unwrap();
    run.stop().await;
}

#[tokio::test]
async fn restart_shows_devices_offline_until_they_reconnect() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(dir.path(), None);
    let run = Running::start(config.clone(), None).await;
    let api = run.api();
    let (_, alice) = account_with_token(api, &run.admin, "alice").await;
    add(api, &alice, "SN-RST-1").await;
    let dev = device(&run, dir.path(), "SN-RST-1", PASSWORD);
    let (mut ws, _) = dev.connect().await;
    assert_eq!(state_of(api, &alice, "SN-RST-1").await, "online");
    let admin = run.admin.clone();
    // A graceful stop tells the device (4009) and records it offline.
    let stopping = tokio::spawn(run.stop());
    assert_eq!(closed(&mut ws).await, 4009);
    stopping.await.unwrap();

    // A crash leaves the device shown online on this node; the next start must correct it.
    let store = tether_store::open(dir.path().to_str().unwrap())
        .await
        .unwrap();
    store
        .cloud_tunnel_up(
            "SN-RST-1",
            &tether_store::TunnelUp {
                node_id: "local".into(),
                tunnel_id: "from-a-dead-process".into(),
                remote_addr: "192.0.2.9:1".into(),
            },
            tether_server::clock::now(),
        )
        .await
        .unwrap();
    store.close().await.unwrap();

    let run = Running::start(config, None).await;
    let api = run.api();
    let _ = admin;
    let r = api.get("/api/v1/cloud/devices/SN-RST-1", &alice).await;
    assert_eq!(r.body["state"], "offline", "{}", r.body);
    let dev = device(&run, dir.path(), "SN-RST-1", PASSWORD);
    let (mut ws, _) = dev.connect().await;
    assert_eq!(state_of(api, &alice, "SN-RST-1").await, "online");
    ws.close(None).await.unwrap();
    run.stop().await;
}

#[tokio::test]
async fn reset_tunnel_via_api() {
    let dir = tempfile::tempdir().unwrap();
    let run = start(dir.path()).await;
    let api = run.api();
    let (_, alice) = account_with_token(api, &run.admin, "alice").await;
    add(api, &alice, "SN-RT-1").await;
    let r = api
        .raw(
            "POST",
            "/api/v1/cloud/devices/SN-RT-1/reset-tunnel",
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(r.status, 409);
    assert_eq!(code(&r), "device_not_connected");

    let dev = device(&run, dir.path(), "SN-RT-1", PASSWORD);
    let (mut ws, _) = dev.connect().await;
    let r = api
        .raw(
            "POST",
            "/api/v1/cloud/devices/SN-RT-1/reset-tunnel",
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let cmd = recv(&mut ws).await;
    assert_eq!(cmd["type"], "command");
    assert_eq!(cmd["command"], "reset_tunnel");
    send(
        &mut ws,
        json!({"type": "command_ack", "id": cmd["id"], "ok": true}),
    )
    .await;
    ws.close(Some(tokio_tungstenite::tungstenite::protocol::CloseFrame {
        code: 4010.into(),
        reason: "reset requested".into(),
    }))
    .await
    .unwrap();
    eventually(async || state_of(api, &alice, "SN-RT-1").await == "offline").await;
    // The device rebuilds at once.
    let (_ws, _) = dev.connect().await;
    assert_eq!(state_of(api, &alice, "SN-RT-1").await, "online");
    run.stop().await;
}

async fn unbinding_flow(run: &Running, dir: &Path) {
    let api = run.api();
    let (alice_id, alice) = account_with_token(api, &run.admin, "alice").await;
    let (bob_id, bob) = account_with_token(api, &run.admin, "bob").await;
    add(api, &alice, "SN-UB-1").await;
    // Bob cannot add or see it, but can ask for a code.
    let r = api
        .send(
            "POST",
            "/api/v1/cloud/devices",
            &bob,
            json!({"serial": "SN-UB-1", "password": "x"}),
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(
        api.get("/api/v1/cloud/devices/SN-UB-1", &bob).await.status,
        404
    );
    let r = api
        .send(
            "POST",
            "/api/v1/cloud/unbinding-codes",
            &alice,
            json!({"serial": "SN-UB-1"}),
        )
        .await;
    assert_eq!(r.status, 409, "the owner needs no code");
    let r = api
        .send(
            "POST",
            "/api/v1/cloud/unbinding-codes",
            &bob,
            json!({"serial": "SN-UB-1"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let shown = r.body["code"].as_str().unwrap().to_owned();
    assert_eq!(shown.len(), 9);
    assert_eq!(&shown[4..5], "-");

    let dev = device(run, dir, "SN-UB-1", PASSWORD);
    let (mut ws, _) = dev.connect().await;
    send(
        &mut ws,
        json!({"type": "unbind_code", "id": 1, "code": "22222222"}),
    )
    .await;
    let r = recv(&mut ws).await;
    assert_eq!(
        r,
        json!({"type": "unbind_result", "id": 1, "ok": false, "reason": "invalid_code"})
    );
    // As typed on the device: lower case, a space.
    let typed = shown.to_lowercase().replace('-', " ");
    send(
        &mut ws,
        json!({"type": "unbind_code", "id": 2, "code": typed}),
    )
    .await;
    let r = recv(&mut ws).await;
    assert_eq!(r, json!({"type": "unbind_result", "id": 2, "ok": true}));
    assert_eq!(closed(&mut ws).await, 4006);

    assert_eq!(
        api.get("/api/v1/cloud/devices/SN-UB-1", &alice)
            .await
            .status,
        404
    );
    let r = api.get("/api/v1/cloud/devices/SN-UB-1", &bob).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["owner"], bob_id);
    let changes = run
        .handle
        .app()
        .store
        .binding_changes("SN-UB-1")
        .await
        .unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].from, Some(tether_store::AccountId(alice_id)));
    assert_eq!(changes[0].to, tether_store::AccountId(bob_id));
    // The device re-authenticates under its new owner.
    let (_ws, _) = dev.connect().await;
    assert_eq!(state_of(api, &bob, "SN-UB-1").await, "online");
    // The spent code cannot move it back... to Bob again or anyone.
    let (mut ws, _) = (dev.connect().await.0, ());
    send(
        &mut ws,
        json!({"type": "unbind_code", "id": 3, "code": shown}),
    )
    .await;
    assert_eq!(recv(&mut ws).await["ok"], false);
}

#[tokio::test]
async fn unbinding_moves_the_binding_across_accounts() {
    let dir = tempfile::tempdir().unwrap();
    let run = start(dir.path()).await;
    unbinding_flow(&run, dir.path()).await;
    run.stop().await;
}

#[tokio::test]
async fn unbinding_moves_the_binding_across_accounts_on_postgres() {
    let db = super::pg::TestDatabase::create().await;
    let dir = tempfile::tempdir().unwrap();
    let run = Running::start(config_for(dir.path(), Some(db.url.clone())), None).await;
    unbinding_flow(&run, dir.path()).await;
    run.stop().await;
    db.drop().await;
}

/// The operator's WebSocket to the API terminal route.
async fn operator(
    run: &Running,
    path: &str,
    auth: Option<&str>,
) -> Result<tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>, u16> {
    let mut req = format!("ws://{}{path}", run.handle.api_addr)
        .into_client_request()
        .unwrap();
    if let Some(a) = auth {
        req.headers_mut()
            .insert("authorization", a.parse().unwrap());
    }
    let tcp = tokio::net::TcpStream::connect(run.handle.api_addr)
        .await
        .unwrap();
    match tokio_tungstenite::client_async(req, tcp).await {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => Err(r.status().as_u16()),
        Err(e) => panic!("{e}"),
    }
}

#[tokio::test]
async fn terminal_is_bridged_to_the_device() {
    let dir = tempfile::tempdir().unwrap();
    let run = start(dir.path()).await;
    let api = run.api();
    let (_, alice) = account_with_token(api, &run.admin, "alice").await;
    add(api, &alice, "SN-TERM-1").await;
    let path = "/api/v1/cloud/devices/SN-TERM-1/terminal";
    assert_eq!(
        operator(&run, path, Some(&alice)).await.err(),
        Some(409),
        "device not connected"
    );

    let dev = device(&run, dir.path(), "SN-TERM-1", PASSWORD);
    let (mut tunnel, _) = dev.connect().await;
    let mut term = dev.service(&mut tunnel, "terminal", 1).await;
    eventually(async || {
        api.get("/api/v1/cloud/devices/SN-TERM-1", &alice)
            .await
            .body["services"]
            == json!(["terminal"])
    })
    .await;

    // A browser: ticket first, then the WebSocket without headers.
    let r = api
        .raw(
            "POST",
            "/api/v1/cloud/devices/SN-TERM-1/terminal-tickets",
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let ticket = r.body["ticket"].as_str().unwrap().to_owned();
    let mut op = operator(
        &run,
        &format!("{path}?ticket={ticket}&cols=100&rows=30"),
        None,
    )
    .await
    .expect("operator WebSocket");
    let open = recv(&mut term).await;
    assert_eq!(open["type"], "open");
    assert_eq!(
        (open["cols"].as_u64(), open["rows"].as_u64()),
        (Some(100), Some(30))
    );
    let session = open["session"].clone();
    send(&mut term, json!({"type": "opened", "session": session})).await;

    op.send(Message::binary(b"display version\r".to_vec()))
        .await
        .unwrap();
    let input = recv(&mut term).await;
    assert_eq!(input["type"], "input");
    let keys = base64::engine::general_purpose::STANDARD
        .decode(input["data"].as_str().unwrap())
        .unwrap();
    assert_eq!(keys, b"display version\r");
    // The test device echoes, as a CLI would.
    send(
        &mut term,
        json!({"type": "output", "session": session, "data": input["data"]}),
    )
    .await;
    let mut got = Vec::new();
    while got.len() < keys.len() {
        match tokio::time::timeout(Duration::from_secs(5), op.next())
            .await
            .unwrap()
        {
            Some(Ok(Message::Binary(b))) => got.extend_from_slice(&b),
            Some(Ok(Message::Text(t))) => assert_eq!(t.as_str(), r#"{"type":"opened"}"#),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(got, keys);
    // The device ends the session: the operator sees a normal close with the reason.
    send(
        &mut term,
        json!({"type": "close", "session": session, "reason": "user logged out"}),
    )
    .await;
    loop {
        match tokio::time::timeout(Duration::from_secs(5), op.next())
            .await
            .unwrap()
        {
            Some(Ok(Message::Close(Some(c)))) => {
                assert_eq!(u16::from(c.code), 1000);
                assert_eq!(c.reason.as_str(), "user logged out");
                break;
            }
            Some(Ok(_)) => continue,
            other => panic!("{other:?}"),
        }
    }
    // The ticket was single use; a header works too.
    assert_eq!(
        operator(&run, &format!("{path}?ticket={ticket}"), None)
            .await
            .err(),
        Some(401)
    );
    let _op2 = operator(&run, path, Some(&alice))
        .await
        .expect("bearer header");
    assert_eq!(recv(&mut term).await["type"], "open");
    tunnel.close(None).await.unwrap();
    run.stop().await;
}

#[tokio::test]
async fn config_get_and_push_are_served_and_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let run = start(dir.path()).await;
    let api = run.api();
    let (alice_id, alice) = account_with_token(api, &run.admin, "alice").await;
    add(api, &alice, "SN-CFG-1").await;
    let dev = device(&run, dir.path(), "SN-CFG-1", PASSWORD);
    let (mut tunnel, _) = dev.connect().await;
    let r = api
        .get("/api/v1/cloud/devices/SN-CFG-1/config", &alice)
        .await;
    assert_eq!((r.status, code(&r)), (409, "service_unavailable"));
    let mut cfg = dev.service(&mut tunnel, "config", 1).await;
    eventually(async || {
        api.get("/api/v1/cloud/devices/SN-CFG-1", &alice).await.body["services"]
            == json!(["config"])
    })
    .await;

    let get = tokio::spawn({
        let alice = alice.clone();
        async move {
            api.get("/api/v1/cloud/devices/SN-CFG-1/config", &alice)
                .await
        }
    });
    let ask = recv(&mut cfg).await;
    assert_eq!(ask["type"], "get_running");
    send(
        &mut cfg,
        json!({"type": "running", "id": ask["id"], "text": "sysname lab\n#\nreturn\n"}),
    )
    .await;
    let r = get.await.unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["text"], "sysname lab\n#\nreturn\n");

    let body =
        json!({"commands": ["sysname core", "undo info-center enable"], "stop_on_error": true});
    let push = tokio::spawn({
        let alice = alice.clone();
        async move {
            api.send(
                "POST",
                "/api/v1/cloud/devices/SN-CFG-1/config",
                &alice,
                body,
            )
            .await
        }
    });
    let apply = recv(&mut cfg).await;
    assert_eq!(apply["type"], "apply");
    assert_eq!(
        apply["commands"],
        json!(["sysname core", "undo info-center enable"])
    );
    assert_eq!(apply["stop_on_error"], true);
    send(
        &mut cfg,
        json!({"type": "apply_result", "id": apply["id"], "results": [
            {"command": "sysname core", "ok": true, "output": ""},
            {"command": "undo info-center enable", "ok": false, "output": "% Unrecognized command"}
        ]}),
    )
    .await;
    let r = push.await.unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "applied");
    assert_eq!(r.body["results"][1]["ok"], false);
    let r = api
        .get("/api/v1/cloud/devices/SN-CFG-1/config/changes", &alice)
        .await;
    assert_eq!(r.body["total"], 1, "{}", r.body);
    assert_eq!(r.body["items"][0]["account"], alice_id);
    assert_eq!(r.body["items"][0]["commands"][0], "sysname core");
    assert_eq!(
        r.body["items"][0]["results"][1]["output"],
        "% Unrecognized command"
    );
    tunnel.close(None).await.unwrap();
    run.stop().await;
}

#[tokio::test]
async fn telemetry_arrives_and_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let run = start(dir.path()).await;
    let api = run.api();
    let (_, alice) = account_with_token(api, &run.admin, "alice").await;
    add(api, &alice, "SN-TEL-1").await;
    let dev = device(&run, dir.path(), "SN-TEL-1", PASSWORD);
    let (mut tunnel, _) = dev.connect().await;
    let mut tel = dev.service(&mut tunnel, "telemetry", 1).await;
    assert_eq!(
        recv(&mut tel).await,
        json!({"type": "subscribe", "interval": 60})
    );
    let sample = |seq: u64| {
        json!({"type": "sample", "seq": seq, "uptime": 100 + seq, "cpu_permille": 125,
        "memory_used": 412, "memory_total": 1024, "interfaces": [{"name": "GigabitEthernet1/0/1",
        "up": true, "rx_bytes": 10 * seq, "tx_bytes": 5, "rx_packets": 1, "tx_packets": 1,
        "rx_errors": 0, "tx_errors": 0}]})
    };
    send(&mut tel, sample(1)).await;
    eventually(async || {
        api.get("/api/v1/cloud/devices/SN-TEL-1/telemetry", &alice)
            .await
            .body["samples"]
            .as_array()
            .is_some_and(|s| s.len() == 1)
    })
    .await;
    let first = api
        .get("/api/v1/cloud/devices/SN-TEL-1/telemetry", &alice)
        .await;
    let t1 = first.body["samples"][0]["received_at"]
        .as_str()
        .unwrap()
        .to_owned();
    tokio::time::sleep(Duration::from_millis(5)).await;
    send(&mut tel, sample(2)).await;
    eventually(async || {
        api.get("/api/v1/cloud/devices/SN-TEL-1/telemetry", &alice)
            .await
            .body["latest"]["sample"]["seq"]
            == 2
    })
    .await;
    let r = api
        .get(
            &format!("/api/v1/cloud/devices/SN-TEL-1/telemetry?since={t1}"),
            &alice,
        )
        .await;
    assert_eq!(r.body["interval"], 60);
    assert_eq!(r.body["samples"].as_array().unwrap().len(), 1);
    assert_eq!(
        r.body["samples"][0]["sample"]["interfaces"][0]["rx_bytes"],
        20
    );
    assert!(r.body["samples"][0]["sample"].get("type").is_none());
    // A sample out of range is malformed: 4001.
    let mut bad = sample(3);
    bad["cpu_permille"] = json!(1001);
    send(&mut tel, bad).await;
    assert_eq!(closed(&mut tel).await, 4001);
    tunnel.close(None).await.unwrap();
    run.stop().await;
}

#[tokio::test]
async fn isolation_between_accounts_on_every_route_and_url() {
    let dir = tempfile::tempdir().unwrap();
    let run = start(dir.path()).await;
    let api = run.api();
    let (_, alice) = account_with_token(api, &run.admin, "alice").await;
    let (_, bob) = account_with_token(api, &run.admin, "bob").await;
    add(api, &alice, "SN-ISO-A").await;
    add(api, &bob, "SN-ISO-B").await;
    let a = device(&run, dir.path(), "SN-ISO-A", PASSWORD);
    let b = device(&run, dir.path(), "SN-ISO-B", PASSWORD);
    let (mut ta, _) = a.connect().await;
    let (mut tb, _) = b.connect().await;
    let _cfg = a.service(&mut ta, "config", 1).await;

    let d = "/api/v1/cloud/devices/SN-ISO-A";
    for (method, path, body) in [
        ("GET", d.to_owned(), None),
        ("DELETE", d.to_owned(), None),
        ("POST", format!("{d}/reset-tunnel"), None),
        ("GET", format!("{d}/config"), None),
        (
            "POST",
            format!("{d}/config"),
            Some(json!({"commands": ["sysname x"]})),
        ),
        ("GET", format!("{d}/config/changes"), None),
        ("GET", format!("{d}/telemetry"), None),
        ("POST", format!("{d}/terminal-tickets"), None),
        ("GET", format!("{d}/terminal"), None),
    ] {
        let r = api
            .raw(
                method,
                &path,
                Some(&bob),
                body.map(|b| b.to_string().into_bytes()),
            )
            .await;
        assert_eq!(r.status, 404, "{method} {path}: {}", r.body);
        assert_eq!(code(&r), "not_found");
    }
    assert_eq!(
        operator(&run, &format!("{d}/terminal"), Some(&bob))
            .await
            .err(),
        Some(404)
    );
    let r = api.get("/api/v1/cloud/devices", &bob).await;
    assert_eq!(r.body["total"], 1);
    assert_eq!(r.body["items"][0]["serial"], "SN-ISO-B");
    // Alice's ticket does not open Bob's device.
    let r = api
        .raw("POST", &format!("{d}/terminal-tickets"), Some(&alice), None)
        .await;
    let ticket = r.body["ticket"].as_str().unwrap().to_owned();
    assert_eq!(
        operator(
            &run,
            &format!("/api/v1/cloud/devices/SN-ISO-B/terminal?ticket={ticket}"),
            None
        )
        .await
        .err(),
        Some(401)
    );

    // A's service URL: useless as B (403, wrong device), without A's key (401), reused (401),
    // and after expiry (401). Subconnection requests are at most one per 5 s.
    tokio::time::sleep(Duration::from_millis(5100)).await;
    let url = a.service_url(&mut ta, "telemetry", 2).await;
    assert_eq!(b.open_as(&url, "SN-ISO-B", &b.key()).await.err(), Some(403));
    assert_eq!(b.open_as(&url, "SN-ISO-A", &b.key()).await.err(), Some(401));
    let _tel = a.open(&url).await.expect("the owner opens it");
    assert_eq!(a.open(&url).await.err(), Some(401), "single use");
    tokio::time::sleep(Duration::from_millis(5100)).await;
    let stale = a.service_url(&mut ta, "terminal", 3).await;
    tokio::time::sleep(Duration::from_millis(3100)).await;
    assert_eq!(a.open(&stale).await.err(), Some(401), "expired");
    // A service URL names its service: the config token cannot open terminal.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let cfg_url = a.service_url(&mut ta, "config", 4).await;
    let swapped = cfg_url.replace("/svc/config?", "/svc/terminal?");
    assert_eq!(a.open(&swapped).await.err(), Some(401));
    send(&mut tb, json!({"type": "keepalive", "seq": 1})).await;
    assert_eq!(recv(&mut tb).await["type"], "keepalive_ack");
    run.stop().await;
}

#[tokio::test]
async fn bad_input_closes_with_the_spec_codes_while_others_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let run = start(dir.path()).await;
    let api = run.api();
    let (_, alice) = account_with_token(api, &run.admin, "alice").await;
    add(api, &alice, "SN-BAD-1").await;
    add(api, &alice, "SN-GOOD-1").await;
    let bad = device(&run, dir.path(), "SN-BAD-1", PASSWORD);
    let good = device(&run, dir.path(), "SN-GOOD-1", PASSWORD);
    let (mut g, _) = good.connect().await;
    let mut seq = 0;
    let mut good_still_served = async || {
        seq += 1;
        send(&mut g, json!({"type": "keepalive", "seq": seq})).await;
        assert_eq!(
            recv(&mut g).await,
            json!({"type": "keepalive_ack", "seq": seq})
        );
    };

    // Unknown type: an error answer, the tunnel stays; past 8 errors, 4008.
    let (mut ws, _) = bad.connect().await;
    send(&mut ws, json!({"type": "hologram", "x": 1})).await;
    let e = recv(&mut ws).await;
    assert_eq!(
        (
            e["type"].as_str(),
            e["code"].as_str(),
            e["ref_type"].as_str()
        ),
        (Some("error"), Some("unknown_type"), Some("hologram"))
    );
    send(&mut ws, json!({"type": "keepalive", "seq": 1})).await;
    assert_eq!(recv(&mut ws).await["type"], "keepalive_ack");
    for _ in 0..8 {
        send(&mut ws, json!({"type": "hologram"})).await;
    }
    for _ in 0..7 {
        assert_eq!(recv(&mut ws).await["code"], "unknown_type");
    }
    assert_eq!(closed(&mut ws).await, 4008);
    good_still_served().await;

    let cases: Vec<(Message, u16)> = vec![
        (Message::text("{not json"), 4001),
        (Message::text(r#"{"type":"keepalive","seq":"x"}"#), 4001),
        (Message::text(r#"{"seq":1}"#), 4001),
        (
            Message::text(format!(
                r#"{{"type":"keepalive","seq":1,"pad":"{}"}}"#,
                "x".repeat(17 * 1024)
            )),
            4002,
        ),
        (Message::text(r#"{"type":"keepalive_ack","seq":1}"#), 4000),
        (Message::binary(b"\x00\x01".to_vec()), 4000),
    ];
    for (msg, want) in cases {
        let (mut ws, _) = bad.connect().await;
        ws.send(msg).await.unwrap();
        assert_eq!(closed(&mut ws).await, want);
        good_still_served().await;
    }
    // Subconnections: oversized terminal frame (64 KiB limit), server-only type.
    let (mut ws, _) = bad.connect().await;
    let mut term = bad.service(&mut ws, "terminal", 1).await;
    term.send(Message::text(format!(
        r#"{{"type":"output","session":1,"data":"{}"}}"#,
        "A".repeat(70 * 1024)
    )))
    .await
    .unwrap();
    assert_eq!(closed(&mut term).await, 4002);
    tokio::time::sleep(Duration::from_millis(5100)).await;
    let mut term = bad.service(&mut ws, "terminal", 2).await;
    send(
        &mut term,
        json!({"type": "input", "session": 1, "data": ""}),
    )
    .await;
    assert_eq!(closed(&mut term).await, 4000);
    // The tunnel itself is unaffected.
    send(&mut ws, json!({"type": "keepalive", "seq": 9})).await;
    assert_eq!(recv(&mut ws).await["seq"], 9);
    good_still_served().await;
    run.stop().await;
}

/// Starting a new device connection replaces the older tunnel (4005).
#[tokio::test]
async fn a_new_tunnel_replaces_the_old_one() {
    let dir = tempfile::tempdir().unwrap();
    let run = start(dir.path()).await;
    let api = run.api();
    let (_, alice) = account_with_token(api, &run.admin, "alice").await;
    add(api, &alice, "SN-REP-1").await;
    let dev = device(&run, dir.path(), "SN-REP-1", PASSWORD);
    let (mut old, _) = dev.connect().await;
    let (mut new, _) = dev.connect().await;
    assert_eq!(closed(&mut old).await, 4005);
    send(&mut new, json!({"type": "keepalive", "seq": 1})).await;
    assert_eq!(recv(&mut new).await["type"], "keepalive_ack");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        state_of(api, &alice, "SN-REP-1").await,
        "online",
        "the late close of the old tunnel keeps the new one online"
    );
    run.stop().await;
}
