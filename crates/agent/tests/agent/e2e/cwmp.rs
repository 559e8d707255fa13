//! CWMP end to end: the agent's CWMP client against the server's ACS. Tasks are created through
//! the REST API with `?connection_request=true&wait=30`, so each one travels: API → store →
//! the server's connection-request client (Digest with the agent's CR credentials) → the
//! agent's CR listener → a session with `6 CONNECTION REQUEST` → the RPC → the stored result.

use serde_json::{Value, json};
use tempfile::TempDir;
use tether_agent::AgentConfig;
use tether_agent::cwmp::connection_request::RATE_REFILL;
use tether_server::ServerConfig;
use tether_server::config::{TlsConfig, TlsMode};
use tether_store::Credentials;

use super::{Api, Dev, Srv, server_config, until};
use crate::cwmp::{Acs, cpe_config};

const FLEET_USER: &str = "fleet";
const FLEET_PASS: &str = "fleet-pass-1";
const CR_USER: &str = "cr-user";
const CR_PASS: &str = "cr-pass-1";

/// The device id the server gives the agent: `OUI-ProductClass-Serial` of its defaults, with
/// `-` inside a field escaped as `%2D` (TR-069 §3.4.4).
fn device_id(serial: &str) -> String {
    format!("000000-tether%2Dagent-{}", serial.replace('-', "%2D"))
}

/// `id` as a URL path segment.
fn url_id(id: &str) -> String {
    id.replace('%', "%25")
}

/// The value of `label` in a `display` output (`label   : value`).
fn field(text: &str, label: &str) -> Option<String> {
    text.lines()
        .find(|l| l.starts_with(label))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_owned())
}

