//! What the encoder writes validates against the BBF schema of the message's namespace (strict
//! envelope wrappers, xmllint, see `support.rs`), and what the schema would reject the encoder
//! refuses with an `EncodeError` instead of writing it.
//!
//! * `every_body_variant_header_and_option_validates_in_every_namespace`: a hand-built message of
//!   every `Body` variant in every namespace where it exists, header variants, option variants.
//! * `generated_envelopes_validate`: 300 envelopes from `strategies::envelope()` with a fixed seed.
//! * `encoder_refuses_what_the_schema_rejects`: each case is checked twice: the encoder refuses
//!   the model, and xmllint rejects the same defect spliced into the encoding of a valid twin.
//! * `env_04_09_10_structure_of_emitted_xml`: every arrayType count is true (ENV-09), every Value
//!   has xsi:type (ENV-10), only top-level elements are qualified (ENV-04).

use crate::strategies;
use crate::support::{self, validate_all};
use tether_cwmp::rpc::*;
use tether_cwmp::*;

const UUID: &str = "0123abcd-89AB-cdef-0123-456789abcdef";
/// Free text with every XML-hostile character class.
const HOSTILE: &str = " a&b<c>\"d'e ]]> é中😀\t ";

fn t(s: &str) -> String {
    s.to_owned()
}

fn time(s: &str) -> DateTime {
    DateTime::parse(s).expect("a valid dateTime")
}

fn values() -> Vec<ParameterValue> {
    vec![
        ParameterValue::new("Device.A.String", Value::string(HOSTILE)),
        ParameterValue::new("Device.A.Int", Value::int(-2_147_483_648)),
        ParameterValue::new("Device.A.UInt", Value::unsigned_int(u32::MAX)),
        ParameterValue::new(
            "Device.A.Long",
            Value::typed(ValueType::Long, "-9223372036854775808"),
        ),
        ParameterValue::new(
            "Device.A.ULong",
            Value::typed(ValueType::UnsignedLong, "18446744073709551615"),
        ),
        ParameterValue::new("Device.A.Bool", Value::typed(ValueType::Boolean, "1")),
        ParameterValue::new(
            "Device.A.Time",
            Value::typed(ValueType::DateTime, "2024-02-29T23:59:59.123456+05:30"),
        ),
        ParameterValue::new("Device.A.B64", Value::typed(ValueType::Base64, "aGVsbG8=")),
        ParameterValue::new("Device.A.Hex", Value::typed(ValueType::HexBinary, "00ff")),
        ParameterValue::new("Device.A.Dec", Value::typed(ValueType::Decimal, "-1.50")),
    ]
}

fn du_result(autonomous: bool) -> DuOperationResult {
    DuOperationResult {
        uuid: t(UUID),
        deployment_unit_ref: t("Device.SoftwareModules.DeploymentUnit.1"),
        version: t("1.0 é"),
        current_state: t("Failed"),
        resolved: false,
        execution_unit_ref_list: t(
            "Device.SoftwareModules.ExecutionUnit.1,Device.SoftwareModules.ExecutionUnit.2",
        ),
        start_time: time("2024-01-01T00:00:00Z"),
        complete_time: DateTime::UNKNOWN,
        fault: DuFault {
            code: FaultCode(9026),
            string: Some(t(HOSTILE)),
        },
        operation_performed: autonomous.then(|| t("Install")),
    }
}

