//! A CPE written from the TR-069 text: SOAP by hand, HTTP/1.1 by hand, Digest by hand.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use md5::{Digest as _, Md5};
use tether_server::config::Secs;
use tether_server::{Server, ServerConfig, ServerHandle};
use tether_store::{Credentials, DeviceIdentity, NewTask, Store, Task, TaskId, Timestamp};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::TcpStream;

pub const CWMP_1_0: &str = "urn:dslforum-org:cwmp-1-0";
pub const ADMIN_PASSWORD: &str = "correct horse battery staple";

// ----- server -----

/// A running server, its data directory, and every ACS message received from it.
pub struct TestAcs {
    pub handle: ServerHandle,
    pub dir: tempfile::TempDir,
    pub collected: Arc<Mutex<Vec<String>>>,
}

pub fn config(dir: &std::path::Path) -> ServerConfig {
    let mut c = ServerConfig {
        data_dir: dir.to_owned(),
        shutdown_grace: Secs::from_secs(5),
        ..ServerConfig::default()
    };
    c.api.listen = "127.0.0.1:0".parse().unwrap();
    c.cwmp.listen = "127.0.0.1:0".parse().unwrap();
    c.cloud.listen = "127.0.0.1:0".parse().unwrap();
    c.admin.password = Some(ADMIN_PASSWORD.into());
    c
}

/// For tests about something other than connection-request credentials: the ACS does not
/// provision them at a device's first session, so a session carries exactly the RPCs the test
/// queued. (Provisioning itself is tested in `provision.rs`.)
pub fn no_provisioning(c: &mut ServerConfig) {
    c.cwmp.connection_request.provision_credentials = false;
}

impl TestAcs {
    pub async fn start(tweak: impl FnOnce(&mut ServerConfig)) -> TestAcs {
        let dir = tempfile::tempdir().unwrap();
        let mut c = config(dir.path());
        tweak(&mut c);
        let handle = Server::start(c).await.expect("server starts");
        TestAcs {
            handle,
            dir,
            collected: Arc::new(Mutex::new(Vec::new())),
        }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.handle.app().store
    }

    pub fn cpe(&self, serial: &str) -> Cpe {
        Cpe::new(self.handle.cwmp_addr, serial, self.collected.clone())
    }

    /// Pre-registers a device, optionally with the credentials it must present.
    pub async fn register(&self, serial: &str, creds: Option<(&str, &str)>) -> String {
        let identity = identity(serial);
        let creds = creds.map(|(u, p)| Credentials {
            username: u.into(),
            password: p.into(),
        });
        self.store()
            .register_device(&identity, None, creds.as_ref(), now())
            .await
            .unwrap();
        identity.id
    }

    pub async fn queue(&self, device: &str, spec: serde_json::Value) -> TaskId {
        let kind = spec["kind"].as_str().unwrap().to_owned();
        self.store()
            .create_task(&NewTask {
                device_id: device.into(),
                kind,
                payload: spec,
                expires_at: None,
                created_at: now(),
            })
            .await
            .unwrap()
    }

    pub async fn task(&self, id: TaskId) -> Task {
        self.store().task(id).await.unwrap().unwrap()
    }

    /// Validates every ACS message received so far against the BBF schemas.
    pub fn validate_all(&self) {
        let bodies = self.collected.lock().unwrap().clone();
        validate_with_xmllint(&bodies);
    }

    pub async fn stop(self) {
        self.validate_all();
        self.handle.shutdown().await.expect("clean shutdown");
    }
}

pub fn now() -> Timestamp {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    Timestamp(ms as i64)
}

pub const OUI: &str = "00E0FC";
pub const CLASS: &str = "HX5";

pub fn identity(serial: &str) -> DeviceIdentity {
    DeviceIdentity {
        id: format!("{OUI}-{CLASS}-{serial}"),
        oui: OUI.into(),
        product_class: CLASS.into(),
        serial_number: serial.into(),
        manufacturer: "Acme".into(),
    }
}

// ----- HTTP -----

pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// An HTTP response as received.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The ACS message in the body (panics when there is none).
    pub fn msg(&self) -> Msg {
        assert_eq!(self.status, 200, "expected a CWMP message, got {self:?}");
        Msg::parse(&self.body)
    }
}

