//! ACS discovery from a DHCP client's lease file (§7, DHCP-02, DHCP-06).
//!
//! Owns [`option43_from_lease`] and [`discover`]: finding option 43 in the text of a lease
//! file and decoding it with [`tether_cwmp::dhcp`]. Two formats are read:
//!
//! * **ISC dhclient** lease files (`/var/lib/dhcp/dhclient.leases`): the *last*
//!   `option vendor-encapsulated-options ...;` statement in the file (the newest lease),
//!   as colon-separated hex (`1:27:68:74:...`) or as a quoted string;
//! * **udhcpc**, which keeps no lease file of its own: the environment its script receives,
//!   saved one `NAME=VALUE` a line (e.g. `env > /run/udhcpc.lease` in the script). The option is
//!   `opt43=<hex>` (how udhcpc exports options it has no name for); `vendorinfo=` is accepted
//!   as well.
//!
//! The value may be hex or a plain text URL (`http://...` or the H3C `URL user pass` string).
//!
//! Must not touch: the running configuration (the driver calls `Running::set_dhcp`).

use tether_cwmp::dhcp::{AcsDiscovery, decode_option43, parse_hex};

/// The raw option-43 payload found in `text`, if any.
pub fn option43_from_lease(text: &str) -> Option<Vec<u8>> {
    let mut found: Option<String> = None;
    for line in text.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("option vendor-encapsulated-options") {
            found = Some(rest.trim().trim_end_matches(';').trim().to_owned());
        } else if let Some(rest) = line
            .strip_prefix("opt43=")
            .or_else(|| line.strip_prefix("vendorinfo="))
        {
            found = Some(rest.trim().to_owned());
        }
    }
    let value = found?;
    let unquoted = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')));
    match unquoted {
        Some(text) => Some(text.as_bytes().to_vec()),
        None if value.contains("://") => Some(value.into_bytes()),
        None => parse_hex(&value).ok().filter(|b| !b.is_empty()),
    }
}

/// What the lease in `text` says about the ACS; `None` without an (understandable) option 43.
pub fn discover(text: &str) -> Option<AcsDiscovery> {
    decode_option43(&option43_from_lease(text)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const H3C_HEX: &str = "01:27:68:74:74:70:3a:2f:2f:31:36:39:2e:32:35:34:2e:37:36:2e:33:31:3a:37:35:34:37:2f:61:63:73:20:31:32:33:34:20:35:36:37:38";

    #[test]
    fn isc_dhclient_takes_the_last_lease() {
        let text = format!(
            "lease {{\n  interface \"eth0\";\n  option vendor-encapsulated-options 1:5:68:74:74:70:3a;\n}}\nlease {{\n  option vendor-encapsulated-options {H3C_HEX};\n}}\n"
        );
        let d = discover(&text).unwrap();
        assert_eq!(d.url.as_deref(), Some("http://169.254.76.31:7547/acs"));
        assert_eq!(d.username.as_deref(), Some("1234"));
        assert_eq!(d.password.as_deref(), Some("5678"));
    }

    #[test]
    fn udhcpc_environment_and_quoted_urls_are_read() {
        let d =
            discover("interface=eth0\nopt43=0113687474703a2f2f6163732e746573742f616373\n").unwrap();
        assert_eq!(d.url.as_deref(), Some("http://acs.test/acs"));
        let d = discover("lease {\n option vendor-encapsulated-options \"http://a.test/x\";\n}\n")
            .unwrap();
        assert_eq!(d.url.as_deref(), Some("http://a.test/x"));
        assert_eq!(discover("lease {\n}\n"), None);
    }
}
