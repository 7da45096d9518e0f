#include "rpc/rpc.h"

#include <stdarg.h>
#include <string.h>

#include "glow/common.pb-c.h"

#define MAX_SERVER_CALLS 65536
#define MAX_CLIENT_CALLS 65536
#define MAX_ERROR_TEXT 1024

typedef struct {
	guint64 call_id;
	GlowAddr src, dst;
	uint32_t interface_id, method_id;
	gboolean stream;
	gboolean got_item;
	guint window, consumed;
	GSource *deadline;
	GlowResponseFn fn;
	gpointer user;
	GlowRpc *rpc;
} ClientCall;

struct GlowCall {
	GlowRpc *rpc;
	GlowPacketHeader h; /* the CALL as received */
	guint credit;
	gboolean stream;
	gboolean gone;      /* caller unreachable: cancel scheduled */
	gboolean oneway;    /* a MESSAGE: not in the table, answers are not sent */
	GSource *deadline;
	GSource *gone_idle;
	GlowCallFn on_credit, on_cancel;
	gpointer data;
};

typedef struct {
	GlowAddr caller;
	guint64 call_id;
} ServerKey;

struct GlowRpc {
	GMainContext *ctx;
	GlowRpcSendFn send;
	gpointer user;
	guint64 next_call_id;
	GHashTable *client;  /* call_id -> ClientCall */
	GHashTable *server;  /* ServerKey -> GlowCall */
	GHashTable *per_node; /* caller GlowNodeId -> calls in progress (GUINT_TO_POINTER) */
	uint8_t *scratch;
	size_t scratch_cap;
};

static guint server_key_hash(gconstpointer p)
{
	const ServerKey *k = p;
	guint h;
	memcpy(&h, k->caller.node.b, sizeof h);
	return h ^ (guint)k->caller.resource ^ (guint)(k->call_id * 2654435761u);
}

static gboolean server_key_equal(gconstpointer a, gconstpointer b)
{
	return memcmp(a, b, sizeof(ServerKey)) == 0;
}

/* Calls in progress per caller node, so one peer cannot take every slot. */
static guint node_calls(GlowRpc *rpc, const GlowNodeId *node)
{
	return GPOINTER_TO_UINT(g_hash_table_lookup(rpc->per_node, node));
}

static void node_calls_add(GlowRpc *rpc, const GlowNodeId *node, int delta)
{
	guint n = node_calls(rpc, node) + (guint)delta;
	if (n)
		g_hash_table_replace(rpc->per_node, g_memdup2(node, sizeof *node), GUINT_TO_POINTER(n));
	else
		g_hash_table_remove(rpc->per_node, node);
}

static void server_key_of(ServerKey *k, const GlowPacketHeader *h)
{
	memset(k, 0, sizeof *k);
	k->caller = h->src;
	k->call_id = h->call_id;
}

GlowRpc *glow_rpc_new(GMainContext *ctx, GlowRpcSendFn send, gpointer user)
{
	GlowRpc *rpc = g_new0(GlowRpc, 1);
	rpc->ctx = ctx;
	rpc->send = send;
	rpc->user = user;
	rpc->next_call_id = 1;
	rpc->client = g_hash_table_new(g_int64_hash, g_int64_equal);
	rpc->server = g_hash_table_new_full(server_key_hash, server_key_equal, g_free, NULL);
	rpc->per_node = g_hash_table_new_full(glow_node_id_hash, glow_node_id_equal_key, g_free, NULL);
	return rpc;
}

/* --- packing -------------------------------------------------------------------- */

/* Packs msg into the rpc's scratch buffer (valid until the next pack). */
static gboolean pack(GlowRpc *rpc, const ProtobufCMessage *msg, size_t *len)
{
	size_t n = protobuf_c_message_get_packed_size(msg);
	if (n > GLOW_PACKET_MAX_PAYLOAD)
		return FALSE;
	if (n > rpc->scratch_cap) {
		rpc->scratch_cap = MAX(n, 4096);
		rpc->scratch = g_realloc(rpc->scratch, rpc->scratch_cap);
	}
	*len = protobuf_c_message_pack(msg, rpc->scratch);
	return TRUE;
}

