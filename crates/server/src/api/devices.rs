//! `/api/v1/devices`: list (filters, pagination, total), show one with its parameters,
//! pre-register (inventory), set CPE credentials, set connection-request credentials, delete.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::{get, put};
use http::StatusCode;
use serde::{Deserialize, Serialize};
use tether_cwmp::DeviceId;
use tether_store::{
    AccountId, CredentialsOrigin, Device, DeviceFilter, DeviceIdentity, Parameter, SerialMatch,
};

use super::accounts::CpeCredentialsBody;
use super::auth::Caller;
use super::error::{ApiError, ApiJson, ApiPath, ApiQuery};
use super::{ApiState, Listing, PageQuery, check_text};
use crate::clock;

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/devices", get(list).post(register))
        .route("/devices/{id}", get(show).delete(remove))
        .route(
            "/devices/{id}/cpe-credentials",
            put(set_cpe_credentials).delete(clear_cpe_credentials),
        )
        .route(
            "/devices/{id}/connection-request-credentials",
            put(set_connection_request_credentials).delete(clear_connection_request_credentials),
        )
}

/// A device as the API shows it. Credentials appear only as usernames.
#[derive(Debug, Serialize)]
pub struct DeviceView {
    pub id: String,
    pub oui: String,
    pub product_class: String,
    pub serial_number: String,
    pub manufacturer: String,
    pub owner: Option<i64>,
    pub created_at: String,
    pub last_inform_at: Option<String>,
    pub last_inform_events: Vec<serde_json::Value>,
    pub remote_addr: Option<String>,
    pub online: bool,
    pub online_until: Option<String>,
    pub connection_request_url: Option<String>,
    /// `"provisioned"` (set on the device by the ACS), `"configured"` (set by an operator) or
    /// `"none"`. The password is never shown.
    pub connection_request_credentials: &'static str,
    pub connection_request_username: Option<String>,
    pub cpe_username: Option<String>,
}

impl DeviceView {
    pub fn new(d: &Device) -> Self {
        DeviceView {
            id: d.identity.id.clone(),
            oui: d.identity.oui.clone(),
            product_class: d.identity.product_class.clone(),
            serial_number: d.identity.serial_number.clone(),
            manufacturer: d.identity.manufacturer.clone(),
            owner: d.owner.map(|o| o.0),
            created_at: clock::format(d.created_at),
            last_inform_at: d.last_inform_at.map(clock::format),
            last_inform_events: d
                .last_inform_events
                .iter()
                .map(|e| serde_json::json!({"code": e.code, "command_key": e.command_key}))
                .collect(),
            remote_addr: d.remote_addr.clone(),
            online: d.is_online(clock::now()),
            online_until: d.online_until.map(clock::format),
            connection_request_url: d.connection_request_url.clone(),
            connection_request_credentials: d
                .connection_request_credentials_origin
                .filter(|_| d.connection_request_credentials.is_some())
                .map_or("none", CredentialsOrigin::as_str),
            connection_request_username: d
                .connection_request_credentials
                .as_ref()
                .map(|c| c.username.clone()),
            cpe_username: d.cpe_credentials.as_ref().map(|c| c.username.clone()),
        }
    }
}

#[derive(Debug, Serialize)]
struct ParameterView {
    name: String,
    value: Option<String>,
    #[serde(rename = "type")]
    xsi_type: Option<String>,
    writable: Option<bool>,
    notification: Option<i32>,
    access_list: Option<Vec<String>>,
    learned_at: String,
}

impl From<Parameter> for ParameterView {
    fn from(p: Parameter) -> Self {
        ParameterView {
            name: p.name,
            value: p.value,
            xsi_type: p.xsi_type,
            writable: p.writable,
            notification: p.notification,
            access_list: p.access_list,
            learned_at: clock::format(p.learned_at),
        }
    }
}

