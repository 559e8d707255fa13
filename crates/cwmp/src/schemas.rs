//! The Broadband Forum CWMP schemas (BSD-3-Clause, license headers intact), the SOAP 1.1
//! schemas, the strict envelope wrappers and the XML catalog, embedded as data so tools can
//! validate messages offline (`tether cwmp validate`, the test suite). Nothing here reads or
//! writes files: callers lay the files out where their validator needs them.

use crate::namespace::CwmpNamespace;

/// `(relative path, contents)` of every schema file, laid out as the catalog expects.
pub const FILES: &[(&str, &str)] = &[
    ("catalog.xml", include_str!("../schemas/catalog.xml")),
    (
        "bbf/cwmp-1-0.xsd",
        include_str!("../schemas/bbf/cwmp-1-0.xsd"),
    ),
    (
        "bbf/cwmp-1-1.xsd",
        include_str!("../schemas/bbf/cwmp-1-1.xsd"),
    ),
    (
        "bbf/cwmp-1-2.xsd",
        include_str!("../schemas/bbf/cwmp-1-2.xsd"),
    ),
    (
        "bbf/cwmp-1-3.xsd",
        include_str!("../schemas/bbf/cwmp-1-3.xsd"),
    ),
    (
        "bbf/cwmp-1-4.xsd",
        include_str!("../schemas/bbf/cwmp-1-4.xsd"),
    ),
    (
        "soap/soap-envelope-1.1.xsd",
        include_str!("../schemas/soap/soap-envelope-1.1.xsd"),
    ),
    (
        "soap/soap-encoding-1.1.xsd",
        include_str!("../schemas/soap/soap-encoding-1.1.xsd"),
    ),
    (
        "strict/soap-envelope-1.1-strict.xsd",
        include_str!("../schemas/strict/soap-envelope-1.1-strict.xsd"),
    ),
    (
        "strict/cwmp-1-0-envelope-strict.xsd",
        include_str!("../schemas/strict/cwmp-1-0-envelope-strict.xsd"),
    ),
    (
        "strict/cwmp-1-1-envelope-strict.xsd",
        include_str!("../schemas/strict/cwmp-1-1-envelope-strict.xsd"),
    ),
    (
        "strict/cwmp-1-2-envelope-strict.xsd",
        include_str!("../schemas/strict/cwmp-1-2-envelope-strict.xsd"),
    ),
    (
        "strict/cwmp-1-3-envelope-strict.xsd",
        include_str!("../schemas/strict/cwmp-1-3-envelope-strict.xsd"),
    ),
    (
        "strict/cwmp-1-4-envelope-strict.xsd",
        include_str!("../schemas/strict/cwmp-1-4-envelope-strict.xsd"),
    ),
];

/// The strict whole-envelope schema for a namespace (VALIDATING.md: pick by namespace; the
/// cwmp-1-2 namespace is validated with the 1.4 schema, which includes 1.2 and 1.3).
pub fn strict_schema_for(ns: CwmpNamespace) -> &'static str {
    match ns {
        CwmpNamespace::V1_0 => "strict/cwmp-1-0-envelope-strict.xsd",
        CwmpNamespace::V1_1 => "strict/cwmp-1-1-envelope-strict.xsd",
        CwmpNamespace::V1_2 => "strict/cwmp-1-4-envelope-strict.xsd",
    }
}
