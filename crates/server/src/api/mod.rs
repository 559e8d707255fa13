//! The REST API (JSON over HTTP, under `/api/v1`): routing, shared state, pagination, and the
//! service-level routes (`/healthz`, `/metrics`, `/api/v1/openapi.json`). One file per
//! resource; `error.rs` is the only place errors become statuses; `auth.rs` says who calls.
//!
//! Every device, task and fault route checks ownership: an admin sees everything, any other
//! account only what it owns, and something it does not own is "not found" (404), never
//! "forbidden", so existence does not leak.

pub mod accounts;
pub mod auth;
pub mod cloud_devices;
pub mod cloud_services;
pub mod cloud_terminal;
pub mod cloud_unbinding;
pub mod devices;
pub mod error;
pub mod faults;
pub mod tasks;
pub mod tokens;

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{StatusCode, header};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use serde::{Deserialize, Serialize};
use tether_store::Page;

use self::auth::{Auth, Caller, LoginLimiter};
use self::error::{ApiError, BodyLimit};
use crate::app::App;

/// The OpenAPI description of these routes.
pub const OPENAPI: &str = include_str!("openapi.json");

/// What handlers share.
pub struct ApiContext {
    pub app: Arc<App>,
    pub auth: Auth,
    metrics: PrometheusHandle,
}

pub type ApiState = Arc<ApiContext>;

/// The process-wide Prometheus recorder (installed once, however many servers a process runs).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!(
                    "a metrics recorder was already installed; /metrics shows only ours"
                );
            }
            handle
        })
        .clone()
}

/// The API router, ready to serve.
pub fn router(app: Arc<App>) -> Router {
    let limits = &app.config.limits;
    let limiter = LoginLimiter::new(
        limits.login_failures,
        limits.login_window.0,
        limits.login_tracker_entries,
    );
    let body_limit = app.config.api.max_body.0;
    let state: ApiState = Arc::new(ApiContext {
        auth: Auth::new(limiter, limits.concurrent_password_checks),
        metrics: metrics_handle(),
        app,
    });
    let v1 = Router::new()
        .route("/openapi.json", get(openapi))
        .merge(accounts::routes())
        .merge(tokens::routes())
        .merge(devices::routes())
        .merge(tasks::routes())
        .merge(faults::routes())
        .merge(cloud_devices::routes())
        .merge(cloud_unbinding::routes())
        .merge(cloud_services::routes())
        .merge(cloud_terminal::routes());
    Router::new()
        .nest("/api/v1", v1)
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_route))
        .fallback(|| async { ApiError::NotFound("no such route".into()) })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(
            usize::try_from(body_limit).unwrap_or(usize::MAX),
        ))
        .layer(middleware::from_fn(
            move |mut req: Request, next: Next| async move {
                req.extensions_mut().insert(BodyLimit(body_limit));
                count(next.run(req).await)
            },
        ))
        .with_state(state)
}

fn count(response: Response) -> Response {
    let status = response.status().as_u16().to_string();
    metrics::counter!("tether_api_responses_total", "status" => status).increment(1);
    response
}

async fn healthz(State(state): State<ApiState>) -> Response {
    // Cheap store round trip: an unreachable database makes the node unhealthy.
    match state.app.store.account_by_name("").await {
        Ok(_) => (
            StatusCode::OK,
            axum::Json(serde_json::json!({"status": "ok"})),
        )
            .into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

async fn metrics_route(
    State(state): State<ApiState>,
    caller: Caller,
) -> Result<Response, ApiError> {
    caller.require_admin()?;
    metrics::gauge!("tether_task_waiters").set(state.app.hub.waiting() as f64);
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response())
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

/// `?limit=&offset=` of every listing.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct PageQuery {
    pub limit: Option<u32>,
    pub offset: Option<u64>,
}

/// Default page size.
pub const DEFAULT_LIMIT: u32 = 100;

impl PageQuery {
    /// The store page, refusing a limit above the configured maximum.
    pub fn page(self, max: u32) -> Result<Page, ApiError> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT.min(max));
        if limit == 0 || limit > max {
            return Err(ApiError::invalid(format!("limit must be 1 to {max}")));
        }
        Ok(Page::new(limit, self.offset.unwrap_or(0)))
    }
}

/// One page of a listing as JSON.
#[derive(Debug, Serialize)]
pub struct Listing<T> {
    pub items: Vec<T>,
    pub total: u64,
    pub limit: u32,
    pub offset: u64,
}

impl<T> Listing<T> {
    pub fn new(items: Vec<T>, total: u64, page: Page) -> Self {
        Listing {
            items,
            total,
            limit: page.limit,
            offset: page.offset,
        }
    }
}

/// Checks a free-text field: length in characters and no control characters.
pub fn check_text(field: &str, value: &str, min: usize, max: usize) -> Result<(), ApiError> {
    let len = value.chars().count();
    if len < min || len > max {
        return Err(ApiError::invalid(format!(
            "{field} must be {min} to {max} characters"
        )));
    }
    if value.chars().any(char::is_control) {
        return Err(ApiError::invalid(format!(
            "{field} contains control characters"
        )));
    }
    Ok(())
}
