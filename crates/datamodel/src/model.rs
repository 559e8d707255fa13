//! The per-device instance tree: storage of values, attributes and instances, path
//! resolution (instances, `*`, `[alias]`), reads, and the device's own writes.
//!
//! Owns [`DataModel`], [`Options`] and the storage layout. The ACS-facing RPC semantics live in
//! `rpc.rs`, notification attributes and change tracking in `notify.rs`, persistence in
//! `persist.rs`; all of them are `impl DataModel` blocks over the storage defined here.
//!
//! Memory: the schema is shared (`Arc`); a device stores one `Option<Value>` slot per parameter
//! of each object it has written to (allocated on first write), nothing for defaults, and an
//! attribute entry only where attributes differ from the schema default.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::fault::DataModelError;
use crate::handler::{Handler, SetOutcome};
use crate::path::{Path, Segment};
use crate::schema::{Access, NodeId, Schema};
use crate::value::Value;

/// Behaviour switches of a [`DataModel`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Refuse (9009) Active notification on `activeNotify="canDeny"` parameters (RPC-09).
    pub deny_active_on_can_deny: bool,
    /// Accept the lightweight notification values 3..6 (DM-07); refused with 9009 otherwise.
    pub lightweight_notifications: bool,
    /// Maximum entries per table when the schema says unbounded (bounded everything).
    pub default_max_entries: u32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            deny_active_on_can_deny: true,
            lightweight_notifications: false,
            default_max_entries: 1024,
        }
    }
}

/// Non-default attributes of one parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Attr {
    pub(crate) notification: u8,
    pub(crate) access_list: Box<[Box<str>]>,
}

/// One object instance (or the single instance of a non-table object).
#[derive(Debug, Clone)]
pub(crate) struct ObjNode {
    /// Indexed by `ParamDef::index`; empty until the first write.
    pub(crate) values: Box<[Option<Value>]>,
    /// Sorted by parameter index.
    pub(crate) attrs: Vec<(u16, Attr)>,
    /// Indexed like `ObjectDef::objects`.
    pub(crate) children: Box<[Child]>,
}

#[derive(Debug, Clone)]
pub(crate) enum Child {
    Single(Box<ObjNode>),
    Table(Table),
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Table {
    /// The next instance number AddObject hands out; never decreases (RPC-12).
    pub(crate) next_instance: u32,
    /// Sorted by instance number.
    pub(crate) rows: Vec<(u32, ObjNode)>,
}

/// One step from an object to a child: the child's index and, for tables, the instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Step {
    pub(crate) child: u16,
    pub(crate) instance: Option<u32>,
}

/// Where a resolved name points.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    /// An object instance (single object or table entry); `id` is its schema object.
    Object {
        loc: Vec<Step>,
        id: NodeId,
        path: String,
    },
    /// A table as a whole (`Device.IP.Interface.`); `loc` is the parent object.
    Table {
        loc: Vec<Step>,
        child: u16,
        id: NodeId,
        path: String,
    },
    /// A parameter; `loc` is its object.
    Param {
        loc: Vec<Step>,
        id: NodeId,
        path: String,
    },
}

/// Paths whose values changed and that carry notification, split by kind (RPC-08, DM-07).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValueChanges {
    /// Notification 1, 4 or 6: include in the next Inform with `4 VALUE CHANGE`.
    pub passive: BTreeSet<String>,
    /// Notification 2: start a session now.
    pub active: BTreeSet<String>,
    /// Notification 3 or 4: passive lightweight.
    pub lightweight_passive: BTreeSet<String>,
    /// Notification 5 or 6: active lightweight.
    pub lightweight_active: BTreeSet<String>,
}

impl ValueChanges {
    /// `true` if nothing changed.
    pub fn is_empty(&self) -> bool {
        self.passive.is_empty()
            && self.active.is_empty()
            && self.lightweight_passive.is_empty()
            && self.lightweight_active.is_empty()
    }
}

/// A device's data model: the shared schema plus this device's instances, values and
/// attributes.
pub struct DataModel {
    pub(crate) schema: Arc<Schema>,
    pub(crate) root: ObjNode,
    pub(crate) handlers: Vec<(Box<str>, Arc<dyn Handler>)>,
    pub(crate) changes: ValueChanges,
    pub(crate) options: Options,
}

