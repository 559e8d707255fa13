//! # tether-agent: the device side of Tether
//!
//! `tether agent` runs on a Linux host and makes it a TR-069 CPE with an H3C Comware-style
//! CLI. This crate is its library: everything but the protocol state machines, which live in
//! the pure crates (`tether-cwmp`, `tether-datamodel`, `tether-cli`) and are driven from here.
//!
//! ```text
//!            tether cli ──unix socket──▶ control::server ──▶ control::exec ─┐
//!                                         (Session per conn)                │ apply (Setter::Cli)
//!   ACS ◀──▶ CWMP driver (next) ─▶ AgentContext::model() ─▶ mapping ───────┤ apply (Setter::Acs)
//!                                        │   host::* handlers              ▼
//!                                        │   (/proc, /sys)           running::Running ──▶ running.cfg,
//!                                        ▼                                │               agent.json
//!                                  datamodel.json                  watch: ConfigSnapshot ──▶ drivers
//! ```
//!
//! * [`config`]: the agent's typed configuration (TOML, `TETHER_AGENT_*`, flags).
//! * [`state`]: the state directory and its files; [`atomic`]: crash-safe writes.
//! * [`running`]: the shared Comware running configuration; [`acs`]: ACS source priorities.
//! * [`mapping`]: the CLI ↔ TR-181 mapping (H3C-04) as a data-model handler.
//! * [`host`]: data-model handlers serving the host's real values.
//! * [`status`]: live CWMP status for `display cwmp status`.
//! * [`context`]: [`AgentContext`], the state every part shares.
//! * [`control`]: the control socket and the `tether cli` client.
//! * [`cwmp`]: the CWMP client (sessions, RPCs, events, connection requests).
//! * [`cloud`]: the cloud connection client and its services (`cloud-management ...`).
//! * [`agent`]: [`Agent::start`] and [`AgentHandle`].
//! * [`sim`]: [`sim::SimDevice`], the agent over in-memory state for `tether sim`.
//!
//! The binary calls [`agent_main`] and [`cli_main`]; both keep to a current-thread runtime
//! (or none) to stay small when idle.

pub mod acs;
pub mod agent;
pub mod atomic;
pub mod cloud;
pub mod config;
pub mod context;
pub mod control;
pub mod cwmp;
pub mod error;
pub mod host;
pub mod mapping;
pub mod running;
pub mod sim;
pub mod state;
pub mod status;

use std::path::Path;
use std::process::ExitCode;

pub use acs::{AcsAttribute, AcsSelection, DhcpAcs, EffectiveAcs, Provenance, Setter};
pub use agent::{Agent, AgentHandle};
pub use config::AgentConfig;
pub use context::{AgentAction, AgentContext, UnbindReport};
pub use control::client::{Client, Reply, interactive, run_lines, run_one};
pub use control::protocol::End;
pub use error::AgentError;
pub use host::{HostRoot, Identity};
pub use running::{ConfigSnapshot, Running};
pub use state::StateDir;
pub use status::CwmpLive;

/// `tether cli`: with `command`, runs it once and prints the output (exit status 0, or 1 if
/// the agent rejected it); without, an interactive session. Exit status 2 when the agent
/// cannot be reached.
pub fn cli_main(socket: &Path, command: Option<String>) -> ExitCode {
    let unreachable = |e: std::io::Error| {
        eprintln!("tether cli: agent at {}: {e}", socket.display());
        ExitCode::from(2)
    };
    match command {
        Some(line) => match run_one(socket, &line) {
            Ok(reply) => {
                print!("{}", reply.output);
                if reply.is_error() {
                    ExitCode::FAILURE
                } else {
                    ExitCode::SUCCESS
                }
            }
            Err(e) => unreachable(e),
        },
        None => match interactive(socket) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => unreachable(e),
        },
    }
}

/// `tether agent`: starts the agent on a current-thread runtime and runs it until SIGINT or
/// SIGTERM. The CWMP driver and the cloud client will be started here once they exist.
pub fn agent_main(config: AgentConfig) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tether agent: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let handle = match Agent::start(config).await {
            Ok(handle) => handle,
            Err(e) => {
                eprintln!("tether agent: {e}");
                return ExitCode::FAILURE;
            }
        };
        match handle.run_until_signal().await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("tether agent: {e}");
                ExitCode::FAILURE
            }
        }
    })
}
