//! Decoding leniency, rule by rule (§1 and §10 of the requirements): what real CPEs send must be
//! read, with the deviation reported as a `Quirk`, and what is unsafe or not CWMP refused.

use tether_cwmp::rpc::*;
use tether_cwmp::*;

const SOAP: &str = "http://schemas.xmlsoap.org/soap/envelope/";

fn decoded(xml: &str) -> Decoded {
    decode(xml.as_bytes()).unwrap_or_else(|e| panic!("{e}\n{xml}"))
}

/// A GetParameterValuesResponse with one Value, in namespace `ns`, with the prefixes given.
fn gpv_response(
    env: &str,
    cwmp: &str,
    xsi: &str,
    xsd: &str,
    ns: &str,
    value_attrs: &str,
    value: &str,
) -> String {
    format!(
        r#"<{env}:Envelope xmlns:{env}="{SOAP}" xmlns:enc="http://schemas.xmlsoap.org/soap/encoding/" xmlns:{xsi}="http://www.w3.org/2001/XMLSchema-instance" xmlns:{xsd}="http://www.w3.org/2001/XMLSchema" xmlns:{cwmp}="{ns}">
<{env}:Header><{cwmp}:ID {env}:mustUnderstand="1">7</{cwmp}:ID></{env}:Header>
<{env}:Body><{cwmp}:GetParameterValuesResponse><ParameterList enc:arrayType="{cwmp}:ParameterValueStruct[1]"><ParameterValueStruct><Name>Device.X</Name><Value {value_attrs}>{value}</Value></ParameterValueStruct></ParameterList></{cwmp}:GetParameterValuesResponse></{env}:Body></{env}:Envelope>"#
    )
}

fn first_value(d: &Decoded) -> &Value {
    match &d.envelope.body {
        Body::GetParameterValuesResponse(r) => &r.parameter_list[0].value,
        other => panic!("unexpected {}", other.method_name()),
    }
}

#[test]
fn env_05_any_prefixes_are_resolved_through_namespaces() {
    let d = decoded(&gpv_response(
        "SOAP-ENV",
        "c",
        "i",
        "t",
        "urn:dslforum-org:cwmp-1-0",
        r#"i:type="t:unsignedInt""#,
        "5",
    ));
    assert_eq!(first_value(&d), &Value::unsigned_int(5));
    assert_eq!(d.envelope.header.id.as_deref(), Some("7"));
    assert!(d.quirks.is_empty(), "{:?}", d.quirks);
    // A prefix named like a conventional one but bound elsewhere does not fool the decoder: `xsd`
    // here is the instance namespace, the type attribute is `i:type`.
    let d = decoded(&gpv_response(
        "s",
        "cwmp",
        "xsd",
        "i",
        "urn:dslforum-org:cwmp-1-1",
        r#"xsd:type="i:boolean""#,
        "1",
    ));
    assert_eq!(first_value(&d).kind, ValueType::Boolean);
    assert_eq!(d.envelope.namespace, CwmpNamespace::V1_1);
}

#[test]
fn env_01_02_namespaces_1_0_to_1_2_and_the_non_standard_1_3() {
    for (uri, ns) in [
        ("urn:dslforum-org:cwmp-1-0", CwmpNamespace::V1_0),
        ("urn:dslforum-org:cwmp-1-1", CwmpNamespace::V1_1),
        ("urn:dslforum-org:cwmp-1-2", CwmpNamespace::V1_2),
    ] {
        let d = decoded(&gpv_response(
            "soap",
            "cwmp",
            "xsi",
            "xsd",
            uri,
            r#"xsi:type="xsd:string""#,
            "a",
        ));
        assert_eq!(d.envelope.namespace, ns);
        assert!(d.quirks.is_empty());
    }
    let d = decoded(&gpv_response(
        "soap",
        "cwmp",
        "xsi",
        "xsd",
        "urn:dslforum-org:cwmp-1-3",
        r#"xsi:type="xsd:string""#,
        "a",
    ));
    assert_eq!(
        d.envelope.namespace,
        CwmpNamespace::V1_2,
        "ENV-02: GenieACS's cwmp-1-3 is read as cwmp-1-2"
    );
    assert_eq!(
        d.quirks,
        vec![Quirk::NonStandardNamespace {
            uri: "urn:dslforum-org:cwmp-1-3".into()
        }]
    );
    // ... and never written back: the encoder only knows the three real namespaces.
    assert!(
        encode(&d.envelope)
            .expect("valid")
            .contains("urn:dslforum-org:cwmp-1-2\"")
    );
}

