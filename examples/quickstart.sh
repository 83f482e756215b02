#!/usr/bin/env bash
# dvs quickstart: build a small, real, multilingual voice dataset from
# recordings that Debian ships, then take dvs through a full round trip
# (init, status, commit, labeling passes with diff/query/validation, log/ls/show/cat,
# checkout, fsck).
#
# No audio is committed to the project's git repository: the dataset is
# made at run time from these Debian packages:
#   alsa-utils       /usr/share/sounds/alsa/*.wav          (48 kHz speech, kept as is)
#   ktuberling-data  /usr/share/ktuberling/sounds/<lang>/  (words, Ogg Vorbis / WAV)
#   klettres-data    /usr/share/klettres/<lang>/{alpha,syllab}/*.ogg (letters, syllables)
#
# Needs: apt-get install sox libsox-fmt-all espeak-ng alsa-utils ktuberling-data klettres-data
#
# Environment:
#   DVS                  dvs binary (default: <repo>/.build/release/dvs, built if missing)
#   DVS_QUICKSTART_DIR   working folder (default: $(mktemp -d)/quickstart)
#   DVS_QUICKSTART_JOBS  parallel sox jobs (default: nproc)
set -Eeuo pipefail

# Report the failing line once (the trap also fires in $(...) subshells).
trap 'rc=$?; [[ $BASHPID != "$$" ]] || echo "quickstart FAILED (line $LINENO, exit $rc)" >&2; exit $rc' ERR
# Note: no "cmd | head" or "grep -q" on a live pipe below: under pipefail, the
# writer's SIGPIPE (exit 141) would abort the script.

