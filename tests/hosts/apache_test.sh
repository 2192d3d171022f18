#!/usr/bin/env bash
# Apache httpd with mod_lua (Lua 5.3) serving examples/hosts/apache_handler.lua
# in front of the reference server, once with the client over HTTP and once over
# gRPC, checked with curl:
#   - a right answer, and a clear 400 for a body that is not what it should be;
#   - 50 requests at once, every one answered right;
#   - with the Triton server stopped, a clean 503 with a JSON error body, and
#     httpd keeps serving: the next request after the server is back succeeds
#     (over gRPC: once the client's channel has reconnected, clean 503s until then).
# httpd runs from tests/hosts/apache/httpd.conf with its own pid file, logs and
# locks in a temporary folder, on a free loopback port, with the handler, the
# library's Lua files and the module copied there (the workers, www-data under
# root, may not be able to read the source tree); every process this script
# starts is stopped on every way out (trap, and a watchdog for SIGKILL).
# Usage: apache_test.sh SOURCE_DIR MODULES_DIR   (MODULES_DIR: triton/core.so for Lua 5.3)
set -euo pipefail
src=$1 modules=$2

for tool in apache2 curl python3; do
    command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed (scripts/setup installs it)"; exit 77; }
done
[ -f /usr/lib/apache2/modules/mod_lua.so ] || { echo "SKIP: mod_lua is not installed"; exit 77; }

