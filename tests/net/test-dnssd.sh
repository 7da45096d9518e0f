#!/usr/bin/env bash
# DNS-SD through avahi-daemon, as glowd uses it: two devices of one user on
# one LAN, each namespace with its own system bus and avahi-daemon
# (tests/net/avahi-ns.sh), beacons off so that DNS-SD is the only source.
# d2 comes back on another port than the address book has: d1 finds it
# again through _glow._tcp alone. Skipped where avahi-daemon is missing.
. "$(dirname "$0")/netns.sh"
. "$(dirname "$0")/avahi-ns.sh"
nb_require
if ! command -v avahi-daemon >/dev/null || ! command -v dbus-daemon >/dev/null; then
	echo "SKIP: avahi-daemon and dbus-daemon are needed (scripts/setup-deps.sh installs them)"
	exit 77
fi
dnssd_cleanup() {
	avahi_ns_down "$TMP/av-d1" 2>/dev/null
	avahi_ns_down "$TMP/av-d2" 2>/dev/null
	nb_cleanup
}
trap dnssd_cleanup EXIT

nb_host d1
nb_host d2
nb_lan 8 d1 d2
mkdir -p /run/avahi-daemon
chmod 755 "$TMP" # avahi-daemon runs as user avahi and must reach its bus socket in here
avahi_ns_up "$NB_PREFIX-d1" "$TMP/av-d1" lan8 || not_ok "avahi-daemon starts in d1's namespace"
avahi_ns_up "$NB_PREFIX-d2" "$TMP/av-d2" lan8 || not_ok "avahi-daemon starts in d2's namespace"
sleep 1

CONF='[discovery]
beacons=false
dnssd=true'
GLOW_TEST_NODE_ARGS="" DBUS_SYSTEM_BUS_ADDRESS="unix:path=$TMP/av-d1/bus" nb_node d1 198.18.8.1 "$CONF"
GLOW_TEST_NODE_ARGS="" DBUS_SYSTEM_BUS_ADDRESS="unix:path=$TMP/av-d2/bus" nb_node d2 198.18.8.2 "$CONF"
ID_2=$(g d2 id)
for _ in $(seq 1 50); do g d1 --json status | grep -q '"dnssd" : true' && break; sleep 0.1; done
expect_out "d1 publishes through its avahi-daemon" 0 '"dnssd" : true' g d1 --json status
expect_out "d1 links to d2 once (the address book learns its certificate)" 0 "linked to $ID_2" \
	g d1 connect 198.18.8.2:7177 "$ID_2"
kill -TERM "$PID_d2"
wait "$PID_d2" 2>/dev/null
rm -f "$DIR_d2/peers.conf" # so that d2 cannot dial d1 itself: only d1 can find d2
forget() { local keep=() p; for p in "${PIDS[@]}"; do [ "$p" != "$1" ] && keep+=("$p"); done; PIDS=("${keep[@]}"); }
forget "$PID_d2"
t0=$(date +%s%3N)
NB_PORT=7188 GLOW_TEST_NODE_ARGS="" DBUS_SYSTEM_BUS_ADDRESS="unix:path=$TMP/av-d2/bus" nb_node d2 198.18.8.2
t=$(nb_wait_links d1 1 20 "$t0") && ok "d2 back on another port: d1 finds it by DNS-SD alone and links (${t}s)" \
	|| not_ok "d1 finds d2 by DNS-SD within 20 s"
expect_out "the address book has d2's new address" 0 "198.18.8.2:7188" g d1 peers
expect_out "no beacons were involved" 0 '"beacons_accepted" : 0' g d1 --json status
echo "# dnssd: $PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
