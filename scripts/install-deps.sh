#!/usr/bin/env bash
# Installs what dvs needs to build, test and run its quickstart on Debian 12.
# Idempotent: packages already present are skipped quickly.
#   C libraries (Debian -dev packages): libzstd, libsndfile, libgit2, SQLite
#   tools for tests and the quickstart: sox, espeak-ng, flock, diff, git
#   real recorded voices: alsa-utils, ktuberling-data, klettres-data
#   an S3 server for the remote tests: moto (pip: moto[s3,server], flask, flask-cors)
set -euo pipefail
packages=(pkg-config libzstd-dev libsndfile1-dev libgit2-dev libsqlite3-dev
          sox libsox-fmt-all espeak-ng util-linux diffutils git
          alsa-utils ktuberling-data klettres-data)
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
if ! command -v moto_server >/dev/null 2>&1; then
  if ! python3 -m pip --version >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends python3-pip >/dev/null
  fi
  echo "install-deps: installing moto (pip)" >&2
  # Debian 12's system Python is "externally managed": install for the user, allowed explicitly.
  python3 -m pip install --quiet --user --break-system-packages 'moto[s3,server]' flask flask-cors 2>/dev/null \
    || python3 -m pip install --quiet --user 'moto[s3,server]' flask flask-cors
  export PATH="$HOME/.local/bin:$PATH"
  command -v moto_server >/dev/null || echo "install-deps: moto_server is in ~/.local/bin; add it to PATH" >&2
fi
command -v swift >/dev/null || { echo "install-deps: swift (6.x) is not on PATH; see https://www.swift.org/install/linux/" >&2; exit 1; }
echo "install-deps: ok" >&2
