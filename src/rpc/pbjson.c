/* pbjson.c — JSON <-> protobuf through protobuf-c's reflection descriptors.
 *
 * See pbjson.h for the mapping. Both directions walk the message
 * descriptor: JSON -> protobuf builds a protobuf-c message in memory and
 * packs it; protobuf -> JSON unpacks with protobuf-c and prints the struct.
 *
 * Memory: messages we build are allocated with malloc() throughout so that
 * protobuf_c_message_free_unpacked(msg, NULL) (the default allocator is
 * malloc/free) releases them, including after a failure half-way through.
 * To keep that safe, a pointer is stored into a message only once what it
 * points to is complete, and a repeated field's count only covers elements
 * already converted.
 */
#include "pbjson.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Both directions recurse per nested message (so do protobuf-c and
 * json-glib); hostile input must not be able to exhaust the stack. */
#define PBJSON_MAX_DEPTH 32
/* A message level is at most two JSON levels (an array of objects), so
 * deeper text can never fit a schema; refusing it before json-glib parses
 * it matters because json-glib's parser recurses without a limit. */
#define PBJSON_MAX_TEXT_DEPTH (2 * (PBJSON_MAX_DEPTH + 1))
/* Integers up to 2^53 survive a trip through a double (JavaScript, jq);
 * larger 64-bit values are printed as strings. */
#define PBJSON_EXACT_INT ((int64_t)1 << 53)
#define TWO_POW_63 9223372036854775808.0
#define TWO_POW_64 18446744073709551616.0

G_DEFINE_QUARK(glow-pbjson-error-quark, glow_pbjson_error)

typedef struct {
	GString *path;         /* field path of the value at hand, for errors */
	GError **error;
	GlowPbjsonFlags flags;
	gboolean strict;       /* decoding bytes: fail where from_message repairs */
} Ctx;

/* ---- helpers ----------------------------------------------------------- */

/* protobuf-c frees with free(); allocation failure aborts like g_malloc. */
static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (p == NULL)
		g_error("pbjson: out of memory");
	return p;
}

static char *xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = xcalloc(n, 1);
	memcpy(p, s, n);
	return p;
}

static void *mfield(ProtobufCMessage *m, unsigned offset)
{
	return (char *)m + offset;
}

static const void *cfield(const ProtobufCMessage *m, unsigned offset)
{
	return (const char *)m + offset;
}

static gsize path_enter_field(Ctx *c, const char *name)
{
	gsize mark = c->path->len;
	if (mark > 0)
		g_string_append_c(c->path, '.');
	g_string_append(c->path, name);
	return mark;
}

static gsize path_enter_index(Ctx *c, guint index)
{
	gsize mark = c->path->len;
	g_string_append_printf(c->path, "[%u]", index);
	return mark;
}

static void path_leave(Ctx *c, gsize mark)
{
	g_string_truncate(c->path, mark);
}

/* Sets the error, prefixed with the current field path; returns FALSE so
 * callers can `return fail(...)`. */
G_GNUC_PRINTF(3, 4)
static gboolean fail(Ctx *c, GlowPbjsonError code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	if (c->path->len == 0)
		g_set_error_literal(c->error, GLOW_PBJSON_ERROR, (gint)code, msg);
	else
		g_set_error(c->error, GLOW_PBJSON_ERROR, (gint)code, "%s: %s", c->path->str, msg);
	return FALSE;
}

static const char *type_name(ProtobufCType type)
{
	switch (type) {
	case PROTOBUF_C_TYPE_INT32: return "int32";
	case PROTOBUF_C_TYPE_SINT32: return "sint32";
	case PROTOBUF_C_TYPE_SFIXED32: return "sfixed32";
	case PROTOBUF_C_TYPE_INT64: return "int64";
	case PROTOBUF_C_TYPE_SINT64: return "sint64";
	case PROTOBUF_C_TYPE_SFIXED64: return "sfixed64";
	case PROTOBUF_C_TYPE_UINT32: return "uint32";
	case PROTOBUF_C_TYPE_FIXED32: return "fixed32";
	case PROTOBUF_C_TYPE_UINT64: return "uint64";
	case PROTOBUF_C_TYPE_FIXED64: return "fixed64";
	case PROTOBUF_C_TYPE_FLOAT: return "float";
	case PROTOBUF_C_TYPE_DOUBLE: return "double";
	case PROTOBUF_C_TYPE_BOOL: return "bool";
	case PROTOBUF_C_TYPE_ENUM: return "enum";
	case PROTOBUF_C_TYPE_STRING: return "string";
	case PROTOBUF_C_TYPE_BYTES: return "bytes";
	case PROTOBUF_C_TYPE_MESSAGE: return "message";
	}
	return "?";
}

/* Size of one value in the C struct (or one element of a repeated array). */
static size_t value_size(ProtobufCType type)
{
	switch (type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		return sizeof(uint32_t);
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return sizeof(uint64_t);
	case PROTOBUF_C_TYPE_FLOAT: return sizeof(float);
	case PROTOBUF_C_TYPE_DOUBLE: return sizeof(double);
	case PROTOBUF_C_TYPE_BOOL: return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_ENUM: return sizeof(int);
	case PROTOBUF_C_TYPE_STRING: return sizeof(char *);
	case PROTOBUF_C_TYPE_BYTES: return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_MESSAGE: return sizeof(ProtobufCMessage *);
	}
	return 0;
}

