#!/usr/bin/env bash
# Downloads the upstream mesh CRDs (the envtest convention: the CRDs a Go module ships, pinned by module version)
# and records where they are in the module cache; idempotent, cached by the pins.
#
# Output: ${VIREO_CACHE:-$HOME/.cache/vireo}/upstream-crds.list, one "module@version<TAB>absolute path" per CRD
# file, read by e2e/cluster/upstream-crds.ts. The first line names the pins, so changing one re-records.
# Argo Rollouts' analysis template CRDs go to argo-crds.list beside it: only the e2e files that test reading Argo
# templates install them (each is ~200 KB of schema the API server would build at every cluster start).
# Linkerd is not on the Go module proxy: its CRDs stay in e2e/cluster/crds (see the headers there).
set -euo pipefail

# module version file-globs (relative to the module root)
PINS=(
  "sigs.k8s.io/gateway-api v1.4.0 config/crd/standard/gateway.networking.k8s.io_*.yaml"
  "istio.io/api v1.30.8 kubernetes/customresourcedefinitions.gen.yaml"
  "github.com/servicemeshinterface/smi-sdk-go v0.5.0 crds/split.yaml crds/access.yaml crds/specs.yaml"
)
ARGO_PINS=(
  "github.com/argoproj/argo-rollouts v1.8.5 manifests/crds/analysis-template-crd.yaml manifests/crds/cluster-analysis-template-crd.yaml"
)
CACHE="${VIREO_CACHE:-$HOME/.cache/vireo}"
export GOTOOLCHAIN=local GOFLAGS=-mod=mod

log() { printf '[build-crds %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
mkdir -p "$CACHE"

# record LIST PIN... — writes LIST for the pins unless it already names them and every file it lists exists.
record() {
  local LIST=$1 header
  shift
  local -a PINS=("$@")
  header="# pins: ${PINS[*]}"

  if [[ -f $LIST ]] && [[ $(head -1 "$LIST") == "$header" ]]; then
    ok=1
    while IFS=$'\t' read -r _ path; do [[ -f $path ]] || ok=0; done < <(tail -n +2 "$LIST")
    if ((ok)); then
      log "upstream CRDs recorded in $LIST"
      return 0
    fi
  fi

  t0=$(date +%s)
  tmp="$LIST.tmp.$$"
  trap 'rm -f "$tmp"' EXIT
  echo "$header" >"$tmp"
  # `go mod download` outside a module needs a scratch directory with no go.mod above it.
  scratch=$(mktemp -d)
  trap 'rm -f "$tmp"; rm -rf "$scratch"' EXIT
  for pin in "${PINS[@]}"; do
    read -r module version globs <<<"$pin"
    dir=$(cd "$scratch" && go mod download -json "$module@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
    [[ -n $dir && -d $dir ]] || { log "go mod download $module@$version gave no Dir"; exit 1; }
    for glob in $globs; do
      found=0
      for f in "$dir"/$glob; do
        [[ -f $f ]] || continue
        printf '%s@%s\t%s\n' "$module" "$version" "$f" >>"$tmp"
        found=1
      done
      ((found)) || { log "$module@$version has no $glob"; exit 1; }
    done
  done
  mv -f "$tmp" "$LIST" # atomic publish: readers never see a half-written list
  rm -rf "$scratch"
  trap - EXIT
  log "upstream CRDs recorded in $LIST ($(($(date +%s) - t0))s)"
}

record "$CACHE/upstream-crds.list" "${PINS[@]}"
record "$CACHE/argo-crds.list" "${ARGO_PINS[@]}"
