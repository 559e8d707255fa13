//! The live summary: one line a second on standard error while a run goes on (elapsed time,
//! total, rate over the last second, errors, latency percentiles of the last second).
//!
//! Owns [`Live`]. Must not touch: the figures of the final report (`stats.rs` keeps those).

use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::stats::Stats;

/// A running live summary; [`Live::stop`] ends it.
#[derive(Debug)]
pub struct Live {
    stop: CancellationToken,
}

impl Live {
    /// Starts printing `what` (e.g. "sessions") from `stats`, timed from `started`.
    pub fn start(what: &'static str, stats: Arc<Stats>, started: Instant) -> Live {
        Live::start_with(what, stats, started, String::new)
    }

    /// As [`Live::start`], with `extra` appended to every line (e.g. devices online).
    pub fn start_with(
        what: &'static str,
        stats: Arc<Stats>,
        started: Instant,
        extra: impl Fn() -> String + Send + 'static,
    ) -> Live {
        let stop = CancellationToken::new();
        let s = stop.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.tick().await;
            let mut last = stats.completed.load(Ordering::Relaxed);
            loop {
                tokio::select! {
                    () = s.cancelled() => return,
                    _ = tick.tick() => {}
                }
                let done = stats.completed.load(Ordering::Relaxed);
                let mut window = stats.take_window();
                let p = window.percentiles();
                let line = format!(
                    "[{:>5.0}s] {what} {done:>9}  {:>7}/s  errors {:>5}  p50 {:>7.2} ms  p99 {:>7.2} ms{}\n",
                    started.elapsed().as_secs_f64(),
                    done.saturating_sub(last),
                    stats.errors.load(Ordering::Relaxed),
                    p.p50_ms,
                    p.p99_ms,
                    extra(),
                );
                last = done;
                let _ = std::io::stderr().write_all(line.as_bytes());
            }
        });
        Live { stop }
    }

    /// Stops printing.
    pub fn stop(self) {
        self.stop.cancel();
    }
}
