/* test-noise.c — the Noise module against three independent sets of test
 * vectors (cacophony, snow, noise-c; see tests/vectors/noise/README.md),
 * plus the failure paths that vectors cannot show: tampering, replay,
 * rekey, buffer bounds, wrong turn, low-order keys and refused names.
 *
 * The vector directory comes from GLOW_NOISE_VECTORS_DIR, else
 * "tests/vectors/noise" relative to the current directory.
 */
#include "link/noise.h"

#include <string.h>

#include <glib.h>
#include <json-glib/json-glib.h>
#include <sodium.h>

#define NPATTERNS 15
#define NHASHES 2
#define NFILES 3
#define BUF_SIZE (GLOW_NOISE_MAX_MSG + 1024)

static const char *const patterns[NPATTERNS] = {
	"N", "K", "X", "NN", "NK", "NX", "XN", "XK", "XX", "KN", "KK", "KX", "IN", "IK", "IX",
};
static const char *const hashes[NHASHES] = { "BLAKE2b", "SHA256" };
static const char *const files[NFILES] = { "cacophony", "snow", "noise-c-basic" };

/* The patterns the brief singles out: every entry of them, in every file,
 * for both hashes, must have run. README: each file has all of them. */
static const char *const core_patterns[] = { "XX", "IK", "NN" };
#define CORE_EXPECTED (NFILES * 3 * NHASHES)

typedef struct {
	int file;
	int pattern;
	int hash;
	char *name;
	JsonObject *obj;
} Vector;

static int present[NFILES][NPATTERNS][NHASHES];
static int exercised[NFILES][NPATTERNS][NHASHES];
static int skipped[NFILES];
static int started;

/* ------------------------------------------------------------------ */
/* small helpers                                                       */
/* ------------------------------------------------------------------ */

static int index_of(const char *const *list, int n, const char *s)
{
	for (int i = 0; i < n; i++) {
		if (strcmp(list[i], s) == 0)
			return i;
	}
	return -1;
}

static bool one_way(const char *pattern)
{
	return strlen(pattern) == 1;
}

static guint8 *unhex(const char *hex, gsize *len)
{
	gsize n = strlen(hex);
	guint8 *out;

	g_assert_cmpuint(n % 2, ==, 0);
	out = g_malloc(n / 2 + 1);
	for (gsize i = 0; i < n / 2; i++) {
		int hi = g_ascii_xdigit_value(hex[2 * i]);
		int lo = g_ascii_xdigit_value(hex[2 * i + 1]);

		g_assert_true(hi >= 0 && lo >= 0);
		out[i] = (guint8)(hi << 4 | lo);
	}
	*len = n / 2;
	return out;
}

static char *tohex(const guint8 *b, gsize len)
{
	GString *s = g_string_sized_new(len * 2 + 1);

	for (gsize i = 0; i < len; i++)
		g_string_append_printf(s, "%02x", b[i]);
	return g_string_free(s, FALSE);
}

/* NULL when the member is absent. */
static guint8 *member_hex(JsonObject *o, const char *member, gsize *len)
{
	*len = 0;
	if (!json_object_has_member(o, member))
		return NULL;
	return unhex(json_object_get_string_member(o, member), len);
}

static guint8 *member_key(JsonObject *o, const char *member)
{
	gsize len;
	guint8 *k = member_hex(o, member, &len);

	if (k != NULL)
		g_assert_cmpuint(len, ==, 32);
	return k;
}

/* Reports a mismatch with the vector and message it belongs to; the
 * caller returns at once so the first difference is the one reported. */
static bool same(const Vector *v, int idx, const char *what,
                 const guint8 *got, long gotlen, const guint8 *want, gsize wantlen)
{
	g_autofree char *g = NULL, *w = NULL;

	if (gotlen >= 0 && (gsize)gotlen == wantlen && memcmp(got, want, wantlen) == 0)
		return true;
	g = gotlen >= 0 ? tohex(got, (gsize)gotlen) : g_strdup("(failed)");
	w = tohex(want, wantlen);
	g_test_fail_printf("%s %s message %d: %s mismatch\n  got  %s\n  want %s",
	                   files[v->file], v->name, idx, what, g, w);
	return false;
}

static void public_key(const guint8 priv[32], guint8 pub[32])
{
	g_assert_cmpint(crypto_scalarmult_base(pub, priv), ==, 0);
}

/* ------------------------------------------------------------------ */
/* vector runner                                                       */
/* ------------------------------------------------------------------ */

typedef struct {
	guint8 *prologue, *s, *rs, *e;
	gsize prologue_len;
} SideKeys;

static void side_load(JsonObject *o, const char *side, SideKeys *k)
{
	g_autofree char *pro = g_strdup_printf("%s_prologue", side);
	g_autofree char *s = g_strdup_printf("%s_static", side);
	g_autofree char *rs = g_strdup_printf("%s_remote_static", side);
	g_autofree char *e = g_strdup_printf("%s_ephemeral", side);

	k->prologue = member_hex(o, pro, &k->prologue_len);
	k->s = member_key(o, s);
	k->rs = member_key(o, rs);
	k->e = member_key(o, e);
}

static void side_free(SideKeys *k)
{
	g_free(k->prologue);
	g_free(k->s);
	g_free(k->rs);
	g_free(k->e);
}

