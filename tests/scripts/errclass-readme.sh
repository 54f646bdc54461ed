#!/bin/bash
# The README's error-class table must be exactly what the code classifies
# (genq-worker --error-classes prints common/errclass.c's table).
set -euo pipefail
: "${GENQ_BIN:?run through make test}"
want=$("$GENQ_BIN/genq-worker" --error-classes)
have=$(sed -n '/<!-- errclass:begin -->/,/<!-- errclass:end -->/p' README.md | sed '1d;$d')
if [ "$want" != "$have" ]; then
    echo "README error table differs from the code; regenerate it with:"
    echo "  bin/genq-worker --error-classes"
    diff <(echo "$want") <(echo "$have") || true
    echo "0 passed, 1 failed"; exit 1
fi
echo "README error table matches the code ($(echo "$want" | wc -l) lines)"
