//! The typed, validated payloads of tasks: what an operator may ask a device to do.
//!
//! A [`TaskSpec`] arrives as JSON (`{"kind": "Reboot", "command_key": "fw"}`), is checked by
//! [`TaskSpec::validate`] against the limits of the CWMP schema, and is stored as the task's
//! kind string and JSON payload. The ACS session driver reads it back with
//! [`TaskSpec::from_stored`] and turns it into an RPC with [`TaskSpec::to_rpc`]. Validation
//! ends by encoding that RPC with `tether-cwmp`, so anything the codec would refuse is refused
//! here, before the store sees it.
//!
//! This module owns the payload vocabulary only; it does no I/O.

use serde::{Deserialize, Serialize};
use tether_cwmp::rpc::{
    AddObject, DeleteObject, Download, GetParameterAttributes, GetParameterNames,
    GetParameterValues, Reboot, ScheduleInform, SetParameterAttributes,
    SetParameterAttributesStruct, SetParameterValues, Upload,
};
use tether_cwmp::{Body, CwmpNamespace, Envelope, ParameterValue, Value, ValueType};

/// Most names one GetParameterValues / GetParameterAttributes task may list, and most values
/// or attributes one Set task may carry. The schema sets no bound; one RPC has to fit in a
/// request body, so we do.
pub const MAX_ITEMS: usize = 1000;
/// Longest parameter or object name (schema: 256 characters).
pub const MAX_NAME: usize = 256;
/// Longest CommandKey / ParameterKey (schema: 32 characters).
pub const MAX_KEY: usize = 32;
/// Longest URL, username, password or target file name of a transfer (schema: 256).
pub const MAX_TRANSFER_FIELD: usize = 256;
/// Longest value of SetParameterValues. The schema leaves `anySimpleType` unbounded; TR-106
/// strings are at most 65535 characters in practice.
pub const MAX_VALUE: usize = 65_535;

/// Something a device is asked to do. The `kind` tag names the CWMP RPC (or `ChangeAcs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", deny_unknown_fields)]
pub enum TaskSpec {
    GetParameterNames {
        /// A partial path ending in `.` or a full parameter name; empty means the root.
        path: String,
        #[serde(default)]
        next_level: bool,
    },
    GetParameterValues {
        names: Vec<String>,
    },
    SetParameterValues {
        values: Vec<SetValue>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        parameter_key: Option<String>,
    },
    GetParameterAttributes {
        names: Vec<String>,
    },
    SetParameterAttributes {
        attributes: Vec<SetAttribute>,
    },
    AddObject {
        /// Object path ending in `.`.
        object: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        parameter_key: Option<String>,
    },
    DeleteObject {
        /// Instance path ending in `.`.
        object: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        parameter_key: Option<String>,
    },
    Reboot {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        command_key: Option<String>,
    },
    FactoryReset,
    ScheduleInform {
        /// Seconds from now; must be positive.
        delay_seconds: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        command_key: Option<String>,
    },
    Download {
        /// `1 Firmware Upgrade Image`, `3 Vendor Configuration File`, `X <OUI> <name>`, ...
        file_type: String,
        url: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        username: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        password: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        file_size: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target_file_name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        delay_seconds: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        command_key: Option<String>,
    },
    Upload {
        /// `1 Vendor Configuration File`, `2 Vendor Log File`, ...
        file_type: String,
        url: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        username: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        password: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        delay_seconds: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        command_key: Option<String>,
    },
    /// Point the device at another ACS: SetParameterValues of `<root>.ManagementServer.URL`
    /// (and its Username / Password when given).
    ChangeAcs {
        url: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        username: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        password: Option<String>,
    },
}

/// One value of a SetParameterValues task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetValue {
    pub name: String,
    /// The value as text (`"1"`, `"true"`, `"example.net"`).
    pub value: String,
    /// The XML Schema type (`"string"`, `"unsignedInt"`, `"boolean"`, `"dateTime"`, ... with
    /// or without the `xsd:` prefix). Default `string`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub value_type: Option<String>,
}

