/* test-nodeid.c — node ID and resource address codec (src/wire/nodeid.c).
 *
 * Vectors were computed by the C code and checked independently with
 * Python's base64.b32encode plus a separate Luhn implementation; the
 * Syncthing vector checks that our Luhn is really Syncthing's.
 */
#include "wire/nodeid.h"

#include <glib.h>
#include <sodium.h>
#include <string.h>

#define ALPHABET "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

/* Bytes 00 01 02 ... 1f. */
#define VECTOR_TEXT "AAAQEAY-EAUDAOB-CAJBIFQ-YDIOB4B-IBCEQTC-QKRMFYX-YDENBWH-A5DYPQG"
/* Syncthing's own device ID test vector, and the key it encodes. */
#define SYNCTHING_TEXT "P56IOI7-MZJNU2Y-IQGDREY-DM2MGTI-MGL3BXN-PQ6W5BM-TBBZ4TJ-XZWICQ2"
#define SYNCTHING_HEX "7f7c8723ecca5b4d22061c4981b34c34d865ec376be1eb74330873c9a6f9b205"

#define RANDOM_KEYS 1000

/* Deterministic "random" keys: failures are reproducible. */
static void random_id(GlowNodeId *id, uint64_t n)
{
	uint8_t seed[randombytes_SEEDBYTES] = { 0 };

	memcpy(seed, &n, sizeof n);
	randombytes_buf_deterministic(id->b, sizeof id->b, seed);
}

static void vector_id(GlowNodeId *id)
{
	for (size_t i = 0; i < GLOW_NODE_ID_LEN; i++)
		id->b[i] = (uint8_t)i;
}

/* The 56-character form without dashes. */
static void raw_text(const GlowNodeId *id, char raw[GLOW_NODE_ID_RAW_CHARS + 1])
{
	char text[GLOW_NODE_ID_TEXT_BUF];

	glow_node_id_to_text(id, text);
	g_assert_cmpint(glow_node_id_clean(text, raw, GLOW_NODE_ID_RAW_CHARS + 1), ==,
			GLOW_NODE_ID_RAW_CHARS);
}

/* Parses from an exact-size heap copy so ASan catches any read past the NUL. */
static GlowIdError parse_exact(const char *s, GlowNodeId *out)
{
	char *copy = g_strdup(s);
	GlowIdError e = glow_node_id_from_text(copy, out);

	g_free(copy);
	return e;
}

static GlowIdError addr_exact(const char *s, GlowAddr *out)
{
	char *copy = g_strdup(s);
	GlowIdError e = glow_addr_from_text(copy, out);

	g_free(copy);
	return e;
}

static void test_vector(void)
{
	GlowNodeId id, back;
	char text[GLOW_NODE_ID_TEXT_BUF];
	char s[8];

	vector_id(&id);
	glow_node_id_to_text(&id, text);
	g_assert_cmpstr(text, ==, VECTOR_TEXT);
	g_assert_cmpint(strlen(text), ==, GLOW_NODE_ID_TEXT_LEN);
	g_assert_cmpint(parse_exact(VECTOR_TEXT, &back), ==, GLOW_ID_OK);
	g_assert_true(glow_node_id_equal(&id, &back));
	glow_node_id_short(&id, s);
	g_assert_cmpstr(s, ==, "AAAQEAY");
}

static void test_syncthing_vector(void)
{
	GlowNodeId id;
	char text[GLOW_NODE_ID_TEXT_BUF];
	char hex[2 * GLOW_NODE_ID_LEN + 1];

	g_assert_cmpint(parse_exact(SYNCTHING_TEXT, &id), ==, GLOW_ID_OK);
	sodium_bin2hex(hex, sizeof hex, id.b, sizeof id.b);
	g_assert_cmpstr(hex, ==, SYNCTHING_HEX);
	glow_node_id_to_text(&id, text);
	g_assert_cmpstr(text, ==, SYNCTHING_TEXT);
}

static void test_zero_and_equal(void)
{
	GlowNodeId zero = { { 0 } }, id;

	g_assert_true(glow_node_id_is_zero(&zero));
	vector_id(&id);
	g_assert_false(glow_node_id_is_zero(&id));
	g_assert_false(glow_node_id_equal(&zero, &id));
	g_assert_true(glow_node_id_equal(&id, &id));
}

