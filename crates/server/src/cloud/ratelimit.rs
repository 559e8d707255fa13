//! Rate limits of `POST /cloudlink/v1/auth`, per source address and per serial (protocol §12:
//! serial enumeration and password guessing). Fixed one-minute windows in a bounded map.
//!
//! Must not touch: the handshake itself; callers answer `rate_limited` with `retry_after`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(60);
/// Keys remembered at most; past it, expired windows go first, then the whole map is reset
/// (a flood of distinct keys must not grow memory).
const CAPACITY: usize = 50_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Addr(IpAddr),
    Serial(Box<str>),
}

/// Counts `/auth` requests.
pub struct AuthLimiter {
    per_addr: u32,
    per_serial: u32,
    windows: Mutex<HashMap<Key, (Instant, u32)>>,
}

impl AuthLimiter {
    pub fn new(per_addr: u32, per_serial: u32) -> Self {
        AuthLimiter {
            per_addr: per_addr.max(1),
            per_serial: per_serial.max(1),
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one request; `Err(wait)` if the address or the serial is over its limit.
    pub fn check(&self, addr: Option<IpAddr>, serial: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let mut map = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= CAPACITY {
            map.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
            if map.len() >= CAPACITY {
                map.clear();
            }
        }
        let mut keys = vec![(Key::Serial(serial.into()), self.per_serial)];
        if let Some(a) = addr {
            keys.push((Key::Addr(a), self.per_addr));
        }
        let mut wait = None;
        for (key, limit) in keys {
            let w = map.entry(key).or_insert((now, 0));
            if now.duration_since(w.0) >= WINDOW {
                *w = (now, 0);
            }
            if w.1 >= limit {
                let left = WINDOW.saturating_sub(now.duration_since(w.0));
                wait = Some(wait.map_or(left, |x: Duration| x.max(left)));
            } else {
                w.1 += 1;
            }
        }
        wait.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_and_address_limits_apply_separately() {
        let l = AuthLimiter::new(3, 2);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        assert!(l.check(Some(a), "S1").is_ok());
        assert!(l.check(Some(a), "S1").is_ok());
        assert!(l.check(Some(a), "S1").is_err(), "serial limit");
        assert!(
            l.check(Some(a), "S2").is_err(),
            "address limit reached by now"
        );
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(l.check(Some(b), "S3").is_ok());
    }
}
