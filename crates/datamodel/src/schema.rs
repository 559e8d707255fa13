//! The data-model schema: objects, tables and parameters with their syntax, access and
//! notification rules, read from the compact text form vendored in `schema/`.
//!
//! Owns [`Schema`] and its node types, and the compact format parser. The compact file is
//! produced from the Broadband Forum TR-181 XML by the generator in `tests/schema_gen/` and
//! embedded with `include_str!`; [`Schema::builtin`] parses it once per process and every
//! [`crate::DataModel`] shares it through an `Arc`.
//!
//! # Compact format (`tether-schema/1`)
//!
//! One node per line, fields separated by TAB; `#` starts a comment line.
//!
//! * `O <path> <R|W> <minEntries> <maxEntries|-> [num=<param>] [enable=<param>]` declares an
//!   object by its schema path (`Device.IP.Interface.{i}.`). `W` on a table means AddObject /
//!   DeleteObject are allowed. `num` names the parameter of the parent object that counts it.
//! * `P <name> <type> <R|W|O> <flags> [key=value]...` declares a parameter of the last object.
//!   `type` is a primitive (`unsignedInt`) or `list:<primitive>`; access `O` is
//!   writeOnceReadOnly; flags are `-` or letters: `F` forcedInform, `H` hidden/secured,
//!   `E` activeNotify forceEnabled, `D` forceDefaultEnabled, `C` canDeny. Keys: `len=min..max`,
//!   `range=min..max[/step]` (repeatable), `enum=a|b|c`, `pat=<regex>` (repeatable),
//!   `items=min..max`, `llen=<max list length>`, `def=<default>`.
//!
//! Values escape `\` as `\\`, TAB as `\t`, newline as `\n` and `|` as `\|`.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use thiserror::Error;

use crate::syntax::{ListFacet, Range, Syntax};
use crate::value::{Primitive, Value};

/// The vendored compact schema: the TR-181 Device:2.17 subset the agent serves.
pub const BUILTIN_SCHEMA_TEXT: &str = include_str!("../schema/tr-181-2-17-0-tether.txt");

/// Index of a node in its [`Schema`].
pub type NodeId = u32;

/// Parameter access as declared in the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// `readOnly`
    ReadOnly,
    /// `readWrite`
    ReadWrite,
    /// `writeOnceReadOnly` (Alias): writable while unset or still CPE-assigned (`cpe-…`).
    WriteOnce,
}

/// The data-model `activeNotify` attribute (DM-09).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ActiveNotify {
    /// Notification off by default; may be set to anything.
    #[default]
    Normal,
    /// Always active; requests to change it are refused with 9009.
    ForceEnabled,
    /// Active by default; may be turned off.
    ForceDefaultEnabled,
    /// The CPE may refuse active notification (9009).
    CanDeny,
}

/// An object (single-instance or table entry) definition.
#[derive(Debug, Clone)]
pub struct ObjectDef {
    /// `true` if the path ends with `{i}.` (a multi-instance table entry).
    pub table: bool,
    /// For tables: AddObject / DeleteObject allowed (RPC-04).
    pub writable: bool,
    /// `minEntries` from the schema.
    pub min_entries: u32,
    /// `maxEntries`; `None` = unbounded.
    pub max_entries: Option<u32>,
    /// The parameters, in schema order.
    pub params: Vec<NodeId>,
    /// The child objects and tables, in schema order.
    pub objects: Vec<NodeId>,
    /// The parent's parameter that counts the entries of this table.
    pub num_entries_param: Option<NodeId>,
}

/// A parameter definition.
#[derive(Debug, Clone)]
pub struct ParamDef {
    /// Type and facets.
    pub syntax: Syntax,
    /// Access.
    pub access: Access,
    /// Sent in every Inform (§3.3).
    pub forced_inform: bool,
    /// Reads back as an empty string (RPC-07).
    pub hidden: bool,
    /// Notification policy.
    pub active_notify: ActiveNotify,
    /// Schema default (object or factory default).
    pub default: Option<Value>,
    /// Position among its object's parameters.
    pub index: u16,
    /// For `…NumberOfEntries`: the table entry object it counts.
    pub counts: Option<NodeId>,
}

