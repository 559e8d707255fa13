//! The server side of a TLS connection that holds no buffer while the connection is idle.
//!
//! `tokio_rustls` drives rustls's buffered `ServerConnection`, which keeps a 4 KiB buffer for
//! incoming records from the first read to the end of the connection: on an idle fleet that was
//! the largest single owner of memory (4.2 KiB of ~18 KiB per idle WebSocket, heap profile in
//! BENCHMARKS.md). This stream drives rustls's unbuffered API instead and owns the buffers:
//!
//! - incoming TLS bytes are read only when the socket is readable, and the buffer is freed as
//!   soon as every complete record in it has been processed;
//! - decrypted bytes the reader has not taken yet, and encrypted bytes the socket has not
//!   accepted yet, are kept in buffers that are freed once empty.
//!
//! Bounds: incoming bytes are read only while a reader wants data and no decrypted data is
//! waiting, and are capped at one maximal handshake message plus one record
//! ([`MAX_INCOMING`]), as rustls's own buffer is; `poll_write` takes new data only once the
//! previous write left the process, at most [`MAX_WRITE`] bytes at a time. TLS itself (versions,
//! suites, certificate, ALPN) is the `rustls::ServerConfig` built in `tls.rs`.
//!
//! Semantics follow `tokio_rustls::server::TlsStream`: `poll_shutdown` sends `close_notify`;
//! a peer's `close_notify` reads as end of stream; a TCP end without `close_notify` is an
//! `UnexpectedEof` error; a TLS error sends its alert when the socket takes it at once.

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use rustls::ServerConfig;
use rustls::server::UnbufferedServerConnection;
use rustls::unbuffered::{ConnectionState, EncodeError, EncryptError, UnbufferedStatus};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// Largest handshake message rustls accepts (it joins fragments up to this size).
const MAX_HANDSHAKE: usize = 0xffff;
/// Largest TLS record on the wire: 5-byte header, 16 KiB of data and 2 KiB of expansion.
const MAX_RECORD: usize = 5 + 16_384 + 2048;
/// Incoming bytes kept at most: a partial record, or a handshake message being joined.
pub const MAX_INCOMING: usize = MAX_HANDSHAKE + MAX_RECORD;
/// Plaintext taken by one `poll_write`.
pub const MAX_WRITE: usize = 16 * 1024;
/// Bytes asked of the socket per read.
const READ_CHUNK: usize = 4096;
/// Room for the header, content type and tag of each record (AEAD suites add 22 bytes).
const RECORD_OVERHEAD: usize = 64;

/// A TLS connection accepted on `io`.
pub struct TlsStream {
    io: TcpStream,
    conn: UnbufferedServerConnection,
    /// TLS bytes read and not yet processed (the start of a record or handshake message).
    incoming: Vec<u8>,
    /// Decrypted bytes not yet read, from `plain_pos`.
    plain: Vec<u8>,
    plain_pos: usize,
    /// Encoded bytes not yet written to the socket, from `out_pos`.
    outgoing: Vec<u8>,
    out_pos: usize,
    /// The peer sent `close_notify`, or the connection is closed: reads see the end.
    read_closed: bool,
    /// `close_notify` was queued: nothing more may be written.
    write_closed: bool,
}

/// What processing the incoming bytes is for, which decides what `WriteTraffic` means.
#[derive(Clone, Copy)]
enum Intent<'a> {
    /// Decrypted data is wanted.
    Read,
    /// `data` is to be encrypted.
    Write(&'a [u8]),
    /// `close_notify` is to be sent.
    CloseNotify,
}

/// What processing came to.
enum Progress {
    /// Decrypted data was added to `plain` (`Intent::Read`).
    Data,
    /// The peer closed its side (`close_notify`), or the connection is closed.
    Closed,
    /// More incoming bytes are needed; `handshaking` while the handshake is not complete.
    NeedBytes { handshaking: bool },
    /// The data or the `close_notify` is queued in `outgoing`.
    Queued,
}

