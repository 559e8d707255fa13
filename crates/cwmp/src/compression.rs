//! Bounded `Content-Encoding` handling for CWMP HTTP bodies (TR-069 §3.4.7; requirement `HTTP-08`).
//!
//! Owns: parsing the `Content-Encoding` header value, decoding `identity`, `gzip`/`x-gzip` and
//! `deflate` (zlib-wrapped, with raw deflate as a fallback because many servers send it), and
//! gzip-compressing an outgoing body for the CPE side.
//!
//! Must not: touch sockets or HTTP framing, or inflate without a bound. Decoding streams through a
//! reader limited to `max_output + 1` bytes, so a decompression bomb costs at most `max_output`
//! bytes of memory before it is rejected with [`CompressionError::TooLarge`]. Unknown encodings
//! (including `compress`) give [`CompressionError::Unsupported`], which the ACS maps to HTTP 415.

use std::borrow::Cow;
use std::io::{Read, Write};

use flate2::Compression;
use flate2::read::{DeflateDecoder, MultiGzDecoder, ZlibDecoder};
use flate2::write::GzEncoder;

/// At most this many codings may be stacked in one `Content-Encoding` header.
pub const MAX_STACKED_CODINGS: usize = 2;

/// A decoding failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CompressionError {
    /// The coding is not one we decode (answer 415 Unsupported Media Type).
    #[error("unsupported content coding `{0}`")]
    Unsupported(String),
    /// The decoded body would exceed the caller's limit.
    #[error("decoded body exceeds {limit} bytes")]
    TooLarge {
        /// The `max_output` that was exceeded.
        limit: usize,
    },
    /// The compressed data is corrupt or truncated.
    #[error("corrupt {coding} data: {reason}")]
    Corrupt {
        /// The coding being decoded.
        coding: &'static str,
        /// What the decoder reported.
        reason: String,
    },
    /// More codings were stacked than [`MAX_STACKED_CODINGS`].
    #[error("too many stacked content codings ({0})")]
    TooManyCodings(usize),
}

/// A content coding this module understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ContentCoding {
    /// No transformation.
    Identity,
    /// `gzip` or `x-gzip` (RFC 1952).
    Gzip,
    /// `deflate`: zlib (RFC 1950) or, leniently, raw deflate (RFC 1951).
    Deflate,
}

impl ContentCoding {
    /// The token as written in a header.
    pub fn as_str(self) -> &'static str {
        match self {
            ContentCoding::Identity => "identity",
            ContentCoding::Gzip => "gzip",
            ContentCoding::Deflate => "deflate",
        }
    }

    /// Parses one coding token, case-insensitively.
    pub fn parse(token: &str) -> Result<Self, CompressionError> {
        let t = token.trim();
        if t.eq_ignore_ascii_case("identity") || t.is_empty() {
            Ok(ContentCoding::Identity)
        } else if t.eq_ignore_ascii_case("gzip") || t.eq_ignore_ascii_case("x-gzip") {
            Ok(ContentCoding::Gzip)
        } else if t.eq_ignore_ascii_case("deflate") {
            Ok(ContentCoding::Deflate)
        } else {
            Err(CompressionError::Unsupported(t.to_owned()))
        }
    }
}

/// Parses a `Content-Encoding` value into the codings in the order they were applied, dropping
/// `identity`. `None` or an empty header means no coding.
pub fn parse_content_encoding(
    header: Option<&str>,
) -> Result<Vec<ContentCoding>, CompressionError> {
    let Some(header) = header else {
        return Ok(Vec::new());
    };
    let mut codings = Vec::new();
    for token in header.split(',') {
        match ContentCoding::parse(token)? {
            ContentCoding::Identity => {}
            c => codings.push(c),
        }
        if codings.len() > MAX_STACKED_CODINGS {
            return Err(CompressionError::TooManyCodings(codings.len()));
        }
    }
    Ok(codings)
}

/// Decodes `body` according to the `Content-Encoding` header, producing at most `max_output`
/// bytes. An identity body is borrowed, not copied (but still checked against `max_output`).
pub fn decode_content_encoding<'a>(
    encoding_header: Option<&str>,
    body: &'a [u8],
    max_output: usize,
) -> Result<Cow<'a, [u8]>, CompressionError> {
    let codings = parse_content_encoding(encoding_header)?;
    let mut data: Cow<'a, [u8]> = Cow::Borrowed(body);
    // Codings are listed in the order they were applied: undo them from the last.
    for coding in codings.iter().rev() {
        data = Cow::Owned(decode_one(*coding, &data, max_output)?);
    }
    if data.len() > max_output {
        return Err(CompressionError::TooLarge { limit: max_output });
    }
    Ok(data)
}

