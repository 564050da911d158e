#!/usr/bin/env bash
# Real Debian programs under `uswap run` (issue 9's acceptance): each runs
# without uswap and under `uswap run --ram X`; the outputs must be
# byte-identical (compared by SHA-256), and the peak memory of the whole
# process tree is read from the kernel: an observe-only memory cgroup (v1,
# no limit) around the run, memory.max_usage_in_bytes (anonymous, shmem
# and page cache it charged). With --kernel, each also runs in a memory
# cgroup limited to X with kernel swap on a swap file on the same disk.
#
#   bash bench/run/real-programs.sh [--uswap PATH] [--kernel] [--only NAME] [--runs N]
#                                   [--policies P1,P2...]
#
# --policies runs uswap once per reclaim policy (`uswap run --policy P`) in
# each round, interleaved with the other modes. Needs root (cgroups;
# --kernel: swapon). Prints one line per run, then per program and mode
# the median time and the highest peak. Data is generated in $TMPDIR
# (default /var/tmp) and removed.
set -euo pipefail
USWAP=${USWAP:-$(dirname "$0")/../../build/tools/uswap/uswap}
KERNEL=0
ONLY=""
RUNS=1
POLICIES=""
while (($#)); do
  case $1 in
    --uswap) USWAP=$2; shift 2 ;;
    --kernel) KERNEL=1; shift ;;
    --only) ONLY=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --policies) POLICIES=$2; shift 2 ;;
    *) echo "usage: $0 [--uswap PATH] [--kernel] [--only NAME] [--runs N] [--policies P,...]" >&2; exit 2 ;;
  esac
