#include "wire/packet.h"

#include <string.h>

#include "wire/bytes.h"

void glow_packet_encode_header(const GlowPacketHeader *h, uint8_t out[GLOW_PACKET_HEADER_LEN])
{
	out[0] = h->version;
	out[1] = h->type;
	out[2] = h->flags;
	out[3] = h->hop_limit;
	glow_put_u32(out + 4, h->payload_len);
	glow_put_u64(out + 8, h->call_id);
	glow_put_u32(out + 16, h->interface_id);
	glow_put_u32(out + 20, h->method_id);
	glow_put_u32(out + 24, h->deadline_ms);
	glow_put_u32(out + 28, h->aux);
	memcpy(out + 32, h->dst.node.b, GLOW_NODE_ID_LEN);
	glow_put_u64(out + 64, h->dst.resource);
	memcpy(out + 72, h->src.node.b, GLOW_NODE_ID_LEN);
	glow_put_u64(out + 104, h->src.resource);
}

GlowPacketDecode glow_packet_decode_header(const uint8_t *buf, size_t len, uint32_t max_payload,
                                           GlowPacketHeader *out)
{
	if (len < GLOW_PACKET_HEADER_LEN)
		return GLOW_PKT_DECODE_SHORT;
	if (buf[0] != GLOW_PACKET_VERSION)
		return GLOW_PKT_DECODE_VERSION;
	if (buf[1] == 0 || buf[1] > GLOW_PKT_TYPE_MAX)
		return GLOW_PKT_DECODE_TYPE;
	out->version = buf[0];
	out->type = buf[1];
	out->flags = buf[2];
	out->hop_limit = buf[3];
	out->payload_len = glow_get_u32(buf + 4);
	if (out->payload_len > glow_packet_max_payload(out->type, max_payload))
		return GLOW_PKT_DECODE_TOO_BIG;
	out->call_id = glow_get_u64(buf + 8);
	out->interface_id = glow_get_u32(buf + 16);
	out->method_id = glow_get_u32(buf + 20);
	out->deadline_ms = glow_get_u32(buf + 24);
	out->aux = glow_get_u32(buf + 28);
	memcpy(out->dst.node.b, buf + 32, GLOW_NODE_ID_LEN);
	out->dst.resource = glow_get_u64(buf + 64);
	memcpy(out->src.node.b, buf + 72, GLOW_NODE_ID_LEN);
	out->src.resource = glow_get_u64(buf + 104);
	return GLOW_PKT_DECODE_OK;
}

uint32_t glow_packet_max_payload(uint8_t type, uint32_t max_payload)
{
	uint32_t m = max_payload < GLOW_PACKET_MAX_PAYLOAD ? max_payload : GLOW_PACKET_MAX_PAYLOAD;
	return type == GLOW_PKT_SEALED ? m + GLOW_E2E_OVERHEAD : m;
}

const char *glow_packet_decode_strerror(GlowPacketDecode d)
{
	switch (d) {
	case GLOW_PKT_DECODE_OK: return "ok";
	case GLOW_PKT_DECODE_SHORT: return "truncated packet header";
	case GLOW_PKT_DECODE_VERSION: return "unknown packet version";
	case GLOW_PKT_DECODE_TYPE: return "unknown packet type";
	case GLOW_PKT_DECODE_TOO_BIG: return "packet payload too big";
	}
	return "bad packet";
}

#define FNV_OFFSET 2166136261u
#define FNV_PRIME 16777619u

static uint32_t fnv1a(uint32_t h, const char *s)
{
	for (; *s; s++) {
		h ^= (uint8_t)*s;
		h *= FNV_PRIME;
	}
	return h;
}

uint32_t glow_firefly_name_id(const char *name)
{
	return fnv1a(FNV_OFFSET, name);
}

uint32_t glow_firefly_method_id(const char *interface_name, const char *method_name)
{
	return fnv1a(fnv1a(fnv1a(FNV_OFFSET, interface_name), "."), method_name);
}

const char *glow_packet_type_name(uint8_t type)
{
	static const char *const names[] = {
		"?", "CALL", "REPLY", "ERROR", "MESSAGE", "ITEM", "END", "CANCEL", "CREDIT",
		"ROUTING", "E2E_INIT", "E2E_RESP", "SEALED",
	};
	return type <= GLOW_PKT_TYPE_MAX ? names[type] : "?";
}

static const struct {
	const char *name;
	const char *symbol;
} errors[] = {
	[GLOW_OK] = { "ok", "OK" },
	[GLOW_ERR_UNREACHABLE] = { "unreachable", "UNREACHABLE" },
	[GLOW_ERR_NOT_FOUND] = { "not found", "NOT_FOUND" },
	[GLOW_ERR_PERMISSION_DENIED] = { "permission denied", "PERMISSION_DENIED" },
	[GLOW_ERR_TOO_BIG] = { "too big", "TOO_BIG" },
	[GLOW_ERR_TOO_FAST] = { "too fast", "TOO_FAST" },
	[GLOW_ERR_BAD_REQUEST] = { "bad request", "BAD_REQUEST" },
	[GLOW_ERR_UNAVAILABLE] = { "unavailable", "UNAVAILABLE" },
	[GLOW_ERR_TIMEOUT] = { "timeout", "TIMEOUT" },
	[GLOW_ERR_INTERNAL] = { "internal error", "INTERNAL" },
	[GLOW_ERR_CANCELLED] = { "cancelled", "CANCELLED" },
	[GLOW_ERR_UNIMPLEMENTED] = { "unimplemented", "UNIMPLEMENTED" },
};

const char *glow_error_name(uint32_t code)
{
	return code <= GLOW_ERR_MAX ? errors[code].name : "unknown error";
}

const char *glow_error_symbol(uint32_t code)
{
	return code <= GLOW_ERR_MAX ? errors[code].symbol : "UNKNOWN";
}
