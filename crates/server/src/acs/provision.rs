//! The ACS's own first step in a session: giving the device connection-request credentials
//! (CR-03) so that `connection_request=true` can work without an operator typing a password
//! into every CPE.
//!
//! When (`cwmp.connection_request.provision_credentials`, default on): the store holds no
//! connection-request credentials for the device, or the Inform carries `0 BOOTSTRAP` (the
//! device's configuration was reset, so whatever it held may be gone). Then, once the CPE has
//! nothing more to send and before any queued task, the session sends one SetParameterValues:
//!
//! * `<root>ManagementServer.ConnectionRequestUsername` = the canonical device id;
//! * `<root>ManagementServer.ConnectionRequestPassword` = 24 random URL-safe characters
//!   (144 bits from the thread CSPRNG);
//! * ParameterKey `tether-cr-<unix seconds>`.
//!
//! Outcome: SetParameterValuesResponse ⇒ the credentials are written to the store (marked
//! provisioned) before anything relies on them. A CPE fault ⇒ a device fault is recorded (no
//! task) and nothing is stored. Either way the step is over for this session: it is tried at
//! most once per session, so a CPE that refuses cannot loop; the next session tries again.
//! A session that ends with the request outstanding stores nothing either.
//!
//! This is not a task: it never appears in task listings or the task hub. It is visible as a
//! log line with the device id, a metric, a device fault on failure, and the device view's
//! `connection_request_credentials`.
//!
//! Owns: deciding, building the RPC, recording the outcome. Must not: drive the session
//! machine (that is `session.rs`).

use base64::Engine as _;
use rand::RngCore as _;
use tether_cwmp::rpc::SetParameterValues;
use tether_cwmp::{Body, Fault, ParameterValue, Value};
use tether_store::{Credentials, Device, NewFault, Store, StoreError, Timestamp};

/// The fault code recorded when the device answers something other than the expected response.
pub const UNEXPECTED_RESPONSE: &str = "unexpected_response";

/// Where provisioning stands in one session.
#[derive(Debug, Clone, Default)]
pub enum Provision {
    /// Not wanted, or already tried in this session.
    #[default]
    Settled,
    /// To be sent before the first task.
    Wanted,
    /// The SetParameterValues is outstanding with these credentials.
    Sent(Credentials),
}

/// Whether the device should be given credentials in this session. `device` is the device as
/// stored after its Inform was recorded.
pub fn wanted(enabled: bool, device: &Device, bootstrap: bool) -> bool {
    enabled && (device.connection_request_credentials.is_none() || bootstrap)
}

/// Fresh credentials for `device_id`.
pub fn new_credentials(device_id: &str) -> Credentials {
    // 18 bytes are exactly 24 base64url characters, no padding.
    let mut raw = [0u8; 18];
    rand::rng().fill_bytes(&mut raw);
    Credentials {
        username: device_id.to_owned(),
        password: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw),
    }
}

/// The SetParameterValues giving `credentials` to the device under `root`.
pub fn request(credentials: &Credentials, root: &str, now: Timestamp) -> Body {
    let base = format!("{root}ManagementServer.");
    Body::SetParameterValues(SetParameterValues {
        parameter_list: vec![
            ParameterValue {
                name: format!("{base}ConnectionRequestUsername"),
                value: Value::string(credentials.username.clone()),
            },
            ParameterValue {
                name: format!("{base}ConnectionRequestPassword"),
                value: Value::string(credentials.password.clone()),
            },
        ],
        parameter_key: format!("tether-cr-{}", now.0.div_euclid(1000)),
    })
}

/// Records what the device answered. Returns whether the credentials are now stored.
pub async fn record_outcome(
    store: &dyn Store,
    device_id: &str,
    credentials: &Credentials,
    outcome: Result<Body, Fault>,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let (code, message, faults) = match outcome {
        Ok(Body::SetParameterValuesResponse(r)) => {
            store
                .set_provisioned_connection_request_credentials(device_id, credentials)
                .await?;
            metrics::counter!("tether_cwmp_connection_request_credentials_total", "outcome" => "provisioned")
                .increment(1);
            tracing::info!(
                device = device_id,
                status = r.status,
                "connection-request credentials provisioned"
            );
            return Ok(true);
        }
        Ok(other) => (
            UNEXPECTED_RESPONSE.to_owned(),
            format!(
                "the device answered {} to the connection-request credentials",
                other.method_name()
            ),
            Vec::new(),
        ),
        Err(fault) => (
            fault.code.0.to_string(),
            fault.string.clone(),
            fault
                .set_parameter_values_faults
                .iter()
                .map(|f| {
                    serde_json::json!({
                        "parameter": f.parameter_name, "code": f.code.0, "message": f.string,
                    })
                })
                .collect(),
        ),
    };
    metrics::counter!("tether_cwmp_connection_request_credentials_total", "outcome" => "refused")
        .increment(1);
    tracing::warn!(
        device = device_id,
        code = %code,
        message = %message,
        "the device refused the connection-request credentials; retried at its next session"
    );
    store
        .record_fault(&NewFault {
            device_id: device_id.to_owned(),
            task_id: None,
            code,
            message,
            detail: serde_json::json!({
                "step": "provision_connection_request_credentials",
                "set_parameter_values_faults": faults,
            }),
            at: now,
        })
        .await?;
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_24_url_safe_characters_and_differ() {
        let a = new_credentials("00E0FC-HX5-1");
        let b = new_credentials("00E0FC-HX5-1");
        assert_eq!(a.username, "00E0FC-HX5-1");
        assert_eq!(a.password.len(), 24);
        assert!(
            a.password
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "{}",
            a.password
        );
        assert_ne!(a.password, b.password);
    }

    #[test]
    fn the_request_names_both_parameters_under_the_root() {
        let c = Credentials {
            username: "u".into(),
            password: "p".into(),
        };
        let Body::SetParameterValues(spv) =
            request(&c, "InternetGatewayDevice.", Timestamp(1_700_000_000_123))
        else {
            panic!("not a SetParameterValues");
        };
        let names: Vec<&str> = spv.parameter_list.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "InternetGatewayDevice.ManagementServer.ConnectionRequestUsername",
                "InternetGatewayDevice.ManagementServer.ConnectionRequestPassword"
            ]
        );
        assert_eq!(spv.parameter_key, "tether-cr-1700000000");
        assert!(spv.parameter_key.len() <= 32, "ParameterKey is string(32)");
    }
}
