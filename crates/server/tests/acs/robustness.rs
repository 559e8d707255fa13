//! Bad input, body limits, compression, 100-continue, overload, the 8005 retry path.

use std::time::{Duration, Instant};

use serde_json::json;
use tether_store::TaskState;
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;

use super::support::*;

#[tokio::test]
async fn acs_bad_input_gets_clear_answers() {
    let acs = TestAcs::start(|c| {
        c.cwmp.auth.require = false;
        no_provisioning(c);
    })
    .await;
    let addr = acs.handle.cwmp_addr;

    // Malformed XML: 400 with the decoder's reason (no CWMP fault: it is not known to be a request).
    let r = http_once(
        addr,
        "POST",
        "/",
        &[("Content-Type", "text/xml")],
        b"<soap-env:Envelope><oops",
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("not a CWMP message"), "{}", r.body);
    // A request that is not an Inform, without a session: 400.
    let gpv = envelope(CWMP_1_0, "x", "<cwmp:GetRPCMethods/>");
    let r = http_once(
        addr,
        "POST",
        "/",
        &[("Content-Type", "text/xml")],
        gpv.as_bytes(),
    )
    .await;
    assert_eq!(r.status, 400);
    // GET: 405.
    assert_eq!(http_once(addr, "GET", "/", &[], b"").await.status, 405);

    // Unknown method in a session: fault 8000 with the ID echoed, and the session goes on.
    let mut cpe = acs.cpe("BAD1");
    cpe.inform(&[("2 PERIODIC", "")], &[]).await.msg();
    let r = cpe
        .post(&envelope(
            CWMP_1_0,
            "u1",
            "<cwmp:X_ACME_Frobnicate><A>1</A></cwmp:X_ACME_Frobnicate>",
        ))
        .await
        .msg();
    assert_eq!(r.fault_code().as_deref(), Some("8000"));
    assert_eq!(r.id.as_deref(), Some("u1"));
    assert_eq!(r.text("faultstring"), ["CWMP fault"]);
    // Garbage mid-session: 400, the session survives and completes.
    let r = cpe
        .post_raw(
            &[
                ("Content-Length", "5".into()),
                ("Content-Type", "text/xml".into()),
            ],
            b"<a><b",
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(cpe.empty().await.status, 204);

    // gzip body (HTTP-08), chunked empty POST with a Content-Type (icwmp), Expect: 100-continue.
    let mut cpe = acs.cpe("BAD2");
    let xml = inform_xml(CWMP_1_0, "g1", "BAD2", &[("2 PERIODIC", "")], &[]);
    let gz = gzip(xml.as_bytes());
    let r = cpe
        .post_raw(
            &[
                ("Content-Type", "text/xml".into()),
                ("Content-Encoding", "gzip".into()),
                ("Content-Length", gz.len().to_string()),
                ("Expect", "100-continue".into()),
            ],
            &gz,
        )
        .await;
    assert_eq!(r.msg().name, "InformResponse");
    let r = cpe
        .post_raw(
            &[
                ("Content-Type", "text/xml".into()),
                ("Transfer-Encoding", "chunked".into()),
            ],
            b"0\r\n\r\n",
        )
        .await;
    assert_eq!(r.status, 204);
    // An unsupported coding: 415.
    let r = http_once(addr, "POST", "/", &[("Content-Encoding", "br")], b"xx").await;
    assert_eq!(r.status, 415);
    acs.stop().await;
}

fn gzip(data: &[u8]) -> Vec<u8> {
    // A gzip member of stored (uncompressed) deflate blocks, written from RFC 1952 and
    // RFC 1951, so the test client needs no compression library.
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];
    for (i, chunk) in data.chunks(65_535).enumerate() {
        let last = (i + 1) * 65_535 >= data.len();
        out.push(u8::from(last));
        let len = chunk.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(chunk);
    }
    out.extend_from_slice(&crc32(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[tokio::test]
async fn acs_huge_body_is_refused_before_it_is_read() {
    let acs = TestAcs::start(|c| c.cwmp.auth.require = false).await;
    let mut tcp = TcpStream::connect(acs.handle.cwmp_addr).await.unwrap();
    let started = Instant::now();
    tcp.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nContent-Length: 104857600\r\n\r\n<soap").await.unwrap();
    let mut buf = Vec::new();
    let r = tokio::time::timeout(Duration::from_secs(5), read_response(&mut tcp, &mut buf))
        .await
        .expect("answered at once")
        .unwrap();
    assert_eq!(r.status, 413);
    assert!(started.elapsed() < Duration::from_secs(2));
    // A chunked body past the limit is cut while streaming.
    let mut tcp = TcpStream::connect(acs.handle.cwmp_addr).await.unwrap();
    tcp.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        .await
        .unwrap();
    // Just past 1 MiB, then wait: everything sent is read, so the close is clean.
    let chunk = vec![b'a'; 64 * 1024];
    for _ in 0..17 {
        tcp.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
            .await
            .unwrap();
        tcp.write_all(&chunk).await.unwrap();
        tcp.write_all(b"\r\n").await.unwrap();
    }
    let mut buf = Vec::new();
    let r = tokio::time::timeout(Duration::from_secs(5), read_response(&mut tcp, &mut buf))
        .await
        .expect("answered")
        .unwrap();
    let status = Some(r.status);
    assert_eq!(status, Some(413), "{r:?}");
    acs.stop().await;
}

#[tokio::test]
async fn acs_a_flood_of_idle_connections_does_not_stop_a_real_session() {
    let acs = TestAcs::start(|c| c.cwmp.auth.require = false).await;
    let mut held = Vec::new();
    for _ in 0..2000 {
        held.push(TcpStream::connect(acs.handle.cwmp_addr).await.unwrap());
    }
    let started = Instant::now();
    let mut cpe = acs.cpe("FLOOD1");
    let device = cpe.device_id();
    assert_eq!(
        cpe.inform(&[("2 PERIODIC", "")], &[]).await.msg().name,
        "InformResponse"
    );
    let t = acs
        .queue(
            &device,
            json!({"kind": "GetParameterValues", "names": ["Device.X"]}),
        )
        .await;
    cpe.run_session(success).await;
    assert_eq!(acs.task(t).await.state, TaskState::Done);
    eprintln!(
        "session beside 2000 idle sockets took {:?}",
        started.elapsed()
    );
    drop(held);
    acs.stop().await;
}

#[tokio::test]
async fn acs_past_the_connection_bound_new_sessions_get_503_and_running_ones_continue() {
    let acs = TestAcs::start(|c| {
        c.cwmp.auth.require = false;
        c.limits.max_connections = 2;
        no_provisioning(c);
    })
    .await;
    let mut running = acs.cpe("OVER1");
    running.inform(&[("2 PERIODIC", "")], &[]).await.msg();
    let _other = TcpStream::connect(acs.handle.cwmp_addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Both slots taken: a new session is refused with 503 + Retry-After (HTTP-10).
    let mut fresh = acs.cpe("OVER2");
    let r = fresh.inform(&[("2 PERIODIC", "")], &[]).await;
    assert_eq!(r.status, 503);
    assert!(r.header("retry-after").is_some());
    // The running session continues on a new (overflow) connection with its cookie.
    running.reconnect();
    assert_eq!(running.empty().await.status, 204);
    acs.stop().await;
}

/// 8005 (INF-02, FLT-04): the store cannot write (SQLite held locked by another process'
/// connection past the busy timeout), the Inform is refused with 8005, the CPE resends the
/// identical Inform in the same session once the lock is gone and is accepted.
#[tokio::test]
async fn acs_inform_gets_8005_while_the_store_is_unavailable() {
    use sqlx::Connection as _;
    let acs = TestAcs::start(|c| {
        c.cwmp.auth.require = false;
        no_provisioning(c);
    })
    .await;
    let db = acs.dir.path().join("tether.db");
    let mut locker = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut locker)
        .await
        .unwrap();
    let mut cpe = acs.cpe("RETRY1");
    let xml = inform_xml(CWMP_1_0, "r1", "RETRY1", &[("1 BOOT", "")], &[]);
    let r = cpe.post(&xml).await.msg();
    assert_eq!(r.fault_code().as_deref(), Some("8005"));
    assert_eq!(r.id.as_deref(), Some("r1"));
    sqlx::query("ROLLBACK").execute(&mut locker).await.unwrap();
    drop(locker);
    let r = cpe.post(&xml).await.msg();
    assert_eq!(r.name, "InformResponse");
    assert_eq!(cpe.empty().await.status, 204);
    assert!(
        acs.store()
            .device(&cpe.device_id())
            .await
            .unwrap()
            .is_some()
    );
    acs.stop().await;
}
