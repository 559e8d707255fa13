//! Server-side tokens: stateless, HMAC-signed, bound to a device, a purpose and a service.
//!
//! Owns: the token format, issuing, verification with typed errors, key rotation and the
//! bounded replay set that makes single-use tokens single-use. Devices treat tokens as opaque.
//! Must not touch: when tokens are issued (see `handshake.rs`).
//!
//! ```text
//! token   = "ct1." base64url(payload) "." base64url(HMAC-SHA256(key[key_id], "tether-cloudlink/v1/token" 00 payload))
//! payload = version(1)=1 | kind(1) | key_id(1) | issued_at(u64be) | expires_at(u64be) | nonce(16)
//!           | len(1) serial | len(1) service
//! ```

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::HashMap;
use subtle::ConstantTimeEq;

const PREFIX: &str = "ct1.";
const LABEL: &[u8] = b"tether-cloudlink/v1/token\0";
/// Longest token accepted for parsing.
pub const MAX_TOKEN_LEN: usize = 512;

/// What a token may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// An authentication challenge nonce (single use).
    Challenge = 1,
    /// A session token from authentication, for registration (multi-use until expiry).
    Session = 2,
    /// The main tunnel URL (single use).
    Tunnel = 3,
    /// A subconnection URL (single use, names a service).
    Subconnection = 4,
}

impl TokenKind {
    fn from_byte(b: u8) -> Option<Self> {
        Some(match b {
            1 => Self::Challenge,
            2 => Self::Session,
            3 => Self::Tunnel,
            4 => Self::Subconnection,
            _ => return None,
        })
    }

    /// True if a token of this kind must be accepted at most once.
    pub fn single_use(self) -> bool {
        !matches!(self, Self::Session)
    }
}

/// A signing key with its one-byte id.
#[derive(Clone)]
pub struct TokenKey {
    /// Key id, carried in tokens so that verification picks the right key after rotation.
    pub id: u8,
    /// 32 random bytes, the same on every server node.
    pub secret: [u8; 32],
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenKey {{ id: {}, .. }}", self.id)
    }
}

/// What a verified token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// Purpose.
    pub kind: TokenKind,
    /// Device serial number.
    pub serial: String,
    /// Service name for subconnection tokens; `ka=<secs>` for tunnel tokens; else empty.
    pub service: String,
    /// Unix seconds of issue.
    pub issued_at: u64,
    /// Unix seconds after which the token is refused.
    pub expires_at: u64,
    /// Random nonce; the replay-set key.
    pub nonce: [u8; 16],
}

impl Claims {
    /// For tunnel tokens: the keepalive interval (seconds) negotiated at registration, which
    /// the issuer stores in the service slot as `ka=<secs>`.
    pub fn keepalive(&self) -> Option<u32> {
        self.service.strip_prefix("ka=")?.parse().ok()
    }
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Not a token of this format.
    #[error("malformed token")]
    Malformed,
    /// Signed with a key id this server does not hold.
    #[error("unknown token key")]
    UnknownKey,
    /// Signature mismatch: forged or altered.
    #[error("bad token signature")]
    BadSignature,
    /// A token for another purpose.
    #[error("token of the wrong kind")]
    WrongKind,
    /// Past its expiry.
    #[error("token expired")]
    Expired,
    /// Issued to another device.
    #[error("token issued to another device")]
    WrongDevice,
    /// Issued for another service.
    #[error("token issued for another service")]
    WrongService,
    /// Already used once.
    #[error("token already used")]
    Replayed,
    /// The replay set is full of unexpired entries; refused to stay safe.
    #[error("replay set full")]
    ReplaySetFull,
}

/// What the verifier expects of a token.
#[derive(Debug, Clone, Copy)]
pub struct Expect<'a> {
    /// Required purpose.
    pub kind: TokenKind,
    /// Required serial, if the caller knows who presents it.
    pub serial: Option<&'a str>,
    /// Required service (subconnections).
    pub service: Option<&'a str>,
}

/// Issues and verifies tokens with a current key and, during rotation, a previous one.
#[derive(Debug, Clone)]
pub struct TokenSigner {
    current: TokenKey,
    previous: Option<TokenKey>,
}

fn sign(secret: &[u8; 32], payload: &[u8]) -> [u8; 32] {
    let mut m = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts 32-byte keys");
    m.update(LABEL);
    m.update(payload);
    m.finalize().into_bytes().into()
}

impl TokenSigner {
    /// A signer with one key.
    pub fn new(current: TokenKey) -> Self {
        TokenSigner {
            current,
            previous: None,
        }
    }

    /// Rotates: `next` signs from now on, the old current key still verifies.
    pub fn rotate(&mut self, next: TokenKey) {
        let old = std::mem::replace(&mut self.current, next);
        self.previous = Some(old);
    }

