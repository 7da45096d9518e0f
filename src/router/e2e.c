#include "router/e2e.h"

#include <sodium.h>
#include <string.h>

#include "link/noise.h"
#include "wire/bytes.h"

/* Packets (docs/firefly.md "End-to-end sessions"); integers big-endian:
 *
 *   E2E_INIT  IK message 1 (-> e, es, s, ss), payload: u32 sender index
 *   E2E_RESP  u32 receiver index | IK message 2 (<- e, ee, se), payload: u32 sender index
 *   SEALED    u32 receiver index | u64 counter | ChaChaPoly(k, counter,
 *             ad = outer header with hop_limit 0, inner header | inner payload)
 *
 * A SEALED packet with an empty plaintext is a keepalive: it confirms a
 * session to its responder, which sends on a session only once it has heard
 * on it (so a replayed message 1 can never make it switch keys). */

#define IDX_NONE 0u

typedef struct Peer Peer;

typedef struct {
	guint32 local_index, remote_index;
	GlowNoiseCipher tx, rx;
	guint64 created_ms;
	gboolean initiator;
	gboolean confirmed;
	gboolean rx_any;
	guint64 rx_max;
	guint64 window[GLOW_E2E_REPLAY_WINDOW / 64];
	Peer *peer;
} Session;

typedef struct {
	GlowPacketHeader h;
	uint8_t *payload;
} Queued;

struct Peer {
	GlowNodeId id;
	uint8_t x_pub[32];
	gboolean key_ok;
	GPtrArray *sessions;  /* Session*, oldest first */
	Session *current;     /* newest confirmed session: the one we send on */
	/* our handshake in progress, as initiator */
	GlowNoiseHandshake *hs;
	guint32 hs_index;
	guint64 hs_started_ms, hs_sent_ms;
	uint8_t hs_msg[GLOW_E2E_INIT_LEN];
	GQueue queue;         /* Queued: inner packets waiting for a session */
	gsize queued;
	guint64 last_unknown_ms; /* when a packet for a session we lack last made us initiate */
	guint64 rate_start_ms;   /* handshakes answered for this initiator in the current second */
	guint rate_count;
	guint64 used_ms;
};

struct GlowE2e {
	const GlowIdentity *self;
	uint8_t x_priv[32], x_pub[32];
	GlowE2eConfig cfg;
	GlowE2eOutput out;
	gpointer user;
	GHashTable *peers;    /* GlowNodeId* (in Peer) -> Peer* */
	GHashTable *by_index; /* guint32 local index -> Session* */
	GHashTable *pending;  /* guint32 local index -> Peer*: handshakes we started */
	gsize queued;
	/* Separate buffers: a packet being delivered may make its handler seal
	 * an answer before it is done reading. */
	GByteArray *tx_buf, *rx_buf;
	/* Node-wide bounds on work that unauthenticated packets can cause. */
	guint64 answer_window_ms, unknown_window_ms;
	guint answers, unknowns;
	guint64 now;            /* the time of the call in progress */
	uint8_t test_e[32];     /* glow_e2e_test_fix_next */
	guint32 test_index;
	gboolean test_fixed;
	GlowE2eStats stats;
};

void glow_e2e_config_default(GlowE2eConfig *cfg)
{
	cfg->handshake_ms = GLOW_E2E_HANDSHAKE_MS;
	cfg->retry_ms = GLOW_E2E_RETRY_MS;
	cfg->rekey_ms = GLOW_E2E_REKEY_MS;
	cfg->expire_ms = GLOW_E2E_EXPIRE_MS;
}

/* --- bytes --------------------------------------------------------------------- */

static uint8_t *scratch(GByteArray *b, gsize n)
{
	if (b->len < n)
		g_byte_array_set_size(b, (guint)n);
	return b->data;
}

static void wipe(GByteArray *b)
{
	sodium_memzero(b->data, b->len);
	g_byte_array_unref(b);
}

