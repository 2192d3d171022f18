#!/usr/bin/env bash
# Installs the build tree into a prefix of its own (`cmake --install --prefix`,
# not the configured one), then checks the three ways in: a stock lua5.4
# requiring the module (and lua5.3 and luajit, each from its own paths, for the
# Luas the build made the module for), a C app through pkg-config, and through
# find_package(tritonlua). Then that a staged install (DESTDIR) writes the
# prefix it was given, not the staging folder, into tritonlua.pc.
# Usage: check.sh BUILD_DIR SOURCE_DIR [LUA_VERSIONS, e.g. "5.4;5.3;jit"]
set -euo pipefail
build=$1 src=$2 versions=${3:-5.4}
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root=$stage/x

cmake --install "$build" --prefix "$root" >/dev/null

echo "== stock lua5.4"
out=$(LUA_PATH_5_4="$root/share/lua/5.4/?.lua;$root/share/lua/5.4/?/init.lua" \
      LUA_CPATH_5_4="$root/lib/lua/5.4/?.so" \
      lua5.4 -e 'local triton = require "triton"; print(triton.tensor({{1,2},{3,4}}, "FP32"):sum())')
echo "$out"; [ "$out" = "10.0" ]

# stock lua5.3 and luajit (LuaJIT searches the 5.1 paths), each with its own core.so
for v in ${versions//;/ }; do
    case $v in
    5.3) lua=lua5.3 abi=5.3 suffix=_5_3 ;;
    jit) lua=luajit abi=5.1 suffix= ;;
    *) continue ;;
    esac
    echo "== stock $lua"
    out=$(env "LUA_PATH$suffix=$root/share/lua/$abi/?.lua;$root/share/lua/$abi/?/init.lua" \
              "LUA_CPATH$suffix=$root/lib/lua/$abi/?.so" \
              $lua -e 'print(require "triton".tensor({1,2},"INT32"):sum())')
    echo "$out"; [ "$out" = "3" ]
done

echo "== pkg-config"
pc=$(find "$root" -name tritonlua.pc)
cflags=$(PKG_CONFIG_PATH=$(dirname "$pc") pkg-config --cflags tritonlua)
echo "$cflags"
grep -q -- "-I$root/include\( \|$\)" <<<"$cflags" || { echo "cflags do not name $root/include"; exit 1; }
# shellcheck disable=SC2046
cc -o "$stage/embed-pc" "$src/tests/install/embed.c" \
    $(PKG_CONFIG_PATH=$(dirname "$pc") pkg-config --cflags --libs tritonlua)
out=$("$stage/embed-pc"); echo "$out"; [ "$out" = "10" ]

echo "== find_package(tritonlua)"
cmake -S "$src/tests/install" -B "$stage/cm" -DCMAKE_PREFIX_PATH="$root" >/dev/null
cmake --build "$stage/cm" >/dev/null
out=$("$stage/cm/embed"); echo "$out"; [ "$out" = "10" ]

echo "== staged: DESTDIR=\$stage/d --prefix /opt/tritonlua"
DESTDIR=$stage/d cmake --install "$build" --prefix /opt/tritonlua --component dev >/dev/null
grep '^prefix=' "$(find "$stage/d" -name tritonlua.pc)"
grep -qx 'prefix=/opt/tritonlua' "$(find "$stage/d" -name tritonlua.pc)"
