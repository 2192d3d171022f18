#!/usr/bin/env bash
# What the module and the static libraries export: exactly the API that
# include/triton_lua.h marks TRITON_EXPORT (luaopen_* and triton_lua_*).
# Anything else (protobuf-c's inference__*, our tensor_* or JSON helpers)
# could clash with a host's own; an API function missing (defined without
# seeing its TRITON_EXPORT declaration) could not be called.
# The static libraries are checked as an app sees them that links them into a
# shared library (whole archives, so every object counts): they must export the
# whole API; each core.so (one per Lua: 5.4, 5.3, LuaJIT) a part of it
# (luaopen_triton is for hosts linking the static library), luaopen_triton_core
# at least.
# Usage: symbols.sh HEADER LIBTRITONLUA_A LIBTRITON_A CORE_SO...
set -euo pipefail
header=$1 lualib=$2 corelib=$3
shift 3
[ $# -gt 0 ] || { echo "usage: $0 HEADER LIBTRITONLUA_A LIBTRITON_A CORE_SO..."; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cc -shared -o "$work/static.so" \
    -Wl,--whole-archive "$lualib" "$corelib" -Wl,--no-whole-archive

api=$(sed -n 's/^TRITON_EXPORT [^(]*[ *]\([A-Za-z0-9_]*\)(.*/\1/p' "$header" | sort)
echo "== the API ($header): $(tr '\n' ' ' <<<"$api")"
grep -q '^luaopen_triton_core$' <<<"$api" || { echo "no TRITON_EXPORT names read from $header"; exit 1; }

fail=0
# check NAME SO MUST: SO's exports must be in the API; MUST lists the names it must have.
check() {
    local name=$1 so=$2 must=$3
    local syms extra missing
    syms=$(nm -D --defined-only "$so" | awk '{print $3}' | sort)
    echo "== $name: $(wc -l <<<"$syms") exported: $(tr '\n' ' ' <<<"$syms")"
    extra=$(comm -23 <(echo "$syms") <(echo "$api"))
    missing=$(comm -13 <(echo "$syms") <(echo "$must"))
    if [ -n "$extra" ]; then
        echo "exported but not TRITON_EXPORT in include/triton_lua.h ($(wc -l <<<"$extra")):"
        echo "$extra"
        fail=1
    fi
    if [ -n "$missing" ]; then
        echo "part of the API but not exported: $(tr '\n' ' ' <<<"$missing")"
        fail=1
    fi
}
for module in "$@"; do
    check "$module" "$module" luaopen_triton_core
done
check "$(basename "$lualib") + $(basename "$corelib")" "$work/static.so" "$api"
exit $fail