/// Performs the server handshake on `io`.
pub async fn accept(config: Arc<ServerConfig>, io: TcpStream) -> io::Result<TlsStream> {
    let conn = UnbufferedServerConnection::new(config).map_err(tls_error)?;
    let mut stream = TlsStream {
        io,
        conn,
        incoming: Vec::new(),
        plain: Vec::new(),
        plain_pos: 0,
        outgoing: Vec::new(),
        out_pos: 0,
        read_closed: false,
        write_closed: false,
    };
    poll_fn(|cx| stream.poll_handshake(cx)).await?;
    Ok(stream)
}

fn tls_error(e: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

/// Appends what `write` produces to `out`, starting with `room` bytes and growing to what
/// `write` says it needs (`Err(Ok(size))`).
fn append(
    out: &mut Vec<u8>,
    mut room: usize,
    mut write: impl FnMut(&mut [u8]) -> Result<usize, io::Result<usize>>,
) -> io::Result<()> {
    let start = out.len();
    loop {
        out.resize(start + room, 0);
        match write(&mut out[start..]) {
            Ok(n) => {
                out.truncate(start + n);
                return Ok(());
            }
            Err(Ok(needed)) if needed > room => room = needed,
            Err(Ok(_)) => {
                out.truncate(start);
                return Err(io::Error::other("TLS encoding failed"));
            }
            Err(Err(e)) => {
                out.truncate(start);
                return Err(e);
            }
        }
    }
}

fn encode_result(r: Result<usize, EncodeError>) -> Result<usize, io::Result<usize>> {
    match r {
        Ok(n) => Ok(n),
        Err(EncodeError::InsufficientSize(s)) => Err(Ok(s.required_size)),
        // Nothing left to encode.
        Err(EncodeError::AlreadyEncoded) => Ok(0),
    }
}

fn encrypt_result(r: Result<usize, EncryptError>) -> Result<usize, io::Result<usize>> {
    match r {
        Ok(n) => Ok(n),
        Err(EncryptError::InsufficientSize(s)) => Err(Ok(s.required_size)),
        Err(e) => Err(Err(io::Error::other(e))),
    }
}

impl TlsStream {
    /// The negotiated ALPN protocol, if any.
    pub fn alpn_protocol(&self) -> Option<&[u8]> {
        self.conn.alpn_protocol()
    }

    fn poll_handshake(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            let handshaking = match self.process(Intent::Read)? {
                Progress::NeedBytes { handshaking } => handshaking,
                // Data or a close right after the handshake is for the first read.
                Progress::Data | Progress::Closed | Progress::Queued => false,
            };
            // The peer waits for our flight before it sends more.
            ready!(self.poll_send(cx))?;
            if !handshaking && !self.conn.is_handshaking() {
                return Poll::Ready(Ok(()));
            }
            if ready!(self.poll_receive(cx))? == 0 {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "tls handshake eof",
                )));
            }
        }
    }

    /// Feeds the incoming bytes to rustls until `intent` is served or more bytes are needed.
    /// Records rustls sends by itself (handshake, tickets, alerts, key updates) are queued in
    /// `outgoing`; decrypted data is kept in `plain` whatever the intent.
    fn process(&mut self, intent: Intent<'_>) -> io::Result<Progress> {
        loop {
            let UnbufferedStatus { mut discard, state } =
                self.conn.process_tls_records(&mut self.incoming);
            let progress = match state {
                Err(e) => {
                    self.incoming.drain(..discard);
                    return Err(self.fail(e));
                }
                Ok(ConnectionState::ReadTraffic(mut traffic)) => {
                    while let Some(record) = traffic.next_record() {
                        let record = record.map_err(tls_error)?;
                        discard += record.discard;
                        self.plain.extend_from_slice(record.payload);
                    }
                    matches!(intent, Intent::Read).then_some(Progress::Data)
                }
                Ok(ConnectionState::EncodeTlsData(mut encode)) => {
                    append(&mut self.outgoing, 512, |out| {
                        encode_result(encode.encode(out))
                    })?;
                    None
                }
                // What was encoded is queued in `outgoing`, in order, and leaves with the next
                // send: for rustls it has gone.
                Ok(ConnectionState::TransmitTlsData(transmit)) => {
                    transmit.done();
                    None
                }
                Ok(ConnectionState::BlockedHandshake) => match intent {
                    Intent::Read => Some(Progress::NeedBytes { handshaking: true }),
                    Intent::Write(_) => return Err(io::ErrorKind::NotConnected.into()),
                    Intent::CloseNotify => Some(Progress::Queued),
                },
                Ok(ConnectionState::WriteTraffic(mut traffic)) => Some(match intent {
                    Intent::Read => Progress::NeedBytes { handshaking: false },
                    Intent::Write(data) => {
                        let room = data.len() + RECORD_OVERHEAD * (data.len() / 16_384 + 1);
                        append(&mut self.outgoing, room, |out| {
                            encrypt_result(traffic.encrypt(data, out))
                        })?;
                        Progress::Queued
                    }
                    Intent::CloseNotify => {
                        append(&mut self.outgoing, RECORD_OVERHEAD, |out| {
                            encrypt_result(traffic.queue_close_notify(out))
                        })?;
                        Progress::Queued
                    }
                }),
                Ok(ConnectionState::PeerClosed) => {
                    self.read_closed = true;
                    matches!(intent, Intent::Read).then_some(Progress::Closed)
                }
                Ok(ConnectionState::Closed) => {
                    self.read_closed = true;
                    match intent {
                        Intent::Read => Some(Progress::Closed),
                        Intent::Write(_) => return Err(io::ErrorKind::NotConnected.into()),
                        Intent::CloseNotify => Some(Progress::Queued),
                    }
                }
                // Early data is never enabled on the server configuration.
                Ok(ConnectionState::ReadEarlyData(_)) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "unexpected TLS early data",
                    ));
                }
                Ok(_) => return Err(io::Error::other("unknown TLS connection state")),
            };
            self.incoming.drain(..discard);
            if self.incoming.is_empty() {
                // Idle connections keep no incoming buffer.
                self.incoming = Vec::new();
            }
            if let Some(progress) = progress {
                return Ok(progress);
            }
        }
    }

    /// Turns a TLS error into an I/O error after queuing the alert rustls prepared for it and
    /// trying once to send it.
    fn fail(&mut self, e: rustls::Error) -> io::Error {
        if let Ok(ConnectionState::EncodeTlsData(mut encode)) =
            self.conn.process_tls_records(&mut []).state
            && append(&mut self.outgoing, 64, |out| {
                encode_result(encode.encode(out))
            })
            .is_ok()
        {
            while self.out_pos < self.outgoing.len() {
                match self.io.try_write(&self.outgoing[self.out_pos..]) {
                    Ok(n) if n > 0 => self.out_pos += n,
                    _ => break,
                }
            }
        }
        tls_error(e)
    }

    /// Writes `outgoing` to the socket; frees it once it is all out.
    fn poll_send(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.out_pos < self.outgoing.len() {
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, &self.outgoing[self.out_pos..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.out_pos += n;
        }
        self.outgoing = Vec::new();
        self.out_pos = 0;
        Poll::Ready(Ok(()))
    }

    /// Reads what the socket has into `incoming`; `0` at the end of the TCP stream. Memory is
    /// reserved only once the socket is readable.
    fn poll_receive(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        if self.incoming.len() >= MAX_INCOMING {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "TLS message too large",
            )));
        }
        loop {
            ready!(self.io.poll_read_ready(cx))?;
            self.incoming
                .reserve(READ_CHUNK.min(MAX_INCOMING - self.incoming.len()));
            match self.io.try_read_buf(&mut self.incoming) {
                Ok(n) => return Poll::Ready(Ok(n)),
                // Readiness was stale (and is now cleared): wait again, without the buffer.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if self.incoming.is_empty() {
                        self.incoming = Vec::new();
                    }
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    /// Hands out decrypted bytes; frees the buffer once it is all read.
    fn take_plain(&mut self, buf: &mut ReadBuf<'_>) {
        let n = buf.remaining().min(self.plain.len() - self.plain_pos);
        buf.put_slice(&self.plain[self.plain_pos..self.plain_pos + n]);
        self.plain_pos += n;
        if self.plain_pos == self.plain.len() {
            self.plain = Vec::new();
            self.plain_pos = 0;
        }
    }
}

