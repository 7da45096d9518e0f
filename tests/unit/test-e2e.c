/* End-to-end sessions (src/router/e2e.c) between two or three GlowE2e
 * instances in one process. Their outer packets go onto a "wire" (a queue
 * the test drains, in FIFO, LIFO or random order) through a relay hook that
 * can tamper with, drop or duplicate them; time is a number the test
 * advances. Covers: a queued CALL sealed after the handshake and answered on
 * the same session; what the outer header and payload show of the inner
 * packet; tampering with any byte or header field; replays and the replay
 * window; a forged message 1; a restarted responder; handshake timeout and
 * retries; the queue bound; the message-1 rate limit; rekeying; both sides
 * initiating at once. Every outer packet any node sends is checked to be a
 * well-formed E2E_INIT, E2E_RESP or SEALED packet from that node. */
#include <sodium.h>
#include <string.h>

#include "link/noise.h"
#include "router/e2e.h"

#define T0 1000000 /* fake time starts here (ms) */
#define MAX_NODES 3
#define KEEPALIVE_LEN (12 + 16)

typedef struct Net Net;

typedef struct {
	int from;   /* index of the sending node, -1 when made by the test */
	guint64 at; /* when it was sent */
	GlowPacketHeader h;
	guint8 *payload; /* exactly h.payload_len bytes, so ASan sees overreads */
} Pkt;

typedef struct {
	guint64 call_id;
	GlowErrorCode code;
	guint64 at;
} Drop;

typedef struct {
	Net *net;
	int index;
	GlowIdentity *id;
	GlowE2e *e;
	GPtrArray *delivered; /* Pkt*: inner packets as deliver got them */
	GArray *drops;        /* Drop: what dropped reported */
} Node;

typedef enum { ORDER_FIFO, ORDER_LIFO, ORDER_RANDOM } Order;

/* Sees each outer packet taken off the wire, may change it, and returns how
 * many copies reach the destination (0 drops it). */
typedef guint (*RelayFn)(Net *net, Pkt *p);

struct Net {
	Node node[MAX_NODES];
	int n;
	GlowE2eConfig cfg;
	guint64 now;
	GQueue wire;    /* Pkt*: in flight */
	GPtrArray *log; /* Pkt*: a copy of every outer packet sent */
	RelayFn relay;
	gpointer relay_data;
	Order order;
	GRand *rand;
};

/* --- packets ------------------------------------------------------------------ */

static guint32 get_u32(const guint8 *p)
{
	return (guint32)p[0] << 24 | (guint32)p[1] << 16 | (guint32)p[2] << 8 | p[3];
}

static guint64 get_u64(const guint8 *p)
{
	return (guint64)get_u32(p) << 32 | get_u32(p + 4);
}

static Pkt *pkt_new(int from, guint64 at, const GlowPacketHeader *h, const guint8 *payload)
{
	Pkt *p = g_new0(Pkt, 1);
	p->from = from;
	p->at = at;
	p->h = *h;
	p->payload = g_malloc(h->payload_len ? h->payload_len : 1);
	if (h->payload_len)
		memcpy(p->payload, payload, h->payload_len);
	return p;
}

static Pkt *pkt_copy(const Pkt *p)
{
	return pkt_new(p->from, p->at, &p->h, p->payload);
}

static void pkt_free(gpointer data)
{
	Pkt *p = data;
	g_free(p->payload);
	g_free(p);
}

static gboolean contains(const guint8 *hay, gsize n, const guint8 *needle, gsize m)
{
	for (gsize i = 0; i + m <= n; i++)
		if (memcmp(hay + i, needle, m) == 0)
			return TRUE;
	return FALSE;
}

/* --- nodes and the wire --------------------------------------------------------- */

static void check_outer(const Node *n, const GlowPacketHeader *h)
{
	g_assert_cmpuint(h->version, ==, GLOW_PACKET_VERSION);
	g_assert_true(glow_node_id_equal(&h->src.node, &n->id->id));
	g_assert_false(glow_node_id_equal(&h->dst.node, &n->id->id));
	g_assert_cmpuint(h->hop_limit, >, 0);
	/* Nothing of an inner packet's header is visible. */
	g_assert_cmpuint(h->flags, ==, 0);
	g_assert_cmpuint(h->call_id, ==, 0);
	g_assert_cmpuint(h->interface_id, ==, 0);
	g_assert_cmpuint(h->method_id, ==, 0);
	g_assert_cmpuint(h->deadline_ms, ==, 0);
	g_assert_cmpuint(h->aux, ==, 0);
	g_assert_cmpuint(h->dst.resource, ==, 0);
	g_assert_cmpuint(h->src.resource, ==, 0);
	switch (h->type) {
	case GLOW_PKT_E2E_INIT:
		g_assert_cmpuint(h->payload_len, ==, GLOW_E2E_INIT_LEN);
		break;
	case GLOW_PKT_E2E_RESP:
		g_assert_cmpuint(h->payload_len, ==, GLOW_E2E_RESP_LEN);
		break;
	case GLOW_PKT_SEALED:
		/* a keepalive, or a whole inner packet */
		g_assert_true(h->payload_len == KEEPALIVE_LEN || h->payload_len >= GLOW_E2E_OVERHEAD);
		break;
	default:
		g_error("node %d sent an outer packet of type %u", n->index, h->type);
	}
}

static GlowErrorCode on_send(gpointer user, const GlowPacketHeader *h, const uint8_t *payload)
{
	Node *n = user;
	check_outer(n, h);
	g_queue_push_tail(&n->net->wire, pkt_new(n->index, n->net->now, h, payload));
	g_ptr_array_add(n->net->log, pkt_new(n->index, n->net->now, h, payload));
	return GLOW_OK;
}

static void on_deliver(gpointer user, const GlowPacketHeader *h, const uint8_t *payload)
{
	Node *n = user;
	g_ptr_array_add(n->delivered, pkt_new(n->index, n->net->now, h, payload));
}

static void on_dropped(gpointer user, const GlowPacketHeader *h, GlowErrorCode code, const char *why)
{
	Node *n = user;
	Drop d = { h->call_id, code, n->net->now };
	g_assert_nonnull(why);
	g_array_append_val(n->drops, d);
}

static const GlowE2eOutput out = { on_send, on_deliver, on_dropped };

static void node_start(Net *net, int i)
{
	Node *n = &net->node[i];
	uint8_t seed[32];
	memset(seed, 0x11 * (i + 1), sizeof seed);
	n->net = net;
	n->index = i;
	n->id = glow_identity_from_seed(seed);
	n->e = glow_e2e_new(n->id, &net->cfg, &out, n);
	n->delivered = g_ptr_array_new_with_free_func(pkt_free);
	n->drops = g_array_new(FALSE, FALSE, sizeof(Drop));
}

static void node_stop(Node *n)
{
	glow_e2e_free(n->e);
	glow_identity_free(n->id);
	g_ptr_array_free(n->delivered, TRUE);
	g_array_free(n->drops, TRUE);
	memset(n, 0, sizeof *n);
}

static void net_init(Net *net, int n, const GlowE2eConfig *cfg)
{
	memset(net, 0, sizeof *net);
	if (cfg)
		net->cfg = *cfg;
	else
		glow_e2e_config_default(&net->cfg);
	net->n = n;
	net->now = T0;
	g_queue_init(&net->wire);
	net->log = g_ptr_array_new_with_free_func(pkt_free);
	net->rand = g_rand_new_with_seed(1);
	for (int i = 0; i < n; i++)
		node_start(net, i);
}

static void net_free(Net *net)
{
	for (int i = 0; i < net->n; i++)
		node_stop(&net->node[i]);
	g_queue_clear_full(&net->wire, pkt_free);
	g_ptr_array_free(net->log, TRUE);
	g_rand_free(net->rand);
}

static Node *net_node(Net *net, const GlowNodeId *id)
{
	for (int i = 0; i < net->n; i++)
		if (net->node[i].e && glow_node_id_equal(&net->node[i].id->id, id))
			return &net->node[i];
	return NULL;
}

