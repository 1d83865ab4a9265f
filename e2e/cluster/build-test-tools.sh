#!/usr/bin/env bash
# Installs the non-Node tools `npm test` runs (npm's pretest hook calls this; idempotent, a no-op once present):
# lua5.1 for test/argocd-health.test.ts, helm for test/chart.test.ts, and Debian's prometheus for the promtool of
# test/monitoring.test.ts.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

source "$HERE/apt.sh"
if ! command -v promtool >/dev/null; then
  apt_install --why "for promtool" promtool:prometheus
  systemctl disable --now prometheus 2>/dev/null || true
fi
bash "$HERE/build-lua.sh"
bash "$HERE/build-helm.sh"
