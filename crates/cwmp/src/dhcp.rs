//! ACS discovery from DHCP (requirements §7, `DHCP-01`..`DHCP-06`, `RTY-05`, `CLD-01`, pitfall #18).
//!
//! Owns: decoding the payloads of DHCPv4 option 43 (vendor-encapsulated sub-options 1-4, the H3C
//! "URL user pass" form, and the plain-URL fallback), DHCPv4 option 125 (V-I vendor-specific,
//! enterprise 3561), DHCPv6 option 17 (vendor-specific information, enterprise 3561) and the H3C
//! cloud-connection options 252 (password) and 253 (server domain); reading them from raw bytes or
//! from hex text as lease files print it; and encoding option 43 for test servers and simulators.
//!
//! Must not: run a DHCP client, read lease files, or decide precedence between DHCP, CLI and ACS
//! values (`DHCP-05`, §8.3 belong to the agent).
//!
//! Length policy: a sub-option whose declared length runs past the end of the data is a
//! [`DhcpError::Truncated`] error, never a silent truncation. A truncated URL or password would
//! still look plausible and point the device somewhere wrong (H3C's own guide prints such an
//! example, `013B…` with 40 bytes), so refusing it is safer than guessing. Problems that leave the
//! rest usable (an unknown sub-option, an out-of-range retry value, a duplicate) are reported as
//! [`DhcpWarning`]s next to the decoded values.

use std::fmt::Write as _;

/// The Broadband Forum's IANA enterprise number (0x0DE9).
pub const BBF_ENTERPRISE: u32 = 3561;
/// Longest ProvisioningCode (`ManagementServer.` data model: string(64)).
pub const MAX_PROVISIONING_CODE_LEN: usize = 64;
/// Longest domain name accepted from option 253.
pub const MAX_DOMAIN_LEN: usize = 253;

/// A structural decoding error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DhcpError {
    /// The payload is empty.
    #[error("empty option payload")]
    Empty,
    /// A declared length runs past the end of the data.
    #[error("sub-option {code} declares {declared} bytes but only {available} remain")]
    Truncated {
        /// Sub-option code (or enterprise number for V-I blocks).
        code: u32,
        /// Declared length.
        declared: usize,
        /// Bytes actually left.
        available: usize,
    },
    /// Hex text is malformed.
    #[error("invalid hex text: {0}")]
    BadHex(&'static str),
    /// A string value is not printable ASCII.
    #[error("sub-option {0} is not printable ASCII")]
    NotAscii(u32),
    /// The ACS URL is not an `http://` or `https://` URL.
    #[error("invalid ACS URL `{0}`")]
    InvalidUrl(String),
    /// Sub-option 1 held more than "URL username password".
    #[error("sub-option 1 has {0} space-separated fields (at most 3)")]
    TooManyFields(usize),
    /// DHCPv6 option 17 for another enterprise.
    #[error("enterprise number {0} is not 3561")]
    WrongEnterprise(u32),
    /// An invalid option 252/253 value.
    #[error("invalid cloud option: {0}")]
    InvalidCloudOption(&'static str),
    /// A value is too long to encode in one sub-option.
    #[error("value of sub-option {0} is longer than 255 bytes")]
    ValueTooLong(u8),
}

/// A non-fatal problem; the values decoded alongside it are usable.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DhcpWarning {
    /// A sub-option code we do not know; skipped.
    UnknownSubOption(u32),
    /// A sub-option seen twice; the first one is kept.
    DuplicateSubOption(u32),
    /// Retry minimum wait not a decimal in 1..=65535; ignored.
    InvalidRetryMinWait(String),
    /// Retry multiplier not a decimal in 1000..=65535; ignored.
    InvalidRetryMultiplier(String),
    /// Provisioning code too long or not printable; ignored.
    InvalidProvisioningCode,
    /// The whole option was taken as a plain URL (no sub-option structure).
    PlainUrl,
}

