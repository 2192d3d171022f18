#!/usr/bin/env bash
# `luarocks make` as a Lua user types it: builds a copy of the source tree (the
# checkout gets no build files) into a temporary rocks tree for each Lua given
# (default 5.4; 5.3 too where luarocks is set up for it, as Debian's is), with
# no network, then a stock interpreter of that Lua using only `luarocks path`
# for that tree requires the module from it. Exits 77 (ctest's
# SKIP_RETURN_CODE) when luarocks is not installed.
# Usage: luarocks.sh SOURCE_DIR [LUA_VERSION...]
set -euo pipefail
src=$1
shift
versions=("${@:-5.4}")
if ! command -v luarocks >/dev/null; then
    echo "skipped: luarocks is not installed (scripts/setup installs Debian's luarocks)"
    exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tree=$work/tree

echo "== copy of the source"
mkdir "$work/src"
if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
    # tracked and new files, not build trees or anything .gitignore names
    git -C "$src" ls-files -z --cached --others --exclude-standard |
        tar -C "$src" --null -T - --ignore-failed-read -cf - | tar -C "$work/src" -xf -
else
    cp -a "$src/." "$work/src/"
fi

for v in "${versions[@]}"; do
    echo "== luarocks make (Lua $v)"
    offline=()
    # no network at all where this machine lets us make a namespace without one:
    # proves that nothing is fetched
    if unshare -n true 2>/dev/null; then offline=(unshare -n); fi
    (cd "$work/src" &&
        "${offline[@]}" luarocks --lua-version "$v" make --tree "$tree/$v" >"$work/make-$v.log" 2>&1) || {
        cat "$work/make-$v.log"
        exit 1
    }
    tail -n 1 "$work/make-$v.log"

    echo "== require from the tree (lua$v)"
    # the interpreter would prefer these to what luarocks path sets
    unset LUA_PATH LUA_CPATH LUA_PATH_5_4 LUA_CPATH_5_4 LUA_PATH_5_3 LUA_CPATH_5_3
    eval "$(luarocks --lua-version "$v" path --tree "$tree/$v")"
    out=$(TREE=$tree/$v "lua$v" -e '
        local triton = require "triton"
        local tree = os.getenv("TREE") .. "/"
        for _, f in ipairs { package.searchpath("triton", package.path),
                             package.searchpath("triton.core", package.cpath) } do
            assert(f:sub(1, #tree) == tree, f .. " is not from the rocks tree")
        end
        print(triton.tensor({1, 2}, "INT32"):sum())')
    echo "$out"; [ "$out" = "3" ]

    echo "== the annotations in the rock's folder (Lua $v)"
    rockdir=$(luarocks --lua-version "$v" --tree "$tree/$v" show --rock-dir tritonlua)
    ls "$rockdir/share/tritonlua/types"
    [ -f "$rockdir/share/tritonlua/types/triton.lua" ]
done
