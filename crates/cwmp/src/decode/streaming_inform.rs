//! The fast path for the message that opens every session: a plain Inform read in one pass
//! over the text, with no tree built.
//!
//! Why by hand: quick-xml's namespace-aware reader driving the same grammar was slower than
//! the tree decoder (roxmltree, then our reading of the tree): its event machinery and
//! per-element namespace scopes cost more than the tree. This narrow tokenizer takes about
//! half the tree decoder's time. The Inform is decoded once per session, so this is the
//! codec's share of the ACS's throughput; figures and commands in BENCHMARKS.md ("CWMP codec",
//! "Fifth round").
//!
//! Contract: [`decode`] returns `Some` only for a message the tree decoder (`super`) accepts
//! without a single [`Quirk`](crate::envelope::Quirk) and decodes to the very same envelope.
//! Anything else gives `None` and the caller runs the tree decoder, which owns every error
//! message, every quirk and every RPC. So this file accepts a deliberately narrow grammar and
//! gives up at the first thing outside it:
//!
//! * document: an optional `<?xml version="1.0" ...?>` first, whitespace, one root, whitespace;
//!   no DTD, comment, processing instruction or CDATA section anywhere;
//! * names: ASCII `prefix:local` names only, every prefix bound, no `xml`/`xmlns` games, at most
//!   eight attributes per element, no two with the same local name;
//! * attribute values: none of `& < > \t \n \r` (so no normalisation or entity is in play and
//!   the tree decoder's nesting pre-scan sees the same tags as we do);
//! * text: leaves only (containers hold whitespace), no `\r` (line-end normalisation), no
//!   `]]>`, no U+FFFE/U+FFFF, references only to the five predefined entities and to characters
//!   XML allows;
//! * structure: `Envelope` (SOAP 1.1) with an optional `Header` holding only `cwmp:ID` and
//!   `cwmp:NoMoreRequests`, then a `Body` holding only a `cwmp:Inform` in a standard namespace;
//!   the Inform with each of its six children exactly once, `DeviceId`, `EventStruct` and
//!   `ParameterValueStruct` with their own children at most once (other children are skipped,
//!   as the tree decoder ignores them); arrays with a `soap-enc:arrayType` whose count matches;
//!   every `Value` with an `xsi:type` whose prefix is bound; a valid OUI.
//!
//! The nesting limit and the node limit of [`DecodeOptions`] are honoured by counting as the
//! tree decoder would (an overcount only sends a message to the tree decoder).
//!
//! The equivalence is tested, not assumed: the unit tests below decode every Inform of the real
//! CPE corpus and 30,000 mutated messages both ways (6 million over four seeds were run while
//! writing it; one run found a panic on `<?>`, now a case of its own).

use std::borrow::Cow;

use super::DecodeOptions;
use crate::datetime::DateTime;
use crate::device_id::DeviceId;
use crate::envelope::Envelope;
use crate::event::{Event, EventCode};
use crate::header::Header;
use crate::namespace::{self, CwmpNamespace};
use crate::rpc::{Body, Inform};
use crate::value::{ParameterValue, Value, ValueType, parse_bool};

/// The element names this grammar knows; any other is `""` (an array member may have any).
fn known_name(local: &[u8]) -> &'static str {
    match local {
        b"Envelope" => "Envelope",
        b"Header" => "Header",
        b"Body" => "Body",
        b"ID" => "ID",
        b"NoMoreRequests" => "NoMoreRequests",
        b"Inform" => "Inform",
        b"DeviceId" => "DeviceId",
        b"Manufacturer" => "Manufacturer",
        b"OUI" => "OUI",
        b"ProductClass" => "ProductClass",
        b"SerialNumber" => "SerialNumber",
        b"Event" => "Event",
        b"EventCode" => "EventCode",
        b"CommandKey" => "CommandKey",
        b"MaxEnvelopes" => "MaxEnvelopes",
        b"CurrentTime" => "CurrentTime",
        b"RetryCount" => "RetryCount",
        b"ParameterList" => "ParameterList",
        b"Name" => "Name",
        b"Value" => "Value",
        _ => "",
    }
}

/// Decodes `text` if it is a plain Inform in the narrow grammar above; `None` otherwise.
pub(super) fn decode(text: &str, options: &DecodeOptions) -> Option<Envelope> {
    if text.starts_with('\u{FEFF}') {
        return None;
    }
    let mut stream = Stream {
        text,
        input: text.as_bytes(),
        pos: 0,
        open: Vec::with_capacity(8),
        bindings: Vec::with_capacity(8),
        depth: 0,
        nodes: 1,
        max_depth: options.max_depth,
        max_nodes: options.max_nodes,
    };
    let envelope = stream.document()?;
    // Checked last: any other message leaves at its first element, without this scan.
    (!has_non_characters(text.as_bytes())).then_some(envelope)
}