/* The outer header as associated data: relays change hop_limit, nothing else. */
static void outer_ad(const GlowPacketHeader *h, uint8_t ad[GLOW_PACKET_HEADER_LEN])
{
	GlowPacketHeader a = *h;
	a.hop_limit = 0;
	glow_packet_encode_header(&a, ad);
}

static void outer_header(GlowE2e *e, GlowPacketHeader *o, uint8_t type, const GlowNodeId *dst, uint8_t hop_limit,
                         size_t len)
{
	memset(o, 0, sizeof *o);
	o->version = GLOW_PACKET_VERSION;
	o->type = type;
	o->hop_limit = hop_limit ? hop_limit : GLOW_HOP_LIMIT_DEFAULT;
	o->payload_len = (uint32_t)len;
	o->dst.node = *dst;
	o->src.node = e->self->id;
}

#define PROLOGUE_LEN (sizeof GLOW_E2E_PROLOGUE - 1 + 64)

static void prologue(const GlowNodeId *initiator, const GlowNodeId *responder, uint8_t out[PROLOGUE_LEN])
{
	size_t n = strlen(GLOW_E2E_PROLOGUE);
	memcpy(out, GLOW_E2E_PROLOGUE, n);
	memcpy(out + n, initiator->b, 32);
	memcpy(out + n + 32, responder->b, 32);
}

/* Starts a handshake state for initiator -> responder (rs: the responder's
 * key, for the initiator), taking a test ephemeral if one is fixed. */
static int handshake_begin(GlowE2e *e, GlowNoiseHandshake *hs, gboolean initiator, const GlowNodeId *ini,
                           const GlowNodeId *resp, const uint8_t *rs)
{
	uint8_t pro[PROLOGUE_LEN];
	GlowNoiseConfig nc = {
		.protocol_name = GLOW_E2E_NOISE_PROTOCOL,
		.initiator = initiator,
		.prologue = pro,
		.prologue_len = sizeof pro,
		.s_priv = e->x_priv,
		.rs_pub = rs,
		.e_priv = e->test_fixed ? e->test_e : NULL,
	};
	int rc;
	prologue(ini, resp, pro);
	rc = glow_noise_handshake_init(hs, &nc); /* copies the keys */
	e->test_fixed = FALSE;
	return rc;
}

/* --- peers and sessions ----------------------------------------------------------- */

static guint32 new_index(GlowE2e *e)
{
	guint32 i;
	if (e->test_index) {
		i = e->test_index;
		e->test_index = 0;
		return i;
	}
	do
		i = randombytes_random();
	while (i == IDX_NONE || g_hash_table_contains(e->by_index, GUINT_TO_POINTER(i)) ||
	       g_hash_table_contains(e->pending, GUINT_TO_POINTER(i)));
	return i;
}

static void session_free(GlowE2e *e, Session *s)
{
	g_hash_table_remove(e->by_index, GUINT_TO_POINTER(s->local_index));
	if (s->peer->current == s)
		s->peer->current = NULL;
	sodium_memzero(s, sizeof *s);
	g_free(s);
}

static void handshake_clear(GlowE2e *e, Peer *p)
{
	if (!p->hs)
		return;
	g_hash_table_remove(e->pending, GUINT_TO_POINTER(p->hs_index));
	glow_noise_handshake_clear(p->hs);
	g_free(p->hs);
	p->hs = NULL;
	p->hs_index = IDX_NONE;
}

static void queue_clear(GlowE2e *e, Peer *p, GlowErrorCode code, const char *why)
{
	GQueue gone = p->queue; /* detached first: nothing a callback does can loop on it */
	Queued *q;
	g_queue_init(&p->queue);
	e->queued -= p->queued;
	p->queued = 0;
	while ((q = g_queue_pop_head(&gone))) {
		if (code != GLOW_OK && e->out.dropped)
			e->out.dropped(e->user, &q->h, code, why);
		g_free(q->payload);
		g_free(q);
	}
}

static void peer_free(gpointer data)
{
	Peer *p = data;
	g_free(p);
}

