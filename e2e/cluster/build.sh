#!/usr/bin/env bash
# Builds (or finds) everything the test suites need — the control plane (build-control-plane.sh) and the tools some
# tests run — idempotent, safe to run before every e2e job; .ci/run runs it. `npm run demo` needs only the first.
#
# Outputs, cached per version under ${VIREO_CACHE:-$HOME/.cache/vireo} (besides build-control-plane.sh's):
#   chromium, lua5.1 and faketime (Debian), helm-v3.22.0/helm, traefik-v3.6.12/traefik
#   istiod-<version>/pilot-discovery, xdsprobe-<hash>/xdsprobe                     (build-istio.sh)
#
# The Go builds run side by side: much of a cold build is fetching modules from the proxy, which overlaps another
# build's compiling (2 cores; peak memory about 6 GB with istiod's link). Debian packages install one script at a
# time (apt.sh). Each build prints its own prefixed log; the first failure fails the whole script.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$HERE/apt.sh"

bash "$HERE/build-chromium.sh"                                  # the dashboard browser test (dashboard-browser)
apt_install --why "the clock-skew e2e, robustness" faketime:faketime

pids=() names=()
# stdout goes to stderr: build-flagger.sh prints its directory there, and build.sh prints nothing on stdout.
in_background() { bash "$HERE/$1" >&2 & pids+=($!) names+=("$1"); }
in_background build-test-tools.sh # what `npm test` runs besides Node: lua5.1, helm (promtool came with Prometheus)
in_background build-traefik.sh    # the real Gateway API data plane of e2e/traefik-*.test.ts
in_background build-istio.sh      # istiod and the xDS probes of e2e/istio-*.test.ts (~750 CPU-seconds cold)
# Flagger (~9 min cold) only for `npm run bench:compare`, which builds it itself; opt in here to prebuild it.
if [[ ${VIREO_BUILD_FLAGGER:-0} == 1 ]]; then in_background build-flagger.sh; fi
failed=()
bash "$HERE/build-control-plane.sh" || failed+=(build-control-plane.sh)
for i in "${!pids[@]}"; do wait "${pids[$i]}" || failed+=("${names[$i]}"); done
if ((${#failed[@]})); then
  printf '[build] failed: %s\n' "${failed[*]}" >&2
  exit 1
fi
