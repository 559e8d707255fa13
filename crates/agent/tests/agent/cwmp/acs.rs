//! A small ACS written from the specification for these tests: hyper over a real TCP socket,
//! hand-written SOAP strings, MD5 Digest (RFC 2617) computed here, no tether-cwmp code.
//!
//! It answers Informs (InformResponse echoing the `cwmp:ID`), TransferComplete and
//! GetRPCMethods; after the CPE's empty POST it hands out the scripted requests one by one and
//! records the CPE's answers; 204 when the script is empty. It also serves files (GET) and
//! takes uploads (PUT) for transfer tests.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use md5::{Digest, Md5};
use tokio::net::TcpListener;

pub const NS: &str = "urn:dslforum-org:cwmp-1-2";

/// A SOAP envelope around `body` with `cwmp:ID` `id`.
pub fn envelope(id: &str, body: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
<soap-env:Envelope xmlns:soap-env=\"http://schemas.xmlsoap.org/soap/envelope/\" \
xmlns:soap-enc=\"http://schemas.xmlsoap.org/soap/encoding/\" \
xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" \
xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xmlns:cwmp=\"{NS}\">\
<soap-env:Header><cwmp:ID soap-env:mustUnderstand=\"1\">{id}</cwmp:ID></soap-env:Header>\
<soap-env:Body>{body}</soap-env:Body></soap-env:Envelope>"
    )
}

/// The text of the first element with local name `local` (any prefix).
pub fn tag_text(xml: &str, local: &str) -> Option<String> {
    let mut rest = xml;
    while let Some(start) = rest.find('<') {
        rest = &rest[start + 1..];
        let name_end = rest.find(['>', ' ', '/'])?;
        let name = &rest[..name_end];
        let bare = name.rsplit(':').next().unwrap_or(name);
        if bare == local && !name.starts_with('/') {
            let open_end = rest.find('>')?;
            if rest[..open_end].ends_with('/') {
                return Some(String::new());
            }
            let body = &rest[open_end + 1..];
            let close = body.find("</")?;
            return Some(body[..close].to_owned());
        }
    }
    None
}

/// Every text of elements with local name `local`.
pub fn all_tag_texts(xml: &str, local: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(pos) = rest.find('<') {
        let tail = &rest[pos..];
        match tag_text(tail, local) {
            Some(text) => {
                out.push(text);
                // Skip past this element's opening tag.
                let after = tail[1..]
                    .find(&format!("{local}>"))
                    .map_or(tail.len(), |i| i + 1 + local.len() + 1);
                rest = &tail[after..];
                // And past its closing tag.
                if let Some(close) = rest.find(&format!("{local}>")) {
                    rest = &rest[close + local.len() + 1..];
                }
            }
            None => break,
        }
    }
    out
}

/// The method (local name of the first Body child), or `""` for an empty body.
pub fn method_of(xml: &str) -> String {
    let Some(body) = xml.find("Body>") else {
        return String::new();
    };
    let rest = &xml[body + 5..];
    let Some(start) = rest.find('<') else {
        return String::new();
    };
    let rest = &rest[start + 1..];
    let end = rest.find(['>', ' ', '/']).unwrap_or(rest.len());
    let name = &rest[..end];
    name.rsplit(':').next().unwrap_or(name).to_owned()
}

/// The event codes of an Inform.
pub fn events_of(xml: &str) -> Vec<String> {
    all_tag_texts(xml, "EventCode")
}

/// The `(EventCode, CommandKey)` pairs of an Inform.
pub fn events_with_keys(xml: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for part in xml.split("EventStruct>").skip(1) {
        if let Some(code) = tag_text(part, "EventCode") {
            out.push((code, tag_text(part, "CommandKey").unwrap_or_default()));
        }
    }
    out
}

/// The value of parameter `name` in a ParameterList.
pub fn param(xml: &str, name: &str) -> Option<String> {
    let marker = format!("<Name>{name}</Name>");
    let at = xml.find(&marker)?;
    tag_text(&xml[at + marker.len()..], "Value")
}

/// One POST as received.
#[derive(Debug, Clone)]
pub struct Post {
    pub headers: HashMap<String, String>,
    pub body: String,
    pub status: u16,
}

