//! TLS for the cloud connection: the one place where the client's rustls configuration is
//! built (protocol §2.2).
//!
//! Owns [`client_config`]: trust anchors from the system store, from a CA file, or a pinned
//! SHA-256 fingerprint of the server's SubjectPublicKeyInfo ([`PinVerifier`]); and the
//! device's TLS session store, small and its own ([`with_own_sessions`] for a configuration
//! shared between simulated devices), so a device resumes only sessions it made. Must not
//! touch: sockets (see `net.rs`), what is sent over them.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use base64::Engine as _;
use rustls::client::Resumption;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    ClientConfig, ConfigBuilder, DigitallySignedStruct, RootCertStore, SignatureScheme,
    WantsVerifier,
};
use sha2::{Digest, Sha256};

use crate::config::{CloudClientConfig, CloudTrustMode};

/// Most pins accepted (current and next keys, with room to spare).
pub const MAX_PINS: usize = 4;

/// Size of a device's TLS session store, in rustls' unit: eight TLS 1.3 tickets per server
/// name, so 16 remembers two names (the handshake's domain and the tunnel URL's host, which
/// may differ). A device talks to one server; rustls' default (256) is sized for browsers.
pub const DEVICE_TLS_SESSIONS: usize = 16;

/// A device's own session store.
fn device_sessions() -> Resumption {
    Resumption::in_memory_sessions(DEVICE_TLS_SESSIONS)
}

/// `shared` (trust, verifier, protocol versions) with a session store of its own: what one
/// device of many built on one configuration uses, so that it resumes only the sessions of
/// its own earlier handshakes, as a real device would.
pub fn with_own_sessions(shared: &ClientConfig) -> Arc<ClientConfig> {
    let mut config = shared.clone();
    config.resumption = device_sessions();
    Arc::new(config)
}

/// Why the TLS configuration could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsSetupError {
    /// The CA file could not be read or held no certificate.
    #[error("cloud CA file {0}: {1}")]
    CaFile(String, String),
    /// A pin is neither 64 hex digits nor base64 of 32 bytes.
    #[error("cloud pin {0:?} is not a SHA-256 fingerprint (hex or base64)")]
    BadPin(String),
    /// No usable pin, or too many.
    #[error("cloud trust mode `pin` needs 1 to {MAX_PINS} pins")]
    PinCount,
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Rustls(String),
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The rustls client configuration for `cfg`'s trust mode.
pub fn client_config(cfg: &CloudClientConfig) -> Result<Arc<ClientConfig>, TlsSetupError> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsSetupError::Rustls(e.to_string()))?;
    let mut config = match cfg.trust {
        CloudTrustMode::System => builder
            .with_root_certificates(system_roots())
            .with_no_client_auth(),
        CloudTrustMode::CaFile => {
            let path = cfg.ca_file.as_deref().unwrap_or(Path::new(""));
            builder
                .with_root_certificates(roots_from_file(path)?)
                .with_no_client_auth()
        }
        CloudTrustMode::Pin => {
            let pins = parse_pins(&cfg.pins)?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(PinVerifier::new(pins)))
                .with_no_client_auth()
        }
    };
    config.resumption = device_sessions();
    Ok(Arc::new(config))
}

/// The client configuration as a [`Link`](super::Link) holds it: ready at once for a CA file
/// or pins (so a bad file or pin is reported at start), but for the system trust store only
/// on the first connection. Parsing the store costs ~300 KiB of heap, which an agent without
/// a configured cloud server would otherwise keep for nothing.
pub struct LazyConfig(Lazy);

enum Lazy {
    Ready(Arc<ClientConfig>),
    System {
        builder: ConfigBuilder<ClientConfig, WantsVerifier>,
        built: OnceLock<Arc<ClientConfig>>,
    },
}

impl fmt::Debug for LazyConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let built = match &self.0 {
            Lazy::Ready(_) => true,
            Lazy::System { built, .. } => built.get().is_some(),
        };
        f.debug_struct("LazyConfig")
            .field("built", &built)
            .finish_non_exhaustive()
    }
}

impl LazyConfig {
    /// For `cfg`'s trust mode; errors as [`client_config`]'s.
    pub fn new(cfg: &CloudClientConfig) -> Result<LazyConfig, TlsSetupError> {
        if cfg.trust != CloudTrustMode::System {
            return client_config(cfg).map(LazyConfig::from);
        }
        let builder = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsSetupError::Rustls(e.to_string()))?;
        Ok(LazyConfig(Lazy::System {
            builder,
            built: OnceLock::new(),
        }))
    }

    /// The configuration, built now if it was not yet.
    pub fn get(&self) -> Arc<ClientConfig> {
        match &self.0 {
            Lazy::Ready(config) => Arc::clone(config),
            Lazy::System { builder, built } => Arc::clone(built.get_or_init(|| {
                let mut config = builder
                    .clone()
                    .with_root_certificates(system_roots())
                    .with_no_client_auth();
                config.resumption = device_sessions();
                Arc::new(config)
            })),
        }
    }
}

