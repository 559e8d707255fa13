//! File transfer RPCs (RPC-17..RPC-22): Download, Upload, ScheduleDownload, CancelTransfer,
//! GetQueuedTransfers, GetAllQueuedTransfers, TransferComplete, AutonomousTransferComplete and
//! RequestDownload.

use crate::datetime::DateTime;
use crate::fault::FaultCode;
use serde::Serialize;

/// `Download`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Download {
    /// CommandKey, at most 32 characters.
    pub command_key: String,
    /// `1 Firmware Upgrade Image`, `2 Web Content`, `3 Vendor Configuration File`, ...
    pub file_type: String,
    /// HTTP or HTTPS URL without userinfo.
    pub url: String,
    /// File server username.
    pub username: String,
    /// File server password.
    pub password: String,
    /// Size in bytes, 0 = unknown.
    pub file_size: u32,
    /// Target file name.
    pub target_file_name: String,
    /// Seconds from the call until the transfer starts.
    pub delay_seconds: u32,
    /// Browser redirect on success (Kicked flows).
    pub success_url: String,
    /// Browser redirect on failure (Kicked flows).
    pub failure_url: String,
}

/// `DownloadResponse` and `UploadResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TransferResponse {
    /// 0 = completed (and applied), 1 = TransferComplete will follow.
    pub status: i32,
    /// Start time, Unknown Time when not started.
    pub start_time: DateTime,
    /// Completion time, Unknown Time when not complete.
    pub complete_time: DateTime,
}

impl Default for TransferResponse {
    fn default() -> Self {
        Self {
            status: 1,
            start_time: DateTime::UNKNOWN,
            complete_time: DateTime::UNKNOWN,
        }
    }
}

/// `Upload`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Upload {
    /// CommandKey.
    pub command_key: String,
    /// `1 Vendor Configuration File`, `2 Vendor Log File`, ...
    pub file_type: String,
    /// Destination URL.
    pub url: String,
    /// File server username.
    pub username: String,
    /// File server password.
    pub password: String,
    /// Seconds from the call until the transfer starts.
    pub delay_seconds: u32,
}

/// `TimeWindowStruct` of ScheduleDownload (RPC-21).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct TimeWindow {
    /// Window start, seconds after the RPC.
    pub window_start: u32,
    /// Window end, seconds after the RPC.
    pub window_end: u32,
    /// `1 At Any Time`, `2 Immediately`, `3 When Idle`, `4 Confirmation Needed`.
    pub window_mode: String,
    /// Message shown to the user (mode 4).
    pub user_message: String,
    /// Retries within the window, -1 = CPE decides.
    pub max_retries: i32,
}

/// `ScheduleDownload` (CWMP 1.2+).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct ScheduleDownload {
    /// CommandKey.
    pub command_key: String,
    /// File type.
    pub file_type: String,
    /// Source URL.
    pub url: String,
    /// File server username.
    pub username: String,
    /// File server password.
    pub password: String,
    /// Size in bytes, 0 = unknown.
    pub file_size: u32,
    /// Target file name.
    pub target_file_name: String,
    /// One or two windows.
    pub time_window_list: Vec<TimeWindow>,
}

/// `CancelTransfer` (CWMP 1.2+).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct CancelTransfer {
    /// The CommandKey of the transfer to cancel.
    pub command_key: String,
}

/// Transfer state in the queued-transfer lists: 1 not started, 2 in progress, 3 completed.
pub type TransferState = i32;

/// `QueuedTransferStruct`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct QueuedTransfer {
    /// CommandKey.
    pub command_key: String,
    /// State.
    pub state: TransferState,
}

/// `GetQueuedTransfersResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct GetQueuedTransfersResponse {
    /// At most 16 entries.
    pub transfer_list: Vec<QueuedTransfer>,
}

/// `AllQueuedTransferStruct`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct AllQueuedTransfer {
    /// CommandKey.
    pub command_key: String,
    /// State.
    pub state: TransferState,
    /// Download (true) or Upload.
    pub is_download: bool,
    /// File type.
    pub file_type: String,
    /// Size in bytes.
    pub file_size: u32,
    /// Target file name.
    pub target_file_name: String,
}

/// `GetAllQueuedTransfersResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct GetAllQueuedTransfersResponse {
    /// At most 16 entries.
    pub transfer_list: Vec<AllQueuedTransfer>,
}

/// `FaultStruct` of TransferComplete: code 0 means success (RPC-20).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TransferFault {
    /// 0 or a transfer fault code.
    pub code: FaultCode,
    /// Text, at most 256 characters.
    pub string: String,
}

impl Default for TransferFault {
    fn default() -> Self {
        Self {
            code: FaultCode(0),
            string: String::new(),
        }
    }
}

/// `TransferComplete`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TransferComplete {
    /// CommandKey of the Download/Upload/ScheduleDownload.
    pub command_key: String,
    /// Outcome.
    pub fault: TransferFault,
    /// Start time.
    pub start_time: DateTime,
    /// Completion time.
    pub complete_time: DateTime,
}

impl Default for TransferComplete {
    fn default() -> Self {
        Self {
            command_key: String::new(),
            fault: TransferFault::default(),
            start_time: DateTime::UNKNOWN,
            complete_time: DateTime::UNKNOWN,
        }
    }
}

/// `AutonomousTransferComplete` (CWMP 1.1+).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AutonomousTransferComplete {
    /// Announcement URL (multicast), may be empty.
    pub announce_url: String,
    /// Transfer URL.
    pub transfer_url: String,
    /// Download (true) or Upload.
    pub is_download: bool,
    /// File type.
    pub file_type: String,
    /// Size.
    pub file_size: u32,
    /// Target file name.
    pub target_file_name: String,
    /// Outcome.
    pub fault: TransferFault,
    /// Start time.
    pub start_time: DateTime,
    /// Completion time.
    pub complete_time: DateTime,
}

impl Default for AutonomousTransferComplete {
    fn default() -> Self {
        Self {
            announce_url: String::new(),
            transfer_url: String::new(),
            is_download: true,
            file_type: String::new(),
            file_size: 0,
            target_file_name: String::new(),
            fault: TransferFault::default(),
            start_time: DateTime::UNKNOWN,
            complete_time: DateTime::UNKNOWN,
        }
    }
}

/// `ArgStruct` of RequestDownload.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct FileTypeArg {
    /// Name, at most 64 characters.
    pub name: String,
    /// Value, at most 256 characters.
    pub value: String,
}

/// `RequestDownload`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct RequestDownload {
    /// File type wanted.
    pub file_type: String,
    /// At most 16 arguments.
    pub file_type_arg: Vec<FileTypeArg>,
}
