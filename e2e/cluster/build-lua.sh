#!/usr/bin/env bash
# Installs Debian's Lua 5.1 interpreter, which test/argocd-health.test.ts runs deploy/argocd/health.lua with (Argo
# CD embeds a Lua 5.1). Idempotent: nothing to do when lua5.1 is on PATH.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/apt.sh"
apt_install lua5.1:lua5.1
printf '[build-lua] %s\n' "$(lua5.1 -v 2>&1)" >&2
