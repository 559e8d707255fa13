//! `tether ctl` as a user runs it (the built binary, arguments, environment and standard
//! input) against a real server started in this process on port 0 with SQLite in a temporary
//! directory; for `cloud terminal`, a real agent whose cloud client connects to that server.
//! Needs the `server` and `ctl` features (default ones).
#![cfg(all(feature = "server", feature = "ctl"))]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tether_agent::config::CloudTrustMode;
use tether_agent::{Agent, AgentConfig, AgentContext, HostRoot, run_lines};
use tether_server::config::Secs;
use tether_server::{Server, ServerConfig, ServerHandle};

/// A server on its own runtime, stopped on drop.
struct TestServer {
    runtime: tokio::runtime::Runtime,
    handle: Option<ServerHandle>,
    url: String,
    admin_password: String,
    dir: tempfile::TempDir,
}

impl TestServer {
    fn start() -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let mut config = ServerConfig {
            data_dir: dir.path().join("data"),
            shutdown_grace: Secs::from_secs(5),
            ..ServerConfig::default()
        };
        config.api.listen = "127.0.0.1:0".parse().unwrap();
        config.cwmp.listen = "127.0.0.1:0".parse().unwrap();
        config.cloud.listen = "127.0.0.1:0".parse().unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let handle = runtime
            .block_on(Server::start(config))
            .expect("server starts");
        let admin_password = handle
            .admin_bootstrap
            .as_ref()
            .and_then(|b| b.generated_password.clone())
            .expect("a generated admin password");
        TestServer {
            url: format!("http://{}", handle.api_addr),
            handle: Some(handle),
            runtime,
            admin_password,
            dir,
        }
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn cloud_port(&self) -> u16 {
        self.handle.as_ref().unwrap().cloud_addr.port()
    }

    /// `tether ctl ARGS` with the server URL and no credentials from the caller's environment.
    fn ctl(&self, args: &[&str], env: &[(&str, &str)], stdin: &str) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tether"));
        cmd.arg("ctl")
            .args(args)
            .env("TETHER_SERVER", &self.url)
            .env_remove("TETHER_TOKEN")
            .env_remove("TETHER_USER")
            .env_remove("TETHER_PASSWORD")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("tether runs");
        let mut pipe = child.stdin.take().unwrap();
        pipe.write_all(stdin.as_bytes()).unwrap();
        drop(pipe);
        child.wait_with_output().unwrap()
    }

    /// `tether ctl` as the admin (Basic, password in the environment).
    fn admin(&self, args: &[&str]) -> Output {
        self.ctl(
            args,
            &[
                ("TETHER_USER", "admin"),
                ("TETHER_PASSWORD", &self.admin_password),
            ],
            "",
        )
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            let _ = self.runtime.block_on(handle.shutdown());
        }
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[track_caller]
fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        stdout(o),
        stderr(o)
    );
    stdout(o)
}

#[track_caller]
fn json(o: &Output) -> Value {
    let text = ok(o);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}

#[test]
fn a_token_is_created_once_and_then_authenticates() {
    let server = TestServer::start();
    // Basic with the password on standard input (given before the subcommand).
    let created = server.ctl(
        &[
            "--user",
            "admin",
            "--password-stdin",
            "tokens",
            "create",
            "laptop",
        ],
        &[],
        &format!("{}\n", server.admin_password),
    );
    let token = ok(&created).trim().to_owned();
    assert!(token.len() >= 20, "{token:?}");
    assert!(
        stderr(&created).contains("shown only this once"),
        "{}",
        stderr(&created)
    );

    let listed = server.ctl(&["tokens", "list"], &[("TETHER_TOKEN", &token)], "");
    let text = ok(&listed);
    assert!(text.starts_with("ID  NAME"), "{text}");
    assert!(text.contains("laptop"), "{text}");
    assert!(!text.contains(&token), "the secret is never listed again");

    // The same through the flag, as JSON.
    let v = json(&server.ctl(&["--token", &token, "--json", "tokens", "list"], &[], ""));
    assert_eq!(v["items"][0]["name"], "laptop");
    let id = v["items"][0]["id"].as_i64().unwrap().to_string();

    ok(&server.ctl(&["tokens", "revoke", &id, "--token", &token], &[], ""));
    let after = server.ctl(&["tokens", "list"], &[("TETHER_TOKEN", &token)], "");
    assert_eq!(after.status.code(), Some(1));
    assert!(
        stderr(&after).starts_with("error: unauthorized: "),
        "{}",
        stderr(&after)
    );
}

