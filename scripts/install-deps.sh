#!/usr/bin/env bash
# Installs what dvs needs to build, test and run its quickstart on Debian 12.
# Idempotent: packages already present are skipped quickly.
#   C libraries (Debian -dev packages): libzstd, libsndfile, libgit2, SQLite, libsamplerate, libarchive,
#   FFTW (single precision)
#   tools for tests and the quickstart: sox, espeak-ng, flock, diff, git; python3 (with sox, espeak-ng
#   and libsndfile) runs Tests/Fixtures/make_fixtures.py, which writes the test fixtures
#   benchmarks (bench/): GNU time (/usr/bin/time, peak RSS), the sqlite3 shell, and flac and zstd
#   (bench/codec.sh compares with `flac -5` and `zstd -3`)
#   real recorded voices: alsa-utils, ktuberling-data, klettres-data
#   the S3 test server: moto (pip, into $DVS_TOOLS_DIR/venv, default ~/.cache/dvs-tools/venv,
#   unless moto_server is already on PATH); the tests look there too
#   webdataset (pip, same venv) for the 'dvs stream' test
set -euo pipefail
packages=(pkg-config libzstd-dev libsndfile1-dev libgit2-dev libsqlite3-dev libsamplerate0-dev libarchive-dev libfftw3-dev
          sox libsox-fmt-all espeak-ng util-linux diffutils git time sqlite3 flac zstd
          alsa-utils ktuberling-data klettres-data python3 python3-venv
          chromium chromium-driver)  # the last two: dvs serve's browser test (Tests/DVSServeTests/browser_test.py)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "install-deps: installing ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
tools=${DVS_TOOLS_DIR:-$HOME/.cache/dvs-tools}
if ! command -v moto_server >/dev/null && [ ! -x "$tools/venv/bin/moto_server" ]; then
  echo "install-deps: installing moto (S3 test server) into $tools/venv" >&2
  python3 -m venv "$tools/venv"
  "$tools/venv/bin/pip" install --quiet --disable-pip-version-check 'moto[s3,server]' flask flask-cors
fi
# webdataset (pip): the stream test reads 'dvs stream' with it as PyTorch users would.
if ! python3 -c 'import webdataset' 2>/dev/null && ! "$tools/venv/bin/python" -c 'import webdataset' 2>/dev/null; then
  echo "install-deps: installing webdataset into $tools/venv" >&2
  [ -x "$tools/venv/bin/pip" ] || python3 -m venv "$tools/venv"
  "$tools/venv/bin/pip" install --quiet --disable-pip-version-check webdataset
fi
# dvs serve's browser test drives Debian's chromium (above) through selenium (pip, same venv).
if ! "$tools/venv/bin/python" -c 'import selenium' 2>/dev/null; then
  echo "install-deps: installing selenium into $tools/venv" >&2
  [ -x "$tools/venv/bin/pip" ] || python3 -m venv "$tools/venv"
  "$tools/venv/bin/pip" install --quiet --disable-pip-version-check selenium
fi
# The Python package's tests (python/, .ci/run's pytest stage): pandas and pytest, and torch
# from PyPI (≈2 GB with its CUDA libraries; DVS_SKIP_TORCH=1 leaves it out and its tests skip).
if ! "$tools/venv/bin/python" -c 'import pandas, pytest' 2>/dev/null; then
  echo "install-deps: installing pandas and pytest into $tools/venv" >&2
  [ -x "$tools/venv/bin/pip" ] || python3 -m venv "$tools/venv"
  "$tools/venv/bin/pip" install --quiet --disable-pip-version-check numpy pandas pytest
fi
if [ -z "${DVS_SKIP_TORCH:-}" ] && ! "$tools/venv/bin/python" -c 'import torch' 2>/dev/null; then
  echo "install-deps: installing torch into $tools/venv" >&2
  "$tools/venv/bin/pip" install --quiet --disable-pip-version-check torch
fi
command -v swift >/dev/null || { echo "install-deps: swift (6.x) is not on PATH; see https://www.swift.org/install/linux/" >&2; exit 1; }
echo "install-deps: ok" >&2
