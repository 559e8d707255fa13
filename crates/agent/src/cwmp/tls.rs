//! TLS towards the ACS and file servers (AUT-05): the one place the agent builds a rustls
//! client configuration.
//!
//! Owns [`client_config`]: TLS 1.2 and 1.3 with the ring provider, certificate chains checked
//! against either the CA file of `AgentConfig::acs_ca_file` (PEM, one or more certificates) or
//! the operating system's trust store (`rustls-native-certs`), and the host of the URL checked
//! as reference identity by rustls/webpki (subjectAltName DNS names or IP addresses). SNI is
//! sent for DNS names. No client certificate (AUT-06 is not implemented).
//!
//! Must not touch: sockets (see `http.rs`).

use std::path::Path;
use std::sync::Arc;

use rustls::{ClientConfig, RootCertStore};

/// Builds the client configuration (see the module docs).
pub fn client_config(ca_file: Option<&Path>) -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let pem = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
            let mut reader = std::io::BufReader::new(pem.as_slice());
            for cert in rustls_pemfile::certs(&mut reader) {
                let cert = cert.map_err(|e| format!("{}: {e}", path.display()))?;
                roots
                    .add(cert)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
            }
            if roots.is_empty() {
                return Err(format!("{}: no certificate found", path.display()));
            }
        }
        None => {
            let native = rustls_native_certs::load_native_certs();
            for err in &native.errors {
                tracing::warn!(error = %err, "system trust store entry skipped");
            }
            let (added, _ignored) = roots.add_parsable_certificates(native.certs);
            if added == 0 {
                tracing::warn!("no trusted root certificates found in the system trust store");
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_file_without_certificates_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not a certificate\n").unwrap();
        assert!(client_config(Some(&path)).is_err());
        assert!(client_config(Some(&dir.path().join("missing.pem"))).is_err());
    }
}
