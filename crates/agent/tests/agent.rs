//! tether-agent end to end: host handlers over a prepared /proc and /sys tree, persistence,
//! the CLI over the real Unix socket, restarts, and the ACS source priorities.
//!
//! Each agent runs as in production: a current-thread tokio runtime on its own thread, with
//! the blocking `tether cli` client on the test thread.

// The cloud-connection tests live beside the future `tests/agent/main.rs` layout.
#[path = "agent/cloud/mod.rs"]
mod cloud;
// The CWMP client tests (a test ACS written from the specification).
#[path = "agent/cwmp/mod.rs"]
mod cwmp;
// Our agent against our server (`tether_server::Server`) over real sockets.
#[path = "agent/e2e/mod.rs"]
mod e2e;

use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;

use tether_agent::acs::{AcsSelection, DhcpAcs, Setter};
use tether_agent::host::{HostRoot, InterfaceAddress, register_host_handlers};
use tether_agent::{
    Agent, AgentConfig, AgentContext, AgentError, CwmpLive, End, Identity, run_lines, run_one,
};
use tether_cli::display::{AcsSource, ConnectionStatus};
use tether_cli::{Command, CwmpConfig, Password};
use tether_datamodel::{DataModel, SetParameterAttribute, SetParameterValue, Value};

// ----------------------------------------------------------------------------------------
// Fixtures
// ----------------------------------------------------------------------------------------

fn write(root: &Path, relative: &str, contents: &str) {
    let path = root.join(relative);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, contents).unwrap();
}

fn fake_interface(root: &Path, name: &str, index: u32, link_type: u32, extra: &[(&str, &str)]) {
    let base = format!("sys/class/net/{name}");
    write(root, &format!("{base}/ifindex"), &format!("{index}\n"));
    write(root, &format!("{base}/type"), &format!("{link_type}\n"));
    for (file, value) in extra {
        write(root, &format!("{base}/{file}"), &format!("{value}\n"));
    }
}

/// A host with `lo` (index 1), `eth0` (index 2), one ARP neighbour and a machine id.
fn fake_host(root: &Path) -> HostRoot {
    write(root, "proc/uptime", "12345.67 23456.78\n");
    write(
        root,
        "proc/meminfo",
        "MemTotal:        2048000 kB\nMemFree:          100000 kB\nMemAvailable:    1024000 kB\n",
    );
    write(
        root,
        "proc/stat",
        "cpu  100 0 100 700 100 0 0 0 0 0\ncpu0 100 0 100 700 100 0 0 0 0 0\n",
    );
    write(root, "etc/machine-id", "0123456789abcdef0123456789abcdef\n");
    write(root, "proc/net/if_inet6", "");
    write(
        root,
        "proc/net/arp",
        "IP address       HW type     Flags       HW address            Mask     Device\n\
         192.168.7.1      0x1         0x2         52:54:00:aa:bb:cc     *        eth0\n\
         192.168.7.99     0x1         0x0         00:00:00:00:00:00     *        eth0\n",
    );
    fake_interface(
        root,
        "lo",
        1,
        772,
        &[
            ("flags", "0x9"),
            ("operstate", "unknown"),
            ("address", "00:00:00:00:00:00"),
            ("mtu", "65536"),
            ("statistics/tx_bytes", "500"),
            ("statistics/rx_bytes", "500"),
        ],
    );
    fake_interface(
        root,
        "eth0",
        2,
        1,
        &[
            ("flags", "0x1003"),
            ("operstate", "up"),
            ("address", "52:54:00:12:34:56"),
            ("mtu", "1500"),
            ("speed", "1000"),
            ("duplex", "full"),
            ("statistics/tx_bytes", "8589934592"),
            ("statistics/rx_bytes", "4096"),
            ("statistics/tx_packets", "10"),
            ("statistics/rx_packets", "20"),
            ("statistics/tx_errors", "4294967297"),
            ("statistics/rx_errors", "2"),
            ("statistics/tx_dropped", "3"),
            ("statistics/rx_dropped", "4"),
            ("statistics/multicast", "5"),
        ],
    );
    HostRoot::new(root).with_addresses(vec![
        InterfaceAddress {
            interface: "lo".into(),
            address: IpAddr::V4(Ipv4Addr::LOCALHOST),
            prefix_len: 8,
        },
        InterfaceAddress {
            interface: "eth0".into(),
            address: "fe80::5054:ff:fe12:3456"
                .parse::<Ipv6Addr>()
                .unwrap()
                .into(),
            prefix_len: 64,
        },
        InterfaceAddress {
            interface: "eth0".into(),
            address: IpAddr::V4(Ipv4Addr::new(192, 168, 7, 20)),
            prefix_len: 24,
        },
    ])
}

