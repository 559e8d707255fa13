//! A minimal device written from `docs/cloud-connection-protocol.md` for the server tests:
//! HTTPS handshake with hand-built JSON, the HMAC proofs computed here (not with cloudlink),
//! tokio-tungstenite over rustls trusting the server's self-signed certificate.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use hmac::{Hmac, Mac as _};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, ServerName};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

pub type Ws = WebSocketStream<TlsStream<TcpStream>>;

fn mac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

/// The device key of §5.2.
pub fn device_key(password: &str, serial: &str) -> [u8; 32] {
    mac(
        password.as_bytes(),
        &[b"tether-cloudlink/v1/device-key\0", serial.as_bytes()],
    )
}

fn len16(s: &str) -> [u8; 2] {
    u16::try_from(s.len()).unwrap().to_be_bytes()
}

/// The challenge proof of §5.2.
pub fn auth_proof(key: &[u8; 32], nonce: &str, serial: &str, ts: u64) -> String {
    hex::encode(mac(
        key,
        &[
            b"tether-cloudlink/v1/auth\0",
            &len16(nonce),
            nonce.as_bytes(),
            &len16(serial),
            serial.as_bytes(),
            &ts.to_be_bytes(),
        ],
    ))
}

/// The `Cloudlink-Proof` of §6.1.
pub fn url_proof(key: &[u8; 32], token: &str) -> String {
    hex::encode(mac(key, &[b"tether-cloudlink/v1/url\0", token.as_bytes()]))
}

pub fn token_of(url: &str) -> String {
    url.split_once("token=").unwrap().1.to_owned()
}

/// A device: serial, password, the server address, TLS trusting the server's certificate.
#[derive(Clone)]
pub struct Device {
    pub serial: String,
    pub password: String,
    pub addr: SocketAddr,
    tls: TlsConnector,
}

