#include "node/node.h"

#include <errno.h>
#include <gio/gio.h>
#include <string.h>
#include <unistd.h>

#include "node/node-internal.h"
#include "transport/loop.h"
#include "wire/beacon.h"

#define G_LOG_DOMAIN_NODE "glowd"
#define log_msg(...) g_log(G_LOG_DOMAIN_NODE, G_LOG_LEVEL_MESSAGE, __VA_ARGS__)
#define log_info(...) g_log(G_LOG_DOMAIN_NODE, G_LOG_LEVEL_INFO, __VA_ARGS__)

typedef struct {
	GlowNode *node;
	int fd;
	GlowFdWatch *watch;
} Listener;

typedef struct {
	GlowNode *node;
	char *address;
	GlowNodeId expect;
	gboolean has_expect;
	char *prefix;
	guint timeout_ms;
	GCancellable *dial;
	guint64 link_id;
	GlowConnectFn fn;
	gpointer data;
} Connect;

typedef struct {
	GlowPacketHeader h;
	uint8_t *payload;
} Queued;

/* A call a local client made. The node remembers it so that only the
 * called node's answers reach the client, so that if that node becomes
 * unreachable the client hears so at once (a stream would otherwise wait
 * forever), so that a client too slow for its queue learns why its call
 * ended, and so that a client that disconnects has its calls cancelled. */
#define MAX_SESSION_CALLS 65536
typedef struct {
	guint64 endpoint;
	guint64 call_id;
	GlowPacketHeader call; /* the CALL as sent (after address rewriting) */
} SessionCall;

static guint session_call_hash(gconstpointer p)
{
	const SessionCall *c = p;
	return (guint)(c->endpoint * 31 + c->call_id);
}

static gboolean session_call_equal(gconstpointer a, gconstpointer b)
{
	const SessionCall *x = a, *y = b;
	return x->endpoint == y->endpoint && x->call_id == y->call_id;
}

static void session_call_forget(GlowNode *n, guint64 endpoint, guint64 call_id)
{
	SessionCall key = { .endpoint = endpoint, .call_id = call_id };
	g_hash_table_remove(n->session_calls, &key);
}

/* --- config ---------------------------------------------------------------------- */

void glow_node_config_init(GlowNodeConfig *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->control = TRUE;
	cfg->relay = GLOW_RELAY_ANYONE;
	cfg->busy_poll_us = GLOW_LOOP_BUSY_POLL_DEFAULT_US;
	cfg->discovery = TRUE;
	cfg->discovery_port = GLOW_BEACON_PORT;
	cfg->beacon_interval_ms = 30000;
	cfg->dnssd = TRUE;
	cfg->beacons = TRUE;
	glow_link_config_default(&cfg->link);
}

static const char *const relay_names[] = {
	[GLOW_RELAY_ANYONE] = "anyone",
	[GLOW_RELAY_SAME_USER] = "same-user",
	[GLOW_RELAY_NONE] = "none",
};

const char *glow_relay_mode_name(GlowRelayMode m)
{
	return m <= GLOW_RELAY_NONE ? relay_names[m] : "?";
}

gboolean glow_relay_mode_parse(const char *text, GlowRelayMode *out)
{
	for (guint i = 0; i < G_N_ELEMENTS(relay_names); i++) {
		if (!g_strcmp0(text, relay_names[i])) {
			*out = (GlowRelayMode)i;
			return TRUE;
		}
	}
	return FALSE;
}

void glow_node_config_clear(GlowNodeConfig *cfg)
{
	g_free(cfg->state_dir);
	g_free(cfg->name);
	g_strfreev(cfg->listen);
	g_strfreev(cfg->connect);
	g_free(cfg->config_path);
	memset(cfg, 0, sizeof *cfg);
}

void glow_node_config_copy(GlowNodeConfig *dst, const GlowNodeConfig *src)
{
	*dst = *src;
	dst->state_dir = g_strdup(src->state_dir);
	dst->name = g_strdup(src->name);
	dst->listen = g_strdupv(src->listen);
	dst->connect = g_strdupv(src->connect);
	dst->config_path = g_strdup(src->config_path);
}

gboolean glow_node_config_check(const GlowNodeConfig *cfg, char **why)
{
	if (cfg->link.dead_ms <= cfg->link.keepalive_ms) {
		*why = g_strdup("link.dead_ms must be larger than link.keepalive_ms");
		return FALSE;
	}
	if (cfg->link.busy_dead_ms <= cfg->link.probe_ms) {
		*why = g_strdup("link.busy_dead_ms must be larger than link.probe_ms");
		return FALSE;
	}
	return TRUE;
}

static gboolean read_uint(GKeyFile *kf, const char *group, const char *key, guint min, guint max, guint *out,
                          GError **error)
{
	g_autoptr(GError) e = NULL;
	gint64 v;
	if (!g_key_file_has_key(kf, group, key, NULL))
		return TRUE;
	v = g_key_file_get_int64(kf, group, key, &e);
	if (e || v < min || v > max) {
		g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
		            "[%s] %s must be a whole number from %u to %u", group, key, min, max);
		return FALSE;
	}
	*out = (guint)v;
	return TRUE;
}

static gboolean read_bool(GKeyFile *kf, const char *group, const char *key, gboolean *out, GError **error)
{
	g_autoptr(GError) e = NULL;
	gboolean v;
	if (!g_key_file_has_key(kf, group, key, NULL))
		return TRUE;
	v = g_key_file_get_boolean(kf, group, key, &e);
	if (e) {
		g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE, "[%s] %s must be true or false", group,
		            key);
		return FALSE;
	}
	*out = v;
	return TRUE;
}

gboolean glow_node_config_load(GlowNodeConfig *cfg, const char *path, GError **error)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(GError) e = NULL;
	guint rekey_records = (guint)MIN(cfg->link.rekey_records, G_MAXUINT);

	if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &e)) {
		if (g_error_matches(e, G_FILE_ERROR, G_FILE_ERROR_NOENT))
			return TRUE;
		g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_PARSE, "%s: %s", path, e->message);
		return FALSE;
	}
	if (!cfg->name)
		cfg->name = g_key_file_get_string(kf, "node", "name", NULL);
	if (!cfg->listen)
		cfg->listen = g_key_file_get_string_list(kf, "node", "listen", NULL, NULL);
	if (!cfg->connect)
		cfg->connect = g_key_file_get_string_list(kf, "node", "connect", NULL, NULL);
	if (!read_uint(kf, "link", "keepalive_ms", 100, 600000, &cfg->link.keepalive_ms, error) ||
	    !read_uint(kf, "link", "dead_ms", 200, 3600000, &cfg->link.dead_ms, error) ||
	    !read_uint(kf, "link", "probe_ms", 50, 600000, &cfg->link.probe_ms, error) ||
	    !read_uint(kf, "link", "busy_dead_ms", 100, 3600000, &cfg->link.busy_dead_ms, error) ||
	    !read_uint(kf, "link", "handshake_ms", 100, 600000, &cfg->link.handshake_ms, error) ||
	    !read_uint(kf, "link", "rekey_seconds", 1, 86400, &cfg->link.rekey_seconds, error) ||
	    !read_uint(kf, "link", "rekey_records", 1, 1u << 30, &rekey_records, error) ||
	    !read_uint(kf, "node", "busy_poll_us", 0, GLOW_LOOP_BUSY_POLL_MAX_US, &cfg->busy_poll_us, error)) {
		g_prefix_error(error, "%s: ", path);
		return FALSE;
	}
	cfg->link.rekey_records = rekey_records;
	if (cfg->link.dead_ms <= cfg->link.keepalive_ms) {
		g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
		            "%s: [link] dead_ms must be larger than keepalive_ms", path);
		return FALSE;
	}
	if (cfg->link.busy_dead_ms <= cfg->link.probe_ms) {
		g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
		            "%s: [link] busy_dead_ms must be larger than probe_ms", path);
		return FALSE;
	}
	{
		guint interval_s = cfg->beacon_interval_ms / 1000;
		if (!read_uint(kf, "discovery", "port", 1, 65535, &cfg->discovery_port, error) ||
		    !read_uint(kf, "discovery", "interval_s", 1, 3600, &interval_s, error) ||
		    !read_bool(kf, "discovery", "enabled", &cfg->discovery, error) ||
		    !read_bool(kf, "discovery", "dnssd", &cfg->dnssd, error) ||
		    !read_bool(kf, "discovery", "beacons", &cfg->beacons, error)) {
			g_prefix_error(error, "%s: ", path);
			return FALSE;
		}
		cfg->beacon_interval_ms = interval_s * 1000;
	}
	if (!cfg->relay_set && g_key_file_has_key(kf, "router", "relay", NULL)) {
		g_autofree char *v = g_key_file_get_string(kf, "router", "relay", NULL);
		if (!glow_relay_mode_parse(v ? g_strstrip(v) : NULL, &cfg->relay)) {
			g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
			            "%s: [router] relay must be anyone, same-user or none", path);
			return FALSE;
		}
	}
	if (g_key_file_has_key(kf, "router", "relay_rate", NULL)) {
		g_autoptr(GError) re = NULL;
		gint64 v = g_key_file_get_int64(kf, "router", "relay_rate", &re);
		if (re || v < 0) {
			g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
			            "%s: [router] relay_rate must be a whole number of bytes per second (0 = no limit)",
			            path);
			return FALSE;
		}
		cfg->relay_rate = (guint64)v;
	}
	return TRUE;
}

