/* noise.c — Noise Protocol Framework rev 34 on libsodium.
 *
 * The contract is in noise.h. Section numbers (§) refer to
 * https://noiseprotocol.org/noise.html revision 34. Only what Glow needs:
 * DH 25519, ChaChaPoly, BLAKE2b or SHA256, and the fundamental patterns
 * below; psk modifiers and deferred patterns are refused at init.
 */
#include "link/noise.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

/* ---------------------------------------------------------------------
 * Handshake patterns (§7.4 one-way, §7.5 interactive), copied from the
 * spec as text so they can be checked by eye. Message i is sent by the
 * initiator when i is even; parse_message() checks that the arrows agree.
 * Pre-messages are "" or "s" (no fundamental pattern pre-sends "e").
 * --------------------------------------------------------------------- */

typedef struct {
	const char *name;
	const char *pre_initiator; /* "-> s" before the "..." line */
	const char *pre_responder; /* "<- s" before the "..." line */
	const char *msgs[GLOW_NOISE_MAX_MSGS + 1]; /* NULL-terminated */
} Pattern;

static const Pattern patterns[] = {
	/* name  ->     <-     messages */
	{ "N",  "",    "s",   { "-> e, es" } },
	{ "K",  "s",   "s",   { "-> e, es, ss" } },
	{ "X",  "",    "s",   { "-> e, es, s, ss" } },
	{ "NN", "",    "",    { "-> e", "<- e, ee" } },
	{ "NK", "",    "s",   { "-> e, es", "<- e, ee" } },
	{ "NX", "",    "",    { "-> e", "<- e, ee, s, es" } },
	{ "XN", "",    "",    { "-> e", "<- e, ee", "-> s, se" } },
	{ "XK", "",    "s",   { "-> e, es", "<- e, ee", "-> s, se" } },
	{ "XX", "",    "",    { "-> e", "<- e, ee, s, es", "-> s, se" } },
	{ "KN", "s",   "",    { "-> e", "<- e, ee, se" } },
	{ "KK", "s",   "s",   { "-> e, es, ss", "<- e, ee, se" } },
	{ "KX", "s",   "",    { "-> e", "<- e, ee, se, s, es" } },
	{ "IN", "",    "",    { "-> e, s", "<- e, ee, se" } },
	{ "IK", "",    "s",   { "-> e, es, s, ss", "<- e, ee, se" } },
	{ "IX", "",    "",    { "-> e, s", "<- e, ee, se, s, es" } },
};

/* Token codes stored in GlowNoiseHandshake.tokens; 0 ends a message. */
enum {
	TOK_END = 0,
	TOK_E,
	TOK_S,
	TOK_EE,
	TOK_ES,
	TOK_SE,
	TOK_SS,
};

#define PROTOCOL_NAME_MAX 255 /* §8: names are at most 255 bytes */
#define NAME_PREFIX "Noise_"
#define NAME_MIDDLE "_25519_ChaChaPoly_"
#define BLAKE2B_LEN 64
#define BLAKE2B_BLOCK 128
#define SHA256_LEN 32
#define SHA256_BLOCK 64
#define NONCE_RESERVED UINT64_MAX /* §5.1: 2^64-1 is never used for messages */

/* ---------------------------------------------------------------------
 * Hash functions (§4.3): one streaming interface over both hashes so that
 * HMAC, HKDF and MixHash are written once.
 * --------------------------------------------------------------------- */

typedef union {
	crypto_generichash_state b2;
	crypto_hash_sha256_state sha;
} HashCtx;

static size_t hash_len(GlowNoiseHash h)
{
	return h == GLOW_NOISE_HASH_BLAKE2B ? BLAKE2B_LEN : SHA256_LEN;
}

static size_t hash_block(GlowNoiseHash h)
{
	return h == GLOW_NOISE_HASH_BLAKE2B ? BLAKE2B_BLOCK : SHA256_BLOCK;
}

static void hash_init(HashCtx *ctx, GlowNoiseHash h)
{
	if (h == GLOW_NOISE_HASH_BLAKE2B)
		(void)crypto_generichash_init(&ctx->b2, NULL, 0, BLAKE2B_LEN);
	else
		(void)crypto_hash_sha256_init(&ctx->sha);
}

