/* cpace.c — CPACE-RISTR255-SHA512 (draft-irtf-cfrg-cpace-21) on libsodium.
 *
 * Nothing is concatenated into buffers: every lv_cat() of the draft is fed
 * straight into a multi-part SHA-512, one prepend_len() field at a time, so
 * input lengths need no bound (except our own AD, which must be kept until
 * the peer's share arrives).
 */
#include "link/cpace.h"

#include <string.h>

/* G_Ristretto255.DSI (section 8.3) and DSI || "_ISK" (section 7.2). */
#define DSI "CPaceRistretto255"
#define DSI_ISK DSI "_ISK"
/* H.s_in_bytes for SHA-512: the input block size (section 6.2). */
#define SHA512_BLOCK 128

enum { STAGE_NONE = 0, STAGE_INIT, STAGE_SENT };

size_t glow_cpace_leb128(uint64_t len, uint8_t out[GLOW_CPACE_LEB128_MAX])
{
	size_t n = 0;

	/* Seven bits a byte, least significant first; bit 7 says "more". */
	do {
		uint8_t b = (uint8_t)(len & 0x7f);

		len >>= 7;
		out[n++] = len ? (uint8_t)(b | 0x80) : b;
	} while (len);
	return n;
}

static size_t leb128_len(uint64_t len)
{
	uint8_t tmp[GLOW_CPACE_LEB128_MAX];

	return glow_cpace_leb128(len, tmp);
}

/* Absorbs prepend_len(data): one field of an lv_cat(). */
static void hash_lv(crypto_hash_sha512_state *h, const uint8_t *data, size_t len)
{
	uint8_t prefix[GLOW_CPACE_LEB128_MAX];
	size_t n = glow_cpace_leb128(len, prefix);

	crypto_hash_sha512_update(h, prefix, n);
	if (len)
		crypto_hash_sha512_update(h, data, len);
}

/* len_zpad of section 8.1: pads DSI and PRS out to fill the first hash
 * block, so the hashing time of a short PRS does not depend on its length. */
static size_t zpad_len(size_t prs_len)
{
	size_t dsi_field = leb128_len(sizeof DSI - 1) + sizeof DSI - 1;
	size_t prs_field = leb128_len(prs_len) + prs_len;
	size_t used = 1 + dsi_field + prs_field; /* 1: the zpad's own length byte */

	return used >= SHA512_BLOCK ? 0 : SHA512_BLOCK - used;
}

/* G.calculate_generator (section 8.3): element_derivation (RFC 9496's
 * one-way map, crypto_core_ristretto255_from_hash) of
 * SHA-512(generator_string(DSI, PRS, CI, sid, 128)). */
static gboolean calculate_generator(uint8_t g[GLOW_CPACE_SHARE_LEN], const uint8_t *prs,
                                    size_t prs_len, const uint8_t *ci, size_t ci_len,
                                    const uint8_t *sid, size_t sid_len)
{
	static const uint8_t zeros[SHA512_BLOCK];
	crypto_hash_sha512_state h;
	uint8_t digest[crypto_hash_sha512_BYTES];
	gboolean ok;

	crypto_hash_sha512_init(&h);
	hash_lv(&h, (const uint8_t *)DSI, sizeof DSI - 1);
	hash_lv(&h, prs, prs_len);
	hash_lv(&h, zeros, zpad_len(prs_len));
	hash_lv(&h, ci, ci_len);
	hash_lv(&h, sid, sid_len);
	crypto_hash_sha512_final(&h, digest);
	crypto_core_ristretto255_from_hash(g, digest);
	/* The identity as generator would make every share the identity. */
	ok = !sodium_is_zero(g, GLOW_CPACE_SHARE_LEN);
	/* The hash state and digest are password-derived. */
	sodium_memzero(&h, sizeof h);
	sodium_memzero(digest, sizeof digest);
	return ok;
}

void glow_cpace_clear(GlowCpace *c)
{
	sodium_memzero(c, sizeof *c);
}

gboolean glow_cpace_init(GlowCpace *c, const uint8_t *prs, size_t prs_len, const uint8_t *ci,
                         size_t ci_len, const uint8_t *sid, size_t sid_len)
{
	glow_cpace_clear(c);
	/* An empty password is always a caller bug (a lost invite code). */
	if (prs_len == 0)
		return FALSE;
	if (!calculate_generator(c->g, prs, prs_len, ci, ci_len, sid, sid_len)) {
		glow_cpace_clear(c);
		return FALSE;
	}
	/* lv_cat(DSI_ISK, sid, K) || transcript: the first two fields are
	 * known now, so absorb them and keep no copy of sid. */
	crypto_hash_sha512_init(&c->isk_hash);
	hash_lv(&c->isk_hash, (const uint8_t *)DSI_ISK, sizeof DSI_ISK - 1);
	hash_lv(&c->isk_hash, sid, sid_len);
	c->stage = STAGE_INIT;
	return TRUE;
}

/* True when y is already reduced mod the group order: reducing it (as the
 * low half of a 64-byte number) changes nothing. */
