//! File transfers the ACS asked for (Download, ScheduleDownload, Upload; RPC-17..21).
//!
//! Owns [`run`]: one queued [`TransferJob`] carried out over HTTP or HTTPS with Basic or Digest
//! authentication (the `Username`/`Password` of the RPC), and the [`TransferComplete`] that
//! reports it. Downloads:
//!
//! * stream to `downloads/<n>.part` in the state directory (mode 0600), at most
//!   [`MAX_DOWNLOAD_BYTES`], or `FileSize` when it is given;
//! * check `FileSize` (when non-zero) and, when the URL carries a `#sha256=<hex>` fragment (the
//!   fragment is never sent to the server), the SHA-256 of the file; a mismatch is 9018;
//! * apply the file through `download_hook`, run as `/bin/sh -c "$hook" tether-download FILE
//!   FILETYPE` (so `$1` is the path and `$2` the TR-069 FileType) with the same two values in
//!   `$TETHER_DOWNLOAD_FILE` / `$TETHER_DOWNLOAD_TYPE` and the TargetFileName in
//!   `$TETHER_DOWNLOAD_TARGET`; exit status 0 is success, anything else 9010; the file is
//!   removed afterwards;
//! * a ScheduleDownload not finished by the end of its last window reports 9020.
//!
//! Uploads send the running configuration or the driver log (see `rpc.rs`) with `PUT`.
//! Fault codes of the TransferComplete: 9012 the file server refused the credentials, 9015 the
//! server could not be reached, 9016 it answered with an error status, 9010 / 9011 other
//! download / upload failures.
//!
//! Must not touch: the event queue (the driver records the outcome).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Method, StatusCode, header::CONTENT_TYPE};
use http_body_util::BodyExt;
use sha2::{Digest, Sha256};
use tether_cwmp::DateTime;
use tether_cwmp::fault::FaultCode;
use tether_cwmp::rpc::{TransferComplete, TransferFault};
use tokio::io::AsyncWriteExt;

use super::http::{HttpClient, HttpError, Outgoing, TlsContext};
use super::log::LogRing;
use super::state::{TransferJob, TransferKind};
use crate::context::{AgentContext, now_unix};

/// Largest file a Download accepts.
pub const MAX_DOWNLOAD_BYTES: u64 = 256 * 1024 * 1024;
/// How long one transfer may take in all.
pub const TRANSFER_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// How long to wait for a file server to answer.
const RESPONSE_WAIT: Duration = Duration::from_secs(60);

/// Where an upload's content comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadSource {
    /// The running configuration (`running.cfg` text).
    Configuration,
    /// The driver's log.
    Log,
}

/// The content of an Upload FileType, or `None` if unsupported.
pub fn upload_source(file_type: &str) -> Option<UploadSource> {
    if file_type == "1 Vendor Configuration File"
        || file_type.starts_with("3 Vendor Configuration File")
    {
        Some(UploadSource::Configuration)
    } else if file_type == "2 Vendor Log File" || file_type.starts_with("4 Vendor Log File") {
        Some(UploadSource::Log)
    } else {
        None
    }
}

