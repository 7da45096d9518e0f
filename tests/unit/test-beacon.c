/* test-beacon — the LAN beacon codec, user tag and replay filter.
 *
 * The vector (tests/vectors/beacon.txt, found through GLOW_VECTORS_DIR, set
 * by meson, else "tests/vectors") was written by gen-beacon.py, which shares
 * no code with src/. Malformed beacons are built by hand and signed with the
 * right key, so that a refusal is the field check's and not the signature's.
 */
#include <gio/gio.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "wire/beacon.h"

typedef struct {
	uint8_t seed[32], pk[32], sk[64];
	uint8_t user_pk[32];
	GlowBeacon b;
	GByteArray *wire;
} Vector;

static gboolean hex_decode(const char *hex, GByteArray *out)
{
	guint8 byte = 0;
	gboolean half = FALSE;

	for (const char *p = hex; *p; p++) {
		int v = g_ascii_xdigit_value(*p);
		if (*p == ' ')
			continue;
		if (v < 0)
			return FALSE;
		byte = (guint8)(byte << 4 | v);
		if (half)
			g_byte_array_append(out, &byte, 1);
		half = !half;
	}
	return !half;
}

static void hex_exact(const char *hex, uint8_t *out, size_t n)
{
	g_autoptr(GByteArray) a = g_byte_array_new();
	g_assert_true(hex_decode(hex, a));
	g_assert_cmpuint(a->len, ==, n);
	memcpy(out, a->data, n);
}

static void vector_line(Vector *v, const char *key, const char *value)
{
	if (!strcmp(key, "seed")) {
		hex_exact(value, v->seed, 32);
	} else if (!strcmp(key, "node")) {
		hex_exact(value, v->b.node.b, 32);
	} else if (!strcmp(key, "user_pk")) {
		hex_exact(value, v->user_pk, 32);
	} else if (!strcmp(key, "user_tag")) {
		hex_exact(value, v->b.user_tag, 16);
	} else if (!strcmp(key, "port")) {
		v->b.port = (uint16_t)g_ascii_strtoull(value, NULL, 10);
	} else if (!strcmp(key, "timestamp_ms")) {
		v->b.timestamp_ms = g_ascii_strtoull(value, NULL, 10);
	} else if (!strcmp(key, "invite_open")) {
		v->b.invite_open = strcmp(value, "1") == 0;
	} else if (!strcmp(key, "invite_id")) {
		v->b.invite_id = (uint32_t)g_ascii_strtoull(value, NULL, 0);
	} else if (!strcmp(key, "name")) {
		g_assert_cmpuint(strlen(value), <=, GLOW_BEACON_NAME_MAX);
		g_strlcpy(v->b.name, value, sizeof v->b.name);
	} else if (!strcmp(key, "addr")) {
		g_auto(GStrv) f = g_strsplit(value, " ", -1);
		GlowBeaconAddr *a;
		g_assert_cmpuint(g_strv_length(f), ==, 3);
		g_assert_cmpuint(v->b.n_addrs, <, GLOW_BEACON_MAX_ADDRS);
		a = &v->b.addrs[v->b.n_addrs++];
		a->family = !strcmp(f[0], "4") ? AF_INET : AF_INET6;
		hex_exact(f[1], a->addr, a->family == AF_INET ? 4 : 16);
		a->port = (uint16_t)g_ascii_strtoull(f[2], NULL, 10);
	} else if (!strcmp(key, "hex")) {
		g_assert_true(hex_decode(value, v->wire));
	} else {
		g_error("beacon.txt: unknown key %s", key);
	}
}

static void load_vector(Vector *v)
{
	const char *dir = g_getenv("GLOW_VECTORS_DIR");
	g_autofree char *path = g_build_filename(dir && *dir ? dir : "tests/vectors", "beacon.txt", NULL);
	g_autofree char *text = NULL;
	g_autoptr(GError) error = NULL;
	g_auto(GStrv) lines = NULL;

	memset(v, 0, sizeof *v);
	if (!g_file_get_contents(path, &text, NULL, &error))
		g_error("cannot read the beacon vector: %s (set GLOW_VECTORS_DIR)", error->message);
	v->wire = g_byte_array_new();
	lines = g_strsplit(text, "\n", -1);
	for (guint i = 0; lines[i]; i++) {
		char *line = lines[i], *hash = strchr(line, '#'), *colon;
		if (hash)
			*hash = 0;
		if (!*g_strstrip(line))
			continue;
		colon = strchr(line, ':');
		g_assert_nonnull(colon);
		*colon = 0;
		vector_line(v, g_strstrip(line), g_strstrip(colon + 1));
	}
	crypto_sign_seed_keypair(v->pk, v->sk, v->seed);
}

