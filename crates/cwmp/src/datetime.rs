//! `xsd:dateTime` values as CWMP uses them (DM-04, DM-05, RPC-19).
//!
//! A small, exact parser and formatter: no clock is read here. The Unknown Time of TR-106
//! (`0001-01-01T00:00:00Z`) is an ordinary value with a name.

use serde::Serialize;
use std::fmt;

/// A calendar date and time with an optional UTC offset, as written in `xsd:dateTime`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DateTime {
    /// Year, 1 to 9999.
    pub year: u16,
    /// Month, 1 to 12.
    pub month: u8,
    /// Day of month, 1 to 31 (checked against the month).
    pub day: u8,
    /// Hour, 0 to 23 (24:00:00 is normalised away by refusing it).
    pub hour: u8,
    /// Minute, 0 to 59.
    pub minute: u8,
    /// Second, 0 to 60 (a leap second is kept as written).
    pub second: u8,
    /// Fractional part in nanoseconds.
    pub nanos: u32,
    /// Offset from UTC in minutes; `None` when the text carried no zone.
    pub offset_minutes: Option<i16>,
}

/// How fractional seconds are written by [`DateTime::format`] (DM-04: some CPEs reject them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum Fraction {
    /// Never write fractional seconds (the safest choice, and the default).
    #[default]
    Omit,
    /// Write milliseconds always (`.000`).
    Millis,
    /// Write the fraction only when it is not zero, with as many digits as needed.
    AsNeeded,
}

impl DateTime {
    /// TR-106 Unknown Time: `0001-01-01T00:00:00Z`.
    pub const UNKNOWN: Self = Self {
        year: 1,
        month: 1,
        day: 1,
        hour: 0,
        minute: 0,
        second: 0,
        nanos: 0,
        offset_minutes: Some(0),
    };

    /// Whether this is the Unknown Time (any value in year 1 counts, as TR-106 allows).
    pub fn is_unknown(&self) -> bool {
        self.year == 1
    }

    /// Builds a UTC value from seconds since the Unix epoch (and nanoseconds).
    pub fn from_unix(secs: i64, nanos: u32) -> Self {
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        Self {
            year: year.clamp(1, 9999) as u16,
            month,
            day,
            hour: (rem / 3600) as u8,
            minute: (rem % 3600 / 60) as u8,
            second: (rem % 60) as u8,
            nanos: nanos.min(999_999_999),
            offset_minutes: Some(0),
        }
    }

    /// Seconds since the Unix epoch; a value without a zone is taken as UTC.
    pub fn to_unix(&self) -> i64 {
        let days = days_from_civil(i64::from(self.year), self.month, self.day);
        days * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
            - i64::from(self.offset_minutes.unwrap_or(0)) * 60
    }

    /// Parses the `xsd:dateTime` lexical form: `YYYY-MM-DDThh:mm:ss[.f+][Z|(+|-)hh:mm]`.
    pub fn parse(text: &str) -> Option<Self> {
        let s = text.trim().as_bytes();
        if s.len() < 19
            || s[4] != b'-'
            || s[7] != b'-'
            || s[10] != b'T'
            || s[13] != b':'
            || s[16] != b':'
        {
            return None;
        }
        let num = |a: usize, b: usize| -> Option<u32> {
            let part = &s[a..b];
            if part.iter().all(u8::is_ascii_digit) {
                std::str::from_utf8(part).ok()?.parse().ok()
            } else {
                None
            }
        };
        let year = num(0, 4)?;
        let month = num(5, 7)?;
        let day = num(8, 10)?;
        let hour = num(11, 13)?;
        let minute = num(14, 16)?;
        let second = num(17, 19)?;
        let mut i = 19;
        let mut nanos = 0u32;
        if i < s.len() && s[i] == b'.' {
            i += 1;
            let start = i;
            while i < s.len() && s[i].is_ascii_digit() {
                if i - start < 9 {
                    nanos = nanos * 10 + u32::from(s[i] - b'0');
                }
                i += 1;
            }
            if i == start {
                return None;
            }
            for _ in (i - start)..9 {
                nanos *= 10;
            }
        }
        let offset_minutes = match &s[i..] {
            [] => None,
            [b'Z'] => Some(0),
            [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
                let digits = [*h1, *h2, *m1, *m2];
                if !digits.iter().all(u8::is_ascii_digit) {
                    return None;
                }
                let h = i16::from(h1 - b'0') * 10 + i16::from(h2 - b'0');
                let m = i16::from(m1 - b'0') * 10 + i16::from(m2 - b'0');
                if h > 14 || m > 59 {
                    return None;
                }
                Some(if *sign == b'-' {
                    -(h * 60 + m)
                } else {
                    h * 60 + m
                })
            }
            _ => return None,
        };
        if year == 0
            || !(1..=12).contains(&month)
            || day == 0
            || day > days_in_month(year, month)
            || hour > 23
            || minute > 59
            || second > 60
        {
            return None;
        }
        Some(Self {
            year: year as u16,
            month: month as u8,
            day: day as u8,
            hour: hour as u8,
            minute: minute as u8,
            second: second as u8,
            nanos,
            offset_minutes,
        })
    }

