//! HTTP authentication for both CWMP sides: Digest (RFC 2617, RFC 7616) and Basic (RFC 7617).
//! Requirements `AUT-01`, `AUT-02`, `AUT-04`, `CR-03`; pitfall #10.
//!
//! Owns:
//! * parsing and formatting `WWW-Authenticate` (several challenges in one header, quoted strings
//!   with escapes, tokens, case-insensitive names) and `Authorization` values;
//! * the Digest computation for MD5, MD5-sess, SHA-256 and SHA-256-sess with `qop=auth`, or with no
//!   qop at all (RFC 2069 style: no `qop`, `nc` or `cnonce` when the challenge offered none);
//! * the client side ([`DigestAuthorization::for_challenge`], [`DigestClient`]);
//! * the server side ([`DigestVerifier`]): stateless nonces (issue time + caller-supplied random
//!   bytes + an HMAC under a server secret) that verify on any TCP connection, on any node sharing
//!   the secret, and after a restart; expiry; replay protection by the highest `nc` seen per nonce
//!   in a bounded map; constant-time comparisons.
//!
//! Must not: read a clock, draw random numbers, or do I/O. `now` (Unix seconds), cnonces and nonce
//! random bytes are arguments. No panics on any input. `auth-int`, `userhash` and `username*` are
//! not supported (a challenge that only offers `auth-int` is reported unusable).

use std::collections::BTreeMap;
use std::fmt;

use hmac::{Hmac, Mac};
use md5::Md5;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Longest header value we parse.
pub const MAX_HEADER_LEN: usize = 8192;
/// Most parameters in one challenge or credentials.
pub const MAX_PARAMS: usize = 32;
/// Least server secret length for [`DigestVerifier`].
pub const MIN_SECRET_LEN: usize = 16;
/// Random bytes the caller supplies per issued nonce.
pub const NONCE_RANDOM_LEN: usize = 16;

const NONCE_MAC_LEN: usize = 16;
const NONCE_LEN: usize = 8 + NONCE_RANDOM_LEN + NONCE_MAC_LEN;

/// A nonce's identity: issue time, then its random bytes.
type NonceKey = (u64, [u8; NONCE_RANDOM_LEN]);

// ---------------------------------------------------------------------------------------------
// Errors

/// A parse, format or client-side failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DigestError {
    /// The header value is longer than [`MAX_HEADER_LEN`].
    #[error("header value too long")]
    TooLong,
    /// The header value does not follow the auth-param grammar.
    #[error("syntax error: {0}")]
    Syntax(&'static str),
    /// More than [`MAX_PARAMS`] parameters.
    #[error("too many parameters")]
    TooManyParams,
    /// A parameter appears twice.
    #[error("duplicate parameter `{0}`")]
    DuplicateParam(String),
    /// A required parameter is absent.
    #[error("missing parameter `{0}`")]
    MissingParam(&'static str),
    /// An algorithm other than MD5, MD5-sess, SHA-256, SHA-256-sess.
    #[error("unsupported algorithm `{0}`")]
    UnsupportedAlgorithm(String),
    /// A qop other than `auth`.
    #[error("unsupported qop `{0}`")]
    UnsupportedQop(String),
    /// The credentials or challenge use another scheme.
    #[error("expected the {expected} scheme, got `{got}`")]
    WrongScheme {
        /// The scheme we wanted.
        expected: &'static str,
        /// The scheme we saw.
        got: String,
    },
    /// `nc` is not 8 hex digits.
    #[error("bad nonce count")]
    BadNonceCount,
    /// Bad base64 in Basic credentials, or not UTF-8, or no `:`.
    #[error("bad Basic credentials")]
    BadBasic,
    /// A `-sess` algorithm needs a cnonce, which only `qop=auth` carries.
    #[error("a -sess algorithm requires qop=auth")]
    SessRequiresQop,
    /// No usable Digest challenge was offered.
    #[error("no usable Digest challenge")]
    NoDigestChallenge,
    /// The client has no challenge yet.
    #[error("no challenge received yet")]
    NoChallenge,
    /// The nonce count reached its maximum; a new challenge is needed.
    #[error("nonce count exhausted")]
    NonceCountExhausted,
    /// A value is unusable (empty, control characters, `:` in a Basic username).
    #[error("invalid value for `{0}`")]
    InvalidValue(&'static str),
}

// ---------------------------------------------------------------------------------------------
// Algorithms and hashing

/// A Digest algorithm.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// `MD5` (the default when the parameter is absent).
    #[default]
    Md5,
    /// `MD5-sess`.
    Md5Sess,
    /// `SHA-256`.
    Sha256,
    /// `SHA-256-sess`.
    Sha256Sess,
}

impl Algorithm {
    /// The name as written in headers.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Md5Sess => "MD5-sess",
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Sha256Sess => "SHA-256-sess",
        }
    }

    /// Parses a name case-insensitively.
    pub fn parse(name: &str) -> Option<Self> {
        [
            Algorithm::Md5,
            Algorithm::Md5Sess,
            Algorithm::Sha256,
            Algorithm::Sha256Sess,
        ]
        .into_iter()
        .find(|a| a.as_str().eq_ignore_ascii_case(name))
    }

    /// Whether this is a `-sess` variant.
    pub fn is_session(self) -> bool {
        matches!(self, Algorithm::Md5Sess | Algorithm::Sha256Sess)
    }

    fn strength(self) -> u8 {
        match self {
            Algorithm::Md5 | Algorithm::Md5Sess => 1,
            Algorithm::Sha256 | Algorithm::Sha256Sess => 2,
        }
    }

    /// Lowercase hex hash of `parts` joined by `:`.
    fn hash(self, parts: &[&str]) -> String {
        match self {
            Algorithm::Md5 | Algorithm::Md5Sess => hash_joined::<Md5>(parts),
            Algorithm::Sha256 | Algorithm::Sha256Sess => hash_joined::<Sha256>(parts),
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn hash_joined<D: Digest>(parts: &[&str]) -> String {
    let mut h = D::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            h.update(b":");
        }
        h.update(p.as_bytes());
    }
    hex::encode(h.finalize())
}

/// The `qop=auth` fields of a response: nonce count and client nonce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QopAuth {
    /// `nc`, sent as 8 hex digits.
    pub nc: u32,
    /// `cnonce`.
    pub cnonce: String,
}

/// The Digest `response` value (lowercase hex).
///
/// `HA1 = H(user:realm:password)`, for `-sess` `H(HA1:nonce:cnonce)`; `HA2 = H(method:uri)`;
/// with qop: `H(HA1:nonce:nc:cnonce:auth:HA2)`, without: `H(HA1:nonce:HA2)`.
/// `auth.response` itself is not read.
fn compute_response(
    auth: &DigestAuthorization,
    password: &str,
    method: &str,
) -> Result<String, DigestError> {
    let (algorithm, nonce, qop) = (auth.algorithm, auth.nonce.as_str(), auth.qop.as_ref());
    let mut ha1 = algorithm.hash(&[&auth.username, &auth.realm, password]);
    if algorithm.is_session() {
        let q = qop.ok_or(DigestError::SessRequiresQop)?;
        ha1 = algorithm.hash(&[&ha1, nonce, &q.cnonce]);
    }
    let ha2 = algorithm.hash(&[method, &auth.uri]);
    Ok(match qop {
        Some(q) => {
            let nc = format!("{:08x}", q.nc);
            algorithm.hash(&[&ha1, nonce, &nc, &q.cnonce, "auth", &ha2])
        }
        None => algorithm.hash(&[&ha1, nonce, &ha2]),
    })
}

// ---------------------------------------------------------------------------------------------
// Header grammar

/// One `name=value` auth-param; `name` is lowercased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthParam {
    /// Lowercase parameter name.
    pub name: String,
    /// Unescaped value.
    pub value: String,
}

/// One challenge or credentials item: a scheme followed by auth-params or a token68.
#[derive(Debug, Clone, PartialEq, Eq)]
struct RawItem {
    scheme: String,
    params: Vec<AuthParam>,
    token68: Option<String>,
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_token68_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~+/".contains(&b)
}

struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }

    fn skip_ows(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    fn skip_ows_and_commas(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b',')) {
            self.pos += 1;
        }
    }

    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(&f) {
            self.pos += 1;
        }
        // Only ASCII bytes were consumed, so both ends are char boundaries.
        &self.s[start..self.pos]
    }

    /// A quoted-string starting at `"`; backslash escapes any char; no control characters.
    fn quoted(&mut self) -> Result<String, DigestError> {
        self.pos += 1; // opening quote
        let mut out = Vec::new();
        let bytes = self.s.as_bytes();
        loop {
            let Some(&b) = bytes.get(self.pos) else {
                return Err(DigestError::Syntax("unterminated quoted string"));
            };
            self.pos += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    let Some(&e) = bytes.get(self.pos) else {
                        return Err(DigestError::Syntax("unterminated quoted string"));
                    };
                    if e.is_ascii_control() && e != b'\t' {
                        return Err(DigestError::Syntax("control character in quoted string"));
                    }
                    out.push(e);
                    self.pos += 1;
                }
                b if b.is_ascii_control() && b != b'\t' => {
                    return Err(DigestError::Syntax("control character in quoted string"));
                }
                b => out.push(b),
            }
        }
        // Only ASCII backslashes were removed from valid UTF-8, so this cannot fail; still no panic.
        String::from_utf8(out).map_err(|_| DigestError::Syntax("invalid UTF-8"))
    }

    /// A token68 (`abc+/==`) that is the whole rest of this item, if there is one.
    fn try_token68(&mut self) -> Option<String> {
        let start = self.pos;
        self.take_while(is_token68_char);
        let body_end = self.pos;
        self.take_while(|b| b == b'=');
        let end = self.pos;
        self.skip_ows();
        if end > start && body_end > start && matches!(self.peek(), None | Some(b',')) {
            return Some(self.s[start..end].to_owned());
        }
        self.pos = start;
        None
    }
}

fn parse_items(header: &str) -> Result<Vec<RawItem>, DigestError> {
    if header.len() > MAX_HEADER_LEN {
        return Err(DigestError::TooLong);
    }
    let mut c = Cursor { s: header, pos: 0 };
    let mut items = Vec::new();
    loop {
        c.skip_ows_and_commas();
        if c.peek().is_none() {
            break;
        }
        let scheme = c.take_while(is_tchar);
        if scheme.is_empty() {
            return Err(DigestError::Syntax("expected an auth scheme"));
        }
        let mut item = RawItem {
            scheme: scheme.to_owned(),
            params: Vec::new(),
            token68: None,
        };
        c.skip_ows();
        if let Some(t) = c.try_token68() {
            item.token68 = Some(t);
            items.push(item);
            continue;
        }
        loop {
            let before = c.pos;
            c.skip_ows_and_commas();
            if c.peek().is_none() {
                break;
            }
            let name = c.take_while(is_tchar);
            if name.is_empty() {
                return Err(DigestError::Syntax("expected a parameter name"));
            }
            c.skip_ows();
            if c.peek() != Some(b'=') {
                // Not a parameter: the scheme of the next challenge.
                c.pos = before;
                break;
            }
            c.pos += 1;
            c.skip_ows();
            let value = if c.peek() == Some(b'"') {
                c.quoted()?
            } else {
                let t = c.take_while(is_tchar);
                if t.is_empty() {
                    return Err(DigestError::Syntax("expected a parameter value"));
                }
                t.to_owned()
            };
            let name = name.to_ascii_lowercase();
            if item.params.iter().any(|p| p.name == name) {
                return Err(DigestError::DuplicateParam(name));
            }
            if item.params.len() >= MAX_PARAMS {
                return Err(DigestError::TooManyParams);
            }
            item.params.push(AuthParam { name, value });
            c.skip_ows();
            if !matches!(c.peek(), None | Some(b',')) {
                return Err(DigestError::Syntax("expected a comma between parameters"));
            }
        }
        items.push(item);
    }
    Ok(items)
}

fn param<'p>(params: &'p [AuthParam], name: &str) -> Option<&'p str> {
    params
        .iter()
        .find(|p| p.name == name)
        .map(|p| p.value.as_str())
}

fn required<'p>(params: &'p [AuthParam], name: &'static str) -> Result<&'p str, DigestError> {
    param(params, name).ok_or(DigestError::MissingParam(name))
}

/// Writes `"value"` with `"` and `\` escaped. Control characters cannot appear in a header
/// value and are dropped (constructors reject them, so this only guards hand-built structs).
fn push_quoted(out: &mut String, value: &str) {
    out.push('"');
    for ch in value.chars() {
        match ch {
            '"' | '\\' => {
                out.push('\\');
                out.push(ch);
            }
            c if c.is_control() && c != '\t' => {}
            c => out.push(c),
        }
    }
    out.push('"');
}

fn push_param(out: &mut String, name: &str, value: &str, quoted: bool) {
    if !out.ends_with(' ') {
        out.push_str(", ");
    }
    out.push_str(name);
    out.push('=');
    if quoted {
        push_quoted(out, value);
    } else {
        out.push_str(value);
    }
}

fn check_value(value: &str, what: &'static str) -> Result<(), DigestError> {
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return Err(DigestError::InvalidValue(what));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Challenges

/// A usable Digest challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestChallenge {
    /// `realm`.
    pub realm: String,
    /// `nonce`.
    pub nonce: String,
    /// `opaque`, echoed by the client.
    pub opaque: Option<String>,
    /// `algorithm` (MD5 when absent).
    pub algorithm: Algorithm,
    /// Whether `qop` offers `auth`; `false` means RFC 2069 style (no qop/nc/cnonce).
    pub qop_auth: bool,
    /// `stale=true`: the nonce expired but the credentials were right.
    pub stale: bool,
    /// `domain`, kept verbatim.
    pub domain: Option<String>,
}

impl DigestChallenge {
    fn from_params(params: &[AuthParam]) -> Result<Self, DigestError> {
        let algorithm = match param(params, "algorithm") {
            None => Algorithm::Md5,
            Some(a) => {
                Algorithm::parse(a).ok_or_else(|| DigestError::UnsupportedAlgorithm(a.into()))?
            }
        };
        let qop_auth = match param(params, "qop") {
            None => false,
            Some(list) => {
                if !list
                    .split(',')
                    .any(|q| q.trim().eq_ignore_ascii_case("auth"))
                {
                    return Err(DigestError::UnsupportedQop(list.into()));
                }
                true
            }
        };
        if algorithm.is_session() && !qop_auth {
            return Err(DigestError::SessRequiresQop);
        }
        Ok(Self {
            realm: required(params, "realm")?.to_owned(),
            nonce: required(params, "nonce")?.to_owned(),
            opaque: param(params, "opaque").map(str::to_owned),
            algorithm,
            qop_auth,
            stale: param(params, "stale").is_some_and(|s| s.eq_ignore_ascii_case("true")),
            domain: param(params, "domain").map(str::to_owned),
        })
    }

    /// The `WWW-Authenticate` value: `Digest realm="…", qop="auth", nonce="…", …`.
    pub fn to_header_value(&self) -> String {
        let mut out = String::from("Digest ");
        push_param(&mut out, "realm", &self.realm, true);
        if let Some(d) = &self.domain {
            push_param(&mut out, "domain", d, true);
        }
        if self.qop_auth {
            push_param(&mut out, "qop", "auth", true);
        }
        push_param(&mut out, "nonce", &self.nonce, true);
        if let Some(o) = &self.opaque {
            push_param(&mut out, "opaque", o, true);
        }
        push_param(&mut out, "algorithm", self.algorithm.as_str(), false);
        if self.stale {
            push_param(&mut out, "stale", "true", false);
        }
        out
    }
}

/// One challenge of a `WWW-Authenticate` header.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Challenge {
    /// `Basic realm="…"`.
    Basic {
        /// `realm`, if given.
        realm: Option<String>,
    },
    /// A Digest challenge we can answer.
    Digest(DigestChallenge),
    /// Another scheme, or a Digest challenge we cannot answer (`reason` says why).
    Other {
        /// The scheme as sent.
        scheme: String,
        /// Its parameters.
        params: Vec<AuthParam>,
        /// Why a Digest challenge is unusable.
        reason: Option<DigestError>,
    },
}

