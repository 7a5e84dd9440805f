#!/usr/bin/env bash
# A throw-away Redis server for the test suite, on 127.0.0.1 only.
#
#   scripts/test-redis.sh start    # install (apt, root only) if missing, start; prints the URL
#   scripts/test-redis.sh url      # prints the URL of the running server (exit 1 if not running)
#   scripts/test-redis.sh status   # "running on PORT" / "stopped" (exit 0 / 3)
#   scripts/test-redis.sh stop     # shutdown; no-op when not running
#   scripts/test-redis.sh clean    # stop and delete the state folder
#
# stdout carries only the URL (redis://127.0.0.1:PORT/0); progress and errors go to stderr, so
# `url=$(scripts/test-redis.sh start)` works.
#
# The server's state lives in .var/redis/ of the work tree (MYNA_REDIS_STATE_DIR overrides): port,
# redis.pid (written by Redis), server.log. It listens on 127.0.0.1 only (port 56379 or the next free one; MYNA_REDIS_PORT
# overrides the first), has no Unix socket, no password (protected mode stays on; loopback only), and
# no persistence at all (no RDB snapshots, no AOF): it is for tests, never for data anyone keeps. It runs
# with maxmemory-policy noeviction so a full server answers with an error instead of silently dropping
# keys. A second `start` reuses a running server.
#
# redis-server on PATH is used. When missing and we are root with apt-get, Debian's `redis-server` package
# is installed (its own service on 6379 is never started: a policy-rc.d denies service starts during the
# install). Otherwise the script says why and exits 2; the tests that need Redis then skip (or fail when
# MYNA_RP_REQUIRE_REDIS=1).
set -euo pipefail

# shellcheck source=lib/test-server.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/test-server.sh"
STATE="${MYNA_REDIS_STATE_DIR:-$ROOT/.var/redis}"
FIRST_PORT="${MYNA_REDIS_PORT:-56379}"
READY_SECONDS=30

log() { printf 'test-redis: %s\n' "$*" >&2; }

# PING over bash's /dev/tcp (no redis-cli needed): true when a Redis answers +PONG on the port.
ping_port() {
    local port="$1" reply=""
    {
        exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
        printf 'PING\r\n' >&3
        IFS= read -r -t 2 reply <&3 || true
        exec 3>&-
    } 2>/dev/null
    [[ "$reply" == "+PONG"* ]]
}

# True while pid is a live process (a zombie waiting for its parent to reap it is not: kill -0 still
# succeeds on one, and in a container PID 1 may reap late).
alive() {
    local state
    kill -0 "$1" 2>/dev/null || return 1
    state="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null || true)"
    [[ "$state" != Z && "$state" != X ]]
}

# The pid in redis.pid, if that process is alive and is a redis-server (a stale file names a reused pid).
server_pid() {
    local pid
    [[ -f "$STATE/redis.pid" ]] || return 1
    pid="$(cat "$STATE/redis.pid")"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    alive "$pid" || return 1
    [[ "$(cat "/proc/$pid/comm" 2>/dev/null || true)" == redis-server* ]] || return 1
    echo "$pid"
}

is_running() {
    server_pid >/dev/null && [[ -f "$STATE/port" ]] && ping_port "$(cat "$STATE/port")"
}

url() {
    echo "redis://127.0.0.1:$(cat "$STATE/port")/0"
}

# Start on one port; returns 0 once it answers PING (pid in redis.pid), 1 when the port was lost to
# someone else meanwhile, 2 on any other failure.
start_server() {
    local port="$1" child waited=0
    : >"$STATE/server.log"
    rm -f "$STATE/redis.pid"
    # setsid: a session of its own, so a Ctrl-C in the terminal reaches the wrappers (which stop it when
    # they are the last user), not the server under a concurrent run. stdin/stdout/stderr go away from the
    # caller: `url=$(… start)` must not wait for the server's pipes; fd 9 is a wrapper's lock.
    # Redis writes --pidfile itself, which stays right even if setsid had to fork.
    setsid "$SERVER" \
        --bind 127.0.0.1 --port "$port" --protected-mode yes \
        --save "" --appendonly no --dir "$STATE" \
        --daemonize no --pidfile "$STATE/redis.pid" \
        --maxmemory 256mb --maxmemory-policy noeviction \
        </dev/null >>"$STATE/server.log" 2>&1 9>&- &
    child=$!
    while ((waited < READY_SECONDS * 10)); do
        if server_pid >/dev/null && ping_port "$port"; then
            return 0
        fi
        if ! alive "$child" && ! server_pid >/dev/null; then
            rm -f "$STATE/redis.pid"
            if grep -q -i -E "address already in use|could not create server tcp listening socket" \
                "$STATE/server.log" 2>/dev/null; then
                return 1
            fi
            tail -n 20 "$STATE/server.log" >&2 2>/dev/null || true
            return 2
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
    log "redis-server did not answer PING within $READY_SECONDS s"
    kill -TERM "$(server_pid || echo "$child")" 2>/dev/null || true
    rm -f "$STATE/redis.pid"
    tail -n 20 "$STATE/server.log" >&2 2>/dev/null || true
    return 2
}

cmd_start() {
    local started=$SECONDS
    make_state_dir
    if is_running; then
        log "reusing the running server on port $(cat "$STATE/port")"
        url
        return 0
    fi
    rm -f "$STATE/redis.pid"
    start_on_a_free_port start_server redis-server "$STATE/server.log"
    log "$("$SERVER" --version | awk '{print $1, $2, $3}') on 127.0.0.1:$STARTED_PORT (ready in $((SECONDS - started)) s)"
    url
}

cmd_stop() {
    local pid waited=0
    pid="$(server_pid)" || { rm -f "$STATE/redis.pid"; return 0; }
    # SIGTERM: Redis shuts down cleanly (nothing to save: persistence is off).
    kill -TERM "$pid" 2>/dev/null || true
    while alive "$pid" && ((waited < 100)); do
        sleep 0.1
        waited=$((waited + 1))
    done
    if alive "$pid"; then
        log "redis-server $pid ignored SIGTERM for 10 s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$STATE/redis.pid"
    log "stopped"
}

cmd_clean() {
    cmd_stop
    rm -rf "$STATE"
}

main() {
    local command="${1:-}"
    check_command "$command"
    # stop/status/url/clean never need the binary: they act on the recorded pid and port.
    if [[ "$command" == start ]] && ! SERVER="$(command -v redis-server)"; then
        apt_install redis-server redis-server redis-server Redis MYNA_TEST_REDIS_URL
        SERVER="$(command -v redis-server)" || die "redis-server still not found after the install"
    fi
    run_command "$command"
}

main "$@"
