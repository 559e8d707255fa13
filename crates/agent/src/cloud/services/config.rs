//! The `config` service (protocol §7.3): the running configuration for the cloud, and
//! commands from the cloud.
//!
//! Owns: `get_running` (the `display current-configuration` text), `apply` (each command run
//! from system view through the same path as the local CLI,
//! [`crate::control::exec::execute_async`], with its own result), and the change
//! notification: after the running configuration changes on the device, an unsolicited
//! `running` with `id` 0 carries the new text. Must not touch: the subconnection's liveness.

use std::sync::Arc;

use tether_cli::{DisplayTarget, Session};
use tether_cloudlink::message::{CommandResult, Config, limits};

use crate::cloud::services::channel::{Channel, ChannelEnd};
use crate::context::{AgentContext, now_unix};
use crate::control::exec::{AnswerKind, execute_async, render};

/// The `id` of an unsolicited `running` sent after a change made on the device.
pub const CHANGE_NOTICE_ID: u32 = 0;

/// Serves the `config` subconnection until it ends.
pub async fn serve(ctx: &Arc<AgentContext>, channel: &mut Channel) -> ChannelEnd {
    let mut changes = ctx.running().subscribe();
    loop {
        tokio::select! {
            msg = channel.recv::<Config>() => {
                let msg = match msg {
                    Ok(m) => m,
                    Err(end) => return end,
                };
                let reply = match msg {
                    Config::GetRunning { id } => Some(Config::Running { id, text: running_text(ctx) }),
                    Config::Apply { id, commands, stop_on_error } => {
                        let results = apply(ctx, &commands, stop_on_error).await;
                        // The apply's own changes need no separate notice.
                        changes.borrow_and_update();
                        Some(Config::ApplyResult { id, results })
                    }
                    _ => None,
                };
                if let Some(reply) = reply
                    && let Err(end) = channel.send(&reply).await
                {
                    return end;
                }
            }
            changed = changes.changed() => {
                if changed.is_err() {
                    return ChannelEnd::Io;
                }
                changes.borrow_and_update();
                let notice = Config::Running { id: CHANGE_NOTICE_ID, text: running_text(ctx) };
                if let Err(end) = channel.send(&notice).await {
                    return end;
                }
            }
        }
    }
}

fn running_text(ctx: &AgentContext) -> String {
    let session = Session::new(ctx.config().sysname.clone(), ctx.running().key().as_bytes());
    render(
        ctx,
        &session,
        DisplayTarget::CurrentConfiguration,
        now_unix(),
    )
}

/// Runs `commands` from system view, in order; stops after the first failure if asked.
pub async fn apply(
    ctx: &AgentContext,
    commands: &[String],
    stop_on_error: bool,
) -> Vec<CommandResult> {
    let mut session = Session::new(ctx.config().sysname.clone(), ctx.running().key().as_bytes());
    let _ = execute_async(ctx, &mut session, "system-view", now_unix()).await;
    let mut results = Vec::with_capacity(commands.len().min(limits::MAX_APPLY_COMMANDS));
    for command in commands.iter().take(limits::MAX_APPLY_COMMANDS) {
        let answer = execute_async(ctx, &mut session, command, now_unix()).await;
        let ok = answer.outcome != AnswerKind::Error;
        results.push(CommandResult {
            command: command.clone(),
            ok,
            output: answer.output,
        });
        if !ok && stop_on_error {
            break;
        }
    }
    results
}
