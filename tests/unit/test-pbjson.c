/* test-pbjson.c — JSON <-> protobuf converter (src/rpc/pbjson.c) against
 * the schema in pbjson-test.proto. Error cases run the same code paths as
 * the successes, so a build with -fsanitize=address also checks that
 * failures half-way through a message free everything. */
#include <string.h>

#include "pbjson-test.pb-c.h"
#include "rpc/pbjson.h"

#define ALL (&glow__pbjsontest__all_types__descriptor)
#define TREE (&glow__pbjsontest__tree__descriptor)
#define INNER (&glow__pbjsontest__inner__descriptor)

/* ---- helpers ----------------------------------------------------------- */

static GBytes *to_pb(const ProtobufCMessageDescriptor *desc, const char *json)
{
	g_autoptr(GError) err = NULL;
	GBytes *bytes = glow_pbjson_text_to_protobuf(desc, json, &err);
	g_assert_no_error(err);
	g_assert_nonnull(bytes);
	return bytes;
}

static char *to_json(const ProtobufCMessageDescriptor *desc, GBytes *bytes, GlowPbjsonFlags flags)
{
	g_autoptr(GError) err = NULL;
	gsize len = 0;
	const uint8_t *data = g_bytes_get_data(bytes, &len);
	g_autoptr(JsonNode) node = glow_pbjson_from_protobuf(desc, data, len, flags, &err);
	g_assert_no_error(err);
	g_assert_nonnull(node);
	g_assert_true(JSON_NODE_HOLDS_OBJECT(node));
	return json_to_string(node, FALSE);
}

/* JSON -> protobuf -> JSON must give `canonical`, and the canonical form must
 * encode to the same bytes (so the printed JSON is a faithful copy). */
static void check_round_trip_flags(const ProtobufCMessageDescriptor *desc, const char *json,
                                   GlowPbjsonFlags flags, const char *canonical)
{
	g_autoptr(GBytes) bytes = to_pb(desc, json);
	g_autofree char *out = to_json(desc, bytes, flags);
	g_assert_cmpstr(out, ==, canonical);
	g_autoptr(GBytes) again = to_pb(desc, out);
	g_assert_true(g_bytes_equal(bytes, again));
}

static void check_round_trip(const ProtobufCMessageDescriptor *desc, const char *json,
                             const char *canonical)
{
	check_round_trip_flags(desc, json, GLOW_PBJSON_NONE, canonical);
}

/* expect_msg NULL: only the error domain and code are checked. */
static void check_invalid(const ProtobufCMessageDescriptor *desc, const char *json,
                          const char *expect_msg)
{
	g_autoptr(GError) err = NULL;
	g_autoptr(GBytes) bytes = glow_pbjson_text_to_protobuf(desc, json, &err);
	g_assert_null(bytes);
	g_assert_error(err, GLOW_PBJSON_ERROR, GLOW_PBJSON_ERROR_INVALID);
	if (expect_msg != NULL)
		g_assert_cmpstr(err->message, ==, expect_msg);
}

static void check_invalid_prefix(const ProtobufCMessageDescriptor *desc, const char *json,
                                 const char *prefix)
{
	g_autoptr(GError) err = NULL;
	g_autoptr(GBytes) bytes = glow_pbjson_text_to_protobuf(desc, json, &err);
	g_assert_null(bytes);
	g_assert_error(err, GLOW_PBJSON_ERROR, GLOW_PBJSON_ERROR_INVALID);
	if (!g_str_has_prefix(err->message, prefix))
		g_error("message \"%s\" does not start with \"%s\"", err->message, prefix);
}

static void check_decode_error(const ProtobufCMessageDescriptor *desc, const uint8_t *data,
                               size_t len, const char *expect_msg)
{
	g_autoptr(GError) err = NULL;
	g_autoptr(JsonNode) node = glow_pbjson_from_protobuf(desc, data, len, GLOW_PBJSON_NONE, &err);
	g_assert_null(node);
	g_assert_error(err, GLOW_PBJSON_ERROR, GLOW_PBJSON_ERROR_DECODE);
	if (expect_msg != NULL)
		g_assert_cmpstr(err->message, ==, expect_msg);
}

/* Tree nested `levels` deep through `child`, as JSON text. */
static char *deep_tree_json(guint levels)
{
	GString *s = g_string_new("{\"label\":\"root\"");
	for (guint i = 0; i < levels; i++)
		g_string_append(s, ",\"child\":{\"label\":\"x\"");
	for (guint i = 0; i <= levels; i++)
		g_string_append_c(s, '}');
	return g_string_free(s, FALSE);
}

/* Tree nested `levels` deep through `child` (field 2), as wire bytes. */
static GByteArray *deep_tree_pb(guint levels)
{
	GByteArray *msg = g_byte_array_new();
	for (guint i = 0; i < levels; i++) {
		GByteArray *outer = g_byte_array_new();
		uint8_t head[6] = { 0x12 };
		guint n = 1;
		for (guint len = msg->len; ; len >>= 7) {
			head[n++] = (uint8_t)((len & 0x7f) | (len > 0x7f ? 0x80 : 0));
			if (len <= 0x7f)
				break;
		}
		g_byte_array_append(outer, head, n);
		g_byte_array_append(outer, msg->data, msg->len);
		g_byte_array_unref(msg);
		msg = outer;
	}
	return msg;
}

