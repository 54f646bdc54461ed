#!/bin/bash
# Docker packaging without a Docker engine: docker-compose.yml must pass
# Debian's `docker-compose config -q` and keep the properties the README
# promises (AOF Redis on a volume, healthchecks, a scalable worker that
# drains within its grace period, the dashboard on the host's loopback with
# the admin token passed through); the Dockerfile must be multi-stage with a
# non-root runtime. HADOLINT=1 adds hadolint (it is not in Debian).
# Fails without docker-compose (make test installs it).
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v docker-compose >/dev/null 2>&1; then
    echo "FAIL: docker-compose not installed (apt-get install docker-compose; make test installs it)"
    exit 1
fi
fail=0
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }

# Never let a caller's key reach the rendered file (config prints env values).
if ! env -u GENQ_API_KEY docker-compose -f docker-compose.yml config -q; then
    bad "docker-compose config -q rejected docker-compose.yml"
fi
env -u GENQ_API_KEY docker-compose -f docker-compose.yml config >"${GENQ_TEST_TMP:-/tmp}/compose.rendered.yml" ||
    bad "docker-compose config failed"

/usr/bin/python3 - "${GENQ_TEST_TMP:-/tmp}/compose.rendered.yml" <<'PY' || fail=$((fail + 1))
import re, sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
s = doc["services"]
errs = []
def need(cond, msg):
    if not cond:
        errs.append(msg)
def seconds(v):
    m = re.fullmatch(r"(?:(\d+)m)?(?:(\d+)s)?", str(v))
    return int(m.group(1) or 0) * 60 + int(m.group(2) or 0) if m else 0

need(set(s) >= {"redis", "mockllm", "worker", "enqueue"}, "services missing: %s" % sorted(s))
r = s["redis"]
cmd = " ".join(r.get("command", []))
need(r["image"].startswith("redis:7"), "redis image is not redis:7")
need("--appendonly yes" in cmd and "--appendfsync everysec" in cmd, "redis without AOF everysec: " + cmd)
need(any(re.fullmatch(r"redis-data:/data(:rw)?", str(v)) or
         (isinstance(v, dict) and v.get("source") == "redis-data" and v.get("target") == "/data")
         for v in r.get("volumes", [])), "redis /data is not on the named volume")
need("redis-data" in (doc.get("volumes") or {}), "named volume redis-data missing")
need("redis-cli" in str(r.get("healthcheck", {}).get("test")), "redis healthcheck is not redis-cli ping")
m = s["mockllm"]
need("0.0.0.0:8089" in m.get("command", []), "mockllm does not listen on 0.0.0.0:8089")
need("/healthz" in str(m.get("healthcheck", {}).get("test")), "mockllm healthcheck is not /healthz")
w = s["worker"]
cmd = w.get("command", [])
need("redis://redis:6379/0" in cmd and "http://mockllm:8089" in cmd, "worker command: %s" % cmd)
need("container_name" not in w and "ports" not in w, "worker cannot scale (container_name or ports)")
need(w.get("restart") == "unless-stopped", "worker restart is not unless-stopped")
for dep in ("redis", "mockllm"):
    need((w.get("depends_on") or {}).get(dep, {}).get("condition") == "service_healthy",
         "worker does not wait for %s to be healthy" % dep)
need(seconds(w.get("stop_grace_period", "0s")) > 30, "worker stop_grace_period <= drain timeout (30 s)")
env = w.get("environment") or {}
need("GENQ_API_KEY" in env, "worker does not take GENQ_API_KEY from the environment")
need(not env.get("GENQ_API_KEY"), "a key is written into docker-compose.yml")
e = s["enqueue"]
need("enqueue" in (e.get("profiles") or []), "enqueue is not behind the enqueue profile")
need("examples/articles.jsonl" in e.get("command", []), "enqueue does not load examples/articles.jsonl")
# profile sentinel (README "Running on Redis Sentinel")
snt = ["redis-replica", "sentinel1", "sentinel2", "sentinel3", "worker-sentinel"]
need(set(s) >= set(snt), "sentinel profile services missing")
for n in snt:
    need("sentinel" in (s.get(n, {}).get("profiles") or []), "%s is not behind the sentinel profile" % n)
for n in snt[1:4]:
    need("sentinel monitor genq redis 6379 2" in " ".join(s.get(n, {}).get("command") or []),
         "%s does not monitor redis with quorum 2" % n)
need("--replicaof" in (s.get("redis-replica", {}).get("command") or []), "redis-replica is no replica")
need(any(str(c).startswith("sentinel://") for c in s.get("worker-sentinel", {}).get("command") or []),
     "worker-sentinel does not use a sentinel:// URL")
# the dashboard: genq dashboard on the host's loopback, read-only unless the
# caller's GENQ_ADMIN_TOKEN is passed through (never written here)
dsh = s.get("dashboard") or {}
need(dsh.get("entrypoint") == ["genq"] and "dashboard" in dsh.get("command", []),
     "dashboard service does not run genq dashboard: %s" % dsh.get("command"))
