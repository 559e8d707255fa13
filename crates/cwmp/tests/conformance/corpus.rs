//! Real-world corpus: envelopes published by others (GitHub issues of GenieACS, the test data of
//! the SimulaTR69 CPE simulator, the sample of the `cwmp` crate), kept byte for byte in
//! `tests/fixtures/corpus/` with their provenance in `tests/fixtures/corpus/SOURCES.md`.
//!
//! Each test decodes one capture, asserts concrete values and the quirks the decoder recorded,
//! then re-encodes what was decoded: the result must decode to the same message, or the encoder
//! must refuse it with a typed error naming the problem (a capture may hold values the schema
//! forbids, which we accept on input but never emit).

use std::path::PathBuf;
use tether_cwmp::rpc::*;
use tether_cwmp::{
    CwmpNamespace, DateTime, Decoded, EncodeError, EventCode, FaultCode, Quirk, SoapFaultClass,
    ValueType, decode, encode,
};

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/corpus")
}

fn load(name: &str) -> Decoded {
    let bytes = std::fs::read(corpus_dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    decode(&bytes).unwrap_or_else(|e| panic!("{name} does not decode: {e}"))
}

/// Re-encodes a decoded capture: either it round-trips (modulo quirks and the input-only header
/// fields `NoMoreRequests` and `not_understood`, which the encoder never writes), or the encoder
/// refuses it with the expected error.
fn reencode(name: &str, d: &Decoded) -> Result<(), EncodeError> {
    let xml = encode(&d.envelope)?;
    let back = decode(xml.as_bytes())
        .unwrap_or_else(|e| panic!("{name}: our own output does not decode: {e}\n{xml}"));
    let mut expected = d.envelope.clone();
    expected.header.no_more_requests = None;
    expected.header.not_understood.clear();
    assert_eq!(
        back.envelope, expected,
        "{name}: re-encoding changed the message"
    );
    assert!(
        back.quirks.is_empty(),
        "{name}: our own output has quirks {:?}",
        back.quirks
    );
    Ok(())
}

fn must_reencode(name: &str, d: &Decoded) {
    reencode(name, d).unwrap_or_else(|e| panic!("{name}: encoder refused: {e}"));
}

fn has_missing(d: &Decoded, suffix: &str) -> bool {
    d.quirks
        .iter()
        .any(|q| matches!(q, Quirk::MissingElement { element } if element.ends_with(suffix)))
}

#[test]
fn every_corpus_file_is_listed_in_sources_md() {
    let sources = std::fs::read_to_string(corpus_dir().join("SOURCES.md")).expect("SOURCES.md");
    let mut count = 0;
    for entry in std::fs::read_dir(corpus_dir()).expect("corpus dir") {
        let name = entry
            .expect("entry")
            .file_name()
            .into_string()
            .expect("utf-8 name");
        if name.ends_with(".xml") {
            count += 1;
            assert!(
                sources.contains(&format!("`{name}`")),
                "{name} has no source in SOURCES.md"
            );
            let bytes = std::fs::read(corpus_dir().join(&name)).expect("read");
            decode(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
    assert!(count >= 14, "corpus shrank to {count} files");
}

/// Every capture our encoder accepts is written back schema-valid (xmllint, through the shared
/// `support` helper); the ones it refuses are refused with a typed error.
#[test]
fn reencoded_corpus_validates_against_the_schema() {
    let mut labelled = Vec::new();
    let mut refused = Vec::new();
    for entry in std::fs::read_dir(corpus_dir()).expect("corpus dir") {
        let name = entry
            .expect("entry")
            .file_name()
            .into_string()
            .expect("utf-8 name");
        if !name.ends_with(".xml") {
            continue;
        }
        let d = load(&name);
        match encode(&d.envelope) {
            Ok(xml) => labelled.push((name, d.envelope.namespace, xml)),
            Err(e) => refused.push((name, e)),
        }
    }
    assert!(
        labelled.len() >= 11,
        "only {} captures re-encoded",
        labelled.len()
    );
    // The refusals: a CWMP 1.1 method, and fault 9015 in TransferComplete, both sent in the
    // cwmp-1-0 namespace that does not define them.
    assert_eq!(refused.len(), 3, "{refused:?}");
    for (name, e) in &refused {
        assert!(
            matches!(
                e,
                EncodeError::NotInNamespace { .. }
                    | EncodeError::InvalidValue {
                        field: "FaultStruct",
                        ..
                    }
            ),
            "{name}: {e}"
        );
    }
    crate::support::assert_all_validate(&labelled);
}

#[test]
fn genieacs_171_transfer_complete_with_fault_9015_and_unknown_times() {
    let name = "genieacs-171-transfercomplete-9015.xml";
    let d = load(name);
    assert_eq!(d.envelope.namespace, CwmpNamespace::V1_0);
    assert_eq!(d.envelope.header.id.as_deref(), Some("XXXXXXXYYYYZZZ"));
    let Body::TransferComplete(tc) = &d.envelope.body else {
        panic!("{:?}", d.envelope.body)
    };
    assert_eq!(tc.command_key, "");
    assert_eq!(tc.fault.code, FaultCode(9015));
    assert_eq!(
        tc.fault.string,
        "File transfer failure: unable to contact file server"
    );
    assert!(tc.start_time.is_unknown() && tc.complete_time.is_unknown());
    assert!(d.quirks.is_empty(), "{:?}", d.quirks);
    // cwmp-1-0.xsd enumerates only 0, 9001, 9002, 9010-9012 for TransferComplete: 9015 (added in
    // 1.1) is accepted on input but the encoder refuses to write it in the 1-0 namespace.
    assert!(
        matches!(
            reencode(name, &d),
            Err(EncodeError::InvalidValue {
                field: "FaultStruct",
                ..
            })
        ),
        "{:?}",
        reencode(name, &d)
    );
    let mut in_1_1 = d.clone();
    in_1_1.envelope.namespace = CwmpNamespace::V1_1;
    must_reencode(name, &in_1_1);
}

#[test]
fn genieacs_317_cisco_spa122_gpv_response_without_value_element() {
    let name = "genieacs-317-spa122-gpvresponse-missing-value.xml";
    let d = load(name);
    assert_eq!(d.envelope.header.id.as_deref(), Some("166f77013830000"));
    let Body::GetParameterValuesResponse(r) = &d.envelope.body else {
        panic!("{:?}", d.envelope.body)
    };
    assert_eq!(r.parameter_list.len(), 1);
    assert_eq!(r.parameter_list[0].name, "Device.DeviceInfo.DeviceLog");
    assert_eq!(r.parameter_list[0].value.kind, ValueType::String);
    assert_eq!(r.parameter_list[0].value.text, "");
    assert!(
        has_missing(&d, "Device.DeviceInfo.DeviceLog/Value"),
        "{:?}",
        d.quirks
    );
    // The missing Value is read as an empty string and written back with xsi:type.
    must_reencode(name, &d);
}

#[test]
fn genieacs_74_genieacs_inform_response_with_xml_declaration() {
    let name = "genieacs-74-genieacs-informresponse.xml";
    let d = load(name);
    assert_eq!(d.envelope.header.id.as_deref(), Some("SAGEM_ID_7589"));
    assert_eq!(
        d.envelope.body,
        Body::InformResponse(InformResponse { max_envelopes: 1 })
    );
    assert!(d.quirks.is_empty(), "{:?}", d.quirks);
    must_reencode(name, &d);
}

#[test]
fn genieacs_230_indented_get_parameter_names_is_trimmed_except_the_id() {
    let name = "genieacs-230-genieacs-getparameternames-indented.xml";
    let d = load(name);
    let Body::GetParameterNames(g) = &d.envelope.body else {
        panic!("{:?}", d.envelope.body)
    };
    assert_eq!(g.parameter_path, "InternetGatewayDevice.DeviceInfo.");
    assert!(g.next_level);
    // The ID is an opaque string echoed back byte for byte (HDR rule): indentation included.
    let id = d.envelope.header.id.as_deref().expect("ID");
    assert_eq!(id.trim(), "15ba07df6a1100");
    must_reencode(name, &d);
}

#[test]
fn cwmp_crate_sample_inform_with_no_more_requests_header() {
    let name = "cwmp-crate-inform-iad-nomorerequests.xml";
    let d = load(name);
    assert_eq!(d.envelope.header.id.as_deref(), Some("100"));
    assert_eq!(d.envelope.header.no_more_requests, Some(true));
    let Body::Inform(inf) = &d.envelope.body else {
        panic!("{:?}", d.envelope.body)
    };
    assert_eq!(inf.device_id.manufacturer, "The Company");
    assert_eq!(inf.device_id.oui, "AA1234");
    assert_eq!(inf.device_id.serial_number, "S99998888");
    assert_eq!(inf.events.len(), 1);
    assert!(inf.has_event(&EventCode::Periodic));
    assert_eq!(
        inf.current_time,
        DateTime::parse("2015-01-19T23:08:24Z").expect("time")
    );
    assert_eq!(inf.parameter_list.len(), 8);
    assert_eq!(
        inf.parameter("InternetGatewayDevice.DeviceInfo.SoftwareVersion"),
        Some("V1.00(beta)")
    );
    assert_eq!(inf.root_object(), Some("InternetGatewayDevice."));
    must_reencode(name, &d);
}

#[test]
fn simulatr69_bootstrap_inform_with_extra_device_id_element() {
    let name = "simulatr69-inform-bootstrap.xml";
    let d = load(name);
    let Body::Inform(inf) = &d.envelope.body else {
        panic!("{:?}", d.envelope.body)
    };
    assert_eq!(inf.device_id.oui, "DECADE");
    assert_eq!(inf.device_id.serial_number, "G3000E-9799109101");
    assert!(inf.has_event(&EventCode::Bootstrap));
    assert_eq!(inf.parameter_list.len(), 10);
    let alias = inf
        .parameter_list
        .iter()
        .find(|p| p.name == "Device.ManagementServer.AliasBasedAddressing")
        .expect("param");
    assert_eq!(
        (alias.value.kind.clone(), alias.value.as_bool()),
        (ValueType::Boolean, Some(true))
    );
    assert_eq!(inf.parameter("Device.RootDataModelVersion"), Some("2.11"));
    assert_eq!(inf.root_object(), Some("Device."));
    // The encoder writes booleans as true/false: the decoded text "1" comes back as "true".
    let xml = encode(&d.envelope).expect("encodes");
    let back = decode(xml.as_bytes()).expect("decodes");
    let Body::Inform(again) = back.envelope.body else {
        panic!("not an Inform")
    };
    assert_eq!(
        again.parameter("Device.ManagementServer.AliasBasedAddressing"),
        Some("true")
    );
    assert_eq!(again.device_id, inf.device_id);
}

#[test]
fn simulatr69_transfer_complete_with_fault() {
    let name = "simulatr69-transfercomplete-fault-9015.xml";
    let d = load(name);
    let Body::TransferComplete(tc) = &d.envelope.body else {
        panic!("{:?}", d.envelope.body)
    };
    assert_eq!(tc.command_key, "upgrade");
    assert_eq!(
        (tc.fault.code, tc.fault.string.as_str()),
        (FaultCode(9015), "Server Not Found")
    );
    assert_eq!(
        tc.complete_time,
        DateTime::parse("2024-06-10T23:05:00Z").expect("time")
    );
    // 9015 is not in the cwmp-1-0 enumeration: refused there, written in cwmp-1-1.
    assert!(matches!(
        reencode(name, &d),
        Err(EncodeError::InvalidValue {
            field: "FaultStruct",
            ..
        })
    ));
    let mut in_1_1 = d.clone();
    in_1_1.envelope.namespace = CwmpNamespace::V1_1;
    must_reencode(name, &in_1_1);
}

#[test]
fn simulatr69_set_parameter_values_fault_with_two_parameter_faults() {
    let name = "simulatr69-fault-setparametervalues-9003.xml";
    let d = load(name);
    let Body::Fault(f) = &d.envelope.body else {
        panic!("{:?}", d.envelope.body)
    };
    assert_eq!(f.soap_class, SoapFaultClass::Client);
    assert_eq!(f.code, FaultCode(9003));
    assert_eq!(f.string, "InvalidArguments");
    assert_eq!(f.set_parameter_values_faults.len(), 2);
    assert_eq!(
        f.set_parameter_values_faults[1].parameter_name,
        "InternetGatewayDevice.Time.LocalTimeZoneName"
    );
    assert_eq!(f.set_parameter_values_faults[1].code, FaultCode(9007));
    assert_eq!(f.set_parameter_values_faults[1].string, "String too long");
    must_reencode(name, &d);
}

#[test]
fn simulatr69_get_parameter_values_fault_9005() {
    let name = "simulatr69-getparametervalues-fault-9005.xml";
    let d = load(name);
    let Body::Fault(f) = &d.envelope.body else {
        panic!("{:?}", d.envelope.body)
    };
    assert_eq!(
        (f.code, f.string.as_str()),
        (FaultCode(9005), "InvalidParameterName")
    );
    assert!(f.set_parameter_values_faults.is_empty());
    must_reencode(name, &d);
}

#[test]
fn simulatr69_get_parameter_names_response_with_true_false_writable() {
    let name = "simulatr69-getparameternames-response.xml";
    let d = load(name);
    let Body::GetParameterNamesResponse(r) = &d.envelope.body else {
        panic!("{:?}", d.envelope.body)
    };
    let got: Vec<(&str, bool)> = r
        .parameter_list
        .iter()
        .map(|p| (p.name.as_str(), p.writable))
        .collect();
    assert_eq!(got[0], ("Device.", false));
    assert_eq!(got[4], ("Device.CaptivePortal.Enable", true));
    assert_eq!(got.len(), 5);
    must_reencode(name, &d);
}

#[test]
fn simulatr69_autonomous_transfer_complete_with_text_fault_struct() {
    let name = "simulatr69-autonomoustransfercomplete.xml";
    let d = load(name);
    let Body::AutonomousTransferComplete(a) = &d.envelope.body else {
        panic!("{:?}", d.envelope.body)
    };
    assert!(a.is_download);
    assert_eq!(a.file_size, 184_258_350);
    assert_eq!(a.target_file_name, "firmware.bin");
    // `<FaultStruct>0</FaultStruct>`: no FaultCode child; read as "no fault" and recorded.
    assert_eq!(a.fault.code, FaultCode(0));
    assert!(has_missing(&d, "FaultStruct/FaultCode"), "{:?}", d.quirks);
    // AutonomousTransferComplete needs cwmp-1-1; the capture is in cwmp-1-0, so the encoder
    // refuses to write it back in that namespace.
    assert!(matches!(
        reencode(name, &d),
        Err(EncodeError::NotInNamespace { .. })
    ));
}

#[test]
fn simulatr69_get_rpc_methods_response_lists_twelve_methods() {
    let name = "simulatr69-getrpcmethods-response.xml";
    let d = load(name);
    let Body::GetRPCMethodsResponse(r) = &d.envelope.body else {
        panic!("{:?}", d.envelope.body)
    };
    assert_eq!(r.method_list.len(), 12);
    assert_eq!(
        r.method_list.first().map(String::as_str),
        Some("GetRPCMethods")
    );
    assert_eq!(
        r.method_list.last().map(String::as_str),
        Some("FactoryReset")
    );
    must_reencode(name, &d);
}

#[test]
fn simulatr69_get_parameter_values_response_and_add_object_response() {
    let d = load("simulatr69-getparametervalues-response.xml");
    let Body::GetParameterValuesResponse(r) = &d.envelope.body else {
        panic!("{:?}", d.envelope.body)
    };
    assert_eq!(
        r.parameter_list[0].name,
        "Device.DeviceInfo.VendorConfigFile.1.Version"
    );
    assert_eq!(r.parameter_list[0].value.text, "0.0");
    must_reencode("simulatr69-getparametervalues-response.xml", &d);

    let d = load("simulatr69-addobject-response.xml");
    assert_eq!(
        d.envelope.body,
        Body::AddObjectResponse(AddObjectResponse {
            instance_number: 123,
            status: 1
        })
    );
    must_reencode("simulatr69-addobject-response.xml", &d);
}
