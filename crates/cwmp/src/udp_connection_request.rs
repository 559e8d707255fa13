//! UDP Connection Request (TR-069 Annex G, ex TR-111 part 2; requirements `UCR-01`..`UCR-03`).
//!
//! Owns: building the one-datagram HTTP `GET` the ACS sends, the HMAC-SHA1 signature
//! (`sig = hex(HMAC-SHA1(password, ts ‖ id ‖ un ‖ cn))`), strict bounded parsing of a received
//! datagram, and [`UdpRequestValidator`], the CPE-side decision whether a datagram may start a
//! session (`6 CONNECTION REQUEST`).
//!
//! Must not: open sockets, send anything back (Annex G requests are never answered), read a clock
//! or draw random numbers. The ACS passes `ts`, `id` and the cnonce in; the CPE passes `now` in.
//! Nothing here panics on any input.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;

type HmacSha1 = Hmac<Sha1>;

/// Largest datagram we even look at. A UDP connection request is a request line plus a Host
/// header; anything bigger is not one.
pub const MAX_DATAGRAM_LEN: usize = 1400;

/// Length of a decoded HMAC-SHA1 signature.
pub const SIGNATURE_LEN: usize = 20;

/// Why a datagram is not a well-formed UDP connection request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UdpParseError {
    /// Bigger than [`MAX_DATAGRAM_LEN`].
    #[error("datagram of {0} bytes exceeds the limit")]
    TooLarge(usize),
    /// Not valid UTF-8 / contains control characters.
    #[error("datagram is not printable text")]
    NotText,
    /// The request line is not `METHOD URI HTTP/1.x`.
    #[error("malformed request line")]
    BadRequestLine,
    /// The method is not `GET`.
    #[error("method is not GET")]
    NotGet,
    /// The Request-URI is not an absolute `http://` URI.
    #[error("request URI is not absolute http://")]
    NotAbsoluteUri,
    /// The authority (host or port) is invalid.
    #[error("bad host or port in request URI")]
    BadAuthority,
    /// The path is neither empty nor `/`.
    #[error("request URI has a path")]
    UnexpectedPath,
    /// A header line is malformed.
    #[error("malformed header line")]
    BadHeader,
    /// A body, or a non-zero `Content-Length`, is present.
    #[error("a body is not allowed")]
    BodyNotAllowed,
    /// A required query parameter is missing.
    #[error("missing query parameter `{0}`")]
    MissingParam(&'static str),
    /// A query parameter appears twice.
    #[error("duplicate query parameter `{0}`")]
    DuplicateParam(&'static str),
    /// Bad percent-encoding or non-UTF-8 after decoding.
    #[error("bad percent-encoding in query parameter")]
    BadEncoding,
    /// `ts` or `id` is not a canonical unsigned decimal.
    #[error("query parameter `{0}` is not an unsigned decimal")]
    BadNumber(&'static str),
    /// `sig` is not 40 hex digits.
    #[error("signature is not 40 hex digits")]
    BadSignature,
}

/// A UDP connection request, parsed or about to be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpConnectionRequest {
    /// Host from the Request-URI (an IPv6 literal without brackets).
    pub host: String,
    /// Port from the Request-URI (80 when omitted).
    pub port: u16,
    /// `ts`: the ACS's Unix time in seconds.
    pub ts: u64,
    /// `id`: message id, the same for retransmissions.
    pub id: u64,
    /// `un`: ConnectionRequestUsername.
    pub username: String,
    /// `cn`: the ACS's random cnonce.
    pub cnonce: String,
    /// `sig`: HMAC-SHA1 bytes.
    pub signature: [u8; SIGNATURE_LEN],
}

/// `HMAC-SHA1(password, ts ‖ id ‖ un ‖ cn)` (`UCR-02`).
pub fn signature(
    password: &str,
    ts: u64,
    id: u64,
    username: &str,
    cnonce: &str,
) -> [u8; SIGNATURE_LEN] {
    mac_over(password, ts, id, username, cnonce)
        .finalize()
        .into_bytes()
        .into()
}

fn mac_over(password: &str, ts: u64, id: u64, username: &str, cnonce: &str) -> HmacSha1 {
    // HMAC accepts keys of any length; new_from_slice cannot fail for it.
    let mut mac = <HmacSha1 as Mac>::new_from_slice(password.as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(ts.to_string().as_bytes());
    mac.update(id.to_string().as_bytes());
    mac.update(username.as_bytes());
    mac.update(cnonce.as_bytes());
    mac
}

impl UdpConnectionRequest {
    /// A request signed with `password`, ready to [`encode`](Self::encode).
    pub fn signed(
        host: impl Into<String>,
        port: u16,
        ts: u64,
        id: u64,
        username: impl Into<String>,
        cnonce: impl Into<String>,
        password: &str,
    ) -> Self {
        let username = username.into();
        let cnonce = cnonce.into();
        let signature = signature(password, ts, id, &username, &cnonce);
        Self {
            host: host.into(),
            port,
            ts,
            id,
            username,
            cnonce,
            signature,
        }
    }

    /// `sig` as lowercase hex.
    pub fn signature_hex(&self) -> String {
        hex::encode(self.signature)
    }

    /// Whether `sig` matches `password`, compared in constant time.
    pub fn has_valid_signature(&self, password: &str) -> bool {
        mac_over(password, self.ts, self.id, &self.username, &self.cnonce)
            .verify_slice(&self.signature)
            .is_ok()
    }

    fn authority(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == 80 {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }

    /// The datagram text: request line with an absolute URI and empty path, a Host header, CRLFs
    /// (`UCR-01`).
    pub fn encode(&self) -> String {
        let authority = self.authority();
        let mut out = String::with_capacity(160);
        let _ = write!(
            out,
            "GET http://{authority}?ts={}&id={}&un={}&cn={}&sig={} HTTP/1.1\r\nHost: {authority}\r\n\r\n",
            self.ts,
            self.id,
            percent_encode(&self.username),
            percent_encode(&self.cnonce),
            self.signature_hex(),
        );
        out
    }

    /// Parses a datagram strictly: bounded size, `GET`, absolute `http://` URI with empty path,
    /// the five query parameters exactly once each, no body.
    pub fn parse(datagram: &[u8]) -> Result<Self, UdpParseError> {
        if datagram.len() > MAX_DATAGRAM_LEN {
            return Err(UdpParseError::TooLarge(datagram.len()));
        }
        let text = std::str::from_utf8(datagram).map_err(|_| UdpParseError::NotText)?;
        let (head, body) = match text.find("\r\n\r\n") {
            Some(i) => (&text[..i], &text[i + 4..]),
            None => (text.trim_end_matches("\r\n"), ""),
        };
        if !body.is_empty() {
            return Err(UdpParseError::BodyNotAllowed);
        }
        let mut lines = head.split("\r\n");
        let request_line = lines.next().unwrap_or_default();
        for line in lines {
            let (name, value) = line.split_once(':').ok_or(UdpParseError::BadHeader)?;
            if name.is_empty() || !name.bytes().all(is_tchar) || has_control(value) {
                return Err(UdpParseError::BadHeader);
            }
            if name.eq_ignore_ascii_case("content-length") && value.trim() != "0" {
                return Err(UdpParseError::BodyNotAllowed);
            }
        }
        if has_control(request_line) {
            return Err(UdpParseError::NotText);
        }
        let mut parts = request_line.split(' ');
        let (Some(method), Some(uri), Some(version), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(UdpParseError::BadRequestLine);
        };
        if !matches!(version, "HTTP/1.1" | "HTTP/1.0") {
            return Err(UdpParseError::BadRequestLine);
        }
        if method != "GET" {
            return Err(UdpParseError::NotGet);
        }
        Self::parse_uri(uri)
    }

    fn parse_uri(uri: &str) -> Result<Self, UdpParseError> {
        let rest = uri
            .get(..7)
            .filter(|s| s.eq_ignore_ascii_case("http://"))
            .map(|_| &uri[7..])
            .ok_or(UdpParseError::NotAbsoluteUri)?;
        let (authority_path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (authority, path) = match authority_path.find('/') {
            Some(i) => authority_path.split_at(i),
            None => (authority_path, ""),
        };
        if !(path.is_empty() || path == "/") {
            return Err(UdpParseError::UnexpectedPath);
        }
        let (host, port) = parse_authority(authority)?;

        let mut ts = None;
        let mut id = None;
        let mut un = None;
        let mut cn = None;
        let mut sig = None;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let (slot, name) = match key {
                "ts" => (&mut ts, "ts"),
                "id" => (&mut id, "id"),
                "un" => (&mut un, "un"),
                "cn" => (&mut cn, "cn"),
                "sig" => (&mut sig, "sig"),
                _ => continue,
            };
            if slot.is_some() {
                return Err(UdpParseError::DuplicateParam(name));
            }
            *slot = Some(percent_decode(value)?);
        }
        let ts = parse_decimal(ts.ok_or(UdpParseError::MissingParam("ts"))?, "ts")?;
        let id = parse_decimal(id.ok_or(UdpParseError::MissingParam("id"))?, "id")?;
        let username = un.ok_or(UdpParseError::MissingParam("un"))?;
        let cnonce = cn.ok_or(UdpParseError::MissingParam("cn"))?;
        let sig = sig.ok_or(UdpParseError::MissingParam("sig"))?;
        let mut signature = [0u8; SIGNATURE_LEN];
        hex::decode_to_slice(sig.as_bytes(), &mut signature)
            .map_err(|_| UdpParseError::BadSignature)?;
        Ok(Self {
            host,
            port,
            ts,
            id,
            username,
            cnonce,
            signature,
        })
    }
}

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn parse_authority(authority: &str) -> Result<(String, u16), UdpParseError> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or(UdpParseError::BadAuthority)?;
        if host.is_empty()
            || !host
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        {
            return Err(UdpParseError::BadAuthority);
        }
        match after {
            "" => (host, None),
            p => (
                host,
                Some(p.strip_prefix(':').ok_or(UdpParseError::BadAuthority)?),
            ),
        }
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let host_ok = !host.is_empty()
        && (host.contains(':')
            || host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-'));
    if !host_ok {
        return Err(UdpParseError::BadAuthority);
    }
    let port = match port {
        None => 80,
        Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
            p.parse::<u16>().map_err(|_| UdpParseError::BadAuthority)?
        }
        Some(_) => return Err(UdpParseError::BadAuthority),
    };
    Ok((host.to_owned(), port))
}

fn parse_decimal(text: String, name: &'static str) -> Result<u64, UdpParseError> {
    // Canonical form only, so the signed text equals the number's decimal rendering.
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    if !canonical {
        return Err(UdpParseError::BadNumber(name));
    }
    text.parse().map_err(|_| UdpParseError::BadNumber(name))
}

fn percent_decode(s: &str) -> Result<String, UdpParseError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hi = bytes.get(i + 1).and_then(|b| (*b as char).to_digit(16));
            let lo = bytes.get(i + 2).and_then(|b| (*b as char).to_digit(16));
            match (hi, lo) {
                // Two hex digits make a value below 256.
                (Some(hi), Some(lo)) => out.push((hi * 16 + lo) as u8),
                _ => return Err(UdpParseError::BadEncoding),
            }
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    let decoded = String::from_utf8(out).map_err(|_| UdpParseError::BadEncoding)?;
    if has_control(&decoded) {
        return Err(UdpParseError::BadEncoding);
    }
    Ok(decoded)
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Why the CPE dropped a datagram. The CPE never answers; this is for logs and metrics.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UdpRejectReason {
    /// Not a well-formed request.
    #[error("malformed: {0}")]
    Malformed(UdpParseError),
    /// `un` is not our ConnectionRequestUsername.
    #[error("wrong username")]
    WrongUsername,
    /// `sig` does not verify with our ConnectionRequestPassword.
    #[error("bad signature")]
    BadSignature,
    /// `id` was already accepted (a retransmission).
    #[error("message id {0} already accepted")]
    ReplayedId(u64),
    /// `ts` is not newer than the last accepted request.
    #[error("timestamp {ts} not newer than last accepted {last}")]
    NotNewer {
        /// The request's `ts`.
        ts: u64,
        /// The last accepted `ts`.
        last: u64,
    },
    /// `ts` is too far from the CPE's absolute time.
    #[error("timestamp {ts} outside tolerance of now {now}")]
    OutsideWindow {
        /// The request's `ts`.
        ts: u64,
        /// The CPE's Unix time.
        now: u64,
    },
    /// Accepted too soon after the previous accepted request.
    #[error("rate limited")]
    RateLimited,
}

/// Limits of [`UdpRequestValidator`]. `Debug` does not print the password.
#[derive(Clone, PartialEq, Eq)]
pub struct UdpValidatorConfig {
    /// ConnectionRequestUsername.
    pub username: String,
    /// ConnectionRequestPassword.
    pub password: String,
    /// Largest accepted `|ts - now|` when the CPE knows absolute time. Default 300 s.
    pub ts_tolerance: Duration,
    /// Least time between two accepted requests. Default 1 s.
    pub min_interval: Duration,
    /// How many accepted ids to remember. Default 64.
    pub remembered_ids: usize,
}

impl std::fmt::Debug for UdpValidatorConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UdpValidatorConfig")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("ts_tolerance", &self.ts_tolerance)
            .field("min_interval", &self.min_interval)
            .field("remembered_ids", &self.remembered_ids)
            .finish()
    }
}

