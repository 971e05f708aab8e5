#!/usr/bin/env bash
# Fleet benchmark (issue 12): upstream calls per key per TTL window for N replicas x M consumers
# with the shared tier and without it, then the latency and CPU per request of L1 hits, L2 hits
# and misses. Starts its own redis-server on a free loopback port, then examples/fleet_bench,
# which starts the simulator and the replicas from the release binaries; then the L1 hit with
# --redis-url next to the L1 hit without it, through scripts/load-bench.sh's hit scenario. Replicas
# and Redis run on SERVER_CORE, the tool and the simulator on CLIENT_CORE (shared/benchmarking.md).
# Prints the tables and writes them to $OUT; everything it starts, it stops on exit.
#
#   scripts/fleet-bench.sh                  # every part, about 6 minutes
#   PARTS=sharing scripts/fleet-bench.sh    # only the upstream-call counts (not timing-sensitive)
#
# Settings (environment): PARTS ("sharing latency l1"), REPLICAS (1,2,3,5), CONSUMERS
# (10,100,300), KEYS (5 cold keys per cell), DELAY_MS (200), ROUNDS (5, for latency and l1),
# REQUESTS (5000 keys per kind and round), CONNS (1), REPLICA_ARGS (more gateway arguments for
# every replica the tool starts, e.g. "--redis-command-timeout 200ms"), SERVER_CORE (1), CLIENT_CORE (0),
# MAX_SECONDS (900: the longest the tool may run), OUT (target/fleet-bench/results.txt). Needs
# redis-server, redis-cli (installed by scripts/lib/redis.sh's ensure_redis when run as root) and
# taskset, and for l1 what load-bench.sh needs.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
PARTS=${PARTS:-"sharing latency l1"}
REPLICAS=${REPLICAS:-1,2,3,5}
CONSUMERS=${CONSUMERS:-10,100,300}
KEYS=${KEYS:-5}
DELAY_MS=${DELAY_MS:-200}
ROUNDS=${ROUNDS:-5}
REQUESTS=${REQUESTS:-5000}
CONNS=${CONNS:-1}
REPLICA_ARGS=${REPLICA_ARGS:-}
SERVER_CORE=${SERVER_CORE:-1}
CLIENT_CORE=${CLIENT_CORE:-0}
MAX_SECONDS=${MAX_SECONDS:-900}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
OUT=${OUT:-$TARGET_DIR/fleet-bench/results.txt}

die() {
  echo "fleet-bench: $*" >&2
  exit 1
}
has() { command -v "$1" >/dev/null 2>&1; }
wanted() { [[ " $PARTS " == *" $1 "* ]]; }
# shellcheck source=lib/redis.sh
source "$ROOT/scripts/lib/redis.sh"
ensure_redis || exit 1
has taskset || die "taskset is missing: apt-get install -y util-linux"

# --- what we start, and stopping it ------------------------------------------------------------
WORK=$(mktemp -d /tmp/fleet-bench.XXXXXX)
REDIS_PID=
BENCH_PID=
LOAD_BENCH_PID=
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  [[ -n $BENCH_PID ]] && kill -TERM -- "-$BENCH_PID" 2>/dev/null || true
  [[ -n $LOAD_BENCH_PID ]] && kill -TERM "$LOAD_BENCH_PID" 2>/dev/null || true
  [[ -n $REDIS_PID ]] && kill -TERM "$REDIS_PID" 2>/dev/null || true
  for pid in $REDIS_PID $BENCH_PID $LOAD_BENCH_PID; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  done
  [[ -n $BENCH_PID ]] && kill -KILL -- "-$BENCH_PID" 2>/dev/null || true
  [[ -n $REDIS_PID ]] && kill -KILL "$REDIS_PID" 2>/dev/null || true
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# The packages and the kind of targets of scripts/load-bench.sh's cargo call, so that the features
# come out the same and both scripts use one gateway binary.
echo "fleet-bench: building (release)..." >&2
timeout 1800 cargo build --release -q -p alumio-gateway -p alumio-sim -p alumio-suite \
  --bin alumio-gateway --bin alumio-sim --example static_bytes_server --example gateway_load_client \
  --example fleet_bench

# --- Redis on a free loopback port ------------------------------------------------------------
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for _ in $(seq 20); do
  port=$((20000 + RANDOM % 20000))
  listening "$port" && continue
  taskset -c "$SERVER_CORE" redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
    --maxmemory 2gb --maxmemory-policy volatile-lru >"$WORK/redis.log" 2>&1 &
  REDIS_PID=$!
  for _ in $(seq 50); do
    [[ $(redis-cli -p "$port" ping 2>/dev/null) == PONG ]] && break 2
    kill -0 "$REDIS_PID" 2>/dev/null || break
    sleep 0.1
  done
  kill "$REDIS_PID" 2>/dev/null || true
  REDIS_PID=
