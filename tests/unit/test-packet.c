/* test-packet.c — the Firefly packet header codec (src/wire/packet.c).
 *
 * The hex vectors in tests/vectors/packets.txt (format described at the top
 * of that file) were produced by a separate Python script, so they check the
 * C code against an independent encoder. The directory comes from
 * GLOW_VECTORS_DIR (set by meson), else "tests/vectors".
 */
#include "wire/packet.h"

#include <errno.h>
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#define N_RANDOM 10000

/* --- vector file ------------------------------------------------------------------ */

typedef struct {
	char *name;
	guint line;
	GByteArray *bytes;     /* all hex: lines concatenated */
	char *expect;
	guint32 max_payload;
	GHashTable *fields;    /* key -> value text, decoded fields only */
} Vector;

typedef struct {
	guint line;
	char *name;
	guint32 id;
} FnvLine;

static GPtrArray *vectors;   /* Vector* */
static GArray *fnv_lines;    /* FnvLine */
static char *vectors_path;

static const char *const field_keys[] = {
	"version", "type", "flags", "hop_limit", "payload_len", "call_id", "interface_id", "method_id",
	"deadline_ms", "aux", "dst_node", "dst_resource", "src_node", "src_resource", "payload",
};

static gboolean is_field_key(const char *key)
{
	for (gsize i = 0; i < G_N_ELEMENTS(field_keys); i++)
		if (!strcmp(key, field_keys[i]))
			return TRUE;
	return FALSE;
}

static void vector_free(gpointer p)
{
	Vector *v = p;
	g_free(v->name);
	g_free(v->expect);
	g_byte_array_unref(v->bytes);
	g_hash_table_destroy(v->fields);
	g_free(v);
}

/* Appends hex digits (spaces allowed) to out; FALSE on a bad digit or odd count. */
static gboolean parse_hex(const char *s, GByteArray *out)
{
	int hi = -1;
	for (; *s; s++) {
		if (g_ascii_isspace(*s))
			continue;
		int d = g_ascii_xdigit_value(*s);
		if (d < 0)
			return FALSE;
		if (hi < 0) {
			hi = d;
		} else {
			guint8 b = (guint8)(hi << 4 | d);
			g_byte_array_append(out, &b, 1);
			hi = -1;
		}
	}
	return hi < 0;
}

/* Decimal or 0x-prefixed hex, the whole string, at most max. */
static gboolean parse_uint(const char *s, guint64 max, guint64 *out)
{
	char *end = NULL;
	guint64 v;
	int base = 10;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		s += 2;
		base = 16;
	}
	if (!g_ascii_isxdigit(*s))
		return FALSE;
	errno = 0;
	v = g_ascii_strtoull(s, &end, base);
	if (errno || *end || v > max)
		return FALSE;
	*out = v;
	return TRUE;
}

/* Fails the whole program: a broken vector file is a test failure. */
G_GNUC_NORETURN static void file_error(guint line, const char *what)
{
	g_printerr("%s:%u: %s\n", vectors_path, line, what);
	exit(1);
}

