/* nodeid.c — node IDs and resource addresses, binary and text forms.
 *
 * Layer: wire. Pure C17 and libc only: no GLib, no I/O, no allocation, so
 * the codec can be fuzzed and reused anywhere. Every parser is total: it
 * accepts any NUL-terminated input and reads nothing past the NUL.
 * The format is specified in docs/identity.md.
 */
#include "wire/nodeid.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#define B32_CHARS 52   /* ceil(256 / 5) */
#define GROUP_DATA 13  /* data characters per check character */
#define GROUP_LEN (GROUP_DATA + 1)
#define GROUPS 4
#define DISPLAY_GROUP 7
#define SCHEME "glow://"
#define SCHEME_LEN (sizeof SCHEME - 1)

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/* Value of a canonical (upper-case) alphabet character, or -1. Written out
 * instead of strchr(alphabet, c) because strchr also finds the NUL. */
static int b32_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= '2' && c <= '7')
		return c - '2' + 26;
	return -1;
}

/* Maps one typed character to its canonical form: 0 means "drop it", -1
 * means "not part of an ID". ASCII arithmetic rather than toupper(), which
 * depends on the locale and is undefined for negative chars. */
static int clean_char(char c)
{
	if (c == '-' || c == ' ')
		return 0;
	if (c >= 'a' && c <= 'z')
		c = (char)(c - 'a' + 'A');
	else if (c == '0')
		c = 'O';
	else if (c == '1')
		c = 'I';
	else if (c == '8')
		c = 'B';
	return b32_value(c) < 0 ? -1 : c;
}

/* Syncthing's "Luhn mod 32": the factor starts at 1 on the FIRST character
 * and alternates 1, 2, 1, ... (not from the right as in textbook Luhn).
 * Doubling is a permutation of 0..31, so any single substitution in the
 * group changes the check character. Callers pass alphabet characters only. */
static char luhn32(const char *s, size_t n)
{
	unsigned factor = 1;
	unsigned sum = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned addend = factor * (unsigned)b32_value(s[i]);
		factor = factor == 2 ? 1 : 2;
		sum += addend / 32 + addend % 32;
	}
	return alphabet[(32 - sum % 32) % 32];
}

/* RFC 4648 base32 without padding; the last character carries 1 data bit
 * and 4 zero bits. */
static void b32_encode(const uint8_t in[GLOW_NODE_ID_LEN], char out[B32_CHARS])
{
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t n = 0;

	for (size_t i = 0; i < GLOW_NODE_ID_LEN; i++) {
		acc = (acc << 8) | in[i];
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			out[n++] = alphabet[(acc >> bits) & 31];
		}
		acc &= (1u << bits) - 1;
	}
	if (bits > 0)
		out[n] = alphabet[(acc << (5 - bits)) & 31];
}

/* Strict inverse of b32_encode: the 4 trailing bits must be zero, so every
 * key has exactly one text form and IDs can be compared as strings. */
