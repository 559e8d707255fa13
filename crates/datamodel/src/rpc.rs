//! The ACS-facing parameter RPCs over the tree: GetParameterValues (RPC-01/02),
//! GetParameterNames (RPC-03/04), SetParameterValues (RPC-05/06/08), AddObject / DeleteObject
//! (RPC-12), hidden values (RPC-07), wildcards (RPC-11) and the forced Inform list (§3.3).
//!
//! Owns [`ParameterValue`], [`ParameterInfo`], [`SetParameterValue`] and the tree walk. Wire
//! encoding is the protocol crate's business; this module speaks in typed values.

use crate::fault::{DataModelError, ParameterFault};
use crate::model::{DataModel, Step, Target};
use crate::path::Path;
use crate::schema::NodeId;
use crate::value::Value;

/// One GetParameterValues result (or Inform ParameterList entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParameterValue {
    /// Full parameter name.
    pub name: String,
    /// Typed value; its `xsi_type()` is what goes on the wire.
    pub value: Value,
}

/// One GetParameterNames result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParameterInfo {
    /// Parameter name, or object / table / instance path ending with `.`.
    pub name: String,
    /// Parameters: SPV allowed. Tables and instances: AddObject / DeleteObject allowed (RPC-04).
    pub writable: bool,
}

/// One SetParameterValues entry as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetParameterValue {
    /// Full parameter name.
    pub name: String,
    /// The `xsi:type` of `Value` (any prefix), if present.
    pub xsi_type: Option<String>,
    /// The value text.
    pub value: String,
}

impl SetParameterValue {
    /// Convenience constructor.
    pub fn new(name: &str, xsi_type: Option<&str>, value: &str) -> SetParameterValue {
        SetParameterValue {
            name: name.to_owned(),
            xsi_type: xsi_type.map(str::to_owned),
            value: value.to_owned(),
        }
    }
}

