//! The SOAP Header of a CWMP message (§1.3: ID, HoldRequests, SessionTimeout,
//! SupportedCWMPVersions, UseCWMPVersion, NoMoreRequests).

use crate::namespace::CwmpVersion;
use serde::Serialize;

/// CWMP header elements. Every field is optional: many CPEs send no Header at all.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Header {
    /// `cwmp:ID`: echoed in the response to a request that carried it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `cwmp:HoldRequests` (ACS to CPE): the CPE must not send requests while true.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hold_requests: Option<bool>,
    /// `cwmp:SessionTimeout` (CPE to ACS, Inform, CWMP 1.3+), seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_timeout: Option<u32>,
    /// `cwmp:SupportedCWMPVersions` (CPE to ACS, Inform, CWMP 1.4).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supported_cwmp_versions: Option<Vec<CwmpVersion>>,
    /// `cwmp:UseCWMPVersion` (ACS to CPE, InformResponse, CWMP 1.4).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub use_cwmp_version: Option<CwmpVersion>,
    /// `cwmp:NoMoreRequests` from the original 2004 TR-069. Removed from every published schema:
    /// accepted on input and treated like HoldRequests by the CPE session, never encoded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_more_requests: Option<bool>,
    /// Header elements marked `mustUnderstand="1"` that this crate does not know (ENV-06): the
    /// receiver must answer them with a SOAP MustUnderstand fault.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_understood: Vec<String>,
}

impl Header {
    /// A header carrying only a `cwmp:ID`.
    pub fn with_id(id: impl Into<String>) -> Self {
        Self {
            id: Some(id.into()),
            ..Self::default()
        }
    }

    /// Whether nothing would be written for this header.
    pub fn is_empty(&self) -> bool {
        self.id.is_none()
            && self.hold_requests.is_none()
            && self.session_timeout.is_none()
            && self.supported_cwmp_versions.is_none()
            && self.use_cwmp_version.is_none()
    }
}
