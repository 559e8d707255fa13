//! One truth for the settings the CLI and the ACS share (H3C-04).
//!
//! Owns [`ConfigMappingHandler`], a data-model [`Handler`] registered on the TR-181 parameters
//! that mirror `cwmp` CLI settings, and the table [`MAPPED`] that pairs them. The running
//! configuration ([`Running`]) holds the values; the data model holds none of them:
//!
//! * a GET answers from the running configuration (`ManagementServer.URL`, `.Username` and
//!   `.Password` answer the *effective* values after the priorities of §8.3, so a URL learned
//!   from DHCP reads back as the URL in use);
//! * an ACS SetParameterValues is turned into the CLI line that says the same
//!   (`cwmp acs url ...`, `undo cwmp acs url` for an empty string) and parsed by the CLI's own
//!   grammar, so the ACS meets exactly the CLI's ranges (e.g. an inform interval of 10-86400,
//!   provisioning codes of upper-case letters, digits and dots), then applied with
//!   [`Setter::Acs`]: saved before the SPV is acknowledged, and `display cwmp configuration`
//!   shows it;
//! * passwords never reach `datamodel.json`: they live only as `cipher` text in `running.cfg`.
//!
//! Must not touch: the CLI socket, host data.

use std::sync::Arc;

use tether_cli::{Command, CwmpConfig, CwmpModel, Session, View};
use tether_datamodel::{DataModelError, Handler, SetOutcome, Value};

use crate::acs::Setter;
use crate::running::Running;

/// The mapped pairs: data-model parameter, CLI command that sets it.
pub const MAPPED: &[(&str, &str)] = &[
    ("Device.ManagementServer.URL", "cwmp acs url"),
    ("Device.ManagementServer.Username", "cwmp acs username"),
    ("Device.ManagementServer.Password", "cwmp acs password"),
    (
        "Device.ManagementServer.ConnectionRequestUsername",
        "cwmp cpe username",
    ),
    (
        "Device.ManagementServer.ConnectionRequestPassword",
        "cwmp cpe password",
    ),
    (
        "Device.ManagementServer.PeriodicInformEnable",
        "cwmp cpe inform interval enable",
    ),
    (
        "Device.ManagementServer.PeriodicInformInterval",
        "cwmp cpe inform interval",
    ),
    ("Device.ManagementServer.STUNEnable", "cwmp cpe stun enable"),
    (
        "Device.DeviceInfo.ProvisioningCode",
        "cwmp cpe provision-code",
    ),
];

/// The data-model side of the CLI ↔ TR-069 mapping (see the module docs). Register it with
/// [`ConfigMappingHandler::register`].
pub struct ConfigMappingHandler {
    running: Arc<Running>,
    clock: fn() -> i64,
}

impl ConfigMappingHandler {
    /// A handler over `running`; `clock` gives Unix seconds for the provenance records.
    pub fn new(running: Arc<Running>, clock: fn() -> i64) -> ConfigMappingHandler {
        ConfigMappingHandler { running, clock }
    }

    /// Registers one shared handler on every parameter of [`MAPPED`].
    pub fn register(self, model: &mut tether_datamodel::DataModel) {
        let handler: Arc<dyn Handler> = Arc::new(self);
        for (path, _) in MAPPED {
            model.register_handler(path, Arc::clone(&handler));
        }
    }

    fn reveal(&self, password: Option<&tether_cli::Password>) -> String {
        password
            .and_then(|p| p.reveal(self.running.key().as_bytes()).ok())
            .unwrap_or_default()
    }

    /// The command an ACS write of `value` to `path` amounts to, parsed by the CLI grammar.
    fn command_for(&self, path: &str, value: &Value) -> Result<Command, DataModelError> {
        let invalid = |reason: String| DataModelError::InvalidValue {
            name: path.to_owned(),
            reason,
        };
        let Some((_, cli)) = MAPPED.iter().find(|(p, _)| *p == path) else {
            return Err(DataModelError::InvalidName(path.to_owned()));
        };
        let line = match value {
            Value::Boolean(true) => (*cli).to_owned(),
            Value::Boolean(false) => format!("undo {cli}"),
            Value::UnsignedInt(n) => format!("{cli} {n}"),
            Value::String(s) if s.is_empty() => format!("undo {cli}"),
            Value::String(s) => {
                let word = quote(s).ok_or_else(|| {
                    invalid("a double quote cannot be expressed in the configuration".into())
                })?;
                if cli.ends_with("password") {
                    format!("{cli} simple {word}")
                } else {
                    format!("{cli} {word}")
                }
            }
            other => return Err(invalid(format!("unexpected type {}", other.xsi_type()))),
        };
        let mut session = Session::new("acs", self.running.key().as_bytes());
        session.set_view(View::Cwmp(CwmpModel::Tr181));
        session.parse(&line).map_err(|e| {
            let reason = match e.kind {
                tether_cli::ErrorKind::WrongParameter => "out of range or malformed".to_owned(),
                _ => e.kind.message().trim_start_matches("% ").to_owned(),
            };
            invalid(reason)
        })
    }
}

/// The value as one CLI word: quoted when it holds spaces or ends in `?`; `None` when it
/// holds a `"` (the CLI has no escape character).
fn quote(value: &str) -> Option<String> {
    if value.contains('"') {
        None
    } else if value.contains(char::is_whitespace) || value.ends_with('?') {
        Some(format!("\"{value}\""))
    } else {
        Some(value.to_owned())
    }
}

fn string(s: Option<&str>) -> Value {
    Value::string(s.unwrap_or_default())
}

impl Handler for ConfigMappingHandler {
    fn get(&self, path: &str) -> Option<Value> {
        let leaf = path.rsplit('.').next().unwrap_or_default();
        self.running.with(|config, selection| {
            let cwmp: &CwmpConfig = &config.cwmp;
            let effective = || selection.effective(cwmp);
            Some(match leaf {
                "URL" => string(effective().as_ref().map(|e| e.url.as_str())),
                "Username" => string(effective().and_then(|e| e.username).as_deref()),
                "Password" => {
                    Value::string(self.reveal(effective().and_then(|e| e.password).as_ref()))
                }
                "ConnectionRequestUsername" => string(cwmp.cpe_username.as_deref()),
                "ConnectionRequestPassword" => {
                    Value::string(self.reveal(cwmp.cpe_password.as_ref()))
                }
                "PeriodicInformEnable" => Value::Boolean(cwmp.periodic_inform),
                "PeriodicInformInterval" => Value::UnsignedInt(cwmp.inform_interval),
                "STUNEnable" => Value::Boolean(cwmp.stun),
                "ProvisioningCode" => Value::string(cwmp.provision_code.as_str()),
                _ => return None,
            })
        })
    }

    fn validate(&self, path: &str, value: &Value) -> Result<(), DataModelError> {
        self.command_for(path, value).map(|_| ())
    }

    fn set(&self, path: &str, value: &Value) -> Result<SetOutcome, DataModelError> {
        let command = self.command_for(path, value)?;
        self.running
            .apply(&command, Setter::Acs, (self.clock)())
            .map_err(|e| DataModelError::Internal(e.to_string()))?;
        Ok(SetOutcome::Applied)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_follows_the_cli_lexer() {
        assert_eq!(quote("abc").as_deref(), Some("abc"));
        assert_eq!(quote("field tech").as_deref(), Some("\"field tech\""));
        assert_eq!(quote("why?").as_deref(), Some("\"why?\""));
        assert_eq!(quote("a\"b"), None);
    }
}
