//! `Inform` and `InformResponse` (§3, INF-01..04).

use crate::datetime::DateTime;
use crate::device_id::DeviceId;
use crate::event::{Event, EventCode};
use crate::value::ParameterValue;
use serde::Serialize;

/// `Inform`: the first message of every session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Inform {
    /// Who the CPE is.
    pub device_id: DeviceId,
    /// Why the session was opened (at most 64 events).
    pub events: Vec<Event>,
    /// Always 1 in practice; ignored by the ACS.
    pub max_envelopes: u32,
    /// The CPE's clock, Unknown Time when it has none.
    pub current_time: DateTime,
    /// Consecutive failed attempts before this one.
    pub retry_count: u32,
    /// Forced-inform, changed (VALUE CHANGE) and InformParameter values.
    pub parameter_list: Vec<ParameterValue>,
}

impl Default for Inform {
    fn default() -> Self {
        Self {
            device_id: DeviceId::default(),
            events: Vec::new(),
            max_envelopes: 1,
            current_time: DateTime::UNKNOWN,
            retry_count: 0,
            parameter_list: Vec::new(),
        }
    }
}

impl Inform {
    /// Whether the Inform carries an event with this code.
    pub fn has_event(&self, code: &EventCode) -> bool {
        self.events.iter().any(|e| &e.code == code)
    }

    /// The value of a parameter in the ParameterList, if present.
    pub fn parameter(&self, name: &str) -> Option<&str> {
        self.parameter_list
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.value.text.as_str())
    }

    /// The root data model (`Device.` or `InternetGatewayDevice.`) inferred from the parameter
    /// names (DM-01).
    pub fn root_object(&self) -> Option<&'static str> {
        self.parameter_list.iter().find_map(|p| {
            if p.name.starts_with("InternetGatewayDevice.") {
                Some("InternetGatewayDevice.")
            } else if p.name.starts_with("Device.") {
                Some("Device.")
            } else {
                None
            }
        })
    }
}

/// `InformResponse`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct InformResponse {
    /// Always 1.
    pub max_envelopes: u32,
}

impl Default for InformResponse {
    fn default() -> Self {
        Self { max_envelopes: 1 }
    }
}
