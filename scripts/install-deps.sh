#!/usr/bin/env bash
# Installs what dvs needs to build, test and run its quickstart on Debian 12.
# Idempotent: packages already present are skipped quickly.
#   C libraries (Debian -dev packages): libzstd, libsndfile, libgit2, SQLite
#   tools for tests and the quickstart: sox, espeak-ng, flock, diff, git
#   real recorded voices: alsa-utils, ktuberling-data, klettres-data
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
command -v swift >/dev/null || { echo "install-deps: swift (6.x) is not on PATH; see https://www.swift.org/install/linux/" >&2; exit 1; }
echo "install-deps: ok" >&2
