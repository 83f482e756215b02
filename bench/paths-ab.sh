#!/bin/bash
# Usage: DVS_BENCH_TREE=DIR bench/paths-ab.sh DVS
# 1M: relabel of one row + one audio change, committed with paths (binary $1) and whole (same binary).
BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "${DVS_BENCH_TREE:?set DVS_BENCH_TREE to a working tree of the base of bench/scale.sh, committed once}"
bin=$1
row=600000
for r in 1 2 3; do
  for mode in paths whole; do
    row=$((row+7))
    python3 "$BENCH/relabel_row.py" "$row"
    echo "z$r$mode" >> spk0001/u000001.wav
    if [ $mode = paths ]; then args="spk0001/u000001.wav labels.csv"; else args=""; fi
    /usr/bin/time -f "relabel-$mode %e s %U u %S s %M KB" $bin commit -m "r$r" $args 2>&1 >/dev/null | tail -1
    echo "p$r$mode" >> spk0002/u000002.wav
    if [ $mode = paths ]; then args="spk0002/u000002.wav"; else args=""; fi
    /usr/bin/time -f "audio-$mode %e s %U u %S s %M KB" $bin commit -m "a$r" $args 2>&1 >/dev/null | tail -1
  done
done
