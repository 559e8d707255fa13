//! # tether-sim: fleets of simulated devices and the load behind Tether's benchmarks
//!
//! `tether sim` runs many simulated devices in one process on the agent library (not a second
//! implementation of the device), drives load at a server, and measures what it sees.
//!
//! ```text
//!   cli (clap: `tether sim ...`)
//!    ├─ load      CWMP session load generator (connect, Inform, 204, close), closed loop
//!    ├─ ceiling   the minimal hyper server the load is held against
//!    └─ (fleet)   simulated devices on tether-agent: CWMP driver + cloud manager each
//!   stats (counters, percentiles) ─ live (one line a second) ─ sampler (/proc RSS, CPU)
//! ```
//!
//! * [`load`]: [`load::run`] and its JSON report; [`ceiling`]: the ceiling server.
//! * [`stats`], [`live`], [`sampler`]: what a run counts, prints and samples.
//! * [`serial`]: serial numbers from a pattern; [`tls`]: shared rustls configurations.
//! * [`cli`]: the `tether sim` subcommands, for the binary to call.
//!
//! Load is only ever sent to loopback addresses, bounded in count and time.

pub mod ceiling;
pub mod cli;
pub mod fleet;
pub mod live;
pub mod load;
pub mod sampler;
pub mod serial;
pub mod stats;
pub mod tls;

use std::time::{SystemTime, UNIX_EPOCH};

/// Why a simulator run could not go on.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A bad option.
    #[error("configuration: {0}")]
    Config(String),
    /// TLS material could not be loaded or made.
    #[error("TLS: {0}")]
    Tls(String),
    /// A socket or file.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The server did not behave as a run needs.
    #[error("server: {0}")]
    Server(String),
}

/// The wall clock as Unix seconds.
pub fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