static void check_layout(const char *text)
{
	g_assert_cmpint(strlen(text), ==, GLOW_NODE_ID_TEXT_LEN);
	for (size_t i = 0; i < GLOW_NODE_ID_TEXT_LEN; i++) {
		if (i % 8 == 7)
			g_assert_cmpint(text[i], ==, '-');
		else
			g_assert_nonnull(strchr(ALPHABET, text[i]));
	}
}

static void test_roundtrip(void)
{
	for (uint64_t n = 0; n < RANDOM_KEYS; n++) {
		GlowNodeId id, back;
		char text[GLOW_NODE_ID_TEXT_BUF];
		char s[8];

		random_id(&id, n);
		glow_node_id_to_text(&id, text);
		check_layout(text);
		g_assert_cmpint(parse_exact(text, &back), ==, GLOW_ID_OK);
		g_assert_true(glow_node_id_equal(&id, &back));
		glow_node_id_short(&id, s);
		g_assert_cmpint(strncmp(s, text, 7), ==, 0);
		g_assert_cmpint(s[7], ==, '\0');
	}
}

/* Every wrong letter at every place must be refused, never decode to
 * another key. */
static void check_substitutions(const GlowNodeId *id)
{
	char raw[GLOW_NODE_ID_RAW_CHARS + 1];

	raw_text(id, raw);
	for (size_t pos = 0; pos < GLOW_NODE_ID_RAW_CHARS; pos++) {
		char orig = raw[pos];
		for (const char *c = ALPHABET; *c != '\0'; c++) {
			GlowNodeId out;
			if (*c == orig)
				continue;
			raw[pos] = *c;
			GlowIdError e = glow_node_id_from_text(raw, &out);
			if (e != GLOW_ID_ERR_CHECK && e != GLOW_ID_ERR_CHAR)
				g_error("substitution %s undetected (%d)", raw, e);
		}
		raw[pos] = orig;
	}
}

static void test_substitution(void)
{
	GlowNodeId id;

	vector_id(&id);
	check_substitutions(&id);
	for (uint64_t n = 0; n < 50; n++) {
		random_id(&id, n);
		check_substitutions(&id);
	}
}

/* Syncthing's Luhn misses some transpositions: "A7" <-> "7A" inside a
 * group, and always a swap of a group's last data character with its check
 * character (both weigh 1). Measure, do not demand perfection. */
static void test_transposition(void)
{
	unsigned tried = 0, caught = 0;

	for (uint64_t n = 0; n < RANDOM_KEYS; n++) {
		GlowNodeId id, out;
		char raw[GLOW_NODE_ID_RAW_CHARS + 1];

		random_id(&id, n);
		raw_text(&id, raw);
		for (size_t pos = 0; pos + 1 < GLOW_NODE_ID_RAW_CHARS; pos++) {
			char a = raw[pos], b = raw[pos + 1];
			if (a == b)
				continue;
			raw[pos] = b;
			raw[pos + 1] = a;
			GlowIdError e = glow_node_id_from_text(raw, &out);
			tried++;
			if (e != GLOW_ID_OK)
				caught++;
			else
				g_assert_false(glow_node_id_equal(&id, &out));
			raw[pos] = a;
			raw[pos + 1] = b;
		}
	}
	double rate = 100.0 * caught / tried;
	g_test_message("adjacent transpositions detected: %u of %u (%.2f%%)", caught, tried, rate);
	g_assert_cmpfloat(rate, >, 90.0);
}

/* Swap every occurrence of from into to. */
static void replace_all(char *s, char from, char to)
{
	for (; *s != '\0'; s++) {
		if (*s == from)
			*s = to;
	}
}

