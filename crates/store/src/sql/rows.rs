//! What every SQL path shares, whatever the driver: the column lists and upsert clauses of the
//! hot tables, how stored text (JSON, states, credential origins) becomes the store's types,
//! and the checks made before anything is written.
//!
//! `engine.rs` reads rows through sqlx and `sqlite_hot_path.rs` through rusqlite; each only
//! copies column values into a [`RawDevice`] or [`RawTask`], and the decoding is done here once.

use std::borrow::Cow;
use std::collections::HashMap;

use crate::{
    Credentials, CredentialsOrigin, Device, DeviceIdentity, InformEvent, ParameterUpdate,
    StoreError, StoreResult, Task, TaskFault, TaskId, TaskState, Timestamp,
};

/// The `devices` columns a [`RawDevice`] is read from (table alias `d`).
macro_rules! device_columns {
    () => {
        "d.id, d.device_key, d.oui, d.product_class, d.serial_number, d.manufacturer, d.owner_id, \
         d.created_at, d.last_inform_at, d.last_inform_events, d.remote_addr, d.online_until, \
         d.conn_req_url, d.conn_req_username, d.conn_req_password, d.conn_req_source, \
         d.cpe_username, d.cpe_password"
    };
}
pub(crate) use device_columns;

/// The `tasks` columns a [`RawTask`] is read from (aliases `t` and `d`).
macro_rules! task_columns {
    () => {
        "t.id, d.device_key, t.kind, t.payload, t.state, t.created_at, t.updated_at, \
         t.expires_at, t.attempts, t.session_id, t.dispatched_at, t.result, t.fault_code, \
         t.fault_message, t.fault_detail"
    };
}
pub(crate) use task_columns;

/// The `DO UPDATE` of a parameter upsert: fields the update leaves `NULL` keep what is stored.
pub(crate) const PARAMETER_UPSERT_SET: &str = " ON CONFLICT (device_id, name) DO UPDATE SET \
    value = COALESCE(excluded.value, parameters.value), \
    xsi_type = COALESCE(excluded.xsi_type, parameters.xsi_type), \
    writable = COALESCE(excluded.writable, parameters.writable), \
    notification = COALESCE(excluded.notification, parameters.notification), \
    access_list = COALESCE(excluded.access_list, parameters.access_list), \
    learned_at = excluded.learned_at";

/// The `WHERE` that makes a parameter upsert touch a row only when some column it would set
/// differs (null-safe). Used for the parameters an Inform carries: they come every session,
/// mostly unchanged, and rewriting their rows was most of the SQLite work of a periodic
/// session (BENCHMARKS.md). The device's `last_inform_at` says when they were last confirmed.
pub(crate) const ONLY_IF_CHANGED: &str = " WHERE \
    parameters.value IS DISTINCT FROM COALESCE(excluded.value, parameters.value) \
    OR parameters.xsi_type IS DISTINCT FROM COALESCE(excluded.xsi_type, parameters.xsi_type) \
    OR parameters.writable IS DISTINCT FROM COALESCE(excluded.writable, parameters.writable) \
    OR parameters.notification IS DISTINCT FROM \
       COALESCE(excluded.notification, parameters.notification) \
    OR parameters.access_list IS DISTINCT FROM \
       COALESCE(excluded.access_list, parameters.access_list)";

/// The `DO UPDATE` of the device upsert an Inform makes: identity and session facts are the
/// Inform's; a missing connection-request URL keeps the stored one.
pub(crate) const INFORM_DEVICE_UPSERT_SET: &str = " ON CONFLICT (device_key) DO UPDATE SET \
    oui = excluded.oui, product_class = excluded.product_class, \
    serial_number = excluded.serial_number, manufacturer = excluded.manufacturer, \
    last_inform_at = excluded.last_inform_at, \
    last_inform_events = excluded.last_inform_events, \
    remote_addr = excluded.remote_addr, online_until = excluded.online_until, \
    conn_req_url = COALESCE(excluded.conn_req_url, devices.conn_req_url)";

pub(crate) fn parse_json(text: &str, what: &str) -> StoreResult<serde_json::Value> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::Backend(format!("stored {what} is not JSON: {e}")))
}

pub(crate) fn credentials(
    username: Option<String>,
    password: Option<String>,
) -> Option<Credentials> {
    match (username, password) {
        (Some(username), Some(password)) => Some(Credentials { username, password }),
        _ => None,
    }
}

