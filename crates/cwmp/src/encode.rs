//! Encoding: [`Envelope`] to bytes, schema-exact.
//!
//! What is written always validates against the Broadband Forum schema of the message's
//! namespace: `soap-enc:arrayType` with true counts (ENV-09), `xsi:type` on every Value
//! (ENV-10), only top-level elements qualified (ENV-04), string lengths and patterns checked,
//! methods and headers refused in namespaces that do not define them. No XML declaration by
//! default (some C agents reject it). Boolean literal and dateTime fractions are configurable
//! (DM-04).

use crate::datetime::{DateTime, Fraction};
use crate::envelope::Envelope;
use crate::error::EncodeError;
use crate::event::{Event, EventCode};
use crate::fault::{Fault, FaultCode};
use crate::header::Header;
use crate::namespace::{self, CwmpNamespace};
use crate::rpc::*;
use crate::value::{ParameterValue, ValueType, parse_bool};
use crate::xml_writer::XmlWriter;
use serde::Serialize;

/// How booleans are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum BooleanLiteral {
    /// `true` / `false` (default).
    #[default]
    TrueFalse,
    /// `1` / `0` (some TP-Link CPEs want this).
    OneZero,
}

/// Encoder settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct EncodeOptions {
    /// Boolean literal for `xsd:boolean` values and boolean fields.
    pub boolean_literal: BooleanLiteral,
    /// Fractional seconds in dateTime values.
    pub fraction: Fraction,
    /// Write `<?xml version="1.0" encoding="UTF-8"?>` first.
    pub xml_declaration: bool,
}

/// Encodes with default options.
pub fn encode(envelope: &Envelope) -> Result<String, EncodeError> {
    encode_with(envelope, &EncodeOptions::default())
}

/// Encodes an envelope.
pub fn encode_with(envelope: &Envelope, options: &EncodeOptions) -> Result<String, EncodeError> {
    let since = envelope.body.since();
    if since > envelope.namespace.max_version() {
        return Err(EncodeError::NotInNamespace {
            item: envelope.body.method_name().to_owned(),
            namespace: envelope.namespace.uri(),
        });
    }
    let mut e = Encoder {
        w: XmlWriter::with_capacity(1024),
        o: *options,
        ns: envelope.namespace,
    };
    if options.xml_declaration {
        e.w.raw("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    }
    e.w.raw("<soap-env:Envelope xmlns:soap-env=\"");
    e.w.raw(namespace::SOAP_ENV);
    e.w.raw("\" xmlns:soap-enc=\"");
    e.w.raw(namespace::SOAP_ENC);
    e.w.raw("\" xmlns:xsd=\"");
    e.w.raw(namespace::XSD);
    e.w.raw("\" xmlns:xsi=\"");
    e.w.raw(namespace::XSI);
    e.w.raw("\" xmlns:cwmp=\"");
    e.w.raw(envelope.namespace.uri());
    e.w.raw("\">");
    e.header(&envelope.header, envelope.namespace)?;
    e.w.open("soap-env:Body");
    e.body(&envelope.body)?;
    e.w.close("soap-env:Body");
    e.w.close("soap-env:Envelope");
    Ok(e.w.finish())
}

struct Encoder {
    w: XmlWriter,
    o: EncodeOptions,
    /// The message's namespace: cwmp-1-0 and cwmp-1-1 enumerate event codes, fault codes,
    /// FileTypes and notification values that cwmp-1-2 only constrains by pattern or range.
    ns: CwmpNamespace,
}

type R = Result<(), EncodeError>;

fn check_len(field: &'static str, s: &str, max: usize) -> R {
    let len = s.chars().count();
    if len > max {
        Err(EncodeError::TooLong { field, len, max })
    } else {
        Ok(())
    }
}

fn check_count(field: &'static str, len: usize, max: usize) -> R {
    if len > max {
        Err(EncodeError::TooMany { field, len, max })
    } else {
        Ok(())
    }
}

fn invalid(field: &'static str, message: impl Into<String>) -> EncodeError {
    EncodeError::InvalidValue {
        field,
        message: message.into(),
    }
}

/// `[1-9]\d*( \S+)+` or `X <vendor> <name>`: the FileType and WindowMode patterns.
fn check_numbered(field: &'static str, s: &str) -> R {
    check_len(field, s, 64)?;
    let (head, rest) = s
        .split_once(' ')
        .ok_or_else(|| invalid(field, format!("{s:?} does not match the schema pattern")))?;
    let head_ok = head == "X"
        || (head.starts_with(|c: char| ('1'..='9').contains(&c))
            && head.bytes().all(|b| b.is_ascii_digit()));
    let rest_ok = !rest.is_empty()
        && rest
            .split(' ')
            .all(|w| !w.is_empty() && !w.contains(char::is_whitespace));
    // `X \S+ .+`: a vendor (OUI or name) and then a type name.
    let vendor_ok = head != "X" || rest.split(' ').count() >= 2;
    if head_ok && rest_ok && vendor_ok {
        Ok(())
    } else {
        Err(invalid(
            field,
            format!("{s:?} does not match the schema pattern"),
        ))
    }
}

fn check_uuid(field: &'static str, s: &str) -> R {
    let groups: Vec<&str> = s.split('-').collect();
    let ok = groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()));
    if ok {
        Ok(())
    } else {
        Err(invalid(field, format!("{s:?} is not a UUID")))
    }
}

