#!/usr/bin/env bash
# Builds (or finds) what one local control plane needs — what `npm run demo` and `npm run cluster:up` start, and
# what every e2e cluster starts; idempotent. build.sh runs it, then builds the tools only some tests need.
#
# Outputs, cached per version under ${VIREO_CACHE:-$HOME/.cache/vireo}:
#   kubebin-v1.36.3/{kube-apiserver,kube-controller-manager,kube-scheduler,kubectl}  (from ./kubebin)
#   kwok-v0.8.0/kwok                                                               (go install)
#   etcd-v3.6.16/etcd                                                              (from ./etcdbin)
#   upstream-crds.list                                                             (build-crds.sh)
#   build-times.env                                                                (seconds per step, for measure.ts)
# and the Debian packages etcd-server, prometheus and openssl.
set -euo pipefail

K8S_VERSION=v1.36.3
KWOK_VERSION=v0.8.0
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${VIREO_CACHE:-$HOME/.cache/vireo}"
KUBEBIN="$CACHE/kubebin-$K8S_VERSION"
KWOKBIN="$CACHE/kwok-$KWOK_VERSION"
ETCD_VERSION=v3.6.16
ETCDBIN="$CACHE/etcd-$ETCD_VERSION"
TIMES="$CACHE/build-times.env"
K8S_BINARIES=(kube-apiserver kube-controller-manager kube-scheduler kubectl)

# Never let `go` fetch a newer toolchain: the proxy here does not serve golang.org/toolchain, and a silent
# toolchain switch would make builds irreproducible.
export GOTOOLCHAIN=local
export CGO_ENABLED=0

log() { printf '[build %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
now() { date +%s; }
mkdir -p "$CACHE"

record_time() { # record_time <key> <seconds>: upsert one "key=seconds" line, read back by measure.ts
  touch "$TIMES"
  { grep -v "^$1=" "$TIMES" || true; echo "$1=$2"; } >"$TIMES.tmp" && mv -f "$TIMES.tmp" "$TIMES"
}

# --- 1. Debian packages -------------------------------------------------------------------------
t0=$(now)
source "$HERE/apt.sh"
if ! command -v etcd >/dev/null || ! command -v prometheus >/dev/null || ! command -v openssl >/dev/null; then
  # policy-rc.d on CI images keeps the packaged daemons from starting; we run our own instances anyway.
  apt_install etcd:etcd-server prometheus:prometheus openssl:openssl
  # The package's own systemd/sysv units must not squat the default ports our tests do not use anyway.
  systemctl disable --now prometheus etcd 2>/dev/null || true
  record_time apt_seconds $(($(now) - t0))
fi
log "debian packages ok ($(($(now) - t0))s): $(etcd --version | head -1), $(prometheus --version 2>&1 | head -1 | cut -d' ' -f1-3)"

# --- 2. Kubernetes control-plane binaries --------------------------------------------------------
have_all() { local d=$1 b; for b in "${K8S_BINARIES[@]}"; do [[ -x $d/$b ]] || return 1; done; }

if [[ -n ${KUBEBUILDER_ASSETS:-} ]] && have_all "$KUBEBUILDER_ASSETS"; then
  log "using KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS; skipping the Kubernetes build"
elif have_all "$KUBEBIN"; then
  log "kubernetes $K8S_VERSION binaries cached in $KUBEBIN"
else
  t0=$(now)
  log "building kubernetes $K8S_VERSION (${K8S_BINARIES[*]}) into $KUBEBIN; cold builds take many minutes"
  minor=${K8S_VERSION#v1.}
  minor=${minor%%.*}
  build_date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  # Same keys upstream's hack/lib/version.sh sets; without them /version says v0.0.0-master and
  # version-sniffing clients (kubectl skew warnings, kwok) misbehave.
  ldflags="-s -w"
  for kv in gitVersion=$K8S_VERSION gitMajor=1 gitMinor=$minor gitTreeState=clean buildDate=$build_date gitCommit=; do
    ldflags+=" -X k8s.io/component-base/version.$kv -X k8s.io/client-go/pkg/version.$kv"
  done
  tmp_out="$KUBEBIN.tmp.$$"
  mkdir -p "$tmp_out"
  pkgs=()
  for b in "${K8S_BINARIES[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$b"); done
  (cd "$HERE/kubebin" && go build -trimpath -ldflags "$ldflags" -o "$tmp_out/" "${pkgs[@]}")
  # Publish atomically so an interrupted build never leaves a half-filled cache dir that looks complete.
  mkdir -p "$KUBEBIN"
  for b in "${K8S_BINARIES[@]}"; do mv -f "$tmp_out/$b" "$KUBEBIN/$b"; done
  rmdir "$tmp_out"
  record_time k8s_build_seconds $(($(now) - t0))
  log "kubernetes binaries built in $(($(now) - t0))s"
fi

# --- 3. kwok (fake kubelet) ---------------------------------------------------------------------
if [[ -x $KWOKBIN/kwok ]]; then
  log "kwok $KWOK_VERSION cached in $KWOKBIN"
else
  t0=$(now)
  log "installing kwok $KWOK_VERSION into $KWOKBIN"
  # Kept out of the kubebin module on purpose: MVS would force kwok onto the pinned k8s libraries.
  GOBIN="$KWOKBIN" go install "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
  record_time kwok_install_seconds $(($(now) - t0))
  log "kwok installed in $(($(now) - t0))s"
fi

# --- 4. etcd 3.6 -------------------------------------------------------------------------------------
# Debian's etcd 3.4.23 lacks RequestWatchProgress: client-go 1.36's watch-list streams then fail at once and
# kwok/kube-controller-manager relist with backoff, so pods turned ready in bursts 30–60 s apart. etcd 3.6
# from the module proxy (a two-file wrapper, ~40 s to build) serves it.
if [[ -x $ETCDBIN/etcd ]]; then
  log "etcd $ETCD_VERSION cached in $ETCDBIN"
else
  t0=$(now)
  log "building etcd $ETCD_VERSION into $ETCDBIN"
  (cd "$HERE/etcdbin" && go build -trimpath -ldflags "-s -w" -o "$ETCDBIN/etcd" .)
  record_time etcd_build_seconds $(($(now) - t0))
  log "etcd built in $(($(now) - t0))s"
fi

bash "$HERE/build-crds.sh" # upstream mesh CRDs (Gateway API, Istio, SMI) every cluster installs, from the Go module cache

log "control plane ready: kube binaries in ${KUBEBUILDER_ASSETS:-$KUBEBIN}, kwok in $KWOKBIN, etcd in $ETCDBIN"