impl std::fmt::Debug for DataModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataModel")
            .field("handlers", &self.handlers.len())
            .field("changes", &self.changes)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl ObjNode {
    pub(crate) fn new(schema: &Schema, id: NodeId) -> ObjNode {
        let def = schema.obj(id);
        let children = def
            .objects
            .iter()
            .map(|&c| {
                if schema.obj(c).table {
                    Child::Table(Table {
                        next_instance: 1,
                        rows: Vec::new(),
                    })
                } else {
                    Child::Single(Box::new(ObjNode::new(schema, c)))
                }
            })
            .collect();
        ObjNode {
            values: Box::new([]),
            attrs: Vec::new(),
            children,
        }
    }

    pub(crate) fn attr(&self, index: u16) -> Option<&Attr> {
        self.attrs
            .binary_search_by_key(&index, |(i, _)| *i)
            .ok()
            .map(|pos| &self.attrs[pos].1)
    }

    fn child(&self, step: Step) -> Option<&ObjNode> {
        match (self.children.get(step.child as usize)?, step.instance) {
            (Child::Single(n), None) => Some(n),
            (Child::Table(t), Some(i)) => t
                .rows
                .binary_search_by_key(&i, |(k, _)| *k)
                .ok()
                .map(|pos| &t.rows[pos].1),
            _ => None,
        }
    }
}

impl DataModel {
    /// A data model over the built-in TR-181 subset with default options.
    pub fn new() -> DataModel {
        DataModel::with_schema(Schema::builtin(), Options::default())
    }

    /// A data model over any schema (e.g. the built-in one plus vendor extensions).
    pub fn with_schema(schema: Arc<Schema>, options: Options) -> DataModel {
        let root = ObjNode::new(&schema, schema.root());
        DataModel {
            schema,
            root,
            handlers: Vec::new(),
            changes: ValueChanges::default(),
            options,
        }
    }

    /// The shared schema.
    pub fn schema(&self) -> &Arc<Schema> {
        &self.schema
    }

    /// The options.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// Backs every path starting with `prefix` (an object path ending with `.`, or a
    /// parameter path) with `handler`. The longest matching prefix wins.
    pub fn register_handler(&mut self, prefix: &str, handler: Arc<dyn Handler>) {
        self.handlers.push((prefix.into(), handler));
        self.handlers
            .sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
    }

    pub(crate) fn handler_for(&self, path: &str) -> Option<&Arc<dyn Handler>> {
        self.handlers
            .iter()
            .find(|(p, _)| path.starts_with(&**p))
            .map(|(_, h)| h)
    }

    pub(crate) fn node_at(&self, loc: &[Step]) -> Option<&ObjNode> {
        let mut node = &self.root;
        for step in loc {
            node = node.child(*step)?;
        }
        Some(node)
    }

    /// The storage of an instance that resolution proved to exist, created on demand (handler
    /// instances have no storage until something is stored on them).
    pub(crate) fn node_mut(&mut self, loc: &[Step]) -> &mut ObjNode {
        let mut id = self.schema.root();
        let schema = Arc::clone(&self.schema);
        let mut node = &mut self.root;
        for step in loc {
            id = schema.obj(id).objects[step.child as usize];
            node = match (&mut node.children[step.child as usize], step.instance) {
                (Child::Single(n), _) => n,
                (Child::Table(t), Some(i)) => {
                    let pos = match t.rows.binary_search_by_key(&i, |(k, _)| *k) {
                        Ok(pos) => pos,
                        Err(pos) => {
                            t.rows.insert(pos, (i, ObjNode::new(&schema, id)));
                            t.next_instance = t.next_instance.max(i.saturating_add(1));
                            pos
                        }
                    };
                    &mut t.rows[pos].1
                }
                (Child::Table(_), None) => unreachable!("table step without instance"),
            };
        }
        node
    }

