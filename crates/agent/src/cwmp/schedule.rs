//! Time for the CWMP driver: its clock and the arithmetic of periodic Informs.
//!
//! Owns [`Clock`] (one place where the driver reads time: monotonic tokio time, so a paused
//! test clock drives every timer, plus a wall-clock anchor) and [`next_periodic`] (PER-01:
//! Informs at `PeriodicInformTime + N × PeriodicInformInterval`).
//!
//! The wall clock is the system time read at start plus the monotonic time elapsed since; it
//! is re-anchored when the system clock moves more than [`REANCHOR_DRIFT_SECS`] away from it
//! (an NTP step after boot), so a paused test clock and a stepping system clock both behave.
//!
//! Must not touch: sockets, files.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tether_cwmp::session::Millis;
use tokio::time::Instant;

/// How far the system clock may drift from the driver's wall clock before it is re-read.
pub const REANCHOR_DRIFT_SECS: f64 = 120.0;

/// The driver's clock (see the module docs).
#[derive(Debug, Clone)]
pub struct Clock {
    origin: Instant,
    anchor: Instant,
    anchor_unix: f64,
}

fn system_unix() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl Clock {
    /// A clock anchored now.
    pub fn new() -> Clock {
        let now = Instant::now();
        Clock {
            origin: now,
            anchor: now,
            anchor_unix: system_unix(),
        }
    }

    /// Monotonic time for the session machines.
    pub fn millis(&self) -> Millis {
        Millis(u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX))
    }

    /// The monotonic instant of a [`Millis`] value.
    pub fn instant_of(&self, at: Millis) -> Instant {
        self.origin + Duration::from_millis(at.0)
    }

    /// Wall-clock Unix seconds (fractional).
    pub fn unix_f64(&mut self) -> f64 {
        let derived = self.anchor_unix + self.anchor.elapsed().as_secs_f64();
        let system = system_unix();
        // Only a clock that is not paused can drift from the system's; a paused test clock
        // stands still in real time, so never re-anchor while tokio time runs ahead.
        if (system - derived).abs() > REANCHOR_DRIFT_SECS && system > derived {
            self.anchor = Instant::now();
            self.anchor_unix = system;
            return system;
        }
        derived
    }

    /// Wall-clock Unix seconds.
    pub fn unix(&mut self) -> i64 {
        self.unix_f64().floor() as i64
    }

    /// The monotonic instant at which the wall clock shows `unix` (now if that has passed).
    pub fn instant_at_unix(&mut self, unix: i64) -> Instant {
        let wait = unix as f64 - self.unix_f64();
        if wait <= 0.0 {
            Instant::now()
        } else {
            Instant::now() + Duration::from_secs_f64(wait.min(1e9))
        }
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}

/// The first periodic Inform strictly after `now` for `phase` and `interval` seconds (PER-01).
pub fn next_periodic(phase: i64, interval: u32, now: i64) -> i64 {
    let interval = i64::from(interval.max(1));
    let n = (now - phase).div_euclid(interval) + 1;
    phase + n * interval
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_01_periodic_informs_follow_the_phase_past_and_future() {
        // Midnight phase, daily: the next midnight.
        assert_eq!(next_periodic(0, 86_400, 100_000), 172_800);
        // A phase in the future: informs also happen before it, on the same grid.
        assert_eq!(next_periodic(1_000, 300, 10), 100);
        // Exactly on the grid: the next one, not now.
        assert_eq!(next_periodic(0, 60, 120), 180);
    }
}