static gboolean scalar_is_canonical(const uint8_t y[GLOW_CPACE_SCALAR_LEN])
{
	uint8_t wide[crypto_core_ristretto255_NONREDUCEDSCALARBYTES] = { 0 };
	uint8_t reduced[crypto_core_ristretto255_SCALARBYTES];
	gboolean ok;

	memcpy(wide, y, GLOW_CPACE_SCALAR_LEN);
	crypto_core_ristretto255_scalar_reduce(reduced, wide);
	ok = sodium_memcmp(reduced, y, sizeof reduced) == 0;
	sodium_memzero(wide, sizeof wide);
	sodium_memzero(reduced, sizeof reduced);
	return ok;
}

/* Y = G.scalar_mult(y, g), with c->y already set. */
static gboolean make_share(GlowCpace *c, const uint8_t *ad, size_t ad_len,
                           uint8_t share[GLOW_CPACE_SHARE_LEN])
{
	/* Fails only if y*g is the identity, which a nonzero y < order and a
	 * non-identity g in a prime-order group cannot give. */
	if (crypto_scalarmult_ristretto255(c->share, c->y, c->g) != 0) {
		glow_cpace_clear(c);
		return FALSE;
	}
	if (ad_len)
		memcpy(c->ad, ad, ad_len);
	c->ad_len = ad_len;
	memcpy(share, c->share, GLOW_CPACE_SHARE_LEN);
	c->stage = STAGE_SENT;
	return TRUE;
}

gboolean glow_cpace_message(GlowCpace *c, const uint8_t *ad, size_t ad_len,
                            uint8_t share[GLOW_CPACE_SHARE_LEN])
{
	if (c->stage != STAGE_INIT || ad_len > GLOW_CPACE_AD_MAX)
		return FALSE;
	/* Uniform in [1, order-1]: the draft's allowed alternative to masked
	 * random bytes (section 8.3); libsodium rejects zero. */
	crypto_core_ristretto255_scalar_random(c->y);
	return make_share(c, ad, ad_len, share);
}

gboolean glow_cpace_message_with_scalar(GlowCpace *c, const uint8_t y[GLOW_CPACE_SCALAR_LEN],
                                        const uint8_t *ad, size_t ad_len,
                                        uint8_t share[GLOW_CPACE_SHARE_LEN])
{
	if (c->stage != STAGE_INIT || ad_len > GLOW_CPACE_AD_MAX)
		return FALSE;
	/* libsodium would silently drop bit 255 of a larger scalar. */
	if (sodium_is_zero(y, GLOW_CPACE_SCALAR_LEN) || !scalar_is_canonical(y))
		return FALSE;
	memcpy(c->y, y, GLOW_CPACE_SCALAR_LEN);
	return make_share(c, ad, ad_len, share);
}

/* ISK = SHA-512(lv_cat(DSI_ISK, sid, K) || transcript_ir(Ya, ADa, Yb, ADb)),
 * section 7.2; the state already holds the first two fields. */
static void derive_isk(GlowCpace *c, gboolean initiator, const uint8_t k[GLOW_CPACE_SHARE_LEN],
                       const uint8_t *peer_share, const uint8_t *peer_ad, size_t peer_ad_len,
                       uint8_t isk[GLOW_CPACE_ISK_LEN])
{
	crypto_hash_sha512_state *h = &c->isk_hash;

	hash_lv(h, k, GLOW_CPACE_SHARE_LEN);
	if (initiator) {
		hash_lv(h, c->share, GLOW_CPACE_SHARE_LEN);
		hash_lv(h, c->ad, c->ad_len);
		hash_lv(h, peer_share, GLOW_CPACE_SHARE_LEN);
		hash_lv(h, peer_ad, peer_ad_len);
	} else {
		hash_lv(h, peer_share, GLOW_CPACE_SHARE_LEN);
		hash_lv(h, peer_ad, peer_ad_len);
		hash_lv(h, c->share, GLOW_CPACE_SHARE_LEN);
		hash_lv(h, c->ad, c->ad_len);
	}
	crypto_hash_sha512_final(h, isk);
}

gboolean glow_cpace_finish(GlowCpace *c, gboolean initiator,
                           const uint8_t peer_share[GLOW_CPACE_SHARE_LEN], const uint8_t *peer_ad,
                           size_t peer_ad_len, uint8_t isk[GLOW_CPACE_ISK_LEN])
{
	uint8_t k[GLOW_CPACE_SHARE_LEN];
	gboolean ok = FALSE;

	sodium_memzero(isk, GLOW_CPACE_ISK_LEN);
	/* G.scalar_mult_vfy (section 8.3): libsodium fails both when the
	 * share is not a canonical encoding of an element and when y*Y is the
	 * identity G.I; either way the draft says abort. */
	if (c->stage == STAGE_SENT && crypto_scalarmult_ristretto255(k, c->y, peer_share) == 0) {
		derive_isk(c, initiator, k, peer_share, peer_ad, peer_ad_len, isk);
		ok = TRUE;
	}
	sodium_memzero(k, sizeof k);
	glow_cpace_clear(c);
	return ok;
}
