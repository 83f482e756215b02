#!/usr/bin/env bash
# bench/bench.sh -- benchmark dvs against DVC (driven with git) and Git LFS on one
# generated speech corpus, in one run, tools interleaved within each repetition.
# This is a benchmark, not a test: it never fails on a missed target, it reports it.
#
#   bench/bench.sh [--n 10000] [--reps 3] [--tools dvs,dvc,lfs,codec] [--dvs PATH]
#                  [--seed 42] [--mutate-seed 1] [--jobs J] [--keep] [--no-install]
#
# Everything it makes lives under ${DVS_BENCH_DIR:-/tmp/dvs-bench} (never in the repo):
#   corpus-N/            cached corpus (make_corpus.py --n N --seed 42), reused if present
#   corpus-N-mutK/       the same corpus after `make_corpus.py --mutate 0.01 --mutate-seed K`
#   corpus-N*.sha256     sha256 lists used for the byte-exact round-trip checks
#   run-N/               per-tool/per-rep working copies (deleted after each rep unless --keep),
#                        logs/ (stdout+stderr of every timed command), samples.tsv
#   results-N.json       all samples, medians, ratios and targets
#   codec-N/             the codec table (bench/codec.sh): per format, dvs vs flac -5 and zstd -3
#   venv/                DVC, pip-installed here when no working `dvc` is on PATH
# See bench/README.md for what is measured and how to read the output.
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR=${DVS_BENCH_DIR:-/tmp/dvs-bench}
MAKE_CORPUS=${DVS_BENCH_MAKE_CORPUS:-$REPO/bench/make_corpus.py}
N=10000
REPS=3
TOOLS=dvs,dvc,lfs,codec
DVS_BIN=
SEED=42
MUT_SEED=1
MUT_FRAC=0.01
JOBS=$(nproc 2>/dev/null || echo 2)
KEEP=0
INSTALL=1

usage() { sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
die() { echo "bench: $*" >&2; exit 2; }
say() { echo "bench: $*" >&2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --n) N=${2:?}; shift 2 ;;
    --n=*) N=${1#*=}; shift ;;
    --reps) REPS=${2:?}; shift 2 ;;
    --reps=*) REPS=${1#*=}; shift ;;
    --tools) TOOLS=${2:?}; shift 2 ;;
    --tools=*) TOOLS=${1#*=}; shift ;;
    --dvs) DVS_BIN=${2:?}; shift 2 ;;
    --dvs=*) DVS_BIN=${1#*=}; shift ;;
    --seed) SEED=${2:?}; shift 2 ;;
    --mutate-seed) MUT_SEED=${2:?}; shift 2 ;;
    --jobs) JOBS=${2:?}; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --no-install) INSTALL=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done
[[ $N =~ ^[1-9][0-9]*$ ]] || die "--n must be a positive integer"
[[ $REPS =~ ^[1-9][0-9]*$ ]] || die "--reps must be a positive integer"
[[ $SEED =~ ^[0-9]+$ && $MUT_SEED =~ ^[1-9][0-9]*$ ]] || die "bad --seed/--mutate-seed"
declare -A WANT=()
SEL=()
IFS=, read -r -a _t <<<"$TOOLS"
for t in "${_t[@]}"; do
  case "$t" in dvs|dvc|lfs) [ -z "${WANT[$t]:-}" ] && SEL+=("$t"); WANT[$t]=1 ;; codec) WANT[codec]=1 ;; "") ;;
    *) die "unknown tool '$t' (dvs,dvc,lfs,codec)" ;; esac