static void vector_clear(Vector *v)
{
	g_byte_array_unref(v->wire);
}

static void assert_beacon_equal(const GlowBeacon *a, const GlowBeacon *b)
{
	g_assert_true(glow_node_id_equal(&a->node, &b->node));
	g_assert_cmpmem(a->user_tag, 16, b->user_tag, 16);
	g_assert_cmpuint(a->timestamp_ms, ==, b->timestamp_ms);
	g_assert_cmpuint(a->port, ==, b->port);
	g_assert_cmpint(!!a->invite_open, ==, !!b->invite_open);
	g_assert_cmpuint(a->invite_id, ==, b->invite_id);
	g_assert_cmpstr(a->name, ==, b->name);
	g_assert_cmpuint(a->n_addrs, ==, b->n_addrs);
	for (guint i = 0; i < a->n_addrs; i++) {
		size_t n = a->addrs[i].family == AF_INET ? 4 : 16;
		g_assert_cmpint(a->addrs[i].family, ==, b->addrs[i].family);
		g_assert_cmpmem(a->addrs[i].addr, n, b->addrs[i].addr, n);
		g_assert_cmpuint(a->addrs[i].port, ==, b->addrs[i].port);
	}
}

/* Decodes an exact-size heap copy, so ASan sees any read past the end. */
static gboolean decode_exact(const uint8_t *buf, size_t len, GlowBeacon *out, GError **error)
{
	uint8_t *copy = g_memdup2(buf, len ? len : 1);
	gboolean ok = glow_beacon_decode(len ? copy : NULL, len, out, error);
	g_free(copy);
	return ok;
}

static void test_vector(void)
{
	Vector v;
	uint8_t out[GLOW_BEACON_MAX_LEN], tag[16];
	GlowBeacon back;
	g_autoptr(GError) error = NULL;
	size_t n;

	load_vector(&v);
	g_assert_cmpmem(v.pk, 32, v.b.node.b, 32);
	glow_beacon_user_tag(v.user_pk, &v.b.node, v.b.timestamp_ms, tag);
	g_assert_cmpmem(tag, 16, v.b.user_tag, 16);
	n = glow_beacon_encode(&v.b, v.sk, out);
	g_assert_cmpuint(n, ==, 191);
	g_assert_cmpmem(out, n, v.wire->data, v.wire->len);
	g_assert_true(decode_exact(v.wire->data, v.wire->len, &back, &error));
	g_assert_no_error(error);
	assert_beacon_equal(&back, &v.b);
	vector_clear(&v);
}

static void random_beacon(GlowBeacon *b, const uint8_t pk[32], guint i)
{
	memset(b, 0, sizeof *b);
	memcpy(b->node.b, pk, 32);
	randombytes_buf(b->user_tag, sizeof b->user_tag);
	b->timestamp_ms = ((guint64)randombytes_random() << 32) | randombytes_random();
	b->port = (uint16_t)randombytes_random();
	b->invite_open = i & 1;
	b->invite_id = randombytes_uniform(GLOW_BEACON_INVITE_MAX + 1);
	for (guint k = 0, n = i % (GLOW_BEACON_NAME_MAX + 1); k < n; k++)
		b->name[k] = (char)(' ' + randombytes_uniform(0x7f - ' '));
	b->n_addrs = i % (GLOW_BEACON_MAX_ADDRS + 1);
	for (guint k = 0; k < b->n_addrs; k++) {
		b->addrs[k].family = randombytes_uniform(2) ? AF_INET : AF_INET6;
		randombytes_buf(b->addrs[k].addr, b->addrs[k].family == AF_INET ? 4 : 16);
		b->addrs[k].port = (uint16_t)randombytes_random();
	}
}

