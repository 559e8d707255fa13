//! Which main tunnel and which subconnections of each device live on this node, and the
//! channels to reach them. Tunnel replacement follows `tether_cloudlink::server::TunnelRegistry`
//! and one-subconnection-per-service follows `DeviceServices`; this file only adds the senders.
//!
//! Must not touch: sockets or the store. Locks are held for map operations only.

use std::collections::HashMap;
use std::sync::Mutex;

use tether_cloudlink::CloseCode;
use tether_cloudlink::server::{DeviceServices, TunnelRegistry};

use super::config_service::ConfigOp;
use super::mailbox;
use super::terminal::TerminalCmd;

/// What the rest of the server may ask of a main tunnel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TunnelCmd {
    /// Close with this code (replaced, unbound, removed).
    Close(CloseCode),
    /// Send the `reset_tunnel` command.
    Reset,
}

/// What the rest of the server may ask of a service subconnection.
#[derive(Debug)]
pub enum ServiceCmd {
    /// Close with this code.
    Close(CloseCode),
    /// A `config` request.
    Config(ConfigOp),
    /// A `terminal` operation.
    Terminal(TerminalCmd),
}

/// Why a request could not reach a device's service.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceError {
    /// The device has no main tunnel on this node.
    #[error("the device is not connected")]
    NotConnected,
    /// The device is connected but this service's subconnection is not up.
    #[error("the device's {0} service is not connected")]
    ServiceDown(&'static str),
    /// The device did not answer in time.
    #[error("the device did not answer in time")]
    Timeout,
    /// Too many requests in flight for this device.
    #[error("too many requests in flight for this device")]
    Busy,
    /// The subconnection went away before answering.
    #[error("the service connection closed before answering")]
    Gone,
    /// The device answered with an `error` message.
    #[error("the device refused the request: {0}")]
    Device(String),
}

impl ServiceError {
    /// A stable machine-readable code for API responses.
    pub fn code(&self) -> &'static str {
        match self {
            ServiceError::NotConnected => "device_not_connected",
            ServiceError::ServiceDown(_) => "service_unavailable",
            ServiceError::Timeout => "device_timeout",
            ServiceError::Busy => "device_busy",
            ServiceError::Gone => "service_closed",
            ServiceError::Device(_) => "device_error",
        }
    }
}

#[derive(Default)]
struct Inner {
    tunnels: TunnelRegistry,
    tunnel_tx: HashMap<u64, mailbox::Sender<TunnelCmd>>,
    services: HashMap<Box<str>, DeviceServices>,
    service_tx: HashMap<u64, (&'static str, mailbox::Sender<ServiceCmd>)>,
}

/// The live connections of this node.
#[derive(Default)]
pub struct Registry {
    inner: Mutex<Inner>,
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records tunnel `id` as `serial`'s; returns the sender of the tunnel it replaces.
    pub fn attach_tunnel(
        &self,
        serial: &str,
        id: u64,
        tx: mailbox::Sender<TunnelCmd>,
    ) -> Option<mailbox::Sender<TunnelCmd>> {
        let mut g = self.lock();
        g.tunnel_tx.insert(id, tx);
        let old = g.tunnels.admit(serial, id)?;
        g.tunnel_tx.remove(&old)
    }

    /// Forgets tunnel `id` if it is still current, and returns the senders of the device's
    /// subconnections (to be closed: they never outlive their tunnel).
    pub fn release_tunnel(&self, serial: &str, id: u64) -> Vec<mailbox::Sender<ServiceCmd>> {
        let mut g = self.lock();
        g.tunnel_tx.remove(&id);
        if !g.tunnels.release(serial, id) {
            return Vec::new();
        }
        let Some(services) = g.services.remove(serial) else {
            return Vec::new();
        };
        let ids: Vec<u64> = services
            .connected()
            .filter_map(|name| services.holder(name))
            .collect();
        ids.iter()
            .filter_map(|id| g.service_tx.remove(id).map(|(_, tx)| tx))
            .collect()
    }

    /// The command channel of `serial`'s tunnel.
    pub fn tunnel(&self, serial: &str) -> Option<mailbox::Sender<TunnelCmd>> {
        let g = self.lock();
        let id = g.tunnels.current(serial)?;
        g.tunnel_tx.get(&id).cloned()
    }

    /// Attaches subconnection `id` for `service`; `Err` if the device has no tunnel here.
    /// `Ok(Some(old))` is the replaced subconnection's sender.
    #[allow(clippy::result_unit_err)]
    pub fn attach_service(
        &self,
        serial: &str,
        service: &'static str,
        id: u64,
        tx: mailbox::Sender<ServiceCmd>,
    ) -> Result<Option<mailbox::Sender<ServiceCmd>>, ()> {
        let mut g = self.lock();
        if g.tunnels.current(serial).is_none() {
            return Err(());
        }
        g.service_tx.insert(id, (service, tx));
        let old = g
            .services
            .entry(serial.into())
            .or_default()
            .attach(service, id);
        Ok(old.and_then(|o| g.service_tx.remove(&o).map(|(_, tx)| tx)))
    }

    /// Detaches subconnection `id` if it still holds `service`.
    pub fn release_service(&self, serial: &str, service: &str, id: u64) {
        let mut g = self.lock();
        g.service_tx.remove(&id);
        if let Some(s) = g.services.get_mut(serial) {
            s.detach(service, id);
            if s.connected().next().is_none() {
                g.services.remove(serial);
            }
        }
    }

    /// The command channel of `serial`'s `service` subconnection.
    pub fn service(
        &self,
        serial: &str,
        service: &'static str,
    ) -> Result<mailbox::Sender<ServiceCmd>, ServiceError> {
        let g = self.lock();
        if g.tunnels.current(serial).is_none() {
            return Err(ServiceError::NotConnected);
        }
        g.services
            .get(serial)
            .and_then(|s| s.holder(service))
            .and_then(|id| g.service_tx.get(&id))
            .map(|(_, tx)| tx.clone())
            .ok_or(ServiceError::ServiceDown(service))
    }

    /// Names of the services attached for `serial`.
    pub fn services(&self, serial: &str) -> Vec<String> {
        let g = self.lock();
        g.services
            .get(serial)
            .map(|s| s.connected().map(str::to_owned).collect())
            .unwrap_or_default()
    }

    /// Number of tunnels on this node.
    pub fn tunnels(&self) -> usize {
        self.lock().tunnels.len()
    }
}