#[test]
fn devices_are_listed_empty_then_after_a_pre_registration() {
    let server = TestServer::start();
    assert_eq!(ok(&server.admin(&["devices", "list"])), "No devices.\n");
    let v = json(&server.admin(&["devices", "list", "--json"]));
    assert_eq!(v["items"], serde_json::json!([]));
    assert_eq!(v["total"], 0);

    let reg = ok(&server.admin(&[
        "devices",
        "register",
        "00D09E",
        "SN0001",
        "--product-class",
        "Box",
    ]));
    assert_eq!(reg, "device 00D09E-Box-SN0001 registered\n");

    let text = ok(&server.admin(&["devices", "list"]));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].starts_with("ID  "), "{text}");
    let cells: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(
        cells,
        ["00D09E-Box-SN0001", "SN0001", "Box", "no", "-", "1"],
        "{text}"
    );

    let v = json(&server.admin(&["devices", "list", "--json", "--serial", "SN0001"]));
    assert_eq!(v["total"], 1);
    let v = json(&server.admin(&["devices", "list", "--json", "--online"]));
    assert_eq!(v["total"], 0);

    let shown = ok(&server.admin(&["devices", "show", "00D09E-Box-SN0001"]));
    assert!(shown.contains("serial number:"), "{shown}");
    assert!(shown.contains("SN0001"), "{shown}");
}

#[test]
fn tasks_are_created_listed_and_cancelled_on_a_pre_registered_device() {
    let server = TestServer::start();
    ok(&server.admin(&["devices", "register", "00D09E", "SN0002"]));
    let device = "00D09E-SN0002";

    let created = json(&server.admin(&[
        "tasks",
        "create",
        device,
        "--kind",
        "get",
        "--names",
        "Device.DeviceInfo.UpTime,Device.DeviceInfo.SoftwareVersion",
        "--json",
    ]));
    assert_eq!(created["kind"], "GetParameterValues");
    assert_eq!(created["state"], "pending");
    assert_eq!(
        created["spec"]["names"],
        serde_json::json!([
            "Device.DeviceInfo.UpTime",
            "Device.DeviceInfo.SoftwareVersion"
        ])
    );
    let id = created["id"].as_i64().unwrap().to_string();

    let set = ok(&server.admin(&[
        "tasks",
        "create",
        device,
        "--kind",
        "set",
        "Device.ManagementServer.PeriodicInformInterval=300:unsignedInt",
    ]));
    assert!(
        set.contains(": SetParameterValues for 00D09E-SN0002, pending"),
        "{set}"
    );

    let listed = ok(&server.admin(&["tasks", "list", device]));
    assert_eq!(listed.lines().count(), 3, "{listed}");
    assert!(listed.contains("GetParameterValues  pending"), "{listed}");

    assert_eq!(
        ok(&server.admin(&["tasks", "cancel", &id])),
        format!("task {id} cancelled\n")
    );
    let shown = ok(&server.admin(&["tasks", "show", &id]));
    assert!(shown.contains("cancelled"), "{shown}");
    assert!(shown.contains("Device.DeviceInfo.UpTime"), "{shown}");

    // Retried, it is pending again; retrying a pending task contradicts its state.
    assert_eq!(
        ok(&server.admin(&["tasks", "retry", &id])),
        format!("task {id} queued again (pending)\n")
    );
    let again = server.admin(&["tasks", "retry", &id]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).starts_with("error: conflict: "),
        "{}",
        stderr(&again)
    );

    // The server refuses a bad spec before anything is queued.
    let bad = server.admin(&[
        "tasks",
        "create",
        device,
        "--json-spec",
        r#"{"kind":"Nope"}"#,
    ]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).starts_with("error: invalid_task: "),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn errors_show_the_server_code_and_connection_failures_the_address() {
    let server = TestServer::start();
    let missing = server.admin(&["devices", "show", "NOPE-1"]);
    assert_eq!(missing.status.code(), Some(1));
    assert_eq!(
        stderr(&missing),
        "error: not_found: device \"NOPE-1\" not found\n"
    );
    assert!(stdout(&missing).is_empty());

    let task = server.admin(&["tasks", "create", "NOPE-1", "--kind", "reboot"]);
    assert_eq!(task.status.code(), Some(1));
    assert!(
        stderr(&task).starts_with("error: not_found: "),
        "{}",
        stderr(&task)
    );

    // Nobody listens on this port (bound, then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let down = server.ctl(
        &[
            "--server",
            &format!("http://127.0.0.1:{port}"),
            "devices",
            "list",
        ],
        &[],
        "",
    );
    assert_eq!(down.status.code(), Some(2));
    assert!(
        stderr(&down).starts_with(&format!("error: cannot connect to 127.0.0.1:{port}: ")),
        "{}",
        stderr(&down)
    );

    // No credentials at all.
    let anonymous = server.ctl(&["devices", "list"], &[], "");
    assert_eq!(anonymous.status.code(), Some(1));
    assert!(
        stderr(&anonymous).starts_with("error: unauthorized: "),
        "{}",
        stderr(&anonymous)
    );
}

