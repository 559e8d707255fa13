//! CWMP namespaces and protocol versions (ENV-01, ENV-02, ENV-03, ENV-07).
//!
//! Owns the mapping between the `cwmp` namespace URI found in a message and the protocol
//! versions it can carry. It must not decide which version a session uses: that is
//! [`crate::session`]'s job.

use serde::Serialize;
use std::fmt;

/// SOAP 1.1 envelope namespace (the only SOAP version CWMP uses).
pub const SOAP_ENV: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// SOAP 1.1 encoding namespace (arrays, `soap-enc:base64`).
pub const SOAP_ENC: &str = "http://schemas.xmlsoap.org/soap/encoding/";
/// XML Schema namespace (2001).
pub const XSD: &str = "http://www.w3.org/2001/XMLSchema";
/// XML Schema instance namespace (2001), for `xsi:type`.
pub const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";
/// The 1999 XML Schema namespace some old agents (netcwmp) still use; accepted on input.
pub const XSD_1999: &str = "http://www.w3.org/1999/XMLSchema";
/// The 1999 XML Schema instance namespace; accepted on input.
pub const XSI_1999: &str = "http://www.w3.org/1999/XMLSchema-instance";

/// The `cwmp` namespace of a message. CWMP 1.2, 1.3 and 1.4 all share `cwmp-1-2` (ENV-01).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum CwmpNamespace {
    /// `urn:dslforum-org:cwmp-1-0`
    #[serde(rename = "urn:dslforum-org:cwmp-1-0")]
    V1_0,
    /// `urn:dslforum-org:cwmp-1-1`
    #[serde(rename = "urn:dslforum-org:cwmp-1-1")]
    V1_1,
    /// `urn:dslforum-org:cwmp-1-2`, used by CWMP 1.2, 1.3 and 1.4.
    #[serde(rename = "urn:dslforum-org:cwmp-1-2")]
    V1_2,
}

impl CwmpNamespace {
    /// The namespace URI.
    pub const fn uri(self) -> &'static str {
        match self {
            Self::V1_0 => "urn:dslforum-org:cwmp-1-0",
            Self::V1_1 => "urn:dslforum-org:cwmp-1-1",
            Self::V1_2 => "urn:dslforum-org:cwmp-1-2",
        }
    }

    /// Parses a namespace URI. `urn:dslforum-org:cwmp-1-3` and `-1-4` do not exist in any
    /// schema but are sent by some peers (GenieACS emits `cwmp-1-3`): they are accepted as
    /// `cwmp-1-2` (ENV-02) and reported as a quirk by the decoder. Never emitted.
    pub fn from_uri(uri: &str) -> Option<(Self, bool)> {
        match uri {
            "urn:dslforum-org:cwmp-1-0" => Some((Self::V1_0, false)),
            "urn:dslforum-org:cwmp-1-1" => Some((Self::V1_1, false)),
            "urn:dslforum-org:cwmp-1-2" => Some((Self::V1_2, false)),
            "urn:dslforum-org:cwmp-1-3" | "urn:dslforum-org:cwmp-1-4" => Some((Self::V1_2, true)),
            _ => None,
        }
    }

    /// The highest protocol version this namespace can carry.
    pub const fn max_version(self) -> CwmpVersion {
        match self {
            Self::V1_0 => CwmpVersion::V1_0,
            Self::V1_1 => CwmpVersion::V1_1,
            Self::V1_2 => CwmpVersion::V1_4,
        }
    }

    /// The namespace a given protocol version is written in.
    pub const fn for_version(version: CwmpVersion) -> Self {
        match version.minor {
            0 => Self::V1_0,
            1 => Self::V1_1,
            _ => Self::V1_2,
        }
    }
}

impl fmt::Display for CwmpNamespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.uri())
    }
}

/// A CWMP protocol version `1.minor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CwmpVersion {
    /// Always 1 for every published version.
    pub major: u8,
    /// 0 to 4.
    pub minor: u8,
}

impl CwmpVersion {
    /// CWMP 1.0 (TR-069 Amendment 1).
    pub const V1_0: Self = Self { major: 1, minor: 0 };
    /// CWMP 1.1 (Amendment 2).
    pub const V1_1: Self = Self { major: 1, minor: 1 };
    /// CWMP 1.2 (Amendment 3).
    pub const V1_2: Self = Self { major: 1, minor: 2 };
    /// CWMP 1.3 (Amendment 4): adds the `SessionTimeout` header.
    pub const V1_3: Self = Self { major: 1, minor: 3 };
    /// CWMP 1.4 (Amendments 5 and 6): adds version negotiation and fault 8006.
    pub const V1_4: Self = Self { major: 1, minor: 4 };
    /// Every version this crate implements, lowest first.
    pub const ALL: [Self; 5] = [Self::V1_0, Self::V1_1, Self::V1_2, Self::V1_3, Self::V1_4];

    /// Parses `major.minor`, trimming spaces (icwmp sends `"1.0, 1.1"`).
    pub fn parse(text: &str) -> Option<Self> {
        let (major, minor) = text.trim().split_once('.')?;
        Some(Self {
            major: major.trim().parse().ok()?,
            minor: minor.trim().parse().ok()?,
        })
    }

    /// Parses a `SupportedCWMPVersions` list, skipping entries that are not versions.
    pub fn parse_list(text: &str) -> Vec<Self> {
        text.split(',').filter_map(Self::parse).collect()
    }

    /// Formats a list as `SupportedCWMPVersions` wants it: `1.0,1.1,1.2`.
    pub fn format_list(versions: &[Self]) -> String {
        let mut out = String::new();
        for (i, v) in versions.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&v.to_string());
        }
        out
    }

    /// The highest version present in both lists (ENV-07 step 2), if any.
    pub fn highest_common(ours: &[Self], theirs: &[Self]) -> Option<Self> {
        ours.iter().filter(|v| theirs.contains(v)).max().copied()
    }
}

impl fmt::Display for CwmpVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl Serialize for CwmpVersion {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_01_cwmp_1_2_namespace_carries_1_2_to_1_4() {
        assert_eq!(
            CwmpNamespace::for_version(CwmpVersion::V1_3),
            CwmpNamespace::V1_2
        );
        assert_eq!(
            CwmpNamespace::for_version(CwmpVersion::V1_4),
            CwmpNamespace::V1_2
        );
        assert_eq!(CwmpNamespace::V1_2.max_version(), CwmpVersion::V1_4);
    }

    #[test]
    fn env_02_nonexistent_cwmp_1_3_namespace_is_accepted_as_1_2_with_a_flag() {
        assert_eq!(
            CwmpNamespace::from_uri("urn:dslforum-org:cwmp-1-3"),
            Some((CwmpNamespace::V1_2, true))
        );
        assert_eq!(CwmpNamespace::from_uri("urn:dslforum-org:cwmp-2-0"), None);
    }

    #[test]
    fn env_07_version_lists_parse_with_spaces_and_negotiate_the_highest_common() {
        let theirs = CwmpVersion::parse_list("1.0, 1.1, 1.2 ,bogus");
        assert_eq!(
            theirs,
            vec![CwmpVersion::V1_0, CwmpVersion::V1_1, CwmpVersion::V1_2]
        );
        assert_eq!(
            CwmpVersion::highest_common(&CwmpVersion::ALL, &theirs),
            Some(CwmpVersion::V1_2)
        );
        assert_eq!(
            CwmpVersion::highest_common(&[CwmpVersion::V1_4], &theirs),
            None
        );
        assert_eq!(CwmpVersion::format_list(&theirs), "1.0,1.1,1.2");
    }
}
