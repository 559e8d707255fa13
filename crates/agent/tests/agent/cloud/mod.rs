//! The cloud connection end to end: a real agent (its own thread and runtime, as `tether
//! agent` runs) against a spec-following cloud server (`server.rs`) over real TCP, TLS and
//! WebSockets; the operator side through the agent's control socket.

mod connections;
mod server;

use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use server::{Pki, TestCloud, close_frame};
use tether_agent::config::CloudTrustMode;
use tether_agent::{AgentConfig, run_lines, run_one};
use tether_cloudlink::CloseCode;
use tether_cloudlink::message::{self, Config, Role, Telemetry, Terminal};

use super::{TestAgent, agent_config, fake_host};

const SERIAL: &str = "SN-CLOUD-1";

fn wait_until(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if cond() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out after {secs}s waiting for {what}");
}

fn cloud_config(dir: &Path, pki: &Pki) -> AgentConfig {
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, &pki.ca_pem).unwrap();
    let mut config = agent_config(&dir.join("state"));
    config.identity.serial_number = Some(SERIAL.into());
    config.cloud.trust = CloudTrustMode::CaFile;
    config.cloud.ca_file = Some(ca);
    config.cloud.request_timeout_secs = 5;
    config.cloud.backoff_initial_ms = 200;
    config.cloud.backoff_max_secs = 2;
    config.cloud.service_retry_secs = 1;
    config
}

fn start(dir: &Path, config: AgentConfig) -> TestAgent {
    TestAgent::start(config, fake_host(&dir.join("host"))).unwrap()
}

fn configure(agent: &TestAgent, lines: &[&str]) {
    let mut all = vec!["system-view"];
    all.extend_from_slice(lines);
    for reply in run_lines(&agent.socket, &all).unwrap() {
        assert!(!reply.is_error(), "{}", reply.output);
    }
}

/// `cloud.test` on the test cloud's port, resolved through `ip host`.
fn point_at(agent: &TestAgent, cloud: &TestCloud, password: &str) {
    let port = format!("cloud-management server port {}", cloud.addr.port());
    let pw = format!("cloud-management server password simple {password}");
    configure(
        agent,
        &[
            "ip host cloud.test 127.0.0.1",
            "cloud-management server domain cloud.test",
            &port,
            &pw,
        ],
    );
}

fn display(agent: &TestAgent) -> String {
    run_one(&agent.socket, "display cloud-management state")
        .unwrap()
        .output
}

fn wait_established(agent: &TestAgent, secs: u64) -> String {
    let mut last = String::new();
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        last = display(agent);
        if last.contains("Cloud connection state   : Established\n") {
            return last;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("not established after {secs}s:\n{last}");
}

fn connected_cloud(dir: &Path) -> (Pki, TestCloud, TestAgent) {
    let pki = Pki::new();
    let cloud = TestCloud::start(&pki, 0, "cloud.test");
    cloud.add_device(SERIAL, "s3cret", "alice");
    let agent = start(dir, cloud_config(dir, &pki));
    point_at(&agent, &cloud, "s3cret");
    wait_established(&agent, 20);
    (pki, cloud, agent)
}

#[test]
fn cloud_connection_is_established_and_displayed_as_in_the_guide() {
    let dir = tempfile::tempdir().unwrap();
    let (_pki, cloud, agent) = connected_cloud(dir.path());
    let text = display(&agent);
    let port = cloud.addr.port();
    for line in [
        "Cloud connection state   : Established\n".to_owned(),
        "Device state             : Request_success\n".to_owned(),
        "Cloud server address     : 127.0.0.1\n".to_owned(),
        "Cloud server domain name : cloud.test\n".to_owned(),
        format!("Cloud server port        : {port}\n"),
        "Failure reason           : N/A\n".to_owned(),
    ] {
        assert!(text.contains(&line), "missing {line:?} in\n{text}");
    }
    assert!(
        text.contains("Duration                 : 00d 00h 00m 0"),
        "{text}"
    );
    assert!(!text.contains("Connected at             : N/A"), "{text}");
    // Steps 7-11: every service opens its own subconnection.
    wait_until(10, "three subconnections", || {
        ["terminal", "config", "telemetry"]
            .iter()
            .all(|s| cloud.service_connected(s))
    });
    let log = cloud.log();
    assert_eq!(log[0], "auth_success");
    assert_eq!(log[1], "registered");
    assert_eq!(log[2], format!("tunnel {SERIAL}"));
    agent.stop();
}

#[test]
fn unknown_serial_and_wrong_password_are_shown_with_their_reason() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new();
    let cloud = TestCloud::start(&pki, 0, "cloud.test");
    let agent = start(dir.path(), cloud_config(dir.path(), &pki));
    point_at(&agent, &cloud, "s3cret");
    wait_until(10, "unknown serial", || {
        let t = display(&agent);
        t.contains("Device state             : Auth_failed\n")
            && t.contains(
                "Failure reason           : Serial number not added on the cloud server\n",
            )
    });
    cloud.add_device(SERIAL, "other-secret", "alice");
    wait_until(10, "wrong password", || {
        display(&agent)
            .contains("Failure reason           : Wrong cloud-management server password\n")
    });
    assert!(cloud.count("auth_failure BadProof") >= 1);
    // The right password (a configuration change) rebuilds at once and connects.
    configure(
        &agent,
        &["cloud-management server password simple other-secret"],
    );
    wait_established(&agent, 10);
    agent.stop();
}

