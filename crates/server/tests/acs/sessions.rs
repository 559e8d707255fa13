//! Session keying, authentication, cookies, continuation on new connections.

use std::sync::Arc;

use serde_json::json;
use tether_server::config::{TlsMode, UnknownDevices};
use tether_store::TaskState;

use super::support::*;

const CR_URL: &str = "Device.ManagementServer.ConnectionRequestURL";

#[tokio::test]
async fn acs_digest_challenge_then_success_on_a_new_connection() {
    let acs = TestAcs::start(no_provisioning).await;
    let device = acs.register("DIG1", Some(("cpe-user", "cpe-pass"))).await;
    let mut cpe = acs.cpe("DIG1");
    cpe.auth = CpeAuth::Digest {
        user: "cpe-user".into(),
        password: "cpe-pass".into(),
    };

    // First attempt without credentials: a Digest challenge, MD5 with qop=auth (AUT-04).
    let xml = inform_xml(
        CWMP_1_0,
        "i1",
        "DIG1",
        &[("1 BOOT", "")],
        &[(CR_URL, "http://192.0.2.1:7547/cr")],
    );
    let first = cpe.post(&xml).await;
    assert_eq!(first.status, 401);
    let challenge = first
        .headers_named("www-authenticate")
        .into_iter()
        .find(|h| h.starts_with("Digest"))
        .unwrap()
        .to_owned();
    let p = auth_params(&challenge);
    assert_eq!(param(&p, "qop"), Some("auth"));
    assert_eq!(param(&p, "algorithm"), Some("MD5"));
    assert!(
        !first
            .headers_named("www-authenticate")
            .iter()
            .any(|h| h.starts_with("Basic")),
        "no Basic over plain HTTP"
    );

    // The answer arrives on a NEW TCP connection: the stateless nonce still verifies.
    cpe.digest = Some(DigestState::from_challenge(&challenge));
    cpe.reconnect();
    let resp = cpe.post(&xml).await;
    let msg = resp.msg();
    assert_eq!(msg.name, "InformResponse");
    assert_eq!(msg.id.as_deref(), Some("i1"), "cwmp:ID echoed");
    assert_eq!(msg.text("MaxEnvelopes"), ["1"]);
    assert!(cpe.cookie.is_some(), "the session cookie is set");
    assert_eq!(cpe.empty().await.status, 204);

    let stored = acs.store().device(&device).await.unwrap().unwrap();
    assert_eq!(
        stored.connection_request_url.as_deref(),
        Some("http://192.0.2.1:7547/cr")
    );
    assert_eq!(stored.last_inform_events[0].code, "1 BOOT");
    assert!(stored.remote_addr.unwrap().starts_with("127.0.0.1:"));
    assert!(stored.online_until.is_some());

    // Wrong password: 401 again, no session.
    let mut bad = acs.cpe("DIG1");
    bad.auth = CpeAuth::Digest {
        user: "cpe-user".into(),
        password: "wrong".into(),
    };
    let resp = bad.inform(&[("2 PERIODIC", "")], &[]).await;
    assert_eq!(resp.status, 401);
    assert!(bad.cookie.is_none());
    // Another device's username does not vouch for this one.
    let mut other = acs.cpe("DIG1");
    other.auth = CpeAuth::Digest {
        user: device.clone(),
        password: "cpe-pass".into(),
    };
    assert_eq!(other.inform(&[("2 PERIODIC", "")], &[]).await.status, 401);
    acs.stop().await;
}

#[tokio::test]
async fn acs_basic_is_accepted_over_tls_and_refused_over_plain_http() {
    let acs = TestAcs::start(|c| {
        c.cwmp.tls.mode = TlsMode::SelfSigned;
        no_provisioning(c);
    })
    .await;
    acs.register("TLS1", Some(("tls-user", "tls-pass"))).await;
    let cert_path = acs.dir.path().join("tls").join("self-signed-cert.pem");
    let pem = std::fs::read(&cert_path).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile_certs(&pem) {
        roots.add(cert).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let mut cpe = acs.cpe("TLS1");
    cpe.tls = Some(tokio_rustls::TlsConnector::from(Arc::new(client)));
    cpe.auth = CpeAuth::Basic {
        user: "tls-user".into(),
        password: "tls-pass".into(),
    };
    let resp = cpe.inform(&[("1 BOOT", "")], &[]).await;
    assert_eq!(resp.msg().name, "InformResponse");
    assert_eq!(cpe.empty().await.status, 204);
    // A challenge over TLS offers Basic too.
    let mut anon = acs.cpe("TLS1");
    anon.tls = cpe.tls.clone();
    let r = anon.inform(&[("1 BOOT", "")], &[]).await;
    assert_eq!(r.status, 401);
    assert!(
        r.headers_named("www-authenticate")
            .iter()
            .any(|h| h.starts_with("Basic"))
    );
    let mut wrong = acs.cpe("TLS1");
    wrong.tls = cpe.tls.clone();
    wrong.auth = CpeAuth::Basic {
        user: "tls-user".into(),
        password: "nope".into(),
    };
    assert_eq!(wrong.inform(&[("1 BOOT", "")], &[]).await.status, 401);
    acs.stop().await;

    // Plain HTTP: Basic is not acceptable (AUT-01); the ACS asks for Digest.
    let plain = TestAcs::start(no_provisioning).await;
    plain.register("TLS1", Some(("tls-user", "tls-pass"))).await;
    let mut cpe = plain.cpe("TLS1");
    cpe.auth = CpeAuth::Basic {
        user: "tls-user".into(),
        password: "tls-pass".into(),
    };
    let r = cpe.inform(&[("1 BOOT", "")], &[]).await;
    assert_eq!(r.status, 401);
    assert!(
        r.headers_named("www-authenticate")
            .iter()
            .all(|h| h.starts_with("Digest"))
    );
    plain.stop().await;
}

fn rustls_pemfile_certs(pem: &[u8]) -> Vec<rustls_pki_types::CertificateDer<'static>> {
    use rustls_pki_types::pem::PemObject as _;
    rustls_pki_types::CertificateDer::pem_slice_iter(pem)
        .map(Result::unwrap)
        .collect()
}