static void load_vectors(void)
{
	const char *dir = g_getenv("GLOW_VECTORS_DIR");
	g_autofree char *text = NULL;
	g_autoptr(GError) error = NULL;
	g_auto(GStrv) lines = NULL;
	Vector *cur = NULL;

	vectors_path = g_build_filename(dir && *dir ? dir : "tests/vectors", "packets.txt", NULL);
	if (!g_file_get_contents(vectors_path, &text, NULL, &error)) {
		g_printerr("cannot read the packet vectors: %s (set GLOW_VECTORS_DIR)\n", error->message);
		exit(1);
	}
	vectors = g_ptr_array_new_with_free_func(vector_free);
	fnv_lines = g_array_new(FALSE, FALSE, sizeof(FnvLine));
	lines = g_strsplit(text, "\n", -1);
	for (guint i = 0; lines[i]; i++) {
		guint lineno = i + 1;
		char *line = lines[i];
		char *hash = strchr(line, '#');
		char *colon, *key, *value;

		if (hash)
			*hash = 0;
		if (!*g_strstrip(line))
			continue;
		colon = strchr(line, ':');
		if (!colon)
			file_error(lineno, "expected KEY: VALUE");
		*colon = 0;
		key = g_strstrip(line);
		value = colon + 1;
		if (!strcmp(key, "fnv")) {
			/* "0xID NAME": NAME is everything after the single space, maybe empty */
			FnvLine f = { .line = lineno };
			guint64 id;
			char *p = value;
			while (*p == ' ')
				p++;
			char *sp = strchr(p, ' ');
			f.name = g_strdup(sp ? sp + 1 : "");
			if (sp)
				*sp = 0;
			if (!parse_uint(p, G_MAXUINT32, &id))
				file_error(lineno, "fnv: expected 0xID NAME");
			f.id = (guint32)id;
			g_array_append_val(fnv_lines, f);
			continue;
		}
		value = g_strstrip(value);
		if (!strcmp(key, "name")) {
			cur = g_new0(Vector, 1);
			cur->name = g_strdup(value);
			cur->line = lineno;
			cur->bytes = g_byte_array_new();
			cur->max_payload = GLOW_PACKET_MAX_PAYLOAD;
			cur->fields = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
			g_ptr_array_add(vectors, cur);
			continue;
		}
		if (!cur)
			file_error(lineno, "a key before the first name:");
		if (!strcmp(key, "hex")) {
			if (!parse_hex(value, cur->bytes))
				file_error(lineno, "bad hex");
		} else if (!strcmp(key, "expect")) {
			if (cur->expect)
				file_error(lineno, "second expect:");
			cur->expect = g_strdup(value);
		} else if (!strcmp(key, "max_payload")) {
			guint64 v;
			if (!parse_uint(value, G_MAXUINT32, &v))
				file_error(lineno, "bad max_payload");
			cur->max_payload = (guint32)v;
		} else if (is_field_key(key)) {
			if (g_hash_table_contains(cur->fields, key))
				file_error(lineno, "field given twice");
			g_hash_table_insert(cur->fields, g_strdup(key), g_strdup(value));
		} else {
			file_error(lineno, "unknown key");
		}
	}
	for (guint i = 0; i < vectors->len; i++) {
		Vector *v = vectors->pdata[i];
		if (!v->expect)
			file_error(v->line, "vector without expect:");
	}
}

/* --- vector checks ---------------------------------------------------------------- */

static guint64 field_uint(const Vector *v, const char *key, guint64 max)
{
	const char *s = g_hash_table_lookup(v->fields, key);
	guint64 n = 0;
	if (!s)
		g_error("%s: no %s:", v->name, key);
	if (!parse_uint(s, max, &n))
		g_error("%s: bad %s: %s", v->name, key, s);
	return n;
}

static void field_node(const Vector *v, const char *key, GlowNodeId *out)
{
	const char *s = g_hash_table_lookup(v->fields, key);
	g_autoptr(GByteArray) b = g_byte_array_new();
	if (!s)
		g_error("%s: no %s:", v->name, key);
	if (!parse_hex(s, b) || b->len != GLOW_NODE_ID_LEN)
		g_error("%s: %s: expected 64 hex digits", v->name, key);
	memcpy(out->b, b->data, GLOW_NODE_ID_LEN);
}

static GlowPacketDecode expect_code(const Vector *v)
{
	static const struct {
		const char *name;
		GlowPacketDecode d;
	} codes[] = {
		{ "ok", GLOW_PKT_DECODE_OK },           { "short", GLOW_PKT_DECODE_SHORT },
		{ "version", GLOW_PKT_DECODE_VERSION }, { "type", GLOW_PKT_DECODE_TYPE },
		{ "too_big", GLOW_PKT_DECODE_TOO_BIG },
	};
	for (gsize i = 0; i < G_N_ELEMENTS(codes); i++)
		if (!strcmp(v->expect, codes[i].name))
			return codes[i].d;
	g_error("%s: unknown expect: %s", v->name, v->expect);
}