/// Which FileType element: before cwmp-1-2 each enumerates its own standard types.
#[derive(Clone, Copy)]
enum FileTypeKind {
    /// Download and RequestDownload (`DownloadFileType`; ScheduleDownload exists only in 1-2).
    Download,
    /// Upload.
    Upload,
    /// AllQueuedTransferStruct and AutonomousTransferComplete (cwmp-1-1).
    Transfer,
}

/// Whether `s` starts with `X <OUI> `: the only vendor form cwmp-1-0 and cwmp-1-1 allow.
fn is_oui_vendor(s: &str) -> bool {
    s.strip_prefix("X ")
        .and_then(|r| r.get(..7))
        .is_some_and(|head| {
            let (oui, space) = head.split_at(6);
            space == " "
                && oui
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
        })
}

/// Whether `code` matches the EventCodeType of `ns` (cwmp-1-0 enumerates the codes; cwmp-1-1 adds
/// `\d+( \S+)+` and `M \S+`; only cwmp-1-2 allows a vendor event without an OUI).
fn event_allowed(ns: CwmpNamespace, code: &EventCode) -> bool {
    if !code.is_schema_valid() {
        return false;
    }
    match (ns, code) {
        (CwmpNamespace::V1_2, _) => true,
        (_, EventCode::Vendor(_)) => is_oui_vendor(&code.to_string()),
        (CwmpNamespace::V1_1, _) => true,
        (_, EventCode::Method(m)) => {
            matches!(
                m.as_str(),
                "Reboot" | "ScheduleInform" | "Download" | "Upload"
            ) || m.len() > 2 && m.starts_with("X_")
        }
        (_, c) => matches!(
            c,
            EventCode::Bootstrap
                | EventCode::Boot
                | EventCode::Periodic
                | EventCode::Scheduled
                | EventCode::ValueChange
                | EventCode::Kicked
                | EventCode::ConnectionRequest
                | EventCode::TransferComplete
                | EventCode::DiagnosticsComplete
                | EventCode::RequestDownload
        ),
    }
}

/// Whether a `cwmp:Fault` FaultCode exists in `ns` (cwmp-1-0 enumerates 9000-9013 and 8000-8005).
fn fault_code_allowed(ns: CwmpNamespace, code: FaultCode) -> bool {
    match ns {
        CwmpNamespace::V1_0 => {
            matches!(code.0, 9000..=9013 | 9800..=9899 | 8000..=8005 | 8800..=8899)
        }
        _ => code.is_valid(),
    }
}

/// An `xsd:dateTime` the schema accepts: no leap second, a zone within ±14:00.
fn check_date_time(field: &'static str, v: &DateTime) -> R {
    if v.second > 59 {
        return Err(invalid(
            field,
            format!("{v}: xsd:dateTime has no leap second"),
        ));
    }
    if v.offset_minutes.is_some_and(|m| m.unsigned_abs() > 14 * 60) {
        return Err(invalid(field, format!("{v}: the zone is beyond ±14:00")));
    }
    Ok(())
}

/// An `xs:anyURI` (ChangeDUState URLs): every `%` starts an escape of two hex digits (libxml2
/// rejects others), and no whitespace or control characters (not a URI per RFC 3986).
fn check_any_uri(field: &'static str, s: &str) -> R {
    let bad_escape = s.match_indices('%').any(|(i, _)| {
        !s.get(i + 1..i + 3)
            .is_some_and(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
    });
    if bad_escape || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid(field, format!("{s:?} is not a URI")));
    }
    Ok(())
}

impl Encoder {
    fn file_type(&self, kind: FileTypeKind, s: &str) -> R {
        check_numbered("FileType", s)?;
        if self.ns == CwmpNamespace::V1_2 || is_oui_vendor(s) {
            return Ok(());
        }
        let standard: &[&str] = match kind {
            FileTypeKind::Download => &[
                "1 Firmware Upgrade Image",
                "2 Web Content",
                "3 Vendor Configuration File",
            ],
            FileTypeKind::Upload => &["1 Vendor Configuration File", "2 Vendor Log File"],
            FileTypeKind::Transfer => &[
                "1 Firmware Upgrade Image",
                "2 Web Content",
                "3 Vendor Configuration File",
                "4 Vendor Log File",
            ],
        };
        if standard.contains(&s) {
            Ok(())
        } else {
            Err(invalid(
                "FileType",
                format!("{s:?} is not a FileType of {}", self.ns),
            ))
        }
    }

