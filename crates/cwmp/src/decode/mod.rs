//! Decoding: bytes to [`Envelope`], accepting what real CPEs send and nothing unsafe.
//!
//! Lenient where real devices deviate (any prefix, cwmp-1-0/1-1/1-2 and the non-standard 1-3,
//! no Header, missing `xsi:type`, wrong `arrayType` counts, control characters, charsets) and
//! strict where safety is at stake: no DTD (so no entity expansion), a byte limit, a node limit,
//! and typed errors with line and column. Every tolerated deviation is reported as a [`Quirk`].
//! Elements are matched by local name and namespace URI, never by prefix (ENV-05).
//!
//! Two readers, one answer: the tree decoder here reads every message and is the reference;
//! a plain Inform (no quirk, the common case) is first offered to `streaming_inform.rs`, which
//! reads it in one pass and gives up, leaving it to the tree, on anything it cannot decode
//! exactly as the tree would.

pub mod charset;
mod streaming_inform;

use crate::datetime::DateTime;
use crate::device_id::DeviceId;
use crate::envelope::{Decoded, Envelope, Quirk};
use crate::error::DecodeError;
use crate::event::{Event, EventCode};
use crate::fault::{Fault, FaultCode, SetParameterValuesFault, SoapFaultClass};
use crate::header::Header;
use crate::namespace::{self, CwmpNamespace, CwmpVersion};
use crate::rpc::*;
use crate::value::{ParameterValue, Value, ValueType, parse_bool};
use roxmltree::{Document, Node, ParsingOptions};

/// Limits applied while decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Largest message accepted, in bytes (after decompression). Default 8 MiB.
    pub max_bytes: usize,
    /// Largest number of XML nodes. Default 1,000,000.
    pub max_nodes: u32,
    /// Deepest element nesting. Default 64 (CWMP needs 8).
    pub max_depth: usize,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        Self {
            max_bytes: 8 * 1024 * 1024,
            max_nodes: 1_000_000,
            max_depth: 64,
        }
    }
}

/// Decodes a UTF-8 (or self-describing) message with default limits.
pub fn decode(bytes: &[u8]) -> Result<Decoded, DecodeError> {
    decode_with(bytes, None, &DecodeOptions::default())
}

/// Decodes a message; `content_type` is the HTTP Content-Type header, used for its charset.
pub fn decode_with(
    bytes: &[u8],
    content_type: Option<&str>,
    options: &DecodeOptions,
) -> Result<Decoded, DecodeError> {
    decode_by(bytes, content_type, options, Path::FastWhenPlain)
}

/// Which decoder reads the message once it is text.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Path {
    /// A plain Inform by `streaming_inform`, anything else by the tree.
    FastWhenPlain,
    /// Always the tree (the tests' reference).
    #[cfg(test)]
    TreeOnly,
}

fn decode_by(
    bytes: &[u8],
    content_type: Option<&str>,
    options: &DecodeOptions,
    path: Path,
) -> Result<Decoded, DecodeError> {
    if bytes.len() > options.max_bytes {
        return Err(DecodeError::TooLarge {
            size: bytes.len(),
            limit: options.max_bytes,
        });
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(DecodeError::Empty);
    }
    let mut quirks = Vec::new();
    let (text, charset_quirk) = charset::to_text(bytes, content_type)?;
    quirks.extend(charset_quirk);
    let (text, replaced) = charset::replace_forbidden(text);
    if replaced > 0 {
        quirks.push(Quirk::ControlCharactersReplaced { count: replaced });
    }
    if quirks.is_empty()
        && path == Path::FastWhenPlain
        && let Some(envelope) = streaming_inform::decode(&text, options)
    {
        return Ok(Decoded { envelope, quirks });
    }
    decode_tree(&text, quirks, options)
}

/// The general decoder: a tree of the whole message, then each RPC read from it.
fn decode_tree(
    text: &str,
    quirks: Vec<Quirk>,
    options: &DecodeOptions,
) -> Result<Decoded, DecodeError> {
    check_depth(text, options.max_depth)?;
    let parse_options = ParsingOptions {
        allow_dtd: false,
        nodes_limit: options.max_nodes,
        ..ParsingOptions::default()
    };
    let doc = Document::parse_with_options(text, parse_options).map_err(xml_error)?;
    let mut ctx = Ctx { doc: &doc, quirks };
    let envelope = ctx.envelope()?;
    Ok(Decoded {
        envelope,
        quirks: ctx.quirks,
    })
}

