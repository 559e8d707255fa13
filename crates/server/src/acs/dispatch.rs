//! Queued tasks to RPCs, and RPC outcomes back to the store and the waiting API callers.
//!
//! Taking a task: `next_task` (expired ones are skipped by the store), then `mark_dispatched`
//! with the session id; a Conflict means another node took it, so take the next. The RPC is
//! [`TaskSpec::to_rpc`] under the device's data model root (`ChangeAcs` becomes a
//! SetParameterValues of `<root>ManagementServer.URL`, Username, Password).
//!
//! Outcomes, stored before anyone is told (then `TaskHub::notify`):
//!
//! | kind | stored result | parameters learned |
//! |---|---|---|
//! | GetParameterNames | `{"parameters": [{name, writable}]}` | names, writability |
//! | GetParameterValues | `{"values": [{name, value, type}]}` | values, types |
//! | SetParameterValues, ChangeAcs | `{"status": 0/1}` | the values just set |
//! | GetParameterAttributes | `{"attributes": [{name, notification, access_list}]}` | attributes |
//! | SetParameterAttributes | `{}` | the attributes set (full names) |
//! | AddObject | `{"instance_number", "status"}` | the new instance object |
//! | DeleteObject | `{"status"}` | the instance subtree is deleted |
//! | Reboot, FactoryReset, ScheduleInform | `{}` | |
//! | Download, Upload | Status 0: `{"status", "start_time", "complete_time"}`; Status 1: stays dispatched until TransferComplete | |
//!
//! A CPE fault faults the task (code, message, SetParameterValuesFault detail) and is recorded
//! as a device fault. A request left outstanding by a broken or expired session follows the
//! crash-recovery rule: idempotent kinds go back to pending, others are faulted `interrupted`.

use tether_cwmp::rpc::TransferComplete;
use tether_cwmp::{Body, DateTime, Fault, Fraction};
use tether_store::{
    NewFault, Page, ParameterUpdate, Store, StoreError, Task, TaskFault, TaskFilter, TaskState,
    Timestamp,
};

use super::sessions::Dispatched;
use super::task_result;
use crate::task_hub::TaskHub;
use crate::task_spec::{TaskSpec, is_idempotent_kind};

/// Most tasks skipped (conflicts, bad payloads) while looking for the next one to send.
const MAX_SKIPS: usize = 64;

/// A task taken for this session, with its RPC.
pub struct Taken {
    pub dispatched: Dispatched,
    pub rpc: Body,
}

/// Takes the device's next pending task for `session_id`. `None`: nothing left.
pub async fn take_next(
    store: &dyn Store,
    hub: &TaskHub,
    device_id: &str,
    session_id: &str,
    root: &str,
    now: Timestamp,
) -> Result<Option<Taken>, StoreError> {
    for _ in 0..MAX_SKIPS {
        let Some(task) = store.next_task(device_id, now).await? else {
            return Ok(None);
        };
        let task = match store.mark_dispatched(task.id, session_id, now).await {
            Ok(t) => t,
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e),
        };
        match TaskSpec::from_stored(&task.payload) {
            Ok(spec) => {
                metrics::counter!("tether_cwmp_tasks_dispatched_total", "kind" => spec.kind())
                    .increment(1);
                let rpc = spec.to_rpc(root);
                return Ok(Some(Taken {
                    dispatched: Dispatched {
                        task: task.id,
                        kind: task.kind.clone(),
                        spec,
                        expires_at: task.expires_at,
                    },
                    rpc,
                }));
            }
            Err(e) => {
                let fault = TaskFault {
                    code: "invalid_task".into(),
                    message: format!("stored payload is not a task spec: {e}"),
                    detail: serde_json::Value::Null,
                };
                fail(store, hub, &task, &fault, now).await?;
            }
        }
    }
    Ok(None)
}

async fn fail(
    store: &dyn Store,
    hub: &TaskHub,
    task: &Task,
    fault: &TaskFault,
    now: Timestamp,
) -> Result<(), StoreError> {
    match store.fail_task(task.id, fault, now).await {
        Ok(()) | Err(StoreError::Conflict(_)) => {}
        Err(e) => return Err(e),
    }
    hub.notify(task.id);
    Ok(())
}

