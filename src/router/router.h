/* router.h — chooses the next hop for a packet to any node ID.
 *
 * Layer: router. Knows node IDs and "ports" (a next hop: a link, seen only
 * as an opaque pointer and a send function); knows nothing of resources or
 * RPC. It runs the routing protocol (dv.h, docs/routing.md) with its
 * neighbours: routing messages travel as GLOW_PKT_ROUTING packets between
 * neighbours, and the selected routes decide where packets for other nodes
 * go. A direct neighbour with no route yet (its first update has not
 * arrived) is reached over its link.
 *
 * Events: the node hears when a node becomes reachable or unreachable, and
 * when the route to a node went through a link that just died (packets in
 * flight on it are lost, even if another route takes over at once).
 * Neighbours are named by a caller-chosen non-zero handle (the link id).
 * Ownership: ports belong to the caller; the router only keeps pointers,
 * which the caller removes (remove_neighbour) before they die.
 */
#pragma once

#include <glib.h>

#include "router/dv.h"
#include "wire/packet.h"

typedef struct GlowRouter GlowRouter;

typedef enum {
	GLOW_ROUTER_REACHABLE = 1,   /* a route or a link to the node appeared */
	GLOW_ROUTER_UNREACHABLE,     /* no route and no link is left */
	GLOW_ROUTER_PATH_BROKEN,     /* still reachable, but the link its route used died */
} GlowRouterEvent;

typedef struct {
	/* Sends a packet to the neighbour behind port. FALSE: its queue is full. */
	gboolean (*send)(gpointer port, const GlowPacketHeader *h, const uint8_t *payload, gpointer user);
	void (*event)(const GlowNodeId *node, GlowRouterEvent ev, gpointer user);
} GlowRouterOps;

typedef struct {
	GlowDvConfig dv;  /* dv.transit = FALSE: this node relays for nobody, so it advertises no routes */
} GlowRouterConfig;

void glow_router_config_default(GlowRouterConfig *cfg);

typedef enum {
	GLOW_ROUTE_SENT = 0,
	GLOW_ROUTE_NO_ROUTE,   /* no path to the destination node */
	GLOW_ROUTE_HOP_LIMIT,  /* hop limit exhausted */
	GLOW_ROUTE_CONGESTED,  /* the next hop's queue is full: dropped */
} GlowRouteResult;

/* ctx: where the protocol's timer runs (NULL: no timer; call glow_router_tick). */
GlowRouter *glow_router_new(GMainContext *ctx, const GlowNodeId *self, const GlowRouterConfig *cfg,
                            const GlowRouterOps *ops, gpointer user);
void glow_router_free(GlowRouter *r);

/* A link to node is up (cost >= 1, from its RTT and loss). */
void glow_router_add_neighbour(GlowRouter *r, guint64 handle, const GlowNodeId *node, gpointer port, guint cost);
void glow_router_set_cost(GlowRouter *r, guint64 handle, guint cost);
void glow_router_remove_neighbour(GlowRouter *r, guint64 handle);
/* The payload of a GLOW_PKT_ROUTING packet that arrived on a neighbour's link.
 * FALSE when it was malformed (counted, ignored). */
gboolean glow_router_receive(GlowRouter *r, guint64 handle, const uint8_t *msg, size_t len);
/* Runs the protocol's timers now (the GMainContext timer calls it too). */
void glow_router_tick(GlowRouter *r);

gboolean glow_router_reachable(const GlowRouter *r, const GlowNodeId *node);
/* The port a packet to node would leave by, or NULL; *direct (if not NULL)
 * tells whether that port's neighbour is node itself. */
gpointer glow_router_next_hop(const GlowRouter *r, const GlowNodeId *node, gboolean *direct);

/* Forwards a packet addressed to another node (h->dst.node != self).
 * hop_limit is checked and the copy that leaves carries hop_limit - 1. */
GlowRouteResult glow_router_forward(GlowRouter *r, const GlowPacketHeader *h, const uint8_t *payload);

typedef struct {
	GlowNodeId dst;
	GlowNodeId next_hop;
	guint64 handle;   /* link the route leaves by */
	guint metric;     /* GLOW_DV_INFINITY for a neighbour not yet in the table */
	guint16 seqno;
	gboolean via_protocol; /* FALSE: a direct neighbour the protocol has not confirmed yet */
} GlowRouterRoute;

/* Every reachable node other than this one, by metric. g_array_unref. */
GArray *glow_router_routes(const GlowRouter *r);
/* Nodes known to the router whose ID starts with prefix (clean text). */
void glow_router_match_prefix(const GlowRouter *r, const char *prefix, GPtrArray *out_ids);
const GlowDvStats *glow_router_dv_stats(const GlowRouter *r);
guint16 glow_router_seqno(const GlowRouter *r);