fn host_model(root: &Path) -> DataModel {
    let host = fake_host(root);
    let identity = Identity::resolve(&AgentConfig::default().identity, &host);
    let mut model = DataModel::new();
    register_host_handlers(&mut model, Arc::new(host), identity);
    model
}

fn text(s: &str) -> Value {
    Value::string(s)
}

/// An agent on its own thread with a current-thread runtime, as `tether agent` runs it.
struct TestAgent {
    ctx: Arc<AgentContext>,
    socket: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<Result<(), AgentError>>>,
}

impl TestAgent {
    fn start(config: AgentConfig, host: HostRoot) -> Result<TestAgent, AgentError> {
        let (ready_tx, ready_rx) = mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                match Agent::start_with_host(config, host).await {
                    Ok(handle) => {
                        let _ = ready_tx.send(Ok((
                            Arc::clone(handle.context()),
                            handle.socket_path().to_owned(),
                        )));
                        let _ = stop_rx.await;
                        handle.shutdown().await
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        Ok(())
                    }
                }
            })
        });
        let (ctx, socket) = ready_rx.recv().unwrap()?;
        Ok(TestAgent {
            ctx,
            socket,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.thread.take().unwrap().join().unwrap().unwrap();
    }
}

impl Drop for TestAgent {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn agent_config(state_dir: &Path) -> AgentConfig {
    AgentConfig {
        state_dir: state_dir.to_owned(),
        ..AgentConfig::default()
    }
}

/// A state directory with its agent over a prepared host tree.
fn start_agent(dir: &Path) -> TestAgent {
    TestAgent::start(
        agent_config(&dir.join("state")),
        fake_host(&dir.join("host")),
    )
    .unwrap()
}

const CONFIGURE: [&str; 6] = [
    "system-view",
    "cwmp",
    "cwmp enable",
    "cwmp acs url http://acs.example:7547/acs",
    "cwmp acs password simple secret",
    "quit",
];

/// `display cwmp configuration` with every setting at its default: §8.2, colons in column 36.
const DEFAULT_CONFIGURATION: &str = "\
CWMP state                          : Disabled
ACS URL                             : Null
ACS username                        :
ACS default URL                     : Null
ACS default username                :
Periodic inform                     : Disabled
Inform interval                     : 600s
Inform time                         : None
Wait timeout                        : 30s
Connection retries                  : Unlimited
Source IP interface                 : None
STUN state                          : Disabled
SSL policy name                     : Null
";

// ----------------------------------------------------------------------------------------
// Host data model
// ----------------------------------------------------------------------------------------

#[test]
fn device_info_serves_identity_uptime_and_memory_from_the_host_tree() {
    let dir = tempfile::tempdir().unwrap();
    let model = host_model(dir.path());
    let get = |p: &str| model.get(p).unwrap();
    assert_eq!(get("Device.DeviceInfo.Manufacturer"), text("Tether"));
    assert_eq!(get("Device.DeviceInfo.ManufacturerOUI"), text("000000"));
    assert_eq!(get("Device.DeviceInfo.ModelName"), text("tether-agent"));
    assert_eq!(
        get("Device.DeviceInfo.SoftwareVersion"),
        text(env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(get("Device.DeviceInfo.UpTime"), Value::UnsignedInt(12345));
    assert_eq!(
        get("Device.DeviceInfo.MemoryStatus.Total"),
        Value::UnsignedInt(2_048_000)
    );
    assert_eq!(
        get("Device.DeviceInfo.MemoryStatus.Free"),
        Value::UnsignedInt(1_024_000)
    );
    // The serial is derived from the machine id without disclosing it, and is stable.
    let serial = get("Device.DeviceInfo.SerialNumber");
    let serial = serial.as_str().unwrap();
    assert_eq!(serial.len(), 16);
    assert!(
        serial
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_lowercase())
    );
    assert!(!"0123456789abcdef0123456789abcdef".contains(&serial.to_ascii_lowercase()));
    assert_eq!(
        host_model(dir.path())
            .get("Device.DeviceInfo.SerialNumber")
            .unwrap(),
        text(serial)
    );
}

#[test]
fn uptime_is_read_lazily_at_each_get() {
    let dir = tempfile::tempdir().unwrap();
    let model = host_model(dir.path());
    assert_eq!(
        model.get("Device.DeviceInfo.UpTime").unwrap(),
        Value::UnsignedInt(12345)
    );
    write(dir.path(), "proc/uptime", "20000.01 1.0\n");
    assert_eq!(
        model.get("Device.DeviceInfo.UpTime").unwrap(),
        Value::UnsignedInt(20000)
    );
}

#[test]
fn cpu_usage_is_the_busy_share_of_jiffies_since_the_previous_read() {
    let dir = tempfile::tempdir().unwrap();
    let model = host_model(dir.path());
    let cpu = || {
        model
            .get("Device.DeviceInfo.ProcessStatus.CPUUsage")
            .unwrap()
    };
    // First read: since boot. Busy 200 of 1000 jiffies (idle 700 + iowait 100).
    assert_eq!(cpu(), Value::UnsignedInt(20));
    // Next 100 jiffies: 75 busy, 25 idle.
    write(
        dir.path(),
        "proc/stat",
        "cpu  150 0 125 725 100 0 0 0 0 0\n",
    );
    assert_eq!(cpu(), Value::UnsignedInt(75));
    // No time passed: the previous answer.
    assert_eq!(cpu(), Value::UnsignedInt(75));
}

#[test]
fn ethernet_interfaces_are_the_ethernet_links_numbered_by_ifindex() {
    let dir = tempfile::tempdir().unwrap();
    let model = host_model(dir.path());
    let get = |p: &str| model.get(p).unwrap();
    assert_eq!(
        get("Device.Ethernet.InterfaceNumberOfEntries"),
        Value::UnsignedInt(1)
    );
    let eth = "Device.Ethernet.Interface.2.";
    let p = |leaf: &str| format!("{eth}{leaf}");
    assert_eq!(get(&p("Name")), text("eth0"));
    assert_eq!(get(&p("Status")), text("Up"));
    assert_eq!(get(&p("Enable")), Value::Boolean(true));
    assert_eq!(get(&p("MACAddress")), text("52:54:00:12:34:56"));
    assert_eq!(get(&p("CurrentBitRate")), Value::UnsignedInt(1000));
    assert_eq!(get(&p("DuplexMode")), text("Full"));
    assert_eq!(
        get(&p("Stats.BytesSent")),
        Value::UnsignedLong(8_589_934_592)
    );
    assert_eq!(get(&p("Stats.BytesReceived")), Value::UnsignedLong(4096));
    // A 32-bit counter wraps.
    assert_eq!(get(&p("Stats.ErrorsSent")), Value::UnsignedInt(1));
    assert_eq!(
        get(&p("Stats.DiscardPacketsReceived")),
        Value::UnsignedInt(4)
    );
    assert_eq!(
        get(&p("Stats.MulticastPacketsReceived")),
        Value::UnsignedLong(5)
    );
    assert_eq!(
        model
            .get("Device.Ethernet.Interface.1.Name")
            .unwrap_err()
            .cwmp_fault_code(),
        9005,
        "the loopback is not an Ethernet interface"
    );
}

#[test]
fn ip_interfaces_carry_type_addresses_and_statistics() {
    let dir = tempfile::tempdir().unwrap();
    let model = host_model(dir.path());
    let get = |p: &str| model.get(p).unwrap();
    assert_eq!(
        get("Device.IP.InterfaceNumberOfEntries"),
        Value::UnsignedInt(2)
    );
    assert_eq!(get("Device.IP.Interface.1.Type"), text("Loopback"));
    assert_eq!(get("Device.IP.Interface.1.Status"), text("Up"));
    assert_eq!(get("Device.IP.Interface.2.Type"), text("Normal"));
    assert_eq!(
        get("Device.IP.Interface.2.LowerLayers"),
        text("Device.Ethernet.Interface.2")
    );
    assert_eq!(
        get("Device.IP.Interface.2.MaxMTUSize"),
        Value::UnsignedInt(1500)
    );
    assert_eq!(
        get("Device.IP.Interface.2.IPv4AddressNumberOfEntries"),
        Value::UnsignedInt(1)
    );
    assert_eq!(
        get("Device.IP.Interface.2.IPv4Address.1.IPAddress"),
        text("192.168.7.20")
    );
    assert_eq!(
        get("Device.IP.Interface.2.IPv4Address.1.SubnetMask"),
        text("255.255.255.0")
    );
    assert_eq!(
        get("Device.IP.Interface.2.IPv6Address.1.IPAddress"),
        text("fe80::5054:ff:fe12:3456")
    );
    assert_eq!(
        get("Device.IP.Interface.2.IPv6Address.1.Origin"),
        text("AutoConfigured")
    );
    assert_eq!(
        get("Device.IP.Interface.1.Stats.BytesSent"),
        Value::UnsignedLong(500)
    );
    assert_eq!(get("Device.IP.IPv6Capable"), Value::Boolean(true));
    // A whole-subtree GPV walks every served parameter without failing.
    let all = model.get_parameter_values(&["Device.IP."]).unwrap();
    assert!(
        all.iter()
            .any(|p| p.name == "Device.IP.Interface.2.Stats.PacketsReceived"
                && p.value == Value::UnsignedLong(20))
    );
}

#[test]
fn interfaces_follow_sys_class_net_without_restart() {
    let dir = tempfile::tempdir().unwrap();
    let model = host_model(dir.path());
    fake_interface(
        dir.path(),
        "eth1",
        7,
        1,
        &[("operstate", "down"), ("flags", "0x1002")],
    );
    assert_eq!(
        model
            .get("Device.Ethernet.InterfaceNumberOfEntries")
            .unwrap(),
        Value::UnsignedInt(2)
    );
    assert_eq!(
        model.get("Device.Ethernet.Interface.7.Status").unwrap(),
        text("Down")
    );
    fs::remove_dir_all(dir.path().join("sys/class/net/eth1")).unwrap();
    assert_eq!(
        model
            .get("Device.Ethernet.InterfaceNumberOfEntries")
            .unwrap(),
        Value::UnsignedInt(1)
    );
}

#[test]
fn hosts_are_the_complete_arp_entries() {
    let dir = tempfile::tempdir().unwrap();
    let model = host_model(dir.path());
    let get = |p: &str| model.get(p).unwrap();
    assert_eq!(
        get("Device.Hosts.HostNumberOfEntries"),
        Value::UnsignedInt(1)
    );
    assert_eq!(
        get("Device.Hosts.Host.1.PhysAddress"),
        text("52:54:00:aa:bb:cc")
    );
    assert_eq!(get("Device.Hosts.Host.1.IPAddress"), text("192.168.7.1"));
    assert_eq!(
        get("Device.Hosts.Host.1.Layer3Interface"),
        text("Device.IP.Interface.2")
    );
    assert_eq!(get("Device.Hosts.Host.1.Active"), Value::Boolean(true));
    assert_eq!(
        get("Device.Hosts.Host.1.IPv4Address.1.IPAddress"),
        text("192.168.7.1")
    );
}

#[test]
fn the_real_host_answers_a_whole_tree_gpv() {
    let host = HostRoot::system();
    let identity = Identity::resolve(&AgentConfig::default().identity, &host);
    let mut model = DataModel::new();
    register_host_handlers(&mut model, Arc::new(host), identity);
    let all = model.get_parameter_values(&["Device."]).unwrap();
    let uptime = all
        .iter()
        .find(|p| p.name == "Device.DeviceInfo.UpTime")
        .expect("UpTime is served");
    assert!(uptime.value.as_i128().unwrap() > 0);
    let total = model.get("Device.DeviceInfo.MemoryStatus.Total").unwrap();
    assert!(total.as_i128().unwrap() > 0);
}

#[test]
fn acs_cannot_change_host_network_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let mut model = host_model(dir.path());
    let err = model
        .set_parameter_values(
            &[SetParameterValue::new(
                "Device.Ethernet.Interface.2.Enable",
                Some("xsd:boolean"),
                "false",
            )],
            "k1",
        )
        .unwrap_err();
    assert_eq!(err.parameter_faults()[0].cwmp_fault_code(), 9001);
    assert_eq!(
        model
            .add_object("Device.IP.Interface.", "k2")
            .unwrap_err()
            .cwmp_fault_code(),
        9001
    );
    assert_eq!(
        model.get("Device.Ethernet.Interface.2.Enable").unwrap(),
        Value::Boolean(true)
    );
}

// ----------------------------------------------------------------------------------------
// CLI over the control socket
// ----------------------------------------------------------------------------------------

#[test]
fn display_cwmp_configuration_with_defaults_matches_the_documented_format() {
    let dir = tempfile::tempdir().unwrap();
    let agent = start_agent(dir.path());
    let reply = run_one(&agent.socket, "display cwmp configuration").unwrap();
    assert_eq!(reply.end, End::Ok("<Tether>".into()));
    assert_eq!(reply.output, DEFAULT_CONFIGURATION);
    agent.stop();
}

#[test]
fn configuration_session_sets_values_and_never_shows_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let agent = start_agent(dir.path());
    let replies = run_lines(&agent.socket, &CONFIGURE).unwrap();
    let prompts: Vec<End> = replies.iter().map(|r| r.end.clone()).collect();
    assert_eq!(
        prompts,
        [
            End::Ok("[Tether]".into()),
            End::Ok("[Tether-cwmp]".into()),
            End::Ok("[Tether-cwmp]".into()),
            End::Ok("[Tether-cwmp]".into()),
            End::Ok("[Tether-cwmp]".into()),
            End::Ok("[Tether]".into()),
        ]
    );