# --------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEFAULT_DVS="$REPO/.build/release/dvs"
DVS=${DVS:-$DEFAULT_DVS}
WORK=${DVS_QUICKSTART_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/dvs-quickstart.XXXXXX")/quickstart}
JOBS=${DVS_QUICKSTART_JOBS:-$(nproc 2>/dev/null || echo 2)}

ALSA_DIR=/usr/share/sounds/alsa
KT_DIR=/usr/share/ktuberling/sounds
KL_DIR=/usr/share/klettres

# Selection is deterministic: per folder, N files evenly spread over the
# sorted (LC_ALL=C) file list, so each language gets a mix of words.
KT_PER_LANG=8        # ktuberling words per language
KL_ALPHA=4           # klettres letters per language
KL_SYLLAB=2          # klettres syllables per language
TEL_EVERY=5          # every 5th ktuberling/klettres clip becomes 8 kHz mu-law "telephony"
# Byte-identical copies of sr/ (Serbian Cyrillic); we keep sr and sr@latin only,
# so the dataset still contains a few exact duplicates (good for dedup).
KT_SKIP=" sr@ijekavian sr@ijekavianlatin "

# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------
say()  { printf '\n==> %s\n' "$*"; }
die()  { echo "error: $*" >&2; exit 1; }

# Print a command the way a user would type it.
show_cmd() {
    local out="" a
    for a in "$@"; do
        if [[ $a =~ ^[A-Za-z0-9_./:@%+=~^,-]+$ ]]; then
            out+=" $a"
        else
            a=${a//\\/\\\\}; a=${a//\"/\\\"}; a=${a//\$/\\\$}; a=${a//\`/\\\`}
            out+=" \"$a\""
        fi
    done
    printf '$%s\n' "$out"
}

dvs() { "$DVS" "$@"; }

# run CMD...: echo "$ CMD" and run it (the script stops if it fails).
run() { show_cmd "$@"; "$@"; }

# run_head N CMD...: like run, but print only the first N lines of output.
# The output is captured first, so neither SIGPIPE nor pipefail can bite.
run_head() {
    local n=$1; shift
    local out total
    printf '%s | head -n %s\n' "$(show_cmd "$@")" "$n"
    out=$("$@")
    total=$(printf '%s\n' "$out" | wc -l)
    [[ -z $out ]] || head -n "$n" <<<"$out"
    if (( total > n )); then echo "... ($((total - n)) more lines)"; fi
}

now_ms() { date +%s%3N; }

# pick_spread N: from sorted lines on stdin, keep N evenly spread ones.
pick_spread() {
    awk -v n="$1" '{ a[NR] = $0 }
        END { if (NR <= n) { for (i = 1; i <= NR; i++) print a[i] }
              else { for (i = 0; i < n; i++) print a[int(i * NR / n) + 1] } }'
}

# --------------------------------------------------------------------------
# Preflight
# --------------------------------------------------------------------------
for tool in sox soxi find sort awk sed du diff cp; do
    command -v "$tool" >/dev/null || die "'$tool' not found (apt-get install sox libsox-fmt-all)"
done
[[ " $(sox -h 2>&1) " == *" vorbis "* ]] || die "sox cannot read Ogg Vorbis (apt-get install libsox-fmt-all)"
[[ -d $ALSA_DIR ]] || die "$ALSA_DIR missing (apt-get install alsa-utils)"
[[ -d $KT_DIR ]]   || die "$KT_DIR missing (apt-get install ktuberling-data)"
[[ -d $KL_DIR ]]   || die "$KL_DIR missing (apt-get install klettres-data)"
HAVE_ESPEAK=0
command -v espeak-ng >/dev/null && HAVE_ESPEAK=1

# The dvs binary: absolute path, built on demand.
if [[ $DVS != */* ]]; then
    DVS=$(command -v "$DVS") || die "dvs binary '$DVS' not found in PATH"
elif [[ $DVS != /* ]]; then
    DVS="$PWD/$DVS"
fi
if [[ ! -x $DVS ]]; then
    [[ $DVS == "$DEFAULT_DVS" ]] || die "DVS=$DVS is not an executable"
    command -v swift >/dev/null || die "$DVS not found and no 'swift' to build it"
    say "Building dvs: (cd $REPO && swift build -c release)"
    (cd "$REPO" && swift build -c release)
    [[ -x $DVS ]] || die "build finished but $DVS is missing"
fi

# The working folder: refuse to clobber anything we did not create.
MARKER=.dvs-quickstart-workdir
if [[ -e $WORK ]] && [[ -n $(ls -A "$WORK") ]]; then
    [[ -e $WORK/$MARKER ]] || die "$WORK exists and is not empty (and is not an old quickstart folder)"
    echo "Removing previous quickstart run in $WORK"
    rm -rf -- "$WORK"
fi
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
touch "$WORK/$MARKER"
DATASET=$WORK/dataset
SCRATCH=$WORK/.scratch
mkdir -p "$DATASET" "$SCRATCH"

echo "dvs quickstart"
echo "  dvs binary     : $DVS"
echo "  working folder : $WORK"
echo "  dataset        : $DATASET"

# --------------------------------------------------------------------------
# 1. Build the dataset
# --------------------------------------------------------------------------
# Rows file (TSV, internal): path lang text source mode srcfile
ROWS=$SCRATCH/rows.tsv
JOBLIST=$SCRATCH/jobs       # NUL-separated triples: mode src dst
: >"$ROWS"; : >"$JOBLIST"
clip_no=0   # counter over ktuberling + klettres clips (telephony selection)

add_clip() {  # add_clip MODE SRC RELPATH LANG TEXT SOURCE
    local mode=$1 src=$2 rel=$3 lang=$4 text=$5 source=$6
    text=${text//$'\t'/ }
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$rel" "$lang" "$text" "$source" "$mode" "$src" >>"$ROWS"
    printf '%s\0%s\0%s\0' "$mode" "$src" "$DATASET/$rel" >>"$JOBLIST"
}

next_mode() {  # pcm16, except every TEL_EVERY-th clip which is mu-law
    clip_no=$((clip_no + 1))
    if (( clip_no % TEL_EVERY == 0 )); then MODE=mulaw; else MODE=pcm16; fi
}

xml_unescape() {
    local s=$1
    s=${s//&lt;/<}; s=${s//&gt;/>}; s=${s//&quot;/\"}; s=${s//&apos;/\'}; s=${s//&amp;/&}
    printf '%s' "$s"
}

say "Building the dataset from Debian's recordings"
t0=$(now_ms)

# alsa-utils: 8 spoken channel names ("Front Left", ...), 48 kHz mono PCM16,
# copied byte for byte. Noise.wav is pink noise, not speech: skipped.
while IFS= read -r f; do
    stem=$(basename "$f" .wav)
    [[ $stem == Noise ]] && continue
    add_clip copy "$f" "data/alsa/en/$stem.wav" en "${stem//_/ }" alsa
done < <(find "$ALSA_DIR" -maxdepth 1 -type f -name '*.wav' | LC_ALL=C sort)

# ktuberling-data: one folder per language; words as .ogg (Vorbis) or .wav.
# nn/ only has .opus, which Debian's sox cannot decode, so it yields nothing.
# The text is the file name stem: a native word for some languages (fr, es,
# sr, ...), an English key for others (de/ball.ogg is German for "ball").
while IFS= read -r d; do
    lang=$(basename "$d")
    [[ $KT_SKIP == *" $lang "* ]] && continue
    while IFS= read -r f; do
        [[ -n $f ]] || continue
        base=$(basename "$f"); stem=${base%.*}
        next_mode
        text=${stem//_/ }; text=${text//-/ }
        add_clip "$MODE" "$f" "data/ktuberling/$lang/$stem.wav" "$lang" "$text" ktuberling
    done < <(find "$d" -maxdepth 1 -type f \( -name '*.ogg' -o -name '*.wav' \) | LC_ALL=C sort | pick_spread "$KT_PER_LANG")
done < <(find "$KT_DIR" -mindepth 1 -maxdepth 1 -type d | LC_ALL=C sort)

# klettres-data: <lang>/alpha/*.ogg (letters) and <lang>/syllab/*.ogg
# (syllables). <lang>/sounds.xml maps each file to what is said, in the
# language's own script (e.g. ru/alpha/be.ogg -> "Б"); fall back to the stem.
while IFS= read -r d; do
    lang=$(basename "$d")
    [[ -d $d/alpha ]] || continue            # icons/, pics/, id/, nn/ have no audio
    declare -A said=()
    if [[ -f $d/sounds.xml ]]; then
        while IFS=$'\t' read -r file name; do
            said[$file]=$(xml_unescape "$name")
        done < <(grep -o '<sound[^>]*>' "$d/sounds.xml" |
                 sed -n 's/.*name="\([^"]*\)".*file="\([^"]*\)".*/\2\t\1/p')
    fi
    for kind in alpha syllab; do
        [[ -d $d/$kind ]] || continue
        if [[ $kind == alpha ]]; then n=$KL_ALPHA; else n=$KL_SYLLAB; fi
        while IFS= read -r f; do
            [[ -n $f ]] || continue
            base=$(basename "$f"); stem=${base%.*}
            next_mode
            text=${said[$lang/$kind/$base]:-$stem}
            add_clip "$MODE" "$f" "data/klettres/$lang/${kind}_$stem.wav" "$lang" "$text" klettres
        done < <(find "$d/$kind" -maxdepth 1 -type f -name '*.ogg' | LC_ALL=C sort | pick_spread "$n")
    done
    unset said
done < <(find "$KL_DIR" -mindepth 1 -maxdepth 1 -type d | LC_ALL=C sort)

# Create the folders, then convert in parallel. sox -R = repeatable
# (dither is seeded), so every run produces byte-identical files.
cut -f1 "$ROWS" | sed 's|/[^/]*$||' | LC_ALL=C sort -u | (cd "$DATASET" && xargs -d '\n' mkdir -p)

convert_jobs() {  # reads NUL-separated mode/src/dst triples on stdin
    xargs -0 -n 3 -P "$JOBS" sh -c '
        mode=$1 src=$2 dst=$3
        case $mode in
          copy)  cp "$src" "$dst" ;;
          pcm16) sox -R -V1 -G "$src" -r 16000 -c 1 -e signed-integer -b 16 "$dst" ;;
          mulaw) sox -R -V1 -G "$src" -r 8000 -c 1 -e mu-law -b 8 "$dst" ;;
          *)     echo "unknown mode $mode" >&2; exit 1 ;;
        esac' sh
}
convert_jobs <"$JOBLIST"

