#!/usr/bin/env bash
# bench/stream.sh -- `dvs stream` against `tar cf - corpus | cat` (issue 12: reading for training).
# A benchmark, not a test: it reports figures, it never fails on a miss.
#
#   bench/stream.sh [--dvs PATH] [--baseline PATH] [--n 10000] [--reps 5] [--corpus DIR] [--args "..."]
#
# The make_corpus.py corpus of N clips (--mode fast, cached under $DVS_BENCH_DIR) is copied once
# (a real copy: new inodes, so nothing else's hard links move its ctimes) into
# $DVS_BENCH_DIR/stream-tree-corpus-N-fast and committed there; its stat cache then mirrors HEAD,
# as after a checkout. Then, page cache warm (one untimed run of each first), --reps interleaved
# rounds of
#   dvs stream --from store | cat > /dev/null  (store: every blob read from its pack, decoded and
#                                               its SHA-256 checked -- what a fresh clone does)
#   dvs stream | cat > /dev/null               (auto: the unchanged working-tree files, the stat
#                                               cache vouching for them -- a checked-out tree)
#   tar cf - -C CORPUS . | cat > /dev/null     (GNU tar of the plain files; `tar cf - > /dev/null`
#                                               would be no measure: GNU tar skips reading then)
#   dvs stream --from store > /dev/null, dvs stream > /dev/null   (no pipe)
#   BASELINE stream | cat > /dev/null          (with --baseline: another dvs binary, e.g. main's;
#                                               its output is compared with cmp first)
# are timed (--args adds options to every dvs stream, e.g. "--shuffle 7 --shard 1/3"); it prints
# each one's median and min-max wall time, rate (MB/s of its own tar stream) and CPU time (user +
# system of all its processes: on a shared machine the wall ratio follows the share of the cores
# each one gets), then the dvs/tar rate ratio as the median and min-max of the per-round ratios
# (target >= 1.0x), and the CPU ratio. Before the rounds it counts (strace) how many working-tree
# files the auto stream opened, so a stat cache that no longer vouches for the tree is noticed.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR=${DVS_BENCH_DIR:-/tmp/dvs-bench}
MAKE_CORPUS=${DVS_BENCH_MAKE_CORPUS:-$REPO/bench/make_corpus.py}
DVS=$REPO/.build/release/dvs
N=10000
REPS=5
CORPUS=
BASE=
ARGS=
while [ $# -gt 0 ]; do
  case "$1" in
    --dvs) DVS=${2:?}; shift 2 ;;
    --baseline) BASE=${2:?}; shift 2 ;;
    --n) N=${2:?}; shift 2 ;;
    --reps) REPS=${2:?}; shift 2 ;;
    --corpus) CORPUS=${2:?}; shift 2 ;;
    --args) ARGS=${2:?}; shift 2 ;;
    -h|--help) sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "stream.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ -x "$DVS" ] || (cd "$REPO" && swift build -c release --product dvs >&2)
export DVS_AUTHOR_NAME=bench DVS_AUTHOR_EMAIL=bench@example.com
mkdir -p "$BENCH_DIR"
say() { echo "stream: $*" >&2; }

CORPUS=${CORPUS:-$BENCH_DIR/corpus-$N-fast}
if [ ! -f "$CORPUS/manifest.json" ]; then
  say "generating the $N-clip corpus in $CORPUS (make_corpus.py --mode fast)"
  "$MAKE_CORPUS" --out "$CORPUS" --n "$N" --mode fast --jobs "$(nproc)" >&2
fi
DATA=$BENCH_DIR/stream-tree-$(basename "$CORPUS")
if [ ! -f "$DATA/.dvs/.bench-ready" ]; then
  say "committing a copy of the corpus into $DATA"
  rm -rf "$DATA"; cp -a "$CORPUS" "$DATA"
  (cd "$DATA" && "$DVS" init >/dev/null && "$DVS" commit -m "corpus" >/dev/null)
  touch "$DATA/.dvs/.bench-ready"
fi

# Output is thrown away into /dev/null -- when it is the null device. On a machine where something
# replaced /dev/null with a regular file (seen here, 2026-12-04), every `> /dev/null` would write
# the 3 GB stream into memory (devtmpfs): then a private null device (mknod c 1 3) is used.
NULL=/dev/null
if [ ! -c /dev/null ]; then
  NULL=$BENCH_DIR/null-device
  if [ -c "$NULL" ] || mknod "$NULL" c 1 3 2>/dev/null; then
    say "/dev/null is not the null device here; output goes to $NULL (char 1,3) instead"
  else
    say "/dev/null is not the null device and mknod failed: the figures include writing the stream to a file"
    NULL=/dev/null
  fi
fi