/// U+FFFE and U+FFFF are not XML characters; the tree decoder refuses them.
fn has_non_characters(bytes: &[u8]) -> bool {
    memchr::memchr_iter(0xEF, bytes)
        .any(|i| bytes.get(i + 1) == Some(&0xBF) && matches!(bytes.get(i + 2), Some(0xBE | 0xBF)))
}

/// Where an element's name resolved.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ns {
    SoapEnvelope,
    Cwmp(CwmpNamespace),
    /// Another namespace, or none.
    Other,
    /// Declared empty (`xmlns=""`): no namespace.
    Unbound,
}

/// What a declared namespace URI is; `None` (give up) for a non-standard CWMP namespace,
/// which is a quirk the tree decoder reports.
fn classify(uri: &[u8]) -> Option<Ns> {
    Some(match uri {
        b"" => Ns::Unbound,
        _ => match std::str::from_utf8(uri).ok()? {
            namespace::SOAP_ENV => Ns::SoapEnvelope,
            uri => match CwmpNamespace::from_uri(uri) {
                Some((_, true)) => return None,
                Some((ns, false)) => Ns::Cwmp(ns),
                None => Ns::Other,
            },
        },
    })
}

/// An element as it opens: its resolved namespace, local name and the attributes we use.
struct Open {
    ns: Ns,
    /// One of [`known_name`]'s names, or `""` for any other name.
    local: &'static str,
    /// `<a/>`: there is no content and no `Close` follows.
    empty: bool,
    /// `arrayType` (any namespace): absent, or present with its count if it has one.
    array_type: Option<Option<usize>>,
    /// `type` (any namespace, so `xsi:type`), resolved while the element's scope is open.
    value_type: Option<ValueType>,
}

enum Token<'i> {
    Open(Open),
    Close,
    /// Character data between two tags, references resolved.
    Text(Cow<'i, str>),
}

/// An attribute of a start tag, split.
#[derive(Clone, Copy, Default)]
struct Attribute<'i> {
    prefix: Option<&'i [u8]>,
    local: &'i [u8],
    value: &'i [u8],
}

/// A namespace declaration in scope: `prefix` (empty for the default namespace) bound to a
/// namespace (classified when declared) by the element at nesting `level`.
struct Binding<'i> {
    prefix: &'i [u8],
    ns: Ns,
    level: usize,
}

/// The tokenizer. Tags are found with `memchr`; since no attribute value may hold `>`, the first
/// `>` after `<` ends the tag (a `>` inside quotes leaves a quote open, and we give up).
struct Stream<'i> {
    /// The message; `input` is the same as bytes. Text is sliced from `text` at `<`, `>` and
    /// quotes, which are ASCII, so every slice is on a character boundary (no re-validation).
    text: &'i str,
    input: &'i [u8],
    pos: usize,
    /// Qualified names of the open elements, for matching end tags.
    open: Vec<&'i [u8]>,
    bindings: Vec<Binding<'i>>,
    /// Open non-empty elements, as the tree decoder's nesting pre-scan counts them.
    depth: usize,
    /// At least the number of nodes the tree decoder would build (root included).
    nodes: u32,
    max_depth: usize,
    max_nodes: u32,
}

type Fast<T> = Option<T>;

const XML_NAMESPACE: &[u8] = b"http://www.w3.org/XML/1998/namespace";
const XMLNS_NAMESPACE: &[u8] = b"http://www.w3.org/2000/xmlns/";

impl<'i> Stream<'i> {
    fn document(&mut self) -> Fast<Envelope> {
        if self.input.starts_with(b"<?") {
            let end = 2 + memchr::memmem::find(&self.input[2..], b"?>")?;
            if !declaration_is_plain(&self.input[2..end]) {
                return None;
            }
            self.pos = end + 2;
        }
        self.skip_whitespace();
        let root = match self.next()? {
            Token::Open(open) if !open.empty => open,
            _ => return None,
        };
        if root.local != "Envelope" || root.ns != Ns::SoapEnvelope {
            return None;
        }
        let envelope = self.envelope(&root)?;
        self.skip_whitespace();
        (self.pos == self.input.len()).then_some(envelope)
    }

    fn skip_whitespace(&mut self) {
        while self
            .input
            .get(self.pos)
            .is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        {
            self.pos += 1;
        }
    }

    /// Counts an element (or a text node) against the limits.
    fn enter(&mut self, nests: bool) -> Fast<()> {
        self.nodes = self.nodes.checked_add(1)?;
        if self.nodes >= self.max_nodes {
            return None;
        }
        if nests {
            self.depth += 1;
            if self.depth > self.max_depth {
                return None;
            }
        }
        Some(())
    }