fn decode_one(
    coding: ContentCoding,
    input: &[u8],
    max_output: usize,
) -> Result<Vec<u8>, CompressionError> {
    match coding {
        ContentCoding::Identity => bounded_copy(input, max_output),
        ContentCoding::Gzip => read_bounded(MultiGzDecoder::new(input), "gzip", max_output),
        ContentCoding::Deflate => {
            if looks_like_zlib(input) {
                match read_bounded(ZlibDecoder::new(input), "deflate", max_output) {
                    Err(CompressionError::Corrupt { .. }) => {}
                    other => return other,
                }
            }
            read_bounded(DeflateDecoder::new(input), "deflate", max_output)
        }
    }
}

fn bounded_copy(input: &[u8], max_output: usize) -> Result<Vec<u8>, CompressionError> {
    if input.len() > max_output {
        return Err(CompressionError::TooLarge { limit: max_output });
    }
    Ok(input.to_vec())
}

/// A zlib stream starts with CMF/FLG: compression method 8, window <= 32 KiB, and a check value
/// making the 16-bit big-endian header a multiple of 31 (RFC 1950 §2.2).
fn looks_like_zlib(input: &[u8]) -> bool {
    match input {
        [cmf, flg, ..] => {
            cmf & 0x0f == 8 && cmf >> 4 <= 7 && (u16::from(*cmf) * 256 + u16::from(*flg)) % 31 == 0
        }
        _ => false,
    }
}

fn read_bounded<R: Read>(
    reader: R,
    coding: &'static str,
    max_output: usize,
) -> Result<Vec<u8>, CompressionError> {
    let limit = u64::try_from(max_output)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    let mut out = Vec::new();
    reader
        .take(limit)
        .read_to_end(&mut out)
        .map_err(|e| CompressionError::Corrupt {
            coding,
            reason: e.to_string(),
        })?;
    if out.len() > max_output {
        return Err(CompressionError::TooLarge { limit: max_output });
    }
    Ok(out)
}