    /// The instance numbers of a table, from its handler or from storage.
    pub(crate) fn instances(&self, parent: &[Step], child: u16, table_path: &str) -> Vec<u32> {
        if let Some(h) = self.handler_for(table_path)
            && let Some(mut list) = h.instances(table_path)
        {
            list.sort_unstable();
            list.dedup();
            list.retain(|&i| i > 0);
            return list;
        }
        match self
            .node_at(parent)
            .and_then(|n| n.children.get(child as usize))
        {
            Some(Child::Table(t)) => t.rows.iter().map(|(i, _)| *i).collect(),
            _ => Vec::new(),
        }
    }

    pub(crate) fn handler_backed_table(&self, table_path: &str) -> Option<Arc<dyn Handler>> {
        let h = self.handler_for(table_path)?;
        h.instances(table_path).map(|_| Arc::clone(h))
    }

    /// Resolves a validated path to its targets; unknown names are 9005 (RPC-01).
    pub(crate) fn resolve(&self, path: &Path) -> Result<Vec<Target>, DataModelError> {
        let unknown = || DataModelError::InvalidName(path.to_string());
        let schema = &*self.schema;
        let root = schema.root();
        let root_name = &*schema.node(root).name;
        if path.is_root() {
            return Ok(vec![Target::Object {
                loc: Vec::new(),
                id: root,
                path: format!("{root_name}."),
            }]);
        }
        let segs: Vec<Segment<'_>> = path.segments().collect();
        if segs[0] != Segment::Name(root_name) {
            return Err(unknown());
        }
        let mut cur: Vec<(Vec<Step>, String)> = vec![(Vec::new(), format!("{root_name}."))];
        let mut id = root;
        let mut i = 1;
        while i < segs.len() {
            let Segment::Name(name) = segs[i] else {
                return Err(unknown());
            };
            let last = i + 1 == segs.len();
            let obj = schema.obj(id);
            if let Some(&pid) = obj.params.iter().find(|&&p| &*schema.node(p).name == name) {
                if !last || path.is_partial() {
                    return Err(unknown());
                }
                return Ok(cur
                    .into_iter()
                    .map(|(loc, p)| Target::Param {
                        loc,
                        id: pid,
                        path: format!("{p}{name}"),
                    })
                    .collect());
            }
            let (ci, &cid) = obj
                .objects
                .iter()
                .enumerate()
                .find(|(_, c)| &*schema.node(**c).name == name)
                .ok_or_else(unknown)?;
            let child = ci as u16;
            if !schema.obj(cid).table {
                for (loc, p) in &mut cur {
                    loc.push(Step {
                        child,
                        instance: None,
                    });
                    p.push_str(name);
                    p.push('.');
                }
                id = cid;
                i += 1;
                continue;
            }
            if last {
                if !path.is_partial() {
                    return Err(unknown());
                }
                return Ok(cur
                    .into_iter()
                    .map(|(loc, p)| Target::Table {
                        loc,
                        child,
                        id: cid,
                        path: format!("{p}{name}."),
                    })
                    .collect());
            }
            let mut next = Vec::new();
            for (loc, p) in cur {
                let table_path = format!("{p}{name}.");
                let all = self.instances(&loc, child, &table_path);
                let chosen: Vec<u32> = match segs[i + 1] {
                    Segment::Instance(n) if all.contains(&n) => vec![n],
                    Segment::Instance(_) => return Err(unknown()),
                    Segment::Wildcard => all,
                    Segment::Alias(alias) => {
                        let found = self.find_alias(&loc, child, cid, &table_path, &all, alias);
                        vec![found.ok_or_else(unknown)?]
                    }
                    _ => return Err(unknown()),
                };
                for n in chosen {
                    let mut l = loc.clone();
                    l.push(Step {
                        child,
                        instance: Some(n),
                    });
                    next.push((l, format!("{table_path}{n}.")));
                }
            }
            cur = next;
            id = cid;
            i += 2;
        }
        if !path.is_partial() {
            return Err(unknown());
        }
        Ok(cur
            .into_iter()
            .map(|(loc, path)| Target::Object { loc, id, path })
            .collect())
    }