static GlowErrorCode send_packet(GlowRpc *rpc, uint8_t type, const GlowAddr *dst, const GlowAddr *src,
                                 guint64 call_id, uint32_t iface, uint32_t method, uint32_t aux,
                                 const uint8_t *payload, size_t len)
{
	GlowPacketHeader h = {
		.version = GLOW_PACKET_VERSION,
		.type = type,
		.hop_limit = GLOW_HOP_LIMIT_DEFAULT,
		.payload_len = (uint32_t)len,
		.call_id = call_id,
		.interface_id = iface,
		.method_id = method,
		.aux = aux,
		.dst = *dst,
		.src = *src,
	};
	return rpc->send(&h, payload, rpc->user);
}

/* --- client side ------------------------------------------------------------------ */

static void client_call_free(ClientCall *cc)
{
	if (cc->deadline) {
		g_source_destroy(cc->deadline);
		g_source_unref(cc->deadline);
	}
	g_free(cc);
}

static void client_finish(ClientCall *cc, const GlowResponse *r)
{
	g_hash_table_remove(cc->rpc->client, &cc->call_id);
	cc->fn(r, cc->user);
	client_call_free(cc);
}

static void client_fail(ClientCall *cc, GlowErrorCode code, const char *message)
{
	GlowResponse r = { .type = GLOW_PKT_ERROR, .code = code, .message = message, .from = &cc->dst };
	client_finish(cc, &r);
}

static gboolean on_client_deadline(gpointer data)
{
	ClientCall *cc = data;
	GlowRpc *rpc = cc->rpc;
	g_source_unref(cc->deadline);
	cc->deadline = NULL;
	send_packet(rpc, GLOW_PKT_CANCEL, &cc->dst, &cc->src, cc->call_id, cc->interface_id, cc->method_id, 0,
	            NULL, 0);
	client_fail(cc, GLOW_ERR_TIMEOUT, "no answer before the deadline");
	return G_SOURCE_REMOVE;
}

static void arm_deadline(GlowRpc *rpc, GSource **slot, guint ms, GSourceFunc fn, gpointer data)
{
	*slot = g_timeout_source_new(ms);
	g_source_set_callback(*slot, fn, data, NULL);
	g_source_attach(*slot, rpc->ctx);
}

guint64 glow_rpc_call(GlowRpc *rpc, const GlowAddr *src, const GlowAddr *dst, uint32_t interface_id,
                      uint32_t method_id, const uint8_t *payload, size_t len, const GlowCallOptions *opt,
                      GlowResponseFn fn, gpointer user, GlowErrorCode *code, char **message)
{
	GlowCallOptions def = { 0 };
	ClientCall *cc;
	GlowPacketHeader h;
	GlowErrorCode err;

	if (!opt)
		opt = &def;
	if (len > GLOW_PACKET_MAX_PAYLOAD) {
		*code = GLOW_ERR_TOO_BIG;
		*message = g_strdup_printf("request of %zu bytes exceeds the %d byte limit", len,
		                           GLOW_PACKET_MAX_PAYLOAD);
		return 0;
	}
	if (g_hash_table_size(rpc->client) >= MAX_CLIENT_CALLS) {
		*code = GLOW_ERR_TOO_FAST;
		*message = g_strdup("too many calls in progress");
		return 0;
	}
	cc = g_new0(ClientCall, 1);
	cc->rpc = rpc;
	cc->call_id = rpc->next_call_id++;
	cc->src = *src;
	cc->dst = *dst;
	cc->interface_id = interface_id;
	cc->method_id = method_id;
	cc->stream = opt->stream;
	cc->window = opt->window ? opt->window : GLOW_RPC_STREAM_WINDOW;
	cc->fn = fn;
	cc->user = user;

	memset(&h, 0, sizeof h);
	h.version = GLOW_PACKET_VERSION;
	h.type = GLOW_PKT_CALL;
	h.flags = opt->stream ? GLOW_PKT_F_STREAM : 0;
	h.hop_limit = GLOW_HOP_LIMIT_DEFAULT;
	h.payload_len = (uint32_t)len;
	h.call_id = cc->call_id;
	h.interface_id = interface_id;
	h.method_id = method_id;
	h.deadline_ms = opt->deadline_ms ? opt->deadline_ms : GLOW_RPC_DEFAULT_DEADLINE_MS;
	h.aux = opt->stream ? cc->window : 0;
	h.dst = *dst;
	h.src = *src;
	/* Registered before sending: an answer may arrive from inside send(). */
	guint64 call_id = cc->call_id;
	g_hash_table_insert(rpc->client, &cc->call_id, cc);
	arm_deadline(rpc, &cc->deadline, h.deadline_ms, on_client_deadline, cc);
	err = rpc->send(&h, payload, rpc->user);
	if (err != GLOW_OK) {
		char id[GLOW_ADDR_TEXT_BUF];
		glow_addr_to_text(dst, id);
		*code = err;
		*message = g_strdup_printf("%s: %s", id, glow_error_name(err));
		cc = g_hash_table_lookup(rpc->client, &call_id);
		if (cc) {
			g_hash_table_remove(rpc->client, &call_id);
			client_call_free(cc);
		}
		return 0;
	}
	return call_id;
}

