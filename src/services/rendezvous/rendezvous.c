#include "services/rendezvous/rendezvous.h"

#include <string.h>

#include "glow/common.pb-c.h"
#include "glow/rendezvous.pb-c.h"
#include "wire/limits.h"

#define TTL_DEFAULT_S 300
#define TTL_MAX_S 3600
#define MAX_ADDRS 8
#define ADDR_MAX 80

typedef struct {
	GlowNodeId id;
	char **addrs;          /* registered */
	gint64 registered_us, expires_us;
	GlowCall *listen;      /* open Listen stream, or NULL */
	gint64 rate_start_us;  /* signals sent by this node in the current second */
	guint rate_count;
} Entry;

typedef struct {
	GlowNode *node;
	GHashTable *entries;   /* GlowNodeId* -> Entry* */
} Rendezvous;

static void entry_free(gpointer p)
{
	Entry *e = p;
	g_strfreev(e->addrs);
	if (e->listen)
		glow_call_error(e->listen, GLOW_ERR_UNAVAILABLE, "the rendezvous process stopped");
	g_free(e);
}

static gboolean addr_ok(const char *a)
{
	gsize n = strlen(a);
	const char *colon = strrchr(a, ':');
	if (!n || n > ADDR_MAX || !colon || colon == a || !colon[1])
		return FALSE;
	for (const char *p = a; *p; p++)
		if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e)
			return FALSE;
	return TRUE;
}

/* Drops expired registrations nobody listens on; with the table still
 * full, the one that expires first goes. */
static gboolean make_room(Rendezvous *r)
{
	GHashTableIter it;
	gpointer v;
	gint64 now = g_get_monotonic_time();
	Entry *first = NULL;

	g_hash_table_iter_init(&it, r->entries);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		Entry *e = v;
		if (!e->listen && e->expires_us < now)
			g_hash_table_iter_remove(&it);
		else if (!e->listen && (!first || e->expires_us < first->expires_us))
			first = e;
	}
	if (g_hash_table_size(r->entries) < GLOW_RENDEZVOUS_MAX_NODES)
		return TRUE;
	if (!first) {
		/* Only listeners left: the oldest goes (its stream ends with an
		 * error it can act on), so listening cannot lock the table. */
		g_hash_table_iter_init(&it, r->entries);
		while (g_hash_table_iter_next(&it, NULL, &v))
			if (!first || ((Entry *)v)->registered_us < first->registered_us)
				first = v;
	}
	g_hash_table_remove(r->entries, &first->id);
	return TRUE;
}

static Entry *entry_get(Rendezvous *r, const GlowNodeId *id, gboolean create)
{
	Entry *e = g_hash_table_lookup(r->entries, id);
	if (e || !create)
		return e;
	if (g_hash_table_size(r->entries) >= GLOW_RENDEZVOUS_MAX_NODES && !make_room(r))
		return NULL;
	e = g_new0(Entry, 1);
	e->id = *id;
	g_hash_table_insert(r->entries, &e->id, e);
	return e;
}