static bool side_init(const Vector *v, const SideKeys *k, bool initiator, GlowNoiseHandshake *hs)
{
	GlowNoiseConfig cfg = {
		.protocol_name = v->name,
		.initiator = initiator,
		.prologue = k->prologue,
		.prologue_len = k->prologue_len,
		.s_priv = k->s,
		.rs_pub = k->rs,
		.e_priv = k->e,
	};

	if (glow_noise_handshake_init(hs, &cfg) == 0)
		return true;
	g_test_fail_printf("%s %s: init as %s refused", files[v->file], v->name,
	                   initiator ? "initiator" : "responder");
	return false;
}

static void message_at(const Vector *v, guint i, guint8 **pl, gsize *pl_len,
                       guint8 **ct, gsize *ct_len)
{
	JsonArray *msgs = json_object_get_array_member(v->obj, "messages");
	JsonObject *m;

	if (i >= json_array_get_length(msgs))
		g_error("%s %s: vector has only %u messages", files[v->file], v->name,
		        json_array_get_length(msgs));
	m = json_array_get_object_element(msgs, i);
	*pl = member_hex(m, "payload", pl_len);
	*ct = member_hex(m, "ciphertext", ct_len);
	g_assert_nonnull(*pl);
	g_assert_nonnull(*ct);
}

/* One handshake message: the writer must produce the vector's bytes and
 * the reader must recover the payload from the vector's bytes. */
static bool handshake_step(const Vector *v, guint i, GlowNoiseHandshake *w, GlowNoiseHandshake *r,
                           guint8 *buf)
{
	g_autofree guint8 *pl = NULL, *ct = NULL;
	gsize pl_len, ct_len;
	long n;

	message_at(v, i, &pl, &pl_len, &ct, &ct_len);
	if (!glow_noise_handshake_my_turn(w) || glow_noise_handshake_my_turn(r)) {
		g_test_fail_printf("%s %s message %u: wrong turn", files[v->file], v->name, i);
		return false;
	}
	n = glow_noise_write_message(w, pl, pl_len, buf, BUF_SIZE);
	if (!same(v, (int)i, "handshake ciphertext", buf, n, ct, ct_len))
		return false;
	n = glow_noise_read_message(r, ct, ct_len, buf, BUF_SIZE);
	return same(v, (int)i, "handshake payload", buf, n, pl, pl_len);
}

static bool transport_step(const Vector *v, guint i, GlowNoiseCipher *enc, GlowNoiseCipher *dec,
                           guint8 *buf)
{
	g_autofree guint8 *pl = NULL, *ct = NULL;
	gsize pl_len, ct_len;
	long n;

	message_at(v, i, &pl, &pl_len, &ct, &ct_len);
	n = glow_noise_cipher_encrypt(enc, NULL, 0, pl, pl_len, buf) == 0 ? (long)(pl_len + 16) : -1;
	if (!same(v, (int)i, "transport ciphertext", buf, n, ct, ct_len))
		return false;
	n = ct_len >= 16 && glow_noise_cipher_decrypt(dec, NULL, 0, ct, ct_len, buf) == 0
	            ? (long)(ct_len - 16) : -1;
	return same(v, (int)i, "transport payload", buf, n, pl, pl_len);
}

/* The peer's static key must be known exactly when the pattern sends or
 * pre-shares it. */
static bool check_remote_static(const Vector *v, const GlowNoiseHandshake *hs, const guint8 *peer_priv,
                                bool used)
{
	const guint8 *rs = glow_noise_remote_static(hs);
	guint8 pub[32];

	if (!used) {
		if (rs == NULL)
			return true;
		g_test_fail_printf("%s %s: unexpected remote static", files[v->file], v->name);
		return false;
	}
	g_assert_nonnull(peer_priv);
	public_key(peer_priv, pub);
	return same(v, -1, "remote static", rs, rs ? 32 : -1, pub, 32);
}

static bool check_split(const Vector *v, GlowNoiseHandshake *hi, GlowNoiseHandshake *hr,
                        GlowNoiseCipher c[4])
{
	guint8 h_i[GLOW_NOISE_MAX_HASHLEN], h_r[GLOW_NOISE_MAX_HASHLEN];
	size_t len_i, len_r;
	g_autofree guint8 *want = NULL;
	gsize want_len;

	glow_noise_split(hi, &c[0], &c[1], h_i, &len_i);
	glow_noise_split(hr, &c[2], &c[3], h_r, &len_r);
	g_assert_cmpuint(len_i, ==, v->hash == 0 ? 64 : 32);
	if (!same(v, -1, "handshake hash (responder vs initiator)", h_r, (long)len_r, h_i, len_i))
		return false;
	want = member_hex(v->obj, "handshake_hash", &want_len);
	return want == NULL || same(v, -1, "handshake_hash", h_i, (long)len_i, want, want_len);
}

