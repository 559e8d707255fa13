//! Session cookies towards the ACS (HTTP-06, RFC 6265).
//!
//! Owns [`CookieJar`]: the cookies one CWMP session has been given, matched back by host, path
//! and the `Secure` flag. The jar lives exactly as long as the session (it is dropped with the
//! session's HTTP client), so `Expires` is ignored and `Max-Age` only matters for deletion
//! (`Max-Age<=0`). Bounded: at most [`MAX_COOKIES`] cookies of at most [`MAX_COOKIE_LEN`] bytes.
//!
//! Must not touch: sockets, the clock.

/// Most cookies kept for one session.
pub const MAX_COOKIES: usize = 32;
/// Longest `name=value` kept.
pub const MAX_COOKIE_LEN: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Cookie {
    name: String,
    value: String,
    /// Lower-case domain; `host_only` means it matches that host exactly.
    domain: String,
    host_only: bool,
    path: String,
    secure: bool,
}

/// The cookies of one session (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct CookieJar {
    cookies: Vec<Cookie>,
}

impl CookieJar {
    /// An empty jar.
    pub fn new() -> CookieJar {
        CookieJar::default()
    }

    /// Number of cookies held.
    pub fn len(&self) -> usize {
        self.cookies.len()
    }

    /// Whether no cookie is held.
    pub fn is_empty(&self) -> bool {
        self.cookies.is_empty()
    }

    /// Takes one `Set-Cookie` value received from `host` for a request to `request_path`.
    /// Malformed values, and `Domain` attributes that do not cover `host`, are ignored.
    pub fn store(&mut self, set_cookie: &str, host: &str, request_path: &str) {
        if set_cookie.len() > MAX_COOKIE_LEN {
            return;
        }
        let mut parts = set_cookie.split(';');
        let Some((name, value)) = parts.next().and_then(|p| p.split_once('=')) else {
            return;
        };
        let name = name.trim();
        if name.is_empty() {
            return;
        }
        let value = value.trim().trim_matches('"');
        let host = host.to_ascii_lowercase();
        let mut cookie = Cookie {
            name: name.to_owned(),
            value: value.to_owned(),
            domain: host.clone(),
            host_only: true,
            path: default_path(request_path),
            secure: false,
        };
        let mut delete = false;
        for attr in parts {
            let (key, val) = attr.split_once('=').unwrap_or((attr, ""));
            let key = key.trim().to_ascii_lowercase();
            let val = val.trim();
            match key.as_str() {
                "domain" if !val.is_empty() => {
                    let domain = val.trim_start_matches('.').to_ascii_lowercase();
                    if !domain_matches(&host, &domain) {
                        return;
                    }
                    cookie.domain = domain;
                    cookie.host_only = false;
                }
                "path" if val.starts_with('/') => cookie.path = val.to_owned(),
                "secure" => cookie.secure = true,
                "max-age" => delete = val.parse::<i64>().is_ok_and(|n| n <= 0),
                _ => {}
            }
        }
        self.cookies.retain(|c| {
            !(c.name == cookie.name && c.domain == cookie.domain && c.path == cookie.path)
        });
        if delete {
            return;
        }
        if self.cookies.len() >= MAX_COOKIES {
            self.cookies.remove(0);
        }
        self.cookies.push(cookie);
    }

    /// The `Cookie` header for a request to `host` and `path` (`secure`: over TLS), or `None`
    /// when no cookie applies. Longer paths first (RFC 6265 §5.4).
    pub fn header(&self, host: &str, path: &str, secure: bool) -> Option<String> {
        let host = host.to_ascii_lowercase();
        let mut matching: Vec<&Cookie> = self
            .cookies
            .iter()
            .filter(|c| {
                let domain_ok = if c.host_only {
                    c.domain == host
                } else {
                    domain_matches(&host, &c.domain)
                };
                domain_ok && path_matches(path, &c.path) && (secure || !c.secure)
            })
            .collect();
        if matching.is_empty() {
            return None;
        }
        matching.sort_by_key(|c| std::cmp::Reverse(c.path.len()));
        Some(
            matching
                .iter()
                .map(|c| format!("{}={}", c.name, c.value))
                .collect::<Vec<_>>()
                .join("; "),
        )
    }
}

/// RFC 6265 §5.1.3.
fn domain_matches(host: &str, domain: &str) -> bool {
    host == domain
        || (host.ends_with(domain)
            && host[..host.len() - domain.len()].ends_with('.')
            && host.parse::<std::net::IpAddr>().is_err())
}

/// RFC 6265 §5.1.4: the directory of the request path.
fn default_path(request_path: &str) -> String {
    let path = request_path.split('?').next().unwrap_or("");
    if !path.starts_with('/') {
        return "/".into();
    }
    match path.rfind('/') {
        Some(0) | None => "/".into(),
        Some(i) => path[..i].to_owned(),
    }
}

/// RFC 6265 §5.1.4 path-match.
fn path_matches(request_path: &str, cookie_path: &str) -> bool {
    let path = request_path.split('?').next().unwrap_or("");
    let path = if path.is_empty() { "/" } else { path };
    path == cookie_path
        || (path.starts_with(cookie_path)
            && (cookie_path.ends_with('/') || path[cookie_path.len()..].starts_with('/')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn several_cookies_are_echoed_with_longest_path_first() {
        let mut jar = CookieJar::new();
        jar.store("session=abc; Path=/", "acs.example", "/acs");
        jar.store("route=n1; Path=/acs; HttpOnly", "acs.example", "/acs");
        assert_eq!(
            jar.header("acs.example", "/acs", false).as_deref(),
            Some("route=n1; session=abc")
        );
        assert_eq!(
            jar.header("acs.example", "/other", false).as_deref(),
            Some("session=abc")
        );
    }

    #[test]
    fn host_only_domain_secure_and_deletion_follow_rfc_6265() {
        let mut jar = CookieJar::new();
        jar.store("a=1", "acs.example", "/cwmp/acs");
        assert_eq!(jar.header("other.example", "/cwmp/acs", false), None);
        assert_eq!(
            jar.header("acs.example", "/", false),
            None,
            "default path /cwmp"
        );
        jar.store("b=2; Domain=.example", "acs.example", "/");
        assert_eq!(jar.header("x.example", "/", false).as_deref(), Some("b=2"));
        jar.store("c=3; Domain=evil.test", "acs.example", "/");
        assert_eq!(jar.len(), 2, "foreign domain refused");
        jar.store("s=4; Secure", "acs.example", "/");
        assert_eq!(
            jar.header("acs.example", "/", false).as_deref(),
            Some("b=2")
        );
        jar.store("b=2; Domain=example; Max-Age=0", "acs.example", "/");
        assert_eq!(jar.header("x.example", "/", true), None);
    }

    #[test]
    fn a_new_value_replaces_the_old_one() {
        let mut jar = CookieJar::new();
        jar.store("session=1", "h", "/");
        jar.store("session=2", "h", "/");
        assert_eq!(jar.header("h", "/", false).as_deref(), Some("session=2"));
    }
}
