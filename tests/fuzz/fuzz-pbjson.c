/* fuzz-pbjson — the JSON <-> protobuf converter (src/rpc/pbjson.c).
 *
 * The input, NUL-terminated, is JSON text for glow_pbjson_text_to_protobuf
 * with request types the CLI sends (glow.MeasureRequest, glow.ConnectRequest)
 * and the test schema's every-field-kind and recursive types; the same bytes
 * are protobuf for glow_pbjson_from_protobuf with those and reply types.
 * Round trips must hold as test-pbjson.c states them:
 *  - JSON -> bytes B -> JSON -> bytes gives B again;
 *  - bytes -> JSON J -> bytes -> JSON gives J again (the printed JSON is
 *    always accepted back).
 * The last input byte's low bit selects GLOW_PBJSON_EMIT_DEFAULTS.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-common.h"
#include "glow/common.pb-c.h"
#include "glow/diag.pb-c.h"
#include "glow/node.pb-c.h"
#include "pbjson-test.pb-c.h"
#include "rpc/pbjson.h"

FUZZ_DEFINE_INIT()

static const ProtobufCMessageDescriptor *const json_types[] = {
	&glow__measure_request__descriptor,
	&glow__connect_request__descriptor,
	&glow__pbjsontest__all_types__descriptor,
	&glow__pbjsontest__tree__descriptor,
};

static const ProtobufCMessageDescriptor *const pb_types[] = {
	&glow__measure_request__descriptor,
	&glow__connect_request__descriptor,
	&glow__measure_reply__descriptor,
	&glow__link_list__descriptor,
	&glow__node_info__descriptor,
	&glow__interface_info__descriptor,
	&glow__link_hello__descriptor,
	&glow__pbjsontest__all_types__descriptor,
	&glow__pbjsontest__tree__descriptor,
};

static void report(const char *what, const ProtobufCMessageDescriptor *desc, const char *a, const char *b)
{
	fprintf(stderr, "pbjson round trip (%s) broken for %s:\n  first:  %s\n  second: %s\n", what,
	        desc->name, a ? a : "(null)", b ? b : "(null)");
	abort();
}

/* bytes -> JSON text; NULL when the bytes are refused (error set). */
static char *pb_to_text(const ProtobufCMessageDescriptor *desc, const uint8_t *p, size_t len,
                        GlowPbjsonFlags flags, GError **error)
{
	JsonNode *node = glow_pbjson_from_protobuf(desc, p, len, flags, error);
	if (node == NULL) {
		FUZZ_CHECK(error == NULL || *error != NULL);
		return NULL;
	}
	FUZZ_CHECK(JSON_NODE_HOLDS_OBJECT(node));
	char *text = json_to_string(node, FALSE);
	json_node_unref(node);
	return text;
}

static void json_round_trip(const ProtobufCMessageDescriptor *desc, const char *text, GlowPbjsonFlags flags)
{
	g_autoptr(GError) err = NULL;
	g_autoptr(GBytes) b1 = glow_pbjson_text_to_protobuf(desc, text, &err);
	if (b1 == NULL) {
		FUZZ_CHECK(err != NULL && err->domain == GLOW_PBJSON_ERROR);
		return;
	}
	FUZZ_CHECK(err == NULL);
	gsize len;
	const uint8_t *p = g_bytes_get_data(b1, &len);
	g_autofree char *j = pb_to_text(desc, p, len, flags, &err);
	if (j == NULL)
		report("JSON -> bytes -> JSON", desc, text, err->message);
	g_autoptr(GBytes) b2 = glow_pbjson_text_to_protobuf(desc, j, &err);
	if (b2 == NULL)
		report("JSON -> bytes -> JSON -> bytes", desc, j, err->message);
	if (!g_bytes_equal(b1, b2))
		report("JSON -> bytes -> JSON -> bytes: bytes differ", desc, text, j);
}

static void pb_round_trip(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t size,
                          GlowPbjsonFlags flags)
{
	g_autoptr(GError) err = NULL;
	g_autofree char *j1 = pb_to_text(desc, data, size, flags, &err);
	if (j1 == NULL) {
		FUZZ_CHECK(err->domain == GLOW_PBJSON_ERROR);
		return;
	}
	g_autoptr(GBytes) b = glow_pbjson_text_to_protobuf(desc, j1, &err);
	if (b == NULL)
		report("bytes -> JSON -> bytes", desc, j1, err->message);
	gsize len;
	const uint8_t *p = g_bytes_get_data(b, &len);
	g_autofree char *j2 = pb_to_text(desc, p, len, flags, &err);
	if (j2 == NULL)
		report("bytes -> JSON -> bytes -> JSON", desc, j1, err->message);
	if (strcmp(j1, j2) != 0)
		report("bytes -> JSON -> bytes -> JSON: JSON differs", desc, j1, j2);
}

/* glow_pbjson_from_message never fails: it repairs (e.g. invalid UTF-8)
 * what from_protobuf refuses. Only types without recursion: for those
 * protobuf-c's own unpack is bounded by the schema. */
static void from_message(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t size,
                         GlowPbjsonFlags flags)
{
	ProtobufCMessage *m = protobuf_c_message_unpack(desc, NULL, size, data);
	if (m == NULL)
		return;
	JsonNode *node = glow_pbjson_from_message(m, flags);
	FUZZ_CHECK(node != NULL && JSON_NODE_HOLDS_OBJECT(node));
	char *text = json_to_string(node, FALSE);
	g_free(text);
	json_node_unref(node);
	protobuf_c_message_free_unpacked(m, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	GlowPbjsonFlags flags = size && (data[size - 1] & 1) ? GLOW_PBJSON_EMIT_DEFAULTS : GLOW_PBJSON_NONE;

	char *text = malloc(size + 1);
	FUZZ_CHECK(text != NULL);
	if (size)
		memcpy(text, data, size);
	text[size] = '\0';
	for (size_t i = 0; i < G_N_ELEMENTS(json_types); i++)
		json_round_trip(json_types[i], text, flags);
	free(text);

	/* an exact-size copy, so that ASan sees reads past the end */
	uint8_t *copy = fuzz_dup(data, size);
	for (size_t i = 0; i < G_N_ELEMENTS(pb_types); i++)
		pb_round_trip(pb_types[i], copy, size, flags);
	from_message(&glow__pbjsontest__all_types__descriptor, copy, size, flags);
	from_message(&glow__measure_reply__descriptor, copy, size, flags);
	free(copy);
	return 0;
}
