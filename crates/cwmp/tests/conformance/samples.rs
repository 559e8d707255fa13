//! Every vendored sample (`tests/fixtures/samples`, described in `VALIDATING.md`) decodes as a
//! lenient ACS should. Valid samples decode to the right method and values without quirks.
//! Invalid samples are each documented below: decoded with which quirk (or silently, where the
//! deviation is harmless to a reader that matches by name), or refused with which error. Then
//! every decoded sample is re-encoded: the result either validates with xmllint or is refused by
//! the encoder; our encoder never emits the invalidity it was given.

use crate::support::{self, samples_dir};
use tether_cwmp::rpc::*;
use tether_cwmp::*;

fn read(name: &str) -> Vec<u8> {
    std::fs::read(samples_dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn ok(name: &str) -> Decoded {
    decode(&read(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn inform_of(d: &Decoded) -> &Inform {
    match &d.envelope.body {
        Body::Inform(i) => i,
        other => panic!("expected an Inform, got {}", other.method_name()),
    }
}

/// The Inform of `valid-inform-1-0.xml`, which most invalid Inform samples derive from.
fn check_base_inform(name: &str, d: &Decoded) {
    assert_eq!(d.envelope.namespace, CwmpNamespace::V1_0, "{name}");
    let i = inform_of(d);
    assert_eq!(i.device_id.manufacturer, "Example Corp", "{name}");
    assert_eq!(i.device_id.product_class, "RG-1000", "{name}");
    assert_eq!(i.device_id.serial_number, "SN000123", "{name}");
    assert_eq!(i.max_envelopes, 1);
    assert_eq!(i.retry_count, 0);
    assert_eq!(
        i.current_time,
        DateTime::parse("2024-05-01T12:00:00Z").expect("valid")
    );
    assert_eq!(i.parameter_list.len(), 4, "{name}");
    assert_eq!(i.root_object(), Some("InternetGatewayDevice."));
    assert_eq!(
        i.parameter("InternetGatewayDevice.ManagementServer.ConnectionRequestURL"),
        Some("http://192.0.2.10:7547/cr")
    );
}

#[test]
fn valid_samples_decode_to_the_right_method_and_values() {
    let d = ok("valid-inform-1-0.xml");
    check_base_inform("valid-inform-1-0.xml", &d);
    assert_eq!(d.envelope.header.id.as_deref(), Some("1001"));
    let i = inform_of(&d);
    assert_eq!(i.device_id.oui, "00D09E");
    assert_eq!(
        i.events,
        vec![
            Event::new(EventCode::Bootstrap),
            Event::new(EventCode::Boot)
        ]
    );
    let interval = &i.parameter_list[3];
    assert_eq!(interval.value, Value::unsigned_int(86_400));
    assert_eq!(i.parameter_list[0].value, Value::string("1.0"));
    assert!(d.quirks.is_empty(), "{:?}", d.quirks);

    let d = ok("valid-inform-1-4.xml");
    assert_eq!(d.envelope.namespace, CwmpNamespace::V1_2);
    assert_eq!(
        d.envelope.header.supported_cwmp_versions,
        Some(CwmpVersion::ALL.to_vec())
    );
    let i = inform_of(&d);
    assert_eq!(
        i.events,
        vec![
            Event::new(EventCode::Periodic),
            Event::with_key(EventCode::m_reboot(), "reboot-7")
        ]
    );
    assert_eq!(i.current_time.offset_minutes, Some(120));
    assert_eq!(i.root_object(), Some("Device."));
    assert_eq!(
        i.parameter("Device.DeviceInfo.SoftwareVersion"),
        Some("1.2.3")
    );
    assert!(d.quirks.is_empty(), "{:?}", d.quirks);

    let d = ok("valid-informresponse-1-0.xml");
    assert_eq!(
        d.envelope.body,
        Body::InformResponse(InformResponse { max_envelopes: 1 })
    );
    assert_eq!(d.envelope.header.id.as_deref(), Some("1001"));

    let d = ok("valid-informresponse-1-4.xml");
    assert_eq!(d.envelope.namespace, CwmpNamespace::V1_2);
    assert_eq!(d.envelope.header.use_cwmp_version, Some(CwmpVersion::V1_4));
    assert_eq!(d.envelope.header.id.as_deref(), Some("2001"));
    assert!(
        d.envelope.header.not_understood.is_empty(),
        "ENV-06: UseCWMPVersion is understood"
    );

    let d = ok("valid-getparametervalues-1-0.xml");
    assert_eq!(
        d.envelope.body,
        Body::GetParameterValues(GetParameterValues {
            parameter_names: vec![
                "InternetGatewayDevice.DeviceInfo.SoftwareVersion".into(),
                "InternetGatewayDevice.WANDevice.".into()
            ]
        })
    );
    assert_eq!(d.envelope.header.id.as_deref(), Some("acs-42"));

    let d = ok("valid-setparametervalues-1-0.xml");
    let Body::SetParameterValues(spv) = &d.envelope.body else {
        panic!("SetParameterValues expected")
    };
    assert_eq!(spv.parameter_key, "key-1");
    assert_eq!(spv.parameter_list[0].value, Value::boolean(true));
    assert_eq!(
        spv.parameter_list[1],
        ParameterValue::new(
            "InternetGatewayDevice.ManagementServer.PeriodicInformInterval",
            Value::unsigned_int(300)
        )
    );

    let d = ok("valid-setparametervaluesresponse-1-0.xml");
    assert_eq!(
        d.envelope.body,
        Body::SetParameterValuesResponse(SetParameterValuesResponse { status: 0 })
    );

    let d = ok("valid-fault-setparametervalues-1-0.xml");
    let fault = d.envelope.body.as_fault().expect("a fault");
    assert_eq!(
        (fault.code, fault.soap_class.clone(), fault.string.as_str()),
        (
            FaultCode::INVALID_ARGUMENTS,
            SoapFaultClass::Client,
            "Invalid arguments"
        )
    );
    assert_eq!(fault.soap_string, "CWMP fault");
    assert_eq!(
        fault.set_parameter_values_faults,
        vec![SetParameterValuesFault {
            parameter_name: "InternetGatewayDevice.ManagementServer.PeriodicInformInterval".into(),
            code: FaultCode::INVALID_PARAMETER_VALUE,
            string: "Invalid parameter value".into(),
        }]
    );
    assert_eq!(
        d.envelope.namespace,
        CwmpNamespace::V1_0,
        "namespace taken from cwmp:Fault"
    );
}

#[test]
fn invalid_samples_are_handled_as_a_lenient_acs_should() {
    // Refused: nothing sensible can be read.
    assert_eq!(
        decode(&read("invalid-envelope-missing-body.xml")).map(|_| ()),
        Err(DecodeError::MissingBody)
    );
    assert_eq!(
        decode(&read("invalid-inform-unknown-cwmp-namespace.xml")).map(|_| ()),
        Err(DecodeError::UnknownNamespace(
            "urn:dslforum-org:cwmp-9-9".into()
        ))
    );
    let err =
        decode(&read("invalid-inform-missing-deviceid.xml")).expect_err("DeviceId is required");
    assert!(
        matches!(&err, DecodeError::Invalid { element, message, line: 7, .. } if element == "Inform" && message.contains("DeviceId")),
        "{err:?}"
    );

    // Decoded with a quirk.
    let d = ok("invalid-envelope-header-after-body.xml");
    check_base_inform("header-after-body", &d);
    assert_eq!(
        d.envelope.header.id, None,
        "a Header after the Body is not read"
    );
    assert_eq!(
        d.quirks,
        vec![Quirk::UnknownElement {
            element: "Header".into()
        }]
    );

    let d = ok("invalid-inform-missing-arraytype.xml");
    check_base_inform("missing-arraytype", &d);
    assert_eq!(inform_of(&d).events.len(), 2);
    assert_eq!(
        d.quirks,
        vec![Quirk::MissingArrayType {
            element: "Event".into()
        }]
    );

    let d = ok("invalid-inform-lowercase-oui.xml");
    assert_eq!(inform_of(&d).device_id.oui, "00d09e");
    assert_eq!(
        d.quirks,
        vec![Quirk::NonStandardOui {
            oui: "00d09e".into()
        }]
    );

    let d = ok("invalid-informresponse-two-rpcs-in-body.xml");
    assert_eq!(
        d.envelope.body,
        Body::InformResponse(InformResponse { max_envelopes: 1 })
    );
    assert_eq!(d.quirks, vec![Quirk::ExtraBodyElements]);

    let d = ok("invalid-getparametervalues-misspelled-parameternames.xml");
    assert_eq!(
        d.envelope.body,
        Body::GetParameterValues(GetParameterValues {
            parameter_names: vec![]
        })
    );
    assert_eq!(
        d.quirks,
        vec![Quirk::MissingElement {
            element: "GetParameterValues/ParameterNames".into()
        }]
    );

    // Decoded as sent, without a quirk: the session layer (or the operator) judges the value.
    let d = ok("invalid-inform-bad-eventcode.xml");
    assert_eq!(
        inform_of(&d).events[1].code,
        EventCode::Other("BOOT".into())
    );
    let d = ok("invalid-inform-value-not-matching-xsi-type.xml");
    assert_eq!(
        inform_of(&d).parameter_list[3].value,
        Value::typed(ValueType::UnsignedInt, "one day")
    );
    assert_eq!(inform_of(&d).parameter_list[3].value.as_u64(), None);
    let d = ok("invalid-setparametervaluesresponse-status-2.xml");
    assert_eq!(
        d.envelope.body,
        Body::SetParameterValuesResponse(SetParameterValuesResponse { status: 2 })
    );
    let d = ok("invalid-fault-unknown-faultcode.xml");
    assert_eq!(
        d.envelope.body.as_fault().map(|f| f.code),
        Some(FaultCode(1234))
    );

    // Harmless to a reader matching by name: decoded as if valid.
    for name in [
        "invalid-inform-wrong-child-order.xml",
        "invalid-inform-id-without-mustunderstand.xml",
        "invalid-inform-id-mustunderstand-0-undetected.xml",
    ] {
        let d = ok(name);
        check_base_inform(name, &d);
        assert_eq!(d.envelope.header.id.as_deref(), Some("1001"), "{name}");
        assert!(d.quirks.is_empty(), "{name}: {:?}", d.quirks);
    }
    for name in [
        "invalid-fault-faultstring-before-faultcode.xml",
        "invalid-fault-missing-soap-faultcode.xml",
    ] {
        let d = ok(name);
        let fault = d.envelope.body.as_fault().expect("a fault");
        assert_eq!(fault.code, FaultCode::INVALID_ARGUMENTS, "{name}");
        assert_eq!(fault.set_parameter_values_faults.len(), 1, "{name}");
    }
    // FLT-03: a missing faultcode is read as Server.
    assert_eq!(
        ok("invalid-fault-missing-soap-faultcode.xml")
            .envelope
            .body
            .as_fault()
            .map(|f| f.soap_class.clone()),
        Some(SoapFaultClass::Server)
    );
}

#[test]
fn re_encoding_any_decoded_sample_validates_or_is_refused() {
    let mut names: Vec<String> = std::fs::read_dir(samples_dir())
        .expect("the samples directory")
        .map(|e| {
            e.expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|n| n.ends_with(".xml"))
        .collect();
    names.sort();
    assert_eq!(
        names.len(),
        25,
        "a sample was added or removed: update this module"
    );
    let mut encoded = Vec::new();
    let mut refused = Vec::new();
    for name in &names {
        let Ok(d) = decode(&read(name)) else { continue };
        match encode(&d.envelope) {
            Ok(xml) => encoded.push((name.clone(), d.envelope.namespace, xml)),
            Err(e) => refused.push(format!("{name}: {e}")),
        }
    }
    support::assert_all_validate(&encoded);
    // Exactly the samples whose content (not only their form) is invalid are refused.
    let refused_names: Vec<&str> = refused
        .iter()
        .map(|r| r.split(':').next().unwrap_or_default())
        .collect();
    assert_eq!(
        refused_names,
        vec![
            "invalid-fault-unknown-faultcode.xml",
            "invalid-getparametervalues-misspelled-parameternames.xml",
            "invalid-inform-bad-eventcode.xml",
            "invalid-inform-lowercase-oui.xml",
            "invalid-inform-value-not-matching-xsi-type.xml",
            "invalid-setparametervaluesresponse-status-2.xml",
        ],
        "{refused:#?}"
    );
    assert_eq!(encoded.len(), 25 - 3 - refused.len());
}