fn xml_error(e: roxmltree::Error) -> DecodeError {
    match e {
        roxmltree::Error::DtdDetected => DecodeError::DtdNotAllowed,
        roxmltree::Error::NodesLimitReached => DecodeError::LimitExceeded("node count"),
        other => {
            let pos = other.pos();
            DecodeError::Xml {
                message: other.to_string(),
                line: pos.row,
                column: pos.col,
            }
        }
    }
}

/// A cheap pre-scan bounding element nesting before the tree is built.
fn check_depth(text: &str, max_depth: usize) -> Result<(), DecodeError> {
    let b = text.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while let Some(off) = b[i..].iter().position(|&c| c == b'<') {
        i += off + 1;
        match b.get(i) {
            Some(b'/') => depth = depth.saturating_sub(1),
            Some(b'?' | b'!') => {}
            Some(_) => {
                // Find the end of the tag; a self-closing tag does not nest.
                let end = b[i..]
                    .iter()
                    .position(|&c| c == b'>')
                    .map_or(b.len(), |e| i + e);
                if end == 0 || b.get(end - 1) != Some(&b'/') {
                    depth += 1;
                    if depth > max_depth {
                        return Err(DecodeError::LimitExceeded("nesting depth"));
                    }
                }
                i = end;
            }
            None => break,
        }
    }
    Ok(())
}

struct Ctx<'a, 'input> {
    doc: &'a Document<'input>,
    quirks: Vec<Quirk>,
}

type R<T> = Result<T, DecodeError>;

fn elements<'a, 'i>(node: Node<'a, 'i>) -> impl Iterator<Item = Node<'a, 'i>> {
    node.children().filter(Node::is_element)
}

impl<'a, 'input> Ctx<'a, 'input> {
    fn invalid(&self, node: Node<'_, '_>, message: impl Into<String>) -> DecodeError {
        let pos = self.doc.text_pos_at(node.range().start);
        DecodeError::Invalid {
            element: path_of(node),
            message: message.into(),
            line: pos.row,
            column: pos.col,
        }
    }

    fn envelope(&mut self) -> R<Envelope> {
        let root = self.doc.root_element();
        let ns = root.tag_name().namespace().unwrap_or("");
        if root.tag_name().name() != "Envelope" || ns != namespace::SOAP_ENV {
            if ns == "http://www.w3.org/2003/05/soap-envelope" {
                return Err(DecodeError::Soap12);
            }
            return Err(DecodeError::NotAnEnvelope {
                found: format!("{{{ns}}}{}", root.tag_name().name()),
            });
        }
        let mut header_node = None;
        let mut body_node = None;
        for child in elements(root) {
            match child.tag_name().name() {
                "Header" if header_node.is_none() && body_node.is_none() => {
                    header_node = Some(child)
                }
                "Body" if body_node.is_none() => body_node = Some(child),
                other => self.quirks.push(Quirk::UnknownElement {
                    element: other.to_owned(),
                }),
            }
        }
        let body_node = body_node.ok_or(DecodeError::MissingBody)?;
        let mut body_children = elements(body_node);
        let rpc = body_children.next().ok_or(DecodeError::MissingBody)?;
        if body_children.next().is_some() {
            self.quirks.push(Quirk::ExtraBodyElements);
        }

        let mut found_ns: Option<CwmpNamespace> = None;
        let header = match header_node {
            Some(h) => self.header(h, &mut found_ns)?,
            None => Header::default(),
        };
        let is_soap_fault = rpc.tag_name().name() == "Fault"
            && rpc.tag_name().namespace() == Some(namespace::SOAP_ENV);
        let body = if is_soap_fault {
            let (fault, ns) = self.fault(rpc)?;
            if ns.is_some() {
                found_ns = ns;
            }
            Body::Fault(fault)
        } else {
            match rpc.tag_name().namespace() {
                Some(uri) => {
                    let ns = self
                        .cwmp_namespace(uri)
                        .ok_or_else(|| DecodeError::UnknownNamespace(uri.to_owned()))?;
                    found_ns = Some(ns);
                }
                None => self.quirks.push(Quirk::UnqualifiedRpc),
            }
            self.body(rpc)?
        };
        let namespace = found_ns
            .or_else(|| {
                root.namespaces()
                    .find_map(|n| CwmpNamespace::from_uri(n.uri()).map(|(ns, _)| ns))
            })
            .unwrap_or(CwmpNamespace::V1_0);
        Ok(Envelope {
            namespace,
            header,
            body,
        })
    }

    fn cwmp_namespace(&mut self, uri: &str) -> Option<CwmpNamespace> {
        let (ns, nonstandard) = CwmpNamespace::from_uri(uri)?;
        if nonstandard
            && !self
                .quirks
                .iter()
                .any(|q| matches!(q, Quirk::NonStandardNamespace { .. }))
        {
            self.quirks.push(Quirk::NonStandardNamespace {
                uri: uri.to_owned(),
            });
        }
        Some(ns)
    }

