//! `tether cwmp decode|validate`: read a captured CWMP envelope (a file or standard input,
//! optionally gzip-compressed), print it as JSON, or check it against the Broadband Forum
//! schemas with `xmllint` and against the TR-069 rules a schema cannot express.

use clap::Subcommand;
use serde_json::{Map, Value, json};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use tether_cwmp::{Decoded, Quirk, decode_with};

/// Largest capture accepted, after decompression.
const MAX_INPUT: usize = 32 * 1024 * 1024;

#[derive(Debug, Subcommand)]
pub enum CwmpCommand {
    /// Print an envelope as JSON (namespace, header, method, arguments, quirks).
    Decode {
        /// The file to read, or `-` for standard input.
        file: PathBuf,
        /// The HTTP Content-Type the message came with (its charset is honoured).
        #[arg(long)]
        content_type: Option<String>,
    },
    /// Check an envelope against the Broadband Forum schema of its namespace and TR-069 rules.
    Validate {
        /// The file to read, or `-` for standard input.
        file: PathBuf,
        /// The HTTP Content-Type the message came with (its charset is honoured).
        #[arg(long)]
        content_type: Option<String>,
    },
}

pub fn run(command: CwmpCommand) -> ExitCode {
    match command {
        CwmpCommand::Decode { file, content_type } => match read_input(&file) {
            Ok(bytes) => decode_cmd(&file, &bytes, content_type.as_deref()),
            Err(e) => usage_error(&e),
        },
        CwmpCommand::Validate { file, content_type } => match read_input(&file) {
            Ok(bytes) => validate_cmd(&file, &bytes, content_type.as_deref()),
            Err(e) => usage_error(&e),
        },
    }
}

fn usage_error(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}

fn read_input(file: &Path) -> Result<Vec<u8>, String> {
    let mut raw = Vec::new();
    let result = if file.as_os_str() == "-" {
        std::io::stdin()
            .take(MAX_INPUT as u64 + 1)
            .read_to_end(&mut raw)
    } else {
        std::fs::File::open(file).and_then(|f| f.take(MAX_INPUT as u64 + 1).read_to_end(&mut raw))
    };
    result.map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    if raw.len() > MAX_INPUT {
        return Err(format!(
            "{} is larger than {MAX_INPUT} bytes",
            file.display()
        ));
    }
    if raw.starts_with(&[0x1f, 0x8b]) {
        return tether_cwmp::compression::decode_content_encoding(Some("gzip"), &raw, MAX_INPUT)
            .map(|c| c.into_owned())
            .map_err(|e| format!("cannot decompress {}: {e}", file.display()));
    }
    Ok(raw)
}

fn decode(bytes: &[u8], content_type: Option<&str>) -> Result<Decoded, tether_cwmp::DecodeError> {
    let options = tether_cwmp::DecodeOptions {
        max_bytes: MAX_INPUT,
        ..Default::default()
    };
    decode_with(bytes, content_type, &options)
}

fn to_json(decoded: &Decoded) -> Value {
    let env = &decoded.envelope;
    let mut out = Map::new();
    out.insert("namespace".into(), json!(env.namespace.uri()));
    out.insert(
        "header".into(),
        serde_json::to_value(&env.header).unwrap_or(Value::Null),
    );
    match serde_json::to_value(&env.body) {
        Ok(Value::Object(body)) => out.extend(body),
        Ok(Value::String(method)) => {
            out.insert("method".into(), Value::String(method));
        }
        _ => {}
    }
    out.entry("arguments").or_insert(Value::Null);
    let quirks: Vec<Value> = decoded
        .quirks
        .iter()
        .map(|q| json!(q.to_string()))
        .collect();
    out.insert("quirks".into(), Value::Array(quirks));
    Value::Object(out)
}

fn decode_cmd(file: &Path, bytes: &[u8], content_type: Option<&str>) -> ExitCode {
    match decode(bytes, content_type) {
        Ok(decoded) => {
            let text = match serde_json::to_string_pretty(&to_json(&decoded)) {
                Ok(text) => text,
                Err(e) => return usage_error(&format!("cannot print JSON: {e}")),
            };
            // A closed pipe (`| head`) is not an error worth a panic.
            let _ = writeln!(std::io::stdout().lock(), "{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{}: {e}", file.display());
            ExitCode::from(1)
        }
    }
}

/// TR-069 rules the XSD cannot check, from what the lenient decoder had to tolerate.
fn rule_violations(decoded: &Decoded) -> Vec<String> {
    decoded
        .quirks
        .iter()
        .filter_map(|q| match q {
            Quirk::MissingXsiType { .. } => Some(format!("ENV-10: {q}")),
            Quirk::ArrayCountMismatch { .. } => Some(format!("ENV-09: {q}")),
            Quirk::ExtraBodyElements => Some(format!("ENV-08: {q}")),
            Quirk::NonStandardNamespace { .. } => Some(format!("ENV-02: {q}")),
            Quirk::ControlCharactersReplaced { .. } => Some(format!("ENV-12: {q}")),
            _ => None,
        })
        .collect()
}

fn validate_cmd(file: &Path, bytes: &[u8], content_type: Option<&str>) -> ExitCode {
    let decoded = match decode(bytes, content_type) {
        Ok(d) => d,
        Err(e) => {
            println!("{}: invalid", file.display());
            println!("  {e}");
            return ExitCode::from(1);
        }
    };
    let schema = tether_cwmp::schemas::strict_schema_for(decoded.envelope.namespace);
    let xsd = match xmllint(bytes, schema) {
        Ok(r) => r,
        Err(e) => return usage_error(&e),
    };
    let rules = rule_violations(&decoded);
    let ok = xsd.is_empty() && rules.is_empty();
    println!(
        "{}: {} ({} {}, schema {schema})",
        file.display(),
        if ok { "valid" } else { "invalid" },
        decoded.envelope.body.method_name(),
        decoded.envelope.namespace.uri()
    );
    for line in xsd.iter().chain(rules.iter()) {
        println!("  {line}");
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Runs `xmllint` with the embedded schemas laid out in a private temporary folder. Returns the
/// error lines (empty when the message validates).
fn xmllint(bytes: &[u8], schema: &str) -> Result<Vec<String>, String> {
    let dir = std::env::temp_dir().join(format!("tether-xsd-{}-{}", std::process::id(), unique()));
    let result = (|| {
        for (path, text) in tether_cwmp::schemas::FILES {
            let p = dir.join(path);
            if let Some(parent) = p.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
            }
            std::fs::write(&p, text).map_err(|e| format!("cannot write {}: {e}", p.display()))?;
        }
        let msg = dir.join("message.xml");
        std::fs::write(&msg, bytes).map_err(|e| format!("cannot write {}: {e}", msg.display()))?;
        let output = Command::new("xmllint")
            .current_dir(&dir)
            .env("XML_CATALOG_FILES", dir.join("catalog.xml"))
            .args(["--noout", "--nonet", "--schema", schema, "message.xml"])
            .output()
            .map_err(|e| {
                format!("cannot run xmllint ({e}): install it with `apt-get install libxml2-utils`")
            })?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        match output.status.code() {
            Some(0) => Ok(Vec::new()),
            Some(3 | 4 | 1) => Ok(stderr
                .lines()
                .filter(|l| !l.contains("Skipping import") && !l.ends_with("fails to validate"))
                .map(|l| l.replace("message.xml:", "line "))
                .collect()),
            other => Err(format!("xmllint failed ({other:?}): {stderr}")),
        }
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn unique() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}
