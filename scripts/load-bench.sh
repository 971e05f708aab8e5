#!/usr/bin/env bash
# Load benchmark of the gateway's cache hits next to a minimal hyper server returning the same
# bytes ("hyper+h", the comparator of issue 13's targets), the same server sending the body with
# one header ("hyper") and nginx proxy_cache hits, on loopback, following shared/benchmarking.md:
# servers on one core, wrk on the other, interleaved rounds, medians of per-round ratios, CPU per
# request.
# Then, optionally: Zipf-distributed hits over many cached keys, memory per cached entry, and
# many concurrent requests for one cold key. Results go to stdout and to $OUT.
#
#   scripts/load-bench.sh                        # everything, about 8 minutes
#   SCENARIOS=hit ROUNDS=7 scripts/load-bench.sh # only the side-by-side hit table
#
# Settings (environment): SCENARIOS ("hit zipf cold"), ROUNDS (5), SECS (3), CONNS (64),
# ZIPF_KEYS (1000000, at most 1000000), ZIPF_EXPONENT (1.0), COLD_CONCURRENCY (10000),
# COLD_DELAY_MS (100), MAX_SECONDS (1500: the run stops by then, the build not counted), OUT
# (target/load-bench/results.txt), HEADERS_TWIN (1; 0 leaves out "hyper+h", and the targets are
# then judged against the one-header server). Needs wrk, curl, taskset; nginx is optional. As root it
# installs what is missing with apt-get. Everything it starts, it stops on exit.
# Beside $OUT the hit scenario writes hit.tsv (its medians) and two charts drawn from it by
# examples/load_bench_charts.rs: hits.svg (req/s and CPU per request) and latency.svg (p50/p99,
# unpaced and paced).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
SCENARIOS=${SCENARIOS:-"hit zipf cold"}
ROUNDS=${ROUNDS:-5}
SECS=${SECS:-3}
CONNS=${CONNS:-64}
ZIPF_KEYS=${ZIPF_KEYS:-1000000}
ZIPF_EXPONENT=${ZIPF_EXPONENT:-1.0}
COLD_CONCURRENCY=${COLD_CONCURRENCY:-10000}
COLD_DELAY_MS=${COLD_DELAY_MS:-100}
MAX_SECONDS=${MAX_SECONDS:-1500}
SERVER_CORE=${SERVER_CORE:-1}
CLIENT_CORE=${CLIENT_CORE:-0}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
OUT=${OUT:-$TARGET_DIR/load-bench/results.txt}

SIM_ADDR=127.0.0.1:18080
NGINX_ADDR=127.0.0.1:18081
HYPER_ADDR=127.0.0.1:18082
GATEWAY_ADDR=127.0.0.1:18083
TWIN_ADDR=127.0.0.1:18084
HEADERS_TWIN=${HEADERS_TWIN:-1}
VARIANT_ADDR=127.0.0.1:18085
# A second gateway to compare side by side, e.g. VARIANT_ENV="LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"
# (allocator), VARIANT_ARGS="--worker-threads 1" (runtime) or VARIANT_BIN=<a gateway binary built
# at another commit>; shown as "gateway'" in the hit table.
VARIANT_ENV=${VARIANT_ENV:-}
VARIANT_BIN=${VARIANT_BIN:-}
# The environment of the gateway under test itself, e.g. GATEWAY_ENV="GATEWAY_HUGE_PAGES=off".
GATEWAY_ENV=${GATEWAY_ENV:-}
VARIANT_ARGS=${VARIANT_ARGS:-}
SPACE_TASKS_LISTED=10000 # the simulator lists at most this many identifiers per space

say() { printf '%s\n' "$*" | tee -a "$OUT" >&2; }
die() {
  say "load-bench: $*"
  exit 1
}
has() { command -v "$1" >/dev/null 2>&1; }
wanted() { [[ " $SCENARIOS " == *" $1 "* ]]; }

