//! Host files read once for many simulated devices: [`SharedReads`].
//!
//! Owns a small cache of host file texts, keyed by path and kept for a fixed time. The
//! simulator runs thousands of devices on one host, and each device's telemetry sample and
//! data-model reads open the same `/proc` and `/sys` files: at 2,000 devices connecting at
//! once this was 28 % of the simulator's CPU (BENCHMARKS.md, "Cloud tunnels"). A real agent
//! is one device per host and never uses this: its reads stay fresh, as `root.rs` says.
//!
//! Must not touch: what the files mean (the handlers'), which files exist (`root.rs`).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Most paths kept; the cache starts over when full (the host files read are a few dozen).
const MAX_ENTRIES: usize = 4096;

/// When a text was read, and the text (`None`: the file could not be read).
type Entry = (Instant, Option<Arc<str>>);

/// Texts of host files shared by the devices of one process, each kept for `ttl`.
pub struct SharedReads {
    ttl: Duration,
    entries: Mutex<HashMap<String, Entry>>,
}

impl fmt::Debug for SharedReads {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedReads")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl SharedReads {
    /// A cache whose entries are read again after `ttl`.
    pub fn new(ttl: Duration) -> Arc<SharedReads> {
        Arc::new(SharedReads {
            ttl,
            entries: Mutex::new(HashMap::new()),
        })
    }

    /// The text kept for `path` if younger than the ttl, else `read()`'s answer, kept.
    pub fn get_or_read(
        &self,
        path: &str,
        now: Instant,
        read: impl FnOnce() -> Option<String>,
    ) -> Option<String> {
        {
            let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some((at, text)) = entries.get(path)
                && now.saturating_duration_since(*at) < self.ttl
            {
                return text.as_deref().map(str::to_owned);
            }
        }
        // Read outside the lock: two devices may both read an expired file, which is harmless.
        let text = read();
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(path.to_owned(), (now, text.as_deref().map(Arc::from)));
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_text_is_served_until_the_ttl_then_read_again() {
        let cache = SharedReads::new(Duration::from_secs(1));
        let t0 = Instant::now();
        assert_eq!(
            cache.get_or_read("a", t0, || Some("1".into())).as_deref(),
            Some("1")
        );
        let young = t0 + Duration::from_millis(999);
        assert_eq!(
            cache
                .get_or_read("a", young, || Some("2".into()))
                .as_deref(),
            Some("1")
        );
        assert_eq!(
            cache.get_or_read("b", young, || None),
            None,
            "other paths are their own"
        );
        let old = t0 + Duration::from_secs(1);
        assert_eq!(
            cache.get_or_read("a", old, || Some("3".into())).as_deref(),
            Some("3")
        );
        assert_eq!(
            cache.get_or_read("b", young, || Some("x".into())),
            None,
            "a miss is kept too"
        );
    }

    #[test]
    fn a_full_cache_starts_over() {
        let cache = SharedReads::new(Duration::from_secs(60));
        let t0 = Instant::now();
        for i in 0..MAX_ENTRIES {
            cache.get_or_read(&i.to_string(), t0, || Some("v".into()));
        }
        assert_eq!(cache.entries.lock().unwrap().len(), MAX_ENTRIES);
        cache.get_or_read("one more", t0, || Some("v".into()));
        assert_eq!(cache.entries.lock().unwrap().len(), 1);
    }
}
