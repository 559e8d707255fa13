//! Fuzz target `decode`: arbitrary bytes into the CWMP decoder.
//!
//! The decoder must never panic. When a message decodes and our encoder accepts it:
//! * decoding that encoding must succeed, need no quirk, and keep the method and the `cwmp:ID`;
//! * one more encode/decode must change nothing (the pair is a projection, a fixed point after
//!   one step). One step is allowed to normalise: boolean text (`1` becomes `true`), dateTime
//!   text, elements the schema does not define and the input-only header fields.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tether_cwmp::{decode, encode};

fuzz_target!(|data: &[u8]| {
    let Ok(first) = decode(data) else { return };
    let Ok(xml) = encode(&first.envelope) else {
        return;
    };
    let second = match decode(xml.as_bytes()) {
        Ok(d) => d,
        Err(e) => panic!("our own encoding does not decode: {e}\n{xml}"),
    };
    assert!(
        second.quirks.is_empty(),
        "our output needed quirks {:?}\n{xml}",
        second.quirks
    );
    assert_eq!(
        second.envelope.body.method_name(),
        first.envelope.body.method_name(),
        "method changed\n{xml}"
    );
    assert_eq!(
        second.envelope.header.id, first.envelope.header.id,
        "cwmp:ID changed\n{xml}"
    );
    assert_eq!(
        second.envelope.namespace, first.envelope.namespace,
        "namespace changed\n{xml}"
    );
    let again = encode(&second.envelope)
        .unwrap_or_else(|e| panic!("our own output is refused: {e}\n{xml}"));
    assert_eq!(
        again, xml,
        "encode/decode is not a fixed point after one step"
    );
    let third = decode(again.as_bytes()).expect("decodes our own output");
    assert_eq!(third.envelope, second.envelope);
});
