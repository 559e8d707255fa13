//! Parameter attributes (notification, access list) and value-change tracking:
//! GetParameterAttributes (RPC-10), SetParameterAttributes (RPC-09, DM-07..09) and the
//! passive/active change sets behind `4 VALUE CHANGE` (RPC-08).
//!
//! Owns [`ParameterAttribute`], [`SetParameterAttribute`] and the `impl DataModel` block for
//! attributes. Reads and resolution come from `model.rs`.

use crate::fault::DataModelError;
use crate::model::{Attr, DataModel, Step, Target, ValueChanges};
use crate::path::Path;
use crate::schema::{ActiveNotify, NodeId};

/// One GetParameterAttributes result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParameterAttribute {
    /// Full parameter name.
    pub name: String,
    /// 0..=6 (DM-07).
    pub notification: u8,
    /// Entities allowed to write besides the ACS (`Subscriber`).
    pub access_list: Vec<String>,
}

/// One SetParameterAttributes request entry (XSD `SetParameterAttributesStruct`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SetParameterAttribute {
    /// A parameter name or a partial path.
    pub name: String,
    /// Apply `notification` (RPC-09: ignored when false).
    pub notification_change: bool,
    /// Requested notification.
    pub notification: u8,
    /// Apply `access_list` (ignored when false).
    pub access_list_change: bool,
    /// Requested access list.
    pub access_list: Vec<String>,
}

/// A validated SetParameterAttributes change: location, parameter, new notification, new list.
type AttrChange = (Vec<Step>, NodeId, Option<u8>, Option<Vec<String>>);

/// The schema default notification of a parameter (DM-09).
pub(crate) fn default_notification(active: ActiveNotify) -> u8 {
    match active {
        ActiveNotify::ForceEnabled | ActiveNotify::ForceDefaultEnabled => 2,
        ActiveNotify::Normal | ActiveNotify::CanDeny => 0,
    }
}

impl DataModel {
    pub(crate) fn notification_of(&self, loc: &[Step], id: NodeId) -> u8 {
        let def = self.schema.param(id);
        if def.active_notify == ActiveNotify::ForceEnabled {
            return 2;
        }
        self.node_at(loc)
            .and_then(|n| n.attr(def.index))
            .map_or(default_notification(def.active_notify), |a| a.notification)
    }

    fn access_list_of(&self, loc: &[Step], id: NodeId) -> Vec<String> {
        let def = self.schema.param(id);
        self.node_at(loc)
            .and_then(|n| n.attr(def.index))
            .map(|a| a.access_list.iter().map(|s| s.to_string()).collect())
            .unwrap_or_default()
    }

    /// Records a change made by anything but the ACS, per the parameter's notification.
    pub(crate) fn record_change(&mut self, loc: &[Step], id: NodeId, path: &str) {
        let n = self.notification_of(loc, id);
        let c = &mut self.changes;
        if matches!(n, 1 | 4 | 6) {
            c.passive.insert(path.to_owned());
        }
        if n == 2 {
            c.active.insert(path.to_owned());
        }
        if matches!(n, 3 | 4) {
            c.lightweight_passive.insert(path.to_owned());
        }
        if matches!(n, 5 | 6) {
            c.lightweight_active.insert(path.to_owned());
        }
    }

    /// Reports that a handler-backed parameter changed on the host (the tree cannot see such
    /// changes by itself). Recorded per its notification attribute, as a local change.
    pub fn note_value_change(&mut self, path: &str) -> Result<(), DataModelError> {
        let parsed = Path::parse(path)?;
        match self.resolve(&parsed)?.pop() {
            Some(Target::Param { loc, id, path }) if !parsed.has_wildcard() => {
                self.record_change(&loc, id, &path);
                Ok(())
            }
            _ => Err(DataModelError::InvalidName(path.to_owned())),
        }
    }

    /// The changes recorded since the last call, emptied (call when building an Inform; put
    /// them back with [`DataModel::restore_value_changes`] if that Inform is never delivered).
    pub fn take_value_changes(&mut self) -> ValueChanges {
        std::mem::take(&mut self.changes)
    }