    /// The next token inside an element.
    fn next(&mut self) -> Fast<Token<'i>> {
        let rest = self.input.get(self.pos..)?;
        match rest {
            [] => None,
            [b'<', b'/', ..] => {
                let end = self.pos + memchr::memchr(b'>', rest)?;
                let name = self.input[self.pos + 2..end].trim_ascii_end();
                if self.open.pop()? != name {
                    return None;
                }
                self.depth -= 1;
                while self.bindings.last().is_some_and(|b| b.level > self.depth) {
                    self.bindings.pop();
                }
                self.pos = end + 1;
                Some(Token::Close)
            }
            [b'<', b'?' | b'!', ..] => None,
            [b'<', ..] => {
                let end = self.pos + memchr::memchr(b'>', rest)?;
                let tag = &self.input[self.pos + 1..end];
                self.pos = end + 1;
                let (tag, empty) = match tag.strip_suffix(b"/") {
                    Some(t) => (t, true),
                    None => (tag, false),
                };
                self.enter(!empty)?;
                let open = self.start_tag(tag, empty)?;
                Some(Token::Open(open))
            }
            _ => {
                let len = memchr::memchr(b'<', rest).unwrap_or(rest.len());
                let raw = &rest[..len];
                let text = self.text.get(self.pos..self.pos + len)?;
                self.pos += len;
                self.enter(false)?;
                // `\r` would be normalised, `]]>` is refused: both are left to the tree.
                if memchr::memchr2(b'\r', b'>', raw).is_some()
                    && (raw.contains(&b'\r') || raw.windows(3).any(|w| w == b"]]>"))
                {
                    return None;
                }
                Some(Token::Text(unescape(text)?))
            }
        }
    }

    /// Checks a start tag's names and attributes, declares its namespaces and resolves them.
    fn start_tag(&mut self, tag: &'i [u8], empty: bool) -> Fast<Open> {
        let name_len = tag
            .iter()
            .position(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
            .unwrap_or(tag.len());
        let (qname, mut rest) = tag.split_at(name_len);
        let (prefix, local) = split_qname(qname)?;
        if prefix.is_some_and(reserved) {
            return None;
        }
        // This element's level: bindings it declares are in scope for itself and below.
        let level = if empty { self.depth + 1 } else { self.depth };
        // Each attribute that is not a namespace declaration.
        let mut attributes: [Attribute<'_>; 8] = [Attribute::default(); 8];
        let mut count = 0;
        // Local names seen, declarations included (no two may be the same).
        let mut locals: [&[u8]; 8] = [&[]; 8];
        let mut seen = 0;
        loop {
            let trimmed = rest.trim_ascii_start();
            if trimmed.is_empty() {
                break;
            }
            // Attributes are separated by whitespace (`a="1"b="2"` is malformed).
            if trimmed.len() == rest.len() {
                return None;
            }
            let eq = trimmed.iter().position(|&b| b == b'=')?;
            let key = trimmed[..eq].trim_ascii_end();
            let after = trimmed[eq + 1..].trim_ascii_start();
            let quote = *after.first().filter(|q| matches!(q, b'"' | b'\''))?;
            let close = after[1..].iter().position(|&b| b == quote)? + 1;
            let value = &after[1..close];
            rest = &after[close + 1..];
            let (key_prefix, key_local) = split_qname(key)?;
            if value.iter().any(|b| b"&<\t\n\r".contains(b))
                || seen == locals.len()
                || locals[..seen].contains(&key_local)
            {
                return None;
            }
            locals[seen] = key_local;
            seen += 1;
            let declared = match (key_prefix, key_local) {
                (None, b"xmlns") => Some(&b""[..]),
                (Some(b"xmlns"), p) => Some(p),
                _ => None,
            };
            match declared {
                Some(p) => {
                    if (!p.is_empty() && (reserved(p) || value.is_empty()))
                        || value == XML_NAMESPACE
                        || value == XMLNS_NAMESPACE
                    {
                        return None;
                    }
                    self.bindings.push(Binding {
                        prefix: p,
                        ns: classify(value)?,
                        level,
                    });
                }
                None => {
                    attributes[count] = Attribute {
                        prefix: key_prefix,
                        local: key_local,
                        value,
                    };
                    count += 1;
                }
            }
        }
        let mut array_type = None;
        let mut value_type = None;
        for &Attribute {
            prefix: key_prefix,
            local: key_local,
            value,
        } in &attributes[..count]
        {
            if let Some(p) = key_prefix
                && (reserved(p) || self.resolve(p).is_none())
            {
                return None;
            }
            match key_local {
                b"arrayType" => {
                    array_type = Some(declared_count(std::str::from_utf8(value).ok()?));
                }
                b"type" => value_type = Some(self.value_type(std::str::from_utf8(value).ok()?)?),
                _ => {}
            }
        }
        let ns = match prefix {
            Some(p) => self.resolve(p)?,
            None => self.resolve(b"").unwrap_or(Ns::Other),
        };
        if empty {
            while self.bindings.last().is_some_and(|b| b.level > self.depth) {
                self.bindings.pop();
            }
        } else {
            self.open.push(qname);
        }
        Some(Open {
            ns,
            local: known_name(local),
            empty,
            array_type,
            value_type,
        })
    }

    /// Where `prefix` (empty: the default namespace) is bound here; `None` if it is not.
    fn resolve(&self, prefix: &[u8]) -> Option<Ns> {
        let binding = self.bindings.iter().rev().find(|b| b.prefix == prefix)?;
        // `xmlns=""` undeclares the default namespace; a prefix cannot be undeclared.
        (prefix.is_empty() || binding.ns != Ns::Unbound).then_some(binding.ns)
    }

    /// An `xsi:type` value: its local part names the type; its prefix must be bound here.
    fn value_type(&self, written: &str) -> Fast<ValueType> {
        let t = written.trim();
        let local = match t.split_once(':') {
            None => t,
            Some((prefix, local)) => {
                if prefix.is_empty() || reserved(prefix.as_bytes()) {
                    return None;
                }
                self.resolve(prefix.as_bytes())?;
                local
            }
        };
        Some(if local.is_empty() {
            ValueType::String
        } else {
            ValueType::from_xsd_name(local)
        })
    }

    /// Skips whitespace between elements; `Some(None)` at the container's end.
    fn child(&mut self, parent: &Open) -> Fast<Option<Open>> {
        if parent.empty {
            return Some(None);
        }
        loop {
            match self.next()? {
                Token::Open(open) => return Some(Some(open)),
                Token::Close => return Some(None),
                Token::Text(t) if is_xml_whitespace(t.as_bytes()) => {}
                Token::Text(_) => return None,
            }
        }
    }

    /// A leaf's text: character data and references joined; no child elements.
    fn text(&mut self, open: &Open) -> Fast<Cow<'i, str>> {
        let mut out: Cow<'i, str> = Cow::Borrowed("");
        if open.empty {
            return Some(out);
        }
        loop {
            match self.next()? {
                Token::Text(t) if out.is_empty() => out = t,
                Token::Text(t) => out.to_mut().push_str(&t),
                Token::Close => return Some(out),
                Token::Open(_) => return None,
            }
        }
    }

    /// Consumes an element the tree decoder ignores (an unknown child of a structure), still
    /// checking everything inside it.
    fn skip(&mut self, open: &Open) -> Fast<()> {
        if open.empty {
            return Some(());
        }
        let mut level = 0usize;
        loop {
            match self.next()? {
                Token::Open(inner) if !inner.empty => level += 1,
                Token::Open(_) | Token::Text(_) => {}
                Token::Close if level == 0 => return Some(()),
                Token::Close => level -= 1,
            }
        }
    }

    fn envelope(&mut self, root: &Open) -> Fast<Envelope> {
        let mut header = None;
        let mut body = None;
        while let Some(open) = self.child(root)? {
            match open.local {
                "Header" if header.is_none() && body.is_none() => {
                    header = Some(self.header(&open)?);
                }
                "Body" if body.is_none() => body = Some(self.body(&open)?),
                _ => return None,
            }
        }
        let (namespace, inform) = body?;
        Some(Envelope {
            namespace,
            header: header.unwrap_or_default(),
            body: Body::Inform(inform),
        })
    }

    fn header(&mut self, open: &Open) -> Fast<Header> {
        let mut header = Header::default();
        while let Some(child) = self.child(open)? {
            if !matches!(child.ns, Ns::Cwmp(_)) {
                return None;
            }
            match child.local {
                "ID" if header.id.is_none() => header.id = Some(self.text(&child)?.into_owned()),
                // Deprecated since 2004 but still sent (Thomson): read as the tree decoder does.
                "NoMoreRequests" if header.no_more_requests.is_none() => {
                    let text = self.text(&child)?;
                    header.no_more_requests = Some(parse_bool(text.trim())?);
                }
                _ => return None,
            }
        }
        Some(header)
    }

    fn body(&mut self, open: &Open) -> Fast<(CwmpNamespace, Inform)> {
        let rpc = self.child(open)??;
        let Ns::Cwmp(namespace) = rpc.ns else {
            return None;
        };
        if rpc.local != "Inform" {
            return None;
        }
        let inform = self.inform(&rpc)?;
        match self.child(open)? {
            None => Some((namespace, inform)),
            Some(_) => None,
        }
    }

    fn inform(&mut self, open: &Open) -> Fast<Inform> {
        let mut device_id = None;
        let mut events = None;
        let mut max_envelopes = None;
        let mut current_time = None;
        let mut retry_count = None;
        let mut parameter_list = None;
        while let Some(child) = self.child(open)? {
            match child.local {
                "DeviceId" if device_id.is_none() => device_id = Some(self.device_id(&child)?),
                "Event" if events.is_none() => events = Some(self.events(&child)?),
                "MaxEnvelopes" if max_envelopes.is_none() => {
                    max_envelopes = Some(self.number(&child)?);
                }
                "CurrentTime" if current_time.is_none() => {
                    current_time = Some(self.date_time(&child)?);
                }
                "RetryCount" if retry_count.is_none() => retry_count = Some(self.number(&child)?),
                "ParameterList" if parameter_list.is_none() => {
                    parameter_list = Some(self.parameter_list(&child)?);
                }
                "DeviceId" | "Event" | "MaxEnvelopes" | "CurrentTime" | "RetryCount"
                | "ParameterList" => return None,
                _ => self.skip(&child)?,
            }
        }
        Some(Inform {
            device_id: device_id?,
            events: events?,
            max_envelopes: max_envelopes?,
            current_time: current_time?,
            retry_count: retry_count?,
            parameter_list: parameter_list?,
        })
    }

    fn device_id(&mut self, open: &Open) -> Fast<DeviceId> {
        let mut manufacturer = None;
        let mut oui = None;
        let mut product_class = None;
        let mut serial_number = None;
        while let Some(child) = self.child(open)? {
            let slot = match child.local {
                "Manufacturer" => &mut manufacturer,
                "OUI" => &mut oui,
                "ProductClass" => &mut product_class,
                "SerialNumber" => &mut serial_number,
                _ => {
                    self.skip(&child)?;
                    continue;
                }
            };
            if slot.is_some() {
                return None;
            }
            *slot = Some(self.text(&child)?);
        }
        let device_id = DeviceId {
            manufacturer: manufacturer?.into_owned(),
            oui: oui?.trim().to_owned(),
            product_class: product_class?.into_owned(),
            serial_number: serial_number?.trim().to_owned(),
        };
        device_id.oui_is_valid().then_some(device_id)
    }

    fn events(&mut self, open: &Open) -> Fast<Vec<Event>> {
        let declared = open.array_type?;
        let mut events = Vec::new();
        while let Some(member) = self.child(open)? {
            let mut code = None;
            let mut command_key = None;
            while let Some(field) = self.child(&member)? {
                let slot = match field.local {
                    "EventCode" => &mut code,
                    "CommandKey" => &mut command_key,
                    _ => {
                        self.skip(&field)?;
                        continue;
                    }
                };
                if slot.is_some() {
                    return None;
                }
                *slot = Some(self.text(&field)?);
            }
            events.push(Event {
                code: EventCode::parse(code?.trim()),
                command_key: command_key.map(Cow::into_owned).unwrap_or_default(),
            });
        }
        match declared {
            Some(n) if n != events.len() => None,
            _ => Some(events),
        }
    }

    fn parameter_list(&mut self, open: &Open) -> Fast<Vec<ParameterValue>> {
        let declared = open.array_type?;
        let mut list = Vec::with_capacity(declared.unwrap_or(0).min(256));
        while let Some(member) = self.child(open)? {
            let mut name = None;
            let mut value = None;
            while let Some(field) = self.child(&member)? {
                match field.local {
                    "Name" if name.is_none() => name = Some(self.text(&field)?),
                    "Value" if value.is_none() => {
                        let kind = field.value_type.clone()?;
                        let text = self.text(&field)?.into_owned();
                        value = Some(Value { kind, text });
                    }
                    "Name" | "Value" => return None,
                    _ => self.skip(&field)?,
                }
            }
            list.push(ParameterValue {
                name: name?.trim().to_owned(),
                value: value?,
            });
        }
        match declared {
            Some(n) if n != list.len() => None,
            _ => Some(list),
        }
    }

    fn number(&mut self, open: &Open) -> Fast<u32> {
        let text = self.text(open)?;
        let t = text.trim();
        if t.is_empty() {
            return Some(0);
        }
        t.parse().ok()
    }

    fn date_time(&mut self, open: &Open) -> Fast<DateTime> {
        let text = self.text(open)?;
        if text.trim().is_empty() {
            return Some(DateTime::UNKNOWN);
        }
        DateTime::parse(&text)
    }
}

