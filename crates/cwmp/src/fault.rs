//! CWMP faults: the `cwmp:Fault` detail of a SOAP Fault, CPE codes 9000-9899 and ACS codes
//! 8000-8899 (FLT-01..04, §5 of the requirements).
//!
//! Owns the codes, their standard texts and their SOAP `faultcode` class. Deciding *when* to send
//! which fault belongs to the session layers and to the server and agent.

use serde::Serialize;
use std::fmt;

/// A CWMP fault code (`cwmp:Fault/FaultCode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct FaultCode(pub u32);

impl FaultCode {
    /// 8000 Method not supported (ACS).
    pub const ACS_METHOD_NOT_SUPPORTED: Self = Self(8000);
    /// 8001 Request denied (ACS).
    pub const ACS_REQUEST_DENIED: Self = Self(8001);
    /// 8002 Internal error (ACS).
    pub const ACS_INTERNAL_ERROR: Self = Self(8002);
    /// 8003 Invalid arguments (ACS).
    pub const ACS_INVALID_ARGUMENTS: Self = Self(8003);
    /// 8004 Resources exceeded (ACS).
    pub const ACS_RESOURCES_EXCEEDED: Self = Self(8004);
    /// 8005 Retry request (ACS): the CPE resends the same request.
    pub const ACS_RETRY_REQUEST: Self = Self(8005);
    /// 8006 ACS version incompatible with CPE (CWMP 1.4).
    pub const ACS_VERSION_INCOMPATIBLE: Self = Self(8006);
    /// 9000 Method not supported (CPE).
    pub const METHOD_NOT_SUPPORTED: Self = Self(9000);
    /// 9001 Request denied.
    pub const REQUEST_DENIED: Self = Self(9001);
    /// 9002 Internal error.
    pub const INTERNAL_ERROR: Self = Self(9002);
    /// 9003 Invalid arguments.
    pub const INVALID_ARGUMENTS: Self = Self(9003);
    /// 9004 Resources exceeded.
    pub const RESOURCES_EXCEEDED: Self = Self(9004);
    /// 9005 Invalid parameter name.
    pub const INVALID_PARAMETER_NAME: Self = Self(9005);
    /// 9006 Invalid parameter type.
    pub const INVALID_PARAMETER_TYPE: Self = Self(9006);
    /// 9007 Invalid parameter value.
    pub const INVALID_PARAMETER_VALUE: Self = Self(9007);
    /// 9008 Attempt to set a non-writable parameter.
    pub const NON_WRITABLE_PARAMETER: Self = Self(9008);
    /// 9009 Notification request rejected.
    pub const NOTIFICATION_REJECTED: Self = Self(9009);
    /// 9010 File transfer failure.
    pub const TRANSFER_FAILURE: Self = Self(9010);
    /// 9011 Upload failure.
    pub const UPLOAD_FAILURE: Self = Self(9011);
    /// 9012 File transfer server authentication failure.
    pub const TRANSFER_AUTH_FAILURE: Self = Self(9012);
    /// 9013 Unsupported protocol for file transfer.
    pub const UNSUPPORTED_TRANSFER_PROTOCOL: Self = Self(9013);
    /// 9018 File transfer failure: file corrupted.
    pub const FILE_CORRUPTED: Self = Self(9018);
    /// 9021 Cancelation of file transfer not permitted.
    pub const CANCEL_NOT_PERMITTED: Self = Self(9021);

    /// The standard text of this code, if it is a standard code.
    pub fn standard_text(self) -> Option<&'static str> {
        Some(match self.0 {
            8000 => "Method not supported",
            8001 => "Request denied (no reason specified)",
            8002 => "Internal error",
            8003 => "Invalid arguments",
            8004 => "Resources exceeded",
            8005 => "Retry request",
            8006 => "ACS version incompatible with CPE",
            9000 => "Method not supported",
            9001 => "Request denied (no reason specified)",
            9002 => "Internal error",
            9003 => "Invalid arguments",
            9004 => "Resources exceeded",
            9005 => "Invalid parameter name",
            9006 => "Invalid parameter type",
            9007 => "Invalid parameter value",
            9008 => "Attempt to set a non-writable parameter",
            9009 => "Notification request rejected",
            9010 => "File transfer failure",
            9011 => "Upload failure",
            9012 => "File transfer server authentication failure",
            9013 => "Unsupported protocol for file transfer",
            9014 => "File transfer failure: unable to join multicast group",
            9015 => "File transfer failure: unable to contact file server",
            9016 => "File transfer failure: unable to access file",
            9017 => "File transfer failure: unable to complete download",
            9018 => "File transfer failure: file corrupted",
            9019 => "File transfer failure: file authentication failure",
            9020 => {
                "File transfer failure: unable to complete download within specified time windows"
            }
            9021 => "Cancelation of file transfer not permitted in current transfer state",
            9022 => "Invalid UUID Format",
            9023 => "Unknown Execution Environment",
            9024 => "Disabled Execution Environment",
            9025 => "Deployment Unit to Execution Environment Mismatch",
            9026 => "Duplicate Deployment Unit",
            9027 => "System Resources Exceeded",
            9028 => "Unknown Deployment Unit",
            9029 => "Invalid Deployment Unit State",
            9030 => "Invalid Deployment Unit Update: Downgrade not permitted",
            9031 => "Invalid Deployment Unit Update: Version not specified",
            9032 => "Invalid Deployment Unit Update: Version already exists",
            _ => return None,
        })
    }

    /// Whether the schema allows this code in `cwmp:Fault` (8000-8899 or 9000-9899).
    pub fn is_valid(self) -> bool {
        (8000..=8899).contains(&self.0) || (9000..=9899).contains(&self.0)
    }

    /// Whether the schema allows this code in a TransferComplete `FaultStruct` (RPC-20).
    pub fn is_valid_for_transfer_complete(self) -> bool {
        matches!(self.0, 0 | 9001 | 9002 | 9010 | 9011 | 9012 | 9014..=9020 | 9033..=9899)
    }

    /// Whether this is an ACS fault code (8000-8899).
    pub fn is_acs(self) -> bool {
        (8000..=8899).contains(&self.0)
    }

    /// The SOAP `faultcode` class TR-069 assigns to this code: `Client` when the requester is at
    /// fault (bad arguments), `Server` otherwise.
    pub fn soap_class(self) -> SoapFaultClass {
        match self.0 {
            8003 | 8005 | 8006 | 9003 | 9005 | 9006 | 9007 | 9008 | 9022 => SoapFaultClass::Client,
            _ => SoapFaultClass::Server,
        }
    }
}

