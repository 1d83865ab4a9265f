#!/usr/bin/env bash
# Builds the controller image vireo:<package.json version> with podman from deploy/Dockerfile, on base images
# made here (public registries are unreachable): a Debian root from debootstrap plus the Node binary of the npm
# `node` package. Bases are cached by version, so a warm run only rebuilds Vireo's own layers.
#
#   localhost/vireo-node-build:<node>-<suite>    Debian minbase + node + npm     (BUILD_IMAGE: npm ci runs here)
#   localhost/vireo-node-runtime:<node>-<suite>  glibc/libstdc++ + /nodejs/bin/node, no shell (RUNTIME_IMAGE)
#   localhost/vireo:<version>                    the controller
# Cache: ${VIREO_CACHE:-$HOME/.cache/vireo}/image-base/ (the debootstrap root as a tarball). Prints the image name.
# Not called from build.sh: the image is a product of the sources under test, not a tool, so the e2e files that
# run it (image.test.ts, helm.test.ts) build it themselves — a no-op when nothing changed, one layer after an edit.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
CACHE="${VIREO_CACHE:-$HOME/.cache/vireo}"
SUITE=bookworm
MIRROR=http://deb.debian.org/debian
BASE_CACHE="$CACHE/image-base"
PODMAN=(podman --storage-driver vfs)

log() { printf '[build-image %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

source "$(dirname "${BASH_SOURCE[0]}")/apt.sh"
apt_install podman:podman debootstrap:debootstrap

NODE_BIN="$(readlink -f "$ROOT/node_modules/node/bin/node")"
NODE_VERSION="$("$NODE_BIN" --version)"
NODE_VERSION="${NODE_VERSION#v}"
NPM_DIR="$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")"
NPM_VERSION="$(node -p "require('$NPM_DIR/package.json').version")"
VERSION="$(node -p "require('$ROOT/package.json').version")"
BASE_TAG="$NODE_VERSION-$SUITE"
BUILD_IMAGE="localhost/vireo-node-build:$BASE_TAG-npm$NPM_VERSION"
RUNTIME_IMAGE="localhost/vireo-node-runtime:$BASE_TAG"
IMAGE="localhost/vireo:$VERSION"

mkdir -p "$BASE_CACHE"
# Two e2e files may build at once; podman's vfs store and the tarball cache are shared.
exec 9>"$BASE_CACHE/.lock"
flock 9

# --- 1. Debian root (debootstrap, cached as a tarball) --------------------------------------------
ROOTFS_TAR="$BASE_CACHE/debian-$SUITE-minbase.tar"
if [[ ! -s $ROOTFS_TAR ]]; then
  t0=$(date +%s)
  tmp="$(mktemp -d "$BASE_CACHE/debootstrap.XXXXXX")"
  log "debootstrap --variant=minbase $SUITE from $MIRROR (cold: about a minute)"
  debootstrap --variant=minbase "$SUITE" "$tmp/root" "$MIRROR" >"$tmp/debootstrap.log" 2>&1 ||
    { tail -20 "$tmp/debootstrap.log" >&2; exit 1; }
  rm -rf "$tmp/root/var/cache/apt/archives/"*.deb "$tmp/root/var/lib/apt/lists/"*
  tar -C "$tmp/root" --numeric-owner -cf "$ROOTFS_TAR.tmp" .
  mv -f "$ROOTFS_TAR.tmp" "$ROOTFS_TAR"
  rm -rf "$tmp"
  log "debian root cached in $(($(date +%s) - t0))s"
fi

