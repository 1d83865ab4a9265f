#!/usr/bin/env bash
# Installs the non-Node tools `npm test` runs (npm's pretest hook calls this; idempotent, a no-op once present):
# lua5.1 for test/argocd-health.test.ts, helm for test/chart.test.ts, and Debian's prometheus for the promtool of
# test/monitoring.test.ts.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if ! command -v promtool >/dev/null; then
  printf '[build-test-tools] installing Debian packages: prometheus (for promtool)\n' >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  systemctl disable --now prometheus 2>/dev/null || true
fi
bash "$HERE/build-lua.sh"
bash "$HERE/build-helm.sh"