/* --- packet paths -------------------------------------------------------------------- */

static gboolean is_response(uint8_t type)
{
	return type == GLOW_PKT_REPLY || type == GLOW_PKT_ERROR || type == GLOW_PKT_ITEM || type == GLOW_PKT_END;
}

static GlowErrorCode route(GlowNode *n, const GlowPacketHeader *h, const uint8_t *payload);

/* Tells a local caller (session or the node's rpc) that its call failed. */
static void answer_error(GlowNode *n, const GlowPacketHeader *call, GlowErrorCode code, const char *text)
{
	if (call->type != GLOW_PKT_CALL)
		return;
	glow_rpc_reject(n->rpc, call, code, "%s", text);
}

/* Tells the sender of an ITEM nobody will read to stop its stream. */
static void cancel_upstream(GlowNode *n, const GlowPacketHeader *item)
{
	GlowPacketHeader c = *item;
	c.type = GLOW_PKT_CANCEL;
	c.payload_len = 0;
	c.dst = item->src;
	c.src = item->dst;
	route(n, &c, NULL);
}

static void deliver_to_session(GlowNode *n, const GlowPacketHeader *h, const uint8_t *payload)
{
	GlowSession *s = g_hash_table_lookup(n->sessions, &h->dst.resource);
	SessionCall key = { .endpoint = h->dst.resource, .call_id = h->call_id };
	SessionCall *sc = g_hash_table_lookup(n->session_calls, &key);

	if (!sc || !glow_node_id_equal(&sc->call.dst.node, &h->src.node)) {
		/* Stale, or not from the node that was called: drop it, and stop a
		 * stream nobody reads. */
		n->rejected_packets++;
		if (h->type == GLOW_PKT_ITEM && !sc)
			cancel_upstream(n, h);
		return;
	}
	if (s && glow_session_send(s, h, payload)) {
		if (h->type != GLOW_PKT_ITEM)
			g_hash_table_remove(n->session_calls, &key);
		return;
	}
	/* The client is gone, or reads too slowly for its queue: stop a stream,
	 * and tell the client why its call ended (once: the call is forgotten). */
	g_hash_table_remove(n->session_calls, &key);
	if (h->type == GLOW_PKT_ITEM)
		cancel_upstream(n, h);
	if (s) {
		GlowPacketHeader e = *h;
		e.type = GLOW_PKT_ERROR;
		e.aux = GLOW_ERR_TOO_FAST;
		e.payload_len = 0;
		glow_session_send_urgent(s, &e, NULL);
	}
}

static void deliver_local(GlowNode *n, const GlowPacketHeader *h, const uint8_t *payload)
{
	gboolean to_session = h->dst.resource >= GLOW_RESOURCE_EPHEMERAL_BASE;

	switch (h->type) {
	case GLOW_PKT_CALL:
	case GLOW_PKT_MESSAGE:
		glow_resources_dispatch(n->resources, h, payload);
		break;
	case GLOW_PKT_CANCEL:
	case GLOW_PKT_CREDIT:
		if (!to_session)
			glow_resources_control(n->resources, h);
		break;
	default:
		if (to_session) {
			deliver_to_session(n, h, payload);
		} else if (!glow_rpc_handle_response(n->rpc, h, payload) && h->type == GLOW_PKT_ITEM) {
			cancel_upstream(n, h);
		}
		break;
	}
}

/* Packets from this node to itself wait for the main loop, so a handler
 * never re-enters itself through a call it makes. */
static gboolean drain_local(gpointer data)
{
	GlowNode *n = data;
	Queued *q;
	guint budget = 256;

	while (budget-- && (q = g_queue_pop_head(&n->local_queue))) {
		deliver_local(n, &q->h, q->payload);
		g_free(q->payload);
		g_free(q);
	}
	if (!g_queue_is_empty(&n->local_queue))
		return G_SOURCE_CONTINUE;
	g_source_unref(n->local_idle);
	n->local_idle = NULL;
	return G_SOURCE_REMOVE;
}

static void queue_local(GlowNode *n, const GlowPacketHeader *h, const uint8_t *payload)
{
	Queued *q = g_new(Queued, 1);
	q->h = *h;
	q->payload = h->payload_len ? g_memdup2(payload, h->payload_len) : NULL;
	g_queue_push_tail(&n->local_queue, q);
	if (!n->local_idle) {
		n->local_idle = g_idle_source_new();
		g_source_set_priority(n->local_idle, G_PRIORITY_DEFAULT);
		g_source_set_callback(n->local_idle, drain_local, n, NULL);
		g_source_attach(n->local_idle, n->ctx);
	}
}

static guint64 now_ms(void)
{
	return (guint64)(g_get_monotonic_time() / 1000);
}

static GlowErrorCode forward(GlowNode *n, const GlowPacketHeader *h, const uint8_t *payload)
{
	switch (glow_router_forward(n->router, h, payload)) {
	case GLOW_ROUTE_SENT:
		return GLOW_OK;
	case GLOW_ROUTE_CONGESTED:
		return GLOW_ERR_TOO_FAST;
	case GLOW_ROUTE_HOP_LIMIT:
	case GLOW_ROUTE_NO_ROUTE:
		break;
	}
	return GLOW_ERR_UNREACHABLE;
}

#define INTRODUCE_EVERY_US (600 * G_USEC_PER_SEC)
#define INTRODUCED_MAX 4096

/* A node we reach only through relays has not seen our device certificate
 * in a link hello: it gets it (glow.Pairing.Introduce) before our first
 * packet, so that its access check knows whose device we are, and again
 * every ten minutes in case it forgot. */
