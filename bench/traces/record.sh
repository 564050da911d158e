#!/usr/bin/env bash
# record.sh [DIR [NAME...]]: records page traces of real programs with
# `valgrind --tool=lackey --trace-mem=yes`, converted by lackey2trace.py to
# u32 traces compressed with zstd (DIR, default ./generated). Installs what
# it needs (valgrind, zstd, sqlite3, xz-utils; Debian packages). Each run is
# kept small (about a minute each under lackey: tens of millions of
# references, a few thousand pages).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/generated}
shift || true
names=("$@")  # default: all of sort gcc xz sqlite3 python3
mkdir -p "$out"
need=()
for t in valgrind:valgrind zstd:zstd sqlite3:sqlite3 xz:xz-utils python3:python3 gcc:gcc; do
  command -v "${t%%:*}" >/dev/null || need+=("${t#*:}")
done
if ((${#need[@]})); then apt-get update -qq && apt-get install -y -qq "${need[@]}"; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
seq 1 20000 | awk '{print ($1 * 7919) % 30011}' > "$tmp/numbers"
head -c 150000 /dev/urandom | base64 > "$tmp/random.txt"

record() {  # record NAME COMMAND...: unless NAMEs were given without it
  local name=$1; shift
  if ((${#names[@]})) && [[ " ${names[*]} " != *" $name "* ]]; then return; fi
  echo "recording $name: $*" >&2
  valgrind --tool=lackey --trace-mem=yes --log-fd=3 "$@" 3>&1 >/dev/null 2>/dev/null |
    python3 "$here/lackey2trace.py" --format u32 - - | zstd -q -15 -o "$out/$name.u32.zst" -f
}
record sort sort -n "$tmp/numbers"
# gcc's compiler proper (the driver runs it as a child, which lackey does not follow).
record gcc "$(gcc -print-prog-name=cc1)" -quiet -O2 -imultiarch x86_64-linux-gnu \
  "$here/testdata/hello.c" -o /dev/null
record xz xz -1 -c "$tmp/random.txt"
record sqlite3 sqlite3 :memory: \
  "create table t(a integer, b text); with recursive c(x) as (select 1 union all select x+1 from c where x<5000) insert into t select x, hex(randomblob(16)) from c; create index i on t(b); select count(*) from t where b like 'A%';"
# The interpreter itself (a pyenv-style shim would be traced instead of it).
py=$(python3 -c 'import os, sys; print(os.path.realpath(sys.executable))')
record python3 "$py" -c "d={i: str(i)*3 for i in range(20000)}; print(sum(len(v) for v in sorted(d.values())))"
ls -l "$out"
