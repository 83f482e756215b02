#!/usr/bin/env bash
# bench/serve.sh -- `dvs serve` on the 10k corpus (issue 19): time to first byte of the snapshot
# page (cold: the sample index built from nothing; then warm) and of a sample's audio (original
# bytes, and a μ-law clip transcoded to WAV), then requests/s and latency (p50, p99) of the sample
# page and of a snapshot page under 16 concurrent clients (bench/serve_load.py: a bounded Python
# load loop, loopback only).
#
#   bench/serve.sh DVS_DIR CORPUS WORK [REQUESTS]
#
# DVS_DIR holds dvs and dvs-serve (a release build: .build/release); CORPUS a make_corpus.py
# corpus (bench/README.md, "The corpus"; bench/make_corpus.py --out C --n 10000 --mode fast);
# WORK a scratch folder: WORK/repo is a copy of CORPUS (made when missing), committed once. REQUESTS per load run (default 2000).
set -euo pipefail
export LC_ALL=C DVS_AUTHOR_NAME=bench DVS_AUTHOR_EMAIL=bench@example.com
BIN=${1:?dvs folder} CORPUS=${2:?corpus} WORK=${3:?work dir} N=${4:-2000}
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=$(cd "$BIN" && pwd)
mkdir -p "$WORK"
R=$WORK/repo
[ -d "$R" ] || cp -a "$CORPUS" "$R"
if [ ! -d "$R/.dvs" ]; then
  "$BIN/dvs" init "$R" >/dev/null
  (cd "$R" && /usr/bin/time -f "commit of the corpus: %e s" "$BIN/dvs" commit -m import >/dev/null)
fi
rm -f "$R/.dvs/cache/samples.sqlite"*
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$BIN/dvs" serve -C "$R" --port "$PORT" >"$WORK/serve.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/static/app.css" && break; sleep 0.1; done
B=http://127.0.0.1:$PORT
ttfb() { curl -s -o /dev/null -w "%{http_code} ttfb %{time_starttransfer} s, total %{time_total} s, %{size_download} bytes" "$@"; }
SAMPLE=$(cd "$R" && awk -F, 'NR==2{print $1}' labels.csv)
MULAW=$(cd "$R" && awk -F, '$4=="ulaw" || $4=="mulaw" || $4=="mu-law"{print $1; exit}' meta/clips.csv)
echo "snapshot page, cold index:  $(ttfb "$B/snapshot")"
echo "samples: $(cd "$R" && "$BIN/dvs" query 'SELECT count(*) FROM sample' --format csv | tail -1); sample $SAMPLE; μ-law $MULAW"
echo "snapshot page, warm:        $(ttfb "$B/snapshot")"
echo "snapshot page 100, sorted:  $(ttfb "$B/snapshot?page=100&sort=duration_s&order=desc")"
echo "snapshot, SQL filter:       $(ttfb "$B/snapshot?where=lang+%3D+%27de%27+AND+duration_s+%3E+5")"
echo "sample page:                $(ttfb "$B/sample?path=$SAMPLE")"
echo "audio, original bytes:      $(ttfb "$B/audio?path=$SAMPLE")"
echo "audio, range 0-65535:       $(ttfb -H 'Range: bytes=0-65535' "$B/audio?path=$SAMPLE")"
[ -n "$MULAW" ] && echo "audio, μ-law → WAV:         $(ttfb "$B/audio?path=$MULAW&as=wav")"
echo "load, sample page, 16 clients:   $(python3 "$HERE/serve_load.py" "$B/sample?path=$SAMPLE" 16 "$N" 120)"
echo "load, audio, 16 clients:         $(python3 "$HERE/serve_load.py" "$B/audio?path=$SAMPLE" 16 "$N" 120)"
echo "load, snapshot page, 16 clients: $(python3 "$HERE/serve_load.py" "$B/snapshot?page=7" 16 "$((N / 4))" 120)"
