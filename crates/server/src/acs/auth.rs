//! CPE authentication at the Inform (AUT-01..04).
//!
//! * Digest (MD5, `qop=auth`) always; nonces are stateless and HMAC-signed by
//!   `tether_cwmp::digest::DigestVerifier`, so a CPE that reconnects after the 401 still
//!   verifies (the GenieACS socket-bound nonce bug). An expired nonce with the right password
//!   is re-challenged with `stale=true`.
//! * Basic only over TLS, unless `cwmp.auth.allow_basic_without_tls`.
//! * Expected credentials: the device's own (store), else the owner account's default CPE
//!   credentials, where the CPE may present either the account's username or its canonical id
//!   `OUI-ProductClass-Serial` (AUT-03). The username presented must be one expected for the
//!   device named in the Inform, so one device's own credentials cannot vouch for another.
//! * Unknown devices: `unknown_devices = accept` registers them (owned by
//!   `cwmp.default_owner`, authenticated with that account's default credentials);
//!   `inventory` answers 403 unless pre-registered.
//! * `auth.require = false` lets every CPE in without credentials: INSECURE, for labs only.
//! * Failed attempts are counted per source IP in a bounded map; past the limit the IP gets
//!   429 with Retry-After for the rest of the window.
//!
//! Later messages of an authenticated session are authorised by the session (cookie or
//! connection), not re-authenticated.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::RngCore as _;
use tether_cwmp::digest::{
    Authorization, DigestVerifier, DigestVerifierConfig, NONCE_RANDOM_LEN, VerifyError,
    basic_challenge,
};
use tether_store::{AccountId, Credentials, Device, StoreError};

use crate::clock;
use crate::config::{ServerConfig, UnknownDevices};

/// Digest realm of the ACS.
pub const REALM: &str = "tether-acs";
/// Failed attempts allowed per source address within [`FAILURE_WINDOW`].
pub const MAX_FAILURES: u32 = 20;
/// The window of the failed-attempt counter.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// Source addresses tracked by the failed-attempt counter.
pub const TRACKED_ADDRESSES: usize = 10_000;

/// What to answer an Inform, authentication-wise.
#[derive(Debug)]
pub enum Decision {
    /// Go on. `device` is the stored device (None: a new device to register), `owner` the
    /// owner to give a new device.
    Allowed {
        device: Option<Device>,
        owner: Option<AccountId>,
    },
    /// 401 with a fresh challenge.
    Challenge { stale: bool },
    /// 403 with this reason.
    Forbidden(String),
    /// 429: this address failed too often.
    TooManyFailures,
}

/// The request facts authentication looks at.
pub struct Attempt<'a> {
    pub authorization: Option<&'a str>,
    pub uri: &'a str,
    pub tls: bool,
    pub ip: IpAddr,
    pub device_id: &'a str,
}

/// CPE authentication state shared by all connections.
pub struct CpeAuth {
    verifier: Mutex<DigestVerifier>,
    require: bool,
    basic_without_tls: bool,
    unknown: UnknownDevices,
    default_owner: Option<String>,
    failures: Mutex<HashMap<IpAddr, (u32, Instant)>>,
}

fn unix_secs() -> u64 {
    u64::try_from(clock::now().unix_millis() / 1000).unwrap_or(0)
}