static void rv_announce(GlowCall *call, const ProtobufCMessage *in, gpointer data)
{
	Rendezvous *r = data;
	const Glow__RegisterRequest *req = (const Glow__RegisterRequest *)in;
	const GlowNodeId *from = &glow_call_caller(call)->node;
	Glow__RegisterReply out = GLOW__REGISTER_REPLY__INIT;
	guint ttl = req->ttl_s ? MIN(req->ttl_s, (guint)TTL_MAX_S) : TTL_DEFAULT_S;
	g_autofree char *observed = glow_node_peer_address(r->node, from);
	GPtrArray *addrs;
	Entry *e;

	if (req->n_addresses > MAX_ADDRS) {
		glow_call_error(call, GLOW_ERR_TOO_BIG, "at most %d addresses", MAX_ADDRS);
		return;
	}
	for (size_t i = 0; i < req->n_addresses; i++) {
		if (!addr_ok(req->addresses[i])) {
			glow_call_error(call, GLOW_ERR_BAD_REQUEST, "address %zu is not host:port", i + 1);
			return;
		}
	}
	if (!(e = entry_get(r, from, TRUE))) {
		glow_call_error(call, GLOW_ERR_TOO_FAST, "this rendezvous is full; try another");
		return;
	}
	addrs = g_ptr_array_new();
	for (size_t i = 0; i < req->n_addresses; i++)
		g_ptr_array_add(addrs, g_strdup(req->addresses[i]));
	g_ptr_array_add(addrs, NULL);
	g_strfreev(e->addrs);
	e->addrs = (char **)g_ptr_array_free(addrs, FALSE);
	e->registered_us = g_get_monotonic_time();
	e->expires_us = e->registered_us + (gint64)ttl * G_USEC_PER_SEC;
	out.observed = observed ? observed : (char *)"";
	out.ttl_s = ttl;
	glow_call_reply(call, &out.base);
}

static gboolean parse_target(Rendezvous *r, const char *text, GlowNodeId *out)
{
	(void)r;
	return text && glow_node_id_from_text(text, out) == GLOW_ID_OK;
}

static void rv_lookup(GlowCall *call, const ProtobufCMessage *in, gpointer data)
{
	Rendezvous *r = data;
	const Glow__LookupRequest *req = (const Glow__LookupRequest *)in;
	Glow__LookupReply out = GLOW__LOOKUP_REPLY__INIT;
	char id[GLOW_NODE_ID_TEXT_BUF];
	g_autofree char *observed = NULL;
	g_autoptr(GPtrArray) addrs = g_ptr_array_new();
	GlowNodeId target;
	Entry *e;
	gint64 now = g_get_monotonic_time();

	if (!parse_target(r, req->node_id, &target)) {
		glow_call_error(call, GLOW_ERR_BAD_REQUEST, "node_id must be a full node ID");
		return;
	}
	e = entry_get(r, &target, FALSE);
	if (e && e->expires_us < now && !e->listen)
		e = NULL;
	/* Only nodes that asked to be found are: a node merely linked here
	 * does not have its address or presence told to anyone who asks. */
	if (!e) {
		glow_call_error(call, GLOW_ERR_NOT_FOUND, "%s is not registered here", req->node_id);
		return;
	}
	observed = glow_node_peer_address(r->node, &target);
	for (guint i = 0; e && e->addrs && e->addrs[i]; i++)
		g_ptr_array_add(addrs, e->addrs[i]);
	if (observed)
		g_ptr_array_add(addrs, observed);
	glow_node_id_to_text(&target, id);
	out.node_id = id;
	out.n_addresses = addrs->len;
	out.addresses = (char **)addrs->pdata;
	out.linked = observed != NULL;
	out.listening = e && e->listen;
	out.registered_ago_ms = e && e->registered_us ? (uint64_t)(now - e->registered_us) / 1000 : 0;
	glow_call_reply(call, &out.base);
}

static gboolean rate_ok(Entry *e)
{
	gint64 now = g_get_monotonic_time();
	if (now - e->rate_start_us > G_USEC_PER_SEC) {
		e->rate_start_us = now;
		e->rate_count = 0;
	}
	return ++e->rate_count <= GLOW_RENDEZVOUS_SIGNALS_PER_SEC;
}