done
[ ${#SEL[@]} -gt 0 ] || [ -n "${WANT[codec]:-}" ] || die "--tools selects nothing"
[ -x "$MAKE_CORPUS" ] || die "corpus generator not found: $MAKE_CORPUS (set DVS_BENCH_MAKE_CORPUS)"
mkdir -p "$BENCH_DIR" || die "cannot create $BENCH_DIR"
BENCH_DIR=$(cd "$BENCH_DIR" && pwd)

# Git identity for every repo the peers create: environment only, no global config.
export GIT_AUTHOR_NAME="dvs bench" GIT_AUTHOR_EMAIL="bench@dvs.invalid"
export GIT_COMMITTER_NAME="dvs bench" GIT_COMMITTER_EMAIL="bench@dvs.invalid"
export GIT_TERMINAL_PROMPT=0 DVC_NO_ANALYTICS=1 PYTHONWARNINGS=ignore

# ---------------------------------------------------------------- dependencies
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }

ensure_apt() {
  local pkgs=()
  command -v python3 >/dev/null || pkgs+=(python3 python3-venv)
  command -v git >/dev/null || pkgs+=(git)
  command -v espeak-ng >/dev/null || pkgs+=(espeak-ng)
  { command -v sox >/dev/null && command -v soxi >/dev/null; } || pkgs+=(sox)
  [ -x /usr/bin/time ] || pkgs+=(time)
  if [ -n "${WANT[lfs]:-}" ] && ! git lfs version >/dev/null 2>&1; then pkgs+=(git-lfs); fi
  if [ -n "${WANT[codec]:-}" ]; then command -v flac >/dev/null || pkgs+=(flac); command -v zstd >/dev/null || pkgs+=(zstd); fi
  [ ${#pkgs[@]} -eq 0 ] && return 0
  [ "$INSTALL" = 1 ] || die "missing Debian packages: ${pkgs[*]} (run without --no-install, or apt-get install -y ${pkgs[*]})"
  say "installing Debian packages: ${pkgs[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null &&
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}" >/dev/null ||
    die "apt-get install ${pkgs[*]} failed"
}

DVC=
ensure_dvc() {
  if [ -n "${DVS_BENCH_DVC:-}" ]; then DVC=$DVS_BENCH_DVC
  elif dvc --version >/dev/null 2>&1; then DVC=$(command -v dvc)
  else
    DVC=$BENCH_DIR/venv/bin/dvc
    if ! "$DVC" --version >/dev/null 2>&1; then
      [ "$INSTALL" = 1 ] || die "dvc not found (run without --no-install, or pip install dvc)"
      say "installing DVC into $BENCH_DIR/venv (pip install ${DVS_BENCH_DVC_SPEC:-dvc})"
      { python3 -m venv "$BENCH_DIR/venv" &&
        "$BENCH_DIR/venv/bin/pip" install -q --disable-pip-version-check "${DVS_BENCH_DVC_SPEC:-dvc}"; } >&2 ||
        die "pip install dvc failed"
    fi
  fi
  "$DVC" --version >/dev/null 2>&1 || die "dvc at $DVC does not run"
}

DVS=
ensure_dvs() {
  if [ -n "$DVS_BIN" ]; then
    [ -x "$DVS_BIN" ] || die "--dvs $DVS_BIN is not an executable"
  else
    DVS_BIN=$REPO/.build/release/dvs
    local stale=
    [ -x "$DVS_BIN" ] && stale=$(cd "$REPO" && find Sources Package.swift -newer "$DVS_BIN" -print -quit 2>/dev/null)
    if [ ! -x "$DVS_BIN" ] || [ -n "$stale" ]; then
      say "building dvs: swift build -c release (in $REPO)"
      (cd "$REPO" && swift build -c release) >&2 || die "swift build -c release failed"
      [ -x "$DVS_BIN" ] || die "no $DVS_BIN after swift build"
    fi
  fi
  DVS=$(cd "$(dirname "$DVS_BIN")" && pwd)/$(basename "$DVS_BIN")
}

ensure_apt
[ -n "${WANT[dvc]:-}" ] && ensure_dvc
{ [ -n "${WANT[dvs]:-}" ] || [ -n "${WANT[codec]:-}" ]; } && ensure_dvs
export DVS DVC

# ---------------------------------------------------------------- corpus
sha_list() { # DIR [find-exclusions...] -> "sha  ./path" lines sorted by path
  local d=$1; shift
  (cd "$d" && find . -type f "$@" -print0 | xargs -0 -r -n 64 -P "$JOBS" sha256sum | LC_ALL=C sort -k2)
}

CORPUS=$BENCH_DIR/corpus-$N
[ "$SEED" = 42 ] || CORPUS=$BENCH_DIR/corpus-$N-s$SEED
MUT=$CORPUS-mut$MUT_SEED
if [ ! -f "$CORPUS/manifest.json" ]; then
  say "generating corpus: $MAKE_CORPUS --out $CORPUS --n $N --seed $SEED --jobs $JOBS"
  rm -rf "$CORPUS.tmp"
  "$MAKE_CORPUS" --out "$CORPUS.tmp" --n "$N" --seed "$SEED" --jobs "$JOBS" >&2 || die "corpus generation failed"
  rm -f "$CORPUS.sha256"; rm -rf "$MUT" "$MUT.sha256"
  mv "$CORPUS.tmp" "$CORPUS"
fi
python3 - "$CORPUS/manifest.json" "$N" "$SEED" <<'PY' || die "$CORPUS is not a --n $N --seed $SEED corpus (remove it)"
import json, sys
m = json.load(open(sys.argv[1]))
sys.exit(0 if (m["n"], m["seed"], m.get("mutations")) == (int(sys.argv[2]), int(sys.argv[3]), None) else 1)
PY
if [ ! -f "$MUT/manifest.json" ]; then
  # The mutation is applied once to a copy and the changed files are then overlaid on each
  # tool's working copy: identical changes for every tool, and the generator never walks a
  # tool's store (its --mutate recounts every file under --out).
  say "mutating a copy: --mutate $MUT_FRAC --mutate-seed $MUT_SEED"
  rm -rf "$MUT.tmp" "$MUT.sha256" && cp -a "$CORPUS" "$MUT.tmp" &&
    "$MAKE_CORPUS" --out "$MUT.tmp" --mutate "$MUT_FRAC" --mutate-seed "$MUT_SEED" --jobs "$JOBS" >&2 &&
    mv "$MUT.tmp" "$MUT" || die "mutation failed"
fi
[ -s "$CORPUS.sha256" ] || sha_list "$CORPUS" >"$CORPUS.sha256" || die "sha256 of corpus failed"
[ -s "$MUT.sha256" ] || sha_list "$MUT" >"$MUT.sha256" || die "sha256 of mutated corpus failed"
MUT_CHANGED=$BENCH_DIR/.mut-$N-$MUT_SEED.changed
MUT_DELETED=$BENCH_DIR/.mut-$N-$MUT_SEED.deleted
awk 'NR == FNR {h[$2] = $1; next} h[$2] != $1 {print $2}' "$CORPUS.sha256" "$MUT.sha256" >"$MUT_CHANGED"
awk 'NR == FNR {h[$2] = 1; next} !($2 in h) {print $2}' "$MUT.sha256" "$CORPUS.sha256" >"$MUT_DELETED"
RAW_BYTES=$(find "$CORPUS" -type f -printf '%s\n' | awk '{s+=$1} END {printf "%d", s}')
RAW_FILES=$(wc -l <"$CORPUS.sha256")
say "corpus $CORPUS: $RAW_FILES files, $RAW_BYTES bytes; mutation changes $(wc -l <"$MUT_CHANGED") files"

apply_mutation() { # DIR: overlay the mutated files (new inode + mtime, like the generator's os.replace)
  local dst=$1 p
  while IFS= read -r p; do
    mkdir -p "$dst/$(dirname "$p")" && cp --remove-destination "$MUT/$p" "$dst/$p" || return 1
  done <"$MUT_CHANGED"
  while IFS= read -r p; do rm -f "$dst/$p"; done <"$MUT_DELETED"
}

avail=$(df -B1 --output=avail "$BENCH_DIR" | tail -1)
need=$((RAW_BYTES * 5))
[ "$KEEP" = 1 ] && need=$((RAW_BYTES * 4 * REPS * ${#SEL[@]}))
[ "$avail" -gt "$need" ] || say "WARNING: $avail bytes free in $BENCH_DIR, about $need needed"

# ---------------------------------------------------------------- timing
RUN=$BENCH_DIR/run-$N
rm -rf "$RUN" && mkdir -p "$RUN/logs" || die "cannot create $RUN"
SAMPLES=$RUN/samples.tsv
ERRORS=$RUN/errors.tsv
: >"$SAMPLES"; : >"$ERRORS"

T=0 RSS=0
sub() { awk -v a="${1/,/.}" -v b="${2/,/.}" 'BEGIN {printf "%.6f", b - a}'; }
# timed TOOL REP STEP DIR RSS(0/1) SCRIPT: run SCRIPT (an && chain) in DIR; sets T (s), RSS (KiB).
# With RSS=1 it runs under /usr/bin/time -f %M inside bash -c (max RSS of the largest process);
# otherwise it is eval'ed in this shell, so only the tool's own fork/exec is timed.
timed() {
  local tool=$1 rep=$2 step=$3 dir=$4 rss=$5 script=$6 log="$RUN/logs/$1-r$2-$3.log" t0 t1 rc
  sync
  cd "$dir" || return 99
  echo "\$ $script" >"$log"
  if [ "$rss" = 1 ]; then
    t0=$EPOCHREALTIME
    /usr/bin/time -f %M -o "$log.rss" bash -c "$script" >>"$log" 2>&1; rc=$?
    t1=$EPOCHREALTIME
    RSS=$(tail -1 "$log.rss"); [[ $RSS =~ ^[0-9]+$ ]] || RSS=0
  else
    t0=$EPOCHREALTIME
    eval "$script" >>"$log" 2>&1; rc=$?
    t1=$EPOCHREALTIME
    RSS=0
  fi
  cd "$BENCH_DIR" || return 99
  T=$(sub "$t0" "$t1")
  if [ $rc -ne 0 ]; then
    printf '%s\t%s\t%s\t%s\t%s\n' "$tool" "$rep" "$step" "$rc" "$log" >>"$ERRORS"
    say "  $tool rep $rep: $step FAILED (exit $rc), see $log:"
    tail -5 "$log" | sed 's/^/      /' >&2
  fi
  return $rc
}
sample() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$SAMPLES"; }
fail_step() { printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" >>"$ERRORS"; say "  $1 rep $2: $3 FAILED: $5"; }

verify() { # TOOL REP DIR [find-exclusions...]: byte-exact comparison with the original corpus
  local tool=$1 rep=$2 d=$3; shift 3
  if sha_list "$d" "$@" >"$RUN/export.sha256" && cmp -s "$CORPUS.sha256" "$RUN/export.sha256"; then
    sample "$tool" "$rep" roundtrip 1
  else
    sample "$tool" "$rep" roundtrip 0
    diff "$CORPUS.sha256" "$RUN/export.sha256" >"$RUN/logs/$tool-r$rep-roundtrip.diff"
    say "  $tool rep $rep: checkout is NOT byte-identical to the corpus ($(grep -c '^[<>]' "$RUN/logs/$tool-r$rep-roundtrip.diff") differing lines, see $RUN/logs/$tool-r$rep-roundtrip.diff)"
  fi
}
store_bytes() { du -sb "$1" 2>/dev/null | awk '{print $1}' | grep . || echo 0; }
first_dvs_id() {
  (cd "$1" && "$DVS" log --json -n 1) 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])' 2>/dev/null
}
fmt() { awk -v v="$1" 'BEGIN {printf (v < 1 ? "%.0f ms" : "%.2f s"), (v < 1 ? v * 1000 : v)}'; }

# One repetition of every measure for one tool, in a fresh `cp -a` copy of the corpus.
#   W/repo    the tool's working copy (for DVC the corpus is W/repo/data, tracked by one `dvc add data`)
#   W/export  the empty tree the first commit is checked out into (dvs --to, git worktree for LFS)
run_tool() {
  local tool=$1 rep=$2 W=$RUN/$1-r$2 data first init_t rss1
  rm -rf "$W" && mkdir -p "$W" || return 1
  if [ "$tool" = dvc ]; then mkdir -p "$W/repo"; data=$W/repo/data; else data=$W/repo; fi
  cp -a "$CORPUS" "$data" || { fail_step "$tool" "$rep" copy 1 "cp -a failed"; return 1; }
  # DVC keeps its hash/link caches outside the repo (/var/tmp/dvc/repo/<hash of the path>); a
  # stale one from an earlier run at the same path (same inodes, mtimes, sizes) would let it skip
  # hashing. Give each working copy its own, deleted with it.
  export DVC_SITE_CACHE_DIR=$W/dvc-site-cache

  # 1. initial add+commit (init timed separately, headline = init + commit), 6. peak RSS
  case $tool in
    dvs) timed dvs "$rep" init "$W/repo" 1 '"$DVS" init' ;;
    dvc) timed dvc "$rep" init "$W/repo" 1 'git init -q -b main && "$DVC" init -q' ;;
    lfs) timed lfs "$rep" init "$W/repo" 1 'git init -q -b main && git lfs install --local >/dev/null && git lfs track "*.wav"' ;;
  esac || return 1
  init_t=$T; rss1=$RSS
  # The commit stores audio past pack.defer-audio-after as it is and would start `dvs repack` in
  # the background; here the repack runs in the foreground after it, timed on its own, so that no
  # measure overlaps it and the store is measured coded.
  [ "$tool" = dvs ] && (cd "$W/repo" && "$DVS" config pack.auto-repack false)
  case $tool in
    dvs) timed dvs "$rep" commit "$W/repo" 1 '"$DVS" commit -m init' ;;
    dvc) timed dvc "$rep" commit "$W/repo" 1 '"$DVC" add -q data && git add -A && git commit -q -m init' ;;
    lfs) timed lfs "$rep" commit "$W/repo" 1 'git add . && git commit -q -m init' ;;
  esac || return 1
  sample "$tool" "$rep" init_s "$init_t"
  sample "$tool" "$rep" commit_s "$T"
  # Headline: dvs init + commit; for the peers add + commit only, like the reference figures
  # (`git init`, `dvc init`, `git lfs install/track` are setup, reported as init_s).
  if [ "$tool" = dvs ]; then
    sample dvs "$rep" initial_commit_s "$(awk -v a="$init_t" -v b="$T" 'BEGIN {printf "%.6f", a + b}')"
  else
    sample "$tool" "$rep" initial_commit_s "$T"
  fi
  [ "$RSS" -gt "$rss1" ] && rss1=$RSS
  sample "$tool" "$rep" initial_commit_rss_kib "$rss1"
  say "  $tool rep $rep: init $(fmt "$init_t"), initial add+commit $(fmt "$T"), peak RSS $((rss1 / 1024)) MiB"
  if [ "$tool" = dvs ]; then
    local commit_t=$T
    timed dvs "$rep" repack "$W/repo" 1 '"$DVS" repack' && {
      sample dvs "$rep" repack_s "$T"
      sample dvs "$rep" commit_repack_s "$(awk -v a="$init_t" -v b="$commit_t" -v c="$T" 'BEGIN {printf "%.6f", a + b + c}')"
      sample dvs "$rep" repack_rss_kib "$RSS"
      say "  dvs rep $rep: repack of the audio the commit stored as it is $(fmt "$T"), peak RSS $((RSS / 1024)) MiB"
    }
  fi

  # 5. store size after the initial commit (for dvs, after its repack)
  case $tool in
    dvs) first=$(first_dvs_id "$W/repo"); [ -n "$first" ] || { fail_step dvs "$rep" log-json 1 "dvs log --json -n 1 gave no id; using HEAD~1 after the second commit"; first=; }
         sample dvs "$rep" store_bytes "$(store_bytes "$W/repo/.dvs")" ;;
    dvc) first=$(git -C "$W/repo" rev-parse HEAD); sample dvc "$rep" store_bytes "$(store_bytes "$W/repo/.dvc/cache")" ;;
    lfs) first=$(git -C "$W/repo" rev-parse HEAD); sample lfs "$rep" store_bytes "$(store_bytes "$W/repo/.git/lfs")" ;;
  esac

  # 2. no-op status right after the commit
  case $tool in
    dvs) timed dvs "$rep" status "$W/repo" 0 '"$DVS" status' ;;
    dvc) timed dvc "$rep" status "$W/repo" 0 '"$DVC" status' ;;
    lfs) timed lfs "$rep" status "$W/repo" 0 'git status' ;;
  esac && { sample "$tool" "$rep" status_s "$T"; say "  $tool rep $rep: no-op status $(fmt "$T")"; }

  # 3. 1 % change + relabel (same changed files for every tool), then commit
  apply_mutation "$data" || { fail_step "$tool" "$rep" mutate 1 "overlay failed"; return 1; }
  case $tool in
    dvs) timed dvs "$rep" change_commit "$W/repo" 1 '"$DVS" commit -m m2' ;;
    dvc) timed dvc "$rep" change_commit "$W/repo" 1 '"$DVC" add -q data && git commit -q -am m2' ;;
    lfs) timed lfs "$rep" change_commit "$W/repo" 1 'git add -A && git commit -q -m m2' ;;
  esac && { sample "$tool" "$rep" change_commit_s "$T"; sample "$tool" "$rep" change_commit_rss_kib "$RSS"
            say "  $tool rep $rep: 1 % change commit $(fmt "$T")"; }

  # 4. full checkout of the first commit into an empty tree, then the byte-exact check
  local ok=1
  case $tool in
    dvs) [ -n "$first" ] || first=HEAD~1
         export FIRST=$first EXPORT=$W/export
         timed dvs "$rep" checkout "$W/repo" 1 '"$DVS" checkout "$FIRST" --to "$EXPORT"' || ok=0 ;;
    dvc) # DVC has no export-to-folder: the restore is `dvc checkout` into a workspace whose data
         # directory was deleted, after pointing git at the first commit's data.dvc (one copy
         # per file from .dvc/cache, like dvs writing the export from its store).
         rm -rf "$data"; export FIRST=$first
         timed dvc "$rep" checkout "$W/repo" 1 'git checkout -q --detach "$FIRST" && "$DVC" checkout -q' || ok=0 ;;
    lfs) # a new worktree of the first commit in an empty folder: git writes the small files and
         # git-lfs smudges every *.wav from .git/lfs/objects (one copy per file, no clone/fetch).
         export FIRST=$first EXPORT=$W/export
         timed lfs "$rep" checkout "$W/repo" 1 'git worktree add -q --detach "$EXPORT" "$FIRST"' || ok=0 ;;
  esac
  if [ $ok = 1 ]; then
    sample "$tool" "$rep" checkout_s "$T"
    sample "$tool" "$rep" checkout_rss_kib "$RSS"
    say "  $tool rep $rep: full checkout $(fmt "$T")"
    case $tool in
      dvs) verify dvs "$rep" "$W/export" ;;
      dvc) verify dvc "$rep" "$data" ;;
      lfs) verify lfs "$rep" "$W/export" ! -path ./.git ! -path './.git/*' ! -path ./.gitattributes ;;
    esac
  fi
  return 0
}

