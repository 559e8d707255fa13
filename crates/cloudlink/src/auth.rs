//! Proof of the device secret: key derivation, the challenge proof and the URL proof.
//!
//! Owns: the exact bytes that are MACed and the constant-time comparisons. Both sides use
//! these functions; the server calls the `verify_*` ones with the key it stores.
//! Must not touch: tokens (see `token.rs`) or which step comes next (see `handshake.rs`).
//!
//! ```text
//! device_key = HMAC-SHA256(key = UTF-8(password), "tether-cloudlink/v1/device-key" 00 serial)
//! auth_proof = HMAC-SHA256(device_key, "tether-cloudlink/v1/auth" 00
//!                          u16be(len nonce) nonce u16be(len serial) serial u64be(ts))
//! url_proof  = HMAC-SHA256(device_key, "tether-cloudlink/v1/url" 00 token)
//! ```
//! Every proof travels as 64 lower-case hex digits.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

const LABEL_KEY: &[u8] = b"tether-cloudlink/v1/device-key\0";
const LABEL_AUTH: &[u8] = b"tether-cloudlink/v1/auth\0";
const LABEL_URL: &[u8] = b"tether-cloudlink/v1/url\0";

/// The per-device secret both sides use. The server may store this instead of the password:
/// a leaked key impersonates one serial only and does not reveal the password.
#[derive(Clone, PartialEq, Eq)]
pub struct DeviceKey([u8; 32]);

impl std::fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeviceKey(..)")
    }
}

fn mac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut m = HmacSha256::new_from_slice(key).expect("HMAC accepts keys of every length");
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

impl DeviceKey {
    /// Derives the key from the `cloud-management server password` and the serial.
    pub fn derive(password: &str, serial: &str) -> Self {
        DeviceKey(mac(password.as_bytes(), &[LABEL_KEY, serial.as_bytes()]))
    }

    /// Wraps stored key bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        DeviceKey(bytes)
    }

    /// The key bytes, for storage.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

fn len16(s: &str) -> [u8; 2] {
    u16::try_from(s.len()).unwrap_or(u16::MAX).to_be_bytes()
}

/// The proof a device sends in `auth_proof`, as 64 lower-case hex digits.
pub fn auth_proof(key: &DeviceKey, nonce: &str, serial: &str, ts: u64) -> String {
    hex::encode(auth_proof_bytes(key, nonce, serial, ts))
}

fn auth_proof_bytes(key: &DeviceKey, nonce: &str, serial: &str, ts: u64) -> [u8; 32] {
    mac(
        &key.0,
        &[
            LABEL_AUTH,
            &len16(nonce),
            nonce.as_bytes(),
            &len16(serial),
            serial.as_bytes(),
            &ts.to_be_bytes(),
        ],
    )
}

/// Checks an `auth_proof` in constant time; malformed hex is simply a wrong proof.
pub fn verify_auth_proof(key: &DeviceKey, nonce: &str, serial: &str, ts: u64, proof: &str) -> bool {
    ct_eq_hex(&auth_proof_bytes(key, nonce, serial, ts), proof)
}

/// The `Cloudlink-Proof` header value a device sends when opening a tunnel or subconnection
/// URL: proves that the opener holds the device key, so a token copied from a log is useless.
pub fn url_proof(key: &DeviceKey, token: &str) -> String {
    hex::encode(mac(&key.0, &[LABEL_URL, token.as_bytes()]))
}

/// Checks a `Cloudlink-Proof` header in constant time.
pub fn verify_url_proof(key: &DeviceKey, token: &str, proof: &str) -> bool {
    ct_eq_hex(&mac(&key.0, &[LABEL_URL, token.as_bytes()]), proof)
}

fn ct_eq_hex(expected: &[u8; 32], given: &str) -> bool {
    let mut buf = [0u8; 32];
    if given.len() != 64 || hex::decode_to_slice(given, &mut buf).is_err() {
        return false;
    }
    expected.ct_eq(&buf).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_test_vector_holds() {
        // The vector printed in docs/cloud-connection-protocol.md (checked with Python hmac).
        let key = DeviceKey::derive("s3cret", "210235A1B2C3D4E5");
        assert_eq!(
            hex::encode(key.as_bytes()),
            "f68dee9f9cd3407fe1beaa7ef7107f21fadc8ce5dc373cf8dd58dbf63a753ab3"
        );
        assert_eq!(
            auth_proof(&key, "n0nce", "210235A1B2C3D4E5", 1_700_000_000),
            "c8379b47dd78070916aa5cbe00fb962cf1b8716e7ea808fd4a1609689c9df72a"
        );
        assert_eq!(
            url_proof(&key, "ct1.AAAA.BBBB"),
            "ae019498231c70cfe83666cfbad272bb0ff3aa0ddf6a44ba1edea02f9d3f8afe"
        );
    }

    #[test]
    fn right_proof_verifies_and_any_change_fails() {
        let key = DeviceKey::derive("pw", "SN1");
        let p = auth_proof(&key, "abc", "SN1", 10);
        assert!(verify_auth_proof(&key, "abc", "SN1", 10, &p));
        assert!(!verify_auth_proof(&key, "abd", "SN1", 10, &p));
        assert!(!verify_auth_proof(&key, "abc", "SN2", 10, &p));
        assert!(!verify_auth_proof(&key, "abc", "SN1", 11, &p));
        let other = DeviceKey::derive("px", "SN1");
        assert!(!verify_auth_proof(&other, "abc", "SN1", 10, &p));
    }

    #[test]
    fn malformed_proof_is_rejected_not_panicking() {
        let key = DeviceKey::derive("pw", "SN1");
        assert!(!verify_auth_proof(&key, "abc", "SN1", 10, "zz"));
        assert!(!verify_auth_proof(&key, "abc", "SN1", 10, &"g".repeat(64)));
        assert!(!verify_url_proof(&key, "t", ""));
    }

    #[test]
    fn fields_are_length_prefixed_so_boundaries_cannot_shift() {
        let key = DeviceKey::derive("pw", "x");
        assert_ne!(
            auth_proof(&key, "ab", "c", 1),
            auth_proof(&key, "a", "bc", 1)
        );
    }

    #[test]
    fn key_depends_on_serial() {
        assert_ne!(DeviceKey::derive("pw", "A"), DeviceKey::derive("pw", "B"));
    }

    #[test]
    fn url_proof_verifies_only_for_its_token() {
        let key = DeviceKey::derive("pw", "SN1");
        let p = url_proof(&key, "tok");
        assert!(verify_url_proof(&key, "tok", &p));
        assert!(!verify_url_proof(&key, "tok2", &p));
    }
}
