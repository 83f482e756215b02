#!/usr/bin/env bash
# bench/targets.sh -- issue 12's single-change operations on a working tree that is already
# committed (no initial commit per repetition: at 1M samples that alone takes minutes).
# A benchmark, not a test: it reports figures, it never fails on a slow operation.
#
#   bench/targets.sh [--reps 3] [--setup 'CMD'] TREE DVS [DVS2 ...]
#
# TREE: a dvs working tree of bench/scale.sh's layout (spkNNNN/uNNNNNN.wav, labels.csv with
# path,speaker,lang,label), committed, clean. Each repetition runs, for each binary in turn
# (interleaved, on the same tree): no-op status; commit of 1 changed WAV + 1 relabelled row (whole
# tree); diff of that commit; the same change committed by path (`dvs commit -m M WAV labels.csv`);
# commit of 1 changed WAV (whole tree); model add; first query after that commit and a warm one;
# checkout of a branch at the same commit; checkout of a branch 1 file away and back; start-up
# (`--version`, mean of 20). --setup 'CMD' runs CMD (with $DVS set to the binary) in TREE before
# each binary's turn, untimed (e.g. to turn a setting on or off). Prints a table per binary of
# medians (min–max) of wall time, median CPU time (user + system) and the largest peak RSS; the
# samples go to TREE/../targets-samples.tsv. The tree keeps the commits it makes.
set -euo pipefail
export LC_ALL=C
BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPS=3
SETUP=
while [ $# -gt 0 ]; do
  case "$1" in
    --reps) REPS=${2:?}; shift 2 ;;
    --setup) SETUP=${2:?}; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "targets.sh: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
[ $# -ge 2 ] || { sed -n '5p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
TREE=$(cd "$1" && pwd); shift
BINS=()
for b in "$@"; do BINS+=("$(cd "$(dirname "$b")" && pwd)/$(basename "$b")"); done
[ -d "$TREE/.dvs" ] && [ -f "$TREE/labels.csv" ] || { echo "targets.sh: $TREE is not a committed tree of scale.sh's layout" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "targets.sh: /usr/bin/time (Debian package time) is missing" >&2; exit 2; }
export DVS_AUTHOR_NAME=bench DVS_AUTHOR_EMAIL=bench@example.com
SAMPLES=$(dirname "$TREE")/targets-samples.tsv
: > "$SAMPLES"
N=$(($(wc -l < "$TREE/labels.csv") - 1))
cd "$TREE"

# timed BIN OP CMD...: one sample (bin, op, wall s, cpu s, peak KiB) of CMD run in TREE.
timed() {
  local bin=$1 op=$2; shift 2
  local out rc=0 t0 t1
  sync
  t0=$EPOCHREALTIME
  out=$(/usr/bin/time -f '%U %S %M' "$@" 2>&1 >/dev/null | tail -1) || rc=$?
  t1=$EPOCHREALTIME
  if [ $rc -ne 0 ]; then echo "targets: $op failed with $(basename "$bin") (exit $rc): $out" >&2; return 0; fi
  read -r u s m <<<"$out"
  echo -e "$(basename "$bin")\t$op\t$(echo "$t1 - $t0" | bc -l)\t$(echo "$u + $s" | bc -l)\t$m" >> "$SAMPLES"
}

# relabel ROW: flips the label of data row ROW of labels.csv (a new file: new inode and mtime).
relabel() { python3 "$BENCH/relabel_row.py" "$1"; }

row=$((N / 3))
for rep in $(seq 1 "$REPS"); do
  for bin in "${BINS[@]}"; do
    [ -z "$SETUP" ] || DVS=$bin bash -c "$SETUP" >/dev/null 2>&1 || true
    "$bin" status >/dev/null
    timed "$bin" status "$bin" status
    row=$((row + 7)); relabel $row; echo "a$rep" >> spk0001/u000001.wav
    timed "$bin" commit-relabel "$bin" commit -m "relabel $rep"
    timed "$bin" diff "$bin" diff HEAD~1 HEAD
    row=$((row + 7)); relabel $row; echo "b$rep" >> spk0001/u000001.wav
    timed "$bin" commit-relabel-paths "$bin" commit -m "relabel by path $rep" spk0001/u000001.wav labels.csv
    echo "c$rep" >> spk0002/u000002.wav
    timed "$bin" commit-audio "$bin" commit -m "audio $rep"
    head -c 4096 /dev/urandom > ../targets-model.bin
    # From the tree's parent (-C): model add records the code commit of the git repository around
    # the current directory, and the tree may be one of a million files (git's figures of
    # bench/scale.sh); libgit2's status of it (≈4 s) is not the cost of the model record.
    (cd .. && timed "$bin" model-add "$bin" model add -C "$TREE" targets-model.bin --rev HEAD --name "targets-$rep-$(basename "$bin")" --label lang)
    timed "$bin" query-first "$bin" query "SELECT lang, count(*) FROM sample GROUP BY lang"
    timed "$bin" query-warm "$bin" query "SELECT lang, count(*) FROM sample GROUP BY lang"
    "$bin" branch targets-side >/dev/null
    timed "$bin" checkout-same "$bin" checkout targets-side
    echo "d$rep" >> spk0003/u000003.wav
    "$bin" commit -q -m "side $rep" >/dev/null 2>&1 || "$bin" commit -m "side $rep" >/dev/null
    timed "$bin" checkout-1-file "$bin" checkout main
    "$bin" branch -d targets-side >/dev/null 2>&1 || "$bin" branch -D targets-side >/dev/null 2>&1 || true
    t0=$EPOCHREALTIME
    for _ in $(seq 20); do "$bin" --version >/dev/null; done
    t1=$EPOCHREALTIME
    echo -e "$(basename "$bin")\tversion\t$(echo "($t1 - $t0) / 20" | bc -l)\t0\t0" >> "$SAMPLES"
  done
done

python3 - "$SAMPLES" "$N" <<'PY'
import sys, statistics
rows = [l.rstrip('\n').split('\t') for l in open(sys.argv[1]) if l.strip()]
ops = [("status", "no-op status"), ("commit-relabel", "commit 1 file + 1 relabelled row, whole tree"),
       ("diff", "diff of that commit"), ("commit-relabel-paths", "the same change, `commit -m M WAV labels.csv`"),
       ("commit-audio", "commit 1 file (audio only), whole tree"), ("model-add", "model add"),
       ("query-first", "query GROUP BY lang, first after a commit"), ("query-warm", "query GROUP BY lang, warm"),
       ("checkout-same", "checkout of a branch at the same commit"), ("checkout-1-file", "checkout of a branch 1 file away"),
       ("version", "`--version` (mean of 20)")]
def t(s): return f"{s*1000:.0f} ms" if s < 1 else f"{s:.2f} s"
for b in dict.fromkeys(r[0] for r in rows):
    print(f"\n{b}, N = {int(sys.argv[2]):,}\n")
    print("| operation | wall median (min–max) | CPU median | peak RSS |")
    print("|---|---|---|---|")
    for op, name in ops:
        s = [r for r in rows if r[0] == b and r[1] == op]
        if not s: print(f"| {name} | — | — | — |"); continue
        w = [float(r[2]) for r in s]; c = [float(r[3]) for r in s]; m = max(int(r[4]) for r in s)
        rss = f"{m/1024:.0f} MiB" if m else "—"
        cpu = t(statistics.median(c)) if op != "version" else "—"
        print(f"| {name} | {t(statistics.median(w))} ({t(min(w))}–{t(max(w))}) | {cpu} | {rss} |")
PY