/* ---- round trips ------------------------------------------------------- */

static void test_all_kinds(void)
{
	const char *canonical =
		"{\"f_double\":0.5,\"f_float\":-1.25,\"f_int32\":-2147483648,"
		"\"f_int64\":\"-9223372036854775808\",\"f_uint32\":4294967295,"
		"\"f_uint64\":\"18446744073709551615\",\"f_sint32\":-7,\"f_sint64\":-9007199254740992,"
		"\"f_fixed32\":123,\"f_fixed64\":9007199254740992,\"f_sfixed32\":-123,"
		"\"f_sfixed64\":\"9007199254740993\",\"f_bool\":true,"
		"\"f_string\":\"h\xc3\xa9llo \\\"w\\\" \\\\ \\n\",\"f_bytes\":\"AAEC/w==\","
		"\"f_enum\":\"COLOR_GREEN\",\"f_inner\":{\"name\":\"in\",\"value\":7},"
		"\"r_double\":[1.5,-0.25,\"NaN\",\"Infinity\",\"-Infinity\"],"
		"\"r_float\":[0.5,\"NaN\",\"-Infinity\"],"
		"\"r_int32\":[1,-1,2147483647],"
		"\"r_int64\":[0,\"-9007199254740993\",9007199254740992],"
		"\"r_uint32\":[0,4294967295],"
		"\"r_uint64\":[1,\"9007199254740993\"],"
		"\"r_sint32\":[-2147483648,2147483647],"
		"\"r_sint64\":[\"-9223372036854775808\",\"9223372036854775807\"],"
		"\"r_fixed32\":[7],\"r_fixed64\":[\"18446744073709551615\"],"
		"\"r_sfixed32\":[-7],\"r_sfixed64\":[-9007199254740992],"
		"\"r_bool\":[true,false,true],"
		"\"r_string\":[\"a\",\"\",\"\xe2\x82\xac\"],"
		"\"r_bytes\":[\"\",\"AA==\",\"+/8=\"],"
		"\"r_enum\":[\"COLOR_RED\",\"COLOR_UNSPECIFIED\",\"COLOR_NEGATIVE\"],"
		"\"r_inner\":[{\"name\":\"a\"},{},{\"value\":-1}],"
		"\"c_text\":\"hi\"}";
	check_round_trip(ALL, canonical, canonical);
}

static void test_empty(void)
{
	const char *empties[] = { "", "  \n", "{}", "null", " /* nothing */ ", "{\"f_int32\":null}" };
	for (guint i = 0; i < G_N_ELEMENTS(empties); i++) {
		g_autoptr(GBytes) bytes = to_pb(ALL, empties[i]);
		g_assert_cmpuint(g_bytes_get_size(bytes), ==, 0);
		g_autofree char *out = to_json(ALL, bytes, GLOW_PBJSON_NONE);
		g_assert_cmpstr(out, ==, "{}");
	}
	g_autoptr(GError) err = NULL;
	g_autoptr(GBytes) from_null = glow_pbjson_text_to_protobuf(ALL, NULL, &err);
	g_assert_no_error(err);
	g_assert_cmpuint(g_bytes_get_size(from_null), ==, 0);
	g_autoptr(GBytes) from_null_node = glow_pbjson_to_protobuf(ALL, NULL, &err);
	g_assert_no_error(err);
	g_assert_cmpuint(g_bytes_get_size(from_null_node), ==, 0);
	g_autoptr(JsonNode) node = glow_pbjson_from_protobuf(ALL, NULL, 0, GLOW_PBJSON_NONE, &err);
	g_assert_no_error(err);
	g_autofree char *out = json_to_string(node, FALSE);
	g_assert_cmpstr(out, ==, "{}");
}

/* Fields left at zero are omitted; explicit zeros and nulls read fine. */
static void test_zero_values_omitted(void)
{
	check_round_trip(ALL,
	                 "{\"f_double\":0,\"f_int32\":0,\"f_string\":\"\",\"f_bytes\":\"\","
	                 "\"f_enum\":\"COLOR_UNSPECIFIED\",\"f_bool\":false,\"f_inner\":null,"
	                 "\"r_int32\":[],\"c_text\":null}",
	                 "{}");
	/* an empty submessage is still present */
	check_round_trip(ALL, "{\"f_inner\":{}}", "{\"f_inner\":{}}");
	/* integral numbers written as floats are accepted for int fields */
	check_round_trip(ALL, "{\"f_int32\":1.0,\"f_uint64\":2e3,\"f_int64\":-0.0}",
	                 "{\"f_int32\":1,\"f_uint64\":2000}");
}

