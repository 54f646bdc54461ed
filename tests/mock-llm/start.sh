# Sourced (bash) by the mock's own tests, tests/mock-llm/smoke.sh and
# tests/conformance/run.sh: checks the binary and the tools, makes $tmp
# (removed on exit, with the mock stopped), and mock_start runs it.
# Before sourcing: NAME (for messages), MOCK (the binary), TOOLS (commands
# the test needs; each missing one fails, named, with its Debian package).

if [ ! -x "$MOCK" ]; then
    echo "$NAME: $MOCK is not executable (build it first)" >&2
    exit 2
fi
for tool in $TOOLS; do
    command -v "$tool" >/dev/null || {
        echo "FAIL: $NAME needs $tool (make test installs it: scripts/deps.sh test)"
        exit 1
    }
done

tmp=$(mktemp -d)
pid=
mock_cleanup() {
    if [ -n "$pid" ]; then
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    fi
    rm -rf "$tmp"
}
trap mock_cleanup EXIT

# mock_start ARGS...: runs "$MOCK" --listen 127.0.0.1:0 ARGS (output in
# $tmp/mock.out), waits for its port; sets pid and MOCK_URL. Exits 1,
# printing the output, when it does not start.
mock_start() {
    "$MOCK" --listen 127.0.0.1:0 --port-file "$tmp/port" "$@" \
        >"$tmp/mock.out" 2>&1 &
    pid=$!
    for _ in $(seq 1 100); do
        [ -s "$tmp/port" ] && break
        sleep 0.05
    done
    if [ ! -s "$tmp/port" ]; then
        echo "$NAME: mock did not start:" >&2
        cat "$tmp/mock.out" >&2
        exit 1
    fi
    MOCK_URL="http://127.0.0.1:$(cat "$tmp/port")"
}
