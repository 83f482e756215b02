#!/usr/bin/env bash
# bench/scale.sh -- how each single-change operation grows with the number of samples (issue 12).
# A benchmark, not a test: it reports figures, it never fails on a slow operation.
#
#   bench/scale.sh [--reps 3] [--dvs PATH] [--baseline PATH] [--no-git] [--keep] [--prepare|--report] N [N2 ...]
#
# For each N: N tiny real-format WAVs (bench/tiny_wavs.py: 50 ms, 16 kHz mono PCM16, under
# spkNNNN/) and an N-row labels.csv (path,speaker,lang,label). Two copies of that tree, one for
# dvs and one for plain git, go through the same sequence in the same run, R times:
#   initial commit; commit of 1 changed WAV + 1 relabelled row; no-op status; diff of that commit;
#   query GROUP BY lang (sqlite3 importing labels.csv beside it); model add; checkout of a branch
#   at the same commit; commit of 1 changed WAV (audio only); checkout of a branch 1 file away;
#   start-up (--version).
# Prints per N a table of medians (min–max) of wall time and peak RSS, and, for two or more
# sizes, the growth ratio of every median between consecutive sizes.
# Data lives under ${DVS_BENCH_DIR:-/tmp/dvs-bench}/scale-N (never in the repository), generated
# once and reused (--prepare only generates; --keep keeps the two working trees too; --report
# prints the tables again from the samples of earlier runs, scale-N/samples.tsv); the dvs
# binary is $DVS (default <repo>/.build/release/dvs, built with swift build -c release if missing).
# --baseline PATH runs a second dvs binary (an older build) on its own copy of the tree in the same
# repetitions, interleaved (baseline, dvs, git), and adds its column and the dvs ÷ baseline ratio.
set -euo pipefail
export LC_ALL=C
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR=${DVS_BENCH_DIR:-/tmp/dvs-bench}
DVS=${DVS:-$REPO/.build/release/dvs}
REPS=3
BASELINE=
GIT=1
KEEP=0
PREPARE=0
REPORT=0
SIZES=()
while [ $# -gt 0 ]; do
  case "$1" in
    --reps) REPS=${2:?}; shift 2 ;;
    --dvs) DVS=${2:?}; shift 2 ;;
    --baseline) BASELINE=${2:?}; shift 2 ;;
    --no-git) GIT=0; shift ;;
    --keep) KEEP=1; shift ;;
    --prepare) PREPARE=1; shift ;;
    --report) REPORT=1; shift ;;
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "scale.sh: unknown option $1" >&2; exit 2 ;;
    *) [[ $1 =~ ^[1-9][0-9]*$ ]] || { echo "scale.sh: N must be a positive integer, not '$1'" >&2; exit 2; }
       SIZES+=("$1"); shift ;;
  esac
