//! The agent's typed configuration and where it comes from.
//!
//! Owns [`AgentConfig`] and its sections, their defaults (documented on each field: this is
//! the one place they are written down), and the layering: built-in defaults, then a TOML
//! file, then `TETHER_AGENT_*` environment variables (nested keys with `__`, e.g.
//! `TETHER_AGENT_IDENTITY__SERIAL_NUMBER=ABC123`), then command-line flags, which the binary
//! merges on top of [`AgentConfig::figment`].
//!
//! Not here: the Comware running configuration (`cwmp ...`, `cloud-management ...`), which the
//! operator edits through `tether cli` and which lives in the state directory (`state.rs`).
//!
//! Example file:
//!
//! ```toml
//! state_dir = "/var/lib/tether-agent"
//! sysname = "edge-1"
//!
//! [identity]
//! manufacturer = "Example"
//! manufacturer_oui = "00A0C9"
//! serial_number = "EX123456"
//!
//! [connection_request]
//! port = 7547
//! ```

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use crate::error::AgentError;

/// Prefix of the environment variables read by [`AgentConfig::figment`].
pub const ENV_PREFIX: &str = "TETHER_AGENT_";
/// Default state directory (relative to the working directory).
pub const DEFAULT_STATE_DIR: &str = "./tether-agent-data";
/// File name of the control socket inside the state directory.
pub const CONTROL_SOCKET_NAME: &str = "control.sock";
/// Default connection-request port (TR-069 registered port).
pub const DEFAULT_CONNECTION_REQUEST_PORT: u16 = 7547;

/// Everything `tether agent` can be told before it starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AgentConfig {
    /// Where the agent keeps its state (running configuration, data-model state, device key,
    /// control socket). Created with mode 0700. Default: `./tether-agent-data`.
    pub state_dir: PathBuf,
    /// The Unix socket `tether cli` attaches to. Default: `control.sock` inside `state_dir`.
    pub control_socket: Option<PathBuf>,
    /// The device name shown in CLI prompts (`<Sysname>`). Default: `Tether`.
    pub sysname: String,
    /// The root of the file system the host data model reads (`proc/`, `sys/`, `etc/`).
    /// Default: `/`. Tests and simulators point it at a prepared tree.
    pub host_root: PathBuf,
    /// How the device identifies itself (`Device.DeviceInfo.`).
    pub identity: IdentityConfig,
    /// Where the ACS reaches the agent (connection requests).
    pub connection_request: ConnectionRequestConfig,
    /// A DHCP client lease file holding option 43, for ACS discovery. Default: none (no DHCP
    /// discovery). Read by the CWMP driver.
    pub dhcp_lease_file: Option<PathBuf>,
    /// Command run (through `/bin/sh -c`) for a Reboot RPC or `ScheduleReboot`. Default: none,
    /// meaning the agent restarts its own sessions instead of rebooting the host.
    pub reboot_command: Option<String>,
    /// Command run (through `/bin/sh -c`) to apply a downloaded file, with the file path in
    /// `$TETHER_DOWNLOAD_FILE` and `$1`, the TR-069 file type in `$TETHER_DOWNLOAD_TYPE` and
    /// `$2`, the TargetFileName in `$TETHER_DOWNLOAD_TARGET`; exit status 0 means applied.
    /// Default: none; without a hook the agent cannot apply downloaded files and refuses
    /// Download requests.
    pub download_hook: Option<String>,
    /// Most `tether cli` connections served at once; more are refused. Default: 8.
    pub max_cli_sessions: usize,
    /// The cloud connection (`cloud-management ...`): trust anchors and timers. The server,
    /// port, password, keepalive and backup servers are Comware running configuration.
    pub cloud: CloudClientConfig,
    /// The CWMP client (`cwmp` section): whether it runs and how it trusts an HTTPS ACS. What
    /// it connects to is Comware running configuration (`cwmp acs url ...`).
    pub cwmp: CwmpClientConfig,
}

/// The CWMP client (`cwmp` section). Every field has a default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CwmpClientConfig {
    /// Run the CWMP client at all. Default: `true` (it stays idle until `cwmp enable` and an
    /// ACS URL are configured).
    pub enabled: bool,
    /// PEM file of CA certificates trusted for an `https://` ACS and file servers. Default:
    /// none, meaning the operating system's trust store.
    pub ca_file: Option<PathBuf>,
    /// How often handler-backed parameters with a notification attribute are polled for
    /// value changes, seconds. Default: 5.
    pub value_poll_secs: u64,
}

