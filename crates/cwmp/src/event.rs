//! Inform event codes (§3.2) and `EventStruct`.

use serde::Serialize;
use std::fmt;

/// An Inform event code.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventCode {
    /// `0 BOOTSTRAP`
    Bootstrap,
    /// `1 BOOT`
    Boot,
    /// `2 PERIODIC`
    Periodic,
    /// `3 SCHEDULED`
    Scheduled,
    /// `4 VALUE CHANGE`
    ValueChange,
    /// `5 KICKED`
    Kicked,
    /// `6 CONNECTION REQUEST`
    ConnectionRequest,
    /// `7 TRANSFER COMPLETE`
    TransferComplete,
    /// `8 DIAGNOSTICS COMPLETE`
    DiagnosticsComplete,
    /// `9 REQUEST DOWNLOAD`
    RequestDownload,
    /// `10 AUTONOMOUS TRANSFER COMPLETE`
    AutonomousTransferComplete,
    /// `11 DU STATE CHANGE COMPLETE`
    DuStateChangeComplete,
    /// `12 AUTONOMOUS DU STATE CHANGE COMPLETE`
    AutonomousDuStateChangeComplete,
    /// `13 WAKEUP`
    Wakeup,
    /// `14 HEARTBEAT`
    Heartbeat,
    /// `M <method>`: `M Reboot`, `M ScheduleInform`, `M Download`, `M Upload`,
    /// `M ScheduleDownload`, `M ChangeDUState`, `M X_<VENDOR>_<Method>`.
    Method(String),
    /// `X <OUI|vendor> <text>`: a vendor event.
    Vendor(String),
    /// Any other code matching the schema's generic `\d+( \S+)+` pattern, kept as sent.
    Other(String),
}

impl EventCode {
    /// `M Reboot`.
    pub fn m_reboot() -> Self {
        Self::Method("Reboot".into())
    }
    /// `M ScheduleInform`.
    pub fn m_schedule_inform() -> Self {
        Self::Method("ScheduleInform".into())
    }
    /// `M Download`.
    pub fn m_download() -> Self {
        Self::Method("Download".into())
    }
    /// `M Upload`.
    pub fn m_upload() -> Self {
        Self::Method("Upload".into())
    }
    /// `M ScheduleDownload`.
    pub fn m_schedule_download() -> Self {
        Self::Method("ScheduleDownload".into())
    }
    /// `M ChangeDUState`.
    pub fn m_change_du_state() -> Self {
        Self::Method("ChangeDUState".into())
    }

    /// Parses a received code. Unknown shapes become [`EventCode::Other`] (never an error: an
    /// ACS must not drop a session over a new event).
    pub fn parse(text: &str) -> Self {
        let t = text.trim();
        match t {
            "0 BOOTSTRAP" => Self::Bootstrap,
            "1 BOOT" => Self::Boot,
            "2 PERIODIC" => Self::Periodic,
            "3 SCHEDULED" => Self::Scheduled,
            "4 VALUE CHANGE" => Self::ValueChange,
            "5 KICKED" => Self::Kicked,
            "6 CONNECTION REQUEST" => Self::ConnectionRequest,
            "7 TRANSFER COMPLETE" => Self::TransferComplete,
            "8 DIAGNOSTICS COMPLETE" => Self::DiagnosticsComplete,
            "9 REQUEST DOWNLOAD" => Self::RequestDownload,
            "10 AUTONOMOUS TRANSFER COMPLETE" => Self::AutonomousTransferComplete,
            "11 DU STATE CHANGE COMPLETE" => Self::DuStateChangeComplete,
            "12 AUTONOMOUS DU STATE CHANGE COMPLETE" => Self::AutonomousDuStateChangeComplete,
            "13 WAKEUP" => Self::Wakeup,
            "14 HEARTBEAT" => Self::Heartbeat,
            _ => {
                if let Some(m) = t.strip_prefix("M ") {
                    Self::Method(m.to_owned())
                } else if let Some(x) = t.strip_prefix("X ") {
                    Self::Vendor(x.to_owned())
                } else {
                    Self::Other(t.to_owned())
                }
            }
        }
    }