#[test]
fn unanswered_keepalives_make_the_device_register_again() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new();
    let cloud = TestCloud::start(&pki, 0, "cloud.test");
    cloud.add_device(SERIAL, "s3cret", "alice");
    // keepalive 1 s, ping 1 s, read deadline 30 s: only the keepalive rule can fire.
    cloud.shared.lock().unwrap().welcome = (1, 1, 30);
    let agent = start(dir.path(), cloud_config(dir.path(), &pki));
    point_at(&agent, &cloud, "s3cret");
    wait_established(&agent, 20);
    wait_until(10, "keepalives acknowledged", || {
        cloud.count("keepalive") >= 2
    });
    assert_eq!(cloud.count("device closed 4007"), 0);
    cloud.shared.lock().unwrap().ack_keepalives = false;
    wait_until(15, "close 4007 and a new tunnel", || {
        cloud.count("device closed 4007") >= 1 && cloud.count(&format!("tunnel {SERIAL}")) >= 2
    });
    // Re-registered with the still-valid session: no second authentication was needed.
    assert_eq!(cloud.count("auth_success"), 1);
    assert!(cloud.count("registered") >= 2);
    agent.stop();
}

#[test]
fn the_device_comes_back_by_itself_after_a_server_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (pki, cloud, agent) = connected_cloud(dir.path());
    let port = cloud.addr.port();
    drop(cloud);
    wait_until(10, "the loss to be noticed", || {
        !display(&agent).contains("Cloud connection state   : Established\n")
    });
    let cloud = TestCloud::start(&pki, port, "cloud.test");
    cloud.add_device(SERIAL, "s3cret", "alice");
    wait_established(&agent, 20);
    assert_eq!(cloud.count(&format!("tunnel {SERIAL}")), 1);
    agent.stop();
}

#[test]
fn reset_cloud_management_tunnel_rebuilds_from_authentication() {
    let dir = tempfile::tempdir().unwrap();
    let (_pki, cloud, agent) = connected_cloud(dir.path());
    let reply = run_one(&agent.socket, "reset cloud-management tunnel").unwrap();
    assert!(!reply.is_error(), "{}", reply.output);
    wait_until(10, "close 4010 and a second tunnel", || {
        cloud.count("device closed 4010") == 1 && cloud.count(&format!("tunnel {SERIAL}")) == 2
    });
    assert_eq!(cloud.count("auth_success"), 2);
    wait_established(&agent, 10);
    // A server-sent reset_tunnel command does the same.
    cloud.to_tunnel(
        SERIAL,
        tokio_tungstenite::tungstenite::Message::text(
            r#"{"type":"command","id":9,"command":"reset_tunnel"}"#,
        ),
    );
    wait_until(10, "third tunnel", || {
        cloud.count(&format!("tunnel {SERIAL}")) == 3
    });
    assert_eq!(cloud.count("command_ack 9 true"), 1);
    agent.stop();
}

#[test]
fn a_backup_server_takes_over_when_the_main_one_is_down_with_a_pinned_key() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new();
    let cloud = TestCloud::start(&pki, 0, "backup.test");
    cloud.add_device(SERIAL, "s3cret", "alice");
    // A port where nothing listens.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_port = dead.local_addr().unwrap().port();
    drop(dead);
    let mut config = cloud_config(dir.path(), &pki);
    config.cloud.trust = CloudTrustMode::Pin;
    config.cloud.ca_file = None;
    let pin = tether_agent::cloud::tls::spki_sha256(&pki.chain[0]).unwrap();
    config.cloud.pins = vec![hex::encode(pin)];
    let agent = start(dir.path(), config);
    let main_port = format!("cloud-management server port {dead_port}");
    let backup = format!(
        "cloud-management backup-server domain backup.test port {}",
        cloud.addr.port()
    );
    configure(
        &agent,
        &[
            "ip host cloud.test 127.0.0.1",
            "ip host backup.test 127.0.0.1",
            "cloud-management server domain cloud.test",
            &main_port,
            "cloud-management server password simple s3cret",
            &backup,
        ],
    );
    let text = wait_established(&agent, 20);
    assert!(
        text.contains("Cloud server domain name : backup.test\n"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "Cloud server port        : {}\n",
            cloud.addr.port()
        )),
        "{text}"
    );
    agent.stop();
}

