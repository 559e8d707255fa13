#!/usr/bin/env bash
# Tether's benchmarks: each starts everything it needs (a server on a fresh store, the ceiling
# server, simulators), measures, stops everything and prints a table. Figures and method:
# BENCHMARKS.md.
#
#   bench/run.sh [cwmp|cwmp-tls|footprint|task|tunnels|storm|bootstrap|all]
#
# tunnels: cloud tunnel establishment from cold and server memory per idle connection, for each
#          fleet size in TUNNEL_SIZES [2000]; storm: the same at STORM_DEVICES [4500], then the
#          server is restarted (SIGTERM, same store and port) under the fleet.
# bootstrap: BOOTSTRAP sessions carrying a GetParameterNames and a GetParameterValues of the whole
#          data model, BOOTSTRAP_DEVICES [1000] devices.
#
# Environment (defaults in brackets):
#   DURATION [15]     measured seconds per figure      WARMUP [3]   seconds before measuring
#   CONCURRENCY [32]  sessions in flight               DEVICES [2000] distinct serials
#   CWMP_CONCURRENCY ["32 128"]  cwmp, cwmp-tls: each concurrency measured (goal at the last)
#   BIN               a prebuilt `tether` binary; otherwise release binaries are built once
#   DEVICE_BIN        footprint: a prebuilt device build; otherwise it is built
#   FOOTPRINT_SETTLE [30]  footprint: seconds the agent runs before it is measured
#   OUT [bench/out]   JSON summaries are kept here     SMOKE=1      tiny fleet, seconds (tests)
#   FLEET_BIN         tunnels/storm: the build the cloud fleet runs (default BIN)
#   CLOUD_SOURCES [250]  tunnels/storm: loopback source addresses the fleet is spread over
#
# Load goes to loopback only; every process started here is stopped by the exit trap.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DURATION="${DURATION:-15}"
WARMUP="${WARMUP:-3}"
CONCURRENCY="${CONCURRENCY:-32}"
DEVICES="${DEVICES:-2000}"
OUT="${OUT:-$ROOT/bench/out}"
CWMP_CONCURRENCY="${CWMP_CONCURRENCY:-32 128}"
if [[ "${SMOKE:-0}" == 1 ]]; then
    DURATION=1; WARMUP=0; CONCURRENCY=4; DEVICES=20; CWMP_CONCURRENCY=4
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
    [[ "${KEEP:-0}" == 1 ]] || rm -rf "$WORK"
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
auth_per_address = ${CLOUD_AUTH_PER_ADDRESS:-60}
auth_per_serial = ${CLOUD_AUTH_PER_SERIAL:-20}
public_host = "cloud.sim:27443"
[cloud.tls]
mode = "self_signed"
self_signed_names = ["cloud.sim"]
[admin]
password = "bench-admin-password"
[limits]
max_connections = ${MAX_CONNECTIONS:-15000}
EOF
    run_server
}

