//! The text of the `display` commands, from typed state the agent fills in.
//!
//! Owns: field names, colon columns and value words of `display cwmp configuration`,
//! `display cwmp status` (§8.2) and `display cloud-management state` (§8.4), and the layout of
//! `display current-configuration` and `display this`. Every line ends in `\n` and carries no
//! trailing whitespace. Must not touch: where the state comes from (the agent's CWMP and cloud
//! clients), or any clock: times arrive as [`DateTime`] values already in the zone to show.

use std::net::IpAddr;

use crate::config::{CwmpConfig, RunningConfig};
use crate::datetime::{DateTime, format_duration};
use crate::session::View;

/// Appends `label`, padded to `width`, then `: value`, trimming trailing spaces (a blank value
/// leaves `label   :`).
fn field(out: &mut String, width: usize, label: &str, value: &str) {
    let line = format!("{label:<width$}: {value}");
    out.push_str(line.trim_end());
    out.push('\n');
}

fn enabled(on: bool) -> &'static str {
    if on { "Enabled" } else { "Disabled" }
}

/// `display cwmp configuration` (§8.2). Colons in column 36.
pub fn cwmp_configuration(config: &CwmpConfig) -> String {
    let mut out = String::new();
    let mut f = |label: &str, value: &str| field(&mut out, 36, label, value);
    f("CWMP state", enabled(config.enabled));
    f("ACS URL", config.acs_url.as_deref().unwrap_or("Null"));
    f("ACS username", config.acs_username.as_deref().unwrap_or(""));
    f(
        "ACS default URL",
        config.acs_default_url.as_deref().unwrap_or("Null"),
    );
    f(
        "ACS default username",
        config.acs_default_username.as_deref().unwrap_or(""),
    );
    f("Periodic inform", enabled(config.periodic_inform));
    f("Inform interval", &format!("{}s", config.inform_interval));
    f(
        "Inform time",
        &config
            .inform_time
            .map_or_else(|| "None".to_string(), |t| t.to_string()),
    );
    f("Wait timeout", &format!("{}s", config.wait_timeout));
    f(
        "Connection retries",
        &config
            .connect_retry
            .map_or_else(|| "Unlimited".to_string(), |n| n.to_string()),
    );
    f(
        "Source IP interface",
        &config
            .connect_interface
            .as_ref()
            .map_or_else(|| "None".to_string(), |i| i.to_string()),
    );
    f("STUN state", enabled(config.stun));
    f(
        "SSL policy name",
        config.ssl_client_policy.as_deref().unwrap_or("Null"),
    );
    out
}

/// Where the ACS URL in use came from (§8.2 "ACS information source").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AcsSource {
    /// Set from the CLI or by the ACS.
    User,
    /// DHCP option 43.
    Dhcp,
    /// `cwmp acs default url`.
    Default,
}

impl AcsSource {
    /// The word Comware shows.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "User",
            Self::Dhcp => "DHCP",
            Self::Default => "Default",
        }
    }
}

/// State of the CWMP connection to the ACS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ConnectionStatus {
    /// A session is up.
    Connected,
    /// No session.
    #[default]
    Disconnected,
    /// A request was sent and the answer is awaited.
    WaitingResponse,
}

impl ConnectionStatus {
    /// The words Comware shows.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connected => "Connected",
            Self::Disconnected => "Disconnected",
            Self::WaitingResponse => "Waiting response",
        }
    }
}

/// Whether a file transfer is running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TransferStatus {
    /// An Upload RPC is transferring.
    Uploading,
    /// A Download RPC is transferring.
    Downloading,
    /// Nothing is transferring.
    #[default]
    None,
}

impl TransferStatus {
    /// The word Comware shows.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Uploading => "Uploading",
            Self::Downloading => "Downloading",
            Self::None => "None",
        }
    }
}

/// What `display cwmp status` shows; the agent fills it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CwmpStatus {
    /// Whether CWMP is enabled.
    pub enabled: bool,
    /// ACS URL of the most recent connection (`Null` when none).
    pub acs_url: Option<String>,
    /// Source of that URL (`None` when there is no URL).
    pub acs_source: Option<AcsSource>,
    /// ACS username of the most recent connection (blank when none).
    pub acs_username: Option<String>,
    /// Connection status.
    pub connection: ConnectionStatus,
    /// Data transfer status.
    pub transfer: TransferStatus,
    /// Most recent successful connection attempt, shown as `yyyy-mm-ddThh:mm:ss`
    /// (`None` when none). The sources show no sample of this value; the form is ours.
    pub last_success: Option<DateTime>,
    /// Seconds until the next connection attempt (`None` when nothing is pending).
    pub next_attempt_in: Option<u64>,
}

/// `display cwmp status` (§8.2). Colons in column 46.
pub fn cwmp_status(status: &CwmpStatus) -> String {
    let mut out = String::new();
    let mut f = |label: &str, value: &str| field(&mut out, 46, label, value);
    f("CWMP state", enabled(status.enabled));
    f(
        "ACS URL of most recent connection",
        status.acs_url.as_deref().unwrap_or("Null"),
    );
    f(
        "ACS information source",
        status.acs_source.map_or("None", AcsSource::as_str),
    );
    f(
        "ACS username of most recent connection",
        status.acs_username.as_deref().unwrap_or(""),
    );
    f("Connection status", status.connection.as_str());
    f("Data transfer status", status.transfer.as_str());
    f(
        "Most recent successful connection attempt",
        &status
            .last_success
            .map_or_else(|| "None".to_string(), |t| t.to_string()),
    );
    f(
        "Length of time before next connection attempt",
        &status
            .next_attempt_in
            .map_or_else(|| "None".to_string(), |s| format!("{s}s")),
    );
    out
}

