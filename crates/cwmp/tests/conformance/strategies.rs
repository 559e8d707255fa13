//! proptest strategies producing VALID CWMP messages: every value respects the schema of the
//! namespace it is paired with (string lengths, the OUI pattern, event code and FileType /
//! WindowMode patterns, UUIDs, fault code sets, notification values, `Subscriber` as the only
//! access list entry, `Value` texts lexically valid for their `xsi:type`), so the encoder must
//! accept them and xmllint must validate the result.
//!
//! Namespaces matter: `cwmp-1-0` and `cwmp-1-1` enumerate event codes, FileTypes, fault codes and
//! notification values that `cwmp-1-2` describes with patterns and ranges; the strategies taking
//! a [`CwmpNamespace`] only produce what that namespace's schema allows. [`envelope`] pairs a body
//! only with namespaces where it exists (`Body::since()` ≤ the namespace's highest version) and
//! puts the 1.3/1.4 headers only in `cwmp-1-2`.
//!
//! Free-text fields get XML-hostile text (`&<>"'`, `]]>`, é, 中, emoji, tab, CR, LF, leading and
//! trailing spaces). Fields the decoder trims by design (names, paths, URLs, serial numbers,
//! OUIs, UUIDs of Uninstall) get text without leading or trailing whitespace, because for them
//! surrounding whitespace is not content. Characters XML 1.0 forbids are never generated here:
//! the encoder replaces them (tested in `rules.rs`), so they cannot round-trip.
//!
//! Used by `schema.rs` and `roundtrip.rs`, and available to the other conformance modules.

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::strategy::Union;
use tether_cwmp::rpc::*;
use tether_cwmp::{
    Body, BooleanLiteral, CwmpNamespace, CwmpVersion, DateTime, DeviceId, EncodeOptions, Envelope,
    Event, EventCode, Fault, FaultCode, Fraction, Header, ParameterValue, SetParameterValuesFault,
    SoapFaultClass, Value, ValueType,
};

/// The three namespaces, lowest first.
pub(crate) const NAMESPACES: [CwmpNamespace; 3] = [
    CwmpNamespace::V1_0,
    CwmpNamespace::V1_1,
    CwmpNamespace::V1_2,
];

// ----- characters and strings -----

/// One character of free text: mostly printable ASCII, with markup characters, non-ASCII
/// (Latin, CJK, an astral-plane emoji) and the three whitespace controls XML allows.
pub(crate) fn text_char() -> impl Strategy<Value = char> {
    prop_oneof![
        12 => (0x20u8..0x7F).prop_map(char::from),
        4 => prop::sample::select(vec!['&', '<', '>', '"', '\'', ']']),
        3 => prop::sample::select(vec!['é', 'ß', 'Ω', '中', '文', '😀', '\u{A0}', '\u{FFFD}']),
        1 => prop::sample::select(vec!['\t', '\n', '\r', ' ']),
    ]
}

/// One character that is not whitespace of any kind (for words of patterns like `\S+`).
pub(crate) fn word_char() -> impl Strategy<Value = char> {
    text_char().prop_filter("not whitespace", |c| !c.is_whitespace())
}

/// Free text of at most `max` characters (the schema's `maxLength`), sometimes exactly `max`
/// characters to hit the boundary, with leading/trailing spaces allowed.
pub(crate) fn free_text(max: usize) -> BoxedStrategy<String> {
    let short = vec(text_char(), 0..=max.min(12)).prop_map(String::from_iter);
    if max <= 12 {
        return short.boxed();
    }
    prop_oneof![
        10 => short,
        1 => vec(text_char(), max..=max).prop_map(String::from_iter),
        1 => Just(" ]]> padded &amp; text ".to_owned()),
    ]
    .boxed()
}

/// One or more non-whitespace characters, at most `max`.
pub(crate) fn word(max: usize) -> BoxedStrategy<String> {
    vec(word_char(), 1..=max.clamp(1, 10))
        .prop_map(String::from_iter)
        .boxed()
}

/// Text without leading or trailing whitespace, at most `max` characters (may contain inner
/// spaces): for fields the decoder trims.
pub(crate) fn trimmed_text(max: usize) -> BoxedStrategy<String> {
    vec(word(8), 0..=3)
        .prop_map(|words| words.join(" "))
        .prop_map(move |s| s.chars().take(max).collect::<String>().trim().to_owned())
        .boxed()
}

/// A parameter name or partial path (ending with `.`), at most 256 characters, with hostile
/// characters inside segments but no whitespace.
pub(crate) fn parameter_path() -> BoxedStrategy<String> {
    let segment = prop_oneof![
        4 => "[A-Z][A-Za-z]{0,10}".boxed(),
        1 => (1u32..20).prop_map(|n| n.to_string()).boxed(),
        1 => vec(word_char(), 1..6).prop_map(|c| format!("X_{}", String::from_iter(c))).boxed(),
    ];
    (
        prop::sample::select(vec!["Device.", "InternetGatewayDevice."]),
        vec(segment, 0..4),
        any::<bool>(),
    )
        .prop_map(|(root, segments, partial)| {
            let mut s = root.to_owned();
            s.push_str(&segments.join("."));
            if partial && !segments.is_empty() {
                s.push('.');
            }
            s
        })
        .boxed()
}

