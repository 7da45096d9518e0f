/* fuzz-noise-responder — Noise_XX_25519_ChaChaPoly_BLAKE2b as links run it.
 *
 * Input: one mode byte, then frames as on a link (u16 big-endian length |
 * bytes; a length past the end takes what is left).
 *
 *  mode % 3 == 0  responder: frame 1 is message 1; if accepted, message 2 is
 *                 written (carrying a glow.LinkHello), frame 2 is read as
 *                 message 3, whose payload is checked like a link checks
 *                 it, and the remaining frames are transport records
 *                 (u8 type | ciphertext, ad = type) for the receive cipher.
 *  mode % 3 == 1  initiator: message 1 is written, frame 1 is read as
 *                 message 2 and checked, message 3 written, then records.
 *  mode % 3 == 2  both sides in-process: frames 1-3 are the handshake
 *                 payloads, the rest transport plaintexts whose first byte
 *                 picks direction, tampering and rekeying. Checks that what
 *                 goes in comes out, and that any tampering is refused.
 *
 * Every key is fixed (fuzz-common.h), so runs are reproducible and the
 * seeds in corpus/fuzz-noise-responder/ carry complete valid transcripts.
 * Failures are fine; crashes, leaks, out-of-bounds reads and broken
 * invariants are not.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-common.h"
#include "glow/common.pb-c.h"
#include "link/identity.h"
#include "link/noise.h"
#include "wire/packet.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { REC_DATA = 1, REC_PING = 2, REC_PONG = 3, REC_REKEY = 4, REC_CLOSE = 5 };

static FuzzPeer peer_a, peer_b; /* a: initiator, b: responder */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_init();
	fuzz_peer_make(&peer_a, 0xa1);
	fuzz_peer_make(&peer_b, 0xb2);
	return 0;
}

static void hs_init(GlowNoiseHandshake *hs, const FuzzPeer *p, bool initiator)
{
	GlowNoiseConfig cfg = {
		.protocol_name = GLOW_LINK_NOISE_PROTOCOL,
		.initiator = initiator,
		.prologue = (const uint8_t *)GLOW_LINK_PROLOGUE,
		.prologue_len = strlen(GLOW_LINK_PROLOGUE),
		.s_priv = p->s_priv,
		.e_priv = p->e_priv,
	};
	FUZZ_CHECK(glow_noise_handshake_init(hs, &cfg) == 0);
}

/* After a failure the state is dead: nothing more may succeed. */
static void check_dead(GlowNoiseHandshake *hs)
{
	uint8_t buf[256], pl[8] = { 0 };
	FUZZ_CHECK(!glow_noise_handshake_done(hs));
	FUZZ_CHECK(!glow_noise_handshake_my_turn(hs));
	FUZZ_CHECK(glow_noise_remote_static(hs) == NULL);
	FUZZ_CHECK(glow_noise_write_message(hs, pl, sizeof pl, buf, sizeof buf) < 0);
	FUZZ_CHECK(glow_noise_read_message(hs, buf, 48, pl, sizeof pl) < 0);
}

/* link.c's check_hello: the hello's identity must have signed the Noise
 * static key that Noise authenticated. */
static bool check_hello(const GlowNoiseHandshake *hs, const uint8_t *payload, size_t len)
{
	uint8_t *copy = fuzz_dup(payload, len);
	Glow__LinkHello *hello = glow__link_hello__unpack(NULL, len, copy);
	const uint8_t *rs = glow_noise_remote_static(hs);
	bool ok = false;

	FUZZ_CHECK(rs != NULL);
	if (hello != NULL) {
		if (hello->identity_key.len == 32 && hello->signature.len == 64)
			ok = glow_identity_verify_noise_key(hello->identity_key.data, hello->signature.data, rs);
		if (hello->name != NULL) {
			char *valid = g_utf8_make_valid(hello->name, (gssize)MIN(strlen(hello->name), 64));
			g_free(valid);
		}
		glow__link_hello__free_unpacked(hello, NULL);
	}
	free(copy);
	return ok;
}