#[tokio::test]
async fn acs_session_continues_on_a_new_connection_and_without_cookie() {
    let acs = TestAcs::start(|c| {
        c.cwmp.auth.require = false;
        no_provisioning(c);
    })
    .await;
    let mut cpe = acs.cpe("CONT1");
    assert_eq!(
        cpe.inform(&[("2 PERIODIC", "")], &[]).await.msg().name,
        "InformResponse"
    );
    let device = cpe.device_id();
    let t1 = acs
        .queue(
            &device,
            json!({"kind": "GetParameterValues", "names": ["Device.DeviceInfo.UpTime"]}),
        )
        .await;
    let t2 = acs
        .queue(
            &device,
            json!({"kind": "GetParameterNames", "path": "Device.DeviceInfo.", "next_level": true}),
        )
        .await;

    // The empty POST on a NEW connection, with the cookie (HTTP-04).
    cpe.reconnect();
    let resp = cpe.empty().await;
    let gpv = resp.msg();
    assert_eq!(gpv.name, "GetParameterValues");
    // The answer without the cookie, on the same connection: the connection's session.
    cpe.send_cookie = false;
    let resp = cpe.post(&success(&gpv)).await;
    let gpn = resp.msg();
    assert_eq!(gpn.name, "GetParameterNames");
    cpe.send_cookie = true;
    // And back on yet another connection with the cookie.
    cpe.reconnect();
    assert_eq!(cpe.post(&success(&gpn)).await.status, 204);
    assert_eq!(acs.task(t1).await.state, TaskState::Done);
    assert_eq!(acs.task(t2).await.state, TaskState::Done);

    // No cookie on a new connection: 400 with the reason.
    let mut lost = acs.cpe("CONT1");
    let r = lost.empty().await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("no CWMP session"), "{}", r.body);
    // A stale cookie with an empty POST: 400 too.
    lost.cookie = Some("00ff00ff".into());
    assert_eq!(lost.empty().await.status, 400);
    acs.stop().await;
}

#[tokio::test]
async fn acs_odd_cookie_syntax_is_understood() {
    let acs = TestAcs::start(|c| {
        c.cwmp.auth.require = false;
        no_provisioning(c);
    })
    .await;
    let mut cpe = acs.cpe("COOK1");
    cpe.inform(&[("2 PERIODIC", "")], &[]).await.msg();
    let cookie = cpe.cookie.clone().unwrap();
    cpe.send_cookie = false;
    cpe.reconnect();
    let r = cpe
        .post_raw(
            &[
                ("Content-Length", "0".into()),
                ("Cookie", format!("a=1, tether_session={cookie}, b=2")),
            ],
            b"",
        )
        .await;
    assert_eq!(r.status, 204);
    acs.stop().await;
}

#[tokio::test]
async fn acs_new_inform_replaces_the_live_session_of_the_device() {
    let acs = TestAcs::start(|c| {
        c.cwmp.auth.require = false;
        no_provisioning(c);
    })
    .await;
    let mut first = acs.cpe("REPL1");
    first.inform(&[("2 PERIODIC", "")], &[]).await.msg();
    let device = first.device_id();
    let reboot = acs
        .queue(&device, json!({"kind": "Reboot", "command_key": "rb1"}))
        .await;
    let gpv = acs
        .queue(
            &device,
            json!({"kind": "GetParameterValues", "names": ["Device.A"]}),
        )
        .await;
    let msg = first.empty().await.msg();
    assert_eq!(msg.name, "Reboot");
    // The CPE reboots without answering and informs again: the new Inform replaces the old
    // session, and its `M Reboot` settles the reboot the old session left dispatched.
    let mut second = acs.cpe("REPL1");
    let r = second
        .inform(&[("1 BOOT", ""), ("M Reboot", "rb1")], &[])
        .await;
    assert_eq!(r.msg().name, "InformResponse");
    assert_eq!(acs.task(reboot).await.state, TaskState::Done);
    // The old session's cookie is dead.
    assert_eq!(first.empty().await.status, 400);
    let seen = second.run_session(success).await;
    assert_eq!(seen.len(), 1);
    assert_eq!(acs.task(gpv).await.state, TaskState::Done);
    acs.stop().await;
}

