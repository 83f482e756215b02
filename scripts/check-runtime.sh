#!/usr/bin/env bash
# Checks that the release binaries run with only scripts/runtime-packages.txt installed (issue 15,
# item 4): every library they load at start-up (readelf NEEDED) and every library Sources/CLazyLibs
# loads on first use belongs to a package on that list (dpkg -S), and a copy of dvs in an empty
# folder, run with an empty environment, inits, commits, streams and checks out a recording, and
# its `dvs serve` answers.
#   scripts/check-runtime.sh [BUILD_DIR]     (default .build/release)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-.build/release}
allowed=$(sed 's/#.*//' scripts/runtime-packages.txt | awk 'NF {print $1}')
owners() {  # the packages that own a library file (Debian 12 merges /lib into /usr/lib: both spellings)
  local p f; p=$1; f=$(readlink -f "$p")
  for c in "$p" "$f" "${f#/usr}" "/usr$f"; do
    dpkg -S "$c" 2>/dev/null | sed 's/: \/.*//' | tr ',' '\n' | sed 's/:.*//; s/ //g' | grep . && return 0
  done
  return 0
}
fail=0
check() {  # soname, what loads it
  # awk reads to the end: exiting at the first match would kill ldconfig with SIGPIPE, and
  # pipefail with set -e would then end the script (exit 141) without a word.
  local path; path=$(ldconfig -p | awk -v s="$1" '$1 == s && !found {print $NF; found = 1}')
  if [ -z "$path" ]; then echo "error: $1 ($2) is not installed here" >&2; fail=1; return; fi
  local pkgs ok=""; pkgs=$(owners "$path")
  for p in $pkgs; do grep -qx "$p" <<<"$allowed" && ok=$p; done
  if [ -z "$ok" ]; then
    echo "error: $1 ($2) comes from '$(echo ${pkgs:-an unknown package})', which scripts/runtime-packages.txt does not list" >&2; fail=1
  else
    echo "  $1 <- $ok ($2)"
  fi
}
for bin in dvs dvs-serve; do
  for so in $(readelf -d "$build/$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    case "$so" in ld-linux-*) continue ;; esac
    check "$so" "$bin at start-up"
  done
done
git2=$(sed -n 's/^#define LIBGIT2_SOVERSION *"\(.*\)"/\1/p' /usr/include/git2/version.h)
for so in $(grep -ho '{"lib[^"]*"' Sources/CLazyLibs/*.c | tr -d '{"' | grep -v '\.$'); do check "$so" "loaded on first use"; done
check "libgit2.so.$git2" "loaded on first use"
[ "$fail" = 0 ] || exit 1

# A fresh folder, no toolchain paths, an empty environment.
box=$(mktemp -d /tmp/dvs-runtime.XXXXXX)
trap 'rm -rf "$box"' EXIT
cp "$build/dvs" "$build/dvs-serve" "$box/"
mkdir -p "$box/data/clips"
sox -n -r 16000 -c 1 -b 16 "$box/data/clips/a.wav" synth 1 sine 300
printf 'path,speaker\nclips/a.wav,s1\n' > "$box/data/labels.csv"
run() { (cd "$box/data" && env -i HOME="$box" PATH=/usr/bin:/bin DVS_AUTHOR_NAME=ci DVS_AUTHOR_EMAIL=ci@example.com "$box/dvs" "$@"); }
run init >/dev/null
run commit -m first >/dev/null
n=$(run stream | tar -t | wc -l)
[ "$n" = 2 ] || { echo "error: dvs stream in an empty environment wrote $n tar members, expected 2" >&2; exit 1; }
run checkout HEAD --to "$box/out" >/dev/null
cmp "$box/data/clips/a.wav" "$box/out/clips/a.wav"
# dvs serve execs the dvs-serve beside it.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
run serve --port "$port" >"$box/serve.log" 2>&1 &
serve=$!
ok=""
for _ in $(seq 100); do
  if curl -sf "http://127.0.0.1:$port/" >/dev/null; then ok=1; break; fi
  sleep 0.1
done
kill "$serve" 2>/dev/null || true; wait "$serve" 2>/dev/null || true
[ -n "$ok" ] || { echo "error: dvs serve from a bare copy did not answer: $(cat "$box/serve.log")" >&2; exit 1; }
echo "runtime: dvs and dvs serve run from a bare copy with an empty environment; their libraries come from scripts/runtime-packages.txt"