GlowErrorCode glow_rpc_message(GlowRpc *rpc, const GlowAddr *src, const GlowAddr *dst, uint32_t interface_id,
                               uint32_t method_id, const uint8_t *payload, size_t len)
{
	if (len > GLOW_PACKET_MAX_PAYLOAD)
		return GLOW_ERR_TOO_BIG;
	return send_packet(rpc, GLOW_PKT_MESSAGE, dst, src, 0, interface_id, method_id, 0, payload, len);
}

void glow_rpc_cancel(GlowRpc *rpc, guint64 call_id)
{
	ClientCall *cc = g_hash_table_lookup(rpc->client, &call_id);
	if (!cc)
		return;
	send_packet(rpc, GLOW_PKT_CANCEL, &cc->dst, &cc->src, cc->call_id, cc->interface_id, cc->method_id, 0,
	            NULL, 0);
	g_hash_table_remove(rpc->client, &call_id);
	client_call_free(cc);
}

static char *error_text(const uint8_t *payload, size_t len, uint32_t code)
{
	Glow__Error *e = glow__error__unpack(NULL, len, payload);
	char *text;
	if (e && e->message && *e->message)
		text = g_utf8_make_valid(e->message, (gssize)MIN(strlen(e->message), MAX_ERROR_TEXT));
	else
		text = g_strdup(glow_error_name(code));
	if (e)
		glow__error__free_unpacked(e, NULL);
	return text;
}

static void grant_credit(ClientCall *cc)
{
	cc->consumed++;
	if (cc->consumed < MAX(cc->window / 2, 1u))
		return;
	send_packet(cc->rpc, GLOW_PKT_CREDIT, &cc->dst, &cc->src, cc->call_id, cc->interface_id, cc->method_id,
	            cc->consumed, NULL, 0);
	cc->consumed = 0;
}

gboolean glow_rpc_handle_response(GlowRpc *rpc, const GlowPacketHeader *h, const uint8_t *payload)
{
	ClientCall *cc = g_hash_table_lookup(rpc->client, &h->call_id);
	GlowResponse r = { .type = h->type, .payload = payload, .len = h->payload_len, .from = &h->src };

	/* Only the called node may answer, and only to the address that called. */
	if (!cc || !glow_node_id_equal(&h->src.node, &cc->dst.node) || h->dst.resource != cc->src.resource)
		return FALSE;
	switch (h->type) {
	case GLOW_PKT_ITEM:
		if (!cc->stream)
			return FALSE;
		if (!cc->got_item && cc->deadline) {
			/* A stream's deadline covers its start; after that it lives until END. */
			g_source_destroy(cc->deadline);
			g_source_unref(cc->deadline);
			cc->deadline = NULL;
		}
		cc->got_item = TRUE;
		cc->fn(&r, cc->user);
		/* The callback may have cancelled the call. */
		if (g_hash_table_lookup(rpc->client, &h->call_id) == cc)
			grant_credit(cc);
		return TRUE;
	case GLOW_PKT_REPLY:
	case GLOW_PKT_END:
		client_finish(cc, &r);
		return TRUE;
	case GLOW_PKT_ERROR: {
		g_autofree char *text = error_text(payload, h->payload_len, h->aux);
		r.code = h->aux ? h->aux : GLOW_ERR_INTERNAL;
		r.message = text;
		r.payload = NULL;
		r.len = 0;
		client_finish(cc, &r);
		return TRUE;
	}
	default:
		return FALSE;
	}
}