done
[[ -n $REDIS_PID ]] || die "redis-server did not start: $(tail -3 "$WORK/redis.log")"
REDIS_URL="redis://127.0.0.1:$port"
redis_commands() { redis-cli -p "$port" info stats | tr -d '\r' | awk -F: '$1 == "total_commands_processed" {print $2}'; }

# --- the tool --------------------------------------------------------------------------------
mkdir -p "$(dirname "$OUT")"
{
  echo "== fleet-bench $(date -u '+%Y-%m-%d %H:%M UTC') at $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
  echo "$(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "$(redis-server --version | cut -d' ' -f1-3); replicas and Redis on core $SERVER_CORE, tool and simulator on core $CLIENT_CORE"
  echo "PARTS=\"$PARTS\" REPLICAS=$REPLICAS CONSUMERS=$CONSUMERS KEYS=$KEYS DELAY_MS=$DELAY_MS ROUNDS=$ROUNDS REQUESTS=$REQUESTS CONNS=$CONNS REPLICA_ARGS=\"$REPLICA_ARGS\""
  echo
} >"$WORK/tables.txt"
part=
if wanted sharing && wanted latency; then part=all; elif wanted sharing; then part=sharing; elif wanted latency; then part=latency; fi
if [[ -n $part ]]; then
  # timeout leads a process group of its own (the tool, the simulator, the replicas), which it
  # stops as a whole after MAX_SECONDS, and so does cleanup.
  timeout -k 10 "$MAX_SECONDS" taskset -c "$CLIENT_CORE" "$TARGET_DIR/release/examples/fleet_bench" \
    --gateway "$TARGET_DIR/release/alumio-gateway" --simulator "$TARGET_DIR/release/alumio-sim" \
    --redis-url "$REDIS_URL" --redis-pid "$REDIS_PID" \
    --server-core "$SERVER_CORE" --simulator-core "$CLIENT_CORE" --part "$part" \
    --replicas "$REPLICAS" --consumers "$CONSUMERS" --keys "$KEYS" --delay-ms "$DELAY_MS" \
    --rounds "$ROUNDS" --requests "$REQUESTS" --connections "$CONNS" \
    --replica-args "$REPLICA_ARGS" >>"$WORK/tables.txt" &
  BENCH_PID=$!
  wait "$BENCH_PID" || die "the fleet benchmark failed (exit $?)"
  BENCH_PID=
fi

# --- l1: the L1 hit with --redis-url ("gateway'") next to the L1 hit without it ("gateway") ----
if wanted l1; then
  # load-bench.sh listens on fixed ports: never measure somebody else's server on them.
  for used in 18080 18081 18082 18083 18084 18085; do
    listening "$used" && die "port $used is in use (another load-bench.sh?): the l1 part needs 18080-18085"
  done
  redis-cli -p "$port" flushall >/dev/null
  commands_before=$(redis_commands)
  echo "fleet-bench: running scripts/load-bench.sh's hit scenario (about 3 minutes)" >&2
  SCENARIOS=hit ROUNDS=$ROUNDS SERVER_CORE=$SERVER_CORE CLIENT_CORE=$CLIENT_CORE \
    OUT="$WORK/load-bench.txt" VARIANT_ARGS="--redis-url $REDIS_URL" scripts/load-bench.sh \
    >/dev/null 2>"$WORK/load-bench.log" &
  LOAD_BENCH_PID=$!
  wait "$LOAD_BENCH_PID" || die "load-bench.sh failed: $(tail -3 "$WORK/load-bench.log")"
  LOAD_BENCH_PID=
  commands=$(($(redis_commands) - commands_before - 1))
  # Its per-round lines read "  gateway: rps p50 p99 requests cpu_us errors;...".
  rounds_of() { grep -m1 "^  $1: " "$WORK/load-bench.txt" | sed "s/^  $1: //" | tr ';' '\n' | sed '/^$/d'; }
  paste -d' ' <(rounds_of gateway) <(rounds_of "gateway'") |
    awk '{printf "%.4f %.4f\n", $7 / $1, $11 / $5}' >"$WORK/l1.ratios"
  median() { sort -g | awk '{v[NR] = $1} END {if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
  {
    echo "L1 hits with --redis-url (gateway') and without (gateway), from scripts/load-bench.sh:"
    sed -n '/^single-key hits/,/^per-round files/p' "$WORK/load-bench.txt"
    grep "^  gateway" "$WORK/load-bench.txt"
    echo "gateway'/gateway, medians of $(wc -l <"$WORK/l1.ratios") per-round ratios: req/s" \
      "$(cut -d' ' -f1 "$WORK/l1.ratios" | median), CPU per request $(cut -d' ' -f2 "$WORK/l1.ratios" | median)"
    echo "Redis commands during the whole load-bench run (warm-up miss included): $commands"
    echo
  } >>"$WORK/tables.txt"
fi
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$WORK/tables.txt"
cp "$WORK/tables.txt" "$OUT"
cat "$OUT"
echo "fleet-bench: results written to $OUT" >&2