    fn header(&mut self, node: Node<'_, '_>, found_ns: &mut Option<CwmpNamespace>) -> R<Header> {
        let mut h = Header::default();
        for child in elements(node) {
            let uri = child.tag_name().namespace().unwrap_or("");
            let cwmp = self.cwmp_namespace(uri);
            let must_understand = child
                .attributes()
                .find(|a| a.name() == "mustUnderstand")
                .is_some_and(|a| matches!(a.value().trim(), "1" | "true"));
            let text = child.text().unwrap_or("").trim();
            if cwmp.is_none() {
                if must_understand {
                    h.not_understood.push(child.tag_name().name().to_owned());
                }
                continue;
            }
            if found_ns.is_none() {
                *found_ns = cwmp;
            }
            match child.tag_name().name() {
                "ID" => h.id = Some(child.text().unwrap_or("").to_owned()),
                "HoldRequests" => {
                    h.hold_requests =
                        Some(parse_bool(text).ok_or_else(|| self.invalid(child, "not a boolean"))?)
                }
                "NoMoreRequests" => h.no_more_requests = parse_bool(text),
                "SessionTimeout" => {
                    h.session_timeout = Some(
                        text.parse()
                            .map_err(|_| self.invalid(child, "not an unsignedInt"))?,
                    )
                }
                "SupportedCWMPVersions" => {
                    h.supported_cwmp_versions = Some(CwmpVersion::parse_list(text))
                }
                "UseCWMPVersion" => {
                    h.use_cwmp_version = Some(
                        CwmpVersion::parse(text)
                            .ok_or_else(|| self.invalid(child, "not a version"))?,
                    )
                }
                other => {
                    if must_understand {
                        h.not_understood.push(other.to_owned());
                    }
                }
            }
        }
        Ok(h)
    }

    fn fault(&mut self, node: Node<'_, '_>) -> R<(Fault, Option<CwmpNamespace>)> {
        let soap_class = SoapFaultClass::parse(
            child(node, "faultcode")
                .and_then(|n| n.text())
                .unwrap_or("Server"),
        );
        let soap_string = child(node, "faultstring")
            .and_then(|n| n.text())
            .unwrap_or("")
            .to_owned();
        let detail = child(node, "detail").and_then(|d| child(d, "Fault"));
        let Some(detail) = detail else {
            // A SOAP fault without a CWMP detail (a MustUnderstand fault, for instance).
            let code = match soap_class {
                SoapFaultClass::Client => FaultCode(9003),
                _ => FaultCode(9002),
            };
            return Ok((
                Fault {
                    soap_class,
                    string: soap_string.clone(),
                    soap_string,
                    code,
                    set_parameter_values_faults: vec![],
                },
                None,
            ));
        };
        let ns = detail
            .tag_name()
            .namespace()
            .and_then(|u| self.cwmp_namespace(u));
        let code = FaultCode(self.req_parse(detail, "FaultCode")?);
        let string = self.opt_text(detail, "FaultString");
        let mut spv = Vec::new();
        for f in elements(detail).filter(|n| n.tag_name().name() == "SetParameterValuesFault") {
            spv.push(SetParameterValuesFault {
                parameter_name: self.req_text(f, "ParameterName")?,
                code: FaultCode(self.req_parse(f, "FaultCode")?),
                string: self.opt_text(f, "FaultString"),
            });
        }
        Ok((
            Fault {
                soap_class,
                soap_string,
                code,
                string,
                set_parameter_values_faults: spv,
            },
            ns,
        ))
    }

    // ----- leaf helpers -----

    fn opt_text(&self, node: Node<'_, '_>, name: &str) -> String {
        child(node, name)
            .map(|c| text_of(c).into_owned())
            .unwrap_or_default()
    }

    fn text(&mut self, node: Node<'_, '_>, name: &str) -> String {
        match child(node, name) {
            Some(c) => text_of(c).into_owned(),
            None => {
                self.quirks.push(Quirk::MissingElement {
                    element: format!("{}/{name}", path_of(node)),
                });
                String::new()
            }
        }
    }

    fn req_child<'n, 'i>(&self, node: Node<'n, 'i>, name: &str) -> R<Node<'n, 'i>> {
        child(node, name)
            .ok_or_else(|| self.invalid(node, format!("missing required element {name}")))
    }

    fn req_text(&self, node: Node<'_, '_>, name: &str) -> R<String> {
        Ok(text_of(self.req_child(node, name)?).trim().to_owned())
    }

