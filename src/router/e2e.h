/* e2e.h — end-to-end sessions between two nodes, carried in routed packets.
 *
 * Layer: router. Pure state machine: no I/O, no main loop, no clock (the
 * caller passes the time). A packet from this node to a node that is not
 * the next hop is sealed here: the whole inner packet (its 112-byte header
 * and payload) is encrypted and authenticated for the destination node, and
 * travels as the payload of an outer SEALED packet whose header carries only
 * what relays need (source and destination node, hop limit, length). Relays
 * forward outer packets without being able to read or alter them: the outer
 * header (hop limit zeroed) is the AEAD's associated data, so a changed
 * address, length or byte is detected and the packet dropped.
 *
 * Sessions are Noise_IK_25519_ChaChaPoly_BLAKE2b: a node's static key for
 * them is its Ed25519 identity converted to X25519, so the initiator knows
 * the responder's key from its node ID alone, and the responder checks that
 * the initiator's static key is the conversion of the source node ID. Wire
 * format and rules: docs/firefly.md "End-to-end sessions".
 *
 * Ownership: GlowE2e keeps a pointer to the identity (which must outlive
 * it) and copies every packet it queues. Output callbacks must not call
 * back into the GlowE2e, except that `deliver` may call glow_e2e_send (a
 * handler answering at once).
 * Not thread-safe.
 */
#pragma once

#include <glib.h>

#include "link/identity.h"
#include "wire/packet.h"

typedef struct GlowE2e GlowE2e;

typedef struct {
	/* An outer packet (E2E_INIT, E2E_RESP, SEALED) to route toward h->dst.node. */
	GlowErrorCode (*send)(gpointer user, const GlowPacketHeader *h, const uint8_t *payload);
	/* An authenticated inner packet for this node, from h->src.node. Its
	 * hop_limit is the outer packet's, as it arrived. */
	void (*deliver)(gpointer user, const GlowPacketHeader *h, const uint8_t *payload);
	/* A queued inner packet that will never be sent (no session could be made). */
	void (*dropped)(gpointer user, const GlowPacketHeader *h, GlowErrorCode code, const char *why);
} GlowE2eOutput;

typedef struct {
	guint handshake_ms;  /* an unanswered handshake fails after this */
	guint retry_ms;      /* message 1 is repeated this often meanwhile */
	guint rekey_ms;      /* a session this old is replaced when next used */
	guint expire_ms;     /* ... and forgotten at this age */
} GlowE2eConfig;

void glow_e2e_config_default(GlowE2eConfig *cfg);

GlowE2e *glow_e2e_new(const GlowIdentity *self, const GlowE2eConfig *cfg, const GlowE2eOutput *out, gpointer user);
/* Queued packets are dropped silently. */
void glow_e2e_free(GlowE2e *e);

/* Seals an inner packet for h->dst.node (not this node) and sends it, or
 * queues it while a session is made. Returns GLOW_OK, TOO_FAST when the
 * queue is full, UNREACHABLE when the destination's ID is not a usable key,
 * or what the send callback returned. */
GlowErrorCode glow_e2e_send(GlowE2e *e, const GlowPacketHeader *h, const uint8_t *payload, guint64 now_ms);
/* An outer E2E_INIT, E2E_RESP or SEALED packet addressed to this node.
 * Returns FALSE when it is refused (malformed, not authentic, replayed,
 * over a rate limit): counted in the stats, and no session changes; a
 * SEALED packet for a session we lack also makes us start a handshake
 * with its sender (bounded, firefly.md 11.3). */
gboolean glow_e2e_receive(GlowE2e *e, const GlowPacketHeader *h, const uint8_t *payload, guint64 now_ms);
/* Retries and fails handshakes, drops old sessions. Call every few hundred ms. */
void glow_e2e_tick(GlowE2e *e, guint64 now_ms);
/* Drops, silently, the packets waiting for a session with peer (their calls
 * have been failed already: the node became unreachable). */
void glow_e2e_forget_queued(GlowE2e *e, const GlowNodeId *peer);

typedef struct {
	guint64 sealed, opened;          /* inner packets */
	guint64 handshakes_started, handshakes_done, handshakes_answered;
	guint64 rejected_malformed, rejected_auth, rejected_replay, rejected_unknown_session,
	        rejected_rate, rejected_inner;
	guint64 queue_drops;
	guint64 peers_evicted;
} GlowE2eStats;

const GlowE2eStats *glow_e2e_stats(const GlowE2e *e);
/* Sessions in use (for status output and tests). */
guint glow_e2e_session_count(const GlowE2e *e);
/* TRUE when a confirmed session with peer exists. */
gboolean glow_e2e_has_session(const GlowE2e *e, const GlowNodeId *peer);

/* TEST ONLY (tests/unit/test-e2e-vectors.c): the next handshake this node
 * takes part in uses this ephemeral private key and this local index,
 * instead of random ones. */
void glow_e2e_test_fix_next(GlowE2e *e, const uint8_t e_priv[32], guint32 index);