need(all(str(p.get("host_ip", "")) == "127.0.0.1" if isinstance(p, dict) else str(p).startswith("127.0.0.1:")
         for p in dsh.get("ports", [])) and dsh.get("ports"),
     "dashboard port is not published on the host's loopback only: %s" % dsh.get("ports"))
need("GENQ_ADMIN_TOKEN" in (dsh.get("environment") or {}) and
     not (dsh.get("environment") or {}).get("GENQ_ADMIN_TOKEN"),
     "dashboard does not pass GENQ_ADMIN_TOKEN through (or writes one)")
need("/api/session" in str(dsh.get("healthcheck", {}).get("test")), "dashboard healthcheck")
for e_ in errs:
    print("FAIL: compose: " + e_)
sys.exit(1 if errs else 0)
PY

# The Redis Cluster profile (README "Running on Redis Cluster"): three
# cluster-enabled masters with AOF on volumes, a one-shot cluster create
# that the worker waits for, the worker on redis-cluster://.
env -u GENQ_API_KEY docker-compose -f docker-compose.yml --profile cluster config \
    >"${GENQ_TEST_TMP:-/tmp}/compose.cluster.yml" || bad "docker-compose --profile cluster config failed"
/usr/bin/python3 - "${GENQ_TEST_TMP:-/tmp}/compose.cluster.yml" <<'PY' || fail=$((fail + 1))
import sys, yaml
s = yaml.safe_load(open(sys.argv[1]))["services"]
errs = []
def need(cond, msg):
    if not cond:
        errs.append(msg)
nodes = ["redis-c1", "redis-c2", "redis-c3"]
need(set(s) >= set(nodes) | {"cluster-init", "worker-cluster", "enqueue-cluster"},
     "cluster services missing: %s" % sorted(s))
for n in nodes:
    c = " ".join(s.get(n, {}).get("command", []))
    need("--cluster-enabled yes" in c and "--appendonly yes" in c, n + ": not a cluster node with AOF: " + c)
    need(any(str(v).startswith(n + "-data:/data") or (isinstance(v, dict) and v.get("source") == n + "-data")
             for v in s.get(n, {}).get("volumes", [])), n + ": /data not on its volume")
    need("cluster" in (s.get(n, {}).get("profiles") or []), n + ": not behind the cluster profile")
init = " ".join(s.get("cluster-init", {}).get("command", []))
need("--cluster create" in init and all(n in init for n in nodes), "cluster-init does not create the cluster")
url = "redis-cluster://redis-c1:6379,redis-c2:6379,redis-c3:6379"
w = s.get("worker-cluster", {})
need(url in w.get("command", []), "worker-cluster is not on %s" % url)
need((w.get("depends_on") or {}).get("cluster-init", {}).get("condition") == "service_completed_successfully",
     "worker-cluster does not wait for cluster-init")
need(url in s.get("enqueue-cluster", {}).get("command", []), "enqueue-cluster is not on the cluster")
for e_ in errs:
    print("FAIL: compose cluster: " + e_)
sys.exit(1 if errs else 0)
PY

# Dockerfile: two stages on debian:12-slim, no -dev packages at run time,
# a non-root user, the worker as entrypoint, a healthcheck.
df=Dockerfile
[ "$(grep -c '^FROM debian:12-slim' "$df")" -ge 2 ] || bad "Dockerfile: not two debian:12-slim stages"
grep -q '^FROM debian:12-slim AS build' "$df" || bad "Dockerfile: no named build stage"
runtime=$(awk '/^FROM/{n++} n==2' "$df")
if grep -q -- '-dev\b' <<<"$runtime"; then bad "Dockerfile: -dev packages in the runtime stage"; fi
grep -q '^COPY --from=build' <<<"$runtime" || bad "Dockerfile: runtime does not copy from the build stage"
user=$(grep '^USER ' <<<"$runtime" | tail -1 | awk '{print $2}')
case "$user" in ""|root|0|0:*|root:*) bad "Dockerfile: runtime user is '${user:-root}'";; esac
grep -q '^ENTRYPOINT \["genq-worker"\]' <<<"$runtime" || bad "Dockerfile: ENTRYPOINT is not [\"genq-worker\"]"
grep -q '^HEALTHCHECK ' <<<"$runtime" || bad "Dockerfile: no HEALTHCHECK"
[ -f .dockerignore ] && grep -qx '.git' .dockerignore || bad ".dockerignore missing or lets .git in"

# hadolint is not in Debian: an extra lint on request (HADOLINT=1), and
# then a missing hadolint is a failure.
if [ "${HADOLINT:-0}" = 1 ]; then
    if command -v hadolint >/dev/null 2>&1; then
        hadolint "$df" || bad "hadolint"
    else
        bad "HADOLINT=1 but hadolint is not installed"
    fi
fi

if [ "$fail" -eq 0 ]; then
    echo "compose: docker-compose config -q ok; compose and Dockerfile checks ok"
    echo "1 passed, 0 failed"
else
    echo "0 passed, $fail failed"
    exit 1
fi
