#!/usr/bin/env bash
# The whole test suite in one command, as the README gives it and CI runs it: installs what the
# tests start themselves (redis-server and redis-cli, see scripts/lib/redis.sh), then runs
# `cargo test --workspace --all-features` with any extra arguments passed through:
#
#   scripts/test.sh                        # everything
#   scripts/test.sh --test api fleet       # the black-box tests whose names contain "fleet"
#   TEST_LOG=1 scripts/test.sh --test api redis_server -- --nocapture
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib/redis.sh
source scripts/lib/redis.sh

ensure_redis || exit 1
exec cargo test --workspace --all-features "$@"
