//! A parameter's syntax: its primitive type plus the schema facets (length, ranges,
//! enumeration, list), and parsing `(xsi:type, text)` against it (DM-03, DM-06).
//!
//! Owns [`Syntax`], [`Range`], [`ListFacet`]. Patterns are carried from the schema but NOT
//! enforced: TR-181 patterns are full regular expressions and a half-right matcher would
//! refuse valid values. Enumerations, lengths and ranges are enforced.

use crate::fault::ValueError;
use crate::value::{Primitive, Value, base64_len};

/// An inclusive integer range; `None` bounds are open. `step` applies from `min`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// Lowest allowed value.
    pub min: Option<i128>,
    /// Highest allowed value.
    pub max: Option<i128>,
    /// Allowed increment, from `min` (or 0).
    pub step: Option<i128>,
}

impl Range {
    fn contains(&self, v: i128) -> bool {
        let above = self.min.is_none_or(|m| v >= m);
        let below = self.max.is_none_or(|m| v <= m);
        let on_step = self
            .step
            .is_none_or(|s| s <= 0 || (v - self.min.unwrap_or(0)) % s == 0);
        above && below && on_step
    }
}

/// The list facet: the value is a comma-separated list of items of the syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ListFacet {
    /// Fewest items.
    pub min_items: u32,
    /// Most items.
    pub max_items: Option<u32>,
    /// Maximum length of the whole list string.
    pub max_length: Option<u32>,
}

/// What values a parameter accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Syntax {
    /// The primitive type (of each item, for lists).
    pub primitive: Primitive,
    /// Present for list-valued parameters (DM-03 `list`).
    pub list: Option<ListFacet>,
    /// Minimum length (characters for strings, bytes for base64/hexBinary).
    pub min_length: Option<u32>,
    /// Maximum length (characters for strings, bytes for base64/hexBinary).
    pub max_length: Option<u32>,
    /// Allowed ranges for integers; empty = the type's full range. A value must be in one.
    pub ranges: Box<[Range]>,
    /// Allowed strings; empty = any.
    pub enumeration: Box<[Box<str>]>,
    /// Patterns from the schema (not enforced, see module doc).
    pub patterns: Box<[Box<str>]>,
}

impl Syntax {
    /// A syntax without facets.
    pub fn plain(primitive: Primitive) -> Syntax {
        Syntax {
            primitive,
            list: None,
            min_length: None,
            max_length: None,
            ranges: Box::new([]),
            enumeration: Box::new([]),
            patterns: Box::new([]),
        }
    }