static void test_roundtrip(void)
{
	uint8_t pk[32], sk[64], out[GLOW_BEACON_MAX_LEN];

	crypto_sign_keypair(pk, sk);
	for (guint i = 0; i < 300; i++) {
		GlowBeacon b, back;
		g_autoptr(GError) error = NULL;
		size_t n;

		random_beacon(&b, pk, i);
		n = glow_beacon_encode(&b, sk, out);
		g_assert_cmpuint(n, >=, GLOW_BEACON_MIN_LEN);
		g_assert_cmpuint(n, <=, GLOW_BEACON_MAX_LEN);
		g_assert_true(decode_exact(out, n, &back, &error));
		g_assert_no_error(error);
		assert_beacon_equal(&back, &b);
	}

	/* The largest beacon: a 63-byte name and 8 IPv6 addresses. */
	GlowBeacon big, back;
	random_beacon(&big, pk, 8);
	memset(big.name, 'x', GLOW_BEACON_NAME_MAX);
	big.name[GLOW_BEACON_NAME_MAX] = 0;
	for (guint k = 0; k < GLOW_BEACON_MAX_ADDRS; k++)
		big.addrs[k].family = AF_INET6;
	size_t n = glow_beacon_encode(&big, sk, out);
	g_assert_cmpuint(n, ==, 69 + 63 + 1 + 8 * 19 + 64);
	g_assert_true(decode_exact(out, n, &back, NULL));
	assert_beacon_equal(&back, &big);
	g_assert_cmpstr(back.name, ==, big.name);

	/* A UTF-8 name of the maximum byte length. */
	g_strlcpy(big.name, "", sizeof big.name);
	for (guint k = 0; k < 21; k++)
		g_strlcat(big.name, "\xe2\x82\xac", sizeof big.name); /* € */
	g_assert_cmpuint(strlen(big.name), ==, 63);
	n = glow_beacon_encode(&big, sk, out);
	g_assert_true(decode_exact(out, n, &back, NULL));
	g_assert_cmpstr(back.name, ==, big.name);
}

/* Any change to any byte breaks the signature, if no field check comes first. */
static void test_corruption(void)
{
	Vector v;
	GlowBeacon out;

	load_vector(&v);
	memset(&out, 0xaa, sizeof out);
	for (guint i = 0; i < v.wire->len; i++) {
		for (guint x = 1; x < 256; x++) {
			g_autoptr(GError) error = NULL;
			GlowBeacon before = out;
			v.wire->data[i] ^= (uint8_t)x;
			if (glow_beacon_decode(v.wire->data, v.wire->len, &out, &error))
				g_error("byte %u ^ 0x%02x accepted", i, x);
			g_assert_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
			g_assert_null(strchr(error->message, '\n'));
			g_assert_cmpmem(&before, sizeof before, &out, sizeof out); /* left alone */
			v.wire->data[i] ^= (uint8_t)x;
		}
	}
	g_assert_true(glow_beacon_decode(v.wire->data, v.wire->len, &out, NULL));
	vector_clear(&v);
}

static void test_truncation_and_trailing(void)
{
	Vector v;
	GlowBeacon out;

	load_vector(&v);
	for (guint n = 0; n < v.wire->len; n++) {
		g_autoptr(GError) error = NULL;
		g_assert_false(decode_exact(v.wire->data, n, &out, &error));
		g_assert_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
	}
	for (guint extra = 1; extra <= GLOW_BEACON_MAX_LEN; extra *= 2) {
		g_autoptr(GError) error = NULL;
		g_autofree uint8_t *longer = g_malloc0(v.wire->len + extra);
		memcpy(longer, v.wire->data, v.wire->len);
		g_assert_false(glow_beacon_decode(longer, v.wire->len + extra, &out, &error));
		g_assert_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
		if (extra == 1)
			g_assert_nonnull(strstr(error->message, "trailing"));
	}
	vector_clear(&v);
}

/* --- hand-built, correctly signed beacons -------------------------------------- */

typedef struct {
	uint8_t b[GLOW_BEACON_MAX_LEN + 64];
	size_t len;
} Raw;

static void raw_put(Raw *r, const void *p, size_t n)
{
	g_assert_cmpuint(r->len + n, <=, sizeof r->b);
	memcpy(r->b + r->len, p, n);
	r->len += n;
}

static void raw_u8(Raw *r, uint8_t v)
{
	raw_put(r, &v, 1);
}

