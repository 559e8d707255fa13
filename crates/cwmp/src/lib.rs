//! # tether-cwmp: TR-069 (CWMP 1.0-1.4) on the wire, with no I/O
//!
//! This crate owns everything that decides whether a real CPE and an ACS understand each other,
//! and nothing that touches a socket, a clock, a thread or a runtime:
//!
//! ```text
//!   bytes ──charset/compression──▶ decode ──▶ Envelope { Header, Body: Rpc | Fault } ──▶ encode ──▶ bytes
//!                                                   │
//!                       session::acs / session::cpe (events + `now` in, actions + deadline out)
//! ```
//!
//! * the typed model of every RPC and fault ([`rpc`], [`fault`], [`header`], [`value`]);
//! * a lenient, bounded decoder ([`decode`]) and a schema-exact encoder ([`encode`]);
//! * the session state machines for both sides ([`session`]), time passed in as an argument;
//! * HTTP Digest for both sides ([`digest`]), the Annex G UDP connection request
//!   ([`udp_connection_request`]), the retry back-off of TR-069 §3.2.1.1 ([`retry`]), DHCP ACS
//!   discovery ([`dhcp`]) and a bounded body decompressor ([`compression`]).
//!
//! Invariants: no `unsafe`, no panics on any input, every limit explicit, every error typed.
//! Rule IDs such as `ENV-09` refer to the project's TR-069 requirements (see `ARCHITECTURE.md`).

pub mod compression;
pub mod dhcp;
pub mod digest;
pub mod retry;
pub mod udp_connection_request;

pub mod datetime;
pub mod decode;
pub mod device_id;
pub mod encode;
pub mod envelope;
pub mod error;
pub mod event;
pub mod fault;
pub mod header;
pub mod namespace;
pub mod rpc;
pub mod schemas;
pub mod session;
pub mod value;
mod xml_writer;

pub use datetime::{DateTime, Fraction};
pub use decode::{DecodeOptions, decode, decode_with};
pub use device_id::DeviceId;
pub use encode::{BooleanLiteral, EncodeOptions, encode, encode_with};
pub use envelope::{Decoded, Envelope, Quirk};
pub use error::{DecodeError, EncodeError};
pub use event::{Event, EventCode};
pub use fault::{Fault, FaultCode, SetParameterValuesFault, SoapFaultClass};
pub use header::Header;
pub use namespace::{CwmpNamespace, CwmpVersion};
pub use rpc::Body;
pub use value::{ParameterValue, Value, ValueType};