    /// The `xsi:type` local name values of this syntax travel with (`string` for lists).
    pub fn wire_type(&self) -> &'static str {
        if self.list.is_some() {
            "string"
        } else {
            self.primitive.xsd_name()
        }
    }

    /// The value used when nothing else provides one.
    pub fn zero(&self) -> Value {
        if self.list.is_some() {
            Value::String("".into())
        } else {
            self.primitive.zero()
        }
    }

    /// Parses a value received with `xsi:type` `xsi_type` (prefix ignored; `None` = absent, in
    /// which case the text is parsed as the parameter's own type).
    pub fn parse_typed(&self, xsi_type: Option<&str>, text: &str) -> Result<Value, ValueError> {
        if let Some(given) = xsi_type {
            let local = given.rsplit(':').next().unwrap_or(given);
            let expected = self.wire_type();
            let same = Primitive::from_name(local)
                .is_some_and(|p| p.xsd_name() == expected || p.name() == expected);
            if !same {
                return Err(ValueError::WrongType {
                    expected,
                    got: given.to_owned(),
                });
            }
        }
        self.parse(text)
    }

    /// Parses and validates text against this syntax.
    pub fn parse(&self, text: &str) -> Result<Value, ValueError> {
        let Some(list) = &self.list else {
            return self.parse_item(text);
        };
        if let Some(max) = list.max_length
            && text.chars().count() > max as usize
        {
            return Err(ValueError::Invalid(format!(
                "list longer than {max} characters"
            )));
        }
        let mut count = 0u32;
        if !text.trim().is_empty() {
            for item in text.split(',') {
                self.parse_item(item.trim())?;
                count += 1;
            }
        }
        if count < list.min_items || list.max_items.is_some_and(|m| count > m) {
            return Err(ValueError::Invalid(format!(
                "{count} list items is outside the allowed count"
            )));
        }
        Ok(Value::String(text.into()))
    }

    /// Validates a value that came from inside the device (a handler or the agent) by its text.
    pub fn check(&self, value: &Value) -> Result<Value, ValueError> {
        let expected = self.wire_type();
        if value.primitive().xsd_name() != expected {
            return Err(ValueError::WrongType {
                expected,
                got: value.primitive().xsd_name().to_owned(),
            });
        }
        self.parse(&value.to_string())
    }

    fn parse_item(&self, text: &str) -> Result<Value, ValueError> {
        let value = self.primitive.parse(text)?;
        let len = match &value {
            Value::String(s) => Some(s.chars().count()),
            Value::Base64(s) => base64_len(s),
            Value::HexBinary(s) => Some(s.len() / 2),
            _ => None,
        };
        if let Some(len) = len {
            if self.min_length.is_some_and(|m| len < m as usize) {
                return Err(ValueError::Invalid(format!(
                    "shorter than {:?}",
                    self.min_length
                )));
            }
            if let Some(max) = self.max_length
                && len > max as usize
            {
                return Err(ValueError::Invalid(format!("longer than {max}")));
            }
        }
        if let Some(v) = value.as_i128()
            && !self.ranges.is_empty()
            && !self.ranges.iter().any(|r| r.contains(v))
        {
            return Err(ValueError::Invalid(format!("{v} is out of range")));
        }
        if !self.enumeration.is_empty()
            && let Value::String(s) = &value
            && !self.enumeration.iter().any(|e| **e == **s)
        {
            return Err(ValueError::Invalid(format!(
                "{s:?} is not an allowed value"
            )));
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranged(min: i128, max: Option<i128>) -> Syntax {
        Syntax {
            ranges: Box::new([Range {
                min: Some(min),
                max,
                step: None,
            }]),
            ..Syntax::plain(Primitive::UnsignedInt)
        }
    }

    #[test]
    fn xsi_type_mismatch_is_9006() {
        let s = Syntax::plain(Primitive::UnsignedInt);
        let err = s.parse_typed(Some("xsd:string"), "5").unwrap_err();
        assert_eq!(err.cwmp_fault_code(), 9006);
        assert!(s.parse_typed(Some("xsd:unsignedInt"), "5").is_ok());
        assert!(s.parse_typed(Some("unsignedInt"), "5").is_ok());
        assert!(s.parse_typed(None, "5").is_ok());
        let b = Syntax::plain(Primitive::Base64);
        assert!(b.parse_typed(Some("xsd:base64Binary"), "AA==").is_ok());
        assert!(b.parse_typed(Some("base64"), "AA==").is_ok());
    }

    #[test]
    fn ranges_and_steps_are_9007() {
        let s = ranged(30, None);
        assert_eq!(s.parse("29").unwrap_err().cwmp_fault_code(), 9007);
        assert!(s.parse("30").is_ok());
        let two = Syntax {
            ranges: Box::new([
                Range {
                    min: Some(-1),
                    max: Some(-1),
                    step: None,
                },
                Range {
                    min: Some(1),
                    max: None,
                    step: None,
                },
            ]),
            ..Syntax::plain(Primitive::Int)
        };
        assert!(two.parse("-1").is_ok());
        assert!(two.parse("0").is_err());
        let stepped = Syntax {
            ranges: Box::new([Range {
                min: Some(0),
                max: Some(100),
                step: Some(10),
            }]),
            ..Syntax::plain(Primitive::Int)
        };
        assert!(stepped.parse("20").is_ok());
        assert!(stepped.parse("25").is_err());
    }

    #[test]
    fn lengths_enumerations_and_lists() {
        let s = Syntax {
            max_length: Some(4),
            ..Syntax::plain(Primitive::String)
        };
        assert!(s.parse("abcd").is_ok());
        assert!(s.parse("abcde").is_err());
        let e = Syntax {
            enumeration: Box::new(["InstanceNumber".into(), "InstanceAlias".into()]),
            ..Syntax::plain(Primitive::String)
        };
        assert!(e.parse("InstanceAlias").is_ok());
        assert!(e.parse("Other").is_err());
        let l = Syntax {
            list: Some(ListFacet {
                min_items: 0,
                max_items: Some(2),
                max_length: None,
            }),
            ..e.clone()
        };
        assert_eq!(l.wire_type(), "string");
        assert!(l.parse("").is_ok());
        assert!(l.parse("InstanceAlias, InstanceNumber").is_ok());
        assert!(l.parse("InstanceAlias,Bogus").is_err());
        assert!(
            l.parse("InstanceAlias,InstanceAlias,InstanceAlias")
                .is_err()
        );
        let hex = Syntax {
            max_length: Some(2),
            ..Syntax::plain(Primitive::HexBinary)
        };
        assert!(hex.parse("0102").is_ok());
        assert!(hex.parse("010203").is_err());
    }
}
