//! The ceiling server: the least an HTTP server can do for a CWMP-shaped session, to hold
//! Tether's figures against in the same run.
//!
//! Owns [`serve`]: tokio + hyper 1 (HTTP/1.1 keep-alive, `TCP_NODELAY`, like the ACS endpoint),
//! optionally behind rustls. A POST with a body is answered 200 with a fixed ~600-byte
//! InformResponse and a session cookie; an empty POST is answered 204. Nothing is parsed,
//! checked or stored: the body is read to the end and dropped.
//!
//! Must not touch: CWMP semantics (that is the point).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

const INFORM_RESPONSE: &str = concat!(
    r#"<?xml version="1.0" encoding="UTF-8"?>"#,
    r#"<soap-env:Envelope xmlns:soap-env="http://schemas.xmlsoap.org/soap/envelope/" "#,
    r#"xmlns:soap-enc="http://schemas.xmlsoap.org/soap/encoding/" "#,
    r#"xmlns:xsd="http://www.w3.org/2001/XMLSchema" "#,
    r#"xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" "#,
    r#"xmlns:cwmp="urn:dslforum-org:cwmp-1-0">"#,
    r#"<soap-env:Header><cwmp:ID soap-env:mustUnderstand="1">1732183200</cwmp:ID></soap-env:Header>"#,
    r#"<soap-env:Body><cwmp:InformResponse><MaxEnvelopes>1</MaxEnvelopes></cwmp:InformResponse>"#,
    r#"</soap-env:Body></soap-env:Envelope>"#
);

const COOKIE: &str = "tether_session=0123456789abcdef0123456789abcdef; Path=/; HttpOnly";

/// Accepts on `listener` until `stop`; with `tls`, every connection is a TLS server session.
pub async fn serve(listener: TcpListener, tls: Option<TlsAcceptor>, stop: CancellationToken) {
    loop {
        let (tcp, _peer): (_, SocketAddr) = tokio::select! {
            () = stop.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::warn!(error = %e, "ceiling accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        let _ = tcp.set_nodelay(true);
        let tls = tls.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            match tls {
                None => connection(tcp, stop).await,
                Some(acceptor) => {
                    if let Ok(stream) = acceptor.accept(tcp).await {
                        connection(stream, stop).await;
                    }
                }
            }
        });
    }
}

async fn connection<S>(io: S, stop: CancellationToken)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(|request: Request<Incoming>| async move {
        Ok::<_, Infallible>(answer(request).await)
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .keep_alive(true)
        .serve_connection(TokioIo::new(io), service);
    tokio::select! {
        _ = conn => {}
        () = stop.cancelled() => {}
    }
}

async fn answer(request: Request<Incoming>) -> Response<Full<Bytes>> {
    let body = match request.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => Bytes::new(),
    };
    if body.is_empty() {
        let mut r = Response::new(Full::new(Bytes::new()));
        *r.status_mut() = StatusCode::NO_CONTENT;
        return r;
    }
    let mut r = Response::new(Full::new(Bytes::from_static(INFORM_RESPONSE.as_bytes())));
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/xml; charset=\"utf-8\""),
    );
    h.insert(header::SET_COOKIE, HeaderValue::from_static(COOKIE));
    r
}

/// Binds `addr` and serves on the current runtime; returns the bound address.
pub async fn start(
    addr: SocketAddr,
    tls: Option<Arc<rustls::ServerConfig>>,
    stop: CancellationToken,
) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    tokio::spawn(serve(listener, tls.map(TlsAcceptor::from), stop));
    Ok(local)
}