static void hash_update(HashCtx *ctx, GlowNoiseHash h, const uint8_t *data, size_t len)
{
	/* Skipping empty input keeps NULL pointers away from libsodium. */
	if (len == 0)
		return;
	if (h == GLOW_NOISE_HASH_BLAKE2B)
		(void)crypto_generichash_update(&ctx->b2, data, len);
	else
		(void)crypto_hash_sha256_update(&ctx->sha, data, len);
}

static void hash_final(HashCtx *ctx, GlowNoiseHash h, uint8_t *out)
{
	if (h == GLOW_NOISE_HASH_BLAKE2B)
		(void)crypto_generichash_final(&ctx->b2, out, BLAKE2B_LEN);
	else
		(void)crypto_hash_sha256_final(&ctx->sha, out);
	sodium_memzero(ctx, sizeof *ctx);
}

/* HMAC (RFC 2104) by hand: libsodium has no HMAC-BLAKE2b, and one
 * implementation for both hashes is simpler to audit. Keys here are
 * always a chaining key or an HKDF temp key (hashlen <= block length),
 * so the "hash a long key first" branch of RFC 2104 cannot occur. */
static void hmac(GlowNoiseHash h, const uint8_t *key, size_t keylen,
                 const uint8_t *d1, size_t l1, const uint8_t *d2, size_t l2,
                 uint8_t *out)
{
	uint8_t pad[BLAKE2B_BLOCK] = { 0 };
	uint8_t inner[GLOW_NOISE_MAX_HASHLEN];
	size_t block = hash_block(h);
	HashCtx ctx;

	memcpy(pad, key, keylen);
	for (size_t i = 0; i < block; i++)
		pad[i] ^= 0x36;
	hash_init(&ctx, h);
	hash_update(&ctx, h, pad, block);
	hash_update(&ctx, h, d1, l1);
	hash_update(&ctx, h, d2, l2);
	hash_final(&ctx, h, inner);

	for (size_t i = 0; i < block; i++)
		pad[i] ^= 0x36 ^ 0x5c;
	hash_init(&ctx, h);
	hash_update(&ctx, h, pad, block);
	hash_update(&ctx, h, inner, hash_len(h));
	hash_final(&ctx, h, out);

	sodium_memzero(pad, sizeof pad);
	sodium_memzero(inner, sizeof inner);
}

/* HKDF with two outputs (§4.3); the third output only serves psk tokens.
 * out1 may alias ck: ck is only read before out1 is written. */
static void hkdf2(GlowNoiseHash h, const uint8_t *ck, const uint8_t *ikm, size_t ikmlen,
                  uint8_t *out1, uint8_t *out2)
{
	const uint8_t one = 0x01, two = 0x02;
	size_t hl = hash_len(h);
	uint8_t temp[GLOW_NOISE_MAX_HASHLEN];

	hmac(h, ck, hl, ikm, ikmlen, NULL, 0, temp);
	hmac(h, temp, hl, &one, 1, NULL, 0, out1);
	hmac(h, temp, hl, out1, hl, &two, 1, out2);
	sodium_memzero(temp, sizeof temp);
}

/* ---------------------------------------------------------------------
 * CipherState (§5.1) with ChaChaPoly (§12.3).
 * --------------------------------------------------------------------- */

static void aead_encrypt(const uint8_t k[GLOW_NOISE_KEYLEN], uint64_t n,
                         const uint8_t *ad, size_t adlen,
                         const uint8_t *in, size_t len, uint8_t *out)
{
	/* §12.3: 32 bits of zeros then the counter, little-endian. */
	uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES] = { 0 };

	for (int i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(n >> (8 * i));
	(void)crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, in, len, ad, adlen,
	                                                NULL, nonce, k);
}

static int aead_decrypt(const uint8_t k[GLOW_NOISE_KEYLEN], uint64_t n,
                        const uint8_t *ad, size_t adlen,
                        const uint8_t *in, size_t len, uint8_t *out)
{
	uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES] = { 0 };

	for (int i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(n >> (8 * i));
	return crypto_aead_chacha20poly1305_ietf_decrypt(out, NULL, NULL, in, len, ad, adlen,
	                                                 nonce, k);
}

static void cipher_init_key(GlowNoiseCipher *c, const uint8_t *k)
{
	/* Only the first 32 bytes: §5.2 truncates 64-byte HKDF outputs. */
	memcpy(c->k, k, GLOW_NOISE_KEYLEN);
	c->n = 0;
	c->has_key = true;
}