#[test]
fn pitfall_15_header_less_envelopes_are_read() {
    let xml = format!(
        r#"<soap:Envelope xmlns:soap="{SOAP}" xmlns:cwmp="urn:dslforum-org:cwmp-1-0"><soap:Body><cwmp:InformResponse><MaxEnvelopes>1</MaxEnvelopes></cwmp:InformResponse></soap:Body></soap:Envelope>"#
    );
    let d = decoded(&xml);
    assert_eq!(d.envelope.header, Header::default());
    assert_eq!(
        d.envelope.body,
        Body::InformResponse(InformResponse { max_envelopes: 1 })
    );
    assert!(d.quirks.is_empty());
}

#[test]
fn env_10_missing_xsi_type_is_a_string_with_a_quirk() {
    let d = decoded(&gpv_response(
        "soap",
        "cwmp",
        "xsi",
        "xsd",
        "urn:dslforum-org:cwmp-1-0",
        "",
        "42",
    ));
    assert_eq!(first_value(&d), &Value::string("42"));
    assert_eq!(
        d.quirks,
        vec![Quirk::MissingXsiType {
            parameter: "Device.X".into()
        }]
    );
    // ENV-05: an unbound prefix in xsi:type is read by its local name, with a quirk.
    let d = decoded(&gpv_response(
        "soap",
        "cwmp",
        "xsi",
        "xsd",
        "urn:dslforum-org:cwmp-1-0",
        r#"xsi:type="q:int""#,
        "-3",
    ));
    assert_eq!(first_value(&d), &Value::int(-3));
    assert_eq!(
        d.quirks,
        vec![Quirk::UnboundTypePrefix {
            written: "q:int".into()
        }]
    );
}

#[test]
fn env_09_wrong_array_counts_and_soap_enc_array_types_are_tolerated() {
    let xml = format!(
        r#"<soap:Envelope xmlns:soap="{SOAP}" xmlns:soap-enc="http://schemas.xmlsoap.org/soap/encoding/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:cwmp="urn:dslforum-org:cwmp-1-0"><soap:Body><cwmp:GetParameterValues><ParameterNames soap-enc:arrayType="xsd:string[99]" xsi:type="soap-enc:Array"><string>A.</string><string>B.</string></ParameterNames></cwmp:GetParameterValues></soap:Body></soap:Envelope>"#
    );
    let d = decoded(&xml);
    assert_eq!(
        d.envelope.body,
        Body::GetParameterValues(GetParameterValues {
            parameter_names: vec!["A.".into(), "B.".into()]
        })
    );
    assert_eq!(
        d.quirks,
        vec![Quirk::ArrayCountMismatch {
            element: "ParameterNames".into(),
            declared: 99,
            actual: 2
        }]
    );
    // `[0]` on an empty array is exact, not a mismatch.
    let empty = xml
        .replace("[99]", "[0]")
        .replace("<string>A.</string><string>B.</string>", "");
    assert!(decoded(&empty).quirks.is_empty());
}