static void test_vector(gconstpointer data)
{
	const Vector *v = data;
	const char *pattern = patterns[v->pattern];
	GlowNoiseHandshake hi, hr;
	GlowNoiseCipher c[4]; /* initiator c1, c2; responder c1, c2 */
	SideKeys ki = { 0 }, kr = { 0 };
	g_autofree guint8 *buf = g_malloc(BUF_SIZE);
	guint nmsgs = json_array_get_length(json_object_get_array_member(v->obj, "messages"));
	guint i = 0;
	bool ok;

	started++;
	side_load(v->obj, "init", &ki);
	side_load(v->obj, "resp", &kr);
	ok = side_init(v, &ki, true, &hi);
	ok = ok && side_init(v, &kr, false, &hr);

	/* One-way patterns send everything initiator -> responder. */
	while (ok && !(glow_noise_handshake_done(&hi) && glow_noise_handshake_done(&hr))) {
		bool from_i = one_way(pattern) || i % 2 == 0;

		ok = handshake_step(v, i, from_i ? &hi : &hr, from_i ? &hr : &hi, buf);
		i++;
	}
	ok = ok && check_remote_static(v, &hi, kr.s, one_way(pattern) || pattern[1] != 'N');
	ok = ok && check_remote_static(v, &hr, ki.s, pattern[0] != 'N');
	ok = ok && check_split(v, &hi, &hr, c);
	for (; ok && i < nmsgs; i++) {
		bool from_i = one_way(pattern) || i % 2 == 0;

		ok = from_i ? transport_step(v, i, &c[0], &c[2], buf)
		            : transport_step(v, i, &c[3], &c[1], buf);
	}

	glow_noise_handshake_clear(&hi);
	glow_noise_handshake_clear(&hr);
	side_free(&ki);
	side_free(&kr);
	if (ok && !g_test_failed())
		exercised[v->file][v->pattern][v->hash]++;
}

/* ------------------------------------------------------------------ */
/* vector loading                                                      */
/* ------------------------------------------------------------------ */

/* Splits "Noise_<P>_25519_ChaChaPoly_<H>" without using the module, so a
 * parsing bug there cannot hide vectors from the test. */
static bool classify(const char *name, int *pattern, int *hash)
{
	g_auto(GStrv) parts = g_strsplit(name, "_", -1);

	if (g_strv_length(parts) != 5 || strcmp(parts[0], "Noise") != 0 ||
	    strcmp(parts[2], "25519") != 0 || strcmp(parts[3], "ChaChaPoly") != 0)
		return false;
	*pattern = index_of(patterns, NPATTERNS, parts[1]);
	*hash = index_of(hashes, NHASHES, parts[4]);
	return *pattern >= 0 && *hash >= 0;
}

static void vector_free(gpointer p)
{
	Vector *v = p;

	json_object_unref(v->obj);
	g_free(v->name);
	g_free(v);
}

static void add_vector(GPtrArray *all, int file, guint idx, JsonObject *o)
{
	const char *name = json_object_get_string_member_with_default(
		o, "protocol_name", json_object_get_string_member_with_default(o, "name", NULL));
	Vector *v;
	g_autofree char *path = NULL;
	int pattern, hash;

	if (name == NULL)
		g_error("%s entry %u has no protocol name", files[file], idx);
	if (!classify(name, &pattern, &hash)) {
		skipped[file]++;
		return;
	}
	v = g_new0(Vector, 1);
	v->file = file;
	v->pattern = pattern;
	v->hash = hash;
	v->name = g_strdup(name);
	v->obj = json_object_ref(o);
	g_ptr_array_add(all, v);
	present[file][pattern][hash]++;
	path = g_strdup_printf("/noise/vector/%s/%03u-%s", files[file], idx, name);
	g_test_add_data_func(path, v, test_vector);
}

static void load_file(GPtrArray *all, const char *dir, int file)
{
	g_autofree char *base = g_strdup_printf("%s-25519-chachapoly.json", files[file]);
	g_autofree char *path = g_build_filename(dir, base, NULL);
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autoptr(GError) err = NULL;
	JsonNode *root;
	JsonArray *vectors;

	if (!json_parser_load_from_file(parser, path, &err))
		g_error("cannot load %s: %s (set GLOW_NOISE_VECTORS_DIR)", path, err->message);
	root = json_parser_get_root(parser);
	if (!JSON_NODE_HOLDS_OBJECT(root) ||
	    !json_object_has_member(json_node_get_object(root), "vectors"))
		g_error("%s: no top-level \"vectors\" array", path);
	vectors = json_object_get_array_member(json_node_get_object(root), "vectors");
	for (guint i = 0; i < json_array_get_length(vectors); i++)
		add_vector(all, file, i, json_array_get_object_element(vectors, i));
}

static void test_coverage(void)
{
	int core_present = 0, core_exercised = 0;

	if (started == 0) {
		g_test_skip("vector tests were filtered out");
		return;
	}
	for (int f = 0; f < NFILES; f++) {
		g_test_message("%s: %d psk/deferred/other entries skipped", files[f], skipped[f]);
		for (int p = 0; p < NPATTERNS; p++) {
			for (int h = 0; h < NHASHES; h++) {
				bool core = index_of(core_patterns, 3, patterns[p]) >= 0;

				g_test_message("%s %s %s: %d of %d", files[f], patterns[p], hashes[h],
				               exercised[f][p][h], present[f][p][h]);
				g_assert_cmpint(exercised[f][p][h], ==, present[f][p][h]);
				core_present += core ? present[f][p][h] : 0;
				core_exercised += core ? exercised[f][p][h] : 0;
			}
		}
	}
	g_assert_cmpint(core_exercised, ==, core_present);
	g_assert_cmpint(core_present, ==, CORE_EXPECTED);
}

/* ------------------------------------------------------------------ */
/* handshakes with fresh keys                                          */
/* ------------------------------------------------------------------ */

typedef struct {
	guint8 i_priv[32], i_pub[32], r_priv[32], r_pub[32];
	GlowNoiseHandshake hi, hr;
} Pair;