    let shown = run_one(&agent.socket, "display cwmp configuration")
        .unwrap()
        .output;
    assert!(
        shown.contains("CWMP state                          : Enabled\n"),
        "{shown}"
    );
    assert!(
        shown.contains("ACS URL                             : http://acs.example:7547/acs\n"),
        "{shown}"
    );

    let current = run_one(&agent.socket, "display current-configuration")
        .unwrap()
        .output;
    assert!(
        current.contains(" cwmp acs password cipher $c$3$"),
        "{current}"
    );
    assert!(!current.contains("secret"), "{current}");

    let saved = fs::read_to_string(dir.path().join("state/running.cfg")).unwrap();
    assert!(
        saved.contains("cwmp acs url http://acs.example:7547/acs"),
        "{saved}"
    );
    assert!(saved.contains("cwmp acs password cipher $c$3$"), "{saved}");
    assert!(!saved.contains("secret"), "{saved}");

    // The data model mirrors the CLI (H3C-04): the agent can read the real password, the ACS
    // reads it back empty.
    {
        let model = agent.ctx.model();
        assert_eq!(
            model.get("Device.ManagementServer.URL").unwrap(),
            text("http://acs.example:7547/acs")
        );
        assert_eq!(
            model.get("Device.ManagementServer.Password").unwrap(),
            text("secret")
        );
        let acs_view = model
            .get_parameter_values(&["Device.ManagementServer.Password"])
            .unwrap();
        assert_eq!(acs_view[0].value, text(""));
    }
    agent.stop();
    for file in ["datamodel.json", "agent.json", "running.cfg"] {
        let content = fs::read_to_string(dir.path().join("state").join(file)).unwrap();
        assert!(!content.contains("secret"), "{file}: {content}");
    }
}