/// A partial path (object name): ends with `.`.
pub(crate) fn object_path() -> BoxedStrategy<String> {
    parameter_path()
        .prop_map(|p| if p.ends_with('.') { p } else { format!("{p}.") })
        .boxed()
}

/// A URL without whitespace (valid as `xs:anyURI` too), at most 256 characters.
pub(crate) fn url() -> BoxedStrategy<String> {
    (
        "(http|https)",
        "[a-z0-9]{1,12}(\\.[a-z]{2,5})?",
        option::of(1u16..65535),
        "(/[A-Za-z0-9_.~-]{0,10}){0,3}",
        "(\\?[a-z]{1,5}=(%[0-9A-F]{2}|[A-Za-z0-9]){0,6}(&[a-z]{1,5}=[0-9]{1,4})?)?",
    )
        .prop_map(|(scheme, host, port, path, query)| {
            let port = port.map(|p| format!(":{p}")).unwrap_or_default();
            format!("{scheme}://{host}{port}{path}{query}")
        })
        .boxed()
}

/// Six upper-case hexadecimal digits.
pub(crate) fn oui() -> BoxedStrategy<String> {
    "[0-9A-F]{6}".boxed()
}

/// A UUID in the `8-4-4-4-12` form, hex digits of either case.
pub(crate) fn uuid() -> BoxedStrategy<String> {
    "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}".boxed()
}

// ----- values -----

/// A valid `xsd:dateTime` in the range the schema and the parser share: years 1-9999, seconds
/// 0-59, an optional zone within ±14:00, fractions of any precision.
pub(crate) fn date_time() -> BoxedStrategy<DateTime> {
    let zone = prop_oneof![
        1 => Just(None),
        2 => Just(Some(0i16)),
        2 => (-840i16..=840).prop_map(Some),
    ];
    let nanos = prop_oneof![3 => Just(0u32), 1 => (0u32..1000).prop_map(|ms| ms * 1_000_000), 1 => 0u32..1_000_000_000];
    (
        1u16..=9999,
        1u8..=12,
        1u8..=28,
        0u8..24,
        0u8..60,
        0u8..60,
        nanos,
        zone,
    )
        .prop_map(
            |(year, month, day, hour, minute, second, nanos, offset_minutes)| DateTime {
                year,
                month,
                day,
                hour,
                minute,
                second,
                nanos,
                offset_minutes,
            },
        )
        .boxed()
}

/// RFC 4648 base64 with padding: always a valid `xsd:base64Binary`.
pub(crate) fn to_base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A `Value` whose text is lexically valid for its type. Boolean texts use every accepted
/// literal (the encoder canonicalises them); dateTime texts use every fraction style (the
/// encoder re-formats them); integers are sometimes surrounded by XML whitespace (allowed by the
/// whiteSpace=collapse facet of numeric types).
pub(crate) fn value() -> BoxedStrategy<Value> {
    let pad = |s: String, padded: bool| if padded { format!(" {s}\n") } else { s };
    prop_oneof![
        4 => free_text(64).prop_map(Value::string),
        1 => (any::<i32>(), prop::bool::weighted(0.2)).prop_map(move |(n, p)| Value::typed(ValueType::Int, pad(n.to_string(), p))),
        1 => (any::<u32>(), prop::bool::weighted(0.2)).prop_map(move |(n, p)| Value::typed(ValueType::UnsignedInt, pad(n.to_string(), p))),
        1 => any::<i64>().prop_map(|n| Value::typed(ValueType::Long, n.to_string())),
        1 => any::<u64>().prop_map(|n| Value::typed(ValueType::UnsignedLong, n.to_string())),
        1 => prop::sample::select(vec!["true", "false", "1", "0", "TRUE", " false "]).prop_map(|t| Value::typed(ValueType::Boolean, t)),
        1 => (date_time(), prop::sample::select(vec![Fraction::Omit, Fraction::Millis, Fraction::AsNeeded]))
            .prop_map(|(t, f)| Value::typed(ValueType::DateTime, t.format(f))),
        1 => vec(any::<u8>(), 0..20).prop_map(|b| Value::typed(ValueType::Base64, to_base64(&b))),
        1 => (vec(any::<u8>(), 0..10), any::<bool>()).prop_map(|(b, upper)| {
            let hex: String = b.iter().map(|x| if upper { format!("{x:02X}") } else { format!("{x:02x}") }).collect();
            Value::typed(ValueType::HexBinary, hex)
        }),
        1 => ("[+-]?[0-9]{1,8}", option::of("[0-9]{0,4}")).prop_map(|(i, f)| {
            Value::typed(ValueType::Decimal, match f { Some(f) => format!("{i}.{f}"), None => i })
        }),
    ]
    .boxed()
}

/// A `ParameterValueStruct`.
pub(crate) fn parameter_value() -> BoxedStrategy<ParameterValue> {
    (parameter_path(), value())
        .prop_map(|(name, value)| ParameterValue { name, value })
        .boxed()
}

// ----- namespace-dependent enumerations -----

