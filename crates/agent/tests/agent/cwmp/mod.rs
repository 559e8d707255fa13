//! The CWMP client end to end against a test ACS written from the specification
//! ([`acs`]): real sockets, real state files, the agent as `tether agent` runs it (minus the
//! binary). Every message the agent sends in a test is validated against the BBF schemas
//! (strict envelope wrapper, one `xmllint` run per test) at the end of that test.

mod acs;
mod connection_requests;
mod rpcs;
mod sessions;
mod transfers;

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tether_agent::acs::Setter;
use tether_agent::{Agent, AgentConfig, AgentContext, AgentHandle};
use tether_cli::{Command, Password};
use tether_cwmp::CwmpNamespace;

pub use acs::{Acs, all_tag_texts, events_of, events_with_keys, method_of, param, tag_text};

/// An agent configuration for tests: state under `dir`, connection requests on 127.0.0.1 at a
/// free port, no cloud client.
pub fn cpe_config(dir: &Path) -> AgentConfig {
    let mut config = AgentConfig {
        state_dir: dir.join("state"),
        ..AgentConfig::default()
    };
    config.connection_request.address = IpAddr::V4(Ipv4Addr::LOCALHOST);
    config.connection_request.port = 0;
    config.cloud.enabled = false;
    config.cwmp.value_poll_secs = 1;
    config
}

/// Starts an agent over a prepared host tree under `dir`.
pub async fn start(dir: &Path, config: AgentConfig) -> AgentHandle {
    let host = super::fake_host(&dir.join("host"));
    Agent::start_with_host(config, host).await.unwrap()
}

/// Applies a CLI command as the operator would.
pub fn cli(ctx: &AgentContext, command: Command) {
    ctx.apply_config(&command, Setter::Cli, tether_agent::context::now_unix())
        .unwrap();
}

/// A `simple` password under the agent's device key.
pub fn password(ctx: &AgentContext, plain: &str) -> Password {
    Password::from_simple(plain, ctx.running().key().as_bytes()).unwrap()
}

/// `cwmp enable` + `cwmp acs url URL`.
pub fn point_at(ctx: &Arc<AgentContext>, url: &str) {
    cli(ctx, Command::CwmpEnable(true));
    cli(ctx, Command::CwmpAcsUrl(Some(url.to_owned())));
}

/// Waits (real time) until the agent has sent `n` Informs to `acs`, and returns them.
pub async fn informs(acs: &Acs, n: usize) -> Vec<String> {
    acs.wait_for(30, &format!("{n} informs"), |s| s.informs.len() >= n)
        .await;
    acs.informs()
}

/// Asserts that no new Inform reaches `acs` within `millis`.
pub async fn no_inform_within(acs: &Acs, millis: u64) {
    let before = acs.informs().len();
    tokio::time::sleep(Duration::from_millis(millis)).await;
    assert_eq!(
        acs.informs().len(),
        before,
        "unexpected Inform: {:?}",
        acs.informs().last()
    );
}

/// Validates every body against the strict CWMP 1.2-1.4 schema in one `xmllint` run and
/// asserts that all are valid. Panics if `xmllint` is missing.
pub fn assert_schema_valid(bodies: &[String]) {
    assert!(!bodies.is_empty(), "nothing to validate");
    let dir = tempfile::tempdir().unwrap();
    for (path, contents) in tether_cwmp::schemas::FILES {
        let file = dir.path().join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, contents).unwrap();
    }
    let mut files = Vec::new();
    for (i, body) in bodies.iter().enumerate() {
        let file = dir.path().join(format!("m{i:05}.xml"));
        std::fs::write(&file, body).unwrap();
        files.push(file);
    }
    let output = std::process::Command::new("xmllint")
        .current_dir(dir.path())
        .env("XML_CATALOG_FILES", dir.path().join("catalog.xml"))
        .args(["--noout", "--nonet", "--schema"])
        .arg(tether_cwmp::schemas::strict_schema_for(CwmpNamespace::V1_2))
        .args(&files)
        .output()
        .expect("xmllint must be installed (libxml2-utils)");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let valid = stderr.lines().filter(|l| l.ends_with(" validates")).count();
    assert_eq!(
        valid,
        bodies.len(),
        "schema validation failed:\n{stderr}\nbodies:\n{}",
        bodies.join("\n----\n")
    );
}

/// The agent's ConnectionRequestURL as sent in an Inform.
pub fn cr_url(inform: &str) -> String {
    param(inform, "Device.ManagementServer.ConnectionRequestURL").expect("ConnectionRequestURL")
}