guint glow_rpc_pending_calls(GlowRpc *rpc)
{
	return g_hash_table_size(rpc->client);
}

/* --- server side ------------------------------------------------------------------ */

static void send_error(GlowRpc *rpc, const GlowPacketHeader *call, GlowErrorCode code, const char *text);

static void server_call_free(GlowCall *c)
{
	ServerKey k;
	server_key_of(&k, &c->h);
	if (!c->oneway)
		g_hash_table_remove(c->rpc->server, &k);
	node_calls_add(c->rpc, &c->h.src.node, -1);
	if (c->deadline) {
		g_source_destroy(c->deadline);
		g_source_unref(c->deadline);
	}
	if (c->gone_idle) {
		g_source_destroy(c->gone_idle);
		g_source_unref(c->gone_idle);
	}
	g_free(c);
}

static void server_cancel(GlowCall *c)
{
	if (c->on_cancel)
		c->on_cancel(c, c->data);
	server_call_free(c);
}

static gboolean on_server_deadline(gpointer data)
{
	GlowCall *c = data;
	g_source_unref(c->deadline);
	c->deadline = NULL;
	server_cancel(c);
	return G_SOURCE_REMOVE;
}

GlowCall *glow_rpc_server_begin(GlowRpc *rpc, const GlowPacketHeader *h, GlowErrorCode *code)
{
	ServerKey *k;
	GlowCall *c;

	if (h->type == GLOW_PKT_MESSAGE) {
		/* Not in the table (no call id to match), but bounded like calls:
		 * per caller node, and by a deadline. */
		if (node_calls(rpc, &h->src.node) >= GLOW_RPC_MAX_CALLS_PER_PEER) {
			*code = GLOW_ERR_TOO_FAST;
			return NULL;
		}
		c = g_new0(GlowCall, 1);
		c->rpc = rpc;
		c->h = *h;
		c->oneway = TRUE;
		node_calls_add(rpc, &h->src.node, 1);
		arm_deadline(rpc, &c->deadline,
		             h->deadline_ms ? MIN(h->deadline_ms, GLOW_RPC_MAX_DEADLINE_MS) : GLOW_RPC_DEFAULT_DEADLINE_MS,
		             on_server_deadline, c);
		return c;
	}
	k = g_new(ServerKey, 1);
	server_key_of(k, h);
	if (g_hash_table_contains(rpc->server, k)) {
		g_free(k);
		*code = GLOW_ERR_BAD_REQUEST;
		return NULL;
	}
	if (g_hash_table_size(rpc->server) >= MAX_SERVER_CALLS ||
	    node_calls(rpc, &h->src.node) >= GLOW_RPC_MAX_CALLS_PER_PEER) {
		g_free(k);
		*code = GLOW_ERR_TOO_FAST;
		return NULL;
	}
	c = g_new0(GlowCall, 1);
	c->rpc = rpc;
	c->h = *h;
	c->stream = (h->flags & GLOW_PKT_F_STREAM) != 0;
	c->credit = c->stream ? h->aux : 0;
	g_hash_table_insert(rpc->server, k, c);
	node_calls_add(rpc, &h->src.node, 1);
	/* A unary call is pointless past the caller's deadline; a stream lives until cancelled. */
	if (!c->stream) {
		guint ms = h->deadline_ms ? MIN(h->deadline_ms, GLOW_RPC_MAX_DEADLINE_MS)
		                          : GLOW_RPC_DEFAULT_DEADLINE_MS;
		arm_deadline(rpc, &c->deadline, ms, on_server_deadline, c);
	}
	return c;
}