static void copy_through(const uint8_t *in, size_t len, uint8_t *out)
{
	if (len > 0 && in != out)
		memmove(out, in, len);
}

int glow_noise_cipher_encrypt(GlowNoiseCipher *c, const uint8_t *ad, size_t adlen,
                              const uint8_t *in, size_t len, uint8_t *out)
{
	if (!c->has_key) {
		copy_through(in, len, out);
		return 0;
	}
	if (c->n == NONCE_RESERVED || len > crypto_aead_chacha20poly1305_ietf_MESSAGEBYTES_MAX)
		return -1;
	aead_encrypt(c->k, c->n, ad, adlen, in, len, out);
	c->n++;
	return 0;
}

int glow_noise_cipher_decrypt(GlowNoiseCipher *c, const uint8_t *ad, size_t adlen,
                              const uint8_t *in, size_t len, uint8_t *out)
{
	if (!c->has_key) {
		copy_through(in, len, out);
		return 0;
	}
	if (c->n == NONCE_RESERVED || len < GLOW_NOISE_TAGLEN)
		return -1;
	if (aead_decrypt(c->k, c->n, ad, adlen, in, len, out) != 0)
		return -1;
	c->n++;
	return 0;
}

void glow_noise_cipher_rekey(GlowNoiseCipher *c)
{
	/* §4.2 default REKEY. The reserved nonce is used on purpose here,
	 * which is why this bypasses glow_noise_cipher_encrypt(). */
	uint8_t zeros[GLOW_NOISE_KEYLEN] = { 0 };
	uint8_t out[GLOW_NOISE_KEYLEN + GLOW_NOISE_TAGLEN];

	if (!c->has_key)
		return;
	aead_encrypt(c->k, NONCE_RESERVED, NULL, 0, zeros, sizeof zeros, out);
	memcpy(c->k, out, GLOW_NOISE_KEYLEN);
	sodium_memzero(out, sizeof out);
}

void glow_noise_cipher_clear(GlowNoiseCipher *c)
{
	sodium_memzero(c, sizeof *c);
	/* A keyless CipherState would copy plaintext through; a keyed one at
	 * the reserved nonce refuses every encrypt and decrypt instead. */
	c->has_key = true;
	c->n = NONCE_RESERVED;
}

/* ---------------------------------------------------------------------
 * SymmetricState (§5.2).
 * --------------------------------------------------------------------- */

static void symmetric_init(GlowNoiseSymmetric *ss, GlowNoiseHash hash,
                           const char *name, size_t namelen)
{
	ss->hash = hash;
	ss->hashlen = hash_len(hash);
	memset(ss->h, 0, sizeof ss->h);
	if (namelen <= ss->hashlen) {
		memcpy(ss->h, name, namelen);
	} else {
		HashCtx ctx;

		hash_init(&ctx, hash);
		hash_update(&ctx, hash, (const uint8_t *)name, namelen);
		hash_final(&ctx, hash, ss->h);
	}
	memcpy(ss->ck, ss->h, ss->hashlen);
	memset(&ss->cs, 0, sizeof ss->cs);
}

static void mix_hash(GlowNoiseSymmetric *ss, const uint8_t *data, size_t len)
{
	HashCtx ctx;

	hash_init(&ctx, ss->hash);
	hash_update(&ctx, ss->hash, ss->h, ss->hashlen);
	hash_update(&ctx, ss->hash, data, len);
	hash_final(&ctx, ss->hash, ss->h);
}

static void mix_key(GlowNoiseSymmetric *ss, const uint8_t *ikm, size_t len)
{
	uint8_t temp_k[GLOW_NOISE_MAX_HASHLEN];

	hkdf2(ss->hash, ss->ck, ikm, len, ss->ck, temp_k);
	cipher_init_key(&ss->cs, temp_k);
	sodium_memzero(temp_k, sizeof temp_k);
}

/* out receives len bytes, plus a tag once a key is set. */
static int encrypt_and_hash(GlowNoiseSymmetric *ss, const uint8_t *in, size_t len, uint8_t *out)
{
	size_t outlen = len + (ss->cs.has_key ? GLOW_NOISE_TAGLEN : 0);

	if (glow_noise_cipher_encrypt(&ss->cs, ss->h, ss->hashlen, in, len, out) != 0)
		return -1;
	mix_hash(ss, out, outlen);
	return 0;
}