/* Both sides get every key; the module must ignore the ones the pattern
 * does not use. */
static void pair_init(Pair *p, const char *name)
{
	GlowNoiseConfig ci = { .protocol_name = name, .initiator = true,
	                       .prologue = (const guint8 *)"glow", .prologue_len = 4 };
	GlowNoiseConfig cr = ci;

	glow_noise_keypair(p->i_priv, p->i_pub);
	glow_noise_keypair(p->r_priv, p->r_pub);
	ci.s_priv = p->i_priv;
	ci.rs_pub = p->r_pub;
	cr.initiator = false;
	cr.s_priv = p->r_priv;
	cr.rs_pub = p->i_pub;
	g_assert_cmpint(glow_noise_handshake_init(&p->hi, &ci), ==, 0);
	g_assert_cmpint(glow_noise_handshake_init(&p->hr, &cr), ==, 0);
}

/* Sends one handshake message with a short payload; returns its length. */
static long pair_step(GlowNoiseHandshake *w, GlowNoiseHandshake *r, guint8 *msg)
{
	static const guint8 payload[] = "payload";
	guint8 out[64];
	long n = glow_noise_write_message(w, payload, sizeof payload, msg, BUF_SIZE);

	g_assert_cmpint(n, >, 0);
	g_assert_cmpint(glow_noise_read_message(r, msg, (size_t)n, out, sizeof out), ==, sizeof payload);
	g_assert_cmpmem(out, sizeof payload, payload, sizeof payload);
	return n;
}

static void pair_run(Pair *p)
{
	g_autofree guint8 *msg = g_malloc(BUF_SIZE);

	while (!glow_noise_handshake_done(&p->hi)) {
		if (glow_noise_handshake_my_turn(&p->hi))
			pair_step(&p->hi, &p->hr, msg);
		else
			pair_step(&p->hr, &p->hi, msg);
	}
	g_assert_true(glow_noise_handshake_done(&p->hr));
}

/* Completed XX handshake, split into transport ciphers. */
static void xx_session(GlowNoiseCipher *i1, GlowNoiseCipher *i2, GlowNoiseCipher *r1,
                       GlowNoiseCipher *r2)
{
	Pair p;

	pair_init(&p, "Noise_XX_25519_ChaChaPoly_BLAKE2b");
	pair_run(&p);
	glow_noise_split(&p.hi, i1, i2, NULL, NULL);
	glow_noise_split(&p.hr, r1, r2, NULL, NULL);
	glow_noise_handshake_clear(&p.hi);
	glow_noise_handshake_clear(&p.hr);
}

static void send_ok(GlowNoiseCipher *enc, GlowNoiseCipher *dec, const char *text)
{
	guint8 ct[128], pt[128];
	size_t len = strlen(text);

	g_assert_cmpint(glow_noise_cipher_encrypt(enc, NULL, 0, (const guint8 *)text, len, ct), ==, 0);
	g_assert_cmpint(glow_noise_cipher_decrypt(dec, NULL, 0, ct, len + 16, pt), ==, 0);
	g_assert_cmpmem(pt, len, text, len);
}

static void test_all_patterns_random_keys(void)
{
	for (int p = 0; p < NPATTERNS; p++) {
		for (int h = 0; h < NHASHES; h++) {
			g_autofree char *name = g_strdup_printf("Noise_%s_25519_ChaChaPoly_%s",
			                                        patterns[p], hashes[h]);
			bool ow = one_way(patterns[p]);
			guint8 h_i[64], h_r[64];
			size_t len_i, len_r;
			GlowNoiseCipher i1, i2, r1, r2;
			Pair pair;

			pair_init(&pair, name);
			pair_run(&pair);
			if (ow || patterns[p][1] != 'N')
				g_assert_cmpmem(glow_noise_remote_static(&pair.hi), 32, pair.r_pub, 32);
			else
				g_assert_null(glow_noise_remote_static(&pair.hi));
			if (patterns[p][0] != 'N')
				g_assert_cmpmem(glow_noise_remote_static(&pair.hr), 32, pair.i_pub, 32);
			else
				g_assert_null(glow_noise_remote_static(&pair.hr));
			glow_noise_split(&pair.hi, &i1, &i2, h_i, &len_i);
			glow_noise_split(&pair.hr, &r1, &r2, h_r, &len_r);
			g_assert_cmpmem(h_i, len_i, h_r, len_r);
			send_ok(&i1, &r1, "initiator to responder");
			if (!ow)
				send_ok(&r2, &i2, "responder to initiator");
			/* Split is one-shot: ck is gone, so a second call must
			 * not hand out keys. */
			glow_noise_split(&pair.hi, &i1, &i2, h_i, &len_i);
			g_assert_cmpuint(len_i, ==, 0);
			g_assert_cmpint(glow_noise_cipher_encrypt(&i1, NULL, 0, h_i, 1, h_r), ==, -1);
			glow_noise_handshake_clear(&pair.hi);
			glow_noise_handshake_clear(&pair.hr);
		}
	}
}

/* ------------------------------------------------------------------ */
/* negative tests                                                      */
/* ------------------------------------------------------------------ */