/// What DHCP told us about the ACS (option 43 or option 17 sub-options 1-4).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AcsDiscovery {
    /// Sub-option 1: ACS URL.
    pub url: Option<String>,
    /// H3C form: second field of sub-option 1.
    pub username: Option<String>,
    /// H3C form: third field of sub-option 1.
    pub password: Option<String>,
    /// Sub-option 2: ProvisioningCode.
    pub provisioning_code: Option<String>,
    /// Sub-option 3: CWMPRetryMinimumWaitInterval (1..=65535).
    pub retry_min_wait: Option<u32>,
    /// Sub-option 4: CWMPRetryIntervalMultiplier (1000..=65535).
    pub retry_multiplier: Option<u32>,
    /// Non-fatal problems met while decoding.
    pub warnings: Vec<DhcpWarning>,
}

/// OUI, serial number and product class of one device.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceIdentity {
    /// Manufacturer OUI.
    pub oui: Option<String>,
    /// Serial number.
    pub serial_number: Option<String>,
    /// Product class.
    pub product_class: Option<String>,
}

impl DeviceIdentity {
    /// Whether no field is set.
    pub fn is_empty(&self) -> bool {
        self.oui.is_none() && self.serial_number.is_none() && self.product_class.is_none()
    }
}

/// Device/gateway association (option 125 sub-options 1-6, option 17 sub-options 11-16).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GatewayAssociation {
    /// The managed device behind the gateway.
    pub device: DeviceIdentity,
    /// The gateway.
    pub gateway: DeviceIdentity,
    /// Non-fatal problems met while decoding.
    pub warnings: Vec<DhcpWarning>,
}

/// Decoded DHCPv6 option 17 for enterprise 3561.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dhcpv6VendorInfo {
    /// Sub-options 1-4.
    pub discovery: AcsDiscovery,
    /// Sub-options 11-16.
    pub association: GatewayAssociation,
}

/// Parses hex as lease files print it: `0127687474…`, `01:27:68:…`, `1:27:68:…` (ISC, no leading
/// zeros), `01 27 68 …`, with an optional `0x` prefix on the unseparated form.
pub fn parse_hex(text: &str) -> Result<Vec<u8>, DhcpError> {
    let text = text.trim();
    let groups: Vec<&str> = text
        .split(|c: char| c == ':' || c == '-' || c.is_ascii_whitespace())
        .filter(|g| !g.is_empty())
        .collect();
    match groups.as_slice() {
        [] => Err(DhcpError::Empty),
        [single] => {
            let digits = single
                .strip_prefix("0x")
                .or_else(|| single.strip_prefix("0X"))
                .unwrap_or(single);
            if !digits.len().is_multiple_of(2) {
                return Err(DhcpError::BadHex("odd number of digits"));
            }
            hex::decode(digits).map_err(|_| DhcpError::BadHex("not a hex digit"))
        }
        many => many
            .iter()
            .map(|g| {
                if g.len() > 2 {
                    return Err(DhcpError::BadHex("separated group longer than one byte"));
                }
                u8::from_str_radix(g, 16).map_err(|_| DhcpError::BadHex("not a hex digit"))
            })
            .collect(),
    }
}

/// Splits `code(1) len(1) value` sub-options (RFC 2132 §8.4 encapsulation; 0 = pad, 255 = end).
fn split_tlv8(data: &[u8]) -> Result<Vec<(u32, &[u8])>, DhcpError> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < data.len() {
        let code = data[i];
        match code {
            0 => {
                i += 1;
                continue;
            }
            255 => break,
            _ => {}
        }
        let Some(&len) = data.get(i + 1) else {
            return Err(DhcpError::Truncated {
                code: code.into(),
                declared: 1,
                available: 0,
            });
        };
        let len = usize::from(len);
        let start = i + 2;
        let available = data.len() - start;
        if len > available {
            return Err(DhcpError::Truncated {
                code: code.into(),
                declared: len,
                available,
            });
        }
        out.push((u32::from(code), &data[start..start + len]));
        i = start + len;
    }
    Ok(out)
}

/// Splits `code(2) len(2) value` DHCPv6 options.
fn split_tlv16(data: &[u8]) -> Result<Vec<(u32, &[u8])>, DhcpError> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < data.len() {
        let Some(header) = data.get(i..i + 4) else {
            return Err(DhcpError::Truncated {
                code: data
                    .get(i..i + 2)
                    .map_or(0, |c| u16::from_be_bytes([c[0], c[1]]).into()),
                declared: 4,
                available: data.len() - i,
            });
        };
        let code = u32::from(u16::from_be_bytes([header[0], header[1]]));
        let len = usize::from(u16::from_be_bytes([header[2], header[3]]));
        let start = i + 4;
        let available = data.len() - start;
        if len > available {
            return Err(DhcpError::Truncated {
                code,
                declared: len,
                available,
            });
        }
        out.push((code, &data[start..start + len]));
        i = start + len;
    }
    Ok(out)
}