/* in and out must not overlap: h is mixed with the ciphertext after. */
static int decrypt_and_hash(GlowNoiseSymmetric *ss, const uint8_t *in, size_t len, uint8_t *out)
{
	if (glow_noise_cipher_decrypt(&ss->cs, ss->h, ss->hashlen, in, len, out) != 0)
		return -1;
	mix_hash(ss, in, len);
	return 0;
}

/* ---------------------------------------------------------------------
 * Protocol name and pattern parsing.
 * --------------------------------------------------------------------- */

static const Pattern *find_pattern(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof patterns / sizeof patterns[0]; i++) {
		if (strlen(patterns[i].name) == len && memcmp(patterns[i].name, name, len) == 0)
			return &patterns[i];
	}
	return NULL;
}

/* "Noise_<PATTERN>_25519_ChaChaPoly_<HASH>"; anything else is refused,
 * including psk modifiers and deferred patterns (not in the table). */
static const Pattern *parse_protocol(const char *name, GlowNoiseHash *hash)
{
	const size_t plen = strlen(NAME_PREFIX), mlen = strlen(NAME_MIDDLE);
	const char *pat, *end;
	const Pattern *p;

	if (strncmp(name, NAME_PREFIX, plen) != 0)
		return NULL;
	pat = name + plen;
	end = strchr(pat, '_');
	if (end == NULL || (p = find_pattern(pat, (size_t)(end - pat))) == NULL)
		return NULL;
	if (strncmp(end, NAME_MIDDLE, mlen) != 0)
		return NULL;
	end += mlen;
	if (strcmp(end, "BLAKE2b") == 0)
		*hash = GLOW_NOISE_HASH_BLAKE2B;
	else if (strcmp(end, "SHA256") == 0)
		*hash = GLOW_NOISE_HASH_SHA256;
	else
		return NULL;
	return p;
}

static uint8_t token_code(const char *word, size_t len)
{
	static const char *const names[] = {
		[TOK_E] = "e", [TOK_S] = "s", [TOK_EE] = "ee",
		[TOK_ES] = "es", [TOK_SE] = "se", [TOK_SS] = "ss",
	};

	for (uint8_t t = TOK_E; t <= TOK_SS; t++) {
		if (strlen(names[t]) == len && memcmp(names[t], word, len) == 0)
			return t;
	}
	return TOK_END;
}

/* Turns "-> e, es, s, ss" into token codes. The arrow must match the
 * sender implied by the message index, so a typo in the table is caught
 * at init instead of producing a silently different protocol. */
static int parse_message(const char *text, int index, uint8_t toks[GLOW_NOISE_MAX_TOKENS])
{
	const char *arrow = index % 2 == 0 ? "->" : "<-";
	const char *p = text;
	int n = 0;

	if (strncmp(p, arrow, 2) != 0)
		return -1;
	p += 2;
	for (;;) {
		size_t len;
		uint8_t t;

		p += strspn(p, " ,");
		if (*p == '\0')
			break;
		len = strcspn(p, " ,");
		t = token_code(p, len);
		if (t == TOK_END || n >= GLOW_NOISE_MAX_TOKENS - 1)
			return -1;
		toks[n++] = t;
		p += len;
	}
	toks[n] = TOK_END;
	return 0;
}

static int parse_pre(const char *pre, bool *has_s)
{
	*has_s = strcmp(pre, "s") == 0;
	return *has_s || pre[0] == '\0' ? 0 : -1;
}

static bool sender_is_initiator(int msg_index)
{
	return msg_index % 2 == 0;
}

/* Whether this side ever sends its static key in a message. */
static bool sends_static(const GlowNoiseHandshake *hs)
{
	for (int i = 0; i < hs->nmsgs; i++) {
		if (sender_is_initiator(i) != hs->initiator)
			continue;
		for (const uint8_t *t = hs->tokens[i]; *t != TOK_END; t++) {
			if (*t == TOK_S)
				return true;
		}
	}
	return false;
}

/* ---------------------------------------------------------------------
 * HandshakeState (§5.3).
 * --------------------------------------------------------------------- */

/* Every failure is total: secrets are wiped and the state stays dead. */
static long fail(GlowNoiseHandshake *hs)
{
	glow_noise_handshake_clear(hs);
	return -1;
}

/* strnlen() is POSIX, not C17. */
static size_t bounded_strlen(const char *s, size_t max)
{
	size_t n = 0;

	while (n < max && s[n] != '\0')
		n++;
	return n;
}