/// Splits a `#sha256=<hex>` fragment off a URL: the URL to fetch and the expected digest.
pub fn split_checksum(url: &str) -> (&str, Option<Vec<u8>>) {
    match url.split_once('#') {
        None => (url, None),
        Some((base, fragment)) => {
            let digest = fragment
                .strip_prefix("sha256=")
                .and_then(decode_hex)
                .filter(|d| d.len() == 32);
            (base, digest)
        }
    }
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

struct Failure(FaultCode, String);

fn failure(code: FaultCode, text: impl Into<String>) -> Failure {
    Failure(code, text.into())
}

fn transport(e: &HttpError, upload: bool) -> Failure {
    match e {
        HttpError::Connect(_) | HttpError::Tls(_) => failure(FaultCode(9015), e.to_string()),
        _ if upload => failure(FaultCode::UPLOAD_FAILURE, e.to_string()),
        _ => failure(FaultCode::TRANSFER_FAILURE, e.to_string()),
    }
}

fn credentials(job: &TransferJob) -> Option<(String, String)> {
    (!job.username.is_empty()).then(|| (job.username.clone(), job.password.clone()))
}

/// Carries out `job` and returns the TransferComplete to report (see the module docs).
pub async fn run(
    job: TransferJob,
    ctx: Arc<AgentContext>,
    tls: Arc<TlsContext>,
    log: Arc<LogRing>,
) -> TransferComplete {
    let start = now_unix();
    let deadline = job
        .deadline_unix
        .map(|d| Duration::from_secs(d.saturating_sub(start).max(0) as u64));
    let limit = deadline.map_or(TRANSFER_TIMEOUT, |d| d.min(TRANSFER_TIMEOUT));
    let work = async {
        match job.kind {
            TransferKind::Upload => upload(&job, &ctx, &tls, &log).await,
            _ => download(&job, &ctx, &tls).await,
        }
    };
    let result = match tokio::time::timeout(limit, work).await {
        Ok(r) => r,
        Err(_) if job.kind == TransferKind::ScheduleDownload => Err(failure(
            FaultCode(9020),
            "not completed within the time windows",
        )),
        Err(_) => Err(failure(FaultCode(9017), "transfer timed out")),
    };
    let fault = match &result {
        Ok(()) => TransferFault::default(),
        Err(Failure(code, text)) => TransferFault {
            code: *code,
            string: text.chars().take(256).collect(),
        },
    };
    log.line(
        now_unix(),
        format!(
            "{} {:?} finished: {}",
            job.kind.method(),
            job.command_key,
            if fault.code.0 == 0 {
                "ok".to_owned()
            } else {
                format!("fault {} {}", fault.code.0, fault.string)
            }
        ),
    );
    TransferComplete {
        command_key: job.command_key,
        fault,
        start_time: DateTime::from_unix(start, 0),
        complete_time: DateTime::from_unix(now_unix(), 0),
    }
}

async fn upload(
    job: &TransferJob,
    ctx: &AgentContext,
    tls: &Arc<TlsContext>,
    log: &LogRing,
) -> Result<(), Failure> {
    let content = match upload_source(&job.file_type) {
        Some(UploadSource::Configuration) => {
            crate::state::running_config_to_text(&ctx.running().config())
        }
        Some(UploadSource::Log) => log.text(),
        None => return Err(failure(FaultCode::REQUEST_DENIED, "unsupported FileType")),
    };
    let mut client = HttpClient::new(&job.url, credentials(job), RESPONSE_WAIT, Arc::clone(tls))
        .map_err(|e| transport(&e, true))?;
    let out = Outgoing {
        body: Bytes::from(content),
        headers: vec![(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        )],
    };
    let response = client
        .send(Method::PUT, &out)
        .await
        .map_err(|e| transport(&e, true))?;
    let status = response.status();
    let _ = super::http::read_body(response.into_body(), 64 * 1024, RESPONSE_WAIT).await;
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        return Err(failure(
            FaultCode::TRANSFER_AUTH_FAILURE,
            format!("HTTP {status}"),
        ));
    }
    if !status.is_success() {
        return Err(failure(FaultCode::UPLOAD_FAILURE, format!("HTTP {status}")));
    }
    Ok(())
}