/// Printable ASCII, with trailing NULs (C-string servers) and surrounding spaces removed.
fn ascii_value(code: u32, raw: &[u8]) -> Result<String, DhcpError> {
    let end = raw.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
    let raw = &raw[..end];
    if !raw.iter().all(|b| (0x20..0x7f).contains(b)) {
        return Err(DhcpError::NotAscii(code));
    }
    // Printable ASCII is valid UTF-8.
    Ok(String::from_utf8_lossy(raw).trim().to_owned())
}

fn validate_url(url: &str) -> Result<(), DhcpError> {
    let lower = url.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("http://")
        .or_else(|| lower.strip_prefix("https://"));
    match rest {
        Some(r) if !r.is_empty() && !r.starts_with('/') && !url.contains(' ') => Ok(()),
        _ => Err(DhcpError::InvalidUrl(url.to_owned())),
    }
}

fn parse_ranged(text: &str, range: std::ops::RangeInclusive<u32>) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<u32>().ok().filter(|v| range.contains(v))
}

/// Applies sub-options 1-4 to `out`. Returns `false` for any other code.
fn apply_acs_suboption(out: &mut AcsDiscovery, code: u32, value: &[u8]) -> Result<bool, DhcpError> {
    let already = match code {
        1 => out.url.is_some(),
        2 => out.provisioning_code.is_some(),
        3 => out.retry_min_wait.is_some(),
        4 => out.retry_multiplier.is_some(),
        _ => return Ok(false),
    };
    if already {
        out.warnings.push(DhcpWarning::DuplicateSubOption(code));
        return Ok(true);
    }
    match code {
        1 => {
            let text = ascii_value(code, value)?;
            let fields: Vec<&str> = text.split_ascii_whitespace().collect();
            match fields.as_slice() {
                [] => return Err(DhcpError::InvalidUrl(String::new())),
                [url, rest @ ..] if rest.len() <= 2 => {
                    validate_url(url)?;
                    out.url = Some((*url).to_owned());
                    out.username = rest.first().map(|s| (*s).to_owned());
                    out.password = rest.get(1).map(|s| (*s).to_owned());
                }
                _ => return Err(DhcpError::TooManyFields(fields.len())),
            }
        }
        2 => match ascii_value(code, value) {
            Ok(pc) if pc.len() <= MAX_PROVISIONING_CODE_LEN => out.provisioning_code = Some(pc),
            _ => out.warnings.push(DhcpWarning::InvalidProvisioningCode),
        },
        3 => {
            let text = String::from_utf8_lossy(value)
                .trim_end_matches('\0')
                .trim()
                .to_owned();
            match parse_ranged(&text, 1..=65535) {
                Some(v) => out.retry_min_wait = Some(v),
                None => out.warnings.push(DhcpWarning::InvalidRetryMinWait(text)),
            }
        }
        _ => {
            let text = String::from_utf8_lossy(value)
                .trim_end_matches('\0')
                .trim()
                .to_owned();
            match parse_ranged(&text, 1000..=65535) {
                Some(v) => out.retry_multiplier = Some(v),
                None => out.warnings.push(DhcpWarning::InvalidRetryMultiplier(text)),
            }
        }
    }
    Ok(true)
}

