#!/usr/bin/env bash
# bench/partial.sh -- a partial clone of a cohort from S3 (issue 15, item 1).
# A benchmark, not a test: it reports figures; it never fails on a miss. Not run in CI.
#
#   bench/partial.sh [--dvs PATH] [--n 10000] [--reps 3]
#
# On the make_corpus.py corpus of N clips (--mode fast, cached under ${DVS_BENCH_DIR:-/tmp/dvs-bench}),
# committed whole on main and pushed to a moto server on loopback, with a cohort of about 10 % of
# the samples spread over every pack (`CAST(score AS REAL) < 0.1`, a uniform random label):
#   dvs clone s3://... --branch cohort/c10   (a partial clone: metadata and the cohort's frames)
#   aws s3 cp --recursive of the same cohort's raw WAV files (uploaded to their own prefix)
#   dvs stream --remote s3://... --rev cohort/c10 through an empty cache (no clone; issue 15 item 2)
#   the same clone and stream of a second remote where the cohort was made with `cohort create
#   --pack` (its frames copied into packs of their own)
# interleaved, --reps times each. Reported: median and min-max wall time, the bytes the clone
# read (pack indexes, frames and the gaps merged between them) as a ratio to the cohort's own
# packed bytes (its frames; target <= 1.15), its ranged reads against the number of samples, and
# a full `dvs clone` once for scale. Needs a release build, moto_server and awscli.
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
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "partial.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ -x "$DVS" ] || (cd "$REPO" && swift build -c release >&2)
export DVS_AUTHOR_NAME=bench DVS_AUTHOR_EMAIL=bench@example.com
say() { echo "partial: $*" >&2; }

CORPUS=$BENCH_DIR/corpus-$N-fast
if [ ! -f "$CORPUS/manifest.json" ]; then
  say "generating the $N-clip corpus in $CORPUS"
  "$MAKE_CORPUS" --out "$CORPUS" --n "$N" --mode fast >&2
fi
R=$BENCH_DIR/partial-$N
if [ ! -f "$R/.dvs/catalog.sqlite" ] || ! "$DVS" -C "$R" log -n 1 >/dev/null 2>&1; then
  say "making $R (hard links to the corpus) and committing it"
  rm -rf "$R"; cp -al "$CORPUS" "$R"; rm -rf "$R/meta"
  (cd "$R" && "$DVS" init >/dev/null && "$DVS" commit -m corpus >/dev/null)
fi
"$DVS" -C "$R" cohort create c10 --where "CAST(score AS REAL) < 0.1" >/dev/null 2>&1 || true
cohort_paths() { "$DVS" -C "$R" ls cohort/c10 --json | python3 -c 'import json,sys; [print(e["path"]) for e in json.load(sys.stdin) if e.get("audio")]'; }
samples=$(cohort_paths | wc -l)