# --- 2. Base images (podman import, cached by tag) ------------------------------------------------
if ! "${PODMAN[@]}" image exists "$BUILD_IMAGE" || ! "${PODMAN[@]}" image exists "$RUNTIME_IMAGE"; then
  t0=$(date +%s)
  work="$(mktemp -d "$BASE_CACHE/base.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  mkdir "$work/debian"
  tar -C "$work/debian" -xf "$ROOTFS_TAR"

  # Build base: the whole minbase root (shell, coreutils) plus node and npm, for `npm ci`.
  b="$work/debian"
  install -D -m 0755 "$NODE_BIN" "$b/usr/local/bin/node"
  mkdir -p "$b/usr/local/lib/node_modules"
  cp -a "$NPM_DIR" "$b/usr/local/lib/node_modules/npm"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$b/usr/local/bin/npm"
  tar -C "$b" --numeric-owner -c . | "${PODMAN[@]}" import \
    --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' --change 'WORKDIR /' - "$BUILD_IMAGE" >/dev/null

  # Runtime base, distroless-style: only what `ldd node` needs, the dynamic loader, a passwd with the
  # non-root user, and /nodejs/bin/node where gcr.io/distroless/nodejs* keeps it.
  r="$work/runtime"
  mkdir -p "$r"/{etc,tmp,usr/lib/x86_64-linux-gnu,usr/lib64,usr/share/doc,nodejs/bin}
  chmod 1777 "$r/tmp"
  ln -s usr/lib "$r/lib"
  ln -s usr/lib64 "$r/lib64"
  for lib in $(ldd "$NODE_BIN" | awk '$3 ~ /^\// {print $1}'); do
    cp -L "$b/usr/lib/x86_64-linux-gnu/$lib" "$r/usr/lib/x86_64-linux-gnu/$lib"
  done
  cp -L "$b/usr/lib64/ld-linux-x86-64.so.2" "$r/usr/lib64/ld-linux-x86-64.so.2"
  for pkg in libc6 libstdc++6 libgcc-s1; do cp -a "$b/usr/share/doc/$pkg" "$r/usr/share/doc/$pkg"; done
  printf 'root:x:0:0:root:/root:/sbin/nologin\nvireo:x:10001:10001:vireo:/nonexistent:/sbin/nologin\n' >"$r/etc/passwd"
  printf 'root:x:0:\nvireo:x:10001:\n' >"$r/etc/group"
  printf 'hosts: files dns\n' >"$r/etc/nsswitch.conf"
  install -m 0755 "$NODE_BIN" "$r/nodejs/bin/node"
  strip --strip-debug "$r/nodejs/bin/node"
  tar -C "$r" --numeric-owner -c . | "${PODMAN[@]}" import \
    --change 'ENV PATH=/nodejs/bin:/usr/bin' --change 'ENTRYPOINT ["/nodejs/bin/node"]' - "$RUNTIME_IMAGE" >/dev/null
  rm -rf "$work"
  trap - EXIT
  log "base images imported in $(($(date +%s) - t0))s: $BUILD_IMAGE, $RUNTIME_IMAGE"
fi

# --- 3. The controller image ------------------------------------------------------------------------
# A minimal context (what the Dockerfile copies) so the build never walks node_modules, .git or e2e/.
# Skipped when the image was built from exactly these inputs (Dockerfile, sources, lock, base images).
t0=$(date +%s)
inputs="$(
  {
    sha256sum "$ROOT/deploy/Dockerfile" "$ROOT/deploy/Dockerfile.dockerignore" "$ROOT/deploy/bundle.ts" \
      "$ROOT/package.json" "$ROOT/package-lock.json"
    (cd "$ROOT" && find src -type f -print0 | sort -z | xargs -0 sha256sum)
    "${PODMAN[@]}" image inspect --format '{{.Id}}' "$BUILD_IMAGE" "$RUNTIME_IMAGE"
  } | sha256sum | cut -c1-64
)"
if [[ $("${PODMAN[@]}" image inspect --format '{{index .Labels "dev.vireo.build-inputs"}}' "$IMAGE" 2>/dev/null) == "$inputs" ]]; then
  log "$IMAGE is up to date ($("${PODMAN[@]}" image inspect --format '{{.Size}}' "$IMAGE") bytes)"
  echo "$IMAGE"
  exit 0
fi
previous="$("${PODMAN[@]}" image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)"
ctx="$(mktemp -d)"
trap 'rm -rf "$ctx"' EXIT
cp "$ROOT/package.json" "$ROOT/package-lock.json" "$ctx/"
cp -r "$ROOT/src" "$ctx/src"
mkdir "$ctx/deploy" && cp "$ROOT/deploy/bundle.ts" "$ctx/deploy/"
# A TLS-intercepting proxy's CA (NODE_EXTRA_CA_CERTS on the host) is lent to `npm ci` only: mounted for the
# build, named by a build arg of the deps stage, absent from the runtime image.
ca_args=()
if [[ -n ${NODE_EXTRA_CA_CERTS:-} && -r $NODE_EXTRA_CA_CERTS ]]; then
  ca_args=(--volume "$NODE_EXTRA_CA_CERTS:/run/vireo-build-ca.crt:ro" --build-arg NODE_EXTRA_CA_CERTS=/run/vireo-build-ca.crt)
fi
"${PODMAN[@]}" build --isolation chroot --layers -q "${ca_args[@]}" \
  --build-arg "BUILD_IMAGE=$BUILD_IMAGE" --build-arg "RUNTIME_IMAGE=$RUNTIME_IMAGE" \
  --label "org.opencontainers.image.version=$VERSION" --label "dev.vireo.build-inputs=$inputs" \
  --ignorefile "$ROOT/deploy/Dockerfile.dockerignore" -f "$ROOT/deploy/Dockerfile" -t "$IMAGE" "$ctx" >/dev/null
# The image this build replaced would stay behind untagged, and vfs stores every image as a full copy.
current="$("${PODMAN[@]}" image inspect --format '{{.Id}}' "$IMAGE")"
if [[ -n $previous && $previous != "$current" ]]; then "${PODMAN[@]}" rmi "$previous" >/dev/null 2>&1 || true; fi
log "built $IMAGE in $(($(date +%s) - t0))s ($("${PODMAN[@]}" image inspect --format '{{.Size}}' "$IMAGE") bytes)"
echo "$IMAGE"
