#!/usr/bin/env bash
# Builds (or finds) Traefik, the real Gateway API data plane of the e2e traffic tests; idempotent, cached by version.
#
# Output: ${VIREO_CACHE:-$HOME/.cache/vireo}/traefik-$TRAEFIK_VERSION/traefik
# Traefik's go.mod carries `replace` directives, so `go install M@V` refuses it: build inside a writable copy of the
# downloaded module instead (the module cache itself is read-only). v3.7.x needs modules the proxy refuses.
set -euo pipefail

TRAEFIK_VERSION=v3.6.12
CACHE="${VIREO_CACHE:-$HOME/.cache/vireo}"
OUT="$CACHE/traefik-$TRAEFIK_VERSION"
export GOTOOLCHAIN=local
export CGO_ENABLED=0

log() { printf '[build-traefik %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# `ip` makes the kwok pod range local (e2e/dataplane/pod-cidr.ts), so Traefik can reach the pods' own IPs.
source "$(dirname "${BASH_SOURCE[0]}")/apt.sh"
apt_install ip:iproute2

if [[ -x $OUT/traefik ]]; then
  log "traefik $TRAEFIK_VERSION cached in $OUT"
  exit 0
fi

t0=$(date +%s)
dir=$(go mod download -json "github.com/traefik/traefik/v3@$TRAEFIK_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[[ -d $dir ]] || { log "go mod download printed no Dir for traefik $TRAEFIK_VERSION"; exit 1; }
work=$(mktemp -d "$CACHE/traefik-src.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp -r "$dir/." "$work/"
chmod -R u+w "$work"
log "building traefik $TRAEFIK_VERSION (about 3 minutes on 2 cores)"
(cd "$work" && go build -trimpath -ldflags "-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=$TRAEFIK_VERSION" -o "$work/traefik.bin" ./cmd/traefik)
# Publish atomically: a half-written binary must never look cached.
mkdir -p "$OUT"
mv -f "$work/traefik.bin" "$OUT/traefik.tmp.$$"
mv -f "$OUT/traefik.tmp.$$" "$OUT/traefik"
log "traefik built in $(($(date +%s) - t0))s"