/// Parses a `WWW-Authenticate` value holding one or more challenges.
pub fn parse_www_authenticate(header: &str) -> Result<Vec<Challenge>, DigestError> {
    Ok(parse_items(header)?
        .into_iter()
        .map(|item| {
            if item.scheme.eq_ignore_ascii_case("digest") {
                match DigestChallenge::from_params(&item.params) {
                    Ok(d) => Challenge::Digest(d),
                    Err(e) => Challenge::Other {
                        scheme: item.scheme,
                        params: item.params,
                        reason: Some(e),
                    },
                }
            } else if item.scheme.eq_ignore_ascii_case("basic") {
                Challenge::Basic {
                    realm: param(&item.params, "realm").map(str::to_owned),
                }
            } else {
                Challenge::Other {
                    scheme: item.scheme,
                    params: item.params,
                    reason: None,
                }
            }
        })
        .collect())
}

/// The Digest challenge to answer: the strongest hash offered, the first listed on a tie.
pub fn preferred_digest(challenges: &[Challenge]) -> Option<&DigestChallenge> {
    let mut best: Option<&DigestChallenge> = None;
    for c in challenges {
        if let Challenge::Digest(d) = c
            && best.is_none_or(|b| d.algorithm.strength() > b.algorithm.strength())
        {
            best = Some(d);
        }
    }
    best
}

/// `Basic realm="…"` for a `WWW-Authenticate` header.
pub fn basic_challenge(realm: &str) -> String {
    let mut out = String::from("Basic ");
    push_param(&mut out, "realm", realm, true);
    out
}

// ---------------------------------------------------------------------------------------------
// Credentials

/// Digest credentials (`Authorization: Digest …`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestAuthorization {
    /// `username`.
    pub username: String,
    /// `realm`.
    pub realm: String,
    /// `nonce`.
    pub nonce: String,
    /// `uri`.
    pub uri: String,
    /// `response` (hex).
    pub response: String,
    /// `algorithm`.
    pub algorithm: Algorithm,
    /// `qop=auth` with `nc` and `cnonce`; `None` for RFC 2069 style.
    pub qop: Option<QopAuth>,
    /// `opaque`, echoed from the challenge.
    pub opaque: Option<String>,
}

impl DigestAuthorization {
    /// Answers `challenge` (client side). Uses `qop=auth` with `cnonce` and `nc` when the
    /// challenge offers it, and RFC 2069 style otherwise (`cnonce` and `nc` are then unused).
    pub fn for_challenge(
        challenge: &DigestChallenge,
        username: &str,
        password: &str,
        method: &str,
        uri: &str,
        cnonce: &str,
        nc: u32,
    ) -> Result<Self, DigestError> {
        check_value(username, "username")?;
        check_value(uri, "uri")?;
        check_value(method, "method")?;
        if method.is_empty() || !method.bytes().all(is_tchar) {
            return Err(DigestError::InvalidValue("method"));
        }
        let qop = if challenge.qop_auth {
            if cnonce.is_empty() {
                return Err(DigestError::InvalidValue("cnonce"));
            }
            check_value(cnonce, "cnonce")?;
            Some(QopAuth {
                nc,
                cnonce: cnonce.to_owned(),
            })
        } else {
            None
        };
        let mut auth = Self {
            username: username.to_owned(),
            realm: challenge.realm.clone(),
            nonce: challenge.nonce.clone(),
            uri: uri.to_owned(),
            response: String::new(),
            algorithm: challenge.algorithm,
            qop,
            opaque: challenge.opaque.clone(),
        };
        auth.response = compute_response(&auth, password, method)?;
        Ok(auth)
    }

    /// The response these credentials should carry for `password` and `method`.
    pub fn expected_response(&self, password: &str, method: &str) -> Result<String, DigestError> {
        compute_response(self, password, method)
    }

    fn from_params(params: &[AuthParam]) -> Result<Self, DigestError> {
        let algorithm = match param(params, "algorithm") {
            None => Algorithm::Md5,
            Some(a) => {
                Algorithm::parse(a).ok_or_else(|| DigestError::UnsupportedAlgorithm(a.into()))?
            }
        };
        let qop = match param(params, "qop") {
            None => None,
            Some(q) if q.eq_ignore_ascii_case("auth") => {
                let nc = required(params, "nc")?;
                if nc.len() != 8 {
                    return Err(DigestError::BadNonceCount);
                }
                let nc = u32::from_str_radix(nc, 16).map_err(|_| DigestError::BadNonceCount)?;
                Some(QopAuth {
                    nc,
                    cnonce: required(params, "cnonce")?.to_owned(),
                })
            }
            Some(q) => return Err(DigestError::UnsupportedQop(q.into())),
        };
        Ok(Self {
            username: required(params, "username")?.to_owned(),
            realm: required(params, "realm")?.to_owned(),
            nonce: required(params, "nonce")?.to_owned(),
            uri: required(params, "uri")?.to_owned(),
            response: required(params, "response")?.to_owned(),
            algorithm,
            qop,
            opaque: param(params, "opaque").map(str::to_owned),
        })
    }

    /// Parses an `Authorization: Digest …` value.
    pub fn parse(header: &str) -> Result<Self, DigestError> {
        match Authorization::parse(header)? {
            Authorization::Digest(d) => Ok(d),
            Authorization::Basic(_) => Err(DigestError::WrongScheme {
                expected: "Digest",
                got: "Basic".into(),
            }),
        }
    }

    /// The `Authorization` value. Without qop, no `qop`, `nc` or `cnonce` is written.
    pub fn to_header_value(&self) -> String {
        let mut out = String::from("Digest ");
        push_param(&mut out, "username", &self.username, true);
        push_param(&mut out, "realm", &self.realm, true);
        push_param(&mut out, "nonce", &self.nonce, true);
        push_param(&mut out, "uri", &self.uri, true);
        push_param(&mut out, "algorithm", self.algorithm.as_str(), false);
        push_param(&mut out, "response", &self.response, true);
        if let Some(o) = &self.opaque {
            push_param(&mut out, "opaque", o, true);
        }
        if let Some(q) = &self.qop {
            push_param(&mut out, "qop", "auth", false);
            push_param(&mut out, "nc", &format!("{:08x}", q.nc), false);
            push_param(&mut out, "cnonce", &q.cnonce, true);
        }
        out
    }
}

/// Basic credentials (RFC 7617). `Debug` does not print the password.
#[derive(Clone, PartialEq, Eq)]
pub struct BasicCredentials {
    /// User id (no `:`).
    pub username: String,
    /// Password.
    pub password: String,
}

impl fmt::Debug for BasicCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BasicCredentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl BasicCredentials {
    /// Parses `Basic <base64(user:pass)>`.
    pub fn parse(header: &str) -> Result<Self, DigestError> {
        match Authorization::parse(header)? {
            Authorization::Basic(b) => Ok(b),
            Authorization::Digest(_) => Err(DigestError::WrongScheme {
                expected: "Basic",
                got: "Digest".into(),
            }),
        }
    }

    fn from_token68(token: &str) -> Result<Self, DigestError> {
        let raw = base64_decode(token)?;
        let text = String::from_utf8(raw).map_err(|_| DigestError::BadBasic)?;
        let (user, pass) = text.split_once(':').ok_or(DigestError::BadBasic)?;
        Ok(Self {
            username: user.to_owned(),
            password: pass.to_owned(),
        })
    }

    /// `Basic <base64(user:pass)>`. A username containing `:` cannot be encoded.
    pub fn to_header_value(&self) -> Result<String, DigestError> {
        if self.username.contains(':') {
            return Err(DigestError::InvalidValue("username"));
        }
        Ok(format!(
            "Basic {}",
            base64_encode(format!("{}:{}", self.username, self.password).as_bytes())
        ))
    }

    /// Constant-time check against expected credentials (server side, over TLS only: `AUT-01`).
    pub fn matches(&self, username: &str, password: &str) -> bool {
        let u = self.username.as_bytes().ct_eq(username.as_bytes());
        let p = self.password.as_bytes().ct_eq(password.as_bytes());
        (u & p).into()
    }
}

/// A parsed `Authorization` value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Authorization {
    /// `Basic …`.
    Basic(BasicCredentials),
    /// `Digest …`.
    Digest(DigestAuthorization),
}

