//! `POST /api/v1/cloud/unbinding-codes`: an account asks for the code that moves a device
//! bound to another account to itself (protocol §10). The code is shown once; someone with
//! access to the device enters it (`cloud-management unbinding-code CODE`), and the binding
//! moves when the device submits it over its tunnel.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::post;
use http::StatusCode;
use serde::Deserialize;
use tether_cloudlink::message::valid_serial;

use super::ApiState;
use super::auth::Caller;
use super::error::{ApiError, ApiJson};
use crate::clock;
use crate::cloud::unbind;

pub fn routes() -> Router<ApiState> {
    Router::new().route("/cloud/unbinding-codes", post(request_code))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CodeRequest {
    serial: String,
}

async fn request_code(
    State(state): State<ApiState>,
    caller: Caller,
    ApiJson(body): ApiJson<CodeRequest>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    if !valid_serial(&body.serial) {
        return Err(ApiError::invalid("serial is not a valid serial number"));
    }
    let device = state
        .app
        .store
        .cloud_device(&body.serial)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("cloud device {:?}", body.serial)))?;
    if device.owner == caller.account.id {
        return Err(ApiError::Conflict(
            "the device is already bound to this account".into(),
        ));
    }
    let issued = unbind::issue(&state.app.cloud, &body.serial, caller.account.id)
        .await?
        .ok_or_else(|| {
            ApiError::RateLimited("too many unbinding codes requested; retry later".into())
        })?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({
            "serial": body.serial,
            "code": issued.code.display(),
            "expires_at": clock::format(issued.expires_at),
        })),
    ))
}