static void introduce(GlowNode *n, const GlowNodeId *to)
{
	gint64 now = g_get_monotonic_time();
	gint64 *last = g_hash_table_lookup(n->introduced, to);
	const GlowInterface *iface;
	GlowAddr src = { .node = n->identity->id, .resource = GLOW_RESOURCE_NODE };
	GlowAddr dst = { .node = *to, .resource = GLOW_RESOURCE_PAIRING };

	if (last && now - *last < INTRODUCE_EVERY_US)
		return;
	if (!last) {
		if (g_hash_table_size(n->introduced) >= INTRODUCED_MAX)
			g_hash_table_remove_all(n->introduced);
		GlowNodeId *k = g_memdup2(to, sizeof *to);
		last = g_new(gint64, 1);
		g_hash_table_insert(n->introduced, k, last);
	}
	*last = now;
	iface = glow_iface_by_name(n->reg, "glow.Pairing");
	/* Not sent (queue full, no session): try again with the next packet. */
	if (glow_rpc_message(n->rpc, &src, &dst, iface->id, glow_iface_method_by_name(iface, "Introduce")->id,
	                     g_bytes_get_data(n->user->cert, NULL), g_bytes_get_size(n->user->cert)) != GLOW_OK)
		g_hash_table_remove(n->introduced, to);
}

/* Every packet this node sends. To a neighbour it goes as it is: the link
 * is already encrypted and authenticated end to end. Through relays it is
 * sealed in the end-to-end session with its destination. */
static GlowErrorCode route(GlowNode *n, const GlowPacketHeader *h, const uint8_t *payload)
{
	gboolean direct;

	if (glow_node_id_equal(&h->dst.node, &n->identity->id)) {
		queue_local(n, h, payload);
		return GLOW_OK;
	}
	if (!glow_router_next_hop(n->router, &h->dst.node, &direct))
		return GLOW_ERR_UNREACHABLE;
	if (direct)
		return forward(n, h, payload);
	introduce(n, &h->dst.node);
	return glow_e2e_send(n->e2e, h, payload, now_ms());
}

static GlowErrorCode rpc_send(const GlowPacketHeader *h, const uint8_t *payload, gpointer user)
{
	return route(user, h, payload);
}

/* Relayed packets may fill only a share of a link's queue, so that a node's
 * own traffic (and routing messages) still get through a link that others
 * saturate. */
static gboolean port_send(gpointer port, const GlowPacketHeader *h, const uint8_t *payload, gpointer user)
{
	GlowNode *n = user;
	if (!glow_node_id_equal(&h->src.node, &n->identity->id) &&
	    glow_link_queued(port) > n->cfg.link.sendq_max / GLOW_RELAY_QUEUE_SHARE) {
		n->relay.dropped_queue++;
		return FALSE;
	}
	return glow_link_send(port, h, payload);
}

/* --- end-to-end sessions ------------------------------------------------------------- */

static GlowErrorCode e2e_send(gpointer user, const GlowPacketHeader *h, const uint8_t *payload)
{
	return forward(user, h, payload);
}

static void e2e_deliver(gpointer user, const GlowPacketHeader *h, const uint8_t *payload)
{
	deliver_local(user, h, payload);
}

static void e2e_dropped(gpointer user, const GlowPacketHeader *h, GlowErrorCode code, const char *why)
{
	GlowNode *n = user;
	char dst[GLOW_ADDR_TEXT_BUF];
	g_autofree char *text = NULL;
	glow_addr_to_text(&h->dst, dst);
	text = g_strdup_printf("%s is %s: %s", dst, glow_error_name(code), why);
	answer_error(n, h, code, text);
}

static const GlowE2eOutput e2e_out = {
	.send = e2e_send,
	.deliver = e2e_deliver,
	.dropped = e2e_dropped,
};

/* --- relaying ------------------------------------------------------------------------- */

/* relay_rate shapes rather than polices: packets over the rate wait in a
 * bounded queue and leave as tokens come in, so a stream through a limited
 * relay slows down (its credit comes back later) instead of losing items.
 * Only over the queue bound are packets dropped. */
static void relay_refill(GlowNode *n)
{
	gint64 now = g_get_monotonic_time();
	/* A quarter second of the rate, and at least one largest packet. */
	double burst = MAX((double)n->cfg.relay_rate / 4, (double)GLOW_PACKET_MAX_LEN + GLOW_E2E_OVERHEAD);
	n->relay_tokens = MIN(burst, n->relay_tokens + (double)(now - n->relay_refill_us) * (double)n->cfg.relay_rate / 1e6);
	n->relay_refill_us = now;
}

static void relay_now(GlowNode *n, const GlowPacketHeader *h, const uint8_t *payload)
{
	switch (glow_router_forward(n->router, h, payload)) {
	case GLOW_ROUTE_SENT:
		n->relay.packets++;
		n->relay.bytes += GLOW_PACKET_HEADER_LEN + h->payload_len;
		break;
	case GLOW_ROUTE_CONGESTED:
		break; /* counted by port_send or the link */
	case GLOW_ROUTE_HOP_LIMIT:
	case GLOW_ROUTE_NO_ROUTE:
		n->relay.dropped_no_route++;
		break;
	}
}

static gboolean relay_drain(gpointer data);

static void relay_schedule(GlowNode *n)
{
	Queued *q = g_queue_peek_head(&n->relay_queue);
	double need;
	guint ms;
	if (!q || n->relay_timer)
		return;
	need = (double)(GLOW_PACKET_HEADER_LEN + q->h.payload_len) - n->relay_tokens;
	ms = need <= 0 ? 0 : (guint)MIN(need * 1000 / (double)n->cfg.relay_rate + 1, 1000.0);
	n->relay_timer = g_timeout_source_new(ms);
	g_source_set_callback(n->relay_timer, relay_drain, n, NULL);
	g_source_attach(n->relay_timer, n->ctx);
}

static gboolean relay_drain(gpointer data)
{
	GlowNode *n = data;
	Queued *q;
	g_source_unref(n->relay_timer);
	n->relay_timer = NULL;
	relay_refill(n);
	while ((q = g_queue_peek_head(&n->relay_queue))) {
		gsize bytes = GLOW_PACKET_HEADER_LEN + q->h.payload_len;
		if (n->relay_tokens < (double)bytes)
			break;
		g_queue_pop_head(&n->relay_queue);
		n->relay_tokens -= (double)bytes;
		n->relay_queued -= bytes;
		relay_now(n, &q->h, q->payload);
		g_free(q->payload);
		g_free(q);
	}
	relay_schedule(n);
	return G_SOURCE_REMOVE;
}

/* A sealed packet between two other nodes: pass it on unread. */
static void relay(GlowNode *n, const GlowPacketHeader *h, const uint8_t *payload)
{
	gsize bytes = GLOW_PACKET_HEADER_LEN + h->payload_len;
	Queued *q;

	if (glow_node_id_equal(&h->src.node, &n->identity->id)) {
		/* Our own packet came back, or someone speaks for us: never pass it on. */
		n->relay.dropped_no_route++;
		return;
	}
	if (n->cfg.relay != GLOW_RELAY_ANYONE) {
		/* same-user: users do not exist yet, so a node is its own user and
		 * relays for nobody else. */
		n->relay.refused_policy++;
		return;
	}
	if (!n->cfg.relay_rate) {
		relay_now(n, h, payload);
		return;
	}
	relay_refill(n);
	if (g_queue_is_empty(&n->relay_queue) && n->relay_tokens >= (double)bytes) {
		n->relay_tokens -= (double)bytes;
		relay_now(n, h, payload);
		return;
	}
	if (n->relay_queued + bytes > GLOW_RELAY_SHAPER_MAX) {
		n->relay.refused_rate++;
		return;
	}
	q = g_new(Queued, 1);
	q->h = *h;
	q->payload = h->payload_len ? g_memdup2(payload, h->payload_len) : NULL;
	g_queue_push_tail(&n->relay_queue, q);
	n->relay_queued += bytes;
	relay_schedule(n);
}

/* --- links ----------------------------------------------------------------------------- */

