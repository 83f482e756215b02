#!/usr/bin/env bash
# bench/query_index.sh -- dvs query over the sample index (issue 12): cold, warm, and the first
# query on a commit one file away from an indexed one, with wall and CPU time (user+sys), which a
# busy machine disturbs less than wall time.
#
#   bench/query_index.sh --setup DVS SCALE_DIR REPO   # REPO: a copy of SCALE_DIR/base (made if
#                                                     # missing) with commits import, c1, c2
#   bench/query_index.sh TOOL DVS REPO REP             # one repetition; TSV on stdout
#
# SCALE_DIR is a bench/scale.sh data directory ($DVS_BENCH_DIR/scale-N: base/, changes/).
# A repetition deletes .dvs/cache/samples.sqlite, then times: the first query at HEAD~1 (the
# index built from nothing), 3 warm GROUP BY lang, 3 warm GROUP BY lang with total(duration_s),
# 3 warm `SELECT 1` (everything but the SQL), the first query at HEAD (c2: one WAV changed), 3
# warm at HEAD, and prints the index's leaf count before and after HEAD (one more = only the
# changed leaf was indexed). Columns: tool, rep, op, wall s, CPU s, peak RSS KiB.
set -euo pipefail
export LC_ALL=C DVS_AUTHOR_NAME=bench DVS_AUTHOR_EMAIL=bench@example.com
if [ "${1:-}" = --setup ]; then
  BIN=$2 S=$3 D=$4
  [ -d "$D" ] || cp -a "$S/base" "$D"
  "$BIN" init "$D" >/dev/null
  cd "$D"
  /usr/bin/time -f "import %e s %M KiB" "$BIN" commit -m import >/dev/null
  cp --remove-destination "$S/changes/c1.wav" "$D/$(cat "$S/changes/c1.wav.path")"
  cp --remove-destination "$S/changes/c1.csv" "$D/labels.csv"
  /usr/bin/time -f "c1 %e s" "$BIN" commit -m c1 >/dev/null
  cp --remove-destination "$S/changes/c2.wav" "$D/$(cat "$S/changes/c2.wav.path")"
  /usr/bin/time -f "c2 %e s" "$BIN" commit -m c2 >/dev/null
  exit 0
fi
TOOL=${1:?tool} BIN=${2:?dvs binary} D=${3:?repository} REP=${4:?repetition}
cd "$D"
Q="SELECT lang, count(*) FROM sample GROUP BY lang ORDER BY lang"
QS="SELECT lang, count(*), total(duration_s) FROM sample GROUP BY lang ORDER BY lang"
OUT=$(mktemp) TIMES=$(mktemp)
trap 'rm -f "$OUT" "$TIMES"' EXIT
t() {
  local op=$1 a b u s m; shift; sync
  a=$EPOCHREALTIME
  /usr/bin/time -o "$TIMES" -f "%U %S %M" "$@" >"$OUT" 2>&1 || { echo "FAIL $op" >&2; cat "$OUT" >&2; }
  b=$EPOCHREALTIME
  read -r u s m <"$TIMES"
  printf "%s\t%s\t%s\t%.3f\t%.2f\t%d\n" "$TOOL" "$REP" "$op" "$(echo "$b - $a" | bc)" "$(echo "$u + $s" | bc)" "$m"
}
leaves() { sqlite3 .dvs/cache/samples.sqlite "SELECT count(*) FROM leaf"; }
rm -f .dvs/cache/samples.sqlite .dvs/cache/samples.sqlite-wal .dvs/cache/samples.sqlite-shm
t cold "$BIN" query --rev HEAD~1 "$Q"
before=$(leaves)
for _ in 1 2 3; do t warm "$BIN" query --rev HEAD~1 "$Q"; done
for _ in 1 2 3; do t warm-sum "$BIN" query --rev HEAD~1 "$QS"; done
for _ in 1 2 3; do t warm-select1 "$BIN" query --rev HEAD~1 "SELECT 1"; done
t first-after-commit "$BIN" query --rev HEAD "$Q"
after=$(leaves)
for _ in 1 2 3; do t warm-head "$BIN" query --rev HEAD "$Q"; done
printf "%s\t%s\tleaves\t%s -> %s\n" "$TOOL" "$REP" "$before" "$after"