/// `&name;` or `&#...;`: the character it stands for, if the tree decoder would accept it.
fn reference(name: &[u8]) -> Fast<char> {
    let c = match name {
        b"lt" => '<',
        b"gt" => '>',
        b"amp" => '&',
        b"apos" => '\'',
        b"quot" => '"',
        _ => {
            let number = name.strip_prefix(b"#")?;
            let (digits, radix) = match number.strip_prefix(b"x") {
                Some(hex) => (hex, 16),
                None => (number, 10),
            };
            if digits.is_empty() || digits.len() > 8 || !digits.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            let v = u32::from_str_radix(std::str::from_utf8(digits).ok()?, radix).ok()?;
            if !matches!(v, 0x9 | 0xA | 0xD | 0x20..=0xD7FF | 0xE000..=0xFFFD | 0x10000..=0x10FFFF)
            {
                return None;
            }
            char::from_u32(v)?
        }
    };
    Some(c)
}

/// Text with its references resolved (borrowed when it has none).
fn unescape(text: &str) -> Fast<Cow<'_, str>> {
    if memchr::memchr(b'&', text.as_bytes()).is_none() {
        return Some(Cow::Borrowed(text));
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let semi = after.find(';')?;
        out.push(reference(&after.as_bytes()[..semi])?);
        rest = &after[semi + 1..];
    }
    out.push_str(rest);
    Some(Cow::Owned(out))
}

