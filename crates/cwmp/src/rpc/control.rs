//! Device control and miscellaneous RPCs: GetRPCMethods, Reboot, FactoryReset, ScheduleInform,
//! Kicked, and the deprecated SetVouchers and GetOptions.

use crate::datetime::DateTime;
use serde::Serialize;

/// `GetRPCMethodsResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct GetRpcMethodsResponse {
    /// Method names, each at most 64 characters.
    pub method_list: Vec<String>,
}

/// `Reboot` (RPC-14).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Reboot {
    /// Reported back with `M Reboot`.
    pub command_key: String,
}

/// `ScheduleInform` (RPC-23).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct ScheduleInform {
    /// Seconds until the Inform; 0 is invalid (9003).
    pub delay_seconds: u32,
    /// Reported back with `M ScheduleInform`.
    pub command_key: String,
}

/// `Kicked` (deprecated web-identity flow).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Kicked {
    /// Command, at most 32 characters.
    pub command: String,
    /// Referer, at most 64 characters.
    pub referer: String,
    /// Argument, at most 256 characters.
    pub arg: String,
    /// Next URL, at most 1024 characters.
    pub next: String,
}

/// `KickedResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct KickedResponse {
    /// Where the browser goes next.
    pub next_url: String,
}

/// `SetVouchers` (deprecated option vouchers).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct SetVouchers {
    /// Base64-encoded signed vouchers.
    pub voucher_list: Vec<String>,
}

/// `GetOptions` (deprecated).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct GetOptions {
    /// Option name, or empty for all, at most 64 characters.
    pub option_name: String,
}

/// `OptionStruct` of GetOptionsResponse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OptionInfo {
    /// Option name.
    pub option_name: String,
    /// Voucher serial number.
    pub voucher_sn: u32,
    /// State bits (as defined by TR-069).
    pub state: u32,
    /// Mode (0 disabled, 1 enabled with expiration, 2 enabled without).
    pub mode: i32,
    /// Start date.
    pub start_date: DateTime,
    /// Expiration date, absent when none.
    pub expiration_date: Option<DateTime>,
    /// 0 or 1.
    pub is_transferable: i32,
}

/// `GetOptionsResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct GetOptionsResponse {
    /// Options.
    pub option_list: Vec<OptionInfo>,
}
