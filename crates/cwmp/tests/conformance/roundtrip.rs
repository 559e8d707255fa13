//! `decode(encode(e)) == normalise(e)` for every valid envelope and every encoder option set.
//!
//! The normalisation is exactly what the encoder is documented to change (DM-04, ENV-10):
//!
//! 1. an `xsd:boolean` Value's text becomes the option's literal (`true`/`false` or `1`/`0`);
//! 2. an `xsd:dateTime` Value's text is parsed and re-formatted with the option's fraction
//!    policy (so `.500` becomes `.5`, `Omit` drops the fraction);
//! 3. the other non-string Values lose surrounding XML whitespace (` 5\n` becomes `5`: same value
//!    under whiteSpace=collapse);
//! 4. every dateTime field keeps its fraction truncated by the policy (`Omit`: none, `Millis`:
//!    milliseconds, `AsNeeded`: all of it);
//! 5. `Header::no_more_requests` and `Header::not_understood` are never encoded, so they are
//!    cleared.
//!
//! Nothing else may change: text (markup characters, non-ASCII, tabs, CR, LF, leading and
//! trailing spaces), numbers, namespaces, header fields, optional elements, list orders.
//! Generated envelopes carry no quirk-worthy content, so decoding must report no quirk either.

use crate::strategies;
use proptest::prelude::*;
use tether_cwmp::rpc::*;
use tether_cwmp::value::is_xml_space;
use tether_cwmp::*;

fn truncate(t: &mut DateTime, fraction: Fraction) {
    match fraction {
        Fraction::Omit => t.nanos = 0,
        Fraction::Millis => t.nanos -= t.nanos % 1_000_000,
        Fraction::AsNeeded => {}
    }
}

fn normalise_values(list: &mut [ParameterValue], o: &EncodeOptions) {
    for p in list {
        let v = &mut p.value;
        match v.kind {
            ValueType::Boolean => {
                let b = v.as_bool().expect("generated booleans parse");
                v.text = match (o.boolean_literal, b) {
                    (BooleanLiteral::TrueFalse, b) => b.to_string(),
                    (BooleanLiteral::OneZero, b) => u8::from(b).to_string(),
                };
            }
            ValueType::DateTime => {
                v.text = DateTime::parse(&v.text)
                    .expect("generated dateTimes parse")
                    .format(o.fraction)
            }
            ValueType::String => {}
            _ => v.text = v.text.trim_matches(is_xml_space).to_owned(),
        }
    }
}

/// What decoding the encoding of `e` with options `o` must give (see the module docs).
pub(crate) fn normalise(e: &Envelope, o: &EncodeOptions) -> Envelope {
    let mut e = e.clone();
    e.header.no_more_requests = None;
    e.header.not_understood.clear();
    let f = o.fraction;
    match &mut e.body {
        Body::SetParameterValues(r) => normalise_values(&mut r.parameter_list, o),
        Body::GetParameterValuesResponse(r) => normalise_values(&mut r.parameter_list, o),
        Body::Inform(r) => {
            normalise_values(&mut r.parameter_list, o);
            truncate(&mut r.current_time, f);
        }
        Body::DownloadResponse(r) | Body::UploadResponse(r) => {
            truncate(&mut r.start_time, f);
            truncate(&mut r.complete_time, f);
        }
        Body::GetOptionsResponse(r) => {
            for o in &mut r.option_list {
                truncate(&mut o.start_date, f);
                if let Some(x) = &mut o.expiration_date {
                    truncate(x, f);
                }
            }
        }
        Body::TransferComplete(r) => {
            truncate(&mut r.start_time, f);
            truncate(&mut r.complete_time, f);
        }
        Body::AutonomousTransferComplete(r) => {
            truncate(&mut r.start_time, f);
            truncate(&mut r.complete_time, f);
        }
        Body::DUStateChangeComplete(DuStateChangeComplete { results, .. })
        | Body::AutonomousDUStateChangeComplete(AutonomousDuStateChangeComplete { results }) => {
            for r in results {
                truncate(&mut r.start_time, f);
                truncate(&mut r.complete_time, f);
            }
        }
        _ => {}
    }
    e
}

fn check_round_trip(env: &Envelope, options: &EncodeOptions) -> Result<(), TestCaseError> {
    let xml = encode_with(env, options)
        .map_err(|e| TestCaseError::fail(format!("valid envelope refused: {e}")))?;
    let decoded = decode(xml.as_bytes())
        .map_err(|e| TestCaseError::fail(format!("own output not decodable: {e}\n{xml}")))?;
    prop_assert_eq!(&decoded.envelope, &normalise(env, options), "\n{}", xml);
    prop_assert!(
        decoded.quirks.is_empty(),
        "quirks {:?} on our own output\n{}",
        decoded.quirks,
        xml
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn decode_inverts_encode_with_default_options(env in strategies::envelope()) {
        check_round_trip(&env, &EncodeOptions::default())?;
    }

    #[test]
    fn decode_inverts_encode_with_any_options(env in strategies::envelope(), options in strategies::encode_options()) {
        check_round_trip(&env, &options)?;
    }
}

#[test]
fn every_option_variant_round_trips_a_fixed_batch() {
    let envelopes = strategies::sample(&strategies::envelope(), 200);
    for literal in [BooleanLiteral::TrueFalse, BooleanLiteral::OneZero] {
        for fraction in [Fraction::Omit, Fraction::Millis, Fraction::AsNeeded] {
            for xml_declaration in [false, true] {
                let options = EncodeOptions {
                    boolean_literal: literal,
                    fraction,
                    xml_declaration,
                };
                for env in &envelopes {
                    if let Err(e) = check_round_trip(env, &options) {
                        panic!("{options:?}: {e}");
                    }
                }
            }
        }
    }
}

#[test]
fn normalisation_is_what_the_encoder_writes() {
    // DM-04: the option literals and fraction policies appear in the output as documented.
    let time = DateTime::parse("2024-05-06T07:08:09.5Z").expect("valid");
    let body = Body::SetParameterValues(SetParameterValues {
        parameter_list: vec![
            ParameterValue::new("A.b", Value::typed(ValueType::Boolean, "TRUE")),
            ParameterValue::new("A.t", Value::date_time(time)),
            ParameterValue::new("A.n", Value::typed(ValueType::UnsignedInt, " 7\n")),
        ],
        parameter_key: String::new(),
    });
    let env = Envelope::new(CwmpNamespace::V1_0, None, body);
    let o = EncodeOptions {
        boolean_literal: BooleanLiteral::OneZero,
        fraction: Fraction::Millis,
        xml_declaration: true,
    };
    let xml = encode_with(&env, &o).expect("valid");
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
    assert!(xml.contains("<Value xsi:type=\"xsd:boolean\">1</Value>"));
    assert!(xml.contains("<Value xsi:type=\"xsd:dateTime\">2024-05-06T07:08:09.500Z</Value>"));
    assert!(xml.contains("<Value xsi:type=\"xsd:unsignedInt\">7</Value>"));
    let xml = encode(&env).expect("valid");
    assert!(!xml.starts_with("<?xml"), "no declaration by default");
    assert!(xml.contains(">true</Value>") && xml.contains(">2024-05-06T07:08:09Z</Value>"));
}