#[derive(Default)]
pub struct AcsState {
    pub posts: Vec<Post>,
    pub informs: Vec<(tokio::time::Instant, String)>,
    /// Requests to hand out (the Body child XML); `MALFORMED` sends broken XML.
    pub script: VecDeque<String>,
    /// The CPE's answers to scripted requests, in order.
    pub answers: Vec<String>,
    pub transfer_completes: Vec<String>,
    pub digest: Option<(String, String)>,
    pub fail_informs: u32,
    pub cookies: bool,
    pub files: HashMap<String, Vec<u8>>,
    pub file_auth: Option<(String, String, String)>,
    pub uploads: Vec<(String, Vec<u8>)>,
    nonce: u64,
    next_id: u64,
}

/// A running test ACS.
#[derive(Clone)]
pub struct Acs {
    pub addr: SocketAddr,
    pub state: Arc<Mutex<AcsState>>,
}

fn md5_hex(text: &str) -> String {
    Md5::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn auth_params(header: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let rest = header.trim_start_matches("Digest").trim();
    let mut chars = rest;
    while !chars.is_empty() {
        let Some(eq) = chars.find('=') else { break };
        let key = chars[..eq]
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        let after = &chars[eq + 1..];
        let (value, next) = if let Some(stripped) = after.strip_prefix('"') {
            let end = stripped.find('"').unwrap_or(stripped.len());
            (
                stripped[..end].to_owned(),
                &stripped[(end + 1).min(stripped.len())..],
            )
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim().to_owned(), &after[end..])
        };
        out.insert(key, value);
        chars = next.trim_start_matches(',').trim();
    }
    out
}

/// RFC 2617 qop=auth check of an `Authorization: Digest` for a POST.
fn digest_ok(header: Option<&String>, user: &str, pass: &str, realm: &str) -> bool {
    let Some(h) = header else { return false };
    if !h.starts_with("Digest") {
        return false;
    }
    let p = auth_params(h);
    let get = |k: &str| p.get(k).cloned().unwrap_or_default();
    if get("username") != user || get("realm") != realm {
        return false;
    }
    let ha1 = md5_hex(&format!("{user}:{realm}:{pass}"));
    let ha2 = md5_hex(&format!("POST:{}", get("uri")));
    let expected = md5_hex(&format!(
        "{ha1}:{}:{}:{}:{}:{ha2}",
        get("nonce"),
        get("nc"),
        get("cnonce"),
        get("qop")
    ));
    expected == get("response")
}

fn reply(status: StatusCode, body: String, extra: &[(&str, String)]) -> Response<Full<Bytes>> {
    let mut b = Response::builder().status(status);
    if !body.is_empty() {
        b = b.header("Content-Type", "text/xml; charset=\"utf-8\"");
    }
    for (k, v) in extra {
        b = b.header(*k, v.as_str());
    }
    b.body(Full::new(Bytes::from(body))).unwrap()
}

