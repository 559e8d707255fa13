//! A minimal XML writer for the encoder: elements, attributes and text with the escaping rules
//! of ENV-12 (markup characters escaped, everything outside printable ASCII written as a
//! character reference, characters XML 1.0 forbids replaced by U+FFFD so output stays
//! well-formed). No namespace logic: the encoder writes fixed, declared prefixes.

/// Appends XML to a `String`.
pub(crate) struct XmlWriter {
    out: String,
}

impl XmlWriter {
    pub(crate) fn with_capacity(n: usize) -> Self {
        Self {
            out: String::with_capacity(n),
        }
    }

    pub(crate) fn raw(&mut self, s: &str) {
        self.out.push_str(s);
    }

    /// `<name attr="v" ...>`
    pub(crate) fn open_attrs(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.out.push('<');
        self.out.push_str(name);
        for (k, v) in attrs {
            self.out.push(' ');
            self.out.push_str(k);
            self.out.push_str("=\"");
            escape_into(v, &mut self.out);
            self.out.push('"');
        }
        self.out.push('>');
    }

    pub(crate) fn open(&mut self, name: &str) {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push('>');
    }

    pub(crate) fn close(&mut self, name: &str) {
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
    }

    /// `<name>text</name>`
    pub(crate) fn leaf(&mut self, name: &str, text: &str) {
        self.open(name);
        escape_into(text, &mut self.out);
        self.close(name);
    }

    /// `<name attrs>text</name>`
    pub(crate) fn leaf_attrs(&mut self, name: &str, attrs: &[(&str, &str)], text: &str) {
        self.open_attrs(name, attrs);
        escape_into(text, &mut self.out);
        self.close(name);
    }

    /// `<name/>`
    pub(crate) fn empty(&mut self, name: &str) {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push_str("/>");
    }

    pub(crate) fn finish(self) -> String {
        self.out
    }
}

/// Escapes text or an attribute value (ENV-12).
pub(crate) fn escape_into(text: &str, out: &mut String) {
    // Fast path: nothing to escape.
    if text
        .bytes()
        .all(|b| (0x20..0x7F).contains(&b) && !matches!(b, b'&' | b'<' | b'>' | b'"' | b'\''))
    {
        out.push_str(text);
        return;
    }
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            ' '..='~' => out.push(c),
            '\u{0}'..='\u{1F}' | '\u{FFFE}' | '\u{FFFF}' => out.push_str("&#xFFFD;"),
            other => {
                use std::fmt::Write as _;
                let _ = write!(out, "&#x{:X};", u32::from(other));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_12_escapes_markup_non_ascii_and_forbidden_characters() {
        let mut s = String::new();
        escape_into("a&b<c>\"d'é\u{2}\r\n€", &mut s);
        assert_eq!(
            s,
            "a&amp;b&lt;c&gt;&quot;d&apos;&#xE9;&#xFFFD;&#13;&#10;&#x20AC;"
        );
    }
}
