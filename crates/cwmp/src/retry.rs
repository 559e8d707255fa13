//! Session retry back-off (TR-069 §3.2.1.1; requirements §4.6, `RTY-01`, `RTY-02`, `RTY-05`) and a
//! small generic exponential back-off for the product's other reconnect loops.
//!
//! This module owns the arithmetic only. It must not read a clock, sleep, or draw random numbers:
//! the caller passes the retry count and a random fraction in `[0, 1)`, and schedules the returned
//! [`Duration`] itself. Counting consecutive failures (`RTY-02`) belongs to the CPE session machine.
//!
//! The wait range for retry `n` (1-based, capped at 10) is
//! `[m * (k/1000)^(n-1), m * (k/1000)^n]` seconds. It is computed exactly in integer nanoseconds
//! (no floating-point drift); values too large for a [`Duration`] saturate to [`Duration::MAX`].

use std::time::Duration;

/// Lowest allowed `CWMPRetryMinimumWaitInterval` (seconds).
pub const MIN_WAIT_RANGE: std::ops::RangeInclusive<u32> = 1..=65535;
/// Allowed `CWMPRetryIntervalMultiplier` values (thousandths).
pub const MULTIPLIER_RANGE: std::ops::RangeInclusive<u32> = 1000..=65535;
/// Retry numbers above this use the range of this one (TR-069 table: "10 and subsequent").
pub const MAX_RETRY_EXPONENT: u32 = 10;

const NANOS_PER_SEC: u128 = 1_000_000_000;

/// An invalid retry policy value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RetryPolicyError {
    /// `CWMPRetryMinimumWaitInterval` outside 1..=65535.
    #[error("CWMPRetryMinimumWaitInterval {0} is outside 1..=65535")]
    MinWaitOutOfRange(u32),
    /// `CWMPRetryIntervalMultiplier` outside 1000..=65535.
    #[error("CWMPRetryIntervalMultiplier {0} is outside 1000..=65535")]
    MultiplierOutOfRange(u32),
}

/// The two `ManagementServer.CWMPRetry*` parameters: `m` (seconds) and `k` (thousandths).
///
/// Fields are private so a policy is always valid; build it with [`RetryPolicy::new`] or
/// [`RetryPolicy::default`] (m = 5, k = 2000).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RetryPolicy {
    min_wait_secs: u32,
    multiplier: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            min_wait_secs: 5,
            multiplier: 2000,
        }
    }
}

impl RetryPolicy {
    /// Validates `m` (1..=65535) and `k` (1000..=65535).
    pub fn new(min_wait_secs: u32, multiplier: u32) -> Result<Self, RetryPolicyError> {
        if !MIN_WAIT_RANGE.contains(&min_wait_secs) {
            return Err(RetryPolicyError::MinWaitOutOfRange(min_wait_secs));
        }
        if !MULTIPLIER_RANGE.contains(&multiplier) {
            return Err(RetryPolicyError::MultiplierOutOfRange(multiplier));
        }
        Ok(Self {
            min_wait_secs,
            multiplier,
        })
    }

    /// `CWMPRetryMinimumWaitInterval` (m), seconds.
    pub fn min_wait_secs(&self) -> u32 {
        self.min_wait_secs
    }

    /// `CWMPRetryIntervalMultiplier` (k), thousandths.
    pub fn multiplier(&self) -> u32 {
        self.multiplier
    }

    /// The `[min, max]` wait for retry number `retry` (1 = first retry after a failed session).
    /// `0` is treated as `1`; anything above 10 uses the range of 10.
    pub fn wait_range(&self, retry: u32) -> (Duration, Duration) {
        let n = retry.clamp(1, MAX_RETRY_EXPONENT);
        (self.scaled(n - 1), self.scaled(n))
    }

    /// A wait uniformly placed in [`Self::wait_range`]: `min + (max - min) * random_fraction`.
    /// The fraction is clamped to `[0, 1]` (NaN counts as 0), so this never panics.
    pub fn wait(&self, retry: u32, random_fraction: f64) -> Duration {
        let (min, max) = self.wait_range(retry);
        let span = max.saturating_sub(min).as_nanos();
        lerp_nanos(min, span, random_fraction)
    }

