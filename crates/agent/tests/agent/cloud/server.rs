//! A small cloud server that follows `docs/cloud-connection-protocol.md`, for the agent's
//! end-to-end tests until `tether-server`'s cloud side can be used: HTTPS on hyper with
//! rustls, the handshake logic of `tether_cloudlink::handshake`, tunnels and subconnections
//! as WebSockets over hyper upgrades. Test knobs: inventory, keepalive acks on/off, commands
//! to a tunnel, unbinding codes, service message queues, what happens to a connection after a
//! handshake request. Observations: the log, the TCP connections accepted, which connection
//! carried each handshake request, and whether each TLS handshake was full or resumed.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tether_cloudlink::auth::DeviceKey;
use tether_cloudlink::handshake::{
    DeviceRecord, HandshakeConfig, Handshaker, Presenter, SERVICE_PATH_PREFIX, TUNNEL_PATH,
};
use tether_cloudlink::message::{self, Handshake, Role, Tunnel};
use tether_cloudlink::token::{ReplaySet, TokenKey, TokenSigner};
use tether_cloudlink::{CloseCode, SUBPROTOCOL};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode as WsCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role as WsRole};
use tokio_util::sync::CancellationToken;

/// A CA and a server certificate for `cloud.test` and `backup.test`.
pub struct Pki {
    pub ca_pem: String,
    pub chain: Vec<CertificateDer<'static>>,
    pub key_der: Vec<u8>,
}

impl Pki {
    pub fn new() -> Pki {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Tether test CA");
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let key = rcgen::KeyPair::generate().unwrap();
        let params =
            rcgen::CertificateParams::new(vec!["cloud.test".into(), "backup.test".into()]).unwrap();
        let leaf = params.signed_by(&key, &issuer).unwrap();
        Pki {
            ca_pem: ca.pem(),
            chain: vec![leaf.der().clone()],
            key_der: key.serialize_der(),
        }
    }

    fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            self.chain.clone(),
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone())),
        )
        .unwrap();
        tokio_rustls::TlsAcceptor::from(Arc::new(config))
    }
}

/// What the server does with a connection after answering a handshake request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterPost {
    /// Keeps it open for the next request (HTTP/1.1 keep-alive).
    KeepAlive,
    /// Answers with `Connection: close` and closes it.
    AnnounceClose,
    /// Keeps it open without saying otherwise, but closes it without an answer when another
    /// request arrives on it: a server that closed an idle connection as the device reused
    /// it.
    DropNext,
}

/// Knobs and observations shared with the test.
pub struct Shared {
    handshaker: Handshaker,
    replay: ReplaySet,
    /// serial → (device key, account).
    pub inventory: HashMap<String, (DeviceKey, String)>,
    /// Answer keepalives?
    pub ack_keepalives: bool,
    /// Timers announced in `welcome`.
    pub welcome: (u32, u32, u32),
    /// serial → (outstanding unbinding code, requesting account).
    pub unbind_codes: HashMap<String, (String, String)>,
    /// What happened, in order (`auth_failure unknown_serial`, `tunnel SN`, ...).
    pub log: Vec<String>,
    /// What happens to a connection after a handshake request.
    pub after_post: AfterPost,
    /// TCP connections accepted.
    pub accepted: usize,
    /// The address each accepted connection came from, in order.
    pub peers: Vec<std::net::IpAddr>,
    /// Handshake requests answered: (connection number from 0, path).
    pub posts: Vec<(usize, String)>,
    /// Handshake requests whose connection was closed instead of answering.
    pub dropped_posts: usize,
    /// TLS handshakes completed: (connection number, resumed).
    pub handshakes: Vec<(usize, bool)>,
    /// Connections ended (by either side), by number.
    pub closed: Vec<usize>,
    /// The open tunnel's command queue, by serial.
    tunnels: HashMap<String, mpsc::UnboundedSender<Frame>>,
    /// The open subconnections' queues, by service.
    services: HashMap<String, mpsc::UnboundedSender<Frame>>,
    /// Messages from the device on subconnections: (service, text).
    from_services: mpsc::UnboundedSender<(String, String)>,
    nonce: u64,
}