#[test]
fn cloud_devices_are_added_and_listed() {
    let server = TestServer::start();
    assert_eq!(
        ok(&server.admin(&["cloud", "devices", "list"])),
        "No cloud devices.\n"
    );
    let added = server.ctl(
        &[
            "cloud",
            "devices",
            "add",
            "SN-CTL-1",
            "--password-stdin",
            "--name",
            "lab box",
        ],
        &[
            ("TETHER_USER", "admin"),
            ("TETHER_PASSWORD", &server.admin_password),
        ],
        "s3cret\n",
    );
    assert_eq!(ok(&added), "cloud device SN-CTL-1 added (owner 1)\n");

    let text = ok(&server.admin(&["cloud", "devices", "list"]));
    assert!(
        text.starts_with("SERIAL    NAME     STATE    OWNER"),
        "{text}"
    );
    assert!(text.contains("SN-CTL-1  lab box  offline  1"), "{text}");

    let twice = server.ctl(
        &["cloud", "devices", "add", "SN-CTL-1", "--no-password"],
        &[
            ("TETHER_USER", "admin"),
            ("TETHER_PASSWORD", &server.admin_password),
        ],
        "",
    );
    assert_eq!(twice.status.code(), Some(1));
    assert!(
        stderr(&twice).starts_with("error: conflict: "),
        "{}",
        stderr(&twice)
    );

    // Offline: the terminal is refused with the server's stable code.
    let term = server.admin(&["cloud", "terminal", "SN-CTL-1"]);
    assert_eq!(term.status.code(), Some(1));
    assert!(
        stderr(&term).starts_with("error: device_not_connected: "),
        "{}",
        stderr(&term)
    );

    ok(&server.admin(&["cloud", "devices", "delete", "SN-CTL-1"]));
    let gone = server.admin(&["cloud", "devices", "show", "SN-CTL-1"]);
    assert_eq!(
        stderr(&gone),
        "error: not_found: cloud device \"SN-CTL-1\" not found\n"
    );
}

// ----- a real agent for the terminal -----

/// An agent on its own thread and current-thread runtime, as `tether agent` runs.
struct TestAgent {
    socket: PathBuf,
    _ctx: Arc<AgentContext>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestAgent {
    fn start(config: AgentConfig, host: HostRoot) -> TestAgent {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let handle = Agent::start_with_host(config, host)
                    .await
                    .expect("agent starts");
                let _ = ready_tx.send((
                    Arc::clone(handle.context()),
                    handle.socket_path().to_owned(),
                ));
                let _ = stop_rx.await;
                let _ = handle.shutdown().await;
            });
        });
        let (ctx, socket) = ready_rx.recv().expect("agent ready");
        TestAgent {
            socket,
            _ctx: ctx,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
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

fn minimal_host(root: &Path) -> HostRoot {
    for (file, text) in [
        ("proc/uptime", "100.00 100.00\n"),
        ("proc/meminfo", "MemTotal: 1024 kB\nMemFree: 512 kB\n"),
        ("etc/machine-id", "00112233445566778899aabbccddeeff\n"),
    ] {
        let path = root.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    HostRoot::new(root)
}

#[test]
fn cloud_terminal_types_stdin_lines_into_the_device_cli() {
    const SERIAL: &str = "SN-CTL-TERM";
    let server = TestServer::start();
    ok(&server.ctl(
        &["cloud", "devices", "add", SERIAL, "--password-stdin"],
        &[
            ("TETHER_USER", "admin"),
            ("TETHER_PASSWORD", &server.admin_password),
        ],
        "term-secret\n",
    ));

    let dir = tempfile::tempdir().unwrap();
    let mut config = AgentConfig {
        state_dir: dir.path().join("state"),
        ..AgentConfig::default()
    };
    config.identity.serial_number = Some(SERIAL.into());
    config.cwmp.enabled = false;
    config.cloud.trust = CloudTrustMode::CaFile;
    config.cloud.ca_file = Some(server.data_dir().join("tls").join("self-signed-cert.pem"));
    config.cloud.request_timeout_secs = 5;
    config.cloud.backoff_initial_ms = 200;
    config.cloud.backoff_max_secs = 2;
    config.cloud.service_retry_secs = 1;
    let agent = TestAgent::start(config, minimal_host(&dir.path().join("host")));
    let port = format!("cloud-management server port {}", server.cloud_port());
    for reply in run_lines(
        &agent.socket,
        &[
            "system-view",
            "cloud-management server domain localhost",
            &port,
            "cloud-management server password simple term-secret",
        ],
    )
    .unwrap()
    {
        assert!(!reply.is_error(), "{}", reply.output);
    }

    // Wait, through ctl itself, for the tunnel and the terminal service.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let v = json(&server.admin(&["cloud", "devices", "show", SERIAL, "--json"]));
        let services = v["services"].as_array().cloned().unwrap_or_default();
        if v["state"] == "online" && services.iter().any(|s| s == "terminal") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "never online with a terminal: {v}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    let session = server.ctl(
        &["cloud", "terminal", SERIAL, "--linger", "1"],
        &[
            ("TETHER_USER", "admin"),
            ("TETHER_PASSWORD", &server.admin_password),
        ],
        "display cwmp configuration\n",
    );
    let text = ok(&session);
    assert!(
        text.contains("display cwmp configuration"),
        "echo missing:\n{text}"
    );
    assert!(
        text.contains("CWMP state                          : Disabled"),
        "{text}"
    );
    assert!(text.contains("ACS URL"), "{text}");
    // Non-interactive: no raw mode, no banner.
    assert!(!stderr(&session).contains("Ctrl-]"), "{}", stderr(&session));
    drop(agent);
}
