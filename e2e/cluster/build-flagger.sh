#!/usr/bin/env bash
# Builds Flagger from the Go module proxy for the side-by-side benchmark (npm run bench:compare); idempotent.
#
# Output, cached per version under ${VIREO_CACHE:-$HOME/.cache/vireo}/flagger-<version>/:
#   flagger     the controller binary (go install github.com/fluxcd/flagger/cmd/flagger@<version>)
#   crd.yaml, account.yaml   its CRDs and RBAC, copied from the downloaded module (artifacts/flagger/)
# Prints the directory on stdout. Nothing from Flagger is committed to this repository.
set -euo pipefail

FLAGGER_VERSION=${FLAGGER_VERSION:-v1.44.0}
CACHE="${VIREO_CACHE:-$HOME/.cache/vireo}"
OUT="$CACHE/flagger-$FLAGGER_VERSION"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod

log() { printf '[build-flagger %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

if [[ -x $OUT/flagger && -s $OUT/crd.yaml && -s $OUT/account.yaml ]]; then
  log "flagger $FLAGGER_VERSION cached in $OUT"
  echo "$OUT"
  exit 0
fi
command -v go >/dev/null || { log "go is required to build flagger"; exit 1; }
t0=$(date +%s)
TMP=$(mktemp -d "$CACHE/.flagger-$FLAGGER_VERSION.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
log "building flagger $FLAGGER_VERSION with $(go version | cut -d' ' -f3)"
if [[ -x $OUT/flagger ]]; then
  cp "$OUT/flagger" "$TMP/flagger" # only the artifacts are missing: no need to compile again
else
  GOBIN="$TMP" go install "github.com/fluxcd/flagger/cmd/flagger@$FLAGGER_VERSION"
fi
MOD=$(go mod download -json "github.com/fluxcd/flagger@$FLAGGER_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
for f in crd.yaml account.yaml; do
  [[ -s $MOD/artifacts/flagger/$f ]] || { log "no artifacts/flagger/$f in $MOD"; exit 1; }
  cp "$MOD/artifacts/flagger/$f" "$TMP/$f"
done
chmod -R u+w "$TMP"
# Atomic publish: a concurrent build either finds the finished directory or replaces nothing half-written.
rm -rf "$OUT.old"
[[ -e $OUT ]] && mv "$OUT" "$OUT.old"
mv "$TMP" "$OUT"
rm -rf "$OUT.old"
trap - EXIT
log "built flagger $FLAGGER_VERSION in $(($(date +%s) - t0))s"
echo "$OUT"