impl Shared {
    fn nonce(&mut self) -> [u8; 16] {
        self.nonce += 1;
        let mut n = [0u8; 16];
        n[..8].copy_from_slice(&self.nonce.to_be_bytes());
        n[8..].copy_from_slice(&rand::random::<[u8; 8]>());
        n
    }
}

/// A running test cloud on its own runtime.
pub struct TestCloud {
    pub rt: tokio::runtime::Runtime,
    pub addr: SocketAddr,
    pub shared: Arc<Mutex<Shared>>,
    pub from_services: Mutex<mpsc::UnboundedReceiver<(String, String)>>,
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

impl TestCloud {
    /// Starts on `127.0.0.1:port` (0: any), URLs named `wss://{public_host}:{port}`.
    pub fn start(pki: &Pki, port: u16, public_host: &str) -> TestCloud {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = rt.block_on(TcpListener::bind(("127.0.0.1", port))).unwrap();
        let addr = listener.local_addr().unwrap();
        let mut hs = HandshakeConfig::new(format!("wss://{public_host}:{}", addr.port()));
        hs.keepalive_min = 1;
        let signer = TokenSigner::new(TokenKey {
            id: 1,
            secret: rand::random(),
        });
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Mutex::new(Shared {
            handshaker: Handshaker::new(hs, signer),
            replay: ReplaySet::new(4096),
            inventory: HashMap::new(),
            ack_keepalives: true,
            welcome: (180, 30, 75),
            unbind_codes: HashMap::new(),
            log: Vec::new(),
            after_post: AfterPost::KeepAlive,
            accepted: 0,
            peers: Vec::new(),
            posts: Vec::new(),
            dropped_posts: 0,
            handshakes: Vec::new(),
            closed: Vec::new(),
            tunnels: HashMap::new(),
            services: HashMap::new(),
            from_services: tx,
            nonce: 0,
        }));
        let acceptor = pki.acceptor();
        let s = Arc::clone(&shared);
        rt.spawn(async move {
            loop {
                let Ok((tcp, peer)) = listener.accept().await else {
                    continue;
                };
                let conn = {
                    let mut st = s.lock().unwrap();
                    st.peers.push(peer.ip());
                    st.accepted += 1;
                    st.accepted - 1
                };
                let acceptor = acceptor.clone();
                let s = Arc::clone(&s);
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let resumed =
                        tls.get_ref().1.handshake_kind() == Some(rustls::HandshakeKind::Resumed);
                    s.lock().unwrap().handshakes.push((conn, resumed));
                    // Requests served on this connection, and the way to cut it.
                    let served = Arc::new(AtomicUsize::new(0));
                    let cut = CancellationToken::new();
                    let on_conn = Conn {
                        number: conn,
                        served,
                        cut: cut.clone(),
                    };
                    let s2 = Arc::clone(&s);
                    let service = hyper::service::service_fn(move |req| {
                        let s = Arc::clone(&s2);
                        let on_conn = on_conn.clone();
                        async move {
                            Ok::<_, std::convert::Infallible>(handle(s, req, on_conn).await)
                        }
                    });
                    let serve = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), service)
                        .with_upgrades();
                    tokio::select! {
                        _ = serve => {}
                        () = cut.cancelled() => {}
                    }
                    s.lock().unwrap().closed.push(conn);
                });
            }
        });
        TestCloud {
            rt,
            addr,
            shared,
            from_services: Mutex::new(rx),
        }
    }

    pub fn add_device(&self, serial: &str, password: &str, account: &str) {
        self.shared.lock().unwrap().inventory.insert(
            serial.into(),
            (DeviceKey::derive(password, serial), account.into()),
        );
    }

    pub fn log(&self) -> Vec<String> {
        self.shared.lock().unwrap().log.clone()
    }

    pub fn count(&self, entry: &str) -> usize {
        self.log().iter().filter(|l| l.as_str() == entry).count()
    }

    /// Handshake requests answered so far: (connection number, path).
    pub fn posts(&self) -> Vec<(usize, String)> {
        self.shared.lock().unwrap().posts.clone()
    }

    /// Sends a frame on the device's tunnel.
    pub fn to_tunnel(&self, serial: &str, frame: Frame) {
        let s = self.shared.lock().unwrap();
        s.tunnels.get(serial).unwrap().send(frame).unwrap();
    }

    /// Sends a message on the subconnection of `service`.
    pub fn to_service(&self, service: &str, text: String) {
        let s = self.shared.lock().unwrap();
        s.services
            .get(service)
            .unwrap()
            .send(Frame::text(text))
            .unwrap();
    }

    pub fn service_connected(&self, service: &str) -> bool {
        self.shared.lock().unwrap().services.contains_key(service)
    }

    /// The next message of `service` matching `pred`, within `secs`.
    pub fn next_from(&self, service: &str, secs: u64, pred: impl Fn(&str) -> bool) -> String {
        let mut rx = self.from_services.lock().unwrap();
        self.rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(secs), async {
                loop {
                    let (svc, text) = rx.recv().await.unwrap();
                    if svc == service && pred(&text) {
                        return text;
                    }
                }
            })
            .await
            .unwrap_or_else(|_| panic!("no matching {service} message in {secs}s"))
        })
    }
}

