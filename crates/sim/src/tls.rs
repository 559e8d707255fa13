//! TLS for the simulator: the client configuration every simulated connection shares (one
//! `Arc`, trust from a PEM file, session resumption on or off), and the self-signed ECDSA
//! P-256 identity of the ceiling server. All with rustls' ring provider, like the server.
//!
//! Must not touch: sockets.

use std::path::Path;
use std::sync::Arc;

use rustls::client::Resumption;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::SimError;

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A client configuration trusting the certificates in the PEM file `ca`. With `resume`
/// false every connection makes a full handshake (no tickets, no session IDs).
pub fn client_config(ca: &Path, resume: bool) -> Result<Arc<ClientConfig>, SimError> {
    let mut roots = RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(ca)
        .map_err(|e| SimError::Tls(format!("{}: {e}", ca.display())))?;
    for cert in certs {
        let cert = cert.map_err(|e| SimError::Tls(format!("{}: {e}", ca.display())))?;
        roots
            .add(cert)
            .map_err(|e| SimError::Tls(format!("{}: {e}", ca.display())))?;
    }
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| SimError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    if !resume {
        config.resumption = Resumption::disabled();
    }
    Ok(Arc::new(config))
}

/// A self-signed ECDSA P-256 certificate for `localhost` and `127.0.0.1`: the PEM of the
/// certificate (for clients to trust) and a server configuration using it.
pub fn self_signed_server() -> Result<(String, Arc<ServerConfig>), SimError> {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .map_err(|e| SimError::Tls(e.to_string()))?;
    let params = rcgen::CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()])
        .map_err(|e| SimError::Tls(e.to_string()))?;
    let cert = params
        .self_signed(&key)
        .map_err(|e| SimError::Tls(e.to_string()))?;
    let pem = cert.pem();
    let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| SimError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], der)
        .map_err(|e| SimError::Tls(e.to_string()))?;
    Ok((pem, Arc::new(config)))
}