static void test_vector(gconstpointer data)
{
	const Vector *v = data;
	GlowPacketDecode want = expect_code(v);
	/* An exact-size heap copy, so that ASan sees any read past the end. */
	g_autofree uint8_t *buf = g_memdup2(v->bytes->data, v->bytes->len ? v->bytes->len : 1);
	GlowPacketHeader h;
	uint8_t again[GLOW_PACKET_HEADER_LEN];

	memset(&h, 0, sizeof h);
	g_assert_cmpint(glow_packet_decode_header(buf, v->bytes->len, v->max_payload, &h), ==, want);
	if (want != GLOW_PKT_DECODE_OK) {
		g_assert_cmpuint(g_hash_table_size(v->fields), ==, 0);
		return;
	}

	/* Every field is listed for a valid vector, and every one matches. */
	GlowNodeId dn, sn;
	g_assert_cmpuint(h.version, ==, field_uint(v, "version", G_MAXUINT8));
	g_assert_cmpuint(h.type, ==, field_uint(v, "type", G_MAXUINT8));
	g_assert_cmpuint(h.flags, ==, field_uint(v, "flags", G_MAXUINT8));
	g_assert_cmpuint(h.hop_limit, ==, field_uint(v, "hop_limit", G_MAXUINT8));
	g_assert_cmpuint(h.payload_len, ==, field_uint(v, "payload_len", G_MAXUINT32));
	g_assert_cmpuint(h.call_id, ==, field_uint(v, "call_id", G_MAXUINT64));
	g_assert_cmphex(h.interface_id, ==, field_uint(v, "interface_id", G_MAXUINT32));
	g_assert_cmphex(h.method_id, ==, field_uint(v, "method_id", G_MAXUINT32));
	g_assert_cmpuint(h.deadline_ms, ==, field_uint(v, "deadline_ms", G_MAXUINT32));
	g_assert_cmpuint(h.aux, ==, field_uint(v, "aux", G_MAXUINT32));
	g_assert_cmpuint(h.dst.resource, ==, field_uint(v, "dst_resource", G_MAXUINT64));
	g_assert_cmpuint(h.src.resource, ==, field_uint(v, "src_resource", G_MAXUINT64));
	field_node(v, "dst_node", &dn);
	field_node(v, "src_node", &sn);
	g_assert_cmpmem(h.dst.node.b, GLOW_NODE_ID_LEN, dn.b, GLOW_NODE_ID_LEN);
	g_assert_cmpmem(h.src.node.b, GLOW_NODE_ID_LEN, sn.b, GLOW_NODE_ID_LEN);

	const char *payload_hex = g_hash_table_lookup(v->fields, "payload");
	if (payload_hex) {
		g_autoptr(GByteArray) payload = g_byte_array_new();
		g_assert_true(parse_hex(payload_hex, payload));
		g_assert_cmpuint(payload->len, ==, h.payload_len);
		g_assert_cmpuint(v->bytes->len, ==, GLOW_PACKET_HEADER_LEN + h.payload_len);
		g_assert_cmpmem(v->bytes->data + GLOW_PACKET_HEADER_LEN, h.payload_len, payload->data, payload->len);
	} else {
		g_assert_cmpuint(v->bytes->len, ==, GLOW_PACKET_HEADER_LEN); /* header-only vector */
	}

	/* Only the header is looked at: the header alone decodes the same. */
	GlowPacketHeader h2;
	g_assert_cmpint(glow_packet_decode_header(buf, GLOW_PACKET_HEADER_LEN, v->max_payload, &h2), ==,
	                GLOW_PKT_DECODE_OK);
	g_assert_cmpmem(&h, sizeof h, &h2, sizeof h2);

	/* Re-encoding gives the same 112 bytes. */
	memset(again, 0xa5, sizeof again);
	glow_packet_encode_header(&h, again);
	g_assert_cmpmem(again, sizeof again, v->bytes->data, GLOW_PACKET_HEADER_LEN);

	/* Any shorter prefix is SHORT. */
	for (size_t n = 0; n < GLOW_PACKET_HEADER_LEN; n++)
		g_assert_cmpint(glow_packet_decode_header(buf, n, v->max_payload, &h2), ==, GLOW_PKT_DECODE_SHORT);
}

static void test_vector_file(void)
{
	guint ok = 0, bad = 0;
	for (guint i = 0; i < vectors->len; i++) {
		Vector *v = vectors->pdata[i];
		if (expect_code(v) == GLOW_PKT_DECODE_OK)
			ok++;
		else
			bad++;
		for (guint j = 0; j < i; j++)
			g_assert_cmpstr(((Vector *)vectors->pdata[j])->name, !=, v->name);
	}
	/* Guards against a file that silently lost its vectors. */
	g_assert_cmpuint(ok, >=, 10);
	g_assert_cmpuint(bad, >=, 5);
	g_assert_cmpuint(fnv_lines->len, >=, 5);
}

