//! The `telemetry` service (protocol §7.4): samples at the interval the server asks.
//!
//! Owns: the sampling schedule and [`sample`]: uptime, CPU and memory from the host data
//! model (`Device.DeviceInfo.`, served by the host handlers from `/proc`), interface counters
//! from `/sys/class/net/*/statistics` under the host root. Must not touch: the
//! subconnection's liveness.

use std::sync::Arc;
use std::time::Duration;

use tether_cloudlink::message::{InterfaceCounters, Telemetry};
use tether_datamodel::Value;
use tokio::time::Instant;

use crate::cloud::services::channel::{Channel, ChannelEnd};
use crate::context::AgentContext;

/// Serves the `telemetry` subconnection until it ends.
pub async fn serve(ctx: &Arc<AgentContext>, channel: &mut Channel) -> ChannelEnd {
    let mut interval: Option<Duration> = None;
    let mut next = Instant::now();
    let mut seq: u64 = 0;
    loop {
        let due = async {
            match interval {
                Some(_) => tokio::time::sleep_until(next).await,
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            msg = channel.recv::<Telemetry>() => {
                match msg {
                    Ok(Telemetry::Subscribe { interval: 0 }) => interval = None,
                    Ok(Telemetry::Subscribe { interval: secs }) => {
                        interval = Some(Duration::from_secs(u64::from(secs)));
                        // The first sample right away, then one per interval.
                        next = Instant::now();
                    }
                    Ok(_) => {}
                    Err(end) => return end,
                }
            }
            () = due => {
                seq += 1;
                if let Err(end) = channel.send(&sample(ctx, seq)).await {
                    return end;
                }
                let step = interval.unwrap_or(Duration::from_secs(60));
                next += step;
                if next <= Instant::now() {
                    next = Instant::now() + step;
                }
            }
        }
    }
}

/// One sample of the host.
pub fn sample(ctx: &AgentContext, seq: u64) -> Telemetry {
    let (uptime, cpu, mem_total_kib, mem_free_kib) = {
        let model = ctx.model();
        let num = |path: &str| match model.get(path) {
            Ok(Value::UnsignedInt(n)) => u64::from(n),
            _ => 0,
        };
        (
            num("Device.DeviceInfo.UpTime"),
            num("Device.DeviceInfo.ProcessStatus.CPUUsage"),
            num("Device.DeviceInfo.MemoryStatus.Total"),
            num("Device.DeviceInfo.MemoryStatus.Free"),
        )
    };
    let host = ctx.host();
    let interfaces = host
        .interfaces()
        .into_iter()
        .map(|i| {
            let stat = |f: &str| {
                host.read_number(&host.interface_file(&i.name, &format!("statistics/{f}")))
                    .unwrap_or(0)
            };
            let flags = host
                .read_number(&host.interface_file(&i.name, "flags"))
                .unwrap_or(0);
            let oper = host.read_trimmed(&host.interface_file(&i.name, "operstate"));
            let up = match oper.as_deref() {
                Some("up") => true,
                Some("unknown") => flags & 1 == 1,
                _ => false,
            };
            InterfaceCounters {
                up,
                rx_bytes: stat("rx_bytes"),
                tx_bytes: stat("tx_bytes"),
                rx_packets: stat("rx_packets"),
                tx_packets: stat("tx_packets"),
                rx_errors: stat("rx_errors"),
                tx_errors: stat("tx_errors"),
                name: i.name,
            }
        })
        .collect();
    let total = mem_total_kib * 1024;
    Telemetry::Sample {
        seq,
        uptime,
        cpu_permille: u16::try_from((cpu * 10).min(1000)).unwrap_or(1000),
        memory_used: total.saturating_sub(mem_free_kib * 1024),
        memory_total: total,
        interfaces,
    }
}