/// The count in `prefix:Type[count]`, if it has one.
fn declared_count(array_type: &str) -> Option<usize> {
    array_type
        .rsplit_once('[')
        .and_then(|(_, n)| n.trim_end_matches(']').trim().parse::<usize>().ok())
}

fn is_xml_whitespace(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
}

/// Splits `prefix:local` (or `local`), each an ASCII XML name without a colon; `None` for
/// anything else. One pass: names are short, so a plain scan beats `memchr`'s set-up.
fn split_qname(name: &[u8]) -> Option<(Option<&[u8]>, &[u8])> {
    let mut colon = None;
    let mut start = true;
    for (i, &b) in name.iter().enumerate() {
        let ok = if start {
            b.is_ascii_alphabetic() || b == b'_'
        } else {
            b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
        };
        if ok {
            start = false;
        } else if b == b':' && !start && colon.is_none() {
            colon = Some(i);
            start = true;
        } else {
            return None;
        }
    }
    if start {
        return None;
    }
    Some(match colon {
        Some(i) => (Some(&name[..i]), &name[i + 1..]),
        None => (None, name),
    })
}

fn reserved(prefix: &[u8]) -> bool {
    prefix.eq_ignore_ascii_case(b"xml") || prefix.eq_ignore_ascii_case(b"xmlns")
}