static int load_pattern(GlowNoiseHandshake *hs, const Pattern *p)
{
	hs->nmsgs = 0;
	for (int i = 0; p->msgs[i] != NULL; i++) {
		if (i >= GLOW_NOISE_MAX_MSGS || parse_message(p->msgs[i], i, hs->tokens[i]) != 0)
			return -1;
		hs->nmsgs++;
	}
	return hs->nmsgs > 0 ? 0 : -1;
}

/* Copies the keys the pattern needs; keys it does not use are ignored so
 * that a stray remote key cannot clash with one received in a message. */
static int load_keys(GlowNoiseHandshake *hs, const GlowNoiseConfig *cfg, bool need_s, bool need_rs)
{
	if (need_s) {
		if (cfg->s_priv == NULL)
			return -1;
		memcpy(hs->s_priv, cfg->s_priv, sizeof hs->s_priv);
		if (crypto_scalarmult_base(hs->s_pub, hs->s_priv) != 0)
			return -1;
		hs->has_s = true;
	}
	if (need_rs) {
		if (cfg->rs_pub == NULL)
			return -1;
		memcpy(hs->rs, cfg->rs_pub, sizeof hs->rs);
		hs->has_rs = true;
	}
	if (cfg->e_priv != NULL) {
		memcpy(hs->e_priv, cfg->e_priv, sizeof hs->e_priv);
		hs->fixed_e = true;
	}
	return 0;
}

int glow_noise_handshake_init(GlowNoiseHandshake *hs, const GlowNoiseConfig *cfg)
{
	const Pattern *p;
	GlowNoiseHash hash;
	bool pre_i, pre_r, my_pre, peer_pre;
	size_t namelen;

	glow_noise_handshake_clear(hs); /* dead until fully set up */
	if (cfg == NULL || cfg->protocol_name == NULL || sodium_init() < 0)
		return -1;
	if (cfg->prologue == NULL && cfg->prologue_len > 0)
		return -1;
	namelen = bounded_strlen(cfg->protocol_name, PROTOCOL_NAME_MAX + 1);
	if (namelen > PROTOCOL_NAME_MAX)
		return -1;
	p = parse_protocol(cfg->protocol_name, &hash);
	if (p == NULL || parse_pre(p->pre_initiator, &pre_i) != 0 ||
	    parse_pre(p->pre_responder, &pre_r) != 0)
		return -1;

	hs->failed = false;
	hs->initiator = cfg->initiator;
	if (load_pattern(hs, p) != 0)
		return (int)fail(hs);
	my_pre = cfg->initiator ? pre_i : pre_r;
	peer_pre = cfg->initiator ? pre_r : pre_i;
	if (load_keys(hs, cfg, my_pre || sends_static(hs), peer_pre) != 0)
		return (int)fail(hs);

	symmetric_init(&hs->ss, hash, cfg->protocol_name, namelen);
	mix_hash(&hs->ss, cfg->prologue, cfg->prologue_len);
	/* §5.3 Initialize(): pre-message keys, initiator's first. */
	if (pre_i)
		mix_hash(&hs->ss, cfg->initiator ? hs->s_pub : hs->rs, GLOW_NOISE_DHLEN);
	if (pre_r)
		mix_hash(&hs->ss, cfg->initiator ? hs->rs : hs->s_pub, GLOW_NOISE_DHLEN);
	return 0;
}

static bool peer_turn(const GlowNoiseHandshake *hs)
{
	return !hs->failed && hs->msg_index < hs->nmsgs &&
	       sender_is_initiator(hs->msg_index) != hs->initiator;
}

/* Bytes of the current message other than the payload: keys, their tags
 * and the payload tag. Every DH token ends in MixKey, so a key is set from
 * the first DH token on. Known before any state changes, which lets
 * bounds be checked up front. */
static size_t message_overhead(const GlowNoiseHandshake *hs)
{
	const size_t dhlen = GLOW_NOISE_DHLEN, taglen = GLOW_NOISE_TAGLEN;
	bool keyed = hs->ss.cs.has_key;
	size_t len = 0;

	for (const uint8_t *t = hs->tokens[hs->msg_index]; *t != TOK_END; t++) {
		if (*t == TOK_E)
			len += dhlen;
		else if (*t == TOK_S)
			len += dhlen + (keyed ? taglen : 0);
		else
			keyed = true;
	}
	return len + (keyed ? taglen : 0);
}

