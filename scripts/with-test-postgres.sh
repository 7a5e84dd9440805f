#!/usr/bin/env bash
# Run a command with a test PostgreSQL server: `scripts/with-test-postgres.sh CMD [ARGS…]`.
#
# Starts the throw-away cluster of scripts/test-postgres.sh (or joins it when it already runs), exports
# its URL as MYNA_TEST_POSTGRES_URL, runs CMD, and exits with CMD's status.
#
# Who stops the server: runs in the same work tree share one cluster. Each run holds a lease
# (.var/postgres/leases/PID) while CMD runs. When a run ends (also on Ctrl-C / TERM) it drops its lease,
# and the last run out stops the cluster if a run of this script started it. A cluster started by hand
# (`scripts/test-postgres.sh start`) is never stopped here. So `make test` leaves no server running, and
# two `make test` at once in one tree do not pull the server from under each other.
#
# When MYNA_TEST_POSTGRES_URL is already set, that server is used and nothing is started or stopped.
# When no PostgreSQL can be had, CMD still runs without the variable: the tests that need PostgreSQL skip
# with the reason, or fail when MYNA_RP_REQUIRE_POSTGRES=1 (CI).
set -uo pipefail

# shellcheck source=lib/test-server.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/test-server.sh"

log() { printf 'with-test-postgres: %s\n' "$*" >&2; }

run_with_test_server "$SCRIPTS/test-postgres.sh" "${MYNA_PG_STATE_DIR:-$ROOT/.var/postgres}" MYNA_TEST_POSTGRES_URL \
    "could not stop the test cluster" \
    "no PostgreSQL for this run; tests that need it will skip (or fail under MYNA_RP_REQUIRE_POSTGRES=1)" "$@"
