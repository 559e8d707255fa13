//! Where host facts are read from: [`HostRoot`].
//!
//! Owns the injectable root of the `/proc`, `/sys` and `/etc` files the host handlers read,
//! the interface listing of `/sys/class/net`, and the source of interface addresses
//! (`getifaddrs` on a real host, a fixed list for a prepared tree). Every read is small,
//! bounded and done when asked: nothing is polled, and nothing is cached unless the host was
//! built [`HostRoot::with_shared_reads`] (the simulator's many devices on one host).
//!
//! Must not touch: the data model (the handlers in the sibling files map facts to parameters).

use std::fs;
use std::io::Read;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use super::shared_reads::SharedReads;

/// Largest file read (the files read are a few hundred bytes; `/proc/net/arp` can grow).
const MAX_READ: u64 = 256 * 1024;
/// Most interfaces listed.
const MAX_INTERFACES: usize = 1024;

/// `ARPHRD_ETHER`: the link type of Ethernet (and Ethernet-like virtual) interfaces.
pub const LINK_ETHER: u32 = 1;
/// `ARPHRD_LOOPBACK`.
pub const LINK_LOOPBACK: u32 = 772;

/// One address of one interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceAddress {
    /// Interface name (`eth0`).
    pub interface: String,
    /// The address.
    pub address: IpAddr,
    /// Prefix length of its subnet.
    pub prefix_len: u8,
}

/// Where interface addresses come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressSource {
    /// The running kernel, through `getifaddrs`.
    System,
    /// A fixed list (prepared trees, simulators).
    Fixed(Vec<InterfaceAddress>),
}

/// The root of the host files the handlers read (`/` in production).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRoot {
    root: PathBuf,
    addresses: AddressSource,
    shared: Option<SharedHandle>,
}

/// A [`SharedReads`] held by a host; hosts are equal when they share the same one.
#[derive(Debug, Clone)]
struct SharedHandle(Arc<SharedReads>);

impl PartialEq for SharedHandle {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for SharedHandle {}

/// An entry of `/sys/class/net`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetInterface {
    /// Kernel name.
    pub name: String,
    /// `ifindex`: the instance number in `Device.Ethernet.Interface.` and
    /// `Device.IP.Interface.`, stable while the interface exists.
    pub index: u32,
    /// Link type (`ARPHRD_*`).
    pub link_type: u32,
}

impl HostRoot {
    /// The real host: `/` and `getifaddrs`.
    pub fn system() -> HostRoot {
        HostRoot::new("/")
    }

    /// A host rooted at `root`, with addresses from `getifaddrs`.
    pub fn new(root: impl Into<PathBuf>) -> HostRoot {
        HostRoot {
            root: root.into(),
            addresses: AddressSource::System,
            shared: None,
        }
    }

