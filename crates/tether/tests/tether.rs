//! End-to-end tests of the `tether` binary, run as a user would: the built executable, real
//! files, standard input, exit codes and output text. All of them exercise `tether cwmp`
//! (the `cwmp-tool` feature, a default one).
#![cfg(feature = "cwmp-tool")]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn tether() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tether"))
}

fn sample(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../cwmp/tests/fixtures/samples")
        .join(name)
}

fn run(args: &[&str]) -> Output {
    tether().args(args).output().expect("run tether")
}

fn run_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = tether()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tether");
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn cwmp_decode_prints_method_header_arguments_and_quirks_as_json() {
    let out = run(&[
        "cwmp",
        "decode",
        sample("valid-inform-1-4.xml").to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["method"], "Inform");
    assert_eq!(json["namespace"], "urn:dslforum-org:cwmp-1-2");
    assert_eq!(json["header"]["id"], "2001");
    assert_eq!(json["header"]["supported_cwmp_versions"][4], "1.4");
    assert_eq!(json["arguments"]["device_id"]["serial_number"], "SN000456");
    assert_eq!(json["arguments"]["events"][1]["code"], "M Reboot");
    assert_eq!(json["arguments"]["events"][1]["command_key"], "reboot-7");
    assert_eq!(json["quirks"], serde_json::json!([]));
}

#[test]
fn cwmp_decode_reports_quirks_of_a_lenient_read() {
    let out = run(&[
        "cwmp",
        "decode",
        sample("invalid-inform-missing-arraytype.xml")
            .to_str()
            .unwrap(),
    ]);
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["quirks"][0], "Event: no soap-enc:arrayType");
}

#[test]
fn cwmp_decode_reads_standard_input_and_gzip() {
    let raw = std::fs::read(sample("valid-getparametervalues-1-0.xml")).unwrap();
    let out = run_stdin(&["cwmp", "decode", "-"], &raw);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("\"GetParameterValues\""));

    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&raw).unwrap();
    let out = run_stdin(&["cwmp", "decode", "-"], &gz.finish().unwrap());
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("\"GetParameterValues\""));
}

#[test]
fn cwmp_decode_gives_a_precise_error_with_line_and_column() {
    let out = run_stdin(&["cwmp", "decode", "-"], b"<soap:Envelope xmlns:soap='http://schemas.xmlsoap.org/soap/envelope/'>\n  <soap:Body>\n  </soap:Bod>");
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("line 3, column"), "{err}");
}

#[test]
fn cwmp_decode_of_a_missing_file_is_a_usage_error() {
    let out = run(&["cwmp", "decode", "/nonexistent/capture.xml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("cannot read /nonexistent/capture.xml"));
}

#[test]
fn cwmp_validate_accepts_valid_messages_of_every_namespace() {
    for name in [
        "valid-inform-1-0.xml",
        "valid-fault-setparametervalues-1-0.xml",
        "valid-informresponse-1-4.xml",
    ] {
        let out = run(&["cwmp", "validate", sample(name).to_str().unwrap()]);
        assert!(
            out.status.success(),
            "{name}: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        assert!(
            text(&out.stdout).contains(": valid ("),
            "{}",
            text(&out.stdout)
        );
    }
}

#[test]
fn cwmp_validate_reports_schema_errors_with_their_line() {
    let out = run(&[
        "cwmp",
        "validate",
        sample("invalid-inform-wrong-child-order.xml")
            .to_str()
            .unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(stdout.contains(": invalid ("), "{stdout}");
    assert!(
        stdout.contains("line 24") && stdout.contains("CurrentTime"),
        "{stdout}"
    );
}

#[test]
fn cwmp_validate_reports_rules_the_schema_cannot_check() {
    // ENV-09: a wrong arrayType count passes xmllint (the attribute is a plain string).
    let raw = std::fs::read_to_string(sample("valid-inform-1-0.xml")).unwrap();
    let wrong = raw.replace("cwmp:EventStruct[2]", "cwmp:EventStruct[5]");
    assert_ne!(raw, wrong);
    let out = run_stdin(&["cwmp", "validate", "-"], wrong.as_bytes());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains("ENV-09"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn cwmp_validate_refuses_an_unknown_namespace() {
    let out = run(&[
        "cwmp",
        "validate",
        sample("invalid-inform-unknown-cwmp-namespace.xml")
            .to_str()
            .unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("unknown CWMP namespace"));
}
