//! Generator of the compact schema (`schema/tr-181-2-17-0-tether.txt`) from the Broadband Forum
//! TR-181 XML. Test-only: the runtime never sees the XML.
//!
//! The subset is chosen by [`SELECTION`]; named data types are resolved to their primitive plus
//! merged facets; deleted/obsoleted items are dropped; `…NumberOfEntries` parameters whose table
//! is outside the subset are dropped too.

use std::collections::{HashMap, HashSet};

use roxmltree::{Document, Node};

/// The BBF file the vendored schema is generated from.
pub const SOURCE_FILE: &str = "tr-181-2-17-0-cwmp-full.xml";

/// `(schema path, whole subtree?)`: the objects the agent serves.
const SELECTION: &[(&str, bool)] = &[
    ("Device.", false),
    ("Device.DeviceInfo.", false),
    ("Device.DeviceInfo.MemoryStatus.", true),
    ("Device.DeviceInfo.ProcessStatus.", true),
    ("Device.ManagementServer.", true),
    ("Device.Time.", false),
    ("Device.Ethernet.", false),
    ("Device.Ethernet.Interface.{i}.", true),
    ("Device.IP.", false),
    ("Device.IP.Interface.{i}.", false),
    ("Device.IP.Interface.{i}.IPv4Address.{i}.", true),
    ("Device.IP.Interface.{i}.IPv6Address.{i}.", true),
    ("Device.IP.Interface.{i}.Stats.", true),
    ("Device.Hosts.", false),
    ("Device.Hosts.Host.{i}.", true),
    ("Device.DNS.", false),
    ("Device.DNS.Client.", true),
];

fn selected(path: &str) -> bool {
    SELECTION
        .iter()
        .any(|(p, subtree)| path == *p || (*subtree && path.starts_with(p)))
}

fn gone(n: Node<'_, '_>) -> bool {
    matches!(n.attribute("status"), Some("deleted" | "obsoleted"))
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '|' => out.push_str("\\|"),
            other => out.push(other),
        }
    }
    out
}

const PRIMITIVES: &[&str] = &[
    "string",
    "int",
    "unsignedInt",
    "long",
    "unsignedLong",
    "boolean",
    "dateTime",
    "base64",
    "hexBinary",
    "decimal",
];

/// Facets gathered while resolving a syntax; later (more derived) sources replace earlier ones.
#[derive(Default, Clone)]
struct Facets {
    len: Option<String>,
    ranges: Option<Vec<String>>,
    enums: Option<Vec<String>>,
    patterns: Option<Vec<String>>,
}

impl Facets {
    /// Reads the facet children of `el` over `self`.
    fn absorb(&mut self, el: Node<'_, '_>) {
        let kids: Vec<_> = el
            .children()
            .filter(|c| c.is_element() && !gone(*c))
            .collect();
        fn named<'k, 'a, 'i>(
            kids: &'k [Node<'a, 'i>],
            n: &'static str,
        ) -> impl Iterator<Item = &'k Node<'a, 'i>> {
            kids.iter().filter(move |c| c.tag_name().name() == n)
        }
        if let Some(size) = named(&kids, "size").last() {
            let lo = size.attribute("minLength").unwrap_or("");
            let hi = size.attribute("maxLength").unwrap_or("");
            self.len = Some(format!("{lo}..{hi}"));
        }
        let ranges: Vec<String> = named(&kids, "range")
            .map(|r| {
                let lo = r.attribute("minInclusive").unwrap_or("");
                let hi = r.attribute("maxInclusive").unwrap_or("");
                match r.attribute("step") {
                    Some(st) => format!("{lo}..{hi}/{st}"),
                    None => format!("{lo}..{hi}"),
                }
            })
            .collect();
        if !ranges.is_empty() {
            self.ranges = Some(ranges);
        }
        let enums: Vec<String> = named(&kids, "enumeration")
            .filter_map(|e| e.attribute("value").map(str::to_owned))
            .collect();
        if !enums.is_empty() {
            self.enums = Some(enums);
        }
        let pats: Vec<String> = named(&kids, "pattern")
            .filter_map(|e| e.attribute("value").map(str::to_owned))
            .collect();
        if !pats.is_empty() {
            self.patterns = Some(pats);
        }
    }
}