static gboolean deliver_to(Node *to, const Pkt *p)
{
	return glow_e2e_receive(to->e, &p->h, p->payload, to->net->now);
}

/* To the node the packet is addressed to; FALSE when it refuses it (or is gone). */
static gboolean net_deliver(Net *net, const Pkt *p)
{
	Node *to = net_node(net, &p->h.dst.node);
	return to && deliver_to(to, p);
}

/* Takes the next packet off the wire (in the net's order), without delivering it. */
static Pkt *net_take(Net *net)
{
	guint n = g_queue_get_length(&net->wire);
	if (n == 0)
		return NULL;
	switch (net->order) {
	case ORDER_LIFO:
		return g_queue_pop_tail(&net->wire);
	case ORDER_RANDOM:
		return g_queue_pop_nth(&net->wire, (guint)g_rand_int_range(net->rand, 0, (gint32)n));
	default:
		return g_queue_pop_head(&net->wire);
	}
}

/* Moves one packet through the relay to its destination. */
static gboolean net_step(Net *net)
{
	Pkt *p = net_take(net);
	if (!p)
		return FALSE;
	guint copies = net->relay ? net->relay(net, p) : 1;
	for (guint i = 0; i < copies; i++)
		net_deliver(net, p);
	pkt_free(p);
	return TRUE;
}

static void net_pump(Net *net)
{
	for (int guard = 0; net_step(net); guard++)
		g_assert_cmpint(guard, <, 100000);
}

static void net_discard(Net *net)
{
	g_queue_clear_full(&net->wire, pkt_free);
	g_queue_init(&net->wire);
}

/* Advances time to `until` in steps, ticking every node and draining the wire. */
static void net_advance(Net *net, guint64 until, guint64 step)
{
	while (net->now < until) {
		net->now = MIN(net->now + step, until);
		for (int i = 0; i < net->n; i++)
			if (net->node[i].e)
				glow_e2e_tick(net->node[i].e, net->now);
		net_pump(net);
	}
}

/* The n-th (0 = first, -1 = last) logged outer packet from node `from` of this type. */
static const Pkt *logged(Net *net, const Node *from, guint8 type, int nth)
{
	GPtrArray *hits = g_ptr_array_new();
	const Pkt *r = NULL;
	for (guint i = 0; i < net->log->len; i++) {
		const Pkt *p = net->log->pdata[i];
		if (p->from == from->index && p->h.type == type)
			g_ptr_array_add(hits, (gpointer)p);
	}
	if (nth < 0)
		nth += (int)hits->len;
	if (nth >= 0 && (guint)nth < hits->len)
		r = hits->pdata[nth];
	g_ptr_array_free(hits, TRUE);
	g_assert_nonnull(r);
	return r;
}

static guint count_logged(Net *net, const Node *from, guint8 type)
{
	guint n = 0;
	for (guint i = 0; i < net->log->len; i++) {
		const Pkt *p = net->log->pdata[i];
		n += p->from == from->index && p->h.type == type;
	}
	return n;
}

static guint64 rejections(const GlowE2e *e)
{
	const GlowE2eStats *s = glow_e2e_stats(e);
	return s->rejected_malformed + s->rejected_auth + s->rejected_replay + s->rejected_unknown_session +
	       s->rejected_rate + s->rejected_inner;
}

/* --- inner packets -------------------------------------------------------------------- */

static GlowPacketHeader inner_header(const Node *from, const Node *to, guint8 type, guint64 call_id, guint32 len)
{
	GlowPacketHeader h = { 0 };
	h.version = GLOW_PACKET_VERSION;
	h.type = type;
	h.flags = type == GLOW_PKT_CALL ? GLOW_PKT_F_STREAM : 0;
	h.hop_limit = 9;
	h.payload_len = len;
	h.call_id = call_id;
	h.interface_id = glow_firefly_name_id("glow.Test");
	h.method_id = glow_firefly_method_id("glow.Test", "Echo");
	h.deadline_ms = 1234;
	h.aux = 7;
	h.dst.node = to->id->id;
	h.dst.resource = 0xD5D5D5D5D5D5D5D5ull;
	h.src.node = from->id->id;
	h.src.resource = 0x5C5C5C5C5C5C5C5Cull;
	return h;
}

/* Payload bytes that depend on call_id, so a delivered packet can be checked. */
static guint8 *make_payload(guint64 call_id, guint32 len)
{
	guint8 *p = g_malloc(len ? len : 1);
	for (guint32 i = 0; i < len; i++)
		p[i] = (guint8)(call_id * 31 + i * 7);
	return p;
}

static GlowErrorCode send_inner(Node *from, Node *to, guint8 type, guint64 call_id, guint32 len)
{
	GlowPacketHeader h = inner_header(from, to, type, call_id, len);
	g_autofree guint8 *pl = make_payload(call_id, len);
	return glow_e2e_send(from->e, &h, pl, from->net->now);
}

/* Delivered exactly as sent by send_inner, with this hop limit. */
static void assert_inner(const Pkt *got, const Node *from, const Node *to, guint8 type, guint64 call_id, guint32 len,
                         guint8 hop_limit)
{
	GlowPacketHeader want = inner_header(from, to, type, call_id, len);
	guint8 a[GLOW_PACKET_HEADER_LEN], b[GLOW_PACKET_HEADER_LEN];
	g_autofree guint8 *pl = make_payload(call_id, len);
	want.hop_limit = hop_limit;
	glow_packet_encode_header(&got->h, a);
	glow_packet_encode_header(&want, b);
	g_assert_cmpmem(a, sizeof a, b, sizeof b);
	g_assert_cmpmem(got->payload, got->h.payload_len, pl, len);
}

static guint count_delivered(const Node *n, guint64 call_id)
{
	guint c = 0;
	for (guint i = 0; i < n->delivered->len; i++)
		c += ((const Pkt *)n->delivered->pdata[i])->h.call_id == call_id;
	return c;
}

/* A session from a to b (a initiates), used once; delivered lists emptied. */
static void net_connect(Net *net, Node *a, Node *b)
{
	g_assert_cmpint(send_inner(a, b, GLOW_PKT_MESSAGE, 0xC0, 10), ==, GLOW_OK);
	net_pump(net);
	g_assert_cmpuint(b->delivered->len, ==, 1);
	g_assert_true(glow_e2e_has_session(a->e, &b->id->id));
	g_assert_true(glow_e2e_has_session(b->e, &a->id->id));
	g_ptr_array_set_size(b->delivered, 0);
}

/* --- (1) a queued CALL, the handshake, and the answer ---------------------------------- */

static guint relay_hops(Net *net, Pkt *p)
{
	/* three relays on the way, each decrementing the hop limit */
	(void)net;
	p->h.hop_limit -= 3;
	return 1;
}

