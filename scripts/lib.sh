# Sourced by scripts/demo.sh, tests/run.sh and bench/ops/lib.sh, after they
# set WORKDIR (their temp dir): every process added to pids is stopped and
# waited for on exit, then WORKDIR is removed; free_port prints a free
# loopback TCP port.
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