/// The `(code, command_key)` pairs of the device's most recent Inform, as the server stored it.
fn events(device: &Value) -> Vec<(String, String)> {
    device["last_inform_events"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    (
                        e["code"].as_str().unwrap_or_default().to_owned(),
                        e["command_key"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn has_event(device: &Value, code: &str, key: &str) -> bool {
    events(device).contains(&(code.to_owned(), key.to_owned()))
}

/// Polls the device on the server until `pred` holds.
async fn device_until(
    api: &Api,
    id: &str,
    secs: u64,
    what: &str,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    until(secs, what, async || {
        let (status, body) = api
            .call("GET", &format!("/api/v1/devices/{}", url_id(id)), None)
            .await;
        if status == 200 && pred(&body) {
            Ok(body)
        } else {
            Err(format!("{status} {body}"))
        }
    })
    .await
}

/// A server (unknown devices accepted for `alice`, whose default CPE credentials are the
/// fleet's) and one agent pointed at it with those credentials and CR credentials.
struct Pair {
    dir: TempDir,
    srv: Srv,
    admin: Api,
    dev: Dev,
    id: String,
    agent_config: AgentConfig,
    owner: i64,
    last_cr: tokio::sync::Mutex<Option<tokio::time::Instant>>,
}

fn acs_url(srv: &Srv) -> String {
    format!("http://127.0.0.1:{}/cwmp", srv.handle.cwmp_addr.port())
}

/// Starts a server from `config` with account `owner` as the default owner of new devices,
/// with the fleet's default CPE credentials. Returns the server and its admin API.
async fn acs_server(config: ServerConfig, owner: &str, user: &str, pass: &str) -> (Srv, Api, i64) {
    let mut config = config;
    config.cwmp.default_owner = Some(owner.into());
    let srv = Srv::start(config).await;
    let admin = srv.admin();
    let (owner_id, _) = admin.account(owner).await;
    admin
        .send(
            "PUT",
            &format!("/api/v1/accounts/{owner_id}/cpe-credentials"),
            json!({"username": user, "password": pass}),
            204,
        )
        .await;
    (srv, admin, owner_id)
}

/// The CLI lines pointing the agent at `url` with the given ACS credentials and the test CR
/// credentials.
async fn point_agent(dev: &Dev, url: &str, user: &str, pass: &str) {
    let user = format!("cwmp acs username {user}");
    let pass = format!("cwmp acs password simple {pass}");
    let url = format!("cwmp acs url {url}");
    let cr_user = format!("cwmp cpe username {CR_USER}");
    let cr_pass = format!("cwmp cpe password simple {CR_PASS}");
    dev.configure(&[
        "cwmp",
        &user,
        &pass,
        &cr_user,
        &cr_pass,
        "cwmp enable",
        &url,
        "quit",
    ])
    .await;
}

impl Pair {
    async fn start(serial: &str, tweak: impl FnOnce(&mut ServerConfig, &mut AgentConfig)) -> Pair {
        let dir = tempfile::tempdir().unwrap();
        let mut config = server_config(&dir.path().join("server"));
        let mut agent_config = cpe_config(&dir.path().join("agent"));
        agent_config.identity.serial_number = Some(serial.into());
        tweak(&mut config, &mut agent_config);
        let (srv, admin, owner) = acs_server(config, "alice", FLEET_USER, FLEET_PASS).await;
        let dev = Dev::start(&dir.path().join("agent"), agent_config.clone()).await;
        let url = if srv.config.cwmp.tls.mode == TlsMode::Off {
            acs_url(&srv)
        } else {
            format!("https://localhost:{}/cwmp", srv.handle.cwmp_addr.port())
        };
        point_agent(&dev, &url, FLEET_USER, FLEET_PASS).await;
        let id = device_id(serial);
        until(30, "the first session", async || {
            let (status, d) = admin
                .call("GET", &format!("/api/v1/devices/{}", url_id(&id)), None)
                .await;
            if status == 200
                && has_event(&d, "1 BOOT", "")
                && d["connection_request_url"].is_string()
            {
                Ok(())
            } else {
                let agent = dev.cli("display cwmp status").await.output;
                let all = admin.get("/api/v1/devices").await;
                Err(format!("server: {status} {d}\nall: {all}\nagent:\n{agent}"))
            }
        })
        .await;
        // The ACS provisions connection-request credentials on the agent in its first
        // session (replacing the ones configured through the CLI) and keeps them.
        until(
            30,
            "connection-request credentials provisioned",
            async || {
                let (_, d) = admin
                    .call("GET", &format!("/api/v1/devices/{}", url_id(&id)), None)
                    .await;
                if d["connection_request_credentials"] == "provisioned" {
                    Ok(())
                } else {
                    Err(format!("{d}"))
                }
            },
        )
        .await;
        Pair {
            dir,
            srv,
            admin,
            dev,
            id,
            agent_config,
            owner,
            last_cr: tokio::sync::Mutex::new(None),
        }
    }

    /// Creates a task, sends a connection request and waits (up to 30 s) for the outcome.
    /// Connection requests are paced at the agent's refill rate: a burst beyond
    /// `RATE_BURST` is answered 503 by design (CR-05), which is not what these tests are about.
    async fn task(&self, spec: Value) -> Value {
        let mut last = self.last_cr.lock().await;
        if let Some(at) = *last {
            tokio::time::sleep_until(at + RATE_REFILL).await;
        }
        *last = Some(tokio::time::Instant::now());
        task(&self.admin, &self.id, spec).await
    }

    async fn stop(self) {
        self.dev.stop().await;
        self.srv.stop().await;
        drop(self.dir);
    }
}

async fn task(api: &Api, id: &str, spec: Value) -> Value {
    api.send(
        "POST",
        &format!(
            "/api/v1/devices/{}/tasks?connection_request=true&wait=30",
            url_id(id)
        ),
        spec,
        201,
    )
    .await
}

/// Overrides the connection-request credentials the server uses for a device (as an operator
/// would with `PUT /api/v1/devices/{id}/connection-request-credentials`).
async fn set_cr_credentials(srv: &Srv, id: &str, username: &str, password: &str) {
    srv.store()
        .set_connection_request_credentials(
            id,
            Some(&Credentials {
                username: username.into(),
                password: password.into(),
            }),
        )
        .await
        .unwrap();
}

/// Asserts that `task` went out through a connection request and is done.
fn assert_done_via_cr(task: &Value) {
    assert_eq!(task["connection_request"]["status"], "sent", "{task}");
    assert_eq!(task["state"], "done", "{task}");
}

async fn metric(api: &Api, name: &str) -> f64 {
    let (status, body) = api.call("GET", "/metrics", None).await;
    assert_eq!(status, 200);
    body.as_str()
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

// ----------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cwmp_first_contact_registers_the_device_with_bootstrap_boot_and_forced_parameters() {
    let pair = Pair::start("E2E-FIRST", |_, _| {}).await;
    let device = pair
        .admin
        .get(&format!("/api/v1/devices/{}", url_id(&pair.id)))
        .await;
    assert!(has_event(&device, "0 BOOTSTRAP", ""), "{device}");
    assert!(has_event(&device, "1 BOOT", ""), "{device}");
    assert_eq!(device["serial_number"], "E2E-FIRST");
    assert_eq!(device["oui"], "000000");
    assert_eq!(device["product_class"], "tether-agent");
    assert_eq!(device["manufacturer"], "Tether");
    // Registered for the default owner, whose fleet credentials it authenticated with.
    assert_eq!(device["owner"], pair.owner, "{device}");
    let params = device["parameters"].as_array().unwrap();
    let value = |name: &str| {
        params
            .iter()
            .find(|p| p["name"] == name)
            .and_then(|p| p["value"].as_str())
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("{name} not stored: {device}"))
    };
    assert_eq!(
        value("Device.DeviceInfo.SoftwareVersion"),
        env!("CARGO_PKG_VERSION")
    );
    assert!(!value("Device.DeviceInfo.HardwareVersion").is_empty());
    assert_eq!(value("Device.ManagementServer.ParameterKey"), "");
    let cr_url = value("Device.ManagementServer.ConnectionRequestURL");
    assert!(cr_url.starts_with("http://127.0.0.1:"), "{cr_url}");
    assert_eq!(device["connection_request_url"], cr_url.as_str());
    // The agent's side: the session succeeded.
    let status = pair.dev.cli("display cwmp status").await.output;
    assert_eq!(
        field(&status, "ACS URL of most recent connection").as_deref(),
        Some(acs_url(&pair.srv).as_str()),
        "{status}"
    );
    assert_ne!(
        field(&status, "Most recent successful connection attempt").as_deref(),
        Some("None"),
        "{status}"
    );
    pair.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cwmp_per_device_digest_credentials_refuse_a_wrong_password_and_admit_the_right_one() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Srv::start(server_config(&dir.path().join("server"))).await;
    let admin = srv.admin();
    // Pre-registered with its own credentials through the API.
    let registered = admin
        .send(
            "POST",
            "/api/v1/devices",
            json!({"oui": "000000", "product_class": "tether-agent", "serial_number": "E2E-AUTH",
                   "cpe_credentials": {"username": "dev-user", "password": "right-pass-1"}}),
            201,
        )
        .await;
    let id = registered["id"].as_str().unwrap().to_owned();
    assert_eq!(id, device_id("E2E-AUTH"));
    let failures_before = metric(&admin, "tether_cwmp_auth_failures_total").await;

    let mut config = cpe_config(&dir.path().join("agent"));
    config.identity.serial_number = Some("E2E-AUTH".into());
    let dev = Dev::start(&dir.path().join("agent"), config).await;
    point_agent(&dev, &acs_url(&srv), "dev-user", "wrong-pass-1").await;

    // The agent is refused: not connected, no successful attempt, a retry pending.
    let status = until(30, "a refused session", async || {
        let out = dev.cli("display cwmp status").await.output;
        let refused = field(&out, "Connection status").as_deref() == Some("Disconnected")
            && field(&out, "Most recent successful connection attempt").as_deref() == Some("None")
            && field(&out, "Length of time before next connection attempt")
                .is_some_and(|v| v != "None");
        if refused { Ok(out) } else { Err(out) }
    })
    .await;
    assert_eq!(
        field(&status, "ACS username of most recent connection").as_deref(),
        Some("dev-user"),
        "{status}"
    );
    // The server counted the failure and recorded no Inform.
    until(10, "the auth failure counted", async || {
        let now = metric(&admin, "tether_cwmp_auth_failures_total").await;
        if now > failures_before {
            Ok(())
        } else {
            Err(format!("{now} (before: {failures_before})"))
        }
    })
    .await;
    let device = admin.get(&format!("/api/v1/devices/{}", url_id(&id))).await;
    assert!(device["last_inform_at"].is_null(), "{device}");

    // The right password: the next retry gets in.
    dev.configure(&["cwmp", "cwmp acs password simple right-pass-1", "quit"])
        .await;
    let device = device_until(&admin, &id, 40, "an accepted Inform", |d| {
        d["last_inform_at"].is_string()
    })
    .await;
    assert!(has_event(&device, "0 BOOTSTRAP", ""), "{device}");
    until(10, "a successful attempt on the agent", async || {
        let out = dev.cli("display cwmp status").await.output;
        if field(&out, "Most recent successful connection attempt").is_some_and(|v| v != "None") {
            Ok(())
        } else {
            Err(out)
        }
    })
    .await;
    dev.stop().await;
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cwmp_parameter_tasks_reach_the_agent_through_connection_requests() {
    let pair = Pair::start("E2E-RPC", |_, _| {}).await;
    let after_cr = async || {
        let d = pair
            .admin
            .get(&format!("/api/v1/devices/{}", url_id(&pair.id)))
            .await;
        assert!(has_event(&d, "6 CONNECTION REQUEST", ""), "{d}");
    };

    // GetParameterNames.
    let t = pair
        .task(json!({"kind": "GetParameterNames", "path": "Device.ManagementServer.", "next_level": true}))
        .await;
    assert_done_via_cr(&t);
    after_cr().await;
    let names: Vec<&str> = t["result"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert!(names.contains(&"Device.ManagementServer.URL"), "{t}");
    assert!(
        names.contains(&"Device.ManagementServer.PeriodicInformInterval"),
        "{t}"
    );

    // GetParameterValues: a host value read from the fake /proc.
    let t = pair
        .task(json!({"kind": "GetParameterValues", "names": ["Device.DeviceInfo.UpTime"]}))
        .await;
    assert_done_via_cr(&t);
    assert_eq!(t["result"]["values"][0]["value"], "12345", "{t}");

    // SetParameterValues, then GetParameterValues shows the new value; the CLI too.
    let interval = "Device.ManagementServer.PeriodicInformInterval";
    let t = pair
        .task(
            json!({"kind": "SetParameterValues", "parameter_key": "spv-1",
                     "values": [{"name": interval, "value": "1234", "type": "xsd:unsignedInt"}]}),
        )
        .await;
    assert_done_via_cr(&t);
    assert_eq!(t["result"]["status"], 0, "{t}");
    let t = pair
        .task(json!({"kind": "GetParameterValues", "names": [interval, "Device.ManagementServer.ParameterKey"]}))
        .await;
    assert_done_via_cr(&t);
    assert_eq!(t["result"]["values"][0]["value"], "1234", "{t}");
    assert_eq!(t["result"]["values"][1]["value"], "spv-1", "{t}");
    let shown = pair.dev.cli("display cwmp configuration").await.output;
    assert_eq!(
        field(&shown, "Inform interval").as_deref(),
        Some("1234s"),
        "{shown}"
    );

    // SetParameterAttributes, then GetParameterAttributes.
    let t = pair
        .task(json!({"kind": "SetParameterAttributes", "attributes": [{"name": interval, "notification": 2}]}))
        .await;
    assert_done_via_cr(&t);
    let t = pair
        .task(json!({"kind": "GetParameterAttributes", "names": [interval]}))
        .await;
    assert_done_via_cr(&t);
    assert_eq!(t["result"]["attributes"][0]["name"], interval, "{t}");
    assert_eq!(t["result"]["attributes"][0]["notification"], 2, "{t}");

    // AddObject, then DeleteObject of the new instance.
    let table = "Device.ManagementServer.InformParameter.";
    let t = pair
        .task(json!({"kind": "AddObject", "object": table, "parameter_key": "add-1"}))
        .await;
    assert_done_via_cr(&t);
    let n = t["result"]["instance_number"].as_u64().expect("instance");
    assert!(n >= 1, "{t}");
    let instance = format!("{table}{n}.");
    let listed = |t: &Value| {
        t["result"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == instance.as_str())
    };
    let t = pair
        .task(json!({"kind": "GetParameterNames", "path": table, "next_level": true}))
        .await;
    assert_done_via_cr(&t);
    assert!(listed(&t), "{instance} missing: {t}");
    let t = pair
        .task(json!({"kind": "DeleteObject", "object": instance, "parameter_key": "del-1"}))
        .await;
    assert_done_via_cr(&t);
    assert_eq!(t["result"]["status"], 0, "{t}");
    let t = pair
        .task(json!({"kind": "GetParameterNames", "path": table, "next_level": true}))
        .await;
    assert_done_via_cr(&t);
    assert!(!listed(&t), "{instance} still there: {t}");

    // ScheduleInform: done at once, then a session with 3 SCHEDULED + M ScheduleInform.
    let t = pair
        .task(json!({"kind": "ScheduleInform", "delay_seconds": 1, "command_key": "si-1"}))
        .await;
    assert_done_via_cr(&t);
    device_until(&pair.admin, &pair.id, 20, "3 SCHEDULED", |d| {
        has_event(d, "3 SCHEDULED", "") && has_event(d, "M ScheduleInform", "si-1")
    })
    .await;
    pair.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cwmp_cpe_faults_and_wrong_connection_request_credentials_are_reported() {
    let pair = Pair::start("E2E-FAULT", |_, _| {}).await;
    // A value of the wrong type: the agent faults the SetParameterValues.
    let name = "Device.ManagementServer.PeriodicInformInterval";
    let t = pair
        .task(json!({"kind": "SetParameterValues",
                     "values": [{"name": name, "value": "true", "type": "xsd:boolean"}]}))
        .await;
    assert_eq!(t["connection_request"]["status"], "sent", "{t}");
    assert_eq!(t["state"], "faulted", "{t}");
    let task_id = t["id"].as_i64().unwrap();
    let faults = pair
        .admin
        .get(&format!("/api/v1/devices/{}/faults", url_id(&pair.id)))
        .await;
    let fault = faults["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["task_id"] == task_id)
        .unwrap_or_else(|| panic!("no fault for task {task_id}: {faults}"))
        .clone();
    assert_eq!(fault["code"], "9003", "{fault}");
    let per_param = &fault["detail"]["set_parameter_values_faults"][0];
    assert_eq!(per_param["parameter"], name, "{fault}");
    assert_eq!(per_param["code"], 9006, "{fault}");

    // Wrong connection-request credentials on the server: auth_failed, the task waits.
    let provisioned = pair
        .srv
        .store()
        .device(&pair.id)
        .await
        .unwrap()
        .unwrap()
        .connection_request_credentials
        .expect("provisioned credentials");
    set_cr_credentials(
        &pair.srv,
        &pair.id,
        &provisioned.username,
        "not-the-cr-password",
    )
    .await;
    let t = task(
        &pair.admin,
        &pair.id,
        json!({"kind": "GetParameterValues", "names": ["Device.DeviceInfo.UpTime"]}),
    )
    .await;
    assert_eq!(
        t["connection_request"]["error"]["code"], "auth_failed",
        "{t}"
    );
    assert_eq!(t["state"], "pending", "{t}");
    let pending = t["id"].as_i64().unwrap();
    // Right credentials again: the next connection request runs both.
    set_cr_credentials(
        &pair.srv,
        &pair.id,
        &provisioned.username,
        &provisioned.password,
    )
    .await;
    let t = pair
        .task(json!({"kind": "GetParameterValues", "names": ["Device.DeviceInfo.UpTime"]}))
        .await;
    assert_done_via_cr(&t);
    let earlier = pair.admin.get(&format!("/api/v1/tasks/{pending}")).await;
    assert_eq!(earlier["state"], "done", "{earlier}");
    pair.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cwmp_reboot_and_factory_reset_tasks_lead_to_boot_and_bootstrap_sessions() {
    let pair = Pair::start("E2E-BOOT", |_, _| {}).await;
    let t = pair
        .task(json!({"kind": "Reboot", "command_key": "rb-1"}))
        .await;
    assert_done_via_cr(&t);
    // No reboot command: the agent restarts its sessions (soft reboot).
    let d = device_until(&pair.admin, &pair.id, 30, "1 BOOT + M Reboot", |d| {
        has_event(d, "M Reboot", "rb-1")
    })
    .await;
    assert!(has_event(&d, "1 BOOT", ""), "{d}");
    assert!(!has_event(&d, "0 BOOTSTRAP", ""), "{d}");

    let t = pair.task(json!({"kind": "FactoryReset"})).await;
    assert_done_via_cr(&t);
    let d = device_until(&pair.admin, &pair.id, 30, "0 BOOTSTRAP after reset", |d| {
        has_event(d, "0 BOOTSTRAP", "")
    })
    .await;
    assert!(has_event(&d, "1 BOOT", ""), "{d}");
    pair.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cwmp_download_and_upload_tasks_complete_with_transfer_complete() {
    // A file server and PUT receiver (the spec-written test ACS serves files and takes
    // uploads; only its HTTP file side is used here).
    let files = Acs::start().await;
    let content = b"vendor configuration payload\n".to_vec();
    files.with(|s| {
        s.files.insert("/files/cfg.txt".into(), content.clone());
    });
    let marker_dir = tempfile::tempdir().unwrap();
    let marker = marker_dir.path().join("applied");
    let hook = format!(
        "cp \"$1\" {0} && printf '%s' \"$2\" > {0}.type",
        marker.display()
    );
    let pair = Pair::start("E2E-XFER", move |_, agent| {
        agent.download_hook = Some(hook);
    })
    .await;

    let t = pair
        .task(
            json!({"kind": "Download", "file_type": "3 Vendor Configuration File",
                     "url": format!("http://{}/files/cfg.txt", files.addr),
                     "file_size": content.len(), "target_file_name": "cfg.txt",
                     "command_key": "dl-1"}),
        )
        .await;
    assert_eq!(t["connection_request"]["status"], "sent", "{t}");
    assert_eq!(t["state"], "done", "{t}");
    assert_eq!(t["result"]["confirmed_by"], "TransferComplete", "{t}");
    assert_eq!(std::fs::read(&marker).unwrap(), content);
    assert_eq!(
        std::fs::read_to_string(marker.with_extension("type")).unwrap(),
        "3 Vendor Configuration File"
    );
    let d = pair
        .admin
        .get(&format!("/api/v1/devices/{}", url_id(&pair.id)))
        .await;
    assert!(has_event(&d, "7 TRANSFER COMPLETE", ""), "{d}");
    assert!(has_event(&d, "M Download", "dl-1"), "{d}");

    let t = pair
        .task(
            json!({"kind": "Upload", "file_type": "1 Vendor Configuration File",
                     "url": format!("http://{}/up/running.cfg", files.addr),
                     "command_key": "up-1"}),
        )
        .await;
    assert_eq!(t["connection_request"]["status"], "sent", "{t}");
    assert_eq!(t["state"], "done", "{t}");
    let uploads = files.with(|s| s.uploads.clone());
    let (path, body) = uploads.first().expect("an upload arrived");
    assert_eq!(path, "/up/running.cfg");
    let text = String::from_utf8(body.clone()).unwrap();
    assert!(
        text.contains(&format!("cwmp acs url {}", acs_url(&pair.srv))),
        "{text}"
    );
    pair.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cwmp_change_acs_moves_the_agent_to_a_second_server_with_bootstrap() {
    let pair = Pair::start("E2E-MOVE", |_, _| {}).await;
    let second_dir = tempfile::tempdir().unwrap();
    let (second, second_admin, _) = acs_server(
        server_config(second_dir.path()),
        "bob",
        "fleet-b",
        "fleet-b-pass",
    )
    .await;
    let url = acs_url(&second);
    let t = pair
        .task(json!({"kind": "ChangeAcs", "url": url, "username": "fleet-b", "password": "fleet-b-pass"}))
        .await;
    assert_done_via_cr(&t);
    let d = device_until(
        &second_admin,
        &pair.id,
        30,
        "the Inform on the second server",
        |d| has_event(d, "0 BOOTSTRAP", ""),
    )
    .await;
    assert_eq!(d["serial_number"], "E2E-MOVE");
    let status = pair.dev.cli("display cwmp status").await.output;
    assert_eq!(
        field(&status, "ACS URL of most recent connection").as_deref(),
        Some(url.as_str()),
        "{status}"
    );
    let shown = pair.dev.cli("display cwmp configuration").await.output;
    assert_eq!(field(&shown, "ACS URL").as_deref(), Some(url.as_str()));
    assert_eq!(field(&shown, "ACS username").as_deref(), Some("fleet-b"));
    second.stop().await;
    pair.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cwmp_configuration_and_identity_survive_an_agent_restart() {
    let pair = Pair::start("E2E-RESTART", |_, _| {}).await;
    let before = pair
        .admin
        .get(&format!("/api/v1/devices/{}", url_id(&pair.id)))
        .await;
    let Pair {
        dir,
        srv,
        admin,
        dev,
        id,
        agent_config,
        ..
    } = pair;
    dev.stop().await;
    let dev = Dev::start(&dir.path().join("agent"), agent_config).await;
    // No CLI this time: the saved configuration points it at the same ACS.
    let after = device_until(&admin, &id, 30, "an Inform after the restart", |d| {
        d["last_inform_at"] != before["last_inform_at"]
    })
    .await;
    assert!(has_event(&after, "1 BOOT", ""), "{after}");
    assert!(
        !has_event(&after, "0 BOOTSTRAP", ""),
        "same ACS, no bootstrap: {after}"
    );
    let listed = admin.get("/api/v1/devices?serial=E2E-RESTART").await;
    assert_eq!(listed["total"], 1, "one identity: {listed}");
    // The CR credentials survived too: a connection request to the new listener works.
    let t = task(
        &admin,
        &id,
        json!({"kind": "GetParameterValues", "names": ["Device.ManagementServer.Username"]}),
    )
    .await;
    assert_done_via_cr(&t);
    assert_eq!(t["result"]["values"][0]["value"], FLEET_USER, "{t}");
    dev.stop().await;
    srv.stop().await;
    drop(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cwmp_over_https_with_the_servers_self_signed_certificate() {
    let ca_dir = tempfile::tempdir().unwrap();
    let ca_file = ca_dir.path().join("acs-ca.pem");
    // The certificate exists only once the server starts: generate it first, as the server
    // would, in the data directory the pair will use.
    let pair = {
        let ca_file = ca_file.clone();
        Pair::start("E2E-TLS", move |server, agent| {
            server.cwmp.tls = TlsConfig {
                mode: TlsMode::SelfSigned,
                ..TlsConfig::default()
            };
            let (cert, _) = tether_server::tls::ensure_self_signed(&server.data_dir, &[]).unwrap();
            std::fs::copy(cert, &ca_file).unwrap();
            agent.cwmp.ca_file = Some(ca_file);
        })
        .await
    };
    let status = pair.dev.cli("display cwmp status").await.output;
    assert!(
        field(&status, "ACS URL of most recent connection")
            .is_some_and(|u| u.starts_with("https://localhost:")),
        "{status}"
    );
    let t = pair
        .task(json!({"kind": "GetParameterValues", "names": ["Device.DeviceInfo.UpTime"]}))
        .await;
    assert_done_via_cr(&t);
    assert_eq!(t["result"]["values"][0]["value"], "12345", "{t}");
    pair.stop().await;
}
