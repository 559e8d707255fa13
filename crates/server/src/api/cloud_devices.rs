//! `/api/v1/cloud/devices`: the cloud inventory (serial numbers allowed to open a management
//! tunnel, each bound to one account) with live presence, and `reset-tunnel`.
//!
//! A serial is added with the device's `cloud-management server password`; only the device
//! key derived from it (protocol §5.2) is stored. Another account's device is "not found".

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use http::StatusCode;
use serde::{Deserialize, Serialize};
use tether_cloudlink::CloseCode;
use tether_cloudlink::auth::DeviceKey;
use tether_cloudlink::message::valid_serial;
use tether_store::{AccountId, CloudDevice, NewCloudDevice, StoreError};

use super::auth::Caller;
use super::error::{ApiError, ApiJson, ApiPath, ApiQuery};
use super::{ApiState, Listing, PageQuery, check_text};
use crate::clock;

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/cloud/devices", get(list).post(add))
        .route("/cloud/devices/{serial}", get(show).delete(remove))
        .route("/cloud/devices/{serial}/reset-tunnel", post(reset_tunnel))
}

/// A cloud device as the API shows it (never the key).
#[derive(Debug, Serialize)]
pub struct CloudDeviceView {
    pub serial: String,
    pub name: String,
    pub owner: i64,
    pub created_at: String,
    pub bound_at: String,
    /// `online` or `offline`.
    pub state: &'static str,
    pub connected_at: Option<String>,
    pub disconnected_at: Option<String>,
    pub last_keepalive_at: Option<String>,
    pub remote_addr: Option<String>,
    pub node_id: Option<String>,
    /// Services with a live subconnection on this node.
    pub services: Vec<String>,
    pub telemetry_at: Option<String>,
}

impl CloudDeviceView {
    pub fn new(d: &CloudDevice, services: Vec<String>) -> Self {
        let p = &d.presence;
        CloudDeviceView {
            serial: d.serial.clone(),
            name: d.name.clone(),
            owner: d.owner.0,
            created_at: clock::format(d.created_at),
            bound_at: clock::format(d.bound_at),
            state: if p.online { "online" } else { "offline" },
            connected_at: p.connected_at.map(clock::format),
            disconnected_at: p.disconnected_at.map(clock::format),
            last_keepalive_at: p.last_keepalive_at.map(clock::format),
            remote_addr: p.remote_addr.clone(),
            node_id: p.node_id.clone(),
            services: if p.online { services } else { Vec::new() },
            telemetry_at: d.telemetry.as_ref().map(|(at, _)| clock::format(*at)),
        }
    }
}

/// The cloud device `serial` if the caller may see it; 404 for absent and foreign alike.
pub async fn visible_cloud_device(
    state: &ApiState,
    caller: &Caller,
    serial: &str,
) -> Result<CloudDevice, ApiError> {
    let not_found = || ApiError::not_found(format!("cloud device {serial:?}"));
    if !valid_serial(serial) {
        return Err(not_found());
    }
    let device = state
        .app
        .store
        .cloud_device(serial)
        .await?
        .ok_or_else(not_found)?;
    if caller.is_admin() || device.owner == caller.account.id {
        Ok(device)
    } else {
        Err(not_found())
    }
}

fn view(state: &ApiState, d: &CloudDevice) -> CloudDeviceView {
    CloudDeviceView::new(d, state.app.cloud.connected_services(&d.serial))
}

async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Json<Listing<CloudDeviceView>>, ApiError> {
    let page = q.page(state.app.config.limits.max_page)?;
    let paged = state
        .app
        .store
        .list_cloud_devices(caller.scope(), page)
        .await?;
    let items = paged.items.iter().map(|d| view(&state, d)).collect();
    Ok(Json(Listing::new(items, paged.total, page)))
}

async fn show(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(serial): ApiPath<String>,
) -> Result<Json<CloudDeviceView>, ApiError> {
    let d = visible_cloud_device(&state, &caller, &serial).await?;
    Ok(Json(view(&state, &d)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AddDevice {
    serial: String,
    /// The device's `cloud-management server password` (may be empty, as on the device).
    password: String,
    #[serde(default)]
    name: String,
    /// Admin only: the owning account (default: the caller).
    owner: Option<i64>,
}

async fn add(
    State(state): State<ApiState>,
    caller: Caller,
    ApiJson(body): ApiJson<AddDevice>,
) -> Result<(StatusCode, Json<CloudDeviceView>), ApiError> {
    if !valid_serial(&body.serial) {
        return Err(ApiError::invalid(
            "serial must be 1 to 64 characters of A-Z a-z 0-9 . _ -",
        ));
    }
    if body.password.len() > 256 {
        return Err(ApiError::invalid("password must be at most 256 bytes"));
    }
    check_text("name", &body.name, 0, 64)?;
    let owner = match body.owner {
        None => caller.account.id,
        Some(o) if caller.is_admin() => {
            if state.app.store.account(AccountId(o)).await?.is_none() {
                return Err(ApiError::invalid(format!("owner: no account {o}")));
            }
            AccountId(o)
        }
        Some(_) => {
            return Err(ApiError::Forbidden(
                "only an admin may add a device for another account".into(),
            ));
        }
    };
    let key = DeviceKey::derive(&body.password, &body.serial);
    let device = state
        .app
        .store
        .add_cloud_device(
            &NewCloudDevice {
                serial: body.serial.clone(),
                owner,
                name: body.name,
                device_key: *key.as_bytes(),
            },
            clock::now(),
        )
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => ApiError::Conflict(format!(
                "serial {:?} is bound to an account; to move it, request an unbinding code \
                 (POST /api/v1/cloud/unbinding-codes) and enter it on the device",
                body.serial
            )),
            e => e.into(),
        })?;
    Ok((StatusCode::CREATED, Json(view(&state, &device))))
}

async fn remove(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(serial): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let d = visible_cloud_device(&state, &caller, &serial).await?;
    state.app.store.delete_cloud_device(&d.serial).await?;
    state.app.cloud.close_tunnel(&d.serial, CloseCode::Unbound);
    state.app.cloud.forget(&d.serial);
    Ok(StatusCode::NO_CONTENT)
}

async fn reset_tunnel(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(serial): ApiPath<String>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let d = visible_cloud_device(&state, &caller, &serial).await?;
    state.app.cloud.reset_tunnel(&d.serial)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(serde_json::json!({"serial": d.serial, "status": "reset_sent"})),
    ))
}