static void send_error(GlowRpc *rpc, const GlowPacketHeader *call, GlowErrorCode code, const char *text)
{
	Glow__Error e = GLOW__ERROR__INIT;
	size_t len = 0;
	e.code = code;
	e.message = (char *)text;
	pack(rpc, &e.base, &len);
	send_packet(rpc, GLOW_PKT_ERROR, &call->src, &call->dst, call->call_id, call->interface_id,
	            call->method_id, code, rpc->scratch, len);
}

void glow_rpc_reject(GlowRpc *rpc, const GlowPacketHeader *call, GlowErrorCode code, const char *fmt, ...)
{
	va_list ap;
	g_autofree char *text = NULL;
	if (call->type != GLOW_PKT_CALL)
		return; /* only calls are answered; a bad MESSAGE is just dropped */
	va_start(ap, fmt);
	text = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	send_error(rpc, call, code, text);
}

void glow_rpc_handle_control(GlowRpc *rpc, const GlowPacketHeader *h)
{
	ServerKey k;
	GlowCall *c;

	server_key_of(&k, h);
	c = g_hash_table_lookup(rpc->server, &k);
	if (!c)
		return;
	if (h->type == GLOW_PKT_CANCEL) {
		server_cancel(c);
	} else if (h->type == GLOW_PKT_CREDIT && c->stream) {
		/* Bounded so a hostile caller cannot wrap the counter. */
		c->credit = (guint)MIN((guint64)c->credit + h->aux, 1u << 20);
		if (c->on_credit)
			c->on_credit(c, c->data);
	}
}

static void respond(GlowCall *c, uint8_t type, const uint8_t *payload, size_t len)
{
	if (c->oneway) {
		server_call_free(c);
		return;
	}
	GlowErrorCode err = send_packet(c->rpc, type, &c->h.src, &c->h.dst, c->h.call_id, c->h.interface_id,
	                                c->h.method_id, 0, payload, len);
	(void)err; /* the caller will time out; nothing better to do for a lost answer */
	server_call_free(c);
}

void glow_call_reply_raw(GlowCall *c, const uint8_t *payload, size_t len)
{
	respond(c, GLOW_PKT_REPLY, payload, len);
}

void glow_call_reply(GlowCall *c, const ProtobufCMessage *msg)
{
	size_t len = 0;
	if (!pack(c->rpc, msg, &len)) {
		glow_call_error(c, GLOW_ERR_TOO_BIG, "reply exceeds %d bytes", GLOW_PACKET_MAX_PAYLOAD);
		return;
	}
	respond(c, GLOW_PKT_REPLY, c->rpc->scratch, len);
}

void glow_call_error(GlowCall *c, GlowErrorCode code, const char *fmt, ...)
{
	va_list ap;
	g_autofree char *text = NULL;
	va_start(ap, fmt);
	text = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	if (!c->oneway)
		send_error(c->rpc, &c->h, code, text);
	server_call_free(c);
}

static gboolean on_gone(gpointer data)
{
	GlowCall *c = data;
	g_source_unref(c->gone_idle);
	c->gone_idle = NULL;
	server_cancel(c);
	return G_SOURCE_REMOVE;
}

static void mark_gone(GlowCall *c)
{
	if (c->gone)
		return;
	c->gone = TRUE;
	c->gone_idle = g_idle_source_new();
	g_source_set_priority(c->gone_idle, G_PRIORITY_DEFAULT);
	g_source_set_callback(c->gone_idle, on_gone, c, NULL);
	g_source_attach(c->gone_idle, c->rpc->ctx);
}