/// An event code the namespace's `EventCodeType` accepts (cwmp-1-0 enumerates them, cwmp-1-1
/// adds `\d+( \S+)+` and `M \S+`, cwmp-1-2 adds `X \S+ .+`).
pub(crate) fn event_code(ns: CwmpNamespace) -> BoxedStrategy<EventCode> {
    let numbered_1_0 = prop::sample::select(vec![
        EventCode::Bootstrap,
        EventCode::Boot,
        EventCode::Periodic,
        EventCode::Scheduled,
        EventCode::ValueChange,
        EventCode::Kicked,
        EventCode::ConnectionRequest,
        EventCode::TransferComplete,
        EventCode::DiagnosticsComplete,
        EventCode::RequestDownload,
    ]);
    let methods_1_0 = prop_oneof![
        prop::sample::select(vec!["Reboot", "ScheduleInform", "Download", "Upload"])
            .prop_map(|m| EventCode::Method(m.to_owned())),
        word(12).prop_map(|w| EventCode::Method(format!("X_{w}"))),
    ];
    let vendor_oui = (
        oui(),
        trimmed_text(40).prop_filter("non-empty", |s| !s.is_empty()),
    )
        .prop_map(|(o, rest)| EventCode::Vendor(format!("{o} {rest}")));
    match ns {
        CwmpNamespace::V1_0 => {
            prop_oneof![4 => numbered_1_0, 2 => methods_1_0, 1 => vendor_oui].boxed()
        }
        _ => {
            let later = prop::sample::select(vec![
                EventCode::AutonomousTransferComplete,
                EventCode::DuStateChangeComplete,
                EventCode::AutonomousDuStateChangeComplete,
                EventCode::Wakeup,
                EventCode::Heartbeat,
            ]);
            let other = (15u32..1000, vec(word(8), 1..3))
                .prop_map(|(n, words)| EventCode::Other(format!("{n} {}", words.join(" "))));
            let any_method = word(20)
                .prop_filter("not a known shape", |w| !w.starts_with("X_"))
                .prop_map(EventCode::Method);
            let mut arms = vec![
                numbered_1_0.boxed(),
                later.boxed(),
                other.boxed(),
                methods_1_0.boxed(),
                any_method.boxed(),
                vendor_oui.boxed(),
            ];
            if ns == CwmpNamespace::V1_2 {
                arms.push(
                    (
                        word(10),
                        trimmed_text(30).prop_filter("non-empty", |s| !s.is_empty()),
                    )
                        .prop_map(|(v, rest)| EventCode::Vendor(format!("{v} {rest}")))
                        .boxed(),
                );
            }
            Union::new(arms).boxed()
        }
    }
}

/// An `EventStruct`.
pub(crate) fn event(ns: CwmpNamespace) -> BoxedStrategy<Event> {
    (event_code(ns), free_text(32))
        .prop_map(|(code, command_key)| Event { code, command_key })
        .boxed()
}

/// A `cwmp:Fault` FaultCode valid in `ns` (cwmp-1-0 enumerates 9000-9013 and 8000-8005).
pub(crate) fn fault_code(ns: CwmpNamespace) -> BoxedStrategy<FaultCode> {
    match ns {
        CwmpNamespace::V1_0 => prop_oneof![
            9000u32..=9013,
            9800u32..=9899,
            8000u32..=8005,
            8800u32..=8899
        ]
        .boxed(),
        _ => prop_oneof![9000u32..=9899, 8000u32..=8899].boxed(),
    }
    .prop_map(FaultCode)
    .boxed()
}

/// A CPE fault code for `SetParameterValuesFault`, valid in `ns`.
pub(crate) fn cpe_fault_code(ns: CwmpNamespace) -> BoxedStrategy<FaultCode> {
    match ns {
        CwmpNamespace::V1_0 => prop_oneof![9000u32..=9013, 9800u32..=9899].boxed(),
        _ => (9000u32..=9899).boxed(),
    }
    .prop_map(FaultCode)
    .boxed()
}

/// A TransferComplete `FaultStruct` code valid in `ns` (RPC-20).
pub(crate) fn transfer_fault_code(ns: CwmpNamespace) -> BoxedStrategy<FaultCode> {
    match ns {
        CwmpNamespace::V1_0 => {
            prop::sample::select(vec![0u32, 9001, 9002, 9010, 9011, 9012]).boxed()
        }
        _ => prop_oneof![
            prop::sample::select(vec![
                0u32, 9001, 9002, 9010, 9011, 9012, 9014, 9015, 9016, 9017, 9018, 9019, 9020
            ]),
            9033u32..=9899,
        ]
        .boxed(),
    }
    .prop_map(FaultCode)
    .boxed()
}

/// A notification value valid in `ns` (0-2 before cwmp-1-2, 0-6 after).
pub(crate) fn notification(ns: CwmpNamespace) -> BoxedStrategy<i32> {
    if ns == CwmpNamespace::V1_2 {
        (0i32..=6).boxed()
    } else {
        (0i32..=2).boxed()
    }
}

/// Which FileType element a strategy is for: each has its own enumeration before cwmp-1-2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileTypeKind {
    /// Download, RequestDownload, ScheduleDownload.
    Download,
    /// Upload.
    Upload,
    /// AllQueuedTransferStruct, AutonomousTransferComplete.
    Transfer,
}

