/* glow.Node handlers: the node as a resource (resource 0), owned by the
 * core process (resource 1). */
#include <string.h>
#include <unistd.h>

#include "glow/node.pb-c.h"
#include "glow/user.pb-c.h"
#include "node/node-internal.h"

void glow_resource_list_reply(GlowCall *call, GlowResourceTable *t, GPtrArray *list);

static void node_info(GlowCall *call, const ProtobufCMessage *in, gpointer data)
{
	GlowNode *n = data;
	Glow__NodeInfo info = GLOW__NODE_INFO__INIT;
	char id[GLOW_NODE_ID_TEXT_BUF];
	g_autoptr(GPtrArray) links = g_ptr_array_new();
	(void)in;

	glow_node_id_to_text(&n->identity->id, id);
	glow_node_links_snapshot(n, links);
	info.node_id = id;
	info.name = n->name;
	info.version = GLOW_VERSION;
	info.uptime_ms = (uint64_t)(g_get_monotonic_time() - n->started_us) / 1000;
	info.n_listen = n->listen_addrs->len;
	info.listen = (char **)n->listen_addrs->pdata;
	info.links = links->len;
	info.resources = glow_resources_count(n->resources);
	info.state_dir = n->cfg.state_dir;
	info.pid = (uint32_t)getpid();
	g_autoptr(GArray) routes = glow_router_routes(n->router);
	const GlowDvStats *dv = glow_router_dv_stats(n->router);
	const GlowE2eStats *e2e = glow_e2e_stats(n->e2e);
	info.routes = routes->len;
	info.relay = (char *)glow_relay_mode_name(n->cfg.relay);
	info.relayed_packets = n->relay.packets;
	info.relayed_bytes = n->relay.bytes;
	info.relay_refused = n->relay.refused_policy + n->relay.refused_rate + n->relay.dropped_queue +
	                     n->relay.dropped_no_route;
	info.e2e_sessions = glow_e2e_session_count(n->e2e);
	info.routing_bytes_out = dv->bytes_sent;
	info.routing_bytes_in = dv->bytes_received;
	info.e2e_rejected = e2e->rejected_malformed + e2e->rejected_auth + e2e->rejected_replay +
	                    e2e->rejected_unknown_session + e2e->rejected_rate + e2e->rejected_inner;
	char uid[GLOW_NODE_ID_TEXT_BUF];
	GlowDiscoveryStats ds;
	glow_node_id_to_text(&n->user->key, uid);
	glow_discovery_get_stats(n, &ds);
	info.user_id = uid;
	info.can_invite = n->user->has_secret;
	info.discovery_interfaces = ds.interfaces;
	info.peers_known = glow_book_count(n->book);
	info.beacons_accepted = ds.accepted;
	info.beacons_rejected = ds.rejected;
	info.beacons_replayed = ds.replayed;
	info.dnssd = ds.dnssd_running;
	glow_call_reply(call, &info.base);
}

static const char *link_name(GlowNode *n, guint64 link_id)
{
	GlowLink *l = g_hash_table_lookup(n->links, &link_id);
	return l ? glow_link_peer_name(l) : "";
}

static void node_routes(GlowCall *call, const ProtobufCMessage *in, gpointer data)
{
	GlowNode *n = data;
	const Glow__RoutesRequest *req = (const Glow__RoutesRequest *)in;
	Glow__RouteList out = GLOW__ROUTE_LIST__INIT;
	g_autoptr(GArray) routes = glow_router_routes(n->router);
	char self[GLOW_NODE_ID_TEXT_BUF];
	GlowNodeId only;
	g_autofree char *msg = NULL;
	gboolean filter = req->destination && *req->destination;
	guint k = 0;

	if (filter && !glow_node_resolve(n, req->destination, &only, &msg)) {
		glow_call_error(call, GLOW_ERR_NOT_FOUND, "%s", msg);
		return;
	}
	Glow__RouteInfo *infos = g_new0(Glow__RouteInfo, routes->len + 1);
	Glow__RouteInfo **ptrs = g_new0(Glow__RouteInfo *, routes->len + 1);
	typedef char IdText[GLOW_NODE_ID_TEXT_BUF];
	IdText *ids = g_new(IdText, 2 * (routes->len + 1));
	for (guint i = 0; i < routes->len; i++) {
		const GlowRouterRoute *r = &g_array_index(routes, GlowRouterRoute, i);
		Glow__RouteInfo *ri = &infos[k];
		if (filter && !glow_node_id_equal(&r->dst, &only))
			continue;
		glow__route_info__init(ri);
		glow_node_id_to_text(&r->dst, ids[2 * k]);
		glow_node_id_to_text(&r->next_hop, ids[2 * k + 1]);
		ri->node_id = ids[2 * k];
		ri->next_hop_id = ids[2 * k + 1];
		ri->next_hop_name = (char *)link_name(n, r->handle);
		ri->link_id = r->handle;
		ri->metric = r->metric;
		ri->seqno = r->seqno;
		ri->direct = glow_node_id_equal(&r->dst, &r->next_hop);
		ri->e2e_session = glow_e2e_has_session(n->e2e, &r->dst);
		ptrs[k++] = ri;
	}
	if (filter && !k && !glow_node_id_equal(&only, &n->identity->id)) {
		glow_call_error(call, GLOW_ERR_UNREACHABLE, "no route to %s", req->destination);
		goto out;
	}
	glow_node_id_to_text(&n->identity->id, self);
	out.n_routes = k;
	out.routes = ptrs;
	out.node_id = self;
	out.seqno = glow_router_seqno(n->router);
	out.relay = (char *)glow_relay_mode_name(n->cfg.relay);
	glow_call_reply(call, &out.base);
out:
	g_free(ids);
	g_free(ptrs);
	g_free(infos);
}

