/* mcast.h — the LAN beacon socket: UDP multicast on every interface.
 *
 * Layer: transport (knows nothing of beacons beyond the group addresses in
 * wire/beacon.h; it moves datagrams). One UDP socket per address family
 * (IPv4, IPv6; either may be missing on a host, not both), bound to the
 * wildcard address and the given port with SO_REUSEADDR so that several
 * nodes on one host all receive. It joins GLOW_BEACON_GROUP4 /
 * GLOW_BEACON_GROUP6 on every interface that is UP and MULTICAST (lo too if
 * it has the flag): an interface counts for IPv4 when it has an IPv4
 * address, for IPv6 when it has an IPv6 address. Interfaces are rescanned
 * every GLOW_MCAST_RESCAN_MS and on every send, so new ones are joined and
 * gone ones dropped.
 *
 * Sending goes to the group on each joined interface (TTL / hop limit 1,
 * loopback on, so nodes on the same host hear each other). Receiving is
 * non-blocking from the GMainContext; at most GLOW_MCAST_BURST datagrams
 * are read per wakeup, so a flood cannot starve the loop; datagrams over
 * GLOW_MCAST_MAX_DATAGRAM bytes are dropped unseen by the callback, and so
 * is anything not addressed to the group (unicast to the port: beacons are
 * link-local by nature, and an off-link host can only reach us by unicast).
 * The callback gets hostile bytes: the sender address and arrival interface
 * are what the kernel says, the content is anyone's.
 *
 * Ownership: GlowMcast owns its sockets and sources; glow_mcast_free()
 * closes them. The callback is called from ctx only and must not free m.
 */
#pragma once

#include <gio/gio.h>
#include <stdint.h>
#include <sys/socket.h>

#define GLOW_MCAST_MAX_DATAGRAM 1500  /* larger datagrams are dropped */
#define GLOW_MCAST_BURST 64           /* datagrams read per wakeup at most */
#define GLOW_MCAST_RESCAN_MS 5000

typedef void (*GlowMcastRecvFn)(const uint8_t *data, size_t len, const struct sockaddr *from, socklen_t from_len, guint ifindex, gpointer user);
typedef struct GlowMcast GlowMcast;

/* Opens, binds and joins on ctx (NULL: the thread-default context). port
 * must not be 0 (G_IO_ERROR_INVALID_ARGUMENT). NULL with error when
 * neither IPv4 nor IPv6 could be set up (a family that fails alone is
 * logged with g_debug and left out). Having no multicast interface is not
 * an error: they are joined when they appear. */
GlowMcast *glow_mcast_new(GMainContext *ctx, guint16 port, GlowMcastRecvFn fn, gpointer user, GError **error);
void glow_mcast_free(GlowMcast *m);
/* Sends to the groups on every joined interface; returns how many sends
 * succeeded (one per interface and family). len over
 * GLOW_MCAST_MAX_DATAGRAM sends nothing. Never blocks: a full socket buffer
 * is a failed send. */
guint glow_mcast_send(GlowMcast *m, const uint8_t *data, size_t len);
/* Interfaces currently joined: an interface joined for both IPv4 and IPv6
 * is counted once. */
guint glow_mcast_interfaces(const GlowMcast *m);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(GlowMcast, glow_mcast_free)
