//! The TR-106 `dateTime` type (DM-05): parsing, the Unknown Time, canonical UTC rendering.
//!
//! Owns [`DateTime`]. No clock is read here; "now" is always an argument of the caller.

use std::fmt;

use crate::fault::ValueError;

/// An instant with up to nanosecond precision, held as seconds relative to the Unix epoch.
/// Offsets given on input are folded into UTC; output is always UTC with `Z`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DateTime {
    unix_seconds: i64,
    nanos: u32,
}

/// Days from 0000-03-01 style civil-date arithmetic: days since 1970-01-01 of a proleptic
/// Gregorian date.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let m = i64::from(month);
    let shifted_month = if m > 2 { m - 3 } else { m + 9 };
    let day_of_year = (153 * shifted_month + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(year) => 29,
        _ => 28,
    }
}

impl DateTime {
    /// The TR-106 Unknown Time, `0001-01-01T00:00:00Z`.
    pub const UNKNOWN: DateTime = DateTime {
        unix_seconds: -62_135_596_800,
        nanos: 0,
    };

    /// From seconds and nanoseconds since 1970-01-01T00:00:00Z.
    pub fn from_unix(unix_seconds: i64, nanos: u32) -> DateTime {
        DateTime {
            unix_seconds: unix_seconds + i64::from(nanos / 1_000_000_000),
            nanos: nanos % 1_000_000_000,
        }
    }

    /// Seconds since the Unix epoch (negative before 1970).
    pub fn unix_seconds(&self) -> i64 {
        self.unix_seconds
    }

    /// The sub-second part.
    pub fn nanos(&self) -> u32 {
        self.nanos
    }

    /// `true` for the Unknown Time.
    pub fn is_unknown(&self) -> bool {
        *self == Self::UNKNOWN
    }

    /// Parses an `xsd:dateTime`: `YYYY-MM-DDThh:mm:ss[.frac][Z|±hh:mm]`. A missing zone is taken
    /// as UTC (TR-106 allows local time without offset only for relative times; we are lenient).
    pub fn parse(text: &str) -> Result<DateTime, ValueError> {
        let bad = || ValueError::Invalid(format!("not a dateTime: {text:?}"));
        let b = text.as_bytes();
        if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' {
            return Err(bad());
        }
        if b[13] != b':' || b[16] != b':' {
            return Err(bad());
        }
        let num = |range: std::ops::Range<usize>| -> Result<u32, ValueError> {
            let s = &text[range];
            if !s.bytes().all(|c| c.is_ascii_digit()) {
                return Err(bad());
            }
            s.parse().map_err(|_| bad())
        };
        let year = i64::from(num(0..4)?);
        let month = num(5..7)?;
        let day = num(8..10)?;
        let hour = num(11..13)?;
        let minute = num(14..16)?;
        let second = num(17..19)?;
        if year == 0 || !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return Err(bad());
        }
        let end_of_day = hour == 24 && minute == 0 && second == 0;
        if (hour > 23 && !end_of_day) || minute > 59 || second > 59 {
            return Err(bad());
        }
        let mut rest = &text[19..];
        let mut nanos = 0u32;
        if let Some(frac) = rest.strip_prefix('.') {
            let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(bad());
            }
            for (i, c) in frac[..digits].bytes().enumerate().take(9) {
                nanos += u32::from(c - b'0') * 10u32.pow(8 - i as u32);
            }
            rest = &frac[digits..];
        }
        let offset_seconds: i64 = match rest {
            "" | "Z" => 0,
            zone => {
                let zb = zone.as_bytes();
                if zb.len() != 6 || zb[3] != b':' || !(zb[0] == b'+' || zb[0] == b'-') {
                    return Err(bad());
                }
                let h: i64 = zone[1..3].parse().map_err(|_| bad())?;
                let m: i64 = zone[4..6].parse().map_err(|_| bad())?;
                if h > 14 || m > 59 {
                    return Err(bad());
                }
                let s = (h * 60 + m) * 60;
                if zb[0] == b'-' { -s } else { s }
            }
        };
        let days = days_from_civil(year, month, day);
        let secs =
            days * 86_400 + i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second)
                - offset_seconds;
        Ok(DateTime {
            unix_seconds: secs,
            nanos,
        })
    }

    /// Renders in UTC with `Z`; `with_fraction` keeps a non-zero sub-second part (DM-04 notes
    /// that some peers reject fractional seconds).
    pub fn render(&self, with_fraction: bool) -> String {
        let days = self.unix_seconds.div_euclid(86_400);
        let secs = self.unix_seconds.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        let mut out = format!(
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
            secs / 3600,
            secs % 3600 / 60,
            secs % 60
        );
        if with_fraction && self.nanos != 0 {
            let frac = format!("{:09}", self.nanos);
            out.push('.');
            out.push_str(frac.trim_end_matches('0'));
        }
        out.push('Z');
        out
    }
}

impl fmt::Display for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_time_round_trips() {
        let t = DateTime::parse("0001-01-01T00:00:00Z").unwrap();
        assert!(t.is_unknown());
        assert_eq!(t.to_string(), "0001-01-01T00:00:00Z");
    }

    #[test]
    fn offsets_fold_into_utc() {
        let t = DateTime::parse("2019-08-23T11:31:45+02:00").unwrap();
        assert_eq!(t.to_string(), "2019-08-23T09:31:45Z");
        assert_eq!(t.unix_seconds(), 1_566_552_705);
        let t = DateTime::parse("1970-01-01T00:00:00-00:30").unwrap();
        assert_eq!(t.unix_seconds(), 1800);
    }

    #[test]
    fn fractions_and_leap_days() {
        let t = DateTime::parse("2024-02-29T23:59:59.250Z").unwrap();
        assert_eq!(t.render(true), "2024-02-29T23:59:59.25Z");
        assert_eq!(t.render(false), "2024-02-29T23:59:59Z");
        assert!(DateTime::parse("2023-02-29T00:00:00Z").is_err());
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "",
            "2024-13-01T00:00:00Z",
            "2024-01-01 00:00:00Z",
            "2024-01-01T25:00:00Z",
            "2024-01-01T00:00:00+2",
            "2024-01-01T00:00:00.Z",
            "0000-01-01T00:00:00Z",
        ] {
            assert!(DateTime::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn civil_conversion_is_inverse() {
        for days in [-719_162, -1, 0, 1, 11_016, 19_782, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
