#!/usr/bin/env bash
# bench/labels.sh -- label-aware operations at scale (issue: Labels and transcripts).
# A benchmark, not a test: it reports figures and targets, it never fails on a miss.
#
#   bench/labels.sh [--dvs PATH] [--rows 100000] [--n 10000] [--reps 3]
#
# 1. A 100,000-sample repository (tiny unique WAVs, generated here) with a 100,000-row
#    labels.csv: commit, then relabel 1 % of rows (scattered, and a contiguous batch) and
#    commit each; reports new metadata bytes (manifest chunks + commit, raw and as stored) and
#    the stored size of the new labels.csv blob.
# 2. `dvs query` aggregates over those 100,000 samples (target <= 1 s).
# 3. `dvs diff A B` between two commits of the make_corpus.py corpus (N clips; the second is
#    make_corpus.py --mutate 0.01, which re-records and relabels ~2 % of rows) (target <= 0.5 s).
# Data lives under ${DVS_BENCH_DIR:-/tmp/dvs-bench}; the corpora are cached there.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR=${DVS_BENCH_DIR:-/tmp/dvs-bench}
MAKE_CORPUS=${DVS_BENCH_MAKE_CORPUS:-$REPO/bench/make_corpus.py}
DVS=$REPO/.build/release/dvs
ROWS=100000
N=10000
REPS=3
while [ $# -gt 0 ]; do
  case "$1" in
    --dvs) DVS=${2:?}; shift 2 ;;
    --rows) ROWS=${2:?}; shift 2 ;;
    --n) N=${2:?}; shift 2 ;;
    --reps) REPS=${2:?}; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "labels.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ -x "$DVS" ] || (cd "$REPO" && swift build -c release >&2)
export DVS_AUTHOR_NAME=bench DVS_AUTHOR_EMAIL=bench@example.com
mkdir -p "$BENCH_DIR"
say() { echo "labels: $*" >&2; }

# Median wall time of a command over REPS runs, in seconds (stdout discarded).
median() {
  python3 - "$REPS" "$@" <<'PY'
import subprocess, sys, time
reps = int(sys.argv[1]); cmd = sys.argv[2:]
ts = []
for _ in range(reps):
    t = time.perf_counter(); subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL); ts.append(time.perf_counter() - t)
print(f"{sorted(ts)[len(ts)//2]:.3f}")
PY
}

# -- 1. the 100k-sample repository ------------------------------------------------------------
BIG=$BENCH_DIR/labels-$ROWS
if [ ! -f "$BIG/.ready" ]; then
  say "generating $ROWS tiny WAVs and labels.csv in $BIG"
  rm -rf "$BIG"; mkdir -p "$BIG"
  python3 "$REPO/bench/tiny_wavs.py" "$BIG" "$ROWS" labels.csv path --score
  (cd "$BIG" && "$DVS" init >/dev/null)
  say "initial commit of $ROWS samples"
  /usr/bin/time -f "%e s, %M KiB max RSS" "$DVS" commit -C "$BIG" -m "import $ROWS samples" >"$BENCH_DIR/labels-initial.txt" 2>&1 || { cat "$BENCH_DIR/labels-initial.txt"; exit 1; }
  touch "$BIG/.ready"
fi
cat "$BENCH_DIR/labels-initial.txt" | sed 's/^/  initial: /'

relabel() {  # $1 = scattered|contiguous, $2 = pass number
  python3 - "$BIG/labels.csv" "$ROWS" "$1" "$2" <<'PY'
import random, sys
path, n, mode, k = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
lines = open(path).read().split("\n")
m = n // 100
r = random.Random(1000 + k)
idx = r.sample(range(1, n + 1), m) if mode == "scattered" else range(1 + (k * 7919) % (n - m), 1 + (k * 7919) % (n - m) + m)
for i in idx:
    f = lines[i].split(","); f[3] = "relabeled%d" % k; lines[i] = ",".join(f)
open(path, "w").write("\n".join(lines))
PY
}
report_commit() {  # parses dvs commit output
  python3 -c '
import re, sys
out = sys.stdin.read()
m = re.search(r"plus ([0-9.]+ \S+) of metadata", out)
s = re.search(r"stored ([0-9.]+ \S+) for ([0-9.]+ \S+)", out)
meta = m.group(1) if m else "?"
stored, raw = (s.group(1), s.group(2)) if s else ("?", "?")
print("new metadata %s (raw, before zstd); labels.csv stored as %s for %s" % (meta, stored, raw))'
}
pass=$(( $(date +%s) % 100000 ))
for mode in scattered contiguous; do
  pass=$((pass + 1))
  relabel "$mode" "$pass"
  before=$(du -sb "$BIG/.dvs/objects" | cut -f1)
  t0=$(date +%s.%N)
  out=$("$DVS" commit -C "$BIG" -m "relabel 1% ($mode)" 2>&1)
  t1=$(date +%s.%N)
  after=$(du -sb "$BIG/.dvs/objects" | cut -f1)
  echo "relabel 1% of $ROWS rows ($mode): $(printf '%.2f' "$(echo "$t1 - $t0" | bc)") s; $(echo "$out" | report_commit); objects/ grew $((after - before)) bytes (zstd-compressed objects)"
done

q1=$(median "$DVS" query -C "$BIG" "SELECT lang, count(*), sum(duration_s) / 3600 AS hours FROM sample GROUP BY lang")
q2=$(median "$DVS" query -C "$BIG" "SELECT label, avg(score), count(*) FROM sample WHERE sample_rate = 16000 GROUP BY label")
echo "dvs query aggregate over $ROWS samples: ${q1} s (GROUP BY lang), ${q2} s (GROUP BY label, avg score)  [target <= 1 s]"

# -- 3. dvs diff between two commits of the speech corpus --------------------------------------
C=$BENCH_DIR/corpus-$N; M=$BENCH_DIR/corpus-$N-mut1
[ -d "$C" ] || "$MAKE_CORPUS" --out "$C" --n "$N" --seed 42 --mode fast >&2
[ -d "$M" ] || { cp -a "$C" "$M"; "$MAKE_CORPUS" --out "$M" --mutate 0.01 --mutate-seed 1 >&2; }
W=$BENCH_DIR/labels-diff-$N
rm -rf "$W"; cp -a "$C" "$W"
"$DVS" init "$W" >/dev/null
"$DVS" commit -C "$W" -m base >/dev/null
rsync -a --delete --exclude .dvs "$M/" "$W/"
"$DVS" commit -C "$W" -m "mutated 1%" >/dev/null
"$DVS" diff -C "$W" --stat HEAD~1 HEAD | tail -4 | sed 's/^/  /'
d1=$(median "$DVS" diff -C "$W" HEAD~1 HEAD)
d2=$(median "$DVS" diff -C "$W" --json HEAD~1 HEAD)
echo "dvs diff between two commits of the $N-clip corpus: ${d1} s (text), ${d2} s (--json)  [target <= 0.5 s]"
rm -rf "$W"
