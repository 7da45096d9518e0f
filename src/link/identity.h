/* identity.h — a node's long-term Ed25519 identity and its link credentials.
 *
 * Layer: link. The node ID is the Ed25519 public key. Links do not use the
 * Ed25519 key in Noise directly: each node run makes a fresh X25519 Noise
 * static key and signs it with the identity key; the signature travels in
 * the handshake payload (glow.LinkHello), binding the Noise session to the
 * node ID (the scheme libp2p's Noise uses). See docs/identity.md.
 *
 * Files: <state-dir>/identity.key, text "GLOW-IDENTITY-V1\n<64 hex seed>\n",
 * mode 0600, written atomically. Loading refuses a key file that group or
 * others can access, or that another user owns.
 */
#pragma once

#include <glib.h>
#include <stdint.h>

#include "wire/nodeid.h"

#define GLOW_IDENTITY_FILE "identity.key"

typedef struct {
	GlowNodeId id;          /* Ed25519 public key */
	uint8_t sk[64];         /* Ed25519 secret key (libsodium layout: seed || pk) */
	uint8_t noise_priv[32]; /* X25519 static key for this run */
	uint8_t noise_pub[32];
	uint8_t noise_sig[64];  /* Ed25519 sig of GLOW_LINK_SIG_CONTEXT || noise_pub */
} GlowIdentity;

/* Loads <state_dir>/identity.key, or creates it (and state_dir, mode 0700)
 * when missing. *created tells which. NULL + error on a bad/unsafe file. */
GlowIdentity *glow_identity_load_or_create(const char *state_dir, gboolean *created, GError **error);
/* A deterministic identity (tests, fuzzers, benchmarks). */
GlowIdentity *glow_identity_from_seed(const uint8_t seed[32]);
void glow_identity_free(GlowIdentity *id);

/* Checks that sig is identity_key's signature over the link context and noise_pub. */
gboolean glow_identity_verify_noise_key(const uint8_t identity_key[32], const uint8_t sig[64],
                                        const uint8_t noise_pub[32]);
