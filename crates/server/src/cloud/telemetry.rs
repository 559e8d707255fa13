//! The `telemetry` microservice's memory (protocol §7.4): per device, the samples received,
//! newest last, bounded by count (`cloud.telemetry_history`, default 360) and by bytes of JSON
//! (`cloud.telemetry_history_bytes`, default 1 MiB), oldest dropped first. The latest sample is
//! also persisted by the subconnection (`Store::set_cloud_telemetry`); the history is lost on
//! restart by design.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use tether_store::Timestamp;

/// One received sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    pub at: Timestamp,
    pub sample: serde_json::Value,
    bytes: usize,
}

#[derive(Default)]
struct Ring {
    samples: VecDeque<Received>,
    bytes: usize,
}

/// Every device's history.
pub struct Histories {
    max_samples: usize,
    max_bytes: usize,
    rings: Mutex<HashMap<Box<str>, Ring>>,
}

impl Histories {
    pub fn new(max_samples: usize, max_bytes: usize) -> Self {
        Histories {
            max_samples: max_samples.max(1),
            max_bytes: max_bytes.max(1),
            rings: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Box<str>, Ring>> {
        self.rings.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends a sample of `bytes` JSON bytes, dropping the oldest past either bound.
    pub fn push(&self, serial: &str, at: Timestamp, sample: serde_json::Value, bytes: usize) {
        let mut rings = self.lock();
        let ring = rings.entry(serial.into()).or_default();
        ring.samples.push_back(Received { at, sample, bytes });
        ring.bytes += bytes;
        while ring.samples.len() > self.max_samples
            || (ring.bytes > self.max_bytes && ring.samples.len() > 1)
        {
            if let Some(old) = ring.samples.pop_front() {
                ring.bytes -= old.bytes;
            }
        }
    }

    /// Samples received after `since` (all when `None`), oldest first.
    pub fn since(&self, serial: &str, since: Option<Timestamp>) -> Vec<Received> {
        self.lock()
            .get(serial)
            .map(|r| {
                r.samples
                    .iter()
                    .filter(|s| since.is_none_or(|t| s.at > t))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn forget(&self, serial: &str) {
        self.lock().remove(serial);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_by_count_and_bytes() {
        let h = Histories::new(3, 100);
        for i in 0..5 {
            h.push("S", Timestamp(i), serde_json::json!(i), 10);
        }
        let all = h.since("S", None);
        assert_eq!(all.len(), 3);
        assert_eq!(all[0].at, Timestamp(2));
        assert_eq!(h.since("S", Some(Timestamp(3))).len(), 1);
        h.push("S", Timestamp(9), serde_json::json!(9), 95);
        assert_eq!(
            h.since("S", None).len(),
            1,
            "bytes bound keeps the newest only"
        );
    }
}