fn json(status: u16, body: String) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("Content-Type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .unwrap()
}

fn status(code: u16) -> Response<Full<Bytes>> {
    Response::builder()
        .status(code)
        .body(Full::new(Bytes::new()))
        .unwrap()
}

/// The connection a request came on.
#[derive(Clone)]
struct Conn {
    number: usize,
    served: Arc<AtomicUsize>,
    cut: CancellationToken,
}

async fn handle(
    s: Arc<Mutex<Shared>>,
    req: Request<Incoming>,
    conn: Conn,
) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_owned();
    if req.method() == hyper::Method::POST {
        let earlier = conn.served.fetch_add(1, Ordering::SeqCst);
        let after_post = {
            let mut st = s.lock().unwrap();
            let drop_it = st.after_post == AfterPost::DropNext && earlier > 0;
            if drop_it {
                st.dropped_posts += 1;
            } else {
                st.posts.push((conn.number, path.clone()));
            }
            (!drop_it).then_some(st.after_post)
        };
        let Some(after_post) = after_post else {
            // Close the connection; this request is never answered.
            conn.cut.cancel();
            return std::future::pending().await;
        };
        let mut response = post(&s, req, &path).await;
        if after_post == AfterPost::AnnounceClose {
            response.headers_mut().insert(
                hyper::header::CONNECTION,
                hyper::header::HeaderValue::from_static("close"),
            );
        }
        return response;
    }
    upgrade(&s, req, &path)
}

/// A handshake request (steps 1-4).
async fn post(s: &Arc<Mutex<Shared>>, req: Request<Incoming>, path: &str) -> Response<Full<Bytes>> {
    {
        let bearer = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_owned);
        let Ok(body) = Limited::new(req.into_body(), 8192).collect().await else {
            return status(413);
        };
        let body = body.to_bytes();
        let msg = match message::decode::<Handshake>(&body, Role::Device) {
            Ok(m) => m,
            Err(e) => {
                let r = Handshaker::bad_request(&e);
                return json(r.status, message::encode(&r.body));
            }
        };
        let mut st = s.lock().unwrap();
        let now = unix_now();
        let nonce = st.nonce();
        let reply = match (path, &msg) {
            ("/cloudlink/v1/auth", _) => {
                let serial = match &msg {
                    Handshake::AuthRequest(r) => r.serial.clone(),
                    Handshake::AuthProof(p) => p.serial.clone(),
                    _ => String::new(),
                };
                let key = st.inventory.get(&serial).map(|(k, _)| k.clone());
                let record = key.as_ref().map(|k| DeviceRecord {
                    key: Some(k),
                    certificate_allowed: false,
                });
                let Shared {
                    handshaker, replay, ..
                } = &mut *st;
                handshaker.auth(now, &msg, record, None, nonce, replay)
            }
            ("/cloudlink/v1/register", Handshake::RegisterRequest(r)) => {
                let known = st.inventory.contains_key(&r.serial);
                st.handshaker
                    .register(now, bearer.as_deref(), r, known, nonce)
            }
            _ => return status(404),
        };
        let entry = match &reply.body {
            Handshake::AuthFailure(f) => format!("auth_failure {:?}", f.reason),
            Handshake::AuthSuccess(_) => "auth_success".into(),
            Handshake::RegisterResponse(_) => "registered".into(),
            Handshake::RegisterFailure(f) => format!("register_failure {:?}", f.reason),
            _ => String::new(),
        };
        if !entry.is_empty() {
            st.log.push(entry);
        }
        json(reply.status, message::encode(&reply.body))
    }
}

