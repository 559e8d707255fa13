//! A whole CWMP message: namespace, Header and Body.

use crate::header::Header;
use crate::namespace::CwmpNamespace;
use crate::rpc::Body;
use serde::Serialize;
use std::fmt;

/// One SOAP envelope as CWMP uses it: one Body element (ENV-08).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Envelope {
    /// The `cwmp` namespace the message is (or will be) written in.
    pub namespace: CwmpNamespace,
    /// Header elements.
    pub header: Header,
    /// The RPC, response or fault.
    pub body: Body,
}

impl Envelope {
    /// An envelope with the given namespace, an optional ID, and a body.
    pub fn new(namespace: CwmpNamespace, id: Option<String>, body: Body) -> Self {
        Self {
            namespace,
            header: Header {
                id,
                ..Header::default()
            },
            body,
        }
    }
}

/// Something the decoder accepted although a strict reader would not: kept so operators can see
/// what their CPEs do (`tether cwmp decode` prints them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "quirk", rename_all = "snake_case")]
pub enum Quirk {
    /// A `Value` without `xsi:type`, read as a string (ENV-10).
    MissingXsiType {
        /// Parameter name.
        parameter: String,
    },
    /// An `xsi:type` whose prefix is not bound, read by its local name (ENV-05).
    UnboundTypePrefix {
        /// The attribute as written.
        written: String,
    },
    /// An array whose `soap-enc:arrayType` count differs from its members (ENV-09).
    ArrayCountMismatch {
        /// Element name.
        element: String,
        /// Count declared.
        declared: usize,
        /// Members present.
        actual: usize,
    },
    /// An array without `soap-enc:arrayType`.
    MissingArrayType {
        /// Element name.
        element: String,
    },
    /// The non-existent `cwmp-1-3`/`cwmp-1-4` namespace, read as `cwmp-1-2` (ENV-02).
    NonStandardNamespace {
        /// The URI as written.
        uri: String,
    },
    /// An RPC element with no namespace at all.
    UnqualifiedRpc,
    /// Characters XML 1.0 forbids were replaced by U+FFFD (ENV-12, pitfall #14).
    ControlCharactersReplaced {
        /// How many.
        count: usize,
    },
    /// Bytes that are not UTF-8 and no charset declared: read as ISO-8859-1.
    Latin1Fallback,
    /// A required element was absent and its default was used.
    MissingElement {
        /// Path of the missing element.
        element: String,
    },
    /// An OUI not matching `[0-9A-F]{6}`.
    NonStandardOui {
        /// The OUI as sent.
        oui: String,
    },
    /// An element that is not part of the method, ignored.
    UnknownElement {
        /// Element name.
        element: String,
    },
    /// More than one element in the Body; only the first was read.
    ExtraBodyElements,
}

impl fmt::Display for Quirk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingXsiType { parameter } => {
                write!(f, "{parameter}: Value without xsi:type, read as string")
            }
            Self::UnboundTypePrefix { written } => {
                write!(f, "xsi:type {written:?} uses an unbound prefix")
            }
            Self::ArrayCountMismatch {
                element,
                declared,
                actual,
            } => {
                write!(
                    f,
                    "{element}: arrayType declares {declared} members, {actual} present"
                )
            }
            Self::MissingArrayType { element } => write!(f, "{element}: no soap-enc:arrayType"),
            Self::NonStandardNamespace { uri } => {
                write!(f, "non-standard namespace {uri} read as cwmp-1-2")
            }
            Self::UnqualifiedRpc => f.write_str("RPC element without a namespace"),
            Self::ControlCharactersReplaced { count } => {
                write!(f, "{count} forbidden control characters replaced")
            }
            Self::Latin1Fallback => {
                f.write_str("body is not UTF-8 and declares no charset: read as ISO-8859-1")
            }
            Self::MissingElement { element } => write!(f, "{element} missing, default used"),
            Self::NonStandardOui { oui } => write!(f, "OUI {oui:?} does not match [0-9A-F]{{6}}"),
            Self::UnknownElement { element } => write!(f, "unknown element {element} ignored"),
            Self::ExtraBodyElements => {
                f.write_str("more than one element in Body; only the first was read")
            }
        }
    }
}

/// A decoded message and what was tolerated to read it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decoded {
    /// The message.
    pub envelope: Envelope,
    /// Deviations from the schema that were accepted.
    pub quirks: Vec<Quirk>,
}
