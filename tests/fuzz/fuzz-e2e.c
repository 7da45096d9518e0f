/* fuzz-e2e — end-to-end sessions (src/router/e2e.c) fed hostile outer packets.
 *
 * A GlowE2e with a fixed identity S first makes a real session with a
 * second GlowE2e, P (S initiates), so that SEALED packets can hit a live
 * session. Then the input is a sequence of steps
 *
 *   step := u8 op | u16 len (big-endian) | len bytes (cut short at the end)
 *
 *   op % 10  0  raw outer packet for S: a 112-byte header (decoded; a zero
 *               dst node becomes S, a zero src node P) + the rest as payload
 *            1  outer packet with a header the harness builds: b[0] picks
 *               the type (E2E_INIT/E2E_RESP/SEALED) and the claimed source
 *               (P, X, or the 32 bytes from b[2]), b[1] is the hop limit,
 *               the rest the payload
 *            2  P seals an inner packet for S (type, flags, hop limit and
 *               call id from the bytes; variants lie about src or version)
 *            3  S sends an inner packet to P, X or an arbitrary node ID (with
 *               b[0] & 0x80, a zero payload of u16 * 16 bytes, up to 1 MiB:
 *               the queue bound)
 *            4  time passes (u16 * 16 ms, so up to 17 min), both tick
 *            5  the wires are drained (P->S into S, S->P into P) until
 *               quiet; with b[0] odd, one packet each way only
 *            6  the next P->S packet arrives with one header or payload byte
 *               changed (the original stays queued)
 *            7  the last packet delivered to S arrives again
 *            8  P restarts: a new GlowE2e with the same identity
 *            9  the next packet on one wire is lost (b[0] & 1 picks it); with
 *               b[0] & 2, S forgets what it queued for P or X (b[0] & 4)
 *
 * libsodium's RNG is the deterministic one of fuzz-common.h, reset for each
 * input, so the session's indices are the same every run (GLOW_FUZZ_VERBOSE=1
 * prints S's index for P).
 *
 * Invariants (FUZZ_CHECK): every outer packet S or P sends is well-formed
 * (version 1, type 10..12, src = itself, the length its type has, no inner
 * fields in the header); glow_e2e_receive's verdict matches the stats (FALSE
 * counts exactly one rejection, TRUE none); every inner packet S delivers is
 * an RPC packet from P to S that P sealed, each at most once (and the same
 * for P); S's sealed/opened counters match what was seen. */
#include "fuzz-common.h"
#include "link/identity.h"
#include "router/e2e.h"
#include "wire/packet.h"

FUZZ_DEFINE_INIT()

#define T_START 1000000
#define WIRE_MAX 256
#define KEEPALIVE_LEN (12 + 16)

typedef struct {
	GlowPacketHeader h;
	uint8_t *payload; /* exactly h.payload_len bytes */
} FPkt;

typedef struct {
	uint8_t *bytes; /* inner header (hop limit 0) + payload */
	size_t len;
	gboolean used;
} Sealed;

typedef struct {
	const GlowIdentity *self;
	const GlowIdentity *other;
	GlowE2e *e;
	GQueue *out;     /* where its packets for `other` go */
	GPtrArray *may;  /* Sealed*: what `other` sealed for it */
	guint64 delivered;
	guint64 sealed_out; /* SEALED packets with an inner packet it sent */
} Side;

static GlowIdentity *id_s, *id_p, *id_x;
static GlowE2eConfig cfg;
static guint64 now;

static FPkt *fpkt_new(const GlowPacketHeader *h, const uint8_t *payload)
{
	FPkt *p = g_new(FPkt, 1);
	p->h = *h;
	p->payload = fuzz_dup(payload, h->payload_len);
	return p;
}

static void fpkt_free(gpointer data)
{
	FPkt *p = data;
	if (!p)
		return;
	free(p->payload);
	g_free(p);
}

static void sealed_free(gpointer data)
{
	Sealed *s = data;
	g_free(s->bytes);
	g_free(s);
}

static uint8_t *inner_bytes(const GlowPacketHeader *h, const uint8_t *payload, size_t *len)
{
	GlowPacketHeader c = *h;
	uint8_t *b = g_malloc(GLOW_PACKET_HEADER_LEN + h->payload_len);
	c.hop_limit = 0;
	glow_packet_encode_header(&c, b);
	if (h->payload_len)
		memcpy(b + GLOW_PACKET_HEADER_LEN, payload, h->payload_len);
	*len = GLOW_PACKET_HEADER_LEN + h->payload_len;
	return b;
}

static guint64 rejections(const GlowE2e *e)
{
	const GlowE2eStats *s = glow_e2e_stats(e);
	return s->rejected_malformed + s->rejected_auth + s->rejected_replay + s->rejected_unknown_session +
	       s->rejected_rate + s->rejected_inner;
}

