//! # tether-cloudlink: the cloud-connection protocol, with no I/O
//!
//! The device dials out and keeps a management tunnel to the cloud, in the shape of H3C's
//! "cloud connection" (the guide's 11 steps); the wire format is ours and is specified in
//! `docs/cloud-connection-protocol.md`. This crate owns every rule of that protocol and
//! nothing that touches a socket, a clock, a thread or a random number generator: time is an
//! argument (`now`), random bytes are arguments, and state machines return what to send and
//! when they next want to be woken.
//!
//! ```text
//!  device                                              server
//!  device::Device ── Action::Post(auth_request) ──▶  handshake::Handshaker::auth      (1-2)
//!                 ── Action::Post(register)     ──▶  handshake::Handshaker::register  (3-4)
//!                 ── Action::OpenTunnel         ──▶  Handshaker::admit_tunnel +
//!                                                    server::TunnelSession::welcome   (5-6)
//!                 ── Send(subconn_request)      ──▶  Handshaker::grant                (7-8)
//!                 ── StartServices(grants)      ──▶  Handshaker::admit_subconnection  (9-11)
//!                 ── Send(keepalive) ...        ◀──  keepalive_ack, commands, close codes
//! ```
//!
//! * [`message`]: typed messages of every channel, bounded JSON decode with typed errors;
//! * [`auth`]: device key derivation, challenge proof, URL proof of possession;
//! * [`token`]: stateless signed tokens and the single-use replay set;
//! * [`handshake`]: the server side of steps 1-8;
//! * [`server`]: per-tunnel rules, tunnel replacement, per-device service registry;
//! * [`device`]: the device-side connection manager; [`status`]: what
//!   `display cloud-management state` shows; [`backoff`]: reconnect delays;
//! * [`close`]: close codes and reactions; [`unbind`]: unbinding codes.
//!
//! Invariants: no `unsafe`, no panic on any input from the network, every size bounded,
//! every error typed.

#![forbid(unsafe_code)]

pub mod auth;
pub mod backoff;
pub mod close;
pub mod device;
pub mod handshake;
pub mod message;
pub mod server;
pub mod status;
pub mod token;
pub mod unbind;

pub use backoff::Jitter;
pub use close::CloseCode;
pub use device::{Action, Device, DeviceConfig, Event};
pub use message::{PROTOCOL_VERSION, SUBPROTOCOL};
pub use status::{ConnectionState, DeviceState, FailureReason, ProcessState, Status};