/* The fixed part up to (not including) the name length. */
static void raw_header(Raw *r, const uint8_t pk[32], uint8_t version, uint8_t flags, uint32_t invite)
{
	uint8_t be[8] = { 0 };
	r->len = 0;
	raw_put(r, "GLWB", 4);
	raw_u8(r, version);
	raw_u8(r, flags);
	raw_put(r, "\x1c\x0b", 2);
	raw_put(r, pk, 32);
	raw_put(r, "0123456789abcdef", 16);
	raw_put(r, "\x00\x00\x01\x8b\xcf\xe5\x68\x00", 8);
	be[0] = (uint8_t)(invite >> 24);
	be[1] = (uint8_t)(invite >> 16);
	be[2] = (uint8_t)(invite >> 8);
	be[3] = (uint8_t)invite;
	raw_put(r, be, 4);
}

static void raw_sign(Raw *r, const uint8_t sk[64])
{
	uint8_t msg[16 + sizeof r->b];
	memcpy(msg, GLOW_BEACON_SIG_CONTEXT, 16);
	memcpy(msg + 16, r->b, r->len);
	g_assert_cmpuint(r->len + 64, <=, sizeof r->b);
	crypto_sign_detached(r->b + r->len, NULL, msg, 16 + r->len, sk);
	r->len += 64;
}

/* A whole beacon with this name (n bytes) and no addresses. */
static void raw_named(Raw *r, const uint8_t pk[32], const uint8_t sk[64], const char *name, size_t n)
{
	raw_header(r, pk, 1, 0, 0);
	raw_u8(r, (uint8_t)n);
	raw_put(r, name, n);
	raw_u8(r, 0);
	raw_sign(r, sk);
}

static void expect_refused(const Raw *r, const char *why)
{
	g_autoptr(GError) error = NULL;
	GlowBeacon out;
	if (decode_exact(r->b, r->len, &out, &error))
		g_error("accepted, expected \"%s\"", why);
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
	if (!strstr(error->message, why))
		g_error("refused with \"%s\", expected \"%s\"", error->message, why);
}

static void expect_ok(const Raw *r, GlowBeacon *out)
{
	g_autoptr(GError) error = NULL;
	gboolean ok = decode_exact(r->b, r->len, out, &error);
	g_assert_no_error(error);
	g_assert_true(ok);
}

static const char *const bad_names[] = {
	"tab\there", "new\nline", "\x01", "del\x7f", "esc\x1b[0m", "\xc3\x28", "\xc0\xaf", "\xff",
	"\xed\xa0\x80" /* surrogate */, "\xe2\x82" /* cut short */, "\xf4\x90\x80\x80" /* > U+10FFFF */,
};

static void test_names(void)
{
	uint8_t pk[32], sk[64], out[GLOW_BEACON_MAX_LEN];
	GlowBeacon b, got;
	Raw r;

	crypto_sign_keypair(pk, sk);
	for (size_t i = 0; i < G_N_ELEMENTS(bad_names); i++) {
		random_beacon(&b, pk, 0);
		g_strlcpy(b.name, bad_names[i], sizeof b.name);
		g_assert_cmpuint(glow_beacon_encode(&b, sk, out), ==, 0);
		raw_named(&r, pk, sk, bad_names[i], strlen(bad_names[i]));
		expect_refused(&r, "name");
	}
	/* An embedded NUL is a control character too. */
	raw_named(&r, pk, sk, "a\0b", 3);
	expect_refused(&r, "name");
	/* 64 bytes: too long on the wire; and a name field without its NUL. */
	char long_name[65];
	memset(long_name, 'n', 64);
	raw_named(&r, pk, sk, long_name, 64);
	expect_refused(&r, "name too long");
	random_beacon(&b, pk, 0);
	memset(b.name, 'n', sizeof b.name);
	g_assert_cmpuint(glow_beacon_encode(&b, sk, out), ==, 0);
	/* Good ones: empty, printable ASCII, multi-byte. */
	raw_named(&r, pk, sk, "", 0);
	expect_ok(&r, &got);
	g_assert_cmpstr(got.name, ==, "");
	raw_named(&r, pk, sk, "K\xc3\xbc" "che \xf0\x9f\x92\xa1", 11);
	expect_ok(&r, &got);
	g_assert_cmpstr(got.name, ==, "K\xc3\xbc" "che \xf0\x9f\x92\xa1");
}