/// What a node is.
#[derive(Debug, Clone)]
pub enum NodeKind {
    /// An object or table entry.
    Object(ObjectDef),
    /// A parameter.
    Parameter(ParamDef),
}

/// One schema node.
#[derive(Debug, Clone)]
pub struct Node {
    /// Schema path (`Device.IP.Interface.{i}.` or `Device.IP.Interface.{i}.Enable`).
    pub path: Box<str>,
    /// The name as seen from the parent (`Interface`, `Enable`); `Device` for the root.
    pub name: Box<str>,
    /// The parent object.
    pub parent: Option<NodeId>,
    /// Object or parameter.
    pub kind: NodeKind,
}

impl Node {
    /// The object definition, if this is an object.
    pub fn object(&self) -> Option<&ObjectDef> {
        match &self.kind {
            NodeKind::Object(o) => Some(o),
            NodeKind::Parameter(_) => None,
        }
    }

    /// The parameter definition, if this is a parameter.
    pub fn param(&self) -> Option<&ParamDef> {
        match &self.kind {
            NodeKind::Parameter(p) => Some(p),
            NodeKind::Object(_) => None,
        }
    }
}

/// A compact schema that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("schema line {line}: {message}")]
pub struct SchemaError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// A parsed schema, shared between data models.
#[derive(Debug)]
pub struct Schema {
    nodes: Vec<Node>,
    index: HashMap<Box<str>, NodeId>,
    forced_inform: Vec<NodeId>,
}

impl Schema {
    /// The built-in TR-181 subset, parsed on first use and shared afterwards.
    pub fn builtin() -> Arc<Schema> {
        static BUILTIN: OnceLock<Arc<Schema>> = OnceLock::new();
        BUILTIN
            .get_or_init(|| {
                Arc::new(Schema::parse(BUILTIN_SCHEMA_TEXT).unwrap_or_else(|e| {
                    panic!("the vendored schema is checked by tests and must parse: {e}")
                }))
            })
            .clone()
    }

