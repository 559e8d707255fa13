//! The `config` and `telemetry` microservices of a cloud device, through the API:
//! `GET/POST /api/v1/cloud/devices/{serial}/config`, `GET .../config/changes`,
//! `GET .../telemetry?since=`. Every push is recorded (account, time, commands, results).
//! A device whose service is not connected gives 409 with a stable code
//! (`device_not_connected`, `service_unavailable`).

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde::{Deserialize, Serialize};
use tether_cloudlink::message::limits;
use tether_store::NewConfigChange;

use super::auth::Caller;
use super::cloud_devices::visible_cloud_device;
use super::error::{ApiError, ApiJson, ApiPath, ApiQuery};
use super::{ApiState, Listing, PageQuery};
use crate::clock;
use crate::cloud::ServiceError;
use crate::cloud::config_service::{self, ConfigAnswer, ConfigRequest};

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/cloud/devices/{serial}/config", get(running).post(apply))
        .route("/cloud/devices/{serial}/config/changes", get(changes))
        .route("/cloud/devices/{serial}/telemetry", get(telemetry))
}

async fn running(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(serial): ApiPath<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let d = visible_cloud_device(&state, &caller, &serial).await?;
    match config_service::request(&state.app.cloud, &d.serial, ConfigRequest::Running).await? {
        ConfigAnswer::Running(text) => Ok(Json(serde_json::json!({
            "serial": d.serial,
            "text": text,
            "fetched_at": clock::format(clock::now()),
        }))),
        ConfigAnswer::Applied(_) => Err(ApiError::Internal("mismatched config answer".into())),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ApplyBody {
    commands: Vec<String>,
    #[serde(default)]
    stop_on_error: bool,
}

async fn apply(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(serial): ApiPath<String>,
    ApiJson(body): ApiJson<ApplyBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let d = visible_cloud_device(&state, &caller, &serial).await?;
    if body.commands.is_empty() || body.commands.len() > limits::MAX_APPLY_COMMANDS {
        return Err(ApiError::invalid(format!(
            "commands must hold 1 to {} lines",
            limits::MAX_APPLY_COMMANDS
        )));
    }
    if body
        .commands
        .iter()
        .any(|c| c.len() > 4096 || c.contains(['\n', '\r']))
    {
        return Err(ApiError::invalid(
            "each command is one line of at most 4096 bytes",
        ));
    }
    let commands = serde_json::json!(body.commands);
    let outcome = config_service::request(
        &state.app.cloud,
        &d.serial,
        ConfigRequest::Apply {
            commands: body.commands,
            stop_on_error: body.stop_on_error,
        },
    )
    .await;
    let (status, results) = match &outcome {
        Ok(ConfigAnswer::Applied(results)) => ("applied", serde_json::json!(results)),
        Ok(ConfigAnswer::Running(_)) => ("failed", serde_json::json!([])),
        Err(ServiceError::Timeout) => ("timeout", serde_json::json!([])),
        Err(ServiceError::Gone) => ("failed", serde_json::json!([])),
        Err(ServiceError::Device(m)) => ("refused", serde_json::json!([{"error": m}])),
        // Nothing reached the device: nothing to record.
        Err(e) => return Err(e.clone().into()),
    };
    let change_id = state
        .app
        .store
        .record_config_change(&NewConfigChange {
            serial: d.serial.clone(),
            account: caller.account.id,
            at: clock::now(),
            status: status.into(),
            commands,
            results: results.clone(),
        })
        .await?;
    outcome?;
    Ok(Json(serde_json::json!({
        "serial": d.serial,
        "change_id": change_id,
        "status": status,
        "results": results,
    })))
}

#[derive(Debug, Serialize)]
struct ChangeView {
    id: i64,
    account: Option<i64>,
    at: String,
    status: String,
    commands: serde_json::Value,
    results: serde_json::Value,
}

async fn changes(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(serial): ApiPath<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Json<Listing<ChangeView>>, ApiError> {
    let d = visible_cloud_device(&state, &caller, &serial).await?;
    let page = q.page(state.app.config.limits.max_page)?;
    let paged = state.app.store.list_config_changes(&d.serial, page).await?;
    let items = paged
        .items
        .into_iter()
        .map(|c| ChangeView {
            id: c.id,
            account: c.account.map(|a| a.0),
            at: clock::format(c.at),
            status: c.status,
            commands: c.commands,
            results: c.results,
        })
        .collect();
    Ok(Json(Listing::new(items, paged.total, page)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TelemetryQuery {
    /// RFC 3339: only samples received after this instant.
    since: Option<String>,
}

async fn telemetry(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(serial): ApiPath<String>,
    ApiQuery(q): ApiQuery<TelemetryQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let d = visible_cloud_device(&state, &caller, &serial).await?;
    let since = q
        .since
        .map(|t| {
            clock::parse(&t)
                .ok_or_else(|| ApiError::invalid(format!("since: {t:?} is not an RFC 3339 time")))
        })
        .transpose()?;
    let samples: Vec<serde_json::Value> = state
        .app
        .cloud
        .telemetry
        .since(&d.serial, since)
        .into_iter()
        .map(|s| serde_json::json!({"received_at": clock::format(s.at), "sample": s.sample}))
        .collect();
    let latest = d.telemetry.map(
        |(at, sample)| serde_json::json!({"received_at": clock::format(at), "sample": sample}),
    );
    Ok(Json(serde_json::json!({
        "serial": d.serial,
        "interval": state.app.config.cloud.telemetry_interval.0.as_secs(),
        "latest": latest,
        "samples": samples,
    })))
}
