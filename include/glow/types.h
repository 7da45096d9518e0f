/* glow/types.h — the values every Glow program shares: node IDs, resource
 * addresses, packet types, error codes and access levels.
 *
 * Part of libglow's public API (docs/sdk.md). Plain C, no GLib. The node's
 * own code uses these same definitions, so there is one source of truth;
 * docs/firefly.md gives the wire form of each.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GLOW_NODE_ID_LEN 32
#define GLOW_NODE_ID_TEXT_LEN 63 /* 56 characters + 7 dashes */
#define GLOW_NODE_ID_TEXT_BUF 64 /* with the NUL */
#define GLOW_ADDR_TEXT_BUF (7 + GLOW_NODE_ID_TEXT_LEN + 1 + 20 + 1)

/* A node ID is the node's Ed25519 public key. */
typedef struct {
	uint8_t b[GLOW_NODE_ID_LEN];
} GlowNodeId;

/* A resource address: glow://<node-id>/<resource-id>. */
typedef struct {
	GlowNodeId node;
	uint64_t resource;
} GlowAddr;

typedef enum {
	GLOW_PKT_CALL = 1,    /* request; answered by REPLY, ERROR or ITEM* END */
	GLOW_PKT_REPLY = 2,   /* the one answer to a unary call */
	GLOW_PKT_ERROR = 3,   /* the call failed; aux = code, payload = glow.Error */
	GLOW_PKT_MESSAGE = 4, /* one-way: no answer, no error */
	GLOW_PKT_ITEM = 5,    /* one item of a server stream */
	GLOW_PKT_END = 6,     /* the stream ended normally */
	GLOW_PKT_CANCEL = 7,  /* caller gives up on call_id; no answer */
	GLOW_PKT_CREDIT = 8,  /* caller may receive aux more items */
	/* Node-to-node types (docs/firefly.md "Routing and end-to-end sessions");
	 * never sent on the control socket. */
	GLOW_PKT_ROUTING = 9,   /* a routing message for a neighbour (docs/routing.md) */
	GLOW_PKT_E2E_INIT = 10, /* end-to-end session: Noise IK message 1 */
	GLOW_PKT_E2E_RESP = 11, /* end-to-end session: Noise IK message 2 */
	GLOW_PKT_SEALED = 12,   /* an encrypted inner packet (header + payload) */
	GLOW_PKT_TYPE_MAX = 12,
	GLOW_PKT_TYPE_RPC_MAX = GLOW_PKT_CREDIT, /* types 1..8 carry RPC; the rest are between nodes */
} GlowPacketType;

/* Error codes (ERROR packets, and local failures reported to callers). */
typedef enum {
	GLOW_OK = 0,
	GLOW_ERR_UNREACHABLE = 1,
	GLOW_ERR_NOT_FOUND = 2,
	GLOW_ERR_PERMISSION_DENIED = 3,
	GLOW_ERR_TOO_BIG = 4,
	GLOW_ERR_TOO_FAST = 5,
	GLOW_ERR_BAD_REQUEST = 6,
	GLOW_ERR_UNAVAILABLE = 7,
	GLOW_ERR_TIMEOUT = 8,
	GLOW_ERR_INTERNAL = 9,
	GLOW_ERR_CANCELLED = 10,
	GLOW_ERR_UNIMPLEMENTED = 11,
	GLOW_ERR_MAX = 11,
} GlowErrorCode;

/* Who may call a method of a resource (docs/firefly.md "Access"). */
typedef enum {
	GLOW_ACCESS_USER = 0,   /* this node's user's devices (and this node): the default */
	GLOW_ACCESS_LOCAL = 1,  /* only callers on the resource's node */
	GLOW_ACCESS_PUBLIC = 2, /* any node */
} GlowAccess;

/* Writes the 63-character text form and a NUL. */
void glow_node_id_to_text(const GlowNodeId *id, char out[GLOW_NODE_ID_TEXT_BUF]);
bool glow_node_id_equal(const GlowNodeId *a, const GlowNodeId *b);
bool glow_node_id_is_zero(const GlowNodeId *id);
/* "glow://<node-id>/<resource-id>" + NUL. */
void glow_addr_to_text(const GlowAddr *a, char out[GLOW_ADDR_TEXT_BUF]);
/* "not found", "permission denied", ...: static strings, never NULL. */
const char *glow_error_name(uint32_t code);
/* "NOT_FOUND", ... */
const char *glow_error_symbol(uint32_t code);