/// A WebSocket upgrade (steps 5-6 and 11).
fn upgrade(s: &Arc<Mutex<Shared>>, req: Request<Incoming>, path: &str) -> Response<Full<Bytes>> {
    let header = |n: &str| {
        req.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let (Some(serial), Some(ws_key)) = (header("cloudlink-serial"), header("sec-websocket-key"))
    else {
        return status(400);
    };
    let proof = header("cloudlink-proof");
    let token = req
        .uri()
        .query()
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("token=")))
        .unwrap_or("")
        .to_owned();
    let service = path.strip_prefix(SERVICE_PATH_PREFIX).map(str::to_owned);
    let admitted = {
        let mut st = s.lock().unwrap();
        let key = st.inventory.get(&serial).map(|(k, _)| k.clone());
        let presenter = Presenter {
            serial: &serial,
            proof: proof.as_deref(),
            cert_serial: None,
        };
        let Shared {
            handshaker, replay, ..
        } = &mut *st;
        let r = match (&service, path) {
            (Some(svc), _) => handshaker.admit_subconnection(
                unix_now(),
                svc,
                &token,
                presenter,
                key.as_ref(),
                replay,
            ),
            (None, TUNNEL_PATH) => {
                handshaker.admit_tunnel(unix_now(), &token, presenter, key.as_ref(), replay)
            }
            _ => return status(404),
        };
        if let Err(e) = &r {
            st.log.push(format!("upgrade refused {e}"));
        }
        r
    };
    if let Err(e) = admitted {
        return status(e.status());
    }
    let accept = derive_accept_key(ws_key.as_bytes());
    let s2 = Arc::clone(s);
    tokio::spawn(async move {
        let Ok(upgraded) = hyper::upgrade::on(req).await else {
            return;
        };
        let ws =
            WebSocketStream::from_raw_socket(TokioIo::new(upgraded), WsRole::Server, None).await;
        match service {
            Some(svc) => run_service(s2, svc, ws).await,
            None => run_tunnel(s2, serial, ws).await,
        }
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header("Upgrade", "websocket")
        .header("Connection", "Upgrade")
        .header("Sec-WebSocket-Accept", accept)
        .header("Sec-WebSocket-Protocol", SUBPROTOCOL)
        .body(Full::new(Bytes::new()))
        .unwrap()
}

type ServerWs = WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>;

async fn run_tunnel(s: Arc<Mutex<Shared>>, serial: String, mut ws: ServerWs) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let welcome = {
        let mut st = s.lock().unwrap();
        st.tunnels.insert(serial.clone(), tx.clone());
        st.log.push(format!("tunnel {serial}"));
        let (keepalive, ping_interval, read_timeout) = st.welcome;
        Tunnel::Welcome {
            version: 1,
            tunnel_id: "t".into(),
            keepalive,
            ping_interval,
            read_timeout,
            server_time: unix_now(),
        }
    };
    if ws
        .send(Frame::text(message::encode(&welcome)))
        .await
        .is_err()
    {
        return;
    }
    loop {
        tokio::select! {
            out = rx.recv() => {
                let Some(frame) = out else { break };
                let closing = matches!(frame, Frame::Close(_));
                let _ = ws.send(frame).await;
                if closing {
                    break;
                }
            }
            frame = ws.next() => {
                let text = match frame {
                    Some(Ok(Frame::Text(t))) => t.as_str().to_owned(),
                    Some(Ok(Frame::Close(f))) => {
                        s.lock().unwrap().log.push(format!(
                            "device closed {}",
                            f.map_or(0, |f| u16::from(f.code))
                        ));
                        break;
                    }
                    Some(Ok(_)) => continue,
                    _ => break,
                };
                let Ok(msg) = message::decode::<Tunnel>(text.as_bytes(), Role::Device) else {
                    break;
                };
                let reply = {
                    let mut st = s.lock().unwrap();
                    match msg {
                        Tunnel::Keepalive { seq } => {
                            st.log.push("keepalive".into());
                            st.ack_keepalives.then_some(Tunnel::KeepaliveAck { seq })
                        }
                        Tunnel::SubconnRequest { id, services } => {
                            st.log.push(format!("subconn_request {}", services.join(",")));
                            let offered = ["terminal", "config", "telemetry"];
                            let Shared { handshaker, nonce, .. } = &mut *st;
                            let mut next = || {
                                *nonce += 1;
                                let mut n = rand::random::<[u8; 16]>();
                                n[..8].copy_from_slice(&nonce.to_be_bytes());
                                n
                            };
                            Some(handshaker.grant(unix_now(), &serial, id, &services, &offered, &mut next))
                        }
                        Tunnel::UnbindCode { id, code } => {
                            let normal: String = code.to_ascii_uppercase().chars().filter(|c| *c != '-').collect();
                            let outstanding = st.unbind_codes.get(&serial).cloned();
                            match outstanding {
                                Some((good, account)) if good == normal => {
                                    st.unbind_codes.remove(&serial);
                                    if let Some(entry) = st.inventory.get_mut(&serial) {
                                        entry.1 = account.clone();
                                    }
                                    st.log.push(format!("rebound {serial} to {account}"));
                                    Some(Tunnel::UnbindResult { id, ok: true, reason: None })
                                }
                                _ => Some(Tunnel::UnbindResult {
                                    id,
                                    ok: false,
                                    reason: Some(message::UnbindFailureReason::InvalidCode),
                                }),
                            }
                        }
                        Tunnel::CommandAck { id, ok, .. } => {
                            st.log.push(format!("command_ack {id} {ok}"));
                            None
                        }
                        _ => None,
                    }
                };
                if let Some(r) = reply
                    && ws.send(Frame::text(message::encode(&r))).await.is_err()
                {
                    break;
                }
            }
        }
    }
    let mut st = s.lock().unwrap();
    st.log.push(format!("tunnel closed {serial}"));
    // A newer tunnel of the same serial keeps its entry.
    if st.tunnels.get(&serial).is_some_and(|t| t.same_channel(&tx)) {
        st.tunnels.remove(&serial);
    }
}

async fn run_service(s: Arc<Mutex<Shared>>, name: String, mut ws: ServerWs) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let from = {
        let mut st = s.lock().unwrap();
        st.services.insert(name.clone(), tx.clone());
        st.log.push(format!("service {name}"));
        st.from_services.clone()
    };
    loop {
        tokio::select! {
            out = rx.recv() => {
                let Some(frame) = out else { break };
                if ws.send(frame).await.is_err() {
                    break;
                }
            }
            frame = ws.next() => match frame {
                Some(Ok(Frame::Text(t))) => {
                    let _ = from.send((name.clone(), t.as_str().to_owned()));
                }
                Some(Ok(Frame::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            }
        }
    }
    let mut st = s.lock().unwrap();
    if st.services.get(&name).is_some_and(|t| t.same_channel(&tx)) {
        st.services.remove(&name);
    }
    st.log.push(format!("service closed {name}"));
}

/// A close frame with a protocol code.
pub fn close_frame(code: CloseCode) -> Frame {
    Frame::Close(Some(CloseFrame {
        code: WsCode::from(code.code()),
        reason: code.reason().into(),
    }))
}
