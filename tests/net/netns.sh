# netns.sh — a testbed of separate hosts on one machine: network namespaces
# joined by veth pairs, one glowd per namespace. Sourced by tests; every
# namespace, interface and process it makes is removed on exit, even on
# failure. Needs root (ip netns); nb_require skips the test otherwise.
#
# Addresses come from 198.18.0.0/15 (RFC 2544's benchmarking range), only
# ever inside the namespaces the test creates.
#
#   host A                      host B
#   [A] v-B 198.18.N.1 ---- v-A 198.18.N.2 [B]      nb_wire A B N
#   (host names up to 13 characters: interface names are limited to 15)
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NB_PREFIX="glw$$"
NB_HOSTS=()

nb_require() {
	if [ "$(id -u)" != 0 ] || ! ip netns list >/dev/null 2>&1; then
		echo "SKIP: network namespaces need root and iproute2 (ip netns); this test did not run"
		exit 77
	fi
}

nb_cleanup() {
	cleanup
	for h in "${NB_HOSTS[@]}"; do ip netns del "$NB_PREFIX-$h" 2>/dev/null; done
}
trap nb_cleanup EXIT

# nb_host NAME: a new namespace with loopback up
nb_host() {
	ip netns add "$NB_PREFIX-$1"
	NB_HOSTS+=("$1")
	ip -n "$NB_PREFIX-$1" link set lo up
}

# nsenter execs in place (ip netns exec forks), so $! is the command's own pid.
nb_exec() { local h=$1; shift; nsenter --net="/run/netns/$NB_PREFIX-$h" "$@"; }

# nb_wire A B N: a veth pair between A (198.18.N.1) and B (198.18.N.2)
nb_wire() {
	local a=$1 b=$2 n=$3
	local ta="gw$$x$n" tb="gw$$y$n" # short-lived names in the root namespace
	ip link add "$ta" type veth peer name "$tb"
	ip link set "$ta" netns "$NB_PREFIX-$a" name "v-$b"
	ip link set "$tb" netns "$NB_PREFIX-$b" name "v-$a"
	ip -n "$NB_PREFIX-$a" addr add "198.18.$n.1/24" dev "v-$b"
	ip -n "$NB_PREFIX-$b" addr add "198.18.$n.2/24" dev "v-$a"
	ip -n "$NB_PREFIX-$a" link set "v-$b" up
	ip -n "$NB_PREFIX-$b" link set "v-$a" up
}

# nb_lan N HOST...: one Ethernet segment, a bridge in a namespace of its own
# ("lanN"), with each HOST on it at 198.18.N.1, .2, ... in the order given
# (interface "lanN" in each host). Multicast snooping is off, so beacons
# reach every port as they would on a plain switch.
nb_lan() {
	local n=$1 i=1 h
	shift
	nb_host "lan$n"
	ip -n "$NB_PREFIX-lan$n" link add br0 type bridge mcast_snooping 0
	ip -n "$NB_PREFIX-lan$n" link set br0 up
	for h in "$@"; do
		local ta="gw$$l$n$i" tb="gw$$m$n$i"
		ip link add "$ta" type veth peer name "$tb"
		ip link set "$ta" netns "$NB_PREFIX-$h" name "lan$n"
		ip link set "$tb" netns "$NB_PREFIX-lan$n" name "p$i"
		ip -n "$NB_PREFIX-lan$n" link set "p$i" master br0 up
		ip -n "$NB_PREFIX-$h" addr add "198.18.$n.$i/24" dev "lan$n"
		ip -n "$NB_PREFIX-$h" link set "lan$n" up
		i=$((i + 1))
	done
}

# nb_cut A B / nb_mend A B: take the A side of the wire down / up again.
# Down on one side only: B sees no carrier change, only silence.
nb_cut() { ip -n "$NB_PREFIX-$1" link set "v-$2" down; }
nb_mend() { ip -n "$NB_PREFIX-$1" link set "v-$2" up; }

# nb_node HOST ADDR [CONFIG-TEXT]: glowd in HOST's namespace listening on
# ADDR:7177, with CONFIG-TEXT as its glowd.conf when given
nb_node() {
	local h=$1 addr=$2 conf=${3:-}
	local dir=$TMP/$h
	mkdir -p "$dir"
	[ -n "$conf" ] && printf '%s\n' "$conf" >"$dir/glowd.conf"
	[ "${share_user:-yes}" = yes ] && give_user "$dir"
	nsenter --net="/run/netns/$NB_PREFIX-$h" "$GLOWD" ${GLOW_TEST_GLOWD_ARGS:-} $GLOW_TEST_NODE_ARGS -d "$dir" -l "$addr:${NB_PORT:-7177}" -n "$h" >"$dir/out" 2>"$dir/err" &
	PIDS+=("$!")
	for _ in $(seq 1 100); do
		grep -q "control socket" "$dir/out" 2>/dev/null && break
		sleep 0.05
	done
	grep -q "control socket" "$dir/out" || { echo "glowd on $h did not start:"; cat "$dir/err"; exit 1; }
	eval "DIR_$h=$dir PID_$h=${PIDS[-1]}"
}

# nb_wait_links HOST N SECONDS [SINCE-MS]: waits until HOST has N links;
# prints the seconds since SINCE-MS (a `date +%s%3N` value; default: now)
nb_wait_links() {
	local h=$1 want=$2 limit_ms=$(($3 * 1000)) t0=${4:-$(date +%s%3N)} n
	while :; do
		n=$(g "$h" --json links | grep -c '"peer_id"')
		[ "$n" = "$want" ] && break
		if [ $(($(date +%s%3N) - t0)) -gt "$limit_ms" ]; then
			echo "timeout"
			return 1
		fi
		sleep 0.1
	done
	local ms=$(($(date +%s%3N) - t0))
	echo "$((ms / 1000)).$((ms % 1000 / 100))"
}

# nb_link_bytes HOST: bytes sent so far on HOST's first link
nb_link_bytes() {
	g "$1" --json links | sed -n 's/.*"bytes_out" : \([0-9]*\).*/\1/p' | head -1
}
