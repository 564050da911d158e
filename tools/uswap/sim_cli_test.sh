#!/usr/bin/env bash
# sim_cli_test.sh USWAP: the command-line contract of `uswap sim` (formats,
# standard input, errors and their exit codes) and of `uswap bench
# --policy` (accepted and rejected names; no benchmark is run).
set -u
uswap=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
# expect CODE PATTERN CMD...: exit code CODE and PATTERN in stdout+stderr.
expect() {
  local code=$1 pattern=$2; shift 2
  local out rc
  out=$("$@" 2>&1); rc=$?
  if [[ $rc -ne $code ]]; then bad "$* -> exit $rc, want $code: $out"; return; fi
  if [[ -n $pattern ]] && ! grep -qE -- "$pattern" <<<"$out"; then
    bad "$* -> output lacks /$pattern/: $out"; return
  fi
  ok
}

# One trace in three formats: 1 2 3 1 4 1 2 5 1 3 (page 2 written).
printf '1\n2 w\n3\n1 r\n4\n1\n2\n5\n1\n3\n' > "$tmp/t.txt"
python3 - "$tmp" <<'PY'
import struct, sys
pages = [1, 2, 3, 1, 4, 1, 2, 5, 1, 3]
d = sys.argv[1]
open(d + "/t.u32", "wb").write(b"".join(struct.pack("<I", p | (1 << 31 if i == 1 else 0)) for i, p in enumerate(pages)))
open(d + "/t.u64", "wb").write(b"".join(struct.pack("<Q", p) for p in pages))
open(d + "/cut.u32", "wb").write(struct.pack("<I", 1) + b"\x02\x00")
PY

# The figures: cache 3, LRU misses 7, OPT 6 (hand-worked in policy_test).
expect 0 '^lru +10 +5 +7 ' "$uswap" sim --trace "$tmp/t.txt" --cache 3 --policy lru
expect 0 '^opt +10 +5 +6 ' "$uswap" sim --trace "$tmp/t.txt" --cache 3 --policy opt
want=$("$uswap" sim --trace "$tmp/t.txt" --cache 3 --json | sed 's/"trace":[^,]*,//')
for f in u32 u64; do
  got=$("$uswap" sim --trace "$tmp/t.$f" --format $f --cache 3 --json)
  [[ "$got" == "$want" ]] && ok || bad "format $f differs: $got"
done
got=$("$uswap" sim --trace - --cache 3 --json < "$tmp/t.txt")
[[ "$got" == "$want" ]] && ok || bad "stdin differs: $got"
got=$(cat "$tmp/t.txt" | "$uswap" sim --cache 3 --json -)
[[ "$got" == "$want" ]] && ok || bad "stdin operand differs: $got"
expect 0 '"policy":"rdist".*"minor_faults":[0-9]+,"est_seconds"' \
  "$uswap" sim --trace "$tmp/t.txt" --cache 2 --observe faults --json
expect 0 'cache 5 pages \(100.0%\)' "$uswap" sim --trace "$tmp/t.txt" --cache 100% --policy lru
expect 0 'cache 3 pages' "$uswap" sim --trace "$tmp/t.txt" --cache 60% --policy lru
expect 0 ' 0.000' "$uswap" sim --trace "$tmp/t.txt" --cache 2 --observe faults --policy lru \
  --major-us 0 --minor-us 0
n=$("$uswap" sim --trace "$tmp/t.txt" --cache 3 --json | wc -l)
[[ $n -eq 9 ]] && ok || bad "all policies: $n lines, want 9"
expect 0 'usage: uswap sim' "$uswap" sim --help
expect 0 'usage: uswap sim' "$uswap" help sim

# Errors.
expect 2 "unknown policy 'belady'" "$uswap" sim --trace "$tmp/t.txt" --cache 3 --policy lru,belady
expect 2 "unknown --format 'u16'" "$uswap" sim --trace "$tmp/t.txt" --cache 3 --format u16
expect 2 "unknown --observe" "$uswap" sim --trace "$tmp/t.txt" --cache 3 --observe some
expect 2 "bad --cache" "$uswap" sim --trace "$tmp/t.txt" --cache 0
expect 2 "bad --cache" "$uswap" sim --trace "$tmp/t.txt" --cache 150%
expect 2 "bad --cache" "$uswap" sim --trace "$tmp/t.txt" --cache -3
expect 2 "--cache N\|P% is required" "$uswap" sim --trace "$tmp/t.txt"
expect 2 "--trace FILE\|- is required" "$uswap" sim --cache 3
expect 2 "bad --major-us" "$uswap" sim --trace "$tmp/t.txt" --cache 3 --major-us x
expect 1 "truncated u32 trace" "$uswap" sim --trace "$tmp/cut.u32" --format u32 --cache 3
expect 1 "empty trace" "$uswap" sim --trace /dev/null --cache 3
expect 1 "line 2: not a page number" "$uswap" sim --trace - --cache 3 <<<$'1\nfoo\n'
expect 1 "$tmp/none" "$uswap" sim --trace "$tmp/none" --cache 3

# bench/traces: the lackey converter (page = address >> 12, repeats of a
# page collapsed, S/M written) and a shipped real trace through every policy.
traces=$(cd "$(dirname "$0")/../../bench/traces" && pwd)
got=$(printf '==1== Lackey\nI  04000000,3\n L 04000ff0,8\n S 04001000,8\n M 04001008,4\nI  04000010,2\n' |
  python3 "$traces/lackey2trace.py" --format text - - | tr '\n' ' ')
[[ "$got" == "16384 16385 w 16384 " ]] && ok || bad "lackey2trace: '$got'"
got=$(printf ' L 04000ff0,8\nI  04001000,3\n' | python3 "$traces/lackey2trace.py" --no-instr --format text - - | tr '\n' ' ')
[[ "$got" == "16384 " ]] && ok || bad "lackey2trace --no-instr: '$got'"
if command -v zstd >/dev/null; then
  for t in "$traces"/testdata/*-head.u32.zst; do  # the small ones (sanitizer builds)
    n=$(zstd -dcq "$t" | "$uswap" sim --format u32 --cache 25% --observe faults --json - |
      grep -c '"vs_opt":[1-9]')
    [[ $n -eq 9 ]] && ok || bad "$t: $n of 9 policies at >= OPT"
  done
fi

# bench --policy: a known name gets past option parsing (the run then stops
# at the missing --region), an unknown one is refused by name.
for p in lru fifo clock two-list arc s3fifo lirs rdist; do
  expect 2 "--region is required" "$uswap" bench --policy $p --engine uswap --ram 64M
done
expect 2 "unknown --policy 'opt'" "$uswap" bench --policy opt --region 1G --ram 64M
expect 2 "unknown --policy 'nope'" "$uswap" bench --policy nope --region 1G --ram 64M

echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]
