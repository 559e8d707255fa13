//! Unbinding codes: generation from caller-supplied random bytes, normalisation of what a
//! person typed, and the rules of expiry, single use, attempt limits and issuance rate.
//!
//! Owns: the code alphabet and the verdict on a submitted code. Must not touch: storage of
//! codes or bindings (the server keeps [`UnbindCode`] records in its store and calls
//! [`UnbindCode::check`] under a transaction).
//!
//! A code is 8 characters of a 32-symbol alphabet without look-alikes (no `0`, `1`, `I`,
//! `O`): 40 bits, shown as `ABCD-EFGH`. Typed codes are case-insensitive; spaces and `-` are
//! ignored.

use crate::message::UnbindFailureReason;
use subtle::ConstantTimeEq;

/// The 32 symbols of a code.
pub const ALPHABET: &[u8; 32] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
/// Symbols in a code.
pub const CODE_LEN: usize = 8;

/// A normalised unbinding code (8 symbols of [`ALPHABET`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Code([u8; CODE_LEN]);

impl Code {
    /// Makes a code from 5 random bytes (40 bits, 5 bits per symbol, no bias).
    pub fn generate(random: [u8; 5]) -> Self {
        let mut bits = random
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        let mut out = [0u8; CODE_LEN];
        for slot in out.iter_mut().rev() {
            *slot = ALPHABET[(bits & 31) as usize];
            bits >>= 5;
        }
        Code(out)
    }

    /// Parses what a person typed; `None` if it is not 8 symbols of the alphabet.
    pub fn parse(typed: &str) -> Option<Self> {
        let mut out = [0u8; CODE_LEN];
        let mut n = 0;
        for b in typed.bytes() {
            if b == b'-' || b == b' ' {
                continue;
            }
            let b = b.to_ascii_uppercase();
            if !ALPHABET.contains(&b) || n == CODE_LEN {
                return None;
            }
            out[n] = b;
            n += 1;
        }
        (n == CODE_LEN).then_some(Code(out))
    }

    /// The 8 symbols without separator.
    pub fn as_str(&self) -> &str {
        // Every byte comes from ALPHABET, which is ASCII.
        std::str::from_utf8(&self.0).unwrap_or("")
    }

    /// The form shown to people: `ABCD-EFGH`.
    pub fn display(&self) -> String {
        format!("{}-{}", &self.as_str()[..4], &self.as_str()[4..])
    }
}

/// Lifetimes and limits of unbinding codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnbindPolicy {
    /// Seconds a code stays valid (default 1800).
    pub lifetime: u64,
    /// Wrong submissions for a serial before its code is void (default 5).
    pub max_attempts: u8,
    /// Codes an account may request per window (default 10).
    pub issue_limit: u32,
    /// The issuance window in seconds (default 3600).
    pub issue_window: u64,
}

impl Default for UnbindPolicy {
    fn default() -> Self {
        UnbindPolicy {
            lifetime: 1800,
            max_attempts: 5,
            issue_limit: 10,
            issue_window: 3600,
        }
    }
}

/// An outstanding code: which serial it unbinds and for whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnbindCode {
    /// The code.
    pub code: Code,
    /// The serial number it moves.
    pub serial: String,
    /// The account that asked for it (and receives the binding).
    pub account: String,
    /// Unix seconds of issue.
    pub issued_at: u64,
    /// Unix seconds of expiry.
    pub expires_at: u64,
    /// Wrong submissions so far.
    pub failed_attempts: u8,
    /// Already accepted once.
    pub used: bool,
}

impl UnbindCode {
    /// A fresh code for `serial`, requested by `account`.
    pub fn issue(
        policy: &UnbindPolicy,
        serial: &str,
        account: &str,
        now: u64,
        random: [u8; 5],
    ) -> Self {
        UnbindCode {
            code: Code::generate(random),
            serial: serial.to_owned(),
            account: account.to_owned(),
            issued_at: now,
            expires_at: now.saturating_add(policy.lifetime),
            failed_attempts: 0,
            used: false,
        }
    }

    /// Judges a code submitted over `serial`'s tunnel; on success the code is spent.
    /// The caller must pass the record for the submitting device's own serial only.
    pub fn check(
        &mut self,
        policy: &UnbindPolicy,
        serial: &str,
        typed: &str,
        now: u64,
    ) -> Result<(), UnbindFailureReason> {
        if serial != self.serial {
            return Err(UnbindFailureReason::InvalidCode);
        }
        if self.used {
            return Err(UnbindFailureReason::AlreadyUsed);
        }
        if self.failed_attempts >= policy.max_attempts {
            return Err(UnbindFailureReason::TooManyAttempts);
        }
        if now >= self.expires_at {
            return Err(UnbindFailureReason::Expired);
        }
        let matches = Code::parse(typed).is_some_and(|c| bool::from(c.0.ct_eq(&self.code.0)));
        if !matches {
            self.failed_attempts = self.failed_attempts.saturating_add(1);
            return Err(if self.failed_attempts >= policy.max_attempts {
                UnbindFailureReason::TooManyAttempts
            } else {
                UnbindFailureReason::InvalidCode
            });
        }
        self.used = true;
        Ok(())
    }
}

