#!/usr/bin/env bash
# Installs the Debian 12 packages the side-by-side benchmarks need
# (bench/routing-bench.sh): yggdrasil, the mesh Glow is compared with, and
# iperf3 and ping (iputils-ping) to measure throughput and latency over it.
# Idempotent: only packages that are missing are installed; nothing is
# downloaded from anywhere but Debian's archive.
set -euo pipefail

PKGS=(
  yggdrasil iperf3 iputils-ping
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup-bench-deps: all ${#PKGS[@]} packages present"
  exit 0
fi

SUDO=
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi
echo "setup-bench-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