/// Decodes the payload of DHCPv4 option 43 (`DHCP-02`, `DHCP-06`).
///
/// If the first byte (after any pad bytes) is not a sub-option code 1-4 the whole payload is taken as a plain URL (as
/// icwmp does), with [`DhcpWarning::PlainUrl`].
pub fn decode_option43(payload: &[u8]) -> Result<AcsDiscovery, DhcpError> {
    if payload.is_empty() {
        return Err(DhcpError::Empty);
    }
    // Pad bytes (0) may precede the first sub-option; a URL never starts with one.
    let first = payload.iter().copied().find(|&b| b != 0).unwrap_or(0);
    let mut out = AcsDiscovery::default();
    if !(1..=4).contains(&first) {
        let url = ascii_value(0, payload)?;
        validate_url(&url)?;
        out.url = Some(url);
        out.warnings.push(DhcpWarning::PlainUrl);
        return Ok(out);
    }
    for (code, value) in split_tlv8(payload)? {
        if !apply_acs_suboption(&mut out, code, value)? {
            out.warnings.push(DhcpWarning::UnknownSubOption(code));
        }
    }
    Ok(out)
}

/// [`decode_option43`] from hex text.
pub fn decode_option43_hex(text: &str) -> Result<AcsDiscovery, DhcpError> {
    decode_option43(&parse_hex(text)?)
}

/// Encodes sub-options 1-4 of `discovery` (the H3C form when a username is set).
pub fn encode_option43(discovery: &AcsDiscovery) -> Result<Vec<u8>, DhcpError> {
    let mut out = Vec::new();
    let mut push = |code: u8, value: &str| -> Result<(), DhcpError> {
        let len = u8::try_from(value.len()).map_err(|_| DhcpError::ValueTooLong(code))?;
        out.push(code);
        out.push(len);
        out.extend_from_slice(value.as_bytes());
        Ok(())
    };
    if let Some(url) = &discovery.url {
        let mut v = url.clone();
        for extra in [&discovery.username, &discovery.password]
            .into_iter()
            .flatten()
        {
            v.push(' ');
            v.push_str(extra);
        }
        push(1, &v)?;
    }
    if let Some(pc) = &discovery.provisioning_code {
        push(2, pc)?;
    }
    if let Some(m) = discovery.retry_min_wait {
        push(3, &m.to_string())?;
    }
    if let Some(k) = discovery.retry_multiplier {
        push(4, &k.to_string())?;
    }
    Ok(out)
}

fn apply_identity(
    assoc: &mut GatewayAssociation,
    slot_code: u32,
    code: u32,
    value: &[u8],
) -> Result<bool, DhcpError> {
    let (who, field) = match slot_code {
        1 => (&mut assoc.device, 0),
        2 => (&mut assoc.device, 1),
        3 => (&mut assoc.device, 2),
        4 => (&mut assoc.gateway, 0),
        5 => (&mut assoc.gateway, 1),
        6 => (&mut assoc.gateway, 2),
        _ => return Ok(false),
    };
    let slot = match field {
        0 => &mut who.oui,
        1 => &mut who.serial_number,
        _ => &mut who.product_class,
    };
    if slot.is_some() {
        assoc.warnings.push(DhcpWarning::DuplicateSubOption(code));
    } else {
        *slot = Some(ascii_value(code, value)?);
    }
    Ok(true)
}

/// Decodes DHCPv4 option 125 (V-I vendor-specific, RFC 3925; `DHCP-04`). Returns `None` when no
/// block for enterprise 3561 is present. Blocks of other enterprises are skipped.
pub fn decode_option125(payload: &[u8]) -> Result<Option<GatewayAssociation>, DhcpError> {
    if payload.is_empty() {
        return Err(DhcpError::Empty);
    }
    let mut found: Option<GatewayAssociation> = None;
    let mut i = 0;
    while i < payload.len() {
        let Some(head) = payload.get(i..i + 5) else {
            return Err(DhcpError::Truncated {
                code: 0,
                declared: 5,
                available: payload.len() - i,
            });
        };
        let enterprise = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
        let len = usize::from(head[4]);
        let start = i + 5;
        let available = payload.len() - start;
        if len > available {
            return Err(DhcpError::Truncated {
                code: enterprise,
                declared: len,
                available,
            });
        }
        if enterprise == BBF_ENTERPRISE {
            let assoc = found.get_or_insert_with(GatewayAssociation::default);
            for (code, value) in split_tlv8(&payload[start..start + len])? {
                if !apply_identity(assoc, code, code, value)? {
                    assoc.warnings.push(DhcpWarning::UnknownSubOption(code));
                }
            }
        }
        i = start + len;
    }
    Ok(found)
}