static gboolean is_oneof(const ProtobufCFieldDescriptor *f)
{
	return (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0;
}

/* Own versions of fabs/trunc-style checks: the rest of the build does not
 * link libm, and these are all this file needs from it. */
static double abs_double(double d)
{
	return d < 0 ? -d : d;
}

static gboolean is_integral(double d)
{
	if (!isfinite(d))
		return FALSE;
	/* from 2^52 on, every double is an integer */
	if (abs_double(d) >= 4503599627370496.0)
		return TRUE;
	return (double)(int64_t)d == d;
}

static GType node_value_type(JsonNode *node)
{
	return JSON_NODE_HOLDS_VALUE(node) ? json_node_get_value_type(node) : G_TYPE_INVALID;
}

/* "got ..." part of type errors. */
static const char *node_kind(JsonNode *node)
{
	switch (json_node_get_node_type(node)) {
	case JSON_NODE_OBJECT: return "an object";
	case JSON_NODE_ARRAY: return "an array";
	case JSON_NODE_NULL: return "null";
	case JSON_NODE_VALUE: break;
	}
	GType t = json_node_get_value_type(node);
	if (t == G_TYPE_STRING)
		return "a string";
	if (t == G_TYPE_BOOLEAN)
		return "a boolean";
	return "a number";
}

/* Strict JSON number syntax (RFC 8259), for numeric strings and for the
 * number tokens json-glib would otherwise read as octal or hex. */
static gboolean is_json_number(const char *s)
{
	if (*s == '-')
		s++;
	if (*s == '0')
		s++;
	else if (g_ascii_isdigit(*s))
		while (g_ascii_isdigit(*s))
			s++;
	else
		return FALSE;
	if (*s == '.') {
		s++;
		if (!g_ascii_isdigit(*s))
			return FALSE;
		while (g_ascii_isdigit(*s))
			s++;
	}
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '+' || *s == '-')
			s++;
		if (!g_ascii_isdigit(*s))
			return FALSE;
		while (g_ascii_isdigit(*s))
			s++;
	}
	return *s == '\0';
}

/* ---- base64 ------------------------------------------------------------ */

static int b64_digit(char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+' || ch == '-')
		return 62;
	if (ch == '/' || ch == '_')
		return 63;
	return -1;
}

/* Our own decoder because g_base64_decode silently skips characters outside
 * the alphabet, turning typos into wrong bytes. Accepts the standard and the
 * URL-safe alphabet, with or without padding. The result is malloc'ed. */
static gboolean b64_decode(const char *s, ProtobufCBinaryData *out)
{
	size_t len = strlen(s);
	size_t pad = 0;
	while (len > 0 && s[len - 1] == '=' && pad < 2) {
		len--;
		pad++;
	}
	if (len % 4 == 1 || (pad > 0 && (len + pad) % 4 != 0))
		return FALSE;
	size_t n = len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);
	uint8_t *buf = n ? xcalloc(n, 1) : NULL;
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		int v = b64_digit(s[i]);
		if (v < 0) {
			free(buf);
			return FALSE;
		}
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[o++] = (uint8_t)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	out->data = buf;
	out->len = o;
	return TRUE;
}

/* ---- JSON -> message: scalars ------------------------------------------ */

/* Reads an integral JSON value as sign + magnitude so one reader serves
 * every integer width; range checks come after. */
static gboolean read_integer(Ctx *c, JsonNode *node, ProtobufCType type, gboolean allow_string,
                             gboolean *neg, uint64_t *mag)
{
	GType t = node_value_type(node);
	if (t == G_TYPE_INT64) {
		int64_t v = json_node_get_int(node);
		*neg = v < 0;
		*mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
		return TRUE;
	}
	if (t == G_TYPE_DOUBLE) {
		double d = json_node_get_double(node);
		if (!is_integral(d))
			return fail(c, GLOW_PBJSON_ERROR_INVALID, "expected an integer, got %g", d);
		if (abs_double(d) >= TWO_POW_64)
			return fail(c, GLOW_PBJSON_ERROR_INVALID, "%g is out of range for %s", d,
			            type_name(type));
		*neg = d < 0;
		*mag = (uint64_t)abs_double(d);
		return TRUE;
	}
	if (t == G_TYPE_STRING && allow_string) {
		const char *s = json_node_get_string(node);
		*neg = s[0] == '-';
		const char *digits = *neg ? s + 1 : s;
		g_autoptr(GError) err = NULL;
		guint64 v = 0;
		/* a digit first: no second sign, no leading space, no "+" */
		if (!g_ascii_isdigit(digits[0]) ||
		    !g_ascii_string_to_unsigned(digits, 10, 0, G_MAXUINT64, &v, &err)) {
			if (err != NULL && err->code == G_NUMBER_PARSER_ERROR_OUT_OF_BOUNDS)
				return fail(c, GLOW_PBJSON_ERROR_INVALID, "%s is out of range for %s", s,
				            type_name(type));
			return fail(c, GLOW_PBJSON_ERROR_INVALID, "\"%s\" is not a decimal integer", s);
		}
		*mag = v;
		return TRUE;
	}
	return fail(c, GLOW_PBJSON_ERROR_INVALID, "expected an integer%s, got %s",
	            allow_string ? " or a decimal string" : "", node_kind(node));
}

static gboolean range_error(Ctx *c, gboolean neg, uint64_t mag, ProtobufCType type)
{
	return fail(c, GLOW_PBJSON_ERROR_INVALID, "%s%" G_GUINT64_FORMAT " is out of range for %s",
	            neg ? "-" : "", mag, type_name(type));
}

static gboolean read_signed(Ctx *c, JsonNode *node, ProtobufCType type, int64_t min, int64_t max,
                            int64_t *out)
{
	gboolean wide = max > G_MAXINT32;
	gboolean neg;
	uint64_t mag;
	if (!read_integer(c, node, type, wide, &neg, &mag))
		return FALSE;
	if (neg && mag > (uint64_t)0 - (uint64_t)min)
		return range_error(c, neg, mag, type);
	if (!neg && mag > (uint64_t)max)
		return range_error(c, neg, mag, type);
	/* mag - 1 keeps INT64_MIN representable on the way */
	*out = neg && mag > 0 ? -(int64_t)(mag - 1) - 1 : (int64_t)mag;
	return TRUE;
}

