//! How many connections and TLS handshakes a device spends on a cloud connection: the
//! handshake's three HTTPS requests on one kept-alive connection (and a new one when the
//! server closes it), and TLS sessions resumed only by the device that made them.

use std::sync::Arc;
use std::time::Duration;

use tether_agent::sim::{SimDevice, SimDeviceSpec};
use tether_cli::display::CloudConnectionState;

use super::server::{AfterPost, Pki, TestCloud};
use super::{SERIAL, cloud_config, configure, start, wait_established, wait_until};

const AUTH: &str = "/cloudlink/v1/auth";
const REGISTER: &str = "/cloudlink/v1/register";

/// The handshake's requests in order: auth request, auth proof, register.
fn paths(posts: &[(usize, String)]) -> Vec<&str> {
    posts.iter().map(|(_, p)| p.as_str()).collect()
}

fn connections(posts: &[(usize, String)]) -> Vec<usize> {
    posts.iter().map(|(c, _)| *c).collect()
}

/// A test cloud treating handshake connections as `after_post` says, and an agent connected
/// to it.
fn connect_with(dir: &std::path::Path, after_post: AfterPost) -> (TestCloud, super::TestAgent) {
    connect_from(dir, after_post, None)
}

/// As [`connect_with`], the agent's cloud connections opened from `source` if given.
fn connect_from(
    dir: &std::path::Path,
    after_post: AfterPost,
    source: Option<std::net::IpAddr>,
) -> (TestCloud, super::TestAgent) {
    let pki = Pki::new();
    let cloud = TestCloud::start(&pki, 0, "cloud.test");
    cloud.add_device(SERIAL, "s3cret", "alice");
    cloud.shared.lock().unwrap().after_post = after_post;
    let mut config = cloud_config(dir, &pki);
    config.cloud.source_address = source;
    let agent = start(dir, config);
    // The domain last: one attempt, with every setting in place.
    let port = format!("cloud-management server port {}", cloud.addr.port());
    configure(
        &agent,
        &[
            "ip host cloud.test 127.0.0.1",
            &port,
            "cloud-management server password simple s3cret",
            "cloud-management server domain cloud.test",
        ],
    );
    wait_established(&agent, 20);
    (cloud, agent)
}

#[test]
fn the_handshake_requests_share_one_kept_alive_connection_closed_before_the_tunnel() {
    let dir = tempfile::tempdir().unwrap();
    let (cloud, agent) = connect_with(dir.path(), AfterPost::KeepAlive);
    let posts = cloud.posts();
    assert_eq!(paths(&posts), [AUTH, AUTH, REGISTER], "{posts:?}");
    assert_eq!(connections(&posts), [0, 0, 0], "{posts:?}");
    // The device let go of the handshake's connection once it had the tunnel URL.
    wait_until(10, "the handshake connection closed", || {
        cloud.shared.lock().unwrap().closed.contains(&0)
    });
    // One connection for the handshake, then the tunnel and three subconnections.
    wait_until(10, "three subconnections", || {
        ["terminal", "config", "telemetry"]
            .iter()
            .all(|s| cloud.service_connected(s))
    });
    let accepted = cloud.shared.lock().unwrap().accepted;
    assert_eq!(accepted, 5);
    agent.stop();
}

#[test]
fn every_cloud_connection_comes_from_the_configured_source_address() {
    let dir = tempfile::tempdir().unwrap();
    let source: std::net::IpAddr = [127, 0, 0, 2].into();
    let (cloud, agent) = connect_from(dir.path(), AfterPost::KeepAlive, Some(source));
    wait_until(10, "three subconnections", || {
        ["terminal", "config", "telemetry"]
            .iter()
            .all(|s| cloud.service_connected(s))
    });
    let peers = cloud.shared.lock().unwrap().peers.clone();
    assert_eq!(peers.len(), 5, "{peers:?}");
    assert!(peers.iter().all(|p| *p == source), "{peers:?}");
    agent.stop();
}

#[test]
fn a_server_announcing_a_close_gets_each_request_on_a_new_connection() {
    let dir = tempfile::tempdir().unwrap();
    let (cloud, agent) = connect_with(dir.path(), AfterPost::AnnounceClose);
    let posts = cloud.posts();
    assert_eq!(paths(&posts), [AUTH, AUTH, REGISTER], "{posts:?}");
    assert_eq!(connections(&posts), [0, 1, 2], "{posts:?}");
    let dropped = cloud.shared.lock().unwrap().dropped_posts;
    assert_eq!(dropped, 0);
    agent.stop();
}