#[test]
fn configuration_survives_an_agent_restart() {
    let dir = tempfile::tempdir().unwrap();
    let agent = start_agent(dir.path());
    run_lines(&agent.socket, &CONFIGURE).unwrap();
    agent.stop();
    assert!(!dir.path().join("state/control.sock").exists());

    let agent = start_agent(dir.path());
    let shown = run_one(&agent.socket, "display cwmp configuration")
        .unwrap()
        .output;
    assert!(
        shown.contains("CWMP state                          : Enabled\n"),
        "{shown}"
    );
    assert!(shown.contains(": http://acs.example:7547/acs\n"), "{shown}");
    assert_eq!(
        agent
            .ctx
            .model()
            .get("Device.ManagementServer.Password")
            .unwrap(),
        text("secret")
    );
    agent.stop();
}

#[test]
fn control_socket_and_state_files_are_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    let agent = start_agent(dir.path());
    run_lines(&agent.socket, &CONFIGURE).unwrap();
    let meta = fs::symlink_metadata(&agent.socket).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let state = dir.path().join("state");
    assert_eq!(
        fs::metadata(&state).unwrap().permissions().mode() & 0o777,
        0o700
    );
    for file in ["running.cfg", "agent.json", "device.key"] {
        let mode = fs::metadata(state.join(file)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{file}");
    }
    agent.stop();
}

