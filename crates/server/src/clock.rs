//! Reading the clock, and writing and parsing the instants the API shows.
//!
//! The store never reads the clock; the server does, here and nowhere else. Instants cross the
//! API as RFC 3339 UTC strings with milliseconds (`2026-05-01T12:00:00.000Z`).

use std::time::{SystemTime, UNIX_EPOCH};

use tether_cwmp::{DateTime, Fraction};
use tether_store::Timestamp;

/// Now, as the store counts time.
pub fn now() -> Timestamp {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    Timestamp::from_unix_millis(ms)
}

/// `t` as RFC 3339 UTC with milliseconds.
pub fn format(t: Timestamp) -> String {
    let ms = t.unix_millis();
    let secs = ms.div_euclid(1000);
    let nanos = u32::try_from(ms.rem_euclid(1000)).unwrap_or(0) * 1_000_000;
    let mut text = DateTime::from_unix(secs, nanos).format(Fraction::Millis);
    if !text.ends_with('Z') {
        text.push('Z');
    }
    text
}

/// Parses an RFC 3339 instant (`Z` or an offset; no zone means UTC).
pub fn parse(text: &str) -> Option<Timestamp> {
    let dt = DateTime::parse(text)?;
    let ms = dt
        .to_unix()
        .checked_mul(1000)?
        .checked_add(i64::from(dt.nanos / 1_000_000))?;
    Some(Timestamp::from_unix_millis(ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let t = Timestamp::from_unix_millis(1_700_000_000_123);
        let text = format(t);
        assert_eq!(text, "2023-11-14T22:13:20.123Z");
        assert_eq!(parse(&text), Some(t));
        assert_eq!(
            parse("2023-11-14T23:13:20.123+01:00"),
            Some(t),
            "offsets are honoured"
        );
        assert_eq!(parse("yesterday"), None);
    }
}