static void peer_destroy(GlowE2e *e, Peer *p)
{
	handshake_clear(e, p);
	queue_clear(e, p, GLOW_OK, NULL);
	for (guint i = 0; i < p->sessions->len; i++)
		session_free(e, p->sessions->pdata[i]);
	g_ptr_array_free(p->sessions, TRUE);
	g_hash_table_remove(e->peers, &p->id); /* frees p */
}

/* With the table full, the peer least recently used goes, if it has nothing
 * waiting and was not used in the last second: its sessions are only a
 * cache that a new handshake rebuilds. So a flood of throwaway identities
 * cannot lock out the nodes actually in use. */
static gboolean evict_one(GlowE2e *e, guint64 now)
{
	GHashTableIter it;
	gpointer v;
	Peer *oldest = NULL;
	g_hash_table_iter_init(&it, e->peers);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		Peer *p = v;
		if (p->hs || !g_queue_is_empty(&p->queue) || now - p->used_ms < 1000)
			continue;
		if (!oldest || p->used_ms < oldest->used_ms)
			oldest = p;
	}
	if (!oldest)
		return FALSE;
	e->stats.peers_evicted++;
	peer_destroy(e, oldest);
	return TRUE;
}

static Peer *peer_get(GlowE2e *e, const GlowNodeId *id, gboolean create)
{
	Peer *p = g_hash_table_lookup(e->peers, id);
	if (p || !create)
		return p;
	if (g_hash_table_size(e->peers) >= GLOW_E2E_MAX_PEERS && !evict_one(e, e->now))
		return NULL;
	p = g_new0(Peer, 1);
	p->id = *id;
	p->key_ok = crypto_sign_ed25519_pk_to_curve25519(p->x_pub, id->b) == 0;
	p->sessions = g_ptr_array_new();
	g_queue_init(&p->queue);
	g_hash_table_insert(e->peers, &p->id, p);
	return p;
}

static Session *session_add(GlowE2e *e, Peer *p, gboolean initiator, guint32 local, guint32 remote,
                            GlowNoiseHandshake *hs, guint64 now)
{
	GlowNoiseCipher c1, c2;
	Session *s = g_new0(Session, 1);

	glow_noise_split(hs, &c1, &c2, NULL, NULL);
	s->tx = initiator ? c1 : c2;
	s->rx = initiator ? c2 : c1;
	sodium_memzero(&c1, sizeof c1);
	sodium_memzero(&c2, sizeof c2);
	s->local_index = local;
	s->remote_index = remote;
	s->created_ms = now;
	s->initiator = initiator;
	s->confirmed = initiator; /* message 2 proved the responder; the responder waits for data */
	s->peer = p;
	/* Bounded per peer. The oldest unconfirmed session goes first: replayed
	 * messages 1 make only those, and must not push out one in use. Then the
	 * oldest that is not the current one. */
	if (p->sessions->len >= GLOW_E2E_SESSIONS_PER_PEER) {
		gint victim = -1;
		for (guint i = 0; i < p->sessions->len && victim < 0; i++)
			if (!((Session *)p->sessions->pdata[i])->confirmed)
				victim = (gint)i;
		for (guint i = 0; i < p->sessions->len && victim < 0; i++)
			if (p->sessions->pdata[i] != p->current)
				victim = (gint)i;
		if (victim < 0)
			victim = 0;
		Session *old = p->sessions->pdata[victim];
		g_ptr_array_remove_index(p->sessions, (guint)victim);
		session_free(e, old);
	}
	g_ptr_array_add(p->sessions, s);
	g_hash_table_insert(e->by_index, GUINT_TO_POINTER(local), s);
	if (s->confirmed)
		p->current = s;
	return s;
}

/* --- replay window (RFC 6479's idea, one bit a counter) ------------------------------- */

static gboolean replay_ok(const Session *s, guint64 ctr)
{
	if (ctr >= GLOW_E2E_REJECT_MESSAGES)
		return FALSE;
	if (!s->rx_any || ctr > s->rx_max)
		return TRUE;
	if (s->rx_max - ctr >= GLOW_E2E_REPLAY_WINDOW)
		return FALSE;
	guint bit = (guint)(ctr % GLOW_E2E_REPLAY_WINDOW);
	return !(s->window[bit / 64] & (1ull << (bit % 64)));
}