# --- tools -------------------------------------------------------------------------------
install_with_apt() {
  if [[ $(id -u) -eq 0 ]] && has apt-get; then
    say "installing $* with apt-get"
    if ! timeout 300 apt-get install -y -qq "$@" >/dev/null 2>&1; then
      timeout 300 apt-get update -qq >/dev/null 2>&1 || true
      timeout 300 apt-get install -y -qq "$@" >/dev/null 2>&1 || return 1
    fi
  else
    return 1
  fi
}
mkdir -p "$(dirname "$OUT")"
: >"$OUT"
has wrk || install_with_apt wrk || die "wrk is missing: apt-get install -y wrk"
has curl || install_with_apt curl || die "curl is missing: apt-get install -y curl"
has taskset || install_with_apt util-linux || die "taskset is missing (util-linux)"
NGINX=$(command -v nginx || true)
[[ -z $NGINX && -x /usr/sbin/nginx ]] && NGINX=/usr/sbin/nginx
if [[ -z $NGINX ]] && install_with_apt nginx; then NGINX=$(command -v nginx || echo /usr/sbin/nginx); fi
[[ -n $NGINX && -x $NGINX ]] || {
  NGINX=
  say "nginx is not installed (apt-get install -y nginx): its column is left out"
}

# --- processes we start, and stopping them ----------------------------------------------
WORK=$(mktemp -d /tmp/load-bench.XXXXXX)
STARTED=()
WATCHDOG=
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  for pid in "${STARTED[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${STARTED[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  [[ -n $WATCHDOG ]] && kill "$WATCHDOG" 2>/dev/null || true
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# More than COLD_CONCURRENCY sockets in the gateway and in the client.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# --- build (one cargo call, so the features and the artifacts are the same every time) -------
say "building (release)..."
timeout 1800 cargo build --release -q -p alumio-gateway -p alumio-sim -p alumio-suite \
  --bin alumio-gateway --bin alumio-sim --example static_bytes_server --example gateway_load_client \
  --example load_bench_charts

# From here on the run stops by itself after MAX_SECONDS.
(
  trap 'kill "$nap" 2>/dev/null; exit 0' TERM
  sleep "$MAX_SECONDS" &
  nap=$!
  wait "$nap"
  echo "load-bench: the ${MAX_SECONDS}s limit is reached; stopping" >&2
  kill -TERM $$
) &
WATCHDOG=$!
SIM_BIN=$TARGET_DIR/release/alumio-sim
GATEWAY_BIN=$TARGET_DIR/release/alumio-gateway
HYPER_BIN=$TARGET_DIR/release/examples/static_bytes_server
CLIENT_BIN=$TARGET_DIR/release/examples/gateway_load_client
CHARTS_BIN=$TARGET_DIR/release/examples/load_bench_charts

wait_for() { # URL SECONDS [LOG_FILE]
  for _ in $(seq $(($2 * 10))); do
    curl -s -o /dev/null -m 1 "$1" && return 0
    sleep 0.1
  done
  [[ -n ${3:-} ]] && tail -5 "$3" >&2
  die "nothing answered at $1 within $2 s"
}

# --- the simulator: enough spaces of at most SPACE_TASKS_LISTED tasks for ZIPF_KEYS keys ----
keys=1000
wanted zipf && keys=$((ZIPF_KEYS > 1000000 ? 1000000 : ZIPF_KEYS))
spaces=$(((keys + SPACE_TASKS_LISTED - 1) / SPACE_TASKS_LISTED))
per_space=$(((keys + spaces - 1) / spaces))
space_args=()
for i in $(seq 0 $((spaces - 1))); do space_args+=(--space "$(printf 'bench-%03d' "$i")"); done
TOKEN="load-bench-$RANDOM$RANDOM"
printf '%s\n' "$TOKEN" >"$WORK/token"
taskset -c "$CLIENT_CORE" "$SIM_BIN" --listen "$SIM_ADDR" --token-file "$WORK/token" \
  --tasks-per-space "$per_space" "${space_args[@]}" >"$WORK/sim.log" 2>&1 &