#[test]
fn pitfall_14_control_characters_are_replaced_not_fatal() {
    let raw = gpv_response(
        "soap",
        "cwmp",
        "xsi",
        "xsd",
        "urn:dslforum-org:cwmp-1-0",
        r#"xsi:type="xsd:string""#,
        "a\u{2}b&#1;c",
    );
    let d = decoded(&raw);
    assert_eq!(first_value(&d).text, "a\u{FFFD}b\u{FFFD}c");
    assert_eq!(
        d.quirks,
        vec![Quirk::ControlCharactersReplaced { count: 2 }]
    );
    // ENV-12: the encoder never emits them: it writes a replacement character reference.
    let env = Envelope::new(
        CwmpNamespace::V1_0,
        None,
        Body::Reboot(Reboot {
            command_key: "k\u{7}".into(),
        }),
    );
    let xml = encode(&env).expect("encodable");
    assert!(xml.contains("<CommandKey>k&#xFFFD;</CommandKey>"), "{xml}");
}

#[test]
fn charset_comes_from_content_type_then_xml_declaration() {
    let body = "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>".to_owned()
        + &gpv_response(
            "soap",
            "cwmp",
            "xsi",
            "xsd",
            "urn:dslforum-org:cwmp-1-0",
            r#"xsi:type="xsd:string""#,
            "caf\u{E9}",
        );
    let latin1: Vec<u8> = body
        .chars()
        .map(|c| u8::try_from(u32::from(c)).expect("Latin-1 only"))
        .collect();
    let d = decode(&latin1).expect("declared ISO-8859-1");
    assert_eq!(first_value(&d).text, "café");
    assert!(d.quirks.is_empty());
    // Content-Type wins over the declaration; UTF-8 declared but Latin-1 sent is an error.
    let without_decl = &latin1[latin1
        .iter()
        .position(|b| *b == b'>')
        .expect("declaration end")
        + 1..];
    let d = decode_with(
        without_decl,
        Some("text/xml; charset=iso-8859-1"),
        &DecodeOptions::default(),
    )
    .expect("charset from Content-Type");
    assert_eq!(first_value(&d).text, "café");
    assert!(matches!(
        decode_with(
            without_decl,
            Some("text/xml; charset=utf-8"),
            &DecodeOptions::default()
        ),
        Err(DecodeError::InvalidEncoding {
            charset: "UTF-8",
            ..
        })
    ));
    // No charset anywhere and not UTF-8: read as Latin-1, reported.
    let d = decode(without_decl).expect("fallback");
    assert_eq!(first_value(&d).text, "café");
    assert_eq!(d.quirks, vec![Quirk::Latin1Fallback]);
}

#[test]
fn xsi_1999_namespace_is_accepted() {
    let xml = gpv_response(
        "soap",
        "cwmp",
        "xsi",
        "xsd",
        "urn:dslforum-org:cwmp-1-0",
        r#"xsi:type="xsd:int""#,
        "9",
    )
    .replace("2001/XMLSchema-instance", "1999/XMLSchema-instance")
    .replace("2001/XMLSchema\"", "1999/XMLSchema\"");
    let d = decoded(&xml);
    assert_eq!(first_value(&d), &Value::int(9));
    assert!(d.quirks.is_empty(), "{:?}", d.quirks);
}

#[test]
fn soap_1_2_and_non_envelopes_are_refused() {
    let soap12 = r#"<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body/></env:Envelope>"#;
    assert_eq!(
        decode(soap12.as_bytes()).map(|_| ()),
        Err(DecodeError::Soap12)
    );
    assert!(matches!(
        decode(b"<Inform/>"),
        Err(DecodeError::NotAnEnvelope { .. })
    ));
}

#[test]
fn env_11_unknown_method_is_body_unknown() {
    let xml = format!(
        r#"<soap:Envelope xmlns:soap="{SOAP}" xmlns:cwmp="urn:dslforum-org:cwmp-1-2"><soap:Body><cwmp:X_ACME_Frobnicate><A>1</A></cwmp:X_ACME_Frobnicate></soap:Body></soap:Envelope>"#
    );
    let d = decoded(&xml);
    assert_eq!(
        d.envelope.body,
        Body::Unknown {
            name: "X_ACME_Frobnicate".into()
        }
    );
    assert!(d.envelope.body.is_request());
    assert_eq!(d.envelope.namespace, CwmpNamespace::V1_2);
}

