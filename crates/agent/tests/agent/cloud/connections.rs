//! How many connections a device spends on a cloud connection: the handshake's three HTTPS
//! requests on one kept-alive connection (and a new one when the server closes it).

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
    let pki = Pki::new();
    let cloud = TestCloud::start(&pki, 0, "cloud.test");
    cloud.add_device(SERIAL, "s3cret", "alice");
    cloud.shared.lock().unwrap().after_post = after_post;
    let agent = start(dir, cloud_config(dir, &pki));
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