static void replay_mark(Session *s, guint64 ctr)
{
	if (!s->rx_any || ctr > s->rx_max) {
		guint64 from = s->rx_any ? s->rx_max + 1 : 0;
		if (ctr - from >= GLOW_E2E_REPLAY_WINDOW) {
			memset(s->window, 0, sizeof s->window);
		} else {
			for (guint64 c = from; c < ctr; c++) {
				guint bit = (guint)(c % GLOW_E2E_REPLAY_WINDOW);
				s->window[bit / 64] &= ~(1ull << (bit % 64));
			}
		}
		s->rx_max = ctr;
		s->rx_any = TRUE;
	}
	guint bit = (guint)(ctr % GLOW_E2E_REPLAY_WINDOW);
	s->window[bit / 64] |= 1ull << (bit % 64);
}

/* --- sending ---------------------------------------------------------------------------- */

static GlowErrorCode seal(GlowE2e *e, Session *s, const GlowPacketHeader *h, const uint8_t *payload)
{
	size_t plain = h ? GLOW_PACKET_HEADER_LEN + h->payload_len : 0;
	size_t len = 12 + plain + GLOW_NOISE_TAGLEN;
	uint8_t *buf = scratch(e->tx_buf, len);
	uint8_t ad[GLOW_PACKET_HEADER_LEN];
	GlowPacketHeader o;
	guint64 ctr = s->tx.n;

	if (ctr >= GLOW_E2E_REJECT_MESSAGES)
		return GLOW_ERR_UNAVAILABLE; /* the tick replaces it long before */
	outer_header(e, &o, GLOW_PKT_SEALED, &s->peer->id, h ? h->hop_limit : 0, len);
	outer_ad(&o, ad);
	glow_put_u32(buf, s->remote_index);
	glow_put_u64(buf + 4, ctr);
	/* The plaintext is built in place and encrypted over itself. */
	if (h) {
		glow_packet_encode_header(h, buf + 12);
		if (h->payload_len)
			memcpy(buf + 12 + GLOW_PACKET_HEADER_LEN, payload, h->payload_len);
	}
	if (glow_noise_cipher_encrypt(&s->tx, ad, sizeof ad, buf + 12, plain, buf + 12) < 0)
		return GLOW_ERR_INTERNAL;
	if (h)
		e->stats.sealed++;
	return e->out.send(e->user, &o, buf);
}

static void start_handshake(GlowE2e *e, Peer *p, guint64 now)
{
	GlowPacketHeader o;
	uint8_t idx[4];
	long n;

	if (p->hs)
		return;
	p->hs = g_new0(GlowNoiseHandshake, 1);
	p->hs_index = new_index(e);
	/* Our index travels inside the Noise payload: no relay can change it. */
	glow_put_u32(idx, p->hs_index);
	if (handshake_begin(e, p->hs, TRUE, &e->self->id, &p->id, p->x_pub) != 0 ||
	    (n = glow_noise_write_message(p->hs, idx, 4, p->hs_msg, sizeof p->hs_msg)) != GLOW_E2E_INIT_LEN) {
		handshake_clear(e, p);
		return;
	}
	g_hash_table_insert(e->pending, GUINT_TO_POINTER(p->hs_index), p);
	p->hs_started_ms = p->hs_sent_ms = now;
	e->stats.handshakes_started++;
	outer_header(e, &o, GLOW_PKT_E2E_INIT, &p->id, 0, GLOW_E2E_INIT_LEN);
	e->out.send(e->user, &o, p->hs_msg);
}

static gboolean session_fresh(const GlowE2e *e, const Session *s, guint64 now)
{
	return now - s->created_ms < e->cfg.rekey_ms && s->tx.n < GLOW_E2E_REKEY_MESSAGES;
}