    /// Parses a compact schema. Vendor extensions can be appended to
    /// [`BUILTIN_SCHEMA_TEXT`] and parsed together.
    pub fn parse(text: &str) -> Result<Schema, SchemaError> {
        let mut schema = Schema {
            nodes: Vec::new(),
            index: HashMap::new(),
            forced_inform: Vec::new(),
        };
        let mut current: Option<NodeId> = None;
        let mut pending_num: Vec<(NodeId, String, usize)> = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let lineno = i + 1;
            let err = |message: String| SchemaError {
                line: lineno,
                message,
            };
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fields: Vec<&str> = line.split('\t').collect();
            match fields[0] {
                "O" => {
                    let id = schema.add_object(&fields).map_err(err)?;
                    for kv in &fields[5.min(fields.len())..] {
                        if let Some(name) = kv.strip_prefix("num=") {
                            pending_num.push((id, unescape(name), lineno));
                        }
                    }
                    current = Some(id);
                }
                "P" => {
                    let obj = current.ok_or_else(|| err("parameter before any object".into()))?;
                    let id = schema.add_param(obj, &fields).map_err(err)?;
                    if let Some(p) = schema.nodes[id as usize].param()
                        && p.forced_inform
                    {
                        schema.forced_inform.push(id);
                    }
                }
                other => return Err(err(format!("unknown line kind {other:?}"))),
            }
        }
        for (table, name, line) in pending_num {
            let parent = schema.nodes[table as usize].parent;
            let parent_path = parent.map(|p| schema.nodes[p as usize].path.to_string());
            let param_path = format!("{}{name}", parent_path.unwrap_or_default());
            let pid = schema.index.get(param_path.as_str()).copied();
            // A count parameter may be absent from a subset; then the table is simply uncounted.
            if let Some(pid) = pid {
                let NodeKind::Parameter(p) = &mut schema.nodes[pid as usize].kind else {
                    return Err(SchemaError {
                        line,
                        message: format!("{param_path} is not a parameter"),
                    });
                };
                p.counts = Some(table);
                if let NodeKind::Object(o) = &mut schema.nodes[table as usize].kind {
                    o.num_entries_param = Some(pid);
                }
            }
        }
        if schema.nodes.is_empty() {
            return Err(SchemaError {
                line: 0,
                message: "no objects".into(),
            });
        }
        Ok(schema)
    }

    fn push(&mut self, node: Node) -> Result<NodeId, String> {
        let id = NodeId::try_from(self.nodes.len()).map_err(|_| "too many nodes".to_owned())?;
        if self.index.insert(node.path.clone(), id).is_some() {
            return Err(format!("duplicate path {}", node.path));
        }
        self.nodes.push(node);
        Ok(id)
    }

    fn add_object(&mut self, f: &[&str]) -> Result<NodeId, String> {
        if f.len() < 5 {
            return Err("object line needs 5 fields".into());
        }
        let path = f[1];
        if !path.ends_with('.') {
            return Err(format!("object path {path} must end with '.'"));
        }
        let body = &path[..path.len() - 1];
        let table = body.ends_with(".{i}");
        let body = body.strip_suffix(".{i}").unwrap_or(body);
        let (parent_path, name) = match body.rfind('.') {
            Some(dot) => (Some(&path[..=dot]), &body[dot + 1..]),
            None => (None, body),
        };
        let parent = match parent_path {
            Some(pp) => Some(
                *self
                    .index
                    .get(pp)
                    .ok_or_else(|| format!("parent {pp} of {path} not declared before it"))?,
            ),
            None if self.nodes.is_empty() => None,
            None => return Err(format!("second root {path}")),
        };
        let writable = match f[2] {
            "R" => false,
            "W" => true,
            other => return Err(format!("bad object access {other}")),
        };
        let min_entries = f[3]
            .parse()
            .map_err(|_| format!("bad minEntries {}", f[3]))?;
        let max_entries = match f[4] {
            "-" => None,
            n => Some(n.parse().map_err(|_| format!("bad maxEntries {n}"))?),
        };
        let id = self.push(Node {
            path: path.into(),
            name: name.into(),
            parent,
            kind: NodeKind::Object(ObjectDef {
                table,
                writable: writable && table,
                min_entries,
                max_entries,
                params: Vec::new(),
                objects: Vec::new(),
                num_entries_param: None,
            }),
        })?;
        if let Some(p) = parent
            && let NodeKind::Object(o) = &mut self.nodes[p as usize].kind
        {
            o.objects.push(id);
        }
        Ok(id)
    }

    fn add_param(&mut self, obj: NodeId, f: &[&str]) -> Result<NodeId, String> {
        if f.len() < 5 {
            return Err("parameter line needs 5 fields".into());
        }
        let name = f[1];
        let (list, prim) = match f[2].strip_prefix("list:") {
            Some(p) => (Some(ListFacet::default()), p),
            None => (None, f[2]),
        };
        let primitive = Primitive::from_name(prim).ok_or_else(|| format!("bad type {prim}"))?;
        let access = match f[3] {
            "R" => Access::ReadOnly,
            "W" => Access::ReadWrite,
            "O" => Access::WriteOnce,
            other => return Err(format!("bad access {other}")),
        };
        let flags = if f[4] == "-" { "" } else { f[4] };
        let mut active_notify = ActiveNotify::Normal;
        let (mut forced_inform, mut hidden) = (false, false);
        for c in flags.chars() {
            match c {
                'F' => forced_inform = true,
                'H' => hidden = true,
                'E' => active_notify = ActiveNotify::ForceEnabled,
                'D' => active_notify = ActiveNotify::ForceDefaultEnabled,
                'C' => active_notify = ActiveNotify::CanDeny,
                other => return Err(format!("bad flag {other}")),
            }
        }
        let mut syntax = Syntax {
            list,
            ..Syntax::plain(primitive)
        };
        let mut ranges = Vec::new();
        let mut patterns = Vec::new();
        let mut default_text = None;
        for kv in &f[5..] {
            let (key, raw) = kv
                .split_once('=')
                .ok_or_else(|| format!("bad facet {kv}"))?;
            match key {
                "len" => {
                    let (lo, hi) = bounds(raw)?;
                    syntax.min_length = lo.map(to_u32).transpose()?;
                    syntax.max_length = hi.map(to_u32).transpose()?;
                }
                "range" => {
                    let (span, step) = match raw.split_once('/') {
                        Some((s, st)) => (s, Some(st.parse().map_err(|_| "bad step")?)),
                        None => (raw, None),
                    };
                    let (min, max) = bounds(span)?;
                    ranges.push(Range { min, max, step });
                }
                "enum" => {
                    syntax.enumeration = split_escaped(raw).into_iter().map(Into::into).collect();
                }
                "pat" => patterns.push(unescape(raw).into_boxed_str()),
                "items" => {
                    let (lo, hi) = bounds(raw)?;
                    let l = syntax.list.get_or_insert_with(ListFacet::default);
                    l.min_items = lo.map(to_u32).transpose()?.unwrap_or(0);
                    l.max_items = hi.map(to_u32).transpose()?;
                }
                "llen" => {
                    let l = syntax.list.get_or_insert_with(ListFacet::default);
                    l.max_length = Some(raw.parse().map_err(|_| "bad llen")?);
                }
                "def" => default_text = Some(unescape(raw)),
                other => return Err(format!("unknown facet {other}")),
            }
        }
        syntax.ranges = ranges.into();
        syntax.patterns = patterns.into();
        let default = match default_text {
            // Schema defaults are sometimes outside the facets (e.g. "" for an enumeration);
            // they are kept as the plain primitive.
            Some(t) if syntax.list.is_some() => Some(Value::String(t.into())),
            Some(t) => Some(primitive.parse(&t).map_err(|e| format!("default: {e}"))?),
            None => None,
        };
        let obj_path = self.nodes[obj as usize].path.clone();
        let NodeKind::Object(o) = &self.nodes[obj as usize].kind else {
            return Err("parameter parent is not an object".into());
        };
        let index = u16::try_from(o.params.len()).map_err(|_| "too many parameters")?;
        let id = self.push(Node {
            path: format!("{obj_path}{name}").into(),
            name: name.into(),
            parent: Some(obj),
            kind: NodeKind::Parameter(ParamDef {
                syntax,
                access,
                forced_inform,
                hidden,
                active_notify,
                default,
                index,
                counts: None,
            }),
        })?;
        if let NodeKind::Object(o) = &mut self.nodes[obj as usize].kind {
            o.params.push(id);
        }
        Ok(id)
    }

    /// The root object (`Device.`).
    pub fn root(&self) -> NodeId {
        0
    }

    /// A node by id.
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id as usize]
    }

    /// A node by schema path (`Device.IP.Interface.{i}.Enable`).
    pub fn lookup(&self, schema_path: &str) -> Option<NodeId> {
        self.index.get(schema_path).copied()
    }

    /// The object definition of `id`; panics if `id` is a parameter (internal use).
    pub(crate) fn obj(&self, id: NodeId) -> &ObjectDef {
        match &self.nodes[id as usize].kind {
            NodeKind::Object(o) => o,
            NodeKind::Parameter(_) => panic!("node {id} is not an object"),
        }
    }

    /// The parameter definition of `id`; panics if `id` is an object (internal use).
    pub(crate) fn param(&self, id: NodeId) -> &ParamDef {
        match &self.nodes[id as usize].kind {
            NodeKind::Parameter(p) => p,
            NodeKind::Object(_) => panic!("node {id} is not a parameter"),
        }
    }

    /// Parameters with `forcedInform="true"`, in schema order (§3.3).
    pub fn forced_inform(&self) -> &[NodeId] {
        &self.forced_inform
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// `true` if there are no nodes (never, for a parsed schema).
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// All nodes in schema order.
    pub fn nodes(&self) -> impl Iterator<Item = (NodeId, &Node)> {
        self.nodes.iter().enumerate().map(|(i, n)| (i as NodeId, n))
    }
}