static void test_call_and_answer(void)
{
	Net net;
	net_init(&net, 2, NULL);
	Node *a = &net.node[0], *b = &net.node[1];

	g_assert_false(glow_e2e_has_session(a->e, &b->id->id));
	g_assert_cmpint(send_inner(a, b, GLOW_PKT_CALL, 0x1122334455667788ull, 300), ==, GLOW_OK);
	/* Queued: only message 1 is on the wire. */
	g_assert_cmpuint(g_queue_get_length(&net.wire), ==, 1);
	g_assert_cmpuint(((Pkt *)g_queue_peek_head(&net.wire))->h.type, ==, GLOW_PKT_E2E_INIT);
	g_assert_cmpuint(glow_e2e_stats(a->e)->sealed, ==, 0);
	g_assert_cmpuint(glow_e2e_stats(a->e)->handshakes_started, ==, 1);

	net.relay = relay_hops;
	net_pump(&net);
	g_assert_cmpuint(b->delivered->len, ==, 1);
	assert_inner(b->delivered->pdata[0], a, b, GLOW_PKT_CALL, 0x1122334455667788ull, 300, 9 - 3);
	g_assert_cmpuint(glow_e2e_stats(a->e)->sealed, ==, 1);
	g_assert_cmpuint(glow_e2e_stats(a->e)->handshakes_done, ==, 1);
	g_assert_cmpuint(glow_e2e_stats(b->e)->handshakes_answered, ==, 1);
	g_assert_cmpuint(glow_e2e_stats(b->e)->opened, ==, 1);
	g_assert_cmpuint(glow_e2e_stats(b->e)->handshakes_started, ==, 0);
	/* The queued CALL confirmed the session: no keepalive was needed. */
	g_assert_cmpuint(count_logged(&net, a, GLOW_PKT_SEALED), ==, 1);
	g_assert_cmpuint(logged(&net, a, GLOW_PKT_SEALED, 0)->h.payload_len, ==, 300 + GLOW_E2E_OVERHEAD);

	/* Each side's index travels encrypted in its handshake message; only
	 * message 2 names A's in clear (to find A's handshake). */
	const Pkt *init = logged(&net, a, GLOW_PKT_E2E_INIT, 0), *resp = logged(&net, b, GLOW_PKT_E2E_RESP, 0);
	const guint32 a_index = get_u32(resp->payload);
	const guint32 b_index = get_u32(logged(&net, a, GLOW_PKT_SEALED, 0)->payload);
	g_assert_false(contains(init->payload, init->h.payload_len, resp->payload, 4));
	g_assert_false(contains(resp->payload + 4, resp->h.payload_len - 4, logged(&net, a, GLOW_PKT_SEALED, 0)->payload, 4));
	g_assert_cmpuint(get_u64(logged(&net, a, GLOW_PKT_SEALED, 0)->payload + 4), ==, 0);

	/* B answers at once on the same session: no handshake of its own. */
	g_assert_cmpint(send_inner(b, a, GLOW_PKT_REPLY, 0x1122334455667788ull, 40), ==, GLOW_OK);
	g_assert_cmpuint(g_queue_get_length(&net.wire), ==, 1);
	const Pkt *reply = logged(&net, b, GLOW_PKT_SEALED, -1);
	g_assert_cmpuint(get_u32(reply->payload), ==, a_index);
	g_assert_cmpuint(get_u64(reply->payload + 4), ==, 0);
	net.relay = NULL;
	net_pump(&net);
	g_assert_cmpuint(a->delivered->len, ==, 1);
	assert_inner(a->delivered->pdata[0], b, a, GLOW_PKT_REPLY, 0x1122334455667788ull, 40, 9);
	g_assert_cmpuint(glow_e2e_stats(b->e)->handshakes_started, ==, 0);
	/* A's next packet: the same session, the next counter. */
	g_assert_cmpint(send_inner(a, b, GLOW_PKT_CALL, 2, 1), ==, GLOW_OK);
	g_assert_cmpuint(get_u32(logged(&net, a, GLOW_PKT_SEALED, -1)->payload), ==, b_index);
	g_assert_cmpuint(get_u64(logged(&net, a, GLOW_PKT_SEALED, -1)->payload + 4), ==, 1);
	net_pump(&net);
	g_assert_cmpuint(count_delivered(b, 2), ==, 1);
	g_assert_cmpuint(glow_e2e_session_count(a->e), ==, 1);
	g_assert_cmpuint(glow_e2e_session_count(b->e), ==, 1);
	g_assert_cmpuint(rejections(a->e) + rejections(b->e), ==, 0);
	net_free(&net);
}

/* --- (2) the outer packet shows nothing of the inner one ------------------------------- */

static void test_outer_hides_inner(void)
{
	static const guint8 marker[] = "GLOW-E2E-MARKER!"; /* 16 bytes + NUL */
	Net net;
	net_init(&net, 2, NULL);
	Node *a = &net.node[0], *b = &net.node[1];
	net_connect(&net, a, b);

	GlowPacketHeader h = inner_header(a, b, GLOW_PKT_CALL, 0x0123456789ABCDEFull, 1024);
	guint8 payload[1024], ih[GLOW_PACKET_HEADER_LEN];
	for (gsize i = 0; i < sizeof payload; i++)
		payload[i] = marker[i % 16];
	glow_packet_encode_header(&h, ih);
	g_assert_cmpint(glow_e2e_send(a->e, &h, payload, net.now), ==, GLOW_OK);

	Pkt *o = g_queue_peek_head(&net.wire);
	g_assert_cmpuint(g_queue_get_length(&net.wire), ==, 1);
	g_assert_cmpuint(o->h.type, ==, GLOW_PKT_SEALED);
	g_assert_cmpuint(o->h.version, ==, GLOW_PACKET_VERSION);
	g_assert_cmpuint(o->h.hop_limit, ==, h.hop_limit);
	g_assert_cmpuint(o->h.payload_len, ==, sizeof payload + GLOW_E2E_OVERHEAD);
	g_assert_true(glow_node_id_equal(&o->h.src.node, &a->id->id));
	g_assert_true(glow_node_id_equal(&o->h.dst.node, &b->id->id));
	/* (check_outer already asserted call_id, interface/method ids, deadline,
	 * aux, flags and both resources are 0.) */
	g_assert_cmpuint(o->h.call_id, ==, 0);
	g_assert_cmpuint(o->h.interface_id, ==, 0);
	g_assert_cmpuint(o->h.method_id, ==, 0);
	g_assert_cmpuint(o->h.src.resource, ==, 0);
	g_assert_cmpuint(o->h.dst.resource, ==, 0);

	/* The search does find the marker in plaintext... */
	g_assert_true(contains(payload, sizeof payload, marker, 16));
	/* ...but not in the outer payload, nor the inner header's call id, ids,
	 * deadline/aux (bytes 8..31) or resources. */
	g_assert_false(contains(o->payload, o->h.payload_len, marker, 8));
	g_assert_false(contains(o->payload, o->h.payload_len, ih + 8, 8));
	g_assert_false(contains(o->payload, o->h.payload_len, ih + 16, 16));
	g_assert_false(contains(o->payload, o->h.payload_len, ih + 64, 8));
	g_assert_false(contains(o->payload, o->h.payload_len, ih + 104, 8));

	net_pump(&net);
	g_assert_cmpuint(b->delivered->len, ==, 1);
	const Pkt *got = b->delivered->pdata[0];
	g_assert_cmpmem(got->payload, got->h.payload_len, payload, sizeof payload);
	net_free(&net);
}

/* --- (3) tampering ------------------------------------------------------------------------- */

typedef enum {
	M_SRC, M_DST, M_LEN_SHORT, M_LEN_LONG, M_TYPE_INIT, M_TYPE_RESP, M_TYPE_CALL, M_FLAGS, M_FLAGS_HIGH,
	M_VERSION, M_CALL_ID, M_INTERFACE, M_METHOD, M_DEADLINE, M_AUX, M_DST_RESOURCE, M_SRC_RESOURCE, M_COUNT
} Mutation;

static void mutate(Pkt *t, Mutation m, const Node *other)
{
	switch (m) {
	case M_SRC: t->h.src.node = other->id->id; break;
	case M_DST: t->h.dst.node = other->id->id; break;
	case M_LEN_SHORT: t->h.payload_len--; break;
	case M_LEN_LONG:
		t->payload = g_realloc(t->payload, t->h.payload_len + 1);
		t->payload[t->h.payload_len++] = 0;
		break;
	case M_TYPE_INIT: t->h.type = GLOW_PKT_E2E_INIT; break;
	case M_TYPE_RESP: t->h.type = GLOW_PKT_E2E_RESP; break;
	case M_TYPE_CALL: t->h.type = GLOW_PKT_CALL; break;
	case M_FLAGS: t->h.flags ^= 0x01; break;
	case M_FLAGS_HIGH: t->h.flags ^= 0x80; break;
	case M_VERSION: t->h.version++; break;
	case M_CALL_ID: t->h.call_id = 1; break;
	case M_INTERFACE: t->h.interface_id = 1; break;
	case M_METHOD: t->h.method_id = 1; break;
	case M_DEADLINE: t->h.deadline_ms = 1; break;
	case M_AUX: t->h.aux = 1; break;
	case M_DST_RESOURCE: t->h.dst.resource = 1; break;
	case M_SRC_RESOURCE: t->h.src.resource = 1; break;
	case M_COUNT: g_assert_not_reached();
	}
}

