//! Software module management (CWMP 1.2+, RPC-24): ChangeDUState, DUStateChangeComplete and
//! AutonomousDUStateChangeComplete.

use crate::datetime::DateTime;
use crate::fault::FaultCode;
use serde::Serialize;

/// One operation of ChangeDUState, written with `xsi:type="cwmp:<Kind>OpStruct"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum DuOperation {
    /// `InstallOpStruct`.
    Install {
        /// Package URL (at most 1024 characters).
        url: String,
        /// Deployment unit UUID, optional.
        uuid: Option<String>,
        /// Username, optional.
        username: Option<String>,
        /// Password, optional.
        password: Option<String>,
        /// Execution environment reference, optional.
        execution_env_ref: Option<String>,
    },
    /// `UpdateOpStruct`.
    Update {
        /// UUID, optional.
        uuid: Option<String>,
        /// Version, optional.
        version: Option<String>,
        /// URL, optional.
        url: Option<String>,
        /// Username, optional.
        username: Option<String>,
        /// Password, optional.
        password: Option<String>,
    },
    /// `UninstallOpStruct`.
    Uninstall {
        /// UUID.
        uuid: String,
        /// Version, optional.
        version: Option<String>,
        /// Execution environment reference, optional.
        execution_env_ref: Option<String>,
    },
}

/// `ChangeDUState`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct ChangeDuState {
    /// At least one operation, applied in order.
    pub operations: Vec<DuOperation>,
    /// CommandKey, optional in the schema.
    pub command_key: Option<String>,
}

/// `DeploymentUnitFaultStruct`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DuFault {
    /// 0 on success.
    pub code: FaultCode,
    /// Text, optional.
    pub string: Option<String>,
}

impl Default for DuFault {
    fn default() -> Self {
        Self {
            code: FaultCode(0),
            string: None,
        }
    }
}

/// `OpResultStruct` (and, with `operation_performed`, `AutonOpResultStruct`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DuOperationResult {
    /// Deployment unit UUID.
    pub uuid: String,
    /// Path of the DeploymentUnit instance.
    pub deployment_unit_ref: String,
    /// Version.
    pub version: String,
    /// `Installed`, `Uninstalled` or `Failed`.
    pub current_state: String,
    /// Whether dependencies were resolved.
    pub resolved: bool,
    /// Comma-separated ExecutionUnit paths.
    pub execution_unit_ref_list: String,
    /// Start time.
    pub start_time: DateTime,
    /// Completion time.
    pub complete_time: DateTime,
    /// Outcome.
    pub fault: DuFault,
    /// `Install`, `Update`, `Uninstall` (autonomous results only).
    pub operation_performed: Option<String>,
}

impl Default for DuOperationResult {
    fn default() -> Self {
        Self {
            uuid: String::new(),
            deployment_unit_ref: String::new(),
            version: String::new(),
            current_state: "Installed".into(),
            resolved: true,
            execution_unit_ref_list: String::new(),
            start_time: DateTime::UNKNOWN,
            complete_time: DateTime::UNKNOWN,
            fault: DuFault::default(),
            operation_performed: None,
        }
    }
}

/// `DUStateChangeComplete`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct DuStateChangeComplete {
    /// Results in operation order.
    pub results: Vec<DuOperationResult>,
    /// CommandKey of the ChangeDUState.
    pub command_key: Option<String>,
}

/// `AutonomousDUStateChangeComplete`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct AutonomousDuStateChangeComplete {
    /// Results, each with `operation_performed`.
    pub results: Vec<DuOperationResult>,
}