static gboolean read_unsigned(Ctx *c, JsonNode *node, ProtobufCType type, uint64_t max,
                              uint64_t *out)
{
	gboolean wide = max > G_MAXUINT32;
	gboolean neg;
	uint64_t mag;
	if (!read_integer(c, node, type, wide, &neg, &mag))
		return FALSE;
	if ((neg && mag > 0) || mag > max)
		return range_error(c, neg, mag, type);
	*out = mag;
	return TRUE;
}

/* Numbers, the proto3 special strings, and numeric strings (which is how
 * we print doubles json-glib cannot print, see double_node). */
static gboolean read_double(Ctx *c, JsonNode *node, double *out)
{
	GType t = node_value_type(node);
	if (t == G_TYPE_INT64) {
		*out = (double)json_node_get_int(node);
		return TRUE;
	}
	if (t == G_TYPE_DOUBLE) {
		*out = json_node_get_double(node);
		/* json-glib turns 1e400 into inf */
		if (!isfinite(*out))
			return fail(c, GLOW_PBJSON_ERROR_INVALID, "number out of range");
		return TRUE;
	}
	if (t != G_TYPE_STRING)
		return fail(c, GLOW_PBJSON_ERROR_INVALID, "expected a number, got %s", node_kind(node));
	const char *s = json_node_get_string(node);
	if (strcmp(s, "NaN") == 0) {
		*out = (double)NAN;
		return TRUE;
	}
	if (strcmp(s, "Infinity") == 0 || strcmp(s, "-Infinity") == 0) {
		*out = s[0] == '-' ? -(double)INFINITY : (double)INFINITY;
		return TRUE;
	}
	if (!is_json_number(s))
		return fail(c, GLOW_PBJSON_ERROR_INVALID,
		            "\"%s\" is not a number (nor NaN, Infinity, -Infinity)", s);
	double d = g_ascii_strtod(s, NULL);
	if (!isfinite(d))
		return fail(c, GLOW_PBJSON_ERROR_INVALID, "%s is out of range", s);
	*out = d;
	return TRUE;
}

/* Narrowing a double beyond float's range is undefined behaviour. Values
 * within half an ulp above FLT_MAX round to it (the shortest printing of
 * FLT_MAX, 3.4028235e38, is one of them); anything larger does not fit. */
static gboolean narrow_to_float(double d, float *out)
{
	const double max = (double)FLT_MAX;
	if (isfinite(d) && abs_double(d) > max) {
		/* 0x1p103 is half of float's ulp at FLT_MAX */
		if (abs_double(d) >= max + 0x1p103)
			return FALSE;
		d = d < 0 ? -max : max;
	}
	*out = (float)d;
	return TRUE;
}

static gboolean read_float(Ctx *c, JsonNode *node, float *out)
{
	double d;
	if (!read_double(c, node, &d))
		return FALSE;
	if (!narrow_to_float(d, out))
		return fail(c, GLOW_PBJSON_ERROR_INVALID, "%g is out of range for float", d);
	return TRUE;
}

static gboolean read_bool(Ctx *c, JsonNode *node, protobuf_c_boolean *out)
{
	if (node_value_type(node) != G_TYPE_BOOLEAN)
		return fail(c, GLOW_PBJSON_ERROR_INVALID, "expected true or false, got %s",
		            node_kind(node));
	*out = json_node_get_boolean(node) ? 1 : 0;
	return TRUE;
}

static gboolean read_enum(Ctx *c, const ProtobufCEnumDescriptor *ed, JsonNode *node, int *out)
{
	GType t = node_value_type(node);
	if (t == G_TYPE_STRING) {
		const char *name = json_node_get_string(node);
		const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value_by_name(ed, name);
		if (ev == NULL)
			return fail(c, GLOW_PBJSON_ERROR_INVALID, "\"%s\" is not a %s value", name,
			            ed->name);
		*out = ev->value;
		return TRUE;
	}
	if (t != G_TYPE_INT64 && t != G_TYPE_DOUBLE)
		return fail(c, GLOW_PBJSON_ERROR_INVALID, "expected an enum name or number, got %s",
		            node_kind(node));
	/* proto3 enums are open: any int32 number is kept, known or not */
	int64_t v;
	if (!read_signed(c, node, PROTOBUF_C_TYPE_ENUM, G_MININT32, G_MAXINT32, &v))
		return FALSE;
	*out = (int)v;
	return TRUE;
}

static gboolean read_string(Ctx *c, JsonNode *node, char **out)
{
	if (node_value_type(node) != G_TYPE_STRING)
		return fail(c, GLOW_PBJSON_ERROR_INVALID, "expected a string, got %s", node_kind(node));
	const char *s = json_node_get_string(node);
	/* json-glib's parser checks this, but nodes built in code may not be */
	if (!g_utf8_validate(s, -1, NULL))
		return fail(c, GLOW_PBJSON_ERROR_INVALID, "string is not valid UTF-8");
	*out = xstrdup(s);
	return TRUE;
}

static gboolean read_bytes(Ctx *c, JsonNode *node, ProtobufCBinaryData *out)
{
	if (node_value_type(node) != G_TYPE_STRING)
		return fail(c, GLOW_PBJSON_ERROR_INVALID, "expected a base64 string, got %s",
		            node_kind(node));
	if (!b64_decode(json_node_get_string(node), out))
		return fail(c, GLOW_PBJSON_ERROR_INVALID, "invalid base64");
	return TRUE;
}

/* ---- JSON -> message: structure ---------------------------------------- */