static void assert_dead(GlowNoiseHandshake *hs)
{
	guint8 buf[256];

	g_assert_true(hs->failed);
	/* A failure wipes the secrets, not just the flag. */
	g_assert_true(sodium_is_zero(hs->s_priv, sizeof hs->s_priv));
	g_assert_true(sodium_is_zero(hs->e_priv, sizeof hs->e_priv));
	g_assert_true(sodium_is_zero(hs->ss.ck, sizeof hs->ss.ck));
	g_assert_true(sodium_is_zero(hs->ss.cs.k, sizeof hs->ss.cs.k));
	g_assert_false(glow_noise_handshake_done(hs));
	g_assert_false(glow_noise_handshake_my_turn(hs));
	g_assert_null(glow_noise_remote_static(hs));
	g_assert_cmpint(glow_noise_write_message(hs, NULL, 0, buf, sizeof buf), ==, -1);
	memset(buf, 0, sizeof buf);
	g_assert_cmpint(glow_noise_read_message(hs, buf, 96, buf, sizeof buf), ==, -1);
}

static void test_tampered(void)
{
	/* Positions in XX msg 2 (e || enc(s) || enc(payload)): the clear
	 * ephemeral, the encrypted static, its tag, the payload tag. */
	static const size_t where[] = { 0, 31, 32, 50, 64 + 15, SIZE_MAX /* last byte */ };

	for (size_t k = 0; k < G_N_ELEMENTS(where); k++) {
		g_autofree guint8 *msg = g_malloc(BUF_SIZE);
		guint8 saved[256], out[64];
		GlowNoiseCipher c1, c2;
		size_t hl;
		long n;
		Pair p;

		pair_init(&p, "Noise_XX_25519_ChaChaPoly_BLAKE2b");
		pair_step(&p.hi, &p.hr, msg);
		n = glow_noise_write_message(&p.hr, (const guint8 *)"hi", 2, msg, BUF_SIZE);
		g_assert_cmpint(n, ==, 32 + 48 + 2 + 16);
		memcpy(saved, msg, (size_t)n);
		msg[where[k] == SIZE_MAX ? (size_t)n - 1 : where[k]] ^= 0x01;

		g_assert_cmpint(glow_noise_read_message(&p.hi, msg, (size_t)n, out, sizeof out), ==, -1);
		assert_dead(&p.hi);
		/* Dead for good: not even the genuine message revives it. */
		g_assert_cmpint(glow_noise_read_message(&p.hi, saved, (size_t)n, out, sizeof out), ==, -1);
		glow_noise_split(&p.hi, &c1, &c2, out, &hl);
		g_assert_cmpuint(hl, ==, 0);
		g_assert_cmpint(glow_noise_cipher_encrypt(&c1, NULL, 0, out, 1, msg), ==, -1);
		g_assert_cmpint(glow_noise_cipher_decrypt(&c2, NULL, 0, saved, 17, out), ==, -1);
		glow_noise_handshake_clear(&p.hr);
	}
}

static void test_replay(void)
{
	GlowNoiseCipher i1, i2, r1, r2;
	guint8 a[64], b[64], pt[64];
	uint64_t n;

	xx_session(&i1, &i2, &r1, &r2);
	g_assert_cmpint(glow_noise_cipher_encrypt(&i1, NULL, 0, (const guint8 *)"first", 5, a), ==, 0);
	g_assert_cmpint(glow_noise_cipher_decrypt(&r1, NULL, 0, a, 21, pt), ==, 0);
	n = r1.n;
	g_assert_cmpint(glow_noise_cipher_decrypt(&r1, NULL, 0, a, 21, pt), ==, -1);
	g_assert_cmpuint(r1.n, ==, n); /* a failure does not move the nonce */

	/* Out of order is refused too: the receiver expects nonce n. */
	g_assert_cmpint(glow_noise_cipher_encrypt(&i1, NULL, 0, (const guint8 *)"second", 6, a), ==, 0);
	g_assert_cmpint(glow_noise_cipher_encrypt(&i1, NULL, 0, (const guint8 *)"third", 5, b), ==, 0);
	g_assert_cmpint(glow_noise_cipher_decrypt(&r1, NULL, 0, b, 21, pt), ==, -1);
	g_assert_cmpint(glow_noise_cipher_decrypt(&r1, NULL, 0, a, 22, pt), ==, 0);
	g_assert_cmpint(glow_noise_cipher_decrypt(&r1, NULL, 0, b, 21, pt), ==, 0);
	g_assert_cmpmem(pt, 5, "third", 5);

	/* A message for the other direction does not decrypt here. */
	g_assert_cmpint(glow_noise_cipher_encrypt(&r2, NULL, 0, (const guint8 *)"x", 1, a), ==, 0);
	g_assert_cmpint(glow_noise_cipher_decrypt(&r1, NULL, 0, a, 17, pt), ==, -1);
	/* Associated data is authenticated. */
	g_assert_cmpint(glow_noise_cipher_encrypt(&i1, (const guint8 *)"ad", 2,
	                                          (const guint8 *)"y", 1, a), ==, 0);
	g_assert_cmpint(glow_noise_cipher_decrypt(&r1, (const guint8 *)"AD", 2, a, 17, pt), ==, -1);
	g_assert_cmpint(glow_noise_cipher_decrypt(&r1, (const guint8 *)"ad", 2, a, 17, pt), ==, 0);
}