static void node_ping(GlowCall *call, const ProtobufCMessage *in, gpointer data)
{
	GlowNode *n = data;
	const Glow__PingRequest *req = (const Glow__PingRequest *)in;
	Glow__PingReply out = GLOW__PING_REPLY__INIT;
	char id[GLOW_NODE_ID_TEXT_BUF];
	guint left = glow_call_hop_limit(call);

	if (req->data.len > 65536) {
		glow_call_error(call, GLOW_ERR_TOO_BIG, "ping data is limited to 64 KiB");
		return;
	}
	glow_node_id_to_text(&n->identity->id, id);
	out.node_id = id;
	out.name = n->name;
	/* A local caller's packet never crossed a link. */
	out.hops = glow_node_id_equal(&glow_call_caller(call)->node, &n->identity->id) || left > GLOW_HOP_LIMIT_DEFAULT
	                   ? 0
	                   : GLOW_HOP_LIMIT_DEFAULT - left;
	out.data = req->data;
	glow_call_reply(call, &out.base);
}

static void node_list_resources(GlowCall *call, const ProtobufCMessage *in, gpointer data)
{
	GlowNode *n = data;
	g_autoptr(GPtrArray) list = glow_resources_list(n->resources);
	(void)in;
	glow_resource_list_reply(call, n->resources, list);
}

/* Fills info from l; strings point into l or into id_buf. */
static void link_info(GlowLink *l, Glow__LinkInfo *info, char id_buf[GLOW_NODE_ID_TEXT_BUF])
{
	const GlowLinkStats *st = glow_link_stats(l);
	const GlowConn *conn = glow_link_conn(l);
	glow__link_info__init(info);
	glow_node_id_to_text(glow_link_peer(l), id_buf);
	info->link_id = glow_link_id(l);
	info->peer_id = id_buf;
	info->peer_name = (char *)glow_link_peer_name(l);
	info->transport = (char *)(conn ? conn->ops->name : "");
	info->local_address = conn ? conn->local : "";
	info->remote_address = conn ? conn->remote : "";
	info->initiator = glow_link_is_initiator(l);
	info->established_ms = st->established_us ? (uint64_t)(g_get_monotonic_time() - st->established_us) / 1000 : 0;
	info->rtt_us = st->rtt_us;
	info->bytes_in = st->bytes_in;
	info->bytes_out = st->bytes_out;
	info->packets_in = st->packets_in;
	info->packets_out = st->packets_out;
	info->rekeys = st->rekeys;
}

static gint link_cmp(gconstpointer a, gconstpointer b)
{
	guint64 x = glow_link_id(*(GlowLink *const *)a), y = glow_link_id(*(GlowLink *const *)b);
	return x < y ? -1 : x > y;
}

static void node_list_links(GlowCall *call, const ProtobufCMessage *in, gpointer data)
{
	GlowNode *n = data;
	g_autoptr(GPtrArray) links = g_ptr_array_new();
	Glow__LinkList out = GLOW__LINK_LIST__INIT;
	(void)in;

	glow_node_links_snapshot(n, links);
	g_ptr_array_sort(links, link_cmp);
	guint k = links->len ? links->len : 1;
	Glow__LinkInfo *infos = g_new0(Glow__LinkInfo, k);
	Glow__LinkInfo **ptrs = g_new0(Glow__LinkInfo *, k);
	typedef char IdText[GLOW_NODE_ID_TEXT_BUF];
	IdText *ids = g_new(IdText, k);
	for (guint i = 0; i < links->len; i++) {
		link_info(links->pdata[i], &infos[i], ids[i]);
		ptrs[i] = &infos[i];
	}
	out.n_links = links->len;
	out.links = ptrs;
	glow_call_reply(call, &out.base);
	g_free(ids);
	g_free(ptrs);
	g_free(infos);
}

