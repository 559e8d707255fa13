//! Who is calling: `Authorization: Bearer <token>` (a random token, stored only as its SHA-256
//! digest) or `Basic` with an account name and password (argon2, verified on a blocking thread,
//! a bounded number at once). Failed logins are counted per account name and per client
//! address in a bounded map; past the limit, attempts get 429 without a password check.
//!
//! Also the password and token primitives the account and token routes use.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::FromRequestParts;
use base64::Engine as _;
use http::header;
use http::request::Parts;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use tether_store::{Account, AccountId, Device, TokenHash};
use tokio::sync::Semaphore;

use super::ApiState;
use super::error::ApiError;
use crate::clock;
use crate::listen::PeerAddr;

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub account: Account,
}

impl Caller {
    pub fn is_admin(&self) -> bool {
        self.account.is_admin
    }

    /// The owner filter for listings: none for an admin, the caller's own id otherwise.
    pub fn scope(&self) -> Option<AccountId> {
        (!self.is_admin()).then_some(self.account.id)
    }

    /// Whether the caller may see and operate `device`.
    pub fn can_see(&self, device: &Device) -> bool {
        self.is_admin() || device.owner == Some(self.account.id)
    }

    /// Admin-only routes.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "this operation needs an admin account".into(),
            ))
        }
    }
}

impl FromRequestParts<ApiState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        let ip = parts.extensions.get::<PeerAddr>().map(|p| p.0.ip());
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or(ApiError::Unauthorized)?;
        let (scheme, rest) = header.split_once(' ').ok_or(ApiError::Unauthorized)?;
        let auth = &state.auth;
        if let Some(ip) = ip {
            auth.limiter.check(&LimitKey::Addr(ip))?;
        }
        let outcome = if scheme.eq_ignore_ascii_case("bearer") {
            bearer(state, rest.trim()).await
        } else if scheme.eq_ignore_ascii_case("basic") {
            basic(state, rest.trim()).await
        } else {
            Err(ApiError::Unauthorized)
        };
        if let (Err(ApiError::Unauthorized), Some(ip)) = (&outcome, ip) {
            auth.limiter.fail(LimitKey::Addr(ip));
            metrics::counter!("tether_api_login_failures_total").increment(1);
        }
        outcome
    }
}

async fn bearer(state: &ApiState, token: &str) -> Result<Caller, ApiError> {
    if token.is_empty() || token.len() > 256 {
        return Err(ApiError::Unauthorized);
    }
    let owner = state
        .app
        .store
        .token_owner(token_hash(token), clock::now())
        .await?
        .ok_or(ApiError::Unauthorized)?;
    Ok(Caller {
        account: owner.account,
    })
}

async fn basic(state: &ApiState, encoded: &str) -> Result<Caller, ApiError> {
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| ApiError::Unauthorized)?;
    let decoded = String::from_utf8(decoded).map_err(|_| ApiError::Unauthorized)?;
    let (name, password) = decoded.split_once(':').ok_or(ApiError::Unauthorized)?;
    if name.is_empty() || name.len() > 256 || password.len() > 1024 {
        return Err(ApiError::Unauthorized);
    }
    let key = LimitKey::Account(name.to_owned());
    state.auth.limiter.check(&key)?;
    let account = state.app.store.account_by_name(name).await?;
    // Unknown names cost the same as wrong passwords, so timing does not reveal accounts.
    let hash = account
        .as_ref()
        .map_or_else(|| dummy_hash().to_owned(), |a| a.password_hash.clone());
    let ok = state.auth.verify(password.to_owned(), hash).await?;
    match account {
        Some(account) if ok => {
            state.auth.limiter.succeed(&key);
            Ok(Caller { account })
        }
        _ => {
            state.auth.limiter.fail(key);
            Err(ApiError::Unauthorized)
        }
    }
}

/// Authentication machinery shared by every request.
pub struct Auth {
    pub limiter: LoginLimiter,
    password_checks: Arc<Semaphore>,
}

impl Auth {
    pub fn new(limiter: LoginLimiter, concurrent_checks: usize) -> Self {
        Auth {
            limiter,
            password_checks: Arc::new(Semaphore::new(concurrent_checks.max(1))),
        }
    }