    fn req_parse<T: std::str::FromStr>(&self, node: Node<'_, '_>, name: &str) -> R<T> {
        let c = self.req_child(node, name)?;
        let t = text_of(c);
        t.trim()
            .parse()
            .map_err(|_| self.invalid(c, format!("{:?} is not a valid {name}", t.trim())))
    }

    fn num<T: std::str::FromStr + Default>(&mut self, node: Node<'_, '_>, name: &str) -> R<T> {
        match child(node, name) {
            Some(c) => {
                let t = text_of(c);
                let t = t.trim();
                if t.is_empty() {
                    return Ok(T::default());
                }
                t.parse()
                    .map_err(|_| self.invalid(c, format!("{t:?} is not a valid number")))
            }
            None => {
                self.quirks.push(Quirk::MissingElement {
                    element: format!("{}/{name}", path_of(node)),
                });
                Ok(T::default())
            }
        }
    }

    fn boolean(&mut self, node: Node<'_, '_>, name: &str) -> R<bool> {
        match child(node, name) {
            Some(c) => parse_bool(&text_of(c)).ok_or_else(|| self.invalid(c, "not a boolean")),
            None => {
                self.quirks.push(Quirk::MissingElement {
                    element: format!("{}/{name}", path_of(node)),
                });
                Ok(false)
            }
        }
    }

    fn date_time(&mut self, node: Node<'_, '_>, name: &str) -> R<DateTime> {
        match child(node, name) {
            Some(c) => {
                let t = text_of(c);
                if t.trim().is_empty() {
                    return Ok(DateTime::UNKNOWN);
                }
                DateTime::parse(&t)
                    .ok_or_else(|| self.invalid(c, format!("{:?} is not a dateTime", t.trim())))
            }
            None => {
                self.quirks.push(Quirk::MissingElement {
                    element: format!("{}/{name}", path_of(node)),
                });
                Ok(DateTime::UNKNOWN)
            }
        }
    }

    /// The members of an array element, checking `soap-enc:arrayType` (ENV-09).
    fn array<'n, 'i>(&mut self, node: Node<'n, 'i>, name: &str) -> Vec<Node<'n, 'i>> {
        let Some(arr) = child(node, name) else {
            self.quirks.push(Quirk::MissingElement {
                element: format!("{}/{name}", path_of(node)),
            });
            return Vec::new();
        };
        let members: Vec<Node<'n, 'i>> = elements(arr).collect();
        match arr
            .attribute((namespace::SOAP_ENC, "arrayType"))
            .or_else(|| {
                arr.attributes()
                    .find(|a| a.name() == "arrayType")
                    .map(|a| a.value())
            }) {
            Some(t) => {
                let declared = t
                    .rsplit_once('[')
                    .and_then(|(_, n)| n.trim_end_matches(']').trim().parse::<usize>().ok());
                if let Some(declared) = declared
                    && declared != members.len()
                {
                    self.quirks.push(Quirk::ArrayCountMismatch {
                        element: name.to_owned(),
                        declared,
                        actual: members.len(),
                    });
                }
            }
            None => self.quirks.push(Quirk::MissingArrayType {
                element: name.to_owned(),
            }),
        }
        members
    }

    fn strings(&mut self, node: Node<'_, '_>, name: &str) -> Vec<String> {
        self.array(node, name)
            .into_iter()
            .map(|n| text_of(n).trim().to_owned())
            .collect()
    }

    fn value(&mut self, node: Node<'_, '_>, param: &str) -> Value {
        let text = text_of(node).into_owned();
        let ty = node
            .attribute((namespace::XSI, "type"))
            .or_else(|| node.attribute((namespace::XSI_1999, "type")))
            .or_else(|| {
                node.attributes()
                    .find(|a| a.name() == "type")
                    .map(|a| a.value())
            });
        let kind = match ty {
            None => {
                self.quirks.push(Quirk::MissingXsiType {
                    parameter: param.to_owned(),
                });
                ValueType::String
            }
            Some(t) => {
                let t = t.trim();
                let (prefix, local) = t.split_once(':').map_or((None, t), |(p, l)| (Some(p), l));
                if node.lookup_namespace_uri(prefix).is_none() && prefix.is_some() {
                    self.quirks.push(Quirk::UnboundTypePrefix {
                        written: t.to_owned(),
                    });
                }
                if local.is_empty() {
                    ValueType::String
                } else {
                    ValueType::from_xsd_name(local)
                }
            }
        };
        Value { kind, text }
    }