SIM_PID=$!
STARTED+=("$SIM_PID")
wait_for "http://$SIM_ADDR/_sim/stats" 120 "$WORK/sim.log"
SPACE=bench-000
ID=$(curl -s -m 5 "http://$SIM_ADDR/_sim/tasks?space=$SPACE&limit=1" | sed 's/.*"identifiers":\["\([^"]*\)".*/\1/')
HIT_PATH="/api/v1/tasks/$ID?space=$SPACE"
curl -s -m 5 -H "Authorization: Bearer $TOKEN" -o "$WORK/body.json" "http://$SIM_ADDR$HIT_PATH"
BODY_BYTES=$(stat -c %s "$WORK/body.json")

# --- the servers under test, each on SERVER_CORE --------------------------------------------
gateway_args=(--listen "$GATEWAY_ADDR" --upstream "http://$SIM_ADDR/api/v1" --token-file "$WORK/token"
  --ttl-active 1h --ttl-settled 1h --cache-max-bytes 6GiB)
# Consumers need no key here: the hit path is measured without per-consumer checks.
if "$GATEWAY_BIN" --help | grep -q -- --allow-anonymous; then gateway_args+=(--allow-anonymous); fi
# shellcheck disable=SC2086 # GATEWAY_ENV is a word list on purpose.
env $GATEWAY_ENV taskset -c "$SERVER_CORE" "$GATEWAY_BIN" "${gateway_args[@]}" >"$WORK/gateway.log" 2>&1 &
GATEWAY_PID=$!
STARTED+=("$GATEWAY_PID")
taskset -c "$SERVER_CORE" "$HYPER_BIN" "$WORK/body.json" "$HYPER_ADDR" >"$WORK/hyper.log" 2>&1 &
HYPER_PID=$!
STARTED+=("$HYPER_PID")
TWIN_PID=
if [[ $HEADERS_TWIN == 1 ]]; then
  STATIC_GATEWAY_HEADERS=1 taskset -c "$SERVER_CORE" "$HYPER_BIN" "$WORK/body.json" "$TWIN_ADDR" \
    >"$WORK/twin.log" 2>&1 &
  TWIN_PID=$!
  STARTED+=("$TWIN_PID")
fi
VARIANT_PID=
if [[ -n $VARIANT_ENV || -n $VARIANT_ARGS || -n $VARIANT_BIN ]]; then
  variant_args=("${gateway_args[@]}")
  variant_args[1]=$VARIANT_ADDR
  # shellcheck disable=SC2086 # VARIANT_ENV and VARIANT_ARGS are word lists on purpose.
  env $VARIANT_ENV taskset -c "$SERVER_CORE" "${VARIANT_BIN:-$GATEWAY_BIN}" "${variant_args[@]}" $VARIANT_ARGS \
    >"$WORK/variant.log" 2>&1 &
  VARIANT_PID=$!
  STARTED+=("$VARIANT_PID")
fi
NGINX_PID=
if [[ -n $NGINX ]]; then
  mkdir -p "$WORK/nginx-temp" "$WORK/nginx-cache"
  chmod 0777 "$WORK" "$WORK/nginx-temp" "$WORK/nginx-cache"
  sed -e "s|@WORKDIR@|$WORK|g" -e "s|@TOKEN@|$TOKEN|g" benches/nginx/nginx.conf >"$WORK/nginx.conf"
  taskset -c "$SERVER_CORE" "$NGINX" -c "$WORK/nginx.conf" -e "$WORK/nginx-error.log" \
    >"$WORK/nginx.log" 2>&1 &
  NGINX_PID=$!
  STARTED+=("$NGINX_PID")
fi
wait_for "http://$GATEWAY_ADDR/healthz" 30 "$WORK/gateway.log"
wait_for "http://$HYPER_ADDR/" 30 "$WORK/hyper.log"
[[ -n $NGINX_PID ]] && wait_for "http://$NGINX_ADDR/api/v1/tasks/x" 30
[[ -n $TWIN_PID ]] && wait_for "http://$TWIN_ADDR/" 30
[[ -n $VARIANT_PID ]] && wait_for "http://$VARIANT_ADDR/healthz" 30 "$WORK/variant.log"

