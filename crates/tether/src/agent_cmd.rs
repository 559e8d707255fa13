//! `tether agent` and `tether cli`: command-line flags layered over the agent's configuration
//! (defaults, then the TOML file, then `TETHER_AGENT_*` variables, then these flags).

use clap::Args;
use figment::providers::Serialized;
use serde::Serialize;
use std::path::PathBuf;
use std::process::ExitCode;
use tether_agent::config::{AgentConfig, CONTROL_SOCKET_NAME, DEFAULT_STATE_DIR};

#[derive(Debug, Args)]
pub struct AgentArgs {
    /// A TOML configuration file.
    #[arg(long, short = 'c')]
    config: Option<PathBuf>,
    /// Overrides: flags beat the file and the environment.
    #[command(flatten)]
    overrides: AgentOverrides,
}

#[derive(Debug, Args, Serialize)]
struct AgentOverrides {
    /// Where the agent keeps its configuration and state (default ./tether-agent-data).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    state_dir: Option<PathBuf>,
    /// The device name shown in CLI prompts.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    sysname: Option<String>,
    /// A DHCP lease file to read option 43 (ACS discovery) from.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    dhcp_lease_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CliArgs {
    /// Run one command and exit (for scripts), e.g. -c "display cwmp status".
    #[arg(short = 'c', long = "command")]
    command: Option<String>,
    /// The agent's control socket (default <state dir>/control.sock).
    #[arg(long)]
    socket: Option<PathBuf>,
    /// The agent's state directory, to find its control socket.
    #[arg(long, default_value = DEFAULT_STATE_DIR)]
    state_dir: PathBuf,
}

pub fn agent(args: AgentArgs) -> ExitCode {
    let figment =
        AgentConfig::figment(args.config.as_deref()).merge(Serialized::defaults(&args.overrides));
    match AgentConfig::from_figment(&figment) {
        Ok(config) => tether_agent::agent_main(config),
        Err(e) => {
            eprintln!("tether agent: {e}");
            ExitCode::from(2)
        }
    }
}

pub fn cli(args: CliArgs) -> ExitCode {
    let socket = args
        .socket
        .unwrap_or_else(|| args.state_dir.join(CONTROL_SOCKET_NAME));
    tether_agent::cli_main(&socket, args.command)
}
