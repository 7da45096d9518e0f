/* dv.h — the routing protocol: distance vector with sequence numbers and
 * Babel's feasibility condition (RFC 8966, section 3.5), so routes stay
 * loop-free while they converge and never count to infinity.
 *
 * Layer: router. Pure state machine: no I/O, no clock, no main loop. The
 * caller feeds it neighbour events, received messages and the time, and
 * it answers through the output callbacks (messages to send, route
 * changes). The same code runs inside glowd and inside the simulator
 * (tests/unit/test-dv.c), which drives hundreds of instances with virtual
 * links and virtual time. Message format: docs/routing.md.
 *
 * Neighbours are named by a caller-chosen non-zero 64-bit handle (a link
 * id). Metrics are 16-bit, additive; GLOW_DV_INFINITY means unreachable.
 * Not thread-safe. Ownership: the GlowDv copies everything it is given.
 */
#pragma once

#include <glib.h>
#include <stdint.h>

#include "wire/nodeid.h"

#define GLOW_DV_INFINITY 0xFFFFu
#define GLOW_DV_MAX_MSG 1400             /* bytes in one routing message */

typedef struct GlowDv GlowDv;

typedef struct {
	guint update_interval_ms;  /* full table to every neighbour this often */
	guint route_expiry_ms;     /* a route not refreshed this long is retracted */
	guint request_hops;        /* how far a seqno request travels */
	guint source_gc_ms;        /* an origin with no route is forgotten after this */
	gboolean transit;          /* advertise routes to others (FALSE: only to ourselves; we relay nothing) */
} GlowDvConfig;

void glow_dv_config_default(GlowDvConfig *cfg);

typedef struct {
	/* A routing message for one neighbour (len <= GLOW_DV_MAX_MSG). FALSE:
	 * it could not be queued; the neighbour gets the whole table soon. */
	gboolean (*send)(gpointer user, guint64 neigh, const uint8_t *msg, size_t len);
	/* The route to dst now leaves through neigh (0: no route). */
	void (*route_changed)(gpointer user, const GlowNodeId *dst, guint64 neigh, guint metric);
} GlowDvOutput;

GlowDv *glow_dv_new(const GlowNodeId *self, const GlowDvConfig *cfg, const GlowDvOutput *out, gpointer user);
void glow_dv_free(GlowDv *dv);

/* A link to node `id` is up with this cost (>= 1). A node may be reached
 * through several neighbour handles. */
void glow_dv_neighbour_up(GlowDv *dv, guint64 neigh, const GlowNodeId *id, guint cost, guint64 now_ms);
void glow_dv_neighbour_cost(GlowDv *dv, guint64 neigh, guint cost, guint64 now_ms);
void glow_dv_neighbour_down(GlowDv *dv, guint64 neigh, guint64 now_ms);

/* A routing message from a neighbour. Malformed input is counted and
 * ignored (returns FALSE); it never changes state partially. */
gboolean glow_dv_receive(GlowDv *dv, guint64 neigh, const uint8_t *msg, size_t len, guint64 now_ms);

/* Runs timers (periodic updates, expiry, request retries) and sends what
 * is pending. Call it at glow_dv_next_deadline() or earlier. */
void glow_dv_tick(GlowDv *dv, guint64 now_ms);
guint64 glow_dv_next_deadline(const GlowDv *dv);
/* Sends the triggered updates queued by the calls above (also done by tick). */
void glow_dv_flush(GlowDv *dv, guint64 now_ms);

/* The selected route to dst: neighbour handle and metric. FALSE if none. */
gboolean glow_dv_lookup(const GlowDv *dv, const GlowNodeId *dst, guint64 *neigh, guint *metric);

typedef struct {
	GlowNodeId dst;
	guint64 neigh;       /* 0 = unreachable (a route being retracted) */
	GlowNodeId next_hop; /* node behind neigh */
	guint metric;
	guint16 seqno;
	gboolean feasible;
} GlowDvRoute;

/* Every selected route (for `glow routes`). Caller frees with g_array_unref. */
GArray *glow_dv_routes(const GlowDv *dv);

typedef struct {
	guint64 msgs_sent, bytes_sent;
	guint64 msgs_received, bytes_received;
	guint64 malformed;
	guint64 updates_unfeasible;
	guint64 requests_sent;
	guint64 send_failures; /* messages the link could not queue (each answered by a full table) */
} GlowDvStats;

const GlowDvStats *glow_dv_stats(const GlowDv *dv);
guint16 glow_dv_seqno(const GlowDv *dv);
