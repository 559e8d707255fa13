//! Server side of steps 1-8: authentication, registration, admission of the tunnel and
//! subconnection upgrades, and the grant of subconnection URLs.
//!
//! Owns: which reply (and HTTP status) each request gets, token lifetimes, URL layout.
//! Must not touch: storage (the caller looks the device up and passes a [`DeviceRecord`]),
//! randomness (nonces are arguments), HTTP parsing.

use crate::auth::{self, DeviceKey};
use crate::message::{
    AuthChallenge, AuthFailure, AuthFailureReason, AuthMethod, AuthSuccess, DecodeError, Handshake,
    PROTOCOL_VERSION, RegisterFailure, RegisterFailureReason, RegisterRequest, RegisterResponse,
    ServiceUrl, Tunnel, limits,
};
use crate::token::{Claims, Expect, ReplaySet, TokenError, TokenKind, TokenSigner};

/// Path of the main tunnel upgrade.
pub const TUNNEL_PATH: &str = "/cloudlink/v1/tunnel";
/// Prefix of subconnection upgrades: `/cloudlink/v1/svc/{service}`.
pub const SERVICE_PATH_PREFIX: &str = "/cloudlink/v1/svc/";

/// Lifetimes and negotiated timers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeConfig {
    /// Base of the URLs handed out, e.g. `wss://cloud.example.com` (no trailing slash).
    pub public_base: String,
    /// Seconds a challenge is valid (30).
    pub challenge_ttl: u32,
    /// Seconds a session token is valid (300).
    pub session_ttl: u32,
    /// Seconds a tunnel URL is valid (60).
    pub tunnel_ttl: u32,
    /// Seconds a subconnection URL is valid (60).
    pub subconn_ttl: u32,
    /// Smallest keepalive interval accepted from a device, seconds (30).
    pub keepalive_min: u32,
    /// Largest keepalive interval accepted from a device, seconds (3600).
    pub keepalive_max: u32,
}

impl HandshakeConfig {
    /// Defaults for a public base URL.
    pub fn new(public_base: impl Into<String>) -> Self {
        HandshakeConfig {
            public_base: public_base.into(),
            challenge_ttl: 30,
            session_ttl: 300,
            tunnel_ttl: 60,
            subconn_ttl: 60,
            keepalive_min: 30,
            keepalive_max: 3600,
        }
    }

    /// The keepalive interval the server will use for a device that asked for `asked`.
    pub fn negotiate_keepalive(&self, asked: u32) -> u32 {
        if asked == 0 {
            180
        } else {
            asked.clamp(self.keepalive_min, self.keepalive_max)
        }
    }
}

/// What the store knows of a serial number that is in some account's inventory.
#[derive(Debug, Clone, Copy)]
pub struct DeviceRecord<'a> {
    /// The device key (derived from the password), if HMAC authentication is enabled.
    pub key: Option<&'a DeviceKey>,
    /// True if certificate authentication is enabled for the device.
    pub certificate_allowed: bool,
}

/// An HTTP reply: status and JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Body (`message::encode`).
    pub body: Handshake,
}

/// Who presents a tunnel or subconnection URL.
#[derive(Debug, Clone, Copy)]
pub struct Presenter<'a> {
    /// `Cloudlink-Serial` header.
    pub serial: &'a str,
    /// `Cloudlink-Proof` header.
    pub proof: Option<&'a str>,
    /// Serial named by a verified TLS client certificate, if any.
    pub cert_serial: Option<&'a str>,
}

/// Why an upgrade was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UpgradeError {
    /// The token failed verification or was already used.
    #[error("token refused: {0}")]
    Token(TokenError),
    /// The presenter could not prove it holds the device key or certificate.
    #[error("proof of possession failed")]
    BadProof,
    /// The serial is no longer in any inventory.
    #[error("unknown device")]
    UnknownDevice,
}

impl UpgradeError {
    /// HTTP status for the refused upgrade.
    pub fn status(self) -> u16 {
        match self {
            Self::Token(TokenError::Malformed) => 400,
            Self::Token(TokenError::ReplaySetFull) => 503,
            Self::Token(TokenError::WrongDevice) | Self::UnknownDevice => 403,
            Self::Token(_) | Self::BadProof => 401,
        }
    }
}

