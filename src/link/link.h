/* link.h — an authenticated, encrypted connection to one neighbour node.
 *
 * Layer: link. Above a transport (GlowConn), below the router. A link runs
 * the Noise_XX handshake whose payloads (glow.LinkHello) bind each side's
 * Noise static key to its Ed25519 node ID, then carries Firefly packets in
 * encrypted records, sends keepalives, measures RTT, rekeys, and declares
 * itself dead when the peer goes silent. Wire format: docs/firefly.md
 * ("Link layer").
 *
 *   handshake frame: u16 len | noise handshake message
 *   record:          u16 len | u8 type | ChaChaPoly(k, n, ad=type, plaintext)
 *   DATA plaintext:  a byte stream of Firefly packets (packets may span records)
 *
 * Callbacks run on the link's GMainContext. `closed` is called exactly once,
 * for every way a link ends (handshake failure, peer closed, protocol error,
 * dead peer, local close); established/packet are never called after it.
 * Ownership: the creator holds one reference; a link keeps itself alive
 * while it runs a callback, so dropping the last reference from inside a
 * callback is safe. glow_link_new takes ownership of conn.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "link/identity.h"
#include "transport/transport.h"
#include "wire/packet.h"

typedef struct GlowLink GlowLink;

typedef struct {
	guint handshake_ms;
	guint keepalive_ms;  /* idle: ping after this long without traffic */
	guint dead_ms;       /* idle: dead after this long without hearing the peer */
	guint probe_ms;      /* busy: ping when the peer is silent this long after we sent */
	guint busy_dead_ms;  /* busy: dead when silent this long after we sent */
	guint64 rekey_records;
	guint rekey_seconds;
	gsize sendq_max;
	guint32 max_payload;
} GlowLinkConfig;

void glow_link_config_default(GlowLinkConfig *cfg);

typedef struct {
	void (*established)(GlowLink *l, gpointer user);
	void (*packet)(GlowLink *l, const GlowPacketHeader *h, const uint8_t *payload, gpointer user);
	void (*closed)(GlowLink *l, const char *reason, gpointer user);
} GlowLinkCallbacks;

typedef struct {
	guint64 bytes_in, bytes_out;
	guint64 packets_in, packets_out;
	guint64 records_in, records_out;
	guint64 rekeys;
	guint64 drops;       /* packets refused because the send queue was full */
	guint64 rtt_us;      /* last round trip (handshake or keepalive), 0 = not measured */
	guint64 srtt_us;     /* smoothed round trip */
	guint loss_permille; /* smoothed share of keepalives that got no answer */
	gint64 established_us;
} GlowLinkStats;

/* expect: the node ID the peer must prove (dialer side), or NULL for any.
 * A peer proving another key is refused after message 2, before this side
 * reveals its own identity in message 3. */
GlowLink *glow_link_new(GMainContext *ctx, guint64 id, GlowConn *conn, gboolean initiator,
                        const GlowIdentity *self, const char *self_name, const GlowNodeId *expect,
                        const GlowLinkConfig *cfg, const GlowLinkCallbacks *cb, gpointer user);
GlowLink *glow_link_ref(GlowLink *l);
void glow_link_unref(GlowLink *l);

/* Queues one packet. FALSE when the link is not established or closed, or
 * its send queue is over sendq_max (the packet is dropped and counted). */
gboolean glow_link_send(GlowLink *l, const GlowPacketHeader *h, const uint8_t *payload);
/* Ends the link: a CLOSE record is sent best-effort, the fd closed, and
 * `closed` called (synchronously). Safe to call more than once. */
void glow_link_close(GlowLink *l, const char *reason);

guint64 glow_link_id(const GlowLink *l);
gboolean glow_link_is_established(const GlowLink *l);
gboolean glow_link_is_initiator(const GlowLink *l);
/* Valid once established. */
const GlowNodeId *glow_link_peer(const GlowLink *l);
const char *glow_link_peer_name(const GlowLink *l);
/* The peer's device certificate from its hello, unchecked (the node checks
 * it: node/user.h), or NULL. */
GBytes *glow_link_peer_cert(const GlowLink *l);
/* What this side's hello carries as its certificate; call right after
 * glow_link_new (the hello goes out from the main loop). */
void glow_link_set_local_cert(GlowLink *l, GBytes *cert);
/* New keepalive, liveness, handshake and rekey settings for a running link
 * (glow config set); the queue bound and packet size stay. */
void glow_link_set_timers(GlowLink *l, const GlowLinkConfig *cfg);
const GlowConn *glow_link_conn(const GlowLink *l);
const GlowLinkStats *glow_link_stats(const GlowLink *l);
gsize glow_link_queued(const GlowLink *l);