/// [`decode_option125`] from hex text.
pub fn decode_option125_hex(text: &str) -> Result<Option<GatewayAssociation>, DhcpError> {
    decode_option125(&parse_hex(text)?)
}

/// Decodes the data of DHCPv6 option 17 (`DHCP-03`): enterprise number 3561, then sub-options
/// with 2-byte code and length: 1-4 as option 43, 11-16 device and gateway identity.
pub fn decode_dhcpv6_option17(payload: &[u8]) -> Result<Dhcpv6VendorInfo, DhcpError> {
    if payload.is_empty() {
        return Err(DhcpError::Empty);
    }
    let Some(head) = payload.get(..4) else {
        return Err(DhcpError::Truncated {
            code: 0,
            declared: 4,
            available: payload.len(),
        });
    };
    let enterprise = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
    if enterprise != BBF_ENTERPRISE {
        return Err(DhcpError::WrongEnterprise(enterprise));
    }
    let mut info = Dhcpv6VendorInfo::default();
    for (code, value) in split_tlv16(&payload[4..])? {
        let known = if (11..=16).contains(&code) {
            apply_identity(&mut info.association, code - 10, code, value)?
        } else {
            apply_acs_suboption(&mut info.discovery, code, value)?
        };
        if !known {
            info.discovery
                .warnings
                .push(DhcpWarning::UnknownSubOption(code));
        }
    }
    Ok(info)
}

/// [`decode_dhcpv6_option17`] from hex text.
pub fn decode_dhcpv6_option17_hex(text: &str) -> Result<Dhcpv6VendorInfo, DhcpError> {
    decode_dhcpv6_option17(&parse_hex(text)?)
}

/// Decodes DHCP option 253, the H3C cloud server domain name (`CLD-01`): 1-253 characters,
/// dot-separated labels of letters, digits and hyphens (1-63 each, no leading/trailing hyphen).
/// An IPv4 literal passes the same rule.
pub fn decode_cloud_domain_option253(payload: &[u8]) -> Result<String, DhcpError> {
    let name =
        ascii_value(253, payload).map_err(|_| DhcpError::InvalidCloudOption("domain not ASCII"))?;
    let name = name.strip_suffix('.').unwrap_or(&name).to_owned();
    if name.is_empty() || name.len() > MAX_DOMAIN_LEN {
        return Err(DhcpError::InvalidCloudOption("domain length not 1..=253"));
    }
    for label in name.split('.') {
        let ok = (1..=63).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Err(DhcpError::InvalidCloudOption("bad domain label"));
        }
    }
    Ok(name)
}

/// Decodes DHCP option 252, the H3C cloud connection password (`CLD-01`): 1-255 printable ASCII
/// characters, no spaces (Comware takes it as one CLI token). The exact Comware length limit is
/// not documented publicly; the DHCP option size is the bound here.
pub fn decode_cloud_password_option252(payload: &[u8]) -> Result<String, DhcpError> {
    let end = payload.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
    let raw = &payload[..end];
    if raw.is_empty() {
        return Err(DhcpError::InvalidCloudOption("empty password"));
    }
    if !raw.iter().all(|b| (0x21..0x7f).contains(b)) {
        return Err(DhcpError::InvalidCloudOption(
            "password not printable ASCII without spaces",
        ));
    }
    Ok(String::from_utf8_lossy(raw).into_owned())
}

