#!/usr/bin/env bash
# Builds helm (for the chart tests) from the Go module proxy into ${VIREO_CACHE:-$HOME/.cache/vireo}/helm-<version>/helm.
# Idempotent and cached by version; published atomically so an interrupted build never looks complete.
set -euo pipefail

HELM_VERSION=v3.22.0
CACHE="${VIREO_CACHE:-$HOME/.cache/vireo}"
OUT="$CACHE/helm-$HELM_VERSION"
export GOTOOLCHAIN=local CGO_ENABLED=0

log() { printf '[build-helm %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

if [[ -x $OUT/helm ]]; then
  log "helm $HELM_VERSION cached in $OUT"
  exit 0
fi
t0=$(date +%s)
tmp="$OUT.tmp.$$"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp"
log "building helm $HELM_VERSION into $OUT"
GOBIN="$tmp" go install -trimpath -ldflags "-s -w" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
mkdir -p "$OUT"
mv -f "$tmp/helm" "$OUT/helm"
log "helm built in $(($(date +%s) - t0))s"
