//! Parameter values and attributes learned from a device, with when they were learned.

use crate::Timestamp;

/// What was learned about one parameter (or object, when the name ends in `.`). Fields left
/// `None` keep their stored value, so values (GetParameterValues), names (GetParameterNames) and
/// attributes (GetParameterAttributes) can be recorded independently.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ParameterUpdate {
    pub name: String,
    pub value: Option<String>,
    /// The `xsi:type` the value came with (`"xsd:unsignedInt"`).
    pub xsi_type: Option<String>,
    pub writable: Option<bool>,
    /// Notification attribute: 0 off, 1 passive, 2 active (others stored as given).
    pub notification: Option<i32>,
    pub access_list: Option<Vec<String>>,
}

impl ParameterUpdate {
    /// A value with its type, as reported by an Inform or a GetParameterValues response.
    pub fn value(
        name: impl Into<String>,
        value: impl Into<String>,
        xsi_type: impl Into<String>,
    ) -> Self {
        ParameterUpdate {
            name: name.into(),
            value: Some(value.into()),
            xsi_type: Some(xsi_type.into()),
            ..ParameterUpdate::default()
        }
    }
}

/// A stored parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parameter {
    pub name: String,
    pub value: Option<String>,
    pub xsi_type: Option<String>,
    pub writable: Option<bool>,
    pub notification: Option<i32>,
    pub access_list: Option<Vec<String>>,
    /// When this parameter was last read by a request of the ACS (GetParameterValues,
    /// GetParameterAttributes, ...) or last changed. An Inform that carries it unchanged does
    /// not move it: the device's `last_inform_at` says when Inform parameters were last
    /// confirmed.
    pub learned_at: Timestamp,
}
