//! The host data model: `Handler`s that serve what a Linux host really has.
//!
//! * [`root`]: [`HostRoot`], the injectable root of the `/proc`, `/sys` and `/etc` files read,
//!   and the interface address source.
//! * [`device_info`]: `Device.DeviceInfo.` (identity, uptime, memory, CPU).
//! * [`net`]: `Device.Ethernet.Interface.{i}` and `Device.IP.Interface.{i}` with addresses and
//!   statistics.
//! * [`hosts`]: `Device.Hosts.Host.{i}` from the ARP table.
//! * [`shared_reads`]: [`SharedReads`], host file texts shared for a second by the simulator's
//!   devices (never used by a real agent).
//!
//! Everything is read when the data model asks (a GET or an instance listing), from small
//! kernel files; nothing polls (the simulator's shared reads aside). Must not touch: the running configuration, sockets.

pub mod device_info;
pub mod hosts;
pub mod net;
pub mod root;
pub mod shared_reads;

use std::sync::Arc;

use tether_datamodel::{DataModel, Handler};

pub use device_info::{DeviceInfoHandler, Identity};
pub use hosts::HostsHandler;
pub use net::NetHandler;
pub use root::{AddressSource, HostRoot, InterfaceAddress};
pub use shared_reads::SharedReads;

/// Registers every host handler on `model`.
pub fn register_host_handlers(model: &mut DataModel, root: Arc<HostRoot>, identity: Identity) {
    model.register_handler(
        device_info::PREFIX,
        Arc::new(DeviceInfoHandler::new(Arc::clone(&root), identity)),
    );
    let net: Arc<dyn Handler> = Arc::new(NetHandler::new(Arc::clone(&root)));
    for prefix in net::PREFIXES {
        model.register_handler(prefix, Arc::clone(&net));
    }
    model.register_handler(hosts::PREFIX, Arc::new(HostsHandler::new(root)));
}