/// The task could not be sent in this session (the RPC does not exist in the session's
/// protocol version): fault it.
pub async fn refuse(
    store: &dyn Store,
    hub: &TaskHub,
    d: &Dispatched,
    reason: String,
    now: Timestamp,
) -> Result<(), StoreError> {
    let fault = TaskFault {
        code: "not_sendable".into(),
        message: reason,
        detail: serde_json::Value::Null,
    };
    match store.fail_task(d.task, &fault, now).await {
        Ok(()) | Err(StoreError::Conflict(_)) => {}
        Err(e) => return Err(e),
    }
    hub.notify(d.task);
    Ok(())
}

/// The session ended with `d` outstanding: it may or may not have run (SES-06).
pub async fn interrupt(
    store: &dyn Store,
    hub: &TaskHub,
    d: &Dispatched,
    why: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    let fault = TaskFault {
        code: TaskFault::INTERRUPTED.into(),
        message: format!("the session ended ({why}) before the device answered"),
        detail: serde_json::Value::Null,
    };
    match store.fail_task(d.task, &fault, now).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => return Ok(()),
        Err(e) => return Err(e),
    }
    if is_idempotent_kind(&d.kind) {
        store.retry_task(d.task, d.expires_at, now).await?;
    } else {
        hub.notify(d.task);
    }
    Ok(())
}

fn time(t: &DateTime) -> String {
    t.format(Fraction::Omit)
}

/// Stores the outcome of `d`'s RPC. Returns whether the task is settled now.
pub async fn record_result(
    store: &dyn Store,
    hub: &TaskHub,
    device_id: &str,
    d: &Dispatched,
    outcome: Result<Body, Fault>,
    now: Timestamp,
) -> Result<(), StoreError> {
    let body = match outcome {
        Ok(b) => b,
        Err(fault) => return record_cpe_fault(store, hub, device_id, d, &fault, now).await,
    };
    let mut learned: Vec<ParameterUpdate> = Vec::new();
    let result = match (&d.spec, body) {
        (_, Body::GetParameterNamesResponse(r)) => {
            learned.extend(r.parameter_list.iter().map(|p| ParameterUpdate {
                name: p.name.clone(),
                writable: Some(p.writable),
                ..ParameterUpdate::default()
            }));
            task_result::names(&r)?
        }
        (_, Body::GetParameterValuesResponse(r)) => {
            learned.extend(
                r.parameter_list.iter().map(|p| {
                    ParameterUpdate::value(&p.name, &p.value.text, p.value.kind.xsi_type())
                }),
            );
            task_result::values(&r)?
        }
        (spec, Body::SetParameterValuesResponse(r)) => {
            if let Body::SetParameterValues(spv) = spec.to_rpc("Device.") {
                // ChangeAcs names depend on the root; only SetParameterValues is learned.
                if matches!(spec, TaskSpec::SetParameterValues { .. }) {
                    learned.extend(spv.parameter_list.iter().map(|p| {
                        ParameterUpdate::value(&p.name, &p.value.text, p.value.kind.xsi_type())
                    }));
                }
            }
            task_result::text(&serde_json::json!({"status": r.status}))?
        }
        (_, Body::GetParameterAttributesResponse(r)) => {
            learned.extend(r.parameter_list.iter().map(|p| ParameterUpdate {
                name: p.name.clone(),
                notification: Some(p.notification),
                access_list: Some(p.access_list.clone()),
                ..ParameterUpdate::default()
            }));
            task_result::attributes(&r)?
        }
        (TaskSpec::SetParameterAttributes { attributes }, Body::SetParameterAttributesResponse) => {
            learned.extend(
                attributes
                    .iter()
                    .filter(|a| !a.name.ends_with('.') && !a.name.is_empty())
                    .map(|a| ParameterUpdate {
                        name: a.name.clone(),
                        notification: a.notification,
                        access_list: a.access_list.clone(),
                        ..ParameterUpdate::default()
                    }),
            );
            task_result::text(&serde_json::json!({}))?
        }
        (TaskSpec::AddObject { object, .. }, Body::AddObjectResponse(r)) => {
            learned.push(ParameterUpdate {
                name: format!("{object}{}.", r.instance_number),
                ..ParameterUpdate::default()
            });
            task_result::text(
                &serde_json::json!({"instance_number": r.instance_number, "status": r.status}),
            )?
        }
        (TaskSpec::DeleteObject { object, .. }, Body::DeleteObjectResponse(r)) => {
            store.delete_parameter_subtree(device_id, object).await?;
            task_result::text(&serde_json::json!({"status": r.status}))?
        }
        (_, Body::DownloadResponse(r) | Body::UploadResponse(r)) => {
            if r.status != 0 {
                // Accepted; the outcome comes with TransferComplete in a later session. Recorded
                // so that a broken session or a server restart does not fault it meanwhile.
                let progress = serde_json::json!({"status": r.status, "accepted_at": now.0});
                return match store.mark_accepted(d.task, &progress, now).await {
                    Ok(()) | Err(StoreError::Conflict(_)) => Ok(()),
                    Err(e) => Err(e),
                };
            }
            task_result::text(
                &serde_json::json!({"status": r.status, "start_time": time(&r.start_time), "complete_time": time(&r.complete_time)}),
            )?
        }
        (_, Body::RebootResponse | Body::FactoryResetResponse | Body::ScheduleInformResponse) => {
            task_result::text(&serde_json::json!({}))?
        }
        (_, other) => task_result::text(&serde_json::json!({"response": other.method_name()}))?,
    };
    if !learned.is_empty() {
        store.upsert_parameters(device_id, &learned, now).await?;
    }
    match store.complete_task(d.task, &result, now).await {
        Ok(()) | Err(StoreError::Conflict(_)) => {}
        Err(e) => return Err(e),
    }
    hub.notify(d.task);
    Ok(())
}

