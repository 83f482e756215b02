#!/bin/bash
# Usage: DVS_BENCH_TREE=DIR bench/fsmonitor.sh DVS [ROUNDS]
#
# Whole-tree `dvs status` and `dvs commit` with and without the file-system monitor
# (core.fsmonitor, issue 12), interleaved in one working tree: per round and mode, a no-op status,
# a commit of 1 changed file, and a commit of 1 changed file + 1 relabelled row of labels.csv.
# DIR is a committed working tree of bench/scale.sh's layout (spkNNNN/uNNNNNN.wav + labels.csv);
# it is changed (commits are added), so give it a copy. Prints one line per run:
#   op mode wall_s user_s sys_s peak_rss_kb how
# (how: what DVS_TRACE_FSMONITOR said: "monitor" or "walk"), then medians and min–max.
set -euo pipefail
BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "${DVS_BENCH_TREE:?set DVS_BENCH_TREE to a copy of a committed scale.sh working tree}"
bin=${1:?usage: bench/fsmonitor.sh DVS [ROUNDS]}
rounds=${2:-3}
# Everything the script writes goes outside the tree (a file in it would be a change of its own).
tmp=$(mktemp -d)
out=$tmp/runs
trap 'rm -rf "$tmp"' EXIT
export DVS_TRACE_FSMONITOR=1
"$bin" config core.fsmonitor true
"$bin" fsmonitor start >/dev/null 2>&1 || true
"$bin" status >/dev/null 2>&1   # records the first token (walks)
"$bin" status >/dev/null 2>&1
row=$(( $(wc -l < labels.csv) / 2 ))
timed() {  # op mode args…
  local op=$1 mode=$2
  shift 2
  /usr/bin/time -f "%e %U %S %M" -o "$tmp/time" "$bin" "$@" >/dev/null 2>"$tmp/err" || true
  local how=walk
  grep -q "looked at the paths" "$tmp/err" && how=monitor
  echo "$op $mode $(cat "$tmp/time") $how" | tee -a "$out"
}
for r in $(seq 1 "$rounds"); do
  for mode in off on; do
    [ "$mode" = on ] && "$bin" config core.fsmonitor true || "$bin" config core.fsmonitor false
    timed status-noop "$mode" status
    echo "f$r$mode" >> spk0002/u000002.wav
    sleep 0.1
    timed commit-1file "$mode" commit -m "1 file $r $mode"
    row=$((row+7))
    python3 "$BENCH/relabel_row.py" "$row"
    echo "z$r$mode" >> spk0001/u000001.wav
    sleep 0.1
    timed commit-relabel "$mode" commit -m "relabel $r $mode"
  done
done
"$bin" config core.fsmonitor false
echo
python3 - "$out" <<'PY'
import sys, statistics
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
print("| operation | fsmonitor | wall s median (min–max) | CPU s (user+sys) median | peak RSS MiB median | scans through the monitor |")
print("|---|---|---|---|---|---|")
for op in ["status-noop", "commit-1file", "commit-relabel"]:
    for mode in ["off", "on"]:
        rs = [r for r in rows if r[0] == op and r[1] == mode]
        if not rs: continue
        wall = [float(r[2]) for r in rs]
        cpu = [float(r[3]) + float(r[4]) for r in rs]
        rss = [int(r[5]) / 1024 for r in rs]
        mon = sum(1 for r in rs if r[6] == "monitor")
        print(f"| {op} | {mode} | {statistics.median(wall):.2f} ({min(wall):.2f}–{max(wall):.2f}) | {statistics.median(cpu):.2f} | {statistics.median(rss):.0f} | {mon}/{len(rs)} |")
PY