/// One hand-built instance of every `Body` variant except `Unknown` (55), valid in `ns` where
/// the variant exists there (values chosen inside the strictest namespace's enumerations).
fn every_body(ns: CwmpNamespace) -> Vec<Body> {
    let key = t("key <&> é");
    let spv_fault = |code| SetParameterValuesFault {
        parameter_name: t("Device.A.Int"),
        code: FaultCode(code),
        string: t(HOSTILE),
    };
    let notification = if ns == CwmpNamespace::V1_2 { 6 } else { 2 };
    let all = vec![
        Body::GetRPCMethods,
        Body::GetRPCMethodsResponse(GetRpcMethodsResponse {
            method_list: vec![t("Inform"), t("GetRPCMethods"), t("TransferComplete")],
        }),
        Body::SetParameterValues(SetParameterValues {
            parameter_list: values(),
            parameter_key: key.clone(),
        }),
        Body::SetParameterValuesResponse(SetParameterValuesResponse { status: 1 }),
        Body::GetParameterValues(GetParameterValues {
            parameter_names: vec![t("Device."), t("Device.A.Int")],
        }),
        Body::GetParameterValuesResponse(GetParameterValuesResponse {
            parameter_list: values(),
        }),
        Body::GetParameterNames(GetParameterNames {
            parameter_path: String::new(),
            next_level: true,
        }),
        Body::GetParameterNamesResponse(GetParameterNamesResponse {
            parameter_list: vec![
                ParameterInfo {
                    name: t("Device."),
                    writable: false,
                },
                ParameterInfo {
                    name: t("Device.A."),
                    writable: true,
                },
            ],
        }),
        Body::SetParameterAttributes(SetParameterAttributes {
            parameter_list: vec![SetParameterAttributesStruct {
                name: t("Device.A."),
                notification_change: true,
                notification,
                access_list_change: true,
                access_list: vec![t("Subscriber")],
            }],
        }),
        Body::SetParameterAttributesResponse,
        Body::GetParameterAttributes(GetParameterAttributes {
            parameter_names: vec![t("Device.A.")],
        }),
        Body::GetParameterAttributesResponse(GetParameterAttributesResponse {
            parameter_list: vec![
                ParameterAttribute {
                    name: t("Device.A.Int"),
                    notification: 1,
                    access_list: vec![],
                },
                ParameterAttribute {
                    name: t("Device.A.UInt"),
                    notification,
                    access_list: vec![t("Subscriber")],
                },
            ],
        }),
        Body::AddObject(AddObject {
            object_name: t("Device.IP.Interface."),
            parameter_key: key.clone(),
        }),
        Body::AddObjectResponse(AddObjectResponse {
            instance_number: 7,
            status: 0,
        }),
        Body::DeleteObject(DeleteObject {
            object_name: t("Device.IP.Interface.7."),
            parameter_key: String::new(),
        }),
        Body::DeleteObjectResponse(DeleteObjectResponse { status: 1 }),
        Body::Download(Download {
            command_key: key.clone(),
            file_type: t("X 00D09E Signed Image"),
            url: t("https://files.example/fw.bin?a=1&b=2"),
            username: t(HOSTILE),
            password: t("p&ss<>"),
            file_size: 0,
            target_file_name: t("fw é.bin"),
            delay_seconds: 30,
            success_url: String::new(),
            failure_url: t("http://x/fail"),
        }),
        Body::DownloadResponse(TransferResponse {
            status: 0,
            start_time: time("2024-05-01T12:00:00.5Z"),
            complete_time: time("2024-05-01T12:01:00-03:00"),
        }),
        Body::Reboot(Reboot {
            command_key: key.clone(),
        }),
        Body::RebootResponse,
        Body::GetQueuedTransfers,
        Body::GetQueuedTransfersResponse(GetQueuedTransfersResponse {
            transfer_list: vec![
                QueuedTransfer {
                    command_key: key.clone(),
                    state: 2,
                },
                QueuedTransfer {
                    command_key: String::new(),
                    state: 3,
                },
            ],
        }),
        Body::ScheduleInform(ScheduleInform {
            delay_seconds: 1,
            command_key: key.clone(),
        }),
        Body::ScheduleInformResponse,
        Body::SetVouchers(SetVouchers {
            voucher_list: vec![t("aGVsbG8="), t("AAAA")],
        }),
        Body::SetVouchersResponse,
        Body::GetOptions(GetOptions {
            option_name: String::new(),
        }),
        Body::GetOptionsResponse(GetOptionsResponse {
            option_list: vec![OptionInfo {
                option_name: t("Opt é"),
                voucher_sn: 5,
                state: 3,
                mode: 2,
                start_date: time("2024-01-01T00:00:00Z"),
                expiration_date: Some(time("2025-01-01T00:00:00")),
                is_transferable: 1,
            }],
        }),
        Body::Upload(Upload {
            command_key: key.clone(),
            file_type: t("2 Vendor Log File"),
            url: t("http://logs.example/up"),
            username: String::new(),
            password: String::new(),
            delay_seconds: 0,
        }),
        Body::UploadResponse(TransferResponse::default()),
        Body::FactoryReset,
        Body::FactoryResetResponse,
        Body::GetAllQueuedTransfers,
        Body::GetAllQueuedTransfersResponse(GetAllQueuedTransfersResponse {
            transfer_list: vec![AllQueuedTransfer {
                command_key: key.clone(),
                state: 1,
                is_download: true,
                file_type: t("4 Vendor Log File"),
                file_size: 1024,
                target_file_name: t(HOSTILE),
            }],
        }),
        Body::ScheduleDownload(ScheduleDownload {
            command_key: key.clone(),
            file_type: t("1 Firmware Upgrade Image"),
            url: t("http://files.example/fw"),
            username: t("u"),
            password: t("p"),
            file_size: 9,
            target_file_name: String::new(),
            time_window_list: vec![
                TimeWindow {
                    window_start: 0,
                    window_end: 60,
                    window_mode: t("1 At Any Time"),
                    user_message: String::new(),
                    max_retries: -1,
                },
                TimeWindow {
                    window_start: 120,
                    window_end: 3600,
                    window_mode: t("4 Confirmation Needed"),
                    user_message: t(HOSTILE),
                    max_retries: 3,
                },
            ],
        }),
        Body::ScheduleDownloadResponse,
        Body::CancelTransfer(CancelTransfer {
            command_key: key.clone(),
        }),
        Body::CancelTransferResponse,
        Body::ChangeDUState(ChangeDuState {
            operations: vec![
                DuOperation::Install {
                    url: t("http://du.example/pkg.ipk"),
                    uuid: Some(t(UUID)),
                    username: Some(t(HOSTILE)),
                    password: None,
                    execution_env_ref: Some(t("Device.SoftwareModules.ExecEnv.1")),
                },
                DuOperation::Update {
                    uuid: None,
                    version: Some(t("2.0")),
                    url: None,
                    username: None,
                    password: Some(t("pw")),
                },
                DuOperation::Uninstall {
                    uuid: t(UUID),
                    version: None,
                    execution_env_ref: None,
                },
            ],
            command_key: Some(key.clone()),
        }),
        Body::ChangeDUStateResponse,
        Body::Inform(Inform {
            device_id: DeviceId {
                manufacturer: t(HOSTILE),
                oui: t("00D09E"),
                product_class: String::new(),
                serial_number: t("SN-é1"),
            },
            events: vec![
                Event::new(EventCode::Bootstrap),
                Event::new(EventCode::Boot),
                Event::with_key(EventCode::m_reboot(), key.clone()),
                Event::new(EventCode::Vendor(t("00D09E Custom event"))),
            ],
            max_envelopes: 1,
            current_time: time("2024-05-01T12:00:00+02:00"),
            retry_count: 3,
            parameter_list: values(),
        }),
        Body::InformResponse(InformResponse { max_envelopes: 1 }),
        Body::TransferComplete(TransferComplete {
            command_key: key.clone(),
            fault: TransferFault {
                code: FaultCode(9010),
                string: t(HOSTILE),
            },
            start_time: DateTime::UNKNOWN,
            complete_time: time("2024-05-01T12:00:00Z"),
        }),
        Body::TransferCompleteResponse,
        Body::AutonomousTransferComplete(AutonomousTransferComplete {
            announce_url: String::new(),
            transfer_url: t("http://files.example/a b"),
            is_download: false,
            file_type: t("4 Vendor Log File"),
            file_size: 10,
            target_file_name: t("log.txt"),
            fault: TransferFault::default(),
            start_time: DateTime::UNKNOWN,
            complete_time: DateTime::UNKNOWN,
        }),
        Body::AutonomousTransferCompleteResponse,
        Body::Kicked(Kicked {
            command: t("cmd"),
            referer: t(HOSTILE),
            arg: String::new(),
            next: t("http://next/"),
        }),
        Body::KickedResponse(KickedResponse {
            next_url: t("http://next/?a=1&b=<2>"),
        }),
        Body::RequestDownload(RequestDownload {
            file_type: t("3 Vendor Configuration File"),
            file_type_arg: vec![FileTypeArg {
                name: t("Version"),
                value: t(HOSTILE),
            }],
        }),
        Body::RequestDownloadResponse,
        Body::DUStateChangeComplete(DuStateChangeComplete {
            results: vec![du_result(false)],
            command_key: None,
        }),
        Body::DUStateChangeCompleteResponse,
        Body::AutonomousDUStateChangeComplete(AutonomousDuStateChangeComplete {
            results: vec![du_result(true)],
        }),
        Body::AutonomousDUStateChangeCompleteResponse,
        Body::Fault(Fault::set_parameter_values(vec![
            spv_fault(9005),
            spv_fault(9007),
        ])),
    ];
    assert_eq!(all.len(), strategies::BODY_VARIANTS);
    all.into_iter()
        .filter(|b| b.since() <= ns.max_version())
        .collect()
}

