//! Typed parameter values (DM-03, DM-04) and their wire rendering.
//!
//! Owns [`Primitive`], [`Value`] and [`RenderOptions`]. Validation against a parameter's
//! facets (ranges, lengths, enumerations, lists) lives in `syntax.rs`.

use std::fmt;

use crate::datetime::DateTime;
use crate::fault::ValueError;

/// The TR-106 primitive types (cwmp-datamodel `BuiltinTypeName`, less `list`, which is a facet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Primitive {
    /// `string`
    String,
    /// `int`, 32-bit signed
    Int,
    /// `unsignedInt`, 32-bit
    UnsignedInt,
    /// `long`, 64-bit signed
    Long,
    /// `unsignedLong`, 64-bit
    UnsignedLong,
    /// `boolean`
    Boolean,
    /// `dateTime`
    DateTime,
    /// `base64` (xsd:base64Binary)
    Base64,
    /// `hexBinary`
    HexBinary,
    /// `decimal`
    Decimal,
}

impl Primitive {
    /// The name used in the BBF XML and the compact schema (`unsignedInt`, `base64`).
    pub fn name(self) -> &'static str {
        match self {
            Primitive::String => "string",
            Primitive::Int => "int",
            Primitive::UnsignedInt => "unsignedInt",
            Primitive::Long => "long",
            Primitive::UnsignedLong => "unsignedLong",
            Primitive::Boolean => "boolean",
            Primitive::DateTime => "dateTime",
            Primitive::Base64 => "base64",
            Primitive::HexBinary => "hexBinary",
            Primitive::Decimal => "decimal",
        }
    }

    /// The XML Schema local name carried in `xsi:type` (`base64Binary` for base64).
    pub fn xsd_name(self) -> &'static str {
        match self {
            Primitive::Base64 => "base64Binary",
            other => other.name(),
        }
    }

    /// Parses a BBF/compact schema type name.
    pub fn from_name(name: &str) -> Option<Primitive> {
        Some(match name {
            "string" => Primitive::String,
            "int" => Primitive::Int,
            "unsignedInt" => Primitive::UnsignedInt,
            "long" => Primitive::Long,
            "unsignedLong" => Primitive::UnsignedLong,
            "boolean" => Primitive::Boolean,
            "dateTime" => Primitive::DateTime,
            "base64" | "base64Binary" => Primitive::Base64,
            "hexBinary" => Primitive::HexBinary,
            "decimal" => Primitive::Decimal,
            _ => return None,
        })
    }

    /// `true` for the integer types, which take `range` facets.
    pub fn is_integer(self) -> bool {
        matches!(
            self,
            Primitive::Int | Primitive::UnsignedInt | Primitive::Long | Primitive::UnsignedLong
        )
    }

    /// The value a parameter of this type reads as when nothing set it and the schema gives no
    /// default: `""`, `0`, `false`, or the Unknown Time.
    pub fn zero(self) -> Value {
        match self {
            Primitive::String => Value::String("".into()),
            Primitive::Int => Value::Int(0),
            Primitive::UnsignedInt => Value::UnsignedInt(0),
            Primitive::Long => Value::Long(0),
            Primitive::UnsignedLong => Value::UnsignedLong(0),
            Primitive::Boolean => Value::Boolean(false),
            Primitive::DateTime => Value::DateTime(DateTime::UNKNOWN),
            Primitive::Base64 => Value::Base64("".into()),
            Primitive::HexBinary => Value::HexBinary("".into()),
            Primitive::Decimal => Value::Decimal("0".into()),
        }
    }

    /// Parses text as this primitive, without any facet check. Non-string types ignore
    /// surrounding XML whitespace.
    pub fn parse(self, text: &str) -> Result<Value, ValueError> {
        let bad = || ValueError::Invalid(format!("{text:?} is not a valid {}", self.name()));
        let t = text.trim_matches(|c: char| c.is_ascii_whitespace());
        let digits = t.strip_prefix('+').unwrap_or(t);
        Ok(match self {
            Primitive::String => Value::String(text.into()),
            Primitive::Int => Value::Int(digits.parse().map_err(|_| bad())?),
            Primitive::UnsignedInt => Value::UnsignedInt(digits.parse().map_err(|_| bad())?),
            Primitive::Long => Value::Long(digits.parse().map_err(|_| bad())?),
            Primitive::UnsignedLong => Value::UnsignedLong(digits.parse().map_err(|_| bad())?),
            Primitive::Boolean => match t {
                "1" => Value::Boolean(true),
                "0" => Value::Boolean(false),
                _ if t.eq_ignore_ascii_case("true") => Value::Boolean(true),
                _ if t.eq_ignore_ascii_case("false") => Value::Boolean(false),
                _ => return Err(bad()),
            },
            Primitive::DateTime => Value::DateTime(DateTime::parse(t)?),
            Primitive::Base64 => {
                base64_len(t).ok_or_else(bad)?;
                Value::Base64(t.into())
            }
            Primitive::HexBinary => {
                if t.len() % 2 != 0 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(bad());
                }
                Value::HexBinary(t.into())
            }
            Primitive::Decimal => {
                let unsigned = t.strip_prefix(['+', '-']).unwrap_or(t);
                let (int, frac) = unsigned.split_once('.').unwrap_or((unsigned, ""));
                let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
                if int.len() + frac.len() == 0 || !all_digits(int) || !all_digits(frac) {
                    return Err(bad());
                }
                Value::Decimal(t.into())
            }
        })
    }
}