# labels.csv (path,lang,text,source), RFC 4180 quoting where needed.
write_labels() {
    LC_ALL=C sort -t $'\t' -k1,1 "$ROWS" | awk -F '\t' '
        function q(s) {
            if (s ~ /[",\r\n]/ || s ~ /^ / || s ~ / $/) { gsub(/"/, "\"\"", s); return "\"" s "\"" }
            return s
        }
        BEGIN { print "path,lang,text,source" }
        { print q($1) "," q($2) "," q($3) "," q($4) }' >"$DATASET/labels.csv"
}
write_labels

t1=$(now_ms)
n_clips=$(wc -l <"$ROWS")
n_langs=$(cut -f2 "$ROWS" | LC_ALL=C sort -u | wc -l)
n_pcm=$(awk -F '\t' '$5 == "pcm16"' "$ROWS" | wc -l)
n_mulaw=$(awk -F '\t' '$5 == "mulaw"' "$ROWS" | wc -l)
n_copy=$(awk -F '\t' '$5 == "copy"' "$ROWS" | wc -l)
gen_secs=$(awk -v ms=$((t1 - t0)) 'BEGIN { printf "%.1f", ms / 1000 }')
echo "Built $n_clips clips in $n_langs languages in ${gen_secs}s ($JOBS parallel jobs):"
echo "  $n_pcm x 16 kHz mono PCM16, $n_mulaw x 8 kHz mu-law (telephony), $n_copy x 48 kHz PCM16 (alsa)"
for src in alsa ktuberling klettres; do
    printf '  data/%-11s %3d clips\n' "$src/" "$(awk -F '\t' -v s="$src" '$4 == s' "$ROWS" | wc -l)"
