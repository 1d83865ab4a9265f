#!/usr/bin/env bash
# Installs Debian's Chromium for the dashboard browser test (driven by playwright-core; never `playwright install`).
# Idempotent: does nothing when chromium is on PATH.
set -euo pipefail
log() { printf '[build-chromium %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
source "$(dirname "${BASH_SOURCE[0]}")/apt.sh"
apt_install chromium:chromium
log "chromium ok: $(chromium --version 2>/dev/null | head -1)"