static gboolean message_from_json(Ctx *c, const ProtobufCMessageDescriptor *desc, JsonNode *node,
                                  guint depth, ProtobufCMessage **out);

/* Converts one JSON value into the C slot of a field (or of one element of a
 * repeated field). Writes the slot only on success. */
static gboolean value_from_json(Ctx *c, const ProtobufCFieldDescriptor *f, JsonNode *node,
                                void *slot, guint depth)
{
	int64_t s;
	uint64_t u;
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		if (!read_signed(c, node, f->type, G_MININT32, G_MAXINT32, &s))
			return FALSE;
		*(int32_t *)slot = (int32_t)s;
		return TRUE;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		if (!read_signed(c, node, f->type, G_MININT64, G_MAXINT64, &s))
			return FALSE;
		*(int64_t *)slot = s;
		return TRUE;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		if (!read_unsigned(c, node, f->type, G_MAXUINT32, &u))
			return FALSE;
		*(uint32_t *)slot = (uint32_t)u;
		return TRUE;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		if (!read_unsigned(c, node, f->type, G_MAXUINT64, &u))
			return FALSE;
		*(uint64_t *)slot = u;
		return TRUE;
	case PROTOBUF_C_TYPE_FLOAT:
		return read_float(c, node, slot);
	case PROTOBUF_C_TYPE_DOUBLE:
		return read_double(c, node, slot);
	case PROTOBUF_C_TYPE_BOOL:
		return read_bool(c, node, slot);
	case PROTOBUF_C_TYPE_ENUM:
		return read_enum(c, f->descriptor, node, slot);
	case PROTOBUF_C_TYPE_STRING:
		return read_string(c, node, slot);
	case PROTOBUF_C_TYPE_BYTES:
		return read_bytes(c, node, slot);
	case PROTOBUF_C_TYPE_MESSAGE:
		return message_from_json(c, f->descriptor, node, depth + 1, slot);
	}
	return fail(c, GLOW_PBJSON_ERROR_INVALID, "unsupported field type %d", (int)f->type);
}

/* Name of the oneof member whose id is `which` (same case slot as f). */
static const char *oneof_member_name(const ProtobufCMessageDescriptor *desc,
                                     const ProtobufCFieldDescriptor *f, uint32_t which)
{
	for (unsigned i = 0; i < desc->n_fields; i++) {
		const ProtobufCFieldDescriptor *g = &desc->fields[i];
		if (is_oneof(g) && g->quantifier_offset == f->quantifier_offset && g->id == which)
			return g->name;
	}
	return "?";
}

static void mark_present(ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
	if (is_oneof(f)) {
		*(uint32_t *)mfield(m, f->quantifier_offset) = f->id;
		return;
	}
	/* proto2 optional scalars carry a has_ flag; strings and messages are
	 * present when non-NULL */
	if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->type != PROTOBUF_C_TYPE_STRING &&
	    f->type != PROTOBUF_C_TYPE_MESSAGE)
		*(protobuf_c_boolean *)mfield(m, f->quantifier_offset) = 1;
}

static gboolean single_from_json(Ctx *c, ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
                                 JsonNode *node, guint depth)
{
	/* oneof members share storage: a second one would overwrite (and leak)
	 * the first */
	if (is_oneof(f)) {
		uint32_t which = *(const uint32_t *)cfield(m, f->quantifier_offset);
		if (which != 0)
			return fail(c, GLOW_PBJSON_ERROR_INVALID, "oneof member \"%s\" is already set",
			            oneof_member_name(m->descriptor, f, which));
	}
	if (!value_from_json(c, f, node, mfield(m, f->offset), depth))
		return FALSE;
	mark_present(m, f);
	return TRUE;
}

static gboolean repeated_from_json(Ctx *c, ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
                                   JsonNode *node, guint depth)
{
	if (!JSON_NODE_HOLDS_ARRAY(node))
		return fail(c, GLOW_PBJSON_ERROR_INVALID, "expected an array, got %s", node_kind(node));
	JsonArray *array = json_node_get_array(node);
	guint n = json_array_get_length(array);
	if (n == 0)
		return TRUE;
	size_t elsize = value_size(f->type);
	char *items = xcalloc(n, elsize);
	size_t *count = mfield(m, f->quantifier_offset);
	*(void **)mfield(m, f->offset) = items;
	for (guint i = 0; i < n; i++) {
		JsonNode *el = json_array_get_element(array, i);
		gsize mark = path_enter_index(c, i);
		gboolean ok = JSON_NODE_HOLDS_NULL(el)
		                  ? fail(c, GLOW_PBJSON_ERROR_INVALID, "null in a repeated field")
		                  : value_from_json(c, f, el, items + i * elsize, depth);
		path_leave(c, mark);
		if (!ok)
			return FALSE;
		*count = i + 1;
	}
	return TRUE;
}

/* lowerCamelCase as protoc derives json_name: drop each '_' and upper-case
 * the letter after it. Compared in place to avoid allocating per lookup. */
static gboolean camel_matches(const char *proto_name, const char *json_name)
{
	gboolean upper = FALSE;
	for (const char *p = proto_name; *p != '\0'; p++) {
		if (*p == '_') {
			upper = TRUE;
			continue;
		}
		char want = upper ? g_ascii_toupper(*p) : *p;
		upper = FALSE;
		if (*json_name != want)
			return FALSE;
		json_name++;
	}
	return *json_name == '\0';
}

static const ProtobufCFieldDescriptor *find_field(const ProtobufCMessageDescriptor *desc,
                                                  const char *name)
{
	const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(desc, name);
	if (f != NULL)
		return f;
	for (unsigned i = 0; i < desc->n_fields; i++)
		if (camel_matches(desc->fields[i].name, name))
			return &desc->fields[i];
	return NULL;
}

