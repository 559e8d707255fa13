//! Civil (calendar) date-times as the CLI reads and prints them.
//!
//! Owns: the `yyyy-mm-ddThh:mm:ss` argument of `cwmp cpe inform time`, proleptic Gregorian
//! arithmetic to and from Unix seconds, the weekday, and the two Comware renderings used by the
//! display commands (`Wed Jan  27 14:18:40 2016` and `00d 00h 02m 01s`).
//!
//! Must not touch: any clock or time zone database. The agent decides what "now" is and which
//! zone a time is shown in, and hands this module plain numbers.

use std::fmt;

/// A calendar date and a time of day, no time zone attached.
///
/// Field order makes the derived `Ord` chronological.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DateTime {
    /// Full year, e.g. 2016.
    pub year: u16,
    /// 1-12.
    pub month: u8,
    /// 1-31, valid for the month.
    pub day: u8,
    /// 0-23.
    pub hour: u8,
    /// 0-59.
    pub minute: u8,
    /// 0-59 (no leap seconds).
    pub second: u8,
}

/// Earliest value accepted by `cwmp cpe inform time` (§8.1).
pub const INFORM_TIME_MIN: DateTime = DateTime {
    year: 1970,
    month: 1,
    day: 1,
    hour: 0,
    minute: 0,
    second: 0,
};

/// Latest value accepted by `cwmp cpe inform time` (§8.1).
pub const INFORM_TIME_MAX: DateTime = DateTime {
    year: 2035,
    month: 12,
    day: 31,
    hour: 23,
    minute: 59,
    second: 59,
};

const WEEKDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (the well-known era-based algorithm).
fn days_from_civil(year: i64, month: u8, day: u8) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

impl DateTime {
    /// Builds a value, checking every field against the calendar.
    pub fn new(year: u16, month: u8, day: u8, hour: u8, minute: u8, second: u8) -> Option<Self> {
        let valid = (1..=12).contains(&month)
            && day >= 1
            && day <= days_in_month(i64::from(year), month)
            && hour < 24
            && minute < 60
            && second < 60;
        valid.then_some(Self {
            year,
            month,
            day,
            hour,
            minute,
            second,
        })
    }

    /// Parses exactly `yyyy-mm-ddThh:mm:ss` (the `T` may be lower case), checking the calendar
    /// but not the §8.1 range; see [`DateTime::parse_inform_time`] for that.
    pub fn parse_iso(text: &str) -> Option<Self> {
        let b = text.as_bytes();
        if !text.is_ascii()
            || b.len() != 19
            || b[4] != b'-'
            || b[7] != b'-'
            || !matches!(b[10], b'T' | b't')
            || b[13] != b':'
            || b[16] != b':'
        {
            return None;
        }
        let num = |from: usize, to: usize| -> Option<u16> {
            let digits = &text[from..to];
            if digits.bytes().all(|c| c.is_ascii_digit()) {
                digits.parse().ok()
            } else {
                None
            }
        };
        let small = |from, to| num(from, to).and_then(|v| u8::try_from(v).ok());
        Self::new(
            num(0, 4)?,
            small(5, 7)?,
            small(8, 10)?,
            small(11, 13)?,
            small(14, 16)?,
            small(17, 19)?,
        )
    }

    /// Parses the argument of `cwmp cpe inform time`: [`DateTime::parse_iso`] plus the range
    /// 1970-01-01T00:00:00..=2035-12-31T23:59:59. "Later than now" is the agent's check.
    pub fn parse_inform_time(text: &str) -> Option<Self> {
        Self::parse_iso(text).filter(|t| (INFORM_TIME_MIN..=INFORM_TIME_MAX).contains(t))
    }

    /// Seconds since 1970-01-01T00:00:00 taking this value as UTC (negative before 1970).
    pub fn to_unix(self) -> i64 {
        days_from_civil(i64::from(self.year), self.month, self.day) * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
    }