done
[[ $(find "$DATASET/data" -type f -name '*.wav' | wc -l) -eq $n_clips ]] || die "clip count mismatch"

# --------------------------------------------------------------------------
# 2. First commit
# --------------------------------------------------------------------------
say "Version the dataset with dvs"
cd "$DATASET"
show_cmd cd "$DATASET"
run dvs init
run_head 15 dvs status
run dvs commit -m "Initial import: $n_clips clips, $n_langs languages (alsa-utils, ktuberling-data, klettres-data)" \
    --author "Quickstart <quickstart@example.com>"

# A plain copy of commit 1's tree, to compare checkouts against later.
copy_tree() {  # copy_tree DEST: copy the dataset minus .dvs
    rm -rf -- "$1"; mkdir -p "$1"
    find "$DATASET" -mindepth 1 -maxdepth 1 ! -name .dvs -exec cp -a {} "$1"/ \;
}
copy_tree "$WORK/snapshot1-copy"
echo "(saved a plain copy of this tree to $WORK/snapshot1-copy)"

# --------------------------------------------------------------------------
# 3. A labeling pass: re-encode 3 clips, delete 1, add 2, relabel 1
# --------------------------------------------------------------------------
say "Labeling pass 2: edit the dataset"
row_path() {  # row_path AWK-CONDITION: first matching path in sorted rows
    LC_ALL=C sort -t $'\t' -k1,1 "$ROWS" | awk -F '\t' "!found && $1 { print \$1; found = 1 }"
}
REENC=(
    "$(row_path '$4 == "ktuberling" && $5 == "pcm16"')"
    "$(row_path '$4 == "klettres" && $5 == "mulaw"')"
    "$(row_path '$4 == "alsa"')"
)
DELETE=$(row_path '$4 == "ktuberling" && $5 == "pcm16" && ++n == 2')
# Relabel: the first ktuberling word with a scene prefix ("egypt arch"):
# only the object is spoken, so the prefix goes.
RELABEL=$(row_path '$4 == "ktuberling" && $3 ~ /^(egypt|moon|butterflies|pizzeria|robin|tv|xmas|christmas) /')
for p in "${REENC[@]}" "$DELETE" "$RELABEL"; do
    [[ -n $p && -f $p ]] || die "could not pick the clips to edit ('$p')"
done
[[ $(printf '%s\n' "${REENC[@]}" "$DELETE" "$RELABEL" | LC_ALL=C sort -u | wc -l) -eq 5 ]] \
    || die "the clips picked for editing are not distinct"

for p in "${REENC[@]}"; do
    echo "re-encode (gain -3 dB): $p"
    sox -R -V1 "$p" "$SCRATCH/reenc.wav" gain -3
    mv "$SCRATCH/reenc.wav" "$p"
done

