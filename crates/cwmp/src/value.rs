//! Parameter values on the wire: the `xsi:type` of a `Value` and its text (ENV-10, DM-03, DM-04).
//!
//! A value keeps the text exactly as received (after XML unescaping) and the declared type, so
//! nothing is lost between a CPE and the operator; typed accessors interpret it on demand.

use crate::datetime::DateTime;
use serde::Serialize;
use std::fmt;

/// The declared type of a `Value` (`xsi:type`), resolved through namespaces.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum ValueType {
    /// `xsd:string`, also the default when a CPE omits `xsi:type` (ENV-10).
    #[default]
    String,
    /// `xsd:int` (32-bit signed).
    Int,
    /// `xsd:unsignedInt` (32-bit).
    UnsignedInt,
    /// `xsd:long` (64-bit signed).
    Long,
    /// `xsd:unsignedLong` (64-bit).
    UnsignedLong,
    /// `xsd:boolean`.
    Boolean,
    /// `xsd:dateTime`.
    DateTime,
    /// `xsd:base64Binary` (CWMP also writes `xsd:base64`).
    Base64,
    /// `xsd:hexBinary`.
    HexBinary,
    /// `xsd:decimal`.
    Decimal,
    /// Any other type name, kept as `prefix-free local name` with its namespace kind.
    Other(String),
}

impl ValueType {
    /// The XML Schema local name used when encoding (`xsd:<name>`).
    pub fn xsd_name(&self) -> &str {
        match self {
            Self::String => "string",
            Self::Int => "int",
            Self::UnsignedInt => "unsignedInt",
            Self::Long => "long",
            Self::UnsignedLong => "unsignedLong",
            Self::Boolean => "boolean",
            Self::DateTime => "dateTime",
            Self::Base64 => "base64Binary",
            Self::HexBinary => "hexBinary",
            Self::Decimal => "decimal",
            Self::Other(name) => name,
        }
    }

    /// The prefixed name as written in `xsi:type` (`"xsd:unsignedInt"`), the same text as
    /// `Display` without the formatter (stored for every parameter of every Inform).
    pub fn xsi_type(&self) -> String {
        let known = match self {
            Self::String => "xsd:string",
            Self::Int => "xsd:int",
            Self::UnsignedInt => "xsd:unsignedInt",
            Self::Long => "xsd:long",
            Self::UnsignedLong => "xsd:unsignedLong",
            Self::Boolean => "xsd:boolean",
            Self::DateTime => "xsd:dateTime",
            Self::Base64 => "xsd:base64Binary",
            Self::HexBinary => "xsd:hexBinary",
            Self::Decimal => "xsd:decimal",
            Self::Other(name) => return format!("xsd:{name}"),
        };
        known.to_owned()
    }

    /// Maps an XML Schema (or SOAP encoding) local type name to a type.
    pub fn from_xsd_name(name: &str) -> Self {
        match name {
            "string" | "anyURI" | "normalizedString" | "token" => Self::String,
            "int" | "short" | "byte" => Self::Int,
            "unsignedInt" | "unsignedShort" | "unsignedByte" => Self::UnsignedInt,
            "long" | "integer" => Self::Long,
            "unsignedLong" | "nonNegativeInteger" => Self::UnsignedLong,
            "boolean" => Self::Boolean,
            "dateTime" => Self::DateTime,
            "base64" | "base64Binary" => Self::Base64,
            "hexBinary" => Self::HexBinary,
            "decimal" | "double" | "float" => Self::Decimal,
            other => Self::Other(other.to_owned()),
        }
    }

    /// Whether `text` is a valid lexical value of this type. `Other` types accept anything.
    pub fn accepts(&self, text: &str) -> bool {
        // The whiteSpace=collapse facet removes XML whitespace only (not U+00A0, U+3000, ...).
        let t = text.trim_matches(is_xml_space);
        match self {
            Self::String | Self::Other(_) => true,
            Self::Int => t.parse::<i32>().is_ok(),
            Self::UnsignedInt => t.parse::<u32>().is_ok(),
            Self::Long => t.parse::<i64>().is_ok(),
            Self::UnsignedLong => t.parse::<u64>().is_ok(),
            Self::Boolean => parse_bool(t).is_some(),
            Self::DateTime => DateTime::parse(t).is_some(),
            Self::Base64 => is_base64(t),
            Self::HexBinary => {
                t.len().is_multiple_of(2) && t.bytes().all(|b| b.is_ascii_hexdigit())
            }
            Self::Decimal => is_decimal(t),
        }
    }
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "xsd:{}", self.xsd_name())
    }
}