/// Reads one response (skipping `100 Continue`) from `stream`, keeping leftovers in `buf`.
pub async fn read_response(stream: &mut (dyn Io + '_), buf: &mut Vec<u8>) -> std::io::Result<Resp> {
    loop {
        let head_end = loop {
            if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break p;
            }
            let mut chunk = [0u8; 8192];
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "connection closed",
                ));
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        buf.drain(..head_end + 4);
        let mut lines = head.split("\r\n");
        let status: u16 = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
            .collect();
        if (100..200).contains(&status) {
            continue;
        }
        let mut resp = Resp {
            status,
            headers,
            body: String::new(),
        };
        if status == 204 || status == 304 {
            return Ok(resp);
        }
        let body = if let Some(len) = resp.header("content-length") {
            let len: usize = len.parse().unwrap();
            while buf.len() < len {
                let mut chunk = [0u8; 8192];
                let n = stream.read(&mut chunk).await?;
                if n == 0 {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "short body",
                    ));
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            buf.drain(..len).collect::<Vec<u8>>()
        } else if resp
            .header("transfer-encoding")
            .is_some_and(|v| v.contains("chunked"))
        {
            let mut out = Vec::new();
            loop {
                let line_end = loop {
                    if let Some(p) = buf.windows(2).position(|w| w == b"\r\n") {
                        break p;
                    }
                    let mut chunk = [0u8; 8192];
                    let n = stream.read(&mut chunk).await?;
                    if n == 0 {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::UnexpectedEof,
                            "chunks",
                        ));
                    }
                    buf.extend_from_slice(&chunk[..n]);
                };
                let size =
                    usize::from_str_radix(String::from_utf8_lossy(&buf[..line_end]).trim(), 16)
                        .unwrap();
                buf.drain(..line_end + 2);
                while buf.len() < size + 2 {
                    let mut chunk = [0u8; 8192];
                    let n = stream.read(&mut chunk).await?;
                    if n == 0 {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::UnexpectedEof,
                            "chunk",
                        ));
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                out.extend(buf.drain(..size));
                buf.drain(..2);
                if size == 0 {
                    break out;
                }
            }
        } else {
            let mut rest = Vec::new();
            stream.read_to_end(&mut rest).await?;
            buf.extend(rest);
            std::mem::take(buf)
        };
        resp.body = String::from_utf8_lossy(&body).into_owned();
        return Ok(resp);
    }
}