fn fault_detail(fault: &Fault) -> serde_json::Value {
    serde_json::json!({
        "set_parameter_values_faults": fault.set_parameter_values_faults.iter().map(|f| serde_json::json!({
            "parameter": f.parameter_name, "code": f.code.0, "message": f.string,
        })).collect::<Vec<_>>(),
    })
}

async fn record_cpe_fault(
    store: &dyn Store,
    hub: &TaskHub,
    device_id: &str,
    d: &Dispatched,
    fault: &Fault,
    now: Timestamp,
) -> Result<(), StoreError> {
    let detail = fault_detail(fault);
    store
        .record_fault(&NewFault {
            device_id: device_id.to_owned(),
            task_id: Some(d.task),
            code: fault.code.0.to_string(),
            message: fault.string.clone(),
            detail: detail.clone(),
            at: now,
        })
        .await?;
    let task_fault = TaskFault {
        code: fault.code.0.to_string(),
        message: fault.string.clone(),
        detail,
    };
    match store.fail_task(d.task, &task_fault, now).await {
        Ok(()) | Err(StoreError::Conflict(_)) => {}
        Err(e) => return Err(e),
    }
    hub.notify(d.task);
    Ok(())
}

/// TransferComplete: completes or faults the dispatched Download/Upload with that CommandKey.
/// Returns whether a task matched.
pub async fn transfer_complete(
    store: &dyn Store,
    hub: &TaskHub,
    device_id: &str,
    tc: &TransferComplete,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let filter = TaskFilter {
        device_id: Some(device_id.to_owned()),
        state: Some(TaskState::Dispatched),
        owner: None,
    };
    let tasks = store.list_tasks(&filter, Page::new(100, 0)).await?;
    let found = tasks
        .items
        .into_iter()
        .find(|t| match TaskSpec::from_stored(&t.payload) {
            Ok(TaskSpec::Download { command_key, .. } | TaskSpec::Upload { command_key, .. }) => {
                command_key.unwrap_or_default() == tc.command_key
            }
            _ => false,
        });
    let failed = tc.fault.code.0 != 0;
    if failed {
        let detail = serde_json::json!({"command_key": tc.command_key, "start_time": time(&tc.start_time), "complete_time": time(&tc.complete_time)});
        store
            .record_fault(&NewFault {
                device_id: device_id.to_owned(),
                task_id: found.as_ref().map(|t| t.id),
                code: tc.fault.code.0.to_string(),
                message: tc.fault.string.clone(),
                detail: detail.clone(),
                at: now,
            })
            .await?;
        if let Some(task) = &found {
            let fault = TaskFault {
                code: tc.fault.code.0.to_string(),
                message: tc.fault.string.clone(),
                detail,
            };
            fail(store, hub, task, &fault, now).await?;
        }
    } else if let Some(task) = &found {
        let result = serde_json::json!({
            "status": 0,
            "start_time": time(&tc.start_time),
            "complete_time": time(&tc.complete_time),
            "confirmed_by": "TransferComplete",
        });
        match store
            .complete_task(task.id, &task_result::text(&result)?, now)
            .await
        {
            Ok(()) | Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
        hub.notify(task.id);
    }
    Ok(found.is_some())
}