/* --- callbacks ------------------------------------------------------------------- */

static GlowErrorCode on_send(gpointer user, const GlowPacketHeader *h, const uint8_t *payload)
{
	Side *sd = user;
	FUZZ_CHECK(h->version == GLOW_PACKET_VERSION);
	FUZZ_CHECK(h->type >= GLOW_PKT_E2E_INIT && h->type <= GLOW_PKT_SEALED);
	FUZZ_CHECK(glow_node_id_equal(&h->src.node, &sd->self->id));
	FUZZ_CHECK(!glow_node_id_equal(&h->dst.node, &sd->self->id));
	FUZZ_CHECK(h->hop_limit > 0);
	FUZZ_CHECK(h->flags == 0 && h->call_id == 0 && h->interface_id == 0 && h->method_id == 0);
	FUZZ_CHECK(h->deadline_ms == 0 && h->aux == 0 && h->src.resource == 0 && h->dst.resource == 0);
	switch (h->type) {
	case GLOW_PKT_E2E_INIT:
		FUZZ_CHECK(h->payload_len == GLOW_E2E_INIT_LEN);
		break;
	case GLOW_PKT_E2E_RESP:
		FUZZ_CHECK(h->payload_len == GLOW_E2E_RESP_LEN);
		break;
	case GLOW_PKT_SEALED:
		FUZZ_CHECK(h->payload_len == KEEPALIVE_LEN ||
		           (h->payload_len >= GLOW_E2E_OVERHEAD &&
		            h->payload_len <= GLOW_PACKET_MAX_PAYLOAD + GLOW_E2E_OVERHEAD));
		if (h->payload_len > KEEPALIVE_LEN)
			sd->sealed_out++;
		break;
	default:
		break;
	}
	if (glow_node_id_equal(&h->dst.node, &sd->other->id) && g_queue_get_length(sd->out) < WIRE_MAX)
		g_queue_push_tail(sd->out, fpkt_new(h, payload));
	return GLOW_OK;
}

static void on_deliver(gpointer user, const GlowPacketHeader *h, const uint8_t *payload)
{
	Side *sd = user;
	size_t len;
	g_autofree uint8_t *b = NULL;
	gboolean found = FALSE;

	FUZZ_CHECK(h->version == GLOW_PACKET_VERSION && glow_packet_is_rpc(h->type));
	FUZZ_CHECK(glow_node_id_equal(&h->dst.node, &sd->self->id));
	FUZZ_CHECK(glow_node_id_equal(&h->src.node, &sd->other->id)); /* the only other key holder */
	/* One the other side sealed, and not delivered before. */
	b = inner_bytes(h, payload, &len);
	for (guint i = 0; i < sd->may->len && !found; i++) {
		Sealed *s = sd->may->pdata[i];
		if (!s->used && s->len == len && memcmp(s->bytes, b, len) == 0)
			found = s->used = TRUE;
	}
	FUZZ_CHECK(found);
	sd->delivered++;
}

static void on_dropped(gpointer user, const GlowPacketHeader *h, GlowErrorCode code, const char *why)
{
	Side *sd = user;
	FUZZ_CHECK(why != NULL && code != GLOW_OK);
	FUZZ_CHECK(glow_node_id_equal(&h->src.node, &sd->self->id) || glow_node_id_equal(&h->src.node, &id_x->id));
}

static const GlowE2eOutput out = { on_send, on_deliver, on_dropped };

/* --- steps ------------------------------------------------------------------------ */

static gboolean receive(Side *sd, const GlowPacketHeader *h, const uint8_t *payload)
{
	guint64 before = rejections(sd->e);
	uint8_t *copy = fuzz_dup(payload, h->payload_len); /* exact size, for ASan */
	gboolean ok = glow_e2e_receive(sd->e, h, copy, now);
	free(copy);
	FUZZ_CHECK(rejections(sd->e) == before + (ok ? 0 : 1));
	return ok;
}

static void remember(GPtrArray *may, const GlowPacketHeader *h, const uint8_t *payload)
{
	Sealed *s = g_new0(Sealed, 1);
	s->bytes = inner_bytes(h, payload, &s->len);
	g_ptr_array_add(may, s);
}

static GlowPacketHeader inner_header(const GlowIdentity *src, const GlowIdentity *dst, uint8_t type, uint8_t hop,
                                     size_t len)
{
	GlowPacketHeader h = { 0 };
	h.version = GLOW_PACKET_VERSION;
	h.type = type;
	h.hop_limit = hop;
	h.payload_len = (uint32_t)len;
	h.call_id = 1;
	h.src.node = src->id;
	h.dst.node = dst->id;
	return h;
}

