//! `Device.DeviceInfo.`: who the device is and how it is doing.
//!
//! Owns [`Identity`] (manufacturer, OUI, model, product class, serial, versions: from the agent
//! configuration with host-derived defaults) and [`DeviceInfoHandler`], which serves the
//! identity and the live values: `UpTime` (`/proc/uptime`), `MemoryStatus.Total` / `.Free`
//! (`/proc/meminfo` `MemTotal` / `MemAvailable`, KiB; `MemFree` on kernels without
//! `MemAvailable`) and `ProcessStatus.CPUUsage` (busy share of the `/proc/stat` jiffies since the
//! previous read; since boot on the first read).
//!
//! Must not touch: `DeviceInfo.ProvisioningCode`, which belongs to the running configuration
//! (`mapping.rs`).

use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};
use tether_datamodel::{Handler, Value};

use crate::config::IdentityConfig;
use crate::host::root::HostRoot;

/// The prefix this handler serves.
pub const PREFIX: &str = "Device.DeviceInfo.";

/// The identity values of `Device.DeviceInfo.` and the Inform's DeviceId.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// `Manufacturer`.
    pub manufacturer: String,
    /// `ManufacturerOUI`.
    pub manufacturer_oui: String,
    /// `ModelName`.
    pub model_name: String,
    /// `ProductClass`.
    pub product_class: String,
    /// `SerialNumber`.
    pub serial_number: String,
    /// `HardwareVersion`.
    pub hardware_version: String,
    /// `SoftwareVersion`: this crate's version.
    pub software_version: String,
}

impl Identity {
    /// The identity from `config`, with host-derived defaults read under `root`.
    pub fn resolve(config: &IdentityConfig, root: &HostRoot) -> Identity {
        Identity {
            manufacturer: config.manufacturer.clone(),
            manufacturer_oui: config.manufacturer_oui.clone(),
            model_name: config.model_name.clone(),
            product_class: config.product_class.clone(),
            serial_number: config
                .serial_number
                .clone()
                .unwrap_or_else(|| default_serial(root)),
            hardware_version: config
                .hardware_version
                .clone()
                .unwrap_or_else(|| std::env::consts::ARCH.to_owned()),
            software_version: env!("CARGO_PKG_VERSION").to_owned(),
        }
    }
}

/// 16 upper-case hex digits of SHA-256 over the machine id (so the id itself, which systemd
/// asks applications not to disclose, stays private); over the host name when there is no
/// machine id, prefixed `TETHER`.
pub fn default_serial(root: &HostRoot) -> String {
    let digest = |text: &str| {
        let hash = Sha256::digest(format!("tether-agent serial number\n{text}").as_bytes());
        hash.iter()
            .take(8)
            .map(|b| format!("{b:02X}"))
            .collect::<String>()
    };
    for file in ["etc/machine-id", "var/lib/dbus/machine-id"] {
        if let Some(id) = root.read_trimmed(file).filter(|id| !id.is_empty()) {
            return digest(&id);
        }
    }
    let host = root
        .read_trimmed("proc/sys/kernel/hostname")
        .unwrap_or_default();
    format!("TETHER{}", &digest(&host)[..10])
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CpuSample {
    total: u64,
    idle: u64,
}

#[derive(Debug, Default)]
struct CpuState {
    last: Option<CpuSample>,
    usage: u32,
}

/// Serves `Device.DeviceInfo.` (see the module docs).
pub struct DeviceInfoHandler {
    root: Arc<HostRoot>,
    identity: Identity,
    cpu: Mutex<CpuState>,
}

impl DeviceInfoHandler {
    /// A handler for `identity`, reading live values under `root`.
    pub fn new(root: Arc<HostRoot>, identity: Identity) -> DeviceInfoHandler {
        DeviceInfoHandler {
            root,
            identity,
            cpu: Mutex::new(CpuState::default()),
        }
    }

    fn uptime(&self) -> Option<u32> {
        let text = self.root.read("proc/uptime")?;
        let secs: f64 = text.split_whitespace().next()?.parse().ok()?;
        Some(secs.max(0.0).min(f64::from(u32::MAX)) as u32)
    }

    fn meminfo(&self, key: &str) -> Option<u32> {
        let text = self.root.read("proc/meminfo")?;
        text.lines().find_map(|line| {
            let rest = line.strip_prefix(key)?.strip_prefix(':')?;
            let kib: u64 = rest.split_whitespace().next()?.parse().ok()?;
            Some(u32::try_from(kib).unwrap_or(u32::MAX))
        })
    }

    fn cpu_sample(&self) -> Option<CpuSample> {
        let text = self.root.read("proc/stat")?;
        let line = text.lines().find(|l| l.starts_with("cpu "))?;
        let fields: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .take(8)
            .map(|f| f.parse().unwrap_or(0))
            .collect();
        if fields.len() < 4 {
            return None;
        }
        // user nice system idle iowait irq softirq steal: idle time is idle + iowait.
        let idle = fields[3] + fields.get(4).copied().unwrap_or(0);
        Some(CpuSample {
            total: fields.iter().sum(),
            idle,
        })
    }

    fn cpu_usage(&self) -> Option<u32> {
        let now = self.cpu_sample()?;
        let mut state = self.cpu.lock().unwrap_or_else(|p| p.into_inner());
        let (total, idle) = match state.last {
            Some(prev) if now.total > prev.total => {
                (now.total - prev.total, now.idle.saturating_sub(prev.idle))
            }
            // No time passed since the previous read: repeat its answer.
            Some(_) => return Some(state.usage),
            None => (now.total, now.idle),
        };
        if total > 0 {
            let busy = total - idle.min(total);
            state.usage = u32::try_from(busy * 100 / total).unwrap_or(100);
        }
        state.last = Some(now);
        Some(state.usage)
    }
}

impl Handler for DeviceInfoHandler {
    fn get(&self, path: &str) -> Option<Value> {
        let leaf = path.strip_prefix(PREFIX)?;
        let id = &self.identity;
        let text = |s: &str| Some(Value::string(s));
        match leaf {
            "Manufacturer" => text(&id.manufacturer),
            "ManufacturerOUI" => text(&id.manufacturer_oui),
            "ModelName" => text(&id.model_name),
            "ProductClass" => text(&id.product_class),
            "SerialNumber" => text(&id.serial_number),
            "HardwareVersion" => text(&id.hardware_version),
            "SoftwareVersion" => text(&id.software_version),
            "Description" => text("Tether TR-069 agent"),
            "UpTime" => self.uptime().map(Value::UnsignedInt),
            "MemoryStatus.Total" => self.meminfo("MemTotal").map(Value::UnsignedInt),
            "MemoryStatus.Free" => self
                .meminfo("MemAvailable")
                .or_else(|| self.meminfo("MemFree"))
                .map(Value::UnsignedInt),
            "ProcessStatus.CPUUsage" => self.cpu_usage().map(Value::UnsignedInt),
            _ => None,
        }
    }
}
