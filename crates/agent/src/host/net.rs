//! `Device.Ethernet.` and `Device.IP.`: the host's interfaces as TR-181 sees them.
//!
//! Owns [`NetHandler`]. Instance numbers are kernel interface indexes (`ifindex`), so an
//! interface keeps its number while it exists and a new one never takes an old one's number
//! until the kernel reuses it.
//!
//! * `Ethernet.Interface.{ifindex}`: interfaces of link type Ethernet (virtual ones included,
//!   as the kernel reports them). `Enable` (`IFF_UP` of `flags`), `Status` (`operstate`),
//!   `Name`, `MACAddress` (`address`), `CurrentBitRate` (`speed`, Mbit/s), `DuplexMode`
//!   (`duplex`), `Stats.*` (`statistics/`).
//! * `IP.Interface.{ifindex}`: every interface. `Enable`, `Status`, `Name`, `Type`,
//!   `Loopback`, `MaxMTUSize` (`mtu`), `LowerLayers` (the Ethernet interface of the same index),
//!   `Stats.*`; `IPv4Address.{i}` and `IPv6Address.{i}` from the interface's addresses
//!   (numbered from 1 in the kernel's order; IPv4 `SubnetMask` from the prefix length).
//!
//! Host network configuration is read-only here: an ACS write to a served parameter is
//! refused (9001) rather than stored and ignored.
//!
//! Must not touch: `Device.Hosts.` (see `hosts.rs`).

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use tether_datamodel::{DataModelError, Handler, Value};

use crate::host::root::{HostRoot, InterfaceAddress, LINK_ETHER, LINK_LOOPBACK, NetInterface};

/// The prefixes this handler serves.
pub const PREFIXES: [&str; 2] = ["Device.Ethernet.", "Device.IP."];

const ETH_TABLE: &str = "Device.Ethernet.Interface.";
const IP_TABLE: &str = "Device.IP.Interface.";
const IFF_UP: u64 = 0x1;

/// Serves `Device.Ethernet.` and `Device.IP.` (see the module docs).
pub struct NetHandler {
    root: Arc<HostRoot>,
}

/// `3.Stats.BytesSent` → `(3, "Stats.BytesSent")`.
pub(crate) fn split_instance(rest: &str) -> Option<(u32, &str)> {
    let (n, tail) = rest.split_once('.').unwrap_or((rest, ""));
    let n: u32 = n.parse().ok()?;
    (n > 0).then_some((n, tail))
}

/// The TR-181 `Status` of an interface from its `operstate` and `flags`.
fn status(operstate: Option<&str>, up: bool) -> &'static str {
    match operstate {
        Some("up") => "Up",
        Some("down") => "Down",
        Some("dormant") => "Dormant",
        Some("notpresent") => "NotPresent",
        Some("lowerlayerdown") => "LowerLayerDown",
        // Loopback and many virtual links report "unknown" while working.
        Some("unknown") if up => "Up",
        _ => "Unknown",
    }
}

/// Netmask of an IPv4 prefix length.
fn netmask(prefix_len: u8) -> Ipv4Addr {
    let bits = u32::MAX
        .checked_shl(32 - u32::from(prefix_len.min(32)))
        .unwrap_or(0);
    Ipv4Addr::from_bits(bits)
}

impl NetHandler {
    /// A handler reading under `root`.
    pub fn new(root: Arc<HostRoot>) -> NetHandler {
        NetHandler { root }
    }

    fn file(&self, iface: &NetInterface, file: &str) -> Option<String> {
        self.root
            .read_trimmed(&self.root.interface_file(&iface.name, file))
    }

    fn number(&self, iface: &NetInterface, file: &str) -> Option<u64> {
        self.root
            .read_number(&self.root.interface_file(&iface.name, file))
    }

    fn is_up(&self, iface: &NetInterface) -> bool {
        self.number(iface, "flags").is_some_and(|f| f & IFF_UP != 0)
    }

    fn status(&self, iface: &NetInterface) -> Value {
        let oper = self.file(iface, "operstate");
        Value::string(status(oper.as_deref(), self.is_up(iface)))
    }

    /// `Stats.*` shared by both tables; `None` for counters the kernel does not keep.
    fn stat(&self, iface: &NetInterface, name: &str) -> Option<Value> {
        let (file, wide) = match name {
            "BytesSent" => ("tx_bytes", true),
            "BytesReceived" => ("rx_bytes", true),
            "PacketsSent" => ("tx_packets", true),
            "PacketsReceived" => ("rx_packets", true),
            "ErrorsSent" => ("tx_errors", false),
            "ErrorsReceived" => ("rx_errors", false),
            "DiscardPacketsSent" => ("tx_dropped", false),
            "DiscardPacketsReceived" => ("rx_dropped", false),
            "MulticastPacketsReceived" => ("multicast", true),
            _ => return None,
        };
        let v = self.number(iface, &format!("statistics/{file}"))?;
        Some(if wide {
            Value::UnsignedLong(v)
        } else {
            // StatsCounter32: wraps like the 32-bit counter it is.
            Value::UnsignedInt(v as u32)
        })
    }

    fn ethernet(&self, index: u32, leaf: &str) -> Option<Value> {
        let iface = self
            .root
            .interface(index)
            .filter(|i| i.link_type == LINK_ETHER)?;
        match leaf {
            "Enable" => Some(Value::Boolean(self.is_up(&iface))),
            "Status" => Some(self.status(&iface)),
            "Name" => Some(Value::string(iface.name.as_str())),
            "MACAddress" => self.file(&iface, "address").map(Value::string),
            "CurrentBitRate" => {
                let speed = self.file(&iface, "speed")?.parse::<i64>().ok()?;
                Some(Value::UnsignedInt(u32::try_from(speed.max(0)).unwrap_or(0)))
            }
            "DuplexMode" => match self.file(&iface, "duplex")?.as_str() {
                "full" => Some(Value::string("Full")),
                "half" => Some(Value::string("Half")),
                _ => None,
            },
            "Upstream" => Some(Value::Boolean(false)),
            _ => self.stat(&iface, leaf.strip_prefix("Stats.")?),
        }
    }

