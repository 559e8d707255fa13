//! Errors of the data model and their one mapping to CWMP fault codes.
//!
//! Owns [`DataModelError`], [`ParameterFault`] and [`ValueError`]. This crate does not depend on
//! the protocol crate, so the numeric CWMP fault code of every error is decided here, in
//! [`DataModelError::cwmp_fault_code`], and nowhere else. The fault *strings* and the SOAP
//! encoding belong to the protocol crate.

use thiserror::Error;

/// Why a value could not be parsed or accepted for a parameter.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ValueError {
    /// The `xsi:type` given does not match the parameter's type (fault 9006).
    #[error("wrong type: expected {expected}, got {got}")]
    WrongType {
        /// The type the parameter has, as an XML Schema local name (`unsignedInt`).
        expected: &'static str,
        /// The type that was given.
        got: String,
    },
    /// The text is not a valid value for the parameter (fault 9007).
    #[error("invalid value: {0}")]
    Invalid(String),
}

impl ValueError {
    /// The CWMP fault code this error maps to (9006 or 9007).
    pub fn cwmp_fault_code(&self) -> u32 {
        match self {
            ValueError::WrongType { .. } => 9006,
            ValueError::Invalid(_) => 9007,
        }
    }
}

/// One offending parameter of a SetParameterValues request (RPC-05).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParameterFault {
    /// The parameter name exactly as the request gave it.
    pub name: String,
    /// The reason; always one of the per-parameter variants (9005..9008).
    pub error: DataModelError,
}

impl ParameterFault {
    /// The per-parameter fault code (9005, 9006, 9007 or 9008).
    pub fn cwmp_fault_code(&self) -> u32 {
        self.error.cwmp_fault_code()
    }
}

/// Every way a data-model operation can fail.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DataModelError {
    /// 9001: refused by policy (e.g. AddObject on a table whose instances come from the host).
    #[error("request denied: {0}")]
    RequestDenied(String),
    /// 9002: a handler failed in a way that is not the requester's fault.
    #[error("internal error: {0}")]
    Internal(String),
    /// 9003: malformed arguments (duplicate names, NextLevel on a parameter, bad notification).
    #[error("invalid arguments: {0}")]
    InvalidArguments(String),
    /// 9004: a table is full.
    #[error("resources exceeded: {0}")]
    ResourcesExceeded(String),
    /// 9005: the name does not exist (or is not of the required kind).
    #[error("invalid parameter name: {0}")]
    InvalidName(String),
    /// 9006: the given `xsi:type` does not match.
    #[error("invalid parameter type for {name}: expected {expected}, got {got}")]
    InvalidType {
        /// The parameter.
        name: String,
        /// Its type.
        expected: &'static str,
        /// The type given.
        got: String,
    },
    /// 9007: the value is out of range, not in the enumeration, too long, malformed.
    #[error("invalid parameter value for {name}: {reason}")]
    InvalidValue {
        /// The parameter.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// 9008: the parameter is read-only.
    #[error("attempt to set a non-writable parameter: {0}")]
    NotWritable(String),
    /// 9009: the requested notification is refused (`activeNotify` forceEnabled / canDeny).
    #[error("notification request rejected for {0}")]
    NotificationRejected(String),
    /// 9003 with one entry per offending parameter: the SetParameterValues form (RPC-05).
    #[error("invalid arguments: {} parameter(s) rejected", .0.len())]
    SetParameterValues(Vec<ParameterFault>),
}

impl DataModelError {
    /// The CWMP fault code (TR-069 Annex A) this error maps to. The single place of that mapping.
    pub fn cwmp_fault_code(&self) -> u32 {
        match self {
            DataModelError::RequestDenied(_) => 9001,
            DataModelError::Internal(_) => 9002,
            DataModelError::InvalidArguments(_) => 9003,
            DataModelError::ResourcesExceeded(_) => 9004,
            DataModelError::InvalidName(_) => 9005,
            DataModelError::InvalidType { .. } => 9006,
            DataModelError::InvalidValue { .. } => 9007,
            DataModelError::NotWritable(_) => 9008,
            DataModelError::NotificationRejected(_) => 9009,
            DataModelError::SetParameterValues(_) => 9003,
        }
    }

    /// The per-parameter faults of a SetParameterValues failure; empty for every other error.
    pub fn parameter_faults(&self) -> &[ParameterFault] {
        match self {
            DataModelError::SetParameterValues(faults) => faults,
            _ => &[],
        }
    }

    /// Attaches a parameter name to a [`ValueError`].
    pub fn from_value_error(name: &str, err: ValueError) -> Self {
        match err {
            ValueError::WrongType { expected, got } => DataModelError::InvalidType {
                name: name.to_owned(),
                expected,
                got,
            },
            ValueError::Invalid(reason) => DataModelError::InvalidValue {
                name: name.to_owned(),
                reason,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_maps_to_its_cwmp_code() {
        let cases = [
            (DataModelError::RequestDenied(String::new()), 9001),
            (DataModelError::Internal(String::new()), 9002),
            (DataModelError::InvalidArguments(String::new()), 9003),
            (DataModelError::ResourcesExceeded(String::new()), 9004),
            (DataModelError::InvalidName(String::new()), 9005),
            (
                DataModelError::InvalidType {
                    name: String::new(),
                    expected: "int",
                    got: "string".into(),
                },
                9006,
            ),
            (
                DataModelError::InvalidValue {
                    name: String::new(),
                    reason: String::new(),
                },
                9007,
            ),
            (DataModelError::NotWritable(String::new()), 9008),
            (DataModelError::NotificationRejected(String::new()), 9009),
            (DataModelError::SetParameterValues(Vec::new()), 9003),
        ];
        for (err, code) in cases {
            assert_eq!(err.cwmp_fault_code(), code, "{err}");
        }
    }

    #[test]
    fn value_errors_keep_their_code_when_named() {
        let wrong = ValueError::WrongType {
            expected: "boolean",
            got: "int".into(),
        };
        assert_eq!(wrong.cwmp_fault_code(), 9006);
        assert_eq!(
            DataModelError::from_value_error("A.b", wrong).cwmp_fault_code(),
            9006
        );
        let bad = ValueError::Invalid("x".into());
        assert_eq!(
            DataModelError::from_value_error("A.b", bad).cwmp_fault_code(),
            9007
        );
    }
}