static void test_fnv(void)
{
	for (guint i = 0; i < fnv_lines->len; i++) {
		const FnvLine *f = &g_array_index(fnv_lines, FnvLine, i);
		g_test_message("fnv line %u: \"%s\"", f->line, f->name);
		g_assert_cmphex(glow_firefly_name_id(f->name), ==, f->id);
		/* method_id(a, b) is the id of a + "." + b, wherever the dot is */
		for (const char *dot = strchr(f->name, '.'); dot; dot = strchr(dot + 1, '.')) {
			g_autofree char *left = g_strndup(f->name, (gsize)(dot - f->name));
			g_assert_cmphex(glow_firefly_method_id(left, dot + 1), ==, f->id);
		}
	}
}

/* --- codec unit tests --------------------------------------------------------------- */

static void random_header(GlowPacketHeader *h)
{
	memset(h, 0, sizeof *h);
	h->version = GLOW_PACKET_VERSION;
	h->type = (uint8_t)g_test_rand_int_range(1, GLOW_PKT_TYPE_MAX + 1);
	h->flags = (uint8_t)g_test_rand_int_range(0, 256);
	h->hop_limit = (uint8_t)g_test_rand_int_range(0, 256);
	h->payload_len = (uint32_t)g_test_rand_int_range(0, GLOW_PACKET_MAX_PAYLOAD + 1);
	h->call_id = (uint64_t)g_test_rand_int() << 32 | (uint32_t)g_test_rand_int();
	h->interface_id = (uint32_t)g_test_rand_int();
	h->method_id = (uint32_t)g_test_rand_int();
	h->deadline_ms = (uint32_t)g_test_rand_int();
	h->aux = (uint32_t)g_test_rand_int();
	for (int i = 0; i < GLOW_NODE_ID_LEN; i++) {
		h->dst.node.b[i] = (uint8_t)g_test_rand_int();
		h->src.node.b[i] = (uint8_t)g_test_rand_int();
	}
	h->dst.resource = (uint64_t)g_test_rand_int() << 32 | (uint32_t)g_test_rand_int();
	h->src.resource = (uint64_t)g_test_rand_int() << 32 | (uint32_t)g_test_rand_int();
}