/// `version="1.0"`, then optionally `encoding="name"` and `standalone="yes|no"`, in that order,
/// each quoted with `"` or `'`, separated by single spaces.
fn declaration_is_plain(content: &[u8]) -> bool {
    let Some(rest) = content.strip_prefix(b"xml ") else {
        return false;
    };
    let mut parts = rest.trim_ascii_end().split(|&b| b == b' ');
    let mut expect: &[&[u8]] = &[b"version", b"encoding", b"standalone"];
    let mut first = true;
    for part in parts.by_ref() {
        let Some(eq) = part.iter().position(|&b| b == b'=') else {
            return false;
        };
        let (key, quoted) = (&part[..eq], &part[eq + 1..]);
        let Some(at) = expect.iter().position(|k| *k == key) else {
            return false;
        };
        if first && at != 0 {
            return false;
        }
        first = false;
        expect = &expect[at + 1..];
        let value = match quoted {
            [q @ (b'"' | b'\''), inner @ .., last] if last == q => inner,
            _ => return false,
        };
        let ok = match key {
            b"version" => value == b"1.0",
            b"encoding" => {
                value.first().is_some_and(u8::is_ascii_alphabetic)
                    && value
                        .iter()
                        .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
            }
            _ => value == b"yes" || value == b"no",
        };
        if !ok {
            return false;
        }
    }
    !first
}

#[cfg(test)]
mod tests {
    use super::super::{DecodeOptions, Decoded, Path, decode_by, decode_tree};
    use super::decode;
    use crate::datetime::DateTime;
    use crate::device_id::DeviceId;
    use crate::envelope::Envelope;
    use crate::event::{Event, EventCode};
    use crate::namespace::CwmpNamespace;
    use crate::rpc::{Body, Inform};
    use crate::value::{ParameterValue, Value};

