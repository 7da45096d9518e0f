#include "router/router.h"

#include <string.h>

typedef struct {
	guint64 handle;
	GlowNodeId node;
	gpointer port;
} Neighbour;

struct GlowRouter {
	GlowNodeId self;
	GlowRouterConfig cfg;
	GlowRouterOps ops;
	gpointer user;
	GlowDv *dv;
	GSource *timer;
	GHashTable *neigh;     /* handle -> Neighbour* */
	GHashTable *by_node;   /* GlowNodeId* -> GPtrArray of Neighbour*, oldest first */
	GHashTable *reachable; /* GlowNodeId* (owned) -> itself: nodes last reported reachable */
};

void glow_router_config_default(GlowRouterConfig *cfg)
{
	glow_dv_config_default(&cfg->dv);
}

static guint64 now_ms(void)
{
	return (guint64)(g_get_monotonic_time() / 1000);
}

/* --- reachability events ------------------------------------------------------------ */

static void update_reach(GlowRouter *r, const GlowNodeId *node)
{
	gboolean now = glow_router_reachable(r, node);
	gboolean was = g_hash_table_contains(r->reachable, node);
	if (now == was)
		return;
	if (now) {
		GlowNodeId *k = g_memdup2(node, sizeof *node);
		g_hash_table_add(r->reachable, k);
	} else {
		g_hash_table_remove(r->reachable, node);
	}
	if (r->ops.event)
		r->ops.event(node, now ? GLOW_ROUTER_REACHABLE : GLOW_ROUTER_UNREACHABLE, r->user);
}

/* --- the protocol's output ------------------------------------------------------------ */

static gboolean dv_send(gpointer user, guint64 handle, const uint8_t *msg, size_t len)
{
	GlowRouter *r = user;
	Neighbour *n = g_hash_table_lookup(r->neigh, &handle);
	GlowPacketHeader h = {
		.version = GLOW_PACKET_VERSION,
		.type = GLOW_PKT_ROUTING,
		.payload_len = (uint32_t)len,
	};
	if (!n)
		return TRUE; /* going down: nothing to make up for */
	h.dst.node = n->node;
	h.src.node = r->self;
	return r->ops.send(n->port, &h, msg, r->user);
}

static void dv_route_changed(gpointer user, const GlowNodeId *dst, guint64 neigh, guint metric)
{
	(void)neigh;
	(void)metric;
	update_reach(user, dst);
}

static gboolean on_timer(gpointer data)
{
	glow_router_tick(data);
	return G_SOURCE_CONTINUE;
}

GlowRouter *glow_router_new(GMainContext *ctx, const GlowNodeId *self, const GlowRouterConfig *cfg,
                            const GlowRouterOps *ops, gpointer user)
{
	GlowRouter *r = g_new0(GlowRouter, 1);
	GlowDvOutput out = { .send = dv_send, .route_changed = dv_route_changed };

	r->self = *self;
	r->cfg = *cfg;
	r->ops = *ops;
	r->user = user;
	r->neigh = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, g_free);
	r->by_node = g_hash_table_new_full(glow_node_id_hash, glow_node_id_equal_key, g_free,
	                                   (GDestroyNotify)g_ptr_array_unref);
	r->reachable = g_hash_table_new_full(glow_node_id_hash, glow_node_id_equal_key, g_free, NULL);
	r->dv = glow_dv_new(self, &cfg->dv, &out, r);
	if (ctx) {
		r->timer = g_timeout_source_new(GLOW_ROUTER_TICK_MS);
		g_source_set_callback(r->timer, on_timer, r, NULL);
		g_source_attach(r->timer, ctx);
	}
	return r;
}

void glow_router_free(GlowRouter *r)
{
	if (!r)
		return;
	if (r->timer) {
		g_source_destroy(r->timer);
		g_source_unref(r->timer);
	}
	/* No events from here on: the owner is going away. */
	r->ops.event = NULL;
	glow_dv_free(r->dv);
	g_hash_table_destroy(r->neigh);
	g_hash_table_destroy(r->by_node);
	g_hash_table_destroy(r->reachable);
	g_free(r);
}

void glow_router_tick(GlowRouter *r)
{
	glow_dv_tick(r->dv, now_ms());
}

/* --- neighbours ------------------------------------------------------------------------ */

void glow_router_add_neighbour(GlowRouter *r, guint64 handle, const GlowNodeId *node, gpointer port, guint cost)
{
	Neighbour *n;
	GPtrArray *list;

	if (g_hash_table_contains(r->neigh, &handle))
		return;
	n = g_new0(Neighbour, 1);
	n->handle = handle;
	n->node = *node;
	n->port = port;
	g_hash_table_insert(r->neigh, &n->handle, n);
	list = g_hash_table_lookup(r->by_node, node);
	if (!list) {
		list = g_ptr_array_new();
		g_hash_table_insert(r->by_node, g_memdup2(node, sizeof *node), list);
	}
	g_ptr_array_add(list, n);
	update_reach(r, node);
	glow_dv_neighbour_up(r->dv, handle, node, cost, now_ms());
}

void glow_router_set_cost(GlowRouter *r, guint64 handle, guint cost)
{
	if (g_hash_table_contains(r->neigh, &handle))
		glow_dv_neighbour_cost(r->dv, handle, cost, now_ms());
}

