/* End-to-end sessions against tests/vectors/e2e.txt: the bytes of a whole
 * session (E2E_INIT, E2E_RESP, SEALED both ways, a keepalive) produced by
 * tests/vectors/gen-e2e.py, an implementation that shares no code with
 * src/. Two GlowE2e instances with the vector's identities, ephemerals and
 * indices must emit exactly those bytes and deliver exactly the inner
 * packets. */
#include <sodium.h>
#include <string.h>

#include "router/e2e.h"

typedef struct {
	GHashTable *v; /* key -> GBytes */
} Vectors;

static GBytes *hex_bytes(const char *hex)
{
	GByteArray *b = g_byte_array_new();
	for (const char *p = hex; p[0] && p[1]; p += 2) {
		int hi = g_ascii_xdigit_value(p[0]), lo = g_ascii_xdigit_value(p[1]);
		g_assert_true(hi >= 0 && lo >= 0);
		guint8 byte = (guint8)(hi << 4 | lo);
		g_byte_array_append(b, &byte, 1);
	}
	return g_byte_array_free_to_bytes(b);
}

static void load(Vectors *vs)
{
	g_autofree char *path = g_build_filename(g_getenv("GLOW_VECTORS_DIR"), "e2e.txt", NULL);
	g_autofree char *text = NULL;
	g_auto(GStrv) lines = NULL;
	g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
	vs->v = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_bytes_unref);
	lines = g_strsplit(text, "\n", -1);
	for (char **l = lines; *l; l++) {
		char *colon = strchr(*l, ':');
		if (**l == '#' || !colon)
			continue;
		g_hash_table_insert(vs->v, g_strndup(*l, (gsize)(colon - *l)), hex_bytes(g_strstrip(colon + 1)));
	}
}

static GBytes *get(Vectors *vs, const char *key)
{
	GBytes *b = g_hash_table_lookup(vs->v, key);
	g_assert_nonnull(b);
	return b;
}

static guint32 get_u32(Vectors *vs, const char *key)
{
	const guint8 *p = g_bytes_get_data(get(vs, key), NULL);
	return (guint32)p[0] << 24 | (guint32)p[1] << 16 | (guint32)p[2] << 8 | p[3];
}

/* One side: what its GlowE2e sent and delivered, as whole packets. */
typedef struct {
	GPtrArray *sent;      /* GBytes */
	GPtrArray *delivered; /* GBytes */
} Side;

static GBytes *packet_bytes(const GlowPacketHeader *h, const uint8_t *payload)
{
	guint8 *buf = g_malloc(GLOW_PACKET_HEADER_LEN + h->payload_len);
	glow_packet_encode_header(h, buf);
	if (h->payload_len)
		memcpy(buf + GLOW_PACKET_HEADER_LEN, payload, h->payload_len);
	return g_bytes_new_take(buf, GLOW_PACKET_HEADER_LEN + h->payload_len);
}

static GlowErrorCode on_send(gpointer user, const GlowPacketHeader *h, const uint8_t *payload)
{
	g_ptr_array_add(((Side *)user)->sent, packet_bytes(h, payload));
	return GLOW_OK;
}

static void on_deliver(gpointer user, const GlowPacketHeader *h, const uint8_t *payload)
{
	g_ptr_array_add(((Side *)user)->delivered, packet_bytes(h, payload));
}

static void on_dropped(gpointer user, const GlowPacketHeader *h, GlowErrorCode code, const char *why)
{
	(void)user;
	(void)h;
	g_error("unexpected drop (%u): %s", code, why);
}

static const GlowE2eOutput out = { on_send, on_deliver, on_dropped };

static void assert_bytes(GBytes *got, GBytes *want, const char *what)
{
	gsize n1, n2;
	const guint8 *a = g_bytes_get_data(got, &n1), *b = g_bytes_get_data(want, &n2);
	if (n1 != n2 || memcmp(a, b, n1) != 0) {
		g_autofree char *ga = g_malloc(2 * n1 + 1), *gb = g_malloc(2 * n2 + 1);
		sodium_bin2hex(ga, 2 * n1 + 1, a, n1);
		sodium_bin2hex(gb, 2 * n2 + 1, b, n2);
		g_error("%s differs from the vector:\n got  %s\n want %s", what, ga, gb);
	}
}

/* Feeds a whole packet (vector bytes) to e. */
static gboolean feed(GlowE2e *e, GBytes *pkt)
{
	gsize n;
	const guint8 *p = g_bytes_get_data(pkt, &n);
	GlowPacketHeader h;
	g_assert_cmpint(glow_packet_decode_header(p, n, GLOW_PACKET_MAX_PAYLOAD, &h), ==, GLOW_PKT_DECODE_OK);
	g_assert_cmpuint(GLOW_PACKET_HEADER_LEN + h.payload_len, ==, n);
	return glow_e2e_receive(e, &h, p + GLOW_PACKET_HEADER_LEN, 1000);
}

