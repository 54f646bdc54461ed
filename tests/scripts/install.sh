#!/bin/bash
# make install PREFIX=...: the binaries, the man pages genq(1) and
# genq-worker(1), the example systemd unit and worker.ini.example land in
# place; the pages render without groff warnings and cover every command
# and option the binaries have (and nothing they lack); the example config
# loads; the unit passes systemd-analyze verify when that is available.
set -euo pipefail
: "${GENQ_TEST_TMP:?run through make test}"
cd "$(dirname "$0")/../.."
P=$GENQ_TEST_TMP/prefix
fail=0
checks=0
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
ok() { checks=$((checks + 1)); }

# A clean make: not the caller's flags (make test SAN=1 passes SAN=1 down).
if ! env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s install PREFIX="$P" \
    >"$GENQ_TEST_TMP/install.log" 2>&1; then
    cat "$GENQ_TEST_TMP/install.log"
    echo "0 passed, 1 failed"
    exit 1
fi

for f in bin/genq bin/genq-worker; do
    [ -x "$P/$f" ] && ok || bad "$P/$f missing or not executable"
done
# genq-mockllm is a test tool: it stays in the build tree.
[ ! -e "$P/bin/genq-mockllm" ] && ok || bad "make install installed the test tool genq-mockllm"
for f in share/man/man1/genq.1 share/man/man1/genq-worker.1 \
    share/genq/genq-worker.service share/genq/worker.ini.example; do
    [ -f "$P/$f" ] && ok || bad "$P/$f missing"
done
"$P/bin/genq-worker" --version >/dev/null && ok || bad "installed genq-worker does not run"

# The pages render, without a single groff warning.
for page in genq genq-worker; do
    src=$P/share/man/man1/$page.1
    [ -f "$src" ] || continue
    w=$(groff -man -ww -z "$src" 2>&1) || true
    [ -z "$w" ] && ok || bad "$page.1: groff warnings: $w"
    if command -v man >/dev/null 2>&1; then
        out=$(MANWIDTH=80 man -l "$src" 2>"$GENQ_TEST_TMP/man.err") || true
        if grep -q "^NAME" <<<"$out" && grep -q "$page - " <<<"$out" &&
            [ ! -s "$GENQ_TEST_TMP/man.err" ]; then ok; else
            bad "man -l $page.1: $(cat "$GENQ_TEST_TMP/man.err")"; fi
        MANPATH=$P/share/man man -w "$page" >/dev/null 2>&1 && ok ||
            bad "man -w $page does not find the installed page"
    else
        bad "man not installed (apt-get install man-db; make test installs it)"
    fi
done

# genq-worker(1) documents every long option of --help, and genq(1) every
# command of `genq --help` and no command the binary lacks.
wpage=man/genq-worker.1
for opt in $("$P/bin/genq-worker" --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
    esc=${opt//-/\\-}
    grep -qF -- "$esc" "$wpage" && ok || bad "genq-worker.1 does not document $opt"
done
have=$("$P/bin/genq" --help | sed -n '/^Commands:/,/^$/p' | awk 'NF>1{print $1}' | sort)
for c in $have; do
    grep -qE "^\.SS \"(.*, )?genq $c[\",]" man/genq.1 && ok || bad "genq.1 has no section for 'genq $c'"
done
for c in $(grep '^\.SS "genq ' man/genq.1 | grep -o 'genq [a-z]*' | awk '{print $2}' | sort -u); do
    grep -qx "$c" <<<"$have" && ok || bad "genq.1 documents 'genq $c', which genq --help does not list"
done
for c in $(sed -n 's/^  \([a-z][a-z]*\)  .*/\1/p' <("$P/bin/genq" dlq --help)); do
    grep -q "^\.B genq dlq $c" man/genq.1 && ok || bad "genq.1 does not document 'genq dlq $c'"
done

# The example configuration loads as it is.
ini=$P/share/genq/worker.ini.example
if out=$(env -u GENQ_CONFIG "$P/bin/genq-worker" --config "$ini" --print-config 2>&1); then
    grep -q "; file $ini:" <<<"$out" && ok || bad "worker.ini.example: no value came from the file"
else
    bad "worker.ini.example does not load: $out"
fi

# The unit: the directives the README promises; systemd-analyze verify on a
# copy that points at the installed binary (the man page found via MANPATH).
unit=$P/share/genq/genq-worker.service
for d in 'Type=simple' 'ExecStart=/usr/local/bin/genq-worker --config /etc/genq/worker.ini' \
    'KillSignal=SIGTERM' 'Restart=on-failure' 'NoNewPrivileges=yes' \
    'ProtectSystem=strict' 'EnvironmentFile=-/etc/genq/worker.env'; do
    grep -qxF "$d" "$unit" && ok || bad "unit lacks $d"
done
grep -qE '^(DynamicUser=yes|User=genq)$' "$unit" && ok || bad "unit runs as root"
stop=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)s\{0,1\}$/\1/p' "$unit")
[ -n "$stop" ] && [ "$stop" -gt 30 ] && ok || bad "TimeoutStopSec not above the 30 s drain timeout"
if command -v systemd-analyze >/dev/null 2>&1; then
    mkdir -p "$GENQ_TEST_TMP/unit"
    sed "s#^ExecStart=/usr/local/bin/#ExecStart=$P/bin/#" "$unit" >"$GENQ_TEST_TMP/unit/genq-worker.service"
    if v=$(MANPATH=$P/share/man systemd-analyze verify "$GENQ_TEST_TMP/unit/genq-worker.service" 2>&1); then
        ok
    else
        bad "systemd-analyze verify: $v"
    fi
else
    bad "systemd-analyze not installed (apt-get install systemd; make test installs it)"
fi

if [ "$fail" -eq 0 ]; then
    echo "install: $checks checks ok under $P"
    echo "1 passed, 0 failed"
else
    echo "0 passed, $fail failed"
    exit 1
fi
