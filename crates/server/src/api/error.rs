//! The one place where errors become HTTP responses: every failure of the API is an
//! [`ApiError`], rendered as `{"error": {"code": "...", "message": "..."}}` with a stable
//! `code`. Also the extractors that turn malformed input into `ApiError`s instead of axum's
//! plain-text rejections.

use std::time::Duration;

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::{HeaderValue, StatusCode, header};
use serde::de::DeserializeOwned;
use tether_store::StoreError;

use crate::task_spec::TaskSpecError;

/// Every way an API request can fail.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No or bad credentials. `401 unauthorized`.
    #[error("authentication required")]
    Unauthorized,
    /// Too many failed logins. `429 too_many_requests`.
    #[error("too many failed login attempts; retry later")]
    TooManyAttempts(Duration),
    /// Authenticated but not allowed (admin-only routes). `403 forbidden`.
    #[error("{0}")]
    Forbidden(String),
    /// Absent, or not visible to the caller. `404 not_found`.
    #[error("{0}")]
    NotFound(String),
    /// Contradicts the stored state. `409 conflict`.
    #[error("{0}")]
    Conflict(String),
    /// A body that is not JSON. `400 invalid_json`.
    #[error("{0}")]
    InvalidJson(String),
    /// Well-formed input with bad values. `400 invalid_request`.
    #[error("{0}")]
    InvalidRequest(String),
    /// A task spec that the CWMP schema (or the API) does not allow. `400 invalid_task`.
    #[error("{0}")]
    InvalidTask(String),
    /// `413 payload_too_large`.
    #[error("request body too large (at most {0} bytes)")]
    PayloadTooLarge(u64),
    /// `415 unsupported_media_type`.
    #[error("expected Content-Type: application/json")]
    UnsupportedMediaType,
    /// `405 method_not_allowed`.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// A per-account or per-device limit was reached. `429 rate_limited`.
    #[error("{0}")]
    RateLimited(String),
    /// A cloud-connected device could not be reached or did not answer: `409` (not connected,
    /// service down, busy, closed), `504` (timeout) or `502` (the device refused), with the
    /// stable code of [`ServiceError::code`](crate::cloud::ServiceError::code).
    #[error("{0}")]
    Device(#[from] crate::cloud::ServiceError),
    /// The database is unreachable or overloaded. `503 unavailable`.
    #[error("{0}")]
    Unavailable(String),
    /// Anything else; details are logged, not shown. `500 internal`.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    /// The HTTP status and the stable code.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::TooManyAttempts(_) => (StatusCode::TOO_MANY_REQUESTS, "too_many_requests"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::InvalidJson(_) => (StatusCode::BAD_REQUEST, "invalid_json"),
            ApiError::InvalidRequest(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
            ApiError::InvalidTask(_) => (StatusCode::BAD_REQUEST, "invalid_task"),
            ApiError::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            ApiError::UnsupportedMediaType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            ApiError::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            ApiError::RateLimited(_) => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            ApiError::Device(e) => {
                use crate::cloud::ServiceError as E;
                let status = match e {
                    E::Timeout => StatusCode::GATEWAY_TIMEOUT,
                    E::Device(_) => StatusCode::BAD_GATEWAY,
                    _ => StatusCode::CONFLICT,
                };
                (status, e.code())
            }
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        ApiError::InvalidRequest(message.into())
    }

    pub fn not_found(what: impl std::fmt::Display) -> Self {
        ApiError::NotFound(format!("{what} not found"))
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(m) => ApiError::NotFound(m),
            StoreError::Conflict(m) => ApiError::Conflict(m),
            StoreError::Invalid(m) => ApiError::InvalidRequest(m),
            StoreError::Unavailable(m) => {
                ApiError::Unavailable(format!("database unavailable: {m}"))
            }
            StoreError::Backend(m) => ApiError::Internal(m),
        }
    }
}

impl From<TaskSpecError> for ApiError {
    fn from(e: TaskSpecError) -> Self {
        ApiError::InvalidTask(e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if let ApiError::Internal(detail) = &self {
            tracing::error!(%detail, "internal error in the API");
        }
        let body = serde_json::json!({ "error": { "code": code, "message": self.to_string() } });
        let mut response = (status, Json(body)).into_response();
        let headers = response.headers_mut();
        match &self {
            ApiError::Unauthorized => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"tether\", charset=\"UTF-8\""),
                );
            }
            ApiError::TooManyAttempts(after) => {
                let secs = after.as_secs().max(1);
                if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                    headers.insert(header::RETRY_AFTER, v);
                }
            }
            _ => {}
        }
        response
    }
}

fn from_json_rejection(r: JsonRejection, limit: u64) -> ApiError {
    match r.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge(limit),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType,
        _ => match r {
            JsonRejection::JsonDataError(e) => ApiError::InvalidRequest(e.body_text()),
            other => ApiError::InvalidJson(other.body_text()),
        },
    }
}

/// The API's body-size limit, as a request extension the extractors can read.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub u64);

/// A JSON body; rejections become [`ApiError`]s.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let limit = req.extensions().get::<BodyLimit>().map_or(0, |l| l.0);
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(r) => Err(from_json_rejection(r, limit)),
        }
    }
}

/// Query parameters; rejections become [`ApiError`]s.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ApiQuery(q.0))
            .map_err(|r: QueryRejection| ApiError::InvalidRequest(r.body_text()))
    }
}

/// Path parameters; rejections become [`ApiError`]s (a non-numeric id is simply not found).
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(|r: PathRejection| ApiError::NotFound(r.body_text()))
    }
}