#[test]
fn a_wrong_pin_fails_the_tls_handshake() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new();
    let cloud = TestCloud::start(&pki, 0, "cloud.test");
    cloud.add_device(SERIAL, "s3cret", "alice");
    let mut config = cloud_config(dir.path(), &pki);
    config.cloud.trust = CloudTrustMode::Pin;
    config.cloud.pins = vec![hex::encode([7u8; 32])];
    let agent = start(dir.path(), config);
    point_at(&agent, &cloud, "s3cret");
    wait_until(10, "TLS failure", || {
        display(&agent)
            .contains("Failure reason           : TLS handshake with the cloud server failed\n")
    });
    assert!(cloud.log().is_empty());
    agent.stop();
}

#[test]
fn an_unbinding_code_moves_the_device_to_another_account() {
    let dir = tempfile::tempdir().unwrap();
    let (_pki, cloud, agent) = connected_cloud(dir.path());
    // Bob obtained a code for this serial from the cloud.
    cloud
        .shared
        .lock()
        .unwrap()
        .unbind_codes
        .insert(SERIAL.into(), ("7KQ4MZ2H".into(), "bob".into()));
    let replies = run_lines(
        &agent.socket,
        &["system-view", "cloud-management unbinding-code 2345-6789"],
    )
    .unwrap();
    let refused = &replies[1];
    assert!(refused.is_error());
    assert!(
        refused
            .output
            .contains("Unbinding failed: the code is not valid"),
        "{}",
        refused.output
    );
    let bad = run_lines(
        &agent.socket,
        &["system-view", "cloud-management unbinding-code OOPS"],
    )
    .unwrap();
    assert!(
        bad[1].output.contains("Invalid unbinding code"),
        "{}",
        bad[1].output
    );
    let replies = run_lines(
        &agent.socket,
        &["system-view", "cloud-management unbinding-code 7kq4-mz2h"],
    )
    .unwrap();
    assert!(!replies[1].is_error(), "{}", replies[1].output);
    assert!(replies[1].output.contains("accepted the unbinding code"));
    assert_eq!(cloud.count(&format!("rebound {SERIAL} to bob")), 1);
    assert_eq!(
        cloud.shared.lock().unwrap().inventory[SERIAL].1,
        "bob".to_owned()
    );
    // The server then closes with 4006: the device shows Unbound and reconnects.
    cloud.to_tunnel(SERIAL, close_frame(CloseCode::Unbound));
    wait_until(10, "Unbound", || {
        display(&agent).contains("Device state             : Unbound\n")
            || cloud.count(&format!("tunnel {SERIAL}")) >= 2
    });
    wait_established(&agent, 10);
    agent.stop();
}

fn terminal_output(cloud: &TestCloud, until: &str) -> String {
    let mut all = String::new();
    let end = Instant::now() + Duration::from_secs(10);
    while !all.contains(until) {
        assert!(
            Instant::now() < end,
            "no {until:?} in terminal output:\n{all}"
        );
        let text = cloud.next_from("terminal", 10, |_| true);
        if let Ok(Terminal::Output { data, .. }) =
            message::decode::<Terminal>(text.as_bytes(), Role::Device)
        {
            all.push_str(&String::from_utf8_lossy(&STANDARD.decode(data).unwrap()));
        }
    }
    all
}

