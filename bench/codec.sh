#!/usr/bin/env bash
# bench/codec.sh CORPUS DVS OUT [AUDIO_CODEC] -- dvs's audio codecs per format, beside `flac -5` (PCM only: flac
# refuses G.711) and `zstd -3` (every format) on the same files, in one run.
#
#   CORPUS  a make_corpus.py corpus (meta/clips.csv names each clip's format)
#   DVS     the dvs binary
#   OUT     a scratch folder (emptied first)
#   AUDIO_CODEC  `dvs config pack.audio-codec` for the commits: lpc (the default), auto or predictive
#
# Per format it reports store ÷ raw (dvs: the bytes of .dvs/packs after `dvs commit` of only that
# format's files; flac: the .flac files; zstd: one .zst per file), and dvs's encode and decode
# rates in MB of WAV per CPU-second (user + sys of `dvs commit`, and of `dvs checkout --to`, which
# also hash, scan and write: an end-to-end figure, not the codec alone). Every checkout is
# compared byte for byte with the files. Called by bench.sh (--tools …,codec); runs on its own too.
#
# When dvs-codec-bench sits beside DVS (a release build makes both), it then times the audio-lpc
# codec alone, one thread, on up to 60 clips per format: encode, decode and AudioLevels MB/s; and
# libFLAC's `flac -d` on the same clips, so the decode rates compare with FLAC's own decoder.
set -uo pipefail
CORPUS=${1:?corpus}; DVS=${2:?dvs binary}; OUT=${3:?scratch folder}; AUDIO_CODEC=${4:-lpc}
case "$AUDIO_CODEC" in auto|predictive|lpc) ;; *) echo "codec.sh: unknown audio codec '$AUDIO_CODEC' (auto, predictive or lpc)" >&2; exit 2 ;; esac
command -v flac >/dev/null || { echo "codec.sh: flac not found (apt-get install flac)" >&2; exit 2; }
command -v zstd >/dev/null || { echo "codec.sh: zstd not found (apt-get install zstd)" >&2; exit 2; }
rm -rf "$OUT" && mkdir -p "$OUT" || exit 2
TSV=$OUT/codec.tsv
printf 'format\tfiles\traw\tdvs\tflac\tzstd\tenc_cpu_s\tdec_cpu_s\troundtrip\n' >"$TSV"
cpu() { awk '{printf "%.3f", $1 + $2}' "$1"; }
# A clip's format: its encoding, sample rate and channels (meta/clips.csv has no "format" column).
FMT='lambda r: "%s-%sHz-%sch" % (r["encoding"], r["sample_rate"], r["channels"])'
formats=$(python3 -c "import csv,sys; fmt = $FMT; print(' '.join(sorted({fmt(r) for r in csv.DictReader(open(sys.argv[1]))})))" \
  "$CORPUS/meta/clips.csv")