/// A FileType valid for `kind` in `ns`.
pub(crate) fn file_type(ns: CwmpNamespace, kind: FileTypeKind) -> BoxedStrategy<String> {
    let vendor = (oui(), vec(word(8), 1..3)).prop_map(|(o, w)| format!("X {o} {}", w.join(" ")));
    let standard: Vec<&'static str> = match (ns, kind) {
        (_, FileTypeKind::Download) => vec![
            "1 Firmware Upgrade Image",
            "2 Web Content",
            "3 Vendor Configuration File",
        ],
        (_, FileTypeKind::Upload) => vec!["1 Vendor Configuration File", "2 Vendor Log File"],
        (_, FileTypeKind::Transfer) => {
            vec![
                "1 Firmware Upgrade Image",
                "2 Web Content",
                "3 Vendor Configuration File",
                "4 Vendor Log File",
            ]
        }
    };
    let standard = prop::sample::select(standard).prop_map(str::to_owned);
    if ns != CwmpNamespace::V1_2 {
        return prop_oneof![3 => standard, 1 => vendor].boxed();
    }
    let generic = (1u32..100, vec(word(8), 1..3)).prop_map(|(n, w)| format!("{n} {}", w.join(" ")));
    let vendor_name =
        (word(8), vec(word(8), 1..3)).prop_map(|(v, w)| format!("X {v} {}", w.join(" ")));
    prop_oneof![3 => standard, 1 => vendor, 1 => vendor_name, 1 => generic].boxed()
}

/// A ScheduleDownload WindowMode (cwmp-1-2 only).
pub(crate) fn window_mode() -> BoxedStrategy<String> {
    prop_oneof![
        prop::sample::select(vec![
            "1 At Any Time",
            "2 Immediately",
            "3 When Idle",
            "4 Confirmation Needed"
        ])
        .prop_map(str::to_owned),
        (oui(), word(10)).prop_map(|(o, w)| format!("X {o} {w}")),
    ]
    .boxed()
}

// ----- bodies -----

fn transfer_response() -> BoxedStrategy<TransferResponse> {
    (0i32..=1, date_time(), date_time())
        .prop_map(|(status, start_time, complete_time)| TransferResponse {
            status,
            start_time,
            complete_time,
        })
        .boxed()
}

fn transfer_fault(ns: CwmpNamespace) -> BoxedStrategy<TransferFault> {
    (transfer_fault_code(ns), free_text(256))
        .prop_map(|(code, string)| TransferFault { code, string })
        .boxed()
}

/// A SOAP Fault with a `cwmp:Fault` detail valid in `ns`, sometimes with SetParameterValuesFault
/// entries (RPC-05, FLT-01).
pub(crate) fn fault(ns: CwmpNamespace) -> BoxedStrategy<Fault> {
    let class = prop_oneof![
        Just(SoapFaultClass::Client),
        Just(SoapFaultClass::Server),
        Just(SoapFaultClass::Other("MustUnderstand".into())),
    ];
    let spv = (parameter_path(), cpe_fault_code(ns), free_text(40)).prop_map(
        |(parameter_name, code, string)| SetParameterValuesFault {
            parameter_name,
            code,
            string,
        },
    );
    (
        class,
        free_text(40),
        fault_code(ns),
        free_text(80),
        vec(spv, 0..3),
    )
        .prop_map(
            |(soap_class, soap_string, code, string, set_parameter_values_faults)| Fault {
                soap_class,
                soap_string,
                code,
                string,
                set_parameter_values_faults,
            },
        )
        .boxed()
}

fn du_fault_code() -> BoxedStrategy<FaultCode> {
    prop_oneof![
        2 => Just(0u32),
        2 => prop::sample::select(vec![9001u32, 9003, 9012, 9013, 9015, 9016, 9017, 9018, 9022, 9026, 9032]),
        1 => 9033u32..=9899,
    ]
    .prop_map(FaultCode)
    .boxed()
}

/// A ChangeDUState operation of any of the three kinds.
pub(crate) fn du_operation() -> BoxedStrategy<DuOperation> {
    prop_oneof![
        (
            url(),
            option::of(uuid()),
            option::of(free_text(256)),
            option::of(free_text(256)),
            option::of(free_text(256))
        )
            .prop_map(|(url, uuid, username, password, execution_env_ref)| {
                DuOperation::Install {
                    url,
                    uuid,
                    username,
                    password,
                    execution_env_ref,
                }
            }),
        (
            option::of(uuid()),
            option::of(free_text(32)),
            option::of(url()),
            option::of(free_text(256)),
            option::of(free_text(256))
        )
            .prop_map(
                |(uuid, version, url, username, password)| DuOperation::Update {
                    uuid,
                    version,
                    url,
                    username,
                    password
                }
            ),
        (
            uuid(),
            option::of(free_text(32)),
            option::of(free_text(256))
        )
            .prop_map(
                |(uuid, version, execution_env_ref)| DuOperation::Uninstall {
                    uuid,
                    version,
                    execution_env_ref
                }
            ),
    ]
    .boxed()
}

