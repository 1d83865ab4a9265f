#!/usr/bin/env bash
# Builds (or finds) everything the test suites need — the control plane (build-control-plane.sh) and the tools some
# tests run — idempotent, safe to run before every e2e job; .ci/run runs it. `npm run demo` needs only the first.
#
#   build.sh         everything, one step after another
#   build.sh early   what `npm test` and the e2e files without a real data plane need: the control plane, lua5.1,
#                    helm, promtool, faketime
#   build.sh late    the data planes only some e2e files run: Chromium, Traefik, istiod and its xDS probe. .ci/run
#                    builds these at low priority while the tests of the early part run (test/run-tests.ts holds the
#                    files that need them back until this build is done; e2e/cluster/README.md, "CI").
#
# Outputs, cached per version under ${VIREO_CACHE:-$HOME/.cache/vireo} (besides build-control-plane.sh's):
#   chromium, lua5.1 and faketime (Debian), helm-v3.22.0/helm, traefik-v3.6.12/traefik
#   istiod-<version>/pilot-discovery, xdsprobe-<hash>/xdsprobe                     (build-istio.sh)
#
# One Go build at a time: each already compiles on both cores. Side by side (tried on 2026-12-07) the four big
# builds took 2,229 s cold on a quiet machine and their CPU time grew (istiod 560 → 1,000 CPU-s), against 1,575 s
# one after another on an earlier day; docs/benchmarks/latest.md has both runs.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$HERE/apt.sh"
part=${1:-all}
case $part in all | early | late) ;; *)
  echo "usage: build.sh [early|late]" >&2
  exit 2
  ;;
esac

if [[ $part != late ]]; then
  bash "$HERE/build-control-plane.sh"
  bash "$HERE/build-test-tools.sh" # what `npm test` runs besides Node: lua5.1, helm (promtool came with Prometheus)
  apt_install --why "the clock-skew e2e, robustness" faketime:faketime
fi
if [[ $part != early ]]; then
  bash "$HERE/build-chromium.sh" # the dashboard browser test and the judge's charts (e2e/dashboard-browser, judge-sequential)
  bash "$HERE/build-traefik.sh"  # the real Gateway API data plane of e2e/traefik-*.test.ts
  bash "$HERE/build-istio.sh"    # istiod and the xDS probes of e2e/istio-*.test.ts (560–960 CPU-seconds cold)
fi
# Flagger (~9 min cold) only for `npm run bench:compare`, which builds it itself; opt in here to prebuild it.
if [[ $part == all && ${VIREO_BUILD_FLAGGER:-0} == 1 ]]; then bash "$HERE/build-flagger.sh" >/dev/null; fi
