//! End to end: OUR agent against OUR server (`tether_server::Server::start`), over real TCP,
//! HTTP, TLS and WebSockets on 127.0.0.1. Nothing here speaks a protocol on either side's
//! behalf: the operator uses the server's REST API (a small hyper client below) and the
//! agent's control socket (the same client `tether cli` uses); the agent and the server talk
//! to each other on their own.
//!
//! Each agent runs as in production: its own thread with a current-thread runtime
//! ([`super::TestAgent`]); the server runs on the test's multi-thread runtime. Every wait is a
//! poll of an observable condition with a bounded deadline ([`until`]).

mod cloud;
mod cwmp;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use http_body_util::{BodyExt as _, Full};
use serde_json::{Value, json};
use tether_agent::{AgentConfig, AgentContext, Reply, run_lines, run_one};
use tether_server::config::Secs;
use tether_server::{Server, ServerConfig, ServerHandle};

use super::{TestAgent, fake_host};

/// Polls `check` every 100 ms until it yields `Some`, for at most `secs` seconds; then fails
/// naming `what` and the last observation `check` left in its `Err`.
pub async fn until<T>(
    secs: u64,
    what: &str,
    mut check: impl AsyncFnMut() -> Result<T, String>,
) -> T {
    let end = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        match check().await {
            Ok(v) => return v,
            Err(last) => {
                if tokio::time::Instant::now() >= end {
                    panic!("timed out after {secs}s waiting for {what}; last seen:\n{last}");
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// ----------------------------------------------------------------------------------------
// The server and its REST API
// ----------------------------------------------------------------------------------------

/// A server configuration for tests: data under `data_dir`, every listener on 127.0.0.1 at a
/// free port, a short shutdown grace.
pub fn server_config(data_dir: &Path) -> ServerConfig {
    let mut c = ServerConfig {
        data_dir: data_dir.to_owned(),
        shutdown_grace: Secs::from_secs(3),
        ..ServerConfig::default()
    };
    c.api.listen = "127.0.0.1:0".parse().unwrap();
    c.cwmp.listen = "127.0.0.1:0".parse().unwrap();
    c.cloud.listen = "127.0.0.1:0".parse().unwrap();
    c.admin.password = Some(ADMIN_PASSWORD.into());
    // Tests drive connection requests back to back.
    c.cwmp.connection_request.per_device_min_interval = Secs::from_secs(0);
    c.cloud.tls.self_signed_names = vec!["cloud.test".into(), "backup.test".into()];
    c
}

pub const ADMIN_PASSWORD: &str = "admin-password-1";

/// A running server.
pub struct Srv {
    pub handle: ServerHandle,
    pub config: ServerConfig,
}

impl Srv {
    pub async fn start(config: ServerConfig) -> Srv {
        let handle = Server::start(config.clone())
            .await
            .expect("the server starts");
        Srv { handle, config }
    }

    /// The REST API as the admin.
    pub fn admin(&self) -> Api {
        Api {
            addr: self.handle.api_addr,
            auth: basic("admin", ADMIN_PASSWORD),
        }
    }

    /// The self-signed certificate the server generated in its data directory.
    pub fn self_signed_cert(&self) -> PathBuf {
        self.config
            .data_dir
            .join("tls")
            .join(tether_server::tls::SELF_SIGNED_CERT)
    }

    pub fn store(&self) -> &Arc<dyn tether_store::Store> {
        &self.handle.app().store
    }

    pub async fn stop(self) {
        self.handle.shutdown().await.expect("clean server shutdown");
    }
}

pub fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// A REST API client with one caller's credentials.
#[derive(Clone)]
pub struct Api {
    pub addr: SocketAddr,
    pub auth: String,
}

impl Api {
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let stream = tokio::net::TcpStream::connect(self.addr)
            .await
            .expect("the API accepts connections");
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .unwrap();
        tokio::spawn(conn);
        let mut req = http::Request::builder()
            .method(method)
            .uri(path)
            .header("host", "localhost")
            .header("authorization", &self.auth);
        if body.is_some() {
            req = req.header("content-type", "application/json");
        }
        let bytes = body.map(|b| b.to_string()).unwrap_or_default();
        let res = sender
            .send_request(req.body(Full::new(bytes::Bytes::from(bytes))).unwrap())
            .await
            .unwrap();
        let status = res.status().as_u16();
        let raw = res.into_body().collect().await.unwrap().to_bytes();
        let value = if raw.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&raw)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&raw).into_owned()))
        };
        (status, value)
    }

    /// GET, asserting 200.
    pub async fn get(&self, path: &str) -> Value {
        let (status, body) = self.call("GET", path, None).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    /// POST/PUT with a JSON body, asserting `expect`.
    pub async fn send(&self, method: &str, path: &str, body: Value, expect: u16) -> Value {
        let (status, answer) = self.call(method, path, Some(body)).await;
        assert_eq!(status, expect, "{method} {path}: {answer}");
        answer
    }

    /// Creates an account (as admin) and returns its id and an API client acting as it.
    pub async fn account(&self, name: &str) -> (i64, Api) {
        let password = format!("{name}-password-1");
        let created = self
            .send(
                "POST",
                "/api/v1/accounts",
                json!({"name": name, "password": password}),
                201,
            )
            .await;
        let id = created["id"].as_i64().unwrap();
        (
            id,
            Api {
                addr: self.addr,
                auth: basic(name, &password),
            },
        )
    }
}