#[test]
fn bad_command_returns_the_comware_caret_error() {
    let dir = tempfile::tempdir().unwrap();
    let agent = start_agent(dir.path());
    let reply = run_one(&agent.socket, "display cwmp foo").unwrap();
    assert!(reply.is_error());
    assert_eq!(
        reply.output,
        "<Tether>display cwmp foo\n                     ^\n % Unrecognized command found at '^' position.\n"
    );
    // The session goes on after an error, in the same view.
    let replies = run_lines(&agent.socket, &["system-view", "cwmp acs url x"]).unwrap();
    assert_eq!(replies[1].end, End::Error("[Tether]".into()));
    agent.stop();
}

#[test]
fn help_and_completion_are_answered_by_the_session() {
    let dir = tempfile::tempdir().unwrap();
    let agent = start_agent(dir.path());
    let help = run_one(&agent.socket, "display cwmp ?").unwrap();
    assert_eq!(help.end, End::Ok("<Tether>".into()));
    assert!(help.output.contains("configuration"), "{}", help.output);
    assert!(help.output.contains("status"), "{}", help.output);
    let mut client = tether_agent::Client::connect(&agent.socket).unwrap();
    assert_eq!(client.prompt(), "<Tether>");
    assert_eq!(client.complete("dis cw").unwrap(), vec!["dis cwmp"]);
    agent.stop();
}

#[test]
fn display_cwmp_status_shows_driver_status_and_acs_source() {
    let dir = tempfile::tempdir().unwrap();
    // The status is written by hand here, so the real CWMP client (which would try to reach
    // acs.example and overwrite it) stays off.
    let mut config = agent_config(&dir.path().join("state"));
    config.cwmp.enabled = false;
    let agent = TestAgent::start(config, fake_host(&dir.path().join("host"))).unwrap();
    run_lines(&agent.socket, &CONFIGURE).unwrap();
    agent.ctx.update_cwmp(|s: &mut CwmpLive| {
        s.last_acs_url = Some("http://acs.example:7547/acs".into());
        s.connection = ConnectionStatus::Connected;
        s.last_success_unix = Some(1_700_000_000);
    });
    let shown = run_one(&agent.socket, "display cwmp status")
        .unwrap()
        .output;
    assert!(
        shown.contains(
            "ACS URL of most recent connection             : http://acs.example:7547/acs\n"
        ),
        "{shown}"
    );
    assert!(
        shown.contains("ACS information source                        : User\n"),
        "{shown}"
    );
    assert!(
        shown.contains("Connection status                             : Connected\n"),
        "{shown}"
    );
    assert!(
        shown.contains("Most recent successful connection attempt     : 2023-11-14T22:13:20\n"),
        "{shown}"
    );
    agent.stop();
}