static void test_camel_case(void)
{
	check_round_trip(ALL,
	                 "{\"fInt32\":5,\"fUint64\":\"7\",\"rString\":[\"a\"],"
	                 "\"fInner\":{\"name\":\"x\"},\"rInner\":[{\"value\":2}],\"cText\":\"t\"}",
	                 "{\"f_int32\":5,\"f_uint64\":7,\"f_inner\":{\"name\":\"x\"},"
	                 "\"r_string\":[\"a\"],\"r_inner\":[{\"value\":2}],\"c_text\":\"t\"}");
	check_invalid(ALL, "{\"f_int32\":1,\"fInt32\":2}",
	              "f_int32: field given twice (snake_case and camelCase)");
	/* only the two spellings, not any case */
	check_invalid(ALL, "{\"FInt32\":1}", "FInt32: unknown field");
	check_invalid(ALL, "{\"f_Int32\":1}", "f_Int32: unknown field");
}

/* 64-bit values beyond 2^53 print as strings; numbers and strings read. */
static void test_int64(void)
{
	check_round_trip(ALL,
	                 "{\"f_int64\":9007199254740992,\"f_uint64\":9007199254740993,"
	                 "\"f_sint64\":\"-9007199254740993\",\"f_fixed64\":\"12\","
	                 "\"f_sfixed64\":-9223372036854775808}",
	                 "{\"f_int64\":9007199254740992,\"f_uint64\":\"9007199254740993\","
	                 "\"f_sint64\":\"-9007199254740993\",\"f_fixed64\":12,"
	                 "\"f_sfixed64\":\"-9223372036854775808\"}");
	check_round_trip(ALL, "{\"f_uint64\":\"18446744073709551615\",\"f_int64\":\"-0\"}",
	                 "{\"f_uint64\":\"18446744073709551615\"}");
	check_round_trip(ALL, "{\"f_int64\":\"9223372036854775807\"}",
	                 "{\"f_int64\":\"9223372036854775807\"}");
}

static void test_floats(void)
{
	/* floats print their shortest form (not 0.10000000149011612) */
	g_autoptr(GBytes) b = to_pb(ALL, "{\"f_float\":0.1,\"r_float\":[3.4028235e38,-1e-45]}");
	g_autofree char *out = to_json(ALL, b, GLOW_PBJSON_NONE);
	g_autoptr(GBytes) again = to_pb(ALL, out);
	g_assert_true(g_bytes_equal(b, again));
	Glow__Pbjsontest__AllTypes *m = glow__pbjsontest__all_types__unpack(
		NULL, g_bytes_get_size(again), g_bytes_get_data(again, NULL));
	g_assert_nonnull(m);
	g_assert_true(m->f_float == 0.1f);
	g_assert_cmpuint(m->n_r_float, ==, 2);
	g_assert_true(m->r_float[0] == 3.4028235e38f);
	g_assert_true(m->r_float[1] == -1e-45f);
	glow__pbjsontest__all_types__free_unpacked(m, NULL);

	/* json-glib would print 1e+21 as "1e+21.0": such doubles go out as an
	 * integer or a numeric string, and read back exactly */
	check_round_trip(ALL, "{\"r_double\":[1e21,1e18,-1e22,1e-7,2.5e-300,\"1e21\",\"-0.5\"]}",
	                 "{\"r_double\":[\"1e+21\",1000000000000000000,\"-1e+22\","
	                 "9.9999999999999995e-08,2.5e-300,\"1e+21\",-0.5]}");
	check_round_trip(ALL, "{\"f_double\":\"NaN\",\"f_float\":\"Infinity\"}",
	                 "{\"f_double\":\"NaN\",\"f_float\":\"Infinity\"}");

	check_invalid(ALL, "{\"f_float\":1e39}", "f_float: 1e+39 is out of range for float");
	check_invalid(ALL, "{\"f_double\":1e400}", "f_double: number out of range");
	check_invalid(ALL, "{\"f_double\":\"1e400\"}", "f_double: 1e400 is out of range");
	check_invalid(ALL, "{\"f_double\":\"nan\"}",
	              "f_double: \"nan\" is not a number (nor NaN, Infinity, -Infinity)");
	check_invalid(ALL, "{\"f_double\":\"0x10\"}", NULL);
	check_invalid(ALL, "{\"f_double\":\" 1\"}", NULL);
	check_invalid(ALL, "{\"f_double\":true}", "f_double: expected a number, got a boolean");
}

static void test_bytes_base64(void)
{
	/* 0xfb 0xff: standard "+/8=", URL-safe "-_8", with and without padding */
	const char *forms[] = { "+/8=", "+/8", "-_8=", "-_8" };
	for (guint i = 0; i < G_N_ELEMENTS(forms); i++) {
		g_autofree char *json = g_strdup_printf("{\"f_bytes\":\"%s\"}", forms[i]);
		check_round_trip(ALL, json, "{\"f_bytes\":\"+/8=\"}");
	}
	check_round_trip(ALL, "{\"r_bytes\":[\"QQ\",\"QUI\",\"QUJD\",\"QUJDRA==\",\"QQ==\"]}",
	                 "{\"r_bytes\":[\"QQ==\",\"QUI=\",\"QUJD\",\"QUJDRA==\",\"QQ==\"]}");

	/* bad[7] is a JSON escape: the string holds a real newline */
	const char *bad[] = { "Q", "QQ=", "Q===", "QQ==QQ==", "QU JD", "QUJ*", " QQ==", "QQ==\\n",
	                      "=", "====", "QQ=\u00e9" };
	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autofree char *json = g_strdup_printf("{\"f_bytes\":\"%s\"}", bad[i]);
		check_invalid(ALL, json, "f_bytes: invalid base64");
	}
	check_invalid(ALL, "{\"r_bytes\":[\"QQ\",\"Q\"]}", "r_bytes[1]: invalid base64");
	check_invalid(ALL, "{\"f_bytes\":12}", "f_bytes: expected a base64 string, got a number");
}