work=$(mktemp -d /tmp/dvs-partial-bench.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
moto_server -H 127.0.0.1 -p "$port" >/dev/null 2>&1 &
moto=$!
cleanup() { kill -9 "$moto" 2>/dev/null || true; rm -rf "$work"; "$DVS" -C "$R" remote remove bench >/dev/null 2>&1 || true; }
trap cleanup EXIT
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
ep="http://127.0.0.1:$port"
for _ in $(seq 100); do curl -s "$ep" >/dev/null && break; sleep 0.1; done
aws="aws --endpoint-url $ep"
$aws s3 mb s3://dvs >/dev/null; $aws s3 mb s3://raw >/dev/null

say "pushing main and cohort/c10 to moto"
"$DVS" -C "$R" remote remove bench >/dev/null 2>&1 || true
"$DVS" -C "$R" remote add bench s3://dvs/voice --endpoint "$ep" --path-style >/dev/null
"$DVS" -C "$R" push bench --all >/dev/null
say "uploading the cohort's $samples raw files to s3://raw/c10"
mkdir -p "$work/raw"
cohort_paths | while read -r p; do mkdir -p "$work/raw/$(dirname "$p")"; ln "$R/$p" "$work/raw/$p"; done
$aws s3 cp --quiet --recursive "$work/raw" s3://raw/c10
rm -rf "$work/raw"

t() { local s=$EPOCHREALTIME; "$@" >/dev/null; python3 -c "print(f'{$EPOCHREALTIME-$s:.2f}')"; }
# Seconds to the first byte and to the end of a command's stdout.
first_and_end() { python3 - "$@" <<'PY'
import subprocess, sys, time
t = time.time(); p = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
first = None
while True:
    b = p.stdout.read(1 << 16)
    if not b: break
    if first is None: first = time.time() - t
p.wait(); print(f"{first or 0:.2f} {time.time() - t:.2f}")
PY
}
clone_times=(); aws_times=(); stream_first=(); stream_times=()
for i in $(seq "$REPS"); do
  rm -rf "$work/p"
  clone_times+=("$(t sh -c "'$DVS' clone s3://dvs/voice '$work/p' --branch cohort/c10 --endpoint '$ep' --path-style --json > '$work/clone.json'")")
  rm -rf "$work/a"
  aws_times+=("$(t $aws s3 cp --quiet --recursive s3://raw/c10 "$work/a")")
  # No clone: the cohort streamed straight from the remote through an empty cache.
  rm -rf "$work/cache"
  read -r f e < <(first_and_end "$DVS" stream --remote s3://dvs/voice --rev cohort/c10 --cache-dir "$work/cache" --endpoint "$ep" --path-style)
  stream_first+=("$f"); stream_times+=("$e")
done
stream_bytes=$(du -sb "$work"/cache/remotes/*/.dvs/packs | awk '{print $1}')
same=$(cd "$work/p" && diff -rq --exclude=.dvs "$work/a" . 2>/dev/null | grep -v '^Only in \.' | grep -c . || true)
full_t=$(t "$DVS" clone s3://dvs/voice "$work/f" --endpoint "$ep" --path-style --json)
full_bytes=$(du -sb "$work/f/.dvs/packs" | awk '{print $1}')  # before the --pack copy below adds to it
# A second remote, with the cohort laid out by --pack: made from the full clone (so the first
# remote never sees the cohort's packs), then the same clone and stream, interleaved.
say "making the --pack layout on s3://dvs/packed"
"$DVS" -C "$work/f" cohort create c10p --where "CAST(score AS REAL) < 0.1" --pack --json > "$work/packed.json"
"$DVS" -C "$work/f" remote add packed s3://dvs/packed --endpoint "$ep" --path-style >/dev/null
"$DVS" -C "$work/f" push packed --all >/dev/null
pclone_times=(); pstream_first=(); pstream_times=(); paws_times=()
for i in $(seq "$REPS"); do
  rm -rf "$work/pp"
  pclone_times+=("$(t sh -c "'$DVS' clone s3://dvs/packed '$work/pp' --branch cohort/c10p --endpoint '$ep' --path-style --json > '$work/pclone.json'")")
  rm -rf "$work/a"
  paws_times+=("$(t $aws s3 cp --quiet --recursive s3://raw/c10 "$work/a")")
  rm -rf "$work/pcache"
  read -r f e < <(first_and_end "$DVS" stream --remote s3://dvs/packed --rev cohort/c10p --cache-dir "$work/pcache" --endpoint "$ep" --path-style)
  pstream_first+=("$f"); pstream_times+=("$e")
done
psame=$(cd "$work/pp" && diff -rq --exclude=.dvs "$work/a" . 2>/dev/null | grep -v '^Only in \.' | grep -c . || true)
# The same partial clone from a folder remote (local disk): dvs's own cost without S3 or moto.
"$DVS" -C "$R" remote remove benchdir >/dev/null 2>&1 || true
"$DVS" -C "$R" remote add benchdir "$work/dir-remote" >/dev/null
"$DVS" -C "$R" push benchdir --all >/dev/null
"$DVS" -C "$R" remote remove benchdir >/dev/null
dir_t=$(t "$DVS" clone "$work/dir-remote" "$work/pd" --branch cohort/c10 --json)
remote_bytes=$(du -sb "$R/.dvs/packs" | awk '{print $1}')

python3 - "$work/clone.json" "$samples" "$remote_bytes" "$full_t" "$full_bytes" "${clone_times[*]}" "${aws_times[*]}" "$same" "$dir_t" \
  "${stream_first[*]}" "${stream_times[*]}" "$stream_bytes" "$work/pclone.json" "${pclone_times[*]}" "${paws_times[*]}" \
  "${pstream_first[*]}" "${pstream_times[*]}" "$psame" "$work/packed.json" <<'PY'
import json, statistics, sys
c = json.load(open(sys.argv[1]))
samples, remote, full_t, full_b = int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
ct = [float(x) for x in sys.argv[6].split()]; at = [float(x) for x in sys.argv[7].split()]
f = c["frames"]
fmt = lambda xs: f"{statistics.median(xs):.2f} s (min {min(xs):.2f}, max {max(xs):.2f})"
print(f"cohort: {samples} samples of the corpus, {f['blobs']} blobs (with the label table), frames {f['frame_bytes']/1e6:.1f} MB "
      f"= {f['frame_bytes']/remote:.3f} of the remote's packs ({remote/1e6:.0f} MB)")
print(f"partial clone read {f['bytes_downloaded']/1e6:.1f} MB = {f['bytes_downloaded']/f['frame_bytes']:.3f}x the cohort's frames "
      f"(target <= 1.15); {f['requests']} ranged reads for {f['blobs']} blobs; {f['pack_indexes']} pack indexes")
print(f"partial clone {fmt(ct)}   aws s3 cp of the cohort's raw WAVs {fmt(at)}   ratio {statistics.median(ct)/statistics.median(at):.2f}x")
print(f"full clone once: {full_t:.2f} s, {full_b/1e6:.0f} MB of packs")
print(f"the partial clone from a folder remote (local disk) once: {float(sys.argv[9]):.2f} s")
print(f"files that differ between the partial clone and the raw download: {sys.argv[8]}")
sf = [float(x) for x in sys.argv[10].split()]; st = [float(x) for x in sys.argv[11].split()]
print(f"no-clone stream (empty cache): first byte {fmt(sf)}, all {fmt(st)} = {samples/statistics.median(st):.0f} samples/s; "
      f"ratio to aws s3 cp {statistics.median(st)/statistics.median(at):.2f}x; cache packs {int(sys.argv[12])/1e6:.1f} MB "
      f"= {int(sys.argv[12])/f['frame_bytes']:.3f}x the frames")
pc = json.load(open(sys.argv[13]))["frames"]; pk = json.load(open(sys.argv[19]))["packed"]
pct = [float(x) for x in sys.argv[14].split()]; pat = [float(x) for x in sys.argv[15].split()]
psf = [float(x) for x in sys.argv[16].split()]; pst = [float(x) for x in sys.argv[17].split()]
print(f"--pack layout: {pk['blobs']} blobs copied into {pk['packs']} packs, {pk['bytes']/1e6:.1f} MB "
      f"(= {pk['bytes']/remote:.3f} of the remote's packs, stored once more)")
print(f"  partial clone read {pc['bytes_downloaded']/1e6:.1f} MB = {pc['bytes_downloaded']/pc['frame_bytes']:.3f}x the frames; "
      f"{pc['requests']} ranged reads for {pc['blobs']} blobs; {pc['pack_indexes']} pack indexes")
print(f"  partial clone {fmt(pct)}   aws s3 cp {fmt(pat)}   ratio {statistics.median(pct)/statistics.median(pat):.2f}x")
print(f"  no-clone stream: first byte {fmt(psf)}, all {fmt(pst)} = {samples/statistics.median(pst):.0f} samples/s; "
      f"ratio to aws s3 cp {statistics.median(pst)/statistics.median(pat):.2f}x")
print(f"  files that differ between this partial clone and the raw download: {sys.argv[18]}")
PY
