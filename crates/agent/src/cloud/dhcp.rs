//! DHCP options 253 (cloud server domain) and 252 (password) from the agent's lease file
//! (requirement `CLD-01`): DHCP values take priority over the CLI.
//!
//! Owns [`read_cloud_options`]: finds the last value of each option in a lease file and
//! decodes it with `tether_cwmp::dhcp`. Accepted line forms (the last one in the file wins,
//! as clients append renewed leases):
//!
//! ```text
//! option unknown-253 "cloud.example.com";          dhclient, quoted text
//! option unknown-252 73:33:63:72:65:74;            dhclient, hex bytes
//! option-253=636c6f75642e6578616d706c652e636f6d   KEY=VALUE, as hook scripts write
//! ```
//!
//! A value that does not decode is ignored (with a warning): the CLI value then stays in
//! force. Must not touch: what a change does (the state machine rebuilds the connection only
//! if the effective value differs).

use std::path::Path;

use tether_cwmp::dhcp::{
    decode_cloud_domain_option253, decode_cloud_password_option252, parse_hex,
};

/// Options 253 and 252 of a lease.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CloudOptions {
    /// Option 253, the cloud server domain.
    pub domain: Option<String>,
    /// Option 252, the cloud password.
    pub password: Option<String>,
}

/// Reads `path`; a missing or unreadable file offers nothing.
pub fn read_cloud_options(path: &Path) -> CloudOptions {
    match std::fs::read_to_string(path) {
        Ok(text) => parse_lease(&text),
        Err(_) => CloudOptions::default(),
    }
}

/// Parses lease text (see the module docs).
pub fn parse_lease(text: &str) -> CloudOptions {
    let mut raw253 = None;
    let mut raw252 = None;
    for line in text.lines() {
        let line = line.trim().trim_end_matches(';').trim();
        let line = line.strip_prefix("option ").unwrap_or(line);
        let (key, value) = match line.split_once('=') {
            Some((k, v)) => (k.trim(), v.trim()),
            None => match line.split_once(char::is_whitespace) {
                Some((k, v)) => (k.trim(), v.trim()),
                None => continue,
            },
        };
        let digits: String = key
            .chars()
            .rev()
            .take_while(char::is_ascii_digit)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        match digits.as_str() {
            "253" => raw253 = Some(value.to_owned()),
            "252" => raw252 = Some(value.to_owned()),
            _ => {}
        }
    }
    CloudOptions {
        domain: raw253.and_then(|v| {
            decode(&v, decode_cloud_domain_option253)
                .inspect_err(|e| tracing::warn!(error = %e, "DHCP option 253 ignored"))
                .ok()
        }),
        password: raw252.and_then(|v| {
            decode(&v, decode_cloud_password_option252)
                .inspect_err(|e| tracing::warn!(error = %e, "DHCP option 252 ignored"))
                .ok()
        }),
    }
}

fn decode<E>(value: &str, f: fn(&[u8]) -> Result<String, E>) -> Result<String, E>
where
    E: std::fmt::Display,
{
    if let Some(quoted) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        return f(quoted.as_bytes());
    }
    match parse_hex(value) {
        Ok(bytes) => f(&bytes),
        Err(_) => f(value.as_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dhclient_and_key_value_forms_and_last_wins() {
        let text = "lease {\n  option unknown-253 \"old.example\";\n}\nlease {\n  option unknown-253 \"cloud.test\";\n  option unknown-252 73:33:63:72:65:74;\n}\n";
        let o = parse_lease(text);
        assert_eq!(o.domain.as_deref(), Some("cloud.test"));
        assert_eq!(o.password.as_deref(), Some("s3cret"));
        let o = parse_lease("option-253=636c6f75642e74657374\n");
        assert_eq!(o.domain.as_deref(), Some("cloud.test"));
        assert_eq!(o.password, None);
    }

    #[test]
    fn invalid_values_are_ignored() {
        let o = parse_lease("option-253=\"bad_domain!\"\noption-252=\"\"\n");
        assert_eq!(o, CloudOptions::default());
    }
}
