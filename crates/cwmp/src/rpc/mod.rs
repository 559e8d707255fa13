//! The typed model of every CWMP RPC of versions 1.0 to 1.4 (§2), one variant per element that
//! can stand in a SOAP Body.
//!
//! Files are grouped by concern: [`parameters`], [`objects`], [`transfers`], [`control`],
//! [`software_modules`] and [`inform`]. [`Body`] is the union that the codec reads and writes.

pub mod control;
pub mod inform;
pub mod objects;
pub mod parameters;
pub mod software_modules;
pub mod transfers;

pub use control::*;
pub use inform::*;
pub use objects::*;
pub use parameters::*;
pub use software_modules::*;
pub use transfers::*;

use crate::fault::Fault;
use crate::namespace::CwmpVersion;
use serde::Serialize;

/// Which side implements a method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Implementer {
    /// Called by the ACS, answered by the CPE.
    Cpe,
    /// Called by the CPE, answered by the ACS.
    Acs,
    /// GetRPCMethods: both sides implement it.
    Both,
}

/// The content of a SOAP Body: one RPC request, one RPC response, or a fault (ENV-08).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "method", content = "arguments")]
#[allow(missing_docs)]
pub enum Body {
    GetRPCMethods,
    GetRPCMethodsResponse(GetRpcMethodsResponse),
    SetParameterValues(SetParameterValues),
    SetParameterValuesResponse(SetParameterValuesResponse),
    GetParameterValues(GetParameterValues),
    GetParameterValuesResponse(GetParameterValuesResponse),
    GetParameterNames(GetParameterNames),
    GetParameterNamesResponse(GetParameterNamesResponse),
    SetParameterAttributes(SetParameterAttributes),
    SetParameterAttributesResponse,
    GetParameterAttributes(GetParameterAttributes),
    GetParameterAttributesResponse(GetParameterAttributesResponse),
    AddObject(AddObject),
    AddObjectResponse(AddObjectResponse),
    DeleteObject(DeleteObject),
    DeleteObjectResponse(DeleteObjectResponse),
    Download(Download),
    DownloadResponse(TransferResponse),
    Reboot(Reboot),
    RebootResponse,
    GetQueuedTransfers,
    GetQueuedTransfersResponse(GetQueuedTransfersResponse),
    ScheduleInform(ScheduleInform),
    ScheduleInformResponse,
    SetVouchers(SetVouchers),
    SetVouchersResponse,
    GetOptions(GetOptions),
    GetOptionsResponse(GetOptionsResponse),
    Upload(Upload),
    UploadResponse(TransferResponse),
    FactoryReset,
    FactoryResetResponse,
    GetAllQueuedTransfers,
    GetAllQueuedTransfersResponse(GetAllQueuedTransfersResponse),
    ScheduleDownload(ScheduleDownload),
    ScheduleDownloadResponse,
    CancelTransfer(CancelTransfer),
    CancelTransferResponse,
    ChangeDUState(ChangeDuState),
    ChangeDUStateResponse,
    Inform(Inform),
    InformResponse(InformResponse),
    TransferComplete(TransferComplete),
    TransferCompleteResponse,
    AutonomousTransferComplete(AutonomousTransferComplete),
    AutonomousTransferCompleteResponse,
    Kicked(Kicked),
    KickedResponse(KickedResponse),
    RequestDownload(RequestDownload),
    RequestDownloadResponse,
    DUStateChangeComplete(DuStateChangeComplete),
    DUStateChangeCompleteResponse,
    AutonomousDUStateChangeComplete(AutonomousDuStateChangeComplete),
    AutonomousDUStateChangeCompleteResponse,
    /// A SOAP Fault with a `cwmp:Fault` detail.
    Fault(Fault),
    /// A method this crate does not know (a vendor `X_...` RPC or a typo). The receiver answers
    /// it with fault 9000 (CPE) or 8000 (ACS) (ENV-11).
    Unknown {
        /// The element's local name.
        name: String,
    },
}