    fn parameter_values(&mut self, node: Node<'_, '_>) -> R<Vec<ParameterValue>> {
        let members = self.array(node, "ParameterList");
        let mut out = Vec::with_capacity(members.len());
        for m in members {
            let name = self.req_text(m, "Name")?;
            let value = match child(m, "Value") {
                Some(v) => self.value(v, &name),
                None => {
                    self.quirks.push(Quirk::MissingElement {
                        element: format!("{name}/Value"),
                    });
                    Value::default()
                }
            };
            out.push(ParameterValue { name, value });
        }
        Ok(out)
    }

    fn transfer_fault(&mut self, node: Node<'_, '_>) -> R<TransferFault> {
        match child(node, "FaultStruct") {
            Some(f) => Ok(TransferFault {
                code: FaultCode(self.num(f, "FaultCode")?),
                string: self.opt_text(f, "FaultString"),
            }),
            None => {
                self.quirks.push(Quirk::MissingElement {
                    element: format!("{}/FaultStruct", path_of(node)),
                });
                Ok(TransferFault::default())
            }
        }
    }

    fn opt_child_text(&self, node: Node<'_, '_>, name: &str) -> Option<String> {
        child(node, name).map(|c| text_of(c).into_owned())
    }

    fn du_result(&mut self, r: Node<'_, '_>) -> R<DuOperationResult> {
        let fault = match child(r, "Fault") {
            Some(f) => DuFault {
                code: FaultCode(self.num(f, "FaultCode")?),
                string: self.opt_child_text(f, "FaultString"),
            },
            None => DuFault::default(),
        };
        Ok(DuOperationResult {
            uuid: self.text(r, "UUID"),
            deployment_unit_ref: self.text(r, "DeploymentUnitRef"),
            version: self.text(r, "Version"),
            current_state: self.text(r, "CurrentState"),
            resolved: self.boolean(r, "Resolved")?,
            execution_unit_ref_list: self.text(r, "ExecutionUnitRefList"),
            start_time: self.date_time(r, "StartTime")?,
            complete_time: self.date_time(r, "CompleteTime")?,
            fault,
            operation_performed: self.opt_child_text(r, "OperationPerformed"),
        })
    }

    // ----- the body -----

