//! Task specs from the command line: `--json-spec` as given, or built from kind-specific flags
//! for the common kinds (`get --names a,b`, `set NAME=VALUE[:type]...`, `reboot`,
//! `change-acs --url U`, ...).

use serde_json::{Map, Value, json};

use super::client::CtlError;

/// The CWMP kinds the API knows, with the short names `tether ctl` also accepts.
const KINDS: &[(&str, &str)] = &[
    ("get", "GetParameterValues"),
    ("set", "SetParameterValues"),
    ("names", "GetParameterNames"),
    ("get-attributes", "GetParameterAttributes"),
    ("set-attributes", "SetParameterAttributes"),
    ("add-object", "AddObject"),
    ("delete-object", "DeleteObject"),
    ("reboot", "Reboot"),
    ("factory-reset", "FactoryReset"),
    ("schedule-inform", "ScheduleInform"),
    ("download", "Download"),
    ("upload", "Upload"),
    ("change-acs", "ChangeAcs"),
];

/// XML Schema types a `set` value may name after its last `:`.
const XSD_TYPES: &[&str] = &[
    "string",
    "int",
    "unsignedInt",
    "long",
    "unsignedLong",
    "boolean",
    "dateTime",
    "base64",
    "base64Binary",
    "hexBinary",
    "decimal",
    "float",
    "double",
];

/// The API's kind for a name given on the command line (short or CWMP, any case).
pub fn kind_name(kind: &str) -> Result<&'static str, CtlError> {
    KINDS
        .iter()
        .find(|(short, long)| kind.eq_ignore_ascii_case(short) || kind.eq_ignore_ascii_case(long))
        .map(|(_, long)| *long)
        .ok_or_else(|| {
            let known: Vec<&str> = KINDS.iter().map(|(s, _)| *s).collect();
            CtlError::Usage(format!(
                "unknown task kind {kind:?} (one of {}, or the CWMP name)",
                known.join(", ")
            ))
        })
}

/// Flags that feed a spec.
#[derive(Debug, Default, Clone)]
pub struct SpecInput {
    pub kind: String,
    pub json_spec: Option<String>,
    /// `--names a,b` (get, get-attributes) or the path of `names`.
    pub names: Vec<String>,
    /// Positional `NAME=VALUE[:type]` (set) or names (get).
    pub args: Vec<String>,
    pub url: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub object: Option<String>,
    pub parameter_key: Option<String>,
    pub command_key: Option<String>,
    pub next_level: bool,
    pub delay: Option<u32>,
    pub file_type: Option<String>,
}

/// `NAME=VALUE[:type]`: the type only when what follows the last `:` is an XML Schema type,
/// so that values such as URLs keep their colons.
pub fn parse_assignment(arg: &str) -> Result<Value, CtlError> {
    let (name, rest) = arg.split_once('=').ok_or_else(|| {
        CtlError::Usage(format!("{arg:?}: expected NAME=VALUE or NAME=VALUE:TYPE"))
    })?;
    if name.is_empty() {
        return Err(CtlError::Usage(format!("{arg:?}: empty parameter name")));
    }
    let typed = rest.rsplit_once(':').filter(|(_, t)| {
        let bare = t.strip_prefix("xsd:").unwrap_or(t);
        XSD_TYPES.contains(&bare)
    });
    // `value:xsd:boolean` splits at the last colon into ("value:xsd", "boolean").
    let typed = typed.map(|(v, t)| (v.strip_suffix(":xsd").unwrap_or(v), t));
    Ok(match typed {
        Some((value, ty)) => json!({"name": name, "value": value, "type": ty}),
        None => json!({"name": name, "value": rest}),
    })
}

fn split_names(list: &[String]) -> Vec<String> {
    list.iter()
        .flat_map(|s| s.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn need<'a>(value: &'a Option<String>, flag: &str, kind: &str) -> Result<&'a str, CtlError> {
    value
        .as_deref()
        .ok_or_else(|| CtlError::Usage(format!("--kind {kind} needs {flag}")))
}