gboolean glow_call_stream_send(GlowCall *c, const ProtobufCMessage *item)
{
	size_t len = 0;
	if (c->gone || c->credit == 0)
		return FALSE;
	if (!pack(c->rpc, item, &len)) {
		mark_gone(c);
		return FALSE;
	}
	if (send_packet(c->rpc, GLOW_PKT_ITEM, &c->h.src, &c->h.dst, c->h.call_id, c->h.interface_id,
	                c->h.method_id, 0, c->rpc->scratch, len) != GLOW_OK) {
		/* Try to tell the caller why its stream stops; it may not get through. */
		send_error(c->rpc, &c->h, GLOW_ERR_TOO_FAST, "stream dropped: the path to the caller is congested");
		mark_gone(c);
		return FALSE;
	}
	c->credit--;
	return TRUE;
}

void glow_call_stream_end(GlowCall *c)
{
	respond(c, GLOW_PKT_END, NULL, 0);
}

void glow_call_set_handlers(GlowCall *c, GlowCallFn on_credit, GlowCallFn on_cancel, gpointer data)
{
	c->on_credit = on_credit;
	c->on_cancel = on_cancel;
	c->data = data;
}

guint glow_call_credit(const GlowCall *c) { return c->gone ? 0 : c->credit; }
gboolean glow_call_wants_stream(const GlowCall *c) { return c->stream; }
const GlowAddr *glow_call_caller(const GlowCall *c) { return &c->h.src; }
guint glow_call_hop_limit(const GlowCall *c) { return c->h.hop_limit; }
const GlowAddr *glow_call_target(const GlowCall *c) { return &c->h.dst; }
GlowRpc *glow_call_rpc(const GlowCall *c) { return c->rpc; }

/* --- teardown --------------------------------------------------------------------- */

/* Callbacks may end other calls, so victims are collected by key and each
 * looked up again just before it is ended. */
static void fail_clients(GlowRpc *rpc, const GlowNodeId *node, GlowErrorCode code, const char *message)
{
	GHashTableIter it;
	gpointer v;
	g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(guint64));

	g_hash_table_iter_init(&it, rpc->client);
	while (g_hash_table_iter_next(&it, NULL, &v))
		if (!node || glow_node_id_equal(&((ClientCall *)v)->dst.node, node))
			g_array_append_val(ids, ((ClientCall *)v)->call_id);
	for (guint i = 0; i < ids->len; i++) {
		ClientCall *cc = g_hash_table_lookup(rpc->client, &g_array_index(ids, guint64, i));
		if (cc)
			client_fail(cc, code, message);
	}
}

static void cancel_servers(GlowRpc *rpc, const GlowNodeId *node, const GlowAddr *caller)
{
	GHashTableIter it;
	gpointer k, v;
	g_autoptr(GArray) keys = g_array_new(FALSE, FALSE, sizeof(ServerKey));

	g_hash_table_iter_init(&it, rpc->server);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		const GlowCall *c = v;
		if (node && !glow_node_id_equal(&c->h.src.node, node))
			continue;
		if (caller && (!glow_node_id_equal(&c->h.src.node, &caller->node) ||
		               c->h.src.resource != caller->resource))
			continue;
		g_array_append_vals(keys, k, 1);
	}
	for (guint i = 0; i < keys->len; i++) {
		GlowCall *c = g_hash_table_lookup(rpc->server, &g_array_index(keys, ServerKey, i));
		if (c)
			server_cancel(c);
	}
}

void glow_rpc_node_lost(GlowRpc *rpc, const GlowNodeId *node, GlowErrorCode code, const char *message)
{
	fail_clients(rpc, node, code, message);
	cancel_servers(rpc, node, NULL);
}

void glow_rpc_caller_lost(GlowRpc *rpc, const GlowAddr *caller)
{
	cancel_servers(rpc, NULL, caller);
}

void glow_rpc_free(GlowRpc *rpc)
{
	if (!rpc)
		return;
	fail_clients(rpc, NULL, GLOW_ERR_CANCELLED, "shutting down");
	cancel_servers(rpc, NULL, NULL);
	g_hash_table_destroy(rpc->client);
	g_hash_table_destroy(rpc->server);
	g_hash_table_destroy(rpc->per_node);
	g_free(rpc->scratch);
	g_free(rpc);
}
