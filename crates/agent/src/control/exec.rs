//! What one CLI line does inside the agent.
//!
//! Owns [`execute`]: a line goes to the connection's [`Session`] (views, `?`, parse errors
//! with Comware's caret); a [`Command`] that comes back is carried out against the shared
//! [`AgentContext`]: configuration is applied and saved as [`Setter::Cli`], `display` is
//! rendered from the live state, actions are announced.
//!
//! Must not touch: sockets or framing (see `server.rs`, `protocol.rs`).

use tether_cli::{Applied, Command, DisplayTarget, Session, display};

use std::time::Duration;

use crate::acs::Setter;
use crate::context::{AgentAction, AgentContext};
use crate::status::cwmp_status;

/// The agent's answer to one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// Text to show, each line ending in `\n` (may be empty).
    pub output: String,
    /// How the line went.
    pub outcome: AnswerKind,
}

/// How a line went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerKind {
    /// Done.
    Ok,
    /// Rejected or failed; `output` says why.
    Error,
    /// The session ended (`quit` in user view).
    Exit,
}

impl Answer {
    fn ok(output: impl Into<String>) -> Answer {
        Answer {
            output: output.into(),
            outcome: AnswerKind::Ok,
        }
    }

    fn error(output: impl Into<String>) -> Answer {
        Answer {
            output: output.into(),
            outcome: AnswerKind::Error,
        }
    }
}

/// How long a CLI line waits for the cloud's verdict on an unbinding code.
pub const UNBIND_WAIT: Duration = Duration::from_secs(30);

/// Runs `line` in `session` at `now_unix`, as [`execute`] does, except that
/// `cloud-management unbinding-code CODE` waits (at most [`UNBIND_WAIT`]) for the cloud's
/// verdict and shows it. Every CLI front end (the control socket, the cloud `terminal` and
/// `config` services) runs lines through here.
pub async fn execute_async(
    ctx: &AgentContext,
    session: &mut Session,
    line: &str,
    now_unix: i64,
) -> Answer {
    let Ok(Command::CloudUnbindingCode(code)) = session.parse(line) else {
        return execute(ctx, session, line, now_unix);
    };
    let mut verdicts = ctx.subscribe_unbind();
    if ctx.announce(AgentAction::CloudUnbindingCode(code.clone())) == 0 {
        return Answer::error("% The cloud connection client is not running.\n");
    }
    let wait = async {
        loop {
            match verdicts.recv().await {
                Ok(report) if report.code == code => return Some(report),
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    };
    match tokio::time::timeout(UNBIND_WAIT, wait).await {
        Ok(Some(report)) if report.ok => Answer::ok(format!("{}\n", report.message)),
        Ok(Some(report)) => Answer::error(format!("% {}\n", report.message)),
        _ => Answer::error("% No answer from the cloud server to the unbinding code.\n"),
    }
}

/// Runs `line` in `session` at `now_unix`.
pub fn execute(ctx: &AgentContext, session: &mut Session, line: &str, now_unix: i64) -> Answer {
    match session.execute(line) {
        tether_cli::Outcome::Nothing | tether_cli::Outcome::ViewChanged(_) => Answer::ok(""),
        tether_cli::Outcome::Exit => Answer {
            output: String::new(),
            outcome: AnswerKind::Exit,
        },
        tether_cli::Outcome::Help(text) => Answer::ok(text),
        tether_cli::Outcome::Error(e) => Answer::error(session.render_error(line, &e)),
        tether_cli::Outcome::Run(command) => run(ctx, session, &command, now_unix),
    }
}

fn run(ctx: &AgentContext, session: &Session, command: &Command, now_unix: i64) -> Answer {
    match command {
        Command::Display(target) => Answer::ok(render(ctx, session, *target, now_unix)),
        Command::ResetCloudTunnel => {
            ctx.announce(AgentAction::ResetCloudTunnel);
            Answer::ok("")
        }
        Command::CloudUnbindingCode(code) => {
            ctx.announce(AgentAction::CloudUnbindingCode(code.clone()));
            Answer::ok("")
        }
        Command::CwmpCpeInformTime(Some(t)) if t.to_unix() <= now_unix => {
            Answer::error("The inform time must be later than the current time.\n")
        }
        _ => match ctx.apply_config(command, Setter::Cli, now_unix) {
            Ok(Applied::Changed | Applied::Unchanged | Applied::NotConfig) => Answer::ok(""),
            Ok(Applied::Refused(why)) => Answer::error(format!("{why}\n")),
            Err(e) => {
                tracing::error!(error = %e, "saving the configuration failed");
                Answer::error(format!(
                    "Failed to save the configuration; nothing was changed: {e}\n"
                ))
            }
        },
    }
}

/// The text of a `display` command.
pub fn render(
    ctx: &AgentContext,
    session: &Session,
    target: DisplayTarget,
    now_unix: i64,
) -> String {
    let running = ctx.running();
    match target {
        DisplayTarget::CwmpConfiguration => {
            running.with(|c, _| display::cwmp_configuration(&c.cwmp))
        }
        DisplayTarget::CwmpStatus => {
            let live = ctx.cwmp_live();
            running.with(|c, sel| {
                let acs = sel.effective(&c.cwmp);
                display::cwmp_status(&cwmp_status(&live, &c.cwmp, acs.as_ref(), now_unix))
            })
        }
        DisplayTarget::CloudManagementState => {
            let mut state = ctx.cloud_state();
            // `Duration` is live: counted from `Connected at` to now.
            if let Some(at) = state.connected_at {
                state.duration_secs = Some(u64::try_from(now_unix - at.to_unix()).unwrap_or(0));
            }
            display::cloud_management_state(&state)
        }
        DisplayTarget::CurrentConfiguration => {
            running.with(|c, _| display::current_configuration(c))
        }
        DisplayTarget::This => running.with(|c, _| display::this(session.view(), c)),
    }
}