/// The decoded byte length of base64 text, or `None` if it is not base64.
pub(crate) fn base64_len(text: &str) -> Option<usize> {
    let mut chars = 0usize;
    let mut pad = 0usize;
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'+' | b'/' if pad == 0 => chars += 1,
            b'=' => pad += 1,
            b' ' | b'\t' | b'\r' | b'\n' => {}
            _ => return None,
        }
    }
    if !(chars + pad).is_multiple_of(4) || pad > 2 {
        return None;
    }
    Some((chars + pad) / 4 * 3 - pad)
}

/// A typed value. Strings and the binary types keep their text (canonical as received).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// `string` (also every list, which is a comma-separated string on the wire)
    String(Box<str>),
    /// `int`
    Int(i32),
    /// `unsignedInt`
    UnsignedInt(u32),
    /// `long`
    Long(i64),
    /// `unsignedLong`
    UnsignedLong(u64),
    /// `boolean`
    Boolean(bool),
    /// `dateTime`
    DateTime(DateTime),
    /// `base64`, kept as text
    Base64(Box<str>),
    /// `hexBinary`, kept as text
    HexBinary(Box<str>),
    /// `decimal`, kept as text
    Decimal(Box<str>),
}

/// Choices of the wire form where peers disagree (DM-04).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RenderOptions {
    /// Emit booleans as `1`/`0` instead of `true`/`false`.
    pub boolean_as_digit: bool,
    /// Drop fractional seconds from dateTime values.
    pub datetime_without_fraction: bool,
}

impl Value {
    /// A string value.
    pub fn string(s: impl Into<Box<str>>) -> Value {
        Value::String(s.into())
    }

    /// The primitive type of the value.
    pub fn primitive(&self) -> Primitive {
        match self {
            Value::String(_) => Primitive::String,
            Value::Int(_) => Primitive::Int,
            Value::UnsignedInt(_) => Primitive::UnsignedInt,
            Value::Long(_) => Primitive::Long,
            Value::UnsignedLong(_) => Primitive::UnsignedLong,
            Value::Boolean(_) => Primitive::Boolean,
            Value::DateTime(_) => Primitive::DateTime,
            Value::Base64(_) => Primitive::Base64,
            Value::HexBinary(_) => Primitive::HexBinary,
            Value::Decimal(_) => Primitive::Decimal,
        }
    }

    /// The `xsi:type` to send with the value, with the conventional `xsd:` prefix.
    pub fn xsi_type(&self) -> String {
        format!("xsd:{}", self.primitive().xsd_name())
    }