impl fmt::Display for FaultCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The SOAP 1.1 `faultcode` of a CWMP fault.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub enum SoapFaultClass {
    /// `Client`: the message was wrong.
    Client,
    /// `Server`: the receiver could not process a correct message.
    Server,
    /// Anything else received (kept as sent, without its prefix).
    Other(String),
}

impl SoapFaultClass {
    /// Parses a received `faultcode`, accepting `Client`, `soap-env:Client` and the like (FLT-03).
    pub fn parse(text: &str) -> Self {
        let local = text.trim().rsplit(':').next().unwrap_or_default();
        match local {
            "Client" => Self::Client,
            "Server" => Self::Server,
            other => Self::Other(other.to_owned()),
        }
    }

    /// The local name written in `faultcode`.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Client => "Client",
            Self::Server => "Server",
            Self::Other(s) => s,
        }
    }
}

/// One parameter's fault inside a SetParameterValues fault (RPC-05).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct SetParameterValuesFault {
    /// The offending parameter.
    pub parameter_name: String,
    /// 9005, 9006, 9007, 9008 and the like.
    pub code: FaultCode,
    /// Human-readable text.
    pub string: String,
}

/// A SOAP Fault carrying a `cwmp:Fault` detail.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Fault {
    /// SOAP `faultcode` class.
    pub soap_class: SoapFaultClass,
    /// SOAP `faultstring`; `CWMP fault` by convention.
    pub soap_string: String,
    /// CWMP fault code.
    pub code: FaultCode,
    /// CWMP fault string.
    pub string: String,
    /// Per-parameter faults, only for SetParameterValues.
    pub set_parameter_values_faults: Vec<SetParameterValuesFault>,
}

impl Fault {
    /// A fault with the code's standard class and text.
    pub fn new(code: FaultCode) -> Self {
        Self::with_message(code, code.standard_text().unwrap_or("Vendor fault"))
    }

    /// A fault with the standard class and a given text.
    pub fn with_message(code: FaultCode, message: impl Into<String>) -> Self {
        Self {
            soap_class: code.soap_class(),
            soap_string: "CWMP fault".to_owned(),
            code,
            string: message.into(),
            set_parameter_values_faults: Vec::new(),
        }
    }

    /// A 9003 fault listing the per-parameter faults of a SetParameterValues (RPC-05).
    pub fn set_parameter_values(faults: Vec<SetParameterValuesFault>) -> Self {
        let mut fault = Self::new(FaultCode::INVALID_ARGUMENTS);
        fault.set_parameter_values_faults = faults;
        fault
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code, self.string)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flt_01_every_standard_code_has_text_and_valid_range() {
        for code in (8000..=8006).chain(9000..=9032) {
            let c = FaultCode(code);
            assert!(c.standard_text().is_some(), "{code}");
            assert!(c.is_valid());
        }
        assert!(!FaultCode(1234).is_valid());
        assert!(FaultCode(9899).is_valid());
        assert!(!FaultCode(9900).is_valid());
    }

    #[test]
    fn flt_03_faultcode_accepts_qualified_and_plain_names() {
        assert_eq!(
            SoapFaultClass::parse("soap-env:Client"),
            SoapFaultClass::Client
        );
        assert_eq!(SoapFaultClass::parse("Server"), SoapFaultClass::Server);
        assert_eq!(
            FaultCode::INVALID_PARAMETER_NAME.soap_class(),
            SoapFaultClass::Client
        );
        assert_eq!(
            FaultCode::METHOD_NOT_SUPPORTED.soap_class(),
            SoapFaultClass::Server
        );
    }

    #[test]
    fn rpc_20_transfer_complete_codes() {
        assert!(FaultCode(0).is_valid_for_transfer_complete());
        assert!(FaultCode(9010).is_valid_for_transfer_complete());
        assert!(!FaultCode(9003).is_valid_for_transfer_complete());
        assert!(!FaultCode(9013).is_valid_for_transfer_complete());
    }
}
