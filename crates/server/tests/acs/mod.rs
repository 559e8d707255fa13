//! The CWMP endpoint over real sockets and real HTTP, against `Server::start` on 127.0.0.1:0.
//!
//! The test CPE (`support.rs`) is written from TR-069 alone: hand-written SOAP strings, a
//! minimal HTTP/1.1 client over `TcpStream` (or rustls), Digest computed here with MD5, and
//! responses read with roxmltree. It uses nothing of `tether_cwmp` except the embedded BBF
//! schemas, against which every ACS message a test receives is validated with xmllint.

mod connreq;
mod crash;
mod provision;
mod robustness;
mod sessions;
mod support;
mod tasks;