static void test_enums(void)
{
	check_round_trip(ALL, "{\"f_enum\":1,\"r_enum\":[\"COLOR_GREEN\",-3,0,2]}",
	                 "{\"f_enum\":\"COLOR_RED\",\"r_enum\":[\"COLOR_GREEN\",\"COLOR_NEGATIVE\","
	                 "\"COLOR_UNSPECIFIED\",\"COLOR_GREEN\"]}");
	/* proto3 enums are open: unknown numbers survive as numbers */
	check_round_trip(ALL, "{\"f_enum\":99,\"c_color\":-100}", "{\"f_enum\":99,\"c_color\":-100}");
	check_invalid(ALL, "{\"f_enum\":\"COLOR_PURPLE\"}",
	              "f_enum: \"COLOR_PURPLE\" is not a glow.pbjsontest.Color value");
	check_invalid(ALL, "{\"f_enum\":\"color_red\"}", NULL);
	check_invalid(ALL, "{\"f_enum\":\"1\"}", NULL);
	check_invalid(ALL, "{\"f_enum\":2147483648}", "f_enum: 2147483648 is out of range for enum");
	check_invalid(ALL, "{\"f_enum\":1.5}", "f_enum: expected an integer, got 1.5");
	check_invalid(ALL, "{\"r_enum\":[1,{}]}",
	              "r_enum[1]: expected an enum name or number, got an object");
}

static void test_oneof(void)
{
	check_round_trip(ALL, "{\"c_text\":\"x\"}", "{\"c_text\":\"x\"}");
	check_round_trip(ALL, "{\"cNumber\":\"-9007199254740993\"}",
	                 "{\"c_number\":\"-9007199254740993\"}");
	check_round_trip(ALL, "{\"c_inner\":{\"name\":\"n\"}}", "{\"c_inner\":{\"name\":\"n\"}}");
	check_round_trip(ALL, "{\"c_bytes\":\"AAE=\"}", "{\"c_bytes\":\"AAE=\"}");
	check_round_trip(ALL, "{\"c_color\":\"COLOR_RED\"}", "{\"c_color\":\"COLOR_RED\"}");
	/* a set member prints even at its zero value */
	check_round_trip(ALL, "{\"c_text\":\"\"}", "{\"c_text\":\"\"}");
	check_round_trip(ALL, "{\"c_number\":0}", "{\"c_number\":0}");
	check_round_trip(ALL, "{\"c_inner\":{}}", "{\"c_inner\":{}}");
	check_round_trip(ALL, "{\"c_color\":0}", "{\"c_color\":\"COLOR_UNSPECIFIED\"}");
	/* null members do not count */
	check_round_trip(ALL, "{\"c_text\":null,\"c_number\":5,\"c_inner\":null}",
	                 "{\"c_number\":5}");

	check_invalid(ALL, "{\"c_text\":\"a\",\"c_number\":1}",
	              "c_number: oneof member \"c_text\" is already set");
	check_invalid(ALL, "{\"c_inner\":{\"name\":\"a\"},\"c_bytes\":\"AA==\"}",
	              "c_bytes: oneof member \"c_inner\" is already set");
	check_invalid(ALL, "{\"c_text\":\"a\",\"cText\":\"b\"}", NULL);
}

static void test_nested_repeated(void)
{
	check_round_trip(TREE,
	                 "{\"label\":\"root\",\"child\":{\"label\":\"c\",\"child\":{\"children\":"
	                 "[{\"label\":\"g1\"},{}]}},\"children\":[{\"label\":\"a\",\"children\":"
	                 "[{\"label\":\"a1\",\"child\":{\"label\":\"a1c\"}}]},{\"label\":\"b\"}]}",
	                 "{\"label\":\"root\",\"child\":{\"label\":\"c\",\"child\":{\"children\":"
	                 "[{\"label\":\"g1\"},{}]}},\"children\":[{\"label\":\"a\",\"children\":"
	                 "[{\"label\":\"a1\",\"child\":{\"label\":\"a1c\"}}]},{\"label\":\"b\"}]}");
	check_invalid(ALL, "{\"r_inner\":[{\"name\":\"a\"},{\"name\":\"b\"},{\"name\":3}]}",
	              "r_inner[2].name: expected a string, got a number");
	check_invalid(TREE, "{\"children\":[{\"child\":{\"children\":[{},{\"lab\":1}]}}]}",
	              "children[0].child.children[1].lab: unknown field");
	check_invalid(ALL, "{\"r_inner\":[{},null]}", "r_inner[1]: null in a repeated field");
	check_invalid(ALL, "{\"r_inner\":[[]]}", "r_inner[0]: expected an object, got an array");
	check_invalid(ALL, "{\"r_int32\":[[1]]}", "r_int32[0]: expected an integer, got an array");
	check_invalid(ALL, "{\"r_string\":\"a\"}", "r_string: expected an array, got a string");
}

