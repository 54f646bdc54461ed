#!/bin/bash
# fresh-check: the README's two commands on a fresh Debian 12, as root.
# Builds (once, cached in $FRESH_BASE) a minimal Debian 12 with debootstrap
# -- minbase plus build-essential, git, python3: "Debian's base and
# compilers" -- copies it, clones this repo's commit REV into it and runs
# `make demo` then `make test` inside (chroot). Prints both exit codes and
# any skipped check; logs go to $FRESH_OUT (default /tmp/fresh-check).
# The chroot gets its own /dev (a tmpfs with the few device nodes it
# needs), never a bind of the host's: its removal can't touch the host.
# Needs root, debootstrap, and Debian's package mirror.
# Usage: scripts/fresh-check.sh [REV]     (default HEAD)
set -u
[ "$(id -u)" = 0 ] || { echo "fresh-check: run as root" >&2; exit 2; }
command -v debootstrap >/dev/null ||
    { echo "fresh-check: needs debootstrap (apt-get install debootstrap)" >&2; exit 2; }
REPO=$(cd "$(dirname "$0")/.." && pwd)
REV=$(git -C "$REPO" rev-parse "${1:-HEAD}") || exit 2
BASE=${FRESH_BASE:-/var/cache/genq-fresh-bookworm}
OUT=${FRESH_OUT:-/tmp/fresh-check}
MIRROR=${FRESH_MIRROR:-http://deb.debian.org/debian}
mkdir -p "$OUT"
if [ ! -x "$BASE/bin/bash" ]; then
    echo "fresh-check: debootstrap bookworm into $BASE (once)"
    debootstrap --variant=minbase --include=build-essential,git,ca-certificates,python3 \
        bookworm "$BASE.tmp" "$MIRROR" >"$OUT/debootstrap.log" 2>&1 ||
        { echo "fresh-check: debootstrap failed (see $OUT/debootstrap.log)" >&2; exit 2; }
    mv "$BASE.tmp" "$BASE"
fi
R=$(mktemp -d /var/tmp/genq-fresh.XXXXXX)
cleanup() {
    for m in $(findmnt -rn -o TARGET | grep "^$R" | sort -r); do umount -l "$m"; done
    if findmnt -rn -o TARGET | grep -q "^$R"; then
        echo "fresh-check: mounts left under $R: not removing it" >&2
    else
        rm -rf --one-file-system "$R"
    fi
}
trap cleanup EXIT
cp -a "$BASE/." "$R/"
cat >"$R/etc/apt/sources.list" <<X
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
X
cp /etc/resolv.conf "$R/etc/resolv.conf"
# a site's own CA (e.g. a proxy in front of the registries) is part of "the
# machine as set up here", not of genq: carry it over when there is one
if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then
    mkdir -p "$R/usr/local/share/ca-certificates"
    cp /usr/local/share/ca-certificates/*.crt "$R/usr/local/share/ca-certificates/"
fi
mount -t proc proc "$R/proc"
mount -t sysfs -o ro sysfs "$R/sys"
mount -t tmpfs -o mode=755 tmpfs "$R/dev"
for n in "null 1 3" "zero 1 5" "full 1 7" "random 1 8" "urandom 1 9" "tty 5 0"; do
    set -- $n
    mknod -m 666 "$R/dev/$1" c "$2" "$3"
done
ln -s /proc/self/fd "$R/dev/fd"
for i in 0:stdin 1:stdout 2:stderr; do ln -s "/proc/self/fd/${i%%:*}" "$R/dev/${i#*:}"; done
mkdir "$R/dev/pts" "$R/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666 devpts "$R/dev/pts"
ln -s pts/ptmx "$R/dev/ptmx"
mount -t tmpfs tmpfs "$R/dev/shm"
git clone -q "$REPO" "$R/root/genq" && git -C "$R/root/genq" checkout -q "$REV" || exit 2
[ -d "$REPO/../shared" ] && cp -r "$REPO/../shared" "$R/root/shared"
echo "fresh-check: $REV: make demo, then make test (logs in $OUT)"
chroot "$R" /usr/bin/env -i HOME=/root TERM=dumb \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt /bin/bash -c '
    update-ca-certificates >/dev/null 2>&1
    cd /root/genq
    make demo >/root/demo.log 2>&1; echo "demo_rc=$?"
    make test >/root/test.log 2>&1; echo "test_rc=$?"' | tee "$OUT/rc"
cp "$R/root/demo.log" "$R/root/test.log" "$OUT/"
echo "fresh-check: skipped checks:"
grep -iE "skip" "$OUT/test.log" | grep -v " 0 skipped" || echo "  none"
tail -n 1 "$OUT/test.log"
grep -q "demo_rc=0" "$OUT/rc" && grep -q "test_rc=0" "$OUT/rc"