/// The server's handshake logic.
#[derive(Debug, Clone)]
pub struct Handshaker {
    cfg: HandshakeConfig,
    signer: TokenSigner,
}

fn auth_failure(status: u16, reason: AuthFailureReason, message: &str) -> Reply {
    Reply {
        status,
        body: Handshake::AuthFailure(AuthFailure {
            version: PROTOCOL_VERSION,
            reason,
            message: message.to_owned(),
            supported: if reason == AuthFailureReason::UnsupportedVersion {
                vec![PROTOCOL_VERSION]
            } else {
                Vec::new()
            },
            retry_after: None,
        }),
    }
}

fn register_failure(status: u16, reason: RegisterFailureReason) -> Reply {
    Reply {
        status,
        body: Handshake::RegisterFailure(RegisterFailure {
            version: PROTOCOL_VERSION,
            reason,
            message: reason.text().to_owned(),
            retry_after: None,
        }),
    }
}

impl Handshaker {
    /// A handshaker signing with `signer`.
    pub fn new(cfg: HandshakeConfig, signer: TokenSigner) -> Self {
        Handshaker { cfg, signer }
    }

    /// The configuration.
    pub fn config(&self) -> &HandshakeConfig {
        &self.cfg
    }

    /// The reply to a body that did not decode.
    pub fn bad_request(e: &DecodeError) -> Reply {
        let status = if matches!(e, DecodeError::TooLarge { .. }) {
            413
        } else {
            400
        };
        auth_failure(status, AuthFailureReason::BadRequest, &e.to_string())
    }

    /// Steps 1-2: answers an `auth_request` (challenge, or success for certificate devices)
    /// or an `auth_proof` (success or failure). `record` is `None` for a serial that is in no
    /// inventory; `cert_serial` is the serial named by a verified TLS client certificate.
    pub fn auth(
        &self,
        now: u64,
        req: &Handshake,
        record: Option<DeviceRecord<'_>>,
        cert_serial: Option<&str>,
        nonce: [u8; 16],
        replay: &mut ReplaySet,
    ) -> Reply {
        let (version, serial) = match req {
            Handshake::AuthRequest(r) => (r.version, r.serial.as_str()),
            Handshake::AuthProof(p) => (p.version, p.serial.as_str()),
            _ => return auth_failure(400, AuthFailureReason::BadRequest, "not an auth message"),
        };
        if version != PROTOCOL_VERSION {
            return auth_failure(400, AuthFailureReason::UnsupportedVersion, "use version 1");
        }
        let Some(record) = record else {
            return auth_failure(403, AuthFailureReason::UnknownSerial, "serial not added");
        };
        match req {
            Handshake::AuthRequest(r) => match r.method {
                AuthMethod::Certificate if !record.certificate_allowed => {
                    auth_failure(403, AuthFailureReason::UnsupportedMethod, "certificate")
                }
                AuthMethod::Certificate if cert_serial != Some(serial) => auth_failure(
                    401,
                    AuthFailureReason::CertificateMismatch,
                    "client certificate",
                ),
                AuthMethod::Certificate => self.success(now, serial, nonce),
                AuthMethod::HmacSha256 if record.key.is_none() => {
                    auth_failure(403, AuthFailureReason::UnsupportedMethod, "hmac-sha256")
                }
                AuthMethod::HmacSha256 => {
                    let ttl = self.cfg.challenge_ttl;
                    let token = self.signer.issue(
                        TokenKind::Challenge,
                        serial,
                        "",
                        now,
                        u64::from(ttl),
                        nonce,
                    );
                    Reply {
                        status: 200,
                        body: Handshake::AuthChallenge(AuthChallenge {
                            version: PROTOCOL_VERSION,
                            nonce: token,
                            ts: now,
                            expires_in: ttl,
                        }),
                    }
                }
            },
            Handshake::AuthProof(p) => {
                let Some(key) = record.key else {
                    return auth_failure(403, AuthFailureReason::UnsupportedMethod, "hmac-sha256");
                };
                let expect = Expect {
                    kind: TokenKind::Challenge,
                    serial: Some(serial),
                    service: None,
                };
                let claims = match self.signer.verify(&p.nonce, now, expect) {
                    Ok(c) if c.issued_at == p.ts => c,
                    Err(TokenError::Expired) => {
                        return auth_failure(401, AuthFailureReason::ChallengeExpired, "expired");
                    }
                    _ => return auth_failure(401, AuthFailureReason::ChallengeInvalid, "invalid"),
                };
                if !auth::verify_auth_proof(key, &p.nonce, serial, p.ts, &p.proof) {
                    return auth_failure(401, AuthFailureReason::BadProof, "wrong secret");
                }
                if replay.consume(&claims, now).is_err() {
                    return auth_failure(401, AuthFailureReason::ChallengeInvalid, "used");
                }
                self.success(now, serial, nonce)
            }
            _ => auth_failure(400, AuthFailureReason::BadRequest, "not an auth message"),
        }
    }