async fn handle(
    req: Request<Incoming>,
    state: Arc<Mutex<AcsState>>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let headers: HashMap<String, String> = req
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let body = req.into_body().collect().await.unwrap().to_bytes();
    let mut st = state.lock().unwrap();
    if method == hyper::Method::GET {
        if let Some((_, u, p)) = st.file_auth.clone().filter(|(fp, _, _)| *fp == path) {
            use base64_like::encode;
            let want = format!("Basic {}", encode(format!("{u}:{p}").as_bytes()));
            if headers.get("authorization") != Some(&want) {
                return Ok(reply(
                    StatusCode::UNAUTHORIZED,
                    String::new(),
                    &[("WWW-Authenticate", "Basic realm=\"files\"".into())],
                ));
            }
        }
        return Ok(match st.files.get(&path) {
            Some(data) => Response::new(Full::new(Bytes::from(data.clone()))),
            None => reply(StatusCode::NOT_FOUND, String::new(), &[]),
        });
    }
    if method == hyper::Method::PUT {
        st.uploads.push((path, body.to_vec()));
        return Ok(reply(StatusCode::OK, String::new(), &[]));
    }
    let text = String::from_utf8_lossy(&body).into_owned();
    let mut post = Post {
        headers: headers.clone(),
        body: text.clone(),
        status: 0,
    };
    if let Some((user, pass)) = st.digest.clone()
        && !digest_ok(headers.get("authorization"), &user, &pass, "acs")
    {
        st.nonce += 1;
        let challenge = format!(
            "Digest realm=\"acs\", qop=\"auth\", nonce=\"n{:08}\", algorithm=MD5",
            st.nonce
        );
        post.status = 401;
        st.posts.push(post);
        return Ok(reply(
            StatusCode::UNAUTHORIZED,
            String::new(),
            &[("WWW-Authenticate", challenge)],
        ));
    }
    let id = tag_text(&text, "ID").unwrap_or_default();
    let rpc = method_of(&text);
    let mut extra: Vec<(&str, String)> = Vec::new();
    let (status, out) = match rpc.as_str() {
        "Inform" => {
            st.informs.push((tokio::time::Instant::now(), text.clone()));
            if st.fail_informs > 0 {
                st.fail_informs -= 1;
                (StatusCode::SERVICE_UNAVAILABLE, String::new())
            } else {
                if st.cookies {
                    extra.push(("Set-Cookie", "session=s3cr3t; Path=/".into()));
                    extra.push(("Set-Cookie", "node=n1; Path=/acs".into()));
                }
                (
                    StatusCode::OK,
                    envelope(
                        &id,
                        "<cwmp:InformResponse><MaxEnvelopes>1</MaxEnvelopes></cwmp:InformResponse>",
                    ),
                )
            }
        }
        "TransferComplete" => {
            st.transfer_completes.push(text.clone());
            (
                StatusCode::OK,
                envelope(&id, "<cwmp:TransferCompleteResponse/>"),
            )
        }
        _ => {
            if !rpc.is_empty() {
                st.answers.push(text.clone());
            }
            match st.script.pop_front() {
                None => (StatusCode::NO_CONTENT, String::new()),
                Some(m) if m == "MALFORMED" => (
                    StatusCode::OK,
                    "<soap-env:Envelope xmlns:soap-env=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap-env:Body><cwmp:GetParameterValues".to_owned(),
                ),
                Some(m) => {
                    st.next_id += 1;
                    (StatusCode::OK, envelope(&format!("acs-{}", st.next_id), &m))
                }
            }
        }
    };
    post.status = status.as_u16();
    st.posts.push(post);
    Ok(reply(status, out, &extra))
}

/// Tiny Basic-credentials encoder (RFC 4648 base64), so the ACS needs nothing of ours.
mod base64_like {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    pub fn encode(input: &[u8]) -> String {
        let mut out = String::new();
        for chunk in input.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }
}

impl Acs {
    /// Starts an ACS on 127.0.0.1 on the current runtime.
    pub async fn start() -> Acs {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(AcsState::default()));
        let shared = Arc::clone(&state);
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let st = Arc::clone(&shared);
                tokio::spawn(async move {
                    let service = service_fn(move |req| handle(req, Arc::clone(&st)));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Acs { addr, state }
    }

    /// The ACS URL.
    pub fn url(&self) -> String {
        format!("http://{}/acs", self.addr)
    }

    pub fn with<R>(&self, f: impl FnOnce(&mut AcsState) -> R) -> R {
        f(&mut self.state.lock().unwrap())
    }

    pub fn informs(&self) -> Vec<String> {
        self.with(|s| s.informs.iter().map(|(_, x)| x.clone()).collect())
    }

    pub fn push(&self, request: &str) {
        self.with(|s| s.script.push_back(request.to_owned()));
    }

    /// Waits (real time, up to `secs`) until `pred` holds.
    pub async fn wait_for(&self, secs: u64, what: &str, pred: impl Fn(&AcsState) -> bool) {
        let deadline = std::time::Instant::now() + Duration::from_secs(secs);
        loop {
            if pred(&self.state.lock().unwrap()) {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting for {what}; informs: {:#?}",
                self.informs()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until the script is used up and the CPE's last answer arrived.
    pub async fn wait_answers(&self, n: usize) -> Vec<String> {
        self.wait_for(20, &format!("{n} answers"), |s| s.answers.len() >= n)
            .await;
        self.with(|s| s.answers.clone())
    }

    /// Every non-empty body the CPE POSTed.
    pub fn bodies(&self) -> Vec<String> {
        self.with(|s| {
            s.posts
                .iter()
                .filter(|p| !p.body.trim().is_empty())
                .map(|p| p.body.clone())
                .collect()
        })
    }
}