    /// Whether the code matches one of the schema's EventCodeType patterns (max 64 chars).
    pub fn is_schema_valid(&self) -> bool {
        let text = self.to_string();
        if text.chars().count() > 64 {
            return false;
        }
        let words = |s: &str| {
            !s.is_empty()
                && s.split(' ')
                    .all(|w| !w.is_empty() && !w.contains(char::is_whitespace))
        };
        match self {
            Self::Method(m) => words(m) && !m.contains(' '),
            Self::Vendor(v) => v.split_once(' ').is_some_and(|(a, b)| words(a) && words(b)),
            Self::Other(o) => o.split_once(' ').is_some_and(|(n, rest)| {
                !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && words(rest)
            }),
            _ => true,
        }
    }

    /// `M` events accumulate (several per Inform); the numbered ones are single (§3.2).
    pub fn is_multiple(&self) -> bool {
        matches!(self, Self::Method(_))
    }
}

impl fmt::Display for EventCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Self::Bootstrap => "0 BOOTSTRAP",
            Self::Boot => "1 BOOT",
            Self::Periodic => "2 PERIODIC",
            Self::Scheduled => "3 SCHEDULED",
            Self::ValueChange => "4 VALUE CHANGE",
            Self::Kicked => "5 KICKED",
            Self::ConnectionRequest => "6 CONNECTION REQUEST",
            Self::TransferComplete => "7 TRANSFER COMPLETE",
            Self::DiagnosticsComplete => "8 DIAGNOSTICS COMPLETE",
            Self::RequestDownload => "9 REQUEST DOWNLOAD",
            Self::AutonomousTransferComplete => "10 AUTONOMOUS TRANSFER COMPLETE",
            Self::DuStateChangeComplete => "11 DU STATE CHANGE COMPLETE",
            Self::AutonomousDuStateChangeComplete => "12 AUTONOMOUS DU STATE CHANGE COMPLETE",
            Self::Wakeup => "13 WAKEUP",
            Self::Heartbeat => "14 HEARTBEAT",
            Self::Method(m) => return write!(f, "M {m}"),
            Self::Vendor(v) => return write!(f, "X {v}"),
            Self::Other(o) => o,
        };
        f.write_str(s)
    }
}

impl Serialize for EventCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// `EventStruct`: an event code and the CommandKey of the RPC that caused it (`M` events).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Event {
    /// The event code.
    pub code: EventCode,
    /// CommandKey, empty except for `M` events; at most 32 characters.
    pub command_key: String,
}

impl Event {
    /// An event without a CommandKey.
    pub fn new(code: EventCode) -> Self {
        Self {
            code,
            command_key: String::new(),
        }
    }
    /// An event with a CommandKey.
    pub fn with_key(code: EventCode, key: impl Into<String>) -> Self {
        Self {
            code,
            command_key: key.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_standard_code_round_trips_through_text() {
        for code in [
            EventCode::Bootstrap,
            EventCode::Boot,
            EventCode::Periodic,
            EventCode::Scheduled,
            EventCode::ValueChange,
            EventCode::Kicked,
            EventCode::ConnectionRequest,
            EventCode::TransferComplete,
            EventCode::DiagnosticsComplete,
            EventCode::RequestDownload,
            EventCode::AutonomousTransferComplete,
            EventCode::DuStateChangeComplete,
            EventCode::AutonomousDuStateChangeComplete,
            EventCode::Wakeup,
            EventCode::Heartbeat,
            EventCode::m_reboot(),
            EventCode::Vendor("000E50 FOO".into()),
            EventCode::Other("15 SOMETHING NEW".into()),
        ] {
            assert_eq!(EventCode::parse(&code.to_string()), code);
            assert!(code.is_schema_valid(), "{code}");
        }
    }

    #[test]
    fn schema_patterns_reject_bare_words() {
        // samples/invalid-inform-bad-eventcode.xml uses `BOOT` instead of `1 BOOT`.
        assert!(!EventCode::parse("BOOT").is_schema_valid());
        assert!(!EventCode::parse("M Reboot now").is_schema_valid());
    }
}