fn to_u32(v: i128) -> Result<u32, String> {
    u32::try_from(v).map_err(|_| format!("{v} out of range"))
}

fn bounds(raw: &str) -> Result<(Option<i128>, Option<i128>), String> {
    let (lo, hi) = raw
        .split_once("..")
        .ok_or_else(|| format!("bad bounds {raw}"))?;
    let num = |s: &str| -> Result<Option<i128>, String> {
        if s.is_empty() {
            Ok(None)
        } else {
            s.parse().map(Some).map_err(|_| format!("bad number {s}"))
        }
    };
    Ok((num(lo)?, num(hi)?))
}

/// Reverses the compact-format escaping.
pub(crate) fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('t') => out.push('\t'),
                Some('n') => out.push('\n'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn split_escaped(raw: &str) -> Vec<String> {
    let mut items = vec![String::new()];
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let last = items.last_mut().expect("never empty");
                match chars.next() {
                    Some('t') => last.push('\t'),
                    Some('n') => last.push('\n'),
                    Some(other) => last.push(other),
                    None => last.push('\\'),
                }
            }
            '|' => items.push(String::new()),
            other => items.last_mut().expect("never empty").push(other),
        }
    }
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = "# test\n\
O\tDevice.\tR\t1\t1\n\
P\tRootDataModelVersion\tstring\tR\tF\tlen=..32\n\
P\tThingNumberOfEntries\tunsignedInt\tR\t-\n\
O\tDevice.Thing.{i}.\tW\t0\t4\tnum=ThingNumberOfEntries\n\
P\tMode\tstring\tW\tC\tenum=A|B\\|C\tdef=A\n\
P\tLevels\tlist:unsignedInt\tW\t-\trange=1..10\titems=..3\n";

    #[test]
    fn parses_objects_params_and_facets() {
        let s = Schema::parse(SMALL).unwrap();
        let table = s.lookup("Device.Thing.{i}.").unwrap();
        let o = s.node(table).object().unwrap();
        assert!(o.table && o.writable);
        assert_eq!(o.max_entries, Some(4));
        let count = s.lookup("Device.ThingNumberOfEntries").unwrap();
        assert_eq!(o.num_entries_param, Some(count));
        assert_eq!(s.param(count).counts, Some(table));
        let mode = s.param(s.lookup("Device.Thing.{i}.Mode").unwrap());
        assert_eq!(&*mode.syntax.enumeration[1], "B|C");
        assert_eq!(mode.active_notify, ActiveNotify::CanDeny);
        assert_eq!(mode.default, Some(Value::string("A")));
        let levels = s.param(s.lookup("Device.Thing.{i}.Levels").unwrap());
        assert_eq!(levels.syntax.list.unwrap().max_items, Some(3));
        assert!(levels.syntax.parse("1,2,10").is_ok());
        assert!(levels.syntax.parse("1,11").is_err());
        assert_eq!(s.forced_inform().len(), 1);
    }

    #[test]
    fn rejects_orphans_and_bad_lines() {
        let e = Schema::parse("O\tDevice.\tR\t1\t1\nO\tDevice.A.B.\tR\t1\t1\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(Schema::parse("P\tX\tstring\tR\t-\n").is_err());
        assert!(Schema::parse("O\tDevice.\tR\t1\t1\nP\tX\tfloat\tR\t-\n").is_err());
    }

    #[test]
    fn builtin_schema_parses_and_has_the_baseline() {
        let s = Schema::builtin();
        for p in [
            "Device.RootDataModelVersion",
            "Device.DeviceInfo.SerialNumber",
            "Device.DeviceInfo.UpTime",
            "Device.ManagementServer.URL",
            "Device.ManagementServer.InformParameter.{i}.ParameterName",
            "Device.ManagementServer.HeartbeatPolicy.ReportingInterval",
            "Device.Ethernet.Interface.{i}.Stats.BytesSent",
            "Device.IP.Interface.{i}.IPv4Address.{i}.IPAddress",
            "Device.IP.Interface.{i}.IPv6Address.{i}.IPAddress",
            "Device.Hosts.Host.{i}.PhysAddress",
            "Device.DNS.Client.Server.{i}.DNSServer",
            "Device.DeviceInfo.MemoryStatus.Total",
            "Device.DeviceInfo.ProcessStatus.CPUUsage",
            "Device.Time.NTPServer1",
        ] {
            assert!(s.lookup(p).is_some(), "{p}");
        }
        assert!(Arc::ptr_eq(&s, &Schema::builtin()));
    }
}
