//! # tether-cli: the Comware command language, with no I/O
//!
//! This crate turns command lines into typed [`Command`]s and typed state into the text a
//! network engineer used to H3C / HP Comware expects. It owns no terminal, socket or clock: the
//! agent reads lines (rustyline, a control socket), hands them to a [`Session`], applies what
//! comes back to its [`RunningConfig`] and prints.
//!
//! ```text
//!   line ──▶ Session::execute ──▶ Outcome::Run(Command) ──▶ RunningConfig::apply ──▶ Applied
//!              │  (view tree,        Outcome::ViewChanged / Exit / Help(text)
//!              │   prefixes, `?`)    Outcome::Error(ParseError) ──▶ Session::render_error
//!   state ──▶ display::{cwmp_configuration, cwmp_status, cloud_management_state,
//!                       current_configuration, this} ──▶ text
//!   config ─▶ RunningConfig::to_commands ──▶ lines that parse back to the same config
//! ```
//!
//! ## What a Comware user can count on
//!
//! * Views `<Sysname>` (user), `[Sysname]` (`system-view`), `[Sysname-cwmp]` (`cwmp` or
//!   `cwmp 181-model`); `quit` goes up one view and ends the session from user view; `return`
//!   goes to user view.
//! * Any unambiguous prefix of a keyword, at every level, case-insensitive (`dis cw st`, `sys`,
//!   `cw acs ur http://x/acs`). Argument values are case-sensitive and taken as typed.
//! * The five Comware errors with the line echoed and a caret under the offending word:
//!   *Ambiguous*, *Unrecognized*, *Incomplete*, *Too many parameters*, *Wrong parameter*.
//!   The `%` line is indented by one space, as on Comware devices.
//! * `?` at the end of a line: after a space, what may come next with a description (and
//!   `<cr>` when the line could run); right after a partial word, the keywords completing it.
//!   [`Session::complete`] serves Tab.
//! * Values with spaces may be written in double quotes (`cwmp acs username "field tech"`);
//!   there is no escape character. A `?` is special only as the last character of a line.
//!
//! ## Choices where the sources leave room
//!
//! * Default provisioning code: `PROVISIONINGCODE` (English guide; the Chinese reference says
//!   `PROVISIONCODE`).
//! * `cwmp enable` works in the CWMP view (§8.1) and, as a shortcut, in system view.
//! * `cloud-management keepalive`: 10-3600 seconds, default 180.
//! * `cloud-management unbinding-code`: 1-64 printable characters.
//! * `undo cloud-management backup-server domain NAME` removes every entry with that name;
//!   with `port P`, only that entry. At most 8 backup servers and 1024 `ip host` entries.
//! * `cwmp cpe connect interface` takes the type and number as two words
//!   (`GigabitEthernet 1/0/1`, as in the configuration it writes) or joined
//!   (`GigabitEthernet1/0/1`, `g1/0/1`); the type may be any unique prefix either way.
//! * `Connected at` renders as the H3C samples do: `Wed Jan  27 14:18:40 2016` (day of month
//!   right-aligned in three columns).
//! * Passwords: see [`password`]: obfuscation at rest under a per-device key, not secrecy from
//!   someone who holds the device.
//!
//! Invariants: no `unsafe`, no panics on any input, no I/O.

pub mod command;
pub mod config;
pub mod datetime;
pub mod display;
pub mod error;
pub mod grammar;
mod lexer;
pub mod password;
pub mod session;
mod tree;
mod value;

pub use command::{BackupServer, Command, CwmpModel, DisplayTarget, Interface};
pub use config::{Applied, CloudConfig, CwmpConfig, RunningConfig};
pub use datetime::DateTime;
pub use error::{ErrorKind, ParseError};
pub use password::{Password, PasswordError, decrypt_password, encrypt_password};
pub use session::{Outcome, Session, View};