    /// The civil time `secs` seconds after 1970-01-01T00:00:00, or `None` outside years 0-9999.
    pub fn from_unix(secs: i64) -> Option<Self> {
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        let year = u16::try_from(year).ok().filter(|y| *y <= 9999)?;
        Some(Self {
            year,
            month,
            day,
            hour: (rem / 3600) as u8,
            minute: (rem / 60 % 60) as u8,
            second: (rem % 60) as u8,
        })
    }

    /// Day of the week, 0 = Sunday.
    pub fn weekday(self) -> u8 {
        let days = days_from_civil(i64::from(self.year), self.month, self.day);
        // 1970-01-01 was a Thursday (4).
        (days + 4).rem_euclid(7) as u8
    }

    /// The Comware rendering used by `display cloud-management state` ("Connected at"):
    /// `Wed Jan  27 14:18:40 2016`. The day of the month is right-aligned in three columns after
    /// the month, which is what both H3C samples show (two spaces before a two-digit day).
    pub fn to_comware_string(self) -> String {
        format!(
            "{} {} {:>3} {:02}:{:02}:{:02} {}",
            WEEKDAYS[usize::from(self.weekday() % 7)],
            MONTHS
                .get(usize::from(self.month).wrapping_sub(1))
                .unwrap_or(&"???"),
            self.day,
            self.hour,
            self.minute,
            self.second,
            self.year
        )
    }
}

/// `yyyy-mm-ddThh:mm:ss`, the form `cwmp cpe inform time` accepts.
impl fmt::Display for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

/// Renders an elapsed time as Comware does in `display cloud-management state`:
/// `00d 00h 02m 01s`. Days grow past two digits when they must.
pub fn format_duration(secs: u64) -> String {
    format!(
        "{:02}d {:02}h {:02}m {:02}s",
        secs / 86_400,
        secs / 3600 % 24,
        secs / 60 % 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_inform_time() {
        let t = DateTime::parse_inform_time("2024-02-29T23:05:09").unwrap();
        assert_eq!(t.to_string(), "2024-02-29T23:05:09");
        assert!(DateTime::parse_inform_time("2023-02-29T00:00:00").is_none());
        assert!(DateTime::parse_inform_time("2024-13-01T00:00:00").is_none());
        assert!(DateTime::parse_inform_time("2024-01-01 00:00:00").is_none());
        assert!(DateTime::parse_inform_time("2024-01-01T24:00:00").is_none());
        assert!(DateTime::parse_inform_time("+024-01-01T00:00:00").is_none());
        assert!(DateTime::parse_inform_time("2024-01-01T00:00:é").is_none());
        assert!(DateTime::parse_inform_time("1970-01-01T00:00:00").is_some());
        assert!(DateTime::parse_inform_time("2035-12-31T23:59:59").is_some());
        assert!(DateTime::parse_inform_time("1969-12-31T23:59:59").is_none());
        assert!(DateTime::parse_inform_time("2036-01-01T00:00:00").is_none());
    }

    #[test]
    fn unix_round_trip_and_weekday() {
        let t = DateTime::new(2016, 1, 27, 14, 18, 40).unwrap();
        assert_eq!(t.to_unix(), 1_453_904_320);
        assert_eq!(DateTime::from_unix(t.to_unix()), Some(t));
        assert_eq!(t.weekday(), 3);
        assert_eq!(DateTime::from_unix(0), Some(INFORM_TIME_MIN));
        for secs in [-86_401_i64, 951_782_400, 4_102_444_799, 253_402_300_799] {
            assert_eq!(DateTime::from_unix(secs).unwrap().to_unix(), secs);
        }
        assert_eq!(DateTime::from_unix(253_402_300_800), None);
    }

    #[test]
    fn comware_renderings() {
        let t = DateTime::new(2016, 1, 27, 14, 18, 40).unwrap();
        assert_eq!(t.to_comware_string(), "Wed Jan  27 14:18:40 2016");
        let t = DateTime::new(2025, 3, 5, 4, 3, 2).unwrap();
        assert_eq!(t.to_comware_string(), "Wed Mar   5 04:03:02 2025");
        assert_eq!(format_duration(121), "00d 00h 02m 01s");
        assert_eq!(format_duration(100 * 86_400 + 3661), "100d 01h 01m 01s");
    }
}