#[test]
fn configuration_changes_are_signalled_to_subscribers() {
    let dir = tempfile::tempdir().unwrap();
    let agent = start_agent(dir.path());
    let mut rx = agent.ctx.running().subscribe();
    run_lines(&agent.socket, &CONFIGURE).unwrap();
    assert!(rx.has_changed().unwrap());
    let snap = rx.borrow_and_update().clone();
    assert_eq!(snap.origin, Some(Setter::Cli));
    assert!(snap.config.cwmp.enabled);
    assert_eq!(
        snap.acs.as_ref().map(|a| a.url.as_str()),
        Some("http://acs.example:7547/acs")
    );
    agent.stop();
}

// ----------------------------------------------------------------------------------------
// ACS writes through the data model
// ----------------------------------------------------------------------------------------

#[test]
fn acs_writes_to_management_server_reach_the_cli_configuration_and_disk() {
    let dir = tempfile::tempdir().unwrap();
    let agent = start_agent(dir.path());
    agent
        .ctx
        .model()
        .set_parameter_values(
            &[
                SetParameterValue::new(
                    "Device.ManagementServer.URL",
                    Some("xsd:string"),
                    "https://acs2.example/cwmp",
                ),
                SetParameterValue::new(
                    "Device.ManagementServer.PeriodicInformInterval",
                    Some("xsd:unsignedInt"),
                    "3600",
                ),
                SetParameterValue::new(
                    "Device.ManagementServer.PeriodicInformEnable",
                    Some("xsd:boolean"),
                    "true",
                ),
                SetParameterValue::new(
                    "Device.ManagementServer.ConnectionRequestPassword",
                    Some("xsd:string"),
                    "cr secret",
                ),
            ],
            "key-1",
        )
        .unwrap();
    let shown = run_one(&agent.socket, "display cwmp configuration")
        .unwrap()
        .output;
    assert!(shown.contains(": https://acs2.example/cwmp\n"), "{shown}");
    assert!(
        shown.contains("Periodic inform                     : Enabled\n"),
        "{shown}"
    );
    assert!(
        shown.contains("Inform interval                     : 3600s\n"),
        "{shown}"
    );
    let provenance = agent
        .ctx
        .running()
        .with(|_, sel| sel.provenance(tether_agent::AcsAttribute::Url));
    assert_eq!(provenance.map(|p| p.setter), Some(Setter::Acs));
    let saved = fs::read_to_string(dir.path().join("state/running.cfg")).unwrap();
    assert!(
        saved.contains("cwmp acs url https://acs2.example/cwmp"),
        "{saved}"
    );
    assert!(saved.contains("cwmp cpe inform interval 3600"), "{saved}");
    assert!(!saved.contains("cr secret"), "{saved}");

    // Out of the CLI's range (10-86400): refused with 9007, nothing applied.
    let err = agent
        .ctx
        .model()
        .set_parameter_values(
            &[SetParameterValue::new(
                "Device.ManagementServer.PeriodicInformInterval",
                Some("xsd:unsignedInt"),
                "5",
            )],
            "key-2",
        )
        .unwrap_err();
    assert_eq!(err.parameter_faults()[0].cwmp_fault_code(), 9007);
    assert_eq!(agent.ctx.running().config().cwmp.inform_interval, 3600);
    agent.stop();
}

#[test]
fn cli_changes_to_mirrored_parameters_are_notified_per_their_attributes() {
    let dir = tempfile::tempdir().unwrap();
    let agent = start_agent(dir.path());
    agent
        .ctx
        .model()
        .set_parameter_attributes(&[SetParameterAttribute {
            name: "Device.ManagementServer.PeriodicInformInterval".into(),
            notification_change: true,
            notification: 2,
            access_list_change: false,
            access_list: Vec::new(),
        }])
        .unwrap();
    run_lines(
        &agent.socket,
        &[
            "system-view",
            "cwmp",
            "cwmp cpe inform interval 120",
            "cwmp enable",
        ],
    )
    .unwrap();
    let changes = agent.ctx.model().take_value_changes();
    assert_eq!(
        changes.active.iter().collect::<Vec<_>>(),
        ["Device.ManagementServer.PeriodicInformInterval"]
    );
    assert!(changes.passive.is_empty());
    agent.stop();
}

// ----------------------------------------------------------------------------------------
// Persistence
// ----------------------------------------------------------------------------------------

