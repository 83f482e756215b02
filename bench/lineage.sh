#!/usr/bin/env bash
# bench/lineage.sh -- lineage at scale (issue 5). A benchmark, not a test: it reports figures
# and targets, it never fails on a miss.
#
#   bench/lineage.sh [--dvs PATH] [--helper PATH] [--n 10000] [--rows 100000] [--models 20] [--reps 3]
#                    [--skip-read|--skip-audit]
#
# 1. Reading + decoding the make_corpus.py corpus (N clips) through the snapshot reader (straight
#    from packs, hashes verified) vs reading + decoding the same WAV files from disk with
#    libsndfile, on the same threads, in one run (Sources/dvs-read-bench); ratio printed
#    (target >= 1.0x), twice: page cache warm for both, and cold (the WAVs and the packs evicted
#    with posix_fadvise before each run, so both really read from disk); best of --reps.
# 2. `dvs audit --samples "speaker = 'spk0042'"` on a 100,000-sample repository (tiny unique WAVs)
#    with 20 models registered on 20 successive snapshots (each a 1 % relabel of the last)
#    (target <= 1 s, median of --reps, with the per-leaf audit cache that model registration fills;
#    the first audit without that cache, as after a clone, is reported too).
# Data lives under ${DVS_BENCH_DIR:-/tmp/dvs-bench}; corpora are cached there, repositories
# under $DVS_BENCH_DIR/lineage-*.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR=${DVS_BENCH_DIR:-/tmp/dvs-bench}
MAKE_CORPUS=${DVS_BENCH_MAKE_CORPUS:-$REPO/bench/make_corpus.py}
DVS=$REPO/.build/release/dvs
HELPER=$REPO/.build/release/dvs-read-bench
N=10000
ROWS=100000
MODELS=20
REPS=3
READ=1
AUDIT=1
while [ $# -gt 0 ]; do
  case "$1" in
    --dvs) DVS=${2:?}; shift 2 ;;
    --helper) HELPER=${2:?}; shift 2 ;;
    --n) N=${2:?}; shift 2 ;;
    --rows) ROWS=${2:?}; shift 2 ;;
    --models) MODELS=${2:?}; shift 2 ;;
    --reps) REPS=${2:?}; shift 2 ;;
    --skip-read) READ=0; shift ;;
    --skip-audit) AUDIT=0; shift ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "lineage.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ -x "$DVS" ] && [ -x "$HELPER" ] || (cd "$REPO" && swift build -c release >&2)
export DVS_AUTHOR_NAME=bench DVS_AUTHOR_EMAIL=bench@example.com
mkdir -p "$BENCH_DIR"
say() { echo "lineage: $*" >&2; }

# -- 1. snapshot reader vs libsndfile from disk ------------------------------------------------
if [ "$READ" = 1 ]; then
  CORPUS=$BENCH_DIR/corpus-$N
  if [ ! -f "$CORPUS/manifest.json" ]; then
    say "generating the $N-clip corpus in $CORPUS (make_corpus.py --mode fast)"
    "$MAKE_CORPUS" --out "$CORPUS" --n "$N" --mode fast >&2
  fi
  DATA=$BENCH_DIR/lineage-corpus-$N
  if [ ! -f "$DATA/.dvs/.bench-ready" ]; then
    say "committing the corpus into $DATA (hard links to $CORPUS; dvs only reads them)"
    rm -rf "$DATA"; cp -al "$CORPUS" "$DATA"
    (cd "$DATA" && "$DVS" init >/dev/null && "$DVS" commit -m "corpus $N" >/dev/null)
    touch "$DATA/.dvs/.bench-ready"
  fi
  say "reading and decoding $N clips both ways (best of $REPS)"
  out=$("$HELPER" "$DATA" main "$DATA" --reps "$REPS")
  echo "read: $out"
  python3 - "$out" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