// ----------------------------------------------------------------------------------------
// The agent and its control socket
// ----------------------------------------------------------------------------------------

/// A running agent (own thread, current-thread runtime) driven over its control socket.
pub struct Dev {
    agent: Option<TestAgent>,
    pub socket: PathBuf,
    pub ctx: Arc<AgentContext>,
}

impl Dev {
    /// Starts an agent with `config` over a prepared host tree under `dir/host`.
    pub async fn start(dir: &Path, config: AgentConfig) -> Dev {
        let host = fake_host(&dir.join("host"));
        let agent = tokio::task::spawn_blocking(move || TestAgent::start(config, host))
            .await
            .unwrap()
            .expect("the agent starts");
        Dev {
            socket: agent.socket.clone(),
            ctx: agent.ctx.clone(),
            agent: Some(agent),
        }
    }

    /// Runs one CLI line in a fresh session.
    pub async fn cli(&self, line: &str) -> Reply {
        let socket = self.socket.clone();
        let line = line.to_owned();
        tokio::task::spawn_blocking(move || run_one(&socket, &line))
            .await
            .unwrap()
            .expect("the control socket answers")
    }

    /// Runs `lines` in one session; stops at the first refused line. Returns the replies.
    pub async fn lines(&self, lines: &[&str]) -> Vec<Reply> {
        let socket = self.socket.clone();
        let owned: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
        tokio::task::spawn_blocking(move || {
            let refs: Vec<&str> = owned.iter().map(String::as_str).collect();
            run_lines(&socket, &refs)
        })
        .await
        .unwrap()
        .expect("the control socket answers")
    }

    /// Runs `lines` in one session, after `system-view`, asserting that none is refused.
    /// Returns the replies to `lines`.
    pub async fn configure(&self, lines: &[&str]) -> Vec<Reply> {
        let mut all = vec!["system-view"];
        all.extend_from_slice(lines);
        let replies = self.lines(&all).await;
        assert_eq!(
            replies.len(),
            lines.len() + 1,
            "a line was refused: {replies:?}"
        );
        for (line, reply) in lines.iter().zip(&replies[1..]) {
            assert!(!reply.is_error(), "{line:?} refused: {}", reply.output);
        }
        replies[1..].to_vec()
    }

    /// Stops the agent and waits for its thread.
    pub async fn stop(mut self) {
        if let Some(agent) = self.agent.take() {
            tokio::task::spawn_blocking(move || agent.stop())
                .await
                .unwrap();
        }
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        // On a failed assertion: stop the agent's thread (the TestAgent joins it).
        drop(self.agent.take());
    }
}
