//! The configuration the CLI edits, with the defaults of §8.1 and §8.4.
//!
//! Owns: [`CwmpConfig`], [`CloudConfig`], the static host table and [`RunningConfig`] that
//! holds them; what each [`Command`] does to them ([`RunningConfig::apply`]); and the command
//! lines that recreate them (`to_commands`), used by `display current-configuration` and for
//! persistence. Invariant, tested: config → `to_commands` → parse → `apply` gives the same
//! config back.
//!
//! Must not touch: where the values come from besides the CLI (DHCP, the ACS, the cloud): the
//! agent merges those by the priority rules of §8.3 and `CLD-01`.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use crate::command::{BackupServer, Command, Interface};
use crate::datetime::DateTime;
use crate::password::Password;

/// Default provisioning code. The English H3C guide says `PROVISIONINGCODE`, the Chinese command
/// reference `PROVISIONCODE`; we follow the English guide.
pub const DEFAULT_PROVISION_CODE: &str = "PROVISIONINGCODE";
/// Default `cwmp cpe inform interval`, seconds.
pub const DEFAULT_INFORM_INTERVAL: u32 = 600;
/// Default `cwmp cpe wait timeout`, seconds.
pub const DEFAULT_WAIT_TIMEOUT: u32 = 30;
/// Default `cloud-management server port`.
pub const DEFAULT_CLOUD_PORT: u16 = 443;
/// Default `cloud-management keepalive`, seconds.
pub const DEFAULT_CLOUD_KEEPALIVE: u32 = 180;
/// Most backup servers kept (our bound; the sources give none).
pub const MAX_BACKUP_SERVERS: usize = 8;
/// Most `ip host` entries kept (our bound).
pub const MAX_IP_HOSTS: usize = 1024;

/// What [`RunningConfig::apply`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The configuration changed.
    Changed,
    /// The command was configuration but changed nothing (e.g. setting the current value).
    Unchanged,
    /// The command was refused; the text is for the operator.
    Refused(&'static str),
    /// The command is not configuration (navigation, display, reset, unbinding code).
    NotConfig,
}

fn set<T: PartialEq>(slot: &mut T, value: T) -> Applied {
    if *slot == value {
        Applied::Unchanged
    } else {
        *slot = value;
        Applied::Changed
    }
}

/// The CWMP view's settings (§8.1). `Default` gives the documented defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CwmpConfig {
    /// `cwmp enable`; default disabled.
    pub enabled: bool,
    /// `cwmp acs url`.
    pub acs_url: Option<String>,
    /// `cwmp acs username`.
    pub acs_username: Option<String>,
    /// `cwmp acs password`.
    pub acs_password: Option<Password>,
    /// `cwmp acs default url`.
    pub acs_default_url: Option<String>,
    /// `cwmp acs default username`.
    pub acs_default_username: Option<String>,
    /// `cwmp acs default password`.
    pub acs_default_password: Option<Password>,
    /// `cwmp cpe username` (ConnectionRequestUsername).
    pub cpe_username: Option<String>,
    /// `cwmp cpe password` (ConnectionRequestPassword).
    pub cpe_password: Option<Password>,
    /// `cwmp cpe inform interval enable` (PeriodicInformEnable); default disabled.
    pub periodic_inform: bool,
    /// `cwmp cpe inform interval` (PeriodicInformInterval), 10-86400; default 600.
    pub inform_interval: u32,
    /// `cwmp cpe inform time`: one scheduled Inform.
    pub inform_time: Option<DateTime>,
    /// `cwmp cpe connect retry`, 0-100; `None` = unlimited (the default).
    pub connect_retry: Option<u8>,
    /// `cwmp cpe wait timeout`, 30-1800; default 30.
    pub wait_timeout: u32,
    /// `cwmp cpe provision-code`; default [`DEFAULT_PROVISION_CODE`].
    pub provision_code: String,
    /// `cwmp cpe connect interface`.
    pub connect_interface: Option<Interface>,
    /// `cwmp cpe stun enable`; default disabled.
    pub stun: bool,
    /// `ssl client-policy`.
    pub ssl_client_policy: Option<String>,
}

impl Default for CwmpConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            acs_url: None,
            acs_username: None,
            acs_password: None,
            acs_default_url: None,
            acs_default_username: None,
            acs_default_password: None,
            cpe_username: None,
            cpe_password: None,
            periodic_inform: false,
            inform_interval: DEFAULT_INFORM_INTERVAL,
            inform_time: None,
            connect_retry: None,
            wait_timeout: DEFAULT_WAIT_TIMEOUT,
            provision_code: DEFAULT_PROVISION_CODE.into(),
            connect_interface: None,
            stun: false,
            ssl_client_policy: None,
        }
    }
}

