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
# packed bytes (its frames; target <= 1.15), its ranged reads against the number of samples, its
# metadata requests (one per commit where bundles serve), a full `dvs clone` once for scale, and
# what one ranged GET costs moto on a large pack and on a small object. Needs a release build,
# moto_server, awscli and boto3 (moto's).
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
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
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
# One layout: --reps times, interleaved, its partial clone, `aws s3 cp` of the raw WAVs and the
# no-clone stream through an empty cache. Fills the arrays <tag>_clone, <tag>_aws, <tag>_first
# and <tag>_all; leaves the clone in $work/<tag>-clone, its JSON in $work/<tag>-clone.json and
# the cache in $work/<tag>-cache.
measure() {
  local url=$1 branch=$2 tag=$3 i f e
  local -n ct=${tag}_clone at=${tag}_aws sf=${tag}_first se=${tag}_all
  for i in $(seq "$REPS"); do
    rm -rf "$work/$tag-clone"
    ct+=("$(t sh -c "'$DVS' clone $url '$work/$tag-clone' --branch $branch --endpoint '$ep' --path-style --json > '$work/$tag-clone.json'")")
    rm -rf "$work/a"
    at+=("$(t $aws s3 cp --quiet --recursive s3://raw/c10 "$work/a")")
    rm -rf "$work/$tag-cache"
    read -r f e < <(first_and_end "$DVS" stream --remote "$url" --rev "$branch" --cache-dir "$work/$tag-cache" --endpoint "$ep" --path-style)
    sf+=("$f"); se+=("$e")
  done
}
s_clone=(); s_aws=(); s_first=(); s_all=()
measure s3://dvs/voice cohort/c10 s
stream_bytes=$(du -sb "$work"/s-cache/remotes/*/.dvs/packs | awk '{print $1}')
same=$(cd "$work/s-clone" && diff -rq --exclude=.dvs "$work/a" . 2>/dev/null | grep -v '^Only in \.' | grep -c . || true)
full_t=$(t "$DVS" clone s3://dvs/voice "$work/f" --endpoint "$ep" --path-style --json)
full_bytes=$(du -sb "$work/f/.dvs/packs" | awk '{print $1}')  # before the --pack copy below adds to it
# A second remote, with the cohort laid out by --pack: made from the full clone (so the first
# remote never sees the cohort's packs), then the same clone and stream, interleaved.
say "making the --pack layout on s3://dvs/packed"
"$DVS" -C "$work/f" cohort create c10p --where "CAST(score AS REAL) < 0.1" --pack --json > "$work/packed.json"
"$DVS" -C "$work/f" remote add packed s3://dvs/packed --endpoint "$ep" --path-style >/dev/null
"$DVS" -C "$work/f" push packed --all >/dev/null
p_clone=(); p_aws=(); p_first=(); p_all=()
measure s3://dvs/packed cohort/c10p p
psame=$(cd "$work/p-clone" && diff -rq --exclude=.dvs "$work/a" . 2>/dev/null | grep -v '^Only in \.' | grep -c . || true)
# The same partial clone from a folder remote (local disk): dvs's own cost without S3 or moto.
"$DVS" -C "$R" remote remove benchdir >/dev/null 2>&1 || true
"$DVS" -C "$R" remote add benchdir "$work/dir-remote" >/dev/null
"$DVS" -C "$R" push benchdir --all >/dev/null
"$DVS" -C "$R" remote remove benchdir >/dev/null
dir_t=$(t "$DVS" clone "$work/dir-remote" "$work/pd" --branch cohort/c10 --json)
remote_bytes=$(du -sb "$R/.dvs/packs" | awk '{print $1}')
# What one ranged GET costs moto: 4 KiB from the largest pack against 4 KiB from a 1 MiB object
# (moto reads the whole object for each range, so the spread layout's many reads cost it more
# than they would cost S3).
probe=$(python3 - "$ep" <<'PY'
import statistics, sys, time, boto3
s3 = boto3.client("s3", endpoint_url=sys.argv[1])
packs = s3.list_objects_v2(Bucket="dvs", Prefix="voice/packs/")["Contents"]
big = max(packs, key=lambda o: o["Size"])
s3.put_object(Bucket="raw", Key="probe-1MiB", Body=b"\0" * (1 << 20))
def ms(key):
    xs = []
    for i in range(20):
        t = time.time(); s3.get_object(Bucket=key[0], Key=key[1], Range=f"bytes={i*4096}-{i*4096+4095}")["Body"].read()
        xs.append((time.time() - t) * 1000)
    return statistics.median(xs)
print(f"moto, one ranged GET of 4 KiB (median of 20): {ms(('dvs', big['Key'])):.1f} ms from a {big['Size']/2**20:.0f} MiB pack, "
      f"{ms(('raw', 'probe-1MiB')):.1f} ms from a 1 MiB object")
PY
)

python3 - "$work/s-clone.json" "$samples" "$remote_bytes" "$full_t" "$full_bytes" "${s_clone[*]}" "${s_aws[*]}" "$same" "$dir_t" \
  "${s_first[*]}" "${s_all[*]}" "$stream_bytes" "$work/p-clone.json" "${p_clone[*]}" "${p_aws[*]}" \
  "${p_first[*]}" "${p_all[*]}" "$psame" "$work/packed.json" <<'PY'
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
print(f"metadata: {c['objects_downloaded']} objects in {c['metadata_requests']} requests (commits' bundles, then loose objects)")
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
pcm = json.load(open(sys.argv[13]))
print(f"  metadata: {pcm['objects_downloaded']} objects in {pcm['metadata_requests']} requests")
print(f"  partial clone {fmt(pct)}   aws s3 cp {fmt(pat)}   ratio {statistics.median(pct)/statistics.median(pat):.2f}x")
print(f"  no-clone stream: first byte {fmt(psf)}, all {fmt(pst)} = {samples/statistics.median(pst):.0f} samples/s; "
      f"ratio to aws s3 cp {statistics.median(pst)/statistics.median(pat):.2f}x")
print(f"  files that differ between this partial clone and the raw download: {sys.argv[18]}")
PY
echo "$probe"
