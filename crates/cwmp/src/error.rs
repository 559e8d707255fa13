//! Typed errors of the codec. Mapping them to HTTP statuses and CWMP faults is done once, in
//! [`DecodeError::fault_code`] here for the protocol side and in the server for HTTP.

use crate::fault::FaultCode;
use thiserror::Error;

/// Why a message could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The body is empty: an empty POST is not a message (the session layer handles it).
    #[error("empty message")]
    Empty,
    /// Larger than the configured limit.
    #[error("message of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// Bytes received.
        size: usize,
        /// Limit.
        limit: usize,
    },
    /// A charset this crate does not read.
    #[error("unsupported charset {0:?}")]
    UnsupportedCharset(String),
    /// Declared UTF-8 (or UTF-16) but the bytes are not.
    #[error("invalid {charset} at byte {offset}")]
    InvalidEncoding {
        /// The charset.
        charset: &'static str,
        /// First bad byte.
        offset: usize,
    },
    /// A Document Type Declaration: forbidden in SOAP, refused before any entity is expanded.
    #[error("document type declarations are not allowed in SOAP messages")]
    DtdNotAllowed,
    /// Not well-formed XML.
    #[error("XML error at line {line}, column {column}: {message}")]
    Xml {
        /// Parser message.
        message: String,
        /// 1-based line.
        line: u32,
        /// 1-based column.
        column: u32,
    },
    /// More nodes or deeper nesting than allowed.
    #[error("XML exceeds the {0} limit")]
    LimitExceeded(&'static str),
    /// The root is not a SOAP 1.1 Envelope.
    #[error("root element is {found}, not a SOAP 1.1 Envelope")]
    NotAnEnvelope {
        /// `{namespace}local` of the root.
        found: String,
    },
    /// A SOAP 1.2 envelope (CWMP uses SOAP 1.1 only).
    #[error("SOAP 1.2 envelopes are not used by CWMP")]
    Soap12,
    /// No Body, or an empty Body.
    #[error("the envelope has no Body element")]
    MissingBody,
    /// The RPC element is in a namespace that is not a CWMP namespace.
    #[error("unknown CWMP namespace {0:?}")]
    UnknownNamespace(String),
    /// A structural or value error inside a known method.
    #[error("{element} (line {line}, column {column}): {message}")]
    Invalid {
        /// Element path, e.g. `Inform/DeviceId/OUI`.
        element: String,
        /// What is wrong.
        message: String,
        /// 1-based line.
        line: u32,
        /// 1-based column.
        column: u32,
    },
}

impl DecodeError {
    /// The fault a receiver answers with when the message was a request it could not read:
    /// 9003/8003 for invalid arguments, 9002/8002 otherwise. `acs` selects the 8xxx range.
    pub fn fault_code(&self, acs: bool) -> FaultCode {
        let base = if acs { 8000 } else { 9000 };
        match self {
            Self::Invalid { .. } => FaultCode(base + 3),
            Self::TooLarge { .. } | Self::LimitExceeded(_) => FaultCode(base + 4),
            _ => FaultCode(base + 2),
        }
    }

    /// Line and column, when the error has a position.
    pub fn position(&self) -> Option<(u32, u32)> {
        match self {
            Self::Xml { line, column, .. } | Self::Invalid { line, column, .. } => {
                Some((*line, *column))
            }
            _ => None,
        }
    }
}

/// Why a message could not be encoded schema-exact.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// A string longer than the schema allows.
    #[error("{field} is {len} characters, the schema allows {max}")]
    TooLong {
        /// Field.
        field: &'static str,
        /// Characters.
        len: usize,
        /// Maximum.
        max: usize,
    },
    /// An array with more members than the schema allows.
    #[error("{field} has {len} members, the schema allows {max}")]
    TooMany {
        /// Field.
        field: &'static str,
        /// Members.
        len: usize,
        /// Maximum.
        max: usize,
    },
    /// A value the schema rejects.
    #[error("{field}: {message}")]
    InvalidValue {
        /// Field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The method or header does not exist in the message's namespace.
    #[error("{item} does not exist in namespace {namespace}")]
    NotInNamespace {
        /// Method or header name.
        item: String,
        /// Namespace URI.
        namespace: &'static str,
    },
    /// An unknown method cannot be encoded.
    #[error("cannot encode unknown method {0}")]
    UnknownMethod(String),
}