static void test_rekey(void)
{
	GlowNoiseCipher i1, i2, r1, r2;
	guint8 zeros[32] = { 0 }, want[48], old_k[32], ct[64], pt[64];
	guint8 nonce[12];
	uint64_t n;

	xx_session(&i1, &i2, &r1, &r2);
	send_ok(&i1, &r1, "before");

	/* The spec's formula, computed directly with libsodium. */
	memcpy(old_k, i1.k, 32);
	memset(nonce, 0, 4);
	memset(nonce + 4, 0xff, 8);
	g_assert_cmpint(crypto_aead_chacha20poly1305_ietf_encrypt(want, NULL, zeros, 32, NULL, 0,
	                                                          NULL, nonce, old_k), ==, 0);
	n = i1.n;
	glow_noise_cipher_rekey(&i1);
	glow_noise_cipher_rekey(&r1);
	g_assert_cmpmem(i1.k, 32, want, 32);
	g_assert_cmpuint(i1.n, ==, n); /* Rekey() leaves n alone */
	send_ok(&i1, &r1, "after one rekey");
	send_ok(&r2, &i2, "other direction untouched");

	/* Only the sender rekeys: the receiver's key is stale. */
	glow_noise_cipher_rekey(&i1);
	g_assert_cmpint(glow_noise_cipher_encrypt(&i1, NULL, 0, (const guint8 *)"new", 3, ct), ==, 0);
	g_assert_cmpint(glow_noise_cipher_decrypt(&r1, NULL, 0, ct, 19, pt), ==, -1);
	glow_noise_cipher_rekey(&r1);
	g_assert_cmpint(glow_noise_cipher_decrypt(&r1, NULL, 0, ct, 19, pt), ==, 0);
	g_assert_cmpmem(pt, 3, "new", 3);
	send_ok(&i1, &r1, "in sync again");
}

static void test_nonce_limit(void)
{
	GlowNoiseCipher i1, i2, r1, r2, plain = { 0 };
	guint8 ct[64], pt[64];

	xx_session(&i1, &i2, &r1, &r2);
	i1.n = r1.n = UINT64_MAX - 1;
	send_ok(&i1, &r1, "last one");
	g_assert_cmpuint(i1.n, ==, UINT64_MAX);
	g_assert_cmpint(glow_noise_cipher_encrypt(&i1, NULL, 0, pt, 1, ct), ==, -1);
	g_assert_cmpint(glow_noise_cipher_decrypt(&r1, NULL, 0, ct, 17, pt), ==, -1);
	g_assert_cmpint(glow_noise_cipher_decrypt(&i2, NULL, 0, ct, 15, pt), ==, -1); /* < tag */

	/* A cleared cipher refuses, rather than passing plaintext through. */
	glow_noise_cipher_clear(&i2);
	g_assert_cmpint(glow_noise_cipher_encrypt(&i2, NULL, 0, pt, 1, ct), ==, -1);
	/* The spec's keyless CipherState does copy through. */
	g_assert_cmpint(glow_noise_cipher_encrypt(&plain, NULL, 0, (const guint8 *)"abc", 3, ct), ==, 0);
	g_assert_cmpmem(ct, 3, "abc", 3);
}

static void test_buffers(void)
{
	g_autofree guint8 *big = g_malloc0(BUF_SIZE);
	g_autofree guint8 *msg = g_malloc0(BUF_SIZE);
	guint8 small[8];
	long n;
	Pair p;

	/* out_cap one byte short. */
	pair_init(&p, "Noise_NN_25519_ChaChaPoly_BLAKE2b");
	g_assert_cmpint(glow_noise_write_message(&p.hi, big, 10, msg, 32 + 10 - 1), ==, -1);
	assert_dead(&p.hi);
	glow_noise_handshake_clear(&p.hr);

	/* Largest legal message: 65535 bytes; one more is refused. */
	pair_init(&p, "Noise_NN_25519_ChaChaPoly_BLAKE2b");
	g_assert_cmpint(glow_noise_write_message(&p.hi, big, GLOW_NOISE_MAX_MSG - 32 + 1, msg, BUF_SIZE),
	                ==, -1);
	assert_dead(&p.hi);
	pair_init(&p, "Noise_NN_25519_ChaChaPoly_BLAKE2b");
	n = glow_noise_write_message(&p.hi, big, GLOW_NOISE_MAX_MSG - 32, msg, BUF_SIZE);
	g_assert_cmpint(n, ==, GLOW_NOISE_MAX_MSG);
	g_assert_cmpint(glow_noise_read_message(&p.hr, msg, (size_t)n, big, BUF_SIZE), ==, n - 32);
	glow_noise_handshake_clear(&p.hi);
	glow_noise_handshake_clear(&p.hr);

	/* Reader side: message over 65535, payload_cap too small, short
	 * messages (shorter than the tokens, and one byte short of a tag). */
	pair_init(&p, "Noise_NN_25519_ChaChaPoly_BLAKE2b");
	g_assert_cmpint(glow_noise_read_message(&p.hr, msg, GLOW_NOISE_MAX_MSG + 1, big, BUF_SIZE), ==, -1);
	assert_dead(&p.hr);
	pair_init(&p, "Noise_NN_25519_ChaChaPoly_BLAKE2b");
	n = glow_noise_write_message(&p.hi, big, 9, msg, BUF_SIZE);
	g_assert_cmpint(glow_noise_read_message(&p.hr, msg, (size_t)n, small, sizeof small), ==, -1);
	assert_dead(&p.hr);

	pair_init(&p, "Noise_XX_25519_ChaChaPoly_SHA256");
	pair_step(&p.hi, &p.hr, msg);
	n = glow_noise_write_message(&p.hr, NULL, 0, msg, BUF_SIZE);
	g_assert_cmpint(n, ==, 32 + 48 + 16);
	g_assert_cmpint(glow_noise_read_message(&p.hi, msg, (size_t)n - 1, big, BUF_SIZE), ==, -1);
	assert_dead(&p.hi);
	for (size_t len = 0; len < 32 + 48 + 16; len += 20) {
		pair_init(&p, "Noise_XX_25519_ChaChaPoly_SHA256");
		pair_step(&p.hi, &p.hr, msg);
		n = glow_noise_write_message(&p.hr, NULL, 0, msg, BUF_SIZE);
		g_assert_cmpint(glow_noise_read_message(&p.hi, msg, len, big, BUF_SIZE), ==, -1);
		assert_dead(&p.hi);
	}
	glow_noise_handshake_clear(&p.hr);
}