[ -n "$formats" ] || { echo "codec.sh: no clips in $CORPUS/meta/clips.csv" >&2; exit 2; }
for f in $formats; do
  W=$OUT/$f
  mkdir -p "$W/files" "$W/flac" "$W/zstd"
  python3 -c "import csv,sys; fmt = $FMT; [print(r['path']) for r in csv.DictReader(open(sys.argv[1])) if fmt(r) == sys.argv[2]]" \
    "$CORPUS/meta/clips.csv" "$f" >"$W/list"
  (cd "$CORPUS" && xargs -a "$W/list" cp --parents -t "$W/files")
  n=$(wc -l <"$W/list")
  raw=$(cd "$W/files" && xargs -a "$W/list" cat | wc -c)
  (cd "$W/files" && zstd -3 -q -r . --output-dir-mirror "$W/zstd")
  zs=$(find "$W/zstd" -type f -name '*.zst' -printf '%s\n' | awk '{s += $1} END {print s + 0}')
  fl=0
  case "$f" in
    pcm*) (cd "$W/files" && xargs -a "$W/list" -n 200 flac -5 -s -f --output-prefix="$W/flac/" 2>/dev/null)
          fl=$(find "$W/flac" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}') ;;
  esac
  (cd "$W/files" && "$DVS" init >/dev/null 2>&1 && "$DVS" config pack.audio-codec "$AUDIO_CODEC") ||
    { echo "codec.sh: dvs init or dvs config pack.audio-codec $AUDIO_CODEC failed in $W/files" >&2; exit 1; }
  sync
  (cd "$W/files" && /usr/bin/time -f '%U %S' -o "$W/enc.time" "$DVS" commit -m "$f" >/dev/null 2>"$W/commit.log")
  store=$(du -sb "$W/files/.dvs/packs" | awk '{print $1}')
  id=$(cd "$W/files" && "$DVS" log --json -n 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
  sync
  (cd "$W/files" && /usr/bin/time -f '%U %S' -o "$W/dec.time" "$DVS" checkout "$id" --to "$W/co" >/dev/null 2>"$W/checkout.log")
  rt=1
  diff -r -q --exclude=.dvs "$W/files" "$W/co" >"$W/roundtrip.diff" 2>&1 || rt=0
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$f" "$n" "$raw" "$store" "$fl" "$zs" "$(cpu "$W/enc.time")" \
    "$(cpu "$W/dec.time")" "$rt" >>"$TSV"
  rm -rf "$W/co" "$W/flac" "$W/zstd"
done
python3 - "$TSV" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
def r(a, b): return f"{int(a) / int(b):.3f}" if int(a) else "—"
def rate(raw, s): return f"{int(raw) / 1e6 / float(s):.0f}" if float(s) > 0 else "—"
hdr = ["format", "files", "raw MB", "dvs", "flac -5", "zstd -3", "dvs ÷ flac", "encode MB/s/core", "decode MB/s/core", "round trip"]
table = []
tot = dict(raw=0, dvs=0, best=0, zstd=0)
for x in rows:
    table.append([x["format"], x["files"], f"{int(x['raw']) / 1e6:.1f}", r(x["dvs"], x["raw"]), r(x["flac"], x["raw"]),
                  r(x["zstd"], x["raw"]), f"{int(x['dvs']) / int(x['flac']):.3f}" if int(x["flac"]) else "—",
                  rate(x["raw"], x["enc_cpu_s"]), rate(x["raw"], x["dec_cpu_s"]), "byte-exact" if x["roundtrip"] == "1" else "DIFFERS"])
    tot["raw"] += int(x["raw"]); tot["dvs"] += int(x["dvs"]); tot["zstd"] += int(x["zstd"])
    tot["best"] += int(x["flac"]) or int(x["zstd"])
table.append(["all audio", str(sum(int(x["files"]) for x in rows)), f"{tot['raw'] / 1e6:.1f}", r(tot["dvs"], tot["raw"]),
              f"{tot['best'] / tot['raw']:.3f} (flac, zstd for G.711)", r(tot["zstd"], tot["raw"]), "", "", "", ""])
w = [max(len(t[i]) for t in table + [hdr]) for i in range(len(hdr))]
line = lambda c: "| " + " | ".join(s.ljust(w[i]) for i, s in enumerate(c)) + " |"
print("\nstore ÷ raw per format (dvs: .dvs/packs after committing that format alone)\n")
print(line(hdr)); print("|" + "|".join("-" * (x + 2) for x in w) + "|")
for t in table: print(line(t))
PY
CODEC_BENCH=$(dirname "$DVS")/dvs-codec-bench
if [ -x "$CODEC_BENCH" ]; then
  echo
  echo "audio-lpc alone (dvs-codec-bench, one thread, CPU time, up to 60 clips per format):"
  for f in $formats; do head -60 "$OUT/$f/list" | sed "s|^|$CORPUS/|"; done | "$CODEC_BENCH" --reps 3
  # libFLAC's decoder on the same clips, the reference for a FLAC-class decode rate: one `flac -d`
  # process over all of a format's files (no MD5 in the files, so none checked: dvs-codec-bench
  # hashes nothing either), CPU time, best of 3. flac declines some layouts; the rate counts the
  # bytes it wrote.
  echo
  echo "libFLAC alone (flac -d, one process, CPU time, best of 3, the same clips; decode MB of WAV per CPU-second):"
  for f in $formats; do
    case "$f" in pcm*) ;; *) continue ;; esac
    D=$OUT/$f/flac-decode
    rm -rf "$D" && mkdir -p "$D"
    head -60 "$OUT/$f/list" | sed "s|^|$CORPUS/|" | xargs flac -5 -s -f --no-md5-sum --output-prefix="$D/" 2>/dev/null
    bytes=$(flac -d -s -c "$D"/*.flac 2>/dev/null | wc -c)
    best=
    for _ in 1 2 3; do
      /usr/bin/time -f '%U %S' -o "$D/time" flac -d -s -c "$D"/*.flac >/dev/null 2>&1
      t=$(cpu "$D/time")
      best=$(python3 -c "import sys; a = sys.argv[1]; print(min(float(a), float(sys.argv[2])) if a else sys.argv[2])" "$best" "$t")
    done
    python3 -c "import sys; b, t = int(sys.argv[2]), float(sys.argv[3]); print('{\"format\": \"%s\", \"files\": %s, \"wav_bytes\": %d, \"decode_mb_s\": %s}' % (sys.argv[1], sys.argv[4], b, '%.1f' % (b / 1e6 / t) if t > 0 else 'null'))" \
      "$f" "$bytes" "$best" "$(ls "$D"/*.flac | wc -l)"
    rm -rf "$D"
  done
fi