static void test_tamper(void)
{
	Net net;
	net_init(&net, 3, NULL);
	Node *a = &net.node[0], *b = &net.node[1], *c = &net.node[2];
	net_connect(&net, a, b);

	g_assert_cmpint(send_inner(a, b, GLOW_PKT_CALL, 7, 64), ==, GLOW_OK);
	Pkt *orig = net_take(&net); /* SEALED, counter 1 */
	g_assert_cmpuint(orig->h.type, ==, GLOW_PKT_SEALED);
	g_assert_cmpuint(get_u64(orig->payload + 4), ==, 1);
	const guint32 len = orig->h.payload_len;
	const GlowE2eStats before = *glow_e2e_stats(b->e);

	/* Every single byte of the outer payload. */
	for (guint32 i = 0; i < len; i++) {
		Pkt *t = pkt_copy(orig);
		guint64 r = rejections(b->e);
		t->payload[i] ^= 0x01;
		g_assert_false(deliver_to(b, t));
		g_assert_cmpuint(rejections(b->e), ==, r + 1);
		pkt_free(t);
	}
	const GlowE2eStats *s = glow_e2e_stats(b->e);
	/* Bytes 0-3: the receiver index names no session. Bytes 4-5: the counter
	 * becomes >= 2^48; byte 11: it becomes 0, already seen; both refused
	 * before decrypting. The rest fail authentication. */
	g_assert_cmpuint(s->rejected_unknown_session - before.rejected_unknown_session, ==, 4);
	g_assert_cmpuint(s->rejected_replay - before.rejected_replay, ==, 3);
	g_assert_cmpuint(s->rejected_auth - before.rejected_auth, ==, len - 7);
	g_assert_cmpuint(b->delivered->len, ==, 0);

	/* Every outer header field but hop_limit is authenticated. A wrong source
	 * does not name the session, a wrong destination or type is not even
	 * looked at, the rest fail authentication. */
	for (int m = 0; m < M_COUNT; m++) {
		Pkt *t = pkt_copy(orig);
		const GlowE2eStats was = *glow_e2e_stats(b->e);
		guint64 r = rejections(b->e);
		mutate(t, (Mutation)m, c);
		g_assert_false(deliver_to(b, t));
		g_assert_cmpuint(rejections(b->e), ==, r + 1);
		s = glow_e2e_stats(b->e);
		if (m == M_SRC)
			g_assert_cmpuint(s->rejected_unknown_session, ==, was.rejected_unknown_session + 1);
		else if (m == M_DST || m == M_TYPE_INIT || m == M_TYPE_RESP || m == M_TYPE_CALL)
			g_assert_cmpuint(s->rejected_malformed, ==, was.rejected_malformed + 1);
		else
			g_assert_cmpuint(s->rejected_auth, ==, was.rejected_auth + 1);
		if (m == M_DST) {
			/* where it now claims to go, it is not accepted either */
			g_assert_false(deliver_to(c, t));
			g_assert_cmpuint(rejections(c->e), ==, 1);
		}
		pkt_free(t);
	}
	g_assert_cmpuint(b->delivered->len, ==, 0);
	g_assert_cmpuint(c->delivered->len, ==, 0);

	/* A changed hop limit is what relays do: accepted, and reported. */
	Pkt *t = pkt_copy(orig);
	t->h.hop_limit = 1;
	g_assert_true(deliver_to(b, t));
	pkt_free(t);
	g_assert_cmpuint(b->delivered->len, ==, 1);
	assert_inner(b->delivered->pdata[0], a, b, GLOW_PKT_CALL, 7, 64, 1);
	/* ...once. */
	g_assert_false(deliver_to(b, orig));
	g_assert_cmpuint(b->delivered->len, ==, 1);
	pkt_free(orig);

	/* The session survived all that. (B started handshakes with A and C when
	 * it saw unknown indices / a wrong source; those messages die here.) */
	net_discard(&net);
	g_assert_cmpint(send_inner(a, b, GLOW_PKT_CALL, 8, 64), ==, GLOW_OK);
	net_pump(&net);
	g_assert_cmpuint(count_delivered(b, 8), ==, 1);
	net_free(&net);
}

/* --- (4) replay and the replay window ----------------------------------------------------- */

static guint relay_duplicate(Net *net, Pkt *p)
{
	(void)net;
	(void)p;
	return 2;
}

static void test_replay(void)
{
	Net net;
	net_init(&net, 2, NULL);
	Node *a = &net.node[0], *b = &net.node[1];
	Pkt *p[6];
	net_connect(&net, a, b); /* counter 0 */

	/* A relay that duplicates everything: each delivered once. */
	net.relay = relay_duplicate;
	for (guint64 i = 0; i < 3; i++)
		g_assert_cmpint(send_inner(a, b, GLOW_PKT_MESSAGE, 100 + i, 20), ==, GLOW_OK);
	net_pump(&net);
	g_assert_cmpuint(b->delivered->len, ==, 3);
	g_assert_cmpuint(glow_e2e_stats(b->e)->rejected_replay, ==, 3);
	net.relay = NULL;

	/* Counters 4..9, delivered out of order. */
	for (guint64 i = 0; i < 6; i++) {
		g_assert_cmpint(send_inner(a, b, GLOW_PKT_MESSAGE, 200 + i, 20), ==, GLOW_OK);
		p[i] = net_take(&net);
		g_assert_cmpuint(get_u64(p[i]->payload + 4), ==, 4 + i);
	}
	g_ptr_array_set_size(b->delivered, 0);
	g_assert_true(deliver_to(b, p[0]));
	g_assert_false(deliver_to(b, p[0]));
	static const int order[] = { 5, 2, 1, 4, 3 };
	for (gsize i = 0; i < G_N_ELEMENTS(order); i++)
		g_assert_true(deliver_to(b, p[order[i]]));
	g_assert_false(deliver_to(b, p[2]));
	g_assert_false(deliver_to(b, p[5]));
	g_assert_cmpuint(b->delivered->len, ==, 6);
	for (guint i = 0; i < 6; i++)
		g_assert_cmpuint(count_delivered(b, 200 + i), ==, 1);
	g_assert_cmpuint(glow_e2e_stats(b->e)->rejected_replay, ==, 3 + 3);
	for (int i = 0; i < 6; i++)
		pkt_free(p[i]);

	/* The window: counters 10..10+W. With the largest seen at 10+W, 11 is
	 * W-1 behind (accepted, not seen yet), 10 is W behind (refused). */
	const guint W = GLOW_E2E_REPLAY_WINDOW;
	Pkt **q = g_new(Pkt *, W + 1);
	for (guint i = 0; i <= W; i++) {
		g_assert_cmpint(send_inner(a, b, GLOW_PKT_MESSAGE, 1000 + i, 4), ==, GLOW_OK);
		q[i] = net_take(&net);
	}
	g_assert_cmpuint(get_u64(q[W]->payload + 4), ==, 10 + W);
	g_ptr_array_set_size(b->delivered, 0);
	g_assert_true(deliver_to(b, q[W]));
	g_assert_true(deliver_to(b, q[1]));
	g_assert_false(deliver_to(b, q[0]));
	g_assert_cmpuint(glow_e2e_stats(b->e)->rejected_replay, ==, 7);
	for (guint i = 2; i < W; i++)
		g_assert_true(deliver_to(b, q[i]));
	g_assert_cmpuint(b->delivered->len, ==, W);
	g_assert_cmpuint(count_delivered(b, 1000), ==, 0);
	for (guint i = 0; i <= W; i++)
		pkt_free(q[i]);
	g_free(q);

	/* A replayed message 1 is authentic: B answers it with a new session,
	 * but goes on sending on the old one until it hears on the new one. */
	const guint32 a_index = get_u32(logged(&net, b, GLOW_PKT_E2E_RESP, 0)->payload);
	g_assert_true(deliver_to(b, logged(&net, a, GLOW_PKT_E2E_INIT, 0)));
	g_assert_cmpuint(glow_e2e_session_count(b->e), ==, 2);
	Pkt *resp = net_take(&net);
	g_assert_cmpuint(resp->h.type, ==, GLOW_PKT_E2E_RESP);
	g_assert_false(deliver_to(a, resp)); /* A has no handshake for it */
	pkt_free(resp);
	g_assert_cmpint(send_inner(b, a, GLOW_PKT_MESSAGE, 7777, 4), ==, GLOW_OK);
	g_assert_cmpuint(get_u32(logged(&net, b, GLOW_PKT_SEALED, -1)->payload), ==, a_index);
	net_pump(&net);
	g_assert_cmpuint(count_delivered(a, 7777), ==, 1);
	net_free(&net);
}