#[tokio::test]
async fn acs_unknown_devices_follow_the_policy() {
    // inventory: unknown devices are refused with 403.
    let acs = TestAcs::start(|c| c.cwmp.unknown_devices = UnknownDevices::Inventory).await;
    let mut cpe = acs.cpe("INV1");
    cpe.auth = CpeAuth::Digest {
        user: "x".into(),
        password: "y".into(),
    };
    let r = cpe.inform(&[("0 BOOTSTRAP", "")], &[]).await;
    assert_eq!(r.status, 403);
    assert!(r.body.contains("not registered"), "{}", r.body);
    acs.stop().await;

    // accept: registered at first contact, owned by the default owner, authenticated with
    // that account's default credentials (username = the canonical id).
    let acs = TestAcs::start(|c| c.cwmp.default_owner = Some("admin".into())).await;
    let admin = acs.store().account_by_name("admin").await.unwrap().unwrap();
    acs.store()
        .set_account_cpe_credentials(
            admin.id,
            Some(&tether_store::Credentials {
                username: "fleet".into(),
                password: "fleet-secret".into(),
            }),
        )
        .await
        .unwrap();
    let mut cpe = acs.cpe("NEW1");
    cpe.auth = CpeAuth::Digest {
        user: cpe.device_id(),
        password: "fleet-secret".into(),
    };
    assert_eq!(
        cpe.inform(&[("0 BOOTSTRAP", ""), ("1 BOOT", "")], &[])
            .await
            .msg()
            .name,
        "InformResponse"
    );
    let d = acs.store().device(&cpe.device_id()).await.unwrap().unwrap();
    assert_eq!(d.owner, Some(admin.id));
    acs.stop().await;
}

#[tokio::test]
async fn acs_bootstrap_drops_cached_parameters() {
    let acs = TestAcs::start(|c| {
        c.cwmp.auth.require = false;
        no_provisioning(c);
    })
    .await;
    let mut cpe = acs.cpe("BOOT1");
    cpe.inform(
        &[("1 BOOT", "")],
        &[
            ("Device.DeviceInfo.SoftwareVersion", "1.0"),
            ("Device.Old.Thing", "x"),
        ],
    )
    .await
    .msg();
    assert_eq!(cpe.empty().await.status, 204);
    let device = cpe.device_id();
    assert_eq!(
        acs.store()
            .list_parameters(&device, None)
            .await
            .unwrap()
            .len(),
        2
    );
    let mut cpe = acs.cpe("BOOT1");
    cpe.inform(
        &[("0 BOOTSTRAP", "")],
        &[("Device.DeviceInfo.SoftwareVersion", "2.0")],
    )
    .await
    .msg();
    let params = acs.store().list_parameters(&device, None).await.unwrap();
    assert_eq!(params.len(), 1, "{params:?}");
    assert_eq!(params[0].value.as_deref(), Some("2.0"));
    acs.stop().await;
}

#[tokio::test]
async fn acs_graceful_shutdown_lets_a_running_session_finish() {
    let acs = TestAcs::start(|c| {
        c.cwmp.auth.require = false;
        no_provisioning(c);
    })
    .await;
    let mut cpe = acs.cpe("GRACE1");
    cpe.inform(&[("2 PERIODIC", "")], &[]).await.msg();
    let task = acs
        .queue(
            &cpe.device_id(),
            json!({"kind": "GetParameterValues", "names": ["Device.A"]}),
        )
        .await;
    let store = acs.store().clone();
    let TestAcs {
        handle,
        dir: _dir,
        collected,
    } = acs;
    let addr = handle.cwmp_addr;
    let started = std::time::Instant::now();
    let stopping = tokio::spawn(handle.shutdown());
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    // No new connections...
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "still accepting"
    );
    // ...but the running session finishes on its connection.
    let seen = cpe.run_session(success).await;
    assert_eq!(seen.len(), 1);
    assert_eq!(
        store.task(task).await.unwrap().unwrap().state,
        TaskState::Done
    );
    stopping.await.unwrap().expect("clean shutdown");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(4),
        "within the grace period"
    );
    validate_with_xmllint(&collected.lock().unwrap());
}

#[test]
fn acs_schema_check_rejects_an_invalid_message() {
    // The validator used by every test must be able to fail: an InformResponse without
    // MaxEnvelopes is not schema-valid.
    let bad = envelope(CWMP_1_0, "x", "<cwmp:InformResponse></cwmp:InformResponse>");
    let result = std::panic::catch_unwind(|| validate_with_xmllint(&[bad]));
    assert!(
        result.is_err(),
        "xmllint accepted an invalid InformResponse"
    );
    let good = envelope(
        CWMP_1_0,
        "x",
        "<cwmp:InformResponse><MaxEnvelopes>1</MaxEnvelopes></cwmp:InformResponse>",
    );
    validate_with_xmllint(&[good]);
}