#[test]
fn a_kept_connection_the_server_closed_is_replaced_and_the_request_answered() {
    let dir = tempfile::tempdir().unwrap();
    let (cloud, agent) = connect_with(dir.path(), AfterPost::DropNext);
    // The proof and the register request each went first on the kept connection, which the
    // server closed unanswered, then once more on a new connection.
    let posts = cloud.posts();
    assert_eq!(paths(&posts), [AUTH, AUTH, REGISTER], "{posts:?}");
    assert_eq!(connections(&posts), [0, 1, 2], "{posts:?}");
    let dropped = cloud.shared.lock().unwrap().dropped_posts;
    assert_eq!(dropped, 2);
    assert_eq!(
        cloud.count("auth_success"),
        1,
        "no second attempt was needed"
    );
    agent.stop();
}

/// A simulated device on `shared` (a TLS configuration as `tether sim` gives every device).
fn sim_device(
    dir: &std::path::Path,
    pki: &Pki,
    cloud: &TestCloud,
    serial: &str,
    shared: &Arc<rustls::ClientConfig>,
) -> SimDevice {
    let mut config = cloud_config(dir, pki);
    config.identity.serial_number = Some(serial.into());
    config.cwmp.enabled = false;
    let running_config = format!(
        "ip host cloud.test 127.0.0.1\n\
         cloud-management server domain cloud.test\n\
         cloud-management server port {}\n\
         cloud-management server password simple s3cret\n",
        cloud.addr.port()
    );
    SimDevice::start(SimDeviceSpec {
        config,
        running_config,
        handlers: Vec::new(),
        cloud_tls: Some(Arc::clone(shared)),
    })
    .unwrap()
}

/// Waits for the device's tunnel on its own state channel (no polling).
fn wait_tunnel(rt: &tokio::runtime::Runtime, device: &SimDevice, secs: u64) {
    let mut state = device.context().subscribe_cloud();
    let established = async {
        loop {
            if state.borrow_and_update().connection == CloudConnectionState::Established {
                return true;
            }
            if state.changed().await.is_err() {
                return false;
            }
        }
    };
    let up =
        rt.block_on(async { tokio::time::timeout(Duration::from_secs(secs), established).await });
    let last = device.context().cloud_state();
    assert_eq!(up, Ok(true), "no tunnel after {secs}s: {last:?}");
}

#[test]
fn simulated_devices_on_one_tls_configuration_resume_only_their_own_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new();
    let cloud = TestCloud::start(&pki, 0, "cloud.test");
    cloud.add_device("SN-SIM-A", "s3cret", "alice");
    cloud.add_device("SN-SIM-B", "s3cret", "alice");
    let shared =
        tether_agent::cloud::tls::client_config(&cloud_config(dir.path(), &pki).cloud).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();

    let a = {
        let _rt = rt.enter();
        sim_device(dir.path(), &pki, &cloud, "SN-SIM-A", &shared)
    };
    wait_tunnel(&rt, &a, 20);
    wait_until(10, "A's three subconnections", || {
        ["terminal", "config", "telemetry"]
            .iter()
            .all(|s| cloud.service_connected(s))
    });
    let (handshakes_of_a, first_of_b) = {
        let st = cloud.shared.lock().unwrap();
        (st.handshakes.clone(), st.accepted)
    };
    // A's first connection is a full handshake; later ones resume A's own sessions.
    assert!(handshakes_of_a.contains(&(0, false)), "{handshakes_of_a:?}");
    assert!(
        handshakes_of_a.iter().any(|(_, resumed)| *resumed),
        "A resumed none of its sessions: {handshakes_of_a:?}"
    );

    let b = {
        let _rt = rt.enter();
        sim_device(dir.path(), &pki, &cloud, "SN-SIM-B", &shared)
    };
    wait_tunnel(&rt, &b, 20);
    let handshakes = cloud.shared.lock().unwrap().handshakes.clone();
    // B cannot hold a ticket of A's: its first handshake is a full one.
    assert!(
        handshakes.contains(&(first_of_b, false)),
        "B's first connection ({first_of_b}) was not a full handshake: {handshakes:?}"
    );
    rt.block_on(async {
        a.stop().await;
        b.stop().await;
    });
}
