//! Reconnect back-off: exponential, capped, with jitter supplied by the caller.
//!
//! Owns: the delay before the next connection attempt. Must not touch: when an attempt
//! counts as failed (see `device.rs`).
//!
//! The n-th consecutive failure (n = 1, 2, ...) waits a delay drawn from
//! `[d/2, d]` where `d = min(max, initial × 2^(n-1))`: never zero (a fleet never retries in
//! lock-step), never more than `max`. A success resets n to 0.

use std::time::Duration;

/// A uniform random fraction in `[0, 1)` supplied by the driver: `Jitter(x)` means `x / 2^32`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Jitter(pub u32);

impl Jitter {
    /// Scales `d` by this fraction.
    pub fn of(self, d: Duration) -> Duration {
        let nanos = d.as_nanos().saturating_mul(u128::from(self.0)) >> 32;
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }
}

/// Back-off parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffConfig {
    /// Ceiling of the first delay (default 2 s).
    pub initial: Duration,
    /// Ceiling of every delay (default 300 s).
    pub max: Duration,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        BackoffConfig {
            initial: Duration::from_secs(2),
            max: Duration::from_secs(300),
        }
    }
}

/// Counts consecutive failures and turns them into delays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    config: BackoffConfig,
    failures: u32,
}

impl Backoff {
    /// No failures yet.
    pub fn new(config: BackoffConfig) -> Self {
        Backoff {
            config,
            failures: 0,
        }
    }

    /// The delay after one more failure, and counts it.
    pub fn next_delay(&mut self, jitter: Jitter) -> Duration {
        let shift = self.failures.min(31);
        let d = self
            .config
            .initial
            .saturating_mul(1u32 << shift)
            .min(self.config.max);
        self.failures = self.failures.saturating_add(1);
        d / 2 + jitter.of(d / 2)
    }

    /// Consecutive failures so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Forget failures (after an established connection, or on link-up).
    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_within_jitter_bounds_and_cap() {
        let mut b = Backoff::new(BackoffConfig::default());
        let lo: Vec<_> = (0..10).map(|_| b.next_delay(Jitter(0))).collect();
        let secs: Vec<u64> = lo.iter().map(Duration::as_secs).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 32, 64, 128, 150, 150]);
        let mut b = Backoff::new(BackoffConfig::default());
        let hi = b.next_delay(Jitter(u32::MAX));
        assert!(hi < Duration::from_secs(2) && hi > Duration::from_millis(1999));
    }

    #[test]
    fn reset_starts_over() {
        let mut b = Backoff::new(BackoffConfig::default());
        b.next_delay(Jitter(0));
        b.next_delay(Jitter(0));
        b.reset();
        assert_eq!(b.failures(), 0);
        assert_eq!(b.next_delay(Jitter(0)), Duration::from_secs(1));
    }

    #[test]
    fn many_failures_do_not_overflow() {
        let mut b = Backoff::new(BackoffConfig::default());
        for _ in 0..100 {
            assert!(b.next_delay(Jitter(u32::MAX)) <= Duration::from_secs(300));
        }
    }
}
