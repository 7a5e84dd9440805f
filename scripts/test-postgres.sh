#!/usr/bin/env bash
# A throw-away PostgreSQL cluster for the test suite, on 127.0.0.1 only.
#
#   scripts/test-postgres.sh start    # install (apt, root only) if missing, initdb, start; prints the URL
#   scripts/test-postgres.sh url      # prints the URL of the running cluster (exit 1 if not running)
#   scripts/test-postgres.sh status   # "running on PORT" / "stopped" (exit 0 / 3)
#   scripts/test-postgres.sh stop     # fast shutdown; no-op when not running
#   scripts/test-postgres.sh clean    # stop and delete the cluster
#
# stdout carries only the SQLAlchemy URL (postgresql+psycopg://postgres@127.0.0.1:PORT/myna_test); progress
# and errors go to stderr, so `url=$(scripts/test-postgres.sh start)` works.
#
# The cluster lives in .var/postgres/ of the work tree (MYNA_PG_STATE_DIR overrides): data/ (or a folder
# under /tmp when the postgres system user cannot reach the work tree; it holds server.log), port. It listens on
# 127.0.0.1 only, has no Unix socket, trusts connections (a test cluster; nothing secret is stored) and
# runs with fsync off: it is for tests, never for data anyone keeps. A second `start` reuses a running
# cluster; a stopped one is started again with its data (tests make their own schemas or tables).
#
# PostgreSQL binaries: pg_ctl/initdb on PATH, else the newest /usr/lib/postgresql/*/bin (Debian). When
# neither exists and we are root with apt-get, Debian's `postgresql` package is installed (its own
# "main" cluster is never started: a policy-rc.d denies service starts during the install). Otherwise the
# script says why and exits 2; the tests that need PostgreSQL then skip (or fail when
# MYNA_RP_REQUIRE_POSTGRES=1).
set -euo pipefail

# shellcheck source=lib/test-server.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/test-server.sh"
STATE="${MYNA_PG_STATE_DIR:-$ROOT/.var/postgres}"
DATABASE="myna_test"
SUPERUSER="postgres"
FIRST_PORT="${MYNA_PG_PORT:-55432}"

log() { printf 'test-postgres: %s\n' "$*" >&2; }

find_bindir() {
    local dir
    if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
        dirname "$(readlink -f "$(command -v pg_ctl)")"
        return 0
    fi
    # Debian keeps the server binaries out of PATH; take the newest major version.
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [[ -x "$dir/pg_ctl" && -x "$dir/initdb" ]]; then
            echo "$dir"
            return 0
        fi
    done
    return 1
}

# --- who runs the server: initdb and postgres refuse to run as root --------------------------------------

as_owner() {
    if [[ "$(id -u)" -eq 0 ]]; then
        runuser -u "$SUPERUSER" -- "$@"
    else
        "$@"
    fi
}

ensure_system_user() {
    [[ "$(id -u)" -eq 0 ]] || return 0
    if ! id "$SUPERUSER" >/dev/null 2>&1; then
        log "creating the '$SUPERUSER' system user"
        useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/sh "$SUPERUSER"
    fi
}

# The data folder: .var/postgres/data, or (root, work tree unreachable for the postgres user, e.g. under
# /root) a folder under /tmp whose path is remembered in .var/postgres/datadir.
data_dir() {
    if [[ -f "$STATE/datadir" ]]; then
        cat "$STATE/datadir"
    else
        echo "$STATE/data"
    fi
}

choose_data_dir() {
    local dir="$STATE/data"
    if [[ "$(id -u)" -eq 0 ]] && ! runuser -u "$SUPERUSER" -- test -x "$STATE"; then
        dir="$(mktemp -d "${TMPDIR:-/tmp}/myna-rp-postgres.XXXXXX")"
        log "the '$SUPERUSER' user cannot reach $STATE; cluster data in $dir"
    fi
    echo "$dir" >"$STATE/datadir"
    echo "$dir"
}

is_running() {
    local dir
    dir="$(data_dir)"
    [[ -f "$dir/PG_VERSION" ]] || return 1
    as_owner "$BINDIR/pg_ctl" status -D "$dir" >/dev/null 2>&1
}