tmp=$(mktemp -d)
chmod 755 "$tmp" # the workers (www-data under root) open files under it
# What the workers load, staged where they can read it whoever owns the tree.
mkdir -p "$tmp/stage/examples/hosts" "$tmp/stage/modules/triton"
cp -r "$src/lua" "$tmp/stage/"
cp "$src/examples/hosts/apache_handler.lua" "$tmp/stage/examples/hosts/"
cp "$modules/triton/core.so" "$tmp/stage/modules/triton/"
chmod -R a+rX "$tmp/stage"
httpd_pid='' triton_pid=''
cleanup() {
    [ -n "$httpd_pid" ] && kill "$httpd_pid" 2>/dev/null && wait "$httpd_pid" 2>/dev/null
    [ -n "$triton_pid" ] && kill "$triton_pid" 2>/dev/null && wait "$triton_pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
# watch PID: kills PID once this script is gone, even by SIGKILL (a ctest
# timeout), when the EXIT trap cannot run.
watch() {
    local me=$$
    (while kill -0 "$me" 2>/dev/null && kill -0 "$1" 2>/dev/null; do sleep 1; done
     kill "$1" 2>/dev/null) </dev/null >/dev/null 2>&1 &
}
fail() {
    echo "FAIL: $*"
    echo "--- httpd's error log:"
    cat "$tmp/error.log" 2>/dev/null || true
    exit 1
}

# start_triton [HTTP_PORT GRPC_PORT]: the reference server on these ports (free
# ones by default); sets triton_pid, http_port, grpc_port.
start_triton() {
    local fifo=$tmp/triton.ready
    rm -f "$fifo" && mkfifo "$fifo"
    "$src/scripts/testserver" --http-port "${1:-0}" --grpc-port "${2:-0}" --host 127.0.0.1 >"$fifo" &
    triton_pid=$!
    watch "$triton_pid"
    exec 3<"$fifo" # kept open: the server's stdout must not turn into a broken pipe
    local line
    read -r -t 30 line <&3 || fail "the reference server did not report ready"
    [[ $line =~ ^ready\ http=([0-9]+)\ grpc=([0-9]+)$ ]] || fail "unexpected line from the server: $line"
    http_port=${BASH_REMATCH[1]} grpc_port=${BASH_REMATCH[2]}
}

stop_triton() {
    kill "$triton_pid" 2>/dev/null || true
    wait "$triton_pid" 2>/dev/null || true
    triton_pid=
    exec 3<&-
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_httpd URL: httpd whose handler talks to Triton at URL; waits until it answers.
start_httpd() {
    local user group
    if [ "$(id -u)" -eq 0 ]; then user=www-data group=www-data; else user=$(id -un) group=$(id -gn); fi
    port=$(free_port)
    rm -f "$tmp/error.log"
    TRITON_URL=$1 apache2 -f "$src/tests/hosts/apache/httpd.conf" -DFOREGROUND \
        -C "Define TMP $tmp" -C "Define PORT $port" -C "Define SRC $tmp/stage" \
        -C "Define MODULES $tmp/stage/modules" -C "Define USER $user" -C "Define GROUP $group" &
    httpd_pid=$!
    watch "$httpd_pid"
    for _ in $(seq 300); do
        curl -s -o /dev/null "http://127.0.0.1:$port/" && return 0
        kill -0 "$httpd_pid" 2>/dev/null || fail "httpd exited at start"
        sleep 0.1
    done
    fail "httpd did not answer on port $port"
}

stop_httpd() {
    kill "$httpd_pid" 2>/dev/null || true
    wait "$httpd_pid" 2>/dev/null || true
    httpd_pid=
}

# post NAME BODY: POSTs BODY to /sum; the reply goes to $tmp/NAME, its status to $tmp/NAME.status.
post() {
    curl -s -o "$tmp/$1" -w '%{http_code}' -H 'Content-Type: application/json' \
        --data-binary "$2" "http://127.0.0.1:$port/sum" >"$tmp/$1.status" || echo 000 >"$tmp/$1.status"
}

# expect NAME STATUS PYTHON_CONDITION: the reply NAME had STATUS and its JSON `j` meets the condition.
expect() {
    local got
    got=$(cat "$tmp/$1.status")
    [ "$got" = "$2" ] || fail "$1: status $got, expected $2; body: $(cat "$tmp/$1")"
    python3 -c 'import json, sys; j = json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' \
        "$tmp/$1" "$3" || fail "$1: the body $(cat "$tmp/$1") does not meet: $3"
}

start_triton
for proto in http grpc; do
    if [ $proto = http ]; then url=http://127.0.0.1:$http_port; else url=grpc://127.0.0.1:$grpc_port; fi
    echo "== httpd + mod_lua, the client over $proto ($url)"
    start_httpd "$url"

    post one '{"a": [1, 2, 3], "b": [4, 5, 6]}'
    expect one 200 'j == {"sum": [5, 7, 9], "difference": [-3, -3, -3]}'
    post bad '{"a": [1, 2], "b": [1]}'
    expect bad 400 "j == {'error': \"'b' has 1 elements, 'a' has 2\"}"
    echo "ok: an answer, and a 400 for a bad body"

    export tmp port
    # shellcheck disable=SC2016 # the inner sh expands $1, $tmp and $port
    seq 50 | xargs -P 50 -I{} sh -c 'curl -s -o "$tmp/par.$1" -w "%{http_code}" \
        -H "Content-Type: application/json" --data-binary "{\"a\": [$1, 7], \"b\": [1, 7]}" \
        "http://127.0.0.1:$port/sum" >"$tmp/par.$1.status" || echo 000 >"$tmp/par.$1.status"' _ {}
    python3 - "$tmp" <<'EOF' || fail "not every one of the 50 requests at once was answered right"
import json, sys
bad = 0
for i in range(1, 51):
    path = "%s/par.%d" % (sys.argv[1], i)
    status, body = open(path + ".status").read(), open(path).read()
    want = {"sum": [i + 1, 14], "difference": [i - 1, 0]}
    if status != "200" or json.loads(body) != want:
        print("request %d: status %s, body %s; expected 200, %s" % (i, status, body, want))
        bad += 1
sys.exit(1 if bad else 0)
EOF
    echo "ok: 50 requests at once"

    stop_triton
    post down '{"a": [1], "b": [2]}'
    expect down 503 "j['code'] == 'unavailable' and len(j['error']) > 0"
    post down2 '{"a": [1], "b": [2]}'
    expect down2 503 "j['code'] == 'unavailable'"
    start_triton "$http_port" "$grpc_port"
    post back '{"a": [1], "b": [2]}'
    if [ $proto = grpc ]; then
        # A gRPC channel that lost its server reconnects on gRPC's own backoff
        # schedule, and fails calls fast with UNAVAILABLE until then: each answer
        # meanwhile must still be a clean 503, and one must come back 200.
        for _ in $(seq 120); do
            [ "$(cat "$tmp/back.status")" = 200 ] && break
            expect back 503 "j['code'] == 'unavailable'"
            sleep 0.25
            post back '{"a": [1], "b": [2]}'
        done
    fi
    expect back 200 'j == {"sum": [3], "difference": [-1]}'
    echo "ok: 503 while Triton is down, served again once it is back"
    stop_httpd
done
echo "ok"
