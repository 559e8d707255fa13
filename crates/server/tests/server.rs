//! The server over real sockets and real HTTP, on a real store: SQLite in a temporary data
//! directory, and for the `postgres` module a fresh PostgreSQL database per test (created on
//! the server at `TETHER_TEST_POSTGRES_URL`, default `postgres://postgres@127.0.0.1:5432/test`,
//! dropped afterwards; the tests fail, never skip, when it is unreachable).

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use serde_json::{Value, json};
use tether_server::config::{Secs, TlsMode};
use tether_server::{Server, ServerConfig, ServerHandle};

mod cloud;

// ----- harness -----

fn config_for(data_dir: &Path, database: Option<String>) -> ServerConfig {
    let mut c = ServerConfig {
        data_dir: data_dir.to_owned(),
        database,
        shutdown_grace: Secs::from_secs(5),
        ..ServerConfig::default()
    };
    c.api.listen = "127.0.0.1:0".parse().unwrap();
    c.cwmp.listen = "127.0.0.1:0".parse().unwrap();
    c.cloud.listen = "127.0.0.1:0".parse().unwrap();
    c
}

/// A started server plus what is needed to talk to it as admin.
struct Running {
    handle: ServerHandle,
    admin: String,
}

impl Running {
    async fn start(config: ServerConfig, admin_password: Option<&str>) -> Running {
        let handle = Server::start(config).await.expect("server starts");
        let password = handle
            .admin_bootstrap
            .as_ref()
            .and_then(|b| b.generated_password.clone())
            .or(admin_password.map(str::to_owned))
            .unwrap_or_default();
        Running {
            admin: basic("admin", &password),
            handle,
        }
    }

    fn api(&self) -> Client {
        Client {
            addr: self.handle.api_addr,
        }
    }

    async fn stop(self) {
        self.handle.shutdown().await.expect("clean shutdown");
    }
}

fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

struct Response {
    status: u16,
    headers: http::HeaderMap,
    body: Value,
}

#[derive(Clone, Copy)]
struct Client {
    addr: SocketAddr,
}

