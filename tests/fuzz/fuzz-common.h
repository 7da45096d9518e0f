/* fuzz-common.h — shared by the libFuzzer targets in tests/fuzz/.
 *
 * - fuzz_init(): GLib criticals and warnings abort (they mean API misuse or
 *   a broken invariant, i.e. a finding); chatty log levels are dropped.
 * - A deterministic libsodium RNG (fuzz_rng_install() before sodium_init()),
 *   so that code which draws keys itself (identities, link ephemerals) does
 *   the same thing for the same input: crashes reproduce, and seeds can be
 *   precomputed for the handshakes.
 * - Fixed keys and the link framing helpers the Noise and link fuzzers share.
 *
 * Header-only on purpose: each fuzzer is one translation unit plus this.
 */
#pragma once

#include <glib.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "glow/common.pb-c.h"
#include "wire/limits.h"

#define FUZZ_CHECK(cond)                                                                        \
	do {                                                                                    \
		if (!(cond)) {                                                                  \
			fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__,     \
			        #cond);                                                         \
			abort();                                                                \
		}                                                                               \
	} while (0)

/* The libFuzzer entry points every target declares, and the usual
 * LLVMFuzzerInitialize (fuzz_init, defined below). */
#define FUZZ_DEFINE_INIT()                                                                      \
	int LLVMFuzzerInitialize(int *argc, char ***argv);                                      \
	int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);                           \
	int LLVMFuzzerInitialize(int *argc, char ***argv)                                       \
	{                                                                                       \
		(void)argc;                                                                     \
		(void)argv;                                                                     \
		fuzz_init();                                                                    \
		return 0;                                                                       \
	}

static inline void fuzz_log_handler(const gchar *domain, GLogLevelFlags level, const gchar *msg, gpointer user)
{
	(void)user;
	if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING)) {
		fprintf(stderr, "%s: %s\n", domain ? domain : "glow", msg);
		abort();
	}
}

/* --- deterministic RNG -------------------------------------------------------
 * Draw i is ChaCha20(key, nonce = i); fuzz_rng_reset(n) makes the next draw
 * number n. Draws are per randombytes_buf() call, not per byte. */

static const uint8_t fuzz_rng_key[32] = "glow fuzz rng: not a secret key";
static uint64_t fuzz_rng_next;

static inline void fuzz_rng_draw(uint64_t index, void *buf, size_t len)
{
	uint8_t nonce[crypto_stream_chacha20_NONCEBYTES];
	for (size_t i = 0; i < sizeof nonce; i++)
		nonce[i] = (uint8_t)(index >> (8 * i));
	crypto_stream_chacha20(buf, len, nonce, fuzz_rng_key);
}

static inline void fuzz_rng_buf(void *buf, size_t len)
{
	fuzz_rng_draw(fuzz_rng_next++, buf, len);
}

static inline uint32_t fuzz_rng_random(void)
{
	uint32_t v;
	fuzz_rng_buf(&v, sizeof v);
	return v;
}

static inline const char *fuzz_rng_name(void)
{
	return "glow-fuzz-deterministic";
}

static inline void fuzz_rng_reset(uint64_t next)
{
	fuzz_rng_next = next;
}

static inline void fuzz_rng_install(void)
{
	static randombytes_implementation impl = {
		.implementation_name = fuzz_rng_name,
		.random = fuzz_rng_random,
		.buf = fuzz_rng_buf,
	};
	if (randombytes_set_implementation(&impl) != 0)
		abort();
}

/* GLOW_FUZZ_VERBOSE=1: harnesses say how far an input got (for checking
 * seeds and triaging; run the fuzzer binary on single files). */
static inline gboolean fuzz_verbose(void)
{
	static int v = -1;
	if (v < 0)
		v = getenv("GLOW_FUZZ_VERBOSE") != NULL;
	return v;
}

static inline void fuzz_init(void)
{
	fuzz_rng_install();
	if (sodium_init() < 0)
		abort();
	g_log_set_default_handler(fuzz_log_handler, NULL);
	g_log_set_always_fatal(G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
}

/* --- fixed keys ---------------------------------------------------------------
 * Role A is the link initiator, role B the responder. Each has an Ed25519
 * identity (from a seed), an X25519 Noise static key and a fixed ephemeral. */

typedef struct {
	uint8_t id_pk[32], id_sk[64];
	uint8_t s_priv[32], s_pub[32];
	uint8_t e_priv[32];
	uint8_t sig[64];
} FuzzPeer;

static inline void fuzz_peer_make(FuzzPeer *p, uint8_t tag)
{
	uint8_t seed[32];
	uint8_t msg[sizeof GLOW_LINK_SIG_CONTEXT - 1 + 32];

	memset(seed, tag, sizeof seed);
	crypto_sign_seed_keypair(p->id_pk, p->id_sk, seed);
	memset(p->s_priv, (uint8_t)(tag + 0x10), sizeof p->s_priv);
	crypto_scalarmult_base(p->s_pub, p->s_priv);
	memset(p->e_priv, (uint8_t)(tag + 0x20), sizeof p->e_priv);
	memcpy(msg, GLOW_LINK_SIG_CONTEXT, sizeof GLOW_LINK_SIG_CONTEXT - 1);
	memcpy(msg + sizeof GLOW_LINK_SIG_CONTEXT - 1, p->s_pub, 32);
	crypto_sign_detached(p->sig, NULL, msg, sizeof msg, p->id_sk);
}

/* The packed glow.LinkHello a link sends for p; returns its length. */
static inline size_t fuzz_hello(const FuzzPeer *p, const char *name, uint8_t *out, size_t cap)
{
	Glow__LinkHello hello = GLOW__LINK_HELLO__INIT;
	hello.identity_key.data = (uint8_t *)p->id_pk;
	hello.identity_key.len = 32;
	hello.signature.data = (uint8_t *)p->sig;
	hello.signature.len = 64;
	hello.name = (char *)name;
	hello.max_packet = GLOW_PACKET_MAX_PAYLOAD;
	if (glow__link_hello__get_packed_size(&hello) > cap)
		abort();
	return glow__link_hello__pack(&hello, out);
}

/* --- link framing: u16 big-endian length | bytes --------------------------- */

typedef struct {
	const uint8_t *p;
	size_t left;
} FuzzReader;

/* Next frame. A length running past the end yields what is left (a
 * truncated frame is an input too). FALSE when nothing is left. */
static inline gboolean fuzz_next_frame(FuzzReader *r, const uint8_t **frame, size_t *len)
{
	size_t n;
	if (r->left < 2)
		return FALSE;
	n = (size_t)r->p[0] << 8 | r->p[1];
	r->p += 2;
	r->left -= 2;
	if (n > r->left)
		n = r->left;
	*frame = r->p;
	*len = n;
	r->p += n;
	r->left -= n;
	return TRUE;
}

/* An exact-size heap copy, so ASan sees any read past a frame's end. */
static inline uint8_t *fuzz_dup(const uint8_t *p, size_t n)
{
	uint8_t *d = malloc(n ? n : 1);
	if (!d)
		abort();
	if (n)
		memcpy(d, p, n);
	return d;
}
