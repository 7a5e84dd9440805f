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

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
PG="$HERE/test-postgres.sh"
STATE="${MYNA_PG_STATE_DIR:-$ROOT/.var/postgres}"
LEASES="$STATE/leases"
STARTED_FLAG="$STATE/started-by-wrapper"
LOCK="$STATE/wrapper.lock"

log() { printf 'with-test-postgres: %s\n' "$*" >&2; }

if [[ $# -eq 0 ]]; then
    echo "usage: $0 CMD [ARGS…]" >&2
    exit 64
fi

if [[ -n "${MYNA_TEST_POSTGRES_URL:-}" ]]; then
    log "using MYNA_TEST_POSTGRES_URL from the environment"
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
    if "$PG" status >/dev/null 2>&1 9>&-; then
        url="$("$PG" url 9>&-)" || return 1
    else
        url="$("$PG" start 9>&-)" || return 1
        touch "$STARTED_FLAG"
    fi
    touch "$LEASES/$$"
}

release() {
    rm -f "$LEASES/$$"
    prune_leases
    if [[ -e "$STARTED_FLAG" ]] && [[ -z "$(ls -A "$LEASES" 2>/dev/null)" ]]; then
        "$PG" stop 9>&- || log "could not stop the test cluster"
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
    export MYNA_TEST_POSTGRES_URL="$url"
    log "MYNA_TEST_POSTGRES_URL=$url"
else
    log "no PostgreSQL for this run; tests that need it will skip (or fail under MYNA_RP_REQUIRE_POSTGRES=1)"
fi

"$@" 9>&-
status=$?
finish
exit "$status"
