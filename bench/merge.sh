#!/usr/bin/env bash
# bench/merge.sh -- cohorts and merges at scale (issue: Cohort branches).
# A benchmark, not a test: it reports figures, targets and a peer comparison; it never fails on a miss.
#
#   bench/merge.sh [--dvs PATH] [--n 10000] [--reps 3]
#
# On the make_corpus.py corpus of N clips (cached under ${DVS_BENCH_DIR:-/tmp/dvs-bench}):
# 1. two branches from the same commit each relabel 1 % of labels.csv rows (branch a changes
#    `label`, branch b changes `score`; 20 rows are edited on both sides, in different fields);
#    time `dvs merge b` on a (target <= 1 s). Peer: `git merge-file` (git's line-based three-way
#    merge, what DVC and Git LFS users get for a CSV) on the same three versions: its time and
#    how many conflicts it reports where dvs reports none.
# 2. `dvs cohort create` with a two-condition predicate (target <= 1 s; metadata only).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR=${DVS_BENCH_DIR:-/tmp/dvs-bench}
MAKE_CORPUS=${DVS_BENCH_MAKE_CORPUS:-$REPO/bench/make_corpus.py}
DVS=$REPO/.build/release/dvs
N=10000
REPS=3
while [ $# -gt 0 ]; do
  case "$1" in
    --dvs) DVS=${2:?}; shift 2 ;;
    --n) N=${2:?}; shift 2 ;;
    --reps) REPS=${2:?}; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "merge.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ -x "$DVS" ] || (cd "$REPO" && swift build -c release >&2)
export DVS_AUTHOR_NAME=bench DVS_AUTHOR_EMAIL=bench@example.com
say() { echo "merge: $*" >&2; }
secs() { echo "$EPOCHREALTIME"; }   # bash 5: no process start inside the timed span

CORPUS=$BENCH_DIR/corpus-$N
if [ ! -f "$CORPUS/manifest.json" ]; then
  say "generating the $N-clip corpus in $CORPUS"
  "$MAKE_CORPUS" --out "$CORPUS" --n "$N" --mode fast >&2
fi
R=$BENCH_DIR/merge-$N
if [ ! -f "$R/.ready" ]; then
  say "making $R (hard links to the corpus) and its first commit"
  rm -rf "$R"; cp -al "$CORPUS" "$R"; rm -f "$R/labels.csv"; cp "$CORPUS/labels.csv" "$R/labels.csv"
  (cd "$R" && "$DVS" init >/dev/null && "$DVS" commit -m "import $N clips" >/dev/null)
  edit() {  # edit FIELD OFFSET: relabel 1 % of rows in FIELD, plus 20 shared rows
    python3 - "$R/labels.csv" "$1" "$2" <<'PY'
import csv, io, sys
path, field, offset = sys.argv[1], sys.argv[2], int(sys.argv[3])
rows = list(csv.reader(open(path, newline="")))
h = rows[0]; i = h.index(field); n = len(rows) - 1
step = 100
picked = set(range(1 + offset, n + 1, step)) | set(range(1, n + 1, n // 20)[:20])
for r in picked:
    rows[r][i] = "relabeled" if field == "label" else "0.1234"
out = io.StringIO(); csv.writer(out, lineterminator="\n").writerows(rows); open(path, "w").write(out.getvalue())
PY
  }
  (cd "$R" && "$DVS" branch a && "$DVS" branch b && "$DVS" checkout a >/dev/null && edit label 0 && "$DVS" commit -m "a: relabel 1 %" >/dev/null \
     && "$DVS" checkout b >/dev/null && edit score 50 && "$DVS" commit -m "b: rescore 1 %" >/dev/null && "$DVS" checkout a >/dev/null) >&2
  touch "$R/.ready"
fi
cd "$R"
A=$("$DVS" log -n 1 --json a | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')

# -- 1. merge -----------------------------------------------------------------------------
times=()
for i in $(seq "$REPS"); do
  "$DVS" checkout a --force >/dev/null 2>&1
  "$DVS" branch -D m >/dev/null 2>&1 || true
  "$DVS" branch m "$A" >/dev/null && "$DVS" checkout m >/dev/null
  t0=$(secs); "$DVS" merge b >"$BENCH_DIR/merge-out.txt"; t1=$(secs)
  times+=("$(python3 -c "print(f'{$t1 - $t0:.3f}')")")
done
merge_s=$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (REPS + 1) / 2 ))p")
conflicts=$(python3 -c 'import sys; t=open(sys.argv[1]).read(); print(t.count("CONFLICT"))' "$BENCH_DIR/merge-out.txt")
"$DVS" checkout a --force >/dev/null 2>&1; "$DVS" branch -D m >/dev/null 2>&1 || true

# Peer: git merge-file on the same three versions of labels.csv.
"$DVS" cat a~1:labels.csv >"$BENCH_DIR/base.csv"; "$DVS" cat a:labels.csv >"$BENCH_DIR/ours.csv"; "$DVS" cat b:labels.csv >"$BENCH_DIR/theirs.csv"
t0=$(secs); git merge-file -p "$BENCH_DIR/ours.csv" "$BENCH_DIR/base.csv" "$BENCH_DIR/theirs.csv" >"$BENCH_DIR/git-merged.csv" && git_conf=0 || git_conf=$?; t1=$(secs)
git_s=$(python3 -c "print(f'{$t1 - $t0:.3f}')")

# -- 2. cohort create ---------------------------------------------------------------------
ctimes=()
for i in $(seq "$REPS"); do
  "$DVS" branch -D "cohort/bench$i" >/dev/null 2>&1 || true
  t0=$(secs); "$DVS" cohort create "bench$i" --where "lang = 'de' AND sample_rate = 16000" --from a >"$BENCH_DIR/cohort-out.txt"; t1=$(secs)
  ctimes+=("$(python3 -c "print(f'{$t1 - $t0:.3f}')")")
  "$DVS" branch -D "cohort/bench$i" >/dev/null 2>&1
done
cohort_s=$(printf '%s\n' "${ctimes[@]}" | sort -n | sed -n "$(( (REPS + 1) / 2 ))p")
samples=$(sed -n 's/.*: \([0-9]*\) samples.*/\1/p' "$BENCH_DIR/cohort-out.txt" | head -n 1)

echo "corpus: $N clips; each branch relabels 1 % of rows, 20 rows edited on both sides in different fields"
printf '%-44s %10s %10s\n' "measure" "dvs" "target"
printf '%-44s %9ss %10s\n' "dvs merge (3-way, label rows and fields)" "$merge_s" "<= 1 s"
printf '%-44s %10s %10s\n' "  conflicts reported" "$conflicts" "0"
printf '%-44s %9ss %10s\n' "git merge-file labels.csv (line merge)" "$git_s" ""
printf '%-44s %10s %10s\n' "  conflicts reported by git" "$git_conf" ""
printf '%-44s %9ss %10s\n' "dvs cohort create ($samples samples)" "$cohort_s" "<= 1 s"