/// An `OpResultStruct`, or with `autonomous` an `AutonOpResultStruct`.
pub(crate) fn du_result(autonomous: bool) -> BoxedStrategy<DuOperationResult> {
    let performed = if autonomous {
        prop::sample::select(vec!["Install", "Update", "Uninstall", "X_ACME_Move"])
            .prop_map(|s| Some(s.to_owned()))
            .boxed()
    } else {
        Just(None).boxed()
    };
    (
        (
            uuid(),
            free_text(64),
            free_text(32),
            prop::sample::select(vec!["Installed", "Uninstalled", "Failed"]),
        ),
        (any::<bool>(), free_text(64), date_time(), date_time()),
        (du_fault_code(), option::of(free_text(64)), performed),
    )
        .prop_map(
            |(
                (uuid, deployment_unit_ref, version, state),
                (resolved, execution_unit_ref_list, start_time, complete_time),
                (code, string, operation_performed),
            )| DuOperationResult {
                uuid,
                deployment_unit_ref,
                version,
                current_state: state.to_owned(),
                resolved,
                execution_unit_ref_list,
                start_time,
                complete_time,
                fault: DuFault { code, string },
                operation_performed,
            },
        )
        .boxed()
}

fn inform(ns: CwmpNamespace) -> BoxedStrategy<Inform> {
    let device = (free_text(64), oui(), free_text(64), trimmed_text(64)).prop_map(
        |(manufacturer, oui, product_class, serial_number)| DeviceId {
            manufacturer,
            oui,
            product_class,
            serial_number,
        },
    );
    (
        device,
        vec(event(ns), 0..4),
        any::<u32>(),
        date_time(),
        any::<u32>(),
        vec(parameter_value(), 0..5),
    )
        .prop_map(
            |(device_id, events, max_envelopes, current_time, retry_count, parameter_list)| {
                Inform {
                    device_id,
                    events,
                    max_envelopes,
                    current_time,
                    retry_count,
                    parameter_list,
                }
            },
        )
        .boxed()
}