static Connect *connect_for_link(GlowNode *n, guint64 link_id)
{
	for (guint i = 0; i < n->pending_connects->len; i++) {
		Connect *c = n->pending_connects->pdata[i];
		if (c->link_id == link_id)
			return c;
	}
	return NULL;
}

static void connect_free(Connect *c)
{
	if (c->dial)
		g_object_unref(c->dial);
	g_free(c->address);
	g_free(c->prefix);
	g_free(c);
}

static void connect_finish(Connect *c, GlowLink *link, GlowErrorCode code, const char *error)
{
	GlowNode *n = c->node;
	g_ptr_array_remove(n->pending_connects, c);
	if (c->fn)
		c->fn(n, link, code, error, c->data);
	connect_free(c);
}

/* A link's route cost: 100 for the hop (so fewer hops win on a LAN), plus
 * 10 per millisecond of smoothed RTT (up to 1 s), scaled up by keepalive
 * loss. Queueing under load moves a LAN link's cost by little, so routes
 * do not flap between equal paths when one of them is busy. */
static guint link_cost(GlowLink *l)
{
	const GlowLinkStats *st = glow_link_stats(l);
	guint64 cost = 100 + MIN(st->srtt_us, (guint64)1000000) / 100;
	cost = cost * 1000 / (1000 - MIN(st->loss_permille, 900u));
	return (guint)MIN(cost, (guint64)GLOW_DV_INFINITY / GLOW_HOP_LIMIT_DEFAULT);
}

/* Costs follow RTT and loss, with a quarter of hysteresis. */
static void refresh_link_costs(GlowNode *n)
{
	GHashTableIter it;
	gpointer k, v;
	g_hash_table_iter_init(&it, n->link_costs);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		GlowLink *l = g_hash_table_lookup(n->links, k);
		guint old = GPOINTER_TO_UINT(v), cost;
		if (!l)
			continue;
		cost = link_cost(l);
		if (cost > old + old / 4 || cost + cost / 4 < old) {
			g_hash_table_iter_replace(&it, GUINT_TO_POINTER(cost));
			glow_router_set_cost(n->router, glow_link_id(l), cost);
		}
	}
}

/* --- reachability ------------------------------------------------------------------------ */

typedef struct {
	GlowNodeId node;
	GlowRouterEvent ev;
} Event;

static void fail_session_calls(GlowNode *n, const GlowNodeId *node, const char *msg);

static gboolean drain_events(gpointer data)
{
	GlowNode *n = data;
	Event *e;
	while ((e = g_queue_pop_head(&n->events))) {
		char id[GLOW_NODE_ID_TEXT_BUF];
		glow_node_id_to_text(&e->node, id);
		if (e->ev == GLOW_ROUTER_REACHABLE) {
			log_info("%s is reachable", id);
		} else {
			/* Packets in flight on the dead path are lost: calls waiting
			 * for them end now instead of at their deadline (or never, for
			 * a stream). The caller may retry on the new route. */
			g_autofree char *msg = g_strdup_printf(
				e->ev == GLOW_ROUTER_UNREACHABLE ? "no route to %s any more" : "the route to %s broke (a link on it died)",
				id);
			log_info("%s", msg);
			glow_e2e_forget_queued(n->e2e, &e->node);
			glow_rpc_node_lost(n->rpc, &e->node, GLOW_ERR_UNREACHABLE, msg);
			fail_session_calls(n, &e->node, msg);
			/* It may come back restarted, having lost what we told it. */
			g_hash_table_remove(n->introduced, &e->node);
		}
		g_free(e);
	}
	g_source_unref(n->events_idle);
	n->events_idle = NULL;
	return G_SOURCE_REMOVE;
}

/* Router events arrive from inside the routing protocol: handled from the
 * main loop, so that what they set off never re-enters it. */
static void on_router_event(const GlowNodeId *node, GlowRouterEvent ev, gpointer user)
{
	GlowNode *n = user;
	Event *e = g_new(Event, 1);
	e->node = *node;
	e->ev = ev;
	g_queue_push_tail(&n->events, e);
	if (!n->events_idle) {
		n->events_idle = g_idle_source_new();
		g_source_set_priority(n->events_idle, G_PRIORITY_DEFAULT);
		g_source_set_callback(n->events_idle, drain_events, n, NULL);
		g_source_attach(n->events_idle, n->ctx);
	}
}

/* --- configured peers: dialed at start and again whenever their link is down ------------ */

#define WANTED_BACKOFF_MIN_MS 100
#define WANTED_BACKOFF_FAST_MS 1000    /* cap for the first minute after losing the peer */
#define WANTED_BACKOFF_MAX_MS 30000
#define WANTED_FAST_PERIOD_MS 60000
#define WANTED_DIAL_TIMEOUT_MS 3000

typedef struct {
	GlowNode *node;
	char *entry;
	char *address;
	GlowNodeId expect;
	gboolean has_expect;
	char *prefix;
	guint64 link_id;    /* 0 while not linked */
	gboolean dialing;
	guint backoff_ms;
	guint64 lost_ms;    /* when the link was lost (or the first try failed) */
	GSource *timer;
	gboolean removed;   /* dropped from the config while dialing: freed when the dial ends */
} Wanted;

static void wanted_dial(Wanted *w);

static gboolean wanted_timer(gpointer data)
{
	Wanted *w = data;
	g_source_unref(w->timer);
	w->timer = NULL;
	wanted_dial(w);
	return G_SOURCE_REMOVE;
}

static void wanted_schedule(Wanted *w)
{
	guint cap = now_ms() - w->lost_ms < WANTED_FAST_PERIOD_MS ? WANTED_BACKOFF_FAST_MS : WANTED_BACKOFF_MAX_MS;
	/* +-25% jitter, so nodes that lost each other do not redial in step. */
	guint delay = w->backoff_ms - w->backoff_ms / 4 + g_random_int_range(0, (gint)(w->backoff_ms / 2 + 1));
	if (w->node->stopping || w->timer)
		return;
	w->timer = g_timeout_source_new(delay);
	g_source_set_callback(w->timer, wanted_timer, w, NULL);
	g_source_attach(w->timer, w->node->ctx);
	w->backoff_ms = MIN(w->backoff_ms * 2, cap);
}

static void on_wanted_connect(GlowNode *n, GlowLink *link, GlowErrorCode code, const char *error, gpointer data)
{
	Wanted *w = data;
	w->dialing = FALSE;
	if (w->removed) {
		g_ptr_array_remove(n->wanted_removed, w);
		return;
	}
	if (code == GLOW_OK) {
		w->link_id = glow_link_id(link);
		w->backoff_ms = WANTED_BACKOFF_MIN_MS;
		return;
	}
	if (code == GLOW_ERR_CANCELLED)
		return; /* the node is stopping */
	if (w->backoff_ms <= WANTED_BACKOFF_MIN_MS * 2)
		log_msg("could not link to %s: %s (retrying)", w->entry, error);
	wanted_schedule(w);
}

static void wanted_dial(Wanted *w)
{
	if (w->dialing || w->link_id || w->node->stopping)
		return;
	w->dialing = TRUE;
	glow_node_connect(w->node, w->address, w->has_expect ? &w->expect : NULL, w->prefix, WANTED_DIAL_TIMEOUT_MS,
	                  on_wanted_connect, w);
}

static void wanted_free(gpointer data)
{
	Wanted *w = data;
	if (w->timer) {
		g_source_destroy(w->timer);
		g_source_unref(w->timer);
	}
	g_free(w->entry);
	g_free(w->address);
	g_free(w->prefix);
	g_free(w);
}

static void wanted_link_down(GlowNode *n, guint64 link_id)
{
	for (guint i = 0; i < n->wanted->len; i++) {
		Wanted *w = n->wanted->pdata[i];
		if (w->link_id != link_id)
			continue;
		w->link_id = 0;
		w->lost_ms = now_ms();
		w->backoff_ms = WANTED_BACKOFF_MIN_MS;
		wanted_schedule(w);
	}
}

