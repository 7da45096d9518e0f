#include "router/router.h"

#include <string.h>

struct GlowRouter {
	GlowNodeId self;
	GlowPortSendFn send;
	GHashTable *neigh; /* GlowNodeId* (owned) -> GPtrArray of ports, oldest first */
};

GlowRouter *glow_router_new(const GlowNodeId *self, GlowPortSendFn send)
{
	GlowRouter *r = g_new0(GlowRouter, 1);
	r->self = *self;
	r->send = send;
	r->neigh = g_hash_table_new_full(glow_node_id_hash, glow_node_id_equal_key, g_free, (GDestroyNotify)g_ptr_array_unref);
	return r;
}

void glow_router_free(GlowRouter *r)
{
	if (!r)
		return;
	g_hash_table_destroy(r->neigh);
	g_free(r);
}

void glow_router_add_neighbour(GlowRouter *r, const GlowNodeId *node, gpointer port)
{
	GPtrArray *ports = g_hash_table_lookup(r->neigh, node);
	if (!ports) {
		ports = g_ptr_array_new();
		g_hash_table_insert(r->neigh, g_memdup2(node, sizeof *node), ports);
	}
	g_ptr_array_add(ports, port);
}

gboolean glow_router_remove_neighbour(GlowRouter *r, const GlowNodeId *node, gpointer port)
{
	GPtrArray *ports = g_hash_table_lookup(r->neigh, node);
	if (!ports)
		return TRUE;
	g_ptr_array_remove(ports, port);
	if (ports->len)
		return FALSE;
	g_hash_table_remove(r->neigh, node);
	return TRUE;
}

gboolean glow_router_reachable(const GlowRouter *r, const GlowNodeId *node)
{
	return glow_node_id_equal(node, &r->self) || g_hash_table_contains(r->neigh, node);
}

gpointer glow_router_next_hop(const GlowRouter *r, const GlowNodeId *node)
{
	GPtrArray *ports = g_hash_table_lookup(r->neigh, node);
	return ports && ports->len ? ports->pdata[0] : NULL;
}

GlowRouteResult glow_router_forward(GlowRouter *r, const GlowPacketHeader *h, const uint8_t *payload)
{
	gpointer port = glow_router_next_hop(r, &h->dst.node);
	GlowPacketHeader out;

	if (!port)
		return GLOW_ROUTE_NO_ROUTE;
	if (h->hop_limit == 0)
		return GLOW_ROUTE_HOP_LIMIT;
	out = *h;
	out.hop_limit--;
	return r->send(port, &out, payload) ? GLOW_ROUTE_SENT : GLOW_ROUTE_CONGESTED;
}