    fn body(&mut self, n: Node<'_, '_>) -> R<Body> {
        Ok(match n.tag_name().name() {
            "GetRPCMethods" => Body::GetRPCMethods,
            "GetRPCMethodsResponse" => Body::GetRPCMethodsResponse(GetRpcMethodsResponse {
                method_list: self.strings(n, "MethodList"),
            }),
            "SetParameterValues" => Body::SetParameterValues(SetParameterValues {
                parameter_list: self.parameter_values(n)?,
                parameter_key: self.text(n, "ParameterKey"),
            }),
            "SetParameterValuesResponse" => {
                Body::SetParameterValuesResponse(SetParameterValuesResponse {
                    status: self.num(n, "Status")?,
                })
            }
            "GetParameterValues" => Body::GetParameterValues(GetParameterValues {
                parameter_names: self.strings(n, "ParameterNames"),
            }),
            "GetParameterValuesResponse" => {
                Body::GetParameterValuesResponse(GetParameterValuesResponse {
                    parameter_list: self.parameter_values(n)?,
                })
            }
            "GetParameterNames" => Body::GetParameterNames(GetParameterNames {
                parameter_path: self.text(n, "ParameterPath").trim().to_owned(),
                next_level: self.boolean(n, "NextLevel")?,
            }),
            "GetParameterNamesResponse" => {
                let mut list = Vec::new();
                for m in self.array(n, "ParameterList") {
                    list.push(ParameterInfo {
                        name: self.req_text(m, "Name")?,
                        writable: self.boolean(m, "Writable")?,
                    });
                }
                Body::GetParameterNamesResponse(GetParameterNamesResponse {
                    parameter_list: list,
                })
            }
            "SetParameterAttributes" => {
                let mut list = Vec::new();
                for m in self.array(n, "ParameterList") {
                    list.push(SetParameterAttributesStruct {
                        name: self.req_text(m, "Name")?,
                        notification_change: self.boolean(m, "NotificationChange")?,
                        notification: self.num(m, "Notification")?,
                        access_list_change: self.boolean(m, "AccessListChange")?,
                        access_list: self.strings(m, "AccessList"),
                    });
                }
                Body::SetParameterAttributes(SetParameterAttributes {
                    parameter_list: list,
                })
            }
            "SetParameterAttributesResponse" => Body::SetParameterAttributesResponse,
            "GetParameterAttributes" => Body::GetParameterAttributes(GetParameterAttributes {
                parameter_names: self.strings(n, "ParameterNames"),
            }),
            "GetParameterAttributesResponse" => {
                let mut list = Vec::new();
                for m in self.array(n, "ParameterList") {
                    list.push(ParameterAttribute {
                        name: self.req_text(m, "Name")?,
                        notification: self.num(m, "Notification")?,
                        access_list: self.strings(m, "AccessList"),
                    });
                }
                Body::GetParameterAttributesResponse(GetParameterAttributesResponse {
                    parameter_list: list,
                })
            }
            "AddObject" => Body::AddObject(AddObject {
                object_name: self.req_text(n, "ObjectName")?,
                parameter_key: self.text(n, "ParameterKey"),
            }),
            "AddObjectResponse" => Body::AddObjectResponse(AddObjectResponse {
                instance_number: self.req_parse(n, "InstanceNumber")?,
                status: self.num(n, "Status")?,
            }),
            "DeleteObject" => Body::DeleteObject(DeleteObject {
                object_name: self.req_text(n, "ObjectName")?,
                parameter_key: self.text(n, "ParameterKey"),
            }),
            "DeleteObjectResponse" => Body::DeleteObjectResponse(DeleteObjectResponse {
                status: self.num(n, "Status")?,
            }),
            "Download" => Body::Download(Download {
                command_key: self.text(n, "CommandKey"),
                file_type: self.text(n, "FileType").trim().to_owned(),
                url: self.req_text(n, "URL")?,
                username: self.text(n, "Username"),
                password: self.text(n, "Password"),
                file_size: self.num(n, "FileSize")?,
                target_file_name: self.text(n, "TargetFileName"),
                delay_seconds: self.num(n, "DelaySeconds")?,
                success_url: self.text(n, "SuccessURL"),
                failure_url: self.text(n, "FailureURL"),
            }),
            "DownloadResponse" => Body::DownloadResponse(self.transfer_response(n)?),
            "Reboot" => Body::Reboot(Reboot {
                command_key: self.text(n, "CommandKey"),
            }),
            "RebootResponse" => Body::RebootResponse,
            "GetQueuedTransfers" => Body::GetQueuedTransfers,
            "GetQueuedTransfersResponse" => {
                let mut list = Vec::new();
                for m in self.array(n, "TransferList") {
                    list.push(QueuedTransfer {
                        command_key: self.text(m, "CommandKey"),
                        state: self.num(m, "State")?,
                    });
                }
                Body::GetQueuedTransfersResponse(GetQueuedTransfersResponse {
                    transfer_list: list,
                })
            }
            "ScheduleInform" => Body::ScheduleInform(ScheduleInform {
                delay_seconds: self.num(n, "DelaySeconds")?,
                command_key: self.text(n, "CommandKey"),
            }),
            "ScheduleInformResponse" => Body::ScheduleInformResponse,
            "SetVouchers" => Body::SetVouchers(SetVouchers {
                voucher_list: self.strings(n, "VoucherList"),
            }),
            "SetVouchersResponse" => Body::SetVouchersResponse,
            "GetOptions" => Body::GetOptions(GetOptions {
                option_name: self.text(n, "OptionName"),
            }),
            "GetOptionsResponse" => {
                let mut list = Vec::new();
                for m in self.array(n, "OptionList") {
                    let expiration_date = match child(m, "ExpirationDate") {
                        Some(_) => Some(self.date_time(m, "ExpirationDate")?),
                        None => None,
                    };
                    list.push(OptionInfo {
                        option_name: self.text(m, "OptionName"),
                        voucher_sn: self.num(m, "VoucherSN")?,
                        state: self.num(m, "State")?,
                        mode: self.num(m, "Mode")?,
                        start_date: self.date_time(m, "StartDate")?,
                        expiration_date,
                        is_transferable: self.num(m, "IsTransferable")?,
                    });
                }
                Body::GetOptionsResponse(GetOptionsResponse { option_list: list })
            }
            "Upload" => Body::Upload(Upload {
                command_key: self.text(n, "CommandKey"),
                file_type: self.text(n, "FileType").trim().to_owned(),
                url: self.req_text(n, "URL")?,
                username: self.text(n, "Username"),
                password: self.text(n, "Password"),
                delay_seconds: self.num(n, "DelaySeconds")?,
            }),
            "UploadResponse" => Body::UploadResponse(self.transfer_response(n)?),
            "FactoryReset" => Body::FactoryReset,
            "FactoryResetResponse" => Body::FactoryResetResponse,
            "GetAllQueuedTransfers" => Body::GetAllQueuedTransfers,
            "GetAllQueuedTransfersResponse" => {
                let mut list = Vec::new();
                for m in self.array(n, "TransferList") {
                    list.push(AllQueuedTransfer {
                        command_key: self.text(m, "CommandKey"),
                        state: self.num(m, "State")?,
                        is_download: self.boolean(m, "IsDownload")?,
                        file_type: self.text(m, "FileType"),
                        file_size: self.num(m, "FileSize")?,
                        target_file_name: self.text(m, "TargetFileName"),
                    });
                }
                Body::GetAllQueuedTransfersResponse(GetAllQueuedTransfersResponse {
                    transfer_list: list,
                })
            }
            "ScheduleDownload" => {
                let mut windows = Vec::new();
                for m in self.array(n, "TimeWindowList") {
                    windows.push(TimeWindow {
                        window_start: self.num(m, "WindowStart")?,
                        window_end: self.num(m, "WindowEnd")?,
                        window_mode: self.text(m, "WindowMode"),
                        user_message: self.text(m, "UserMessage"),
                        max_retries: self.num(m, "MaxRetries")?,
                    });
                }
                Body::ScheduleDownload(ScheduleDownload {
                    command_key: self.text(n, "CommandKey"),
                    file_type: self.text(n, "FileType").trim().to_owned(),
                    url: self.req_text(n, "URL")?,
                    username: self.text(n, "Username"),
                    password: self.text(n, "Password"),
                    file_size: self.num(n, "FileSize")?,
                    target_file_name: self.text(n, "TargetFileName"),
                    time_window_list: windows,
                })
            }
            "ScheduleDownloadResponse" => Body::ScheduleDownloadResponse,
            "CancelTransfer" => Body::CancelTransfer(CancelTransfer {
                command_key: self.text(n, "CommandKey"),
            }),
            "CancelTransferResponse" => Body::CancelTransferResponse,
            "ChangeDUState" => {
                let mut ops = Vec::new();
                for op in elements(n).filter(|c| c.tag_name().name() == "Operations") {
                    ops.push(self.du_operation(op)?);
                }
                Body::ChangeDUState(ChangeDuState {
                    operations: ops,
                    command_key: self.opt_child_text(n, "CommandKey"),
                })
            }
            "ChangeDUStateResponse" => Body::ChangeDUStateResponse,
            "Inform" => Body::Inform(self.inform(n)?),
            "InformResponse" => Body::InformResponse(InformResponse {
                max_envelopes: self.num(n, "MaxEnvelopes")?,
            }),
            "TransferComplete" => Body::TransferComplete(TransferComplete {
                command_key: self.text(n, "CommandKey"),
                fault: self.transfer_fault(n)?,
                start_time: self.date_time(n, "StartTime")?,
                complete_time: self.date_time(n, "CompleteTime")?,
            }),
            "TransferCompleteResponse" => Body::TransferCompleteResponse,
            "AutonomousTransferComplete" => {
                Body::AutonomousTransferComplete(AutonomousTransferComplete {
                    announce_url: self.text(n, "AnnounceURL"),
                    transfer_url: self.text(n, "TransferURL"),
                    is_download: self.boolean(n, "IsDownload")?,
                    file_type: self.text(n, "FileType"),
                    file_size: self.num(n, "FileSize")?,
                    target_file_name: self.text(n, "TargetFileName"),
                    fault: self.transfer_fault(n)?,
                    start_time: self.date_time(n, "StartTime")?,
                    complete_time: self.date_time(n, "CompleteTime")?,
                })
            }
            "AutonomousTransferCompleteResponse" => Body::AutonomousTransferCompleteResponse,
            "Kicked" => Body::Kicked(Kicked {
                command: self.text(n, "Command"),
                referer: self.text(n, "Referer"),
                arg: self.text(n, "Arg"),
                next: self.text(n, "Next"),
            }),
            "KickedResponse" => Body::KickedResponse(KickedResponse {
                next_url: self.text(n, "NextURL"),
            }),
            "RequestDownload" => {
                let mut args = Vec::new();
                for m in self.array(n, "FileTypeArg") {
                    args.push(FileTypeArg {
                        name: self.text(m, "Name"),
                        value: self.text(m, "Value"),
                    });
                }
                Body::RequestDownload(RequestDownload {
                    file_type: self.text(n, "FileType"),
                    file_type_arg: args,
                })
            }
            "RequestDownloadResponse" => Body::RequestDownloadResponse,
            "DUStateChangeComplete" => {
                let mut results = Vec::new();
                for r in elements(n).filter(|c| c.tag_name().name() == "Results") {
                    results.push(self.du_result(r)?);
                }
                Body::DUStateChangeComplete(DuStateChangeComplete {
                    results,
                    command_key: self.opt_child_text(n, "CommandKey"),
                })
            }
            "DUStateChangeCompleteResponse" => Body::DUStateChangeCompleteResponse,
            "AutonomousDUStateChangeComplete" => {
                let mut results = Vec::new();
                for r in elements(n).filter(|c| c.tag_name().name() == "Results") {
                    results.push(self.du_result(r)?);
                }
                Body::AutonomousDUStateChangeComplete(AutonomousDuStateChangeComplete { results })
            }
            "AutonomousDUStateChangeCompleteResponse" => {
                Body::AutonomousDUStateChangeCompleteResponse
            }
            other => Body::Unknown {
                name: other.to_owned(),
            },
        })
    }

