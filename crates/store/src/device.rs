//! Devices as stored: identity, what the last Inform said, credentials, ownership, and the
//! filters for listing them.
//!
//! The canonical device id string (`OUI-ProductClass-SerialNumber`, percent-encoded) is computed
//! by the protocol layer; the store treats it as an opaque unique key.

use crate::{AccountId, Timestamp};

/// The identity a CPE reports in its Inform `DeviceId` structure, plus its canonical id string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceIdentity {
    /// The canonical device id (`OUI-ProductClass-SerialNumber` or `OUI-SerialNumber`); the key.
    pub id: String,
    pub oui: String,
    pub product_class: String,
    pub serial_number: String,
    pub manufacturer: String,
}

/// One Inform event: an event code (`"1 BOOT"`, `"M Reboot"`) and its command key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InformEvent {
    pub code: String,
    pub command_key: String,
}

/// A username/password pair: for connection requests (ACS -> CPE) or CPE authentication
/// (CPE -> ACS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

/// Where a device's connection-request credentials came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialsOrigin {
    /// Set by an operator; the device must hold the same (the ACS does not send them).
    Configured,
    /// Set on the device by the ACS itself, and acknowledged by the device.
    Provisioned,
}

impl CredentialsOrigin {
    /// The stored (and API) spelling: `"configured"` or `"provisioned"`.
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialsOrigin::Configured => "configured",
            CredentialsOrigin::Provisioned => "provisioned",
        }
    }

    /// The inverse of [`as_str`](Self::as_str).
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "configured" => Some(CredentialsOrigin::Configured),
            "provisioned" => Some(CredentialsOrigin::Provisioned),
            _ => None,
        }
    }
}

/// Everything recorded from one Inform, written in a single transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct InformRecord {
    pub identity: DeviceIdentity,
    /// When the ACS received the Inform.
    pub at: Timestamp,
    pub events: Vec<InformEvent>,
    /// The peer address of the HTTP connection (`"192.0.2.7:40112"`).
    pub remote_addr: Option<String>,
    /// The connection-request URL, if the Inform carried one; `None` keeps the stored URL.
    pub connection_request_url: Option<String>,
    /// Until when the device counts as online. The server derives it from the periodic inform
    /// interval (the store holds no policy); `None` clears it.
    pub online_until: Option<Timestamp>,
    /// The Inform's ParameterList (and anything else learned in the same breath).
    pub parameters: Vec<crate::ParameterUpdate>,
}

/// A device as stored, without its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub identity: DeviceIdentity,
    /// The owning account, if any.
    pub owner: Option<AccountId>,
    /// When the store first heard of this device.
    pub created_at: Timestamp,
    pub last_inform_at: Option<Timestamp>,
    pub last_inform_events: Vec<InformEvent>,
    pub remote_addr: Option<String>,
    pub online_until: Option<Timestamp>,
    pub connection_request_url: Option<String>,
    /// The credentials the ACS answers the device's connection-request challenge with.
    pub connection_request_credentials: Option<Credentials>,
    /// Where they came from; `Some` exactly when they are.
    pub connection_request_credentials_origin: Option<CredentialsOrigin>,
    /// The credentials this CPE must present to the ACS.
    pub cpe_credentials: Option<Credentials>,
}

impl Device {
    /// Whether the device counts as online at `now`.
    pub fn is_online(&self, now: Timestamp) -> bool {
        self.online_until.is_some_and(|until| until >= now)
    }
}

/// How to match serial numbers in a device listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SerialMatch {
    /// The serial number equals this string.
    Exact(String),
    /// The serial number contains this string, ignoring ASCII case.
    Contains(String),
}

/// Which devices a listing returns. Every set field must match; the default matches all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceFilter {
    pub serial: Option<SerialMatch>,
    pub product_class: Option<String>,
    /// Only devices whose last Inform was strictly before this instant.
    pub last_inform_before: Option<Timestamp>,
    /// Only devices whose last Inform was at or after this instant.
    pub last_inform_after: Option<Timestamp>,
    /// `Some((true, now))`: online at `now`; `Some((false, now))`: not online at `now`.
    pub online: Option<(bool, Timestamp)>,
    /// Only devices owned by this account (what a non-admin sees).
    pub owner: Option<AccountId>,
}
