#!/usr/bin/env bash
# Checks that the release binaries run with only scripts/runtime-packages.txt installed (issue 15,
# item 4): every library they load at start-up (readelf NEEDED) and every library Sources/CLazyLibs
# loads on first use belongs to a package on that list (dpkg -S), and a copy of dvs in an empty
# folder, run with an empty environment, inits, commits, streams and checks out a recording.
#   scripts/check-runtime.sh [BUILD_DIR]     (default .build/release)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-.build/release}
allowed=$(sed 's/#.*//' scripts/runtime-packages.txt | awk 'NF {print $1}')
owner() {  # the package that owns a library file, by its resolved path
  local f; f=$(readlink -f "$1")
  dpkg -S "$f" 2>/dev/null | head -1 | cut -d: -f1 || dpkg -S "/usr$f" 2>/dev/null | head -1 | cut -d: -f1 || true
}
fail=0
check() {  # soname, what loads it
  local path; path=$(ldconfig -p | awk -v s="$1" '$1 == s {print $NF; exit}')
  if [ -z "$path" ]; then echo "error: $1 ($2) is not installed here" >&2; fail=1; return; fi
  local pkg; pkg=$(owner "$path")
  [ -n "$pkg" ] || pkg=$(dpkg -S "$(basename "$(readlink -f "$path")")" 2>/dev/null | head -1 | cut -d: -f1 || true)
  if ! grep -qx "$pkg" <<<"$allowed"; then
    echo "error: $1 ($2) comes from package '${pkg:-unknown}', which scripts/runtime-packages.txt does not list" >&2; fail=1
  else
    echo "  $1 <- $pkg ($2)"
  fi
}
for bin in dvs dvs-serve; do
  for so in $(readelf -d "$build/$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    case "$so" in ld-linux-*) continue ;; esac
    check "$so" "$bin at start-up"
  done
done
git2=$(sed -n 's/^#define LIBGIT2_SOVERSION *"\(.*\)"/\1/p' /usr/include/git2/version.h)
for so in $(grep -ho '{"lib[^"]*"' Sources/CLazyLibs/*.c | tr -d '{"'); do check "$so" "loaded on first use"; done
check "libgit2.so.$git2" "loaded on first use"
[ "$fail" = 0 ] || exit 1

# A fresh folder, no toolchain paths, an empty environment.
box=$(mktemp -d /tmp/dvs-runtime.XXXXXX)
trap 'rm -rf "$box"' EXIT
cp "$build/dvs" "$build/dvs-serve" "$box/"
mkdir -p "$box/data/clips"
sox -n -r 16000 -c 1 -b 16 "$box/data/clips/a.wav" synth 1 sine 300
printf 'path,speaker\nclips/a.wav,s1\n' > "$box/data/labels.csv"
run() { env -i HOME="$box" PATH=/usr/bin:/bin DVS_AUTHOR_NAME=ci DVS_AUTHOR_EMAIL=ci@example.com "$box/dvs" -C "$box/data" "$@"; }
run init >/dev/null
run commit -m first >/dev/null
n=$(run stream | tar -t | wc -l)
[ "$n" = 2 ] || { echo "error: dvs stream in an empty environment wrote $n tar members, expected 2" >&2; exit 1; }
run checkout HEAD --to "$box/out" >/dev/null
cmp "$box/data/clips/a.wav" "$box/out/clips/a.wav"
echo "runtime: dvs runs from a bare copy with an empty environment; its libraries come from scripts/runtime-packages.txt"