#[test]
fn a_terminal_session_runs_cli_lines_typed_in_the_cloud() {
    let dir = tempfile::tempdir().unwrap();
    let (_pki, cloud, agent) = connected_cloud(dir.path());
    wait_until(10, "terminal", || cloud.service_connected("terminal"));
    cloud.to_service(
        "terminal",
        r#"{"type":"open","session":1,"cols":80,"rows":24}"#.into(),
    );
    let opened = cloud.next_from("terminal", 10, |t| t.contains("opened"));
    assert_eq!(opened, r#"{"type":"opened","session":1}"#);
    terminal_output(&cloud, "<Tether>");
    let input = |text: &str| {
        let data = STANDARD.encode(text);
        cloud.to_service(
            "terminal",
            format!(r#"{{"type":"input","session":1,"data":"{data}"}}"#),
        );
    };
    input("display cloud-management state\r\n");
    let out = terminal_output(&cloud, "Failure reason");
    assert!(
        out.contains("Cloud connection state   : Established\r\n"),
        "{out}"
    );
    // Line editing: backspace, then a configuration command in system view.
    input("system-view\rcloud-management keepalive 12x\x7f3\r");
    let out = terminal_output(&cloud, "[Tether]");
    assert!(out.contains("\x08 \x08"), "{out}");
    wait_until(5, "keepalive 123", || {
        agent.ctx.running().config().cloud.keepalive == 123
    });
    input("display ?");
    let out = terminal_output(&cloud, "cloud-management");
    assert!(out.contains("display ?") || out.contains("?\r\n"), "{out}");
    agent.stop();
}

#[test]
fn the_config_service_reports_and_applies_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let (_pki, cloud, agent) = connected_cloud(dir.path());
    wait_until(10, "config", || cloud.service_connected("config"));
    cloud.to_service("config", r#"{"type":"get_running","id":1}"#.into());
    let text = cloud.next_from("config", 10, |t| t.contains(r#""id":1"#));
    let Config::Running { text, .. } =
        message::decode::<Config>(text.as_bytes(), Role::Device).unwrap()
    else {
        panic!("{text}");
    };
    assert!(
        text.contains("cloud-management server domain cloud.test"),
        "{text}"
    );
    cloud.to_service(
        "config",
        r#"{"type":"apply","id":2,"commands":["cloud-management keepalive 200","no such command","cloud-management keepalive 300"],"stop_on_error":true}"#.into(),
    );
    let reply = cloud.next_from("config", 10, |t| t.contains("apply_result"));
    let Config::ApplyResult { results, .. } =
        message::decode::<Config>(reply.as_bytes(), Role::Device).unwrap()
    else {
        panic!("{reply}");
    };
    assert_eq!(results.len(), 2);
    assert!(results[0].ok);
    assert!(!results[1].ok);
    assert_eq!(agent.ctx.running().config().cloud.keepalive, 200);
    // A change made on the device is pushed as an unsolicited `running` (id 0).
    configure(&agent, &["cloud-management keepalive 250"]);
    let pushed = cloud.next_from("config", 10, |t| t.contains(r#""id":0"#));
    assert!(
        pushed.contains("cloud-management keepalive 250"),
        "{pushed}"
    );
    agent.stop();
}

#[test]
fn telemetry_samples_arrive_with_host_counters() {
    let dir = tempfile::tempdir().unwrap();
    let (_pki, cloud, agent) = connected_cloud(dir.path());
    wait_until(10, "telemetry", || cloud.service_connected("telemetry"));
    cloud.to_service("telemetry", r#"{"type":"subscribe","interval":10}"#.into());
    let text = cloud.next_from("telemetry", 10, |t| t.contains("sample"));
    let Telemetry::Sample {
        seq,
        uptime,
        memory_total,
        interfaces,
        ..
    } = message::decode::<Telemetry>(text.as_bytes(), Role::Device).unwrap()
    else {
        panic!("{text}");
    };
    assert_eq!(seq, 1);
    assert_eq!(uptime, 12345);
    assert_eq!(memory_total, 2_048_000 * 1024);
    let eth0 = interfaces.iter().find(|i| i.name == "eth0").unwrap();
    assert!(eth0.up);
    assert_eq!(eth0.tx_bytes, 8_589_934_592);
    assert_eq!(eth0.rx_packets, 20);
    agent.stop();
}

#[test]
fn dhcp_option_253_overrides_the_cli_domain() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new();
    let cloud = TestCloud::start(&pki, 0, "cloud.test");
    cloud.add_device(SERIAL, "from-dhcp", "alice");
    let lease = dir.path().join("lease");
    std::fs::write(
        &lease,
        "option unknown-253 \"cloud.test\";\noption unknown-252 \"from-dhcp\";\n",
    )
    .unwrap();
    let mut config = cloud_config(dir.path(), &pki);
    config.dhcp_lease_file = Some(lease);
    let agent = start(dir.path(), config);
    let port = format!("cloud-management server port {}", cloud.addr.port());
    configure(
        &agent,
        &[
            "ip host cloud.test 127.0.0.1",
            "cloud-management server domain nowhere.test",
            "cloud-management server password simple from-cli",
            &port,
        ],
    );
    let text = wait_established(&agent, 20);
    assert!(
        text.contains("Cloud server domain name : cloud.test\n"),
        "{text}"
    );
    agent.stop();
}