/// The main cloud tunnel's state. Only `Established` is attested by H3C; the others are ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CloudConnectionState {
    /// Not configured or not started.
    #[default]
    Idle,
    /// Resolving the server's domain name.
    Resolving,
    /// Authentication request sent.
    Authenticating,
    /// Registration request sent.
    Registering,
    /// WebSocket handshake in progress.
    Handshaking,
    /// The tunnel is up.
    Established,
    /// Waiting to retry after a failure.
    Reconnecting,
}

impl CloudConnectionState {
    /// The word shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Idle => "Idle",
            Self::Resolving => "Resolving",
            Self::Authenticating => "Authenticating",
            Self::Registering => "Registering",
            Self::Handshaking => "Handshaking",
            Self::Established => "Established",
            Self::Reconnecting => "Reconnecting",
        }
    }
}

/// The device's standing with the cloud. Only `Request_success` is attested by H3C.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CloudDeviceState {
    /// Nothing exchanged yet.
    #[default]
    Init,
    /// The cloud refused the authentication (serial not added, or bad proof).
    AuthFailed,
    /// The cloud refused the registration.
    RegisterFailed,
    /// Authenticated and registered.
    RequestSuccess,
    /// Unbound by an unbinding code.
    Unbound,
}

impl CloudDeviceState {
    /// The word shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Init => "Init",
            Self::AuthFailed => "Auth_failed",
            Self::RegisterFailed => "Register_failed",
            Self::RequestSuccess => "Request_success",
            Self::Unbound => "Unbound",
        }
    }
}

/// The only `Process state` value H3C's samples show.
pub const PROCESS_MESSAGE_RECEIVED: &str = "Message received";

/// What `display cloud-management state` shows; the agent fills it. Unknown values show as
/// `N/A`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudState {
    /// Cloud connection state.
    pub connection: CloudConnectionState,
    /// Device state.
    pub device: CloudDeviceState,
    /// Address the server's domain resolved to.
    pub server_address: Option<IpAddr>,
    /// Server domain in use (from the CLI or DHCP option 253).
    pub server_domain: Option<String>,
    /// Server port in use.
    pub server_port: u16,
    /// When the tunnel came up, in the zone to show.
    pub connected_at: Option<DateTime>,
    /// Seconds since then.
    pub duration_secs: Option<u64>,
    /// Last step of the exchange, e.g. [`PROCESS_MESSAGE_RECEIVED`].
    pub process_state: Option<String>,
    /// Why the last attempt failed.
    pub failure_reason: Option<String>,
}

impl Default for CloudState {
    fn default() -> Self {
        Self {
            connection: CloudConnectionState::Idle,
            device: CloudDeviceState::Init,
            server_address: None,
            server_domain: None,
            server_port: crate::config::DEFAULT_CLOUD_PORT,
            connected_at: None,
            duration_secs: None,
            process_state: None,
            failure_reason: None,
        }
    }
}

/// `display cloud-management state` (§8.4). Colons in column 25.
pub fn cloud_management_state(state: &CloudState) -> String {
    let mut out = String::new();
    let mut f = |label: &str, value: &str| field(&mut out, 25, label, value);
    let na = || "N/A".to_string();
    f("Cloud connection state", state.connection.as_str());
    f("Device state", state.device.as_str());
    f(
        "Cloud server address",
        &state.server_address.map_or_else(na, |a| a.to_string()),
    );
    f(
        "Cloud server domain name",
        state.server_domain.as_deref().unwrap_or("N/A"),
    );
    f("Cloud server port", &state.server_port.to_string());
    f(
        "Connected at",
        &state
            .connected_at
            .map_or_else(na, DateTime::to_comware_string),
    );
    f(
        "Duration",
        &state.duration_secs.map_or_else(na, format_duration),
    );
    f(
        "Process state",
        state.process_state.as_deref().unwrap_or("N/A"),
    );
    f(
        "Failure reason",
        state.failure_reason.as_deref().unwrap_or("N/A"),
    );
    out
}

fn system_section(out: &mut String, config: &RunningConfig) {
    let lines = config.cloud.to_commands();
    let (hosts, cloud): (Vec<_>, Vec<_>) = lines.iter().partition(|l| l.starts_with("ip host"));
    for group in [hosts, cloud] {
        if !group.is_empty() {
            out.push_str("#\n");
            for line in group {
                out.push(' ');
                out.push_str(line);
                out.push('\n');
            }
        }
    }
}

fn cwmp_section(out: &mut String, config: &RunningConfig, always: bool) {
    if always || !config.cwmp.is_default() {
        out.push_str("#\ncwmp\n");
        for line in config.cwmp.to_commands() {
            out.push(' ');
            out.push_str(&line);
            out.push('\n');
        }
    }
}

/// `display current-configuration`: Comware layout, sections separated by `#`, system-view
/// lines indented one space, the `cwmp` view with its lines indented beneath it, `return` at
/// the end. Passwords appear only as `cipher`; defaults are not shown.
pub fn current_configuration(config: &RunningConfig) -> String {
    let mut out = String::new();
    system_section(&mut out, config);
    cwmp_section(&mut out, config, false);
    out.push_str("#\nreturn\n");
    out
}

/// `display this`: in the CWMP view, the `cwmp` block (its header even when empty); in system (and user) view, the
/// system-view lines.
pub fn this(view: View, config: &RunningConfig) -> String {
    let mut out = String::new();
    match view {
        View::Cwmp(_) => cwmp_section(&mut out, config, true),
        View::User | View::System => system_section(&mut out, config),
    }
    out.push_str("#\nreturn\n");
    out
}