/// Gzip-compresses a body (CPE side, `Content-Encoding: gzip`).
pub fn gzip(body: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(
        Vec::with_capacity(body.len() / 2 + 32),
        Compression::default(),
    );
    // Writing into a Vec cannot fail.
    encoder
        .write_all(body)
        .expect("writing to a Vec is infallible");
    encoder.finish().expect("writing to a Vec is infallible")
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::{DeflateEncoder, ZlibEncoder};

    const SOAP: &[u8] =
        b"<soap-env:Envelope><soap-env:Body><cwmp:Inform/></soap-env:Body></soap-env:Envelope>";

    fn zlib(body: &[u8]) -> Vec<u8> {
        let mut e = ZlibEncoder::new(Vec::new(), Compression::default());
        e.write_all(body).unwrap();
        e.finish().unwrap()
    }

    fn raw_deflate(body: &[u8]) -> Vec<u8> {
        let mut e = DeflateEncoder::new(Vec::new(), Compression::default());
        e.write_all(body).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn http08_identity_is_borrowed() {
        for header in [None, Some(""), Some("identity"), Some(" IDENTITY ")] {
            let out = decode_content_encoding(header, SOAP, 1024).unwrap();
            assert!(matches!(out, Cow::Borrowed(_)), "{header:?}");
            assert_eq!(&*out, SOAP);
        }
    }

    #[test]
    fn http08_identity_over_limit_is_too_large() {
        assert_eq!(
            decode_content_encoding(None, SOAP, 10),
            Err(CompressionError::TooLarge { limit: 10 })
        );
    }

    #[test]
    fn http08_gzip_and_x_gzip_round_trip() {
        let packed = gzip(SOAP);
        assert_ne!(packed.as_slice(), SOAP);
        for header in ["gzip", "x-gzip", "GZip"] {
            let out = decode_content_encoding(Some(header), &packed, 1024).unwrap();
            assert_eq!(&*out, SOAP, "{header}");
        }
    }

    #[test]
    fn http08_deflate_zlib_wrapped() {
        let packed = zlib(SOAP);
        let out = decode_content_encoding(Some("deflate"), &packed, 1024).unwrap();
        assert_eq!(&*out, SOAP);
    }

    #[test]
    fn http08_deflate_raw_fallback() {
        let packed = raw_deflate(SOAP);
        assert!(!looks_like_zlib(&packed));
        let out = decode_content_encoding(Some("deflate"), &packed, 1024).unwrap();
        assert_eq!(&*out, SOAP);
    }

    #[test]
    fn http08_unknown_encoding_is_unsupported_for_415() {
        for header in ["compress", "br", "zstd", "gzip, br"] {
            let err = decode_content_encoding(Some(header), SOAP, 1024).unwrap_err();
            assert!(matches!(err, CompressionError::Unsupported(_)), "{header}");
        }
        assert_eq!(
            decode_content_encoding(Some("br"), SOAP, 1024),
            Err(CompressionError::Unsupported("br".into()))
        );
    }

    #[test]
    fn http08_stacked_codings_are_undone_in_reverse() {
        // Applied deflate first, then gzip.
        let packed = gzip(&zlib(SOAP));
        let out = decode_content_encoding(Some("deflate, gzip"), &packed, 1024).unwrap();
        assert_eq!(&*out, SOAP);
        assert_eq!(
            decode_content_encoding(Some("gzip, gzip, gzip"), &packed, 1024),
            Err(CompressionError::TooManyCodings(3))
        );
    }

    #[test]
    fn http08_gzip_bomb_rejected_with_small_max() {
        // 100 MB of zeros compresses to ~100 KB; decoding must stop at the limit.
        let mut e = GzEncoder::new(Vec::new(), Compression::best());
        let chunk = vec![0u8; 1 << 20];
        for _ in 0..100 {
            e.write_all(&chunk).unwrap();
        }
        let bomb = e.finish().unwrap();
        assert!(bomb.len() < 1 << 20, "bomb is {} bytes", bomb.len());
        assert_eq!(
            decode_content_encoding(Some("gzip"), &bomb, 64 * 1024),
            Err(CompressionError::TooLarge { limit: 64 * 1024 })
        );
    }

    #[test]
    fn http08_deflate_bomb_rejected_with_small_max() {
        let bomb = zlib(&vec![0u8; 8 << 20]);
        assert_eq!(
            decode_content_encoding(Some("deflate"), &bomb, 4096),
            Err(CompressionError::TooLarge { limit: 4096 })
        );
    }

    #[test]
    fn http08_exact_limit_is_accepted() {
        let packed = gzip(SOAP);
        let out = decode_content_encoding(Some("gzip"), &packed, SOAP.len()).unwrap();
        assert_eq!(out.len(), SOAP.len());
        assert_eq!(
            decode_content_encoding(Some("gzip"), &gzip(SOAP), SOAP.len() - 1),
            Err(CompressionError::TooLarge {
                limit: SOAP.len() - 1
            })
        );
    }

    #[test]
    fn http08_corrupt_and_truncated_gzip_is_a_typed_error() {
        let packed = gzip(SOAP);
        let truncated = &packed[..packed.len() - 6];
        assert!(matches!(
            decode_content_encoding(Some("gzip"), truncated, 1024),
            Err(CompressionError::Corrupt { coding: "gzip", .. })
        ));
        assert!(matches!(
            decode_content_encoding(Some("gzip"), b"not gzip at all", 1024),
            Err(CompressionError::Corrupt { .. })
        ));
    }

    #[test]
    fn http08_truncated_deflate_is_corrupt_not_partial() {
        let body = b"x".repeat(5000);
        for packed in [zlib(&body), raw_deflate(&body)] {
            let cut = &packed[..packed.len() / 2];
            assert!(matches!(
                decode_content_encoding(Some("deflate"), cut, 1 << 20),
                Err(CompressionError::Corrupt { .. })
            ));
        }
    }

    #[test]
    fn http08_garbage_deflate_never_panics() {
        for input in [&b""[..], b"\x78", b"\x78\x9c\xff\xff\xff", b"\xff\xfe\xfd"] {
            let _ = decode_content_encoding(Some("deflate"), input, 1024);
        }
    }
}