static void rv_signal(GlowCall *call, const ProtobufCMessage *in, gpointer data)
{
	Rendezvous *r = data;
	const Glow__SignalRequest *req = (const Glow__SignalRequest *)in;
	const GlowNodeId *from = &glow_call_caller(call)->node;
	Glow__SignalMessage msg = GLOW__SIGNAL_MESSAGE__INIT;
	Glow__Empty empty = GLOW__EMPTY__INIT;
	char from_text[GLOW_NODE_ID_TEXT_BUF];
	GlowNodeId to;
	Entry *dst, *src;

	if (!parse_target(r, req->to, &to)) {
		glow_call_error(call, GLOW_ERR_BAD_REQUEST, "to must be a full node ID");
		return;
	}
	if (req->data.len > GLOW_RENDEZVOUS_SIGNAL_MAX) {
		glow_call_error(call, GLOW_ERR_TOO_BIG, "a signal is at most %d bytes", GLOW_RENDEZVOUS_SIGNAL_MAX);
		return;
	}
	dst = entry_get(r, &to, FALSE);
	if (!dst || !dst->listen) {
		glow_call_error(call, GLOW_ERR_NOT_FOUND, "%s is not listening for signals here", req->to);
		return;
	}
	src = entry_get(r, from, TRUE);
	if (src && !rate_ok(src)) {
		glow_call_error(call, GLOW_ERR_TOO_FAST, "at most %d signals per second", GLOW_RENDEZVOUS_SIGNALS_PER_SEC);
		return;
	}
	glow_node_id_to_text(from, from_text);
	msg.from = from_text;
	msg.data = req->data;
	if (!glow_call_stream_send(dst->listen, &msg.base)) {
		glow_call_error(call, GLOW_ERR_TOO_FAST, "%s is not reading its signals", req->to);
		return;
	}
	glow_call_reply(call, &empty.base);
}

static void listen_cancelled(GlowCall *call, gpointer data)
{
	Entry *e = data;
	if (e->listen == call)
		e->listen = NULL;
}

static void rv_listen(GlowCall *call, const ProtobufCMessage *in, gpointer data)
{
	Rendezvous *r = data;
	const GlowNodeId *from = &glow_call_caller(call)->node;
	Entry *e = entry_get(r, from, TRUE);
	GlowCall *old;
	(void)in;

	if (!e) {
		glow_call_error(call, GLOW_ERR_TOO_FAST, "this rendezvous is full; try another");
		return;
	}
	/* One listener per node: a new one (the node restarted) replaces the old. */
	if ((old = e->listen)) {
		e->listen = NULL;
		glow_call_error(old, GLOW_ERR_CANCELLED, "another Listen from the same node replaced this one");
	}
	e->listen = call;
	if (!e->registered_us)
		e->registered_us = g_get_monotonic_time();
	if (!e->expires_us)
		e->expires_us = g_get_monotonic_time() + TTL_DEFAULT_S * G_USEC_PER_SEC;
	glow_call_set_handlers(call, NULL, listen_cancelled, e);
}

static const GlowHandlerEntry rv_handlers[] = {
	{ "Announce", rv_announce, GLOW_ACCESS_PUBLIC },
	{ "Lookup", rv_lookup, GLOW_ACCESS_PUBLIC },
	{ "Signal", rv_signal, GLOW_ACCESS_PUBLIC },
	{ "Listen", rv_listen, GLOW_ACCESS_PUBLIC },
	{ NULL, NULL, GLOW_ACCESS_USER },
};

static void rv_stop(GlowProcess *p, gpointer data)
{
	Rendezvous *r = data;
	(void)p;
	g_hash_table_destroy(r->entries);
	g_free(r);
}

GlowProcess *glow_rendezvous_start(GlowNode *node, GError **error)
{
	Rendezvous *r = g_new0(Rendezvous, 1);
	GlowProcess *p = glow_process_new(glow_node_resources(node), GLOW_RESOURCE_RENDEZVOUS_PROCESS, "rendezvous",
	                                  "builtin", TRUE, error);
	if (!p) {
		g_free(r);
		return NULL;
	}
	r->node = node;
	r->entries = g_hash_table_new_full(glow_node_id_hash, glow_node_id_equal_key, NULL, entry_free);
	glow_process_set_stop(p, rv_stop, r);
	if (!glow_resource_add(p, GLOW_RESOURCE_RENDEZVOUS, "rendezvous", "glow.Rendezvous", rv_handlers, r, error)) {
		glow_process_terminate(p);
		return NULL;
	}
	return p;
}