/* Transport records as link.c's handle_record reads them, until one fails. */
static void read_records(FuzzReader *r, GlowNoiseCipher *rx)
{
	const uint8_t *frame;
	size_t len;

	while (fuzz_next_frame(r, &frame, &len)) {
		if (len == 0)
			return; /* "protocol error: empty frame" */
		uint8_t *rec = fuzz_dup(frame, len);
		uint8_t type = rec[0];
		size_t ctlen = len - 1;
		uint64_t n_before = rx->n;
		if (ctlen < GLOW_NOISE_TAGLEN ||
		    glow_noise_cipher_decrypt(rx, &rec[0], 1, rec + 1, ctlen, rec + 1) < 0) {
			FUZZ_CHECK(rx->n == n_before); /* a refused record does not use up a nonce */
			free(rec);
			return;
		}
		FUZZ_CHECK(rx->n == n_before + 1);
		if (fuzz_verbose())
			fprintf(stderr, "fuzz-noise: record type %u, %zu bytes accepted\n", type, ctlen - GLOW_NOISE_TAGLEN);
		size_t plen = ctlen - GLOW_NOISE_TAGLEN;
		if (type == REC_REKEY) {
			glow_noise_cipher_rekey(rx);
		} else if (type == REC_DATA && plen >= GLOW_PACKET_HEADER_LEN) {
			GlowPacketHeader h;
			(void)glow_packet_decode_header(rec + 1, plen, GLOW_PACKET_MAX_PAYLOAD, &h);
		}
		free(rec);
		if (type == REC_CLOSE)
			return;
	}
}

static void run_responder(FuzzReader *r)
{
	GlowNoiseHandshake hs;
	GlowNoiseCipher c1, c2;
	uint8_t hbuf[GLOW_NOISE_MAX_HASHLEN];
	size_t hlen;
	uint8_t hello[GLOW_LINK_MAX_HELLO], out[GLOW_LINK_MAX_HELLO + 256];
	uint8_t *payload = malloc(GLOW_LINK_MAX_HELLO);
	const uint8_t *frame;
	size_t len;
	long n;

	FUZZ_CHECK(payload != NULL);
	hs_init(&hs, &peer_b, false);
	FUZZ_CHECK(!glow_noise_handshake_my_turn(&hs));
	if (!fuzz_next_frame(r, &frame, &len))
		goto out;
	uint8_t *msg = fuzz_dup(frame, len);
	n = glow_noise_read_message(&hs, msg, len, payload, GLOW_LINK_MAX_HELLO);
	free(msg);
	if (n < 0) {
		check_dead(&hs);
		goto out;
	}
	FUZZ_CHECK((size_t)n + GLOW_NOISE_DHLEN == len); /* -> e, payload in clear */
	FUZZ_CHECK(glow_noise_handshake_my_turn(&hs));

	size_t hl = fuzz_hello(&peer_b, "fuzz-b", hello, sizeof hello);
	n = glow_noise_write_message(&hs, hello, hl, out, sizeof out);
	if (n < 0) {
		/* ee refuses a low-order "e" from message 1 (all-zero DH result);
		 * the link closes with "cannot write message 2" */
		check_dead(&hs);
		goto out;
	}
	FUZZ_CHECK(n == (long)(hl + 32 + 48 + 16));

	if (!fuzz_next_frame(r, &frame, &len))
		goto out;
	msg = fuzz_dup(frame, len);
	n = glow_noise_read_message(&hs, msg, len, payload, GLOW_LINK_MAX_HELLO);
	free(msg);
	if (n < 0) {
		check_dead(&hs);
		goto out;
	}
	FUZZ_CHECK(glow_noise_handshake_done(&hs));
	if (!check_hello(&hs, payload, (size_t)n))
		goto out;
	if (fuzz_verbose())
		fprintf(stderr, "fuzz-noise: responder handshake done\n");
	glow_noise_split(&hs, &c1, &c2, hbuf, &hlen);
	FUZZ_CHECK(hlen == 64);
	read_records(r, &c1);
	glow_noise_cipher_clear(&c1);
	glow_noise_cipher_clear(&c2);
out:
	glow_noise_handshake_clear(&hs);
	free(payload);
}