fn labelled_encoding(
    label: String,
    env: &Envelope,
    options: &EncodeOptions,
) -> (String, CwmpNamespace, String) {
    let xml = encode_with(env, options)
        .unwrap_or_else(|e| panic!("{label}: the encoder refused a valid message: {e}"));
    (label, env.namespace, xml)
}

#[test]
fn every_body_variant_header_and_option_validates_in_every_namespace() {
    let mut batch = Vec::new();
    let mut per_ns = Vec::new();
    for ns in strategies::NAMESPACES {
        let bodies = every_body(ns);
        per_ns.push(bodies.len());
        for body in bodies {
            let env = Envelope::new(ns, Some(t(HOSTILE)), body);
            batch.push(labelled_encoding(
                format!("{} in {ns}", env.body.method_name()),
                &env,
                &EncodeOptions::default(),
            ));
        }
        // Header variants: ID absent, HoldRequests true/false, ACS fault answer to an Inform.
        for (label, header) in [
            ("no header", Header::default()),
            (
                "HoldRequests true",
                Header {
                    hold_requests: Some(true),
                    ..Header::with_id("1")
                },
            ),
            (
                "HoldRequests false",
                Header {
                    hold_requests: Some(false),
                    ..Header::default()
                },
            ),
        ] {
            let env = Envelope {
                namespace: ns,
                header,
                body: Body::InformResponse(InformResponse::default()),
            };
            batch.push(labelled_encoding(
                format!("{label} in {ns}"),
                &env,
                &EncodeOptions::default(),
            ));
        }
        let acs_fault = Envelope::new(
            ns,
            Some(t("9")),
            Body::Fault(Fault::new(FaultCode::ACS_RETRY_REQUEST)),
        );
        batch.push(labelled_encoding(
            format!("8005 in {ns}"),
            &acs_fault,
            &EncodeOptions::default(),
        ));
        // Option variants: 1/0 booleans, milliseconds, XML declaration, all three together.
        for options in [
            EncodeOptions {
                boolean_literal: BooleanLiteral::OneZero,
                ..EncodeOptions::default()
            },
            EncodeOptions {
                fraction: Fraction::Millis,
                ..EncodeOptions::default()
            },
            EncodeOptions {
                fraction: Fraction::AsNeeded,
                ..EncodeOptions::default()
            },
            EncodeOptions {
                xml_declaration: true,
                ..EncodeOptions::default()
            },
            EncodeOptions {
                boolean_literal: BooleanLiteral::OneZero,
                fraction: Fraction::Millis,
                xml_declaration: true,
            },
        ] {
            for body in every_body(ns).into_iter().filter(|b| {
                matches!(
                    b,
                    Body::SetParameterValues(_) | Body::Inform(_) | Body::DownloadResponse(_)
                )
            }) {
                let env = Envelope {
                    namespace: ns,
                    header: Header {
                        hold_requests: Some(true),
                        ..Header::with_id("opt")
                    },
                    body,
                };
                batch.push(labelled_encoding(
                    format!("{} {options:?} in {ns}", env.body.method_name()),
                    &env,
                    &options,
                ));
            }
        }
    }
    // The 1.3/1.4 headers (cwmp-1-2 only), one at a time and together.
    let v12 = |header: Header, body: Body| Envelope {
        namespace: CwmpNamespace::V1_2,
        header,
        body,
    };
    let inform = every_body(CwmpNamespace::V1_2)
        .into_iter()
        .find(|b| matches!(b, Body::Inform(_)))
        .expect("an Inform");
    for (label, env) in [
        (
            "SessionTimeout",
            v12(
                Header {
                    session_timeout: Some(30),
                    ..Header::with_id("1")
                },
                inform.clone(),
            ),
        ),
        (
            "SupportedCWMPVersions",
            v12(
                Header {
                    supported_cwmp_versions: Some(CwmpVersion::ALL.to_vec()),
                    ..Header::default()
                },
                inform.clone(),
            ),
        ),
        (
            "1.4 Inform headers",
            v12(
                Header {
                    session_timeout: Some(0),
                    supported_cwmp_versions: Some(vec![CwmpVersion::V1_0, CwmpVersion::V1_4]),
                    ..Header::with_id("2")
                },
                inform,
            ),
        ),
        (
            "UseCWMPVersion",
            v12(
                Header {
                    use_cwmp_version: Some(CwmpVersion::V1_4),
                    ..Header::with_id("2")
                },
                Body::InformResponse(InformResponse::default()),
            ),
        ),
        (
            "8006",
            v12(
                Header::with_id("2"),
                Body::Fault(Fault::new(FaultCode::ACS_VERSION_INCOMPATIBLE)),
            ),
        ),
    ] {
        batch.push(labelled_encoding(
            label.to_owned(),
            &env,
            &EncodeOptions::default(),
        ));
    }
    // 41 bodies in 1-0; 1-1 adds GetAllQueuedTransfers, AutonomousTransferComplete and their
    // responses; 1-2 adds the ten ScheduleDownload, CancelTransfer and software-module elements.
    assert_eq!(per_ns, vec![41, 45, 55]);
    support::assert_all_validate(&batch);
}

