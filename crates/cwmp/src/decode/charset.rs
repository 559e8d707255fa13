//! Turning received bytes into UTF-8 text: the charset comes from the Content-Type header, then
//! from the XML declaration, then a BOM; UTF-8 is the default. Also replaces characters XML 1.0
//! forbids (pitfall #14) so one broken CPE value does not lose the whole message.

use crate::envelope::Quirk;
use crate::error::DecodeError;
use std::borrow::Cow;

/// Decodes `bytes` to text using `content_type`'s charset, the XML declaration, or a BOM.
pub fn to_text<'a>(
    bytes: &'a [u8],
    content_type: Option<&str>,
) -> Result<(Cow<'a, str>, Option<Quirk>), DecodeError> {
    let declared = content_type
        .and_then(charset_param)
        .or_else(|| declaration_encoding(bytes));
    let bytes_no_bom = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        return utf16(bytes).map(|s| (Cow::Owned(s), None));
    }
    match declared.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None => match std::str::from_utf8(bytes_no_bom) {
            Ok(s) => Ok((Cow::Borrowed(s), None)),
            Err(_) => Ok((
                Cow::Owned(latin1(bytes_no_bom)),
                Some(Quirk::Latin1Fallback),
            )),
        },
        Some("utf-8" | "utf8") => std::str::from_utf8(bytes_no_bom)
            .map(|s| (Cow::Borrowed(s), None))
            .map_err(|e| DecodeError::InvalidEncoding {
                charset: "UTF-8",
                offset: e.valid_up_to(),
            }),
        Some("us-ascii" | "ascii") => match std::str::from_utf8(bytes_no_bom) {
            Ok(s) if s.is_ascii() => Ok((Cow::Borrowed(s), None)),
            _ => Ok((Cow::Owned(latin1(bytes_no_bom)), None)),
        },
        Some("iso-8859-1" | "latin1" | "latin-1" | "iso_8859-1" | "l1") => {
            Ok((Cow::Owned(latin1(bytes_no_bom)), None))
        }
        Some("windows-1252" | "cp1252") => Ok((Cow::Owned(windows_1252(bytes_no_bom)), None)),
        Some("utf-16" | "utf-16le" | "utf-16be") => utf16(bytes).map(|s| (Cow::Owned(s), None)),
        Some(other) => Err(DecodeError::UnsupportedCharset(other.to_owned())),
    }
}

/// The `charset` parameter of a Content-Type value.
fn charset_param(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| v.trim().trim_matches('"').to_owned())
    })
}

/// The `encoding` pseudo-attribute of an XML declaration at the start of `bytes`.
fn declaration_encoding(bytes: &[u8]) -> Option<String> {
    let head = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let head = &head[..head.len().min(200)];
    let text = head.trim_ascii_start();
    if !text.starts_with(b"<?xml") {
        return None;
    }
    let end = text.windows(2).position(|w| w == b"?>")?;
    let decl = std::str::from_utf8(&text[..end]).ok()?;
    let at = decl.find("encoding")?;
    let rest = decl[at + 8..].trim_start().strip_prefix('=')?.trim_start();
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let rest = &rest[1..];
    Some(rest[..rest.find(quote)?].to_owned())
}

fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

fn windows_1252(bytes: &[u8]) -> String {
    const HIGH: [char; 32] = [
        '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8D}', 'Ž',
        '\u{8F}', '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9D}',
        'ž', 'Ÿ',
    ];
    bytes
        .iter()
        .map(|&b| {
            if (0x80..0xA0).contains(&b) {
                HIGH[usize::from(b - 0x80)]
            } else {
                char::from(b)
            }
        })
        .collect()
}

fn utf16(bytes: &[u8]) -> Result<String, DecodeError> {
    let (le, body) = if let Some(b) = bytes.strip_prefix(b"\xFF\xFE") {
        (true, b)
    } else if let Some(b) = bytes.strip_prefix(b"\xFE\xFF") {
        (false, b)
    } else {
        // No BOM: guess from the first character, `<`.
        (bytes.first() != Some(&0), bytes)
    };
    let units = body
        .chunks(2)
        .map(|c| match c {
            [a, b] => Ok(if le {
                u16::from_le_bytes([*a, *b])
            } else {
                u16::from_be_bytes([*a, *b])
            }),
            _ => Err(DecodeError::InvalidEncoding {
                charset: "UTF-16",
                offset: bytes.len() - 1,
            }),
        })
        .collect::<Result<Vec<u16>, _>>()?;
    String::from_utf16(&units).map_err(|_| DecodeError::InvalidEncoding {
        charset: "UTF-16",
        offset: 0,
    })
}

