#!/bin/bash
# bench/ops/dlq-ls-rss.sh: `genq dlq ls` over 100,000 dead jobs must stay
# under 20 MiB of resident memory (peak RSS from /usr/bin/time -v, or VmHWM
# polled from /proc when time(1) is missing), as text and as --json, and
# `genq dlq export` too. Starts its own redis-server (no persistence) and
# genq-mockllm on free ports. Usage: bench/ops/dlq-ls-rss.sh [N]
. "$(dirname "$0")/lib.sh"
N=${1:-100000}
Q=bench-dlq-ls
LIMIT_KB=$((20 * 1024))
start_servers
echo "making $N dead jobs (worker against the mock, [mock:fail=400]) ..."
t0=$(now_s)
make_dead "$N"
echo "dead: $(stat dead) (made in $(awk -v a="$t0" -v b="$(now_s)" 'BEGIN{printf "%.1f", b-a}') s)"

# peak_rss OUTFILE CMD...: runs CMD with stdout to OUTFILE; prints peak KiB
peak_rss() {
    local out=$1
    shift
    if [ -x /usr/bin/time ]; then
        /usr/bin/time -v "$@" >"$out" 2>"$TMP/time.txt"
        awk -F: '/Maximum resident set size/ { gsub(/ /, "", $2); print $2 }' "$TMP/time.txt"
    else
        "$@" >"$out" &
        local p=$! hwm=0 v
        while kill -0 "$p" 2>/dev/null; do
            v=$(awk '/VmHWM/ { print $2 }' "/proc/$p/status" 2>/dev/null || echo 0)
            [ -n "$v" ] && [ "$v" -gt "$hwm" ] && hwm=$v
            sleep 0.01
        done
        wait "$p"
        echo "$hwm"
    fi
}

fail=0
for mode in text json export; do
    case $mode in
    text) args=(dlq ls) ;;
    json) args=(dlq ls --json) ;;
    export) args=(dlq export) ;;
    esac
    t0=$(now_s)
    kb=$(peak_rss "$TMP/out.$mode" "$BIN/genq" "${args[@]}" --redis "$REDIS" --queue "$Q")
    secs=$(awk -v a="$t0" -v b="$(now_s)" 'BEGIN { printf "%.2f", b - a }')
    lines=$(wc -l <"$TMP/out.$mode")
    mib=$(awk -v k="$kb" 'BEGIN { printf "%.1f", k / 1024 }')
    echo "genq ${args[*]}: $lines lines in ${secs} s, peak RSS ${mib} MiB (${kb} KiB; limit 20 MiB)"
    [ "$lines" -ge "$N" ] || { echo "FAIL: expected $N lines"; fail=1; }
    [ "$kb" -lt "$LIMIT_KB" ] || { echo "FAIL: over 20 MiB"; fail=1; }
done
[ $fail -eq 0 ] && echo "dlq-ls-rss bench: 1 passed, 0 failed" || { echo "dlq-ls-rss bench: 0 passed, 1 failed"; exit 1; }