typedef struct {
	GlowCall *call;
} ConnectCtx;

static void connect_cancelled(GlowCall *call, gpointer data)
{
	ConnectCtx *cc = data;
	(void)call;
	cc->call = NULL; /* the dial goes on; its result is dropped */
}

static void connect_done(GlowNode *n, GlowLink *link, GlowErrorCode code, const char *error, gpointer data)
{
	ConnectCtx *cc = data;
	(void)n;
	if (cc->call) {
		if (link) {
			Glow__LinkInfo info;
			char id[GLOW_NODE_ID_TEXT_BUF];
			link_info(link, &info, id);
			glow_call_reply(cc->call, &info.base);
		} else {
			glow_call_error(cc->call, code, "%s", error);
		}
	}
	g_free(cc);
}

static void node_connect(GlowCall *call, const ProtobufCMessage *in, gpointer data)
{
	GlowNode *n = data;
	const Glow__ConnectRequest *req = (const Glow__ConnectRequest *)in;
	GlowNodeId expect;
	char clean[GLOW_NODE_ID_RAW_CHARS + 8];
	g_autofree char *host = NULL;
	guint16 port;
	g_autoptr(GError) err = NULL;
	gboolean full = FALSE, prefix = FALSE;
	ConnectCtx *cc;

	if (!glow_parse_host_port(req->address, &host, &port, &err)) {
		glow_call_error(call, GLOW_ERR_BAD_REQUEST, "%s", err->message);
		return;
	}
	if (port == 0) {
		glow_call_error(call, GLOW_ERR_BAD_REQUEST, "cannot connect to port 0");
		return;
	}
	if (req->node_id && *req->node_id) {
		full = glow_node_id_from_text(req->node_id, &expect) == GLOW_ID_OK;
		int len = full ? 0 : glow_node_id_clean(req->node_id, clean, sizeof clean);
		prefix = !full && len >= GLOW_NODE_ID_MIN_PREFIX && len < GLOW_NODE_ID_RAW_CHARS;
		if (!full && !prefix) {
			glow_call_error(call, GLOW_ERR_BAD_REQUEST,
			                "\"%s\" is not a node ID (mistyped, or shorter than %d characters)",
			                req->node_id, GLOW_NODE_ID_MIN_PREFIX);
			return;
		}
	}
	cc = g_new0(ConnectCtx, 1);
	cc->call = call;
	glow_call_set_handlers(call, NULL, connect_cancelled, cc);
	glow_node_connect(n, req->address, full ? &expect : NULL, prefix ? clean : NULL,
	                  req->timeout_ms ? MIN(req->timeout_ms, 600000u) : 5000, connect_done, cc);
}

static void node_disconnect(GlowCall *call, const ProtobufCMessage *in, gpointer data)
{
	GlowNode *n = data;
	const Glow__DisconnectRequest *req = (const Glow__DisconnectRequest *)in;
	Glow__Empty empty = GLOW__EMPTY__INIT;
	g_autoptr(GPtrArray) links = g_ptr_array_new_with_free_func((GDestroyNotify)glow_link_unref);
	g_autoptr(GPtrArray) all = g_ptr_array_new();
	GlowNodeId peer;
	g_autofree char *msg = NULL;
	gboolean by_id = req->node_id && *req->node_id;

	if (by_id && !glow_node_resolve(n, req->node_id, &peer, &msg)) {
		glow_call_error(call, GLOW_ERR_NOT_FOUND, "%s", msg);
		return;
	}
	glow_node_links_snapshot(n, all);
	for (guint i = 0; i < all->len; i++) {
		GlowLink *l = all->pdata[i];
		if (by_id ? glow_node_id_equal(glow_link_peer(l), &peer) : glow_link_id(l) == req->link_id)
			g_ptr_array_add(links, glow_link_ref(l));
	}
	if (!links->len) {
		if (by_id)
			glow_call_error(call, GLOW_ERR_NOT_FOUND, "no link to %s", req->node_id);
		else
			glow_call_error(call, GLOW_ERR_NOT_FOUND, "no link with id %" G_GUINT64_FORMAT, req->link_id);
		return;
	}
	/* Reply first: the caller may be on the very link being closed. */
	glow_call_reply(call, &empty.base);
	for (guint i = 0; i < links->len; i++) {
		glow_peers_hold(n, glow_link_peer(links->pdata[i]));
		glow_link_close(links->pdata[i], GLOW_CLOSE_REQUESTED);
	}
}

