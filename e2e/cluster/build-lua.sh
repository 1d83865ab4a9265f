#!/usr/bin/env bash
# Installs Debian's Lua 5.1 interpreter, which test/argocd-health.test.ts runs deploy/argocd/health.lua with (Argo
# CD embeds a Lua 5.1). Idempotent: nothing to do when lua5.1 is on PATH.
set -euo pipefail

missing=()
command -v lua5.1 >/dev/null || missing+=(lua5.1)
if ((${#missing[@]})); then
  printf '[build-lua] installing Debian packages: %s\n' "${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
printf '[build-lua] %s\n' "$(lua5.1 -v 2>&1)" >&2
