//! The session registry: live CWMP sessions by cookie, and which session each device holds.
//!
//! A session is found by its `tether_session` cookie, or (for a CPE that drops cookies) by
//! the connection it last used; never by the socket alone, so a session may continue on a new
//! TCP connection (HTTP-04, pitfall #1). At most one live session per device: a new Inform
//! from a device replaces its old session. The registry is bounded; expiry is driven by each
//! session machine's `poll_timeout` (see `session::reap`).
//!
//! Owns: the maps and their bound. Must not: talk to the store or hold its lock across an await.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rand::RngCore as _;
use tether_cwmp::session::AcsSession;
use tether_store::{TaskId, Timestamp};

use crate::task_spec::TaskSpec;

/// The cookie name the ACS sets.
pub const COOKIE: &str = "tether_session";

/// A task whose RPC is outstanding in a session.
#[derive(Debug, Clone)]
pub struct Dispatched {
    pub task: TaskId,
    pub kind: String,
    pub spec: TaskSpec,
    pub expires_at: Option<Timestamp>,
}

/// One live session.
pub struct Session {
    /// The cookie value; also the session id recorded with dispatched tasks.
    pub id: String,
    /// The canonical device id, once the Inform is authenticated.
    pub device_id: String,
    pub machine: AcsSession,
    /// The task whose request is outstanding.
    pub current: Option<Dispatched>,
    /// Data model root: `Device.` or `InternetGatewayDevice.`.
    pub root: String,
    /// The owner a device registered at this session's Inform gets.
    pub owner: Option<tether_store::AccountId>,
    /// The connection-request credentials step (at most once per session).
    pub provision: crate::acs::provision::Provision,
    pub span: tracing::Span,
}

impl Session {
    /// The first 8 characters of the id: enough to tell sessions apart in logs.
    pub fn short_id(&self) -> &str {
        self.id.get(..8).unwrap_or(&self.id)
    }
}

pub type SessionRef = Arc<tokio::sync::Mutex<Session>>;

/// The registry is full: new sessions are refused with 503 until some end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full;

#[derive(Default)]
struct Inner {
    by_cookie: HashMap<String, SessionRef>,
    by_device: HashMap<String, String>,
}

/// Live sessions, bounded.
pub struct Registry {
    inner: Mutex<Inner>,
    capacity: usize,
}

/// A fresh random session id (128 bits, hex).
pub fn new_session_id() -> String {
    let mut raw = [0u8; 16];
    rand::rng().fill_bytes(&mut raw);
    hex::encode(raw)
}

impl Registry {
    pub fn new(capacity: usize) -> Self {
        Registry {
            inner: Mutex::new(Inner::default()),
            capacity,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn get(&self, cookie: &str) -> Option<SessionRef> {
        self.lock().by_cookie.get(cookie).cloned()
    }

    /// Adds a session for `device_id`. Returns the device's previous session (now unlisted),
    /// which the caller must close.
    pub fn insert(&self, session: Session) -> Result<(SessionRef, Option<SessionRef>), Full> {
        let mut inner = self.lock();
        let previous = inner
            .by_device
            .get(&session.device_id)
            .and_then(|c| inner.by_cookie.get(c).cloned());
        if previous.is_none() && inner.by_cookie.len() >= self.capacity {
            return Err(Full);
        }
        if let Some(old) = inner.by_device.remove(&session.device_id) {
            inner.by_cookie.remove(&old);
        }
        let id = session.id.clone();
        inner
            .by_device
            .insert(session.device_id.clone(), id.clone());
        let entry = Arc::new(tokio::sync::Mutex::new(session));
        inner.by_cookie.insert(id, entry.clone());
        Ok((entry, previous))
    }

    /// Removes the session `id` (and its device entry if it still points to it).
    pub fn remove(&self, id: &str, device_id: &str) {
        let mut inner = self.lock();
        inner.by_cookie.remove(id);
        if inner.by_device.get(device_id).is_some_and(|c| c == id) {
            inner.by_device.remove(device_id);
        }
    }

    /// Every live session (for the reaper).
    pub fn all(&self) -> Vec<SessionRef> {
        self.lock().by_cookie.values().cloned().collect()
    }

    pub fn len(&self) -> usize {
        self.lock().by_cookie.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The `tether_session` value among `Cookie` header values. Tolerates several headers, `;` or
/// `,` separators (some CPEs join cookies with commas), spaces and quotes.
pub fn find_cookie<'a>(headers: impl IntoIterator<Item = &'a str>) -> Option<String> {
    for header in headers {
        for part in header.split([';', ',']) {
            let Some((name, value)) = part.split_once('=') else {
                continue;
            };
            if name.trim().eq_ignore_ascii_case(COOKIE) {
                let v = value.trim().trim_matches('"');
                if !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    return Some(v.to_owned());
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use tether_cwmp::session::{AcsConfig, Millis};

    fn session(id: &str, device: &str) -> Session {
        Session {
            id: id.into(),
            device_id: device.into(),
            machine: AcsSession::new(AcsConfig::default(), Millis(0)),
            current: None,
            root: "Device.".into(),
            owner: None,
            provision: crate::acs::provision::Provision::Settled,
            span: tracing::Span::none(),
        }
    }

    #[test]
    fn cookies_are_found_in_odd_syntax() {
        assert_eq!(find_cookie(["tether_session=ab12"]), Some("ab12".into()));
        assert_eq!(
            find_cookie(["a=1, tether_session=ab12, b=2"]),
            Some("ab12".into())
        );
        assert_eq!(
            find_cookie(["x=1", "a=1;  TETHER_SESSION=\"ff\" ; b"]),
            Some("ff".into())
        );
        assert_eq!(find_cookie(["tether_session=; x=1"]), None);
        assert_eq!(find_cookie(["tether_session=a b"]), None);
    }

    #[test]
    fn one_session_per_device_and_a_bound() {
        let r = Registry::new(2);
        let (_a, prev) = r.insert(session("a", "D1")).unwrap();
        assert!(prev.is_none());
        let (_b, prev) = r.insert(session("b", "D1")).unwrap();
        assert!(prev.is_some(), "the device's old session is handed back");
        assert!(r.get("a").is_none());
        r.insert(session("c", "D2")).unwrap();
        assert_eq!(r.insert(session("d", "D3")).err(), Some(Full));
        // Replacing a device's session is allowed when full.
        assert!(r.insert(session("e", "D2")).is_ok());
        r.remove("b", "D1");
        r.remove("e", "D2");
        assert!(r.is_empty());
    }
}