static void test_emit_defaults(void)
{
	check_round_trip_flags(
		ALL, "{}", GLOW_PBJSON_EMIT_DEFAULTS,
		"{\"f_double\":0.0,\"f_float\":0.0,\"f_int32\":0,\"f_int64\":0,\"f_uint32\":0,"
		"\"f_uint64\":0,\"f_sint32\":0,\"f_sint64\":0,\"f_fixed32\":0,\"f_fixed64\":0,"
		"\"f_sfixed32\":0,\"f_sfixed64\":0,\"f_bool\":false,\"f_string\":\"\",\"f_bytes\":\"\","
		"\"f_enum\":\"COLOR_UNSPECIFIED\",\"f_inner\":null,\"r_double\":[],\"r_float\":[],"
		"\"r_int32\":[],\"r_int64\":[],\"r_uint32\":[],\"r_uint64\":[],\"r_sint32\":[],"
		"\"r_sint64\":[],\"r_fixed32\":[],\"r_fixed64\":[],\"r_sfixed32\":[],\"r_sfixed64\":[],"
		"\"r_bool\":[],\"r_string\":[],\"r_bytes\":[],\"r_enum\":[],\"r_inner\":[]}");
	/* nested messages get defaults too; only the set oneof member shows */
	check_round_trip_flags(TREE, "{\"child\":{}}", GLOW_PBJSON_EMIT_DEFAULTS,
	                       "{\"label\":\"\",\"child\":{\"label\":\"\",\"child\":null,"
	                       "\"children\":[]},\"children\":[]}");
	g_autoptr(GBytes) b = to_pb(ALL, "{\"c_number\":3,\"r_inner\":[{}]}");
	g_autofree char *out = to_json(ALL, b, GLOW_PBJSON_EMIT_DEFAULTS);
	g_assert_nonnull(strstr(out, "\"r_inner\":[{\"name\":\"\",\"value\":0}],\"c_number\":3}"));
	g_assert_null(strstr(out, "c_text"));
}

static void test_from_message(void)
{
	Glow__Pbjsontest__Inner inner = GLOW__PBJSONTEST__INNER__INIT;
	inner.name = (char *)"a\xff" "b"; /* invalid UTF-8 is repaired here */
	inner.value = -4;
	Glow__Pbjsontest__AllTypes all = GLOW__PBJSONTEST__ALL_TYPES__INIT;
	Glow__Pbjsontest__Inner *list[] = { &inner, &inner };
	all.f_inner = &inner;
	all.n_r_inner = 2;
	all.r_inner = list;
	all.choice_case = GLOW__PBJSONTEST__ALL_TYPES__CHOICE_C_TEXT;
	all.c_text = (char *)"t";
	g_autoptr(JsonNode) node = glow_pbjson_from_message(&all.base, GLOW_PBJSON_NONE);
	g_autofree char *out = json_to_string(node, FALSE);
	g_assert_cmpstr(out, ==,
	                "{\"f_inner\":{\"name\":\"a\xef\xbf\xbd" "b\",\"value\":-4},"
	                "\"r_inner\":[{\"name\":\"a\xef\xbf\xbd" "b\",\"value\":-4},"
	                "{\"name\":\"a\xef\xbf\xbd" "b\",\"value\":-4}],\"c_text\":\"t\"}");

	Glow__Pbjsontest__Inner empty = GLOW__PBJSONTEST__INNER__INIT;
	g_autoptr(JsonNode) dflt = glow_pbjson_from_message(&empty.base, GLOW_PBJSON_EMIT_DEFAULTS);
	g_autofree char *dout = json_to_string(dflt, FALSE);
	g_assert_cmpstr(dout, ==, "{\"name\":\"\",\"value\":0}");
}

