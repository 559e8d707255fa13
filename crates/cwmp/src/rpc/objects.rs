//! Object RPCs: AddObject and DeleteObject (RPC-12).

use serde::Serialize;

/// `AddObject`: `object_name` is a table path ending with `.`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct AddObject {
    /// Table path, e.g. `Device.IP.Interface.`.
    pub object_name: String,
    /// ParameterKey, at most 32 characters.
    pub parameter_key: String,
}

/// `AddObjectResponse`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct AddObjectResponse {
    /// The new instance number (at least 1).
    pub instance_number: u32,
    /// 0 = created, 1 = committed but not yet applied.
    pub status: i32,
}

/// `DeleteObject`: `object_name` is an instance path ending with `.`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct DeleteObject {
    /// Instance path, e.g. `Device.IP.Interface.3.`.
    pub object_name: String,
    /// ParameterKey, at most 32 characters.
    pub parameter_key: String,
}

/// `DeleteObjectResponse`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct DeleteObjectResponse {
    /// 0 = deleted, 1 = committed but not yet applied.
    pub status: i32,
}
