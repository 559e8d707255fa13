//! The `telemetry` microservice's memory (protocol §7.4): per device, the samples received,
//! newest last, bounded by count (`cloud.telemetry_history`, default 360) and by bytes of JSON
//! (`cloud.telemetry_history_bytes`, default 1 MiB), oldest dropped first. The latest sample is
//! also persisted by the subconnection (`Store::set_cloud_telemetry`); the history is lost on
//! restart by design.
//!
//! Samples are kept as compact JSON text and parsed when the API asks: a parsed
//! `serde_json::Value` (a map node per object, a heap string per key and name) takes about
//! eight times the memory of its text, 3.3 KiB for a typical sample, and every connected device
//! keeps up to 360 of them. The byte bound is then the memory the samples take.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use tether_store::Timestamp;

/// One received sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    pub at: Timestamp,
    pub sample: serde_json::Value,
}

/// A sample as kept: its compact JSON text.
struct Kept {
    at: Timestamp,
    json: Box<str>,
}

#[derive(Default)]
struct Ring {
    samples: VecDeque<Kept>,
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

    /// Appends a sample, dropping the oldest past either bound.
    pub fn push(&self, serial: &str, at: Timestamp, sample: &serde_json::Value) {
        let json: Box<str> = sample.to_string().into();
        let mut rings = self.lock();
        let ring = rings.entry(serial.into()).or_default();
        ring.bytes += json.len();
        ring.samples.push_back(Kept { at, json });
        while ring.samples.len() > self.max_samples
            || (ring.bytes > self.max_bytes && ring.samples.len() > 1)
        {
            if let Some(old) = ring.samples.pop_front() {
                ring.bytes -= old.json.len();
            }
        }
    }

    /// Samples received after `since` (all when `None`), oldest first.
    pub fn since(&self, serial: &str, since: Option<Timestamp>) -> Vec<Received> {
        let kept: Vec<(Timestamp, Box<str>)> = self
            .lock()
            .get(serial)
            .map(|r| {
                r.samples
                    .iter()
                    .filter(|s| since.is_none_or(|t| s.at > t))
                    .map(|s| (s.at, s.json.clone()))
                    .collect()
            })
            .unwrap_or_default();
        // Parsed outside the lock; the text was written from a `Value`, so it parses.
        kept.into_iter()
            .map(|(at, json)| Received {
                at,
                sample: serde_json::from_str(&json).unwrap_or_default(),
            })
            .collect()
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
            h.push("S", Timestamp(i), &serde_json::json!({"seq": i}));
        }
        let all = h.since("S", None);
        assert_eq!(all.len(), 3);
        assert_eq!(all[0].at, Timestamp(2));
        assert_eq!(all[0].sample, serde_json::json!({"seq": 2}));
        assert_eq!(h.since("S", Some(Timestamp(3))).len(), 1);
        // 9 bytes each so far; this one is 95 bytes of JSON.
        let big = serde_json::json!({"name": "x".repeat(84)});
        assert_eq!(big.to_string().len(), 95);
        h.push("S", Timestamp(9), &big);
        let all = h.since("S", None);
        assert_eq!(all.len(), 1, "bytes bound keeps the newest only");
        assert_eq!(all[0].sample, big);
    }
}
