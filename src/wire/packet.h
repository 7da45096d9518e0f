/* packet.h — the Firefly packet: a fixed 112-byte header + a payload.
 *
 * Layer: wire (pure: no I/O, no GLib, no allocation). This header is the
 * byte-level spec in code form; docs/firefly.md is the same in prose, and
 * tests/vectors/packets.txt holds hex test vectors.
 *
 *   off size field          (all integers big-endian)
 *   0   1    version        GLOW_PACKET_VERSION
 *   1   1    type           GlowPacketType
 *   2   1    flags          GLOW_PKT_F_*; unknown bits are ignored
 *   3   1    hop_limit      decremented by each relay; 0 is never forwarded
 *   4   4    payload_len    <= GLOW_PACKET_MAX_PAYLOAD
 *   8   8    call_id        chosen by the caller, unique per caller address
 *   16  4    interface_id   FNV-1a 32 of the interface name ("glow.Node")
 *   20  4    method_id      FNV-1a 32 of "<interface>.<method>"
 *   24  4    deadline_ms    CALL: time the caller waits; 0 = default
 *   28  4    aux            CALL: initial stream credit; CREDIT: added credit;
 *                           ERROR: error code; others: 0
 *   32  32   dst node       Ed25519 public key of the destination node
 *   64  8    dst resource
 *   72  32   src node
 *   104 8    src resource
 *   112 ...  payload        protobuf message of the method's type
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire/limits.h"
#include "wire/nodeid.h"

/* GlowPacketType, GlowErrorCode: glow/types.h (included by wire/nodeid.h). */

#define GLOW_PKT_F_STREAM 0x01 /* CALL: the caller expects a stream */

typedef struct {
	uint8_t version;
	uint8_t type;
	uint8_t flags;
	uint8_t hop_limit;
	uint32_t payload_len;
	uint64_t call_id;
	uint32_t interface_id;
	uint32_t method_id;
	uint32_t deadline_ms;
	uint32_t aux;
	GlowAddr dst;
	GlowAddr src;
} GlowPacketHeader;

typedef enum {
	GLOW_PKT_DECODE_OK = 0,
	GLOW_PKT_DECODE_SHORT,    /* fewer than GLOW_PACKET_HEADER_LEN bytes */
	GLOW_PKT_DECODE_VERSION,  /* unknown version */
	GLOW_PKT_DECODE_TYPE,     /* unknown packet type */
	GLOW_PKT_DECODE_TOO_BIG,  /* payload_len > limit */
} GlowPacketDecode;

/* Writes the 112-byte header into out. */
void glow_packet_encode_header(const GlowPacketHeader *h, uint8_t out[GLOW_PACKET_HEADER_LEN]);
/* Parses a header from buf[len]; max_payload bounds payload_len (pass
 * GLOW_PACKET_MAX_PAYLOAD unless a peer announced less) except for SEALED
 * packets, which may be GLOW_E2E_OVERHEAD larger (they wrap a packet of
 * max_payload). Only the header is checked; the payload is the caller's
 * to bound-check and decode. */
GlowPacketDecode glow_packet_decode_header(const uint8_t *buf, size_t len, uint32_t max_payload,
                                           GlowPacketHeader *out);
const char *glow_packet_decode_strerror(GlowPacketDecode d);
/* The largest payload_len a packet of this type may have, given the limit
 * for RPC payloads (see glow_packet_decode_header). */
uint32_t glow_packet_max_payload(uint8_t type, uint32_t max_payload);
static inline bool glow_packet_is_rpc(uint8_t type)
{
	return type >= GLOW_PKT_CALL && type <= GLOW_PKT_TYPE_RPC_MAX;
}

/* FNV-1a 32-bit of a NUL-terminated name: interface and method ids. */
uint32_t glow_firefly_name_id(const char *name);
/* Same over name_a + "." + name_b without building the string. */
uint32_t glow_firefly_method_id(const char *interface_name, const char *method_name);

const char *glow_packet_type_name(uint8_t type);
/* "not found", "permission denied", ...; "unknown error" for codes above
 * GLOW_ERR_MAX. Static strings, never NULL. */
const char *glow_error_name(uint32_t code);
/* The identifier form used in --json output: "NOT_FOUND", ... */
const char *glow_error_symbol(uint32_t code);