/* --- (5) a forged message 1 ------------------------------------------------------------------- */

/* An E2E_INIT from `claimed` to `responder`, made with `maker`'s static key:
 * the real prologue and a valid Noise message carrying an index, so only the
 * static key is wrong. */
static Pkt *forge_init(const Node *claimed, const Node *maker, const Node *responder)
{
	uint8_t s_priv[32], rs[32], pro[sizeof GLOW_E2E_PROLOGUE - 1 + 64], payload[GLOW_E2E_INIT_LEN];
	const size_t n = sizeof GLOW_E2E_PROLOGUE - 1;
	GlowNoiseHandshake hs;
	GlowPacketHeader h = { 0 };

	g_assert_cmpint(crypto_sign_ed25519_sk_to_curve25519(s_priv, maker->id->sk), ==, 0);
	g_assert_cmpint(crypto_sign_ed25519_pk_to_curve25519(rs, responder->id->id.b), ==, 0);
	memcpy(pro, GLOW_E2E_PROLOGUE, n);
	memcpy(pro + n, claimed->id->id.b, 32);
	memcpy(pro + n + 32, responder->id->id.b, 32);
	GlowNoiseConfig nc = {
		.protocol_name = GLOW_E2E_NOISE_PROTOCOL,
		.initiator = TRUE,
		.prologue = pro,
		.prologue_len = sizeof pro,
		.s_priv = s_priv,
		.rs_pub = rs,
	};
	g_assert_cmpint(glow_noise_handshake_init(&hs, &nc), ==, 0);
	static const uint8_t index[4] = { 1, 2, 3, 4 };
	g_assert_cmpint(glow_noise_write_message(&hs, index, sizeof index, payload, sizeof payload), ==,
	                GLOW_E2E_INIT_LEN);
	glow_noise_handshake_clear(&hs);
	h.version = GLOW_PACKET_VERSION;
	h.type = GLOW_PKT_E2E_INIT;
	h.hop_limit = GLOW_HOP_LIMIT_DEFAULT;
	h.payload_len = GLOW_E2E_INIT_LEN;
	h.dst.node = responder->id->id;
	h.src.node = claimed->id->id;
	return pkt_new(-1, 0, &h, payload);
}

static void test_forged_init(void)
{
	Net net;
	net_init(&net, 3, NULL);
	Node *a = &net.node[0], *b = &net.node[1], *c = &net.node[2];

	/* C's own message 1 for B, relabelled as from A (wrong prologue too). */
	g_assert_cmpint(send_inner(c, b, GLOW_PKT_CALL, 1, 10), ==, GLOW_OK);
	Pkt *p = net_take(&net);
	p->h.src.node = a->id->id;
	g_assert_false(deliver_to(b, p));
	pkt_free(p);
	g_assert_cmpuint(glow_e2e_stats(b->e)->rejected_auth, ==, 1);

	/* A correct message 1 for the prologue "A to B", but with C's static key. */
	p = forge_init(a, c, b);
	g_assert_false(deliver_to(b, p));
	pkt_free(p);
	g_assert_cmpuint(glow_e2e_stats(b->e)->rejected_auth, ==, 2);
	g_assert_cmpuint(glow_e2e_stats(b->e)->handshakes_answered, ==, 0);
	g_assert_cmpuint(glow_e2e_session_count(b->e), ==, 0);
	g_assert_true(g_queue_is_empty(&net.wire)); /* no message 2 */
	g_assert_cmpuint(count_logged(&net, b, GLOW_PKT_E2E_RESP), ==, 0);

	/* The same construction with A's key is accepted: the forgery failed on
	 * the key alone. */
	p = forge_init(a, a, b);
	g_assert_true(deliver_to(b, p));
	pkt_free(p);
	g_assert_cmpuint(glow_e2e_stats(b->e)->handshakes_answered, ==, 1);
	g_assert_cmpuint(glow_e2e_stats(b->e)->rejected_auth, ==, 2);
	g_assert_cmpuint(count_logged(&net, b, GLOW_PKT_E2E_RESP), ==, 1);
	net_discard(&net);

	/* Inside a real session A cannot speak for C, nor send non-RPC types. */
	net_connect(&net, a, b);
	GlowPacketHeader lie = inner_header(a, b, GLOW_PKT_CALL, 5, 8);
	lie.src.node = c->id->id;
	g_assert_cmpint(glow_e2e_send(a->e, &lie, (const guint8 *)"12345678", net.now), ==, GLOW_OK);
	lie = inner_header(a, b, GLOW_PKT_ROUTING, 6, 8);
	g_assert_cmpint(glow_e2e_send(a->e, &lie, (const guint8 *)"12345678", net.now), ==, GLOW_OK);
	net_pump(&net);
	g_assert_cmpuint(glow_e2e_stats(b->e)->rejected_inner, ==, 2);
	g_assert_cmpuint(b->delivered->len, ==, 0);
	net_free(&net);
}

/* --- (6) the responder restarts ----------------------------------------------------------------- */

typedef struct {
	Node *a, *b;
	gboolean a_confirmed; /* B's keepalive on the new session has reached A */
} RestartWatch;

static guint relay_watch_keepalive(Net *net, Pkt *p)
{
	RestartWatch *w = net->relay_data;
	if (p->from == w->b->index && p->h.type == GLOW_PKT_SEALED && p->h.payload_len == KEEPALIVE_LEN)
		w->a_confirmed = TRUE; /* delivered right after this returns */
	return 1;
}

static void test_restart(void)
{
	Net net;
	net_init(&net, 2, NULL);
	Node *a = &net.node[0], *b = &net.node[1];
	RestartWatch w = { a, b, FALSE };
	enum { N = 12 };
	gboolean before_confirmed[N];

	net_connect(&net, a, b);
	const guint32 old_index = get_u32(logged(&net, a, GLOW_PKT_SEALED, 0)->payload);
	node_stop(b);
	node_start(&net, 1); /* same seed, same identity, no state */
	net.relay = relay_watch_keepalive;
	net.relay_data = &w;

	/* A keeps sending, one packet per packet moved on the wire. */
	for (int i = 0; i < N; i++) {
		before_confirmed[i] = !w.a_confirmed;
		g_assert_cmpint(send_inner(a, b, GLOW_PKT_MESSAGE, (guint64)i, 16), ==, GLOW_OK);
		net_step(&net);
	}
	net_pump(&net);
	g_assert_true(w.a_confirmed);

	guint lost = 0, sent_before = 0;
	for (int i = 0; i < N; i++) {
		guint got = count_delivered(b, (guint64)i);
		g_assert_cmpuint(got, <=, 1);
		lost += got == 0;
		sent_before += before_confirmed[i];
		/* lost exactly when sent before A knew of the new session */
		g_assert_cmpuint(got, ==, before_confirmed[i] ? 0 : 1);
	}
	g_test_message("restart: %u of %d packets lost (all sent before A saw the new session confirmed)", lost, N);
	g_assert_cmpuint(lost, ==, sent_before);
	g_assert_cmpuint(lost, >=, 1);
	g_assert_cmpuint(lost, <, N);
	/* The lost ones went on the old session; the first one made new B initiate (once). */
	const GlowE2eStats *s = glow_e2e_stats(b->e);
	g_assert_cmpuint(s->rejected_unknown_session, ==, lost);
	g_assert_cmpuint(s->handshakes_started, ==, 1);
	g_assert_cmpuint(s->handshakes_done, ==, 1);
	g_assert_cmpuint(get_u32(logged(&net, a, GLOW_PKT_SEALED, 1)->payload), ==, old_index);
	g_assert_cmpuint(glow_e2e_stats(a->e)->handshakes_started, ==, 1); /* A did nothing special */
	g_assert_cmpuint(glow_e2e_stats(a->e)->handshakes_answered, ==, 1);

	/* And back: B to A works too. */
	g_assert_cmpint(send_inner(b, a, GLOW_PKT_MESSAGE, 99, 16), ==, GLOW_OK);
	net_pump(&net);
	g_assert_cmpuint(count_delivered(a, 99), ==, 1);
	net_free(&net);
}

