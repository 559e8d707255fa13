//! The state machine's [`Status`] as what `display cloud-management state` renders.
//!
//! Owns [`to_cloud_state`]: state names, the server in use, `Connected at` in wall time (UTC,
//! as `display cwmp status` shows times), `Duration`, `Process state` and `Failure reason`
//! texts. Must not touch: transitions (the `cloudlink` crate's).

use std::time::Duration;

use tether_cli::DateTime;
use tether_cli::display::{CloudConnectionState, CloudDeviceState, CloudState};
use tether_cloudlink::status::format_failure;
use tether_cloudlink::{ConnectionState, DeviceState, Status};

/// Converts `status` taken at monotonic `now`, when the wall clock reads `wall_now` (Unix
/// seconds). `connected_wall` is the wall time of `Connected at`, when the caller keeps it
/// (so it does not move between updates); otherwise it is derived from `now`.
pub fn to_cloud_state(
    status: &Status,
    now: Duration,
    wall_now: i64,
    connected_wall: Option<i64>,
) -> CloudState {
    let connected_wall = status.connected_at.map(|at| {
        connected_wall.unwrap_or_else(|| {
            wall_now - i64::try_from(now.saturating_sub(at).as_secs()).unwrap_or(0)
        })
    });
    CloudState {
        connection: match status.connection_state {
            ConnectionState::Idle => CloudConnectionState::Idle,
            ConnectionState::Resolving => CloudConnectionState::Resolving,
            ConnectionState::Authenticating => CloudConnectionState::Authenticating,
            ConnectionState::Registering => CloudConnectionState::Registering,
            ConnectionState::Handshaking => CloudConnectionState::Handshaking,
            ConnectionState::Established => CloudConnectionState::Established,
            ConnectionState::Reconnecting => CloudConnectionState::Reconnecting,
        },
        device: match status.device_state {
            DeviceState::None => CloudDeviceState::Init,
            DeviceState::AuthFailed => CloudDeviceState::AuthFailed,
            DeviceState::RegisterFailed => CloudDeviceState::RegisterFailed,
            DeviceState::RequestSuccess => CloudDeviceState::RequestSuccess,
            DeviceState::Unbound => CloudDeviceState::Unbound,
        },
        server_address: status.server_address,
        server_domain: status.server_domain.clone(),
        server_port: status.server_port,
        connected_at: connected_wall.and_then(DateTime::from_unix),
        duration_secs: status.duration.map(|d| d.as_secs()),
        process_state: Some(status.process_state.to_string()),
        failure_reason: Some(format_failure(status.failure_reason.as_ref())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tether_cloudlink::ProcessState;

    #[test]
    fn established_status_renders_the_guide_fields() {
        let status = Status {
            connection_state: ConnectionState::Established,
            device_state: DeviceState::RequestSuccess,
            server_address: Some("10.1.1.1".parse().unwrap()),
            server_domain: Some("cloud.com".into()),
            server_port: 443,
            connected_at: Some(Duration::from_secs(100)),
            duration: Some(Duration::from_secs(121)),
            process_state: ProcessState::MessageReceived,
            failure_reason: None,
            server_index: 0,
        };
        let s = to_cloud_state(&status, Duration::from_secs(221), 1_453_904_441, None);
        let text = tether_cli::display::cloud_management_state(&s);
        assert!(text.contains("Cloud connection state   : Established\n"));
        assert!(text.contains("Device state             : Request_success\n"));
        assert!(text.contains("Cloud server address     : 10.1.1.1\n"));
        assert!(text.contains("Duration                 : 00d 00h 02m 01s\n"));
        assert!(text.contains("Process state            : Message received\n"));
        assert!(text.contains("Failure reason           : N/A\n"));
        assert_eq!(s.connected_at.unwrap().to_unix(), 1_453_904_320);
    }
}
