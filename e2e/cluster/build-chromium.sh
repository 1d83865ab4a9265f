#!/usr/bin/env bash
# Installs Debian's Chromium for the dashboard browser test (driven by playwright-core; never `playwright install`).
# Idempotent: does nothing when chromium is on PATH.
set -euo pipefail
log() { printf '[build-chromium %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
missing=()
command -v chromium >/dev/null || missing+=(chromium)
if ((${#missing[@]})); then
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
log "chromium ok: $(chromium --version 2>/dev/null | head -1)"