static void run_initiator(FuzzReader *r)
{
	GlowNoiseHandshake hs;
	GlowNoiseCipher c1, c2;
	uint8_t hello[GLOW_LINK_MAX_HELLO], out[GLOW_LINK_MAX_HELLO + 256];
	uint8_t *payload = malloc(GLOW_LINK_MAX_HELLO);
	const uint8_t *frame;
	size_t len;
	long n;

	FUZZ_CHECK(payload != NULL);
	hs_init(&hs, &peer_a, true);
	n = glow_noise_write_message(&hs, NULL, 0, out, sizeof out);
	FUZZ_CHECK(n == 32);
	if (!fuzz_next_frame(r, &frame, &len))
		goto out;
	uint8_t *msg = fuzz_dup(frame, len);
	n = glow_noise_read_message(&hs, msg, len, payload, GLOW_LINK_MAX_HELLO);
	free(msg);
	if (n < 0) {
		check_dead(&hs);
		goto out;
	}
	FUZZ_CHECK(glow_noise_remote_static(&hs) != NULL);
	if (!check_hello(&hs, payload, (size_t)n))
		goto out;
	size_t hl = fuzz_hello(&peer_a, "fuzz-a", hello, sizeof hello);
	n = glow_noise_write_message(&hs, hello, hl, out, sizeof out);
	FUZZ_CHECK(n == (long)(hl + 48 + 16));
	FUZZ_CHECK(glow_noise_handshake_done(&hs));
	if (fuzz_verbose())
		fprintf(stderr, "fuzz-noise: initiator handshake done\n");
	glow_noise_split(&hs, &c1, &c2, NULL, NULL);
	read_records(r, &c2);
	glow_noise_cipher_clear(&c1);
	glow_noise_cipher_clear(&c2);
out:
	glow_noise_handshake_clear(&hs);
	free(payload);
}

/* --- mode 2: both sides ------------------------------------------------------ */

/* Sends one handshake message from w to rd with payload p; if tamper, one
 * bit of the message is flipped on the way. Returns false when rd refused. */
static bool hs_step(GlowNoiseHandshake *w, GlowNoiseHandshake *rd, const uint8_t *p, size_t plen,
                    bool tamper, size_t bit)
{
	size_t cap = plen + 200;
	uint8_t *msg = malloc(cap);
	uint8_t *got = malloc(plen ? plen : 1);
	bool ok;

	FUZZ_CHECK(msg != NULL && got != NULL);
	long n = glow_noise_write_message(w, p, plen, msg, cap);
	FUZZ_CHECK(n > 0 && (size_t)n >= plen);
	uint8_t *wire = fuzz_dup(msg, (size_t)n); /* exact size for the reader */
	if (tamper)
		wire[(bit / 8) % (size_t)n] ^= (uint8_t)(1u << (bit % 8));
	long m = glow_noise_read_message(rd, wire, (size_t)n, got, plen);
	ok = m >= 0;
	if (ok) {
		FUZZ_CHECK((size_t)m == plen);
		/* only message 1 (payload in clear) can be altered unseen here;
		 * the transcript hashes then differ and message 2 is refused */
		if (!tamper)
			FUZZ_CHECK(plen == 0 || memcmp(got, p, plen) == 0);
	} else {
		check_dead(rd);
	}
	free(wire);
	free(msg);
	free(got);
	return ok;
}