echo "delete: $DELETE"
rm -- "$DELETE"
awk -F '\t' -v p="$DELETE" '$1 != p' "$ROWS" >"$ROWS.new" && mv "$ROWS.new" "$ROWS"

old_text=$(awk -F '\t' -v p="$RELABEL" '$1 == p { print $3 }' "$ROWS")
new_text=${old_text#* }
echo "relabel: $RELABEL  \"$old_text\" -> \"$new_text\""
awk -F '\t' -v OFS='\t' -v p="$RELABEL" -v t="$new_text" '$1 == p { $3 = t } { print }' "$ROWS" >"$ROWS.new" \
    && mv "$ROWS.new" "$ROWS"

# New clip 1: a ktuberling word not picked yet, from the first language with
# at least twice KT_PER_LANG words (halfway between its first two picks).
: >"$JOBLIST"
while IFS= read -r d; do
    lang=$(basename "$d")
    [[ $KT_SKIP == *" $lang "* ]] && continue
    m=$(find "$d" -maxdepth 1 -type f \( -name '*.ogg' -o -name '*.wav' \) | wc -l)
    (( m >= 2 * KT_PER_LANG )) || continue
    f=$(find "$d" -maxdepth 1 -type f \( -name '*.ogg' -o -name '*.wav' \) | LC_ALL=C sort | sed -n "$((m / KT_PER_LANG / 2 + 1))p")
    [[ -n $f && ! -e $DATASET/data/ktuberling/$lang/$(basename "${f%.*}").wav ]] || continue
    base=$(basename "$f"); stem=${base%.*}; text=${stem//_/ }; text=${text//-/ }
    echo "add: data/ktuberling/$lang/$stem.wav  (\"$text\")"
    add_clip pcm16 "$f" "data/ktuberling/$lang/$stem.wav" "$lang" "$text" ktuberling
    break
done < <(find "$KT_DIR" -mindepth 1 -maxdepth 1 -type d | LC_ALL=C sort)

# New clip 2: synthetic speech from espeak-ng (a comma in the label
# exercises CSV quoting); without espeak-ng, one more klettres syllable.
if (( HAVE_ESPEAK )); then
    mkdir -p "$DATASET/data/espeak-ng/en"
    espeak-ng -v en -w "$SCRATCH/hello.wav" "hello world"
    echo "add: data/espeak-ng/en/hello_world.wav  (\"hello, world\", espeak-ng)"
    add_clip pcm16 "$SCRATCH/hello.wav" "data/espeak-ng/en/hello_world.wav" en "hello, world" espeak-ng
else
    f=$(find "$KL_DIR/en/syllab" -maxdepth 1 -type f -name '*.ogg' | LC_ALL=C sort | sed -n 2p)
    [[ -n $f ]] || die "no extra clip available to add"
    stem=$(basename "$f" .ogg)
    echo "add: data/klettres/en/syllab_$stem.wav  (espeak-ng not installed)"
    add_clip pcm16 "$f" "data/klettres/en/syllab_$stem.wav" en "$stem" klettres
fi
convert_jobs <"$JOBLIST"
write_labels
echo "labels.csv rewritten: $(($(wc -l <labels.csv) - 1)) rows"

run dvs status
run dvs status --json
# What the pass changed, in dataset terms: samples, labels, hours.
run dvs diff
run dvs commit -m "Labeling pass 2: re-encode 3 clips (-3 dB), drop 1, add 2, fix 1 label" \
    --author "Quickstart <quickstart@example.com>"
copy_tree "$WORK/snapshot2-copy"

# --------------------------------------------------------------------------
# 3b. Labels are understood: validation, queries
# --------------------------------------------------------------------------
say "A bad label row is refused, with file:line, and nothing is committed"
cp labels.csv "$SCRATCH/labels.csv.good"
echo "data/alsa/en/Rear_Centre_Typo.wav,en,rear centre,alsa" >>labels.csv
show_cmd dvs commit -m "this must fail"
if dvs commit -m "this must fail"; then die "a row naming a missing file was committed"; fi
cp "$SCRATCH/labels.csv.good" labels.csv

say "Query the snapshot with SQL: hours per language"
run dvs query "SELECT lang, count(*) AS clips, round(sum(duration_s), 1) AS seconds, round(sum(duration_s) / 3600, 4) AS hours FROM sample GROUP BY lang ORDER BY seconds DESC"
run dvs query "SELECT sample_rate, encoding, count(*) AS clips FROM sample GROUP BY 1, 2 ORDER BY 3 DESC"
run dvs query "SELECT count(*) AS shorter_than_half_a_second FROM sample WHERE duration_s < 0.5"

say "Labeling pass 3: a reviewer fixes the language of three clips"
mapfile -t RELANG < <(tail -n +2 labels.csv | awk -F, '/^data\/ktuberling\// && /,de,/ && n < 3 { print $1; n++ }')
(( ${#RELANG[@]} == 3 )) || die "could not pick three German clips to relabel"
for p in "${RELANG[@]}"; do
    echo "relabel: $p  lang de -> de-AT"
    awk -F '\t' -v OFS='\t' -v p="$p" '$1 == p { $2 = "de-AT" } { print }' "$ROWS" >"$ROWS.new" && mv "$ROWS.new" "$ROWS"
done
write_labels
run dvs diff
run dvs commit -m "Labeling pass 3: three clips are Austrian German" --author "Quickstart <quickstart@example.com>"
run dvs diff --stat HEAD~1 HEAD
run dvs query --rev HEAD~1 "SELECT lang, count(*) AS clips FROM sample WHERE lang LIKE 'de%' GROUP BY lang"
run dvs query "SELECT lang, count(*) AS clips FROM sample WHERE lang LIKE 'de%' GROUP BY lang"

# --------------------------------------------------------------------------
# 4. History and inspection
# --------------------------------------------------------------------------
say "Look around"
run dvs log
run_head 10 dvs ls HEAD
run dvs show HEAD
run_head 3 dvs cat HEAD:labels.csv

# --------------------------------------------------------------------------
# 5. Time travel, verified byte for byte
# --------------------------------------------------------------------------
say "Check out the first commit and compare with the saved copy"
run dvs checkout HEAD~2
show_cmd diff -r --exclude=.dvs ../snapshot1-copy .
diff -r --exclude=.dvs "$WORK/snapshot1-copy" . || die "checkout HEAD~2 does not match the first commit's tree"
echo "(identical)"

run dvs checkout main~1
show_cmd diff -r --exclude=.dvs ../snapshot2-copy .
diff -r --exclude=.dvs "$WORK/snapshot2-copy" . || die "checkout main~1 does not match the second commit's tree"
echo "(identical)"
run dvs checkout main

say "Export the first commit to another folder without moving HEAD"
run dvs checkout HEAD~2 --to "$WORK/export1"
show_cmd diff -r --exclude=.dvs ../snapshot1-copy ../export1
diff -r --exclude=.dvs "$WORK/snapshot1-copy" "$WORK/export1" || die "export of HEAD~2 does not match the first commit's tree"
echo "(identical)"

say "Verify the object store"
run dvs fsck

# --------------------------------------------------------------------------
# 6. Cohorts: a branch per language, relabeled, refreshed, merged back
# --------------------------------------------------------------------------
say "Cut a cohort per language (metadata only: no audio is copied)"
n_before=$(dvs query --format csv "SELECT count(*) FROM sample" | tail -n 1)
mapfile -t LANGS < <(dvs query --format csv "SELECT DISTINCT lang FROM sample ORDER BY lang" | tail -n +2)
for l in "${LANGS[@]}"; do
    show_cmd dvs cohort create "$l" --where "lang = '$l'"
    out=$(dvs cohort create "$l" --where "lang = '$l'")
    echo "${out%%$'\n'*}"
done
run dvs cohort list

# One French clip whose label row is plain (no quotes), reviewed on the cohort.
# awk reads to the end (no early exit): under pipefail an early exit would
# SIGPIPE sort and fail the script whenever sort was still writing.
FR=$(LC_ALL=C sort -t $'\t' -k1,1 "$ROWS" | awk -F '\t' 'found == "" && $2 == "fr" && $4 == "ktuberling" && $3 !~ /[",]/ { found = $1 } END { print found }')
[[ -n $FR ]] || die "no French ktuberling clip to review"
FR_TEXT=$(awk -F '\t' -v p="$FR" '$1 == p { print $3 }' "$ROWS")
say "Label on the French cohort: a reviewer corrects one transcript"
run dvs checkout cohort/fr
sed -i "s|^$FR,fr,$FR_TEXT,ktuberling\$|$FR,fr,$FR_TEXT (reviewed),ktuberling|" labels.csv
run dvs diff
run dvs commit -m "French cohort: review the transcript of $FR" --author "Reviewer <reviewer@example.com>"

say "Meanwhile on main: a new French clip lands, and the same row gets a new source tag"
run dvs checkout main
sed -i "s|^$FR,fr,$FR_TEXT,ktuberling\$|$FR,fr,$FR_TEXT,ktuberling-checked|" labels.csv
: >"$JOBLIST"
if (( HAVE_ESPEAK )); then
    espeak-ng -v fr -w "$SCRATCH/bonjour.wav" "bonjour tout le monde"
else
    cp "$(find "$KL_DIR/fr/syllab" -maxdepth 1 -type f -name '*.ogg' | LC_ALL=C sort | sed -n 3p)" "$SCRATCH/bonjour.ogg"
    sox -R -V1 "$SCRATCH/bonjour.ogg" "$SCRATCH/bonjour.wav"
fi
mkdir -p data/espeak-ng/fr
add_clip pcm16 "$SCRATCH/bonjour.wav" "data/espeak-ng/fr/bonjour.wav" fr "bonjour tout le monde" espeak-ng
convert_jobs <"$JOBLIST"
echo "data/espeak-ng/fr/bonjour.wav,fr,bonjour tout le monde,espeak-ng" >>labels.csv
run dvs commit -m "New French clip; source tag checked" --author "Quickstart <quickstart@example.com>"
run dvs cohort show fr

say "Refresh the French cohort: the new clip and main's relabel come in, the review stays"
run dvs cohort refresh fr
run dvs query --rev cohort/fr "SELECT path, text, source FROM sample WHERE path = '$FR' OR path LIKE 'data/espeak-ng/fr/%'"

say "Merge the cohort back into main: by sample and by label field"
run dvs merge cohort/fr
run dvs log --graph -n 8
row=$(grep "^$FR," labels.csv)
[[ $row == "$FR,fr,$FR_TEXT (reviewed),ktuberling-checked" ]] || die "the merged row is '$row'"
n_after=$(dvs query --format csv "SELECT count(*) FROM sample" | tail -n 1)
(( n_after == n_before + 1 )) || die "main has $n_after samples after the merge, expected $((n_before + 1))"
echo "(main keeps all $n_after samples; $FR carries both fields: '$row')"
run dvs fsck

# --------------------------------------------------------------------------
# 7. Lineage: train a language-ID baseline on a cohort, evaluate it, audit it
# --------------------------------------------------------------------------
say "Train a language-identification baseline on a five-language cohort, read straight from the packs"
run dvs cohort create lid --where "lang IN ('da', 'de', 'en', 'fr', 'lt')"
run dvs train --rev cohort/lid --label lang --holdout 0.25 --out "$WORK/lid.dvsm"
say "Evaluate it per language (the training snapshot: dvs warns about the leaked samples)"
run dvs eval --model "$WORK/lid.dvsm" --rev cohort/lid --by lang
say "Audit: which data made this model, and which models saw French audio?"
run dvs audit "$WORK/lid.dvsm"
run dvs audit --samples "lang = 'fr'"
run dvs models

# --------------------------------------------------------------------------
# Summary
# --------------------------------------------------------------------------
rm -rf -- "$SCRATCH"
say "Summary"
echo "  working folder      : $WORK"
echo "  clips               : $(find data -type f -name '*.wav' | wc -l) ($(tail -n +2 labels.csv | cut -d, -f2 | LC_ALL=C sort -u | wc -l) languages)"
echo "  generation time     : ${gen_secs}s"
echo "  audio (data/)       : $(du -sh data | cut -f1)"
echo "  tree without .dvs   : $(du -sh --exclude=.dvs . | cut -f1)"
echo "  cohorts             : $((${#LANGS[@]} + 1)) (one per language, and lid)"
echo "  models              : $(dvs models --json | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')"
echo "  .dvs                : $(du -sh .dvs | cut -f1)"
echo "quickstart OK"
