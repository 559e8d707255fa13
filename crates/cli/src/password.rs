//! Passwords at rest: the `cipher` form of `... password {cipher | simple} STRING`.
//!
//! Owns: turning a `simple` (plain) password into the printable `$c$3$...` string that the
//! configuration stores and shows, and checking and reversing such a string.
//!
//! What this is, honestly: **obfuscation at rest with a per-device key**, as on Comware. Anyone
//! holding the device key (the agent has it) can recover every password; the point is that a
//! configuration dump, a backup or a screen share does not show secrets in the clear, and that a
//! pasted `cipher` string which was not made with this device's key (or was altered) is refused.
//!
//! Scheme (deterministic authenticated encryption, "synthetic IV" style), all HMAC-SHA256:
//!
//! ```text
//!   k_enc = HMAC(key, "tether-cli password enc v3")      k_mac = HMAC(key, "tether-cli password mac v3")
//!   body  = len(plain) as one byte || plain || zero bytes up to 8 bytes in all
//!   siv   = first 16 bytes of HMAC(k_mac, body)           (the IV and the tag at once)
//!   ct    = body XOR (HMAC(k_enc, siv || 0u32) || HMAC(k_enc, siv || 1u32) || ...)
//!   text  = "$c$3$" || base64(siv || ct)                  (standard alphabet, padded)
//! ```
//!
//! The same plain text under the same key always gives the same cipher text. That is on
//! purpose: the configuration round-trips byte for byte without a random source in this pure
//! crate; the cost is that equal passwords are visibly equal. Plain passwords of 1-255 printable
//! ASCII characters give cipher strings of 37-369 characters, inside Comware's 33-373 range.
//!
//! Must not touch: where the key comes from or how it is stored (the agent's business).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// Prefix of every cipher string this crate produces.
pub const CIPHER_PREFIX: &str = "$c$3$";
/// Shortest accepted `cipher` argument (§8.1).
pub const CIPHER_MIN_LEN: usize = 33;
/// Longest accepted `cipher` argument (§8.1).
pub const CIPHER_MAX_LEN: usize = 373;
/// Shortest accepted `simple` argument (§8.1).
pub const SIMPLE_MIN_LEN: usize = 1;
/// Longest accepted `simple` argument (§8.1).
pub const SIMPLE_MAX_LEN: usize = 255;

const SIV_LEN: usize = 16;
const MIN_BODY: usize = 8;

/// Why a password could not be encrypted or decrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PasswordError {
    /// The plain text is empty, longer than 255 characters, or holds a character outside
    /// printable ASCII.
    #[error("plain password must be 1-255 printable ASCII characters")]
    BadPlainText,
    /// The cipher text is not 33-373 characters or does not start with `$c$3$`.
    #[error("cipher password must be 33-373 characters starting with $c$3$")]
    BadFormat,
    /// The cipher text does not decode, was made with another key, or was altered.
    #[error("cipher password does not authenticate with this device's key")]
    NotAuthentic,
}

/// A password as stored: always the cipher string, never the plain text.
///
/// Build one with [`Password::from_simple`] or [`Password::from_cipher`], both of which check it
/// against the device key, so a `Password` in a [`crate::Command`] is known to decrypt.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Password(String);

impl Password {
    /// Encrypts a plain (`simple`) password.
    pub fn from_simple(plain: &str, key: &[u8]) -> Result<Self, PasswordError> {
        encrypt_password(plain, key).map(Self)
    }

    /// Accepts a `cipher` string after checking that it decrypts under `key`.
    pub fn from_cipher(cipher: &str, key: &[u8]) -> Result<Self, PasswordError> {
        decrypt_password(cipher, key)?;
        Ok(Self(cipher.to_owned()))
    }

    /// The stored cipher string, as `display current-configuration` shows it.
    pub fn cipher(&self) -> &str {
        &self.0
    }

    /// Recovers the plain text (the agent needs it to authenticate to the ACS or the cloud).
    pub fn reveal(&self, key: &[u8]) -> Result<String, PasswordError> {
        decrypt_password(&self.0, key)
    }
}

/// Shows only the cipher string; a plain password never reaches a log through `Debug`.
impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Password(cipher {})", self.0)
    }
}

fn is_printable_ascii(s: &str) -> bool {
    s.bytes().all(|b| (0x20..=0x7e).contains(&b))
}

fn mac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut m = <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    for part in parts {
        m.update(part);
    }
    m.finalize().into_bytes().into()
}

fn keys(key: &[u8]) -> ([u8; 32], [u8; 32]) {
    (
        mac(key, &[b"tether-cli password enc v3"]),
        mac(key, &[b"tether-cli password mac v3"]),
    )
}

fn apply_keystream(k_enc: &[u8; 32], siv: &[u8], data: &mut [u8]) {
    for (counter, chunk) in data.chunks_mut(32).enumerate() {
        let block = mac(k_enc, &[siv, &(counter as u32).to_be_bytes()]);
        for (byte, ks) in chunk.iter_mut().zip(block) {
            *byte ^= ks;
        }
    }
}