/* --- (7) handshake timeout ------------------------------------------------------------------------ */

static guint relay_drop_to(Net *net, Pkt *p)
{
	Node *victim = net->relay_data;
	return glow_node_id_equal(&p->h.dst.node, &victim->id->id) ? 0 : 1;
}

static void test_handshake_timeout(void)
{
	GlowE2eConfig cfg;
	glow_e2e_config_default(&cfg);
	cfg.handshake_ms = 3000;
	cfg.retry_ms = 700;
	Net net;
	net_init(&net, 2, &cfg);
	Node *a = &net.node[0], *b = &net.node[1];
	net.relay = relay_drop_to;
	net.relay_data = b;

	for (guint64 i = 1; i <= 3; i++)
		g_assert_cmpint(send_inner(a, b, GLOW_PKT_CALL, i, 100), ==, GLOW_OK);
	net_advance(&net, T0 + 2900, 100);
	g_assert_cmpuint(a->drops->len, ==, 0);
	net_advance(&net, T0 + 6000, 100);

	/* Message 1 at 0, 700, 1400, 2100, 2800 ms, always the same bytes; then nothing. */
	g_assert_cmpuint(count_logged(&net, a, GLOW_PKT_E2E_INIT), ==, 5);
	const Pkt *first = logged(&net, a, GLOW_PKT_E2E_INIT, 0);
	for (int i = 0; i < 5; i++) {
		const Pkt *p = logged(&net, a, GLOW_PKT_E2E_INIT, i);
		g_assert_cmpuint(p->at, ==, T0 + 700 * (guint64)i);
		g_assert_cmpmem(p->payload, p->h.payload_len, first->payload, first->h.payload_len);
	}
	/* The queued packets, in order, at 3000 ms, as UNREACHABLE. */
	g_assert_cmpuint(a->drops->len, ==, 3);
	for (guint i = 0; i < 3; i++) {
		const Drop *d = &g_array_index(a->drops, Drop, i);
		g_assert_cmpuint(d->call_id, ==, i + 1);
		g_assert_cmpint(d->code, ==, GLOW_ERR_UNREACHABLE);
		g_assert_cmpuint(d->at, ==, T0 + 3000);
	}
	g_assert_cmpuint(glow_e2e_stats(a->e)->handshakes_started, ==, 1);
	g_assert_cmpuint(glow_e2e_stats(a->e)->handshakes_done, ==, 0);
	g_assert_cmpuint(glow_e2e_stats(a->e)->sealed, ==, 0);
	g_assert_false(glow_e2e_has_session(a->e, &b->id->id));
	g_assert_cmpuint(b->delivered->len, ==, 0);

	/* Once B is reachable, the next packet makes a new handshake and arrives. */
	net.relay = NULL;
	g_assert_cmpint(send_inner(a, b, GLOW_PKT_CALL, 4, 100), ==, GLOW_OK);
	net_pump(&net);
	g_assert_cmpuint(glow_e2e_stats(a->e)->handshakes_started, ==, 2);
	g_assert_cmpuint(b->delivered->len, ==, 1);
	assert_inner(b->delivered->pdata[0], a, b, GLOW_PKT_CALL, 4, 100, 9);
	net_free(&net);
}

/* --- (8) the queue bound ---------------------------------------------------------------------------- */

static void test_queue_bound(void)
{
	Net net;
	net_init(&net, 3, NULL);
	Node *a = &net.node[0], *b = &net.node[1], *c = &net.node[2];
	const guint32 big = 64 * 1024, cost = GLOW_PACKET_HEADER_LEN + big;
	const guint fit = GLOW_E2E_QUEUE_PER_PEER / cost;
	const guint32 rest = GLOW_E2E_QUEUE_PER_PEER - fit * cost; /* room left after `fit` big ones */
	guint64 id = 0;

	g_assert_cmpuint(rest, >, GLOW_PACKET_HEADER_LEN);
	for (guint i = 0; i < fit; i++)
		g_assert_cmpint(send_inner(a, b, GLOW_PKT_MESSAGE, id++, big), ==, GLOW_OK);
	/* Exactly full... */
	g_assert_cmpint(send_inner(a, b, GLOW_PKT_MESSAGE, id++, rest - GLOW_PACKET_HEADER_LEN), ==, GLOW_OK);
	/* ...then not even an empty packet fits. */
	g_assert_cmpint(send_inner(a, b, GLOW_PKT_MESSAGE, 9999, 0), ==, GLOW_ERR_TOO_FAST);
	g_assert_cmpint(send_inner(a, b, GLOW_PKT_MESSAGE, 9999, big), ==, GLOW_ERR_TOO_FAST);
	g_assert_cmpuint(glow_e2e_stats(a->e)->queue_drops, ==, 2);
	/* The bound is per destination. */
	g_assert_cmpint(send_inner(a, c, GLOW_PKT_MESSAGE, 5555, big), ==, GLOW_OK);

	net_pump(&net);
	g_assert_cmpuint(b->delivered->len, ==, fit + 1);
	for (guint i = 0; i < fit + 1; i++) {
		const Pkt *p = b->delivered->pdata[i];
		g_assert_cmpuint(p->h.call_id, ==, i); /* in order */
		assert_inner(p, a, b, GLOW_PKT_MESSAGE, i, i < fit ? big : rest - GLOW_PACKET_HEADER_LEN, 9);
	}
	g_assert_cmpuint(count_delivered(b, 9999), ==, 0);
	g_assert_cmpuint(count_delivered(c, 5555), ==, 1);
	g_assert_cmpuint(a->drops->len, ==, 0);
	/* With a session nothing is queued: more than the bound goes straight out. */
	for (guint i = 0; i < fit + 2; i++)
		g_assert_cmpint(send_inner(a, b, GLOW_PKT_MESSAGE, 20000 + i, big), ==, GLOW_OK);
	net_pump(&net);
	g_assert_cmpuint(b->delivered->len, ==, 2 * fit + 3);
	net_free(&net);
}

/* --- (9) the rate limit on message 1 --------------------------------------------------------------- */

