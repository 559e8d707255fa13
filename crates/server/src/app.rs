//! What every part of the server shares: the store, the configuration, the task hub, and the
//! seam to the CWMP endpoint ([`AcsControl`]).
//!
//! The REST API reaches the ACS only through [`AcsControl`]; the ACS reports task outcomes to
//! waiting API requests only through [`TaskHub::notify`](crate::task_hub::TaskHub::notify).
//! Neither side knows the other's types.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tether_store::Store;

use crate::config::ServerConfig;
use crate::task_hub::TaskHub;

/// The future [`AcsControl`] methods return.
pub type AcsFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why a connection request did not reach the device.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectionRequestError {
    /// This server has no connection-request client (yet).
    #[error("connection requests are not available on this server")]
    NotAvailable,
    /// The device never reported a ConnectionRequestURL.
    #[error("the device has not reported a connection request URL")]
    NoUrl,
    /// The device was asked too recently; try again after this long.
    #[error("a connection request was sent to this device recently; retry in {0:?}")]
    RateLimited(Duration),
    /// The device refused the ACS's credentials.
    #[error("the device refused the connection request credentials")]
    AuthFailed,
    /// No answer within the configured timeout.
    #[error("the device did not answer the connection request in time")]
    Timeout,
    /// The device could not be reached, or answered with an error.
    #[error("connection request failed: {0}")]
    Failed(String),
}

impl ConnectionRequestError {
    /// A stable machine-readable code for API responses.
    pub fn code(&self) -> &'static str {
        match self {
            ConnectionRequestError::NotAvailable => "not_available",
            ConnectionRequestError::NoUrl => "no_url",
            ConnectionRequestError::RateLimited(_) => "rate_limited",
            ConnectionRequestError::AuthFailed => "auth_failed",
            ConnectionRequestError::Timeout => "timeout",
            ConnectionRequestError::Failed(_) => "failed",
        }
    }
}

/// What the API may ask of the CWMP side. Implemented by the ACS; a placeholder that answers
/// [`ConnectionRequestError::NotAvailable`] stands in until it exists.
pub trait AcsControl: Send + Sync + 'static {
    /// Asks the device (by canonical device id) to open a session now. `Ok` means the device
    /// acknowledged the request, not that the session ran.
    fn connection_request<'a>(
        &'a self,
        device_id: &'a str,
    ) -> AcsFuture<'a, Result<(), ConnectionRequestError>>;
}

/// The stand-in [`AcsControl`]: every connection request is "not available".
#[derive(Debug, Default)]
pub struct NoAcsControl;

impl AcsControl for NoAcsControl {
    fn connection_request<'a>(
        &'a self,
        _device_id: &'a str,
    ) -> AcsFuture<'a, Result<(), ConnectionRequestError>> {
        Box::pin(async { Err(ConnectionRequestError::NotAvailable) })
    }
}

/// The shared state handed to the API and the ACS.
pub struct App {
    pub config: Arc<ServerConfig>,
    pub store: Arc<dyn Store>,
    pub hub: Arc<TaskHub>,
    pub acs: Arc<dyn AcsControl>,
    /// The cloud-connection endpoint: device tunnels and their services.
    pub cloud: Arc<crate::cloud::Cloud>,
}
