#!/bin/bash
# Build the libFuzzer targets (tests/fuzz/fuzz_*.c, clang with
# -fsanitize=fuzzer,address,undefined) into build/fuzz/ and run each for
# SECONDS (default 60), FUZZ_JOBS at a time (default: 2, or 1 on one core).
# Prints the executions per target; exits 1 on any finding (crash, leak,
# timeout, invariant), keeping the input under build/fuzz/artifacts/.
# Usage: bash tests/fuzz/run.sh [SECONDS] [TARGET...]   (make fuzz FUZZ_S=N)
# Replay one input: build/fuzz/fuzz_X build/fuzz/artifacts/fuzz_X-crash-...
set -euo pipefail

secs=${1:-60}
shift || true
case "$secs" in '' | *[!0-9]*) echo "usage: $0 [SECONDS] [TARGET...]" >&2; exit 2 ;; esac

cd "$(dirname "$0")/../.."
out=build/fuzz
CC=${FUZZ_CC:-clang}
command -v "$CC" >/dev/null || { echo "fuzz: $CC not found (apt-get install clang)" >&2; exit 2; }

# target: sources from common/, -max_len, dictionaries (tests/fuzz/dict/)
# the modules of job.h and llm.h, each split over several files
JOB_M="job job_err meta pack pack_dict pack_zdict job_fast job_parse job_validate job_notify job_cache jsonscan template template_ver timefmt uuid"
LLM_M="llm llm_request llm_response llm_stream llm_stream_fast llm_cache jsonscan"
declare -A SRC=(
    [fuzz_sse]="sse buf $LLM_M utf8"
    [fuzz_job]="$JOB_M jsonl utf8 $LLM_M buf sse"
    [fuzz_jsonl]="jsonl buf utf8"
    [fuzz_redisurl]="redisurl sentinelurl cluster utf8"
    [fuzz_retry]="retry utf8"
    [fuzz_llm_body]="$LLM_M buf sse utf8"
    [fuzz_pack]="pack pack_dict pack_zdict meta"
)
declare -A MAXLEN=([fuzz_sse]=8192 [fuzz_job]=8192 [fuzz_jsonl]=4096
    [fuzz_redisurl]=600 [fuzz_retry]=300 [fuzz_llm_body]=8192
    [fuzz_pack]=4096)
declare -A DICT=([fuzz_sse]="json llm" [fuzz_job]="json job" [fuzz_jsonl]=""
    [fuzz_redisurl]="redisurl" [fuzz_retry]="retry" [fuzz_llm_body]="json llm"
    [fuzz_pack]="json job")
ALL="fuzz_sse fuzz_job fuzz_jsonl fuzz_redisurl fuzz_retry fuzz_llm_body fuzz_pack"
targets=${*:-$ALL}
for t in $targets; do
    [ -n "${SRC[$t]+x}" ] || { echo "fuzz: unknown target $t (have: $ALL)" >&2; exit 2; }
done

jobs=${FUZZ_JOBS:-$(($(nproc) > 1 ? 2 : 1))}
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

# ---- build ----------------------------------------------------------------
mkdir -p "$out/obj" "$out/artifacts" "$out/corpus"
read -ra CJSON_CFLAGS <<<"$(pkg-config --cflags libcjson)"
read -ra CJSON_LIBS <<<"$(pkg-config --libs libcjson)"
# shellcheck disable=SC2054 # the comma belongs to -fsanitize=
FLAGS=(-std=c11 -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined
    -fno-sanitize-recover=all -Wall -Wextra -Werror -Wformat=2
    -Wstrict-prototypes -Wwrite-strings -Wshadow -Wmissing-prototypes
    -Wcast-qual -Wpointer-arith -Wundef -Icommon -Ibuild/gen
    -Itests/fuzz "${CJSON_CFLAGS[@]}")