static void send_inner(GlowE2e *e, GBytes *pkt)
{
	gsize n;
	const guint8 *p = g_bytes_get_data(pkt, &n);
	GlowPacketHeader h;
	g_assert_cmpint(glow_packet_decode_header(p, n, GLOW_PACKET_MAX_PAYLOAD, &h), ==, GLOW_PKT_DECODE_OK);
	g_assert_cmpint(glow_e2e_send(e, &h, p + GLOW_PACKET_HEADER_LEN, 1000), ==, GLOW_OK);
}

static GBytes *last(GPtrArray *a, guint want_len)
{
	g_assert_cmpuint(a->len, ==, want_len);
	return a->pdata[a->len - 1];
}

static void test_session(void)
{
	Vectors vs;
	Side sa = { g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref),
		    g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref) };
	Side sb = { g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref),
		    g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref) };
	GlowE2eConfig cfg;
	GlowIdentity *ia, *ib;
	GlowE2e *a, *b;
	uint8_t x[32];

	load(&vs);
	ia = glow_identity_from_seed(g_bytes_get_data(get(&vs, "seed_a"), NULL));
	ib = glow_identity_from_seed(g_bytes_get_data(get(&vs, "seed_b"), NULL));
	g_assert_cmpmem(ia->id.b, 32, g_bytes_get_data(get(&vs, "node_a"), NULL), 32);
	g_assert_cmpmem(ib->id.b, 32, g_bytes_get_data(get(&vs, "node_b"), NULL), 32);
	g_assert_cmpint(crypto_sign_ed25519_pk_to_curve25519(x, ib->id.b), ==, 0);
	g_assert_cmpmem(x, 32, g_bytes_get_data(get(&vs, "x25519_static_b"), NULL), 32);

	glow_e2e_config_default(&cfg);
	a = glow_e2e_new(ia, &cfg, &out, &sa);
	b = glow_e2e_new(ib, &cfg, &out, &sb);
	glow_e2e_test_fix_next(a, g_bytes_get_data(get(&vs, "ephemeral_priv_a"), NULL), get_u32(&vs, "index_a"));
	glow_e2e_test_fix_next(b, g_bytes_get_data(get(&vs, "ephemeral_priv_b"), NULL), get_u32(&vs, "index_b"));

	/* A has a CALL for B and no session: message 1 goes out, the CALL waits. */
	send_inner(a, get(&vs, "inner_call"));
	assert_bytes(last(sa.sent, 1), get(&vs, "e2e_init"), "A's E2E_INIT");
	g_assert_true(feed(b, get(&vs, "e2e_init")));
	assert_bytes(last(sb.sent, 1), get(&vs, "e2e_resp"), "B's E2E_RESP");
	/* Message 2 completes A's side; the queued CALL leaves sealed with counter 0. */
	g_assert_true(feed(a, get(&vs, "e2e_resp")));
	assert_bytes(last(sa.sent, 2), get(&vs, "sealed_call"), "A's SEALED CALL");
	g_assert_true(feed(b, get(&vs, "sealed_call")));
	assert_bytes(last(sb.delivered, 1), get(&vs, "inner_call"), "the CALL B delivers");
	/* B heard A on the session, so it answers on it. */
	send_inner(b, get(&vs, "inner_reply"));
	assert_bytes(last(sb.sent, 2), get(&vs, "sealed_reply"), "B's SEALED REPLY");
	g_assert_true(feed(a, get(&vs, "sealed_reply")));
	assert_bytes(last(sa.delivered, 1), get(&vs, "inner_reply"), "the REPLY A delivers");
	/* A keepalive (counter 1, empty plaintext) is accepted and delivers nothing. */
	g_assert_true(feed(b, get(&vs, "sealed_keepalive")));
	g_assert_cmpuint(sb.delivered->len, ==, 1);
	/* And none of them twice. */
	g_assert_false(feed(b, get(&vs, "sealed_call")));
	g_assert_false(feed(b, get(&vs, "sealed_keepalive")));
	g_assert_cmpuint(glow_e2e_stats(b)->rejected_replay, ==, 2);

	glow_e2e_free(a);
	glow_e2e_free(b);
	glow_identity_free(ia);
	glow_identity_free(ib);
	g_ptr_array_free(sa.sent, TRUE);
	g_ptr_array_free(sa.delivered, TRUE);
	g_ptr_array_free(sb.sent, TRUE);
	g_ptr_array_free(sb.delivered, TRUE);
	g_hash_table_destroy(vs.v);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	if (sodium_init() < 0)
		return 1;
	g_test_add_func("/e2e-vectors/session", test_session);
	return g_test_run();
}
