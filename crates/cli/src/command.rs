//! The typed result of parsing one command line.
//!
//! Owns: the [`Command`] enum and the small value types its variants carry. A `Command` is the
//! whole contract between this crate and the agent: the parser produces it, the
//! [`crate::config`] types apply it, the agent executes the actions that are not configuration
//! (display, reset, unbinding code).
//!
//! Must not touch: parsing (see [`crate::grammar`]) or rendering (see [`crate::display`]).

use std::fmt;
use std::net::Ipv4Addr;

use crate::datetime::DateTime;
use crate::password::Password;

/// Which CWMP data model the CWMP view was entered for (`cwmp` or `cwmp 181-model`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CwmpModel {
    /// Plain `cwmp`: TR-098 (`InternetGatewayDevice.`).
    #[default]
    Tr098,
    /// `cwmp 181-model` (Comware V9): TR-181 (`Device.`).
    Tr181,
}

/// What a `display` command asks for. The agent renders it with [`crate::display`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DisplayTarget {
    /// `display cwmp configuration`.
    CwmpConfiguration,
    /// `display cwmp status`.
    CwmpStatus,
    /// `display cloud-management state`.
    CloudManagementState,
    /// `display current-configuration`.
    CurrentConfiguration,
    /// `display this`: the part of the configuration belonging to the current view.
    This,
}

/// An interface as `cwmp cpe connect interface TYPE NUMBER` names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Interface {
    /// Canonical type name, e.g. `GigabitEthernet` (whatever case or prefix was typed).
    pub kind: &'static str,
    /// The number as typed, e.g. `1/0/1` or `1`.
    pub number: String,
}

/// `GigabitEthernet1/0/1`, the way Comware names an interface in displays.
impl fmt::Display for Interface {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.kind, self.number)
    }
}

/// One `cloud-management backup-server domain NAME [port P]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BackupServer {
    /// Domain name, 1-253 characters, stored as typed.
    pub domain: String,
    /// `None`: use the `cloud-management server port`.
    pub port: Option<u16>,
}

/// One parsed command line.
///
/// Configuration variants carry an `Option` (or a `bool`): `Some(value)` / `true` is the
/// positive form, `None` / `false` the `undo` form, which restores the default.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Command {
    // ----- navigation (the [`crate::Session`] performs these itself) -----
    /// `system-view` (user view).
    SystemView,
    /// `cwmp` / `cwmp 181-model` (system view): enter the CWMP view.
    EnterCwmp(CwmpModel),
    /// `quit`: up one view; from user view, end the CLI session.
    Quit,
    /// `return`: back to user view.
    Return,

    // ----- any view -----
    /// `display ...`.
    Display(DisplayTarget),

    // ----- user view -----
    /// `reset cloud-management tunnel`: tear the cloud connection down and rebuild it.
    ResetCloudTunnel,

    // ----- CWMP view (§8.1) -----
    /// `[undo] cwmp enable`.
    CwmpEnable(bool),
    /// `[undo] cwmp acs url URL`.
    CwmpAcsUrl(Option<String>),
    /// `[undo] cwmp acs username NAME`.
    CwmpAcsUsername(Option<String>),
    /// `[undo] cwmp acs password [cipher | simple] STRING`.
    CwmpAcsPassword(Option<Password>),
    /// `[undo] cwmp acs default url URL`.
    CwmpAcsDefaultUrl(Option<String>),
    /// `[undo] cwmp acs default username NAME`.
    CwmpAcsDefaultUsername(Option<String>),
    /// `[undo] cwmp acs default password {cipher | simple} STRING`.
    CwmpAcsDefaultPassword(Option<Password>),
    /// `[undo] cwmp cpe username NAME`.
    CwmpCpeUsername(Option<String>),
    /// `[undo] cwmp cpe password {cipher | simple} STRING`.
    CwmpCpePassword(Option<Password>),
    /// `[undo] cwmp cpe inform interval enable`.
    CwmpCpeInformIntervalEnable(bool),
    /// `[undo] cwmp cpe inform interval SECONDS` (10-86400; undo: 600).
    CwmpCpeInformInterval(Option<u32>),
    /// `[undo] cwmp cpe inform time yyyy-mm-ddThh:mm:ss`. Range-checked here; "later than
    /// now" is for the agent to check.
    CwmpCpeInformTime(Option<DateTime>),
    /// `[undo] cwmp cpe connect retry TIMES` (0-100; undo: unlimited).
    CwmpCpeConnectRetry(Option<u8>),
    /// `[undo] cwmp cpe connect interface TYPE NUMBER`.
    CwmpCpeConnectInterface(Option<Interface>),
    /// `[undo] cwmp cpe wait timeout SECONDS` (30-1800; undo: 30).
    CwmpCpeWaitTimeout(Option<u32>),
    /// `[undo] cwmp cpe provision-code CODE` (undo: `PROVISIONINGCODE`).
    CwmpCpeProvisionCode(Option<String>),
    /// `[undo] cwmp cpe stun enable`.
    CwmpCpeStunEnable(bool),
    /// `[undo] ssl client-policy NAME`.
    SslClientPolicy(Option<String>),

    // ----- system view: cloud connection (§8.4) -----
    /// `[undo] cloud-management server domain NAME`.
    CloudServerDomain(Option<String>),
    /// `[undo] cloud-management server port PORT` (undo: 443).
    CloudServerPort(Option<u16>),
    /// `[undo] cloud-management server password {cipher | simple} STRING`.
    CloudServerPassword(Option<Password>),
    /// `[undo] cloud-management keepalive SECONDS` (10-3600; undo: 180).
    CloudKeepalive(Option<u32>),
    /// `cloud-management backup-server domain NAME [port P]`.
    CloudBackupServerAdd(BackupServer),
    /// `undo cloud-management backup-server domain [NAME [port P]]`: `domain: None` removes
    /// every backup server; a name without a port removes every entry with that name; a name
    /// and a port remove that one entry.
    CloudBackupServerRemove {
        /// Domain to remove, `None` for all.
        domain: Option<String>,
        /// Port of the entry to remove, `None` for any.
        port: Option<u16>,
    },
    /// `cloud-management unbinding-code CODE`: an action (send the code), not configuration.
    CloudUnbindingCode(String),
    /// `ip host NAME IP`.
    IpHost {
        /// Host name (case-insensitive).
        name: String,
        /// Its IPv4 address.
        ip: Ipv4Addr,
    },
    /// `undo ip host NAME [IP]`.
    UndoIpHost {
        /// Host name (case-insensitive).
        name: String,
        /// When given, remove only if the mapping has this address.
        ip: Option<Ipv4Addr>,
    },
}

impl Command {
    /// True for the commands that only move between views.
    pub fn is_navigation(&self) -> bool {
        matches!(
            self,
            Self::SystemView | Self::EnterCwmp(_) | Self::Quit | Self::Return
        )
    }
}
