//! Shared helpers of the conformance suite: where the vendored schemas and samples live, and
//! schema validation of many messages with few `xmllint` runs.
//!
//! Validation follows `schemas/../VALIDATING.md` method A: the strict envelope wrapper of the
//! message's `cwmp` namespace (`cwmp-1-0` → `strict/cwmp-1-0-envelope-strict.xsd`, `cwmp-1-1` →
//! `1-1`, `cwmp-1-2` → `1-4`, which also declares the 1.3/1.4 headers), the vendored OASIS catalog
//! in `XML_CATALOG_FILES`, `--nonet`. Messages are written to a temporary directory and each
//! namespace is validated in ONE `xmllint` process (one schema compilation per namespace).
//!
//! `xmllint` is required: without it the helpers panic (never skip), because a conformance suite
//! that silently validates nothing proves nothing. CI installs `libxml2-utils`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use tether_cwmp::CwmpNamespace;

/// The vendored schemas (`crates/cwmp/schemas`): `catalog.xml`, `bbf/`, `soap/`, `strict/`.
pub(crate) fn schemas_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schemas")
}

/// The vendored sample messages (`crates/cwmp/tests/fixtures/samples`).
pub(crate) fn samples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/samples")
}

/// The strict wrapper schema (relative to [`schemas_dir`]) for messages in `ns`.
pub(crate) fn strict_schema_for(ns: CwmpNamespace) -> &'static str {
    match ns {
        CwmpNamespace::V1_0 => "strict/cwmp-1-0-envelope-strict.xsd",
        CwmpNamespace::V1_1 => "strict/cwmp-1-1-envelope-strict.xsd",
        CwmpNamespace::V1_2 => "strict/cwmp-1-4-envelope-strict.xsd",
    }
}

/// The verdict of `xmllint` on one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Validation {
    /// `xmllint` printed `<file> validates`.
    pub(crate) valid: bool,
    /// Every diagnostic line `xmllint` printed about this file (schema and parser errors).
    pub(crate) errors: Vec<String>,
}

/// Validates every message against the strict schema of `ns`, in one `xmllint` run. The result
/// has one entry per message, in order.
///
/// Panics if `xmllint` is not installed or if the schema does not compile (exit status 5):
/// both are environment errors, not verdicts about the messages.
pub(crate) fn validate_batch(ns: CwmpNamespace, messages: &[String]) -> Vec<Validation> {
    if messages.is_empty() {
        return Vec::new();
    }
    let dir = tempfile::tempdir().expect("create a temporary directory");
    let mut files = Vec::with_capacity(messages.len());
    for (i, m) in messages.iter().enumerate() {
        let path = dir.path().join(format!("msg-{i:06}.xml"));
        std::fs::write(&path, m).expect("write a message file");
        files.push(path);
    }
    let schemas = schemas_dir();
    let output = Command::new("xmllint")
        .current_dir(&schemas)
        .env("XML_CATALOG_FILES", schemas.join("catalog.xml"))
        .args(["--noout", "--nonet", "--schema", strict_schema_for(ns)])
        .args(&files)
        .output();
    let output = match output {
        Ok(o) => o,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!("xmllint not found: install libxml2-utils (the CI script does)")
        }
        Err(e) => panic!("could not run xmllint: {e}"),
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_ne!(
        output.status.code(),
        Some(5),
        "the schema {} did not compile:\n{stderr}",
        strict_schema_for(ns)
    );

    let names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    let mut results = vec![
        Validation {
            valid: false,
            errors: Vec::new()
        };
        messages.len()
    ];
    for line in stderr.lines() {
        if line.contains("Skipping import of schema") {
            continue;
        }
        // File names are `msg-NNNNNN.xml`, all of the same length: a prefix test is exact.
        let Some(i) = names.iter().position(|n| line.starts_with(n.as_str())) else {
            continue;
        };
        let rest = &line[names[i].len()..];
        if rest == " validates" {
            results[i].valid = true;
        } else if rest != " fails to validate" {
            results[i].errors.push(line.to_owned());
        }
    }
    results
}

/// Validates messages of any namespaces: one `xmllint` run per namespace present. Results are
/// in input order.
pub(crate) fn validate_all(messages: &[(CwmpNamespace, String)]) -> Vec<Validation> {
    let mut by_ns: BTreeMap<CwmpNamespace, Vec<usize>> = BTreeMap::new();
    for (i, (ns, _)) in messages.iter().enumerate() {
        by_ns.entry(*ns).or_default().push(i);
    }
    let mut results = vec![
        Validation {
            valid: false,
            errors: Vec::new()
        };
        messages.len()
    ];
    for (ns, indices) in by_ns {
        let batch: Vec<String> = indices.iter().map(|&i| messages[i].1.clone()).collect();
        for (i, v) in indices.into_iter().zip(validate_batch(ns, &batch)) {
            results[i] = v;
        }
    }
    results
}

/// Asserts that every labelled message validates, listing every failure (label, errors and the
/// message itself) in one panic message.
pub(crate) fn assert_all_validate(labelled: &[(String, CwmpNamespace, String)]) {
    let input: Vec<(CwmpNamespace, String)> =
        labelled.iter().map(|(_, ns, m)| (*ns, m.clone())).collect();
    let results = validate_all(&input);
    let mut report = String::new();
    let mut failures = 0;
    for ((label, ns, msg), v) in labelled.iter().zip(&results) {
        if !v.valid {
            failures += 1;
            if failures <= 20 {
                report.push_str(&format!(
                    "\n--- {label} ({ns}):\n{}\n{msg}\n",
                    v.errors.join("\n")
                ));
            }
        }
    }
    assert_eq!(
        failures,
        0,
        "{failures} of {} messages failed to validate:{report}",
        labelled.len()
    );
}