    /// `m * (k/1000)^e` seconds, exactly (floored to a nanosecond), saturating.
    fn scaled(&self, e: u32) -> Duration {
        // Reduce k/1000 to a/b so the denominator b^e stays small (b divides 1000, e <= 10, so
        // b^e <= 10^30 < 2^100). Track the value as q + r/b^e with r < b^e; every product fits.
        let k = u128::from(self.multiplier);
        let g = gcd(k, 1000);
        let (a, b) = (k / g, 1000 / g);
        let denom = b.pow(e);
        let start = u128::from(self.min_wait_secs) * NANOS_PER_SEC;
        // start * a^e / b^e, computed as repeated (q*D + r) * a = (q*a + r*a/D)*D + (r*a % D).
        let mut q = start / denom;
        let mut r = start % denom;
        for _ in 0..e {
            let ra = r * a; // r < 10^30, a < 2^16: fits in u128
            let Some(next_q) = q.checked_mul(a).and_then(|v| v.checked_add(ra / denom)) else {
                return Duration::MAX;
            };
            q = next_q;
            r = ra % denom;
        }
        nanos_to_duration(q)
    }
}

fn gcd(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

fn nanos_to_duration(nanos: u128) -> Duration {
    let secs = nanos / NANOS_PER_SEC;
    match u64::try_from(secs) {
        // The remainder is < 10^9 and always fits in u32.
        Ok(secs) => Duration::new(secs, (nanos % NANOS_PER_SEC) as u32),
        Err(_) => Duration::MAX,
    }
}

/// `base + span * fraction`, with the fraction clamped into `[0, 1]` and saturation everywhere.
fn lerp_nanos(base: Duration, span_nanos: u128, fraction: f64) -> Duration {
    let f = if fraction.is_nan() {
        0.0
    } else {
        fraction.clamp(0.0, 1.0)
    };
    // `as` from f64 to u128 saturates; the product never exceeds `span_nanos` by more than
    // rounding, and `min` below removes even that.
    let part = ((span_nanos as f64) * f) as u128;
    base.saturating_add(nanos_to_duration(part.min(span_nanos)))
}

/// Exponential back-off with a cap and "full jitter" for reconnect loops (cloud tunnel, store
/// connections): the n-th delay is uniform in `[0, min(cap, base * 2^n))`.
/// Call [`Backoff::reset`] after a success.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    attempt: u32,
}

impl Backoff {
    /// A back-off starting at `base` and never exceeding `cap`.
    pub fn new(base: Duration, cap: Duration) -> Self {
        Self {
            base,
            cap,
            attempt: 0,
        }
    }

    /// Failures since the last reset.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The upper bound of the next delay: `min(cap, base * 2^attempt)`.
    pub fn ceiling(&self) -> Duration {
        if self.base.is_zero() {
            return Duration::ZERO;
        }
        let mut ceiling = self.base;
        for _ in 0..self.attempt {
            if ceiling >= self.cap {
                break;
            }
            ceiling = ceiling.saturating_mul(2);
        }
        ceiling.min(self.cap)
    }

    /// The delay before the next attempt (`ceiling * random_fraction`), then counts the attempt.
    pub fn next_delay(&mut self, random_fraction: f64) -> Duration {
        let delay = lerp_nanos(Duration::ZERO, self.ceiling().as_nanos(), random_fraction);
        self.attempt = self.attempt.saturating_add(1);
        delay
    }

    /// Forget past failures (after a successful connection).
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn rty01_default_table_matches_tr069() {
        let p = RetryPolicy::default();
        let table = [
            (1, 5, 10),
            (2, 10, 20),
            (3, 20, 40),
            (4, 40, 80),
            (5, 80, 160),
            (6, 160, 320),
            (7, 320, 640),
            (8, 640, 1280),
            (9, 1280, 2560),
            (10, 2560, 5120),
        ];
        for (n, lo, hi) in table {
            assert_eq!(p.wait_range(n), (secs(lo), secs(hi)), "retry {n}");
        }
    }

    #[test]
    fn rty01_retry_count_capped_at_ten_and_zero_is_first() {
        let p = RetryPolicy::default();
        for n in [11, 12, 100, u32::MAX] {
            assert_eq!(p.wait_range(n), (secs(2560), secs(5120)));
        }
        assert_eq!(p.wait_range(0), p.wait_range(1));
    }

    #[test]
    fn rty05_custom_m10_k1500_is_exact() {
        let p = RetryPolicy::new(10, 1500).unwrap();
        assert_eq!(p.wait_range(1), (secs(10), secs(15)));
        assert_eq!(p.wait_range(2), (secs(15), Duration::from_millis(22_500)));
        assert_eq!(
            p.wait_range(3),
            (Duration::from_millis(22_500), Duration::from_millis(33_750))
        );
        // 10 * 1.5^10 = 576.650390625 s, exactly representable in nanoseconds.
        assert_eq!(p.wait_range(10).1, Duration::new(576, 650_390_625));
    }

