# shellcheck shell=bash
# `ensure_redis`: makes sure `redis-server` and `redis-cli` are on PATH, for scripts/test.sh and
# scripts/fleet-demo.sh. As root with apt-get it installs the Debian packages redis-server and
# redis-tools (running `apt-get update` only when the install cannot find them); otherwise it
# prints one line saying what to install and returns 1. Sourced, not run.

ensure_redis() {
  local packages=()
  command -v redis-server >/dev/null 2>&1 || packages+=(redis-server)
  command -v redis-cli >/dev/null 2>&1 || packages+=(redis-tools)
  [[ ${#packages[@]} -eq 0 ]] && return 0
  if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    echo "${0##*/}: install ${packages[*]} (Debian/Ubuntu: sudo apt-get install -y ${packages[*]}; or Redis 6.2+ from redis.io, with redis-server and redis-cli on PATH)" >&2
    return 1
  fi
  echo "${0##*/}: installing ${packages[*]} with apt-get" >&2
  # A package's start-up script would leave a redis-server on port 6379 behind; the tests and the
  # demo start their own. Debian's policy-rc.d hook (exit 101: "action forbidden") prevents it.
  local policy=/usr/sbin/policy-rc.d made_policy=
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && made_policy=1
  fi
  local status=0
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null 2>&1; then
    # A fresh machine has no package lists yet, or stale ones; fetch them once and retry.
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null || status=$?
  fi
  [[ -n $made_policy ]] && rm -f "$policy"
  if [[ $status -ne 0 ]] || ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
    echo "${0##*/}: apt-get could not install ${packages[*]}; install them by hand" >&2
    return 1
  fi
}