/// Every body variant (except `Unknown`) with the first version that defines it.
fn bodies(ns: CwmpNamespace) -> Vec<(CwmpVersion, BoxedStrategy<Body>)> {
    use CwmpVersion as V;
    let key32 = || free_text(32);
    let names = || vec(parameter_path(), 1..4);
    let access_list = || vec(Just("Subscriber".to_owned()), 0..=1);
    let list: Vec<(CwmpVersion, BoxedStrategy<Body>)> = vec![
        (V::V1_0, Just(Body::GetRPCMethods).boxed()),
        (
            V::V1_0,
            vec(word(20), 1..5)
                .prop_map(|method_list| {
                    Body::GetRPCMethodsResponse(GetRpcMethodsResponse { method_list })
                })
                .boxed(),
        ),
        (
            V::V1_0,
            (vec(parameter_value(), 0..5), key32())
                .prop_map(|(parameter_list, parameter_key)| {
                    Body::SetParameterValues(SetParameterValues {
                        parameter_list,
                        parameter_key,
                    })
                })
                .boxed(),
        ),
        (
            V::V1_0,
            (0i32..=1)
                .prop_map(|status| {
                    Body::SetParameterValuesResponse(SetParameterValuesResponse { status })
                })
                .boxed(),
        ),
        (
            V::V1_0,
            names()
                .prop_map(|parameter_names| {
                    Body::GetParameterValues(GetParameterValues { parameter_names })
                })
                .boxed(),
        ),
        (
            V::V1_0,
            vec(parameter_value(), 0..5)
                .prop_map(|parameter_list| {
                    Body::GetParameterValuesResponse(GetParameterValuesResponse { parameter_list })
                })
                .boxed(),
        ),
        (
            V::V1_0,
            (
                prop_oneof![1 => Just(String::new()), 4 => parameter_path()],
                any::<bool>(),
            )
                .prop_map(|(parameter_path, next_level)| {
                    Body::GetParameterNames(GetParameterNames {
                        parameter_path,
                        next_level,
                    })
                })
                .boxed(),
        ),
        (
            V::V1_0,
            vec(
                (parameter_path(), any::<bool>())
                    .prop_map(|(name, writable)| ParameterInfo { name, writable }),
                0..5,
            )
            .prop_map(|parameter_list| {
                Body::GetParameterNamesResponse(GetParameterNamesResponse { parameter_list })
            })
            .boxed(),
        ),
        (
            V::V1_0,
            vec(
                (
                    parameter_path(),
                    any::<bool>(),
                    notification(ns),
                    any::<bool>(),
                    access_list(),
                )
                    .prop_map(
                        |(
                            name,
                            notification_change,
                            notification,
                            access_list_change,
                            access_list,
                        )| SetParameterAttributesStruct {
                            name,
                            notification_change,
                            notification,
                            access_list_change,
                            access_list,
                        },
                    ),
                1..4,
            )
            .prop_map(|parameter_list| {
                Body::SetParameterAttributes(SetParameterAttributes { parameter_list })
            })
            .boxed(),
        ),
        (V::V1_0, Just(Body::SetParameterAttributesResponse).boxed()),
        (
            V::V1_0,
            names()
                .prop_map(|parameter_names| {
                    Body::GetParameterAttributes(GetParameterAttributes { parameter_names })
                })
                .boxed(),
        ),
        (
            V::V1_0,
            vec(
                (parameter_path(), notification(ns), access_list()).prop_map(
                    |(name, notification, access_list)| ParameterAttribute {
                        name,
                        notification,
                        access_list,
                    },
                ),
                0..4,
            )
            .prop_map(|parameter_list| {
                Body::GetParameterAttributesResponse(GetParameterAttributesResponse {
                    parameter_list,
                })
            })
            .boxed(),
        ),
        (
            V::V1_0,
            (object_path(), key32())
                .prop_map(|(object_name, parameter_key)| {
                    Body::AddObject(AddObject {
                        object_name,
                        parameter_key,
                    })
                })
                .boxed(),
        ),
        (
            V::V1_0,
            (1u32.., 0i32..=1)
                .prop_map(|(instance_number, status)| {
                    Body::AddObjectResponse(AddObjectResponse {
                        instance_number,
                        status,
                    })
                })
                .boxed(),
        ),
        (
            V::V1_0,
            (object_path(), key32())
                .prop_map(|(object_name, parameter_key)| {
                    Body::DeleteObject(DeleteObject {
                        object_name,
                        parameter_key,
                    })
                })
                .boxed(),
        ),
        (
            V::V1_0,
            (0i32..=1)
                .prop_map(|status| Body::DeleteObjectResponse(DeleteObjectResponse { status }))
                .boxed(),
        ),
        (
            V::V1_0,
            (
                (
                    key32(),
                    file_type(ns, FileTypeKind::Download),
                    url(),
                    free_text(256),
                    free_text(256),
                ),
                (
                    any::<u32>(),
                    free_text(256),
                    any::<u32>(),
                    free_text(256),
                    free_text(256),
                ),
            )
                .prop_map(
                    |(
                        (command_key, file_type, url, username, password),
                        (file_size, target_file_name, delay_seconds, success_url, failure_url),
                    )| {
                        Body::Download(Download {
                            command_key,
                            file_type,
                            url,
                            username,
                            password,
                            file_size,
                            target_file_name,
                            delay_seconds,
                            success_url,
                            failure_url,
                        })
                    },
                )
                .boxed(),
        ),
        (
            V::V1_0,
            transfer_response().prop_map(Body::DownloadResponse).boxed(),
        ),
        (
            V::V1_0,
            key32()
                .prop_map(|command_key| Body::Reboot(Reboot { command_key }))
                .boxed(),
        ),
        (V::V1_0, Just(Body::RebootResponse).boxed()),
        (V::V1_0, Just(Body::GetQueuedTransfers).boxed()),
        (
            V::V1_0,
            vec(
                (key32(), 1i32..=3)
                    .prop_map(|(command_key, state)| QueuedTransfer { command_key, state }),
                0..4,
            )
            .prop_map(|transfer_list| {
                Body::GetQueuedTransfersResponse(GetQueuedTransfersResponse { transfer_list })
            })
            .boxed(),
        ),
        (
            V::V1_0,
            (any::<u32>(), key32())
                .prop_map(|(delay_seconds, command_key)| {
                    Body::ScheduleInform(ScheduleInform {
                        delay_seconds,
                        command_key,
                    })
                })
                .boxed(),
        ),
        (V::V1_0, Just(Body::ScheduleInformResponse).boxed()),
        (
            V::V1_0,
            vec(vec(any::<u8>(), 1..40).prop_map(|b| to_base64(&b)), 1..3)
                .prop_map(|voucher_list| Body::SetVouchers(SetVouchers { voucher_list }))
                .boxed(),
        ),
        (V::V1_0, Just(Body::SetVouchersResponse).boxed()),
        (
            V::V1_0,
            free_text(64)
                .prop_map(|option_name| Body::GetOptions(GetOptions { option_name }))
                .boxed(),
        ),
        (
            V::V1_0,
            vec(
                (
                    free_text(64),
                    any::<u32>(),
                    0u32..=3,
                    0i32..=2,
                    date_time(),
                    option::of(date_time()),
                    0i32..=1,
                )
                    .prop_map(
                        |(
                            option_name,
                            voucher_sn,
                            state,
                            mode,
                            start_date,
                            expiration_date,
                            is_transferable,
                        )| OptionInfo {
                            option_name,
                            voucher_sn,
                            state,
                            mode,
                            start_date,
                            expiration_date,
                            is_transferable,
                        },
                    ),
                0..3,
            )
            .prop_map(|option_list| Body::GetOptionsResponse(GetOptionsResponse { option_list }))
            .boxed(),
        ),
        (
            V::V1_0,
            (
                key32(),
                file_type(ns, FileTypeKind::Upload),
                url(),
                free_text(256),
                free_text(256),
                any::<u32>(),
            )
                .prop_map(
                    |(command_key, file_type, url, username, password, delay_seconds)| {
                        Body::Upload(Upload {
                            command_key,
                            file_type,
                            url,
                            username,
                            password,
                            delay_seconds,
                        })
                    },
                )
                .boxed(),
        ),
        (
            V::V1_0,
            transfer_response().prop_map(Body::UploadResponse).boxed(),
        ),
        (V::V1_0, Just(Body::FactoryReset).boxed()),
        (V::V1_0, Just(Body::FactoryResetResponse).boxed()),
        (V::V1_1, Just(Body::GetAllQueuedTransfers).boxed()),
        (
            V::V1_1,
            vec(
                (
                    key32(),
                    1i32..=3,
                    any::<bool>(),
                    file_type(ns, FileTypeKind::Transfer),
                    any::<u32>(),
                    free_text(256),
                )
                    .prop_map(
                        |(
                            command_key,
                            state,
                            is_download,
                            file_type,
                            file_size,
                            target_file_name,
                        )| AllQueuedTransfer {
                            command_key,
                            state,
                            is_download,
                            file_type,
                            file_size,
                            target_file_name,
                        },
                    ),
                0..4,
            )
            .prop_map(|transfer_list| {
                Body::GetAllQueuedTransfersResponse(GetAllQueuedTransfersResponse { transfer_list })
            })
            .boxed(),
        ),
        (
            V::V1_2,
            (
                (
                    key32(),
                    file_type(ns, FileTypeKind::Download),
                    url(),
                    free_text(256),
                    free_text(256),
                ),
                (any::<u32>(), free_text(256)),
                vec(
                    (
                        any::<u32>(),
                        any::<u32>(),
                        window_mode(),
                        free_text(256),
                        any::<i32>(),
                    )
                        .prop_map(
                            |(window_start, window_end, window_mode, user_message, max_retries)| {
                                TimeWindow {
                                    window_start,
                                    window_end,
                                    window_mode,
                                    user_message,
                                    max_retries,
                                }
                            },
                        ),
                    1..=2,
                ),
            )
                .prop_map(
                    |(
                        (command_key, file_type, url, username, password),
                        (file_size, target_file_name),
                        time_window_list,
                    )| {
                        Body::ScheduleDownload(ScheduleDownload {
                            command_key,
                            file_type,
                            url,
                            username,
                            password,
                            file_size,
                            target_file_name,
                            time_window_list,
                        })
                    },
                )
                .boxed(),
        ),
        (V::V1_2, Just(Body::ScheduleDownloadResponse).boxed()),
        (
            V::V1_2,
            key32()
                .prop_map(|command_key| Body::CancelTransfer(CancelTransfer { command_key }))
                .boxed(),
        ),
        (V::V1_2, Just(Body::CancelTransferResponse).boxed()),
        (
            V::V1_2,
            (vec(du_operation(), 1..4), option::of(key32()))
                .prop_map(|(operations, command_key)| {
                    Body::ChangeDUState(ChangeDuState {
                        operations,
                        command_key,
                    })
                })
                .boxed(),
        ),
        (V::V1_2, Just(Body::ChangeDUStateResponse).boxed()),
        (V::V1_0, inform(ns).prop_map(Body::Inform).boxed()),
        (
            V::V1_0,
            any::<u32>()
                .prop_map(|max_envelopes| Body::InformResponse(InformResponse { max_envelopes }))
                .boxed(),
        ),
        (
            V::V1_0,
            (key32(), transfer_fault(ns), date_time(), date_time())
                .prop_map(|(command_key, fault, start_time, complete_time)| {
                    Body::TransferComplete(TransferComplete {
                        command_key,
                        fault,
                        start_time,
                        complete_time,
                    })
                })
                .boxed(),
        ),
        (V::V1_0, Just(Body::TransferCompleteResponse).boxed()),
        (
            V::V1_1,
            (
                (
                    free_text(1024),
                    free_text(1024),
                    any::<bool>(),
                    file_type(ns, FileTypeKind::Transfer),
                ),
                (
                    any::<u32>(),
                    free_text(256),
                    transfer_fault(ns),
                    date_time(),
                    date_time(),
                ),
            )
                .prop_map(
                    |(
                        (announce_url, transfer_url, is_download, file_type),
                        (file_size, target_file_name, fault, start_time, complete_time),
                    )| {
                        Body::AutonomousTransferComplete(AutonomousTransferComplete {
                            announce_url,
                            transfer_url,
                            is_download,
                            file_type,
                            file_size,
                            target_file_name,
                            fault,
                            start_time,
                            complete_time,
                        })
                    },
                )
                .boxed(),
        ),
        (
            V::V1_1,
            Just(Body::AutonomousTransferCompleteResponse).boxed(),
        ),
        (
            V::V1_0,
            (
                free_text(32),
                free_text(64),
                free_text(256),
                free_text(1024),
            )
                .prop_map(|(command, referer, arg, next)| {
                    Body::Kicked(Kicked {
                        command,
                        referer,
                        arg,
                        next,
                    })
                })
                .boxed(),
        ),
        (
            V::V1_0,
            free_text(1024)
                .prop_map(|next_url| Body::KickedResponse(KickedResponse { next_url }))
                .boxed(),
        ),
        (
            V::V1_0,
            (
                file_type(ns, FileTypeKind::Download),
                vec(
                    (free_text(64), free_text(256))
                        .prop_map(|(name, value)| FileTypeArg { name, value }),
                    0..4,
                ),
            )
                .prop_map(|(file_type, file_type_arg)| {
                    Body::RequestDownload(RequestDownload {
                        file_type,
                        file_type_arg,
                    })
                })
                .boxed(),
        ),
        (V::V1_0, Just(Body::RequestDownloadResponse).boxed()),
        (
            V::V1_2,
            (vec(du_result(false), 1..3), option::of(key32()))
                .prop_map(|(results, command_key)| {
                    Body::DUStateChangeComplete(DuStateChangeComplete {
                        results,
                        command_key,
                    })
                })
                .boxed(),
        ),
        (V::V1_2, Just(Body::DUStateChangeCompleteResponse).boxed()),
        (
            V::V1_2,
            vec(du_result(true), 1..3)
                .prop_map(|results| {
                    Body::AutonomousDUStateChangeComplete(AutonomousDuStateChangeComplete {
                        results,
                    })
                })
                .boxed(),
        ),
        (
            V::V1_2,
            Just(Body::AutonomousDUStateChangeCompleteResponse).boxed(),
        ),
        (V::V1_0, fault(ns).prop_map(Body::Fault).boxed()),
    ];
    list
}