#[test]
fn generated_envelopes_validate() {
    let envelopes = strategies::sample(&strategies::envelope(), 300);
    let options = strategies::sample(&strategies::encode_options(), 300);
    let batch: Vec<_> = envelopes
        .iter()
        .zip(&options)
        .enumerate()
        .map(|(i, (env, o))| {
            labelled_encoding(format!("#{i} {} {o:?}", env.body.method_name()), env, o)
        })
        .collect();
    for ns in strategies::NAMESPACES {
        assert!(
            batch.iter().filter(|(_, n, _)| *n == ns).count() > 50,
            "too few messages in {ns}"
        );
    }
    support::assert_all_validate(&batch);
}

/// A schema defect: `bad` must be refused by the encoder; `good` differs only by the defect, and
/// replacing `good_text` by `bad_text` in its encoding must make xmllint reject it (validated
/// with the schema of `schema_ns`, which differs from the envelope's for namespace cases).
struct Defect {
    label: &'static str,
    good: Envelope,
    bad: Envelope,
    good_text: &'static str,
    bad_text: &'static str,
    schema_ns: CwmpNamespace,
}

fn defects() -> Vec<Defect> {
    use CwmpNamespace::{V1_0, V1_1, V1_2};
    let env = |ns, body| Envelope::new(ns, Some(t("1")), body);
    let inform = |code: EventCode| {
        Body::Inform(Inform {
            device_id: DeviceId {
                oui: t("00D09E"),
                serial_number: t("1"),
                ..DeviceId::default()
            },
            events: vec![Event::new(code)],
            ..Inform::default()
        })
    };
    let inform_oui = |oui: &str| {
        Body::Inform(Inform {
            device_id: DeviceId {
                oui: t(oui),
                ..DeviceId::default()
            },
            ..Inform::default()
        })
    };
    let download = |ft: &str| {
        Body::Download(Download {
            file_type: t(ft),
            url: t("http://a/"),
            ..Download::default()
        })
    };
    let spv = |v: Value| {
        Body::SetParameterValues(SetParameterValues {
            parameter_list: vec![ParameterValue::new("A.b", v)],
            parameter_key: String::new(),
        })
    };
    let spv_key = |k: &str| {
        Body::SetParameterValues(SetParameterValues {
            parameter_list: vec![],
            parameter_key: t(k),
        })
    };
    let spa = |n| {
        Body::SetParameterAttributes(SetParameterAttributes {
            parameter_list: vec![SetParameterAttributesStruct {
                name: t("A."),
                notification: n,
                ..Default::default()
            }],
        })
    };
    let tc = |code| {
        Body::TransferComplete(TransferComplete {
            fault: TransferFault {
                code: FaultCode(code),
                string: String::new(),
            },
            ..TransferComplete::default()
        })
    };
    let option = |state, mode| {
        Body::GetOptionsResponse(GetOptionsResponse {
            option_list: vec![OptionInfo {
                option_name: String::new(),
                voucher_sn: 0,
                state,
                mode,
                start_date: DateTime::UNKNOWN,
                expiration_date: None,
                is_transferable: 0,
            }],
        })
    };
    let response_at = |second: u8| {
        let mut at = DateTime::UNKNOWN;
        at.second = second;
        Body::DownloadResponse(TransferResponse {
            status: 0,
            start_time: at,
            complete_time: DateTime::UNKNOWN,
        })
    };
    let header = |h: Header| Envelope {
        namespace: V1_2,
        header: h,
        body: Body::InformResponse(InformResponse::default()),
    };
    let session_timeout = |ns| Envelope {
        namespace: ns,
        header: Header {
            session_timeout: Some(5),
            ..Header::default()
        },
        body: Body::InformResponse(InformResponse::default()),
    };
    let d = |label, good, bad, good_text, bad_text, schema_ns| Defect {
        label,
        good,
        bad,
        good_text,
        bad_text,
        schema_ns,
    };
    vec![
        d(
            "1.2 method in cwmp-1-0",
            env(V1_2, Body::CancelTransferResponse),
            env(V1_0, Body::CancelTransferResponse),
            "cwmp-1-2",
            "cwmp-1-0",
            V1_0,
        ),
        d(
            "1.1 method in cwmp-1-0",
            env(V1_1, Body::GetAllQueuedTransfers),
            env(V1_0, Body::GetAllQueuedTransfers),
            "cwmp-1-1",
            "cwmp-1-0",
            V1_0,
        ),
        d(
            "SessionTimeout in cwmp-1-0",
            session_timeout(V1_2),
            session_timeout(V1_0),
            "cwmp-1-2",
            "cwmp-1-0",
            V1_0,
        ),
        d(
            "SessionTimeout in cwmp-1-1",
            session_timeout(V1_2),
            session_timeout(V1_1),
            "cwmp-1-2",
            "cwmp-1-1",
            V1_1,
        ),
        d(
            "lower-case OUI",
            env(V1_0, inform_oui("00D09E")),
            env(V1_0, inform_oui("00d09e")),
            "00D09E",
            "00d09e",
            V1_0,
        ),
        d(
            "event BOOT",
            env(V1_0, inform(EventCode::Boot)),
            env(V1_0, inform(EventCode::Other(t("BOOT")))),
            "1 BOOT",
            "BOOT",
            V1_0,
        ),
        d(
            "event 10 in cwmp-1-0",
            env(V1_0, inform(EventCode::Boot)),
            env(V1_0, inform(EventCode::AutonomousTransferComplete)),
            "1 BOOT",
            "10 AUTONOMOUS TRANSFER COMPLETE",
            V1_0,
        ),
        d(
            "event M ChangeDUState in cwmp-1-0",
            env(V1_0, inform(EventCode::m_reboot())),
            env(V1_0, inform(EventCode::m_change_du_state())),
            "M Reboot",
            "M ChangeDUState",
            V1_0,
        ),
        d(
            "event M X_ in cwmp-1-0",
            env(V1_0, inform(EventCode::Method(t("X_A")))),
            env(V1_0, inform(EventCode::Method(t("X_")))),
            "M X_A",
            "M X_",
            V1_0,
        ),
        d(
            "vendor event without OUI in cwmp-1-1",
            env(V1_1, inform(EventCode::Vendor(t("00D09E FOO")))),
            env(V1_1, inform(EventCode::Vendor(t("ACME FOO")))),
            "X 00D09E FOO",
            "X ACME FOO",
            V1_1,
        ),
        d(
            "fault 1234",
            env(V1_2, Body::Fault(Fault::new(FaultCode(9000)))),
            env(V1_2, Body::Fault(Fault::new(FaultCode(1234)))),
            "<FaultCode>9000<",
            "<FaultCode>1234<",
            V1_2,
        ),
        d(
            "fault 9020 in cwmp-1-0",
            env(V1_0, Body::Fault(Fault::new(FaultCode(9013)))),
            env(V1_0, Body::Fault(Fault::new(FaultCode(9020)))),
            "<FaultCode>9013<",
            "<FaultCode>9020<",
            V1_0,
        ),
        d(
            "fault 8006 in cwmp-1-0",
            env(V1_0, Body::Fault(Fault::new(FaultCode(8005)))),
            env(V1_0, Body::Fault(Fault::new(FaultCode(8006)))),
            "<FaultCode>8005<",
            "<FaultCode>8006<",
            V1_0,
        ),
        d(
            "faultcode not a QName",
            env(V1_0, Body::Fault(Fault::new(FaultCode(9000)))),
            env(
                V1_0,
                Body::Fault(Fault {
                    soap_class: SoapFaultClass::Other(t("no way")),
                    ..Fault::new(FaultCode(9000))
                }),
            ),
            "<faultcode>Server<",
            "<faultcode>no way<",
            V1_0,
        ),
        d(
            "TransferComplete 9003",
            env(V1_2, tc(9002)),
            env(V1_2, tc(9003)),
            "<FaultCode>9002<",
            "<FaultCode>9003<",
            V1_2,
        ),
        d(
            "TransferComplete 9014 in cwmp-1-0",
            env(V1_0, tc(9012)),
            env(V1_0, tc(9014)),
            "<FaultCode>9012<",
            "<FaultCode>9014<",
            V1_0,
        ),
        d(
            "Status 2",
            env(
                V1_0,
                Body::SetParameterValuesResponse(SetParameterValuesResponse { status: 1 }),
            ),
            env(
                V1_0,
                Body::SetParameterValuesResponse(SetParameterValuesResponse { status: 2 }),
            ),
            "<Status>1<",
            "<Status>2<",
            V1_0,
        ),
        d(
            "value not matching type",
            env(V1_0, spv(Value::unsigned_int(1))),
            env(V1_0, spv(Value::typed(ValueType::UnsignedInt, "one day"))),
            ">1</Value>",
            ">one day</Value>",
            V1_0,
        ),
        d(
            "invalid base64",
            env(V1_0, spv(Value::typed(ValueType::Base64, "abc="))),
            env(V1_0, spv(Value::typed(ValueType::Base64, "abd="))),
            "abc=",
            "abd=",
            V1_0,
        ),
        d(
            "int with U+3000",
            env(V1_0, spv(Value::int(5))),
            env(V1_0, spv(Value::typed(ValueType::Int, "\u{3000}5"))),
            ">5<",
            ">\u{3000}5<",
            V1_0,
        ),
        d(
            "leap second",
            env(
                V1_0,
                spv(Value::typed(ValueType::DateTime, "2024-01-01T00:00:59Z")),
            ),
            env(
                V1_0,
                spv(Value::typed(ValueType::DateTime, "2024-01-01T00:00:60Z")),
            ),
            ":59Z",
            ":60Z",
            V1_0,
        ),
        d(
            "leap second in a field",
            env(V1_0, response_at(59)),
            env(V1_0, response_at(60)),
            ":59Z",
            ":60Z",
            V1_0,
        ),
        d(
            "ParameterKey of 33",
            env(V1_0, spv_key(&"k".repeat(32))),
            env(V1_0, spv_key(&"k".repeat(33))),
            "kkkk<",
            "kkkkk<",
            V1_0,
        ),
        d(
            "notification 7",
            env(V1_2, spa(6)),
            env(V1_2, spa(7)),
            "<Notification>6<",
            "<Notification>7<",
            V1_2,
        ),
        d(
            "notification 3 in cwmp-1-1",
            env(V1_1, spa(2)),
            env(V1_1, spa(3)),
            "<Notification>2<",
            "<Notification>3<",
            V1_1,
        ),
        d(
            "FileType 4 Tone File in cwmp-1-0",
            env(V1_0, download("2 Web Content")),
            env(V1_0, download("4 Tone File")),
            "2 Web Content",
            "4 Tone File",
            V1_0,
        ),
        d(
            "FileType X without name",
            env(V1_2, download("X ACME Thing")),
            env(V1_2, download("X ACME")),
            "X ACME Thing",
            "X ACME",
            V1_2,
        ),
        d(
            "empty ParameterNames",
            env(
                V1_0,
                Body::GetParameterValues(GetParameterValues {
                    parameter_names: vec![t("A.")],
                }),
            ),
            env(
                V1_0,
                Body::GetParameterValues(GetParameterValues {
                    parameter_names: vec![],
                }),
            ),
            "xsd:string[1]\"><string>A.</string>",
            "xsd:string[0]\">",
            V1_0,
        ),
        d(
            "empty MethodList",
            env(
                V1_0,
                Body::GetRPCMethodsResponse(GetRpcMethodsResponse {
                    method_list: vec![t("A")],
                }),
            ),
            env(
                V1_0,
                Body::GetRPCMethodsResponse(GetRpcMethodsResponse {
                    method_list: vec![],
                }),
            ),
            "xsd:string[1]\"><string>A</string>",
            "xsd:string[0]\">",
            V1_0,
        ),
        d(
            "empty VoucherList",
            env(
                V1_0,
                Body::SetVouchers(SetVouchers {
                    voucher_list: vec![t("AAAA")],
                }),
            ),
            env(
                V1_0,
                Body::SetVouchers(SetVouchers {
                    voucher_list: vec![],
                }),
            ),
            "soap-enc:base64[1]\"><base64>AAAA</base64>",
            "soap-enc:base64[0]\">",
            V1_0,
        ),
        d(
            "OptionStruct State 4",
            env(V1_0, option(3, 0)),
            env(V1_0, option(4, 0)),
            "<State>3<",
            "<State>4<",
            V1_0,
        ),
        d(
            "OptionStruct Mode 3",
            env(V1_0, option(0, 2)),
            env(V1_0, option(0, 3)),
            "<Mode>2<",
            "<Mode>3<",
            V1_0,
        ),
        d(
            "ChangeDUState URL with a bad escape",
            env(
                V1_2,
                Body::ChangeDUState(ChangeDuState {
                    operations: vec![DuOperation::Install {
                        url: t("http://a/b"),
                        uuid: None,
                        username: None,
                        password: None,
                        execution_env_ref: None,
                    }],
                    command_key: None,
                }),
            ),
            env(
                V1_2,
                Body::ChangeDUState(ChangeDuState {
                    operations: vec![DuOperation::Install {
                        url: t("http://a/%zz"),
                        uuid: None,
                        username: None,
                        password: None,
                        execution_env_ref: None,
                    }],
                    command_key: None,
                }),
            ),
            "http://a/b",
            "http://a/%zz",
            V1_2,
        ),
        d(
            "Uninstall UUID",
            env(
                V1_2,
                Body::ChangeDUState(ChangeDuState {
                    operations: vec![DuOperation::Uninstall {
                        uuid: t(UUID),
                        version: None,
                        execution_env_ref: None,
                    }],
                    command_key: None,
                }),
            ),
            env(
                V1_2,
                Body::ChangeDUState(ChangeDuState {
                    operations: vec![DuOperation::Uninstall {
                        uuid: t("not-a-uuid"),
                        version: None,
                        execution_env_ref: None,
                    }],
                    command_key: None,
                }),
            ),
            UUID,
            "not-a-uuid",
            V1_2,
        ),
        d(
            "UseCWMPVersion in cwmp-1-1",
            header(Header {
                use_cwmp_version: Some(CwmpVersion::V1_4),
                ..Header::default()
            }),
            Envelope {
                namespace: V1_1,
                ..header(Header {
                    use_cwmp_version: Some(CwmpVersion::V1_4),
                    ..Header::default()
                })
            },
            "cwmp-1-2",
            "cwmp-1-1",
            V1_1,
        ),
    ]
}