/// Replaces characters XML 1.0 forbids, raw or as character references, with U+FFFD.
/// Returns the text unchanged (borrowed) when there is nothing to replace.
pub fn replace_forbidden(text: Cow<'_, str>) -> (Cow<'_, str>, usize) {
    let bytes = text.as_bytes();
    // Every message goes through this scan: branch-free over 32-byte chunks (vectorised), then
    // `memchr` for the rare `&`.
    let control = bytes.chunks(32).any(|chunk| {
        chunk.iter().fold(false, |found, &b| {
            found | ((b < 0x20) & (b != b'\t') & (b != b'\n') & (b != b'\r'))
        })
    });
    let reference = || memchr::memchr_iter(b'&', bytes).any(|i| bytes.get(i + 1) == Some(&b'#'));
    if !control && !reference() {
        return (text, 0);
    }
    let mut out = String::with_capacity(text.len());
    let mut count = 0;
    let mut rest: &str = &text;
    while let Some(c) = rest.chars().next() {
        if c < '\u{20}' && c != '\t' && c != '\n' && c != '\r' {
            out.push('\u{FFFD}');
            count += 1;
            rest = &rest[1..];
            continue;
        }
        if let Some(after) = rest.strip_prefix("&#")
            && let Some(end) = after.find(';').filter(|&e| e <= 10)
        {
            let digits = &after[..end];
            let value = match digits.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok(),
                None => digits.parse::<u32>().ok(),
            };
            if let Some(v) = value {
                let allowed = matches!(v, 0x9 | 0xA | 0xD | 0x20..=0xD7FF | 0xE000..=0xFFFD | 0x10000..=0x10FFFF);
                if !allowed {
                    out.push_str("&#xFFFD;");
                    count += 1;
                    rest = &after[end + 1..];
                    continue;
                }
            }
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    (Cow::Owned(out), count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charset_from_content_type_wins_over_declaration() {
        let body = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><a>\xE9</a>";
        let (text, _) = to_text(body, Some("text/xml; charset=\"ISO-8859-1\"")).unwrap();
        assert!(text.contains("<a>é</a>"));
    }

    #[test]
    fn charset_from_xml_declaration() {
        let body = b"<?xml version='1.0' encoding='iso-8859-1'?><a>\xE9</a>";
        assert!(to_text(body, Some("text/xml")).unwrap().0.contains('é'));
        let body = b"<?xml version='1.0' encoding='windows-1252'?><a>\x80</a>";
        assert!(to_text(body, None).unwrap().0.contains('€'));
    }

    #[test]
    fn undeclared_non_utf8_falls_back_to_latin1_with_a_quirk() {
        let (text, quirk) = to_text(b"<a>\xE9</a>", None).unwrap();
        assert_eq!(text, "<a>é</a>");
        assert_eq!(quirk, Some(Quirk::Latin1Fallback));
    }

    #[test]
    fn declared_utf8_that_is_not_is_an_error() {
        assert_eq!(
            to_text(b"<a>\xE9</a>", Some("text/xml; charset=utf-8")),
            Err(DecodeError::InvalidEncoding {
                charset: "UTF-8",
                offset: 3
            })
        );
        assert!(matches!(
            to_text(b"<a/>", Some("text/xml; charset=koi8-r")),
            Err(DecodeError::UnsupportedCharset(_))
        ));
    }

    #[test]
    fn utf16_with_bom() {
        let mut body = vec![0xFF, 0xFE];
        for u in "<a>ü</a>".encode_utf16() {
            body.extend_from_slice(&u.to_le_bytes());
        }
        assert_eq!(to_text(&body, None).unwrap().0, "<a>ü</a>");
    }

    #[test]
    fn env_12_forbidden_characters_raw_and_referenced_are_replaced() {
        let (t, n) = replace_forbidden(Cow::Borrowed("a\u{2}b&#2;c&#x1F;d&#65;&amp;"));
        assert_eq!(t, "a\u{FFFD}b&#xFFFD;c&#xFFFD;d&#65;&amp;");
        assert_eq!(n, 3);
        let (t, n) = replace_forbidden(Cow::Borrowed("clean\ttext\n"));
        assert!(matches!(t, Cow::Borrowed(_)));
        assert_eq!(n, 0);
        // Past the first 32-byte chunk, and in the last, partial one.
        for at in [31, 32, 33, 64, 99] {
            let mut text = "x".repeat(100);
            text.replace_range(at..=at, "\u{1b}");
            let (t, n) = replace_forbidden(Cow::Owned(text));
            assert_eq!(
                (n, t.find('\u{FFFD}')),
                (1, Some(at)),
                "control character at {at}"
            );
        }
        let (_, n) = replace_forbidden(Cow::Owned(format!("{}&#1;", "y".repeat(70))));
        assert_eq!(n, 1);
    }
}