impl UdpValidatorConfig {
    /// Defaults for everything but the credentials.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            username: username.into(),
            password: password.into(),
            ts_tolerance: Duration::from_secs(300),
            min_interval: Duration::from_secs(1),
            remembered_ids: 64,
        }
    }
}

/// The CPE's clock as seen by [`UdpRequestValidator::validate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidatorClock {
    /// Time since any fixed origin (monotonic), for the rate limit.
    pub monotonic: Duration,
    /// Unix time in seconds, if the CPE knows absolute time (NTP synchronised).
    pub unix_secs: Option<u64>,
}

/// CPE-side filter for UDP connection requests (`UCR-03`). Feed every received datagram to
/// [`validate`](Self::validate); start a session only on `Ok`.
#[derive(Debug, Clone)]
pub struct UdpRequestValidator {
    config: UdpValidatorConfig,
    accepted_ids: VecDeque<u64>,
    last_ts: Option<u64>,
    last_accepted_at: Option<Duration>,
}

impl UdpRequestValidator {
    /// A validator with no history.
    pub fn new(config: UdpValidatorConfig) -> Self {
        Self {
            config,
            accepted_ids: VecDeque::new(),
            last_ts: None,
            last_accepted_at: None,
        }
    }

    /// Replaces the credentials (after the ACS changed them), keeping the replay history.
    pub fn set_credentials(&mut self, username: impl Into<String>, password: impl Into<String>) {
        self.config.username = username.into();
        self.config.password = password.into();
    }