/// A fixed-window counter: at most `limit` events per `window` seconds. The server keeps one
/// per account (code issuance) and one per device tunnel (code submissions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateWindow {
    start: u64,
    count: u32,
}

impl RateWindow {
    /// An empty window.
    pub fn new() -> Self {
        RateWindow { start: 0, count: 0 }
    }

    /// Counts one event at `now`; `false` if over the limit (the event is not counted).
    pub fn allow(&mut self, now: u64, limit: u32, window: u64) -> bool {
        if now >= self.start.saturating_add(window) || now < self.start {
            self.start = now;
            self.count = 0;
        }
        if self.count >= limit {
            return false;
        }
        self.count += 1;
        true
    }
}

impl Default for RateWindow {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_codes_use_only_the_alphabet_and_round_trip() {
        for seed in 0..=255u8 {
            let c = Code::generate([seed, seed.wrapping_mul(7), 3, seed ^ 0x5a, 255]);
            assert!(c.as_str().bytes().all(|b| ALPHABET.contains(&b)));
            assert_eq!(Code::parse(&c.display()), Some(c.clone()));
            assert_eq!(Code::parse(&c.as_str().to_lowercase()), Some(c));
        }
    }

    #[test]
    fn generation_maps_extremes_to_end_symbols_and_distinct_inputs_apart() {
        assert_eq!(Code::generate([0; 5]).as_str(), "22222222");
        assert_eq!(Code::generate([255; 5]).as_str(), "ZZZZZZZZ");
        assert_ne!(
            Code::generate([0, 0, 0, 0, 1]),
            Code::generate([0, 0, 0, 0, 2])
        );
    }

    #[test]
    fn ambiguous_or_wrong_length_input_does_not_parse() {
        assert_eq!(Code::parse("ABCD-EFG0"), None);
        assert_eq!(Code::parse("ABCD-EFGI"), None);
        assert_eq!(Code::parse("ABCDEFG"), None);
        assert_eq!(Code::parse("ABCDEFGHJ"), None);
    }

    fn fresh() -> (UnbindPolicy, UnbindCode) {
        let p = UnbindPolicy::default();
        let c = UnbindCode::issue(&p, "SN1", "acct-b", 1000, [1, 2, 3, 4, 5]);
        (p, c)
    }

    #[test]
    fn right_code_is_accepted_once() {
        let (p, mut c) = fresh();
        let typed = c.code.display();
        assert_eq!(c.check(&p, "SN1", &typed, 1001), Ok(()));
        assert_eq!(
            c.check(&p, "SN1", &typed, 1002),
            Err(UnbindFailureReason::AlreadyUsed)
        );
    }

    #[test]
    fn code_expires() {
        let (p, mut c) = fresh();
        let typed = c.code.display();
        assert_eq!(
            c.check(&p, "SN1", &typed, 1000 + p.lifetime),
            Err(UnbindFailureReason::Expired)
        );
    }

    #[test]
    fn code_for_another_serial_is_invalid() {
        let (p, mut c) = fresh();
        let typed = c.code.display();
        assert_eq!(
            c.check(&p, "SN2", &typed, 1001),
            Err(UnbindFailureReason::InvalidCode)
        );
    }

    #[test]
    fn attempts_are_limited_and_then_even_the_right_code_fails() {
        let (p, mut c) = fresh();
        for _ in 0..p.max_attempts - 1 {
            assert_eq!(
                c.check(&p, "SN1", "2222-2222", 1001),
                Err(UnbindFailureReason::InvalidCode)
            );
        }
        assert_eq!(
            c.check(&p, "SN1", "2222-2222", 1001),
            Err(UnbindFailureReason::TooManyAttempts)
        );
        let typed = c.code.display();
        assert_eq!(
            c.check(&p, "SN1", &typed, 1001),
            Err(UnbindFailureReason::TooManyAttempts)
        );
    }

    #[test]
    fn rate_window_limits_then_resets() {
        let mut w = RateWindow::new();
        assert!(w.allow(10, 2, 60));
        assert!(w.allow(11, 2, 60));
        assert!(!w.allow(12, 2, 60));
        assert!(w.allow(70, 2, 60));
    }
}
