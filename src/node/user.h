/* user.h — this node's user: the user key and the device certificate.
 *
 * Layer: node. A user is an Ed25519 key. A device certificate is the
 * user's signature over a node ID: it makes a node one of the user's
 * devices, and every node that sees it (links carry it in their hello) can
 * check it offline. The user's devices trust each other; everyone else is
 * foreign (access.h). See docs/users.md.
 *
 * Files in the state dir: user.key ("GLOW-USER-V1\n<64 hex seed>\n", 0600)
 * on devices that may enroll others (every device enrolled by pairing
 * gets it: any of a person's devices can invite the next one), and
 * device.cert (the packed glow.DeviceCert). A node started with neither
 * becomes the first device of a user of its own; one that has user.key
 * but no certificate from that key certifies itself. Both files are
 * replaced atomically (statefile.h).
 *
 * Ownership: GlowUser is owned by the node; certificates are GBytes.
 */
#pragma once

#include <glib.h>

#include "link/identity.h"

#define GLOW_USER_KEY_FILE "user.key"
#define GLOW_DEVICE_CERT_FILE "device.cert"
#define GLOW_DEVICE_CERT_MAX 256 /* packed; a real one is ~140 bytes */

typedef struct {
	GlowNodeId key;          /* the user's public key; text form as for node IDs */
	gboolean has_secret;
	uint8_t sk[64];          /* libsodium Ed25519 secret key, when has_secret */
	GBytes *cert;            /* this device's certificate */
} GlowUser;

/* Loads the user of the node whose identity is id, creating what is missing
 * (see above). *created_user tells when a new user was made. */
GlowUser *glow_user_load_or_create(const char *state_dir, const GlowIdentity *id, gboolean *created_user,
                                   GError **error);
void glow_user_free(GlowUser *u);

/* A fresh user key for this device (glow init): files replaced, u updated. */
gboolean glow_user_create(GlowUser *u, const char *state_dir, const GlowIdentity *id, GError **error);
/* Joins the user whose seed is given, with the certificate the inviter made
 * for this device (checked here): files replaced, u updated. */
gboolean glow_user_adopt(GlowUser *u, const char *state_dir, const GlowIdentity *id, const uint8_t seed[32],
                         GBytes *cert, GError **error);

/* A certificate for device, signed by u (which must have the secret). */
GBytes *glow_user_issue_cert(const GlowUser *u, const GlowNodeId *device, guint64 now_ms);
/* Checks a packed certificate for device; on success *user is its user key. */
gboolean glow_user_verify_cert(const uint8_t *cert, gsize len, const GlowNodeId *device, GlowNodeId *user,
                               GError **error);
/* The key of beacon user tags (wire/beacon.h): BLAKE2b-256 keyed with the
 * user's seed over "glow-beacon-tag-v1". FALSE (out zeroed) without the
 * user's secret: such a device sends no tag and recognises none. */
gboolean glow_user_beacon_key(const GlowUser *u, uint8_t out[32]);
/* The seed of u's secret key (for pairing). */
void glow_user_seed(const GlowUser *u, uint8_t seed[32]);
