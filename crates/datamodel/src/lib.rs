//! The device-side TR-069 data model, sans I/O.
//!
//! * [`path`]: parameter paths, partial paths, instance numbers, `*` and `[alias]` (DM-11).
//! * [`value`], [`datetime`], [`syntax`]: typed values of the TR-106 primitive types and their
//!   validation against schema facets (DM-03..06).
//! * [`schema`]: the TR-181 subset the agent serves, generated from the Broadband Forum XML
//!   into a compact text file (`schema/`), parsed once and shared by every tree.
//! * [`DataModel`]: one device's instances, values and attributes with the CWMP RPC semantics
//!   (GPV/GPN/SPV/GPA/SPA/AddObject/DeleteObject), value-change tracking and persistence.
//! * [`handler`]: the trait through which the agent backs subtrees with live host data.
//! * [`fault`]: typed errors and their single mapping to CWMP fault codes.
//!
//! No I/O, no clock, no threads: the agent owns all of that.

pub mod datetime;
pub mod fault;
pub mod handler;
mod model;
mod notify;
pub mod path;
mod persist;
mod rpc;
pub mod schema;
pub mod syntax;
pub mod value;

pub use datetime::DateTime;
pub use fault::{DataModelError, ParameterFault, ValueError};
pub use handler::{Handler, SetOutcome};
pub use model::{DataModel, Options, ValueChanges};
pub use notify::{ParameterAttribute, SetParameterAttribute};
pub use path::Path;
pub use persist::{FORMAT as STATE_FORMAT, PersistedAttribute, PersistedState, PersistedTable};
pub use rpc::{PARAMETER_KEY, ParameterInfo, ParameterValue, SetParameterValue};
pub use schema::{Access, ActiveNotify, Schema};
pub use syntax::Syntax;
pub use value::{Primitive, RenderOptions, Value};