pub(crate) fn events_to_json(events: &[InformEvent]) -> String {
    let list: Vec<serde_json::Value> = events
        .iter()
        .map(|e| serde_json::json!({ "code": e.code, "command_key": e.command_key }))
        .collect();
    serde_json::Value::Array(list).to_string()
}

pub(crate) fn events_from_json(text: &str) -> StoreResult<Vec<InformEvent>> {
    let value = parse_json(text, "inform events")?;
    let field = |item: &serde_json::Value, key: &str| {
        item.get(key)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned()
    };
    Ok(value
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|item| InformEvent {
                    code: field(item, "code"),
                    command_key: field(item, "command_key"),
                })
                .collect()
        })
        .unwrap_or_default())
}

pub(crate) fn access_list_to_json(list: &Option<Vec<String>>) -> Option<String> {
    list.as_ref()
        .map(|l| serde_json::Value::from(l.clone()).to_string())
}

pub(crate) fn require_nonempty(value: &str, what: &str) -> StoreResult<()> {
    if value.is_empty() {
        Err(StoreError::Invalid(format!("{what} must not be empty")))
    } else {
        Ok(())
    }
}

/// Merges updates of the same name (later fields win) so one batch never touches a row twice.
/// A list without a repeated name (every Inform and RPC result in practice) is returned as it
/// is, without a copy.
pub(crate) fn merge_updates(
    parameters: &[ParameterUpdate],
) -> StoreResult<Cow<'_, [ParameterUpdate]>> {
    for update in parameters {
        require_nonempty(&update.name, "parameter name")?;
    }
    if !has_repeated_name(parameters) {
        return Ok(Cow::Borrowed(parameters));
    }
    let mut merged: Vec<ParameterUpdate> = Vec::with_capacity(parameters.len());
    let mut index: HashMap<&str, usize> = HashMap::with_capacity(parameters.len());
    for update in parameters {
        match index.get(update.name.as_str()) {
            None => {
                index.insert(&update.name, merged.len());
                merged.push(update.clone());
            }
            Some(&i) => {
                let into = &mut merged[i];
                if update.value.is_some() {
                    into.value.clone_from(&update.value);
                }
                if update.xsi_type.is_some() {
                    into.xsi_type.clone_from(&update.xsi_type);
                }
                if update.writable.is_some() {
                    into.writable = update.writable;
                }
                if update.notification.is_some() {
                    into.notification = update.notification;
                }
                if update.access_list.is_some() {
                    into.access_list.clone_from(&update.access_list);
                }
            }
        }
    }
    Ok(Cow::Owned(merged))
}

/// Whether two updates name the same parameter. Short lists (an Inform's) are compared pairwise,
/// which is cheaper than hashing every name.
fn has_repeated_name(parameters: &[ParameterUpdate]) -> bool {
    if parameters.len() <= 32 {
        return parameters
            .iter()
            .enumerate()
            .any(|(i, p)| parameters[..i].iter().any(|q| q.name == p.name));
    }
    let mut seen = std::collections::HashSet::with_capacity(parameters.len());
    !parameters.iter().all(|p| seen.insert(p.name.as_str()))
}

/// The columns of [`device_columns!`] as read, before decoding.
pub(crate) struct RawDevice {
    pub(crate) device_key: String,
    pub(crate) oui: String,
    pub(crate) product_class: String,
    pub(crate) serial_number: String,
    pub(crate) manufacturer: String,
    pub(crate) owner_id: Option<i64>,
    pub(crate) created_at: i64,
    pub(crate) last_inform_at: Option<i64>,
    pub(crate) last_inform_events: String,
    pub(crate) remote_addr: Option<String>,
    pub(crate) online_until: Option<i64>,
    pub(crate) conn_req_url: Option<String>,
    pub(crate) conn_req_username: Option<String>,
    pub(crate) conn_req_password: Option<String>,
    pub(crate) conn_req_source: Option<String>,
    pub(crate) cpe_username: Option<String>,
    pub(crate) cpe_password: Option<String>,
}

