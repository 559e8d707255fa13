//! `/api/v1/devices/{id}/tasks` and `/api/v1/tasks`: create (optionally triggering a
//! connection request and waiting, bounded, for the outcome), list, show, cancel, retry.
//!
//! Creation order is fixed: validate, store (the task is durable from here on), then trigger
//! the connection request, then wait. A failed connection request or an elapsed wait never
//! loses the task; the response says what happened. When the connection request fails there
//! is no wait: the device was not woken, so the answer comes at once (`"wait": "skipped"`) and
//! the task stays pending for the device's next session.

use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::{StatusCode, header};
use serde::{Deserialize, Serialize};
use tether_store::{NewTask, Task, TaskFilter, TaskId, TaskState, Timestamp};

use super::auth::Caller;
use super::devices::visible_device;
use super::error::{ApiError, ApiJson, ApiPath, ApiQuery};
use super::{ApiState, Listing, PageQuery};
use crate::clock;
use crate::task_hub::WaitError;
use crate::task_spec::TaskSpec;

/// Longest explicit expiry: one year.
const MAX_EXPIRES_IN: u64 = 365 * 86_400;

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/devices/{id}/tasks", get(list_for_device).post(create))
        .route("/tasks", get(list))
        .route("/tasks/{id}", get(show))
        .route("/tasks/{id}/cancel", post(cancel))
        .route("/tasks/{id}/retry", post(retry))
}

/// A task as the API shows it. Passwords in the spec are masked.
#[derive(Debug, Serialize)]
pub struct TaskView {
    pub id: i64,
    pub device_id: String,
    pub kind: String,
    pub state: &'static str,
    pub spec: serde_json::Value,
    pub created_at: String,
    pub updated_at: String,
    pub expires_at: Option<String>,
    pub attempts: u32,
    pub dispatched_at: Option<String>,
    pub result: Option<serde_json::Value>,
    pub fault: Option<serde_json::Value>,
}

/// The state to show: a pending task past its expiry is expired even before the sweep
/// records it.
fn effective_state(t: &Task, now: Timestamp) -> TaskState {
    match (t.state, t.expires_at) {
        (TaskState::Pending, Some(at)) if at <= now => TaskState::Expired,
        (state, _) => state,
    }
}

fn mask(mut spec: serde_json::Value) -> serde_json::Value {
    if let Some(obj) = spec.as_object_mut()
        && let Some(p) = obj.get_mut("password")
        && !p.is_null()
    {
        *p = serde_json::Value::from("********");
    }
    spec
}

impl TaskView {
    pub fn new(t: &Task) -> Self {
        TaskView {
            id: t.id.0,
            device_id: t.device_id.clone(),
            kind: t.kind.clone(),
            state: effective_state(t, clock::now()).as_str(),
            spec: mask(t.payload.clone()),
            created_at: clock::format(t.created_at),
            updated_at: clock::format(t.updated_at),
            expires_at: t.expires_at.map(clock::format),
            attempts: t.attempts,
            dispatched_at: t.dispatched_at.map(clock::format),
            result: t.result.clone(),
            fault: t.fault.as_ref().map(
                |f| serde_json::json!({"code": f.code, "message": f.message, "detail": f.detail}),
            ),
        }
    }
}

/// The task `id` if its device is visible to the caller; 404 otherwise.
async fn visible_task(state: &ApiState, caller: &Caller, id: i64) -> Result<Task, ApiError> {
    let not_found = || ApiError::not_found(format!("task {id}"));
    let task = state
        .app
        .store
        .task(TaskId(id))
        .await?
        .ok_or_else(not_found)?;
    visible_device(state, caller, &task.device_id)
        .await
        .map_err(|_| not_found())?;
    Ok(task)
}

