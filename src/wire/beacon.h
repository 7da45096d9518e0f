/* beacon.h — the signed LAN discovery beacon: codec, user tag, replay filter.
 *
 * Layer: wire (pure: no I/O; GLib for GError/types, libsodium for the
 * signature and the tag). A node multicasts a beacon on every LAN interface
 * (transport/mcast.h sends it); other nodes of the same user recognise it by
 * the user tag and link to it. Everything here is hostile input on decode:
 * every length is checked before it is read, and a beacon is only accepted
 * whole, with a valid signature by the node ID it carries.
 *
 * Wire layout (all integers big-endian):
 *
 *   off   len  field
 *   0     4    magic "GLWB" (47 4c 57 42)
 *   4     1    version, GLOW_BEACON_VERSION (1); any other value is refused
 *   5     1    flags: bit 0 = an invite is open on this node; the other bits
 *              are sent as 0 and ignored on receive
 *   6     2    TCP port the node listens on for links (0 = none)
 *   8     32   node ID (the node's Ed25519 public key)
 *   40    16   user tag (glow_beacon_user_tag)
 *   56    8    timestamp, milliseconds since the Unix epoch
 *   64    4    invite id; 0 = none; only the low 20 bits may be set
 *              (<= GLOW_BEACON_INVITE_MAX), else the beacon is malformed
 *   68    1    name length N, 0..GLOW_BEACON_NAME_MAX (63)
 *   69    N    name: UTF-8, no control characters (< 0x20, 0x7f); no NUL
 *   69+N  1    address count M, 0..GLOW_BEACON_MAX_ADDRS (8)
 *   70+N  ...  M addresses, each: 1 byte family (4 or 6), then 4 or 16
 *              address bytes, then 2 bytes port (7 or 19 bytes in all)
 *   L-64  64   Ed25519 signature (crypto_sign_detached) by the node ID's key
 *              over GLOW_BEACON_SIG_CONTEXT (16 bytes, not sent) followed by
 *              bytes 0 .. L-65, i.e. every byte before the signature
 *
 * Nothing may follow the signature. L is 134 .. 349 in practice and never
 * more than GLOW_BEACON_MAX_LEN. The context prefix keeps a beacon signature
 * from ever being valid as any other Glow signature made with the node key.
 *
 * Ownership: plain structs, nothing allocated except GlowBeaconFilter
 * (glow_beacon_filter_new / _free). No global state; the filter is not
 * thread-safe (one per main context).
 */
#pragma once

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

#include "wire/nodeid.h"

#define GLOW_BEACON_PORT 7178
#define GLOW_BEACON_GROUP4 "239.255.71.78"
#define GLOW_BEACON_GROUP6 "ff02::7178"    /* link-local scope */
#define GLOW_BEACON_MAX_LEN 512
#define GLOW_BEACON_MAX_ADDRS 8
#define GLOW_BEACON_NAME_MAX 63
#define GLOW_BEACON_INVITE_MAX 0xFFFFF
#define GLOW_BEACON_FRESH_MS 120000   /* timestamps further than this from the receiver's clock are refused */

#define GLOW_BEACON_VERSION 1
#define GLOW_BEACON_F_INVITE 0x01
#define GLOW_BEACON_SIG_CONTEXT "glow-beacon-v1\0\0" /* 16 bytes: sizeof - 1 */
#define GLOW_BEACON_SIG_CONTEXT_LEN 16
#define GLOW_BEACON_MIN_LEN (69 + 1 + 64) /* empty name, no addresses */

typedef struct { int family; /* AF_INET or AF_INET6 */ uint8_t addr[16]; uint16_t port; } GlowBeaconAddr;

typedef struct {
	GlowNodeId node;
	uint8_t user_tag[16];
	guint64 timestamp_ms;
	uint16_t port;
	gboolean invite_open;
	uint32_t invite_id;
	char name[GLOW_BEACON_NAME_MAX + 1];   /* NUL-terminated */
	guint n_addrs;
	GlowBeaconAddr addrs[GLOW_BEACON_MAX_ADDRS];
} GlowBeacon;

/* Encodes and signs with sk (libsodium's 64-byte Ed25519 secret key, whose
 * public half must be b->node). Returns the length, 0 if b is invalid (name
 * too long / not UTF-8 / control characters, too many addrs, an address
 * family other than AF_INET/AF_INET6, bad invite id) or sk's public half is
 * not b->node (the beacon would not verify). For AF_INET addresses only
 * addr[0..3] are sent. */
size_t glow_beacon_encode(const GlowBeacon *b, const uint8_t sk[64], uint8_t out[GLOW_BEACON_MAX_LEN]);

/* Parses, checks every field and the signature. FALSE with a one-line
 * reason in *error (G_IO_ERROR, G_IO_ERROR_INVALID_DATA) on anything
 * malformed or unsigned; *out is then left unchanged. On success unused
 * address bytes (addr[4..15] of AF_INET) and unused addrs[] are zero. The
 * timestamp is not judged here: that is glow_beacon_filter_accept's job. */
gboolean glow_beacon_decode(const uint8_t *buf, size_t len, GlowBeacon *out, GError **error);

/* user tag = first 16 bytes of BLAKE2b-256 (crypto_generichash) keyed with
 * a 32-byte key over "glow-beacon-user" || node ID || timestamp (8 bytes
 * BE). The node keys it with a secret only the user's devices hold (derived
 * from the user's secret key: glow_user_beacon_key), so nobody else can
 * make a beacon its devices take for one of theirs, or recognise their
 * beacons; the timestamp makes the tag change with every beacon. */
void glow_beacon_user_tag(const uint8_t key[32], const GlowNodeId *node, guint64 timestamp_ms, uint8_t out[16]);

/* Replay filter: remembers the newest timestamp accepted per node (bounded
 * table of max_nodes entries, at least 1; evicts the least recently
 * updated). accept() is TRUE when |now_ms - ts| <= GLOW_BEACON_FRESH_MS and
 * ts is strictly newer than the last accepted from that node; then it
 * records ts. Pass only beacons glow_beacon_decode accepted: the filter
 * trusts b->node. A node evicted by a flood of other (validly signed) node
 * IDs can have its beacons of the last GLOW_BEACON_FRESH_MS replayed once;
 * size the table above the expected LAN population. */
typedef struct GlowBeaconFilter GlowBeaconFilter;
GlowBeaconFilter *glow_beacon_filter_new(guint max_nodes);
void glow_beacon_filter_free(GlowBeaconFilter *f);
gboolean glow_beacon_filter_accept(GlowBeaconFilter *f, const GlowBeacon *b, guint64 now_ms);
/* Entries currently held (<= max_nodes); for tests and diagnostics. */
guint glow_beacon_filter_size(const GlowBeaconFilter *f);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(GlowBeaconFilter, glow_beacon_filter_free)
