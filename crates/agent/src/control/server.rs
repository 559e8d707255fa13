//! The agent's end of the control socket.
//!
//! Owns binding the Unix socket safely ([`bind`]: refuse a path that is not a socket, refuse
//! when another agent answers, remove a stale socket, mode 0600), accepting connections (only
//! from the agent's own user or root, at most `max_cli_sessions` at once), and serving each
//! with its own CLI [`Session`] over the line protocol of `protocol.rs`.
//!
//! Lines run inline on the connection's task: they take short locks and, for configuration
//! changes, one small fsync'd write.
//!
//! Must not touch: what a line does (see `exec.rs`).

use std::fs::{self, Permissions};
use std::io;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tether_cli::Session;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::context::{AgentContext, now_unix};
use crate::control::exec::{AnswerKind, execute_async};
use crate::control::protocol::{End, MAX_REQUEST_LINE, Request, encode_reply};
use crate::error::AgentError;

/// Binds the control socket at `path` (see the module docs).
pub fn bind(path: &Path) -> Result<UnixListener, AgentError> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(AgentError::AlreadyRunning(path.to_owned()));
            }
            fs::remove_file(path).map_err(|e| AgentError::io("removing stale socket", path, e))?;
            tracing::info!(socket = %path.display(), "removed a stale control socket");
        }
        Ok(_) => return Err(AgentError::NotASocket(path.to_owned())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(AgentError::io("inspecting", path, e)),
    }
    let listener = UnixListener::bind(path).map_err(|e| AgentError::io("binding", path, e))?;
    fs::set_permissions(path, Permissions::from_mode(0o600))
        .map_err(|e| AgentError::io("setting the mode of", path, e))?;
    Ok(listener)
}

/// Serves `listener` until `shutdown`; connection tasks go to `tracker`. Removes the socket
/// file when it stops.
pub async fn serve(
    listener: UnixListener,
    path: PathBuf,
    ctx: Arc<AgentContext>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
) {
    let slots = Arc::new(Semaphore::new(ctx.config().max_cli_sessions));
    let own_uid = nix::unistd::geteuid().as_raw();
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "control socket accept failed");
                // Back off briefly so a persistent error (e.g. out of descriptors) does not spin.
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        match stream.peer_cred() {
            Ok(cred) if cred.uid() == own_uid || cred.uid() == 0 => {}
            Ok(cred) => {
                tracing::warn!(
                    uid = cred.uid(),
                    "refused a control connection from another user"
                );
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, "no peer credentials on a control connection");
                continue;
            }
        }
        let permit = Arc::clone(&slots).try_acquire_owned().ok();
        let ctx = Arc::clone(&ctx);
        let shutdown = shutdown.clone();
        tracker.spawn(async move {
            let Some(_permit) = permit else {
                let _ = refuse(stream).await;
                return;
            };
            if let Err(e) = connection(stream, &ctx, &shutdown).await {
                tracing::debug!(error = %e, "control connection ended with an error");
            }
        });
    }
    drop(listener);
    let _ = fs::remove_file(&path);
}

async fn refuse(mut stream: UnixStream) -> io::Result<()> {
    let text = encode_reply(
        "% The number of CLI sessions reached the upper limit.\n",
        &End::Error(String::new()),
    );
    stream.write_all(text.as_bytes()).await?;
    stream.write_all(End::Bye.encode().as_bytes()).await
}

/// Reads one line of at most `max` bytes. `Ok(None)` at end of input; an error for an
/// over-long line or invalid UTF-8.
async fn read_line<R: AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
    max: usize,
) -> io::Result<Option<String>> {
    let mut buf = Vec::new();
    let n = (&mut *reader)
        .take(max as u64 + 1)
        .read_until(b'\n', &mut buf)
        .await?;
    if n == 0 {
        return Ok(None);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
    } else if buf.len() > max {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "line too long"));
    }
    String::from_utf8(buf)
        .map(Some)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not UTF-8"))
}

async fn connection(
    stream: UnixStream,
    ctx: &AgentContext,
    shutdown: &CancellationToken,
) -> io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let mut session = Session::new(ctx.config().sysname.clone(), ctx.running().key().as_bytes());
    write
        .write_all(End::Ok(session.prompt()).encode().as_bytes())
        .await?;
    loop {
        let line = tokio::select! {
            () = shutdown.cancelled() => {
                let _ = write.write_all(End::Bye.encode().as_bytes()).await;
                return Ok(());
            }
            line = read_line(&mut reader, MAX_REQUEST_LINE) => line,
        };
        let line = match line {
            Ok(Some(line)) => line,
            Ok(None) => return Ok(()),
            Err(e) => {
                let _ = write.write_all(End::Bye.encode().as_bytes()).await;
                return Err(e);
            }
        };
        let reply = match Request::parse(&line) {
            Some(Request::Exec(text)) => {
                let answer = execute_async(ctx, &mut session, text, now_unix()).await;
                let end = match answer.outcome {
                    AnswerKind::Ok => End::Ok(session.prompt()),
                    AnswerKind::Error => End::Error(session.prompt()),
                    AnswerKind::Exit => End::Bye,
                };
                let done = end == End::Bye;
                let text = encode_reply(&answer.output, &end);
                write.write_all(text.as_bytes()).await?;
                if done {
                    return Ok(());
                }
                continue;
            }
            Some(Request::Complete(text)) => {
                let mut output = String::new();
                for candidate in session.complete(text) {
                    output.push_str(&candidate);
                    output.push('\n');
                }
                encode_reply(&output, &End::Ok(session.prompt()))
            }
            None => encode_reply(
                "% Unknown request: expected `exec LINE` or `complete LINE`.\n",
                &End::Error(session.prompt()),
            ),
        };
        write.write_all(reply.as_bytes()).await?;
    }
}
