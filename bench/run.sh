#!/usr/bin/env bash
# Tether's benchmarks: each starts everything it needs (a server on a fresh store, the ceiling
# server, simulators), measures, stops everything and prints a table. Figures and method:
# BENCHMARKS.md.
#
#   bench/run.sh [cwmp|cwmp-tls|footprint|task|all]
#
# Not yet scripted (see BENCHMARKS.md): bootstrap, tunnels, storm.
#
# Environment (defaults in brackets):
#   DURATION [15]     measured seconds per figure      WARMUP [3]   seconds before measuring
#   CONCURRENCY [32]  sessions in flight               DEVICES [2000] distinct serials
#   BIN               a prebuilt `tether` binary; otherwise release binaries are built once
#   OUT [bench/out]   JSON summaries are kept here     SMOKE=1      tiny fleet, seconds (tests)
#
# Load goes to loopback only; every process started here is stopped by the exit trap.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DURATION="${DURATION:-15}"
WARMUP="${WARMUP:-3}"
CONCURRENCY="${CONCURRENCY:-32}"
DEVICES="${DEVICES:-2000}"
OUT="${OUT:-$ROOT/bench/out}"
if [[ "${SMOKE:-0}" == 1 ]]; then
    DURATION=1; WARMUP=0; CONCURRENCY=4; DEVICES=20
fi
mkdir -p "$OUT"
WORK="$(mktemp -d /tmp/tether-bench.XXXXXX)"
PIDS=()

cleanup() {
    for pid in "${PIDS[@]:-}"; do
        [[ -n "$pid" ]] && kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]:-}"; do
        [[ -n "$pid" ]] && wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

if [[ -z "${BIN:-}" ]]; then
    echo "building release binaries..." >&2
    (cd "$ROOT" && cargo build --release -q -p tether)
    BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/tether"
fi

note() { printf '%s\n' "$*" >&2; }