static void pump(Side *s, Side *p, FPkt **last_to_s, int rounds)
{
	for (int round = 0; round < rounds && (!g_queue_is_empty(p->out) || !g_queue_is_empty(s->out)); round++) {
		FPkt *q = g_queue_pop_head(p->out);
		if (q) {
			receive(s, &q->h, q->payload);
			fpkt_free(*last_to_s);
			*last_to_s = q;
		}
		q = g_queue_pop_head(s->out);
		if (q) {
			receive(p, &q->h, q->payload);
			fpkt_free(q);
		}
	}
}

static void step(Side *s, Side *p, uint8_t op, const uint8_t *b, size_t len, FPkt **last_to_s)
{
	GlowPacketHeader h;

	switch (op % 10) {
	case 0: /* raw outer packet */
		if (len < GLOW_PACKET_HEADER_LEN ||
		    glow_packet_decode_header(b, len, GLOW_PACKET_MAX_PAYLOAD, &h) != GLOW_PKT_DECODE_OK)
			return;
		if (glow_node_id_is_zero(&h.dst.node))
			h.dst.node = id_s->id;
		if (glow_node_id_is_zero(&h.src.node))
			h.src.node = id_p->id;
		h.payload_len = (uint32_t)(len - GLOW_PACKET_HEADER_LEN);
		receive(s, &h, b + GLOW_PACKET_HEADER_LEN);
		return;
	case 1: { /* outer packet, header by the harness */
		size_t skip = 2;
		if (len < 2)
			return;
		memset(&h, 0, sizeof h);
		h.version = GLOW_PACKET_VERSION;
		h.type = (uint8_t)(GLOW_PKT_E2E_INIT + b[0] % 3);
		h.hop_limit = b[1];
		h.dst.node = id_s->id;
		switch (b[0] / 3 % 3) {
		case 0: h.src.node = id_p->id; break;
		case 1: h.src.node = id_x->id; break;
		default:
			if (len < 2 + 32)
				return;
			memcpy(h.src.node.b, b + 2, 32);
			skip += 32;
		}
		h.payload_len = (uint32_t)(len - skip);
		receive(s, &h, b + skip);
		return;
	}
	case 2: { /* P seals an inner packet for S */
		uint8_t f[12] = { 0 };
		memcpy(f, b, MIN(len, sizeof f));
		size_t skip = MIN(len, sizeof f);
		h = inner_header(f[3] & 1 ? id_x : id_p, id_s, f[0], f[2], len - skip);
		h.flags = f[1];
		if (f[3] & 2)
			h.version = 2;
		h.call_id = (guint64)f[4] << 56 | (guint64)f[5] << 48 | (guint64)f[6] << 40 | (guint64)f[7] << 32 |
		            (guint64)f[8] << 24 | (guint64)f[9] << 16 | (guint64)f[10] << 8 | f[11];
		h.aux = f[3];
		if (glow_e2e_send(p->e, &h, b + skip, now) == GLOW_OK)
			remember(s->may, &h, b + skip);
		return;
	}
	case 3: { /* S sends an inner packet */
		GlowIdentity custom;
		const GlowIdentity *dst;
		size_t skip = 3;
		if (len < 3)
			return;
		switch (b[0] % 3) {
		case 0: dst = id_p; break;
		case 1: dst = id_x; break;
		default:
			if (len < 3 + 32)
				return;
			memset(&custom, 0, sizeof custom);
			memcpy(custom.id.b, b + 3, 32);
			if (glow_node_id_equal(&custom.id, &id_s->id))
				return; /* not to itself: the router delivers those locally */
			dst = &custom;
			skip += 32;
		}
		if (b[0] & 0x80) { /* big and empty */
			size_t n = len >= skip + 2 ? (size_t)(b[skip] << 8 | b[skip + 1]) * 16 : 0;
			g_autofree uint8_t *zeros = g_malloc0(MAX(n, 1));
			h = inner_header(id_s, dst, b[1], b[2], MIN(n, GLOW_PACKET_MAX_PAYLOAD));
			if (glow_e2e_send(s->e, &h, zeros, now) == GLOW_OK && dst == id_p)
				remember(p->may, &h, zeros);
			return;
		}
		h = inner_header(id_s, dst, b[1], b[2], len - skip);
		if (glow_e2e_send(s->e, &h, b + skip, now) == GLOW_OK && dst == id_p)
			remember(p->may, &h, b + skip);
		return;
	}
	case 4: /* time passes */
		now += len >= 2 ? (guint64)((b[0] << 8 | b[1]) * 16) : 1000;
		glow_e2e_tick(s->e, now);
		glow_e2e_tick(p->e, now);
		return;
	case 5:
		pump(s, p, last_to_s, len && (b[0] & 1) ? 1 : 64);
		return;
	case 6: { /* the next P->S packet, changed */
		const FPkt *q = g_queue_peek_head(p->out);
		if (!q || len < 3)
			return;
		size_t total = GLOW_PACKET_HEADER_LEN + q->h.payload_len, pos = (size_t)(b[0] << 8 | b[1]) % total;
		g_autofree uint8_t *buf = g_malloc(total);
		glow_packet_encode_header(&q->h, buf);
		memcpy(buf + GLOW_PACKET_HEADER_LEN, q->payload, q->h.payload_len);
		buf[pos] ^= b[2] ? b[2] : 1;
		if (glow_packet_decode_header(buf, total, GLOW_PACKET_MAX_PAYLOAD, &h) != GLOW_PKT_DECODE_OK)
			return;
		h.payload_len = MIN(h.payload_len, q->h.payload_len); /* the bytes there are */
		receive(s, &h, buf + GLOW_PACKET_HEADER_LEN);
		return;
	}
	case 7:
		if (*last_to_s)
			receive(s, &(*last_to_s)->h, (*last_to_s)->payload);
		return;
	case 8:
		glow_e2e_free(p->e);
		p->e = glow_e2e_new(id_p, &cfg, &out, p);
		return;
	case 9:
		fpkt_free(g_queue_pop_head(len && (b[0] & 1) ? s->out : p->out));
		if (len && (b[0] & 2))
			glow_e2e_forget_queued(s->e, b[0] & 4 ? &id_x->id : &id_p->id);
		return;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	GQueue to_s = G_QUEUE_INIT, to_p = G_QUEUE_INIT;
	Side s = { 0 }, p = { 0 };
	FPkt *last_to_s = NULL;
	GlowPacketHeader h;
	size_t off = 0;
	int steps = 0;

	if (!id_s) {
		uint8_t seed[32];
		memset(seed, 0x53, sizeof seed);
		id_s = glow_identity_from_seed(seed);
		memset(seed, 0x50, sizeof seed);
		id_p = glow_identity_from_seed(seed);
		memset(seed, 0x58, sizeof seed);
		id_x = glow_identity_from_seed(seed);
		glow_e2e_config_default(&cfg);
	}
	fuzz_rng_reset(0);
	now = T_START;
	s = (Side){ id_s, id_p, NULL, &to_p, g_ptr_array_new_with_free_func(sealed_free), 0, 0 };
	p = (Side){ id_p, id_s, NULL, &to_s, g_ptr_array_new_with_free_func(sealed_free), 0, 0 };
	s.e = glow_e2e_new(id_s, &cfg, &out, &s);
	p.e = glow_e2e_new(id_p, &cfg, &out, &p);

	/* The live session: S initiates, its first packet confirms it. */
	h = inner_header(id_s, id_p, GLOW_PKT_MESSAGE, 9, 4);
	FUZZ_CHECK(glow_e2e_send(s.e, &h, (const uint8_t *)"ping", now) == GLOW_OK);
	remember(p.may, &h, (const uint8_t *)"ping");
	if (fuzz_verbose()) {
		const FPkt *init = g_queue_peek_head(&to_p); /* u32 sender index first */
		fprintf(stderr, "fuzz-e2e: S's index for its session with P: %02x%02x%02x%02x\n", init->payload[0],
		        init->payload[1], init->payload[2], init->payload[3]);
	}
	pump(&s, &p, &last_to_s, 64);
	FUZZ_CHECK(glow_e2e_has_session(s.e, &id_p->id) && glow_e2e_has_session(p.e, &id_s->id));
	FUZZ_CHECK(p.delivered == 1);

	while (size - off >= 3) {
		uint8_t op = data[off];
		size_t len = (size_t)data[off + 1] << 8 | data[off + 2];
		off += 3;
		len = MIN(len, size - off);
		step(&s, &p, op, data + off, len, &last_to_s);
		off += len;
		steps++;
		FUZZ_CHECK(glow_e2e_session_count(s.e) <= (guint)GLOW_E2E_SESSIONS_PER_PEER * (guint)(steps + 2));
	}
	pump(&s, &p, &last_to_s, 64);
	if (fuzz_verbose())
		fprintf(stderr, "fuzz-e2e: %d steps, S delivered %" G_GUINT64_FORMAT ", P delivered %" G_GUINT64_FORMAT
		                ", S rejected %" G_GUINT64_FORMAT "\n",
		        steps, s.delivered, p.delivered, rejections(s.e));

	FUZZ_CHECK(glow_e2e_stats(s.e)->opened == s.delivered);
	FUZZ_CHECK(glow_e2e_stats(s.e)->sealed == s.sealed_out);
	glow_e2e_free(s.e);
	glow_e2e_free(p.e);
	fpkt_free(last_to_s);
	g_queue_clear_full(&to_s, fpkt_free);
	g_queue_clear_full(&to_p, fpkt_free);
	g_ptr_array_free(s.may, TRUE);
	g_ptr_array_free(p.may, TRUE);
	return 0;
}
