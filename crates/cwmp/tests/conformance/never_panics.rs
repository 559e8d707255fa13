//! The decoder never panics, whatever the bytes (crate invariant "no panics on any input"), and
//! every refusal is a typed error with a readable text: arbitrary bytes, arbitrary XML-ish text,
//! truncations and single-byte mutations of valid messages, entity bombs (`DtdNotAllowed`), deep
//! nesting (`LimitExceeded`), oversized bodies (`TooLarge`), and positions on XML errors.

use crate::strategies;
use proptest::prelude::*;
use tether_cwmp::{DecodeError, DecodeOptions, decode, decode_with, encode};

/// Decodes and checks the error contract: a non-empty Display text, and a position that is
/// 1-based when there is one.
fn decode_checked(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Err(e) = decode(bytes) {
        prop_assert!(!e.to_string().is_empty(), "{:?} has no text", e);
        if let Some((line, column)) = e.position() {
            prop_assert!(line >= 1 && column >= 1, "{:?}", e);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        decode_checked(&bytes)?;
    }

    #[test]
    fn xml_like_text_never_panics(text in "(<[a-zA-Z:-]{0,12}( [a-z:]{1,8}=\"[^\"]{0,8}\")?/?>|</[a-z:]{0,8}>|&[#a-z0-9x]{0,6};?|<!\\[CDATA\\[|\\]\\]>|<\\?xml[^>]{0,20}\\?>|[^<&]{0,10}){0,60}") {
        decode_checked(text.as_bytes())?;
    }

    #[test]
    fn truncations_of_valid_messages_never_panic(env in strategies::envelope(), cut in any::<prop::sample::Index>()) {
        let xml = encode(&env).expect("valid by construction");
        decode_checked(&xml.as_bytes()[..cut.index(xml.len() + 1)])?;
    }

    #[test]
    fn single_byte_mutations_of_valid_messages_never_panic(env in strategies::envelope(), at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut bytes = encode(&env).expect("valid by construction").into_bytes();
        let i = at.index(bytes.len());
        bytes[i] = byte;
        decode_checked(&bytes)?;
    }

    #[test]
    fn deleted_and_duplicated_spans_never_panic(env in strategies::envelope(), a in any::<prop::sample::Index>(), b in any::<prop::sample::Index>(), dup in any::<bool>()) {
        let bytes = encode(&env).expect("valid by construction").into_bytes();
        let (x, y) = { let (x, y) = (a.index(bytes.len()), b.index(bytes.len())); (x.min(y), x.max(y)) };
        let mut out = bytes[..x].to_vec();
        if dup { out.extend_from_slice(&bytes[x..y]); out.extend_from_slice(&bytes[x..]); } else { out.extend_from_slice(&bytes[y..]); }
        decode_checked(&out)?;
    }
}

const ENVELOPE_HEAD: &str = r#"<soap-env:Envelope xmlns:soap-env="http://schemas.xmlsoap.org/soap/envelope/" xmlns:cwmp="urn:dslforum-org:cwmp-1-0"><soap-env:Body>"#;

#[test]
fn entity_bombs_are_refused_before_expansion() {
    let bomb = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<soap-env:Envelope xmlns:soap-env="http://schemas.xmlsoap.org/soap/envelope/"><soap-env:Body><a>&lol3;</a></soap-env:Body></soap-env:Envelope>"#;
    assert_eq!(
        decode(bomb.as_bytes()).map(|_| ()),
        Err(DecodeError::DtdNotAllowed)
    );
    let external = r#"<!DOCTYPE x SYSTEM "file:///etc/passwd"><x/>"#;
    assert_eq!(
        decode(external.as_bytes()).map(|_| ()),
        Err(DecodeError::DtdNotAllowed)
    );
}

#[test]
fn deep_nesting_is_a_limit_error() {
    for depth in [65usize, 10_000, 200_000] {
        let xml = format!(
            "{ENVELOPE_HEAD}{}{}</soap-env:Body></soap-env:Envelope>",
            "<a>".repeat(depth),
            "</a>".repeat(depth)
        );
        assert_eq!(
            decode(xml.as_bytes()).map(|_| ()),
            Err(DecodeError::LimitExceeded("nesting depth")),
            "depth {depth}"
        );
    }
    // Unclosed and self-closing tags are counted right too: a million `<a/>` is flat.
    let flat = format!(
        "{ENVELOPE_HEAD}<cwmp:GetRPCMethods>{}</cwmp:GetRPCMethods></soap-env:Body></soap-env:Envelope>",
        "<a/>".repeat(1000)
    );
    assert!(decode(flat.as_bytes()).is_ok());
    let unclosed = "<a>".repeat(100_000);
    assert_eq!(
        decode(unclosed.as_bytes()).map(|_| ()),
        Err(DecodeError::LimitExceeded("nesting depth"))
    );
}

#[test]
fn node_and_size_limits_are_typed_errors() {
    let small = DecodeOptions {
        max_bytes: 100,
        ..DecodeOptions::default()
    };
    let big = vec![b' '; 101];
    assert_eq!(
        decode_with(&big, None, &small).map(|_| ()),
        Err(DecodeError::TooLarge {
            size: 101,
            limit: 100
        })
    );
    let few_nodes = DecodeOptions {
        max_nodes: 50,
        ..DecodeOptions::default()
    };
    let many = format!(
        "{ENVELOPE_HEAD}<cwmp:GetRPCMethods>{}</cwmp:GetRPCMethods></soap-env:Body></soap-env:Envelope>",
        "<a/>".repeat(100)
    );
    assert_eq!(
        decode_with(many.as_bytes(), None, &few_nodes).map(|_| ()),
        Err(DecodeError::LimitExceeded("node count"))
    );
    assert_eq!(decode(b"").map(|_| ()), Err(DecodeError::Empty));
    assert_eq!(decode(b" \r\n\t").map(|_| ()), Err(DecodeError::Empty));
}

#[test]
fn xml_errors_carry_line_and_column() {
    let xml = "<soap-env:Envelope xmlns:soap-env=\"http://schemas.xmlsoap.org/soap/envelope/\">\n  <soap-env:Body>\n    <a></b>\n";
    let err = decode(xml.as_bytes()).expect_err("mismatched tags");
    assert!(matches!(err, DecodeError::Xml { line: 3, .. }), "{err:?}");
    let (line, column) = err.position().expect("a position");
    assert_eq!(line, 3);
    assert!(column > 1, "{err:?}");
    assert!(
        err.to_string().starts_with("XML error at line 3, column "),
        "{err}"
    );
    // A structural error inside a known method points at the element.
    let bad_number = format!(
        "{ENVELOPE_HEAD}\n<cwmp:InformResponse><MaxEnvelopes>many</MaxEnvelopes></cwmp:InformResponse></soap-env:Body></soap-env:Envelope>"
    );
    let err = decode(bad_number.as_bytes()).expect_err("not a number");
    assert!(
        matches!(&err, DecodeError::Invalid { element, line: 2, .. } if element == "InformResponse/MaxEnvelopes"),
        "{err:?}"
    );
}
