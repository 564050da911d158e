#!/usr/bin/env bash
# The main job: installs what is missing, builds uswap, and runs the demo.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/install-deps.sh"
bash "$root/scripts/build.sh" "$root/build" -DUSWAP_BUILD_TESTS=OFF
exec "$root/build/tools/uswap/uswap" demo "$@"
