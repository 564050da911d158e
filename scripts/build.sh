#!/usr/bin/env bash
# build.sh DIR [cmake args...]: configures and builds uswap into DIR.
set -euo pipefail
dir=$1; shift
src=$(cd "$(dirname "$0")/.." && pwd)
launcher=()
# ccache (installed by install-deps.sh) makes the suite's repeated builds of
# the same sources cheap; without it, plain compiles.
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache); fi
cmake -S "$src" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}" "$@" >/dev/null
cmake --build "$dir" -j"$(nproc)"