static void on_link_established(GlowLink *l, gpointer user)
{
	GlowNode *n = user;
	const GlowConn *conn = glow_link_conn(l);
	char id[GLOW_NODE_ID_TEXT_BUF];
	Connect *c;

	if (!glow_link_is_initiator(l))
		n->pending_inbound--;
	glow_node_id_to_text(glow_link_peer(l), id);
	c = connect_for_link(n, glow_link_id(l));
	if (c && c->prefix && !glow_node_id_has_prefix(glow_link_peer(l), c->prefix)) {
		g_autofree char *why = g_strdup_printf("peer is %s, which does not start with %s", id, c->prefix);
		glow_link_close(l, why);
		return;
	}
	glow_router_add_neighbour(n->router, glow_link_id(l), glow_link_peer(l), l, link_cost(l));
	g_hash_table_insert(n->link_costs, g_memdup2(&(guint64){ glow_link_id(l) }, sizeof(guint64)),
	                    GUINT_TO_POINTER(link_cost(l)));
	glow_peers_link_up(n, l); /* after the router knows the neighbour: it sends to it */
	log_msg("link %" G_GUINT64_FORMAT " up: %s \"%s\" (%s %s %s)", glow_link_id(l), id, glow_link_peer_name(l),
	        conn->ops->name, glow_link_is_initiator(l) ? "to" : "from", conn->remote);
	if (c)
		connect_finish(c, l, GLOW_OK, NULL);
}

static void on_link_packet(GlowLink *l, const GlowPacketHeader *h, const uint8_t *payload, gpointer user)
{
	GlowNode *n = user;
	gboolean to_me = glow_node_id_equal(&h->dst.node, &n->identity->id);

	switch (h->type) {
	case GLOW_PKT_E2E_INIT:
	case GLOW_PKT_E2E_RESP:
	case GLOW_PKT_SEALED:
		/* From any node, through any number of relays: authenticated by the session. */
		if (to_me)
			glow_e2e_receive(n->e2e, h, payload, now_ms());
		else
			relay(n, h, payload);
		return;
	default:
		break;
	}
	/* Everything else is between neighbours, in clear inside the link: the
	 * peer speaks only for itself and only to this node. */
	if (!glow_node_id_equal(&h->src.node, glow_link_peer(l)) || !to_me) {
		n->rejected_packets++;
		log_info("link %" G_GUINT64_FORMAT ": dropped a %s packet not between the link's two nodes",
		         glow_link_id(l), glow_packet_type_name(h->type));
		return;
	}
	if (h->type == GLOW_PKT_ROUTING) {
		glow_router_receive(n->router, glow_link_id(l), payload, h->payload_len);
		return;
	}
	deliver_local(n, h, payload);
}

/* Local clients' calls to a node that just became unreachable end now. */
static void fail_session_calls(GlowNode *n, const GlowNodeId *node, const char *msg)
{
	GHashTableIter it;
	gpointer v;
	g_autoptr(GArray) lost = g_array_new(FALSE, FALSE, sizeof(GlowPacketHeader));

	g_hash_table_iter_init(&it, n->session_calls);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		SessionCall *c = v;
		if (glow_node_id_equal(&c->call.dst.node, node))
			g_array_append_val(lost, c->call);
	}
	/* Each ERROR seems to come from the lost node, so the client accepts
	 * it; delivering it ends (and forgets) the call. */
	for (guint i = 0; i < lost->len; i++)
		glow_rpc_reject(n->rpc, &g_array_index(lost, GlowPacketHeader, i), GLOW_ERR_UNREACHABLE, "%s", msg);
}

static void on_link_closed(GlowLink *l, const char *reason, gpointer user)
{
	GlowNode *n = user;
	guint64 id = glow_link_id(l);
	Connect *c = connect_for_link(n, id);

	if (g_hash_table_lookup(n->links, &id) != l)
		return;
	if (glow_link_stats(l)->established_us) {
		char peer[GLOW_NODE_ID_TEXT_BUF];
		glow_node_id_to_text(glow_link_peer(l), peer);
		log_msg("link %" G_GUINT64_FORMAT " to %s down: %s", id, peer, reason);
		/* Calls to nodes reached through it end via the router's events. */
		glow_router_remove_neighbour(n->router, id);
		g_hash_table_remove(n->link_costs, &id);
		wanted_link_down(n, id);
	} else {
		if (!glow_link_is_initiator(l))
			n->pending_inbound--;
		log_msg("link %" G_GUINT64_FORMAT " (%s) failed: %s", id, glow_link_conn(l) ? glow_link_conn(l)->remote : "?",
		        reason);
	}
	if (c) {
		GlowErrorCode code = strstr(reason, "different node") || strstr(reason, "does not start")
		                             ? GLOW_ERR_PERMISSION_DENIED
		                     : strstr(reason, "timed out") ? GLOW_ERR_TIMEOUT
		                                                   : GLOW_ERR_UNREACHABLE;
		connect_finish(c, NULL, code, reason);
	}
	glow_link_ref(l);
	g_hash_table_remove(n->links, &id); /* drops the node's reference */
	if (glow_link_stats(l)->established_us)
		glow_peers_link_down(n, l, strstr(reason, GLOW_CLOSE_REQUESTED) != NULL); /* after: the peer counts as unlinked */
	glow_link_unref(l);
}

static const GlowLinkCallbacks link_cb = {
	.established = on_link_established,
	.packet = on_link_packet,
	.closed = on_link_closed,
};

static GlowLink *add_link(GlowNode *n, GlowConn *conn, gboolean initiator, const GlowNodeId *expect)
{
	guint64 id = n->next_link_id++;
	GlowLink *l = glow_link_new(n->ctx, id, conn, initiator, n->identity, n->name, expect, &n->cfg.link,
	                            &link_cb, n);
	glow_link_set_local_cert(l, n->user->cert);
	guint64 *key = g_new(guint64, 1);
	*key = id;
	g_hash_table_insert(n->links, key, l);
	return l;
}

static gboolean on_accept(int fd, GIOCondition cond, gpointer data)
{
	Listener *ls = data;
	GlowNode *n = ls->node;
	GlowConn *conn;
	(void)fd;
	(void)cond;

	while ((conn = glow_tcp_accept(ls->fd))) {
		if (n->pending_inbound >= GLOW_LINK_MAX_PENDING_HANDSHAKES ||
		    g_hash_table_size(n->links) >= GLOW_LINK_MAX_LINKS) {
			log_msg("refusing connection from %s: %u handshakes in progress, %u links", conn->remote,
			        n->pending_inbound, g_hash_table_size(n->links));
			glow_conn_free(conn);
			continue;
		}
		n->pending_inbound++;
		add_link(n, conn, FALSE, NULL);
	}
	if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
		log_msg("accept: %s", g_strerror(errno));
	return TRUE;
}

static void on_dialed(GlowConn *conn, GError *error, gpointer data)
{
	Connect *c = data;
	GlowNode *n = c->node;
	GlowLink *l;

	if (!n) {
		/* The node was freed while this dial was in flight (GIO reports a
		 * cancelled dial later, never from inside the cancel). */
		glow_conn_free(conn);
		connect_free(c);
		return;
	}
	g_clear_object(&c->dial);
	if (!conn) {
		g_autofree char *why = g_strdup_printf("cannot reach %s: %s", c->address, error->message);
		if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
			log_msg("%s", why);
		connect_finish(c, NULL,
		               g_error_matches(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT) ? GLOW_ERR_TIMEOUT
		                                                                        : GLOW_ERR_UNREACHABLE,
		               why);
		return;
	}
	l = add_link(n, conn, TRUE, c->has_expect ? &c->expect : NULL);
	c->link_id = glow_link_id(l);
}

