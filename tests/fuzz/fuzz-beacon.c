/* fuzz-beacon — the LAN beacon decoder (src/wire/beacon.c).
 *
 * Beacons arrive from anyone on the LAN, so the input goes to
 * glow_beacon_decode as one datagram, in an exact-size heap copy (ASan sees
 * any read past the end). Without the node's secret key a decoded beacon
 * cannot be re-encoded and compared, so instead every decoded field must be
 * within its bounds: a NUL-terminated name of valid UTF-8 without control
 * characters whose length matches the wire, at most 8 addresses of a known
 * family, a 20-bit invite id, and the wire length one computes from them.
 * Random inputs almost never carry a valid signature, so each input is also
 * decoded a second time "re-signed": the node ID (bytes 8..39) replaced by
 * the fixed key of tests/vectors/beacon.txt (seed 00..1f) and the last 64
 * bytes by that key's signature over the rest. That copy gets past the
 * signature whenever its fields are valid, and then it can be encoded
 * again with the key: the encoder must give back the same bytes (with the
 * ignored flag bits cleared), signature included (Ed25519 is deterministic).
 * Decoded beacons also go through the replay filter once and again.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "fuzz-common.h"
#include "wire/beacon.h"

FUZZ_DEFINE_INIT()

static void check_bounds(const GlowBeacon *b, size_t wire_len)
{
	size_t name_len = strnlen(b->name, sizeof b->name);
	size_t expect = 69 + name_len + 1 + 64;

	FUZZ_CHECK(name_len <= GLOW_BEACON_NAME_MAX);
	FUZZ_CHECK(g_utf8_validate_len(b->name, name_len, NULL));
	for (size_t i = 0; i < name_len; i++)
		FUZZ_CHECK((uint8_t)b->name[i] >= 0x20 && (uint8_t)b->name[i] != 0x7f);
	FUZZ_CHECK(b->invite_id <= GLOW_BEACON_INVITE_MAX);
	FUZZ_CHECK(b->invite_open == TRUE || b->invite_open == FALSE);
	FUZZ_CHECK(b->n_addrs <= GLOW_BEACON_MAX_ADDRS);
	for (guint i = 0; i < b->n_addrs; i++) {
		FUZZ_CHECK(b->addrs[i].family == AF_INET || b->addrs[i].family == AF_INET6);
		expect += b->addrs[i].family == AF_INET ? 7 : 19;
	}
	FUZZ_CHECK(expect == wire_len);
	FUZZ_CHECK(wire_len <= GLOW_BEACON_MAX_LEN);
}

typedef struct {
	uint8_t pk[32], sk[64];
} Key;

static const Key *vector_key(void)
{
	static Key k;
	static gboolean done;
	if (!done) {
		uint8_t seed[32];
		for (int i = 0; i < 32; i++)
			seed[i] = (uint8_t)i;
		crypto_sign_seed_keypair(k.pk, k.sk, seed);
		done = TRUE;
	}
	return &k;
}

/* The input with the vector's node ID and a valid signature over the rest. */
static void resign(uint8_t *buf, size_t size)
{
	const Key *k = vector_key();
	uint8_t msg[GLOW_BEACON_SIG_CONTEXT_LEN + GLOW_BEACON_MAX_LEN];
	size_t body = size - 64;

	memcpy(buf + 8, k->pk, 32);
	memcpy(msg, GLOW_BEACON_SIG_CONTEXT, GLOW_BEACON_SIG_CONTEXT_LEN);
	memcpy(msg + GLOW_BEACON_SIG_CONTEXT_LEN, buf, body);
	crypto_sign_detached(buf + body, NULL, msg, GLOW_BEACON_SIG_CONTEXT_LEN + body, k->sk);
}

static void decode_resigned(const uint8_t *data, size_t size)
{
	uint8_t *copy, out[GLOW_BEACON_MAX_LEN];
	GlowBeacon b;
	size_t n;

	if (size < GLOW_BEACON_MIN_LEN || size > GLOW_BEACON_MAX_LEN)
		return;
	copy = fuzz_dup(data, size);
	resign(copy, size);
	if (glow_beacon_decode(copy, size, &b, NULL)) {
		check_bounds(&b, size);
		FUZZ_CHECK(memcmp(b.node.b, vector_key()->pk, 32) == 0);
		n = glow_beacon_encode(&b, vector_key()->sk, out);
		FUZZ_CHECK(n == size);
		copy[5] &= GLOW_BEACON_F_INVITE;
		if (copy[5] == data[5]) /* else the signature differs too */
			FUZZ_CHECK(memcmp(out, copy, size) == 0);
		else
			FUZZ_CHECK(memcmp(out, copy, size - 64) == 0);
		if (fuzz_verbose())
			fprintf(stderr, "re-signed: decoded, encodes back\n");
	}
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy = fuzz_dup(data, size);
	GlowBeacon b;
	GError *error = NULL;
	gboolean ok = glow_beacon_decode(copy, size, &b, &error);

	if (ok) {
		FUZZ_CHECK(error == NULL);
		check_bounds(&b, size);
		GlowBeaconFilter *f = glow_beacon_filter_new(2);
		(void)glow_beacon_filter_accept(f, &b, b.timestamp_ms);
		FUZZ_CHECK(!glow_beacon_filter_accept(f, &b, b.timestamp_ms)); /* a replay */
		glow_beacon_filter_free(f);
		if (fuzz_verbose())
			fprintf(stderr, "decoded: name \"%s\", %u addresses\n", b.name, b.n_addrs);
	} else {
		FUZZ_CHECK(error != NULL && error->message != NULL && strchr(error->message, '\n') == NULL);
		if (fuzz_verbose())
			fprintf(stderr, "refused: %s\n", error->message);
		g_error_free(error);
	}
	free(copy);
	decode_resigned(data, size);
	return 0;
}