/* ee, es, se, ss (§5.3): which local and remote keys each one uses. */
static int mix_dh(GlowNoiseHandshake *hs, uint8_t tok)
{
	bool local_e, remote_e;
	const uint8_t *priv, *pub;
	uint8_t shared[GLOW_NOISE_DHLEN];
	int rc = -1;

	switch (tok) {
	case TOK_EE: local_e = true;            remote_e = true;           break;
	case TOK_ES: local_e = hs->initiator;   remote_e = !hs->initiator; break;
	case TOK_SE: local_e = !hs->initiator;  remote_e = hs->initiator;  break;
	case TOK_SS: local_e = false;           remote_e = false;          break;
	default: return -1;
	}
	if (!(local_e ? hs->has_e : hs->has_s) || !(remote_e ? hs->has_re : hs->has_rs))
		return -1;
	priv = local_e ? hs->e_priv : hs->s_priv;
	pub = remote_e ? hs->re : hs->rs;
	/* libsodium already refuses an all-zero result (low-order point);
	 * the explicit check keeps that guarantee visible here. */
	if (crypto_scalarmult(shared, priv, pub) == 0 && !sodium_is_zero(shared, sizeof shared)) {
		mix_key(&hs->ss, shared, sizeof shared);
		rc = 0;
	}
	sodium_memzero(shared, sizeof shared);
	return rc;
}

static int write_e(GlowNoiseHandshake *hs, uint8_t *out)
{
	if (hs->has_e)
		return -1;
	if (!hs->fixed_e)
		randombytes_buf(hs->e_priv, sizeof hs->e_priv);
	if (crypto_scalarmult_base(hs->e_pub, hs->e_priv) != 0)
		return -1;
	hs->has_e = true;
	memcpy(out, hs->e_pub, GLOW_NOISE_DHLEN);
	mix_hash(&hs->ss, hs->e_pub, GLOW_NOISE_DHLEN);
	return 0;
}

static int write_tokens(GlowNoiseHandshake *hs, uint8_t *out, size_t *pos)
{
	for (const uint8_t *t = hs->tokens[hs->msg_index]; *t != TOK_END; t++) {
		size_t keyed = hs->ss.cs.has_key ? GLOW_NOISE_TAGLEN : 0;

		if (*t == TOK_E) {
			if (write_e(hs, out + *pos) != 0)
				return -1;
			*pos += GLOW_NOISE_DHLEN;
		} else if (*t == TOK_S) {
			if (!hs->has_s || encrypt_and_hash(&hs->ss, hs->s_pub, GLOW_NOISE_DHLEN, out + *pos) != 0)
				return -1;
			*pos += GLOW_NOISE_DHLEN + keyed;
		} else if (mix_dh(hs, *t) != 0) {
			return -1;
		}
	}
	return 0;
}

long glow_noise_write_message(GlowNoiseHandshake *hs, const uint8_t *payload, size_t payload_len,
                              uint8_t *out, size_t out_cap)
{
	size_t need, pos = 0;

	if (!glow_noise_handshake_my_turn(hs) || out == NULL ||
	    (payload == NULL && payload_len > 0) || payload_len > GLOW_NOISE_MAX_MSG)
		return fail(hs);
	need = message_overhead(hs) + payload_len;
	if (need > GLOW_NOISE_MAX_MSG || need > out_cap)
		return fail(hs);
	if (write_tokens(hs, out, &pos) != 0 ||
	    encrypt_and_hash(&hs->ss, payload, payload_len, out + pos) != 0) {
		sodium_memzero(out, need);
		return fail(hs);
	}
	hs->msg_index++;
	return (long)need;
}

static int read_s(GlowNoiseHandshake *hs, const uint8_t *in, size_t len)
{
	uint8_t rs[GLOW_NOISE_DHLEN];

	/* A key fixed by a pre-message must not be replaced by the peer. */
	if (hs->has_rs || decrypt_and_hash(&hs->ss, in, len, rs) != 0)
		return -1;
	memcpy(hs->rs, rs, sizeof rs);
	hs->has_rs = true;
	return 0;
}