    /// Checks a datagram. On `Ok` the request is recorded as accepted (its id and ts can never be
    /// accepted again) and the caller should start a session with `6 CONNECTION REQUEST`.
    pub fn validate(
        &mut self,
        datagram: &[u8],
        clock: ValidatorClock,
    ) -> Result<UdpConnectionRequest, UdpRejectReason> {
        let req = UdpConnectionRequest::parse(datagram).map_err(UdpRejectReason::Malformed)?;
        let user_ok: bool = req
            .username
            .as_bytes()
            .ct_eq(self.config.username.as_bytes())
            .into();
        if !user_ok {
            return Err(UdpRejectReason::WrongUsername);
        }
        if !req.has_valid_signature(&self.config.password) {
            return Err(UdpRejectReason::BadSignature);
        }
        if self.accepted_ids.contains(&req.id) {
            return Err(UdpRejectReason::ReplayedId(req.id));
        }
        if let Some(last) = self.last_ts
            && req.ts <= last
        {
            return Err(UdpRejectReason::NotNewer { ts: req.ts, last });
        }
        if let Some(now) = clock.unix_secs
            && now.abs_diff(req.ts) > self.config.ts_tolerance.as_secs()
        {
            return Err(UdpRejectReason::OutsideWindow { ts: req.ts, now });
        }
        if let Some(prev) = self.last_accepted_at
            && clock.monotonic.saturating_sub(prev) < self.config.min_interval
        {
            return Err(UdpRejectReason::RateLimited);
        }
        self.accepted_ids.push_back(req.id);
        while self.accepted_ids.len() > self.config.remembered_ids.max(1) {
            self.accepted_ids.pop_front();
        }
        self.last_ts = Some(req.ts);
        self.last_accepted_at = Some(clock.monotonic);
        Ok(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VECTOR_SIG: &str = "5dfd27ce62b4b56419fde716aa85cd7a7a66f1ac";

    fn vector() -> UdpConnectionRequest {
        UdpConnectionRequest::signed(
            "203.0.113.7",
            7547,
            1_700_000_000,
            12345,
            "cpeuser",
            "0123456789abcdef",
            "cpepass",
        )
    }

    fn clock(mono: u64, unix: Option<u64>) -> ValidatorClock {
        ValidatorClock {
            monotonic: Duration::from_secs(mono),
            unix_secs: unix,
        }
    }

    fn validator() -> UdpRequestValidator {
        UdpRequestValidator::new(UdpValidatorConfig::new("cpeuser", "cpepass"))
    }

    fn datagram(ts: u64, id: u64) -> Vec<u8> {
        UdpConnectionRequest::signed("h", 7547, ts, id, "cpeuser", "cn1", "cpepass")
            .encode()
            .into_bytes()
    }

    #[test]
    fn ucr02_signature_vector_checklist_item_12() {
        assert_eq!(vector().signature_hex(), VECTOR_SIG);
        assert_eq!(
            hex::encode(signature(
                "cpepass",
                1_700_000_000,
                12345,
                "cpeuser",
                "0123456789abcdef"
            )),
            VECTOR_SIG
        );
    }

    #[test]
    fn ucr01_encode_exact_datagram() {
        assert_eq!(
            vector().encode(),
            format!(
                "GET http://203.0.113.7:7547?ts=1700000000&id=12345&un=cpeuser&cn=0123456789abcdef&sig={VECTOR_SIG} HTTP/1.1\r\nHost: 203.0.113.7:7547\r\n\r\n"
            )
        );
    }

    #[test]
    fn ucr01_port_80_omitted_and_ipv6_bracketed() {
        let mut r = vector();
        r.port = 80;
        assert!(r.encode().starts_with("GET http://203.0.113.7?ts="));
        r.host = "2001:db8::1".into();
        r.port = 7547;
        let text = r.encode();
        assert!(text.starts_with("GET http://[2001:db8::1]:7547?ts="));
        assert_eq!(UdpConnectionRequest::parse(text.as_bytes()).unwrap(), r);
    }

    #[test]
    fn ucr01_parse_round_trip_with_percent_encoding() {
        let r = UdpConnectionRequest::signed("acs.example", 9000, 5, 0, "a b&c=%é", "x/y", "pw");
        let text = r.encode();
        assert!(text.contains("un=a%20b%26c%3D%25%C3%A9"));
        let parsed = UdpConnectionRequest::parse(text.as_bytes()).unwrap();
        assert_eq!(parsed, r);
        assert!(parsed.has_valid_signature("pw"));
        assert!(!parsed.has_valid_signature("pw2"));
    }

    #[test]
    fn ucr01_parse_accepts_slash_path_uppercase_sig_and_extra_params() {
        let text = format!(
            "GET http://h:1/?extra=1&ts=1700000000&id=12345&un=cpeuser&cn=0123456789abcdef&sig={} HTTP/1.1\r\nHost: h:1\r\nContent-Length: 0\r\n\r\n",
            VECTOR_SIG.to_uppercase()
        );
        let r = UdpConnectionRequest::parse(text.as_bytes()).unwrap();
        assert!(r.has_valid_signature("cpepass"));
        assert_eq!(r.port, 1);
    }

    #[test]
    fn ucr01_parse_rejects_malformed() {
        let good = String::from_utf8(datagram(10, 1)).unwrap();
        let cases: Vec<(String, UdpParseError)> = vec![
            (good.replacen("GET", "POST", 1), UdpParseError::NotGet),
            (
                good.replacen("http://h:7547", "/", 1),
                UdpParseError::NotAbsoluteUri,
            ),
            (
                good.replacen("http://h:7547", "https://h:7547", 1),
                UdpParseError::NotAbsoluteUri,
            ),
            (
                good.replacen("h:7547?", "h:7547/cr?", 1),
                UdpParseError::UnexpectedPath,
            ),
            (
                good.replacen("h:7547?", "h:99999?", 1),
                UdpParseError::BadAuthority,
            ),
            (
                good.replacen("h:7547?", "h:?", 1),
                UdpParseError::BadAuthority,
            ),
            (
                good.replacen("ts=10&", "", 1),
                UdpParseError::MissingParam("ts"),
            ),
            (
                good.replacen("id=1&", "", 1),
                UdpParseError::MissingParam("id"),
            ),
            (
                good.replacen("&un=cpeuser", "", 1),
                UdpParseError::MissingParam("un"),
            ),
            (
                good.replacen("&cn=cn1", "", 1),
                UdpParseError::MissingParam("cn"),
            ),
            (
                good.replacen("ts=10&", "ts=10&ts=11&", 1),
                UdpParseError::DuplicateParam("ts"),
            ),
            (
                good.replacen("ts=10", "ts=010", 1),
                UdpParseError::BadNumber("ts"),
            ),
            (
                good.replacen("id=1", "id=-1", 1),
                UdpParseError::BadNumber("id"),
            ),
            (
                good.replacen("ts=10", "ts=99999999999999999999999", 1),
                UdpParseError::BadNumber("ts"),
            ),
            (
                good.replacen("un=cpeuser", "un=cpe%2", 1),
                UdpParseError::BadEncoding,
            ),
            (
                good.replacen("un=cpeuser", "un=cpe%0A", 1),
                UdpParseError::BadEncoding,
            ),
            (
                good.replacen("sig=", "sig=zz", 1),
                UdpParseError::BadSignature,
            ),
            (
                good.replacen(" HTTP/1.1", " HTTP/2", 1),
                UdpParseError::BadRequestLine,
            ),
            (
                good.replacen(" HTTP/1.1", "", 1),
                UdpParseError::BadRequestLine,
            ),
            (
                good.replacen("Host: ", "Host ", 1),
                UdpParseError::BadHeader,
            ),
            (format!("{good}body"), UdpParseError::BodyNotAllowed),
            (
                good.replacen("\r\n\r\n", "\r\nContent-Length: 4\r\n\r\n", 1),
                UdpParseError::BodyNotAllowed,
            ),
        ];
        for (text, want) in cases {
            assert_eq!(
                UdpConnectionRequest::parse(text.as_bytes()),
                Err(want),
                "{text:?}"
            );
        }
        assert_eq!(
            UdpConnectionRequest::parse(&[0xff, 0xfe]),
            Err(UdpParseError::NotText)
        );
        let huge = vec![b'G'; MAX_DATAGRAM_LEN + 1];
        assert_eq!(
            UdpConnectionRequest::parse(&huge),
            Err(UdpParseError::TooLarge(MAX_DATAGRAM_LEN + 1))
        );
    }

    #[test]
    fn ucr03_accepts_valid_signed_request() {
        let mut v = validator();
        let r = v
            .validate(&vector().encode().into_bytes(), clock(100, None))
            .unwrap();
        assert_eq!(r.id, 12345);
    }

    #[test]
    fn ucr03_retransmission_with_same_id_is_ignored() {
        let mut v = validator();
        let d = datagram(1000, 7);
        assert!(v.validate(&d, clock(0, None)).is_ok());
        // GenieACS sends each request three times.
        assert_eq!(
            v.validate(&d, clock(60, None)),
            Err(UdpRejectReason::ReplayedId(7))
        );
    }

    #[test]
    fn ucr03_wrong_username_and_bad_signature_are_rejected() {
        let mut v = validator();
        let other_user =
            UdpConnectionRequest::signed("h", 1, 10, 1, "intruder", "c", "cpepass").encode();
        assert_eq!(
            v.validate(other_user.as_bytes(), clock(0, None)),
            Err(UdpRejectReason::WrongUsername)
        );
        let wrong_pw =
            UdpConnectionRequest::signed("h", 1, 10, 1, "cpeuser", "c", "guess").encode();
        assert_eq!(
            v.validate(wrong_pw.as_bytes(), clock(0, None)),
            Err(UdpRejectReason::BadSignature)
        );
        // A tampered field with the original signature fails too.
        let tampered = vector().encode().replace("ts=1700000000", "ts=1700000001");
        assert_eq!(
            v.validate(tampered.as_bytes(), clock(0, None)),
            Err(UdpRejectReason::BadSignature)
        );
        // Rejections leave no trace: the genuine request is still accepted.
        assert!(v.validate(&datagram(10, 1), clock(0, None)).is_ok());
    }

    #[test]
    fn ucr03_timestamp_must_increase() {
        let mut v = validator();
        assert!(v.validate(&datagram(1000, 1), clock(0, None)).is_ok());
        assert_eq!(
            v.validate(&datagram(1000, 2), clock(10, None)),
            Err(UdpRejectReason::NotNewer {
                ts: 1000,
                last: 1000
            })
        );
        assert_eq!(
            v.validate(&datagram(999, 3), clock(20, None)),
            Err(UdpRejectReason::NotNewer {
                ts: 999,
                last: 1000
            })
        );
        assert!(v.validate(&datagram(1001, 4), clock(30, None)).is_ok());
    }

    #[test]
    fn ucr03_tolerance_window_only_with_absolute_time() {
        let mut v = validator();
        let now = 1_700_000_000;
        assert_eq!(
            v.validate(&datagram(now - 301, 1), clock(0, Some(now))),
            Err(UdpRejectReason::OutsideWindow { ts: now - 301, now })
        );
        assert_eq!(
            v.validate(&datagram(now + 301, 1), clock(0, Some(now))),
            Err(UdpRejectReason::OutsideWindow { ts: now + 301, now })
        );
        assert!(
            v.validate(&datagram(now - 300, 1), clock(0, Some(now)))
                .is_ok()
        );
        // Without absolute time any increasing ts is fine.
        let mut v = validator();
        assert!(v.validate(&datagram(5, 1), clock(0, None)).is_ok());
    }

    #[test]
    fn ucr03_rate_limit_between_accepted_requests() {
        let mut v = validator();
        assert!(v.validate(&datagram(10, 1), clock(100, None)).is_ok());
        let soon = ValidatorClock {
            monotonic: Duration::from_millis(100_500),
            unix_secs: None,
        };
        assert_eq!(
            v.validate(&datagram(11, 2), soon),
            Err(UdpRejectReason::RateLimited)
        );
        // A rate-limited id was not accepted, so it can come again later.
        assert!(v.validate(&datagram(11, 2), clock(101, None)).is_ok());
    }

    #[test]
    fn ucr03_remembered_ids_are_bounded() {
        let mut cfg = UdpValidatorConfig::new("cpeuser", "cpepass");
        cfg.remembered_ids = 2;
        cfg.min_interval = Duration::ZERO;
        let mut v = UdpRequestValidator::new(cfg);
        for (i, id) in [1u64, 2, 3].into_iter().enumerate() {
            assert!(
                v.validate(&datagram(10 + i as u64, id), clock(0, None))
                    .is_ok()
            );
        }
        assert_eq!(v.accepted_ids.len(), 2);
        assert!(!v.accepted_ids.contains(&1));
        // Even after its id was forgotten, an old request stays rejected by its timestamp.
        assert_eq!(
            v.validate(&datagram(10, 1), clock(0, None)),
            Err(UdpRejectReason::NotNewer { ts: 10, last: 12 })
        );
    }

    #[test]
    fn ucr03_garbage_never_panics() {
        let mut v = validator();
        let inputs: [&[u8]; 8] = [
            b"",
            b"\r\n\r\n",
            b"GET",
            b"GET http://[ HTTP/1.1",
            b"GET http://[::1 HTTP/1.1\r\n\r\n",
            b"GET http://h?ts=%%&id= HTTP/1.1",
            b"GET http://:80? HTTP/1.1",
            b"GET http://h:1?ts=1&id=1&un=&cn=&sig= HTTP/1.1",
        ];
        for input in inputs {
            assert!(v.validate(input, clock(0, None)).is_err());
        }
    }
}