fn expiry(
    state: &ApiState,
    expires_in: Option<u64>,
    now: Timestamp,
) -> Result<Timestamp, ApiError> {
    let secs = match expires_in {
        None => state.app.config.tasks.default_expiry.0.as_secs(),
        Some(s) if (1..=MAX_EXPIRES_IN).contains(&s) => s,
        Some(_) => {
            return Err(ApiError::invalid(format!(
                "expires_in must be 1 to {MAX_EXPIRES_IN} seconds"
            )));
        }
    };
    Ok(now.plus_millis(i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateQuery {
    /// Ask the device to open a session now.
    #[serde(default)]
    connection_request: bool,
    /// Seconds to wait for the outcome (at most `limits.max_wait`).
    #[serde(default)]
    wait: u64,
    /// Seconds until the task expires if not yet dispatched (default `tasks.default_expiry`).
    expires_in: Option<u64>,
}

async fn create(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(device_id): ApiPath<String>,
    ApiQuery(q): ApiQuery<CreateQuery>,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> Result<Response, ApiError> {
    // Nothing reaches the store before the spec is known good.
    let spec: TaskSpec =
        serde_json::from_value(body).map_err(|e| ApiError::InvalidTask(e.to_string()))?;
    spec.validate()?;
    let max_wait = state.app.config.limits.max_wait.0;
    let wait = Duration::from_secs(q.wait);
    if wait > max_wait {
        return Err(ApiError::invalid(format!(
            "wait must be at most {} seconds",
            max_wait.as_secs()
        )));
    }
    let now = clock::now();
    let expires_at = expiry(&state, q.expires_in, now)?;
    let device = visible_device(&state, &caller, &device_id).await?;

    let id = state
        .app
        .store
        .create_task(&NewTask {
            device_id: device.identity.id.clone(),
            kind: spec.kind().to_owned(),
            payload: spec.to_payload(),
            expires_at: Some(expires_at),
            created_at: now,
        })
        .await?;
    metrics::counter!("tether_tasks_created_total", "kind" => spec.kind()).increment(1);

    let mut waited = None;
    let connection_request = if q.connection_request {
        Some(
            match state.app.acs.connection_request(&device.identity.id).await {
                Ok(()) => serde_json::json!({"status": "sent"}),
                Err(e) => {
                    if !wait.is_zero() {
                        waited = Some("skipped");
                    }
                    serde_json::json!({
                        "status": "failed",
                        "error": {"code": e.code(), "message": e.to_string()},
                    })
                }
            },
        )
    } else {
        None
    };

    let task = if wait.is_zero() || waited.is_some() {
        state.app.store.task(id).await?
    } else {
        match state.app.hub.wait(id, wait).await {
            Ok(task) => Some(task),
            Err(WaitError::Busy) => {
                waited = Some("busy");
                state.app.store.task(id).await?
            }
            Err(WaitError::NotFound(_)) => None,
            Err(WaitError::Store(e)) => return Err(e.into()),
        }
    };
    // The device may have been deleted meanwhile; the task went with it.
    let task = task.ok_or_else(|| ApiError::not_found(format!("task {}", id.0)))?;

    let mut body = serde_json::to_value(TaskView::new(&task))
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    if let Some(cr) = connection_request {
        body["connection_request"] = cr;
    }
    if let Some(w) = waited {
        body["wait"] = serde_json::Value::from(w);
    }
    let location = format!("/api/v1/tasks/{}", id.0);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(body),
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    state: Option<String>,
    device: Option<String>,
    limit: Option<u32>,
    offset: Option<u64>,
}

fn parse_state(s: Option<String>) -> Result<Option<TaskState>, ApiError> {
    s.map(|s| {
        TaskState::parse(&s).ok_or_else(|| {
            ApiError::invalid(
                "state must be one of pending, dispatched, done, faulted, expired, cancelled",
            )
        })
    })
    .transpose()
}

async fn list_tasks(
    state: &ApiState,
    filter: TaskFilter,
    page: PageQuery,
) -> Result<Json<Listing<TaskView>>, ApiError> {
    let page = page.page(state.app.config.limits.max_page)?;
    let paged = state.app.store.list_tasks(&filter, page).await?;
    Ok(Json(Listing::new(
        paged.items.iter().map(TaskView::new).collect(),
        paged.total,
        page,
    )))
}

async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Listing<TaskView>>, ApiError> {
    let filter = TaskFilter {
        device_id: q.device,
        state: parse_state(q.state)?,
        owner: caller.scope(),
    };
    list_tasks(
        &state,
        filter,
        PageQuery {
            limit: q.limit,
            offset: q.offset,
        },
    )
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeviceListQuery {
    state: Option<String>,
    limit: Option<u32>,
    offset: Option<u64>,
}

async fn list_for_device(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<DeviceListQuery>,
) -> Result<Json<Listing<TaskView>>, ApiError> {
    let device = visible_device(&state, &caller, &id).await?;
    let filter = TaskFilter {
        device_id: Some(device.identity.id),
        state: parse_state(q.state)?,
        owner: None,
    };
    list_tasks(
        &state,
        filter,
        PageQuery {
            limit: q.limit,
            offset: q.offset,
        },
    )
    .await
}

async fn show(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<TaskView>, ApiError> {
    let task = visible_task(&state, &caller, id).await?;
    Ok(Json(TaskView::new(&task)))
}

async fn cancel(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<TaskView>, ApiError> {
    let task = visible_task(&state, &caller, id).await?;
    let now = clock::now();
    state.app.store.cancel_task(task.id, now).await?;
    state.app.hub.notify(task.id);
    let task = visible_task(&state, &caller, id).await?;
    Ok(Json(TaskView::new(&task)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RetryQuery {
    expires_in: Option<u64>,
}

async fn retry(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<RetryQuery>,
) -> Result<Json<TaskView>, ApiError> {
    let task = visible_task(&state, &caller, id).await?;
    let now = clock::now();
    let expires_at = expiry(&state, q.expires_in, now)?;
    // A pending task past its expiry shows as expired; record that before retrying it.
    if effective_state(&task, now) == TaskState::Expired && task.state == TaskState::Pending {
        state.app.store.expire_tasks(now).await?;
    }
    state
        .app
        .store
        .retry_task(task.id, Some(expires_at), now)
        .await?;
    let task = visible_task(&state, &caller, id).await?;
    Ok(Json(TaskView::new(&task)))
}