GlowErrorCode glow_e2e_send(GlowE2e *e, const GlowPacketHeader *h, const uint8_t *payload, guint64 now_ms)
{
	Peer *p;

	e->now = now_ms;
	if (h->hop_limit == 0)
		return GLOW_ERR_UNREACHABLE; /* as the router refuses it for a direct packet */
	p = peer_get(e, &h->dst.node, TRUE);
	gsize size = GLOW_PACKET_HEADER_LEN + h->payload_len;
	Queued *q;

	if (!p)
		return GLOW_ERR_TOO_FAST; /* as many peers as we keep state for */
	if (!p->key_ok)
		return GLOW_ERR_UNREACHABLE;
	p->used_ms = now_ms;
	if (p->current) {
		/* An old session still carries traffic while its successor is made. */
		if (!session_fresh(e, p->current, now_ms))
			start_handshake(e, p, now_ms);
		return seal(e, p->current, h, payload);
	}
	if (p->queued + size > GLOW_E2E_QUEUE_PER_PEER || e->queued + size > GLOW_E2E_QUEUE_MAX) {
		e->stats.queue_drops++;
		return GLOW_ERR_TOO_FAST;
	}
	q = g_new(Queued, 1);
	q->h = *h;
	q->payload = h->payload_len ? g_memdup2(payload, h->payload_len) : NULL;
	g_queue_push_tail(&p->queue, q);
	p->queued += size;
	e->queued += size;
	start_handshake(e, p, now_ms);
	return GLOW_OK;
}

static void flush_queue(GlowE2e *e, Peer *p)
{
	Queued *q;
	while (p->current && (q = g_queue_pop_head(&p->queue))) {
		gsize size = GLOW_PACKET_HEADER_LEN + q->h.payload_len;
		GlowErrorCode code;
		p->queued -= size;
		e->queued -= size;
		code = seal(e, p->current, &q->h, q->payload);
		if (code != GLOW_OK && e->out.dropped)
			e->out.dropped(e->user, &q->h, code, "the route to that node failed while a session was made");
		g_free(q->payload);
		g_free(q);
	}
}

/* --- receiving ----------------------------------------------------------------------------- */

static gboolean window_ok(guint64 *start, guint *count, guint limit, guint64 now)
{
	if (now - *start >= 1000) {
		*start = now;
		*count = 0;
	}
	return (*count)++ < limit;
}

static gboolean receive_init(GlowE2e *e, const GlowPacketHeader *h, const uint8_t *payload, guint64 now)
{
	GlowNoiseHandshake hs;
	uint8_t reply[GLOW_E2E_RESP_LEN], idx[4], claimed[32];
	const uint8_t *rs;
	GlowPacketHeader o;
	Peer *p;
	guint32 local, remote;
	gboolean ok = FALSE;

	if (h->payload_len != GLOW_E2E_INIT_LEN || crypto_sign_ed25519_pk_to_curve25519(claimed, h->src.node.b) != 0)
		return e->stats.rejected_malformed++, FALSE;
	/* Before any DH, a bound for the node. Over it, messages are admitted at
	 * random in proportion, so a flood of forgeries slows legitimate
	 * handshakes (which retry every second) but cannot stop them. */
	if (!window_ok(&e->answer_window_ms, &e->answers, GLOW_E2E_HANDSHAKES_NODE_PER_SEC, now) &&
	    randombytes_uniform(e->answers) >= GLOW_E2E_HANDSHAKES_NODE_PER_SEC)
		return e->stats.rejected_rate++, FALSE;
	if (handshake_begin(e, &hs, FALSE, &h->src.node, &e->self->id, NULL) != 0)
		return FALSE;
	if (glow_noise_read_message(&hs, payload, GLOW_E2E_INIT_LEN, idx, sizeof idx) != sizeof idx ||
	    !(rs = glow_noise_remote_static(&hs)) || sodium_memcmp(rs, claimed, 32) != 0 ||
	    (remote = glow_get_u32(idx)) == IDX_NONE) {
		/* Not from the node it claims to be (or not a Noise message at all). */
		e->stats.rejected_auth++;
		goto out;
	}
	/* Only an authenticated initiator gets state here, and only it can use
	 * up its own allowance (a replayed message 1 is authentic too). */
	p = peer_get(e, &h->src.node, TRUE);
	if (!p || !window_ok(&p->rate_start_ms, &p->rate_count, GLOW_E2E_HANDSHAKES_PER_SEC, now)) {
		e->stats.rejected_rate++;
		goto out;
	}
	local = new_index(e);
	glow_put_u32(reply, remote);
	glow_put_u32(idx, local);
	if (glow_noise_write_message(&hs, idx, sizeof idx, reply + 4, sizeof reply - 4) != GLOW_E2E_RESP_LEN - 4 ||
	    !glow_noise_handshake_done(&hs))
		goto out;
	session_add(e, p, FALSE, local, remote, &hs, now);
	p->used_ms = now;
	e->stats.handshakes_answered++;
	outer_header(e, &o, GLOW_PKT_E2E_RESP, &p->id, 0, sizeof reply);
	e->out.send(e->user, &o, reply);
	ok = TRUE;
out:
	glow_noise_handshake_clear(&hs);
	return ok;
}