static void test_invite_id(void)
{
	uint8_t pk[32], sk[64], out[GLOW_BEACON_MAX_LEN];
	const uint32_t bad[] = { GLOW_BEACON_INVITE_MAX + 1, 0x00800000, 0x80000000, 0xffffffff };
	GlowBeacon b, got;
	Raw r;

	crypto_sign_keypair(pk, sk);
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		random_beacon(&b, pk, 3);
		b.invite_id = bad[i];
		g_assert_cmpuint(glow_beacon_encode(&b, sk, out), ==, 0);
		raw_header(&r, pk, 1, 1, bad[i]);
		raw_u8(&r, 0);
		raw_u8(&r, 0);
		raw_sign(&r, sk);
		expect_refused(&r, "invite id");
	}
	raw_header(&r, pk, 1, 1, GLOW_BEACON_INVITE_MAX);
	raw_u8(&r, 0);
	raw_u8(&r, 0);
	raw_sign(&r, sk);
	expect_ok(&r, &got);
	g_assert_cmpuint(got.invite_id, ==, GLOW_BEACON_INVITE_MAX);
	g_assert_true(got.invite_open);
}

static void test_malformed(void)
{
	uint8_t pk[32], sk[64], pk2[32], sk2[64], out[GLOW_BEACON_MAX_LEN];
	uint8_t v6[16] = { 0xfe, 0x80 };
	GlowBeacon b, got;
	Raw r;

	crypto_sign_keypair(pk, sk);
	crypto_sign_keypair(pk2, sk2);

	raw_header(&r, pk, 2, 0, 0);
	raw_u8(&r, 0);
	raw_u8(&r, 0);
	raw_sign(&r, sk);
	expect_refused(&r, "version");
	r.b[0] = 'X';
	expect_refused(&r, "magic");

	/* Unknown flag bits are ignored, bit 0 is read. */
	raw_header(&r, pk, 1, 0xfe, 0);
	raw_u8(&r, 0);
	raw_u8(&r, 0);
	raw_sign(&r, sk);
	expect_ok(&r, &got);
	g_assert_false(got.invite_open);

	/* Too many addresses, an unknown family, a family with the wrong size. */
	raw_header(&r, pk, 1, 0, 0);
	raw_u8(&r, 0);
	raw_u8(&r, GLOW_BEACON_MAX_ADDRS + 1);
	for (guint i = 0; i < GLOW_BEACON_MAX_ADDRS + 1; i++)
		raw_put(&r, "\x04\x0a\x00\x00\x01\x1c\x0b", 7);
	raw_sign(&r, sk);
	expect_refused(&r, "too many addresses");

	raw_header(&r, pk, 1, 0, 0);
	raw_u8(&r, 0);
	raw_u8(&r, 1);
	raw_put(&r, "\x05\x0a\x00\x00\x01\x1c\x0b", 7);
	raw_sign(&r, sk);
	expect_refused(&r, "family");

	/* Family 6 with 4 address bytes: the rest is read as address, and
	 * then the signature is short. */
	raw_header(&r, pk, 1, 0, 0);
	raw_u8(&r, 0);
	raw_u8(&r, 1);
	raw_put(&r, "\x06\x0a\x00\x00\x01\x1c\x0b", 7);
	raw_sign(&r, sk);
	expect_refused(&r, "signature");

	/* One good IPv6 address; an IPv4 one comes back with zero padding. */
	raw_header(&r, pk, 1, 0, 0);
	raw_u8(&r, 0);
	raw_u8(&r, 2);
	raw_u8(&r, 6);
	raw_put(&r, v6, 16);
	raw_put(&r, "\x00\x01", 2);
	raw_put(&r, "\x04\x0a\x00\x00\x01\xff\xff", 7);
	raw_sign(&r, sk);
	expect_ok(&r, &got);
	g_assert_cmpuint(got.n_addrs, ==, 2);
	g_assert_cmpint(got.addrs[0].family, ==, AF_INET6);
	g_assert_cmpmem(got.addrs[0].addr, 16, v6, 16);
	g_assert_cmpuint(got.addrs[0].port, ==, 1);
	g_assert_cmpint(got.addrs[1].family, ==, AF_INET);
	g_assert_cmpmem(got.addrs[1].addr, 16, "\x0a\x00\x00\x01\0\0\0\0\0\0\0\0\0\0\0\0", 16);
	g_assert_cmpuint(got.addrs[1].port, ==, 0xffff);

	/* Signed by another key than the node ID inside. */
	raw_header(&r, pk, 1, 0, 0);
	raw_u8(&r, 0);
	raw_u8(&r, 0);
	raw_sign(&r, sk2);
	expect_refused(&r, "signature");
	/* Signed without the context prefix. */
	r.len -= 64;
	crypto_sign_detached(r.b + r.len, NULL, r.b, r.len, sk);
	r.len += 64;
	expect_refused(&r, "signature");
	/* A zero (small-order) node key with a zero signature. */
	raw_header(&r, (const uint8_t[32]){ 0 }, 1, 0, 0);
	raw_u8(&r, 0);
	raw_u8(&r, 0);
	memset(r.b + r.len, 0, 64);
	r.len += 64;
	expect_refused(&r, "signature");
	/* Over the maximum length, whatever it holds. */
	uint8_t huge[GLOW_BEACON_MAX_LEN + 1] = { 0 };
	g_assert_false(glow_beacon_decode(huge, sizeof huge, &got, NULL));

	/* The encoder refuses what it could not sign or send. */
	random_beacon(&b, pk, 2);
	g_assert_cmpuint(glow_beacon_encode(&b, sk2, out), ==, 0); /* wrong key */
	g_assert_cmpuint(glow_beacon_encode(&b, sk, out), >, 0);
	b.n_addrs = GLOW_BEACON_MAX_ADDRS + 1;
	g_assert_cmpuint(glow_beacon_encode(&b, sk, out), ==, 0);
	random_beacon(&b, pk, 2);
	b.addrs[0].family = AF_UNIX;
	g_assert_cmpuint(glow_beacon_encode(&b, sk, out), ==, 0);
}

