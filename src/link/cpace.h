/* cpace.h — CPace, a balanced PAKE, cipher suite CPACE-RISTR255-SHA512.
 *
 * Layer: link. Pure: no I/O, no global state, no allocation. Follows
 * draft-irtf-cfrg-cpace-21: the protocol of sections 7.1-7.2, the generator
 * of sections 8.1 and 8.3 (ristretto255 from RFC 9496, H = SHA-512,
 * DSI "CPaceRistretto255"), prepend_len / lv_cat / generator_string of
 * appendix A.1-A.2, and the initiator-responder transcript transcript_ir
 * of section 6.3 / appendix A.3.4. The symmetric transcript (o_cat), the
 * optional sid_output (10.6) and key confirmation (10.4) are not here.
 *
 * Use: both parties glow_cpace_init() with the same PRS (password), CI
 * (channel identifier) and sid (session id, may be empty); each makes its
 * public share with glow_cpace_message() and sends it together with its AD
 * (associated data) in whatever framing the caller uses — the draft leaves
 * the wire encoding to the application (section 4.3). On receiving the
 * peer's share and AD, glow_cpace_finish() yields the 64-byte intermediate
 * session key ISK; feed it through a KDF before use (section 4).
 *
 * Contract:
 *  - Every input is copied or hashed during the call; the caller keeps
 *    ownership of its buffers. ci and sid may be NULL when their length
 *    is 0; ad likewise.
 *  - One state runs one exchange: finish() wipes the state whatever the
 *    outcome, so a state never uses its scalar twice (section 10.9) and an
 *    active attacker gets one password guess per run. Calls out of order
 *    (finish before message, message twice) return FALSE.
 *  - K is never exposed (section 10.3).
 *  - sodium_init() must have succeeded. Not thread-safe per state.
 */
#pragma once

#include <glib.h>
#include <sodium.h>
#include <stddef.h>
#include <stdint.h>

#define GLOW_CPACE_SHARE_LEN 32  /* encoded ristretto255 element Ya / Yb */
#define GLOW_CPACE_SCALAR_LEN 32 /* little-endian scalar, < group order */
#define GLOW_CPACE_ISK_LEN 64
#define GLOW_CPACE_AD_MAX 256    /* bound on this party's AD, kept until finish */
#define GLOW_CPACE_LEB128_MAX 10 /* LEB128 of a 64-bit length */

typedef struct {
	uint8_t g[GLOW_CPACE_SHARE_LEN];     /* generator, encoded; secret (from PRS) */
	uint8_t y[GLOW_CPACE_SCALAR_LEN];    /* this party's scalar; secret */
	uint8_t share[GLOW_CPACE_SHARE_LEN]; /* this party's Y = y*g */
	uint8_t ad[GLOW_CPACE_AD_MAX];       /* this party's AD */
	size_t ad_len;
	crypto_hash_sha512_state isk_hash;   /* has absorbed lv_cat(DSI_ISK, sid) */
	int stage;                           /* private: where in the exchange */
} GlowCpace;

/* Sets up one party: computes the generator from prs, ci and sid.
 * FALSE (state cleared) when prs is empty or the generator is the identity. */
gboolean glow_cpace_init(GlowCpace *c, const uint8_t *prs, size_t prs_len, const uint8_t *ci,
                         size_t ci_len, const uint8_t *sid, size_t sid_len);
/* Draws a fresh scalar and writes this party's public share; remembers ad
 * (this party's associated data) for the transcript. FALSE when called out
 * of order or ad_len > GLOW_CPACE_AD_MAX. */
gboolean glow_cpace_message(GlowCpace *c, const uint8_t *ad, size_t ad_len,
                            uint8_t share[GLOW_CPACE_SHARE_LEN]);
/* Same with a given scalar, for test vectors only. FALSE as above, and when
 * y is zero or not reduced below the group order. */
gboolean glow_cpace_message_with_scalar(GlowCpace *c, const uint8_t y[GLOW_CPACE_SCALAR_LEN],
                                        const uint8_t *ad, size_t ad_len,
                                        uint8_t share[GLOW_CPACE_SHARE_LEN]);
/* Derives ISK from the peer's share and AD. initiator says which side this
 * party is: its (share, AD) comes first in transcript_ir. FALSE when the
 * peer's share does not decode to a group element, when K is the identity,
 * or when called out of order. Always wipes the state. */
gboolean glow_cpace_finish(GlowCpace *c, gboolean initiator,
                           const uint8_t peer_share[GLOW_CPACE_SHARE_LEN], const uint8_t *peer_ad,
                           size_t peer_ad_len, uint8_t isk[GLOW_CPACE_ISK_LEN]);
/* Wipes the secrets (sodium_memzero of the whole state). */
void glow_cpace_clear(GlowCpace *c);

/* The draft's LEB128 length prefix (appendix A.1.1), as used by
 * prepend_len; writes it to out and returns its length. Exposed so the
 * tests can check it against appendix A.1.2. */
size_t glow_cpace_leb128(uint64_t len, uint8_t out[GLOW_CPACE_LEB128_MAX]);