impl Device {
    pub fn new(serial: &str, password: &str, addr: SocketAddr, data_dir: &Path) -> Self {
        let cert = data_dir.join("tls").join("self-signed-cert.pem");
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_file_iter(&cert).unwrap() {
            roots.add(c.unwrap()).unwrap();
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        Device {
            serial: serial.to_owned(),
            password: password.to_owned(),
            addr,
            tls: TlsConnector::from(Arc::new(config)),
        }
    }

    pub fn key(&self) -> [u8; 32] {
        device_key(&self.password, &self.serial)
    }

    async fn tls(&self) -> TlsStream<TcpStream> {
        let tcp = TcpStream::connect(self.addr).await.unwrap();
        self.tls
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
            .expect("TLS handshake with the cloud endpoint")
    }

    /// POST over HTTPS; returns (status, decoded JSON body).
    pub async fn post(&self, path: &str, bearer: Option<&str>, body: Vec<u8>) -> (u16, Value) {
        let io = hyper_util::rt::TokioIo::new(self.tls().await);
        let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
        tokio::spawn(conn);
        let mut req = http::Request::builder()
            .method("POST")
            .uri(path)
            .header("host", "localhost")
            .header("content-type", "application/json");
        if let Some(b) = bearer {
            req = req.header("authorization", format!("Bearer {b}"));
        }
        let res = sender
            .send_request(req.body(Full::new(Bytes::from(body))).unwrap())
            .await
            .unwrap();
        let status = res.status().as_u16();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// Steps 1-2: the session token, or the failing (status, body).
    pub async fn authenticate(&self) -> Result<String, (u16, Value)> {
        let req = json!({"type": "auth_request", "version": 1, "serial": self.serial,
                         "method": "hmac-sha256", "model": "TEST-1", "software": "R0001"});
        let (status, challenge) = self
            .post("/cloudlink/v1/auth", None, req.to_string().into_bytes())
            .await;
        if challenge["type"] != "auth_challenge" {
            return Err((status, challenge));
        }
        let nonce = challenge["nonce"].as_str().unwrap();
        let ts = challenge["ts"].as_u64().unwrap();
        let proof = json!({"type": "auth_proof", "version": 1, "serial": self.serial,
                           "nonce": nonce, "ts": ts,
                           "proof": auth_proof(&self.key(), nonce, &self.serial, ts)});
        let (status, answer) = self
            .post("/cloudlink/v1/auth", None, proof.to_string().into_bytes())
            .await;
        if answer["type"] != "auth_success" {
            return Err((status, answer));
        }
        Ok(answer["session"].as_str().unwrap().to_owned())
    }

    /// Steps 3-4: the tunnel URL.
    pub async fn register(&self, session: &str) -> String {
        let req = json!({"type": "register_request", "version": 1, "serial": self.serial,
                         "keepalive": 180, "services": ["terminal", "config", "telemetry"]});
        let (status, answer) = self
            .post(
                "/cloudlink/v1/register",
                Some(session),
                req.to_string().into_bytes(),
            )
            .await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["type"], "register_response");
        answer["tunnel_url"].as_str().unwrap().to_owned()
    }

    /// Opens a tunnel or service URL with the spec's headers, as `serial` proving with `key`.
    pub async fn open_as(&self, url: &str, serial: &str, key: &[u8; 32]) -> Result<Ws, u16> {
        let mut req = url.into_client_request().unwrap();
        let h = req.headers_mut();
        h.insert(
            "sec-websocket-protocol",
            "tether-cloudlink.v1".parse().unwrap(),
        );
        h.insert("cloudlink-serial", serial.parse().unwrap());
        h.insert(
            "cloudlink-proof",
            url_proof(key, &token_of(url)).parse().unwrap(),
        );
        match tokio_tungstenite::client_async(req, self.tls().await).await {
            Ok((ws, response)) => {
                assert_eq!(
                    response.headers()["sec-websocket-protocol"],
                    "tether-cloudlink.v1"
                );
                Ok(ws)
            }
            Err(tokio_tungstenite::tungstenite::Error::Http(r)) => Err(r.status().as_u16()),
            Err(e) => panic!("upgrade failed: {e}"),
        }
    }

    pub async fn open(&self, url: &str) -> Result<Ws, u16> {
        self.open_as(url, &self.serial, &self.key()).await
    }

    /// Steps 1-6: an established tunnel and its `welcome`.
    pub async fn connect(&self) -> (Ws, Value) {
        let session = self.authenticate().await.expect("authenticated");
        let url = self.register(&session).await;
        let mut ws = self.open(&url).await.expect("tunnel upgrade");
        let welcome = recv(&mut ws).await;
        assert_eq!(welcome["type"], "welcome", "{welcome}");
        (ws, welcome)
    }

    /// Steps 7-11 for one service: asks for its URL on `tunnel` and opens it.
    pub async fn service(&self, tunnel: &mut Ws, name: &str, id: u32) -> Ws {
        let url = self.service_url(tunnel, name, id).await;
        self.open(&url).await.expect("service upgrade")
    }

    pub async fn service_url(&self, tunnel: &mut Ws, name: &str, id: u32) -> String {
        send(
            tunnel,
            json!({"type": "subconn_request", "id": id, "services": [name]}),
        )
        .await;
        let r = recv(tunnel).await;
        assert_eq!(r["type"], "subconn_response", "{r}");
        assert_eq!(r["id"], id);
        r["services"][0]["url"].as_str().unwrap().to_owned()
    }
}

pub async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::text(v.to_string())).await.unwrap();
}

/// The next text message as JSON (pings and pongs skipped), within 10 s.
pub async fn recv(ws: &mut Ws) -> Value {
    let next = async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => return serde_json::from_str(t.as_str()).unwrap(),
                Some(Ok(Message::Close(c))) => panic!("closed: {c:?}"),
                Some(Ok(_)) => continue,
                other => panic!("connection ended: {other:?}"),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), next)
        .await
        .expect("a message within 10 s")
}

/// Waits for the close frame; returns its code (1006 if the connection dropped without one).
pub async fn closed(ws: &mut Ws) -> u16 {
    let wait = async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(Some(c)))) => return u16::from(c.code),
                Some(Ok(Message::Close(None))) => return 1005,
                Some(Ok(_)) => continue,
                _ => return 1006,
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), wait)
        .await
        .expect("closed within 10 s")
}
