#!/usr/bin/env bash
# bench/purge.sh -- erasure and space reclamation (issue 16: dvs purge, dvs gc).
# A benchmark, not a test: it reports figures; it never fails on a miss.
#
#   bench/purge.sh [--dvs PATH] [--n 10000] [--speaker spk007]
#
# On the make_corpus.py corpus of N clips (--mode fast, cached under ${DVS_BENCH_DIR:-/tmp/dvs-bench}):
# 1. gc after deleting 10 % of the samples: main holds 90 % of the clips (every 10th clip left
#    out, with its label row); branch `extra` adds the other 10 %; the branch is deleted and
#    `dvs gc --prune=now` runs. Reported: its time, bytes reclaimed (du of .dvs before/after) and
#    the expected figure (stored bytes of the blobs only `extra` held, from the catalog).
# 2. purge of one speaker from main (history: the 90 % commit, a relabel commit): time of
#    `dvs purge --where "speaker = 'SPK'" --yes`, bytes of the packs it wrote, the speaker's
#    stored bytes, and their ratio (the cost of rewriting whole packs around a speaker's clips).
# 3. The purge on a folder remote: main was pushed and cloned before the purge; after it,
#    `dvs push` (uploads the record and rewritten packs, deletes the old ones and objects) and
#    the clone's `dvs fetch` (applies the purge there): times, bytes uploaded and deleted, and
#    `dvs purge --verify --remote` (reads every key).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR=${DVS_BENCH_DIR:-/tmp/dvs-bench}
MAKE_CORPUS=${DVS_BENCH_MAKE_CORPUS:-$REPO/bench/make_corpus.py}
DVS=$REPO/.build/release/dvs
N=10000
SPK=spk007
while [ $# -gt 0 ]; do
  case "$1" in
    --dvs) DVS=${2:?}; shift 2 ;;
    --n) N=${2:?}; shift 2 ;;
    --speaker) SPK=${2:?}; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "purge.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ -x "$DVS" ] || (cd "$REPO" && swift build -c release >&2)
export DVS_AUTHOR_NAME=bench DVS_AUTHOR_EMAIL=bench@example.com
say() { echo "purge: $*" >&2; }
secs() { echo "$EPOCHREALTIME"; }

CORPUS=$BENCH_DIR/corpus-$N-fast
if [ ! -f "$CORPUS/manifest.json" ]; then
  say "generating the $N-clip corpus in $CORPUS"
  "$MAKE_CORPUS" --out "$CORPUS" --n "$N" --mode fast >&2
fi
R=$BENCH_DIR/purge-$N
HOLD=$BENCH_DIR/purge-$N-hold
rm -rf "$R" "$HOLD"
say "making $R (hard links to the corpus): 90 % on main, 10 % on branch extra"
cp -al "$CORPUS" "$R"; rm -rf "$R/meta"; rm -f "$R/labels.csv"; cp "$CORPUS/labels.csv" "$R/labels.csv"
mkdir -p "$HOLD"
# Every 10th clip (by labels.csv order) moves out, with its row, for main's commit.
python3 - "$R" "$HOLD" <<'PY'
import csv, os, sys
root, hold = sys.argv[1], sys.argv[2]
rows = list(csv.reader(open(os.path.join(root, "labels.csv"), newline="")))
keep, out = [rows[0]], []
for i, r in enumerate(rows[1:]):
    (out if i % 10 == 9 else keep).append(r)
for r in out:
    dst = os.path.join(hold, r[0]); os.makedirs(os.path.dirname(dst), exist_ok=True)
    os.rename(os.path.join(root, r[0]), dst)
open(os.path.join(hold, "labels.full.csv"), "w").write(open(os.path.join(root, "labels.csv")).read())
with open(os.path.join(root, "labels.csv"), "w", newline="") as f:
    csv.writer(f, lineterminator="\n").writerows(keep)
with open(os.path.join(hold, "moved.txt"), "w") as f:
    f.write("\n".join(r[0] for r in out) + "\n")
PY
REMOTE=$BENCH_DIR/purge-$N-remote
CLONE=$BENCH_DIR/purge-$N-clone
rm -rf "$REMOTE" "$CLONE"
cd "$R"
"$DVS" init >/dev/null
t0=$(secs); "$DVS" commit -m "import 90 %" >/dev/null; t1=$(secs)
say "imported 90 % in $(python3 -c "print(round($t1-$t0,1))") s"
"$DVS" branch extra >/dev/null && "$DVS" checkout extra >/dev/null
(cd "$HOLD" && while read -r p; do mkdir -p "$R/$(dirname "$p")"; mv "$p" "$R/$p"; done < moved.txt)
cp "$HOLD/labels.full.csv" labels.csv
"$DVS" commit -m "the other 10 %" >/dev/null
"$DVS" checkout main >/dev/null
"$DVS" branch -D extra >/dev/null