static gboolean member_from_json(Ctx *c, ProtobufCMessage *m, gboolean *seen, const char *name,
                                 JsonNode *node, guint depth)
{
	const ProtobufCMessageDescriptor *desc = m->descriptor;
	const ProtobufCFieldDescriptor *f = find_field(desc, name);
	gsize mark = path_enter_field(c, f != NULL ? f->name : name);
	gboolean ok = TRUE;
	if (f == NULL)
		ok = fail(c, GLOW_PBJSON_ERROR_INVALID, "unknown field");
	else if (seen[f - desc->fields])
		ok = fail(c, GLOW_PBJSON_ERROR_INVALID, "field given twice (snake_case and camelCase)");
	else
		seen[f - desc->fields] = TRUE;
	/* null means "leave at the default" */
	if (ok && !JSON_NODE_HOLDS_NULL(node))
		ok = f->label == PROTOBUF_C_LABEL_REPEATED ? repeated_from_json(c, m, f, node, depth)
		                                           : single_from_json(c, m, f, node, depth);
	path_leave(c, mark);
	return ok;
}

static ProtobufCMessage *message_new(const ProtobufCMessageDescriptor *desc)
{
	ProtobufCMessage *m = xcalloc(1, desc->sizeof_message);
	protobuf_c_message_init(desc, m);
	return m;
}

/* proto2 only: protobuf-c's packer dereferences required message and
 * string fields unchecked, so a missing one has to be caught here. */
static gboolean check_required(Ctx *c, const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *desc = m->descriptor;
	for (unsigned i = 0; i < desc->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &desc->fields[i];
		if (f->label != PROTOBUF_C_LABEL_REQUIRED)
			continue;
		if (f->type != PROTOBUF_C_TYPE_MESSAGE && f->type != PROTOBUF_C_TYPE_STRING)
			continue;
		if (*(const void *const *)cfield(m, f->offset) != NULL)
			continue;
		gsize mark = path_enter_field(c, f->name);
		fail(c, GLOW_PBJSON_ERROR_INVALID, "missing required field");
		path_leave(c, mark);
		return FALSE;
	}
	return TRUE;
}

static gboolean message_from_json(Ctx *c, const ProtobufCMessageDescriptor *desc, JsonNode *node,
                                  guint depth, ProtobufCMessage **out)
{
	if (depth > PBJSON_MAX_DEPTH)
		return fail(c, GLOW_PBJSON_ERROR_INVALID, "messages nested deeper than %d levels",
		            PBJSON_MAX_DEPTH);
	if (!JSON_NODE_HOLDS_OBJECT(node))
		return fail(c, GLOW_PBJSON_ERROR_INVALID, "expected an object, got %s", node_kind(node));
	ProtobufCMessage *m = message_new(desc);
	g_autofree gboolean *seen = g_new0(gboolean, desc->n_fields + 1);
	JsonObjectIter it;
	const char *name;
	JsonNode *member;
	json_object_iter_init_ordered(&it, json_node_get_object(node));
	while (json_object_iter_next_ordered(&it, &name, &member)) {
		if (!member_from_json(c, m, seen, name, member, depth)) {
			protobuf_c_message_free_unpacked(m, NULL);
			return FALSE;
		}
	}
	if (!check_required(c, m)) {
		protobuf_c_message_free_unpacked(m, NULL);
		return FALSE;
	}
	*out = m;
	return TRUE;
}

static GBytes *pack_message(const ProtobufCMessage *m)
{
	size_t len = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = g_malloc(len);
	size_t written = protobuf_c_message_pack(m, buf);
	g_assert(written == len);
	return g_bytes_new_take(buf, len);
}

/* ---- JSON text checks -------------------------------------------------- */

static gboolean text_fail(GError **error, const char *text, const char *at, const char *fmt, ...)
	G_GNUC_PRINTF(4, 5);

/* Reports like json-glib does ("<data>:line:col: ..."). */
static gboolean text_fail(GError **error, const char *text, const char *at, const char *fmt, ...)
{
	guint line = 1;
	const char *line_start = text;
	for (const char *p = text; p < at; p++)
		if (*p == '\n') {
			line++;
			line_start = p + 1;
		}
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_set_error(error, GLOW_PBJSON_ERROR, GLOW_PBJSON_ERROR_INVALID, "invalid JSON: <data>:%u:%u: %s",
	            line, (guint)(at - line_start) + 1, msg);
	return FALSE;
}

static const char *skip_string(const char *p)
{
	char quote = *p++;
	while (*p != '\0' && *p != quote) {
		/* json-glib's single-quoted strings have no escapes */
		if (quote == '"' && *p == '\\' && p[1] != '\0')
			p++;
		p++;
	}
	return *p != '\0' ? p + 1 : p;
}

static const char *skip_comment(const char *p)
{
	p += 2;
	while (*p != '\0' && !(p[0] == '*' && p[1] == '/'))
		p++;
	return *p != '\0' ? p + 2 : p;
}

/* Number tokens end at the usual JSON delimiters; the run is taken wide so
 * that "0x10" or "1-2" are seen whole and refused. */
static const char *skip_word(const char *p)
{
	while (g_ascii_isalnum(*p) || *p == '_' || *p == '.' || *p == '+' || *p == '-')
		p++;
	return p;
}

static gboolean check_number(GError **error, const char *text, const char *tok, const char *end)
{
	int len = (int)(end - tok);
	g_autofree char *num = g_strndup(tok, (gsize)len);
	if (!is_json_number(num))
		return text_fail(error, text, tok, "invalid number '%.40s'", num);
	if (strpbrk(num, ".eE") != NULL)
		return TRUE;
	gint64 v;
	if (!g_ascii_string_to_signed(num, 10, G_MININT64, G_MAXINT64, &v, NULL))
		return text_fail(error, text, tok,
		                 "integer %.40s does not fit in 64 bits signed; "
		                 "write large 64-bit values as strings",
		                 num);
	return TRUE;
}

