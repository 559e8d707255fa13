//! Parameter RPCs: Get/SetParameterValues, GetParameterNames, Get/SetParameterAttributes
//! (RPC-01..RPC-11).

use crate::value::ParameterValue;
use serde::Serialize;

/// `GetParameterValues`: names or partial paths (ending with `.`) to read.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct GetParameterValues {
    /// Names or partial paths, each at most 256 characters.
    pub parameter_names: Vec<String>,
}

/// `GetParameterValuesResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct GetParameterValuesResponse {
    /// Every parameter requested (partial paths expanded).
    pub parameter_list: Vec<ParameterValue>,
}

/// `SetParameterValues`: applied atomically by the CPE (RPC-05).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct SetParameterValues {
    /// Values to set.
    pub parameter_list: Vec<ParameterValue>,
    /// Written to `ManagementServer.ParameterKey` on success (RPC-06), at most 32 characters.
    pub parameter_key: String,
}

/// `SetParameterValuesResponse`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct SetParameterValuesResponse {
    /// 0 = applied, 1 = committed but not yet applied.
    pub status: i32,
}

/// `GetParameterNames` (RPC-03).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct GetParameterNames {
    /// A full name, a partial path ending with `.`, or empty for the root.
    pub parameter_path: String,
    /// Only the immediate children when true.
    pub next_level: bool,
}

/// `ParameterInfoStruct`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct ParameterInfo {
    /// Parameter or object name (objects end with `.`).
    pub name: String,
    /// Writable (for objects: AddObject/DeleteObject allowed, RPC-04).
    pub writable: bool,
}

/// `GetParameterNamesResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct GetParameterNamesResponse {
    /// The names found.
    pub parameter_list: Vec<ParameterInfo>,
}

/// `SetParameterAttributesStruct` (RPC-09).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct SetParameterAttributesStruct {
    /// Name or partial path.
    pub name: String,
    /// Whether `notification` is to be applied.
    pub notification_change: bool,
    /// 0 off, 1 passive, 2 active, 3-6 lightweight variants (CWMP 1.4).
    pub notification: i32,
    /// Whether `access_list` is to be applied.
    pub access_list_change: bool,
    /// Entities allowed to write besides the ACS (only `Subscriber` is defined).
    pub access_list: Vec<String>,
}

/// `SetParameterAttributes`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct SetParameterAttributes {
    /// At least one entry.
    pub parameter_list: Vec<SetParameterAttributesStruct>,
}

/// `SetParameterAttributesResponse` (empty).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct SetParameterAttributesResponse;

/// `GetParameterAttributes` (RPC-10).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct GetParameterAttributes {
    /// Names or partial paths.
    pub parameter_names: Vec<String>,
}

/// `ParameterAttributeStruct`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct ParameterAttribute {
    /// Parameter name.
    pub name: String,
    /// Notification setting.
    pub notification: i32,
    /// Access list.
    pub access_list: Vec<String>,
}

/// `GetParameterAttributesResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct GetParameterAttributesResponse {
    /// One entry per parameter.
    pub parameter_list: Vec<ParameterAttribute>,
}
