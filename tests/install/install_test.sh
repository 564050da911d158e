#!/usr/bin/env bash
# install_test.sh BUILD_DIR SOURCE_DIR: installs the build into a temporary
# prefix and builds and runs a program outside the tree against it three
# ways: find_package(uswap 0.2) (shared and static library), pkg-config,
# and add_subdirectory() of the source tree. Removes everything it made.
set -euo pipefail
build=$1 src=$2
tmp=$(mktemp -d /var/tmp/uswap-install-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
fail() { echo "install_test: $*" >&2; exit 1; }
launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi

echo "-- cmake --install into $prefix"
cmake --install "$build" --prefix "$prefix" >/dev/null
libdir=$(dirname "$(find "$prefix" -name uswap.pc)")/..
libdir=$(cd "$libdir" && pwd)
for f in "$prefix/include/uswap/uswap.h" "$prefix/bin/uswap" "$libdir/libuswap.a" \
         "$libdir/libuswap.so" "$libdir/cmake/uswap/uswapConfig.cmake" \
         "$libdir/cmake/uswap/uswapConfigVersion.cmake" "$libdir/pkgconfig/uswap.pc"; do
  [[ -e $f ]] || fail "not installed: ${f#"$prefix"/}"
done
[[ ! -e $prefix/include/base && ! -e $prefix/include/mm ]] || fail "private headers installed"
soname=$(readelf -d "$libdir/libuswap.so" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[[ $soname =~ ^libuswap\.so\.[0-9]+\.[0-9]+$ ]] || fail "libuswap.so has SONAME '$soname'"
[[ -e $libdir/$soname ]] || fail "$soname is not installed"
echo "   SONAME $soname"

version=$("$prefix/bin/uswap" --version)
[[ $version == "uswap $(sed -n 's/^Version: //p' "$libdir/pkgconfig/uswap.pc")" ]] ||
  fail "uswap --version says '$version', uswap.pc another version"
echo "   $version"

# Man pages (help2man) and the bash completion.
for page in uswap uswap-bench uswap-demo uswap-inspect uswap-label uswap-mkswap uswap-stat; do
  f=$prefix/share/man/man1/$page.1
  grep -q '^\.TH' "$f" 2>/dev/null || fail "no man page $page.1"
done
grep -q "set up a swap area" "$prefix/share/man/man1/uswap-mkswap.1" || fail "uswap-mkswap.1 has no NAME line"
completion=$(bash -c 'source "$1"; COMP_WORDS=(uswap mk); COMP_CWORD=1; _uswap; echo "${COMPREPLY[*]}"
  COMP_WORDS=(uswap mkswap --fo); COMP_CWORD=2; _uswap; echo "${COMPREPLY[*]}"' _ \
  "$prefix/share/bash-completion/completions/uswap")
[[ $completion == $'mkswap\n--force' ]] || fail "bash completion gave '$completion'"

# The installed CLI makes the swap area every consumer pages to.
"$prefix/bin/uswap" mkswap -s 16M "$tmp/a.swap" >/dev/null

run() {  # run NAME BINARY [SWAPFILE]: a new SWAPFILE is made by the consumer
  echo "-- $1"
  "$2" "${3:-$tmp/a.swap}" || fail "$1: the consumer failed"
}

cmake -S "$src/tests/install/consumer" -B "$tmp/package" -DUSWAP_USE=package \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" >/dev/null
cmake --build "$tmp/package" -j"$(nproc)" >/dev/null
# ldd's output is captured first: `ldd | grep -q` fails at random under
# pipefail (grep exits at the first match, ldd then dies of SIGPIPE).
deps=$(ldd "$tmp/package/consumer_shared")
[[ $deps == *"$soname => $libdir/"* ]] || fail "consumer_shared does not load the installed $soname"
deps=$(ldd "$tmp/package/consumer_static")
[[ $deps != *libuswap* ]] || fail "consumer_static loads libuswap.so"
run "find_package, uswap::uswap (shared)" "$tmp/package/consumer_shared"
run "find_package, uswap::uswap_static" "$tmp/package/consumer_static" "$tmp/static.swap"

export PKG_CONFIG_PATH=$libdir/pkgconfig
[[ $(pkg-config --modversion uswap) == "$(sed -n 's/^Version: //p' "$libdir/pkgconfig/uswap.pc")" ]]
# shellcheck disable=SC2046  # pkg-config prints several words
g++ -std=c++20 -O2 -o "$tmp/consumer_pc" "$src/tests/install/consumer/consumer.cc" \
  $(pkg-config --cflags --libs uswap) -Wl,-rpath,"$libdir"
run "pkg-config" "$tmp/consumer_pc" "$tmp/pc.swap"

cmake -S "$src/tests/install/consumer" -B "$tmp/subdir" -DUSWAP_USE=subdir \
  -DUSWAP_SOURCE_DIR="$src" -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" >/dev/null
cmake --build "$tmp/subdir" -j"$(nproc)" >/dev/null
[[ ! -e $tmp/subdir/uswap/tests && ! -e $tmp/subdir/uswap/bench ]] ||
  fail "add_subdirectory built uswap's tests or benchmarks"
run "add_subdirectory" "$tmp/subdir/consumer_subdir" "$tmp/subdir.swap"
echo "install_test: 4 consumers built and ran"