    /// Issues a token. `serial` and `service` must be at most 255 bytes (the protocol limits
    /// them to 64 and 32); longer values are truncated at a byte boundary by the length byte.
    pub fn issue(
        &self,
        kind: TokenKind,
        serial: &str,
        service: &str,
        now: u64,
        lifetime: u64,
        nonce: [u8; 16],
    ) -> String {
        let serial = &serial.as_bytes()[..serial.len().min(255)];
        let service = &service.as_bytes()[..service.len().min(255)];
        let mut p = Vec::with_capacity(37 + 2 + serial.len() + service.len());
        p.push(1);
        p.push(kind as u8);
        p.push(self.current.id);
        p.extend_from_slice(&now.to_be_bytes());
        p.extend_from_slice(&now.saturating_add(lifetime).to_be_bytes());
        p.extend_from_slice(&nonce);
        p.push(serial.len() as u8);
        p.extend_from_slice(serial);
        p.push(service.len() as u8);
        p.extend_from_slice(service);
        let sig = sign(&self.current.secret, &p);
        format!(
            "{PREFIX}{}.{}",
            URL_SAFE_NO_PAD.encode(&p),
            URL_SAFE_NO_PAD.encode(sig)
        )
    }

    /// Verifies signature, kind, expiry, device and service, in that order. Does not record
    /// use: call [`ReplaySet::consume`] afterwards for single-use kinds.
    pub fn verify(&self, token: &str, now: u64, expect: Expect<'_>) -> Result<Claims, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Malformed);
        }
        let rest = token.strip_prefix(PREFIX).ok_or(TokenError::Malformed)?;
        let (p64, s64) = rest.split_once('.').ok_or(TokenError::Malformed)?;
        let payload = URL_SAFE_NO_PAD
            .decode(p64)
            .map_err(|_| TokenError::Malformed)?;
        let sig = URL_SAFE_NO_PAD
            .decode(s64)
            .map_err(|_| TokenError::Malformed)?;
        if payload.len() < 37 || payload[0] != 1 || sig.len() != 32 {
            return Err(TokenError::Malformed);
        }
        let key_id = payload[2];
        let key = [Some(&self.current), self.previous.as_ref()]
            .into_iter()
            .flatten()
            .find(|k| k.id == key_id)
            .ok_or(TokenError::UnknownKey)?;
        if !bool::from(sign(&key.secret, &payload).ct_eq(&sig[..])) {
            return Err(TokenError::BadSignature);
        }
        let claims = parse_claims(&payload).ok_or(TokenError::Malformed)?;
        if claims.kind != expect.kind {
            return Err(TokenError::WrongKind);
        }
        if now >= claims.expires_at {
            return Err(TokenError::Expired);
        }
        if expect.serial.is_some_and(|s| s != claims.serial) {
            return Err(TokenError::WrongDevice);
        }
        if expect.service.is_some_and(|s| s != claims.service) {
            return Err(TokenError::WrongService);
        }
        Ok(claims)
    }
}

fn parse_claims(p: &[u8]) -> Option<Claims> {
    let kind = TokenKind::from_byte(p[1])?;
    let issued_at = u64::from_be_bytes(p[3..11].try_into().ok()?);
    let expires_at = u64::from_be_bytes(p[11..19].try_into().ok()?);
    let nonce: [u8; 16] = p[19..35].try_into().ok()?;
    let (serial, rest) = take_str(&p[35..])?;
    let (service, rest) = take_str(rest)?;
    if !rest.is_empty() {
        return None;
    }
    Some(Claims {
        kind,
        serial,
        service,
        issued_at,
        expires_at,
        nonce,
    })
}

fn take_str(b: &[u8]) -> Option<(String, &[u8])> {
    let (&len, rest) = b.split_first()?;
    let len = usize::from(len);
    if rest.len() < len {
        return None;
    }
    let s = std::str::from_utf8(&rest[..len]).ok()?.to_owned();
    Some((s, &rest[len..]))
}

/// The nonces of single-use tokens already accepted, until they expire. Bounded: when full of
/// unexpired entries it refuses new tokens ([`TokenError::ReplaySetFull`]) rather than forget
/// one and allow a replay. Size it as (tokens accepted per second) × (longest lifetime).
#[derive(Debug, Clone)]
pub struct ReplaySet {
    capacity: usize,
    seen: HashMap<[u8; 16], u64>,
}

impl ReplaySet {
    /// An empty set holding at most `capacity` nonces.
    pub fn new(capacity: usize) -> Self {
        ReplaySet {
            capacity,
            seen: HashMap::new(),
        }
    }

    /// Records the use of a verified token; refuses a second use.
    pub fn consume(&mut self, claims: &Claims, now: u64) -> Result<(), TokenError> {
        if let Some(&exp) = self.seen.get(&claims.nonce)
            && now < exp
        {
            return Err(TokenError::Replayed);
        }
        if self.seen.len() >= self.capacity {
            self.seen.retain(|_, exp| now < *exp);
            if self.seen.len() >= self.capacity {
                return Err(TokenError::ReplaySetFull);
            }
        }
        self.seen.insert(claims.nonce, claims.expires_at);
        Ok(())
    }