    fn corpus() -> Vec<(String, String)> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/corpus");
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .expect("corpus")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|x| x == "xml"))
            .collect();
        files.sort();
        files
            .into_iter()
            .map(|p| {
                let name = p.file_name().expect("name").to_string_lossy().into_owned();
                (name, std::fs::read_to_string(&p).expect("read"))
            })
            .collect()
    }

    fn typical() -> String {
        let p = |name: &str, value: Value| ParameterValue::new(name, value);
        let inform = Inform {
            device_id: DeviceId {
                manufacturer: "Tether & Sons <Devices>".into(),
                oui: "00A0C9".into(),
                product_class: "Sim CPE".into(),
                serial_number: "SN-000042".into(),
            },
            events: vec![
                Event::new(EventCode::Periodic),
                Event {
                    code: EventCode::Method("Reboot".into()),
                    command_key: "reboot \"now\"".into(),
                },
            ],
            max_envelopes: 1,
            current_time: DateTime::parse("2026-11-22T10:00:00Z").expect("time"),
            retry_count: 0,
            parameter_list: vec![
                p(
                    "Device.DeviceInfo.SoftwareVersion",
                    Value::string("7.1 'R'"),
                ),
                p("Device.DeviceInfo.UpTime", Value::unsigned_int(1234)),
                p(
                    "Device.ManagementServer.PeriodicInformEnable",
                    Value::boolean(true),
                ),
                p("Device.DeviceInfo.Description", Value::string("")),
                p(
                    "Device.DeviceInfo.X_Note",
                    Value::string("  spaced\n  lines  "),
                ),
            ],
        };
        let envelope = Envelope::new(CwmpNamespace::V1_0, Some("42".into()), Body::Inform(inform));
        crate::encode::encode(&envelope).expect("encode")
    }

    fn tree(text: &str) -> Result<Decoded, crate::error::DecodeError> {
        decode_tree(text, Vec::new(), &DecodeOptions::default())
    }

    /// The contract: whatever the fast path decodes, the tree decoder decodes the same, with
    /// no quirk. Returns whether the fast path took the message.
    fn agree(text: &str, options: &DecodeOptions) -> bool {
        let Some(fast) = decode(text, options) else {
            return false;
        };
        match decode_tree(text, Vec::new(), options) {
            Ok(d) => {
                assert!(
                    d.quirks.is_empty(),
                    "tree saw quirks {:?} in\n{text}",
                    d.quirks
                );
                assert_eq!(d.envelope, fast, "the decoders disagree on\n{text}");
            }
            Err(e) => panic!("the fast path accepted what the tree decoder refuses ({e}):\n{text}"),
        }
        true
    }

    #[test]
    fn an_encoded_inform_takes_the_fast_path_and_decodes_as_the_tree_does() {
        let text = typical();
        assert!(agree(&text, &DecodeOptions::default()));
        let fast = decode(&text, &DecodeOptions::default()).expect("fast");
        let Body::Inform(inform) = &fast.body else {
            panic!("not an Inform")
        };
        assert_eq!(inform.device_id.manufacturer, "Tether & Sons <Devices>");
        assert_eq!(inform.events[1].command_key, "reboot \"now\"");
        assert_eq!(inform.parameter_list[4].value.text, "  spaced\n  lines  ");
        assert_eq!(fast.header.id.as_deref(), Some("42"));
    }

    #[test]
    fn real_cpe_informs_decode_the_same_both_ways() {
        let mut took_fast = 0;
        for (name, text) in corpus() {
            let took = agree(&text, &DecodeOptions::default());
            let plain = matches!(tree(&text), Ok(d) if d.quirks.is_empty()
                && matches!(d.envelope.body, Body::Inform(_)));
            // Every quirk-free Inform of a real CPE in the corpus is what the fast path is for.
            assert_eq!(
                took, plain,
                "{name}: fast path {took}, plain Inform {plain}"
            );
            took_fast += usize::from(took);
        }
        assert!(took_fast >= 5, "only {took_fast} corpus Informs are plain");
    }

    #[test]
    fn limits_are_the_tree_decoders() {
        let text = typical();
        let shallow = DecodeOptions {
            max_depth: 5,
            ..DecodeOptions::default()
        };
        assert!(decode(&text, &shallow).is_none());
        assert!(tree(&text).is_ok());
        assert!(decode_tree(&text, Vec::new(), &shallow).is_err());
        let few = DecodeOptions {
            max_nodes: 40,
            ..DecodeOptions::default()
        };
        assert!(decode(&text, &few).is_none());
        assert!(decode_tree(&text, Vec::new(), &few).is_err());
    }

    #[test]
    fn anything_outside_the_grammar_is_left_to_the_tree_decoder() {
        let text = typical();
        let value = "<Value xsi:type=\"xsd:unsignedInt\">1234</Value>";
        assert!(text.contains(value));
        let cases = [
            text.replace(
                value,
                "<Value xsi:type=\"xsd:unsignedInt\"><![CDATA[1234]]></Value>",
            ),
            text.replace(
                value,
                "<Value xsi:type=\"xsd:unsignedInt\">12<!-- c -->34</Value>",
            ),
            text.replace(
                value,
                "<Value xsi:type=\"xsd:unsignedInt\">1234\r\n</Value>",
            ),
            text.replace(value, "<Value xsi:type=\"nope:unsignedInt\">1234</Value>"),
            text.replace(value, "<Value>1234</Value>"),
            text.replace(
                value,
                "<Value xsi:type=\"xsd:unsignedInt\"a=\"1\">1234</Value>",
            ),
            text.replace("cwmp-1-0", "cwmp-1-3"),
            text.replace(" soap-enc:arrayType=\"cwmp:ParameterValueStruct[5]\"", ""),
            text.replace("ParameterValueStruct[5]", "ParameterValueStruct[4]"),
            text.replace(
                "<MaxEnvelopes>1</MaxEnvelopes>",
                "<MaxEnvelopes>1</MaxEnvelopes><MaxEnvelopes>1</MaxEnvelopes>",
            ),
            text.replace("00A0C9", "00a0c9"),
            format!("<!DOCTYPE x>{text}"),
            format!("<?>{text}"),
            format!("<?xml version=\"1.1\"?>{text}"),
            text.replace("<cwmp:Inform>", "<cwmp:Inform >")
                .replace("</cwmp:Inform>", "</cwmp:inform>"),
            text.replace("1234", "12&#0;34"),
            text.replace("1234", "12\u{FFFF}34"),
        ];
        for case in &cases {
            assert_ne!(case, &text);
            assert!(
                decode(case, &DecodeOptions::default()).is_none(),
                "took:\n{case}"
            );
            // What the caller gets is the tree decoder's answer, quirks and errors included.
            let options = DecodeOptions::default();
            let public = decode_by(case.as_bytes(), None, &options, Path::FastWhenPlain);
            let by_tree = decode_by(case.as_bytes(), None, &options, Path::TreeOnly);
            assert_eq!(
                public.map_err(|e| e.to_string()),
                by_tree.map_err(|e| e.to_string())
            );
        }
    }

    /// A small deterministic generator (xorshift), so a failure names its seed.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            usize::try_from(self.next() % n as u64).unwrap_or(0)
        }
    }

    const PIECES: &[&str] = &[
        "<",
        ">",
        "/>",
        "</",
        "\"",
        "'",
        "=",
        " ",
        "\n",
        "\r\n",
        "\t",
        ":",
        "&amp;",
        "&lt;",
        "&#13;",
        "&#x41;",
        "&#X41;",
        "&bogus;",
        "&",
        "]]>",
        "<![CDATA[x]]>",
        "<!-- c -->",
        "<?pi x?>",
        "<!DOCTYPE a>",
        " a=\"1\"",
        "a=\"1\"",
        " xmlns:q=\"urn:q\"",
        " xmlns=\"\"",
        " xmlns:q=\"\"",
        " xmlns:xml=\"urn:x\"",
        "q:",
        "xsi:",
        " xsi:type=\"xsd:int\"",
        " xsi:type=\"q:int\"",
        " type=\"string\"",
        " SOAP-ENC:arrayType=\"x[1]\"",
        " arrayType=\"x[2]\"",
        "cwmp-1-3",
        "cwmp-1-2",
        "1",
        "-1",
        "99999999999",
        "\u{FFFE}",
        "\u{e9}",
        "Header",
        "Body",
        "ID",
        "Inform",
        "Event",
        "EventStruct",
        "EventCode",
        "Name",
        "Value",
        "ParameterList",
        "DeviceId",
        "OUI",
        "<Name>x</Name>",
        "<Value>v</Value>",
        "<cwmp:ID>7</cwmp:ID>",
        "<X/>",
        "</X>",
        "<?xml version=\"1.0\"?>",
        "\u{FEFF}",
    ];

    fn mutate(rng: &mut Rng, text: &str) -> String {
        let mut s = text.to_owned();
        for _ in 0..=rng.below(3) {
            let mut at = rng.below(s.len() + 1);
            while !s.is_char_boundary(at) {
                at -= 1;
            }
            match rng.below(4) {
                0 => s.insert_str(at, PIECES[rng.below(PIECES.len())]),
                1 => {
                    let mut end = (at + 1 + rng.below(12)).min(s.len());
                    while !s.is_char_boundary(end) {
                        end -= 1;
                    }
                    s.replace_range(at..end, "");
                }
                2 => {
                    let mut end = (at + 1 + rng.below(40)).min(s.len());
                    while !s.is_char_boundary(end) {
                        end -= 1;
                    }
                    let copy = s[at..end].to_owned();
                    s.insert_str(end, &copy);
                }
                _ => {
                    let mut end = (at + 1 + rng.below(8)).min(s.len());
                    while !s.is_char_boundary(end) {
                        end -= 1;
                    }
                    s.replace_range(at..end, PIECES[rng.below(PIECES.len())]);
                }
            }
        }
        s
    }

    #[test]
    fn mutated_informs_decode_the_same_both_ways_or_go_to_the_tree_decoder() {
        let mut seeds = vec![typical()];
        seeds.extend(corpus().into_iter().filter_map(|(_, t)| {
            matches!(tree(&t), Ok(d) if matches!(d.envelope.body, Body::Inform(_))).then_some(t)
        }));
        let mut rng = Rng(0x5eed_1234_abcd_0001);
        let (mut took, mut left) = (0u32, 0u32);
        for round in 0..30_000 {
            let seed = &seeds[round % seeds.len()];
            let text = mutate(&mut rng, seed);
            if agree(&text, &DecodeOptions::default()) {
                took += 1;
            } else {
                left += 1;
            }
        }
        // Both sides of the contract were exercised.
        assert!(
            took > 1_000,
            "only {took} mutated messages took the fast path"
        );
        assert!(left > 1_000, "only {left} mutated messages left it");
    }
}