    /// Formats in the canonical lexical form, with the fractional seconds chosen by `fraction`.
    pub fn format(&self, fraction: Fraction) -> String {
        let mut out = String::with_capacity(32);
        use fmt::Write as _;
        let _ = write!(
            out,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        );
        match fraction {
            Fraction::Omit => {}
            Fraction::Millis => {
                let _ = write!(out, ".{:03}", self.nanos / 1_000_000);
            }
            Fraction::AsNeeded => {
                if self.nanos != 0 {
                    let digits = format!("{:09}", self.nanos);
                    out.push('.');
                    out.push_str(digits.trim_end_matches('0'));
                }
            }
        }
        match self.offset_minutes {
            None => {}
            Some(0) => out.push('Z'),
            Some(m) => {
                let sign = if m < 0 { '-' } else { '+' };
                let m = m.unsigned_abs();
                let _ = write!(out, "{sign}{:02}:{:02}", m / 60, m % 60);
            }
        }
        out
    }
}

impl fmt::Display for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.format(Fraction::AsNeeded))
    }
}

impl Serialize for DateTime {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

fn is_leap(year: u32) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        _ => 28,
    }
}

// Howard Hinnant's days-from-civil algorithm (public-domain arithmetic), proleptic Gregorian.
fn days_from_civil(y: i64, m: u8, d: u8) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u8, u8) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dm_05_parses_zones_fractions_and_unknown_time() {
        let t = DateTime::parse("2019-08-23T11:31:45+02:00").unwrap();
        assert_eq!((t.year, t.month, t.day, t.hour), (2019, 8, 23, 11));
        assert_eq!(t.offset_minutes, Some(120));
        assert_eq!(t.to_unix(), 1_566_552_705);
        let f = DateTime::parse("2024-02-29T00:00:00.1234567891Z").unwrap();
        assert_eq!(f.nanos, 123_456_789);
        assert!(
            DateTime::parse("0001-01-01T00:00:00Z")
                .unwrap()
                .is_unknown()
        );
        assert_eq!(
            DateTime::parse("2024-01-01T10:00:00")
                .unwrap()
                .offset_minutes,
            None
        );
    }

    #[test]
    fn rejects_impossible_dates_and_garbage() {
        for bad in [
            "2023-02-29T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-01-01 00:00:00Z",
            "2024-01-01T25:00:00Z",
            "2024-01-01T00:00:00.Z",
            "2024-01-01T00:00:00+2:00",
            "one day",
            "",
        ] {
            assert_eq!(DateTime::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn dm_04_fraction_policy_is_applied_when_formatting() {
        let t = DateTime::parse("2024-05-06T07:08:09.5Z").unwrap();
        assert_eq!(t.format(Fraction::Omit), "2024-05-06T07:08:09Z");
        assert_eq!(t.format(Fraction::Millis), "2024-05-06T07:08:09.500Z");
        assert_eq!(t.format(Fraction::AsNeeded), "2024-05-06T07:08:09.5Z");
        assert_eq!(DateTime::UNKNOWN.to_string(), "0001-01-01T00:00:00Z");
    }

    #[test]
    fn unix_round_trip_over_a_wide_range() {
        for secs in [
            0i64,
            951_782_400,
            1_700_000_000,
            4_102_444_800,
            -62_135_596_800,
        ] {
            let t = DateTime::from_unix(secs, 0);
            assert_eq!(t.to_unix(), secs, "{t}");
            assert_eq!(DateTime::parse(&t.to_string()), Some(t));
        }
    }
}