# "WALL CPU" seconds of one shell command (CPU: user + system of everything it ran).
timed() { python3 - "$1" <<'PY'
import os, subprocess, sys, time
c = os.times()
t = time.perf_counter()
subprocess.run(["bash", "-c", sys.argv[1]], check=True)
w = time.perf_counter() - t
d = os.times()
print(f"{w:.4f} {(d.children_user - c.children_user) + (d.children_system - c.children_system):.2f}")
PY
}
store_pipe="cd '$DATA' && '$DVS' stream $ARGS --from store | cat > '$NULL'"
tree_pipe="cd '$DATA' && '$DVS' stream $ARGS | cat > '$NULL'"
store_null="cd '$DATA' && '$DVS' stream $ARGS --from store > '$NULL'"
tree_null="cd '$DATA' && '$DVS' stream $ARGS > '$NULL'"
tar_pipe="tar cf - -C '$CORPUS' . | cat > '$NULL'"
base_pipe="cd '$DATA' && '${BASE:-$DVS}' stream $ARGS | cat > '$NULL'"
# shellcheck disable=SC2086
dvs_bytes=$(cd "$DATA" && "$DVS" stream $ARGS --from store | wc -c)
tar_bytes=$(tar cf - -C "$CORPUS" . | wc -c)
# shellcheck disable=SC2086
if cmp -s <(cd "$DATA" && "$DVS" stream $ARGS --from store) <(cd "$DATA" && "$DVS" stream $ARGS); then same=identical; else same=DIFFERENT; fi
say "dvs stream --from store and --from auto: $same"
if [ -n "$BASE" ]; then
  # shellcheck disable=SC2086
  if cmp -s <(cd "$DATA" && "$DVS" stream $ARGS) <(cd "$DATA" && "$BASE" stream $ARGS); then same=identical; else same=DIFFERENT; fi
  say "dvs stream output of $DVS and $BASE: $same"
fi
if command -v strace >/dev/null; then
  trace=$(mktemp)
  # shellcheck disable=SC2086
  (cd "$DATA" && strace -f -qq -e trace=openat -o "$trace" "$DVS" stream $ARGS > "$NULL")
  opened=$(grep -v '/\.dvs/' "$trace" | grep -c '\.wav"' || true)
  rm -f "$trace"
  say "dvs stream (auto) opened $opened working-tree audio files"
fi
say "warm-up done: dvs stream $dvs_bytes bytes, tar $tar_bytes bytes; $REPS interleaved rounds"
rounds=""
for r in $(seq "$REPS"); do
  a=$(timed "$store_pipe"); b=$(timed "$tar_pipe"); c=$(timed "$store_null")
  e=$(timed "$tree_pipe"); f=$(timed "$tree_null")
  d="0 0"; [ -z "$BASE" ] || d=$(timed "$base_pipe")
  say "round $r (wall cpu): store|cat $a  tar|cat $b  store>null $c  tree|cat $e  tree>null $f${BASE:+  baseline|cat $d}"
  rounds="$rounds$a $b $c $d $e $f"$'\n'
done
python3 - "$dvs_bytes" "$tar_bytes" "$rounds" "$(nproc)" "$BASE" <<'PY'
import statistics, sys
db, tb, base = int(sys.argv[1]), int(sys.argv[2]), sys.argv[5]
rows = [list(map(float, l.split())) for l in sys.argv[3].strip().splitlines()]
med = statistics.median
def rate(b, s): return b / s / 1e6
def fig(name, col, b):
    t = [r[2 * col] for r in rows]
    cpu = [r[2 * col + 1] for r in rows]
    rs = [rate(b, x) for x in t]
    print(f"{name:<26} {med(t):7.3f} s ({min(t):.3f}-{max(t):.3f})  {med(rs):6.0f} MB/s ({min(rs):.0f}-{max(rs):.0f})  "
          f"CPU {med(cpu):.2f} s")
print(f"stream: {len(rows)} interleaved rounds, page cache warm, {sys.argv[4]} cores")
fig("tar cf - | cat", 1, tb)
fig("dvs stream store | cat", 0, db)
fig("dvs stream store > null", 2, db)
fig("dvs stream auto | cat", 4, db)
fig("dvs stream auto > null", 5, db)
cols = [("store | cat", 0), ("store > /dev/null", 2), ("auto | cat", 4), ("auto > /dev/null", 5)]
if base:
    fig("baseline stream | cat", 3, db)
    cols.append(("baseline | cat", 3))
for name, col in cols:
    ratios = [rate(db, r[2 * col]) / rate(tb, r[2]) for r in rows]
    cpu = [(r[3] / tb) / (r[2 * col + 1] / db) for r in rows]
    print(f"ratio {name} / tar | cat: rate {med(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f}) (target >= 1.0x); "
          f"bytes per CPU-second {med(cpu):.2f}x")
PY