/* A dial answered without dialing: over the bound, or already linked. */
typedef struct {
	GlowConnectFn fn;
	gpointer data;
	GlowLink *link; /* a ref: the existing link to the expected node, or NULL: refused */
} Refused;

static gboolean refuse_later(gpointer p)
{
	GlowNode *n = p;
	Refused *r;
	g_source_unref(n->refuse_idle);
	n->refuse_idle = NULL;
	while ((r = g_queue_pop_head(&n->refused))) {
		if (r->link && glow_link_is_established(r->link))
			r->fn(n, r->link, GLOW_OK, NULL, r->data);
		else
			r->fn(n, NULL, r->link ? GLOW_ERR_UNREACHABLE : GLOW_ERR_TOO_FAST,
			      r->link ? "the link closed meanwhile" : "this node has as many links and dials as it takes",
			      r->data);
		if (r->link)
			glow_link_unref(r->link);
		g_free(r);
	}
	return G_SOURCE_REMOVE;
}

static void answer_later(GlowNode *n, GlowConnectFn fn, gpointer data, GlowLink *existing)
{
	Refused *r = g_new(Refused, 1);
	*r = (Refused){ fn, data, existing ? glow_link_ref(existing) : NULL };
	g_queue_push_tail(&n->refused, r);
	if (!n->refuse_idle) {
		n->refuse_idle = g_idle_source_new();
		g_source_set_callback(n->refuse_idle, refuse_later, n, NULL);
		g_source_attach(n->refuse_idle, n->ctx);
	}
}

void glow_node_connect(GlowNode *n, const char *address, const GlowNodeId *expect, const char *expect_prefix,
                       guint timeout_ms, GlowConnectFn fn, gpointer data)
{
	Connect *c;

	/* Dials are bounded like accepted links, so that hints from the network
	 * (beacons, DNS-SD, Sync) can never make a node open links without end.
	 * The answer is asynchronous, as a dial's always is. */
	if (g_hash_table_size(n->links) + n->pending_connects->len >= GLOW_LINK_MAX_LINKS) {
		answer_later(n, fn, data, NULL);
		return;
	}
	/* Already linked to the node asked for (a device of ours linked by
	 * itself, say): that link is the answer, not a second one. */
	if (expect && glow_node_link_to(n, expect)) {
		answer_later(n, fn, data, glow_node_link_to(n, expect));
		return;
	}
	c = g_new0(Connect, 1);
	c->node = n;
	c->address = g_strdup(address);
	if (expect) {
		c->expect = *expect;
		c->has_expect = TRUE;
	}
	c->prefix = g_strdup(expect_prefix);
	c->timeout_ms = timeout_ms ? timeout_ms : 10000;
	c->fn = fn;
	c->data = data;
	c->link_id = G_MAXUINT64;
	g_ptr_array_add(n->pending_connects, c);
	c->dial = glow_tcp_dial(n->ctx, address, c->timeout_ms, on_dialed, c);
	g_object_ref(c->dial);
}

/* --- control sessions --------------------------------------------------------------------- */

static guint64 on_session_opened(GlowSession *s, gpointer user)
{
	GlowNode *n = user;
	guint64 ep = GLOW_RESOURCE_EPHEMERAL_BASE + n->next_endpoint++;
	guint64 *key = g_new(guint64, 1);
	GlowPacketHeader w = {
		.version = GLOW_PACKET_VERSION,
		.type = GLOW_PKT_MESSAGE,
		.hop_limit = 0,
		.interface_id = glow_firefly_name_id("glow.Control"),
		.method_id = glow_firefly_method_id("glow.Control", "Welcome"),
		.dst = { n->identity->id, ep },
		.src = { n->identity->id, GLOW_RESOURCE_NODE },
	};
	*key = ep;
	g_hash_table_insert(n->sessions, key, s);
	glow_session_send(s, &w, NULL);
	return ep;
}

static void on_session_packet(GlowSession *s, const GlowPacketHeader *in, const uint8_t *payload, gpointer user)
{
	GlowNode *n = user;
	GlowPacketHeader h = *in;
	GlowErrorCode err;

	if (is_response(h.type)) {
		n->rejected_packets++;
		return; /* sessions do not serve resources yet (external processes will) */
	}
	/* The node vouches for a local caller's address: whatever it claimed is replaced. */
	h.src.node = n->identity->id;
	h.src.resource = glow_session_endpoint(s);
	if (glow_node_id_is_zero(&h.dst.node))
		h.dst.node = n->identity->id;
	if (h.hop_limit == 0)
		h.hop_limit = GLOW_HOP_LIMIT_DEFAULT;
	if (h.type == GLOW_PKT_CANCEL)
		session_call_forget(n, h.src.resource, h.call_id);
	if (h.type == GLOW_PKT_CALL) {
		if (g_hash_table_size(n->session_calls) >= MAX_SESSION_CALLS) {
			answer_error(n, &h, GLOW_ERR_TOO_FAST, "too many calls in progress from local clients");
			return;
		}
		/* Tracked before routing: an error about the route comes back through it. */
		SessionCall *c = g_new(SessionCall, 1);
		c->endpoint = h.src.resource;
		c->call_id = h.call_id;
		c->call = h;
		g_hash_table_replace(n->session_calls, c, c);
	}
	err = route(n, &h, payload);
	if (err != GLOW_OK) {
		char dst[GLOW_ADDR_TEXT_BUF];
		g_autofree char *text = NULL;
		glow_addr_to_text(&h.dst, dst);
		text = g_strdup_printf("%s is %s: %s", dst, glow_error_name(err),
		                       err == GLOW_ERR_UNREACHABLE ? "no route to that node" : "link congested");
		answer_error(n, &h, err, text);
	}
}

static void on_session_closed(GlowSession *s, gpointer user)
{
	GlowNode *n = user;
	guint64 ep = glow_session_endpoint(s);
	GlowAddr caller = { n->identity->id, ep };
	GHashTableIter it;
	gpointer v;

	g_hash_table_remove(n->sessions, &ep);
	glow_rpc_caller_lost(n->rpc, &caller);
	g_hash_table_iter_init(&it, n->session_calls);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		SessionCall *c = v;
		if (c->endpoint != ep)
			continue;
		GlowPacketHeader cancel = c->call;
		cancel.type = GLOW_PKT_CANCEL;
		cancel.payload_len = 0;
		route(n, &cancel, NULL);
		g_hash_table_iter_remove(&it);
	}
}

static const GlowControlCallbacks control_cb = {
	.opened = on_session_opened,
	.packet = on_session_packet,
	.closed = on_session_closed,
};

/* --- lifecycle ------------------------------------------------------------------------------- */

static void listener_free(gpointer p)
{
	Listener *ls = p;
	glow_fd_watch_free(ls->watch);
	close(ls->fd);
	g_free(ls);
}

static gboolean open_listeners(GlowNode *n, GError **error)
{
	for (char **a = n->cfg.listen; a && *a; a++) {
		g_autofree char *host = NULL;
		char *bound = NULL;
		guint16 port;
		int fd;
		Listener *ls;
		if (!glow_parse_host_port(*a, &host, &port, error))
			return FALSE;
		fd = glow_tcp_listen(host, port, &bound, error);
		if (fd < 0)
			return FALSE;
		ls = g_new0(Listener, 1);
		ls->node = n;
		ls->fd = fd;
		ls->watch = glow_fd_watch_new(n->ctx, fd, G_IO_IN, on_accept, ls);
		g_ptr_array_add(n->listeners, ls);
		g_ptr_array_add(n->listen_addrs, bound);
	}
	return TRUE;
}

