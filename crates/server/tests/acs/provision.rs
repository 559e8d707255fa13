//! Connection-request credentials: provisioned by the ACS at a device's first session and after
//! `0 BOOTSTRAP` (before any queued task), configured by hand through the API, and used by the
//! connection request, which the test device checks with Digest. A connection request that
//! fails is answered at once, with the task left pending.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tether_server::config::Secs;
use tether_store::{Credentials, CredentialsOrigin, FaultFilter, Page, TaskState};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

use super::support::*;

const CR_PARAMS: [&str; 2] = [
    "Device.ManagementServer.ConnectionRequestUsername",
    "Device.ManagementServer.ConnectionRequestPassword",
];

/// What the test device holds and has seen.
#[derive(Default, Debug)]
struct DeviceState {
    /// ConnectionRequestUsername / Password as the device holds them.
    creds: Option<(String, String)>,
    /// Refuse a SetParameterValues of them (9003, the password 9008 "not writable").
    refuse: bool,
    /// Connection requests received: whether each was accepted.
    requests: Vec<bool>,
    /// The RPCs of each session a connection request opened.
    cr_sessions: Vec<Vec<String>>,
}

type Shared = Arc<Mutex<DeviceState>>;

/// The device's answer to an ACS request: a SetParameterValues of its connection-request
/// credentials changes what it holds; anything else gets the generic success.
fn answer(state: &Shared, m: &Msg) -> String {
    if m.name == "SetParameterValues" {
        let names = m.text("Name");
        let user = names
            .iter()
            .position(|n| n.ends_with(".ManagementServer.ConnectionRequestUsername"));
        let pass = names
            .iter()
            .position(|n| n.ends_with(".ManagementServer.ConnectionRequestPassword"));
        if let (Some(u), Some(p)) = (user, pass) {
            let mut st = state.lock().unwrap();
            if st.refuse {
                let id = m.id.clone().unwrap();
                return fault_xml(&m.ns, &id, 9003, "Invalid arguments", &[(&names[p], 9008)]);
            }
            let values = m.text("Value");
            st.creds = Some((values[u].clone(), values[p].clone()));
        }
    }
    success(m)
}

/// Checks a Digest `Authorization` (qop=auth, realm `cpe`, nonce `cr-nonce`) against the
/// credentials the device holds.
fn digest_ok(header: &str, uri: &str, creds: Option<&(String, String)>) -> bool {
    let Some((user, pass)) = creds else {
        return false;
    };
    let p = auth_params(header);
    if param(&p, "username") != Some(user.as_str())
        || param(&p, "uri") != Some(uri)
        || param(&p, "nonce") != Some("cr-nonce")
        || param(&p, "qop") != Some("auth")
    {
        return false;
    }
    let (Some(nc), Some(cnonce)) = (param(&p, "nc"), param(&p, "cnonce")) else {
        return false;
    };
    let ha1 = md5_hex(&format!("{user}:cpe:{pass}"));
    let ha2 = md5_hex(&format!("GET:{uri}"));
    let expected = md5_hex(&format!("{ha1}:cr-nonce:{nc}:{cnonce}:auth:{ha2}"));
    param(&p, "response") == Some(expected.as_str())
}

/// The device's connection-request listener: Digest against what the device holds; on
/// success 200 first (CR-04), then a session with `6 CONNECTION REQUEST`.
async fn cr_listener(acs: &TestAcs, serial: &str, state: Shared) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/cr/{serial}", listener.local_addr().unwrap());
    let acs_addr = acs.handle.cwmp_addr;
    let collected = acs.collected.clone();
    let serial = serial.to_owned();
    tokio::spawn(async move {
        loop {
            let (mut tcp, _) = listener.accept().await.unwrap();
            let mut buf = Vec::new();
            let head = loop {
                let mut chunk = [0u8; 4096];
                let n = tcp.read(&mut chunk).await.unwrap_or(0);
                if n == 0 {
                    break None;
                }
                buf.extend_from_slice(&chunk[..n]);
                if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    break Some(String::from_utf8_lossy(&buf[..p]).into_owned());
                }
            };
            let Some(head) = head else { continue };
            let mut lines = head.split("\r\n");
            let request_line = lines.next().unwrap().to_owned();
            let uri = request_line
                .split(' ')
                .nth(1)
                .unwrap_or_default()
                .to_owned();
            let auth = lines
                .filter_map(|l| l.split_once(':'))
                .find(|(n, _)| n.eq_ignore_ascii_case("authorization"))
                .map(|(_, v)| v.trim().to_owned());
            let ok = {
                let mut st = state.lock().unwrap();
                let ok = request_line.starts_with("GET ")
                    && auth
                        .as_deref()
                        .is_some_and(|a| digest_ok(a, &uri, st.creds.as_ref()));
                st.requests.push(ok);
                ok
            };
            if !ok {
                let resp = "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Digest realm=\"cpe\", nonce=\"cr-nonce\", qop=\"auth\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
                let _ = tcp.write_all(resp.as_bytes()).await;
                continue;
            }
            let _ = tcp
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .await;
            drop(tcp);
            let mut cpe = Cpe::new(acs_addr, &serial, collected.clone());
            let r = cpe.inform(&[("6 CONNECTION REQUEST", "")], &[]).await;
            assert_eq!(r.msg().name, "InformResponse");
            let seen = cpe.run_session(|m| answer(&state, m)).await;
            state
                .lock()
                .unwrap()
                .cr_sessions
                .push(seen.into_iter().map(|m| m.name).collect());
        }
    });
    url
}