/// One entry of a SetParameterAttributes task. Fields left out are not changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetAttribute {
    pub name: String,
    /// 0 off, 1 passive, 2 active (3-6 as defined by TR-069 Amendment 6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification: Option<i32>,
    /// Only `"Subscriber"` is defined.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_list: Option<Vec<String>>,
}

/// Why a task spec was refused: which field, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct TaskSpecError {
    pub field: String,
    pub message: String,
}

fn err<T>(field: impl Into<String>, message: impl Into<String>) -> Result<T, TaskSpecError> {
    Err(TaskSpecError {
        field: field.into(),
        message: message.into(),
    })
}

/// The data model root used when none is known (validation; devices that reported nothing).
pub const DEFAULT_ROOT: &str = "Device.";

impl TaskSpec {
    /// Every kind, as stored.
    pub const KINDS: [&'static str; 13] = [
        "GetParameterNames",
        "GetParameterValues",
        "SetParameterValues",
        "GetParameterAttributes",
        "SetParameterAttributes",
        "AddObject",
        "DeleteObject",
        "Reboot",
        "FactoryReset",
        "ScheduleInform",
        "Download",
        "Upload",
        "ChangeAcs",
    ];

    /// The kind string stored with the task.
    pub fn kind(&self) -> &'static str {
        match self {
            TaskSpec::GetParameterNames { .. } => "GetParameterNames",
            TaskSpec::GetParameterValues { .. } => "GetParameterValues",
            TaskSpec::SetParameterValues { .. } => "SetParameterValues",
            TaskSpec::GetParameterAttributes { .. } => "GetParameterAttributes",
            TaskSpec::SetParameterAttributes { .. } => "SetParameterAttributes",
            TaskSpec::AddObject { .. } => "AddObject",
            TaskSpec::DeleteObject { .. } => "DeleteObject",
            TaskSpec::Reboot { .. } => "Reboot",
            TaskSpec::FactoryReset => "FactoryReset",
            TaskSpec::ScheduleInform { .. } => "ScheduleInform",
            TaskSpec::Download { .. } => "Download",
            TaskSpec::Upload { .. } => "Upload",
            TaskSpec::ChangeAcs { .. } => "ChangeAcs",
        }
    }

    /// Whether running the task twice does no harm, so a task interrupted by a crash may be
    /// requeued. Reads and absolute writes are; reboots, resets, transfers, object creation
    /// and ACS changes are not.
    pub fn is_idempotent(&self) -> bool {
        is_idempotent_kind(self.kind())
    }

    /// The kinds that crash recovery may put back to pending.
    pub fn requeue_kinds() -> Vec<String> {
        Self::KINDS
            .iter()
            .filter(|k| is_idempotent_kind(k))
            .map(|k| (*k).to_owned())
            .collect()
    }

    /// The spec as stored: its JSON (with the `kind` tag).
    pub fn to_payload(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// Reads a stored payload back.
    pub fn from_stored(payload: &serde_json::Value) -> Result<Self, TaskSpecError> {
        serde_json::from_value(payload.clone()).or_else(|e| err("payload", e.to_string()))
    }

    /// Checks every field against the CWMP schema's limits, then encodes the RPC as a last
    /// check. `Ok` means the ACS can send it.
    pub fn validate(&self) -> Result<(), TaskSpecError> {
        match self {
            TaskSpec::GetParameterNames { path, .. } => {
                name("path", path, true)?;
            }
            TaskSpec::GetParameterValues { names } | TaskSpec::GetParameterAttributes { names } => {
                items("names", names.len())?;
                for (i, n) in names.iter().enumerate() {
                    name(&format!("names[{i}]"), n, true)?;
                }
            }
            TaskSpec::SetParameterValues {
                values,
                parameter_key,
            } => {
                items("values", values.len())?;
                if values.is_empty() {
                    return err("values", "at least one value is required");
                }
                for (i, v) in values.iter().enumerate() {
                    let field = format!("values[{i}]");
                    name(&format!("{field}.name"), &v.name, false)?;
                    if v.name.ends_with('.') {
                        return err(
                            format!("{field}.name"),
                            "must be a parameter, not an object",
                        );
                    }
                    text(&format!("{field}.value"), &v.value, MAX_VALUE)?;
                    let ty = value_type(&field, v.value_type.as_deref())?;
                    if !ty.accepts(&v.value) {
                        return err(
                            format!("{field}.value"),
                            format!("{:?} is not a valid {ty}", v.value),
                        );
                    }
                }
                let mut seen = std::collections::HashSet::new();
                for v in values {
                    if !seen.insert(v.name.as_str()) {
                        return err("values", format!("{} is set twice", v.name));
                    }
                }
                key("parameter_key", parameter_key)?;
            }
            TaskSpec::SetParameterAttributes { attributes } => {
                items("attributes", attributes.len())?;
                if attributes.is_empty() {
                    return err("attributes", "at least one entry is required");
                }
                for (i, a) in attributes.iter().enumerate() {
                    let field = format!("attributes[{i}]");
                    name(&format!("{field}.name"), &a.name, true)?;
                    if a.notification.is_none() && a.access_list.is_none() {
                        return err(field, "give notification, access_list or both");
                    }
                    if let Some(n) = a.notification
                        && !(0..=6).contains(&n)
                    {
                        return err(format!("{field}.notification"), "must be 0 to 6");
                    }
                    if let Some(list) = &a.access_list
                        && list.iter().any(|e| e != "Subscriber")
                    {
                        return err(
                            format!("{field}.access_list"),
                            "only \"Subscriber\" is defined",
                        );
                    }
                }
            }
            TaskSpec::AddObject {
                object,
                parameter_key,
            }
            | TaskSpec::DeleteObject {
                object,
                parameter_key,
            } => {
                name("object", object, false)?;
                if !object.ends_with('.') {
                    return err("object", "an object path must end with \".\"");
                }
                key("parameter_key", parameter_key)?;
            }
            TaskSpec::Reboot { command_key } => key("command_key", command_key)?,
            TaskSpec::FactoryReset => {}
            TaskSpec::ScheduleInform {
                delay_seconds,
                command_key,
            } => {
                if *delay_seconds == 0 {
                    return err("delay_seconds", "must be positive");
                }
                key("command_key", command_key)?;
            }
            TaskSpec::Download {
                file_type,
                url,
                username,
                password,
                target_file_name,
                command_key,
                ..
            } => {
                transfer_url("url", url)?;
                opt_text("username", username, MAX_TRANSFER_FIELD)?;
                opt_text("password", password, MAX_TRANSFER_FIELD)?;
                opt_text("target_file_name", target_file_name, MAX_TRANSFER_FIELD)?;
                key("command_key", command_key)?;
                file_type_check(file_type)?;
            }
            TaskSpec::Upload {
                file_type,
                url,
                username,
                password,
                command_key,
                ..
            } => {
                transfer_url("url", url)?;
                opt_text("username", username, MAX_TRANSFER_FIELD)?;
                opt_text("password", password, MAX_TRANSFER_FIELD)?;
                key("command_key", command_key)?;
                file_type_check(file_type)?;
            }
            TaskSpec::ChangeAcs {
                url,
                username,
                password,
            } => {
                transfer_url("url", url)?;
                opt_text("username", username, MAX_TRANSFER_FIELD)?;
                opt_text("password", password, MAX_TRANSFER_FIELD)?;
            }
        }
        let envelope = Envelope::new(
            CwmpNamespace::V1_0,
            Some("validate".into()),
            self.to_rpc(DEFAULT_ROOT),
        );
        tether_cwmp::encode(&envelope)
            .map(drop)
            .or_else(|e| err(self.kind(), format!("not encodable: {e}")))
    }

    /// The RPC to send. `root` is the device's data model root (`Device.` or
    /// `InternetGatewayDevice.`); only `ChangeAcs` uses it.
    pub fn to_rpc(&self, root: &str) -> Body {
        let s = |o: &Option<String>| o.clone().unwrap_or_default();
        match self {
            TaskSpec::GetParameterNames { path, next_level } => {
                Body::GetParameterNames(GetParameterNames {
                    parameter_path: path.clone(),
                    next_level: *next_level,
                })
            }
            TaskSpec::GetParameterValues { names } => {
                Body::GetParameterValues(GetParameterValues {
                    parameter_names: names.clone(),
                })
            }
            TaskSpec::SetParameterValues {
                values,
                parameter_key,
            } => Body::SetParameterValues(SetParameterValues {
                parameter_list: values
                    .iter()
                    .map(|v| ParameterValue {
                        name: v.name.clone(),
                        value: Value {
                            kind: parse_type(v.value_type.as_deref()),
                            text: v.value.clone(),
                        },
                    })
                    .collect(),
                parameter_key: s(parameter_key),
            }),
            TaskSpec::GetParameterAttributes { names } => {
                Body::GetParameterAttributes(GetParameterAttributes {
                    parameter_names: names.clone(),
                })
            }
            TaskSpec::SetParameterAttributes { attributes } => {
                Body::SetParameterAttributes(SetParameterAttributes {
                    parameter_list: attributes
                        .iter()
                        .map(|a| SetParameterAttributesStruct {
                            name: a.name.clone(),
                            notification_change: a.notification.is_some(),
                            notification: a.notification.unwrap_or(0),
                            access_list_change: a.access_list.is_some(),
                            access_list: a.access_list.clone().unwrap_or_default(),
                        })
                        .collect(),
                })
            }
            TaskSpec::AddObject {
                object,
                parameter_key,
            } => Body::AddObject(AddObject {
                object_name: object.clone(),
                parameter_key: s(parameter_key),
            }),
            TaskSpec::DeleteObject {
                object,
                parameter_key,
            } => Body::DeleteObject(DeleteObject {
                object_name: object.clone(),
                parameter_key: s(parameter_key),
            }),
            TaskSpec::Reboot { command_key } => Body::Reboot(Reboot {
                command_key: s(command_key),
            }),
            TaskSpec::FactoryReset => Body::FactoryReset,
            TaskSpec::ScheduleInform {
                delay_seconds,
                command_key,
            } => Body::ScheduleInform(ScheduleInform {
                delay_seconds: *delay_seconds,
                command_key: s(command_key),
            }),
            TaskSpec::Download {
                file_type,
                url,
                username,
                password,
                file_size,
                target_file_name,
                delay_seconds,
                command_key,
            } => Body::Download(Download {
                command_key: s(command_key),
                file_type: file_type.clone(),
                url: url.clone(),
                username: s(username),
                password: s(password),
                file_size: file_size.unwrap_or(0),
                target_file_name: s(target_file_name),
                delay_seconds: delay_seconds.unwrap_or(0),
                ..Download::default()
            }),
            TaskSpec::Upload {
                file_type,
                url,
                username,
                password,
                delay_seconds,
                command_key,
            } => Body::Upload(Upload {
                command_key: s(command_key),
                file_type: file_type.clone(),
                url: url.clone(),
                username: s(username),
                password: s(password),
                delay_seconds: delay_seconds.unwrap_or(0),
            }),
            TaskSpec::ChangeAcs {
                url,
                username,
                password,
            } => {
                let base = format!("{root}ManagementServer.");
                let mut list = vec![ParameterValue {
                    name: format!("{base}URL"),
                    value: Value::string(url.clone()),
                }];
                if let Some(u) = username {
                    list.push(ParameterValue {
                        name: format!("{base}Username"),
                        value: Value::string(u.clone()),
                    });
                }
                if let Some(p) = password {
                    list.push(ParameterValue {
                        name: format!("{base}Password"),
                        value: Value::string(p.clone()),
                    });
                }
                Body::SetParameterValues(SetParameterValues {
                    parameter_list: list,
                    parameter_key: String::new(),
                })
            }
        }
    }
}