    /// Merges undelivered changes back in.
    pub fn restore_value_changes(&mut self, changes: ValueChanges) {
        self.changes.passive.extend(changes.passive);
        self.changes.active.extend(changes.active);
        self.changes
            .lightweight_passive
            .extend(changes.lightweight_passive);
        self.changes
            .lightweight_active
            .extend(changes.lightweight_active);
    }

    /// A look at the pending changes without taking them.
    pub fn pending_value_changes(&self) -> &ValueChanges {
        &self.changes
    }

    /// GetParameterAttributes (RPC-10): names or partial paths; one entry per parameter.
    pub fn get_parameter_attributes(
        &self,
        names: &[&str],
    ) -> Result<Vec<ParameterAttribute>, DataModelError> {
        let mut out = Vec::new();
        for name in names {
            let path = Path::parse(name)?;
            for target in self.resolve(&path)? {
                self.for_each_param(&target, &mut |loc, id, p| {
                    out.push(ParameterAttribute {
                        name: p.to_owned(),
                        notification: self.notification_of(loc, id),
                        access_list: self.access_list_of(loc, id),
                    });
                });
            }
        }
        Ok(out)
    }

    /// SetParameterAttributes (RPC-09): validated in full, then applied in full. An explicitly
    /// named parameter that refuses the notification faults with 9009; under a partial path
    /// such parameters are skipped and keep their notification.
    pub fn set_parameter_attributes(
        &mut self,
        items: &[SetParameterAttribute],
    ) -> Result<(), DataModelError> {
        let mut plan: Vec<AttrChange> = Vec::new();
        for item in items {
            if item.notification_change && item.notification > 6 {
                return Err(DataModelError::InvalidArguments(format!(
                    "notification {} for {}",
                    item.notification, item.name
                )));
            }
            if item.access_list_change
                && item
                    .access_list
                    .iter()
                    .any(|e| e.is_empty() || e.len() > 64)
            {
                return Err(DataModelError::InvalidArguments(format!(
                    "access list entry for {}",
                    item.name
                )));
            }
            let path = Path::parse(&item.name)?;
            let explicit = !path.is_partial();
            let mut targets = Vec::new();
            for target in self.resolve(&path)? {
                self.for_each_param(&target, &mut |loc, id, p| {
                    targets.push((loc.to_vec(), id, p.to_owned()));
                });
            }
            for (loc, id, p) in targets {
                let mut notification = None;
                if item.notification_change {
                    match self.refuses(id, item.notification) {
                        false => notification = Some(item.notification),
                        true if explicit => return Err(DataModelError::NotificationRejected(p)),
                        true => {}
                    }
                }
                let access = item.access_list_change.then(|| item.access_list.clone());
                if notification.is_some() || access.is_some() {
                    plan.push((loc, id, notification, access));
                }
            }
        }
        for (loc, id, notification, access) in plan {
            let index = self.schema.param(id).index;
            let current = Attr {
                notification: self.notification_of(&loc, id),
                access_list: self
                    .access_list_of(&loc, id)
                    .into_iter()
                    .map(Into::into)
                    .collect(),
            };
            let new = Attr {
                notification: notification.unwrap_or(current.notification),
                access_list: access.map_or(current.access_list, |a| {
                    a.into_iter().map(Into::into).collect()
                }),
            };
            let is_default = new.notification
                == default_notification(self.schema.param(id).active_notify)
                && new.access_list.is_empty();
            let node = self.node_mut(&loc);
            match node.attrs.binary_search_by_key(&index, |(i, _)| *i) {
                Ok(pos) if is_default => {
                    node.attrs.remove(pos);
                }
                Ok(pos) => node.attrs[pos].1 = new,
                Err(_) if is_default => {}
                Err(pos) => node.attrs.insert(pos, (index, new)),
            }
        }
        Ok(())
    }

    /// Whether the parameter refuses notification `n` (9009).
    fn refuses(&self, id: NodeId, n: u8) -> bool {
        if (3..=6).contains(&n) && !self.options.lightweight_notifications {
            return true;
        }
        match self.schema.param(id).active_notify {
            ActiveNotify::ForceEnabled => n != 2,
            ActiveNotify::CanDeny => n == 2 && self.options.deny_active_on_can_deny,
            _ => false,
        }
    }
}