/// The device `id` if the caller may see it; 404 for absent and foreign devices alike.
pub async fn visible_device(
    state: &ApiState,
    caller: &Caller,
    id: &str,
) -> Result<Device, ApiError> {
    let not_found = || ApiError::not_found(format!("device {id:?}"));
    if id.is_empty() || id.len() > 512 {
        return Err(not_found());
    }
    let device = state.app.store.device(id).await?.ok_or_else(not_found)?;
    if caller.can_see(&device) {
        Ok(device)
    } else {
        Err(not_found())
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    /// Exact serial number.
    serial: Option<String>,
    /// Serial number contains this (ignoring ASCII case).
    serial_contains: Option<String>,
    product_class: Option<String>,
    /// RFC 3339.
    last_inform_before: Option<String>,
    last_inform_after: Option<String>,
    online: Option<bool>,
    /// Admin only: devices of this account.
    owner: Option<i64>,
    limit: Option<u32>,
    offset: Option<u64>,
}

fn instant(field: &str, v: Option<String>) -> Result<Option<tether_store::Timestamp>, ApiError> {
    v.map(|t| {
        clock::parse(&t)
            .ok_or_else(|| ApiError::invalid(format!("{field}: {t:?} is not an RFC 3339 time")))
    })
    .transpose()
}

async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Listing<DeviceView>>, ApiError> {
    let page = PageQuery {
        limit: q.limit,
        offset: q.offset,
    }
    .page(state.app.config.limits.max_page)?;
    let serial = match (q.serial, q.serial_contains) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "give serial or serial_contains, not both",
            ));
        }
        (Some(s), None) => Some(SerialMatch::Exact(s)),
        (None, Some(s)) => Some(SerialMatch::Contains(s)),
        (None, None) => None,
    };
    let owner = match (q.owner, caller.scope()) {
        (Some(_), Some(_)) => {
            return Err(ApiError::Forbidden(
                "only an admin may filter by owner".into(),
            ));
        }
        (Some(o), None) => Some(AccountId(o)),
        (None, scope) => scope,
    };
    let filter = DeviceFilter {
        serial,
        product_class: q.product_class,
        last_inform_before: instant("last_inform_before", q.last_inform_before)?,
        last_inform_after: instant("last_inform_after", q.last_inform_after)?,
        online: q.online.map(|o| (o, clock::now())),
        owner,
    };
    let paged = state.app.store.list_devices(&filter, page).await?;
    let items = paged.items.iter().map(DeviceView::new).collect();
    Ok(Json(Listing::new(items, paged.total, page)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ShowQuery {
    /// Only parameters whose names start with this.
    prefix: Option<String>,
}

async fn show(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<ShowQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let device = visible_device(&state, &caller, &id).await?;
    let parameters = state
        .app
        .store
        .list_parameters(&device.identity.id, q.prefix.as_deref())
        .await?;
    let mut body = serde_json::to_value(DeviceView::new(&device))
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let parameters: Vec<ParameterView> = parameters.into_iter().map(ParameterView::from).collect();
    body["parameters"] =
        serde_json::to_value(parameters).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Json(body))
}

async fn remove(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let device = visible_device(&state, &caller, &id).await?;
    state.app.store.delete_device(&device.identity.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterDevice {
    oui: String,
    #[serde(default)]
    product_class: String,
    serial_number: String,
    #[serde(default)]
    manufacturer: String,
    cpe_credentials: Option<CpeCredentialsBody>,
    /// Admin only: the owning account (default: the caller).
    owner: Option<i64>,
}

async fn register(
    State(state): State<ApiState>,
    caller: Caller,
    ApiJson(body): ApiJson<RegisterDevice>,
) -> Result<(StatusCode, Json<DeviceView>), ApiError> {
    let id = DeviceId {
        manufacturer: body.manufacturer,
        oui: body.oui,
        product_class: body.product_class,
        serial_number: body.serial_number,
    };
    if !id.oui_is_valid() {
        return Err(ApiError::invalid(
            "oui must be six upper-case hexadecimal digits",
        ));
    }
    check_text("serial_number", &id.serial_number, 1, 64)?;
    check_text("product_class", &id.product_class, 0, 64)?;
    check_text("manufacturer", &id.manufacturer, 0, 64)?;
    let creds = body
        .cpe_credentials
        .map(CpeCredentialsBody::validate)
        .transpose()?;
    let owner = match body.owner {
        Some(o) if caller.is_admin() => {
            if state.app.store.account(AccountId(o)).await?.is_none() {
                return Err(ApiError::invalid(format!("owner: no account {o}")));
            }
            AccountId(o)
        }
        Some(_) => {
            return Err(ApiError::Forbidden(
                "only an admin may register for another account".into(),
            ));
        }
        None => caller.account.id,
    };
    let identity = DeviceIdentity {
        id: id.canonical(),
        oui: id.oui,
        product_class: id.product_class,
        serial_number: id.serial_number,
        manufacturer: id.manufacturer,
    };
    let device = state
        .app
        .store
        .register_device(&identity, Some(owner), creds.as_ref(), clock::now())
        .await?;
    Ok((StatusCode::CREATED, Json(DeviceView::new(&device))))
}

async fn set_cpe_credentials(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<CpeCredentialsBody>,
) -> Result<StatusCode, ApiError> {
    let device = visible_device(&state, &caller, &id).await?;
    let creds = body.validate()?;
    state
        .app
        .store
        .set_cpe_credentials(&device.identity.id, Some(&creds))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn clear_cpe_credentials(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let device = visible_device(&state, &caller, &id).await?;
    state
        .app
        .store
        .set_cpe_credentials(&device.identity.id, None)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The credentials the server answers the device's connection-request challenge with. They are
/// not sent to the device: the operator configures the same pair on it.
async fn set_connection_request_credentials(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<CpeCredentialsBody>,
) -> Result<StatusCode, ApiError> {
    let device = visible_device(&state, &caller, &id).await?;
    let creds = body.validate()?;
    state
        .app
        .store
        .set_connection_request_credentials(&device.identity.id, Some(&creds))
        .await?;
    tracing::info!(device = %device.identity.id, account = %caller.account.name, "connection-request credentials configured");
    Ok(StatusCode::NO_CONTENT)
}

async fn clear_connection_request_credentials(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let device = visible_device(&state, &caller, &id).await?;
    state
        .app
        .store
        .set_connection_request_credentials(&device.identity.id, None)
        .await?;
    tracing::info!(device = %device.identity.id, account = %caller.account.name, "connection-request credentials cleared");
    Ok(StatusCode::NO_CONTENT)
}