    /// Uses a fixed address list instead of `getifaddrs`.
    pub fn with_addresses(mut self, addresses: Vec<InterfaceAddress>) -> HostRoot {
        self.addresses = AddressSource::Fixed(addresses);
        self
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `root/relative`.
    pub fn path(&self, relative: &str) -> PathBuf {
        self.root.join(relative.trim_start_matches('/'))
    }

    /// The text of a host file (at most 256 KiB), `None` if it cannot be read.
    pub fn read(&self, relative: &str) -> Option<String> {
        match &self.shared {
            Some(shared) => shared
                .0
                .get_or_read(relative, Instant::now(), || self.read_file(relative)),
            None => self.read_file(relative),
        }
    }

    /// Serves reads through `shared`, which other hosts of this process may hold too.
    pub fn with_shared_reads(mut self, shared: Arc<SharedReads>) -> HostRoot {
        self.shared = Some(SharedHandle(shared));
        self
    }

    fn read_file(&self, relative: &str) -> Option<String> {
        let mut text = String::new();
        fs::File::open(self.path(relative))
            .ok()?
            .take(MAX_READ)
            .read_to_string(&mut text)
            .ok()?;
        Some(text)
    }

    /// A one-line host file, trimmed.
    pub fn read_trimmed(&self, relative: &str) -> Option<String> {
        self.read(relative).map(|t| t.trim().to_owned())
    }

    /// A host file holding one decimal (or `0x` hex) number.
    pub fn read_number(&self, relative: &str) -> Option<u64> {
        let text = self.read_trimmed(relative)?;
        match text.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16).ok(),
            None => text.parse().ok(),
        }
    }

    /// The interfaces of `/sys/class/net`, sorted by index.
    pub fn interfaces(&self) -> Vec<NetInterface> {
        let Ok(dir) = fs::read_dir(self.path("sys/class/net")) else {
            return Vec::new();
        };
        let mut list: Vec<NetInterface> = dir
            .filter_map(Result::ok)
            .take(MAX_INTERFACES)
            .filter_map(|entry| {
                let name = entry.file_name().into_string().ok()?;
                let base = format!("sys/class/net/{name}");
                let index = u32::try_from(self.read_number(&format!("{base}/ifindex"))?).ok()?;
                let link_type = self
                    .read_number(&format!("{base}/type"))
                    .and_then(|t| u32::try_from(t).ok())
                    .unwrap_or(0);
                (index > 0).then_some(NetInterface {
                    name,
                    index,
                    link_type,
                })
            })
            .collect();
        list.sort_by_key(|i| i.index);
        list
    }

    /// The interface with `index`.
    pub fn interface(&self, index: u32) -> Option<NetInterface> {
        self.interfaces().into_iter().find(|i| i.index == index)
    }

    /// A file of an interface's `/sys/class/net/NAME/` directory.
    pub fn interface_file(&self, name: &str, file: &str) -> String {
        format!("sys/class/net/{name}/{file}")
    }

    /// The addresses of `interface`, IPv4 first, in the kernel's order.
    pub fn addresses_of(&self, interface: &str) -> Vec<InterfaceAddress> {
        let mut list: Vec<InterfaceAddress> = match &self.addresses {
            AddressSource::Fixed(all) => all
                .iter()
                .filter(|a| a.interface == interface)
                .cloned()
                .collect(),
            AddressSource::System => system_addresses(interface),
        };
        list.sort_by_key(|a| a.address.is_ipv6());
        list
    }
}

fn system_addresses(interface: &str) -> Vec<InterfaceAddress> {
    let Ok(all) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    all.filter(|a| a.interface_name == interface)
        .filter_map(|a| {
            let address = a.address?;
            let netmask = a.netmask;
            if let Some(v4) = address.as_sockaddr_in() {
                let prefix_len = netmask
                    .as_ref()
                    .and_then(|m| m.as_sockaddr_in())
                    .map_or(32, |m| m.ip().to_bits().count_ones() as u8);
                Some(InterfaceAddress {
                    interface: interface.to_owned(),
                    address: IpAddr::V4(v4.ip()),
                    prefix_len,
                })
            } else {
                let v6 = address.as_sockaddr_in6()?;
                let prefix_len = netmask
                    .as_ref()
                    .and_then(|m| m.as_sockaddr_in6())
                    .map_or(128, |m| m.ip().to_bits().count_ones() as u8);
                Some(InterfaceAddress {
                    interface: interface.to_owned(),
                    address: IpAddr::V6(v6.ip()),
                    prefix_len,
                })
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_sharing_reads_see_one_text_and_a_plain_host_reads_afresh() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("proc")).unwrap();
        fs::write(dir.path().join("proc/uptime"), "10.0 1.0\n").unwrap();
        let shared = SharedReads::new(std::time::Duration::from_secs(3600));
        let a = HostRoot::new(dir.path()).with_shared_reads(Arc::clone(&shared));
        let b = HostRoot::new(dir.path()).with_shared_reads(shared);
        let plain = HostRoot::new(dir.path());
        assert_eq!(a.read_trimmed("proc/uptime").as_deref(), Some("10.0 1.0"));
        fs::write(dir.path().join("proc/uptime"), "20.0 2.0\n").unwrap();
        assert_eq!(b.read_trimmed("proc/uptime").as_deref(), Some("10.0 1.0"));
        assert_eq!(
            plain.read_trimmed("proc/uptime").as_deref(),
            Some("20.0 2.0")
        );
        assert_eq!(a, b);
        assert_ne!(a, plain);
    }

    #[test]
    fn system_addresses_of_loopback_include_127_0_0_1_when_present() {
        // The real kernel: every Linux host with networking has `lo` with 127.0.0.1/8, but a
        // network namespace without it is possible, so only check the form when present.
        let root = HostRoot::system();
        for a in root.addresses_of("lo") {
            if let IpAddr::V4(v4) = a.address {
                assert!(v4.is_loopback());
                assert_eq!(a.prefix_len, 8);
            }
        }
    }
}
