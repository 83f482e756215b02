#!/bin/bash
# Usage: DVS_BENCH_TREE=DIR bench/add-ab.sh DVS_BEFORE DVS_AFTER
# Interleaved A/B at 1M: add one new unlabelled recording and commit (whole tree).
cd "${DVS_BENCH_TREE:?set DVS_BENCH_TREE to a working tree of the base of bench/scale.sh, committed once}"
r=0
for round in 1 2 3; do
  for bin in "$@"; do
    r=$((r+1))
    cp spk0003/u000003.wav spk0004/new$r.wav
    /usr/bin/time -f "add-commit $(basename $bin) %e s %U u %S s %M KB" $bin commit -m "add $r" 2>&1 >/dev/null | tail -1
  done
done