static void test_wrong_turn(void)
{
	g_autofree guint8 *msg = g_malloc(BUF_SIZE);
	guint8 out[64];
	Pair p;

	pair_init(&p, "Noise_XX_25519_ChaChaPoly_BLAKE2b");
	g_assert_false(glow_noise_handshake_my_turn(&p.hr));
	g_assert_cmpint(glow_noise_write_message(&p.hr, NULL, 0, msg, BUF_SIZE), ==, -1);
	assert_dead(&p.hr);
	memset(msg, 0x42, 64);
	g_assert_cmpint(glow_noise_read_message(&p.hi, msg, 64, out, sizeof out), ==, -1);
	assert_dead(&p.hi);

	/* After the last message, neither side may write or read. */
	pair_init(&p, "Noise_NN_25519_ChaChaPoly_SHA256");
	pair_run(&p);
	g_assert_cmpint(glow_noise_write_message(&p.hi, NULL, 0, msg, BUF_SIZE), ==, -1);
	assert_dead(&p.hi);
	g_assert_cmpint(glow_noise_read_message(&p.hr, msg, 48, out, sizeof out), ==, -1);
	assert_dead(&p.hr);
}

static void test_low_order(void)
{
	/* u = 0 and u = 1 are small-order points: DH with them is all zeros. */
	static const guint8 bad[][32] = { { 0 }, { 1 } };

	for (size_t k = 0; k < G_N_ELEMENTS(bad); k++) {
		g_autofree guint8 *msg = g_malloc(BUF_SIZE);
		guint8 out[64];
		Pair p;

		pair_init(&p, "Noise_XX_25519_ChaChaPoly_BLAKE2b");
		memcpy(msg, bad[k], 32);
		g_assert_cmpint(glow_noise_read_message(&p.hr, msg, 32, out, sizeof out), ==, 0);
		g_assert_cmpint(glow_noise_write_message(&p.hr, NULL, 0, msg, BUF_SIZE), ==, -1);
		assert_dead(&p.hr);
		glow_noise_handshake_clear(&p.hi);

		/* Same on the initiator side of IK, where es comes first. */
		{
			GlowNoiseConfig c = { .protocol_name = "Noise_IK_25519_ChaChaPoly_SHA256",
			                      .initiator = true, .s_priv = p.i_priv, .rs_pub = bad[k] };
			GlowNoiseHandshake hs;

			g_assert_cmpint(glow_noise_handshake_init(&hs, &c), ==, 0);
			g_assert_cmpint(glow_noise_write_message(&hs, NULL, 0, msg, BUF_SIZE), ==, -1);
			assert_dead(&hs);
		}
	}
}

static void test_unsupported(void)
{
	static const char *const names[] = {
		"Noise_XXpsk3_25519_ChaChaPoly_BLAKE2b",
		"Noise_NNpsk0_25519_ChaChaPoly_SHA256",
		"Noise_X1X_25519_ChaChaPoly_BLAKE2b",
		"Noise_I1K1_25519_ChaChaPoly_SHA256",
		"Noise_XX_448_AESGCM_SHA512",
		"Noise_XX_448_ChaChaPoly_BLAKE2b",
		"Noise_XX_25519_AESGCM_BLAKE2b",
		"Noise_XX_25519_ChaChaPoly_SHA512",
		"Noise_XX_25519_ChaChaPoly_BLAKE2s",
		"Noise_XX_25519_ChaChaPoly_BLAKE2b_",
		"Noise_XX_25519_ChaChaPoly_BLAKE2bX",
		"Noise_XX_25519_ChaChaPoly_",
		"Noise_XX_25519_ChaChaPoly",
		"Noise_XX_25519_ChaChaPolyBLAKE2b",
		"Noise_xx_25519_ChaChaPoly_BLAKE2b",
		"noise_XX_25519_ChaChaPoly_BLAKE2b",
		"NoisePSK_XX_25519_ChaChaPoly_BLAKE2b",
		"Noise__25519_ChaChaPoly_BLAKE2b",
		"Noise_XXX_25519_ChaChaPoly_BLAKE2b",
		"Noise_XX_25519_ChaChaPoly_SHA256\n",
		"Noise_",
		"Noise",
		"",
		"garbage",
		"\xff\xfe\x00",
	};
	guint8 s[32], pub[32];
	g_autofree char *longname = g_strnfill(300, 'X');
	GlowNoiseHandshake hs;

	glow_noise_keypair(s, pub);
	for (size_t k = 0; k < G_N_ELEMENTS(names); k++) {
		GlowNoiseConfig c = { .protocol_name = names[k], .initiator = true, .s_priv = s,
		                      .rs_pub = pub };

		if (glow_noise_handshake_init(&hs, &c) != -1)
			g_test_fail_printf("accepted protocol name \"%s\"", names[k]);
		assert_dead(&hs);
	}
	{
		GlowNoiseConfig c = { .protocol_name = longname, .s_priv = s, .rs_pub = pub };

		g_assert_cmpint(glow_noise_handshake_init(&hs, &c), ==, -1);
		g_assert_cmpint(glow_noise_handshake_init(&hs, NULL), ==, -1);
		c.protocol_name = NULL;
		g_assert_cmpint(glow_noise_handshake_init(&hs, &c), ==, -1);
		assert_dead(&hs);
	}
}