# Expected: stored bytes of the blobs only branch extra named (hashed from the corpus).
expected=$(python3 - "$R" "$HOLD/moved.txt" "$CORPUS" <<'PY'
import hashlib, os, sqlite3, sys
root, moved, corpus = sys.argv[1:4]
db = sqlite3.connect(os.path.join(root, ".dvs/catalog.sqlite"))
ids = [hashlib.sha256(open(os.path.join(corpus, p), "rb").read()).digest() for p in open(moved).read().split()]
total = 0
for i in ids:
    row = db.execute("SELECT stored_length FROM blob WHERE id = ?", (i,)).fetchone()
    total += row[0] if row else 0
print(total)
PY
)
before=$(du -sb .dvs | cut -f1)
t0=$(secs); "$DVS" gc --prune=now > "$BENCH_DIR/purge-gc.out"; t1=$(secs)
after=$(du -sb .dvs | cut -f1)
gc_s=$(python3 -c "print(round($t1-$t0,2))")
say "gc --prune=now after deleting 10 %: $gc_s s, reclaimed $((before-after)) bytes (du), expected $expected (stored bytes of the 10 %)"
cat "$BENCH_DIR/purge-gc.out" >&2

# Purge of one speaker, with a second commit in history.
python3 "$REPO/bench/relabel_row.py" 5
"$DVS" commit -m "relabel" >/dev/null || true
spk_stored=$(python3 - "$R" "$CORPUS" "$SPK" <<'PY'
import csv, hashlib, os, sqlite3, sys
root, corpus, spk = sys.argv[1:4]
db = sqlite3.connect(os.path.join(root, ".dvs/catalog.sqlite"))
rows = list(csv.DictReader(open(os.path.join(root, "labels.csv"), newline="")))
total = n = 0
for r in rows:
    if r["speaker"] != spk: continue
    h = hashlib.sha256(open(os.path.join(root, r["path"]), "rb").read()).digest()
    row = db.execute("SELECT stored_length FROM blob WHERE id = ?", (h,)).fetchone()
    total += row[0] if row else 0; n += 1
print(total, n)
PY
)
"$DVS" remote add origin "$REMOTE" >/dev/null
t0=$(secs); "$DVS" push >/dev/null; t1=$(secs)
say "pushed main to a folder remote in $(python3 -c "print(round($t1-$t0,1))") s"
"$DVS" clone "$REMOTE" "$CLONE" >/dev/null
remote_before=$(du -sb "$REMOTE" | cut -f1)
packs_total=$(du -sb .dvs/packs | cut -f1)
ls .dvs/packs > "$BENCH_DIR/purge-packs-before.txt"
"$DVS" purge --where "speaker = '$SPK'" >&2
t0=$(secs); "$DVS" purge --where "speaker = '$SPK'" --yes >&2; t1=$(secs)
purge_s=$(python3 -c "print(round($t1-$t0,2))")
written=0
for p in $(ls .dvs/packs); do
  grep -qx "$p" "$BENCH_DIR/purge-packs-before.txt" || written=$((written + $(stat -c %s ".dvs/packs/$p")))
done
set -- $spk_stored
say "purge of $SPK ($2 clips, $1 stored bytes = $(python3 -c "print(round(100*$1/$packs_total,2))") % of $packs_total pack bytes): $purge_s s, packs written $written bytes = $(python3 -c "print(round($written/max($1,1),1))") x the speaker's share"
"$DVS" fsck >/dev/null && say "fsck clean"
t0=$(secs); "$DVS" push --json > "$BENCH_DIR/purge-push.json"; t1=$(secs)
push_s=$(python3 -c "print(round($t1-$t0,2))")
remote_after=$(du -sb "$REMOTE" | cut -f1)
say "push of the purge: $push_s s; remote $remote_before -> $remote_after bytes; $(python3 -c "
import json; j = json.load(open('$BENCH_DIR/purge-push.json')); p = j['purges']
print(f\"uploaded {j['bytes_uploaded']} bytes in {j['packs_uploaded']} pack(s); deleted {p['packs_deleted']} pack(s) ({p['packs_rewritten']} rewritten there) and {p['objects_deleted']} object(s)\")")"
t0=$(secs); (cd "$CLONE" && "$DVS" fetch --json > "$BENCH_DIR/purge-fetch.json"); t1=$(secs)
fetch_s=$(python3 -c "print(round($t1-$t0,2))")
say "the clone's fetch, applying the purge: $fetch_s s, $(python3 -c "
import json; j = json.load(open('$BENCH_DIR/purge-fetch.json')); print(f\"{j['bytes_downloaded']} bytes downloaded, {len(j['purges_applied'])} purge(s) applied\")")"
t0=$(secs); "$DVS" purge --verify --remote origin >&2; t1=$(secs)
verify_s=$(python3 -c "print(round($t1-$t0,2))")
(cd "$CLONE" && "$DVS" purge --verify >&2 && "$DVS" fsck >/dev/null) && say "the clone is clean; fsck clean"
echo "{\"n\": $N, \"gc_seconds\": $gc_s, \"gc_reclaimed\": $((before-after)), \"gc_expected\": $expected, \"purge_speaker\": \"$SPK\", \"purge_seconds\": $purge_s, \"purge_written\": $written, \"speaker_stored\": $1, \"pack_bytes\": $packs_total, \"push_seconds\": $push_s, \"remote_before\": $remote_before, \"remote_after\": $remote_after, \"fetch_seconds\": $fetch_s, \"verify_remote_seconds\": $verify_s}"
