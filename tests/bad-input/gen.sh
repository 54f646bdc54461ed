#!/bin/sh
# Write the generated bad-input files (too big to commit) into DIR:
#   huge-prompt.jsonl  line 1: a line of exactly 1 MiB + 1 (rejected: too large)
#                      line 2: a good job
#                      line 3: a 10 MiB line (rejected: too large)
#                      line 4: a line of exactly 1 MiB with an id (accepted)
# tests/unit/test_badinput.c builds the same file itself. Usage: gen.sh DIR
set -eu
dir=${1:?usage: gen.sh DIR}
mkdir -p "$dir"
out="$dir/huge-prompt.jsonl"
# repeat a character N times
rep() { head -c "$2" /dev/zero | tr '\0' "$1"; }
{
    # {"prompt":"<P>"} is 13 bytes + P
    printf '{"prompt":"'; rep a $((1048577 - 13)); printf '"}\n'
    printf '{"prompt":"a good job between two huge ones"}\n'
    printf '{"prompt":"'; rep b $((10485760 - 13)); printf '"}\n'
    # {"id":"huge-ok","prompt":"<P>"} is 29 bytes + P
    printf '{"id":"huge-ok","prompt":"'; rep c $((1048576 - 29)); printf '"}\n'
} > "$out"
