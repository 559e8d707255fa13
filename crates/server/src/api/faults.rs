//! `/api/v1/faults` and `/api/v1/devices/{id}/faults`: list and clear the faults devices
//! reported.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::{delete, get};
use http::StatusCode;
use serde::{Deserialize, Serialize};
use tether_store::{Fault, FaultFilter, FaultId};

use super::auth::Caller;
use super::devices::visible_device;
use super::error::{ApiError, ApiPath, ApiQuery};
use super::{ApiState, Listing, PageQuery};
use crate::clock;

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/faults", get(list))
        .route("/faults/{id}", delete(clear))
        .route(
            "/devices/{id}/faults",
            get(list_for_device).delete(clear_for_device),
        )
}

#[derive(Debug, Serialize)]
struct FaultView {
    id: i64,
    device_id: String,
    task_id: Option<i64>,
    code: String,
    message: String,
    detail: serde_json::Value,
    at: String,
}

impl From<Fault> for FaultView {
    fn from(f: Fault) -> Self {
        FaultView {
            id: f.id.0,
            device_id: f.device_id,
            task_id: f.task_id.map(|t| t.0),
            code: f.code,
            message: f.message,
            detail: f.detail,
            at: clock::format(f.at),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    device: Option<String>,
    limit: Option<u32>,
    offset: Option<u64>,
}

async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Listing<FaultView>>, ApiError> {
    let page = PageQuery {
        limit: q.limit,
        offset: q.offset,
    }
    .page(state.app.config.limits.max_page)?;
    let filter = FaultFilter {
        device_id: q.device,
        owner: caller.scope(),
    };
    let paged = state.app.store.list_faults(&filter, page).await?;
    Ok(Json(Listing::new(
        paged.items.into_iter().map(FaultView::from).collect(),
        paged.total,
        page,
    )))
}

async fn list_for_device(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Json<Listing<FaultView>>, ApiError> {
    let device = visible_device(&state, &caller, &id).await?;
    let page = q.page(state.app.config.limits.max_page)?;
    let filter = FaultFilter {
        device_id: Some(device.identity.id),
        owner: None,
    };
    let paged = state.app.store.list_faults(&filter, page).await?;
    Ok(Json(Listing::new(
        paged.items.into_iter().map(FaultView::from).collect(),
        paged.total,
        page,
    )))
}

async fn clear(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    let not_found = || ApiError::not_found(format!("fault {id}"));
    let fault = state
        .app
        .store
        .fault(FaultId(id))
        .await?
        .ok_or_else(not_found)?;
    visible_device(&state, &caller, &fault.device_id)
        .await
        .map_err(|_| not_found())?;
    state.app.store.clear_fault(fault.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn clear_for_device(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let device = visible_device(&state, &caller, &id).await?;
    let cleared = state
        .app
        .store
        .clear_device_faults(&device.identity.id)
        .await?;
    Ok(Json(serde_json::json!({ "cleared": cleared })))
}