impl Authorization {
    /// Parses an `Authorization` header value (one set of credentials).
    pub fn parse(header: &str) -> Result<Self, DigestError> {
        if header.len() > MAX_HEADER_LEN {
            return Err(DigestError::TooLong);
        }
        let trimmed = header.trim_matches([' ', '\t']);
        let (scheme, rest) = trimmed.split_once([' ', '\t']).unwrap_or((trimmed, ""));
        if scheme.eq_ignore_ascii_case("basic") {
            return Ok(Authorization::Basic(BasicCredentials::from_token68(
                rest.trim_matches([' ', '\t']),
            )?));
        }
        let mut items = parse_items(header)?.into_iter();
        let (Some(item), None) = (items.next(), items.next()) else {
            return Err(DigestError::Syntax(
                "expected exactly one set of credentials",
            ));
        };
        if item.scheme.eq_ignore_ascii_case("digest") {
            if item.token68.is_some() {
                return Err(DigestError::Syntax("Digest credentials need parameters"));
            }
            Ok(Authorization::Digest(DigestAuthorization::from_params(
                &item.params,
            )?))
        } else {
            Err(DigestError::WrongScheme {
                expected: "Basic or Digest",
                got: item.scheme,
            })
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Client

/// Client-side Digest state for one server: remembers the last challenge and counts `nc`.
///
/// Used by the CPE towards the ACS (`AUT-02`) and by the ACS for HTTP connection requests
/// (`CR-03`). The caller supplies a fresh cnonce per request.
#[derive(Clone)]
pub struct DigestClient {
    username: String,
    password: String,
    challenge: Option<DigestChallenge>,
    nc: u32,
}

impl fmt::Debug for DigestClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DigestClient")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("challenge", &self.challenge)
            .field("nc", &self.nc)
            .finish()
    }
}

impl DigestClient {
    /// A client with credentials and no challenge yet.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            username: username.into(),
            password: password.into(),
            challenge: None,
            nc: 0,
        }
    }

    /// Takes a `WWW-Authenticate` value from a 401 and keeps its preferred Digest challenge
    /// (resetting `nc`). Fails with [`DigestError::NoDigestChallenge`] if none is usable.
    pub fn on_www_authenticate(&mut self, header: &str) -> Result<&DigestChallenge, DigestError> {
        let challenges = parse_www_authenticate(header)?;
        let chosen = preferred_digest(&challenges)
            .cloned()
            .ok_or(DigestError::NoDigestChallenge)?;
        Ok(self.set_challenge(chosen))
    }

    /// Installs a challenge directly, resetting `nc`.
    pub fn set_challenge(&mut self, challenge: DigestChallenge) -> &DigestChallenge {
        self.nc = 0;
        self.challenge.insert(challenge)
    }

    /// The current challenge, if any.
    pub fn challenge(&self) -> Option<&DigestChallenge> {
        self.challenge.as_ref()
    }

    /// The `nc` used by the last [`authorization`](Self::authorization).
    pub fn nonce_count(&self) -> u32 {
        self.nc
    }

    /// The `Authorization` value for the next request; increments `nc`.
    pub fn authorization(
        &mut self,
        method: &str,
        uri: &str,
        cnonce: &str,
    ) -> Result<String, DigestError> {
        let challenge = self.challenge.as_ref().ok_or(DigestError::NoChallenge)?;
        let nc = self
            .nc
            .checked_add(1)
            .ok_or(DigestError::NonceCountExhausted)?;
        let auth = DigestAuthorization::for_challenge(
            challenge,
            &self.username,
            &self.password,
            method,
            uri,
            cnonce,
            nc,
        )?;
        self.nc = nc;
        Ok(auth.to_header_value())
    }
}

// ---------------------------------------------------------------------------------------------
// Server

/// Why the server refused Digest credentials. Every variant maps to HTTP 401; only
/// [`VerifyError::Stale`] asks for `stale=true` in the new challenge.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The header did not parse.
    #[error("malformed credentials: {0}")]
    Malformed(DigestError),
    /// The realm is not ours.
    #[error("realm mismatch")]
    RealmMismatch,
    /// The algorithm is not the one we challenged with.
    #[error("algorithm mismatch")]
    AlgorithmMismatch,
    /// `uri` differs from the request target.
    #[error("uri mismatch")]
    UriMismatch,
    /// The nonce was not issued by us (or is garbled).
    #[error("nonce not issued by this server")]
    InvalidNonce,
    /// The response was right but the nonce expired: challenge again with `stale=true`.
    #[error("stale nonce")]
    Stale,
    /// We offered `qop=auth` and the client did not use it.
    #[error("qop=auth required")]
    QopRequired,
    /// No such user.
    #[error("unknown user")]
    UnknownUser,
    /// The response does not match.
    #[error("wrong response")]
    BadResponse,
    /// `nc` is not above the highest already accepted for this nonce.
    #[error("replayed nonce count {nc} (highest seen {highest})")]
    Replayed {
        /// The request's `nc`.
        nc: u32,
        /// The highest accepted so far.
        highest: u32,
    },
}

impl VerifyError {
    /// Whether the next challenge should carry `stale=true`.
    pub fn is_stale(&self) -> bool {
        matches!(self, VerifyError::Stale)
    }
}

/// Settings of a [`DigestVerifier`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestVerifierConfig {
    /// `realm` of our challenges.
    pub realm: String,
    /// Algorithm of our challenges. Default MD5 (`AUT-04`: what every CPE supports).
    pub algorithm: Algorithm,
    /// Offer and require `qop=auth`. Default true. False gives RFC 2069 style challenges, with
    /// replay protection limited to nonce expiry.
    pub qop_auth: bool,
    /// Seconds a nonce stays valid after issue. Default 300.
    pub nonce_lifetime_secs: u64,
    /// Nonces whose highest `nc` is remembered. Default 4096.
    pub replay_capacity: usize,
}

impl DigestVerifierConfig {
    /// Defaults for `realm`.
    pub fn new(realm: impl Into<String>) -> Self {
        Self {
            realm: realm.into(),
            algorithm: Algorithm::Md5,
            qop_auth: true,
            nonce_lifetime_secs: 300,
            replay_capacity: 4096,
        }
    }
}

/// Successful verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The authenticated user.
    pub username: String,
    /// When the nonce was issued (Unix seconds).
    pub nonce_issued_at: u64,
    /// The accepted `nc`, with `qop=auth`.
    pub nonce_count: Option<u32>,
}

/// Server-side Digest: issues stateless nonces and verifies credentials.
///
/// A nonce is `hex(issued_at ‖ random ‖ HMAC-SHA256(secret, realm ‖ issued_at ‖ random)[..16])`,
/// so it verifies on whatever TCP connection the client returns on (GenieACS binds nonces to the
/// socket and breaks CPEs that reconnect after the 401). Replays are caught by remembering the
/// highest `nc` per nonce in a map bounded by `replay_capacity`; when full, the nonce issued
/// earliest is evicted and every nonce ordered at or before it (by issue time, then random
/// bytes) is thereafter treated as stale, so an evicted nonce can never be replayed, only renewed.
/// `nc` must strictly increase per nonce: CPEs send requests one at a time.
#[derive(Clone)]
pub struct DigestVerifier {
    secret: Vec<u8>,
    config: DigestVerifierConfig,
    seen: BTreeMap<NonceKey, u32>,
    /// The greatest key ever dropped from `seen`; keys at or below it are no longer tracked.
    evicted_through: Option<NonceKey>,
}

impl fmt::Debug for DigestVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DigestVerifier")
            .field("secret", &"<redacted>")
            .field("config", &self.config)
            .field("tracked_nonces", &self.seen.len())
            .field("evicted_through", &self.evicted_through)
            .finish()
    }
}

