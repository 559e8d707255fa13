//! Which ACS the agent talks to, and with which credentials: the priorities of §8.3.
//!
//! Owns [`AcsSelection`]: per ACS attribute (URL, username, password) who set the preferred
//! value last (the CLI or the ACS) and when, the values DHCP option 43 offered, and the
//! computation of the effective URL, credentials and "ACS information source" of
//! `display cwmp status`.
//!
//! The rules (H3C-01, H3C-02):
//!
//! * The preferred value of each attribute lives in the running configuration
//!   (`cwmp acs url|username|password`). The CLI and the ACS (SetParameterValues on
//!   `ManagementServer.URL|Username|Password`) both write that one slot, so whichever wrote
//!   last wins; `undo` (or the ACS writing an empty string) clears it.
//! * Per attribute, a preferred value beats the DHCP value; DHCP is used only where no
//!   preferred value exists.
//! * The URL falls back to `cwmp acs default url` only when neither a preferred nor a DHCP URL
//!   exists, and the default username / password go with the default URL only.
//!
//! Must not touch: I/O or the clock (times arrive as arguments), the data model.

use serde::{Deserialize, Serialize};
use tether_cli::display::AcsSource;
use tether_cli::{Command, CwmpConfig, Password};

/// Who assigned a preferred ACS attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Setter {
    /// The local CLI (`tether cli`).
    Cli,
    /// The ACS, through SetParameterValues on `Device.ManagementServer.`.
    Acs,
}

/// The ACS attributes whose origin is tracked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AcsAttribute {
    /// `cwmp acs url` / `ManagementServer.URL`.
    Url,
    /// `cwmp acs username` / `ManagementServer.Username`.
    Username,
    /// `cwmp acs password` / `ManagementServer.Password`.
    Password,
}

impl AcsAttribute {
    /// The attribute a configuration command assigns, if any.
    pub fn of_command(command: &Command) -> Option<AcsAttribute> {
        match command {
            Command::CwmpAcsUrl(_) => Some(AcsAttribute::Url),
            Command::CwmpAcsUsername(_) => Some(AcsAttribute::Username),
            Command::CwmpAcsPassword(_) => Some(AcsAttribute::Password),
            _ => None,
        }
    }
}

/// Who last assigned an attribute, and when (Unix seconds, from the caller's clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    /// CLI or ACS.
    pub setter: Setter,
    /// When.
    pub at_unix: i64,
}

/// What DHCP option 43 offered (already decoded by the CWMP driver with `tether_cwmp::dhcp`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DhcpAcs {
    /// Sub-option 1 (or the H3C "URL user pass" form's URL).
    pub url: Option<String>,
    /// H3C form only.
    pub username: Option<String>,
    /// H3C form only, kept encrypted under the device key.
    pub password: Option<Password>,
    /// When the lease was read.
    pub at_unix: i64,
}

/// The ACS the agent should use now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectiveAcs {
    /// The URL to connect to.
    pub url: String,
    /// The username for HTTP authentication, if any.
    pub username: Option<String>,
    /// The password (encrypted under the device key; `reveal` it to authenticate).
    pub password: Option<Password>,
    /// Where the URL came from, as `display cwmp status` names it.
    pub source: AcsSource,
}

/// Origin tracking and priority computation for the ACS attributes (see the module docs).
/// Serialised into `agent.json`, except the DHCP values, which the driver learns again from
/// the lease at every start.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcsSelection {
    #[serde(default)]
    url: Option<Provenance>,
    #[serde(default)]
    username: Option<Provenance>,
    #[serde(default)]
    password: Option<Provenance>,
    #[serde(skip)]
    dhcp: Option<DhcpAcs>,
}

impl AcsSelection {
    /// Nothing assigned, no DHCP values.
    pub fn new() -> AcsSelection {
        AcsSelection::default()
    }