# run_server: starts `tether server` on SERVER_DIR's configuration (again, for a restart).
run_server() {
    RUST_LOG="${SERVER_LOG:-info}" "$BIN" server --config "$SERVER_DIR/server.toml" \
        >>"$SERVER_DIR/stdout.log" 2>>"$SERVER_DIR/stderr.log" &
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

# The CWMP figures are taken at each concurrency of CWMP_CONCURRENCY, both servers at each.
# The ceiling answers at once, so it is CPU-bound at any of them; Tether acknowledges an
# Inform only once it is committed, so it needs sessions in flight to fill the cores while
# others wait for a commit. The goal is judged at the last (highest) concurrency: capacity.
bench_cwmp() {
    local c
    for c in $CWMP_CONCURRENCY; do
        start_ceiling
        CONCURRENCY=$c load "cwmp-ceiling-c$c" "$CEILING_URL" "$CEILING_PID"
        stop_ceiling
        start_server "cwmp-c$c"
        CONCURRENCY=$c load "cwmp-tether-c$c" "http://127.0.0.1:27547/" "$SERVER_PID"
        stop_server
    done
    echo
    echo "### CWMP sessions, plain HTTP ($(date -u +%F), $(nproc) cores, ${DURATION}s)"
    header
    for c in $CWMP_CONCURRENCY; do
        row "ceiling (hyper, no parsing)" "$OUT/cwmp-ceiling-c$c.json"
        row "tether server (SQLite)" "$OUT/cwmp-tether-c$c.json"
    done
    for c in $CWMP_CONCURRENCY; do
        ratio "plain HTTP, concurrency $c" "$OUT/cwmp-tether-c$c.json" "$OUT/cwmp-ceiling-c$c.json" 50
    done
}

bench_cwmp_tls() {
    local c
    for c in $CWMP_CONCURRENCY; do
        start_ceiling tls
        CONCURRENCY=$c load "cwmp-tls-ceiling-c$c" "$CEILING_URL" "$CEILING_PID" \
            --ca-file "$CEILING_CA"
        stop_ceiling
        start_server "cwmp-tls-c$c" cwmp-tls
        CONCURRENCY=$c load "cwmp-tls-tether-c$c" "https://127.0.0.1:27547/" "$SERVER_PID" \
            --ca-file "$SERVER_DIR/data/tls/self-signed-cert.pem"
        stop_server
    done
    echo
    echo "### CWMP sessions, HTTPS, full handshakes ($(date -u +%F), $(nproc) cores, ${DURATION}s)"
    header
    for c in $CWMP_CONCURRENCY; do
        row "ceiling (hyper + rustls, no parsing)" "$OUT/cwmp-tls-ceiling-c$c.json"
        row "tether server (SQLite)" "$OUT/cwmp-tls-tether-c$c.json"
    done
    for c in $CWMP_CONCURRENCY; do
        ratio "HTTPS, concurrency $c" "$OUT/cwmp-tls-tether-c$c.json" "$OUT/cwmp-tls-ceiling-c$c.json" 70
    done
}

# Idle footprint of a device's agent, by the method of BENCHMARKS.md ("Agent footprint"): the
# device build (`--profile device --no-default-features`), configured through its CLI for a
# trivial ACS (bench/footprint-acs.py) with a periodic Inform every 10 s, started with its
# binary dropped from the page cache as after a boot, read after FOOTPRINT_SETTLE [30] s.
bench_footprint() {
    local dir="$WORK/agent" bin="${DEVICE_BIN:-}" settle="${FOOTPRINT_SETTLE:-30}"
    [[ "${SMOKE:-0}" == 1 ]] && settle=3
    if [[ -z "$bin" ]]; then
        note "building the device binary..."
        (cd "$ROOT" && cargo build --profile device -q -p tether --no-default-features)
        bin="${CARGO_TARGET_DIR:-$ROOT/target}/device/tether"
    fi
    mkdir -p "$dir"
    python3 "$ROOT/bench/footprint-acs.py" 27580 >"$dir/acs.log" 2>&1 &
    PIDS+=("$!")
    wait_port 127.0.0.1 27580
    export TETHER_AGENT_CONNECTION_REQUEST__PORT=27581
    # Configured once through the control socket, as an operator would.
    "$bin" agent --state-dir "$dir/state" >"$dir/prep.log" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    for _ in $(seq 1 200); do [[ -S "$dir/state/control.sock" ]] && break; sleep 0.05; done
    printf '%s\n' system-view cwmp 'cwmp enable' 'cwmp acs url http://127.0.0.1:27580/acs' \
        'cwmp cpe inform interval enable' 'cwmp cpe inform interval 10' return \
        | "$bin" cli --state-dir "$dir/state" >/dev/null
    kill "$pid"; wait "$pid" 2>/dev/null || true
    python3 -c 'import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)' "$bin"
    local before
    before=$(grep -c inform "$dir/acs.log" || true)
    "$bin" agent --state-dir "$dir/state" >"$dir/out.log" 2>"$dir/err.log" &
    pid=$!
    PIDS+=("$pid")
    sleep "$settle"
    local rss anon file threads informs
    rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")
    anon=$(awk '/^RssAnon:/ {print $2}' "/proc/$pid/status")
    file=$(awk '/^RssFile:/ {print $2}' "/proc/$pid/status")
    threads=$(awk '/^Threads:/ {print $2}' "/proc/$pid/status")
    cp "/proc/$pid/smaps" "$OUT/footprint-smaps.txt"
    kill "$pid"; wait "$pid" 2>/dev/null || true
    unset TETHER_AGENT_CONNECTION_REQUEST__PORT
    informs=$(( $(grep -c inform "$dir/acs.log" || true) - before ))
    jq -n --argjson rss "$rss" --argjson anon "$anon" --argjson file "$file" \
        --argjson threads "$threads" --argjson informs "$informs" --argjson settle "$settle" \
        '{kind: "footprint", agent_rss_kib: $rss, agent_rss_anon_kib: $anon,
          agent_rss_file_kib: $file, agent_threads: $threads, informs: $informs,
          seconds: $settle}' >"$OUT/footprint.json"
    echo
    echo "### Footprint ($(date -u +%F))"
    echo "| process | VmRSS | RssAnon | RssFile | threads | Informs in ${settle} s |"
    echo "|---|---|---|---|---|---|"
    echo "| tether agent (device build), idle, periodic Inform 10 s | $rss KiB | $anon KiB | $file KiB | $threads | $informs |"
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

# ---- cloud tunnels ---------------------------------------------------------------------------
# Sockets a device holds on the cloud listener: the tunnel and its always-on subconnections
# (terminal, config, telemetry).
SOCKETS_PER_DEVICE="${SOCKETS_PER_DEVICE:-4}"
# TLS handshakes a device needs from cold: one for the auth request, auth proof and register
# (one kept-alive HTTPS connection), then the tunnel and the three subconnections, which resume
# the device's own TLS session.
HANDSHAKES_PER_DEVICE="${HANDSHAKES_PER_DEVICE:-5}"
CLOUD_PASSWORD="bench-cloud-password"
FLEET_PIDS=()

cloud_sockets() { # established server-side sockets on the cloud port
    ss -Htn state established '( sport = :27443 )' 2>/dev/null | wc -l
}
proc_kib() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
proc_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

api_token() {
    curl -sf -u admin:bench-admin-password -H 'content-type: application/json' \
        -X POST http://127.0.0.1:27557/api/v1/tokens -d '{"name":"bench"}' | jq -r .token
}

# add_cloud_devices N TOKEN: the serials SIM00000000.. into the cloud inventory (8 at a time).
add_cloud_devices() {
    local n="$1" token="$2"
    seq 0 $((n - 1)) | xargs -P 8 -I{} sh -c 'printf "{\"serial\":\"SIM%08d\",\"password\":\"%s\"}" "$1" "$2" |
        curl -sf -o /dev/null -H "authorization: Bearer $3" -H "content-type: application/json" \
            -X POST http://127.0.0.1:27557/api/v1/cloud/devices --data-binary @- || echo fail' _ {} \
        "$CLOUD_PASSWORD" "$token" >"$WORK/add-failures"
    local failed
    failed=$(wc -l <"$WORK/add-failures")
    [[ "$failed" -eq 0 ]] || note "$failed devices not added to the cloud inventory"
}

# start_cloud_fleet N: N cloud-only devices over processes of at most FLEET_PER_PROC, all at once.
start_cloud_fleet() {
    local n="$1" per="${FLEET_PER_PROC:-2500}" first=0 i=0
    FLEET_PIDS=()
    while [[ "$first" -lt "$n" ]]; do
        local k=$(( n - first < per ? n - first : per ))
        "${FLEET_BIN:-$BIN}" sim fleet --cloud-port 27443 --cloud-password "$CLOUD_PASSWORD" \
            --cloud-ca-file "$SERVER_DIR/data/tls/self-signed-cert.pem" --devices "$k" \
            --cloud-sources "${CLOUD_SOURCES:-250}" \
            --first "$first" --spawn-rate 100000 --duration "${FLEET_MAX_SECONDS:-600}" --quiet \
            >"$WORK/fleet-$i.json" 2>"$WORK/fleet-$i.err" &
        FLEET_PIDS+=("$!"); PIDS+=("$!")
        first=$((first + k)); i=$((i + 1))
    done
}

stop_cloud_fleet() {
    for pid in "${FLEET_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${FLEET_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}

# wait_sockets WANT TIMEOUT PID: polls every 0.2 s until WANT sockets are established; prints
# "seconds peak_cpu_percent peak_rss_kib count" (seconds empty when not reached).
wait_sockets() {
    local want="$1" timeout="$2" pid="$3" t0 now count=0 peak_cpu=0 peak_rss=0 ticks last_ticks last_t
    local hz; hz=$(getconf CLK_TCK)
    t0=$(date +%s.%N); last_t=$t0; last_ticks=$(proc_ticks "$pid")
    while :; do
        sleep 0.2
        now=$(date +%s.%N)
        count=$(cloud_sockets)
        ticks=$(proc_ticks "$pid" 2>/dev/null || echo "$last_ticks")
        local rss; rss=$(proc_kib "$pid" VmRSS 2>/dev/null || echo 0)
        peak_rss=$(( rss > peak_rss ? rss : peak_rss ))
        peak_cpu=$(awk -v a="$ticks" -v b="$last_ticks" -v t="$now" -v u="$last_t" -v hz="$hz" -v p="$peak_cpu" \
            'BEGIN {c = (a - b) / hz / (t - u) * 100; print (c > p ? c : p)}')
        last_ticks=$ticks; last_t=$now
        if [[ "$count" -ge "$want" ]]; then
            echo "$(awk -v a="$now" -v b="$t0" 'BEGIN {printf "%.2f", a - b}') $peak_cpu $peak_rss $count"
            return 0
        fi
        if awk -v a="$now" -v b="$t0" -v t="$timeout" 'BEGIN {exit !(a - b > t)}'; then
            echo "- $peak_cpu $peak_rss $count"
            return 0
        fi
    done
}

tls_ceiling() { # name: TLS handshake ceiling (one full handshake per session)
    start_ceiling tls
    load "$1" "$CEILING_URL" "$CEILING_PID" --ca-file "$CEILING_CA"
    stop_ceiling
}

# tunnel_phase N NAME: fresh server, N devices in the inventory, fleet started from cold; time
# until every socket is up, then RSS after IDLE_SECONDS of keepalives. Leaves server and fleet up.
tunnel_phase() {
    local n="$1" name="$2" idle="${IDLE_SECONDS:-30}"
    CLOUD_AUTH_PER_ADDRESS=1000000 CLOUD_AUTH_PER_SERIAL=1000 MAX_CONNECTIONS=19500 \
        start_server "$name"
    wait_port 127.0.0.1 27443
    local token; token=$(api_token)
    note "== $name: $n devices into the cloud inventory"
    add_cloud_devices "$n" "$token"
    sleep 2
    local rss0 anon0 load0
    rss0=$(proc_kib "$SERVER_PID" VmRSS); anon0=$(proc_kib "$SERVER_PID" RssAnon)
    load0=$(cut -d' ' -f1 /proc/loadavg)
    local want=$((n * SOCKETS_PER_DEVICE))
    note "== $name: fleet of $n from cold, waiting for $want sockets"
    start_cloud_fleet "$n"
    local r; r=($(wait_sockets "$want" "${TUNNEL_TIMEOUT:-240}" "$SERVER_PID"))
    note "== $name: ${r[0]} s, sockets ${r[3]}; idle ${idle}s"
    sleep "$idle"
    local rss1 anon1 count1
    rss1=$(proc_kib "$SERVER_PID" VmRSS); anon1=$(proc_kib "$SERVER_PID" RssAnon)
    count1=$(cloud_sockets)
    jq -n --arg name "$name" --argjson n "$n" --argjson per "$SOCKETS_PER_DEVICE" \
        --arg secs "${r[0]}" --argjson cpu "${r[1]}" --argjson peak "${r[2]}" \
        --argjson reached "${r[3]}" --argjson rss0 "$rss0" --argjson rss1 "$rss1" \
        --argjson anon0 "$anon0" --argjson anon1 "$anon1" --argjson count1 "$count1" \
        --argjson idle "$idle" --argjson load "$load0" \
        '{kind:"tunnels", devices:$n, sockets_per_device:$per, sockets_reached:$reached,
          all_up_seconds:($secs|tonumber? // null),
          devices_per_second:(if ($secs|tonumber? // 0) > 0 then $n / ($secs|tonumber) else null end),
          peak_server_cpu_percent:$cpu, peak_server_rss_kib:$peak, idle_seconds:$idle,
          rss_before_kib:$rss0, rss_after_kib:$rss1, anon_before_kib:$anon0, anon_after_kib:$anon1,
          sockets_after_idle:$count1,
          rss_bytes_per_device:(($rss1 - $rss0) * 1024 / $n),
          rss_bytes_per_connection:(($rss1 - $rss0) * 1024 / $count1),
          load_average_before:$load}' >"$OUT/$name.json"
}

tunnel_header() {
    echo "| devices | sockets up | all up after | devices/s | handshakes/s (×${HANDSHAKES_PER_DEVICE}) | peak server CPU (% of one core) | server RSS before → after ${IDLE_SECONDS:-30} s idle | per device | per connection | load avg |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
}
tunnel_row() {
    jq -r --arg h "$HANDSHAKES_PER_DEVICE" '"| \(.devices) | \(.sockets_after_idle) / \(.devices * .sockets_per_device) | \(.all_up_seconds) s | \(.devices_per_second // 0 | floor) | \((.devices_per_second // 0) * ($h|tonumber) | floor) | \(.peak_server_cpu_percent|floor) % | \(.rss_before_kib/1024|floor) → \(.rss_after_kib/1024|floor) MiB | \(.rss_bytes_per_device/1024*10|floor/10) KiB | \(.rss_bytes_per_connection/1024*10|floor/10) KiB | \(.load_average_before) |"' "$1"
}
tunnel_goal() { # tunnels-json ceiling-json
    jq -rn --slurpfile t "$1" --slurpfile c "$2" --argjson h "$HANDSHAKES_PER_DEVICE" \
        '($c[0].sessions_per_second / $h) as $cap | (($t[0].devices_per_second // 0) / $cap * 100 | floor) as $r
         | "establishment \($t[0].devices_per_second // 0 | floor)/s = \($r) % of ceiling/\($h) (\($cap|floor)/s; goal 70 %): \(if $r >= 70 then "met" else "NOT met" end); \($t[0].rss_bytes_per_connection/1024*10|floor/10) KiB per idle connection (goal 8): \(if $t[0].rss_bytes_per_connection <= 8192 then "met" else "NOT met" end)"'
}

bench_tunnels() {
    local sizes="${TUNNEL_SIZES:-2000}"
    [[ "${SMOKE:-0}" == 1 ]] && sizes=20
    tls_ceiling tunnels-tls-ceiling
    for n in $sizes; do
        tunnel_phase "$n" "tunnels-$n"
        stop_cloud_fleet
        stop_server
    done
    echo
    echo "### Cloud tunnels from cold, TLS ($(date -u +%F), $(nproc) cores)"
    echo "TLS ceiling: $(jq -r '.sessions_per_second|floor' "$OUT/tunnels-tls-ceiling.json") full handshakes/s"
    tunnel_header
    for n in $sizes; do tunnel_row "$OUT/tunnels-$n.json"; done
    for n in $sizes; do tunnel_goal "$OUT/tunnels-$n.json" "$OUT/tunnels-tls-ceiling.json"; done
}

bench_storm() {
    local n="${STORM_DEVICES:-4500}"
    [[ "${SMOKE:-0}" == 1 ]] && n=20
    tls_ceiling storm-tls-ceiling
    tunnel_phase "$n" "storm-$n"
    local want=$((n * SOCKETS_PER_DEVICE)) load0
    load0=$(cut -d' ' -f1 /proc/loadavg)
    note "== storm: SIGTERM to the server under $n devices, start again"
    local t_kill; t_kill=$(date +%s.%N)
    kill -TERM "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
    local t_stopped; t_stopped=$(date +%s.%N)
    run_server
    local t_up; t_up=$(date +%s.%N)
    local r; r=($(wait_sockets "$want" "${TUNNEL_TIMEOUT:-240}" "$SERVER_PID"))
    sleep 5
    local after; after=$(cloud_sockets)
    local alive=0
    for pid in "${FLEET_PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=$((alive + 1)); done
    stop_cloud_fleet
    stop_server
    jq -n --argjson n "$n" --argjson want "$want" --arg secs "${r[0]}" --argjson cpu "${r[1]}" \
        --argjson peak "${r[2]}" --argjson after "$after" --argjson alive "$alive" \
        --argjson kill "$t_kill" --argjson stopped "$t_stopped" --argjson up "$t_up" --argjson load "$load0" \
        --slurpfile t "$OUT/storm-$n.json" --slurpfile c "$OUT/storm-tls-ceiling.json" \
        '{kind:"storm", devices:$n, sockets_wanted:$want, shutdown_seconds:($stopped - $kill),
          restart_seconds:($up - $stopped),
          back_after_restart_seconds:($secs|tonumber? // null),
          back_after_kill_seconds:(($secs|tonumber? // null) | if . then . + ($up - $kill) else null end),
          peak_server_cpu_percent:$cpu, peak_server_rss_kib:$peak, sockets_5s_later:$after,
          stuck_devices_at_least:((($want - $after) / 4) | ceil | if . < 0 then 0 else . end),
          fleet_processes_alive:$alive,
          cold_devices_per_second:$t[0].devices_per_second,
          goal_seconds:($n / $t[0].devices_per_second + 2),
          tls_ceiling:$c[0].sessions_per_second, load_average_before:$load}' >"$OUT/storm.json"
    echo
    echo "### Cloud tunnels from cold at $n devices ($(date -u +%F), $(nproc) cores)"
    echo "TLS ceiling: $(jq -r '.sessions_per_second|floor' "$OUT/storm-tls-ceiling.json") full handshakes/s"
    tunnel_header
    tunnel_row "$OUT/storm-$n.json"
    tunnel_goal "$OUT/storm-$n.json" "$OUT/storm-tls-ceiling.json"
    echo
    echo "### Reconnect storm: server restarted under $n devices"
    echo "| devices | shutdown | restart to listening | all back after restart | all back after kill | peak server CPU (% of one core) | peak server RSS | stuck | goal (N / cold rate + 2 s, from the kill) | load avg |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
    jq -r '"| \(.devices) | \(.shutdown_seconds*100|floor/100) s | \(.restart_seconds*100|floor/100) s | \(.back_after_restart_seconds // "not all") s | \(if .back_after_kill_seconds then (.back_after_kill_seconds*10|floor/10|tostring) else "not all" end) s | \(.peak_server_cpu_percent|floor) % | \(.peak_server_rss_kib/1024|floor) MiB | \(.stuck_devices_at_least) | \(.goal_seconds*10|floor/10) s: \(if .back_after_kill_seconds and .back_after_kill_seconds <= .goal_seconds then "met" else "NOT met" end) | \(.load_average_before) |"' "$OUT/storm.json"
}

# ---- first contact with discovery ------------------------------------------------------------
# The server does no discovery on its own: every device is pre-registered through the API and
# gets a GetParameterNames (Device., whole tree) and a GetParameterValues (Device.) task queued
# before it first informs, so its BOOTSTRAP session carries both. The fleet (agent library, its
# data model plus SYNTHETIC_HOSTS [22] instances of Device.Hosts.Host., 19 parameters each)
# starts all at once; sessions/s = devices / time until every device had a
# completed session.
bench_bootstrap() {
    local n="${BOOTSTRAP_DEVICES:-1000}"
    [[ "${SMOKE:-0}" == 1 ]] && n=10
    MAX_CONNECTIONS=19500 start_server bootstrap
    local api=http://127.0.0.1:27557/api/v1 token
    token=$(api_token)
    note "== bootstrap: registering $n devices with a GPN and a GPV task each"
    seq 0 $((n - 1)) | xargs -P 8 -I{} sh -c '
        s=$(printf "SIM%08d" "$1"); id="00A0C9-SimCPE-$s"
        h1="authorization: Bearer $2"; h2="content-type: application/json"
        curl -sf -o /dev/null -H "$h1" -H "$h2" -X POST "$3/devices" \
            -d "{\"oui\":\"00A0C9\",\"product_class\":\"SimCPE\",\"serial_number\":\"$s\",\"manufacturer\":\"Tether Simulated Devices\"}" &&
        curl -sf -o /dev/null -H "$h1" -H "$h2" -X POST "$3/devices/$id/tasks" \
            -d "{\"kind\":\"GetParameterNames\",\"path\":\"Device.\",\"next_level\":false}" &&
        curl -sf -o /dev/null -H "$h1" -H "$h2" -X POST "$3/devices/$id/tasks" \
            -d "{\"kind\":\"GetParameterValues\",\"names\":[\"Device.\"]}" || echo fail' _ {} "$token" "$api" \
        >"$WORK/bootstrap-failures"
    local failed; failed=$(wc -l <"$WORK/bootstrap-failures")
    [[ "$failed" -eq 0 ]] || note "$failed devices not prepared"
    note "== bootstrap: fleet of $n from cold"
    "$BIN" sim fleet --acs-url http://127.0.0.1:27547/ --devices "$n" --inform-interval 3600 \
        --spawn-rate 100000 --duration "${BOOTSTRAP_SECONDS:-60}" --watch-pid "$SERVER_PID" \
        --synthetic-hosts "${SYNTHETIC_HOSTS:-22}" \
        --quiet --json "$OUT/bootstrap-fleet.json" >/dev/null
    local done_tasks params
    done_tasks=$(curl -sf -H "authorization: Bearer $token" "$api/tasks?state=done&limit=1" | jq -r '.total // empty')
    params=$(curl -sf -H "authorization: Bearer $token" "$api/devices/00A0C9-SimCPE-SIM00000000/tasks" |
        jq '[.items[]? // .[]? | select(.kind == "GetParameterNames") | .result.parameters | length] | max // 0')
    stop_server
    jq --argjson done "${done_tasks:-null}" --argjson params "${params:-0}" --argjson failed "$failed" \
        '{kind:"bootstrap", devices, devices_with_session, all_up_seconds, session_errors,
          sessions_per_second:(if .all_up_seconds then .devices / .all_up_seconds else null end),
          session_latency, tasks_done:$done, tasks_queued:(.devices * 2), prepare_failures:$failed,
          parameters_discovered:$params, server_cpu_seconds:.server.cpu_seconds,
          server_peak_rss_bytes:.server.peak_rss_bytes, load_average_before}' \
        "$OUT/bootstrap-fleet.json" >"$OUT/bootstrap.json"
    echo
    echo "### First contact with discovery ($(date -u +%F), $(nproc) cores)"
    echo "| devices | with a session | all done after | BOOTSTRAP sessions/s | p50 ms | p99 ms | tasks done / queued | parameters discovered | server CPU | server peak RSS | load avg |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|"
    jq -r '"| \(.devices) | \(.devices_with_session) | \(.all_up_seconds // "not all") s | \(.sessions_per_second // 0 | floor) | \(.session_latency.p50_ms) | \(.session_latency.p99_ms) | \(.tasks_done) / \(.tasks_queued) | \(.parameters_discovered) | \(.server_cpu_seconds) s | \(.server_peak_rss_bytes/1048576|floor) MiB | \(.load_average_before) |"' "$OUT/bootstrap.json"
}

what="${1:-all}"
case "$what" in
    cwmp) bench_cwmp ;;
    cwmp-tls) bench_cwmp_tls ;;
    footprint) bench_footprint; bench_fleet_memory ;;
    task) bench_task ;;
    tunnels) bench_tunnels ;;
    storm) bench_storm ;;
    bootstrap) bench_bootstrap ;;
    all) bench_cwmp; bench_cwmp_tls; bench_footprint; bench_fleet_memory; bench_task; bench_tunnels
         bench_storm; bench_bootstrap ;;
    *) note "usage: $0 [cwmp|cwmp-tls|footprint|task|tunnels|storm|bootstrap|all]"; exit 2 ;;
esac