/* The JsonNode entry point, with nodes built in code rather than parsed. */
static void test_node_input(void)
{
	g_autoptr(JsonBuilder) jb = json_builder_new();
	json_builder_begin_object(jb);
	json_builder_set_member_name(jb, "f_int64");
	json_builder_add_int_value(jb, G_MAXINT64);
	json_builder_set_member_name(jb, "f_double");
	json_builder_add_double_value(jb, 0.25);
	json_builder_set_member_name(jb, "rInt32");
	json_builder_begin_array(jb);
	json_builder_add_int_value(jb, 3);
	json_builder_end_array(jb);
	json_builder_end_object(jb);
	g_autoptr(JsonNode) root = json_builder_get_root(jb);
	g_autoptr(GError) err = NULL;
	g_autoptr(GBytes) b = glow_pbjson_to_protobuf(ALL, root, &err);
	g_assert_no_error(err);
	g_autofree char *out = to_json(ALL, b, GLOW_PBJSON_NONE);
	g_assert_cmpstr(out, ==,
	                "{\"f_double\":0.25,\"f_int64\":\"9223372036854775807\",\"r_int32\":[3]}");

	/* not an object */
	g_autoptr(JsonNode) num = json_node_init_int(json_node_alloc(), 1);
	g_autoptr(GBytes) none = glow_pbjson_to_protobuf(ALL, num, &err);
	g_assert_null(none);
	g_assert_error(err, GLOW_PBJSON_ERROR, GLOW_PBJSON_ERROR_INVALID);
	g_assert_cmpstr(err->message, ==, "expected an object, got a number");
	g_clear_error(&err);

	/* a string that is not UTF-8 cannot come from the parser, only from code */
	g_autoptr(JsonObject) obj = json_object_new();
	json_object_set_string_member(obj, "f_string", "a\xff");
	g_autoptr(JsonNode) objnode = json_node_init_object(json_node_alloc(), obj);
	g_autoptr(GBytes) bad = glow_pbjson_to_protobuf(ALL, objnode, &err);
	g_assert_null(bad);
	g_assert_error(err, GLOW_PBJSON_ERROR, GLOW_PBJSON_ERROR_INVALID);
	g_assert_cmpstr(err->message, ==, "f_string: string is not valid UTF-8");
}

/* ---- JSON errors ------------------------------------------------------- */

static void test_unknown_field(void)
{
	check_invalid(ALL, "{\"bogus\":1}", "bogus: unknown field");
	check_invalid(ALL, "{\"f_int32\":1,\"f_inner\":{\"nope\":null}}", "f_inner.nope: unknown field");
	/* unknown fields fail even with a null value */
	check_invalid(ALL, "{\"bogus\":null}", "bogus: unknown field");
}

static void test_wrong_type(void)
{
	check_invalid(ALL, "{\"f_string\":5}", "f_string: expected a string, got a number");
	check_invalid(ALL, "{\"f_string\":[\"a\"]}", "f_string: expected a string, got an array");
	check_invalid(ALL, "{\"f_bool\":1}", "f_bool: expected true or false, got a number");
	check_invalid(ALL, "{\"f_bool\":\"true\"}", "f_bool: expected true or false, got a string");
	check_invalid(ALL, "{\"f_int32\":\"5\"}", "f_int32: expected an integer, got a string");
	check_invalid(ALL, "{\"f_int32\":true}", "f_int32: expected an integer, got a boolean");
	check_invalid(ALL, "{\"f_int64\":{}}",
	              "f_int64: expected an integer or a decimal string, got an object");
	check_invalid(ALL, "{\"f_inner\":[]}", "f_inner: expected an object, got an array");
	check_invalid(ALL, "{\"f_inner\":\"x\"}", "f_inner: expected an object, got a string");
	check_invalid(ALL, "[]", "expected an object, got an array");
	check_invalid(ALL, "5", "expected an object, got a number");
	check_invalid(ALL, "\"x\"", "expected an object, got a string");
}

static void test_integer_ranges(void)
{
	check_invalid(ALL, "{\"f_int32\":2147483648}", "f_int32: 2147483648 is out of range for int32");
	check_invalid(ALL, "{\"f_sint32\":-2147483649}",
	              "f_sint32: -2147483649 is out of range for sint32");
	check_invalid(ALL, "{\"f_uint32\":4294967296}",
	              "f_uint32: 4294967296 is out of range for uint32");
	check_invalid(ALL, "{\"f_uint32\":-1}", "f_uint32: -1 is out of range for uint32");
	check_invalid(ALL, "{\"r_fixed32\":[1,-5]}", "r_fixed32[1]: -5 is out of range for fixed32");
	check_invalid(ALL, "{\"f_uint64\":-1}", "f_uint64: -1 is out of range for uint64");
	check_invalid(ALL, "{\"f_uint64\":\"-1\"}", "f_uint64: -1 is out of range for uint64");
	check_invalid(ALL, "{\"f_uint64\":\"18446744073709551616\"}",
	              "f_uint64: 18446744073709551616 is out of range for uint64");
	check_invalid(ALL, "{\"f_int64\":\"9223372036854775808\"}",
	              "f_int64: 9223372036854775808 is out of range for int64");
	check_invalid(ALL, "{\"f_int64\":\"-9223372036854775809\"}",
	              "f_int64: -9223372036854775809 is out of range for int64");
	check_invalid(ALL, "{\"f_int64\":1e19}", "f_int64: 10000000000000000000 is out of range for int64");
	check_invalid(ALL, "{\"f_uint64\":1e20}", "f_uint64: 1e+20 is out of range for uint64");
	/* non-integral */
	check_invalid(ALL, "{\"f_int32\":1.5}", "f_int32: expected an integer, got 1.5");
	check_invalid(ALL, "{\"f_uint64\":0.001}", "f_uint64: expected an integer, got 0.001");
	check_invalid(ALL, "{\"f_int64\":\"1.5\"}", "f_int64: \"1.5\" is not a decimal integer");
	check_invalid(ALL, "{\"f_int64\":\"1e3\"}", "f_int64: \"1e3\" is not a decimal integer");
	check_invalid(ALL, "{\"f_int64\":\" 1\"}", "f_int64: \" 1\" is not a decimal integer");
	check_invalid(ALL, "{\"f_int64\":\"+1\"}", "f_int64: \"+1\" is not a decimal integer");
	check_invalid(ALL, "{\"f_int64\":\"\"}", "f_int64: \"\" is not a decimal integer");
	check_invalid(ALL, "{\"f_int64\":\"--1\"}", "f_int64: \"--1\" is not a decimal integer");
	/* json-glib would wrap these around silently; refused before parsing */
	check_invalid_prefix(ALL, "{\"f_uint64\":18446744073709551615}",
	                     "invalid JSON: <data>:1:13: integer 18446744073709551615 does not fit");
	check_invalid_prefix(ALL, "{\"f_int64\":\n -9223372036854775809}",
	                     "invalid JSON: <data>:2:2: integer");
}