static void test_lookalike_and_case(void)
{
	for (uint64_t n = 0; n < RANDOM_KEYS; n++) {
		GlowNodeId id, back;
		char text[GLOW_NODE_ID_TEXT_BUF];

		random_id(&id, n);
		glow_node_id_to_text(&id, text);
		replace_all(text, 'O', '0');
		replace_all(text, 'I', '1');
		replace_all(text, 'B', '8');
		g_assert_cmpint(parse_exact(text, &back), ==, GLOW_ID_OK);
		g_assert_true(glow_node_id_equal(&id, &back));

		gchar *lower = g_ascii_strdown(text, -1);
		g_assert_cmpint(parse_exact(lower, &back), ==, GLOW_ID_OK);
		g_assert_true(glow_node_id_equal(&id, &back));
		g_free(lower);
	}
}

static void test_spacing(void)
{
	GlowNodeId id, back;
	char raw[GLOW_NODE_ID_RAW_CHARS + 1];

	vector_id(&id);
	raw_text(&id, raw);
	g_assert_cmpint(parse_exact(raw, &back), ==, GLOW_ID_OK);
	g_assert_true(glow_node_id_equal(&id, &back));
	/* Groups of 13+1 as a user might copy them, and stray dashes. */
	g_assert_cmpint(parse_exact("AAAQEAYEAUDAO B CAJBIFQYDIOB4B - IBCEQTCQKRMFYX--YDENBWHA5DYPQG ",
				    &back), ==, GLOW_ID_OK);
	g_assert_true(glow_node_id_equal(&id, &back));
}

static void test_clean(void)
{
	char out[16];

	g_assert_cmpint(glow_node_id_clean("ab-c d01 8", out, sizeof out), ==, 7);
	g_assert_cmpstr(out, ==, "ABCDOIB");
	g_assert_cmpint(glow_node_id_clean("", out, sizeof out), ==, 0);
	g_assert_cmpstr(out, ==, "");
	g_assert_cmpint(glow_node_id_clean("- -", out, sizeof out), ==, 0);
	g_assert_cmpint(glow_node_id_clean("ABC9", out, sizeof out), ==, -1);
	g_assert_cmpint(glow_node_id_clean("AB\tC", out, sizeof out), ==, -1);
	g_assert_cmpint(glow_node_id_clean("AB\xc3\x89", out, sizeof out), ==, -1);
	/* Exactly cap-1 fits; one more does not. */
	g_assert_cmpint(glow_node_id_clean("ABCD", out, 5), ==, 4);
	g_assert_cmpint(glow_node_id_clean("ABCDE", out, 5), ==, -1);
	g_assert_cmpstr(out, ==, "");
	g_assert_cmpint(glow_node_id_clean("A", out, 0), ==, -1);
	g_assert_cmpint(glow_node_id_clean("", out, 1), ==, 0);
}

static bool prefix_matches(const GlowNodeId *id, const char *typed)
{
	char clean[GLOW_NODE_ID_TEXT_BUF];

	if (glow_node_id_clean(typed, clean, sizeof clean) < 0)
		return false;
	return glow_node_id_has_prefix(id, clean);
}

static void test_prefix(void)
{
	GlowNodeId id;
	char raw[GLOW_NODE_ID_RAW_CHARS + 2];

	vector_id(&id);
	g_assert_false(prefix_matches(&id, ""));
	g_assert_false(prefix_matches(&id, "AAAQEAY"));     /* 7: too short */
	g_assert_true(prefix_matches(&id, "AAAQEAYE"));     /* 8 */
	g_assert_true(prefix_matches(&id, "AAAQEAY-E"));    /* dashes ignored */
	g_assert_true(prefix_matches(&id, "aaaqeay-eaud")); /* case ignored */
	g_assert_true(prefix_matches(&id, "AAAQEAY-EAUDA08"));
	g_assert_false(prefix_matches(&id, "AAAQEAYF"));    /* wrong */
	g_assert_false(prefix_matches(&id, "BAAQEAYE"));
	g_assert_true(prefix_matches(&id, "-AAAQEAY-E-"));
	g_assert_true(glow_node_id_has_prefix(&id, "AAAQEAYE"));
	g_assert_false(glow_node_id_has_prefix(&id, "AAAQEAY-E")); /* not cleaned */
	g_assert_false(glow_node_id_has_prefix(&id, NULL));

	raw_text(&id, raw);
	g_assert_true(glow_node_id_has_prefix(&id, raw)); /* the whole ID */
	strcat(raw, "A");
	g_assert_false(glow_node_id_has_prefix(&id, raw)); /* longer than an ID */
	g_assert_true(prefix_matches(&id, VECTOR_TEXT));
}