    fn addresses(&self, iface: &NetInterface, v6: bool) -> Vec<InterfaceAddress> {
        self.root
            .addresses_of(&iface.name)
            .into_iter()
            .filter(|a| a.address.is_ipv6() == v6)
            .collect()
    }

    fn ip(&self, index: u32, leaf: &str) -> Option<Value> {
        let iface = self.root.interface(index)?;
        for (table, v6) in [("IPv4Address.", false), ("IPv6Address.", true)] {
            if let Some(rest) = leaf.strip_prefix(table) {
                let (n, param) = split_instance(rest)?;
                let addr = self.addresses(&iface, v6).into_iter().nth(n as usize - 1)?;
                return address_param(&addr, param);
            }
        }
        match leaf {
            "Enable" => Some(Value::Boolean(self.is_up(&iface))),
            "Status" => Some(self.status(&iface)),
            "Name" => Some(Value::string(iface.name.as_str())),
            "Type" => Some(Value::string(if iface.link_type == LINK_LOOPBACK {
                "Loopback"
            } else {
                "Normal"
            })),
            "Loopback" => Some(Value::Boolean(iface.link_type == LINK_LOOPBACK)),
            "MaxMTUSize" => {
                let mtu = self.number(&iface, "mtu")?;
                Some(Value::UnsignedInt(mtu.clamp(64, 65535) as u32))
            }
            "LowerLayers" => Some(Value::string(if iface.link_type == LINK_ETHER {
                format!("{ETH_TABLE}{}", iface.index)
            } else {
                String::new()
            })),
            "IPv4Enable" => Some(Value::Boolean(!self.addresses(&iface, false).is_empty())),
            "IPv6Enable" => Some(Value::Boolean(!self.addresses(&iface, true).is_empty())),
            _ => self.stat(&iface, leaf.strip_prefix("Stats.")?),
        }
    }

    fn top(&self, path: &str) -> Option<Value> {
        let v6 = self.root.path("proc/net/if_inet6").exists();
        match path {
            "Device.IP.IPv4Capable" => Some(Value::Boolean(true)),
            "Device.IP.IPv4Status" => Some(Value::string("Enabled")),
            "Device.IP.IPv6Capable" => Some(Value::Boolean(v6)),
            "Device.IP.IPv6Status" => Some(Value::string(if v6 { "Enabled" } else { "Disabled" })),
            _ => None,
        }
    }
}

fn address_param(addr: &InterfaceAddress, param: &str) -> Option<Value> {
    match (param, addr.address) {
        ("Enable", _) => Some(Value::Boolean(true)),
        ("Status", _) => Some(Value::string("Enabled")),
        ("IPAddress", a) => Some(Value::string(a.to_string())),
        ("SubnetMask", IpAddr::V4(_)) => Some(Value::string(netmask(addr.prefix_len).to_string())),
        ("Origin", IpAddr::V6(a)) if a.is_loopback() => Some(Value::string("WellKnown")),
        ("Origin", IpAddr::V6(a)) if a.is_unicast_link_local() => {
            Some(Value::string("AutoConfigured"))
        }
        _ => None,
    }
}

impl Handler for NetHandler {
    fn get(&self, path: &str) -> Option<Value> {
        if let Some(rest) = path.strip_prefix(ETH_TABLE) {
            let (index, leaf) = split_instance(rest)?;
            return self.ethernet(index, leaf);
        }
        if let Some(rest) = path.strip_prefix(IP_TABLE) {
            let (index, leaf) = split_instance(rest)?;
            return self.ip(index, leaf);
        }
        self.top(path)
    }

    fn validate(&self, path: &str, _value: &Value) -> Result<(), DataModelError> {
        if self.get(path).is_some() {
            return Err(DataModelError::RequestDenied(format!(
                "{path} reflects the host's network configuration, which this agent does not change"
            )));
        }
        Ok(())
    }

    fn instances(&self, table_path: &str) -> Option<Vec<u32>> {
        if table_path == ETH_TABLE {
            return Some(
                self.root
                    .interfaces()
                    .into_iter()
                    .filter(|i| i.link_type == LINK_ETHER)
                    .map(|i| i.index)
                    .collect(),
            );
        }
        if table_path == IP_TABLE {
            return Some(
                self.root
                    .interfaces()
                    .into_iter()
                    .map(|i| i.index)
                    .collect(),
            );
        }
        let (index, table) = split_instance(table_path.strip_prefix(IP_TABLE)?)?;
        let v6 = match table {
            "IPv4Address." => false,
            "IPv6Address." => true,
            _ => return None,
        };
        let count = self
            .root
            .interface(index)
            .map_or(0, |iface| self.addresses(&iface, v6).len());
        Some((1..=count as u32).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netmask_from_prefix_length() {
        assert_eq!(netmask(24), Ipv4Addr::new(255, 255, 255, 0));
        assert_eq!(netmask(0), Ipv4Addr::UNSPECIFIED);
        assert_eq!(netmask(32), Ipv4Addr::BROADCAST);
    }

    #[test]
    fn status_maps_operstate() {
        assert_eq!(status(Some("up"), true), "Up");
        assert_eq!(status(Some("unknown"), true), "Up");
        assert_eq!(status(Some("unknown"), false), "Unknown");
        assert_eq!(status(Some("lowerlayerdown"), false), "LowerLayerDown");
        assert_eq!(status(None, false), "Unknown");
    }
}