static bool b32_decode(const char in[B32_CHARS], uint8_t out[GLOW_NODE_ID_LEN])
{
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t n = 0;

	for (size_t i = 0; i < B32_CHARS; i++) {
		int v = b32_value(in[i]);
		if (v < 0)
			return false;
		acc = (acc << 5) | (uint32_t)v;
		bits += 5;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (uint8_t)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	return n == GLOW_NODE_ID_LEN && acc == 0;
}

/* The 56-character form without dashes: what prefixes are matched against. */
static void encode_raw(const GlowNodeId *id, char raw[GLOW_NODE_ID_RAW_CHARS + 1])
{
	char b32[B32_CHARS];

	b32_encode(id->b, b32);
	for (size_t g = 0; g < GROUPS; g++) {
		const char *data = b32 + g * GROUP_DATA;
		memcpy(raw + g * GROUP_LEN, data, GROUP_DATA);
		raw[g * GROUP_LEN + GROUP_DATA] = luhn32(data, GROUP_DATA);
	}
	raw[GLOW_NODE_ID_RAW_CHARS] = '\0';
}

/* Cleans at most n characters of s (stopping early at a NUL) into raw.
 * Scans to the end so a bad character wins over a bad length: "you typed
 * a character that is never in an ID" is the more useful message. */
static GlowIdError clean_span(const char *s, size_t n, char raw[GLOW_NODE_ID_RAW_CHARS])
{
	size_t len = 0;

	for (size_t i = 0; i < n && s[i] != '\0'; i++) {
		int c = clean_char(s[i]);
		if (c < 0)
			return GLOW_ID_ERR_CHAR;
		if (c == 0)
			continue;
		if (len < GLOW_NODE_ID_RAW_CHARS)
			raw[len] = (char)c;
		len++;
	}
	return len == GLOW_NODE_ID_RAW_CHARS ? GLOW_ID_OK : GLOW_ID_ERR_LENGTH;
}

/* Verifies the check characters, then decodes the 52 data characters. */
static GlowIdError decode_raw(const char raw[GLOW_NODE_ID_RAW_CHARS], GlowNodeId *out)
{
	char b32[B32_CHARS];
	GlowNodeId id;

	for (size_t g = 0; g < GROUPS; g++) {
		const char *group = raw + g * GROUP_LEN;
		if (luhn32(group, GROUP_DATA) != group[GROUP_DATA])
			return GLOW_ID_ERR_CHECK;
		memcpy(b32 + g * GROUP_DATA, group, GROUP_DATA);
	}
	/* Only reachable with valid checks, i.e. a hand-made ID whose last data
	 * character is not A or Q: a character not allowed at its place. */
	if (!b32_decode(b32, id.b))
		return GLOW_ID_ERR_CHAR;
	*out = id;
	return GLOW_ID_OK;
}

static GlowIdError parse_id_span(const char *s, size_t n, GlowNodeId *out)
{
	char raw[GLOW_NODE_ID_RAW_CHARS];
	GlowIdError e = clean_span(s, n, raw);

	return e != GLOW_ID_OK ? e : decode_raw(raw, out);
}

void glow_node_id_to_text(const GlowNodeId *id, char out[GLOW_NODE_ID_TEXT_BUF])
{
	char raw[GLOW_NODE_ID_RAW_CHARS + 1];
	size_t o = 0;

	encode_raw(id, raw);
	for (size_t i = 0; i < GLOW_NODE_ID_RAW_CHARS; i++) {
		if (i > 0 && i % DISPLAY_GROUP == 0)
			out[o++] = '-';
		out[o++] = raw[i];
	}
	out[o] = '\0';
}

void glow_node_id_short(const GlowNodeId *id, char out[8])
{
	char raw[GLOW_NODE_ID_RAW_CHARS + 1];

	encode_raw(id, raw);
	memcpy(out, raw, DISPLAY_GROUP);
	out[DISPLAY_GROUP] = '\0';
}

GlowIdError glow_node_id_from_text(const char *text, GlowNodeId *out)
{
	if (text == NULL)
		return GLOW_ID_ERR_LENGTH;
	return parse_id_span(text, SIZE_MAX, out);
}

int glow_node_id_clean(const char *text, char *out, size_t cap)
{
	size_t len = 0;

	if (out == NULL || cap == 0)
		return -1;
	/* The length is returned as an int; never produce more than fits. */
	if (cap > (size_t)INT_MAX)
		cap = (size_t)INT_MAX;
	out[0] = '\0';
	for (size_t i = 0; text != NULL && text[i] != '\0'; i++) {
		int c = clean_char(text[i]);
		if (c == 0)
			continue;
		if (c < 0 || len + 1 >= cap) {
			out[0] = '\0';
			return -1;
		}
		out[len++] = (char)c;
	}
	out[len] = '\0';
	return (int)len;
}

bool glow_node_id_has_prefix(const GlowNodeId *id, const char *clean_prefix)
{
	char raw[GLOW_NODE_ID_RAW_CHARS + 1];
	size_t n = 0;

	if (id == NULL || clean_prefix == NULL)
		return false;
	encode_raw(id, raw);
	/* Stops at the first mismatch or NUL, so a short string is never
	 * read past its end. */
	for (; n < GLOW_NODE_ID_RAW_CHARS && clean_prefix[n] != '\0'; n++) {
		if (clean_prefix[n] != raw[n])
			return false;
	}
	if (clean_prefix[n] != '\0')
		return false; /* longer than an ID */
	return n >= GLOW_NODE_ID_MIN_PREFIX;
}

bool glow_node_id_equal(const GlowNodeId *a, const GlowNodeId *b)
{
	return memcmp(a->b, b->b, GLOW_NODE_ID_LEN) == 0;
}

bool glow_node_id_is_zero(const GlowNodeId *id)
{
	uint8_t any = 0;

	for (size_t i = 0; i < GLOW_NODE_ID_LEN; i++)
		any |= id->b[i];
	return any == 0;
}

void glow_addr_to_text(const GlowAddr *a, char out[GLOW_ADDR_TEXT_BUF])
{
	char id[GLOW_NODE_ID_TEXT_BUF];

	glow_node_id_to_text(&a->node, id);
	snprintf(out, GLOW_ADDR_TEXT_BUF, SCHEME "%s/%" PRIu64, id, a->resource);
}

/* URI schemes are case-insensitive (RFC 3986 section 3.1). Compares byte by
 * byte so a short input stops at its NUL. */
static bool has_scheme(const char *s)
{
	for (size_t i = 0; i < SCHEME_LEN; i++) {
		char c = s[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != SCHEME[i])
			return false;
	}
	return true;
}

/* Plain decimal only: strtoull would accept signs, spaces and hex. */
static bool parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return false;
		unsigned d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

GlowIdError glow_addr_from_text(const char *text, GlowAddr *out)
{
	GlowAddr a = { .resource = 0 };

	if (text == NULL || !has_scheme(text))
		return GLOW_ID_ERR_SYNTAX;
	const char *node = text + SCHEME_LEN;
	size_t node_len = strcspn(node, "/");
	if (node_len == 0)
		return GLOW_ID_ERR_SYNTAX;
	/* An address is one token; a space means it was split or glued. */
	if (memchr(node, ' ', node_len) != NULL)
		return GLOW_ID_ERR_SYNTAX;
	GlowIdError e = parse_id_span(node, node_len, &a.node);
	if (e != GLOW_ID_OK)
		return e;
	const char *rest = node + node_len;
	if (*rest == '/' && rest[1] != '\0' && !parse_u64(rest + 1, &a.resource))
		return GLOW_ID_ERR_SYNTAX;
	*out = a;
	return GLOW_ID_OK;
}

const char *glow_id_strerror(GlowIdError e)
{
	switch (e) {
	case GLOW_ID_OK:
		return "ok";
	case GLOW_ID_ERR_LENGTH:
		return "a node ID has 56 characters (without dashes)";
	case GLOW_ID_ERR_CHAR:
		return "character not valid in a node ID";
	case GLOW_ID_ERR_CHECK:
		return "check character mismatch: the node ID is mistyped";
	case GLOW_ID_ERR_SYNTAX:
		return "not an address of the form glow://<node-id>/<resource-id>";
	}
	return "unknown node ID error";
}

unsigned int glow_node_id_hash(const void *id)
{
	unsigned int h;
	memcpy(&h, id, sizeof h);
	return h;
}

int glow_node_id_equal_key(const void *a, const void *b)
{
	return memcmp(a, b, GLOW_NODE_ID_LEN) == 0;
}