static void test_addr_roundtrip(void)
{
	const uint64_t resources[] = { 0, 1, 15, 16, 1000000, UINT64_MAX / 10,
				       0x8000000000000000ull, UINT64_MAX };

	for (uint64_t n = 0; n < 100; n++) {
		for (size_t r = 0; r < G_N_ELEMENTS(resources); r++) {
			GlowAddr a = { .resource = resources[r] }, back;
			char text[GLOW_ADDR_TEXT_BUF];

			random_id(&a.node, n);
			glow_addr_to_text(&a, text);
			g_assert_true(g_str_has_prefix(text, "glow://"));
			g_assert_cmpint(addr_exact(text, &back), ==, GLOW_ID_OK);
			g_assert_true(glow_node_id_equal(&a.node, &back.node));
			g_assert_cmpuint(a.resource, ==, back.resource);
		}
	}
}

static void test_addr_forms(void)
{
	GlowAddr a;
	GlowNodeId id;
	char text[GLOW_ADDR_TEXT_BUF];

	vector_id(&id);
	a = (GlowAddr){ .node = id, .resource = UINT64_MAX };
	glow_addr_to_text(&a, text);
	g_assert_cmpstr(text, ==, "glow://" VECTOR_TEXT "/18446744073709551615");
	g_assert_cmpint(strlen(text), ==, GLOW_ADDR_TEXT_BUF - 1);

	a.resource = 0;
	glow_addr_to_text(&a, text);
	g_assert_cmpstr(text, ==, "glow://" VECTOR_TEXT "/0");

	const char *zero_forms[] = { "glow://" VECTOR_TEXT, "glow://" VECTOR_TEXT "/",
				     "glow://" VECTOR_TEXT "/0", "GLOW://" VECTOR_TEXT "/000" };
	for (size_t i = 0; i < G_N_ELEMENTS(zero_forms); i++) {
		a.resource = 42;
		g_assert_cmpint(addr_exact(zero_forms[i], &a), ==, GLOW_ID_OK);
		g_assert_true(glow_node_id_equal(&a.node, &id));
		g_assert_cmpuint(a.resource, ==, 0);
	}
	g_assert_cmpint(addr_exact("glow://aaaqeay-eaudaob-cajbifq-ydiob4b-ibceqtc-qkrmfyx-ydenbwh-a5dypqg/7",
				   &a), ==, GLOW_ID_OK);
	g_assert_cmpuint(a.resource, ==, 7);
}

static void test_hostile_ids(void)
{
	GlowNodeId id;
	char text[GLOW_NODE_ID_TEXT_BUF];
	char *s;

	g_assert_cmpint(parse_exact("", &id), ==, GLOW_ID_ERR_LENGTH);
	g_assert_cmpint(glow_node_id_from_text(NULL, &id), ==, GLOW_ID_ERR_LENGTH);
	g_assert_cmpint(parse_exact("-------", &id), ==, GLOW_ID_ERR_LENGTH);
	g_assert_cmpint(parse_exact(VECTOR_TEXT "A", &id), ==, GLOW_ID_ERR_LENGTH);
	g_assert_cmpint(parse_exact(VECTOR_TEXT "/", &id), ==, GLOW_ID_ERR_CHAR);
	g_assert_cmpint(parse_exact(VECTOR_TEXT "\n", &id), ==, GLOW_ID_ERR_CHAR);
	g_assert_cmpint(parse_exact("AAAQEAY=EAUDAOB-CAJBIFQ-YDIOB4B-IBCEQTC-QKRMFYX-YDENBWH-A5DYPQG",
				    &id), ==, GLOW_ID_ERR_CHAR);

	s = g_strnfill(100000, 'A');
	g_assert_cmpint(parse_exact(s, &id), ==, GLOW_ID_ERR_LENGTH);
	g_free(s);
	s = g_strnfill(100000, '-');
	g_assert_cmpint(parse_exact(s, &id), ==, GLOW_ID_ERR_LENGTH);
	g_free(s);

	/* Every truncation of a valid ID. */
	for (size_t n = 0; n < GLOW_NODE_ID_TEXT_LEN; n++) {
		s = g_strndup(VECTOR_TEXT, n);
		g_assert_cmpint(parse_exact(s, &id), ==, GLOW_ID_ERR_LENGTH);
		g_free(s);
	}

	/* Valid check characters but non-zero trailing bits: the last data
	 * character may only be A or Q. Built by hand, checks recomputed. */
	g_assert_cmpint(parse_exact("AAAAAAA-AAAAAAA-AAAAAAA-AAAAAAA-AAAAAAA-AAAAAAA-AAAAAAA-AAAAAB7",
				    &id), ==, GLOW_ID_ERR_CHAR);

	/* A failed parse leaves the output alone. */
	vector_id(&id);
	g_assert_cmpint(parse_exact("AAAAAAA-AAAAAAA-AAAAAAA-AAAAAAA-AAAAAAA-AAAAAAA-AAAAAAA-AAAAAAB",
				    &id), ==, GLOW_ID_ERR_CHECK);
	glow_node_id_to_text(&id, text);
	g_assert_cmpstr(text, ==, VECTOR_TEXT);
}

