//! The Inform, stored durably before it is acknowledged (architecture principle 4).
//!
//! One `record_inform` transaction writes identity, events, remote address, connection-request
//! URL, `online_until` and every ParameterList value (batched by the store). Extra store work
//! happens only when the Inform asks for it:
//!
//! * first contact under `unknown_devices = accept`: the device is registered first (owner);
//! * `0 BOOTSTRAP` (EVT-06): the device is new to us, or was reset or moved: every cached
//!   parameter under `Device.` and `InternetGatewayDevice.` (values, types, writability,
//!   notification and access-list attributes) is dropped before the Inform's values are
//!   written, so nothing learned about the old device state is trusted. Queued tasks are kept:
//!   operators queue provisioning for exactly this moment. A dispatched FactoryReset is done;
//! * `M Reboot` / `M ScheduleInform`: the dispatched task with that CommandKey is done (its
//!   session broke before the response arrived, but the CPE says it ran). Transfers complete
//!   with the TransferComplete RPC instead, which carries the outcome.
//!
//! `online_until` = Inform time + 2 × PeriodicInformInterval (at least 120 s), the interval
//! taken from the Inform or else the stored parameter, default 1 h.

use tether_cwmp::EventCode;
use tether_cwmp::rpc::Inform;
use tether_store::{
    AccountId, Device, DeviceIdentity, InformEvent, InformRecord, ParameterUpdate, Store,
    StoreError, TaskFilter, TaskState, Timestamp,
};

use crate::task_hub::TaskHub;
use crate::task_spec::TaskSpec;

/// Interval assumed when a device never reported PeriodicInformInterval.
const DEFAULT_INTERVAL_SECS: i64 = 3600;

/// The data model root of the Inform (`Device.` when it names none).
pub fn root_of(inform: &Inform) -> &'static str {
    inform.root_object().unwrap_or("Device.")
}

fn parameter_ending<'a>(inform: &'a Inform, suffix: &str) -> Option<&'a str> {
    inform
        .parameter_list
        .iter()
        .find(|p| p.name.ends_with(suffix))
        .map(|p| p.value.text.trim())
}

/// Writes the Inform. `existing` is the device as stored (None: first contact). Takes the
/// Inform: its parameter names and values move into the store's record instead of being copied.
pub async fn record(
    store: &dyn Store,
    hub: &TaskHub,
    mut inform: Inform,
    existing: Option<&Device>,
    owner: Option<AccountId>,
    remote_addr: String,
    at: Timestamp,
) -> Result<Device, StoreError> {
    let id = inform.device_id.canonical();
    let identity = DeviceIdentity {
        id: id.clone(),
        oui: inform.device_id.oui.clone(),
        product_class: inform.device_id.product_class.clone(),
        serial_number: inform.device_id.serial_number.clone(),
        manufacturer: inform.device_id.manufacturer.clone(),
    };
    if existing.is_none() {
        match store.register_device(&identity, owner, None, at).await {
            Ok(_) | Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
    }
    let bootstrap = inform.has_event(&EventCode::Bootstrap);
    if bootstrap && existing.is_some() {
        for root in ["Device.", "InternetGatewayDevice."] {
            store.delete_parameter_subtree(&id, root).await?;
        }
    }
    let root = root_of(&inform);
    let interval = match parameter_ending(&inform, ".ManagementServer.PeriodicInformInterval")
        .and_then(|v| v.parse::<i64>().ok())
    {
        Some(v) => Some(v),
        None if existing.is_some() && !bootstrap => {
            let name = format!("{root}ManagementServer.PeriodicInformInterval");
            store
                .list_parameters(&id, Some(&name))
                .await?
                .into_iter()
                .find(|p| p.name == name)
                .and_then(|p| p.value)
                .and_then(|v| v.trim().parse::<i64>().ok())
        }
        None => None,
    }
    .filter(|v| *v > 0)
    .unwrap_or(DEFAULT_INTERVAL_SECS);
    let online_until = at.plus_millis((interval.saturating_mul(2)).max(120).saturating_mul(1000));
    let record = InformRecord {
        identity,
        at,
        events: inform
            .events
            .iter()
            .map(|e| InformEvent {
                code: e.code.to_string(),
                command_key: e.command_key.clone(),
            })
            .collect(),
        remote_addr: Some(remote_addr),
        connection_request_url: parameter_ending(&inform, ".ManagementServer.ConnectionRequestURL")
            .filter(|u| !u.is_empty())
            .map(str::to_owned),
        online_until: Some(online_until),
        parameters: std::mem::take(&mut inform.parameter_list)
            .into_iter()
            .map(|p| {
                let xsi_type = p.value.kind.xsi_type();
                ParameterUpdate::value(p.name, p.value.text, xsi_type)
            })
            .collect(),
    };
    let device = store.record_inform(&record).await?;
    complete_by_events(store, hub, &inform, &id, at).await?;
    Ok(device)
}

/// Completes dispatched tasks the Inform's events report as run.
async fn complete_by_events(
    store: &dyn Store,
    hub: &TaskHub,
    inform: &Inform,
    device_id: &str,
    at: Timestamp,
) -> Result<(), StoreError> {
    let mut wanted: Vec<(&str, Option<&str>)> = Vec::new();
    for e in &inform.events {
        match &e.code {
            EventCode::Method(m) if m == "Reboot" || m == "ScheduleInform" => {
                wanted.push((m.as_str(), Some(e.command_key.as_str())));
            }
            EventCode::Bootstrap => wanted.push(("FactoryReset", None)),
            _ => {}
        }
    }
    if wanted.is_empty() {
        return Ok(());
    }
    let filter = TaskFilter {
        device_id: Some(device_id.to_owned()),
        state: Some(TaskState::Dispatched),
        owner: None,
    };
    let tasks = store
        .list_tasks(&filter, tether_store::Page::new(100, 0))
        .await?;
    for task in tasks.items {
        let key = match TaskSpec::from_stored(&task.payload) {
            Ok(TaskSpec::Reboot { command_key })
            | Ok(TaskSpec::ScheduleInform { command_key, .. }) => command_key.unwrap_or_default(),
            _ => String::new(),
        };
        let hit = wanted
            .iter()
            .any(|(kind, k)| *kind == task.kind && k.is_none_or(|k| k == key));
        if hit {
            let result =
                super::task_result::text(&serde_json::json!({"confirmed_by": "inform_event"}))?;
            match store.complete_task(task.id, &result, at).await {
                Ok(()) => hub.notify(task.id),
                Err(StoreError::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}
