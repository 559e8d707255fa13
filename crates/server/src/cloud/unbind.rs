//! Unbinding codes on the server: issuing one for the account that wants a device, and judging
//! a code a device submits over its tunnel. The rules (alphabet, expiry, 5 wrong submissions)
//! are `tether_cloudlink::unbind`'s; the move of the binding is one store transaction.
//!
//! Must not touch: the tunnel (the caller answers `unbind_result` and closes with 4006).

use std::time::Duration;

use rand::RngCore as _;
use tether_cloudlink::message::UnbindFailureReason;
use tether_cloudlink::unbind::{Code, UnbindCode, UnbindPolicy};
use tether_store::{
    AccountId, NewUnbindCode, StoreError, Timestamp, UnbindCodeRecord, UnbindIssue,
    UnbindIssueLimits, UnbindRedeem,
};

use super::Cloud;
use crate::clock;

const HOUR_MS: i64 = 3_600_000;

fn policy(cloud: &Cloud) -> UnbindPolicy {
    UnbindPolicy {
        lifetime: cloud.config.cloud.unbind_code_lifetime.0.as_secs(),
        ..UnbindPolicy::default()
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// An issued code, as shown once to the requesting account.
#[derive(Debug, Clone)]
pub struct Issued {
    pub code: Code,
    pub expires_at: Timestamp,
}

/// Issues a code moving `serial` to `account`; `Ok(None)` when a rate limit is reached.
pub async fn issue(
    cloud: &Cloud,
    serial: &str,
    account: AccountId,
) -> Result<Option<Issued>, StoreError> {
    let mut random = [0u8; 5];
    rand::rng().fill_bytes(&mut random);
    let code = Code::generate(random);
    let now = clock::now();
    let expires_at = now.plus_millis(millis(cloud.config.cloud.unbind_code_lifetime.0));
    let c = &cloud.config.cloud;
    let outcome = cloud
        .store
        .issue_unbind_code(
            &NewUnbindCode {
                serial: serial.to_owned(),
                account,
                code: code.as_str().to_owned(),
                issued_at: now,
                expires_at,
            },
            UnbindIssueLimits {
                per_account: c.unbind_codes_per_account,
                per_serial: c.unbind_codes_per_serial,
                window_start: now.plus_millis(-HOUR_MS),
            },
        )
        .await?;
    Ok(match outcome {
        UnbindIssue::Issued => Some(Issued { code, expires_at }),
        UnbindIssue::AccountLimited | UnbindIssue::SerialLimited => None,
    })
}

fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn as_protocol(r: &UnbindCodeRecord) -> Option<UnbindCode> {
    Some(UnbindCode {
        code: Code::parse(&r.code)?,
        serial: r.serial.clone(),
        account: r.account.0.to_string(),
        issued_at: u64::try_from(r.issued_at.unix_millis() / 1000).unwrap_or(0),
        expires_at: u64::try_from(r.expires_at.unix_millis() / 1000).unwrap_or(0),
        failed_attempts: r.failed_attempts,
        used: r.used,
    })
}

/// Judges `typed`, submitted over `serial`'s own tunnel, against the serial's outstanding
/// codes; on success the binding has moved (`Ok((from, to))`).
pub async fn redeem(
    cloud: &Cloud,
    serial: &str,
    typed: &str,
) -> Result<(AccountId, AccountId), UnbindFailureReason> {
    let policy = policy(cloud);
    let now = clock::now();
    let now_s = u64::try_from(now.unix_millis() / 1000).unwrap_or(0);
    let verdict = std::sync::Mutex::new(UnbindFailureReason::InvalidCode);
    let judge = |records: &mut [UnbindCodeRecord]| -> Option<usize> {
        let typed_code = Code::parse(typed);
        // Which outstanding code the device typed, compared in constant time.
        let matching = typed_code.as_ref().and_then(|t| {
            let mut found = None;
            for (i, r) in records.iter().enumerate() {
                if ct_eq(t.as_str().as_bytes(), r.code.as_bytes()) && found.is_none() {
                    found = Some(i);
                }
            }
            found
        });
        let set = |r: UnbindFailureReason| {
            *verdict.lock().unwrap_or_else(|e| e.into_inner()) = r;
        };
        match matching {
            Some(i) => {
                let mut code = as_protocol(&records[i])?;
                match code.check(&policy, serial, typed, now_s) {
                    Ok(()) => {
                        records[i].used = true;
                        Some(i)
                    }
                    Err(e) => {
                        records[i].failed_attempts = code.failed_attempts;
                        set(e);
                        None
                    }
                }
            }
            None => {
                // A wrong code counts against every outstanding code of this serial.
                let mut reason = UnbindFailureReason::InvalidCode;
                for r in records.iter_mut() {
                    if let Some(mut code) = as_protocol(r) {
                        if let Err(UnbindFailureReason::TooManyAttempts) =
                            code.check(&policy, serial, typed, now_s)
                        {
                            reason = UnbindFailureReason::TooManyAttempts;
                        }
                        r.failed_attempts = code.failed_attempts;
                    }
                }
                set(reason);
                None
            }
        }
    };
    match cloud.store.redeem_unbind_code(serial, &judge, now).await {
        Ok(UnbindRedeem::Moved { from, to }) => {
            tracing::info!(%serial, from = from.0, to = to.0, "binding moved by unbinding code");
            Ok((from, to))
        }
        Ok(UnbindRedeem::Refused) => Err(*verdict.lock().unwrap_or_else(|e| e.into_inner())),
        Err(e) => {
            tracing::warn!(%serial, error = %e, "unbinding code check failed");
            Err(UnbindFailureReason::Other)
        }
    }
}
