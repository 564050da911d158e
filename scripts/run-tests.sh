#!/usr/bin/env bash
# Installs what is missing, builds uswap, and runs every test:
#   1. the release build's suite (unit, compatibility, integration);
#   2. the same suite under AddressSanitizer + UndefinedBehaviorSanitizer;
#   3. the same suite under ThreadSanitizer;
#   4. a clang Debug build of the library, tools and tests: -Wthread-safety
#      -Werror checks the locking annotations (base/thread_annotations.h),
#      and a g++ Release build with GoogleTest and Benchmark hidden (what a
#      user without them gets);
#   5. the integration tests in a USWAP_DEBUG_FULL build (invariant checks
#      after every reclaim pass);
#   6. each libFuzzer target for a bounded time (clang build).
# Exits non-zero on the first failure. USWAP_QUICK=1 runs step 1 only.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
jobs=$(nproc)
bash "$root/scripts/install-deps.sh"

run_suite() {  # run_suite NAME [cmake args...] [-- ctest args...]
  local name=$1; shift
  local dir="$root/build-tests-$name" cmake_args=() ctest_args=()
  while (($#)) && [[ $1 != -- ]]; do cmake_args+=("$1"); shift; done
  (($#)) && shift && ctest_args=("$@")
  echo "== $name: build" >&2
  bash "$root/scripts/build.sh" "$dir" -DUSWAP_WERROR=ON -DUSWAP_BUILD_BENCHMARKS=ON "${cmake_args[@]}"
  echo "== $name: ctest" >&2
  (cd "$dir" && ctest --output-on-failure -j"$jobs" --timeout 900 "${ctest_args[@]}")
}

run_suite release
if [[ "${USWAP_QUICK:-0}" != 1 ]]; then
  run_suite asan -DUSWAP_SANITIZE=address -DUSWAP_BUILD_BENCHMARKS=OFF
  TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$root/tests/tsan.supp" \
    run_suite tsan -DUSWAP_SANITIZE=thread -DUSWAP_BUILD_BENCHMARKS=OFF
  echo "== clang: Debug build with -Wthread-safety -Werror" >&2
  CC=clang CXX=clang++ bash "$root/scripts/build.sh" "$root/build-tests-clang" \
    -DCMAKE_BUILD_TYPE=Debug -DUSWAP_WERROR=ON -DUSWAP_BUILD_BENCHMARKS=OFF
  # What a user without the test libraries gets: `cmake -DCMAKE_BUILD_TYPE=
  # Release` must configure and build the library, the CLI and the example
  # with GoogleTest and Google Benchmark out of sight (tests and benchmarks
  # are skipped, with a message), under g++ -Werror.
  echo "== release-nodeps: g++ Release build, GoogleTest and Benchmark hidden" >&2
  bash "$root/scripts/build.sh" "$root/build-tests-nodeps" -DCMAKE_BUILD_TYPE=Release \
    -DUSWAP_WERROR=ON -DCMAKE_DISABLE_FIND_PACKAGE_GTest=ON \
    -DCMAKE_DISABLE_FIND_PACKAGE_benchmark=ON
  [[ -x "$root/build-tests-nodeps/tools/uswap/uswap" && -x "$root/build-tests-nodeps/examples/big_array" ]]
  # The engine's integration tests once more with USWAP_DEBUG_FULL: every
  # reclaim pass checks the page-table invariants of the blocks it touched
  # against the kernel's PTEs (doc/engine.md, "Consistency checks").
  run_suite debug-full -DUSWAP_DEBUG_FULL=ON -DUSWAP_BUILD_BENCHMARKS=OFF -- -L integration
  if [[ -f "$root/tests/fuzz/run-fuzzers.sh" ]]; then
    echo "== fuzz" >&2
    bash "$root/tests/fuzz/run-fuzzers.sh" "$root/build-fuzz"
  fi
fi
echo "all test stages passed" >&2
