//! The local control socket behind `tether cli`.
//!
//! * [`protocol`]: the line protocol (documented there), shared by both ends.
//! * [`server`]: the agent's end: safe binding, peer checks, a CLI session per connection.
//! * [`exec`]: what a CLI line does to the shared agent state.
//! * [`client`]: `tether cli`'s end: one command or an interactive terminal.

pub mod client;
pub mod exec;
pub mod protocol;
pub mod server;