static void run_both(FuzzReader *r)
{
	GlowNoiseHandshake a, b;
	GlowNoiseCipher a1, a2, b1, b2;
	uint8_t ha[GLOW_NOISE_MAX_HASHLEN], hb[GLOW_NOISE_MAX_HASHLEN];
	size_t hla, hlb;
	const uint8_t *frame;
	size_t len;
	bool tampered = false, ok = true;
	uint8_t ctl = 0;

	hs_init(&a, &peer_a, true);
	hs_init(&b, &peer_b, false);
	/* first byte of each handshake frame: bit 0 tampers, the rest picks the bit */
	for (int i = 0; i < 3 && ok; i++) {
		if (!fuzz_next_frame(r, &frame, &len))
			len = 0;
		ctl = len ? frame[0] : 0;
		const uint8_t *p = len ? frame + 1 : frame;
		size_t plen = MIN(len ? len - 1 : 0, 60000); /* fits a Noise message */
		bool tamper = ctl & 1;
		tampered |= tamper;
		ok = i % 2 == 0 ? hs_step(&a, &b, p, plen, tamper, (size_t)ctl >> 1)
		                : hs_step(&b, &a, p, plen, tamper, (size_t)ctl >> 1);
	}
	if (tampered) {
		/* a changed handshake message must never let both sides finish */
		FUZZ_CHECK(!(glow_noise_handshake_done(&a) && glow_noise_handshake_done(&b)));
		goto out;
	}
	FUZZ_CHECK(ok && glow_noise_handshake_done(&a) && glow_noise_handshake_done(&b));
	FUZZ_CHECK(memcmp(glow_noise_remote_static(&a), peer_b.s_pub, 32) == 0);
	FUZZ_CHECK(memcmp(glow_noise_remote_static(&b), peer_a.s_pub, 32) == 0);
	glow_noise_split(&a, &a1, &a2, ha, &hla);
	glow_noise_split(&b, &b1, &b2, hb, &hlb);
	FUZZ_CHECK(hla == 64 && hlb == 64 && memcmp(ha, hb, 64) == 0);
	FUZZ_CHECK(memcmp(a1.k, b1.k, 32) == 0 && memcmp(a2.k, b2.k, 32) == 0);

	/* transport: frame[0] bit 0 direction (a->b / b->a), bit 1 tamper,
	 * bit 2 rekey that direction afterwards, bits 3.. which bit to flip */
	while (fuzz_next_frame(r, &frame, &len)) {
		if (len == 0)
			continue;
		ctl = frame[0];
		GlowNoiseCipher *tx = ctl & 1 ? &b2 : &a1;
		GlowNoiseCipher *rx = ctl & 1 ? &a2 : &b1;
		size_t plen = MIN(len - 1, 60000);
		uint8_t type = (uint8_t)(ctl >> 3);
		uint8_t *ct = malloc(plen + GLOW_NOISE_TAGLEN);
		uint8_t *pt = fuzz_dup(frame + 1, plen);
		FUZZ_CHECK(ct != NULL);
		FUZZ_CHECK(glow_noise_cipher_encrypt(tx, &type, 1, pt, plen, ct) == 0);
		if (ctl & 2) {
			size_t bit = (size_t)(ctl >> 3) * 7 + plen;
			uint8_t *bad = fuzz_dup(ct, plen + GLOW_NOISE_TAGLEN);
			uint64_t n = rx->n;
			bad[(bit / 8) % (plen + GLOW_NOISE_TAGLEN)] ^= (uint8_t)(1u << (bit % 8));
			FUZZ_CHECK(glow_noise_cipher_decrypt(rx, &type, 1, bad, plen + GLOW_NOISE_TAGLEN, bad) < 0);
			FUZZ_CHECK(rx->n == n);
			free(bad);
		}
		/* decrypt in place, as links do */
		FUZZ_CHECK(glow_noise_cipher_decrypt(rx, &type, 1, ct, plen + GLOW_NOISE_TAGLEN, ct) == 0);
		FUZZ_CHECK(plen == 0 || memcmp(ct, pt, plen) == 0);
		/* a replay is refused */
		FUZZ_CHECK(glow_noise_cipher_encrypt(tx, &type, 1, pt, plen, ct) == 0);
		uint8_t *replay = fuzz_dup(ct, plen + GLOW_NOISE_TAGLEN);
		FUZZ_CHECK(glow_noise_cipher_decrypt(rx, &type, 1, ct, plen + GLOW_NOISE_TAGLEN, ct) == 0);
		FUZZ_CHECK(glow_noise_cipher_decrypt(rx, &type, 1, replay, plen + GLOW_NOISE_TAGLEN, replay) < 0);
		free(replay);
		if (fuzz_verbose())
			fprintf(stderr, "fuzz-noise: both: %zu bytes %s\n", plen, ctl & 1 ? "b->a" : "a->b");
		if (ctl & 4) {
			glow_noise_cipher_rekey(tx);
			glow_noise_cipher_rekey(rx);
		}
		free(ct);
		free(pt);
	}
	glow_noise_cipher_clear(&a1);
	glow_noise_cipher_clear(&a2);
	glow_noise_cipher_clear(&b1);
	glow_noise_cipher_clear(&b2);
out:
	glow_noise_handshake_clear(&a);
	glow_noise_handshake_clear(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	FuzzReader r = { data + 1, size - 1 };
	switch (data[0] % 3) {
	case 0: run_responder(&r); break;
	case 1: run_initiator(&r); break;
	default: run_both(&r); break;
	}
	return 0;
}
