# Sourced by the build scripts: installs missing Debian packages, one script at a time. build.sh runs several
# builds at once, and dpkg/apt hold one lock each that a second apt-get would fail on rather than wait for.
# apt_install [--why TEXT] CMD:PACKAGE...  installs PACKAGE for each CMD not on the PATH; a no-op when all are there.
apt_install() {
  local why="" missing=() pair
  if [[ ${1:-} == --why ]]; then why=" ($2)"; shift 2; fi
  for pair in "$@"; do command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}"); done
  ((${#missing[@]})) || return 0
  printf '[apt %s] installing Debian packages%s: %s\n' "$(date +%H:%M:%S)" "$why" "${missing[*]}" >&2
  (
    export DEBIAN_FRONTEND=noninteractive
    flock 8
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  ) 8>/tmp/vireo-apt.lock
}