static gboolean receive_resp(GlowE2e *e, const GlowPacketHeader *h, const uint8_t *payload, guint64 now)
{
	Peer *p;
	guint32 remote, local;

	if (h->payload_len != GLOW_E2E_RESP_LEN)
		return e->stats.rejected_malformed++, FALSE;
	local = glow_get_u32(payload);
	p = g_hash_table_lookup(e->pending, GUINT_TO_POINTER(local));
	if (!p || !glow_node_id_equal(&p->id, &h->src.node))
		return e->stats.rejected_unknown_session++, FALSE;
	/* A bad message 2 (forged by a relay) leaves the handshake usable for the real one. */
	GlowNoiseHandshake trial = *p->hs;
	uint8_t idx[4];
	if (glow_noise_read_message(&trial, payload + 4, GLOW_E2E_RESP_LEN - 4, idx, sizeof idx) != sizeof idx ||
	    !glow_noise_handshake_done(&trial) || (remote = glow_get_u32(idx)) == IDX_NONE) {
		glow_noise_handshake_clear(&trial);
		return e->stats.rejected_auth++, FALSE;
	}
	g_hash_table_remove(e->pending, GUINT_TO_POINTER(local));
	glow_noise_handshake_clear(p->hs);
	g_free(p->hs);
	p->hs = NULL;
	p->hs_index = IDX_NONE;
	session_add(e, p, TRUE, local, remote, &trial, now);
	glow_noise_handshake_clear(&trial);
	e->stats.handshakes_done++;
	if (g_queue_is_empty(&p->queue))
		seal(e, p->current, NULL, NULL); /* confirm the session to the responder */
	else
		flush_queue(e, p);
	return TRUE;
}