done
TMP=${TMPDIR:-/var/tmp}/uswap-real.$$
mkdir -p "$TMP"
CGROOT=/sys/fs/cgroup/memory
CG=""
SWAPFILE=""
cleanup() {
  [[ -n $SWAPFILE ]] && { swapoff "$SWAPFILE" 2>/dev/null || true; rm -f "$SWAPFILE"; }
  [[ -n $CG && -d $CG ]] && rmdir "$CG" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

# run MODE LIMIT CMD... -> "seconds peak_MiB sha256 status" (status: the
# program's exit status, 137 when the kernel's OOM killer ended it). Each run gets a fresh
# cgroup (so that nothing an earlier run left in the page cache is charged
# to it), the limit before anything runs, and cold caches.
run() {
  local mode=$1 limit=$2; shift 2
  CG=$CGROOT/uswap-real.$$.$RANDOM
  mkdir "$CG"
  [[ $mode == kernel ]] && echo "$(numfmt --from=iec "$limit")" > "$CG/memory.limit_in_bytes"
  sync; echo 1 > /proc/sys/vm/drop_caches
  local t0 t1 sum peak rc=0
  t0=$(date +%s.%N)
  if [[ $mode == uswap* ]]; then
    local policy=()
    [[ $mode == uswap:* ]] && policy=(--policy "${mode#uswap:}")
    sum=$(sh -c 'echo $$ > '"$CG"'/tasks; exec "$@"' sh "$USWAP" run --ram "$limit" "${policy[@]}" --swap-dir "$TMP" -- "$@" | sha256sum | cut -c1-16) || rc=$?
  else
    sum=$(sh -c 'echo $$ > '"$CG"'/tasks; exec "$@"' sh "$@" | sha256sum | cut -c1-16) || rc=$?
  fi
  t1=$(date +%s.%N)
  peak=$(( $(cat "$CG/memory.max_usage_in_bytes") >> 20 ))
  rmdir "$CG"; CG=""
  echo "$(echo "$t1 - $t0" | bc) $peak $sum $rc"
}

# The programs: name, RAM budget, command. Inputs are made once.
gen_inputs() {
  [[ -f $TMP/lines.txt ]] && return
  python3 -c "
import random
r = random.Random(1)
with open('$TMP/lines.txt', 'w') as f:
    for i in range(9_000_000):
        f.write('%016x %s\n' % (r.getrandbits(64), 'x' * r.randrange(40, 80)))
"
  # xz -9 allocates 674 MiB whatever its input; what it touches grows with
  # the input (~230 MiB for 24 MiB: the match finder's tree, 8 bytes per
  # input byte, its 64 MiB hash and the window). 48 MiB (~450 MiB touched)
  # ran for hours under both engines, or was OOM-killed in the kernel's
  # cgroup (doc/run.md).
  head -c 24M "$TMP/lines.txt" > "$TMP/xz-input"
  python3 -c "
import sqlite3, random
r = random.Random(2)
db = sqlite3.connect('$TMP/db.sqlite')
db.execute('create table t(k integer primary key, v text)')
db.executemany('insert into t values(?, ?)', ((i, '%x' % r.getrandbits(400)) for i in range(3_000_000)))
db.commit()
"
}

declare -a NAMES=(python sort xz sqlite mpfork)
declare -A RAM=([python]=256M [sort]=256M [xz]=192M [sqlite]=256M [mpfork]=256M)
HERE=$(cd "$(dirname "$0")" && pwd)

[[ $ONLY == mpfork ]] || gen_inputs  # mpfork makes its own data
if ((KERNEL)); then
  SWAPFILE=$TMP/kernel.swap
  fallocate -l 8G "$SWAPFILE"; chmod 600 "$SWAPFILE"; mkswap -q "$SWAPFILE"; swapon "$SWAPFILE"
fi
USWAP_MODES=(uswap)
[[ -n $POLICIES ]] && { IFS=, read -ra USWAP_MODES <<< "$POLICIES"; USWAP_MODES=("${USWAP_MODES[@]/#/uswap:}"); }
RESULTS=$TMP/results
printf "%-7s %-15s %-5s %8s %8s %-16s %s\n" program mode ram seconds peakMiB sha256 status
for name in "${NAMES[@]}"; do
  [[ -n $ONLY && $ONLY != "$name" ]] && continue
  ram=${RAM[$name]}
  for ((i = 0; i < RUNS; i++)); do
    for mode in plain "${USWAP_MODES[@]}" $( ((KERNEL)) && echo kernel ); do
      lim=$ram
      case $name in
        python) out=$(run $mode "$lim" /usr/bin/python3 -c 'd = {i: [i, str(i) * 6] for i in range(5_000_000)}
print(len(d), sum(len(v[1]) for v in d.values()))') ;;
        sort) out=$(run $mode "$lim" /usr/bin/sort -S 1G "$TMP/lines.txt") ;;
        xz) out=$(run $mode "$lim" /usr/bin/xz -9 -T1 -c "$TMP/xz-input") ;;
        sqlite) out=$(run $mode "$lim" /usr/bin/sqlite3 "$TMP/db.sqlite" \
          "pragma cache_size=-1048576; select count(*), sum(length(v)) from t; select sum(k) from t where v like '%abc%'; select count(*) from t where v > 'f';") ;;
        # A pool of 4 workers forked from a 512 MiB parent verify what they inherited.
        mpfork) out=$(run $mode "$lim" /usr/bin/python3 "$HERE/mp_fork.py" 512) ;;
      esac
      printf "%-7s %-15s %-5s %8s %8s %-16s %s\n" "$name" "$mode" "$ram" $out | tee -a "$RESULTS"
    done
  done
done
echo
echo "medians of the runs that exited 0 (time), highest peak, distinct outputs, failed runs:"
sort -k1,2 -k4,4n "$RESULTS" | awk '
  { key = $1 " " $2; if ($7 != 0) { f[key]++; if (!(key in n)) n[key] = 0; next }
    t[key] = t[key] " " $4; n[key]++; if ($5 > p[key]) p[key] = $5
    if (!((key, $6) in seen)) { seen[key, $6] = 1; d[key]++ } }
  END {
    for (k in n) {
      split(substr(t[k], 2), v, " "); m = v[int((n[k] + 1) / 2)]
      printf "%-23s median %8.2f s  peak %5d MiB  outputs %d  failed %d\n", k, n[k] ? m : 0, p[k], d[k], f[k]
    }
  }' | sort