impl Serialize for ValueType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The four whitespace characters of XML (`S`): space, tab, line feed, carriage return.
pub fn is_xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// The `xsd:base64Binary` lexical space: groups of four alphabet characters (spaces allowed
/// between them), padding only at the end, and the bits a padded group drops must be zero.
fn is_base64(t: &str) -> bool {
    let is_b64 = |b: u8| b.is_ascii_alphanumeric() || b == b'+' || b == b'/';
    let chars: Vec<u8> = t
        .bytes()
        .filter(|b| *b != b' ' && !is_xml_space(char::from(*b)))
        .collect();
    if !chars.len().is_multiple_of(4) {
        return false;
    }
    let pad = chars.iter().rev().take_while(|b| **b == b'=').count();
    let data = &chars[..chars.len() - pad];
    if pad > 2 || !data.iter().all(|b| is_b64(*b)) {
        return false;
    }
    let value = |b: u8| match b {
        b'A'..=b'Z' => b - b'A',
        b'a'..=b'z' => b - b'a' + 26,
        b'0'..=b'9' => b - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    match (pad, data.last()) {
        (1, Some(&last)) => value(last) & 0b11 == 0,
        (2, Some(&last)) => value(last) & 0b1111 == 0,
        (0, _) => true,
        _ => false,
    }
}

fn is_decimal(t: &str) -> bool {
    let t = t.strip_prefix(['+', '-']).unwrap_or(t);
    let (int, frac) = t.split_once('.').unwrap_or((t, ""));
    !(int.is_empty() && frac.is_empty())
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
}

/// Parses an `xsd:boolean` lexical value: `true`, `false`, `1`, `0` (DM-04).
pub fn parse_bool(text: &str) -> Option<bool> {
    match text.trim() {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        // Seen from real CPEs; accepted on input, never emitted.
        t if t.eq_ignore_ascii_case("true") => Some(true),
        t if t.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// A typed value: the declared type and the text as sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize)]
pub struct Value {
    /// The declared `xsi:type` (string when absent).
    #[serde(rename = "type")]
    pub kind: ValueType,
    /// The text content, XML-unescaped.
    pub text: String,
}

impl Value {
    /// A string value.
    pub fn string(text: impl Into<String>) -> Self {
        Self {
            kind: ValueType::String,
            text: text.into(),
        }
    }
    /// An `xsd:unsignedInt` value.
    pub fn unsigned_int(v: u32) -> Self {
        Self {
            kind: ValueType::UnsignedInt,
            text: v.to_string(),
        }
    }
    /// An `xsd:int` value.
    pub fn int(v: i32) -> Self {
        Self {
            kind: ValueType::Int,
            text: v.to_string(),
        }
    }
    /// An `xsd:boolean` value (written with the encoder's boolean literal).
    pub fn boolean(v: bool) -> Self {
        Self {
            kind: ValueType::Boolean,
            text: if v { "true" } else { "false" }.to_owned(),
        }
    }
    /// An `xsd:dateTime` value.
    pub fn date_time(v: DateTime) -> Self {
        Self {
            kind: ValueType::DateTime,
            text: v.to_string(),
        }
    }
    /// A value with an explicit type.
    pub fn typed(kind: ValueType, text: impl Into<String>) -> Self {
        Self {
            kind,
            text: text.into(),
        }
    }
    /// The value as a boolean, if it is one.
    pub fn as_bool(&self) -> Option<bool> {
        parse_bool(&self.text)
    }
    /// The value as an unsigned 64-bit integer, if it parses as one.
    pub fn as_u64(&self) -> Option<u64> {
        self.text.trim().parse().ok()
    }
    /// The value as a signed 64-bit integer, if it parses as one.
    pub fn as_i64(&self) -> Option<i64> {
        self.text.trim().parse().ok()
    }
    /// The value as a date and time, if it parses as one.
    pub fn as_date_time(&self) -> Option<DateTime> {
        DateTime::parse(&self.text)
    }
}

/// `ParameterValueStruct`: a parameter name and its value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize)]
pub struct ParameterValue {
    /// Full parameter name, at most 256 characters.
    pub name: String,
    /// The value with its type.
    pub value: Value,
}

impl ParameterValue {
    /// Builds a parameter value.
    pub fn new(name: impl Into<String>, value: Value) -> Self {
        Self {
            name: name.into(),
            value,
        }
    }
}

#[cfg(test)]
mod tests {

    /// Every type but `Other`.
    fn known_types() -> [ValueType; 10] {
        [
            ValueType::String,
            ValueType::Int,
            ValueType::UnsignedInt,
            ValueType::Long,
            ValueType::UnsignedLong,
            ValueType::Boolean,
            ValueType::DateTime,
            ValueType::Base64,
            ValueType::HexBinary,
            ValueType::Decimal,
        ]
    }

    #[test]
    fn xsi_type_is_the_displayed_name() {
        for t in known_types()
            .into_iter()
            .chain([ValueType::Other("X_Vendor".into())])
        {
            assert_eq!(t.xsi_type(), t.to_string());
        }
    }
    use super::*;

    #[test]
    fn dm_04_booleans_accept_every_lexical_form() {
        for (t, v) in [
            ("true", true),
            ("1", true),
            ("false", false),
            ("0", false),
            (" TRUE ", true),
        ] {
            assert_eq!(parse_bool(t), Some(v), "{t}");
        }
        assert_eq!(parse_bool("yes"), None);
    }

    #[test]
    fn dm_03_lexical_checks_per_type() {
        assert!(ValueType::UnsignedInt.accepts("4294967295"));
        assert!(!ValueType::UnsignedInt.accepts("-1"));
        assert!(!ValueType::UnsignedInt.accepts("one day"));
        assert!(ValueType::Int.accepts("-2147483648"));
        assert!(!ValueType::Int.accepts("2147483648"));
        assert!(ValueType::HexBinary.accepts("0aFF"));
        assert!(!ValueType::HexBinary.accepts("0aF"));
        assert!(ValueType::Decimal.accepts("-1.50"));
        assert!(!ValueType::Decimal.accepts("."));
        assert!(ValueType::DateTime.accepts("0001-01-01T00:00:00Z"));
    }

    #[test]
    fn type_names_round_trip() {
        for t in known_types() {
            assert_eq!(ValueType::from_xsd_name(t.xsd_name()), t);
        }
        assert_eq!(ValueType::from_xsd_name("base64"), ValueType::Base64);
    }
}