static void put_be(uint8_t *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

/* The layout of packet.h, written out independently of packet.c. */
static void reference_encode(const GlowPacketHeader *h, uint8_t out[GLOW_PACKET_HEADER_LEN])
{
	out[0] = h->version;
	out[1] = h->type;
	out[2] = h->flags;
	out[3] = h->hop_limit;
	put_be(out + 4, h->payload_len, 4);
	put_be(out + 8, h->call_id, 8);
	put_be(out + 16, h->interface_id, 4);
	put_be(out + 20, h->method_id, 4);
	put_be(out + 24, h->deadline_ms, 4);
	put_be(out + 28, h->aux, 4);
	memcpy(out + 32, h->dst.node.b, 32);
	put_be(out + 64, h->dst.resource, 8);
	memcpy(out + 72, h->src.node.b, 32);
	put_be(out + 104, h->src.resource, 8);
}

static void assert_header_equal(const GlowPacketHeader *a, const GlowPacketHeader *b)
{
	g_assert_cmpuint(a->version, ==, b->version);
	g_assert_cmpuint(a->type, ==, b->type);
	g_assert_cmpuint(a->flags, ==, b->flags);
	g_assert_cmpuint(a->hop_limit, ==, b->hop_limit);
	g_assert_cmpuint(a->payload_len, ==, b->payload_len);
	g_assert_cmpuint(a->call_id, ==, b->call_id);
	g_assert_cmphex(a->interface_id, ==, b->interface_id);
	g_assert_cmphex(a->method_id, ==, b->method_id);
	g_assert_cmpuint(a->deadline_ms, ==, b->deadline_ms);
	g_assert_cmpuint(a->aux, ==, b->aux);
	g_assert_cmpmem(a->dst.node.b, GLOW_NODE_ID_LEN, b->dst.node.b, GLOW_NODE_ID_LEN);
	g_assert_cmpuint(a->dst.resource, ==, b->dst.resource);
	g_assert_cmpmem(a->src.node.b, GLOW_NODE_ID_LEN, b->src.node.b, GLOW_NODE_ID_LEN);
	g_assert_cmpuint(a->src.resource, ==, b->src.resource);
}

static void test_round_trip(void)
{
	for (int i = 0; i < N_RANDOM; i++) {
		GlowPacketHeader h, d;
		uint8_t buf[GLOW_PACKET_HEADER_LEN], ref[GLOW_PACKET_HEADER_LEN], again[GLOW_PACKET_HEADER_LEN];

		random_header(&h);
		memset(buf, 0x5a, sizeof buf);
		glow_packet_encode_header(&h, buf);
		reference_encode(&h, ref);
		g_assert_cmpmem(buf, sizeof buf, ref, sizeof ref);
		g_assert_cmpint(glow_packet_decode_header(buf, sizeof buf, GLOW_PACKET_MAX_PAYLOAD, &d), ==,
		                GLOW_PKT_DECODE_OK);
		assert_header_equal(&h, &d);
		glow_packet_encode_header(&d, again);
		g_assert_cmpmem(buf, sizeof buf, again, sizeof again);
	}
}

/* Any 112 bytes with a valid version, type and length decode, and encode back unchanged. */
static void test_random_bytes(void)
{
	for (int i = 0; i < N_RANDOM; i++) {
		uint8_t buf[GLOW_PACKET_HEADER_LEN], again[GLOW_PACKET_HEADER_LEN];
		GlowPacketHeader h;
		uint32_t len = (uint32_t)g_test_rand_int_range(0, GLOW_PACKET_MAX_PAYLOAD + 1);

		for (size_t j = 0; j < sizeof buf; j++)
			buf[j] = (uint8_t)g_test_rand_int();
		buf[0] = GLOW_PACKET_VERSION;
		buf[1] = (uint8_t)g_test_rand_int_range(1, GLOW_PKT_TYPE_MAX + 1);
		put_be(buf + 4, len, 4);
		g_assert_cmpint(glow_packet_decode_header(buf, sizeof buf, GLOW_PACKET_MAX_PAYLOAD, &h), ==,
		                GLOW_PKT_DECODE_OK);
		g_assert_cmpuint(h.payload_len, ==, len);
		glow_packet_encode_header(&h, again);
		g_assert_cmpmem(buf, sizeof buf, again, sizeof again);
	}
}

static void test_truncated(void)
{
	GlowPacketHeader h, d;
	uint8_t full[GLOW_PACKET_HEADER_LEN];

	random_header(&h);
	glow_packet_encode_header(&h, full);
	for (size_t n = 0; n < GLOW_PACKET_HEADER_LEN; n++) {
		/* exact-size copy: a read past n bytes is an ASan error */
		g_autofree uint8_t *cut = g_memdup2(full, n ? n : 1);
		g_assert_cmpint(glow_packet_decode_header(cut, n, GLOW_PACKET_MAX_PAYLOAD, &d), ==,
		                GLOW_PKT_DECODE_SHORT);
	}
	g_assert_cmpint(glow_packet_decode_header(full, sizeof full, GLOW_PACKET_MAX_PAYLOAD, &d), ==,
	                GLOW_PKT_DECODE_OK);
}

static void test_checks(void)
{
	GlowPacketHeader h, d;
	uint8_t buf[GLOW_PACKET_HEADER_LEN];

	random_header(&h);
	for (unsigned v = 0; v < 256; v++) {
		h.version = (uint8_t)v;
		glow_packet_encode_header(&h, buf);
		g_assert_cmpint(glow_packet_decode_header(buf, sizeof buf, GLOW_PACKET_MAX_PAYLOAD, &d), ==,
		                v == GLOW_PACKET_VERSION ? GLOW_PKT_DECODE_OK : GLOW_PKT_DECODE_VERSION);
	}
	h.version = GLOW_PACKET_VERSION;
	for (unsigned t = 0; t < 256; t++) {
		h.type = (uint8_t)t;
		glow_packet_encode_header(&h, buf);
		g_assert_cmpint(glow_packet_decode_header(buf, sizeof buf, GLOW_PACKET_MAX_PAYLOAD, &d), ==,
		                t >= 1 && t <= GLOW_PKT_TYPE_MAX ? GLOW_PKT_DECODE_OK : GLOW_PKT_DECODE_TYPE);
	}
	h.type = GLOW_PKT_CALL;
	/* payload_len against both bounds: the protocol's and the caller's */
	static const struct {
		uint32_t len, max;
		GlowPacketDecode want;
	} cases[] = {
		{ 0, 0, GLOW_PKT_DECODE_OK },
		{ 1, 0, GLOW_PKT_DECODE_TOO_BIG },
		{ 1000, 1000, GLOW_PKT_DECODE_OK },
		{ 1001, 1000, GLOW_PKT_DECODE_TOO_BIG },
		{ GLOW_PACKET_MAX_PAYLOAD, GLOW_PACKET_MAX_PAYLOAD, GLOW_PKT_DECODE_OK },
		{ GLOW_PACKET_MAX_PAYLOAD + 1, GLOW_PACKET_MAX_PAYLOAD, GLOW_PKT_DECODE_TOO_BIG },
		{ GLOW_PACKET_MAX_PAYLOAD, G_MAXUINT32, GLOW_PKT_DECODE_OK },
		{ GLOW_PACKET_MAX_PAYLOAD + 1, G_MAXUINT32, GLOW_PKT_DECODE_TOO_BIG },
		{ G_MAXUINT32, G_MAXUINT32, GLOW_PKT_DECODE_TOO_BIG },
	};
	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		h.payload_len = cases[i].len;
		glow_packet_encode_header(&h, buf);
		g_assert_cmpint(glow_packet_decode_header(buf, sizeof buf, cases[i].max, &d), ==, cases[i].want);
	}
	/* The limits the spec quotes. */
	g_assert_cmpint(GLOW_PACKET_HEADER_LEN, ==, 112);
	g_assert_cmpint(GLOW_PACKET_MAX_PAYLOAD, ==, 1048576);
	g_assert_cmpint(GLOW_PACKET_VERSION, ==, 1);
	g_assert_cmpint(GLOW_PKT_TYPE_MAX, ==, 12);
	g_assert_cmpint(GLOW_PKT_TYPE_RPC_MAX, ==, 8);
	g_assert_cmpint(GLOW_PKT_F_STREAM, ==, 1);
	g_assert_cmpint(GLOW_E2E_OVERHEAD, ==, 140);
	/* A SEALED packet wraps a whole packet of the peer's limit, so it may
	 * be GLOW_E2E_OVERHEAD larger; every other type keeps the limit. */
	h.type = GLOW_PKT_SEALED;
	h.payload_len = 1000 + GLOW_E2E_OVERHEAD;
	glow_packet_encode_header(&h, buf);
	g_assert_cmpint(glow_packet_decode_header(buf, sizeof buf, 1000, &d), ==, GLOW_PKT_DECODE_OK);
	h.payload_len++;
	glow_packet_encode_header(&h, buf);
	g_assert_cmpint(glow_packet_decode_header(buf, sizeof buf, 1000, &d), ==, GLOW_PKT_DECODE_TOO_BIG);
	h.type = GLOW_PKT_E2E_INIT;
	h.payload_len = 1001;
	glow_packet_encode_header(&h, buf);
	g_assert_cmpint(glow_packet_decode_header(buf, sizeof buf, 1000, &d), ==, GLOW_PKT_DECODE_TOO_BIG);
	g_assert_false(glow_packet_is_rpc(GLOW_PKT_ROUTING));
	g_assert_true(glow_packet_is_rpc(GLOW_PKT_CREDIT));
}