typedef struct {
	const char *text;
	GlowIdError want;
} AddrCase;

#define VID "glow://" VECTOR_TEXT

static void test_hostile_addrs(void)
{
	const AddrCase cases[] = {
		{ "", GLOW_ID_ERR_SYNTAX },
		{ "g", GLOW_ID_ERR_SYNTAX },
		{ "glow:/", GLOW_ID_ERR_SYNTAX },
		{ "glow://", GLOW_ID_ERR_SYNTAX },
		{ "glow:///1", GLOW_ID_ERR_SYNTAX },
		{ "glow://X/1", GLOW_ID_ERR_LENGTH },
		{ "glow://X", GLOW_ID_ERR_LENGTH },
		{ "http://" VECTOR_TEXT "/1", GLOW_ID_ERR_SYNTAX },
		{ VECTOR_TEXT "/1", GLOW_ID_ERR_SYNTAX },
		{ " " VID "/1", GLOW_ID_ERR_SYNTAX },
		{ VID "/18446744073709551616", GLOW_ID_ERR_SYNTAX },
		{ VID "/99999999999999999999", GLOW_ID_ERR_SYNTAX },
		{ VID "/184467440737095516150", GLOW_ID_ERR_SYNTAX },
		{ VID "/18446744073709551615", GLOW_ID_OK },
		{ VID "/-1", GLOW_ID_ERR_SYNTAX },
		{ VID "/+1", GLOW_ID_ERR_SYNTAX },
		{ VID "/-0", GLOW_ID_ERR_SYNTAX },
		{ VID "/1x", GLOW_ID_ERR_SYNTAX },
		{ VID "/0x10", GLOW_ID_ERR_SYNTAX },
		{ VID "/1 ", GLOW_ID_ERR_SYNTAX },
		{ VID "/ 1", GLOW_ID_ERR_SYNTAX },
		{ VID "/1 2", GLOW_ID_ERR_SYNTAX },
		{ VID " /1", GLOW_ID_ERR_SYNTAX },
		{ VID "//1", GLOW_ID_ERR_SYNTAX },
		{ VID "/1/2", GLOW_ID_ERR_SYNTAX },
		{ VID "/1/", GLOW_ID_ERR_SYNTAX },
		{ VID "/1\n", GLOW_ID_ERR_SYNTAX },
		{ "glow://AAAQEAY EAUDAOB-CAJBIFQ-YDIOB4B-IBCEQTC-QKRMFYX-YDENBWH-A5DYPQG/1",
		  GLOW_ID_ERR_SYNTAX },
		{ "glow://AAAQEAY-EAUDAOB-CAJBIFQ-YDIOB4B-IBCEQTC-QKRMFYX-YDENBWH-A5DYPQH/1",
		  GLOW_ID_ERR_CHECK },
		{ "glow://AAAQEAY-EAUDAOB-CAJBIFQ-YDIOB4B-IBCEQTC-QKRMFYX-YDENBWH-A5DYPQ?/1",
		  GLOW_ID_ERR_CHAR },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		GlowAddr a;
		GlowIdError e = addr_exact(cases[i].text, &a);
		if (e != cases[i].want)
			g_error("\"%s\": got %d (%s), want %d", cases[i].text, e,
				glow_id_strerror(e), cases[i].want);
	}
	g_assert_cmpint(glow_addr_from_text(NULL, &(GlowAddr){ .resource = 0 }), ==, GLOW_ID_ERR_SYNTAX);

	/* Very long: a huge number, a huge node part. */
	GlowAddr a;
	gchar *digits = g_strnfill(100000, '9');
	gchar *s = g_strconcat(VID "/", digits, NULL);
	g_assert_cmpint(addr_exact(s, &a), ==, GLOW_ID_ERR_SYNTAX);
	g_free(s);
	s = g_strconcat("glow://", digits, "/1", NULL);
	g_assert_cmpint(addr_exact(s, &a), ==, GLOW_ID_ERR_CHAR);
	g_free(s);
	g_free(digits);

	/* Every truncation of a valid address short of the resource id. */
	for (size_t n = 0; n < strlen(VID); n++) {
		s = g_strndup(VID "/5", n);
		g_assert_cmpint(addr_exact(s, &a), !=, GLOW_ID_OK);
		g_free(s);
	}
}

