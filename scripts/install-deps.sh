#!/usr/bin/env bash
# Installs (as root, from Debian 12's packages) whatever uswap needs to build,
# test and benchmark that is not on the machine yet. Idempotent and quiet
# when everything is present.
set -euo pipefail

pkgs=(
  build-essential cmake pkg-config      # toolchain
  ccache                                # compiler cache for the suite's several builds
  libgtest-dev libgmock-dev libbenchmark-dev  # tests, micro-benchmarks
  liburing-dev                          # io_uring block store
  libxxhash-dev                         # page checksums (XXH3)
  libssl-dev                            # encrypted swap (AES-256-GCM)
  liblz4-dev libzstd-dev                # compressed tier (lz4 default, zstd)
  libmimalloc-dev                       # uswap run: the program's malloc over uswap memory
  python3 sqlite3 xz-utils              # uswap run's tests run real programs
  clang libclang-rt-14-dev              # libFuzzer targets
  util-linux fdisk                      # mkswap, swaplabel, blkid for compatibility tests
  e2fsprogs                             # filefrag / hole checks on test files
  help2man                              # man pages of the CLI, generated at build time
  gnuplot-nox                           # uswap bench --plot
)
missing=()
for p in "${pkgs[@]}"; do
  [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) == "install ok installed" ]] || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "install-deps: missing packages (${missing[*]}); run as root to install them" >&2
    exit 1
  fi
  echo "install-deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