    fn boolean(&self, v: bool) -> &'static str {
        match (self.o.boolean_literal, v) {
            (BooleanLiteral::TrueFalse, true) => "true",
            (BooleanLiteral::TrueFalse, false) => "false",
            (BooleanLiteral::OneZero, true) => "1",
            (BooleanLiteral::OneZero, false) => "0",
        }
    }

    fn s(&mut self, name: &'static str, text: &str, max: usize) -> R {
        check_len(name, text, max)?;
        self.w.leaf(name, text);
        Ok(())
    }

    fn n(&mut self, name: &str, v: impl std::fmt::Display) {
        self.w.leaf(name, &v.to_string());
    }

    fn b(&mut self, name: &str, v: bool) {
        let lit = self.boolean(v);
        self.w.leaf(name, lit);
    }

    fn dt(&mut self, name: &'static str, v: &DateTime) -> R {
        check_date_time(name, v)?;
        self.w.leaf(name, &v.format(self.o.fraction));
        Ok(())
    }

    fn array_open(&mut self, name: &str, item_type: &str, count: usize) {
        let t = format!("{item_type}[{count}]");
        self.w.open_attrs(name, &[("soap-enc:arrayType", &t)]);
    }

    fn header(&mut self, h: &Header, ns: CwmpNamespace) -> R {
        if h.is_empty() {
            return Ok(());
        }
        let v12 = ns == CwmpNamespace::V1_2;
        for (present, item) in [
            (h.session_timeout.is_some(), "SessionTimeout"),
            (h.supported_cwmp_versions.is_some(), "SupportedCWMPVersions"),
            (h.use_cwmp_version.is_some(), "UseCWMPVersion"),
        ] {
            if present && !v12 {
                return Err(EncodeError::NotInNamespace {
                    item: item.to_owned(),
                    namespace: ns.uri(),
                });
            }
        }
        self.w.open("soap-env:Header");
        if let Some(id) = &h.id {
            self.w
                .leaf_attrs("cwmp:ID", &[("soap-env:mustUnderstand", "1")], id);
        }
        if let Some(hold) = h.hold_requests {
            let lit = self.boolean(hold);
            self.w.leaf_attrs(
                "cwmp:HoldRequests",
                &[("soap-env:mustUnderstand", "1")],
                lit,
            );
        }
        if let Some(t) = h.session_timeout {
            self.w.leaf_attrs(
                "cwmp:SessionTimeout",
                &[("soap-env:mustUnderstand", "0")],
                &t.to_string(),
            );
        }
        if let Some(list) = &h.supported_cwmp_versions {
            let text = crate::namespace::CwmpVersion::format_list(list);
            self.w.leaf_attrs(
                "cwmp:SupportedCWMPVersions",
                &[("soap-env:mustUnderstand", "0")],
                &text,
            );
        }
        if let Some(v) = h.use_cwmp_version {
            self.w.leaf_attrs(
                "cwmp:UseCWMPVersion",
                &[("soap-env:mustUnderstand", "1")],
                &v.to_string(),
            );
        }
        self.w.close("soap-env:Header");
        Ok(())
    }

    fn parameter_values(&mut self, list: &[ParameterValue]) -> R {
        self.array_open("ParameterList", "cwmp:ParameterValueStruct", list.len());
        for p in list {
            check_len("Name", &p.name, 256)?;
            let v = &p.value;
            let text: std::borrow::Cow<'_, str> = match &v.kind {
                ValueType::Boolean => {
                    let b = parse_bool(&v.text).ok_or_else(|| {
                        invalid(
                            "Value",
                            format!("{}: {:?} is not a boolean", p.name, v.text),
                        )
                    })?;
                    self.boolean(b).into()
                }
                ValueType::DateTime => {
                    let t = DateTime::parse(&v.text).ok_or_else(|| {
                        invalid(
                            "Value",
                            format!("{}: {:?} is not a dateTime", p.name, v.text),
                        )
                    })?;
                    check_date_time("Value", &t)?;
                    t.format(self.o.fraction).into()
                }
                ValueType::Other(name) => {
                    return Err(invalid(
                        "Value",
                        format!("{}: type {name:?} is not a CWMP value type", p.name),
                    ));
                }
                kind => {
                    if !kind.accepts(&v.text) {
                        return Err(invalid(
                            "Value",
                            format!("{}: {:?} is not a valid {kind}", p.name, v.text),
                        ));
                    }
                    if *kind == ValueType::String {
                        v.text.as_str().into()
                    } else {
                        // Same value (whiteSpace=collapse), but validators such as libxml2 apply the
                        // declared anySimpleType's "preserve" and reject surrounding whitespace.
                        v.text.trim_matches(crate::value::is_xml_space).into()
                    }
                }
            };
            let ty = format!("xsd:{}", v.kind.xsd_name());
            self.w.open("ParameterValueStruct");
            self.w.leaf("Name", &p.name);
            self.w.leaf_attrs("Value", &[("xsi:type", &ty)], &text);
            self.w.close("ParameterValueStruct");
        }
        self.w.close("ParameterList");
        Ok(())
    }

    fn strings(&mut self, name: &'static str, list: &[String], max: usize) -> R {
        if list.is_empty() && name != "AccessList" {
            return Err(invalid(name, "at least one member is required"));
        }
        self.array_open(name, "xsd:string", list.len());
        for s in list {
            check_len(name, s, max)?;
            self.w.leaf("string", s);
        }
        self.w.close(name);
        Ok(())
    }

    fn access_list(&mut self, list: &[String]) -> R {
        for s in list {
            if s != "Subscriber" {
                return Err(invalid(
                    "AccessList",
                    format!("{s:?}: only \"Subscriber\" is defined"),
                ));
            }
        }
        self.strings("AccessList", list, 64)
    }

    fn notification(&self, v: i32) -> R {
        // Values 3-6 (lightweight notification) exist from cwmp-1-2 on.
        let max = if self.ns == CwmpNamespace::V1_2 { 6 } else { 2 };
        if (0..=max).contains(&v) {
            Ok(())
        } else {
            Err(invalid(
                "Notification",
                format!("{v} is outside 0-{max} in {}", self.ns),
            ))
        }
    }

    fn events(&mut self, events: &[Event]) -> R {
        check_count("Event", events.len(), 64)?;
        self.array_open("Event", "cwmp:EventStruct", events.len());
        for e in events {
            if !event_allowed(self.ns, &e.code) {
                return Err(invalid(
                    "EventCode",
                    format!("{:?} does not match the schema pattern", e.code.to_string()),
                ));
            }
            self.w.open("EventStruct");
            self.w.leaf("EventCode", &e.code.to_string());
            self.s("CommandKey", &e.command_key, 32)?;
            self.w.close("EventStruct");
        }
        self.w.close("Event");
        Ok(())
    }

    fn fault(&mut self, f: &Fault) -> R {
        if !fault_code_allowed(self.ns, f.code) {
            return Err(invalid(
                "FaultCode",
                format!("{} is not a fault code of {}", f.code, self.ns),
            ));
        }
        let class = f.soap_class.as_str();
        let ncname = class
            .chars()
            .next()
            .is_some_and(|c| c.is_alphabetic() || c == '_')
            && class
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if !ncname {
            return Err(invalid(
                "faultcode",
                format!("{class:?} is not a QName local part"),
            ));
        }
        self.w.open("soap-env:Fault");
        self.w.leaf("faultcode", f.soap_class.as_str());
        self.w.leaf("faultstring", &f.soap_string);
        self.w.open("detail");
        self.w.open("cwmp:Fault");
        self.n("FaultCode", f.code);
        self.w.leaf("FaultString", &f.string);
        for p in &f.set_parameter_values_faults {
            if !fault_code_allowed(self.ns, p.code) || p.code.is_acs() {
                return Err(invalid(
                    "FaultCode",
                    format!("{} is not a CPE fault code", p.code),
                ));
            }
            self.w.open("SetParameterValuesFault");
            self.w.leaf("ParameterName", &p.parameter_name);
            self.n("FaultCode", p.code);
            self.w.leaf("FaultString", &p.string);
            self.w.close("SetParameterValuesFault");
        }
        self.w.close("cwmp:Fault");
        self.w.close("detail");
        self.w.close("soap-env:Fault");
        Ok(())
    }

    fn transfer_fault(&mut self, f: &crate::rpc::TransferFault) -> R {
        let in_ns = self.ns != CwmpNamespace::V1_0
            || matches!(f.code.0, 0 | 9001 | 9002 | 9010 | 9011 | 9012);
        if !f.code.is_valid_for_transfer_complete() || !in_ns {
            return Err(invalid(
                "FaultStruct",
                format!("{} is not a transfer fault code", f.code),
            ));
        }
        self.w.open("FaultStruct");
        self.n("FaultCode", f.code);
        self.s("FaultString", &f.string, 256)?;
        self.w.close("FaultStruct");
        Ok(())
    }

    fn status(&mut self, v: i32) -> R {
        if v == 0 || v == 1 {
            self.n("Status", v);
            Ok(())
        } else {
            Err(invalid("Status", format!("{v} is neither 0 nor 1")))
        }
    }

    fn object_name(&mut self, name: &str) -> R {
        if !name.ends_with('.') {
            return Err(invalid(
                "ObjectName",
                format!("{name:?} must end with \".\""),
            ));
        }
        self.s("ObjectName", name, 256)
    }

    fn body(&mut self, body: &Body) -> R {
        let tag = format!("cwmp:{}", body.method_name());
        match body {
            Body::Fault(f) => return self.fault(f),
            Body::Unknown { name } => return Err(EncodeError::UnknownMethod(name.clone())),
            Body::GetRPCMethods
            | Body::SetParameterAttributesResponse
            | Body::RebootResponse
            | Body::GetQueuedTransfers
            | Body::ScheduleInformResponse
            | Body::SetVouchersResponse
            | Body::UploadResponse(_)
            | Body::FactoryReset
            | Body::FactoryResetResponse
            | Body::GetAllQueuedTransfers
            | Body::ScheduleDownloadResponse
            | Body::CancelTransferResponse
            | Body::ChangeDUStateResponse
            | Body::TransferCompleteResponse
            | Body::AutonomousTransferCompleteResponse
            | Body::RequestDownloadResponse
            | Body::DUStateChangeCompleteResponse
            | Body::AutonomousDUStateChangeCompleteResponse
                if !matches!(body, Body::UploadResponse(_)) =>
            {
                self.w.empty(&tag);
                return Ok(());
            }
            _ => {}
        }
        self.w.open(&tag);
        match body {
            Body::GetRPCMethodsResponse(r) => self.strings("MethodList", &r.method_list, 64)?,
            Body::SetParameterValues(r) => {
                self.parameter_values(&r.parameter_list)?;
                self.s("ParameterKey", &r.parameter_key, 32)?;
            }
            Body::SetParameterValuesResponse(r) => self.status(r.status)?,
            Body::GetParameterValues(r) => {
                self.strings("ParameterNames", &r.parameter_names, 256)?
            }
            Body::GetParameterValuesResponse(r) => self.parameter_values(&r.parameter_list)?,
            Body::GetParameterNames(r) => {
                self.s("ParameterPath", &r.parameter_path, 256)?;
                self.b("NextLevel", r.next_level);
            }
            Body::GetParameterNamesResponse(r) => {
                self.array_open(
                    "ParameterList",
                    "cwmp:ParameterInfoStruct",
                    r.parameter_list.len(),
                );
                for p in &r.parameter_list {
                    self.w.open("ParameterInfoStruct");
                    self.s("Name", &p.name, 256)?;
                    self.b("Writable", p.writable);
                    self.w.close("ParameterInfoStruct");
                }
                self.w.close("ParameterList");
            }
            Body::SetParameterAttributes(r) => {
                if r.parameter_list.is_empty() {
                    return Err(invalid("ParameterList", "at least one member is required"));
                }
                self.array_open(
                    "ParameterList",
                    "cwmp:SetParameterAttributesStruct",
                    r.parameter_list.len(),
                );
                for p in &r.parameter_list {
                    self.notification(p.notification)?;
                    self.w.open("SetParameterAttributesStruct");
                    self.s("Name", &p.name, 256)?;
                    self.b("NotificationChange", p.notification_change);
                    self.n("Notification", p.notification);
                    self.b("AccessListChange", p.access_list_change);
                    self.access_list(&p.access_list)?;
                    self.w.close("SetParameterAttributesStruct");
                }
                self.w.close("ParameterList");
            }
            Body::GetParameterAttributes(r) => {
                self.strings("ParameterNames", &r.parameter_names, 256)?
            }
            Body::GetParameterAttributesResponse(r) => {
                self.array_open(
                    "ParameterList",
                    "cwmp:ParameterAttributeStruct",
                    r.parameter_list.len(),
                );
                for p in &r.parameter_list {
                    self.notification(p.notification)?;
                    self.w.open("ParameterAttributeStruct");
                    self.s("Name", &p.name, 256)?;
                    self.n("Notification", p.notification);
                    self.access_list(&p.access_list)?;
                    self.w.close("ParameterAttributeStruct");
                }
                self.w.close("ParameterList");
            }
            Body::AddObject(r) => {
                self.object_name(&r.object_name)?;
                self.s("ParameterKey", &r.parameter_key, 32)?;
            }
            Body::AddObjectResponse(r) => {
                if r.instance_number == 0 {
                    return Err(invalid("InstanceNumber", "must be at least 1"));
                }
                self.n("InstanceNumber", r.instance_number);
                self.status(r.status)?;
            }
            Body::DeleteObject(r) => {
                self.object_name(&r.object_name)?;
                self.s("ParameterKey", &r.parameter_key, 32)?;
            }
            Body::DeleteObjectResponse(r) => self.status(r.status)?,
            Body::Download(r) => {
                self.s("CommandKey", &r.command_key, 32)?;
                self.file_type(FileTypeKind::Download, &r.file_type)?;
                self.w.leaf("FileType", &r.file_type);
                self.s("URL", &r.url, 256)?;
                self.s("Username", &r.username, 256)?;
                self.s("Password", &r.password, 256)?;
                self.n("FileSize", r.file_size);
                self.s("TargetFileName", &r.target_file_name, 256)?;
                self.n("DelaySeconds", r.delay_seconds);
                self.s("SuccessURL", &r.success_url, 256)?;
                self.s("FailureURL", &r.failure_url, 256)?;
            }
            Body::DownloadResponse(r) | Body::UploadResponse(r) => {
                self.status(r.status)?;
                self.dt("StartTime", &r.start_time)?;
                self.dt("CompleteTime", &r.complete_time)?;
            }
            Body::Reboot(r) => self.s("CommandKey", &r.command_key, 32)?,
            Body::GetQueuedTransfersResponse(r) => {
                check_count("TransferList", r.transfer_list.len(), 16)?;
                self.array_open(
                    "TransferList",
                    "cwmp:QueuedTransferStruct",
                    r.transfer_list.len(),
                );
                for t in &r.transfer_list {
                    self.w.open("QueuedTransferStruct");
                    self.s("CommandKey", &t.command_key, 32)?;
                    self.transfer_state(t.state)?;
                    self.w.close("QueuedTransferStruct");
                }
                self.w.close("TransferList");
            }
            Body::ScheduleInform(r) => {
                self.n("DelaySeconds", r.delay_seconds);
                self.s("CommandKey", &r.command_key, 32)?;
            }
            Body::SetVouchers(r) => {
                if r.voucher_list.is_empty() {
                    return Err(invalid("VoucherList", "at least one voucher is required"));
                }
                self.array_open("VoucherList", "soap-enc:base64", r.voucher_list.len());
                for v in &r.voucher_list {
                    if !ValueType::Base64.accepts(v) {
                        return Err(invalid("VoucherList", "a voucher is not base64"));
                    }
                    self.w.leaf("base64", v);
                }
                self.w.close("VoucherList");
            }
            Body::GetOptions(r) => self.s("OptionName", &r.option_name, 64)?,
            Body::GetOptionsResponse(r) => {
                self.array_open("OptionList", "cwmp:OptionStruct", r.option_list.len());
                for o in &r.option_list {
                    if o.state > 3
                        || !(0..=2).contains(&o.mode)
                        || !(0..=1).contains(&o.is_transferable)
                    {
                        return Err(invalid(
                            "OptionStruct",
                            "State 0-3, Mode 0-2 and IsTransferable 0-1 are required",
                        ));
                    }
                    self.w.open("OptionStruct");
                    self.s("OptionName", &o.option_name, 64)?;
                    self.n("VoucherSN", o.voucher_sn);
                    self.n("State", o.state);
                    self.n("Mode", o.mode);
                    self.dt("StartDate", &o.start_date)?;
                    if let Some(e) = &o.expiration_date {
                        self.dt("ExpirationDate", e)?;
                    }
                    self.n("IsTransferable", o.is_transferable);
                    self.w.close("OptionStruct");
                }
                self.w.close("OptionList");
            }
            Body::Upload(r) => {
                self.s("CommandKey", &r.command_key, 32)?;
                self.file_type(FileTypeKind::Upload, &r.file_type)?;
                self.w.leaf("FileType", &r.file_type);
                self.s("URL", &r.url, 256)?;
                self.s("Username", &r.username, 256)?;
                self.s("Password", &r.password, 256)?;
                self.n("DelaySeconds", r.delay_seconds);
            }
            Body::GetAllQueuedTransfersResponse(r) => {
                check_count("TransferList", r.transfer_list.len(), 16)?;
                self.array_open(
                    "TransferList",
                    "cwmp:AllQueuedTransferStruct",
                    r.transfer_list.len(),
                );
                for t in &r.transfer_list {
                    self.w.open("AllQueuedTransferStruct");
                    self.s("CommandKey", &t.command_key, 32)?;
                    self.transfer_state(t.state)?;
                    self.b("IsDownload", t.is_download);
                    self.file_type(FileTypeKind::Transfer, &t.file_type)?;
                    self.w.leaf("FileType", &t.file_type);
                    self.n("FileSize", t.file_size);
                    self.s("TargetFileName", &t.target_file_name, 256)?;
                    self.w.close("AllQueuedTransferStruct");
                }
                self.w.close("TransferList");
            }
            Body::ScheduleDownload(r) => {
                self.s("CommandKey", &r.command_key, 32)?;
                self.file_type(FileTypeKind::Download, &r.file_type)?;
                self.w.leaf("FileType", &r.file_type);
                self.s("URL", &r.url, 256)?;
                self.s("Username", &r.username, 256)?;
                self.s("Password", &r.password, 256)?;
                self.n("FileSize", r.file_size);
                self.s("TargetFileName", &r.target_file_name, 256)?;
                if r.time_window_list.is_empty() {
                    return Err(invalid("TimeWindowList", "at least one window is required"));
                }
                check_count("TimeWindowList", r.time_window_list.len(), 2)?;
                self.array_open(
                    "TimeWindowList",
                    "cwmp:TimeWindowStruct",
                    r.time_window_list.len(),
                );
                for t in &r.time_window_list {
                    self.w.open("TimeWindowStruct");
                    self.n("WindowStart", t.window_start);
                    self.n("WindowEnd", t.window_end);
                    check_numbered("WindowMode", &t.window_mode)?;
                    self.w.leaf("WindowMode", &t.window_mode);
                    self.s("UserMessage", &t.user_message, 256)?;
                    self.n("MaxRetries", t.max_retries);
                    self.w.close("TimeWindowStruct");
                }
                self.w.close("TimeWindowList");
            }
            Body::CancelTransfer(r) => self.s("CommandKey", &r.command_key, 32)?,
            Body::ChangeDUState(r) => {
                if r.operations.is_empty() {
                    return Err(invalid("Operations", "at least one operation is required"));
                }
                for op in &r.operations {
                    self.du_operation(op)?;
                }
                if let Some(k) = &r.command_key {
                    self.s("CommandKey", k, 32)?;
                }
            }
            Body::Inform(r) => {
                let d = &r.device_id;
                if !d.oui_is_valid() {
                    return Err(invalid(
                        "OUI",
                        format!("{:?} does not match [0-9A-F]{{6}}", d.oui),
                    ));
                }
                self.w.open("DeviceId");
                self.s("Manufacturer", &d.manufacturer, 64)?;
                self.w.leaf("OUI", &d.oui);
                self.s("ProductClass", &d.product_class, 64)?;
                self.s("SerialNumber", &d.serial_number, 64)?;
                self.w.close("DeviceId");
                self.events(&r.events)?;
                self.n("MaxEnvelopes", r.max_envelopes);
                self.dt("CurrentTime", &r.current_time)?;
                self.n("RetryCount", r.retry_count);
                self.parameter_values(&r.parameter_list)?;
            }
            Body::InformResponse(r) => self.n("MaxEnvelopes", r.max_envelopes),
            Body::TransferComplete(r) => {
                self.s("CommandKey", &r.command_key, 32)?;
                self.transfer_fault(&r.fault)?;
                self.dt("StartTime", &r.start_time)?;
                self.dt("CompleteTime", &r.complete_time)?;
            }
            Body::AutonomousTransferComplete(r) => {
                self.s("AnnounceURL", &r.announce_url, 1024)?;
                self.s("TransferURL", &r.transfer_url, 1024)?;
                self.b("IsDownload", r.is_download);
                self.file_type(FileTypeKind::Transfer, &r.file_type)?;
                self.w.leaf("FileType", &r.file_type);
                self.n("FileSize", r.file_size);
                self.s("TargetFileName", &r.target_file_name, 256)?;
                self.transfer_fault(&r.fault)?;
                self.dt("StartTime", &r.start_time)?;
                self.dt("CompleteTime", &r.complete_time)?;
            }
            Body::Kicked(r) => {
                self.s("Command", &r.command, 32)?;
                self.s("Referer", &r.referer, 64)?;
                self.s("Arg", &r.arg, 256)?;
                self.s("Next", &r.next, 1024)?;
            }
            Body::KickedResponse(r) => self.s("NextURL", &r.next_url, 1024)?,
            Body::RequestDownload(r) => {
                self.file_type(FileTypeKind::Download, &r.file_type)?;
                self.w.leaf("FileType", &r.file_type);
                check_count("FileTypeArg", r.file_type_arg.len(), 16)?;
                self.array_open("FileTypeArg", "cwmp:ArgStruct", r.file_type_arg.len());
                for a in &r.file_type_arg {
                    self.w.open("ArgStruct");
                    self.s("Name", &a.name, 64)?;
                    self.s("Value", &a.value, 256)?;
                    self.w.close("ArgStruct");
                }
                self.w.close("FileTypeArg");
            }
            Body::DUStateChangeComplete(r) => {
                if r.results.is_empty() {
                    return Err(invalid("Results", "at least one result is required"));
                }
                for res in &r.results {
                    self.du_result(res, false)?;
                }
                if let Some(k) = &r.command_key {
                    self.s("CommandKey", k, 32)?;
                }
            }
            Body::AutonomousDUStateChangeComplete(r) => {
                if r.results.is_empty() {
                    return Err(invalid("Results", "at least one result is required"));
                }
                for res in &r.results {
                    self.du_result(res, true)?;
                }
            }
            _ => {}
        }
        self.w.close(&tag);
        Ok(())
    }

    fn transfer_state(&mut self, state: i32) -> R {
        if !(1..=3).contains(&state) {
            return Err(invalid("State", format!("{state} is outside 1-3")));
        }
        self.n("State", state);
        Ok(())
    }

    fn du_operation(&mut self, op: &DuOperation) -> R {
        let opt = |e: &mut Self, name: &'static str, v: &Option<String>, max: usize| -> R {
            if let Some(v) = v {
                e.s(name, v, max)?;
            }
            Ok(())
        };
        match op {
            DuOperation::Install {
                url,
                uuid,
                username,
                password,
                execution_env_ref,
            } => {
                self.w
                    .open_attrs("Operations", &[("xsi:type", "cwmp:InstallOpStruct")]);
                check_any_uri("URL", url)?;
                self.s("URL", url, 1024)?;
                if let Some(u) = uuid {
                    check_uuid("UUID", u)?;
                }
                opt(self, "UUID", uuid, 36)?;
                opt(self, "Username", username, 256)?;
                opt(self, "Password", password, 256)?;
                opt(self, "ExecutionEnvRef", execution_env_ref, 256)?;
            }
            DuOperation::Update {
                uuid,
                version,
                url,
                username,
                password,
            } => {
                self.w
                    .open_attrs("Operations", &[("xsi:type", "cwmp:UpdateOpStruct")]);
                if let Some(u) = uuid {
                    check_uuid("UUID", u)?;
                }
                opt(self, "UUID", uuid, 36)?;
                opt(self, "Version", version, 32)?;
                if let Some(u) = url {
                    check_any_uri("URL", u)?;
                }
                opt(self, "URL", url, 1024)?;
                opt(self, "Username", username, 256)?;
                opt(self, "Password", password, 256)?;
            }
            DuOperation::Uninstall {
                uuid,
                version,
                execution_env_ref,
            } => {
                self.w
                    .open_attrs("Operations", &[("xsi:type", "cwmp:UninstallOpStruct")]);
                check_uuid("UUID", uuid)?;
                self.w.leaf("UUID", uuid);
                opt(self, "Version", version, 32)?;
                opt(self, "ExecutionEnvRef", execution_env_ref, 256)?;
            }
        }
        self.w.close("Operations");
        Ok(())
    }

    fn du_result(&mut self, r: &DuOperationResult, autonomous: bool) -> R {
        check_uuid("UUID", &r.uuid)?;
        if !matches!(
            r.current_state.as_str(),
            "Installed" | "Uninstalled" | "Failed"
        ) {
            return Err(invalid(
                "CurrentState",
                format!(
                    "{:?} is not Installed, Uninstalled or Failed",
                    r.current_state
                ),
            ));
        }
        let fault_ok = r.fault.code == FaultCode(0)
            || matches!(r.fault.code.0, 9001 | 9003 | 9012 | 9013 | 9015..=9018 | 9022..=9032 | 9033..=9899);
        if !fault_ok {
            return Err(invalid(
                "Fault",
                format!("{} is not a deployment unit fault code", r.fault.code),
            ));
        }
        if autonomous {
            self.w
                .open_attrs("Results", &[("xsi:type", "cwmp:AutonOpResultStruct")]);
        } else {
            self.w.open("Results");
        }
        self.w.leaf("UUID", &r.uuid);
        self.w.leaf("DeploymentUnitRef", &r.deployment_unit_ref);
        self.s("Version", &r.version, 32)?;
        self.w.leaf("CurrentState", &r.current_state);
        self.b("Resolved", r.resolved);
        self.w
            .leaf("ExecutionUnitRefList", &r.execution_unit_ref_list);
        self.dt("StartTime", &r.start_time)?;
        self.dt("CompleteTime", &r.complete_time)?;
        self.w.open("Fault");
        self.n("FaultCode", r.fault.code);
        if let Some(s) = &r.fault.string {
            self.w.leaf("FaultString", s);
        }
        self.w.close("Fault");
        if autonomous {
            let op = r.operation_performed.as_deref().unwrap_or("");
            if !matches!(op, "Install" | "Update" | "Uninstall") && !op.starts_with("X_") {
                return Err(invalid(
                    "OperationPerformed",
                    format!("{op:?} is not Install, Update or Uninstall"),
                ));
            }
            self.w.leaf("OperationPerformed", op);
        }
        self.w.close("Results");
        Ok(())
    }
}