static void test_rate_limit(void)
{
	Net net;
	net_init(&net, 3, NULL);
	Node *a = &net.node[0], *b = &net.node[1], *c = &net.node[2];
	const guint limit = GLOW_E2E_HANDSHAKES_PER_SEC;

	/* Forgeries claiming A (made by C) are refused as such, and do not use
	 * up A's allowance: it is counted only once a message is authentic. */
	for (guint i = 0; i < 3 * limit; i++) {
		Pkt *f = forge_init(a, c, b);
		g_assert_false(deliver_to(b, f));
		pkt_free(f);
	}
	g_assert_cmpuint(glow_e2e_stats(b->e)->rejected_auth, ==, 3 * limit);
	g_assert_cmpuint(glow_e2e_stats(b->e)->rejected_rate, ==, 0);

	/* A's real message 1, repeated (by A's retries, or by a relay) 3 * limit
	 * times within a second, to a B that did not know A before. */
	g_assert_cmpint(send_inner(a, b, GLOW_PKT_MESSAGE, 1, 10), ==, GLOW_OK);
	Pkt *init = net_take(&net);
	g_assert_cmpuint(init->h.type, ==, GLOW_PKT_E2E_INIT);
	guint ok = 0;
	for (guint i = 0; i < 3 * limit; i++) {
		net.now += 10;
		ok += deliver_to(b, init);
	}
	g_assert_cmpuint(ok, ==, limit);
	g_assert_cmpuint(glow_e2e_stats(b->e)->handshakes_answered, ==, limit);
	g_assert_cmpuint(glow_e2e_stats(b->e)->rejected_rate, ==, 2 * limit);
	g_assert_cmpuint(count_logged(&net, b, GLOW_PKT_E2E_RESP), ==, limit);
	g_assert_cmpuint(glow_e2e_session_count(b->e), <=, GLOW_E2E_SESSIONS_PER_PEER);

	/* The limit is per initiator: C is answered meanwhile. */
	net_discard(&net); /* B's messages 2 */
	g_assert_cmpint(send_inner(c, b, GLOW_PKT_MESSAGE, 2, 10), ==, GLOW_OK);
	Pkt *c_init = net_take(&net);
	g_assert_true(deliver_to(b, c_init));
	pkt_free(c_init);

	/* A second after the first, A is answered again. */
	net.now += 1000;
	g_assert_true(deliver_to(b, init));
	g_assert_cmpuint(glow_e2e_stats(b->e)->rejected_rate, ==, 2 * limit);
	g_assert_cmpuint(glow_e2e_stats(b->e)->handshakes_answered, ==, limit + 2);
	pkt_free(init);
	net_free(&net);
}

/* --- (10) rekeying ------------------------------------------------------------------------------------ */

static void test_rekey(void)
{
	GlowE2eConfig cfg;
	glow_e2e_config_default(&cfg);
	cfg.rekey_ms = 60000;
	cfg.expire_ms = 90000;
	Net net;
	net_init(&net, 2, &cfg);
	Node *a = &net.node[0], *b = &net.node[1];

	net_connect(&net, a, b); /* at T0 */
	const guint32 old_b = get_u32(logged(&net, a, GLOW_PKT_SEALED, 0)->payload);
	const guint32 old_a = get_u32(logged(&net, b, GLOW_PKT_E2E_RESP, 0)->payload);

	/* Just before rekey_ms: no new handshake. */
	net_advance(&net, T0 + cfg.rekey_ms - 1, 1000);
	g_assert_cmpint(send_inner(a, b, GLOW_PKT_MESSAGE, 1, 10), ==, GLOW_OK);
	net_pump(&net);
	g_assert_cmpuint(glow_e2e_stats(a->e)->handshakes_started, ==, 1);

	/* At rekey_ms: sending starts a handshake, and still goes on the old session. */
	net_advance(&net, T0 + cfg.rekey_ms, 1);
	g_assert_cmpint(send_inner(a, b, GLOW_PKT_MESSAGE, 2, 10), ==, GLOW_OK);
	g_assert_cmpuint(glow_e2e_stats(a->e)->handshakes_started, ==, 2);
	g_assert_cmpuint(g_queue_get_length(&net.wire), ==, 2);
	g_assert_cmpuint(get_u32(logged(&net, a, GLOW_PKT_SEALED, -1)->payload), ==, old_b);
	g_assert_true(net_step(&net)); /* message 1 reaches B: B has an unconfirmed second session */
	g_assert_cmpuint(glow_e2e_session_count(b->e), ==, 2);
	g_assert_true(net_step(&net)); /* the old session still delivers */
	g_assert_cmpuint(count_delivered(b, 2), ==, 1);
	/* A packet on the old session (message 2 has not reached A), held back
	 * until after the switch; it starts no second handshake. */
	g_assert_cmpint(send_inner(a, b, GLOW_PKT_MESSAGE, 4, 10), ==, GLOW_OK);
	g_assert_cmpuint(glow_e2e_stats(a->e)->handshakes_started, ==, 2);
	Pkt *late = g_queue_pop_tail(&net.wire);
	g_assert_cmpuint(get_u32(late->payload), ==, old_b);
	net_pump(&net); /* message 2 to A, A's keepalive to B */
	g_assert_cmpuint(count_logged(&net, a, GLOW_PKT_SEALED), ==, 5); /* 0, 1, 2, 4, keepalive */
	g_assert_cmpuint(logged(&net, a, GLOW_PKT_SEALED, -1)->h.payload_len, ==, KEEPALIVE_LEN);

	/* Now both use the new session; B did not need a handshake of its own. */
	const guint32 new_b = get_u32(logged(&net, a, GLOW_PKT_SEALED, -1)->payload); /* the keepalive's */
	const guint32 new_a = get_u32(logged(&net, b, GLOW_PKT_E2E_RESP, 1)->payload);
	g_assert_cmpuint(new_b, !=, old_b);
	g_assert_cmpuint(new_a, !=, old_a);
	g_assert_cmpint(send_inner(a, b, GLOW_PKT_MESSAGE, 5, 10), ==, GLOW_OK);
	g_assert_cmpuint(get_u32(logged(&net, a, GLOW_PKT_SEALED, -1)->payload), ==, new_b);
	g_assert_cmpuint(get_u64(logged(&net, a, GLOW_PKT_SEALED, -1)->payload + 4), ==, 1); /* after the keepalive */
	g_assert_cmpint(send_inner(b, a, GLOW_PKT_MESSAGE, 6, 10), ==, GLOW_OK);
	g_assert_cmpuint(get_u32(logged(&net, b, GLOW_PKT_SEALED, -1)->payload), ==, new_a);
	net_pump(&net);
	g_assert_cmpuint(count_delivered(b, 5), ==, 1);
	g_assert_cmpuint(count_delivered(a, 6), ==, 1);
	/* The late one on the old session still counts. */
	g_assert_true(deliver_to(b, late));
	g_assert_cmpuint(count_delivered(b, 4), ==, 1);
	g_assert_cmpuint(glow_e2e_session_count(a->e), ==, 2);
	g_assert_cmpuint(glow_e2e_session_count(b->e), ==, 2);
	g_assert_cmpuint(glow_e2e_stats(a->e)->handshakes_started, ==, 2);
	g_assert_cmpuint(glow_e2e_stats(b->e)->handshakes_started, ==, 0);

	/* At expire_ms the old sessions go; the new one carries on. */
	net_advance(&net, T0 + cfg.expire_ms, 1000);
	g_assert_cmpuint(glow_e2e_session_count(a->e), ==, 1);
	g_assert_cmpuint(glow_e2e_session_count(b->e), ==, 1);
	g_assert_cmpint(send_inner(a, b, GLOW_PKT_MESSAGE, 7, 10), ==, GLOW_OK);
	g_assert_cmpint(send_inner(b, a, GLOW_PKT_MESSAGE, 8, 10), ==, GLOW_OK);
	net_pump(&net);
	g_assert_cmpuint(count_delivered(b, 7), ==, 1);
	g_assert_cmpuint(count_delivered(a, 8), ==, 1);
	g_assert_cmpuint(glow_e2e_stats(a->e)->handshakes_started, ==, 2);
	g_assert_false(deliver_to(b, late)); /* its session is gone */
	pkt_free(late);
	net_free(&net);
}

/* Both sessions age out together and both sides send in the rekey window:
 * each starts a handshake; they converge on new sessions, and the old ones
 * are not used again. */
