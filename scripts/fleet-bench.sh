#!/usr/bin/env bash
# Upstream calls per key per TTL window for a fleet: N replicas x M consumers, with a shared
# Redis and without. Each window, M consumers ask for one key at the same moment, spread
# evenly over the N replicas (examples/gateway_load_client.rs `burst`), through a simulator
# that takes SIM_LATENCY per request; then the key's freshness runs out and the next window
# begins. The simulator's request counter, divided by the windows, is the figure: the target
# is 1 whatever N and M with Redis, and N without it. Counts, not times, so a busy machine
# changes nothing but the run time.
#
#   scripts/fleet-bench.sh                      # N = 1 2 3 5, M = 10 100 1000, 3 windows
#   REPLICAS="2 5" CONSUMERS=300 WINDOWS=5 scripts/fleet-bench.sh
#
# Settings (environment): REPLICAS ("1 2 3 5"), CONSUMERS ("10 100 1000"), WINDOWS (3),
# TTL (2s: --ttl-active and --ttl-settled), SIM_LATENCY (200ms), PROFILE (release),
# REDIS_COMMAND_TIMEOUT (the gateway's default), PORT_BASE (28080), OUT
# (target/fleet-bench/results.txt). Installs redis-server as scripts/test.sh does.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib/redis.sh
source scripts/lib/redis.sh

REPLICAS=${REPLICAS:-"1 2 3 5"}
CONSUMERS=${CONSUMERS:-"10 100 1000"}
WINDOWS=${WINDOWS:-3}
TTL=${TTL:-2s}
SIM_LATENCY=${SIM_LATENCY:-200ms}
PROFILE=${PROFILE:-release}
PORT_BASE=${PORT_BASE:-28080}
OUT=${OUT:-target/fleet-bench/results.txt}
REDIS_PORT=$((PORT_BASE - 1))
SIM_PORT=$((PORT_BASE + 900))

die() { printf 'fleet-bench: %s\n' "$*" >&2; exit 1; }
ensure_redis || exit 1
command -v curl >/dev/null 2>&1 || die "curl is needed (apt-get install -y curl)"

WORK=$(mktemp -d /tmp/fleet-bench.XXXXXX)
STARTED=()
stop() { for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done; for pid in "$@"; do wait "$pid" 2>/dev/null || true; done; }
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  stop "${STARTED[@]}"
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "building ($PROFILE)..." >&2
cargo build -q --profile "$PROFILE" -p alumio-gateway -p alumio-sim --bins
cargo build -q --profile "$PROFILE" --example gateway_load_client
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
BIN="$TARGET_DIR/$([[ $PROFILE == dev ]] && echo debug || echo "$PROFILE")"

wait_for() {
  for _ in $(seq 1 200); do curl -fs -o /dev/null "$1" && return 0; sleep 0.05; done
  die "nothing answers $1: $(tail -3 "$WORK"/*.log)"
}

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
  --dir "$WORK" >"$WORK/redis.log" 2>&1 &
STARTED+=("$!")
"$BIN/alumio-sim" --listen "127.0.0.1:$SIM_PORT" --latency "$SIM_LATENCY" >"$WORK/sim.log" 2>&1 &
STARTED+=("$!")
wait_for "http://127.0.0.1:$SIM_PORT/_sim/stats"
echo "fleet-bench-token" >"$WORK/alumio-token"
for _ in $(seq 1 100); do [[ $(redis-cli -p "$REDIS_PORT" PING 2>/dev/null) == PONG ]] && break; sleep 0.05; done
mapfile -t TASKS < <(grep -o "/api/v1/tasks/[^?']*?space=[a-z0-9-]*" "$WORK/sim.log")
[[ ${#TASKS[@]} -gt 0 ]] || die "the simulator printed no task"
sim_requests() { curl -s "http://127.0.0.1:$SIM_PORT/_sim/stats" | sed -n 's/.*"totalRequests":\([0-9]*\).*/\1/p'; }

# run MODE N M KEY: one configuration; prints its row.
run() {
  local mode=$1 replicas=$2 consumers=$3 task=$4 pids=() redis_flags=()
  if [[ $mode == redis ]]; then
    redis-cli -p "$REDIS_PORT" FLUSHALL >/dev/null
    redis_flags=(--redis-url "redis://127.0.0.1:$REDIS_PORT")
    [[ -n ${REDIS_COMMAND_TIMEOUT:-} ]] && redis_flags+=(--redis-command-timeout "$REDIS_COMMAND_TIMEOUT")
  fi
  for replica in $(seq 1 "$replicas"); do
    RUST_LOG=warn "$BIN/alumio-gateway" --listen "127.0.0.1:$((PORT_BASE + replica))" \
      --upstream "http://127.0.0.1:$SIM_PORT/api/v1" --token-file "$WORK/alumio-token" --allow-anonymous \
      --ttl-active "$TTL" --ttl-settled "$TTL" --stale-while-revalidate 0s \
      --max-connections 20000 "${redis_flags[@]}" >>"$WORK/gateway.log" 2>&1 &
    pids+=("$!")
  done
  for replica in $(seq 1 "$replicas"); do
    local ready="http://127.0.0.1:$((PORT_BASE + replica))/readyz"
    wait_for "$ready"
    if [[ $mode == redis ]]; then
      for _ in $(seq 1 200); do curl -s "$ready" | grep -q '"state":"connected"' && break; sleep 0.05; done
    fi
  done
  local before
  before=$(sim_requests)
  for _ in $(seq 1 "$WINDOWS"); do
    local clients=()
    for replica in $(seq 1 "$replicas"); do
      local share=$(( consumers / replicas + (replica <= consumers % replicas ? 1 : 0) ))
      [[ $share -gt 0 ]] || continue
      "$BIN/examples/gateway_load_client" burst "127.0.0.1:$((PORT_BASE + replica))" "$task" \
        "$share" "${SIM_LATENCY%ms}" >>"$WORK/clients.log" 2>&1 &
      clients+=("$!")
    done
    for pid in "${clients[@]}"; do wait "$pid" || die "a burst client failed: $(tail -3 "$WORK/clients.log")"; done
    sleep "$(awk -v ttl="${TTL%s}" 'BEGIN { print ttl + 0.3 }')"
  done
  local calls=$(( $(sim_requests) - before ))
  stop "${pids[@]}"
  printf '%-8s %3s %6s %8s %10s\n' "$mode" "$replicas" "$consumers" "$calls" \
    "$(awk -v c="$calls" -v w="$WINDOWS" 'BEGIN { printf "%.2f", c / w }')"
}

mkdir -p "$(dirname "$OUT")"
{
  echo "# $(date -u +%FT%TZ) $(git rev-parse --short HEAD) profile=$PROFILE windows=$WINDOWS ttl=$TTL sim-latency=$SIM_LATENCY redis-command-timeout=${REDIS_COMMAND_TIMEOUT:-default}"
  printf '%-8s %3s %6s %8s %10s\n' mode N M calls per-window
} | tee "$OUT"
key=0
for mode in redis local; do
  for replicas in $REPLICAS; do
    for consumers in $CONSUMERS; do
      # Every run starts cold: its replicas are new processes and Redis was flushed.
      run "$mode" "$replicas" "$consumers" "${TASKS[$((key % ${#TASKS[@]}))]}" | tee -a "$OUT"
      key=$((key + 1))
    done
  done
done