/* A connect entry gone from the config: forgotten (its link, if any,
 * stays up until it fails). */
static void wanted_drop(GlowNode *n, guint i)
{
	Wanted *w = g_ptr_array_steal_index(n->wanted, i);
	if (!w->dialing) {
		wanted_free(w);
		return;
	}
	if (w->timer) {
		g_source_destroy(w->timer);
		g_source_unref(w->timer);
		w->timer = NULL;
	}
	w->removed = TRUE;
	g_ptr_array_add(n->wanted_removed, w);
}

static gboolean wanted_has(GlowNode *n, const char *entry)
{
	for (guint i = 0; i < n->wanted->len; i++)
		if (!strcmp(((Wanted *)n->wanted->pdata[i])->entry, entry))
			return TRUE;
	return FALSE;
}

/* "host:port" or "host:port/NODE-ID-or-prefix". Entries already wanted are
 * kept as they are; entries no longer in the config are dropped. */
static void dial_configured(GlowNode *n)
{
	for (guint i = 0; i < n->wanted->len;) {
		if (!n->cfg.connect || !g_strv_contains((const char *const *)n->cfg.connect,
		                                        ((Wanted *)n->wanted->pdata[i])->entry))
			wanted_drop(n, i);
		else
			i++;
	}
	for (char **a = n->cfg.connect; a && *a; a++) {
		if (!**a || wanted_has(n, *a))
			continue;
		const char *slash = strchr(*a, '/');
		g_autofree char *addr = slash ? g_strndup(*a, (gsize)(slash - *a)) : g_strdup(*a);
		char clean[GLOW_NODE_ID_RAW_CHARS + 1];
		GlowNodeId id;
		gboolean full = slash && glow_node_id_from_text(slash + 1, &id) == GLOW_ID_OK;
		gboolean prefix = slash && !full && glow_node_id_clean(slash + 1, clean, sizeof clean) >= 8;
		Wanted *w;
		if (slash && !full && !prefix) {
			log_msg("ignoring connect entry \"%s\": bad node ID", *a);
			continue;
		}
		w = g_new0(Wanted, 1);
		w->node = n;
		w->entry = g_strdup(*a);
		w->address = g_steal_pointer(&addr);
		w->expect = id;
		w->has_expect = full;
		w->prefix = prefix ? g_strdup(clean) : NULL;
		w->backoff_ms = WANTED_BACKOFF_MIN_MS;
		w->lost_ms = now_ms();
		g_ptr_array_add(n->wanted, w);
		wanted_dial(w);
	}
}

static gboolean on_node_tick(gpointer data)
{
	GlowNode *n = data;
	glow_e2e_tick(n->e2e, now_ms());
	refresh_link_costs(n);
	glow_peers_tick(n);
	return G_SOURCE_CONTINUE;
}

static const GlowRouterOps router_ops = {
	.send = port_send,
	.event = on_router_event,
};

GlowNode *glow_node_new(GMainContext *ctx, const GlowNodeConfig *cfg, GError **error)
{
	GlowNode *n = g_new0(GlowNode, 1);
	gboolean created = FALSE;
	g_autofree char *sock = NULL;

	n->ctx = g_main_context_ref(ctx);
	n->cfg = *cfg;
	n->cfg.state_dir = g_strdup(cfg->state_dir);
	n->cfg.name = g_strdup(cfg->name);
	n->cfg.listen = g_strdupv(cfg->listen);
	n->cfg.connect = g_strdupv(cfg->connect);
	n->cfg.config_path = cfg->config_path ? g_strdup(cfg->config_path)
	                                      : g_build_filename(cfg->state_dir, "glowd.conf", NULL);
	n->name = g_strdup(cfg->name && *cfg->name ? cfg->name : g_get_host_name());
	n->started_us = g_get_monotonic_time();
	n->listeners = g_ptr_array_new_with_free_func(listener_free);
	n->listen_addrs = g_ptr_array_new_with_free_func(g_free);
	n->links = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, (GDestroyNotify)glow_link_unref);
	n->sessions = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
	n->session_calls = g_hash_table_new_full(session_call_hash, session_call_equal, g_free, NULL);
	n->pending_connects = g_ptr_array_new();
	n->link_costs = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
	n->wanted = g_ptr_array_new_with_free_func(wanted_free);
	n->wanted_removed = g_ptr_array_new_with_free_func(wanted_free);
	n->introduced = g_hash_table_new_full(glow_node_id_hash, glow_node_id_equal_key, g_free, g_free);
	n->next_link_id = 1;
	g_queue_init(&n->local_queue);
	g_queue_init(&n->events);
	g_queue_init(&n->relay_queue);

	n->identity = glow_identity_load_or_create(cfg->state_dir, &created, error);
	if (!n->identity)
		goto fail;
	if (created)
		log_msg("created a new node identity in %s", cfg->state_dir);
	n->reg = glow_iface_registry_new();
	GlowRouterConfig rc;
	GlowE2eConfig ec;
	glow_router_config_default(&rc);
	rc.dv.transit = cfg->relay == GLOW_RELAY_ANYONE;
	n->router = glow_router_new(ctx, &n->identity->id, &rc, &router_ops, n);
	glow_e2e_config_default(&ec);
	n->e2e = glow_e2e_new(n->identity, &ec, &e2e_out, n);
	n->relay_refill_us = g_get_monotonic_time();
	n->tick = glow_timer_new(ctx, GLOW_ROUTER_TICK_MS, on_node_tick, n);
	n->rpc = glow_rpc_new(ctx, rpc_send, n);
	n->resources = glow_resources_new(n->reg, &n->identity->id, n->rpc);
	if (!glow_peers_start(n, error) || !glow_node_service_start(n, error) || !glow_pairing_start(n, error) ||
	    !open_listeners(n, error) || !glow_discovery_start(n, error))
		goto fail;
	if (cfg->control) {
		sock = g_build_filename(cfg->state_dir, GLOW_CONTROL_SOCKET_NAME, NULL);
		n->control = glow_control_new(ctx, sock, &control_cb, n, error);
		if (!n->control)
			goto fail;
	}
	dial_configured(n);
	return n;
fail:
	glow_node_free(n);
	return NULL;
}

