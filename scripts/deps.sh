#!/bin/sh
# The one list of Debian packages genq needs, by purpose, and the check
# behind `make demo`, `make test` and .ci/run: prints nothing when all are
# installed; as root installs the missing ones with apt-get; otherwise
# prints the exact `apt-get install` line and exits 1 (never a silent skip).
# Usage: scripts/deps.sh [--list] build|demo|test|ci
# Testing the check without a fresh machine: DEPS_FAKE_MISSING="pkg ..."
# treats those packages as missing, DEPS_FAKE_UID=1000 as not root.
set -eu

BUILD="build-essential pkg-config libhiredis-dev libcurl4-openssl-dev
libcjson-dev libjwt-dev libev-dev libssl-dev libmicrohttpd-dev libinih-dev
libpcre2-dev libzstd-dev"
# demo.sh: a Redis with redis-cli, python3 for free ports
DEMO="$BUILD redis-server redis-tools python3"
# make test: Criterion; Debian's python3 modules (schemas, JWT checks);
# curl + openssl (smoke, TLS); promtool (prometheus); docker-compose;
# man-db + systemd (install.sh: man -l, systemd-analyze verify); valgrind;
# node + npm (the official SDKs' conformance test, examples/node);
# python3-redis (examples/python); procps (pgrep: the pool test);
# redis-sentinel (tests/scripts/sentinel.sh); chromium (the dashboard's
# browser tests, driven by playwright-core); libfaketime (a worker on a
# clock before midnight: the budget test)
# (PACKAGE:COMMAND counts as present when COMMAND is on PATH, e.g. a
# NodeSource node whose package bundles npm.)
TEST="$DEMO libcriterion-dev python3-jsonschema python3-jwt python3-cryptography
python3-redis openssl curl prometheus:promtool docker-compose:docker-compose man-db:man
systemd:systemd-analyze valgrind:valgrind nodejs:node npm:npm procps:pgrep
redis-sentinel:redis-sentinel chromium libfaketime"
# .ci/run: also format, lint and fuzz tools
CI="$TEST clang-format clang clang-tidy cppcheck libclang-rt-14-dev"

list=0
[ "${1:-}" = --list ] && { list=1; shift; }
case "${1:-}" in
build) pkgs=$BUILD ;;
demo) pkgs=$DEMO ;;
test) pkgs=$TEST ;;
ci) pkgs=$CI ;;
*) echo "usage: scripts/deps.sh [--list] build|demo|test|ci" >&2; exit 2 ;;
esac
names=$(for e in $pkgs; do echo "${e%%:*}"; done)
if [ "$list" = 1 ]; then
    echo $names
    exit 0
fi

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "deps: not a Debian system; make sure the equivalents of these are installed:" >&2
    echo "  $(echo $names)" >&2
    exit 0
fi
missing=""
for e in $pkgs; do
    p=${e%%:*}
    case " ${DEPS_FAKE_MISSING:-} " in *" $p "*) missing="$missing $p"; continue ;; esac
    case $e in *:*) command -v "${e#*:}" >/dev/null 2>&1 && continue ;; esac
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
        missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "${DEPS_FAKE_UID:-$(id -u)}" -ne 0 ]; then
    echo "deps: missing Debian packages for '$1':$missing" >&2
    echo "deps: install them (as root) with:" >&2
    echo "sudo apt-get install -y --no-install-recommends$missing" >&2
    exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing >/dev/null