    fn find_alias(
        &self,
        loc: &[Step],
        child: u16,
        entry: NodeId,
        table_path: &str,
        instances: &[u32],
        alias: &str,
    ) -> Option<u32> {
        let alias_param = *self
            .schema
            .obj(entry)
            .params
            .iter()
            .find(|&&p| &*self.schema.node(p).name == "Alias")?;
        instances.iter().copied().find(|&n| {
            let mut l = loc.to_vec();
            l.push(Step {
                child,
                instance: Some(n),
            });
            let path = format!("{table_path}{n}.Alias");
            self.read(&l, alias_param, &path)
                .as_str()
                .is_some_and(|a| a == alias)
        })
    }

    /// The effective value of a parameter (no hidden masking): handler, stored value, schema
    /// default, or the type's zero; `…NumberOfEntries` counts its table.
    pub(crate) fn read(&self, loc: &[Step], id: NodeId, path: &str) -> Value {
        let def = self.schema.param(id);
        if let Some(table) = def.counts {
            let parent = self
                .schema
                .node(id)
                .parent
                .expect("parameter has an object");
            let child = self
                .schema
                .obj(parent)
                .objects
                .iter()
                .position(|&c| c == table)
                .expect("counted table is a child") as u16;
            let obj_path = &path[..path.rfind('.').map_or(0, |d| d + 1)];
            let table_path = format!("{obj_path}{}.", self.schema.node(table).name);
            let n = self.instances(loc, child, &table_path).len();
            return Value::UnsignedInt(u32::try_from(n).unwrap_or(u32::MAX));
        }
        if let Some(h) = self.handler_for(path)
            && let Some(v) = h.get(path)
        {
            return v;
        }
        let stored = self
            .node_at(loc)
            .and_then(|n| n.values.get(def.index as usize))
            .and_then(Option::as_ref);
        match (stored, &def.default) {
            (Some(v), _) | (None, Some(v)) => v.clone(),
            (None, None) => def.syntax.zero(),
        }
    }

    /// Whether the ACS may write the parameter now (RPC-05 9008; writeOnceReadOnly rules).
    pub(crate) fn acs_writable(&self, loc: &[Step], id: NodeId, path: &str) -> bool {
        match self.schema.param(id).access {
            Access::ReadOnly => false,
            Access::ReadWrite => true,
            Access::WriteOnce => self
                .read(loc, id, path)
                .as_str()
                .is_some_and(|s| s.is_empty() || s.starts_with("cpe-")),
        }
    }

    /// Stores or hands to a handler; returns the previous stored slot for rollback.
    pub(crate) fn write(
        &mut self,
        loc: &[Step],
        id: NodeId,
        path: &str,
        value: Value,
    ) -> Result<Option<Value>, DataModelError> {
        if let Some(h) = self.handler_for(path).cloned()
            && h.set(path, &value)? == SetOutcome::Applied
        {
            return Ok(None);
        }
        Ok(self.store(loc, id, Some(value)))
    }

    pub(crate) fn store(
        &mut self,
        loc: &[Step],
        id: NodeId,
        value: Option<Value>,
    ) -> Option<Value> {
        let schema = Arc::clone(&self.schema);
        let def = schema.param(id);
        let parent = schema.node(id).parent.expect("parameter has an object");
        let count = schema.obj(parent).params.len();
        let node = self.node_mut(loc);
        if node.values.is_empty() {
            value.as_ref()?;
            node.values = vec![None; count].into_boxed_slice();
        }
        std::mem::replace(&mut node.values[def.index as usize], value)
    }

    fn single_param(&self, path: &str) -> Result<(Vec<Step>, NodeId, String), DataModelError> {
        let parsed = Path::parse(path)?;
        if parsed.has_wildcard() {
            return Err(DataModelError::InvalidName(path.to_owned()));
        }
        match self.resolve(&parsed)?.pop() {
            Some(Target::Param { loc, id, path }) => Ok((loc, id, path)),
            _ => Err(DataModelError::InvalidName(path.to_owned())),
        }
    }

    /// The real value of a parameter for the device's own use (hidden values included).
    pub fn get(&self, path: &str) -> Result<Value, DataModelError> {
        let (loc, id, path) = self.single_param(path)?;
        Ok(self.read(&loc, id, &path))
    }