#[test]
fn a_temporary_left_by_an_interrupted_write_is_ignored_at_load() {
    let dir = tempfile::tempdir().unwrap();
    let agent = start_agent(dir.path());
    run_lines(&agent.socket, &CONFIGURE).unwrap();
    agent.stop();
    // A crash between writing the temporary and renaming it leaves a half file behind.
    let leftover = dir.path().join("state/.running.cfg.tmp");
    fs::write(&leftover, "cwmp\n cwmp acs url http://half").unwrap();
    let agent = start_agent(dir.path());
    assert_eq!(
        agent.ctx.running().config().cwmp.acs_url.as_deref(),
        Some("http://acs.example:7547/acs")
    );
    assert!(!leftover.exists());
    agent.stop();
}

#[test]
fn a_corrupt_running_config_stops_the_start_with_the_line_named() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    fs::create_dir_all(&state).unwrap();
    fs::write(
        state.join("running.cfg"),
        "cwmp\n cwmp enable\n cwmp acs url\n",
    )
    .unwrap();
    let err = TestAgent::start(agent_config(&state), fake_host(&dir.path().join("host")))
        .err()
        .expect("start must fail");
    match err {
        AgentError::CorruptState { path, reason } => {
            assert!(path.ends_with("running.cfg"));
            assert!(reason.starts_with("line 3"), "{reason}");
        }
        other => panic!("unexpected error {other}"),
    }
}

#[test]
fn data_model_state_round_trips_through_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let agent = start_agent(dir.path());
    {
        let mut model = agent.ctx.model();
        model
            .set_parameter_values(
                &[SetParameterValue::new(
                    "Device.Time.NTPServer1",
                    None,
                    "pool.ntp.org",
                )],
                "key-7",
            )
            .unwrap();
    }
    agent.stop();
    let agent = start_agent(dir.path());
    let model = agent.ctx.model();
    assert_eq!(
        model.get("Device.Time.NTPServer1").unwrap(),
        text("pool.ntp.org")
    );
    assert_eq!(
        model.get("Device.ManagementServer.ParameterKey").unwrap(),
        text("key-7")
    );
    drop(model);
    agent.stop();
}

#[test]
fn start_refuses_a_path_that_is_not_a_socket_and_removes_a_stale_one() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    fs::create_dir_all(&state).unwrap();
    let socket = state.join("control.sock");
    fs::write(&socket, "precious").unwrap();
    let err = TestAgent::start(agent_config(&state), fake_host(&dir.path().join("host")))
        .err()
        .expect("start must fail");
    assert!(matches!(err, AgentError::NotASocket(_)), "{err}");
    assert_eq!(fs::read_to_string(&socket).unwrap(), "precious");

    // A socket nobody listens on any more (an agent killed with -9) is replaced.
    fs::remove_file(&socket).unwrap();
    drop(std::os::unix::net::UnixListener::bind(&socket).unwrap());
    assert!(socket.exists());
    let agent = start_agent(dir.path());
    assert_eq!(
        run_one(&agent.socket, "display cwmp configuration")
            .unwrap()
            .output,
        DEFAULT_CONFIGURATION
    );

    // While it runs, a second agent on the same state directory is refused.
    let err = TestAgent::start(agent_config(&state), fake_host(&dir.path().join("host")))
        .err()
        .expect("second start must fail");
    assert!(matches!(err, AgentError::AlreadyRunning(_)), "{err}");
    agent.stop();
}

// ----------------------------------------------------------------------------------------
// ACS selection (H3C-01, H3C-02)
// ----------------------------------------------------------------------------------------

struct Acs {
    config: CwmpConfig,
    selection: AcsSelection,
    key: Vec<u8>,
    clock: i64,
}

impl Acs {
    fn new() -> Acs {
        Acs {
            config: CwmpConfig::default(),
            selection: AcsSelection::new(),
            key: vec![9; 32],
            clock: 0,
        }
    }

    fn by(&mut self, setter: Setter, command: Command) -> &mut Acs {
        self.clock += 1;
        self.config.apply(&command);
        self.selection.note(&command, setter, self.clock);
        self
    }

    fn dhcp(
        &mut self,
        url: Option<&str>,
        username: Option<&str>,
        password: Option<&str>,
    ) -> &mut Acs {
        let password = password.map(|p| Password::from_simple(p, &self.key).unwrap());
        self.selection.set_dhcp(Some(DhcpAcs {
            url: url.map(str::to_owned),
            username: username.map(str::to_owned),
            password,
            at_unix: self.clock,
        }));
        self
    }

    /// (URL, source, username, password in clear)
    fn effective(&self) -> Option<(String, AcsSource, Option<String>, Option<String>)> {
        self.selection.effective(&self.config).map(|e| {
            (
                e.url,
                e.source,
                e.username,
                e.password.map(|p| p.reveal(&self.key).unwrap()),
            )
        })
    }
}

fn url(u: &str) -> Command {
    Command::CwmpAcsUrl(Some(u.to_owned()))
}