wait_port() { # host port
    for _ in $(seq 1 200); do
        if (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; then return 0; fi
        sleep 0.05
    done
    note "nothing listens on $1:$2"; return 1
}

# start_server NAME [cwmp-tls]: a fresh data dir and store; sets SERVER_PID, SERVER_DIR.
start_server() {
    SERVER_DIR="$WORK/$1"
    mkdir -p "$SERVER_DIR"
    local tls_mode=off
    [[ "${2:-}" == cwmp-tls ]] && tls_mode=self_signed
    cat >"$SERVER_DIR/server.toml" <<EOF
data_dir = "$SERVER_DIR/data"
[cwmp]
listen = "127.0.0.1:27547"
[cwmp.tls]
mode = "$tls_mode"
[cwmp.auth]
require = false
[cwmp.connection_request]
provision_credentials = ${PROVISION:-false}
[api]
listen = "127.0.0.1:27557"
[cloud]
listen = "127.0.0.1:27443"
[admin]
password = "bench-admin-password"
[limits]
max_connections = 15000
EOF
    RUST_LOG="${SERVER_LOG:-info}" "$BIN" server --config "$SERVER_DIR/server.toml" \
        >"$SERVER_DIR/stdout.log" 2>"$SERVER_DIR/stderr.log" &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    wait_port 127.0.0.1 27547
    sleep 0.3
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        note "tether server did not start:"; cat "$SERVER_DIR/stderr.log" >&2; return 1
    fi
}

stop_server() {
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
}

# start_ceiling [tls]: sets CEILING_PID, CEILING_URL, CEILING_CA.
start_ceiling() {
    local args=(sim ceiling --listen 127.0.0.1:0 --max-seconds 900)
    CEILING_CA="$WORK/ceiling-cert.pem"
    [[ "${1:-}" == tls ]] && args+=(--tls --cert-out "$CEILING_CA")
    "$BIN" "${args[@]}" >"$WORK/ceiling.out" 2>"$WORK/ceiling.err" &
    CEILING_PID=$!
    PIDS+=("$CEILING_PID")
    for _ in $(seq 1 100); do
        [[ -s "$WORK/ceiling.out" ]] && break
        sleep 0.05
    done
    local addr
    addr="$(jq -r .listen "$WORK/ceiling.out")"
    if [[ "${1:-}" == tls ]]; then CEILING_URL="https://$addr/"; else CEILING_URL="http://$addr/"; fi
}

stop_ceiling() {
    kill "$CEILING_PID" 2>/dev/null || true
    wait "$CEILING_PID" 2>/dev/null || true
}

load() { # name url pid [extra args...]
    local name="$1" url="$2" pid="$3"
    shift 3
    note "== $name: $url"
    "$BIN" sim load --url "$url" --concurrency "$CONCURRENCY" --duration "$DURATION" \
        --warmup "$WARMUP" --devices "$DEVICES" --prime --watch-pid "$pid" --json "$OUT/$name.json" \
        "$@" >/dev/null
}

row() { # label json-file
    jq -r --arg name "$1" '"| \($name) | \(.concurrency) | \(.sessions_per_second|floor) | \(.latency.p50_ms) | \(.latency.p99_ms) | \(.errors) | \((.server_cpu_us_per_session // 0)|floor) µs | \((.server.peak_rss_bytes // 0)/1048576|floor) MiB | \(.load_average_before) |"' "$2"
}

header() {
    echo "| server | concurrency | sessions/s | p50 ms | p99 ms | errors | server CPU/session | server peak RSS | load avg before |"
    echo "|---|---|---|---|---|---|---|---|---|"
}

ratio() { # label tether-json ceiling-json goal
    jq -rn --arg name "$1" --slurpfile t "$2" --slurpfile c "$3" --arg goal "$4" \
        '($t[0].sessions_per_second / $c[0].sessions_per_second * 100 | floor) as $r
         | "\($name): tether = \($r) % of the ceiling (goal \($goal) %): \(if $r >= ($goal|tonumber) then "met" else "NOT met" end)"'
}

bench_cwmp() {
    start_ceiling
    load cwmp-ceiling "$CEILING_URL" "$CEILING_PID"
    stop_ceiling
    start_server cwmp
    load cwmp-tether "http://127.0.0.1:27547/" "$SERVER_PID"
    stop_server
    echo
    echo "### CWMP sessions, plain HTTP ($(date -u +%F), $(nproc) cores, ${DURATION}s)"
    header
    row "ceiling (hyper, no parsing)" "$OUT/cwmp-ceiling.json"
    row "tether server (SQLite)" "$OUT/cwmp-tether.json"
    ratio "plain HTTP" "$OUT/cwmp-tether.json" "$OUT/cwmp-ceiling.json" 50
}

bench_cwmp_tls() {
    start_ceiling tls
    load cwmp-tls-ceiling "$CEILING_URL" "$CEILING_PID" --ca-file "$CEILING_CA"
    stop_ceiling
    start_server cwmp-tls cwmp-tls
    load cwmp-tls-tether "https://127.0.0.1:27547/" "$SERVER_PID" \
        --ca-file "$SERVER_DIR/data/tls/self-signed-cert.pem"
    stop_server
    echo
    echo "### CWMP sessions, HTTPS, full handshakes ($(date -u +%F), $(nproc) cores, ${DURATION}s)"
    header
    row "ceiling (hyper + rustls, no parsing)" "$OUT/cwmp-tls-ceiling.json"
    row "tether server (SQLite)" "$OUT/cwmp-tls-tether.json"
    ratio "HTTPS" "$OUT/cwmp-tls-tether.json" "$OUT/cwmp-tls-ceiling.json" 70
}

bench_footprint() {
    local dir="$WORK/agent"
    mkdir -p "$dir"
    "$BIN" agent --state-dir "$dir/state" >"$dir/out.log" 2>"$dir/err.log" &
    local pid=$!
    PIDS+=("$pid")
    sleep "${FOOTPRINT_SETTLE:-3}"
    local rss anon threads
    rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")
    anon=$(awk '/^RssAnon:/ {print $2}' "/proc/$pid/status")
    threads=$(awk '/^Threads:/ {print $2}' "/proc/$pid/status")
    kill "$pid"; wait "$pid" 2>/dev/null || true
    jq -n --argjson rss "$rss" --argjson anon "$anon" --argjson threads "$threads" \
        '{kind: "footprint", agent_rss_kib: $rss, agent_rss_anon_kib: $anon, agent_threads: $threads}' \
        >"$OUT/footprint.json"
    echo
    echo "### Footprint ($(date -u +%F))"
    echo "| process | RSS | anonymous | threads |"
    echo "|---|---|---|---|"
    echo "| tether agent, idle, no ACS configured | $((rss)) KiB | $((anon)) KiB | $threads |"
}

# Memory per simulated device: a CWMP fleet (agent library, one process) against a server.
bench_fleet_memory() {
    local n="${FLEET_DEVICES:-2000}"
    [[ "${SMOKE:-0}" == 1 ]] && n=20
    start_server fleet
    note "== fleet of $n devices"
    "$BIN" sim fleet --acs-url http://127.0.0.1:27547/ --devices "$n" --inform-interval 300 \
        --spawn-rate 500 --duration "$((DURATION + n / 400))" --watch-pid "$SERVER_PID" \
        --quiet --json "$OUT/fleet.json" >/dev/null
    stop_server
    echo
    echo "### Simulated fleet, CWMP, inform interval 300 s ($(date -u +%F))"
    echo "| devices | devices with a session | sessions | sim RSS per device | sim peak RSS | all up after | server peak RSS |"
    echo "|---|---|---|---|---|---|---|"
    jq -r '"| \(.devices) | \(.devices_with_session) | \(.sessions) | \(.rss_bytes_per_device/1024|floor) KiB | \(.client.peak_rss_bytes/1048576|floor) MiB | \(.all_up_seconds) s | \((.server.peak_rss_bytes // 0)/1048576|floor) MiB |"' "$OUT/fleet.json"
}

# Task round trip: API task with a connection request, waited for, with a fleet online.
bench_task() {
    local n="${TASK_DEVICES:-1000}" tasks="${TASKS:-200}"
    [[ "${SMOKE:-0}" == 1 ]] && { n=10; tasks=5; }
    PROVISION=true start_server task
    note "== task round trip, $n devices online, $tasks tasks"
    "$BIN" sim fleet --acs-url http://127.0.0.1:27547/ --devices "$n" --inform-interval 3600 \
        --spawn-rate 500 --duration "$((n / 500 + tasks / 5 + 30))" --quiet \
        --json "$OUT/task-fleet.json" >/dev/null &
    local fleet=$!
    PIDS+=("$fleet")
    local api=http://127.0.0.1:27557/api/v1 token
    token=$(curl -sf -u admin:bench-admin-password -H 'content-type: application/json' \
        -X POST "$api/tokens" -d '{"name":"bench"}' | jq -r .token)
    # Wait until every device has informed once.
    for _ in $(seq 1 600); do
        local online
        online=$(curl -sf -H "authorization: Bearer $token" "$api/devices?limit=1" | jq -r .total)
        [[ "$online" -ge "$n" ]] && break
        sleep 0.2
    done
    # The server provisions connection-request credentials in the first session; a server
    # built before that (no provisioning) gets the simulated devices' own ones in its store.
    sqlite3 "$SERVER_DIR/data/tether.db" "PRAGMA busy_timeout = 5000; UPDATE devices SET \
        conn_req_username = 'sim-cr', conn_req_password = 'sim-cr-password' \
        WHERE device_key LIKE '00A0C9-SimCPE-%' AND conn_req_username IS NULL;" >/dev/null
    : >"$WORK/task-times"
    for i in $(seq 0 $((tasks - 1))); do
        local id
        id=$(printf '00A0C9-SimCPE-SIM%08d' $(( (i * 7919) % n )))
        curl -s -o "$WORK/task.json" -w '%{time_total}\n' -H "authorization: Bearer $token" \
            -H 'content-type: application/json' -X POST \
            "$api/devices/$id/tasks?connection_request=true&wait=30" \
            -d '{"kind":"GetParameterValues","names":["Device.DeviceInfo.SoftwareVersion"]}' \
            >>"$WORK/task-times"
        jq -r .state "$WORK/task.json" >>"$WORK/task-states"
    done
    kill "$fleet" 2>/dev/null || true; wait "$fleet" 2>/dev/null || true
    stop_server
    local done_count p50 p99
    done_count=$(grep -c '^done$' "$WORK/task-states" || true)
    p50=$(sort -n "$WORK/task-times" | awk -v q=0.50 '{a[NR]=$1} END {i=int(q*NR+0.999); print a[i]*1000}')
    p99=$(sort -n "$WORK/task-times" | awk -v q=0.99 '{a[NR]=$1} END {i=int(q*NR+0.999); print a[i]*1000}')
    jq -n --argjson n "$n" --argjson tasks "$tasks" --argjson done "$done_count" \
        --argjson p50 "$p50" --argjson p99 "$p99" \
        '{kind:"task", devices_online:$n, tasks:$tasks, done:$done, p50_ms:$p50, p99_ms:$p99}' \
        >"$OUT/task.json"
    echo
    echo "### Task round trip ($(date -u +%F), one task at a time)"
    echo "| devices online | tasks | done | p50 ms | p99 ms |"
    echo "|---|---|---|---|---|"
    echo "| $n | $tasks | $done_count | $p50 | $p99 |"
}

what="${1:-all}"
case "$what" in
    cwmp) bench_cwmp ;;
    cwmp-tls) bench_cwmp_tls ;;
    footprint) bench_footprint; bench_fleet_memory ;;
    task) bench_task ;;
    all) bench_cwmp; bench_cwmp_tls; bench_footprint; bench_fleet_memory; bench_task ;;
    *) note "usage: $0 [cwmp|cwmp-tls|footprint|task|all]"; exit 2 ;;
esac
