# avahi-ns.sh — sourced by multi-namespace tests: one system bus and one
# avahi-daemon per network namespace (not run by meson on its own).
#
#   avahi_ns_up NS DIR IFACE   # bus at unix:path=DIR/bus, daemon on IFACE only
#   avahi_ns_down DIR
#
# Clients in NS reach their daemon with DBUS_SYSTEM_BUS_ADDRESS=unix:path=DIR/bus
# (a path socket, so any namespace can use it; the caller picks the right one).
# Why it works: avahi-daemon keeps its pid file and socket in a fixed
# /run/avahi-daemon, so each daemon gets its own through a bind mount made
# inside `ip netns exec` (which runs in a mount namespace of its own);
# host-name differs per namespace to avoid needless host-name collisions;
# DIR is 0755 because avahi-daemon drops to user avahi before it connects to
# the bus. dbus-daemon runs with the system policy (which lets avahi own
# org.freedesktop.Avahi) and --nopidfile so it leaves /run/dbus alone.

avahi_ns_up() {
  local ns=$1 dir=$2 iface=$3
  mkdir -p "$dir/avahi"
  chmod 755 "$dir"
  chown avahi:avahi "$dir/avahi"
  cat > "$dir/avahi.conf" <<CONF
[server]
host-name=glow-$ns
use-ipv4=yes
use-ipv6=yes
allow-interfaces=$iface
[wide-area]
enable-wide-area=no
[publish]
publish-hinfo=no
publish-workstation=no
CONF
  ip netns exec "$ns" dbus-daemon --config-file=/usr/share/dbus-1/system.conf \
    --address="unix:path=$dir/bus" --fork --nopidfile --print-pid > "$dir/bus.pid"
  ip netns exec "$ns" sh -c "mount --bind '$dir/avahi' /run/avahi-daemon &&
    DBUS_SYSTEM_BUS_ADDRESS='unix:path=$dir/bus' avahi-daemon --daemonize --no-chroot -f '$dir/avahi.conf'"
}

avahi_ns_down() {
  local dir=$1
  if [ -f "$dir/avahi/pid" ]; then kill "$(cat "$dir/avahi/pid")" 2>/dev/null || true; fi
  if [ -f "$dir/bus.pid" ]; then kill "$(cat "$dir/bus.pid")" 2>/dev/null || true; fi
  sleep 0.3
  rm -rf "$dir"
}