impl CwmpConfig {
    /// Applies a CWMP-view command; anything else is [`Applied::NotConfig`].
    pub fn apply(&mut self, command: &Command) -> Applied {
        match command.clone() {
            Command::CwmpEnable(on) => set(&mut self.enabled, on),
            Command::CwmpAcsUrl(v) => set(&mut self.acs_url, v),
            Command::CwmpAcsUsername(v) => set(&mut self.acs_username, v),
            Command::CwmpAcsPassword(v) => set(&mut self.acs_password, v),
            Command::CwmpAcsDefaultUrl(v) => set(&mut self.acs_default_url, v),
            Command::CwmpAcsDefaultUsername(v) => set(&mut self.acs_default_username, v),
            Command::CwmpAcsDefaultPassword(v) => set(&mut self.acs_default_password, v),
            Command::CwmpCpeUsername(v) => set(&mut self.cpe_username, v),
            Command::CwmpCpePassword(v) => set(&mut self.cpe_password, v),
            Command::CwmpCpeInformIntervalEnable(on) => set(&mut self.periodic_inform, on),
            Command::CwmpCpeInformInterval(v) => set(
                &mut self.inform_interval,
                v.unwrap_or(DEFAULT_INFORM_INTERVAL),
            ),
            Command::CwmpCpeInformTime(v) => set(&mut self.inform_time, v),
            Command::CwmpCpeConnectRetry(v) => set(&mut self.connect_retry, v),
            Command::CwmpCpeWaitTimeout(v) => {
                set(&mut self.wait_timeout, v.unwrap_or(DEFAULT_WAIT_TIMEOUT))
            }
            Command::CwmpCpeProvisionCode(v) => set(
                &mut self.provision_code,
                v.unwrap_or_else(|| DEFAULT_PROVISION_CODE.into()),
            ),
            Command::CwmpCpeConnectInterface(v) => set(&mut self.connect_interface, v),
            Command::CwmpCpeStunEnable(on) => set(&mut self.stun, on),
            Command::SslClientPolicy(v) => set(&mut self.ssl_client_policy, v),
            _ => Applied::NotConfig,
        }
    }

    /// True when every setting is at its default (then `cwmp` is not shown in the
    /// configuration at all).
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }

    /// The CWMP-view lines (without the enclosing `cwmp`) that recreate this configuration
    /// from the defaults, in Comware's order; passwords as `cipher`.
    pub fn to_commands(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.enabled {
            out.push("cwmp enable".to_string());
        }
        let mut push = |name: &str, value: &Option<String>| {
            if let Some(v) = value {
                out.push(format!("{name} {}", quote(v)));
            }
        };
        push("cwmp acs url", &self.acs_url);
        push("cwmp acs username", &self.acs_username);
        push(
            "cwmp acs password cipher",
            &self.acs_password.as_ref().map(|p| p.cipher().to_string()),
        );
        push("cwmp acs default url", &self.acs_default_url);
        push("cwmp acs default username", &self.acs_default_username);
        push(
            "cwmp acs default password cipher",
            &self
                .acs_default_password
                .as_ref()
                .map(|p| p.cipher().to_string()),
        );
        push("cwmp cpe username", &self.cpe_username);
        push(
            "cwmp cpe password cipher",
            &self.cpe_password.as_ref().map(|p| p.cipher().to_string()),
        );
        if self.periodic_inform {
            out.push("cwmp cpe inform interval enable".into());
        }
        if self.inform_interval != DEFAULT_INFORM_INTERVAL {
            out.push(format!("cwmp cpe inform interval {}", self.inform_interval));
        }
        if let Some(t) = self.inform_time {
            out.push(format!("cwmp cpe inform time {t}"));
        }
        if let Some(n) = self.connect_retry {
            out.push(format!("cwmp cpe connect retry {n}"));
        }
        if self.wait_timeout != DEFAULT_WAIT_TIMEOUT {
            out.push(format!("cwmp cpe wait timeout {}", self.wait_timeout));
        }
        if self.provision_code != DEFAULT_PROVISION_CODE {
            out.push(format!("cwmp cpe provision-code {}", self.provision_code));
        }
        if let Some(i) = &self.connect_interface {
            out.push(format!(
                "cwmp cpe connect interface {} {}",
                i.kind, i.number
            ));
        }
        if self.stun {
            out.push("cwmp cpe stun enable".into());
        }
        if let Some(p) = &self.ssl_client_policy {
            out.push(format!("ssl client-policy {}", quote(p)));
        }
        out
    }
}

/// Quotes a value that would not read back as one word (a space or a trailing `?`), so that
/// the line parses back to the same value. (A value starting with `"` cannot be written: the
/// CLI has no escape character, so it cannot be typed either.)
fn quote(value: &str) -> String {
    if value.is_empty() || value.contains(char::is_whitespace) || value.ends_with('?') {
        format!("\"{value}\"")
    } else {
        value.to_string()
    }
}

/// The cloud connection's settings (§8.4) and the static host table. `Default` gives the
/// documented defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudConfig {
    /// `cloud-management server domain`.
    pub server_domain: Option<String>,
    /// `cloud-management server port`; default 443.
    pub server_port: u16,
    /// `cloud-management server password`.
    pub server_password: Option<Password>,
    /// `cloud-management keepalive`, 10-3600 seconds; default 180.
    pub keepalive: u32,
    /// `cloud-management backup-server domain NAME [port P]`, in the order added, at most
    /// [`MAX_BACKUP_SERVERS`]. Identity is the domain (case-insensitive) and the port.
    pub backup_servers: Vec<BackupServer>,
    /// `ip host NAME IP`, keyed by the lower-cased name; at most [`MAX_IP_HOSTS`].
    pub ip_hosts: BTreeMap<String, Ipv4Addr>,
}