impl Default for CwmpClientConfig {
    fn default() -> Self {
        CwmpClientConfig {
            enabled: true,
            ca_file: None,
            value_poll_secs: 5,
        }
    }
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            state_dir: PathBuf::from(DEFAULT_STATE_DIR),
            control_socket: None,
            sysname: "Tether".into(),
            host_root: PathBuf::from("/"),
            identity: IdentityConfig::default(),
            connection_request: ConnectionRequestConfig::default(),
            dhcp_lease_file: None,
            reboot_command: None,
            download_hook: None,
            max_cli_sessions: 8,
            cloud: CloudClientConfig::default(),
            cwmp: CwmpClientConfig::default(),
        }
    }
}

/// How the server certificate of the cloud is trusted (protocol §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum CloudTrustMode {
    /// The host's root CA store (`/etc/ssl/certs` and the like), or the bundled Mozilla roots
    /// when the host has none. The default.
    #[default]
    System,
    /// Only the CA certificates of the PEM file `ca_file`.
    CaFile,
    /// A SHA-256 fingerprint of the server's SubjectPublicKeyInfo, one of `pins`; chain and
    /// host name are then not checked, the TLS handshake still is.
    Pin,
}

/// The cloud connection client (`cloud` section). Every field has a default; the server
/// domain, port, password, keepalive and backup servers come from the running configuration
/// (`cloud-management ...`) or DHCP options 253/252.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CloudClientConfig {
    /// Run the cloud connection client at all. Default: `true` (it stays `Idle` until a server
    /// domain is configured).
    pub enabled: bool,
    /// Trust anchors for the server certificate. Default: `system`.
    pub trust: CloudTrustMode,
    /// PEM file of CA certificates for `trust = "ca-file"`. Default: none.
    pub ca_file: Option<PathBuf>,
    /// Up to 4 SHA-256 SPKI fingerprints (64 hex digits, colons allowed, or base64) for
    /// `trust = "pin"`. Default: none.
    pub pins: Vec<String>,
    /// Deadline of each DNS, HTTPS and upgrade step, seconds. Default: 30.
    pub request_timeout_secs: u64,
    /// Ceiling of the first reconnect delay, milliseconds. Default: 2000.
    pub backoff_initial_ms: u64,
    /// Ceiling of every reconnect delay, seconds. Default: 300.
    pub backoff_max_secs: u64,
    /// How often the DHCP lease file (`dhcp_lease_file`) is re-read for options 253/252,
    /// seconds. Default: 10.
    pub dhcp_poll_secs: u64,
    /// WebSocket ping interval on subconnections, seconds. Default: 30.
    pub service_ping_secs: u64,
    /// Read deadline on subconnections, seconds. Default: 75.
    pub service_read_timeout_secs: u64,
    /// Wait before a service asks for a fresh subconnection URL after losing its
    /// subconnection, seconds (the server accepts one request per 5 s). Default: 5.
    pub service_retry_secs: u64,
    /// Local address every cloud connection is opened from (a management interface's
    /// address). Default: none, the kernel chooses.
    pub source_address: Option<std::net::IpAddr>,
}

impl Default for CloudClientConfig {
    fn default() -> Self {
        CloudClientConfig {
            enabled: true,
            trust: CloudTrustMode::System,
            ca_file: None,
            pins: Vec::new(),
            request_timeout_secs: 30,
            backoff_initial_ms: 2000,
            backoff_max_secs: 300,
            dhcp_poll_secs: 10,
            service_ping_secs: 30,
            service_read_timeout_secs: 75,
            service_retry_secs: 5,
            source_address: None,
        }
    }
}

/// Identity values served under `Device.DeviceInfo.` (and used in the Inform's DeviceId).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct IdentityConfig {
    /// `Manufacturer`. Default: `Tether`.
    pub manufacturer: String,
    /// `ManufacturerOUI`, six upper-case hex digits. Default: `000000` (set your own).
    pub manufacturer_oui: String,
    /// `ModelName`. Default: `tether-agent`.
    pub model_name: String,
    /// `ProductClass`. Default: `tether-agent`.
    pub product_class: String,
    /// `SerialNumber`. Default: derived from the host's `/etc/machine-id` (16 upper-case hex
    /// digits of a SHA-256 over it, so the machine id itself is not disclosed); `TETHER` plus
    /// the host name's digest if there is no machine id.
    pub serial_number: Option<String>,
    /// `HardwareVersion`. Default: the CPU architecture the agent was built for
    /// (`x86_64`, `aarch64`, ...).
    pub hardware_version: Option<String>,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        IdentityConfig {
            manufacturer: "Tether".into(),
            manufacturer_oui: "000000".into(),
            model_name: "tether-agent".into(),
            product_class: "tether-agent".into(),
            serial_number: None,
            hardware_version: None,
        }
    }
}