impl CpeAuth {
    pub fn new(config: &ServerConfig) -> Self {
        let mut secret = [0u8; 32];
        rand::rng().fill_bytes(&mut secret);
        let verifier = DigestVerifier::new(&secret, DigestVerifierConfig::new(REALM))
            .expect("a 32-byte secret and a plain realm are valid");
        CpeAuth {
            verifier: Mutex::new(verifier),
            require: config.cwmp.auth.require,
            basic_without_tls: config.cwmp.auth.allow_basic_without_tls,
            unknown: config.cwmp.unknown_devices,
            default_owner: config.cwmp.default_owner.clone(),
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// The `WWW-Authenticate` values of a 401: Digest always, Basic too where it is allowed.
    pub fn challenges(&self, tls: bool, stale: bool) -> Vec<String> {
        let mut random = [0u8; NONCE_RANDOM_LEN];
        rand::rng().fill_bytes(&mut random);
        let digest = self
            .verifier
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .challenge_header(unix_secs(), &random, stale);
        let mut out = vec![digest];
        if tls || self.basic_without_tls {
            out.push(basic_challenge(REALM));
        }
        out
    }

    fn blocked(&self, ip: IpAddr) -> bool {
        let map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        map.get(&ip)
            .is_some_and(|(n, since)| *n >= MAX_FAILURES && since.elapsed() < FAILURE_WINDOW)
    }

    fn fail(&self, ip: IpAddr) {
        metrics::counter!("tether_cwmp_auth_failures_total").increment(1);
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= TRACKED_ADDRESSES && !map.contains_key(&ip) {
            map.retain(|_, (_, since)| since.elapsed() < FAILURE_WINDOW);
            if map.len() >= TRACKED_ADDRESSES {
                // Still full of live entries: forget the oldest one.
                if let Some(oldest) = map.iter().min_by_key(|(_, (_, s))| *s).map(|(k, _)| *k) {
                    map.remove(&oldest);
                }
            }
        }
        let entry = map.entry(ip).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= FAILURE_WINDOW {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
    }

    /// Decides about the Inform of `attempt.device_id`.
    pub async fn decide(
        &self,
        store: &dyn tether_store::Store,
        attempt: &Attempt<'_>,
    ) -> Result<Decision, StoreError> {
        if self.blocked(attempt.ip) {
            return Ok(Decision::TooManyFailures);
        }
        let device = store.device(attempt.device_id).await?;
        let owner = match &device {
            Some(d) => d.owner,
            None => match self.unknown {
                UnknownDevices::Inventory => {
                    return Ok(Decision::Forbidden(format!(
                        "device {} is not registered (cwmp.unknown_devices = inventory)",
                        attempt.device_id
                    )));
                }
                UnknownDevices::Accept => match &self.default_owner {
                    Some(name) => store.account_by_name(name).await?.map(|a| a.id),
                    None => None,
                },
            },
        };
        if !self.require {
            return Ok(Decision::Allowed { device, owner });
        }
        let mut expected = device.as_ref().and_then(|d| d.cpe_credentials.clone());
        let from_account = expected.is_none();
        if expected.is_none()
            && let Some(owner) = owner
        {
            expected = match store.account_cpe_credentials(owner).await {
                Ok(c) => c,
                Err(StoreError::NotFound(_)) => None,
                Err(e) => return Err(e),
            };
        }
        let Some(expected) = expected else {
            return Ok(Decision::Forbidden(format!(
                "no CPE credentials are configured for device {} or its owner",
                attempt.device_id
            )));
        };
        // A device's own credentials name exactly one user; an account default is shared by
        // a fleet, so each CPE may also present its canonical id as the username (AUT-03).
        let user_ok =
            |user: &str| user == expected.username || (from_account && user == attempt.device_id);
        let Some(header) = attempt.authorization else {
            return Ok(Decision::Challenge { stale: false });
        };
        let ok = match Authorization::parse(header) {
            Ok(Authorization::Digest(d)) => {
                let Credentials { password, .. } = &expected;
                let result = self
                    .verifier
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .verify_parsed(
                        &d,
                        "POST",
                        attempt.uri,
                        |user| user_ok(user).then(|| password.clone()),
                        unix_secs(),
                    );
                match result {
                    Ok(_) => true,
                    Err(VerifyError::Stale) => return Ok(Decision::Challenge { stale: true }),
                    Err(e) => {
                        tracing::debug!(device = attempt.device_id, error = %e, "Digest refused");
                        false
                    }
                }
            }
            Ok(Authorization::Basic(b)) => {
                if !attempt.tls && !self.basic_without_tls {
                    // Not a wrong password: Basic is not acceptable here. Ask for Digest.
                    return Ok(Decision::Challenge { stale: false });
                }
                let user = if user_ok(&b.username) {
                    b.username.as_str()
                } else {
                    ""
                };
                !user.is_empty() && b.matches(user, &expected.password)
            }
            Ok(_) | Err(_) => false,
        };
        if ok {
            Ok(Decision::Allowed { device, owner })
        } else {
            self.fail(attempt.ip);
            if self.blocked(attempt.ip) {
                Ok(Decision::TooManyFailures)
            } else {
                Ok(Decision::Challenge { stale: false })
            }
        }
    }
}