static gboolean receive_sealed(GlowE2e *e, const GlowPacketHeader *h, const uint8_t *payload, guint64 now)
{
	uint8_t ad[GLOW_PACKET_HEADER_LEN];
	GlowNoiseCipher rx;
	GlowPacketHeader in;
	Session *s;
	guint64 ctr;
	size_t plain;
	uint8_t *buf;

	if (h->payload_len < 12 + GLOW_NOISE_TAGLEN)
		return e->stats.rejected_malformed++, FALSE;
	s = g_hash_table_lookup(e->by_index, GUINT_TO_POINTER(glow_get_u32(payload)));
	if (!s || !glow_node_id_equal(&s->peer->id, &h->src.node)) {
		/* We lost the session (restarted, or it expired here first): make a
		 * new one, so the sender's next packets find it. Anyone can send
		 * such packets, so this is bounded per peer and for the node. */
		Peer *p = peer_get(e, &h->src.node, FALSE);
		if ((!p || (!p->hs && now - p->last_unknown_ms >= e->cfg.retry_ms)) &&
		    window_ok(&e->unknown_window_ms, &e->unknowns, GLOW_E2E_UNKNOWN_NODE_PER_SEC, now) &&
		    (p = peer_get(e, &h->src.node, TRUE)) && p->key_ok) {
			p->last_unknown_ms = now;
			start_handshake(e, p, now);
		}
		return e->stats.rejected_unknown_session++, FALSE;
	}
	ctr = glow_get_u64(payload + 4);
	if (!replay_ok(s, ctr))
		return e->stats.rejected_replay++, FALSE;
	plain = h->payload_len - 12 - GLOW_NOISE_TAGLEN;
	buf = scratch(e->rx_buf, plain ? plain : 1);
	outer_ad(h, ad);
	rx = s->rx;
	rx.n = ctr;
	if (glow_noise_cipher_decrypt(&rx, ad, sizeof ad, payload + 12, h->payload_len - 12, buf) < 0) {
		sodium_memzero(&rx, sizeof rx);
		return e->stats.rejected_auth++, FALSE;
	}
	sodium_memzero(&rx, sizeof rx);
	replay_mark(s, ctr);
	s->peer->used_ms = now;
	if (!s->confirmed) {
		s->confirmed = TRUE;
		if (!s->peer->current || s->peer->current->created_ms <= s->created_ms)
			s->peer->current = s;
		flush_queue(e, s->peer);
	}
	if (plain == 0)
		return TRUE; /* keepalive */
	/* The inner packet: an RPC packet from the outer source to this node. */
	if (glow_packet_decode_header(buf, plain, GLOW_PACKET_MAX_PAYLOAD, &in) != GLOW_PKT_DECODE_OK ||
	    GLOW_PACKET_HEADER_LEN + in.payload_len != plain || !glow_packet_is_rpc(in.type) ||
	    !glow_node_id_equal(&in.src.node, &h->src.node) || !glow_node_id_equal(&in.dst.node, &e->self->id))
		return e->stats.rejected_inner++, FALSE;
	in.hop_limit = h->hop_limit;
	e->stats.opened++;
	e->out.deliver(e->user, &in, buf + GLOW_PACKET_HEADER_LEN);
	return TRUE;
}

gboolean glow_e2e_receive(GlowE2e *e, const GlowPacketHeader *h, const uint8_t *payload, guint64 now_ms)
{
	e->now = now_ms;
	if (!glow_node_id_equal(&h->dst.node, &e->self->id) || glow_node_id_equal(&h->src.node, &e->self->id))
		return e->stats.rejected_malformed++, FALSE;
	switch (h->type) {
	case GLOW_PKT_E2E_INIT:
		return receive_init(e, h, payload, now_ms);
	case GLOW_PKT_E2E_RESP:
		return receive_resp(e, h, payload, now_ms);
	case GLOW_PKT_SEALED:
		return receive_sealed(e, h, payload, now_ms);
	default:
		return e->stats.rejected_malformed++, FALSE;
	}
}

/* --- timers -------------------------------------------------------------------------------- */

static void tick_peer(GlowE2e *e, Peer *p, guint64 now)
{
	if (p->hs && now - p->hs_started_ms >= e->cfg.handshake_ms) {
		handshake_clear(e, p);
		if (!p->current)
			queue_clear(e, p, GLOW_ERR_UNREACHABLE, "no answer to the end-to-end handshake");
	} else if (p->hs && now - p->hs_sent_ms >= e->cfg.retry_ms) {
		GlowPacketHeader o;
		p->hs_sent_ms = now;
		outer_header(e, &o, GLOW_PKT_E2E_INIT, &p->id, 0, GLOW_E2E_INIT_LEN);
		e->out.send(e->user, &o, p->hs_msg);
	}
	for (guint i = 0; i < p->sessions->len;) {
		Session *s = p->sessions->pdata[i];
		gboolean unconfirmed_stale = !s->confirmed && now - s->created_ms >= 2 * e->cfg.handshake_ms;
		if (now - s->created_ms >= e->cfg.expire_ms || unconfirmed_stale) {
			g_ptr_array_remove_index(p->sessions, i);
			session_free(e, s);
		} else {
			i++;
		}
	}
	/* The newest confirmed session is the one to send on. */
	if (!p->current)
		for (guint i = 0; i < p->sessions->len; i++)
			if (((Session *)p->sessions->pdata[i])->confirmed)
				p->current = p->sessions->pdata[i];
}