void glow_node_free(GlowNode *n)
{
	GHashTableIter it;
	gpointer v;
	Queued *q;

	if (!n)
		return;
	n->stopping = TRUE;
	if (n->refuse_idle) {
		Refused *r;
		g_source_destroy(n->refuse_idle);
		g_source_unref(n->refuse_idle);
		n->refuse_idle = NULL;
		while ((r = g_queue_pop_head(&n->refused))) {
			r->fn(n, NULL, GLOW_ERR_CANCELLED, "the node is stopping", r->data);
			if (r->link)
				glow_link_unref(r->link);
			g_free(r);
		}
	}
	glow_discovery_stop(n);
	glow_pairing_stop(n);
	/* Dials in flight: their callers hear now; the Connect itself is left
	 * to on_dialed, which GIO still calls (later) for a cancelled dial.
	 * Dials that became links end when the links close below. */
	for (guint i = 0; i < n->pending_connects->len;) {
		Connect *c = n->pending_connects->pdata[i];
		if (!c->dial) {
			i++;
			continue;
		}
		g_ptr_array_remove_index(n->pending_connects, i);
		g_cancellable_cancel(c->dial);
		if (c->fn)
			c->fn(n, NULL, GLOW_ERR_CANCELLED, "node stopping", c->data);
		c->fn = NULL;
		c->node = NULL;
	}
	/* Close every link so that peers learn at once, not from their dead timer. */
	GPtrArray *links = g_ptr_array_new_with_free_func((GDestroyNotify)glow_link_unref);
	g_hash_table_iter_init(&it, n->links);
	while (g_hash_table_iter_next(&it, NULL, &v))
		g_ptr_array_add(links, glow_link_ref(v));
	for (guint i = 0; i < links->len; i++)
		glow_link_close(links->pdata[i], "node stopping");
	g_ptr_array_free(links, TRUE);
	if (n->tick) {
		g_source_destroy(n->tick);
		g_source_unref(n->tick);
	}
	glow_control_free(n->control);
	glow_resources_free(n->resources);
	glow_peers_stop(n);
	glow_rpc_free(n->rpc);
	glow_e2e_free(n->e2e);
	glow_router_free(n->router);
	n->router = NULL;
	while ((v = g_queue_pop_head(&n->events)))
		g_free(v);
	while ((q = g_queue_pop_head(&n->relay_queue))) {
		g_free(q->payload);
		g_free(q);
	}
	if (n->relay_timer) {
		g_source_destroy(n->relay_timer);
		g_source_unref(n->relay_timer);
	}
	if (n->events_idle) {
		g_source_destroy(n->events_idle);
		g_source_unref(n->events_idle);
	}
	while ((q = g_queue_pop_head(&n->local_queue))) {
		g_free(q->payload);
		g_free(q);
	}
	if (n->local_idle) {
		g_source_destroy(n->local_idle);
		g_source_unref(n->local_idle);
	}
	glow_iface_registry_free(n->reg);
	glow_identity_free(n->identity);
	g_hash_table_destroy(n->links);
	g_hash_table_destroy(n->sessions);
	g_hash_table_destroy(n->session_calls);
	g_ptr_array_free(n->listeners, TRUE);
	g_ptr_array_free(n->listen_addrs, TRUE);
	g_ptr_array_free(n->pending_connects, TRUE);
	g_ptr_array_free(n->wanted, TRUE);
	g_ptr_array_free(n->wanted_removed, TRUE);
	g_hash_table_destroy(n->introduced);
	g_hash_table_destroy(n->link_costs);
	g_free(n->name);
	glow_node_config_clear(&n->cfg);
	g_main_context_unref(n->ctx);
	g_free(n);
}

void glow_node_set_config_handler(GlowNode *n, GlowNodeConfigFn fn, gpointer data)
{
	n->config_fn = fn;
	n->config_data = data;
}

/* New listeners are opened before the old ones close, so a bad address
 * leaves the node listening as it was. */
static gboolean apply_listen(GlowNode *n, char **listen, GError **error)
{
	GPtrArray *old_listeners = n->listeners, *old_addrs = n->listen_addrs;
	char **old_cfg = n->cfg.listen;

	n->listeners = g_ptr_array_new_with_free_func(listener_free);
	n->listen_addrs = g_ptr_array_new_with_free_func(g_free);
	n->cfg.listen = listen;
	if (!open_listeners(n, error)) {
		g_ptr_array_unref(n->listeners);
		g_ptr_array_unref(n->listen_addrs);
		n->listeners = old_listeners;
		n->listen_addrs = old_addrs;
		n->cfg.listen = old_cfg;
		return FALSE;
	}
	g_ptr_array_unref(old_listeners);
	g_ptr_array_unref(old_addrs);
	n->cfg.listen = old_cfg; /* the caller swaps the whole config */
	return TRUE;
}

gboolean glow_node_apply_config(GlowNode *n, const GlowNodeConfig *next, const char *key, GError **error)
{
	GlowNodeConfig old = n->cfg;
	GHashTableIter it;
	gpointer v;

	if (!strcmp(key, "node.listen") && !apply_listen(n, next->listen, error))
		return FALSE;
	glow_node_config_copy(&n->cfg, next);
	if (!strcmp(key, "node.name")) {
		g_free(n->name);
		n->name = g_strdup(next->name);
	} else if (!strcmp(key, "node.connect")) {
		dial_configured(n);
	} else if (g_str_has_prefix(key, "link.")) {
		g_hash_table_iter_init(&it, n->links);
		while (g_hash_table_iter_next(&it, NULL, &v))
			glow_link_set_timers(v, &n->cfg.link);
	} else if (g_str_has_prefix(key, "discovery.")) {
		glow_discovery_stop(n);
		if (!glow_discovery_start(n, error)) {
			/* Back to the old settings, discovery running as it was. */
			glow_node_config_clear(&n->cfg);
			n->cfg = old;
			if (!glow_discovery_start(n, NULL))
				g_warning("discovery could not be restarted with its old settings either");
			return FALSE;
		}
	}
	glow_node_config_clear(&old);
	glow_discovery_changed(n);
	if (n->config_fn)
		n->config_fn(n, &n->cfg, n->config_data);
	return TRUE;
}

void glow_node_set_shutdown_handler(GlowNode *n, GlowNodeShutdownFn fn, gpointer data)
{
	n->shutdown_fn = fn;
	n->shutdown_data = data;
}

const GlowNodeId *glow_node_id(const GlowNode *n) { return &n->identity->id; }
GMainContext *glow_node_context(const GlowNode *n) { return n->ctx; }
GlowResourceTable *glow_node_resources(GlowNode *n) { return n->resources; }
GlowRpc *glow_node_rpc(GlowNode *n) { return n->rpc; }
const char *glow_node_control_path(const GlowNode *n) { return n->control ? glow_control_path(n->control) : NULL; }
const GPtrArray *glow_node_listen_addresses(const GlowNode *n) { return n->listen_addrs; }

void glow_node_links_snapshot(GlowNode *n, GPtrArray *out)
{
	GHashTableIter it;
	gpointer v;
	g_hash_table_iter_init(&it, n->links);
	while (g_hash_table_iter_next(&it, NULL, &v))
		if (glow_link_is_established(v))
			g_ptr_array_add(out, v);
}

gboolean glow_node_resolve(GlowNode *n, const char *text, GlowNodeId *out, char **message)
{
	char clean[GLOW_NODE_ID_RAW_CHARS + 8];
	GPtrArray *cands = g_ptr_array_new_with_free_func(g_free);
	gboolean ok = FALSE;
	int len;

	if (glow_node_id_from_text(text, out) == GLOW_ID_OK)
		return (g_ptr_array_free(cands, TRUE), TRUE);
	len = glow_node_id_clean(text, clean, sizeof clean);
	if (len < GLOW_NODE_ID_MIN_PREFIX) {
		*message = g_strdup_printf("\"%s\" is not a node ID: give the full ID or at least %d of its characters",
		                           text, GLOW_NODE_ID_MIN_PREFIX);
		goto out;
	}
	if (len >= GLOW_NODE_ID_RAW_CHARS) {
		*message = g_strdup_printf("\"%s\" is not a valid node ID (mistyped? its check characters do not match)", text);
		goto out;
	}
	if (glow_node_id_has_prefix(&n->identity->id, clean))
		g_ptr_array_add(cands, g_memdup2(&n->identity->id, sizeof(GlowNodeId)));
	/* Every node with a route or a link, whatever the number of hops. */
	glow_router_match_prefix(n->router, clean, cands);
	if (cands->len == 1) {
		*out = *(GlowNodeId *)cands->pdata[0];
		ok = TRUE;
	} else if (cands->len == 0) {
		*message = g_strdup_printf("no known node starts with %s", text);
	} else {
		*message = g_strdup_printf("%s is ambiguous: %u known nodes start with it", text, cands->len);
	}
out:
	g_ptr_array_free(cands, TRUE);
	return ok;
}

char *glow_node_peer_address(GlowNode *n, const GlowNodeId *peer)
{
	GlowLink *l = glow_node_link_to(n, peer);
	const GlowConn *c = l ? glow_link_conn(l) : NULL;
	return c && c->remote ? g_strdup(c->remote) : NULL;
}

const GlowNodeId *glow_node_user_id(const GlowNode *n)
{
	return &n->user->key;
}