    /// The wire text under the given options.
    pub fn render(&self, opts: &RenderOptions) -> String {
        match self {
            Value::Boolean(b) if opts.boolean_as_digit => if *b { "1" } else { "0" }.to_owned(),
            Value::DateTime(t) => t.render(!opts.datetime_without_fraction),
            other => other.to_string(),
        }
    }

    /// The text of a string-like value (string, base64, hexBinary, decimal).
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) | Value::Base64(s) | Value::HexBinary(s) | Value::Decimal(s) => {
                Some(s)
            }
            _ => None,
        }
    }

    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Boolean(b) => Some(*b),
            _ => None,
        }
    }

    /// Any integer value widened to `i128`.
    pub fn as_i128(&self) -> Option<i128> {
        match self {
            Value::Int(v) => Some((*v).into()),
            Value::UnsignedInt(v) => Some((*v).into()),
            Value::Long(v) => Some((*v).into()),
            Value::UnsignedLong(v) => Some((*v).into()),
            _ => None,
        }
    }

    /// The dateTime, if this is one.
    pub fn as_datetime(&self) -> Option<DateTime> {
        match self {
            Value::DateTime(t) => Some(*t),
            _ => None,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::String(s) | Value::Base64(s) | Value::HexBinary(s) | Value::Decimal(s) => {
                f.write_str(s)
            }
            Value::Int(v) => write!(f, "{v}"),
            Value::UnsignedInt(v) => write!(f, "{v}"),
            Value::Long(v) => write!(f, "{v}"),
            Value::UnsignedLong(v) => write!(f, "{v}"),
            Value::Boolean(b) => f.write_str(if *b { "true" } else { "false" }),
            Value::DateTime(t) => write!(f, "{t}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boolean_accepts_words_and_digits_dm04() {
        for (text, want) in [("true", true), ("1", true), ("false", false), ("0", false)] {
            assert_eq!(
                Primitive::Boolean.parse(text).unwrap(),
                Value::Boolean(want)
            );
        }
        assert!(Primitive::Boolean.parse("yes").is_err());
        let opts = RenderOptions {
            boolean_as_digit: true,
            ..Default::default()
        };
        assert_eq!(Value::Boolean(false).render(&opts), "0");
        assert_eq!(Value::Boolean(false).to_string(), "false");
    }

    #[test]
    fn integer_bounds() {
        assert!(Primitive::Int.parse("-2147483648").is_ok());
        assert!(Primitive::Int.parse("2147483648").is_err());
        assert!(Primitive::UnsignedInt.parse("-1").is_err());
        assert!(Primitive::UnsignedInt.parse("4294967295").is_ok());
        assert!(
            Primitive::UnsignedLong
                .parse("18446744073709551615")
                .is_ok()
        );
        assert!(Primitive::Long.parse("12x").is_err());
        assert_eq!(Primitive::Int.parse(" +7 ").unwrap(), Value::Int(7));
    }

    #[test]
    fn binary_and_decimal() {
        assert_eq!(base64_len("AAEC"), Some(3));
        assert_eq!(base64_len("AA=="), Some(1));
        assert!(Primitive::Base64.parse("A===").is_err());
        assert!(Primitive::Base64.parse("AA=A").is_err());
        assert!(Primitive::HexBinary.parse("0aF").is_err());
        assert!(Primitive::HexBinary.parse("0aFF").is_ok());
        assert!(Primitive::Decimal.parse("-12.50").is_ok());
        assert!(Primitive::Decimal.parse(".").is_err());
        assert!(Primitive::Decimal.parse("1e3").is_err());
    }

    #[test]
    fn xsi_types_and_zero_values() {
        assert_eq!(Value::Base64("".into()).xsi_type(), "xsd:base64Binary");
        assert_eq!(Value::UnsignedInt(1).xsi_type(), "xsd:unsignedInt");
        assert_eq!(
            Primitive::DateTime.zero().to_string(),
            "0001-01-01T00:00:00Z"
        );
    }
}
