//! Live connection status: what the CWMP driver reports and `display cwmp status` shows.
//!
//! Owns [`CwmpLive`] (filled by the CWMP driver through
//! [`crate::AgentContext::update_cwmp`]) and [`cwmp_status`], which combines it with the
//! running configuration and the ACS selection into the [`CwmpStatus`] the CLI renders. Times
//! are Unix seconds and are shown in UTC.
//!
//! Must not touch: sockets, the clock (`now_unix` is an argument).

use tether_cli::CwmpConfig;
use tether_cli::DateTime;
use tether_cli::display::{ConnectionStatus, CwmpStatus, TransferStatus};

use crate::acs::EffectiveAcs;

/// What the CWMP driver knows about its connection to the ACS.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CwmpLive {
    /// The ACS URL of the most recent connection attempt.
    pub last_acs_url: Option<String>,
    /// The ACS username of the most recent connection attempt.
    pub last_acs_username: Option<String>,
    /// Whether a session is up.
    pub connection: ConnectionStatus,
    /// Whether a transfer runs.
    pub transfer: TransferStatus,
    /// When the most recent successful session started (Unix seconds).
    pub last_success_unix: Option<i64>,
    /// When the next connection attempt is due (Unix seconds), if one is scheduled.
    pub next_attempt_unix: Option<i64>,
}

/// The `display cwmp status` content at `now_unix`. The information source is that of the
/// ACS selected now (`None` when no source names one).
pub fn cwmp_status(
    live: &CwmpLive,
    config: &CwmpConfig,
    acs: Option<&EffectiveAcs>,
    now_unix: i64,
) -> CwmpStatus {
    CwmpStatus {
        enabled: config.enabled,
        acs_url: live.last_acs_url.clone(),
        acs_source: acs.map(|a| a.source),
        acs_username: live.last_acs_username.clone(),
        connection: live.connection,
        transfer: live.transfer,
        last_success: live.last_success_unix.and_then(DateTime::from_unix),
        next_attempt_in: live
            .next_attempt_unix
            .map(|t| u64::try_from(t.saturating_sub(now_unix)).unwrap_or(0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tether_cli::display::AcsSource;

    #[test]
    fn next_attempt_counts_down_and_never_goes_negative() {
        let live = CwmpLive {
            next_attempt_unix: Some(1_000),
            last_success_unix: Some(0),
            ..CwmpLive::default()
        };
        let acs = EffectiveAcs {
            url: "http://a/acs".into(),
            username: None,
            password: None,
            source: AcsSource::Dhcp,
        };
        let cfg = CwmpConfig::default();
        let s = cwmp_status(&live, &cfg, Some(&acs), 900);
        assert_eq!(s.next_attempt_in, Some(100));
        assert_eq!(s.acs_source, Some(AcsSource::Dhcp));
        assert_eq!(s.last_success, DateTime::from_unix(0));
        assert_eq!(
            cwmp_status(&live, &cfg, None, 2_000).next_attempt_in,
            Some(0)
        );
    }
}