declare -A LABEL=([dvs]=dvs [dvc]=DVC [lfs]="Git LFS")
say "n=$N reps=$REPS tools=${SEL[*]} work=$RUN"
for ((rep = 1; rep <= REPS; rep++)); do
  for tool in "${SEL[@]}"; do
    say "rep $rep/$REPS: ${LABEL[$tool]}"
    run_tool "$tool" "$rep" || say "  $tool rep $rep: remaining measures skipped"
    if [ "$KEEP" = 0 ]; then
      git -C "$RUN/$tool-r$rep/repo" worktree prune >/dev/null 2>&1
      rm -rf "${RUN:?}/$tool-r$rep"
    fi
  done
done

# ---------------------------------------------------------------- report
# Codecs only (--tools codec): no peers' table, and results-N.json of an earlier run is left alone.
if [ ${#SEL[@]} -eq 0 ]; then
  "$REPO/bench/codec.sh" "$CORPUS" "$DVS" "$BENCH_DIR/codec-$N" | tee "$BENCH_DIR/codec-$N.txt"
  exit 0
fi
ver() { "$@" 2>/dev/null | head -1; }
export BENCH_N=$N BENCH_REPS=$REPS BENCH_SEED=$SEED BENCH_MUT_SEED=$MUT_SEED BENCH_TOOLS="${SEL[*]}"
export BENCH_RAW_BYTES=$RAW_BYTES BENCH_RAW_FILES=$RAW_FILES BENCH_CORPUS=$CORPUS BENCH_RUN=$RUN
BENCH_MUT_FILES=$(wc -l <"$MUT_CHANGED")
BENCH_V_DVS='' BENCH_V_DVC='' BENCH_V_LFS=''
[ -n "${WANT[dvs]:-}" ] && { BENCH_V_DVS=$(ver "$DVS" --version); [ -n "$BENCH_V_DVS" ] || BENCH_V_DVS=$DVS; }
[ -n "${WANT[dvc]:-}" ] && BENCH_V_DVC=$(ver "$DVC" --version)
[ -n "${WANT[lfs]:-}" ] && BENCH_V_LFS=$(ver git lfs version)
BENCH_V_GIT=$(ver git --version)
export BENCH_MUT_FILES BENCH_V_DVS BENCH_V_DVC BENCH_V_LFS BENCH_V_GIT
export BENCH_OUT=$BENCH_DIR/results-$N.json
python3 - "$SAMPLES" "$ERRORS" <<'PY'
import json, os, platform, statistics, sys, time
E = os.environ
samples, errors = {}, []
for line in open(sys.argv[1]):
    tool, rep, key, val = line.rstrip("\n").split("\t")
    samples.setdefault(tool, {}).setdefault(key, []).append(float(val))
for line in open(sys.argv[2]):
    tool, rep, step, rc, log = line.rstrip("\n").split("\t")
    errors.append(dict(tool=tool, rep=int(rep), step=step, rc=rc, log=log))
tools = E["BENCH_TOOLS"].split()
raw = int(E["BENCH_RAW_BYTES"])

def med(tool, key):
    v = samples.get(tool, {}).get(key)
    return statistics.median(v) if v else None

medians = {t: {k: med(t, k) for k in samples.get(t, {})} for t in tools}
for t in tools:
    sb = medians[t].get("store_bytes")
    medians[t]["store_ratio"] = sb / raw if sb is not None else None
    rt = samples.get(t, {}).get("roundtrip")
    medians[t]["roundtrip"] = (min(rt) == 1) if rt else None

def get(t, k): return medians.get(t, {}).get(k)
def ratio(k, peer):
    a, b = get("dvs", k), get(peer, k)
    return a / b if a is not None and b not in (None, 0) else None

rows = [  # key, measure, unit, target text, check(dvs value, ratios) -> bool|None
    ("initial_commit_s", "initial commit of the corpus", "s", "≤ 0.4 × DVC",
     lambda v, r: None if r["dvc"] is None else r["dvc"] <= 0.4),
    ("repack_s", "`dvs repack` after it (audio past pack.defer-audio-after)", "s", "— (reported)",
     lambda v, r: None),
    ("commit_repack_s", "initial commit + repack, the whole CPU of a coded store", "s", "— (reported)",
     lambda v, r: None),
    ("status_s", "no-op `status`", "s", "≤ 50 ms (absolute)",
     lambda v, r: None if v is None else v <= 0.050),
    ("change_commit_s", "1 % change + relabel, then commit", "s", "≤ 0.5 × Git LFS",
     lambda v, r: None if r["lfs"] is None else r["lfs"] <= 0.5),
    ("checkout_s", "full checkout into an empty tree", "s", "≤ 0.5 × DVC restore",
     lambda v, r: None if r["dvc"] is None else r["dvc"] <= 0.5),
    ("store_ratio", "store size after the initial commit (and repack) ÷ raw", "x", "≤ 0.65 × raw corpus bytes, round trip byte-exact",
     lambda v, r: None if v is None else (v <= 0.65 and get("dvs", "roundtrip") is True)),
    ("initial_commit_rss_kib", "peak RSS during the initial commit", "KiB", "≤ 100 MiB",
     lambda v, r: None if v is None else v <= 100 * 1024),
]

def cell(v, unit):
    if v is None: return "—"
    if unit == "s": return f"{v*1000:.0f} ms" if v < 1 else f"{v:.2f} s"
    if unit == "x": return f"{v:.3f}× raw"
    return f"{v/1024:.1f} MiB"

results = []
hdr = ["measure", "dvs", "DVC", "Git LFS", "dvs/DVC", "dvs/LFS", "target", "met"]
table = []
for key, name, unit, target, check in rows:
    r = {p: ratio(key, p) for p in ("dvc", "lfs")}
    v = get("dvs", key)
    ok = check(v, r) if "dvs" in tools else None
    if key == "store_ratio" and "dvs" in tools and get("dvs", "roundtrip") is False: ok = False
    results.append(dict(key=key, measure=name, target=target, met=ok,
                        dvs=v, dvc=get("dvc", key), lfs=get("lfs", key), dvs_over_dvc=r["dvc"], dvs_over_lfs=r["lfs"]))
    table.append([name, cell(v, unit), cell(get("dvc", key), unit), cell(get("lfs", key), unit),
                  "—" if r["dvc"] is None else f"{r['dvc']:.2f}", "—" if r["lfs"] is None else f"{r['lfs']:.2f}",
                  target, {True: "yes", False: "NO", None: "—"}[ok]])

w = [max(len(x[i]) for x in table + [hdr]) for i in range(len(hdr))]
line = lambda cols: "| " + " | ".join(c.ljust(w[i]) for i, c in enumerate(cols)) + " |"
print()
print(f"dvs benchmark: {int(E['BENCH_RAW_FILES']):,} files, {raw:,} bytes (--n {E['BENCH_N']} --seed {E['BENCH_SEED']}), "
      f"1 % change = {E['BENCH_MUT_FILES']} files (--mutate-seed {E['BENCH_MUT_SEED']}), median of {E['BENCH_REPS']} rep(s)")
for t, k in (("dvs", "BENCH_V_DVS"), ("dvc", "BENCH_V_DVC"), ("lfs", "BENCH_V_LFS")):
    if t in tools: print(f"  {t}: {E.get(k) or '?'}")
print()
print(line(hdr)); print("|" + "|".join("-" * (x + 2) for x in w) + "|")
for r in table: print(line(r))
print()
parts = []
for t in tools:
    rt = get(t, "roundtrip")
    parts.append(f"{t} {'byte-exact' if rt else ('DIFFERS' if rt is False else 'not checked')}")
print("round trip (checkout of the first commit vs corpus): " + ", ".join(parts))
parts = [f"{t} {cell(get(t, 'init_s'), 's')}" + (" (included above)" if t == "dvs" else " (not included)") for t in tools]
print("init step (dvs init / git init + dvc init / git init + lfs install + track): " + "; ".join(parts))
if errors:
    print(f"{len(errors)} step(s) failed — logs under {E['BENCH_RUN']}/logs:")
    for e in errors: print(f"  {e['tool']} rep {e['rep']} {e['step']}: exit {e['rc']} ({e['log']})")

out = dict(
    generated=time.strftime("%Y-%m-%dT%H:%M:%S%z"), host=dict(machine=platform.machine(), cpus=os.cpu_count(),
                                                              kernel=platform.release()),
    corpus=dict(path=E["BENCH_CORPUS"], n=int(E["BENCH_N"]), seed=int(E["BENCH_SEED"]), files=int(E["BENCH_RAW_FILES"]),
                raw_bytes=raw, mutate_seed=int(E["BENCH_MUT_SEED"]), mutated_files=int(E["BENCH_MUT_FILES"])),
    reps=int(E["BENCH_REPS"]), tools=tools,
    versions=dict(dvs=E.get("BENCH_V_DVS"), dvc=E.get("BENCH_V_DVC"), git_lfs=E.get("BENCH_V_LFS"), git=E.get("BENCH_V_GIT")),
    units=dict(_s="seconds (wall clock)", _kib="KiB (max RSS of the largest process, /usr/bin/time %M)",
               store_bytes="du -sb of .dvs / .dvc/cache / .git/lfs", store_ratio="store_bytes / raw_bytes",
               roundtrip="1 = checkout of the first commit byte-identical to the corpus"),
    results=results, medians=medians, samples=samples, errors=errors)
json.dump(out, open(E["BENCH_OUT"], "w"), indent=1)
print(f"results: {E['BENCH_OUT']}")
PY

# ---------------------------------------------------------------- codecs
# Store ÷ raw per audio format beside flac -5 and zstd -3, encode/decode MB/s per core (bench/codec.sh).
if [ -n "${WANT[codec]:-}" ]; then
  "$REPO/bench/codec.sh" "$CORPUS" "$DVS" "$BENCH_DIR/codec-$N" | tee "$BENCH_DIR/codec-$N.txt"
fi