/// Resolves a named data type to `(primitive, facets)`.
fn resolve_type(types: &HashMap<&str, Node<'_, '_>>, name: &str) -> (String, Facets) {
    let def = *types
        .get(name)
        .unwrap_or_else(|| panic!("unknown dataType {name}"));
    let (prim, mut facets) = match def.attribute("base") {
        Some(base) => resolve_type(types, base),
        None => {
            let el = def
                .children()
                .find(|c| c.is_element() && PRIMITIVES.contains(&c.tag_name().name()))
                .unwrap_or_else(|| panic!("dataType {name} without primitive"));
            let mut f = Facets::default();
            f.absorb(el);
            (el.tag_name().name().to_owned(), f)
        }
    };
    facets.absorb(def);
    (prim, facets)
}

fn param_line(types: &HashMap<&str, Node<'_, '_>>, p: Node<'_, '_>) -> String {
    let name = p.attribute("name").expect("parameter name");
    let syntax = p
        .children()
        .find(|c| c.has_tag_name("syntax"))
        .unwrap_or_else(|| panic!("{name} without syntax"));
    let mut list_facets = Vec::new();
    let mut is_list = false;
    let mut prim = None;
    let mut facets = Facets::default();
    let mut default = None;
    for el in syntax.children().filter(Node::is_element) {
        match el.tag_name().name() {
            "list" => {
                is_list = true;
                let lo = el.attribute("minItems").unwrap_or("");
                let hi = el.attribute("maxItems").unwrap_or("");
                if !lo.is_empty() || !hi.is_empty() {
                    list_facets.push(format!("items={lo}..{hi}"));
                }
                if let Some(size) = el.children().find(|c| c.has_tag_name("size"))
                    && let Some(max) = size.attribute("maxLength")
                {
                    list_facets.push(format!("llen={max}"));
                }
            }
            "dataType" => {
                let (pr, mut f) = resolve_type(types, el.attribute("ref").expect("dataType ref"));
                f.absorb(el);
                prim = Some(pr);
                facets = f;
            }
            "default" => {
                if matches!(el.attribute("type"), Some("object" | "factory") | None) {
                    default = el.attribute("value").map(str::to_owned);
                }
            }
            tag if PRIMITIVES.contains(&tag) => {
                prim = Some(tag.to_owned());
                facets.absorb(el);
            }
            other => panic!("{name}: unexpected syntax element {other}"),
        }
    }
    let prim = prim.unwrap_or_else(|| panic!("{name}: no type"));
    let access = match p.attribute("access") {
        Some("readWrite") => "W",
        Some("writeOnceReadOnly") => "O",
        _ => "R",
    };
    let mut flags = String::new();
    if p.attribute("forcedInform") == Some("true") {
        flags.push('F');
    }
    if syntax.attribute("hidden") == Some("true") || syntax.attribute("secured") == Some("true") {
        flags.push('H');
    }
    match p.attribute("activeNotify") {
        Some("forceEnabled") => flags.push('E'),
        Some("forceDefaultEnabled") => flags.push('D'),
        Some("canDeny") => flags.push('C'),
        _ => {}
    }
    if flags.is_empty() {
        flags.push('-');
    }
    let ty = if is_list {
        format!("list:{prim}")
    } else {
        prim
    };
    let mut line = format!("P\t{name}\t{ty}\t{access}\t{flags}");
    if let Some(len) = facets.len {
        line.push_str(&format!("\tlen={len}"));
    }
    for r in facets.ranges.unwrap_or_default() {
        line.push_str(&format!("\trange={r}"));
    }
    if let Some(e) = facets.enums {
        let joined: Vec<String> = e.iter().map(|v| escape(v)).collect();
        line.push_str(&format!("\tenum={}", joined.join("|")));
    }
    for pat in facets.patterns.unwrap_or_default() {
        line.push_str(&format!("\tpat={}", escape(&pat)));
    }
    for lf in list_facets {
        line.push('\t');
        line.push_str(&lf);
    }
    if let Some(d) = default {
        line.push_str(&format!("\tdef={}", escape(&d)));
    }
    line
}

