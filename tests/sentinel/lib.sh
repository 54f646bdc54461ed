# shellcheck shell=bash
# Sourced by tests/scripts/sentinel.sh (bash): a Redis Sentinel topology on
# free loopback ports with Debian's redis-server and redis-sentinel -- a
# master, a replica and three sentinels (quorum 2, down-after 1000 ms;
# failover-timeout 10 s: with 3 s a loaded machine saw a sentinel give up
# on a promotion it had not yet seen, -failover-abort-slave-timeout) --
# with passwords on both sides: Redis requires $RPASS (the replica
# authenticates with masterauth, the sentinels with auth-pass), the
# sentinels require $SPASS (sentinel-pass between themselves).
# Needs: $T (a temp directory), free_port, and an array pids.
# Sets: MPORT RPORT (the first master and replica), SPORTS (3 ports) and
# SPIDS (their pids),
# SURL (sentinel://...: Redis password in the URL; GENQ_SENTINEL_PASSWORD
# is exported for the sentinels'), MASTER (the name monitored).
MASTER=genqm
RPASS=redis-pw-Tq4
SPASS=sentinel-pw-Vb8
declare -A RPID # port -> pid of its redis-server

snt_start_redis() { # PORT [replicaof-port]
    local port=$1 extra=()
    [ $# -gt 1 ] && extra=(--replicaof 127.0.0.1 "$2")
    mkdir -p "$T/r$port"
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
        --dir "$T/r$port" --logfile "$T/r$port/redis.log" \
        --requirepass "$RPASS" --masterauth "$RPASS" "${extra[@]}" &
    RPID[$port]=$!
    pids+=($!)
}

rcli() { # PORT ARGS...: redis-cli against a Redis of the topology
    local port=$1
    shift
    redis-cli -p "$port" -a "$RPASS" --no-auth-warning "$@"
}
scli() { # PORT ARGS...: redis-cli against a sentinel
    local port=$1
    shift
    redis-cli -p "$port" -a "$SPASS" --no-auth-warning "$@"
}

snt_wait() { # DESC COMMAND...: poll every 0.1 s for 20 s
    local desc=$1 i
    shift
    for i in $(seq 1 200); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "sentinel setup: timed out waiting for $desc" >&2
    return 1
}

# the port the sentinels name as master (as seen by sentinel 1)
snt_master_port() {
    scli "${SPORTS[0]}" SENTINEL get-master-addr-by-name "$MASTER" | sed -n 2p
}

snt_setup() {
    MPORT=$(free_port)
    RPORT=$(free_port)
    snt_start_redis "$MPORT"
    snt_wait "the master" rcli "$MPORT" ping
    snt_start_redis "$RPORT" "$MPORT"
    snt_wait "the replica's sync" sh -c \
        "redis-cli -p $RPORT -a $RPASS --no-auth-warning info replication | grep -q 'master_link_status:up'"
    SPORTS=()
    SPIDS=()
    local i p
    for i in 1 2 3; do
        p=$(free_port)
        SPORTS+=("$p")
        mkdir -p "$T/s$p"
        cat >"$T/s$p/sentinel.conf" <<EOF
port $p
bind 127.0.0.1
dir $T/s$p
logfile $T/s$p/sentinel.log
requirepass $SPASS
sentinel sentinel-pass $SPASS
sentinel monitor $MASTER 127.0.0.1 $MPORT 2
sentinel auth-pass $MASTER $RPASS
sentinel down-after-milliseconds $MASTER 1000
sentinel failover-timeout $MASTER 10000
sentinel parallel-syncs $MASTER 1
EOF
        redis-sentinel "$T/s$p/sentinel.conf" &
        SPIDS+=($!)
        pids+=($!)
    done
    # every sentinel knows the replica and the two other sentinels
    for p in "${SPORTS[@]}"; do
        snt_wait "sentinel $p to see the replica and its peers" sh -c \
            "r=\$(redis-cli -p $p -a $SPASS --no-auth-warning SENTINEL master $MASTER | tr '\n' ' '); \
             echo \"\$r\" | grep -q 'num-slaves 1 ' && echo \"\$r\" | grep -q 'num-other-sentinels 2 '"
    done
    export GENQ_SENTINEL_PASSWORD=$SPASS
    SURL="sentinel://:$RPASS@127.0.0.1:${SPORTS[0]},127.0.0.1:${SPORTS[1]},127.0.0.1:${SPORTS[2]}/$MASTER"
}