static void test_rekey_both(void)
{
	GlowE2eConfig cfg;
	glow_e2e_config_default(&cfg);
	cfg.rekey_ms = 60000;
	cfg.expire_ms = 90000;
	Net net;
	net_init(&net, 2, &cfg);
	Node *a = &net.node[0], *b = &net.node[1];

	net_connect(&net, a, b);
	const guint32 old_b = get_u32(logged(&net, a, GLOW_PKT_SEALED, 0)->payload);
	const guint32 old_a = get_u32(logged(&net, b, GLOW_PKT_E2E_RESP, 0)->payload);
	net_advance(&net, T0 + cfg.rekey_ms, 1000);
	g_assert_cmpint(send_inner(a, b, GLOW_PKT_MESSAGE, 1, 10), ==, GLOW_OK);
	g_assert_cmpint(send_inner(b, a, GLOW_PKT_MESSAGE, 2, 10), ==, GLOW_OK);
	net_pump(&net);
	g_assert_cmpuint(count_delivered(b, 1), ==, 1);
	g_assert_cmpuint(count_delivered(a, 2), ==, 1);
	g_assert_cmpuint(glow_e2e_stats(a->e)->handshakes_done, ==, 2);
	g_assert_cmpuint(glow_e2e_stats(b->e)->handshakes_done, ==, 1);
	for (guint64 i = 0; i < 5; i++) {
		g_assert_cmpint(send_inner(a, b, GLOW_PKT_MESSAGE, 10 + i, 10), ==, GLOW_OK);
		g_assert_cmpuint(get_u32(logged(&net, a, GLOW_PKT_SEALED, -1)->payload), !=, old_b);
		g_assert_cmpint(send_inner(b, a, GLOW_PKT_MESSAGE, 20 + i, 10), ==, GLOW_OK);
		g_assert_cmpuint(get_u32(logged(&net, b, GLOW_PKT_SEALED, -1)->payload), !=, old_a);
	}
	net_advance(&net, T0 + cfg.expire_ms, 1000); /* old sessions gone */
	for (guint64 i = 0; i < 5; i++) {
		g_assert_cmpint(send_inner(a, b, GLOW_PKT_MESSAGE, 30 + i, 10), ==, GLOW_OK);
		g_assert_cmpint(send_inner(b, a, GLOW_PKT_MESSAGE, 40 + i, 10), ==, GLOW_OK);
	}
	net_pump(&net);
	for (guint64 i = 0; i < 5; i++) {
		g_assert_cmpuint(count_delivered(b, 10 + i) + count_delivered(b, 30 + i), ==, 2);
		g_assert_cmpuint(count_delivered(a, 20 + i) + count_delivered(a, 40 + i), ==, 2);
	}
	g_assert_cmpuint(rejections(a->e) + rejections(b->e), ==, 0);
	net_free(&net);
}

/* --- (11) both sides initiate at once ----------------------------------------------------------------- */

static void simultaneous(Order order, guint32 seed)
{
	Net net;
	net_init(&net, 2, NULL);
	Node *a = &net.node[0], *b = &net.node[1];
	net.order = order;
	g_rand_set_seed(net.rand, seed);

	g_assert_cmpint(send_inner(a, b, GLOW_PKT_CALL, 1, 50), ==, GLOW_OK);
	g_assert_cmpint(send_inner(b, a, GLOW_PKT_CALL, 2, 50), ==, GLOW_OK);
	g_assert_cmpuint(count_logged(&net, a, GLOW_PKT_E2E_INIT), ==, 1);
	g_assert_cmpuint(count_logged(&net, b, GLOW_PKT_E2E_INIT), ==, 1);
	while (net_step(&net))
		net.now += order == ORDER_RANDOM ? (guint64)g_rand_int_range(net.rand, 0, 30) : 0;
	g_assert_cmpuint(count_delivered(b, 1), ==, 1);
	g_assert_cmpuint(count_delivered(a, 2), ==, 1);
	g_assert_true(glow_e2e_has_session(a->e, &b->id->id));
	g_assert_true(glow_e2e_has_session(b->e, &a->id->id));
	g_assert_cmpuint(glow_e2e_session_count(a->e), <=, 2);
	g_assert_cmpuint(glow_e2e_session_count(b->e), <=, 2);

	/* Traffic both ways, interleaved and reordered, now and after the
	 * unconfirmed-session cleanup (2 * handshake_ms). */
	for (int round = 0; round < 2; round++) {
		for (guint64 i = 0; i < 10; i++) {
			g_assert_cmpint(send_inner(a, b, GLOW_PKT_MESSAGE, 100 + i, 20), ==, GLOW_OK);
			g_assert_cmpint(send_inner(b, a, GLOW_PKT_MESSAGE, 200 + i, 20), ==, GLOW_OK);
			if (i % 3 == 0)
				net_step(&net);
		}
		net_pump(&net);
		for (guint64 i = 0; i < 10; i++) {
			g_assert_cmpuint(count_delivered(b, 100 + i), ==, round + 1);
			g_assert_cmpuint(count_delivered(a, 200 + i), ==, round + 1);
		}
		net_advance(&net, net.now + 2 * net.cfg.handshake_ms + 1000, 500);
	}
	g_assert_cmpuint(rejections(a->e) + rejections(b->e), ==, 0);
	g_assert_cmpuint(glow_e2e_stats(a->e)->handshakes_started + glow_e2e_stats(b->e)->handshakes_started, ==, 2);
	net_free(&net);
}

static guint relay_lose_first_init(Net *net, Pkt *p)
{
	int *from = net->relay_data;
	if (*from >= 0 && p->from == *from && p->h.type == GLOW_PKT_E2E_INIT) {
		*from = -1;
		return 0;
	}
	return 1;
}

/* Both initiate and B's message 1 is lost: B's packet leaves as soon as A's
 * session confirms to B, without waiting for B's own handshake. */
static void simultaneous_one_lost(void)
{
	Net net;
	net_init(&net, 2, NULL);
	Node *a = &net.node[0], *b = &net.node[1];
	int lose_from = b->index;
	net.relay = relay_lose_first_init;
	net.relay_data = &lose_from;

	g_assert_cmpint(send_inner(a, b, GLOW_PKT_CALL, 1, 50), ==, GLOW_OK);
	g_assert_cmpint(send_inner(b, a, GLOW_PKT_CALL, 2, 50), ==, GLOW_OK);
	net_pump(&net);
	g_assert_cmpint(lose_from, ==, -1);
	g_assert_cmpuint(count_delivered(b, 1), ==, 1);
	g_assert_cmpuint(count_delivered(a, 2), ==, 1);
	/* B's handshake still completes on its retry; nothing arrives twice. */
	net_advance(&net, net.now + net.cfg.retry_ms, 100);
	g_assert_cmpuint(glow_e2e_stats(b->e)->handshakes_done, ==, 1);
	g_assert_cmpint(send_inner(a, b, GLOW_PKT_CALL, 3, 50), ==, GLOW_OK);
	g_assert_cmpint(send_inner(b, a, GLOW_PKT_CALL, 4, 50), ==, GLOW_OK);
	net_pump(&net);
	g_assert_cmpuint(count_delivered(b, 1) + count_delivered(b, 3), ==, 2);
	g_assert_cmpuint(count_delivered(a, 2) + count_delivered(a, 4), ==, 2);
	net_free(&net);
}

static void test_simultaneous(void)
{
	simultaneous(ORDER_FIFO, 0);
	simultaneous(ORDER_LIFO, 0);
	for (guint32 seed = 1; seed <= 50; seed++)
		simultaneous(ORDER_RANDOM, seed);
	simultaneous_one_lost();
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	if (sodium_init() < 0)
		return 1;
	g_test_add_func("/e2e/call-and-answer", test_call_and_answer);
	g_test_add_func("/e2e/outer-hides-inner", test_outer_hides_inner);
	g_test_add_func("/e2e/tamper", test_tamper);
	g_test_add_func("/e2e/replay", test_replay);
	g_test_add_func("/e2e/forged-init", test_forged_init);
	g_test_add_func("/e2e/restart", test_restart);
	g_test_add_func("/e2e/handshake-timeout", test_handshake_timeout);
	g_test_add_func("/e2e/queue-bound", test_queue_bound);
	g_test_add_func("/e2e/rate-limit", test_rate_limit);
	g_test_add_func("/e2e/rekey", test_rekey);
	g_test_add_func("/e2e/rekey-both-sides", test_rekey_both);
	g_test_add_func("/e2e/simultaneous", test_simultaneous);
	return g_test_run();
}