    /// Verifies `password` against a PHC string on a blocking thread.
    pub async fn verify(&self, password: String, hash: String) -> Result<bool, ApiError> {
        let _permit = self
            .password_checks
            .acquire()
            .await
            .map_err(|_| ApiError::Unavailable("shutting down".into()))?;
        tokio::task::spawn_blocking(move || verify_password(&password, &hash))
            .await
            .map_err(|e| ApiError::Internal(format!("password check panicked: {e}")))
    }

    /// Hashes `password` on a blocking thread.
    pub async fn hash(&self, password: String) -> Result<String, ApiError> {
        let _permit = self
            .password_checks
            .acquire()
            .await
            .map_err(|_| ApiError::Unavailable("shutting down".into()))?;
        tokio::task::spawn_blocking(move || hash_password(&password))
            .await
            .map_err(|e| ApiError::Internal(format!("password hashing panicked: {e}")))?
    }
}

/// An argon2id PHC string for `password`, with a random salt.
pub fn hash_password(password: &str) -> Result<String, ApiError> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| ApiError::Internal(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ApiError::Internal(format!("hashing failed: {e}")))
}

/// Whether `password` matches the PHC string (false for an unreadable hash).
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_password("tether-dummy-password").unwrap_or_default())
}

/// A new API token secret: `tether_` and 32 random bytes, base64url.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!(
        "tether_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// The digest under which a token is stored.
pub fn token_hash(token: &str) -> TokenHash {
    TokenHash(Sha256::digest(token.as_bytes()).into())
}

/// A random password for the bootstrapped admin: 24 base64url characters (144 bits).
pub fn new_password() -> String {
    let mut bytes = [0u8; 18];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// What failed logins are counted against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LimitKey {
    Account(String),
    Addr(IpAddr),
}

struct Window {
    started: Instant,
    failures: u32,
}

/// Counts failed logins per key in fixed windows; bounded to `capacity` keys (expired windows
/// are dropped first, then the oldest).
pub struct LoginLimiter {
    max_failures: u32,
    window: Duration,
    capacity: usize,
    map: Mutex<HashMap<LimitKey, Window>>,
}

impl LoginLimiter {
    pub fn new(max_failures: u32, window: Duration, capacity: usize) -> Self {
        LoginLimiter {
            max_failures: max_failures.max(1),
            window,
            capacity: capacity.max(1),
            map: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(TooManyAttempts)` while `key` is over its limit.
    pub fn check(&self, key: &LimitKey) -> Result<(), ApiError> {
        let map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(w) = map.get(key) {
            let age = w.started.elapsed();
            if age < self.window && w.failures >= self.max_failures {
                return Err(ApiError::TooManyAttempts(self.window - age));
            }
        }
        Ok(())
    }

    pub fn fail(&self, key: LimitKey) {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if !map.contains_key(&key) && map.len() >= self.capacity {
            map.retain(|_, w| now.duration_since(w.started) < self.window);
            if map.len() >= self.capacity
                && let Some(oldest) = map
                    .iter()
                    .min_by_key(|(_, w)| w.started)
                    .map(|(k, _)| k.clone())
            {
                map.remove(&oldest);
            }
        }
        let w = map.entry(key).or_insert(Window {
            started: now,
            failures: 0,
        });
        if now.duration_since(w.started) >= self.window {
            w.started = now;
            w.failures = 0;
        }
        w.failures += 1;
    }

    pub fn succeed(&self, key: &LimitKey) {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }

    pub fn len(&self) -> usize {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_blocks_after_the_limit_and_stays_bounded() {
        let l = LoginLimiter::new(2, Duration::from_secs(60), 3);
        let k = LimitKey::Account("a".into());
        l.fail(k.clone());
        assert!(l.check(&k).is_ok());
        l.fail(k.clone());
        assert!(matches!(l.check(&k), Err(ApiError::TooManyAttempts(_))));
        l.succeed(&k);
        assert!(l.check(&k).is_ok());
        for i in 0..10 {
            l.fail(LimitKey::Account(format!("n{i}")));
        }
        assert!(l.len() <= 3);
    }

    #[test]
    fn tokens_are_random_and_hash_stably() {
        let a = new_token();
        assert_ne!(a, new_token());
        assert!(a.starts_with("tether_"));
        assert_eq!(token_hash(&a), token_hash(&a));
    }
}
