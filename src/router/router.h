/* router.h — chooses the next hop for a packet to any node ID.
 *
 * Layer: router. Knows node IDs and "ports" (a next hop: a link, seen only
 * as an opaque pointer and a send function); knows nothing of resources or
 * RPC. In this version a node reaches its direct neighbours only: the table
 * maps a neighbour's node ID to the links that reach it (the oldest is
 * used; the others are spares if it fails). The mesh routing protocol
 * (docs/routing.md, a later issue) fills the same table with routes through
 * other nodes; callers do not change.
 */
#pragma once

#include <glib.h>

#include "wire/packet.h"

typedef struct GlowRouter GlowRouter;

typedef gboolean (*GlowPortSendFn)(gpointer port, const GlowPacketHeader *h, const uint8_t *payload);

typedef enum {
	GLOW_ROUTE_SENT = 0,
	GLOW_ROUTE_NO_ROUTE,   /* no path to the destination node */
	GLOW_ROUTE_HOP_LIMIT,  /* hop limit exhausted */
	GLOW_ROUTE_CONGESTED,  /* the next hop's queue is full: dropped */
} GlowRouteResult;

GlowRouter *glow_router_new(const GlowNodeId *self, GlowPortSendFn send);
void glow_router_free(GlowRouter *r);

void glow_router_add_neighbour(GlowRouter *r, const GlowNodeId *node, gpointer port);
/* Returns TRUE when node is no longer reachable at all after the removal. */
gboolean glow_router_remove_neighbour(GlowRouter *r, const GlowNodeId *node, gpointer port);
gboolean glow_router_reachable(const GlowRouter *r, const GlowNodeId *node);
/* The port a packet to node would leave by, or NULL. */
gpointer glow_router_next_hop(const GlowRouter *r, const GlowNodeId *node);

/* Forwards a packet addressed to another node (h->dst.node != self).
 * hop_limit is checked and the copy that leaves carries hop_limit - 1. */
GlowRouteResult glow_router_forward(GlowRouter *r, const GlowPacketHeader *h, const uint8_t *payload);