static void test_user_tag(void)
{
	Vector v;
	uint8_t t[16], t2[16], other_pk[32];
	GlowNodeId other_node;

	load_vector(&v);
	glow_beacon_user_tag(v.user_pk, &v.b.node, v.b.timestamp_ms, t);
	g_assert_cmpmem(t, 16, v.b.user_tag, 16);
	/* Every input matters. */
	glow_beacon_user_tag(v.user_pk, &v.b.node, v.b.timestamp_ms + 1, t2);
	g_assert_true(memcmp(t, t2, 16) != 0);
	memcpy(&other_node, &v.b.node, sizeof other_node);
	other_node.b[31] ^= 1;
	glow_beacon_user_tag(v.user_pk, &other_node, v.b.timestamp_ms, t2);
	g_assert_true(memcmp(t, t2, 16) != 0);
	memcpy(other_pk, v.user_pk, 32);
	other_pk[0] ^= 1;
	glow_beacon_user_tag(other_pk, &v.b.node, v.b.timestamp_ms, t2);
	g_assert_true(memcmp(t, t2, 16) != 0);
	vector_clear(&v);
}

/* --- replay filter ---------------------------------------------------------------- */

static GlowBeacon from_node(guint n, guint64 ts)
{
	GlowBeacon b = { .timestamp_ms = ts };
	b.node.b[0] = (uint8_t)n;
	b.node.b[1] = (uint8_t)(n >> 8);
	return b;
}

static void test_filter_window(void)
{
	g_autoptr(GlowBeaconFilter) f = glow_beacon_filter_new(16);
	const guint64 now = 1700000000000ull;
	GlowBeacon b;

	b = from_node(1, now - GLOW_BEACON_FRESH_MS - 1);
	g_assert_false(glow_beacon_filter_accept(f, &b, now)); /* stale */
	b = from_node(1, now + GLOW_BEACON_FRESH_MS + 1);
	g_assert_false(glow_beacon_filter_accept(f, &b, now)); /* from the future */
	b = from_node(1, 0);
	g_assert_false(glow_beacon_filter_accept(f, &b, now));
	b = from_node(1, G_MAXUINT64);
	g_assert_false(glow_beacon_filter_accept(f, &b, now));
	g_assert_cmpuint(glow_beacon_filter_size(f), ==, 0); /* refusals leave no trace */

	b = from_node(1, now - GLOW_BEACON_FRESH_MS); /* the edges are inside */
	g_assert_true(glow_beacon_filter_accept(f, &b, now));
	b = from_node(2, now + GLOW_BEACON_FRESH_MS);
	g_assert_true(glow_beacon_filter_accept(f, &b, now));

	/* A receiver clock near 0 does not wrap. */
	b = from_node(3, 5);
	g_assert_true(glow_beacon_filter_accept(f, &b, 1000));
	b = from_node(4, G_MAXUINT64);
	g_assert_true(glow_beacon_filter_accept(f, &b, G_MAXUINT64 - 10));
	b = from_node(5, 0);
	g_assert_false(glow_beacon_filter_accept(f, &b, G_MAXUINT64));
}