#[test]
fn encoder_refuses_what_the_schema_rejects() {
    let cases = defects();
    let mut spliced = Vec::new();
    for c in &cases {
        let refused = encode(&c.bad);
        assert!(
            refused.is_err(),
            "{}: the encoder wrote a message the schema rejects:\n{}",
            c.label,
            refused.unwrap_or_default()
        );
        assert!(!refused.unwrap_err().to_string().is_empty());
        let good = encode(&c.good)
            .unwrap_or_else(|e| panic!("{}: the valid twin was refused: {e}", c.label));
        assert!(
            good.contains(c.good_text),
            "{}: {:?} not found in\n{good}",
            c.label,
            c.good_text
        );
        spliced.push((c.schema_ns, good.replacen(c.good_text, c.bad_text, 1)));
    }
    for (c, verdict) in cases.iter().zip(validate_all(&spliced)) {
        assert!(
            !verdict.valid,
            "{}: xmllint accepted the defect, the case proves nothing",
            c.label
        );
    }
    // The twins themselves are valid, so the splice is what xmllint rejected.
    let twins: Vec<_> = cases
        .iter()
        .map(|c| {
            (
                c.label.to_owned(),
                c.good.namespace,
                encode(&c.good).expect("encoded above"),
            )
        })
        .collect();
    support::assert_all_validate(&twins);
}