/* json-glib 1.6 is lax in ways that would silently change values, and its
 * parser recurses once per nesting level, so text is checked first: the
 * nesting depth, numbers in strict JSON syntax (it reads 012 as octal and
 * 0x10 as hex), integers within int64 (it wraps larger ones around), and
 * nothing after the top-level value (it ignores the rest). Strings and
 * comments (which it accepts) are skipped; all else is left to json-glib. */
static gboolean text_precheck(const char *text, GError **error)
{
	guint depth = 0;
	gboolean done = FALSE;
	const char *p = text;
	while (*p != '\0') {
		const char *tok = p;
		if (g_ascii_isspace(*p)) {
			p++;
			continue;
		}
		if (p[0] == '/' && p[1] == '*') {
			p = skip_comment(p);
			continue;
		}
		if (done)
			return text_fail(error, text, tok, "unexpected text after the JSON value");
		if (*p == '"' || *p == '\'') {
			p = skip_string(p);
		} else if (*p == '[' || *p == '{') {
			if (++depth > PBJSON_MAX_TEXT_DEPTH)
				return text_fail(error, text, tok, "nested deeper than %d levels",
				                 PBJSON_MAX_TEXT_DEPTH);
			p++;
		} else if (*p == ']' || *p == '}') {
			if (depth > 0 && --depth == 0)
				done = TRUE;
			p++;
		} else if (*p == '-' || g_ascii_isdigit(*p)) {
			p = skip_word(p);
			if (!check_number(error, text, tok, p))
				return FALSE;
		} else if (g_ascii_isalpha(*p) || *p == '_') {
			p = skip_word(p);
		} else {
			p++;
		}
	}
	return TRUE;
}

/* ---- message -> JSON --------------------------------------------------- */

static JsonNode *int_node(int64_t v)
{
	JsonNode *n = json_node_alloc();
	return json_node_init_int(n, v);
}

static JsonNode *string_node(const char *s)
{
	JsonNode *n = json_node_alloc();
	return json_node_init_string(n, s);
}

static JsonNode *string_node_take(char *s)
{
	JsonNode *n = string_node(s);
	g_free(s);
	return n;
}

static JsonNode *signed64_node(int64_t v)
{
	if (v >= -PBJSON_EXACT_INT && v <= PBJSON_EXACT_INT)
		return int_node(v);
	return string_node_take(g_strdup_printf("%" G_GINT64_FORMAT, v));
}

static JsonNode *unsigned64_node(uint64_t v)
{
	if (v <= (uint64_t)PBJSON_EXACT_INT)
		return int_node((int64_t)v);
	return string_node_take(g_strdup_printf("%" G_GUINT64_FORMAT, v));
}

/* A float widened to double prints with noise digits (0.1f is
 * 0.10000000149011612); use the shortest decimal that reads back as the
 * same float instead. */
static double shortest_float(float f)
{
	for (int prec = 1; prec <= 9; prec++) {
		char fmt[8];
		char buf[G_ASCII_DTOSTR_BUF_SIZE];
		g_snprintf(fmt, sizeof fmt, "%%.%dg", prec);
		g_ascii_formatd(buf, sizeof buf, fmt, (double)f);
		double back = g_ascii_strtod(buf, NULL);
		float narrowed;
		if (narrow_to_float(back, &narrowed) && narrowed == f)
			return back;
	}
	return (double)f;
}

static JsonNode *double_node(double d)
{
	if (isnan(d))
		return string_node("NaN");
	if (isinf(d))
		return string_node(d > 0 ? "Infinity" : "-Infinity");
	/* json-glib 1.6 appends ".0" to every double printed without a '.',
	 * so 1e+21 would come out as the invalid "1e+21.0". Such values go out
	 * as an integer when they are one (exactly), else as a numeric string,
	 * which proto3 JSON readers (ours included) accept. */
	char buf[G_ASCII_DTOSTR_BUF_SIZE];
	g_ascii_dtostr(buf, sizeof buf, d);
	if (strchr(buf, 'e') != NULL && strchr(buf, '.') == NULL) {
		if (abs_double(d) < TWO_POW_63 && is_integral(d))
			return int_node((int64_t)d);
		return string_node(buf);
	}
	JsonNode *n = json_node_alloc();
	return json_node_init_double(n, d);
}

static JsonNode *enum_node(const ProtobufCEnumDescriptor *ed, int v)
{
	const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(ed, v);
	/* open enums: a value this build does not know is printed as a number */
	return ev != NULL ? string_node(ev->name) : int_node(v);
}

static JsonNode *text_node(Ctx *c, const char *s)
{
	if (s == NULL)
		return string_node("");
	if (g_utf8_validate(s, -1, NULL))
		return string_node(s);
	if (c->strict) {
		fail(c, GLOW_PBJSON_ERROR_DECODE, "string is not valid UTF-8");
		return NULL;
	}
	return string_node_take(g_utf8_make_valid(s, -1));
}

static JsonNode *bytes_node(const ProtobufCBinaryData *b)
{
	if (b->len == 0)
		return string_node("");
	return string_node_take(g_base64_encode(b->data, b->len));
}

static JsonNode *message_to_json(Ctx *c, const ProtobufCMessage *m, guint depth);

