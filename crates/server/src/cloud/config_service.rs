//! The `config` microservice (protocol §7.3): API requests for the running configuration and
//! command pushes, matched to the device's answers by request id.
//!
//! Owns the in-flight table of one `config` subconnection (at most [`MAX_IN_FLIGHT`]). Must
//! not touch: recording changes (the API does, after the answer), the socket (see
//! `subconn.rs`).

use std::collections::HashMap;

use tether_cloudlink::message::{CommandResult, Config};
use tokio::sync::oneshot;

use super::ServiceError;

/// Requests awaiting an answer on one subconnection.
pub const MAX_IN_FLIGHT: usize = 16;

/// What the API asks.
#[derive(Debug)]
pub enum ConfigRequest {
    /// `display current-configuration`.
    Running,
    /// Run commands from system view.
    Apply {
        commands: Vec<String>,
        stop_on_error: bool,
    },
}

/// The device's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigAnswer {
    Running(String),
    Applied(Vec<CommandResult>),
}

/// A request with the channel its answer goes to.
#[derive(Debug)]
pub struct ConfigOp {
    pub request: ConfigRequest,
    pub reply: oneshot::Sender<Result<ConfigAnswer, ServiceError>>,
}

/// The in-flight table of one subconnection.
#[derive(Debug, Default)]
pub struct InFlight {
    next: u32,
    waiting: HashMap<u32, oneshot::Sender<Result<ConfigAnswer, ServiceError>>>,
}

impl InFlight {
    /// Registers `op` and returns the message to send, or answers `Busy` itself.
    pub fn start(&mut self, op: ConfigOp) -> Option<Config> {
        self.waiting.retain(|_, tx| !tx.is_closed());
        if self.waiting.len() >= MAX_IN_FLIGHT {
            let _ = op.reply.send(Err(ServiceError::Busy));
            return None;
        }
        self.next = self.next.wrapping_add(1);
        let id = self.next;
        self.waiting.insert(id, op.reply);
        Some(match op.request {
            ConfigRequest::Running => Config::GetRunning { id },
            ConfigRequest::Apply {
                commands,
                stop_on_error,
            } => Config::Apply {
                id,
                commands,
                stop_on_error,
            },
        })
    }

    /// Hands a device message to its waiter. Returns false for an answer nobody asked for.
    pub fn answer(&mut self, msg: Config) -> bool {
        let (id, answer) = match msg {
            Config::Running { id, text } => (id, Ok(ConfigAnswer::Running(text))),
            Config::ApplyResult { id, results } => (id, Ok(ConfigAnswer::Applied(results))),
            Config::Error(e) => match e.ref_id {
                Some(id) => (id, Err(ServiceError::Device(e.message))),
                None => return true,
            },
            _ => return false,
        };
        match self.waiting.remove(&id) {
            Some(tx) => {
                let _ = tx.send(answer);
                true
            }
            // A late answer to a request that timed out is not an error of the device.
            None => true,
        }
    }
}

/// Sends `request` to `serial`'s `config` subconnection and waits for the answer, at most
/// `cloud.request_timeout`.
pub async fn request(
    cloud: &super::Cloud,
    serial: &str,
    request: ConfigRequest,
) -> Result<ConfigAnswer, ServiceError> {
    let tx = cloud.registry.service(serial, "config")?;
    let (reply, answer) = oneshot::channel();
    tx.try_send(super::ServiceCmd::Config(ConfigOp { request, reply }))
        .map_err(|_| ServiceError::Busy)?;
    match tokio::time::timeout(cloud.config.cloud.request_timeout.0, answer).await {
        Err(_) => Err(ServiceError::Timeout),
        Ok(Err(_)) => Err(ServiceError::Gone),
        Ok(Ok(r)) => r,
    }
}
