#!/usr/bin/env bash
# run-fuzzers.sh BUILD_DIR [SECONDS]
#
# Configures a clang build of uswap with the libFuzzer targets in BUILD_DIR,
# builds only those targets, replays every input kept under
# tests/fuzz/regress/<target>/ (inputs that once crashed), then fuzzes each
# target for SECONDS (default 60, or $USWAP_FUZZ_SECONDS), starting from the
# seeds in tests/fuzz/corpus/<target>/. Exits non-zero if any target
# crashes, leaks, hits UB or times out; the failing input is left in
# BUILD_DIR/fuzz-artifacts/ (copy it to tests/fuzz/regress/<target>/ once
# fixed, so it is replayed forever).
set -euo pipefail
build=${1:?usage: run-fuzzers.sh BUILD_DIR [SECONDS]}
secs=${2:-${USWAP_FUZZ_SECONDS:-60}}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
targets=(swap_header_fuzz cli_parse_fuzz zswap_load_fuzz)

command -v clang++ >/dev/null || { echo "run-fuzzers: clang++ not found (scripts/install-deps.sh)" >&2; exit 1; }
CC=clang CXX=clang++ cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DUSWAP_BUILD_FUZZERS=ON -DUSWAP_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build "$build" -j"${USWAP_JOBS:-2}" --target "${targets[@]}"

mkdir -p "$build/fuzz-artifacts"
status=0
for t in "${targets[@]}"; do
  bin="$build/tests/fuzz/$t"
  # 1. Regressions: each kept input must now pass.
  if compgen -G "$here/regress/$t/*" >/dev/null; then
    echo "== $t: replaying tests/fuzz/regress/$t" >&2
    "$bin" -runs=0 "$here/regress/$t"/* || { echo "run-fuzzers: $t: a regression input fails again" >&2; status=1; continue; }
  fi
  # 2. Fuzz from the seeds; the grown corpus stays in the build dir so the
  #    repository's seeds are never touched.
  work="$build/fuzz-corpus/$t"
  mkdir -p "$work"
  echo "== $t: fuzzing for ${secs}s" >&2
  if ! "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65544 \
      -print_final_stats=1 -artifact_prefix="$build/fuzz-artifacts/$t-" \
      "$work" "$here/corpus/$t" 2>"$build/fuzz-artifacts/$t.log"; then
    tail -n 40 "$build/fuzz-artifacts/$t.log" >&2
    echo "run-fuzzers: $t found a failing input: $(ls -t "$build/fuzz-artifacts/$t-"* 2>/dev/null | head -1)" >&2
    status=1
  else
    grep -E "stat::number_of_executed_runs|cov:" "$build/fuzz-artifacts/$t.log" | tail -2 >&2 || true
  fi
done
exit $status
