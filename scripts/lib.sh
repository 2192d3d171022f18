# Shared by scripts/*: logging, privilege, and the build step. Source it.
# shellcheck shell=bash
set -euo pipefail

TRITON_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TRITON_BUILD=${TRITON_BUILD:-$TRITON_ROOT/build}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
run() { printf '+ %s\n' "$*" >&2; "$@"; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then run "$@"; else run sudo "$@"; fi
}

# configure_and_build BUILD_DIR [cmake args...]: idempotent, incremental. With
# TRITON_TARGETS set (space-separated), only those targets are built.
configure_and_build() {
    local dir=$1
    shift
    say "Configuring $dir"
    run cmake -S "$TRITON_ROOT" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
    say "Building $dir"
    run cmake --build "$dir" -j "$JOBS" ${TRITON_TARGETS:+--target $TRITON_TARGETS}
}
