#!/bin/sh
# Build the chaos checker (tests/chaos/check*.c and the common sources it
# links) with the Makefile's warning flags into OUT. The one build line of
# tests/chaos/run.sh and tests/scripts/sentinel.sh. Run from the repo root.
# Usage: tests/chaos/build-check.sh OUT
set -eu
OUT=$1
PKGS="hiredis libcjson"
CFLAGS="-std=c11 -Wall -Wextra -Werror -Wformat=2 -Wstrict-prototypes \
-Wwrite-strings -Wshadow -Wmissing-prototypes -Wcast-qual -Wpointer-arith -Wundef \
-g -O2 -Icommon -Ibuild/gen -Itests/mock-llm \
$(pkg-config --cflags $PKGS)"
[ -f build/gen/lua_scripts.c ] || make -s build/gen/lua_scripts.c
# shellcheck disable=SC2086,SC2046
exec cc $CFLAGS -o "$OUT" tests/chaos/check*.c common/keys.c \
    common/redisurl.c common/sentinelurl.c common/sentinel.c common/rclient.c \
    common/scripts.c common/buf.c common/layout.c \
    common/cluster.c common/clustersync.c common/timefmt.c \
    build/gen/lua_scripts.c tests/mock-llm/mocktext.c \
    $(pkg-config --libs $PKGS) -lssl -lcrypto -lm
