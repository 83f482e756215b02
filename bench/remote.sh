#!/usr/bin/env bash
# Times dvs push/clone of a corpus against `aws s3 cp --recursive` of the raw corpus, on one moto
# server on loopback, and push/clone to a folder remote. Not run in CI.
#   bench/remote.sh [CORPUS_DIR]        (default /tmp/dvs-bench/corpus-10000; made if missing)
# Needs: a release build (swift build -c release), moto_server, awscli. Prints MiB/s and ratios;
# targets: dvs push <= 0.6x aws s3 cp up, dvs clone <= 0.6x aws s3 cp down.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
corpus="${1:-/tmp/dvs-bench/corpus-10000}"
dvs="${DVS:-$here/.build/release/dvs}"
[ -x "$dvs" ] || { echo "build first: swift build -c release" >&2; exit 1; }
if [ ! -d "$corpus" ]; then
  "$here/bench/make_corpus.py" --out "$corpus" --n 10000 --seed 42 --mode fast
fi
work="$(mktemp -d /tmp/dvs-remote-bench.XXXXXX)"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
moto_server -H 127.0.0.1 -p "$port" >/dev/null 2>&1 &
moto=$!
cleanup() { kill -9 "$moto" 2>/dev/null || true; rm -rf "$work"; }   # the repository in $REPO stays
trap cleanup EXIT
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
ep="http://127.0.0.1:$port"
for _ in $(seq 100); do curl -s "$ep" >/dev/null && break; sleep 0.1; done

now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2-$1:.2f}')"; }
mib=$(du -sb --exclude=.dvs "$corpus" | awk '{print $1/1048576}')
files=$(find "$corpus" -type f -not -path '*/.dvs/*' | wc -l)
echo "corpus: $corpus ($files files, $(printf %.0f "$mib") MiB); dvs: $dvs; moto on $ep; $(nproc) cores"

# The repository (commit time is not part of the comparison; kept in $REPO between runs).
repo="${REPO:-/tmp/dvs-remote-bench-repo}"
if [ ! -f "$repo/.dvs/catalog.sqlite" ] || ! "$dvs" log -C "$repo" -n 1 >/dev/null 2>&1; then
  rm -rf "$repo"; cp -a "$corpus" "$repo" && rm -rf "$repo/.dvs"
  ( cd "$repo" && "$dvs" init >/dev/null && "$dvs" commit -m corpus >/dev/null )
fi
for r in s3 dir; do "$dvs" remote remove -C "$repo" $r >/dev/null 2>&1 || true; done
ln -s "$repo" "$work/repo"
packed=$(du -sb "$work/repo/.dvs/packs" | awk '{print $1/1048576}')

aws="aws --endpoint-url $ep"
$aws s3 mb s3://raw >/dev/null; $aws s3 mb s3://dvs >/dev/null

t0=$(now); $aws s3 cp --quiet --recursive "$corpus" s3://raw/corpus --exclude '.dvs/*'; t1=$(now); aws_up=$(secs $t0 $t1)
t0=$(now); $aws s3 cp --quiet --recursive s3://raw/corpus "$work/raw-down"; t1=$(now); aws_down=$(secs $t0 $t1)
rm -rf "$work/raw-down"; $aws s3 rm --recursive s3://raw/corpus >/dev/null

( cd "$work/repo" && "$dvs" remote add s3 s3://dvs/corpus --endpoint "$ep" --path-style && "$dvs" remote add dir "$work/dir-remote" )
t0=$(now); ( cd "$work/repo" && "$dvs" push s3 --json > "$work/push-s3.json" ); t1=$(now); push_s3=$(secs $t0 $t1)
t0=$(now); "$dvs" clone s3://dvs/corpus "$work/clone-s3" --endpoint "$ep" --path-style --json > "$work/clone-s3.json"; t1=$(now); clone_s3=$(secs $t0 $t1)
diff -rq --exclude=.dvs "$corpus" "$work/clone-s3" >/dev/null && same_s3=identical || same_s3=DIFFERENT
rm -rf "$work/clone-s3"
t0=$(now); ( cd "$work/repo" && "$dvs" push dir --json > "$work/push-dir.json" ); t1=$(now); push_dir=$(secs $t0 $t1)
t0=$(now); "$dvs" clone "$work/dir-remote" "$work/clone-dir" --json > "$work/clone-dir.json"; t1=$(now); clone_dir=$(secs $t0 $t1)
diff -rq --exclude=.dvs "$corpus" "$work/clone-dir" >/dev/null && same_dir=identical || same_dir=DIFFERENT
t0=$(now); ( cd "$work/repo" && "$dvs" push s3 --json > "$work/push-again.json" ); t1=$(now); push_again=$(secs $t0 $t1)

python3 - "$mib" "$packed" "$aws_up" "$aws_down" "$push_s3" "$clone_s3" "$push_dir" "$clone_dir" "$push_again" <<'PY'
import sys
mib, packed, up, down, ps3, cs3, pdir, cdir, again = map(float, sys.argv[1:])
r = lambda t: f"{mib / t:7.1f} MiB/s (of raw corpus)" if t > 0 else "-"
print(f"raw corpus {mib:.0f} MiB, dvs packs {packed:.0f} MiB ({packed / mib:.2f}x)")
print(f"aws s3 cp up    {up:7.2f} s  {r(up)}")
print(f"aws s3 cp down  {down:7.2f} s  {r(down)}")
print(f"dvs push  (S3)  {ps3:7.2f} s  {r(ps3)}   ratio to aws up:   {ps3 / up:.2f}x (target <= 0.6)")
print(f"dvs clone (S3)  {cs3:7.2f} s  {r(cs3)}   ratio to aws down: {cs3 / down:.2f}x (target <= 0.6)")
print(f"dvs push  (dir) {pdir:7.2f} s  {r(pdir)}")
print(f"dvs clone (dir) {cdir:7.2f} s  {r(cdir)}")
print(f"dvs push again, nothing new (S3) {again:.2f} s")
PY
echo "clone trees: s3 $same_s3, folder $same_dir"
echo "push (S3):  $(tr -d '\n ' < "$work/push-s3.json")"
echo "clone (S3): $(tr -d '\n ' < "$work/clone-s3.json" | cut -c1-400)"
echo "push again: $(tr -d '\n ' < "$work/push-again.json" | cut -c1-300)"
