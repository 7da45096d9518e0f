/* fuzz-packet — Firefly packet streams and the text forms of IDs.
 *
 * The input is parsed the way a link (deliver_packets) and the control
 * socket (session_parse) parse their byte streams: header after header,
 * each payload bounds-checked against what is left, then unpacked as every
 * message type the node takes as input. Decoded headers must re-encode to
 * the same bytes. The same input, NUL-terminated, goes to the node ID and
 * address parsers, whose successes must round-trip through the text forms.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-common.h"
#include "glow/common.pb-c.h"
#include "glow/diag.pb-c.h"
#include "glow/node.pb-c.h"
#include "wire/nodeid.h"
#include "wire/packet.h"

FUZZ_DEFINE_INIT()

/* Unpack as one type; a decoded message must pack to what get_packed_size says. */
#define UNPACK_CHECK(prefix, Type, len, p)                                                      \
	do {                                                                                    \
		Type *m_ = prefix##__unpack(NULL, len, p);                                      \
		if (m_ != NULL) {                                                               \
			size_t sz_ = prefix##__get_packed_size(m_);                             \
			uint8_t *out_ = malloc(sz_ ? sz_ : 1);                                  \
			FUZZ_CHECK(out_ != NULL);                                               \
			FUZZ_CHECK(prefix##__pack(m_, out_) == sz_);                            \
			free(out_);                                                             \
			prefix##__free_unpacked(m_, NULL);                                      \
		}                                                                               \
	} while (0)

static void unpack_all(const uint8_t *p, size_t len)
{
	UNPACK_CHECK(glow__connect_request, Glow__ConnectRequest, len, p);
	UNPACK_CHECK(glow__disconnect_request, Glow__DisconnectRequest, len, p);
	UNPACK_CHECK(glow__echo_request, Glow__EchoRequest, len, p);
	UNPACK_CHECK(glow__source_request, Glow__SourceRequest, len, p);
	UNPACK_CHECK(glow__measure_request, Glow__MeasureRequest, len, p);
	UNPACK_CHECK(glow__empty, Glow__Empty, len, p);
	UNPACK_CHECK(glow__error, Glow__Error, len, p);
	UNPACK_CHECK(glow__link_hello, Glow__LinkHello, len, p);
}

static void check_header_round_trip(const uint8_t *wire, const GlowPacketHeader *h)
{
	uint8_t enc[GLOW_PACKET_HEADER_LEN];
	GlowPacketHeader again;

	glow_packet_encode_header(h, enc);
	FUZZ_CHECK(memcmp(enc, wire, GLOW_PACKET_HEADER_LEN) == 0);
	FUZZ_CHECK(glow_packet_decode_header(enc, sizeof enc, GLOW_PACKET_MAX_PAYLOAD, &again) ==
	           GLOW_PKT_DECODE_OK);
	FUZZ_CHECK(again.version == h->version && again.type == h->type && again.flags == h->flags &&
	           again.hop_limit == h->hop_limit && again.payload_len == h->payload_len &&
	           again.call_id == h->call_id && again.interface_id == h->interface_id &&
	           again.method_id == h->method_id && again.deadline_ms == h->deadline_ms &&
	           again.aux == h->aux && again.dst.resource == h->dst.resource &&
	           again.src.resource == h->src.resource &&
	           glow_node_id_equal(&again.dst.node, &h->dst.node) &&
	           glow_node_id_equal(&again.src.node, &h->src.node));
	FUZZ_CHECK(glow_packet_type_name(h->type) != NULL);
	FUZZ_CHECK(glow_error_name(h->aux) != NULL);
	FUZZ_CHECK(glow_error_symbol(h->aux) != NULL);
}

static void parse_stream(const uint8_t *data, size_t size)
{
	size_t off = 0;

	while (size - off >= GLOW_PACKET_HEADER_LEN) {
		GlowPacketHeader h;
		GlowPacketDecode d = glow_packet_decode_header(data + off, size - off, GLOW_PACKET_MAX_PAYLOAD, &h);
		FUZZ_CHECK(glow_packet_decode_strerror(d) != NULL);
		if (d != GLOW_PKT_DECODE_OK)
			return; /* the link and the control socket close here */
		FUZZ_CHECK(h.payload_len <= glow_packet_max_payload(h.type, GLOW_PACKET_MAX_PAYLOAD));
		check_header_round_trip(data + off, &h);
		if (size - off - GLOW_PACKET_HEADER_LEN < h.payload_len)
			return; /* incomplete: they wait for more bytes */
		/* An exact-size copy, so that ASan catches a read past the payload. */
		uint8_t *payload = fuzz_dup(data + off + GLOW_PACKET_HEADER_LEN, h.payload_len);
		unpack_all(payload, h.payload_len);
		free(payload);
		off += GLOW_PACKET_HEADER_LEN + h.payload_len;
	}
	/* A short tail is never an error. */
	GlowPacketHeader h;
	FUZZ_CHECK(glow_packet_decode_header(data + off, size - off, GLOW_PACKET_MAX_PAYLOAD, &h) ==
	           GLOW_PKT_DECODE_SHORT);
}

static void parse_text(const char *text, size_t size)
{
	GlowNodeId id;
	GlowAddr addr;
	char clean[GLOW_NODE_ID_RAW_CHARS + 8];
	char buf[GLOW_ADDR_TEXT_BUF];
	int n;

	GlowIdError e = glow_node_id_from_text(text, &id);
	FUZZ_CHECK(glow_id_strerror(e) != NULL);
	if (e == GLOW_ID_OK) {
		GlowNodeId again;
		char tbuf[GLOW_NODE_ID_TEXT_BUF];
		glow_node_id_to_text(&id, tbuf);
		FUZZ_CHECK(strlen(tbuf) == GLOW_NODE_ID_TEXT_LEN);
		FUZZ_CHECK(glow_node_id_from_text(tbuf, &again) == GLOW_ID_OK);
		FUZZ_CHECK(glow_node_id_equal(&id, &again));
		/* What parses as a full ID cleans to its 56 characters, which are a prefix of it. */
		n = glow_node_id_clean(text, clean, sizeof clean);
		FUZZ_CHECK(n == GLOW_NODE_ID_RAW_CHARS);
		FUZZ_CHECK(glow_node_id_has_prefix(&id, clean));
	}

	e = glow_addr_from_text(text, &addr);
	FUZZ_CHECK(glow_id_strerror(e) != NULL);
	if (e == GLOW_ID_OK) {
		GlowAddr again;
		glow_addr_to_text(&addr, buf);
		FUZZ_CHECK(strlen(buf) < sizeof buf);
		FUZZ_CHECK(glow_addr_from_text(buf, &again) == GLOW_ID_OK);
		FUZZ_CHECK(glow_node_id_equal(&addr.node, &again.node) && addr.resource == again.resource);
	}

	/* Every capacity from 1 up, including ones the result does not fit. */
	for (size_t cap = 1; cap <= sizeof clean; cap += (cap < 12 ? 1 : 13)) {
		char *out = malloc(cap);
		FUZZ_CHECK(out != NULL);
		n = glow_node_id_clean(text, out, cap);
		FUZZ_CHECK(n >= -1);
		if (n >= 0) {
			FUZZ_CHECK((size_t)n < cap && strlen(out) == (size_t)n);
			GlowNodeId zero = { { 0 } };
			(void)glow_node_id_has_prefix(&zero, out);
		} else {
			FUZZ_CHECK(out[0] == '\0');
		}
		free(out);
	}
	(void)size;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	parse_stream(data, size);

	char *text = malloc(size + 1);
	FUZZ_CHECK(text != NULL);
	if (size)
		memcpy(text, data, size);
	text[size] = '\0';
	parse_text(text, size);
	free(text);
	return 0;
}