static void test_json_syntax(void)
{
	check_invalid_prefix(ALL, "{", "invalid JSON: <data>:");
	check_invalid_prefix(ALL, "{\"f_int32\":}", "invalid JSON: <data>:");
	check_invalid_prefix(ALL, "{} {}", "invalid JSON: <data>:1:4: unexpected text after");
	check_invalid_prefix(ALL, "{\"f_int32\":012}", "invalid JSON: <data>:1:12: invalid number '012'");
	check_invalid_prefix(ALL, "{\"f_int32\":0x10}", "invalid JSON: <data>:1:12: invalid number");
	check_invalid_prefix(ALL, "{\"f_int32\":1.}", "invalid JSON: <data>:1:12: invalid number");
	/* brackets inside strings and comments are not nesting */
	check_round_trip(ALL, "/* { [ \" */ {\"f_string\":\"{[\\\"]}\"}", "{\"f_string\":\"{[\\\"]}\"}");
}

static void test_deep_json(void)
{
	/* 32 nested messages are fine, 33 are not */
	g_autofree char *ok = deep_tree_json(32);
	g_autoptr(GBytes) b = to_pb(TREE, ok);
	g_autofree char *out = to_json(TREE, b, GLOW_PBJSON_NONE);
	g_assert_cmpstr(out, ==, ok);

	g_autofree char *deep = deep_tree_json(33);
	g_autoptr(GError) err = NULL;
	g_autoptr(GBytes) none = glow_pbjson_text_to_protobuf(TREE, deep, &err);
	g_assert_null(none);
	g_assert_error(err, GLOW_PBJSON_ERROR, GLOW_PBJSON_ERROR_INVALID);
	g_assert_true(g_str_has_suffix(err->message, ".child: messages nested deeper than 32 levels"));
	g_clear_error(&err);

	/* far deeper text would crash json-glib's recursive parser */
	gsize n = 200000;
	g_autofree char *brackets = g_malloc(n + 1);
	memset(brackets, '[', n);
	brackets[n] = '\0';
	check_invalid(TREE, brackets, "invalid JSON: <data>:1:67: nested deeper than 66 levels");
	g_autofree char *objects = g_strnfill(n, '{');
	check_invalid_prefix(TREE, objects, "invalid JSON: <data>:1:67: nested deeper");

	/* through repeated fields, as a node (no text pre-check on this path) */
	JsonNode *node = json_node_init_object(json_node_alloc(), json_object_new());
	for (guint i = 0; i < 40; i++) {
		JsonArray *arr = json_array_new();
		json_array_add_element(arr, node);
		JsonObject *obj = json_object_new();
		json_object_set_array_member(obj, "children", arr);
		node = json_node_init_object(json_node_alloc(), obj);
		json_object_unref(obj);
	}
	g_autoptr(GBytes) none2 = glow_pbjson_to_protobuf(TREE, node, &err);
	json_node_unref(node);
	g_assert_null(none2);
	g_assert_error(err, GLOW_PBJSON_ERROR, GLOW_PBJSON_ERROR_INVALID);
	g_assert_true(g_str_has_suffix(err->message, "[0]: messages nested deeper than 32 levels"));
}

/* ---- protobuf errors --------------------------------------------------- */