static void test_names(void)
{
	static const char *const types[] = { "?",      "CALL",    "REPLY",    "ERROR",    "MESSAGE", "ITEM",  "END",
		                             "CANCEL", "CREDIT", "ROUTING", "E2E_INIT", "E2E_RESP", "SEALED" };
	static const struct {
		uint32_t code;
		const char *name, *symbol;
	} errors[] = {
		{ GLOW_OK, "ok", "OK" },
		{ GLOW_ERR_UNREACHABLE, "unreachable", "UNREACHABLE" },
		{ GLOW_ERR_NOT_FOUND, "not found", "NOT_FOUND" },
		{ GLOW_ERR_PERMISSION_DENIED, "permission denied", "PERMISSION_DENIED" },
		{ GLOW_ERR_TOO_BIG, "too big", "TOO_BIG" },
		{ GLOW_ERR_TOO_FAST, "too fast", "TOO_FAST" },
		{ GLOW_ERR_BAD_REQUEST, "bad request", "BAD_REQUEST" },
		{ GLOW_ERR_UNAVAILABLE, "unavailable", "UNAVAILABLE" },
		{ GLOW_ERR_TIMEOUT, "timeout", "TIMEOUT" },
		{ GLOW_ERR_INTERNAL, "internal error", "INTERNAL" },
		{ GLOW_ERR_CANCELLED, "cancelled", "CANCELLED" },
		{ GLOW_ERR_UNIMPLEMENTED, "unimplemented", "UNIMPLEMENTED" },
	};

	/* The numbers are wire values: they must never move. */
	for (gsize i = 0; i < G_N_ELEMENTS(errors); i++) {
		g_assert_cmpuint(errors[i].code, ==, i);
		g_assert_cmpstr(glow_error_name(errors[i].code), ==, errors[i].name);
		g_assert_cmpstr(glow_error_symbol(errors[i].code), ==, errors[i].symbol);
	}
	g_assert_cmpuint(G_N_ELEMENTS(errors), ==, GLOW_ERR_MAX + 1);
	g_assert_cmpstr(glow_error_name(GLOW_ERR_MAX + 1), ==, "unknown error");
	g_assert_cmpstr(glow_error_symbol(GLOW_ERR_MAX + 1), ==, "UNKNOWN");
	g_assert_cmpstr(glow_error_name(G_MAXUINT32), ==, "unknown error");
	g_assert_cmpstr(glow_error_symbol(G_MAXUINT32), ==, "UNKNOWN");

	g_assert_cmpint(GLOW_PKT_CALL, ==, 1);
	g_assert_cmpint(GLOW_PKT_CREDIT, ==, 8);
	for (unsigned t = 0; t < 256; t++)
		g_assert_cmpstr(glow_packet_type_name((uint8_t)t), ==, t < G_N_ELEMENTS(types) ? types[t] : "?");

	g_assert_cmpstr(glow_packet_decode_strerror(GLOW_PKT_DECODE_OK), ==, "ok");
	g_assert_cmpstr(glow_packet_decode_strerror(GLOW_PKT_DECODE_SHORT), ==, "truncated packet header");
	g_assert_cmpstr(glow_packet_decode_strerror(GLOW_PKT_DECODE_VERSION), ==, "unknown packet version");
	g_assert_cmpstr(glow_packet_decode_strerror(GLOW_PKT_DECODE_TYPE), ==, "unknown packet type");
	g_assert_cmpstr(glow_packet_decode_strerror(GLOW_PKT_DECODE_TOO_BIG), ==, "packet payload too big");
	g_assert_cmpstr(glow_packet_decode_strerror((GlowPacketDecode)99), ==, "bad packet");
}

int main(int argc, char **argv)
{
	int rc;

	g_test_init(&argc, &argv, NULL);
	load_vectors();

	g_test_add_func("/packet/vectors/file", test_vector_file);
	g_test_add_func("/packet/vectors/fnv", test_fnv);
	for (guint i = 0; i < vectors->len; i++) {
		Vector *v = vectors->pdata[i];
		g_autofree char *path = g_strdup_printf("/packet/vectors/%s", v->name);
		g_test_add_data_func(path, v, test_vector);
	}
	g_test_add_func("/packet/round-trip", test_round_trip);
	g_test_add_func("/packet/random-bytes", test_random_bytes);
	g_test_add_func("/packet/truncated", test_truncated);
	g_test_add_func("/packet/checks", test_checks);
	g_test_add_func("/packet/names", test_names);

	rc = g_test_run();
	for (guint i = 0; i < fnv_lines->len; i++)
		g_free(g_array_index(fnv_lines, FnvLine, i).name);
	g_array_free(fnv_lines, TRUE);
	g_ptr_array_free(vectors, TRUE);
	g_free(vectors_path);
	return rc;
}
