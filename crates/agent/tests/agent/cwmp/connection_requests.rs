//! Connection requests: HTTP with Digest (good and bad credentials, bursts) and UDP (Annex G:
//! good and bad signatures, replays). The ACS side is written here from RFC 2617 and TR-069
//! Annex G.

use std::collections::HashMap;
use std::time::Duration;

use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use sha1::Sha1;
use tether_cli::Command;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use super::*;

fn md5_hex(text: &str) -> String {
    Md5::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// One HTTP response: status, headers (lower-case), body length.
struct Answer {
    status: u16,
    headers: HashMap<String, String>,
    body_len: usize,
}

async fn http_get(stream: &mut TcpStream, host: &str, path: &str, auth: Option<&str>) -> Answer {
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n");
    if let Some(a) = auth {
        req.push_str(&format!("Authorization: {a}\r\n"));
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    loop {
        let mut chunk = [0u8; 1024];
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed");
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            let mut lines = head.lines();
            let status = lines
                .next()
                .unwrap()
                .split(' ')
                .nth(1)
                .unwrap()
                .parse()
                .unwrap();
            let headers: HashMap<String, String> = lines
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
                .collect();
            let body_len: usize = headers
                .get("content-length")
                .map_or(0, |v| v.parse().unwrap());
            return Answer {
                status,
                headers,
                body_len,
            };
        }
    }
}

fn challenge_param(challenge: &str, key: &str) -> String {
    let at = challenge.find(&format!("{key}=\"")).unwrap() + key.len() + 2;
    let rest = &challenge[at..];
    rest[..rest.find('"').unwrap()].to_owned()
}

fn digest(user: &str, pass: &str, challenge: &str, uri: &str, nc: u32) -> String {
    let realm = challenge_param(challenge, "realm");
    let nonce = challenge_param(challenge, "nonce");
    let cnonce = format!("c{nc:07}");
    let nc = format!("{nc:08x}");
    let ha1 = md5_hex(&format!("{user}:{realm}:{pass}"));
    let ha2 = md5_hex(&format!("GET:{uri}"));
    let response = md5_hex(&format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"));
    format!(
        "Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", qop=auth, nc={nc}, cnonce=\"{cnonce}\", response=\"{response}\", algorithm=MD5"
    )
}

/// Splits `http://host:port/path` into (`host:port`, `/path`).
fn split_url(url: &str) -> (String, String) {
    let rest = url.strip_prefix("http://").unwrap();
    let slash = rest.find('/').unwrap();
    (rest[..slash].to_owned(), rest[slash..].to_owned())
}

/// A connection request with credentials on a fresh connection: 401 first, then the answer.
async fn request(url: &str, user: &str, pass: &str) -> Answer {
    let (host, path) = split_url(url);
    let mut stream = TcpStream::connect(&host).await.unwrap();
    let first = http_get(&mut stream, &host, &path, None).await;
    assert_eq!(first.status, 401);
    let challenge = first.headers["www-authenticate"].clone();
    assert!(challenge.starts_with("Digest"), "{challenge}");
    http_get(
        &mut stream,
        &host,
        &path,
        Some(&digest(user, pass, &challenge, &path, 1)),
    )
    .await
}

async fn configured_agent(dir: &std::path::Path, acs: &Acs) -> (tether_agent::AgentHandle, String) {
    let agent = start(dir, cpe_config(dir)).await;
    let ctx = agent.context().clone();
    cli(&ctx, Command::CwmpCpeUsername(Some("acs-cr".into())));
    cli(
        &ctx,
        Command::CwmpCpePassword(Some(password(&ctx, "cr-pass"))),
    );
    point_at(&ctx, &acs.url());
    let first = informs(acs, 1).await;
    acs.wait_for(10, "end of the first session", |s| {
        s.posts.last().is_some_and(|p| p.status == 204)
    })
    .await;
    (agent, cr_url(&first[0]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_connection_requests_need_digest_credentials_and_bursts_get_503() {
    let acs = Acs::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (agent, url) = configured_agent(dir.path(), &acs).await;
    let (host, _) = split_url(&url);
    // CR-01: only the published path answers.
    let mut stream = TcpStream::connect(&host).await.unwrap();
    assert_eq!(
        http_get(&mut stream, &host, "/wrong", None).await.status,
        404
    );

    // CR-03: wrong credentials ⇒ 401 and no session.
    let bad = request(&url, "acs-cr", "wrong").await;
    assert_eq!(bad.status, 401);
    no_inform_within(&acs, 1500).await;

    // CR-04/07: right credentials ⇒ 200 with an empty body, then a session with 6.
    let sent = std::time::Instant::now();
    let good = request(&url, "acs-cr", "cr-pass").await;
    assert_eq!(good.status, 200);
    assert_eq!(good.body_len, 0);
    let all = informs(&acs, 2).await;
    assert!(sent.elapsed() < Duration::from_secs(30));
    assert_eq!(events_of(&all[1]), ["6 CONNECTION REQUEST"]);
    acs.wait_for(10, "end of the session", |s| {
        s.posts.last().is_some_and(|p| p.status == 204)
    })
    .await;

    // CR-05: a burst is cut with 503 and no Retry-After; CR-06: one session for the burst.
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let a = request(&url, "acs-cr", "cr-pass").await;
        if a.status == 503 {
            assert!(!a.headers.contains_key("retry-after"));
        }
        statuses.push(a.status);
    }
    assert!(statuses.contains(&503), "{statuses:?}");
    assert!(statuses.contains(&200), "{statuses:?}");
    assert_schema_valid(&acs.bodies());
    agent.shutdown().await.unwrap();
}

fn udp_request(host: &str, ts: u64, id: u64, user: &str, cnonce: &str, key: &str) -> String {
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(format!("{ts}{id}{user}{cnonce}").as_bytes());
    let sig: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!(
        "GET http://{host}?ts={ts}&id={id}&un={user}&cn={cnonce}&sig={sig} HTTP/1.1\r\nHost: {host}\r\n\r\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_connection_requests_are_verified_and_replays_and_bad_signatures_dropped() {
    let acs = Acs::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (agent, url) = configured_agent(dir.path(), &acs).await;
    let (host, _) = split_url(&url);
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let ts = u64::try_from(tether_agent::context::now_unix()).unwrap();

    let forged = udp_request(&host, ts, 1, "acs-cr", "c0ffee", "not-the-password");
    socket.send_to(forged.as_bytes(), &host).await.unwrap();
    no_inform_within(&acs, 1500).await;

    let good = udp_request(&host, ts + 1, 2, "acs-cr", "c0ffee01", "cr-pass");
    socket.send_to(good.as_bytes(), &host).await.unwrap();
    let all = informs(&acs, 2).await;
    assert_eq!(events_of(&all[1]), ["6 CONNECTION REQUEST"]);
    acs.wait_for(10, "end of the session", |s| {
        s.posts.last().is_some_and(|p| p.status == 204)
    })
    .await;

    // A retransmission (same id) is not a new request.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    socket.send_to(good.as_bytes(), &host).await.unwrap();
    no_inform_within(&acs, 2000).await;
    // Nothing is ever sent back over UDP.
    let mut buf = [0u8; 64];
    let echo = tokio::time::timeout(Duration::from_millis(200), socket.recv_from(&mut buf)).await;
    assert!(echo.is_err());
    assert_schema_valid(&acs.bodies());
    agent.shutdown().await.unwrap();
}