static void test_filter_replay(void)
{
	g_autoptr(GlowBeaconFilter) f = glow_beacon_filter_new(16);
	const guint64 now = 1700000000000ull;
	GlowBeacon b = from_node(7, now);

	g_assert_true(glow_beacon_filter_accept(f, &b, now));
	g_assert_false(glow_beacon_filter_accept(f, &b, now));         /* replayed */
	g_assert_false(glow_beacon_filter_accept(f, &b, now + 5000));  /* still a replay later on */
	b.timestamp_ms = now - 1;
	g_assert_false(glow_beacon_filter_accept(f, &b, now));         /* older than the last */
	b.timestamp_ms = now + 1;
	g_assert_true(glow_beacon_filter_accept(f, &b, now));          /* fresh and newer */
	b.timestamp_ms = now + 1000;
	g_assert_true(glow_beacon_filter_accept(f, &b, now + 1000));
	b.timestamp_ms = now + 500;
	g_assert_false(glow_beacon_filter_accept(f, &b, now + 1000));
	/* Other nodes are independent. */
	GlowBeacon o = from_node(8, now);
	g_assert_true(glow_beacon_filter_accept(f, &o, now + 1000));
	g_assert_cmpuint(glow_beacon_filter_size(f), ==, 2);
}

static void test_filter_bounded(void)
{
	g_autoptr(GlowBeaconFilter) f = glow_beacon_filter_new(4);
	const guint64 now = 1700000000000ull;
	GlowBeacon b;

	for (guint n = 0; n < 10; n++) {
		b = from_node(n, now + n);
		g_assert_true(glow_beacon_filter_accept(f, &b, now));
		g_assert_cmpuint(glow_beacon_filter_size(f), <=, 4);
	}
	g_assert_cmpuint(glow_beacon_filter_size(f), ==, 4);
	/* Nodes 6..9 are remembered: their replays are refused. */
	for (guint n = 6; n < 10; n++) {
		b = from_node(n, now + n);
		g_assert_false(glow_beacon_filter_accept(f, &b, now));
	}
	/* Least recently updated goes first: refresh 6, add 10, and 7 is out, 6 is not. */
	b = from_node(6, now + 100);
	g_assert_true(glow_beacon_filter_accept(f, &b, now));
	b = from_node(10, now + 100);
	g_assert_true(glow_beacon_filter_accept(f, &b, now));
	b = from_node(6, now + 100);
	g_assert_false(glow_beacon_filter_accept(f, &b, now));
	b = from_node(7, now + 7);
	g_assert_true(glow_beacon_filter_accept(f, &b, now)); /* forgotten (see beacon.h) */
	g_assert_cmpuint(glow_beacon_filter_size(f), ==, 4);
	/* Still works after many rounds of eviction. */
	for (guint n = 0; n < 1000; n++) {
		b = from_node(100 + n % 37, now + n);
		g_assert_true(glow_beacon_filter_accept(f, &b, now));
		g_assert_cmpuint(glow_beacon_filter_size(f), <=, 4);
	}

	/* max_nodes 0 is taken as 1. */
	g_autoptr(GlowBeaconFilter) one = glow_beacon_filter_new(0);
	b = from_node(1, now);
	g_assert_true(glow_beacon_filter_accept(one, &b, now));
	g_assert_false(glow_beacon_filter_accept(one, &b, now));
	g_assert_cmpuint(glow_beacon_filter_size(one), ==, 1);
	glow_beacon_filter_free(NULL);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	if (sodium_init() < 0)
		return 1;
	g_test_add_func("/beacon/vector", test_vector);
	g_test_add_func("/beacon/roundtrip", test_roundtrip);
	g_test_add_func("/beacon/corruption", test_corruption);
	g_test_add_func("/beacon/truncation-trailing", test_truncation_and_trailing);
	g_test_add_func("/beacon/names", test_names);
	g_test_add_func("/beacon/invite-id", test_invite_id);
	g_test_add_func("/beacon/malformed", test_malformed);
	g_test_add_func("/beacon/user-tag", test_user_tag);
	g_test_add_func("/beacon/filter-window", test_filter_window);
	g_test_add_func("/beacon/filter-replay", test_filter_replay);
	g_test_add_func("/beacon/filter-bounded", test_filter_bounded);
	return g_test_run();
}