print(f"read: snapshot reader {r['reader_seconds']:.2f} s ({r['reader_samples_per_s']:.0f} samples/s), "
      f"libsndfile from disk {r['disk_seconds']:.2f} s ({r['disk_samples_per_s']:.0f} samples/s), "
      f"ratio {r['ratio_reader_over_disk']:.2f}x (target >= 1.0x), {r['samples']} samples, {r['audio_hours']} h, "
      f"{r['workers']} threads, frames equal: {r['frames_equal']}; of the reader's time, packs -> verified bytes alone: {r['reader_bytes_only_seconds']:.2f} s")
print(f"read (cold page cache: WAVs and packs evicted before each run): snapshot reader {r['cold_reader_seconds']:.2f} s, "
      f"libsndfile from disk {r['cold_disk_seconds']:.2f} s, ratio {r['cold_ratio_reader_over_disk']:.2f}x (target >= 1.0x)")
PY
fi

# -- 2. audit --samples on 100k samples with 20 models -----------------------------------------
if [ "$AUDIT" = 1 ]; then
  BIG=$BENCH_DIR/lineage-audit-$ROWS-$MODELS
  if [ ! -f "$BIG/.dvs/.bench-ready" ]; then
    say "generating $ROWS tiny WAVs in $BIG, then $MODELS snapshots (1 % relabel each) with a model on each"
    rm -rf "$BIG"; mkdir -p "$BIG"
    python3 "$REPO/bench/tiny_wavs.py" "$BIG" "$ROWS" metadata.csv file_name
    (cd "$BIG" && "$DVS" init >/dev/null && "$DVS" commit -m "import $ROWS samples" >/dev/null)
    for k in $(seq 1 "$MODELS"); do
      if [ "$k" -gt 1 ]; then
        python3 - "$BIG/metadata.csv" "$ROWS" "$k" <<'PY'
import random, sys
path, n, k = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
lines = open(path).read().split("\n")
r = random.Random(k)
for i in r.sample(range(1, n + 1), n // 100):
    f = lines[i].split(","); f[3] = "relabeled%d" % k; lines[i] = ",".join(f)
open(path, "w").write("\n".join(lines))
PY
        "$DVS" commit -C "$BIG" -m "relabel pass $k" >/dev/null
      fi
      head -c 4096 /dev/urandom > "$BENCH_DIR/lineage-model-$k.bin"
      "$DVS" model add -C "$BIG" "$BENCH_DIR/lineage-model-$k.bin" --rev "$("$DVS" log -C "$BIG" -n 1 --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print((d[0] if isinstance(d,list) else d)["id"])')" \
        --name "model-$k" --label label >/dev/null
    done
    touch "$BIG/.dvs/.bench-ready"
  fi
  pred="speaker = 'spk0042'"
  # Cold: without the audit cache (as after a clone; model registration fills it otherwise).
  rm -f "$BIG/.dvs/cache/audit.sqlite"
  t0=$(date +%s.%N)
  "$DVS" audit -C "$BIG" --samples "$pred" >/dev/null
  cold=$(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.3f}')" "$t0" "$(date +%s.%N)")
  t=$(python3 - "$REPS" "$DVS" "$BIG" "$pred" <<'PY'
import subprocess, sys, time
reps, dvs, big, pred = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ts = []
for _ in range(reps):
    t = time.perf_counter(); subprocess.run([dvs, "audit", "-C", big, "--samples", pred], check=True, stdout=subprocess.DEVNULL); ts.append(time.perf_counter() - t)
print(f"{sorted(ts)[len(ts)//2]:.3f}")
PY
)
  hits=$("$DVS" audit -C "$BIG" --samples "$pred" | wc -l)
  first=$("$DVS" audit -C "$BIG" --samples "$pred" | sed -n 1p)
  echo "audit: dvs audit --samples \"$pred\" on $ROWS samples, $MODELS models: $t s median of $REPS with the audit cache (target <= 1 s); $cold s the first time without it (it builds the cache; registration normally does); $hits models listed, e.g. $first"
fi