fn some(
    url: &str,
    source: AcsSource,
    username: Option<&str>,
    password: Option<&str>,
) -> Option<(String, AcsSource, Option<String>, Option<String>)> {
    Some((
        url.to_owned(),
        source,
        username.map(str::to_owned),
        password.map(str::to_owned),
    ))
}

#[test]
fn acs_selection_priority_table() {
    let key = vec![9; 32];
    let pw = |p: &str| Some(Password::from_simple(p, &key).unwrap());

    // No source at all.
    assert_eq!(Acs::new().effective(), None);

    // The default URL alone, with the default credentials.
    let mut a = Acs::new();
    a.by(
        Setter::Cli,
        Command::CwmpAcsDefaultUrl(Some("http://default/acs".into())),
    )
    .by(
        Setter::Cli,
        Command::CwmpAcsDefaultUsername(Some("defuser".into())),
    )
    .by(Setter::Cli, Command::CwmpAcsDefaultPassword(pw("defpw")));
    assert_eq!(
        a.effective(),
        some(
            "http://default/acs",
            AcsSource::Default,
            Some("defuser"),
            Some("defpw")
        )
    );

    // DHCP beats the default, and the default credentials do not go with a DHCP URL.
    a.dhcp(Some("http://dhcp/acs"), None, None);
    assert_eq!(
        a.effective(),
        some("http://dhcp/acs", AcsSource::Dhcp, None, None)
    );
    a.dhcp(Some("http://dhcp/acs"), Some("duser"), Some("dpw"));
    assert_eq!(
        a.effective(),
        some(
            "http://dhcp/acs",
            AcsSource::Dhcp,
            Some("duser"),
            Some("dpw")
        )
    );

    // The CLI beats DHCP, attribute by attribute.
    a.by(Setter::Cli, url("http://cli/acs"));
    assert_eq!(
        a.effective(),
        some(
            "http://cli/acs",
            AcsSource::User,
            Some("duser"),
            Some("dpw")
        )
    );
    a.by(Setter::Cli, Command::CwmpAcsUsername(Some("cuser".into())));
    assert_eq!(
        a.effective(),
        some(
            "http://cli/acs",
            AcsSource::User,
            Some("cuser"),
            Some("dpw")
        )
    );

    // The ACS overwrites the CLI (later wins) ...
    a.by(Setter::Acs, url("http://acs-set/acs"));
    assert_eq!(a.effective().unwrap().0, "http://acs-set/acs");
    assert_eq!(
        a.selection
            .provenance(tether_agent::AcsAttribute::Url)
            .unwrap()
            .setter,
        Setter::Acs
    );
    // ... and the CLI overwrites the ACS.
    a.by(Setter::Cli, url("http://cli-again/acs"));
    assert_eq!(a.effective().unwrap().0, "http://cli-again/acs");
    assert_eq!(a.effective().unwrap().1, AcsSource::User);
    let p = a
        .selection
        .provenance(tether_agent::AcsAttribute::Url)
        .unwrap();
    assert_eq!((p.setter, p.at_unix), (Setter::Cli, a.clock));

    // Removing the preferred URL falls back to DHCP, then to the default.
    a.by(Setter::Cli, Command::CwmpAcsUrl(None));
    assert_eq!(a.effective().unwrap().1, AcsSource::Dhcp);
    a.dhcp(None, None, None);
    assert_eq!(
        a.effective(),
        some(
            "http://default/acs",
            AcsSource::Default,
            Some("defuser"),
            Some("defpw")
        )
    );
    a.by(Setter::Cli, Command::CwmpAcsDefaultUrl(None));
    assert_eq!(a.effective(), None);
}

#[test]
fn dhcp_url_reads_back_as_the_management_server_url_until_a_preferred_one_is_set() {
    let dir = tempfile::tempdir().unwrap();
    let agent = start_agent(dir.path());
    let running = agent.ctx.running();
    let rx = running.subscribe();
    assert!(running.set_dhcp(Some(DhcpAcs {
        url: Some("http://dhcp.example/acs".into()),
        ..DhcpAcs::default()
    })));
    assert!(rx.has_changed().unwrap());
    assert_eq!(
        agent
            .ctx
            .model()
            .get("Device.ManagementServer.URL")
            .unwrap(),
        text("http://dhcp.example/acs")
    );
    let status = run_one(&agent.socket, "display cwmp status")
        .unwrap()
        .output;
    assert!(
        status.contains("ACS information source                        : DHCP\n"),
        "{status}"
    );
    // The preferred URL from the CLI wins.
    run_lines(
        &agent.socket,
        &["system-view", "cwmp", "cwmp acs url http://cli.example/acs"],
    )
    .unwrap();
    assert_eq!(
        agent
            .ctx
            .model()
            .get("Device.ManagementServer.URL")
            .unwrap(),
        text("http://cli.example/acs")
    );
    agent.stop();
}
