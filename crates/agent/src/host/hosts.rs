//! `Device.Hosts.`: the neighbours the host knows, from the kernel's ARP table
//! (`/proc/net/arp`).
//!
//! Owns [`HostsHandler`]. Only complete entries (flag `ATF_COM`) are hosts; they are numbered
//! from 1 in the table's order, so numbers follow the table when entries come and go (the
//! kernel gives no stable key; the ACS should address hosts by `PhysAddress`). At most 1024
//! entries are served.
//!
//! Must not touch: interfaces (see `net.rs`).

use std::sync::Arc;

use tether_datamodel::{Handler, Value};

use crate::host::net::split_instance;
use crate::host::root::HostRoot;

/// The prefix this handler serves.
pub const PREFIX: &str = "Device.Hosts.";

const TABLE: &str = "Device.Hosts.Host.";
const ATF_COM: u64 = 0x2;
const MAX_HOSTS: usize = 1024;

/// One complete ARP entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArpEntry {
    /// IPv4 address.
    pub ip: String,
    /// MAC address.
    pub mac: String,
    /// Interface name.
    pub device: String,
    /// ARP hardware type (1 = Ethernet).
    pub hw_type: u64,
}

/// Parses `/proc/net/arp` text: complete entries only.
pub fn parse_arp(text: &str) -> Vec<ArpEntry> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 6 {
                return None;
            }
            let hex = |s: &str| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok();
            let flags = hex(f[2])?;
            (flags & ATF_COM != 0).then(|| ArpEntry {
                ip: f[0].to_owned(),
                mac: f[3].to_owned(),
                device: f[5].to_owned(),
                hw_type: hex(f[1]).unwrap_or(0),
            })
        })
        .take(MAX_HOSTS)
        .collect()
}

/// Serves `Device.Hosts.` (see the module docs).
pub struct HostsHandler {
    root: Arc<HostRoot>,
}

impl HostsHandler {
    /// A handler reading under `root`.
    pub fn new(root: Arc<HostRoot>) -> HostsHandler {
        HostsHandler { root }
    }

    fn entries(&self) -> Vec<ArpEntry> {
        self.root
            .read("proc/net/arp")
            .map(|t| parse_arp(&t))
            .unwrap_or_default()
    }
}

impl Handler for HostsHandler {
    fn get(&self, path: &str) -> Option<Value> {
        let (n, leaf) = split_instance(path.strip_prefix(TABLE)?)?;
        let entry = self.entries().into_iter().nth(n as usize - 1)?;
        match leaf {
            "PhysAddress" => Some(Value::string(entry.mac)),
            "IPAddress" | "IPv4Address.1.IPAddress" => Some(Value::string(entry.ip)),
            "Active" => Some(Value::Boolean(true)),
            "InterfaceType" => (entry.hw_type == 1).then(|| Value::string("Ethernet")),
            "Layer3Interface" => {
                let index = self
                    .root
                    .interfaces()
                    .into_iter()
                    .find(|i| i.name == entry.device)?
                    .index;
                Some(Value::string(format!("Device.IP.Interface.{index}")))
            }
            _ => None,
        }
    }

    fn instances(&self, table_path: &str) -> Option<Vec<u32>> {
        if table_path == TABLE {
            return Some((1..=self.entries().len() as u32).collect());
        }
        let (_, table) = split_instance(table_path.strip_prefix(TABLE)?)?;
        match table {
            "IPv4Address." => Some(vec![1]),
            "IPv6Address." => Some(Vec::new()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incomplete_arp_entries_are_not_hosts() {
        let text = "IP address       HW type     Flags       HW address            Mask     Device\n\
                    192.168.1.1      0x1         0x2         52:54:00:12:34:56     *        eth0\n\
                    192.168.1.9      0x1         0x0         00:00:00:00:00:00     *        eth0\n";
        let hosts = parse_arp(text);
        assert_eq!(hosts.len(), 1);
        assert_eq!(hosts[0].ip, "192.168.1.1");
        assert_eq!(hosts[0].device, "eth0");
    }
}