impl AsyncRead for TlsStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.plain_pos < this.plain.len() {
                this.take_plain(buf);
                return Poll::Ready(Ok(()));
            }
            if this.read_closed {
                return Poll::Ready(Ok(()));
            }
            match this.process(Intent::Read)? {
                Progress::NeedBytes { .. } => {}
                Progress::Data | Progress::Closed | Progress::Queued => continue,
            }
            // Whatever rustls queued (a key update answer, an alert) goes out; a socket that
            // is not writable now wakes this reader when it is.
            if let Poll::Ready(Err(e)) = this.poll_send(cx) {
                return Poll::Ready(Err(e));
            }
            if ready!(this.poll_receive(cx))? == 0 {
                this.read_closed = true;
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "peer closed connection without sending TLS close_notify",
                )));
            }
        }
    }
}

impl AsyncWrite for TlsStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        // New data is taken only once the previous write has left the process.
        ready!(this.poll_send(cx))?;
        if this.write_closed {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let n = buf.len().min(MAX_WRITE);
        this.process(Intent::Write(&buf[..n]))?;
        // Sent now if the socket takes it; otherwise by the next write, flush or shutdown.
        if let Poll::Ready(Err(e)) = this.poll_send(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_send(cx))?;
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.write_closed {
            this.write_closed = true;
            // A connection that failed has no clean close to send; the socket still closes.
            let _ = this.process(Intent::CloseNotify);
        }
        ready!(this.poll_send(cx))?;
        match ready!(Pin::new(&mut this.io).poll_shutdown(cx)) {
            // When shutting down, not being connected any more is fine.
            Err(e) if e.kind() != io::ErrorKind::NotConnected => Poll::Ready(Err(e)),
            _ => Poll::Ready(Ok(())),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use rustls_pki_types::pem::PemObject as _;
    use rustls_pki_types::{CertificateDer, ServerName};
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::TcpListener;

    use super::*;
    use crate::config::{TlsConfig, TlsMode};

    /// A server configuration from `tls.rs` and a client that trusts it.
    fn configs(dir: &std::path::Path) -> (Arc<ServerConfig>, tokio_rustls::TlsConnector) {
        let tls = TlsConfig {
            mode: TlsMode::SelfSigned,
            ..TlsConfig::default()
        };
        let acceptor = crate::tls::acceptor(&tls, dir).unwrap().unwrap();
        let (cert, _) = crate::tls::ensure_self_signed(dir, &[]).unwrap();
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_file_iter(&cert).unwrap() {
            roots.add(c.unwrap()).unwrap();
        }
        let client = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        (
            acceptor.config().clone(),
            tokio_rustls::TlsConnector::from(Arc::new(client)),
        )
    }

    /// An accepted server stream and the client's end of it.
    async fn pair(
        dir: &std::path::Path,
    ) -> (
        TlsStream,
        tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
    ) {
        let (server, connector) = configs(dir);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = tokio::spawn(async move {
            let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
            let name = ServerName::try_from("localhost").unwrap();
            connector.connect(name, tcp).await.unwrap()
        });
        let (tcp, _) = listener.accept().await.unwrap();
        let stream = accept(server, tcp).await.unwrap();
        (stream, client.await.unwrap())
    }

    fn holds_nothing(s: &TlsStream) -> bool {
        s.incoming.capacity() == 0 && s.plain.capacity() == 0 && s.outgoing.capacity() == 0
    }

    #[tokio::test]
    async fn a_later_connection_resumes_with_a_stateless_ticket_from_an_earlier_one() {
        let dir = tempfile::tempdir().unwrap();
        let (server, connector) = configs(dir.path());
        assert!(
            server.ticketer.enabled(),
            "tickets carry the session, not a server cache"
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut kinds = Vec::new();
        for _ in 0..2 {
            let connector = connector.clone();
            let client = tokio::spawn(async move {
                let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
                let name = ServerName::try_from("localhost").unwrap();
                let mut tls = connector.connect(name, tcp).await.unwrap();
                // Reading the answer also takes in the tickets sent after the handshake.
                tls.write_all(b"hi").await.unwrap();
                tls.flush().await.unwrap();
                let mut buf = [0u8; 2];
                tls.read_exact(&mut buf).await.unwrap();
                tls.get_ref().1.handshake_kind()
            });
            let (tcp, _) = listener.accept().await.unwrap();
            let mut stream = accept(Arc::clone(&server), tcp).await.unwrap();
            let mut buf = [0u8; 2];
            stream.read_exact(&mut buf).await.unwrap();
            stream.write_all(b"ok").await.unwrap();
            stream.flush().await.unwrap();
            kinds.push(client.await.unwrap());
        }
        assert_eq!(
            kinds,
            [
                Some(rustls::HandshakeKind::Full),
                Some(rustls::HandshakeKind::Resumed)
            ]
        );
    }

    #[tokio::test]
    async fn data_both_ways_and_no_buffer_kept_between_messages() {
        let dir = tempfile::tempdir().unwrap();
        let (mut server, mut client) = pair(dir.path()).await;
        assert_eq!(server.alpn_protocol(), None);

        client.write_all(b"ping").await.unwrap();
        client.flush().await.unwrap();
        let mut buf = [0u8; 4];
        server.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");
        server.write_all(b"pong").await.unwrap();
        server.flush().await.unwrap();
        client.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"pong");
        assert!(holds_nothing(&server), "idle between messages");

        // More than one write and more than one record each way, read in small pieces.
        let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let expected = big.clone();
        let writer = tokio::spawn(async move {
            client.write_all(&big).await.unwrap();
            client.flush().await.unwrap();
            let mut back = vec![0u8; big.len()];
            client.read_exact(&mut back).await.unwrap();
            (client, back)
        });
        let mut got = vec![0u8; expected.len()];
        let mut at = 0;
        while at < got.len() {
            let end = (at + 1000).min(got.len());
            let n = server.read(&mut got[at..end]).await.unwrap();
            assert!(n > 0);
            at += n;
        }
        assert_eq!(got, expected);
        server.write_all(&got).await.unwrap();
        server.flush().await.unwrap();
        let (mut client, back) = writer.await.unwrap();
        assert_eq!(back, expected);
        assert!(holds_nothing(&server), "idle after bulk transfer");

        // close_notify from the server: the client sees a clean end, and so does the server.
        server.shutdown().await.unwrap();
        let mut rest = Vec::new();
        client.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty());
        client.shutdown().await.unwrap();
        let mut rest = Vec::new();
        server.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty());
    }

    #[tokio::test]
    async fn tcp_end_without_close_notify_is_unexpected_eof() {
        let dir = tempfile::tempdir().unwrap();
        let (mut server, client) = pair(dir.path()).await;
        // A FIN without close_notify (dropping the socket could reset it instead).
        let (mut tcp, _) = client.into_inner();
        tcp.shutdown().await.unwrap();
        let mut buf = [0u8; 16];
        let err = server.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        drop(tcp);
    }

    #[tokio::test]
    async fn garbage_fails_the_handshake_and_oversized_records_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (server, _) = configs(dir.path());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();

        let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (accepted, _) = listener.accept().await.unwrap();
        tcp.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let err = accept(server.clone(), accepted).await.err().unwrap();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        // The alert rustls prepared was sent.
        let mut alert = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(2), tcp.read_to_end(&mut alert)).await;
        assert_eq!(alert.first(), Some(&21), "a TLS alert record");

        // A handshake record header announcing more than a record may hold.
        let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (accepted, _) = listener.accept().await.unwrap();
        tcp.write_all(&[22, 3, 1, 0xff, 0xff]).await.unwrap();
        let err = accept(server.clone(), accepted).await.err().unwrap();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);

        // A peer that goes away mid-handshake.
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (accepted, _) = listener.accept().await.unwrap();
        drop(tcp);
        let err = accept(server, accepted).await.err().unwrap();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }
}
