//! Parameter path syntax (DM-11, RPC-02, RPC-11, RPC-13): parsing and validation only.
//!
//! Owns [`Path`] and [`Segment`]. Knows nothing of the schema: whether `Device.Foo` exists, or
//! whether a `*` stands where an instance number may stand, is decided by the tree.

use std::fmt;

use crate::fault::DataModelError;

/// The maximum length of a parameter path (XSD `string(256)`).
pub const MAX_PATH_LEN: usize = 256;

/// One dot-separated piece of a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segment<'a> {
    /// An object or parameter name (`DeviceInfo`, `SerialNumber`).
    Name(&'a str),
    /// An instance number (≥ 1).
    Instance(u32),
    /// `*` in place of an instance number (RPC-11).
    Wildcard,
    /// `[alias]` in place of an instance number (RPC-13).
    Alias(&'a str),
    /// `{i}` in a schema path.
    Placeholder,
}

/// A syntactically valid path: a parameter name, a partial path ending with `.`, or `""` (the
/// top of the hierarchy).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Path {
    text: String,
}

impl Path {
    /// Parses and validates a path as given in an RPC. Placeholders (`{i}`) are refused: they
    /// only appear in schema paths (see [`Path::parse_schema`]).
    pub fn parse(text: &str) -> Result<Path, DataModelError> {
        Self::check(text, false)?;
        Ok(Path {
            text: text.to_owned(),
        })
    }

    /// Parses a schema path, where `{i}` stands for any instance number.
    pub fn parse_schema(text: &str) -> Result<Path, DataModelError> {
        Self::check(text, true)?;
        Ok(Path {
            text: text.to_owned(),
        })
    }

    fn check(text: &str, allow_placeholder: bool) -> Result<(), DataModelError> {
        let bad = |why: &str| DataModelError::InvalidName(format!("{text:?}: {why}"));
        if text.len() > MAX_PATH_LEN {
            return Err(bad("longer than 256 characters"));
        }
        if text.is_empty() {
            return Ok(());
        }
        let body = text.strip_suffix('.').unwrap_or(text);
        for (i, raw) in body.split('.').enumerate() {
            match classify(raw) {
                Some(Segment::Placeholder) if !allow_placeholder => {
                    return Err(bad("{i} is only allowed in schema paths"));
                }
                Some(Segment::Name(_)) => {}
                Some(_) if i == 0 => return Err(bad("must start with an object name")),
                Some(_) => {}
                None => return Err(bad(&format!("invalid segment {raw:?}"))),
            }
        }
        Ok(())
    }

    /// The path as text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// `true` for `""` and for paths ending with `.` (objects, tables, instances).
    pub fn is_partial(&self) -> bool {
        self.text.is_empty() || self.text.ends_with('.')
    }

    /// `true` for `""`.
    pub fn is_root(&self) -> bool {
        self.text.is_empty()
    }

    /// The segments, without the trailing empty one of a partial path.
    pub fn segments(&self) -> impl Iterator<Item = Segment<'_>> + '_ {
        segments(&self.text)
    }

    /// `true` if any segment is `*`.
    pub fn has_wildcard(&self) -> bool {
        self.segments().any(|s| s == Segment::Wildcard)
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Splits a (pre-validated or not) path into segments; invalid segments come out as names and
/// are then simply not found.
pub(crate) fn segments(text: &str) -> impl Iterator<Item = Segment<'_>> + '_ {
    let body = text.strip_suffix('.').unwrap_or(text);
    body.split('.')
        .filter(move |_| !text.is_empty())
        .map(|raw| classify(raw).unwrap_or(Segment::Name(raw)))
}

fn classify(raw: &str) -> Option<Segment<'_>> {
    if raw == "*" {
        return Some(Segment::Wildcard);
    }
    if raw == "{i}" {
        return Some(Segment::Placeholder);
    }
    if let Some(inner) = raw.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        let ok = !inner.is_empty() && !inner.contains(['[', ']', '.']);
        return ok.then_some(Segment::Alias(inner));
    }
    let first = raw.chars().next()?;
    if first.is_ascii_digit() {
        if first == '0' || !raw.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        return raw.parse::<u32>().ok().map(Segment::Instance);
    }
    let name_ok = (first.is_ascii_alphabetic() || first == '_')
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    name_ok.then_some(Segment::Name(raw))
}

/// The schema path of an instance path: every instance number (or `*`, or `[alias]`) becomes
/// `{i}`. `Device.IP.Interface.3.Stats.` → `Device.IP.Interface.{i}.Stats.`.
pub fn schema_path_of(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 4);
    for seg in path.split_inclusive('.') {
        let (body, dot) = match seg.strip_suffix('.') {
            Some(b) => (b, "."),
            None => (seg, ""),
        };
        match classify(body) {
            Some(Segment::Instance(_) | Segment::Wildcard | Segment::Alias(_)) => {
                out.push_str("{i}");
            }
            _ => out.push_str(body),
        }
        out.push_str(dot);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_partial_and_root() {
        let p = Path::parse("Device.DeviceInfo.SerialNumber").unwrap();
        assert!(!p.is_partial());
        let p = Path::parse("Device.IP.Interface.3.").unwrap();
        assert!(p.is_partial());
        assert_eq!(
            p.segments().collect::<Vec<_>>(),
            [
                Segment::Name("Device"),
                Segment::Name("IP"),
                Segment::Name("Interface"),
                Segment::Instance(3)
            ]
        );
        let root = Path::parse("").unwrap();
        assert!(root.is_root() && root.is_partial());
        assert_eq!(root.segments().count(), 0);
    }

    #[test]
    fn rejects_bad_syntax() {
        for bad in [
            "Device..X",
            ".Device",
            "Device.IP.Interface.0.",
            "Device.IP.Interface.01.",
            "Device.IP.Interface.{i}.",
            "1.Device",
            "Device.A B",
            "Device.[].",
            "Device.IP.Interface.99999999999.",
        ] {
            let err = Path::parse(bad).unwrap_err();
            assert_eq!(err.cwmp_fault_code(), 9005, "{bad}");
        }
        let long = format!("Device.{}", "A".repeat(250));
        assert!(Path::parse(&long).is_err());
        let fits = format!("Device.{}", "A".repeat(249));
        assert!(Path::parse(&fits).is_ok());
    }

    #[test]
    fn wildcards_aliases_and_schema_paths() {
        let p = Path::parse("Device.IP.Interface.*.Enable").unwrap();
        assert!(p.has_wildcard());
        let p = Path::parse("Device.IP.Interface.[cpe-1].Enable").unwrap();
        assert!(p.segments().any(|s| s == Segment::Alias("cpe-1")));
        assert!(Path::parse_schema("Device.IP.Interface.{i}.").is_ok());
        assert_eq!(
            schema_path_of("Device.IP.Interface.3.IPv4Address.*.IPAddress"),
            "Device.IP.Interface.{i}.IPv4Address.{i}.IPAddress"
        );
        assert_eq!(schema_path_of("Device."), "Device.");
    }
}