/// Encrypts a plain password of 1-255 printable ASCII characters under the device key,
/// returning a `$c$3$...` string of 37-369 characters.
pub fn encrypt_password(plain: &str, key: &[u8]) -> Result<String, PasswordError> {
    if !(SIMPLE_MIN_LEN..=SIMPLE_MAX_LEN).contains(&plain.len()) || !is_printable_ascii(plain) {
        return Err(PasswordError::BadPlainText);
    }
    let (k_enc, k_mac) = keys(key);
    let mut body = Vec::with_capacity(plain.len().max(MIN_BODY) + 1);
    body.push(plain.len() as u8);
    body.extend_from_slice(plain.as_bytes());
    body.resize(body.len().max(MIN_BODY), 0);
    let tag = mac(&k_mac, &[&body]);
    let siv = &tag[..SIV_LEN];
    apply_keystream(&k_enc, siv, &mut body);
    let mut raw = Vec::with_capacity(SIV_LEN + body.len());
    raw.extend_from_slice(siv);
    raw.extend_from_slice(&body);
    Ok(format!("{CIPHER_PREFIX}{}", STANDARD.encode(raw)))
}

/// Checks and decrypts a `$c$3$...` string made by [`encrypt_password`] with the same key.
pub fn decrypt_password(cipher: &str, key: &[u8]) -> Result<String, PasswordError> {
    if !(CIPHER_MIN_LEN..=CIPHER_MAX_LEN).contains(&cipher.len()) {
        return Err(PasswordError::BadFormat);
    }
    let encoded = cipher
        .strip_prefix(CIPHER_PREFIX)
        .ok_or(PasswordError::BadFormat)?;
    let raw = STANDARD
        .decode(encoded)
        .map_err(|_| PasswordError::NotAuthentic)?;
    if raw.len() < SIV_LEN + MIN_BODY {
        return Err(PasswordError::NotAuthentic);
    }
    let (siv, ct) = raw.split_at(SIV_LEN);
    let (k_enc, k_mac) = keys(key);
    let mut body = ct.to_vec();
    apply_keystream(&k_enc, siv, &mut body);
    let tag = mac(&k_mac, &[&body]);
    if !bool::from(tag[..SIV_LEN].ct_eq(siv)) {
        return Err(PasswordError::NotAuthentic);
    }
    // Authentic, so the layout is ours; still check it rather than trust it.
    let len = usize::from(body[0]);
    let rest = &body[1..];
    if len == 0 || len > rest.len() || rest[len..].iter().any(|b| *b != 0) {
        return Err(PasswordError::NotAuthentic);
    }
    let plain = std::str::from_utf8(&rest[..len]).map_err(|_| PasswordError::NotAuthentic)?;
    if !is_printable_ascii(plain) {
        return Err(PasswordError::NotAuthentic);
    }
    Ok(plain.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"device-key-0001";

    #[test]
    fn round_trips_every_length() {
        for len in SIMPLE_MIN_LEN..=SIMPLE_MAX_LEN {
            let plain: String = (0..len)
                .map(|i| char::from(b' ' + (i % 95) as u8))
                .collect();
            let c = encrypt_password(&plain, KEY).unwrap();
            assert!(c.starts_with(CIPHER_PREFIX));
            assert!(
                (CIPHER_MIN_LEN..=CIPHER_MAX_LEN).contains(&c.len()),
                "len {len} gives {}",
                c.len()
            );
            assert!(!c.contains('?') && !c.contains(' '));
            assert_eq!(decrypt_password(&c, KEY).unwrap(), plain);
        }
    }

    #[test]
    fn deterministic_and_key_bound() {
        let a = encrypt_password("hello", KEY).unwrap();
        assert_eq!(a, encrypt_password("hello", KEY).unwrap());
        assert_ne!(a, encrypt_password("hellp", KEY).unwrap());
        assert_eq!(
            decrypt_password(&a, b"other key"),
            Err(PasswordError::NotAuthentic)
        );
    }

    #[test]
    fn rejects_tampering_and_bad_input() {
        let c = encrypt_password("secret", KEY).unwrap();
        for i in CIPHER_PREFIX.len()..c.len() - 2 {
            let mut bytes = c.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let t = String::from_utf8(bytes).unwrap();
            assert!(decrypt_password(&t, KEY).is_err(), "flip at {i} accepted");
        }
        assert_eq!(encrypt_password("", KEY), Err(PasswordError::BadPlainText));
        assert_eq!(
            encrypt_password(&"x".repeat(256), KEY),
            Err(PasswordError::BadPlainText)
        );
        assert_eq!(
            encrypt_password("tab\there", KEY),
            Err(PasswordError::BadPlainText)
        );
        assert_eq!(
            decrypt_password(&"x".repeat(40), KEY),
            Err(PasswordError::BadFormat)
        );
        assert_eq!(
            decrypt_password("$c$3$short", KEY),
            Err(PasswordError::BadFormat)
        );
        let junk = format!("{CIPHER_PREFIX}{}", "!".repeat(40));
        assert_eq!(
            decrypt_password(&junk, KEY),
            Err(PasswordError::NotAuthentic)
        );
    }

    #[test]
    fn debug_does_not_leak_plain_text() {
        let p = Password::from_simple("topsecret", KEY).unwrap();
        assert!(!format!("{p:?}").contains("topsecret"));
        assert_eq!(p.reveal(KEY).unwrap(), "topsecret");
        assert_eq!(Password::from_cipher(p.cipher(), KEY).unwrap(), p);
    }
}