impl DigestVerifier {
    /// A verifier keyed by `secret` (at least [`MIN_SECRET_LEN`] bytes, shared by all nodes
    /// that must accept each other's nonces).
    pub fn new(secret: &[u8], config: DigestVerifierConfig) -> Result<Self, DigestError> {
        if secret.len() < MIN_SECRET_LEN {
            return Err(DigestError::InvalidValue("secret"));
        }
        check_value(&config.realm, "realm")?;
        Ok(Self {
            secret: secret.to_vec(),
            config,
            seen: BTreeMap::new(),
            evicted_through: None,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &DigestVerifierConfig {
        &self.config
    }

    fn nonce_mac(&self, issued_at: u64, random: &[u8; NONCE_RANDOM_LEN]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.secret)
            .expect("HMAC accepts keys of any length");
        mac.update(b"tether digest nonce v1\0");
        mac.update(self.config.realm.as_bytes());
        mac.update(b"\0");
        mac.update(&issued_at.to_be_bytes());
        mac.update(random);
        mac
    }

    /// A fresh nonce issued at `now` from the caller's random bytes.
    pub fn issue_nonce(&self, now: u64, random: &[u8; NONCE_RANDOM_LEN]) -> String {
        let tag = self.nonce_mac(now, random).finalize().into_bytes();
        let mut raw = Vec::with_capacity(NONCE_LEN);
        raw.extend_from_slice(&now.to_be_bytes());
        raw.extend_from_slice(random);
        raw.extend_from_slice(&tag[..NONCE_MAC_LEN]);
        hex::encode(raw)
    }

    /// A challenge carrying a fresh nonce.
    pub fn challenge(
        &self,
        now: u64,
        random: &[u8; NONCE_RANDOM_LEN],
        stale: bool,
    ) -> DigestChallenge {
        DigestChallenge {
            realm: self.config.realm.clone(),
            nonce: self.issue_nonce(now, random),
            opaque: None,
            algorithm: self.config.algorithm,
            qop_auth: self.config.qop_auth,
            stale,
            domain: None,
        }
    }

    /// The `WWW-Authenticate` value of [`challenge`](Self::challenge).
    pub fn challenge_header(
        &self,
        now: u64,
        random: &[u8; NONCE_RANDOM_LEN],
        stale: bool,
    ) -> String {
        self.challenge(now, random, stale).to_header_value()
    }

    /// Checks a nonce's MAC; returns its issue time and random part.
    fn open_nonce(&self, nonce: &str) -> Result<(u64, [u8; NONCE_RANDOM_LEN]), VerifyError> {
        let mut raw = [0u8; NONCE_LEN];
        hex::decode_to_slice(nonce, &mut raw).map_err(|_| VerifyError::InvalidNonce)?;
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&raw[..8]);
        let issued_at = u64::from_be_bytes(ts);
        let mut random = [0u8; NONCE_RANDOM_LEN];
        random.copy_from_slice(&raw[8..8 + NONCE_RANDOM_LEN]);
        self.nonce_mac(issued_at, &random)
            .verify_truncated_left(&raw[8 + NONCE_RANDOM_LEN..])
            .map_err(|_| VerifyError::InvalidNonce)?;
        Ok((issued_at, random))
    }

    /// Parses and verifies an `Authorization: Digest …` value for a request with `method` and
    /// request target `uri`. `password_for(username)` returns the user's password.
    pub fn verify(
        &mut self,
        authorization: &str,
        method: &str,
        uri: &str,
        password_for: impl FnOnce(&str) -> Option<String>,
        now: u64,
    ) -> Result<Verified, VerifyError> {
        let auth = DigestAuthorization::parse(authorization).map_err(VerifyError::Malformed)?;
        self.verify_parsed(&auth, method, uri, password_for, now)
    }

    /// [`verify`](Self::verify) for credentials already parsed.
    pub fn verify_parsed(
        &mut self,
        auth: &DigestAuthorization,
        method: &str,
        uri: &str,
        password_for: impl FnOnce(&str) -> Option<String>,
        now: u64,
    ) -> Result<Verified, VerifyError> {
        if auth.realm != self.config.realm {
            return Err(VerifyError::RealmMismatch);
        }
        if auth.algorithm != self.config.algorithm {
            return Err(VerifyError::AlgorithmMismatch);
        }
        if auth.uri != uri {
            return Err(VerifyError::UriMismatch);
        }
        let (issued_at, random) = self.open_nonce(&auth.nonce)?;
        if self.config.qop_auth && auth.qop.is_none() {
            return Err(VerifyError::QopRequired);
        }
        let password = password_for(&auth.username).ok_or(VerifyError::UnknownUser)?;
        let expected = auth
            .expected_response(&password, method)
            .map_err(VerifyError::Malformed)?;
        // Compare the raw digests; hex case does not matter, length is not secret.
        let got = hex::decode(&auth.response).map_err(|_| VerifyError::BadResponse)?;
        let want = hex::decode(expected).map_err(|_| VerifyError::BadResponse)?;
        if !bool::from(got.ct_eq(&want)) {
            return Err(VerifyError::BadResponse);
        }
        // Only now, with the password proven, say "stale" (RFC 7616 §3.3).
        let expired = now > issued_at.saturating_add(self.config.nonce_lifetime_secs);
        let from_future = issued_at > now.saturating_add(self.config.nonce_lifetime_secs);
        if expired || from_future {
            return Err(VerifyError::Stale);
        }
        let nonce_count = match &auth.qop {
            Some(q) => {
                self.record_nc((issued_at, random), q.nc, now)?;
                Some(q.nc)
            }
            None => None,
        };
        Ok(Verified {
            username: auth.username.clone(),
            nonce_issued_at: issued_at,
            nonce_count,
        })
    }

    fn record_nc(&mut self, key: NonceKey, nc: u32, now: u64) -> Result<(), VerifyError> {
        if let Some(highest) = self.seen.get_mut(&key) {
            if nc <= *highest {
                return Err(VerifyError::Replayed {
                    nc,
                    highest: *highest,
                });
            }
            *highest = nc;
            return Ok(());
        }
        // Not tracked: either never used, or dropped earlier. Every dropped key is at or below
        // `evicted_through` (keys leave in ascending order), so only keys above it are new.
        if self.evicted_through.is_some_and(|floor| key <= floor) {
            return Err(VerifyError::Stale);
        }
        // Drop expired nonces first (they fail as stale anyway), then the oldest live ones.
        let lifetime = self.config.nonce_lifetime_secs;
        let capacity = self.config.replay_capacity.max(1);
        loop {
            let full = self.seen.len() >= capacity;
            let Some(entry) = self.seen.first_entry() else {
                break;
            };
            let expired = entry.key().0.saturating_add(lifetime) < now;
            if !expired && !full {
                break;
            }
            let (dropped, _) = entry.remove_entry();
            self.evicted_through = Some(self.evicted_through.map_or(dropped, |f| f.max(dropped)));
        }
        if self.evicted_through.is_some_and(|floor| key <= floor) {
            return Err(VerifyError::Stale);
        }
        self.seen.insert(key, nc);
        Ok(())
    }

    /// Nonces currently tracked for replay protection.
    pub fn tracked_nonces(&self) -> usize {
        self.seen.len()
    }
}

// ---------------------------------------------------------------------------------------------
// Base64 (standard alphabet, RFC 4648 §4) for Basic credentials.

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base64_decode(text: &str) -> Result<Vec<u8>, DigestError> {
    let body = text.trim_end_matches('=');
    if text.len() - body.len() > 2 || body.len() % 4 == 1 {
        return Err(DigestError::BadBasic);
    }
    let mut out = Vec::with_capacity(body.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for b in body.bytes() {
        let v = B64
            .iter()
            .position(|&c| c == b)
            .ok_or(DigestError::BadBasic)?;
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const RFC_NONCE: &str = "dcd98b7102dd2f0e8b11d0f600bfb0c093";
    const SECRET: &[u8] = b"0123456789abcdef-server-secret";

    fn challenge(
        realm: &str,
        nonce: &str,
        algorithm: Algorithm,
        qop_auth: bool,
    ) -> DigestChallenge {
        DigestChallenge {
            realm: realm.into(),
            nonce: nonce.into(),
            opaque: None,
            algorithm,
            qop_auth,
            stale: false,
            domain: None,
        }
    }

    fn verifier() -> DigestVerifier {
        DigestVerifier::new(SECRET, DigestVerifierConfig::new("IGD")).unwrap()
    }

    fn pw(user: &str) -> Option<String> {
        (user == "acs").then(|| "secret".to_owned())
    }

    #[test]
    fn cr03_checklist_item11_vector() {
        let c = challenge("IGD", RFC_NONCE, Algorithm::Md5, true);
        let a = DigestAuthorization::for_challenge(
            &c,
            "acs",
            "secret",
            "GET",
            "/cr/5f3a9c",
            "0a4f113b",
            1,
        )
        .unwrap();
        assert_eq!(a.response, "3e799c1bebef0771105d55974cbe0f4e");
        let h = a.to_header_value();
        assert!(
            h.contains("qop=auth, nc=00000001, cnonce=\"0a4f113b\""),
            "{h}"
        );
        assert!(h.contains("uri=\"/cr/5f3a9c\""));
    }

    #[test]
    fn aut04_rfc2617_section_3_5_vector() {
        let c = challenge("testrealm@host.com", RFC_NONCE, Algorithm::Md5, true);
        let a = DigestAuthorization::for_challenge(
            &c,
            "Mufasa",
            "Circle Of Life",
            "GET",
            "/dir/index.html",
            "0a4f113b",
            1,
        )
        .unwrap();
        assert_eq!(a.response, "6629fae49393a05397450978507c4ef1");
    }

    const RFC7616_NONCE: &str = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
    const RFC7616_CNONCE: &str = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";

    fn rfc7616(algorithm: Algorithm) -> String {
        let c = challenge("http-auth@example.org", RFC7616_NONCE, algorithm, true);
        DigestAuthorization::for_challenge(
            &c,
            "Mufasa",
            "Circle of Life",
            "GET",
            "/dir/index.html",
            RFC7616_CNONCE,
            1,
        )
        .unwrap()
        .response
    }

    #[test]
    fn aut04_rfc7616_section_3_9_1_sha256_and_md5_vectors() {
        assert_eq!(
            rfc7616(Algorithm::Sha256),
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
        );
        assert_eq!(rfc7616(Algorithm::Md5), "8ca523f5e9506fed4657c9700eebdbec");
    }

    #[test]
    fn aut04_sess_variants_match_independent_computation() {
        // Expected values computed separately with Python's hashlib for this test.
        assert_eq!(
            rfc7616(Algorithm::Sha256Sess),
            "2fd51b3a77ad75bad6afad6003e818d767133c46d9e2749e7f5232ae1ea3efd7"
        );
        let c = challenge("testrealm@host.com", RFC_NONCE, Algorithm::Md5Sess, true);
        let a = DigestAuthorization::for_challenge(
            &c,
            "Mufasa",
            "Circle Of Life",
            "GET",
            "/dir/index.html",
            "0a4f113b",
            1,
        )
        .unwrap();
        assert_eq!(a.response, "8e3825c57e897f5a0dec6c2d4e5059d0");
    }

    #[test]
    fn aut04_pitfall10_no_qop_challenge_gives_rfc2069_response() {
        let header = format!("Digest realm=\"testrealm@host.com\", nonce=\"{RFC_NONCE}\"");
        let mut client = DigestClient::new("Mufasa", "Circle Of Life");
        client.on_www_authenticate(&header).unwrap();
        let h = client
            .authorization("GET", "/dir/index.html", "unused")
            .unwrap();
        assert!(!h.contains("qop"), "{h}");
        assert!(!h.contains("nc="), "{h}");
        assert!(!h.contains("cnonce"), "{h}");
        // H(HA1:nonce:HA2), computed independently with Python's hashlib.
        assert!(
            h.contains("response=\"670fd8c2df070c60b045671b8b24ff02\""),
            "{h}"
        );
    }

    #[test]
    fn aut04_sess_without_qop_is_rejected() {
        let header = "Digest realm=\"r\", nonce=\"n\", algorithm=MD5-sess";
        let cs = parse_www_authenticate(header).unwrap();
        assert!(matches!(
            &cs[0],
            Challenge::Other {
                reason: Some(DigestError::SessRequiresQop),
                ..
            }
        ));
    }

    #[test]
    fn aut02_parse_basic_and_digest_in_one_header() {
        let h = r#"Basic realm="Tether", Digest realm="IGD", qop="auth,auth-int", nonce="abc", opaque="5ccc", algorithm=MD5, stale=TRUE"#;
        let cs = parse_www_authenticate(h).unwrap();
        assert_eq!(cs.len(), 2);
        assert_eq!(
            cs[0],
            Challenge::Basic {
                realm: Some("Tether".into())
            }
        );
        let Challenge::Digest(d) = &cs[1] else {
            panic!("{cs:?}")
        };
        assert_eq!(d.realm, "IGD");
        assert_eq!(d.nonce, "abc");
        assert_eq!(d.opaque.as_deref(), Some("5ccc"));
        assert!(d.qop_auth && d.stale);
        assert_eq!(d.algorithm, Algorithm::Md5);
    }

    #[test]
    fn aut02_parse_escapes_case_and_tokens() {
        let h =
            r#"digest REALM="a \"quoted\" \\ realm", Nonce=tok123, QOP=auth , ALGORITHM=sha-256"#;
        let cs = parse_www_authenticate(h).unwrap();
        let Challenge::Digest(d) = &cs[0] else {
            panic!("{cs:?}")
        };
        assert_eq!(d.realm, r#"a "quoted" \ realm"#);
        assert_eq!(d.nonce, "tok123");
        assert_eq!(d.algorithm, Algorithm::Sha256);
        assert!(d.qop_auth);
        // Round trip through our own formatting.
        assert_eq!(
            parse_www_authenticate(&d.to_header_value()).unwrap(),
            vec![Challenge::Digest(d.clone())]
        );
    }

    #[test]
    fn aut02_parse_token68_and_unknown_schemes() {
        let cs = parse_www_authenticate("Negotiate YIIB+/==, Basic realm=\"x\"").unwrap();
        assert_eq!(cs.len(), 2);
        assert!(
            matches!(&cs[0], Challenge::Other { scheme, reason: None, .. } if scheme == "Negotiate")
        );
        let cs = parse_www_authenticate("Digest realm=\"r\", nonce=\"n\", algorithm=SHA-512-256")
            .unwrap();
        assert!(matches!(
            &cs[0],
            Challenge::Other {
                reason: Some(DigestError::UnsupportedAlgorithm(_)),
                ..
            }
        ));
        let cs =
            parse_www_authenticate("Digest realm=\"r\", nonce=\"n\", qop=\"auth-int\"").unwrap();
        assert!(matches!(
            &cs[0],
            Challenge::Other {
                reason: Some(DigestError::UnsupportedQop(_)),
                ..
            }
        ));
        let cs = parse_www_authenticate("Digest realm=\"r\"").unwrap();
        assert!(matches!(
            &cs[0],
            Challenge::Other {
                reason: Some(DigestError::MissingParam("nonce")),
                ..
            }
        ));
    }

    #[test]
    fn aut02_parse_errors_are_typed() {
        assert!(matches!(
            parse_www_authenticate("Digest realm=\"open"),
            Err(DigestError::Syntax(_))
        ));
        assert_eq!(
            parse_www_authenticate("Digest realm=a, Realm=b, nonce=c"),
            Err(DigestError::DuplicateParam("realm".into()))
        );
        assert!(matches!(
            parse_www_authenticate("Digest realm=a nonce=b"),
            Err(DigestError::Syntax(_))
        ));
        assert!(matches!(
            parse_www_authenticate("Digest realm=\"a\r\nX: y\""),
            Err(DigestError::Syntax(_))
        ));
        assert_eq!(
            parse_www_authenticate(&"a".repeat(MAX_HEADER_LEN + 1)),
            Err(DigestError::TooLong)
        );
        let many: Vec<String> = (0..=MAX_PARAMS).map(|i| format!("p{i}=v")).collect();
        assert_eq!(
            parse_www_authenticate(&format!("Digest {}", many.join(", "))),
            Err(DigestError::TooManyParams)
        );
    }

    #[test]
    fn aut02_client_prefers_sha256_over_md5() {
        let h = "Digest realm=\"r\", nonce=\"n1\", qop=\"auth\", algorithm=MD5, Digest realm=\"r\", nonce=\"n2\", qop=\"auth\", algorithm=SHA-256";
        let cs = parse_www_authenticate(h).unwrap();
        assert_eq!(preferred_digest(&cs).unwrap().nonce, "n2");
        let only_basic = parse_www_authenticate("Basic realm=\"x\"").unwrap();
        assert_eq!(preferred_digest(&only_basic), None);
        let mut client = DigestClient::new("u", "p");
        assert_eq!(
            client.on_www_authenticate("Basic realm=\"x\"").map(|_| ()),
            Err(DigestError::NoDigestChallenge)
        );
        assert_eq!(
            client.authorization("GET", "/", "c"),
            Err(DigestError::NoChallenge)
        );
    }

    #[test]
    fn aut02_client_increments_nc_and_resets_on_new_challenge() {
        let mut v = verifier();
        let mut client = DigestClient::new("acs", "secret");
        client
            .on_www_authenticate(&v.challenge_header(1000, &[1; 16], false))
            .unwrap();
        for expected_nc in 1..=3u32 {
            let h = client
                .authorization("POST", "/acs", &format!("cn{expected_nc}"))
                .unwrap();
            assert!(h.contains(&format!("nc={expected_nc:08x}")), "{h}");
            let ok = v.verify(&h, "POST", "/acs", pw, 1001).unwrap();
            assert_eq!(ok.nonce_count, Some(expected_nc));
            assert_eq!(ok.username, "acs");
        }
        client
            .on_www_authenticate(&v.challenge_header(1002, &[2; 16], false))
            .unwrap();
        assert_eq!(client.nonce_count(), 0);
        let h = client.authorization("POST", "/acs", "x").unwrap();
        assert!(h.contains("nc=00000001"));
        assert!(v.verify(&h, "POST", "/acs", pw, 1003).is_ok());
    }

    #[test]
    fn aut04_authorization_round_trip_and_parse_errors() {
        let c = challenge("IGD", "n\"x", Algorithm::Sha256Sess, true);
        let mut a =
            DigestAuthorization::for_challenge(&c, "us\\er", "pw", "GET", "/a b", "c", 7).unwrap();
        a.opaque = Some("op".into());
        assert_eq!(DigestAuthorization::parse(&a.to_header_value()).unwrap(), a);
        assert_eq!(
            DigestAuthorization::parse(
                "Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"/\", response=\"0\", qop=auth, nc=1, cnonce=\"c\""
            ),
            Err(DigestError::BadNonceCount)
        );
        assert_eq!(
            DigestAuthorization::parse(
                "Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"/\""
            ),
            Err(DigestError::MissingParam("response"))
        );
        assert!(matches!(
            DigestAuthorization::parse("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="),
            Err(DigestError::WrongScheme { .. })
        ));
        assert_eq!(
            DigestAuthorization::for_challenge(&c, "u\r\nX", "p", "GET", "/", "c", 1),
            Err(DigestError::InvalidValue("username"))
        );
    }

    #[test]
    fn aut02_basic_parse_format_and_match() {
        let b = BasicCredentials::parse("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==").unwrap();
        assert_eq!(b.username, "Aladdin");
        assert_eq!(b.password, "open sesame");
        assert_eq!(
            b.to_header_value().unwrap(),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        assert!(b.matches("Aladdin", "open sesame"));
        assert!(!b.matches("Aladdin", "open sesame!"));
        assert!(!b.matches("aladdin", "open sesame"));
        assert_eq!(
            BasicCredentials::parse("Basic !!!!"),
            Err(DigestError::BadBasic)
        );
        assert_eq!(
            BasicCredentials::parse("Basic bm9jb2xvbg=="),
            Err(DigestError::BadBasic)
        );
        let colon = BasicCredentials {
            username: "a:b".into(),
            password: "p".into(),
        };
        assert_eq!(
            colon.to_header_value(),
            Err(DigestError::InvalidValue("username"))
        );
        assert_eq!(basic_challenge("Tether"), "Basic realm=\"Tether\"");
    }

    #[test]
    fn aut04_nonce_verifies_on_new_connection_and_other_verifier_instance() {
        // The 401 came from one verifier; the CPE reconnects and lands on another instance
        // (another TCP connection, another node, or after a restart) sharing the secret.
        let issuer = verifier();
        let c = issuer.challenge(5000, &[9; 16], false);
        let a =
            DigestAuthorization::for_challenge(&c, "acs", "secret", "POST", "/", "cn", 1).unwrap();
        let mut other = verifier();
        assert!(
            other
                .verify(&a.to_header_value(), "POST", "/", pw, 5010)
                .is_ok()
        );
    }

    fn signed(v: &DigestVerifier, now: u64, random: u8, nc: u32) -> String {
        let c = v.challenge(now, &[random; 16], false);
        DigestAuthorization::for_challenge(&c, "acs", "secret", "GET", "/cr", "cn", nc)
            .unwrap()
            .to_header_value()
    }

    #[test]
    fn cr03_stale_nonce_after_lifetime_only_with_right_password() {
        let mut v = verifier();
        let h = signed(&v, 1000, 1, 1);
        let err = v.verify(&h, "GET", "/cr", pw, 1301).unwrap_err();
        assert_eq!(err, VerifyError::Stale);
        assert!(err.is_stale());
        // Wrong password with an expired nonce: BadResponse, not stale.
        let wrong = v.verify(&h, "GET", "/cr", |_| Some("nope".into()), 1301);
        assert_eq!(wrong, Err(VerifyError::BadResponse));
        // Within the lifetime it verifies.
        assert!(v.verify(&h, "GET", "/cr", pw, 1300).is_ok());
    }

    #[test]
    fn cr03_replayed_nonce_count_is_rejected() {
        let mut v = verifier();
        let h1 = signed(&v, 1000, 1, 1);
        assert!(v.verify(&h1, "GET", "/cr", pw, 1000).is_ok());
        assert_eq!(
            v.verify(&h1, "GET", "/cr", pw, 1001),
            Err(VerifyError::Replayed { nc: 1, highest: 1 })
        );
        let h3 = signed(&v, 1000, 1, 3);
        assert!(v.verify(&h3, "GET", "/cr", pw, 1002).is_ok());
        let h2 = signed(&v, 1000, 1, 2);
        assert_eq!(
            v.verify(&h2, "GET", "/cr", pw, 1003),
            Err(VerifyError::Replayed { nc: 2, highest: 3 })
        );
    }

    #[test]
    fn cr03_forged_or_foreign_nonces_are_invalid() {
        let mut v = verifier();
        let c = challenge(
            "IGD",
            "dcd98b7102dd2f0e8b11d0f600bfb0c093",
            Algorithm::Md5,
            true,
        );
        let a =
            DigestAuthorization::for_challenge(&c, "acs", "secret", "GET", "/cr", "cn", 1).unwrap();
        assert_eq!(
            v.verify(&a.to_header_value(), "GET", "/cr", pw, 0),
            Err(VerifyError::InvalidNonce)
        );
        let foreign =
            DigestVerifier::new(b"another-secret-of-16+", DigestVerifierConfig::new("IGD"))
                .unwrap();
        let h = signed(&foreign, 1000, 1, 1);
        assert_eq!(
            v.verify(&h, "GET", "/cr", pw, 1000),
            Err(VerifyError::InvalidNonce)
        );
        // Flip one hex digit of the issue time inside our own nonce.
        let mut c = v.challenge(1000, &[1; 16], false);
        c.nonce
            .replace_range(15..16, if &c.nonce[15..16] == "0" { "1" } else { "0" });
        let a =
            DigestAuthorization::for_challenge(&c, "acs", "secret", "GET", "/cr", "cn", 1).unwrap();
        assert_eq!(
            v.verify(&a.to_header_value(), "GET", "/cr", pw, 1000),
            Err(VerifyError::InvalidNonce)
        );
    }

    #[test]
    fn cr03_mismatches_and_unknown_user() {
        let mut v = verifier();
        let good = v.challenge(1000, &[1; 16], false);
        let mk = |c: &DigestChallenge, user: &str, uri: &str| {
            DigestAuthorization::for_challenge(c, user, "secret", "GET", uri, "cn", 1)
                .unwrap()
                .to_header_value()
        };
        assert_eq!(
            v.verify(&mk(&good, "who", "/cr"), "GET", "/cr", pw, 1000),
            Err(VerifyError::UnknownUser)
        );
        assert_eq!(
            v.verify(&mk(&good, "acs", "/other"), "GET", "/cr", pw, 1000),
            Err(VerifyError::UriMismatch)
        );
        assert_eq!(
            v.verify(&mk(&good, "acs", "/cr"), "POST", "/cr", pw, 1000),
            Err(VerifyError::BadResponse)
        );
        let mut realm = good.clone();
        realm.realm = "other".into();
        assert_eq!(
            v.verify(&mk(&realm, "acs", "/cr"), "GET", "/cr", pw, 1000),
            Err(VerifyError::RealmMismatch)
        );
        let mut alg = good.clone();
        alg.algorithm = Algorithm::Sha256;
        assert_eq!(
            v.verify(&mk(&alg, "acs", "/cr"), "GET", "/cr", pw, 1000),
            Err(VerifyError::AlgorithmMismatch)
        );
        let mut no_qop = good.clone();
        no_qop.qop_auth = false;
        assert_eq!(
            v.verify(&mk(&no_qop, "acs", "/cr"), "GET", "/cr", pw, 1000),
            Err(VerifyError::QopRequired)
        );
        assert!(matches!(
            v.verify("Digest garbage", "GET", "/cr", pw, 1000),
            Err(VerifyError::Malformed(_))
        ));
        assert!(
            v.verify(&mk(&good, "acs", "/cr"), "GET", "/cr", pw, 1000)
                .is_ok()
        );
    }

    #[test]
    fn cr03_rfc2069_mode_verifier_without_qop() {
        let mut cfg = DigestVerifierConfig::new("IGD");
        cfg.qop_auth = false;
        cfg.algorithm = Algorithm::Sha256;
        let mut v = DigestVerifier::new(SECRET, cfg).unwrap();
        let header = v.challenge_header(10, &[3; 16], false);
        assert!(!header.contains("qop"));
        let mut client = DigestClient::new("acs", "secret");
        client.on_www_authenticate(&header).unwrap();
        let h = client.authorization("GET", "/cr", "c").unwrap();
        let ok = v.verify(&h, "GET", "/cr", pw, 11).unwrap();
        assert_eq!(ok.nonce_count, None);
    }

    #[test]
    fn cr03_replay_map_is_bounded_and_evicted_nonces_become_stale() {
        let mut cfg = DigestVerifierConfig::new("IGD");
        cfg.replay_capacity = 2;
        let mut v = DigestVerifier::new(SECRET, cfg).unwrap();
        let old = signed(&v, 100, 1, 1);
        assert!(v.verify(&old, "GET", "/cr", pw, 100).is_ok());
        assert!(
            v.verify(&signed(&v, 101, 2, 1), "GET", "/cr", pw, 101)
                .is_ok()
        );
        assert!(
            v.verify(&signed(&v, 102, 3, 1), "GET", "/cr", pw, 102)
                .is_ok()
        );
        assert_eq!(v.tracked_nonces(), 2);
        // The evicted nonce's nc history is gone; replaying it must not succeed.
        assert_eq!(
            v.verify(&old, "GET", "/cr", pw, 103),
            Err(VerifyError::Stale)
        );
        let old_next = signed(&v, 100, 1, 2);
        assert_eq!(
            v.verify(&old_next, "GET", "/cr", pw, 103),
            Err(VerifyError::Stale)
        );
        // Expired entries are purged instead of evicting live ones.
        assert!(
            v.verify(&signed(&v, 1000, 4, 1), "GET", "/cr", pw, 1000)
                .is_ok()
        );
        assert_eq!(v.tracked_nonces(), 1);
    }

    #[test]
    fn aut04_uppercase_hex_response_is_accepted_for_interop() {
        let mut v = verifier();
        let c = v.challenge(1000, &[1; 16], false);
        let mut a =
            DigestAuthorization::for_challenge(&c, "acs", "secret", "GET", "/cr", "cn", 1).unwrap();
        a.response = a.response.to_uppercase();
        assert!(
            v.verify(&a.to_header_value(), "GET", "/cr", pw, 1000)
                .is_ok()
        );
    }

    #[test]
    fn cr03_eviction_floor_is_per_nonce_not_per_second() {
        let mut cfg = DigestVerifierConfig::new("IGD");
        cfg.replay_capacity = 1;
        let mut v = DigestVerifier::new(SECRET, cfg).unwrap();
        assert!(
            v.verify(&signed(&v, 100, 1, 1), "GET", "/cr", pw, 100)
                .is_ok()
        );
        // Same second, larger random: evicts the first, and is itself accepted.
        assert!(
            v.verify(&signed(&v, 100, 2, 1), "GET", "/cr", pw, 100)
                .is_ok()
        );
        // Same second, smaller random than the evicted one: might be a replay, so stale.
        assert_eq!(
            v.verify(&signed(&v, 100, 0, 5), "GET", "/cr", pw, 100),
            Err(VerifyError::Stale)
        );
    }

    #[test]
    fn aut04_debug_output_redacts_secrets() {
        let client = DigestClient::new("acs", "hunter2-password");
        assert!(!format!("{client:?}").contains("hunter2"));
        let v = DigestVerifier::new(b"supersecretvalue-0123", DigestVerifierConfig::new("IGD"))
            .unwrap();
        assert!(!format!("{v:?}").contains("supersecret"));
        let b = BasicCredentials {
            username: "u".into(),
            password: "hunter2".into(),
        };
        assert!(!format!("{b:?}").contains("hunter2"));
    }

    #[test]
    fn aut04_verifier_rejects_short_secret() {
        assert_eq!(
            DigestVerifier::new(b"short", DigestVerifierConfig::new("IGD")).map(|_| ()),
            Err(DigestError::InvalidValue("secret"))
        );
    }

    proptest! {
        /// Hex is compared case-insensitively (interop), so an edit that only flips the case of
        /// a hex letter is not a change of value and is excluded; every other edit must fail.
        #[test]
        fn aut04_prop_client_output_verifies_and_any_value_changing_byte_edit_fails(
            user in "[ -~]{1,24}",
            password in "[ -~]{0,24}",
            uri in "/[!-~]{0,40}",
            cnonce in "[0-9a-zA-Z]{1,16}",
            nc in 1u32..1000,
            alg in prop_oneof![
                Just(Algorithm::Md5),
                Just(Algorithm::Md5Sess),
                Just(Algorithm::Sha256),
                Just(Algorithm::Sha256Sess)
            ],
            random in any::<[u8; 16]>(),
            index in any::<prop::sample::Index>(),
            replacement in any::<u8>(),
        ) {
            let mut cfg = DigestVerifierConfig::new("IGD");
            cfg.algorithm = alg;
            let mut v = DigestVerifier::new(SECRET, cfg.clone()).unwrap();
            let c = v.challenge(50, &random, false);
            let a = DigestAuthorization::for_challenge(&c, &user, &password, "POST", &uri, &cnonce, nc)
                .unwrap();
            let lookup = |u: &str| (u == user).then(|| password.clone());
            let ok = v.verify(&a.to_header_value(), "POST", &uri, lookup, 60).unwrap();
            prop_assert_eq!(&ok.username, &user);

            let mut bytes = a.response.clone().into_bytes();
            let i = index.index(bytes.len());
            prop_assume!(!bytes[i].eq_ignore_ascii_case(&replacement));
            bytes[i] = replacement;
            let mut tampered = a.clone();
            tampered.response = String::from_utf8_lossy(&bytes).into_owned();
            // A fresh verifier, so replay tracking cannot be what rejects it.
            let mut fresh = DigestVerifier::new(SECRET, cfg).unwrap();
            let lookup = |u: &str| (u == user).then(|| password.clone());
            let r = fresh.verify(&tampered.to_header_value(), "POST", &uri, lookup, 60);
            prop_assert_eq!(r, Err(VerifyError::BadResponse));
        }

        #[test]
        fn aut02_prop_base64_round_trip(data in proptest::collection::vec(any::<u8>(), 0..64)) {
            prop_assert_eq!(base64_decode(&base64_encode(&data)).unwrap(), data);
        }

        #[test]
        fn aut02_prop_parsers_never_panic(s in "\\PC{0,200}") {
            let _ = parse_www_authenticate(&s);
            let _ = Authorization::parse(&s);
        }
    }
}