    fn transfer_response(&mut self, n: Node<'_, '_>) -> R<TransferResponse> {
        Ok(TransferResponse {
            status: self.num(n, "Status")?,
            start_time: self.date_time(n, "StartTime")?,
            complete_time: self.date_time(n, "CompleteTime")?,
        })
    }

    fn du_operation(&mut self, op: Node<'_, '_>) -> R<DuOperation> {
        let ty = op
            .attribute((namespace::XSI, "type"))
            .or_else(|| {
                op.attributes()
                    .find(|a| a.name() == "type")
                    .map(|a| a.value())
            })
            .unwrap_or("");
        let local = ty.rsplit(':').next().unwrap_or("");
        let o = |s: &Self, name: &str| s.opt_child_text(op, name);
        Ok(match local {
            "InstallOpStruct" => DuOperation::Install {
                url: self.req_text(op, "URL")?,
                uuid: o(self, "UUID"),
                username: o(self, "Username"),
                password: o(self, "Password"),
                execution_env_ref: o(self, "ExecutionEnvRef"),
            },
            "UpdateOpStruct" => DuOperation::Update {
                uuid: o(self, "UUID"),
                version: o(self, "Version"),
                url: o(self, "URL"),
                username: o(self, "Username"),
                password: o(self, "Password"),
            },
            "UninstallOpStruct" => DuOperation::Uninstall {
                uuid: self.req_text(op, "UUID")?,
                version: o(self, "Version"),
                execution_env_ref: o(self, "ExecutionEnvRef"),
            },
            other => return Err(self.invalid(op, format!("unknown operation type {other:?}"))),
        })
    }