/* Random strings from a biased alphabet, through every parser, at exact
 * heap sizes: must never crash or read past the NUL (ASan watches). */
static void test_fuzz(void)
{
	static const char pool[] = ALPHABET "abcxyz0189-/ :glow\x01\x7f\xff";
	uint8_t seed[randombytes_SEEDBYTES] = { 1 };
	uint8_t bytes[4096];

	randombytes_buf_deterministic(bytes, sizeof bytes, seed);
	for (size_t iter = 0, k = 0; iter < 20000; iter++) {
		size_t len = bytes[k++ % sizeof bytes] % 100;
		char *s = g_malloc(len + 8);
		size_t o = 0;
		if (iter % 2 == 0) {
			memcpy(s, "glow://", 7);
			o = 7;
		}
		for (size_t i = 0; i < len; i++)
			s[o++] = pool[bytes[k++ % sizeof bytes] % (sizeof pool - 1)];
		s[o] = '\0';
		char *exact = g_strdup(s);
		GlowNodeId id = { { 0 } };
		GlowAddr a;
		char clean[64];
		(void)glow_node_id_from_text(exact, &id);
		(void)glow_addr_from_text(exact, &a);
		if (glow_node_id_clean(exact, clean, sizeof clean) >= 0)
			(void)glow_node_id_has_prefix(&id, clean);
		g_free(exact);
		g_free(s);
		k += iter; /* vary the walk through the pool */
	}
}

static void test_strerror(void)
{
	for (int e = GLOW_ID_OK; e <= GLOW_ID_ERR_SYNTAX; e++)
		g_assert_nonnull(glow_id_strerror((GlowIdError)e));
	g_assert_nonnull(glow_id_strerror((GlowIdError)99));
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	if (sodium_init() < 0)
		return 1;
	g_test_add_func("/nodeid/vector", test_vector);
	g_test_add_func("/nodeid/syncthing-vector", test_syncthing_vector);
	g_test_add_func("/nodeid/zero-equal", test_zero_and_equal);
	g_test_add_func("/nodeid/roundtrip", test_roundtrip);
	g_test_add_func("/nodeid/substitution", test_substitution);
	g_test_add_func("/nodeid/transposition", test_transposition);
	g_test_add_func("/nodeid/lookalike-case", test_lookalike_and_case);
	g_test_add_func("/nodeid/spacing", test_spacing);
	g_test_add_func("/nodeid/clean", test_clean);
	g_test_add_func("/nodeid/prefix", test_prefix);
	g_test_add_func("/nodeid/addr-roundtrip", test_addr_roundtrip);
	g_test_add_func("/nodeid/addr-forms", test_addr_forms);
	g_test_add_func("/nodeid/hostile-ids", test_hostile_ids);
	g_test_add_func("/nodeid/hostile-addrs", test_hostile_addrs);
	g_test_add_func("/nodeid/fuzz", test_fuzz);
	g_test_add_func("/nodeid/strerror", test_strerror);
	return g_test_run();
}