static JsonNode *value_to_json(Ctx *c, const ProtobufCFieldDescriptor *f, const void *slot,
                               guint depth)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		return int_node(*(const int32_t *)slot);
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		return int_node(*(const uint32_t *)slot);
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		return signed64_node(*(const int64_t *)slot);
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return unsigned64_node(*(const uint64_t *)slot);
	case PROTOBUF_C_TYPE_FLOAT: {
		float f32 = *(const float *)slot;
		return double_node(isfinite(f32) ? shortest_float(f32) : (double)f32);
	}
	case PROTOBUF_C_TYPE_DOUBLE:
		return double_node(*(const double *)slot);
	case PROTOBUF_C_TYPE_BOOL: {
		JsonNode *n = json_node_alloc();
		return json_node_init_boolean(n, *(const protobuf_c_boolean *)slot != 0);
	}
	case PROTOBUF_C_TYPE_ENUM:
		return enum_node(f->descriptor, *(const int *)slot);
	case PROTOBUF_C_TYPE_STRING:
		return text_node(c, *(const char *const *)slot);
	case PROTOBUF_C_TYPE_BYTES:
		return bytes_node(slot);
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *sub = *(const ProtobufCMessage *const *)slot;
		return sub != NULL ? message_to_json(c, sub, depth + 1) : json_node_new(JSON_NODE_NULL);
	}
	}
	return json_node_new(JSON_NODE_NULL);
}

static gboolean value_is_zero(const ProtobufCFieldDescriptor *f, const void *slot)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		return *(const uint32_t *)slot == 0;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return *(const uint64_t *)slot == 0;
	case PROTOBUF_C_TYPE_FLOAT:
		return *(const float *)slot == 0; /* -0.0 too, as protobuf-c's packer */
	case PROTOBUF_C_TYPE_DOUBLE:
		return *(const double *)slot == 0;
	case PROTOBUF_C_TYPE_BOOL:
		return *(const protobuf_c_boolean *)slot == 0;
	case PROTOBUF_C_TYPE_ENUM:
		return *(const int *)slot == 0;
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(const char *const *)slot;
		return s == NULL || s[0] == '\0';
	}
	case PROTOBUF_C_TYPE_BYTES:
		return ((const ProtobufCBinaryData *)slot)->len == 0;
	case PROTOBUF_C_TYPE_MESSAGE:
		return *(const ProtobufCMessage *const *)slot == NULL;
	}
	return TRUE;
}

/* Whether a non-oneof field would be serialised (proto2 labels included,
 * so any protoc-c message prints sensibly). */
static gboolean field_present(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
	const void *slot = cfield(m, f->offset);
	switch (f->label) {
	case PROTOBUF_C_LABEL_REQUIRED:
		return TRUE;
	case PROTOBUF_C_LABEL_REPEATED:
		return *(const size_t *)cfield(m, f->quantifier_offset) > 0;
	case PROTOBUF_C_LABEL_OPTIONAL:
		if (f->type == PROTOBUF_C_TYPE_MESSAGE)
			return *(const ProtobufCMessage *const *)slot != NULL;
		if (f->type == PROTOBUF_C_TYPE_STRING) {
			const char *s = *(const char *const *)slot;
			return s != NULL && (const void *)s != f->default_value;
		}
		return *(const protobuf_c_boolean *)cfield(m, f->quantifier_offset) != 0;
	case PROTOBUF_C_LABEL_NONE:
		return !value_is_zero(f, slot);
	}
	return TRUE;
}

static JsonNode *repeated_to_json(Ctx *c, const ProtobufCMessage *m,
                                  const ProtobufCFieldDescriptor *f, guint depth)
{
	size_t n = *(const size_t *)cfield(m, f->quantifier_offset);
	const char *items = *(const char *const *)cfield(m, f->offset);
	size_t elsize = value_size(f->type);
	JsonArray *array = json_array_sized_new((guint)n);
	for (size_t i = 0; i < n; i++) {
		gsize mark = path_enter_index(c, (guint)i);
		JsonNode *el = value_to_json(c, f, items + i * elsize, depth);
		path_leave(c, mark);
		if (el == NULL) {
			json_array_unref(array);
			return NULL;
		}
		json_array_add_element(array, el);
	}
	JsonNode *node = json_node_new(JSON_NODE_ARRAY);
	json_node_take_array(node, array);
	return node;
}

static gboolean field_to_json(Ctx *c, const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
                              guint depth, JsonObject *obj)
{
	if (is_oneof(f)) {
		/* only the member that is set, even with EMIT_DEFAULTS */
		if (*(const uint32_t *)cfield(m, f->quantifier_offset) != f->id)
			return TRUE;
	} else if (!(c->flags & GLOW_PBJSON_EMIT_DEFAULTS) && !field_present(m, f)) {
		return TRUE;
	}
	gsize mark = path_enter_field(c, f->name);
	JsonNode *node = f->label == PROTOBUF_C_LABEL_REPEATED
	                     ? repeated_to_json(c, m, f, depth)
	                     : value_to_json(c, f, cfield(m, f->offset), depth);
	path_leave(c, mark);
	if (node == NULL)
		return FALSE;
	json_object_set_member(obj, f->name, node);
	return TRUE;
}

static JsonNode *message_to_json(Ctx *c, const ProtobufCMessage *m, guint depth)
{
	if (depth > PBJSON_MAX_DEPTH) {
		/* from bytes this cannot happen (wire_check); a message built in
		 * memory that deep is cut rather than recursed into */
		if (c->strict) {
			fail(c, GLOW_PBJSON_ERROR_DECODE, "messages nested deeper than %d levels",
			     PBJSON_MAX_DEPTH);
			return NULL;
		}
		g_warning("pbjson: %s: messages nested deeper than %d levels, printed as null",
		          c->path->str, PBJSON_MAX_DEPTH);
		return json_node_new(JSON_NODE_NULL);
	}
	const ProtobufCMessageDescriptor *desc = m->descriptor;
	JsonObject *obj = json_object_new();
	for (unsigned i = 0; i < desc->n_fields; i++) {
		if (!field_to_json(c, m, &desc->fields[i], depth, obj)) {
			json_object_unref(obj);
			return NULL;
		}
	}
	JsonNode *node = json_node_new(JSON_NODE_OBJECT);
	json_node_take_object(node, obj);
	return node;
}

