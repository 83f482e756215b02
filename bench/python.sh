#!/usr/bin/env bash
# bench/python.sh -- the Python package (`import dvs`) against soundfile and Hugging Face
# `datasets` on the make_corpus.py corpus (issue 17). A benchmark, not a test.
#
#   bench/python.sh [--dvs PATH] [--n 10000] [--reps 2] [--random 500] [--skip-hf]
#
# The corpus of N clips (make_corpus.py --mode fast, cached under $DVS_BENCH_DIR, default
# /tmp/dvs-bench) is copied once into $DVS_BENCH_DIR/python-tree-corpus-N-fast and committed
# there with the release dvs. The peers (datasets<4, whose Audio feature decodes with soundfile,
# and soundfile) go into a venv of their own, $DVS_BENCH_DIR/pyvenv, which also sees the tools
# venv (torch, pandas, webdataset): they are for the benchmark only, never for CI. Then
# bench/python.py prints samples() time, throughput through a torch DataLoader with 2 workers
# (dvs torch_iterable, dvs stream | WebDataset, soundfile on the files, HF audiofolder) and
# random-access latency (median, p99).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR=${DVS_BENCH_DIR:-/tmp/dvs-bench}
MAKE_CORPUS=${DVS_BENCH_MAKE_CORPUS:-$REPO/bench/make_corpus.py}
TOOLS=${DVS_TOOLS_DIR:-$HOME/.cache/dvs-tools}
DVS=$REPO/.build/release/dvs
N=10000
PYARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --dvs) DVS=${2:?}; shift 2 ;;
    --n) N=${2:?}; shift 2 ;;
    --reps|--random) PYARGS+=("$1" "${2:?}"); shift 2 ;;
    --skip-hf) PYARGS+=("$1"); shift ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "python.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ -x "$DVS" ] || (cd "$REPO" && swift build -c release --product dvs >&2)
DVS=$(cd "$(dirname "$DVS")" && pwd)/$(basename "$DVS")
export DVS_AUTHOR_NAME=bench DVS_AUTHOR_EMAIL=bench@example.com DVS_BIN=$DVS PATH=$(dirname "$DVS"):$PATH
mkdir -p "$BENCH_DIR"
say() { echo "python-bench: $*" >&2; }

CORPUS=$BENCH_DIR/corpus-$N-fast
if [ ! -f "$CORPUS/manifest.json" ]; then
  say "generating the $N-clip corpus in $CORPUS (make_corpus.py --mode fast)"
  "$MAKE_CORPUS" --out "$CORPUS" --n "$N" --mode fast --jobs "$(nproc)" >&2
fi
DATA=$BENCH_DIR/python-tree-corpus-$N-fast
if [ ! -f "$DATA/.dvs/.bench-ready" ]; then
  say "committing a copy of the corpus into $DATA"
  rm -rf "$DATA"; cp -a "$CORPUS" "$DATA"
  (cd "$DATA" && "$DVS" init >/dev/null && "$DVS" commit -m "corpus" >/dev/null)
  touch "$DATA/.dvs/.bench-ready"
fi

VENV=$BENCH_DIR/pyvenv
if ! "$VENV/bin/python" -c 'import datasets, soundfile, librosa, torch, webdataset' 2>/dev/null; then
  say "setting up $VENV (datasets<4, soundfile, librosa; torch and the rest from $TOOLS/venv)"
  python3 -m venv "$VENV"
  site=$("$TOOLS/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  echo "$site" > "$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/dvs-tools-venv.pth"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "datasets<4" soundfile librosa
fi
PYTHONPATH=$REPO/python/src exec "$VENV/bin/python" "$REPO/bench/python.py" --repo "$DATA" --corpus "$CORPUS" "${PYARGS[@]}"