impl From<Arc<ClientConfig>> for LazyConfig {
    fn from(config: Arc<ClientConfig>) -> LazyConfig {
        LazyConfig(Lazy::Ready(config))
    }
}

/// The host's roots, or the bundled Mozilla roots if the host has none.
fn system_roots() -> RootCertStore {
    let mut roots = RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    for e in &found.errors {
        tracing::debug!(error = %e, "skipping part of the system certificate store");
    }
    let (added, _) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        tracing::info!("no system root certificates found; using the bundled Mozilla roots");
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    roots
}

fn roots_from_file(path: &Path) -> Result<RootCertStore, TlsSetupError> {
    let err = |m: String| TlsSetupError::CaFile(path.display().to_string(), m);
    let pem = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    let mut roots = RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
        let cert = cert.map_err(|e| err(e.to_string()))?;
        roots.add(cert).map_err(|e| err(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(err("no certificate in the file".into()));
    }
    Ok(roots)
}

/// Parses pins: 64 hex digits (colons and spaces ignored) or base64 of 32 bytes.
pub fn parse_pins(pins: &[String]) -> Result<Vec<[u8; 32]>, TlsSetupError> {
    if pins.is_empty() || pins.len() > MAX_PINS {
        return Err(TlsSetupError::PinCount);
    }
    pins.iter()
        .map(|p| parse_pin(p).ok_or_else(|| TlsSetupError::BadPin(p.clone())))
        .collect()
}

fn parse_pin(text: &str) -> Option<[u8; 32]> {
    let compact: String = text.chars().filter(|c| !matches!(c, ':' | ' ')).collect();
    let bytes = if compact.len() == 64 && compact.bytes().all(|b| b.is_ascii_hexdigit()) {
        hex::decode(&compact).ok()?
    } else {
        let b64 = compact.trim_start_matches("sha256/");
        base64::engine::general_purpose::STANDARD.decode(b64).ok()?
    };
    bytes.try_into().ok()
}

/// SHA-256 of a certificate's SubjectPublicKeyInfo (DER, outer SEQUENCE included): the value
/// an operator pins, as `openssl x509 -pubkey | openssl pkey -pubin -outform der | sha256sum`
/// prints it.
pub fn spki_sha256(cert: &CertificateDer<'_>) -> Option<[u8; 32]> {
    let parsed = webpki::EndEntityCert::try_from(cert).ok()?;
    let spki = parsed.subject_public_key_info();
    Some(Sha256::digest(spki.as_ref()).into())
}

/// Accepts a server whose leaf certificate's SPKI hash is one of the pins. Chain, host name
/// and validity period are not checked (the pin is the identity, §2.2); the handshake
/// signature is, so the server must hold the pinned key.
pub struct PinVerifier {
    pins: Vec<[u8; 32]>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl fmt::Debug for PinVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PinVerifier")
            .field("pins", &self.pins.len())
            .finish_non_exhaustive()
    }
}

impl PinVerifier {
    /// A verifier for these fingerprints.
    pub fn new(pins: Vec<[u8; 32]>) -> PinVerifier {
        PinVerifier {
            pins,
            algorithms: provider().signature_verification_algorithms,
        }
    }
}

impl ServerCertVerifier for PinVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(hash) = spki_sha256(end_entity) else {
            return Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::BadEncoding,
            ));
        };
        // Constant-time enough for a public value; compare all pins anyway.
        let matched = self
            .pins
            .iter()
            .fold(false, |acc, pin| acc | (pin == &hash));
        if matched {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_parse_from_hex_with_colons_and_from_base64() {
        let raw = [0xabu8; 32];
        let hex_pin = hex::encode(raw);
        let colons: Vec<String> = raw.iter().map(|b| format!("{b:02X}")).collect();
        let b64 = base64::engine::general_purpose::STANDARD.encode(raw);
        let pins = parse_pins(&[hex_pin, colons.join(":"), format!("sha256/{b64}")]).unwrap();
        assert!(pins.iter().all(|p| *p == raw));
        assert_eq!(
            parse_pins(&["abcd".into()]),
            Err(TlsSetupError::BadPin("abcd".into()))
        );
        assert_eq!(parse_pins(&[]), Err(TlsSetupError::PinCount));
    }

    #[test]
    fn system_trust_is_loaded_on_first_use_and_kept() {
        let lazy = LazyConfig::new(&CloudClientConfig::default()).unwrap();
        assert!(format!("{lazy:?}").contains("built: false"));
        let first = lazy.get();
        assert!(format!("{lazy:?}").contains("built: true"));
        assert!(Arc::ptr_eq(&first, &lazy.get()));
    }

    #[test]
    fn verifier_refuses_a_certificate_that_does_not_parse() {
        let v = PinVerifier::new(vec![[0; 32]]);
        let name = ServerName::try_from("cloud.test").unwrap();
        let bogus = CertificateDer::from(vec![1, 2, 3]);
        assert!(
            v.verify_server_cert(&bogus, &[], &name, &[], UnixTime::now())
                .is_err()
        );
    }
}