impl Body {
    /// The element name written in the Body (`Fault` for faults).
    pub fn method_name(&self) -> &str {
        match self {
            Self::GetRPCMethods => "GetRPCMethods",
            Self::GetRPCMethodsResponse(_) => "GetRPCMethodsResponse",
            Self::SetParameterValues(_) => "SetParameterValues",
            Self::SetParameterValuesResponse(_) => "SetParameterValuesResponse",
            Self::GetParameterValues(_) => "GetParameterValues",
            Self::GetParameterValuesResponse(_) => "GetParameterValuesResponse",
            Self::GetParameterNames(_) => "GetParameterNames",
            Self::GetParameterNamesResponse(_) => "GetParameterNamesResponse",
            Self::SetParameterAttributes(_) => "SetParameterAttributes",
            Self::SetParameterAttributesResponse => "SetParameterAttributesResponse",
            Self::GetParameterAttributes(_) => "GetParameterAttributes",
            Self::GetParameterAttributesResponse(_) => "GetParameterAttributesResponse",
            Self::AddObject(_) => "AddObject",
            Self::AddObjectResponse(_) => "AddObjectResponse",
            Self::DeleteObject(_) => "DeleteObject",
            Self::DeleteObjectResponse(_) => "DeleteObjectResponse",
            Self::Download(_) => "Download",
            Self::DownloadResponse(_) => "DownloadResponse",
            Self::Reboot(_) => "Reboot",
            Self::RebootResponse => "RebootResponse",
            Self::GetQueuedTransfers => "GetQueuedTransfers",
            Self::GetQueuedTransfersResponse(_) => "GetQueuedTransfersResponse",
            Self::ScheduleInform(_) => "ScheduleInform",
            Self::ScheduleInformResponse => "ScheduleInformResponse",
            Self::SetVouchers(_) => "SetVouchers",
            Self::SetVouchersResponse => "SetVouchersResponse",
            Self::GetOptions(_) => "GetOptions",
            Self::GetOptionsResponse(_) => "GetOptionsResponse",
            Self::Upload(_) => "Upload",
            Self::UploadResponse(_) => "UploadResponse",
            Self::FactoryReset => "FactoryReset",
            Self::FactoryResetResponse => "FactoryResetResponse",
            Self::GetAllQueuedTransfers => "GetAllQueuedTransfers",
            Self::GetAllQueuedTransfersResponse(_) => "GetAllQueuedTransfersResponse",
            Self::ScheduleDownload(_) => "ScheduleDownload",
            Self::ScheduleDownloadResponse => "ScheduleDownloadResponse",
            Self::CancelTransfer(_) => "CancelTransfer",
            Self::CancelTransferResponse => "CancelTransferResponse",
            Self::ChangeDUState(_) => "ChangeDUState",
            Self::ChangeDUStateResponse => "ChangeDUStateResponse",
            Self::Inform(_) => "Inform",
            Self::InformResponse(_) => "InformResponse",
            Self::TransferComplete(_) => "TransferComplete",
            Self::TransferCompleteResponse => "TransferCompleteResponse",
            Self::AutonomousTransferComplete(_) => "AutonomousTransferComplete",
            Self::AutonomousTransferCompleteResponse => "AutonomousTransferCompleteResponse",
            Self::Kicked(_) => "Kicked",
            Self::KickedResponse(_) => "KickedResponse",
            Self::RequestDownload(_) => "RequestDownload",
            Self::RequestDownloadResponse => "RequestDownloadResponse",
            Self::DUStateChangeComplete(_) => "DUStateChangeComplete",
            Self::DUStateChangeCompleteResponse => "DUStateChangeCompleteResponse",
            Self::AutonomousDUStateChangeComplete(_) => "AutonomousDUStateChangeComplete",
            Self::AutonomousDUStateChangeCompleteResponse => {
                "AutonomousDUStateChangeCompleteResponse"
            }
            Self::Fault(_) => "Fault",
            Self::Unknown { name } => name,
        }
    }

    /// Whether this is a response element (`...Response`).
    pub fn is_response(&self) -> bool {
        !matches!(self, Self::Fault(_) | Self::Unknown { .. })
            && self.method_name().ends_with("Response")
    }

    /// Whether this is a request (including unknown methods, which are requests to be refused).
    pub fn is_request(&self) -> bool {
        !self.is_response() && !matches!(self, Self::Fault(_))
    }

    /// For a request, which side implements it.
    pub fn implementer(&self) -> Option<Implementer> {
        if !self.is_request() {
            return None;
        }
        Some(match self {
            Self::GetRPCMethods => Implementer::Both,
            Self::Inform(_)
            | Self::TransferComplete(_)
            | Self::AutonomousTransferComplete(_)
            | Self::Kicked(_)
            | Self::RequestDownload(_)
            | Self::DUStateChangeComplete(_)
            | Self::AutonomousDUStateChangeComplete(_) => Implementer::Acs,
            Self::Unknown { .. } => return None,
            _ => Implementer::Cpe,
        })
    }

    /// The first protocol version whose schema defines this element.
    pub fn since(&self) -> CwmpVersion {
        match self {
            Self::GetAllQueuedTransfers
            | Self::GetAllQueuedTransfersResponse(_)
            | Self::AutonomousTransferComplete(_)
            | Self::AutonomousTransferCompleteResponse => CwmpVersion::V1_1,
            Self::ScheduleDownload(_)
            | Self::ScheduleDownloadResponse
            | Self::CancelTransfer(_)
            | Self::CancelTransferResponse
            | Self::ChangeDUState(_)
            | Self::ChangeDUStateResponse
            | Self::DUStateChangeComplete(_)
            | Self::DUStateChangeCompleteResponse
            | Self::AutonomousDUStateChangeComplete(_)
            | Self::AutonomousDUStateChangeCompleteResponse => CwmpVersion::V1_2,
            _ => CwmpVersion::V1_0,
        }
    }

    /// The fault as a reference, if this is one.
    pub fn as_fault(&self) -> Option<&Fault> {
        match self {
            Self::Fault(f) => Some(f),
            _ => None,
        }
    }
}

/// The methods a CPE built on this crate can answer (for GetRPCMethodsResponse).
pub const CPE_METHODS: &[&str] = &[
    "GetRPCMethods",
    "SetParameterValues",
    "GetParameterValues",
    "GetParameterNames",
    "SetParameterAttributes",
    "GetParameterAttributes",
    "AddObject",
    "DeleteObject",
    "Reboot",
    "Download",
    "Upload",
    "FactoryReset",
    "ScheduleInform",
    "GetQueuedTransfers",
    "GetAllQueuedTransfers",
    "ScheduleDownload",
    "CancelTransfer",
    "ChangeDUState",
];

/// The methods an ACS built on this crate answers (for GetRPCMethodsResponse, §2.2).
pub const ACS_METHODS: &[&str] = &[
    "Inform",
    "GetRPCMethods",
    "TransferComplete",
    "AutonomousTransferComplete",
    "Kicked",
    "RequestDownload",
    "DUStateChangeComplete",
    "AutonomousDUStateChangeComplete",
];