impl Client {
    async fn raw(
        &self,
        method: &str,
        path: &str,
        auth: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> Response {
        let stream = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .unwrap();
        tokio::spawn(conn);
        let mut req = http::Request::builder()
            .method(method)
            .uri(path)
            .header("host", "localhost");
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        if body.is_some() {
            req = req.header("content-type", "application/json");
        }
        let req = req
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .unwrap();
        let res = sender.send_request(req).await.unwrap();
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Response {
            status,
            headers,
            body,
        }
    }

    async fn get(&self, path: &str, auth: &str) -> Response {
        self.raw("GET", path, Some(auth), None).await
    }

    async fn send(&self, method: &str, path: &str, auth: &str, body: Value) -> Response {
        self.raw(
            method,
            path,
            Some(auth),
            Some(body.to_string().into_bytes()),
        )
        .await
    }
}

fn code(r: &Response) -> &str {
    r.body["error"]["code"].as_str().unwrap_or("<none>")
}

/// Creates an account (as admin) and a token for it; returns (account id, bearer header).
async fn account_with_token(api: Client, admin: &str, name: &str) -> (i64, String) {
    let password = format!("{name}-password-1");
    let r = api
        .send(
            "POST",
            "/api/v1/accounts",
            admin,
            json!({"name": name, "password": password}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_i64().unwrap();
    let r = api
        .send(
            "POST",
            "/api/v1/tokens",
            &basic(name, &password),
            json!({"name": "test"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    (id, bearer(r.body["token"].as_str().unwrap()))
}

async fn register(api: Client, auth: &str, serial: &str, class: &str) -> String {
    let r = api
        .send(
            "POST",
            "/api/v1/devices",
            auth,
            json!({"oui": "00D09E", "product_class": class, "serial_number": serial}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["id"].as_str().unwrap().to_owned()
}

/// The CWMP endpoint (ACS sessions, auth, tasks, connection requests): `tests/acs/`.
mod acs;

// ----- shared cases, run on both backends -----

mod cases {
    use super::*;

    pub async fn admin_token_and_basic_both_work(run: &Running) {
        let api = run.api();
        let r = api.raw("GET", "/api/v1/devices", None, None).await;
        assert_eq!(r.status, 401);
        assert_eq!(code(&r), "unauthorized");
        assert!(r.headers.contains_key("www-authenticate"));
        let r = api.get("/api/v1/devices", "Bearer nonsense").await;
        assert_eq!(r.status, 401);

        let r = api.get("/api/v1/accounts/me", &run.admin).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["admin"], true);
        let r = api
            .send("POST", "/api/v1/tokens", &run.admin, json!({"name": "ops"}))
            .await;
        assert_eq!(r.status, 201);
        let token = r.body["token"].as_str().unwrap().to_owned();
        let r = api.get("/api/v1/accounts/me", &bearer(&token)).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.body["name"], "admin");
        // Listed without the secret; revoked tokens stop working.
        let r = api.get("/api/v1/tokens", &bearer(&token)).await;
        assert_eq!(r.body["total"], 1);
        assert!(r.body["items"][0].get("token").is_none());
        let id = r.body["items"][0]["id"].as_i64().unwrap();
        let r = api
            .raw(
                "DELETE",
                &format!("/api/v1/tokens/{id}"),
                Some(&run.admin),
                None,
            )
            .await;
        assert_eq!(r.status, 204);
        assert_eq!(
            api.get("/api/v1/accounts/me", &bearer(&token)).await.status,
            401
        );
    }

    pub async fn isolation_between_accounts(run: &Running) {
        let api = run.api();
        let (_a_id, a) = account_with_token(api, &run.admin, "alice").await;
        let (_b_id, b) = account_with_token(api, &run.admin, "bob").await;
        let dev = register(api, &a, "ISO1", "HGW").await;
        let r = api
            .send(
                "POST",
                &format!("/api/v1/devices/{dev}/tasks"),
                &a,
                json!({"kind": "Reboot"}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let task = r.body["id"].as_i64().unwrap();
        let store = &run.handle.app().store;
        let fault = store
            .record_fault(&tether_store::NewFault {
                device_id: dev.clone(),
                task_id: None,
                code: "9002".into(),
                message: "m".into(),
                detail: json!({}),
                at: tether_server::clock::now(),
            })
            .await
            .unwrap();

        // Bob sees nothing and can operate nothing: always 404, never 403.
        for (method, path, body) in [
            ("GET", format!("/api/v1/devices/{dev}"), None),
            ("DELETE", format!("/api/v1/devices/{dev}"), None),
            ("GET", format!("/api/v1/devices/{dev}/tasks"), None),
            (
                "POST",
                format!("/api/v1/devices/{dev}/tasks"),
                Some(json!({"kind": "Reboot"})),
            ),
            ("GET", format!("/api/v1/devices/{dev}/faults"), None),
            ("DELETE", format!("/api/v1/devices/{dev}/faults"), None),
            (
                "PUT",
                format!("/api/v1/devices/{dev}/cpe-credentials"),
                Some(json!({"username": "u", "password": "p"})),
            ),
            ("GET", format!("/api/v1/tasks/{task}"), None),
            ("POST", format!("/api/v1/tasks/{task}/cancel"), None),
            ("POST", format!("/api/v1/tasks/{task}/retry"), None),
            ("DELETE", format!("/api/v1/faults/{}", fault.0), None),
        ] {
            let r = api
                .raw(
                    method,
                    &path,
                    Some(&b),
                    body.map(|b| b.to_string().into_bytes()),
                )
                .await;
            assert_eq!(r.status, 404, "{method} {path}: {}", r.body);
            assert_eq!(code(&r), "not_found");
        }
        for path in ["/api/v1/devices", "/api/v1/tasks", "/api/v1/faults"] {
            let r = api.get(path, &b).await;
            assert_eq!(r.status, 200);
            assert_eq!(r.body["total"], 0, "{path}");
        }
        // Nothing changed; Alice and the admin still see everything.
        for who in [&a, &run.admin] {
            assert_eq!(api.get("/api/v1/tasks", who).await.body["total"], 1);
            assert_eq!(api.get("/api/v1/faults", who).await.body["total"], 1);
            assert_eq!(api.get("/api/v1/devices", who).await.body["total"], 1);
        }
        let r = api.get(&format!("/api/v1/tasks/{task}"), &a).await;
        assert_eq!(r.body["state"], "pending");
        // Admin-only routes are forbidden to Bob.
        assert_eq!(api.get("/api/v1/accounts", &b).await.status, 403);
        // Alice may delete her own device.
        let r = api
            .raw("DELETE", &format!("/api/v1/devices/{dev}"), Some(&a), None)
            .await;
        assert_eq!(r.status, 204);
    }

    pub async fn device_filters_pagination_total(run: &Running) {
        let api = run.api();
        let admin = &run.admin;
        for i in 0..7 {
            register(
                api,
                admin,
                &format!("SN{i:02}"),
                if i % 2 == 0 { "HGW" } else { "ONT" },
            )
            .await;
        }
        let store = &run.handle.app().store;
        let now = tether_server::clock::now();
        // Two devices inform: one long ago, one now and online.
        for (serial, at, online) in [
            ("SN00", now.plus_millis(-86_400_000), None),
            ("SN02", now, Some(now.plus_millis(600_000))),
        ] {
            store
                .record_inform(&tether_store::InformRecord {
                    identity: tether_store::DeviceIdentity {
                        id: format!("00D09E-HGW-{serial}"),
                        oui: "00D09E".into(),
                        product_class: "HGW".into(),
                        serial_number: serial.into(),
                        manufacturer: "Acme".into(),
                    },
                    at,
                    events: vec![],
                    remote_addr: None,
                    connection_request_url: None,
                    online_until: online,
                    parameters: vec![tether_store::ParameterUpdate::value(
                        "Device.DeviceInfo.SoftwareVersion",
                        "1.0",
                        "xsd:string",
                    )],
                })
                .await
                .unwrap();
        }
        let r = api.get("/api/v1/devices?limit=3&offset=0", admin).await;
        assert_eq!(r.body["total"], 7);
        assert_eq!(r.body["items"].as_array().unwrap().len(), 3);
        let r = api.get("/api/v1/devices?limit=3&offset=6", admin).await;
        assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
        assert_eq!(r.body["total"], 7);
        let r = api.get("/api/v1/devices?product_class=ONT", admin).await;
        assert_eq!(r.body["total"], 3);
        let r = api.get("/api/v1/devices?serial=SN03", admin).await;
        assert_eq!(r.body["total"], 1);
        assert_eq!(r.body["items"][0]["id"], "00D09E-ONT-SN03");
        let r = api.get("/api/v1/devices?serial_contains=sn0", admin).await;
        assert_eq!(r.body["total"], 7);
        let r = api.get("/api/v1/devices?online=true", admin).await;
        assert_eq!(r.body["total"], 1);
        assert_eq!(r.body["items"][0]["serial_number"], "SN02");
        assert_eq!(r.body["items"][0]["online"], true);
        let hour_ago = tether_server::clock::format(now.plus_millis(-3_600_000));
        let r = api
            .get(
                &format!("/api/v1/devices?last_inform_before={hour_ago}"),
                admin,
            )
            .await;
        assert_eq!(r.body["total"], 1, "{}", r.body);
        assert_eq!(r.body["items"][0]["serial_number"], "SN00");
        let r = api
            .get(
                &format!("/api/v1/devices?last_inform_after={hour_ago}"),
                admin,
            )
            .await;
        assert_eq!(r.body["total"], 1);
        let r = api.get("/api/v1/devices/00D09E-HGW-SN02", admin).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.body["parameters"][0]["value"], "1.0");
        for bad in [
            "limit=1001",
            "limit=0",
            "online=maybe",
            "last_inform_before=yesterday",
            "color=red",
        ] {
            let r = api.get(&format!("/api/v1/devices?{bad}"), admin).await;
            assert_eq!(r.status, 400, "{bad}");
            assert_eq!(code(&r), "invalid_request", "{bad}");
        }
        // A duplicate registration conflicts.
        let r = api
            .send(
                "POST",
                "/api/v1/devices",
                admin,
                json!({"oui": "00D09E", "product_class": "HGW", "serial_number": "SN00"}),
            )
            .await;
        assert_eq!(r.status, 409);
        assert_eq!(code(&r), "conflict");
    }

    pub async fn invalid_task_specs_are_refused_and_nothing_stored(run: &Running) {
        let api = run.api();
        let dev = register(api, &run.admin, "BAD1", "HGW").await;
        let path = format!("/api/v1/devices/{dev}/tasks");
        for bad in [
            json!({"kind": "Explode"}),
            json!({"kind": "Reboot", "command_key": "k".repeat(33)}),
            json!({"kind": "ScheduleInform", "delay_seconds": 0}),
            json!({"kind": "SetParameterValues", "values": [{"name": "Device.A.B", "value": "abc", "type": "unsignedInt"}]}),
            json!({"kind": "GetParameterValues", "names": ["Device.<script>"]}),
            json!({"kind": "Download", "file_type": "firmware", "url": "https://fw/"}),
            json!({"kind": "AddObject", "object": "Device.NAT.PortMapping"}),
            json!({"names": []}),
            json!([1, 2]),
        ] {
            let r = api.send("POST", &path, &run.admin, bad.clone()).await;
            assert_eq!(r.status, 400, "{bad}: {}", r.body);
            assert_eq!(code(&r), "invalid_task", "{bad}");
            assert!(!r.body["error"]["message"].as_str().unwrap().is_empty());
        }
        let r = api
            .send(
                "POST",
                &format!("{path}?wait=61"),
                &run.admin,
                json!({"kind": "Reboot"}),
            )
            .await;
        assert_eq!(r.status, 400);
        assert_eq!(code(&r), "invalid_request");
        let r = api.get("/api/v1/tasks", &run.admin).await;
        assert_eq!(r.body["total"], 0, "nothing reached the store");
    }

    pub async fn task_cancel_retry_expiry(run: &Running) {
        let api = run.api();
        let admin = &run.admin;
        let dev = register(api, admin, "T1", "HGW").await;
        let path = format!("/api/v1/devices/{dev}/tasks");
        let r = api
            .send("POST", &path, admin, json!({"kind": "Download", "file_type": "1 Firmware Upgrade Image", "url": "https://fw.example.net/x.bin", "password": "s3cret"}))
            .await;
        assert_eq!(r.status, 201);
        assert_eq!(r.body["spec"]["password"], "********");
        let id = r.body["id"].as_i64().unwrap();
        assert_eq!(
            r.headers["location"],
            format!("/api/v1/tasks/{id}").as_str()
        );
        let r = api
            .send(
                "POST",
                &format!("/api/v1/tasks/{id}/cancel"),
                admin,
                json!(null),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["state"], "cancelled");
        let r = api
            .raw(
                "POST",
                &format!("/api/v1/tasks/{id}/retry"),
                Some(admin),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["state"], "pending");
        // Retrying a pending task conflicts.
        let r = api
            .raw(
                "POST",
                &format!("/api/v1/tasks/{id}/retry"),
                Some(admin),
                None,
            )
            .await;
        assert_eq!(r.status, 409);

        // Expiry: a one-second task expires, then can be retried.
        let r = api
            .send(
                "POST",
                &format!("{path}?expires_in=1"),
                admin,
                json!({"kind": "FactoryReset"}),
            )
            .await;
        let short = r.body["id"].as_i64().unwrap();
        tokio::time::sleep(Duration::from_millis(1300)).await;
        let r = api.get(&format!("/api/v1/tasks/{short}"), admin).await;
        assert_eq!(r.body["state"], "expired");
        let r = api
            .raw(
                "POST",
                &format!("/api/v1/tasks/{short}/retry?expires_in=600"),
                Some(admin),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["state"], "pending");
        let r = api
            .get(&format!("/api/v1/devices/{dev}/tasks?state=pending"), admin)
            .await;
        assert_eq!(r.body["total"], 2);
    }

    pub async fn connection_request_and_wait(run: &Running) {
        let api = run.api();
        let admin = run.admin.clone();
        let dev = register(api, &admin, "W1", "HGW").await;
        // A wait is woken by the task's outcome, not timed out.
        let path = format!("/api/v1/devices/{dev}/tasks?wait=10");
        let request = tokio::spawn(async move {
            let started = std::time::Instant::now();
            let r = api
                .send(
                    "POST",
                    &path,
                    &admin,
                    json!({"kind": "GetParameterValues", "names": ["Device.DeviceInfo."]}),
                )
                .await;
            (r, started.elapsed())
        });
        // Play the ACS: find the task, run it, record the result, signal the hub.
        let app = run.handle.app().clone();
        let task = loop {
            let page = app
                .store
                .list_tasks(
                    &tether_store::TaskFilter::default(),
                    tether_store::Page::default(),
                )
                .await
                .unwrap();
            if let Some(t) = page.items.first() {
                break t.id;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let now = tether_server::clock::now();
        app.store
            .mark_dispatched(task, "session-1", now)
            .await
            .unwrap();
        app.store
            .complete_task(
                task,
                &serde_json::value::to_raw_value(
                    &json!({"Device.DeviceInfo.SoftwareVersion": "2.0"}),
                )
                .unwrap(),
                now,
            )
            .await
            .unwrap();
        app.hub.notify(task);
        let (r, elapsed) = request.await.unwrap();
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(r.body["state"], "done");
        assert_eq!(r.body["result"]["Device.DeviceInfo.SoftwareVersion"], "2.0");
        assert!(r.body.get("connection_request").is_none(), "{}", r.body);
        assert!(
            elapsed < Duration::from_secs(8),
            "woken, not timed out: {elapsed:?}"
        );

        // A connection request that fails is answered at once: no wait, the task stays
        // pending for the device's next session.
        let r = api
            .send(
                "POST",
                &format!("/api/v1/devices/{dev}/tasks?connection_request=true&wait=10"),
                &run.admin,
                json!({"kind": "Reboot"}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(r.body["connection_request"]["status"], "failed");
        // The device never informed, so the ACS has no connection-request URL for it.
        assert_eq!(r.body["connection_request"]["error"]["code"], "no_url");
        assert_eq!(r.body["wait"], "skipped", "{}", r.body);
        assert_eq!(r.body["state"], "pending", "{}", r.body);
    }
}

/// Runs each shared case on a fresh SQLite server and on a fresh PostgreSQL database.
macro_rules! both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $case() {
                    let dir = tempfile::tempdir().unwrap();
                    let run = super::Running::start(super::config_for(dir.path(), None), None).await;
                    super::cases::$case(&run).await;
                    run.stop().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $case() {
                    let db = super::pg::TestDatabase::create().await;
                    let dir = tempfile::tempdir().unwrap();
                    let run = super::Running::start(
                        super::config_for(dir.path(), Some(db.url.clone())),
                        None,
                    )
                    .await;
                    super::cases::$case(&run).await;
                    run.stop().await;
                    db.drop().await;
                }
            )*
        }
    };
}

both_backends!(
    admin_token_and_basic_both_work,
    isolation_between_accounts,
    device_filters_pagination_total,
    invalid_task_specs_are_refused_and_nothing_stored,
    task_cancel_retry_expiry,
    connection_request_and_wait,
);

mod pg {
    use std::sync::atomic::{AtomicU32, Ordering};

    use sqlx::Connection as _;

    pub struct TestDatabase {
        admin_url: String,
        name: String,
        pub url: String,
    }

    async fn execute(admin_url: &str, sql: String) {
        let mut conn = sqlx::PgConnection::connect(admin_url)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL unreachable at {admin_url}: {e}"));
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.ok();
    }

    impl TestDatabase {
        pub async fn create() -> Self {
            static COUNTER: AtomicU32 = AtomicU32::new(0);
            let admin_url = std::env::var("TETHER_TEST_POSTGRES_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
            let name = format!(
                "tether_s_{}_{}_{}",
                std::process::id(),
                nanos,
                COUNTER.fetch_add(1, Ordering::Relaxed)
            );
            execute(&admin_url, format!("CREATE DATABASE {name}")).await;
            let (base, query) = match admin_url.split_once('?') {
                Some((b, q)) => (b, Some(q)),
                None => (admin_url.as_str(), None),
            };
            let authority = base.find("://").map_or(0, |i| i + 3);
            let path = base[authority..]
                .find('/')
                .map_or(base.len(), |i| authority + i);
            let mut url = format!("{}/{name}", &base[..path]);
            if let Some(q) = query {
                url.push('?');
                url.push_str(q);
            }
            TestDatabase {
                admin_url,
                name,
                url,
            }
        }

        pub async fn drop(self) {
            execute(
                &self.admin_url,
                format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            )
            .await;
        }
    }
}

// ----- SQLite-only: restarts, files, listeners, limits -----

mod lifecycle {
    use super::*;

    #[tokio::test]
    async fn admin_bootstrap_printed_once_and_not_again_on_restart() {
        let dir = tempfile::tempdir().unwrap();
        let first = Running::start(config_for(dir.path(), None), None).await;
        let boot = first.handle.admin_bootstrap.clone().expect("admin created");
        assert_eq!(boot.username, "admin");
        let password = boot.generated_password.expect("generated and printed");
        assert!(password.len() >= 20);
        assert_eq!(
            first
                .api()
                .get("/api/v1/accounts/me", &first.admin)
                .await
                .status,
            200
        );
        first.stop().await;

        let second = Server::start(config_for(dir.path(), None)).await.unwrap();
        assert_eq!(second.admin_bootstrap, None, "never re-created");
        let api = Client {
            addr: second.api_addr,
        };
        let r = api
            .get("/api/v1/accounts/me", &basic("admin", &password))
            .await;
        assert_eq!(r.status, 200, "the first password still works");
        second.shutdown().await.unwrap();

        // A configured password is used instead of a generated one.
        let dir = tempfile::tempdir().unwrap();
        let mut c = config_for(dir.path(), None);
        c.admin.password = Some("configured-password".into());
        let run = Running::start(c, Some("configured-password")).await;
        assert_eq!(
            run.handle
                .admin_bootstrap
                .as_ref()
                .unwrap()
                .generated_password,
            None
        );
        assert_eq!(
            run.api()
                .get("/api/v1/accounts/me", &run.admin)
                .await
                .status,
            200
        );
        run.stop().await;
    }

    #[tokio::test]
    async fn wrong_password_is_rate_limited() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = config_for(dir.path(), None);
        c.admin.password = Some("right-password".into());
        c.limits.login_failures = 3;
        let run = Running::start(c, Some("right-password")).await;
        let api = run.api();
        for _ in 0..3 {
            let r = api
                .get("/api/v1/accounts/me", &basic("admin", "wrong"))
                .await;
            assert_eq!(r.status, 401);
        }
        let r = api
            .get("/api/v1/accounts/me", &basic("admin", "wrong"))
            .await;
        assert_eq!(r.status, 429);
        assert_eq!(code(&r), "too_many_requests");
        assert!(r.headers.contains_key("retry-after"));
        // Even the right password waits out the window.
        let r = api.get("/api/v1/accounts/me", &run.admin).await;
        assert_eq!(r.status, 429);
        run.stop().await;
    }

    #[tokio::test]
    async fn tasks_are_durable_across_restart() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = config_for(dir.path(), None);
        c.admin.password = Some("durable-password".into());
        let run = Running::start(c.clone(), Some("durable-password")).await;
        let api = run.api();
        let dev = register(api, &run.admin, "D1", "HGW").await;
        let r = api
            .send(
                "POST",
                &format!("/api/v1/devices/{dev}/tasks"),
                &run.admin,
                json!({"kind": "GetParameterNames", "path": "Device.", "next_level": true}),
            )
            .await;
        assert_eq!(r.status, 201);
        let id = r.body["id"].as_i64().unwrap();
        // A task dispatched when the process "dies" is recovered at the next start.
        let r2 = api
            .send(
                "POST",
                &format!("/api/v1/devices/{dev}/tasks"),
                &run.admin,
                json!({"kind": "Reboot"}),
            )
            .await;
        let reboot = tether_store::TaskId(r2.body["id"].as_i64().unwrap());
        run.handle
            .app()
            .store
            .mark_dispatched(reboot, "s", tether_server::clock::now().plus_millis(-1000))
            .await
            .unwrap();
        run.stop().await;

        let run = Running::start(c, Some("durable-password")).await;
        let api = run.api();
        let r = api.get(&format!("/api/v1/tasks/{id}"), &run.admin).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.body["state"], "pending");
        assert_eq!(r.body["spec"]["path"], "Device.");
        let r = api
            .get(&format!("/api/v1/tasks/{}", reboot.0), &run.admin)
            .await;
        assert_eq!(
            r.body["state"], "faulted",
            "a Reboot is not repeated blindly"
        );
        assert_eq!(r.body["fault"]["code"], "interrupted");
        run.stop().await;
    }

    #[tokio::test]
    async fn body_limits_and_malformed_json() {
        let dir = tempfile::tempdir().unwrap();
        let run = Running::start(config_for(dir.path(), None), None).await;
        let api = run.api();
        let dev = register(api, &run.admin, "B1", "HGW").await;
        let path = format!("/api/v1/devices/{dev}/tasks");
        let big = format!(
            "{{\"kind\":\"GetParameterValues\",\"names\":[\"{}\"]}}",
            "a".repeat(300 * 1024)
        );
        let r = api
            .raw("POST", &path, Some(&run.admin), Some(big.into_bytes()))
            .await;
        assert_eq!(r.status, 413);
        assert_eq!(code(&r), "payload_too_large");
        let r = api
            .raw(
                "POST",
                &path,
                Some(&run.admin),
                Some(b"{\"kind\": ".to_vec()),
            )
            .await;
        assert_eq!(r.status, 400);
        assert_eq!(code(&r), "invalid_json");
        let r = api.get("/api/v1/nowhere", &run.admin).await;
        assert_eq!(r.status, 404);
        assert_eq!(code(&r), "not_found");
        assert_eq!(api.get("/api/v1/tasks", &run.admin).await.body["total"], 0);
        // Service routes.
        let r = api.raw("GET", "/healthz", None, None).await;
        assert_eq!(r.status, 200);
        let r = api.raw("GET", "/api/v1/openapi.json", None, None).await;
        assert_eq!(r.status, 200);
        assert!(r.body["paths"]["/api/v1/devices/{id}/tasks"].is_object());
        let r = api.get("/metrics", &run.admin).await;
        assert_eq!(r.status, 200);
        assert!(r.body.as_str().unwrap().contains("tether_"), "{}", r.body);
        // The CWMP endpoint answers a message that is not an envelope with 400.
        let cwmp = Client {
            addr: run.handle.cwmp_addr,
        };
        assert_eq!(
            cwmp.raw("POST", "/", None, Some(b"<x/>".to_vec()))
                .await
                .status,
            400
        );
        run.stop().await;
    }

    #[tokio::test]
    async fn in_flight_request_finishes_during_graceful_shutdown() {
        let dir = tempfile::tempdir().unwrap();
        let run = Running::start(config_for(dir.path(), None), None).await;
        let api = run.api();
        let admin = run.admin.clone();
        let dev = register(api, &admin, "G1", "HGW").await;
        let request = tokio::spawn(async move {
            api.send(
                "POST",
                &format!("/api/v1/devices/{dev}/tasks?wait=1"),
                &admin,
                json!({"kind": "Reboot"}),
            )
            .await
        });
        while run.handle.app().hub.waiting() == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let addr = run.handle.api_addr;
        run.stop().await;
        let r = request.await.unwrap();
        assert_eq!(r.status, 201, "the in-flight request was answered");
        assert_eq!(r.body["state"], "pending");
        assert!(
            tokio::net::TcpStream::connect(addr).await.is_err(),
            "no longer accepting"
        );
    }

    #[tokio::test]
    async fn self_signed_certificate_generated_once_and_reused() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let mut c = config_for(dir.path(), None);
        c.api.tls.mode = TlsMode::SelfSigned;
        let run = Running::start(c.clone(), None).await;
        let cert_path = dir
            .path()
            .join("tls")
            .join(tether_server::tls::SELF_SIGNED_CERT);
        let key_path = dir
            .path()
            .join("tls")
            .join(tether_server::tls::SELF_SIGNED_KEY);
        let cert = std::fs::read(&cert_path).unwrap();
        let mode = std::fs::metadata(&key_path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let status = tls_get(run.handle.api_addr, &cert, "/healthz").await;
        assert_eq!(status, 200);
        run.stop().await;

        let run = Running::start(c, None).await;
        assert_eq!(
            std::fs::read(&cert_path).unwrap(),
            cert,
            "reused, not regenerated"
        );
        assert_eq!(tls_get(run.handle.api_addr, &cert, "/healthz").await, 200);
        run.stop().await;
    }

    /// A GET over TLS, trusting only `cert_pem`.
    async fn tls_get(addr: SocketAddr, cert_pem: &[u8], path: &str) -> u16 {
        use rustls_pki_types::pem::PemObject as _;
        let mut roots = rustls::RootCertStore::empty();
        for c in rustls_pki_types::CertificateDer::pem_slice_iter(cert_pem) {
            roots.add(c.unwrap()).unwrap();
        }
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
        let tls = connector.connect(name, tcp).await.unwrap();
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
                .await
                .unwrap();
        tokio::spawn(conn);
        let req = http::Request::builder()
            .uri(path)
            .header("host", "localhost")
            .body(Full::new(Bytes::new()))
            .unwrap();
        sender.send_request(req).await.unwrap().status().as_u16()
    }
}

mod config_layers {
    use tether_server::{ServerArgs, ServerConfig};

    #[test]
    fn file_then_env_then_flags() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tether.toml");
        std::fs::write(
            &file,
            r#"
data_dir = "/from/file"
database = "postgres://file/db"
[cwmp]
listen = "0.0.0.0:1111"
session_timeout = "45s"
max_body = "2MiB"
[api]
listen = "127.0.0.1:2222"
[limits]
max_page = 10
"#,
        )
        .unwrap();
        let args = ServerArgs {
            config: Some(file.clone()),
            ..ServerArgs::default()
        };
        let c = ServerConfig::load_with_env(&args, Vec::new()).unwrap();
        assert_eq!(c.data_dir, std::path::PathBuf::from("/from/file"));
        assert_eq!(c.cwmp.listen.port(), 1111);
        assert_eq!(c.cwmp.session_timeout.0.as_secs(), 45);
        assert_eq!(c.cwmp.max_body.0, 2 * 1024 * 1024);
        assert_eq!(c.limits.max_page, 10);
        // Untouched keys keep their defaults.
        assert_eq!(c.cwmp.session_max.0.as_secs(), 300);

        let env = vec![
            ("TETHER_CWMP__LISTEN".to_owned(), "0.0.0.0:3333".to_owned()),
            ("TETHER_API__LISTEN".to_owned(), "127.0.0.1:4444".to_owned()),
            ("TETHER_LIMITS__MAX_PAGE".to_owned(), "20".to_owned()),
            ("TETHER_DATA_DIR".to_owned(), "/from/env".to_owned()),
        ];
        let c = ServerConfig::load_with_env(&args, env.clone()).unwrap();
        assert_eq!(c.cwmp.listen.port(), 3333);
        assert_eq!(c.api.listen.port(), 4444);
        assert_eq!(c.limits.max_page, 20);
        assert_eq!(c.data_dir, std::path::PathBuf::from("/from/env"));
        assert_eq!(c.database.as_deref(), Some("postgres://file/db"));

        let args = ServerArgs {
            config: Some(file),
            data_dir: Some("/from/flag".into()),
            database: Some("sqlite::memory:".into()),
            cwmp_listen: Some("0.0.0.0:5555".parse().unwrap()),
            api_listen: None,
            cloud_listen: None,
        };
        let c = ServerConfig::load_with_env(&args, env).unwrap();
        assert_eq!(c.cwmp.listen.port(), 5555);
        assert_eq!(c.api.listen.port(), 4444, "env still wins over the file");
        assert_eq!(c.data_dir, std::path::PathBuf::from("/from/flag"));
        assert_eq!(c.database.as_deref(), Some("sqlite::memory:"));
    }

    #[test]
    fn defaults_and_errors() {
        let c = ServerConfig::load_with_env(&ServerArgs::default(), Vec::new()).unwrap();
        assert_eq!(c.cwmp.listen.to_string(), "0.0.0.0:7547");
        assert_eq!(c.api.listen.to_string(), "127.0.0.1:7557");
        assert_eq!(c.data_dir, std::path::PathBuf::from("./tether-data"));
        assert_eq!(c.database_url(), "./tether-data");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bad.toml");
        std::fs::write(&file, "[cwmp]\nlisten_typo = 1\n").unwrap();
        let args = ServerArgs {
            config: Some(file),
            ..ServerArgs::default()
        };
        assert!(ServerConfig::load_with_env(&args, Vec::new()).is_err());
        let missing = ServerArgs {
            config: Some("/nonexistent/tether.toml".into()),
            ..ServerArgs::default()
        };
        assert!(ServerConfig::load_with_env(&missing, Vec::new()).is_err());
        let env = vec![("TETHER_CWMP__TLS__MODE".to_owned(), "files".to_owned())];
        assert!(
            ServerConfig::load_with_env(&ServerArgs::default(), env).is_err(),
            "files mode without cert and key is refused"
        );
    }
}