#[test]
fn encoder_refuses_unknown_methods_and_over_long_strings() {
    let unknown = Envelope::new(
        CwmpNamespace::V1_0,
        None,
        Body::Unknown {
            name: t("X_ACME_Do"),
        },
    );
    assert_eq!(
        encode(&unknown),
        Err(EncodeError::UnknownMethod(t("X_ACME_Do")))
    );
    let long_name = Body::GetParameterValues(GetParameterValues {
        parameter_names: vec!["a".repeat(257)],
    });
    assert!(matches!(
        encode(&Envelope::new(CwmpNamespace::V1_0, None, long_name)),
        Err(EncodeError::TooLong {
            max: 256,
            len: 257,
            ..
        })
    ));
    let many_events = Inform {
        device_id: DeviceId {
            oui: t("00D09E"),
            ..DeviceId::default()
        },
        events: vec![Event::new(EventCode::Boot); 65],
        ..Inform::default()
    };
    assert!(matches!(
        encode(&Envelope::new(
            CwmpNamespace::V1_0,
            None,
            Body::Inform(many_events)
        )),
        Err(EncodeError::TooMany {
            max: 64,
            len: 65,
            ..
        })
    ));
}

/// Checks ENV-04, ENV-09 and ENV-10 on one encoded message; returns the arrays seen.
fn check_structure(xml: &str) -> usize {
    let doc = roxmltree::Document::parse(xml).expect("our output is well-formed");
    let soap_env = "http://schemas.xmlsoap.org/soap/envelope/";
    let mut arrays = 0;
    for node in doc.descendants().filter(|n| n.is_element()) {
        let depth = node.ancestors().filter(|a| a.is_element()).count();
        let ns = node.tag_name().namespace();
        let parent = node.parent_element();
        let under_header_or_body = parent.is_some_and(|p| {
            p.tag_name().namespace() == Some(soap_env)
                && matches!(p.tag_name().name(), "Header" | "Body")
        });
        let cwmp_fault_detail = node.tag_name().name() == "Fault"
            && parent.is_some_and(|p| p.tag_name().name() == "detail");
        let top_level = depth <= 2 || under_header_or_body || cwmp_fault_detail;
        if !top_level {
            assert_eq!(
                ns,
                None,
                "ENV-04: {} is qualified in\n{xml}",
                node.tag_name().name()
            );
        }
        // ENV-09: arrayType count equals the members.
        if let Some(t) = node.attribute(("http://schemas.xmlsoap.org/soap/encoding/", "arrayType"))
        {
            arrays += 1;
            let declared: usize = t
                .rsplit_once('[')
                .and_then(|(_, n)| n.strip_suffix(']'))
                .and_then(|n| n.parse().ok())
                .expect("a count");
            assert!(t.contains(':'), "ENV-09: the arrayType {t:?} has no prefix");
            assert_eq!(
                declared,
                node.children().filter(|c| c.is_element()).count(),
                "ENV-09: {t} on {}",
                node.tag_name().name()
            );
        }
        // ENV-10: every Value carries xsi:type.
        if node.tag_name().name() == "Value"
            && node
                .parent_element()
                .is_some_and(|p| p.tag_name().name() == "ParameterValueStruct")
        {
            assert!(
                node.attribute(("http://www.w3.org/2001/XMLSchema-instance", "type"))
                    .is_some(),
                "ENV-10: Value without xsi:type"
            );
        }
    }
    arrays
}

#[test]
fn env_04_09_10_structure_of_emitted_xml() {
    let mut arrays = 0;
    for env in strategies::sample(&strategies::envelope(), 300) {
        arrays += check_structure(&encode(&env).expect("valid by construction"));
    }
    for ns in strategies::NAMESPACES {
        for body in every_body(ns) {
            arrays += check_structure(
                &encode(&Envelope::new(ns, None, body)).expect("valid by construction"),
            );
        }
    }
    assert!(arrays > 150, "only {arrays} arrays checked");
}