#[test]
fn env_06_unknown_must_understand_headers_are_listed() {
    let xml = format!(
        r#"<soap:Envelope xmlns:soap="{SOAP}" xmlns:cwmp="urn:dslforum-org:cwmp-1-0" xmlns:v="urn:vendor"><soap:Header><cwmp:ID soap:mustUnderstand="1">1</cwmp:ID><v:Token soap:mustUnderstand="1">x</v:Token><v:Hint soap:mustUnderstand="0">y</v:Hint><cwmp:Future soap:mustUnderstand="true">z</cwmp:Future><cwmp:NoMoreRequests>1</cwmp:NoMoreRequests></soap:Header><soap:Body><cwmp:GetRPCMethods/></soap:Body></soap:Envelope>"#
    );
    let d = decoded(&xml);
    assert_eq!(
        d.envelope.header.not_understood,
        vec!["Token".to_owned(), "Future".to_owned()]
    );
    assert_eq!(
        d.envelope.header.no_more_requests,
        Some(true),
        "§1.3: accepted on input"
    );
    assert!(
        !encode(&d.envelope)
            .expect("valid")
            .contains("NoMoreRequests"),
        "§1.3: never encoded"
    );
}

#[test]
fn entities_and_cdata_in_values_are_preserved_exactly() {
    let d = decoded(&gpv_response(
        "soap",
        "cwmp",
        "xsi",
        "xsd",
        "urn:dslforum-org:cwmp-1-0",
        r#"xsi:type="xsd:string""#,
        " a &amp; b &lt;c&gt; &#x4E2D;<![CDATA[ <raw> & ]]>end ",
    ));
    assert_eq!(first_value(&d).text, " a & b <c> 中 <raw> & end ");
    // and written back escaped, so they survive a second trip.
    let again = decoded(&encode(&d.envelope).expect("valid"));
    assert_eq!(first_value(&again).text, first_value(&d).text);
}

#[test]
fn whitespace_around_numbers_and_booleans_is_tolerated() {
    let xml = format!(
        r#"<soap:Envelope xmlns:soap="{SOAP}" xmlns:cwmp="urn:dslforum-org:cwmp-1-0"><soap:Body><cwmp:AddObjectResponse><InstanceNumber>
  12 </InstanceNumber><Status>	1
</Status></cwmp:AddObjectResponse></soap:Body></soap:Envelope>"#
    );
    assert_eq!(
        decoded(&xml).envelope.body,
        Body::AddObjectResponse(AddObjectResponse {
            instance_number: 12,
            status: 1
        })
    );
    let xml = format!(
        r#"<soap:Envelope xmlns:soap="{SOAP}" xmlns:cwmp="urn:dslforum-org:cwmp-1-0"><soap:Body><cwmp:GetParameterNames><ParameterPath> Device. </ParameterPath><NextLevel> 0 </NextLevel></cwmp:GetParameterNames></soap:Body></soap:Envelope>"#
    );
    assert_eq!(
        decoded(&xml).envelope.body,
        Body::GetParameterNames(GetParameterNames {
            parameter_path: "Device.".into(),
            next_level: false
        })
    );
}

#[test]
fn flt_03_qualified_faultcodes_are_accepted() {
    let xml = format!(
        r#"<s:Envelope xmlns:s="{SOAP}" xmlns:cwmp="urn:dslforum-org:cwmp-1-0"><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>CWMP fault</faultstring><detail><cwmp:Fault><FaultCode> 9005 </FaultCode><FaultString>Invalid parameter name</FaultString></cwmp:Fault></detail></s:Fault></s:Body></s:Envelope>"#
    );
    let f = decoded(&xml)
        .envelope
        .body
        .as_fault()
        .cloned()
        .expect("a fault");
    assert_eq!(
        (f.soap_class, f.code),
        (SoapFaultClass::Client, FaultCode::INVALID_PARAMETER_NAME)
    );
}