async fn download(
    job: &TransferJob,
    ctx: &AgentContext,
    tls: &Arc<TlsContext>,
) -> Result<(), Failure> {
    let Some(hook) = ctx.config().download_hook.clone() else {
        return Err(failure(
            FaultCode::REQUEST_DENIED,
            "no download hook configured",
        ));
    };
    let (url, checksum) = split_checksum(&job.url);
    let mut client = HttpClient::new(url, credentials(job), RESPONSE_WAIT, Arc::clone(tls))
        .map_err(|e| transport(&e, false))?;
    let response = client
        .send(Method::GET, &Outgoing::default())
        .await
        .map_err(|e| transport(&e, false))?;
    let status = response.status();
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        return Err(failure(
            FaultCode::TRANSFER_AUTH_FAILURE,
            format!("HTTP {status}"),
        ));
    }
    if !status.is_success() {
        return Err(failure(FaultCode(9016), format!("HTTP {status}")));
    }
    let limit = if job.file_size > 0 {
        u64::from(job.file_size)
    } else {
        MAX_DOWNLOAD_BYTES
    };
    let dir = ctx.running().state_dir().file("downloads");
    std::fs::create_dir_all(&dir).map_err(|e| failure(FaultCode::INTERNAL_ERROR, e.to_string()))?;
    let path = dir.join(format!("{:016x}.part", rand::random::<u64>()));
    let result = receive(response.into_body(), &path, limit, job.file_size, checksum).await;
    let result = match result {
        Ok(()) => apply(&hook, &path, job).await,
        Err(e) => Err(e),
    };
    let _ = std::fs::remove_file(&path);
    result
}

async fn receive(
    mut body: hyper::body::Incoming,
    path: &Path,
    limit: u64,
    file_size: u32,
    checksum: Option<Vec<u8>>,
) -> Result<(), Failure> {
    let io = |e: std::io::Error| failure(FaultCode::INTERNAL_ERROR, e.to_string());
    let mut file = {
        use std::os::unix::fs::OpenOptionsExt;
        let std_file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(io)?;
        tokio::fs::File::from_std(std_file)
    };
    let mut hasher = Sha256::new();
    let mut received: u64 = 0;
    while let Some(frame) = tokio::time::timeout(RESPONSE_WAIT, body.frame())
        .await
        .map_err(|_| failure(FaultCode(9017), "file server stalled"))?
    {
        let frame = frame.map_err(|e| failure(FaultCode(9017), e.to_string()))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        received += data.len() as u64;
        if received > limit {
            return Err(failure(
                FaultCode::FILE_CORRUPTED,
                format!("file larger than {limit} bytes"),
            ));
        }
        hasher.update(&data);
        file.write_all(&data).await.map_err(io)?;
    }
    file.sync_all().await.map_err(io)?;
    if file_size > 0 && received != u64::from(file_size) {
        return Err(failure(
            FaultCode::FILE_CORRUPTED,
            format!("received {received} bytes, FileSize says {file_size}"),
        ));
    }
    if let Some(expected) = checksum
        && hasher.finalize().as_slice() != expected.as_slice()
    {
        return Err(failure(FaultCode::FILE_CORRUPTED, "SHA-256 mismatch"));
    }
    Ok(())
}

async fn apply(hook: &str, path: &PathBuf, job: &TransferJob) -> Result<(), Failure> {
    let output = tokio::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(hook)
        .arg("tether-download")
        .arg(path)
        .arg(&job.file_type)
        .env("TETHER_DOWNLOAD_FILE", path)
        .env("TETHER_DOWNLOAD_TYPE", &job.file_type)
        .env("TETHER_DOWNLOAD_TARGET", &job.target_file_name)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|e| failure(FaultCode::TRANSFER_FAILURE, format!("download hook: {e}")))?;
    if output.status.success() {
        Ok(())
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        Err(failure(
            FaultCode::TRANSFER_FAILURE,
            format!(
                "download hook exited with {}: {}",
                output.status,
                stderr.trim()
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_fragments_and_upload_types_are_recognised() {
        let hex = "00".repeat(32);
        let url = format!("http://f/x.bin#sha256={hex}");
        let (base, digest) = split_checksum(&url);
        assert_eq!(base, "http://f/x.bin");
        assert_eq!(digest, Some(vec![0; 32]));
        assert_eq!(split_checksum("http://f/x#other").1, None);
        assert_eq!(
            upload_source("1 Vendor Configuration File"),
            Some(UploadSource::Configuration)
        );
        assert_eq!(upload_source("2 Vendor Log File"), Some(UploadSource::Log));
        assert_eq!(upload_source("X 00AABB Thing"), None);
    }
}