/// Number of `Body` variants the strategies cover: all of them except `Unknown`.
pub(crate) const BODY_VARIANTS: usize = 55;

/// Any body that exists in `ns`, valid for `ns`'s schema.
pub(crate) fn body(ns: CwmpNamespace) -> BoxedStrategy<Body> {
    let arms: Vec<BoxedStrategy<Body>> = bodies(ns)
        .into_iter()
        .filter(|(since, _)| *since <= ns.max_version())
        .map(|(_, s)| s)
        .collect();
    Union::new(arms).boxed()
}

/// Header contents valid in `ns`: ID (free text) and HoldRequests everywhere; SessionTimeout,
/// SupportedCWMPVersions and UseCWMPVersion only in `cwmp-1-2`. `no_more_requests` and
/// `not_understood` are never set (the encoder never writes them).
pub(crate) fn header(ns: CwmpNamespace) -> BoxedStrategy<Header> {
    let version = prop::sample::select(CwmpVersion::ALL.to_vec());
    let newer = if ns == CwmpNamespace::V1_2 {
        (
            option::of(any::<u32>()),
            option::of(prop::sample::subsequence(CwmpVersion::ALL.to_vec(), 0..=5)),
            option::of(version),
        )
            .boxed()
    } else {
        Just((None, None, None)).boxed()
    };
    (option::of(free_text(40)), option::of(any::<bool>()), newer)
        .prop_map(
            |(id, hold_requests, (session_timeout, supported_cwmp_versions, use_cwmp_version))| {
                Header {
                    id,
                    hold_requests,
                    session_timeout,
                    supported_cwmp_versions,
                    use_cwmp_version,
                    no_more_requests: None,
                    not_understood: Vec::new(),
                }
            },
        )
        .boxed()
}

