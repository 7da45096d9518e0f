/* nodeid.h — node IDs and resource addresses, binary and text forms.
 *
 * Layer: wire (pure: no I/O, no GLib, no allocation).
 * A node ID is the node's 32-byte Ed25519 public key. Its text form is the
 * Syncthing-style "Luhn base32": RFC 4648 base32 of the 32 bytes (52
 * characters, no padding), cut into 4 groups of 13, each followed by one
 * Luhn mod 32 check character (56 characters), printed as 8 groups of 7
 * joined by '-'. Parsing is forgiving about case, '-', ' ' and the
 * look-alikes 0->O, 1->I, 8->B, and strict about the check characters, so
 * a mistyped ID is detected instead of misrouted. See docs/identity.md.
 *
 * A resource address is node ID + 64-bit resource id; its text form is
 * "glow://<node-id>/<resource-id>" with the id in decimal.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "glow/types.h" /* GlowNodeId, GlowAddr and their sizes */

#define GLOW_NODE_ID_RAW_CHARS 56 /* text form without dashes */
#define GLOW_NODE_ID_MIN_PREFIX 8

typedef enum {
	GLOW_ID_OK = 0,
	GLOW_ID_ERR_LENGTH,   /* not 56 characters after cleaning */
	GLOW_ID_ERR_CHAR,     /* a character outside the base32 alphabet */
	GLOW_ID_ERR_CHECK,    /* a check character does not match: mistyped */
	GLOW_ID_ERR_SYNTAX,   /* address: not glow://<id>/<n>, bad number */
} GlowIdError;

/* Writes the 63-character text form and a NUL into out[GLOW_NODE_ID_TEXT_BUF]. */
void glow_node_id_to_text(const GlowNodeId *id, char out[GLOW_NODE_ID_TEXT_BUF]);
/* Short form for logs: the first 7 characters (first group) + NUL. */
void glow_node_id_short(const GlowNodeId *id, char out[8]);
/* Parses a full text form (NUL-terminated). */
GlowIdError glow_node_id_from_text(const char *text, GlowNodeId *out);
/* Cleans a typed ID or prefix: drops '-' and ' ', upper-cases, maps look-alikes.
 * Writes at most cap-1 characters + NUL. Returns the cleaned length, or -1
 * when a character is not in the alphabet or the result does not fit. */
int glow_node_id_clean(const char *text, char *out, size_t cap);
/* True when the cleaned prefix (as from glow_node_id_clean) is a prefix of id's
 * text form. Prefixes shorter than GLOW_NODE_ID_MIN_PREFIX never match. */
bool glow_node_id_has_prefix(const GlowNodeId *id, const char *clean_prefix);
bool glow_node_id_equal(const GlowNodeId *a, const GlowNodeId *b);
bool glow_node_id_is_zero(const GlowNodeId *id);
/* For hash tables keyed by GlowNodeId (the signatures of GHashFunc and
 * GEqualFunc): node IDs are public keys, so their first bytes are already
 * uniform. */
unsigned int glow_node_id_hash(const void *id);
int glow_node_id_equal_key(const void *a, const void *b);

/* "glow://<node-id>/<resource-id>" + NUL into out[GLOW_ADDR_TEXT_BUF]. */
void glow_addr_to_text(const GlowAddr *a, char out[GLOW_ADDR_TEXT_BUF]);
/* Parses "glow://<node-id>/<resource-id>" or "glow://<node-id>" (resource 0).
 * The node part must be a full ID. */
GlowIdError glow_addr_from_text(const char *text, GlowAddr *out);

const char *glow_id_strerror(GlowIdError e);
