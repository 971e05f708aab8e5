#!/usr/bin/env bash
# A fleet on one machine: one redis-server, the simulated Alumio, and three gateway replicas
# sharing that Redis, all on loopback. Prints requests to try across the replicas (a MISS on
# one, a shared HIT on another, a purge on a third and then a MISS everywhere), and stops
# everything it started on exit (Ctrl-C).
#
#   scripts/fleet-demo.sh           # build (release), start, print the requests, wait for Ctrl-C
#   scripts/fleet-demo.sh --tour    # the same, but run the requests itself, check them, and exit
#
# Settings (environment): PORT_BASE (8080: replicas on PORT_BASE+1..3, their admin APIs on
# PORT_BASE+101..103, the simulator on PORT_BASE+10000, Redis on PORT_BASE-1700 = 6380),
# SIM_LATENCY (300ms, so a miss is visible), PROFILE (release; "dev" for a debug build).
# Installs redis-server and redis-tools the way scripts/test.sh does when they are missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib/redis.sh
source scripts/lib/redis.sh

TOUR=
[[ ${1:-} == --tour ]] && TOUR=1
PORT_BASE=${PORT_BASE:-8080}
SIM_LATENCY=${SIM_LATENCY:-300ms}
PROFILE=${PROFILE:-release}
REDIS_PORT=$((PORT_BASE - 1700))
SIM_PORT=$((PORT_BASE + 10000))
SPACE=acme-prod

say() { printf '%s\n' "$*"; }
die() { printf 'fleet-demo: %s\n' "$*" >&2; exit 1; }

ensure_redis || exit 1
command -v curl >/dev/null 2>&1 || die "curl is needed (apt-get install -y curl)"

# --- everything started here is stopped on exit ------------------------------------------
WORK=$(mktemp -d /tmp/fleet-demo.XXXXXX)
STARTED=()
stop_all() {
  local status=$?
  trap - EXIT INT TERM
  for pid in "${STARTED[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${STARTED[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
  exit "$status"
}
trap stop_all EXIT
trap 'exit 130' INT TERM

# start NAME COMMAND...: runs COMMAND in the background, its output in $WORK/NAME.log.
start() {
  local name=$1
  shift
  "$@" >"$WORK/$name.log" 2>&1 &
  STARTED+=("$!")
}

# wait_for NAME URL: until URL answers 200, or the process behind NAME has exited.
wait_for() {
  local name=$1 url=$2 pid=${STARTED[-1]}
  for _ in $(seq 1 300); do
    curl -fs -o /dev/null "$url" && return 0
    kill -0 "$pid" 2>/dev/null || { cat "$WORK/$name.log" >&2; die "$name exited at start"; }
    sleep 0.1
  done
  die "$name did not answer $url"
}

say "building alumio-gateway and alumio-sim ($PROFILE)..."
cargo build -q --profile "$PROFILE" -p alumio-gateway -p alumio-sim --bins
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
BIN="$TARGET_DIR/$([[ $PROFILE == dev ]] && echo debug || echo "$PROFILE")"

# --- Redis, Alumio, three replicas -------------------------------------------------------
start redis redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
  --daemonize no --dir "$WORK"
for _ in $(seq 1 100); do
  [[ $(redis-cli -p "$REDIS_PORT" PING 2>/dev/null) == PONG ]] && break
  sleep 0.1
done
[[ $(redis-cli -p "$REDIS_PORT" PING 2>/dev/null) == PONG ]] || die "redis-server did not start on $REDIS_PORT"

head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$WORK/alumio-token"
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$WORK/admin-token"
start alumio-sim "$BIN/alumio-sim" --listen "127.0.0.1:$SIM_PORT" --latency "$SIM_LATENCY" \
  --token-file "$WORK/alumio-token" --space "$SPACE"
wait_for alumio-sim "http://127.0.0.1:$SIM_PORT/_sim/stats"