/// A whole envelope valid in its namespace, in any of the three namespaces.
pub(crate) fn envelope_in(ns: CwmpNamespace) -> BoxedStrategy<Envelope> {
    (header(ns), body(ns))
        .prop_map(move |(header, body)| Envelope {
            namespace: ns,
            header,
            body,
        })
        .boxed()
}

/// A whole valid envelope in any namespace.
pub(crate) fn envelope() -> BoxedStrategy<Envelope> {
    prop_oneof![
        envelope_in(CwmpNamespace::V1_0),
        envelope_in(CwmpNamespace::V1_1),
        envelope_in(CwmpNamespace::V1_2)
    ]
    .boxed()
}

/// Any encoder option set.
pub(crate) fn encode_options() -> BoxedStrategy<EncodeOptions> {
    (
        prop::sample::select(vec![BooleanLiteral::TrueFalse, BooleanLiteral::OneZero]),
        prop::sample::select(vec![Fraction::Omit, Fraction::Millis, Fraction::AsNeeded]),
        any::<bool>(),
    )
        .prop_map(
            |(boolean_literal, fraction, xml_declaration)| EncodeOptions {
                boolean_literal,
                fraction,
                xml_declaration,
            },
        )
        .boxed()
}

/// A deterministic proptest runner (fixed seed) running `cases` cases: reproducible batches.
pub(crate) fn deterministic_runner(cases: u32) -> proptest::test_runner::TestRunner {
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha))
}

/// Draws `n` values from `strategy` with a deterministic runner (no shrinking: for batches).
pub(crate) fn sample<T: std::fmt::Debug>(strategy: &BoxedStrategy<T>, n: usize) -> Vec<T> {
    let mut runner = deterministic_runner(1);
    (0..n)
        .map(|_| {
            strategy
                .new_tree(&mut runner)
                .expect("generate a value")
                .current()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn strategies_cover_every_body_variant_in_the_namespaces_where_it_exists() {
        let mut seen = BTreeSet::new();
        for env in sample(&envelope(), 4000) {
            assert!(
                env.body.since() <= env.namespace.max_version(),
                "{} paired with {}",
                env.body.method_name(),
                env.namespace
            );
            if env.namespace != CwmpNamespace::V1_2 {
                let h = &env.header;
                assert!(
                    h.session_timeout.is_none()
                        && h.supported_cwmp_versions.is_none()
                        && h.use_cwmp_version.is_none()
                );
            }
            assert!(!matches!(env.body, Body::Unknown { .. }));
            seen.insert(env.body.method_name().to_owned());
        }
        assert_eq!(seen.len(), BODY_VARIANTS, "variants seen: {seen:?}");
    }

    #[test]
    fn base64_helper_matches_rfc_4648_vectors() {
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(to_base64(input.as_bytes()), expected);
        }
    }
}