/* The handle packets to dst leave by now, 0 if none. */
static guint64 current_handle(const GlowRouter *r, const GlowNodeId *dst)
{
	guint64 h;
	guint metric;
	GPtrArray *list;
	if (glow_dv_lookup(r->dv, dst, &h, &metric))
		return h;
	list = g_hash_table_lookup(r->by_node, dst);
	return list && list->len ? ((Neighbour *)list->pdata[0])->handle : 0;
}

void glow_router_remove_neighbour(GlowRouter *r, guint64 handle)
{
	Neighbour *n = g_hash_table_lookup(r->neigh, &handle);
	g_autoptr(GArray) routes = NULL;
	g_autoptr(GArray) broken = g_array_new(FALSE, FALSE, sizeof(GlowNodeId));
	GlowNodeId node;
	GPtrArray *list;

	if (!n)
		return;
	node = n->node;
	/* Which destinations were reached through this link, before it goes. */
	routes = glow_router_routes(r);
	for (guint i = 0; i < routes->len; i++) {
		const GlowRouterRoute *rt = &g_array_index(routes, GlowRouterRoute, i);
		if (current_handle(r, &rt->dst) == handle)
			g_array_append_val(broken, rt->dst);
	}
	list = g_hash_table_lookup(r->by_node, &node);
	if (list) {
		g_ptr_array_remove(list, n);
		if (!list->len)
			g_hash_table_remove(r->by_node, &node);
	}
	g_hash_table_remove(r->neigh, &handle); /* frees n */
	glow_dv_neighbour_down(r->dv, handle, now_ms());
	update_reach(r, &node);
	for (guint i = 0; i < broken->len; i++) {
		const GlowNodeId *dst = &g_array_index(broken, GlowNodeId, i);
		update_reach(r, dst);
		if (r->ops.event && glow_router_reachable(r, dst))
			r->ops.event(dst, GLOW_ROUTER_PATH_BROKEN, r->user);
	}
}

gboolean glow_router_receive(GlowRouter *r, guint64 handle, const uint8_t *msg, size_t len)
{
	return glow_dv_receive(r->dv, handle, msg, len, now_ms());
}

/* --- lookups ------------------------------------------------------------------------------- */

gboolean glow_router_reachable(const GlowRouter *r, const GlowNodeId *node)
{
	return glow_node_id_equal(node, &r->self) || current_handle(r, node) != 0;
}

gpointer glow_router_next_hop(const GlowRouter *r, const GlowNodeId *node, gboolean *direct)
{
	guint64 h = current_handle(r, node);
	const Neighbour *n = h ? g_hash_table_lookup(r->neigh, &h) : NULL;
	if (direct)
		*direct = n && glow_node_id_equal(&n->node, node);
	return n ? n->port : NULL;
}

GlowRouteResult glow_router_forward(GlowRouter *r, const GlowPacketHeader *h, const uint8_t *payload)
{
	gpointer port = glow_router_next_hop(r, &h->dst.node, NULL);
	GlowPacketHeader out;

	if (!port)
		return GLOW_ROUTE_NO_ROUTE;
	if (h->hop_limit == 0)
		return GLOW_ROUTE_HOP_LIMIT;
	out = *h;
	out.hop_limit--;
	return r->ops.send(port, &out, payload, r->user) ? GLOW_ROUTE_SENT : GLOW_ROUTE_CONGESTED;
}

static gint route_cmp(gconstpointer a, gconstpointer b)
{
	const GlowRouterRoute *x = a, *y = b;
	if (x->metric != y->metric)
		return x->metric < y->metric ? -1 : 1;
	return memcmp(x->dst.b, y->dst.b, sizeof x->dst.b);
}

GArray *glow_router_routes(const GlowRouter *r)
{
	g_autoptr(GArray) dv = glow_dv_routes(r->dv);
	GArray *out = g_array_new(FALSE, TRUE, sizeof(GlowRouterRoute));
	GHashTableIter it;
	gpointer k, v;

	for (guint i = 0; i < dv->len; i++) {
		const GlowDvRoute *d = &g_array_index(dv, GlowDvRoute, i);
		GlowRouterRoute rt = { .dst = d->dst, .next_hop = d->next_hop, .handle = d->neigh,
		                       .metric = d->metric, .seqno = d->seqno, .via_protocol = TRUE };
		if (d->neigh)
			g_array_append_val(out, rt);
	}
	/* Neighbours whose first update has not come yet. */
	g_hash_table_iter_init(&it, r->by_node);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		guint64 h;
		guint metric;
		GPtrArray *list = v;
		if (!list->len || glow_dv_lookup(r->dv, k, &h, &metric))
			continue;
		const Neighbour *n = list->pdata[0];
		GlowRouterRoute rt = { .dst = n->node, .next_hop = n->node, .handle = n->handle,
		                       .metric = GLOW_DV_INFINITY };
		g_array_append_val(out, rt);
	}
	g_array_sort(out, route_cmp);
	return out;
}

void glow_router_match_prefix(const GlowRouter *r, const char *prefix, GPtrArray *out_ids)
{
	GHashTableIter it;
	gpointer k;
	g_hash_table_iter_init(&it, r->reachable);
	while (g_hash_table_iter_next(&it, &k, NULL))
		if (glow_node_id_has_prefix(k, prefix))
			g_ptr_array_add(out_ids, g_memdup2(k, sizeof(GlowNodeId)));
}

const GlowDvStats *glow_router_dv_stats(const GlowRouter *r) { return glow_dv_stats(r->dv); }
guint16 glow_router_seqno(const GlowRouter *r) { return glow_dv_seqno(r->dv); }