LIBS=("${CJSON_LIBS[@]}" -lzstd -lm)
needed=$(for t in $targets; do echo "${SRC[$t]}"; done | tr ' ' '\n' | sort -u)
for m in $needed; do
    o=$out/obj/$m.o
    if [ ! -e "$o" ] || [ "common/$m.c" -nt "$o" ] || [ -n "$(find common -name '*.h' -newer "$o")" ]; then
        "$CC" "${FLAGS[@]}" -fsanitize=fuzzer-no-link -c -o "$o" "common/$m.c"
    fi
done
for t in $targets; do
    objs=()
    for m in $(tr ' ' '\n' <<<"${SRC[$t]}" | sort -u); do objs+=("$out/obj/$m.o"); done
    "$CC" "${FLAGS[@]}" -fsanitize=fuzzer -o "$out/$t" "tests/fuzz/$t.c" \
        "${objs[@]}" "${LIBS[@]}"
    : >"$out/$t.dict"
    for d in ${DICT[$t]}; do cat "tests/fuzz/dict/$d.dict" >>"$out/$t.dict"; done
done
echo "fuzz: built $(wc -w <<<"$targets") targets in $out; ${secs}s each, $jobs at a time"

# ---- run ------------------------------------------------------------------
# New inputs go to build/fuzz/corpus/<target> (kept between runs); the
# committed seeds in tests/fuzz/corpus/<target> are read only.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export GENQ_FUZZ_TEMPLATES="$PWD/templates"
run_one() {
    local t=$1 dictopt=()
    mkdir -p "$out/corpus/$t"
    [ -s "$out/$t.dict" ] && dictopt=(-dict="$out/$t.dict")
    # the shell's timeout is a backstop only: libFuzzer stops itself
    exec timeout -k 10 $((secs + 120)) "$out/$t" -max_total_time="$secs" \
        -max_len="${MAXLEN[$t]}" -timeout=20 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$out/artifacts/$t-" \
        "${dictopt[@]}" "$out/corpus/$t" "tests/fuzz/corpus/$t" \
        >"$out/$t.log" 2>&1
}

declare -A RC
start=$(date +%s)
read -ra queue <<<"$targets"
running=()
declare -A PIDOF
i=0
while [ $i -lt ${#queue[@]} ] || [ ${#running[@]} -gt 0 ]; do
    while [ $i -lt ${#queue[@]} ] && [ ${#running[@]} -lt "$jobs" ]; do
        t=${queue[$i]}
        i=$((i + 1))
        run_one "$t" &
        PIDOF[$t]=$!
        pids+=($!)
        running+=("$t")
    done
    wait -n || true
    still=()
    for t in "${running[@]}"; do
        if kill -0 "${PIDOF[$t]}" 2>/dev/null; then
            still+=("$t")
        else
            rc=0
            wait "${PIDOF[$t]}" || rc=$?
            RC[$t]=$rc
        fi
    done
    running=("${still[@]+"${still[@]}"}")
done
pids=()

# ---- report -----------------------------------------------------------------
fail=0
total=0
printf '%-16s %14s %8s %s\n' target executions exec/s result
for t in $targets; do
    log=$out/$t.log
    n=$(awk '/stat::number_of_executed_units:/ {v = $2} END {print v + 0}' "$log")
    s=$(awk '/stat::average_exec_per_sec:/ {v = $2} END {print v + 0}' "$log")
    total=$((total + n))
    if [ "${RC[$t]}" -eq 0 ] && ! grep -qE '^==[0-9]+==ERROR|^SUMMARY: |invariant failed' "$log"; then
        res=ok
    else
        res="FINDING (rc ${RC[$t]}; see $log)"
        fail=1
    fi
    printf '%-16s %14s %8s %s\n' "$t" "$n" "$s" "$res"
done
echo "fuzz: $total executions in $(($(date +%s) - start)) s"
if [ "$fail" -ne 0 ]; then
    for t in $targets; do
        [ "${RC[$t]}" -eq 0 ] && continue
        echo "---- $t (last lines of $out/$t.log)"
        grep -vE '^#[0-9]+' "$out/$t.log" | tail -n 40
    done
    find "$out/artifacts" -type f -printf 'artifact: %p\n'
    exit 1
fi
