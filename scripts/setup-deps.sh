#!/usr/bin/env bash
# Installs the Debian 12 packages Glow needs to build, test and fuzz.
# Idempotent: only packages that are missing are installed; nothing is
# downloaded from anywhere but Debian's archive.
set -euo pipefail

# With arguments, installs those packages instead (scripts/setup-bench-deps.sh).
PKGS=(
  build-essential meson ninja-build pkg-config
  libglib2.0-dev libsodium-dev
  libprotobuf-c-dev protobuf-c-compiler
  libjson-glib-dev
  libqrencode-dev libavahi-client-dev libavahi-glib-dev
  avahi-daemon dbus zbar-tools
  clang libclang-rt-14-dev
  python3 iproute2 procps
)

if [ $# -gt 0 ]; then PKGS=("$@"); fi

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup-deps: all ${#PKGS[@]} packages present"
  exit 0
fi

SUDO=
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi
echo "setup-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