/// The JSON body of `POST /devices/{id}/tasks`.
pub fn build(input: &SpecInput) -> Result<Value, CtlError> {
    if let Some(raw) = &input.json_spec {
        let mut spec: Value = serde_json::from_str(raw)
            .map_err(|e| CtlError::Usage(format!("--json-spec is not JSON: {e}")))?;
        let obj = spec
            .as_object_mut()
            .ok_or_else(|| CtlError::Usage("--json-spec must be a JSON object".into()))?;
        if !input.kind.is_empty() {
            let kind = kind_name(&input.kind)?;
            match obj.get("kind").and_then(Value::as_str) {
                Some(k) if k != kind => {
                    return Err(CtlError::Usage(format!(
                        "--kind {} contradicts \"kind\": {k:?} in --json-spec",
                        input.kind
                    )));
                }
                _ => {
                    obj.insert("kind".into(), kind.into());
                }
            }
        }
        return Ok(spec);
    }
    let kind = kind_name(&input.kind)?;
    let mut spec = Map::new();
    spec.insert("kind".into(), kind.into());
    let mut put = |key: &str, value: Option<Value>| {
        if let Some(v) = value {
            spec.insert(key.into(), v);
        }
    };
    let s = |v: &Option<String>| v.as_ref().map(|s| Value::from(s.as_str()));
    match kind {
        "GetParameterValues" | "GetParameterAttributes" => {
            let mut names = split_names(&input.names);
            names.extend(split_names(&input.args));
            if names.is_empty() {
                return Err(CtlError::Usage(format!(
                    "--kind {} needs --names NAME[,NAME...]",
                    input.kind
                )));
            }
            put("names", Some(json!(names)));
        }
        "GetParameterNames" => {
            let mut paths = split_names(&input.names);
            paths.extend(split_names(&input.args));
            if paths.len() > 1 {
                return Err(CtlError::Usage("--kind names takes one path".into()));
            }
            put("path", Some(json!(paths.pop().unwrap_or_default())));
            put("next_level", Some(json!(input.next_level)));
        }
        "SetParameterValues" => {
            if input.args.is_empty() {
                return Err(CtlError::Usage(
                    "--kind set needs at least one NAME=VALUE[:type]".into(),
                ));
            }
            let values = input
                .args
                .iter()
                .map(|a| parse_assignment(a))
                .collect::<Result<Vec<_>, _>>()?;
            put("values", Some(Value::Array(values)));
            put("parameter_key", s(&input.parameter_key));
        }
        "AddObject" | "DeleteObject" => {
            let object = need(&input.object, "--object PATH.", &input.kind)?;
            put("object", Some(object.into()));
            put("parameter_key", s(&input.parameter_key));
        }
        "Reboot" => put("command_key", s(&input.command_key)),
        "FactoryReset" => {}
        "ScheduleInform" => {
            let delay = input.delay.ok_or_else(|| {
                CtlError::Usage(format!("--kind {} needs --delay SECS", input.kind))
            })?;
            put("delay_seconds", Some(delay.into()));
            put("command_key", s(&input.command_key));
        }
        "Download" | "Upload" => {
            put(
                "file_type",
                Some(need(&input.file_type, "--file-type", &input.kind)?.into()),
            );
            put("url", Some(need(&input.url, "--url", &input.kind)?.into()));
            put("username", s(&input.username));
            put("password", s(&input.password));
            put("delay_seconds", input.delay.map(Value::from));
            put("command_key", s(&input.command_key));
        }
        "ChangeAcs" => {
            put("url", Some(need(&input.url, "--url", &input.kind)?.into()));
            put("username", s(&input.username));
            put("password", s(&input.password));
        }
        _ => {
            return Err(CtlError::Usage(format!(
                "--kind {} takes its spec from --json-spec '{{...}}'",
                input.kind
            )));
        }
    }
    Ok(Value::Object(spec))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(kind: &str) -> SpecInput {
        SpecInput {
            kind: kind.into(),
            ..SpecInput::default()
        }
    }

    #[test]
    fn short_and_cwmp_kind_names_are_accepted() {
        assert_eq!(kind_name("get").unwrap(), "GetParameterValues");
        assert_eq!(kind_name("Reboot").unwrap(), "Reboot");
        assert_eq!(kind_name("CHANGE-ACS").unwrap(), "ChangeAcs");
        assert!(kind_name("format-disk").is_err());
    }

    #[test]
    fn assignments_take_a_type_only_when_it_is_one() {
        assert_eq!(
            parse_assignment("Device.X.Enable=1:boolean").unwrap(),
            json!({"name": "Device.X.Enable", "value": "1", "type": "boolean"})
        );
        assert_eq!(
            parse_assignment("A=true:xsd:boolean").unwrap(),
            json!({"name": "A", "value": "true", "type": "boolean"})
        );
        assert_eq!(
            parse_assignment("Device.ManagementServer.URL=http://acs:7547/x").unwrap(),
            json!({"name": "Device.ManagementServer.URL", "value": "http://acs:7547/x"})
        );
        assert_eq!(
            parse_assignment("A=").unwrap(),
            json!({"name": "A", "value": ""})
        );
        assert!(parse_assignment("novalue").is_err());
        assert!(parse_assignment("=1").is_err());
    }

    #[test]
    fn common_kinds_are_built_from_flags() {
        let mut get = input("get");
        get.names = vec!["Device.A,Device.B".into()];
        assert_eq!(
            build(&get).unwrap(),
            json!({"kind": "GetParameterValues", "names": ["Device.A", "Device.B"]})
        );
        let mut set = input("set");
        set.args = vec!["Device.A=5:unsignedInt".into()];
        assert_eq!(
            build(&set).unwrap(),
            json!({"kind": "SetParameterValues", "values": [{"name": "Device.A", "value": "5", "type": "unsignedInt"}]})
        );
        assert_eq!(build(&input("reboot")).unwrap(), json!({"kind": "Reboot"}));
        let mut acs = input("change-acs");
        assert!(build(&acs).is_err());
        acs.url = Some("https://acs.example/cwmp".into());
        assert_eq!(
            build(&acs).unwrap(),
            json!({"kind": "ChangeAcs", "url": "https://acs.example/cwmp"})
        );
        assert!(build(&input("get")).is_err());
    }

    #[test]
    fn json_spec_is_sent_as_given_and_must_agree_with_kind() {
        let mut i = input("");
        i.json_spec = Some(r#"{"kind":"FactoryReset"}"#.into());
        assert_eq!(build(&i).unwrap(), json!({"kind": "FactoryReset"}));
        i.kind = "reboot".into();
        assert!(build(&i).is_err());
        i.json_spec = Some(r#"{"command_key":"k"}"#.into());
        assert_eq!(
            build(&i).unwrap(),
            json!({"kind": "Reboot", "command_key": "k"})
        );
        i.json_spec = Some("[1]".into());
        assert!(build(&i).is_err());
    }
}