SERVERS=(gateway hyper)
[[ -n $NGINX_PID ]] && SERVERS+=(nginx)
[[ -n $TWIN_PID ]] && SERVERS+=(hyper+h)
[[ -n $VARIANT_PID ]] && SERVERS+=("gateway'")
addr_of() { case $1 in gateway) echo "$GATEWAY_ADDR" ;; hyper) echo "$HYPER_ADDR" ;; nginx) echo "$NGINX_ADDR" ;; hyper+h) echo "$TWIN_ADDR" ;; "gateway'") echo "$VARIANT_ADDR" ;; esac; }
pids_of() { # the server's processes: itself and, for nginx, its workers
  local pid
  case $1 in gateway) pid=$GATEWAY_PID ;; hyper) pid=$HYPER_PID ;; nginx) pid=$NGINX_PID ;; hyper+h) pid=$TWIN_PID ;; "gateway'") pid=$VARIANT_PID ;; esac
  echo "$pid" $(cat /proc/"$pid"/task/*/children 2>/dev/null)
}
cpu_ticks() { # user + system clock ticks of the given processes, all threads included
  local total=0 pid fields
  for pid in "$@"; do
    # Fields from the third (state) on; utime and stime are the 14th and 15th.
    read -ra fields <<<"$(sed 's/.*) //' /proc/"$pid"/stat 2>/dev/null)" || continue
    ((${#fields[@]} > 12)) || continue
    total=$((total + fields[11] + fields[12]))
  done
  echo "$total"
}
CLK_TCK=$(getconf CLK_TCK)
rss_kib() { awk '/^VmRSS:/ {print $2}' /proc/"$1"/status; }
# How much of a process's memory the kernel backs with transparent huge pages.
huge_kib() { awk '/^AnonHugePages:/ {print $2}' /proc/"$1"/smaps_rollup 2>/dev/null || echo "?"; }
metric() { curl -s -m 5 "http://$GATEWAY_ADDR/metrics" | awk -v name="$1" '$1 == name {print $2}'; }

# Runs wrk on CLIENT_CORE against a server; prints "rps p50_us p99_us requests cpu_us_per_req errors".
to_us() {
  awk -v v="$1" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    if (u == "ms") n *= 1000; else if (u == "s") n *= 1000000; else if (u == "m") n *= 60000000
    printf "%.0f", n }'
}
measure() { # SERVER PATH [LUA_SCRIPT [SCRIPT_ARGS...]]
  local server=$1 path=$2
  shift 2
  local script=() pids before after out
  if (($# > 0)); then
    script=(-s "$1")
    shift
  fi
  pids=$(pids_of "$server")
  before=$(cpu_ticks $pids)
  out=$(timeout $((SECS + 30)) taskset -c "$CLIENT_CORE" wrk -t1 -c"$CONNS" -d"${SECS}s" --latency \
    "${script[@]}" "http://$(addr_of "$server")$path" -- "$@")
  after=$(cpu_ticks $pids)
  local rps p50 p99 requests errors
  rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' <<<"$out")
  p50=$(to_us "$(awk '$1 == "50%" {print $2}' <<<"$out")")
  p99=$(to_us "$(awk '$1 == "99%" {print $2}' <<<"$out")")
  requests=$(awk '/requests in/ {print $1}' <<<"$out")
  errors=$(awk '/Non-2xx or 3xx responses:/ {n += $NF} /Socket errors:/ {n += 1} END {print n + 0}' <<<"$out")
  awk -v t=$((after - before)) -v hz="$CLK_TCK" -v n="$requests" -v r="$rps" -v a="$p50" -v b="$p99" -v e="$errors" \
    'BEGIN {printf "%s %s %s %s %.2f %s\n", r, a, b, n, (n > 0 ? t * 1000000 / hz / n : 0), e}'
}
# Runs the Rust client's Zipf mode on CLIENT_CORE against the gateway; same columns as measure.
measure_zipf() { # PATHS_FILE
  local pids before after out
  pids=$(pids_of gateway)
  before=$(cpu_ticks $pids)
  out=$(timeout $((SECS + 60)) taskset -c "$CLIENT_CORE" "$CLIENT_BIN" zipf "$GATEWAY_ADDR" "$1" \
    "$CONNS" "$SECS" "$ZIPF_EXPONENT")
  after=$(cpu_ticks $pids)
  awk -v t=$((after - before)) -v hz="$CLK_TCK" -v line="$out" 'BEGIN {
    split(line, kv, /[ =]/); for (i = 1; i < length(kv); i += 2) m[kv[i]] = kv[i + 1]
    n = m["requests"]
    printf "%s %s %s %s %.2f %s\n", m["rps"], m["p50_us"], m["p99_us"], n, (n > 0 ? t * 1000000 / hz / n : 0), m["errors"] + m["failed_connections"] }'
}
median() { sort -g | awk '{v[NR] = $1} END {if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
col() { awk -v c="$1" '{print $c}' "$2"; } # column of a results file
ratio_median() { # FILE_A FILE_B COLUMN: median over rounds of A/B
  paste -d' ' <(col "$3" "$1") <(col "$3" "$2") | awk '$2 > 0 {printf "%.3f\n", $1 / $2}' | median
}
verdict() { # VALUE OP TARGET
  awk -v v="$1" -v op="$2" -v t="$3" 'BEGIN {
    if (v == "-") { print "not measured"; exit }
    ok = (op == ">=") ? (v >= t) : (v <= t); print (ok ? "met" : "MISSED") }'
}

say "== load-bench on $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
say "servers pinned to core $SERVER_CORE, wrk -t1 -c$CONNS pinned to core $CLIENT_CORE, keep-alive, $ROUNDS rounds x ${SECS}s"
say "body: $BODY_BYTES bytes ($HIT_PATH); gateway ttl 1h, cache 6GiB; nginx: ${NGINX:-absent}"

# --- warm-up: the same bytes from every server, and the caches answering hits --------------
for server in "${SERVERS[@]}"; do
  for _ in 1 2 3; do
    curl -s -m 10 -D "$WORK/$server.headers" -o "$WORK/$server.body" "http://$(addr_of "$server")$HIT_PATH"
  done
  cmp -s "$WORK/body.json" "$WORK/$server.body" || die "$server does not answer the simulator's bytes"
done
grep -qi '^x-cache: HIT' "$WORK/gateway.headers" || die "the gateway's third request was not a HIT"
[[ -z $NGINX_PID ]] || grep -qi '^x-cache: HIT' "$WORK/nginx.headers" || die "nginx's third request was not a HIT"

# --- scenario hit: interleaved rounds, then the same rounds at a fixed offered load ---------
# The servers for round N, starting one further along each round, so that none is always
# measured first or last (on a shared machine, the position in a round skews a ratio).
in_turn() { # ROUND
  local n=${#SERVERS[@]} i
  for ((i = 0; i < n; i++)); do printf '%s\n' "${SERVERS[$(((i + $1 - 1) % n))]}"; done
}
if wanted hit; then
  for server in "${SERVERS[@]}"; do : >"$WORK/hit.$server"; done
  for round in $(seq "$ROUNDS"); do
    for server in $(in_turn "$round"); do
      measure "$server" "$HIT_PATH" >>"$WORK/hit.$server"
    done
    say "round $round: $(for s in "${SERVERS[@]}"; do printf '%s %s req/s  ' "$s" "$(tail -1 "$WORK/hit.$s" | cut -d' ' -f1)"; done)"
  done
  # Paced: each connection waits DELAY ms after each response, about half the gateway's peak.
  gw_rps=$(col 1 "$WORK/hit.gateway" | median)
  DELAY=$(awk -v c="$CONNS" -v r="$gw_rps" 'BEGIN {d = c * 1000 / (r / 2); d = int(d + 0.5); print (d < 1 ? 1 : d)}')
  for server in "${SERVERS[@]}"; do : >"$WORK/paced.$server"; done
  for round in $(seq "$ROUNDS"); do
    for server in $(in_turn "$round"); do
      measure "$server" "$HIT_PATH" scripts/load-bench-paced.lua "$DELAY" >>"$WORK/paced.$server"
    done
  done
  # The targets' comparator: a minimal hyper server sending the same bytes as a gateway hit.
  BASE=hyper
  [[ -n $TWIN_PID ]] && BASE=hyper+h
  say ""
  say "single-key hits (median of $ROUNDS rounds; ratios are medians of per-round ratios, against $BASE)"
  say "paced: each of the $CONNS connections waits ${DELAY} ms after each response"
  printf '%-8s %10s %8s %8s %11s %9s %9s %9s %11s %9s %9s %9s %7s\n' server "req/s" "p50 µs" "p99 µs" "CPU µs/req" "vs $BASE" "CPU ratio" "vs nginx" "paced req/s" "paced p50" "paced p99" "p99 ratio" errors | tee -a "$OUT"
  for server in "${SERVERS[@]}"; do
    vs_nginx=-
    [[ -n $NGINX_PID ]] && vs_nginx=$(ratio_median "$WORK/hit.$server" "$WORK/hit.nginx" 1)
    printf '%-8s %10s %8s %8s %11s %9s %9s %9s %11s %9s %9s %9s %7s\n' "$server" \
      "$(col 1 "$WORK/hit.$server" | median)" "$(col 2 "$WORK/hit.$server" | median)" \
      "$(col 3 "$WORK/hit.$server" | median)" "$(col 5 "$WORK/hit.$server" | median)" \
      "$(ratio_median "$WORK/hit.$server" "$WORK/hit.$BASE" 1)" \
      "$(ratio_median "$WORK/hit.$server" "$WORK/hit.$BASE" 5)" "$vs_nginx" \
      "$(col 1 "$WORK/paced.$server" | median)" \
      "$(col 2 "$WORK/paced.$server" | median)" "$(col 3 "$WORK/paced.$server" | median)" \
      "$(ratio_median "$WORK/paced.$server" "$WORK/paced.$BASE" 3)" \
      "$(col 6 "$WORK/hit.$server" | awk '{n += $1} END {print n}')" | tee -a "$OUT"
  done
  # The same medians, tab-separated, for the charts.
  TABLE=$(dirname "$OUT")/hit.tsv
  printf 'server\trps\tp50_us\tp99_us\tcpu_us_per_req\tpaced_rps\tpaced_p50_us\tpaced_p99_us\n' >"$TABLE"
  for server in "${SERVERS[@]}"; do
    printf '%s' "$server" >>"$TABLE"
    for c in 1 2 3 5; do printf '\t%s' "$(col "$c" "$WORK/hit.$server" | median)" >>"$TABLE"; done
    for c in 1 2 3; do printf '\t%s' "$(col "$c" "$WORK/paced.$server" | median)" >>"$TABLE"; done
    printf '\n' >>"$TABLE"
  done
  "$CHARTS_BIN" "$TABLE" "$(dirname "$OUT")" 2>&1 | tee -a "$OUT" >&2 || say "the charts could not be drawn"
  for against in $(printf '%s\n' "$BASE" hyper | uniq); do
    [[ $against == "$BASE" ]] && label=target || label="     (one header)"
    rps_ratio=$(ratio_median "$WORK/hit.gateway" "$WORK/hit.$against" 1)
    cpu_ratio=$(ratio_median "$WORK/hit.gateway" "$WORK/hit.$against" 5)
    p99_ratio=$(ratio_median "$WORK/paced.gateway" "$WORK/paced.$against" 3)
    say "$label: hit req/s >= 0.9x $against: $rps_ratio, $(verdict "$rps_ratio" ">=" 0.9)"
    say "$label: CPU per hit <= 1.1x $against's: $cpu_ratio, $(verdict "$cpu_ratio" "<=" 1.1)"
    say "$label: paced hit p99 <= 1.2x $against's: $p99_ratio, $(verdict "$p99_ratio" "<=" 1.2)"
  done
  if [[ -n $NGINX_PID ]]; then
    gw_vs_nginx=$(ratio_median "$WORK/hit.gateway" "$WORK/hit.nginx" 1)
    say "target: hit req/s >= 1.5x nginx: $gw_vs_nginx, $(verdict "$gw_vs_nginx" ">=" 1.5)"
  fi
  say "per-round files (req/s p50 p99 requests cpu_us errors):"
  for server in "${SERVERS[@]}"; do say "  $server: $(tr '\n' ';' <"$WORK/hit.$server")"; done
fi

# --- scenario zipf: load ZIPF_KEYS keys, measure memory, then Zipf hits against one key ------
if wanted zipf; then
  say ""
  say "loading $keys keys ($spaces spaces x $per_space tasks) into the gateway..."
  : >"$WORK/paths"
  for i in $(seq 0 $((spaces - 1))); do
    space=$(printf 'bench-%03d' "$i")
    curl -s -m 30 "http://$SIM_ADDR/_sim/tasks?space=$space&limit=$SPACE_TASKS_LISTED" |
      sed 's/.*"identifiers":\[//; s/\].*//' | tr ',' '\n' | tr -d '"' |
      awk -v s="$space" 'NF {print "/api/v1/tasks/" $1 "?space=" s}' >>"$WORK/paths"
  done
  # The hit key first: it is the Zipf distribution's most asked-for key.
  { echo "$HIT_PATH"; grep -vxF "$HIT_PATH" "$WORK/paths" || true; } >"$WORK/zipf.paths"
  echo "$HIT_PATH" >"$WORK/one.paths"
  entries_before=$(metric alumio_gateway_cache_entries)
  rss_before=$(rss_kib "$GATEWAY_PID")
  fill=$(timeout 900 taskset -c "$CLIENT_CORE" "$CLIENT_BIN" fill "$GATEWAY_ADDR" "$WORK/zipf.paths" "$CONNS")
  sleep 2
  entries_after=$(metric alumio_gateway_cache_entries)
  cache_bytes=$(metric alumio_gateway_cache_bytes)
  rss_after=$(rss_kib "$GATEWAY_PID")
  say "fill: $fill"
  loaded=$(awk -v a="${entries_after:-0}" -v b="${entries_before:-0}" 'BEGIN {print a - b}')
  body_avg=$(awk -v f="$fill" 'BEGIN {split(f, kv, /[ =]/); for (i = 1; i < length(kv); i += 2) m[kv[i]] = kv[i + 1]; printf "%.0f", (m["ok"] > 0 ? m["body_bytes"] / m["ok"] : 0)}')
  per_entry=$(awk -v a="$rss_after" -v b="$rss_before" -v n="$loaded" 'BEGIN {printf "%.0f", (n > 0 ? (a - b) * 1024 / n : 0)}')
  say "memory: RSS ${rss_before} KiB -> ${rss_after} KiB for $loaded new entries (cache reports ${entries_after:-?} entries, ${cache_bytes:-?} weighed bytes)"
  say "memory: $per_entry bytes of RSS per entry; mean body $body_avg bytes; overhead $((per_entry - body_avg)) bytes"
  huge=$(huge_kib "$GATEWAY_PID")
  say "memory: $huge KiB of it in transparent huge pages"
  # A Zipf read of a cold key walks the page tables on 4 KiB pages; say so beside the figure.
  if [[ $huge == 0 && $GATEWAY_ENV != *HUGE_PAGES=off* && $GATEWAY_ENV != *GLIBC_TUNABLES* ]] &&
    grep -q '\[madvise\]' /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null; then
    say "warning: the gateway asked for huge pages (--huge-pages auto) and got none: the Zipf figures below are for 4 KiB pages"
  fi
  say "target: RSS per entry <= body + 600 bytes: $(verdict "$((per_entry - body_avg))" "<=" 600) (at $loaded entries)"
  misses_before=$(metric alumio_gateway_cache_misses_total)
  for kind in one many; do
    : >"$WORK/zipf.$kind"
    : >"$WORK/zipf-wrk.$kind"
  done
  for round in $(seq "$ROUNDS"); do
    measure_zipf "$WORK/one.paths" >>"$WORK/zipf.one"
    measure_zipf "$WORK/zipf.paths" >>"$WORK/zipf.many"
    measure gateway / scripts/load-bench-zipf.lua "$WORK/one.paths" "$ZIPF_EXPONENT" >>"$WORK/zipf-wrk.one"
    measure gateway / scripts/load-bench-zipf.lua "$WORK/zipf.paths" "$ZIPF_EXPONENT" >>"$WORK/zipf-wrk.many"
  done
  misses_after=$(metric alumio_gateway_cache_misses_total)
  say ""
  say "gateway hits, one key vs Zipf(s=$ZIPF_EXPONENT) over $(wc -l <"$WORK/zipf.paths") cached keys, interleaved"
  say "(client: the Rust load client's zipf mode, and wrk with scripts/load-bench-zipf.lua)"
  printf '%-6s %-10s %10s %8s %8s %11s %7s\n' client keys "req/s" "p50 µs" "p99 µs" "CPU µs/req" errors | tee -a "$OUT"
  for client in zipf zipf-wrk; do
    label=rust
    [[ $client == zipf-wrk ]] && label=wrk
    for kind in one many; do
      printf '%-6s %-10s %10s %8s %8s %11s %7s\n' "$label" "$kind" \
        "$(col 1 "$WORK/$client.$kind" | median)" "$(col 2 "$WORK/$client.$kind" | median)" \
        "$(col 3 "$WORK/$client.$kind" | median)" "$(col 5 "$WORK/$client.$kind" | median)" \
        "$(col 6 "$WORK/$client.$kind" | awk '{n += $1} END {print n}')" | tee -a "$OUT"
    done
  done
  zipf_ratio=$(ratio_median "$WORK/zipf.many" "$WORK/zipf.one" 1)
  cpu_ratio=$(ratio_median "$WORK/zipf.one" "$WORK/zipf.many" 5)
  wrk_cpu_ratio=$(ratio_median "$WORK/zipf-wrk.one" "$WORK/zipf-wrk.many" 5)
  say "misses during the Zipf rounds: $(awk -v a="${misses_after:-0}" -v b="${misses_before:-0}" 'BEGIN {print a - b}')"
  say "target: Zipf hit req/s >= 0.85x single key: $zipf_ratio, $(verdict "$zipf_ratio" ">=" 0.85)"
  say "       (as CPU per request, single/Zipf: $cpu_ratio with the Rust client, $wrk_cpu_ratio with wrk)"
fi

# --- scenario cold: COLD_CONCURRENCY requests at once for one key nobody asked for yet ------
if wanted cold; then
  say ""
  limit=$(ulimit -n)
  concurrency=$COLD_CONCURRENCY
  if ((limit < concurrency + 200)); then
    concurrency=$((limit - 200))
    say "the open-file limit is $limit: the burst is lowered to $concurrency requests"
  fi
  # Without `space` the key is new to the gateway; the simulator answers from its first space.
  COLD_PATH="/api/v1/tasks/$ID"
  curl -s -m 5 -X PUT "http://$SIM_ADDR/_sim/fault" -d "{\"latencyMs\":$COLD_DELAY_MS}" >/dev/null
  upstream_before=$(curl -s -m 5 "http://$SIM_ADDR/_sim/stats" | sed 's/.*"totalRequests":\([0-9]*\).*/\1/')
  burst=$(timeout 300 taskset -c "$CLIENT_CORE" "$CLIENT_BIN" burst "$GATEWAY_ADDR" "$COLD_PATH" "$concurrency" "$COLD_DELAY_MS")
  upstream_after=$(curl -s -m 5 "http://$SIM_ADDR/_sim/stats" | sed 's/.*"totalRequests":\([0-9]*\).*/\1/')
  curl -s -m 5 -X PUT "http://$SIM_ADDR/_sim/fault" -d '{"latencyMs":0}' >/dev/null
  upstream=$((upstream_after - upstream_before))
  # The floor: the same burst of hits on the static server, which has no upstream at all.
  floor=$(timeout 300 taskset -c "$CLIENT_CORE" "$CLIENT_BIN" burst "$HYPER_ADDR" "$HIT_PATH" "$concurrency" 0)
  added_p99=$(sed 's/.*added_p99_ms=\([-0-9.]*\).*/\1/' <<<"$burst")
  say "cold key: $concurrency concurrent requests, upstream delay ${COLD_DELAY_MS} ms"
  say "cold key: $burst"
  say "same burst on the static hyper server (no upstream): $floor"
  say "target: 1 upstream request: $upstream, $( ((upstream == 1)) && echo met || echo MISSED)"
  say "target: p99 added over the upstream's delay <= 5 ms: $added_p99 ms, $(verdict "$added_p99" "<=" 5)"
fi
say ""
say "results written to $OUT"
