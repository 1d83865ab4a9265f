#!/usr/bin/env bash
# Builds (or finds) istiod and the Go helpers of the Istio e2e tests; idempotent, cached by version.
#
# Outputs, under ${VIREO_CACHE:-$HOME/.cache/vireo}:
#   istiod-$ISTIO_VERSION/pilot-discovery   istiod, pinned to the one istio.io/istio the module proxy serves
#   istiod-$ISTIO_VERSION/build.env         wall and CPU seconds of its cold build
#   xdsprobe-<hash>/xdsprobe                ADS client, proxyless gRPC client and server (./xdsbin), keyed by a hash
#                                           of their sources (e2e/cluster/istiod.ts computes the same hash)
# Only the binaries are kept: both builds share a private Go build cache that is deleted afterwards (istiod alone
# leaves about 2.2 GB there). The helpers' module versions are istiod's, so they compile little of their own.
set -euo pipefail

# The only istio.io/istio the module proxy serves: a master snapshot (1.31-dev). Bump only after checking that
# `go list -m -versions istio.io/istio` offers a newer one that builds with the local Go toolchain.
ISTIO_VERSION=v0.0.0-20260827124520-eed52ebb66ad
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${VIREO_CACHE:-$HOME/.cache/vireo}"
ISTIOD_OUT="$CACHE/istiod-$ISTIO_VERSION"
PROBE_HASH=$(cd "$HERE/xdsbin" && cat $(ls ./*.go | LC_ALL=C sort) go.mod go.sum | sha256sum | cut -c1-12)
PROBE_OUT="$CACHE/xdsprobe-$PROBE_HASH"
export GOTOOLCHAIN=local
export CGO_ENABLED=0

log() { printf '[build-istio %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

need_istiod=0
need_probe=0
[[ -x $ISTIOD_OUT/pilot-discovery ]] || need_istiod=1
[[ -x $PROBE_OUT/xdsprobe ]] || need_probe=1
if ((need_istiod == 0 && need_probe == 0)); then
  log "istiod $ISTIO_VERSION and xdsprobe $PROBE_HASH cached"
  exit 0
fi

mkdir -p "$CACHE"
# Two worktrees (or two e2e jobs) may get here at once: one builds, the other waits and then finds it cached.
# A lock of its own, not /tmp/vireo-build.lock, which a caller may already hold around build.sh.
exec 9>"$CACHE/.istio-build.lock"
flock 9
[[ -x $ISTIOD_OUT/pilot-discovery ]] && need_istiod=0
[[ -x $PROBE_OUT/xdsprobe ]] && need_probe=0
work=$(mktemp -d "$CACHE/istio-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
export GOCACHE="$work/gocache"

# cpu_seconds FILE: user+system CPU seconds of this shell's finished children, from `times` output saved in FILE
# (`times` must run in this shell itself: a command substitution would report its own subshell's children).
cpu_seconds() {
  tail -1 "$1" | awk '{ split($1, u, /[ms]/); split($2, s, /[ms]/); printf "%d", u[1] * 60 + u[2] + s[1] * 60 + s[2] }'
}

if ((need_istiod)); then
  log "building istiod (pilot-discovery) $ISTIO_VERSION: about 800 CPU-seconds, 2.9 GB peak RSS at link"
  t0=$(date +%s)
  times >"$work/times.0"
  GOFLAGS=-mod=mod GOBIN="$work/bin" go install -trimpath -ldflags '-s -w' \
    "istio.io/istio/pilot/cmd/pilot-discovery@$ISTIO_VERSION"
  wall=$(($(date +%s) - t0))
  times >"$work/times.1"
  cpu=$(($(cpu_seconds "$work/times.1") - $(cpu_seconds "$work/times.0")))
  mkdir -p "$ISTIOD_OUT"
  # Publish atomically: a half-written binary must never look cached.
  mv -f "$work/bin/pilot-discovery" "$ISTIOD_OUT/pilot-discovery.tmp.$$"
  mv -f "$ISTIOD_OUT/pilot-discovery.tmp.$$" "$ISTIOD_OUT/pilot-discovery"
  printf 'istiod_build_wall_seconds=%s\nistiod_build_cpu_seconds=%s\nistiod_build_gocache_mb=%s\n' \
    "$wall" "$cpu" "$(du -sm "$GOCACHE" | cut -f1)" >"$ISTIOD_OUT/build.env"
  log "istiod built in ${wall}s wall, ${cpu}s CPU; Go build cache $(du -sh "$GOCACHE" | cut -f1) (deleted below)"
fi

if ((need_probe)); then
  t0=$(date +%s)
  log "building xdsprobe $PROBE_HASH"
  mkdir -p "$PROBE_OUT"
  (cd "$HERE/xdsbin" && go build -trimpath -ldflags '-s -w' -o "$PROBE_OUT/xdsprobe.tmp.$$" .)
  mv -f "$PROBE_OUT/xdsprobe.tmp.$$" "$PROBE_OUT/xdsprobe"
  log "xdsprobe built in $(($(date +%s) - t0))s"
fi