server_version() {
    "$BINDIR/postgres" -V | awk '{print $3}'
}

url() {
    echo "postgresql+psycopg://$SUPERUSER@127.0.0.1:$(cat "$STATE/port")/$DATABASE"
}

init_cluster() {
    local dir="$1"
    rm -rf "$dir"
    mkdir -p "$dir"
    if [[ "$(id -u)" -eq 0 ]]; then
        chown "$SUPERUSER:" "$dir"
    fi
    chmod 700 "$dir"
    log "initdb $dir"
    as_owner "$BINDIR/initdb" -D "$dir" -U "$SUPERUSER" --auth-local=trust --auth-host=trust \
        --encoding=UTF8 --locale=C.UTF-8 --no-sync >"$STATE/initdb.log" 2>&1 ||
        { cat "$STATE/initdb.log" >&2; die "initdb failed"; }
}

start_server() {
    local dir="$1" port="$2"
    # A fresh log per start, so a failure is read from this attempt only (pg_ctl appends).
    as_owner sh -c ': >"$1"' sh "$dir/server.log"
    # listen_addresses: loopback only; no Unix socket; settings for a disposable cluster. The log sits in
    # the data folder, which the server's user owns.
    as_owner "$BINDIR/pg_ctl" start -D "$dir" -w -t 60 -l "$dir/server.log" -o "\
        -c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories='' \
        -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
        -c max_connections=200 -c shared_buffers=64MB" >/dev/null
}

create_database() {
    local port
    port="$(cat "$STATE/port")"
    local exists
    exists="$("$BINDIR/psql" -h 127.0.0.1 -p "$port" -U "$SUPERUSER" -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'")"
    if [[ "$exists" != "1" ]]; then
        "$BINDIR/createdb" -h 127.0.0.1 -p "$port" -U "$SUPERUSER" "$DATABASE"
    fi
}

# Start the cluster in DATA_DIR on one port: 0 started, 1 the port was lost meanwhile, 2 a real failure.
start_on_port() {
    start_server "$DATA_DIR" "$1" && return 0
    if grep -q -i -E "could not (bind|create listen)|address already in use" "$DATA_DIR/server.log" 2>/dev/null; then
        return 1
    fi
    tail -n 20 "$DATA_DIR/server.log" >&2 2>/dev/null || true
    return 2
}

cmd_start() {
    local started=$SECONDS
    make_state_dir
    ensure_system_user
    if [[ "$(id -u)" -eq 0 ]]; then
        chmod 755 "$STATE"
    fi
    if is_running; then
        log "reusing the running cluster on port $(cat "$STATE/port")"
        create_database
        url
        return 0
    fi
    DATA_DIR="$(data_dir)"
    if [[ ! -f "$DATA_DIR/PG_VERSION" ]] || [[ "$(cat "$DATA_DIR/PG_VERSION")" != "$(server_version | cut -d. -f1)" ]]; then
        DATA_DIR="$(choose_data_dir)"
        init_cluster "$DATA_DIR"
    fi
    start_on_a_free_port start_on_port PostgreSQL "$DATA_DIR/server.log"
    create_database
    log "PostgreSQL $(server_version) on 127.0.0.1:$STARTED_PORT (ready in $((SECONDS - started)) s)"
    url
}

cmd_stop() {
    if is_running; then
        as_owner "$BINDIR/pg_ctl" stop -D "$(data_dir)" -m fast -w -t 60 >/dev/null
        log "stopped"
    fi
}

cmd_clean() {
    cmd_stop
    local dir
    dir="$(data_dir)"
    rm -rf "$dir" "$STATE"
}

main() {
    local command="${1:-}"
    check_command "$command"
    if ! BINDIR="$(find_bindir)"; then
        case "$command" in
            start)
                apt_install postgresql "PostgreSQL (pg_ctl, initdb)" PostgreSQL PostgreSQL MYNA_TEST_POSTGRES_URL
                BINDIR="$(find_bindir)" || die "PostgreSQL binaries still not found after the install"
                ;;
            stop | clean)
                [[ "$command" == clean ]] && rm -rf "$STATE"
                exit 0
                ;;
            *) die "PostgreSQL is not installed" ;;
        esac
    fi
    run_command "$command"
}

main "$@"