/// Whether a stored kind is safe to run twice (see [`TaskSpec::is_idempotent`]).
pub fn is_idempotent_kind(kind: &str) -> bool {
    matches!(
        kind,
        "GetParameterNames"
            | "GetParameterValues"
            | "GetParameterAttributes"
            | "SetParameterValues"
            | "SetParameterAttributes"
    )
}

fn parse_type(t: Option<&str>) -> ValueType {
    match t {
        None => ValueType::String,
        Some(t) => {
            let local = t.rsplit_once(':').map_or(t, |(_, local)| local);
            ValueType::from_xsd_name(local)
        }
    }
}

fn value_type(field: &str, t: Option<&str>) -> Result<ValueType, TaskSpecError> {
    if let Some(raw) = t
        && let Some((prefix, _)) = raw.split_once(':')
        && prefix != "xsd"
    {
        return err(
            format!("{field}.type"),
            format!("{raw:?}: only the xsd: prefix is allowed"),
        );
    }
    match parse_type(t) {
        ValueType::Other(name) => err(
            format!("{field}.type"),
            format!(
                "{name:?} is not a CWMP value type (string, int, unsignedInt, long, unsignedLong, boolean, dateTime, base64, hexBinary, decimal)"
            ),
        ),
        ty => Ok(ty),
    }
}

