//! Memory and CPU of a process, read from `/proc` (Linux): what the benchmarks report for the
//! server under load and for the simulator itself.
//!
//! Owns [`ProcSample`] (one reading), [`Sampler`] (a background task that samples a process at
//! an interval and keeps the peaks) and [`ProcReport`] (what a run reports). CPU time is
//! `utime + stime` in clock ticks of 1/100 s (`USER_HZ`, 100 on every Linux architecture
//! Tether runs on), so figures are accurate to 10 ms of CPU over a run.
//!
//! Must not touch: anything but `/proc/<pid>/stat` and `/proc/<pid>/status`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio_util::sync::CancellationToken;

/// Clock ticks per second of `/proc/<pid>/stat` times.
const USER_HZ: f64 = 100.0;

/// One reading of a process.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct ProcSample {
    /// Resident set size, bytes.
    pub rss_bytes: u64,
    /// Anonymous resident memory (heap and stacks), bytes.
    pub rss_anon_bytes: u64,
    /// User + system CPU time since the process started, seconds.
    pub cpu_seconds: f64,
    /// Threads.
    pub threads: u64,
}

impl ProcSample {
    /// Reads `/proc/<pid>`; `None` if the process is gone or not readable.
    pub fn read(pid: u32) -> Option<ProcSample> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // The command name may hold spaces and parentheses: fields start after the last ')'.
        let after = &stat[stat.rfind(')')? + 1..];
        let fields: Vec<&str> = after.split_whitespace().collect();
        // After the name: state is field 3 (index 0 here); utime 14, stime 15 (indexes 11, 12).
        let utime: f64 = fields.get(11)?.parse().ok()?;
        let stime: f64 = fields.get(12)?.parse().ok()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let kib = |key: &str| -> u64 {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0)
        };
        Some(ProcSample {
            rss_bytes: kib("VmRSS:") * 1024,
            rss_anon_bytes: kib("RssAnon:") * 1024,
            cpu_seconds: (utime + stime) / USER_HZ,
            threads: kib("Threads:"),
        })
    }

    /// This process.
    pub fn own() -> Option<ProcSample> {
        ProcSample::read(std::process::id())
    }
}

/// What a run reports for one process.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ProcReport {
    /// The process id.
    pub pid: u32,
    /// At the start of the measured window.
    pub start: ProcSample,
    /// At the end of the measured window.
    pub end: ProcSample,
    /// Highest RSS seen, bytes.
    pub peak_rss_bytes: u64,
    /// Highest CPU use over one sampling interval, in cores (1.0 = one core busy).
    pub peak_cpu_cores: f64,
    /// CPU seconds used in the window.
    pub cpu_seconds: f64,
    /// Average CPU use over the window, in cores.
    pub avg_cpu_cores: f64,
    /// Length of the window, seconds.
    pub window_seconds: f64,
}

#[derive(Debug, Default)]
struct Peaks {
    last: Option<(Instant, ProcSample)>,
    peak_rss: u64,
    peak_cpu: f64,
}

/// Samples a process in the background (see the module docs).
#[derive(Debug)]
pub struct Sampler {
    pid: u32,
    started: Instant,
    start: ProcSample,
    peaks: Arc<Mutex<Peaks>>,
    stop: CancellationToken,
}

impl Sampler {
    /// Starts sampling `pid` every `every` on the current tokio runtime.
    pub fn start(pid: u32, every: Duration) -> Sampler {
        let start = ProcSample::read(pid).unwrap_or_default();
        let now = Instant::now();
        let peaks = Arc::new(Mutex::new(Peaks {
            last: Some((now, start)),
            peak_rss: start.rss_bytes,
            peak_cpu: 0.0,
        }));
        let stop = CancellationToken::new();
        let (p, s) = (Arc::clone(&peaks), stop.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = s.cancelled() => return,
                    _ = tick.tick() => {}
                }
                let Some(sample) = ProcSample::read(pid) else {
                    return;
                };
                let now = Instant::now();
                let mut peaks = p.lock().unwrap_or_else(|e| e.into_inner());
                peaks.peak_rss = peaks.peak_rss.max(sample.rss_bytes);
                if let Some((at, prev)) = peaks.last {
                    let dt = now.duration_since(at).as_secs_f64();
                    if dt > 0.05 {
                        let cores = (sample.cpu_seconds - prev.cpu_seconds) / dt;
                        peaks.peak_cpu = peaks.peak_cpu.max(cores);
                    }
                }
                peaks.last = Some((now, sample));
            }
        });
        Sampler {
            pid,
            started: now,
            start,
            peaks,
            stop,
        }
    }

    /// The latest sample taken.
    pub fn latest(&self) -> ProcSample {
        let peaks = self.peaks.lock().unwrap_or_else(|e| e.into_inner());
        peaks.last.map(|(_, s)| s).unwrap_or(self.start)
    }

    /// Stops sampling and reports the window since [`Sampler::start`].
    pub fn finish(self) -> ProcReport {
        self.stop.cancel();
        let end = ProcSample::read(self.pid).unwrap_or_else(|| self.latest());
        let window = self.started.elapsed().as_secs_f64();
        let peaks = self.peaks.lock().unwrap_or_else(|e| e.into_inner());
        let cpu = (end.cpu_seconds - self.start.cpu_seconds).max(0.0);
        ProcReport {
            pid: self.pid,
            start: self.start,
            end,
            peak_rss_bytes: peaks.peak_rss.max(end.rss_bytes),
            peak_cpu_cores: peaks.peak_cpu,
            cpu_seconds: cpu,
            avg_cpu_cores: if window > 0.0 { cpu / window } else { 0.0 },
            window_seconds: window,
        }
    }
}

/// The 1-minute load average, for the record of a run.
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_its_own_process() {
        let s = ProcSample::own().expect("/proc is readable");
        assert!(s.rss_bytes > 0);
        assert!(s.threads >= 1);
    }
}
