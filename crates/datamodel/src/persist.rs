//! Persistence without I/O: the writable configuration, the ParameterKey, non-default
//! attributes and the instance counters of tree-managed tables, as a stable serde structure
//! (JSON via [`PersistedState::to_json`]). The agent writes it to its state directory.
//!
//! Owns [`PersistedState`] and the export/import `impl DataModel` block. Maps are `BTreeMap`s
//! so the JSON is byte-stable for the same content.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::fault::DataModelError;
use crate::model::{Attr, Child, DataModel, ObjNode, Step, Target};
use crate::path::Path;
use crate::rpc::PARAMETER_KEY;
use crate::schema::{Access, NodeId};

/// The format tag written into every state.
pub const FORMAT: &str = "tether-datamodel/1";

/// A table's instances and counter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersistedTable {
    /// The next number AddObject hands out (RPC-12: never reused, also across restarts).
    pub next_instance: u32,
    /// Existing instance numbers.
    pub instances: Vec<u32>,
}

/// Non-default attributes of a parameter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersistedAttribute {
    /// 0..=6.
    pub notification: u8,
    /// Access list.
    pub access_list: Vec<String>,
}

/// Everything of a device's data model that must survive a restart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersistedState {
    /// [`FORMAT`].
    pub format: String,
    /// Table path (`Device.IP.Interface.`) → instances.
    pub tables: BTreeMap<String, PersistedTable>,
    /// Parameter path → canonical value text.
    pub values: BTreeMap<String, String>,
    /// Parameter path → attributes.
    pub attributes: BTreeMap<String, PersistedAttribute>,
}

impl PersistedState {
    /// Pretty, stable JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("plain maps and strings always serialize")
    }

    /// Parses JSON written by [`PersistedState::to_json`].
    pub fn from_json(text: &str) -> Result<PersistedState, DataModelError> {
        let state: PersistedState = serde_json::from_str(text)
            .map_err(|e| DataModelError::InvalidArguments(format!("state: {e}")))?;
        if state.format != FORMAT {
            return Err(DataModelError::InvalidArguments(format!(
                "state format {:?}, expected {FORMAT:?}",
                state.format
            )));
        }
        Ok(state)
    }
}

impl DataModel {
    /// Captures the persistent part of the model.
    pub fn export_state(&self) -> PersistedState {
        let mut state = PersistedState {
            format: FORMAT.to_owned(),
            tables: BTreeMap::new(),
            values: BTreeMap::new(),
            attributes: BTreeMap::new(),
        };
        let root = self.schema.root();
        let name = format!("{}.", self.schema.node(root).name);
        self.export_node(&self.root, root, &name, &mut state);
        state
    }

    fn export_node(&self, node: &ObjNode, id: NodeId, path: &str, state: &mut PersistedState) {
        let schema = &*self.schema;
        let obj = schema.obj(id);
        for (&p, slot) in obj.params.iter().zip(node.values.iter()) {
            let def = schema.param(p);
            let full = format!("{path}{}", schema.node(p).name);
            let persistent =
                def.access != Access::ReadOnly || &*schema.node(p).path == PARAMETER_KEY;
            if let Some(v) = slot
                && persistent
            {
                state.values.insert(full, v.to_string());
            }
        }
        for (index, attr) in &node.attrs {
            let p = obj.params[*index as usize];
            state.attributes.insert(
                format!("{path}{}", schema.node(p).name),
                PersistedAttribute {
                    notification: attr.notification,
                    access_list: attr.access_list.iter().map(|s| s.to_string()).collect(),
                },
            );
        }
        for (&c, child) in obj.objects.iter().zip(node.children.iter()) {
            let child_path = format!("{path}{}.", schema.node(c).name);
            match child {
                Child::Single(n) => self.export_node(n, c, &child_path, state),
                Child::Table(t) => {
                    if self.handler_backed_table(&child_path).is_none() && t.next_instance > 1 {
                        state.tables.insert(
                            child_path.clone(),
                            PersistedTable {
                                next_instance: t.next_instance,
                                instances: t.rows.iter().map(|(n, _)| *n).collect(),
                            },
                        );
                    }
                    for (n, row) in &t.rows {
                        self.export_node(row, c, &format!("{child_path}{n}."), state);
                    }
                }
            }
        }
    }

    /// Loads a state exported by [`DataModel::export_state`] into a fresh model. Entries that
    /// no longer fit the schema (a firmware changed it) are skipped and reported, one message
    /// each; everything else is applied without generating value changes.
    pub fn import_state(&mut self, state: &PersistedState) -> Vec<String> {
        let mut warnings = Vec::new();
        // BTreeMap order puts a table before the tables inside its instances.
        for (path, table) in &state.tables {
            let (loc, child, id, p) = match self.table_target(path) {
                Ok(t) => t,
                Err(e) => {
                    warnings.push(format!("table {path}: {e}"));
                    continue;
                }
            };
            for &n in &table.instances {
                if let Err(e) = self.insert_instance(&loc, child, id, &p, Some(n)) {
                    warnings.push(format!("instance {p}{n}.: {e}"));
                }
            }
            if let Child::Table(t) = &mut self.node_mut(&loc).children[child as usize] {
                t.next_instance = t.next_instance.max(table.next_instance);
            }
        }
        for (path, text) in &state.values {
            if let Err(e) = self.import_value(path, text) {
                warnings.push(format!("value {path}: {e}"));
            }
        }
        for (path, attr) in &state.attributes {
            match self.param_target(path) {
                Ok((loc, id)) if attr.notification <= 6 => {
                    let index = self.schema.param(id).index;
                    let node = self.node_mut(&loc);
                    let new = Attr {
                        notification: attr.notification,
                        access_list: attr.access_list.iter().map(|s| s.as_str().into()).collect(),
                    };
                    match node.attrs.binary_search_by_key(&index, |(i, _)| *i) {
                        Ok(pos) => node.attrs[pos].1 = new,
                        Err(pos) => node.attrs.insert(pos, (index, new)),
                    }
                }
                Ok(_) => warnings.push(format!("attribute {path}: bad notification")),
                Err(e) => warnings.push(format!("attribute {path}: {e}")),
            }
        }
        warnings
    }

    fn param_target(&self, path: &str) -> Result<(Vec<Step>, NodeId), DataModelError> {
        let parsed = Path::parse(path)?;
        match self.resolve(&parsed)?.pop() {
            Some(Target::Param { loc, id, .. }) if !parsed.has_wildcard() => Ok((loc, id)),
            _ => Err(DataModelError::InvalidName(path.to_owned())),
        }
    }

    fn import_value(&mut self, path: &str, text: &str) -> Result<(), DataModelError> {
        let (loc, id) = self.param_target(path)?;
        let value = self
            .schema
            .param(id)
            .syntax
            .parse(text)
            .map_err(|e| DataModelError::from_value_error(path, e))?;
        self.write(&loc, id, path, value)?;
        Ok(())
    }
}