fn items(field: &str, n: usize) -> Result<(), TaskSpecError> {
    if n > MAX_ITEMS {
        return err(field, format!("at most {MAX_ITEMS} entries"));
    }
    Ok(())
}

fn text(field: &str, value: &str, max: usize) -> Result<(), TaskSpecError> {
    let len = value.chars().count();
    if len > max {
        return err(field, format!("at most {max} characters (got {len})"));
    }
    if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    {
        return err(field, "contains control characters");
    }
    Ok(())
}

fn opt_text(field: &str, value: &Option<String>, max: usize) -> Result<(), TaskSpecError> {
    value.as_deref().map_or(Ok(()), |v| text(field, v, max))
}

fn key(field: &str, value: &Option<String>) -> Result<(), TaskSpecError> {
    opt_text(field, value, MAX_KEY)
}

/// A parameter or object name: dotted segments of letters, digits, `_` and `-` (instance
/// numbers and vendor `X_` prefixes included); `allow_empty` for the root / partial paths.
fn name(field: &str, value: &str, allow_empty: bool) -> Result<(), TaskSpecError> {
    if value.is_empty() {
        return if allow_empty {
            Ok(())
        } else {
            err(field, "must not be empty")
        };
    }
    text(field, value, MAX_NAME)?;
    let body = value.strip_suffix('.').unwrap_or(value);
    let ok = !body.is_empty()
        && body.split('.').all(|seg| {
            !seg.is_empty()
                && seg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        });
    if !ok {
        return err(
            field,
            format!("{value:?} is not a parameter path (dotted names of letters, digits, _ and -)"),
        );
    }
    Ok(())
}

