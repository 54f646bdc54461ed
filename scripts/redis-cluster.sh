# shellcheck shell=bash
# Sourced after scripts/lib.sh (pids, free ports) by tests/scripts/cluster.sh
# and bench/cluster.sh: start_cluster DIR N starts N redis-server masters
# in cluster mode on free loopback ports (each with its bus port, +10000,
# free too), no persistence, joins them with `redis-cli --cluster create`
# (no replicas; a single master takes every slot by CLUSTER ADDSLOTSRANGE)
# and waits until the cluster state is ok. Sets CPORTS (the ports,
# space-separated) and CURL (a redis-cluster:// URL of them all).
# CLUSTER_SERVER_ARGS: more redis-server options, one word each.
cluster_ports() {
    python3 - "$1" <<'PY'
import socket, sys
n, out, socks = int(sys.argv[1]), [], []
while len(out) < n:
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]
    socks.append(s)
    if p + 10000 > 65535:
        continue
    b = socket.socket()
    try:
        b.bind(("127.0.0.1", p + 10000))
    except OSError:
        continue
    socks.append(b)
    out.append(p)
print(" ".join(map(str, out)))
PY
}
start_cluster() {
    _dir=$1 _n=$2
    CPORTS=$(cluster_ports "$_n")
    _addrs="" CURL=""
    for _p in $CPORTS; do
        mkdir -p "$_dir/$_p"
        # shellcheck disable=SC2086 # CLUSTER_SERVER_ARGS: one word each
        redis-server --port "$_p" --bind 127.0.0.1 --save '' --appendonly no \
            --cluster-enabled yes --cluster-config-file "$_dir/$_p/nodes.conf" \
            --cluster-node-timeout 5000 --dir "$_dir/$_p" \
            --logfile "$_dir/$_p/redis.log" ${CLUSTER_SERVER_ARGS:-} &
        pids="$pids $!"
        _addrs="$_addrs 127.0.0.1:$_p"
        CURL="${CURL:+$CURL,}127.0.0.1:$_p"
    done
    CURL="redis-cluster://$CURL"
    for _p in $CPORTS; do
        _i=0
        until redis-cli -p "$_p" ping >/dev/null 2>&1; do
            _i=$((_i + 1)); [ $_i -gt 100 ] && { echo "redis-server $_p did not start"; cat "$_dir/$_p/redis.log"; exit 1; }
            sleep 0.05
        done
    done
    if [ "$_n" -eq 1 ]; then # --cluster create wants 3 masters
        redis-cli -p "$CPORTS" cluster addslotsrange 0 16383 >"$_dir/create.log" 2>&1
    else
        # shellcheck disable=SC2086 # one argument per address
        redis-cli --cluster create $_addrs --cluster-replicas 0 --cluster-yes \
            >"$_dir/create.log" 2>&1
    fi || { echo "cluster create failed"; cat "$_dir/create.log"; exit 1; }
    _i=0
    for _p in $CPORTS; do
        until redis-cli -p "$_p" cluster info 2>/dev/null | grep -q 'cluster_state:ok'; do
            _i=$((_i + 1)); [ $_i -gt 200 ] && { echo "cluster not ok"; exit 1; }
            sleep 0.05
        done
    done
}