static void test_garbage_protobuf(void)
{
	static const uint8_t all_ff[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	check_decode_error(ALL, all_ff, sizeof all_ff, "not a valid glow.pbjsontest.AllTypes message");
	static const uint8_t group[] = { 0x0b, 0x0c }; /* start/end group, unsupported */
	check_decode_error(ALL, group, sizeof group, NULL);
	static const uint8_t field_zero[] = { 0x00, 0x01 };
	check_decode_error(ALL, field_zero, sizeof field_zero, NULL);
	/* f_inner (17) whose body is not a message */
	static const uint8_t bad_sub[] = { 0x8a, 0x01, 0x02, 0xff, 0xff };
	check_decode_error(ALL, bad_sub, sizeof bad_sub, NULL);
	/* f_string with bytes that are not UTF-8 */
	static const uint8_t bad_utf8[] = { 0x72, 0x02, 0xc3, 0x28 };
	check_decode_error(ALL, bad_utf8, sizeof bad_utf8, "f_string: string is not valid UTF-8");
	static const uint8_t bad_utf8_rep[] = { 0xaa, 0x02, 0x03, 0x0a, 0x01, 0xff };
	check_decode_error(ALL, bad_utf8_rep, sizeof bad_utf8_rep,
	                   "r_inner[0].name: string is not valid UTF-8");

	/* unknown fields are skipped */
	static const uint8_t unknown[] = { 0xf8, 0x07, 0x05, 0x18, 0x02 };
	g_autoptr(GError) err = NULL;
	g_autoptr(JsonNode) node = glow_pbjson_from_protobuf(ALL, unknown, sizeof unknown, 0, &err);
	g_assert_no_error(err);
	g_autofree char *out = json_to_string(node, FALSE);
	g_assert_cmpstr(out, ==, "{\"f_int32\":2}");
}

static void test_truncated_protobuf(void)
{
	g_autoptr(GBytes) b = to_pb(ALL, "{\"f_string\":\"hello\",\"f_inner\":{\"name\":\"abc\"},"
	                                 "\"r_int64\":[1,2,300],\"f_fixed64\":5,\"f_double\":1.5}");
	gsize len = 0;
	const uint8_t *data = g_bytes_get_data(b, &len);
	g_assert_cmpuint(len, >, 20);
	/* f_double (9 bytes) then f_fixed64 (9 bytes): cut inside the second */
	check_decode_error(ALL, data, 9 + 6, "not a valid glow.pbjsontest.AllTypes message");
	/* every prefix either decodes (cut at a field boundary) or fails cleanly */
	guint failures = 0;
	for (gsize cut = 0; cut < len; cut++) {
		g_autoptr(GError) err = NULL;
		g_autoptr(JsonNode) node = glow_pbjson_from_protobuf(ALL, data, cut, 0, &err);
		if (node == NULL) {
			g_assert_error(err, GLOW_PBJSON_ERROR, GLOW_PBJSON_ERROR_DECODE);
			failures++;
		}
	}
	g_assert_cmpuint(failures, >, len / 2);
}

static void test_deep_protobuf(void)
{
	g_autoptr(GByteArray) ok = deep_tree_pb(32);
	g_autoptr(GError) err = NULL;
	g_autoptr(JsonNode) node = glow_pbjson_from_protobuf(TREE, ok->data, ok->len, 0, &err);
	g_assert_no_error(err);
	g_assert_nonnull(node);

	g_autoptr(GByteArray) deep = deep_tree_pb(33);
	check_decode_error(TREE, deep->data, deep->len, NULL);
	g_autoptr(GByteArray) deeper = deep_tree_pb(5000);
	g_autoptr(JsonNode) none = glow_pbjson_from_protobuf(TREE, deeper->data, deeper->len, 0, &err);
	g_assert_null(none);
	g_assert_error(err, GLOW_PBJSON_ERROR, GLOW_PBJSON_ERROR_DECODE);
	g_assert_true(g_str_has_suffix(err->message, ".child: messages nested deeper than 32 levels"));
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/pbjson/round-trip/all-kinds", test_all_kinds);
	g_test_add_func("/pbjson/round-trip/empty", test_empty);
	g_test_add_func("/pbjson/round-trip/zero-values", test_zero_values_omitted);
	g_test_add_func("/pbjson/round-trip/camel-case", test_camel_case);
	g_test_add_func("/pbjson/round-trip/int64", test_int64);
	g_test_add_func("/pbjson/round-trip/floats", test_floats);
	g_test_add_func("/pbjson/round-trip/bytes", test_bytes_base64);
	g_test_add_func("/pbjson/round-trip/enums", test_enums);
	g_test_add_func("/pbjson/round-trip/oneof", test_oneof);
	g_test_add_func("/pbjson/round-trip/nested-repeated", test_nested_repeated);
	g_test_add_func("/pbjson/round-trip/emit-defaults", test_emit_defaults);
	g_test_add_func("/pbjson/from-message", test_from_message);
	g_test_add_func("/pbjson/node-input", test_node_input);
	g_test_add_func("/pbjson/error/unknown-field", test_unknown_field);
	g_test_add_func("/pbjson/error/wrong-type", test_wrong_type);
	g_test_add_func("/pbjson/error/integer-ranges", test_integer_ranges);
	g_test_add_func("/pbjson/error/json-syntax", test_json_syntax);
	g_test_add_func("/pbjson/error/deep-json", test_deep_json);
	g_test_add_func("/pbjson/error/garbage-protobuf", test_garbage_protobuf);
	g_test_add_func("/pbjson/error/truncated-protobuf", test_truncated_protobuf);
	g_test_add_func("/pbjson/error/deep-protobuf", test_deep_protobuf);
	return g_test_run();
}
