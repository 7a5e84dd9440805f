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

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
REDIS="$HERE/test-redis.sh"
STATE="${MYNA_REDIS_STATE_DIR:-$ROOT/.var/redis}"
LEASES="$STATE/leases"
STARTED_FLAG="$STATE/started-by-wrapper"
LOCK="$STATE/wrapper.lock"

log() { printf 'with-test-redis: %s\n' "$*" >&2; }

if [[ $# -eq 0 ]]; then
    echo "usage: $0 CMD [ARGS…]" >&2
    exit 64
fi

if [[ -n "${MYNA_TEST_REDIS_URL:-}" ]]; then
    log "using MYNA_TEST_REDIS_URL from the environment"
    exec "$@"
fi

mkdir -p "$LEASES"
exec 9>"$LOCK"
locked() { flock 9; "$@"; local status=$?; flock -u 9; return "$status"; }

prune_leases() {
    local lease
    for lease in "$LEASES"/*; do
        [[ -e "$lease" ]] || continue
        kill -0 "$(basename "$lease")" 2>/dev/null || rm -f "$lease"
    done
}

acquire() {
    prune_leases
    # 9>&-: the server must not inherit the lock file.
    if "$REDIS" status >/dev/null 2>&1 9>&-; then
        url="$("$REDIS" url 9>&-)" || return 1
    else
        url="$("$REDIS" start 9>&-)" || return 1
        touch "$STARTED_FLAG"
    fi
    touch "$LEASES/$$"
}

release() {
    rm -f "$LEASES/$$"
    prune_leases
    if [[ -e "$STARTED_FLAG" ]] && [[ -z "$(ls -A "$LEASES" 2>/dev/null)" ]]; then
        "$REDIS" stop 9>&- || log "could not stop the test server"
        rm -f "$STARTED_FLAG"
    fi
}

holding=0
finish() {
    if [[ "$holding" -eq 1 ]]; then
        holding=0
        locked release
    fi
}
trap finish EXIT
trap 'finish; exit 130' INT
trap 'finish; exit 143' TERM

url=""
if locked acquire; then
    holding=1
    export MYNA_TEST_REDIS_URL="$url"
    log "MYNA_TEST_REDIS_URL=$url"
else
    log "no Redis for this run; tests that need it will skip (or fail under MYNA_RP_REQUIRE_REDIS=1)"
fi

"$@" 9>&-
status=$?
finish
exit "$status"