fn transfer_url(field: &str, url: &str) -> Result<(), TaskSpecError> {
    text(field, url, MAX_TRANSFER_FIELD)?;
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    let Some(rest) = rest else {
        return err(field, "must be an http:// or https:// URL");
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.is_empty() || authority.contains(char::is_whitespace) {
        return err(field, "has no host");
    }
    if authority.contains('@') {
        return err(
            field,
            "must not carry credentials; use username and password",
        );
    }
    Ok(())
}

fn file_type_check(file_type: &str) -> Result<(), TaskSpecError> {
    text("file_type", file_type, 64)?;
    // The exact pattern is checked by the encoder at the end of `validate`; a short message
    // here keeps the error readable.
    let (head, rest) = file_type.split_once(' ').unwrap_or((file_type, ""));
    let numbered = head.starts_with(|c: char| ('1'..='9').contains(&c))
        && head.bytes().all(|b| b.is_ascii_digit());
    if !(numbered || head == "X") || rest.trim().is_empty() {
        return err(
            "file_type",
            format!("{file_type:?} is not a file type such as \"1 Firmware Upgrade Image\""),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(v: serde_json::Value) -> Result<TaskSpec, String> {
        let s: TaskSpec = serde_json::from_value(v).map_err(|e| e.to_string())?;
        s.validate().map_err(|e| e.to_string())?;
        Ok(s)
    }

    #[test]
    fn valid_specs_round_trip_through_the_stored_form() {
        for v in [
            json!({"kind": "GetParameterNames", "path": "Device.", "next_level": true}),
            json!({"kind": "GetParameterValues", "names": ["Device.DeviceInfo.SoftwareVersion"]}),
            json!({"kind": "SetParameterValues", "values": [{"name": "Device.X_1.Enable", "value": "1", "type": "xsd:boolean"}], "parameter_key": "k"}),
            json!({"kind": "SetParameterAttributes", "attributes": [{"name": "Device.A.", "notification": 2}]}),
            json!({"kind": "AddObject", "object": "Device.NAT.PortMapping."}),
            json!({"kind": "DeleteObject", "object": "Device.NAT.PortMapping.3."}),
            json!({"kind": "Reboot"}),
            json!({"kind": "FactoryReset"}),
            json!({"kind": "ScheduleInform", "delay_seconds": 5}),
            json!({"kind": "Download", "file_type": "1 Firmware Upgrade Image", "url": "https://fw.example.net/a.bin", "file_size": 10}),
            json!({"kind": "Upload", "file_type": "1 Vendor Configuration File", "url": "http://up.example.net/"}),
            json!({"kind": "ChangeAcs", "url": "https://acs2.example.net/cwmp", "username": "u"}),
        ] {
            let s = spec(v.clone()).unwrap_or_else(|e| panic!("{v}: {e}"));
            assert_eq!(TaskSpec::from_stored(&s.to_payload()).unwrap(), s);
        }
    }

    #[test]
    fn invalid_specs_are_refused() {
        for v in [
            json!({"kind": "Nope"}),
            json!({"kind": "Reboot", "extra": 1}),
            json!({"kind": "Reboot", "command_key": "x".repeat(33)}),
            json!({"kind": "ScheduleInform", "delay_seconds": 0}),
            json!({"kind": "ScheduleInform", "delay_seconds": -1}),
            json!({"kind": "GetParameterValues", "names": ["Device..X"]}),
            json!({"kind": "GetParameterValues", "names": ["a".repeat(257)]}),
            json!({"kind": "SetParameterValues", "values": []}),
            json!({"kind": "SetParameterValues", "values": [{"name": "Device.A", "value": "x", "type": "unsignedInt"}]}),
            json!({"kind": "SetParameterValues", "values": [{"name": "Device.A", "value": "x", "type": "float128"}]}),
            json!({"kind": "AddObject", "object": "Device.NAT.PortMapping"}),
            json!({"kind": "Download", "file_type": "firmware", "url": "https://x/"}),
            json!({"kind": "Download", "file_type": "1 Firmware Upgrade Image", "url": "ftp://x/"}),
            json!({"kind": "Download", "file_type": "1 Firmware Upgrade Image", "url": "https://u:p@x/"}),
            json!({"kind": "ChangeAcs", "url": "not a url"}),
        ] {
            assert!(spec(v.clone()).is_err(), "{v} was accepted");
        }
    }

    #[test]
    fn change_acs_becomes_set_parameter_values_under_the_root() {
        let s = TaskSpec::ChangeAcs {
            url: "https://acs2/".into(),
            username: Some("u".into()),
            password: None,
        };
        let Body::SetParameterValues(spv) = s.to_rpc("InternetGatewayDevice.") else {
            panic!("not SPV");
        };
        let names: Vec<_> = spv.parameter_list.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "InternetGatewayDevice.ManagementServer.URL",
                "InternetGatewayDevice.ManagementServer.Username"
            ]
        );
    }

    #[test]
    fn idempotency_policy() {
        assert!(TaskSpec::GetParameterValues { names: vec![] }.is_idempotent());
        assert!(!TaskSpec::FactoryReset.is_idempotent());
        assert!(
            !TaskSpec::AddObject {
                object: "A.".into(),
                parameter_key: None
            }
            .is_idempotent()
        );
        let requeue = TaskSpec::requeue_kinds();
        assert!(requeue.contains(&"SetParameterValues".to_owned()));
        assert!(!requeue.contains(&"Reboot".to_owned()));
        assert!(!requeue.contains(&"ChangeAcs".to_owned()));
    }
}