/* ---- wire-format depth check ------------------------------------------- */

static gboolean read_varint(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
	uint64_t v = 0;
	for (unsigned shift = 0; shift < 64 && *p < end; shift += 7) {
		uint8_t b = *(*p)++;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*out = v;
			return TRUE;
		}
	}
	return FALSE;
}

/* protobuf-c unpacks (and frees) nested messages recursively without a
 * limit, so hostile bytes could exhaust the stack inside it. Walk the wire
 * format first and refuse nesting beyond PBJSON_MAX_DEPTH. Anything this
 * walk cannot follow protobuf-c would reject too, so it fails the same way. */
static gboolean wire_check(Ctx *c, const ProtobufCMessageDescriptor *desc, const uint8_t *p,
                           const uint8_t *end, guint depth)
{
	if (depth > PBJSON_MAX_DEPTH)
		return fail(c, GLOW_PBJSON_ERROR_DECODE, "messages nested deeper than %d levels",
		            PBJSON_MAX_DEPTH);
	while (p < end) {
		uint64_t tag, len;
		if (!read_varint(&p, end, &tag) || tag >> 3 == 0 || tag >> 3 > UINT32_MAX)
			return FALSE;
		switch (tag & 7) {
		case 0:
			if (!read_varint(&p, end, &len))
				return FALSE;
			break;
		case 1:
			if (end - p < 8)
				return FALSE;
			p += 8;
			break;
		case 5:
			if (end - p < 4)
				return FALSE;
			p += 4;
			break;
		case 2: {
			if (!read_varint(&p, end, &len) || len > (uint64_t)(end - p))
				return FALSE;
			const ProtobufCFieldDescriptor *f =
				protobuf_c_message_descriptor_get_field(desc, (unsigned)(tag >> 3));
			if (f != NULL && f->type == PROTOBUF_C_TYPE_MESSAGE) {
				gsize mark = path_enter_field(c, f->name);
				gboolean ok = wire_check(c, f->descriptor, p, p + len, depth + 1);
				path_leave(c, mark);
				if (!ok)
					return FALSE;
			}
			p += len;
			break;
		}
		default: /* groups: protobuf-c does not support them */
			return FALSE;
		}
	}
	return TRUE;
}

/* ---- API --------------------------------------------------------------- */

GBytes *glow_pbjson_to_protobuf(const ProtobufCMessageDescriptor *desc, JsonNode *json, GError **error)
{
	g_return_val_if_fail(desc != NULL && desc->magic == PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);
	g_autoptr(GString) path = g_string_new(NULL);
	Ctx c = { .path = path, .error = error };
	ProtobufCMessage *m = NULL;
	if (json != NULL && !JSON_NODE_HOLDS_NULL(json)) {
		if (!message_from_json(&c, desc, json, 0, &m))
			return NULL;
	} else {
		m = message_new(desc);
		if (!check_required(&c, m)) {
			protobuf_c_message_free_unpacked(m, NULL);
			return NULL;
		}
	}
	GBytes *bytes = pack_message(m);
	protobuf_c_message_free_unpacked(m, NULL);
	return bytes;
}

GBytes *glow_pbjson_text_to_protobuf(const ProtobufCMessageDescriptor *desc, const char *text,
                                     GError **error)
{
	g_return_val_if_fail(desc != NULL, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);
	if (text == NULL)
		return glow_pbjson_to_protobuf(desc, NULL, error);
	if (!text_precheck(text, error))
		return NULL;
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autoptr(GError) local = NULL;
	if (!json_parser_load_from_data(parser, text, -1, &local)) {
		g_set_error(error, GLOW_PBJSON_ERROR, GLOW_PBJSON_ERROR_INVALID, "invalid JSON: %s",
		            local->message);
		return NULL;
	}
	/* empty text gives no root: the empty message */
	return glow_pbjson_to_protobuf(desc, json_parser_get_root(parser), error);
}

JsonNode *glow_pbjson_from_protobuf(const ProtobufCMessageDescriptor *desc, const uint8_t *data,
                                    size_t len, GlowPbjsonFlags flags, GError **error)
{
	static const uint8_t empty[1];
	g_return_val_if_fail(desc != NULL && desc->magic == PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC, NULL);
	g_return_val_if_fail(data != NULL || len == 0, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);
	if (data == NULL)
		data = empty;
	g_autoptr(GString) path = g_string_new(NULL);
	Ctx c = { .path = path, .error = error, .flags = flags, .strict = TRUE };
	ProtobufCMessage *m = NULL;
	if (wire_check(&c, desc, data, data + len, 0))
		m = protobuf_c_message_unpack(desc, NULL, len, data);
	if (m == NULL) {
		/* wire_check may have reported already (too deep) */
		if (error != NULL && *error == NULL)
			fail(&c, GLOW_PBJSON_ERROR_DECODE, "not a valid %s message", desc->name);
		return NULL;
	}
	JsonNode *node = message_to_json(&c, m, 0);
	protobuf_c_message_free_unpacked(m, NULL);
	return node;
}

JsonNode *glow_pbjson_from_message(const ProtobufCMessage *msg, GlowPbjsonFlags flags)
{
	g_return_val_if_fail(msg != NULL && msg->descriptor != NULL, NULL);
	g_autoptr(GString) path = g_string_new(NULL);
	Ctx c = { .path = path, .flags = flags, .strict = FALSE };
	return message_to_json(&c, msg, 0);
}
