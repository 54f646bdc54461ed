#!/bin/bash
# Static analysis behind `make lint`: cppcheck, then clang-tidy with the
# checks of .clang-tidy, over common/ worker/ enqueue-tool/ tests/mock-llm/
# tests/fuzz/, with the project's compile flags. Prints every finding and
# exits 1 if there is any. False positives are suppressed inline in the
# source, with the reason. LINT_JOBS parallel clang-tidy runs (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in cppcheck clang-tidy; do
    command -v "$tool" >/dev/null ||
        { echo "lint: $tool not found (apt-get install cppcheck clang-tidy)" >&2; exit 2; }
done
tmp=$(mktemp -d /tmp/genq-lint.XXXXXX)
trap 'rm -rf "$tmp"' EXIT INT TERM

mapfile -t SRC < <(ls common/*.c worker/*.c enqueue-tool/*.c tests/mock-llm/*.c \
    tests/fuzz/*.c 2>/dev/null)
# The Makefile's flags minus warnings and optimisation (clang-tidy reads
# them after "--"); -Itests/fuzz for the fuzz targets' shared header.
FLAGS="-std=c11 -Icommon -Ibuild/gen -Itests/mock-llm -Itests/fuzz
    $(pkg-config --cflags hiredis libcurl libcjson libjwt)"
status=0
start=$(date +%s)

# cppcheck. Suppressed everywhere, for one reason each:
#  - varFuncNullUB: log_kv(..., NULL) ends its key/value list with NULL. C
#    allows NULL to be a plain 0, but glibc with GCC or Clang defines it as
#    ((void *)0), and log_kv is declared __attribute__((sentinel)), so the
#    compiler rejects a list that does not end in a null pointer.
#  - missingIncludeSystem: system headers are not given to cppcheck.
echo "== cppcheck $(cppcheck --version | cut -d' ' -f2) (${#SRC[@]} files)"
if ! timeout 300 cppcheck --enable=warning,performance,portability \
    --error-exitcode=1 --inline-suppr --std=c11 --quiet -j "${LINT_JOBS:-2}" \
    -I common -I build/gen -I tests/mock-llm -I tests/fuzz \
    --suppress=varFuncNullUB --suppress=missingIncludeSystem \
    --template='{file}:{line}:{column}: {severity}: {message} [{id}]' \
    "${SRC[@]}" 2>"$tmp/cppcheck"; then
    status=1
fi
cat "$tmp/cppcheck"
[ -s "$tmp/cppcheck" ] && status=1

# clang-tidy, one process per file, LINT_JOBS at a time.
echo "== clang-tidy $(clang-tidy --version | sed -n 's/.*version \([0-9.]*\).*/\1/p' | head -n 1) (.clang-tidy)"
export FLAGS
# shellcheck disable=SC2016 # $1, $2 and $FLAGS expand in the inner sh
printf '%s\n' "${SRC[@]}" | xargs -P "${LINT_JOBS:-2}" -I{} sh -c \
    'timeout 300 clang-tidy --quiet "$1" -- $FLAGS >"$2/$(echo "$1" | tr / _).tidy" 2>&1 || echo "$1" >>"$2/failed"' \
    _ {} "$tmp"
for f in "${SRC[@]}"; do
    out="$tmp/$(echo "$f" | tr / _).tidy"
    # findings only: drop clang-tidy's "N warnings generated" chatter
    grep -vE '^[0-9]+ warnings? (and [0-9]+ errors? )?generated\.$|^Suppressed [0-9]+ warnings|^Use -header-filter|^Use .*-system-headers' "$out" || true
done
if [ -s "$tmp/failed" ]; then
    echo "== clang-tidy findings (details above)"
    cat "$tmp"/*.tidy | grep -E '^[^ ]+:[0-9]+:[0-9]+: (warning|error):' |
        sed "s|^$PWD/||" | sort -u
    status=1
fi

echo "lint: $([ $status -eq 0 ] && echo clean || echo FINDINGS) in $(($(date +%s) - start)) s"
exit $status