/// Lowercase colon-separated hex (`01:27:68`), the form dnsmasq lease scripts print.
pub fn to_colon_hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        let _ = write!(out, "{b:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const H3C_HEX: &str =
        "0127687474703A2F2F3136392E3235342E37362E33313A373534372F61637320313233342035363738";

    fn tlv(code: u8, value: &[u8]) -> Vec<u8> {
        let mut v = vec![code, value.len() as u8];
        v.extend_from_slice(value);
        v
    }

    #[test]
    fn dhcp06_h3c_url_user_pass_in_suboption1() {
        let d = decode_option43_hex(H3C_HEX).unwrap();
        assert_eq!(d.url.as_deref(), Some("http://169.254.76.31:7547/acs"));
        assert_eq!(d.username.as_deref(), Some("1234"));
        assert_eq!(d.password.as_deref(), Some("5678"));
        assert!(d.warnings.is_empty());
    }

    #[test]
    fn dhcp06_h3c_doc_example_with_wrong_length_is_truncated_error() {
        // 0x3B = 59 declared, 40 bytes present (as in H3C's guide).
        let mut payload = vec![0x01, 0x3B];
        payload.extend_from_slice(b"http://10.1.1.1:7547/acs user1 passwd12");
        payload.push(b'3');
        assert_eq!(payload.len() - 2, 40);
        assert_eq!(
            decode_option43(&payload),
            Err(DhcpError::Truncated {
                code: 1,
                declared: 59,
                available: 40
            })
        );
    }

    #[test]
    fn dhcp02_standard_suboptions_1_to_4() {
        let mut p = tlv(1, b"https://acs.example.com:7548/cwmp");
        p.extend(tlv(2, b"PROV-1"));
        p.extend(tlv(3, b"10"));
        p.extend(tlv(4, b"1500"));
        let d = decode_option43(&p).unwrap();
        assert_eq!(d.url.as_deref(), Some("https://acs.example.com:7548/cwmp"));
        assert_eq!(d.username, None);
        assert_eq!(d.provisioning_code.as_deref(), Some("PROV-1"));
        assert_eq!(d.retry_min_wait, Some(10));
        assert_eq!(d.retry_multiplier, Some(1500));
        assert!(d.warnings.is_empty());
        // And encoding gives the same bytes back.
        assert_eq!(encode_option43(&d).unwrap(), p);
    }

    #[test]
    fn rty05_out_of_range_retry_values_are_warnings() {
        let mut p = tlv(1, b"http://acs");
        p.extend(tlv(3, b"0"));
        p.extend(tlv(4, b"999"));
        let d = decode_option43(&p).unwrap();
        assert_eq!(d.retry_min_wait, None);
        assert_eq!(d.retry_multiplier, None);
        assert_eq!(
            d.warnings,
            vec![
                DhcpWarning::InvalidRetryMinWait("0".into()),
                DhcpWarning::InvalidRetryMultiplier("999".into())
            ]
        );
        let mut p = tlv(1, b"http://acs");
        p.extend(tlv(3, b"65536"));
        p.extend(tlv(4, b"65535\0"));
        let d = decode_option43(&p).unwrap();
        assert_eq!(d.retry_min_wait, None);
        assert_eq!(d.retry_multiplier, Some(65535));
    }

    #[test]
    fn dhcp02_plain_url_fallback_like_icwmp() {
        let d = decode_option43(b"http://acs.example.com:7547/\0").unwrap();
        assert_eq!(d.url.as_deref(), Some("http://acs.example.com:7547/"));
        assert_eq!(d.warnings, vec![DhcpWarning::PlainUrl]);
        assert!(matches!(
            decode_option43(b"ftp://nope"),
            Err(DhcpError::InvalidUrl(_))
        ));
        assert_eq!(decode_option43(b"\x80\x81"), Err(DhcpError::NotAscii(0)));
    }

    #[test]
    fn dhcp02_pad_end_unknown_and_duplicate_suboptions() {
        let mut p = vec![0, 0];
        p.extend(tlv(1, b"http://a"));
        p.extend(tlv(9, b"xx"));
        p.extend(tlv(1, b"http://b"));
        p.push(255);
        p.extend_from_slice(b"ignored after end");
        let d = decode_option43(&p).unwrap();
        assert_eq!(d.url.as_deref(), Some("http://a"));
        assert_eq!(
            d.warnings,
            vec![
                DhcpWarning::UnknownSubOption(9),
                DhcpWarning::DuplicateSubOption(1)
            ]
        );
    }

    #[test]
    fn dhcp02_malformed_suboption1_errors() {
        assert_eq!(
            decode_option43(&tlv(1, b"http://a u p extra")),
            Err(DhcpError::TooManyFields(4))
        );
        assert!(matches!(
            decode_option43(&tlv(1, b"acs.example.com")),
            Err(DhcpError::InvalidUrl(_))
        ));
        assert_eq!(
            decode_option43(&tlv(1, b"http://\x01")),
            Err(DhcpError::NotAscii(1))
        );
        assert_eq!(
            decode_option43(&[1]),
            Err(DhcpError::Truncated {
                code: 1,
                declared: 1,
                available: 0
            })
        );
        assert_eq!(decode_option43(&[]), Err(DhcpError::Empty));
    }

    #[test]
    fn dhcp02_hex_forms_from_lease_files() {
        let bytes = parse_hex(H3C_HEX).unwrap();
        let colon = to_colon_hex(&bytes);
        assert!(colon.starts_with("01:27:68:74"));
        assert_eq!(parse_hex(&colon).unwrap(), bytes);
        assert_eq!(parse_hex(&colon.replace(':', " ")).unwrap(), bytes);
        assert_eq!(parse_hex(&format!("0x{H3C_HEX}")).unwrap(), bytes);
        // ISC dhclient drops leading zeros.
        assert_eq!(parse_hex("1:27:68").unwrap(), vec![1, 0x27, 0x68]);
        assert!(matches!(parse_hex("012"), Err(DhcpError::BadHex(_))));
        assert!(matches!(parse_hex("01:zz"), Err(DhcpError::BadHex(_))));
        assert!(matches!(parse_hex("01:234"), Err(DhcpError::BadHex(_))));
        assert_eq!(parse_hex("  "), Err(DhcpError::Empty));
    }

    #[test]
    fn dhcp04_option125_bbf_block_among_others() {
        let mut bbf = tlv(4, b"00E0FC");
        bbf.extend(tlv(5, b"GW123"));
        bbf.extend(tlv(6, b"HGW"));
        bbf.extend(tlv(1, b"001122"));
        let mut p = Vec::new();
        // Another enterprise's block first: skipped.
        p.extend_from_slice(&9u32.to_be_bytes());
        p.push(3);
        p.extend_from_slice(b"abc");
        p.extend_from_slice(&BBF_ENTERPRISE.to_be_bytes());
        p.push(bbf.len() as u8);
        p.extend_from_slice(&bbf);
        let a = decode_option125(&p).unwrap().unwrap();
        assert_eq!(a.gateway.oui.as_deref(), Some("00E0FC"));
        assert_eq!(a.gateway.serial_number.as_deref(), Some("GW123"));
        assert_eq!(a.gateway.product_class.as_deref(), Some("HGW"));
        assert_eq!(a.device.oui.as_deref(), Some("001122"));
        assert_eq!(a.device.serial_number, None);
        let hex_form = to_colon_hex(&p);
        assert_eq!(decode_option125_hex(&hex_form).unwrap(), Some(a));
    }

    #[test]
    fn dhcp04_option125_without_bbf_and_truncated() {
        let mut p = 9u32.to_be_bytes().to_vec();
        p.push(1);
        p.push(0);
        assert_eq!(decode_option125(&p), Ok(None));
        let mut p = BBF_ENTERPRISE.to_be_bytes().to_vec();
        p.push(10);
        p.extend_from_slice(&[4, 2, b'a']);
        assert_eq!(
            decode_option125(&p),
            Err(DhcpError::Truncated {
                code: BBF_ENTERPRISE,
                declared: 10,
                available: 3
            })
        );
        assert!(matches!(
            decode_option125(&[0, 0, 0]),
            Err(DhcpError::Truncated { .. })
        ));
    }

    fn tlv16(code: u16, value: &[u8]) -> Vec<u8> {
        let mut v = code.to_be_bytes().to_vec();
        v.extend_from_slice(&(value.len() as u16).to_be_bytes());
        v.extend_from_slice(value);
        v
    }

    #[test]
    fn dhcp03_dhcpv6_option17() {
        let mut p = BBF_ENTERPRISE.to_be_bytes().to_vec();
        p.extend(tlv16(1, b"http://[2001:db8::1]:7547/acs"));
        p.extend(tlv16(2, b"pc"));
        p.extend(tlv16(3, b"30"));
        p.extend(tlv16(4, b"3000"));
        p.extend(tlv16(11, b"001122"));
        p.extend(tlv16(15, b"GWSN"));
        p.extend(tlv16(5, b"reserved"));
        let info = decode_dhcpv6_option17(&p).unwrap();
        assert_eq!(
            info.discovery.url.as_deref(),
            Some("http://[2001:db8::1]:7547/acs")
        );
        assert_eq!(info.discovery.provisioning_code.as_deref(), Some("pc"));
        assert_eq!(info.discovery.retry_min_wait, Some(30));
        assert_eq!(info.discovery.retry_multiplier, Some(3000));
        assert_eq!(info.association.device.oui.as_deref(), Some("001122"));
        assert_eq!(
            info.association.gateway.serial_number.as_deref(),
            Some("GWSN")
        );
        assert_eq!(
            info.discovery.warnings,
            vec![DhcpWarning::UnknownSubOption(5)]
        );
        assert_eq!(decode_dhcpv6_option17_hex(&to_colon_hex(&p)).unwrap(), info);
    }

    #[test]
    fn dhcp03_dhcpv6_option17_errors() {
        let mut p = 9u32.to_be_bytes().to_vec();
        p.extend(tlv16(1, b"http://a"));
        assert_eq!(
            decode_dhcpv6_option17(&p),
            Err(DhcpError::WrongEnterprise(9))
        );
        let mut p = BBF_ENTERPRISE.to_be_bytes().to_vec();
        p.extend_from_slice(&[0, 1, 0, 50, b'h']);
        assert_eq!(
            decode_dhcpv6_option17(&p),
            Err(DhcpError::Truncated {
                code: 1,
                declared: 50,
                available: 1
            })
        );
        let mut p = BBF_ENTERPRISE.to_be_bytes().to_vec();
        p.extend_from_slice(&[0, 1, 0]);
        assert!(matches!(
            decode_dhcpv6_option17(&p),
            Err(DhcpError::Truncated { code: 1, .. })
        ));
        assert!(matches!(
            decode_dhcpv6_option17(&[0, 0]),
            Err(DhcpError::Truncated { .. })
        ));
    }

    #[test]
    fn cld01_option253_domain() {
        assert_eq!(
            decode_cloud_domain_option253(b"oasis.h3c.com").unwrap(),
            "oasis.h3c.com"
        );
        assert_eq!(
            decode_cloud_domain_option253(b"cloud.com.\0").unwrap(),
            "cloud.com"
        );
        assert_eq!(
            decode_cloud_domain_option253(b"10.1.1.1").unwrap(),
            "10.1.1.1"
        );
        for bad in [
            &b""[..],
            b"bad_name.com",
            b"-x.com",
            b"a..b",
            b"sp ace",
            b"\xff",
        ] {
            assert!(
                matches!(
                    decode_cloud_domain_option253(bad),
                    Err(DhcpError::InvalidCloudOption(_))
                ),
                "{bad:?}"
            );
        }
        let long = format!("{}.com", "a".repeat(64));
        assert!(decode_cloud_domain_option253(long.as_bytes()).is_err());
    }

    #[test]
    fn cld01_option252_password() {
        assert_eq!(
            decode_cloud_password_option252(b"S3cr#t!\0").unwrap(),
            "S3cr#t!"
        );
        for bad in [&b""[..], b"\0", b"with space", b"tab\t", b"\xc3\xa9"] {
            assert!(
                matches!(
                    decode_cloud_password_option252(bad),
                    Err(DhcpError::InvalidCloudOption(_))
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn dhcp06_encode_h3c_form_round_trips() {
        let d = AcsDiscovery {
            url: Some("http://169.254.76.31:7547/acs".into()),
            username: Some("1234".into()),
            password: Some("5678".into()),
            ..AcsDiscovery::default()
        };
        let bytes = encode_option43(&d).unwrap();
        assert_eq!(bytes, parse_hex(H3C_HEX).unwrap());
        let long = AcsDiscovery {
            url: Some(format!("http://{}", "a".repeat(300))),
            ..AcsDiscovery::default()
        };
        assert_eq!(encode_option43(&long), Err(DhcpError::ValueTooLong(1)));
    }

    #[test]
    fn dhcp02_arbitrary_bytes_never_panic() {
        let mut seed = 0x1234_5678_u32;
        for len in 0..300 {
            let data: Vec<u8> = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    (seed >> 16) as u8 % 8
                })
                .collect();
            let _ = decode_option43(&data);
            let _ = decode_option125(&data);
            let _ = decode_dhcpv6_option17(&data);
            let _ = decode_cloud_domain_option253(&data);
            let _ = decode_cloud_password_option252(&data);
        }
    }
}