/// `METHOD path` with headers and a body on a fresh plain connection; one response.
pub async fn http_once(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Resp {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    req.push_str("\r\n");
    tcp.write_all(req.as_bytes()).await.unwrap();
    tcp.write_all(body).await.unwrap();
    let mut buf = Vec::new();
    read_response(&mut tcp, &mut buf).await.unwrap()
}

// ----- Digest, from RFC 2617 -----

pub fn md5_hex(text: &str) -> String {
    let mut h = Md5::new();
    h.update(text.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// `key="value"` / `key=value` parameters of a challenge or credentials (after the scheme).
pub fn auth_params(header: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = header.trim();
    if let Some((scheme, tail)) = rest.split_once(' ')
        && !scheme.contains('=')
    {
        rest = tail;
    }
    while !rest.is_empty() {
        let Some((key, tail)) = rest.split_once('=') else {
            break;
        };
        let key = key
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        let tail = tail.trim_start();
        let (value, tail) = if let Some(quoted) = tail.strip_prefix('"') {
            let end = quoted.find('"').unwrap();
            (&quoted[..end], &quoted[end + 1..])
        } else {
            let end = tail.find(',').unwrap_or(tail.len());
            (tail[..end].trim(), &tail[end..])
        };
        out.push((key, value.to_owned()));
        rest = tail.trim_start().trim_start_matches(',').trim_start();
    }
    out
}

pub fn param<'a>(params: &'a [(String, String)], key: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

#[derive(Debug, Clone)]
pub struct DigestState {
    pub realm: String,
    pub nonce: String,
    pub qop: bool,
    pub nc: u32,
}

impl DigestState {
    pub fn from_challenge(header: &str) -> DigestState {
        assert!(
            header.to_ascii_lowercase().starts_with("digest"),
            "not a Digest challenge: {header}"
        );
        let p = auth_params(header);
        DigestState {
            realm: param(&p, "realm").unwrap().to_owned(),
            nonce: param(&p, "nonce").unwrap().to_owned(),
            qop: param(&p, "qop").is_some_and(|q| q.split(',').any(|x| x.trim() == "auth")),
            nc: 0,
        }
    }

    pub fn authorization(&mut self, method: &str, uri: &str, user: &str, password: &str) -> String {
        self.nc += 1;
        let ha1 = md5_hex(&format!("{user}:{}:{password}", self.realm));
        let ha2 = md5_hex(&format!("{method}:{uri}"));
        if self.qop {
            let nc = format!("{:08x}", self.nc);
            let cnonce = format!("c{:x}", self.nc * 7919);
            let response = md5_hex(&format!("{ha1}:{}:{nc}:{cnonce}:auth:{ha2}", self.nonce));
            format!(
                "Digest username=\"{user}\", realm=\"{}\", nonce=\"{}\", uri=\"{uri}\", algorithm=MD5, response=\"{response}\", qop=auth, nc={nc}, cnonce=\"{cnonce}\"",
                self.realm, self.nonce
            )
        } else {
            let response = md5_hex(&format!("{ha1}:{}:{ha2}", self.nonce));
            format!(
                "Digest username=\"{user}\", realm=\"{}\", nonce=\"{}\", uri=\"{uri}\", response=\"{response}\"",
                self.realm, self.nonce
            )
        }
    }
}

pub fn basic_header(user: &str, password: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

// ----- the CPE -----

/// How the CPE authenticates.
#[derive(Debug, Clone)]
pub enum CpeAuth {
    None,
    Digest { user: String, password: String },
    Basic { user: String, password: String },
}

pub struct Cpe {
    pub addr: SocketAddr,
    pub serial: String,
    pub ns: String,
    stream: Option<Box<dyn Io>>,
    buf: Vec<u8>,
    pub tls: Option<tokio_rustls::TlsConnector>,
    pub cookie: Option<String>,
    /// Send the cookie back (false: a CPE that drops cookies).
    pub send_cookie: bool,
    pub auth: CpeAuth,
    pub digest: Option<DigestState>,
    collected: Arc<Mutex<Vec<String>>>,
    next_id: u32,
}

impl Cpe {
    pub fn new(addr: SocketAddr, serial: &str, collected: Arc<Mutex<Vec<String>>>) -> Cpe {
        Cpe {
            addr,
            serial: serial.into(),
            ns: CWMP_1_0.into(),
            stream: None,
            buf: Vec::new(),
            tls: None,
            cookie: None,
            send_cookie: true,
            auth: CpeAuth::None,
            digest: None,
            collected,
            next_id: 1,
        }
    }

    pub fn device_id(&self) -> String {
        format!("{OUI}-{CLASS}-{}", self.serial)
    }

    /// Closes the TCP connection; the next request opens a new one.
    pub fn reconnect(&mut self) {
        self.stream = None;
        self.buf.clear();
    }

    async fn stream(&mut self) -> &mut Box<dyn Io> {
        if self.stream.is_none() {
            let tcp = TcpStream::connect(self.addr).await.expect("connect");
            tcp.set_nodelay(true).unwrap();
            let s: Box<dyn Io> = match &self.tls {
                None => Box::new(tcp),
                Some(c) => {
                    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
                    Box::new(c.connect(name, tcp).await.expect("TLS handshake"))
                }
            };
            self.stream = Some(s);
        }
        self.stream.as_mut().unwrap()
    }

    /// POSTs raw bytes with extra header lines; returns the response.
    pub async fn post_raw(&mut self, extra: &[(&str, String)], body: &[u8]) -> Resp {
        let mut head = format!("POST /cwmp HTTP/1.1\r\nHost: {}\r\n", self.addr);
        for (n, v) in extra {
            head.push_str(&format!("{n}: {v}\r\n"));
        }
        if self.send_cookie
            && let Some(c) = &self.cookie
        {
            head.push_str(&format!("Cookie: tether_session={c}\r\n"));
        }
        match self.auth.clone() {
            CpeAuth::Digest { user, password } => {
                if let Some(d) = &mut self.digest {
                    let a = d.authorization("POST", "/cwmp", &user, &password);
                    head.push_str(&format!("Authorization: {a}\r\n"));
                }
            }
            CpeAuth::Basic { user, password } => {
                head.push_str(&format!(
                    "Authorization: {}\r\n",
                    basic_header(&user, &password)
                ));
            }
            CpeAuth::None => {}
        }
        head.push_str("\r\n");
        let mut buf = std::mem::take(&mut self.buf);
        let stream = self.stream().await;
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(body).await.unwrap();
        stream.flush().await.unwrap();
        let resp = read_response(&mut **stream, &mut buf)
            .await
            .expect("a response");
        self.buf = buf;
        if resp
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
        {
            self.reconnect();
        }
        if let Some(sc) = resp.header("set-cookie") {
            let v = sc.split(';').next().unwrap();
            let (name, value) = v.split_once('=').unwrap();
            assert_eq!(name.trim(), "tether_session");
            assert!(sc.contains("Path=/") && sc.contains("HttpOnly"), "{sc}");
            self.cookie = Some(value.trim().to_owned());
        }
        if resp.status == 200
            && resp
                .header("content-type")
                .is_some_and(|t| t.starts_with("text/xml"))
        {
            self.collected.lock().unwrap().push(resp.body.clone());
        }
        resp
    }

    /// POSTs an envelope (`Content-Type: text/xml`, `SOAPAction` empty).
    pub async fn post(&mut self, xml: &str) -> Resp {
        let extra = [
            ("Content-Type", "text/xml; charset=\"utf-8\"".to_owned()),
            ("SOAPAction", String::new()),
            ("Content-Length", xml.len().to_string()),
        ];
        self.post_raw(&extra, xml.as_bytes()).await
    }

    /// The empty POST: Content-Length 0, no Content-Type, no SOAPAction (HTTP-02).
    pub async fn empty(&mut self) -> Resp {
        self.post_raw(&[("Content-Length", "0".to_owned())], b"")
            .await
    }

    pub fn id(&mut self) -> String {
        self.next_id += 1;
        format!("cpe-{}", self.next_id)
    }

    /// Sends an Inform; answers one Digest challenge on a NEW connection if challenged.
    pub async fn inform(&mut self, events: &[(&str, &str)], params: &[(&str, &str)]) -> Resp {
        let id = self.id();
        let xml = inform_xml(&self.ns, &id, &self.serial, events, params);
        let resp = self.post(&xml).await;
        if resp.status == 401
            && matches!(self.auth, CpeAuth::Digest { .. })
            && self.digest.is_none()
        {
            let challenge = resp
                .headers_named("www-authenticate")
                .into_iter()
                .find(|h| h.to_ascii_lowercase().starts_with("digest"))
                .expect("a Digest challenge")
                .to_owned();
            self.digest = Some(DigestState::from_challenge(&challenge));
            self.reconnect();
            return self.post(&xml).await;
        }
        resp
    }

    /// Runs the rest of a session after the InformResponse: empty POST, then answers every
    /// ACS request with `answer` until 204. Returns the requests received.
    pub async fn run_session(&mut self, mut answer: impl FnMut(&Msg) -> String) -> Vec<Msg> {
        let mut seen = Vec::new();
        let mut resp = self.empty().await;
        for _ in 0..100 {
            if resp.status == 204 {
                return seen;
            }
            let msg = resp.msg();
            let reply = answer(&msg);
            seen.push(msg);
            resp = self.post(&reply).await;
        }
        panic!("the session never ended");
    }
}

// ----- messages -----

pub fn envelope(ns: &str, id: &str, body: &str) -> String {
    format!(
        "<soap-env:Envelope xmlns:soap-env=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:soap-enc=\"http://schemas.xmlsoap.org/soap/encoding/\" xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xmlns:cwmp=\"{ns}\"><soap-env:Header><cwmp:ID soap-env:mustUnderstand=\"1\">{id}</cwmp:ID></soap-env:Header><soap-env:Body>{body}</soap-env:Body></soap-env:Envelope>"
    )
}

pub fn inform_xml(
    ns: &str,
    id: &str,
    serial: &str,
    events: &[(&str, &str)],
    params: &[(&str, &str)],
) -> String {
    let mut ev = String::new();
    for (code, key) in events {
        ev.push_str(&format!(
            "<EventStruct><EventCode>{code}</EventCode><CommandKey>{key}</CommandKey></EventStruct>"
        ));
    }
    let body = format!(
        "<cwmp:Inform><DeviceId><Manufacturer>Acme</Manufacturer><OUI>{OUI}</OUI><ProductClass>{CLASS}</ProductClass><SerialNumber>{serial}</SerialNumber></DeviceId><Event soap-enc:arrayType=\"cwmp:EventStruct[{}]\">{ev}</Event><MaxEnvelopes>1</MaxEnvelopes><CurrentTime>2026-11-22T10:00:00Z</CurrentTime><RetryCount>0</RetryCount>{}</cwmp:Inform>",
        events.len(),
        value_list(params)
    );
    envelope(ns, id, &body)
}

pub fn value_list(params: &[(&str, &str)]) -> String {
    let mut out = format!(
        "<ParameterList soap-enc:arrayType=\"cwmp:ParameterValueStruct[{}]\">",
        params.len()
    );
    for (n, v) in params {
        out.push_str(&format!("<ParameterValueStruct><Name>{n}</Name><Value xsi:type=\"xsd:string\">{v}</Value></ParameterValueStruct>"));
    }
    out.push_str("</ParameterList>");
    out
}

/// A CPE fault answering `msg`, with SetParameterValuesFault entries `(name, code)`.
pub fn fault_xml(ns: &str, id: &str, code: u32, text: &str, spv: &[(&str, u32)]) -> String {
    let mut detail = format!("<FaultCode>{code}</FaultCode><FaultString>{text}</FaultString>");
    for (name, c) in spv {
        detail.push_str(&format!("<SetParameterValuesFault><ParameterName>{name}</ParameterName><FaultCode>{c}</FaultCode><FaultString>bad</FaultString></SetParameterValuesFault>"));
    }
    let body = format!(
        "<soap-env:Fault><faultcode>Client</faultcode><faultstring>CWMP fault</faultstring><detail><cwmp:Fault>{detail}</cwmp:Fault></detail></soap-env:Fault>"
    );
    envelope(ns, id, &body)
}

pub const UNKNOWN_TIME: &str = "0001-01-01T00:00:00Z";

/// The success response a well-behaved CPE gives to `msg`.
pub fn success(msg: &Msg) -> String {
    let id = msg.id.clone().unwrap_or_default();
    let body = match msg.name.as_str() {
        "GetParameterNames" => {
            let path = msg.text("ParameterPath").into_iter().next().unwrap_or_default();
            format!("<cwmp:GetParameterNamesResponse><ParameterList soap-enc:arrayType=\"cwmp:ParameterInfoStruct[2]\"><ParameterInfoStruct><Name>{path}A</Name><Writable>1</Writable></ParameterInfoStruct><ParameterInfoStruct><Name>{path}B</Name><Writable>0</Writable></ParameterInfoStruct></ParameterList></cwmp:GetParameterNamesResponse>")
        }
        "GetParameterValues" => {
            let names = msg.text("string");
            let pairs: Vec<(String, String)> = names.iter().map(|n| (n.clone(), format!("value-of-{n}"))).collect();
            let refs: Vec<(&str, &str)> = pairs.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
            format!("<cwmp:GetParameterValuesResponse>{}</cwmp:GetParameterValuesResponse>", value_list(&refs))
        }
        "SetParameterValues" => "<cwmp:SetParameterValuesResponse><Status>0</Status></cwmp:SetParameterValuesResponse>".into(),
        "GetParameterAttributes" => {
            let names = msg.text("string");
            let mut list = format!("<ParameterList soap-enc:arrayType=\"cwmp:ParameterAttributeStruct[{}]\">", names.len());
            for n in &names {
                list.push_str(&format!("<ParameterAttributeStruct><Name>{n}</Name><Notification>2</Notification><AccessList soap-enc:arrayType=\"xsd:string[1]\"><string>Subscriber</string></AccessList></ParameterAttributeStruct>"));
            }
            format!("<cwmp:GetParameterAttributesResponse>{list}</ParameterList></cwmp:GetParameterAttributesResponse>")
        }
        "SetParameterAttributes" => "<cwmp:SetParameterAttributesResponse/>".into(),
        "AddObject" => "<cwmp:AddObjectResponse><InstanceNumber>7</InstanceNumber><Status>0</Status></cwmp:AddObjectResponse>".into(),
        "DeleteObject" => "<cwmp:DeleteObjectResponse><Status>0</Status></cwmp:DeleteObjectResponse>".into(),
        "Reboot" => "<cwmp:RebootResponse/>".into(),
        "FactoryReset" => "<cwmp:FactoryResetResponse/>".into(),
        "ScheduleInform" => "<cwmp:ScheduleInformResponse/>".into(),
        "Download" => format!("<cwmp:DownloadResponse><Status>1</Status><StartTime>{UNKNOWN_TIME}</StartTime><CompleteTime>{UNKNOWN_TIME}</CompleteTime></cwmp:DownloadResponse>"),
        "Upload" => "<cwmp:UploadResponse><Status>0</Status><StartTime>2026-11-22T10:00:01Z</StartTime><CompleteTime>2026-11-22T10:00:02Z</CompleteTime></cwmp:UploadResponse>".into(),
        other => panic!("unexpected ACS request {other}"),
    };
    envelope(&msg.ns, &id, &body)
}

/// An ACS message read with roxmltree.
#[derive(Debug, Clone)]
pub struct Msg {
    pub xml: String,
    pub ns: String,
    /// Local name of the Body's element (`Fault` for faults).
    pub name: String,
    pub id: Option<String>,
}

const SOAP_ENV: &str = "http://schemas.xmlsoap.org/soap/envelope/";

impl Msg {
    pub fn parse(xml: &str) -> Msg {
        let doc = roxmltree::Document::parse(xml)
            .unwrap_or_else(|e| panic!("ACS sent bad XML ({e}): {xml}"));
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "Envelope");
        assert_eq!(root.tag_name().namespace(), Some(SOAP_ENV));
        let body = root
            .children()
            .find(|n| n.has_tag_name((SOAP_ENV, "Body")))
            .expect("Body");
        let rpc = body
            .children()
            .find(|n| n.is_element())
            .expect("an element in Body");
        let id = root
            .descendants()
            .find(|n| n.tag_name().name() == "ID")
            .and_then(|n| n.text())
            .map(str::to_owned);
        let ns = root
            .descendants()
            .filter_map(|n| n.tag_name().namespace())
            .find(|u| u.starts_with("urn:dslforum-org:cwmp-"))
            .unwrap_or(CWMP_1_0)
            .to_owned();
        Msg {
            xml: xml.to_owned(),
            ns,
            name: rpc.tag_name().name().to_owned(),
            id,
        }
    }

    /// Texts of every element with this local name.
    pub fn text(&self, local: &str) -> Vec<String> {
        let doc = roxmltree::Document::parse(&self.xml).unwrap();
        doc.descendants()
            .filter(|n| n.is_element() && n.tag_name().name() == local)
            .map(|n| n.text().unwrap_or_default().to_owned())
            .collect()
    }

    pub fn fault_code(&self) -> Option<String> {
        (self.name == "Fault").then(|| self.text("FaultCode").into_iter().next().unwrap())
    }
}

// ----- schema validation -----

/// Validates every message against the strict BBF schema of its namespace, in one xmllint run
/// per namespace. Panics when xmllint is missing or a message is invalid.
pub fn validate_with_xmllint(bodies: &[String]) {
    if bodies.is_empty() {
        return;
    }
    let found = std::process::Command::new("xmllint")
        .arg("--version")
        .output();
    assert!(
        found.is_ok(),
        "xmllint is not installed: the ACS messages cannot be validated against the BBF schemas (install libxml2-utils)"
    );
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in tether_cwmp::schemas::FILES {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    let groups = [
        (
            "urn:dslforum-org:cwmp-1-0",
            tether_cwmp::CwmpNamespace::V1_0,
        ),
        (
            "urn:dslforum-org:cwmp-1-1",
            tether_cwmp::CwmpNamespace::V1_1,
        ),
        (
            "urn:dslforum-org:cwmp-1-2",
            tether_cwmp::CwmpNamespace::V1_2,
        ),
    ];
    for (uri, ns) in groups {
        let files: Vec<std::path::PathBuf> = bodies
            .iter()
            .filter(|b| b.contains(&format!("\"{uri}\"")))
            .enumerate()
            .map(|(i, b)| {
                let p = dir
                    .path()
                    .join(format!("msg-{}-{i}.xml", &uri[uri.len() - 3..]));
                std::fs::write(&p, b).unwrap();
                p
            })
            .collect();
        if files.is_empty() {
            continue;
        }
        let out = std::process::Command::new("xmllint")
            .env("XML_CATALOG_FILES", dir.path().join("catalog.xml"))
            .arg("--noout")
            .arg("--nonet")
            .arg("--schema")
            .arg(dir.path().join(tether_cwmp::schemas::strict_schema_for(ns)))
            .args(&files)
            .output()
            .expect("run xmllint");
        assert!(
            out.status.success(),
            "ACS messages fail the {uri} schema:\n{}\n{}",
            String::from_utf8_lossy(&out.stderr),
            files
                .iter()
                .map(|f| std::fs::read_to_string(f).unwrap())
                .collect::<Vec<_>>()
                .join("\n---\n")
        );
    }
}
