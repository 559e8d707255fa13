//! `tether`: one binary for every role. This file only parses the command line and hands each
//! subcommand to the module that owns it; errors become messages and exit codes here.

mod agent_cmd;
mod cwmp_tool;

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
    Server,
    /// Run the device side: CWMP client, cloud-connection client, local CLI socket.
    Agent(agent_cmd::AgentArgs),
    /// Attach to a running agent's Comware-style CLI.
    Cli(agent_cmd::CliArgs),
    /// Simulate a fleet of devices against a server.
    Sim,
    /// Operate a server from a terminal through its REST API.
    Ctl,
    /// Work with captured CWMP messages.
    Cwmp {
        #[command(subcommand)]
        command: cwmp_tool::CwmpCommand,
    },
}

fn not_built_yet(name: &str) -> ExitCode {
    eprintln!("tether {name}: not built yet in this version of Tether (see the project's issues)");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Server => not_built_yet("server"),
        Command::Agent(args) => agent_cmd::agent(args),
        Command::Cli(args) => agent_cmd::cli(args),
        Command::Sim => not_built_yet("sim"),
        Command::Ctl => not_built_yet("ctl"),
        Command::Cwmp { command } => cwmp_tool::run(command),
    }
}