    fn inform(&mut self, n: Node<'_, '_>) -> R<Inform> {
        let d = self.req_child(n, "DeviceId")?;
        let device_id = DeviceId {
            manufacturer: self.text(d, "Manufacturer"),
            oui: self.req_text(d, "OUI")?,
            product_class: self.text(d, "ProductClass"),
            serial_number: self.req_text(d, "SerialNumber")?,
        };
        if !device_id.oui_is_valid() {
            self.quirks.push(Quirk::NonStandardOui {
                oui: device_id.oui.clone(),
            });
        }
        let mut events = Vec::new();
        for e in self.array(n, "Event") {
            events.push(Event {
                code: EventCode::parse(&self.req_text(e, "EventCode")?),
                command_key: self.opt_text(e, "CommandKey"),
            });
        }
        Ok(Inform {
            device_id,
            events,
            max_envelopes: self.num(n, "MaxEnvelopes")?,
            current_time: self.date_time(n, "CurrentTime")?,
            retry_count: self.num(n, "RetryCount")?,
            parameter_list: self.parameter_values(n)?,
        })
    }
}

fn child<'a, 'i>(node: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    node.children()
        .find(|c| c.is_element() && c.tag_name().name() == name)
}

/// The text of an element: its text and CDATA children joined.
fn text_of<'a>(node: Node<'a, '_>) -> std::borrow::Cow<'a, str> {
    let mut texts = node.children().filter(Node::is_text);
    match (texts.next(), texts.next()) {
        (None, _) => std::borrow::Cow::Borrowed(""),
        (Some(t), None) => std::borrow::Cow::Borrowed(t.text().unwrap_or("")),
        (Some(a), Some(b)) => {
            let mut s = String::from(a.text().unwrap_or(""));
            s.push_str(b.text().unwrap_or(""));
            for t in texts {
                s.push_str(t.text().unwrap_or(""));
            }
            std::borrow::Cow::Owned(s)
        }
    }
}

fn path_of(node: Node<'_, '_>) -> String {
    let mut parts: Vec<&str> = node
        .ancestors()
        .filter(Node::is_element)
        .map(|n| n.tag_name().name())
        .take_while(|n| *n != "Body" && *n != "Envelope")
        .collect();
    parts.reverse();
    parts.join("/")
}
