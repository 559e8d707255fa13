//! Human output of `tether ctl`: aligned tables for listings, `key: value` blocks for single
//! objects. (`--json` bypasses all of this and prints the server's JSON.)

use serde_json::Value;

/// A JSON value as a table cell: strings bare, null and absent as `-`.
pub fn cell(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) if s.is_empty() => "-".into(),
        Value::String(s) => s.clone(),
        Value::Bool(true) => "yes".into(),
        Value::Bool(false) => "no".into(),
        Value::Array(items) if items.is_empty() => "-".into(),
        Value::Array(items) => items.iter().map(cell).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

/// Renders rows under headers, columns separated by two spaces, the last one unpadded.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, c) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(c.chars().count());
            }
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut text = String::new();
        for (i, c) in cells.enumerate() {
            if i > 0 {
                text.push_str("  ");
            }
            text.push_str(c);
            if i + 1 < widths.len() {
                let pad = widths[i].saturating_sub(c.chars().count());
                text.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&mut headers.iter().copied());
    for row in rows {
        line(&mut row.iter().map(String::as_str));
    }
    out
}

/// Renders `label: value` lines with the values aligned.
pub fn fields(pairs: &[(&str, String)]) -> String {
    let width = pairs
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for (k, v) in pairs {
        let pad = width - k.chars().count();
        out.push_str(&format!("{k}:{}  {v}\n", " ".repeat(pad)));
    }
    out
}

/// The `label: value` pairs of the given keys of an object.
pub fn object_fields(obj: &Value, keys: &[(&str, &str)]) -> String {
    let pairs: Vec<(&str, String)> = keys
        .iter()
        .map(|(label, key)| (*label, cell(&obj[*key])))
        .collect();
    fields(&pairs)
}

/// Rows of a listing's `items` by key.
pub fn rows(items: &Value, keys: &[&str]) -> Vec<Vec<String>> {
    items
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|item| keys.iter().map(|k| cell(&item[*k])).collect())
                .collect()
        })
        .unwrap_or_default()
}

/// Indents every line of `text` by `n` spaces.
pub fn indent(text: &str, n: usize) -> String {
    let pad = " ".repeat(n);
    text.lines()
        .map(|l| format!("{pad}{l}\n"))
        .collect::<String>()
}

/// A note under a listing when it shows only part of the total.
pub fn page_note(listing: &Value) -> Option<String> {
    let shown = listing["items"].as_array().map_or(0, Vec::len) as u64;
    let total = listing["total"].as_u64()?;
    let offset = listing["offset"].as_u64().unwrap_or(0);
    (shown < total).then(|| {
        if shown == 0 {
            format!("(none at offset {offset}; {total} in all)")
        } else {
            format!(
                "(showing {} to {} of {total}; see --limit and --offset)",
                offset + 1,
                offset + shown
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tables_align_columns_and_trim_the_last() {
        let t = table(
            &["ID", "NAME", "STATE"],
            &[
                vec!["1".into(), "a-long-name".into(), "pending".into()],
                vec!["22".into(), "b".into(), "-".into()],
            ],
        );
        assert_eq!(
            t,
            "ID  NAME         STATE\n1   a-long-name  pending\n22  b            -\n"
        );
    }

    #[test]
    fn cells_show_absent_values_as_a_dash() {
        assert_eq!(cell(&json!(null)), "-");
        assert_eq!(cell(&json!("")), "-");
        assert_eq!(cell(&json!(true)), "yes");
        assert_eq!(cell(&json!(["a", "b"])), "a,b");
        assert_eq!(cell(&json!(7)), "7");
    }

    #[test]
    fn fields_align_values() {
        assert_eq!(
            fields(&[("id", "1".into()), ("serial", "SN".into())]),
            "id:      1\nserial:  SN\n"
        );
    }

    #[test]
    fn partial_pages_are_noted() {
        let full = json!({"items": [1, 2], "total": 2, "offset": 0});
        assert_eq!(page_note(&full), None);
        let part = json!({"items": [1, 2], "total": 5, "offset": 2});
        assert_eq!(
            page_note(&part).unwrap(),
            "(showing 3 to 4 of 5; see --limit and --offset)"
        );
    }
}