static gboolean shutdown_later(gpointer data)
{
	GlowNode *n = data;
	if (n->shutdown_fn)
		n->shutdown_fn(n, n->shutdown_data);
	return G_SOURCE_REMOVE;
}

static void node_shutdown(GlowCall *call, const ProtobufCMessage *in, gpointer data)
{
	GlowNode *n = data;
	Glow__Empty empty = GLOW__EMPTY__INIT;
	GSource *t;
	(void)in;
	if (!n->shutdown_fn) {
		glow_call_error(call, GLOW_ERR_UNAVAILABLE, "this node cannot be stopped remotely");
		return;
	}
	glow_call_reply(call, &empty.base);
	/* A moment for the reply to reach the caller before the node goes. */
	t = g_timeout_source_new(100);
	g_source_set_callback(t, shutdown_later, n, NULL);
	g_source_attach(t, n->ctx);
	g_source_unref(t);
}

static void node_peers(GlowCall *call, const ProtobufCMessage *in, gpointer data)
{
	(void)in;
	glow_peers_reply_list(data, call);
}

static void node_sync(GlowCall *call, const ProtobufCMessage *in, gpointer data)
{
	Glow__Empty empty = GLOW__EMPTY__INIT;
	glow_peers_sync_received(data, &glow_call_caller(call)->node, (const Glow__PeerList *)in);
	glow_call_reply(call, &empty.base);
}

static void node_set_name(GlowCall *call, const ProtobufCMessage *in, gpointer data)
{
	GlowNode *n = data;
	const Glow__SetNameRequest *req = (const Glow__SetNameRequest *)in;
	Glow__Empty empty = GLOW__EMPTY__INIT;
	const char *name = req->name ? req->name : "";
	gsize len = strlen(name);

	if (!len || len > 64 || !g_utf8_validate(name, (gssize)len, NULL)) {
		glow_call_error(call, GLOW_ERR_BAD_REQUEST, "a name is 1 to %d bytes of UTF-8", 64);
		return;
	}
	for (const char *p = name; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			glow_call_error(call, GLOW_ERR_BAD_REQUEST, "a name has no control characters");
			return;
		}
	}
	g_autofree char *why = NULL;
	if (!glow_config_set(n, "node.name", name, &why)) {
		glow_call_error(call, GLOW_ERR_INTERNAL, "%s", why);
		return;
	}
	glow_call_reply(call, &empty.base);
}

static const GlowHandlerEntry node_handlers[] = {
	{ "Info", node_info, GLOW_ACCESS_USER },
	{ "ListResources", node_list_resources, GLOW_ACCESS_USER },
	{ "ListLinks", node_list_links, GLOW_ACCESS_USER },
	{ "Connect", node_connect, GLOW_ACCESS_LOCAL },
	{ "Disconnect", node_disconnect, GLOW_ACCESS_LOCAL },
	{ "Shutdown", node_shutdown, GLOW_ACCESS_LOCAL },
	{ "Routes", node_routes, GLOW_ACCESS_USER },
	{ "Ping", node_ping, GLOW_ACCESS_USER },
	{ "Invite", glow_pairing_node_invite, GLOW_ACCESS_LOCAL },
	{ "Join", glow_pairing_node_join, GLOW_ACCESS_LOCAL },
	{ "CreateUser", glow_pairing_node_create_user, GLOW_ACCESS_LOCAL },
	{ "SetName", node_set_name, GLOW_ACCESS_LOCAL },
	{ "Peers", node_peers, GLOW_ACCESS_USER },
	{ "Sync", node_sync, GLOW_ACCESS_USER },
	{ "ConfigGet", glow_config_node_get, GLOW_ACCESS_LOCAL },
	{ "ConfigSet", glow_config_node_set, GLOW_ACCESS_LOCAL },
	{ NULL, NULL, GLOW_ACCESS_USER },
};

gboolean glow_node_service_start(GlowNode *n, GError **error)
{
	n->core = glow_process_new(n->resources, GLOW_RESOURCE_CORE_PROCESS, "core", "builtin", FALSE, error);
	if (!n->core)
		return FALSE;
	return glow_resource_add(n->core, GLOW_RESOURCE_NODE, "node", "glow.Node", node_handlers, n, error) != NULL;
}