    fn success(&self, now: u64, serial: &str, nonce: [u8; 16]) -> Reply {
        let ttl = self.cfg.session_ttl;
        Reply {
            status: 200,
            body: Handshake::AuthSuccess(AuthSuccess {
                version: PROTOCOL_VERSION,
                session: self.signer.issue(
                    TokenKind::Session,
                    serial,
                    "",
                    now,
                    u64::from(ttl),
                    nonce,
                ),
                expires_in: ttl,
            }),
        }
    }

    /// Steps 3-4: answers a `register_request` carrying `bearer` (the session token).
    /// `known` is false if the serial left every inventory since authenticating.
    pub fn register(
        &self,
        now: u64,
        bearer: Option<&str>,
        req: &RegisterRequest,
        known: bool,
        nonce: [u8; 16],
    ) -> Reply {
        if req.version != PROTOCOL_VERSION {
            return register_failure(400, RegisterFailureReason::UnsupportedVersion);
        }
        let expect = Expect {
            kind: TokenKind::Session,
            serial: Some(&req.serial),
            service: None,
        };
        match bearer.map(|b| self.signer.verify(b, now, expect)) {
            Some(Ok(_)) => {}
            Some(Err(TokenError::WrongDevice)) => {
                return register_failure(403, RegisterFailureReason::WrongDevice);
            }
            _ => return register_failure(401, RegisterFailureReason::SessionInvalid),
        }
        if !known {
            return register_failure(403, RegisterFailureReason::UnknownSerial);
        }
        let ttl = self.cfg.tunnel_ttl;
        // The negotiated keepalive rides in the tunnel token, so any node can admit it.
        let scope = format!("ka={}", self.cfg.negotiate_keepalive(req.keepalive));
        let token = self.signer.issue(
            TokenKind::Tunnel,
            &req.serial,
            &scope,
            now,
            u64::from(ttl),
            nonce,
        );
        Reply {
            status: 200,
            body: Handshake::RegisterResponse(RegisterResponse {
                version: PROTOCOL_VERSION,
                tunnel_url: format!("{}{TUNNEL_PATH}?token={token}", self.cfg.public_base),
                expires_in: ttl,
            }),
        }
    }

    /// Steps 5-6: admits (or refuses) the main tunnel upgrade. `key` is the device key of
    /// `presenter.serial` (`None` for certificate devices or unknown serials).
    pub fn admit_tunnel(
        &self,
        now: u64,
        token: &str,
        presenter: Presenter<'_>,
        key: Option<&DeviceKey>,
        replay: &mut ReplaySet,
    ) -> Result<Claims, UpgradeError> {
        self.admit(now, TokenKind::Tunnel, None, token, presenter, key, replay)
    }