for replica in 1 2 3; do
  start "replica-$replica" env RUST_LOG=warn "$BIN/alumio-gateway" \
    --listen "127.0.0.1:$((PORT_BASE + replica))" \
    --admin-listen "127.0.0.1:$((PORT_BASE + 100 + replica))" \
    --admin-token-file "$WORK/admin-token" \
    --upstream "http://127.0.0.1:$SIM_PORT/api/v1" --token-file "$WORK/alumio-token" \
    --allow-anonymous \
    --redis-url "redis://127.0.0.1:$REDIS_PORT"
  wait_for "replica-$replica" "http://127.0.0.1:$((PORT_BASE + replica))/readyz"
done

TASK=$(grep -o "/api/v1/tasks/[^?']*?space=$SPACE" "$WORK/alumio-sim.log" | head -1)
[[ -n $TASK ]] || die "the simulator printed no example task"
IDENTIFIER=${TASK#/api/v1/tasks/}
IDENTIFIER=${IDENTIFIER%%\?*}
replica() { printf 'http://127.0.0.1:%s' "$((PORT_BASE + $1))"; }
admin() { printf 'http://127.0.0.1:%s' "$((PORT_BASE + 100 + $1))"; }
ADMIN_AUTH="Authorization: Bearer $(cat "$WORK/admin-token")"

# --- what to try -------------------------------------------------------------------------
if [[ -z $TOUR ]]; then
  cat <<EOF

A fleet of three gateways shares redis://127.0.0.1:$REDIS_PORT in front of a simulated Alumio
($SIM_LATENCY per request). Try, in order:

  # a MISS on replica 1 (slow: it asks Alumio)
  curl -si '$(replica 1)$TASK' | grep -i -e '^x-cache' -e '^cache-status'
  # a shared HIT on replica 2 (fast: from Redis, Alumio is not asked)
  curl -si '$(replica 2)$TASK' | grep -i -e '^x-cache' -e '^cache-status'
  # a purge on replica 3 reaches every replica...
  curl -si -X DELETE -H '$ADMIN_AUTH' '$(admin 3)/admin/cache/tasks/$IDENTIFIER?space=$SPACE'
  # ...so replica 1 misses again
  curl -si '$(replica 1)$TASK' | grep -i -e '^x-cache' -e '^cache-status'

  # how many requests Alumio got, and what the shared tier did
  curl -s 'http://127.0.0.1:$SIM_PORT/_sim/stats'; echo
  curl -s '$(replica 2)/metrics' | grep alumio_gateway_shared_
  curl -s '$(replica 1)/readyz'; echo

Logs are in $WORK. Ctrl-C stops everything.
EOF
  wait
  exit 0
fi

# --- the tour: run the requests and check what they show ---------------------------------
x_cache() { curl -s -o /dev/null -D - "$1" | tr -d '\r' | sed -n 's/^[Xx]-[Cc]ache: //p'; }
cache_status() { curl -s -o /dev/null -D - "$1" | tr -d '\r' | sed -n 's/^[Cc]ache-[Ss]tatus: //p'; }
upstream_requests() { curl -s "http://127.0.0.1:$SIM_PORT/_sim/stats" | sed -n 's/.*"totalRequests":\([0-9]*\).*/\1/p'; }
expect() { [[ $2 == "$3" ]] || die "$1: expected '$3', got '$2'"; say "ok  $1: $2"; }

expect "replica 1, first request" "$(x_cache "$(replica 1)$TASK")" MISS
status=$(cache_status "$(replica 2)$TASK")
[[ $status == *detail=shared* ]] || die "replica 2: expected a shared hit, got '$status'"
say "ok  replica 2, same task: $status"
expect "Alumio requests so far" "$(upstream_requests)" 1
purge=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE -H "$ADMIN_AUTH" \
  "$(admin 3)/admin/cache/tasks/$IDENTIFIER?space=$SPACE")
expect "purge on replica 3" "$purge" 204
sleep 1
expect "replica 1 after the purge" "$(x_cache "$(replica 1)$TASK")" MISS
expect "Alumio requests in all" "$(upstream_requests)" 2
say "the tour passed"
