//! TLS for the server's listeners: a rustls server configuration from PEM files, or from a
//! self-signed ECDSA P-256 certificate generated on first start and kept in
//! `<data_dir>/tls/` (`self-signed-cert.pem`, and `self-signed-key.pem` with mode 0600), so
//! clients that pinned it keep working across restarts.
//!
//! All TLS configuration is built here (ring provider) and nowhere else.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig as RustlsConfig;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::config::{TlsConfig, TlsMode, tls_dir};

/// File name of the generated certificate inside `<data_dir>/tls/`.
pub const SELF_SIGNED_CERT: &str = "self-signed-cert.pem";
/// File name of the generated private key inside `<data_dir>/tls/`.
pub const SELF_SIGNED_KEY: &str = "self-signed-key.pem";

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("TLS: cannot read {path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error("TLS: cannot write {path}: {message}")]
    Write { path: PathBuf, message: String },
    #[error("TLS: {0}")]
    Invalid(String),
}

/// The acceptor for a listener, or `None` when its TLS mode is `off`.
pub fn acceptor(config: &TlsConfig, data_dir: &Path) -> Result<Option<TlsAcceptor>, TlsError> {
    let (certs, key) = match config.mode {
        TlsMode::Off => return Ok(None),
        TlsMode::Files => {
            let (Some(cert), Some(key)) = (&config.cert, &config.key) else {
                return Err(TlsError::Invalid(
                    "mode \"files\" needs cert and key".into(),
                ));
            };
            (read_certs(cert)?, read_key(key)?)
        }
        TlsMode::SelfSigned => {
            let (cert, key) = ensure_self_signed(data_dir, &config.self_signed_names)?;
            (read_certs(&cert)?, read_key(&key)?)
        }
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut server = RustlsConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Invalid(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| TlsError::Invalid(format!("certificate and key do not fit: {e}")))?;
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    // Stateless session tickets (keys rotated by rustls): a device's later connections resume
    // instead of verifying the certificate again, and the server keeps nothing per session
    // however large the fleet (the default cache holds 256 sessions, far fewer than devices).
    server.ticketer = rustls::crypto::ring::Ticketer::new()
        .map_err(|e| TlsError::Invalid(format!("session tickets: {e}")))?;
    Ok(Some(TlsAcceptor::from(Arc::new(server))))
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let read_err = |message: String| TlsError::Read {
        path: path.to_owned(),
        message,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| read_err(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| read_err(e.to_string()))?;
    if certs.is_empty() {
        return Err(read_err("no certificate in the file".into()));
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| TlsError::Read {
        path: path.to_owned(),
        message: e.to_string(),
    })
}

/// Returns the paths of the kept self-signed certificate and key, generating them first if
/// either is missing. Names are `localhost`, `127.0.0.1`, `::1` and `extra_names`.
pub fn ensure_self_signed(
    data_dir: &Path,
    extra_names: &[String],
) -> Result<(PathBuf, PathBuf), TlsError> {
    let dir = tls_dir(data_dir);
    let cert_path = dir.join(SELF_SIGNED_CERT);
    let key_path = dir.join(SELF_SIGNED_KEY);
    if cert_path.is_file() && key_path.is_file() {
        return Ok((cert_path, key_path));
    }
    let write_err = |path: &Path, e: std::io::Error| TlsError::Write {
        path: path.to_owned(),
        message: e.to_string(),
    };
    fs::create_dir_all(&dir).map_err(|e| write_err(&dir, e))?;
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).map_err(|e| write_err(&dir, e))?;

    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    names.extend(extra_names.iter().cloned());
    let generated = rcgen::generate_simple_self_signed(names)
        .map_err(|e| TlsError::Invalid(format!("cannot generate a certificate: {e}")))?;

    // Key first, then certificate, each written to a temporary file and renamed into place, so
    // a crash never leaves a certificate without its key.
    write_atomically(
        &key_path,
        generated.signing_key.serialize_pem().as_bytes(),
        0o600,
    )
    .map_err(|e| write_err(&key_path, e))?;
    write_atomically(&cert_path, generated.cert.pem().as_bytes(), 0o644)
        .map_err(|e| write_err(&cert_path, e))?;
    tracing::info!(cert = %cert_path.display(), "generated a self-signed TLS certificate");
    Ok((cert_path, key_path))
}

fn write_atomically(path: &Path, contents: &[u8], mode: u32) -> std::io::Result<()> {
    let tmp = path.with_extension("pem.tmp");
    let _ = fs::remove_file(&tmp);
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)?;
    file.write_all(contents)?;
    file.sync_all()?;
    drop(file);
    fs::rename(&tmp, path)
}