    /// Sets a parameter on behalf of the device itself (agent, CLI, host): read-only
    /// parameters included, notification recorded if the value changed (RPC-08).
    pub fn set(&mut self, path: &str, value: Value) -> Result<(), DataModelError> {
        let (loc, id, path) = self.single_param(path)?;
        let syntax = &self.schema.param(id).syntax;
        let value = syntax
            .check(&value)
            .map_err(|e| DataModelError::from_value_error(&path, e))?;
        let old = self.read(&loc, id, &path);
        self.write(&loc, id, &path, value.clone())?;
        if old != value {
            self.record_change(&loc, id, &path);
        }
        Ok(())
    }

    /// [`DataModel::set`] from text, parsed with the parameter's syntax.
    pub fn set_str(&mut self, path: &str, text: &str) -> Result<(), DataModelError> {
        let (_, id, p) = self.single_param(path)?;
        let value = self
            .schema
            .param(id)
            .syntax
            .parse(text)
            .map_err(|e| DataModelError::from_value_error(&p, e))?;
        self.set(path, value)
    }

    /// Creates an instance of a tree-managed table on behalf of the device (e.g. a host seen
    /// on the LAN); `None` picks the next number. Returns the instance number.
    pub fn create_instance(
        &mut self,
        table_path: &str,
        instance: Option<u32>,
    ) -> Result<u32, DataModelError> {
        let (loc, child, id, path) = self.table_target(table_path)?;
        if self.handler_backed_table(&path).is_some() {
            return Err(DataModelError::RequestDenied(format!(
                "{path} is provided by a handler"
            )));
        }
        self.insert_instance(&loc, child, id, &path, instance)
    }

    pub(crate) fn table_target(
        &self,
        table_path: &str,
    ) -> Result<(Vec<Step>, u16, NodeId, String), DataModelError> {
        let parsed = Path::parse(table_path)?;
        if parsed.has_wildcard() {
            return Err(DataModelError::InvalidName(table_path.to_owned()));
        }
        match self.resolve(&parsed)?.pop() {
            Some(Target::Table {
                loc,
                child,
                id,
                path,
            }) => Ok((loc, child, id, path)),
            _ => Err(DataModelError::InvalidName(format!(
                "{table_path} is not a table"
            ))),
        }
    }

    pub(crate) fn insert_instance(
        &mut self,
        loc: &[Step],
        child: u16,
        id: NodeId,
        table_path: &str,
        instance: Option<u32>,
    ) -> Result<u32, DataModelError> {
        let max = self
            .schema
            .obj(id)
            .max_entries
            .unwrap_or(self.options.default_max_entries);
        let schema = Arc::clone(&self.schema);
        let parent = self.node_mut(loc);
        let Child::Table(table) = &mut parent.children[child as usize] else {
            unreachable!("table target points at a table");
        };
        if table.rows.len() >= max as usize {
            return Err(DataModelError::ResourcesExceeded(format!(
                "{table_path} holds at most {max} entries"
            )));
        }
        let n = match instance {
            Some(n) if table.rows.iter().any(|(k, _)| *k == n) => {
                return Err(DataModelError::InvalidArguments(format!(
                    "{table_path}{n}. exists"
                )));
            }
            Some(0) => return Err(DataModelError::InvalidArguments("instance 0".into())),
            Some(n) => n,
            None => table.next_instance,
        };
        table.next_instance = table.next_instance.max(n.checked_add(1).ok_or_else(|| {
            DataModelError::ResourcesExceeded(format!("{table_path} instance numbers exhausted"))
        })?);
        let pos = table.rows.partition_point(|(k, _)| *k < n);
        table.rows.insert(pos, (n, ObjNode::new(&schema, id)));
        // A CPE-assigned Alias (TR-181 Alias rules): "cpe-" prefix, writable once by the ACS.
        if let Some(&alias) = schema
            .obj(id)
            .params
            .iter()
            .find(|&&p| &*schema.node(p).name == "Alias")
        {
            let mut l = loc.to_vec();
            l.push(Step {
                child,
                instance: Some(n),
            });
            self.store(&l, alias, Some(Value::string(format!("cpe-{n}"))));
        }
        Ok(n)
    }