static int read_tokens(GlowNoiseHandshake *hs, const uint8_t *msg, size_t *pos)
{
	for (const uint8_t *t = hs->tokens[hs->msg_index]; *t != TOK_END; t++) {
		size_t keyed = hs->ss.cs.has_key ? GLOW_NOISE_TAGLEN : 0;

		if (*t == TOK_E) {
			if (hs->has_re)
				return -1;
			memcpy(hs->re, msg + *pos, GLOW_NOISE_DHLEN);
			hs->has_re = true;
			mix_hash(&hs->ss, hs->re, GLOW_NOISE_DHLEN);
			*pos += GLOW_NOISE_DHLEN;
		} else if (*t == TOK_S) {
			if (read_s(hs, msg + *pos, GLOW_NOISE_DHLEN + keyed) != 0)
				return -1;
			*pos += GLOW_NOISE_DHLEN + keyed;
		} else if (mix_dh(hs, *t) != 0) {
			return -1;
		}
	}
	return 0;
}

long glow_noise_read_message(GlowNoiseHandshake *hs, const uint8_t *msg, size_t msg_len,
                             uint8_t *payload_out, size_t payload_cap)
{
	size_t overhead, plen, pos = 0;

	if (!peer_turn(hs) || msg == NULL || msg_len > GLOW_NOISE_MAX_MSG)
		return fail(hs);
	overhead = message_overhead(hs);
	if (msg_len < overhead)
		return fail(hs);
	plen = msg_len - overhead;
	if (plen > payload_cap || (payload_out == NULL && plen > 0))
		return fail(hs);
	if (read_tokens(hs, msg, &pos) != 0 ||
	    decrypt_and_hash(&hs->ss, msg + pos, msg_len - pos, payload_out) != 0) {
		if (payload_out != NULL)
			sodium_memzero(payload_out, plen);
		return fail(hs);
	}
	hs->msg_index++;
	return (long)plen;
}

bool glow_noise_handshake_done(const GlowNoiseHandshake *hs)
{
	return !hs->failed && hs->nmsgs > 0 && hs->msg_index == hs->nmsgs;
}

bool glow_noise_handshake_my_turn(const GlowNoiseHandshake *hs)
{
	return !hs->failed && hs->msg_index < hs->nmsgs &&
	       sender_is_initiator(hs->msg_index) == hs->initiator;
}

void glow_noise_split(GlowNoiseHandshake *hs, GlowNoiseCipher *c1, GlowNoiseCipher *c2,
                      uint8_t *h_out, size_t *hashlen_out)
{
	uint8_t k1[GLOW_NOISE_MAX_HASHLEN], k2[GLOW_NOISE_MAX_HASHLEN];

	glow_noise_cipher_clear(c1);
	glow_noise_cipher_clear(c2);
	if (hashlen_out != NULL)
		*hashlen_out = 0;
	if (!glow_noise_handshake_done(hs) || hs->split_done)
		return;

	hkdf2(hs->ss.hash, hs->ss.ck, NULL, 0, k1, k2);
	cipher_init_key(c1, k1);
	cipher_init_key(c2, k2);
	sodium_memzero(k1, sizeof k1);
	sodium_memzero(k2, sizeof k2);
	if (h_out != NULL)
		memcpy(h_out, hs->ss.h, hs->ss.hashlen);
	if (hashlen_out != NULL)
		*hashlen_out = hs->ss.hashlen;

	/* The transport keys now live in c1/c2; nothing else here is needed
	 * except rs (peer identity) and h (channel binding). */
	sodium_memzero(hs->ss.ck, sizeof hs->ss.ck);
	sodium_memzero(&hs->ss.cs, sizeof hs->ss.cs);
	sodium_memzero(hs->s_priv, sizeof hs->s_priv);
	sodium_memzero(hs->e_priv, sizeof hs->e_priv);
	hs->split_done = true;
}

const uint8_t *glow_noise_remote_static(const GlowNoiseHandshake *hs)
{
	return !hs->failed && hs->has_rs ? hs->rs : NULL;
}

void glow_noise_handshake_clear(GlowNoiseHandshake *hs)
{
	sodium_memzero(hs, sizeof *hs);
	/* An all-zero state must not look usable (msg_index == nmsgs). */
	hs->failed = true;
}

void glow_noise_keypair(uint8_t priv[32], uint8_t pub[32])
{
	/* No way to report failure here, and weak keys are worse than a
	 * crash (libsodium itself aborts if its RNG cannot be opened). */
	if (sodium_init() < 0)
		abort();
	randombytes_buf(priv, 32);
	(void)crypto_scalarmult_base(pub, priv);
}