impl RawDevice {
    pub(crate) fn decode(self) -> StoreResult<Device> {
        let connection_request_credentials =
            credentials(self.conn_req_username, self.conn_req_password);
        let connection_request_credentials_origin =
            match (&connection_request_credentials, self.conn_req_source) {
                (None, _) => None,
                (Some(_), None) => Some(CredentialsOrigin::Configured),
                (Some(_), Some(text)) => {
                    Some(CredentialsOrigin::parse(&text).ok_or_else(|| {
                        StoreError::Backend(format!(
                            "stored credentials origin {text:?} is unknown"
                        ))
                    })?)
                }
            };
        Ok(Device {
            identity: DeviceIdentity {
                id: self.device_key,
                oui: self.oui,
                product_class: self.product_class,
                serial_number: self.serial_number,
                manufacturer: self.manufacturer,
            },
            owner: self.owner_id.map(crate::AccountId),
            created_at: Timestamp(self.created_at),
            last_inform_at: self.last_inform_at.map(Timestamp),
            last_inform_events: events_from_json(&self.last_inform_events)?,
            remote_addr: self.remote_addr,
            online_until: self.online_until.map(Timestamp),
            connection_request_url: self.conn_req_url,
            connection_request_credentials,
            connection_request_credentials_origin,
            cpe_credentials: credentials(self.cpe_username, self.cpe_password),
        })
    }
}

/// The columns of [`task_columns!`] as read, before decoding.
pub(crate) struct RawTask {
    pub(crate) id: i64,
    pub(crate) device_key: String,
    pub(crate) kind: String,
    pub(crate) payload: String,
    pub(crate) state: String,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
    pub(crate) expires_at: Option<i64>,
    pub(crate) attempts: i64,
    pub(crate) session_id: Option<String>,
    pub(crate) dispatched_at: Option<i64>,
    pub(crate) result: Option<String>,
    pub(crate) fault_code: Option<String>,
    pub(crate) fault_message: Option<String>,
    pub(crate) fault_detail: Option<String>,
}

impl RawTask {
    pub(crate) fn decode(self) -> StoreResult<Task> {
        let state = TaskState::parse(&self.state)
            .ok_or_else(|| StoreError::Backend(format!("unknown task state {:?}", self.state)))?;
        let fault = match self.fault_code {
            None => None,
            Some(code) => Some(TaskFault {
                code,
                message: self.fault_message.unwrap_or_default(),
                detail: match self.fault_detail {
                    Some(text) => parse_json(&text, "fault detail")?,
                    None => serde_json::Value::Null,
                },
            }),
        };
        Ok(Task {
            id: TaskId(self.id),
            device_id: self.device_key,
            kind: self.kind,
            payload: parse_json(&self.payload, "task payload")?,
            state,
            created_at: Timestamp(self.created_at),
            updated_at: Timestamp(self.updated_at),
            expires_at: self.expires_at.map(Timestamp),
            attempts: u32::try_from(self.attempts).unwrap_or(u32::MAX),
            session_id: self.session_id,
            dispatched_at: self.dispatched_at.map(Timestamp),
            result: match self.result {
                Some(text) => Some(parse_json(&text, "task result")?),
                None => None,
            },
            fault,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(name: &str, value: &str) -> ParameterUpdate {
        ParameterUpdate::value(name, value, "xsd:string")
    }

    #[test]
    fn distinct_names_are_kept_as_given_without_a_copy() {
        let list = vec![value("Device.A", "1"), value("Device.B", "2")];
        let merged = merge_updates(&list).expect("merges");
        assert!(matches!(merged, Cow::Borrowed(_)));
        assert_eq!(&*merged, &list[..]);
    }

    #[test]
    fn a_repeated_name_becomes_one_update_with_the_later_fields() {
        for count in [3, 40] {
            let mut list: Vec<_> = (0..count)
                .map(|i| value(&format!("Device.P{i}"), "old"))
                .collect();
            let mut later = value("Device.P1", "new");
            later.writable = Some(true);
            list.push(later);
            let merged = merge_updates(&list).expect("merges");
            assert_eq!(merged.len(), count, "{count} names");
            assert_eq!(merged[1].value.as_deref(), Some("new"));
            assert_eq!(merged[1].writable, Some(true));
            assert_eq!(merged[0].value.as_deref(), Some("old"));
        }
    }

    #[test]
    fn an_empty_name_is_refused() {
        assert!(merge_updates(&[value("", "1")]).is_err());
    }
}
