#!/usr/bin/env bash
# Installs the Debian 12 packages the side-by-side benchmark needs
# (bench/routing-bench.sh): yggdrasil, the mesh Glow is compared with, and
# iperf3 and ping (iputils-ping) to measure throughput and latency over it.
# Idempotent, from Debian's archive only (the same installer as setup-deps.sh).
set -euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/setup-deps.sh" yggdrasil iperf3 iputils-ping