/// The connection-request listener (TR-069 §3.2.2), run by the CWMP driver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConnectionRequestConfig {
    /// Address to listen on. Default: `0.0.0.0`.
    pub address: IpAddr,
    /// Port to listen on. Default: 7547.
    pub port: u16,
    /// HTTP path of the connection-request URL. Default: `/`.
    pub path: String,
}

impl Default for ConnectionRequestConfig {
    fn default() -> Self {
        ConnectionRequestConfig {
            address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port: DEFAULT_CONNECTION_REQUEST_PORT,
            path: "/".into(),
        }
    }
}

impl AgentConfig {
    /// The layered sources: defaults, the TOML `file` if given, then `TETHER_AGENT_*`
    /// variables. The binary merges its flags on top and calls `extract`.
    pub fn figment(file: Option<&Path>) -> Figment {
        let mut figment = Figment::from(Serialized::defaults(AgentConfig::default()));
        if let Some(file) = file {
            figment = figment.merge(Toml::file_exact(file));
        }
        figment.merge(Env::prefixed(ENV_PREFIX).split("__"))
    }

    /// Reads the configuration from defaults, `file` (which must exist when given) and the
    /// environment.
    pub fn load(file: Option<&Path>) -> Result<AgentConfig, AgentError> {
        if let Some(file) = file
            && !file.is_file()
        {
            return Err(AgentError::Config(format!(
                "configuration file {} does not exist",
                file.display()
            )));
        }
        Self::from_figment(&Self::figment(file))
    }

    /// Extracts and checks a configuration from any figment (e.g. one with flags merged).
    pub fn from_figment(figment: &Figment) -> Result<AgentConfig, AgentError> {
        let config: AgentConfig = figment
            .extract()
            .map_err(|e| AgentError::Config(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks values serde cannot.
    pub fn validate(&self) -> Result<(), AgentError> {
        let oui = &self.identity.manufacturer_oui;
        if oui.len() != 6
            || !oui
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
        {
            return Err(AgentError::Config(format!(
                "identity.manufacturer_oui must be six upper-case hex digits, not {oui:?}"
            )));
        }
        if self.sysname.is_empty() || self.sysname.chars().any(char::is_whitespace) {
            return Err(AgentError::Config(
                "sysname must be non-empty and without spaces".into(),
            ));
        }
        if self.cloud.trust == CloudTrustMode::CaFile && self.cloud.ca_file.is_none() {
            return Err(AgentError::Config(
                "cloud.trust = \"ca-file\" needs cloud.ca_file".into(),
            ));
        }
        if self.cloud.trust == CloudTrustMode::Pin
            && (self.cloud.pins.is_empty() || self.cloud.pins.len() > 4)
        {
            return Err(AgentError::Config(
                "cloud.trust = \"pin\" needs 1 to 4 cloud.pins".into(),
            ));
        }
        if self.cloud.request_timeout_secs == 0 || self.cloud.backoff_initial_ms == 0 {
            return Err(AgentError::Config(
                "cloud.request_timeout_secs and cloud.backoff_initial_ms must be positive".into(),
            ));
        }
        if self.max_cli_sessions == 0 {
            return Err(AgentError::Config(
                "max_cli_sessions must be at least 1".into(),
            ));
        }
        Ok(())
    }

    /// The control socket path: `control_socket`, or `control.sock` in the state directory.
    pub fn control_socket_path(&self) -> PathBuf {
        self.control_socket
            .clone()
            .unwrap_or_else(|| self.state_dir.join(CONTROL_SOCKET_NAME))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_file_overrides_defaults_and_keeps_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("agent.toml");
        std::fs::write(
            &file,
            "sysname = \"edge-1\"\n[identity]\nserial_number = \"S1\"\n[connection_request]\nport = 17547\n",
        )
        .unwrap();
        let config = AgentConfig::from_figment(&AgentConfig::figment(Some(&file))).unwrap();
        assert_eq!(config.sysname, "edge-1");
        assert_eq!(config.identity.serial_number.as_deref(), Some("S1"));
        assert_eq!(config.identity.manufacturer, "Tether");
        assert_eq!(config.connection_request.port, 17547);
        assert_eq!(
            config.control_socket_path(),
            PathBuf::from(DEFAULT_STATE_DIR).join(CONTROL_SOCKET_NAME)
        );
    }

    #[test]
    fn missing_file_and_bad_oui_are_errors() {
        assert!(AgentConfig::load(Some(Path::new("/nonexistent/agent.toml"))).is_err());
        let mut config = AgentConfig::default();
        config.identity.manufacturer_oui = "00a0c9".into();
        assert!(config.validate().is_err());
    }
}
