#!/usr/bin/env bash
# What the module and the static libraries export: only the API of
# include/triton_lua.h, luaopen_* and triton_lua_*. Anything else (protobuf-c's
# inference__*, our tensor_* or cJSON helpers) could clash with a host's own.
# The static libraries are checked as an app that links them into a shared
# library sees them (whole archives, so every object counts).
# Usage: symbols.sh CORE_SO LIBTRITONLUA_A LIBTRITON_A
set -euo pipefail
module=$1 lualib=$2 corelib=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cc -shared -o "$work/static.so" \
    -Wl,--whole-archive "$lualib" "$corelib" -Wl,--no-whole-archive

fail=0
for so in "$module" "$work/static.so"; do
    name=$so
    [ "$so" = "$work/static.so" ] && name="$(basename "$lualib") + $(basename "$corelib")"
    syms=$(nm -D --defined-only "$so" | awk '{print $3}')
    extra=$(grep -Ev '^(luaopen_|triton_lua_)[A-Za-z0-9_]+$' <<<"$syms" || true)
    echo "== $name: $(wc -l <<<"$syms") exported: $(tr '\n' ' ' <<<"$syms")"
    grep -q '^luaopen_triton_core$' <<<"$syms" || { echo "luaopen_triton_core is not exported"; fail=1; }
    if [ -n "$extra" ]; then
        echo "exported but not part of include/triton_lua.h's API ($(wc -l <<<"$extra")):"
        echo "$extra"
        fail=1
    fi
done
exit $fail
