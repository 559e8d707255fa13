//! `/api/v1/tokens`: the caller's API tokens. A token's secret is returned once, at creation;
//! only its SHA-256 digest is stored.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::{delete, get};
use http::StatusCode;
use serde::{Deserialize, Serialize};
use tether_store::{ApiToken, NewApiToken, TokenId};

use super::auth::{Caller, new_token, token_hash};
use super::error::{ApiError, ApiJson, ApiPath};
use super::{ApiState, check_text};
use crate::clock;

/// Longest token lifetime: ten years.
const MAX_EXPIRES_IN: u64 = 10 * 365 * 86_400;

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/tokens", get(list).post(create))
        .route("/tokens/{id}", delete(revoke))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateToken {
    name: String,
    /// Seconds until the token stops working; absent: never.
    expires_in: Option<u64>,
}

#[derive(Debug, Serialize)]
struct TokenView {
    id: i64,
    name: String,
    created_at: String,
    expires_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<String>,
}

impl TokenView {
    fn new(t: &ApiToken, secret: Option<String>) -> Self {
        TokenView {
            id: t.id.0,
            name: t.name.clone(),
            created_at: clock::format(t.created_at),
            expires_at: t.expires_at.map(clock::format),
            token: secret,
        }
    }
}

async fn create(
    State(state): State<ApiState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateToken>,
) -> Result<(StatusCode, Json<TokenView>), ApiError> {
    check_text("name", &body.name, 1, 64)?;
    let now = clock::now();
    let expires_at = match body.expires_in {
        None => None,
        Some(s) if (1..=MAX_EXPIRES_IN).contains(&s) => {
            Some(now.plus_millis(i64::try_from(s * 1000).unwrap_or(i64::MAX)))
        }
        Some(_) => {
            return Err(ApiError::invalid(format!(
                "expires_in must be 1 to {MAX_EXPIRES_IN} seconds"
            )));
        }
    };
    let secret = new_token();
    let token = state
        .app
        .store
        .create_token(
            &NewApiToken {
                account_id: caller.account.id,
                name: body.name,
                hash: token_hash(&secret),
                expires_at,
            },
            now,
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(TokenView::new(&token, Some(secret))),
    ))
}

async fn list(
    State(state): State<ApiState>,
    caller: Caller,
) -> Result<Json<serde_json::Value>, ApiError> {
    let tokens = state.app.store.list_tokens(caller.account.id).await?;
    let items: Vec<TokenView> = tokens.iter().map(|t| TokenView::new(t, None)).collect();
    let total = items.len();
    Ok(Json(serde_json::json!({ "items": items, "total": total })))
}

async fn revoke(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    let own = state.app.store.list_tokens(caller.account.id).await?;
    if !own.iter().any(|t| t.id.0 == id) {
        return Err(ApiError::not_found(format!("token {id}")));
    }
    state.app.store.revoke_token(TokenId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}
