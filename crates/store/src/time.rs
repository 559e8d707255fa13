//! Points in time as the store sees them: unix milliseconds, always passed in by the caller.
//!
//! The store never reads the clock. Every operation that records or compares a time takes a
//! [`Timestamp`] argument, so tests are deterministic and a cluster agrees on one clock source.

use std::fmt;

/// Milliseconds since the Unix epoch (UTC). Stored as a 64-bit integer in both backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// A timestamp from unix milliseconds.
    pub const fn from_unix_millis(ms: i64) -> Self {
        Timestamp(ms)
    }

    /// The unix milliseconds of this timestamp.
    pub const fn unix_millis(self) -> i64 {
        self.0
    }

    /// This timestamp moved forward by `ms` milliseconds (saturating).
    pub const fn plus_millis(self, ms: i64) -> Self {
        Timestamp(self.0.saturating_add(ms))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ms", self.0)
    }
}
