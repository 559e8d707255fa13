//! Lexical rules for argument values.
//!
//! Owns: what a valid ACS URL, user name, domain name, host name, provisioning code and
//! interface number look like. Must not touch: the tree or error reporting.

/// Printable ASCII (space included: a space can only arrive inside a quoted value).
pub(crate) fn is_printable(s: &str) -> bool {
    s.bytes().all(|b| (0x20..=0x7e).contains(&b))
}

/// Printable text whose length in characters is within `min..=max`.
pub(crate) fn is_text(s: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&s.len()) && is_printable(s)
}

/// `http://host[:port][/path]` or `https://...`, 8-255 characters, scheme case-insensitive,
/// non-empty host, optional port 1-65535, no spaces.
pub(crate) fn is_acs_url(s: &str) -> bool {
    if !(8..=255).contains(&s.len()) || !is_printable(s) || s.contains(' ') {
        return false;
    }
    let lower = s.to_ascii_lowercase();
    let rest = if lower.starts_with("http://") {
        &s[7..]
    } else if lower.starts_with("https://") {
        &s[8..]
    } else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    // Bracketed IPv6 literals are not accepted: CWMP is IPv4-only on Comware (§8.1).
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
    let port_ok = port.is_none_or(|p| {
        !p.is_empty()
            && p.bytes().all(|b| b.is_ascii_digit())
            && matches!(p.parse::<u16>(), Ok(1..))
    });
    host_ok && port_ok
}

/// 1-253 characters of letters, digits, `-`, `_` and `.`.
pub(crate) fn is_domain(s: &str) -> bool {
    (1..=253).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// A domain that also holds at least one letter (so it can never be read as an address).
pub(crate) fn is_host_name(s: &str) -> bool {
    is_domain(s) && s.bytes().any(|b| b.is_ascii_alphabetic())
}

/// 1-64 characters of upper-case letters, digits and `.` (case-sensitive, §8.1).
pub(crate) fn is_provision_code(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'.')
}

/// Digit groups separated by `/`, with an optional `.N` or `:N` sub-interface suffix; at most
/// 32 characters.
pub(crate) fn is_interface_number(s: &str) -> bool {
    if s.is_empty() || s.len() > 32 {
        return false;
    }
    let (main, sub) = match s.split_once(['.', ':']) {
        Some((m, sub)) => (m, Some(sub)),
        None => (s, None),
    };
    let digits = |g: &str| !g.is_empty() && g.bytes().all(|b| b.is_ascii_digit());
    main.split('/').all(digits) && sub.is_none_or(digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        for ok in [
            "http://a",
            "https://acs.example.com:7547/cwmp",
            "HTTP://10.0.0.1:80/acs?x=1",
            "http://www.acs.com:80/acs",
        ] {
            assert!(is_acs_url(ok), "{ok}");
        }
        for bad in [
            "http://",
            "ftp://acs.example.com",
            "http:/x.com",
            "http://:80/x",
            "http://a:0/",
            "http://a:65536/",
            "http://a b/",
            "http://[::1]/x",
            "acs.example.com",
        ] {
            assert!(!is_acs_url(bad), "{bad}");
        }
        let long = format!("http://a/{}", "p".repeat(246));
        assert_eq!(long.len(), 255);
        assert!(is_acs_url(&long));
        assert!(!is_acs_url(&format!("{long}p")));
    }

    #[test]
    fn names_codes_and_numbers() {
        assert!(is_domain("cloud.com") && is_domain("10.1.1.1"));
        assert!(!is_domain("") && !is_domain("a b") && !is_domain(&"a".repeat(254)));
        assert!(is_host_name("cloud.com") && !is_host_name("10.1.1.1"));
        assert!(is_provision_code("PROVISIONINGCODE") && is_provision_code("A.1"));
        assert!(!is_provision_code("abc") && !is_provision_code("A-B"));
        assert!(
            is_interface_number("1/0/1")
                && is_interface_number("1")
                && is_interface_number("2/0/1.10")
        );
        assert!(
            !is_interface_number("1//1") && !is_interface_number("a") && !is_interface_number("1.")
        );
    }
}