    #[test]
    fn rty01_non_terminating_ratio_is_floored_to_nanoseconds() {
        // k = 1001 -> 1.001^1 * 7 = 7.007 s exactly; 1.001^10 * 7 has 30 decimals, floored.
        let p = RetryPolicy::new(7, 1001).unwrap();
        assert_eq!(p.wait_range(1).1, Duration::from_millis(7007));
        // 7 * 1.001^10 = 7.070315... ; check against an independent integer computation.
        // nanos = 7 * 10^9 * 1001^10 / 1000^10 = 7 * 1001^10 / 10^21.
        let expected = 7 * 1001u128.pow(10) / 10u128.pow(21);
        assert_eq!(p.wait_range(10).1.as_nanos(), expected);
    }

    #[test]
    fn rty01_wait_is_inside_range_at_fraction_bounds() {
        let p = RetryPolicy::default();
        assert_eq!(p.wait(1, 0.0), secs(5));
        let near_one = p.wait(1, 1.0 - f64::EPSILON);
        assert!(near_one < secs(10) && near_one > Duration::from_millis(9_999));
        assert_eq!(p.wait(3, 0.5), secs(30));
        // Out-of-contract fractions are clamped, never panic.
        assert_eq!(p.wait(1, -3.0), secs(5));
        assert_eq!(p.wait(1, f64::NAN), secs(5));
        assert_eq!(p.wait(1, 7.0), secs(10));
    }

    #[test]
    fn rty01_policy_validation() {
        assert_eq!(
            RetryPolicy::new(0, 2000),
            Err(RetryPolicyError::MinWaitOutOfRange(0))
        );
        assert_eq!(
            RetryPolicy::new(65536, 2000),
            Err(RetryPolicyError::MinWaitOutOfRange(65536))
        );
        assert_eq!(
            RetryPolicy::new(5, 999),
            Err(RetryPolicyError::MultiplierOutOfRange(999))
        );
        assert_eq!(
            RetryPolicy::new(5, 65536),
            Err(RetryPolicyError::MultiplierOutOfRange(65536))
        );
        assert!(RetryPolicy::new(65535, 65535).is_ok());
        assert!(RetryPolicy::new(1, 1000).is_ok());
    }

    #[test]
    fn rty01_k1000_means_constant_wait() {
        let p = RetryPolicy::new(30, 1000).unwrap();
        assert_eq!(p.wait_range(1), (secs(30), secs(30)));
        assert_eq!(p.wait_range(10), (secs(30), secs(30)));
        assert_eq!(p.wait(5, 0.9), secs(30));
    }

    #[test]
    fn rty01_extreme_policy_saturates_without_panic() {
        // 65535 * 65.535^10 s ~ 9.6e22 s does not fit a Duration: it saturates.
        let p = RetryPolicy::new(65535, 65535).unwrap();
        let (lo, hi) = p.wait_range(10);
        assert_eq!(hi, Duration::MAX);
        assert!(lo <= hi);
        // Lower retries still fit and are exact: 65535 * 65.535 = 4294836.225 s.
        assert_eq!(p.wait_range(1).1, Duration::from_millis(4_294_836_225));
        for n in 0..=12 {
            for f in [0.0, 0.5, 0.999_999] {
                let w = p.wait(n, f);
                let (lo, hi) = p.wait_range(n);
                assert!(lo <= w && w <= hi);
            }
        }
    }

    #[test]
    fn backoff_grows_to_cap_with_full_jitter_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(500), secs(30));
        assert_eq!(b.ceiling(), Duration::from_millis(500));
        assert_eq!(b.next_delay(0.0), Duration::ZERO);
        assert_eq!(b.ceiling(), secs(1));
        assert_eq!(b.next_delay(0.5), Duration::from_millis(500));
        assert_eq!(b.ceiling(), secs(2));
        for _ in 0..100 {
            b.next_delay(0.3);
        }
        assert_eq!(b.ceiling(), secs(30));
        assert_eq!(b.next_delay(0.5), secs(15));
        assert_eq!(b.attempt(), 103);
        b.reset();
        assert_eq!(b.attempt(), 0);
        assert_eq!(b.ceiling(), Duration::from_millis(500));
    }

    #[test]
    fn backoff_saturates_at_huge_attempt_counts() {
        let mut b = Backoff::new(secs(1), Duration::MAX);
        b.attempt = u32::MAX;
        assert_eq!(b.ceiling(), Duration::MAX);
        let d = b.next_delay(0.999);
        assert!(d <= Duration::MAX);
        assert_eq!(b.attempt(), u32::MAX);
        let mut z = Backoff::new(Duration::ZERO, secs(10));
        z.attempt = u32::MAX;
        assert_eq!(z.next_delay(0.7), Duration::ZERO);
    }
}