    /// Number of nonces held.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// True if nothing is held.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> TokenSigner {
        TokenSigner::new(TokenKey {
            id: 1,
            secret: [7; 32],
        })
    }

    fn expect<'a>(serial: &'a str, service: &'a str) -> Expect<'a> {
        Expect {
            kind: TokenKind::Subconnection,
            serial: Some(serial),
            service: Some(service),
        }
    }

    #[test]
    fn issued_token_verifies_with_its_claims() {
        let s = signer();
        let t = s.issue(
            TokenKind::Subconnection,
            "SN1",
            "terminal",
            100,
            60,
            [1; 16],
        );
        assert!(t.starts_with("ct1.") && t.len() < 200);
        let c = s.verify(&t, 159, expect("SN1", "terminal")).unwrap();
        assert_eq!(c.serial, "SN1");
        assert_eq!(c.service, "terminal");
        assert_eq!(c.expires_at, 160);
    }

    #[test]
    fn expired_token_is_rejected() {
        let s = signer();
        let t = s.issue(
            TokenKind::Subconnection,
            "SN1",
            "terminal",
            100,
            60,
            [1; 16],
        );
        assert_eq!(
            s.verify(&t, 160, expect("SN1", "terminal")),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn token_for_another_device_or_service_or_kind_is_rejected() {
        let s = signer();
        let t = s.issue(
            TokenKind::Subconnection,
            "SN1",
            "terminal",
            100,
            60,
            [1; 16],
        );
        assert_eq!(
            s.verify(&t, 101, expect("SN2", "terminal")),
            Err(TokenError::WrongDevice)
        );
        assert_eq!(
            s.verify(&t, 101, expect("SN1", "config")),
            Err(TokenError::WrongService)
        );
        let e = Expect {
            kind: TokenKind::Tunnel,
            serial: None,
            service: None,
        };
        assert_eq!(s.verify(&t, 101, e), Err(TokenError::WrongKind));
    }

    #[test]
    fn altered_or_foreign_token_has_bad_signature() {
        let s = signer();
        let t = s.issue(
            TokenKind::Subconnection,
            "SN1",
            "terminal",
            100,
            60,
            [1; 16],
        );
        let other = TokenSigner::new(TokenKey {
            id: 1,
            secret: [8; 32],
        });
        assert_eq!(
            other.verify(&t, 101, expect("SN1", "terminal")),
            Err(TokenError::BadSignature)
        );
        // Re-sign the payload of a token for SN1 with a flipped serial byte.
        let (p64, s64) = t[4..].split_once('.').unwrap();
        let mut p = URL_SAFE_NO_PAD.decode(p64).unwrap();
        let last_serial_byte = 35 + 3;
        p[last_serial_byte] = b'2';
        let forged = format!("ct1.{}.{s64}", URL_SAFE_NO_PAD.encode(&p));
        assert_eq!(
            s.verify(&forged, 101, expect("SN2", "terminal")),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn garbage_is_malformed() {
        let s = signer();
        for t in ["", "ct1.", "ct1.a.b", "xx1.AAAA.AAAA", &"a".repeat(600)] {
            assert_eq!(
                s.verify(t, 0, expect("SN1", "terminal")),
                Err(TokenError::Malformed)
            );
        }
    }

    #[test]
    fn rotation_keeps_previous_key_valid_and_drops_older() {
        let mut s = signer();
        let t1 = s.issue(TokenKind::Session, "SN1", "", 0, 60, [1; 16]);
        s.rotate(TokenKey {
            id: 2,
            secret: [9; 32],
        });
        let e = Expect {
            kind: TokenKind::Session,
            serial: Some("SN1"),
            service: None,
        };
        assert!(s.verify(&t1, 1, e).is_ok());
        s.rotate(TokenKey {
            id: 3,
            secret: [10; 32],
        });
        assert_eq!(s.verify(&t1, 1, e), Err(TokenError::UnknownKey));
    }

    #[test]
    fn replay_set_refuses_second_use_and_forgets_after_expiry() {
        let s = signer();
        let t = s.issue(TokenKind::Tunnel, "SN1", "", 100, 60, [3; 16]);
        let e = Expect {
            kind: TokenKind::Tunnel,
            serial: None,
            service: None,
        };
        let c = s.verify(&t, 101, e).unwrap();
        let mut r = ReplaySet::new(2);
        assert_eq!(r.consume(&c, 101), Ok(()));
        assert_eq!(r.consume(&c, 102), Err(TokenError::Replayed));
        assert_eq!(r.len(), 1);
    }

    #[test]
    fn full_replay_set_fails_closed_then_recovers_after_expiry() {
        let s = signer();
        let e = Expect {
            kind: TokenKind::Tunnel,
            serial: None,
            service: None,
        };
        let mut r = ReplaySet::new(1);
        let a = s
            .verify(&s.issue(TokenKind::Tunnel, "A", "", 0, 10, [1; 16]), 1, e)
            .unwrap();
        let b = s
            .verify(&s.issue(TokenKind::Tunnel, "B", "", 0, 10, [2; 16]), 1, e)
            .unwrap();
        r.consume(&a, 1).unwrap();
        assert_eq!(r.consume(&b, 2), Err(TokenError::ReplaySetFull));
        assert_eq!(r.consume(&b, 10), Ok(()));
    }
}
