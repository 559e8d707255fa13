//! `tether`: one binary for every role. This file only parses the command line and hands each
//! subcommand to the module that owns it; errors become messages and exit codes here. The
//! roles a device does not need (`server`, `sim`, `ctl`, `cwmp`) are cargo features, on by
//! default and left out of device builds (`--no-default-features`).

mod agent_cmd;
#[cfg(feature = "ctl")]
mod ctl;
#[cfg(feature = "cwmp-tool")]
mod cwmp_tool;
#[cfg(feature = "sim")]
mod sim_cmd;

/// Builds that serve fleets use mimalloc: glibc kept ~5 KiB per idle cloud connection of
/// memory freed after a connection burst (233 MiB of arenas for 130 MiB in use at 4,500
/// devices), and its arena locks showed in the CWMP profile. BENCHMARKS.md has the figures.
#[cfg(any(feature = "server", feature = "sim"))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Tether: manage network devices from the cloud (TR-069/CWMP and cloud-connection tunnels).
#[derive(Debug, Parser)]
#[command(name = "tether", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the cloud side: CWMP ACS, cloud-connection server, REST API, web UI.
    #[cfg(feature = "server")]
    Server(tether_server::config::ServerArgs),
    /// Run the device side: CWMP client, cloud-connection client, local CLI socket.
    Agent(agent_cmd::AgentArgs),
    /// Attach to a running agent's Comware-style CLI.
    Cli(agent_cmd::CliArgs),
    /// Simulate a fleet of devices against a server; load and ceilings for benchmarks.
    #[cfg(feature = "sim")]
    Sim(sim_cmd::SimArgs),
    /// Operate a server from a terminal through its REST API.
    #[cfg(feature = "ctl")]
    Ctl(ctl::CtlArgs),
    /// Work with captured CWMP messages.
    #[cfg(feature = "cwmp-tool")]
    Cwmp {
        #[command(subcommand)]
        command: cwmp_tool::CwmpCommand,
    },
}

#[cfg(feature = "server")]
fn server(args: tether_server::config::ServerArgs) -> ExitCode {
    let config = match tether_server::config::ServerConfig::load(&args) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("tether server: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tether server: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(tether_server::run(
        config,
        tether_server::termination_signal(),
    )) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tether server: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Logs go to standard error; `RUST_LOG` (e.g. `RUST_LOG=tether_server=debug`) overrides the
/// default level, `info`.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        #[cfg(feature = "server")]
        Command::Server(args) => {
            init_logging();
            server(args)
        }
        Command::Agent(args) => {
            init_logging();
            agent_cmd::agent(args)
        }
        Command::Cli(args) => agent_cmd::cli(args),
        #[cfg(feature = "sim")]
        Command::Sim(args) => sim_cmd::sim(args),
        #[cfg(feature = "ctl")]
        Command::Ctl(args) => ctl::run(args),
        #[cfg(feature = "cwmp-tool")]
        Command::Cwmp { command } => cwmp_tool::run(command),
    }
}