    /// Step 11: admits (or refuses) a subconnection upgrade for `service`.
    pub fn admit_subconnection(
        &self,
        now: u64,
        service: &str,
        token: &str,
        presenter: Presenter<'_>,
        key: Option<&DeviceKey>,
        replay: &mut ReplaySet,
    ) -> Result<Claims, UpgradeError> {
        self.admit(
            now,
            TokenKind::Subconnection,
            Some(service),
            token,
            presenter,
            key,
            replay,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn admit(
        &self,
        now: u64,
        kind: TokenKind,
        service: Option<&str>,
        token: &str,
        presenter: Presenter<'_>,
        key: Option<&DeviceKey>,
        replay: &mut ReplaySet,
    ) -> Result<Claims, UpgradeError> {
        let expect = Expect {
            kind,
            serial: Some(presenter.serial),
            service,
        };
        let claims = self
            .signer
            .verify(token, now, expect)
            .map_err(UpgradeError::Token)?;
        let proven = match (key, presenter.proof) {
            (Some(k), Some(p)) => auth::verify_url_proof(k, token, p),
            _ => presenter.cert_serial == Some(presenter.serial),
        };
        if !proven {
            return Err(UpgradeError::BadProof);
        }
        replay.consume(&claims, now).map_err(UpgradeError::Token)?;
        Ok(claims)
    }

    /// Step 8: the `subconn_response` for request `id`: one single-use URL per granted service.
    /// `offered` is the server's microservice catalogue; an empty request means all of it.
    pub fn grant(
        &self,
        now: u64,
        serial: &str,
        id: u32,
        requested: &[String],
        offered: &[&str],
        nonce: &mut dyn FnMut() -> [u8; 16],
    ) -> Tunnel {
        let ttl = self.cfg.subconn_ttl;
        let wanted: Vec<&str> = if requested.is_empty() {
            offered.to_vec()
        } else {
            requested.iter().map(String::as_str).collect()
        };
        let mut services = Vec::new();
        let mut unavailable = Vec::new();
        for name in wanted.into_iter().take(limits::MAX_SERVICES) {
            if offered.contains(&name) {
                let token = self.signer.issue(
                    TokenKind::Subconnection,
                    serial,
                    name,
                    now,
                    u64::from(ttl),
                    nonce(),
                );
                services.push(ServiceUrl {
                    name: name.to_owned(),
                    url: format!(
                        "{}{SERVICE_PATH_PREFIX}{name}?token={token}",
                        self.cfg.public_base
                    ),
                    expires_in: ttl,
                });
            } else {
                unavailable.push(name.to_owned());
            }
        }
        Tunnel::SubconnResponse {
            id,
            services,
            unavailable,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{AuthProof, AuthRequest};
    use crate::token::TokenKey;

    fn hs() -> Handshaker {
        Handshaker::new(
            HandshakeConfig::new("wss://cloud.com"),
            TokenSigner::new(TokenKey {
                id: 1,
                secret: [5; 32],
            }),
        )
    }

    fn request(serial: &str) -> Handshake {
        Handshake::AuthRequest(AuthRequest {
            version: 1,
            serial: serial.into(),
            method: AuthMethod::HmacSha256,
            model: None,
            software: None,
        })
    }

    fn challenge(h: &Handshaker, key: &DeviceKey, r: &mut ReplaySet) -> AuthChallenge {
        let rec = DeviceRecord {
            key: Some(key),
            certificate_allowed: false,
        };
        match h
            .auth(100, &request("SN1"), Some(rec), None, [1; 16], r)
            .body
        {
            Handshake::AuthChallenge(c) => c,
            other => panic!("{other:?}"),
        }
    }

    fn proof(c: &AuthChallenge, key: &DeviceKey) -> Handshake {
        Handshake::AuthProof(AuthProof {
            version: 1,
            serial: "SN1".into(),
            nonce: c.nonce.clone(),
            ts: c.ts,
            proof: auth::auth_proof(key, &c.nonce, "SN1", c.ts),
        })
    }

    #[test]
    fn unknown_serial_fails_with_reason() {
        let r = hs().auth(
            0,
            &request("SN9"),
            None,
            None,
            [0; 16],
            &mut ReplaySet::new(8),
        );
        assert_eq!(r.status, 403);
        assert!(
            matches!(r.body, Handshake::AuthFailure(f) if f.reason == AuthFailureReason::UnknownSerial)
        );
    }

    #[test]
    fn proof_with_the_right_key_succeeds_once() {
        let h = hs();
        let key = DeviceKey::derive("pw", "SN1");
        let mut r = ReplaySet::new(8);
        let c = challenge(&h, &key, &mut r);
        let rec = DeviceRecord {
            key: Some(&key),
            certificate_allowed: false,
        };
        let p = proof(&c, &key);
        let ok = h.auth(101, &p, Some(rec), None, [2; 16], &mut r);
        assert!(matches!(ok.body, Handshake::AuthSuccess(_)));
        let again = h.auth(102, &p, Some(rec), None, [3; 16], &mut r);
        assert!(
            matches!(again.body, Handshake::AuthFailure(f) if f.reason == AuthFailureReason::ChallengeInvalid)
        );
    }

    #[test]
    fn wrong_secret_and_late_proof_fail_with_their_reasons() {
        let h = hs();
        let key = DeviceKey::derive("pw", "SN1");
        let mut r = ReplaySet::new(8);
        let c = challenge(&h, &key, &mut r);
        let rec = DeviceRecord {
            key: Some(&key),
            certificate_allowed: false,
        };
        let wrong = proof(&c, &DeviceKey::derive("nope", "SN1"));
        let f = h.auth(101, &wrong, Some(rec), None, [2; 16], &mut r);
        assert!(
            matches!(f.body, Handshake::AuthFailure(f) if f.reason == AuthFailureReason::BadProof)
        );
        let late = h.auth(130, &proof(&c, &key), Some(rec), None, [2; 16], &mut r);
        assert!(
            matches!(late.body, Handshake::AuthFailure(f) if f.reason == AuthFailureReason::ChallengeExpired)
        );
    }

    #[test]
    fn unsupported_version_lists_supported_versions() {
        let mut req = request("SN1");
        if let Handshake::AuthRequest(r) = &mut req {
            r.version = 9;
        }
        let r = hs().auth(0, &req, None, None, [0; 16], &mut ReplaySet::new(1));
        assert!(matches!(r.body, Handshake::AuthFailure(f) if f.supported == vec![1]));
    }

    #[test]
    fn certificate_auth_needs_a_matching_client_certificate() {
        let h = hs();
        let rec = DeviceRecord {
            key: None,
            certificate_allowed: true,
        };
        let req = Handshake::AuthRequest(AuthRequest {
            version: 1,
            serial: "SN1".into(),
            method: AuthMethod::Certificate,
            model: None,
            software: None,
        });
        let mut r = ReplaySet::new(1);
        let bad = h.auth(0, &req, Some(rec), Some("SN2"), [0; 16], &mut r);
        assert!(
            matches!(bad.body, Handshake::AuthFailure(f) if f.reason == AuthFailureReason::CertificateMismatch)
        );
        let ok = h.auth(0, &req, Some(rec), Some("SN1"), [0; 16], &mut r);
        assert!(matches!(ok.body, Handshake::AuthSuccess(_)));
    }

    #[test]
    fn register_requires_a_session_for_the_same_serial() {
        let h = hs();
        let req = RegisterRequest {
            version: 1,
            serial: "SN1".into(),
            keepalive: 180,
            services: vec![],
        };
        let r = h.register(0, None, &req, true, [0; 16]);
        assert!(
            matches!(r.body, Handshake::RegisterFailure(f) if f.reason == RegisterFailureReason::SessionInvalid)
        );
        let Handshake::AuthSuccess(s) = h.success(0, "SN2", [1; 16]).body else {
            panic!()
        };
        let r = h.register(1, Some(&s.session), &req, true, [0; 16]);
        assert!(
            matches!(r.body, Handshake::RegisterFailure(f) if f.reason == RegisterFailureReason::WrongDevice)
        );
        let Handshake::AuthSuccess(s) = h.success(0, "SN1", [1; 16]).body else {
            panic!()
        };
        let r = h.register(1, Some(&s.session), &req, true, [0; 16]);
        assert!(matches!(r.body, Handshake::RegisterResponse(x)
            if x.tunnel_url.starts_with("wss://cloud.com/cloudlink/v1/tunnel?token=ct1.")));
    }

    #[test]
    fn grant_lists_unavailable_services() {
        let mut n = 0u8;
        let mut next = || {
            n += 1;
            [n; 16]
        };
        let t = hs().grant(
            0,
            "SN1",
            7,
            &["terminal".into(), "video".into()],
            &["terminal", "config"],
            &mut next,
        );
        let Tunnel::SubconnResponse {
            id,
            services,
            unavailable,
        } = t
        else {
            panic!()
        };
        assert_eq!(id, 7);
        assert_eq!(services.len(), 1);
        assert!(
            services[0]
                .url
                .starts_with("wss://cloud.com/cloudlink/v1/svc/terminal?token=")
        );
        assert_eq!(unavailable, vec!["video".to_string()]);
    }

    #[test]
    fn keepalive_is_clamped() {
        let c = HandshakeConfig::new("wss://x");
        assert_eq!(c.negotiate_keepalive(0), 180);
        assert_eq!(c.negotiate_keepalive(5), 30);
        assert_eq!(c.negotiate_keepalive(99_999), 3600);
    }
}