    /// Records that `command` (already applied to the running configuration, which holds the
    /// value) was issued by `setter` at `at_unix`. Returns the attribute it assigned, if any.
    pub fn note(
        &mut self,
        command: &Command,
        setter: Setter,
        at_unix: i64,
    ) -> Option<AcsAttribute> {
        let attribute = AcsAttribute::of_command(command)?;
        *self.slot(attribute) = Some(Provenance { setter, at_unix });
        Some(attribute)
    }

    fn slot(&mut self, attribute: AcsAttribute) -> &mut Option<Provenance> {
        match attribute {
            AcsAttribute::Url => &mut self.url,
            AcsAttribute::Username => &mut self.username,
            AcsAttribute::Password => &mut self.password,
        }
    }

    /// Who last assigned `attribute` and when; `None` if nobody has since the first boot.
    pub fn provenance(&self, attribute: AcsAttribute) -> Option<Provenance> {
        match attribute {
            AcsAttribute::Url => self.url,
            AcsAttribute::Username => self.username,
            AcsAttribute::Password => self.password,
        }
    }

    /// Replaces the DHCP-offered values (`None`: no lease, or no option 43 in it). Returns
    /// `true` if the offered URL changed.
    pub fn set_dhcp(&mut self, dhcp: Option<DhcpAcs>) -> bool {
        let old = self.dhcp.as_ref().and_then(|d| d.url.clone());
        let new = dhcp.as_ref().and_then(|d| d.url.clone());
        self.dhcp = dhcp;
        old != new
    }

    /// The DHCP-offered values.
    pub fn dhcp(&self) -> Option<&DhcpAcs> {
        self.dhcp.as_ref()
    }

    /// The URL and credentials to use under `config` (H3C-01/H3C-02), or `None` when no source
    /// names an ACS.
    pub fn effective(&self, config: &CwmpConfig) -> Option<EffectiveAcs> {
        let dhcp = self.dhcp.as_ref();
        let preferred_or_dhcp = |source: AcsSource, url: String| EffectiveAcs {
            url,
            username: config
                .acs_username
                .clone()
                .or_else(|| dhcp.and_then(|d| d.username.clone())),
            password: config
                .acs_password
                .clone()
                .or_else(|| dhcp.and_then(|d| d.password.clone())),
            source,
        };
        if let Some(url) = non_empty(&config.acs_url) {
            return Some(preferred_or_dhcp(AcsSource::User, url));
        }
        if let Some(url) = dhcp.and_then(|d| non_empty(&d.url)) {
            return Some(preferred_or_dhcp(AcsSource::Dhcp, url));
        }
        non_empty(&config.acs_default_url).map(|url| EffectiveAcs {
            url,
            username: config.acs_default_username.clone(),
            password: config.acs_default_password.clone(),
            source: AcsSource::Default,
        })
    }
}

fn non_empty(value: &Option<String>) -> Option<String> {
    value.clone().filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provenance_follows_the_last_acs_attribute_command() {
        let mut sel = AcsSelection::new();
        let cmd = Command::CwmpAcsUrl(Some("http://a/acs".into()));
        assert_eq!(sel.note(&cmd, Setter::Cli, 10), Some(AcsAttribute::Url));
        assert_eq!(sel.note(&Command::CwmpEnable(true), Setter::Cli, 11), None);
        sel.note(&cmd, Setter::Acs, 12);
        assert_eq!(
            sel.provenance(AcsAttribute::Url),
            Some(Provenance {
                setter: Setter::Acs,
                at_unix: 12
            })
        );
        assert_eq!(sel.provenance(AcsAttribute::Username), None);
    }

    #[test]
    fn dhcp_values_are_not_serialised() {
        let mut sel = AcsSelection::new();
        sel.set_dhcp(Some(DhcpAcs {
            url: Some("http://dhcp/acs".into()),
            ..DhcpAcs::default()
        }));
        let json = serde_json::to_string(&sel).unwrap();
        assert!(!json.contains("dhcp"), "{json}");
    }
}
