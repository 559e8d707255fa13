//! `/api/v1/accounts`: operator accounts (admin-managed), passwords, and per-account default
//! CPE credentials. An account sees itself; an admin sees all.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::{get, put};
use http::StatusCode;
use serde::{Deserialize, Serialize};
use tether_store::{Account, AccountId, Credentials, NewAccount};

use super::auth::Caller;
use super::error::{ApiError, ApiJson, ApiPath};
use super::{ApiState, check_text};
use crate::clock;

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/accounts", get(list).post(create))
        .route("/accounts/me", get(me))
        .route("/accounts/{id}", get(show).delete(remove))
        .route("/accounts/{id}/password", put(set_password))
        .route(
            "/accounts/{id}/cpe-credentials",
            get(show_cpe_credentials)
                .put(set_cpe_credentials)
                .delete(clear_cpe_credentials),
        )
}

/// An account as the API shows it (never the hash).
#[derive(Debug, Serialize)]
pub struct AccountView {
    pub id: i64,
    pub name: String,
    pub admin: bool,
    pub created_at: String,
}

impl From<&Account> for AccountView {
    fn from(a: &Account) -> Self {
        AccountView {
            id: a.id.0,
            name: a.name.clone(),
            admin: a.is_admin,
            created_at: clock::format(a.created_at),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateAccount {
    name: String,
    password: String,
    #[serde(default)]
    admin: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SetPassword {
    password: String,
}

/// Username and password for CPEs.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CpeCredentialsBody {
    pub username: String,
    pub password: String,
}

impl CpeCredentialsBody {
    pub fn validate(self) -> Result<Credentials, ApiError> {
        check_text("username", &self.username, 1, 256)?;
        check_text("password", &self.password, 1, 256)?;
        Ok(Credentials {
            username: self.username,
            password: self.password,
        })
    }
}

/// Account names: 1-64 of letters, digits, `.`, `_`, `-`, `@`.
pub fn check_account_name(name: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "name must be 1 to 64 letters, digits, '.', '_', '-' or '@'",
        ))
    }
}

pub fn check_password(password: &str) -> Result<(), ApiError> {
    check_text("password", password, 8, 1024)
}

/// The account `id` if the caller may see it (itself, or any for an admin); 404 otherwise.
async fn visible(state: &ApiState, caller: &Caller, id: i64) -> Result<Account, ApiError> {
    if !caller.is_admin() && caller.account.id.0 != id {
        return Err(ApiError::not_found(format!("account {id}")));
    }
    state
        .app
        .store
        .account(AccountId(id))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("account {id}")))
}

async fn list(
    State(state): State<ApiState>,
    caller: Caller,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.require_admin()?;
    let accounts = state.app.store.list_accounts().await?;
    let items: Vec<AccountView> = accounts.iter().map(AccountView::from).collect();
    let total = items.len();
    Ok(Json(serde_json::json!({ "items": items, "total": total })))
}

async fn create(
    State(state): State<ApiState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateAccount>,
) -> Result<(StatusCode, Json<AccountView>), ApiError> {
    caller.require_admin()?;
    check_account_name(&body.name)?;
    check_password(&body.password)?;
    let password_hash = state.auth.hash(body.password).await?;
    let account = state
        .app
        .store
        .create_account(
            &NewAccount {
                name: body.name,
                password_hash,
                is_admin: body.admin,
            },
            clock::now(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(AccountView::from(&account))))
}

async fn me(caller: Caller) -> Json<AccountView> {
    Json(AccountView::from(&caller.account))
}

async fn show(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<AccountView>, ApiError> {
    let account = visible(&state, &caller, id).await?;
    Ok(Json(AccountView::from(&account)))
}

async fn remove(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    caller.require_admin()?;
    if caller.account.id.0 == id {
        return Err(ApiError::Conflict(
            "an admin cannot delete its own account".into(),
        ));
    }
    state.app.store.delete_account(AccountId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn set_password(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<SetPassword>,
) -> Result<StatusCode, ApiError> {
    let account = visible(&state, &caller, id).await?;
    check_password(&body.password)?;
    let hash = state.auth.hash(body.password).await?;
    state.app.store.set_password_hash(account.id, &hash).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn show_cpe_credentials(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let account = visible(&state, &caller, id).await?;
    let creds = state.app.store.account_cpe_credentials(account.id).await?;
    Ok(Json(serde_json::json!({
        "username": creds.map(|c| c.username),
    })))
}

async fn set_cpe_credentials(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<CpeCredentialsBody>,
) -> Result<StatusCode, ApiError> {
    let account = visible(&state, &caller, id).await?;
    let creds = body.validate()?;
    state
        .app
        .store
        .set_account_cpe_credentials(account.id, Some(&creds))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn clear_cpe_credentials(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    let account = visible(&state, &caller, id).await?;
    state
        .app
        .store
        .set_account_cpe_credentials(account.id, None)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
