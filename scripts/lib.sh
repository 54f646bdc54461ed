# Sourced by scripts/demo.sh, tests/run.sh and bench/ops/lib.sh, after they
# set WORKDIR (their temp dir): every process added to pids is stopped and
# waited for on exit, then WORKDIR is removed; free_port prints a free
# loopback TCP port; start_redis starts a throwaway redis-server.
pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    for p in $pids; do wait "$p" 2>/dev/null || true; done
    rm -rf "$WORKDIR"
}
trap cleanup EXIT INT TERM
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
# start_redis DIR: a redis-server without persistence on a free loopback
# port, its files and log in DIR; sets RPORT, adds it to pids and waits
# until it answers (exit 1 with its log after 5 s).
start_redis() {
    RPORT=$(free_port)
    redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no \
        --dir "$1" --logfile "$1/redis.log" &
    pids="$pids $!"
    _i=0
    until redis-cli -p "$RPORT" ping >/dev/null 2>&1; do
        _i=$((_i + 1)); [ $_i -gt 100 ] && { echo "redis-server did not start"; cat "$1/redis.log"; exit 1; }
        sleep 0.05
    done
}