static void test_missing_keys(void)
{
	static const struct {
		const char *pattern;
		bool initiator, give_s, give_rs;
		int want;
	} cases[] = {
		{ "XX", true, false, false, -1 },  /* sends s */
		{ "XX", false, false, false, -1 },
		{ "XX", true, true, false, 0 },    /* rs arrives in msg 2 */
		{ "IK", true, true, false, -1 },   /* <- s pre-message */
		{ "IK", false, false, false, -1 },
		{ "IK", false, true, false, 0 },
		{ "NN", true, false, false, 0 },
		{ "NN", false, false, false, 0 },
		{ "N", true, false, false, -1 },
		{ "N", false, false, false, -1 },
		{ "K", false, true, false, -1 },   /* -> s pre-message */
		{ "K", false, true, true, 0 },
		{ "KN", true, false, false, -1 },
		{ "KN", false, false, false, -1 },
		{ "NX", true, false, false, 0 },
	};
	guint8 s[32], pub[32];

	glow_noise_keypair(s, pub);
	for (size_t k = 0; k < G_N_ELEMENTS(cases); k++) {
		g_autofree char *name = g_strdup_printf("Noise_%s_25519_ChaChaPoly_BLAKE2b",
		                                        cases[k].pattern);
		GlowNoiseConfig c = { .protocol_name = name, .initiator = cases[k].initiator,
		                      .s_priv = cases[k].give_s ? s : NULL,
		                      .rs_pub = cases[k].give_rs ? pub : NULL };
		GlowNoiseHandshake hs;
		int rc = glow_noise_handshake_init(&hs, &c);

		if (rc != cases[k].want)
			g_test_fail_printf("%s %s s=%d rs=%d: init returned %d, want %d", cases[k].pattern,
			                   cases[k].initiator ? "initiator" : "responder",
			                   cases[k].give_s, cases[k].give_rs, rc, cases[k].want);
		glow_noise_handshake_clear(&hs);
	}
}

static void test_fresh_ephemerals(void)
{
	/* Without the test hook every handshake must use a new ephemeral. */
	guint8 m1[64], m2[64];
	Pair a, b;

	pair_init(&a, "Noise_NN_25519_ChaChaPoly_BLAKE2b");
	pair_init(&b, "Noise_NN_25519_ChaChaPoly_BLAKE2b");
	g_assert_cmpint(glow_noise_write_message(&a.hi, NULL, 0, m1, sizeof m1), ==, 32);
	g_assert_cmpint(glow_noise_write_message(&b.hi, NULL, 0, m2, sizeof m2), ==, 32);
	g_assert_true(memcmp(m1, m2, 32) != 0);
	g_assert_false(a.hi.fixed_e);
	glow_noise_handshake_clear(&a.hi);
	glow_noise_handshake_clear(&a.hr);
	glow_noise_handshake_clear(&b.hi);
	glow_noise_handshake_clear(&b.hr);
}

int main(int argc, char **argv)
{
	const char *dir = g_getenv("GLOW_NOISE_VECTORS_DIR");
	g_autoptr(GPtrArray) all = g_ptr_array_new_with_free_func(vector_free);
	int rc;

	g_test_init(&argc, &argv, NULL);
	if (sodium_init() < 0)
		g_error("sodium_init failed");
	if (dir == NULL || *dir == '\0')
		dir = "tests/vectors/noise";
	for (int f = 0; f < NFILES; f++)
		load_file(all, dir, f);

	g_test_add_func("/noise/random/all-patterns", test_all_patterns_random_keys);
	g_test_add_func("/noise/random/fresh-ephemerals", test_fresh_ephemerals);
	g_test_add_func("/noise/neg/tampered", test_tampered);
	g_test_add_func("/noise/neg/replay", test_replay);
	g_test_add_func("/noise/neg/rekey", test_rekey);
	g_test_add_func("/noise/neg/nonce-limit", test_nonce_limit);
	g_test_add_func("/noise/neg/buffers", test_buffers);
	g_test_add_func("/noise/neg/wrong-turn", test_wrong_turn);
	g_test_add_func("/noise/neg/low-order", test_low_order);
	g_test_add_func("/noise/neg/unsupported", test_unsupported);
	g_test_add_func("/noise/neg/missing-keys", test_missing_keys);
	/* Registered last so it runs after every vector test (GTest runs
	 * suites in the order they were created). */
	g_test_add_func("/noise/summary/coverage", test_coverage);

	rc = g_test_run();
	return rc;
}