done
[ ${#SIZES[@]} -gt 0 ] || { sed -n '4p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
[[ $REPS =~ ^[1-9][0-9]*$ ]] || { echo "scale.sh: --reps must be a positive integer" >&2; exit 2; }
[ -x /usr/bin/time ] || "$REPO/scripts/install-deps.sh" >&2
[ -x /usr/bin/time ] || { echo "scale.sh: /usr/bin/time (Debian package time) is missing" >&2; exit 2; }
command -v sqlite3 >/dev/null || { echo "scale.sh: sqlite3 is missing" >&2; exit 2; }
[ -x "$DVS" ] || [ "$PREPARE" = 1 ] || (cd "$REPO" && swift build -c release >&2)
[ -x "$DVS" ] && DVS=$(cd "$(dirname "$DVS")" && pwd)/$(basename "$DVS")
export DVS_AUTHOR_NAME=bench DVS_AUTHOR_EMAIL=bench@example.com
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
# No automatic gc: at 50k loose objects `git commit` would start `git gc --auto` in the background,
# which competes with the next timed steps (and with the reset of the tree).
export GIT_CONFIG_COUNT=2 GIT_CONFIG_KEY_0=gc.auto GIT_CONFIG_VALUE_0=0 GIT_CONFIG_KEY_1=maintenance.auto GIT_CONFIG_VALUE_1=false
mkdir -p "$BENCH_DIR"
BENCH_DIR=$(cd "$BENCH_DIR" && pwd)
say() { echo "scale: $*" >&2; }

# The query both sides answer: samples per language.
DVS_QUERY="SELECT lang, count(*) FROM sample GROUP BY lang ORDER BY lang"
SQLITE_QUERY="SELECT lang, count(*) FROM t GROUP BY lang ORDER BY lang"

# timed OP TOOL DIR CMD...: run CMD in DIR under /usr/bin/time; append one sample
# (N, rep, op, tool, seconds, peak RSS KiB) to $SAMPLES. Wall time is $EPOCHREALTIME around the
# time(1) process (µs resolution, time(1)'s own start-up of ≈1 ms included); RSS is its %M, the
# largest single process's maximum resident set. A failed command records no sample and is logged.
timed() {
  local op=$1 tool=$2 dir=$3; shift 3
  local log=$LOGS/$tool-r$REP-$op.log t0 t1 rc=0
  sync
  cd "$dir"
  t0=$EPOCHREALTIME
  /usr/bin/time -o "$S/.time" -f '%e %M' "$@" >"$log" 2>&1 || rc=$?
  t1=$EPOCHREALTIME
  cd "$BENCH_DIR"
  if [ "$rc" != 0 ]; then
    say "FAILED ($rc): $tool $op at N=$N rep $REP: $* (log: $log)"; tail -3 "$log" >&2
    return 0
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$N" "$REP" "$op" "$tool" \
    "$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.6f", b - a}')" "$(awk '{print $2}' "$S/.time")" >>"$SAMPLES"
}

# startup TOOL CMD...: start-up cost, the mean wall time of 20 back-to-back runs of CMD (no time(1)
# in between), and the peak RSS of one more run under time(1).
startup() {
  local tool=$1; shift
  local t0 t1 i
  "$@" >/dev/null
  t0=$EPOCHREALTIME
  for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do "$@" >/dev/null; done
  t1=$EPOCHREALTIME
  /usr/bin/time -o "$S/.time" -f '%e %M' "$@" >/dev/null
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$N" "$REP" startup "$tool" \
    "$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.6f", (b - a) / 20}')" "$(awk '{print $2}' "$S/.time")" >>"$SAMPLES"
}

# The changed files, made once per N so dvs and git see the same bytes: c1.wav replaces the WAV of
# row N/2 and c1.csv relabels row N/3 (commit 1); c2.wav replaces the WAV of row 2N/3 (commit 2,
# audio only). Same sizes, new noise.
make_changes() {
  python3 - "$BASE" "$S/changes" "$N" <<'PY'
import csv, os, random, sys
base, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
os.makedirs(out, exist_ok=True)
rows = list(csv.reader(open(f"{base}/labels.csv", newline="")))
r = random.Random(12)
def rewrite(row, name):
    path = rows[row][0]
    old = open(f"{base}/{path}", "rb").read()
    open(f"{out}/{name}", "wb").write(old[:44] + r.randbytes(len(old) - 44))
    open(f"{out}/{name}.path", "w").write(path)
rewrite(max(1, n // 2), "c1.wav")
rewrite(max(1, 2 * n // 3), "c2.wav")
k = max(1, n // 3); i = rows[0].index("label")
rows[k][i] = "relabeled" if rows[k][i] != "relabeled" else "relabeled2"
with open(f"{out}/c1.csv", "w", newline="") as f:
    csv.writer(f, lineterminator="\n").writerows(rows)
PY
}
put() { cp --remove-destination "$S/changes/$1" "$2/$(cat "$S/changes/$1.path")"; }   # new inode + mtime

# reset DIR: the tree as generated (metadata dirs gone, the changed files back from BASE).
reset_tree() {
  local d=$1 f
  rm -rf "$d/.dvs" "$d/.git"
  for f in c1.wav c2.wav; do cp -a --remove-destination "$BASE/$(cat "$S/changes/$f.path")" "$d/$(cat "$S/changes/$f.path")"; done
  cp -a --remove-destination "$BASE/labels.csv" "$d/labels.csv"
  rm -f "$d/model-"*.bin
}

run_dvs() { run_dvs_binary dvs "$DVS"; }
run_baseline() { run_dvs_binary baseline "$BASELINE"; }

# run_dvs_binary TOOL BINARY: the dvs sequence with BINARY on the copy $S/TOOL, samples as TOOL
# (TOOL is never "base": $S/base is the generated tree every copy is made from).
run_dvs_binary() {
  local tool=$1 DVS=$2
  local d=$S/$tool
  reset_tree "$d"
  "$DVS" init "$d" >/dev/null
  timed initial "$tool" "$d" "$DVS" commit -m "import $N samples"
  put c1.wav "$d"; cp --remove-destination "$S/changes/c1.csv" "$d/labels.csv"
  timed commit1 "$tool" "$d" "$DVS" commit -m "1 file + 1 relabelled row"
  "$DVS" status -C "$d" >/dev/null
  timed status "$tool" "$d" "$DVS" status
  timed diff "$tool" "$d" "$DVS" diff HEAD~1 HEAD
  timed query "$tool" "$d" "$DVS" query "$DVS_QUERY"
  head -c 4096 /dev/urandom >"$S/model-$REP.bin"
  timed model "$tool" "$d" "$DVS" model add "$S/model-$REP.bin" --rev HEAD --name "model-$REP" --label lang
  "$DVS" branch -C "$d" side >/dev/null
  timed checkout-same "$tool" "$d" "$DVS" checkout side
  put c2.wav "$d"
  timed commit-audio "$tool" "$d" "$DVS" commit -m "1 file, audio only"
  timed checkout-1 "$tool" "$d" "$DVS" checkout main
  startup "$tool" "$DVS" --version
}

run_git() {
  local d=$S/git
  reset_tree "$d"
  git -C "$d" init -q -b main
  timed initial git "$d" bash -c 'git add -A && git commit -q -m import'
  put c1.wav "$d"; cp --remove-destination "$S/changes/c1.csv" "$d/labels.csv"
  timed commit1 git "$d" bash -c 'git add -A && git commit -q -m change'
  git -C "$d" status >/dev/null
  timed status git "$d" git status
  timed diff git "$d" git diff HEAD~1
  timed query git "$d" sqlite3 :memory: -cmd '.mode csv' -cmd '.import labels.csv t' "$SQLITE_QUERY"
  git -C "$d" branch side
  timed checkout-same git "$d" git checkout -q side
  put c2.wav "$d"
  timed commit-audio git "$d" bash -c 'git add -A && git commit -q -m audio'
  timed checkout-1 git "$d" git checkout -q main
  startup git git --version
}

for N in "${SIZES[@]}"; do
  [ "$REPORT" = 1 ] && break
  S=$BENCH_DIR/scale-$N
  BASE=$S/base
  LOGS=$S/logs
  SAMPLES=$S/samples.tsv
  mkdir -p "$S" "$LOGS"
  : >"$SAMPLES"
  if [ ! -f "$S/.ready" ]; then
    say "generating $N tiny WAVs and an $N-row labels.csv in $BASE"
    rm -rf "$BASE" "$S/dvs" "$S/git" "$S/changes"
    mkdir -p "$BASE"
    python3 "$REPO/bench/tiny_wavs.py" "$BASE" "$N" labels.csv path
    make_changes
    touch "$S/.ready"
  fi
  tools=(); [ -n "$BASELINE" ] && tools+=(baseline); tools+=(dvs); [ "$GIT" = 1 ] && tools+=(git)
  for t in "${tools[@]}"; do [ -d "$S/$t" ] || { say "copying the tree for $t"; cp -a "$BASE" "$S/$t"; }; done
  [ "$PREPARE" = 1 ] && continue
  for REP in $(seq 1 "$REPS"); do
    for t in "${tools[@]}"; do
      say "N=$N rep $REP/$REPS: $t"
      "run_$t"
    done
  done
  if [ "$KEEP" = 0 ]; then rm -rf "$S/dvs" "$S/git" "$S/baseline"; fi
done
[ "$PREPARE" = 1 ] && exit 0
ALL=$BENCH_DIR/scale-samples.tsv
: >"$ALL"
for N in "${SIZES[@]}"; do cat "$BENCH_DIR/scale-$N/samples.tsv" >>"$ALL" || exit 2; done

python3 - "$ALL" "$DVS" "$BASELINE" <<'PY'
import collections, statistics, sys
path, dvs, baseline = sys.argv[1], sys.argv[2], sys.argv[3]
ops = [("initial", "initial commit", "git add -A && git commit"),
       ("commit1", "commit 1 changed file + 1 relabelled row", "git add -A && git commit"),
       ("status", "no-op status", "git status"),
       ("diff", "diff of that 1-row commit", "git diff HEAD~1"),
       ("query", "query GROUP BY lang", "sqlite3: .import labels.csv + GROUP BY"),
       ("model", "model add", ""),
       ("checkout-same", "checkout of a branch at the same commit", "git checkout"),
       ("commit-audio", "commit 1 changed file (audio only)", "git add -A && git commit"),
       ("checkout-1", "checkout of a branch 1 file away", "git checkout"),
       ("startup", "start-up (--version, mean of 20)", "git --version")]
s = collections.defaultdict(list)
sizes = []
reps_seen = set()
for line in open(path):
    n, rep, op, tool, secs, rss = line.rstrip("\n").split("\t")
    n = int(n)
    if n not in sizes: sizes.append(n)
    s[(n, op, tool)].append((float(secs), int(rss)))
    reps_seen.add((n, rep))
def t(x):
    return f"{x * 1000:.1f} ms" if x < 0.01 else f"{x * 1000:.0f} ms" if x < 1 else f"{x:.2f} s"
def cell(n, op, tool):
    v = s.get((n, op, tool))
    if not v: return "—", "—", None
    secs = [a for a, _ in v]; rss = [b for _, b in v]
    m = statistics.median(secs)
    rng = f" ({t(min(secs))}–{t(max(secs))})" if len(secs) > 1 else ""
    return t(m) + rng, f"{statistics.median(rss) / 1024:,.0f} MiB", m
print(f"dvs: {dvs}; medians of the repetitions (min–max); peak RSS: median of the runs' maximum RSS.")
if baseline: print(f"baseline: {baseline}, run in the same repetitions before dvs on its own copy of the tree.")
print("git column: `git add -A && git commit`, `git status`, `git diff HEAD~1`, `git checkout`, `git --version`;"
      " the query's is `sqlite3 :memory:` importing labels.csv, then the same GROUP BY.")
med = {}
for n in sizes:
    r = len({rep for (m, rep) in reps_seen if m == n})
    print(f"\n### N = {n:,} ({r} repetition{'s' if r > 1 else ''})\n")
    b = " baseline | baseline peak RSS |" if baseline else ""
    print(f"| operation |{b} dvs | dvs peak RSS | git / sqlite3 | its peak RSS | dvs ÷ git |" + (" dvs ÷ baseline |" if baseline else ""))
    print("|---|---|---|---|---|---|" + ("---|---|---|" if baseline else ""))
    for op, name, peer in ops:
        dt, dr, dm = cell(n, op, "dvs"); gt, gr, gm = cell(n, op, "git")
        med[(n, op, "dvs")], med[(n, op, "git")] = dm, gm
        ratio = f"{dm / gm:.1f}×" if dm and gm else "—"
        if baseline:
            bt, br, bm = cell(n, op, "baseline")
            med[(n, op, "baseline")] = bm
            vs = f"{dm / bm:.2f}×" if dm and bm else "—"
            print(f"| {name} | {bt} | {br} | {dt} | {dr} | {gt} | {gr} | {ratio} | {vs} |")
        else:
            print(f"| {name} | {dt} | {dr} | {gt} | {gr} | {ratio} |")
for a, b in zip(sizes, sizes[1:]):
    print(f"\n### growth {b:,} ÷ {a:,} (×{b / a:g} samples)\n")
    print("| operation |" + (" baseline |" if baseline else "") + " dvs | git / sqlite3 |")
    print("|---|---|---|" + ("---|" if baseline else ""))
    for op, name, _ in ops:
        g = lambda tool: f"{med[(b, op, tool)] / med[(a, op, tool)]:.1f}×" if med.get((a, op, tool)) and med.get((b, op, tool)) else "—"
        print(f"| {name} |" + (f" {g('baseline')} |" if baseline else "") + f" {g('dvs')} | {g('git')} |")
PY
