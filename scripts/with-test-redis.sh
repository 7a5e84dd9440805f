#!/usr/bin/env bash
# Run a command with a test Redis server: `scripts/with-test-redis.sh CMD [ARGS…]`.
#
# Starts the throw-away server of scripts/test-redis.sh (or joins it when it already runs), exports its
# URL as MYNA_TEST_REDIS_URL, runs CMD, and exits with CMD's status. Chains with the PostgreSQL wrapper:
# `scripts/with-test-postgres.sh scripts/with-test-redis.sh CMD…` (what `make test` runs).
#
# Who stops the server: runs in the same work tree share one server. Each run holds a lease
# (.var/redis/leases/PID) while CMD runs. When a run ends (also on Ctrl-C / TERM) it drops its lease,
# and the last run out stops the server if a run of this script started it. A server started by hand
# (`scripts/test-redis.sh start`) is never stopped here. So `make test` leaves no server running, and
# two `make test` at once in one tree do not pull the server from under each other.
#
# When MYNA_TEST_REDIS_URL is already set, that server is used and nothing is started or stopped.
# When no Redis can be had, CMD still runs without the variable: the tests that need Redis skip with
# the reason, or fail when MYNA_RP_REQUIRE_REDIS=1 (CI).
set -uo pipefail

# shellcheck source=lib/test-server.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/test-server.sh"

log() { printf 'with-test-redis: %s\n' "$*" >&2; }

run_with_test_server "$SCRIPTS/test-redis.sh" "${MYNA_REDIS_STATE_DIR:-$ROOT/.var/redis}" MYNA_TEST_REDIS_URL \
    "could not stop the test server" \
    "no Redis for this run; tests that need it will skip (or fail under MYNA_RP_REQUIRE_REDIS=1)" "$@"