    /// Removes an instance of a tree-managed table on behalf of the device.
    pub fn remove_instance(&mut self, instance_path: &str) -> Result<(), DataModelError> {
        let (loc, path) = self.instance_target(instance_path)?;
        self.remove_at(&loc, &path);
        Ok(())
    }

    pub(crate) fn instance_target(
        &self,
        instance_path: &str,
    ) -> Result<(Vec<Step>, String), DataModelError> {
        let parsed = Path::parse(instance_path)?;
        if parsed.has_wildcard() {
            return Err(DataModelError::InvalidName(instance_path.to_owned()));
        }
        match self.resolve(&parsed)?.pop() {
            Some(Target::Object { loc, path, .. })
                if loc.last().is_some_and(|s| s.instance.is_some()) =>
            {
                Ok((loc, path))
            }
            _ => Err(DataModelError::InvalidName(format!(
                "{instance_path} is not a table instance"
            ))),
        }
    }

    pub(crate) fn remove_at(&mut self, loc: &[Step], path: &str) {
        let (last, parent) = loc.split_last().expect("instance has a parent");
        let node = self.node_mut(parent);
        if let Child::Table(t) = &mut node.children[last.child as usize]
            && let Ok(pos) = t
                .rows
                .binary_search_by_key(&last.instance.unwrap_or(0), |r| r.0)
        {
            t.rows.remove(pos);
        }
        for set in [
            &mut self.changes.passive,
            &mut self.changes.active,
            &mut self.changes.lightweight_passive,
            &mut self.changes.lightweight_active,
        ] {
            set.retain(|p| !p.starts_with(path));
        }
    }
}

impl Default for DataModel {
    fn default() -> Self {
        DataModel::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_parameters_objects_tables_and_instances() {
        let mut dm = DataModel::new();
        let n = dm
            .create_instance("Device.IP.Interface.", None)
            .expect("create");
        assert_eq!(n, 1);
        let t = dm
            .resolve(&Path::parse("Device.IP.Interface.1.Enable").unwrap())
            .unwrap();
        assert!(
            matches!(&t[0], Target::Param { path, .. } if path == "Device.IP.Interface.1.Enable")
        );
        let t = dm
            .resolve(&Path::parse("Device.IP.Interface.").unwrap())
            .unwrap();
        assert!(matches!(&t[0], Target::Table { .. }));
        for bad in [
            "Device.IP.Interface.2.Enable",
            "Device.IP.Interface",
            "Device.IP",
            "Device.IP.Interface.1.Enable.",
            "Device.Nope.",
            "InternetGatewayDevice.",
        ] {
            let err = dm.resolve(&Path::parse(bad).unwrap()).unwrap_err();
            assert_eq!(err.cwmp_fault_code(), 9005, "{bad}");
        }
    }

    #[test]
    fn unwritten_objects_cost_no_value_slots() {
        let dm = DataModel::new();
        assert!(dm.root.values.is_empty());
        assert!(matches!(dm.root.children[0], Child::Single(ref n) if n.values.is_empty()));
    }

    #[test]
    fn instance_numbers_are_not_reused() {
        let mut dm = DataModel::new();
        let a = dm.create_instance("Device.Hosts.Host.", None).unwrap();
        let b = dm.create_instance("Device.Hosts.Host.", None).unwrap();
        dm.remove_instance(&format!("Device.Hosts.Host.{b}."))
            .unwrap();
        let c = dm.create_instance("Device.Hosts.Host.", None).unwrap();
        assert_eq!((a, b, c), (1, 2, 3));
        let ip = dm.create_instance("Device.IP.Interface.", Some(7)).unwrap();
        assert_eq!(ip, 7);
        assert_eq!(
            dm.get("Device.IP.Interface.7.Alias").unwrap(),
            Value::string("cpe-7")
        );
        assert_eq!(dm.create_instance("Device.IP.Interface.", None).unwrap(), 8);
        assert_eq!(
            dm.get("Device.Hosts.HostNumberOfEntries").unwrap(),
            Value::UnsignedInt(2)
        );
    }
}