/// Produces the compact schema text from the BBF TR-181 XML.
pub fn generate(xml: &str) -> String {
    let doc = Document::parse_with_options(
        xml,
        roxmltree::ParsingOptions {
            allow_dtd: false,
            nodes_limit: u32::MAX,
            ..Default::default()
        },
    )
    .expect("BBF XML parses");
    let license = doc
        .root()
        .children()
        .find(Node::is_comment)
        .and_then(|c| c.text())
        .expect("license comment at the top of the BBF file");
    let root = doc.root_element();
    let types: HashMap<&str, Node<'_, '_>> = root
        .children()
        .filter(|c| c.has_tag_name("dataType"))
        .filter_map(|c| c.attribute("name").map(|n| (n, c)))
        .collect();
    let model = root
        .children()
        .find(|c| c.has_tag_name("model"))
        .expect("model element");
    let objects: Vec<Node<'_, '_>> = model
        .children()
        .filter(|c| c.has_tag_name("object") && !gone(*c))
        .collect();
    let kept: HashSet<&str> = objects
        .iter()
        .filter_map(|o| o.attribute("name"))
        .filter(|n| selected(n))
        .collect();
    // (parent path + count parameter name) of tables outside the subset.
    let mut dropped_counts = HashSet::new();
    for o in &objects {
        let name = o.attribute("name").expect("object name");
        if let Some(num) = o.attribute("numEntriesParameter")
            && !kept.contains(name)
        {
            let body = name.trim_end_matches('.').trim_end_matches(".{i}");
            let parent = &body[..=body.rfind('.').expect("table has a parent")];
            dropped_counts.insert(format!("{parent}{num}"));
        }
    }

    let mut out = String::new();
    out.push_str(
        "# Compact schema (tether-schema/1) generated by crates/datamodel/tests/schema_gen\n",
    );
    out.push_str(&format!(
        "# from {SOURCE_FILE} (Broadband Forum). Do not edit by hand; regenerate with\n"
    ));
    out.push_str("#   cargo test -p tether-datamodel --test datamodel -- --ignored regenerate\n");
    out.push_str("# The Broadband Forum licence of the source, retained as it requires:\n#\n");
    for l in license.trim_matches('\n').lines() {
        let l = l.strip_prefix("  ").unwrap_or(l);
        if l.is_empty() {
            out.push_str("#\n");
        } else {
            out.push_str(&format!("# {l}\n"));
        }
    }
    out.push_str("#\n");
    let model_name = model.attribute("name").unwrap_or("?");
    out.push_str(&format!("# model {model_name}\n"));
    for o in &objects {
        let name = o.attribute("name").expect("object name");
        if !kept.contains(name) {
            continue;
        }
        let body = name.trim_end_matches('.').trim_end_matches(".{i}");
        if let Some(dot) = body.rfind('.') {
            let parent = &name[..=dot];
            assert!(kept.contains(parent), "{name} selected without {parent}");
        }
        let access = if o.attribute("access") == Some("readWrite") {
            "W"
        } else {
            "R"
        };
        let min = o.attribute("minEntries").unwrap_or("1");
        let max = match o.attribute("maxEntries").unwrap_or("1") {
            "unbounded" => "-",
            m => m,
        };
        let mut line = format!("O\t{name}\t{access}\t{min}\t{max}");
        if let Some(num) = o.attribute("numEntriesParameter") {
            line.push_str(&format!("\tnum={num}"));
        }
        out.push_str(&line);
        out.push('\n');
        for p in o
            .children()
            .filter(|c| c.has_tag_name("parameter") && !gone(*c))
        {
            let pname = p.attribute("name").expect("parameter name");
            if dropped_counts.contains(&format!("{name}{pname}")) {
                continue;
            }
            out.push_str(&param_line(&types, p));
            out.push('\n');
        }
    }
    out
}