impl Default for CloudConfig {
    fn default() -> Self {
        Self {
            server_domain: None,
            server_port: DEFAULT_CLOUD_PORT,
            server_password: None,
            keepalive: DEFAULT_CLOUD_KEEPALIVE,
            backup_servers: Vec::new(),
            ip_hosts: BTreeMap::new(),
        }
    }
}

impl CloudConfig {
    /// Applies a cloud-management or `ip host` command; anything else is
    /// [`Applied::NotConfig`].
    pub fn apply(&mut self, command: &Command) -> Applied {
        match command.clone() {
            Command::CloudServerDomain(v) => set(&mut self.server_domain, v),
            Command::CloudServerPort(v) => {
                set(&mut self.server_port, v.unwrap_or(DEFAULT_CLOUD_PORT))
            }
            Command::CloudServerPassword(v) => set(&mut self.server_password, v),
            Command::CloudKeepalive(v) => {
                set(&mut self.keepalive, v.unwrap_or(DEFAULT_CLOUD_KEEPALIVE))
            }
            Command::CloudBackupServerAdd(server) => {
                let same = |b: &BackupServer| {
                    b.domain.eq_ignore_ascii_case(&server.domain) && b.port == server.port
                };
                if self.backup_servers.iter().any(same) {
                    Applied::Unchanged
                } else if self.backup_servers.len() >= MAX_BACKUP_SERVERS {
                    Applied::Refused("The number of backup servers reached the upper limit.")
                } else {
                    self.backup_servers.push(server);
                    Applied::Changed
                }
            }
            Command::CloudBackupServerRemove { domain, port } => {
                let before = self.backup_servers.len();
                self.backup_servers.retain(|b| match &domain {
                    None => false,
                    Some(d) => {
                        !(b.domain.eq_ignore_ascii_case(d) && (port.is_none() || b.port == port))
                    }
                });
                if self.backup_servers.len() == before {
                    Applied::Unchanged
                } else {
                    Applied::Changed
                }
            }
            Command::IpHost { name, ip } => {
                let key = name.to_ascii_lowercase();
                if !self.ip_hosts.contains_key(&key) && self.ip_hosts.len() >= MAX_IP_HOSTS {
                    return Applied::Refused("The number of host entries reached the upper limit.");
                }
                match self.ip_hosts.insert(key, ip) {
                    Some(old) if old == ip => Applied::Unchanged,
                    _ => Applied::Changed,
                }
            }
            Command::UndoIpHost { name, ip } => {
                let key = name.to_ascii_lowercase();
                match (self.ip_hosts.get(&key), ip) {
                    (Some(have), Some(want)) if *have != want => Applied::Unchanged,
                    (Some(_), _) => {
                        self.ip_hosts.remove(&key);
                        Applied::Changed
                    }
                    (None, _) => Applied::Unchanged,
                }
            }
            _ => Applied::NotConfig,
        }
    }

    /// The system-view lines that recreate this configuration from the defaults.
    pub fn to_commands(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (name, ip) in &self.ip_hosts {
            out.push(format!("ip host {name} {ip}"));
        }
        if let Some(d) = &self.server_domain {
            out.push(format!("cloud-management server domain {d}"));
        }
        if self.server_port != DEFAULT_CLOUD_PORT {
            out.push(format!("cloud-management server port {}", self.server_port));
        }
        if let Some(p) = &self.server_password {
            out.push(format!(
                "cloud-management server password cipher {}",
                p.cipher()
            ));
        }
        if self.keepalive != DEFAULT_CLOUD_KEEPALIVE {
            out.push(format!("cloud-management keepalive {}", self.keepalive));
        }
        for b in &self.backup_servers {
            match b.port {
                Some(p) => out.push(format!(
                    "cloud-management backup-server domain {} port {p}",
                    b.domain
                )),
                None => out.push(format!(
                    "cloud-management backup-server domain {}",
                    b.domain
                )),
            }
        }
        out
    }
}

/// The whole configuration this CLI edits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunningConfig {
    /// The CWMP view.
    pub cwmp: CwmpConfig,
    /// Cloud management and the host table (system view).
    pub cloud: CloudConfig,
}

impl RunningConfig {
    /// Applies any command to whichever part it belongs to.
    pub fn apply(&mut self, command: &Command) -> Applied {
        match self.cwmp.apply(command) {
            Applied::NotConfig => self.cloud.apply(command),
            done => done,
        }
    }

    /// The lines to replay from **system view** that recreate this configuration: the
    /// system-view lines, then `cwmp`, the CWMP-view lines and `quit` (the block is left out
    /// when the CWMP settings are all default).
    pub fn to_commands(&self) -> Vec<String> {
        let mut out = self.cloud.to_commands();
        if !self.cwmp.is_default() {
            out.push("cwmp".into());
            out.extend(self.cwmp.to_commands());
            out.push("quit".into());
        }
        out
    }
}