/// What the walk met.
pub(crate) enum Visit<'a> {
    Param(&'a [Step], NodeId, &'a str),
    /// An object instance (`writable` = deletable).
    Object(&'a str, bool),
    /// A table (`writable` = AddObject allowed).
    Table(&'a str, bool),
}

/// What to restore if applying fails: location, parameter, path, stored slot, effective value.
type Undo = (Vec<Step>, NodeId, String, Option<Value>, Option<Value>);

/// The schema path of the ParameterKey (RPC-06).
pub const PARAMETER_KEY: &str = "Device.ManagementServer.ParameterKey";

impl DataModel {
    /// Visits everything below an object (parameters first, then each child object and its
    /// subtree), depth first in schema and instance order.
    fn walk(
        &self,
        loc: &mut Vec<Step>,
        id: NodeId,
        path: &mut String,
        f: &mut dyn FnMut(Visit<'_>),
    ) {
        let schema = &*self.schema;
        let obj = schema.obj(id);
        let base = path.len();
        for &p in &obj.params {
            path.push_str(&schema.node(p).name);
            f(Visit::Param(loc, p, path));
            path.truncate(base);
        }
        for (ci, &c) in obj.objects.iter().enumerate() {
            let child = ci as u16;
            let def = schema.obj(c);
            path.push_str(&schema.node(c).name);
            path.push('.');
            if def.table {
                f(Visit::Table(path, def.writable));
                let table_len = path.len();
                for n in self.instances(loc, child, path) {
                    path.push_str(&n.to_string());
                    path.push('.');
                    loc.push(Step {
                        child,
                        instance: Some(n),
                    });
                    f(Visit::Object(path, def.writable));
                    self.walk(loc, c, path, f);
                    loc.pop();
                    path.truncate(table_len);
                }
            } else {
                loc.push(Step {
                    child,
                    instance: None,
                });
                f(Visit::Object(path, false));
                self.walk(loc, c, path, f);
                loc.pop();
            }
            path.truncate(base);
        }
    }

    /// Visits every parameter a target covers.
    pub(crate) fn for_each_param(&self, target: &Target, f: &mut dyn FnMut(&[Step], NodeId, &str)) {
        self.walk_target(target, &mut |v| {
            if let Visit::Param(loc, id, p) = v {
                f(loc, id, p);
            }
        });
    }

    /// Visits a target and everything below it (the target itself first, for objects/tables).
    fn walk_target(&self, target: &Target, f: &mut dyn FnMut(Visit<'_>)) {
        match target {
            Target::Param { loc, id, path } => f(Visit::Param(loc, *id, path)),
            Target::Object { loc, id, path } => {
                let deletable = loc.last().is_some_and(|s| s.instance.is_some())
                    && self.schema.obj(*id).writable;
                f(Visit::Object(path, deletable));
                self.walk(&mut loc.clone(), *id, &mut path.clone(), f);
            }
            Target::Table {
                loc,
                child,
                id,
                path,
            } => {
                let writable = self.schema.obj(*id).writable;
                f(Visit::Table(path, writable));
                for n in self.instances(loc, *child, path) {
                    let mut l = loc.clone();
                    l.push(Step {
                        child: *child,
                        instance: Some(n),
                    });
                    let mut p = format!("{path}{n}.");
                    f(Visit::Object(&p, writable));
                    self.walk(&mut l, *id, &mut p, f);
                }
            }
        }
    }

    /// The value the ACS sees: hidden parameters read back empty (RPC-07).
    fn acs_value(&self, loc: &[Step], id: NodeId, path: &str) -> Value {
        let def = self.schema.param(id);
        if def.hidden {
            def.syntax.zero()
        } else {
            self.read(loc, id, path)
        }
    }

    /// GetParameterValues: full names and partial paths (RPC-02: every parameter below; `""`
    /// = everything), `*` for instance numbers (RPC-11). Any unknown name fails the whole
    /// request with 9005 (RPC-01).
    pub fn get_parameter_values(
        &self,
        names: &[&str],
    ) -> Result<Vec<ParameterValue>, DataModelError> {
        let mut out = Vec::new();
        for name in names {
            let path = Path::parse(name)?;
            for target in self.resolve(&path)? {
                self.for_each_param(&target, &mut |loc, id, p| {
                    out.push(ParameterValue {
                        name: p.to_owned(),
                        value: self.acs_value(loc, id, p),
                    });
                });
            }
        }
        Ok(out)
    }

    /// GetParameterNames (RPC-03, RPC-04).
    pub fn get_parameter_names(
        &self,
        path: &str,
        next_level: bool,
    ) -> Result<Vec<ParameterInfo>, DataModelError> {
        let parsed = Path::parse(path)?;
        let mut out = Vec::new();
        if parsed.is_root() && next_level {
            out.push(ParameterInfo {
                name: format!("{}.", self.schema.node(self.schema.root()).name),
                writable: false,
            });
            return Ok(out);
        }
        for target in self.resolve(&parsed)? {
            if next_level {
                self.next_level(&target, &mut out)?;
                continue;
            }
            self.walk_target(&target, &mut |v| {
                out.push(match v {
                    Visit::Param(loc, id, p) => ParameterInfo {
                        name: p.to_owned(),
                        writable: self.acs_writable(loc, id, p),
                    },
                    Visit::Object(p, w) | Visit::Table(p, w) => ParameterInfo {
                        name: p.to_owned(),
                        writable: w,
                    },
                });
            });
        }
        Ok(out)
    }

    fn next_level(
        &self,
        target: &Target,
        out: &mut Vec<ParameterInfo>,
    ) -> Result<(), DataModelError> {
        match target {
            Target::Param { path, .. } => Err(DataModelError::InvalidArguments(format!(
                "NextLevel=true on parameter {path}"
            ))),
            Target::Table {
                loc,
                child,
                id,
                path,
            } => {
                let writable = self.schema.obj(*id).writable;
                for n in self.instances(loc, *child, path) {
                    out.push(ParameterInfo {
                        name: format!("{path}{n}."),
                        writable,
                    });
                }
                Ok(())
            }
            Target::Object { loc, id, path } => {
                let schema = &*self.schema;
                let obj = schema.obj(*id);
                for &p in &obj.params {
                    let name = format!("{path}{}", schema.node(p).name);
                    let writable = self.acs_writable(loc, p, &name);
                    out.push(ParameterInfo { name, writable });
                }
                for &c in &obj.objects {
                    let def = schema.obj(c);
                    out.push(ParameterInfo {
                        name: format!("{path}{}.", schema.node(c).name),
                        writable: def.table && def.writable,
                    });
                }
                Ok(())
            }
        }
    }

    /// SetParameterValues from the ACS (RPC-05): every entry is validated first; if any fails,
    /// nothing is applied and the error carries one fault per offending parameter (9005, 9006,
    /// 9007, 9008) under 9003. The same parameter twice is 9003 without per-parameter faults.
    /// On success the ParameterKey is set (RPC-06). ACS changes never notify (RPC-08).
    pub fn set_parameter_values(
        &mut self,
        params: &[SetParameterValue],
        parameter_key: &str,
    ) -> Result<(), DataModelError> {
        check_parameter_key(parameter_key)?;
        let mut faults = Vec::new();
        let mut plan: Vec<(Vec<Step>, NodeId, String, Value)> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for item in params {
            let fault = |error| ParameterFault {
                name: item.name.clone(),
                error,
            };
            let (loc, id, path) = match self.spv_target(&item.name) {
                Ok(t) => t,
                Err(e) => {
                    faults.push(fault(e));
                    continue;
                }
            };
            if !seen.insert(path.clone()) {
                return Err(DataModelError::InvalidArguments(format!(
                    "{} appears more than once",
                    item.name
                )));
            }
            if !self.acs_writable(&loc, id, &path) {
                faults.push(fault(DataModelError::NotWritable(item.name.clone())));
                continue;
            }
            let syntax = &self.schema.param(id).syntax;
            let value = match syntax.parse_typed(item.xsi_type.as_deref(), &item.value) {
                Ok(v) => v,
                Err(e) => {
                    faults.push(fault(DataModelError::from_value_error(&item.name, e)));
                    continue;
                }
            };
            if let Some(h) = self.handler_for(&path)
                && let Err(e) = h.validate(&path, &value)
            {
                faults.push(fault(e));
                continue;
            }
            plan.push((loc, id, path, value));
        }
        if !faults.is_empty() {
            return Err(DataModelError::SetParameterValues(faults));
        }
        self.apply_all(plan)?;
        self.set_parameter_key(parameter_key);
        Ok(())
    }

    fn spv_target(&self, name: &str) -> Result<(Vec<Step>, NodeId, String), DataModelError> {
        let path = Path::parse(name)?;
        if path.is_partial() || path.has_wildcard() {
            return Err(DataModelError::InvalidName(name.to_owned()));
        }
        match self.resolve(&path)?.pop() {
            Some(Target::Param { loc, id, path }) => Ok((loc, id, path)),
            _ => Err(DataModelError::InvalidName(name.to_owned())),
        }
    }

    /// Applies a validated plan; on a handler failure undoes what was done and fails.
    fn apply_all(
        &mut self,
        plan: Vec<(Vec<Step>, NodeId, String, Value)>,
    ) -> Result<(), DataModelError> {
        let mut undo: Vec<Undo> = Vec::new();
        for (loc, id, path, value) in plan {
            let before = self.read(&loc, id, &path);
            let stored_before = self
                .node_at(&loc)
                .and_then(|n| n.values.get(self.schema.param(id).index as usize).cloned())
                .flatten();
            match self.write(&loc, id, &path, value) {
                Ok(_) => undo.push((loc, id, path, stored_before, Some(before))),
                Err(e) => {
                    for (loc, id, path, stored, before) in undo.into_iter().rev() {
                        self.store(&loc, id, stored);
                        if let (Some(h), Some(b)) = (self.handler_for(&path).cloned(), before) {
                            // Best effort: the request already failed.
                            let _ = h.set(&path, &b);
                        }
                    }
                    return Err(match e {
                        DataModelError::SetParameterValues(_) => e,
                        other if other.cwmp_fault_code() >= 9005 => {
                            DataModelError::Internal(other.to_string())
                        }
                        other => other,
                    });
                }
            }
        }
        Ok(())
    }

    fn set_parameter_key(&mut self, key: &str) {
        if let Some(id) = self.schema.lookup(PARAMETER_KEY) {
            let loc = self.loc_of_single(id);
            self.store(&loc, id, Some(Value::string(key)));
        }
    }

    /// The location of a parameter outside any table (schema path = instance path).
    fn loc_of_single(&self, id: NodeId) -> Vec<Step> {
        let schema = &*self.schema;
        let mut chain = Vec::new();
        let mut cur = schema.node(id).parent;
        while let Some(obj) = cur {
            if let Some(parent) = schema.node(obj).parent {
                let child = schema
                    .obj(parent)
                    .objects
                    .iter()
                    .position(|&c| c == obj)
                    .expect("object is its parent's child");
                chain.push(Step {
                    child: child as u16,
                    instance: None,
                });
            }
            cur = schema.node(obj).parent;
        }
        chain.reverse();
        chain
    }

    /// AddObject (RPC-12): `table_path` ends with `.`; returns the new instance number (≥ 1,
    /// never reused); the instance reads its schema defaults. Not a writable table ⇒ 9005;
    /// full ⇒ 9004. Sets the ParameterKey on success (RPC-06).
    pub fn add_object(
        &mut self,
        table_path: &str,
        parameter_key: &str,
    ) -> Result<u32, DataModelError> {
        check_parameter_key(parameter_key)?;
        let (loc, child, id, path) = self.table_target(table_path)?;
        if !self.schema.obj(id).writable {
            return Err(DataModelError::InvalidName(format!(
                "{path} does not allow AddObject"
            )));
        }
        let n = match self.handler_backed_table(&path) {
            Some(h) => h.add_instance(&path)?,
            None => self.insert_instance(&loc, child, id, &path, None)?,
        };
        self.set_parameter_key(parameter_key);
        Ok(n)
    }

    /// DeleteObject (RPC-12): `instance_path` is an instance ending with `.`; removes its
    /// subtree. Sets the ParameterKey on success (RPC-06).
    pub fn delete_object(
        &mut self,
        instance_path: &str,
        parameter_key: &str,
    ) -> Result<(), DataModelError> {
        check_parameter_key(parameter_key)?;
        let (loc, path) = self.instance_target(instance_path)?;
        let table_path = &path[..path[..path.len() - 1].rfind('.').map_or(0, |d| d + 1)];
        let entry = crate::path::schema_path_of(&path);
        let id = self
            .schema
            .lookup(&entry)
            .ok_or_else(|| DataModelError::InvalidName(path.clone()))?;
        if !self.schema.obj(id).writable {
            return Err(DataModelError::InvalidName(format!(
                "{path} does not allow DeleteObject"
            )));
        }
        match self.handler_backed_table(table_path) {
            Some(h) => h.delete_instance(&path)?,
            None => self.remove_at(&loc, &path),
        }
        self.set_parameter_key(parameter_key);
        Ok(())
    }

    /// The forced Inform parameters with their current values (§3.3), in schema order.
    pub fn forced_inform_parameters(&self) -> Vec<ParameterValue> {
        self.schema
            .forced_inform()
            .iter()
            .filter_map(|&id| {
                let path = self.schema.node(id).path.to_string();
                let (loc, id, path) = self.spv_target(&path).ok()?;
                let _ = id;
                Some(ParameterValue {
                    value: self.read(&loc, id, &path),
                    name: path,
                })
            })
            .collect()
    }
}

fn check_parameter_key(key: &str) -> Result<(), DataModelError> {
    if key.chars().count() > 32 {
        return Err(DataModelError::InvalidArguments(
            "ParameterKey longer than 32 characters".into(),
        ));
    }
    Ok(())
}
