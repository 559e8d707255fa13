//! Connection requests through the REST API: the test CPE runs a tiny HTTP listener that
//! checks Digest, answers 200 and then opens a session (CR-03, CR-04, pitfall #10).

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tether_server::config::Secs;
use tether_store::Credentials;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

use super::support::*;

/// What the CPE's connection-request listener saw.
#[derive(Default, Debug)]
struct Seen {
    requests: Vec<(String, Option<String>)>,
}

/// Serves connection requests for `serial`: Digest with (or without) qop; on success answers
/// 200 first, then opens a session with `6 CONNECTION REQUEST`.
async fn cpe_listener(
    acs_addr: std::net::SocketAddr,
    serial: &str,
    qop: bool,
    collected: Arc<Mutex<Vec<String>>>,
    seen: Arc<Mutex<Seen>>,
) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/cr/{serial}", listener.local_addr().unwrap());
    let serial = serial.to_owned();
    tokio::spawn(async move {
        loop {
            let (mut tcp, _) = listener.accept().await.unwrap();
            let mut buf = Vec::new();
            let head = loop {
                let mut chunk = [0u8; 4096];
                let n = tcp.read(&mut chunk).await.unwrap();
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
            let auth = lines
                .filter_map(|l| l.split_once(':'))
                .find(|(n, _)| n.eq_ignore_ascii_case("authorization"))
                .map(|(_, v)| v.trim().to_owned());
            seen.lock()
                .unwrap()
                .requests
                .push((request_line.clone(), auth.clone()));
            let uri = request_line.split(' ').nth(1).unwrap().to_owned();
            assert!(request_line.starts_with("GET "), "{request_line}");
            let ok = auth.as_deref().is_some_and(|a| check_digest(a, &uri, qop));
            if !ok {
                let challenge = if qop {
                    "Digest realm=\"cpe\", nonce=\"cpe-nonce-1\", qop=\"auth\""
                } else {
                    "Digest realm=\"cpe\", nonce=\"cpe-nonce-1\""
                };
                let resp = format!(
                    "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: {challenge}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
                let _ = tcp.write_all(resp.as_bytes()).await;
                continue;
            }
            // CR-04: 200 with an empty body BEFORE the session starts.
            let _ = tcp
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .await;
            drop(tcp);
            let mut cpe = Cpe::new(acs_addr, &serial, collected.clone());
            let r = cpe.inform(&[("6 CONNECTION REQUEST", "")], &[]).await;
            assert_eq!(r.msg().name, "InformResponse");
            cpe.run_session(success).await;
        }
    });
    url
}

/// Checks Digest credentials `cr-user` / `cr-pass`; `qop` says whether the challenge offered it.
fn check_digest(header: &str, uri: &str, qop: bool) -> bool {
    let p = auth_params(header);
    if param(&p, "username") != Some("cr-user")
        || param(&p, "uri") != Some(uri)
        || param(&p, "nonce") != Some("cpe-nonce-1")
    {
        return false;
    }
    let ha1 = md5_hex("cr-user:cpe:cr-pass");
    let ha2 = md5_hex(&format!("GET:{uri}"));
    let expected = if qop {
        // pitfall #10: qop, nc and cnonce must be there because the challenge offered qop.
        let (Some(nc), Some(cnonce), Some("auth")) =
            (param(&p, "nc"), param(&p, "cnonce"), param(&p, "qop"))
        else {
            return false;
        };
        md5_hex(&format!("{ha1}:cpe-nonce-1:{nc}:{cnonce}:auth:{ha2}"))
    } else {
        // RFC 2069 style: no qop, nc or cnonce may be sent.
        if param(&p, "qop").is_some() || param(&p, "cnonce").is_some() || param(&p, "nc").is_some()
        {
            return false;
        }
        md5_hex(&format!("{ha1}:cpe-nonce-1:{ha2}"))
    };
    param(&p, "response") == Some(expected.as_str())
}

async fn create_task(acs: &TestAcs, device: &str, spec: Value) -> (u16, Value) {
    let body = spec.to_string();
    let auth = basic_header("admin", ADMIN_PASSWORD);
    let r = http_once(
        acs.handle.api_addr,
        "POST",
        &format!("/api/v1/devices/{device}/tasks?connection_request=true&wait=10"),
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        body.as_bytes(),
    )
    .await;
    (
        r.status,
        serde_json::from_str(&r.body).unwrap_or(Value::Null),
    )
}

async fn informed_device(acs: &TestAcs, serial: &str, url: &str, password: &str) -> String {
    let mut cpe = acs.cpe(serial);
    cpe.inform(
        &[("1 BOOT", "")],
        &[("Device.ManagementServer.ConnectionRequestURL", url)],
    )
    .await
    .msg();
    assert_eq!(cpe.empty().await.status, 204);
    let device = cpe.device_id();
    acs.store()
        .set_connection_request_credentials(
            &device,
            Some(&Credentials {
                username: "cr-user".into(),
                password: password.into(),
            }),
        )
        .await
        .unwrap();
    device
}

#[tokio::test]
async fn acs_connection_request_and_wait_through_the_api() {
    let acs = TestAcs::start(|c| {
        c.cwmp.auth.require = false;
        c.cwmp.connection_request.per_device_min_interval = Secs::from_secs(0);
        // The credentials are configured by hand here (`informed_device`).
        no_provisioning(c);
    })
    .await;
    for (serial, qop) in [("CR1", true), ("CR2", false)] {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let url = cpe_listener(
            acs.handle.cwmp_addr,
            serial,
            qop,
            acs.collected.clone(),
            seen.clone(),
        )
        .await;
        let device = informed_device(&acs, serial, &url, "cr-pass").await;
        let (status, body) = create_task(
            &acs,
            &device,
            json!({"kind": "GetParameterValues", "names": ["Device.DeviceInfo.UpTime"]}),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["connection_request"]["status"], "sent", "{body}");
        assert_eq!(body["state"], "done", "waited for the session: {body}");
        assert_eq!(
            body["result"]["values"][0]["value"],
            "value-of-Device.DeviceInfo.UpTime"
        );
        let requests = &seen.lock().unwrap().requests;
        assert_eq!(
            requests.len(),
            2,
            "challenge, then credentials: {requests:?}"
        );
        assert!(requests[0].1.is_none());
    }

    // Wrong credentials: a typed error, and the task stays queued for the next session.
    let seen = Arc::new(Mutex::new(Seen::default()));
    let url = cpe_listener(
        acs.handle.cwmp_addr,
        "CR3",
        true,
        acs.collected.clone(),
        seen,
    )
    .await;
    let device = informed_device(&acs, "CR3", &url, "not-the-password").await;
    let (status, body) = create_task(&acs, &device, json!({"kind": "Reboot"})).await;
    assert_eq!(status, 201);
    assert_eq!(
        body["connection_request"]["error"]["code"], "auth_failed",
        "{body}"
    );
    assert_eq!(body["state"], "pending");

    // Nobody listening: offline.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead_url = format!("http://{}/cr", closed.local_addr().unwrap());
    drop(closed);
    let device = informed_device(&acs, "CR4", &dead_url, "cr-pass").await;
    let (_, body) = create_task(&acs, &device, json!({"kind": "Reboot"})).await;
    assert_eq!(
        body["connection_request"]["error"]["code"], "failed",
        "{body}"
    );
    assert!(
        body["connection_request"]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("offline"),
        "{body}"
    );
    acs.stop().await;
}

#[tokio::test]
async fn acs_connection_requests_are_rate_limited_per_device() {
    let acs = TestAcs::start(|c| {
        c.cwmp.auth.require = false;
        no_provisioning(c);
    })
    .await;
    let seen = Arc::new(Mutex::new(Seen::default()));
    let url = cpe_listener(
        acs.handle.cwmp_addr,
        "RL1",
        true,
        acs.collected.clone(),
        seen,
    )
    .await;
    let device = informed_device(&acs, "RL1", &url, "cr-pass").await;
    let control = &acs.handle.app().acs;
    control
        .connection_request(&device)
        .await
        .expect("first one goes out");
    let second = control.connection_request(&device).await;
    assert!(
        matches!(
            second,
            Err(tether_server::ConnectionRequestError::RateLimited(_))
        ),
        "{second:?}"
    );
    acs.stop().await;
}
