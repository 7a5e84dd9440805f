# Shared part of the throw-away test servers (sourced, never run):
#
#   scripts/test-postgres.sh, scripts/test-redis.sh        the servers: install, port choice, url/status
#   scripts/with-test-postgres.sh, scripts/with-test-redis.sh   the wrappers: leases, lock, start/stop
#
# The sourcing script sets `set -…` itself and defines `log` (its own prefix on stderr). The server
# scripts also define STATE and FIRST_PORT, and the functions `is_running`, `url`, `cmd_start`, `cmd_stop`
# and `cmd_clean`.

# This folder's parent (scripts/) and the work tree.
SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROOT="$(cd "$SCRIPTS/.." && pwd)"
# How many ports from FIRST_PORT a server script tries.
PORT_TRIES=50

# --- servers ----------------------------------------------------------------------------------------------

die() { log "$*"; exit 2; }

# check_command COMMAND: exit 64 with the usage unless COMMAND is one the server scripts know.
check_command() {
    case "$1" in
        start | stop | url | status | clean) ;;
        *)
            echo "usage: $0 start|stop|url|status|clean" >&2
            exit 64
            ;;
    esac
}

# apt_install PACKAGE MISSING SHORT PRODUCT URL_VARIABLE: install Debian's PACKAGE when root with apt-get,
# else die saying why. MISSING names what was not found ("PostgreSQL (pg_ctl, initdb)"), SHORT the same
# in the progress line, PRODUCT what to install by hand, URL_VARIABLE the alternative.
apt_install() {
    local package="$1" missing="$2" short="$3" product="$4" url_variable="$5"
    if [[ "$(id -u)" -ne 0 ]]; then
        die "$missing not found and not root: install it (Debian: apt-get install $package) or set $url_variable"
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        die "$missing not found and no apt-get here: install $product or set $url_variable"
    fi
    log "$short not found: installing Debian's $package with apt-get (once per machine)…"
    local started=$SECONDS policy=/usr/sbin/policy-rc.d own_policy=0
    # Keep the package from starting its default service (a server on the standard port nobody would stop).
    if [[ ! -e "$policy" ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        own_policy=1
    fi
    local status=0
    {
        DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$package"
    } >&2 || status=$?
    if [[ "$own_policy" -eq 1 ]]; then
        rm -f "$policy"
    fi
    [[ "$status" -eq 0 ]] || die "apt-get install $package failed (exit $status)"
    log "installed in $((SECONDS - started)) s"
}

# make_state_dir: create STATE; the .var folder is never committed.
make_state_dir() {
    mkdir -p "$STATE"
    [[ -f "$ROOT/.var/.gitignore" ]] || { mkdir -p "$ROOT/.var" && echo '*' >"$ROOT/.var/.gitignore"; }
}

port_in_use() {
    # bash's /dev/tcp: a successful connect means something listens there.
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# start_on_a_free_port TRY WHAT LOG: from FIRST_PORT (or the port recorded in STATE/port), the first of
# PORT_TRIES ports nobody listens on is written to STATE/port and `TRY PORT` starts the server there:
# 0 started (STARTED_PORT is set), 1 the port was taken meanwhile (next port), anything else dies
# "WHAT did not start (log: LOG)".
start_on_a_free_port() {
    local try="$1" what="$2" log_file="$3" port attempt status
    port="$FIRST_PORT"
    [[ -f "$STATE/port" ]] && port="$(cat "$STATE/port")"
    for ((attempt = 0; attempt < PORT_TRIES; attempt++)); do
        if ! port_in_use "$port"; then
            echo "$port" >"$STATE/port"
            status=0
            "$try" "$port" || status=$?
            if [[ "$status" -eq 0 ]]; then
                STARTED_PORT="$port"
                return 0
            fi
            [[ "$status" -eq 1 ]] || die "$what did not start (log: $log_file)"
            log "port $port taken meanwhile; trying the next one"
        fi
        port=$((FIRST_PORT + (port - FIRST_PORT + 1) % 1000))
    done
    die "could not start $what on any port from $FIRST_PORT (log: $log_file)"
}

# run_command COMMAND: the script's cmd_start, cmd_stop or cmd_clean, or the answer to `url` / `status`.
run_command() {
    case "$1" in
        start) cmd_start ;;
        stop) cmd_stop ;;
        clean) cmd_clean ;;
        url) answer_url ;;
        status) answer_status ;;
    esac
}

# answer_url / answer_status: the `url` and `status` commands.
answer_url() {
    if is_running; then url; else
        log "not running"
        exit 1
    fi
}

answer_status() {
    if is_running; then echo "running on port $(cat "$STATE/port")"; else
        echo "stopped"
        exit 3
    fi
}

# --- wrappers ---------------------------------------------------------------------------------------------

# run_with_test_server SERVER STATE URL_VARIABLE STOP_FAILURE NO_SERVER CMD [ARGS…]: run CMD with the
# server of the script SERVER (state folder STATE) exported as URL_VARIABLE, and exit with CMD's status.
# Joins a running server or starts one; every run holds a lease (STATE/leases/PID) while CMD runs, and the
# last run out stops the server if a wrapper started it. A URL_VARIABLE already set is used as it is.
# STOP_FAILURE and NO_SERVER are the messages logged when the stop fails / when no server can be had.
run_with_test_server() {
    SERVER="$1" STATE="$2" URL_VARIABLE="$3" STOP_FAILURE="$4" NO_SERVER="$5"
    shift 5
    LEASES="$STATE/leases"
    STARTED_FLAG="$STATE/started-by-wrapper"
    LOCK="$STATE/wrapper.lock"

    if [[ $# -eq 0 ]]; then
        echo "usage: $0 CMD [ARGS…]" >&2
        exit 64
    fi

    if [[ -n "${!URL_VARIABLE:-}" ]]; then
        log "using $URL_VARIABLE from the environment"
        exec "$@"
    fi

    mkdir -p "$LEASES"
    exec 9>"$LOCK"

    holding=0
    trap finish EXIT
    trap 'finish; exit 130' INT
    trap 'finish; exit 143' TERM

    url=""
    if locked acquire; then
        holding=1
        export "$URL_VARIABLE=$url"
        log "$URL_VARIABLE=$url"
    else
        log "$NO_SERVER"
    fi

    "$@" 9>&-
    local status=$?
    finish
    exit "$status"
}

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
    if "$SERVER" status >/dev/null 2>&1 9>&-; then
        url="$("$SERVER" url 9>&-)" || return 1
    else
        url="$("$SERVER" start 9>&-)" || return 1
        touch "$STARTED_FLAG"
    fi
    touch "$LEASES/$$"
}

release() {
    rm -f "$LEASES/$$"
    prune_leases
    if [[ -e "$STARTED_FLAG" ]] && [[ -z "$(ls -A "$LEASES" 2>/dev/null)" ]]; then
        "$SERVER" stop 9>&- || log "$STOP_FAILURE"
        rm -f "$STARTED_FLAG"
    fi
}

finish() {
    if [[ "$holding" -eq 1 ]]; then
        holding=0
        locked release
    fi
}
