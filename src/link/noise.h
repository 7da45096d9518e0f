/* noise.h — the Noise Protocol Framework (revision 34) on libsodium.
 *
 * Layer: link (pure: no I/O, no GLib main loop, no allocation after init).
 * Implements CipherState, SymmetricState and HandshakeState for DH 25519,
 * cipher ChaChaPoly and hash BLAKE2b or SHA256, with any of the fundamental
 * one-way and interactive patterns (N K X NN NK NX XN XK XX KN KK KX IN IK
 * IX). Glow links use Noise_XX_25519_ChaChaPoly_BLAKE2b; IK is there for the
 * end-to-end sessions of the routing layer.
 *
 * Contract:
 *  - glow_noise_handshake_init() copies every key it is given; the caller
 *    keeps ownership of its buffers.
 *  - write_message()/read_message() follow the spec's WriteMessage /
 *    ReadMessage. On any failure (bad MAC, short message, message too big,
 *    wrong turn) they return FALSE-like -1 and the handshake is dead:
 *    every later call fails too. Nothing is partially applied to the caller.
 *  - When glow_noise_handshake_done() is true, split() yields the two
 *    CipherStates (initiator->responder first, as in the spec).
 *  - glow_noise_handshake_clear() wipes all secrets (sodium_memzero).
 *  - Not thread-safe; one state per link.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GLOW_NOISE_KEYLEN 32
#define GLOW_NOISE_DHLEN 32
#define GLOW_NOISE_TAGLEN 16
#define GLOW_NOISE_MAX_HASHLEN 64
#define GLOW_NOISE_MAX_MSG 65535
#define GLOW_NOISE_MAX_TOKENS 8
#define GLOW_NOISE_MAX_MSGS 4

typedef enum {
	GLOW_NOISE_HASH_BLAKE2B = 1,
	GLOW_NOISE_HASH_SHA256 = 2,
} GlowNoiseHash;

typedef struct {
	uint8_t k[GLOW_NOISE_KEYLEN];
	uint64_t n;
	bool has_key;
} GlowNoiseCipher;

/* Encrypts plaintext[len] into out (len + 16 bytes); out may equal in.
 * Returns 0, or -1 when the nonce is exhausted (2^64-1). With no key the
 * plaintext is copied through (per spec) and 0 is returned. */
int glow_noise_cipher_encrypt(GlowNoiseCipher *c, const uint8_t *ad, size_t adlen,
                              const uint8_t *in, size_t len, uint8_t *out);
/* Decrypts in[len] (len >= 16 when keyed) into out (len - 16 bytes).
 * Returns 0 or -1 (bad tag, short input, exhausted nonce); on failure the
 * nonce is not advanced. */
int glow_noise_cipher_decrypt(GlowNoiseCipher *c, const uint8_t *ad, size_t adlen,
                              const uint8_t *in, size_t len, uint8_t *out);
/* Rekey() from the spec: k = first 32 bytes of ENCRYPT(k, 2^64-1, "", zeros). */
void glow_noise_cipher_rekey(GlowNoiseCipher *c);
/* Wipes the key and leaves the cipher unusable: encrypt/decrypt then fail
 * (nonce set to the reserved 2^64-1) rather than passing plaintext
 * through as a spec "empty" CipherState would. */
void glow_noise_cipher_clear(GlowNoiseCipher *c);

typedef struct {
	GlowNoiseHash hash;
	size_t hashlen;
	uint8_t ck[GLOW_NOISE_MAX_HASHLEN];
	uint8_t h[GLOW_NOISE_MAX_HASHLEN];
	GlowNoiseCipher cs;
} GlowNoiseSymmetric;

typedef struct {
	GlowNoiseSymmetric ss;
	bool initiator;
	bool failed;
	/* pattern: message tokens, 0-terminated per message */
	uint8_t tokens[GLOW_NOISE_MAX_MSGS][GLOW_NOISE_MAX_TOKENS];
	int nmsgs;
	int msg_index;
	uint8_t s_priv[32], s_pub[32];
	uint8_t e_priv[32], e_pub[32];
	uint8_t rs[32], re[32];
	bool has_s, has_e, has_rs, has_re;
	bool fixed_e; /* test hook: ephemeral injected, not generated */
	bool split_done; /* split() ran: ck and private keys are wiped */
} GlowNoiseHandshake;

typedef struct {
	const char *protocol_name; /* e.g. "Noise_XX_25519_ChaChaPoly_BLAKE2b" */
	bool initiator;
	const uint8_t *prologue;
	size_t prologue_len;
	const uint8_t *s_priv;   /* local static private key, or NULL */
	const uint8_t *rs_pub;   /* remote static public key (pre-message), or NULL */
	const uint8_t *e_priv;   /* TEST ONLY: fixed ephemeral private key, or NULL */
} GlowNoiseConfig;

/* Returns 0, or -1 if the protocol name is not supported or a key the
 * pattern needs is missing. */
int glow_noise_handshake_init(GlowNoiseHandshake *hs, const GlowNoiseConfig *cfg);

/* Writes the next handshake message carrying payload into out (capacity
 * out_cap). Returns the message length, or -1. */
long glow_noise_write_message(GlowNoiseHandshake *hs, const uint8_t *payload, size_t payload_len,
                              uint8_t *out, size_t out_cap);
/* Reads a handshake message; the decrypted payload goes to payload_out
 * (capacity payload_cap). Returns the payload length, or -1. */
long glow_noise_read_message(GlowNoiseHandshake *hs, const uint8_t *msg, size_t msg_len,
                             uint8_t *payload_out, size_t payload_cap);

bool glow_noise_handshake_done(const GlowNoiseHandshake *hs);
/* True when it is this side's turn to write. */
bool glow_noise_handshake_my_turn(const GlowNoiseHandshake *hs);
/* After done: the two cipher states (c1 initiator->responder, c2 the other
 * way). The handshake hash (for channel binding) is copied to h_out
 * (hashlen bytes) when h_out is not NULL. Split works once: it wipes the
 * chaining key and private keys. Called before done, after a failure or a
 * second time, it yields cleared (unusable) ciphers and *hashlen_out = 0. */
void glow_noise_split(GlowNoiseHandshake *hs, GlowNoiseCipher *c1, GlowNoiseCipher *c2,
                      uint8_t *h_out, size_t *hashlen_out);
/* The remote static public key, once received or pre-shared (NULL before,
 * and after a failure or clear). */
const uint8_t *glow_noise_remote_static(const GlowNoiseHandshake *hs);
void glow_noise_handshake_clear(GlowNoiseHandshake *hs);

/* X25519 key pair from libsodium's RNG. */
void glow_noise_keypair(uint8_t priv[32], uint8_t pub[32]);