void glow_e2e_tick(GlowE2e *e, guint64 now_ms)
{
	GPtrArray *all = g_ptr_array_new(), *idle = g_ptr_array_new();
	GHashTableIter it;
	gpointer v;

	e->now = now_ms;
	/* A snapshot: callbacks (dropped) run in tick_peer. */
	g_hash_table_iter_init(&it, e->peers);
	while (g_hash_table_iter_next(&it, NULL, &v))
		g_ptr_array_add(all, v);
	for (guint i = 0; i < all->len; i++) {
		Peer *p = all->pdata[i];
		tick_peer(e, p, now_ms);
		if (!p->sessions->len && !p->hs && g_queue_is_empty(&p->queue) && now_ms - p->used_ms >= e->cfg.retry_ms * 2 &&
		    now_ms - p->rate_start_ms >= 1000)
			g_ptr_array_add(idle, p);
	}
	for (guint i = 0; i < idle->len; i++)
		peer_destroy(e, idle->pdata[i]);
	g_ptr_array_free(idle, TRUE);
	g_ptr_array_free(all, TRUE);
}

void glow_e2e_forget_queued(GlowE2e *e, const GlowNodeId *peer)
{
	Peer *p = g_hash_table_lookup(e->peers, peer);
	if (p)
		queue_clear(e, p, GLOW_OK, NULL);
}

/* --- lifecycle ------------------------------------------------------------------------------- */

GlowE2e *glow_e2e_new(const GlowIdentity *self, const GlowE2eConfig *cfg, const GlowE2eOutput *out, gpointer user)
{
	GlowE2e *e = g_new0(GlowE2e, 1);
	e->self = self;
	e->cfg = *cfg;
	e->out = *out;
	e->user = user;
	if (crypto_sign_ed25519_sk_to_curve25519(e->x_priv, self->sk) != 0 ||
	    crypto_sign_ed25519_pk_to_curve25519(e->x_pub, self->id.b) != 0)
		g_error("e2e: the node's identity key does not convert to X25519"); /* libsodium keys always do */
	e->peers = g_hash_table_new_full(glow_node_id_hash, glow_node_id_equal_key, NULL, peer_free);
	e->by_index = g_hash_table_new(g_direct_hash, g_direct_equal);
	e->pending = g_hash_table_new(g_direct_hash, g_direct_equal);
	e->tx_buf = g_byte_array_new();
	e->rx_buf = g_byte_array_new();
	return e;
}

void glow_e2e_free(GlowE2e *e)
{
	GHashTableIter it;
	gpointer v;
	GPtrArray *all;

	if (!e)
		return;
	all = g_ptr_array_new();
	g_hash_table_iter_init(&it, e->peers);
	while (g_hash_table_iter_next(&it, NULL, &v))
		g_ptr_array_add(all, v);
	for (guint i = 0; i < all->len; i++)
		peer_destroy(e, all->pdata[i]);
	g_ptr_array_free(all, TRUE);
	g_hash_table_destroy(e->peers);
	g_hash_table_destroy(e->by_index);
	g_hash_table_destroy(e->pending);
	sodium_memzero(e->x_priv, sizeof e->x_priv);
	wipe(e->tx_buf);
	wipe(e->rx_buf);
	g_free(e);
}

const GlowE2eStats *glow_e2e_stats(const GlowE2e *e) { return &e->stats; }

void glow_e2e_test_fix_next(GlowE2e *e, const uint8_t e_priv[32], guint32 index)
{
	memcpy(e->test_e, e_priv, 32);
	e->test_fixed = TRUE;
	e->test_index = index;
}

guint glow_e2e_session_count(const GlowE2e *e)
{
	return g_hash_table_size(e->by_index);
}

gboolean glow_e2e_has_session(const GlowE2e *e, const GlowNodeId *peer)
{
	const Peer *p = g_hash_table_lookup(e->peers, peer);
	return p && p->current;
}
