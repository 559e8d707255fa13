//! Counting what a run did: completed sessions, errors by kind, and latencies with their
//! percentiles, shared by every worker of a run and read by the live summary.
//!
//! Owns [`Stats`] (the shared counters), [`Latencies`] (exact percentiles from recorded
//! microseconds: a run records at most a few million samples, so keeping them is cheaper and
//! more honest than a bucketed histogram) and [`Percentiles`].
//!
//! Must not touch: sockets, the clock (callers pass durations).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;

/// Percentiles of a set of latencies, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Percentiles {
    /// How many samples.
    pub count: u64,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Largest.
    pub max_ms: f64,
}

/// Recorded latencies (microseconds).
#[derive(Debug, Default)]
pub struct Latencies {
    samples: Vec<u32>,
}

impl Latencies {
    /// Adds one latency.
    pub fn record(&mut self, d: Duration) {
        self.samples
            .push(u32::try_from(d.as_micros()).unwrap_or(u32::MAX));
    }

    /// Adds every sample of `other`.
    pub fn merge(&mut self, other: &Latencies) {
        self.samples.extend_from_slice(&other.samples);
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// No samples.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// The percentiles (nearest rank). Sorts in place.
    pub fn percentiles(&mut self) -> Percentiles {
        if self.samples.is_empty() {
            return Percentiles::default();
        }
        self.samples.sort_unstable();
        let n = self.samples.len();
        let at = |q: f64| {
            let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
            f64::from(self.samples[rank - 1]) / 1000.0
        };
        Percentiles {
            count: n as u64,
            p50_ms: at(0.50),
            p90_ms: at(0.90),
            p99_ms: at(0.99),
            max_ms: f64::from(self.samples[n - 1]) / 1000.0,
        }
    }
}

/// Counters and latencies shared by the workers of one run.
#[derive(Debug, Default)]
pub struct Stats {
    /// Sessions (or other units of work) completed.
    pub completed: AtomicU64,
    /// Failed attempts.
    pub errors: AtomicU64,
    /// When false, completions are not recorded (warm-up).
    pub recording: AtomicBool,
    error_kinds: Mutex<BTreeMap<String, u64>>,
    /// Latencies since the last [`Stats::take_window`].
    window: Mutex<Latencies>,
    /// Every latency of the run (while recording).
    all: Mutex<Latencies>,
}

impl Stats {
    /// A fresh set of counters, recording from the start.
    pub fn new() -> Stats {
        let s = Stats::default();
        s.recording.store(true, Ordering::Relaxed);
        s
    }

    /// One completion that took `latency`.
    pub fn ok(&self, latency: Duration) {
        if !self.recording.load(Ordering::Relaxed) {
            return;
        }
        self.completed.fetch_add(1, Ordering::Relaxed);
        lock(&self.window).record(latency);
        lock(&self.all).record(latency);
    }

    /// One failure of kind `kind` (a short stable label).
    pub fn error(&self, kind: &str) {
        if !self.recording.load(Ordering::Relaxed) {
            return;
        }
        self.errors.fetch_add(1, Ordering::Relaxed);
        *lock(&self.error_kinds).entry(kind.to_owned()).or_insert(0) += 1;
    }

    /// The latencies recorded since the previous call (for the live summary).
    pub fn take_window(&self) -> Latencies {
        std::mem::take(&mut *lock(&self.window))
    }

    /// Percentiles over the whole run.
    pub fn overall(&self) -> Percentiles {
        lock(&self.all).percentiles()
    }

    /// Failures by kind.
    pub fn error_kinds(&self) -> BTreeMap<String, u64> {
        lock(&self.error_kinds).clone()
    }

    /// Forgets everything recorded so far (end of warm-up).
    pub fn reset(&self) {
        self.completed.store(0, Ordering::Relaxed);
        self.errors.store(0, Ordering::Relaxed);
        lock(&self.error_kinds).clear();
        *lock(&self.window) = Latencies::default();
        *lock(&self.all) = Latencies::default();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut l = Latencies::default();
        for ms in 1..=100u64 {
            l.record(Duration::from_millis(ms));
        }
        let p = l.percentiles();
        assert_eq!(p.count, 100);
        assert_eq!(p.p50_ms, 50.0);
        assert_eq!(p.p99_ms, 99.0);
        assert_eq!(p.max_ms, 100.0);
        assert_eq!(Latencies::default().percentiles(), Percentiles::default());
    }

    #[test]
    fn warm_up_is_not_recorded_and_errors_are_counted_by_kind() {
        let s = Stats::new();
        s.recording.store(false, Ordering::Relaxed);
        s.ok(Duration::from_millis(1));
        s.recording.store(true, Ordering::Relaxed);
        s.ok(Duration::from_millis(2));
        s.error("connect");
        s.error("connect");
        assert_eq!(s.completed.load(Ordering::Relaxed), 1);
        assert_eq!(s.error_kinds().get("connect"), Some(&2));
        assert_eq!(s.overall().count, 1);
    }
}