/// One REST call; the body parsed as JSON (Null when empty).
async fn call(
    acs: &TestAcs,
    method: &str,
    path: &str,
    auth: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut headers = vec![("Authorization", auth)];
    if !body.is_empty() {
        headers.push(("Content-Type", "application/json"));
    }
    let r = http_once(acs.handle.api_addr, method, path, &headers, body.as_bytes()).await;
    (
        r.status,
        serde_json::from_str(&r.body).unwrap_or(Value::Null),
    )
}

/// The sessions connection requests opened, once `n` of them have ended (the device records a
/// session after its final 204, which may come after the API's answer).
async fn cr_sessions(state: &Shared, n: usize) -> Vec<Vec<String>> {
    for _ in 0..500 {
        {
            let st = state.lock().unwrap();
            if st.cr_sessions.len() >= n {
                return st.cr_sessions.clone();
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{n} connection-request sessions did not end");
}

fn admin() -> String {
    basic_header("admin", ADMIN_PASSWORD)
}

fn names(seen: &[Msg]) -> Vec<&str> {
    seen.iter().map(|m| m.name.as_str()).collect()
}

async fn device_faults(acs: &TestAcs, device: &str) -> Vec<tether_store::Fault> {
    acs.store()
        .list_faults(
            &FaultFilter {
                device_id: Some(device.to_owned()),
                owner: None,
            },
            Page::new(100, 0),
        )
        .await
        .unwrap()
        .items
}

#[tokio::test]
async fn acs_credentials_are_provisioned_at_first_contact_before_tasks_and_used_by_connection_requests()
 {
    let acs = TestAcs::start(|c| {
        c.cwmp.auth.require = false;
        c.cwmp.connection_request.per_device_min_interval = Secs::from_secs(0);
    })
    .await;
    let state = Shared::default();
    let url = cr_listener(&acs, "PROV1", state.clone()).await;
    let mut cpe = acs.cpe("PROV1");
    let device = cpe.device_id();
    cpe.inform(
        &[("1 BOOT", "")],
        &[("Device.ManagementServer.ConnectionRequestURL", &url)],
    )
    .await
    .msg();
    // Queued before the device's first session goes on: it still comes second.
    let queued = acs
        .queue(
            &device,
            json!({"kind": "GetParameterValues", "names": ["Device.DeviceInfo.UpTime"]}),
        )
        .await;
    let seen = cpe.run_session(|m| answer(&state, m)).await;
    assert_eq!(names(&seen), ["SetParameterValues", "GetParameterValues"]);
    assert_eq!(seen[0].text("Name"), CR_PARAMS);
    let key = seen[0].text("ParameterKey").remove(0);
    assert!(key.starts_with("tether-cr-"), "{key}");
    assert_eq!(acs.task(queued).await.state, TaskState::Done);

    let (user, pass) = state
        .lock()
        .unwrap()
        .creds
        .clone()
        .expect("the device got credentials");
    assert_eq!(user, device, "the username is the canonical device id");
    assert_eq!(pass.len(), 24, "{pass}");
    assert!(
        pass.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
        "URL-safe: {pass}"
    );
    // Stored once the device acknowledged them, marked provisioned.
    let stored = acs.store().device(&device).await.unwrap().unwrap();
    assert_eq!(
        stored.connection_request_credentials,
        Some(Credentials {
            username: user.clone(),
            password: pass.clone(),
        })
    );
    assert_eq!(
        stored.connection_request_credentials_origin,
        Some(CredentialsOrigin::Provisioned)
    );
    // Not parameters of the device (the device view lists those), and never shown.
    let params = acs.store().list_parameters(&device, None).await.unwrap();
    assert!(
        params
            .iter()
            .all(|p| !p.name.contains("ConnectionRequestPassword")),
        "{params:?}"
    );

    let (status, view) = call(
        &acs,
        "GET",
        &format!("/api/v1/devices/{device}"),
        &admin(),
        None,
    )
    .await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["connection_request_credentials"], "provisioned");
    assert_eq!(view["connection_request_username"], device.as_str());
    assert!(
        !view.to_string().contains(&pass),
        "the password leaks: {view}"
    );
    // An internal step, not a task.
    let (_, tasks) = call(
        &acs,
        "GET",
        &format!("/api/v1/devices/{device}/tasks"),
        &admin(),
        None,
    )
    .await;
    assert_eq!(tasks["total"], 1, "{tasks}");
    assert_eq!(tasks["items"][0]["kind"], "GetParameterValues");

    // The connection request answers the device's Digest challenge with them.
    let (status, body) = call(
        &acs,
        "POST",
        &format!("/api/v1/devices/{device}/tasks?connection_request=true&wait=10"),
        &admin(),
        Some(json!({"kind": "GetParameterValues", "names": ["Device.DeviceInfo.SoftwareVersion"]})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["connection_request"]["status"], "sent", "{body}");
    assert_eq!(body["state"], "done", "{body}");
    // Credentials stored: that session is only the task, no second provisioning.
    assert_eq!(
        cr_sessions(&state, 1).await,
        [vec!["GetParameterValues".to_owned()]]
    );
    assert_eq!(
        state.lock().unwrap().requests,
        [false, true],
        "challenge, then accepted"
    );
    acs.stop().await;
}

#[tokio::test]
async fn acs_a_refused_provisioning_is_a_device_fault_and_is_retried_once_per_session() {
    let acs = TestAcs::start(|c| c.cwmp.auth.require = false).await;
    let state = Shared::default();
    state.lock().unwrap().refuse = true;
    let mut cpe = acs.cpe("PROV2");
    let device = cpe.device_id();
    cpe.inform(&[("1 BOOT", "")], &[]).await.msg();
    let queued = acs
        .queue(
            &device,
            json!({"kind": "GetParameterValues", "names": ["Device.DeviceInfo.UpTime"]}),
        )
        .await;
    // One attempt, then the queue: no retry within the session.
    let seen = cpe.run_session(|m| answer(&state, m)).await;
    assert_eq!(names(&seen), ["SetParameterValues", "GetParameterValues"]);
    assert_eq!(acs.task(queued).await.state, TaskState::Done);
    let stored = acs.store().device(&device).await.unwrap().unwrap();
    assert_eq!(
        stored.connection_request_credentials, None,
        "nothing stored"
    );
    let faults = device_faults(&acs, &device).await;
    assert_eq!(faults.len(), 1, "{faults:?}");
    assert_eq!(faults[0].code, "9003");
    assert_eq!(faults[0].task_id, None, "not a task");
    assert_eq!(
        faults[0].detail["step"],
        "provision_connection_request_credentials"
    );
    let spv = &faults[0].detail["set_parameter_values_faults"][0];
    assert_eq!(spv["parameter"], CR_PARAMS[1]);
    assert_eq!(spv["code"], 9008);
    let (_, view) = call(
        &acs,
        "GET",
        &format!("/api/v1/devices/{device}"),
        &admin(),
        None,
    )
    .await;
    assert_eq!(view["connection_request_credentials"], "none", "{view}");
    let (_, listed) = call(
        &acs,
        "GET",
        &format!("/api/v1/devices/{device}/faults"),
        &admin(),
        None,
    )
    .await;
    assert_eq!(listed["total"], 1, "visible through the API: {listed}");

    // The next session tries again, once.
    let mut cpe = acs.cpe("PROV2");
    cpe.inform(&[("2 PERIODIC", "")], &[]).await.msg();
    let seen = cpe.run_session(|m| answer(&state, m)).await;
    assert_eq!(names(&seen), ["SetParameterValues"]);
    assert_eq!(device_faults(&acs, &device).await.len(), 2);

    // Once the device accepts, the credentials are stored and the attempts stop.
    state.lock().unwrap().refuse = false;
    let mut cpe = acs.cpe("PROV2");
    cpe.inform(&[("2 PERIODIC", "")], &[]).await.msg();
    let seen = cpe.run_session(|m| answer(&state, m)).await;
    assert_eq!(names(&seen), ["SetParameterValues"]);
    let (user, pass) = state.lock().unwrap().creds.clone().unwrap();
    let stored = acs.store().device(&device).await.unwrap().unwrap();
    assert_eq!(
        stored.connection_request_credentials,
        Some(Credentials {
            username: user,
            password: pass,
        })
    );
    let mut cpe = acs.cpe("PROV2");
    cpe.inform(&[("2 PERIODIC", "")], &[]).await.msg();
    assert!(cpe.run_session(|m| answer(&state, m)).await.is_empty());
    assert_eq!(device_faults(&acs, &device).await.len(), 2);
    acs.stop().await;
}

#[tokio::test]
async fn acs_bootstrap_provisions_fresh_credentials_under_the_informed_root() {
    let acs = TestAcs::start(|c| c.cwmp.auth.require = false).await;
    let state = Shared::default();
    let igd_url = [(
        "InternetGatewayDevice.ManagementServer.ConnectionRequestURL",
        "http://192.0.2.1:7547/cr",
    )];
    let mut cpe = acs.cpe("BOOTP1");
    let device = cpe.device_id();
    cpe.inform(&[("0 BOOTSTRAP", ""), ("1 BOOT", "")], &igd_url)
        .await
        .msg();
    let seen = cpe.run_session(|m| answer(&state, m)).await;
    assert_eq!(names(&seen), ["SetParameterValues"]);
    assert_eq!(
        seen[0].text("Name"),
        [
            "InternetGatewayDevice.ManagementServer.ConnectionRequestUsername",
            "InternetGatewayDevice.ManagementServer.ConnectionRequestPassword"
        ]
    );
    let first = state.lock().unwrap().creds.clone().unwrap();

    // An ordinary boot: the stored credentials stand.
    let mut cpe = acs.cpe("BOOTP1");
    cpe.inform(&[("1 BOOT", "")], &igd_url).await.msg();
    assert!(cpe.run_session(|m| answer(&state, m)).await.is_empty());

    // An operator configures some by hand...
    let (status, _) = call(
        &acs,
        "PUT",
        &format!("/api/v1/devices/{device}/connection-request-credentials"),
        &admin(),
        Some(json!({"username": "ops", "password": "ops-password"})),
    )
    .await;
    assert_eq!(status, 204);
    // ...then the device is reset: 0 BOOTSTRAP, fresh credentials in that session.
    let mut cpe = acs.cpe("BOOTP1");
    cpe.inform(&[("0 BOOTSTRAP", ""), ("1 BOOT", "")], &igd_url)
        .await
        .msg();
    let seen = cpe.run_session(|m| answer(&state, m)).await;
    assert_eq!(names(&seen), ["SetParameterValues"]);
    let second = state.lock().unwrap().creds.clone().unwrap();
    assert_eq!(second.0, device);
    assert_ne!(second.1, first.1, "a fresh password");
    let stored = acs.store().device(&device).await.unwrap().unwrap();
    assert_eq!(
        stored.connection_request_credentials,
        Some(Credentials {
            username: second.0,
            password: second.1,
        })
    );
    assert_eq!(
        stored.connection_request_credentials_origin,
        Some(CredentialsOrigin::Provisioned)
    );
    acs.stop().await;
}

#[tokio::test]
async fn acs_connection_request_credentials_route_with_isolation_and_prompt_failure() {
    let acs = TestAcs::start(|c| {
        c.cwmp.auth.require = false;
        c.cwmp.connection_request.per_device_min_interval = Secs::from_secs(0);
        // Credentials come only from the operator here.
        no_provisioning(c);
    })
    .await;
    for name in ["alice", "bob"] {
        let (status, body) = call(
            &acs,
            "POST",
            "/api/v1/accounts",
            &admin(),
            Some(json!({"name": name, "password": format!("{name}-password")})),
        )
        .await;
        assert_eq!(status, 201, "{body}");
    }
    let alice = basic_header("alice", "alice-password");
    let bob = basic_header("bob", "bob-password");
    let (status, body) = call(
        &acs,
        "POST",
        "/api/v1/devices",
        &alice,
        Some(json!({"oui": OUI, "product_class": CLASS, "serial_number": "MAN1"})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let device = body["id"].as_str().unwrap().to_owned();
    // The device holds credentials an operator configured on it.
    let state = Shared::default();
    state.lock().unwrap().creds = Some(("ops".into(), "ops-pass-1".into()));
    let url = cr_listener(&acs, "MAN1", state.clone()).await;
    let mut cpe = acs.cpe("MAN1");
    cpe.inform(
        &[("1 BOOT", "")],
        &[("Device.ManagementServer.ConnectionRequestURL", &url)],
    )
    .await
    .msg();
    assert!(
        cpe.run_session(|m| answer(&state, m)).await.is_empty(),
        "provisioning is off"
    );
    let view_path = format!("/api/v1/devices/{device}");
    let (_, view) = call(&acs, "GET", &view_path, &alice, None).await;
    assert_eq!(view["connection_request_credentials"], "none", "{view}");

    // No credentials: the connection request fails and the answer comes at once, without
    // the requested wait; the task stays pending for the next session.
    let tasks_path = format!("/api/v1/devices/{device}/tasks?connection_request=true&wait=60");
    let started = Instant::now();
    let (status, body) = call(
        &acs,
        "POST",
        &tasks_path,
        &alice,
        Some(json!({"kind": "Reboot"})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["connection_request"]["status"], "failed", "{body}");
    assert_eq!(
        body["connection_request"]["error"]["code"], "auth_failed",
        "{body}"
    );
    assert_eq!(body["wait"], "skipped", "{body}");
    assert_eq!(body["state"], "pending", "{body}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "not the 60 s wait"
    );
    let reboot = body["id"].as_i64().unwrap();

    // Another account: every route is 404, as for an absent device.
    let cr_path = format!("/api/v1/devices/{device}/connection-request-credentials");
    let creds = json!({"username": "ops", "password": "ops-pass-1"});
    assert_eq!(
        call(&acs, "PUT", &cr_path, &bob, Some(creds.clone()))
            .await
            .0,
        404
    );
    assert_eq!(call(&acs, "DELETE", &cr_path, &bob, None).await.0, 404);
    assert_eq!(call(&acs, "GET", &view_path, &bob, None).await.0, 404);
    assert_eq!(
        call(
            &acs,
            "PUT",
            "/api/v1/devices/00E0FC-HX5-NOPE/connection-request-credentials",
            &alice,
            Some(creds.clone()),
        )
        .await
        .0,
        404
    );
    let (status, body) = call(
        &acs,
        "PUT",
        &cr_path,
        &alice,
        Some(json!({"username": "ops", "password": ""})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        acs.store()
            .device(&device)
            .await
            .unwrap()
            .unwrap()
            .connection_request_credentials,
        None,
        "nothing stored by the refused calls"
    );

    // The owner sets them: shown as configured, without the password.
    let (status, _) = call(&acs, "PUT", &cr_path, &alice, Some(creds)).await;
    assert_eq!(status, 204);
    let (_, view) = call(&acs, "GET", &view_path, &alice, None).await;
    assert_eq!(
        view["connection_request_credentials"], "configured",
        "{view}"
    );
    assert_eq!(view["connection_request_username"], "ops");
    assert!(!view.to_string().contains("ops-pass-1"), "{view}");
    let stored = acs.store().device(&device).await.unwrap().unwrap();
    assert_eq!(
        stored.connection_request_credentials_origin,
        Some(CredentialsOrigin::Configured)
    );
    // The connection request now gets through; the pending Reboot runs in that session too.
    let (status, body) = call(
        &acs,
        "POST",
        &format!("/api/v1/devices/{device}/tasks?connection_request=true&wait=10"),
        &alice,
        Some(json!({"kind": "GetParameterValues", "names": ["Device.DeviceInfo.UpTime"]})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["connection_request"]["status"], "sent", "{body}");
    assert_eq!(body["state"], "done", "{body}");
    let (_, reboot) = call(
        &acs,
        "GET",
        &format!("/api/v1/tasks/{reboot}"),
        &alice,
        None,
    )
    .await;
    assert_eq!(reboot["state"], "done", "{reboot}");
    // Configured credentials are not sent to the device.
    assert_eq!(
        cr_sessions(&state, 1).await,
        [vec!["Reboot".to_owned(), "GetParameterValues".to_owned()]]
    );
    assert_eq!(
        state.lock().unwrap().creds,
        Some(("ops".into(), "ops-pass-1".into()))
    );

    // Cleared: back to none.
    assert_eq!(call(&acs, "DELETE", &cr_path, &alice, None).await.0, 204);
    let (_, view) = call(&acs, "GET", &view_path, &alice, None).await;
    assert_eq!(view["connection_request_credentials"], "none", "{view}");
    assert!(view["connection_request_username"].is_null(), "{view}");
    acs.stop().await;
}
