//! The driver's bounded log, uploaded as the `2 Vendor Log File`.
//!
//! Owns [`LogRing`]: timestamped lines of what the CWMP driver did (sessions, faults,
//! transfers, connection requests), the oldest dropped once [`LOG_CAPACITY`] bytes are held.
//! Lines are also sent to `tracing`.
//!
//! Must not touch: files, sockets.

use std::collections::VecDeque;
use std::sync::Mutex;

/// Most bytes kept.
pub const LOG_CAPACITY: usize = 64 * 1024;

/// A bounded in-memory log (see the module docs).
#[derive(Debug, Default)]
pub struct LogRing {
    inner: Mutex<(VecDeque<String>, usize)>,
}

impl LogRing {
    /// An empty log.
    pub fn new() -> LogRing {
        LogRing::default()
    }

    /// Appends a line stamped with `unix` seconds.
    pub fn line(&self, unix: i64, text: impl AsRef<str>) {
        let text = text.as_ref();
        tracing::info!(target: "tether_agent::cwmp", "{text}");
        let stamp = tether_cli::DateTime::from_unix(unix)
            .map(|t| t.to_comware_string())
            .unwrap_or_default();
        let line: String = format!("{stamp} {text}\n").chars().take(1024).collect();
        let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let (lines, bytes) = &mut *guard;
        *bytes += line.len();
        lines.push_back(line);
        while *bytes > LOG_CAPACITY {
            match lines.pop_front() {
                Some(old) => *bytes -= old.len(),
                None => break,
            }
        }
    }

    /// The whole log as text.
    pub fn text(&self) -> String {
        let guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        guard.0.iter().map(String::as_str).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_stays_bounded_and_keeps_the_newest_lines() {
        let log = LogRing::new();
        for i in 0..5_000 {
            log.line(0, format!("line {i} {}", "x".repeat(40)));
        }
        let text = log.text();
        assert!(text.len() <= LOG_CAPACITY);
        assert!(text.contains("line 4999"));
        assert!(!text.contains("line 0 "));
    }
}
